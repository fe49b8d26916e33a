#!/usr/bin/env bats
# tdrv-ports: the shared tool contract, allocation, the ledger under concurrency and crashes.

load helpers

setup() {
    tdrv_test_env
    printf 'host_ip: 127.0.0.1\n' >"$TDRV_CONFIG"
    PIDS=()
}

teardown() {
    for p in "${PIDS[@]}"; do tdrv_stop_pid "$p"; done
}

# Operator config with a dynamic range of [lo, hi] on 127.0.0.1.
ports_range() {
    printf 'host_ip: 127.0.0.1\nports: {min: %d, max: %d}\n' "$1" "$2" >"$TDRV_CONFIG"
}

# A document for alloc $1 asking for dynamic ports labelled $2...
doc() {
    local alloc=$1 ports="" sep="" l
    shift
    for l in "$@"; do ports+="$sep{\"label\":\"$l\"}"; sep=","; done
    printf '{"alloc_id":"%s","group":"g","task":"t","network":{"ports":[%s]}}' "$alloc" "$ports"
}

# A start port p such that p..p+n-1 are free on 127.0.0.1 (tcp connect refused).
free_run() {
    local n=$1 p ok i
    for _ in $(seq 100); do
        p=$((41000 + RANDOM % 8000))
        ok=1
        for ((i = 0; i < n; i++)); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$((p + i))") 2>/dev/null; then ok=0; break; fi
        done
        if [ $ok = 1 ]; then echo "$p"; return 0; fi
    done
    return 1
}

# Bind 127.0.0.1:$2 with protocol $1 (tcp|udp) in a python3 process; remembers its PID.
hold_port() {
    local proto=$1 port=$2 ready="$BATS_TEST_TMPDIR/ready.$1.$2"
    python3 -c '
import socket, sys, time
kind = socket.SOCK_STREAM if sys.argv[1] == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET, kind)
s.bind(("127.0.0.1", int(sys.argv[2])))
if kind == socket.SOCK_STREAM:
    s.listen(1)
open(sys.argv[3], "w").close()
time.sleep(300)
' "$proto" "$port" "$ready" 3>&- &
    PIDS+=($!)
    for _ in $(seq 100); do [ -e "$ready" ] && return 0; sleep 0.05; done
    return 1
}

@test "tdrv-ports --help prints usage with the exit codes and exits 0" {
    run --separate-stderr -0 tdrv-ports --help
    assert_line --index 0 "usage: tdrv-ports [options] < task.json"
    assert_output --partial "Exit status:"
    assert_output --partial "75 temporary failure, retry (port_conflict, ports_exhausted, lock_busy)"
    [ -z "$stderr" ]
}

@test "tdrv-ports --version prints the version" {
    run --separate-stderr -0 tdrv-ports --version
    assert_output --regexp '^tdrv-ports [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "tdrv-ports: an unknown option is a usage error (64) in JSON" {
    run --separate-stderr -64 tdrv-ports --bogus
    jq -e '.error.exit == 64 and .error.code == "usage" and .error.tool == "tdrv-ports"' <<<"$output"
    [ "${#stderr_lines[@]}" -eq 2 ]
    [ "${stderr_lines[0]}" = "tdrv-ports: error: unknown option '--bogus'" ]
    [ "${stderr_lines[1]}" = "tdrv-ports: try 'tdrv-ports --help'" ]
}

@test "tdrv-ports: a missing option argument and a stray --alloc are usage errors (64)" {
    run --separate-stderr -64 tdrv-ports --task
    [ "${stderr_lines[0]}" = "tdrv-ports: error: option '--task' requires an argument" ]
    run --separate-stderr -64 tdrv-ports --alloc a1
    [ "${stderr_lines[0]}" = "tdrv-ports: error: --alloc needs --release or --list" ]
    run --separate-stderr -64 tdrv-ports --list --release
    jq -e '.error.exit == 64' <<<"$output"
}

@test "tdrv-ports: malformed stdin is 65 with the byte offset" {
    run --separate-stderr -65 tdrv-ports <<<'{"network": {"ports": ['
    jq -e '.error.exit == 65 and .error.code == "invalid_input"' <<<"$output"
    [ "$stderr" = "tdrv-ports: error: malformed JSON at byte 24: unexpected end" ]
}

