#!/usr/bin/env bats
# tdrv-run: tty and interactive on the daemonless backend (runc's console socket), checked
# inside the container. A terminal comes from tests/bats/lib/ptyrun.py (a new session on a
# pseudo-terminal of a given size, keys typed into it), as a user at a terminal would run
# `tdrv-run < task.json`.

load helpers

setup_file() {
    export LAYOUT="$BATS_FILE_TMPDIR/busybox-oci"
    "$TDRV_TOP/scripts/mkimage-busybox.sh" "$LAYOUT" docker.io/library/busybox:latest >/dev/null
}

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    command -v runc >/dev/null || skip "needs runc"
    tdrv_test_env
    ALLOC=$(cat /proc/sys/kernel/random/uuid)
    tdrv-pull --load "$LAYOUT" docker.io/library/busybox:latest >/dev/null
    PTYRUN="$TDRV_TOP/tests/bats/lib/ptyrun.py"
    T="$BATS_TEST_TMPDIR"
}

teardown() {
    tdrv_wait_leases
    tdrv_remove_containers
}

# task NAME SCRIPT [EXTRA-JSON] > file: `sh -c SCRIPT` in busybox, EXTRA-JSON merged in.
task() {
    local name=$1 script=$2 extra=${3:-'{}'}
    jq -nc --arg a "$ALLOC" --arg n "$name" --arg s "$script" --argjson x "$extra" \
        '{alloc_id: $a, task: $n, config: {image: "busybox", command: "sh", args: ["-c", $s]}} * $x'
}

# The terminal's output without its carriage returns.
crlf() { tr -d '\r' <<<"$1"; }

@test "tty: the task's stdio is a pseudo-terminal of our terminal's size; output and status pass" {
    task t 'tty; test -t 0 && echo stdin-tty; test -t 1 && echo stdout-tty; stty size; echo to-stderr >&2; exit 3' \
        '{"config":{"tty":true}}' >"$T/t.json"
    run --separate-stderr -3 "$PTYRUN" --size 33x111 -- \
        "tdrv-run --result-fd 3 <'$T/t.json' 3>'$T/r.json'"
    out=$(crlf "$output")
    [[ "$out" =~ (^|$'\n')/dev/pts/[0-9]+$'\n' ]]
    grep -qx stdin-tty <<<"$out"
    grep -qx stdout-tty <<<"$out"
    grep -qx "33 111" <<<"$out"
    grep -qx to-stderr <<<"$out" # one terminal: stderr is in it
    jq -e '.result.exit_code == 3 and .config.tty == true' "$T/r.json"
    # no raw mode without interactive: the terminal is as it was
    [ "${stderr_lines[-1]}" = "termios: restored" ]
    # the log has the terminal's output (stdout and stderr in one)
    grep -q "^33 111" "$TDRV_ROOT/allocs/$ALLOC/t/logs/stdout.log"
    grep -q "^to-stderr" "$TDRV_ROOT/allocs/$ALLOC/t/logs/stdout.log"
}

@test "tty and interactive: 'tdrv-run < task.json' at a terminal types into the task, resizes follow, the terminal is restored" {
    task i 'echo ready; read line; echo "got <$line>"; stty size; echo resize-now; sleep 1; stty size; read code; exit $code' \
        '{"config":{"tty":true,"interactive":true}}' >"$T/i.json"
    run --separate-stderr -7 "$PTYRUN" --size 30x100 --expect ready --send 'hello there\n' \
        --expect resize-now --resize 40x120 --expect '40 120' --send '7\n' -- \
        "tdrv-run --result-fd 3 <'$T/i.json' 3>'$T/r.json'"
    out=$(crlf "$output")
    grep -qx "got <hello there>" <<<"$out"
    grep -qx "30 100" <<<"$out"
    grep -qx "40 120" <<<"$out"
    # typed keys are echoed once, by the task's terminal (ours was raw while attached)
    [ "$(grep -c "^hello there$" <<<"$out")" -eq 1 ]
    [ "${stderr_lines[-1]}" = "termios: restored" ]
    jq -e '.result.exit_code == 7' "$T/r.json"
}

