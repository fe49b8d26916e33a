#!/usr/bin/env python3
"""A tiny stand-in for the Docker Engine API on a Unix socket (tests only).

Usage: fake-engine.py SOCKET [VERSION [API_VERSION]]. Answers /version, /v*/info and
/v*/networks with fixed documents; anything else is 404.
"""
import json
import os
import re
import socketserver
import sys
from http.server import BaseHTTPRequestHandler

SOCK = sys.argv[1]
VERSION = sys.argv[2] if len(sys.argv) > 2 else "99.0.0-fake"
API = sys.argv[3] if len(sys.argv) > 3 else "1.41"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # client_address is '' on a Unix socket
        pass

    def do_GET(self):
        path = re.sub(r"^/v[0-9.]+", "", self.path.split("?")[0])
        if path == "/version":
            doc = {"Version": VERSION, "ApiVersion": API, "Os": "linux"}
        elif path == "/info":
            doc = {"OSType": "linux", "Runtimes": {"runc": {}, "crun": {}}}
        elif path == "/networks":
            doc = [{"Name": "bridge", "IPAM": {"Config": [{"Gateway": "10.9.8.1"}]}}]
        else:
            self.send_response(404)
            body = b'{"message":"page not found"}'
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if os.path.exists(SOCK):
    os.unlink(SOCK)
with socketserver.UnixStreamServer(SOCK, Handler) as srv:
    srv.serve_forever()