@test "tdrv-ports: an invalid network.ports entry is 65 naming it" {
    run --separate-stderr -65 tdrv-ports <<<'{"network": {"ports": [{"label": "a", "statik": 80}]}}'
    jq -e '.error.exit == 65' <<<"$output"
    [ "$stderr" = "tdrv-ports: error: request.network.ports[0]: unknown option 'statik'" ]
    run --separate-stderr -65 tdrv-ports <<<'{"network": {"ports": [{"label": "a", "static": 70000}]}}'
    [ "$stderr" = "tdrv-ports: error: request.network.ports[0].static: 70000 is out of range [1, 65535]" ]
    run --separate-stderr -65 tdrv-ports <<<'{"config": {"port_map": {"web": 80}}, "network": {"ports": [{"label": "a"}]}}'
    [ "$stderr" = "tdrv-ports: error: request.config.port_map.web: no port labelled 'web' in network.ports" ]
    run --separate-stderr -65 tdrv-ports <<<'{"config": {"port_map": {"a": "80-sctp"}}, "network": {"ports": [{"label": "a"}]}}'
    jq -e '.error.exit == 65' <<<"$output"
    run --separate-stderr -65 tdrv-ports <<<'{"env": "A=1", "network": {"ports": [{"label": "a"}]}}'
    [ "$stderr" = "tdrv-ports: error: request.env: expected object" ]
    run --separate-stderr -0 tdrv-ports --list
    jq -e '.count == 0' <<<"$output"
}

@test "tdrv-ports: a failed write of stdout is 74" {
    run --separate-stderr -74 bash -c 'tdrv-ports >/dev/full <<<"$1"' _ "$(doc a1 http)"
    [ "$stderr" = "tdrv-ports: error: unable to write output: No space left on device" ]
}

@test "tdrv-ports: a document carrying an error passes through with its status" {
    in='{"task":"t","error":{"tool":"tdrv-pull","code":"auth_failed","exit":77,"message":"denied"}}'
    run --separate-stderr -77 tdrv-ports <<<"$in"
    [ "$output" = "$in" ]
    [ -z "$stderr" ]
}

@test "tdrv-ports: a corrupt ledger is an internal error (70), never a guess" {
    mkdir -p "$TDRV_ROOT/ports"
    printf '20000\ttcp\ta1\n' >"$TDRV_ROOT/ports/ledger"
    run --separate-stderr -70 tdrv-ports <<<"$(doc a2 http)"
    jq -e '.error.code == "ledger_corrupt"' <<<"$output"
}

@test "tdrv-ports: a ledger that cannot be created is 71" {
    export TDRV_ROOT=/dev/null/root
    run --separate-stderr -71 tdrv-ports <<<"$(doc a1 http)"
    jq -e '.error.code == "os_error" and .error.errno == 20' <<<"$output"
    [ "$stderr" = "tdrv-ports: error: unable to create '/dev/null/root': Not a directory" ]
}

@test "tdrv-ports: a static port leased to another allocation is 75 port_conflict naming the holder" {
    run --separate-stderr -0 tdrv-ports <<<'{"alloc_id":"a1","group":"g","task":"web","network":{"ports":[{"label":"admin","static":8500}]}}'
    run --separate-stderr -75 tdrv-ports <<<'{"alloc_id":"a2","network":{"ports":[{"label":"x","static":8500}]}}'
    jq -e '.error.code == "port_conflict" and .error.exit == 75' <<<"$output"
    [ "$stderr" = "tdrv-ports: error: port 8500 ('x') is already leased to alloc a1 (g/web, label 'admin')" ]
}

