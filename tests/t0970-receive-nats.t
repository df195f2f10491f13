#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-receive --spool nats://.../STREAM: captures published to a
# replicated stream on a real 3-node nats-server cluster, each answered
# 2xx only after a quorum stored it.  Concurrent senders that retry as
# Close does, the stream's leader SIGKILLed mid-stream and restarted:
# every capture acknowledged is in the stream once, byte for byte, and
# verifies.  receive SIGKILLed after acknowledgements: nothing
# acknowledged is lost.  No server at all: /healthz and POSTs answer 503,
# and deliveries land once the cluster is back.  Start-up failures name
# their cause.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"
. "$TOP/tests/fakes/nats-cluster.sh"

echo "$GEN_KEY" >"$TMP/keys"
chmod 600 "$TMP/keys"
# Distinct bodies: the corpus repeats some events (dedupe's tests want
# that), and the same body signed in the same second is one delivery, which
# the stream stores once by its message id.
python3 "$TOP/bench/gen" --format payloads --count 1700 --seed 9 |
    awk '!seen[$0]++' | head -n 1500 >"$TMP/events"
python3 "$TOP/bench/gen" --format payloads --count 700 --seed 10 |
    awk '!seen[$0]++' | head -n 600 >"$TMP/events2"

# acked_bodies FILE: the bodies sender.py logged as acknowledged, sorted.
acked_bodies() {
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    sys.stdout.buffer.write(json.loads(line)["body"].encode() + b"\n")
' "$1" | sort
}

# Start-up: options, and no server to talk to.
run closehook-receive --spool "$TMP/file" --nats-replicas 1
is "$rc" 2 "--nats-replicas without a nats:// spool is a usage error"
like "$err" "*are for a nats:// spool*" "and says so"
run closehook-receive --spool "nats://127.0.0.1:1/bad.name"
is "$rc" 2 "a stream name NATS cannot take is refused"
like "$err" "*invalid stream URL for --spool*" "with the reason"
port=$(nats_free_port)
run timeout 30 closehook-receive -l 127.0.0.1:0 \
    --spool "nats://127.0.0.1:$port/SPOOL"
is "$rc" 2 "no server reachable at start: exit 2"
like "$err" "*nats: cannot connect to 127.0.0.1:$port:*" \
    "naming the servers tried"

nats_cluster_start || skip_all "the nats-server cluster did not start"
U="nats://$NATS_SERVERS/SPOOL"

run timeout 30 closehook-receive -l 127.0.0.1:0 --spool "$U" \
    --nats-replicas 5
is "$rc" 2 "a stream that cannot be placed (5 replicas on 3 servers): exit 2"
like "$err" "*cannot create stream SPOOL with 5 replicas*" "with a clear message"

# Two receivers started together on a stream that does not exist yet (two
# hosts behind a load balancer after a deploy): one creates it, the other
# finds it, and each says where it listens only once it can answer.
for i in 1 2; do
	closehook-receive -l 127.0.0.1:0 --spool "nats://$NATS_SERVERS/TWIN" \
	    >/dev/null 2>"$TMP/twin$i.err" &
	eval "twin$i=\$!"
done
for _ in $(seq 300); do
	[ "$(cat "$TMP/twin1.err" "$TMP/twin2.err" | grep -c 'listening on')" = 2 ] &&
	    break
	sleep 0.05
done
ok "two receivers creating one stream at once both start" \
    test "$(cat "$TMP/twin1.err" "$TMP/twin2.err" | grep -c 'listening on')" = 2
for i in 1 2; do
	tp=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/twin$i.err")
	is "$(post -X GET "http://127.0.0.1:$tp/healthz")" 200 \
	    "receiver $i answers as soon as it says where it listens"
done
# shellcheck disable=SC2154 # set by eval
kill "$twin1" "$twin2"
wait "$twin1" "$twin2" 2>/dev/null

ok "receive starts on the stream (created with 3 replicas)" \
    start_receive r1 --spool "$U" --secret-file "$TMP/keys"
is "$(curl -s "$RURL/healthz")" "ok" "/healthz answers ok while connected"
is "$(nats_jsz 'accounts=true&streams=true&config=true' | python3 -c '
import json, sys
for a in json.load(sys.stdin).get("account_details") or []:
    for s in a.get("stream_detail") or []:
        if s["name"] == "SPOOL":
            c = s["config"]
            print(c["num_replicas"], c["storage"], ",".join(c["subjects"]))
')" "3 file SPOOL.captures" "the stream: 3 replicas, file storage, SPOOL.captures"

# 1500 signed deliveries from 8 senders that retry as Close does; the
# stream's leader is SIGKILLed once 300 are acknowledged, and restarted.
: >"$TMP/acked"
timeout "$(slow 150)" python3 "$TOP/tests/fakes/sender.py" --key "$GEN_KEY" \
    --concurrency 8 --attempts 60 --backoff 0.1 --backoff-max 1 \
    --timeout "$(slow 15)" --max-time "$(slow 140)" --acked "$TMP/acked" \
    "$RURL/" "$TMP/events" >"$TMP/sender.json" &
spid=$!
for _ in $(seq 400); do
	[ "$(wc -l <"$TMP/acked")" -ge 300 ] && break
	sleep 0.05
done
leader=$(nats_leader SPOOL)
ok "the stream has a leader (server $leader)" test -n "$leader"
at=$(wc -l <"$TMP/acked")
nats_kill "$leader"
t0=$SECONDS
sleep 2
nats_restart "$leader"
wait "$spid"
is "$?" 0 "every delivery is acknowledged in the end"
echo "# leader $leader killed at $at acks;" \
    "sender: $(jq -c .statuses "$TMP/sender.json"); $((SECONDS - t0)) s after"
