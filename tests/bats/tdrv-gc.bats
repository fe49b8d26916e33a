#!/usr/bin/env bats
# tdrv-gc: the tool contract, then reaping on both backends (as root): the daemonless one
# with runc and the image store, the docker one against a private Engine
# (tests/bats/lib/dockerd.bash: its own socket, data root and bridge).
# The clock is moved with TDRV_GC_NOW (test only); crashes with TDRV_GC_CRASH_AT.

load helpers
load lib/dockerd

setup_file() {
    # tasks with ports are bridged (CNI): on this file's own network, bridge and subnet
    local id a b
    id=$(printf '%06x' $(((RANDOM << 9 ^ RANDOM) & 0xffffff)))
    export NET_NAME="tdrvgc-$id" BRIDGE="tdg$id"
    for _ in $(seq 50); do
        a=$((RANDOM % 200 + 20)) b=$((RANDOM % 256))
        ip -4 route 2>/dev/null | grep -q "^10\.$a\.$b\." || break
    done
    export SUBNET="10.$a.$b.0/24"
    export LAYOUT="$BATS_FILE_TMPDIR/busybox-oci"
    "$TDRV_TOP/scripts/mkimage-busybox.sh" "$LAYOUT" docker.io/library/busybox:latest >/dev/null
    # a second, different image (one more config label) sharing busybox's layer
    export LAYOUT2="$BATS_FILE_TMPDIR/other-oci"
    python3 - "$LAYOUT" "$LAYOUT2" <<'PY'
import hashlib, json, os, shutil, sys
src, dst = sys.argv[1:3]
shutil.copytree(src, dst)
b = lambda d: os.path.join(dst, "blobs", "sha256", d.split(":")[1])
def put(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    open(b(d), "wb").write(data)
    return d, len(data)
idx = json.load(open(os.path.join(dst, "index.json")))
m = json.load(open(b(idx["manifests"][0]["digest"])))
c = json.load(open(b(m["config"]["digest"])))
c.setdefault("config", {}).setdefault("Labels", {})["variant"] = "other"
m["config"]["digest"], m["config"]["size"] = put(json.dumps(c).encode())
d, n = put(json.dumps(m).encode())
idx["manifests"][0].update(digest=d, size=n)
idx["manifests"][0]["annotations"] = {"org.opencontainers.image.ref.name": "docker.io/library/other:1"}
json.dump(idx, open(os.path.join(dst, "index.json"), "w"))
PY
    if [ "$(id -u)" -eq 0 ] && command -v dockerd >/dev/null && [ -z "${TDRV_GC_NO_ENGINE:-}" ]; then
        tdrv_dockerd_start || true
        if [ -n "${TDRV_DOCKERD_PID:-}" ]; then
            python3 "$BATS_TEST_DIRNAME/docker/mkimage.py" "$TDRV_DOCKERD_DIR/img.tar" \
                tdrv-test/busybox:1 >/dev/null
            python3 "$BATS_TEST_DIRNAME/docker/mkimage.py" "$TDRV_DOCKERD_DIR/hand.tar" \
                tdrv-test/hand:1 >/dev/null
            DOCKER_HOST=$TDRV_DOCKERD_HOST docker load -i "$TDRV_DOCKERD_DIR/hand.tar" >/dev/null
            # a distinct image (its own id, no parent) for containers started by hand
            (
                export DOCKER_HOST=$TDRV_DOCKERD_HOST
                old=$(docker image inspect -f '{{.Id}}' tdrv-test/hand:1)
                c=$(docker create tdrv-test/hand:1 true)
                docker export "$c" | docker import --change 'LABEL by=hand' - tdrv-test/hand:1 \
                    >/dev/null
                docker rm "$c" >/dev/null
                docker rmi "$old" >/dev/null
            )
        fi
    fi
}

teardown_file() {
    tdrv_dockerd_stop
    [ -n "${BRIDGE:-}" ] || return 0
    ip link del "$BRIDGE" 2>/dev/null || true
    rm -rf "/var/lib/cni/networks/$NET_NAME"
    # CNI rules a killed test may have left (this network's only)
    python3 "$BATS_TEST_DIRNAME/lib/cni-clean.py" "$NET_NAME" || true
}

conflist() {
    jq -n --arg n "$NET_NAME" --arg b "$BRIDGE" --arg s "$SUBNET" '{
      cniVersion: "1.0.0", name: $n, plugins: [
        {type: "bridge", bridge: $b, isGateway: true, forceAddress: true, ipMasq: true,
         hairpinMode: true, ipam: {type: "host-local", ranges: [[{subnet: $s}]],
                                   routes: [{dst: "0.0.0.0/0"}]}},
        {type: "firewall", backend: "iptables", iptablesAdminChainName: "TDRV-ADMIN"},
        {type: "portmap", capabilities: {portMappings: true}, snat: true}]}'
}

