#!/usr/bin/env python3
"""bench/peers/dedupe.py - the peer of closehook-dedupe in make bench.

What a user writes with the standard library: read NDJSON webhook payloads,
key each by (event.id, event.date_updated), BLAKE2b-hash the key, check and
record it in a SQLite table (WAL, batched commits), pass new lines through.

usage: dedupe.py STORE.sqlite [TTL_SECONDS] < in.ndjson > out.ndjson
"""

import hashlib
import json
import sqlite3
import sys
import time

BATCH = 4096


def main():
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    ttl = int(sys.argv[2]) if len(sys.argv) > 2 else 35 * 86400
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS seen (key BLOB PRIMARY KEY, "
               "expires INTEGER NOT NULL) WITHOUT ROWID")
    db.execute("CREATE INDEX IF NOT EXISTS seen_expires ON seen(expires)")
    out = sys.stdout.buffer
    pending = 0
    db.execute("BEGIN IMMEDIATE")
    now = int(time.time())
    for line in sys.stdin.buffer:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        ev = rec.get("event") if isinstance(rec, dict) else None
        if not isinstance(ev, dict) or ev.get("id") is None:
            out.write(line)
            continue
        key = hashlib.blake2b(
            json.dumps([ev.get("id"), ev.get("date_updated")],
                       separators=(",", ":")).encode(),
            digest_size=16).digest()
        row = db.execute("SELECT expires FROM seen WHERE key = ?",
                         (key,)).fetchone()
        if row is not None and row[0] > now:
            continue
        db.execute("INSERT OR REPLACE INTO seen (key, expires) "
                   "VALUES (?, ?)", (key, now + ttl))
        out.write(line)
        pending += 1
        if pending >= BATCH:
            out.flush()
            db.execute("COMMIT")
            db.execute("BEGIN IMMEDIATE")
            now = int(time.time())
            pending = 0
    out.flush()
    db.execute("COMMIT")
    db.close()


if __name__ == "__main__":
    main()
