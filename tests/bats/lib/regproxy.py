#!/usr/bin/env python3
"""An HTTP/1.1 reverse proxy on 127.0.0.1 in front of a real registry, injecting faults.

usage: regproxy.py LISTEN_PORT UPSTREAM_PORT RULES.json LOG

Every request is read (keep-alive as libcurl uses it), sent to the registry on
127.0.0.1:UPSTREAM_PORT, and its answer relayed, unless RULES.json (re-read on every
request, so a test changes the fault between two pulls; missing or {} = relay all) says:

  {"cut": {"sha256:<hex>"|"<tag>": OFFSET, ...}, "how": "fin"|"rst"}
      a GET of that blob (or manifest) is cut once the body reaches byte OFFSET of the
      blob (counted from the start of the blob, so a ranged request that starts at or
      past OFFSET gets its headers and no byte): the registry breaks there every time it
      is asked. "fin" closes the connection, "rst" resets it.
  {"cut_every": {"sha256:<hex>": BYTES}, "how": "fin"|"rst"}
      every GET of that blob is cut after BYTES of its body, wherever it starts: a
      flaky link on which each attempt gets a little further.
  {"status": 500, "match": "/blobs/", "count": N, "retry_after": "2"}
      requests whose path holds MATCH get that status (N times, -1 = always), with a
      Retry-After header when given; then relay.
  {"trickle": {"match": "/blobs/sha256:<hex>", "bytes": B, "every": SECONDS}}
      such a response's body is sent B bytes every SECONDS.

Each fault is one line in LOG, after a time stamp ("cut GET <path> at <offset> (fin)",
"status 500 GET <path>", "trickle GET <path>"), and so is every request ("req GET <path>")
and every blob body relayed ("get <path> from <offset>"), so a test can tell what did
happen, and when.
"""
import http.client
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lport, uport, rules_path, log_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()
served = {}  # rules text -> status answers given under it (count is per rules version)
HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


def rules():
    try:
        with open(rules_path) as f:
            text = f.read()
        return text, json.loads(text or "{}")
    except (OSError, ValueError):
        return "", {}


def log(line):
    with lock, open(log_path, "a") as f:
        f.write("%.3f %s\n" % (time.time(), line))


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_HEAD(self):
        self.relay()

    def do_GET(self):
        self.relay()

    def do_POST(self):
        self.relay()

    def abort(self, how):
        try:
            self.wfile.flush()
            if how == "rst":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def relay(self):
        text, r = rules()
        log("req %s %s" % (self.command, self.path))
        st = r.get("status")
        if st and r.get("match", "") in self.path:
            with lock:
                n = served.get(text, 0)
                use = r.get("count", -1) < 0 or n < r.get("count", -1)
                if use:
                    served[text] = n + 1
            if use:
                log("status %d %s %s" % (st, self.command, self.path))
                body = b'{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}'
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                self.send_response(st)
                if r.get("retry_after") is not None:
                    self.send_header("Retry-After", str(r["retry_after"]))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                return
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else None
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        try:
            up = http.client.HTTPConnection("127.0.0.1", uport, timeout=60)
            up.request(self.command, self.path, body=data, headers=hdrs)
            resp = up.getresponse()
        except OSError as e:
            log("upstream failed: %s" % e)
            self.abort("fin")
            return
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        if resp.getheader("Content-Length") is None and self.command != "HEAD":
            # chunked or close-delimited upstream: buffer it, send a length
            body = resp.read()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            up.close()
            return
        self.end_headers()
        if self.command == "HEAD":
            up.close()
            return
        # where this body starts in the blob (a 206 says), for the cut offsets
        pos = 0
        cr = resp.getheader("Content-Range") or ""
        if resp.status == 206 and cr.startswith("bytes "):
            pos = int(cr[6:].split("-", 1)[0])
        key = self.path.rsplit("/", 1)[-1]
        cut = r.get("cut", {}).get(key) if "/v2/" in self.path else None
        every = r.get("cut_every", {}).get(key) if "/v2/" in self.path else None
        if every is not None:
            cut = pos + int(every)
        if "/blobs/" in self.path:
            log("get %s from %d" % (self.path, pos))
        tr = r.get("trickle") or {}
        slow = self.command == "GET" and tr.get("match") and tr["match"] in self.path
        if slow:
            log("trickle %s %s" % (self.command, self.path))
        try:
            while True:
                want = int(tr.get("bytes", 1)) if slow else 65536
                if cut is not None:
                    want = min(want, max(cut - pos, 0))
                    if want == 0:
                        log("cut %s %s at %d (%s)" % (self.command, self.path, pos,
                                                      r.get("how", "fin")))
                        self.abort(r.get("how", "fin"))
                        up.close()
                        return
                d = resp.read(want)
                if not d:
                    break
                self.wfile.write(d)
                pos += len(d)
                if slow:
                    self.wfile.flush()
                    time.sleep(float(tr.get("every", 1)))
        except OSError:
            self.close_connection = True
        up.close()


class S(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


S(("127.0.0.1", lport), H).serve_forever()