setup() {
    tdrv_test_env
    mkdir -p "$TDRV_ROOT/cni"
    conflist >"$TDRV_ROOT/cni/tdrv.conflist"
    PIDS=()
    A1=$(cat /proc/sys/kernel/random/uuid)
    A2=$(cat /proc/sys/kernel/random/uuid)
}

teardown() {
    local p a i
    for p in "${PIDS[@]}"; do tdrv_stop_pid "$p"; done
    # what a test left running: stopped and torn down (network too) the way tdrv-gc does it
    TDRV_CONFIG=/dev/null TDRV_GC_NOW=+24h tdrv-gc --live --no-images <<<'[]' >/dev/null 2>&1 ||
        true
    # monitors this test left (by the PIDs their state files name)
    tdrv_kill_monitors
    tdrv_remove_containers
    if [ -n "${TDRV_DOCKERD_PID:-}" ]; then
        local ids
        for a in "$A1" "$A2"; do
            ids=$(DOCKER_HOST=$TDRV_DOCKERD_HOST docker ps -aq --filter "label=io.tdrv.alloc_id=$a") ||
                true
            for i in $ids; do DOCKER_HOST=$TDRV_DOCKERD_HOST docker rm -f "$i" >/dev/null 2>&1; done
        done
    fi
}

needs_oci() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    command -v runc >/dev/null || skip "needs runc"
    tdrv-pull --load "$LAYOUT" docker.io/library/busybox:latest >/dev/null
}

needs_engine() {
    [ -n "${TDRV_DOCKERD_PID:-}" ] || skip "no private Docker Engine here"
    export DOCKER_HOST=$TDRV_DOCKERD_HOST
}

# task ALLOC NAME SCRIPT [EXTRA]: a busybox task running sh -c SCRIPT, with one dynamic port
task() {
    jq -nc --arg a "$1" --arg n "$2" --arg s "$3" --argjson x "${4:-{\}}" \
        '{alloc_id: $a, task: $n, kill_timeout: "1s",
          network: {ports: [{label: "http"}]},
          config: {image: "busybox", command: "sh", args: ["-c", $s]}} * $x'
}

LOOP='trap "exit 0" TERM; while :; do sleep 0.2; done'

# start ALLOC NAME: ports, then a detached oci task; prints nothing
start() {
    task "$1" "$2" "$LOOP" | tdrv-ports | tdrv-run --detach >"$BATS_TEST_TMPDIR/$2.h.json"
}

monitor() { jq -r '.monitor_pid' "$TDRV_ROOT/allocs/$1/$2/state.json"; }
crash() { kill -9 "$(monitor "$1" "$2")"; sleep 0.2; }
running() { runc --root "$TDRV_RUN/runtime" list -q 2>/dev/null | grep -qx "$2-$1"; }
leases() { tdrv-ports --list --alloc "$1" | jq '.count'; }

# Everything tdrv-gc could change, one line per thing (for before/after comparisons).
snapshot() {
    {
        find "$TDRV_ROOT" "$TDRV_RUN" -path "$TDRV_RUN/runtime" -prune -o -printf '%p %s %T@\n' |
            grep -v '/logs/' | sort
        # (runc list would create its root: only when there is one)
        [ ! -d "$TDRV_RUN/runtime" ] || runc --root "$TDRV_RUN/runtime" list -q 2>/dev/null | sort
        if [ -n "${DOCKER_HOST:-}" ]; then
            docker ps -a --format '{{.ID}} {{.Status}}' | sed 's/ (.*//; s/Up .*/Up/' | sort
            docker images -q | sort
        fi
    }
}

# ---- the contract ----

@test "--help, --version" {
    run --separate-stderr tdrv-gc --help
    assert_success
    assert_line --index 0 "usage: tdrv-gc [options]"
    assert_output --partial "Exit status:"
    run --separate-stderr tdrv-gc --version
    assert_success
    assert_output "tdrv-gc 0.1.0"
}

@test "usage errors are 64, in JSON, with one line and a hint on stderr" {
    run --separate-stderr -64 tdrv-gc --bogus
    jq -e '.error.code == "usage" and .error.exit == 64 and .error.tool == "tdrv-gc"' <<<"$output"
    [ "${stderr_lines[0]}" = "tdrv-gc: error: unknown option '--bogus'" ]
    [ "${stderr_lines[1]}" = "tdrv-gc: try 'tdrv-gc --help'" ]
    run --separate-stderr -64 tdrv-gc --backend rkt
    jq -e '.error.exit == 64' <<<"$output"
    run --separate-stderr -64 tdrv-gc --alloc x --live
    run --separate-stderr -64 tdrv-gc --watch=0s
    run --separate-stderr -64 tdrv-gc --alloc ../etc
}

@test "--live: a malformed document is 65" {
    run --separate-stderr -65 tdrv-gc --live <<<'["a",'
    jq -e '.error.exit == 65' <<<"$output"
    run --separate-stderr -65 tdrv-gc --live <<<'{"live": [1]}'
    run --separate-stderr -65 tdrv-gc --live <<<'"x"'
}

