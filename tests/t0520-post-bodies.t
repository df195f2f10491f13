#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# What closehook-post sends: batch bodies byte for byte (array, ndjson,
# --batch-bytes, --batch-wait), --body (a string as is, other values as
# compact JSON, no result: skipped), --url-expr, --idempotency-key, -X,
# -H, --header-file, --bearer-file, --basic-file and --content-type; the
# report's mode.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/post-helpers.sh"

start_sink b --max-time 60
records 7 11 >"$TMP/in"
bodies() { jq -r .body "$TMP/b.log"; }

# --batch 3, array: [l1,l2,l3] [l4,l5,l6] [l7], each line's bytes as is.
: >"$TMP/b.log"
run closehook-post --parallel 1 --batch 3 "$SINK_URL" <"$TMP/in"
is "$rc" 0 "array batches: delivered"
is "$(sort "$TMP/out")" "$(sort "$TMP/in")" \
    "array batches: stdout = input (in completion order)"
python3 - "$TMP/in" >"$TMP/want" <<'PY'
import sys
l = open(sys.argv[1], encoding="utf-8").read().splitlines()
for i in range(0, len(l), 3):
    print("[" + ",".join(l[i:i + 3]) + "]")
PY
bodies >"$TMP/got"
same_file "$TMP/got" "$TMP/want" "array batches, byte for byte"
is "$(jq -r '.headers["content-type"]' "$TMP/b.log" | sort -u)" \
    application/json "array batches: application/json"

# ndjson batches.
: >"$TMP/b.log"
run closehook-post --parallel 1 --batch 4 --batch-format ndjson "$SINK_URL" \
    <"$TMP/in"
python3 - "$TMP/in" >"$TMP/want" <<'PY'
import sys
l = open(sys.argv[1], encoding="utf-8").read().splitlines()
for i in range(0, len(l), 4):
    sys.stdout.write("".join(x + "\n" for x in l[i:i + 4]) + "|")
PY
jq -j '.body + "|"' "$TMP/b.log" >"$TMP/got"
same_file "$TMP/got" "$TMP/want" "ndjson batches, byte for byte"
is "$(jq -r '.headers["content-type"]' "$TMP/b.log" | sort -u)" \
    application/x-ndjson "ndjson batches: application/x-ndjson"

# --batch-bytes closes a batch before it would grow past the limit.
: >"$TMP/b.log"
size=$(head -n 2 "$TMP/in" | wc -c)
run closehook-post --parallel 1 --batch 100 --batch-bytes "$((size + 2))" \
    "$SINK_URL" <"$TMP/in"
big=$(jq -r '.body | length' "$TMP/b.log" | sort -n | tail -1)
ok "--batch-bytes $((size + 2)): no body longer ($big)" \
    [ "$big" -le "$((size + 2))" ]
is "$(jq -r '.body | fromjson | length' "$TMP/b.log" | paste -sd+ | bc)" 7 \
    "--batch-bytes: every record sent once"

