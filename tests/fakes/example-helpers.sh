# shellcheck shell=bash disable=SC2034,SC2016 # EX, KEYS: for the caller
# tests/fakes/example-helpers.sh - running the scripts of examples/ in the
# tests t10NN-examples*.t (sourced after tests/lib.sh and
# tests/fakes/receive-helpers.sh).  The scripts get their settings from the
# environment, as an operator's unit or shell would give them.

EX=$TOP/examples

# The scripts must not see the caller's settings.
unset CLOSEHOOK_STATE CLOSEHOOK_SPOOL CLOSEHOOK_KEYS CLOSEHOOK_STORE \
    CLOSEHOOK_REWIND CLOSEHOOK_ONCE CLOSEHOOK_NAMESPACE CLOSEHOOK_REDIS \
    CLOSEHOOK_LISTEN CREDENTIALS_DIRECTORY STATE_DIRECTORY CLOSE_API_KEY \
    CLOSEHOOK_REDIS_PASSWORD

# Every closehook program is reached through a shim that appends its
# command line to $TMP/argv.log, so that a test can check that no secret
# ever was on one.
mkdir -p "$TMP/shims"
for _p in "$CLOSEHOOK_BUILD"/bin/closehook-*; do
	printf '#!/bin/sh\nprintf "%%s\\n" "$0 $*" >>"%s/argv.log"\nexec "%s" "$@"\n' \
	    "$TMP" "$_p" >"$TMP/shims/${_p##*/}"
	chmod 755 "$TMP/shims/${_p##*/}"
done
PATH=$TMP/shims:$PATH
: >"$TMP/argv.log"

# The signature key of the fake sender, in a key file as an operator keeps it.
KEYS=$TMP/keys
echo "$GEN_KEY" >"$KEYS"
chmod 600 "$KEYS"

# ev TYPE ACTION EVENT_ID OBJECT_ID LEAD_ID DATE_UPDATED DATA [PREVIOUS]:
# one webhook body as Close sends it; DATA and PREVIOUS are JSON.
ev() {
	jq -nc --arg t "$1" --arg a "$2" --arg id "$3" --arg oid "$4" \
	    --arg lid "$5" --arg du "$6" --argjson data "$7" \
	    --argjson prev "${8:-null}" '
	{subscription_id: "whsub_examples",
	 event: {id: $id, date_created: $du, date_updated: $du,
	         organization_id: "orga_examples", user_id: "user_examples",
	         request_id: "req_examples", api_key_id: null,
	         object_type: $t, object_id: $oid, lead_id: $lid, action: $a,
	         changed_fields: (if $prev then $prev | keys else [] end),
	         meta: {request_method: "PUT", request_path: "/api/v1/x/"},
	         data: $data, previous_data: $prev}}'
}

# deliver URL FILE: Close's signed deliveries of the bodies in FILE, one by
# one in order; fails unless every one was acknowledged.
deliver() {
	send_events "$1" "$2" --attempts 3 &&
	    [ "$(jq -r '.acked == .events' "$TMP/sender.json")" = true ]
}

# Waits are scaled by $CLOSEHOOK_SLOW (tests/valgrind-check sets it).  The
# loops below scale their counts, so they poll with `command sleep`, which
# tests/lib.sh does not scale a second time.
SLOW=${CLOSEHOOK_SLOW:-1}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds, for at
# most SECONDS (times $SLOW).
wait_for() {
	local n=$(($1 * 10 * SLOW)) _
	shift
	for _ in $(seq "$n"); do
		"$@" >/dev/null 2>&1 && return 0
		command sleep 0.1
	done
	return 1
}

# lines FILE: its number of lines (0 when it does not exist).
lines() {
	if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi
}

# start_group NAME CMD...: CMD in a session of its own (as systemd runs a
# unit in a cgroup of its own), stdout and stderr in $TMP/NAME.out and
# $TMP/NAME.err; its process group id goes to $TMP/NAME.pgid.
start_group() {
	local name=$1
	shift
	setsid "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	echo $! >"$TMP/$name.pgid"
	at_exit "kill -KILL -- -$! 2>/dev/null"
}

# wait_group NAME SECONDS: wait for the group's leader to exit, at most
# SECONDS (times $SLOW), then kill what is left of the group; sets rc to
# the leader's exit status (137 when it had to be killed).
wait_group() {
	local g _
	g=$(cat "$TMP/$1.pgid")
	for _ in $(seq $(($2 * 10 * SLOW))); do
		kill -0 "$g" 2>/dev/null || break
		command sleep 0.1
	done
	kill -KILL -- "-$g" 2>/dev/null
	wait "$g"
	rc=$?
}

# stop_group NAME [SIGNAL]: SIGNAL (default TERM) to the whole group, as
# `systemctl stop` does, then wait_group NAME 20.
stop_group() {
	kill "-${2:-TERM}" -- "-$(cat "$TMP/$1.pgid")" 2>/dev/null
	wait_group "$1" 20
}

# group_gone NAME: no process of the group is left (read from /proc: the
# process group is the third field after the command's closing paren).
group_gone() {
	local g f line rest
	g=$(cat "$TMP/$1.pgid")
	for f in /proc/[0-9]*/stat; do
		line=$(cat "$f" 2>/dev/null) || continue
		rest=${line##*) }
		read -r _ _ pgrp _ <<<"$rest"
		[ "$pgrp" != "$g" ] || return 1
	done
	return 0
}

# offset_at_end NAME SPOOL: the follower's committed offset is SPOOL's size.
offset_at_end() {
	[ -e "$1" ] &&
	    [ "$(sed -E 's/.*"offset":([0-9]+).*/\1/' "$1")" = "$(wc -c <"$2")" ]
}
