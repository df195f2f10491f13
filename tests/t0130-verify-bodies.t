#!/bin/bash
# closehook-verify over the bodies real captures carry: raw UTF-8, \u
# escapes, escaped slashes, pretty-printed JSON, body_base64, mixed-case
# header names, and a 10 MB body.  Bytes are kept as signed.
. "$(dirname "$0")/lib.sh"
set -e

echo "$KAV_KEY" >"$TMP/keys"
chmod 600 "$TMP/keys"
ts=1764000000
v() { closehook-verify --secret-file "$TMP/keys" --now $ts "$@"; }

check_body() {
	local desc=$1 body=$2 got
	capture $ts "$(sign "$KAV_KEY" $ts "$body")" "$body" >"$TMP/c"
	got=$(v "$TMP/c")
	is "$got" "$body" "$desc"
}
check_body "raw UTF-8 survives" \
    '{"event": {"data": {"name": "Zoë Ångström 株式会社 🚀"}}}'
check_body "\\u escapes in the body are not decoded" \
    '{"event": {"data": {"name": "Zo\u00eb \ud83d\ude80"}}}'
check_body "escaped slashes are kept" \
    '{"event": {"data": {"url": "https:\/\/app.close.com\/lead\/"}}}'
check_body "quotes and backslashes in strings" \
    '{"event": {"data": {"note": "say \"hi\" \\ bye"}}}'

# Pretty-printed JSON: signed with its newlines, written as one line.
pretty=$(printf '{\r\n  "event": {\n    "id": "ev_1"\n  },\n  "subscription_id": null\n}')
capture $ts "$(sign "$KAV_KEY" $ts "$pretty")" "$pretty" >"$TMP/c"
run v "$TMP/c"
is "$rc" 0 "a pretty-printed body verifies over its exact bytes"
is "$out" "$(printf '%s' "$pretty" | tr '\r\n' '  ')" \
    "and comes out on one line, CR and LF as spaces"
is "$(wc -l <"$TMP/out")" 1 "exactly one line"
ok "the output line is valid JSON" jq -e .event.id "$TMP/out"

# body_base64, for bodies that are not UTF-8 text (here: valid JSON that
# the sender encoded anyway) and for one that is not JSON at all.
b64=$(printf '%s' "$KAV_BODY" | base64 -w0)
printf '{"headers":{"Close-Sig-Hash":"%s","CLOSE-SIG-TIMESTAMP":"%s"},"body_base64":"%s"}\n' \
    "$KAV_SIG" "$KAV_TS" "$b64" >"$TMP/c"
run closehook-verify --secret-file "$TMP/keys" --max-age 0 "$TMP/c"
is "$out" "$KAV_BODY" "body_base64 and mixed-case header names verify"
nopad=$(printf '%s' "$KAV_BODY" | base64 -w0 | tr -d =)
printf '{"headers":{"close-sig-hash":"%s","close-sig-timestamp":"%s"},"body_base64":"%s"}\n' \
    "$KAV_SIG" "$KAV_TS" "$nopad" >"$TMP/c"
run closehook-verify --secret-file "$TMP/keys" --max-age 0 "$TMP/c"
is "$out" "$KAV_BODY" "unpadded base64 is accepted"
printf '{"headers":{"close-sig-hash":"%s","close-sig-timestamp":"%s"},"body_base64":"%s"}\n' \
    "$KAV_SIG" "$KAV_TS" "%%%%" >"$TMP/c"
run closehook-verify --secret-file "$TMP/keys" --max-age 0 "$TMP/c"
like "$err" "*rejected: malformed-capture (body_base64 is not base64)" \
    "bad base64 is a malformed capture"
latin1=$(printf '{"note": "caf\xe9"}' | base64 -w0)
sig=$(printf '%s{"note": "caf\xe9"}' $ts | openssl dgst -sha256 -mac HMAC \
    -macopt "hexkey:$KAV_KEY" -r | cut -d' ' -f1)
printf '{"headers":{"close-sig-hash":"%s","close-sig-timestamp":"%s"},"body_base64":"%s"}\n' \
    "$sig" $ts "$latin1" >"$TMP/c"
run v "$TMP/c"
is "$err" "closehook-verify: $TMP/c:1: rejected: body-not-json" \
    "a correctly signed body that is not UTF-8 is body-not-json"

# Header values as arrays (some capture tools) and extra headers.
printf '{"headers":{"close-sig-hash":["%s"],"close-sig-timestamp":["%s"],"x":1},"body":%s}\n' \
    "$KAV_SIG" "$KAV_TS" "$(printf '%s' "$KAV_BODY" | jq -Rs .)" >"$TMP/c"
run closehook-verify --secret-file "$TMP/keys" --max-age 0 "$TMP/c"
is "$out" "$KAV_BODY" "header values given as arrays are read"

# A 10 MB body.
python3 -c 'import json; print(json.dumps({"event": {"id": "ev_big", "data": {"note": "x" * 10000000}}, "subscription_id": None}), end="")' >"$TMP/big"
bsig=$(printf '%s' $ts | cat - "$TMP/big" | openssl dgst -sha256 -mac HMAC \
    -macopt "hexkey:$KAV_KEY" -r | cut -d' ' -f1)
python3 -c 'import json,sys; print(json.dumps({"headers":{"close-sig-hash":sys.argv[1],"close-sig-timestamp":sys.argv[2]},"body":open(sys.argv[3]).read()}))' \
    "$bsig" $ts "$TMP/big" >"$TMP/c"
v "$TMP/c" >"$TMP/out"
printf '\n' >>"$TMP/big"
same_file "$TMP/out" "$TMP/big" "a 10 MB body verifies and comes out whole"
run v --max-line 1M "$TMP/c"
like "$err" "*rejected: line-too-long" "and is line-too-long under --max-line 1M"
done_testing
