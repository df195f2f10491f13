#!/bin/bash
# closehook-backfill --state across complete runs: the next run fetches
# only what is newer, starting 5 minutes before the newest date_updated
# written, so it picks up new events and events consolidated in place
# (same id, newer date_updated); a state made with other filters is
# refused before any request.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/close.sh"

fake_start --count 300 --seed 21 --span 20000
fake_events "$TMP/want"
run closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st" -q
is "$rc" 0 "the first run exits 0"
unwrap <"$TMP/out" >"$TMP/first"
same_file "$TMP/first" "$TMP/want" "the first run writes the whole set"
newest=$(jq -r .newest "$TMP/st")
is "$newest" "$(tail -n 1 "$TMP/out" | jq -r '.event.date_updated')Z" \
    "the state keeps the newest date_updated written"

# Nothing new: the next run asks from 5 minutes before that, once.
from=$(fake_requests)
run closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st" -q
is "$rc" 0 "an incremental run exits 0"
is "$(fake_requests)" $((from + 1)) "one request when little is new"
want_since=$(python3 -c '
import datetime, sys
d = datetime.datetime.fromisoformat(sys.argv[1].rstrip("Z"))
print((d - datetime.timedelta(minutes=5)).isoformat(timespec="microseconds") + "Z")' "$newest")
is "$(tail -n 1 "$FAKE_LOG" | jq -r '.query.date_updated__gte[0]')" \
    "$want_since" "it starts 5 minutes before the newest event written"
ok "the overlap may repeat recent events, never older ones" \
    [ "$(wc -l <"$TMP/out")" -lt 10 ]

# A --since later than that (a cron job's --since 7d after more than a
# week down) does not jump over the events in between: the state wins,
# with a note.
later=$(python3 -c '
import datetime, sys
d = datetime.datetime.fromisoformat(sys.argv[1].rstrip("Z"))
print((d + datetime.timedelta(minutes=30)).isoformat(timespec="seconds") + "Z")' "$newest")
from=$(fake_requests)
run closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st" --since "$later"
is "$rc" 0 "a later --since: exit 0"
is "$(grep '"path": "/api/' "$FAKE_LOG" | sed -n "$((from + 1))p" | jq -r '.query.date_updated__gte[0]')" \
    "$want_since" "... it still starts 5 minutes before the newest event written"
like "$err" "*st: the last complete run reached *, before --since: fetching from there, so that no event in between is missed*" \
    "... and says so"

# New and consolidated events both come out in the next run.
curl -sf -X POST "$FAKE_ROOT/_fake/add?n=7" >/dev/null
curl -sf -X POST "$FAKE_ROOT/_fake/consolidate?n=4" >/dev/null
fake_events "$TMP/want2"
run closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st" -q
is "$rc" 0 "the run after changes exits 0"
# Every event of the set that is not in the first output (new ones, and
# consolidated ones with their new date_updated) is in this one.
comm -13 <(sort "$TMP/first") <(sort "$TMP/want2") >"$TMP/changed"
is "$(wc -l <"$TMP/changed")" 11 "the fake has 7 new and 4 consolidated events"
unwrap <"$TMP/out" | sort >"$TMP/got"
is "$(comm -23 "$TMP/changed" "$TMP/got" | wc -l)" 0 \
    "the incremental run wrote every new and consolidated event"
ok "consolidated events keep their id with a newer date_updated" \
    [ "$(jq -r .event.id "$TMP/out" | grep -cv '^ev_new')" -ge 4 ]

# Consolidation while the run pages (the fake consolidates an event every
# 3 requests): a full run writes each event at least once, and what it
# missed at its new date the next run picks up.
fake_stop
fake_start --count 300 --seed 22 --span 20000 --consolidate-every 3
rm -f "$TMP/st"
run closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st" -q \
    --order newest
is "$rc" 0 "a run during consolidation exits 0"
cp "$TMP/out" "$TMP/r1"
run closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st" -q
fake_events "$TMP/want3"
cat "$TMP/r1" "$TMP/out" | unwrap | sort -u >"$TMP/got"
is "$(comm -23 <(sort "$TMP/want3") "$TMP/got" | wc -l)" 0 \
    "two runs hold every event in its current version"

# Another filter set with this state: refused, with no request.
from=$(fake_requests)
exit_is 2 "a state made with other filters is refused" \
    closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st" -q \
    --object-type lead --action created
like "$err" "*other filters*" "... saying so"
is "$(fake_requests)" "$from" "... before any request"
run closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st-lead" -q \
    --object-type lead --action created
is "$rc" 0 "a filtered run with its own state exits 0"
is "$(jq -r '.event | "\(.object_type) \(.action)"' "$TMP/out" | sort -u)" \
    "lead created" "... and writes only matching events"
is "$(jq -r .filters "$TMP/st-lead")" "object_type=lead&action=created" \
    "its state records the filters"

done_testing
