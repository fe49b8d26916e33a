#!/usr/bin/env bats
# tdrv-pull against real registries on 127.0.0.1 (Debian's docker-registry): anonymous,
# htpasswd Basic auth, token auth with a test token server, TLS with a test CA, an image
# index, credentials from config.json and from a docker-credential-* helper, faults.
# Needs root-free loopback only; ports 5100-5199.

load helpers

FX="$TDRV_TOP/tests/fixtures/registry"

load lib/registry

setup_file() {
    local d=$BATS_FILE_TMPDIR
    : >"$d/pids"
    : >"$d/env"
    cd "$d"
    # images
    "$TDRV_TOP/scripts/mkimage-busybox.sh" bb >/dev/null
    python3 "$FX/mkimage.py" multi --seed multi --platforms linux/amd64,linux/arm64/v8,linux/arm/v7 >/dev/null
    python3 "$FX/mkimage.py" tamper --seed tamper --layer-bytes 200000 >/dev/null
    python3 "$FX/mkimage.py" big --seed big --layer-bytes 3000000 >/dev/null
    python3 "$FX/mkimage.py" priv --seed priv >/dev/null
    python3 "$FX/mkimage.py" dup --seed dup --layers 3 --dup >/dev/null
    # certificates: a CA and a server certificate for 127.0.0.1; a token signing cert
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
        -subj /CN=tdrv-test-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\n' >srv.ext
    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem \
        -days 2 -extfile srv.ext 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -keyout tok.key -out tok.pem -days 2 \
        -subj /CN=tdrv-token 2>/dev/null
    htpasswd -Bbn alice 's3cret-Pa55' >htpasswd

    start_registry ANON ""
    push bb "127.0.0.1:$ANON_PORT/library/busybox:1"
    push bb "127.0.0.1:$ANON_PORT/library/busybox:latest"
    push multi "127.0.0.1:$ANON_PORT/multi/img:1"
    push tamper "127.0.0.1:$ANON_PORT/tamper/img:1"
    push big "127.0.0.1:$ANON_PORT/big/img:1"
    push dup "127.0.0.1:$ANON_PORT/dup/img:1"
    # tamper with the layer on the registry's disk: same size, other bytes
    local tl
    tl=$(jq -r '.layers[0].digest' "tamper/blobs/sha256/$(jq -r '.manifests[0].digest' tamper/index.json | cut -d: -f2)" | cut -d: -f2)
    echo "TAMPER_LAYER=sha256:$tl" >>"$d/env"
    python3 -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[len(b)//2]^=0xff; open(p,"wb").write(bytes(b))' \
        "$d/ANON/data/docker/registry/v2/blobs/sha256/${tl:0:2}/$tl/data"

    start_registry BASIC "auth:
  htpasswd:
    realm: tdrv-basic
    path: $d/htpasswd"
    push priv "127.0.0.1:$BASIC_PORT/private/img:1" --dest-creds 'alice:s3cret-Pa55'

    local tport
    tport=$(tdrv_free_port 5100 5199)
    (cd "$d" && exec python3 "$FX/token_server.py" "$tport" tok.key tok.pem tdrv-test alice 's3cret-Pa55' 'tdrv-refresh-tok3n') \
        >"$d/token.log" 2>&1 &
    echo $! >>"$d/pids"
    wait_port "$tport"
    echo "TOKEN_SRV_PORT=$tport" >>"$d/env"
    start_registry TOKEN "auth:
  token:
    realm: http://127.0.0.1:$tport/token
    service: tdrv-test
    issuer: tdrv-test
    rootcertbundle: $d/tok.pem"
    push bb "127.0.0.1:$TOKEN_PORT/public/busybox:1" --dest-creds 'alice:s3cret-Pa55'
    push priv "127.0.0.1:$TOKEN_PORT/private/img:1" --dest-creds 'alice:s3cret-Pa55'

    start_registry TLS "  tls:
    certificate: $d/srv.pem
    key: $d/srv.key"
    push bb "127.0.0.1:$TLS_PORT/tls/busybox:1"

    local pport sport
    pport=$(tdrv_free_port 5100 5199)
    local bl
    bl=$(jq -r '.layers[0].digest' "big/blobs/sha256/$(jq -r '.manifests[0].digest' big/index.json | cut -d: -f2)")
    python3 "$FX/fault_proxy.py" "$pport" "$ANON_PORT" drop 600000 "$bl" >"$d/proxy.log" 2>&1 &
    echo $! >>"$d/pids"
    wait_port "$pport"
    echo "PROXY_PORT=$pport" >>"$d/env"
    local dport uport
    dport=$(tdrv_free_port 5100 5199)
    # each try of the big layer gets 20 kB: under the 64 KiB a try must move to count as
    # progress (which gives the retries back), so the pull runs out of them
    python3 "$FX/fault_proxy.py" "$dport" "$ANON_PORT" dropall 20000 "$bl" >"$d/dropall.log" 2>&1 &
    echo $! >>"$d/pids"
    wait_port "$dport"
    echo "DROPALL_PORT=$dport" >>"$d/env"
    echo "BIG_LAYER=$bl" >>"$d/env"
    uport=$(tdrv_free_port 5100 5199)
    python3 "$FX/fault_proxy.py" "$uport" "$ANON_PORT" 503once >"$d/503.log" 2>&1 &
    echo $! >>"$d/pids"
    wait_port "$uport"
    echo "UNAVAIL_PORT=$uport" >>"$d/env"
    local bport rport
    bport=$(tdrv_free_port 5100 5199)
    python3 "$FX/blob_server.py" "$bport" "$d/BASIC/data" "$d/blobs.log" >"$d/blob_server.out" 2>&1 &
    echo $! >>"$d/pids"
    wait_port "$bport"
    rport=$(tdrv_free_port 5100 5199)
    python3 "$FX/fault_proxy.py" "$rport" "$BASIC_PORT" redirect "$bport" >"$d/redirect.log" 2>&1 &
    echo $! >>"$d/pids"
    wait_port "$rport"
    echo "REDIRECT_PORT=$rport" >>"$d/env"
    local fport
    fport=$(tdrv_free_port 5100 5199)
    python3 "$FX/fake_registry.py" "$fport" >"$d/fake_registry.out" 2>&1 &
    echo $! >>"$d/pids"
    wait_port "$fport"
    echo "FAKE_PORT=$fport" >>"$d/env"
    python3 "$FX/fake_engine.py" "$d/engine.sock" "$d/engine.log" >"$d/engine.out" 2>&1 &
    echo $! >>"$d/pids"
    for _ in $(seq 100); do [ -S "$d/engine.sock" ] && break; sleep 0.1; done
    sport=$(tdrv_free_port 5100 5199)
    python3 "$FX/fault_proxy.py" "$sport" "$ANON_PORT" stall >"$d/stall.log" 2>&1 &
    echo $! >>"$d/pids"
    wait_port "$sport"
    echo "STALL_PORT=$sport" >>"$d/env"
}

teardown_file() {
    local pid
    while read -r pid; do tdrv_stop_pid "$pid"; done <"$BATS_FILE_TMPDIR/pids"
}

setup() {
    tdrv_test_env
    # shellcheck disable=SC1091
    source "$BATS_FILE_TMPDIR/env"
    FXD=$BATS_FILE_TMPDIR
    mkdir -p "$BATS_TEST_TMPDIR/bin"
    export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
}

layout_digest() { # LAYOUT [platform-arch]: the top digest, or the index entry for an arch
    local top
    top=$(jq -r '.manifests[0].digest' "$FXD/$1/index.json")
    if [ -z "${2:-}" ]; then echo "$top"; return; fi
    jq -r --arg a "$2" '.manifests[] | select(.platform.architecture == $a) | .digest' \
        "$FXD/$1/blobs/sha256/${top#sha256:}"
}

no_secret() { # the password must appear nowhere
    ! grep -q 's3cret-Pa55' <<<"$output$stderr"
    ! grep -q "$(printf 'alice:s3cret-Pa55' | base64)" <<<"$output$stderr"
}

@test "anonymous pull: image object, blobs in the store, then cached" {
    run --separate-stderr -0 tdrv-pull "127.0.0.1:$ANON_PORT/library/busybox:1"
    jq -e --arg d "$(layout_digest bb)" '.image.manifest_digest == $d and .image.cached == false' <<<"$output"
    jq -e --arg r "127.0.0.1:$ANON_PORT/library/busybox:1" '.image.reference == $r' <<<"$output"
    [ -f "$TDRV_ROOT/images/blobs/sha256/$(layout_digest bb | cut -d: -f2)" ]
    run --separate-stderr -0 tdrv-pull "127.0.0.1:$ANON_PORT/library/busybox:1"
    jq -e '.image.cached == true' <<<"$output"
}

@test "a task document: the image object is added, other fields pass through" {
    run --separate-stderr -0 tdrv-pull <<<'{"task":"web","driver":"oci","meta":{"a":"b"},"config":{"image":"127.0.0.1:'"$ANON_PORT"'/library/busybox:1","args":["x"]}}'
    jq -e '.task == "web" and .meta.a == "b" and .config.args == ["x"] and (.image.manifest_digest | startswith("sha256:"))' <<<"$output"
}

@test "docker:// (rkt) and https:// (docker driver) prefixes, and a digest reference" {
    run --separate-stderr -0 tdrv-pull "docker://127.0.0.1:$ANON_PORT/library/busybox:1"
    run --separate-stderr -0 tdrv-pull "https://127.0.0.1:$ANON_PORT/library/busybox:1"
    run --separate-stderr -0 tdrv-pull "127.0.0.1:$ANON_PORT/library/busybox@$(layout_digest bb)"
    jq -e --arg d "$(layout_digest bb)" '.image.manifest_digest == $d' <<<"$output"
}

@test "latest is re-checked with a HEAD; force_pull fetches the manifest again" {
    run --separate-stderr -0 tdrv-pull "127.0.0.1:$ANON_PORT/library/busybox"
    jq -e '.image.cached == false' <<<"$output"
    run --separate-stderr -0 tdrv-pull -vv "127.0.0.1:$ANON_PORT/library/busybox"
    jq -e '.image.cached == true' <<<"$output"
    grep -q '> HEAD /v2/library/busybox/manifests/latest' <<<"$stderr"
    ! grep -q '> GET /v2/library/busybox/blobs/' <<<"$stderr"
    run --separate-stderr -0 tdrv-pull -vv <<<'{"config":{"image":"127.0.0.1:'"$ANON_PORT"'/library/busybox:latest","force_pull":true}}'
    jq -e '.image.cached == false' <<<"$output"
    grep -q '> GET /v2/library/busybox/manifests/latest' <<<"$stderr"
}

@test "--pull-policy never: an absent image is 66 without touching the network" {
    run --separate-stderr -66 tdrv-pull --pull-policy never "127.0.0.1:1/nothing/here:1"
    jq -e '.error.code == "image_not_found"' <<<"$output"
}

@test "a missing tag is 66 image_not_found" {
    run --separate-stderr -66 tdrv-pull "127.0.0.1:$ANON_PORT/library/busybox:nope"
    jq -e '.error.code == "image_not_found" and .error.exit == 66' <<<"$output"
}

@test "an unreachable registry is 69 registry_unreachable" {
    local p
    p=$(tdrv_free_port 5100 5199)
    run --separate-stderr -69 tdrv-pull "127.0.0.1:$p/library/busybox:1"
    jq -e '.error.code == "registry_unreachable"' <<<"$output"
}

@test "an invalid reference is 65 invalid_reference" {
    run --separate-stderr -65 tdrv-pull "127.0.0.1:$ANON_PORT/Upper/Case:1"
    jq -e '.error.code == "invalid_reference"' <<<"$output"
}

@test "an image with the same layer blob three times" {
    run --separate-stderr -0 timeout 60 tdrv-pull "127.0.0.1:$ANON_PORT/dup/img:1"
    jq -e '.image.layers | length == 3' <<<"$output"
}

@test "image index: the host's platform by default, --platform to choose, no match is 66" {
    run --separate-stderr -0 tdrv-pull "127.0.0.1:$ANON_PORT/multi/img:1"
    jq -e --arg d "$(layout_digest multi amd64)" --arg i "$(layout_digest multi)" \
        '.image.manifest_digest == $d and .image.index_digest == $i' <<<"$output"
    export TDRV_ROOT=$BATS_TEST_TMPDIR/root2
    run --separate-stderr -0 tdrv-pull --platform linux/aarch64 "127.0.0.1:$ANON_PORT/multi/img:1"
    jq -e --arg d "$(layout_digest multi arm64)" '.image.manifest_digest == $d' <<<"$output"
    export TDRV_ROOT=$BATS_TEST_TMPDIR/root3
    run --separate-stderr -0 tdrv-pull --platform linux/armhf "127.0.0.1:$ANON_PORT/multi/img:1"
    jq -e --arg d "$(layout_digest multi arm)" '.image.manifest_digest == $d' <<<"$output"
    export TDRV_ROOT=$BATS_TEST_TMPDIR/root4
    run --separate-stderr -66 tdrv-pull --platform linux/s390x "127.0.0.1:$ANON_PORT/multi/img:1"
    jq -e '.error.code == "image_not_found"' <<<"$output"
    grep -q "no manifest for platform 'linux/s390x'" <<<"$stderr"
    ! grep -q unknown <<<"$stderr"
}

@test "basic auth: credentials from the task's auth block" {
    run --separate-stderr -0 tdrv-pull <<<'{"config":{"image":"127.0.0.1:'"$BASIC_PORT"'/private/img:1","auth":{"username":"alice","password":"s3cret-Pa55"}}}'
    jq -e '.image.manifest_digest | startswith("sha256:")' <<<"$output"
    jq -e '.config.auth.username == "alice" and .config.auth.password == "<redacted>"' <<<"$output"
    no_secret
}

@test "basic auth: no credentials is 77 auth_failed" {
    run --separate-stderr -77 tdrv-pull "127.0.0.1:$BASIC_PORT/private/img:1"
    jq -e '.error.code == "auth_failed" and .error.exit == 77' <<<"$output"
}

@test "basic auth: a wrong password is 77 and no secret is printed, even at -vv" {
    run --separate-stderr -77 tdrv-pull -vv <<<'{"config":{"image":"127.0.0.1:'"$BASIC_PORT"'/private/img:1","auth":{"username":"alice","password":"wrong-s3cret-Pa55"}}}'
    jq -e '.error.code == "auth_failed"' <<<"$output"
    grep -q 'Authorization: <redacted>' <<<"$stderr"
    ! grep -q 'wrong-s3cret' <<<"$output$stderr"
    ! grep -q "$(printf 'alice:wrong-s3cret-Pa55' | base64)" <<<"$stderr"
}

@test "a blob redirected to another host gets no credentials" {
    run --separate-stderr -0 tdrv-pull <<<'{"config":{"image":"127.0.0.1:'"$REDIRECT_PORT"'/private/img:1","auth":{"username":"alice","password":"s3cret-Pa55"}}}'
    jq -e --arg d "$(layout_digest priv)" '.image.manifest_digest == $d' <<<"$output"
    grep -q "authorization=no" "$FXD/blobs.log"
    ! grep -q "authorization=yes" "$FXD/blobs.log"
}

@test "credentials from the operator's auth.config (config.json auths)" {
    printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}\n' "$BASIC_PORT" \
        "$(printf 'alice:s3cret-Pa55' | base64)" >"$BATS_TEST_TMPDIR/config.json"
    printf 'auth:\n  config: %s\n' "$BATS_TEST_TMPDIR/config.json" >"$TDRV_CONFIG"
    run --separate-stderr -0 tdrv-pull -v "127.0.0.1:$BASIC_PORT/private/img:1"
    grep -q "using credentials from auth.config" <<<"$stderr"
    no_secret
}

