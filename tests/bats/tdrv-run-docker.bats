#!/usr/bin/env bats
# tdrv-run, driver: docker, against a private Docker Engine this file starts (as root).
load helpers
load docker/engine

# tdrv-run dispatches `driver: docker` to the docker backend (common/docker_run.h).
: "${TDRV_RUN_DOCKER:=tdrv-run}"
IMG=tdrv-test/busybox:1

setup_file() {
    [ "$(id -u)" = 0 ] || skip "needs root"
    command -v dockerd >/dev/null || skip "needs dockerd (Debian's docker.io)"
    tdrv_engine_start rundk || { echo "# cannot start a private dockerd" >&3; return 1; }
    python3 "$BATS_TEST_DIRNAME/docker/mkimage.py" "$TDRV_ENGINE_DIR/img.tar" "$IMG"
    docker load -i "$TDRV_ENGINE_DIR/img.tar" >/dev/null
}

teardown_file() {
    tdrv_engine_stop
}

setup() {
    [ -n "${TDRV_ENGINE_PID:-}" ] || skip "no engine"
    tdrv_test_env
    ALLOC=$(cat /proc/sys/kernel/random/uuid)
}

teardown() {
    # an oci run tears down (its network namespace among it) after its result: wait for it,
    # then unmount what stays under the test's directory (the shared netns directory)
    tdrv_wait_leases
    tdrv_remove_containers
    # containers a failed test left behind (the test's alloc only)
    local ids
    ids=$(docker ps -aq --filter "label=io.tdrv.alloc_id=${ALLOC:-none}" 2>/dev/null) || true
    [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
}

# task CONFIG_JSON [TOP_LEVEL_JSON]: a task document for this test's alloc
task() {
    local cfg=$1 top=${2:-}
    echo "{\"alloc_id\":\"$ALLOC\",\"task\":\"web\",\"group\":\"g\",\"driver\":\"docker\",${top:+$top,}\"config\":{\"image\":\"$IMG\",$cfg}}"
}

sh_task() { # sh_task 'script' [top-level json] [extra config json]
    task "\"command\":\"sh\",\"args\":[\"-c\",$(jq -Rn --arg s "$1" '$s')]${3:+,$3}" "${2:-}"
}

keep_containers() { printf 'gc:\n  container: false\n' >"$TDRV_CONFIG"; }

inspect() { docker inspect "web-$ALLOC" | jq -c ".[0].$1"; }

@test "--help, --version, unknown option, malformed document" {
    run --separate-stderr "$TDRV_RUN_DOCKER" --help
    assert_success
    assert_output --partial "usage: tdrv-run"
    run --separate-stderr "$TDRV_RUN_DOCKER" --version
    assert_success
    run --separate-stderr -64 "$TDRV_RUN_DOCKER" --bogus
    jq -e '.error.exit == 64' <<<"$output"
    run --separate-stderr -65 "$TDRV_RUN_DOCKER" <<<'{"alloc_id":'
    jq -e '.error.exit == 65' <<<"$output"
}

@test "output, exit status and result pass through; container removed (gc.container)" {
    run --separate-stderr -3 "$TDRV_RUN_DOCKER" < <(sh_task 'echo out; echo err >&2; exit 3')
    assert_equal "${lines[0]}" "out"
    assert_equal "$stderr" "err"
    jq -e '.result.exit_code == 3 and .result.oom_killed == false and .result.signal == 0
           and (.result.started_at | length > 0) and (.result.finished_at | length > 0)' \
        <<<"${lines[1]}"
    run docker ps -aq --filter "label=io.tdrv.alloc_id=$ALLOC"
    assert_output ""
    # logs copied into the task's logs/ and the result into state.json
    assert_equal "$(cat "$TDRV_ROOT/allocs/$ALLOC/web/logs/stdout.log")" "out"
    assert_equal "$(cat "$TDRV_ROOT/allocs/$ALLOC/web/logs/stderr.log")" "err"
    jq -e '.result.exit_code == 3' "$TDRV_ROOT/allocs/$ALLOC/web/state.json"
}

@test "a signal ends the task with 128+N" {
    # with init, sh is not PID 1, so a signal can kill it
    run --separate-stderr -137 "$TDRV_RUN_DOCKER" < <(sh_task 'kill -9 $$' '' '"init":true')
    jq -e '.result.exit_code == 137 and .result.signal == 9' <<<"${lines[-1]}"
}

@test "env: task env, NOMAD_* variables, meta, ports, interpolation" {
    doc=$(sh_task 'env' '"env":{"LOG":"info","ECHO":"${NOMAD_PORT_db}-${NOMAD_META_team}"},"meta":{"team":"infra"},"resources":{"cpu":250,"memory":128},"ports":[{"label":"db","value":23456,"to":6379,"host_ip":"127.0.0.1"}]')
    run --separate-stderr "$TDRV_RUN_DOCKER" <<<"$doc"
    assert_success
    for want in LOG=info ECHO=6379-infra NOMAD_ALLOC_ID=$ALLOC NOMAD_TASK_NAME=web \
        NOMAD_GROUP_NAME=g NOMAD_ALLOC_DIR=/alloc NOMAD_TASK_DIR=/local \
        NOMAD_SECRETS_DIR=/secrets NOMAD_CPU_LIMIT=250 NOMAD_MEMORY_LIMIT=128 \
        NOMAD_META_team=infra NOMAD_PORT_db=6379 NOMAD_HOST_PORT_db=23456 \
        NOMAD_IP_db=127.0.0.1 NOMAD_ADDR_db=127.0.0.1:23456 IMAGE_ENV=from-image; do
        assert_line "$want"
    done
}

@test "name <task>-<alloc_id>, tdrv's labels (never Nomad's), user labels, alloc dir mounts" {
    keep_containers
    doc=$(sh_task 'ls -d /alloc /local /secrets && touch /alloc/shared' '' '"labels":{"team":"x"}')
    run --separate-stderr "$TDRV_RUN_DOCKER" <<<"$doc"
    assert_success
    assert_line /alloc
    assert_line /secrets
    [ -f "$TDRV_ROOT/allocs/$ALLOC/alloc/shared" ]
    labels=$(inspect Config.Labels)
    jq -e --arg a "$ALLOC" --arg l "$TDRV_ROOT/allocs/$ALLOC/web/lease" \
        '.["io.tdrv.alloc_id"] == $a and .["io.tdrv.task"] == "web" and .["io.tdrv.group"] == "g"
         and .["io.tdrv.lease"] == $l and .team == "x"
         and ([keys[] | select(startswith("com.hashicorp"))] | length == 0)' <<<"$labels"
    docker rm -f "web-$ALLOC" >/dev/null
}

@test "resources: memory, memory_hard_limit, cpu shares, cpu_hard_limit, pids_limit" {
    keep_containers
    doc=$(sh_task 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max' \
        '"resources":{"cpu":500,"memory":64}' '"memory_hard_limit":96,"cpu_hard_limit":true,"pids_limit":50')
    run --separate-stderr "$TDRV_RUN_DOCKER" <<<"$doc"
    assert_success
    assert_equal "${lines[0]}" "$((96 * 1024 * 1024))"
    hc=$(inspect HostConfig)
    jq -e '.Memory == 100663296 and .MemoryReservation == 67108864 and .MemorySwap == 100663296
           and .CpuShares == 500 and .CpuPeriod == 100000 and .CpuQuota > 0 and .PidsLimit == 50' \
        <<<"$hc"
    docker rm -f "web-$ALLOC" >/dev/null
}

@test "pids_limit stops a fork bomb" {
    doc=$(sh_task 'for i in 1 2 3 4 5 6; do sleep 5 & done; wait; echo done' '' '"pids_limit":3')
    run --separate-stderr "$TDRV_RUN_DOCKER" <<<"$doc"
    echo "$stderr"
    [[ "$stderr" == *"can't fork"* || "$stderr" == *"Resource temporarily unavailable"* ]]
}

@test "OOM: the Engine's OOMKilled in the result" {
    doc=$(sh_task 'head -c 200000000 /dev/zero | tail' '"resources":{"memory":16}')
    run --separate-stderr "$TDRV_RUN_DOCKER" <<<"$doc"
    assert_failure
    jq -e '.result.oom_killed == true' <<<"${lines[-1]}"
}

@test "capabilities: NET_RAW dropped by default, cap_add checked against allow_caps, cap_drop" {
    run --separate-stderr "$TDRV_RUN_DOCKER" < <(sh_task 'grep CapBnd /proc/self/status' '' '"cap_drop":["chown"]')
    assert_success
    bnd=$(awk '{print $2}' <<<"${lines[0]}")
    # CAP_NET_RAW is bit 13, CAP_CHOWN bit 0: both gone; CAP_KILL (5) kept
    (( (0x$bnd & (1 << 13)) == 0 && (0x$bnd & 1) == 0 && (0x$bnd & (1 << 5)) != 0 ))
    run --separate-stderr -125 "$TDRV_RUN_DOCKER" < <(sh_task 'true' '' '"cap_add":["net_admin"]')
    jq -e '.error.exit == 77 and (.error.message | contains("net_admin"))' <<<"$output"
    printf 'allow_caps: ["all"]\n' >"$TDRV_CONFIG"
    run --separate-stderr "$TDRV_RUN_DOCKER" < <(sh_task 'grep CapBnd /proc/self/status' '' '"cap_add":["net_admin"]')
    assert_success
    bnd=$(awk '{print $2}' <<<"${lines[0]}")
    (( (0x$bnd & (1 << 12)) != 0 ))
}

@test "privileged and host namespaces need allow_privileged" {
    run --separate-stderr -125 "$TDRV_RUN_DOCKER" < <(sh_task 'true' '' '"privileged":true')
    jq -e '.error.exit == 77 and .error.code == "forbidden"' <<<"$output"
    run --separate-stderr -125 "$TDRV_RUN_DOCKER" < <(sh_task 'true' '' '"pid_mode":"host"')
    jq -e '.error.exit == 77' <<<"$output"
    printf 'allow_privileged: true\n' >"$TDRV_CONFIG"
    run --separate-stderr "$TDRV_RUN_DOCKER" --dry-run < <(sh_task 'true' '' '"privileged":true,"pid_mode":"host","ipc_mode":"host","uts_mode":"host"')
    jq -e '.create.HostConfig | .Privileged and .PidMode == "host" and .IpcMode == "host"
           and .UTSMode == "host"' <<<"$output"
    # (a privileged container needs every capability, which a nested test host may lack)
    run --separate-stderr "$TDRV_RUN_DOCKER" < <(sh_task 'readlink /proc/1/exe; hostname' '' '"pid_mode":"host","uts_mode":"host"')
    assert_success
    refute_line "/bin/busybox"
    assert_line "$(hostname)"
}

@test "filesystem: readonly_rootfs, volumes inside the alloc dir, mounts, tmpfs" {
    printf 'volumes:\n  enabled: false\n' >"$TDRV_CONFIG"
    mkdir -p "$TDRV_ROOT/allocs/$ALLOC/web/local/conf"
    echo hello >"$TDRV_ROOT/allocs/$ALLOC/web/local/conf/f"
    doc=$(sh_task 'cat /conf/f; cat /m/f; touch /conf/x 2>/dev/null || echo ro-vol; touch /x 2>/dev/null || echo ro-root; touch /scratch/x && echo tmpfs-ok; grep " /scratch " /proc/mounts | cut -d" " -f3' '' \
        '"readonly_rootfs":true,"volumes":["local/conf:/conf:ro"],"mount":[{"type":"bind","source":"local/conf","target":"/m","readonly":true},{"type":"tmpfs","target":"/scratch"}]')
    run --separate-stderr "$TDRV_RUN_DOCKER" <<<"$doc"
    assert_success
    assert_equal "$(printf '%s\n' "${lines[@]:0:6}")" "$(printf 'hello\nhello\nro-vol\nro-root\ntmpfs-ok\ntmpfs')"
    run --separate-stderr -125 "$TDRV_RUN_DOCKER" < <(sh_task 'true' '' '"volumes":["/etc:/host-etc"]')
    jq -e '.error.exit == 77' <<<"$output"
}

@test "process: user, group_add, work_dir, hostname, ulimit, sysctl, init, entrypoint" {
    doc=$(task '"entrypoint":["/bin/sh","-c"],"args":["id; pwd; hostname; ulimit -n; cat /proc/sys/net/core/somaxconn; cat /proc/1/comm"],"work_dir":"/tmp","hostname":"h-${NOMAD_TASK_NAME}","group_add":["audio"],"ulimit":{"nofile":"1234:2048"},"sysctl":{"net.core.somaxconn":"1024"},"init":true' '"user":"nobody"')
    run --separate-stderr "$TDRV_RUN_DOCKER" <<<"$doc"
    assert_success
    assert_line --regexp '^uid=65534\(nobody\) gid=65534\(nogroup\) groups=.*29\(audio\)'
    assert_line /tmp
    assert_line h-web
    assert_line 1234
    assert_line 1024
    assert_line docker-init
}

@test "network: dns, extra_hosts, network_mode none" {
    doc=$(sh_task 'cat /etc/resolv.conf; grep db /etc/hosts; ip link 2>/dev/null | grep -c "^[0-9]"' '' \
        '"dns_servers":["10.9.9.9"],"dns_search_domains":["example.test"],"dns_options":["ndots:2"],"extra_hosts":["db:10.1.2.3"],"network_mode":"none"')
    run --separate-stderr "$TDRV_RUN_DOCKER" <<<"$doc"
    assert_success
    assert_line "nameserver 10.9.9.9"
    assert_line "search example.test"
    assert_line "options ndots:2"
    assert_line --regexp '^10\.1\.2\.3[[:space:]]+db$'
    assert_line 1
}

@test "ports: published on tcp and udp, bound to the allocated host IP, reachable" {
    keep_containers
    port=$(tdrv_free_port 41000 45999)
    doc=$(sh_task 'echo pong | nc -l -p 6379' "\"ports\":[{\"label\":\"db\",\"value\":$port,\"to\":6379,\"host_ip\":\"127.0.0.1\"}]" '"ports":["db"]')
    "$TDRV_RUN_DOCKER" -d <<<"$doc" >"$BATS_TEST_TMPDIR/h.json"
    pb=$(inspect HostConfig.PortBindings)
    jq -e --arg p "$port" '.["6379/tcp"] == [{"HostIp":"127.0.0.1","HostPort":$p}]
        and .["6379/udp"] == [{"HostIp":"127.0.0.1","HostPort":$p}]' <<<"$pb"
    got=""
    for _ in $(seq 50); do
        got=$(timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; cat <&3" 2>/dev/null) && [ "$got" = pong ] && break
        sleep 0.2
    done
    assert_equal "$got" "pong"
    "$TDRV_RUN_DOCKER" --stop <"$BATS_TEST_TMPDIR/h.json" >/dev/null || true
    docker rm -f "web-$ALLOC" >/dev/null
}

@test "logging: json-file max-file=2 max-size=2m by default; logging options" {
    keep_containers
    run --separate-stderr "$TDRV_RUN_DOCKER" < <(sh_task 'true')
    assert_success
    jq -e '. == {"Type":"json-file","Config":{"max-file":"2","max-size":"2m"}}' <<<"$(inspect HostConfig.LogConfig)"
    docker rm -f "web-$ALLOC" >/dev/null
    run --separate-stderr "$TDRV_RUN_DOCKER" < <(sh_task 'true' '' '"logging":{"type":"json-file","config":{"max-size":"10k"}}')
    jq -e '. == {"Type":"json-file","Config":{"max-size":"10k"}}' <<<"$(inspect HostConfig.LogConfig)"
    docker rm -f "web-$ALLOC" >/dev/null
}

@test "tty, devices, security_opt with a seccomp file inlined, shm_size, oom_score_adj" {
    keep_containers
    cat >"$BATS_TEST_TMPDIR/seccomp.json" <<'EOF'
{ "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [ { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO" } ] }
EOF
    doc=$(sh_task 'test -t 1 && echo tty; ls -l /dev/mynull | cut -c1; mkdir /tmp/d 2>/dev/null || echo no-mkdir; df -k /dev/shm | tail -1 | awk "{print \$2}"; cat /proc/self/oom_score_adj' '' \
        "\"tty\":true,\"devices\":[{\"host_path\":\"/dev/null\",\"container_path\":\"/dev/mynull\"}],\"security_opt\":[\"seccomp=$BATS_TEST_TMPDIR/seccomp.json\",\"no-new-privileges\"],\"shm_size\":8388608,\"oom_score_adj\":300")
    run --separate-stderr "$TDRV_RUN_DOCKER" <<<"$doc"
    assert_success
    out=$(tr -d '\r' <<<"$output")
    [[ "$out" == *tty* && "$out" == *no-mkdir* && "$out" == *8192* && "$out" == *300* ]]
    grep -q '^c' <<<"$out"
    jq -e 'any(.[]; startswith("seccomp={\"defaultAction\""))' <<<"$(inspect HostConfig.SecurityOpt)"
    docker rm -f "web-$ALLOC" >/dev/null
}

@test "interactive: stdin attached, and the end of tdrv-run's stdin is the task's" {
    # tdrv-run reads its stdin to the end for the document: the task sees that end at once
    # (with OpenStdin and no StdinOnce, `cat` would wait for ever)
    keep_containers
    run --separate-stderr timeout 60 "$TDRV_RUN_DOCKER" < <(task '"command":"sh","args":["-c","cat; echo end"],"interactive":true')
    assert_success
    assert_line end
    jq -e '.OpenStdin and .StdinOnce' <<<"$(inspect Config)"
    docker rm -f "web-$ALLOC" >/dev/null
}

@test "interactive with --stdin FILE: the file is the task's input" {
    keep_containers
    printf 'from the file\n' >"$BATS_TEST_TMPDIR/in.txt"
    run --separate-stderr timeout 60 "$TDRV_RUN_DOCKER" --stdin "$BATS_TEST_TMPDIR/in.txt" \
        < <(task '"command":"sh","args":["-c","cat; echo end"],"interactive":true')
    assert_success
    assert_line --index 0 "from the file"
    assert_line --index 1 end
    docker rm -f "web-$ALLOC" >/dev/null
}

@test "unknown option is 65 naming it; --dry-run prints the create body" {
    run --separate-stderr -125 "$TDRV_RUN_DOCKER" < <(sh_task 'true' '' '"bogus_opt":1')
    jq -e '.error.exit == 65 and (.error.message | contains("bogus_opt"))' <<<"$output"
    run --separate-stderr "$TDRV_RUN_DOCKER" --dry-run < <(sh_task 'true')
    assert_success
    jq -e --arg n "web-$ALLOC" '.name == $n and .create.Image == "tdrv-test/busybox:1"
        and .create.HostConfig.LogConfig.Type == "json-file"' <<<"$output"
    sh_task 'true' >"$BATS_TEST_TMPDIR/t.json"
    run -74 bash -c '"$0" --dry-run <"$1" >/dev/full' "$TDRV_RUN_DOCKER" "$BATS_TEST_TMPDIR/t.json"
}

@test "engine unavailable is 69 (125 in the foreground)" {
    DOCKER_HOST=unix://$BATS_TEST_TMPDIR/nope.sock run --separate-stderr -125 "$TDRV_RUN_DOCKER" < <(sh_task 'true')
    jq -e '.error.exit == 69' <<<"$output"
}

@test "image: missing image and no registry is 66/69; load from an archive in local/" {
    run --separate-stderr -125 "$TDRV_RUN_DOCKER" < <(task '"command":"true","image":"127.0.0.1:9/none:1"' | jq -c '.config.image = "127.0.0.1:9/none:1"')
    jq -e '.error.exit == 66 or .error.exit == 69' <<<"$output"
    mkdir -p "$TDRV_ROOT/allocs/$ALLOC/web/local"
    python3 "$BATS_TEST_DIRNAME/docker/mkimage.py" "$TDRV_ROOT/allocs/$ALLOC/web/local/img.tar" "tdrv-test/loaded:$ALLOC"
    doc=$(task '"command":"echo","args":["loaded"],"load":"img.tar"' | jq -c --arg i "tdrv-test/loaded:$ALLOC" '.config.image = $i')
    run --separate-stderr "$TDRV_RUN_DOCKER" <<<"$doc"
    assert_success
    assert_line loaded
    docker rmi "tdrv-test/loaded:$ALLOC" >/dev/null
}

@test "image missing from the Engine: pulled through it from a loopback registry; auth redacted" {
    command -v docker-registry >/dev/null || skip "needs docker-registry"
    command -v skopeo >/dev/null || skip "needs skopeo"
    port=$(tdrv_free_port 41000 45999)
    printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
        "$BATS_TEST_TMPDIR/reg" "$port" >"$BATS_TEST_TMPDIR/reg.yml"
    docker-registry serve "$BATS_TEST_TMPDIR/reg.yml" >"$BATS_TEST_TMPDIR/reg.log" 2>&1 &
    reg=$!
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
    skopeo copy -q --dest-tls-verify=false "docker-archive:$TDRV_ENGINE_DIR/img.tar" \
        "docker://127.0.0.1:$port/t/bb:$port"
    doc=$(task '"command":"echo","args":["pulled"],"auth":{"username":"u","password":"s3cret"}' |
        jq -c --arg i "127.0.0.1:$port/t/bb:$port" '.config.image = $i')
    run --separate-stderr "$TDRV_RUN_DOCKER" <<<"$doc"
    assert_success
    assert_line pulled
    jq -e '.config.auth.password == "<redacted>"' <<<"${lines[-1]}"
    ! grep -rq s3cret "$TDRV_ROOT/allocs/$ALLOC" || false
    [[ "$output$stderr" != *s3cret* ]]
    # tdrv-pull --to docker | tdrv-run: the pull is tdrv-pull's, the run does not pull again
    docker rmi "127.0.0.1:$port/t/bb:$port" >/dev/null
    ALLOC=$(cat /proc/sys/kernel/random/uuid)
    doc=$(task '"command":"echo","args":["piped"],"auth":{"username":"u","password":"s3cret"}' |
        jq -c --arg i "127.0.0.1:$port/t/bb:$port" '.config.image = $i')
    run --separate-stderr bash -c 'tdrv-pull | tdrv-run' <<<"$doc"
    assert_success
    assert_line piped
    jq -e '.image.engine == "docker" and .config.auth.password == "<redacted>"' <<<"${lines[-1]}"
    # a tag the registry does not have
    ALLOC=$(cat /proc/sys/kernel/random/uuid)
    run --separate-stderr -125 "$TDRV_RUN_DOCKER" < <(task '"command":"true"' | jq -c --arg i "127.0.0.1:$port/t/bb:nope" '.config.image = $i')
    tdrv_stop_pid "$reg"
    jq -e '.error.exit == 66 and .error.code == "image_not_found"' <<<"$output"
    docker rmi "127.0.0.1:$port/t/bb:$port" >/dev/null
}

@test "detach, inspect, exec, signal, logs, list, wait" {
    doc=$(sh_task 'trap "echo got-usr2" USR2; echo started; while :; do sleep 0.1; done')
    run --separate-stderr "$TDRV_RUN_DOCKER" -d <<<"$doc"
    assert_success
    h=$output
    jq -e '.handle.driver == "docker" and (.handle.container_id | length == 64)' <<<"$h"
    run --separate-stderr "$TDRV_RUN_DOCKER" --inspect <<<"$h"
    jq -e '.running == true and .pid > 0' <<<"$output"
    run --separate-stderr -7 "$TDRV_RUN_DOCKER" --exec -- sh -c 'echo in-$NOMAD_TASK_NAME; echo e >&2; exit 7' <<<"$h"
    assert_line in-web
    assert_equal "$stderr" "e"
    run --separate-stderr -64 "$TDRV_RUN_DOCKER" --exec --tty -- true <<<"$h"
    [[ "$stderr" == *"the docker driver runs --exec without a terminal"* ]]
    run --separate-stderr "$TDRV_RUN_DOCKER" --signal SIGUSR2 <<<"$h"
    assert_success
    run --separate-stderr "$TDRV_RUN_DOCKER" --list
    jq -e --arg a "$ALLOC" 'any(.tasks[]; .alloc_id == $a and .state == "running" and .lease_held)' <<<"$output"
    for _ in $(seq 50); do grep -q got-usr2 "$TDRV_ROOT/allocs/$ALLOC/web/logs/stdout.log" && break; sleep 0.1; done
    run --separate-stderr "$TDRV_RUN_DOCKER" --logs --alloc "$ALLOC" --task web
    assert_line started
    assert_line got-usr2
    run --separate-stderr "$TDRV_RUN_DOCKER" --stats <<<"$h"
    jq -e '.memory_usage > 0' <<<"$output"
    (sleep 1; docker kill -s KILL "web-$ALLOC" >/dev/null) &
    run --separate-stderr -137 "$TDRV_RUN_DOCKER" --wait <<<"$h"
    jq -e '.result.exit_code == 137' <<<"$output"
    # the container is gone (gc.container): --inspect answers from state.json
    run --separate-stderr "$TDRV_RUN_DOCKER" --inspect --alloc "$ALLOC" --task web
    assert_success
    jq -e '.state == "exited" and .running == false and .exit_code == 137' <<<"$output"
}

@test "stop: kill_signal, then SIGKILL after kill_timeout; the lease is held until the end" {
    doc=$(task '"command":"sleep","args":["60"]' '"kill_signal":"SIGUSR1","kill_timeout":"2s"')
    h=$("$TDRV_RUN_DOCKER" -d <<<"$doc")
    lease=$(jq -r .handle.lease <<<"$h")
    run flock -n "$lease" true
    assert_failure
    start=$(date +%s%N)
    run --separate-stderr -137 "$TDRV_RUN_DOCKER" --stop --alloc "$ALLOC" --task web
    elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
    jq -e '.result.exit_code == 137' <<<"$output"
    # sleep as PID 1 ignores SIGUSR1: only the SIGKILL after kill_timeout ends it
    (( elapsed >= 1900 ))
    run flock -n "$lease" true
    assert_success
}

@test "stop without kill_signal: the Engine's stop (SIGTERM) ends a task that traps it" {
    doc=$(sh_task 'trap "echo term; exit 0" TERM; while :; do sleep 0.1; done')
    h=$("$TDRV_RUN_DOCKER" -d <<<"$doc")
    sleep 0.5
    run --separate-stderr "$TDRV_RUN_DOCKER" --stop <<<"$h"
    assert_success
    jq -e '.result.exit_code == 0' <<<"$output"
    grep -q term "$TDRV_ROOT/allocs/$ALLOC/web/logs/stdout.log"
}

@test "foreground: SIGTERM to tdrv-run is a stop request (kill_signal, kill_timeout); SIGHUP forwarded" {
    doc=$(sh_task 'trap "echo got-hup" HUP; trap "echo got-term; exit 5" TERM; echo ready; while :; do sleep 0.1; done')
    "$TDRV_RUN_DOCKER" <<<"$doc" >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
    pid=$!
    for _ in $(seq 100); do grep -q ready "$BATS_TEST_TMPDIR/out" && break; sleep 0.1; done
    kill -HUP "$pid"
    for _ in $(seq 50); do grep -q got-hup "$BATS_TEST_TMPDIR/out" && break; sleep 0.1; done
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    assert_equal "$rc" 5
    grep -q got-hup "$BATS_TEST_TMPDIR/out"
    grep -q got-term "$BATS_TEST_TMPDIR/out"
    # kill_signal ignored by the task (PID 1): SIGKILL after kill_timeout
    ALLOC=$(cat /proc/sys/kernel/random/uuid)
    doc=$(sh_task 'echo ready; exec sleep 60' '"kill_signal":"SIGUSR1","kill_timeout":"1s"')
    "$TDRV_RUN_DOCKER" <<<"$doc" >"$BATS_TEST_TMPDIR/out2" 2>/dev/null &
    pid=$!
    for _ in $(seq 100); do grep -q ready "$BATS_TEST_TMPDIR/out2" && break; sleep 0.1; done
    start=$(date +%s%N)
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    assert_equal "$rc" 137
    (( ($(date +%s%N) - start) / 1000000 >= 900 ))
}

@test "kill -9 of the supervisor: the container stays, labelled with a lease nobody holds" {
    keep_containers
    h=$("$TDRV_RUN_DOCKER" -d < <(task '"command":"sleep","args":["60"]'))
    mon=$(jq -r .handle.monitor_pid <<<"$h")
    kill -9 "$mon"
    for _ in $(seq 50); do kill -0 "$mon" 2>/dev/null || break; sleep 0.1; done
    lease=$(docker inspect "web-$ALLOC" | jq -r '.[0].Config.Labels["io.tdrv.lease"]')
    assert_equal "$lease" "$(jq -r .handle.lease <<<"$h")"
    run flock -n "$lease" true
    assert_success
    docker rm -f "web-$ALLOC" >/dev/null
}

@test "name conflict: a dead container of tdrv's is replaced; a live one refused; a foreign one refused" {
    keep_containers
    run --separate-stderr "$TDRV_RUN_DOCKER" < <(sh_task 'true')
    assert_success
    old=$(docker inspect -f '{{.Id}}' "web-$ALLOC")
    run --separate-stderr "$TDRV_RUN_DOCKER" < <(sh_task 'true')
    assert_success
    new=$(docker inspect -f '{{.Id}}' "web-$ALLOC")
    [ "$old" != "$new" ]
    docker rm -f "web-$ALLOC" >/dev/null
    docker run -d --name "web-$ALLOC" "$IMG" sleep 60 >/dev/null
    TDRV_ROOT=$BATS_TEST_TMPDIR/root2 run --separate-stderr -125 "$TDRV_RUN_DOCKER" < <(sh_task 'true')
    jq -e '.error.code == "conflict"' <<<"$output"
    docker rm -f "web-$ALLOC" >/dev/null
}

@test "a second run of a live task is refused by its lease (75)" {
    h=$("$TDRV_RUN_DOCKER" -d < <(task '"command":"sleep","args":["60"]'))
    run --separate-stderr -125 "$TDRV_RUN_DOCKER" < <(task '"command":"true"')
    jq -e '.error.exit == 75 and .error.code == "lease_busy"' <<<"$output"
    "$TDRV_RUN_DOCKER" --stop <<<"$h" >/dev/null || true
}

# fault PATTERN COUNT: a proxy in front of the Engine that answers 500 after the Engine acted
fault() {
    local sock=$BATS_TEST_TMPDIR/fault.sock
    rm -f "$sock"
    python3 "$BATS_TEST_DIRNAME/docker/faultproxy.py" "$sock" "${DOCKER_HOST#unix://}" "$1" "$2" &
    FAULT_PID=$!
    for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
    FAULT_HOST=unix://$sock
}

@test "an Engine that started the container but answered 500: retried, then removed" {
    fault 'POST \S+/start' -1
    DOCKER_HOST=$FAULT_HOST run --separate-stderr -125 "$TDRV_RUN_DOCKER" < <(task '"command":"sleep","args":["60"]')
    tdrv_stop_pid "$FAULT_PID"
    jq -e '.error.exit == 75 and (.error.message | contains("injected fault"))' <<<"$output"
    # nothing left running that tdrv does not track
    run docker ps -aq --filter "label=io.tdrv.alloc_id=$ALLOC"
    assert_output ""
}

@test "a 500 once on start or create is retried and the task runs" {
    fault 'POST \S+/start' 1
    DOCKER_HOST=$FAULT_HOST run --separate-stderr "$TDRV_RUN_DOCKER" < <(sh_task 'echo once')
    tdrv_stop_pid "$FAULT_PID"
    assert_success
    assert_line once
    ALLOC=$(cat /proc/sys/kernel/random/uuid)
    fault 'POST \S+/containers/create' 1
    DOCKER_HOST=$FAULT_HOST run --separate-stderr "$TDRV_RUN_DOCKER" < <(sh_task 'echo created')
    tdrv_stop_pid "$FAULT_PID"
    assert_success
    assert_line created
    run docker ps -aq --filter "label=io.tdrv.alloc_id=$ALLOC"
    assert_output ""
}

@test "same task document under driver docker and driver oci: env, ports, exit status, logs" {
    command -v runc >/dev/null || skip "needs runc for the oci backend"
    tdrv-pull --load "$TDRV_ENGINE_DIR/img.tar" "$IMG" >/dev/null
    # a port without `to`: both backends forward the host port to the same number. The
    # oci backend bridges a task with ports, so its NOMAD_IP_/NOMAD_ADDR_ carry the
    # container's own address (docs/networking.md); the docker backend's carry the host IP
    # the port is published on. Everything else must be the same.
    port=$(tdrv_free_port 46000 49999)
    if ip link show tdrv0 >/dev/null 2>&1; then had_bridge=1; else had_bridge=0; fi
    for drv in docker oci; do
        jq -c --arg d "$drv" --arg a "$ALLOC-$drv" '.driver = $d | .alloc_id = $a' \
            <(sh_task 'env | grep -v -e ^HOSTNAME= -e ^NOMAD_ALLOC_ID= -e ^NOMAD_SHORT_ALLOC_ID= | sort; echo to-stderr >&2; exit 7' \
                "\"env\":{\"GREETING\":\"hi \${NOMAD_TASK_NAME}\"},\"meta\":{\"team\":\"x\"},\"resources\":{\"cpu\":100,\"memory\":64},\"ports\":[{\"label\":\"db\",\"value\":$port,\"host_ip\":\"127.0.0.1\"}]" \
                '"hostname":"web"') >"$BATS_TEST_TMPDIR/$drv.json"
        rc=0
        tdrv-run --result-fd 3 <"$BATS_TEST_TMPDIR/$drv.json" >"$BATS_TEST_TMPDIR/$drv.out" \
            2>"$BATS_TEST_TMPDIR/$drv.err" 3>"$BATS_TEST_TMPDIR/$drv.result" || rc=$?
        [ "$rc" = 7 ] || { cat "$BATS_TEST_TMPDIR/$drv.err" "$BATS_TEST_TMPDIR/$drv.out"; false; }
        jq -e '.result.exit_code == 7' "$BATS_TEST_TMPDIR/$drv.result"
        cp "$TDRV_ROOT/allocs/$ALLOC-$drv/web/logs/stdout.log" "$BATS_TEST_TMPDIR/$drv.log"
        cp "$TDRV_ROOT/allocs/$ALLOC-$drv/web/logs/stderr.log" "$BATS_TEST_TMPDIR/$drv.errlog"
    done
    grep -qx "GREETING=hi web" "$BATS_TEST_TMPDIR/docker.out"
    grep -qx "NOMAD_PORT_db=$port" "$BATS_TEST_TMPDIR/docker.out"
    grep -qx "NOMAD_IP_db=127.0.0.1" "$BATS_TEST_TMPDIR/docker.out"
    grep -qx "NOMAD_ADDR_db=127.0.0.1:$port" "$BATS_TEST_TMPDIR/docker.out"
    grep -qE "^NOMAD_IP_db=172\.26\.[0-9]+\.[0-9]+$" "$BATS_TEST_TMPDIR/oci.out"
    for f in oci.out docker.out oci.log docker.log; do
        grep -v -e '^NOMAD_IP_db=' -e '^NOMAD_ADDR_db=' "$BATS_TEST_TMPDIR/$f" >"$BATS_TEST_TMPDIR/$f.cmp"
    done
    diff "$BATS_TEST_TMPDIR/oci.out.cmp" "$BATS_TEST_TMPDIR/docker.out.cmp"
    diff "$BATS_TEST_TMPDIR/oci.log.cmp" "$BATS_TEST_TMPDIR/docker.log.cmp"
    diff "$BATS_TEST_TMPDIR/oci.errlog" "$BATS_TEST_TMPDIR/docker.errlog"
    grep -qx to-stderr "$BATS_TEST_TMPDIR/docker.err"
    grep -qx to-stderr "$BATS_TEST_TMPDIR/oci.err"
    if [ "$had_bridge" = 0 ]; then
        ip link del tdrv0 2>/dev/null || true
        rm -rf /var/lib/cni/networks/tdrv
    fi
}