@test "tty and interactive: ^C goes to the task (SIGINT from its terminal), not to tdrv-run" {
    task c 'trap "echo got-INT; exit 9" INT; echo ready; while :; do sleep 0.1; done' \
        '{"config":{"tty":true,"interactive":true}}' >"$T/c.json"
    run --separate-stderr -9 "$PTYRUN" --expect ready --send '\x03' -- \
        "tdrv-run --result-fd 3 <'$T/c.json' 3>'$T/r.json'"
    grep -q got-INT <<<"$output"
    jq -e '.result.exit_code == 9 and .result.signal == 0' "$T/r.json"
    [ "${stderr_lines[-1]}" = "termios: restored" ]
}

@test "interactive without tty at a terminal: the task reads the terminal after the document" {
    task n 'echo ready; read line; echo "got <$line>"; test -t 1 || echo stdout-not-tty' \
        '{"config":{"interactive":true}}' >"$T/n.json"
    run --separate-stderr "$PTYRUN" --expect ready --send 'typed\n' -- \
        "tdrv-run --result-fd 3 <'$T/n.json' 3>'$T/r.json'"
    assert_success
    out=$(crlf "$output")
    grep -qx "got <typed>" <<<"$out"
    grep -qx stdout-not-tty <<<"$out"
}

@test "interactive with --stdin FILE: the file is the task's input; without a terminal and --stdin, its end at once" {
    printf 'line 1\nline 2\n' >"$T/in.txt"
    task s 'cat; echo end' '{"config":{"interactive":true}}' >"$T/s.json"
    run --separate-stderr tdrv-run --stdin "$T/in.txt" --result-fd 3 <"$T/s.json" 3>/dev/null
    assert_success
    assert_output $'line 1\nline 2\nend'
    # no terminal here (setsid: no controlling one), no --stdin: the document's end is the task's
    ALLOC=$(cat /proc/sys/kernel/random/uuid)
    task s 'cat; echo end' '{"config":{"interactive":true}}' >"$T/s2.json"
    run --separate-stderr setsid -w tdrv-run --result-fd 3 <"$T/s2.json" 3>/dev/null
    assert_success
    assert_output end
}

@test "tty with --stdin FILE: the file is typed into the task's terminal, then its end-of-file" {
    printf 'abc\nlast' >"$T/in.txt"
    task s 'cat >/tmp/got; echo "cat ended"; od -c /tmp/got | head -n1' \
        '{"config":{"tty":true,"interactive":true}}' >"$T/s.json"
    run --separate-stderr setsid -w tdrv-run --stdin "$T/in.txt" --result-fd 3 <"$T/s.json" 3>/dev/null
    assert_success
    out=$(crlf "$output")
    grep -q "cat ended$" <<<"$out"
    # the partial last line arrived too (two end-of-file characters: one flushes it)
    grep -q "a   b   c  \\\\n   l   a   s   t" <<<"$out"
}

@test "--stdin: a task that is not interactive is 64, another action 64, a missing file 66" {
    task s true >"$T/s.json"
    : >"$T/in.txt"
    run --separate-stderr -64 tdrv-run --stdin "$T/in.txt" <"$T/s.json"
    jq -e '.error.code == "usage"' <<<"$output"
    [ "${stderr_lines[0]}" = "tdrv-run: error: --stdin: the task is not interactive (config.interactive)" ]
    run --separate-stderr -64 tdrv-run --stdin "$T/in.txt" --wait --alloc a --task b
    [ "${stderr_lines[0]}" = "tdrv-run: error: --stdin needs a run (or --detach)" ]
    task s true '{"config":{"interactive":true}}' >"$T/s.json"
    run --separate-stderr -66 tdrv-run --stdin "$T/nope" <"$T/s.json"
    [[ "${stderr_lines[0]}" == "tdrv-run: error: unable to open --stdin '$T/nope': No such file or directory" ]]
}

