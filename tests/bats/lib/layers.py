#!/usr/bin/env python3
"""Build OCI image layouts from hand-made layer tars, and check what unpacking them gave.

The malicious and tricky shapes of reference/registry-images.md §3.4 (numbered as there),
plus the differential-test images. Usage:
  layers.py list                      case ids
  layers.py expect CASE               "ok" or "reject"
  layers.py build CASE LAYOUT HOST    write an OCI layout (ref test/case:CASE); HOST is a
                                      scratch dir outside the rootfs for host-path shapes
  layers.py check CASE ROOTFS HOST    verify the flattened rootfs; exit 1 listing failures
  layers.py image NAME LAYOUT [COMP]  a differential-test image (COMP gzip|zstd|none, or a
                                      comma-separated list cycled over the layers)
  layers.py archive KIND NAME FILE    that image as docker-legacy, docker-oci, oci-archive,
                                      oci-archive-gz, aci or aci-gz (first layer only)
"""
import gzip, hashlib, io, json, os, stat, subprocess, sys, tarfile

# ---- entries ----

def F(name, data=b"", mode=0o644, **kw):
    return dict(kind=tarfile.REGTYPE, name=name, data=data, mode=mode, **kw)

def D(name, mode=0o755, **kw):
    return dict(kind=tarfile.DIRTYPE, name=name, mode=mode, **kw)

def L(name, target, **kw):
    return dict(kind=tarfile.SYMTYPE, name=name, link=target, mode=0o777, **kw)

def H(name, target, mode=0o644, **kw):
    return dict(kind=tarfile.LNKTYPE, name=name, link=target, mode=mode, **kw)

def C(name, major=0, minor=0, **kw):
    return dict(kind=tarfile.CHRTYPE, name=name, major=major, minor=minor, mode=0o600, **kw)

def make_tar(entries, fmt=tarfile.PAX_FORMAT, trailer=b""):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.type = e["kind"]
            ti.mode = e.get("mode", 0o644)
            ti.uid = e.get("uid", 0)
            ti.gid = e.get("gid", 0)
            ti.uname = ti.gname = ""
            ti.mtime = e.get("mtime", 1600000000)
            ti.linkname = e.get("link", "")
            if "major" in e:
                ti.devmajor, ti.devminor = e["major"], e["minor"]
            if "pax" in e:
                ti.pax_headers = e["pax"]
            data = e.get("data", b"")
            if ti.type == tarfile.REGTYPE:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            else:
                tf.addfile(ti)
        # python writes the name as given: no sanitizing of "..", "/" or empty names
    return buf.getvalue() + trailer

def compress(tar, comp):
    if comp == "gzip":
        return gzip.compress(tar, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
    if comp == "zstd":
        z = subprocess.run(["zstd", "-q", "-c"], input=tar, stdout=subprocess.PIPE, check=True)
        return z.stdout, "application/vnd.oci.image.layer.v1.tar+zstd"
    return tar, "application/vnd.oci.image.layer.v1.tar"

def write_layout(out, ref, layers, comp="gzip"):
    """layers: list of raw tar bytes (or (tar, blob, mediatype) tuples)."""
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data):
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, h), "wb") as f:
            f.write(data)
        return "sha256:" + h

    descs, diffs = [], []
    for i, l in enumerate(layers):
        if isinstance(l, tuple):
            tar, blob, mt = l
        else:
            tar = l
            blob, mt = compress(tar, comp if isinstance(comp, str) else comp[i % len(comp)])
        diffs.append("sha256:" + hashlib.sha256(tar).hexdigest())
        descs.append({"mediaType": mt, "digest": put(blob), "size": len(blob)})
    cfg = json.dumps({"architecture": host_arch(), "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
    man = json.dumps({"schemaVersion": 2,
                      "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": put(cfg), "size": len(cfg)},
                      "layers": descs}).encode()
    md = put(man)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
             "size": len(man), "annotations": {"org.opencontainers.image.ref.name": ref}}]}, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    return md

def host_arch():
    m = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)

# ---- checks ----

