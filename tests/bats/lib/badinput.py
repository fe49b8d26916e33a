#!/usr/bin/env python3
"""Bad input at scale, table-driven (tests/bats/badinput.bats).

usage: badinput.py list OPTIONS                  the (driver, option) pairs of the table
       badinput.py counts OPTIONS                how many cases each group has
       badinput.py count OPTIONS GROUP           how many cases GROUP has
       badinput.py run OPTIONS GROUP BIN_DIR     run them; prints each failure and a summary

GROUP: oci rkt containerd-driver docker (every option of that driver, from OPTIONS), top
(the task document's own fields, through tdrv-run --dry-run), ports (tdrv-ports' input),
pull (tdrv-pull's input).

The rule for a refused value: exit 65, stdout one JSON document whose error has exit 65 and a
message naming the option, stderr's first line "TOOL: error: " + that message, and nothing
from ASan/UBSan. An accepted value is checked as the table says (same: the output is that of
the document without the option; carry: every string of the value is in the output). Every
case also fails on exit 70, a signal, or sanitizer output, whatever was expected.
"""
import concurrent.futures as cf
import json
import os
import re
import subprocess
import sys

LONG = "a" * (1 << 20)                      # 1 MiB
CTL = "a\x01\x02\t\n\r\x1b[31m\x7fb"       # control characters, an ANSI escape
NUL = "a\x00b"                              # json.dumps writes \u0000
HUGE = 100000
ALLOC = "0b7e6c2a-8d4f-4a51-9c3e-5f1a2b3c4d5e"
SAN = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")


def nest(depth, leaf):
    v = leaf
    for _ in range(depth):
        v = [v]
    return v


LIGHT = False  # counting only: the big values are not built


# Values per type: (class, value). Classes starting "wrong" are wrong types.
def values(typ):
    return _values(typ)


def _values(typ):
    v = []
    if typ in ("str", "path", "image", "dur"):
        v += [("wrong-num", 42), ("wrong-bool", True), ("wrong-list", ["x"]),
              ("wrong-obj", {"a": "b"}), ("empty", ""), ("long", LONG), ("ctl", CTL),
              ("nul", NUL)]
        if typ == "path":
            v += [("relative", "relative/dir"), ("dotdot", "/../../etc")]
        if typ == "dur":
            v += [("neg", "-5s"), ("big", "9999999999999999h"), ("garbage", "5 parsecs")]
    elif typ == "bool":
        v += [("wrong-str", "true"), ("wrong-num", 1), ("wrong-list", []),
              ("wrong-obj", {"a": 1}), ("empty", ""), ("huge-num", 1e20)]
    elif typ == "int":
        v += [("wrong-str", "12"), ("wrong-bool", True), ("wrong-list", [1]),
              ("wrong-obj", {"a": 1}), ("empty", ""), ("neg", -1), ("zero", 0),
              ("big", 1e20), ("int64max", 9223372036854775808), ("negbig", -1e20),
              ("frac", 1.5)]
    elif typ == "list":
        v += [("wrong-str", "x"), ("wrong-num", 1), ("wrong-obj", {"a": "b"}),
              ("empty", []), ("huge", None if LIGHT else ["x%d" % i for i in range(HUGE)]),
              ("nonstr", [1, True]), ("nested", nest(50, "x")), ("long", [LONG]),
              ("ctl", [CTL]), ("nul", ["ok", NUL])]
    elif typ == "map":
        v += [("wrong-str", "x"), ("wrong-num", 1), ("wrong-list", ["a=b"]),
              ("empty", {}), ("huge", None if LIGHT else {"k%d" % i: "v%d" % i for i in range(HUGE)}),
              ("nested", {"k": nest(50, "x")}), ("long", {"k": LONG}),
              ("longkey", {LONG: "v"}), ("ctl", {"k": CTL}), ("ctlkey", {CTL: "v"}),
              ("nul", {"k": NUL}), ("nulkey", {NUL: "v"})]
    elif typ == "objlist":
        v += [("wrong-str", "x"), ("wrong-num", 1), ("wrong-obj", {"a": 1}),
              ("empty", []), ("huge", None if LIGHT else [{"bogus%d" % i: i} for i in range(HUGE)]),
              ("nonobj", [1]), ("nested", nest(50, {})), ("bogus", [{"bogus": 1}]),
              ("long", [{LONG: 1}]), ("nul", [{"type": NUL}])]
    elif typ == "obj":
        v += [("wrong-str", "x"), ("wrong-num", 1), ("wrong-list", ["a"]),
              ("empty", {}), ("bogus", {"bogus": 1}), ("nested", {"k": nest(50, "x")}),
              ("huge", None if LIGHT else {"k%d" % i: i for i in range(HUGE)}), ("long", {LONG: 1}),
              ("nul", {NUL: 1})]
    else:
        raise SystemExit("unknown type " + typ)
    return v


