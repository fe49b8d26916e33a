#!/usr/bin/env bash
# `make bench`: run every bench/*.sh (but this one) against one build's bin directory.
# Usage: bench/run.sh BIN_DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:?usage: bench/run.sh BIN_DIR}
rc=0
for b in "$here"/*.sh; do
    [ "$(basename "$b")" = run.sh ] && continue
    echo "== $(basename "$b" .sh)"
    bash "$b" "$bin" || rc=$?
done
exit "$rc"
