#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154 # lib.sh: sourced; run sets rc, out, err
# Outbound signatures: --sign close is accepted by closehook-verify (the
# sink logs captures, the shape closehook-verify reads); --sign
# standard-webhooks v1 matches an independent HMAC in Python, with a
# secret as the reference libraries take it (no prefix, no padding); the
# webhook-id is the --idempotency-key, or a hash of a key that cannot be an
# id; v1a has the spec's shape.  Bad keys exit 2: a 64-byte whsk_ key whose
# halves do not match, a secret outside the spec's 24 to 64 bytes.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/post-helpers.sh"

start_sink s --max-time 60
records 50 21 >"$TMP/in"

# A key file of one key, bare or as closehook-subscribe --key-out writes
# it (SUBSCRIPTION_ID HEXKEY); a file of several keys is refused.
echo "$KAV_KEY" >"$TMP/close.key"
echo "whsub_mBTylJxRXaBOXcuQmgUdmL $KAV_KEY  # production" >"$TMP/sub.key"
chmod 600 "$TMP/close.key" "$TMP/sub.key"
for k in close sub; do
	: >"$TMP/s.log"
	run closehook-post --sign close --sign-key-file "$TMP/$k.key" \
	    "$SINK_URL" <"$TMP/in"
	is "$rc" 0 "--sign close, $k.key: delivered"
	run closehook-verify --secret-file "$TMP/close.key" <"$TMP/s.log"
	is "$rc" 0 "closehook-verify accepts every signed request"
	is "$(sort <<<"$out" | md5sum)" "$(sort "$TMP/in" | md5sum)" \
	    "and passes every body through"
done
# A different key is refused: the check can fail.
echo "${KAV_KEY/b9/c9}" >"$TMP/other.key"
chmod 600 "$TMP/other.key"
must_fail "closehook-verify refuses them under another key" \
    closehook-verify --secret-file "$TMP/other.key" "$TMP/s.log"
printf '%s\n' "$KAV_KEY" 5f0c3e1bd2a84c7f9e6a1b3d5c7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e \
    >"$TMP/two.key"
chmod 600 "$TMP/two.key"
exit_is 2 "a file of two keys is refused" closehook-post --sign close \
    --sign-key-file "$TMP/two.key" "$SINK_URL"
like "$err" "*two.key: more than one key in the file*" "saying why"
is "$(grep -c "${KAV_KEY:0:16}" "$TMP/err")" 0 "without a key's digits"

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

# sw_check KEY_BASE64 LOG: "GOOD BAD" - the requests in LOG whose v1
# signature is the HMAC of "id.timestamp.body" under the key, computed by
# Python, and whose webhook-id has no '.'; then one line per request:
# webhook-id, Idempotency-Key.
sw_check() {
	python3 - "$1" "$2" <<'PY'
import base64, hashlib, hmac, json, sys
k = sys.argv[1]
key = base64.b64decode(k + "=" * (-len(k) % 4))
good = bad = 0
ids = []
for line in open(sys.argv[2], encoding="utf-8"):
    c = json.loads(line)
    h = c["headers"]
    msg = "%s.%s.%s" % (h["webhook-id"], h["webhook-timestamp"], c["body"])
    sig = base64.b64encode(hmac.new(key, msg.encode(), hashlib.sha256).digest()).decode()
    if h["webhook-signature"] == "v1," + sig and "." not in h["webhook-id"]:
        good += 1
    else:
        bad += 1
    ids.append("%s %s" % (h["webhook-id"], h.get("idempotency-key", "-")))
print(good, bad)
print("\n".join(ids))
PY
}

# The reference libraries take a secret without whsec_ and without its
# base64 padding (25 bytes: two '=' left off).
: >"$TMP/s.log"
k25=$(head -c 25 /dev/urandom | base64 | tr -d '=')
echo "$k25" >"$TMP/sw25.key"
chmod 600 "$TMP/sw25.key"
head -n 2 "$TMP/in" >"$TMP/in2"
run closehook-post --sign standard-webhooks --sign-key-file "$TMP/sw25.key" \
    "$SINK_URL" <"$TMP/in2"
is "$rc" 0 "a secret without prefix or padding: delivered"
is "$(sw_check "$k25" "$TMP/s.log" | head -n 1)" "2 0" "and signed with it"

# --idempotency-key is the webhook-id; a key the spec forbids as an id (a
# '.') gives msg_ and a hash of the key, the same for the same key; a long
# one (100 bytes) is still the id itself.
: >"$TMP/s.log"
run closehook-post --sign standard-webhooks --sign-key-file "$TMP/sw.key" \
    --parallel 1 \
    --idempotency-key '"\(.event.id):\(.event.seq).0"' "$SINK_URL" <"$TMP/in2"
is "$rc" 0 "--idempotency-key with a '.': delivered"
sw_check MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw "$TMP/s.log" >"$TMP/ids"
is "$(head -n 1 "$TMP/ids")" "2 0" "signed, no '.' in the webhook-id"
want=$(printf 'msg_%s ev_000001:1.0' \
    "$(printf 'ev_000001:1.0' | sha256sum | cut -c1-32)")
is "$(sed -n 2p "$TMP/ids")" "$want" \
    "the webhook-id is msg_ and a hash of the key; Idempotency-Key the key"
long=$(printf 'k%.0s' $(seq 100))
: >"$TMP/s.log"
run closehook-post --sign standard-webhooks --sign-key-file "$TMP/sw.key" \
    --idempotency-key "\"$long\"" "$SINK_URL" <"$TMP/in1"
sw_check MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw "$TMP/s.log" >"$TMP/ids"
is "$(sed -n 1,2p "$TMP/ids" | tr '\n' ' ')" "1 0 $long $long " \
    "a key of 100 bytes is the webhook-id itself"

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

# A 64-byte whsk_ key is the seed and its public key: one whose halves do
# not belong together would sign with nothing anyone can verify.
python3 - "$TMP/sk.key" >"$TMP/sk64.key" <<'PY'
import base64, hashlib, sys
seed = base64.b64decode(open(sys.argv[1]).read().strip()[5:])
print("whsk_" + base64.b64encode(seed + hashlib.sha256(seed).digest()).decode())
PY
chmod 600 "$TMP/sk64.key"
run closehook-post --sign standard-webhooks --sign-key-file "$TMP/sk64.key" \
    "$SINK_URL" </dev/null
is "$rc" 2 "a whsk_ key whose public half is not its seed's: exit 2"
like "$err" "*public half is not the one of its seed*" "saying why"

# Bad keys.
echo 'whsec_!!!' >"$TMP/bad.key"
chmod 600 "$TMP/bad.key"
exit_is 2 "a bad whsec_ key" closehook-post --sign standard-webhooks \
    --sign-key-file "$TMP/bad.key" "$SINK_URL"
exit_is 2 "a hex key for standard-webhooks" closehook-post \
    --sign standard-webhooks --sign-key-file "$TMP/close.key" "$SINK_URL"
exit_is 2 "an unknown scheme" closehook-post --sign hmac \
    --sign-key-file "$TMP/close.key" "$SINK_URL"
head -c 16 /dev/urandom | base64 | sed 's/^/whsec_/' >"$TMP/short.key"
chmod 600 "$TMP/short.key"
exit_is 2 "a secret of 16 bytes (the spec wants 24 to 64)" closehook-post \
    --sign standard-webhooks --sign-key-file "$TMP/short.key" "$SINK_URL"
ok "no key bytes in the message" bash -c "! grep -q MfKQ '$TMP/err'"
done_testing