# The task document's own fields (tdrv-run --dry-run, oci), with what each legitimately takes.
TOP = [
    ("task", "str", {}),
    ("alloc_id", "str", {}),
    ("group", "str", {"empty": "ok"}),          # "" is no group: NOMAD_GROUP_NAME is empty
    ("driver", "str", {}),
    ("user", "str", {"empty": "same"}),          # "" is the image's user
    ("kill_signal", "str", {"empty": "same"}),   # "" is the default, SIGTERM
    ("kill_timeout", "dur", {"wrong-num": "ok"}),  # a number: nanoseconds, as Nomad's API
    ("env", "map", {"empty": "same", "long": "carry", "ctl": "carry", "nul": None}),
    ("meta", "map", {"empty": "same", "long": "carry", "ctl": "carry"}),
    ("config", "obj", {}),
    # resources and network are the scheduler's blocks: keys tdrv does not use (disk, cores,
    # devices; dns, hostname...) pass through, as other tools' fields do
    ("resources", "obj", {"empty": "same", "bogus": "ok", "nested": "ok", "huge": "ok",
                          "long": "ok"}),
    ("resources.cpu", "int", {"zero": "ok", "wrong-str": "ok"}),  # 0: none; "12": a quantity
    ("resources.memory", "int", {"zero": "ok"}),  # 0 MiB: no memory given
    ("resources.memory_max", "int", {"neg": "ok", "zero": "ok"}),  # -1: no limit (Nomad)
    ("network", "obj", {"empty": "same", "bogus": "ok", "nested": "ok", "huge": "ok",
                        "long": "ok"}),
    ("network.mode", "str", {"empty": "same"}),  # "" is the default (host without ports)
    ("network.ports", "objlist", {"empty": "same", "bogus": "ok"}),  # its keys: tdrv-ports'
    ("ports", "objlist", {"empty": "same"}),
]

DRIVERS = {"o": "oci", "r": "rkt", "c": "containerd-driver", "d": "docker"}


def table(path):
    rows = []
    for line in open(path):
        line = line.split("#", 1)[0].split()
        if not line:
            continue
        drv, opt, typ, extra = line[0], line[1], line[2], line[3:]
        acc = {}
        for e in extra:
            k, _, v = e.partition("=")
            if k not in ("same", "carry", "ok", "known", "deny", "missing"):
                raise SystemExit("%s: unknown expectation %s" % (path, k))
            for cls in v.split(","):
                acc[cls] = k
        for d in drv:
            rows.append((DRIVERS[d], opt, typ, acc))
    return rows


def base(driver):
    return {"alloc_id": ALLOC, "task": "t", "driver": driver,
            "config": {"image": "docker.io/library/busybox:latest", "command": "true"}}


