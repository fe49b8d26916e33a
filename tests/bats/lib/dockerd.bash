# A private Docker Engine for tests: its own data root, exec root, pid file, Unix
# socket and bridge, so it never disturbs another Engine on the host. Started as
# root in setup_file, stopped by its PID in teardown_file.
#
#   tdrv_dockerd_start          sets TDRV_DOCKERD_DIR, TDRV_DOCKERD_SOCK, TDRV_DOCKERD_HOST,
#                               TDRV_DOCKERD_PID, TDRV_DOCKERD_BRIDGE, TDRV_DOCKERD_BRIDGE_IP
#   tdrv_dockerd_stop           stops it (by PID), removes the bridge and the directories
#   tdrv_dockerd_restart        starts it again on the same directories and bridge (after
#                               a test stopped or killed it by TDRV_DOCKERD_PID)
#   tdrv_dockerd_skip_unless    skips the calling test unless the Engine can run here

tdrv_dockerd_skip_unless() {
    [ "$(id -u)" -eq 0 ] || skip "the Docker Engine tests need root"
    command -v dockerd >/dev/null || skip "dockerd is not installed"
}

# Start the Engine and wait until it answers /_ping (30 s at most).
tdrv_dockerd_start() {
    local dir n br ip
    # Unix socket paths are limited to 108 bytes: keep the directory short.
    dir=$(mktemp -d /tmp/tdrvd.XXXXXX) || return 1
    n=$((RANDOM % 200 + 20))
    br="tdrvbr$$"
    br=${br:0:15}
    ip="10.213.$n.1"
    ip link add "$br" type bridge || return 1
    ip addr add "$ip/24" dev "$br" && ip link set "$br" up || { ip link del "$br"; return 1; }
    echo '{}' >"$dir/daemon.json"
    export TDRV_DOCKERD_DIR=$dir
    export TDRV_DOCKERD_SOCK="$dir/docker.sock"
    export TDRV_DOCKERD_HOST="unix://$dir/docker.sock"
    export TDRV_DOCKERD_BRIDGE=$br
    export TDRV_DOCKERD_BRIDGE_IP=$ip
    tdrv_dockerd_restart
}

# (Re)start the daemon on TDRV_DOCKERD_DIR and wait until it answers /_ping (30 s at most).
tdrv_dockerd_restart() {
    local dir=$TDRV_DOCKERD_DIR log=$TDRV_DOCKERD_DIR/dockerd.log c st=
    # a daemon this shell killed is reaped first (a zombie's pid file reads "running")
    [ -z "${TDRV_DOCKERD_PID:-}" ] || wait "$TDRV_DOCKERD_PID" 2>/dev/null || true
    # the containerd of a killed daemon goes with it; a zombie nobody reaps counts as gone
    c=$(cat "$dir/exec/containerd/containerd.pid" 2>/dev/null) || true
    if [ -n "$c" ]; then
        for _ in $(seq 100); do
            st=$(awk '{print $3}' "/proc/$c/stat" 2>/dev/null) || st=
            [ -n "$st" ] && [ "$st" != Z ] || break
            sleep 0.1
        done
        [ -n "$st" ] && [ "$st" != Z ] || rm -f "$dir/exec/containerd/containerd.pid"
    fi
    # fd 3 is bats' own output: the daemon must not hold it open.
    dockerd --config-file "$dir/daemon.json" \
        --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/dockerd.pid" \
        -H "unix://$dir/docker.sock" --bridge "$TDRV_DOCKERD_BRIDGE" \
        --iptables=false --ip-masq=false --userland-proxy=false --log-level=warn \
        </dev/null >>"$log" 2>&1 3>&- &
    export TDRV_DOCKERD_PID=$!
    for _ in $(seq 300); do
        if ! kill -0 "$TDRV_DOCKERD_PID" 2>/dev/null; then
            echo "dockerd exited early:" >&2
            tail -20 "$log" >&2
            tdrv_dockerd_stop
            return 1
        fi
        if curl -fsS --max-time 1 --unix-socket "$TDRV_DOCKERD_SOCK" http://d/_ping \
            >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "dockerd did not answer within 30 s:" >&2
    tail -20 "$log" >&2
    tdrv_dockerd_stop
    return 1
}

# Stop the Engine by the PID we started it with (never by name); idempotent.
tdrv_dockerd_stop() {
    local pid=${TDRV_DOCKERD_PID:-}
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    TDRV_DOCKERD_PID=
    if [ -n "${TDRV_DOCKERD_BRIDGE:-}" ]; then
        ip link del "$TDRV_DOCKERD_BRIDGE" 2>/dev/null || true
    fi
    if [ -n "${TDRV_DOCKERD_DIR:-}" ] && [ -d "$TDRV_DOCKERD_DIR" ]; then
        # Anything the Engine left mounted under its roots must go before rm.
        grep -F " $TDRV_DOCKERD_DIR/" /proc/self/mounts | awk '{print $2}' | sort -r |
            while read -r m; do umount -l "$m" 2>/dev/null || true; done
        rm -rf "$TDRV_DOCKERD_DIR"
    fi
}
