#!/usr/bin/env bats
# tdrv under Slurm (docs/slurm.md): a private munged + slurmctld + slurmd on localhost
# (tests/bats/lib/slurm.bash), jobs running contrib/slurm/tdrv-slurm-task with the job id as
# the allocation id, and contrib/slurm/tdrv-slurm-epilog as the Epilog. Needs root, runc
# and Debian's slurm-wlm and munge (scripts/deps.sh); skipped, with the reason, otherwise.

load helpers
load lib/slurm

setup_file() {
    export SLURM_SKIP=
    if [ "$(id -u)" -ne 0 ]; then
        SLURM_SKIP="the Slurm tests need root (slurmd runs jobs as root, tdrv-run needs root)"
        return 0
    fi
    local c
    for c in munged slurmctld slurmd sbatch srun scancel runc jq; do
        command -v "$c" >/dev/null || { SLURM_SKIP="$c is not installed (make deps)"; return 0; }
    done
    export S=$(mktemp -d /tmp/tdrvslurmjobs.XXXXXX)
    chmod 755 "$S"
    export TDRV_ROOT=$S/root TDRV_RUN=$S/run TDRV_CONFIG=$S/config.yaml
    : >"$TDRV_CONFIG"
    export SLURM_TASK="$TDRV_TOP/contrib/slurm/tdrv-slurm-task"
    "$TDRV_TOP/scripts/mkimage-busybox.sh" "$S/busybox-oci" docker.io/library/busybox:latest \
        >/dev/null
    tdrv-pull --load "$S/busybox-oci" docker.io/library/busybox:latest >/dev/null
    # slurmd gives an epilog almost no environment: this one sets tdrv's, then runs the
    # shipped epilog. TDRV_GC_NOW (a test hook) moves tdrv-gc's clock past the creation
    # grace, as the next periodic pass would be; nothing else differs from production.
    cat >"$S/epilog" <<SH
#!/bin/sh
export TDRV_ROOT=$TDRV_ROOT TDRV_RUN=$TDRV_RUN TDRV_CONFIG=$TDRV_CONFIG TDRV_BIN=$TDRV_BIN
export TDRV_GC_NOW=+6m TDRV_SLURM_GC_LOG=$S/epilog.jsonl
export ASAN_OPTIONS='${ASAN_OPTIONS:-}' UBSAN_OPTIONS='${UBSAN_OPTIONS:-}'
exec $TDRV_TOP/contrib/slurm/tdrv-slurm-epilog
SH
    chmod 755 "$S/epilog"
    if ! tdrv_slurm_start "$S/epilog" 2>"$S/slurm-start.err"; then
        SLURM_SKIP="slurm cannot start here: $(tr '\n' ' ' <"$S/slurm-start.err" | cut -c1-400)"
    fi
}

teardown_file() {
    tdrv_slurm_stop
    if [ -n "${S:-}" ]; then
        local l
        for l in "$S"/root/allocs/*/*/lease; do [ -e "$l" ] && flock -w 30 "$l" true; done
        grep -q " $S/" /proc/mounts && grep " $S/" /proc/mounts | cut -d' ' -f2 | xargs -r umount -l
        [ -n "${KEEP_S:-}" ] || rm -rf "$S"
    fi
}

need_slurm() {
    [ -z "$SLURM_SKIP" ] || skip "$SLURM_SKIP"
}

# task FILE NAME SCRIPT: a task document running `sh -c SCRIPT` in busybox
task() {
    jq -n --arg n "$2" --arg s "$3" \
        '{task: $n, driver: "oci", kill_timeout: "5s",
          config: {image: "busybox", command: "sh", args: ["-c", $s]}}' >"$1"
}

# wait_file PATH [SECONDS]
wait_file() {
    for _ in $(seq $((${2:-30} * 10))); do [ -e "$1" ] && return 0; sleep 0.1; done
    echo "no $1 after ${2:-30} s" >&2
    return 1
}

# the task is cleaned up: lease free, no runc container, rootfs not mounted, bundle gone
assert_cleaned_up() {
    local alloc=$1 t=$2
    # the teardown finishes in a child of tdrv-run that holds the lease until it is done
    flock -w 30 "$TDRV_ROOT/allocs/$alloc/$t/lease" true
    run runc --root "$TDRV_RUN/runtime" state "$t-$alloc"
    assert_failure
    run grep -c " $TDRV_RUN/tasks/$t-$alloc" /proc/mounts
    assert_output 0
    [ ! -e "$TDRV_RUN/tasks/$t-$alloc/config.json" ]
}