class Check:
    def __init__(self, root, host):
        self.root, self.host, self.fail = root, host, []

    def p(self, rel):
        return os.path.join(self.root, rel)

    def file(self, rel, data=None):
        p = self.p(rel)
        if not os.path.isfile(p) or os.path.islink(p):
            self.fail.append(f"{rel}: not a regular file")
        elif data is not None and open(p, "rb").read() != data:
            self.fail.append(f"{rel}: wrong content")

    def dir(self, rel):
        p = self.p(rel)
        if not os.path.isdir(p) or os.path.islink(p):
            self.fail.append(f"{rel}: not a directory")

    def link(self, rel, target=None):
        p = self.p(rel)
        if not os.path.islink(p):
            self.fail.append(f"{rel}: not a symlink")
        elif target is not None and os.readlink(p) != target:
            self.fail.append(f"{rel}: links to {os.readlink(p)!r}, want {target!r}")

    def absent(self, rel):
        if os.path.lexists(self.p(rel)):
            self.fail.append(f"{rel}: should not exist")

    def same(self, a, b):
        sa, sb = os.lstat(self.p(a)), os.lstat(self.p(b))
        if (sa.st_dev, sa.st_ino) != (sb.st_dev, sb.st_ino):
            self.fail.append(f"{a} and {b}: not the same inode")

    def true(self, cond, msg):
        if not cond:
            self.fail.append(msg)

CASES = {}

def case(cid, layers, expect="ok", check=None, fmt=tarfile.PAX_FORMAT, trailer=b"",
         comp="gzip", overlay=True):
    """overlay=False: the overlay view legitimately differs from the flattened rootfs. Each
    layer is unpacked on its own into its lower dir, so an entry cannot go through a symlink
    a lower layer made (tdrv makes a directory in the upper layer instead); still nothing
    leaves the root."""
    CASES[cid] = dict(layers=layers, expect=expect, check=check, fmt=fmt, trailer=trailer,
                      comp=comp, overlay=overlay)

P = b"root:x:0:0::/root:/bin/sh\n"
case("01-dotdot-prefix", [[F("../file", b"x")]], check=lambda c: c.file("file", b"x"))
case("02-garbage-prefix", [[F("/../file", b"x")]], check=lambda c: c.file("file", b"x"))
case("03-absolute", [[D("etc"), F("/etc/passwd", P)]], check=lambda c: c.file("etc/passwd", P))
for n, t in (("root", "/"), ("garbage1", "/../"), ("garbage2", "/../../../"),
             ("garbage3", "/./.././.."), ("dotdot", "..")):
    case(f"04-symlink-{n}", [[L("link", t)], [F("link/file", b"y")]],
         check=lambda c: c.file("file", b"y"), overlay=False)
case("05-symlink-absolute", [[D("etc"), L("localetc", "/etc"), F("/localetc/unbroken", b"u")]],
     check=lambda c: c.file("etc/unbroken", b"u"))
case("06-symlink-up-and-out",
     [[D("etc"), D("dummy"), L("localetc", "/dummy/../etc"), F("localetc/unbroken", b"u")]],
     check=lambda c: c.file("etc/unbroken", b"u"))
case("07-symlink-multiple",
     [[D("etc"), D("dummy"), L("dummy/etc", "/etc"), L("localetc", "./dummy/etc"),
       L("abs", "/dummy/etc"), F("localetc/a", b"a"), F("abs/b", b"b")]],
     check=lambda c: (c.file("etc/a", b"a"), c.file("etc/b", b"b")))
case("08-symlink-empty-file",
     [[D("etc"), F("etc/emptied", b"full")], [L("localetc", "/etc"), F("/localetc/emptied")]],
     check=lambda c: c.file("etc/emptied", b""))
case("09-hardlink-relative",
     [[D("etc"), F("etc/passwd", P), D("breakouts"), L("breakouts/d1", "../../etc"),
       L("breakouts/d2", "../downandout/../../etc"),
       H("breakouts/mypasswd", "/breakouts/d1/passwd"),
       H("breakouts/mypasswd2", "breakouts/d2/passwd")]],
     check=lambda c: (c.same("breakouts/mypasswd", "etc/passwd"),
                      c.same("breakouts/mypasswd2", "etc/passwd")))
