#!/bin/bash
# closehook-backfill failures: a wrong or missing key stops at once with
# exit 2 and a clear message (never the key); malformed JSON and truncated
# answers are retried, and when retries run out the run stops with exit 1
# and a resumable checkpoint; slow answers time out and are retried;
# events without data from a non-admin key are warned about; --metrics.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/close.sh"

fake_start --count 120 --seed 41 --span 20000
fake_events "$TMP/want"

CLOSE_API_KEY=wrong_key_0123 run closehook-backfill --api-url "$FAKE_URL" \
    --metrics "$TMP/fatal.prom"
is "$rc" 2 "a wrong key exits 2"
# A run that ends fatally ends its metrics too, incomplete: a backfill that
# fails run after run is seen, not taken for one still running.
ok "... its metrics say the run ended incomplete" \
    grep -qx 'closehook_backfill_complete 0' <(unlabel "$TMP/fatal.prom")
ok "... and when it ended" \
    grep -qE '^closehook_backfill_last_run_timestamp_seconds [0-9]' <(unlabel "$TMP/fatal.prom")
like "$err" "*refused the key (HTTP 401)*" "... saying the API refused it"
# shellcheck disable=SC2016
ok "... without echoing the key" bash -c '! grep -q wrong_key <<<"$1"' _ "$err"
is "$(fake_requests)" 1 "... after one request (401 is not retried)"
is "$(jq -r 'select(.n) | .status' "$FAKE_LOG")" 401 "the fake answered 401"

(unset CLOSE_API_KEY; run closehook-backfill --api-url "$FAKE_URL"
echo "$rc:$err") >"$TMP/nokey"
like "$(cat "$TMP/nokey")" "2:*no API key*CLOSE_API_KEY*--api-key-file*" \
    "no key at all exits 2 and says where a key comes from"
printf 'api_test_key\n' >"$TMP/key"
chmod 600 "$TMP/key"
(unset CLOSE_API_KEY; run closehook-backfill --api-url "$FAKE_URL" \
    --api-key-file "$TMP/key" -q --since 1d
echo "$rc:$(wc -l <"$TMP/out")") >"$TMP/keyfile"
is "$(cat "$TMP/keyfile")" "0:$(wc -l <"$TMP/want")" \
    "--api-key-file works (HTTP Basic, key as user name)"
chmod 640 "$TMP/key"
run closehook-backfill --api-url "$FAKE_URL" --api-key-file "$TMP/key" \
    --since 1h
like "$err" "*readable or writable by group or others (chmod 600)*" \
    "a group-readable key file is warned about"
exit_is 2 "an unreadable key file exits 2" \
    closehook-backfill --api-url "$FAKE_URL" --api-key-file "$TMP/nokey.x"
CLOSEHOOK_BACKOFF=20ms run closehook-backfill \
    --api-url http://127.0.0.1:1/api/v1 --event-id ev_x
is "$rc" 1 "an unreachable API: retried, then exit 1"
like "$err" "*failed after every retry*" "... saying so"
# An --api-url without its scheme: libcurl would guess http:// and send the
# key in clear; refused before any request.
from=$(fake_requests)
run closehook-backfill --api-url "${FAKE_URL#http://}" --since 1h
is "$rc:$(fake_requests)" "2:$from" "an --api-url without http(s)://: exit 2, no request"
like "$err" "*--api-url must be https://HOST/...*" "... saying so"
run closehook-backfill --api-url http:///api/v1 --since 1h
is "$rc:$(fake_requests)" "2:$from" "an --api-url without a host: exit 2, no request"
run closehook-backfill --api-url "${FAKE_URL%/api/v1}/nope" --since 1h
like "$rc:$err" "2:*HTTP 404*(is /api/v1 missing from --api-url?)*" \
    "a 404: the likely cause is named"
fake_stop

# Malformed JSON on every answer: retried, then the run stops (exit 1); it
# fetched no page, so it leaves no checkpoint to pin a later --since.
fake_start --count 120 --seed 41 --span 20000 --fault-rate 1 \
    --fault-kinds malformed
CLOSEHOOK_BACKOFF=50ms run closehook-backfill --api-url "$FAKE_URL" \
    --state "$TMP/st" --metrics "$TMP/metrics" --order newest
is "$rc" 1 "malformed JSON on every answer: exit 1"
like "$err" "*failed after every retry: malformed JSON*" "... saying why"
is "$(fake_requests)" 6 "... after 6 attempts"
ok "... leaving no state: no page was fetched, so a rerun starts the same run" \
    [ ! -e "$TMP/st" ]