@test "a bad operator config is 78; a failed write of stdout is 74" {
    printf 'gc:\n  dangling_containers:\n    creation_grace: 10s\n' >"$TDRV_CONFIG"
    run --separate-stderr -78 tdrv-gc
    : >"$TDRV_CONFIG"
    run --separate-stderr -74 bash -c 'tdrv-gc >/dev/full'
}

@test "--backend docker with no Engine is 69; --backend all reports it and goes on" {
    export DOCKER_HOST=unix://$BATS_TEST_TMPDIR/none.sock
    run --separate-stderr -69 tdrv-gc --backend docker
    jq -e '.error.exit == 69' <<<"$output"
    run --separate-stderr tdrv-gc
    assert_success
    jq -e '.kept[] | select(.kind == "engine" and .reason == "engine_unavailable")' <<<"$output"
}

@test "--watch: a report per period, one JSON line each, until SIGTERM" {
    tdrv-gc --watch=1s >"$BATS_TEST_TMPDIR/w.jsonl" 2>"$BATS_TEST_TMPDIR/w.err" &
    pid=$!
    PIDS+=("$pid")
    sleep 2.5
    kill "$pid"
    wait "$pid"
    [ "$(wc -l <"$BATS_TEST_TMPDIR/w.jsonl")" -ge 2 ]
    jq -se 'all(.[]; .counts.errors == 0)' "$BATS_TEST_TMPDIR/w.jsonl"
}

@test "an empty host: an empty report, and nothing created" {
    before=$(find "$TDRV_ROOT" "$TDRV_RUN" 2>/dev/null | sort)
    run --separate-stderr tdrv-gc
    assert_success
    jq -e '.found == [] and .removed == [] and .errors == [] and .dry_run == false' <<<"$output"
    [ "$(find "$TDRV_ROOT" "$TDRV_RUN" 2>/dev/null | sort)" = "$before" ]
}

# ---- the daemonless backend ----

@test "oci: a task whose supervisor got kill -9 is reaped after the grace, not before; a live one is untouched" {
    needs_oci
    start "$A1" dead
    start "$A2" live
    [ "$(leases "$A1")" = 1 ] && [ "$(leases "$A2")" = 1 ]
    crash "$A1" dead
    live_state=$(cat "$TDRV_ROOT/allocs/$A2/live/state.json")
    # both bridged on the test network: a namespace, an address, port mappings each
    netns=$(jq -r .netns "$TDRV_ROOT/allocs/$A1/dead/network.json")
    ip=$(jq -r '.result.ips[0].address | split("/")[0]' "$TDRV_ROOT/allocs/$A1/dead/network.json")
    [ -e "$netns" ] && [ -e "/var/lib/cni/networks/$NET_NAME/$ip" ]
    iptables-save -t nat | grep -q "dead-$A1"

    # just after the crash: too young
    run --separate-stderr tdrv-gc
    assert_success
    jq -e --arg a "$A1" '.kept[] | select(.alloc_id == $a and .reason == "too_young")' <<<"$output"
    jq -e --arg a "$A2" '.kept[] | select(.alloc_id == $a and .reason == "lease_held")' <<<"$output"
    jq -e '.removed == []' <<<"$output"
    running "$A1" dead
    # 4 minutes later: still inside the default 5m grace
    TDRV_GC_NOW=+4m run --separate-stderr tdrv-gc --no-images
    jq -e '.removed == []' <<<"$output"
    running "$A1" dead

    TDRV_GC_NOW=+6m run --separate-stderr tdrv-gc --no-images
    assert_success
    jq -e --arg a "$A1" '.removed[] | select(.kind == "task" and .alloc_id == $a and .reason == "dangling")' <<<"$output"
    jq -e --arg a "$A1" '.removed[] | select(.kind == "ports" and .alloc_id == $a)' <<<"$output"
    jq -e --arg a "$A2" '[.removed[] | select(.alloc_id == $a)] == []' <<<"$output"
    ! running "$A1" dead
    [ ! -e "$TDRV_RUN/tasks/dead-$A1" ]
    ! grep -q " $TDRV_RUN/tasks/dead-$A1" /proc/self/mounts
    [ "$(leases "$A1")" = 0 ]
    # its CNI state is gone: namespace, address, NAT rules, state file; the live one's stays
    [ ! -e "$netns" ] && [ ! -e "/var/lib/cni/networks/$NET_NAME/$ip" ]
    ! iptables-save -t nat | grep -q "dead-$A1"
    [ ! -e "$TDRV_ROOT/allocs/$A1/dead/network.json" ]
    [ -e "$TDRV_ROOT/allocs/$A2/live/network.json" ]
    iptables-save -t nat | grep -q "live-$A2"
    # logs and result kept, state.json says what gc did
    jq -e '.state == "reaped" and .gc.previous_state == "running" and (.gc.actions | index("runtime_deleted"))
           and (.gc.actions | index("network_torn_down"))' \
        "$TDRV_ROOT/allocs/$A1/dead/state.json"
    [ -d "$TDRV_ROOT/allocs/$A1/dead/logs" ]
    # the live task: running, lease held, ports kept, state unchanged
    running "$A2" live
    [ "$(leases "$A2")" = 1 ]
    [ "$(cat "$TDRV_ROOT/allocs/$A2/live/state.json")" = "$live_state" ]
    run tdrv-run --inspect <"$BATS_TEST_TMPDIR/live.h.json"
    jq -e '.inspect.lease_held == true' <<<"$output"
    # a second pass finds nothing more to do
    TDRV_GC_NOW=+7m run --separate-stderr tdrv-gc --no-images
    jq -e '.found == [] and .removed == []' <<<"$output"
}

