#!/bin/bash
# shellcheck disable=SC2016,SC2119,SC2154 # run sets rc, out and err
# The second core (common/recloop.h): verify, flatten and dedupe share a
# backlog of lines with a second thread, and must write exactly what they
# write on one (CLOSEHOOK_CORES=1): the same stdout, byte for byte and in
# order, the same messages, rejects file, store and exit status - with
# rejects, marks, blank and over-long lines, pages, keys that need jq and
# repeats mixed in among thousands of lines.  A lone line never starts the
# second thread; a backlog does.
. "$(dirname "$0")/lib.sh"

MARK='{"closehook_mark":{"dev":1,"ino":2,"head_len":0,"head_fnv1a64":"cbf29ce484222325","offset":'

# mix IN OUT: IN with a mark after every 400th line, a blank line, a line
# that is not JSON and an over-long line (over --max-line 60000) mixed in.
mix() {
	python3 - "$1" "$2" "$MARK" <<-'EOF'
	import sys
	src, dst, mark = sys.argv[1:]
	with open(src) as f, open(dst, "w") as o:
	    for n, line in enumerate(f, 1):
	        o.write(line)
	        if n % 400 == 0:
	            o.write(mark + str(n) + "}}\n")
	        if n == 777:
	            o.write("\nnot json {\n")
	        if n == 1500:
	            o.write('{"long":"' + "x" * 70000 + '"}\n')
	EOF
}

# both NAME CMD...: run CMD on $TMP/in.NAME twice, on one core and on two,
# keeping stdout, stderr and the exit status of each; they must be equal,
# and the output must hold something.
both() {
	local name=$1
	shift
	CLOSEHOOK_CORES=1 "$@" <"$TMP/in.$name" >"$TMP/$name.out1" \
	    2>"$TMP/$name.err1"
	echo $? >"$TMP/$name.rc1"
	"$@" <"$TMP/in.$name" >"$TMP/$name.out2" 2>"$TMP/$name.err2"
	echo $? >"$TMP/$name.rc2"
	same_file "$TMP/$name.out1" "$TMP/$name.out2" "$name: stdout the same"
	same_file "$TMP/$name.err1" "$TMP/$name.err2" "$name: stderr the same"
	same_file "$TMP/$name.rc1" "$TMP/$name.rc2" "$name: exit status the same"
	ok "$name: wrote records" [ "$(wc -l <"$TMP/$name.out1")" -gt 1000 ]
}

cd "$TMP" || exit 1

# -- verify ---------------------------------------------------------------
python3 "$TOP/bench/gen" --count 4000 --seed 7 --timestamp 1764000000 \
    --rate 100 --bad-rate 0.05 --dup-rate 0.02 --keys-out keys \
    >caps.raw
mix caps.raw in.verify
V=(closehook-verify --secret-file keys --now 1764000020 --max-age 400
	--max-line 60000)
both verify "${V[@]}" --explain --summary
is "$(grep -o 'rejected: [a-z-]*' verify.err1 | sort -u | wc -l)" 6 \
    "verify: six kinds of reject in the mix"
like "$(cat verify.err1)" "*line-too-long*" "verify: an over-long line too"
is "$(grep -c closehook_mark verify.out2)" 10 "verify: the marks passed on"
CLOSEHOOK_CORES=1 "${V[@]}" -q --rejects rej1 <in.verify >/dev/null
"${V[@]}" -q --rejects rej2 <in.verify >/dev/null
same_file rej1 rej2 "verify: the rejects file the same"

# Several subscriptions, one mid-rotation (a third of its captures signed
# with the previous key), some bodies in base64: captures are verified two
# at a time on each thread (closesig_check_pair), a second key tried after
# the pair; with the keys bound to their subscriptions, and with every key
# applying to every capture.  (A capture a pair turns down is judged again
# alone, so what can differ here is a pair passing one it should not;
# test-closesig checks the pair's answers themselves.)
python3 "$TOP/bench/gen" --count 4000 --seed 9 --timestamp 1764000000 \
    --rate 100 --subscriptions 3 --rotating 1 --rotate-rate 0.3 \
    --base64-rate 0.05 --bad-rate 0.05 --keys-out keys3 >rot.raw
mix rot.raw in.verify-bound
cp in.verify-bound in.verify-unbound
awk '{ print $2 }' keys3 >keys3u
V3=(closehook-verify --now 1764000020 --max-age 400 --max-line 60000
	--explain --summary)
both verify-bound "${V3[@]}" --secret-file keys3
both verify-unbound "${V3[@]}" --secret-file keys3u
is "$(grep -c 'rejected: signature-mismatch' verify-bound.err1)" \
    "$(grep -c 'rejected: signature-mismatch' verify-unbound.err1)" \
    "verify: bound or not, the same mismatches"

