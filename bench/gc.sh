#!/usr/bin/env bash
# tdrv-gc: the time of a pass over 1,000 tasks' state on the daemonless backend (most of
# them exited, some dangling, some live with their lease held), then the same pass again
# (nothing left to do), and, when dockerd can be started here (root), a pass over 200
# Engine containers carrying tdrv's labels whose supervisors are gone.
# The state is written as tdrv-run's oci backend and docker backend write it.
# Usage: bench/gc.sh BIN_DIR [TASKS] [CONTAINERS]
set -eu
bin=$(cd "${1:?usage: bench/gc.sh BIN_DIR [TASKS] [CONTAINERS]}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
tasks=${2:-1000}
ctrs=${3:-200}
export PATH="$bin:$PATH"
work=$(mktemp -d /tmp/tdrv-bench-gc.XXXXXX)
holders=()
cleanup() {
    for p in "${holders[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ -n "${TDRV_DOCKERD_PID:-}" ]; then tdrv_dockerd_stop; fi
    rm -rf "$work"
}
trap cleanup EXIT
export TDRV_ROOT=$work/root TDRV_RUN=$work/run TDRV_CONFIG=$work/config.yaml
: >"$TDRV_CONFIG"
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# ---- the daemonless backend: 1,000 tasks ----
dangling=$((tasks / 20)) # 5%: supervisor gone while running
live=$((tasks / 20))     # 5%: running, lease held
started=2026-01-01T00:00:00.000000000Z
python3 - "$TDRV_ROOT" "$TDRV_RUN" "$tasks" "$dangling" "$live" "$started" <<'PY'
import json, os, sys, uuid
root, run, n, dang, live, started = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6]), sys.argv[6]
os.makedirs(os.path.join(run, "runtime"), exist_ok=True)
for i in range(n):
    a = str(uuid.UUID(int=i + 1))
    t = "web"
    d = os.path.join(root, "allocs", a, t)
    for sub in ("local", "secrets", "logs"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    os.makedirs(os.path.join(root, "allocs", a, "alloc", "logs"), exist_ok=True)
    open(os.path.join(d, "lease"), "w").close()
    open(os.path.join(d, "logs", "stdout.log"), "w").write("hello\n")
    st = {"alloc_id": a, "task": t, "container_id": f"{t}-{a}", "driver": "oci",
          "runtime": "runc", "runtime_root": os.path.join(run, "runtime"),
          "bundle": os.path.join(run, "tasks", f"{t}-{a}"),
          "lease": os.path.join(d, "lease"), "logs": os.path.join(d, "logs"),
          "monitor_pid": 999999, "kill_signal": "SIGTERM", "kill_timeout_ns": 5e9,
          "started_at": started}
    if i < dang + live:
        st.update(state="running", pid=999999)
    else:
        st.update(state="exited", result={"exit_code": 0, "signal": 0, "oom_killed": False,
                                          "started_at": started, "finished_at": started})
    json.dump(st, open(os.path.join(d, "state.json"), "w"))
PY
# the live ones: a process holds each lease, as a supervisor does
for ((i = dangling; i < dangling + live; i++)); do
    a=$(python3 -c "import uuid,sys; print(uuid.UUID(int=int(sys.argv[1]) + 1))" "$i")
    # the lock is the sleeping process's own (exec), so killing it frees the lease
    (exec 9>"$TDRV_ROOT/allocs/$a/web/lease" && flock -x 9 && exec sleep 3600) </dev/null \
        >/dev/null 2>&1 &
    holders+=($!)
done
sleep 0.5
t0=$(now)
TDRV_GC_NOW=+1h tdrv-gc --dry-run --no-images >"$work/dry.json"
t1=$(now)
TDRV_GC_NOW=+1h tdrv-gc --no-images >"$work/pass1.json"
t2=$(now)
TDRV_GC_NOW=+1h tdrv-gc --no-images >"$work/pass2.json"
t3=$(now)
echo "gc oci: $tasks tasks ($((tasks - dangling - live)) exited, $dangling dangling, $live live)"
echo "gc oci: dry run $(elapsed "$t0" "$t1")s: $(jq -c .counts "$work/dry.json")"
echo "gc oci: pass    $(elapsed "$t1" "$t2")s: $(jq -c .counts "$work/pass1.json")"
echo "gc oci: again   $(elapsed "$t2" "$t3")s: $(jq -c .counts "$work/pass2.json")"

# ---- the docker backend: 200 containers ----
if [ "$(id -u)" -ne 0 ] || ! command -v dockerd >/dev/null; then
    echo "gc docker: skipped (needs root and dockerd)"
    exit 0
fi
# shellcheck source=../tests/bats/lib/dockerd.bash
. "$top/tests/bats/lib/dockerd.bash"
tdrv_dockerd_start >/dev/null 2>&1 || { echo "gc docker: skipped (dockerd did not start)"; exit 0; }
export DOCKER_HOST=$TDRV_DOCKERD_HOST
python3 "$top/tests/bats/docker/mkimage.py" "$work/img.tar" tdrv-test/busybox:1 >/dev/null
docker load -i "$work/img.tar" >/dev/null
rm -rf "$TDRV_ROOT/allocs"
c0=$(now)
for ((i = 0; i < ctrs; i++)); do
    a=$(printf 'dddddddd-0000-4000-8000-%012d' "$i")
    d="$TDRV_ROOT/allocs/$a/web"
    mkdir -p "$d/logs"
    : >"$d/lease"
    touch -d '1 hour ago' "$d/lease"
    echo "{\"alloc_id\":\"$a\",\"task\":\"web\",\"driver\":\"docker\",\"handle\":{\"driver\":\"docker\",\"alloc_id\":\"$a\",\"task\":\"web\",\"container_name\":\"web-$a\",\"lease\":\"$d/lease\",\"kill_timeout_ms\":1000}}" >"$d/state.json"
    docker create --name "web-$a" --label "io.tdrv.alloc_id=$a" --label io.tdrv.task=web \
        --label "io.tdrv.lease=$d/lease" tdrv-test/busybox:1 true >/dev/null
done
c1=$(now)
TDRV_GC_NOW=+1h tdrv-gc --backend docker --no-images >"$work/dk.json"
c2=$(now)
echo "gc docker: $ctrs containers created in $(elapsed "$c0" "$c1")s (setup)"
echo "gc docker: pass $(elapsed "$c1" "$c2")s: $(jq -c .counts "$work/dk.json")"
echo "gc docker: left with tdrv labels: $(docker ps -aq --filter label=io.tdrv.alloc_id | wc -l)"
