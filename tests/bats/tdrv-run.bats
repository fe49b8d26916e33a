#!/usr/bin/env bats
# tdrv-run: the tool contract, then what each option promises, checked inside the container
# (as root, with runc), the image coming through the store (tdrv-pull --load).

load helpers

setup_file() {
    export LAYOUT="$BATS_FILE_TMPDIR/busybox-oci"
    "$TDRV_TOP/scripts/mkimage-busybox.sh" "$LAYOUT" docker.io/library/busybox:latest >/dev/null
}

setup() {
    tdrv_test_env
    PIDS=()
    ALLOC=$(cat /proc/sys/kernel/random/uuid)
}

teardown() {
    local p
    for p in "${PIDS[@]}"; do tdrv_stop_pid "$p"; done
    tdrv_wait_leases
    # containers this test left (its own runtime root only), then their mounts
    tdrv_remove_containers
}

needs_root() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    command -v runc >/dev/null || skip "needs runc"
}

load_image() {
    tdrv-pull --load "$LAYOUT" docker.io/library/busybox:latest >/dev/null
}

# task NAME SCRIPT [EXTRA-JSON]: a task document running `sh -c SCRIPT` in busybox;
# EXTRA-JSON is merged into the document (jq's *), e.g. '{"config":{"pids_limit":5}}'.
task() {
    local name=$1 script=$2 extra=${3:-'{}'}
    jq -nc --arg a "$ALLOC" --arg n "$name" --arg s "$script" --argjson x "$extra" \
        '{alloc_id: $a, task: $n, config: {image: "busybox", command: "sh", args: ["-c", $s]}} * $x'
}

@test "--help prints the usage and the exit codes" {
    run --separate-stderr tdrv-run --help
    assert_success
    assert_line --index 0 "usage: tdrv-run [options] < task.json"
    assert_output --partial "Exit status:"
    assert_output --partial "125 the runtime failed"
}

@test "--version" {
    run --separate-stderr tdrv-run --version
    assert_success
    assert_output "tdrv-run 0.1.0"
}

@test "an unknown option is 64, in JSON, with one line and a hint on stderr" {
    run --separate-stderr -64 tdrv-run --bogus
    jq -e '.error.code == "usage" and .error.exit == 64 and .error.tool == "tdrv-run"' <<<"$output"
    [ "${stderr_lines[0]}" = "tdrv-run: error: unknown option '--bogus'" ]
    [ "${stderr_lines[1]}" = "tdrv-run: try 'tdrv-run --help'" ]
}

@test "malformed stdin is 65" {
    run --separate-stderr -65 tdrv-run --dry-run <<<'{"task": '
    jq -e '.error.exit == 65' <<<"$output"
    [[ "$stderr" == "tdrv-run: error: malformed JSON at byte"* ]]
}

@test "a failed write of stdout is 74" {
    load_image
    task t true >"$BATS_TEST_TMPDIR/t.json"
    run -74 bash -c "tdrv-run --dry-run <'$BATS_TEST_TMPDIR/t.json' >/dev/full"
}

@test "a document carrying an error passes through unchanged with its status" {
    doc='{"task":"t","error":{"tool":"tdrv-pull","code":"image_not_found","exit":66,"message":"x"}}'
    run --separate-stderr -66 tdrv-run <<<"$doc"
    [ "$(jq -c . <<<"$output")" = "$(jq -c . <<<"$doc")" ]
}

@test "--dry-run prints config.json and runs nothing" {
    load_image
    run --separate-stderr tdrv-run --dry-run < <(task web 'echo hi' '{"user":"nobody","resources":{"memory":64}}')
    assert_success
    jq -e '.ociVersion and .process.args == ["sh","-c","echo hi"]' <<<"$output"
    jq -e '.process.user.uid == 65534 and .linux.resources.memory.limit == 67108864' <<<"$output"
    jq -e '[.mounts[].destination] | index("/alloc") and index("/local") and index("/secrets")' <<<"$output"
    [ ! -e "$TDRV_ROOT/allocs" ]
}

@test "an unknown driver option is 65 naming it" {
    load_image
    run --separate-stderr -65 tdrv-run --dry-run < <(task t true '{"config":{"bogus":1}}')
    jq -e '.error.code == "invalid_config"' <<<"$output"
    [ "$stderr" = "tdrv-run: error: config: unknown option 'bogus' for driver 'oci'" ]
}

