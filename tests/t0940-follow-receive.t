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

done_testing
