#!/usr/bin/env bats
# The operator recipes of docs/cron.md, docs/systemd.md and docs/nomad-raw-exec.md, run
# from the files shipped under contrib/: each unit's, cron line's and job's command is
# taken from the file itself and run here, against a test store, with /usr/local/bin
# replaced by the build's bin directory; and the README's block that shows each program.
# (Slurm: tests/bats/slurm.bats.)

load helpers

setup_file() {
    export LAYOUT="$BATS_FILE_TMPDIR/busybox-oci"
    "$TDRV_TOP/scripts/mkimage-busybox.sh" "$LAYOUT" docker.io/library/busybox:latest >/dev/null
}

setup() {
    tdrv_test_env
    C=$TDRV_TOP/contrib
}

teardown() {
    local l
    [ -n "${MAIN_PID:-}" ] && tdrv_stop_pid "$MAIN_PID"
    for l in "$TDRV_ROOT"/allocs/*/*/lease; do [ -e "$l" ] && flock -w 30 "$l" true; done
    return 0
}

need_containers() {
    [ "$(id -u)" -eq 0 ] || skip "containers need root"
    command -v runc >/dev/null || skip "runc is not installed (make deps)"
    tdrv-pull --load "$LAYOUT" docker.io/library/busybox:latest >/dev/null
}

# unit_cmd FILE KEY [INSTANCE]: the unit's KEY= command as the shell must see it: systemd's
# `$$` is `$`, %i the instance, /usr/local/bin the build's programs
unit_cmd() {
    sed -n "s/^$2=//p" "$1" | sed -e 's/\$\$/$/g' -e "s/%i/${3:-}/g" -e "s|/usr/local/bin/|$TDRV_BIN/|g"
}