@test "privileged without allow_privileged is 77" {
    load_image
    run --separate-stderr -77 tdrv-run --dry-run < <(task t true '{"config":{"privileged":true}}')
    jq -e '.error.exit == 77' <<<"$output"
}

@test "an image not in the store is 66" {
    run --separate-stderr -66 tdrv-run --dry-run < <(task t true '{"config":{"image":"nothere:1"}}')
    jq -e '.error.code == "image_not_found"' <<<"$output"
}

@test "the user and groups (id) come from the image's passwd and group files" {
    needs_root
    load_image
    run --separate-stderr tdrv-run --result-fd 3 3>"$BATS_TEST_TMPDIR/r.json" \
        < <(task t 'id' '{"user":"nobody"}')
    assert_success
    assert_output "uid=65534(nobody) gid=65534(nogroup)"
    run --separate-stderr tdrv-run --result-fd 3 3>/dev/null < <(task t2 'id' '{"user":"0:65534"}')
    assert_output "uid=0(root) gid=65534(nogroup)"
}

@test "env: image < task env < NOMAD_*, with interpolation" {
    needs_root
    load_image
    run --separate-stderr tdrv-run --result-fd 3 3>/dev/null < <(task web \
        'echo "$PATH|$FOO|$NOMAD_TASK_NAME|$REF|$NOMAD_ALLOC_DIR|$NOMAD_META_TEAM"' \
        '{"env":{"FOO":"task","NOMAD_TASK_NAME":"evil","REF":"${NOMAD_TASK_NAME}-x"},"meta":{"team":"infra"}}')
    assert_success
    assert_output "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|task|web|web-x|/alloc|infra"
}

@test "rkt env: tdrv-run's env (inherit_env) < image env < set_env_file < task env < NOMAD_*" {
    needs_root
    load_image
    # the file is relative: under the task directory (a Nomad template's local/ file)
    mkdir -p "$TDRV_ROOT/allocs/$ALLOC/e/local"
    printf '# a comment\n; another\n\nFROM_FILE=file\nFILE_TASK=file\nPARENT_FILE=file\nWITH_EQ=a=b\r\nEMPTY=\n' \
        >"$TDRV_ROOT/allocs/$ALLOC/e/local/app.env"
    task e 'env | sort' '{"driver":"rkt","env":{"FILE_TASK":"task","PARENT_TASK":"task","NOMAD_TASK_NAME":"evil"},
        "config":{"command":"/bin/sh","inherit_env":true,"set_env_file":"local/app.env"}}' >"$BATS_TEST_TMPDIR/e.json"
    run --separate-stderr env PARENT_ONLY=parent PARENT_FILE=parent PARENT_TASK=parent FROM_FILE=parent \
        PATH="/parent/bin:$PATH" tdrv-run --result-fd 3 3>/dev/null <"$BATS_TEST_TMPDIR/e.json"
    assert_success
    assert_line PARENT_ONLY=parent
    # the image's PATH, not tdrv-run's: inherited variables never override the image's
    assert_line PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    assert_line FROM_FILE=file
    assert_line PARENT_FILE=file
    assert_line WITH_EQ=a=b
    assert_line EMPTY=
    assert_line FILE_TASK=task
    assert_line PARENT_TASK=task
    assert_line NOMAD_TASK_NAME=e
    # the file's variables override the image's (PATH), and without inherit_env nothing of ours
    printf 'PATH=/file/bin:/bin\n' >"$BATS_TEST_TMPDIR/path.env"
    task e2 'env' "{\"driver\":\"rkt\",\"config\":{\"command\":\"/bin/sh\",\"set_env_file\":\"$BATS_TEST_TMPDIR/path.env\"}}" \
        >"$BATS_TEST_TMPDIR/e2.json"
    run --separate-stderr env PARENT_ONLY=parent tdrv-run --result-fd 3 3>/dev/null <"$BATS_TEST_TMPDIR/e2.json"
    assert_success
    assert_line PATH=/file/bin:/bin
    refute_line --partial PARENT_ONLY
}

