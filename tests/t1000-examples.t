#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154,SC2016 # lib.sh: sourced; run sets rc, out, err; $ in JSON
# examples/vip-alert.sh and examples/won-handoff.sh against a real
# closehook-receive fed by the fake Close sender, with sink.py standing in
# for Slack and for a helpdesk: what the destinations get, once each,
# through Close's retries, replays of the spool, restarts and failing
# destinations; and that no secret ever was on a command line.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"
. "$TOP/tests/fakes/post-helpers.sh"
. "$TOP/tests/fakes/example-helpers.sh"

spool=$TMP/spool.ndjson
ok "closehook-receive starts as closehook-receive.service runs it" \
    start_receive recv --spool "$spool" --secret-file "$KEYS"
export CLOSEHOOK_SPOOL=$spool CLOSEHOOK_KEYS=$KEYS

# -- Lead routing: Slack alerts for VIP leads ----------------------------
F=custom.cf_VipTier
D=2026-11-26T10:00:0
{
	ev lead created ev_L1c lead_L1 lead_L1 "${D}1.000000" \
	    '{"id":"lead_L1","display_name":"Smith & <Sons>","status_label":"Potential","custom.cf_VipTier":"VIP"}'
	ev lead created ev_L2c lead_L2 lead_L2 "${D}2.000000" \
	    '{"id":"lead_L2","display_name":"Beta GmbH","status_label":"Potential","custom.cf_VipTier":"Standard"}'
	ev lead created ev_L3c lead_L3 lead_L3 "${D}3.000000" \
	    '{"id":"lead_L3","display_name":"No Tier Ltd"}'
	# Becomes a VIP: an alert.
	ev lead updated ev_L2u lead_L2 lead_L2 "${D}4.000000" \
	    '{"id":"lead_L2","display_name":"Beta GmbH","status_label":"Qualified","custom.cf_VipTier":"VIP"}' \
	    '{"status_label":"Potential","custom.cf_VipTier":"Standard"}'
	# A VIP updated in another field: no second alert.
	ev lead updated ev_L1u lead_L1 lead_L1 "${D}5.000000" \
	    '{"id":"lead_L1","display_name":"Smith & <Sons>","status_label":"Potential","custom.cf_VipTier":"VIP","description":"new"}' \
	    '{"description":"old"}'
	# A multiple-choice field with one VIP value among others.
	ev lead created ev_L4c lead_L4 lead_L4 "${D}6.000000" \
	    '{"id":"lead_L4","display_name":"Gamma SA","custom.cf_VipTier":["Gold","Strategic"]}'
	# From one VIP value to another: already a VIP.
	ev lead updated ev_L5u lead_L5 lead_L5 "${D}7.000000" \
	    '{"id":"lead_L5","display_name":"Delta","custom.cf_VipTier":"VIP"}' \
	    '{"custom.cf_VipTier":"Strategic"}'
	# Not a lead, and a deleted lead.
	ev opportunity created ev_O9c oppo_9 lead_L5 "${D}8.000000" \
	    '{"id":"oppo_9","lead_name":"Delta","custom.cf_VipTier":"VIP","status_type":"active"}'
	ev lead deleted ev_L6d lead_L6 lead_L6 "${D}9.000000" null \
	    '{"id":"lead_L6","display_name":"Gone","custom.cf_VipTier":"VIP"}'
} >"$TMP/leads.ndjson"
# Realistic traffic around them (none of it uses the VIP field), and
# Close's retry of the first delivery.
python3 "$TOP/bench/gen" --format payloads --count 150 --seed 21 \
    >"$TMP/noise.ndjson"
cat "$TMP/leads.ndjson" "$TMP/noise.ndjson" >"$TMP/batch1.ndjson"
head -n 1 "$TMP/leads.ndjson" >>"$TMP/batch1.ndjson"
ok "Close delivers the first batch" deliver "$RURL/" "$TMP/batch1.ndjson"

start_sink slack --max-time 120
slack_sink=$SINK_URL
printf '%s/services/T0EXAMPLE/B0EXAMPLE/sEcReTsLaCkToKeN\n' "$slack_sink" \
    >"$TMP/slack-url"
