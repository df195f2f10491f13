#!/bin/bash
# examples/won-handoff.sh - post-sale handoff: a helpdesk ticket for each
# deal that is won.
#
#   closehook-follow | closehook-verify | jq (the deals won)
#     | closehook-dedupe --mode check | closehook-post --idempotency-key
#     (helpdesk API) | closehook-dedupe --mode record
#
# Follows the spool that closehook-receive writes, verifies each capture,
# and opens one ticket in a helpdesk's HTTP API when an opportunity's
# status changes to won (or it is created won); jq(1) picks those events.
#
# One ticket per won deal, however often Close delivers the event and
# however often the spool is replayed: the seen-set is keyed on the
# opportunity id, checked before the post and recorded only after the
# helpdesk accepted the ticket; the Idempotency-Key header (the same on
# every attempt, "close-won-OPPORTUNITY_ID") lets a helpdesk that honours it
# drop the one repeat left, a request whose answer was lost in a crash.
# Requests for one opportunity go one at a time (--order-by).  A deal won,
# lost and won again within the seen-set's TTL (35 days) gets no second
# ticket.
#
# Environment:
#   HELPDESK_URL         the helpdesk's create-ticket endpoint (required)
#   HELPDESK_TOKEN_FILE  file holding its API token, sent as a Bearer token
#                        (default $CREDENTIALS_DIRECTORY/helpdesk-token, else
#                        /etc/closehook/helpdesk-token)
#   HELPDESK_PRIORITY    the tickets' priority (default high)
#   CLOSE_APP_URL        where links point (default https://app.close.com)
#   CLOSEHOOK_STATE, CLOSEHOOK_SPOOL, CLOSEHOOK_KEYS, CLOSEHOOK_STORE,
#   CLOSEHOOK_REWIND, CLOSEHOOK_ONCE   as in vip-alert.sh
#
# The ticket body is JSON shaped like most helpdesk APIs (subject,
# description, priority, external_id, tags); change $body for yours.
set -euo pipefail

name=won-handoff
if [ -z "${HELPDESK_URL:-}" ]; then
	echo "$name: set HELPDESK_URL to the helpdesk endpoint that creates" \
	    "tickets" >&2
	exit 2
fi
HELPDESK_PRIORITY=${HELPDESK_PRIORITY:-high}
CLOSE_APP_URL=${CLOSE_APP_URL:-https://app.close.com}
export HELPDESK_PRIORITY CLOSE_APP_URL

secrets=${CREDENTIALS_DIRECTORY:-/etc/closehook}
state=${CLOSEHOOK_STATE:-${STATE_DIRECTORY:-/var/lib/closehook}}
spool=${CLOSEHOOK_SPOOL:-$state/close.ndjson}
keys=${CLOSEHOOK_KEYS:-$secrets/keys}
store=${CLOSEHOOK_STORE:-$state/seen.sqlite}
token_file=${HELPDESK_TOKEN_FILE:-$secrets/helpdesk-token}

# Fail here, not halfway through the pipeline, when a secret is missing.
for f in "$keys" "$token_file"; do
	if [ ! -r "$f" ]; then
		echo "$name: cannot read $f" >&2
		exit 2
	fi
done

follow=(--offset-file "$state/$name.offset" --rewind "${CLOSEHOOK_REWIND:-10m}")
[ "${CLOSEHOOK_ONCE:-0}" = 1 ] && follow+=(--once)
seen=(--store "$store" --namespace "$name" --key '[.event.data.id // .event.object_id]')

# The events that win a deal.  They are picked before the seen-set, which is
# keyed on the opportunity: keyed on the opportunity, its other events would
# count as repeats.  closehook-follow's marks pass unchanged: --commit at
# the end needs them.
select='
if has("closehook_mark") then . else
select(.event.object_type == "opportunity"
    and .event.data.status_type == "won")
| select(.event.action == "created"
    or (.event.action == "updated"
        and (.event.previous_data | type) == "object"
        and (.event.previous_data | has("status_type"))
        and .event.previous_data.status_type != "won"))
end'

# shellcheck disable=SC2016 # jq's $variables, not the shell's
body='
.event
| (.data.id // .object_id) as $oppo
| {subject: "Onboard \(.data.lead_name // "a new customer")",
   description: ("Won by \(.data.user_name // "someone") on \(.data.date_won // (.date_updated[:10])): "
     + "\(.data.value_formatted // "no value")"
     + (if .data.contact_name then ", contact \(.data.contact_name)" else "" end)
     + ".\nLead: \($ENV.CLOSE_APP_URL)/lead/\(.lead_id // .data.lead_id)/"),
   priority: $ENV.HELPDESK_PRIORITY,
   external_id: $oppo,
   tags: ["close", "won-deal"],
   custom_fields: {close_lead_id: (.lead_id // .data.lead_id),
                   close_opportunity_id: $oppo,
                   value: .data.value, currency: .data.value_currency}}'

# The URL reaches closehook-post on descriptor 3, not on its command line,
# which ps shows to every user: a URL can be a secret (a Slack or Zapier
# hook's is).
closehook-follow "${follow[@]}" "$spool" |
	closehook-verify --secret-file "$keys" \
	    --rejects "$state/$name.rejects.ndjson" |
	jq -c --unbuffered "$select" |
	closehook-dedupe "${seen[@]}" --mode check |
	closehook-post --parallel 4 --bearer-file "$token_file" \
	    --order-by '.event.data.id // .event.object_id' \
	    --idempotency-key '"close-won-\(.event.data.id // .event.object_id)"' \
	    --body "$body" --dead-letter "$state/$name.dead-letter.ndjson" \
	    --url-file /dev/fd/3 3<<<"$HELPDESK_URL" |
	closehook-dedupe "${seen[@]}" --mode record |
	closehook-follow --commit "$state/$name.offset" >/dev/null