@test "tdrv-ports: running out of dynamic ports is 75 ports_exhausted, all or nothing" {
    p=$(free_run 2)
    ports_range "$p" $((p + 1))
    run --separate-stderr -75 tdrv-ports <<<"$(doc a1 a b c)"
    jq -e '.error.code == "ports_exhausted"' <<<"$output"
    [ "$stderr" = "tdrv-ports: error: no free port in $p-$((p + 1)) for 'c' (0 in use on the host)" ]
    run --separate-stderr -0 tdrv-ports --list
    jq -e '.count == 0' <<<"$output"
    run --separate-stderr -0 tdrv-ports <<<"$(doc a2 a b)"
    jq -e '[.ports[].value] | sort == ['"$p"','"$((p + 1))"']' <<<"$output"
}

@test "tdrv-ports: a ledger lock held too long is 75 lock_busy" {
    mkdir -p "$TDRV_ROOT/ports"
    flock -o "$TDRV_ROOT/ports/lock" sleep 10 &
    PIDS+=($!)
    for _ in $(seq 50); do
        flock -n "$TDRV_ROOT/ports/lock" true || break
        sleep 0.05
    done
    TDRV_PORTS_LOCK_TIMEOUT=1 run --separate-stderr -75 tdrv-ports <<<"$(doc a1 http)"
    jq -e '.error.code == "lock_busy"' <<<"$output"
    [ "$stderr" = "tdrv-ports: error: unable to lock '$TDRV_ROOT/ports/lock': still busy after 1s" ]
}

@test "tdrv-ports: a static port the operator reserved is 77 port_reserved" {
    printf 'host_ip: 127.0.0.1\nports: {reserved: "22,8000-8100"}\n' >"$TDRV_CONFIG"
    run --separate-stderr -77 tdrv-ports <<<'{"network":{"ports":[{"label":"x","static":8080}]}}'
    jq -e '.error.code == "port_reserved"' <<<"$output"
    [ "$stderr" = "tdrv-ports: error: port 8080 ('x') is reserved by the operator" ]
}

@test "tdrv-ports: reserved ports are never handed out dynamically" {
    p=$(free_run 3)
    printf 'host_ip: 127.0.0.1\nports: {min: %d, max: %d, reserved: [%d, "%d-%d"]}\n' \
        "$p" $((p + 2)) "$p" $((p + 1)) $((p + 1)) >"$TDRV_CONFIG"
    run --separate-stderr -0 tdrv-ports <<<"$(doc a1 a)"
    jq -e '.ports[0].value == '$((p + 2)) <<<"$output"
    run --separate-stderr -75 tdrv-ports <<<"$(doc a2 a)"
}

@test "tdrv-ports: an invalid operator config is 78 naming the key" {
    printf 'ports: {min: 30000, max: 20000}\n' >"$TDRV_CONFIG"
    run --separate-stderr -78 tdrv-ports <<<"$(doc a1 http)"
    jq -e '.error.code == "invalid_config" and .error.exit == 78' <<<"$output"
    [ "$stderr" = "tdrv-ports: error: config.ports.min: 30000 is above ports.max 20000" ]
}

@test "tdrv-ports: ports and the port environment are added; to and port_map give the container side" {
    in='{"alloc_id":"a1","task":"t","env":{"A":"1"},"config":{"port_map":[{"api":8080}]},
         "network":{"ports":[{"label":"db","to":6379},{"label":"api"},{"label":"admin","static":8501},{"label":"x-y"}]}}'
    run --separate-stderr -0 tdrv-ports <<<"$in"
    jq -e '.env.A == "1"' <<<"$output"
    jq -e '.ports | length == 4 and all(.host_ip == "127.0.0.1")' <<<"$output"
    jq -e '.ports[0].label == "db" and .ports[0].to == 6379 and .ports[0].value >= 20000 and .ports[0].value <= 32000' <<<"$output"
    jq -e '.ports[1].to == 8080 and .ports[2].value == 8501 and .ports[2].to == 8501' <<<"$output"
    jq -e '.env.NOMAD_PORT_db == "6379" and .env.NOMAD_HOST_PORT_db == (.ports[0].value | tostring)' <<<"$output"
    jq -e '.env.NOMAD_IP_db == "127.0.0.1" and .env.NOMAD_ADDR_db == "127.0.0.1:\(.ports[0].value)"' <<<"$output"
    jq -e '.env.NOMAD_PORT_api == "8080" and .env.NOMAD_PORT_admin == "8501"' <<<"$output"
    jq -e '.env.NOMAD_PORT_x_y == (.ports[3].value | tostring)' <<<"$output"
}