chmod 600 "$TMP/slack-url"
vip=(env VIP_FIELD="$F" VIP_VALUES="VIP,Strategic" SLACK_URL_FILE="$TMP/slack-url"
    SLACK_RATE=100/s CLOSEHOOK_STATE="$TMP/vip")
mkdir -p "$TMP/vip"
run "${vip[@]}" CLOSEHOOK_ONCE=1 "$EX/vip-alert.sh"
is "$rc" 0 "vip-alert.sh catches up on the spool and exits 0"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$TMP/err" | head -20 >&2
alerts() { jq -r '.body | fromjson | .text' "$TMP/slack.log"; }
is "$(alerts)" \
"VIP lead <https://app.close.com/lead/lead_L1/|Smith &amp; &lt;Sons&gt;>: VIP (Potential)
VIP lead <https://app.close.com/lead/lead_L2/|Beta GmbH>: VIP (Qualified)
VIP lead <https://app.close.com/lead/lead_L4/|Gamma SA>: Gold, Strategic" \
    "Slack gets one alert per VIP lead, in order, names escaped for mrkdwn"
is "$(jq -r .path "$TMP/slack.log" | sort -u)" \
    /services/T0EXAMPLE/B0EXAMPLE/sEcReTsLaCkToKeN \
    "at the webhook URL read from the secret file"
is "$(jq -r '.headers["content-type"]' "$TMP/slack.log" | sort -u)" \
    application/json "as JSON"
is "$(jq -c '.body | fromjson | keys' "$TMP/slack.log" | sort -u)" \
    '["text","unfurl_links"]' "shaped as Slack's incoming webhooks want"

run "${vip[@]}" CLOSEHOOK_ONCE=1 "$EX/vip-alert.sh"
is "$rc:$(lines "$TMP/slack.log")" 0:3 \
    "a second run re-reads the last 10 minutes and alerts nobody again"
rm "$TMP/vip/vip-alert.offset"
run "${vip[@]}" CLOSEHOOK_ONCE=1 "$EX/vip-alert.sh"
is "$rc:$(lines "$TMP/slack.log")" 0:3 \
    "nor does a replay of the whole spool"

# Following the spool, as the service runs it: a new VIP is alerted on
# within moments; a non-VIP is not.
start_group vip "${vip[@]}" "$EX/vip-alert.sh"
ev lead created ev_L7c lead_L7 lead_L7 2026-11-26T10:01:00.000000 \
    '{"id":"lead_L7","display_name":"Epsilon","custom.cf_VipTier":"VIP"}' \
    >"$TMP/batch2.ndjson"
ev lead created ev_L8c lead_L8 lead_L8 2026-11-26T10:01:01.000000 \
    '{"id":"lead_L8","display_name":"Zeta","custom.cf_VipTier":"Standard"}' \
    >>"$TMP/batch2.ndjson"
ok "Close delivers a VIP and a non-VIP lead" deliver "$RURL/" "$TMP/batch2.ndjson"
ok "the running service alerts on the new VIP" \
    wait_for 15 eval '[ "$(lines "$TMP/slack.log")" -ge 4 ]'
ok "and has read the whole spool" \
    wait_for 15 offset_at_end "$TMP/vip/vip-alert.offset" "$spool"
sleep 0.3
is "$(alerts | tail -n +4)" \
    "VIP lead <https://app.close.com/lead/lead_L7/|Epsilon>: VIP" \
    "only the VIP"
stop_group vip
ok "systemctl stop (SIGTERM to the group) stops it" \
    test "$rc" -ne 137

# Slack refuses for a while (the URL was revoked, 404): the alerts go to
# the dead letters and are not marked as sent; once the URL works again
# (after two 500s), the next run delivers each of them, once.
mkdir -p "$TMP/vip2"
start_sink revoked --status 404 --max-time 120
printf '%s/services/T0EXAMPLE/B0EXAMPLE/sEcReTsLaCkToKeN\n' "$SINK_URL" \
    >"$TMP/slack-url"
vip2=(env VIP_FIELD="$F" VIP_VALUES="VIP,Strategic" SLACK_URL_FILE="$TMP/slack-url"
    SLACK_RATE=100/s CLOSEHOOK_STATE="$TMP/vip2" CLOSEHOOK_ONCE=1
    "$EX/vip-alert.sh")
