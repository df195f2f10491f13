#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-verify --explain: for each reject, the facts (age and its
# reference, whether the HMAC matches with the window ignored, the keys
# tried as fingerprints, the body's size and hash) and the usual mistake
# that makes a bad signature match, on stderr and in the rejects file.
# Also --summary, trimmed and numeric header values, a sha256= prefix, and
# --max-age as a duration.
. "$(dirname "$0")/lib.sh"

cd "$TMP" || exit 1
printf '%s\n' "$KAV_KEY" >keys
chmod 600 keys
other=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
fp_kav=$(key_fp "$KAV_KEY")

# explain_of CAPTURE...: run --explain over the captures (one per argument)
# with --now at the vector's time; sets rc, out, err; the rejects in rej.
explain_of() {
	rm -f rej
	printf '%s\n' "$@" >in
	run closehook-verify --explain --no-summary --now "$KAV_TS" \
	    --secret-file keys --rejects rej in
}
cause() { jq -r '.explain.likely_cause' rej; }

# The mistakes, each made the way people make it.
pretty=$(jq . <<<"$KAV_BODY")
pretty_sig=$(sign "$KAV_KEY" "$KAV_TS" "$pretty")
crlf=$(printf '%s' "$pretty" | sed '$!s/$/\r/')
compact=$(jq -c . <<<"$KAV_BODY")

