#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154 # lib.sh: sourced; run sets rc, out, err
# Outbound signatures: --sign close is accepted by closehook-verify (the
# sink logs captures, the shape closehook-verify reads); --sign
# standard-webhooks v1 matches an independent HMAC in Python; v1a has the
# spec's shape.  Bad keys exit 2.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/post-helpers.sh"

start_sink s --max-time 60
records 50 21 >"$TMP/in"

echo "$KAV_KEY" >"$TMP/close.key"
chmod 600 "$TMP/close.key"
run closehook-post --sign close --sign-key-file "$TMP/close.key" \
    "$SINK_URL" <"$TMP/in"
is "$rc" 0 "--sign close: delivered"
run closehook-verify --secret-file "$TMP/close.key" <"$TMP/s.log"
is "$rc" 0 "closehook-verify accepts every signed request"
is "$(sort <<<"$out" | md5sum)" "$(sort "$TMP/in" | md5sum)" \
    "and passes every body through"
# A different key is refused: the check can fail.
echo "${KAV_KEY/b9/c9}" >"$TMP/other.key"
chmod 600 "$TMP/other.key"
must_fail "closehook-verify refuses them under another key" \
    closehook-verify --secret-file "$TMP/other.key" "$TMP/s.log"

# closehook-receive under the other key answers 401 "signature rejected\n":
# the dead-letter line quotes the body without its newline.
. "$TOP/tests/fakes/receive-helpers.sh"
ok "closehook-receive starts" start_receive r --spool "$TMP/rspool" \
    --secret-file "$TMP/other.key"
head -1 "$TMP/in" >"$TMP/in1"
run closehook-post --sign close --sign-key-file "$TMP/close.key" \
    --dead-letter "$TMP/dl" "$RURL/" <"$TMP/in1"
is "$rc" 1 "--sign close under another key: dead-lettered, exit 1"
is "$(grep dead-lettered: "$TMP/err")" \
    "closehook-post: stdin:1: dead-lettered: http 401: signature rejected" \
    "... saying so, without a trailing space"
stop_receive

: >"$TMP/s.log"
echo 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' >"$TMP/sw.key"
chmod 600 "$TMP/sw.key"
run closehook-post --sign standard-webhooks --sign-key-file "$TMP/sw.key" \
    "$SINK_URL" <"$TMP/in"
is "$rc" 0 "--sign standard-webhooks: delivered"
python3 - "$TMP/s.log" <<'PY' >"$TMP/swcheck"
import base64, hashlib, hmac, json, sys
key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
good = bad = 0
for line in open(sys.argv[1], encoding="utf-8"):
    c = json.loads(line)
    h = c["headers"]
    msg = "%s.%s.%s" % (h["webhook-id"], h["webhook-timestamp"], c["body"])
    sig = base64.b64encode(hmac.new(key, msg.encode(), hashlib.sha256).digest()).decode()
    ev = json.loads(c["body"])["event"]["id"]
    if h["webhook-signature"] == "v1," + sig and h["webhook-id"] == ev:
        good += 1
    else:
        bad += 1
print(good, bad)
PY
is "$(cat "$TMP/swcheck")" "50 0" \
    "v1 signatures match, webhook-id is the event id"

# Standard Webhooks v1a (Ed25519): the header has the spec's shape.
: >"$TMP/s.log"
printf 'whsk_%s\n' "$(head -c 32 /dev/urandom | base64)" >"$TMP/sk.key"
chmod 600 "$TMP/sk.key"
run closehook-post --sign standard-webhooks --sign-key-file "$TMP/sk.key" \
    "$SINK_URL" <"$TMP/in"
is "$rc" 0 "v1a: delivered"
like "$(jq -r '.headers["webhook-signature"]' "$TMP/s.log" | head -n 1)" \
    "v1a,*" "v1a signature header"
is "$(jq -r '.headers["webhook-signature"] | ltrimstr("v1a,")' "$TMP/s.log" |
    while read -r b; do base64 -d <<<"$b" | wc -c; done | sort -u)" 64 \
    "a 64-byte Ed25519 signature"

# Bad keys.
echo 'whsec_!!!' >"$TMP/bad.key"
chmod 600 "$TMP/bad.key"
exit_is 2 "a bad whsec_ key" closehook-post --sign standard-webhooks \
    --sign-key-file "$TMP/bad.key" "$SINK_URL"
exit_is 2 "a hex key for standard-webhooks" closehook-post \
    --sign standard-webhooks --sign-key-file "$TMP/close.key" "$SINK_URL"
exit_is 2 "an unknown scheme" closehook-post --sign hmac \
    --sign-key-file "$TMP/close.key" "$SINK_URL"
ok "no key bytes in the message" bash -c "! grep -q MfKQ '$TMP/err'"
done_testing
