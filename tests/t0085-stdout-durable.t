#!/bin/bash
# Standard output redirected into a regular file is on disk before the
# checkpoint that covers it (out_durable): dedupe fdatasyncs it before each
# commit of keys, backfill before each checkpoint (and `backfill --commit`
# before each checkpoint a mark carried), follow before each offset it
# commits for what it wrote.  strace shows the order of the
# system calls; into a pipe there is nothing to sync, and no fdatasync of
# stdout is made.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/close.sh"

command -v strace >/dev/null 2>&1 || skip_all "no strace"
slowed && skip_all "$SLOW_SKIP: strace of a program under valgrind"
strace -f -o /dev/null true 2>/dev/null || skip_all "strace cannot trace here"

# synced_before LOG PATTERN: every system call matching PATTERN (the
# checkpoint's write) that comes after a write to stdout has an fdatasync
# of stdout between the two.  Prints the offending line, if any; the
# count of checkpoints and syncs seen goes to fd 3.
synced_before() {
	awk -v pat="$2" '
		/ (write|writev|pwrite64)\(1</ { dirty = 1 }
		/ fdatasync\(1</ { dirty = 0; syncs++ }
		$0 ~ pat { n++; if (dirty) { print; exit } }
		END { printf "%d %d\n", n, syncs > "/dev/fd/3" }' "$1"
}

# in_order NAME LOG PATTERN MIN: LOG shows more than MIN checkpoints
# (PATTERN), each after a sync of what went to stdout before it.
in_order() {
	local bad n s
	bad=$(synced_before "$2" "$3" 3>"$TMP/n")
	is "$bad" "" "$1: no checkpoint before stdout was synced"
	read -r n s <"$TMP/n"
	ok "$1: checkpoints ($n) came after syncs ($s)" \
	    test "$((n > $4 && s > 0))" = 1
}

# -- dedupe: records on disk before their keys are committed ------------
seq 1 3000 | sed 's/.*/{"event":{"id":"ev_&","date_updated":"u"}}/' \
    >"$TMP/in"
strace -f -y -o "$TMP/dd.log" -e trace=write,writev,pwrite64,fdatasync \
    closehook-dedupe --store "$TMP/dd.sqlite" "$TMP/in" >"$TMP/dd.out"
is "$(wc -l <"$TMP/dd.out")" 3000 "dedupe into a file: every record written"
in_order "dedupe (its store's WAL)" "$TMP/dd.log" 'pwrite64\\([0-9]+<[^>]*-wal>' 0

# A second run over the same keys writes nothing: nothing to sync.
strace -f -y -o "$TMP/dd2.log" -e trace=fdatasync \
    closehook-dedupe --store "$TMP/dd.sqlite" "$TMP/in" >"$TMP/dd2.out"
is "$(wc -l <"$TMP/dd2.out")" 0 "dedupe again: every record a repeat"
is "$(grep -c ' fdatasync(1<' "$TMP/dd2.log")" 0 \
    "dedupe: no sync of stdout that nothing was written to"

# Into a pipe: no fdatasync of stdout.
strace -f -y -o "$TMP/dd3.log" -e trace=fdatasync \
    closehook-dedupe --store "$TMP/dd3.sqlite" "$TMP/in" | cat >"$TMP/dd3.out"
is "$(wc -l <"$TMP/dd3.out")" 3000 "dedupe into a pipe: every record"
is "$(grep -c ' fdatasync(1<' "$TMP/dd3.log")" 0 \
    "dedupe into a pipe: stdout is not synced"

# -- backfill: records on disk before each checkpoint --------------------
fake_start --count 300 --seed 5
strace -f -y -o "$TMP/bf.log" -e trace=write,writev,fdatasync,rename \
    closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st" -q \
    >"$TMP/bf.out"
fake_events "$TMP/want"
is "$(wc -l <"$TMP/bf.out")" "$(wc -l <"$TMP/want")" \
    "backfill into a file: every event written"
in_order backfill "$TMP/bf.log" 'rename\\(.*/st"' 2
is "$(jq -r .status "$TMP/st")" complete "backfill: the state is complete"

strace -f -y -o "$TMP/bf2.log" -e trace=fdatasync \
    closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st2" -q |
    cat >"$TMP/bf2.out"
is "$(wc -l <"$TMP/bf2.out")" "$(wc -l <"$TMP/want")" \
    "backfill into a pipe: every event"
is "$(grep -c ' fdatasync(1<' "$TMP/bf2.log")" 0 \
    "backfill into a pipe: stdout is not synced"

# backfill --commit at a pipeline's end: what it passed on is on disk
# before the checkpoint a mark carried is written.
closehook-backfill --api-url "$FAKE_URL" --state "$TMP/sc" --commit-when acked \
    -q >"$TMP/marked"
strace -f -y -o "$TMP/bc.log" -e trace=write,writev,fdatasync,rename \
    closehook-backfill --commit "$TMP/sc" <"$TMP/marked" >"$TMP/bc.out"
is "$(wc -l <"$TMP/bc.out")" "$(wc -l <"$TMP/want")" \
    "backfill --commit into a file: every event passed on"
in_order "backfill --commit" "$TMP/bc.log" 'rename\\(.*/sc"' 0

# -- follow: what it wrote is on disk before its offset ------------------
seq 1 2000 | sed 's/.*/{"n":&}/' >"$TMP/spool"
strace -f -y -o "$TMP/fo.log" -e trace=write,writev,fdatasync,rename \
    closehook-follow --once --offset-file "$TMP/off" "$TMP/spool" \
    >"$TMP/fo.out"
same_file "$TMP/fo.out" "$TMP/spool" "follow into a file: every line"
in_order "follow (its offset)" "$TMP/fo.log" 'rename\\(.*/off"' 0

done_testing