@test "credentials from a docker-credential-* helper (auth.helper and credHelpers)" {
    cat >"$BATS_TEST_TMPDIR/bin/docker-credential-tdrvtest" <<'SH'
#!/bin/sh
[ "$1" = get ] || exit 1
server=$(cat)
echo "$server" >>"$HELPER_LOG"
printf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret-Pa55"}\n' "$server"
SH
    chmod +x "$BATS_TEST_TMPDIR/bin/docker-credential-tdrvtest"
    export HELPER_LOG=$BATS_TEST_TMPDIR/helper.log
    printf 'auth:\n  helper: tdrvtest\n' >"$TDRV_CONFIG"
    run --separate-stderr -0 tdrv-pull "127.0.0.1:$BASIC_PORT/private/img:1"
    [ "$(cat "$HELPER_LOG")" = "127.0.0.1:$BASIC_PORT" ]
    no_secret
    export TDRV_ROOT=$BATS_TEST_TMPDIR/root2
    printf '{"credHelpers":{"127.0.0.1:%s":"tdrvtest"}}\n' "$BASIC_PORT" >"$BATS_TEST_TMPDIR/config.json"
    printf 'auth:\n  config: %s\n' "$BATS_TEST_TMPDIR/config.json" >"$TDRV_CONFIG"
    run --separate-stderr -0 tdrv-pull "127.0.0.1:$BASIC_PORT/private/img:1"
    [ "$(wc -l <"$HELPER_LOG")" -eq 2 ]
}

