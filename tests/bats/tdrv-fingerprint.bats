#!/usr/bin/env bats
# tdrv-fingerprint: the shared tool contract, the host attributes, each --check
# operator, rkt through a fake `rkt` on PATH, and a real Docker Engine started here.

load helpers
load lib/dockerd

setup_file() {
    if [ "$(id -u)" -eq 0 ] && command -v dockerd >/dev/null; then
        tdrv_dockerd_start
    fi
}

teardown_file() {
    tdrv_dockerd_stop
}

setup() {
    tdrv_test_env
    # Never the host's Engine, unless a test names one.
    export DOCKER_HOST="unix://$BATS_TEST_TMPDIR/no-engine.sock"
    unset DOCKER_TLS_VERIFY DOCKER_CERT_PATH
    mkdir -p "$BATS_TEST_TMPDIR/bin"
}

# A fake `rkt` that prints what `rkt version` prints (rkt/version.go).
fake_rkt() {
    cat >"$BATS_TEST_TMPDIR/bin/rkt" <<EOF
#!/bin/sh
[ "\$1" = version ] || exit 254
printf 'rkt Version: %s\nappc Version: %s\nGo Version: go1.8.3\nGo OS/Arch: linux/amd64\nFeatures: -TPM +SDJOURNAL\n' '$1' '${2:-0.8.11}'
EOF
    chmod +x "$BATS_TEST_TMPDIR/bin/rkt"
    export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
}

attr() { jq -r --arg k "$1" '.attributes[$k] // "<unset>"' <<<"$output"; }

# ---------------------------------------------------------------- the tool contract

@test "tdrv-fingerprint --help prints usage ending with the exit codes" {
    run --separate-stderr -0 tdrv-fingerprint --help
    assert_line --index 0 "usage: tdrv-fingerprint [options]"
    assert_output --partial "Exit status:"
    assert_line --partial "74 I/O error (stdout), 78 bad configuration"
    [ -z "$stderr" ]
}

@test "tdrv-fingerprint --version prints the version" {
    run --separate-stderr -0 tdrv-fingerprint --version
    assert_output --regexp '^tdrv-fingerprint [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "tdrv-fingerprint: an unknown option is a usage error (64) in JSON" {
    run --separate-stderr -64 tdrv-fingerprint --bogus
    jq -e '.error.exit == 64 and .error.code == "usage" and .error.tool == "tdrv-fingerprint"' \
        <<<"$output"
    [ "${#stderr_lines[@]}" -eq 2 ]
    [ "${stderr_lines[0]}" = "tdrv-fingerprint: error: unknown option '--bogus'" ]
    [ "${stderr_lines[1]}" = "tdrv-fingerprint: try 'tdrv-fingerprint --help'" ]
}

@test "tdrv-fingerprint: a missing option argument and an operand are usage errors (64)" {
    run --separate-stderr -64 tdrv-fingerprint --check
    [ "${stderr_lines[0]}" = "tdrv-fingerprint: error: option '--check' requires an argument" ]
    run --separate-stderr -64 tdrv-fingerprint extra
    [ "${stderr_lines[0]}" = "tdrv-fingerprint: error: unexpected argument 'extra'" ]
    run --separate-stderr -64 tdrv-fingerprint --timeout 5x
    [ "${stderr_lines[0]}" = "tdrv-fingerprint: error: invalid duration '5x' for --timeout" ]
    run --separate-stderr -64 tdrv-fingerprint --watch=1s --check '${attr.kernel.name} is_set'
    [ "${stderr_lines[0]}" = "tdrv-fingerprint: error: --watch and --check cannot be used together" ]
}

@test "tdrv-fingerprint: a failed write of stdout is 74" {
    run --separate-stderr -74 bash -c 'tdrv-fingerprint >/dev/full'
    [ "$stderr" = "tdrv-fingerprint: error: unable to write output: No space left on device" ]
}

@test "tdrv-fingerprint: an invalid operator config is 78 naming the key" {
    echo 'datacenter: [1]' >"$TDRV_CONFIG"
    run --separate-stderr -78 tdrv-fingerprint
    jq -e '.error.exit == 78 and .error.code == "invalid_config"' <<<"$output"
    [[ "$stderr" == *datacenter* ]]
}

# ---------------------------------------------------------------- the host

