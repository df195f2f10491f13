#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154
# closehook-receive's connections: /healthz, /metrics and other answers
# decided at the headers keep a kept-alive connection open; an early 413
# (Content-Length past --max-body, no Expect) reaches a client that sends
# its whole body before it reads (lingering close); --max-connections
# above the soft RLIMIT_NOFILE raises it, and is cut down with a warning
# when the hard limit is too low.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"

ok "it starts" start_receive r --spool "$TMP/spool" --max-body 1000

# One connection, several requests: each answer's Connection header and
# whether the connection was still open for the next request.
python3 - "$RPORT" >"$TMP/ka" <<'PY'
import socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
f = s.makefile("rb")
def ask(req):
    try:
        s.sendall(req)
        status = f.readline().split(b" ")[1].decode()
        conn, length = "-", 0
        while True:
            h = f.readline().rstrip(b"\r\n")
            if not h:
                break
            k, _, v = h.partition(b":")
            if k.lower() == b"connection":
                conn = v.strip().decode()
            if k.lower() == b"content-length":
                length = int(v)
        if not req.startswith(b"HEAD"):
            f.read(length)
        return "%s %s" % (status, conn)
    except (OSError, IndexError):
        return "closed"
for name, req in (
        ("healthz", b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("metrics", b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("head", b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("notfound", b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("get-on-path", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("post", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok"),
        ("healthz-again", b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")):
    print(name, ask(req))
PY
for what in healthz metrics head; do
	is "$(sed -n "s/^$what //p" "$TMP/ka")" "200 -" \
	    "GET/HEAD /$what on a kept-alive connection: 200, no Connection: close"
done
is "$(sed -n 's/^notfound //p' "$TMP/ka")" "404 -" "a 404 keeps it open"
is "$(sed -n 's/^get-on-path //p' "$TMP/ka")" "405 -" "a 405 too"
is "$(sed -n 's/^post //p' "$TMP/ka")" "200 -" \
    "a POST after them on the same connection: 200"
is "$(sed -n 's/^healthz-again //p' "$TMP/ka")" "200 -" "and it stays open"

# An early 413 reaches clients that send the whole body before reading,
# as Python's http.client does, every time.
python3 - "$RPORT" >"$TMP/early" <<'PY'
import http.client, socket, sys
port = int(sys.argv[1])
got = {}
for i in range(10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("POST", "/", body=b"a" * 3000000)
        k = str(c.getresponse().status)
    except Exception as e:
        k = type(e).__name__
    c.close()
    got[k] = got.get(k, 0) + 1
print(" ".join("%s:%d" % kv for kv in sorted(got.items())))
# A raw client: headers and 1 MB of body in one go, then read.
s = socket.create_connection(("127.0.0.1", port), timeout=10)
try:
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
              + b"a" * 1000000)
    print(s.recv(4096).split(b"\r\n")[0].decode())
except OSError as e:
    print(type(e).__name__)
PY
is "$(sed -n 1p "$TMP/early")" "413:10" \
    "http.client, 3 MB past --max-body 1000: 413 each time"
is "$(sed -n 2p "$TMP/early")" "HTTP/1.1 413 Content Too Large" \
    "a raw client that writes 1 MB before reading: 413"
is "$(post -H 'Expect: 100-continue' --data-binary "@/dev/null" \
    -H 'Content-Length: 5000' "$RURL/")" 413 \
    "with Expect: 100-continue, 413 without the body"
is "$(wc -l <"$TMP/spool")" 1 "nothing past --max-body was captured"
is "$(curl -s "$RURL/healthz")" ok "the server is still healthy"
stop_receive
is "$rc" 0 "exit 0"

# --max-connections above the soft limit on descriptors: raised.  The
# function stands in for the program, so start_receive runs it under the
# limits.  Under valgrind (slowed) the limits are valgrind's: skipped.
# shellcheck disable=SC2317 # called by start_receive
closehook-receive() {
	ulimit -Sn "$SOFT" && exec "$CLOSEHOOK_BUILD/bin/closehook-receive" "$@"
}
SOFT=256
if slowed; then
	skip "descriptor limits" "$SLOW_SKIP"
	unset -f closehook-receive
	done_testing
	exit
fi
ok "it starts with --max-connections 1000 under a soft limit of 256" \
    start_receive lim --spool "$TMP/spool3" --max-connections 1000 \
    --max-connections-per-ip 0 --timeout 3
soft=$(awk '/^Max open files/ { print $4 }' "/proc/$RPID/limits")
ok "the soft limit was raised to fit ($soft)" [ "${soft:-0}" -ge 1000 ]
is "$(cat "$TMP/lim.err")" "closehook-receive: listening on 127.0.0.1:$RPORT" \
    "without a warning"
python3 - "$RPORT" >"$TMP/held" <<'PY'
import resource, socket, subprocess, sys, time
port = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2048), hard))
held = [socket.create_connection(("127.0.0.1", port), timeout=5)
        for _ in range(600)]
time.sleep(0.3)
t0 = time.monotonic()
out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                      "--max-time", "10", "--data-binary", "ok",
                      "http://127.0.0.1:%d/" % port],
                     capture_output=True, text=True).stdout
print(out, "%.1f" % (time.monotonic() - t0))
PY
read -r code secs <"$TMP/held"
is "$code" 200 "600 idle connections held, a POST still gets 200"
ok "at once ($secs s)" awk -v s="$secs" 'BEGIN { exit !(s != "" && s < 1) }'
stop_receive
is "$rc" 0 "exit 0"

# A hard limit too low: --max-connections is cut down to fit, with a
# warning, and the server works.
# shellcheck disable=SC2317 # called by start_receive
closehook-receive() {
	ulimit -n "$SOFT" && exec "$CLOSEHOOK_BUILD/bin/closehook-receive" "$@"
}
ok "it starts with --max-connections 1000 under a hard limit of 256" \
    start_receive hard --spool "$TMP/spool4" --max-connections 1000
like "$(cat "$TMP/hard.err")" \
    "*closehook-receive: --max-connections 1000 needs * descriptors, the limit is 256: serving at most * connections*" \
    "a warning says so"
is "$(post --data-binary ok "$RURL/")" 200 "and it serves"
stop_receive
is "$rc" 0 "exit 0"
unset -f closehook-receive

done_testing
