#!/usr/bin/env python3
"""verify.py - check Close webhook signatures in captured requests.

The benchmark peer of closehook-verify: the verifier a competent user writes
from Close's documentation with the standard library only.  Reads capture
records (one JSON object a line: "headers" and "body"), checks close-sig-hash
= hex HMAC-SHA256(key, close-sig-timestamp + raw body) and the timestamp
window, and writes each verified body as one line on stdout.  Rejected
captures are reported on stderr; the exit status is 1 if any were rejected.

Key files hold "HEXKEY" or "whsub_ID HEXKEY" lines.
"""

import argparse
import base64
import hashlib
import hmac
import json
import sys
import time


def load_keys(paths):
    """{subscription id or None: [key bytes]}; None holds keys for any."""
    keys = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                fields = line.split()
                if not fields or fields[0].startswith("#"):
                    continue
                sub = fields[0] if len(fields) == 2 else None
                keys.setdefault(sub, []).append(bytes.fromhex(fields[-1]))
    return keys


def main():
    p = argparse.ArgumentParser(description="Verify Close webhook captures.")
    p.add_argument("--secret-file", action="append", required=True)
    p.add_argument("--max-age", type=int, default=300,
                   help="allowed clock difference in seconds; 0 turns it off")
    p.add_argument("--now", type=int, help="current unix time (default: the clock)")
    p.add_argument("-q", "--quiet", action="store_true", help="only the summary on stderr")
    p.add_argument("files", nargs="*")
    args = p.parse_args()

    keys = load_keys(args.secret_file)
    any_sub = keys.get(None, [])
    by_sub = any(sub is not None for sub in keys)
    now = args.now if args.now is not None else int(time.time())
    out = sys.stdout.buffer
    rejected = {}

    def reject(where, reason):
        rejected[reason] = rejected.get(reason, 0) + 1
        if not args.quiet:
            print("verify.py: %s: %s" % (where, reason), file=sys.stderr)

    verified = 0
    for name in args.files or ["-"]:
        f = sys.stdin.buffer if name == "-" else open(name, "rb")
        for lineno, line in enumerate(f, 1):
            where = "%s:%d" % ("stdin" if name == "-" else name, lineno)
            if not line.strip():
                continue
            try:
                capture = json.loads(line)
                headers = {k.lower(): v for k, v in capture["headers"].items()}
                if "body" in capture:
                    raw = capture["body"].encode()
                else:
                    raw = base64.b64decode(capture["body_base64"])
            except (ValueError, KeyError, TypeError, AttributeError):
                reject(where, "malformed capture")
                continue
            sig = headers.get("close-sig-hash")
            ts = headers.get("close-sig-timestamp")
            if not sig or not ts:
                reject(where, "missing signature header")
                continue

            # With several subscriptions the body says whose key signed it.
            candidates = any_sub
            if by_sub:
                try:
                    sub = json.loads(raw).get("subscription_id")
                except (ValueError, AttributeError):
                    sub = None
                candidates = keys.get(sub, []) + any_sub
            msg = ts.encode() + raw
            if not any(hmac.compare_digest(
                    hmac.new(key, msg, hashlib.sha256).hexdigest(), sig)
                    for key in candidates):
                reject(where, "signature mismatch")
                continue
            try:
                age = abs(now - int(ts))
            except ValueError:
                reject(where, "bad timestamp")
                continue
            if args.max_age and age > args.max_age:
                reject(where, "timestamp outside the window")
                continue

            # One record a line: raw CR/LF (JSON whitespace) become spaces.
            out.write(raw.replace(b"\r", b" ").replace(b"\n", b" ") + b"\n")
            verified += 1
        if f is not sys.stdin.buffer:
            f.close()

    out.flush()
    n = sum(rejected.values())
    detail = ", ".join("%s: %d" % kv for kv in sorted(rejected.items()))
    print("verify.py: %d verified, %d rejected%s" % (
        verified, n, " (%s)" % detail if n else ""), file=sys.stderr)
    return 1 if n else 0


if __name__ == "__main__":
    sys.exit(main())