@test "a failing helper is 77, or an anonymous pull with auth_soft_fail" {
    printf '#!/bin/sh\necho boom >&2\nexit 3\n' >"$BATS_TEST_TMPDIR/bin/docker-credential-broken"
    chmod +x "$BATS_TEST_TMPDIR/bin/docker-credential-broken"
    printf 'auth:\n  helper: broken\n' >"$TDRV_CONFIG"
    run --separate-stderr -77 tdrv-pull "127.0.0.1:$ANON_PORT/library/busybox:1"
    jq -e '.error.code == "auth_failed"' <<<"$output"
    run --separate-stderr -0 tdrv-pull <<<'{"config":{"image":"127.0.0.1:'"$ANON_PORT"'/library/busybox:1","auth_soft_fail":true}}'
    grep -q 'auth_soft_fail' <<<"$stderr"
}

@test "token auth: an anonymous token for a public repository" {
    run --separate-stderr -0 tdrv-pull "127.0.0.1:$TOKEN_PORT/public/busybox:1"
    jq -e --arg d "$(layout_digest bb)" '.image.manifest_digest == $d' <<<"$output"
    grep -q "scope=repository:public/busybox:pull" "$FXD/$TOKEN_SRV_PORT.log"
}

@test "token auth: a basic-authenticated token for a private repository" {
    run --separate-stderr -77 tdrv-pull "127.0.0.1:$TOKEN_PORT/private/img:1"
    jq -e '.error.code == "auth_failed"' <<<"$output"
    run --separate-stderr -0 tdrv-pull <<<'{"config":{"image":"127.0.0.1:'"$TOKEN_PORT"'/private/img:1","auth":{"username":"alice","password":"s3cret-Pa55"}}}'
    jq -e --arg d "$(layout_digest priv)" '.image.manifest_digest == $d' <<<"$output"
    # one token for the whole pull (manifest, config and layer requests)
    [ "$(grep -c "basic=yes scope=repository:private/img:pull$" "$FXD/$TOKEN_SRV_PORT.log")" -eq 1 ]
    run --separate-stderr -77 tdrv-pull <<<'{"config":{"image":"127.0.0.1:'"$TOKEN_PORT"'/private/img:1","force_pull":true,"auth":{"username":"alice","password":"bad-s3cret-Pa55"}}}'
    ! grep -q 'bad-s3cret' <<<"$output$stderr"
}

