#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154,SC2016,SC2034
# The whole front half of a closehook pipeline: the fake Close sender ->
# closehook-receive -> closehook-verify -> closehook-dedupe ->
# closehook-post -> a sink that fails now and then.  Close repeats
# deliveries and the sink makes post retry, yet every event arrives once.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"
. "$TOP/tests/fakes/post-helpers.sh"

for p in closehook-verify closehook-dedupe closehook-post; do
	command -v "$p" >/dev/null || skip_all "$p is not built"
done
echo "$GEN_KEY" >"$TMP/keys"
chmod 600 "$TMP/keys"
python3 "$TOP/bench/gen" --format payloads --count 150 --seed 5 \
    --dup-rate 0.2 >"$TMP/events"
unique=$(python3 -c '
import json, sys
print(len({(e["event"]["id"], e["event"].get("date_updated"))
           for e in map(json.loads, open(sys.argv[1]))}))' "$TMP/events")
ok "the corpus repeats some deliveries ($(wc -l <"$TMP/events") for $unique events)" \
    [ "$unique" -lt "$(wc -l <"$TMP/events")" ]

start_sink sink --faults 500,503 --fault-rate 0.1 --seed 2 --max-time 60
mkfifo "$TMP/fifo"
closehook-verify --secret-file "$TMP/keys" <"$TMP/fifo" 2>"$TMP/verify.err" |
    closehook-dedupe --store "$TMP/seen.sqlite" 2>"$TMP/dedupe.err" |
    closehook-post --retry-base 10ms "$SINK_URL" >"$TMP/posted" \
    2>"$TMP/post.err" &
pipeline=$!
at_exit "kill $pipeline 2>/dev/null"
RECV_STDOUT=$TMP/fifo
ok "closehook-receive starts with the pipeline on its stdout" \
    start_receive r --spool "$TMP/spool" --secret-file "$TMP/keys"
unset RECV_STDOUT
send_events "$RURL/" "$TMP/events" --concurrency 4 --attempts 5
is "$(jq -r '"\(.acked) \(.failed)"' "$TMP/sender.json")" \
    "$(wc -l <"$TMP/events") 0" "the sender saw every delivery acknowledged"
stop_receive
is "$rc" 0 "receive stops on SIGTERM, exit 0"
wait "$pipeline"
is "$?" 0 "the pipeline drains and exits 0"
is "$(wc -l <"$TMP/sink.log")" "$unique" "the sink got one request per event"
is "$(jq -r '.body | fromjson | "\(.event.id) \(.event.date_updated)"' \
    "$TMP/sink.log" | sort -u | wc -l)" "$unique" "each event exactly once"
if slowed; then
	# A batch that stdout does not take within 1 s is answered 503 after
	# it was spooled, and the sender repeats it: slowed, that happens.
	ok "the spool keeps every delivery, repeats included (slowed: or more)" \
	    [ "$(wc -l <"$TMP/spool")" -ge "$(wc -l <"$TMP/events")" ]
else
	is "$(wc -l <"$TMP/spool")" "$(wc -l <"$TMP/events")" \
	    "the spool keeps every delivery, repeats included"
fi
ok "nothing was rejected on the way" [ ! -s "$TMP/verify.err" ]

# The fake sender itself retries like Close: with back-off, bounded.
start_sink flaky --faults 503 --fault-first 2 --max-time 30
head -n 1 "$TMP/events" >"$TMP/one"
send_events "$SINK_URL/" "$TMP/one" --attempts 5 --backoff 0.05 \
    --log "$TMP/attempts"
is "$(jq -r '"\(.acked) \(.attempts)"' "$TMP/sender.json")" "1 3" \
    "the sender retries a 503 until it is acknowledged (204)"
is "$(jq -r .status "$TMP/attempts" | tr '\n' ' ')" "503 503 204 " \
    "one log line per attempt"
is "$(jq -r '.headers["close-sig-hash"]' "$TMP/flaky.log")" \
    "$(sign "$GEN_KEY" "$(jq -r '.headers["close-sig-timestamp"]' \
    "$TMP/flaky.log")" "$(cat "$TMP/one")")" \
    "its signature is Close's formula"
t0=$(date +%s%N)
send_events "http://127.0.0.1:1/" "$TMP/one" --attempts 3 --backoff 0.2
t1=$(date +%s%N)
is "$(jq -r '"\(.acked) \(.failed) \(.attempts)"' "$TMP/sender.json")" "0 1 3" \
    "against a dead server it gives up after --attempts"
ok "after backing off 0.2 s then 0.4 s" [ $(( (t1 - t0) / 1000000 )) -ge 550 ]

done_testing
