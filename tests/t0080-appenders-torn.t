#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154 # lib.sh: sourced; run sets rc, out, err
# Every append file ends torn after a crash mid-write: a last line without
# its newline, a record nobody counted as done.  Each appender cuts it off
# before it appends, so the file stays NDJSON, line by line: verify's,
# dedupe's and flatten's --rejects, post's --dead-letter and --report,
# receive's --keep-rejects (its spool: t0820).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"

# torn FILE: one whole line, then one cut short, as a crash leaves them.
torn() {
	printf '%s\n' '{"kept":1}' >"$1"
	printf '%s' '{"torn":"TORN-BYTES' >>"$1"
	chmod 600 "$1"
}

# whole NAME FILE N: FILE holds N lines of JSON, the first one the kept
# line, and nothing of the torn one.
whole() {
	ok "$1: every line is JSON" jq -c . "$2"
	is "$(wc -l <"$2")" "$3" "$1: $3 lines, each ended by a newline"
	is "$(head -n 1 "$2")" '{"kept":1}' "$1: the whole line before is kept"
	is "$(grep -c TORN-BYTES "$2")" 0 "$1: the torn bytes are gone"
}

# closehook-verify --rejects.
echo "$KAV_KEY" >"$TMP/keys"
chmod 600 "$TMP/keys"
capture "$KAV_TS" "$KAV_SIG_SWAPPED" "$KAV_BODY" >"$TMP/bad-capture"
torn "$TMP/vrej"
run closehook-verify --secret-file "$TMP/keys" --max-age 0 \
    --rejects "$TMP/vrej" "$TMP/bad-capture"
is "$rc" 1 "verify: exit 1 (a reject)"
like "$err" "*$TMP/vrej: ends in a partial line; removed its 19 bytes*" \
    "verify: says it cut the torn line"
whole verify "$TMP/vrej" 2
is "$(sed -n 2p "$TMP/vrej" | jq -r .reason)" signature-mismatch \
    "verify: the new reject follows"

# closehook-dedupe --rejects.
torn "$TMP/drej"
echo 'not json' >"$TMP/notjson"
run closehook-dedupe --store "$TMP/seen.sqlite" --rejects "$TMP/drej" \
    "$TMP/notjson"
is "$rc" 1 "dedupe: exit 1 (a reject)"
whole dedupe "$TMP/drej" 2
is "$(sed -n 2p "$TMP/drej" | jq -r .text)" 'not json' \
    "dedupe: the new reject follows"

# closehook-flatten --rejects.
torn "$TMP/frej"
echo '[1,2]' >"$TMP/array"
run closehook-flatten --rejects "$TMP/frej" "$TMP/array"
is "$rc" 1 "flatten: exit 1 (a reject)"
whole flatten "$TMP/frej" 2
is "$(sed -n 2p "$TMP/frej" | jq -c .record)" '[1,2]' \
    "flatten: the new reject follows"

# closehook-post --dead-letter and --report: nothing listens on port 1.
torn "$TMP/dl"
torn "$TMP/rep"
rec='{"event":{"id":"ev_dead"}}'
run closehook-post -q --retries 0 --dead-letter "$TMP/dl" \
    --report "$TMP/rep" http://127.0.0.1:1/ <<<"$rec"
is "$rc" 1 "post: exit 1 (a dead letter)"
whole "post --dead-letter" "$TMP/dl" 2
is "$(sed -n 2p "$TMP/dl")" "$rec" "post: the dead letter follows, byte for byte"
whole "post --report" "$TMP/rep" 2
is "$(sed -n 2p "$TMP/rep" | jq -r .status)" dead-letter \
    "post: the report line follows"

# closehook-receive --keep-rejects: a bad signature is answered 401.
torn "$TMP/rrej"
ok "receive: it starts" start_receive r --secret-file "$TMP/keys" \
    --keep-rejects "$TMP/rrej"
is "$(post -H "close-sig-timestamp: $(date +%s)" -H "close-sig-hash: $KAV_SIG" \
    --data-binary "$KAV_BODY" "$RURL/")" 401 "receive: a bad signature: 401"
stop_receive
whole "receive --keep-rejects" "$TMP/rrej" 2
is "$(sed -n 2p "$TMP/rrej" | jq -r .capture.body)" "$KAV_BODY" \
    "receive: the new reject follows"

done_testing
