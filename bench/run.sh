#!/usr/bin/env bash
# `make bench`: every benchmark under bench/, in one run, each printing its figures
# side by side with the peers its issue names, as ratios.
# Usage: bench/run.sh BIN_DIR [NAME...]
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:?usage: bench/run.sh BIN_DIR [NAME...]}
shift
export PATH="$bin:$PATH"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for f in "$here"/*.sh; do
        n=$(basename "$f" .sh)
        [ "$n" = run ] || names+=("$n")
    done
fi
status=0
for n in "${names[@]}"; do
    echo "== bench: $n"
    if ! bash "$here/$n.sh" "$bin"; then
        echo "bench $n: failed"
        status=1
    fi
done
exit $status
