#!/bin/bash
# shellcheck disable=SC1091,SC2154,SC2016 # lib.sh: sourced; run sets rc, out, err; $1 in bash -c
# closehook-post basics against real nginx on 127.0.0.1: every record is
# delivered and comes out on stdout unchanged, over few kept-alive
# connections; HTTPS with a throwaway certificate and --cacert; usage
# errors exit 2; the progress line only on a terminal stdout does not share.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/post-helpers.sh"

start_nginx || skip_all "nginx cannot start here"

# Usage errors.
exit_is 2 "no URL" closehook-post
exit_is 2 "--batch-format without --batch" \
    closehook-post --batch-format ndjson "$NGINX_URL"
exit_is 2 "--sign without a key file" closehook-post --sign close "$NGINX_URL"
exit_is 2 "a bad --rate" closehook-post --rate 5/y "$NGINX_URL"
exit_is 2 "a bad --retry-on" closehook-post --retry-on 600 "$NGINX_URL"
exit_is 2 "a header without a colon" closehook-post -H 'X-Foo' "$NGINX_URL"
exit_is 2 "a --body that does not compile" \
    closehook-post --body '{' "$NGINX_URL"
exit_is 2 "--batch with --order-by" \
    closehook-post --batch 5 --order-by .a "$NGINX_URL"

# Plain delivery: 2000 records, stdout = input as a multiset, byte for byte.
records 2000 >"$TMP/in"
printf '\n  \n' >>"$TMP/in"
run closehook-post --parallel 8 --dead-letter "$TMP/dl" "$NGINX_URL/hook" \
    <"$TMP/in"
is "$rc" 0 "all delivered: exit 0"
is "$(sort "$TMP/out" | md5sum)" "$(grep -v '^ *$' "$TMP/in" | sort | md5sum)" \
    "stdout holds every input line unchanged (blank lines skipped)"
like "$err" "*delivered 2000, retried 0, dead-lettered 0*p50*p95*p99*" \
    "summary on stderr"
ok "no dead-letter file when nothing failed" [ ! -e "$TMP/dl" ]
# nginx logs a request just after answering it: give it a moment.
for _ in $(seq 40); do
	[ "$(wc -l <"$TMP/nginx.access")" -ge 2000 ] && break
	sleep 0.05
done
# libcurl resends a request on a fresh connection when a kept-alive one
# turns out closed: at least once, and rarely more.
reqs=$(wc -l <"$TMP/nginx.access")
ok "nginx saw every request ($reqs)" [ "$reqs" -ge 2000 ]
ok "and hardly any twice" [ "$reqs" -le 2004 ]
conns=$(cut -d' ' -f1 "$TMP/nginx.access" | sort -u | wc -l)
ok "keep-alive: about --parallel connections for 2000 requests ($conns)" \
    [ "$conns" -le 12 ]

# -q: nothing on stderr.  FILE operands are read in order.
head -n 3 "$TMP/in" >"$TMP/a"
records 2 9 >"$TMP/b"
run closehook-post -q --parallel 1 "$NGINX_URL" "$TMP/a" "$TMP/b"
is "$rc" 0 "two FILE operands: exit 0"
is "$out" "$(cat "$TMP/a" "$TMP/b")" "--parallel 1 keeps input order"
is "$err" "" "-q: stderr empty"
run closehook-post -q --parallel 1 --url "$NGINX_URL" "$TMP/a" "$TMP/b"
is "$rc:$out" "0:$(cat "$TMP/a" "$TMP/b")" \
    "--url URL: every operand is a FILE"
echo "$NGINX_URL" >"$TMP/url"
chmod 600 "$TMP/url"
exit_is 2 "the URL given twice (--url, --url-file)" closehook-post \
    --url "$NGINX_URL" --url-file "$TMP/url" "$TMP/a"
like "$err" "*the URL is given 2 times*" "saying so"

# A line over --max-line is a reject, said and reported as in the other
# programs; the lines around it are delivered.
{ head -n 1 "$TMP/a"; printf '{"pad":"%08000d"}\n' 0; sed -n 2p "$TMP/a"; } \
    >"$TMP/long"
run closehook-post --parallel 1 --max-line 4K --report "$TMP/replong" \
    --dead-letter "$TMP/dll" "$NGINX_URL" "$TMP/long"
is "$rc:$(wc -l <"$TMP/out")" 1:2 "a line too long: exit 1, the others sent"
like "$err" "*$TMP/long:2: rejected: line-too-long*rejected 1;*" \
    "stderr says so, and the summary counts it"