@test "rkt env: a malformed or repeated line is 65, a missing file 66, other drivers 65, outside the allocation 77 when volumes are disabled" {
    load_image
    printf 'A=1\nnot a variable\n' >"$BATS_TEST_TMPDIR/bad.env"
    run --separate-stderr -65 tdrv-run --dry-run < <(task e true "{\"driver\":\"rkt\",\"config\":{\"set_env_file\":\"$BATS_TEST_TMPDIR/bad.env\"}}")
    jq -e '.error.code == "invalid_config"' <<<"$output"
    [ "$stderr" = "tdrv-run: error: config.set_env_file: '$BATS_TEST_TMPDIR/bad.env' line 2: expected NAME=VALUE" ]
    printf 'A=1\nA=2\n' >"$BATS_TEST_TMPDIR/dup.env"
    run --separate-stderr -65 tdrv-run --dry-run < <(task e true "{\"driver\":\"rkt\",\"config\":{\"set_env_file\":\"$BATS_TEST_TMPDIR/dup.env\"}}")
    [ "$stderr" = "tdrv-run: error: config.set_env_file: '$BATS_TEST_TMPDIR/dup.env' line 2: 'A' is set twice" ]
    run --separate-stderr -66 tdrv-run --dry-run < <(task e true '{"driver":"rkt","config":{"set_env_file":"local/none.env"}}')
    jq -e '.error.code == "env_file_not_found"' <<<"$output"
    run --separate-stderr -65 tdrv-run --dry-run < <(task e true '{"config":{"inherit_env":true}}')
    [ "$stderr" = "tdrv-run: error: config: unknown option 'inherit_env' for driver 'oci'" ]
    printf 'volumes:\n  enabled: false\n' >"$TDRV_CONFIG"
    printf 'A=1\n' >"$BATS_TEST_TMPDIR/out.env"
    run --separate-stderr -77 tdrv-run --dry-run < <(task e true "{\"driver\":\"rkt\",\"config\":{\"set_env_file\":\"$BATS_TEST_TMPDIR/out.env\"}}")
    jq -e '.error.code == "forbidden_by_config"' <<<"$output"
    # a symbolic link inside the allocation that leads out of it is refused too
    mkdir -p "$TDRV_ROOT/allocs/$ALLOC/e/local"
    ln -s "$BATS_TEST_TMPDIR/out.env" "$TDRV_ROOT/allocs/$ALLOC/e/local/link.env"
    run --separate-stderr -77 tdrv-run --dry-run < <(task e true '{"driver":"rkt","config":{"set_env_file":"local/link.env"}}')
    [[ "$stderr" == *"leads outside the allocation directory" ]]
    # inside it, fine
    cp "$BATS_TEST_TMPDIR/out.env" "$TDRV_ROOT/allocs/$ALLOC/e/local/in.env"
    run --separate-stderr tdrv-run --dry-run < <(task e true '{"driver":"rkt","config":{"set_env_file":"local/in.env"}}')
    assert_success
    jq -e '.process.env | index("A=1")' <<<"$output"
}

@test "a read-only volume refuses a write, a read-write one takes it" {
    needs_root
    load_image
    mkdir -p "$BATS_TEST_TMPDIR/ro" "$BATS_TEST_TMPDIR/rw"
    run --separate-stderr tdrv-run --result-fd 3 3>"$BATS_TEST_TMPDIR/r.json" < <(task t \
        'touch /ro/x; echo rw > /rw/y' \
        "{\"config\":{\"volumes\":[\"$BATS_TEST_TMPDIR/ro:/ro:readOnly\",\"$BATS_TEST_TMPDIR/rw:/rw\"]}}")
    assert_success
    [[ "$stderr" == *"/ro/x: Read-only file system"* ]]
    [ ! -e "$BATS_TEST_TMPDIR/ro/x" ]
    [ "$(cat "$BATS_TEST_TMPDIR/rw/y")" = rw ]
}

@test "readonly_rootfs: the root file system refuses writes" {
    needs_root
    load_image
    run --separate-stderr -1 tdrv-run --result-fd 3 3>/dev/null \
        < <(task t 'touch /etc/x' '{"config":{"readonly_rootfs":true}}')
    [[ "$stderr" == *"Read-only file system"* ]]
}

@test "a dropped capability is really gone (CapEff), chown fails" {
    needs_root
    load_image
    run --separate-stderr tdrv-run --result-fd 3 3>/dev/null \
        < <(task t 'grep CapEff /proc/self/status; chown 1 /tmp && echo chowned' '{"config":{"cap_drop":["CHOWN"]}}')
    eff=$(awk '/CapEff/ {print $2}' <<<"$output")
    [ $((0x$eff & 1)) -eq 0 ]
    [ $((0x$eff & (1 << 5))) -ne 0 ] # KILL kept
    refute_output --partial chowned
}