ok "--metrics counts the failed request" \
    grep -qx 'closehook_backfill_failed_requests_total 1' <(unlabel "$TMP/metrics")
ok "--metrics says the run is incomplete" \
    grep -qx 'closehook_backfill_complete 0' <(unlabel "$TMP/metrics")
ok "--metrics is Prometheus text" \
    grep -qx '# TYPE closehook_backfill_pages_total counter' <(unlabel "$TMP/metrics")
fake_stop

# 500 on every answer: the last answer's status is named.
fake_start --count 120 --seed 41 --span 20000 --fault-rate 1 --fault-kinds 500
CLOSEHOOK_BACKOFF=50ms run closehook-backfill --api-url "$FAKE_URL" --order newest
is "$rc" 1 "500 on every answer: exit 1"
like "$err" "*failed after every retry: HTTP 500: *" "... naming the status"
CLOSEHOOK_BACKOFF=50ms run closehook-backfill --api-url "$FAKE_URL" \
    --state "$TMP/never"
like "$err" "*failed after every retry: HTTP 500: *; no checkpoint was made yet: the next run starts over" \
    "... and with --state before any page, that no checkpoint was made"
ok "... nor a state file" test ! -e "$TMP/never"
fake_stop

# Slow answers (3 s) against a 1 s timeout, and truncated bodies: retried.
fake_start --count 120 --seed 41 --span 20000 \
    --fault-requests 1:slow,2:truncate,4:slow
fake_events "$TMP/want"
run env CLOSEHOOK_HTTP_TIMEOUT=1 closehook-backfill --api-url "$FAKE_URL" \
    -q --since 1d
is "$rc" 0 "slow and truncated answers: exit 0"
same_file <(unwrap <"$TMP/out") "$TMP/want" "... and every event once"
fake_stop

# A non-admin key: no data in events older than an hour.
fake_start --count 60 --seed 42 --span 20000 --non-admin
run closehook-backfill --api-url "$FAKE_URL" --since 1d
is "$rc" 0 "a non-admin key: exit 0"
like "$err" "*events older than an hour came without data*" \
    "... with a warning about the missing data"
run closehook-backfill --api-url "$FAKE_URL" --since 1d -q
is "$err" "" "-q silences warnings"

# Cursors that Close stops taking during a run (how long it keeps one is
# not documented).  Newest first, the walk goes on below the oldest date
# written; oldest first, the day is fetched again, and a third refusal in
# one day stops the run.
fake_start --count 400 --seed 43 --span 20000 --expire-cursors-at 3,6
fake_events "$TMP/want"
run closehook-backfill --api-url "$FAKE_URL" --order newest --since 1d
is "$rc" 0 "newest first, cursors refused twice: exit 0"
is "$(grep -c 'refused the cursor (HTTP 400: The cursor has expired' \
    "$TMP/err")" 2 "... saying so each time"
like "$err" "*going on from the oldest event written, *, without it*" \
    "... and how it goes on"
same_file <(jq -r .event.id "$TMP/out" | sort -u) <(jq -r .id "$TMP/want" |
    sort) "... with every event"
fake_stop
# Refused again before the walk got below the date it went on from (70
# events share it, more than a page): it stops, rather than write that
# page for ever.
fake_start --count 300 --seed 43 --span 20000 --tie-block 40,70 \
    --expire-cursors-at "$(seq -s, 2 200)"
run timeout 60 closehook-backfill --api-url "$FAKE_URL" --order newest \
    --since 1d
is "$rc:$(wc -l <"$TMP/out")" 2:100 \
    "newest first, no way below 50+ events of one date: exit 2 after 2 pages"
like "$err" "*refused the cursor again before any event older than * came (more than a page of events share that date)*" \
    "... saying why"
fake_stop
fake_start --count 400 --seed 43 --span 20000 --expire-cursors-at 4
fake_events "$TMP/want"
run closehook-backfill --api-url "$FAKE_URL" --since 1d
is "$rc" 0 "oldest first, a cursor refused in a day: exit 0"
like "$err" "*refused the cursor*fetching the day from * again*" \
    "... fetching that day again"
same_file <(unwrap <"$TMP/out") "$TMP/want" "... every event once, in order"
fake_stop
fake_start --count 400 --seed 43 --span 20000 --expire-cursors-at 4,8,12
run closehook-backfill --api-url "$FAKE_URL" --since 1d
is "$rc" 2 "oldest first, a day's cursor refused three times: exit 2"
like "$err" "*HTTP 400: The cursor has expired*for the third time in this day's events*" \
    "... saying so"
fake_stop

done_testing
