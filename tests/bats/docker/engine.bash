# A private Docker Engine for one bats file (as root): its own data-root, exec-root,
# pidfile, socket, bridge and containerd namespace, so it never meets another Engine.
# Started and stopped by PID, never by name. Used by tests/bats/tdrv-run-docker.bats.
# (tests/bats/lib/dockerd.bash from branch `fingerprint` may replace it.)

# tdrv_engine_start NAME: sets TDRV_ENGINE_DIR, TDRV_ENGINE_PID, DOCKER_HOST.
tdrv_engine_start() {
    local name=$1 octet
    command -v dockerd >/dev/null || return 1
    [ "$(id -u)" = 0 ] || return 1
    TDRV_ENGINE_DIR=$(mktemp -d "/tmp/tdrv-$name.XXXXXX")
    TDRV_ENGINE_BRIDGE="td${name:0:6}$((RANDOM % 10000))"
    octet=$((100 + RANDOM % 150))
    ip link add "$TDRV_ENGINE_BRIDGE" type bridge || return 1
    ip addr add "172.29.$octet.1/24" dev "$TDRV_ENGINE_BRIDGE"
    ip link set "$TDRV_ENGINE_BRIDGE" up
    setsid dockerd \
        --data-root "$TDRV_ENGINE_DIR/data" --exec-root "$TDRV_ENGINE_DIR/exec" \
        --pidfile "$TDRV_ENGINE_DIR/dockerd.pid" -H "unix://$TDRV_ENGINE_DIR/docker.sock" \
        --bridge "$TDRV_ENGINE_BRIDGE" --iptables=false --ip6tables=false --ip-masq=false \
        --containerd-namespace "tdrv-$name" --containerd-plugins-namespace "tdrv-$name-p" \
        --storage-driver vfs </dev/null >"$TDRV_ENGINE_DIR/dockerd.log" 2>&1 &
    TDRV_ENGINE_PID=$!
    export DOCKER_HOST="unix://$TDRV_ENGINE_DIR/docker.sock"
    export TDRV_ENGINE_DIR TDRV_ENGINE_PID TDRV_ENGINE_BRIDGE
    for _ in $(seq 150); do
        docker version >/dev/null 2>&1 && return 0
        kill -0 "$TDRV_ENGINE_PID" 2>/dev/null || break
        sleep 0.2
    done
    cat "$TDRV_ENGINE_DIR/dockerd.log" >&2
    return 1
}

tdrv_engine_stop() {
    [ -n "${TDRV_ENGINE_PID:-}" ] || return 0
    local ids
    ids=$(docker ps -aq 2>/dev/null) && [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
    kill "$TDRV_ENGINE_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$TDRV_ENGINE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$TDRV_ENGINE_PID" 2>/dev/null || true
    ip link del "$TDRV_ENGINE_BRIDGE" 2>/dev/null || true
    # the Engine may leave mounts (netns, shm) under its roots
    grep -o " $TDRV_ENGINE_DIR[^ ]*" /proc/self/mounts | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf "$TDRV_ENGINE_DIR"
}
