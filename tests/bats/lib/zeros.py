#!/usr/bin/env python3
"""An OCI layout whose one layer is a file of MIB MiB of zeros: a blob of a few KiB that
unpacks to MIB MiB (a disk that holds the download fills up while unpacking).

usage: zeros.py OUT MIB
"""
import gzip, hashlib, io, json, os, sys, tarfile

out, mib = sys.argv[1], int(sys.argv[2])
os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)


def put(data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(out, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return "sha256:" + d, len(data)


raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
    ti = tarfile.TarInfo("zeros")
    ti.size, ti.mode, ti.mtime = mib << 20, 0o644, 0
    tf.addfile(ti, io.BytesIO(bytes(mib << 20)))
tar = raw.getvalue()
layer, lsize = put(gzip.compress(tar, compresslevel=9, mtime=0))
cfg, csize = put(json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                             "rootfs": {"type": "layers",
                                        "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]}
                             }).encode())
man, msize = put(json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": csize},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer,
                "size": lsize}]}).encode())
json.dump({"schemaVersion": 2, "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": man, "size": msize}]},
    open(os.path.join(out, "index.json"), "w"))
with open(os.path.join(out, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
