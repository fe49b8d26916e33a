#!/usr/bin/env bats
# Fault injection against real parts (docs/fault-injection.md): Debian's docker-registry
# behind a proxy that cuts, fails, throttles (tests/bats/lib/regproxy.py); a small tmpfs
# as the store; runc missing, failing or killed; a private Docker Engine stopped under a
# run; kill -9 of every tdrv process at random moments. As root; ports 5300-5399.
# Counts are in the test names; the whole file stays under ~5 minutes under ASan.

load helpers
load lib/registry
load lib/dockerd

setup_file() {
    local d=$BATS_FILE_TMPDIR p
    : >"$d/pids"
    : >"$d/env"
    echo '{}' >"$d/rules.json"
    cd "$d"
    # bigbox: busybox plus two layers of 1.1 and 1.7 MB (compressed); zeros: 24 KiB that
    # unpack to 24 MiB
    "$TDRV_TOP/scripts/mkimage-busybox.sh" bb >/dev/null
    "$TDRV_TOP/scripts/mkimage-busybox.sh" bigbox >/dev/null
    python3 "$TDRV_TOP/tests/fixtures/registry/mkimage.py" big --seed faults --layers 2 \
        --layer-bytes 3500000 >/dev/null
    python3 "$BATS_TEST_DIRNAME/lib/addlayers.py" bigbox big
    python3 "$BATS_TEST_DIRNAME/lib/zeros.py" zeros 24
    REGISTRY_PORTS="5300 5349" start_registry REG ""
    push bigbox "127.0.0.1:$REG_PORT/faults/bigbox:1"
    push zeros "127.0.0.1:$REG_PORT/faults/zeros:1"
    push bb "127.0.0.1:$REG_PORT/faults/busybox:1"
    p=$(tdrv_free_port 5350 5399)
    python3 "$BATS_TEST_DIRNAME/lib/regproxy.py" "$p" "$REG_PORT" "$d/rules.json" "$d/proxy.log" \
        >"$d/proxy.out" 2>&1 3>&- &
    echo $! >>"$d/pids"
    wait_port "$p"
    echo "PROXY=127.0.0.1:$p" >>"$d/env"
    # the image's blobs, for the rules and the checks
    python3 - "$d/bigbox" >>"$d/env" <<'PY'
import json, os, sys
root = sys.argv[1]
blob = lambda d: os.path.join(root, "blobs", "sha256", d.split(":")[1])
top = json.load(open(os.path.join(root, "index.json")))["manifests"][0]
m = json.load(open(blob(top["digest"])))
print("BIGBOX_DIGEST=%s" % top["digest"])
print("CONFIG=%s CONFIG_SIZE=%d" % (m["config"]["digest"], m["config"]["size"]))
for i, l in enumerate(m["layers"]):
    print("LAYER%d=%s LAYER%d_SIZE=%d" % (i, l["digest"], i, l["size"]))
PY
    # A registry that trickles one byte every 2 s (below libcurl's 1 byte/s low-speed
    # limit) for a whole minute: the pull is started now and checked by the last test,
    # so its minute overlaps the others.
    p=$(tdrv_free_port 5350 5399)
    # shellcheck disable=SC1091
    source "$d/env"
    printf '{"trickle": {"match": "%s", "bytes": 1, "every": 2}}\n' "$LAYER1" >"$d/slow.json"
    python3 "$BATS_TEST_DIRNAME/lib/regproxy.py" "$p" "$REG_PORT" "$d/slow.json" "$d/slow.log" \
        >"$d/slow.out" 2>&1 3>&- &
    echo $! >>"$d/pids"
    wait_port "$p"
    mkdir -p "$d/slowroot"
    printf 'pull_activity_timeout: 1m\n' >"$d/slow.yaml"
    (
        export TDRV_ROOT=$d/slowroot TDRV_CONFIG=$d/slow.yaml
        start=$(date +%s)
        tdrv-pull "127.0.0.1:$p/faults/bigbox:1" >"$d/slow.json.out" 2>"$d/slow.err" && rc=0 ||
            rc=$?
        echo "$rc $(($(date +%s) - start))" >"$d/slow.rc"
    ) 3>&- &
    echo $! >"$d/slow.pid"
}

teardown_file() {
    local pid
    tdrv_stop_pid "$(cat "$BATS_FILE_TMPDIR/slow.pid" 2>/dev/null)"
    while read -r pid; do tdrv_stop_pid "$pid"; done <"$BATS_FILE_TMPDIR/pids"
}