# A case: (name, tool argv, document, what the error must name, accepted check or None)
def cases(opts, group):
    out = []
    if group in DRIVERS.values():
        for drv, opt, typ, accs in table(opts):
            if drv != group:
                continue
            for cls, val in values(typ):
                doc = base(drv)
                doc["config"][opt] = val
                acc = accs.get(cls)
                ref = base(drv)
                if opt in ("command", "entrypoint"):  # (containerd-driver: one or the other)
                    del ref["config"]["command"]
                if opt == "entrypoint":
                    del doc["config"]["command"]
                out.append(("%s config.%s=%s" % (drv, opt, cls), ["tdrv-run", "--dry-run"], doc,
                            opt, (acc, ref, val)))
    elif group == "top":
        for f, typ, accs in TOP:
            for cls, val in values(typ):
                doc = base("oci")
                parts = f.split(".")
                tgt = doc
                for p in parts[:-1]:
                    tgt = tgt.setdefault(p, {})
                tgt[parts[-1]] = val
                acc = accs.get(cls)
                out.append(("top %s=%s" % (f, cls), ["tdrv-run", "--dry-run"], doc,
                            parts[-1], (acc, base("oci"), val)))
    elif group == "ports":
        def pdoc():
            return {"alloc_id": ALLOC, "task": "t", "group": "g",
                    "network": {"ports": [{"label": "http"}]}}
        # network: other tools' keys pass through (Nomad's network block has dns, hostname...)
        fields = [("network", "obj", {"empty", "bogus", "nested", "huge", "long"}),
                  ("network.ports", "objlist", {"empty"}),
                  ("network.host_ip", "str", set()), ("network.ports[0].label", "str", set()),
                  ("network.ports[0].static", "int", set()),
                  # to = 0: the host port; to = -1: the same as the dynamic host port (Nomad)
                  ("network.ports[0].to", "int", {"zero", "neg"}),
                  ("network.ports[0].host_network", "str", set()),
                  ("config.port_map", "map", {"empty"}), ("alloc_id", "str", set())]
        for f, typ, same in fields:
            for cls, val in values(typ):
                doc = pdoc()
                if f.startswith("network.ports[0]."):
                    doc["network"]["ports"][0][f.split(".")[-1]] = val
                elif "." in f:
                    a, b = f.split(".")
                    doc.setdefault(a, {})[b] = val
                else:
                    doc[f] = val
                name = f.split(".")[-1].replace("[0]", "")
                acc = "same" if cls in same else None
                out.append(("ports %s=%s" % (f, cls), ["tdrv-ports"], doc, name,
                            (acc and "ports-ok", None, val)))
    elif group == "pull":
        def qdoc():
            return {"task": "t", "config": {"image": "127.0.0.1:9/badinput/img:1"}}
        # "" credentials: sent as they are (anonymous, or the registry says no)
        fields = [("image", "image", set()), ("auth", "obj", {"empty"}),
                  ("auth.username", "str", {"empty"}), ("auth.password", "str", {"empty"}),
                  ("auth.server_address", "str", {"empty"}),
                  ("force_pull", "bool", set()), ("image_pull_timeout", "dur", set()),
                  ("auth_soft_fail", "bool", set()), ("load", "str", {"empty"}),
                  ("trust_prefix", "str", {"empty"}), ("insecure_options", "list", {"empty"})]
        for f, typ, same in fields:
            for cls, val in values(typ):
                doc = qdoc()
                drv = "rkt" if f in ("trust_prefix", "insecure_options") else "oci"
                doc["driver"] = drv
                if f.startswith("auth."):
                    doc["config"]["auth"] = {"username": "u", "password": "p"}
                    doc["config"]["auth"][f.split(".")[1]] = val
                else:
                    doc["config"][f] = val
                acc = "same" if cls in same else None
                out.append(("pull config.%s=%s" % (f, cls), ["tdrv-pull"], doc,
                            f.split(".")[-1], (acc and "pull-ok", None, val)))
    return out


def strings(v, acc):
    if isinstance(v, str):
        acc.add(v)
    elif isinstance(v, list):
        for x in v:
            strings(x, acc)
    elif isinstance(v, dict):
        for k, x in v.items():
            acc.add(k)
            strings(x, acc)
    return acc