@test "tdrv-ports: rkt's port_map names (8080-tcp) are understood" {
    in='{"alloc_id":"a1","driver":"rkt","config":{"port_map":{"app":"6379-tcp","dns":"53-udp"}},
         "network":{"ports":[{"label":"app"},{"label":"dns"}]}}'
    run --separate-stderr -0 tdrv-ports <<<"$in"
    jq -e '.env.NOMAD_PORT_app == "6379" and .env.NOMAD_PORT_dns == "53"' <<<"$output"
    run --separate-stderr -0 tdrv-ports --list
    jq -e '[.leases[].protocol] == ["tcp", "udp"]' <<<"$output"
    in='{"alloc_id":"a2","config":{"port_map":[{"a":80},{"b":"53-udp"}]},"network":{"ports":[{"label":"a"},{"label":"b"}]}}'
    run --separate-stderr -0 tdrv-ports <<<"$in"
    jq -e '.env.NOMAD_PORT_a == "80" and .env.NOMAD_PORT_b == "53"' <<<"$output"
}

@test "tdrv-ports: a Nomad job with --task gets its group's ports" {
    run --separate-stderr -0 tdrv-ports --task cache/redis <"$TDRV_TOP/tests/fixtures/nomad-job.json"
    jq -e '.task == "redis" and (.alloc_id | length) == 36' <<<"$output"
    jq -e '.env.NOMAD_PORT_db == "6379" and .env.NOMAD_HOST_PORT_admin == "8500"' <<<"$output"
    run --separate-stderr -64 tdrv-ports <"$TDRV_TOP/tests/fixtures/nomad-job.json"
    [ "${stderr_lines[0]}" = "tdrv-ports: error: the job has 3 tasks, choose one with --task GROUP/TASK: cache/redis, web/frontend, web/sidecar" ]
}

@test "tdrv-ports: the same allocation asking again gets the same ports" {
    run --separate-stderr -0 tdrv-ports <<<"$(doc a1 http grpc)"
    first=$(jq -c '[.ports[].value]' <<<"$output")
    run --separate-stderr -0 tdrv-ports <<<"$(doc a1 http grpc)"
    [ "$(jq -c '[.ports[].value]' <<<"$output")" = "$first" ]
    run --separate-stderr -0 tdrv-ports --list
    jq -e '.count == 2' <<<"$output"
}

@test "tdrv-ports: a task may name one of the host's addresses, not another" {
    run --separate-stderr tdrv-ports <<<'{"network":{"host_ip":"127.0.0.1","ports":[{"label":"a"}]}}'
    [ "$status" -eq 0 ] || { echo "status $status: $stderr"; false; }
    jq -e '.ports[0].host_ip == "127.0.0.1"' <<<"$output"
    run --separate-stderr -65 tdrv-ports <<<'{"network":{"host_ip":"192.0.2.77","ports":[{"label":"a"}]}}'
    [ "$stderr" = "tdrv-ports: error: request.network.host_ip: '192.0.2.77' is not an address of this host" ]
}

@test "tdrv-ports: without host_ip the default route's interface address is used" {
    : >"$TDRV_CONFIG"
    run --separate-stderr -0 tdrv-ports <<<"$(doc a1 http)"
    ip=$(jq -r '.ports[0].host_ip' <<<"$output")
    dev=$(awk '$2 == "00000000" && $8 == "00000000" {print $1; exit}' /proc/net/route)
    if [ -z "$dev" ]; then
        [ "$ip" = 127.0.0.1 ]
    else
        ip -4 -o addr show dev "$dev" | grep -qF " $ip/"
    fi
}

