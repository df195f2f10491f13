#!/bin/bash
# closehook-verify: every reject reason, the --rejects file, -q,
# --fail-fast, and that the stream always continues.
. "$(dirname "$0")/lib.sh"
set -e

echo "whsub_mBTylJxRXaBOXcuQmgUdmL $KAV_KEY" >"$TMP/keys"
chmod 600 "$TMP/keys"
other=whsub_other
ts=$KAV_TS
good=$(capture "$ts" "$KAV_SIG" "$KAV_BODY")
sig_other=$(sign "$KAV_KEY" "$ts" '{"subscription_id": "whsub_other"}')

# One line per reason, each followed by a good capture, so the output
# proves the stream went on after every reject.
{
	echo '{"headers": {"close-sig-hash": "x"'                    # 1 malformed
	echo "$good"                                                  # 2
	echo '[1, 2]'                                                 # 3 malformed
	echo '{"headers": {}, "body": 5}'                             # 4 malformed
	echo '{"body": "{}"}'                                         # 5 malformed
	capture "$ts" "$KAV_SIG" "$KAV_BODY" |
	    sed 's/"close-sig-hash"/"x-other"/'                       # 6 missing-signature
	capture "$ts" "$KAV_SIG" "$KAV_BODY" |
	    sed 's/"close-sig-timestamp"/"x-other"/'                  # 7 missing-timestamp
	capture "12ab" "$KAV_SIG" "$KAV_BODY"                         # 8 bad-timestamp
	capture "$((ts - 1000))" "$KAV_SIG" "$KAV_BODY"               # 9 stale
	capture "$((ts + 1000))" "$KAV_SIG" "$KAV_BODY"               # 10 future
	capture "$ts" "abc" "$KAV_BODY"                               # 11 bad-signature
	capture "$ts" "$sig_other" '{"subscription_id": "whsub_other"}' # 12 no-key
	capture "$ts" "$KAV_SIG" "${KAV_BODY/test content/tampered}"  # 13 mismatch
	capture "$ts" "$KAV_SIG" 'not json'                           # 14 body-not-json
	capture "$ts" "$KAV_SIG" '[1,2,3]'                            # 15 body-not-json
	echo "$good"                                                  # 16
} >"$TMP/in"
run closehook-verify --secret-file "$TMP/keys" --now "$ts" \
    --rejects "$TMP/rej" "$TMP/in"
is "$rc" 1 "exit 1 when anything was rejected"
is "$(wc -l <"$TMP/out")" 2 "both good captures came out"
is "$(sort -u "$TMP/out")" "$KAV_BODY" "and only they"
reasons=$(sed "s|^closehook-verify: $TMP/in:||" "$TMP/err" | tr '\n' ' ')
is "$reasons" "1: rejected: malformed-capture (not valid JSON) 3: rejected: malformed-capture (not a JSON object) 4: rejected: malformed-capture (body is not a string) 5: rejected: malformed-capture (missing headers) 6: rejected: missing-signature 7: rejected: missing-timestamp 8: rejected: bad-timestamp (\"12ab\": not decimal seconds) 9: rejected: stale-timestamp 10: rejected: future-timestamp 11: rejected: bad-signature (\"abc\": 3 hex digits, not 64) 12: rejected: no-key 13: rejected: signature-mismatch 14: rejected: body-not-json 15: rejected: body-not-json " \
    "one stderr line per reject, with its line number, reason and the value at fault"
is "$(jq -r '"\(.line) \(.reason)"' "$TMP/rej" | tr '\n' ' ')" \
    "1 malformed-capture 3 malformed-capture 4 malformed-capture 5 malformed-capture 6 missing-signature 7 missing-timestamp 8 bad-timestamp 9 stale-timestamp 10 future-timestamp 11 bad-signature 12 no-key 13 signature-mismatch 14 body-not-json 15 body-not-json " \
    "the rejects file has one NDJSON line per reject"
is "$(jq -c '.capture' "$TMP/rej" | head -1)" null \
    "a capture that is not JSON is recorded as null"
is "$(sed -n 6p "$TMP/rej" | jq -c .capture)" \
    "$(sed -n 7p "$TMP/in" | jq -c .)" "a parsed capture is recorded as read"
is "$(jq -r .file "$TMP/rej" | sort -u)" "$TMP/in" "with the file name"
is "$(stat -c %a "$TMP/rej")" 600 "the rejects file is private (0600)"
like "$(grep -c "$KAV_KEY" "$TMP/rej" "$TMP/err" || true)" "*0*0*" \
    "no key bytes in the rejects file or on stderr"