@test "tdrv-fingerprint: host attributes match the host" {
    run --separate-stderr -0 tdrv-fingerprint
    [ -z "$stderr" ]
    [ "$(attr kernel.name)" = linux ]
    [ "$(attr kernel.version)" = "$(uname -r)" ]
    [ "$(attr cpu.numcores)" = "$(nproc)" ]
    [ "$(attr unique.hostname)" = "$(hostname)" ]
    [ "$(attr os.name)" = "$(. /etc/os-release && echo "$ID")" ]
    [ "$(attr memory.totalbytes)" = "$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) * 1024))" ]
    [ "$(attr node.datacenter)" = dc1 ]
    [ "$(attr node.unique.name)" = "$(hostname)" ]
    mhz=$(attr cpu.frequency)
    [ "$(attr cpu.totalcompute)" = "$((mhz * $(nproc)))" ]
    # Every attribute is a string; every driver has the three health fields.
    jq -e '[.attributes[] | type] | all(. == "string")' <<<"$output"
    jq -e '.drivers | keys == ["containerd", "docker", "oci", "rkt"]' <<<"$output"
    jq -e '[.drivers[] | (.detected|type) == "boolean" and (.healthy|type) == "boolean"
            and (.health_description|type) == "string"] | all' <<<"$output"
}

@test "tdrv-fingerprint: datacenter, node_name and meta come from the operator's file" {
    printf 'datacenter: eu-west\nnode_name: n7\nmeta:\n  rack: r12\n  team: infra\n' >"$TDRV_CONFIG"
    run --separate-stderr -0 tdrv-fingerprint
    [ "$(attr node.datacenter)" = eu-west ]
    [ "$(attr node.unique.name)" = n7 ]
    [ "$(attr meta.rack)" = r12 ]
    [ "$(attr meta.team)" = infra ]
}

@test "tdrv-fingerprint: oci reports runtimes, cgroups, overlayfs and the store" {
    run --separate-stderr -0 tdrv-fingerprint
    if command -v runc >/dev/null; then
        [ "$(attr driver.oci.runc.version)" = "$(runc --version | awk 'NR==1 {print $3}')" ]
    fi
    grep -qw overlay /proc/filesystems && [ "$(attr driver.oci.overlayfs)" = true ]
    [[ "$(attr driver.oci.cgroup.version)" =~ ^[12]$ ]]
    [ "$(attr driver.oci.store)" = "$TDRV_ROOT" ]
    [ "$(attr driver.oci.store.writable)" = true ]
}

# ---------------------------------------------------------------- --check

@test "--check '=' and '!=' compare strings" {
    run -0 tdrv-fingerprint --check '${attr.kernel.name} = linux'
    jq -e '.checks == [{"constraint": "${attr.kernel.name} = linux", "holds": true}]' <<<"$output"
    run -0 tdrv-fingerprint --check '${attr.kernel.name} == linux'
    run -0 tdrv-fingerprint --check '${attr.kernel.name} != windows'
    run --separate-stderr -1 tdrv-fingerprint --check '${attr.kernel.name} = windows'
    jq -e '.error.exit == 1 and .error.code == "constraint_not_met"' <<<"$output"
    jq -e '.checks[0].holds == false' <<<"$output"
    [ "$stderr" = "tdrv-fingerprint: error: constraint '\${attr.kernel.name} = windows' does not hold (attr.kernel.name is 'linux')" ]
    run -1 tdrv-fingerprint --check '${attr.kernel.name} != linux'
}

@test "--check '>' '>=' '<' '<=' compare numbers as numbers" {
    n=$(nproc)
    run -0 tdrv-fingerprint --check "\${attr.cpu.numcores} >= $n"
    run -0 tdrv-fingerprint --check "\${attr.cpu.numcores} <= $n"
    run -0 tdrv-fingerprint --check "\${attr.cpu.numcores} > $((n - 1))"
    run -0 tdrv-fingerprint --check "\${attr.cpu.numcores} < $((n * 100))"
    run -1 tdrv-fingerprint --check "\${attr.cpu.numcores} > $n"
    run -1 tdrv-fingerprint --check "\${attr.cpu.numcores} < $n"
    run -1 tdrv-fingerprint --check "\${attr.cpu.numcores} >= $((n * 100))"
    run -1 tdrv-fingerprint --check "\${attr.cpu.numcores} <= $((n - 1))"
}

