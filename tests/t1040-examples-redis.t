#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154 # lib.sh: sourced; run sets rc, out, err
# examples/shared-redis.sh on two "hosts": two closehook-receive, each with
# its own spool and follower, sharing one seen-set in a real Redis (with a
# password, from a credential file).  Close delivers many events to both at
# the same moment; the one destination gets each event once in total.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"
. "$TOP/tests/fakes/post-helpers.sh"
. "$TOP/tests/fakes/example-helpers.sh"

command -v redis-server >/dev/null || skip_all "redis-server is not installed"
command -v redis-cli >/dev/null || skip_all "redis-cli is not installed"

redis-server --port 0 --unixsocket "$TMP/r.sock" --save '' --appendonly no \
    --dir "$TMP" --requirepass 'redis pass 7' >"$TMP/redis.log" 2>&1 &
at_exit "kill $! 2>/dev/null"
ok "Redis starts" wait_for 10 test -S "$TMP/r.sock"
rcli() { redis-cli -s "$TMP/r.sock" --no-auth-warning -a 'redis pass 7' "$@"; }

start_sink dest --max-time 120
mkdir -p "$TMP/creds" "$TMP/a" "$TMP/b"
cp "$KEYS" "$TMP/creds/keys"
printf 'redis pass 7\n' >"$TMP/creds/redis-password"
chmod 600 "$TMP/creds/redis-password"

# Two hosts: a receiver each, with its own spool.
ok "host a's receiver starts" \
    start_receive ra --spool "$TMP/a/close.ndjson" --secret-file "$KEYS"
url_a=$RURL
pid_a=$RPID
ok "host b's receiver starts" \
    start_receive rb --spool "$TMP/b/close.ndjson" --secret-file "$KEYS"
url_b=$RURL
pid_b=$RPID
# host NAME [VAR=VALUE...]: sets cmd to shared-redis.sh as host NAME runs it.
host() {
	cmd=(env CLOSEHOOK_REDIS="unix:$TMP/r.sock" EVENTS_URL="$SINK_URL/events"
	    CREDENTIALS_DIRECTORY="$TMP/creds" CLOSEHOOK_STATE="$TMP/$1"
	    "${@:2}" "$EX/shared-redis.sh")
}
host a
start_group host-a "${cmd[@]}"
host b
start_group host-b "${cmd[@]}"

# 150 deliveries: a's share, b's share, and 70 that both get at once (a
# retry landing on the other host, or two subscriptions).
python3 "$TOP/bench/gen" --format payloads --count 150 --seed 61 \
    >"$TMP/all.ndjson"
sed -n '1,110p' "$TMP/all.ndjson" >"$TMP/to-a.ndjson"
sed -n '41,150p' "$TMP/all.ndjson" >"$TMP/to-b.ndjson"
jq -r '"\(.event.id) \(.event.date_updated)"' "$TMP/all.ndjson" | sort -u \
    >"$TMP/want"
timeout 60 python3 "$TOP/tests/fakes/sender.py" --key "$GEN_KEY" \
    --concurrency 2 "$url_a/" "$TMP/to-a.ndjson" >"$TMP/sent-a.json" &
sa=$!
timeout 60 python3 "$TOP/tests/fakes/sender.py" --key "$GEN_KEY" \
    --concurrency 2 "$url_b/" "$TMP/to-b.ndjson" >"$TMP/sent-b.json" &
sb=$!
wait "$sa" && wait "$sb"
is "$?" 0 "both hosts acknowledge every delivery"

got() { jq -r '.body | fromjson | "\(.event.id) \(.event.date_updated)"' \
    "$TMP/dest.log"; }
has_all() { [ -z "$(comm -13 <(got | sort -u) "$TMP/want")" ]; }
ok "the destination gets every event" wait_for 30 has_all
ok "host a has read its whole spool" \
    wait_for 20 offset_at_end "$TMP/a/shared-redis.offset" "$TMP/a/close.ndjson"
ok "host b has read its whole spool" \
    wait_for 20 offset_at_end "$TMP/b/shared-redis.offset" "$TMP/b/close.ndjson"
sleep 0.5
is "$(got | sort | uniq -d | wc -l):$(lines "$TMP/dest.log")" \
    "0:$(lines "$TMP/want")" "each event exactly once in total"
is "$(jq -r '.headers["idempotency-key"]' "$TMP/dest.log" | sort | uniq -d | wc -l)" \
    0 "each with its event id as Idempotency-Key"
is "$(rcli --scan --pattern 'closehook:*' | wc -l)" "$(lines "$TMP/want")" \
    "the shared seen-set holds one key per event"
stop_group host-a
stop_group host-b

# A host that cannot reach Redis delivers nothing and fails; once it can,
# its next run (re-reading the last 10 minutes) delivers only what is new.
head -n 1 "$TMP/all.ndjson" | jq -c '.event.id = "ev_while_down"' \
    >"$TMP/new.ndjson"
ok "host a receives an event" deliver "$url_a/" "$TMP/new.ndjson"
run env CLOSEHOOK_REDIS="unix:$TMP/no.sock" EVENTS_URL="$SINK_URL/events" \
    CREDENTIALS_DIRECTORY="$TMP/creds" CLOSEHOOK_STATE="$TMP/a" \
    CLOSEHOOK_ONCE=1 "$EX/shared-redis.sh"
is "$rc" 2 "Redis unreachable: exit 2"
like "$err" "*redis: cannot connect*" "saying why"
is "$(lines "$TMP/dest.log")" "$(lines "$TMP/want")" "nothing was delivered"
host a CLOSEHOOK_ONCE=1
run "${cmd[@]}"
is "$rc" 0 "with Redis back, the next run exits 0"
is "$(lines "$TMP/dest.log")" "$(($(lines "$TMP/want") + 1))" \
    "and delivers just the new event"
is "$(got | tail -n 1 | cut -d' ' -f1)" ev_while_down "that one"

ok "no command line held the Redis password" \
    bash -c "! grep -q 'redis pass' '$TMP/argv.log'"
ok "(the log of command lines is not empty)" \
    grep -q 'closehook-dedupe.*--redis-password-file' "$TMP/argv.log"
ok "no command line held EVENTS_URL" \
    bash -c "! grep -qF '$SINK_URL' '$TMP/argv.log'"
ok "closehook-post took it from a descriptor" \
    grep -q 'closehook-post.*--url-file /dev/fd/3' "$TMP/argv.log"
run env EVENTS_URL="$SINK_URL" CLOSEHOOK_STATE="$TMP/a" "$EX/shared-redis.sh"
is "$rc" 2 "no CLOSEHOOK_REDIS: exit 2"
for RPID in "$pid_a" "$pid_b"; do
	stop_receive
done
done_testing
