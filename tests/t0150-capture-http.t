#!/bin/bash
# closehook-capture --http: raw HTTP/1.1 requests as nc -l, a proxy or
# tcpflow saved them become captures that closehook-verify accepts: CRLF and
# bare LF, Content-Length and chunked bodies, several requests in a file;
# bad requests are reported with their line while the good ones come out.
. "$(dirname "$0")/lib.sh"
set -e

echo "$KAV_KEY" >"$TMP/keys"
chmod 600 "$TMP/keys"
vfy() { closehook-verify --secret-file "$TMP/keys" --max-age 0 "$@"; }
# cap ARGS...: run closehook-capture; its output also in $TMP/cap.
cap() {
	run closehook-capture "$@"
	cp "$TMP/out" "$TMP/cap"
}

# reqhead EOL TS SIG [HEADER...]: a request line and headers, each line ended
# by EOL, without the empty line.
reqhead() {
	local eol=$1 ts=$2 sig=$3 h
	shift 3
	printf 'POST /close?sub=whsub_1 HTTP/1.1%s' "$eol"
	printf 'Host: hooks.example.com%s' "$eol"
	printf 'Content-Type:  application/json \t%s' "$eol"
	printf 'Close-Sig-Hash: %s%s' "$sig" "$eol"
	printf 'close-sig-timestamp:%s%s' "$ts" "$eol"
	for h; do
		printf '%s%s' "$h" "$eol"
	done
}
# req EOL TS SIG BODY: a request with a Content-Length body.
req() {
	reqhead "$1" "$2" "$3" "Content-Length: $(printf '%s' "$4" | wc -c)"
	printf '%s%s' "$1" "$4"
}
# chunked EOL TS SIG BODY: the body in chunks of 7 bytes, with a chunk
# extension and a trailer field.
chunked() {
	# Sizes count bytes: bash counts characters in a UTF-8 locale.
	local LC_ALL=C eol=$1 body=$4 n
	reqhead "$1" "$2" "$3" "Transfer-Encoding: chunked"
	printf '%s' "$eol"
	while [ -n "$body" ]; do
		n=7
		[ "${#body}" -lt 7 ] && n=${#body}
		printf '%x;ext=1%s%s%s' "$n" "$eol" "${body:0:n}" "$eol"
		body=${body:n}
	done
	printf '0%sX-Trailer: t%s%s' "$eol" "$eol" "$eol"
}

# One request, CRLF, as nc -l saves what curl sent.
req $'\r\n' "$KAV_TS" "$KAV_SIG" "$KAV_BODY" >"$TMP/crlf.txt"
cap --http "$TMP/crlf.txt"
is "$rc" 0 "a CRLF request is read"
is "$(wc -l <"$TMP/cap")" 1 "one capture line"
is "$(jq -c '[.method, .path, .headers]' "$TMP/cap")" \
    '["POST","/close?sub=whsub_1",{"host":"hooks.example.com","content-type":"application/json","close-sig-hash":"'"$KAV_SIG"'","close-sig-timestamp":"'"$KAV_TS"'","content-length":"230"}]' \
    "method, target with its query, names lower-cased, values trimmed"
is "$(jq -r .body "$TMP/cap")" "$KAV_BODY" "the body as a string"
run vfy "$TMP/cap"
is "$rc:$out" "0:$KAV_BODY" "closehook-verify accepts it and writes the body"

# Bare LF: the body is still byte for byte.
req $'\n' "$KAV_TS" "$KAV_SIG" "$KAV_BODY" >"$TMP/lf.txt"
run sh -c 'closehook-capture --http "$1" | closehook-verify --max-age 0 \
    --secret-file "$2"' sh "$TMP/lf.txt" "$TMP/keys"
is "$rc:$out" "0:$KAV_BODY" "a bare-LF request verifies"

# Chunked, with an extension and a trailer, decoded.
chunked $'\r\n' "$KAV_TS" "$KAV_SIG" "$KAV_BODY" >"$TMP/chunked.txt"
cap --http "$TMP/chunked.txt"
is "$rc" 0 "a chunked request is read"
run vfy "$TMP/cap"
is "$rc:$out" "0:$KAV_BODY" "its decoded body verifies"

# Several requests in one file, pipelined, CRLF and LF mixed, with the
# newline an editor adds at the end.
ts2=1764000000
body2='{"event": {"id": "ev_2", "data": {"name": "Zoë 株式会社"}}, "subscription_id": "whsub_1"}'
sig2=$(sign "$KAV_KEY" $ts2 "$body2")
{
	req $'\r\n' "$KAV_TS" "$KAV_SIG" "$KAV_BODY"
	chunked $'\n' $ts2 "$sig2" "$body2"
	printf '\r\n'
	req $'\n' $ts2 "$sig2" "$body2"
	printf '\n'
} >"$TMP/three.txt"
cap --http "$TMP/three.txt"
is "$rc" 0 "three requests in one file are read"
is "$(wc -l <"$TMP/cap")" 3 "three captures"
run vfy "$TMP/cap"
is "$rc" 0 "all three verify"
is "$out" "$(printf '%s\n%s\n%s' "$KAV_BODY" "$body2" "$body2")" \
    "with their bodies, UTF-8 included, in order"

# The same file from stdin and as "-".
run sh -c 'closehook-capture --http <"$1" | wc -l' sh "$TMP/three.txt"
is "$out" 3 "stdin is read when no FILE is given"
run sh -c 'closehook-capture --http - <"$1" | wc -l' sh "$TMP/three.txt"
is "$out" 3 "and for -"

# received_at: the file's modification time, else --received-at; a
# request from a pipe is received when it is read.
touch -d "@$((ts2 + 2))" "$TMP/three.txt"
cap --http "$TMP/three.txt"
is "$(jq -r .received_at "$TMP/cap" | sort -u)" "2025-11-24T16:00:02.000000Z" \
    "received_at is the file's modification time, in UTC"
run sh -c 'closehook-capture --http "$1" | tail -n 1 |
    closehook-verify --secret-file "$2"' sh "$TMP/three.txt" "$TMP/keys"
is "$rc:$out" "0:$body2" "so verify's window holds for a request saved on arrival"
cap --http --received-at 2025-11-24T17:00:02.5+01:00 \
    "$TMP/three.txt"
is "$(jq -r .received_at "$TMP/cap" | sort -u)" "2025-11-24T16:00:02.500000Z" \
    "--received-at overrides it, normalised to UTC microseconds"
run sh -c 'closehook-capture --http --received-at $(($2 + 900)) "$1" |
    tail -n 1 | closehook-verify --secret-file "$3"' sh "$TMP/three.txt" \
    $ts2 "$TMP/keys"
like "$err" "*rejected: stale-timestamp" \
    "a received_at 900 s after the signature is stale for verify"
run sh -c 'cat "$1" | closehook-capture --http' sh "$TMP/three.txt"
at=$(jq -r .received_at "$TMP/out" | head -n 1)
like "$at" "20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9].[0-9][0-9][0-9][0-9][0-9][0-9]Z" \
    "a request from a pipe has a received_at in the capture format"
age=$(($(date +%s) - $(jq -rn --arg t "$at" '$t | sub("[.][0-9]+Z$"; "Z") | fromdate')))
ok "and it is now ($age s ago)" test "$age" -ge 0 -a "$age" -lt "$(slow 60)"

# A request arriving on a pipe comes out before the input ends.
fifo=$TMP/fifo
mkfifo "$fifo"
closehook-capture --http <"$fifo" >"$TMP/live" &
pid=$!
exec 3>"$fifo"
req $'\r\n' "$KAV_TS" "$KAV_SIG" "$KAV_BODY" >&3
for _ in $(seq 100); do
	[ -s "$TMP/live" ] && break
	sleep 0.05
done
is "$(wc -l <"$TMP/live")" 1 "a request on a pipe is written while the pipe stays open"
exec 3>&-
wait "$pid"

# A body that is not UTF-8 is carried as body_base64, its bytes exact (the
# signature over the decoded bytes is the one sent).  closehook-verify reads
# such a capture but takes only JSON bodies, which are UTF-8.
printf '{"note": "caf\xe9"}' >"$TMP/latin1"
lsig=$(printf '%s' $ts2 | cat - "$TMP/latin1" | openssl dgst -sha256 -mac HMAC \
    -macopt "hexkey:$KAV_KEY" -r | cut -d' ' -f1)
{
	reqhead $'\r\n' $ts2 "$lsig" "Content-Length: $(wc -c <"$TMP/latin1")"
	printf '\r\n'
	cat "$TMP/latin1"
} >"$TMP/latin1.txt"
cap --http "$TMP/latin1.txt"
is "$rc" 0 "a Latin-1 body is read"
is "$(jq -r 'has("body_base64"), has("body")' "$TMP/cap" | tr '\n' ' ')" \
    "true false " "and carried as body_base64"
jq -r .body_base64 "$TMP/cap" | base64 -d >"$TMP/latin1.back"
same_file "$TMP/latin1.back" "$TMP/latin1" "its bytes come back exactly"
is "$(printf '%s' $ts2 | cat - "$TMP/latin1.back" | openssl dgst -sha256 \
    -mac HMAC -macopt "hexkey:$KAV_KEY" -r | cut -d' ' -f1)" "$lsig" \
    "so the signature still matches them"
run vfy "$TMP/cap"
is "$err" "closehook-verify: $TMP/cap:1: rejected: body-not-json" \
    "verify reads the capture and refuses the body as JSON, not the capture"

# Repeated header names are joined, as closehook-receive does.
reqhead $'\r\n' "$KAV_TS" "$KAV_SIG" "X-Forwarded-For: 10.0.0.1" \
    "x-forwarded-for:  10.0.0.2 " "Content-Length: 0" >"$TMP/rep.txt"
printf '\r\n' >>"$TMP/rep.txt"
cap --http "$TMP/rep.txt"
is "$(jq -r '.headers["x-forwarded-for"]' "$TMP/cap")" "10.0.0.1, 10.0.0.2" \
    "repeated names are joined with ', '"

# bad FILE DESCRIPTION LINE:MESSAGE: a good request, then FILE's bytes:
# a message with the file and line, exit 1, and the good request before
# the bad one still written.
bad() {
	local desc=$2 want=$3
	{
		req $'\r\n' "$KAV_TS" "$KAV_SIG" "$KAV_BODY"
		cat "$1"
	} >"$TMP/bad.txt"
	cap --http "$TMP/bad.txt"
	is "$rc:$err" "1:closehook-capture: $TMP/bad.txt:$want: skipped to the next request" "$desc"
	is "$(vfy "$TMP/cap")" "$KAV_BODY" "$desc: the good request is still written"
}
bad <(printf 'POST /b HTTP/1.1\r\nContent-Length: 3\r\nHost: h\r\nContent-Length: 4\r\n\r\nabcd') \
    "two different Content-Length values" \
    "11: two different Content-Length values (3 and 4)"
bad <(printf 'POST /b HTTP/1.1\r\nX-Long: one\r\n  two\r\nContent-Length: 0\r\n\r\n') \
    "an obs-fold header line" \
    "10: header line begins with white space (obs-fold: a folded header is not accepted)"
bad <(printf 'POST /b HTTP/1.1\r\nHost: h\r\n\r\n{"event": {}}') \
    "a body without a length" \
    "8: a body without Content-Length or Transfer-Encoding: chunked"
bad <(printf 'POST /b HTTP/1.1\r\nContent-Length: 300\r\n\r\n{"event": {}}') \
    "a truncated body" \
    "8: truncated body: Content-Length is 300, 13 bytes follow"
bad <(printf 'POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabc') \
    "a truncated chunked body" "8: truncated chunked body"
bad <(printf 'POST /b HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n') \
    "Content-Length beside Transfer-Encoding" \
    "10: both Transfer-Encoding and Content-Length: the body's length is ambiguous"
bad <(printf 'POST /b HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n') \
    "a coding other than chunked" \
    "9: unsupported Transfer-Encoding (only chunked is read)"
bad <(
	printf 'POST /b HTTP/1.1\r\nX-Big: '
	head -c 70000 /dev/zero | tr '\0' a
	printf '\r\n\r\n'
) "a header section over 64 KiB" \
    "8: header section longer than 65536 bytes"

# A Content-Length one byte short leaves a byte that is no request.
{
	reqhead $'\r\n' "$KAV_TS" "$KAV_SIG" "Content-Length: 229"
	printf '\r\n%s' "$KAV_BODY"
} >"$TMP/short.txt"
cap --http "$TMP/short.txt"
is "$rc" 1 "a Content-Length one byte short: exit 1"
is "$err" "closehook-capture: $TMP/short.txt:8: not an HTTP/1.1 request line (is the Content-Length of the request before it right?): skipped to the next request" \
    "the stray byte is reported, with a hint"
run vfy "$TMP/cap"
like "$err" "*rejected: body-not-json" "and the cut body does not verify"

# --max-input bounds a request.
big=$(printf '{"event": {"note": "%s"}}' "$(head -c 2000 /dev/zero | tr '\0' x)")
req $'\r\n' $ts2 "$(sign "$KAV_KEY" $ts2 "$big")" "$big" >"$TMP/big.txt"
cap --http --max-input 1K "$TMP/big.txt" "$TMP/lf.txt"
is "$rc:$(wc -l <"$TMP/cap")" "1:1" \
    "--max-input 1K: the request over it is refused, the next file read"
is "$err" "closehook-capture: $TMP/big.txt:1: request larger than 1024 bytes: skipped to the next request" \
    "with the bound in the message"
run sh -c 'closehook-capture --http --max-input 3K "$1" |
    closehook-verify --max-age 0 --secret-file "$2"' sh "$TMP/big.txt" \
    "$TMP/keys"
is "$rc:$out" "0:$big" "--max-input 3K lets it through"

# A refused request costs that request only: reading goes on at the next
# request line, as under `nc -lk 8080 | closehook-capture --http`, where a
# port scan, a TLS hello or a dropped connection comes between deliveries.
good() { req $'\r\n' "$KAV_TS" "$KAV_SIG" "$KAV_BODY"; }
{
	good
	printf '\026\003\001\002\000\001\374\003\003garbage\r\n'
	good
	printf 'GET /half HTTP/1.1\r\nHost: h\r\n'
	good
	cat "$TMP/big.txt"
	good
} >"$TMP/live.txt"
run sh -c 'cat "$1" | closehook-capture --http --max-input 1K' sh "$TMP/live.txt"
is "$rc" 1 "bad requests between good ones: exit 1"
is "$(printf '%s\n' "$out" | vfy | wc -l)" 4 "every good request is written, and verifies"
like "$err" "*stdin:8: not an HTTP/1.1 request line*: skipped to the next request*stdin:18: header line without a colon: skipped to the next request*stdin:25: request larger than 1024 bytes: skipped to the next request*" \
    "each bad one reported, with its line, as skipped"
# nc writes a request right after the body before it, with no line end
# between: reading on finds a request glued to the end of a line.  A
# request that lies about its length (a dropped connection) costs only
# itself, and a bodyless request may be followed by its response.
paths() {
	closehook-capture --http --received-at 2026-01-01T00:00:00Z "$1" \
	    2>"$TMP/paths.err" | jq -r .path | tr '\n' ' '
}
printf 'POST /a HTTP/1.1\r\nHost: a\r\n folded\r\nContent-Length: 2\r\n\r\n{}POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}POST /c HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}' >"$TMP/glued.txt"
is "$(paths "$TMP/glued.txt")" "/b /c " "a refused request, then requests glued to bodies: the next is found"
printf 'POST /big HTTP/1.1\r\nContent-Length: 100000000\r\n\r\nPOST /b1 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}POST /b2 HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}' >"$TMP/lie.txt"
is "$(paths "$TMP/lie.txt")" "/b1 /b2 " "a length that lies: the requests after it are read"
printf 'GET /x HTTP/1.1\r\nHost: h\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokPOST /y HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}' >"$TMP/get.txt"
is "$(paths "$TMP/get.txt")" "/y " "a bodyless GET and its response, then a request glued to it"
like "$(cat "$TMP/paths.err")" "*get.txt: skipped 1 request that is not POST*1 HTTP responses skipped*" \
    "the GET (Close only POSTs, a probe GETs) and the response skipped, and said"

# A line longer than a header section, without a line end, is dropped as it
# comes: the reader's memory stays bounded.
{
	good
	head -c 3000000 /dev/zero | tr '\0' z
	printf '\n'
	good
} >"$TMP/long.txt"
run sh -c 'cat "$1" | closehook-capture --http' sh "$TMP/long.txt"
is "$rc:$(printf '%s\n' "$out" | wc -l)" "1:2" "a 3 MB line of junk: skipped, both requests written"

# A dump of both directions (Wireshark's Follow TCP Stream): the responses
# are skipped without an error, and counted once.
{
	good
	printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'
	good
	printf 'HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n\r\n{"error": "bad"}\r\n'
	good
} >"$TMP/both.txt"
cap --http "$TMP/both.txt"
is "$rc:$(wc -l <"$TMP/cap")" "0:3" "responses in the dump: skipped, exit 0, every request written"
like "$err" "*closehook-capture: 2 HTTP responses skipped (a dump of both directions)" \
    "and counted once"
like "$err" "*$TMP/both.txt: 3 requests, each stamped with the file's modification time (the last one's arrival); give --received-at, or verify --max-age 0, if an earlier one's signature reads as stale*" \
    "several requests in a file: their one time is said"
cap --http --received-at 2019-05-13T12:46:37Z "$TMP/both.txt"
is "$err" "closehook-capture: 2 HTTP responses skipped (a dump of both directions)" \
    "not with --received-at"

# What people pass to --http that is not a dump: each said for what it is.
hint() { # FILE CONTENT: the first message for CONTENT
	printf '%s' "$2" >"$TMP/$1"
	run closehook-capture --http "$TMP/$1"
	printf '%s\n' "$err" | head -n 1
}
is "$(hint bom.txt "$(printf '\xef\xbb\xbfPOST / HTTP/1.1\r\n\r\n')")" \
    "closehook-capture: $TMP/bom.txt:1: not an HTTP/1.1 request line (a byte-order mark before it: an editor saved the dump): skipped to the next request" \
    "a byte-order mark before the dump"
is "$(hint sp.txt "$(printf 'POST / HTTP/1.1 \r\n\r\n')")" \
    "closehook-capture: $TMP/sp.txt:1: not an HTTP/1.1 request line (white space after the HTTP version): skipped to the next request" \
    "white space after the version"
is "$(hint har.txt '{"log": {"entries": []}}')" \
    "closehook-capture: $TMP/har.txt:1: not an HTTP/1.1 request line (it reads as JSON: a HAR archive takes --har, a bare body --body, and captures need no closehook-capture): skipped to the next request" \
    "JSON given to --http"
is "$(hint trace.txt "$(printf '== Info: Connected to h\n=> Send header, 80 bytes\n')")" \
    "closehook-capture: $TMP/trace.txt:1: not an HTTP/1.1 request line (it reads as curl's --trace-ascii output, not the request as sent): skipped to the next request" \
    "curl --trace-ascii output"

# Several files: each is read; a missing one is exit 2.
printf 'hello\r\n' >"$TMP/junk.txt"
cap --http "$TMP/junk.txt" "$TMP/crlf.txt"
is "$rc:$(wc -l <"$TMP/cap")" "1:1" "a bad file does not stop the next"
is "$err" "closehook-capture: $TMP/junk.txt:1: not an HTTP/1.1 request line: skipped to the next request" \
    "and is reported"
cap --http "$TMP/nope.txt" "$TMP/crlf.txt"
is "$rc:$(wc -l <"$TMP/cap")" "2:1" "a missing file is exit 2, the next is still read"
like "$err" "closehook-capture: $TMP/nope.txt: No such file*" "and is named"
: >"$TMP/empty.txt"
run closehook-capture --http "$TMP/empty.txt"
is "$rc:$out" "0:" "an empty dump: nothing made, exit 0"
like "$err" "*empty.txt: no HTTP request found in it*" "... but said, not silent"

done_testing
