#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-dedupe: pass-through byte for byte, repeats dropped across runs,
# the default key (event id + date_updated), pages, bare events, the three
# modes, --invert, --stats, --namespace, TTL expiry with --now, rejects.
. "$(dirname "$0")/lib.sh"
set -e

db="$TMP/seen.sqlite"
dd() { closehook-dedupe --store "$db" "$@"; }

# Odd spacing, key order and escapes must survive: pass-through is bytes.
a='{"subscription_id":"whsub_1", "event": {"id":"ev_a","date_updated":"2026-11-26T10:00:00.000000","n":1.50e3,"s":"\u00e9\/"}}'
a2='{"event":{"date_updated":"2026-11-26T10:00:00.000000","id":"ev_a"},"subscription_id":"whsub_2"}'
a_new='{"subscription_id":"whsub_1","event":{"id":"ev_a","date_updated":"2026-11-26T10:05:00.000000"}}'
b='{"subscription_id":null,"event":{"id":"ev_b","date_updated":null}}'
printf '%s\n' "$a" "$a" "$a2" "$a_new" "$b" "$b" >"$TMP/in"
run dd "$TMP/in"
is "$rc" 0 "exit 0"
is "$out" "$(printf '%s\n' "$a" "$a_new" "$b")" \
    "first of each (id, date_updated) passes, byte for byte, in order"
is "$err" "" "nothing on stderr"

run dd "$TMP/in"
is "$out" "" "a second run drops everything: the store persists"
printf '%s\n' "$a" | dd --namespace other >"$TMP/o"
is "$(cat "$TMP/o")" "$a" "another --namespace has its own keys"

# Bare events pass as they are; a page becomes one wrapped record per event.
bare='{"id":"ev_c","date_updated":"x","object_type":"lead","action":"created"}'
page='{"data":[{"id":"ev_d","object_type":"lead","action":"updated"},{"id":"ev_c","date_updated":"x","object_type":"lead","action":"created"}, {"id":"ev_e"}],"cursor_next":null}'
printf '%s\n' "$bare" "$page" >"$TMP/in2"
run dd "$TMP/in2"
is "$out" "$(printf '%s\n' "$bare" \
    '{"subscription_id":null,"event":{"id":"ev_d","object_type":"lead","action":"updated"}}' \
    '{"subscription_id":null,"event":{"id":"ev_e"}}')" \
    "a bare event passes as is; a page is split into wrapped records"

# Records without a key pass with a warning.
printf '%s\n' '{"x":1}' '{"x":1}' '[1]' '{"event":{"id":null}}' >"$TMP/nokey"
run dd "$TMP/nokey"
is "$rc" 0 "records without a key are not an error"
is "$(wc -l <"$TMP/out")" 4 "they all pass"
like "$err" "*nokey:1: no key: passed*nokey:4: no key: passed*" \
    "each is reported with its line"
seq 1 15 | sed 's/.*/{"n":&}/' >"$TMP/many"
run dd "$TMP/many"
is "$(grep -c 'no key: passed' "$TMP/err")" 10 "only the first 10 reported"
like "$err" "*15 records without a key passed" "then a total"

# Bad input: reported, rejected, not passed, exit 1; the stream goes on.
printf '%s\n' '{"event":{"id":"ev_r1"}}' '{"event": {"id": ' \
    '{"event":{"id":"ev_r2"}}' >"$TMP/bad"
run dd --rejects "$TMP/rej" "$TMP/bad"
is "$rc" 1 "invalid JSON: exit 1"
is "$out" "$(printf '%s\n' '{"event":{"id":"ev_r1"}}' '{"event":{"id":"ev_r2"}}')" \
    "only the valid lines pass"
like "$err" "closehook-dedupe: $TMP/bad:2: rejected: invalid-json (*)" \
    "stderr names file and line"
is "$(jq -c '[.line, .reason, .text]' "$TMP/rej")" \
    '[2,"invalid-json","{\"event\": {\"id\": "]' "the --rejects line"
is "$(stat -c %a "$TMP/rej")" 600 "the rejects file is private"
run dd --max-line 20 "$TMP/bad"
like "$err" "*bad:1: rejected: line-too-long*" "over --max-line is a reject"

