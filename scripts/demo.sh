#!/usr/bin/env bash
# The README's first command (`make demo`): build a tiny busybox image offline, load it
# into a throw-away store, and run a task from it with tdrv-run, no daemon involved.
# Usage: scripts/demo.sh BIN_DIR   (as root, with runc; `make deps` installs everything)
set -eu
bin=$(cd "${1:?usage: demo.sh BIN_DIR}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (containers need it): sudo make demo" >&2; exit 77; }
command -v runc >/dev/null || { echo "demo: runc not found (make deps)" >&2; exit 69; }
command -v jq >/dev/null || { echo "demo: jq not found (make deps)" >&2; exit 69; }

work=$(mktemp -d /tmp/tdrv-demo.XXXXXX)
cleanup() {
    # tdrv-run tears a task down after reporting it, holding the lease: wait for it
    for l in "$work"/root/allocs/*/*/lease; do [ -e "$l" ] && flock -w 30 "$l" true; done
    rm -rf "$work"
}
trap cleanup EXIT
export TDRV_ROOT=$work/root TDRV_RUN=$work/run TDRV_CONFIG=$work/config.yaml
: >"$TDRV_CONFIG"

step() { if [ -t 1 ]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }

step "build a tiny OCI image from Debian's busybox-static (offline)"
"$top/scripts/mkimage-busybox.sh" "$work/busybox-oci" docker.io/library/busybox:latest

step "load it into the store ($TDRV_ROOT)"
"$bin/tdrv-pull" --load "$work/busybox-oci" docker.io/library/busybox:latest |
    jq -c '.image | {reference, manifest_digest}'

cat >"$work/task.json" <<'JSON'
{
  "task": "hello",
  "group": "demo",
  "driver": "oci",
  "config": {
    "image": "busybox",
    "command": "sh",
    "args": ["-c", "echo hello from tdrv; uname -a; id; echo \"task ${NOMAD_TASK_NAME} of alloc ${NOMAD_ALLOC_ID}\"; ls /alloc /local"]
  },
  "user": "nobody",
  "env": { "GREETING": "hi" },
  "resources": { "cpu": 100, "memory": 64 }
}
JSON
step "the task"
jq -c . "$work/task.json"

step "tdrv-pull | tdrv-run: what the container printed, then the result document"
set +e
"$bin/tdrv-pull" <"$work/task.json" | "$bin/tdrv-run" --result-fd 3 3>"$work/result.json"
rc=$?
set -e

step "result (exit status $rc)"
jq -c '.result' "$work/result.json"
exit "$rc"