run "${vip2[@]}"
is "$rc" 1 "a destination refusing every alert: exit 1"
is "$(lines "$TMP/vip2/vip-alert.dead-letter.ndjson")" 4 \
    "the four alerts are in the dead-letter file"
start_sink flaky --faults 500 --fault-first 2 --max-time 120
printf '%s/services/T0EXAMPLE/B0EXAMPLE/sEcReTsLaCkToKeN\n' "$SINK_URL" \
    >"$TMP/slack-url"
run "${vip2[@]}"
is "$rc" 0 "the next run, with Slack back: exit 0"
# (In any order: closehook-post's --parallel 1 does not keep the input
# order when a record is retried.)
is "$(jq -r '.body | fromjson | .text' "$TMP/flaky.log" | sed 's/|.*//' | sort | tr '\n' ' ')" \
    "VIP lead <https://app.close.com/lead/lead_L1/ VIP lead <https://app.close.com/lead/lead_L2/ VIP lead <https://app.close.com/lead/lead_L4/ VIP lead <https://app.close.com/lead/lead_L7/ " \
    "delivers every alert once, through the 500s"

# Bad settings are refused before anything is read.
run env CLOSEHOOK_STATE="$TMP/vip" SLACK_URL_FILE="$TMP/slack-url" \
    "$EX/vip-alert.sh"
is "$rc" 2 "no VIP_FIELD: exit 2"
like "$err" "vip-alert: set VIP_FIELD*" "saying what is missing"
run env VIP_FIELD=$F CLOSEHOOK_STATE="$TMP/vip" \
    SLACK_URL_FILE="$TMP/nothing" "$EX/vip-alert.sh"
is "$rc:$err" "2:vip-alert: cannot read $TMP/nothing" \
    "an unreadable secret file: exit 2, named"

# -- Post-sale handoff: a helpdesk ticket per won deal --------------------
D=2026-11-26T11:00:0
won='{"status_type":"won","status_label":"Won","lead_name":"Acme Corp","lead_id":"lead_A","value":1200000,"value_formatted":"$12,000","value_currency":"USD","user_name":"Ada Lovelace","contact_name":"Bob","date_won":"2026-11-26"}'
{
	ev opportunity created ev_O1c oppo_1 lead_A "${D}1.000000" \
	    '{"id":"oppo_1","status_type":"active","lead_name":"Acme Corp"}'
	ev opportunity updated ev_O1won oppo_1 lead_A "${D}2.000000" \
	    "$(jq -c '.id = "oppo_1"' <<<"$won")" \
	    '{"status_type":"active","status_label":"Negotiation"}'
	# Won, then its value changes: still one ticket.
	ev opportunity updated ev_O1v oppo_1 lead_A "${D}3.000000" \
	    "$(jq -c '.id = "oppo_1" | .value = 1300000' <<<"$won")" \
	    '{"value":1200000}'
	# Created won.
	ev opportunity created ev_O2c oppo_2 lead_B "${D}4.000000" \
	    "$(jq -c '.id = "oppo_2" | .lead_name = "Bravo Inc" | .value_formatted = "$500"' <<<"$won")"
	ev opportunity updated ev_O3l oppo_3 lead_C "${D}5.000000" \
	    '{"id":"oppo_3","status_type":"lost","lead_name":"Charlie"}' \
	    '{"status_type":"active"}'
	# Reopened (won -> active: no ticket), then won again: its first
	# ticket here.
	ev opportunity updated ev_O4a oppo_4 lead_D "${D}6.000000" \
	    '{"id":"oppo_4","status_type":"active","lead_name":"Delta Co"}' \
	    '{"status_type":"won"}'
	ev opportunity updated ev_O4w oppo_4 lead_D "${D}7.000000" \
	    "$(jq -c '.id = "oppo_4" | .lead_name = "Delta Co"' <<<"$won")" \
	    '{"status_type":"active"}'
} >"$TMP/deals.ndjson"
# Close delivers the won event twice (a retry), and the same event again
# consolidated (same id, a newer date_updated).
sed -n 2p "$TMP/deals.ndjson" >"$TMP/deals-again.ndjson"
sed -n 2p "$TMP/deals.ndjson" |
    jq -c '.event.date_updated = "2026-11-26T11:00:09.000000"' \
    >>"$TMP/deals-again.ndjson"
