#!/bin/bash
# closehook-backfill --state: a run killed with SIGKILL mid-way and rerun
# with the same state writes, over both runs, the fake's whole event set,
# and the second run fetches none of the events the checkpoint says were
# written (the fake's request log shows what each request answered);
# SIGINT and SIGTERM finish the page, checkpoint and exit 1; the
# checkpoint is replaced atomically.  A SIGKILL may leave the first run's
# last line torn (stdout is written in blocks): that record was never
# checkpointed, the rerun writes it whole, and the torn bytes are dropped
# before the runs' output is read.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/close.sh"

# claimed STATE OUT: the ids in OUT that STATE says were written (oldest
# first: dated before the position, or at it and listed).
claimed() {
	python3 - "$1" "$2" <<'PY'
import json, sys, datetime
st = json.load(open(sys.argv[1]))
def us(s):
    s = s.rstrip("Z")
    d = datetime.datetime.fromisoformat(s).replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp()) * 1000000 + d.microsecond
pos, ids = us(st["position"]), set(st.get("position_ids", []))
for line in open(sys.argv[2]):
    ev = json.loads(line)["event"]
    d = us(ev["date_updated"])
    if d < pos or (d == pos and ev["id"] in ids):
        print(ev["id"])
PY
}

# served FROM: the event ids answered by requests numbered FROM and later.
served() {
	jq -r --argjson from "$1" 'select((.n // 0) >= $from) | .ids[]' \
	    "$FAKE_LOG"
}

# -- oldest first (the default), SIGKILL ---------------------------------
fake_start --count 600 --seed 11 --rate-limit 12 --rate-window 1
fake_events "$TMP/want"
closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st" -q \
    >"$TMP/out1" 2>"$TMP/err1" &
pid=$!
ok "the first run writes records" wait_lines "$TMP/out1" 150
kill -KILL "$pid"
{ wait "$pid"; } 2>/dev/null
cut_torn "$TMP/out1"
is "$(jq -r .status "$TMP/st")" running "the state says the run is unfinished"
ok "the state is whole JSON" jq -e .position "$TMP/st"
claimed "$TMP/st" "$TMP/out1" | sort >"$TMP/claimed"
ok "the checkpoint claims records ($(wc -l <"$TMP/claimed"))" \
    [ -s "$TMP/claimed" ]
ok "it claims only records that were written" \
    [ "$(comm -23 "$TMP/claimed" <(jq -r .event.id "$TMP/out1" | sort) |
    wc -l)" -eq 0 ]
from=$(($(fake_requests) + 1))
run closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st" -q
is "$rc" 0 "the resumed run exits 0"
cp "$TMP/out" "$TMP/out2"
served "$from" | sort >"$TMP/refetched"
is "$(comm -12 "$TMP/claimed" "$TMP/refetched" | wc -l)" 0 \
    "the resumed run fetched none of the checkpointed records"
cat "$TMP/out1" "$TMP/out2" | jq -r .event.id | sort -u >"$TMP/union"
is "$(wc -l <"$TMP/union")" "$(wc -l <"$TMP/want")" \
    "the union of both runs is the whole set"
same_file "$TMP/union" <(jq -r .id "$TMP/want" | sort) \
    "... with exactly the fake's ids"
ok "the resumed run continues oldest first" \
    python3 -c '
import json, sys
d = [json.loads(l)["event"]["date_updated"] for l in open(sys.argv[1])]
sys.exit(d != sorted(d))' "$TMP/out2"
is "$(jq -r .status "$TMP/st")" complete "the state is complete"
fake_stop

# -- newest first, SIGKILL: the cursor is the checkpoint ---------------------
fake_start --count 300 --seed 12 --rate-limit 3 --rate-window 1
fake_events "$TMP/want"
# killed_newest STATE OUT DESC: a newest-first run, SIGKILLed once it has
# written 100 records; its torn last line dropped.
killed_newest() {
	local pid
	closehook-backfill --api-url "$FAKE_URL" --state "$1" -q \
	    --order newest >"$2" 2>/dev/null &
	pid=$!
	ok "$3" wait_lines "$2" 100
	kill -KILL "$pid"
	{ wait "$pid"; } 2>/dev/null
	cut_torn "$2"
}
killed_newest "$TMP/stn" "$TMP/out1" "the newest-first run writes records"
ok "the state holds a cursor" jq -e '.cursor | length > 0' "$TMP/stn"
n1=$(wc -l <"$TMP/out1")
# Pages of 50, each written, then checkpointed, then the next fetched: the
# kill may have come between the last whole page and its checkpoint (a
# slow fdatasync makes that window wide), but every page before it was
# checkpointed, and so was the last whole one when the next had begun.
head -n $(((n1 - 1) / 50 * 50)) "$TMP/out1" | jq -r .event.id |
    sort >"$TMP/claimed"
from=$(($(fake_requests) + 1))
run closehook-backfill --api-url "$FAKE_URL" --state "$TMP/stn" -q \
    --order newest
is "$rc" 0 "the resumed newest-first run exits 0"
served "$from" | sort >"$TMP/refetched"
is "$(comm -12 "$TMP/claimed" "$TMP/refetched" | wc -l)" 0 \
    "it fetched none of the pages written before"
cat "$TMP/out1" "$TMP/out" | jq -r .event.id | sort -u >"$TMP/union"
same_file "$TMP/union" <(jq -r .id "$TMP/want" | sort) \
    "the union of both runs is the whole set"

# -- newest first, the saved cursor refused: on from the oldest date written --
killed_newest "$TMP/stx" "$TMP/outx" "a second newest-first run writes records"
oldest=$(jq -r '.oldest // "none"' "$TMP/stx")
ok "its state holds the oldest date written ($oldest)" \
    jq -e '.oldest and (.cursor | length > 0)' "$TMP/stx"
