#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154,SC2016,SC2034
# closehook-receive: concurrent senders, group commit, SIGKILL right after
# acknowledgements (every acknowledged capture is in the spool, byte-exact,
# and verifies), a torn last line, stdout with and without the spool.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"

echo "$GEN_KEY" >"$TMP/keys"
chmod 600 "$TMP/keys"
python3 "$TOP/bench/gen" --format payloads --count 3000 --seed 8 \
    >"$TMP/events"
head -n 300 "$TMP/events" >"$TMP/events300"

# Concurrent senders: everything acknowledged, captured once, verifiable.
ok "it starts" start_receive r1 --spool "$TMP/spool"
send_events "$RURL/" "$TMP/events300" --concurrency 12 --attempts 3
is "$(jq -r '"\(.acked) \(.failed)"' "$TMP/sender.json")" "300 0" \
    "12 concurrent senders: all 300 events acknowledged"
is "$(wc -l <"$TMP/spool")" 300 "300 captures in the spool"
bodies_of "$TMP/spool" | sort >"$TMP/got"
sort "$TMP/events300" >"$TMP/want"
same_file "$TMP/got" "$TMP/want" "each body once, byte for byte"
run closehook-verify --secret-file "$TMP/keys" "$TMP/spool"
is "$rc:$(wc -l <"$TMP/out")" 0:300 "closehook-verify accepts all of them"
sort "$TMP/spool" >"$TMP/spool.sorted"
sort "$TMP/r1.out" >"$TMP/out.sorted"
same_file "$TMP/spool.sorted" "$TMP/out.sorted" \
    "stdout carries the same captures"
caps=$(metric closehook_receive_captures_written_total)
batches=$(metric closehook_receive_fsync_batches_total)
is "$caps" 300 "the metrics count 300 captures"
ok "group commit: $batches fdatasyncs for $caps captures" \
    [ "$batches" -ge 1 ] && [ "$batches" -le "$caps" ]
stop_receive
is "$rc" 0 "exit 0"

# SIGKILL while senders are busy: every acknowledged event is in the
# spool, byte for byte.
ok "it starts again on the same spool" start_receive r2 --spool "$TMP/spool"
: >"$TMP/acked"
python3 "$TOP/tests/fakes/sender.py" --key "$GEN_KEY" --concurrency 16 \
    --attempts 1 --max-time 30 --acked "$TMP/acked" "$RURL/" "$TMP/events" \
    >"$TMP/sender2.json" &
spid=$!
for _ in $(seq 200); do
	[ "$(wc -l <"$TMP/acked")" -ge 200 ] && break
	sleep 0.02
done
kill -9 "$RPID"
wait "$spid"
wait "$RPID" 2>/dev/null
acked=$(wc -l <"$TMP/acked")
ok "events were acknowledged before the kill ($acked)" [ "$acked" -ge 200 ]
ok "and not all of them (the kill came mid-stream)" [ "$acked" -lt 3000 ]
python3 -c '
import json, sys
for line in open(sys.argv[1]):
    sys.stdout.buffer.write(json.loads(line)["body"].encode() + b"\n")
' "$TMP/acked" | sort >"$TMP/acked.bodies"
bodies_of "$TMP/spool" | sort >"$TMP/spool.bodies"
is "$(comm -23 "$TMP/acked.bodies" "$TMP/spool.bodies" | wc -l)" 0 \
    "every acknowledged event is in the spool, byte for byte"
run closehook-verify --secret-file "$TMP/keys" "$TMP/spool"
torn=$(grep -c 'rejected: malformed-capture' "$TMP/err" || true)
ok "closehook-verify accepts every whole capture ($torn torn)" \
    [ "$torn" -le 1 ] && [ "$(grep -vc malformed-capture "$TMP/err")" -eq 0 ]
verified=$(wc -l <"$TMP/out")
ok "it verified at least the acknowledged ones ($verified)" \
    [ "$verified" -ge $((acked + 300)) ]

# A torn last line (a crash mid-write, never acknowledged) is cut off on
# restart, so the spool holds whole captures only.
printf '{"received_at":"2026-' >>"$TMP/spool"
n=$(wc -l <"$TMP/spool")
ok "it starts on a spool with a torn last line" start_receive r3 --spool "$TMP/spool"
like "$(cat "$TMP/r3.err")" "*ends in a partial line; removed its * bytes*" \
    "and says so"
is "$(post --data-binary "$KAV_BODY" "$RURL/")" 200 "a POST after that"
is "$(wc -l <"$TMP/spool")" $((n + 1)) "the torn line is gone"
ok "every line of the spool is JSON" jq -e . "$TMP/spool"
is "$(tail -n 1 "$TMP/spool" | jq -r .body)" "$KAV_BODY" \
    "and the new capture is whole"
# A second receiver on the same spool would cut back, after a failed
# write, captures the first had answered 200: it is refused.
run timeout 10 closehook-receive -l 127.0.0.1:0 --spool "$TMP/spool"
is "$rc" 2 "a second receiver on the spool exits 2"
like "$err" "*$TMP/spool: in use by another closehook-receive (pid *)*" \
    "naming the first"
stop_receive

# Without --spool: the capture is on stdout before the answer.
ok "it starts without a spool" start_receive r4
send_events "$RURL/" "$TMP/events300" --concurrency 4 --count 100
is "$(jq -r .acked "$TMP/sender.json")" 100 "100 events acknowledged"
is "$(wc -l <"$TMP/r4.out")" 100 "100 captures on stdout, before the kill"
kill -9 "$RPID"
wait "$RPID" 2>/dev/null

# With the spool and stdout closed or /dev/null.
RECV_STDOUT=closed
ok "it starts with stdout closed and a spool" start_receive r5 --spool "$TMP/s5"
send_events "$RURL/" "$TMP/events300" --concurrency 4 --count 50
is "$(jq -r .acked "$TMP/sender.json")" 50 "stdout closed: all acknowledged"
is "$(wc -l <"$TMP/s5")" 50 "and in the spool"
stop_receive
is "$rc" 0 "exit 0"
RECV_STDOUT=/dev/null
ok "it starts with stdout on /dev/null" start_receive r6 --spool "$TMP/s6"
send_events "$RURL/" "$TMP/events300" --concurrency 4 --count 50
is "$(wc -l <"$TMP/s6")" 50 "stdout /dev/null: all in the spool"
stop_receive
is "$rc" 0 "exit 0"
unset RECV_STDOUT

done_testing
