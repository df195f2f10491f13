#!/bin/bash
# closehook-backfill --order newest streams: each page's records leave as
# soon as the page arrived, while later pages are still being fetched (here
# the second answer takes 3 s); the default order holds a window until it
# is complete.  A write error on stdout exits 2.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/close.sh"

fake_start --count 200 --seed 51 --span 20000 \
    --fault-requests 2:slow --slow-seconds "$(slow 3)"
mkfifo "$TMP/fifo"
closehook-backfill --api-url "$FAKE_URL" --order newest -q >"$TMP/fifo" &
pid=$!
# Read the first 50 lines from the pipe, timing them.
t0=$(date +%s%N)
head -n 50 "$TMP/fifo" >"$TMP/first" &
hpid=$!
for _ in $(seq 60); do
	kill -0 "$hpid" 2>/dev/null || break
	sleep 0.05
done
t1=$(date +%s%N)
is "$(wc -l <"$TMP/first")" 50 "the first page arrives through a pipe"
ok "... before the slow second answer ($(((t1 - t0) / 1000000)) ms)" \
    [ $(((t1 - t0) / 1000000)) -lt "$(slow 2500)" ]
ok "... while the run is still going" kill -0 "$pid"
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
wait "$hpid" 2>/dev/null

# The default order writes nothing of a window before it is complete.
fake_stop
fake_start --count 200 --seed 51 --span 20000 \
    --fault-requests 3:slow --slow-seconds "$(slow 2)"
fake_events "$TMP/want"
closehook-backfill --api-url "$FAKE_URL" -q --since 1d >"$TMP/part" &
pid=$!
sleep 1.5
is "$(wc -c <"$TMP/part")" 0 "oldest first holds the window until complete"
wait "$pid"
is "$?" 0 "... then exits 0"
is "$(wc -l <"$TMP/part")" "$(wc -l <"$TMP/want")" "... having written it all"

# shellcheck disable=SC2016
exit_is 2 "a write error on stdout exits 2" \
    sh -c 'closehook-backfill --api-url "$FAKE_URL" -q --since 1d >/dev/full'
like "$err" "*stdout*" "... naming stdout"

done_testing
