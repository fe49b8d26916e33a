#!/usr/bin/env bats
# Concurrency, against real parts started here: Debian's docker-registry on 127.0.0.1
# (ports 5400-5499), runc, the store, the port ledger and tdrv-gc.
#   1. 8 tdrv-pull at once of images sharing layers (some refs identical) into one store,
#      with tdrv-gc sweeping in a loop meanwhile.
#   2. 50 tasks started at once (tdrv-pull | tdrv-ports | tdrv-run --detach, two dynamic
#      ports each, one store, one ledger), with tdrv-gc --images in a loop throughout; then
#      stopped at once, and a final tdrv-gc leaves nothing.
# docs/concurrency.md says what is asserted and why. Dynamic ports come from 15000-15399, a
# range no other test file uses. 40 tasks are on the host network (their own httpd binds
# their host ports, so a port handed out twice could not even be bound twice); 10 are bridged
# on this file's own CNI network (bridge, subnet and name of its own), their ports forwarded.

load helpers
load lib/registry

FX="$TDRV_TOP/tests/fixtures/registry"
NPULL=8
NTASK=50
PORT_MIN=15000
PORT_MAX=15399

setup_file() {
    local d=$BATS_FILE_TMPDIR
    : >"$d/pids"
    : >"$d/env"
    cd "$d"
    "$TDRV_TOP/scripts/mkimage-busybox.sh" bb >/dev/null
    # a=L1 b=L1,L2 c=L2,L3 d=L1,L2,L4 over busybox's layer: "NAME DIGEST CHAIN..." lines
    python3 "$FX/mkfamily.py" --layer-bytes 1500000 bb fam >family.txt
    REGISTRY_PORTS="5400 5499" REGISTRY_ACCESSLOG=1 start_registry REG ""
    push bb "127.0.0.1:$REG_PORT/library/busybox:1"
    for n in a b c d; do push "fam/$n" "127.0.0.1:$REG_PORT/fam/$n:1"; done
    push fam/b "127.0.0.1:$REG_PORT/fam/b:alias"
    # the bridged tasks' network
    local id a b
    id=$(printf '%06x' $(((RANDOM << 9 ^ RANDOM) & 0xffffff)))
    for _ in $(seq 50); do
        a=$((RANDOM % 200 + 20)) b=$((RANDOM % 256))
        ip -4 route 2>/dev/null | grep -q "^10\.$a\.$b\." || break
    done
    printf 'NET_NAME=tdrvcc-%s\nBRIDGE=tdc%s\nSUBNET=10.%d.%d.0/24\n' "$id" "$id" "$a" "$b" >>"$d/env"
}

teardown_file() {
    local pid
    while read -r pid; do tdrv_stop_pid "$pid"; done <"$BATS_FILE_TMPDIR/pids"
    # shellcheck disable=SC1091
    source "$BATS_FILE_TMPDIR/env"
    ip link del "$BRIDGE" 2>/dev/null || true
    rm -rf "/var/lib/cni/networks/$NET_NAME"
    python3 "$BATS_TEST_DIRNAME/lib/cni-clean.py" "$NET_NAME" || true
}

setup() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    command -v runc >/dev/null || skip "needs runc"
    tdrv_test_env
    # shellcheck disable=SC1091
    source "$BATS_FILE_TMPDIR/env"
    R="127.0.0.1:$REG_PORT"
    T=$BATS_TEST_TMPDIR
    PIDS=()
    # image_delay 60s: an image used in the last minute stays, whatever else the gc loop does
    printf 'host_ip: 127.0.0.1\nports: {min: %d, max: %d}\ngc: {image: true, image_delay: 60s}\n' \
        "$PORT_MIN" "$PORT_MAX" >"$TDRV_CONFIG"
    mkdir -p "$TDRV_ROOT/cni"
    jq -n --arg n "$NET_NAME" --arg b "$BRIDGE" --arg s "$SUBNET" '{
      cniVersion: "1.0.0", name: $n, plugins: [
        {type: "bridge", bridge: $b, isGateway: true, forceAddress: true, ipMasq: true,
         hairpinMode: true, ipam: {type: "host-local", ranges: [[{subnet: $s}]],
                                   routes: [{dst: "0.0.0.0/0"}]}},
        {type: "firewall", backend: "iptables", iptablesAdminChainName: "TDRV-ADMIN"},
        {type: "portmap", capabilities: {portMappings: true}, snat: true}]}' \
        >"$TDRV_ROOT/cni/tdrv.conflist"
}