@test "--detach with tty: the logs hold the terminal's output; --stdin's file reaches the task" {
    printf 'from the file\n' >"$T/in.txt"
    task d 'test -t 1 && echo is-a-tty; read l; echo "read <$l>"; exit 4' \
        '{"config":{"tty":true,"interactive":true}}' >"$T/d.json"
    run --separate-stderr tdrv-run --detach --stdin "$T/in.txt" <"$T/d.json"
    assert_success
    echo "$output" >"$T/h.json"
    run --separate-stderr -4 tdrv-run --wait <"$T/h.json"
    jq -e '.result.exit_code == 4' <<<"$output"
    run --separate-stderr tdrv-run --logs <"$T/h.json"
    out=$(crlf "$output")
    grep -qx is-a-tty <<<"$out"
    grep -qx "read <from the file>" <<<"$out"
    [ "$stderr" = "" ]
    [ ! -e "$TDRV_RUN/tasks/d-$ALLOC/console.sock" ]
}

@test "--dry-run: process.terminal, and consoleSize from the caller's terminal" {
    task t true '{"config":{"tty":true}}' >"$T/t.json"
    run --separate-stderr setsid -w tdrv-run --dry-run <"$T/t.json"
    assert_success
    jq -e '.process.terminal == true and (.process | has("consoleSize") | not)' <<<"$output"
    run --separate-stderr "$PTYRUN" --size 21x77 -- "tdrv-run --dry-run <'$T/t.json'"
    assert_success
    jq -e '.process.terminal == true and .process.consoleSize == {"height": 21, "width": 77}' \
        <<<"$(crlf "$output")"
    task t true >"$T/t.json"
    run --separate-stderr tdrv-run --dry-run <"$T/t.json"
    jq -e '.process.terminal == false' <<<"$output"
}

@test "tty without any terminal: the task still gets one, its output reaches our stdout" {
    task t 'tty >/dev/null && echo has-tty; test -t 2 && echo stderr-tty' '{"config":{"tty":true}}' \
        >"$T/t.json"
    run --separate-stderr setsid -w tdrv-run --result-fd 3 <"$T/t.json" 3>"$T/r.json"
    assert_success
    assert_output $'has-tty\r\nstderr-tty\r'
    jq -e '.result.exit_code == 0' "$T/r.json"
}

@test "--exec at a terminal: the command gets its own terminal of our size, typed keys reach it, the status passes" {
    task d 'sleep 300' >"$T/d.json"
    tdrv-run --detach <"$T/d.json" >"$T/h.json"
    run --separate-stderr -9 "$PTYRUN" --size 25x90 --expect '# ' --send 'tty; echo "sum $((40+2))"\n' \
        --expect 'sum 42' --resize 31x101 --send 'stty size; exit 9\n' -- \
        "tdrv-run --exec --alloc '$ALLOC' --task d -- sh"
    out=$(crlf "$output")
    grep -qE '^/dev/pts/[0-9]+$' <<<"$out"
    grep -qx "sum 42" <<<"$out"
    grep -qx "31 101" <<<"$out"
    # runc held our terminal raw while attached, and restored it
    [ "${stderr_lines[-1]}" = "termios: restored" ]
    # --no-tty at a terminal: pipes
    run --separate-stderr -3 "$PTYRUN" -- \
        "tdrv-run --exec --no-tty --alloc '$ALLOC' --task d -- sh -c 'tty; exit 3'"
    grep -qx "not a tty" <<<"$(crlf "$output")"
    # not at a terminal: pipes, as before; --tty without any terminal is 64
    run --separate-stderr -4 tdrv-run --exec --alloc "$ALLOC" --task d -- sh -c 'tty; exit 4' </dev/null
    assert_output "not a tty"
    run --separate-stderr -64 setsid -w tdrv-run --exec --tty --alloc "$ALLOC" --task d -- tty </dev/null
    [[ "$stderr" == *"--tty: no terminal to attach"* ]]
    run --separate-stderr -64 tdrv-run --tty <"$T/d.json"
    [[ "$stderr" == *"--tty and --no-tty need --exec"* ]]
    tdrv-run --stop <"$T/h.json" >/dev/null
}
