#!/usr/bin/env bash
# Run libFuzzer targets for a bounded time each, one after the other, over a scratch copy
# of their seed corpora (so runs never grow the repository), and print one line per
# target: executions, coverage (cov: and ft:), corpus size and crashes. Crash, leak,
# timeout and OOM inputs are kept in BUILD/artifacts/, full logs in BUILD/logs/.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS TARGET...
# FUZZ_SEED=N: libFuzzer's -seed=N for every target (CI's short pass: the same inputs in the
# same order each run, so a gate does not turn red at random; longer runs explore afresh).
# Exit status: 0 when no target crashed, 1 otherwise, 64 on bad usage.
set -u
if [ $# -lt 3 ]; then
    echo "usage: tests/fuzz/run.sh BUILD_DIR SECONDS TARGET..." >&2
    exit 64
fi
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
secs=$2
shift 2
work=$(mktemp -d "${TMPDIR:-/tmp}/tdrv-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/artifacts" "$build/logs"
# LeakSanitizer on; UBSan findings are fatal so libFuzzer saves the input.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=0
total_execs=0
for t in "$@"; do
    bin=$build/fuzz_$t
    corpus=$work/$t
    log=$build/logs/$t.log
    mkdir -p "$corpus"
    if [ -d "$here/corpus/$t" ]; then
        cp -R "$here/corpus/$t/." "$corpus/"
    fi
    opts=(-max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
        -artifact_prefix="$build/artifacts/$t-")
    if [ -n "${FUZZ_SEED:-}" ]; then
        opts+=(-seed="$FUZZ_SEED")
    fi
    if [ -f "$here/dict/$t.dict" ]; then
        opts+=(-dict="$here/dict/$t.dict")
    fi
    # per-target libFuzzer flags, one per line (tests/fuzz/options/<target>)
    if [ -f "$here/options/$t" ]; then
        while IFS= read -r o; do [ -n "$o" ] && [ "${o#\#}" = "$o" ] && opts+=("$o"); done \
            <"$here/options/$t"
    fi
    if [ ! -x "$bin" ]; then
        echo "fuzz_$t: no binary at $bin" >&2
        failed=1
        continue
    fi
    "$bin" "${opts[@]}" "$corpus" >"$log" 2>&1
    rc=$?
    execs=$(awk '/^stat::number_of_executed_units:/ { n = $2 } END { print n + 0 }' "$log")
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | awk '{ print $2 }')
    ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -n 1 | awk '{ print $2 }')
    corp=$(grep -oE 'corp: [0-9]+' "$log" | tail -n 1 | awk '{ print $2 }')
    crashes=$(grep -cE 'Test unit written to .*/(crash|leak|timeout|oom)-' "$log")
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes=1
    fi
    total_execs=$((total_execs + execs))
    printf 'fuzz_%-10s %12s execs  cov: %-5s ft: %-6s corpus: %-5s crashes: %s\n' \
        "$t" "$execs" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
    if [ "$crashes" -ne 0 ]; then
        failed=1
        echo "---- fuzz_$t (exit $rc), from $log:"
        grep -E 'broken invariant|ERROR: |SUMMARY: |Test unit written to|^0x' "$log" | head -n 20
        echo "----"
    fi
done
echo "fuzz: $# targets, $total_execs executions, $([ "$failed" -eq 0 ] && echo "no crashes" || echo "CRASHES")"
exit "$failed"