@test "--check 'version' takes a constraint list" {
    fake_rkt 1.30.0
    run -0 tdrv-fingerprint --check '${driver.rkt.version} version >= 1.27.0, < 2.0'
    run -0 tdrv-fingerprint --check '${driver.rkt.version} version ~> 1.29'
    run -0 tdrv-fingerprint --check '${driver.rkt.version} version = 1.30'
    run -1 tdrv-fingerprint --check '${driver.rkt.version} version < 1.30.0'
    run -1 tdrv-fingerprint --check '${driver.rkt.version} version ~> 1.31.0'
    run -1 tdrv-fingerprint --check '${attr.driver.docker.version} version >= 1.0'
}

@test "--check 'regexp' matches an extended regular expression" {
    run -0 tdrv-fingerprint --check '${attr.kernel.version} regexp ^[0-9]+\.[0-9]+'
    run -0 tdrv-fingerprint --check '${attr.cpu.arch} regexp ^(amd64|arm64|386|arm|ppc64le|s390x|riscv64)$'
    run -1 tdrv-fingerprint --check '${attr.kernel.name} regexp ^win'
}

@test "--check 'is_set' and 'is_not_set'" {
    run -0 tdrv-fingerprint --check '${attr.unique.hostname} is_set'
    run -0 tdrv-fingerprint --check '${attr.driver.rkt} is_not_set'
    run -0 tdrv-fingerprint --check '${meta.nope} is_not_set'
    run --separate-stderr -1 tdrv-fingerprint --check '${attr.driver.rkt} is_set'
    [ "$stderr" = "tdrv-fingerprint: error: constraint '\${attr.driver.rkt} is_set' does not hold (attr.driver.rkt is not set)" ]
    run -1 tdrv-fingerprint --check '${attr.kernel.name} is_not_set'
}

@test "--check 'set_contains' and 'set_contains_any' read comma lists" {
    printf 'meta:\n  roles: "web, cache,db"\n' >"$TDRV_CONFIG"
    run -0 tdrv-fingerprint --check '${meta.roles} set_contains cache,web'
    run -1 tdrv-fingerprint --check '${meta.roles} set_contains cache,queue'
    run -0 tdrv-fingerprint --check '${meta.roles} set_contains_any queue, db'
    run -1 tdrv-fingerprint --check '${meta.roles} set_contains_any queue'
}

@test "--check: several constraints must all hold; \${node.X} reads the operator's names" {
    printf 'datacenter: dc9\n' >"$TDRV_CONFIG"
    run -0 tdrv-fingerprint --check '${node.datacenter} = dc9' --check '${attr.kernel.name} = linux'
    jq -e '.checks | length == 2 and all(.holds)' <<<"$output"
    run --separate-stderr -1 tdrv-fingerprint --check '${node.datacenter} = dc9' \
        --check '${attr.kernel.name} = bsd'
    jq -e '[.checks[].holds] == [true, false]' <<<"$output"
}

@test "--check: a malformed expression is 65" {
    run --separate-stderr -65 tdrv-fingerprint --check 'kernel.name = linux'
    jq -e '.error.code == "invalid_constraint"' <<<"$output"
    [ "$stderr" = "tdrv-fingerprint: error: invalid constraint 'kernel.name = linux': expected '\${attribute}' first" ]
    run --separate-stderr -65 tdrv-fingerprint --check '${attr.kernel.name} like linux'
    [ "$stderr" = "tdrv-fingerprint: error: invalid constraint '\${attr.kernel.name} like linux': unknown operator 'like'" ]
    run --separate-stderr -65 tdrv-fingerprint --check '${attr.kernel.name} ='
    [ "$stderr" = "tdrv-fingerprint: error: invalid constraint '\${attr.kernel.name} =': '=' needs a value" ]
    run --separate-stderr -65 tdrv-fingerprint --check '${attr.kernel.name} regexp ('
    [[ "$stderr" == "tdrv-fingerprint: error: invalid constraint '\${attr.kernel.name} regexp (': bad regexp: "* ]]
    run --separate-stderr -65 tdrv-fingerprint --check '${attr.kernel.version} version >= one'
    [ "$stderr" = "tdrv-fingerprint: error: invalid constraint '\${attr.kernel.version} version >= one': invalid version constraint '>= one'" ]
    run -65 tdrv-fingerprint --check '${attr.kernel.name} is_set yes'
}

# ---------------------------------------------------------------- rkt

