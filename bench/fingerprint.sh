#!/usr/bin/env bash
# tdrv-fingerprint with no Docker Engine and no rkt reachable: mean wall time of a run,
# against the 100 ms the issue asks for. Usage: bench/fingerprint.sh BIN_DIR
set -eu
bin=${1:?usage: bench/fingerprint.sh BIN_DIR}
command -v hyperfine >/dev/null || { echo "hyperfine is not installed"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/config.yaml"
mkdir -p "$tmp/bin"
# A PATH without rkt; the runtimes and containerd stay as the host has them.
for t in runc crun containerd; do
    p=$(command -v "$t" 2>/dev/null) && ln -s "$p" "$tmp/bin/$t"
done
export TDRV_CONFIG="$tmp/config.yaml" TDRV_ROOT="$tmp/root"
export DOCKER_HOST="unix://$tmp/no-engine.sock"
export PATH="$tmp/bin:/usr/bin:/bin"
[ ! -x "$tmp/bin/rkt" ]
"$bin/tdrv-fingerprint" | jq -e '.drivers.docker.detected == false and .drivers.rkt.detected == false' >/dev/null
hyperfine -N --warmup 3 --runs 30 --export-json "$tmp/h.json" "$bin/tdrv-fingerprint" >/dev/null
mean=$(jq -r '.results[0].mean * 1000' "$tmp/h.json")
stddev=$(jq -r '.results[0].stddev * 1000' "$tmp/h.json")
printf 'tdrv-fingerprint (no Engine, no rkt): mean %.1f ms ± %.1f ms; target 100 ms: %.2fx of the budget\n' \
    "$mean" "$stddev" "$(awk -v m="$mean" 'BEGIN {print m / 100}')"
