#!/bin/bash
# closehook-backfill against the fake Close: a full backfill writes the
# fake's event set exactly (no gaps, no duplicates, oldest first, the event
# bytes as served), under rate limiting, injected faults, spilling to disk,
# ties of date_updated and the legacy rate-limit headers; --order newest is
# the same set newest first.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/close.sh"

# check NAME OUT WANT: OUT's events are WANT's, byte for byte, in order.
check() {
	unwrap <"$2" >"$2.ev"
	same_file "$2.ev" "$3" "$1: the fake's set, oldest first, as served"
	is "$(jq -r .event.id "$2" | sort | uniq -d | wc -l)" 0 \
	    "$1: no duplicates"
	is "$(jq -r '.subscription_id' "$2" | sort -u)" null \
	    "$1: event records with a null subscription_id"
}

# Plain, no limits: one request per day of the 30-day range at least.
fake_start --count 400 --seed 3
fake_events "$TMP/want"
run closehook-backfill --api-url "$FAKE_URL" -q
is "$rc" 0 "plain run exits 0"
check plain "$TMP/out" "$TMP/want"
is "$(grep -c '"_limit": \["50"\]' "$FAKE_LOG")" "$(fake_requests)" \
    "every request asks for _limit=50"
is "$(grep '"path": "/api/' "$FAKE_LOG" | grep -vc '"date_updated__gte"')" 0 \
    "every request bounds date_updated (30-day windows from the oldest)"

# --order newest: the same events, newest first, fewer requests.
: >"$FAKE_LOG"
run closehook-backfill --api-url "$FAKE_URL" --order newest -q
is "$rc" 0 "--order newest exits 0"
tac "$TMP/out" | unwrap >"$TMP/newest"
same_file "$TMP/newest" "$TMP/want" "--order newest: the same set, reversed"
is "$(fake_requests)" 8 "--order newest: 400 events in 8 pages"
is "$(grep -c '"_cursor"' "$FAKE_LOG")" 7 "pages 2 to 8 follow cursor_next"

# --rate 600/m, and --max-rps 10, its earlier form: requests 0.1 s apart.
# The fake logs when it handles a request, which a loaded machine can delay
# for one and not the next, so the check is on the whole run's pace and on
# gaps well below 0.1 s.
for pace in "--rate 600/m" "--max-rps 10"; do
	: >"$FAKE_LOG"
	# shellcheck disable=SC2086 # the option and its value
	run closehook-backfill --api-url "$FAKE_URL" --order newest -q $pace
	is "$rc" 0 "$pace exits 0"
	is "$(jq -s '[.[] | select(.n) | .t] | [range(1; length) as $i |
	    (.[$i] - .[$i - 1])] | map(select(. < 0.05)) | length' \
	    "$FAKE_LOG")" 0 "$pace: no two requests close together"
	is "$(jq -s '[.[] | select(.n) | .t] |
	    (.[-1] - .[0]) >= (length - 1) * 0.095' "$FAKE_LOG")" true \
	    "$pace: at most 10 requests a second overall"
done
exit_is 2 "--rate 5/y is a usage error" closehook-backfill --rate 5/y
like "$err" "*invalid RATE for --rate*" "saying so"

# Spilling: a 4 KiB memory bound puts nearly every event in the temp file.
CLOSEHOOK_BACKFILL_MEMORY=4K run closehook-backfill --api-url "$FAKE_URL" -q \
    --order oldest
is "$rc" 0 "spilling run exits 0"
check spilled "$TMP/out" "$TMP/want"
fake_stop

# Rate limited to 4 requests a second, with 500, 502, 503, a truncated
# body and malformed JSON injected.  Pacing from RateLimit keeps 429s rare.
fake_start --count 300 --seed 5 --rate-limit 4 --rate-window 1 \
    --fault-requests 2:500,3:502,5:truncate,6:503,8:malformed
fake_events "$TMP/want"
run closehook-backfill --api-url "$FAKE_URL" --order newest --progress \
    --metrics "$TMP/metrics"
is "$rc" 0 "rate limited with faults: exits 0"
tac "$TMP/out" >"$TMP/out.rev"
check "limited+faults" "$TMP/out.rev" "$TMP/want"
n429=$(grep -c '"status": 429' "$FAKE_LOG" || true)
nfault=$(grep -c '"fault"' "$FAKE_LOG" || true)
ok "faults were injected ($nfault)" [ "$nfault" -gt 0 ]
ok "at most one 429 ($n429)" [ "$n429" -le 1 ]
like "$err" "*pages,*events,*req/s,*rate-limited,*of the range, ETA*" \
    "--progress reports pages, events, rate, 429s, range and ETA"
ok "--metrics counts the retries" \
    grep -qE '^closehook_backfill_retries_total [1-9]' <(unlabel "$TMP/metrics")
ok "--metrics marks the run complete" \
    grep -qx 'closehook_backfill_complete 1' <(unlabel "$TMP/metrics")
fake_stop

# The legacy x-rate-limit-* headers pace the run; 429s (two forced, as
# when another client shares the key) are waited out by the legacy body's
# rate_reset and the same page is asked for again.  Every fifth event
# shares its neighbour's date_updated.
fake_start --count 250 --seed 6 --rate-limit 3 --rate-window 0.5 \
    --legacy-headers --ties --span 300000 --fault-requests 1:429,4:429
fake_events "$TMP/want"
run closehook-backfill --api-url "$FAKE_URL" -q --since 100h
is "$rc" 0 "legacy rate-limit headers: exits 0"
check "legacy+ties" "$TMP/out" "$TMP/want"
ok "legacy 429s were answered" grep -q '"status": 429' "$FAKE_LOG"
is "$(jq -c 'select(.n == 2) | [.query, .status]' "$FAKE_LOG")" \
    "[$(jq -c 'select(.n == 1) | .query' "$FAKE_LOG"),200]" \
    "a page refused with 429 is asked for again"

done_testing
