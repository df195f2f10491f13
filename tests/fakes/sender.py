#!/usr/bin/env python3
"""tests/fakes/sender.py - a fake Close webhook sender (stdlib only).

Reads webhook bodies, one a line (bench/gen --format payloads), and POSTs
each to URL the way Close delivers (CLOSE.md): one event per request,
Content-Type application/json, signed with

    close-sig-hash = hex(HMAC-SHA256(hex_decode(key), timestamp || body))
    close-sig-timestamp = timestamp (ASCII decimal Unix seconds)

A delivery that fails (no 2xx, a connection error, a timeout) is retried
with exponential back-off, as Close does (it backs off up to every 20
minutes for 72 hours; here the base, the cap and the number of attempts are
small and bounded so that tests end).  Several senders run at once with
--concurrency, each over its own keep-alive connection.

Logs one NDJSON line per attempt to --log and, to --acked, one line per
acknowledged event: {"n": INDEX, "status": CODE, "body": BODY}, written
before the next request, so a test knows exactly what was acknowledged.
Prints a JSON summary on stdout; exits 0 when every event was acknowledged,
1 otherwise, 2 on bad usage.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import sys
import threading
import time
import urllib.parse


def sign(key_hex, ts, body):
    """Close's signature of body (bytes) at ts (str)."""
    return hmac.new(bytes.fromhex(key_hex), ts.encode() + body,
                    hashlib.sha256).hexdigest()


class Sender:
    def __init__(self, args, bodies):
        self.args = args
        self.bodies = bodies
        self.next = 0
        self.lock = threading.Lock()
        self.acked = 0
        self.failed = 0
        self.attempts = 0
        self.statuses = {}
        self.log = open(args.log, "a") if args.log else None
        self.ackf = open(args.acked, "a") if args.acked else None
        u = urllib.parse.urlsplit(args.url)
        self.https = u.scheme == "https"
        self.host = u.hostname
        self.port = u.port or (443 if self.https else 80)
        self.path = (u.path or "/") + ("?" + u.query if u.query else "")
        self.deadline = time.monotonic() + args.max_time

    def connect(self):
        if self.https:
            import ssl
            ctx = ssl.create_default_context()
            if self.args.insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=self.args.timeout, context=ctx)
        return http.client.HTTPConnection(self.host, self.port,
                                          timeout=self.args.timeout)

    def record(self, line, fh):
        with self.lock:
            fh.write(json.dumps(line) + "\n")
            fh.flush()

    def deliver(self, conn, n, body):
        """Deliver one event with retries; returns (ok, conn)."""
        a = self.args
        ts = str(a.timestamp if a.timestamp is not None else int(time.time()))
        delay = a.backoff
        for attempt in range(1, a.attempts + 1):
            if a.resign and attempt > 1:
                ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "Close Webhooks (fake)",
                "close-sig-hash": sign(a.key, ts, body),
                "close-sig-timestamp": ts,
            }
            t0 = time.monotonic()
            status, err = None, None
            try:
                if conn is None:
                    conn = self.connect()
                conn.request("POST", self.path, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                err = type(e).__name__
                if conn is not None:
                    conn.close()
                conn = None
            ms = (time.monotonic() - t0) * 1000
            with self.lock:
                self.attempts += 1
                key = str(status) if status else "error"
                self.statuses[key] = self.statuses.get(key, 0) + 1
            if self.log:
                self.record({"n": n, "attempt": attempt, "status": status,
                             "error": err, "ms": round(ms, 3)}, self.log)
            if status is not None and 200 <= status < 300:
                if self.ackf:
                    self.record({"n": n, "status": status,
                                 "body": body.decode("utf-8", "replace")},
                                self.ackf)
                return True, conn
            if attempt == a.attempts or time.monotonic() >= self.deadline:
                break
            time.sleep(min(delay, max(0.0, self.deadline - time.monotonic())))
            delay = min(delay * 2, a.backoff_max)
        return False, conn

    def worker(self):
        conn = None
        while True:
            with self.lock:
                n = self.next
                if n >= len(self.bodies) or \
                        time.monotonic() >= self.deadline:
                    break
                self.next += 1
            ok, conn = self.deliver(conn, n, self.bodies[n])
            with self.lock:
                if ok:
                    self.acked += 1
                else:
                    self.failed += 1
        if conn is not None:
            conn.close()

    def run(self):
        threads = [threading.Thread(target=self.worker)
                   for _ in range(self.args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return {"events": len(self.bodies), "acked": self.acked,
                "failed": self.failed,
                "unsent": len(self.bodies) - self.acked - self.failed,
                "attempts": self.attempts, "statuses": self.statuses}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("url")
    p.add_argument("file", nargs="?", default="-",
                   help="webhook bodies, one a line (default stdin)")
    p.add_argument("--key", required=True, help="signature_key (hex)")
    p.add_argument("--timestamp", type=int,
                   help="sign with this time instead of the clock")
    p.add_argument("--resign", action="store_true",
                   help="sign each retry with a fresh timestamp")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--attempts", type=int, default=5,
                   help="attempts per event (default 5)")
    p.add_argument("--backoff", type=float, default=0.05,
                   help="first retry delay in seconds (doubles)")
    p.add_argument("--backoff-max", type=float, default=1.0)
    p.add_argument("--timeout", type=float, default=5.0,
                   help="per-attempt timeout in seconds")
    p.add_argument("--max-time", type=float, default=60.0,
                   help="stop starting work after this many seconds")
    p.add_argument("--count", type=int,
                   help="send only the first COUNT bodies")
    p.add_argument("--insecure", action="store_true",
                   help="https: accept any certificate")
    p.add_argument("--log", help="append one NDJSON line per attempt")
    p.add_argument("--acked", help="append each acknowledged event")
    a = p.parse_args()
    try:
        bytes.fromhex(a.key)
    except ValueError:
        p.error("--key is not hex")
    if a.concurrency < 1 or a.attempts < 1:
        p.error("--concurrency and --attempts must be at least 1")
    fh = sys.stdin.buffer if a.file == "-" else open(a.file, "rb")
    bodies = []
    for line in fh:
        line = line.rstrip(b"\n")
        if line.endswith(b"\r"):
            line = line[:-1]
        if line:
            bodies.append(line)
        if a.count is not None and len(bodies) >= a.count:
            break
    summary = Sender(a, bodies).run()
    print(json.dumps(summary, sort_keys=True))
    return 0 if summary["acked"] == summary["events"] else 1


if __name__ == "__main__":
    sys.exit(main())
