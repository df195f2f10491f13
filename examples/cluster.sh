#!/bin/bash
# examples/cluster.sh - the scaled-out topology on one host, for a try-out:
# a NATS JetStream cluster holds the spool and the seen-set, two receivers
# publish to it, and a worker pipeline takes the events out.
#
#   nats-server n1, n2, n3        one cluster, JetStream, on 127.0.0.1
#   closehook-receive x 2         two ports, as if behind a load balancer:
#       --spool nats://.../CLOSE  each capture stored by a quorum (2 of 3)
#                                 before its 2xx; 503 + Retry-After when not
#   the worker:
#     closehook-follow --durable worker nats://.../CLOSE >> worker.ndjson
#     closehook-follow --offset-file worker.offset worker.ndjson
#       | closehook-verify
#       | closehook-dedupe --mode check --store nats://.../SEEN
#       | closehook-post (to $EVENTS_URL)
#       | closehook-dedupe --mode record --store nats://.../SEEN
#       | closehook-follow --commit worker.offset
#
# Usage: examples/cluster.sh [DIR]
#
# Everything lives under DIR (made when missing; a new temporary
# directory, removed at the end, when none is given): the servers'
# configurations, logs and JetStream stores, the key file, the worker's
# files.  Started again on the same DIR, the cluster comes back with its
# stream, its consumer and its seen-set, and the worker goes on where it
# stopped.  The script prints where everything is (and writes it to
# DIR/cluster.env as shell assignments, once everything is up, removed
# when it ends), then waits.  SIGINT (Ctrl-C) or SIGTERM stops it all: the receivers (requests
# in flight are answered) and the worker's followers first, then the rest
# of the worker drains, then the servers; exit 0.  A receiver that exits
# by itself stops the rest the same way, with exit status 1.
#
# Why two followers: closehook-follow acknowledges a message of the stream
# once its line was written.  Into a regular file that is durable (it
# fdatasyncs first); into a pipe it is not, since the stages after it still
# hold the line.  So the stream is read into a local file, and the pipeline
# runs on that file with an offset file and acknowledged commits (see
# closehook-follow(1), Streams): the stream redelivers what the first
# follower had not made durable, the marks cover the rest.  More hosts
# share the work by running the same worker with the same --durable name,
# each with its own local file, and the same bucket.
#
# Failures, one host standing in for three:
#   - one server dies (kill -9 a pid printed at start): the script says so
#     and leaves it dead (start the script again to bring it back).  The
#     stream, its consumer and the bucket elect new leaders among the
#     other two within seconds; meanwhile the receivers answer 503 with
#     Retry-After, which Close retries.  Nothing acknowledged is lost: a
#     quorum had stored it.
#   - two servers die: no quorum.  The receivers answer 503 (their
#     /healthz answers 503 only once no server at all is connected); the
#     worker stops and is restarted until the cluster is back.
#   - a receiver dies: the other one still takes deliveries (a load
#     balancer would send them there; Close retries those that failed).
#     Here it stops the script (exit 1), to be noticed.
#   - a stage of the worker exits: the script stops the worker (SIGTERM
#     to its followers; the rest drains) and starts it again 5 s later,
#     as systemd's Restart= would.  What it had not finished is read again,
#     from the stream (not yet in worker.ndjson) or from worker.ndjson
#     (past the committed offset); the seen-set, checked before the post
#     and recorded after it, drops what was delivered and recorded.  What
#     was delivered and not yet recorded is delivered again.
#     closehook-dedupe waits while the bucket elects a leader or its
#     server is replaced (a minute at most, then it exits 2 and the
#     worker restarts this way, and the destination gets the events in
#     flight twice, with the same Idempotency-Key), so killing one server
#     usually costs the worker a wait of seconds, not a restart.
#
# Environment:
#   EVENTS_URL         where each verified, deduplicated event record is
#                      POSTed; it reaches closehook-post on a descriptor,
#                      never on a command line.  Unset: the records are
#                      appended to DIR/events.ndjson instead.
#   CLOSEHOOK_KEYS     Close's signature keys (default DIR/keys; made with
#                      a new random key when it does not exist)
#   CLUSTER_LISTEN     the receivers' two ADDR:PORTs (default
#                      "127.0.0.1:8080 127.0.0.1:8081"; port 0: any free one)
#   CLUSTER_NATS_PORT  the first server's client port (default 4222); the
#                      others take the next two, routes these plus 2000,
#                      monitoring these plus 4000 (6222..., 8222...)
#   CLOSEHOOK_STOP_TIMEOUT  seconds the pipeline gets to drain on a stop
#                      (default 20)
# The programs are taken from PATH, else from the build directory of the
# source tree this script is in; nats-server (Debian: apt install
# nats-server) from PATH or /usr/sbin.
set -euo pipefail