def contained(want, out_strings):
    joined = "\x00".join(out_strings)
    return all(w in out_strings or w in joined for w in want)


_baselines = {}


def run1(bindir, case):
    name, argv, doc, opt, (acc, ref, val) = case
    tool = argv[0]
    p = subprocess.run([os.path.join(bindir, tool)] + argv[1:], input=json.dumps(doc).encode(),
                       capture_output=True, timeout=120)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    bad = []
    if p.returncode < 0 or p.returncode == 70:
        bad.append("status %d" % p.returncode)
    if SAN.search(err):
        bad.append("sanitizer output: " + SAN.search(err).group(0))
    if acc in ("same", "carry", "ok", "known"):
        if p.returncode != 0:
            bad.append("accepted value refused: %d %s" % (p.returncode, err.strip()[:300]))
        elif acc == "same":
            key = json.dumps(ref, sort_keys=True)
            if key not in _baselines:
                b = subprocess.run([os.path.join(bindir, tool)] + argv[1:],
                                   input=key.encode(), capture_output=True)
                _baselines[key] = b.stdout
            if p.stdout != _baselines[key]:
                bad.append("accepted, but not the same as leaving it out")
        elif acc == "carry":
            try:
                got = strings(json.loads(out), set())
            except ValueError:
                got = set()
            if not contained(strings(val, set()), got):
                bad.append("accepted, but the value is not carried into the output")
    elif acc == "ports-ok":
        if p.returncode != 0:
            bad.append("accepted value refused: %d %s" % (p.returncode, err.strip()[:300]))
    elif acc == "pull-ok":
        # accepted: it goes on to the (closed) registry, 69
        if p.returncode != 69:
            bad.append("accepted value: want 69 (registry), got %d %s" % (p.returncode,
                                                                          err.strip()[:300]))
    else:
        want = {"deny": 77, "missing": 66}.get(acc, 65)
        if p.returncode != want:
            bad.append("exit %d, want %d (%s)" % (p.returncode, want, err.strip()[:300]))
        try:
            e = json.loads(out)["error"]
            msg = e["message"]
            if e.get("exit") != want:
                bad.append("error.exit %r" % e.get("exit"))
            if opt not in msg:
                bad.append("message does not name '%s': %s" % (opt, msg[:300]))
            first = err.split("\n", 1)[0]
            esc = re.sub(r"[\x00-\x1f\x7f]", lambda m: "\\x%02x" % ord(m.group(0)), msg)
            if first != "%s: error: %s" % (tool, esc[:2040 * 1]) and not first.startswith(
                    "%s: error: %s" % (tool, esc[:1000])):
                bad.append("stderr is not the message: %r" % first[:300])
        except (ValueError, KeyError, TypeError):
            bad.append("stdout is not one JSON error: %r" % out[:300])
    return name, bad


def main():
    cmd, opts = sys.argv[1], sys.argv[2]
    if cmd == "list":
        for drv, opt, *_ in table(opts):
            print(drv, opt)
        return
    if cmd == "counts":
        global LIGHT
        LIGHT = True
        for g in ("oci", "rkt", "containerd-driver", "docker", "top", "ports", "pull"):
            print(g, len(cases(opts, g)))
        return
    group = sys.argv[3]
    cs = cases(opts, group)
    if cmd == "count":
        print(len(cs))
        return
    bindir = sys.argv[4]
    failed = 0
    known = [c[0] for c in cs if c[4][0] == "known"]
    with cf.ThreadPoolExecutor(max_workers=int(os.environ.get("BADINPUT_JOBS", "2"))) as ex:
        for name, bad in ex.map(lambda c: run1(bindir, c), cs):
            if bad:
                failed += 1
                print("FAIL %s: %s" % (name, "; ".join(bad)))
    for k in known:
        print("KNOWN %s: accepted, a known gap (docs/badinput.md)" % k)
    print("%s: %d cases, %d failed" % (group, len(cs), failed))
    sys.exit(1 if failed else 0)


main()
