#!/usr/bin/env python3
"""tests/fakes/sink.py - a fault-injecting HTTP sink for closehook-post tests.

Listens on 127.0.0.1, port 0 (the port is written to --port-file once it
listens).  Each request's body is read in full; then, per request, a fault
may be injected (drawn from a seeded generator, --fault-rate of requests):
  500, 503      the status, with a short body
  429           with Retry-After: --retry-after seconds
  stall         no answer for --stall seconds, then the connection closes
  drop          the connection closes without an answer
--faults picks which kinds (comma list, default all five); the first
--fault-first requests all fail, cycling through the kinds.  An accepted
request is answered --status (default 204) after its capture line
({"received_at","method","path","headers","body"}, the shape
closehook-verify reads) was appended to --log and flushed, so the log holds
every body a client saw accepted.  --delay adds latency to every answer.
--drop-reused closes a connection, unanswered, when a second request comes
on it (a kept-alive connection the server dropped as the client reused it).
Bounded: exits after --max-requests requests or --max-time seconds (times
$CLOSEHOOK_SLOW).
"""
import argparse
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--log", required=True)
ap.add_argument("--fault-rate", type=float, default=0.0)
ap.add_argument("--faults", default="500,503,429,stall,drop")
ap.add_argument("--fault-first", type=int, default=0)
ap.add_argument("--retry-after", default="1")
ap.add_argument("--stall", type=float, default=3.0)
ap.add_argument("--delay", type=float, default=0.0)
ap.add_argument("--drop-reused", action="store_true")
ap.add_argument("--status", type=int, default=204)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--max-requests", type=int, default=100000)
ap.add_argument("--max-time", type=float, default=120.0)
args = ap.parse_args()

faults = [f for f in args.faults.split(",") if f]
rng = random.Random(args.seed)
lock = threading.Lock()
log = open(args.log, "a", encoding="utf-8")
count = 0


def draw():
    global count
    with lock:
        count += 1
        n = count
        if n <= args.fault_first:
            f = faults[(n - 1) % len(faults)]
        else:
            f = rng.choice(faults) if faults and \
                rng.random() < args.fault_rate else None
    if n >= args.max_requests:
        threading.Timer(0.5, lambda: os._exit(3)).start()
    return f


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        if len(body) < n:
            # The client went away mid-body: nothing was accepted.
            self.close_connection = True
            return
        # One handler serves one connection: count its requests.
        self.served = getattr(self, "served", 0) + 1
        if args.drop_reused and self.served > 1:
            self.close_connection = True
            return
        f = draw()
        if args.delay:
            time.sleep(args.delay)
        if f == "500":
            return self.answer(500, b"injected failure")
        if f == "503":
            return self.answer(503, b"unavailable")
        if f == "429":
            return self.answer(429, b"slow down",
                               [("Retry-After", args.retry_after),
                                ("RateLimit", "limit=10, remaining=0, reset=5")])
        if f == "stall":
            time.sleep(args.stall)
            self.close_connection = True
            return
        if f == "drop":
            self.close_connection = True
            return
        cap = {
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "surrogateescape"),
        }
        line = json.dumps(cap, ensure_ascii=True) + "\n"
        with lock:
            log.write(line)
            log.flush()
        self.answer(args.status)

    do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = handle_any


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


srv = Server(("127.0.0.1", 0), Handler)
# The bound stretches with the programs under valgrind (tests/lib.sh).
slow = float(os.environ.get("CLOSEHOOK_SLOW", "1"))
threading.Timer(args.max_time * slow, lambda: os._exit(4)).start()
tmp = args.port_file + ".tmp"
with open(tmp, "w") as fp:
    fp.write("%d\n" % srv.server_address[1])
os.rename(tmp, args.port_file)
srv.serve_forever()