is "$(jq -r '"\(.acked) \(.failed)"' "$TMP/sender.json")" "1500 0" \
    "all 1500 events acknowledged"
echo "# publish failures: $(metric closehook_receive_publish_failures_total)"
is "$(metric closehook_receive_captures_written_total)" 1500 \
    "/metrics counts 1500 captures stored"
is "$(metric closehook_receive_nats_connected)" 1 "and the connection up"
ok "and the publish latency" \
    test "$(metric closehook_receive_publish_duration_seconds_count)" -ge 1500

# What the stream holds, read whole through a new durable consumer (follow
# retries a stream being re-elected for a minute: a longer deadline).
run timeout "$(slow 90)" closehook-follow --durable audit --once "$U"
is "$rc" 0 "the stream is read to its end"
cp "$TMP/out" "$TMP/stream1"
is "$(wc -l <"$TMP/stream1")" 1500 "1500 captures in the stream"
bodies_of "$TMP/stream1" | sort >"$TMP/got"
sort "$TMP/events" >"$TMP/want"
same_file "$TMP/got" "$TMP/want" \
    "each body once, byte for byte (retries stored once by their id)"
run closehook-verify --secret-file "$TMP/keys" --max-age 0 "$TMP/stream1"
is "$rc:$(wc -l <"$TMP/out")" 0:1500 "closehook-verify accepts every one"
# A repeat the stream acknowledged as a duplicate (Close retrying after a
# 503 that came although the first attempt was stored) is on stdout as
# the repeat's capture, the stream keeps the first: their received_at
# differ, nothing else may.
no_time() { jq -c 'del(.received_at)' "$1" | sort; }
same_file <(no_time "$TMP/r1.out") <(no_time "$TMP/stream1") \
    "stdout carried the same captures (received_at aside)"

# SIGKILL of receive while senders are busy: what was acknowledged is in
# the stream.
stop_receive KILL
ok "receive starts again on the existing stream" \
    start_receive r2 --spool "$U"
: >"$TMP/acked2"
timeout "$(slow 60)" python3 "$TOP/tests/fakes/sender.py" --key "$GEN_KEY" \
    --concurrency 8 --attempts 1 --timeout "$(slow 15)" --max-time 50 \
    --acked "$TMP/acked2" "$RURL/" "$TMP/events2" >"$TMP/sender2.json" &
spid=$!
for _ in $(seq 400); do
	[ "$(wc -l <"$TMP/acked2")" -ge 150 ] && break
	sleep 0.02
done
kill -9 "$RPID"
wait "$spid"
wait "$RPID" 2>/dev/null
acked=$(wc -l <"$TMP/acked2")
ok "deliveries were acknowledged before the kill ($acked)" [ "$acked" -ge 150 ]
ok "and not all (the kill came mid-stream)" [ "$acked" -lt 600 ]
run timeout "$(slow 90)" closehook-follow --durable audit --once "$U"
is "$rc" 0 "the stream is read on from where the audit consumer was"
bodies_of "$TMP/out" | sort >"$TMP/got2"
acked_bodies "$TMP/acked2" >"$TMP/acked2.bodies"
is "$(comm -23 "$TMP/acked2.bodies" "$TMP/got2" | wc -l)" 0 \
    "every acknowledged capture is in the stream"
is "$(grep -c . "$TMP/r2.err" | tr -d ' ')" 1 \
    "receive said nothing but where it listened"

# No server reachable: every node of the cluster gone.  /healthz and
# POSTs answer 503 with Retry-After; once the cluster is back, Close's
# retries land.
ok "receive starts a third time" start_receive r3 --spool "$U"
nats_kill 1
nats_kill 2
nats_kill 3
for _ in $(seq 100); do
	[ "$(post "$RURL/healthz" -X GET)" = 503 ] && break
	sleep 0.1
done
is "$(post -X GET "$RURL/healthz")" 503 "/healthz answers 503 with no server"
is "$(curl -s -o /dev/null -D - --max-time 10 -d '{}' "$RURL/" |
    tr -d '\r' | awk 'NR == 1 { print $2 } /^Retry-After:/ { print $2 }' |
    paste -sd ' ')" "503 5" "a POST gets 503 and Retry-After"
python3 "$TOP/bench/gen" --format payloads --count 20 --seed 11 \
    >"$TMP/events20"
: >"$TMP/acked3"
timeout "$(slow 150)" python3 "$TOP/tests/fakes/sender.py" --key "$GEN_KEY" \
    --concurrency 2 --attempts 200 --backoff 0.2 --backoff-max 1 \
    --timeout "$(slow 15)" --max-time "$(slow 140)" --acked "$TMP/acked3" \
    "$RURL/" "$TMP/events20" >"$TMP/sender3.json" &
spid=$!
sleep 1
nats_restart_all
wait "$spid"
is "$?" 0 "deliveries refused during the outage land once it ends"
is "$(post -X GET "$RURL/healthz")" 200 "/healthz answers 200 again"
like "$(cat "$TMP/r3.err")" "*SPOOL: no server reachable; answering 503*" \
    "receive said when the outage began"
like "$(cat "$TMP/r3.err")" "*captures are stored again*" "and when it ended"
run timeout "$(slow 90)" closehook-follow --durable audit --once "$U"
bodies_of "$TMP/out" | sort >"$TMP/got3"
is "$(comm -23 <(sort "$TMP/events20") "$TMP/got3" | wc -l)" 0 \
    "the 20 are in the stream"
stop_receive
is "$rc" 0 "SIGTERM: exit 0"

done_testing