@test "slurm: sbatch runs a tdrv task; the job id is its allocation id, its output the job's" {
    need_slurm
    task "$S/hello.json" hello 'echo "hello from alloc $NOMAD_ALLOC_ID"; exit 3'
    run --separate-stderr sbatch --parsable --wait --chdir "$S" -o "$S/hello-%j.out" \
        --wrap "$SLURM_TASK $S/hello.json --result-fd 3 3>$S/hello-\$SLURM_JOB_ID.result"
    job=${output##*$'\n'}
    [ "$status" -eq 3 ]
    grep -qx "hello from alloc $job" "$S/hello-$job.out"
    jq -e --arg j "$job" '.alloc_id == $j and .result.exit_code == 3' "$S/hello-$job.result"
    jq -e '.state == "exited"' "$TDRV_ROOT/allocs/$job/hello/state.json"
    tdrv_slurm_wait_gone "$job"
    assert_cleaned_up "$job" hello
}

@test "slurm: srun runs a tdrv task in the foreground, with its exit status" {
    need_slurm
    task "$S/srun.json" srun 'echo "srun step of $NOMAD_ALLOC_ID"; exit 5'
    run --separate-stderr srun --chdir "$S" "$SLURM_TASK" "$S/srun.json"
    [ "$status" -eq 5 ]
    assert_line --regexp '^srun step of [0-9]+$'
    jq -e 'select(.result) | .result.exit_code == 5' <<<"$(grep '^{' <<<"$output")"
}

@test "slurm: the wrapper outside a job is 64, without a readable task file 66" {
    task "$BATS_TEST_TMPDIR/none.json" none 'true'
    run --separate-stderr env -u SLURM_JOB_ID "$TDRV_TOP/contrib/slurm/tdrv-slurm-task" \
        "$BATS_TEST_TMPDIR/none.json"
    [ "$status" -eq 64 ]
    [ "$stderr" = "tdrv-slurm-task: error: SLURM_JOB_ID is not set (run it under srun or sbatch)" ]
    run --separate-stderr env SLURM_JOB_ID=7 "$TDRV_TOP/contrib/slurm/tdrv-slurm-task" \
        "$BATS_TEST_TMPDIR/nope.json"
    [ "$status" -eq 66 ]
    [ "$stderr" = "tdrv-slurm-task: error: unable to read '$BATS_TEST_TMPDIR/nope.json'" ]
    run --separate-stderr "$TDRV_TOP/contrib/slurm/tdrv-slurm-task"
    [ "$status" -eq 64 ]
    [ "$stderr" = "usage: tdrv-slurm-task TASKFILE [tdrv-run options]" ]
}

@test "slurm: scancel stops the container with its signal, and tdrv-run cleans it up" {
    need_slurm
    task "$S/cancel.json" cancel \
        'trap "echo TERM >/alloc/data/term; exit 0" TERM; echo up >/alloc/data/started; while :; do sleep 1; done'
    job=$(sbatch --parsable --chdir "$S" -o "$S/cancel-%j.out" --wrap "$SLURM_TASK $S/cancel.json")
    wait_file "$TDRV_ROOT/allocs/$job/alloc/data/started" 60
    jq -e '.state == "running"' "$TDRV_ROOT/allocs/$job/cancel/state.json"
    scancel "$job"
    tdrv_slurm_wait_gone "$job" 60
    [ "$(cat "$TDRV_ROOT/allocs/$job/alloc/data/term")" = TERM ]
    jq -e '.state == "exited" and .result.exit_code == 0' "$TDRV_ROOT/allocs/$job/cancel/state.json"
    assert_cleaned_up "$job" cancel
}

@test "slurm: the epilog's tdrv-gc --alloc reaps what a job whose tdrv-run was killed left" {
    need_slurm
    task "$S/killed.json" killed 'echo up >/alloc/data/started; while :; do sleep 1; done'
    job=$(sbatch --parsable --chdir "$S" -o "$S/killed-%j.out" --wrap "$SLURM_TASK $S/killed.json")
    wait_file "$TDRV_ROOT/allocs/$job/alloc/data/started" 60
    state="$TDRV_ROOT/allocs/$job/killed/state.json"
    sup=$(jq -r .monitor_pid "$state")
    [ "$(cat /proc/"$sup"/comm)" = tdrv-run ]
    kill -9 "$sup"
    tdrv_slurm_wait_gone "$job" 60
    for _ in $(seq 300); do jq -e '.state == "reaped"' "$state" >/dev/null && break; sleep 0.2; done
    # nobody holds the lease any more: the task is dangling, and the epilog reaped it
    jq -e '.state == "reaped" and .gc.reason == "dangling" and
        (.gc.actions | index("runtime_deleted") and index("rootfs_unmounted"))' "$state"
    jq -se --arg j "$job" \
        'map(select(.removed[]? | .alloc_id == $j and .kind == "task" and .task == "killed")) | length == 1' \
        "$S/epilog.jsonl"
    assert_cleaned_up "$job" killed
    [ "$(sinfo -h -n localhost -o %t)" = idle ]
}
