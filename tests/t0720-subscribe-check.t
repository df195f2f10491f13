#!/bin/bash
# shellcheck disable=SC2016
# closehook-subscribe check: exit 0 when every subscription is active, 1
# when one is paused (naming it and why), 2 when the API refuses the key or
# cannot be reached (never "no subscriptions"); --metrics writes gauges
# atomically.  Also: Close's 400 text for the 40-subscription limit, 401
# and 403 messages, and --filter-file checked before anything is sent.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/close.sh"

fake_start --count 0
S=(closehook-subscribe --api-url "$FAKE_URL")
M=$TMP/metrics
gauge() { sed -n "s/^closehook_subscribe_subscriptions{status=\"$1\"} //p" "$M"; }

run "${S[@]}" check --metrics "$M"
is "$rc:$out:$err" "0::" "check with no subscriptions: exit 0, silent"
is "$(gauge active):$(gauge paused)" 0:0 "... gauges of 0 active, 0 paused"

curl -sf -X POST "$FAKE_ROOT/_fake/webhook_add?n=3" >/dev/null
mapfile -t ids < <("${S[@]}" list | jq -r .id)
run "${S[@]}" check --metrics "$M"
is "$rc:$err" "0:" "three active subscriptions: exit 0, silent"
is "$(gauge active):$(gauge paused)" 3:0 "... gauges say 3 active"
ok "--metrics is Prometheus text" \
    grep -qx '# TYPE closehook_subscribe_subscriptions gauge' "$M"
ok "... saying the check succeeded" \
    grep -qx 'closehook_subscribe_check_success 1' "$M"
ok "... written atomically (no temporary file left)" \
    bash -c '[ $# -eq 1 ]' _ "$TMP/metrics"*

curl -sf -X POST \
    "$FAKE_ROOT/_fake/webhook_pause?id=${ids[1]}&reason=permission_revoked" \
    >/dev/null
run "${S[@]}" check --metrics "$M"
is "$rc" 1 "a subscription Close paused: exit 1"
like "$err" "*${ids[1]} is paused (permission_revoked): https://example.com/hook/1*" \
    "... naming it, why, and its url"
ok "... and not the active ones" bash -c '! grep -q "$1" "$2"' _ \
    "${ids[0]}" "$TMP/err"
is "$(gauge active):$(gauge paused)" 2:1 "... gauges say 2 active, 1 paused"
"${S[@]}" pause "${ids[2]}" >/dev/null
run "${S[@]}" check
is "$rc" 1 "a subscription paused by hand: exit 1"
like "$err" "*${ids[2]} is paused (no pause_reason given)*" "... named too"
"${S[@]}" resume "${ids[1]}" >/dev/null
"${S[@]}" resume "${ids[2]}" >/dev/null
exit_is 0 "after resume, check exits 0 again" "${S[@]}" check

# --secret-file: the subscriptions no key of the files applies to (their
# deliveries are all refused), and keys of subscriptions Close no longer
# has.
k=$(printf '5b%.0s' $(seq 32))
printf '%s %s\n%s %s\nwhsub_gone0000000000000000 %s\n' \
    "${ids[0]}" "$k" "${ids[1]}" "$k" "$k" >"$TMP/ck"
chmod 600 "$TMP/ck"
run "${S[@]}" check --secret-file "$TMP/ck" --metrics "$M"
is "$rc" 1 "--secret-file: a subscription without a key: exit 1"
like "$err" "*${ids[2]} has no key in the key files: its deliveries are refused (401)*" \
    "... naming it"
ok "... and not the others" bash -c '! grep -q "${1} has no key" "$2"' _ \
    "${ids[0]}" "$TMP/err"
like "$err" "*is bound to whsub_gone0000000000000000, which Close does not have*" \
    "a key for a subscription Close does not have is named"
ok "... the metrics count the keyless one" \
    grep -qx 'closehook_subscribe_keyless_subscriptions 1' "$M"
printf '%s\n' "$k" >>"$TMP/ck"
run "${S[@]}" check --secret-file "$TMP/ck"
is "$rc" 0 "an unbound key applies to every subscription: exit 0"
must_fail "--secret-file is an option of check" \
    "${S[@]}" list --secret-file "$TMP/ck"

# Errors are exit 2, never "no subscriptions"; the metrics say so.
CLOSE_API_KEY=wrong_key_0123 run "${S[@]}" check --metrics "$M"
is "$rc" 2 "a wrong key: exit 2"
like "$err" "*refused the key (HTTP 401)*" "... saying the API refused it"
ok "... without echoing the key" bash -c '! grep -q wrong_key "$1"' _ \
    "$TMP/err"
ok "... the metrics say the check failed" \
    grep -qx 'closehook_subscribe_check_success 0' "$M"
