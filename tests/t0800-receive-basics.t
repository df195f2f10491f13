#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154,SC2016
# closehook-receive: options, one POST to one capture, the capture's
# fields and body bytes, --path, methods, /healthz, IPv6, SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"

# Usage errors exit 2 before listening.
exit_is 2 "a --listen without a port is refused" \
    closehook-receive -l 127.0.0.1
like "$err" "*invalid ADDR:PORT for --listen*" "and says why"
must_fail "a port without its address" closehook-receive -l 8080 --spool "$TMP/never"
like "$err" "*--listen: 8080 (an address is HOST:PORT (:PORT for every address))*" \
    "says what an address is"
exit_is 2 "an IPv6 address without brackets is refused" \
    closehook-receive -l ::1:8080
exit_is 2 "a port past 65535 is refused" closehook-receive -l 127.0.0.1:65536
exit_is 2 "--path must begin with /" closehook-receive --path close
exit_is 2 "--tls-cert needs --tls-key" closehook-receive --tls-cert x.pem
exit_is 2 "--rejects needs keys" closehook-receive --rejects r
like "$err" "*--rejects needs keys (--secret-file)*" "and says so"
exit_is 2 "so does --keep-rejects, its earlier name" \
    closehook-receive --keep-rejects r
exit_is 2 "an operand is refused" closehook-receive extra
run sh -c 'exec closehook-receive -l 127.0.0.1:0 >&-'
is "$rc" 2 "without --spool a closed stdout is fatal"
like "$err" "*stdout is closed*" "and says so"
exit_is 2 "an unwritable spool is fatal" \
    closehook-receive -l 127.0.0.1:0 --spool /nonexistent/dir/spool

ok "it starts on a free port" start_receive r1 --spool "$TMP/spool"
like "$(cat "$TMP/r1.err")" "closehook-receive: listening on 127.0.0.1:[0-9]*" \
    "port 0: the chosen port is printed on stderr"

# One signed POST, headers in mixed case.
code=$(post -H "Close-Sig-Hash: $KAV_SIG" -H "CLOSE-SIG-TIMESTAMP: $KAV_TS" \
    -H 'Content-Type: application/json' --data-binary "$KAV_BODY" "$RURL/")
is "$code" 200 "a POST is acknowledged with 200"
is "$(wc -l <"$TMP/spool")" 1 "one capture in the spool"
same_file "$TMP/spool" "$TMP/r1.out" "the same capture on stdout"
cap=$(cat "$TMP/spool")
is "$(jq -r '[.method, .path, .remote_addr] | join(" ")' <<<"$cap")" \
    "POST / 127.0.0.1" "method, path and remote_addr"
like "$(jq -r .received_at <<<"$cap")" \
    "20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z" \
    "received_at is RFC 3339 UTC with microseconds"
is "$(jq -r '.headers | keys | join(" ")' <<<"$cap")" \
    "accept close-sig-hash close-sig-timestamp content-length content-type host user-agent" \
    "header names are lower-cased"
is "$(jq -r '.headers["close-sig-hash"]' <<<"$cap")" "$KAV_SIG" \
    "header values are kept"
is "$(jq -r .body <<<"$cap")" "$KAV_BODY" "the body is a JSON string"
echo "$KAV_KEY" >"$TMP/keys"
chmod 600 "$TMP/keys"
run closehook-verify --max-age 0 --secret-file "$TMP/keys" "$TMP/spool"
is "$out" "$KAV_BODY" "closehook-verify accepts the capture"

# Bodies byte for byte: control bytes, NUL, CR LF, and non-UTF-8.
# shellcheck disable=SC1003
printf '{"a":"x\\u0000"}\r\n\001\000tab\there\n"\\' >"$TMP/b1"
printf '\377\376{"latin1":"caf\351"}' >"$TMP/b2"
printf '' >"$TMP/b3"
for b in b1 b2 b3; do
	is "$(post --data-binary "@$TMP/$b" "$RURL/")" 200 "POST of $b"
done
tail -n 3 "$TMP/spool" >"$TMP/last3"
bodies_of "$TMP/last3" >"$TMP/got"
{ cat "$TMP/b1"; echo; cat "$TMP/b2"; echo; cat "$TMP/b3"; echo; } >"$TMP/want"
same_file "$TMP/got" "$TMP/want" "every body is kept byte for byte"
is "$(sed -n 3p "$TMP/spool" | jq -r 'has("body_base64")')" true \
    "a body that is not UTF-8 is carried as body_base64"
is "$(sed -n 2p "$TMP/spool" | jq -r 'has("body")')" true \
    "a UTF-8 body with control bytes stays a string"
ok "every capture is one valid JSON line" jq -e . "$TMP/spool"

# Repeated headers are joined, as RFC 9110 reads them.
post -H 'X-Twice: one' -H 'x-twice: two' --data-binary x "$RURL/" >/dev/null
is "$(tail -n 1 "$TMP/spool" | jq -r '.headers["x-twice"]')" "one, two" \
    "a repeated header is joined with a comma"

# Methods and paths.
is "$(curl -s -o /dev/null -w '%{http_code}' "$RURL/")" 405 "GET on the path: 405"
like "$(curl -s -D - -o /dev/null -X PUT --data x "$RURL/")" "*Allow: POST*" \
    "with Allow: POST"
is "$(post --data-binary x "$RURL/elsewhere")" 404 "another path: 404"
is "$(curl -s "$RURL/healthz")" ok "GET /healthz answers ok"
is "$(curl -s -o /dev/null -w '%{http_code}' "$RURL/healthz")" 200 "with 200"
is "$(post --data x "$RURL/healthz")" 405 "POST /healthz: 405"
is "$(wc -l <"$TMP/spool")" 5 "only the POSTs to the path were captured"

stop_receive TERM
is "$rc" 0 "SIGTERM: exit 0"

# --path.
ok "it starts with --path" start_receive r2 --path /close -q
is "$(post --data-binary "$KAV_BODY" "$RURL/close")" 200 "POST to --path: 200"
is "$(post --data-binary "$KAV_BODY" "$RURL/")" 404 "POST to / then: 404"
is "$(jq -r .path "$TMP/r2.out")" /close "the capture names the path"
stop_receive INT
is "$rc" 0 "SIGINT: exit 0"

# IPv6 literals.
if python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	closehook-receive -l '[::1]:0' >"$TMP/v6.out" 2>"$TMP/v6.err" &
	pid=$!
	at_exit "kill -9 $pid 2>/dev/null"
	for _ in $(seq 100); do
		port=$(sed -n 's/.*listening on \[::1\]:\([0-9]*\)$/\1/p' "$TMP/v6.err")
		[ -n "$port" ] && break
		sleep 0.05
	done
	is "$(post --data-binary x "http://[::1]:$port/")" 200 "[::1]:0 listens on IPv6"
	is "$(jq -r .remote_addr "$TMP/v6.out")" ::1 "remote_addr is the IPv6 peer"
	kill "$pid"
	wait "$pid"
	is "$?" 0 "and stops cleanly"
else
	skip "receive on the IPv6 loopback" "no IPv6 loopback"
fi

done_testing
