#!/usr/bin/env bats
# Networking of the daemonless backend (issue 6): bridge + portmap, group, none, DNS files,
# teardown on stop and from the state file alone (as tdrv-gc does). As root, with runc and
# the CNI plugins in /usr/lib/cni. Every run uses its own bridge, subnet and CNI network name,
# so runs never collide; traffic goes only to 127.0.0.1 and to the namespaces made here.

load helpers

setup_file() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    command -v runc >/dev/null || skip "needs runc"
    [ -x /usr/lib/cni/bridge ] || skip "needs containernetworking-plugins"
    command -v iptables-save >/dev/null || skip "needs iptables"
    export LAYOUT="$BATS_FILE_TMPDIR/busybox-oci"
    "$TDRV_TOP/scripts/mkimage-busybox.sh" "$LAYOUT" docker.io/library/busybox:latest >/dev/null
    # the test-only driver of common/net.c, built against this build's library
    local lib san=
    lib="$(dirname "$TDRV_BIN")/libtdrv.a"
    case "$TDRV_BIN" in */asan/*) san="-fsanitize=address,undefined" ;; esac
    export NET_HELPER="$BATS_FILE_TMPDIR/net-helper"
    # shellcheck disable=SC2046
    cc -std=gnu11 -D_GNU_SOURCE -include "$TDRV_TOP/common/banned.h" -iquote "$TDRV_TOP/common" \
        $(pkg-config --cflags libcjson) $san -o "$NET_HELPER" "$TDRV_TOP/tests/helpers/net-helper.c" \
        "$lib" $(pkg-config --libs libcurl libcjson yaml-0.1 libarchive libcrypto) -lpthread
    local id a b
    id=$(printf '%06x' $(((RANDOM << 9 ^ RANDOM) & 0xffffff)))
    export NET_NAME="tdrvt-$id" BRIDGE="tdt$id"
    for _ in $(seq 50); do
        a=$((RANDOM % 200 + 20)) b=$((RANDOM % 256))
        ip -4 route | grep -q "^10\.$a\.$b\." || break
    done
    export SUBNET="10.$a.$b.0/24" SUBNET_PREFIX="10.$a.$b."
}

teardown_file() {
    [ -n "${BRIDGE:-}" ] || return 0
    ip link del "$BRIDGE" 2>/dev/null || true
    rm -rf "/var/lib/cni/networks/$NET_NAME"
}

setup() {
    tdrv_test_env
    PIDS=()
    ALLOC=$(cat /proc/sys/kernel/random/uuid)
    mkdir -p "$TDRV_ROOT/cni"
    conflist "$NET_NAME" >"$TDRV_ROOT/cni/tdrv.conflist"
    tdrv-pull --load "$LAYOUT" docker.io/library/busybox:latest >/dev/null
}

teardown() {
    local t f
    for p in "${PIDS[@]}"; do tdrv_stop_pid "$p"; done
    if [ -d "$TDRV_RUN/runtime" ]; then
        for t in $(runc --root "$TDRV_RUN/runtime" list -q 2>/dev/null); do
            runc --root "$TDRV_RUN/runtime" delete --force "$t" 2>/dev/null || true
        done
    fi
    # a failed test still leaves nothing behind: networks from their state files
    for f in "$TDRV_ROOT"/allocs/*/*/network.json "$TDRV_ROOT"/allocs/*/network/state.json; do
        [ -e "$f" ] && "$NET_HELPER" teardown "$f" 2>/dev/null || true
    done
    grep -o " $BATS_TEST_TMPDIR[^ ]*" /proc/self/mounts | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
}

# conflist NAME: the test network (tdrv's default network, on this run's bridge and subnet)
conflist() {
    jq -n --arg n "$1" --arg b "$BRIDGE" --arg s "$SUBNET" '{
      cniVersion: "1.0.0", name: $n, plugins: [
        {type: "bridge", bridge: $b, isGateway: true, forceAddress: true, ipMasq: true,
         hairpinMode: true, ipam: {type: "host-local", ranges: [[{subnet: $s}]],
                                   routes: [{dst: "0.0.0.0/0"}]}},
        {type: "firewall", backend: "iptables", iptablesAdminChainName: "TDRV-ADMIN"},
        {type: "portmap", capabilities: {portMappings: true}, snat: true}]}'
}

# The per-container nat chains the CNI plugins make for container ID on this run's network,
# named as the plugins name them (utils.FormatChainName: "CNI-" + prefix + the hex SHA-512 of
# network name + container id, cut to 28 characters): the bridge plugin's ipMasq chain
# CNI-<hash> and portmap's CNI-DN-<hash>. Other test files' containers have other names, so
# these are this test's own, whatever runs at the same time.
cni_chains_of() {
    local h
    h=$(printf '%s%s' "$NET_NAME" "$1" | sha512sum | cut -c1-24)
    echo "CNI-$h"
    echo "CNI-DN-${h:0:21}"
}

# The nat chains of those that exist now, one a line.
cni_chains_present() {
    local c
    for c in $(cni_chains_of "$1"); do
        iptables-save -t nat | grep -q -- "^:$c " && echo "$c"
    done
    return 0
}

# task NAME SCRIPT [EXTRA-JSON]: busybox running `sh -c SCRIPT`; EXTRA merged in (jq *).
task() {
    local name=$1 script=$2 extra=${3:-'{}'}
    jq -nc --arg a "$ALLOC" --arg n "$name" --arg s "$script" --argjson x "$extra" \
        '{alloc_id: $a, task: $n, config: {image: "busybox", command: "sh", args: ["-c", $s]}} * $x'
}

# wait_http URL WANT: poll until the body is WANT (5 s)
wait_http() {
    local body
    for _ in $(seq 50); do
        body=$(curl -s -m 1 "$1" 2>/dev/null) && [ "$body" = "$2" ] && return 0
        sleep 0.1
    done
    echo "no '$2' from $1 (last: '$body')" >&2
    return 1
}

# assert_clean ID...: nothing of these container ids is left: veth on our bridge, IPAM lease,
# iptables rule or chain, namespace, state file.
assert_clean() {
    local id leases l
    # a foreground run reports first and tears down in a child holding the lease: wait for it
    for l in "$TDRV_ROOT"/allocs/*/*/lease; do
        [ -e "$l" ] || continue
        for _ in $(seq 100); do flock -n "$l" true && break; sleep 0.1; done
    done
    run ip -o link show master "$BRIDGE"
    [ -z "$output" ] || { echo "veth left: $output" >&2; return 1; }
    leases=$(ls -A "/var/lib/cni/networks/$NET_NAME" 2>/dev/null | grep -v -e '^lock$' -e '^last_reserved_ip' || true)
    [ -z "$leases" ] || { echo "IPAM leases left: $leases" >&2; return 1; }
    for id in "$@"; do
        if iptables-save | grep -F -- "$id" >&2; then echo "iptables rules of $id left" >&2; return 1; fi
    done
    for id in "$@"; do
        [ -z "$(cni_chains_present "$id")" ] || { echo "CNI chains of $id left" >&2; return 1; }
    done
    # any rule naming this run's network (the plugins' comments), whatever its container id
    if iptables-save | grep -F -- "$NET_NAME" >&2; then
        echo "iptables rules of network $NET_NAME left" >&2; return 1
    fi
    # rules naming an address of this run's subnet (the firewall plugin's carry no id)
    if iptables-save | grep -E -- "-[sd] ${SUBNET_PREFIX//./\\.}[0-9]+/32" >&2; then
        echo "iptables rules for the subnet left" >&2; return 1
    fi
    [ -z "$(ls -A "$TDRV_RUN/netns" 2>/dev/null)" ] || { ls -l "$TDRV_RUN/netns" >&2; return 1; }
    ! ls "$TDRV_ROOT"/allocs/*/*/network.json "$TDRV_ROOT"/allocs/*/network/state.json 2>/dev/null
}

@test "bridge: busybox httpd answers on 127.0.0.1:<host port>; the container IP is in the env and the handle" {
    local port handle ip cid veth
    port=$(tdrv_free_port 30000 39999)
    task web 'echo hello >/tmp/index.html; echo "$NOMAD_IP_http $NOMAD_ADDR_http $NOMAD_HOST_PORT_http" >/tmp/env.txt; exec httpd -f -p 8080 -h /tmp' \
        "{\"ports\":[{\"label\":\"http\",\"value\":$port,\"to\":8080,\"host_ip\":\"127.0.0.1\"}]}" >"$BATS_TEST_TMPDIR/t.json"
    run --separate-stderr tdrv-run --detach <"$BATS_TEST_TMPDIR/t.json"
    assert_success
    handle=$output
    PIDS+=("$(jq -r .handle.monitor_pid <<<"$handle")")
    jq -e '.handle.network.mode == "bridge"' <<<"$handle"
    jq -e --arg n "$NET_NAME" '.handle.network.network == $n' <<<"$handle"
    ip=$(jq -r .handle.network.ip <<<"$handle")
    [[ "$ip" == "$SUBNET_PREFIX"* ]]
    cid="web-$ALLOC"
    [ "$(jq -r .handle.network.netns <<<"$handle")" = "$TDRV_RUN/netns/$cid" ]
    veth=$(jq -r --arg b "$BRIDGE" '.result.interfaces[] | select(.sandbox == null and .name != $b) | .name' \
        "$TDRV_ROOT/allocs/$ALLOC/web/network.json")
    ip link show "$veth" >/dev/null

    wait_http "http://127.0.0.1:$port/index.html" hello
    # straight to the container, in the namespace this test made
    run curl -s -m 2 "http://$ip:8080/env.txt"
    assert_output "$ip $ip:8080 $port"
    # tcp and udp are both forwarded, and the IPAM lease is the container's
    iptables-save -t nat | grep -F -- "$cid" | grep -q -- '-p tcp'
    iptables-save -t nat | grep -F -- "$cid" | grep -q -- '-p udp'
    # its own masquerade and DNAT chains (what assert_clean checks are gone afterwards)
    [ "$(cni_chains_present "$cid" | wc -l)" -eq 2 ]
    [ -e "/var/lib/cni/networks/$NET_NAME/$ip" ]
    # CNI CHECK of the running network (without portmap: its CHECK of an IPv4-only container
    # looks for IPv6 rules in containernetworking-plugins 1.1, upstream issue #819)
    jq 'del(.conflist.plugins[] | select(.type == "portmap"))' \
        "$TDRV_ROOT/allocs/$ALLOC/web/network.json" >"$BATS_TEST_TMPDIR/check.json"
    run "$NET_HELPER" check "$BATS_TEST_TMPDIR/check.json"
    assert_success

    run --separate-stderr tdrv-run --stop <<<"$handle"
    assert_success
    assert_clean "$cid"
    ! ip link show "$veth" 2>/dev/null
    run curl -s -m 1 "http://127.0.0.1:$port/index.html"
    [ "$output" != hello ]
}

@test "bridge: after kill -9 of the supervisor, a teardown from the state file alone (as tdrv-gc) leaves nothing, twice" {
    local port handle cid mpid
    port=$(tdrv_free_port 30000 39999)
    task gcme 'echo up >/tmp/index.html; exec httpd -f -p 80 -h /tmp' \
        "{\"ports\":[{\"label\":\"http\",\"value\":$port,\"to\":80}]}" >"$BATS_TEST_TMPDIR/t.json"
    run --separate-stderr tdrv-run --detach <"$BATS_TEST_TMPDIR/t.json"
    assert_success
    handle=$output
    cid="gcme-$ALLOC"
    mpid=$(jq -r .handle.monitor_pid <<<"$handle")
    wait_http "http://127.0.0.1:$port/index.html" up
    kill -9 "$mpid"
    runc --root "$TDRV_RUN/runtime" kill "$cid" KILL 2>/dev/null || true
    for _ in $(seq 50); do flock -n "$TDRV_ROOT/allocs/$ALLOC/gcme/lease" true && break; sleep 0.1; done
    [ -e "$TDRV_ROOT/allocs/$ALLOC/gcme/network.json" ]
    run "$NET_HELPER" teardown "$TDRV_ROOT/allocs/$ALLOC/gcme/network.json"
    assert_success
    assert_clean "$cid"
    run "$NET_HELPER" teardown "$TDRV_ROOT/allocs/$ALLOC/gcme/network.json"
    assert_success
    # tdrv-run --stop after that finds nothing more to undo
    run --separate-stderr tdrv-run --stop <<<"$handle"
    assert_success
    assert_clean "$cid"
}

@test "group: two tasks of one allocation share one namespace and reach each other on localhost; the last one out tears it down" {
    local handle ip port
    port=$(tdrv_free_port 30000 39999)
    task server 'echo from-server >/tmp/index.html; exec httpd -f -p 8081 -h /tmp' \
        "{\"network\":{\"mode\":\"group\"},\"ports\":[{\"label\":\"http\",\"value\":$port,\"to\":8081}]}" \
        >"$BATS_TEST_TMPDIR/a.json"
    run --separate-stderr tdrv-run --detach <"$BATS_TEST_TMPDIR/a.json"
    assert_success
    handle=$output
    PIDS+=("$(jq -r .handle.monitor_pid <<<"$handle")")
    jq -e '.handle.network.mode == "group"' <<<"$handle"
    ip=$(jq -r .handle.network.ip <<<"$handle")
    [ "$(jq -r .handle.network.netns <<<"$handle")" = "$TDRV_RUN/netns/$ALLOC" ]

    task client 'ip -4 -o addr show eth0 | awk "{print \$4}"; for i in $(seq 50); do wget -q -O - http://127.0.0.1:8081/index.html && exit 0; sleep 0.1; done; exit 1' \
        '{"network":{"mode":"group"}}' >"$BATS_TEST_TMPDIR/b.json"
    run --separate-stderr tdrv-run --result-fd 3 <"$BATS_TEST_TMPDIR/b.json" 3>/dev/null
    assert_success
    assert_line --index 0 "$ip/24"
    assert_line --index 1 from-server
    # the client is gone (its teardown, after the report, holds its lease), the server still
    # holds the allocation's namespace
    for _ in $(seq 100); do flock -n "$TDRV_ROOT/allocs/$ALLOC/client/lease" true && break; sleep 0.1; done
    [ -e "$TDRV_RUN/netns/$ALLOC" ]
    [ ! -e "$TDRV_ROOT/allocs/$ALLOC/client/network.json" ]
    [ "$(ls "$TDRV_ROOT/allocs/$ALLOC/network/tasks")" = server ]
    run curl -s -m 2 "http://$ip:8081/index.html"
    assert_output from-server
    # the server's own port, forwarded into the group's namespace
    wait_http "http://127.0.0.1:$port/index.html" from-server

    run --separate-stderr tdrv-run --stop <<<"$handle"
    assert_success
    assert_clean "$ALLOC"
}

@test "none: the container has only lo" {
    task alone 'ip -o link | cut -d: -f2 | tr -d " "' '{"config":{"network_mode":"none"}}' \
        >"$BATS_TEST_TMPDIR/t.json"
    run --separate-stderr tdrv-run --result-fd 3 <"$BATS_TEST_TMPDIR/t.json" 3>/dev/null
    assert_success
    assert_output lo
    # rkt's --net=none names the same mode
    task alone2 'ip -o link | wc -l' '{"driver":"rkt","config":{"net":["none"]}}' \
        >"$BATS_TEST_TMPDIR/t.json"
    run --separate-stderr tdrv-run --result-fd 3 <"$BATS_TEST_TMPDIR/t.json" 3>/dev/null
    assert_success
    assert_output 1
    assert_clean "alone-$ALLOC"
}

@test "bridge: dns_servers, dns_search_domains, dns_options, extra_hosts and hostname in the container's files" {
    task dns 'cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; hostname' \
        '{"network":{"mode":"bridge"},"config":{"dns_servers":["10.0.0.53","10.0.0.54"],
          "dns_search_domains":["example.internal"],"dns_options":["ndots:2"],
          "extra_hosts":["db.internal:10.1.2.3"],"hostname":"webhost"}}' >"$BATS_TEST_TMPDIR/t.json"
    run --separate-stderr tdrv-run --result-fd 3 <"$BATS_TEST_TMPDIR/t.json" 3>/dev/null
    assert_success
    assert_line "nameserver 10.0.0.53"
    assert_line "nameserver 10.0.0.54"
    assert_line "search example.internal"
    assert_line "options ndots:2"
    assert_line --regexp $'^10\\.1\\.2\\.3[[:space:]]+db\\.internal$'
    assert_line webhost
    # the task's own name resolves to its container address, as Docker writes it
    assert_line --regexp "^${SUBNET_PREFIX//./\\.}[0-9]+[[:space:]]+webhost\$"
    # rkt: dns_servers = ["host"] is the host's resolv.conf, on the rkt default (contained) net
    task dns2 'grep ^nameserver /etc/resolv.conf; ip -o link | wc -l' \
        '{"driver":"rkt","config":{"net":["default"],"dns_servers":["host"]}}' >"$BATS_TEST_TMPDIR/t.json"
    run --separate-stderr tdrv-run --result-fd 3 <"$BATS_TEST_TMPDIR/t.json" 3>/dev/null
    assert_success
    assert_output "$(grep ^nameserver /etc/resolv.conf; echo 2)"
    # containerd-driver: host_dns = false mounts no resolv.conf (the image's, none in busybox)
    task dns3 '[ -e /etc/resolv.conf ] && echo present || echo absent' \
        '{"driver":"containerd-driver","network":{"mode":"bridge"},"config":{"host_dns":false}}' \
        >"$BATS_TEST_TMPDIR/t.json"
    run --separate-stderr tdrv-run --result-fd 3 <"$BATS_TEST_TMPDIR/t.json" 3>/dev/null
    assert_success
    assert_output absent
    assert_clean "dns-$ALLOC" "dns2-$ALLOC" "dns3-$ALLOC"
}

@test "an operator's CNI network by name (network_mode, rkt net); an unknown one is 66 and leaves nothing" {
    mkdir -p "$BATS_TEST_TMPDIR/net.d"
    conflist "$NET_NAME" >"$BATS_TEST_TMPDIR/net.d/10-test.conflist"
    export TDRV_CNI_CONF_DIR="$BATS_TEST_TMPDIR/net.d"
    rm -f "$TDRV_ROOT/cni/tdrv.conflist"
    task op 'ip -4 -o addr show eth0 | awk "{print \$4}"' "{\"config\":{\"network_mode\":\"$NET_NAME\"}}" \
        >"$BATS_TEST_TMPDIR/t.json"
    run --separate-stderr tdrv-run --result-fd 3 <"$BATS_TEST_TMPDIR/t.json" 3>/dev/null
    assert_success
    [[ "$output" == "$SUBNET_PREFIX"*/24 ]]
    task op2 'ip -4 -o addr show eth0 | wc -l' "{\"driver\":\"rkt\",\"config\":{\"net\":[\"$NET_NAME\"]}}" \
        >"$BATS_TEST_TMPDIR/t.json"
    run --separate-stderr tdrv-run --result-fd 3 <"$BATS_TEST_TMPDIR/t.json" 3>/dev/null
    assert_success
    assert_output 1

    task nonet true '{"config":{"network_mode":"no-such-network"}}' >"$BATS_TEST_TMPDIR/t.json"
    run --separate-stderr tdrv-run <"$BATS_TEST_TMPDIR/t.json"
    [ "$status" -eq 125 ] || [ "$status" -eq 66 ]
    jq -e '.error.code == "network_not_found" and .error.exit == 66' <<<"$output"
    assert_clean "op-$ALLOC" "op2-$ALLOC" "nonet-$ALLOC"
}

