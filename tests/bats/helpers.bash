# Shared set-up for every bats file: `load helpers` at the top.
bats_require_minimum_version 1.7.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

: "${TDRV_TOP:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}"
: "${TDRV_BIN:=$TDRV_TOP/build/release/bin}"
export TDRV_TOP TDRV_BIN
export PATH="$TDRV_BIN:$PATH"

# Each test gets its own store, run dir and (empty) operator config, so tests never
# see the host's /var/lib/tdrv or /etc/tdrv.
tdrv_test_env() {
    export TDRV_ROOT="$BATS_TEST_TMPDIR/root"
    export TDRV_RUN="$BATS_TEST_TMPDIR/run"
    export TDRV_CONFIG="$BATS_TEST_TMPDIR/config.yaml"
    : >"$TDRV_CONFIG"
}

# Teardown: wait for the leases of the test's tasks to be free (a foreground run tears down
# in the background after its result).
tdrv_wait_leases() {
    local l
    for l in "$TDRV_ROOT"/allocs/*/*/lease; do
        [ -e "$l" ] && flock -w 30 "$l" true 2>/dev/null || true
    done
}

# Teardown: kill -9 the --detach monitors a test left, by the PIDs their state files name.
tdrv_kill_monitors() {
    local s p
    for s in "$TDRV_ROOT"/allocs/*/*/state.json; do
        [ -f "$s" ] || continue
        p=$(jq -r '.monitor_pid // .handle.monitor_pid // empty' "$s")
        [ -z "$p" ] || kill -9 "$p" 2>/dev/null || true
    done
}

# Teardown: delete the containers in the test's own runtime root, then lazily unmount what
# is still mounted under its temporary directory (deepest first).
tdrv_remove_containers() {
    local t m
    if [ -d "${TDRV_RUN:-/nonexistent}/runtime" ]; then
        for t in $(runc --root "$TDRV_RUN/runtime" list -q 2>/dev/null); do
            runc --root "$TDRV_RUN/runtime" delete --force "$t" 2>/dev/null || true
        done
    fi
    grep -o " $BATS_TEST_TMPDIR[^ ]*" /proc/self/mounts | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
}

# Kill a process started by a test, by the PID it remembered (never by name).
tdrv_stop_pid() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}

# A free TCP port on 127.0.0.1 in [lo, hi].
tdrv_free_port() {
    local lo=${1:-40000} hi=${2:-49999} p
    for _ in $(seq 200); do
        p=$((lo + RANDOM % (hi - lo + 1)))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
    done
    return 1
}
