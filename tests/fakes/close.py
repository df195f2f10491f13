#!/usr/bin/env python3
"""tests/fakes/close.py - a fake Close API on 127.0.0.1, following CLOSE.md.

Serves the Event Log (GET /api/v1/event/ and /api/v1/event/{id}/) from a
deterministic event set made by bench/gen, with Close's accepted filter
combinations, newest-first order by date_updated (ties broken by id, so the
order is stable), opaque cursors, _limit capped at 50, 30-day retention,
Basic and Bearer auth, a RateLimit header on every answer and 429 +
Retry-After above a configurable rate.  Faults are injected on request:
500/502/503 answers, truncated bodies, malformed JSON, slow answers; events
are consolidated in place (same id, newer date_updated) while a client pages.

Every request served is logged to --log as one JSON line: n, method, path,
query (a dict of lists), status, ids (the event ids in the answer), t.

Test control (no auth): POST /_fake/add?n=K adds K new events dated now;
POST /_fake/consolidate?n=K consolidates K events; GET /_fake/events dumps
the current set, one event per line, oldest first (ties in reverse of the
API's order); GET /_fake/stats gives counters; POST /_fake/expire_cursors
makes every cursor given out so far answer 400 (how long Close keeps a
cursor is not documented; a 400 is how it refuses a bad one), and
--expire-cursors-at N,... does so before the requests numbered N.

Webhook subscriptions (CLOSE.md): GET/POST /api/v1/webhook/ and
GET/PUT/DELETE /api/v1/webhook/{id}/.  The list answers
{"data": [...], "has_more": bool} and honours _skip and _limit (page size
--webhook-page-size); create validates the body, answers 201 with the
subscription and its signature_key (64 hex digits, only in that answer) and
refuses more than --webhook-limit (40) with a 400; update takes "status"
active|paused (and url, events, verify_ssl); delete answers {}.
--webhook-forbidden answers 403 on these routes (a key without the right).
Request bodies sent to /api/ routes are logged as "body" (parsed JSON, or
the text).  Test control: POST /_fake/webhook_add?n=K adds K subscriptions;
POST /_fake/webhook_pause?id=ID&reason=R pauses one as Close does (with a
pause_reason); GET /_fake/webhook_keys gives {id: signature_key}.

Routes are a table (Fake.routes); later programs add theirs (a webhook
sender) by extending it.  Stdlib only.
"""

import argparse
import base64
import bisect
import importlib.machinery
import importlib.util
import json
import os
import random
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "..", "..", "bench", "gen")
RETENTION = 30 * 86400

# CLOSE.md: the accepted filter combinations (any may add date bounds).
COMBOS = [set(c.split("+")) for c in (
    "object_type+object_id", "object_type+action", "object_id+action",
    "lead_id+object_type", "lead_id+object_type+action",
    "lead_id+user_id+object_type", "lead_id+user_id+object_type+action",
    "lead_id+user_id", "user_id+object_id", "user_id+object_id+action",
    "user_id+object_type", "user_id+object_type+action", "lead_id",
    "user_id", "request_id")] + [set()]
FILTERS = ("object_type", "object_id", "action", "lead_id", "user_id",
           "request_id")
DATES = ("date_updated__gte", "date_updated__gt", "date_updated__lte",
         "date_updated__lt")
DATE_RE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?"
                     r"(Z|[+-]\d\d:?\d\d|[+-]\d\d)?$")