# -- flatten --------------------------------------------------------------
python3 "$TOP/bench/gen" --count 4000 --seed 8 --timestamp 1764000000 \
    --rate 100 --format payloads >pay.raw
{
	head -n 1000 pay.raw
	# A key produced twice, a name to escape, an event page, not an object.
	echo '{"a.b":1,"a":{"b":2}}'
	printf '%s\n' '{"tab\there":1,"q\"uote":{"x":[1,2]}}'
	printf '{"data":[%s,%s],"cursor_next":null}\n' \
	    "$(sed -n 2p pay.raw | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["event"]))')" \
	    "$(sed -n 3p pay.raw | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["event"]))')"
	echo '[1,2]'
	tail -n 3000 pay.raw
} >pay.mixed
mix pay.mixed in.flatten
both flatten closehook-flatten --max-line 60000
like "$(cat flatten.err1)" "*produced more than once*" \
    "flatten: the collision warned about once"
ok "flatten: the escaped name written" grep -q 'tab\\there' flatten.out2
cp in.flatten in.flatten-dates
both flatten-dates closehook-flatten --max-line 60000 --dates epoch --sql-names

# -- dedupe ---------------------------------------------------------------
{
	cat pay.mixed
	# Repeats of earlier lines, a key jq must print (a big id), no key.
	head -n 2500 pay.raw | tail -n 1500
	echo '{"event":{"id":12345678901234567890,"date_updated":"x"}}'
	echo '{"event":{"id":12345678901234567890,"date_updated":"x"}}'
	echo '{"event":{"object_type":"lead"}}'
} >pay.dd
mix pay.dd in.dedupe
rm -f s1.sqlite* s2.sqlite*
CLOSEHOOK_CORES=1 closehook-dedupe --store s1.sqlite --max-line 60000 \
    --stats <in.dedupe >dedupe.out1 2>dedupe.err1
echo $? >dedupe.rc1
closehook-dedupe --store s2.sqlite --max-line 60000 --stats \
    <in.dedupe >dedupe.out2 2>dedupe.err2
echo $? >dedupe.rc2
same_file dedupe.out1 dedupe.out2 "dedupe: stdout the same"
same_file dedupe.err1 dedupe.err2 "dedupe: stderr the same"
same_file dedupe.rc1 dedupe.rc2 "dedupe: exit status the same"
ok "dedupe: repeats dropped" \
    [ "$(wc -l <dedupe.out2)" -lt "$(wc -l <in.dedupe)" ]
is "$(grep -c 12345678901234567890 dedupe.out2)" 1 \
    "dedupe: a key only jq can print, passed once"
keys() {
	python3 -c 'import sqlite3, sys
for (k,) in sqlite3.connect(sys.argv[1]).execute(
        "SELECT hex(key) FROM seen ORDER BY key"):
    print(k)' "$1"
}
is "$(keys s2.sqlite | md5sum)" "$(keys s1.sqlite | md5sum)" \
    "dedupe: the same keys stored"
# A second run over the same store passes nothing but the marks.
closehook-dedupe --store s2.sqlite --max-line 60000 <in.dedupe \
    >dedupe.again 2>/dev/null
# The four records without a key: three of flatten's and the last.
is "$(grep -vc closehook_mark dedupe.again)" 4 \
    "dedupe: a second run passes only the records without a key"
is "$(grep -c closehook_mark dedupe.again)" 13 "dedupe: and the marks"