@test "the memory limit kills an allocation past it and result says OOM" {
    needs_root
    load_image
    run --separate-stderr -137 tdrv-run --result-fd 3 3>"$BATS_TEST_TMPDIR/r.json" < <(task t \
        'x=0123456789abcdef; while :; do x=$x$x; done' '{"resources":{"memory":16}}')
    jq -e '.result.oom_killed == true and .result.signal == 9 and .result.exit_code == 137' \
        "$BATS_TEST_TMPDIR/r.json"
}

@test "pids_limit stops a fork bomb" {
    needs_root
    load_image
    run --separate-stderr -2 tdrv-run --result-fd 3 3>/dev/null < <(task t \
        'for i in $(seq 20); do sleep 3 & done; echo all forked' '{"config":{"pids_limit":5}}')
    [[ "$stderr" == *"can't fork"* ]]
    refute_output --partial "all forked"
}

@test "a signal is forwarded to the task" {
    needs_root
    load_image
    task t 'trap "echo got USR1; exit 7" USR1; echo ready; while :; do sleep 0.1; done' >"$BATS_TEST_TMPDIR/t.json"
    tdrv-run --result-fd 3 <"$BATS_TEST_TMPDIR/t.json" >"$BATS_TEST_TMPDIR/out" 3>"$BATS_TEST_TMPDIR/r.json" &
    pid=$!
    PIDS+=($pid)
    for _ in $(seq 100); do grep -q ready "$BATS_TEST_TMPDIR/out" && break; sleep 0.1; done
    kill -USR1 "$pid"
    st=0
    wait "$pid" || st=$?
    [ "$st" -eq 7 ]
    grep -q "got USR1" "$BATS_TEST_TMPDIR/out"
    jq -e '.result.exit_code == 7' "$BATS_TEST_TMPDIR/r.json"
}

@test "kill_timeout escalates an ignored kill_signal to SIGKILL" {
    needs_root
    load_image
    task t 'trap "echo ignored" TERM; echo ready; while :; do sleep 0.1; done' \
        '{"kill_timeout":"1s","kill_signal":"SIGTERM"}' >"$BATS_TEST_TMPDIR/t.json"
    tdrv-run --result-fd 3 <"$BATS_TEST_TMPDIR/t.json" >"$BATS_TEST_TMPDIR/out" 3>"$BATS_TEST_TMPDIR/r.json" &
    pid=$!
    PIDS+=($pid)
    for _ in $(seq 100); do grep -q ready "$BATS_TEST_TMPDIR/out" && break; sleep 0.1; done
    start=$(date +%s%N)
    kill -TERM "$pid"
    st=0
    wait "$pid" || st=$?
    elapsed=$((($(date +%s%N) - start) / 1000000))
    [ "$st" -eq 137 ]
    [ "$elapsed" -ge 900 ] && [ "$elapsed" -lt 5000 ]
    grep -q ignored "$BATS_TEST_TMPDIR/out"
    jq -e '.result.signal == 9 and .result.oom_killed == false' "$BATS_TEST_TMPDIR/r.json"
}

@test "the task's exit code is passed through, and recorded in state.json" {
    needs_root
    load_image
    run --separate-stderr -42 tdrv-run < <(task t 'echo out; exit 42')
    assert_line --index 0 out
    jq -e '.result.exit_code == 42 and .result.signal == 0 and .result.started_at and .result.finished_at' <<<"${lines[1]}"
    jq -e '.state == "exited" and .result.exit_code == 42' "$TDRV_ROOT/allocs/$ALLOC/t/state.json"
    # cleaned up (by the time the lease is free): no container, no bundle, no mount
    flock -w 30 "$TDRV_ROOT/allocs/$ALLOC/t/lease" true
    [ -z "$(runc --root "$TDRV_RUN/runtime" list -q)" ]
    [ -z "$(ls "$TDRV_RUN/tasks")" ]
    [ -z "$(find /sys/fs/cgroup -maxdepth 6 -type d -name "t-$ALLOC" 2>/dev/null)" ]
    ! grep -q " $TDRV_RUN/" /proc/self/mounts
}

