#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# Nothing acknowledged is lost, end to end: the README's recipe
#   closehook-follow | closehook-verify | closehook-dedupe --mode check
#     | closehook-post | closehook-dedupe --mode record | closehook-follow --commit
# is killed (SIGKILL of the whole pipeline, or of one stage) at random
# moments, during a catch-up and at a live rate, and rerun; every event of
# the spool must then be delivered to the sink or dead-lettered.  Counted
# by event id.  Also: SIGTERM to closehook-post loses no line it read, the
# offset file is locked, and a writer's cut-back torn tail is read again.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/post-helpers.sh"

cd "$TMP" || exit 1
key=$(printf '5a%.0s' $(seq 32))
printf '%s\n' "$key" >keys
chmod 600 keys

# The sink answers slowly, and one request in 20 with a 500 that post
# does not retry: so records sit in flight, and some are dead-lettered.
start_sink sink --delay 0.03 --fault-rate 0.05 --faults 500 --seed 3 \
    --max-time 300

# ids_of_captures FILE / ids_of_records FILE: event ids.
ids_of_captures() { jq -r '.body | fromjson | .event.id' "$1"; }
ids_of_records() { [ -s "$1" ] && jq -r '.event.id // .id' "$1"; }

# pipeline NAME [FOLLOW OPTIONS...]: the recipe, state under NAME.*.
pipeline() {
	local n=$1
	shift
	closehook-follow -q --offset-file "$n.off" "$@" "$n.spool" |
	    closehook-verify -q --secret-file keys |
	    closehook-dedupe --mode check --store "$n.seen" |
	    closehook-post -q --parallel 8 --retries 0 \
		--dead-letter "$n.dl" "$SINK_URL/$n" |
	    closehook-dedupe --mode record --store "$n.seen" |
	    closehook-follow -q --commit "$n.off"
}
export -f pipeline
export SINK_URL

