#!/bin/bash
# closehook-capture --har: the POST entries of a HAR archive, as browser
# devtools, mitmproxy or ngrok export it, become captures that
# closehook-verify accepts; startedDateTime becomes received_at in UTC;
# other methods are skipped with a note; bad entries are reported with
# their line while the good ones come out.
. "$(dirname "$0")/lib.sh"
set -e

echo "$KAV_KEY" >"$TMP/keys"
chmod 600 "$TMP/keys"
vfy() { closehook-verify --secret-file "$TMP/keys" --max-age 0 "$@"; }
cap() {
	run closehook-capture "$@"
	cp "$TMP/out" "$TMP/cap"
}

ts2=1764000000
body2='{"event": {"id": "ev_2", "data": {"name": "Zoë 株式会社"}}, "subscription_id": "whsub_1"}'
sig2=$(sign "$KAV_KEY" $ts2 "$body2")

# har.py OUT: a HAR 1.2 archive as Chrome exports it, pretty-printed: a
# GET of a page, the KAV request over HTTP/2 (pseudo-headers, names in
# lower case), a second event sent as base64, and an OPTIONS preflight.
cat >"$TMP/har.py" <<'EOF'
import base64, json, os, sys

def entry(started, method, url, headers, post=None):
    req = {"method": method, "url": url, "httpVersion": "HTTP/2.0",
           "headers": [{"name": n, "value": v} for n, v in headers],
           "queryString": [], "cookies": [], "headersSize": -1,
           "bodySize": 0}
    if post is not None:
        req["postData"] = post
        req["bodySize"] = len(post["text"])
    return {"startedDateTime": started, "time": 41.2, "request": req,
            "response": {"status": 200, "statusText": "", "httpVersion":
                         "HTTP/2.0", "headers": [], "cookies": [],
                         "content": {"size": 0, "mimeType": "text/plain"},
                         "redirectURL": "", "headersSize": -1,
                         "bodySize": 0},
            "cache": {}, "timings": {"send": 0.1, "wait": 40, "receive": 1}}

env = os.environ
log = {"log": {"version": "1.2",
               "creator": {"name": "WebInspector", "version": "537.36"},
               "pages": [],
               "entries": [
    entry("2019-05-13T12:46:30.000Z", "GET", "https://hooks.example.com/",
          [(":method", "GET"), (":path", "/")]),
    entry("2019-05-13T14:46:36.123+02:00", "POST",
          "https://hooks.example.com/close?sub=whsub_1#top",
          [(":authority", "hooks.example.com"), (":method", "POST"),
           (":path", "/close?sub=whsub_1"), (":scheme", "https"),
           ("content-type", "application/json"),
           ("close-sig-hash", " " + env["KAV_SIG"] + " "),
           ("Close-Sig-Timestamp", env["KAV_TS"]),
           ("x-forwarded-for", "10.0.0.1"), ("X-Forwarded-For", "10.0.0.2")],
          {"mimeType": "application/json", "text": env["KAV_BODY"]}),
    entry("2025-11-24T16:00:01Z", "POST", "http://127.0.0.1:8080",
          [("Content-Type", "application/json"),
           ("close-sig-hash", env["SIG2"]),
           ("close-sig-timestamp", env["TS2"])],
          {"mimeType": "application/json",
           "text": base64.b64encode(env["BODY2"].encode()).decode(),
           "encoding": "base64"}),
    entry("2025-11-24T16:00:02Z", "OPTIONS", "https://hooks.example.com/close",
          []),
]}}
json.dump(log, open(sys.argv[1], "w"), indent=2, ensure_ascii=False)
EOF
SIG2=$sig2 TS2=$ts2 BODY2=$body2 python3 "$TMP/har.py" "$TMP/devtools.har"

cap --har "$TMP/devtools.har"
is "$rc" 0 "a HAR archive is read"
is "$err" "closehook-capture: $TMP/devtools.har: skipped 2 entries that are not POST" \
    "entries that are not POST are skipped, with a note"
