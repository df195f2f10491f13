#!/bin/bash
# closehook-verify against the known-answer vector of CLOSE.md and its
# documented wrong answers; stream mode and raw mode.
. "$(dirname "$0")/lib.sh"
set -e

echo "$KAV_KEY" >"$TMP/keys"
chmod 600 "$TMP/keys"

capture "$KAV_TS" "$KAV_SIG" "$KAV_BODY" >"$TMP/good"
run closehook-verify --secret-file "$TMP/keys" --max-age 0 "$TMP/good"
is "$rc" 0 "the known-answer vector verifies"
is "$out" "$KAV_BODY" "the body comes out byte for byte"
is "$err" "" "nothing on stderr"

capture "$KAV_TS" "$KAV_SIG_ASCII_KEY" "$KAV_BODY" >"$TMP/ascii"
run closehook-verify --secret-file "$TMP/keys" --max-age 0 "$TMP/ascii"
is "$rc" 1 "a signature made with the key as ASCII text is rejected"
is "$err" "closehook-verify: $TMP/ascii:1: rejected: signature-mismatch" \
    "as signature-mismatch, with file and line"
is "$out" "" "and nothing is written"

capture "$KAV_TS" "$KAV_SIG_SWAPPED" "$KAV_BODY" >"$TMP/swapped"
run closehook-verify --secret-file "$TMP/keys" --max-age 0 <"$TMP/swapped"
is "$rc" 1 "body||timestamp order is rejected"
is "$err" "closehook-verify: stdin:1: rejected: signature-mismatch" \
    "reported for stdin"

# Upper-case hex in the header is the same signature.
upper=$(echo "$KAV_SIG" | tr a-f A-F)
capture "$KAV_TS" "$upper" "$KAV_BODY" >"$TMP/upper"
run closehook-verify --secret-file "$TMP/keys" --max-age 0 "$TMP/upper"
is "$rc" 0 "upper-case hex signature verifies"

# The key from the environment.
run env CLOSEHOOK_SECRET="$KAV_KEY" closehook-verify --max-age 0 "$TMP/good"
is "$rc" 0 "\$CLOSEHOOK_SECRET supplies the key"
run env CLOSEHOOK_SECRET_FILE="$TMP/keys" closehook-verify --max-age 0 \
    "$TMP/good"
is "$rc" 0 "\$CLOSEHOOK_SECRET_FILE supplies the key file"

# Raw mode: the body as raw bytes.
printf '%s' "$KAV_BODY" >"$TMP/body"
run closehook-verify --timestamp "$KAV_TS" --signature "$KAV_SIG" \
    --secret-file "$TMP/keys" --max-age 0 "$TMP/body"
is "$rc" 0 "raw mode verifies the vector"
is "$out" "$KAV_BODY" "raw mode prints the body"
run closehook-verify --timestamp "$KAV_TS" --signature "$KAV_SIG" \
    --secret-file "$TMP/keys" --max-age 0 <"$TMP/body"
is "$rc" 0 "raw mode reads stdin"
run closehook-verify --timestamp "$KAV_TS" --signature "$KAV_SIG_SWAPPED" \
    --secret-file "$TMP/keys" --max-age 0 "$TMP/body"
is "$rc" 1 "raw mode rejects a wrong signature with exit 1"
is "$out" "" "and prints no body"
is "$err" "closehook-verify: $TMP/body: rejected: signature-mismatch" \
    "and says why"
run closehook-verify --timestamp "$KAV_TS" --signature "$KAV_SIG" \
    --secret-file "$TMP/keys" --now $((KAV_TS + 301)) "$TMP/body"
is "$rc" 1 "raw mode applies the replay window"
like "$err" "*stale-timestamp" "as stale-timestamp"
printf '%s\n' "$KAV_BODY" >"$TMP/body-nl"
run closehook-verify --timestamp "$KAV_TS" --signature "$KAV_SIG" \
    --secret-file "$TMP/keys" --max-age 0 "$TMP/body-nl"
is "$rc" 1 "raw mode signs every byte: an added newline breaks it"

# Window edges: exactly max-age old or ahead passes, one more second fails.
run closehook-verify --secret-file "$TMP/keys" --now $((KAV_TS + 300)) \
    "$TMP/good"
is "$rc" 0 "a timestamp exactly 300 s old passes"
run closehook-verify --secret-file "$TMP/keys" --now $((KAV_TS + 301)) \
    "$TMP/good"
is "$rc" 1 "301 s old is stale"
like "$err" "*rejected: stale-timestamp" "reported as stale-timestamp"
run closehook-verify --secret-file "$TMP/keys" \
    --now "$(date -u -d @$((KAV_TS + 300)) +%Y-%m-%dT%H:%M:%SZ)" "$TMP/good"
is "$rc" 0 "--now takes an ISO 8601 date-time too: 300 s old passes"
run closehook-verify --secret-file "$TMP/keys" \
    --now "$(date -u -d @$((KAV_TS + 301)) +%Y-%m-%dT%H:%M:%SZ)" "$TMP/good"
is "$rc" 1 "and 301 s old is stale"
exit_is 2 "--now yesterday is a usage error" closehook-verify \
    --secret-file "$TMP/keys" --now yesterday "$TMP/good"
run closehook-verify --secret-file "$TMP/keys" --now $((KAV_TS - 301)) \
    "$TMP/good"
like "$err" "*rejected: future-timestamp" "301 s ahead is future-timestamp"
run closehook-verify --secret-file "$TMP/keys" --max-age 10 \
    --now $((KAV_TS + 11)) "$TMP/good"
like "$err" "*rejected: stale-timestamp" "--max-age sets the window"
run closehook-verify --secret-file "$TMP/keys" --max-age 500ms \
    --now $((KAV_TS + 1)) "$TMP/good"
is "$rc" 0 "--max-age 500ms is a window of 1 s: 1 s old passes"
run closehook-verify --secret-file "$TMP/keys" --max-age 500ms \
    --now $((KAV_TS + 2)) "$TMP/good"
like "$err" "*rejected: stale-timestamp" "and 2 s old is stale, not unchecked"

# Without --now, the window is measured from each capture's received_at: a
# spool read long after the fact still verifies, a replayed old request
# received now does not.
capture "$KAV_TS" "$KAV_SIG" "$KAV_BODY" |
    sed 's/"received_at": "[^"]*"/"received_at": "2019-05-13T12:49:00.5Z"/' \
    >"$TMP/old-received"
run closehook-verify --secret-file "$TMP/keys" "$TMP/old-received"
is "$rc" 0 "a capture received within the window verifies years later"
capture "$KAV_TS" "$KAV_SIG" "$KAV_BODY" |
    sed 's/"received_at": "[^"]*"/"received_at": "2019-05-13T13:00:00Z"/' \
    >"$TMP/late-received"
run closehook-verify --secret-file "$TMP/keys" "$TMP/late-received"
like "$err" "*rejected: stale-timestamp" \
    "a capture received 10 minutes after signing is stale"
run closehook-verify --secret-file "$TMP/keys" --now "$KAV_TS" \
    "$TMP/late-received"
is "$rc" 0 "--now overrides received_at"
capture "$KAV_TS" "$KAV_SIG" "$KAV_BODY" |
    sed 's/"received_at": "[^"]*"/"received_at": "yesterday"/' \
    >"$TMP/bad-received"
run closehook-verify --secret-file "$TMP/keys" "$TMP/bad-received"
like "$err" "*rejected: stale-timestamp" \
    "an unreadable received_at falls back to the clock"
done_testing
