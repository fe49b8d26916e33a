#!/usr/bin/env bats
# The image store (issue 4): safe layer unpacking against the catalogue of malicious shapes,
# the rootfs and overlay view compared with umoci, archives, and the OCI layout skopeo reads.
# Runs as root (mknod, overlay mounts, chown).
load helpers

LIB="$BATS_TEST_DIRNAME/lib"

setup() {
    tdrv_test_env
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    MOUNTS=()
}

teardown() {
    local m
    for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null || true; done
}

# Mount the image's layer dirs (from tdrv-pull's image object in $1) as an overlay at $2.
overlay_view() {
    local doc=$1 dir=$2 lower
    lower=$(jq -r --arg r "$TDRV_ROOT" \
        '.image.layers | reverse | map($r + "/layers/" + (.chain_id | sub("sha256:"; ""))) | join(":")' <<<"$doc")
    mkdir -p "$dir"/{upper,work,merged}
    mount -t overlay overlay -o "lowerdir=$lower,upperdir=$dir/upper,workdir=$dir/work" "$dir/merged"
    MOUNTS+=("$dir/merged")
}

# Nothing but what the test made may exist beside the store and the scratch root.
assert_contained() {
    run cat "$BATS_TEST_TMPDIR/canary"
    assert_output "canary"
    run cat "$BATS_TEST_TMPDIR/scratch/canary"
    assert_output "canary"
    run bash -c "ls -A '$BATS_TEST_TMPDIR/scratch' | tr '\n' ' '"
    assert_output --regexp '^canary (rootfs )?$'
    run bash -c "ls -A '$BATS_TEST_TMPDIR' | grep -vxE 'canary|config.yaml|host|layout|root|scratch|overlay|separate-stderr-.*' || true"
    assert_output ""
    run bash -c "ls -A '$TDRV_ROOT/layers' | grep -vE '^[0-9a-f]{64}(\.json)?$' || true"
    assert_output ""
    run sha256sum /etc/passwd
    assert_output "$PASSWD_SUM"
}

run_case() {
    local id=$1 expect doc
    PASSWD_SUM=$(sha256sum /etc/passwd)
    echo canary >"$BATS_TEST_TMPDIR/canary"
    mkdir -p "$BATS_TEST_TMPDIR/scratch"
    echo canary >"$BATS_TEST_TMPDIR/scratch/canary"
    python3 "$LIB/layers.py" build "$id" "$BATS_TEST_TMPDIR/layout" "$BATS_TEST_TMPDIR/host" >/dev/null
    expect=$(python3 "$LIB/layers.py" expect "$id")
    run --separate-stderr tdrv-pull --load "$BATS_TEST_TMPDIR/layout" \
        --rootfs "$BATS_TEST_TMPDIR/scratch/rootfs" "test/case:$id"
    if [ "$expect" = reject ]; then
        [ "$status" -eq 65 ] || fail "want 65, got $status: $stderr"
        jq -e '.error.code == "invalid_layer"' <<<"$output"
        assert_contained
        return
    fi
    [ "$status" -eq 0 ] || fail "tdrv-pull failed ($status): $stderr"
    doc=$output
    run python3 "$LIB/layers.py" check "$id" "$BATS_TEST_TMPDIR/scratch/rootfs" "$BATS_TEST_TMPDIR/host"
    assert_success
    overlay_view "$doc" "$BATS_TEST_TMPDIR/overlay"
    if [ "$(python3 "$LIB/layers.py" overlay-same "$id")" = yes ]; then
        run python3 "$LIB/layers.py" check "$id" "$BATS_TEST_TMPDIR/overlay/merged" "$BATS_TEST_TMPDIR/host"
        assert_success
    fi
    assert_contained
}

# The rootfs (--rootfs) and the overlay view of image NAME are those umoci unpack makes.
differential() {
    local name=$1 comp=${2:-gzip,none} doc
    python3 "$LIB/layers.py" image "$name" "$BATS_TEST_TMPDIR/layout" "$comp" >/dev/null
    umoci unpack --image "$BATS_TEST_TMPDIR/layout:test/$name:latest" "$BATS_TEST_TMPDIR/bundle" >/dev/null 2>&1
    run --separate-stderr tdrv-pull --load "$BATS_TEST_TMPDIR/layout" --rootfs "$BATS_TEST_TMPDIR/rootfs" "test/$name"
    assert_success
    doc=$output
    run python3 "$LIB/treediff.py" "$BATS_TEST_TMPDIR/rootfs" "$BATS_TEST_TMPDIR/bundle/rootfs"
    assert_success
    overlay_view "$doc" "$BATS_TEST_TMPDIR/ov"
    run python3 "$LIB/treediff.py" "$BATS_TEST_TMPDIR/ov/merged" "$BATS_TEST_TMPDIR/bundle/rootfs"
    assert_success
}