is "$(jq -r 'select(.status == "rejected") | "\(.line) \(.error)"' \
    "$TMP/replong")" "2 line-too-long" "the report names the reason"
run closehook-post -q --parallel 1 --max-line 4K --dead-letter "$TMP/dll" \
    "$NGINX_URL" "$TMP/long"
is "$rc:$err" "1:" "-q: exit 1 all the same, and nothing on stderr"

# A lone record is on the wire within 1 ms of arriving: a sink in the
# test's own process takes the time each line is written to
# closehook-post's stdin and the time the first bytes of its request
# arrive, for 40 lone records (20 ms apart, over a kept-alive connection;
# one more before them pays for start-up and the connect).  The median is
# checked, so a loaded machine that delays a few does not fail the test;
# the tail is reported.
python3 - 41 "$(slow 5)" <<'PY' >"$TMP/lone"
import os, select, socket, subprocess, sys, time

n, wait = int(sys.argv[1]), float(sys.argv[2])
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(8)
p = subprocess.Popen(
    ["closehook-post", "-q", "http://127.0.0.1:%d/hook" % srv.getsockname()[1]],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
conns, lat, echoed = [], [], 0


def request(buf):
    """Whether buf holds a whole request (headers and Content-Length)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return False
    clen = 0
    for h in buf[:end].split(b"\r\n")[1:]:
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            clen = int(v)
    return len(buf) >= end + 4 + clen


for i in range(n):
    line = b'{"lone": %d}\n' % i
    t0 = time.monotonic_ns()
    os.write(p.stdin.fileno(), line)
    t1, buf, conn = None, b"", None
    while not request(buf):
        r, _, _ = select.select([srv] + conns, [], [], wait)
        if not r:
            sys.exit("record %d: no request within %g s" % (i, wait))
        now = time.monotonic_ns()
        for s in r:
            if s is srv:
                conns.append(srv.accept()[0])
                continue
            d = s.recv(65536)
            if not d:
                conns.remove(s)
                continue
            if t1 is None:
                t1 = now
            buf, conn = buf + d, s
    conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    echoed += p.stdout.readline() == line
    lat.append((t1 - t0) / 1e6)
    time.sleep(0.02)
p.stdin.close()
p.wait()
ms = sorted(lat[1:])


def pct(q):
    return ms[min(len(ms) - 1, int(q * len(ms)))]


print("%d %d %.3f %.3f %.3f %.3f" % (echoed, len(ms), pct(0.5), pct(0.9),
                                     pct(0.99), ms[-1]))
PY
read -r echoed nlone p50 p90 p99 pmax <"$TMP/lone"
is "$echoed" 41 "each lone record is delivered and echoed"
echo "# lone record to the wire: p50 ${p50:-?} ms, p90 ${p90:-?} ms," \
    "p99 ${p99:-?} ms, max ${pmax:-?} ms (n=${nlone:-0})"
if slowed; then
	skip "a lone record is on the wire within 1 ms (median)" "$SLOW_SKIP"
else
	ok "a lone record is on the wire within 1 ms (median ${p50:-?} ms)" \
	    awk -v m="${p50:-9}" 'BEGIN { exit !(m < 1) }'
fi

# 3xx and 4xx are not retried: they fail at once, to the dead letters.
start_sink s4 --status 404 --max-time 30
run closehook-post --dead-letter "$TMP/dl4" --report "$TMP/rep4" \
    "$SINK_URL" <"$TMP/a"
is "$rc" 1 "404: exit 1"
same_lines "$TMP/dl4" "$TMP/a" "404: every line dead-lettered as it was"
is "$(jq -r '"\(.status) \(.attempts) \(.http)"' "$TMP/rep4" | sort -u)" \
    "dead-letter 1 404" "404: one attempt each, reported"
like "$err" "*dead letters go to $TMP/dl4*" "the dead-letter file is named"

start_sink s3 --status 302 --max-time 30
run closehook-post --dead-letter "$TMP/dl3" --report "$TMP/rep3" \
    "$SINK_URL" <"$TMP/a"
like "$(jq -r .error "$TMP/rep3" | head -n 1)" \
    "http 302 (redirects are not followed: give the URL it moved to)*" \
    "302: the report says redirects are not followed"

# A --dead-letter that could never be written stops the run at start, not
# at the first failure with records in flight; nothing is made before.
run closehook-post --dead-letter "$TMP" "$SINK_URL" <"$TMP/a"
is "$rc:$out" "2:" "--dead-letter a directory: exit 2 before any request"
like "$err" "*--dead-letter $TMP: a directory, not a file*" "... saying so"
run closehook-post --dead-letter "$TMP/no/such/dl" "$SINK_URL" <"$TMP/a"
like "$rc:$err" "2:*--dead-letter $TMP/no/such/dl: cannot be made in $TMP/no/such*" \
    "--dead-letter in a missing directory: exit 2 at start"
ok "... and the file is not made in a good directory before it is needed" \
    bash -c 'closehook-post -q --dead-letter "$1/fresh.dl" "$2" </dev/null && [ ! -e "$1/fresh.dl" ]' \
    _ "$TMP" "$SINK_URL"

# The default dead-letter file lives under $XDG_STATE_HOME.
run env XDG_STATE_HOME="$TMP/state" closehook-post -q "$SINK_URL" <"$TMP/a"
same_lines "$TMP/state/closehook/dead-letter.ndjson" "$TMP/a" \
    "default dead-letter file under \$XDG_STATE_HOME"

# The proxy variables are honoured as curl reads them (closehook-post reads
# them once and hands them to curl).
start_sink px --max-time 60
head -n 2 "$TMP/in" >"$TMP/two"
proxy_env=(env -u http_proxy -u https_proxy -u HTTPS_PROXY -u all_proxy
	-u ALL_PROXY -u no_proxy -u NO_PROXY)
run "${proxy_env[@]}" http_proxy="$SINK_URL" closehook-post "$NGINX_URL/px" \
    <"$TMP/two"
is "$rc:$(jq -r .path "$TMP/px.log" | sort -u)" "0:$NGINX_URL/px" \
    "http_proxy: the requests go through the proxy"
: >"$TMP/px.log"
run "${proxy_env[@]}" http_proxy="$SINK_URL" no_proxy=127.0.0.1 \
    closehook-post "$NGINX_URL/px" <"$TMP/two"
is "$rc:$(wc -l <"$TMP/px.log")" "0:0" "no_proxy: straight to the server"
run "${proxy_env[@]}" HTTP_PROXY="$SINK_URL" closehook-post "$NGINX_URL/px" \
    <"$TMP/two"
is "$rc:$(wc -l <"$TMP/px.log")" "0:0" "HTTP_PROXY is not read (as in curl)"

# HTTPS with a self-signed certificate.
if start_nginx tls; then
	run closehook-post --cacert "$TMP/cert.pem" "$NGINX_URL" <"$TMP/a"
	is "$rc" 0 "https with --cacert: delivered"
	is "$(sort "$TMP/out")" "$(sort "$TMP/a")" \
	    "https: stdout as input (in completion order)"
	like "$(sort -u -k2,2 "$TMP/nginx.access" | cut -d' ' -f2)" \
	    "HTTP/2.0" "https: HTTP/2 was used"
	run closehook-post --retries 0 --dead-letter "$TMP/dlt" "$NGINX_URL" \
	    <"$TMP/a"
	is "$rc" 1 "https without the CA: exit 1"
	same_lines "$TMP/dlt" "$TMP/a" "https without the CA: dead-lettered"
	run closehook-post -k "$NGINX_URL" <"$TMP/a"
	is "$rc" 0 "--insecure: delivered"
	like "$err" "*warning: --insecure*" "--insecure warns"
else
	skip "https through nginx" "nginx with TLS does not start here"
fi

# The progress line on a terminal (script(1) gives one): drawn when stderr
# is a terminal of its own, not among delivered lines on a shared one.
if command -v script >/dev/null; then
	start_sink slow --delay 0.4 --max-time 60
	head -n 6 "$TMP/in" >"$TMP/a6"
	script -qefc "closehook-post --parallel 1 --dead-letter '$TMP/dls' \
	    '$SINK_URL/' <'$TMP/a6' >'$TMP/tty.out'" /dev/null \
	    >"$TMP/tty1" 2>&1 </dev/null
	ok "stderr on a terminal, stdout to a file: a progress line" \
	    grep -q 'in flight' "$TMP/tty1"
	script -qefc "closehook-post --parallel 1 --dead-letter '$TMP/dls' \
	    '$SINK_URL/' <'$TMP/a6'" /dev/null >"$TMP/tty2" 2>&1 </dev/null
	is "$(grep -c '"event"' "$TMP/tty2")" 6 \
	    "stdout and stderr on one terminal: the delivered lines"
	# shellcheck disable=SC2016 # expanded by the inner shell
	ok "and no progress line among them" \
	    bash -c '! grep -q "in flight" "$1"' sh "$TMP/tty2"
else
	ok "# SKIP no script(1)" true
fi
done_testing
