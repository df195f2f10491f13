#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# Stopped with its pipeline: a stage reading a pipe takes the first SIGTERM
# as "finish the input" (closehook(7), Failure and durability), writes what
# the stages before it still send, and then ends by the signal, so that a
# shell sees the run was stopped.  A signal the shell set to be ignored
# stays ignored, and a stage reading a file stops at once.
. "$(dirname "$0")/lib.sh"

cd "$TMP" || exit 1

# The producer writes one record, then another a second later; the stage
# gets SIGTERM between the two.
(printf '{"a":1}\n'; sleep 1; printf '{"a":2}\n') |
    closehook-flatten >drained.out 2>drained.err &
fpid=$!
sleep 0.3
kill -TERM "$fpid"
wait "$fpid"
rc=$?
is "$(tr '\n' ' ' <drained.out)" '{"a":1} {"a":2} ' \
    "SIGTERM while reading a pipe: the input is finished first"
is "$rc" 143 "then it ends by the signal (128 + 15)"
is "$(cat drained.err)" "" "quietly"

# The stage before, stopped too, may leave the last line cut (a follower
# gives up a write its stuck reader did not take): after the signal such a
# line is no record and no reject, since it comes again from upstream.
(printf '{"a":1}\n{"a":'; sleep 1) |
    closehook-flatten --rejects cut.rej >cut.out 2>cut.err &
fpid=$!
sleep 0.3
kill -TERM "$fpid"
wait "$fpid"
rc=$?
is "$rc:$(tr '\n' ' ' <cut.out)" '143:{"a":1} ' \
    "a line cut at the end of a stopped input: not written, ended by the signal"
is "$(wc -c <cut.rej)" 0 "... not a reject"
like "$(cat cut.err)" "*stdin: the input ended inside a line after the stop signal: that line is dropped*" \
    "... and said"
(printf '{"a":1}\n{"a":2}'; sleep 0.3) | closehook-flatten >uncut.out 2>/dev/null
is "$(tr '\n' ' ' <uncut.out)" '{"a":1} {"a":2} ' \
    "without a signal a last line without its newline is a record as ever"

# A second signal ends it at once.
mkfifo two.fifo
closehook-dedupe --store two.sqlite <two.fifo >two.out 2>two.err &
dpid=$!
exec 7>two.fifo
printf '{"event":{"id":"ev_1"}}\n' >&7
wait_lines two.out 1 || true
kill -TERM "$dpid"
sleep 0.2
ok "after one SIGTERM it still runs, its input open" kill -0 "$dpid"
kill -TERM "$dpid"
wait "$dpid"
rc=$?
exec 7>&-
is "$rc" 143 "a second SIGTERM ends it at once"

# SIGINT ignored by the shell (a background job's), kept ignored.
mkfifo ign.fifo
printf '%s\n' "$KAV_KEY" >keys
chmod 600 keys
(trap '' INT; exec closehook-verify --secret-file keys <ign.fifo \
    >/dev/null 2>ign.err) &
vpid=$!
exec 8>ign.fifo
sleep 0.3
kill -INT "$vpid"
sleep 0.3
ok "an ignored SIGINT stays ignored" kill -0 "$vpid"
exec 8>&-
wait "$vpid"
is "$?" 0 "and the run ends as if none had come"

# Reading a file: the default action, at once.
python3 "$TOP/bench/gen" --format payloads --count 20000 --seed 2 >big.ndjson
# (Its output into a pipe nobody reads, so that it is still running when
# the signal comes: it flattens 40 MB in less time than a sleep takes.)
mkfifo hold.fifo
exec 9<>hold.fifo
closehook-flatten big.ndjson </dev/null >hold.fifo 2>/dev/null &
fpid=$!
sleep 0.3
kill -TERM "$fpid"
wait "$fpid"
is "$?" 143 "reading a file: SIGTERM ends it at once"
exec 9>&-

done_testing
