#!/bin/bash
# closehook-verify on 100k generated captures with bad ones mixed in: every
# good capture's body comes out, in order, byte for byte; every bad one is
# reported once; nothing else appears.
. "$(dirname "$0")/lib.sh"
set -e

key=b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab042eb8abb4
"$TOP/bench/gen" --count 2000 --seed 7 --format captures --key $key \
    >"$TMP/base"
echo "$key" >"$TMP/keys"
chmod 600 "$TMP/keys"

# 50 copies of 2000 captures = 100k.  Every 97th line is tampered (a byte of
# the body changed: signature-mismatch) and after every 1009th line a
# garbage line is inserted (malformed-capture).  The expected output comes
# from Python's json decoding of the untouched captures' bodies.
python3 - "$TMP/base" "$TMP/in" "$TMP/want" <<'PY'
import json, sys
base = open(sys.argv[1], encoding="utf-8").read().splitlines()
fin = open(sys.argv[2], "w", encoding="utf-8")
want = open(sys.argv[3], "w", encoding="utf-8")
n = bad = 0
for copy in range(50):
    for line in base:
        n += 1
        if n % 97 == 0:
            c = json.loads(line)
            c["body"] = c["body"].replace('"event"', '"evenT"', 1)
            fin.write(json.dumps(c, ensure_ascii=False) + "\n")
            bad += 1
        else:
            fin.write(line + "\n")
            body = json.loads(line)["body"]
            want.write(body.replace("\r", " ").replace("\n", " ") + "\n")
        if n % 1009 == 0:
            fin.write('{"headers": {"close-sig-hash": "trunc\n')
            bad += 1
PY
closehook-verify --secret-file "$TMP/keys" --max-age 0 --rejects "$TMP/rej" \
    -q "$TMP/in" >"$TMP/out" 2>"$TMP/err" && rc=0 || rc=$?
is "$rc" 1 "exit 1: some were rejected"
is "$(wc -l <"$TMP/out")" "$(wc -l <"$TMP/want")" "every good capture came out"
same_file "$TMP/out" "$TMP/want" "in order, byte for byte"
is "$(jq -r .reason "$TMP/rej" | sort | uniq -c | tr -s ' ' | tr '\n' ';')" \
    " 99 malformed-capture; 1030 signature-mismatch;" \
    "each bad capture rejected once, for its reason"
is "$(wc -c <"$TMP/err")" 0 "-q keeps stderr quiet"

# The same stream through a pipe in odd-sized pieces gives the same bytes.
python3 -c '
import sys, os
data = open(sys.argv[1], "rb").read()
i, k = 0, 1
while i < len(data):
    os.write(1, data[i:i + k]); i += k; k = k * 7 % 65521 + 1
' "$TMP/in" | closehook-verify --secret-file "$TMP/keys" --max-age 0 -q \
    >"$TMP/out2" && rc=0 || rc=$?
is "$rc" 1 "through a pipe: exit 1 as well"
same_file "$TMP/out2" "$TMP/want" "reading a pipe in odd-sized pieces"
done_testing
