#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-follow fan-out: two followers of one spool, each with its own
# offset file; one downstream stops reading, the other keeps progressing and
# the writer is never slowed.  The stuck one resumes from its own offset.
. "$(dirname "$0")/lib.sh"

cd "$TMP" || exit 1

: >spool
mkfifo stuck
# Nobody reads the fifo after opening it: the first follower blocks once
# the pipe buffer is full.
command sleep 60 <>stuck &
spid=$!
at_exit "kill $spid 2>/dev/null"
# --commit-when written: what this test looks at is the offset of what
# went into the fifo (t0950 covers the acknowledged commits of a pipeline).
closehook-follow --commit-interval 100ms --commit-when written \
    --offset-file a.off spool >stuck 2>a.err &
apid=$!
at_exit "kill -KILL $apid 2>/dev/null"
closehook-follow --commit-interval 100ms --offset-file b.off spool >b.out &
bpid=$!
wait_open spool "$apid"
wait_open spool "$bpid"

# 4 MiB in 2000 lines, far more than a pipe holds.
ok "the writer is not slowed by the stuck follower" timeout 20 python3 -c '
import os, time
slow = float(os.environ["CLOSEHOOK_SLOW"])
fd = os.open("spool", os.O_WRONLY | os.O_APPEND)
for i in range(2000):
    os.write(fd, b"{\"n\":%d,\"pad\":\"%s\"}\n" % (i, b"y" * 2048))
    if i % 100 == 0:
        time.sleep(0.01 * slow)
'
for _ in $(seq 100); do
	[ "$(wc -l <b.out)" -ge 2000 ] && break
	sleep 0.1
done
same_file b.out spool "the other follower got every line"
sleep 0.3
size=$(wc -c <spool)
aoff=$(sed -E 's/.*"offset":([0-9]+).*/\1/' a.off)
boff=$(sed -E 's/.*"offset":([0-9]+).*/\1/' b.off)
is "$boff" "$size" "the progressing follower committed the end"
ok "the stuck follower's offset stays behind" test "$aoff" -lt "$size"
ok "the stuck follower is still running" kill -0 "$apid"

# Its downstream goes away: the follower sees the broken pipe, commits
# what it had flushed and exits 2.
kill "$spid"
wait "$apid"
is "$?" 2 "a broken downstream pipe is a fatal output error"
like "$(cat a.err)" "*stdout*" "reported on stderr"
aoff=$(sed -E 's/.*"offset":([0-9]+).*/\1/' a.off)
# 0 when the pipe filled before its first commit could flush (the writer's
# lines came faster than the commit interval): the start is a boundary too.
at_boundary() {
	[ "$1" -eq 0 ] ||
	    [ "$(head -c "$1" spool | tail -c 1 | od -An -c | tr -d ' ')" = '\n' ]
}
ok "its offset is on a line boundary ($aoff)" at_boundary "$aoff"
run closehook-follow --once --offset-file a.off spool
printf '%s\n' "$out" >a.rest
ok "a restart resumes from its own offset to the end" \
    cmp -s a.rest <(tail -c +"$((aoff + 1))" spool)

kill -TERM "$bpid"
wait "$bpid"
is "$?" 0 "the other follower stops cleanly"

done_testing
