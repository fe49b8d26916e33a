#!/usr/bin/env bash
# Networking: start-to-first-response of a bridged task with one forwarded port — from
# `tdrv-run --detach` until busybox httpd in the container answers on 127.0.0.1:<host port>
# (namespace, CNI ADD of lo + bridge + firewall + portmap, runc, httpd up) — and the time
# of its `--stop` (kill_signal SIGKILL: httpd as PID 1 ignores SIGTERM; CNI DEL, namespace
# removed); side by side with `docker run -d -p` when an
# Engine answers and has busybox:latest.
# Usage: bench/net.sh BIN_DIR [RUNS]   (as root, with runc, curl and the CNI plugins)
# The network is this run's own (bridge tdb<hex>, a free 10.x.y.0/24), removed at the end.
set -eu
bin=$(cd "${1:?usage: bench/net.sh BIN_DIR [RUNS]}" && pwd)
runs=${2:-${BENCH_RUNS:-10}}
top=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 77; }
for c in runc curl jq; do
    command -v "$c" >/dev/null || { echo "bench: $c not found" >&2; exit 69; }
done
[ -x /usr/lib/cni/bridge ] || { echo "bench: no CNI plugins in /usr/lib/cni" >&2; exit 69; }

work=$(mktemp -d /tmp/tdrv-bench-net.XXXXXX)
id=$(printf '%06x' $(((RANDOM << 9 ^ RANDOM) & 0xffffff)))
net="tdrvb-$id" bridge="tdb$id"
for _ in $(seq 50); do
    a=$((RANDOM % 200 + 20)) b=$((RANDOM % 256))
    ip -4 route | grep -q "^10\.$a\.$b\." || break
done
export TDRV_ROOT=$work/root TDRV_RUN=$work/run TDRV_CONFIG=$work/config.yaml
: >"$TDRV_CONFIG"
cleanup() {
    set +e
    [ -n "${handle:-}" ] && "$bin/tdrv-run" --stop <<<"$handle" >/dev/null 2>&1
    [ -n "${dcid:-}" ] && docker rm -f "$dcid" >/dev/null 2>&1
    grep -o " $work[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m"; done
    ip link del "$bridge" 2>/dev/null
    rm -rf "/var/lib/cni/networks/$net" "$work"
}
trap cleanup EXIT
mkdir -p "$TDRV_ROOT/cni"
jq -n --arg n "$net" --arg b "$bridge" --arg s "10.$a.$b.0/24" '{
  cniVersion: "1.0.0", name: $n, plugins: [
    {type: "bridge", bridge: $b, isGateway: true, forceAddress: true, ipMasq: true,
     hairpinMode: true, ipam: {type: "host-local", ranges: [[{subnet: $s}]],
                               routes: [{dst: "0.0.0.0/0"}]}},
    {type: "firewall", backend: "iptables", iptablesAdminChainName: "TDRV-ADMIN"},
    {type: "portmap", capabilities: {portMappings: true}, snat: true}]}' \
    >"$TDRV_ROOT/cni/tdrv.conflist"
"$top/scripts/mkimage-busybox.sh" "$work/busybox-oci" docker.io/library/busybox:latest >/dev/null
"$bin/tdrv-pull" --load "$work/busybox-oci" docker.io/library/busybox:latest >/dev/null

now_ns() { date +%s%N; }
free_port() {
    local p
    for _ in $(seq 200); do
        p=$((30000 + RANDOM % 10000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    return 1
}
# wait_up PORT: until http://127.0.0.1:PORT/ answers (10 s)
wait_up() {
    for _ in $(seq 2000); do
        curl -s -o /dev/null -m 1 "http://127.0.0.1:$1/hostname" && return 0
        sleep 0.005
    done
    echo "bench: nothing answered on 127.0.0.1:$1" >&2
    return 1
}
stats() { # label, then one number (ms) a line on stdin
    sort -n | awk -v l="$1" '{ v[NR] = $1; s += $1 }
        END { if (NR) printf "%-28s mean %7.1f ms  median %7.1f ms  min %7.1f ms  (%d runs)\n",
              l, s / NR, v[int((NR + 1) / 2)], v[1], NR }'
}

: >"$work/start.tdrv"
: >"$work/stop.tdrv"
for i in $(seq "$runs"); do
    port=$(free_port)
    jq -nc --arg a "bench-$id-$i" --argjson p "$port" '{alloc_id: $a, task: "web",
        config: {image: "busybox", command: "httpd", args: ["-f", "-p", "8080", "-h", "/etc"]},
        kill_signal: "SIGKILL",
        ports: [{label: "http", value: $p, to: 8080, host_ip: "127.0.0.1"}]}' >"$work/t.json"
    t0=$(now_ns)
    handle=$("$bin/tdrv-run" --detach <"$work/t.json")
    wait_up "$port"
    t1=$(now_ns)
    "$bin/tdrv-run" --stop <<<"$handle" >/dev/null
    t2=$(now_ns)
    handle=
    echo $(((t1 - t0) / 1000)) | awk '{ print $1 / 1000 }' >>"$work/start.tdrv"
    echo $(((t2 - t1) / 1000)) | awk '{ print $1 / 1000 }' >>"$work/stop.tdrv"
done
stats "tdrv-run bridge start->http" <"$work/start.tdrv"
stats "tdrv-run bridge --stop" <"$work/stop.tdrv"

# the same task on the host network (httpd on the host port itself): what the network costs
: >"$work/start.host"
for i in $(seq "$runs"); do
    port=$(free_port)
    jq -nc --arg a "benchh-$id-$i" --arg p "$port" '{alloc_id: $a, task: "web",
        config: {image: "busybox", command: "httpd", args: ["-f", "-p", $p, "-h", "/etc"],
                 network_mode: "host"}, kill_signal: "SIGKILL"}' >"$work/t.json"
    t0=$(now_ns)
    handle=$("$bin/tdrv-run" --detach <"$work/t.json")
    if ! wait_up "$port"; then
        "$bin/tdrv-run" --logs <<<"$handle" >&2 || true
        "$bin/tdrv-run" --stop <<<"$handle" >/dev/null
        handle=
        continue
    fi
    t1=$(now_ns)
    "$bin/tdrv-run" --stop <<<"$handle" >/dev/null
    handle=
    echo $(((t1 - t0) / 1000)) | awk '{ print $1 / 1000 }' >>"$work/start.host"
done
stats "tdrv-run host start->http" <"$work/start.host"

if command -v docker >/dev/null && timeout 5 docker info >/dev/null 2>&1 &&
    docker image inspect busybox:latest >/dev/null 2>&1; then
    : >"$work/start.docker"
    for i in $(seq "$runs"); do
        port=$(free_port)
        t0=$(now_ns)
        dcid=$(docker run -d -p "$port:8080" busybox:latest httpd -f -p 8080 -h /etc)
        wait_up "$port"
        t1=$(now_ns)
        docker rm -f "$dcid" >/dev/null
        dcid=
        echo $(((t1 - t0) / 1000)) | awk '{ print $1 / 1000 }' >>"$work/start.docker"
    done
    stats "docker run -p start->http" <"$work/start.docker"
else
    echo "docker run -p: skipped (no Engine, or no busybox:latest image in it)"
fi
