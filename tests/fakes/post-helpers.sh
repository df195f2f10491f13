# shellcheck shell=bash disable=SC2034 # SINK_URL, NGINX_URL: for the caller
# tests/fakes/post-helpers.sh - servers for the closehook-post tests
# (sourced by tests/t05NN-post-*.t after tests/lib.sh).  Every server runs
# in $TMP, is bounded in time and is stopped when the test ends.

# start_sink NAME [SINK OPTIONS...]: start tests/fakes/sink.py; sets
# SINK_URL (http://127.0.0.1:PORT) and writes its log to $TMP/NAME.log.
start_sink() {
	local name=$1 _
	shift
	python3 "$TOP/tests/fakes/sink.py" --port-file "$TMP/$name.port" \
	    --log "$TMP/$name.log" "$@" 2>"$TMP/$name.err" &
	local pid=$!
	at_exit "kill $pid 2>/dev/null"
	for _ in $(seq 400); do
		[ -s "$TMP/$name.port" ] && break
		sleep 0.05
	done
	SINK_URL="http://127.0.0.1:$(cat "$TMP/$name.port")"
	touch "$TMP/$name.log"
}

# start_nginx [tls]: nginx answering 204 on a free loopback port; sets
# NGINX_URL.  With tls, it also makes a throwaway self-signed certificate
# ($TMP/cert.pem, for --cacert) and serves HTTPS with HTTP/2.  The access
# log records the connection serial of each request in $TMP/nginx.access.
start_nginx() {
	local tls=${1:-} port listen scheme=http _
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || return 1
	mkdir -p "$TMP/nginx/body"
	if [ "$tls" = tls ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 1 \
		    -subj /CN=localhost -addext \
		    "subjectAltName=IP:127.0.0.1,DNS:localhost" \
		    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
		    >/dev/null 2>&1 || return 1
		scheme=https
	fi
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		listen="127.0.0.1:$port"
		[ "$tls" = tls ] && listen="$listen ssl http2"
		cat >"$TMP/nginx/nginx.conf" <<CONF
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/err.log;
worker_processes 1;
events { worker_connections 256; }
http {
	log_format conn '\$connection \$server_protocol \$request_length';
	access_log $TMP/nginx.access conn;
	client_body_temp_path $TMP/nginx/body;
	proxy_temp_path $TMP/nginx/body;
	fastcgi_temp_path $TMP/nginx/body;
	uwsgi_temp_path $TMP/nginx/body;
	scgi_temp_path $TMP/nginx/body;
	keepalive_requests 100000;
	server {
		listen $listen;
		$( [ "$tls" = tls ] && printf 'ssl_certificate %s; ssl_certificate_key %s;' "$TMP/cert.pem" "$TMP/key.pem")
		location / { return 204; }
	}
}
CONF
		/usr/sbin/nginx -e "$TMP/nginx/err.log" -p "$TMP/nginx" \
		    -c "$TMP/nginx/nginx.conf" 2>>"$TMP/nginx/stderr.log" &
		local pid=$!
		for _ in $(seq 40); do
			if curl -s -o /dev/null -k "$scheme://127.0.0.1:$port/"
			then
				at_exit "kill $pid 2>/dev/null"
				NGINX_URL="$scheme://127.0.0.1:$port"
				: >"$TMP/nginx.access"
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	return 1
}

# records N [SEED]: N event records, one a line, with ids and 8 object ids.
records() {
	python3 - "$1" "${2:-1}" <<'PY'
import json, random, sys
n, seed = int(sys.argv[1]), int(sys.argv[2])
r = random.Random(seed)
for i in range(1, n + 1):
    print(json.dumps({"subscription_id": "whsub_t", "event": {
        "id": "ev_%06d" % i, "object_type": "opportunity",
        "object_id": "oppo_%d" % r.randrange(8), "action": "updated",
        "seq": i, "data": {"note": "x" * r.randrange(40), "value": i * 100,
        "lead_name": "Acme \u00e9 %d" % i}}}, ensure_ascii=False,
        separators=(", ", ": ")))
PY
}