@test "tdrv-pull --help documents --load, --rootfs and --root" {
    run tdrv-pull --help
    assert_success
    assert_output --partial "--load PATH"
    assert_output --partial "--rootfs DIR"
    assert_output --partial "--root DIR"
}

@test "busybox image: load, skopeo inspect, cached lookup, rootfs equals umoci's" {
    run "$TDRV_TOP/scripts/mkimage-busybox.sh" "$BATS_TEST_TMPDIR/bb"
    assert_success
    run --separate-stderr tdrv-pull --load "$BATS_TEST_TMPDIR/bb" --rootfs "$BATS_TEST_TMPDIR/rootfs" <<<'{"config":{"image":"busybox"},"task":"t"}'
    assert_success
    jq -e '.task == "t" and .image.reference == "docker.io/library/busybox:latest" and .image.cached == false and (.image.layers | length) == 1 and .image.platform == "linux/amd64"' <<<"$output"
    md=$(jq -r '.image.manifest_digest' <<<"$output")
    [ -x "$BATS_TEST_TMPDIR/rootfs/bin/busybox" ]
    run skopeo inspect "oci:$TDRV_ROOT/images:docker.io/library/busybox:latest"
    assert_success
    assert_output --partial '"Architecture": "amd64"'
    run --separate-stderr tdrv-pull --pull-policy new busybox
    assert_success
    jq -e '.image.cached == true' <<<"$output"
    run --separate-stderr tdrv-pull "busybox@$md"
    assert_success
    jq -e --arg md "$md" '.image.cached == true and .image.manifest_digest == $md and .image.reference == "docker.io/library/busybox@" + $md' <<<"$output"
    umoci unpack --image "$BATS_TEST_TMPDIR/bb:docker.io/library/busybox:latest" "$BATS_TEST_TMPDIR/bundle" >/dev/null 2>&1
    run python3 "$LIB/treediff.py" "$BATS_TEST_TMPDIR/rootfs" "$BATS_TEST_TMPDIR/bundle/rootfs"
    assert_success
}

@test "the store is an OCI layout umoci reads back" {
    python3 "$LIB/layers.py" image whiteouts "$BATS_TEST_TMPDIR/layout" >/dev/null
    run --separate-stderr tdrv-pull --load "$BATS_TEST_TMPDIR/layout" test/whiteouts
    assert_success
    run umoci unpack --image "$TDRV_ROOT/images:docker.io/test/whiteouts:latest" "$BATS_TEST_TMPDIR/b"
    assert_success
    [ -f "$BATS_TEST_TMPDIR/b/rootfs/opaque/upper" ]
    run jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$TDRV_ROOT/images/index.json"
    assert_output "docker.io/test/whiteouts:latest"
}

@test "differential: many small files, modes, owners, setuid" { differential smallfiles; }
@test "differential: hardlinks and symlinks" { differential links; }
@test "differential: whiteouts and opaque directories across layers" { differential whiteouts; }
@test "differential: a file replaced by a directory and back" { differential replace; }
@test "differential: uncompressed layers" { differential replace none; }

@test "zstd layers unpack to the same tree as gzip ones" {
    python3 "$LIB/layers.py" image whiteouts "$BATS_TEST_TMPDIR/z" zstd >/dev/null
    python3 "$LIB/layers.py" image whiteouts "$BATS_TEST_TMPDIR/g" gzip >/dev/null
    run tdrv-pull --root "$BATS_TEST_TMPDIR/rz" --load "$BATS_TEST_TMPDIR/z" --rootfs "$BATS_TEST_TMPDIR/fz" test/whiteouts
    assert_success
    run tdrv-pull --root "$BATS_TEST_TMPDIR/rg" --load "$BATS_TEST_TMPDIR/g" --rootfs "$BATS_TEST_TMPDIR/fg" test/whiteouts
    assert_success
    run python3 "$LIB/treediff.py" "$BATS_TEST_TMPDIR/fz" "$BATS_TEST_TMPDIR/fg"
    assert_success
}