teardown() {
    local p s
    [ -z "${T:-}" ] || touch "$T/gc.stop"
    for p in "${PIDS[@]}"; do tdrv_stop_pid "$p"; done
    # whatever a failed test left running: stopped (all at once), then reaped as tdrv-gc does it
    if [ -d "${TDRV_ROOT:-/nonexistent}/allocs" ]; then
        for s in "$TDRV_ROOT"/allocs/*/*/state.json; do
            [ -f "$s" ] || continue
            tdrv-run --stop <"$s" >/dev/null 2>&1 &
        done
        wait
        TDRV_GC_NOW=+24h tdrv-gc --live --no-images <<<'[]' >/dev/null 2>&1 || true
        tdrv_kill_monitors
    fi
    tdrv_remove_containers
}

# family NAME: "DIGEST CHAIN..." of image NAME (a b c d); busybox's is its only chain
family() { awk -v n="$1" '$1 == n { $1 = ""; sub(/^ /, ""); print }' "$BATS_FILE_TMPDIR/family.txt"; }

# No sanitizer report, no crash text, in the stderr files given.
no_sanitizer_output() {
    ! grep -lE 'AddressSanitizer|LeakSanitizer|runtime error:|SUMMARY: ' "$@" >&2
}

# gc_loop DIR: tdrv-gc --images, pass after pass, until DIR/gc.stop exists; each pass's
# report, stderr and status in DIR/gc.N.{json,err,rc}.
gc_loop() {
    local n=0
    while [ ! -e "$1/gc.stop" ]; do
        tdrv-gc --images >"$1/gc.$n.json" 2>"$1/gc.$n.err"
        echo $? >"$1/gc.$n.rc"
        n=$((n + 1))
    done
}

# gc_passes DIR: how many passes finished
gc_passes() { find "$1" -maxdepth 1 -name 'gc.*.rc' | wc -l; }

# gc_reports_ok DIR: every pass exited 0 with no error, no sanitizer output
gc_reports_ok() {
    local bad
    bad=$(grep -Lx 0 "$1"/gc.*.rc) || true
    [ -z "$bad" ] || { echo "gc passes failed: $bad" >&2; cat "${bad%%.rc*}.err" >&2; return 1; }
    jq -se 'all(.[]; .counts.errors == 0)' "$1"/gc.*.json >/dev/null
    no_sanitizer_output "$1"/gc.*.err
}

