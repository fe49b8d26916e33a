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