# --batch-wait sends a partial batch while input is still open.
: >"$TMP/b.log"
python3 - "$SINK_URL" "$TMP/in" "$(slow 1.5)" <<'PY' >"$TMP/bw"
import subprocess, sys, time
p = subprocess.Popen(["closehook-post", "-q", "--batch", "100",
                      "--batch-wait", "100ms", sys.argv[1]],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
line = open(sys.argv[2], "rb").readline()
t = time.monotonic()
p.stdin.write(line); p.stdin.flush()
got = p.stdout.readline()
dt = time.monotonic() - t
p.stdin.close(); p.wait()
ok = got == line and 0.08 < dt < float(sys.argv[3])
print("ok" if ok else "bad %.3f" % dt)
PY
is "$(cat "$TMP/bw")" ok "--batch-wait 100ms sends a partial batch"

# An array batch refuses a line that is not JSON: it is dead-lettered.
: >"$TMP/b.log"
{ head -n 2 "$TMP/in"; echo 'not json'; } >"$TMP/mixed"
run closehook-post -q --batch 10 --dead-letter "$TMP/dl" "$SINK_URL" \
    <"$TMP/mixed"
is "$rc:$(cat "$TMP/dl")" "1:not json" "a non-JSON line in an array batch"
is "$(jq -r '.body | fromjson | length' "$TMP/b.log")" 2 \
    "the rest of the batch was sent"

# --body: a string result is sent as it is; an object as compact JSON;
# no result skips the record (not on stdout, not a dead letter).
: >"$TMP/b.log"
run closehook-post --parallel 1 \
    --body 'select(.event.seq != 2) | "seq \(.event.seq) é"' \
    --report "$TMP/rep" "$SINK_URL" <"$TMP/in"
is "$rc" 0 "--body string: exit 0"
is "$(bodies | head -n 2 | tr '\n' '|')" "seq 1 é|seq 3 é|" \
    "--body string: sent as is"
is "$(wc -l <"$TMP/out")" 6 "--body with no result: record skipped"
is "$(jq -r 'select(.status == "skipped") | .line' "$TMP/rep")" 2 \
    "the skip is reported"
like "$err" "*skipped 1*" "the summary counts it"
: >"$TMP/b.log"
run closehook-post --parallel 1 --body '{text: "Won: \(.event.id)", n: 1}' \
    "$SINK_URL" <"$TMP/in"
is "$(bodies | head -n 1)" '{"text":"Won: ev_000001","n":1}' \
    "--body object: compact JSON"

# A jq runtime error dead-letters the record with the reason.
: >"$TMP/b.log"
run closehook-post --body '.event.seq | if . == 3 then error("three") else . end' \
    --dead-letter "$TMP/dl2" --report "$TMP/rep2" "$SINK_URL" <"$TMP/in"
is "$rc" 1 "a jq error: exit 1"
is "$(cat "$TMP/dl2")" "$(sed -n 3p "$TMP/in")" "the original line is dead-lettered"
like "$(jq -r 'select(.line == 3) | .error' "$TMP/rep2")" "*three*" \
    "the reason is in the report"
# The report quotes what the server answered: customer data, like the
# dead letters, so both are for their owner only.
is "$(stat -c %a "$TMP/rep2"):$(stat -c %a "$TMP/dl2")" 600:600 \
    "the report is made with mode 0600, as the dead-letter file is"

# --url-expr, -X, --idempotency-key, headers.
: >"$TMP/b.log"
printf 'X-Secret: s3cret\n# comment\n\nX-Two: 2\n' >"$TMP/hf"
printf 'tok123\n' >"$TMP/bearer"
chmod 600 "$TMP/hf" "$TMP/bearer"
run closehook-post -X PUT -H 'X-One: 1' --header-file "$TMP/hf" \
    --bearer-file "$TMP/bearer" --content-type text/plain \
    --url-expr "\"$SINK_URL/deals/\\(.event.id)\"" \
    --idempotency-key '.event.id' --parallel 1 "$SINK_URL" <"$TMP/in"
is "$rc" 0 "per-record URL: delivered"
first=$(head -n 1 "$TMP/b.log")
is "$(jq -r .method <<<"$first")" PUT "-X PUT"
is "$(jq -r .path <<<"$first")" /deals/ev_000001 "--url-expr"
is "$(jq -r '.headers | [."idempotency-key", ."x-one", ."x-secret",
    ."x-two", .authorization, ."content-type"] | join(" ")' <<<"$first")" \
    "ev_000001 1 s3cret 2 Bearer tok123 text/plain" \
    "--idempotency-key, -H, --header-file, --bearer-file, --content-type"
ok "no secret in stderr" bash -c "! grep -q 's3cret\|tok123' '$TMP/err'"
: >"$TMP/b.log"
printf 'user:pa ss\n' >"$TMP/basic"
chmod 644 "$TMP/basic"
head -n 1 "$TMP/in" >"$TMP/one"
run closehook-post --basic-file "$TMP/basic" "$SINK_URL" <"$TMP/one"
is "$(jq -r .headers.authorization "$TMP/b.log" | tail -1)" \
    "Basic $(printf 'user:pa ss' | base64)" "--basic-file"
like "$err" "*warning: $TMP/basic: readable or writable by group or others (chmod 600)*" \
    "a readable secret file draws a warning"
exit_is 2 "a header file with a bad line" closehook-post \
    --header-file "$TMP/in" "$SINK_URL"

# No Expect: 100-continue, for a small body nor for one over 1 MiB (curl
# asks for one there unless told not to), signed or not.
: >"$TMP/b.log"
python3 -c 'import json; print(json.dumps({"event": {"id": "ev_big",
    "data": "x" * (1 << 20)}}))' >"$TMP/big"