@test "token auth: an identity token (config.json identitytoken) through the OAuth2 POST" {
    printf '{"auths":{"127.0.0.1:%s":{"identitytoken":"tdrv-refresh-tok3n"}}}\n' "$TOKEN_PORT" \
        >"$BATS_TEST_TMPDIR/config.json"
    printf 'auth:\n  config: %s\n' "$BATS_TEST_TMPDIR/config.json" >"$TDRV_CONFIG"
    run --separate-stderr -0 tdrv-pull -vv "127.0.0.1:$TOKEN_PORT/private/img:1"
    jq -e --arg d "$(layout_digest priv)" '.image.manifest_digest == $d' <<<"$output"
    grep -q "POST grant=refresh_token scope=repository:private/img:pull" "$FXD/$TOKEN_SRV_PORT.log"
    ! grep -q 'tdrv-refresh-tok3n' <<<"$output$stderr"
}

@test "TLS: verified with --ca-file, refused without it, allowed by insecure_options tls" {
    run --separate-stderr -0 tdrv-pull --ca-file "$FXD/ca.pem" "127.0.0.1:$TLS_PORT/tls/busybox:1"
    jq -e --arg d "$(layout_digest bb)" '.image.manifest_digest == $d' <<<"$output"
    export TDRV_ROOT=$BATS_TEST_TMPDIR/root2
    run --separate-stderr -69 tdrv-pull "127.0.0.1:$TLS_PORT/tls/busybox:1"
    jq -e '.error.code == "registry_unreachable"' <<<"$output"
    grep -q 'TLS' <<<"$stderr"
    run --separate-stderr -0 tdrv-pull <<<'{"config":{"image":"127.0.0.1:'"$TLS_PORT"'/tls/busybox:1","insecure_options":["tls"]}}'
}