curl -sf -X POST "$FAKE_ROOT/_fake/expire_cursors" >/dev/null
from=$(($(fake_requests) + 1))
run closehook-backfill --api-url "$FAKE_URL" --state "$TMP/stx" \
    --order newest
is "$rc" 0 "Close refusing the saved cursor: the run goes on, exit 0"
like "$err" "*refused the cursor (HTTP 400: The cursor has expired*)*going on from the oldest event written, $oldest, without it*" \
    "and says so"
is "$(jq -r --argjson from "$from" 'select((.n // 0) >= $from and
    (.path | startswith("/api/"))) | "\(.status) \(.query._cursor != null)"' \
    "$FAKE_LOG" | head -n 2 | tr '\n' ' ')" "400 true 200 false " \
    "the saved cursor is refused, then a query without one"
jq -r --arg o "$oldest" 'select(.event.date_updated > $o) | .event.id' \
    "$TMP/outx" | sort >"$TMP/newer"
served "$from" | sort >"$TMP/refetched"
ok "written before: events newer than that date ($(wc -l <"$TMP/newer"))" \
    [ -s "$TMP/newer" ]
is "$(comm -12 "$TMP/newer" "$TMP/refetched" | wc -l)" 0 \
    "none of them is fetched again"
cat "$TMP/outx" "$TMP/out" | jq -r .event.id | sort -u >"$TMP/union"
same_file "$TMP/union" <(jq -r .id "$TMP/want" | sort) \
    "the union of both runs is the whole set"
is "$(jq -r .status "$TMP/stx")" complete "and the state is complete"
from=$(fake_requests)
run closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st" -q \
    --order newest --since 1h
is "$rc" 0 "a complete state may go on in the other order"
jq '.status = "running" | .order = "oldest" | .position = .newest |
    .since = .newest | .position_ids = []' "$TMP/st" >"$TMP/st.run"
from=$(fake_requests)
exit_is 2 "resuming an unfinished run in the other order is refused" \
    closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st.run" -q \
    --order newest
like "$err" "*--order oldest*" "... naming the order to use"
is "$(fake_requests)" "$from" "... before any request"
fake_stop
# -- SIGTERM and SIGINT: finish the page, checkpoint, exit 1 -----------------
# 8 pages at 2 a window: a run lasts at least 3 windows, so the signal sent
# after the first page finds it running even when this shell is slow to
# send it (at 4 pages a window, a run of 4 could end first).
fake_start --count 400 --seed 13 --rate-limit 2 --rate-window "$(slow 1)"
fake_events "$TMP/want"
# A SIGKILL above may have left a temporary state file (nothing can clean up
# after SIGKILL); the check at the end is about the graceful exits.
find "$TMP" -name 'st*.tmp*' -delete
for sig in TERM INT; do
	rm -f "$TMP/sts"
	closehook-backfill --api-url "$FAKE_URL" --state "$TMP/sts" \
	    --order newest >"$TMP/out1" 2>"$TMP/err1" &
	pid=$!
	wait_lines "$TMP/out1" 50
	if [ "$sig" = TERM ]; then
		# A cron job that overlaps the last run: refused, nothing
		# fetched twice.
		run closehook-backfill --api-url "$FAKE_URL" --state "$TMP/sts" \
		    --order newest
		is "$rc:$out" "2:" "a second run on a state file in use exits 2"
		like "$err" "*$TMP/sts: in use by another closehook-backfill (pid $pid)*" \
		    "naming the first"
	fi
	kill -"$sig" "$pid"
	wait "$pid"
	is "$?" 1 "SIG$sig: exit 1"
	like "$(cat "$TMP/err1")" "*interrupted*resume*" \
	    "SIG$sig: says how to resume"
	is "$(($(wc -l <"$TMP/out1") % 50))" 0 "SIG$sig: whole pages written"
	run closehook-backfill --api-url "$FAKE_URL" --state "$TMP/sts" -q \
	    --order newest
	cat "$TMP/out1" "$TMP/out" | jq -r .event.id | sort >"$TMP/all"
	same_file "$TMP/all" <(jq -r .id "$TMP/want" | sort) \
	    "SIG$sig: resumed, every event exactly once"
done
# -- a run that fetched no page leaves no unfinished run behind, which
# would pin a later --since; resuming one that a wider --since reaches
# before says that it does not go back.
fake_start --count 300 --seed 13 --rate-limit 3 --rate-window 1
run env CLOSE_API_KEY=wrong closehook-backfill --api-url "$FAKE_URL" \
    --since 1d --state "$TMP/stw"
is "$rc" 2 "a refused key: exit 2"
ok "and no state file: nothing was fetched" [ ! -e "$TMP/stw" ]
closehook-backfill --api-url "$FAKE_URL" --since 20d --state "$TMP/stw" -q \
    >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do
	[ -s "$TMP/stw" ] && break
	sleep 0.05
done
kill -KILL "$pid"
wait "$pid" 2>/dev/null
is "$(jq -r .status "$TMP/stw")" running "killed after its first page: unfinished"
run closehook-backfill --api-url "$FAKE_URL" --since 25d --state "$TMP/stw"
is "$rc" 0 "resumed with a wider --since: exit 0"
like "$err" "*$TMP/stw: resuming the unfinished run from *; what --since adds before that is not fetched*" \
    "and says what it leaves out"
run closehook-backfill --api-url "$FAKE_URL" --since 1h --state "$TMP/stw"
is "$(grep -c 'resuming the unfinished' <<<"$err")" 0 \
    "a later --since draws no such warning"
fake_stop

ok "no temporary state files are left" \
    [ -z "$(find "$TMP" -name 'st*.tmp*')" ]

done_testing