name=cluster
if [ $# -gt 1 ]; then
	echo "usage: examples/cluster.sh [DIR]" >&2
	exit 2
fi

# The programs: installed, or built in this tree.
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v closehook-receive >/dev/null; then
	if [ -x "$here/../build/bin/closehook-receive" ]; then
		PATH=$(cd "$here/../build/bin" && pwd):$PATH
	else
		echo "$name: closehook-receive is not in PATH (make install," \
		    "or make in the source tree)" >&2
		exit 2
	fi
fi
PATH=$PATH:/usr/sbin
if ! command -v nats-server >/dev/null; then
	echo "$name: nats-server is not installed (apt install nats-server)" >&2
	exit 2
fi

# Captures are customer data: files made here are for this user only.
umask 077
temp=0
if [ $# -eq 1 ]; then
	mkdir -p "$1"
	dir=$(cd "$1" && pwd)
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/closehook-cluster.XXXXXX")
	temp=1
fi
keys=${CLOSEHOOK_KEYS:-$dir/keys}
read -r -a listen <<<"${CLUSTER_LISTEN:-127.0.0.1:8080 127.0.0.1:8081}"
if [ "${#listen[@]}" -ne 2 ]; then
	echo "$name: CLUSTER_LISTEN: give two ADDR:PORTs" >&2
	exit 2
fi
base=${CLUSTER_NATS_PORT:-4222}
if ! [[ $base =~ ^[0-9]+$ ]] || [ "$base" -lt 1 ] ||
    [ "$base" -gt $((65535 - 4002)) ]; then
	echo "$name: CLUSTER_NATS_PORT: not a port that leaves room for" \
	    "the others" >&2
	exit 2
fi

# A key, made here once, as closehook-subscribe --key-out keeps Close's:
# 32 random bytes in hex, in a file only this user reads.
if [ ! -e "$keys" ]; then
	od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$keys"
	echo >>"$keys"
	made_key=1
else
	made_key=0
fi
if [ ! -r "$keys" ]; then
	echo "$name: cannot read $keys" >&2
	exit 2
fi

run=$dir/run
# The previous run's: written again once everything is up.
rm -f "$dir/cluster.env"
rm -rf "$run"
mkdir -p "$run" "$dir/nats"

# ---- the NATS cluster: three servers, each with its own store ----------
servers=    # HOST:PORT,HOST:PORT,HOST:PORT: what a nats:// URL takes
routes=
for i in 1 2 3; do
	servers+="127.0.0.1:$((base + i - 1)),"
	routes+="\"nats-route://127.0.0.1:$((base + 2000 + i - 1))\", "
	for p in $((base + i - 1)) $((base + 2000 + i - 1)) \
	    $((base + 4000 + i - 1)); do
		# A connection that succeeds: something listens there already.
		if (: </dev/tcp/127.0.0.1/"$p") 2>/dev/null; then
			echo "$name: port $p is in use: set CLUSTER_NATS_PORT" \
			    "to another range" >&2
			exit 2
		fi
	done
done
servers=${servers%,}
for i in 1 2 3; do
	cat >"$dir/nats/n$i.conf" <<EOF
# Written by examples/cluster.sh: server n$i of a three-server cluster.
server_name: n$i
listen: 127.0.0.1:$((base + i - 1))
http: 127.0.0.1:$((base + 4000 + i - 1))
jetstream {
  store_dir: "$dir/nats/n$i"
}
cluster {
  name: closehook
  listen: 127.0.0.1:$((base + 2000 + i - 1))
  routes: [ ${routes%, } ]
}
EOF
done

receivers=() # the receivers' pids
heads=()    # the worker's closehook-follow heads
all=()      # every closehook process started
nats=()     # the servers' pids, n1 n2 n3
declare -A role
stopping=0
timer=
# Each process is started in a process group of its own (set -m around
# the &), so that a Ctrl-C in the terminal reaches this script alone, which
# stops them in order; otherwise every stage would get SIGINT at once.
#
# shutdown: SIGTERM to the receivers and the followers; what is left of
# the pipeline drains.  Whatever still runs after $CLOSEHOOK_STOP_TIMEOUT
# gets SIGTERM too (closehook-post then dead-letters what it could not
# deliver).  The servers stop last: the drain needs them.
shutdown() {
	[ "$stopping" -eq 0 ] || return 0
	stopping=1
	echo "$name: stopping" >&2
	if [ "${#receivers[@]}" -gt 0 ]; then
		kill -TERM "${receivers[@]}" "${heads[@]}" 2>/dev/null || true
	fi
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
# stop_all: SIGTERM to every process still running, the servers last, and
# wait for them.
stop_all() {
	local p
	# shellcheck disable=SC2086 # each a pid or nothing
	kill ${timer:-} ${restart_timer:-} 2>/dev/null || true
	if [ "${#all[@]}" -gt 0 ]; then
		kill -TERM "${all[@]}" 2>/dev/null || true
		for p in "${all[@]}"; do
			wait "$p" 2>/dev/null || true
		done
	fi
	kill -TERM "${nats[@]}" 2>/dev/null || true
	for p in "${nats[@]}"; do
		wait "$p" 2>/dev/null || true
	done
}
# However the script ends, nothing it started is left behind.
# DIR/cluster.env goes too: a wrapper that waits for it to appear must not
# find the last run's.
trap 'stop_all; rm -rf "$run"; rm -f "$dir/cluster.env"
	[ "$temp" -eq 0 ] || rm -rf "$dir"' EXIT
# A signal while starting: stop whatever was started.
trap 'exit 1' TERM INT

set -m
for i in 1 2 3; do
	nats-server -c "$dir/nats/n$i.conf" >>"$dir/nats/n$i.log" 2>&1 \
	    </dev/null &
	nats+=("$!")
	role[$!]="nats-server n$i"
done
set +m

# healthz HOST PORT: GET /healthz there answers 200, asked with bash's
# /dev/tcp (HOST without brackets).
healthz() (
	exec 3<>"/dev/tcp/$1/$2" || exit 1
	printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3
	read -r -t 2 _ code _ <&3 && [ "$code" = 200 ]
) 2>/dev/null
# Each server's JetStream is up and current.
for _ in $(seq 100); do
	healthz 127.0.0.1 "$((base + 4000))" &&
	    healthz 127.0.0.1 "$((base + 4001))" &&
	    healthz 127.0.0.1 "$((base + 4002))" && break
	sleep 0.1
done
# Ready once JetStream can place a bucket on three servers: this makes the
# seen-set's bucket, SEEN, before the worker's two dedupe stages start.
store=nats://$servers/SEEN
tries=0
until closehook-dedupe --store "$store" --mode check </dev/null \
    2>"$run/probe.err"; do
	tries=$((tries + 1))
	if [ "$tries" -ge 60 ] || ! alive "${nats[@]}"; then
		echo "$name: the NATS cluster did not come up:" \
		    "$(tail -n 1 "$run/probe.err")" >&2
		echo "$name: see $dir/nats/n*.log" >&2
		stop_all
		exit 1
	fi
	sleep 0.5
done
stream=nats://$servers/CLOSE

# ---- two receivers publishing to one stream -----------------------------
# wait_ready LOG: the ADDR:PORT a receiver listens on (from the first
# words of its LOG), once it answers /healthz: it says where it listens
# before it has connected to the cluster and made the stream.
wait_ready() {
	local _ addr host
	for _ in $(seq 200); do
		addr=$(sed -n 's/.*listening on //p' "$1" 2>/dev/null | head -n 1)
		host=${addr%:*}
		host=${host#[}
		if [ -n "$addr" ] && healthz "${host%]}" "${addr##*:}"; then
			echo "$addr"
			return 0
		fi
		sleep 0.1
	done
	return 1
}
urls=()
for i in 1 2; do
	# One at a time: the first creates the stream (3 replicas).  Two
	# making it at once can fail: one of them then exits (a timeout).
	set -m
	closehook-receive -l "${listen[i - 1]}" --spool "$stream" \
	    --secret-file "$keys" </dev/null >/dev/null 2>"$dir/receive$i.log" &
	set +m
	receivers+=("$!")
	all+=("$!")
	role[$!]="closehook-receive $i"
	if ! addr=$(wait_ready "$dir/receive$i.log"); then
		echo "$name: receiver $i did not start:" \
		    "$(tail -n 1 "$dir/receive$i.log")" >&2
		stop_all
		exit 1
	fi
	urls+=("http://$addr/")
done

# ---- the worker ---------------------------------------------------------
# Each stage is joined to the next by a fifo rather than a |, so that each
# is a process of its own here: one that exits is noticed at once, and
# SIGTERM goes to the closehook-follow heads alone while the stages after
# them drain.  Their messages go to worker.log.
seen=(--store "$store" --namespace worker)
f=$run/worker
log=$dir/worker.log
mkfifo "$f.1" "$f.2" "$f.3" "$f.4" "$f.5"
touch "$dir/worker.ndjson"
if [ -n "${EVENTS_URL:-}" ]; then
	sink=$EVENTS_URL
else
	sink=$dir/events.ndjson
	touch "$sink"
fi
worker=()   # the worker's processes, of its latest start
# shellcheck disable=SC2016 # a jq program
idem='"\(.event.id) \(.event.date_updated)"'
# spawned ROLE [head]: note the process just started in the background.
spawned() {
	all+=("$!")
	worker+=("$!")
	role[$!]=$1
	[ "${2:-}" != head ] || heads+=("$!")
}
start_worker() {
	worker=()
	heads=()
	set -m
	# The stream into the local file: each line fdatasync'd before its
	# message is acknowledged.
	closehook-follow -q --durable worker "$stream" </dev/null \
	    >>"$dir/worker.ndjson" 2>>"$log" &
	spawned "closehook-follow --durable" head
	# The local file through the pipeline, from the committed offset.
	closehook-follow -q --offset-file "$dir/worker.offset" \
	    "$dir/worker.ndjson" </dev/null >"$f.1" 2>>"$log" &
	spawned "closehook-follow --offset-file" head
	closehook-verify -q --secret-file "$keys" \
	    --rejects "$dir/rejects.ndjson" <"$f.1" >"$f.2" 2>>"$log" &
	spawned closehook-verify
	closehook-dedupe "${seen[@]}" --mode check <"$f.2" >"$f.3" 2>>"$log" &
	spawned "closehook-dedupe --mode check"
	if [ -n "${EVENTS_URL:-}" ]; then
		# Check, post, record: a key is recorded once its event was
		# delivered, so a crash repeats at most what was in flight,
		# and the check drops what was delivered already.  The
		# Idempotency-Key header, the seen-set's key, lets a
		# destination that honours it drop those repeats too.
		closehook-post -q --dead-letter "$dir/dead-letter.ndjson" \
		    --idempotency-key "$idem" \
		    --url-file /dev/fd/3 3<<<"$EVENTS_URL" \
		    <"$f.3" >"$f.4" 2>>"$log" &
		spawned closehook-post
		closehook-dedupe "${seen[@]}" --mode record <"$f.4" \
		    >"$f.5" 2>>"$log" &
		spawned "closehook-dedupe --mode record"
		closehook-follow --commit "$dir/worker.offset" <"$f.5" \
		    >/dev/null 2>>"$log" &
		spawned "closehook-follow --commit"
	else
		# No destination: the records are appended to events.ndjson,
		# fdatasync'd before each commit.  A second follower records
		# their keys from that file, so the seen-set holds only what
		# is in it: a crash before a record reached the file leaves
		# its key unrecorded, and the replay writes it.  (dedupe's
		# default mode before the file would record a key that a
		# crash could keep out of the file.)
		closehook-follow --commit "$dir/worker.offset" <"$f.3" \
		    >>"$sink" 2>>"$log" &
		spawned "closehook-follow --commit"
		closehook-follow -q --offset-file "$dir/recorded.offset" \
		    "$sink" </dev/null >"$f.4" 2>>"$log" &
		spawned "closehook-follow (recording)" head
		closehook-dedupe "${seen[@]}" --mode record <"$f.4" \
		    >"$f.5" 2>>"$log" &
		spawned "closehook-dedupe --mode record"
		closehook-follow --commit "$dir/recorded.offset" <"$f.5" \
		    >/dev/null 2>>"$log" &
		spawned "closehook-follow --commit (recording)"
	fi
	set +m
}
start_worker

# ---- where things are ----------------------------------------------------
# Also as shell assignments in DIR/cluster.env, put in place last: once
# it exists, everything is up.
{
	echo "CLUSTER_NATS='$stream'"
	echo "CLUSTER_SEEN='$store'"
	echo "CLUSTER_RECEIVERS='${urls[*]}'"
	echo "CLUSTER_NATS_PIDS='${nats[*]}'"
	echo "CLUSTER_MONITOR='http://127.0.0.1:$((base + 4000))" \
	    "http://127.0.0.1:$((base + 4001)) http://127.0.0.1:$((base + 4002))'"
	echo "CLUSTER_KEYS='$keys'"
	echo "CLUSTER_SINK='$sink'"
} >"$run/cluster.env"
cat <<EOF
closehook cluster in $dir$([ "$temp" -eq 0 ] || echo " (removed at the end)")
  nats-server  n1 pid ${nats[0]}, n2 pid ${nats[1]}, n3 pid ${nats[2]}
               stream $stream (3 replicas)
               bucket $store
               monitoring http://127.0.0.1:$((base + 4000))/ and the next two ports
               configurations, logs and stores in $dir/nats/
  receivers    ${urls[0]} ${urls[1]}
               logs $dir/receive1.log, $dir/receive2.log
  keys         $keys$([ "$made_key" -eq 0 ] || echo " (a new key, made here)")
  worker       consumer "worker" -> $dir/worker.ndjson -> verify
               -> dedupe (bucket SEEN) -> $sink
               rejects $dir/rejects.ndjson, messages $log
  try          closehook-trigger --secret-file $keys --count 5 \\
                   --url ${urls[0]} lead:created
  stop         Ctrl-C, or kill $$
EOF
mv "$run/cluster.env" "$dir/cluster.env"


# ---- wait ------------------------------------------------------------------
# Until a stop.  A server that exits is reported, and the cluster goes on
# with the others.  A stage of the worker that exits stops the worker
# (SIGTERM to its heads; the rest drains), which starts again 5 s later,
# as systemd's Restart= would: it goes on from the consumer and the
# committed offset, so the restart loses nothing.  A receiver that exits
# stops everything, with exit status 1.
trap shutdown TERM INT
status=0
restarting=0
restart_timer=
declare -A reaped
while :; do
	live=()
	# shellcheck disable=SC2086 # each a pid or nothing
	for p in "${all[@]}" "${nats[@]}" $timer $restart_timer; do
		[ -n "${reaped[$p]:-}" ] || live+=("$p")
	done
	[ "${#live[@]}" -gt 0 ] || break
	rc=0
	who=
	wait -n -p who "${live[@]}" 2>/dev/null || rc=$?
	# None: a trapped signal interrupted the wait.
	[ -n "${who:-}" ] || continue
	reaped[$who]=1
	if [ "$who" = "$timer" ]; then
		# The drain took too long: SIGTERM to every stage.
		kill -TERM "${all[@]}" 2>/dev/null || true
		continue
	fi
	if [ "$who" = "$restart_timer" ]; then
		restart_timer=
		restarting=0
		if [ "$stopping" -eq 0 ]; then
			echo "$name: starting the worker again" >&2
			start_worker
		fi
		continue
	fi
	case ${role[$who]} in
	nats-server*)
		[ "$stopping" -eq 1 ] ||
		    echo "$name: ${role[$who]} (pid $who) exited (status $rc);" \
			"the cluster goes on with the others" >&2
		;;
	closehook-receive*)
		if [ "$stopping" -eq 0 ]; then
			echo "$name: ${role[$who]} exited (status $rc);" \
			    "stopping the rest" >&2
			status=1
			shutdown
		fi
		;;
	*)
		if [ "$stopping" -eq 0 ] && [ "$restarting" -eq 0 ]; then
			echo "$name: ${role[$who]} exited (status $rc);" \
			    "stopping the worker, to start it again (see $log)" >&2
			restarting=1
			kill -TERM "${heads[@]}" 2>/dev/null || true
		fi
		if [ "$restarting" -eq 1 ] && [ -z "$restart_timer" ] &&
		    ! alive "${worker[@]}"; then
			sleep 5 &
			restart_timer=$!
		fi
		;;
	esac
	# Once every closehook process is gone, the servers go.
	if [ "$stopping" -eq 1 ] && ! alive "${all[@]}"; then
		break
	fi
done
exit "$status"
