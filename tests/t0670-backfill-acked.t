#!/bin/bash
# closehook-backfill --commit-when acked: the checkpoints travel down the
# pipeline as marks, and `closehook-backfill --commit FILE` at its end
# writes them once everything before them is finished.  The same records
# and the same state as a plain run; a stage of the pipeline killed in the
# middle, or the whole pipeline, then a rerun: every event arrives at the
# end at least once (a checkpoint written when the page went into the pipe
# would have skipped the records the dead stage held).  Newest first, a
# SIGTERM finishes the page and sends its mark, and the rerun starts at
# the committed cursor.  Marks for another
# state file and marks of closehook-follow are refused with a warning;
# misused options are usage errors.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/close.sh"

# ids FILE: the event ids of the records in FILE, sorted, once each.
ids() { jq -r .event.id "$1" | sort -u; }

# -- the same records and state as a plain run ------------------------------
fake_start --count 300 --seed 5
fake_events "$TMP/want"
jq -r .id "$TMP/want" | sort -u >"$TMP/want.ids"
closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st" \
    --commit-when acked -q | tee "$TMP/mid" |
    closehook-backfill --commit "$TMP/st" >"$TMP/out" 2>"$TMP/err"
is "$?" 0 "the acknowledged pipeline exits 0"
closehook-backfill --api-url "$FAKE_URL" --state "$TMP/stw" -q >"$TMP/outw"
same_file "$TMP/out" "$TMP/outw" "the same records as a plain run"
ok "the marks went down the pipe ($(grep -c closehook_mark "$TMP/mid"))" \
    test "$(grep -c '^{"closehook_mark":{"backfill":' "$TMP/mid")" -gt 2
is "$(grep -c closehook_mark "$TMP/out")" 0 "no mark comes out of --commit"
is "$(jq -r .status "$TMP/st")" complete "--commit wrote the complete state"
is "$(jq -c 'del(.through)' "$TMP/st")" "$(jq -c 'del(.through)' "$TMP/stw")" \
    "the state a plain run writes"
is "$(cat "$TMP/err")" "" "nothing on stderr"

# The next run is incremental from that state, as after a plain run.
closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st" \
    --commit-when acked -q | closehook-backfill --commit "$TMP/st" \
    >"$TMP/out2"
ok "the next run fetches only the overlap ($(wc -l <"$TMP/out2") records)" \
    test "$(wc -l <"$TMP/out2")" -lt "$(wc -l <"$TMP/want.ids")"
fake_stop

# -- a stage killed in the middle, then a rerun ------------------------------
# The delivery is a slow stage (4 ms a line) that appends each record to
# kout before passing it on, between `dedupe --mode check` and `--mode
# record`, as closehook-dedupe(1) says: the pipe fills, and a page backfill
# wrote is still in the pipe and the stage when the stage dies.  With the
# checkpoint written as the page went into the pipe, the rerun started after
# it and about 20 of these 600 events never arrived.  (A plain dedupe before
# the delivery would record keys of records a crash keeps from arriving, and
# drop their replays: the whole-pipeline kill below found that.)
cat >"$TMP/deliver.py" <<'PY'
import sys, time
out = open(sys.argv[1], "a")
for line in sys.stdin:
    if not line.startswith('{"closehook_mark"'):
        out.write(line)
        out.flush()
    sys.stdout.write(line)
    sys.stdout.flush()
    time.sleep(0.004)
PY
fake_start --count 600 --seed 11
fake_events "$TMP/want"
jq -r .id "$TMP/want" | sort -u >"$TMP/want.ids"
pipeline() {
	closehook-backfill --api-url "$FAKE_URL" --state "$TMP/sk" \
	    --commit-when acked -q 2>>"$TMP/kerr" |
	    closehook-dedupe --mode check --store "$TMP/sk.sqlite" \
	    2>>"$TMP/kerr" |
	    python3 "$TMP/deliver.py" "$TMP/kout" 2>/dev/null |
	    closehook-dedupe --mode record --store "$TMP/sk.sqlite" \
	    2>>"$TMP/kerr" |
	    closehook-backfill --commit "$TMP/sk" >/dev/null 2>>"$TMP/kerr"
}
: >"$TMP/kout"
pipeline &
ppid=$!
ok "the first run delivers records" wait_lines "$TMP/kout" 100
kill -KILL "$(pgrep -f "$TMP/deliver.py" | head -n 1)"
wait "$ppid" 2>/dev/null || true
# The kill may cut the stage's write of a line short (a torn last line, at
# a page boundary): that record never went on, so the rerun delivers it,
# and appended after the torn bytes it would make jq stop there.
cut_torn "$TMP/kout"
first=$(wc -l <"$TMP/kout")
ok "the run stopped short ($first of $(wc -l <"$TMP/want.ids"))" \
    test "$first" -lt "$(wc -l <"$TMP/want.ids")"
is "$(jq -r .status "$TMP/sk")" running "the committed state is of an unfinished run"
pipeline
is "$(jq -r .status "$TMP/sk")" complete "the rerun completes"
ids "$TMP/kout" >"$TMP/got.ids"
same_file "$TMP/got.ids" "$TMP/want.ids" \
    "every event arrived at the end after a stage was killed"
fake_stop