@test "protocol breaches are refused: schema 1, a lying digest header, mixed types, 5 MiB manifests" {
    run --separate-stderr -76 tdrv-pull "127.0.0.1:$FAKE_PORT/schema1:1"
    jq -e '.error.code == "unsupported_manifest"' <<<"$output"
    grep -q "schema 1" <<<"$stderr"
    run --separate-stderr -76 tdrv-pull "127.0.0.1:$FAKE_PORT/liar:1"
    jq -e '.error.code == "digest_mismatch"' <<<"$output"
    run --separate-stderr -76 tdrv-pull "127.0.0.1:$FAKE_PORT/mixed:1"
    grep -q "differs from Content-Type" <<<"$stderr"
    run --separate-stderr -76 tdrv-pull "127.0.0.1:$FAKE_PORT/huge:1"
    grep -q "larger than" <<<"$stderr"
}

@test "a blob tampered on the registry's disk is refused (76) and not stored" {
    run --separate-stderr -76 tdrv-pull "127.0.0.1:$ANON_PORT/tamper/img:1"
    jq -e '.error.code == "digest_mismatch" and .error.exit == 76' <<<"$output"
    [ ! -e "$TDRV_ROOT/images/blobs/sha256/${TAMPER_LAYER#sha256:}" ]
    run tdrv-pull --pull-policy never "127.0.0.1:$ANON_PORT/tamper/img:1"
    [ "$status" -eq 66 ]
}

