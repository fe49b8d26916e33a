#!/usr/bin/env python3
"""Compare two directory trees file by file: type, mode, owner, size, content, link target
(and device numbers, hardlink grouping). Prints the differences; exit 1 if any.
Usage: treediff.py A B"""
import hashlib, os, stat, sys

def walk(top):
    out = {}
    inodes = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, top)
            st = os.lstat(p)
            d = {"type": stat.S_IFMT(st.st_mode), "mode": oct(stat.S_IMODE(st.st_mode)),
                 "uid": st.st_uid, "gid": st.st_gid}
            if stat.S_ISREG(st.st_mode):
                d["size"] = st.st_size
                with open(p, "rb") as f:
                    d["sha256"] = hashlib.sha256(f.read()).hexdigest()
                inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            elif stat.S_ISLNK(st.st_mode):
                d["target"] = os.readlink(p)
                del d["mode"]
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                d["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
            out[rel] = d
    for paths in inodes.values():
        for p in paths:
            out[p]["links"] = sorted(paths)
    return out

a, b = walk(sys.argv[1]), walk(sys.argv[2])
bad = 0
for k in sorted(set(a) | set(b)):
    if k not in a:
        print(f"only in {sys.argv[2]}: {k}"); bad += 1
    elif k not in b:
        print(f"only in {sys.argv[1]}: {k}"); bad += 1
    elif a[k] != b[k]:
        diffs = {f: (a[k].get(f), b[k].get(f)) for f in set(a[k]) | set(b[k]) if a[k].get(f) != b[k].get(f)}
        print(f"differs: {k}: {diffs}"); bad += 1
print(f"{len(a)} entries compared, {bad} differences")
sys.exit(1 if bad else 0)
