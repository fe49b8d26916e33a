#!/usr/bin/env bats
# Bad input at scale, table-driven: every driver option of oci, rkt, containerd-driver and
# docker (tests/bats/badinput/options.txt, checked against the C option tables), the task
# document's own fields, tdrv-ports' and tdrv-pull's inputs, each given wrong types, empty
# values and absurd ones (negative, 10^20, 2^63, 1 MiB strings, 100,000 items, 50 levels of
# nesting, NUL and control characters). tests/bats/lib/badinput.py makes and runs the cases;
# the rule (docs/badinput.md): exit 65, one JSON error naming the option, its message as the
# one stderr line, no sanitizer output, never 70 -- unless the table says the value is
# legitimately accepted, and then what accepting it means is checked instead.
# Then the document as a whole, and one regression test per bug this suite found.

load helpers

OPTS="$BATS_TEST_DIRNAME/badinput/options.txt"
BI="$BATS_TEST_DIRNAME/lib/badinput.py"
# the case counts, in the test names
eval "$(python3 "$BI" counts "$OPTS" | awk '{gsub("-", "_", $1); print "N_" $1 "=" $2}')"
N_TOTAL=$((N_oci + N_rkt + N_containerd_driver + N_docker + N_top + N_ports + N_pull))

setup_file() {
    # one store with busybox for every --dry-run (the oci backend reads the image's config);
    # tdrv-ports' accepted cases lease from a range of this file's own
    export TDRV_ROOT="$BATS_FILE_TMPDIR/root" TDRV_RUN="$BATS_FILE_TMPDIR/run"
    export TDRV_CONFIG="$BATS_FILE_TMPDIR/config.yaml"
    printf 'host_ip: 127.0.0.1\nports: {min: 15400, max: 15499}\n' >"$TDRV_CONFIG"
    "$TDRV_TOP/scripts/mkimage-busybox.sh" "$BATS_FILE_TMPDIR/bb" >/dev/null
    tdrv-pull --load "$BATS_FILE_TMPDIR/bb" docker.io/library/busybox:latest >/dev/null
}

# run_group GROUP: every case of GROUP; the failures are printed, one a line
run_group() {
    run python3 "$BI" run "$OPTS" "$1" "$TDRV_BIN"
    echo "$output" | grep -E '^(FAIL|KNOWN)' >&2 || true
    assert_success
    assert_line "$1: $2 cases, 0 failed"
}

@test "the option table is the code's: every option of common/spec.c and common/docker_spec.c, per driver, and nothing else" {
    local code table
    code=$({
        # {"name", D_OCI | D_CTR, O_USED}: the daemonless drivers
        sed -n 's/^ *{"\([A-Za-z0-9_]*\)", \(D_[A-Z_| ]*\), O_[A-Z]*},$/\1 \2/p' "$TDRV_TOP/common/spec.c" |
            while read -r name drv; do
                case $drv in *D_ALL*) drv="D_OCI D_RKT D_CTR" ;; esac
                for d in $drv; do
                    case $d in D_OCI) echo "oci $name" ;; D_RKT) echo "rkt $name" ;; D_CTR) echo "containerd-driver $name" ;; esac
                done
            done
        # docker_options[]: one "name", a line, up to NULL
        sed -n '/^static const char \*const docker_options\[\] = {/,/NULL/s/^ *"\([A-Za-z0-9_]*\)",$/docker \1/p' \
            "$TDRV_TOP/common/docker_spec.c"
    } | sort)
    table=$(python3 "$BI" list "$OPTS" | sort)
    [ "$(wc -l <<<"$code")" -gt 150 ] # the tables were read
    diff <(echo "$code") <(echo "$table")
}

@test "oci: $N_oci cases, every option x (wrong type, empty, absurd): 65 naming it, or accepted as the table says" {
    run_group oci "$N_oci"
}

@test "rkt: $N_rkt cases, every option x (wrong type, empty, absurd): 65 naming it, or accepted as the table says" {
    run_group rkt "$N_rkt"
}

@test "containerd-driver: $N_containerd_driver cases, every option x (wrong type, empty, absurd): 65 naming it, or accepted as the table says" {
    run_group containerd-driver "$N_containerd_driver"
}

@test "docker: $N_docker cases, every option x (wrong type, empty, absurd): 65 naming it, or accepted as the table says" {
    run_group docker "$N_docker"
}