@test "a connection dropped part-way through a layer: the pull resumes and completes" {
    run --separate-stderr -0 tdrv-pull -v "127.0.0.1:$PROXY_PORT/big/img:1"
    jq -e --arg d "$(layout_digest big)" '.image.manifest_digest == $d' <<<"$output"
    grep -q 'resuming' <<<"$stderr"
}

@test "a pull that keeps losing its connection fails cleanly, and the next one resumes" {
    run --separate-stderr -69 tdrv-pull -v "127.0.0.1:$DROPALL_PORT/big/img:1"
    jq -e '.error.code == "registry_unreachable"' <<<"$output"
    [ "$(grep -c resuming <<<"$stderr")" -ge 3 ]
    # nothing looks complete: no blob, no layer, no image; only the partial download
    [ ! -e "$TDRV_ROOT/images/blobs/sha256/${BIG_LAYER#sha256:}" ]
    [ -z "$(find "$TDRV_ROOT/layers" -mindepth 1 -maxdepth 1 -type d 2>/dev/null)" ]
    run tdrv-pull --pull-policy never "127.0.0.1:$DROPALL_PORT/big/img:1"
    [ "$status" -eq 66 ]
    [ -s "$TDRV_ROOT/ingest/${BIG_LAYER#sha256:}.partial" ]
    run --separate-stderr -0 tdrv-pull -v "127.0.0.1:$ANON_PORT/big/img:1"
    grep -q "resuming at byte" <<<"$stderr"
    [ -e "$TDRV_ROOT/images/blobs/sha256/${BIG_LAYER#sha256:}" ]
}

@test "HTTP 503 is retried with backoff" {
    run --separate-stderr -0 tdrv-pull -v "127.0.0.1:$UNAVAIL_PORT/library/busybox:1"
    grep -q "after HTTP 503" <<<"$stderr"
}

@test "two pulls of one image at the same time both succeed" {
    tdrv-pull "127.0.0.1:$ANON_PORT/big/img:1" >"$BATS_TEST_TMPDIR/a.json" 2>"$BATS_TEST_TMPDIR/a.err" &
    local a=$!
    tdrv-pull "127.0.0.1:$ANON_PORT/big/img:1" >"$BATS_TEST_TMPDIR/b.json" 2>"$BATS_TEST_TMPDIR/b.err" &
    local b=$!
    wait "$a"
    wait "$b"
    jq -e --arg d "$(layout_digest big)" '.image.manifest_digest == $d' "$BATS_TEST_TMPDIR/a.json"
    jq -e --arg d "$(layout_digest big)" '.image.manifest_digest == $d' "$BATS_TEST_TMPDIR/b.json"
}

