"""A tiny internal HTTP API for scripts/quickstart.sh: answers every request with JSON naming
the method, the path, and the caller identity headers stsgate added. Listens on 127.0.0.1 only.

Usage: python3 scripts/demo_api.py PORT
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def answer(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        out = {
            "method": self.command,
            "path": self.path,
            "body_bytes": len(body),
            "caller": {k: v for k, v in self.headers.items() if k.lower().startswith("x-stsgate-")},
        }
        data = json.dumps(out, indent=2).encode() + b"\n"
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = answer

    def log_message(self, fmt, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
