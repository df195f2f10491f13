#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# examples/fanout.sh: one closehook-receive feeding three followers, each
# delivering to its own sink.  A destination that stops answering holds back
# neither the receiver nor the other two, and catches up when it is back;
# a stop and a restart lose nothing and deliver nothing twice; a part that
# dies takes the rest down with exit 1, for a supervisor to restart.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"
. "$TOP/tests/fakes/post-helpers.sh"
. "$TOP/tests/fakes/example-helpers.sh"

start_sink warehouse --max-time 120
WH=$SINK_URL
start_sink crm --max-time 120
CRM=$SINK_URL
# The third one is started here, to be stopped and continued by its pid.
python3 "$TOP/tests/fakes/sink.py" --port-file "$TMP/audit.port" \
    --log "$TMP/audit.log" --max-time 120 2>"$TMP/audit.err" &
audit_pid=$!
at_exit "kill -CONT $audit_pid 2>/dev/null; kill $audit_pid 2>/dev/null"
: >"$TMP/audit.log"
wait_for 20 test -s "$TMP/audit.port"
AUDIT=http://127.0.0.1:$(cat "$TMP/audit.port")

# Secrets as systemd's LoadCredential= hands them over.
mkdir -p "$TMP/creds" "$TMP/fan"
cp "$KEYS" "$TMP/creds/keys"
echo crm-TOKEN-42 >"$TMP/creds/crm.token"
chmod 600 "$TMP/creds/crm.token"
fan=(env FANOUT_TARGETS="warehouse=$WH/close crm=$CRM/hooks/close audit=$AUDIT/log"
    CLOSEHOOK_LISTEN=127.0.0.1:0 CLOSEHOOK_STATE="$TMP/fan"
    CREDENTIALS_DIRECTORY="$TMP/creds" "$EX/fanout.sh")
spool=$TMP/fan/close.ndjson

# start_fanout: start it, and set RURL from the receiver's first words.
start_fanout() {
	local port
	start_group fan "${fan[@]}"
	wait_for 20 grep -q 'listening on' "$TMP/fan.err" || return 1
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
	    "$TMP/fan.err")
	RURL=http://127.0.0.1:$port
}
# ids LOG: the "id date_updated" of each event a sink got, sorted.
ids() { jq -r '.body | fromjson | "\(.event.id) \(.event.date_updated)"' \
    "$1" | sort; }
# has_all LOG WANT: the sink got every event of the sorted list WANT.
has_all() { [ -z "$(comm -13 <(ids "$1" | sort -u) "$2")" ]; }

python3 "$TOP/bench/gen" --format payloads --count 100 --seed 51 \
    --dup-rate 0.1 >"$TMP/all.ndjson"
head -n 50 "$TMP/all.ndjson" >"$TMP/b1.ndjson"
sed -n '51,80p' "$TMP/all.ndjson" >"$TMP/b2.ndjson"
sed -n '81,$p' "$TMP/all.ndjson" >"$TMP/b3.ndjson"
want() { cat "$@" | jq -r '"\(.event.id) \(.event.date_updated)"' | sort -u; }
want "$TMP/b1.ndjson" >"$TMP/want1"

ok "fanout.sh starts: the receiver listens" start_fanout
ok "Close's deliveries are acknowledged" deliver "$RURL/" "$TMP/b1.ndjson"
for s in warehouse crm audit; do
	ok "$s gets every event" wait_for 20 has_all "$TMP/$s.log" "$TMP/want1"
done
is "$(jq -r '.headers.authorization // "none"' "$TMP/crm.log" | sort -u)" \
    "Bearer crm-TOKEN-42" "crm gets its token from crm.token"
is "$(jq -r '.headers.authorization // "none"' "$TMP/warehouse.log" | sort -u)" \
    none "the others get no token"
is "$(jq -r .path "$TMP/crm.log" | sort -u)" /hooks/close "each at its URL"

# The audit destination stops answering.
kill -STOP "$audit_pid"
want "$TMP/b1.ndjson" "$TMP/b2.ndjson" >"$TMP/want2"
t0=$(date +%s%N)
ok "Close's deliveries are still acknowledged" deliver "$RURL/" "$TMP/b2.ndjson"
t1=$(date +%s%N)
ok "promptly ($(((t1 - t0) / 1000000)) ms for 30)" \
    [ $(((t1 - t0) / 1000000)) -lt $((10000 * SLOW)) ]