@test "a command that is not found is 127, one that cannot run 126" {
    needs_root
    load_image
    run --separate-stderr -127 tdrv-run < <(jq -nc --arg a "$ALLOC" '{alloc_id:$a,task:"t",config:{image:"busybox",command:"/nope"}}')
    jq -e '.error.code == "command_not_found"' <<<"$output"
    run --separate-stderr -126 tdrv-run < <(jq -nc --arg a "$ALLOC" '{alloc_id:$a,task:"u",config:{image:"busybox",command:"/etc/passwd"}}')
    jq -e '.error.code == "command_not_executable"' <<<"$output"
}

@test "pipelined start: runc started before the bundle is ready; a failure in between leaves no runc, container or bundle" {
    needs_root
    load_image
    # image not in the store: found out after runc was started (the options come first)
    run --separate-stderr -66 tdrv-run -vv < <(task t true '{"config":{"image":"nothere:1"}}')
    jq -e '.error.code == "image_not_found"' <<<"$output"
    [[ "$stderr" == *"started (pid "*") before the bundle is ready"* ]]
    # that runc was reaped (no child of ours names this runtime root) and made nothing
    ! pgrep -f -- "--root $TDRV_RUN/runtime " >/dev/null
    [ -z "$(runc --root "$TDRV_RUN/runtime" list -q 2>/dev/null)" ]
    [ -z "$(ls -A "$TDRV_RUN/tasks" 2>/dev/null)" ]
    ! grep -q " $TDRV_RUN/" /proc/self/mounts
    # a failed start with debug keeps the bundle: config.json is a regular file, the spec
    run --separate-stderr -127 tdrv-run < <(task u true '{"config":{"command":"/nope","debug":true}}')
    [ -f "$TDRV_RUN/tasks/u-$ALLOC/config.json" ] && [ ! -p "$TDRV_RUN/tasks/u-$ALLOC/config.json" ]
    jq -e '.process.args == ["/nope", "-c", "true"]' "$TDRV_RUN/tasks/u-$ALLOC/config.json"
    # a spec larger than a pipe's default 64 KiB (120 variables of 1 KiB) goes through whole
    local env
    env=$(jq -nc '[range(120)] | map({key: "V\(.)", value: ("x" * 1024)}) | from_entries')
    run --separate-stderr tdrv-run -vv --result-fd 3 \
        < <(task v 'echo ${#V0} ${#V119}' "{\"env\": $env}") 3>/dev/null
    assert_success
    assert_output "1024 1024"
    [[ "$stderr" == *"before the bundle is ready"* && "$stderr" != *"does not fit"* ]]
    [ "$(jq '.process.env | length' < <(tdrv-run --dry-run < <(task v true "{\"env\": $env}")))" -gt 120 ]
    # --detach and a terminal go the usual way
    run --separate-stderr tdrv-run -vv --detach < <(task w 'sleep 30')
    assert_success
    [[ "$stderr" != *"before the bundle is ready"* ]]
    tdrv-run --stop < <(echo "$output") >/dev/null
}

@test "--detach, then --exec inside the running task, --inspect, --stats, --list, --stop" {
    needs_root
    load_image
    run --separate-stderr tdrv-run --detach < <(task d 'echo started; while :; do sleep 0.2; done')
    assert_success
    echo "$output" >"$BATS_TEST_TMPDIR/h.json"
    jq -e '.handle.alloc_id and .handle.pid > 0 and .handle.container_id' "$BATS_TEST_TMPDIR/h.json"
    run --separate-stderr -5 tdrv-run --exec --alloc "$ALLOC" --task d -- sh -c 'echo inside $NOMAD_TASK_NAME; exit 5'
    assert_output "inside d"
    run --separate-stderr tdrv-run --inspect <"$BATS_TEST_TMPDIR/h.json"
    jq -e '.inspect.state == "running" and .inspect.lease_held == true' <<<"$output"
    run --separate-stderr tdrv-run --stats <"$BATS_TEST_TMPDIR/h.json"
    jq -e '.stats.memory.usage > 0 and .stats.pids.current >= 1 and .stats.cpu.usage_usec >= 0' <<<"$output"
    run --separate-stderr tdrv-run --list
    jq -e --arg a "$ALLOC" '.tasks[] | select(.alloc_id == $a and .task == "d" and .state == "running")' <<<"$output"
    run ! flock -n "$TDRV_ROOT/allocs/$ALLOC/d/lease" true
    run --separate-stderr tdrv-run --stop <"$BATS_TEST_TMPDIR/h.json"
    assert_success
    jq -e '.result.signal == 9 or .result.signal == 15' <<<"$output"
    flock -n "$TDRV_ROOT/allocs/$ALLOC/d/lease" true
    run --separate-stderr tdrv-run --logs <"$BATS_TEST_TMPDIR/h.json"
    assert_output started
}