@test "tdrv-ports: 200 processes at once for different allocations all get distinct ports" {
    out="$BATS_TEST_TMPDIR/out"
    mkdir -p "$out"
    pids=()
    for i in $(seq 200); do
        tdrv-ports <<<"$(doc "alloc-$i" http)" >"$out/$i.json" 2>"$out/$i.err" &
        pids+=($!)
    done
    fails=0
    for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
    [ "$fails" -eq 0 ]
    [ "$(cat "$out"/*.json | jq -s '[.[].ports[0].value] | unique | length')" -eq 200 ]
    run --separate-stderr -0 tdrv-ports --list
    jq -e '.count == 200 and ([.leases[].port] | unique | length) == 200' <<<"$output"
    jq -e '([.leases[].alloc_id] | unique | length) == 200' <<<"$output"
}

@test "tdrv-ports: a port bound by another process (tcp or udp) is never handed out" {
    p=$(free_run 3)
    ports_range "$p" $((p + 2))
    hold_port tcp "$p"
    hold_port udp $((p + 1))
    for alloc in a1 a2 a3; do
        run --separate-stderr -0 tdrv-ports <<<"$(doc "$alloc" http)"
        jq -e '.ports[0].value == '$((p + 2)) <<<"$output"
        run --separate-stderr -0 tdrv-ports --release --alloc "$alloc"
    done
    run --separate-stderr -0 tdrv-ports <<<"$(doc b1 http)"
    run --separate-stderr -75 tdrv-ports <<<"$(doc b2 http)"
    jq -e '.error.code == "ports_exhausted"' <<<"$output"
    [ "$stderr" = "tdrv-ports: error: no free port in $p-$((p + 2)) for 'http' (2 in use on the host)" ]
    run --separate-stderr -75 tdrv-ports <<<'{"network":{"ports":[{"label":"s","static":'"$p"'}]}}'
    [ "$stderr" = "tdrv-ports: error: port $p ('s') is in use on the host (127.0.0.1)" ]
}

@test "tdrv-ports: release makes ports available again (by --alloc and by document)" {
    p=$(free_run 1)
    ports_range "$p" "$p"
    run --separate-stderr -0 tdrv-ports <<<"$(doc a1 http)"
    allocated=$output
    run --separate-stderr -75 tdrv-ports <<<"$(doc a2 http)"
    run --separate-stderr -0 tdrv-ports --release --alloc a1
    jq -e '.alloc_id == "a1" and (.released | length) == 1 and .released[0].port == '"$p" <<<"$output"
    run --separate-stderr -0 tdrv-ports <<<"$(doc a2 http)"
    jq -e '.ports[0].value == '"$p" <<<"$output"
    run --separate-stderr -0 tdrv-ports --release <<<"$output"
    jq -e '.alloc_id == "a2" and .released[0].port == '"$p"' and (has("ports") | not)' <<<"$output"
    run --separate-stderr -0 tdrv-ports --list
    jq -e '.count == 0' <<<"$output"
    run --separate-stderr -0 tdrv-ports --release --alloc a1
    jq -e '.released == []' <<<"$output"
    [ -n "$allocated" ]
}

@test "tdrv-ports: kill -9 in the middle of an allocation leaves a consistent ledger" {
    run --separate-stderr -0 tdrv-ports <<<"$(doc before http)"
    TDRV_TEST_PORTS_DELAY_MS=20000 tdrv-ports <<<"$(doc victim http grpc)" >/dev/null 2>&1 &
    victim=$!
    PIDS+=($victim)
    for _ in $(seq 200); do
        grep -q victim "$TDRV_ROOT/ports/ledger.tmp" 2>/dev/null && break
        sleep 0.05
    done
    grep -q victim "$TDRV_ROOT/ports/ledger.tmp"
    kill -9 "$victim"
    wait "$victim" || true
    run --separate-stderr -0 tdrv-ports --list
    jq -e '.count == 1 and .leases[0].alloc_id == "before"' <<<"$output"
    run --separate-stderr -0 tdrv-ports <<<"$(doc after http grpc)"
    run --separate-stderr -0 tdrv-ports --list
    jq -e '.count == 3 and ([.leases[].port] | unique | length) == 3' <<<"$output"
    jq -e '[.leases[].alloc_id] | sort == ["after", "after", "before"]' <<<"$output"
    run --separate-stderr -0 tdrv-ports --list --alloc after
    jq -e '.count == 2' <<<"$output"
}
