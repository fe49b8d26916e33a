#!/usr/bin/env python3
"""Build a docker-save archive (for `docker load`) of a one-layer busybox image, offline.

usage: mkimage.py OUT.tar [REPO:TAG]   (default tdrv-test/busybox:1)
The layer holds /bin/busybox (Debian's busybox-static) and a symlink per applet,
/etc/passwd and /etc/group with root, nobody and a user 1234, /tmp.
"""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

out = sys.argv[1]
ref = sys.argv[2] if len(sys.argv) > 2 else "tdrv-test/busybox:1"
bb = "/bin/busybox"

def add_file(t, name, data, mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = mode
    ti.mtime = 0
    t.addfile(ti, io.BytesIO(data))

def add_dir(t, name, mode=0o755):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE
    ti.mode = mode
    ti.mtime = 0
    t.addfile(ti)

layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as t:
    for d in ("bin", "etc", "proc", "sys", "dev", "root", "home"):
        add_dir(t, d)
    add_dir(t, "tmp", 0o1777)
    with open(bb, "rb") as f:
        add_file(t, "bin/busybox", f.read(), 0o755)
    applets = subprocess.run([bb, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for a in sorted(set(applets)):
        if a == "busybox":
            continue
        ti = tarfile.TarInfo("bin/" + a)
        ti.type = tarfile.SYMTYPE
        ti.linkname = "busybox"
        ti.mtime = 0
        t.addfile(ti)
    add_file(t, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\nuser:x:1234:1234:user:/home:/bin/sh\n")
    add_file(t, "etc/group", b"root:x:0:\naudio:x:29:\nnogroup:x:65534:\nuser:x:1234:\n")
layer_bytes = layer.getvalue()
diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
config = {
    "architecture": "amd64",
    "os": "linux",
    "config": {"Env": ["PATH=/bin", "IMAGE_ENV=from-image"], "Cmd": ["/bin/sh"], "WorkingDir": "/"},
    "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    "history": [{"created_by": "tdrv tests/bats/docker/mkimage.py"}],
}
config_bytes = json.dumps(config, sort_keys=True).encode()
config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
layer_dir = hashlib.sha256(layer_bytes).hexdigest()
manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": [layer_dir + "/layer.tar"]}]
with tarfile.open(out, "w") as t:
    add_file(t, config_name, config_bytes)
    add_dir(t, layer_dir)
    add_file(t, layer_dir + "/layer.tar", layer_bytes)
    add_file(t, layer_dir + "/VERSION", b"1.0")
    add_file(t, "manifest.json", json.dumps(manifest).encode())
