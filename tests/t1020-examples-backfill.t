#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# examples/backfill-sync.sh, as closehook-backfill.timer runs it, against
# the fake Close Event Log and a sink standing in for the destination: the
# first run delivers the history, each later run only what is new (or
# consolidated since), never what the live pipeline already delivered; a
# bad API key or a refusing destination fails the run without losing the
# checkpoint's meaning.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"
. "$TOP/tests/fakes/post-helpers.sh"
. "$TOP/tests/fakes/close.sh"
. "$TOP/tests/fakes/example-helpers.sh"

fake_start --count 120 --seed 41 --span 172800
unset CLOSE_API_KEY
echo api_test_key >"$TMP/close-api-key"
chmod 600 "$TMP/close-api-key"
start_sink events --max-time 120
mkdir -p "$TMP/bf"
sync_env=(env EVENTS_URL="$SINK_URL/close-events" CLOSE_API_URL="$FAKE_URL"
    CLOSE_API_KEY_FILE="$TMP/close-api-key" BACKFILL_SINCE=3d
    BACKFILL_METRICS="$TMP/backfill.prom" CLOSEHOOK_NAMESPACE=warehouse
    CLOSEHOOK_STATE="$TMP/bf")
sync() { run "${sync_env[@]}" "$@" "$EX/backfill-sync.sh"; }
# The events the sink got, as "id date_updated", sorted.
got() { jq -r '.body | fromjson | "\(.event.id) \(.event.date_updated)"' \
    "$TMP/events.log" | sort; }

sync
is "$rc" 0 "the first run exits 0"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$TMP/err" | head -20 >&2
fake_events "$TMP/set1"
jq -r '"\(.id) \(.date_updated)"' "$TMP/set1" | sort >"$TMP/want1"
got >"$TMP/got1"
same_file "$TMP/got1" "$TMP/want1" \
    "the destination got every event of the Event Log, once"
is "$(jq -r .path "$TMP/events.log" | sort -u)" /close-events "at EVENTS_URL"
is "$(jq -c '.body | fromjson | keys' "$TMP/events.log" | sort -u)" \
    '["event","subscription_id"]' "as event records, the webhook's shape"
like "$(cat "$TMP/backfill.prom")" "*closehook_backfill_complete 1*" \
    "the metrics say the run was complete"
requests1=$(fake_requests)
n1=$(lines "$TMP/want1")

sync
is "$rc:$(lines "$TMP/events.log")" "0:$n1" \
    "a run with nothing new delivers nothing"
is "$(($(fake_requests) - requests1))" 1 "and asks the Event Log once"

curl -sf -X POST "$FAKE_ROOT/_fake/add?n=7" >/dev/null
curl -sf -X POST "$FAKE_ROOT/_fake/consolidate?n=3" >/dev/null
fake_events "$TMP/set2"
jq -r '"\(.id) \(.date_updated)"' "$TMP/set2" | sort >"$TMP/want2"
sync
is "$rc" 0 "the run after changes exits 0"
got >"$TMP/got2"
is "$(comm -13 "$TMP/got1" "$TMP/got2" | grep -c '^ev_new')" 7 \
    "it delivers the 7 new events"
is "$(comm -13 "$TMP/got1" "$TMP/got2" | grep -vc '^ev_new')" 3 \
    "and the 3 consolidated ones, at their new date_updated"
is "$(lines "$TMP/events.log")" $((n1 + 10)) "and nothing else"
ok "every event of the Event Log, at its newest state, was delivered" \
    bash -c "comm -23 '$TMP/want2' '$TMP/got2' | grep -q . && exit 1 || exit 0"

# The live pipeline (the same namespace and store) already delivered two
# of the next four events: the backfill delivers the other two.
curl -sf -X POST "$FAKE_ROOT/_fake/add?n=4" >/dev/null
fake_events "$TMP/set3"
tail -n 4 "$TMP/set3" >"$TMP/new4"
ok "the four newest are the new ones" \
    [ "$(grep -c '"ev_new' "$TMP/new4")" -eq 4 ]
head -n 2 "$TMP/new4" | jq -c '{subscription_id: "whsub_live", event: .}' |
    closehook-dedupe --store "$TMP/bf/seen.sqlite" --namespace warehouse \
    --mode record >/dev/null
sync
is "$rc:$(lines "$TMP/events.log")" "0:$((n1 + 12))" \
    "what the live pipeline delivered is not delivered again"
is "$(jq -r '.body | fromjson | .event.id' "$TMP/events.log" | tail -n 2 | sort)" \
    "$(tail -n 2 "$TMP/new4" | jq -r .id | sort)" "the other two are"

# A revoked API key: exit 2, nothing delivered, and the checkpoint still
# works once the key is right.
echo wrong_key >"$TMP/bad-key"
chmod 600 "$TMP/bad-key"
curl -sf -X POST "$FAKE_ROOT/_fake/add?n=2" >/dev/null
sync CLOSE_API_KEY_FILE="$TMP/bad-key"
is "$rc:$(lines "$TMP/events.log")" "2:$((n1 + 12))" "a bad API key: exit 2, nothing delivered"
like "$err" "*401*" "the API's refusal is reported"
ok "the key is not" bash -c "! grep -q wrong_key '$TMP/err'"

# The destination refuses (404): the events go to the dead letters.
start_sink refusing --status 404 --max-time 60
sync EVENTS_URL="$SINK_URL/close-events"
is "$rc" 1 "a refusing destination: exit 1"
is "$(lines "$TMP/bf/backfill-sync.dead-letter.ndjson")" 2 \
    "the two new events are in the dead-letter file"

ok "no command line held the API key" \
    bash -c "! grep -q api_test_key '$TMP/argv.log'"
ok "nor EVENTS_URL" \
    bash -c "! grep -qF '/close-events' '$TMP/argv.log'"
ok "(the log of command lines is not empty)" \
    grep -q 'closehook-backfill.*--api-key-file' "$TMP/argv.log"
ok "closehook-post took EVENTS_URL from a descriptor" \
    grep -q 'closehook-post.*--url-file /dev/fd/3' "$TMP/argv.log"

run env CLOSEHOOK_STATE="$TMP/bf" "$EX/backfill-sync.sh"
is "$rc" 2 "no EVENTS_URL: exit 2"
done_testing