@test "rkt: not on PATH is undetected, not an error" {
    run -0 env PATH=/usr/bin:/bin "$TDRV_BIN/tdrv-fingerprint"
    jq -e '.drivers.rkt == {"detected": false, "healthy": false,
           "health_description": "rkt not found in PATH"}' <<<"$output"
}

@test "rkt: 1.25.0 is detected but unhealthy (minimum 1.27.0)" {
    [ "$(id -u)" -eq 0 ] || skip "the rkt driver requires root"
    fake_rkt 1.25.0
    run --separate-stderr -0 tdrv-fingerprint
    jq -e '.drivers.rkt == {"detected": true, "healthy": false,
           "health_description": "Unsupported rkt version 1.25.0 (minimum 1.27.0)"}' <<<"$output"
    [ "$(attr driver.rkt.version)" = 1.25.0 ]
    [ "$(attr driver.rkt)" = "<unset>" ]
}

@test "rkt: 1.30.0 is healthy with its versions as attributes" {
    [ "$(id -u)" -eq 0 ] || skip "the rkt driver requires root"
    fake_rkt 1.30.0 0.8.11
    run --separate-stderr -0 tdrv-fingerprint
    jq -e '.drivers.rkt == {"detected": true, "healthy": true, "health_description": "Healthy"}' \
        <<<"$output"
    [ "$(attr driver.rkt)" = true ]
    [ "$(attr driver.rkt.version)" = 1.30.0 ]
    [ "$(attr driver.rkt.appc.version)" = 0.8.11 ]
    [ "$(attr driver.rkt.volumes.enabled)" = true ]
}

@test "rkt: output without an appc line is unparsable, undetected" {
    [ "$(id -u)" -eq 0 ] || skip "the rkt driver requires root"
    printf '#!/bin/sh\necho "rkt version 0.8.1"\n' >"$BATS_TEST_TMPDIR/bin/rkt"
    chmod +x "$BATS_TEST_TMPDIR/bin/rkt"
    PATH="$BATS_TEST_TMPDIR/bin:$PATH" run -0 tdrv-fingerprint
    jq -e '.drivers.rkt.detected == false and
           .drivers.rkt.health_description == "Unable to parse rkt version string"' <<<"$output"
}

@test "rkt: a hung rkt is cut off at --timeout, with what it started" {
    [ "$(id -u)" -eq 0 ] || skip "the rkt driver requires root"
    # It closes stdout and goes on running, in a child of its own: both must end.
    printf '#!/bin/sh\nexec >&-\nsleep 30 &\necho $! >"%s"\nwait\n' "$BATS_TEST_TMPDIR/sleep.pid" \
        >"$BATS_TEST_TMPDIR/bin/rkt"
    chmod +x "$BATS_TEST_TMPDIR/bin/rkt"
    start=$(date +%s%N)
    PATH="$BATS_TEST_TMPDIR/bin:$PATH" run -0 tdrv-fingerprint --timeout 300ms
    elapsed=$((($(date +%s%N) - start) / 1000000))
    [ "$elapsed" -lt 3000 ]
    jq -e '.drivers.rkt.detected == false' <<<"$output"
    jq -e '.drivers.rkt.health_description | test("did not answer within 300 ms")' <<<"$output"
    sleep_pid=$(cat "$BATS_TEST_TMPDIR/sleep.pid")
    # Gone, or a zombie waiting for whoever inherited it.
    state=$(awk '{print $3}' "/proc/$sleep_pid/stat" 2>/dev/null || echo gone)
    [[ "$state" == gone || "$state" == Z ]]
}

# ---------------------------------------------------------------- docker

@test "docker: no Engine is undetected, quickly" {
    start=$(date +%s%N)
    run --separate-stderr -0 tdrv-fingerprint
    elapsed=$((($(date +%s%N) - start) / 1000000))
    [ "$elapsed" -lt 2000 ]
    jq -e '.drivers.docker.detected == false and .drivers.docker.healthy == false' <<<"$output"
    jq -e '.drivers.docker.health_description | startswith("Failed to connect to docker daemon")' \
        <<<"$output"
    [ "$(attr driver.docker)" = "<unset>" ]
}

@test "docker: a refused TCP endpoint from the operator's file is undetected" {
    port=$(tdrv_free_port)
    printf 'endpoint: tcp://127.0.0.1:%s\n' "$port" >"$TDRV_CONFIG"
    run --separate-stderr -0 tdrv-fingerprint
    jq -e '.drivers.docker.detected == false' <<<"$output"
    jq -e '.drivers.docker.health_description | endswith("Connection refused")' <<<"$output"
}