case("10-hardlink-direct",
     [[D("etc"), F("etc/passwd", P), L("up", "../../../../../../../etc"),
       L("upandout", "upandout/../../../etc"),
       H("a", "/etc/passwd"), H("b", "../../../../../etc/passwd"), H("c", "up/passwd")]],
     check=lambda c: (c.same("a", "etc/passwd"), c.same("b", "etc/passwd"),
                      c.same("c", "etc/passwd")))
case("11-hardlink-symlink",
     [[D("etc"), F("etc/passwd", P), L("passwdlink", "../../../../../etc/passwd"),
       H("localpasswd", "/passwdlink")]],
     check=lambda c: (c.link("localpasswd", "../../../../../etc/passwd"),
                      c.same("localpasswd", "passwdlink")))

def c12(c):
    st = os.stat(os.path.join(c.host, "perm400"))
    c.true(stat.S_IMODE(st.st_mode) == 0o400, "host perm400 mode changed")
    c.true(st.st_uid == 4242 or st.st_uid == os.getuid(), "host perm400 owner changed")
case("12-hardlink-symlink-chmod",
     [[L("HOST/also-exists-outside-root", "HOST/perm400"),
       H("sketchylink", "HOST/also-exists-outside-root", mode=0o777, uid=1, gid=1)]], check=c12)
case("13-hardlink-symlink-before-target",
     [[D("etc"), L("localpasswd", "/etc/passwd"), H("localpasswd-dup", "localpasswd"),
       F("/etc/passwd", P)]],
     check=lambda c: (c.link("localpasswd-dup", "/etc/passwd"), c.file("etc/passwd", P)))
case("14-symlink-parent-dir", [[D("etc"), L("..", "/etc/")]], expect="reject")
case("14-symlink-empty-name", [[D("etc"), L("", "/etc/")]], expect="reject")
case("14-symlink-parent-relative",
     [[D("etc"), F("etc/passwd", P), D("localetc"), L("localetc/sub/..", "/etc/"),
       H("localetc/localpasswd", "/etc/passwd")]],
     check=lambda c: (c.link("localetc", "/etc/"), c.same("etc/localpasswd", "etc/passwd")))
# The hardlink's target is in the same layer: a layer unpacked on its own (an overlay lower
# dir) cannot link to a lower layer's file (case 35).
case("15-symlink-override-dir",
     [[D("etc"), F("etc/passwd", b"old"), D("localetc")],
      [D("etc"), F("etc/passwd", P), L("localetc", "/etc"),
       H("/localetc/localpasswd", "/etc/passwd")]],
     check=lambda c: (c.link("localetc", "/etc"), c.same("etc/localpasswd", "etc/passwd")))
case("15-symlink-override-dir-relative",
     [[D("etc"), F("etc/passwd", b"old"), D("localetc")],
      [D("etc"), F("etc/passwd", P), L("localetc", "../../etc"),
       H("/localetc/localpasswd", "/etc/passwd")]],
     check=lambda c: (c.link("localetc", "../../etc"), c.same("etc/localpasswd", "etc/passwd")))
case("16-dir-override-symlink",
     [[D("etc"), F("etc/passwd", P), L("localetc", "/etc")],
      [D("localetc"), F("localetc/passwd", b"new")]],
     check=lambda c: (c.dir("localetc"), c.file("localetc/passwd", b"new"),
                      c.file("etc/passwd", P)))
case("17-symlink-override-path",
     [[D("foo"), F("foo/tmp/tdrvcase17", b"1"), L("foo", "/"), F("foo/tmp/tdrvcase17", b"2"),
       D("foo"), F("foo/tmp/tdrvcase17", b"3")]],
     check=lambda c: (c.file("foo/tmp/tdrvcase17", b"3"),
                      c.true(not os.path.exists("/tmp/tdrvcase17"), "host /tmp written")))