@test "a plugin that fails halfway: the error names it, and what the plugins before it made is undone" {
    jq '.plugins += [{type: "tdrv-no-such-plugin"}]' "$TDRV_ROOT/cni/tdrv.conflist" >"$BATS_TEST_TMPDIR/c"
    mv "$BATS_TEST_TMPDIR/c" "$TDRV_ROOT/cni/tdrv.conflist"
    task broken true '{"network":{"mode":"bridge"}}' >"$BATS_TEST_TMPDIR/t.json"
    run --separate-stderr tdrv-run <"$BATS_TEST_TMPDIR/t.json"
    [ "$status" -ne 0 ]
    jq -e '.error.code == "cni_plugin_not_found" and .error.exit == 69' <<<"$output"
    jq -e '.error.message | contains("tdrv-no-such-plugin")' <<<"$output"
    assert_clean "broken-$ALLOC"
}

@test "the default network tdrv ships, written to \$TDRV_ROOT/cni when missing" {
    run "$NET_HELPER" default-conflist
    assert_success
    jq -e '.name == "tdrv" and .cniVersion == "1.0.0"' <<<"$output"
    jq -e '.plugins[0] | .type == "bridge" and .bridge == "tdrv0" and .ipMasq
           and .ipam.type == "host-local" and .ipam.ranges[0][0].subnet == "172.26.64.0/20"' <<<"$output"
    jq -e '[.plugins[].type] == ["bridge", "firewall", "portmap"]' <<<"$output"
    jq -e '.plugins[2] | .snat and .capabilities.portMappings' <<<"$output"
    # a dry run never touches the network; the file is written on first use only
    rm -f "$TDRV_ROOT/cni/tdrv.conflist"
    task dry true '{"network":{"mode":"bridge"}}' >"$BATS_TEST_TMPDIR/t.json"
    run --separate-stderr tdrv-run --dry-run <"$BATS_TEST_TMPDIR/t.json"
    assert_success
    jq -e '.linux.namespaces | map(.type) | index("network") != null' <<<"$output"
    [ ! -e "$TDRV_ROOT/cni/tdrv.conflist" ]
    [ ! -e "$TDRV_RUN/netns" ]
}

