#!/bin/bash
# examples/vip-alert.sh - lead routing: a Slack alert when a VIP lead
# appears.
#
#   closehook-follow | closehook-verify | jq (the VIP leads)
#     | closehook-dedupe --mode check | closehook-post (Slack incoming webhook)
#     | closehook-dedupe --mode record
#
# Follows the spool that closehook-receive writes (see
# systemd/closehook-receive.service), verifies each capture, and posts one
# Slack message for each lead that is created as a VIP or becomes one: its
# field $VIP_FIELD (a custom field, "custom.cf_...") holds one of
# $VIP_VALUES.  jq(1) picks those events.
#
# One alert per lead: the seen-set is keyed on the lead id and checked
# before the post, and a lead is recorded only once Slack accepted its
# message.  So Close's retries, a replay of the spool and a restart alert
# nobody twice, and a message that could not be delivered (it goes to the
# dead-letter file) is tried again by the next start, which re-reads the
# last $CLOSEHOOK_REWIND of the spool; replay older dead letters as shown
# below.  A lead alerted on is remembered for closehook-dedupe's --ttl (35
# days).
#
# The Slack webhook URL is a secret: closehook-post reads it from its file
# (--url-file), so it never appears on a command line.
#
# Environment:
#   VIP_FIELD          the lead field that marks a VIP, e.g. custom.cf_3Xa...
#                      (required; Close shows the id in Settings > Custom Fields)
#   VIP_VALUES         comma-separated values that count as VIP (default VIP);
#                      a multiple-choice field counts when any choice does
#   SLACK_URL_FILE     file holding the incoming-webhook URL
#                      (default $CREDENTIALS_DIRECTORY/slack-url, else
#                      /etc/closehook/slack-url)
#   SLACK_RATE         at most this many messages (default 1/s, Slack's limit)
#   CLOSE_APP_URL      where the lead links point (default https://app.close.com)
#   CLOSEHOOK_STATE    directory for the offset, seen-set, rejects and dead
#                      letters (default $STATE_DIRECTORY, else /var/lib/closehook)
#   CLOSEHOOK_SPOOL    the spool (default $CLOSEHOOK_STATE/close.ndjson)
#   CLOSEHOOK_KEYS     Close signature keys (default $CREDENTIALS_DIRECTORY/keys,
#                      else /etc/closehook/keys)
#   CLOSEHOOK_STORE    closehook-dedupe's store (default $CLOSEHOOK_STATE/seen.sqlite,
#                      or redis://... to share it)
#   CLOSEHOOK_REWIND   start this much earlier on each start (default 10m)
#   CLOSEHOOK_ONCE     1: stop at the end of the spool instead of following it
#
# Run it as a service (systemd/closehook-vip-alert.service); stopping it
# with SIGTERM to the whole pipeline is safe.  Replay the dead letters,
# once Slack answers again, through the same check and record:
#
#   closehook-dedupe --mode check --namespace vip-alert --key '[.event.lead_id]' \
#       < vip-alert.dead-letter.ndjson | closehook-post ... | closehook-dedupe --mode record ...
set -euo pipefail

name=vip-alert
if [ -z "${VIP_FIELD:-}" ]; then
	echo "$name: set VIP_FIELD to the lead field that marks a VIP" \
	    "(custom.cf_...)" >&2
	exit 2
fi
VIP_VALUES=${VIP_VALUES:-VIP}
CLOSE_APP_URL=${CLOSE_APP_URL:-https://app.close.com}
export VIP_FIELD VIP_VALUES CLOSE_APP_URL

secrets=${CREDENTIALS_DIRECTORY:-/etc/closehook}
state=${CLOSEHOOK_STATE:-${STATE_DIRECTORY:-/var/lib/closehook}}
spool=${CLOSEHOOK_SPOOL:-$state/close.ndjson}
keys=${CLOSEHOOK_KEYS:-$secrets/keys}
store=${CLOSEHOOK_STORE:-$state/seen.sqlite}
slack_url_file=${SLACK_URL_FILE:-$secrets/slack-url}

# Fail here, not halfway through the pipeline, when a secret is missing.
for f in "$keys" "$slack_url_file"; do
	if [ ! -r "$f" ]; then
		echo "$name: cannot read $f" >&2
		exit 2
	fi
done
if ! grep -q '[^[:space:]]' "$slack_url_file"; then
	echo "$name: $slack_url_file: no URL in it" >&2
	exit 2
fi

follow=(--offset-file "$state/$name.offset" --rewind "${CLOSEHOOK_REWIND:-10m}")
[ "${CLOSEHOOK_ONCE:-0}" = 1 ] && follow+=(--once)
seen=(--store "$store" --namespace "$name" --key '[.event.lead_id]')

# The events to alert on: a lead created as a VIP, or updated with
# $VIP_FIELD changed from a value that was not VIP.  They are picked before
# the seen-set, which is keyed on the lead: keyed on the lead, the lead's
# other events would count as repeats.
# shellcheck disable=SC2016 # jq's $variables, not the shell's
# closehook-follow's marks pass unchanged: --commit at the end needs them.
select='
def each: if type == "array" then .[] else . end | tostring;
if has("closehook_mark") then . else
($ENV.VIP_VALUES | split(",")) as $vips
| $ENV.VIP_FIELD as $f
| select(.event.object_type == "lead")
| select(any(.event.data[$f]? | each; IN($vips[])))
| select(.event.action == "created"
    or (.event.action == "updated"
        and (.event.previous_data | type) == "object"
        and (.event.previous_data | has($f))
        and (any(.event.previous_data[$f] | each; IN($vips[])) | not)))
end'

# The message, names escaped as Slack's mrkdwn wants.
# shellcheck disable=SC2016
body='
def esc: tostring | gsub("&"; "&amp;") | gsub("<"; "&lt;") | gsub(">"; "&gt;");
def each: if type == "array" then .[] else . end | tostring;
.event
| {text: ("VIP lead <\($ENV.CLOSE_APP_URL)/lead/\(.lead_id // .data.id)/|"
    + ((.data.display_name // .data.name // "unnamed") | esc) + ">: "
    + ([.data[$ENV.VIP_FIELD] | each] | join(", ") | esc)
    + (if .data.status_label then " (" + (.data.status_label | esc) + ")"
       else "" end)),
   unfurl_links: false}'

closehook-follow "${follow[@]}" "$spool" |
	closehook-verify --secret-file "$keys" \
	    --rejects "$state/$name.rejects.ndjson" |
	jq -c --unbuffered "$select" |
	closehook-dedupe "${seen[@]}" --mode check |
	closehook-post --parallel 1 \
	    --rate "${SLACK_RATE:-1/s}" --body "$body" \
	    --url-file "$slack_url_file" \
	    --dead-letter "$state/$name.dead-letter.ndjson" |
	closehook-dedupe "${seen[@]}" --mode record |
	closehook-follow --commit "$state/$name.offset" >/dev/null