for n, name in (("root", ".wh.."), ("root-parent", ".wh..."), ("cur", "etc/.wh.."),
                ("parent", "etc/.wh...")):
    case(f"18-whiteout-{n}", [[D("etc"), F("etc/x")], [F(name)]], expect="reject")
case("19-whiteout-empty-root", [[F("a")], [F(".wh.")]], expect="reject")
case("19-whiteout-empty", [[D("some"), D("some/path")], [F("some/path/.wh.")]], expect="reject")
case("20-whiteout-symlink",
     [[D("etc"), F("etc/passwd", P), L("localetc", "/etc")], [F(".wh.localetc")]],
     check=lambda c: (c.absent("localetc"), c.file("etc/passwd", P)))
case("21-whiteout-symlink-path",
     [[D("etc"), F("etc/whitedout"), F("etc/kept"), L("localetc", "/etc")],
      [F("localetc/.wh.whitedout")]],
     check=lambda c: (c.absent("etc/whitedout"), c.file("etc/kept")), overlay=False)
case("22-whiteout-dir-name", [[F(".wh.etc/somefile", b"s")]],
     check=lambda c: c.file(".wh.etc/somefile", b"s"))
case("23-whiteout-dead-symlink-parent",
     [[D("etc"), F("etc/x"), L("localetc", "/dne")], [F("localetc/.wh.etc")]],
     check=lambda c: (c.file("etc/x"), c.link("localetc", "/dne")), overlay=False)
case("24-whiteout-relative-path", [[D("etc"), F("etc/x")], [F("dne/../.wh.etc")]],
     check=lambda c: c.absent("etc"))
case("25-upper-whiteout",
     [[F("fileA", b"lower"), F("fileB", b"lower")],
      [F("fileA", b"upper"), F(".wh.fileA"), F(".wh.fileB"), F("fileB", b"upper")]],
     check=lambda c: (c.file("fileA", b"upper"), c.file("fileB", b"upper")))
case("26-opaque-same-layer",
     [[D("dir"), F("dir/lower"), D("dir/sub"), F("dir/sub/lower")],
      [D("dir"), F("dir/x", b"x"), F("dir/.wh..wh..opq")]],
     check=lambda c: (c.dir("dir"), c.file("dir/x", b"x"), c.absent("dir/lower"),
                      c.absent("dir/sub")))
case("27-root-symlink", [[L(".", "/")]], expect="reject")
case("27-root-file", [[F("./", b"x")]], expect="reject")
case("28-nondir-parent", [[F("nondir", b"f")], [F("nondir/foo/bar/baz", b"b")]],
     check=lambda c: (c.dir("nondir/foo/bar"), c.file("nondir/foo/bar/baz", b"b")))
case("28-nondir-parent-same-layer", [[F("nondir", b"f"), F("nondir/foo/bar/baz", b"b")]],
     check=lambda c: c.file("nondir/foo/bar/baz", b"b"))
case("29-implicit-parents", [[F("a/b/c/file", b"f")]],
     check=lambda c: (c.dir("a/b/c"), c.file("a/b/c/file", b"f")))
case("30-devices", [[C("dev-null", 1, 3), C("wh", 0, 0),
                     dict(kind=tarfile.FIFOTYPE, name="fifo", mode=0o600)]],
     check=lambda c: (c.true(stat.S_ISCHR(os.lstat(c.p("dev-null")).st_mode) and
                             os.lstat(c.p("dev-null")).st_rdev == os.makedev(1, 3), "dev-null"),
                      c.true(stat.S_ISFIFO(os.lstat(c.p("fifo")).st_mode), "fifo")))
case("31-device-major-minus-1", [[C("bad", -1, 0)]], expect="reject", fmt=tarfile.GNU_FORMAT)
case("31-device-major-2p32", [[C("bad", 2 ** 32, 0)]], expect="reject", fmt=tarfile.GNU_FORMAT)
case("31-device-minor-2p32", [[C("bad", 1, 2 ** 32)]], expect="reject", fmt=tarfile.GNU_FORMAT)