@test "overlay layer dirs: whiteouts are 0/0 char devices, opaque dirs carry the xattr" {
    python3 "$LIB/layers.py" image whiteouts "$BATS_TEST_TMPDIR/layout" >/dev/null
    run --separate-stderr tdrv-pull --load "$BATS_TEST_TMPDIR/layout" test/whiteouts
    assert_success
    l2=$(jq -r '.image.layers[1].chain_id | sub("sha256:"; "")' <<<"$output")
    run stat -c '%F %t:%T' "$TDRV_ROOT/layers/$l2/etc/a"
    assert_output "character special file 0:0"
    run python3 -c 'import os,sys; print(os.getxattr(sys.argv[1], "trusted.overlay.opaque").decode())' "$TDRV_ROOT/layers/$l2/opaque"
    assert_output "y"
    [ ! -e "$TDRV_ROOT/layers/$l2/.wh.gone" ]
    run stat -c '%F' "$TDRV_ROOT/layers/$l2/gone"
    assert_output "character special file"
}

@test "docker save archives (legacy and OCI layouts), oci-archives and ACIs load" {
    python3 "$LIB/layers.py" image links "$BATS_TEST_TMPDIR/layout" gzip >/dev/null
    umoci unpack --image "$BATS_TEST_TMPDIR/layout:test/links:latest" "$BATS_TEST_TMPDIR/bundle" >/dev/null 2>&1
    for k in docker-legacy docker-oci oci-archive oci-archive-gz; do
        python3 "$LIB/layers.py" archive "$k" links "$BATS_TEST_TMPDIR/$k.tar"
        run --separate-stderr tdrv-pull --root "$BATS_TEST_TMPDIR/r-$k" --load "$BATS_TEST_TMPDIR/$k.tar" --rootfs "$BATS_TEST_TMPDIR/f-$k" test/links
        assert_success
        jq -e '.image.reference == "docker.io/test/links:latest"' <<<"$output"
        run python3 "$LIB/treediff.py" "$BATS_TEST_TMPDIR/f-$k" "$BATS_TEST_TMPDIR/bundle/rootfs"
        assert_success
    done
}

@test "config.load takes a docker-archive; its RepoTags name the image" {
    python3 "$LIB/layers.py" archive docker-legacy links "$BATS_TEST_TMPDIR/img.tar"
    run --separate-stderr tdrv-pull <<<"{\"config\":{\"image\":\"test/links:latest\",\"load\":\"$BATS_TEST_TMPDIR/img.tar\"}}"
    assert_success
    jq -e '.image.reference == "docker.io/test/links:latest" and .config.load' <<<"$output"
    run skopeo inspect "oci:$TDRV_ROOT/images:docker.io/test/links:latest"
    assert_success
}

@test "a relative config.load is looked for in the task's local dir first" {
    mkdir -p "$TDRV_ROOT/allocs/a1/web/local"
    python3 "$LIB/layers.py" archive docker-oci links "$TDRV_ROOT/allocs/a1/web/local/img.tar"
    cd "$BATS_TEST_TMPDIR"
    run --separate-stderr tdrv-pull <<<'{"alloc_id":"a1","task":"web","config":{"image":"test/links","load":"img.tar"}}'
    assert_success
    jq -e '.image.reference == "docker.io/test/links:latest"' <<<"$output"
}

@test "an ACI (plain and gzipped) becomes a one-layer image with its app as the config" {
    for k in aci aci-gz; do
        python3 "$LIB/layers.py" archive "$k" links "$BATS_TEST_TMPDIR/x.$k"
        run --separate-stderr tdrv-pull --root "$BATS_TEST_TMPDIR/r-$k" --load "$BATS_TEST_TMPDIR/x.$k" --rootfs "$BATS_TEST_TMPDIR/f-$k" <<<'{}'
        assert_success
        jq -e '.image.reference == "example.com/links:1.0" and (.image.layers | length) == 1' <<<"$output"
        cfg=$(jq -r '.image.config_digest | sub("sha256:"; "")' <<<"$output")
        run jq -c '.config' "$BATS_TEST_TMPDIR/r-$k/images/blobs/sha256/$cfg"
        assert_output '{"Entrypoint":["/bin/tool","--flag"],"User":"0:0","WorkingDir":"/bin","Env":["A=b"]}'
        [ -x "$BATS_TEST_TMPDIR/f-$k/bin/tool" ]
        [ "$(readlink "$BATS_TEST_TMPDIR/f-$k/lib/a.so.1")" = a.so ]
    done
}

