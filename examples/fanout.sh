#!/bin/bash
# examples/fanout.sh - one receiver feeding several independent followers,
# for a host or container without systemd.
#
#   closehook-receive --spool SPOOL
#   for each NAME=URL of $FANOUT_TARGETS, its own follower:
#     closehook-follow --offset-file NAME.offset SPOOL | closehook-verify
#       | closehook-dedupe --mode check | closehook-post --url-file (URL)
#       | closehook-dedupe --mode record
#       | closehook-follow --commit NAME.offset
#
# closehook-receive makes each event durable in the spool before Close gets
# its 2xx; each follower reads the spool from its own offset, so a slow or
# unreachable destination holds back only its own follower, never the
# receiver or the other destinations, and catches up when it is back.
# Each destination gets every verified event once: its seen-set (namespace
# NAME) is checked before the post and recorded after it.
#
# SIGTERM or SIGINT stops the receiver (requests in flight are answered)
# and the followers, which commit their offsets; the rest of each pipeline
# finishes what it holds and exits (what is left after
# $CLOSEHOOK_STOP_TIMEOUT is stopped too).  When any process exits by
# itself, the rest is stopped the same way and the exit status is 1, for a
# supervisor (Docker's restart policy, runit, ...) to start it again.  With
# systemd, run the same as separate units instead (see systemd/).
#
# Environment:
#   FANOUT_TARGETS     space-separated NAME=URL pairs, NAME of letters, digits,
#                      '-' and '_' (required), e.g.
#                      "warehouse=https://ingest.example.com/close crm=https://crm.internal/close"
#                      A Bearer token for NAME is read from the file NAME.token
#                      beside the keys when it exists.  Each URL reaches
#                      closehook-post on a descriptor, never on a command
#                      line, which ps shows to every user: a URL can be a
#                      secret (a Slack or Zapier hook's is).
#   CLOSEHOOK_LISTEN   the receiver's ADDR:PORT (default 127.0.0.1:8080; put a
#                      TLS-terminating proxy in front, or set the two below)
#   CLOSEHOOK_TLS_CERT, CLOSEHOOK_TLS_KEY   serve HTTPS with these PEM files
#   CLOSEHOOK_PATH     the path Close posts to (default /)
#   CLOSEHOOK_STOP_TIMEOUT  seconds the pipelines get to drain on a stop
#                      (default 20)
#   CLOSEHOOK_STATE, CLOSEHOOK_SPOOL, CLOSEHOOK_KEYS, CLOSEHOOK_STORE,
#   CLOSEHOOK_REWIND   as in vip-alert.sh
set -euo pipefail

if [ -z "${FANOUT_TARGETS:-}" ]; then
	echo "fanout: set FANOUT_TARGETS to NAME=URL pairs" >&2
	exit 2
fi
secrets=${CREDENTIALS_DIRECTORY:-/etc/closehook}
state=${CLOSEHOOK_STATE:-${STATE_DIRECTORY:-/var/lib/closehook}}
spool=${CLOSEHOOK_SPOOL:-$state/close.ndjson}
keys=${CLOSEHOOK_KEYS:-$secrets/keys}
store=${CLOSEHOOK_STORE:-$state/seen.sqlite}
rewind=${CLOSEHOOK_REWIND:-10m}

if [ ! -r "$keys" ]; then
	echo "fanout: cannot read $keys" >&2
	exit 2
fi
# Captures are customer data: files made here are for this user only.
umask 077
for t in $FANOUT_TARGETS; do
	if ! [[ $t =~ ^[A-Za-z0-9_-]+=[a-z]+://.+ ]]; then
		echo "fanout: $t: not NAME=URL" >&2
		exit 2
	fi
done
# The followers open the spool at once; the receiver may not have yet.
touch "$spool"
run=$(mktemp -d "${TMPDIR:-/tmp}/closehook-fanout.XXXXXX")
trap 'rm -rf "$run"' EXIT

stop=()     # what SIGTERM goes to first: the receiver and the followers
all=()      # every process started
stopping=0
timer=
# shutdown: SIGTERM to the receiver and the followers; what is left of the
# pipelines drains.  Whatever still runs after $CLOSEHOOK_STOP_TIMEOUT gets
# SIGTERM too: closehook-post then dead-letters what it could not deliver,
# and the stages reading a pipe finish their input (at most 25 s more).
shutdown() {
	[ "$stopping" -eq 0 ] || return 0
	stopping=1
	kill -TERM "${stop[@]}" 2>/dev/null || true
	sleep "${CLOSEHOOK_STOP_TIMEOUT:-20}" &
	timer=$!
}
alive() {
	local p
	for p; do
		kill -0 "$p" 2>/dev/null && return 0
	done
	return 1
}
trap shutdown TERM INT

receive=(-l "${CLOSEHOOK_LISTEN:-127.0.0.1:8080}" --path "${CLOSEHOOK_PATH:-/}"
	--spool "$spool" --secret-file "$keys")
if [ -n "${CLOSEHOOK_TLS_CERT:-}" ]; then
	receive+=(--tls-cert "$CLOSEHOOK_TLS_CERT" --tls-key "$CLOSEHOOK_TLS_KEY")
fi
closehook-receive "${receive[@]}" >/dev/null &
stop+=("$!")
all+=("$!")

# follower NAME URL: the pipeline with a fifo between each two stages
# rather than a |, so that each stage is a process of its own here: one
# that exits is noticed at once, and SIGTERM goes to closehook-follow alone
# while the stages after it drain.
follower() {
	local name=$1 url=$2 seen post f=$run/$1
	seen=(--store "$store" --namespace "$name")
	post=(-q --dead-letter "$state/$name.dead-letter.ndjson")
	if [ -e "$secrets/$name.token" ]; then
		post+=(--bearer-file "$secrets/$name.token")
	fi
	mkfifo "$f.1" "$f.2" "$f.3" "$f.4" "$f.5"
	closehook-follow -q --offset-file "$state/$name.offset" \
	    --rewind "$rewind" "$spool" >"$f.1" &
	stop+=("$!")
	all+=("$!")
	closehook-verify -q --secret-file "$keys" \
	    --rejects "$state/$name.rejects.ndjson" <"$f.1" >"$f.2" &
	all+=("$!")
	closehook-dedupe "${seen[@]}" --mode check <"$f.2" >"$f.3" &
	all+=("$!")
	closehook-post "${post[@]}" --url-file /dev/fd/3 3<<<"$url" \
	    <"$f.3" >"$f.4" &
	all+=("$!")
	closehook-dedupe "${seen[@]}" --mode record <"$f.4" >"$f.5" &
	all+=("$!")
	closehook-follow --commit "$state/$name.offset" <"$f.5" >/dev/null &
	all+=("$!")
}
for t in $FANOUT_TARGETS; do
	follower "${t%%=*}" "${t#*=}"
done

status=0
while :; do
	rc=0
	wait -n || rc=$?
	# 127: no child left to wait for.
	[ "$rc" -ne 127 ] || break
	if [ "$stopping" -eq 0 ]; then
		echo "fanout: a process exited (status $rc); stopping the rest" >&2
		status=1
		shutdown
	elif ! alive "${all[@]}"; then
		kill "$timer" 2>/dev/null || true
	elif ! alive "$timer"; then
		kill -TERM "${all[@]}" 2>/dev/null || true
	fi
done
exit "$status"
