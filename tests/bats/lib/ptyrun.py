#!/usr/bin/env python3
"""Run a shell command on a new pseudo-terminal, as a user at a terminal would.

usage: ptyrun.py [--size ROWSxCOLS] [--expect RE | --send TEXT | --resize ROWSxCOLS]... -- SH-COMMAND

SH-COMMAND runs under `sh -c` in a session of its own whose controlling terminal (and
stdin, stdout, stderr) is the pseudo-terminal, ROWSxCOLS in size (24x80 by default). The
steps run in order: --expect waits (up to 20 s) until the output so far matches the
regular expression, --send types TEXT (backslash escapes: \\n, \\r, \\x04), --resize
changes the terminal's size (the kernel sends SIGWINCH). Everything the command wrote to
the terminal goes to stdout (raw: CR LF line ends); ptyrun exits with the command's
status (128+N for signal N). On stderr, one last line says whether the terminal's
settings after the command are those before it: "termios: restored" or "termios: changed".
"""
import fcntl
import os
import re
import select
import struct
import sys
import termios
import time


def winsize(fd, spec):
    rows, cols = (int(x) for x in spec.split("x"))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main(argv):
    size = "24x80"
    steps = []
    i = 0
    while i < len(argv) and argv[i] != "--":
        opt, val = argv[i], argv[i + 1]
        if opt == "--size":
            size = val
        elif opt in ("--expect", "--send", "--resize"):
            steps.append((opt[2:], val))
        else:
            sys.exit(f"ptyrun: unknown option {opt}")
        i += 2
    cmd = argv[i + 1:]
    if not cmd:
        sys.exit(__doc__)

    master, slave = os.openpty()
    winsize(slave, size)
    before = termios.tcgetattr(slave)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.close(master)
        os.close(slave)
        os.execvp("sh", ["sh", "-c", " ".join(cmd)])

    out = b""
    status = None
    deadline = time.monotonic() + 60

    def pump(timeout):
        nonlocal out
        r, _, _ = select.select([master], [], [], timeout)
        if r:
            try:
                out += os.read(master, 65536)
            except OSError:
                pass

    for kind, val in steps:
        if kind == "expect":
            end = time.monotonic() + 20
            while not re.search(val.encode(), out) and time.monotonic() < end:
                pump(0.05)
            if not re.search(val.encode(), out):
                sys.stderr.write(f"ptyrun: timed out expecting {val!r}\n")
        elif kind == "send":
            os.write(master, val.encode().decode("unicode_escape").encode("latin-1"))
        elif kind == "resize":
            winsize(slave, val)
    while status is None and time.monotonic() < deadline:
        pump(0.05)
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st
    if status is None:
        # the command's whole session (it leads its own process group): TERM, then KILL
        sys.stderr.write("ptyrun: timed out, stopping the command\n")
        os.killpg(pid, 15)
        end = time.monotonic() + 15
        while status is None and time.monotonic() < end:
            pump(0.1)
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
        if status is None:
            os.killpg(pid, 9)
            _, status = os.waitpid(pid, 0)
    while select.select([master], [], [], 0.1)[0]:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    after = termios.tcgetattr(slave)
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    sys.stderr.write("termios: %s\n" % ("restored" if after == before else "changed"))
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