# -q: no line per reject or keyless record; the keyless count at the end,
# and the rejects file and exit status, are the same.
rm -f "$TMP/rej"
{ cat "$TMP/bad"; printf '%s\n' '{"n":1}' '{"n":2}'; } >"$TMP/badq"
run dd -q --rejects "$TMP/rej" "$TMP/badq"
is "$rc:$out" "1:$(printf '%s\n' '{"n":1}' '{"n":2}')" \
    "-q: exit 1, the keyless lines pass (the others were seen above)"
is "$err" "closehook-dedupe: 2 records without a key passed" \
    "-q: stderr has only the keyless count"
is "$(jq -r .reason "$TMP/rej")" invalid-json "and the reject is in --rejects"
run dd -q <<<'{"n":3}'
is "$err" "closehook-dedupe: 1 record without a key passed" "one: singular"

# Modes.  check: judge, store nothing.  record: store all, pass all.
db="$TMP/modes.sqlite"
printf '%s\n' '{"event":{"id":"m1"}}' '{"event":{"id":"m2"}}' >"$TMP/m12"
printf '%s\n' '{"event":{"id":"m2"}}' '{"event":{"id":"m3"}}' \
    '{"event":{"id":"m3"}}' >"$TMP/m233"
run dd --mode check "$TMP/m12"
is "$(wc -l <"$TMP/out")" 2 "check passes new keys"
run dd --mode check "$TMP/m12"
is "$(wc -l <"$TMP/out")" 2 "check stores nothing"
run dd --mode record "$TMP/m12"
is "$(wc -l <"$TMP/out")" 2 "record passes every record"
run dd --mode record "$TMP/m12"
is "$(wc -l <"$TMP/out")" 2 "record passes even seen ones"
run dd --mode check "$TMP/m233"
is "$out" '{"event":{"id":"m3"}}' \
    "check drops stored keys and repeats within its run"
run dd --mode check --invert "$TMP/m233"
is "$out" "$(printf '%s\n' '{"event":{"id":"m2"}}' '{"event":{"id":"m3"}}')" \
    "--invert writes only the repeats"
run dd --stats "$TMP/m233"
is "$out" '{"event":{"id":"m3"}}' "filter drops stored keys and repeats"
like "$err" "*stats: in 3, passed 1, dropped 2, expired 0, keyless 0, rejected 0" \
    "--stats counts on stderr"
must_fail "a bad --mode is a usage error" closehook-dedupe --mode x
is "$rc" 2 "exit 2"

# TTL: a key is remembered for --ttl, then passes again.
db="$TMP/ttl.sqlite"
e='{"event":{"id":"ev_t","date_updated":"u"}}'
run dd --ttl 1h --now 1000000 <<<"$e"
is "$out" "$e" "new at t"
run dd --ttl 1h --now 1970-01-12T14:46:39Z <<<"$e" # 1003599
is "$out" "" "still remembered 1 s before the TTL (--now as a date-time)"
run dd --ttl 1h --now 1003600 --stats <<<"$e"
is "$out" "$e" "passes again once the TTL has run out"
like "$err" "*expired 1*" "counted as expired"
run dd --ttl 1h --now 1003601 <<<"$e"
is "$out" "" "and is remembered again from then"
n=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from seen").fetchone()[0])' "$db")
is "$n" 1 "one row per key"
# The sweep purges expired rows while later records are recorded.
seq 1 200 | sed 's/.*/{"event":{"id":"p&"}}/' | dd --ttl 10s --now 2000000 >/dev/null
# Each commit sweeps on from where the last one (of any run) stopped.
for i in 2 3 4 5; do
	seq "${i}01" "${i}99" | sed 's/.*/{"event":{"id":"p&"}}/' |
	    dd --ttl 10s --now 3000000 >/dev/null
done
n=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from seen where expires <= 3000000").fetchone()[0])' "$db")
is "$n" 0 "expired rows are purged as new ones are recorded"

# The sweep's state is kept in the store (position, the lap's earliest
# expiry, the pause's end), so that a short run does not sweep before
# anything can have expired, and a shorter --ttl brings the sweep forward.
db="$TMP/pause.sqlite"
sweeprow() {
	python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select hex(pos) from sweep").fetchone()[0])' "$db"
}
expired() {
	python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from seen where expires <= ?", (int(sys.argv[2]),)).fetchone()[0])' "$db" "$1"
}
front=00000000000000000000000000000000
seq 1 30 | sed 's/.*/{"event":{"id":"q&"}}/' | dd --ttl 1h --now 1000000 >/dev/null
is "$(sweeprow)" "${front}00000000000F505000000000000F5050" \
    "a new store is not swept: nothing expires before its first keys (1003600)"