ok "warehouse gets every event meanwhile" \
    wait_for 20 has_all "$TMP/warehouse.log" "$TMP/want2"
ok "and so does crm" wait_for 20 has_all "$TMP/crm.log" "$TMP/want2"
ok "audit got none of the new ones" \
    bash -c "[ -z \"\$(comm -12 <(jq -r '.body | fromjson | \"\\(.event.id) \\(.event.date_updated)\"' '$TMP/audit.log' | sort -u) <(comm -13 '$TMP/want1' '$TMP/want2'))\" ]"
kill -CONT "$audit_pid"
ok "once it answers again, audit catches up" \
    wait_for 30 has_all "$TMP/audit.log" "$TMP/want2"

# A stop (SIGTERM to the script alone): the followers commit and the rest
# drains; nothing is dead-lettered; exit 0.
for s in warehouse crm audit; do
	wait_for 20 offset_at_end "$TMP/fan/$s.offset" "$spool"
done
kill -TERM "$(cat "$TMP/fan.pgid")"
wait_group fan 30
is "$rc" 0 "SIGTERM to fanout.sh alone stops it, exit 0"
ok "every process it started is gone" wait_for 10 group_gone fan
for s in warehouse crm audit; do
	ok "$s: its offset is at the end of the spool" \
	    offset_at_end "$TMP/fan/$s.offset" "$spool"
done
ok "nothing was dead-lettered" \
    bash -c "! ls '$TMP'/fan/*.dead-letter.ndjson 2>/dev/null | grep -q ."

# A restart: new events, and Close repeating old ones; each destination
# gets each event exactly once over the whole test.
: >"$TMP/fan.err"
ok "fanout.sh starts again" start_fanout
cat "$TMP/b3.ndjson" "$TMP/b1.ndjson" >"$TMP/b3again.ndjson"
ok "Close delivers new events and repeats old ones" \
    deliver "$RURL/" "$TMP/b3again.ndjson"
want "$TMP/all.ndjson" >"$TMP/want3"
for s in warehouse crm audit; do
	ok "$s gets the new events" wait_for 20 has_all "$TMP/$s.log" "$TMP/want3"
done
for s in warehouse crm audit; do
	wait_for 20 offset_at_end "$TMP/fan/$s.offset" "$spool"
done
sleep 0.5
for s in warehouse crm audit; do
	is "$(ids "$TMP/$s.log" | uniq -d | wc -l):$(lines "$TMP/$s.log")" \
	    "0:$(lines "$TMP/want3")" "$s got each event exactly once"
done
is "$(post -H 'close-sig-hash: 00' -H 'close-sig-timestamp: 1' \
    -d '{"event":{"id":"ev_forged"}}' "$RURL/")" 401 \
    "a forged delivery is refused at the door"
stop_group fan
ok "systemctl-style stop of the whole group" test "$rc" -ne 137
# shellcheck disable=SC2016 # expanded by the inner shell
ok "no command line held a target's URL" \
    bash -c '! grep -qF -e "$1" -e "$2" -e "$3" "$4"' sh "$WH/close" \
    "$CRM/hooks/close" "$AUDIT/log" "$TMP/argv.log"
is "$(grep -c 'closehook-post.*--url-file /dev/fd/3' "$TMP/argv.log")" 6 \
    "each closehook-post took its URL from a descriptor (two starts)"

# A part that cannot start takes the rest down: exit 1.
rm "$TMP/creds/crm.token"
mkdir "$TMP/creds/crm.token"
: >"$TMP/fan.err"
start_group fan "${fan[@]}"
wait_group fan 30
is "$rc" 1 "fanout.sh exits 1 when a process of a pipeline dies"
like "$(cat "$TMP/fan.err")" "*fanout: a process exited*stopping the rest*" \
    "saying so"
ok "and leaves no process behind" wait_for 10 group_gone fan

run env FANOUT_TARGETS="not-a-pair" CLOSEHOOK_STATE="$TMP/fan" \
    CREDENTIALS_DIRECTORY="$TMP/creds" "$EX/fanout.sh"
is "$rc:$err" "2:fanout: not-a-pair: not NAME=URL" "a bad target: exit 2"
done_testing
