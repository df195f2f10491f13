#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-post basics against real nginx on 127.0.0.1: every record is
# delivered and comes out on stdout unchanged, over few kept-alive
# connections; HTTPS with a throwaway certificate and --cacert; usage
# errors exit 2.
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

# A lone record leaves at once (no waiting for more input).
python3 - "$NGINX_URL" <<'PY' >"$TMP/lone"
import subprocess, sys, time
p = subprocess.Popen(["closehook-post", "-q", sys.argv[1]],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
t = time.monotonic()
p.stdin.write(b'{"one": 1}\n'); p.stdin.flush()
line = p.stdout.readline()
dt = time.monotonic() - t
p.stdin.close(); p.wait()
print("ok" if line == b'{"one": 1}\n' and dt < 0.5 else "slow %r %.3f" % (line, dt))
PY
is "$(cat "$TMP/lone")" ok "a lone record is delivered and echoed at once"

# 3xx and 4xx are not retried: they fail at once, to the dead letters.
start_sink s4 --status 404 --max-time 30
run closehook-post --dead-letter "$TMP/dl4" --report "$TMP/rep4" \
    "$SINK_URL" <"$TMP/a"
is "$rc" 1 "404: exit 1"
same_lines "$TMP/dl4" "$TMP/a" "404: every line dead-lettered as it was"
is "$(jq -r '"\(.status) \(.attempts) \(.http)"' "$TMP/rep4" | sort -u)" \
    "dead-letter 1 404" "404: one attempt each, reported"
like "$err" "*dead letters go to $TMP/dl4*" "the dead-letter file is named"

# The default dead-letter file lives under $XDG_STATE_HOME.
run env XDG_STATE_HOME="$TMP/state" closehook-post -q "$SINK_URL" <"$TMP/a"
same_lines "$TMP/state/closehook/dead-letter.ndjson" "$TMP/a" \
    "default dead-letter file under \$XDG_STATE_HOME"

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
	ok "# SKIP https nginx" true
fi
done_testing