@test "a task's image name tags the only image of an archive" {
    python3 "$LIB/layers.py" image links "$BATS_TEST_TMPDIR/layout" >/dev/null
    run --separate-stderr tdrv-pull --load "$BATS_TEST_TMPDIR/layout" registry.example:5000/mine:v2
    assert_success
    jq -e '.image.reference == "registry.example:5000/mine:v2"' <<<"$output"
    run --separate-stderr tdrv-pull registry.example:5000/mine:v2
    assert_success
    jq -e '.image.cached' <<<"$output"
}

@test "--rootfs refuses a directory that is not empty (73 rootfs_not_empty)" {
    python3 "$LIB/layers.py" image links "$BATS_TEST_TMPDIR/layout" >/dev/null
    mkdir -p "$BATS_TEST_TMPDIR/full"
    echo keep >"$BATS_TEST_TMPDIR/full/mine"
    run --separate-stderr tdrv-pull --load "$BATS_TEST_TMPDIR/layout" --rootfs "$BATS_TEST_TMPDIR/full" test/links
    assert_failure 73
    jq -e '.error.code == "rootfs_not_empty"' <<<"$output"
    [ "$(cat "$BATS_TEST_TMPDIR/full/mine")" = keep ]
}

@test "a missing archive is 66 archive_not_found" {
    run --separate-stderr tdrv-pull --load "$BATS_TEST_TMPDIR/nope.tar" busybox
    assert_failure 66
    jq -e '.error.code == "archive_not_found"' <<<"$output"
}

@test "not an archive is 65 invalid_archive" {
    echo hello >"$BATS_TEST_TMPDIR/x.tar"
    run --separate-stderr tdrv-pull --load "$BATS_TEST_TMPDIR/x.tar" busybox
    assert_failure 65
    jq -e '.error.code == "invalid_archive" or .error.code == "invalid_layer"' <<<"$output"
}

@test "a corrupt blob in a layout is 76 digest_mismatch and nothing unverified is kept" {
    python3 "$LIB/layers.py" image links "$BATS_TEST_TMPDIR/layout" >/dev/null
    blob=$(ls -S "$BATS_TEST_TMPDIR/layout/blobs/sha256" | head -1)
    printf 'X' | dd of="$BATS_TEST_TMPDIR/layout/blobs/sha256/$blob" bs=1 seek=20 conv=notrunc 2>/dev/null
    run --separate-stderr tdrv-pull --load "$BATS_TEST_TMPDIR/layout" test/links
    assert_failure 76
    jq -e '.error.code == "digest_mismatch"' <<<"$output"
    [ ! -e "$TDRV_ROOT/images/blobs/sha256/$blob" ]
    [ -z "$(ls -A "$TDRV_ROOT/ingest")" ]
}

@test "a layer whose content does not match its diff_id is 76 diff_id_mismatch" {
    python3 "$LIB/layers.py" image links "$BATS_TEST_TMPDIR/layout" >/dev/null
    cfg=$(jq -r '.manifests[0].digest | sub("sha256:"; "")' "$BATS_TEST_TMPDIR/layout/index.json")
    python3 - "$BATS_TEST_TMPDIR/layout" <<'PY'
import hashlib, json, os, sys
lay = sys.argv[1]
b = lambda d: os.path.join(lay, "blobs", "sha256", d.split(":")[1])
idx = json.load(open(os.path.join(lay, "index.json")))
man = json.load(open(b(idx["manifests"][0]["digest"])))
cfg = json.load(open(b(man["config"]["digest"])))
cfg["rootfs"]["diff_ids"][0] = "sha256:" + "0" * 64
cb = json.dumps(cfg).encode(); ch = hashlib.sha256(cb).hexdigest()
open(os.path.join(lay, "blobs", "sha256", ch), "wb").write(cb)
man["config"].update(digest="sha256:" + ch, size=len(cb))
mb = json.dumps(man).encode(); mh = hashlib.sha256(mb).hexdigest()
open(os.path.join(lay, "blobs", "sha256", mh), "wb").write(mb)
idx["manifests"][0].update(digest="sha256:" + mh, size=len(mb))
json.dump(idx, open(os.path.join(lay, "index.json"), "w"))
PY
    run --separate-stderr tdrv-pull --load "$BATS_TEST_TMPDIR/layout" test/links
    assert_failure 76
    jq -e '.error.code == "diff_id_mismatch"' <<<"$output"
    [ ! -e "$TDRV_ROOT/layers/$(printf '0%.0s' {1..64})" ]
    [ -z "$(ls -A "$TDRV_ROOT/layers" | grep '^\.tmp' || true)" ]
}

