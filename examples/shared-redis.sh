#!/bin/bash
# examples/shared-redis.sh - several receivers on several hosts, one
# delivery per event: the follower each host runs, sharing one seen-set in
# Redis.
#
#   closehook-follow | closehook-verify
#     | closehook-dedupe --store redis://... | closehook-post
#
# Run closehook-receive (systemd/closehook-receive.service) and this on
# every host behind the load balancer or DNS name that Close posts to, or
# on the hosts of two subscriptions kept for redundancy.  An event may then
# reach more than one host: Close retries a delivery that timed out, and
# the second attempt lands elsewhere; or both subscriptions deliver it.
# Each host's closehook-dedupe claims the event's key in the shared Redis
# before passing it (SET NX, atomic across hosts), so each event is posted
# by exactly one host, however the deliveries interleave.
#
# The claim is made before the post, so unlike the single-host recipe
# (check, post, record: see won-handoff.sh) a host that dies while its
# closehook-post holds events in flight loses those for this destination
# (the other host saw them claimed).  What failed for good is in the
# dead-letter file.  Every request carries Idempotency-Key: the event id, so
# a destination that honours it drops repeats from any other path.
#
# Environment:
#   CLOSEHOOK_REDIS      the shared store, redis://HOST:PORT/DB or unix:PATH
#                        (required; Redis 7 or newer)
#   REDIS_PASSWORD_FILE  its password (default $CREDENTIALS_DIRECTORY/redis-password,
#                        else /etc/closehook/redis-password, used when it exists;
#                        or $CLOSEHOOK_REDIS_PASSWORD)
#   EVENTS_URL           where each event record is POSTed (required)
#   EVENTS_TOKEN_FILE    a Bearer token for it, used when the file exists
#                        (default $CREDENTIALS_DIRECTORY/events-token, else
#                        /etc/closehook/events-token)
#   CLOSEHOOK_NAMESPACE  the same on every host (default shared-redis)
#   CLOSEHOOK_STATE, CLOSEHOOK_SPOOL, CLOSEHOOK_KEYS, CLOSEHOOK_REWIND,
#   CLOSEHOOK_ONCE       as in vip-alert.sh (each host its own)
set -euo pipefail

name=shared-redis
if [ -z "${CLOSEHOOK_REDIS:-}" ] || [ -z "${EVENTS_URL:-}" ]; then
	echo "$name: set CLOSEHOOK_REDIS to the shared redis://HOST:PORT/DB" \
	    "and EVENTS_URL to where the events are to be posted" >&2
	exit 2
fi
secrets=${CREDENTIALS_DIRECTORY:-/etc/closehook}
state=${CLOSEHOOK_STATE:-${STATE_DIRECTORY:-/var/lib/closehook}}
spool=${CLOSEHOOK_SPOOL:-$state/close.ndjson}
keys=${CLOSEHOOK_KEYS:-$secrets/keys}
password_file=${REDIS_PASSWORD_FILE:-$secrets/redis-password}
token_file=${EVENTS_TOKEN_FILE:-$secrets/events-token}
if [ ! -r "$keys" ]; then
	echo "$name: cannot read $keys" >&2
	exit 2
fi

follow=(--offset-file "$state/$name.offset" --rewind "${CLOSEHOOK_REWIND:-10m}")
[ "${CLOSEHOOK_ONCE:-0}" = 1 ] && follow+=(--once)
seen=(--store "$CLOSEHOOK_REDIS" --namespace "${CLOSEHOOK_NAMESPACE:-$name}")
[ -e "$password_file" ] && seen+=(--redis-password-file "$password_file")
post=(--idempotency-key .event.id --dead-letter "$state/$name.dead-letter.ndjson")
[ -e "$token_file" ] && post+=(--bearer-file "$token_file")

# The URL reaches closehook-post on descriptor 3, not on its command line,
# which ps shows to every user: a URL can be a secret (a Slack or Zapier
# hook's is).
closehook-follow "${follow[@]}" "$spool" |
	closehook-verify --secret-file "$keys" \
	    --rejects "$state/$name.rejects.ndjson" |
	closehook-dedupe "${seen[@]}" |
	closehook-post "${post[@]}" --url-file /dev/fd/3 3<<<"$EVENTS_URL" |
	closehook-follow --commit "$state/$name.offset" >/dev/null
