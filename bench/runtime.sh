#!/usr/bin/env bash
# bench/runtime.sh (run by `make bench`): time from `tdrv-run` to the container's `true`
# having run and exited, for an image already in the store, side by side with bare
# `runc run` on a prepared bundle (and `docker run --rm` when an Engine answers), in one
# hyperfine run; prints the ratios.
# Usage: bench/runtime.sh BIN_DIR   (as root, with runc and hyperfine)
set -eu
bin=$(cd "${1:?usage: bench/runtime.sh BIN_DIR}" && pwd)
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${BENCH_RUNS:-30}
[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 77; }
for c in runc hyperfine jq; do
    command -v "$c" >/dev/null || { echo "bench: $c not found (make deps)" >&2; exit 69; }
done

work=$(mktemp -d /tmp/tdrv-bench.XXXXXX)
cleanup() {
    runc --root "$work/runc" delete --force bench-runc >/dev/null 2>&1 || true
    for l in "$work"/root/allocs/*/*/lease; do [ -e "$l" ] && flock -w 30 "$l" true; done
    rm -rf "$work"
}
trap cleanup EXIT
export TDRV_ROOT=$work/root TDRV_RUN=$work/run TDRV_CONFIG=$work/config.yaml
: >"$TDRV_CONFIG"

"$top/scripts/mkimage-busybox.sh" "$work/busybox-oci" docker.io/library/busybox:latest >/dev/null
"$bin/tdrv-pull" --load "$work/busybox-oci" docker.io/library/busybox:latest >/dev/null

# tdrv-run: the whole path (store lookup, overlay mount, config.json, runc, reap, cleanup)
# a fresh allocation per run (no alloc_id), as a scheduler places each task anew
echo '{"task":"t","config":{"image":"busybox","command":"true"}}' >"$work/task.json"

# bare runc: a bundle prepared once (flattened rootfs, runc's default spec running true)
mkdir -p "$work/bundle"
"$bin/tdrv-pull" --rootfs "$work/bundle/rootfs" docker.io/library/busybox:latest >/dev/null
(cd "$work/bundle" && runc spec)
jq '.process.args = ["true"] | .process.terminal = false' "$work/bundle/config.json" >"$work/c.json"
mv "$work/c.json" "$work/bundle/config.json"

cmds=(-n tdrv-run "$bin/tdrv-run --result-fd 3 <$work/task.json 3>/dev/null"
      -n runc "runc --root $work/runc run --bundle $work/bundle bench-runc")
docker=0
if command -v docker >/dev/null && timeout 5 docker info >/dev/null 2>&1 &&
    docker image inspect busybox:latest >/dev/null 2>&1; then
    docker=1
    cmds+=(-n docker "docker run --rm --network none busybox:latest true")
fi

hyperfine --warmup 3 --runs "$runs" --export-json "$work/bench.json" "${cmds[@]}" >&2

jq -r --argjson docker "$docker" '
  (.results | map({(.command): .mean}) | add) as $m
  | "tdrv-run  \($m["tdrv-run"] * 1000 | floor) ms",
    "runc run  \($m["runc"] * 1000 | floor) ms",
    "ratio tdrv-run / runc run = \(($m["tdrv-run"] / $m["runc"]) * 100 | round / 100) (target <= 1.2)",
    (if $docker == 1 then
       "docker run \($m["docker"] * 1000 | floor) ms",
       "ratio docker run / tdrv-run = \(($m["docker"] / $m["tdrv-run"]) * 100 | round / 100) (target >= 8)"
     else "docker run: skipped (no Engine, or no busybox:latest image in it)" end)
' "$work/bench.json"