seq 31 50 | sed 's/.*/{"event":{"id":"q&"}}/' | dd --ttl 1h --now 1000100 >/dev/null
is "$(sweeprow)" "${front}00000000000F505000000000000F5050" \
    "nor is it by a later run before then"
printf '%s\n' '{"event":{"id":"short"}}' | dd --ttl 10s --now 1000200 >/dev/null
is "$(sweeprow)" "${front}00000000000F431200000000000F4312" \
    "a shorter --ttl brings the sweep forward (to 1000210)"
printf '%s\n' '{"event":{"id":"q51"}}' | dd --ttl 1h --now 1000300 >/dev/null
is "$(expired 1000300)" 0 "so the next run sweeps, and purges the short-lived key"
is "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from seen").fetchone()[0])' "$db")" 51 \
    "and nothing else"
# A position alone (16 bytes, as older stores hold) is carried on, and that
# lap, not known, does not pause at its end.
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("update sweep set pos = ?", (bytes([0xff]*16),)); c.commit()' "$db"
printf '%s\n' '{"event":{"id":"q52"}}' | dd --ttl 1h --now 1000400 >/dev/null
is "$(sweeprow)" "${front}7FFFFFFFFFFFFFFF8000000000000000" \
    "a 16-byte position: swept on from it, to the end, without a pause"

# Marks in filter mode with a SQLite store: an acknowledged pipeline, where
# a crash after this stage would lose what it passed; said once a run.
# Check and record, the recipe that keeps every record, say nothing.
m='{"closehook_mark":{"dev":1,"ino":2,"head_len":0,"head_fnv1a64":"cbf29ce484222325","offset":10}}'
printf '%s\n' '{"event":{"id":"w1"}}' "$m" '{"event":{"id":"w2"}}' "$m" >"$TMP/marked"
run closehook-dedupe --store "$TMP/marks.sqlite" "$TMP/marked"
is "$out" "$(cat "$TMP/marked")" "filter mode passes the records and marks on"
like "$err" "closehook-dedupe: warning: filter mode in an acknowledged pipeline: *; run --mode check before the delivery and --mode record after it" \
    "and warns that an acknowledged pipeline can lose records after it"
is "$(grep -c warning <<<"$err")" 1 "once a run"
run closehook-dedupe --store "$TMP/marks2.sqlite" --mode check "$TMP/marked"
is "$rc:$err" "0:" "check mode: no warning"
run closehook-dedupe --store "$TMP/marks2.sqlite" --mode record "$TMP/marked"
is "$rc:$err" "0:" "record mode: no warning"

# Default store: $XDG_STATE_HOME, else ~/.local/state; directories created.
printf '%s\n' "$e" | XDG_STATE_HOME="$TMP/xdg" closehook-dedupe >/dev/null
ok "under \$XDG_STATE_HOME" test -s "$TMP/xdg/closehook/dedupe.sqlite"
printf '%s\n' "$e" | env -u XDG_STATE_HOME HOME="$TMP/home" \
    closehook-dedupe >/dev/null
ok "else under ~/.local/state" \
    test -s "$TMP/home/.local/state/closehook/dedupe.sqlite"
is "$(stat -c %a "$TMP/home/.local/state/closehook")" 700 \
    "created private"
is "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("pragma journal_mode").fetchone()[0])' "$TMP/xdg/closehook/dedupe.sqlite")" \
    wal "the store is in WAL mode"

# A store that cannot be opened: exit 2 before reading any input.
printf '%s\n' "$e" "$e" >"$TMP/two"
run bash -c 'closehook-dedupe --store "$1/no/dir/x.sqlite"; echo "rc=$?"; cat' \
    sh "$TMP" <"$TMP/two"
is "$out" "$(printf 'rc=2\n%s\n%s' "$e" "$e")" \
    "unopenable store: exit 2, stdin left unread"
like "$err" "closehook-dedupe: $TMP/no/dir/x.sqlite: unable to open database file" \
    "with a clear message"
echo "not a database, really not, not at all" >"$TMP/junk"
run closehook-dedupe --store "$TMP/junk" </dev/null
is "$rc" 2 "a file that is not a database: exit 2"
must_fail "a password in a redis URL is refused" \
    closehook-dedupe --store redis://u:pw@127.0.0.1:1 </dev/null
like "$err" "*--store: no user or password in the URL*" "with a hint"
like "$err" "!(*pw*)" "and without echoing it"

done_testing