# unit copies whose programs exist here, for systemd-analyze
units_here() {
    local d=$BATS_TEST_TMPDIR/units f
    mkdir -p "$d"
    for f in "$C"/systemd/*; do
        sed "s|/usr/local/bin/|$TDRV_BIN/|g" "$f" >"$d/$(basename "$f")"
    done
    cp "$d/tdrv-task@.service" "$d/tdrv-task@web.service"
    echo "$d"
}

@test "cron: contrib/cron/tdrv-gc is a valid /etc/cron.d file" {
    local n=0 line
    while read -r line; do
        case $line in '' | '#'*) continue ;; [A-Z]*=*) continue ;; esac
        read -r m h dom mon dow user cmd <<<"$line"
        for f in "$m" "$h" "$dom" "$mon" "$dow"; do
            [[ $f =~ ^(\*|[0-9]+(-[0-9]+)?)(/[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]]
        done
        [ "$user" = root ]
        [[ $cmd == tdrv-gc\ * ]]
        n=$((n + 1))
    done <"$C/cron/tdrv-gc"
    [ "$n" -eq 1 ]
    # the file ends with a newline (cron ignores a last line without one)
    [ "$(tail -c1 "$C/cron/tdrv-gc" | od -An -c | tr -d ' ')" = '\n' ]
}

@test "cron: the job's command runs and appends one JSON report line" {
    cmd=$(grep -E '^[*0-9]' "$C/cron/tdrv-gc" | sed -E 's/^([^ ]+ +){6}//')
    cmd=${cmd//\/var\/log\/tdrv-gc.jsonl/$BATS_TEST_TMPDIR/gc.jsonl}
    run sh -c "$cmd"
    assert_success
    run sh -c "$cmd"
    assert_success
    [ "$(wc -l <"$BATS_TEST_TMPDIR/gc.jsonl")" -eq 2 ]
    jq -se 'all(.[]; .dry_run == false and (.counts | type) == "object")' "$BATS_TEST_TMPDIR/gc.jsonl"
}

@test "systemd: systemd-analyze verify accepts the units" {
    command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
    d=$(units_here)
    cd "$BATS_TEST_TMPDIR"
    run systemd-analyze verify --man=no "$d/tdrv-gc.service" "$d/tdrv-gc.timer" \
        "$d/tdrv-task@web.service"
    assert_success
    assert_output ''
}

@test "systemd: tdrv-gc.service's ExecStart prints a report; 75 is a success" {
    cmd=$(unit_cmd "$C/systemd/tdrv-gc.service" ExecStart)
    [[ $cmd == "$TDRV_BIN/tdrv-gc "* ]]
    run --separate-stderr eval "$cmd"
    assert_success
    jq -e '.errors == [] and .counts.errors == 0' <<<"$output"
    grep -qx 'SuccessExitStatus=75' "$C/systemd/tdrv-gc.service"
    grep -qx 'OnUnitActiveSec=5min' "$C/systemd/tdrv-gc.timer"
}

@test "systemd: tdrv-task@web runs /etc/tdrv/tasks/web.yaml; SIGTERM to it stops and cleans up; it restarts" {
    need_containers
    unit=$C/systemd/tdrv-task@.service
    mkdir -p "$BATS_TEST_TMPDIR/tasks"
    cat >"$BATS_TEST_TMPDIR/tasks/web.yaml" <<'YAML'
task: web
driver: oci
kill_timeout: 5s
config:
  image: busybox
  command: sh
  args: ["-c", "trap 'echo TERM >/alloc/data/term; exit 0' TERM; echo $NOMAD_ALLOC_ID >/alloc/data/started; while :; do sleep 1; done"]
YAML
    # Environment= as systemd sets it, the task directory moved to the test's
    env=$(unit_cmd "$unit" Environment web)
    export $env
    export TDRV_TASK_DIR=$BATS_TEST_TMPDIR/tasks
    [ "$TDRV_ALLOC_ID" = web ]
    cmd=$(unit_cmd "$unit" ExecStart web)
    (eval "exec $cmd") </dev/null >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
    MAIN_PID=$!
    for _ in $(seq 300); do [ -e "$TDRV_ROOT/allocs/web/alloc/data/started" ] && break; sleep 0.1; done
    [ "$(cat "$TDRV_ROOT/allocs/web/alloc/data/started")" = web ]
    # the main process is tdrv-run itself (KillMode=mixed sends SIGTERM to it alone)
    [ "$(cat /proc/$MAIN_PID/comm)" = tdrv-run ]
    grep -qx 'KillMode=mixed' "$unit"
    kill -TERM "$MAIN_PID"
    rc=0
    wait "$MAIN_PID" || rc=$?
    MAIN_PID=
    [ "$rc" -eq 0 ]
    [ "$(cat "$TDRV_ROOT/allocs/web/alloc/data/term")" = TERM ]
    jq -e '.alloc_id == "web" and .result.exit_code == 0' "$BATS_TEST_TMPDIR/out"
    # the teardown finishes in a child of tdrv-run that holds the lease until it is done
    flock -w 30 "$TDRV_ROOT/allocs/web/web/lease" true
    run grep -c " $TDRV_RUN/tasks/web-web" /proc/mounts
    assert_output 0
    # ExecStopPost: tdrv-gc --alloc web
    post=$(unit_cmd "$unit" ExecStopPost web)
    run --separate-stderr eval "$post"
    assert_success
    jq -e '.errors == []' <<<"$output"
    # a restart (Restart=on-failure, or systemctl restart) reuses the allocation
    rm "$TDRV_ROOT/allocs/web/alloc/data/started" "$TDRV_ROOT/allocs/web/alloc/data/term"
    (eval "exec $cmd") </dev/null >"$BATS_TEST_TMPDIR/out2" 2>"$BATS_TEST_TMPDIR/err2" 3>&- &
    MAIN_PID=$!
    for _ in $(seq 300); do [ -e "$TDRV_ROOT/allocs/web/alloc/data/started" ] && break; sleep 0.1; done
    jq -e '.state == "running"' "$TDRV_ROOT/allocs/web/web/state.json"
    kill -TERM "$MAIN_PID"
    rc=0
    wait "$MAIN_PID" || rc=$?
    MAIN_PID=
    [ "$rc" -eq 0 ]
    [ "$(cat "$TDRV_ROOT/allocs/web/alloc/data/term")" = TERM ]
}

@test "nomad: the raw_exec job file is HCL-shaped and matches its JSON form" {
    hcl=$C/nomad/tdrv-task.nomad.hcl
    json=$C/nomad/tdrv-task.nomad.json
    # blocks, attributes, lists, strings and heredocs; braces and brackets balanced
    python3 - "$hcl" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
depth, stack, heredoc = 0, [], None
for n, line in enumerate(src.splitlines(), 1):
    s = line.strip()
    if heredoc:
        if s == heredoc:
            heredoc = None
        continue
    if not s or s.startswith("#"):
        continue
    code = re.sub(r'"(?:[^"\\]|\\.)*"', 'S', s)
    assert '"' not in code, f"line {n}: unterminated string"
    m = re.search(r"<<-?([A-Z]+)$", code)
    if m:
        heredoc = m.group(1)
    ok = (re.fullmatch(r'[a-z_]+( S)* \{', code) or re.fullmatch(r'[a-z_]+ *= *.+', code)
          or re.fullmatch(r'[\]}],?|S,?', code))
    assert ok, f"line {n}: not HCL-shaped: {s}"
    for ch in code:
        if ch in "{[":
            stack.append(ch)
        elif ch in "}]":
            assert stack and stack.pop() == {"}": "{", "]": "["}[ch], f"line {n}: unbalanced {ch}"
assert not stack and not heredoc, "unclosed block"
PY
    jq -e '.Job.Type == "batch" and (.Job.TaskGroups | length) == 1' "$json"
    jq -e '.Job.TaskGroups[0].Tasks | map(.Driver) == ["raw_exec", "raw_exec"]' "$json"
    jq -e '.Job.TaskGroups[0].Tasks[0] | .KillSignal == "SIGTERM" and .KillTimeout == 30000000000' "$json"
    jq -e '.Job.TaskGroups[0].Tasks[1].Lifecycle.Hook == "poststop"' "$json"
    # the commands are the same in both forms
    for t in 0 1; do
        a=$(jq -r ".Job.TaskGroups[0].Tasks[$t].Config.args[1]" "$json")
        grep -qF -- "$(jq -Rn --arg a "$a" '$a')" "$hcl"
    done
    grep -q '^ *driver = "raw_exec"$' "$hcl"
    grep -q '^ *kill_signal *= "SIGTERM"$' "$hcl"
    grep -q '^ *hook = "poststop"$' "$hcl"
}

@test "nomad: the raw_exec task's command runs the tdrv task as Nomad would, then poststop reaps" {
    need_containers
    json=$C/nomad/tdrv-task.nomad.json
    alloc=5f6c1b9e-3c1d-4d7e-9a55-0b2f6f3c9a10
    # what the raw_exec driver does: the task directory is the cwd, the template rendered
    # into local/, NOMAD_ALLOC_ID set
    dir=$BATS_TEST_TMPDIR/nomad-task
    mkdir -p "$dir/local"
    jq -j '.Job.TaskGroups[0].Tasks[0].Templates[0].EmbeddedTmpl' "$json" >"$dir/local/task.json"
    mapfile -t argv < <(jq -r '.Job.TaskGroups[0].Tasks[0].Config | .command, .args[]' "$json")
    run --separate-stderr env -C "$dir" NOMAD_ALLOC_ID=$alloc "${argv[@]}"
    assert_success
    assert_line "hello from tdrv alloc $alloc"
    jq -e --arg a $alloc 'select(.result) | .alloc_id == $a and .result.exit_code == 0' \
        <<<"$(grep '^{' <<<"$output")"
    mapfile -t argv < <(jq -r '.Job.TaskGroups[0].Tasks[1].Config | .command, .args[]' "$json")
    run --separate-stderr env -C "$dir" NOMAD_ALLOC_ID=$alloc "${argv[@]}"
    assert_success
    jq -e '.errors == []' <<<"$output"
}

@test "README: the 'each program on its own' block runs as written" {
    need_containers
    cd "$BATS_TEST_TMPDIR"
    printf 'host_ip: 127.0.0.1\n' >"$TDRV_CONFIG"
    if ip link show tdrv0 >/dev/null 2>&1; then had_bridge=1; else had_bridge=0; fi
    # the task.yaml heredoc, then the block that shows each program
    sed -n '/^cat > task.yaml/,/^YAML$/p' "$TDRV_TOP/README.md" >readme.sh
    sed -n '/^# tdrv-pull: fetch/,/^```$/p' "$TDRV_TOP/README.md" | sed '$d' |
        sed "s|^scripts/|$TDRV_TOP/scripts/|" >>readme.sh
    [ "$(grep -c '^tdrv-' readme.sh)" -ge 10 ]
    run bash -e -o pipefail readme.sh
    [ "$had_bridge" = 1 ] || [ -n "$(ip -br link show master tdrv0 2>/dev/null)" ] || {
        ip link del tdrv0 2>/dev/null || true
        rm -rf /var/lib/cni/networks/tdrv
    }
    ! grep -q " $TDRV_RUN/netns " /proc/mounts || umount "$TDRV_RUN/netns"
    assert_success
    assert_line '{"name":"docker.io/library/redis","domain":"docker.io","path":"library/redis","tag":"latest","digest":null}'
    assert_line --regexp '^\[\{"label":"http","value":[0-9]+,"to":8080,"host_ip":"127.0.0.1"\}\]$'
    assert_line --regexp '^\{"exit_code":[0-9]+,"signal":'
    assert_line '[{"constraint":"${driver.oci} = true","holds":true}]'
}