setup() {
    tdrv_test_env
    # shellcheck disable=SC1091
    source "$BATS_FILE_TMPDIR/env"
    FXD=$BATS_FILE_TMPDIR
    PIDS=()
    rules '{}'
}

teardown() {
    local p
    rules '{}'
    for p in "${PIDS[@]}"; do tdrv_stop_pid "$p"; done
    # monitors a test left (by the PIDs their state files name), then their containers
    tdrv_kill_monitors
    tdrv_remove_containers
    if [ -n "${TDRV_DOCKERD_DIR:-}" ]; then
        tdrv_dockerd_stop
    fi
}

# rules JSON: the proxy's faults from now on (a sequence number makes counts start over)
rules() {
    local n
    n=$(($(cat "$FXD/rules.seq" 2>/dev/null || echo 0) + 1))
    echo "$n" >"$FXD/rules.seq"
    jq -c --argjson n "$n" '. + {seq: $n}' <<<"$1" >"$FXD/rules.json.tmp"
    mv "$FXD/rules.json.tmp" "$FXD/rules.json"
}

# the proxy's log lines since the mark (mark: remember where it ends now)
mark() { MARK=$(wc -l <"$FXD/proxy.log" 2>/dev/null || echo 0); }
since() { tail -n +"$((MARK + 1))" "$FXD/proxy.log"; }

# the store is consistent (tests/bats/lib/storecheck.py); extra args go to it
store_ok() {
    run python3 "$BATS_TEST_DIRNAME/lib/storecheck.py" "$TDRV_ROOT" "$@"
    assert_success
}

# a failure: the given status, one JSON error with that exit, one stderr line that is its message
fails_with() { # STATUS CODE
    jq -e --arg c "$2" --argjson x "$1" '.error.code == $c and .error.exit == $x' <<<"$output"
    [ "${stderr_lines[-1]}" = "tdrv-pull: error: $(jq -r .error.message <<<"$output")" ]
}

uuid() { cat /proc/sys/kernel/random/uuid; }

# run CMD..., which must succeed; else say what it wrote (bats shows no --separate-stderr output)
succeeds() {
    run --separate-stderr "$@"
    [ "$status" -eq 0 ] || { echo "# $* exited $status: $output $stderr" >&3; return 1; }
}

# After a run that failed or was reaped: no mount, bundle, runtime container, held lease,
# pin or cgroup of this test's tasks is left (a finished run tears down in a child: wait
# up to 10 s for it).
nothing_left() {
    local a l i
    for i in $(seq 100); do
        left=$(
            grep -F -e " $TDRV_RUN/" -e " $TDRV_ROOT/" /proc/self/mountinfo | awk '{print "mount " $5}'
            ls -A "$TDRV_RUN/tasks" 2>/dev/null | sed 's/^/bundle /'
            [ ! -d "$TDRV_RUN/runtime" ] || runc --root "$TDRV_RUN/runtime" list -q | sed 's/^/container /'
            find "$TDRV_ROOT/pins" -type f 2>/dev/null | sed 's/^/pin /'
            for l in "$TDRV_ROOT"/allocs/*/*/lease; do
                [ ! -e "$l" ] || flock -n "$l" true || echo "lease held $l"
            done
            for a in "$TDRV_ROOT"/allocs/*; do
                [ -d "$a" ] || continue
                find /sys/fs/cgroup -maxdepth 4 -name "*${a##*/}*" 2>/dev/null | sed 's/^/cgroup /'
            done
        )
        [ -n "$left" ] || return 0
        sleep 0.1
    done
    echo "left behind: $left" >&2
    return 1
}

img() { echo "$PROXY/faults/$1:1"; }
blob_hex() { local v=${!1}; echo "${v#sha256:}"; }

# ---- 1. the connection cut at random offsets ----

