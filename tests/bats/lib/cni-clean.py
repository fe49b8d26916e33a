#!/usr/bin/env python3
"""Remove the iptables rules and chains CNI plugins made for one network name (tests only).

usage: cni-clean.py NETWORK   (as root) -- rules whose comment names the network, then the
per-container chains (CNI-<hash>, CNI-DN-<hash>) they jumped to.
"""
import re
import shlex
import subprocess
import sys

name = sys.argv[1]
tag = 'name: \\"%s\\"' % name
for table in ("nat", "filter"):
    out = subprocess.run(["iptables-save", "-t", table], capture_output=True, text=True).stdout
    chains = set()
    for line in out.splitlines():
        if not line.startswith("-A ") or tag not in line:
            continue
        parts = shlex.split(line)
        m = re.search(r"-j (CNI-(?:DN-)?[0-9a-f]{24})\b", line)
        if m:
            chains.add(m.group(1))
        if re.match(r"CNI-(DN-)?[0-9a-f]{24}$", parts[1]):
            chains.add(parts[1])
        subprocess.run(["iptables", "-t", table, "-D"] + parts[1:], capture_output=True)
    for c in chains:
        subprocess.run(["iptables", "-t", table, "-F", c], capture_output=True)
        subprocess.run(["iptables", "-t", table, "-X", c], capture_output=True)