@test "oci: the grace is the operator's (down to 1m)" {
    needs_oci
    printf 'gc:\n  dangling_containers:\n    creation_grace: 1m\n' >"$TDRV_CONFIG"
    start "$A1" dead
    crash "$A1" dead
    TDRV_GC_NOW=+50s run --separate-stderr tdrv-gc --no-images
    jq -e '.removed == [] and ([.kept[] | select(.reason == "too_young")] | length == 1)' <<<"$output"
    TDRV_GC_NOW=+70s run --separate-stderr tdrv-gc --no-images
    jq -e '[.removed[] | select(.kind == "task")] | length == 1' <<<"$output"
    ! running "$A1" dead
}

@test "oci: --dry-run changes nothing (everything listed before and after)" {
    needs_oci
    start "$A1" dead
    crash "$A1" dead
    before=$(snapshot)
    TDRV_GC_NOW=+1h run --separate-stderr tdrv-gc --dry-run
    assert_success
    jq -e '.dry_run and ([.found[] | select(.kind == "task")] | length == 1) and .removed == []' <<<"$output"
    jq -e '[.found[] | select(.kind == "image")] | length == 0' <<<"$output" # pinned: in use
    [ "$(snapshot)" = "$before" ]
    running "$A1" dead
    # the operator's dry_run does the same
    printf 'gc:\n  dangling_containers:\n    dry_run: true\n' >"$TDRV_CONFIG"
    TDRV_GC_NOW=+1h run --separate-stderr tdrv-gc
    jq -e '.dry_run and .removed == []' <<<"$output"
    [ "$(snapshot)" = "$before" ]
}

@test "oci: --live stops and reaps an allocation the scheduler no longer has, lease or not" {
    needs_oci
    start "$A1" gone
    start "$A2" kept
    TDRV_GC_NOW=+10m run --separate-stderr tdrv-gc --live --no-images <<<"[\"$A2\"]"
    assert_success
    jq -e --arg a "$A1" '.removed[] | select(.kind == "task" and .alloc_id == $a and .reason == "not_live")' <<<"$output"
    ! running "$A1" gone
    running "$A2" kept
    [ "$(leases "$A1")" = 0 ] && [ "$(leases "$A2")" = 1 ]
    # but never a task younger than the grace
    start "$A1" young
    run --separate-stderr tdrv-gc --live --no-images <<<'[]'
    jq -e '.removed == []' <<<"$output"
    running "$A1" young && running "$A2" kept
}

@test "oci: --alloc reaps one allocation (an epilog), --remove-alloc-dir removes its directory" {
    needs_oci
    start "$A1" job
    start "$A2" other
    crash "$A2" other
    TDRV_GC_NOW=+10m run --separate-stderr tdrv-gc --alloc "$A1" --remove-alloc-dir --no-images
    assert_success
    ! running "$A1" job
    [ ! -e "$TDRV_ROOT/allocs/$A1" ]
    [ "$(leases "$A1")" = 0 ]
    # the other allocation, dangling as it is, is not this epilog's business
    running "$A2" other
    [ "$(leases "$A2")" = 1 ]
}

@test "oci: exited tasks' leftovers go per gc.container; a clean exit leaves nothing to do" {
    needs_oci
    task "$A1" done 'exit 3' | tdrv-run >/dev/null || true
    # the supervisor may still be cleaning up (network, bundle) as tdrv-run returns
    for _ in $(seq 100); do flock -n "$TDRV_ROOT/allocs/$A1/done/lease" true && break; sleep 0.1; done
    jq -e '.state == "exited"' "$TDRV_ROOT/allocs/$A1/done/state.json"
    TDRV_GC_NOW=+10m run --separate-stderr tdrv-gc --no-images
    jq -e '.found == []' <<<"$output"
    # a crash after the task exited, before its supervisor cleaned up: the bundle is left
    mkdir -p "$TDRV_RUN/tasks/done-$A1/rootfs"
    printf 'gc:\n  container: false\n' >"$TDRV_CONFIG"
    TDRV_GC_NOW=+10m run --separate-stderr tdrv-gc --no-images
    jq -e '.kept[] | select(.reason == "gc_container_disabled")' <<<"$output"
    [ -d "$TDRV_RUN/tasks/done-$A1" ]
    : >"$TDRV_CONFIG"
    TDRV_GC_NOW=+10m run --separate-stderr tdrv-gc --no-images
    jq -e '.removed[] | select(.kind == "task" and .reason == "exited")' <<<"$output"
    [ ! -e "$TDRV_RUN/tasks/done-$A1" ]
    jq -e '.state == "exited" and .result.exit_code == 3' "$TDRV_ROOT/allocs/$A1/done/state.json"
}

