#!/usr/bin/env bash
# Cold pull-and-unpack of a 4-layer ~130 MB image from one local registry (Debian's
# docker-registry on 127.0.0.1), in one run:
#   tdrv-pull IMAGE                                   (download, verify, unpack: one pass)
#   skopeo copy docker://IMAGE oci:DIR + umoci unpack (the same work, two tools)
#   docker pull IMAGE                                 (only when a Docker Engine answers)
# Prints wall time and peak RSS (/usr/bin/time -v) of each, and the ratios.
# Usage: bench/pull.sh BIN_DIR      (env: BENCH_LAYER_BYTES, BENCH_KEEP=1, BENCH_RUNS)
set -eu
bin=${1:?usage: bench/pull.sh BIN_DIR}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
export PATH="$bin:$PATH"
for t in docker-registry skopeo umoci /usr/bin/time python3; do
    command -v "$t" >/dev/null || { echo "bench pull: '$t' is missing (scripts/deps.sh)" >&2; exit 69; }
done
layer_bytes=${BENCH_LAYER_BYTES:-66000000}
runs=${BENCH_RUNS:-1}
work=$(mktemp -d "${TMPDIR:-/tmp}/tdrv-bench-pull.XXXXXX")
reg_pid=
cleanup() {
    if [ -n "$reg_pid" ]; then kill "$reg_pid" 2>/dev/null || true; wait "$reg_pid" 2>/dev/null || true; fi
    [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

# The image, built offline once per layer size and kept in the cache.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/tdrv-bench/img-$layer_bytes
if [ ! -f "$cache/index.json" ]; then
    echo "bench pull: generating a 4-layer image (layers of $layer_bytes bytes before gzip)..."
    rm -rf "$cache"
    python3 "$top/tests/fixtures/registry/mkimage.py" "$cache" --seed bench --layers 4 \
        --layer-bytes "$layer_bytes" >/dev/null
fi
size=$(du -sb "$cache/blobs" | cut -f1)

port=
for p in $(seq 5190 5199); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { echo "bench pull: no free port in 5190-5199" >&2; exit 69; }
cat >"$work/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
img=127.0.0.1:$port/bench/img:1
skopeo copy -q --dest-tls-verify=false "oci:$cache" "docker://$img"

# measure LABEL CMD...: appends "label seconds max_rss_kb cpu_seconds" to $work/results
measure() {
    local label=$1
    shift
    sync
    echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
    /usr/bin/time -v -o "$work/time.txt" "$@" >/dev/null 2>"$work/$label.err" ||
        { echo "bench pull: $label failed:" >&2; tail -5 "$work/$label.err" >&2; exit 70; }
    local wall rss cpu
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$work/time.txt")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
    cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {print s}' "$work/time.txt")
    echo "$label $wall $rss $cpu" >>"$work/results"
}

have_docker=0
if command -v docker >/dev/null && timeout 5 docker info >/dev/null 2>&1; then have_docker=1; fi
: >"$work/results"
for r in $(seq "$runs"); do
    rm -rf "$work/tdrv" "$work/oci" "$work/bundle"
    measure tdrv env TDRV_ROOT="$work/tdrv" TDRV_CONFIG=/dev/null tdrv-pull -q "$img"
    measure skopeo skopeo copy -q --src-tls-verify=false "docker://$img" "oci:$work/oci:img"
    measure umoci umoci unpack --image "$work/oci:img" "$work/bundle"
    if [ "$have_docker" = 1 ]; then
        docker rmi -f "$img" >/dev/null 2>&1 || true
        measure docker docker pull -q "$img"
    fi
done
[ "$have_docker" = 1 ] && docker rmi -f "$img" >/dev/null 2>&1 || true

awk -v size="$size" '
{ t[$1] += $2; c[$1] += $4; n[$1]++; if ($3 > m[$1]) m[$1] = $3 }
END {
    tt = t["tdrv"] / n["tdrv"]; ts = t["skopeo"] / n["skopeo"]; tu = t["umoci"] / n["umoci"]
    peer = ts + tu; peer_rss = (m["skopeo"] > m["umoci"]) ? m["skopeo"] : m["umoci"]
    ct = c["tdrv"] / n["tdrv"]; cp = (c["skopeo"] + c["umoci"]) / n["tdrv"]
    printf "image: 4 layers, %.1f MB compressed, runs: %d\n", size / 1e6, n["tdrv"]
    printf "%-28s %9s %9s %12s\n", "tool", "wall s", "cpu s", "peak RSS MiB"
    printf "%-28s %9.2f %9.2f %12.1f\n", "tdrv-pull (pull+unpack)", tt, ct, m["tdrv"] / 1024
    printf "%-28s %9.2f %9.2f %12.1f\n", "skopeo copy", ts, c["skopeo"] / n["skopeo"], m["skopeo"] / 1024
    printf "%-28s %9.2f %9.2f %12.1f\n", "umoci unpack", tu, c["umoci"] / n["umoci"], m["umoci"] / 1024
    printf "%-28s %9.2f %9.2f %12.1f\n", "skopeo+umoci", peer, cp, peer_rss / 1024
    printf "ratio time  (skopeo+umoci / tdrv-pull): %.2fx\n", peer / tt
    printf "ratio cpu   (skopeo+umoci / tdrv-pull): %.2fx\n", cp / ct
    printf "ratio peak RSS (skopeo+umoci / tdrv-pull): %.2fx\n", peer_rss / m["tdrv"]
    if (n["docker"]) {
        td = t["docker"] / n["docker"]
        printf "%-28s %9.2f %12s\n", "docker pull (client only)", td, "-"
        printf "ratio time  (docker pull / tdrv-pull): %.2fx\n", td / tt
    } else {
        printf "docker pull: skipped (no Docker Engine answers)\n"
    }
}' "$work/results"