# -- the whole pipeline killed at several moments, then a rerun --------------
fake_start --count 600 --seed 12
fake_events "$TMP/want"
jq -r .id "$TMP/want" | sort -u >"$TMP/want.ids"
rm -f "$TMP/sk" "$TMP"/sk.sqlite*
: >"$TMP/kout"
for at in 60 200 350; do
	setsid bash -c "$(declare -f pipeline); TMP='$TMP' FAKE_URL='$FAKE_URL' \
	    pipeline" &
	spid=$!
	wait_lines "$TMP/kout" "$at" || true
	kill -KILL -- -"$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	# wait reaps bash alone: a stage still dying could write after the cut.
	while pgrep -g "$spid" >/dev/null; do
		sleep 0.05
	done
	cut_torn "$TMP/kout"
done
pipeline
is "$(jq -r .status "$TMP/sk")" complete "after three kills, the last run completes"
ids "$TMP/kout" >"$TMP/got.ids"
same_file "$TMP/got.ids" "$TMP/want.ids" \
    "every event arrived at the end after the pipeline was killed three times"
fake_stop

# -- newest first, and SIGTERM: the page finished, its mark sent, exit 1 ----
# One request a second: the SIGTERM finds the run waiting for its next page.
fake_start --count 200 --seed 13 --rate-limit 1 --rate-window "$(slow 1)"
fake_events "$TMP/want"
jq -r .id "$TMP/want" | sort -u >"$TMP/want.ids"
: >"$TMP/nout"
mkfifo "$TMP/npipe"
closehook-backfill --commit "$TMP/sn" <"$TMP/npipe" >>"$TMP/nout" \
    2>"$TMP/cerr" &
cpid=$!
closehook-backfill --api-url "$FAKE_URL" --state "$TMP/sn" --order newest \
    --commit-when acked >"$TMP/npipe" 2>"$TMP/nerr" &
hpid=$!
ok "newest first: the first page arrives" wait_lines "$TMP/nout" 50
kill -TERM "$hpid"
wait "$hpid"
is "$?" 1 "SIGTERM: exit 1"
wait "$cpid"
is "$?" 1 "and --commit exits 1 too: the run did not complete"
like "$(cat "$TMP/cerr")" "*sn: the run did not complete: the next run resumes from the checkpoint*" \
    "... and says so (a pipeline under sh has no pipefail)"
like "$(cat "$TMP/nerr")" "*interrupted: the checkpoint went down the pipeline*" \
    "SIGTERM: says where the checkpoint went"
is "$(($(wc -l <"$TMP/nout") % 50))" 0 "SIGTERM: whole pages passed"
ok "the committed state holds the next page's cursor" \
    jq -e '.status == "running" and (.cursor | length > 0)' "$TMP/sn"
closehook-backfill --api-url "$FAKE_URL" --state "$TMP/sn" --order newest \
    --commit-when acked -q | closehook-backfill --commit "$TMP/sn" >>"$TMP/nout"
is "$(jq -r .status "$TMP/sn")" complete "the newest-first rerun completes"
ids "$TMP/nout" >"$TMP/got.ids"
same_file "$TMP/got.ids" "$TMP/want.ids" "newest first: every event, over both runs"
is "$(jq -r .event.id "$TMP/nout" | sort | uniq -d | wc -l)" 0 \
    "and none twice: the rerun starts at the committed cursor"

# A run that fails before its first page (a refused key) under sh, as a
# cron script or a unit's ExecStart runs it: no pipefail, so the status is
# --commit's, which must not be 0.
CLOSE_API_KEY=api_wrong sh -c 'closehook-backfill -q --api-url "$1" \
    --state "$2" --commit-when acked | closehook-backfill --commit "$2"' \
    _ "$FAKE_URL" "$TMP/sbad" >/dev/null 2>"$TMP/berr"
is "$?" 1 "a refused key: the pipeline's status under sh is 1, not 0"
like "$(cat "$TMP/berr")" "*sbad: no checkpoint came down the pipeline*" \
    "... the end says no checkpoint came"
fake_stop

# -- marks --commit does not take ---------------------------------------------
printf '%s\n' '{"a":1}' \
    '{"closehook_mark":{"backfill":"/elsewhere/st","state":{"version":1}}}' \
    '{"closehook_mark":{"dev":1,"ino":2,"head_len":0,"head_fnv1a64":"0","offset":5}}' \
    '{"b":2}' >"$TMP/foreign"
run closehook-backfill --commit "$TMP/sf" <"$TMP/foreign"
is "$rc" 1 "marks for others are ignored: with none of its own, exit 1"
like "$err" "*sf: no checkpoint came down the pipeline*" "... saying so"
is "$out" "$(printf '%s\n' '{"a":1}' '{"b":2}')" \
    "every other line passes, no mark does"
like "$err" "*another state file (/elsewhere/st)*" "a mark for another file is named"
like "$err" "*stdin:3: not a closehook-backfill mark*" "a follow mark is refused"
ok "nothing was written to the state file" test ! -e "$TMP/sf"

# -- usage ----------------------------------------------------------------------
exit_is 2 "--commit takes no fetching options" \
    closehook-backfill --commit "$TMP/st" --since 1d
exit_is 2 "--commit takes no operand" closehook-backfill --commit "$TMP/st" x
exit_is 2 "--commit-when needs --state" closehook-backfill --commit-when acked
exit_is 2 "--commit-when takes acked or written" \
    closehook-backfill --state "$TMP/st" --commit-when later
exit_is 2 "--commit-interval goes with --commit" \
    closehook-backfill --commit-interval 2s

done_testing