@test "oci: never touches a task whose lease is held, a symlinked directory, or names outside" {
    needs_oci
    start "$A1" held
    # an allocation directory that is a symlink to somewhere else, with a dangling-looking task
    mkdir -p "$BATS_TEST_TMPDIR/outside/t"
    echo '{"state":"running","alloc_id":"x","task":"t"}' >"$BATS_TEST_TMPDIR/outside/t/state.json"
    : >"$BATS_TEST_TMPDIR/outside/t/lease"
    ln -s "$BATS_TEST_TMPDIR/outside" "$TDRV_ROOT/allocs/$A2"
    mkdir -p "$TDRV_ROOT/allocs/..x/t" "$TDRV_ROOT/allocs/sp ace/t"
    echo '{}' >"$TDRV_ROOT/allocs/sp ace/t/state.json"
    before=$(find "$BATS_TEST_TMPDIR/outside" -printf '%p %s %T@\n')
    TDRV_GC_NOW=+24h run --separate-stderr tdrv-gc --remove-alloc-dir --live <<<'[]' --no-images
    # the held one is stopped only because --live says its allocation is gone; without it:
    TDRV_GC_NOW=+24h run --separate-stderr tdrv-gc --remove-alloc-dir --no-images
    [ "$before" = "$(find "$BATS_TEST_TMPDIR/outside" -printf '%p %s %T@\n')" ]
    [ -L "$TDRV_ROOT/allocs/$A2" ] && [ -d "$TDRV_ROOT/allocs/sp ace/t" ]
}

@test "oci: a held lease is never touched without --live or --alloc" {
    needs_oci
    start "$A1" held
    state=$(cat "$TDRV_ROOT/allocs/$A1/held/state.json")
    TDRV_GC_NOW=+24h run --separate-stderr tdrv-gc --remove-alloc-dir
    assert_success
    jq -e '.removed == []' <<<"$output"
    running "$A1" held
    [ "$(cat "$TDRV_ROOT/allocs/$A1/held/state.json")" = "$state" ]
    [ "$(leases "$A1")" = 1 ]
}

@test "oci: images: one in use survives, an unused one goes after image_delay, with its own blobs" {
    needs_oci
    tdrv-pull --load "$LAYOUT2" docker.io/library/other:1 >/dev/null
    other=$(tdrv-pull --load "$LAYOUT2" docker.io/library/other:1 | jq -r .image.manifest_digest)
    bb=$(tdrv-pull --load "$LAYOUT" docker.io/library/busybox:latest | jq -r .image.manifest_digest)
    start "$A1" user
    # just used: kept
    run --separate-stderr tdrv-gc
    jq -e --arg d "$other" '.kept[] | select(.id == $d and .reason == "recently_used")' <<<"$output"
    jq -e --arg d "$bb" '.kept[] | select(.id == $d and .reason == "in_use")' <<<"$output"
    TDRV_GC_NOW=+2m run --separate-stderr tdrv-gc
    jq -e '[.removed[] | select(.kind == "image")] == []' <<<"$output"
    # past the 3m delay: a dry run says so and changes nothing in the store
    before=$(find "$TDRV_ROOT" -path '*/logs' -prune -o -printf '%p %s %T@\n' | sort)
    TDRV_GC_NOW=+4m run --separate-stderr tdrv-gc --dry-run
    jq -e --arg d "$other" '.found[] | select(.kind == "image" and .id == $d)' <<<"$output"
    jq -e '[.found[] | select(.kind == "blob")] | length == 2' <<<"$output" # its config, manifest
    [ "$(find "$TDRV_ROOT" -path '*/logs' -prune -o -printf '%p %s %T@\n' | sort)" = "$before" ]
    TDRV_GC_NOW=+4m run --separate-stderr tdrv-gc
    assert_success
    jq -e --arg d "$other" '.removed[] | select(.kind == "image" and .id == $d)' <<<"$output"
    jq -e --arg d "$bb" '.kept[] | select(.id == $d and .reason == "in_use")' <<<"$output"
    [ ! -e "$TDRV_ROOT/images/blobs/sha256/${other#sha256:}" ]
    [ -e "$TDRV_ROOT/images/blobs/sha256/${bb#sha256:}" ]
    jq -e '.manifests | length == 1' "$TDRV_ROOT/images/index.json"
    # the shared layer stays (busybox uses it), and the task still runs
    [ "$(ls -d "$TDRV_ROOT"/layers/*/ | wc -l)" = 1 ]
    running "$A1" user
    run tdrv-pull --load "$LAYOUT" docker.io/library/busybox:latest
    assert_success
    # --no-images and gc.image=false leave images alone
    tdrv-run --stop <"$BATS_TEST_TMPDIR/user.h.json" >/dev/null || true
    TDRV_GC_NOW=+10m run --separate-stderr tdrv-gc --no-images
    jq -e '[.removed[] | select(.kind == "image")] == []' <<<"$output"
    printf 'gc:\n  image: false\n' >"$TDRV_CONFIG"
    TDRV_GC_NOW=+10m run --separate-stderr tdrv-gc
    jq -e '[.removed[] | select(.kind == "image")] == []' <<<"$output"
    : >"$TDRV_CONFIG"
    TDRV_GC_NOW=+10m run --separate-stderr tdrv-gc
    jq -e --arg d "$bb" '.removed[] | select(.kind == "image" and .id == $d)' <<<"$output"
    [ -z "$(ls "$TDRV_ROOT/layers")" ]
    [ -z "$(ls "$TDRV_ROOT/images/blobs/sha256")" ]
}