@test "the task document's fields (env, meta, resources, network, ports, kill_timeout, ...): $N_top cases" {
    run_group top "$N_top"
}

@test "tdrv-ports' input (network, network.ports, host_ip, port_map, alloc_id): $N_ports cases" {
    run_group ports "$N_ports"
}

@test "tdrv-pull's input (image, auth, force_pull, image_pull_timeout, load, rkt's options): $N_pull cases" {
    run_group pull "$N_pull"
}

@test "in all: $N_TOTAL cases" {
    [ "$N_TOTAL" -gt 1500 ]
}

# ---- the document as a whole: no option can be named, the error says where ----

@test "every tool: nesting past 64 levels, a NUL byte, 17 MiB, a non-object: 65, never a crash" {
    local t deep
    deep=$(python3 -c 'print("{\"config\":" + "[" * 100 + "]" * 100 + "}")')
    for t in "tdrv-run --dry-run" "tdrv-ports" "tdrv-pull"; do
        run --separate-stderr -65 $t <<<"$deep"
        jq -e '.error.exit == 65 and (.error.message | startswith("malformed JSON at byte"))' <<<"$output"
        run --separate-stderr -65 $t < <(printf '{"task":"t\0"}')
        jq -e '.error.message | contains("NUL byte")' <<<"$output"
        run --separate-stderr -65 $t < <(head -c $((17 << 20)) /dev/zero | tr '\0' ' ')
        jq -e '.error.exit == 65' <<<"$output"
        run --separate-stderr -65 $t <<<'[1, 2]'
        jq -e '.error.message == "request: expected object"' <<<"$output"
        ! grep -qE 'Sanitizer|runtime error' <<<"$stderr"
    done
}

# ---- regressions: one per bug found here ----

task() { jq -nc --argjson x "${1:-{\}}" '{task: "t", alloc_id: "a1", config: {image: "busybox"}} * $x'; }

@test "regression: a \\u0000 in a string is refused naming where (cJSON used to cut the string there)" {
    run --separate-stderr -65 tdrv-run --dry-run <<<'{"task":"t","config":{"image":"busybox","args":["ok","rm\u0000 -rf"]}}'
    jq -e '.error.message == "malformed JSON at byte 56: NUL character (\\u0000) in the string config.args[1]"' <<<"$output"
    run --separate-stderr -65 tdrv-ports <<<'{"network":{"ports":[{"label":"a\u0000b"}]}}'
    jq -e '.error.message | endswith("in the string network.ports[0].label")' <<<"$output"
}

@test "regression: 2^63 and 10^20 are out of range, not converted (undefined) into no limit" {
    run --separate-stderr -65 tdrv-run --dry-run < <(task '{"config":{"pids_limit":9223372036854775808}}')
    jq -e '.error.message | startswith("request.pids_limit: 9223372036854775808 is out of range")' <<<"$output"
    run --separate-stderr -65 tdrv-run --dry-run < <(task '{"kill_timeout":1e20}')
    jq -e '.error.message | startswith("request.kill_timeout:")' <<<"$output"
    run --separate-stderr -65 tdrv-run --dry-run < <(task '{"driver":"docker","kill_timeout":1e20}')
    jq -e '.error.message | startswith("request.kill_timeout:")' <<<"$output"
    run --separate-stderr -65 tdrv-run --dry-run < <(task '{"driver":"docker","config":{"pids_limit":1e20}}')
    jq -e '.error.message | startswith("config.pids_limit:")' <<<"$output"
}

@test "regression: args = [] and entrypoint = [] keep the image's, as the drivers do" {
    run --separate-stderr tdrv-run --dry-run < <(task '{"config":{"args":[]}}')
    assert_success
    jq -e '.process.args == ["sh"]' <<<"$output"
    run --separate-stderr tdrv-run --dry-run < <(task '{"config":{"entrypoint":[]}}')
    jq -e '.process.args == ["sh"]' <<<"$output"
    run --separate-stderr tdrv-run --dry-run < <(task '{"driver":"docker","config":{"entrypoint":[]}}')
    jq -e '.create | has("Entrypoint") | not' <<<"$output"
}

@test "regression: values are never cut to a buffer (an 8 KiB+ env value, a 4 KiB+ label)" {
    python3 -c 'import json; b = "x" * 100000; print(json.dumps({"task": "t", "alloc_id": "a1",
        "env": {"BIG": b}, "config": {"image": "busybox", "labels": {"l": b}}}))' >"$BATS_TEST_TMPDIR/big.json"
    run --separate-stderr tdrv-run --dry-run <"$BATS_TEST_TMPDIR/big.json"
    assert_success
    jq -e '("x" * 100000) as $b | (.process.env | index("BIG=" + $b)) and .annotations.l == $b' <<<"$output"
}

