#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# examples/cluster.sh: a 3-node nats-server cluster, two receivers
# publishing to one R3 stream, and a worker (durable consumer into a local
# file, verify, dedupe on a bucket of the same cluster, post to a sink).
# Signed deliveries go to both receivers, some of them to both (a retry
# landing on the other one); the stream's leader is SIGKILLed mid-stream.
# Every event acknowledged with a 2xx reaches the sink exactly once; a
# Ctrl-C stops everything the script started, in order.
. "$(dirname "$0")/lib.sh"
# Cluster timing (leader elections, redelivery deadlines) is tested in the
# plain run; under the sanitizers every server-side wait stretches unevenly.
case $CLOSEHOOK_BUILD in
*/build-san) skip_all "the NATS cluster is tested in the plain run" ;;
esac
PATH=$PATH:/usr/sbin
command -v nats-server >/dev/null 2>&1 ||
    skip_all "nats-server is not installed"
. "$TOP/tests/fakes/receive-helpers.sh"
. "$TOP/tests/fakes/post-helpers.sh"
. "$TOP/tests/fakes/example-helpers.sh"

start_sink dest --max-time 300
d=$TMP/cl

# session_pids: the processes of the script's session (it runs in a
# session of its own; each process it starts, in a group of its own).
session_pids() {
	local s f line rest sid
	s=$(cat "$TMP/cl.pgid" 2>/dev/null) || return 0
	for f in /proc/[0-9]*/stat; do
		line=$(cat "$f" 2>/dev/null) || continue
		rest=${line##*) }
		read -r _ _ _ sid _ <<<"$rest"
		[ "$sid" != "$s" ] || echo "${line%% *}"
	done
}
session_gone() { [ -z "$(session_pids)" ]; }
# Whatever happens, nothing of it outlives the test.
# shellcheck disable=SC2016 # run by at_exit
at_exit 'kill -KILL $(session_pids) 2>/dev/null'

# start_cluster: start the script on a free range of NATS ports (it
# refuses a range in use: then another), and wait until it is up.
start_cluster() {
	local try base
	for try in 1 2 3; do
		base=$((20000 + RANDOM % 7000))
		rm -f "$d/cluster.env"
		# As from a terminal: started in the background here, the
		# script would ignore SIGINT (and could not trap it).
		start_group cl python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' env EVENTS_URL="$SINK_URL/close" \
		    CLOSEHOOK_KEYS="$KEYS" CLUSTER_NATS_PORT="$base" \
		    CLUSTER_LISTEN="127.0.0.1:0 127.0.0.1:0" \
		    "$EX/cluster.sh" "$d"
		# shellcheck disable=SC2016 # expanded by the inner shell
		wait_for 60 bash -c '[ -e "$1/cluster.env" ] ||
		    ! kill -0 "$2"' sh "$d" "$(cat "$TMP/cl.pgid")"
		[ -e "$d/cluster.env" ] && return 0
		wait_group cl 10
		echo "# try $try: $(tail -n 2 "$TMP/cl.err")"
	done
	return 1
}
ok "cluster.sh starts the cluster, two receivers and the worker" start_cluster
. "$d/cluster.env"
read -r -a recv <<<"$CLUSTER_RECEIVERS"
read -r -a npid <<<"$CLUSTER_NATS_PIDS"
read -r -a mon <<<"$CLUSTER_MONITOR"
is "${#recv[@]}:${#npid[@]}" 2:3 "it names two receivers and three servers"
like "$(cat "$TMP/cl.out")" "*receivers*${recv[0]}*${recv[1]}*" \
    "and prints where they are"
like "$(cat "$TMP/cl.out")" "*stream nats://127.0.0.1:*/CLOSE*" \
    "and where the stream is"

# jsz QUERY: the monitoring answer of a live server.
jsz() {
	local m
	for m in "${mon[@]}"; do
		curl -s --max-time 2 "$m/jsz?$1" && return 0
	done
	return 1
}
is "$(jsz 'accounts=true&streams=true&config=true' | jq -r '
    [.account_details[].stream_detail[]
     | "\(.name):\(.config.num_replicas)"] | sort | join(" ")')" \
    "CLOSE:3 KV_SEEN:3" "the stream and the bucket have 3 replicas"

# Events with distinct ids; each batch is split between the receivers.
python3 "$TOP/bench/gen" --format payloads --count 1000 --seed 61 \
    >"$TMP/gen"
paste <(jq -r .event.id "$TMP/gen") "$TMP/gen" | awk -F '\t' '!seen[$1]++' |
    cut -f 2- | head -n 800 >"$TMP/all"
head -n 200 "$TMP/all" >"$TMP/b1"
sed -n '201,$p' "$TMP/all" >"$TMP/b2"
sed -n '1~2p' "$TMP/b1" >"$TMP/b1.a"
sed -n '2~2p' "$TMP/b1" >"$TMP/b1.b"
sed -n '1~2p' "$TMP/b2" >"$TMP/b2.a"
sed -n '2~2p' "$TMP/b2" >"$TMP/b2.b"
# Close retries a delivery whose answer it did not see: the retry of 20
# of receiver a's events lands on receiver b, signed anew.
head -n 20 "$TMP/b2.a" >>"$TMP/b2.b"

# send NAME URL FILE: deliveries as Close makes them, retried with back-off
# (a 503 while the cluster elects a leader is retried); what was
# acknowledged goes to $TMP/NAME.acked.
send() {
	: >"$TMP/$1.acked"
	timeout "$(slow 120)" python3 "$TOP/tests/fakes/sender.py" \
	    --key "$GEN_KEY" --concurrency 2 --attempts 60 --backoff 0.1 \
	    --backoff-max 1 --timeout "$(slow 15)" --max-time "$(slow 110)" \
	    --acked "$TMP/$1.acked" "$2" "$3" >"$TMP/$1.json"
}
# ids FILE: the event ids of the bodies in a sink log.
sink_ids() { jq -r '.body | fromjson | .event.id' "$1"; }
acked_ids() { jq -r '.body | fromjson | .event.id' "$@" | sort -u; }
# has_all: the sink has every event acknowledged so far.
has_all() {
	[ -z "$(comm -23 <(acked_ids "$TMP"/*.acked) \
	    <(sink_ids "$TMP/dest.log" | sort -u))" ]
}

send a1 "${recv[0]}" "$TMP/b1.a" &
s1=$!
send b1 "${recv[1]}" "$TMP/b1.b"
wait "$s1"
is "$(cat "$TMP"/a1.acked "$TMP"/b1.acked | wc -l)" 200 \
    "both receivers acknowledge Close's deliveries"
ok "the sink gets them through the worker" wait_for 30 has_all

# The second batch, and the stream's leader SIGKILLed once 150 of it are
# acknowledged.
leader=$(jsz 'accounts=true&streams=true' | jq -r '
    .account_details[].stream_detail[] | select(.name == "CLOSE")
    | .cluster.leader | ltrimstr("n")')
ok "the stream has a leader (n$leader)" test -n "$leader"
send a2 "${recv[0]}" "$TMP/b2.a" &
s1=$!
send b2 "${recv[1]}" "$TMP/b2.b" &
s2=$!
for _ in $(seq 400); do
	[ "$(cat "$TMP"/a2.acked "$TMP"/b2.acked 2>/dev/null | wc -l)" -ge 150 ] &&
	    break
	sleep 0.02
done
at=$(cat "$TMP"/a2.acked "$TMP"/b2.acked | wc -l)
kill -KILL "${npid[leader - 1]}"
wait "$s1" && r1=0 || r1=$?
wait "$s2" && r2=0 || r2=$?
is "$r1:$r2" 0:0 "every delivery is acknowledged in the end"
echo "# n$leader killed at $at acknowledgements;" \
    "$(jq -c .statuses "$TMP/a2.json") $(jq -c .statuses "$TMP/b2.json")"
ok "the script says the server exited" \
    grep -q "nats-server n$leader (pid ${npid[leader - 1]}) exited" "$TMP/cl.err"
ok "every acknowledged event reaches the sink" wait_for 60 has_all
sleep 2
acked_ids "$TMP"/*.acked >"$TMP/want"
is "$(wc -l <"$TMP/want")" 800 "all 800 events were acknowledged"
sink_ids "$TMP/dest.log" | sort | uniq -c | awk '$1 > 1 { print $2 }' \
    >"$TMP/twice"
got="$(wc -l <"$TMP/twice" | tr -d ' '):$(lines "$TMP/dest.log" | tr -d ' ')"
# The seen-set's requests wait out the bucket's election (closehook-dedupe
# retries for a minute), so no stage of the worker dies of the kill.
is "$got" 0:800 "each exactly once, the retries landing elsewhere too"
if [ -s "$TMP/twice" ]; then
	echo "# twice: $(head -n 5 "$TMP/twice" | paste -sd ' ')"
fi
echo "# script: $(grep -v '^#' "$TMP/cl.err" | paste -sd '|')"
echo "# worker: $(sort "$d/worker.log" | uniq -c | paste -sd '|')"
for i in 1 2; do
	echo "# receive$i: $(grep -v 'listening on' "$d/receive$i.log" |
	    sort | uniq -c | paste -sd '|')"
done
ok "nothing was dead-lettered" test ! -s "$d/dead-letter.ndjson"

# A Ctrl-C: SIGINT to the terminal's process group, which holds the
# script alone (each process it starts is in a group of its own).
kill -INT -- "-$(cat "$TMP/cl.pgid")"
wait_group cl 40
is "$rc" 0 "SIGINT (Ctrl-C) stops it, exit 0"
ok "everything it started is gone, the servers too" wait_for 10 session_gone
like "$(cat "$TMP/cl.err")" "*cluster: stopping*" "saying so"
ok "the worker's offset is at the end of its local file" \
    offset_at_end "$d/worker.offset" "$d/worker.ndjson"
# shellcheck disable=SC2016 # expanded by the inner shell
ok "no command line held the sink's URL or the key" \
    bash -c '! grep -qF -e "$1" -e "$2" "$3"' sh "$SINK_URL" "$GEN_KEY" \
    "$TMP/argv.log"
ok "closehook-post took its URL from a descriptor" \
    grep -q 'closehook-post.*--url-file /dev/fd/3' "$TMP/argv.log"
done_testing