@test "docker: an Engine that never answers is cut off at --timeout" {
    command -v python3 >/dev/null || skip "python3 is needed for a silent listener"
    sock="$BATS_TEST_TMPDIR/hung.sock"
    python3 -c 'import socket,sys,time
s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(8)
c=s.accept(); time.sleep(30)' "$sock" 3>&- &
    pid=$!
    for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
    start=$(date +%s%N)
    DOCKER_HOST="unix://$sock" run --separate-stderr -0 tdrv-fingerprint --timeout 400ms
    elapsed=$((($(date +%s%N) - start) / 1000000))
    tdrv_stop_pid "$pid"
    [ "$elapsed" -lt 3000 ]
    jq -e '.drivers.docker.detected == false' <<<"$output"
    jq -e '.drivers.docker.health_description | test("[Tt]imeout|timed out")' <<<"$output"
}

@test "docker: a real Engine is detected and healthy, with its version and bridge IP" {
    tdrv_dockerd_skip_unless
    [ -n "${TDRV_DOCKERD_SOCK:-}" ] || fail "the Engine did not start in setup_file"
    export DOCKER_HOST=$TDRV_DOCKERD_HOST
    run --separate-stderr -0 tdrv-fingerprint
    jq -e '.drivers.docker == {"detected": true, "healthy": true, "health_description": "Healthy"}' \
        <<<"$output"
    [ "$(attr driver.docker)" = true ]
    server=$(docker -H "$TDRV_DOCKERD_HOST" version --format '{{.Server.Version}}')
    [ -n "$server" ]
    [ "$(attr driver.docker.version)" = "$server" ]
    gw=$(docker -H "$TDRV_DOCKERD_HOST" network inspect bridge \
        --format '{{(index .IPAM.Config 0).Gateway}}')
    [ "$gw" = "$TDRV_DOCKERD_BRIDGE_IP" ]
    [ "$(attr driver.docker.bridge_ip)" = "$gw" ]
    [ "$(attr driver.docker.os_type)" = linux ]
    [[ ",$(attr driver.docker.runtimes)," == *,runc,* ]]
    [ "$(attr driver.docker.privileged.enabled)" = "<unset>" ]
    run -0 tdrv-fingerprint --check "\${driver.docker.version} = $server"
}

@test "docker: the endpoint, allow_privileged and volumes come from the operator's file" {
    tdrv_dockerd_skip_unless
    [ -n "${TDRV_DOCKERD_SOCK:-}" ] || fail "the Engine did not start in setup_file"
    printf 'endpoint: %s\nallow_privileged: true\nvolumes:\n  enabled: false\n' \
        "$TDRV_DOCKERD_HOST" >"$TDRV_CONFIG"
    run --separate-stderr -0 tdrv-fingerprint
    jq -e '.drivers.docker.healthy == true' <<<"$output"
    [ "$(attr driver.docker.privileged.enabled)" = true ]
    [ "$(attr driver.docker.volumes.enabled)" = "<unset>" ]
    printf 'endpoint: %s\n' "$TDRV_DOCKERD_HOST" >"$TDRV_CONFIG"
    run --separate-stderr -0 tdrv-fingerprint
    [ "$(attr driver.docker.volumes.enabled)" = true ]
}

@test "docker: -vv traces the Engine requests on stderr only" {
    tdrv_dockerd_skip_unless
    [ -n "${TDRV_DOCKERD_SOCK:-}" ] || fail "the Engine did not start in setup_file"
    DOCKER_HOST=$TDRV_DOCKERD_HOST run --separate-stderr -0 tdrv-fingerprint -vv
    jq -e '.drivers.docker.healthy' <<<"$output"
    [[ "$stderr" == *"tdrv-fingerprint: debug: http > GET /version HTTP/1.1"* ]]
    [[ "$stderr" == *"GET /v1."*"/info HTTP/1.1"* ]]
}

