#!/usr/bin/env bash
# tdrv-ports: allocations per second over 10,000 sequential allocations (one process
# each, as a pipeline runs it), the ledger size after them, and the time of the first
# and the last thousand, which shows how the cost grows with the number of leases.
# Usage: bench/ports.sh BIN_DIR [COUNT]
set -eu
bin=${1:?usage: bench/ports.sh BIN_DIR [COUNT]}
count=${2:-10000}
export PATH="$bin:$PATH"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TDRV_ROOT="$work/root" TDRV_CONFIG="$work/config.yaml"
printf 'host_ip: 127.0.0.1\nports: {min: 20000, max: 32000}\n' >"$TDRV_CONFIG"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

start=$(now)
block_start=$start
first=""
last=""
for ((i = 1; i <= count; i++)); do
    printf '{"alloc_id":"bench-%d","group":"g","task":"t","network":{"ports":[{"label":"http"}]}}' "$i" |
        tdrv-ports >/dev/null
    if ((i % 1000 == 0)); then
        t=$(now)
        [ -n "$first" ] || first=$(elapsed "$block_start" "$t")
        last=$(elapsed "$block_start" "$t")
        block_start=$t
    fi
done
end=$(now)
total=$(elapsed "$start" "$end")
leases=$(tdrv-ports --list | jq .count)
size=$(stat -c %s "$TDRV_ROOT/ports/ledger")
echo "ports: $count allocations in ${total}s: $(awk -v n="$count" -v t="$total" 'BEGIN { printf "%.0f", n / t }') allocations/s"
echo "ports: ledger after $leases leases: $size bytes ($(awk -v s="$size" -v n="$leases" 'BEGIN { printf "%.0f", s / n }') bytes/lease)"
if [ -n "$first" ]; then
    echo "ports: first 1000: ${first}s, last 1000: ${last}s (last/first $(awk -v a="$first" -v b="$last" 'BEGIN { printf "%.2f", b / a }'))"
fi
[ "$leases" -eq "$count" ]
