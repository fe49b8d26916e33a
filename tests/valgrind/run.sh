#!/usr/bin/env bash
# Run bats files with every tdrv tool wrapped by valgrind memcheck. TDRV_BIN points at a
# directory of wrapper scripts that exec valgrind on the real binaries of BUILD_DIR/bin (a
# build without ASan, which valgrind cannot run). Each invocation logs to
# BUILD_DIR/valgrind/logs/<tool>.<pid>.log; a memcheck error or a definite leak makes the
# tool exit 99, which fails its test. Prints the bats closing line and one valgrind line:
# invocations, errors, bytes definitely and indirectly lost.
# Usage: tests/valgrind/run.sh BUILD_DIR [BATS_FILE...]
# Exit status: 0 when every test passed with no memcheck error or leak, 1 otherwise.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(cd "${1:?usage: tests/valgrind/run.sh BUILD_DIR [BATS_FILE...]}" && pwd)
shift
files=("$@")
[ ${#files[@]} -gt 0 ] || files=("$top"/tests/bats/*.bats)
command -v valgrind >/dev/null || { echo "valgrind: not installed" >&2; exit 1; }

wrap=$build/valgrind/bin
logs=$build/valgrind/logs
rm -rf "$build/valgrind"
mkdir -p "$wrap" "$logs"
for real in "$build"/bin/tdrv-*; do
    [ -x "$real" ] || continue
    tool=$(basename "$real")
    cat >"$wrap/$tool" <<WRAPPER
#!/bin/sh
exec valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \\
    --show-leak-kinds=definite,indirect --track-origins=yes --child-silent-after-fork=yes \\
    --log-file="$logs/$tool.%p.log" "$real" "\$@"
WRAPPER
    chmod +x "$wrap/$tool"
done

export TDRV_BIN="$wrap"
export TDRV_TOP="$top"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
bats --tap "${files[@]}" | tee "$out"
passed=$(grep -cE '^ok [0-9]+' "$out")
failed=$(grep -cE '^not ok [0-9]+' "$out")

runs=0
errors=0
definite=0
indirect=0
bad=()
for log in "$logs"/*.log; do
    [ -f "$log" ] || continue
    runs=$((runs + 1))
    e=$(awk '/ERROR SUMMARY:/ { n = $4 } END { gsub(",", "", n); print n + 0 }' "$log")
    d=$(awk '/definitely lost:/ { n = $4 } END { gsub(",", "", n); print n + 0 }' "$log")
    i=$(awk '/indirectly lost:/ { n = $4 } END { gsub(",", "", n); print n + 0 }' "$log")
    errors=$((errors + e))
    definite=$((definite + d))
    indirect=$((indirect + i))
    if [ "$e" -ne 0 ] || [ "$d" -ne 0 ] || [ "$i" -ne 0 ]; then
        bad+=("$log")
    fi
done
for log in "${bad[@]}"; do
    echo "---- $log"
    sed -n '/Command:/,$p' "$log" | grep -v '^==[0-9]*== *$' | head -n 40
done
echo "valgrind: $runs invocations, $errors errors, $definite bytes definitely lost, $indirect bytes indirectly lost"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ] && [ "$runs" -gt 0 ] && [ ${#bad[@]} -eq 0 ]