@test "a decompression bomb stops at the size limit while streaming (65 layer_too_large)" {
    LIB="$LIB" python3 -c '
import sys; sys.path.insert(0, sys.argv[1]); import layers
layers.write_layout(sys.argv[2], "test/bomb:latest", [layers.make_tar([layers.F("zeros", b"\0" * (8 << 20))])])
' "$LIB" "$BATS_TEST_TMPDIR/layout"
    TDRV_MAX_LAYER_BYTES=1048576 run --separate-stderr tdrv-pull --load "$BATS_TEST_TMPDIR/layout" test/bomb
    assert_failure 65
    jq -e '.error.code == "layer_too_large"' <<<"$output"
    TDRV_MAX_LAYER_ENTRIES=0 run --separate-stderr tdrv-pull --load "$BATS_TEST_TMPDIR/layout" test/bomb
    assert_failure 78
    run --separate-stderr tdrv-pull --load "$BATS_TEST_TMPDIR/layout" test/bomb
    assert_success
}

@test "two concurrent loads of one image share the store safely" {
    python3 "$LIB/layers.py" image smallfiles "$BATS_TEST_TMPDIR/layout" >/dev/null
    tdrv-pull --load "$BATS_TEST_TMPDIR/layout" test/smallfiles >"$BATS_TEST_TMPDIR/o1" 2>&1 &
    p1=$!
    tdrv-pull --load "$BATS_TEST_TMPDIR/layout" test/smallfiles >"$BATS_TEST_TMPDIR/o2" 2>&1 &
    p2=$!
    wait "$p1"
    wait "$p2"
    run jq '.manifests | length' "$TDRV_ROOT/images/index.json"
    assert_output "1"
    run bash -c "ls '$TDRV_ROOT/layers' | grep -cE '^[0-9a-f]{64}$'"
    assert_output "2"
    [ -z "$(ls -A "$TDRV_ROOT/ingest")" ]
}

@test "stale temporary files from a crash do not break a later load" {
    python3 "$LIB/layers.py" image links "$BATS_TEST_TMPDIR/layout" >/dev/null
    mkdir -p "$TDRV_ROOT/layers/.tmp-dead-1-1" "$TDRV_ROOT/ingest"
    echo junk >"$TDRV_ROOT/ingest/$(ls "$BATS_TEST_TMPDIR/layout/blobs/sha256" | head -1).partial"
    run --separate-stderr tdrv-pull --load "$BATS_TEST_TMPDIR/layout" --rootfs "$BATS_TEST_TMPDIR/r" test/links
    assert_success
    [ -x "$BATS_TEST_TMPDIR/r/bin/tool" ]
}

