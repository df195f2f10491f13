#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-follow while a writer appends in random chunk sizes: every line
# exactly once, in order, never a partial line; SIGKILL between commits and
# a restart lose nothing and repeat only what followed the last commit;
# rotation by rename, while following and while stopped.
. "$(dirname "$0")/lib.sh"

cd "$TMP" || exit 1

# writer.py SPOOL N SEED [ROTATE_EVERY]: append N numbered lines of random
# length in random chunks (cut anywhere, even mid-line), with short pauses.
# With ROTATE_EVERY, every that many lines the spool is renamed to
# SPOOL.1 (SPOOL.1 to SPOOL.2 ...), a few more lines go to the old file,
# then the writer reopens SPOOL.  Writes all lines to SPOOL.all too.  Its
# pauses scale with CLOSEHOOK_SLOW, as the follower's pace does.
cat >writer.py <<'PY'
import os, random, sys, time
spool, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rot = int(sys.argv[4]) if len(sys.argv) > 4 else 0
slow = float(os.environ.get("CLOSEHOOK_SLOW", "1"))
rnd = random.Random(seed)
def op():
    return os.open(spool, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
fd = op()
allf = open(spool + ".all", "wb")
pending = b""
gen = 0
for i in range(1, n + 1):
    line = ('{"n":%d,"pad":"%s"}\n' % (i, "x" * rnd.randrange(0, 3000))).encode()
    allf.write(line)
    pending += line
    while len(pending) > rnd.randrange(1, 8192):
        k = rnd.randrange(1, len(pending) + 1)
        os.write(fd, pending[:k])
        pending = pending[k:]
        if rnd.random() < 0.05:
            time.sleep(0.002 * slow)
    if rot and i % rot == 0:
        os.write(fd, pending)
        pending = b""
        gen += 1
        for g in range(gen - 1, 0, -1):
            if os.path.exists("%s.%d" % (spool, g)):
                os.rename("%s.%d" % (spool, g), "%s.%d" % (spool, g + 1))
        os.rename(spool, spool + ".1")
        os.write(fd, b'{"late":%d}\n' % i)
        allf.write(b'{"late":%d}\n' % i)
        time.sleep(0.05 * slow)
        os.close(fd)
        fd = op()
os.write(fd, pending)
os.close(fd)
PY

# 1. A live writer in random chunks.
: >s1
closehook-follow --offset-file o1 s1 >out1 &
fpid=$!
python3 writer.py s1 3000 1
ok "the follower has every line" wait_lines out1 3000
kill -TERM "$fpid"
wait "$fpid"
is "$?" 0 "SIGTERM while following exits 0"
same_file out1 s1.all "every line exactly once, in order, none partial"
is "$(wc -c <s1)" "$(sed -E 's/.*"offset":([0-9]+).*/\1/' o1)" \
    "the committed offset is the end of the file"

# 2. SIGKILL between commits, then a restart.
: >s2
closehook-follow --commit-interval 200ms --offset-file o2 s2 >out2a &
fpid=$!
wait_open s2 "$fpid"
python3 writer.py s2 4000 2 &
wpid=$!
wait_lines out2a 1500
# Until a commit past the start.
for _ in $(seq 100); do
	grep -q '"offset":[1-9]' o2 2>/dev/null && break
	sleep 0.05
done
kill -KILL "$fpid"
wait "$fpid" 2>/dev/null
c=$(sed -E 's/.*"offset":([0-9]+).*/\1/' o2)
wait "$wpid"
p=$(wc -c <out2a)
ok "the killed follower had committed some of what it wrote ($c of $p)" \
    test "$c" -gt 0 -a "$c" -le "$p"
ok "what it wrote is a prefix of whole lines" \
    cmp -s out2a <(head -c "$p" s2.all)
ok "ending with a newline" ends_in_newline out2a
closehook-follow --once --offset-file o2 s2 >out2b
ok "the restart resumes exactly at the committed offset" \
    cmp -s out2b <(tail -c +"$((c + 1))" s2.all)
is "$(($(wc -l <out2a) + $(wc -l <out2b) - $(head -c "$p" s2.all | tail -c +"$((c + 1))" | wc -l)))" \
    4000 "nothing lost; repeats only since the last commit"

# 3. Rotation by rename while following (two rotations).
: >s3
closehook-follow --offset-file o3 s3 >out3 2>err3 &
fpid=$!
wait_open s3 "$fpid"
python3 writer.py s3 3000 3 1000
ok "the follower has every line through two rotations" wait_lines out3 3002
sleep 0.2
kill -TERM "$fpid"
wait "$fpid"
same_file out3 s3.all "old files read to their end, then the new one"
like "$(head -n 1 err3)" "closehook-follow: s3: rotated: *" \
    "each rotation is noted on stderr"
like "$(sed -E 's/.*"offset":([0-9]+).*/\1/' o3)" "$(wc -c <s3)" \
    "the offset names the new file"

# 4. Rotation while stopped: the rotated file is finished first.
printf 'a\nb\n' >s4
closehook-follow --once --offset-file o4 s4 >out4
printf 'c\nd\n' >>s4
mv s4 s4.1
printf 'e\n' >s4
closehook-follow --once --offset-file o4 s4 >>out4 2>err4
is "$(tr '\n' ' ' <out4)" "a b c d e " \
    "a restart after a rotation finishes the renamed file, then the new one"
closehook-follow --once --offset-file o4 s4 >out4b
is "$(wc -c <out4b)" 0 "and then resumes in the new file"

# 5. The polling fallback, when inotify is refused (strace injects the
# error; LeakSanitizer cannot run under ptrace).
if command -v strace >/dev/null 2>&1; then
	: >s5
	ASAN_OPTIONS=detect_leaks=0 \
	    strace -f -o /dev/null -e inject=inotify_init1:error=EMFILE \
	    closehook-follow s5 >out5 2>/dev/null &
	spid=$!
	wait_open s5 "$spid"
	python3 writer.py s5 1000 5 600
	ok "without inotify, polling follows every line" wait_lines out5 1001
	kill -TERM "$(pgrep -P "$spid")"
	wait "$spid"
	is "$?" 0 "and SIGTERM still exits 0"
	same_file out5 s5.all "in order, through a rotation"
fi

done_testing