def c32(c):
    p = c.p("x")
    names = os.listxattr(p)
    c.true("security.selinux" not in names, "security.selinux applied")
    c.true(os.getxattr(p, "user.keep") == b"v", "user.keep lost")
case("32-xattrs", [[F("x", b"x", pax={"SCHILY.xattr.security.selinux": "system_u:object_r:x",
                                      "SCHILY.xattr.user.keep": "v"})]], check=c32)
LONG = "d" * 60 + "/" + "e" * 60 + "/" + "f" * 80
case("33-long-names-ustar", [[F("p" * 90 + "/" + "n" * 90, b"u")]], fmt=tarfile.USTAR_FORMAT,
     check=lambda c: c.file("p" * 90 + "/" + "n" * 90, b"u"))
case("33-long-names-gnu", [[F(LONG, b"g"), L(LONG + "-l", "x" * 150)]], fmt=tarfile.GNU_FORMAT,
     check=lambda c: (c.file(LONG, b"g"), c.link(LONG + "-l", "x" * 150)))
case("33-long-names-pax", [[F(LONG + "p", b"p")]], check=lambda c: c.file(LONG + "p", b"p"))
case("34-trailing-junk-tar", [[F("f", b"f")]], trailer=b"\0" * 4096 + b"junk" * 100,
     check=lambda c: c.file("f", b"f"))
case("34-trailing-junk-gzip", [[F("f", b"f")]], comp="gzip+junk",
     check=lambda c: c.file("f", b"f"))
DEEP = "/".join(["d"] * 1500)
case("x-deep-nesting", [[F(DEEP + "/f", b"deep"), L("s", DEEP), F("s/g", b"g")],
                        [F(DEEP + "/.wh.f"), F("s/.wh.g")]],
     check=lambda c: (c.absent(DEEP + "/f"), c.absent(DEEP + "/g"), c.dir(DEEP)),
     overlay=False)
case("x-dangling-symlink-parent", [[L("a", "/b/c"), F("a/f", b"f")]],
     check=lambda c: (c.link("a", "/b/c"), c.file("b/c/f", b"f")))
case("x-symlink-loop-parent", [[L("l1", "l2"), L("l2", "l1"), F("l1/f", b"f")]],
     expect="reject")
case("35-hardlink-before-target", [[H("link", "target"), F("target", b"t")]], expect="reject")
case("35-hardlink-to-lower", [[F("target", b"t")], [H("link", "target")]], expect="reject")

# ---- differential-test images ----

def img_smallfiles():
    l1 = [D("usr"), D("usr/share"), D("usr/share/doc", 0o755)]
    for i in range(400):
        l1.append(F(f"usr/share/doc/f{i:04d}", (b"%d\n" % i) * (i % 37), 0o644 if i % 3 else 0o600,
                    uid=i % 5, gid=i % 7))
    l1 += [D("tmp", 0o1777), F("usr/bin-suid", b"s", 0o4755), F("usr/sgid", b"g", 0o2711)]
    l2 = [D("usr/share/doc"), F("usr/share/doc/f0001", b"changed"), F("usr/share/doc/.wh.f0002")]
    return [l1, l2]

def img_links():
    l1 = [D("bin"), F("bin/tool", b"#!tool\n", 0o755), H("bin/tool-hard", "bin/tool"),
          L("bin/tool-sym", "tool"), L("abs", "/bin/tool"), L("dangling", "/nonexistent"),
          D("lib"), F("lib/a.so", b"a"), L("lib/a.so.1", "a.so"), H("lib/b.so", "lib/a.so")]
    l2 = [D("bin"), F("bin/.wh.tool-sym"), L("bin/tool-sym", "tool-hard"),
          F("bin/new", b"new", 0o755), H("bin/new-hard", "bin/new"), H("bin/new-hard2", "bin/new")]
    return [l1, l2]

