#!/bin/bash
# shellcheck disable=SC1091,SC2016,SC2154 # lib.sh: sourced; run sets rc, out, err
# Where closehook-post may send a record.  The URL (operand or --url-file)
# must be an http or https URL, checked before any input is read.  With
# --url-expr, a record's URL must have the URL's origin (scheme, host,
# port) or one named by --allow-origin: a record naming another host is
# dead-lettered, so the credentials (--bearer-file, --header-file,
# --basic-file, signatures) never reach it.  Values interpolated into the
# URL ("\(.x)") are percent-encoded, so a record cannot add a '/', '?' or
# '#', and a URL whose path has a '.' or '..' segment is dead-lettered.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/post-helpers.sh"

start_sink a --max-time 60
A=$SINK_URL
start_sink b --max-time 60
B=$SINK_URL
printf 'tok123\n' >"$TMP/bearer"
chmod 600 "$TMP/bearer"
# rec ID URL: an event record with its id and a url field.
rec() {
	jq -cn --arg id "$1" --arg url "$2" \
	    '{subscription_id: "whsub_t", event: {id: $id}, url: $url}'
}

# The URL is checked at start, before any input is read.
printf '%s\n' "$(rec ev_1 x)" >"$TMP/one"
for u in notaurl 'file:///etc/passwd' 'ftp://127.0.0.1/x' 'http://' \
    'gopher://127.0.0.1:70/'; do
	run timeout "$(slow 10)" bash -c \
	    'closehook-post --dead-letter "$2/dl" "$1"; echo "rc=$?"; cat' \
	    sh "$u" "$TMP" <"$TMP/one"
	is "$out" "rc=2
$(cat "$TMP/one")" "URL $u: exit 2 at start, stdin left unread"
	like "$err" "closehook-post: invalid URL '*': *" "URL $u: says why"
done
ok "no dead letter was written" test ! -e "$TMP/dl"
printf 'file:///etc/passwd\n' >"$TMP/url-file"
chmod 600 "$TMP/url-file"
run closehook-post --url-file "$TMP/url-file" --dead-letter "$TMP/dl" "$TMP/one"
is "$rc:$err" "2:closehook-post: $TMP/url-file: not an http or https URL" \
    "--url-file: the same check, naming the file, not the URL"
printf 'HTTP://127.0.0.1:%s/upper\n' "${A##*:}" >"$TMP/url-file"
run closehook-post -q --url-file "$TMP/url-file" --dead-letter "$TMP/dl" \
    "$TMP/one"
is "$rc:$(jq -r .path "$TMP/a.log")" "0:/upper" \
    "an upper-case scheme is a URL like any other"
: >"$TMP/a.log"

# Reproduced: a record naming another host got the bearer token.
{
	rec ev_1 "$A/deals/1"
	rec ev_2 "$B/steal"
	rec ev_3 "${A/127.0.0.1/localhost}/other-host-name"
	rec ev_4 "${A%:*}:1/other-port"
	rec ev_5 "https://${A#http://}/other-scheme"
	rec ev_6 "$A/deals/6"
} >"$TMP/in"
run closehook-post --bearer-file "$TMP/bearer" --url-expr .url \
    --retries 0 --dead-letter "$TMP/dl" --report "$TMP/rep" "$A/" <"$TMP/in"
is "$rc" 1 "records for other origins: exit 1"
is "$(wc -l <"$TMP/b.log")" 0 "the other host got no request"
is "$(jq -r .path "$TMP/a.log" | sort | tr '\n' ' ')" "/deals/1 /deals/6 " \
    "the URL's origin got its records"
is "$(jq -r .headers.authorization "$TMP/a.log" | sort -u)" "Bearer tok123" \
    "with the token"
is "$(jq -r .event.id "$TMP/dl" | tr '\n' ' ')" "ev_2 ev_3 ev_4 ev_5 " \
    "another host, host name, port or scheme: dead-lettered"
