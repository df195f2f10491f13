#!/bin/bash
# closehook-capture --body (a body file and headers typed with -H) and
# --json (captures printed over several lines, compacted); usage errors.
. "$(dirname "$0")/lib.sh"
set -e

echo "$KAV_KEY" >"$TMP/keys"
chmod 600 "$TMP/keys"
vfy() { closehook-verify --secret-file "$TMP/keys" --max-age 0 "$@"; }
cap() {
	run closehook-capture "$@"
	cp "$TMP/out" "$TMP/cap"
}

# --body: the KAV body from a log, its two headers typed by hand.
printf '%s' "$KAV_BODY" >"$TMP/body"
cap --body -H "close-sig-hash: $KAV_SIG" \
    --header "Close-Sig-Timestamp:$KAV_TS " "$TMP/body"
is "$rc" 0 "--body makes a capture"
is "$(jq -c '[.method, .path, .headers]' "$TMP/cap")" \
    '["POST","/",{"close-sig-hash":"'"$KAV_SIG"'","close-sig-timestamp":"'"$KAV_TS"'"}]' \
    "POST to /, the -H headers lower-cased and trimmed"
run vfy "$TMP/cap"
is "$rc:$out" "0:$KAV_BODY" "and it verifies"
at=$(jq -r .received_at "$TMP/cap")
like "$at" "20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z" \
    "received_at defaults to now, in the capture format"
age=$(($(date +%s) - $(jq -rn --arg t "$at" '$t | sub("[.][0-9]+Z$"; "Z") | fromdate')))
ok "and it is now ($age s ago)" test "$age" -ge 0 -a "$age" -lt "$(slow 60)"

# The body's bytes are taken as they are: a final newline is signed too.
printf '%s\n' "$KAV_BODY" >"$TMP/body-nl"
run sh -c 'closehook-capture --body -H "close-sig-hash: $1" \
    -H "close-sig-timestamp: $2" <"$3" | closehook-verify --max-age 0 \
    --secret-file "$4"' sh "$KAV_SIG" "$KAV_TS" "$TMP/body-nl" "$TMP/keys"
like "$err" "*rejected: signature-mismatch" \
    "a newline the body did not have breaks the signature"
nlsig=$(printf '%s%s\n' "$KAV_TS" "$KAV_BODY" | openssl dgst -sha256 -mac HMAC \
    -macopt "hexkey:$KAV_KEY" -r | cut -d' ' -f1)
run sh -c 'closehook-capture --body -H "close-sig-hash: $1" \
    -H "close-sig-timestamp: $2" - <"$3" | closehook-verify --max-age 0 \
    --secret-file "$4"' sh "$nlsig" "$KAV_TS" "$TMP/body-nl" "$TMP/keys"
is "$rc" 0 "a body signed with its newline verifies: stdin, as -, byte for byte"

# --received-at: ISO 8601 with an offset, or Unix seconds.
cap --body --received-at 2019-05-13T14:46:36+02:00 "$TMP/body"
is "$(jq -r .received_at "$TMP/cap")" "2019-05-13T12:46:36.000000Z" \
    "--received-at in ISO 8601 is normalised to UTC"
cap --body --received-at 1557751596.25 "$TMP/body"
is "$(jq -r .received_at "$TMP/cap")" "2019-05-13T12:46:36.250000Z" \
    "--received-at in Unix seconds, with a fraction"
run sh -c 'closehook-capture --body -H "close-sig-hash: $1" \
    -H "close-sig-timestamp: $2" --received-at "$2" "$3" |
    closehook-verify --secret-file "$4"' sh "$KAV_SIG" "$KAV_TS" \
    "$TMP/body" "$TMP/keys"
is "$rc" 0 "so verify's window holds without --max-age 0"

# A body that is not UTF-8 goes as body_base64.
printf '{"note": "caf\xe9"}' >"$TMP/latin1"
cap --body "$TMP/latin1"
jq -r .body_base64 "$TMP/cap" | base64 -d >"$TMP/latin1.back"
same_file "$TMP/latin1.back" "$TMP/latin1" \
    "a body that is not UTF-8 is body_base64, its bytes exact"

# --json: a capture pretty-printed over several lines, as jq prints it,
# back on one line with its members and strings as they were.
capture "$KAV_TS" "$KAV_SIG" "$KAV_BODY" >"$TMP/one"
python3 - "$TMP/one" "$TMP/pretty.json" "$TMP/want" <<'EOF'
import json, sys
c = json.loads(open(sys.argv[1]).read())
c["headers"]["x-note"] = "caf\u00e9 \"quoted\" \\ /"
c["port"] = 8080.50
text = json.dumps(c, indent=2)  # \u escapes, numbers as written
open(sys.argv[2], "w").write(text + "\n" + text + "\n")
want = json.dumps(c, separators=(",", ":"))
open(sys.argv[3], "w").write(want + "\n" + want + "\n")
EOF
cap --json "$TMP/pretty.json"
is "$rc" 0 "--json reads two pretty-printed captures"
same_file "$TMP/cap" "$TMP/want" \
    "each on one line: only the white space between tokens is gone"