@test "cut: 20 pulls in a row, each cut at random offsets (fin/rst), fail with 69; the store stays consistent; the 21st resumes" {
    local names=(CONFIG LAYER0 LAYER1 LAYER2) sizes i k n off how cuts left before
    sizes=("$CONFIG_SIZE" "$LAYER0_SIZE" "$LAYER1_SIZE" "$LAYER2_SIZE")
    for i in $(seq 20); do
        # one to three of the blobs not yet in the store, each cut anywhere from byte 0
        # to its last byte; once in a while the manifest too
        left=()
        for k in 0 1 2 3; do
            [ -e "$TDRV_ROOT/images/blobs/sha256/$(blob_hex "${names[k]}")" ] || left+=("$k")
        done
        [ "${#left[@]}" -gt 0 ]
        cuts='{}'
        n=$((RANDOM % 3 + 1))
        for _ in $(seq "$n"); do
            k=${left[RANDOM % ${#left[@]}]}
            off=$(((RANDOM << 15 | RANDOM) % ${sizes[k]}))
            cuts=$(jq -c --arg d "${!names[k]}" --argjson o "$off" '. + {($d): $o}' <<<"$cuts")
        done
        [ $((RANDOM % 5)) -ne 0 ] || cuts=$(jq -c '. + {"1": 100}' <<<"$cuts")
        how=$([ $((RANDOM % 2)) -eq 0 ] && echo fin || echo rst)
        rules "{\"cut\": $cuts, \"how\": \"$how\"}"
        echo "# pull $i: cut $cuts ($how)" >&3
        mark
        run --separate-stderr -69 tdrv-pull "$(img bigbox)"
        fails_with 69 registry_unreachable
        grep -q "unable to fetch 'http://$PROXY/v2/faults/bigbox/" <<<"$stderr"
        since | grep -q ' cut GET '
        # nothing that looks complete: no image, every blob verified, no temporaries
        jq -e '.manifests == []' "$TDRV_ROOT/images/index.json"
        store_ok --no-temporaries
    done
    # what was verified stays; what was cut resumes where its partial ends
    before=$(for k in LAYER0 LAYER1 LAYER2; do
        h=$(blob_hex "$k")
        if [ -e "$TDRV_ROOT/images/blobs/sha256/$h" ]; then echo "$k none"
        else echo "$k $(stat -c %s "$TDRV_ROOT/ingest/$h.partial" 2>/dev/null || echo 0)"; fi
    done)
    echo "# before the last pull: $(tr '\n' ' ' <<<"$before")" >&3
    rules '{}'
    mark
    run --separate-stderr -0 tdrv-pull -v "$(img bigbox)"
    jq -e --arg d "$BIGBOX_DIGEST" '.image.manifest_digest == $d and .image.cached == false' <<<"$output"
    store_ok --no-temporaries
    [ -z "$(ls "$TDRV_ROOT/ingest")" ]
    while read -r k from; do
        if [ "$from" = none ]; then
            ! since | grep -q "get .*/${!k} "
        else
            [ "$(since | grep "get .*/${!k} " | awk '{print $NF}')" = "$from" ]
        fi
    done <<<"$before"
    run --separate-stderr -0 tdrv-pull --pull-policy never "$(img bigbox)"
}

# ---- 2. errors and slowness ----

# the seconds between consecutive proxy log lines (since the mark) that match PATTERN
gaps() { since | grep -E "$1" | awk 'NR > 1 { printf "%.3f\n", $1 - t } { t = $1 }'; }
# every gap is at least the given seconds, in order
gaps_at_least() { # PATTERN MIN...
    local pattern=$1 g
    shift
    mapfile -t g < <(gaps "$pattern")
    echo "# gaps: ${g[*]}" >&3
    [ "${#g[@]}" -eq "$#" ]
    for min in "$@"; do
        awk -v g="${g[0]}" -v m="$min" 'BEGIN { exit !(g >= m) }'
        g=("${g[@]:1}")
    done
}

@test "HTTP 500 on every manifest GET: 5 tries with 250 ms..2 s backoff, then 75 temporary_failure" {
    rules '{"status": 500, "match": "/manifests/"}'
    mark
    run --separate-stderr -75 tdrv-pull "$(img bigbox)"
    fails_with 75 temporary_failure
    grep -q "HTTP 500 for manifest '1'" <<<"$output"
    [ "$(since | grep -c ' status 500 GET /v2/faults/bigbox/manifests/1')" = 5 ]
    gaps_at_least ' status 500 ' 0.24 0.49 0.99 1.99
    jq -e '.manifests == []' "$TDRV_ROOT/images/index.json"
    store_ok --no-temporaries
}

@test "HTTP 500 twice on a layer blob, then the pull succeeds" {
    rules "{\"status\": 500, \"match\": \"$LAYER1\", \"count\": 2}"
    mark
    run --separate-stderr -0 tdrv-pull -v "$(img bigbox)"
    jq -e --arg d "$BIGBOX_DIGEST" '.image.manifest_digest == $d' <<<"$output"
    [ "$(grep -c "HTTP 500, retrying" <<<"$stderr")" = 2 ]
    [ "$(since | grep -c " status 500 GET .*$LAYER1")" = 2 ]
    store_ok --no-temporaries
}

@test "a flaky link: every GET of the biggest layer cut after 300 kB; attempts that move on do not use up the retries" {
    local k s big=LAYER0 size=$LAYER0_SIZE
    for k in LAYER1 LAYER2; do
        s=${k}_SIZE
        [ "${!s}" -le "$size" ] || { big=$k; size=${!s}; }
    done
    # more cuts than the 5 tries a blob gets when its attempts make no progress
    [ "$size" -gt $((5 * 300000)) ]
    # FIN: the client gets every byte sent before the cut (an RST may drop what is in flight)
    rules "{\"cut_every\": {\"${!big}\": 300000}, \"how\": \"fin\"}"
    mark
    run --separate-stderr -0 tdrv-pull -v "$(img bigbox)"
    jq -e --arg d "$BIGBOX_DIGEST" '.image.manifest_digest == $d' <<<"$output"
    [ "$(since | grep -c " cut GET .*${!big}")" -ge 5 ]
    store_ok --no-temporaries
}

@test "HTTP 429 with Retry-After in seconds (2) and as an HTTP date (+3 s): the wait is honoured" {
    rules '{"status": 429, "match": "/manifests/", "count": 1, "retry_after": 2}'
    mark
    run --separate-stderr -0 tdrv-pull "$(img bigbox)"
    gaps_at_least ' (status 429|req) GET /v2/faults/bigbox/manifests/' 0 1.95
    # the same with an HTTP-date (second resolution: at least 2 s of the 3)
    export TDRV_ROOT=$BATS_TEST_TMPDIR/root2
    rules "{\"status\": 429, \"match\": \"$LAYER2\", \"count\": 1, \"retry_after\": \"$(date -u -d '+3 sec' '+%a, %d %b %Y %H:%M:%S GMT')\"}"
    mark
    run --separate-stderr -0 tdrv-pull -v "$(img bigbox)"
    gaps_at_least " (status 429|req) GET .*$LAYER2" 0 1.95
    store_ok --no-temporaries
}

@test "HTTP 429 without Retry-After on every try of a blob: 250 ms..2 s backoff, then 75" {
    rules "{\"status\": 429, \"match\": \"$LAYER2\"}"
    mark
    run --separate-stderr -75 tdrv-pull "$(img bigbox)"
    fails_with 75 temporary_failure
    grep -q "HTTP 429 for blob '$LAYER2'" <<<"$output"
    gaps_at_least " status 429 GET .*$LAYER2" 0.24 0.49 0.99 1.99
    store_ok --no-temporaries
}

@test "a Retry-After past image_pull_timeout: 75 at once, not after the wait (regression)" {
    rules '{"status": 429, "match": "/manifests/", "retry_after": 30}'
    SECONDS=0
    run --separate-stderr -75 timeout 20 tdrv-pull <<<"{\"config\": {\"image\": \"$(img bigbox)\", \"image_pull_timeout\": \"3s\"}}"
    [ "$SECONDS" -lt 5 ]
    fails_with 75 temporary_failure
    # and on a blob
    rules "{\"status\": 503, \"match\": \"$LAYER1\", \"retry_after\": 30}"
    SECONDS=0
    run --separate-stderr -75 timeout 20 tdrv-pull <<<"{\"config\": {\"image\": \"$(img bigbox)\", \"image_pull_timeout\": \"3s\"}}"
    [ "$SECONDS" -lt 5 ]
    fails_with 75 temporary_failure
    store_ok --no-temporaries
}

@test "a registry trickling 4 KiB/s (above the low-speed limit): image_pull_timeout 3s gives 75 timeout, the bytes kept" {
    rules "{\"trickle\": {\"match\": \"$LAYER1\", \"bytes\": 2048, \"every\": 0.5}}"
    mark
    SECONDS=0
    run --separate-stderr -75 tdrv-pull <<<"{\"config\": {\"image\": \"$(img bigbox)\", \"image_pull_timeout\": \"3s\"}}"
    [ "$SECONDS" -lt 8 ]
    fails_with 75 timeout
    grep -q 'image_pull_timeout reached' <<<"$output"
    since | grep -q " trickle GET .*$LAYER1"
    store_ok --no-temporaries
    [ "$(stat -c %s "$TDRV_ROOT/ingest/$(blob_hex LAYER1).partial")" -gt 0 ]
}

# ---- 3. a full disk ----

disk() { # SIZE [MOUNT OPTIONS]: TDRV_ROOT on a tmpfs of that size
    mkdir -p "$BATS_TEST_TMPDIR/disk"
    mount -t tmpfs -o "size=$1${2:+,$2}" tdrv-faults "$BATS_TEST_TMPDIR/disk"
    export TDRV_ROOT=$BATS_TEST_TMPDIR/disk/root
}
grow() { mount -o "remount,size=${1:-64m}${2:+,$2}" "$BATS_TEST_TMPDIR/disk"; }

# a failed pull on a full disk: 74 no_space naming ENOSPC, nothing that looks complete
full() {
    fails_with 74 no_space
    jq -e '.error.errno == 28' <<<"$output"
    grep -q 'No space left on device' <<<"$stderr"
    jq -e '.manifests == []' "$TDRV_ROOT/images/index.json"
    store_ok --no-temporaries
}

@test "full disk during a pull (store on a 3 MiB tmpfs): 74 no_space; after growing it the same pull resumes" {
    disk 3m
    run --separate-stderr -74 tdrv-pull "$(img bigbox)"
    full
    grow
    run --separate-stderr -0 tdrv-pull -v "$(img bigbox)"
    jq -e --arg d "$BIGBOX_DIGEST" '.image.manifest_digest == $d' <<<"$output"
    store_ok --no-temporaries
}

@test "full disk during an unpack (24 KiB blob, 24 MiB file, 8 MiB tmpfs): 74 no_space; the verified blob is kept and reused" {
    disk 8m
    run --separate-stderr -74 tdrv-pull "$(img zeros)"
    full
    grep -q "unable to write 'zeros'" <<<"$stderr"
    # the layer blob was verified and stays; no layer directory, temporary or not
    [ "$(ls "$TDRV_ROOT/images/blobs/sha256" | wc -l)" -ge 2 ]
    [ -z "$(ls -A "$TDRV_ROOT/layers")" ]
    grow
    mark
    run --separate-stderr -0 tdrv-pull "$(img zeros)"
    ! since | grep -q ' get '
    [ "$(stat -c %s "$TDRV_ROOT"/layers/*/zeros)" = $((24 << 20)) ]
    store_ok --no-temporaries
}

@test "no inode left during an unpack (tmpfs nr_inodes=60): 74 no_space too (was 71 os_error)" {
    disk 64m nr_inodes=60
    run --separate-stderr -74 tdrv-pull "$(img busybox)"
    full
    grow 64m nr_inodes=100000
    run --separate-stderr -0 tdrv-pull "$(img busybox)"
    store_ok --no-temporaries
}

@test "full disk under a run (TDRV_RUN on a 64 KiB tmpfs, a copied rootfs): 74 no_space before the start, nothing left" {
    # (an error before the container exists keeps its tdrv status: docs/tdrv-run.md)
    tdrv-pull --load "$FXD/bb" docker.io/library/busybox:latest >/dev/null
    mkdir -p "$BATS_TEST_TMPDIR/rundisk"
    mount -t tmpfs -o size=64k tdrv-faults "$BATS_TEST_TMPDIR/rundisk"
    export TDRV_RUN=$BATS_TEST_TMPDIR/rundisk/run
    run --separate-stderr -74 tdrv-run <<<'{"alloc_id": "'"$(uuid)"'", "task": "t", "config": {"image": "busybox", "command": "true", "no_overlay": true}}'
    jq -e '.error.code == "no_space" and .error.errno == 28' <<<"$output"
    grep -q 'No space left on device' <<<"$stderr"
    nothing_left
}

# ---- 5. the OCI runtime missing, failing, killed ----

busybox() { tdrv-pull --load "$FXD/bb" docker.io/library/busybox:latest >/dev/null; }

task_json() { # ALLOC NAME SCRIPT [EXTRA JSON]: a busybox task running sh -c SCRIPT
    jq -nc --arg a "$1" --arg n "$2" --arg s "$3" --argjson x "${4:-{\}}" \
        '{alloc_id: $a, task: $n, kill_timeout: "1s",
          config: {image: "busybox", command: "sh", args: ["-c", $s]}} * $x'
}

# the run failed with CODE and a message matching PATTERN, said once, and left nothing
run_failed() { # CODE PATTERN
    jq -e --arg c "$1" '.error.code == $c and .error.tool == "tdrv-run"' <<<"$output"
    [ "${stderr_lines[-1]}" = "tdrv-run: error: $(jq -r .error.message <<<"$output")" ]
    [ "${#stderr_lines[@]}" = 1 ]
    grep -Eq "$2" <<<"${stderr_lines[-1]}"
    jq -e '.state == "failed"' "$TDRV_ROOT/allocs/$A/t/state.json"
    nothing_left
}

# a `runc` first on PATH that runs SCRIPT (sh), with REAL set to the real runc
runc_wrapper() {
    mkdir -p "$BATS_TEST_TMPDIR/bin"
    printf '#!/bin/sh\nREAL=%s\n%s\n' "$(command -v runc)" "$1" >"$BATS_TEST_TMPDIR/bin/runc"
    chmod +x "$BATS_TEST_TMPDIR/bin/runc"
}

@test "runc not on PATH: 125 runtime_not_found, no mount, bundle, lease, pin or cgroup left" {
    busybox
    A=$(uuid)
    mkdir -p "$BATS_TEST_TMPDIR/nothing"
    run --separate-stderr -125 env PATH="$BATS_TEST_TMPDIR/nothing" "$TDRV_BIN/tdrv-run" \
        < <(task_json "$A" t true)
    run_failed runtime_not_found "unable to run 'runc': No such file or directory"
}

@test "config runtime naming a missing binary: 125 runtime_not_found, nothing left" {
    busybox
    A=$(uuid)
    printf 'runtime: %s/no-such-runc\n' "$BATS_TEST_TMPDIR" >"$TDRV_CONFIG"
    run --separate-stderr -125 tdrv-run < <(task_json "$A" t true)
    run_failed runtime_not_found "unable to run '$BATS_TEST_TMPDIR/no-such-runc'"
}

@test "runc that exits 1, or is killed by SIGKILL: 125 runtime_failed naming how it ended, nothing left (was 'the OCI runtime failed', bundle kept)" {
    busybox
    export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
    runc_wrapper 'exit 1'
    A=$(uuid)
    run --separate-stderr -125 tdrv-run < <(task_json "$A" t true)
    run_failed runtime_failed "the OCI runtime 'runc' failed with status 1"
    runc_wrapper 'kill -9 $$'
    A=$(uuid)
    run --separate-stderr -125 tdrv-run < <(task_json "$A" t true)
    run_failed runtime_failed "the OCI runtime 'runc' was killed by signal 9 \(SIGKILL\)"
}

@test "runc killed just after it started the container: 125 in the foreground, 69 with --detach; the container is gone, nothing left" {
    busybox
    export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
    runc_wrapper '"$REAL" "$@"; rc=$?
case " $* " in *" run "*) cat "$(dirname "$0")/../started" 2>/dev/null; for a; do [ "$p" = --pid-file ] && cp "$a" "$(dirname "$0")/../pid"; p=$a; done; kill -9 $$;; esac
exit $rc'
    for mode in foreground detach; do
        A=$(uuid)
        rm -f "$BATS_TEST_TMPDIR/pid"
        if [ "$mode" = detach ]; then
            run --separate-stderr -69 tdrv-run --detach < <(task_json "$A" t 'sleep 30')
        else
            run --separate-stderr -125 tdrv-run < <(task_json "$A" t 'sleep 30')
        fi
        run_failed runtime_failed "killed by signal 9"
        # the container had started: its init is gone now (reaped once the monitor exits)
        pid=$(cat "$BATS_TEST_TMPDIR/pid")
        [ -n "$pid" ]
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        ! kill -0 "$pid" 2>/dev/null
    done
}

# ---- 6. kill -9 at random moments ----

# a random pause of 0 to MAX_MS milliseconds (printed for the log)
pause() { # MAX_MS
    local ms=$((RANDOM % ($1 + 1)))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    echo "$ms"
}

LOOP='trap "exit 0" TERM; while :; do sleep 0.2; done'

@test "kill -9 of tdrv-pull at random moments (6 times), each followed by tdrv-gc: the next pull and a run succeed, the store stays consistent" {
    local round p ms
    for round in $(seq 6); do
        # ~5 MB/s, so that a pull lasts about a second
        rules '{"trickle": {"match": "/blobs/", "bytes": 262144, "every": 0.05}}'
        tdrv-pull "$(img bigbox)" >/dev/null 2>&1 3>&- &
        p=$!
        ms=$(pause 1200)
        kill -9 "$p" 2>/dev/null || true
        wait "$p" || true
        echo "# pull $round killed after $ms ms" >&3
        store_ok
        rules '{}'
        TDRV_GC_NOW=+1h run --separate-stderr -0 tdrv-gc
        store_ok --no-temporaries
        mark
        # About one pull in 70 here, a blob GET through the test's proxy gets its headers and
        # then no byte from the proxy and registry (tdrv-pull found waiting in poll on that
        # one socket, its unpacker waiting for data: gdb), and ends after
        # pull_activity_timeout with 75, as it should. The loopback proxy is not what is
        # tested here: such a pull is reported and tried once more (it resumes).
        if ! succeeds tdrv-pull -v <<<"{\"config\": {\"image\": \"$(img bigbox)\", \"pull_activity_timeout\": \"1m\"}}"; then
            since | tail -20 >&3
            grep -q 'no data for 60 s (pull_activity_timeout)' <<<"$output"
            succeeds tdrv-pull -v "$(img bigbox)"
        fi
        jq -e --arg d "$BIGBOX_DIGEST" '.image.manifest_digest == $d' <<<"$output"
        store_ok --no-temporaries
        A=$(uuid)
        run --separate-stderr -0 tdrv-run < <(task_json "$A" t 'test -s /data/img-1.bin' \
            "{\"config\": {\"image\": \"$(img bigbox)\"}}")
        nothing_left
    done
}

@test "kill -9 of a foreground tdrv-run at random moments (6 times): tdrv-gc reaps what it left, the task runs again" {
    local round p ms
    busybox
    A=$(uuid)
    for round in $(seq 6); do
        tdrv-run < <(task_json "$A" t "$LOOP") >/dev/null 2>&1 3>&- &
        p=$!
        ms=$(pause 900)
        kill -9 "$p" 2>/dev/null || true
        wait "$p" || true
        echo "# tdrv-run $round killed after $ms ms: $(jq -r .state "$TDRV_ROOT/allocs/$A/t/state.json" 2>/dev/null)" >&3
        sleep 0.5 # a runc it had started goes on: let it finish, as the grace would
        TDRV_GC_NOW=+6m run --separate-stderr -0 tdrv-gc --no-images
        nothing_left
        run --separate-stderr -3 tdrv-run < <(task_json "$A" t 'exit 3')
        nothing_left
    done
}

@test "kill -9 of a --detach monitor at random moments (6 times): tdrv-gc reaps the task, it runs again" {
    local round ms m
    busybox
    A=$(uuid)
    for round in $(seq 6); do
        # tasks that end on their own, sooner or later than the kill
        run --separate-stderr -0 tdrv-run --detach < <(task_json "$A" t "sleep 0.$((RANDOM % 10))")
        m=$(jq -r .handle.monitor_pid <<<"$output")
        ms=$(pause 1000)
        kill -9 "$m" 2>/dev/null || true
        echo "# monitor $round killed after $ms ms: $(jq -r .state "$TDRV_ROOT/allocs/$A/t/state.json")" >&3
        sleep 0.3
        TDRV_GC_NOW=+6m run --separate-stderr -0 tdrv-gc --no-images
        nothing_left
        run --separate-stderr -0 tdrv-run < <(task_json "$A" t true)
        nothing_left
    done
}

@test "kill -9 of tdrv-gc at random moments of a reap (4 times, 2 dangling tasks each): the next tdrv-gc finishes it" {
    local round p ms a b
    busybox
    for round in $(seq 4); do
        a=$(uuid)
        b=$(uuid)
        for x in "$a" "$b"; do
            tdrv-run --detach < <(task_json "$x" t "$LOOP") >"$BATS_TEST_TMPDIR/h.json"
            kill -9 "$(jq -r .handle.monitor_pid "$BATS_TEST_TMPDIR/h.json")"
        done
        sleep 0.2
        TDRV_GC_NOW=+6m tdrv-gc --no-images --remove-alloc-dir >/dev/null 2>&1 3>&- &
        p=$!
        ms=$(pause 800)
        kill -9 "$p" 2>/dev/null || true
        wait "$p" || true
        echo "# tdrv-gc $round killed after $ms ms" >&3
        TDRV_GC_NOW=+6m run --separate-stderr -0 tdrv-gc --no-images --remove-alloc-dir
        nothing_left
        [ ! -e "$TDRV_ROOT/allocs/$a" ] && [ ! -e "$TDRV_ROOT/allocs/$b" ]
        [ -z "$(ls -A "$TDRV_ROOT/allocs")" ]
    done
}

# ---- 4. the Docker Engine stopped under a run ----

# dtask ALLOC: a driver docker task on the private Engine that loops until SIGTERM (then 7)
dtask() {
    jq -nc --arg a "$1" --arg s 'echo up; trap "exit 7" TERM; while :; do sleep 0.2; done' \
        '{alloc_id: $a, task: "web", driver: "docker", kill_timeout: "1s",
          config: {image: "tdrv-test/busybox:1", command: "sh", args: ["-c", $s]}}'
}
# dstart ALLOC: tdrv-run (foreground) in the background, once its task is up
dstart() {
    tdrv-run < <(dtask "$1") >"$BATS_TEST_TMPDIR/$1.out" 2>"$BATS_TEST_TMPDIR/$1.err" 3>&- &
    RUN_PID=$!
    PIDS+=("$RUN_PID")
    for _ in $(seq 100); do
        grep -q '^up$' "$BATS_TEST_TMPDIR/$1.out" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
dwait() { # RUN_STATUS: the status of tdrv-run, which must end within 30 s
    for _ in $(seq 300); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.1; done
    wait "$RUN_PID" && RUN_STATUS=0 || RUN_STATUS=$?
}
containers() { docker ps -aq --filter "label=io.tdrv.alloc_id=$1"; }

@test "docker: the Engine killed (SIGKILL) and stopped (SIGTERM) under a run: a clear error or the task's end; after a restart tdrv-gc reaps the container" {
    tdrv_dockerd_skip_unless
    tdrv_dockerd_start
    export DOCKER_HOST=$TDRV_DOCKERD_HOST
    python3 "$BATS_TEST_DIRNAME/docker/mkimage.py" "$TDRV_DOCKERD_DIR/img.tar" tdrv-test/busybox:1 \
        >/dev/null
    docker load -i "$TDRV_DOCKERD_DIR/img.tar" >/dev/null

    # killed: the supervisor loses its Engine mid-wait
    A=$(uuid)
    dstart "$A"
    [ -n "$(containers "$A")" ]
    kill -9 "$TDRV_DOCKERD_PID"
    dwait
    [ "$RUN_STATUS" = 125 ]
    output=$(sed -n '$p' "$BATS_TEST_TMPDIR/$A.out")
    jq -e '.error.code == "engine_lost" and .error.exit == 69' <<<"$output"
    [ "$(tail -1 "$BATS_TEST_TMPDIR/$A.err")" = "tdrv-run: error: $(jq -r .error.message <<<"$output")" ]
    grep -q "lost the Docker Engine while waiting for container 'web-$A'" "$BATS_TEST_TMPDIR/$A.err"
    flock -n "$TDRV_ROOT/allocs/$A/web/lease" true
    jq -e '.state == "lost" and (.error | test("lost the Docker Engine"))' \
        "$TDRV_ROOT/allocs/$A/web/state.json"
    tdrv_dockerd_restart
    TDRV_GC_NOW=+6m run --separate-stderr -0 tdrv-gc --no-images
    jq -e --arg a "$A" '.removed[] | select(.kind == "task" and .alloc_id == $a and .backend == "docker")' <<<"$output"
    [ -z "$(containers "$A")" ]

    # stopped: the Engine stops the container on its way down (SIGTERM: the task exits 7)
    A=$(uuid)
    dstart "$A"
    kill "$TDRV_DOCKERD_PID"
    dwait
    [ "$RUN_STATUS" = 7 ]
    jq -e '.result.exit_code == 7' < <(sed -n '$p' "$BATS_TEST_TMPDIR/$A.out")
    for _ in $(seq 100); do kill -0 "$TDRV_DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
    tdrv_dockerd_restart
    [ -n "$(containers "$A")" ] # it could not be removed with the Engine down
    TDRV_GC_NOW=+6m run --separate-stderr -0 tdrv-gc --no-images
    jq -e --arg a "$A" '.removed[] | select(.kind == "task" and .alloc_id == $a and .reason == "exited")' <<<"$output"
    [ -z "$(containers "$A")" ]
    # and the Engine runs the task again
    run --separate-stderr -0 tdrv-run < <(dtask "$A" | jq -c '.config.args = ["-c", "exit 0"]')
}

# ---- 2 (end). the slow pull started by setup_file ----

@test "a registry trickling 1 byte every 2 s (below the low-speed limit): pull_activity_timeout 1m gives 75 timeout after ~60 s" {
    local rc secs
    for _ in $(seq 1200); do [ -s "$FXD/slow.rc" ] && break; sleep 0.1; done
    read -r rc secs <"$FXD/slow.rc"
    echo "# the slow pull ended with $rc after $secs s" >&3
    [ "$rc" = 75 ]
    [ "$secs" -ge 59 ] && [ "$secs" -lt 100 ]
    output=$(cat "$FXD/slow.json.out")
    jq -e '.error.code == "timeout" and .error.exit == 75' <<<"$output"
    grep -q 'no data for 60 s (pull_activity_timeout)' <<<"$output"
    [ "$(tail -1 "$FXD/slow.err")" = "tdrv-pull: error: $(jq -r .error.message <<<"$output")" ]
    grep -q " trickle GET .*$LAYER1" "$FXD/slow.log"
    TDRV_ROOT=$FXD/slowroot store_ok --no-temporaries
}
