"""An alert receiver on loopback, for tests/it/alerts.rs: what a team's own endpoint would do.

POST /webhook checks `Tailledger-Signature: t=<unix>,v1=<hex>` with Python's hmac (the secret in
the environment variable TL_ALERT_SECRET) over "<t>.<body>", refuses a bad one with 401 and
counts the rest by message id; POST /slack takes a Slack-shaped body ({"text": ...}) and counts it
by id (the `Tailledger-Message-Id` header). While /control/down is set, deliveries get 503; while
/control/hold is set, a delivery is counted and then left unanswered until /control/release (so a
test can kill the sender mid-delivery).
GET /stats answers what arrived: per path, each id's count and the last body of each id, plus the
number of bad signatures. It prints its port on the first line of standard output.
"""

import hashlib
import hmac
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ["TL_ALERT_SECRET"].encode()
LOCK = threading.Lock()
RELEASED = threading.Event()
RELEASED.set()
STATE = {"webhook": {}, "slack": {}, "bodies": {}, "bad_signatures": 0, "down": False, "refused": 0}


def signature_ok(header, body):
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if "t" not in parts or "v1" not in parts:
        return False
    expected = hmac.new(SECRET, parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with LOCK:
            body = json.dumps(STATE).encode()
        self.answer(200, body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path in ("/control/down", "/control/up"):
            with LOCK:
                STATE["down"] = self.path == "/control/down"
            return self.answer(204)
        if self.path == "/control/hold":
            RELEASED.clear()
            return self.answer(204)
        if self.path == "/control/release":
            RELEASED.set()
            return self.answer(204)
        kind = self.path.strip("/")
        if kind not in ("webhook", "slack"):
            return self.answer(404)
        with LOCK:
            if STATE["down"]:
                STATE["refused"] += 1
                return self.answer(503)
        message_id = self.headers.get("Tailledger-Message-Id", "")
        if kind == "webhook":
            if not signature_ok(self.headers.get("Tailledger-Signature", ""), body):
                with LOCK:
                    STATE["bad_signatures"] += 1
                return self.answer(401)
            message_id = json.loads(body)["id"]
        with LOCK:
            STATE[kind][message_id] = STATE[kind].get(message_id, 0) + 1
            STATE["bodies"][kind + ":" + message_id] = body.decode()
        RELEASED.wait(60)
        try:
            self.answer(200)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender was killed while the answer was held: it counted all the same


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