# -- dedupe's store thread -------------------------------------------------
# Without marks, blocks fill up, and a SQLite store's keys are judged on a
# thread of their own while the next block fills.  Each mode must write
# what it writes on one core, and leave the same keys stored, with repeats
# within blocks, across blocks, and of keys stored before the run.
{
	grep -v closehook_mark in.dedupe
	cat pay.raw
} >in.blocks
head -n 3000 pay.raw | closehook-dedupe --store seed.sqlite >/dev/null
# dd_both NAME ARGS...: closehook-dedupe ARGS on in.blocks, on one core and
# on two, each with a copy of seed.sqlite as its store.
dd_both() {
	local name=$1 c
	shift
	for c in 1 2; do
		rm -f "s$c.sqlite"*
		cp seed.sqlite "s$c.sqlite"
		CLOSEHOOK_CORES=$c closehook-dedupe --store "s$c.sqlite" \
		    --max-line 60000 --stats "$@" <in.blocks >"$name.out$c" \
		    2>"$name.err$c"
		echo $? >"$name.rc$c"
	done
	same_file "$name.out1" "$name.out2" "$name: stdout the same"
	same_file "$name.err1" "$name.err2" "$name: stderr the same"
	same_file "$name.rc1" "$name.rc2" "$name: exit status the same"
	is "$(keys s2.sqlite | md5sum)" "$(keys s1.sqlite | md5sum)" \
	    "$name: the same keys stored"
}
dd_both blocks-filter
# Each key not in the seed once: those of pay.raw past its first 3000
# lines, counted here, then the big id and the four records without a key.
fresh=$(python3 -c 'import json, sys
key = lambda l: (lambda e: (e["id"], e["date_updated"]))(json.loads(l)["event"])
lines = open(sys.argv[1]).readlines()
seed = {key(l) for l in lines[:3000]}
print(len({key(l) for l in lines[3000:]} - seed))' pay.raw)
is "$(wc -l <blocks-filter.out2)" $((fresh + 5)) \
    "blocks-filter: each key not stored before, once"
dd_both blocks-invert --invert
dd_both blocks-record --mode record
dd_both blocks-check --mode check
# Marks that come while a full block is being judged: each passes on after
# the records before it, in place.
python3 -c '
import sys
mark = sys.argv[1]
for n, line in enumerate(sys.stdin, 1):
    sys.stdout.write(line)
    if n % 2500 == 0:
        sys.stdout.write(mark + str(n) + "}}\n")
' "$MARK" <in.blocks >in.marks
cp in.blocks in.plain
cp in.marks in.blocks
dd_both blocks-marks
cp in.plain in.blocks
is "$(grep -c closehook_mark blocks-marks.out2)" \
    "$(grep -c closehook_mark in.marks)" "blocks-marks: every mark passed"
is "$(grep -v closehook_mark blocks-marks.out2 | md5sum)" \
    "$(md5sum <blocks-filter.out2)" \
    "blocks-marks: the records of a run without them"
# Two input files, the first ending right after the record that hands its
# first full block (4096 records) over: that block is judged and written
# while the second file is read.  Repeats cross the files.
ids() { seq "$1" "$2" | sed 's/.*/{"event":{"id":"ev_&","date_updated":"u"}}/'; }
ids 1 4097 >part1
{
	ids 4000 9000
	cat in.blocks
} >part2
for c in 1 2; do
	rm -f "s$c.sqlite"*
	CLOSEHOOK_CORES=$c closehook-dedupe --store "s$c.sqlite" \
	    --max-line 60000 part1 part2 >"files.out$c" 2>"files.err$c"
done
same_file files.out1 files.out2 "two files: stdout the same"
same_file files.err1 files.err2 "two files: stderr the same"
is "$(grep -c '"ev_[0-9]*"' files.out2)" 9000 "two files: each id once"
is "$(keys s2.sqlite | md5sum)" "$(keys s1.sqlite | md5sum)" \
    "two files: the same keys stored"
# check mode: a key stored but expired passes once, and its repeat blocks
# later is a repeat of that pass, not another expired key.
ids 1 1 | closehook-dedupe --store exp.sqlite --now 1000 --ttl 1s >/dev/null
{
	ids 1 1
	ids 2 5000
	ids 1 1
} >exp.in
for c in 1 2; do
	CLOSEHOOK_CORES=$c closehook-dedupe --store exp.sqlite --mode check \
	    --now 5000 --stats <exp.in >"exp.out$c" 2>"exp.err$c"
done
same_file exp.out1 exp.out2 "expired key: stdout the same"
same_file exp.err1 exp.err2 "expired key: stderr the same"
is "$(grep -c '"ev_1"' exp.out2)" 1 "expired key: passed once"
like "$(cat exp.err2)" "*expired 1,*" "expired key: counted once"
ok "blocks-check: repeats across blocks dropped" \
    [ "$(wc -l <blocks-check.out2)" -lt 1200 ]

# -- when the second thread runs ------------------------------------------
# threads PID: the number of threads of process PID.
threads() { find "/proc/$1/task" -mindepth 1 -maxdepth 1 | wc -l; }
mkfifo fifo
closehook-flatten <fifo >lone.out 2>/dev/null &
pid=$!
exec 7>fifo
head -n 1 pay.raw >&7
wait_for() { timeout "$(slow 10)" sh -c "until [ -s $1 ]; do sleep 0.05; done"; }
wait_for lone.out
is "$(threads "$pid")" 1 "a lone line: one thread"
cat pay.raw >&7
sleep "$(slow 0.5)"
is "$(threads "$pid")" 2 "a backlog: a second thread"
exec 7>&-
wait "$pid"
is "$?" 0 "flatten after the backlog: exit 0"
is "$(wc -l <lone.out)" 4001 "flatten: every record out"

# dedupe on SQLite: the second thread is the store's, started by the first
# full block, never by a lone record.
rm -f fifo
mkfifo fifo
closehook-dedupe --store lone.sqlite <fifo >lone.dd 2>/dev/null &
pid=$!
exec 7>fifo
head -n 1 pay.raw >&7
wait_for lone.dd
is "$(threads "$pid")" 1 "dedupe, a lone line: one thread"
cat pay.raw pay.raw >&7
sleep "$(slow 0.5)"
is "$(threads "$pid")" 2 "dedupe, a backlog: the store thread"
exec 7>&-
wait "$pid"
is "$?" 0 "dedupe after the backlog: exit 0"
is "$(wc -l <lone.dd)" "$(python3 -c 'import json, sys
print(len({(lambda e: (e["id"], e["date_updated"]))(json.loads(l)["event"])
    for l in open(sys.argv[1])}))' pay.raw)" "dedupe: each key once"

done_testing