def img_whiteouts():
    l1 = [D("etc"), F("etc/a", b"a"), F("etc/b", b"b"), D("etc/sub"), F("etc/sub/c", b"c"),
          D("opaque"), F("opaque/lower1"), D("opaque/deep"), F("opaque/deep/lower2"),
          D("gone"), F("gone/x")]
    l2 = [D("etc"), F("etc/.wh.a"), D("etc/sub"), F("etc/sub/new", b"n"),
          D("opaque"), F("opaque/.wh..wh..opq"), F("opaque/upper", b"u"), F(".wh.gone")]
    l3 = [D("gone", 0o700), F("gone/back", b"back"), D("etc"), F("etc/a", b"a-again")]
    return [l1, l2, l3]

def img_replace():
    l1 = [D("x"), F("x/inner", b"i"), F("y", b"file-y"), L("z", "y")]
    l2 = [F(".wh.x"), F("x", b"now-a-file"), F(".wh.y"), D("y"), F("y/inside", b"in"),
          F(".wh.z"), D("z")]
    l3 = [F(".wh.x"), D("x"), F("x/again", b"dir-again"), F(".wh.y"), F("y", b"file-again"),
          F(".wh.z"), L("z", "x/again")]
    return [l1, l2, l3]

IMAGES = {"smallfiles": img_smallfiles, "links": img_links, "whiteouts": img_whiteouts,
          "replace": img_replace}