ok "... and hold no subscription counts" \
    bash -c '! grep -q "^closehook_subscribe_subscriptions{" "$1"' _ "$M"
for c in list "pause ${ids[0]}" "create --url https://x.test --event lead:created --key-out $TMP/k"; do
	# shellcheck disable=SC2086
	CLOSE_API_KEY=wrong_key_0123 exit_is 2 "a wrong key: ${c%% *} exits 2" \
	    "${S[@]}" $c
done
ok "... create leaves no key file" [ ! -e "$TMP/k" ]
(unset CLOSE_API_KEY; run "${S[@]}" check; echo "$rc:$err") >"$TMP/nokey"
like "$(cat "$TMP/nokey")" "2:*no API key*" "no key at all: exit 2"
CLOSEHOOK_BACKOFF=20ms run closehook-subscribe \
    --api-url http://127.0.0.1:1/api/v1 check --metrics "$M"
is "$rc" 2 "an unreachable API: exit 2"
like "$err" "*could not be reached*" "... saying so"
ok "... the metrics say the check failed" \
    grep -qx 'closehook_subscribe_check_success 0' "$M"
fake_stop

fake_start --count 0 --webhook-forbidden
run closehook-subscribe --api-url "$FAKE_URL" check
is "$rc" 2 "a key without the right (403): exit 2"
like "$err" "*may not manage webhook subscriptions (HTTP 403*" \
    "... with a clear message"
fake_stop

# The 40-subscription limit: Close's 400 text shown, exit 2.
fake_start --count 0
S=(closehook-subscribe --api-url "$FAKE_URL")
curl -sf -X POST "$FAKE_ROOT/_fake/webhook_add?n=39" >/dev/null
exit_is 0 "the 40th subscription can be created" "${S[@]}" create \
    --url https://example.com/40 --event lead:created --key-out "$TMP/keys"
run "${S[@]}" create --url https://example.com/41 --event lead:created \
    --key-out "$TMP/keys"
is "$rc" 2 "the 41st is refused: exit 2"
like "$err" "*HTTP 400: Your organization has reached the limit of 40 webhook subscriptions.*" \
    "... showing Close's error text"
is "$(wc -l <"$TMP/keys")" 1 "... and adding nothing to the key file"

# --filter-file: one filter for every event, or one per TYPE:ACTION.
cat >"$TMP/f1" <<'F'
{"type": "field_accessor", "field": "changed_fields",
 "filter": {"type": "contains", "value": "status_id"}}
F
"${S[@]}" delete "$("${S[@]}" list | jq -r .id | head -1)"
run "${S[@]}" create --url https://example.com/f --event lead:updated \
    --event opportunity:updated --filter-file "$TMP/f1" --key-out "$TMP/keys"
is "$rc" 0 "a filter file with one filter: exit 0"
is "$(jq -c 'select(.method == "POST" and .status == 201) | .body.events | map(.extra_filter.filter.value)' "$FAKE_LOG" | tail -1)" \
    '["status_id","status_id"]' "... sent as every event's extra_filter"
cat >"$TMP/f2" <<'F'
{"opportunity:updated": {"type": "and", "filters": [
   {"type": "field_accessor", "field": "data", "filter":
     {"type": "field_accessor", "field": "status_type",
      "filter": {"type": "equals", "value": "won"}}},
   {"type": "not", "filter": {"type": "is_null"}}]}}
F
run "${S[@]}" -n create --url https://example.com/f --event lead:updated \
    --event opportunity:updated --filter-file "$TMP/f2" --key-out "$TMP/keys"
is "$(sed -n 2p "$TMP/out" | jq -c '.events | map(.extra_filter.type)')" \
    '[null,"and"]' "a filter keyed TYPE:ACTION goes to that event only"
before=$(fake_requests)
bad() {
	printf '%s\n' "$2" >"$TMP/fbad"
	run "${S[@]}" create --url https://example.com/f --event lead:updated \
	    --filter-file "$TMP/fbad" --key-out "$TMP/keys"
	is "$rc" 2 "a bad filter is refused: $1"
	like "$err" "*$3*" "... saying: $3"
}
bad "not JSON" '{"type": ' "invalid JSON"
bad "no type" '{"value": 1}' "is not an --event of this command"
bad "unknown type" '{"type": "regex", "value": "x"}' "unknown filter type"
bad "equals without value" '{"type": "equals"}' 'needs a "value"'
bad "empty and" '{"type": "and", "filters": []}' '"filters" is empty'
bad "nested" '{"type": "or", "filters": [{"type": "not", "filter": {"type": "field_accessor", "filter": {"type": "is_null"}}}]}' \
    'needs a "field" string at .filters\[0\].filter'
bad "an event not given" '{"lead:deleted": {"type": "is_null"}}' \
    '"lead:deleted" is not an --event'
is "$(fake_requests)" "$before" "bad filters send no request"

done_testing
