#!/usr/bin/env python3
"""Time commands in turn: per cycle, a short block of runs of each, in a new random order.

Usage: interleave.py SPEC.json CYCLES BLOCK OUT.json

SPEC.json is a list of {"name": ..., "argv": [...], "stdin": PATH or null, "result_fd": bool}.
No shell: each command is spawned as given, stdout and stderr to /dev/null, stdin from
PATH (else /dev/null); "result_fd" appends `--result-fd N` with N open on /dev/null. A run
that exits non-zero stops the bench (its stderr is shown).

Why short blocks in cycles and not one long block per command: the host drifts (the same
`runc run` measured 21 ms and 35 ms an hour apart on one idle VM), and a long block that runs
while the host is slow charges its command alone with that; in a cycle every command sees
the same host, and the order is shuffled so that none always follows another (and its
clean-up). Why blocks and not one run each: the first run after another program finds the
CPU caches full of that program (measured here: tdrv-run 1.7 ms slower after a `runc run`
than after a tdrv-run, and runc 1.1 ms slower after a tdrv-run than after a runc). Each
block starts with one run that is not counted, for every command alike.

OUT.json: {"order": [names], "times": {name: [[ms of the block's runs] per cycle]}}.
"""
import json
import os
import random
import subprocess
import sys
import time


def run_once(cmd, devnull):
    argv = list(cmd["argv"])
    if cmd.get("result_fd"):
        argv += ["--result-fd", str(devnull)]
    stdin = open(cmd["stdin"], "rb") if cmd.get("stdin") else subprocess.DEVNULL
    try:
        t0 = time.perf_counter_ns()
        p = subprocess.run(argv, stdin=stdin, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, pass_fds=(devnull,))
        t1 = time.perf_counter_ns()
    finally:
        if stdin is not subprocess.DEVNULL:
            stdin.close()
    if p.returncode != 0:
        sys.stderr.write("bench: %s exited %d\n%s" % (cmd["name"], p.returncode,
                                                      p.stderr.decode(errors="replace")))
        sys.exit(1)
    return (t1 - t0) / 1e6


def main():
    spec, cycles, block, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    cmds = json.load(open(spec))
    rng = random.Random(int(os.environ.get("BENCH_SEED", "1")))
    devnull = os.open(os.devnull, os.O_WRONLY)
    times = {c["name"]: [] for c in cmds}
    for _ in range(cycles):
        order = list(cmds)
        rng.shuffle(order)
        for c in order:
            run_once(c, devnull)  # the block's first run, right after another program
            times[c["name"]].append([run_once(c, devnull) for _ in range(block)])
    json.dump({"order": [c["name"] for c in cmds], "times": times}, open(out, "w"))


if __name__ == "__main__":
    main()