like "$(jq -r 'select(.line == 2) | .error' "$TMP/rep")" \
    "--url-expr gave another origin (http://127.0.0.1:*), not the URL's nor an --allow-origin" \
    "the report says why"
is "$(jq -r 'select(.line == 2) | .attempts' "$TMP/rep")" 0 \
    "without an attempt"
ok "no token in stderr" bash -c '! grep -q tok123 "$1"' sh "$TMP/err"

# --allow-origin names more origins (scheme, host and port).
: >"$TMP/a.log"
rm -f "$TMP/dl"
run closehook-post -q --bearer-file "$TMP/bearer" --url-expr .url \
    --allow-origin "$B" --allow-origin "http://localhost:${A##*:}/" \
    --retries 0 --dead-letter "$TMP/dl" "$A/" <"$TMP/in"
is "$rc" 1 "--allow-origin: exit 1 for what is still foreign"
is "$(jq -r .path "$TMP/b.log")" /steal "an allowed origin gets its record"
is "$(jq -r .headers.authorization "$TMP/b.log")" "Bearer tok123" \
    "with the credentials"
is "$(jq -r .event.id "$TMP/dl" | tr '\n' ' ')" "ev_4 ev_5 " \
    "another port or scheme of an allowed host is still foreign"
like "$(jq -r .path "$TMP/a.log" | sort | tr '\n' ' ')" \
    "/deals/1 /deals/6 /other-host-name " "localhost was allowed too"
for o in "$B/path" "$B?q" "http://u:p@127.0.0.1:9" "ftp://127.0.0.1" x; do
	run closehook-post --url-expr .url --allow-origin "$o" "$A/" </dev/null
	is "$rc" 2 "--allow-origin $o: exit 2"
	like "$err" "closehook-post: invalid ORIGIN for --allow-origin *" \
	    "--allow-origin $o: says why"
done
run closehook-post --allow-origin "$B" "$A/" </dev/null
is "$rc" 2 "--allow-origin without --url-expr: exit 2"

# Interpolated values are percent-encoded: no '/', '?', '#' or '..' from a
# record; what the expression itself writes stays as it is.
: >"$TMP/a.log"
rm -f "$TMP/dl"
{
	rec 'ab/../../admin?x=1#frag' x
	rec 'a b&c=d' x
	rec '..' x
	rec plain x
} >"$TMP/in"
run closehook-post -q --url-expr "\"$A/deals/\\(.event.id)?src=\\(.url)\"" \
    --retries 0 --dead-letter "$TMP/dl" --report "$TMP/rep" "$A/" <"$TMP/in"
is "$rc" 1 "interpolation: exit 1 for the dot segment"
is "$(jq -r .path "$TMP/a.log" | sort | tr '\n' ' ')" \
    "/deals/a%20b%26c%3Dd?src=x /deals/ab%2F..%2F..%2Fadmin%3Fx%3D1%23frag?src=x /deals/plain?src=x " \
    "each interpolated value is one encoded piece of the path"
is "$(jq -r .event.id "$TMP/dl")" .. "a value that is a '..' segment: dead-lettered"
like "$(jq -r 'select(.line == 3) | .error' "$TMP/rep")" \
    "*path with a '.' or '..' segment*" "saying why"
# A dot segment the record spells with percent-encoding is caught too.
rm -f "$TMP/dl"
rec x "$A/a/%2e%2E/b" >"$TMP/in2"
run closehook-post -q --url-expr .url --dead-letter "$TMP/dl" "$A/" \
    <"$TMP/in2"
is "$rc:$(jq -r .event.id "$TMP/dl")" "1:x" "a %2e%2E segment: dead-lettered"
# A host from a record cannot leave the origin either.
rm -f "$TMP/dl"
rec x "${B#http://}" >"$TMP/in3"
run closehook-post -q --url-expr '"http://\(.url)/x"' --dead-letter "$TMP/dl" \
    "$A/" <"$TMP/in3"
is "$rc:$(wc -l <"$TMP/b.log")" "1:1" "an interpolated host: dead-lettered"
done_testing