@test "bad network options are 65 naming the option" {
    task x true '{"config":{"network_mode":"container:other"}}' >"$BATS_TEST_TMPDIR/t.json"
    run --separate-stderr -65 tdrv-run --dry-run <"$BATS_TEST_TMPDIR/t.json"
    jq -e '.error.message == "config.network_mode: '"'container:other'"' is not supported"' <<<"$output"
    task x true '{"driver":"rkt","config":{"net":["a","b"]}}' >"$BATS_TEST_TMPDIR/t.json"
    run --separate-stderr -65 tdrv-run --dry-run <"$BATS_TEST_TMPDIR/t.json"
    jq -e '.error.message | startswith("config.net: more than one network")' <<<"$output"
    task x true '{"driver":"containerd-driver","config":{"host_network":true},"network":{"mode":"bridge"}}' \
        >"$BATS_TEST_TMPDIR/t.json"
    run --separate-stderr -65 tdrv-run --dry-run <"$BATS_TEST_TMPDIR/t.json"
    jq -e '.error.message | contains("mutually exclusive")' <<<"$output"
}

@test "group: tasks starting at the same time join one namespace; kill -9 of one supervisor, then --stop of each, leaves nothing" {
    local i h
    for i in 1 2 3; do
        task "g$i" 'exec sleep 60' '{"network":{"mode":"group"},"kill_signal":"SIGKILL"}' \
            >"$BATS_TEST_TMPDIR/g$i.json"
    done
    for i in 1 2 3; do
        tdrv-run --detach <"$BATS_TEST_TMPDIR/g$i.json" >"$BATS_TEST_TMPDIR/h$i.json" &
    done
    wait
    for i in 1 2 3; do
        PIDS+=("$(jq -r .handle.monitor_pid "$BATS_TEST_TMPDIR/h$i.json")")
        [ "$(jq -r .handle.network.netns "$BATS_TEST_TMPDIR/h$i.json")" = "$TDRV_RUN/netns/$ALLOC" ]
    done
    [ "$(jq -r .handle.network.ip "$BATS_TEST_TMPDIR/h1.json")" = \
      "$(jq -r .handle.network.ip "$BATS_TEST_TMPDIR/h3.json")" ]
    [ "$(ls "$TDRV_ROOT/allocs/$ALLOC/network/tasks" | wc -l)" -eq 3 ]
    # the first supervisor dies with its container: --stop cleans up after it
    kill -9 "$(jq -r .handle.monitor_pid "$BATS_TEST_TMPDIR/h1.json")"
    runc --root "$TDRV_RUN/runtime" kill "g1-$ALLOC" KILL 2>/dev/null || true
    for _ in $(seq 50); do flock -n "$TDRV_ROOT/allocs/$ALLOC/g1/lease" true && break; sleep 0.1; done
    run --separate-stderr tdrv-run --stop <"$BATS_TEST_TMPDIR/h1.json"
    assert_success
    [ -e "$TDRV_RUN/netns/$ALLOC" ]
    run --separate-stderr tdrv-run --stop <"$BATS_TEST_TMPDIR/h2.json"
    assert_success
    [ -e "$TDRV_RUN/netns/$ALLOC" ]
    run --separate-stderr tdrv-run --stop <"$BATS_TEST_TMPDIR/h3.json"
    assert_success
    assert_clean "$ALLOC" "g1-$ALLOC" "g2-$ALLOC" "g3-$ALLOC"
}
