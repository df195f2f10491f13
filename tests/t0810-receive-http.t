#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154,SC2016
# closehook-receive: malformed HTTP, --max-body, slow and idle clients,
# --max-connections.  Every client is bounded in time.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"

# raw PORT HEX-REQUEST [WAIT]: send bytes over a plain socket, print the
# status line of the answer ("closed" when the server closed without one).
raw() {
	python3 - "$@" <<'PY'
import socket, sys, time
port, req = int(sys.argv[1]), bytes.fromhex(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(req)
data = b""
try:
    while b"\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except OSError:
    pass
print(data.split(b"\r\n")[0].decode("latin-1") if data else "closed")
PY
}
hex() { printf '%b' "$1" | od -An -v -tx1 | tr -d ' \n'; }

ok "it starts" start_receive r --spool "$TMP/spool" --max-body 1000 \
    --timeout 1 --max-connections 8

# Malformed requests get 400 (or a close), and the server carries on.
like "$(raw "$RPORT" "$(hex 'HELLO THERE\r\n\r\n')")" "HTTP/1.1 400*" \
    "a garbage request line: 400"
like "$(raw "$RPORT" "$(hex 'POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello')")" \
    "HTTP/1.1 400*" "HTTP/1.1 without Host: 400"
like "$(raw "$RPORT" "$(hex 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n')")" \
    "HTTP/1.1 400*" "a bad Content-Length: 400"
like "$(raw "$RPORT" "$(hex 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n')")" \
    "HTTP/1.1 400*" "a bad chunk size: 400 or a close"
like "$(raw "$RPORT" "$(hex 'POST / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n')")" \
    "HTTP/1.1 400*" "a header line without a colon: 400"
like "$(raw "$RPORT" "$(hex 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok')")" \
    "HTTP/1.1 200*" "a minimal well-formed POST: 200"
like "$(raw "$RPORT" "$(hex 'POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nok')")" \
    "HTTP/1.? 200*" "HTTP/1.0 without Host: 200"
like "$(raw "$RPORT" "$(hex 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n')")" \
    "HTTP/1.1 200*" "a chunked POST: 200"
is "$(tail -n 1 "$TMP/spool" | jq -r .body)" abcde "chunks are joined"
is "$(curl -s "$RURL/healthz")" ok "the server is still healthy"

# Request headers: up to 8 KiB are taken (as nginx does); far more gets an
# error, not a crash, and the server goes on.
big=$(head -c 7000 /dev/zero | tr '\0' h)
n0=$(wc -l <"$TMP/spool")
is "$(post -H "x-big: $big" --data-binary '{}' "$RURL/")" 200 \
    "7000 bytes of headers: 200"
is "$(tail -n 1 "$TMP/spool" | jq -r '.headers["x-big"] | length')" 7000 \
    "and the header is captured whole"
huge=$(head -c 40000 /dev/zero | tr '\0' h)
like "$(post -H "x-big: $huge" --data-binary '{}' "$RURL/")" "4[0-9][0-9]" \
    "40000 bytes of headers: a 4xx"
is "$(wc -l <"$TMP/spool")" $((n0 + 1)) "which is not captured"
is "$(curl -s "$RURL/healthz")" ok "the server is still healthy"

# --max-body.
head -c 1000 /dev/zero | tr '\0' a >"$TMP/b1000"
head -c 1001 /dev/zero | tr '\0' a >"$TMP/b1001"
head -c 100000 /dev/zero | tr '\0' a >"$TMP/b100k"
n0=$(wc -l <"$TMP/spool")
is "$(post --data-binary "@$TMP/b1000" "$RURL/")" 200 "a body of exactly --max-body: 200"
is "$(post --data-binary "@$TMP/b1001" "$RURL/")" 413 "one byte more: 413"
is "$(post --data-binary "@$TMP/b100k" "$RURL/")" 413 "far more: 413"
is "$(post -H 'Transfer-Encoding: chunked' --data-binary "@$TMP/b100k" "$RURL/")" \
    413 "far more, chunked (no Content-Length): 413"
is "$(post -H 'Transfer-Encoding: chunked' --data-binary "@$TMP/b1000" "$RURL/")" \
    200 "chunked up to --max-body: 200"
is "$(($(wc -l <"$TMP/spool") - n0))" 2 "only the bodies within the limit were captured"

# Idle and slow clients are cut off; others are served meanwhile.
python3 - "$RPORT" >"$TMP/slow" <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
t0 = time.monotonic()
idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
half = socket.create_connection(("127.0.0.1", port), timeout=10)
half.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Len")
def closed_after(s):
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    return time.monotonic() - t0
print(" ".join("%.1f" % closed_after(s) for s in idle + [half]))
PY
slow=$!
sleep 0.3
is "$(post --data-binary ok "$RURL/")" 200 "served while idle clients hold connections"
wait "$slow"
read -r -a times <"$TMP/slow"
ok "idle and half-sent connections are closed after --timeout (${times[*]} s)" \
    awk -v t="${times[*]}" 'BEGIN { n = split(t, a, " "); if (n != 4) exit 1;
        for (i = 1; i <= n; i++) if (a[i] < 0.8 || a[i] > 4) exit 1 }'

# A body trickled slowly is bounded as a whole (4 x --timeout).
t0=$(date +%s%N)
python3 - "$RPORT" >"$TMP/drip" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
answer = b""
try:
    for i in range(100):
        s.sendall(b"a")
        time.sleep(0.5)
except OSError:
    pass
try:
    answer = s.recv(4096)
except OSError:
    pass
print(answer.split(b"\r\n")[0].decode() or "closed")
PY
t1=$(date +%s%N)
is "$(cat "$TMP/drip")" closed "a trickled body is cut off, not captured"
ok "within about 4 x --timeout ($(( (t1 - t0) / 1000000 )) ms)" \
    [ $(( (t1 - t0) / 1000000 )) -lt 8000 ]

# --max-connections: past the limit a connection waits (unaccepted) until
# the idle ones time out, then it is served.
python3 - "$RPORT" >"$TMP/conns" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(8)]
time.sleep(0.2)
t0 = time.monotonic()
extra = socket.create_connection(("127.0.0.1", port), timeout=5)
try:
    extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    got = extra.recv(4096)
except OSError:
    got = b""
print("%s %.1f" % (got.split(b" ")[1].decode() if got else "none",
                   time.monotonic() - t0))
PY
read -r code secs <"$TMP/conns"
is "$code" 200 "a connection past --max-connections is served in the end"
ok "only once the idle ones timed out ($secs s)" \
    awk -v s="$secs" 'BEGIN { exit !(s >= 0.5 && s < 4) }'

stop_receive
is "$rc" 0 "exit 0"
ok "every line of the spool is a capture" jq -e .headers "$TMP/spool"

done_testing
