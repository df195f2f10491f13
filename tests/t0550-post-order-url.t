#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-post --parallel 1 keeps input order through retries (the next
# record waits for the one before it), and --url-file takes the URL from a
# file, so that a secret URL stays out of the process list.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/post-helpers.sh"

# --parallel 1: the first three requests fail with 500; records 2-5 must
# not overtake record 1 while it waits for its retries.
records 5 7 >"$TMP/in"
start_sink o1 --fault-first 3 --faults 500 --max-time 60
run closehook-post --parallel 1 --retry-base 20ms --retry-max-wait 50ms \
    --dead-letter "$TMP/dl" "$SINK_URL/" <"$TMP/in"
is "$rc" 0 "every record is delivered"
same_file "$TMP/out" "$TMP/in" "stdout is in input order despite the retries"
jq -c '.body | fromjson | .event.seq' "$TMP/o1.log" | tr '\n' ' ' >"$TMP/seq"
is "$(cat "$TMP/seq")" "1 2 3 4 5 " "the sink accepted them in input order"
like "$err" "*retried 3*" "after three retries of the first"
# (Before this was fixed the same run wrote 1 3 4 5 2: the records behind a
# retried one overtook it.)

# --url-file.
start_sink u1 --max-time 60
printf '%s/secret/T000/B000/XXXX\n' "$SINK_URL" >"$TMP/url"
chmod 600 "$TMP/url"
run closehook-post -q --url-file "$TMP/url" --dead-letter "$TMP/dl" "$TMP/in"
is "$rc:$err" "0:" "--url-file: delivered, nothing on stderr"
same_lines "$TMP/out" "$TMP/in" "the operand is an input FILE"
is "$(jq -r .path "$TMP/u1.log" | sort -u)" /secret/T000/B000/XXXX \
    "to the URL in the file"
chmod 644 "$TMP/url"
run closehook-post -q --url-file "$TMP/url" --dead-letter "$TMP/dl" "$TMP/in"
like "$err" "*readable or writable by group or others (chmod 600)*" \
    "a URL file others can read gets a warning"
printf 'http://a/\nhttp://b/\n' >"$TMP/url2"
chmod 600 "$TMP/url2"
must_fail "a URL file of two lines fails" \
    closehook-post --url-file "$TMP/url2" "$TMP/in"
is "$rc" 2 "with exit 2"
like "$err" "*expected one line*" "saying why"
must_fail "a missing URL file fails" \
    closehook-post --url-file "$TMP/nope" "$TMP/in"
is "$rc" 2 "with exit 2"
like "$err" "*nope*" "naming the file"
done_testing
