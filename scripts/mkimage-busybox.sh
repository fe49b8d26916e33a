#!/usr/bin/env bash
# Build a tiny OCI image layout from Debian's busybox-static, offline.
# Usage: scripts/mkimage-busybox.sh OUTDIR [REF]
#   OUTDIR  an OCI image layout is written there (created; existing layout is replaced)
#   REF     the org.opencontainers.image.ref.name annotation (default
#           docker.io/library/busybox:latest)
# The image: one gzip layer with /bin/busybox, applet symlinks in /bin, /etc/passwd,
# /etc/group, /tmp (1777), /root, /home; config Cmd ["sh"], Env PATH, linux/amd64 (the
# host's architecture). The output is deterministic (mtime 0), so its digest is stable.
set -eu
out=${1:?usage: mkimage-busybox.sh OUTDIR [REF]}
ref=${2:-docker.io/library/busybox:latest}
bb=${BUSYBOX:-/bin/busybox}
[ -x "$bb" ] || { echo "mkimage-busybox: $bb not found (apt-get install busybox-static)" >&2; exit 66; }
case "$(uname -m)" in
x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; armv7l) arch=arm ;; *) arch=$(uname -m) ;;
esac
applets=$("$bb" --list 2>/dev/null | tr '\n' ' ')
rm -rf "$out"
mkdir -p "$out"
python3 - "$out" "$ref" "$bb" "$arch" "$applets" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
out, ref, bb, arch, applets = sys.argv[1:6]
buf = io.BytesIO()
def add(tf, name, typ, mode, data=b"", link=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.mtime, ti.uid, ti.gid = typ, mode, 0, 0, 0
    ti.uname = ti.gname = "root"
    ti.linkname = link
    ti.size = len(data) if typ == tarfile.REGTYPE else 0
    tf.addfile(ti, io.BytesIO(data) if typ == tarfile.REGTYPE else None)
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
    for d, m in (("bin", 0o755), ("etc", 0o755), ("home", 0o755), ("root", 0o700),
                 ("tmp", 0o1777), ("usr", 0o755), ("usr/bin", 0o755), ("var", 0o755)):
        add(tf, d, tarfile.DIRTYPE, m)
    add(tf, "bin/busybox", tarfile.REGTYPE, 0o755, open(bb, "rb").read())
    for a in sorted(set(applets.split())):
        if a != "busybox" and "/" not in a:
            add(tf, "bin/" + a, tarfile.SYMTYPE, 0o777, link="busybox")
    add(tf, "etc/passwd", tarfile.REGTYPE, 0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")
    add(tf, "etc/group", tarfile.REGTYPE, 0o644, b"root:x:0:\nnogroup:x:65534:\n")
tar = buf.getvalue()
gz = gzip.compress(tar, mtime=0)
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs)
def put(data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, h), "wb") as f:
        f.write(data)
    return "sha256:" + h
layer = put(gz)
config = {
    "architecture": arch, "os": "linux",
    "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
               "Cmd": ["sh"]},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
    "history": [{"created_by": "scripts/mkimage-busybox.sh"}],
}
cb = json.dumps(config, separators=(",", ":")).encode()
cd = put(cb)
manifest = {
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cb)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer, "size": len(gz)}],
}
mb = json.dumps(manifest, separators=(",", ":")).encode()
md = put(mb)
index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
         "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
                        "size": len(mb), "platform": {"architecture": arch, "os": "linux"},
                        "annotations": {"org.opencontainers.image.ref.name": ref,
                                        "io.containerd.image.name": ref}}]}
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump(index, f)
with open(os.path.join(out, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
print(md)
PY