def parse_date(s):
    """ISO-8601 to integer microseconds since the epoch, or None."""
    m = DATE_RE.match(s)
    if not m:
        return None
    y, mo, d, h, mi = (int(m.group(i)) for i in range(1, 6))
    sec = int(m.group(6) or 0)
    frac = (m.group(7) or "").ljust(6, "0")[:6]
    try:
        import calendar
        t = calendar.timegm((y, mo, d, h, mi, sec, 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    off = m.group(8)
    if off and off != "Z":
        sign = -1 if off[0] == "-" else 1
        digits = off[1:].replace(":", "")
        oh, om = int(digits[:2]), int(digits[2:4] or 0)
        t -= sign * (oh * 3600 + om * 60)
    return t * 1000000 + int(frac)


def fmt_date(us):
    """Close's event-level date: no offset, 6 digits, milliseconds filled."""
    s, u = divmod(us, 1000000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".%06d" % u


def load_gen():
    loader = importlib.machinery.SourceFileLoader("closehook_gen", GEN)
    spec = importlib.util.spec_from_loader("closehook_gen", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


class Event:
    __slots__ = ("id", "us", "json", "obj")

    def __init__(self, ev_json):
        self.obj = json.loads(ev_json)
        self.id = self.obj["id"]
        self.json = ev_json
        self.us = parse_date(self.obj["date_updated"])


class Fake:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.rng = random.Random(a.seed * 7919 + 1)
        self.n = 0
        self.window = (0, 0)  # rate window: (start, count)
        self.stats = {"requests": 0, "429": 0, "faults": 0, "consolidated": 0,
                      "added": 0}
        self.log = open(a.log, "a", encoding="utf-8") if a.log else None
        self.gen = load_gen()
        self.events = {}
        self.order = []  # newest first: (-us, -id) sort keys
        self.extra = 0
        self.cursor_gen = 0  # cursors of an older generation are refused
        self.now0 = a.now if a.now else time.time()
        self.make_events()
        self.routes = [
            ("GET", re.compile(r"^/api/v1/event/$"), self.event_list),
            ("GET", re.compile(r"^/api/v1/event/([^/]+)/$"), self.event_get),
            ("POST", re.compile(r"^/_fake/add$"), self.ctl_add),
            ("POST", re.compile(r"^/_fake/consolidate$"), self.ctl_consolidate),
            ("GET", re.compile(r"^/_fake/events$"), self.ctl_events),
            ("GET", re.compile(r"^/_fake/stats$"), self.ctl_stats),
            ("POST", re.compile(r"^/_fake/expire_cursors$"),
             self.ctl_expire_cursors),
            ("GET", re.compile(r"^/api/v1/webhook/$"), self.wh_list),
            ("POST", re.compile(r"^/api/v1/webhook/$"), self.wh_create),
            ("GET", re.compile(r"^/api/v1/webhook/([^/]+)/$"), self.wh_get),
            ("PUT", re.compile(r"^/api/v1/webhook/([^/]+)/$"), self.wh_update),
            ("DELETE", re.compile(r"^/api/v1/webhook/([^/]+)/$"),
             self.wh_delete),
            ("POST", re.compile(r"^/_fake/webhook_add$"), self.ctl_wh_add),
            ("POST", re.compile(r"^/_fake/webhook_pause$"),
             self.ctl_wh_pause),
            ("GET", re.compile(r"^/_fake/webhook_keys$"), self.ctl_wh_keys),
        ]
        self.webhooks = {}  # id -> subscription (no signature_key), in order
        self.wh_keys = {}   # id -> signature_key
        self.wh_rng = random.Random(a.seed * 104729 + 3)

    # -- the event set -----------------------------------------------------
    def make_events(self):
        a = self.a
        if a.count <= 0:
            self.resort()
            return
        span = a.span
        t0 = self.now0 - span
        args = ["--count", str(a.count), "--seed", str(a.seed), "--format",
                "pages", "--timestamp", str(int(t0)), "--rate",
                str(a.count / max(span - 60, 1)), "--jobs", "1"]
        g = self.gen.Gen(self.gen.parse_args(args))
        nblocks = -(-a.count // self.gen.BLOCK)
        for b in range(nblocks):
            for _, _, ev_json in g.block(b):
                e = Event(ev_json)
                self.events[e.id] = e
        if a.ties:
            # Give every fifth event its neighbour's date: ties to order.
            ids = sorted(self.events, key=lambda i: self.events[i].us)
            for i in range(1, len(ids), 5):
                self.redate(self.events[ids[i]], self.events[ids[i - 1]].us)
        if a.tie_block:
            # COUNT events from the Nth newest on share its date.
            n0, cnt = map(int, a.tie_block.split(","))
            ids = sorted(self.events, key=lambda i: -self.events[i].us)
            for i in range(n0, min(n0 + cnt, len(ids))):
                self.redate(self.events[ids[i]], self.events[ids[n0]].us)
        self.resort()

    def redate(self, e, us, change=False):
        obj = e.obj
        obj["date_updated"] = fmt_date(us)
        if change and isinstance(obj.get("data"), dict):
            obj["data"]["date_updated"] = fmt_date(us) + "+00:00"
            cf = obj.get("changed_fields") or []
            if "date_updated" not in cf:
                obj["changed_fields"] = sorted(cf + ["date_updated"])
        e.json = json.dumps(obj, ensure_ascii=False)
        e.us = us

    def resort(self):
        self.asc = sorted(self.events.values(), key=lambda e: (e.us, e.id))
        self.keys = [(e.us, e.id) for e in self.asc]
        self.order = self.asc[::-1]

    def now_us(self):
        return int(time.time() * 1000000)

    def consolidate(self, k):
        """k events updated in place: same id and date_created, a newer
        date_updated (now), data changed."""
        cands = [e for e in self.order if e.obj.get("action") == "updated"]
        if not cands:
            cands = list(self.order)
        for e in self.rng.sample(cands, min(k, len(cands))):
            us = max(self.now_us(), e.us + 1000)
            self.redate(e, us, change=True)
            self.stats["consolidated"] += 1
        self.resort()

    def add(self, k):
        base = list(self.events.values())
        for _ in range(k):
            self.extra += 1
            src = self.rng.choice(base) if base else None
            obj = dict(src.obj) if src else {"object_type": "lead",
                                              "action": "created", "data": {}}
            obj["id"] = "ev_new%016d" % (self.a.seed * 100000 + self.extra)
            d = fmt_date(self.now_us())
            obj["date_created"] = d
            obj["date_updated"] = d
            e = Event(json.dumps(obj, ensure_ascii=False))
            self.events[e.id] = e
            self.stats["added"] += 1
        self.resort()

    # -- HTTP plumbing -------------------------------------------------------
    def rate(self):
        """(allowed, headers): a fixed window of --rate-window seconds."""
        a = self.a
        t = time.monotonic()
        if a.rate_limit <= 0:
            lim, w = 100000, a.rate_window
        else:
            lim, w = a.rate_limit, a.rate_window
        start = t - (t % w)
        if self.window[0] != start:
            self.window = (start, 0)
        count = self.window[1] + 1
        self.window = (start, count)
        reset = max(start + w - t, 0.001)
        remaining = max(lim - count, 0)
        allowed = a.rate_limit <= 0 or count <= lim
        h = []
        if a.legacy_headers:
            h += [("X-Rate-Limit-Limit", str(lim)),
                  ("X-Rate-Limit-Remaining", str(remaining)),
                  ("X-Rate-Limit-Reset", "%.3f" % reset)]
        else:
            h.append(("RateLimit", "limit=%d, remaining=%d, reset=%.3f" %
                      (lim, remaining, reset)))
        if not allowed and not a.legacy_headers:
            h.append(("Retry-After", str(max(1, int(reset + 0.999)))))
        return allowed, h, reset

    def authorized(self, h):
        auth = h.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth[7:] == self.a.key
        if auth.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                return False
            return user == self.a.key and pw == ""
        return False

    def handle(self, req, method):
        u = urllib.parse.urlsplit(req.path)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        path = u.path
        entry = {"method": method, "path": path, "query": q}
        body = b""
        n = int(req.headers.get("Content-Length") or 0)
        if n:
            body = req.rfile.read(n)
        ctl = path.startswith("/_fake/")
        if body and not ctl:
            try:
                entry["body"] = json.loads(body)
            except ValueError:
                entry["body"] = body.decode("utf-8", "replace")
        fault = None
        with self.lock:
            if not ctl:
                self.n += 1
                self.stats["requests"] += 1
                entry["n"] = self.n
            allowed, rh, reset = self.rate() if not ctl else (True, [], 0)
            if ctl:
                status, out, ids = self.route(method, path, q, body)
            elif not self.authorized(req.headers):
                status, out, ids = 401, {"error": "The API key is invalid or "
                                         "has been revoked."}, []
            elif not allowed:
                self.stats["429"] += 1
                status, ids = 429, []
                out = {"error": {"message": "Rate limit exceeded, please "
                                 "retry later.", "rate_reset": round(reset, 3)}}
            else:
                fault = self.pick_fault()
                if fault == "429":  # another client used up the window
                    self.stats["429"] += 1
                    status, ids = 429, []
                    out = {"error": {"message": "Rate limit exceeded, please "
                                     "retry later.", "rate_reset": 0.5}}
                    if not self.a.legacy_headers:
                        rh.append(("Retry-After", "1"))
                elif fault in ("500", "502", "503"):
                    self.stats["faults"] += 1
                    status, out, ids = int(fault), {"error": "Internal error"}, []
                elif (self.a.webhook_forbidden and
                      path.startswith("/api/v1/webhook/")):
                    status, ids = 403, []
                    out = {"error": "You don't have permission to manage "
                           "webhook subscriptions."}
                else:
                    if self.n in self.a.expire_cursors_at:
                        self.cursor_gen += 1
                    status, out, ids = self.route(method, path, q, body)
                    if (method == "GET" and path == "/api/v1/event/" and
                            status == 200 and self.a.consolidate_every and
                            self.n % self.a.consolidate_every == 0):
                        self.consolidate(1)
        if isinstance(out, (dict, list)):
            data = json.dumps(out).encode()
        else:
            data = out
        entry.update(status=status, ids=ids, t=round(time.time(), 6))
        if fault:
            entry["fault"] = fault
        if fault == "slow":
            time.sleep(self.a.slow_seconds)
        if fault == "malformed" and status == 200:
            data = data[: len(data) // 2]
        if self.log:
            with self.lock:
                self.log.write(json.dumps(entry) + "\n")
                self.log.flush()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        for k, v in rh:
            req.send_header(k, v)
        req.end_headers()
        if fault == "truncate":
            req.wfile.write(data[: len(data) // 3])
            req.wfile.flush()
            req.close_connection = True
            return
        req.wfile.write(data)

    def pick_fault(self):
        a = self.a
        if a.fault_requests and self.n in a.fault_requests:
            return a.fault_requests[self.n]
        if a.fault_rate <= 0:
            return None
        if self.rng.random() < a.fault_rate:
            return self.rng.choice(a.fault_kinds)
        return None

    def route(self, method, path, q, body):
        allowed = False
        for m, rx, fn in self.routes:
            mt = rx.match(path)
            if mt:
                if m == method:
                    return fn(q, body, *mt.groups())
                allowed = True
        if allowed:
            return 405, {"error": "Method not allowed"}, []
        return 404, {"error": "Not found"}, []

    # -- the Event Log -------------------------------------------------------
    def bad(self, msg, field=None):
        if field:
            return 400, {"error": msg, "errors": [], "field-errors": {field: msg}}, []
        return 400, {"error": msg, "errors": [msg], "field-errors": {}}, []

    def event_list(self, q, body):
        for k, v in q.items():
            if k == "_skip":
                return self.bad("_skip is not supported, use _cursor")
            if k not in FILTERS and k not in DATES and k not in ("_limit", "_cursor"):
                return self.bad("unknown filter: %s" % k, k)
            if len(v) != 1:
                return self.bad("repeated parameter: %s" % k, k)
        given = {k for k in q if k in FILTERS}
        if given not in COMBOS:
            return self.bad("Unsupported combination of filters: %s" %
                            ", ".join(sorted(given)))
        try:
            limit = int(q.get("_limit", ["50"])[0])
        except ValueError:
            return self.bad("_limit must be an integer", "_limit")
        if limit < 1:
            return self.bad("_limit must be positive", "_limit")
        limit = min(limit, 50)
        bounds = {}
        for k in DATES:
            if k in q:
                us = parse_date(q[k][0])
                if us is None:
                    return self.bad("Invalid date: %s" % q[k][0], k)
                bounds[k] = us
        after = None
        if "_cursor" in q:
            try:
                c = json.loads(base64.urlsafe_b64decode(
                    q["_cursor"][0] + "=" * (-len(q["_cursor"][0]) % 4)))
                after = (int(c[0]), str(c[1]))
                gen = int(c[2])
            except Exception:
                return self.bad("Invalid cursor", "_cursor")
            if gen != self.cursor_gen:
                return self.bad("The cursor has expired", "_cursor")
        oldest = self.now_us() - RETENTION * 1000000
        out = []
        more = False
        # Newest first: walk the ascending list down from the first
        # candidate below the cursor and the upper date bounds.
        i = len(self.asc) - 1
        if after is not None:
            i = min(i, bisect.bisect_left(self.keys, after) - 1)
        if "date_updated__lt" in bounds:
            i = min(i, bisect.bisect_left(self.keys, (bounds["date_updated__lt"], "")) - 1)
        if "date_updated__lte" in bounds:
            i = min(i, bisect.bisect_left(self.keys, (bounds["date_updated__lte"] + 1, "")) - 1)
        while i >= 0:
            e = self.asc[i]
            i -= 1
            if e.us < oldest:
                break
            if not self.match(e, q, bounds):
                continue
            if len(out) == limit:
                more = True
                break
            out.append(e)
        cursor = None
        if more:
            cursor = base64.urlsafe_b64encode(json.dumps(
                [out[-1].us, out[-1].id, self.cursor_gen]).encode()
            ).decode().rstrip("=")
        text = '{"data": [%s], "cursor_next": %s, "cursor_previous": null}' % (
            ", ".join(self.served(e) for e in out), json.dumps(cursor))
        return 200, text.encode(), [e.id for e in out]

    def match(self, e, q, b):
        o = e.obj
        for k in FILTERS:
            if k in q and str(o.get(k)) != q[k][0]:
                return False
        us = e.us
        if "date_updated__gte" in b and us < b["date_updated__gte"]:
            return False
        if "date_updated__gt" in b and us <= b["date_updated__gt"]:
            return False
        if "date_updated__lte" in b and us > b["date_updated__lte"]:
            return False
        if "date_updated__lt" in b and us >= b["date_updated__lt"]:
            return False
        return True

    def event_get(self, q, body, eid):
        e = self.events.get(eid)
        if e is None or e.us < self.now_us() - RETENTION * 1000000:
            return 404, {"error": "Empty query: Event matching query does not exist."}, []
        return 200, self.served(e).encode(), [e.id]

    def served(self, e):
        """The event's JSON as this key sees it: a non-admin key gets no
        data or previous_data for events older than an hour."""
        if self.a.non_admin and e.us < self.now_us() - 3600 * 1000000:
            obj = {k: v for k, v in e.obj.items()
                   if k not in ("data", "previous_data")}
            return json.dumps(obj, ensure_ascii=False)
        return e.json

    # -- test control ----------------------------------------------------------
    def ctl_add(self, q, body):
        self.add(int(q.get("n", ["1"])[0]))
        return 200, {"events": len(self.events)}, []

    def ctl_consolidate(self, q, body):
        self.consolidate(int(q.get("n", ["1"])[0]))
        return 200, {"events": len(self.events)}, []

    def ctl_events(self, q, body):
        oldest = self.now_us() - RETENTION * 1000000
        lines = [e.json for e in reversed(self.order) if e.us >= oldest]
        return 200, "".join(x + "\n" for x in lines).encode(), []

    def ctl_stats(self, q, body):
        return 200, dict(self.stats, events=len(self.events)), []

    def ctl_expire_cursors(self, q, body):
        self.cursor_gen += 1
        return 200, {"generation": self.cursor_gen}, []

    # -- webhook subscriptions -------------------------------------------------
    def wh_new_id(self):
        abc = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        while True:
            i = "whsub_" + "".join(self.wh_rng.choice(abc) for _ in range(22))
            if i not in self.webhooks:
                return i

    def wh_check_events(self, events):
        if not isinstance(events, list) or not events:
            return "This field is required."
        for e in events:
            if not isinstance(e, dict):
                return "Each event must be an object."
            for k in ("object_type", "action"):
                if not isinstance(e.get(k), str) or not e.get(k):
                    return "%s: This field is required." % k
            if "extra_filter" in e and not isinstance(e["extra_filter"],
                                                      (dict, type(None))):
                return "extra_filter: Invalid filter."
        return None

    def wh_add(self, url, events, verify_ssl=True):
        i = self.wh_new_id()
        now = fmt_date(self.now_us())
        sub = {"id": i, "url": url, "events": events,
               "verify_ssl": verify_ssl, "status": "active",
               "pause_reason": None, "organization_id": "orga_fake",
               "created_by": "user_fake", "updated_by": "user_fake",
               "date_created": now, "date_updated": now}
        self.webhooks[i] = sub
        self.wh_keys[i] = "%064x" % self.wh_rng.getrandbits(256)
        return sub

    def wh_body(self, body):
        try:
            d = json.loads(body or b"null")
        except ValueError:
            return None, self.bad("JSON parse error")
        if not isinstance(d, dict):
            return None, self.bad("Expected a JSON object")
        return d, None

    def wh_list(self, q, body):
        try:
            skip = int(q.get("_skip", ["0"])[0])
            limit = int(q.get("_limit", [str(self.a.webhook_page_size)])[0])
        except ValueError:
            return self.bad("_skip and _limit must be integers")
        limit = max(1, min(limit, self.a.webhook_page_size))
        subs = list(self.webhooks.values())
        page = subs[skip:skip + limit]
        return 200, {"data": page, "has_more": skip + limit < len(subs)}, \
            [s["id"] for s in page]

    def wh_create(self, q, body):
        d, err = self.wh_body(body)
        if err:
            return err
        url = d.get("url")
        if not isinstance(url, str) or not re.match(r"^https?://", url):
            return self.bad("Enter a valid URL.", "url")
        why = self.wh_check_events(d.get("events"))
        if why:
            return self.bad(why, "events")
        if not isinstance(d.get("verify_ssl", True), bool):
            return self.bad("Must be a valid boolean.", "verify_ssl")
        if len(self.webhooks) >= self.a.webhook_limit:
            msg = ("Your organization has reached the limit of %d webhook "
                   "subscriptions." % self.a.webhook_limit)
            return 400, {"error": msg, "errors": [msg],
                         "field-errors": {}}, []
        sub = self.wh_add(url, d["events"], d.get("verify_ssl", True))
        return 201, dict(sub, signature_key=self.wh_keys[sub["id"]]), \
            [sub["id"]]

    def wh_missing(self):
        return 404, {"error": "Empty query: WebhookSubscription matching "
                     "query does not exist."}, []

    def wh_get(self, q, body, i):
        if i not in self.webhooks:
            return self.wh_missing()
        return 200, self.webhooks[i], [i]

    def wh_update(self, q, body, i):
        if i not in self.webhooks:
            return self.wh_missing()
        d, err = self.wh_body(body)
        if err:
            return err
        sub = self.webhooks[i]
        if "status" in d:
            if d["status"] not in ("active", "paused"):
                return self.bad('"%s" is not a valid choice.' % d["status"],
                                "status")
        if "events" in d:
            why = self.wh_check_events(d["events"])
            if why:
                return self.bad(why, "events")
        if "url" in d and (not isinstance(d["url"], str) or
                           not re.match(r"^https?://", d["url"])):
            return self.bad("Enter a valid URL.", "url")
        for k in ("url", "events", "verify_ssl"):
            if k in d:
                sub[k] = d[k]
        if "status" in d:
            sub["status"] = d["status"]
            sub["pause_reason"] = None
        sub["date_updated"] = fmt_date(self.now_us())
        return 200, sub, [i]

    def wh_delete(self, q, body, i):
        if i not in self.webhooks:
            return self.wh_missing()
        del self.webhooks[i]
        self.wh_keys.pop(i, None)
        return 200, {}, [i]

    def ctl_wh_add(self, q, body):
        for k in range(int(q.get("n", ["1"])[0])):
            self.wh_add("https://example.com/hook/%d" % k,
                        [{"object_type": "lead", "action": "created"}])
        return 200, {"webhooks": len(self.webhooks)}, []

    def ctl_wh_pause(self, q, body):
        i = q.get("id", [""])[0]
        if i not in self.webhooks:
            return self.wh_missing()
        self.webhooks[i]["status"] = "paused"
        self.webhooks[i]["pause_reason"] = q.get("reason", [None])[0]
        return 200, self.webhooks[i], []

    def ctl_wh_keys(self, q, body):
        return 200, dict(self.wh_keys), []


def make_handler(fake):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def serve(self, method):
            try:
                fake.handle(self, method)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up (a timeout test): nothing to answer.
                self.close_connection = True

        def do_GET(self):
            self.serve("GET")

        def do_POST(self):
            self.serve("POST")

        def do_PUT(self):
            self.serve("PUT")

        def do_DELETE(self):
            self.serve("DELETE")

        def log_message(self, *args):
            pass
    return H


def parse_faults(spec):
    """"3:500,7:truncate" -> {3: "500", 7: "truncate"}."""
    out = {}
    for item in filter(None, (spec or "").split(",")):
        n, _, kind = item.partition(":")
        out[int(n)] = kind
    return out


def main():
    p = argparse.ArgumentParser(description="a fake Close API")
    p.add_argument("--port-file", required=True)
    p.add_argument("--log")
    p.add_argument("--key", default="api_test_key")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--count", type=int, default=200, help="events generated")
    p.add_argument("--span", type=float, default=29 * 86400,
                   help="seconds before now the events spread over")
    p.add_argument("--now", type=float, default=0)
    p.add_argument("--tie-block", default="",
                   help="N,COUNT: COUNT events from the Nth newest share a date")
    p.add_argument("--ties", action="store_true",
                   help="make events share dates (tie order)")
    p.add_argument("--rate-limit", type=int, default=0,
                   help="requests per window (0: unlimited)")
    p.add_argument("--rate-window", type=float, default=1.0)
    p.add_argument("--legacy-headers", action="store_true",
                   help="x-rate-limit-* headers and the legacy 429 body only")
    p.add_argument("--fault-rate", type=float, default=0)
    p.add_argument("--fault-kinds", default="500,502,503,truncate")
    p.add_argument("--fault-requests", default="",
                   help="N:KIND,...: faults at given request numbers")
    p.add_argument("--slow-seconds", type=float, default=3)
    p.add_argument("--non-admin", action="store_true",
                   help="no data/previous_data in events older than an hour")
    p.add_argument("--expire-cursors-at", default="",
                   help="N,...: expire every cursor before these requests")
    p.add_argument("--consolidate-every", type=int, default=0,
                   help="consolidate an event every N list requests")
    p.add_argument("--webhook-limit", type=int, default=40,
                   help="webhook subscriptions per organisation")
    p.add_argument("--webhook-page-size", type=int, default=100,
                   help="webhook subscriptions per list page")
    p.add_argument("--webhook-forbidden", action="store_true",
                   help="answer 403 on the webhook routes")
    a = p.parse_args()
    a.fault_kinds = a.fault_kinds.split(",")
    a.fault_requests = parse_faults(a.fault_requests)
    a.expire_cursors_at = {int(x) for x in a.expire_cursors_at.split(",") if x}
    fake = Fake(a)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(fake))
    srv.daemon_threads = True
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