explain_of "$(capture "$KAV_TS" "$KAV_SIG" "$KAV_BODY
")"
is "$rc:$(cause)" "1:trailing-newline-added" "a newline added to the body"
like "$err" "*rejected: signature-mismatch
    timestamp 1557751596: 0 s before --now
    body: $((${#KAV_BODY} + 1)) bytes, sha256 *
    keys tried: $fp_kav (any subscription)
    likely cause: trailing-newline-added: *matches key $fp_kav" \
    "explained on stderr, indented under the reject line"
is "$(jq -r '.explain.matching_key' rej)" "$fp_kav" "naming the key that matches"

explain_of "$(capture "$KAV_TS" "$pretty_sig" "$crlf")"
is "$(cause)" crlf-line-endings "LF became CRLF on the way"

explain_of "$(capture "$KAV_TS" "$KAV_SIG" "$compact")" \
    "$(capture "$KAV_TS" "$KAV_SIG" "$pretty")"
is "$(cause | tr '\n' ' ')" "reserialized-body reserialized-body " \
    "a compacted and a pretty-printed copy of the body"

# Close's serialisation of non-ASCII text (\uXXXX, surrogate pairs for
# emoji) rebuilt from a copy jq wrote out as UTF-8.
python3 "$TOP/bench/gen" --format payloads --count 200 --seed 5 |
    grep -m1 '\\ud83' >uni.json
uni=$(cat uni.json)
explain_of "$(capture "$KAV_TS" "$(sign "$KAV_KEY" "$KAV_TS" "$uni")" \
    "$(jq -c . uni.json)")"
is "$(cause)" reserialized-body "non-ASCII and emoji serialised as Close does"

explain_of "$(capture "$KAV_TS" "$KAV_SIG_ASCII_KEY" "$KAV_BODY")"
is "$(cause)" key-as-text "the key used as its hex text"

explain_of "$(capture "$KAV_TS" "$KAV_SIG_SWAPPED" "$KAV_BODY")"
is "$(cause)" body-before-timestamp "body and timestamp in the wrong order"

later=$((KAV_TS + 97))
explain_of "$(capture "$KAV_TS" "$(sign "$KAV_KEY" "$later" "$KAV_BODY")" \
    "$KAV_BODY")"
is "$(cause):$(jq -r .explain.matching_timestamp rej)" \
    "timestamp-changed:$later" "headers from another delivery: the timestamp that matches"
like "$err" "*with timestamp $later (+97 s)*" "and how far off it is"

explain_of "$(capture "$KAV_TS" "$(sign "$other" "$KAV_TS" "$KAV_BODY")" \
    "$KAV_BODY")"
is "$(cause):$(jq -r .explain.signature_valid rej)" "wrong-key:false" \
    "signed with another key"
is "$(jq -r '.explain.matching_key' rej)" null "which matches none of ours"
like "$err" "*signed with another key*or the body was changed past what can be undone*" \
    "said with the other way it can happen"

# A body that is not JSON: cut short, or a byte-order mark put in front.
explain_of "$(capture "$KAV_TS" "$KAV_SIG" "${KAV_BODY:0:150}")"
is "$(cause):$(jq -c .explain.body_error rej)" \
    'body-damaged:{"offset":150,"message":"unterminated string"}' \
    "a body cut short: damaged, not another key"
like "$err" "*not a JSON object (unterminated string at byte 150)*likely cause: body-damaged: the body ends in the middle of a JSON value: it was cut short*" \
    "said in words"
is "$(jq -r .explain.matching_key rej)" null "with no key named"
explain_of "$(capture "$KAV_TS" "$KAV_SIG" "$(printf '\xef\xbb\xbf')$KAV_BODY")"
is "$(cause):$(jq -r .explain.matching_key rej)" "bom-added:$fp_kav" \
    "a byte-order mark in front of the body"
explain_of "$(capture "$KAV_TS" "$KAV_SIG" "x${KAV_BODY:1}")"
like "$(cause):$err" "body-damaged:*the body is not JSON from byte 0 on*" \
    "a body changed into something else"
# The key bound to the body's subscription is tried even when the body
# cannot say which subscription it is for.
printf 'whsub_mBTylJxRXaBOXcuQmgUdmL %s\n' "$KAV_KEY" >bound
chmod 600 bound
capture "$KAV_TS" "$KAV_SIG" "$(printf '\xef\xbb\xbf')$KAV_BODY" >b.in
run closehook-verify --explain --no-summary --now "$KAV_TS" \
    --secret-file bound --rejects rejb b.in
is "$(jq -r '"\(.explain.keys_tried | length) \(.explain.likely_cause)"' rejb)" \
    "1 bom-added" "a body that is not JSON: every key is tried"

# Several of an editor's changes at once: a byte-order mark, CRLF line
# ends and a final newline (Notepad saving a pasted body).
explain_of "$(capture "$KAV_TS" "$pretty_sig" \
    "$(printf '\xef\xbb\xbf')$crlf$(printf '\r\n_')")"
is "$(cause)" body-damaged "(a body with something after it is not such a copy)"
saved=$(printf '\xef\xbb\xbf%s\r\n' "$crlf")
capture "$KAV_TS" "$pretty_sig" "$saved" >ed.in
rm -f rej
run closehook-verify --explain --no-summary --now "$KAV_TS" \
    --secret-file keys --rejects rej ed.in
is "$(cause)" saved-by-an-editor "a byte-order mark, CRLF and a final newline at once"
like "$err" "*likely cause: saved-by-an-editor: the body gained what an editor adds*matches key $fp_kav*" \
    "said in words"

# The body still escaped as a JSON string, copied from a log: with its
# quotes, and without them.
quoted_body=$(jq -Rs . <<<"$KAV_BODY" | sed 's/\\n"$/"/')
explain_of "$(capture "$KAV_TS" "$KAV_SIG" "$quoted_body")" \
    "$(capture "$KAV_TS" "$KAV_SIG" "${quoted_body:1:${#quoted_body}-2}")"
is "$(cause | tr '\n' ' ')" "json-escaped-body json-escaped-body " \
    "a body still escaped as a JSON string, with or without its quotes"
like "$err" "*decoded (jq -r .) the signature matches key $fp_kav*" "said how to undo it"

# The header in milliseconds, the signature made over seconds.
explain_of "$(capture "${KAV_TS}000" "$KAV_SIG" "$KAV_BODY")"
is "$(cause):$(jq -r .explain.matching_timestamp rej)" \
    "timestamp-in-milliseconds:$KAV_TS" "a timestamp rewritten in milliseconds"
like "$err" "*the timestamp looks like milliseconds: Close sends seconds*with it in seconds ($KAV_TS)*" \
    "said in words"

# The key file binds the key to another subscription than the body's.
printf 'whsub_other %s\n%s\n' "$KAV_KEY" "$other" >wrongsub
chmod 600 wrongsub
capture "$KAV_TS" "$KAV_SIG" "$KAV_BODY" >ws.in
rm -f rej
run closehook-verify --explain --no-summary --now "$KAV_TS" \
    --secret-file wrongsub --rejects rej ws.in
is "$(cause):$(jq -r .explain.matching_key rej)" \
    "key-of-another-subscription:$fp_kav" "a key bound to another subscription"
like "$err" "*matches key $fp_kav, which the key file binds to whsub_other, while the body names whsub_mBTylJxRXaBOXcuQmgUdmL*" \
    "naming both subscriptions"

# A gzip body, and a signature header a proxy renamed.
printf '%s' "$KAV_BODY" | gzip -c | base64 -w0 >gz.b64
jq -cn --arg b "$(cat gz.b64)" --arg ts "$KAV_TS" --arg sig "$KAV_SIG" \
    '{received_at: "2026-11-26T16:54:45Z", method: "POST", path: "/close",
      headers: {"close-sig-hash": $sig, "close-sig-timestamp": $ts},
      body_base64: $b}' >gz.in
run closehook-verify --explain --no-summary --now "$KAV_TS" \
    --secret-file keys --rejects rej gz.in
like "$err" "*the body is gzip data (it starts with 1f 8b)*verify what gunzip gives*" \
    "a gzip body is named as such"
capture "$KAV_TS" "$KAV_SIG" "$KAV_BODY" |
    jq -c '.headers |= with_entries(if .key == "close-sig-hash"
        then .key = "x-close-sig-hash" else . end)' >rn.in
run closehook-verify --explain --no-summary --now "$KAV_TS" \
    --secret-file keys --rejects rej rn.in
like "$err" "*rejected: missing-signature*has no close-sig-hash header, but has x-close-sig-hash: *renamed it*" \
    "a signature header under another name"

# Close escapes DEL (U+007F) as \u007f; a copy written out raw is rebuilt.
del='{"event": {"id": "ev_1", "note": "a\u007fb"}, "subscription_id": "whsub_1"}'
explain_of "$(capture "$KAV_TS" "$(sign "$KAV_KEY" "$KAV_TS" "$del")" \
    "$(jq -c . <<<"$del")")"
is "$(cause)" reserialized-body "DEL serialised as Close does"

# Stale: genuine or forged, the window no longer hides which.
stale=$((KAV_TS - 1000))
explain_of "$(capture "$stale" "$(sign "$KAV_KEY" "$stale" "$KAV_BODY")" \
    "$KAV_BODY")" \
    "$(capture "$stale" "$(sign "$other" "$stale" "$KAV_BODY")" "$KAV_BODY")"
is "$(jq -r '"\(.reason) \(.explain.signature_valid) \(.explain.age_seconds)"' rej | tr '\n' ';')" \
    "stale-timestamp true 1000;stale-timestamp false 1000;" \
    "stale but genuine and stale and forged differ, with the age"
like "$err" "*the signature is genuine*" "said in words"
is "$(jq -r .explain.reference rej | sort -u)" "--now" "the reference is named"

# Without --now, the capture's received_at is the reference.
capture "$KAV_TS" "$(sign "$other" "$KAV_TS" "$KAV_BODY")" "$KAV_BODY" >ra
run closehook-verify --explain --no-summary --secret-file keys \
    --rejects rej2 ra
is "$(jq -r '"\(.explain.reference) \(.explain.age_seconds)"' rej2)" \
    "received_at $(($(date -u -d 2026-11-26T16:54:45Z +%s) - KAV_TS))" \
    "the age is measured from received_at"

# The facts: body size and hash, keys tried with their subscriptions.
printf 'whsub_mBTylJxRXaBOXcuQmgUdmL %s\n%s\n' "$other" "$KAV_KEY" >keys2
chmod 600 keys2
capture "$KAV_TS" "$(sign "$other" "$KAV_TS" "$KAV_BODY")x" "$KAV_BODY" >f.in
capture "$KAV_TS" 0000000000000000000000000000000000000000000000000000000000000000 \
    "$KAV_BODY" >>f.in
run closehook-verify --explain --no-summary --now "$KAV_TS" \
    --secret-file keys2 --rejects rej3 f.in
is "$(sed -n 2p rej3 | jq -c '.explain.keys_tried')" \
    "[{\"fingerprint\":\"$(key_fp "$other")\",\"subscription\":\"whsub_mBTylJxRXaBOXcuQmgUdmL\"},{\"fingerprint\":\"$fp_kav\",\"subscription\":null}]" \
    "keys tried: fingerprints and the subscription each is bound to"
is "$(sed -n 2p rej3 | jq -r '"\(.explain.subscription_id) \(.explain.body_bytes) \(.explain.body_sha256)"')" \
    "whsub_mBTylJxRXaBOXcuQmgUdmL ${#KAV_BODY} $(printf '%s' "$KAV_BODY" | sha256sum | cut -d' ' -f1)" \
    "the body's subscription, size and SHA-256"
is "$(sed -n 1p rej3 | jq -r '"\(.reason) \(.detail)"')" \
    'bad-signature "'"$(sign "$other" "$KAV_TS" "$KAV_BODY" | cut -c1-40)"'"...: "x" after the 64 hex digits' \
    "a bad signature names the value, cut short, and what is wrong with it"
# Invisible characters are named.
for v in "$KAV_SIG$(printf '\r')" "$KAV_SIG$(printf '\xc2\xa0')" \
    "${KAV_SIG:0:10}z${KAV_SIG:11}" "${KAV_SIG:0:63}"; do
	capture "$KAV_TS" "$v" "$KAV_BODY"
done >inv.in
run closehook-verify --no-summary --now "$KAV_TS" --secret-file keys inv.in
like "$err" '*inv.in:1: rejected: bad-signature (*: a carriage return (\\r) after the 64 hex digits)*inv.in:2: rejected: bad-signature (*: U+00A0 after the 64 hex digits)*inv.in:3: rejected: bad-signature (*: "z" at character 11 is not a hex digit)*inv.in:4: rejected: bad-signature (*: 63 hex digits, not 64)*' \
    "a CR, a no-break space, a stray letter, a digit short: each named"
printf '%s\n' "$err" >err3
ok "no key bytes anywhere" \
    bash -c "! grep -q -e $KAV_KEY -e $other rej rej2 rej3 err3"

# A missing header is named.
capture "$KAV_TS" "$KAV_SIG" "$KAV_BODY" | sed 's/"close-sig-hash"/"x-sig"/' >m.in
run closehook-verify --explain --no-summary --secret-file keys --rejects rej4 m.in
is "$(jq -r '.explain.missing_header' rej4)" close-sig-hash "a missing header is named"

# Header values as HTTP has them: spaces around them dropped, a timestamp
# written as a number, a sha256= prefix named for what it is.
capture " $KAV_TS " " $KAV_SIG	" "$KAV_BODY" >h.in
capture "$KAV_TS" "$KAV_SIG" "$KAV_BODY" |
    sed "s/\"close-sig-timestamp\": *\"$KAV_TS\"/\"close-sig-timestamp\":$KAV_TS/" >>h.in
capture "$KAV_TS" "sha256=$KAV_SIG" "$KAV_BODY" >>h.in
run closehook-verify --no-summary --now "$KAV_TS" --secret-file keys h.in
is "$rc:$(wc -l <<<"$out")" "1:2" "trimmed values and a numeric timestamp verify"
like "$err" "*rejected: bad-signature (\"sha256=e6cf*\"...: a sha256= prefix; Close sends the bare hex digest)*" \
    "a sha256= prefix is named as such"

# --summary, and its default on a terminal.
run closehook-verify --summary --now "$KAV_TS" --secret-file keys h.in
like "$err" "*closehook-verify: 3 read, 2 verified, 1 rejected (bad-signature 1)" \
    "--summary counts reads, verifies and rejects by reason"
# unlike GOT GLOB: GOT does not match the pattern.
# shellcheck disable=SC2053 # the right-hand side is a glob on purpose
unlike() { ! [[ $1 == $2 ]]; }
run closehook-verify --now "$KAV_TS" --secret-file keys h.in
ok "no summary by default when stderr is not a terminal" \
    unlike "$err" "*read,*verified*"
if command -v script >/dev/null 2>&1; then
	script -qec "closehook-verify -q --now $KAV_TS --secret-file keys h.in >/dev/null" \
	    /dev/null >tty.out 2>&1
	like "$(tr -d '\r' <tty.out)" "*3 read, 2 verified, 1 rejected (bad-signature 1)*" \
	    "on a terminal the summary is on by default"
else
	skip "on a terminal the summary is on by default" "no script(1)"
fi
run closehook-verify --no-summary --now "$KAV_TS" --secret-file keys h.in
ok "--no-summary turns it off" unlike "$err" "*read,*verified*"

# --max-age takes durations; a bare number is still seconds.
old=$((KAV_TS - 200))
capture "$old" "$(sign "$KAV_KEY" "$old" "$KAV_BODY")" "$KAV_BODY" >a.in
run closehook-verify -q --no-summary --max-age 3m --now "$KAV_TS" --secret-file keys a.in
is "$rc" 1 "--max-age 3m: 200 s is too old"
run closehook-verify -q --no-summary --max-age 5m --now "$KAV_TS" --secret-file keys a.in
is "$rc" 0 "--max-age 5m: 200 s is within"
run closehook-verify -q --no-summary --max-age 199 --now "$KAV_TS" --secret-file keys a.in
is "$rc" 1 "--max-age 199: seconds"

# Raw mode explains too: the body file a user saved with a newline.
printf '%s\n' "$KAV_BODY" >body.txt
run closehook-verify --explain --now "$KAV_TS" --secret-file keys \
    --timestamp "$KAV_TS" --signature "$KAV_SIG" body.txt
like "$err" "*body.txt: rejected: signature-mismatch*likely cause: trailing-newline-added*" \
    "raw mode: the likely cause of a body file that fails"

done_testing
