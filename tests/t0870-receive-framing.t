#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154
# closehook-receive: requests whose framing two readers could disagree on
# (two Content-Lengths, two Hosts, Transfer-Encoding other than chunked,
# Transfer-Encoding beside Content-Length, white space before a colon) are
# answered 400 or 501 at once and not captured; an invalid method is 400;
# every 400 is answered once and counted; the request target is captured
# as sent, query included.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"

# exchange PORT REQUEST: send REQUEST (printf escapes) over one connection,
# read until the server closes or 3 s pass, print "STATUS N SECONDS": the
# first status code, how many status lines came, how long the answer took
# ("none" when no answer came).
exchange() {
	python3 - "$1" "$2" <<'PY'
import re, socket, sys, time
port, req = int(sys.argv[1]), sys.argv[2].encode().decode("unicode_escape")
s = socket.create_connection(("127.0.0.1", port), timeout=3)
t0 = time.monotonic()
s.sendall(req.encode("latin-1"))
data = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except OSError:
    pass
lines = re.findall(rb"HTTP/1\.[01] (\d\d\d)", data)
print("%s %d %.1f" % (lines[0].decode() if lines else "none", len(lines),
                      time.monotonic() - t0))
PY
}
# status_of PORT REQUEST: the first status code of the answer.
status_of() { exchange "$@" | cut -d' ' -f1; }

ok "it starts" start_receive r --spool "$TMP/spool" --timeout 5
captures() { wc -l <"$TMP/spool"; }
n0=$(captures)

# Request smuggling shapes: 400, not captured (RFC 9112 6.3, 3.2).
is "$(status_of "$RPORT" 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc')" \
    400 "two Content-Length headers: 400"
is "$(status_of "$RPORT" 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab')" \
    400 "two equal Content-Length headers: 400"
is "$(status_of "$RPORT" 'POST / HTTP/1.1\r\nHost: x\r\nHost: y\r\nContent-Length: 2\r\n\r\nab')" \
    400 "two Host headers: 400"
is "$(status_of "$RPORT" 'POST / HTTP/1.1\r\nHost: a b\r\nContent-Length: 2\r\n\r\nab')" \
    400 "an invalid Host: 400"
is "$(status_of "$RPORT" 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n2\r\nab\r\n0\r\n\r\n')" \
    400 "Transfer-Encoding beside Content-Length: 400"
is "$(status_of "$RPORT" 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 2\r\n\r\nab')" \
    400 "white space between a header name and its colon: 400"
is "$(status_of "$RPORT" 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n')" \
    400 "chunked twice: 400"
is "$(status_of "$RPORT" 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n')" \
    400 "Transfer-Encoding in HTTP/1.0: 400"
is "$(captures)" "$n0" "none of them is captured"

# Transfer codings other than chunked: an answer at once, not at the idle
# timeout (--timeout 5; "at once" is 1 s, 3 s when the programs run slowed).
soon=1
slowed && soon=3
read -r code n secs <<<"$(exchange "$RPORT" 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nab')"
is "$code" 400 "Transfer-Encoding: gzip (chunked not last): 400"
ok "at once ($secs s)" awk -v s="$secs" -v l="$soon" \
    'BEGIN { exit !(s != "" && s < l) }'
read -r code n secs <<<"$(exchange "$RPORT" 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n')"
is "$code" 501 "Transfer-Encoding: gzip, chunked: 501"
ok "at once ($secs s)" awk -v s="$secs" -v l="$soon" \
    'BEGIN { exit !(s != "" && s < l) }'
is "$(captures)" "$n0" "neither is captured"

# The method must be a token; a valid one other than POST stays 405.
is "$(status_of "$RPORT" 'P(ST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab')" \
    400 "an invalid method token: 400"
is "$(status_of "$RPORT" 'PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab')" \
    405 "PUT: still 405"

# Every 400 is answered with one status line, and counted.
c0=$(metric 'closehook_receive_requests_total{code="400"}')
read -r code n secs <<<"$(exchange "$RPORT" 'POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nab')"
is "$code $n" "400 1" "HTTP/1.1 without Host: 400, one status line"
read -r code n secs <<<"$(exchange "$RPORT" 'POST / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n')"
is "$code $n" "400 1" "a header line without a colon: 400, one status line"
is "$(status_of "$RPORT" 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n')" \
    400 "a Content-Length that is not a number: 400 (libmicrohttpd's own)"
is "$(metric 'closehook_receive_requests_total{code="400"}')" $((c0 + 3)) \
    "the three 400s are counted"
is "$(metric 'closehook_receive_requests_total{code="501"}')" 1 \
    "and the 501"

# The request target is captured as sent: path and query.
is "$(post --data-binary ok "$RURL/?a=1&b=%20c")" 200 "POST /?a=1&b=%20c: 200"
is "$(tail -n 1 "$TMP/spool" | jq -r .path)" "/?a=1&b=%20c" \
    "the capture's path keeps the query, undecoded"
stop_receive
is "$rc" 0 "exit 0"

ok "it starts with --path" start_receive p --spool "$TMP/spool2" --path /close
is "$(post --data-binary ok "$RURL/close?token=x%2Fy")" 200 \
    "--path /close matches /close?token=x%2Fy"
is "$(jq -r .path "$TMP/spool2")" "/close?token=x%2Fy" "captured as sent"
is "$(post --data-binary ok "$RURL/other?x=/close")" 404 \
    "the query is not part of the path matched"
stop_receive
is "$rc" 0 "exit 0"

done_testing
