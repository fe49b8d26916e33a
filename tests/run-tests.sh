#!/usr/bin/env bash
# Run the unit runner and the bats suite against one build directory and print
# one closing line, "N passed, N failed" (skips, when any, counted on the line before).
# Usage: tests/run-tests.sh BUILD_DIR [BATS_FILE...]
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
build=$(cd "${1:?usage: run-tests.sh BUILD_DIR}" && pwd)
shift
export TDRV_BIN="$build/bin"
export TDRV_TOP="$top"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=70}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
log=$(mktemp)
# bats's run directories go under one directory of ours, so that whatever a test left
# mounted there (the bind mount `ip netns` style namespaces live on) is unmounted after.
export BATS_TMPDIR
BATS_TMPDIR=$(mktemp -d /tmp/tdrv-tests.XXXXXX)
cleanup() {
    local m
    findmnt -rn -o TARGET | grep -F "$BATS_TMPDIR/" | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf "$BATS_TMPDIR" 2>/dev/null || true
    rm -f "$log"
}
trap cleanup EXIT

echo "== unit"
"$build/unit-run" | tee -a "$log"
echo "== bats"
files=("$@")
[ ${#files[@]} -gt 0 ] || files=("$top"/tests/bats/*.bats)
bats --tap "${files[@]}" | tee -a "$log"

passed=$(grep -cE '^ok [0-9]+' "$log" | tr -d ' ')
skipped=$(grep -cE '^ok [0-9]+.*# ?[Ss][Kk][Ii][Pp]' "$log" | tr -d ' ')
failed=$(grep -cE '^not ok [0-9]+' "$log" | tr -d ' ')
passed=$((passed - skipped))
# The closing line is always exactly "N passed, N failed" (CI reads it); skips go above.
[ "$skipped" -eq 0 ] || echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