@test "oci: an image a task is starting from is never removed under it (the image lock)" {
    needs_oci
    bb=$(tdrv-pull --load "$LAYOUT" docker.io/library/busybox:latest | jq -r .image.manifest_digest)
    # hold the image lock shared, as tdrv_store_rootfs_mount does while it mounts
    exec 7<>"$TDRV_ROOT/locks/image-${bb#sha256:}"
    flock -s 7
    TDRV_GC_NOW=+1h run --separate-stderr tdrv-gc
    exec 7>&-
    jq -e --arg d "$bb" '.kept[] | select(.id == $d and .reason == "busy")' <<<"$output"
    [ -e "$TDRV_ROOT/images/blobs/sha256/${bb#sha256:}" ]
    # and a pull adding to the store holds the sweep off
    exec 8<>"$TDRV_ROOT/locks/sweep"
    flock -s 8
    printf 'x' >"$TDRV_ROOT/images/blobs/sha256/$(printf 0%.0s {1..64})"
    TDRV_GC_NOW=+1h run --separate-stderr tdrv-gc
    exec 8>&-
    jq -e '.kept[] | select(.kind == "store" and .reason == "pull_in_progress")' <<<"$output"
    [ -e "$TDRV_ROOT/images/blobs/sha256/$(printf 0%.0s {1..64})" ]
}

@test "store: what a failed pull left (verified blobs) stays for image_delay; temporaries of a killed write go" {
    bb=$(tdrv-pull --load "$LAYOUT" docker.io/library/busybox:latest | jq -r .image.manifest_digest)
    # a blob no image references, as a pull that failed after fetching it leaves
    blobs="$TDRV_ROOT/images/blobs/sha256"
    printf 'a layer fetched by a pull that failed later' >"$BATS_TEST_TMPDIR/b"
    hex=$(sha256sum "$BATS_TEST_TMPDIR/b" | cut -d' ' -f1)
    cp "$BATS_TEST_TMPDIR/b" "$blobs/$hex"
    # what a kill -9 of a blob write and of an index write leaves
    printf 'half' >"$blobs/$hex.tmp-4242-1"
    printf '{"schemaVersion":' >"$TDRV_ROOT/images/index.json.tmp-4242-2"
    index=$(cat "$TDRV_ROOT/images/index.json")
    run --separate-stderr tdrv-gc
    assert_success
    [ -e "$blobs/$hex" ]
    jq -e --arg h "$hex" '[.removed[] | select(.id == "sha256:\($h)")] == []' <<<"$output"
    jq -e --arg h "sha256:$hex.tmp-4242-1" '.removed[] | select(.kind == "temporary" and .id == $h)' <<<"$output"
    jq -e '.removed[] | select(.kind == "temporary" and .id == "index.json.tmp-4242-2")' <<<"$output"
    [ ! -e "$blobs/$hex.tmp-4242-1" ]
    [ ! -e "$TDRV_ROOT/images/index.json.tmp-4242-2" ]
    [ "$(cat "$TDRV_ROOT/images/index.json")" = "$index" ]
    # within image_delay (3m) it stays, past it it goes
    TDRV_GC_NOW=+2m run --separate-stderr tdrv-gc
    [ -e "$blobs/$hex" ]
    [ -e "$blobs/${bb#sha256:}" ]
    TDRV_GC_NOW=+4m run --separate-stderr tdrv-gc
    assert_success
    jq -e --arg h "sha256:$hex" '.removed[] | select(.kind == "blob" and .id == $h)' <<<"$output"
    [ ! -e "$blobs/$hex" ]
}

@test "oci: stale port leases of an allocation that never ran go after the grace" {
    needs_oci
    task "$A1" t "$LOOP" | tdrv-ports >/dev/null
    run --separate-stderr tdrv-gc
    jq -e '.kept[] | select(.kind == "ports" and .reason == "too_young")' <<<"$output"
    [ "$(leases "$A1")" = 1 ]
    TDRV_GC_NOW=+6m run --separate-stderr tdrv-gc
    jq -e --arg a "$A1" '.removed[] | select(.kind == "ports" and .id == $a)' <<<"$output"
    [ "$(leases "$A1")" = 0 ]
}

