#!/usr/bin/env python3
"""A Unix-socket proxy in front of a Docker Engine that injects the dangling-container fault.

usage: faultproxy.py LISTEN.sock UPSTREAM.sock PATTERN COUNT
A request whose first line matches the regexp PATTERN (e.g. 'POST \\S+/start') is passed to
the Engine, which acts on it, and then answered with 500, COUNT times (-1: always). Every
other connection is piped through untouched (streams included). One request per
connection, as tdrv's libcurl client makes them.
"""
import os
import re
import socket
import sys
import threading

listen, upstream, pattern, count = sys.argv[1], sys.argv[2], re.compile(sys.argv[3]), int(sys.argv[4])
lock = threading.Lock()
left = [count]


def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def read_head(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    return buf


def handle(c):
    u = socket.socket(socket.AF_UNIX)
    u.connect(upstream)
    head = read_head(c)
    first = head.split(b"\r\n", 1)[0].decode("latin-1")
    inject = False
    if pattern.search(first):
        with lock:
            if left[0] != 0:
                left[0] -= 1
                inject = True
    if not inject:
        u.sendall(head)
        t = threading.Thread(target=pipe, args=(u, c), daemon=True)
        t.start()
        pipe(c, u)
        t.join()
        return
    hdr, _, body = head.partition(b"\r\n\r\n")
    m = re.search(rb"(?i)content-length:\s*(\d+)", hdr)
    need = int(m.group(1)) if m else 0
    while len(body) < need:
        d = c.recv(65536)
        if not d:
            break
        body += d
    u.sendall(hdr + b"\r\n\r\n" + body)
    read_head(u)  # the Engine did it
    u.close()
    msg = b'{"message":"injected fault"}'
    c.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(msg)).encode() + b"\r\nConnection: close\r\n\r\n" + msg)
    c.close()


if os.path.exists(listen):
    os.unlink(listen)
srv = socket.socket(socket.AF_UNIX)
srv.bind(listen)
srv.listen(64)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