# Realistic traffic without opportunities, whose won deals would count.
jq -c 'select(.event.object_type != "opportunity")' "$TMP/noise.ndjson" \
    >"$TMP/noise-no-oppo.ndjson"
cat "$TMP/deals.ndjson" "$TMP/noise-no-oppo.ndjson" "$TMP/deals-again.ndjson" \
    >"$TMP/batch3.ndjson"
ok "Close delivers the deals" deliver "$RURL/" "$TMP/batch3.ndjson"

start_sink helpdesk --faults 503 --fault-first 2 --max-time 120
echo "hd-tOkEn-0123456789" >"$TMP/helpdesk-token"
chmod 600 "$TMP/helpdesk-token"
mkdir -p "$TMP/hd"
handoff() {
	env HELPDESK_URL="$SINK_URL/api/tickets" \
	    HELPDESK_TOKEN_FILE="$TMP/helpdesk-token" CLOSEHOOK_STATE="$TMP/hd" \
	    CLOSEHOOK_ONCE=1 "$EX/won-handoff.sh"
}
run handoff
is "$rc" 0 "won-handoff.sh exits 0, through the helpdesk's 503s"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$TMP/err" | head -20 >&2
tickets() {
	jq -r '.body | fromjson | "\(.external_id) \(.subject)"' \
	    "$TMP/helpdesk.log" | sort
}
is "$(tickets)" "oppo_1 Onboard Acme Corp
oppo_2 Onboard Bravo Inc
oppo_4 Onboard Delta Co" "one ticket per won deal, none for the others"
t1=$(jq -c 'select(.body | fromjson | .external_id == "oppo_1")' \
    "$TMP/helpdesk.log")
is "$(jq -r '.headers["idempotency-key"]' <<<"$t1")" close-won-oppo_1 \
    "with Idempotency-Key: close-won-OPPORTUNITY"
is "$(jq -r '.headers.authorization' <<<"$t1")" "Bearer hd-tOkEn-0123456789" \
    "and the token from the secret file"
is "$(jq -r .path <<<"$t1")" /api/tickets "at HELPDESK_URL"
is "$(jq -c '.body | fromjson | {priority, tags, custom_fields, description}' <<<"$t1")" \
    '{"priority":"high","tags":["close","won-deal"],"custom_fields":{"close_lead_id":"lead_A","close_opportunity_id":"oppo_1","value":1200000,"currency":"USD"},"description":"Won by Ada Lovelace on 2026-11-26: $12,000, contact Bob.\nLead: https://app.close.com/lead/lead_A/"}' \
    "the ticket says who won what, for how much, with a link to the lead"

# Replays: Close delivers the won event once more, the service restarts
# (re-reading 10 minutes), the spool is replayed from its start.
ok "Close delivers the won event yet again" \
    deliver "$RURL/" "$TMP/deals-again.ndjson"
run handoff
is "$rc:$(lines "$TMP/helpdesk.log")" 0:3 "a new delivery: no new ticket"
rm "$TMP/hd/won-handoff.offset"
run handoff
is "$rc:$(lines "$TMP/helpdesk.log")" 0:3 \
    "a replay of the whole spool: no new ticket"

run env HELPDESK_TOKEN_FILE="$TMP/helpdesk-token" CLOSEHOOK_STATE="$TMP/hd" \
    "$EX/won-handoff.sh"
is "$rc" 2 "no HELPDESK_URL: exit 2"

# Secrets: never on a command line.
ok "no command line held the Slack URL's secret part" \
    bash -c "! grep -q sEcReTsLaCkToKeN '$TMP/argv.log'"
ok "nor the helpdesk token" \
    bash -c "! grep -q hd-tOkEn '$TMP/argv.log'"
ok "nor HELPDESK_URL" \
    bash -c "! grep -qF '/api/tickets' '$TMP/argv.log'"
ok "(the log of command lines is not empty)" \
    grep -q 'closehook-post.*--bearer-file' "$TMP/argv.log"
ok "closehook-post took the helpdesk's URL from a descriptor" \
    grep -q 'won-handoff.dead-letter.ndjson --url-file /dev/fd/3$' \
    "$TMP/argv.log"

stop_receive
done_testing
