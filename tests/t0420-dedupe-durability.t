#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-dedupe durability and sharing on SQLite: two processes on one
# store pass each key once in total; SIGKILL mid-stream then a rerun loses
# nothing and leaves a sound store; a lone record leaves at once and its
# key is committed while the input stays open; two processes creating a
# store at once.
. "$(dirname "$0")/lib.sh"
set -e

ids() { seq "$1" "$2" | sed 's/.*/{"event":{"id":"ev_&","date_updated":"u"}}/'; }

# Two processes, overlapping input, one store.
db="$TMP/shared.sqlite"
ids 1 30000 >"$TMP/a"
ids 10001 40000 >"$TMP/b"
closehook-dedupe --store "$db" </dev/null
closehook-dedupe --store "$db" "$TMP/a" >"$TMP/oa" 2>"$TMP/ea" &
pa=$!
closehook-dedupe --store "$db" "$TMP/b" >"$TMP/ob" 2>"$TMP/eb" &
pb=$!
wait "$pa" && ra=0 || ra=$?
wait "$pb" && rb=0 || rb=$?
is "$ra:$rb" "0:0" "both processes succeed"
is "$(cat "$TMP/oa" "$TMP/ob" | wc -l)" 40000 \
    "together they pass exactly the 40000 distinct keys"
is "$(cat "$TMP/oa" "$TMP/ob" | sort -u | wc -l)" 40000 "each key once"
echo "# split: $(wc -l <"$TMP/oa") + $(wc -l <"$TMP/ob")"

# SIGKILL at several moments, then a rerun: every record was passed by one
# of the runs, and the store is sound.  Repeats are allowed (at most the
# transaction that was in flight, 262144 keys: the input is longer).
ids 1 600000 >"$TMP/big"
for delay in 0.05 0.2 0.4; do
	db="$TMP/kill-$delay.sqlite"
	closehook-dedupe --store "$db" "$TMP/big" >"$TMP/k1" &
	pid=$!
	sleep "$delay"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	# A torn last line's key was not committed (that comes after the
	# write), so the rerun passes it.
	cut_torn "$TMP/k1"
	first=$(wc -l <"$TMP/k1")
	closehook-dedupe --store "$db" "$TMP/big" >"$TMP/k2"
	is "$(cat "$TMP/k1" "$TMP/k2" | sort -u | wc -l)" 600000 \
	    "killed after ${delay}s ($first passed): the rerun passes the rest"
	rep=$(($(cat "$TMP/k1" "$TMP/k2" | wc -l) - 600000))
	ok "repeats ($rep) stay within one transaction (262144 keys)" \
	    test "$rep" -le 262144
	is "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("pragma integrity_check").fetchone()[0])' "$db")" \
	    ok "PRAGMA integrity_check is ok"
done

# A lone record on a pipe that stays open: it comes out at once, and its key
# is committed before the next input arrives.
db="$TMP/lone.sqlite"
mkfifo "$TMP/fifo"
closehook-dedupe --store "$db" <"$TMP/fifo" >"$TMP/lone.out" &
pid=$!
exec 3>"$TMP/fifo"
echo '{"event":{"id":"ev_lone"}}' >&3
for _ in $(seq 100); do
	[ -s "$TMP/lone.out" ] && break
	sleep 0.02
done
is "$(cat "$TMP/lone.out")" '{"event":{"id":"ev_lone"}}' \
    "a lone record is written while the input stays open"
for _ in $(seq 100); do
	run closehook-dedupe --store "$db" --mode check \
	    <<<'{"event":{"id":"ev_lone"}}'
	[ -z "$out" ] && break
	sleep 0.02
done
is "$out" "" "its key is committed while the input stays open"
echo '{"event":{"id":"ev_lone"}}' >&3
exec 3>&-
wait "$pid"
is "$(wc -l <"$TMP/lone.out")" 1 "its repeat is dropped"

# A store held by another writer: the wait is bounded and reported.
db="$TMP/busy.sqlite"
closehook-dedupe --store "$db" </dev/null
python3 - "$db" "$TMP/locked" "$(slow 4)" <<'PY' &
import sqlite3, sys, time, os
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
c.execute("COMMIT")
PY
py=$!
for _ in $(seq 100); do [ -e "$TMP/locked" ] && break; sleep 0.05; done
run closehook-dedupe --store "$db" --busy-timeout 300ms \
    <<<'{"event":{"id":"ev_busy"}}'
is "$rc" 2 "a store locked beyond --busy-timeout: exit 2"
like "$err" "*store locked by another process for more than 300 ms*" \
    "reported as such"
is "$out" "" "and nothing passed"
run closehook-dedupe --store "$db" --busy-timeout "$(slow 10)s" \
    <<<'{"event":{"id":"ev_busy"}}'
is "$rc:$out" '0:{"event":{"id":"ev_busy"}}' "a longer wait gets through"
like "$err" "*store busy: waiting for another process*" \
    "and says it waited"
wait "$py"

# A pipeline's check and record stages open a new store at the same
# moment: both switch it to WAL, and the one that loses waits (SQLite
# answers it "busy" without its busy handler).  Fifty fresh stores.
bad=0
for i in $(seq 50); do
	closehook-dedupe --store "$TMP/fresh$i.sqlite" --mode check \
	    <<<'{"event":{"id":"a"}}' >/dev/null 2>"$TMP/f1.err" &
	p1=$!
	closehook-dedupe --store "$TMP/fresh$i.sqlite" --mode record \
	    <<<'{"event":{"id":"a"}}' >/dev/null 2>"$TMP/f2.err" &
	p2=$!
	wait "$p1" && r1=0 || r1=$?
	wait "$p2" && r2=0 || r2=$?
	[ "$r1:$r2" = 0:0 ] || { bad=$((bad + 1)); cat "$TMP/f1.err" "$TMP/f2.err" >&2; }
done
is "$bad" 0 "two processes opening a new store at once both succeed (50 tries)"

done_testing