@test "--wait returns the detached task's result and status" {
    needs_root
    load_image
    tdrv-run --detach < <(task w 'sleep 0.5; exit 3') >"$BATS_TEST_TMPDIR/h.json"
    run --separate-stderr -3 tdrv-run --wait <"$BATS_TEST_TMPDIR/h.json"
    jq -e '.result.exit_code == 3' <<<"$output"
}

@test "logs are rotated (logging max-size, max-file)" {
    needs_root
    load_image
    run --separate-stderr tdrv-run --result-fd 3 3>/dev/null < <(task t \
        'i=0; while [ $i -lt 1000 ]; do echo "line $i of the log, padded to be long enough"; i=$((i+1)); done' \
        '{"config":{"logging":{"type":"json-file","config":{"max-size":"8k","max-file":"3"}}}}')
    assert_success
    d="$TDRV_ROOT/allocs/$ALLOC/t/logs"
    [ -f "$d/stdout.log" ] && [ -f "$d/stdout.log.1" ] && [ -f "$d/stdout.log.2" ]
    [ ! -e "$d/stdout.log.3" ]
    for f in "$d"/stdout.log*; do [ "$(stat -c %s "$f")" -le 8192 ]; done
    tail -n1 "$d/stdout.log" | grep -q "line 999 "
    run --separate-stderr tdrv-run --logs --alloc "$ALLOC" --task t
    [ "${lines[-1]}" = "line 999 of the log, padded to be long enough" ]
}

@test "kill -9 of the supervisor leaves a lease nobody holds (tdrv-gc finds it dangling)" {
    needs_root
    load_image
    tdrv-run --detach < <(task k 'while :; do sleep 0.2; done') >"$BATS_TEST_TMPDIR/h.json"
    mon=$(jq -r .handle.monitor_pid "$BATS_TEST_TMPDIR/h.json")
    run ! flock -n "$TDRV_ROOT/allocs/$ALLOC/k/lease" true
    kill -9 "$mon"
    for _ in $(seq 50); do kill -0 "$mon" 2>/dev/null || break; sleep 0.1; done
    flock -n "$TDRV_ROOT/allocs/$ALLOC/k/lease" true
    run --separate-stderr tdrv-run --inspect <"$BATS_TEST_TMPDIR/h.json"
    jq -e '.inspect.state == "dangling" and .inspect.lease_held == false' <<<"$output"
    run --separate-stderr tdrv-run --stop <"$BATS_TEST_TMPDIR/h.json"
    assert_success
    [ -z "$(runc --root "$TDRV_RUN/runtime" list -q)" ]
}

@test "a second run of a running task is 75 (its lease is held)" {
    needs_root
    load_image
    tdrv-run --detach < <(task s 'while :; do sleep 0.2; done') >"$BATS_TEST_TMPDIR/h.json"
    run --separate-stderr -75 tdrv-run < <(task s true)
    jq -e '.error.code == "task_running"' <<<"$output"
    tdrv-run --stop <"$BATS_TEST_TMPDIR/h.json" >/dev/null
}

@test "privileged with allow_privileged: every capability we hold, no seccomp, mount works" {
    needs_root
    load_image
    printf 'allow_privileged: true\n' >"$TDRV_CONFIG"
    run --separate-stderr tdrv-run --result-fd 3 3>/dev/null < <(task p \
        'grep -E "^(CapEff|Seccomp):" /proc/self/status; mount -t tmpfs x /tmp && echo mounted; ls /dev' \
        '{"config":{"privileged":true}}')
    assert_success
    # the host's devices are there (docker --privileged)
    for d in /dev/loop0 /dev/kmsg /dev/fuse; do
        if [ -c "$d" ] || [ -b "$d" ]; then assert_line "$(basename "$d")"; fi
    done
    eff=$(awk '/CapEff/ {print $2}' <<<"$output")
    [ $((0x$eff & (1 << 21))) -ne 0 ] # SYS_ADMIN
    assert_line "Seccomp:	0"
    assert_line mounted
}