# lost NAME: the input ids neither delivered nor dead-lettered, one a line.
# (A body the sink got that is not JSON would be a torn record delivered:
# the last check looks for one.)
lost() {
	sort -u <(jq -r 'select(.path == "/'"$1"'") | .body | fromjson
	    | .event.id' sink.log) <(ids_of_records "$1.dl") >"$1.done"
	ids_of_captures "$1.spool" | sort -u | comm -23 - "$1.done"
}

# kill_group_after SECONDS NAME [FOLLOW OPTIONS...]: run the pipeline in a
# process group of its own and SIGKILL the whole group after SECONDS.
kill_group_after() {
	local t=$1
	shift
	setsid bash -c 'pipeline "$@"' sh "$@" >/dev/null 2>&1 &
	local pid=$!
	command sleep "$t"
	kill_group "$pid"
}

# kill_group PGID: SIGKILL every process of the group, and wait until they
# are all gone (a follower still dying holds its offset file's lock).
kill_group() {
	kill -KILL -- -"$1" 2>/dev/null
	wait "$1" 2>/dev/null
	while pgrep -g "$1" >/dev/null; do
		command sleep 0.05
	done
}

# 1. Catch-up: 1000 captures wait in the spool; the pipeline is killed
# three times at random moments, then run to the end.
python3 "$TOP/bench/gen" --format captures --count 1000 --seed 11 \
    --bad-rate 0 --dup-rate 0 --key "$key" >c.spool
for seed in 1 2 3; do
	RANDOM=$seed
	kill_group_after "0.$((RANDOM % 9 + 1))" c
done
ok "catch-up: the kills came before the end" [ "$(lost c | wc -l)" -gt 0 ]
timeout "$(slow 120)" bash -c 'pipeline c --once' >/dev/null 2>&1
is "$?" 0 "catch-up: the last run ends with exit 0"
is "$(lost c | wc -l)" 0 "catch-up: killed 3 times, every event delivered or dead-lettered"
ok "catch-up: the dead letters hold some" test -s c.dl

# 2. Live rate: a writer appends 60 captures/s; the pipeline follows, is
# killed mid-stream, restarted, killed again; at the end one --once run.
python3 "$TOP/bench/gen" --format captures --count 240 --seed 12 \
    --bad-rate 0 --dup-rate 0 --key "$key" >live.all
: >l.spool
python3 - live.all l.spool <<'PY' &
import sys, time
src, dst = sys.argv[1], sys.argv[2]
with open(src, "rb") as f, open(dst, "ab", buffering=0) as out:
    for line in f:
        out.write(line)
        time.sleep(1 / 60)
PY
wpid=$!
kill_group_after 1.3 l
ok "live: the first kill came mid-stream" [ "$(lost l | wc -l)" -gt 0 ]
kill_group_after 1.1 l
wait "$wpid"
timeout "$(slow 120)" bash -c 'pipeline l --once' >/dev/null 2>&1
is "$?" 0 "live: the last run ends with exit 0"
is "$(wc -l <l.spool)" 240 "live: the writer wrote every capture"
is "$(lost l | wc -l)" 0 "live: killed twice mid-stream, every event delivered or dead-lettered"

# 3. One stage dies (SIGKILL of closehook-post, then of the check stage):
# the rest of the pipeline ends, and a rerun delivers what it held.
python3 "$TOP/bench/gen" --format captures --count 400 --seed 13 \
    --bad-rate 0 --dup-rate 0 --key "$key" >s.spool
# The stages before the one killed end too, even when they have nothing
# left to write: each watches its stdout while it waits for input.
for stage in closehook-post 'closehook-dedupe --mode check'; do
	setsid bash -c 'pipeline s' >/dev/null 2>&1 &
	gpid=$!
	for _ in $(seq 100); do
		pgrep -g "$gpid" -f "$stage" >/dev/null && break
		sleep 0.02
	done
	sleep 0.4
	pkill -KILL -g "$gpid" -f "$stage"
	ok "$stage is killed" [ "$?" -eq 0 ]
	timeout "$(slow 10)" tail --pid="$gpid" -f /dev/null
	ok "killing $stage ends the pipeline" [ "$?" -eq 0 ]
	kill_group "$gpid"
done
timeout "$(slow 120)" bash -c 'pipeline s --once' >/dev/null 2>&1
is "$?" 0 "after a stage was killed: the next run ends with exit 0"
is "$(lost s | wc -l)" 0 "a stage killed twice: every event delivered or dead-lettered"

# 3b. Stopped as systemd stops a unit: SIGTERM to every process of the
# pipeline at once, while post has deliveries in flight to a slow sink.
# The stages after post go on to the end of their input, so what post
# delivered while it drained is recorded and committed, and the next run
# posts none of it again.  (Before, dedupe --mode record and follow
# --commit died at once: the next run posted those again.)
python3 "$TOP/bench/gen" --format captures --count 200 --seed 17 \
    --bad-rate 0 --dup-rate 0 --key "$key" >d.spool
main_sink=$SINK_URL
start_sink slow --delay 0.4 --max-time 120
slow_url=$SINK_URL
SINK_URL=$main_sink
# An event as id and date_updated: gen repeats an id as the event changes.
posted_d() {
	jq -r 'select(.path == "/d") | .body | fromjson | .event
	    | "\(.id) \(.date_updated)"' slow.log
}
setsid env SINK_URL="$slow_url" bash -c 'pipeline d' >/dev/null 2>d.err &
gpid=$!
for _ in $(seq 200); do
	[ "$(posted_d | wc -l)" -ge 10 ] && break
	sleep 0.05
done
kill -TERM -- -"$gpid"
timeout "$(slow 40)" tail --pid="$gpid" -f /dev/null
ok "SIGTERM to the whole pipeline: it ends" [ "$?" -eq 0 ]
while pgrep -g "$gpid" >/dev/null; do sleep 0.05; done
n1=$(posted_d | wc -l)
ok "it stopped before the end" [ "$n1" -lt 200 ]
SINK_URL=$slow_url timeout "$(slow 120)" bash -c 'pipeline d --once' \
    >/dev/null 2>>d.err
is "$?" 0 "the next run ends with exit 0"
is "$(posted_d | sort | uniq -d | wc -l)" 0 \
    "nothing the first run posted is posted again"
is "$(sort -u <(posted_d) <([ -s d.dl ] && jq -r '.event
    | "\(.id) \(.date_updated)"' d.dl) | wc -l)" 200 \
    "every event delivered or dead-lettered"

# 4. SIGTERM to closehook-post reading a regular file on stdin: each line
# it read is delivered or dead-lettered, the others are put back for the
# next reader of the descriptor.
python3 "$TOP/bench/gen" --format events --count 3000 --seed 14 \
    --dup-rate 0 >t.in
(
	closehook-post -q --parallel 4 --retries 0 --dead-letter t.dl \
	    "$SINK_URL/t" 2>t.err >t.out &
	p=$!
	sleep 0.3
	kill -TERM "$p"
	wait "$p"
	echo "$?" >t.rc
	cat >t.rest
) <t.in
# done NAME: the lines delivered to /NAME and dead-lettered, sorted.
done_lines() {
	sort <(jq -r 'select(.path == "/'"$1"'") | .body' sink.log) \
	    <([ -s "$1.dl" ] && cat "$1.dl")
}
done_lines t >t.done
ok "SIGTERM: post stopped before the end of its input" \
    [ "$(wc -l <t.rest)" -gt 0 ]
ok "SIGTERM: and after it had delivered some" [ -s t.done ]
ok "SIGTERM: every line is delivered, dead-lettered or put back, once" \
    cmp -s <(sort t.in) <(sort t.done t.rest)
ok "SIGTERM: the put-back lines are the input's tail" \
    cmp -s t.rest <(tail -n "$(wc -l <t.rest)" t.in)

# The same with the input named as an operand: every line read is
# delivered or dead-lettered, and they are the input's first lines.
python3 "$TOP/bench/gen" --format events --count 3000 --seed 15 \
    --dup-rate 0 >u.in
closehook-post -q --parallel 4 --retries 0 --dead-letter u.dl \
    "$SINK_URL/u" u.in 2>/dev/null >/dev/null &
p=$!
sleep 0.3
kill -TERM "$p"
wait "$p"
n=$(done_lines u | tee u.done | wc -l)
ok "SIGTERM, FILE operand: some lines were read, not all" \
    test "$n" -gt 0 -a "$n" -lt 3000
ok "SIGTERM, FILE operand: the lines read are all delivered or dead-lettered" \
    cmp -s u.done <(head -n "$n" u.in | sort)

# A line cut short by a stage that died is never posted (to a sink that
# injects no faults).
start_sink clean --max-time 60
printf '{"id":"whole"}\n{"id":"cut' |
    closehook-post -q --retries 0 --dead-letter v.dl "$SINK_URL/v" >/dev/null \
    2>v.err
is "$?" 1 "post: a line cut short at the end of input is a reject"
is "$(jq -r '.body' clean.log)" '{"id":"whole"}' \
    "post: and only the whole line is sent"
is "$(cat v.err)" "" "post -q: no line about it"
printf '{"id":"whole"}\n{"id":"cut' |
    closehook-post --retries 0 --dead-letter v2.dl "$SINK_URL/v2" >/dev/null \
    2>v2.err
like "$(cat v2.err)" "*stdin:2: rejected: cut-short (no newline at the end of input, and not JSON)*" \
    "post: without -q, a message"
like "$(cat v2.err)" "*delivered 1, retried 0, dead-lettered 0, skipped 0, rejected 1;*" \
    "post: and counted as rejected in the summary"

# Stopped with its pipeline (systemctl stop signals every process): the
# reader may be gone before follow's last write.  Nothing it did not take
# was committed, so that is no error.
seq 50000 | awk '{ print "{\"n\":" $1 "}" }' >t.spool
mkfifo t.fifo
# shellcheck disable=SC2217 # the fifo is opened, not read: a reader that takes nothing
(exec sleep 60 <t.fifo) &
rpid=$!
closehook-follow --offset-file t.off t.spool >t.fifo 2>t.err &
fpid=$!
wait_open t.spool "$fpid"
sleep 0.3
kill -TERM "$rpid" "$fpid"
wait "$fpid"
is "$?:$(cat t.err)" "0:" "SIGTERM with its reader gone too: exit 0, no message"

# A pipeline without --commit at its end, run from cron with --once: the
# second run says why it starts over; with the end in place, nothing.
printf '{"n":1}\n' >nc.spool
closehook-follow --once --offset-file nc.off nc.spool | cat >/dev/null
closehook-follow --once --offset-file nc.off nc.spool 2>nc.err | cat >/dev/null
like "$(cat nc.err)" "*nc.spool: the last run's marks were never committed (there is no nc.off yet)*closehook-follow --commit nc.off" \
    "a run after one whose marks nobody committed says why it starts over"
for _ in 1 2; do
	closehook-follow --once --offset-file ncg.off nc.spool 2>>ncg.err |
	    closehook-follow --commit ncg.off >/dev/null
done
is "$(cat ncg.err)" "" "with --commit at the end: no such message"

# 5. Two followers on one offset file: the second refuses to start.
printf '{"n":1}\n' >o.spool
closehook-follow --offset-file o.off o.spool >/dev/null 2>&1 &
fpid=$!
at_exit "kill $fpid 2>/dev/null"
wait_open o.spool "$fpid"
run closehook-follow --once --offset-file o.off o.spool
is "$rc" 2 "a second follower on one offset file exits 2"
like "$err" "*o.off: in use by another closehook-follow (pid $fpid)*" \
    "naming the first one"
kill "$fpid"
wait "$fpid"
run closehook-follow --once --offset-file o.off o.spool
is "$rc:$out" '0:' "once the first one is gone, a follower starts (nothing new)"

# An offset that cannot be committed is refused before anything is
# written: each cron run would otherwise emit the whole file again.
mkdir ro
if [ "$(id -u)" -eq 0 ]; then
	mount -t tmpfs -o ro,size=64k tmpfs ro 2>/dev/null &&
	    at_exit "umount '$TMP/ro'"
else
	chmod 555 ro
fi
if touch ro/probe 2>/dev/null; then
	for _ in 1 2 3 4 5 6; do
		skip "no read-only directory here (mount failed)"
	done
else
	run closehook-follow --once --offset-file ro/x.off o.spool
	is "$rc:$out" "2:" "an offset file in a read-only directory: exit 2, nothing written"
	like "$err" "*cannot lock the offset file ro/x.off: *" \
	    "naming the offset file"
	closehook-follow --once --offset-file ro/x.off o.spool >o.out 2>o.err
	is "$?:$(cat o.out)" "2:" "the same into a file (written commits)"
	like "$(cat o.err)" "*ro/x.off*" "naming the offset file"
	run closehook-follow --commit ro/x.off </dev/null
	is "$rc" 2 "--commit into a read-only directory: exit 2"
	like "$err" "*cannot commit the offset to ro/x.off:*" "with the same message"
fi

# 6. --commit passes every other line through unchanged and commits the
# newest mark; a line that only looks like a mark is reported, not
# committed.  A last line without a newline (a stage died writing it) is
# dropped with a warning.
printf 'a\r\n\n{"closehook_mark":{"bad":1}}\nb\n' >m.in
run closehook-follow --commit m.off <m.in
is "$rc" 0 "--commit: exit 0"
is "$(printf '%s' "$out" | od -c | head -2)" \
    "$(printf 'a\r\n\nb' | od -c | head -2)" \
    "--commit: other lines unchanged"
like "$err" "*stdin:3: not a closehook-follow mark: ignored*" \
    "--commit: a malformed mark is reported"
ok "--commit: and not committed" [ ! -e m.off ]
printf '{"n":1}\n{"n":2,"cut' >m.in
closehook-follow --commit m.off <m.in >m.out 2>m.err
is "$?" 1 "--commit: a last line cut short: exit 1"
is "$(cat m.out)" '{"n":1}' "--commit: and only the whole lines go out"
like "$(cat m.err)" \
    "*stdin:2: cut short: no newline at the end of input: dropped*" \
    "--commit: with a warning naming the line"
# Longer than the half MiB held back: its start went out before the end of
# input, so a newline ends it (the output keeps whole lines).
{
	printf '{"n":1}\n{"long":"'
	head -c 600000 /dev/zero | tr '\0' x
} >m.in
closehook-follow --commit m.off <m.in >m.out 2>m.err
is "$?:$(wc -l <m.out):$(wc -c <m.out)" "1:2:$(($(wc -c <m.in) + 1))" \
    "--commit: a long line cut short is ended with a newline, exit 1"
like "$(cat m.err)" "*stdin:2: cut short: *passed on: ended with one*" \
    "--commit: and said so"
closehook-follow --once --offset-file o2.off o.spool | cat >o.marked
like "$(cat o.marked)" '*{"closehook_mark":{"dev":*,"offset":8,"lock":"*:*"}}' \
    "into a pipe, follow writes a mark after the lines"
closehook-follow --commit o2.off <o.marked >o.passed
is "$(cat o.passed)" '{"n":1}' "--commit takes the mark out"
like "$(cat o2.off)" '*"offset":8}' "and commits its position"
closehook-follow --once --offset-file o3.off o.spool | head -c -1 >o.nonl
closehook-follow --commit o3.off <o.nonl >o.passed 2>o.err
is "$?:$(cat o.passed):$(cat o.err)" '0:{"n":1}:' \
    "--commit: a last mark without its newline is taken, no warning"
like "$(cat o3.off)" '*"offset":8}' "and its position committed"
# A mark of the follower of another offset file (a typo in --commit) is
# not committed: the other pipeline would skip what it had not finished.
closehook-follow --commit o4.off <o.marked >o.passed 2>o.err
is "$?:$(cat o.passed)" '0:{"n":1}' "--commit FILE: the lines of another follower pass"
like "$(cat o.err)" "*stdin:2: a mark of a follower of another offset file: ignored; give closehook-follow --commit the file its --offset-file names*" \
    "its mark is refused, saying why"
ok "and nothing is committed" [ ! -e o4.off ]

# 7. The writer cuts a torn last line back (closehook-receive on a full
# disk) and appends anew: follow reads the new lines whole.
printf '{"n":1}\n{"n":2,"torn' >w.spool
closehook-follow --commit-interval 0 --offset-file w.off w.spool >w.out &
fpid=$!
at_exit "kill $fpid 2>/dev/null"
wait_open w.spool "$fpid"
sleep 0.3
truncate -s 8 w.spool
printf '{"n":3}\n{"n":4}\n' >>w.spool
for _ in $(seq 50); do
	[ "$(wc -l <w.out)" -ge 3 ] && break
	sleep 0.1
done
kill "$fpid"
wait "$fpid"
is "$?" 0 "a cut-back torn line: the follower goes on"
is "$(cat w.out)" '{"n":1}
{"n":3}
{"n":4}' "and writes the lines written anew, none spliced"

ok "every body the sinks got is whole JSON" \
    jq -e '.body | fromjson | true' sink.log

done_testing
