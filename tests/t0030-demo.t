#!/bin/bash
# make demo's script end to end (sender -> receive -> two followers ->
# verify, dedupe, flatten / post -> sink; backfill from the fake Close; a
# debugging scene with closehook-trigger and verify --explain; the
# cluster scene, examples/cluster.sh with a server SIGKILLed):
# its files add up, and what it prints is what its files hold.
. "$(dirname "$0")/lib.sh"
set -e
# The cluster scene's election timing is tested in the plain run (as the
# NATS tests are); under the sanitizers the demo skips it.
case $CLOSEHOOK_BUILD in
*/build-san) export CLOSEHOOK_DEMO_CLUSTER=0 ;;
esac

export DEMO_DIR=$TMP/demo
run sh "$TOP/bench/demo"
is "$rc" 0 "the demo runs"
[ "$rc" = 0 ] || sed 's/^/# /' "$TMP/err" | tail -n 5 >&2
is "$(grep -c -e 'No such file' -e 'command not found' -e '^grep:' \
    "$TMP/err" "$TMP/out" | awk -F: '{ n += $NF } END { print n }')" 0 \
    "no stray shell or tool error on its output"
like "$(cat "$TMP/err")" "!(*warning*)" "and no warning: each pipeline keeps what it reads"
d=$DEMO_DIR
sent=$(wc -l <"$d/payloads.ndjson")
is "$(wc -l <"$d/acked.ndjson")" "$sent" "every delivery was acknowledged"
is "$(wc -l <"$d/spool.ndjson")" "$((sent + 5))" \
    "every acknowledged request is in the spool, the forged ones too"
is "$(jq -r .reason "$d/rejects.ndjson" | sort | uniq -c | tr -s ' ')" \
    " 5 signature-mismatch" "the 5 forged deliveries were rejected"
uniq=$(jq -r '[.event.id, .event.date_updated] | @json' \
    "$d/payloads.ndjson" | sort -u | wc -l)
is "$(($(wc -l <"$d/table.csv") - 1))" "$uniq" \
    "one table row per unique (id, date_updated)"
is "$(head -1 "$d/table.csv")" "id,date_updated,object_type,action,lead_id" \
    "the CSV header"
is "$(wc -l <"$d/sink.log")" "$uniq" "the sink got each unique event once"
is "$(jq -r '.body | fromjson | [.event.id, .event.date_updated] | @json' \
    "$d/sink.log" | sort | uniq -d | wc -l)" 0 \
    "no (id, date_updated) reached the sink twice"
is "$(wc -l <"$d/replay.ndjson")" 0 "a replay of the spool delivers nothing"
is "$(wc -l <"$d/backfill.ndjson")" 300 \
    "the backfill brought the fake's 300 events"
like "$out" "*delivered to the sink:     $uniq by closehook-post*" \
    "the summary tells what was delivered"
is "$(jq -r .explain.likely_cause "$d/debug-rejects.ndjson" | tr '\n' ' ')" \
    "trailing-newline-added reserialized-body key-as-text body-before-timestamp timestamp-changed " \
    "the debugging scene: --explain names each of the five causes"
like "$out" "*line 3: signature-mismatch, likely cause key-as-text*" \
    "and the demo prints them"
if [ "${CLOSEHOOK_DEMO_CLUSTER:-1}" = 0 ]; then
	like "$out" "*cluster scene skipped: CLOSEHOOK_DEMO_CLUSTER=0*" \
	    "the cluster scene is skipped under the sanitizers, saying so"
elif PATH=$PATH:/usr/sbin command -v nats-server >/dev/null; then
	like "$out" "*cluster: 200 sent, 200 acknowledged, 200 delivered, 0 lost*" \
	    "the cluster scene: every event acknowledged comes out, a node killed"
	[ "$_failed" = 0 ] || printf '%s\n' "$out" | sed -n '/^cluster (/,$s/^/# /p'
	is "$(jq -r .event.id "$d/cluster/events.ndjson" | sort -u | wc -l)" 200 \
	    "its events file holds the 200"
	like "$(cat "$d/cluster.stderr")" "*nats-server n*exited (status 137)*" \
	    "after a server was SIGKILLed"
	# (a bracket in the pattern, so that grep does not find itself)
	ok "and nothing of the cluster is left running" \
	    test -z "$(grep -ls "$d/[c]luster/" /proc/[0-9]*/cmdline)"
else
	like "$out" "*cluster scene skipped: nats-server is not installed*" \
	    "without nats-server, the cluster scene says it is skipped"
fi
done_testing