# Every blob under the store's images/blobs is what its name says.
blobs_match_digests() {
    local f bad=0
    for f in "$TDRV_ROOT"/images/blobs/sha256/*; do
        [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || { echo "blob $f" >&2; bad=1; }
    done
    return $bad
}

@test "8 tdrv-pull at once of overlapping images into one store (tdrv-gc sweeping meanwhile): all succeed, each blob and layer once, index whole" {
    local refs i want n got logoff
    refs=(fam/a:1 fam/b:1 fam/c:1 fam/d:1 library/busybox:1 fam/a:1 fam/d:1 fam/b:alias)
    [ "${#refs[@]}" -eq "$NPULL" ]
    # this test's requests only: the registry's log from here (it writes at its own offset)
    logoff=$(stat -c %s "$BATS_FILE_TMPDIR/REG/log")
    gc_loop "$T" &
    PIDS+=("$!")
    for i in "${!refs[@]}"; do
        tdrv-pull "$R/${refs[i]}" >"$T/pull.$i.json" 2>"$T/pull.$i.err" &
        PIDS+=("$!")
        eval "pull_$i=$!"
    done
    for i in "${!refs[@]}"; do
        eval "wait \$pull_$i" || { echo "pull $i (${refs[i]}) failed" >&2; cat "$T/pull.$i.json" "$T/pull.$i.err" >&2; return 1; }
    done
    touch "$T/gc.stop"
    wait "${PIDS[0]}"
    no_sanitizer_output "$T"/pull.*.err
    [ "$(gc_passes "$T")" -ge 1 ]
    gc_reports_ok "$T"
    jq -se '[.[].removed[]] == []' "$T"/gc.*.json # nothing of a pull is ever swept

    # each pull answered with the manifest pushed under its ref
    for i in "${!refs[@]}"; do
        n=${refs[i]#fam/}
        n=${n%%:*}
        [ "$n" != library/busybox ] || n=bb
        if [ "$n" = bb ]; then
            want=$(jq -r '.manifests[0].digest' "$BATS_FILE_TMPDIR/bb/index.json")
        else
            want=$(family "$n" | cut -d' ' -f1)
        fi
        jq -e --arg d "$want" --arg r "$R/${refs[i]}" \
            '.image.manifest_digest == $d and .image.reference == $r' "$T/pull.$i.json"
    done

    # index.json: valid JSON, one descriptor per distinct ref (6), each the right manifest
    jq -e . "$TDRV_ROOT/images/index.json" >/dev/null
    got=$(jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' \
        "$TDRV_ROOT/images/index.json" | sort)
    want=$(printf '%s\n' "${refs[@]}" | sed "s|^|$R/|" | sort -u)
    [ "$got" = "$want" ]
    for i in "${!refs[@]}"; do
        jq -e --arg r "$R/${refs[i]}" --arg d "$(jq -r .image.manifest_digest "$T/pull.$i.json")" \
            '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest] == [$d]' \
            "$TDRV_ROOT/images/index.json"
    done

    # blobs: every one matches its digest, and they are exactly the pushed layouts' blobs
    blobs_match_digests
    got=$(ls "$TDRV_ROOT/images/blobs/sha256" | sort)
    want=$(ls "$BATS_FILE_TMPDIR"/bb/blobs/sha256 "$BATS_FILE_TMPDIR"/fam/*/blobs/sha256 | grep -E '^[0-9a-f]{64}$' | sort -u)
    [ "$got" = "$want" ]

    # layers: each distinct chain id unpacked once, whole; no temporary, partial or duplicate
    want=$(cut -d' ' -f3- "$BATS_FILE_TMPDIR/family.txt" | tr ' ' '\n' | sort -u)
    [ "$(wc -l <<<"$want")" -eq 6 ]
    got=$(ls -A "$TDRV_ROOT/layers" | sort)
    [ "$got" = "$(for c in $want; do echo "$c"; echo "$c.json"; done | sort)" ]
    for c in $want; do
        jq -e --arg c "sha256:$c" '.chain_id == $c' "$TDRV_ROOT/layers/$c.json"
        [ -x "$TDRV_ROOT/layers/$c/bin/busybox" ] || [ -d "$TDRV_ROOT/layers/$c/stack" ]
    done
    [ -z "$(ls -A "$TDRV_ROOT/ingest" 2>/dev/null)" ]
    # the work was shared: each layer blob was fetched from the registry exactly once by the
    # 8 pulls together. (A config blob is fetched into memory by each pull that does not find
    # it in the store yet, so two pulls of one image may both fetch its few hundred bytes.)
    got=$(tail -c +$((logoff + 1)) "$BATS_FILE_TMPDIR/REG/log" |
        grep -aoE '"GET /v2/[^ ]*/blobs/sha256:[0-9a-f]{64}' | sed 's/.*blobs\/sha256://' | sort)
    want=$(for l in "$BATS_FILE_TMPDIR"/bb "$BATS_FILE_TMPDIR"/fam/*; do
        m=$(jq -r '.manifests[0].digest | ltrimstr("sha256:")' "$l/index.json")
        jq -r '.layers[].digest | ltrimstr("sha256:")' "$l/blobs/sha256/$m"
    done | sort -u)
    [ "$(wc -l <<<"$want")" -eq 5 ]
    [ "$(grep -xFf <(echo "$want") <<<"$got")" = "$want" ] ||
        { diff <(echo "$want") <(grep -xFf <(echo "$want") <<<"$got") >&2; return 1; }

    # every image runs, and sees exactly its own layers
    for n in a b c d; do
        want=$(family "$n" | cut -d' ' -f1)
        run --separate-stderr tdrv-run --result-fd 3 3>"$T/res.$n.json" < <(jq -nc --arg i "$R/fam/$n:1" \
            --arg a "$(cat /proc/sys/kernel/random/uuid)" \
            '{alloc_id: $a, task: "run", config: {image: $i, command: "sh", args: ["-c", "head -qn1 /stack/*"]}}')
        assert_success
        case $n in
        a) assert_output L1 ;;
        b) assert_output "$(printf 'L1\nL2')" ;;
        c) assert_output "$(printf 'L2\nL3')" ;;
        d) assert_output "$(printf 'L1\nL2\nL4')" ;;
        esac
        jq -e '.result.exit_code == 0' "$T/res.$n.json"
    done
    run --separate-stderr tdrv-run --result-fd 3 3>/dev/null < <(jq -nc --arg i "$R/library/busybox:1" \
        --arg a "$(cat /proc/sys/kernel/random/uuid)" \
        '{alloc_id: $a, task: "run", config: {image: $i, command: "sh", args: ["-c", "[ ! -e /stack ] && echo plain"]}}')
    assert_success
    assert_line plain
}

# task I IMAGE: task I of the 50, with two dynamic ports, bridged when I is a multiple of 5,
# else on the host network (the container port is the host port either way); it writes its
# alloc id and the first line of each of its image's /stack files, serves them with two httpd
# (one on each host port), and exits 3 on SIGTERM (its kill_signal), as its own result
task50() {
    local mode=host
    [ $(($1 % 5)) -ne 0 ] || mode=bridge
    jq -nc --arg a "$(cat /proc/sys/kernel/random/uuid)" --arg n "t$1" --arg i "$2" --arg m "$mode" \
        --arg s 'mkdir /www && echo "$NOMAD_ALLOC_ID" >/www/id && head -qn1 /stack/* | tr "\n" " " >/www/stack && httpd -p "$NOMAD_PORT_aux" -h /www && httpd -p "$NOMAD_PORT_http" -h /www && trap "exit 3" TERM && while :; do sleep 0.2; done' \
        '{alloc_id: $a, task: $n, kill_timeout: "2s",
          network: {mode: $m, ports: [{label: "http"}, {label: "aux"}]},
          config: {image: $i, command: "sh", args: ["-c", $s]}}'
}

# wait_http URL WANT: poll until the body is WANT (30 s: 50 tasks start on 2 cores)
wait_http() {
    local body=
    for _ in $(seq 300); do
        body=$(curl -s -m 2 "$1" 2>/dev/null) && [ "$body" = "$2" ] && return 0
        sleep 0.1
    done
    echo "no '$2' from $1 (last: '$body')" >&2
    return 1
}

@test "$NTASK tasks started at once (ports, then run --detach) with tdrv-gc --images in a loop: all run, no port twice, no lease lost, nothing live reaped; stopped at once, a final gc leaves nothing" {
    local i n h a p1 p2 bad bb_hex docs gcpid want
    local imgs=(a b c d)
    # the store: the four family images (the tasks'), and busybox, made to look unused for
    # an hour so that the gc loop has an image to remove while the others are in use
    for n in a b c d; do tdrv-pull "$R/fam/$n:1" >/dev/null; done
    tdrv-pull "$R/library/busybox:1" >"$T/bb.json"
    bb_hex=$(jq -r '.image.manifest_digest | ltrimstr("sha256:")' "$T/bb.json")
    touch -d '-1 hour' "$TDRV_ROOT/locks/image-$bb_hex"
    for i in $(seq "$NTASK"); do task50 "$i" "$R/fam/${imgs[i % 4]}:1" >"$T/task.$i.json"; done

    gc_loop "$T" &
    PIDS+=("$!")
    gcpid=$!
    # all at once: the whole pipeline per task, 50 pipelines in parallel
    for i in $(seq "$NTASK"); do
        (
            tdrv-pull <"$T/task.$i.json" 2>"$T/pull.$i.err" | tdrv-ports 2>"$T/ports.$i.err" |
                tdrv-run --detach >"$T/h.$i.json" 2>"$T/run.$i.err"
            echo "${PIPESTATUS[*]}" >"$T/rc.$i"
        ) &
    done
    wait_pipelines() {
        for _ in $(seq 1200); do
            [ "$(ls "$T"/rc.* 2>/dev/null | wc -l)" -eq "$NTASK" ] && return 0
            sleep 0.1
        done
        return 1
    }
    wait_pipelines
    for i in $(seq "$NTASK"); do
        [ "$(cat "$T/rc.$i")" = "0 0 0" ] ||
            { echo "task $i: $(cat "$T/rc.$i")" >&2; cat "$T/h.$i.json" "$T"/*."$i".err >&2; return 1; }
    done
    no_sanitizer_output "$T"/pull.*.err "$T"/ports.*.err "$T"/run.*.err

    # no host port handed out twice: the documents' 100 ports are distinct, in the range
    jq -s '[.[].ports[].value]' "$T"/h.*.json >"$T/ports.json"
    jq -e --argjson n "$((2 * NTASK))" --argjson lo "$PORT_MIN" --argjson hi "$PORT_MAX" \
        'length == $n and (unique | length) == $n and all(.[]; . >= $lo and . <= $hi)' "$T/ports.json"
    # the ledger says the same, lease for lease: (alloc, task, label, port)
    docs=$(jq -r '.alloc_id as $a | .task as $t | .ports[] | [$a, $t, .label, .value] | @tsv' "$T"/h.*.json | sort)
    ledger() {
        tdrv-ports --list | jq -r '.leases[] | [.alloc_id, .task, .label, .port] | @tsv' | sort
    }
    [ "$(ledger)" = "$docs" ]

    # all run: each answers on both its ports with its own alloc id, from its own image
    jq -r '[input_filename, .alloc_id, (.ports[] | select(.label == "http") | .value),
            (.ports[] | select(.label == "aux") | .value)] | @tsv' "$T"/h.*.json >"$T/live.tsv"
    [ "$(wc -l <"$T/live.tsv")" -eq "$NTASK" ]
    while IFS=$'\t' read -r h a p1 p2; do
        i=${h##*/h.}
        i=${i%.json}
        wait_http "http://127.0.0.1:$p1/id" "$a"
        wait_http "http://127.0.0.1:$p2/id" "$a"
        case ${imgs[i % 4]} in
        a) want="L1 " ;; b) want="L1 L2 " ;; c) want="L2 L3 " ;; d) want="L1 L2 L4 " ;;
        esac
        [ "$(curl -s -m 2 "http://127.0.0.1:$p1/stack")" = "$want" ]
    done <"$T/live.tsv"
    [ "$(runc --root "$TDRV_RUN/runtime" list -q | wc -l)" -eq "$NTASK" ]
    # the bridged ones: 10, each its own address on this file's subnet; the others on the host
    jq -se --arg p "${SUBNET%0/24}" --argjson n "$((NTASK / 5))" \
        '[.[].handle.network | select(.mode == "bridge")] | length == $n
         and (map(.ip) | unique | length) == $n and all(.[]; .ip | startswith($p))' "$T"/h.*.json
    jq -se --argjson n "$((NTASK - NTASK / 5))" '[.[] | select(.handle.network.mode == "host")] | length == $n' \
        "$T"/h.*.json

    # the gc loop keeps going over the live tasks for a few more passes
    n=$(gc_passes "$T")
    for _ in $(seq 600); do [ "$(gc_passes "$T")" -ge $((n + 3)) ] && break; sleep 0.1; done
    touch "$T/gc.stop"
    wait "$gcpid"
    gc_reports_ok "$T"
    [ "$(gc_passes "$T")" -ge 3 ]
    # nothing live was reaped: no task, no ports; the only image removed is busybox, unused
    jq -se '[.[].removed[] | select(.kind == "task" or .kind == "ports" or .kind == "alloc_dir")] == []' "$T"/gc.*.json
    jq -se --arg d "sha256:$bb_hex" '[.[].removed[] | select(.kind == "image")] | length == 1 and .[0].id == $d' \
        "$T"/gc.*.json
    jq -se '[.[].kept[] | select(.kind == "task")] | length > 0 and all(.[]; .reason == "lease_held" or .reason == "too_young")' \
        "$T"/gc.*.json
    # no lease lost: the ledger still holds every one of them
    [ "$(ledger)" = "$docs" ]
    jq -se --argjson n "$NTASK" 'length == $n and all(.[]; .state == "running")' \
        "$TDRV_ROOT"/allocs/*/t*/state.json >/dev/null
    # the four images in use are whole; busybox's own ref is gone, its layer (shared) kept
    jq -e '[.manifests[].annotations["org.opencontainers.image.ref.name"]] | sort == ($r | map("\($p)/fam/\(.):1"))' \
        --arg p "$R" --argjson r '["a","b","c","d"]' "$TDRV_ROOT/images/index.json"
    blobs_match_digests

    # stop them all at once; each records its result
    for i in $(seq "$NTASK"); do
        (
            tdrv-run --stop <"$T/h.$i.json" >"$T/s.$i.json" 2>"$T/stop.$i.err"
            echo $? >"$T/src.$i"
        ) &
    done
    for _ in $(seq 1200); do
        [ "$(ls "$T"/src.* 2>/dev/null | wc -l)" -eq "$NTASK" ] && break
        sleep 0.1
    done
    bad=$(grep -Lx 0 "$T"/src.*) || true
    [ -z "$bad" ] || { echo "stops failed: $bad" >&2; return 1; }
    # the task's own exit on SIGTERM, in each --stop output and in each state.json
    jq -se --argjson n "$NTASK" 'length == $n and all(.[]; .result.exit_code == 3 and (.result.signal // 0) == 0)' \
        "$T"/s.*.json >/dev/null
    jq -se --argjson n "$NTASK" 'length == $n and all(.[]; .state == "exited" and .result.exit_code == 3)' \
        "$TDRV_ROOT"/allocs/*/t*/state.json >/dev/null
    no_sanitizer_output "$T"/stop.*.err
    [ -z "$(runc --root "$TDRV_RUN/runtime" list -q)" ]

    # a final gc, an hour later (so past every grace and image_delay): nothing is left
    TDRV_GC_NOW=+1h run --separate-stderr tdrv-gc --images --remove-alloc-dir
    assert_success
    jq -e '.counts.errors == 0' <<<"$output"
    jq -e --argjson n "$NTASK" '[.removed[] | select(.kind == "ports")] | length == $n' <<<"$output"
    [ "$(tdrv-ports --list | jq '.leases | length')" -eq 0 ]
    [ -z "$(ls -A "$TDRV_ROOT/allocs")" ]
    [ -z "$(ls -A "$TDRV_ROOT/pins" 2>/dev/null)" ]
    jq -e '.manifests == []' "$TDRV_ROOT/images/index.json"
    [ -z "$(ls -A "$TDRV_ROOT/images/blobs/sha256")" ]
    [ -z "$(ls -A "$TDRV_ROOT/layers")" ]
    [ -z "$(ls -A "$TDRV_ROOT/ingest" 2>/dev/null)" ]
    ! grep -qE " ($TDRV_ROOT|$TDRV_RUN)/" /proc/self/mounts
    # and nothing of the bridged tasks' networks: veth, address, rule, namespace
    [ -z "$(ip -o link show master "$BRIDGE" 2>/dev/null)" ]
    [ -z "$(ls -A "/var/lib/cni/networks/$NET_NAME" 2>/dev/null | grep -v -e '^lock$' -e '^last_reserved_ip')" ]
    ! iptables-save | grep -F -- "$NET_NAME"
    [ -z "$(ls -A "$TDRV_RUN/netns" 2>/dev/null)" ]
    # a second pass finds nothing more
    TDRV_GC_NOW=+2h run --separate-stderr tdrv-gc --images --remove-alloc-dir
    assert_success
    jq -e '.removed == [] and .errors == []' <<<"$output"
}
