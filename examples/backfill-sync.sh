#!/bin/bash
# examples/backfill-sync.sh - an incremental sync from Close's Event Log,
# run by a timer: what the webhooks missed reaches the destination too.
#
#   closehook-backfill --state --commit-when acked | closehook-dedupe --mode check
#     | closehook-post | closehook-dedupe --mode record
#     | closehook-backfill --commit
#
# The first run fetches $BACKFILL_SINCE of history (the Event Log keeps 30
# days); each later run fetches only what is newer than the run before
# (closehook-backfill starts 5 minutes before the newest event it wrote, for
# events Close consolidated late), and an interrupted run resumes from its
# checkpoint.  The checkpoint is written at the end of the pipeline, once
# every event before it was delivered (or dead-lettered) and recorded: it
# travels down the pipe as a mark, so a run killed midway (a reboot, a
# timeout) fetches again what was still in the pipe.  The seen-set drops what was delivered before, by an earlier
# run or by the live pipeline: give CLOSEHOOK_NAMESPACE the name of the live
# follower that delivers to the same place (and the same CLOSEHOOK_STORE),
# and an event delivered by the webhook is not delivered again.  An event
# is recorded only once $EVENTS_URL accepted it; one that failed goes to the
# dead-letter file and is fetched again only if the checkpoint is reset, so
# replay the dead letters (see closehook-post(1)).
#
# Environment:
#   EVENTS_URL             where each event record is POSTed (required)
#   EVENTS_TOKEN_FILE      a Bearer token for it, if the file exists
#                          (default $CREDENTIALS_DIRECTORY/events-token, else
#                          /etc/closehook/events-token)
#   CLOSE_API_KEY_FILE     the Close API key (default
#                          $CREDENTIALS_DIRECTORY/close-api-key, else
#                          /etc/closehook/close-api-key); or $CLOSE_API_KEY
#   CLOSE_API_URL          the API base (default https://api.close.com/api/v1)
#   BACKFILL_SINCE         how far back the first run goes (default 7d)
#   BACKFILL_METRICS       a Prometheus textfile for node_exporter (optional)
#   CLOSEHOOK_NAMESPACE    the seen-set's namespace (default backfill-sync)
#   CLOSEHOOK_STATE, CLOSEHOOK_STORE   as in vip-alert.sh
#
# Exit status: closehook-backfill's (0 the whole range was written, 1 it
# stopped early and the next run resumes, 2 usage or authentication), or 1
# when records were dead-lettered.
set -euo pipefail

name="backfill-sync"
if [ -z "${EVENTS_URL:-}" ]; then
	echo "$name: set EVENTS_URL to where the events are to be posted" >&2
	exit 2
fi
secrets=${CREDENTIALS_DIRECTORY:-/etc/closehook}
state=${CLOSEHOOK_STATE:-${STATE_DIRECTORY:-/var/lib/closehook}}
store=${CLOSEHOOK_STORE:-$state/seen.sqlite}
namespace=${CLOSEHOOK_NAMESPACE:-backfill-sync}
token_file=${EVENTS_TOKEN_FILE:-$secrets/events-token}

backfill=(-q --since "${BACKFILL_SINCE:-7d}" --state "$state/$name.json"
    --commit-when acked)
[ -n "${CLOSE_API_URL:-}" ] && backfill+=(--api-url "$CLOSE_API_URL")
if [ -z "${CLOSE_API_KEY:-}" ] || [ -n "${CLOSE_API_KEY_FILE:-}" ]; then
	backfill+=(--api-key-file "${CLOSE_API_KEY_FILE:-$secrets/close-api-key}")
fi
[ -n "${BACKFILL_METRICS:-}" ] && backfill+=(--metrics "$BACKFILL_METRICS")
post=(-q --dead-letter "$state/$name.dead-letter.ndjson")
[ -e "$token_file" ] && post+=(--bearer-file "$token_file")
seen=(--store "$store" --namespace "$namespace")

# The URL reaches closehook-post on descriptor 3, not on its command line,
# which ps shows to every user: a URL can be a secret (a Slack or Zapier
# hook's is).
set +e
closehook-backfill "${backfill[@]}" |
	closehook-dedupe "${seen[@]}" --mode check |
	closehook-post "${post[@]}" --url-file /dev/fd/3 3<<<"$EVENTS_URL" |
	closehook-dedupe "${seen[@]}" --mode record |
	closehook-backfill --commit "$state/$name.json" >/dev/null
st=("${PIPESTATUS[@]}")
set -e
# The fetch's own status says most (2: a usage or authentication error),
# which pipefail would hide behind the end's 1 for the same run; when it
# succeeded, the worst of the other stages' (1: dead letters).
rc=${st[0]}
if [ "$rc" -eq 0 ]; then
	for s in "${st[@]}"; do
		[ "$s" -gt "$rc" ] && rc=$s
	done
fi
exit "$rc"