@test "oci: killed at every point of a reap, the next run ends with nothing left" {
    needs_oci
    for point in locked begin stopped unmounted network state ports alloc_dir; do
        A1=$(cat /proc/sys/kernel/random/uuid)
        start "$A1" c
        ip=$(jq -r '.result.ips[0].address | split("/")[0]' "$TDRV_ROOT/allocs/$A1/c/network.json")
        [ -e "/var/lib/cni/networks/$NET_NAME/$ip" ]
        crash "$A1" c
        TDRV_GC_CRASH_AT=$point TDRV_GC_NOW=+6m run --separate-stderr -137 \
            tdrv-gc --remove-alloc-dir --no-images
        TDRV_GC_NOW=+6m run --separate-stderr tdrv-gc --remove-alloc-dir --no-images
        assert_success
        ! running "$A1" c
        [ ! -e "$TDRV_RUN/tasks/c-$A1" ]
        ! grep -q " $TDRV_RUN/tasks/" /proc/self/mounts
        [ ! -e "$TDRV_ROOT/allocs/$A1" ] && [ ! -e "$TDRV_ROOT/allocs/.gc-$A1" ]
        [ "$(leases "$A1")" = 0 ]
        [ -z "$(ls "$TDRV_ROOT/pins")" ]
        # no CNI address, no NAT rule, no namespace left
        [ ! -e "/var/lib/cni/networks/$NET_NAME/$ip" ]
        ! iptables-save -t nat | grep -q "c-$A1"
        [ ! -e "$TDRV_RUN/netns/c-$A1" ]
    done
    # and the image sweep, killed half way, finishes the next time
    TDRV_GC_CRASH_AT=sweep TDRV_GC_NOW=+1h run --separate-stderr -137 tdrv-gc
    TDRV_GC_NOW=+1h run --separate-stderr tdrv-gc
    assert_success
    [ -z "$(ls "$TDRV_ROOT/layers")" ]
    jq -e '.manifests == []' "$TDRV_ROOT/images/index.json"
}

@test "two tdrv-gc at once: each task is reaped exactly once" {
    needs_oci
    start "$A1" a
    start "$A2" b
    crash "$A1" a
    crash "$A2" b
    TDRV_GC_NOW=+6m tdrv-gc --no-images >"$BATS_TEST_TMPDIR/1.json" &
    p1=$!
    TDRV_GC_NOW=+6m tdrv-gc --no-images >"$BATS_TEST_TMPDIR/2.json" &
    p2=$!
    wait "$p1"
    wait "$p2"
    n=$(jq -s '[.[].removed[] | select(.kind == "task")] | length' "$BATS_TEST_TMPDIR"/[12].json)
    [ "$n" = 2 ]
    ! running "$A1" a && ! running "$A2" b
}

# ---- the docker backend ----

dtask() { # dtask ALLOC NAME: a docker task that loads its image from an archive
    jq -nc --arg a "$1" --arg n "$2" --arg l "$TDRV_DOCKERD_DIR/img.tar" --arg s "$LOOP" \
        '{alloc_id: $a, task: $n, driver: "docker", kill_timeout: "1s",
          config: {image: "tdrv-test/busybox:1", load: $l, command: "sh", args: ["-c", $s]}}'
}
dstart() { dtask "$1" "$2" | tdrv-run --detach >"$BATS_TEST_TMPDIR/$2.h.json"; }
dmonitor() { jq -r '.handle.monitor_pid' "$TDRV_ROOT/allocs/$1/$2/state.json"; }
dcrash() { kill -9 "$(dmonitor "$1" "$2")"; sleep 0.2; }
dstate() { # the container's status, or "gone"
    local s
    s=$(docker inspect -f '{{.State.Status}}' "$2-$1" 2>/dev/null) && echo "$s" || echo gone
}

@test "docker: a container started by hand (no tdrv labels) survives every run" {
    needs_engine
    hand=$(docker run -d --name "hand-$A1" tdrv-test/hand:1 sh -c 'while :; do sleep 1; done')
    stopped=$(docker create tdrv-test/hand:1 true)
    for args in "" "--backend docker" "--live" "--remove-alloc-dir" "--dry-run"; do
        TDRV_GC_NOW=+24h run --separate-stderr tdrv-gc $args <<<'[]'
        assert_success
        [ "$(docker inspect -f '{{.State.Running}}' "$hand")" = true ]
        docker inspect "$stopped" >/dev/null
        ! grep -q "$hand" <<<"$output"
    done
    docker image inspect tdrv-test/hand:1 >/dev/null
    docker rm -f "$hand" "$stopped" >/dev/null
}