@test "regression: 4096 labels take no n^2 time (100,000 took minutes); more are 65" {
    python3 -c 'import json; print(json.dumps({"task":"t","alloc_id":"a1","config":{"image":"busybox","labels":{"k%d" % i: "v" for i in range(4096)}}}))' \
        >"$BATS_TEST_TMPDIR/l.json"
    SECONDS=0
    run --separate-stderr tdrv-run --dry-run <"$BATS_TEST_TMPDIR/l.json"
    assert_success
    [ "$SECONDS" -lt 10 ]
    jq -e '.annotations | length == 4099' <<<"$output"
    python3 -c 'import json; print(json.dumps({"task":"t","config":{"image":"busybox","labels":{"k%d" % i: "v" for i in range(4097)}}}))' \
        >"$BATS_TEST_TMPDIR/l.json"
    run --separate-stderr -65 tdrv-run --dry-run <"$BATS_TEST_TMPDIR/l.json"
    jq -e '.error.message == "config.labels: 4097 items (at most 4096)"' <<<"$output"
}

@test "regression: a message holding control characters is one stderr line (\\xHH), the JSON has it whole" {
    run --separate-stderr -65 tdrv-run --dry-run < <(task '{"config":{"hostname":"a\nnameserver 6.6.6.6\u001b[2J"}}')
    jq -e '.error.message == "config.hostname: control character in a string"' <<<"$output"
    run --separate-stderr -66 tdrv-run --dry-run < <(task '{"config":{"image":"nothere:1","command":"x\ny"}}')
    [ "${#stderr_lines[@]}" -eq 1 ]
    run --separate-stderr -65 tdrv-run --dry-run < <(task '{"config":{"cap_add":["x\ny"]}}')
    [ "${#stderr_lines[@]}" -eq 1 ]
    [ "$stderr" = "tdrv-run: error: config.cap_add[0]: control character in a string" ]
}

@test "regression: network, ports and resources of another shape are 65, not read as absent" {
    run --separate-stderr -65 tdrv-run --dry-run < <(task '{"network":"bridge"}')
    jq -e '.error.message == "request.network: expected object"' <<<"$output"
    run --separate-stderr -65 tdrv-ports <<<'{"network":["a"]}'
    jq -e '.error.message == "request.network: expected object"' <<<"$output"
    run --separate-stderr -65 tdrv-run --dry-run < <(task '{"network":{"ports":[1]}}')
    jq -e '.error.message == "request.network.ports: expected a list of objects"' <<<"$output"
    run --separate-stderr -65 tdrv-run --dry-run < <(task '{"resources":{"memory":-1}}')
    jq -e '.error.message | startswith("request.resources.memory:")' <<<"$output"
}

@test "regression: oci checks the type of options other tools read; docker's empty port_map maps nothing" {
    run --separate-stderr -65 tdrv-run --dry-run < <(task '{"config":{"force_pull":"yes"}}')
    jq -e '.error.message == "config.force_pull: expected boolean"' <<<"$output"
    run --separate-stderr -65 tdrv-run --dry-run < <(task '{"config":{"ports":[80]}}')
    jq -e '.error.message == "config.ports: expected list of strings"' <<<"$output"
    run --separate-stderr -65 tdrv-pull < <(task '{"driver":"rkt","config":{"trust_prefix":1}}')
    jq -e '.error.message | startswith("request.config.trust_prefix:")' <<<"$output"
    run --separate-stderr tdrv-run --dry-run < <(task '{"driver":"docker","config":{"port_map":{}}}')
    assert_success
}

@test "regression: memory_hard_limit is named when it is the too-low limit; a directory as seccomp profile is 65" {
    run --separate-stderr -65 tdrv-run --dry-run < <(task '{"config":{"memory_hard_limit":1}}')
    jq -e '.error.message == "config.memory_hard_limit: limit of 1048576 bytes is too low (minimum 4 MiB)"' <<<"$output"
    run --separate-stderr -65 tdrv-run --dry-run < <(task '{"config":{"seccomp_profile":"/etc"}}')
    jq -e '.error.message | startswith("config.seccomp_profile:")' <<<"$output"
}
