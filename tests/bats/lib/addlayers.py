#!/usr/bin/env python3
"""Stack the layers of OCI layout SRC on top of the image of layout DST (in place).

usage: addlayers.py DST SRC [REF]

Both layouts hold one image manifest (index.json's first entry). SRC's layer blobs are
copied into DST, appended to DST's manifest and config (rootfs.diff_ids), and DST's
index.json points at the new manifest (annotated with REF when given). Used to make a
runnable busybox image that is several MB (tests/bats/faults.bats).
"""
import hashlib, json, os, shutil, sys

dst, src = sys.argv[1], sys.argv[2]
ref = sys.argv[3] if len(sys.argv) > 3 else None


def path(root, digest):
    return os.path.join(root, "blobs", "sha256", digest.split(":", 1)[1])


def load(root, digest):
    with open(path(root, digest), "rb") as f:
        return json.load(f)


def put(root, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(path(root, d), "wb") as f:
        f.write(data)
    return d, len(data)


didx = json.load(open(os.path.join(dst, "index.json")))
sidx = json.load(open(os.path.join(src, "index.json")))
dm = load(dst, didx["manifests"][0]["digest"])
sm = load(src, sidx["manifests"][0]["digest"])
dc = load(dst, dm["config"]["digest"])
sc = load(src, sm["config"]["digest"])
for layer, diff in zip(sm["layers"], sc["rootfs"]["diff_ids"]):
    shutil.copyfile(path(src, layer["digest"]), path(dst, layer["digest"]))
    dm["layers"].append(layer)
    dc["rootfs"]["diff_ids"].append(diff)
dm["config"]["digest"], dm["config"]["size"] = put(dst, json.dumps(dc).encode())
d, n = put(dst, json.dumps(dm).encode())
entry = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": n}
if ref:
    entry["annotations"] = {"org.opencontainers.image.ref.name": ref}
didx["manifests"] = [entry]
json.dump(didx, open(os.path.join(dst, "index.json"), "w"))
