#!/usr/bin/env bash
# bench/docker.sh: tdrv-run (driver: docker) against `docker run --rm`, same image, same
# command (`true`), same private Engine, in one run, interleaved; prints the medians and
# the ratio. Target (issue 7): tdrv-run within 1.1x of docker run.
# Usage: bench/docker.sh BIN_DIR [N]   (as root, with dockerd; N runs each, default 20)
set -u
bin=$(cd "${1:?usage: docker.sh BIN_DIR [N]}" && pwd)
n=${2:-${TDRV_BENCH_N:-20}}
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ] || ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
    echo "docker: skipped (needs root, dockerd and the docker CLI)"
    exit 0
fi
# shellcheck source=../tests/bats/docker/engine.bash
. "$top/tests/bats/docker/engine.bash"
work=$(mktemp -d /tmp/tdrv-bench-docker.XXXXXX)
cleanup() { tdrv_engine_stop; rm -rf "$work"; }
trap cleanup EXIT
tdrv_engine_start bench >/dev/null || { echo "docker: cannot start a private dockerd"; exit 1; }
img=tdrv-bench/busybox:1
python3 "$top/tests/bats/docker/mkimage.py" "$work/img.tar" "$img"
docker load -i "$work/img.tar" >/dev/null
export TDRV_ROOT=$work/root TDRV_RUN=$work/run TDRV_CONFIG=$work/config.yaml
: >"$TDRV_CONFIG"

now_ns() { date +%s%N; }
task() {
    printf '{"alloc_id":"bench-%s","task":"t","driver":"docker","resources":{"cpu":100,"memory":64},"config":{"image":"%s","command":"true"}}' "$1" "$img"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }

# warm up both paths once
task warm | "$bin/tdrv-run" >/dev/null 2>&1
docker run --rm "$img" true >/dev/null 2>&1
: >"$work/tdrv.ms"
: >"$work/docker.ms"
for i in $(seq "$n"); do
    t0=$(now_ns)
    task "$i" | "$bin/tdrv-run" >/dev/null 2>"$work/err" || { cat "$work/err"; exit 1; }
    t1=$(now_ns)
    docker run --rm "$img" true >/dev/null 2>&1 || exit 1
    t2=$(now_ns)
    echo $(((t1 - t0) / 1000)) >>"$work/tdrv.ms"
    echo $(((t2 - t1) / 1000)) >>"$work/docker.ms"
done
leftover=$(docker ps -aq | wc -l)
a=$(median <"$work/tdrv.ms")
b=$(median <"$work/docker.ms")
awk -v a="$a" -v b="$b" -v n="$n" -v l="$leftover" 'BEGIN {
    printf "docker: %d runs each of `true`, median wall time\n", n
    printf "  tdrv-run (driver docker)  %8.1f ms\n", a / 1000
    printf "  docker run --rm           %8.1f ms\n", b / 1000
    printf "  ratio tdrv-run / docker run: %.2fx (target <= 1.10x)\n", a / b
    printf "  containers left on the engine: %d\n", l
}'
