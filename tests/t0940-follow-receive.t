#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-follow on closehook-receive's spool under load: concurrent
# senders, receive's stdout closed, one SIGHUP rotation midway; the
# follower writes every acknowledged capture exactly once, in order of the
# spool, never a partial line.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"

command -v closehook-receive >/dev/null 2>&1 ||
	skip_all "closehook-receive is not built"
cd "$TMP" || exit 1

python3 "$TOP/bench/gen" --format payloads --count 2000 --seed 9 >bodies
RECV_STDOUT=closed start_receive recv --spool "$TMP/spool" -q ||
	skip_all "closehook-receive does not start"
closehook-follow --commit-interval 100ms --offset-file off spool \
    >followed 2>follow.err &
fpid=$!
at_exit "kill -KILL $fpid 2>/dev/null"
wait_open spool "$fpid"

send_events "$RURL/" <(head -n 1000 bodies) --concurrency 8
is "$?" 0 "the first 1000 events are acknowledged"
mv spool spool.1
kill -HUP "$RPID"
sleep 0.2
send_events "$RURL/" <(tail -n 1000 bodies) --concurrency 8
is "$?" 0 "the next 1000, after a rotation, too"

for _ in $(seq 100); do
	[ "$(wc -l <followed)" -ge 2000 ] && break
	sleep 0.1
done
kill -TERM "$fpid"
wait "$fpid"
is "$?" 0 "the follower stops cleanly"
cat spool.1 spool >spooled
same_file followed spooled "the follower wrote both spools, whole, in order"
bodies_of followed | sort >got
sort bodies >want
same_file got want "every acknowledged event exactly once"
ok "the rotation was noted" grep -q 'rotated' follow.err
stop_receive ""
is "$rc" 0 "closehook-receive stops cleanly"

# A sync of the spool that fails (tests/fakes/failsync.c, while a flag file
# exists): receive answers 503 but keeps the whole line, which the follower
# may have delivered and committed already.  Cut off, its place would go to
# the next capture (of the same length here), under the follower's offset:
# skipped.
body() { printf '{"event":{"id":"%s"}}' "$1"; }
offset_of() { jq -r .offset "$1" 2>/dev/null; }
if ! cc -shared -fPIC -o failsync.so "$TOP/tests/fakes/failsync.c" -ldl \
    2>cc.err; then
	skip "a failed sync under a follower" \
	    "cannot build the fake: $(head -n 1 cc.err)"
else
	mkdir s
	export FAILSYNC_FLAG=$TMP/failsync
	LD_PRELOAD=$TMP/failsync.so \
	    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	    RECV_STDOUT=closed start_receive s --spool "$TMP/s/spool"
	closehook-follow --commit-when written --commit-interval 10ms \
	    --offset-file s/off s/spool >s/followed 2>s/follow.err &
	spid=$!
	at_exit "kill -KILL $spid 2>/dev/null"
	wait_open s/spool "$spid"
	is "$(post --data-binary "$(body s1)" "$RURL/")" 200 "a capture"
	touch "$FAILSYNC_FLAG"
	is "$(post --data-binary "$(body s2)" "$RURL/")" 503 \
	    "a capture whose sync failed: 503"
	ok "the follower delivers it, whole" wait_lines s/followed 2
	for _ in $(seq 100); do
		[ "$(offset_of s/off)" = "$(stat -c %s s/spool)" ] && break
		sleep 0.1
	done
	is "$(offset_of s/off)" "$(stat -c %s s/spool)" "and commits past it"
	rm "$FAILSYNC_FLAG"
	is "$(post --data-binary "$(body s3)" "$RURL/")" 200 \
	    "once syncs work: 200"
	ok "the follower delivers the next capture too" wait_lines s/followed 3
	kill -TERM "$spid"
	wait "$spid"
	is "$?" 0 "the follower stops cleanly"
	is "$(bodies_of s/followed | jq -r .event.id | tr '\n' ' ')" \
	    "s1 s2 s3 " "it wrote all three, whole, in order"
	is "$(bodies_of s/spool | jq -r .event.id | tr '\n' ' ')" "s1 s2 s3 " \
	    "the spool keeps the capture answered 503"
	is "$(offset_of s/off)" "$(stat -c %s s/spool)" \
	    "the committed offset is the spool's end"
	stop_receive
	is "$rc" 0 "closehook-receive stops cleanly"

	# The follower syncs the spool before it commits a position in it:
	# a sync of the spool (only: FAILSYNC_PATH) that fails commits
	# nothing.
	cp s/off s/off.before
	capture "$KAV_TS" "$KAV_SIG" "$(body s4)" >>s/spool
	touch "$FAILSYNC_FLAG"
	FAILSYNC_PATH=$(realpath s/spool) LD_PRELOAD=$TMP/failsync.so \
	    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	    run bash -c 'set -o pipefail; closehook-follow --once \
	    --commit-when written --offset-file s/off s/spool | cat'
	rm "$FAILSYNC_FLAG"
	is "$rc" 2 "a spool that cannot be synced: exit 2"
	like "$err" "*s/spool: cannot sync it, so its position is not committed: Input/output error*" \
	    "says why"
	is "$(bodies_of "$TMP/out" | jq -r .event.id)" s4 \
	    "the line was written"
	same_file s/off s/off.before "the offset stays before it"
	unset FAILSYNC_FLAG
fi

done_testing