@test "the default seccomp profile denies unshare; network mode none has only loopback" {
    needs_root
    load_image
    run --separate-stderr -1 tdrv-run --result-fd 3 3>/dev/null < <(task s \
        'grep Seccomp: /proc/self/status; ls /sys/class/net; unshare -n true' '{"config":{"network_mode":"none"}}')
    assert_line "Seccomp:	2"
    assert_line lo
    [ "${#lines[@]}" -eq 2 ]
    [[ "$stderr" == *"Operation not permitted"* ]]
}

@test "a reader of stdout that goes away does not kill the supervisor" {
    needs_root
    load_image
    task t 'echo first; sleep 0.5; i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done; exit 4' \
        >"$BATS_TEST_TMPDIR/t.json"
    run bash -c "tdrv-run --result-fd 3 <'$BATS_TEST_TMPDIR/t.json' 3>'$BATS_TEST_TMPDIR/r.json' | head -n1; echo \"\${PIPESTATUS[0]}\""
    assert_line --index 0 first
    assert_line --index 1 4
    jq -e '.result.exit_code == 4' "$BATS_TEST_TMPDIR/r.json"
    tail -n1 "$TDRV_ROOT/allocs/$ALLOC/t/logs/stdout.log" | grep -qx "line 1999"
}

@test "--logs --follow prints until the task ends" {
    needs_root
    load_image
    tdrv-run --detach < <(task f 'for i in 1 2 3 4 5; do echo tick $i; sleep 0.2; done; echo oops >&2') \
        >"$BATS_TEST_TMPDIR/h.json"
    run --separate-stderr timeout 20 tdrv-run --logs --follow <"$BATS_TEST_TMPDIR/h.json"
    assert_success
    assert_line --index 0 "tick 1"
    assert_line --index 4 "tick 5"
    [ "$stderr" = oops ]
}

@test "handle operations on an unknown task are 66; --list of an empty host is empty" {
    run --separate-stderr -66 tdrv-run --inspect --alloc nope --task web
    jq -e '.error.code == "task_not_found"' <<<"$output"
    [ "$stderr" = "tdrv-run: error: no task 'web' in allocation 'nope'" ]
    run --separate-stderr tdrv-run --list
    assert_output '{"tasks":[]}'
    run --separate-stderr -64 tdrv-run --wait --stop
    [ "$stderr" = "tdrv-run: error: conflicting actions" ] || [ "${stderr_lines[0]}" = "tdrv-run: error: conflicting actions" ]
    run --separate-stderr -64 tdrv-run --signal SIGNOPE --alloc a --task b
    run --separate-stderr -64 tdrv-run --follow < /dev/null
}

@test "the README pipeline: tdrv-pull | tdrv-ports | tdrv-run serves on the allocated host port" {
    needs_root
    command -v curl >/dev/null || skip "needs curl"
    load_image
    # The task is bridged on tdrv's default network: remove its bridge and IPAM
    # directory afterwards unless they were there before this test.
    if ip link show tdrv0 >/dev/null 2>&1; then had_bridge=1; else had_bridge=0; fi
    printf 'host_ip: 127.0.0.1\n' >"$TDRV_CONFIG"
    printf 'task: web\nalloc_id: %s\nkill_timeout: 1s\nconfig:\n  image: busybox\n  args: ["httpd", "-f", "-p", "${NOMAD_PORT_http}", "-h", "/etc"]\nnetwork:\n  ports: [{label: http, to: 8080}]\n' \
        "$ALLOC" >"$BATS_TEST_TMPDIR/web.yaml"
    tdrv-pull <"$BATS_TEST_TMPDIR/web.yaml" | tdrv-ports | tdrv-run --detach >"$BATS_TEST_TMPDIR/h.json"
    port=$(jq -r '.ports[0].value' "$BATS_TEST_TMPDIR/h.json")
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/group" >"$BATS_TEST_TMPDIR/got" && break; sleep 0.1; done
    grep -q '^root:x:0:' "$BATS_TEST_TMPDIR/got"
    run --separate-stderr tdrv-run --stop <"$BATS_TEST_TMPDIR/h.json"
    jq -e '.result.signal == 9' <<<"$output"
    tdrv-ports --release --alloc "$ALLOC" >/dev/null
    if [ "$had_bridge" = 0 ]; then
        ip link del tdrv0 2>/dev/null || true
        rm -rf /var/lib/cni/networks/tdrv
    fi
}
