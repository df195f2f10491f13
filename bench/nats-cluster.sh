# bench/nats-cluster.sh - a 3-node NATS JetStream cluster on 127.0.0.1 for
# the bench scripts (sourced; POSIX sh).  tests/fakes/nats-cluster.sh does
# the same for the tests, in bash on top of tests/lib.sh.
#
#   nats_start DIR   three nats-server processes with JetStream, routes
#                    between them, stores under DIR/nI, free ports; waits
#                    until each answers /healthz and JetStream has a meta
#                    leader (three tries with fresh ports).  Sets
#                    nats_servers (HOST:PORT,HOST:PORT,HOST:PORT: what a
#                    nats:// URL takes) and nats_mport (the first server's
#                    monitoring port).  Returns 1 when it fails.
#   nats_stop        stops them (call it from the EXIT trap).
#
# Every server also runs under timeout(1), so none outlives a killed bench
# by more than BENCH_NATS_LIFETIME seconds (default 3600).

nats_pids=

nats_stop() {
	for _np in $nats_pids; do
		# timeout(1) passes the TERM on to its nats-server.
		kill "$_np" 2>/dev/null || true
	done
	for _np in $nats_pids; do
		wait "$_np" 2>/dev/null || true
	done
	nats_pids=
}

# nats_jsz QUERY: the first server's /jsz?QUERY answer.
nats_jsz() {
	curl -s --max-time 2 "http://127.0.0.1:$nats_mport/jsz?$1"
}

# _nats_up MPORT...: 0 once every server answers /healthz 200 and the
# first reports a JetStream meta leader, within 20 s.
_nats_up() {
	_ni=0
	while [ "$_ni" -lt 200 ]; do
		_nok=1
		for _nm; do
			_nc=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
			    "http://127.0.0.1:$_nm/healthz") || _nc=0
			[ "$_nc" = 200 ] || _nok=0
		done
		if [ "$_nok" = 1 ] &&
		    nats_jsz '' | grep -q '"leader": *"n[0-9]'; then
			return 0
		fi
		for _np in $nats_pids; do
			kill -0 "$_np" 2>/dev/null || return 1
		done
		sleep 0.1
		_ni=$((_ni + 1))
	done
	return 1
}

nats_start() {
	nats_dir=$1
	_ntry=1
	while [ "$_ntry" -le 3 ]; do
		nats_stop
		rm -rf "$nats_dir"
		mkdir -p "$nats_dir"
		# Nine ports, held open together while chosen so that they differ.
		# shellcheck disable=SC2046 # the ports are words
		set -- $(python3 -c '
import socket
ss = [socket.socket() for _ in range(9)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
		_nroutes="\"nats-route://127.0.0.1:$2\", \"nats-route://127.0.0.1:$5\", \"nats-route://127.0.0.1:$8\""
		nats_servers=
		nats_mport=$3
		_nmports=
		_ni=1
		while [ $# -ge 3 ]; do
			mkdir "$nats_dir/n$_ni"
			cat >"$nats_dir/n$_ni.conf" <<CONF
server_name: n$_ni
listen: 127.0.0.1:$1
http: 127.0.0.1:$3
jetstream {
  store_dir: "$nats_dir/n$_ni"
  max_memory_store: 256MB
  max_file_store: 8GB
}
cluster {
  name: closehook-bench
  listen: 127.0.0.1:$2
  routes: [ $_nroutes ]
}
CONF
			timeout -s KILL "${BENCH_NATS_LIFETIME:-3600}" \
			    nats-server -c "$nats_dir/n$_ni.conf" \
			    >"$nats_dir/n$_ni.log" 2>&1 </dev/null &
			nats_pids="$nats_pids $!"
			nats_servers="${nats_servers:+$nats_servers,}127.0.0.1:$1"
			_nmports="$_nmports $3"
			shift 3
			_ni=$((_ni + 1))
		done
		# shellcheck disable=SC2086 # the ports are words
		_nats_up $_nmports && return 0
		echo "nats-cluster: servers did not come up (try $_ntry)" >&2
		_ntry=$((_ntry + 1))
	done
	tail -n 5 "$nats_dir"/n*.log >&2
	nats_stop
	return 1
}