is "$(wc -l <"$TMP/cap")" 2 "one capture per POST entry"
is "$(jq -r .received_at "$TMP/cap" | tr '\n' ' ')" \
    "2019-05-13T12:46:36.123000Z 2025-11-24T16:00:01.000000Z " \
    "startedDateTime as received_at: UTC, microseconds"
is "$(jq -r .path "$TMP/cap" | tr '\n' ' ')" "/close?sub=whsub_1 / " \
    "the path and query of the URL, without its fragment; / for none"
is "$(jq -c .headers "$TMP/cap" | head -n 1)" \
    '{"content-type":"application/json","close-sig-hash":"'"$KAV_SIG"'","close-sig-timestamp":"'"$KAV_TS"'","x-forwarded-for":"10.0.0.1, 10.0.0.2"}' \
    "headers: pseudo-headers left out, names lower-cased, values trimmed, repeats joined"
is "$(jq -r .method "$TMP/cap" | sort -u)" POST "the method is POST"
run vfy "$TMP/cap"
is "$rc" 0 "both captures verify"
is "$out" "$(printf '%s\n%s' "$KAV_BODY" "$body2")" \
    "with their bodies, the base64 one decoded"
run sh -c 'closehook-capture --har "$1" 2>/dev/null |
    closehook-verify --secret-file "$2"' sh "$TMP/devtools.har" "$TMP/keys"
is "$rc" 0 "they verify within the window: received_at is when they arrived"

# From stdin.
run sh -c 'closehook-capture --har <"$1" 2>&1 >/dev/null' sh "$TMP/devtools.har"
is "$out" "closehook-capture: stdin: skipped 2 entries that are not POST" \
    "stdin is read, and named so"

# A body that is not UTF-8 (base64 in the archive) stays body_base64.
python3 - "$TMP/latin1.har" <<'EOF'
import json, sys
json.dump({"log": {"version": "1.2", "entries": [{
    "startedDateTime": "2025-11-24T16:00:01Z",
    "request": {"method": "POST", "url": "/close", "headers": [],
                "postData": {"mimeType": "application/json",
                             "text": "eyJub3RlIjogImNhZukifQ==",
                             "encoding": "base64"}}}]}},
          open(sys.argv[1], "w"))
EOF
cap --har "$TMP/latin1.har"
is "$(jq -r '.body_base64 // "none"' "$TMP/cap")" "eyJub3RlIjogImNhZukifQ==" \
    "a body that is not UTF-8 is written as body_base64, its bytes kept"

# Bad entries: each reported with the line of its entry; the rest still
# come out and the exit status is 1.
python3 - "$TMP/bad.har" <<'EOF'
import json, os, sys
good = {"startedDateTime": "2019-05-13T12:46:36Z",
        "request": {"method": "POST", "url": "https://h/close",
                    "headers": [{"name": "close-sig-hash",
                                 "value": os.environ["KAV_SIG"]},
                                {"name": "close-sig-timestamp",
                                 "value": os.environ["KAV_TS"]}],
                    "postData": {"text": os.environ["KAV_BODY"]}}}
bad_date = dict(good, startedDateTime="Monday")
no_body = {"startedDateTime": "2019-05-13T12:46:36Z",
           "request": {"method": "POST", "url": "https://h/close",
                       "headers": [], "bodySize": 230}}
# bodySize -1 is "not available": the Content-Length header says it.
no_body_cl = {"startedDateTime": "2019-05-13T12:46:36Z",
              "request": {"method": "POST", "url": "https://h/close",
                          "headers": [{"name": "Content-Length",
                                       "value": "230"}],
                          "bodySize": -1}}
# Chrome writes bodySize 0 for a body it left out, beside the request's
# Content-Length: the larger says.
chrome = {"startedDateTime": "2019-05-13T12:46:36Z",
          "request": {"method": "POST", "url": "https://h/close",
                      "headers": [{"name": "content-length",
                                   "value": "230"}],
                      "bodySize": 0}}