run vfy "$TMP/cap"
is "$rc:$(wc -l <"$TMP/out")" "0:2" "and they verify"
jq . "$TMP/one" >"$TMP/jq.json"
run sh -c 'closehook-capture --json <"$1" | closehook-verify --max-age 0 \
    --secret-file "$2"' sh "$TMP/jq.json" "$TMP/keys"
is "$rc:$out" "0:$KAV_BODY" "jq's pretty output from stdin verifies"

# --json: a reject line stands for the capture it holds (closehook-verify
# --rejects; closehook-receive --keep-rejects writes the same shape).
printf '%s\n' 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff \
    >"$TMP/other"
chmod 600 "$TMP/other"
closehook-verify -q --max-age 0 --secret-file "$TMP/other" \
    --rejects "$TMP/rej.ndjson" "$TMP/one" >/dev/null || true
jq -c '{reason: "signature-mismatch", capture: .}' "$TMP/one" >>"$TMP/rej.ndjson"
run sh -c 'closehook-capture --json "$1" | closehook-verify --max-age 0 \
    --secret-file "$2"' sh "$TMP/rej.ndjson" "$TMP/keys"
is "$rc:$out" "0:$KAV_BODY
$KAV_BODY" "reject lines of verify and receive give back their captures"

# --json: a value that is no capture is reported and skipped; text that is
# not JSON ends the file.
{
	printf '{\n  "headers": {}\n}\n'
	cat "$TMP/jq.json"
	printf '[\n  1\n]\n'
	printf '{"headers": {}, "body_base64": "%%%%"}\n'
	cat "$TMP/jq.json"
	printf '{\n  "headers": {},\n  "body": "x",\n}\n'
	cat "$TMP/jq.json"
} >"$TMP/mixed.json"
n=$(wc -l <"$TMP/jq.json")
cap --json "$TMP/mixed.json"
is "$rc" 1 "bad values: exit 1"
is "$err" "closehook-capture: $TMP/mixed.json:1: not a capture: missing body
closehook-capture: $TMP/mixed.json:$((4 + n)): not a capture: not a JSON object
closehook-capture: $TMP/mixed.json:$((7 + n)): not a capture: body_base64 is not base64
closehook-capture: $TMP/mixed.json:$((11 + 2 * n)): not valid JSON: expected string key" \
    "each with its line and reason"
is "$(wc -l <"$TMP/cap")" 2 "the captures between them still come out, none after"

# A write error on stdout is exit 2, never a silent loss.
if [ -w /dev/full ]; then
	closehook-capture --body "$TMP/body" >/dev/full 2>"$TMP/err" && rc=0 || rc=$?
	is "$rc:$(cat "$TMP/err")" \
	    "2:closehook-capture: stdout: No space left on device" \
	    "a capture that cannot be written: exit 2, and why"
else
	skip "a capture that cannot be written: exit 2" "no /dev/full here"
fi

# Usage errors: exit 2, the usage on stderr, nothing on stdout.
usage_err() {
	local desc=$1 msg=$2
	shift 2
	run closehook-capture "$@"
	is "$rc" 2 "$desc: exit 2"
	is "$(head -n 1 "$TMP/err")" "closehook-capture: $msg" "$desc: says why"
	is "$out" "" "$desc: nothing on stdout"
}
usage_err "no input format" \
    "say what to read: --http, --har, --body or --json" "$TMP/body"
usage_err "two formats" "--http, --har, --body and --json exclude each other" \
    --http --har
usage_err "-H without --body" "-H goes with --body" --http -H 'a: b'
usage_err "a -H without a colon" \
    "invalid header 'close-sig-hash' for -H (want 'Name: value')" \
    --body -H close-sig-hash
usage_err "a -H name with a space" \
    "invalid header 'close sig: x' for -H (want 'Name: value')" \
    --body -H 'close sig: x'
usage_err "a -H value with a CR in it" \
    "-H close-sig-hash: a control character (0x0d) at character 65 of its value, which HTTP cannot carry (a copy with CRLF line ends?)" \
    --body -H "close-sig-hash:  $KAV_SIG$(printf '\r')" "$TMP/body"
usage_err "--received-at with --har" "--received-at goes with --http or --body" \
    --har --received-at 1
usage_err "a bad --received-at" "invalid value 'yesterday' for --received-at" \
    --body --received-at yesterday
usage_err "two files for --body" "--body reads one FILE" \
    --body "$TMP/body" "$TMP/body"
usage_err "a bad --max-input" "invalid value '12' for --max-input" \
    --json --max-input 12
done_testing
