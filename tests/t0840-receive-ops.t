#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154,SC2016,SC2034
# closehook-receive in operation: /metrics, SIGHUP rotation, back-pressure
# when stdout stops draining, graceful SIGTERM with a request in flight,
# a broken stdout without a spool, TLS.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"

# /metrics.
ok "it starts" start_receive m --spool "$TMP/spool"
for i in 1 2 3; do post --data-binary "{\"n\":$i}" "$RURL/" >/dev/null; done
post "$RURL/nowhere" >/dev/null
curl -s "$RURL/metrics" >"$TMP/metrics"
like "$(curl -s -D - -o /dev/null "$RURL/metrics")" \
    "*Content-Type: text/plain; version=0.0.4*" "Prometheus text format"
is "$(metric 'closehook_receive_requests_total{code="200"}')" 3 \
    "requests by status: 200 (3 POSTs; the 2 scrapes and /healthz are not traffic)"
is "$(metric 'closehook_receive_requests_total{code="404"}')" 1 "and 404"
is "$(metric closehook_receive_captures_written_total)" 3 "captures written"
is "$(metric closehook_receive_received_bytes_total)" 21 "body bytes"
ok "fsync batches counted" [ "$(metric closehook_receive_fsync_batches_total)" -ge 1 ]
is "$(awk '$1 ~ /duration_seconds_(bucket{le="\+Inf"}|count)$/ { print $2 }' \
    "$TMP/metrics" | tr '\n' ' ')" "4 4 " \
    "the latency histogram counts every answered request but the monitoring's"
is "$(metric closehook_receive_spool_failing)" 0 "the spool does not fail"
ok "every metric has HELP and TYPE" awk '
	/^# HELP / { help[$3] = 1; next }
	/^# TYPE / { type[$3] = 1; next }
	{ n = $1; sub(/[{].*/, "", n); sub(/_(bucket|sum|count)$/, "", n)
	  if (!(n in help) || !(n in type)) exit 1 }' "$TMP/metrics"
ok "all named closehook_receive_*" awk '
	!/^#/ && $1 !~ /^closehook_receive_/ { exit 1 }' "$TMP/metrics"

# Rotation by rename loses nothing: the next capture goes to a new file at
# the path, with or without SIGHUP, and the renamed file keeps the rest.
mv "$TMP/spool" "$TMP/spool.1"
post --data-binary '{"n":4}' "$RURL/" >/dev/null
kill -HUP "$RPID"
post --data-binary '{"n":5}' "$RURL/" >/dev/null
is "$(jq -c .body "$TMP/spool.1" | tr '\n' ' ')" \
    '"{\"n\":1}" "{\"n\":2}" "{\"n\":3}" ' \
    "the renamed file keeps the captures from before the rename"
is "$(jq -c .body "$TMP/spool" | tr '\n' ' ')" '"{\"n\":4}" "{\"n\":5}" ' \
    "the next ones go to a new spool at the path, before and after SIGHUP"
like "$(cat "$TMP/m.err")" "*spool: deleted or replaced while open*" \
    "the move is noticed and logged"
stop_receive
is "$rc" 0 "exit 0"

# Back-pressure: stdout into a pipe nobody reads.  Requests get 503 with
# Retry-After, memory stays bounded, the server stays up.
mkfifo "$TMP/fifo"
command sleep 20 3<"$TMP/fifo" &
holder=$!
at_exit "kill $holder 2>/dev/null"
RECV_STDOUT=$TMP/fifo
ok "it starts with stdout into a stuck pipe" start_receive bp
unset RECV_STDOUT
head -c 30000 /dev/zero | tr '\0' a >"$TMP/big"
codes=
for _ in $(seq 12); do codes+="$(post --data-binary "@$TMP/big" "$RURL/") "; done
like "$codes" "200 *503 503 " "once the pipe is full, requests get 503 ($codes)"
like "$(curl -s -D - -o /dev/null --data-binary x "$RURL/")" \
    "*Retry-After: 5*" "with Retry-After"
ok "the backlog stays bounded" \
    [ "$(metric closehook_receive_backlog_bytes)" -lt 1000000 ]
is "$(curl -s "$RURL/healthz")" ok "/healthz still answers"
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$RPID/status")
if slowed; then
	skip "memory stays small (${rss} kB)" "$SLOW_SKIP"
else
	ok "memory stays small (${rss} kB)" [ "$rss" -lt 65536 ]
fi
kill "$holder"
wait "$holder" 2>/dev/null
stop_receive
is "$rc" 2 "stdout broken without a spool: exit 2"
like "$(cat "$TMP/bp.err")" "*stdout: Broken pipe*" "and says so"

# SIGTERM with a request in flight: it is finished and acknowledged, new
# connections are refused, exit 0.
ok "it starts" start_receive t --spool "$TMP/st"
python3 - "$RPORT" "$RPID" >"$TMP/inflight" <<'PY'
import os, signal, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
time.sleep(0.3)
os.kill(pid, signal.SIGTERM)
time.sleep(0.3)
try:
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    refused = "accepted"
except OSError:
    refused = "refused"
s.sendall(b"world")
print(s.recv(4096).split(b"\r\n")[0].decode(), refused)
PY
is "$(cat "$TMP/inflight")" "HTTP/1.1 200 OK refused" \
    "the request in flight is answered 200; new connections are refused"
stop_receive
is "$rc" 0 "exit 0"
is "$(jq -r .body "$TMP/st")" helloworld "and it is in the spool"

# TLS.
if openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
    -keyout "$TMP/tls.key" -out "$TMP/tls.crt" >/dev/null 2>&1; then
	chmod 600 "$TMP/tls.key"
	ok "it starts with TLS" start_receive tls --spool "$TMP/tlsspool" \
	    --tls-cert "$TMP/tls.crt" --tls-key "$TMP/tls.key"
	is "$(post -k --data-binary "$KAV_BODY" "https://127.0.0.1:$RPORT/")" \
	    200 "an HTTPS POST: 200"
	is "$(jq -r .body "$TMP/tlsspool")" "$KAV_BODY" "captured"
	is "$(post --data-binary x "http://127.0.0.1:$RPORT/")" 000 \
	    "plain HTTP on the TLS port gets no answer"
	stop_receive
	is "$rc" 0 "exit 0"
	exit_is 2 "a bad certificate is fatal" closehook-receive -l 127.0.0.1:0 \
	    --tls-cert "$TMP/tls.key" --tls-key "$TMP/tls.key"
else
	skip "receive over TLS" "openssl cannot make a certificate"
fi

done_testing
