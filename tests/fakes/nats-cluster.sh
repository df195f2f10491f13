# shellcheck shell=bash disable=SC2034 # NATS_*: for the caller
# tests/fakes/nats-cluster.sh - real nats-server processes with JetStream
# for the NATS tests (sourced after tests/lib.sh).  A cluster is three
# servers on 127.0.0.1 with routes between them, each with its own store
# under $TMP/nats/nI, its own client, route and monitoring ports (free
# ones, chosen when it starts) and a bounded lifetime: every server runs
# under timeout(1), and the test kills them all when it ends.  A test
# skips when nats-server is not installed.
#
#   nats_cluster_start      three servers in one cluster; waits until
#                           every one is healthy and JetStream has a
#                           meta leader.  Sets NATS_N, NATS_SERVERS
#                           (HOST:PORT,HOST:PORT,...: what a nats:// URL
#                           takes), NATS_PORT[I], NATS_MPORT[I].
#   nats_single_start       one server, JetStream, no cluster.
#   nats_kill I             SIGKILL server I (1-based).
#   nats_restart I          start server I again on its ports and store.
#   nats_restart_all        start every server killed again at once, and
#                           wait until all are healthy (a lone server
#                           of a cluster is not, without a quorum).
#   nats_leader STREAM      the number of the server leading STREAM.
#   nats_jsz QUERY          the monitoring /jsz answer of a live server.
#   nats_free_port          a loopback port no server listens on (yet).
#
#   nats_caps FIRST N [PAD] N capture lines with distinct bodies and
#                           signature timestamps (bodies padded with PAD
#                           bytes, 300 by default), one a line.
#
# $NATS_CONF_EXTRA, when set at start, is added to every server's
# configuration (an authorization block, say).  A test skips under the
# sanitizers and valgrind: cluster timing (leader elections, redelivery
# deadlines) is tested in the plain run, and there every server-side wait
# stretches unevenly.

case $CLOSEHOOK_BUILD in
*/build-san | */valgrind) skip_all "the NATS cluster is tested in the plain run" ;;
esac
command -v nats-server >/dev/null 2>&1 ||
    skip_all "nats-server is not installed"
command -v curl >/dev/null 2>&1 || skip_all "curl is not installed"

# Seconds a server lives at most, whatever happens to the test.
: "${NATS_LIFETIME:=$(slow 180)}"
NATS_N=0
NATS_SERVERS=
NATS_PORT=()
NATS_CPORT=()
NATS_MPORT=()

# _nats_ports N: N distinct free TCP ports on 127.0.0.1, one a line (held
# open together while chosen, so that they differ).
_nats_ports() {
	python3 -c '
import socket, sys
ss = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    ss.append(s)
for s in ss:
    print(s.getsockname()[1])' "$1"
}

# _nats_conf I CLUSTERED: write server I's configuration.
_nats_conf() {
	local i=$1 j routes=
	mkdir -p "$TMP/nats/n$i"
	{
		echo "server_name: n$i"
		echo "listen: 127.0.0.1:${NATS_PORT[i]}"
		echo "http: 127.0.0.1:${NATS_MPORT[i]}"
		echo "pid_file: \"$TMP/nats/n$i.pid\""
		echo "jetstream {"
		echo "  store_dir: \"$TMP/nats/n$i\""
		echo "  max_memory_store: 64MB"
		echo "  max_file_store: 1GB"
		echo "}"
		if [ "$2" = 1 ]; then
			for j in $(seq "$NATS_N"); do
				routes+="\"nats-route://127.0.0.1:${NATS_CPORT[j]}\", "
			done
			echo "cluster {"
			echo "  name: closehook"
			echo "  listen: 127.0.0.1:${NATS_CPORT[i]}"
			echo "  routes: [ ${routes%, } ]"
			echo "}"
		fi
		printf '%s\n' "${NATS_CONF_EXTRA:-}"
	} >"$TMP/nats/n$i.conf"
}

# _nats_run I: start server I under timeout(1), in the background.
_nats_run() {
	local i=$1
	rm -f "$TMP/nats/n$i.pid"
	timeout -s KILL "$NATS_LIFETIME" nats-server -c "$TMP/nats/n$i.conf" \
	    >>"$TMP/nats/n$i.log" 2>&1 </dev/null &
	echo $! >"$TMP/nats/n$i.tpid"
	disown $!
}

# _nats_pid I: server I's process id, or nothing.
_nats_pid() {
	cat "$TMP/nats/n$1.pid" 2>/dev/null
}

# _nats_healthy I: server I answers its health check (JetStream current).
_nats_healthy() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
	    "http://127.0.0.1:${NATS_MPORT[$1]}/healthz")" = 200 ]
}