# ---- the catalogue of registry-images.md §3.4, one test per shape ----
@test "catalogue 01-dotdot-prefix" { run_case 01-dotdot-prefix; }
@test "catalogue 02-garbage-prefix" { run_case 02-garbage-prefix; }
@test "catalogue 03-absolute" { run_case 03-absolute; }
@test "catalogue 04-symlink-root" { run_case 04-symlink-root; }
@test "catalogue 04-symlink-garbage1" { run_case 04-symlink-garbage1; }
@test "catalogue 04-symlink-garbage2" { run_case 04-symlink-garbage2; }
@test "catalogue 04-symlink-garbage3" { run_case 04-symlink-garbage3; }
@test "catalogue 04-symlink-dotdot" { run_case 04-symlink-dotdot; }
@test "catalogue 05-symlink-absolute" { run_case 05-symlink-absolute; }
@test "catalogue 06-symlink-up-and-out" { run_case 06-symlink-up-and-out; }
@test "catalogue 07-symlink-multiple" { run_case 07-symlink-multiple; }
@test "catalogue 08-symlink-empty-file" { run_case 08-symlink-empty-file; }
@test "catalogue 09-hardlink-relative" { run_case 09-hardlink-relative; }
@test "catalogue 10-hardlink-direct" { run_case 10-hardlink-direct; }
@test "catalogue 11-hardlink-symlink" { run_case 11-hardlink-symlink; }
@test "catalogue 12-hardlink-symlink-chmod" { run_case 12-hardlink-symlink-chmod; }
@test "catalogue 13-hardlink-symlink-before-target" { run_case 13-hardlink-symlink-before-target; }
@test "catalogue 14-symlink-parent-dir" { run_case 14-symlink-parent-dir; }
@test "catalogue 14-symlink-empty-name" { run_case 14-symlink-empty-name; }
@test "catalogue 14-symlink-parent-relative" { run_case 14-symlink-parent-relative; }
@test "catalogue 15-symlink-override-dir" { run_case 15-symlink-override-dir; }
@test "catalogue 15-symlink-override-dir-relative" { run_case 15-symlink-override-dir-relative; }
@test "catalogue 16-dir-override-symlink" { run_case 16-dir-override-symlink; }
@test "catalogue 17-symlink-override-path" { run_case 17-symlink-override-path; }
@test "catalogue 18-whiteout-root" { run_case 18-whiteout-root; }
@test "catalogue 18-whiteout-root-parent" { run_case 18-whiteout-root-parent; }
@test "catalogue 18-whiteout-cur" { run_case 18-whiteout-cur; }
@test "catalogue 18-whiteout-parent" { run_case 18-whiteout-parent; }
@test "catalogue 19-whiteout-empty-root" { run_case 19-whiteout-empty-root; }
@test "catalogue 19-whiteout-empty" { run_case 19-whiteout-empty; }
@test "catalogue 20-whiteout-symlink" { run_case 20-whiteout-symlink; }
@test "catalogue 21-whiteout-symlink-path" { run_case 21-whiteout-symlink-path; }
@test "catalogue 22-whiteout-dir-name" { run_case 22-whiteout-dir-name; }
@test "catalogue 23-whiteout-dead-symlink-parent" { run_case 23-whiteout-dead-symlink-parent; }
@test "catalogue 24-whiteout-relative-path" { run_case 24-whiteout-relative-path; }
@test "catalogue 25-upper-whiteout" { run_case 25-upper-whiteout; }
@test "catalogue 26-opaque-same-layer" { run_case 26-opaque-same-layer; }
@test "catalogue 27-root-symlink" { run_case 27-root-symlink; }
@test "catalogue 27-root-file" { run_case 27-root-file; }
@test "catalogue 28-nondir-parent" { run_case 28-nondir-parent; }
@test "catalogue 28-nondir-parent-same-layer" { run_case 28-nondir-parent-same-layer; }
@test "catalogue 29-implicit-parents" { run_case 29-implicit-parents; }
@test "catalogue 30-devices" { run_case 30-devices; }
@test "catalogue 31-device-major-minus-1" { run_case 31-device-major-minus-1; }
@test "catalogue 31-device-major-2p32" { run_case 31-device-major-2p32; }
@test "catalogue 31-device-minor-2p32" { run_case 31-device-minor-2p32; }
@test "catalogue 32-xattrs" { run_case 32-xattrs; }
@test "catalogue 33-long-names-ustar" { run_case 33-long-names-ustar; }
@test "catalogue 33-long-names-gnu" { run_case 33-long-names-gnu; }
@test "catalogue 33-long-names-pax" { run_case 33-long-names-pax; }
@test "catalogue 34-trailing-junk-tar" { run_case 34-trailing-junk-tar; }
@test "catalogue 34-trailing-junk-gzip" { run_case 34-trailing-junk-gzip; }
@test "catalogue 35-hardlink-before-target" { run_case 35-hardlink-before-target; }
@test "catalogue 35-hardlink-to-lower" { run_case 35-hardlink-to-lower; }
@test "catalogue x-deep-nesting" { run_case x-deep-nesting; }
@test "catalogue x-dangling-symlink-parent" { run_case x-dangling-symlink-parent; }
@test "catalogue x-symlink-loop-parent" { run_case x-symlink-loop-parent; }

@test "catalogue, every case again with the user-space walk a kernel without openat2 gets (TDRV_NO_OPENAT2=1)" {
    local id m base=$BATS_TEST_TMPDIR
    export TDRV_NO_OPENAT2=1
    for id in $(python3 "$LIB/layers.py" list); do
        BATS_TEST_TMPDIR=$base/$id
        mkdir -p "$BATS_TEST_TMPDIR"
        tdrv_test_env
        run_case "$id"
        for m in "${MOUNTS[@]}"; do umount "$m"; done
        MOUNTS=()
    done
}