# An encoding that is null or "" is none, as exporters mean it.
enc_empty = json.loads(json.dumps(good))
enc_empty["request"]["postData"]["encoding"] = ""
enc_null = json.loads(json.dumps(good))
enc_null["request"]["postData"]["encoding"] = None
cut = json.loads(json.dumps(good))
cut["request"]["bodySize"] = 230
cut["request"]["postData"]["text"] = os.environ["KAV_BODY"][:100]
gzip = {"startedDateTime": "2019-05-13T12:46:36Z",
        "request": {"method": "POST", "url": "https://h/close",
                    "headers": [],
                    "postData": {"text": "x", "encoding": "gzip"}}}
text = json.dumps({"log": {"entries": [good, bad_date, no_body, gzip,
                                        no_body_cl, cut, chrome,
                                        enc_empty, enc_null, good]}},
                  indent=1)
open(sys.argv[1], "w").write(text)
EOF
# The lines where entries 1, 2 and 3 open, as json.dumps indents them.
mapfile -t at < <(grep -n '^   {' "$TMP/bad.har" | cut -d: -f1)
cap --har "$TMP/bad.har"
is "$rc" 1 "bad entries: exit 1"
is "$err" "closehook-capture: $TMP/bad.har:${at[1]}: entry 1: startedDateTime is not an ISO 8601 date-time
closehook-capture: $TMP/bad.har:${at[2]}: entry 2: no postData.text, but the request had a body of 230 bytes (bodySize or Content-Length): the exporter left it out
closehook-capture: $TMP/bad.har:${at[3]}: entry 3: unsupported postData.encoding (only base64)
closehook-capture: $TMP/bad.har:${at[4]}: entry 4: no postData.text, but the request had a body of 230 bytes (bodySize or Content-Length): the exporter left it out
closehook-capture: $TMP/bad.har:${at[5]}: entry 5: postData.text holds 100 bytes, but the request had 230 (bodySize or Content-Length): the exporter cut the body short
closehook-capture: $TMP/bad.har:${at[6]}: entry 6: no postData.text, but the request had a body of 230 bytes (bodySize or Content-Length): the exporter left it out" \
    "each bad entry is reported with its line and index"
run vfy "$TMP/cap"
is "$rc:$(wc -l <"$TMP/out")" "0:4" \
    "the good entries before and after still come out, an encoding null or \"\" as none"

# HAR 1.2 readers ignore a byte-order mark at the start (.NET tools write
# one).
{ printf '\xef\xbb\xbf'; cat "$TMP/bad.har"; } >"$TMP/bom.har"
cap --har "$TMP/bom.har"
is "$rc:$(wc -l <"$TMP/cap")" "1:4" "a byte-order mark before the archive is skipped"

# Not a HAR archive.
printf '{"log": {"entries": [\n{"request": }\n]}}\n' >"$TMP/broken.har"
cap --har "$TMP/broken.har"
is "$rc:$err" "1:closehook-capture: $TMP/broken.har:2: not valid JSON: unexpected character" \
    "text that is not JSON: its line and the scanner's reason"
printf '{"entries": []}\n' >"$TMP/nolog.har"
cap --har "$TMP/nolog.har" "$TMP/devtools.har"
is "$rc" 1 "a JSON file that is no HAR archive: exit 1"
like "$err" "closehook-capture: $TMP/nolog.har:1: not a HAR archive: no log object*" \
    "reported as such"
is "$(wc -l <"$TMP/cap")" 2 "and the next file is still read"

# --max-input bounds the archive.
cap --har --max-input 2K "$TMP/devtools.har"
is "$rc:$err" "1:closehook-capture: $TMP/devtools.har: larger than 2048 bytes (--max-input)" \
    "an archive over --max-input is refused"
is "$(wc -c <"$TMP/cap")" 0 "and nothing of it is written"
done_testing