@test "docker: a task whose supervisor got kill -9 is reaped after the grace; a live one is untouched" {
    needs_engine
    dstart "$A1" dead
    dstart "$A2" live
    dcrash "$A1" dead
    [ "$(dstate "$A1" dead)" = running ]
    run --separate-stderr tdrv-gc --no-images
    assert_success
    jq -e --arg a "$A1" '.kept[] | select(.alloc_id == $a and .reason == "too_young")' <<<"$output"
    [ "$(dstate "$A1" dead)" = running ]
    TDRV_GC_NOW=+6m run --separate-stderr tdrv-gc --no-images
    assert_success
    jq -e --arg a "$A1" '.removed[] | select(.kind == "task" and .backend == "docker" and .alloc_id == $a and .reason == "dangling")' <<<"$output"
    [ "$(dstate "$A1" dead)" = gone ]
    [ "$(dstate "$A2" live)" = running ]
    jq -e '.gc.reaped_at and (.gc.actions | index("container_removed"))' "$TDRV_ROOT/allocs/$A1/dead/state.json"
    # --dry-run changes nothing
    dstart "$A1" dead2
    dcrash "$A1" dead2
    before=$(snapshot)
    TDRV_GC_NOW=+1h run --separate-stderr tdrv-gc --dry-run
    jq -e '[.found[] | select(.backend == "docker")] | length >= 1' <<<"$output"
    diff <(echo "$before") <(snapshot)
}

@test "docker: a labelled container with no state (created, then the Engine answered an error) is reaped" {
    needs_engine
    # as docker_run's container_create makes it: name, labels, lease path; no state.json yet
    mkdir -p "$TDRV_ROOT/allocs/$A1/web"
    : >"$TDRV_ROOT/allocs/$A1/web/lease"
    touch -d '1 hour ago' "$TDRV_ROOT/allocs/$A1/web/lease"
    docker run -d --name "web-$A1" --label "io.tdrv.alloc_id=$A1" --label io.tdrv.task=web \
        --label "io.tdrv.lease=$TDRV_ROOT/allocs/$A1/web/lease" tdrv-test/hand:1 \
        sh -c 'while :; do sleep 1; done' >/dev/null
    # same labels, another tdrv root: not ours
    docker run -d --name "web-$A2" --label "io.tdrv.alloc_id=$A2" --label io.tdrv.task=web \
        --label "io.tdrv.lease=/elsewhere/allocs/$A2/web/lease" tdrv-test/hand:1 \
        sh -c 'while :; do sleep 1; done' >/dev/null
    TDRV_GC_NOW=+6m run --separate-stderr tdrv-gc --backend docker --no-images
    assert_success
    jq -e --arg a "$A1" '.removed[] | select(.kind == "task" and .alloc_id == $a)' <<<"$output"
    jq -e --arg a "$A2" '.kept[] | select(.alloc_id == $a and .reason == "other_root")' <<<"$output"
    [ "$(dstate "$A1" web)" = gone ]
    [ "$(dstate "$A2" web)" = running ]
    docker rm -f "web-$A2" >/dev/null
}

@test "docker: killed at a point of a reap, the next run finishes" {
    needs_engine
    for point in begin stopped network state; do
        A1=$(cat /proc/sys/kernel/random/uuid)
        dstart "$A1" c
        dcrash "$A1" c
        TDRV_GC_CRASH_AT=$point TDRV_GC_NOW=+6m run --separate-stderr -137 tdrv-gc --no-images \
            --remove-alloc-dir
        TDRV_GC_NOW=+6m run --separate-stderr tdrv-gc --no-images --remove-alloc-dir
        assert_success
        [ "$(dstate "$A1" c)" = gone ]
        [ ! -e "$TDRV_ROOT/allocs/$A1" ]
    done
}

@test "docker: an image tdrv loaded goes after the delay once unused; others are never removed" {
    needs_engine
    docker rmi tdrv-test/busybox:1 >/dev/null 2>&1 || true
    dstart "$A1" img
    id=$(docker image inspect -f '{{.Id}}' tdrv-test/busybox:1)
    ls "$TDRV_ROOT/gc/engine-images/${id#sha256:}.json"
    run --separate-stderr tdrv-gc --backend docker
    jq -e --arg i "$id" '.kept[] | select(.id == $i and .reason == "in_use")' <<<"$output"
    tdrv-run --stop <"$BATS_TEST_TMPDIR/img.h.json" >/dev/null || true
    for _ in $(seq 100); do [ "$(dstate "$A1" img)" = gone ] && break; sleep 0.1; done
    [ "$(dstate "$A1" img)" = gone ]
    run --separate-stderr tdrv-gc --backend docker
    jq -e --arg i "$id" '.kept[] | select(.id == $i and .reason == "recently_used")' <<<"$output"
    TDRV_GC_NOW=+4m run --separate-stderr tdrv-gc --backend docker
    assert_success
    jq -e --arg i "$id" '.removed[] | select(.kind == "image" and .id == $i)' <<<"$output" ||
        { echo "$output"; docker ps -a; false; }
    ! docker image inspect "$id" >/dev/null 2>&1
    # an image tdrv did not bring in stays, however old
    docker image inspect tdrv-test/hand:1 >/dev/null
}