@test "a registry that never answers: image_pull_timeout gives 75 timeout" {
    run --separate-stderr -75 tdrv-pull <<<'{"config":{"image":"127.0.0.1:'"$STALL_PORT"'/library/busybox:1","image_pull_timeout":"2s"}}'
    jq -e '.error.code == "timeout"' <<<"$output"
}

@test "--progress json writes JSON Lines events on stderr" {
    run --separate-stderr -0 tdrv-pull --progress json "127.0.0.1:$ANON_PORT/big/img:1"
    jq -se 'map(.event) | index("layer_started") != null and index("layer_done") != null' <<<"$stderr"
}

@test "bad option values are usage errors (64)" {
    run --separate-stderr -64 tdrv-pull --pull-policy sometimes x
    run --separate-stderr -64 tdrv-pull --max-concurrent 0 x
    run --separate-stderr -64 tdrv-pull --progress loud x
    run --separate-stderr -64 tdrv-pull --platform linux/amd64/v2/x x
}

@test "--to docker: pulled by the Engine (POST /images/create), then found there" {
    export DOCKER_HOST=unix://$FXD/engine.sock
    run --separate-stderr -0 tdrv-pull --to docker "127.0.0.1:$ANON_PORT/eng/one:1"
    jq -e '.image.engine == "docker" and .image.cached == false and (.image.id | startswith("sha256:"))' <<<"$output"
    grep -q "^create 127.0.0.1:$ANON_PORT/eng/one:1 auth=-$" "$FXD/engine.log"
    run --separate-stderr -0 tdrv-pull --to docker "127.0.0.1:$ANON_PORT/eng/one:1"
    jq -e '.image.cached == true' <<<"$output"
    [ "$(grep -c "eng/one:1" "$FXD/engine.log")" -eq 1 ]
}

@test "driver docker goes to the Engine; latest is pulled every time" {
    export DOCKER_HOST=unix://$FXD/engine.sock
    for _ in 1 2; do
        run --separate-stderr -0 tdrv-pull <<<'{"driver":"docker","config":{"image":"127.0.0.1:'"$ANON_PORT"'/eng/two"}}'
        jq -e '.image.engine == "docker"' <<<"$output"
    done
    [ "$(grep -c "eng/two:latest" "$FXD/engine.log")" -eq 2 ]
    [ ! -d "$TDRV_ROOT/images" ] || [ -z "$(ls "$TDRV_ROOT/images/blobs/sha256" 2>/dev/null)" ]
}

@test "--to docker: X-Registry-Auth from the credential chain, no secret printed" {
    export DOCKER_HOST=unix://$FXD/engine.sock
    run --separate-stderr -77 tdrv-pull --to docker "127.0.0.1:$BASIC_PORT/private/eng:1"
    jq -e '.error.code == "auth_failed"' <<<"$output"
    run --separate-stderr -0 tdrv-pull --to docker -vv <<<'{"config":{"image":"127.0.0.1:'"$BASIC_PORT"'/private/eng:1","auth":{"username":"alice","password":"s3cret-Pa55"}}}'
    no_secret
    tail -1 "$FXD/engine.log" | grep -q "\"username\": \"alice\", \"password\": \"s3cret-Pa55\", \"serveraddress\": \"127.0.0.1:$BASIC_PORT\"\|\"username\":\"alice\",\"password\":\"s3cret-Pa55\",\"serveraddress\":\"127.0.0.1:$BASIC_PORT\""
}

@test "--to docker: a missing image is 66, an unreachable Engine 69" {
    export DOCKER_HOST=unix://$FXD/engine.sock
    run --separate-stderr -66 tdrv-pull --to docker "127.0.0.1:$ANON_PORT/eng/missing:1"
    jq -e '.error.code == "image_not_found"' <<<"$output"
    export DOCKER_HOST=unix://$BATS_TEST_TMPDIR/none.sock
    run --separate-stderr -69 tdrv-pull --to docker "127.0.0.1:$ANON_PORT/eng/one:1"
}
