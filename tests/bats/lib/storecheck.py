#!/usr/bin/env python3
"""Check that a tdrv store ($TDRV_ROOT) is consistent; print what is wrong, exit 1 if any.

usage: storecheck.py ROOT [--no-temporaries]

- images/oci-layout and images/index.json are valid JSON (both absent: a store whose
  creation was cut short, which has no image);
- every file under images/blobs/<alg>/ hashes to its name (nothing unverified is there);
- every manifest index.json names is there, and so are its config and layers, and each
  layer's snapshot layers/<chain-hex>/ with a layers/<chain-hex>.json that agrees;
- every layers/<hex>/ has its .json and every .json its directory;
- nothing else looks complete: no other names under images/blobs/ or layers/, ingest/
  holds only *.partial files, none larger than its blob, none beside its finished blob;
- with --no-temporaries: no leftovers of killed writers (layers/.tmp-*, *.tmp-*).
"""
import hashlib, json, os, sys

root = sys.argv[1]
no_tmp = "--no-temporaries" in sys.argv[2:]
bad = []


def fail(msg):
    bad.append(msg)


def load(path):
    try:
        with open(path, "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError) as e:
        fail("%s: %s" % (path, e))
        return None


def blob_path(digest):
    alg, hexd = digest.split(":", 1)
    return os.path.join(root, "images", "blobs", alg, hexd)


def chain_ids(diff_ids):
    out, prev = [], None
    for d in diff_ids:
        prev = d if prev is None else "sha256:" + hashlib.sha256((prev + " " + d).encode()).hexdigest()
        out.append(prev)
    return out


sizes = {}  # blob digest -> size some descriptor gives it
images = os.path.join(root, "images")
if os.path.isdir(images):
    # a store whose creation was killed before its two files has no image (the next
    # tdrv_store_open writes them)
    if os.path.exists(os.path.join(images, "oci-layout")) or \
            os.path.exists(os.path.join(images, "index.json")):
        load(os.path.join(images, "oci-layout"))
        index = load(os.path.join(images, "index.json")) or {}
    else:
        index = {}
    for alg in ("sha256", "sha512"):
        d = os.path.join(images, "blobs", alg)
        for name in os.listdir(d) if os.path.isdir(d) else []:
            p = os.path.join(d, name)
            if ".tmp-" in name and not no_tmp:
                continue
            try:
                with open(p, "rb") as f:
                    got = hashlib.new(alg, f.read()).hexdigest()
            except OSError as e:
                fail("%s: %s" % (p, e))
                continue
            if got != name:
                fail("blob %s:%s holds %s:%s" % (alg, name, alg, got))
    pending = list(index.get("manifests", []))
    while pending:
        desc = pending.pop()
        m = load(blob_path(desc["digest"]))
        if m is None:
            continue
        if "manifests" in m:  # an image index: its entries need not all be here
            continue
        cfg = load(blob_path(m["config"]["digest"]))
        if cfg is None:
            continue
        diffs = cfg.get("rootfs", {}).get("diff_ids", [])
        if len(diffs) != len(m.get("layers", [])):
            fail("image %s: %d layers, %d diff_ids" % (desc["digest"], len(m["layers"]), len(diffs)))
            continue
        for layer, chain in zip(m["layers"], chain_ids(diffs)):
            sizes[layer["digest"]] = layer["size"]
            if not os.path.isfile(blob_path(layer["digest"])):
                fail("image %s: layer blob %s missing" % (desc["digest"], layer["digest"]))
            hexc = chain.split(":", 1)[1]
            if not os.path.isdir(os.path.join(root, "layers", hexc)):
                fail("image %s: layer %s not unpacked" % (desc["digest"], hexc))
layers = os.path.join(root, "layers")
for name in os.listdir(layers) if os.path.isdir(layers) else []:
    p = os.path.join(layers, name)
    if name.startswith(".tmp-"):
        if no_tmp:
            fail("temporary left: %s" % p)
        continue
    if name.endswith(".json"):
        meta = load(p)
        if meta and meta.get("chain_id", "").split(":", 1)[-1] != name[:-5]:
            fail("%s names chain %s" % (p, meta.get("chain_id")))
        if meta and not os.path.isdir(p[:-5]):
            fail("%s without its directory" % p)
        continue
    if ".tmp-" in name:
        if no_tmp:
            fail("temporary left: %s" % p)
        continue
    if not os.path.isdir(p) or len(name) != 64:
        fail("unexpected entry %s" % p)
    elif not os.path.isfile(p + ".json"):
        fail("layer %s without its .json" % name)
ingest = os.path.join(root, "ingest")
for name in os.listdir(ingest) if os.path.isdir(ingest) else []:
    p = os.path.join(ingest, name)
    if not name.endswith(".partial"):
        fail("unexpected entry %s" % p)
        continue
    if name.startswith("tmp-"):
        continue
    d = "sha256:" + name[:-len(".partial")]
    if os.path.exists(blob_path(d)):
        fail("partial %s of a blob the store has" % p)
    if d in sizes and os.path.getsize(p) > sizes[d]:
        fail("partial %s is %d bytes, the blob %d" % (p, os.path.getsize(p), sizes[d]))
for root_, dirs, files in os.walk(images):
    for f in files:
        if ".tmp-" in f and no_tmp:
            fail("temporary left: %s" % os.path.join(root_, f))
for msg in bad:
    print("storecheck: " + msg)
sys.exit(1 if bad else 0)