@test "docker: with the Engine stopped it is undetected, fast" {
    tdrv_dockerd_skip_unless
    [ -n "${TDRV_DOCKERD_SOCK:-}" ] || fail "the Engine did not start in setup_file"
    tdrv_dockerd_stop
    start=$(date +%s%N)
    DOCKER_HOST=$TDRV_DOCKERD_HOST run --separate-stderr -0 tdrv-fingerprint
    elapsed=$((($(date +%s%N) - start) / 1000000))
    [ "$elapsed" -lt 2000 ]
    jq -e '.drivers.docker.detected == false and .drivers.docker.healthy == false' <<<"$output"
    [ "$(attr driver.docker)" = "<unset>" ]
    [ "$(attr driver.docker.version)" = "<unset>" ]
}

# A stand-in Engine on a Unix socket, for what a real one cannot be made to do.
start_fake_engine() {
    command -v python3 >/dev/null || skip "python3 is needed for the fake Engine"
    FAKE_SOCK="$BATS_TEST_TMPDIR/fake.sock"
    rm -f "$FAKE_SOCK"
    python3 "$BATS_TEST_DIRNAME/lib/fake-engine.py" "$FAKE_SOCK" "$@" 3>&- &
    FAKE_PID=$!
    for _ in $(seq 100); do [ -S "$FAKE_SOCK" ] && return 0; sleep 0.05; done
    fail "the fake Engine did not start"
}

@test "docker: the API version is min(the Engine's, 1.43)" {
    start_fake_engine 99.1.0 1.99
    DOCKER_HOST="unix://$FAKE_SOCK" run --separate-stderr -0 tdrv-fingerprint -vv
    tdrv_stop_pid "$FAKE_PID"
    [ "$(attr driver.docker.version)" = 99.1.0 ]
    [ "$(attr driver.docker.api_version)" = 1.43 ]
    [ "$(attr driver.docker.runtimes)" = crun,runc ]
    [[ "$stderr" == *"http > GET /v1.43/info HTTP/1.1"* ]]
    start_fake_engine 19.03.0 1.40
    DOCKER_HOST="unix://$FAKE_SOCK" run --separate-stderr -0 tdrv-fingerprint
    tdrv_stop_pid "$FAKE_PID"
    [ "$(attr driver.docker.api_version)" = 1.40 ]
}

# wait_lines N FILE: until FILE has N lines (30 s at most)
wait_lines() {
    local i
    for i in $(seq 300); do
        [ "$(wc -l <"$2" 2>/dev/null || echo 0)" -ge "$1" ] && return 0
        sleep 0.1
    done
    echo "$2 has fewer than $1 lines after 30 s:" >&2
    cat "$2" >&2
    return 1
}

@test "--watch: an Engine that was detected and is lost turns unhealthy" {
    start_fake_engine 24.0.0
    DOCKER_HOST="unix://$FAKE_SOCK" tdrv-fingerprint --watch=100ms \
        >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
    pid=$!
    # polled, not slept: under ASan on a loaded host the first report can take over 1 s
    wait_lines 1 "$BATS_TEST_TMPDIR/out"
    tdrv_stop_pid "$FAKE_PID"
    wait_lines 2 "$BATS_TEST_TMPDIR/out"
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ]
    # healthy, then only unhealthy reports without its attributes. The Engine may go
    # half-way through a probe (a connection reset, then refused: two descriptions, two
    # reports); that probe must not say healthy with half the attributes.
    run -0 jq -e -s 'length >= 2
        and .[0].drivers.docker == {"detected": true, "healthy": true, "health_description": "Healthy"}
        and .[0].attributes["driver.docker.version"] == "24.0.0"
        and all(.[1:][]; .drivers.docker.detected == true and .drivers.docker.healthy == false
            and (.attributes | keys | map(select(startswith("driver.docker"))) == []))' \
        "$BATS_TEST_TMPDIR/out"
}

# ---------------------------------------------------------------- --watch

@test "--watch prints a JSON line, then another when a driver changes, until SIGTERM" {
    [ "$(id -u)" -eq 0 ] || skip "the rkt driver requires root"
    PATH="$BATS_TEST_TMPDIR/bin:$PATH" tdrv-fingerprint --watch=100ms \
        >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
    pid=$!
    wait_lines 1 "$BATS_TEST_TMPDIR/out"
    fake_rkt 1.30.0
    wait_lines 2 "$BATS_TEST_TMPDIR/out"
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ]
    run -0 jq -e -s 'length >= 2 and all(has("attributes") and has("drivers"))
        and .[0].drivers.rkt.detected == false and .[-1].drivers.rkt.healthy == true' \
        "$BATS_TEST_TMPDIR/out"
    [ ! -s "$BATS_TEST_TMPDIR/err" ]
}
