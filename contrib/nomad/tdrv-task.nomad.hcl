# A Nomad job whose raw_exec task runs a tdrv task (docs/nomad-raw-exec.md): the
# Nomad allocation id is tdrv's allocation id, and a poststop task reaps what is left.
job "tdrv-hello" {
  datacenters = ["dc1"]
  type        = "batch"

  group "demo" {
    task "hello" {
      driver = "raw_exec"

      config {
        command = "/bin/bash"
        args = [
          "-c",
          "exec tdrv-run < <(tdrv-pull < local/task.json | jq -c '.alloc_id = env.NOMAD_ALLOC_ID' | tdrv-ports)",
        ]
      }

      # the tdrv task document; tdrv gives the container its own NOMAD_* variables
      template {
        destination = "local/task.json"
        data        = <<EOT
{"task": "hello", "group": "demo", "driver": "oci", "kill_timeout": "5s",
 "config": {"image": "docker.io/library/busybox:latest", "command": "sh",
            "args": ["-c", "echo hello from tdrv alloc $NOMAD_ALLOC_ID"]}}
EOT
      }

      # tdrv-run treats SIGTERM as a stop (kill_signal, kill_timeout, SIGKILL) and tears
      # the container down; Nomad's default, SIGINT, would only be forwarded to the task.
      kill_signal  = "SIGTERM"
      kill_timeout = "30s"

      resources {
        cpu    = 100
        memory = 64
      }
    }

    task "tdrv-gc" {
      driver = "raw_exec"

      lifecycle {
        hook = "poststop"
      }

      config {
        command = "/bin/sh"
        # 75: some items could not be reaped yet; the periodic tdrv-gc will
        args    = ["-c", "tdrv-gc --alloc \"$NOMAD_ALLOC_ID\" --quiet; rc=$?; [ $rc -eq 75 ] && rc=0; exit $rc"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