cat "$TMP/one" >>"$TMP/big"
printf 'whsec_%s\n' "$(head -c 32 /dev/urandom | base64)" >"$TMP/swkey"
chmod 600 "$TMP/swkey"
run closehook-post --parallel 1 "$SINK_URL" <"$TMP/big"
is "$rc" 0 "a body over 1 MiB: delivered"
run closehook-post --parallel 1 --sign standard-webhooks \
    --sign-key-file "$TMP/swkey" "$SINK_URL" <"$TMP/big"
is "$rc" 0 "a body over 1 MiB, signed: delivered"
is "$(jq -r '[(.body | length > 1048576),
    (.headers | has("expect"))] | map(tostring) | join(" ")' "$TMP/b.log" |
    tr '\n' ' ')" "true false false false true false false false " \
    "no Expect: 100-continue, whatever the body's size"
# One request takes one body, URL and key: several results dead-letter
# the record (the rest would be lost unseen), as does a key every keyless
# record would share ("null"); a number is a key.
export XDG_STATE_HOME=$TMP/state
: >"$TMP/b.log"
printf '%s\n' '{"a":[1,2],"event":{"id":"ev_1"}}' '{"a":[3]}' \
    '{"a":[4],"event":{"id":7}}' '{"a":[5],"event":{"id":""}}' >"$TMP/multi"
run closehook-post --parallel 1 --body '.a[]' --dead-letter "$TMP/dl4" \
    "$SINK_URL" <"$TMP/multi"
is "$rc" 1 "--body with several results: exit 1"
like "$err" "*stdin:1: dead-lettered: --body gave several results, not one*" \
    "the record is dead-lettered, saying why"
is "$(bodies | tr '\n' ' ')" "3 4 5 " "the others are sent"
: >"$TMP/b.log"
run closehook-post --parallel 1 --idempotency-key .event.id \
    --dead-letter "$TMP/dl3" "$SINK_URL" <"$TMP/multi"
is "$(jq -r '.headers["idempotency-key"]' "$TMP/b.log" | tr '\n' ' ')" \
    "ev_1 7 " "a string or a number is a key"
like "$err" "*stdin:2: dead-lettered: --idempotency-key gave null, not a string*stdin:4: dead-lettered: --idempotency-key gave an empty string, not a string*" \
    "null and the empty string are none"
is "$(jq -c .a "$TMP/dl3" | tr '\n' ' ')" "[3] [5] " "both dead-lettered"
run closehook-post --idempotency-key '.a[]' "$SINK_URL" <"$TMP/multi"
like "$err" "*stdin:1: dead-lettered: --idempotency-key gave several results, not one*" \
    "several keys are none either"

# In an array batch a string result is a JSON string.
: >"$TMP/b.log"
printf '%s\n' '{"id":"a"}' '{"id":"b\"c"}' '{"id":1}' >"$TMP/ids"
run closehook-post --batch 3 --body .id "$SINK_URL" <"$TMP/ids"
is "$(bodies)" '["a","b\"c",1]' "a string --body in an array batch is quoted"
ok "and the body is JSON" jq -e . <<<"$(bodies)"

# What would fail every record is refused at start (exit 2).
exit_is 2 "a --cacert that cannot be read" \
    closehook-post --cacert "$TMP/none.pem" "$SINK_URL" </dev/null
like "$err" "*--cacert $TMP/none.pem: No such file or directory*" "named"
exit_is 2 "a URL with no host (http:///x)" closehook-post 'http:///x' </dev/null
like "$err" "*invalid URL 'http:///x': no host*" "said so"
printf 'tok\n' >"$TMP/tok"
printf 'u:p\n' >"$TMP/up"
chmod 600 "$TMP/tok" "$TMP/up"
exit_is 2 "--bearer-file with --basic-file" closehook-post \
    --bearer-file "$TMP/tok" --basic-file "$TMP/up" "$SINK_URL" </dev/null
like "$err" "*exclude each other*" "one Authorization header"
exit_is 2 "--batch-wait without --batch" \
    closehook-post --batch-wait 1s "$SINK_URL" </dev/null
exit_is 2 "an unknown --sign scheme" \
    closehook-post --sign nope --sign-key-file "$TMP/swkey" "$SINK_URL" </dev/null
like "$err" "*invalid value for --sign: nope (close or standard-webhooks)*" \
    "blamed on --sign, not on the key file"

done_testing
