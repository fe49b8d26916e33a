#!/usr/bin/env bash
# Unpack throughput of tdrv against `umoci unpack` on the same OCI layout, in one run.
# Usage: bench/unpack.sh [BIN_DIR] [FILES] [MIB]
#   BIN_DIR  where tdrv-pull is (default build/release/bin)
#   FILES    small files in the image (default 20000), spread over 3 gzip layers
#   MIB      plus this many MiB in a few large files (default 64)
# Prints one line per measure and the ratio (umoci time / tdrv time: >1 means tdrv is faster):
#   tdrv flatten (--rootfs from the store: decompress, verify DiffID, apply), the closest
#   match to what umoci unpack does, and tdrv load (ingest + verify every blob + unpack each
#   layer into its overlay lower dir, layers in parallel).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$top/build/release/bin}
files=${2:-20000}
mib=${3:-64}
command -v umoci >/dev/null || { echo "bench: umoci not installed" >&2; exit 69; }
work=$(mktemp -d /tmp/tdrv-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

python3 - "$work/layout" "$files" "$mib" <<PY
import os, sys
sys.path.insert(0, "$top/tests/bats/lib")
import layers
out, files, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ls = []
per = max(1, files // 3)
for l in range(3):
    ents = [layers.D(f"l{l}")] + [layers.D(f"l{l}/d{d}") for d in range(per // 100 + 1)]
    ents += [layers.F(f"l{l}/d{i // 100}/f{i}", os.urandom(64) * (1 + i % 32)) for i in range(per)]
    ents += [layers.F(f"l{l}/big{j}", os.urandom(1 << 20) * max(1, mib // 12)) for j in range(4)]
    ls.append(layers.make_tar(ents))
layers.write_layout(out, "bench/unpack:latest", ls, "gzip")
print(sum(len(t) for t in ls), file=open(os.path.join(out, "..", "bytes"), "w"))
PY
bytes=$(cat "$work/bytes")

now() { date +%s.%N; }
sync
t0=$(now)
umoci unpack --image "$work/layout:bench/unpack:latest" "$work/umoci" >/dev/null 2>&1
t1=$(now)
"$bin/tdrv-pull" --root "$work/store" --load "$work/layout" bench/unpack >/dev/null
t2=$(now)
"$bin/tdrv-pull" --root "$work/store" --pull-policy never --rootfs "$work/tdrv" bench/unpack >/dev/null
t3=$(now)

awk -v b="$bytes" -v u="$(echo "$t1 - $t0" | bc)" -v l="$(echo "$t2 - $t1" | bc)" \
    -v f="$(echo "$t3 - $t2" | bc)" 'BEGIN {
    mb = b / 1048576
    printf "image: %.1f MiB uncompressed, 3 gzip layers\n", mb
    printf "umoci unpack:            %6.2fs  %7.1f MiB/s\n", u, mb / u
    printf "tdrv flatten (--rootfs): %6.2fs  %7.1f MiB/s\n", f, mb / f
    printf "tdrv load (store+layers):%6.2fs  %7.1f MiB/s\n", l, mb / l
    printf "ratio (umoci/tdrv flatten): %.2fx\n", u / f
}'