# _nats_wait I...: wait (at most 20 s, slowed: longer) until every server
# named is healthy; 1 when one is not, or exited.
_nats_wait() {
	local _ i all
	for _ in $(seq 200); do
		all=1
		for i; do
			if ! kill -0 "$(cat "$TMP/nats/n$i.tpid")" 2>/dev/null; then
				return 1
			fi
			_nats_healthy "$i" || all=0
		done
		[ "$all" = 1 ] && return 0
		sleep 0.1
	done
	return 1
}

# _nats_stop_all: kill every server started (at_exit).
_nats_stop_all() {
	local i p
	for i in $(seq "$NATS_N"); do
		p=$(_nats_pid "$i")
		[ -n "$p" ] && kill -KILL "$p" 2>/dev/null
		kill -KILL "$(cat "$TMP/nats/n$i.tpid" 2>/dev/null)" 2>/dev/null
	done
	return 0
}

# _nats_start N CLUSTERED: start N servers; up to three tries with fresh
# ports (another process may take a port between choosing and binding).
_nats_start() {
	local n=$1 clustered=$2 try i ports
	mkdir -p "$TMP/nats"
	if [ "${_nats_hooked:-}" != 1 ]; then
		at_exit _nats_stop_all
		_nats_hooked=1
	fi
	for try in 1 2 3; do
		_nats_stop_all
		mapfile -t ports < <(_nats_ports $((3 * n)))
		NATS_N=$n
		NATS_SERVERS=
		for i in $(seq "$n"); do
			NATS_PORT[i]=${ports[3 * i - 3]}
			NATS_CPORT[i]=${ports[3 * i - 2]}
			NATS_MPORT[i]=${ports[3 * i - 1]}
			NATS_SERVERS+="127.0.0.1:${NATS_PORT[i]},"
		done
		NATS_SERVERS=${NATS_SERVERS%,}
		for i in $(seq "$n"); do
			rm -rf "$TMP/nats/n$i"
			_nats_conf "$i" "$clustered"
			_nats_run "$i"
		done
		# shellcheck disable=SC2046
		_nats_wait $(seq "$n") && _nats_meta && return 0
		echo "# nats: servers did not come up (try $try)" >&2
	done
	return 1
}

# _nats_meta: JetStream has a meta leader (a cluster can place streams).
_nats_meta() {
	local _
	grep -q '^cluster' "$TMP/nats/n1.conf" || return 0
	for _ in $(seq 200); do
		nats_jsz '' | grep -q '"leader": *"n[0-9]' && return 0
		sleep 0.1
	done
	return 1
}

nats_cluster_start() {
	_nats_start 3 1
}

nats_single_start() {
	_nats_start 1 0
}

nats_kill() {
	local p
	p=$(_nats_pid "$1")
	[ -n "$p" ] && kill -KILL "$p"
	# timeout(1) exits once its child is gone.
	_nats_gone "$(cat "$TMP/nats/n$1.tpid")"
}

# _nats_gone PID: wait (at most 10 s) until PID is gone.
_nats_gone() {
	local _
	for _ in $(seq 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

nats_restart() {
	_nats_run "$1"
	_nats_wait "$1"
}

nats_restart_all() {
	local i
	for i in $(seq "$NATS_N"); do
		kill -0 "$(cat "$TMP/nats/n$i.tpid")" 2>/dev/null ||
		    _nats_run "$i"
	done
	# shellcheck disable=SC2046
	_nats_wait $(seq "$NATS_N")
}

# nats_jsz QUERY: /jsz?QUERY from the first server that answers.
nats_jsz() {
	local i
	for i in $(seq "$NATS_N"); do
		curl -s --max-time 2 \
		    "http://127.0.0.1:${NATS_MPORT[i]}/jsz?$1" && return 0
	done
	return 1
}

nats_leader() {
	nats_jsz 'accounts=true&streams=true' | python3 -c '
import json, sys
j = json.load(sys.stdin)
for a in j.get("account_details") or []:
    for s in a.get("stream_detail") or []:
        if s["name"] == sys.argv[1]:
            print(s["cluster"]["leader"][1:])' "$1"
}

nats_free_port() {
	_nats_ports 1
}

nats_caps() {
	python3 - "$1" "$2" "${3:-300}" <<'PY'
import json, sys
first, n, pad = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for i in range(first, first + n):
    body = json.dumps({"subscription_id": "whsub_t", "event": {
        "id": "ev_%d" % i, "object_type": "lead", "action": "updated",
        "date_updated": "2026-12-06T00:00:00", "data": {"pad": "x" * pad}}})
    print(json.dumps({"received_at": "2026-12-06T12:00:00.000000Z",
        "remote_addr": "127.0.0.1", "method": "POST", "path": "/close",
        "headers": {"close-sig-hash": "00",
                    "close-sig-timestamp": str(1765000000 + i)},
        "body": body}))
PY
}