def tar_of(files, gz=False):
    """files: list of (name, bytes | ("symlink", target) | ("dir",))."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.mtime = 0
            if isinstance(data, tuple) and data[0] == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, data[1]
                tf.addfile(ti)
            elif isinstance(data, tuple):
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(ti)
            else:
                ti.size, ti.mode = len(data), 0o644
                tf.addfile(ti, io.BytesIO(data))
    out = buf.getvalue()
    return gzip.compress(out, mtime=0) if gz else out

def archive(kind, name, out):
    """An image of IMAGES as a docker-archive (legacy or OCI layout), an oci-archive or an
    ACI (one flattened layer: the ACI's rootfs is the image's first layer)."""
    tars = [make_tar(l) for l in IMAGES[name]()]
    diffs = ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars]
    cfg = json.dumps({"architecture": host_arch(), "os": "linux",
                      "config": {"Cmd": ["/bin/tool"]},
                      "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
    ch = hashlib.sha256(cfg).hexdigest()
    tag = f"test/{name}:latest"
    files = []
    if kind == "docker-legacy":
        ids = []
        for i, t in enumerate(tars):
            lid = hashlib.sha256(b"v1id%d" % i + t).hexdigest()
            ids.append(lid)
            files += [(f"{lid}/", ("dir",)), (f"{lid}/VERSION", b"1.0"),
                      (f"{lid}/json", json.dumps({"id": lid}).encode()),
                      (f"{lid}/layer.tar", t)]
        # docker deduplicates a repeated layer with a symlink to the first copy
        dup = hashlib.sha256(b"dup").hexdigest()
        files += [(f"{dup}/", ("dir",)), (f"{dup}/layer.tar", ("symlink", f"../{ids[0]}/layer.tar"))]
        files += [(f"{ch}.json", cfg),
                  ("manifest.json", json.dumps([{"Config": f"{ch}.json", "RepoTags": [tag],
                                                 "Layers": [f"{i}/layer.tar" for i in ids]}]).encode()),
                  ("repositories", json.dumps({f"test/{name}": {"latest": ids[-1]}}).encode())]
        data = tar_of(files)
    elif kind in ("docker-oci", "oci-archive", "oci-archive-gz"):
        blobs = {}
        def put(b):
            h = hashlib.sha256(b).hexdigest()
            blobs[h] = b
            return h
        put(cfg)
        lh = [put(t) for t in tars]
        man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                     "digest": "sha256:" + ch, "size": len(cfg)},
                          "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                      "digest": "sha256:" + h, "size": len(blobs[h])} for h in lh]}).encode()
        mh = put(man)
        ann = {"org.opencontainers.image.ref.name": "latest",
               "io.containerd.image.name": "docker.io/" + tag} if kind == "docker-oci" else \
              {"org.opencontainers.image.ref.name": tag}
        index = json.dumps({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + mh,
             "size": len(man), "annotations": ann}]}).encode()
        files = [("blobs/", ("dir",)), ("blobs/sha256/", ("dir",))]
        files += [(f"blobs/sha256/{h}", b) for h, b in blobs.items()]
        files += [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index)]
        if kind == "docker-oci":
            files += [("manifest.json", json.dumps([{"Config": f"blobs/sha256/{ch}", "RepoTags": [tag],
                                                     "Layers": [f"blobs/sha256/{h}" for h in lh]}]).encode())]
        data = tar_of(files, gz=kind.endswith("-gz"))
    elif kind in ("aci", "aci-gz"):
        man = json.dumps({"acKind": "ImageManifest", "acVersion": "0.8.11", "name": f"example.com/{name}",
                          "labels": [{"name": "version", "value": "1.0"}, {"name": "os", "value": "linux"},
                                     {"name": "arch", "value": host_arch()}],
                          "app": {"exec": ["/bin/tool", "--flag"], "user": "0", "group": "0",
                                  "workingDirectory": "/bin",
                                  "environment": [{"name": "A", "value": "b"}]}}).encode()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            ti = tarfile.TarInfo("manifest"); ti.size = len(man); tf.addfile(ti, io.BytesIO(man))
            ti = tarfile.TarInfo("rootfs"); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; tf.addfile(ti)
            with tarfile.open(fileobj=io.BytesIO(tars[0])) as src:
                for m in src.getmembers():
                    m.name = "rootfs/" + m.name
                    if m.islnk():
                        m.linkname = "rootfs/" + m.linkname
                    tf.addfile(m, src.extractfile(m) if m.isreg() else None)
        data = buf.getvalue()
        if kind == "aci-gz":
            data = gzip.compress(data, mtime=0)
    else:
        sys.exit("unknown archive kind " + kind)
    with open(out, "wb") as f:
        f.write(data)

def main():
    cmd = sys.argv[1]
    if cmd == "list":
        print("\n".join(CASES))
    elif cmd == "expect":
        print(CASES[sys.argv[2]]["expect"])
    elif cmd == "overlay-same":
        print("yes" if CASES[sys.argv[2]]["overlay"] else "no")
    elif cmd == "build":
        cid, out, host = sys.argv[2], sys.argv[3], os.path.abspath(sys.argv[4])
        c = CASES[cid]
        os.makedirs(host, exist_ok=True)
        perm = os.path.join(host, "perm400")
        if not os.path.exists(perm):
            with open(perm, "w") as f:
                f.write("host")
            os.chmod(perm, 0o400)
        layers = []
        for entries in c["layers"]:
            ents = []
            for e in entries:
                e = dict(e)
                e["name"] = e["name"].replace("HOST", host)
                if "link" in e:
                    e["link"] = e["link"].replace("HOST", host)
                ents.append(e)
            tar = make_tar(ents, c["fmt"], c["trailer"])
            if c["comp"] == "gzip+junk":
                layers.append((tar, gzip.compress(tar, mtime=0) + b"\0" * 512 + b"junk",
                               "application/vnd.oci.image.layer.v1.tar+gzip"))
            else:
                layers.append(tar)
        print(write_layout(out, f"test/case:{cid}", layers, "gzip"))
    elif cmd == "check":
        cid, root, host = sys.argv[2], sys.argv[3], sys.argv[4]
        ck = Check(root, host)
        if CASES[cid]["check"]:
            try:
                CASES[cid]["check"](ck)
            except OSError as e:
                ck.fail.append(str(e))
        for f in ck.fail:
            print(f"{cid}: {f}")
        sys.exit(1 if ck.fail else 0)
    elif cmd == "image":
        name, out = sys.argv[2], sys.argv[3]
        comp = sys.argv[4] if len(sys.argv) > 4 else "gzip"
        layers = [make_tar(l) for l in IMAGES[name]()]
        print(write_layout(out, f"test/{name}:latest", layers, comp.split(",")))
    elif cmd == "archive":
        archive(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit("unknown command " + cmd)

if __name__ == "__main__":
    main()