# The body string is validated while it is decoded (the fast path leaves
# it out of the first parse): an invalid one is still an invalid capture,
# reported as such before any other reason, and the stream goes on.
{
	capture "$ts" "$KAV_SIG" "$KAV_BODY" | sed 's/test content/bad \\q escape/'
	capture "$ts" "$KAV_SIG" "$KAV_BODY" | sed 's/test content/raw\ttab/'
	capture "$ts" "$KAV_SIG" "$KAV_BODY" | sed 's/test content/bad \xc3 utf-8/'
	capture "$ts" "$KAV_SIG" "$KAV_BODY" |
	    sed 's/"close-sig-hash"/"x-other"/; s/test content/\\x/'
	echo '{"headers": 1, "body": "\q"}'
	echo '{"headers": {}, "body": "\q", "body": "{}"}'
	echo "$good"
} >"$TMP/badbody"
run closehook-verify --secret-file "$TMP/keys" --now "$ts" \
    --rejects "$TMP/rej3" "$TMP/badbody"
is "$(sed "s|^closehook-verify: $TMP/badbody:||" "$TMP/err" | tr '\n' ' ')" \
    "1: rejected: malformed-capture (not valid JSON) 2: rejected: malformed-capture (not valid JSON) 3: rejected: malformed-capture (not valid JSON) 4: rejected: malformed-capture (not valid JSON) 5: rejected: malformed-capture (not valid JSON) 6: rejected: malformed-capture (not valid JSON) " \
    "a bad escape, control byte or UTF-8 in the body string is not JSON"
is "$out" "$KAV_BODY" "the good capture after them verifies"
is "$(jq -c .capture "$TMP/rej3" | sort -u)" null \
    "and they are recorded with a null capture"

# Appending: a second run adds to the rejects file.
run closehook-verify --secret-file "$TMP/keys" --now "$ts" -q \
    --rejects "$TMP/rej" "$TMP/in"
is "$(wc -l <"$TMP/rej")" 28 "--rejects appends across runs"
is "$err" "" "-q silences the per-record lines"

run closehook-verify --secret-file "$TMP/keys" --now "$ts" --fail-fast \
    "$TMP/in"
is "$rc" 1 "--fail-fast exits 1"
is "$(wc -l <"$TMP/err")" 1 "--fail-fast stops at the first reject"

# line-too-long: over --max-line, the next line still verifies.
{
	capture "$ts" "$KAV_SIG" "$KAV_BODY" | sed 's/test content/&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&/'
	echo "$good"
} >"$TMP/long"
run closehook-verify --secret-file "$TMP/keys" --now "$ts" --max-line 700 \
    --rejects "$TMP/rej2" "$TMP/long"
is "$err" "closehook-verify: $TMP/long:1: rejected: line-too-long" \
    "a line over --max-line is line-too-long"
is "$out" "$KAV_BODY" "and the next line verifies"
is "$(jq -c '[.line, .reason, .capture]' "$TMP/rej2")" \
    '[1,"line-too-long",null]' "recorded with a null capture"

# Fatal set-up errors exit 2 before reading anything.
run closehook-verify --now "$ts" <"$TMP/in"
is "$rc" 2 "no keys at all is exit 2"
like "$err" "*no keys*" "with a message"
run closehook-verify --secret-file "$TMP/nonexistent" <"$TMP/in"
is "$rc" 2 "an unreadable key file is exit 2"
is "$out" "" "nothing read, nothing written"
run closehook-verify --secret-file "$TMP/keys" --max-age soon <"$TMP/in"
is "$rc" 2 "a bad number is exit 2"
like "$err" "*invalid value 'soon' for --max-age*" "naming the option"
run closehook-verify --bogus
is "$rc" 2 "an unknown option is exit 2"
like "$err" "*usage: closehook-verify*" "with the usage on stderr"
run closehook-verify --timestamp 1
is "$rc" 2 "--timestamp without --signature is a usage error"
run closehook-verify --secret-file "$TMP/keys" --now "$ts" "$TMP/in" \
    "$TMP/missing"
is "$rc" 2 "an unreadable input file is exit 2"
is "$(wc -l <"$TMP/out")" 2 "after the readable files were verified"

# A full disk is an error, not silence.
if [ -w /dev/full ]; then
	set +e
	closehook-verify --secret-file "$TMP/keys" --max-age 0 "$TMP/in" \
	    >/dev/full 2>"$TMP/err"
	rc=$?
	set -e
	is "$rc" 2 "a write error on stdout is exit 2"
	like "$(cat "$TMP/err")" "*stdout*No space left*" "and is reported"
fi
done_testing
