#!/bin/bash
# shellcheck disable=SC2016
# closehook-subscribe commands against the fake Close: list (one line per
# subscription, across pages), create (the request Close gets), pause,
# resume, delete, an unknown id (exit 1), --dry-run (no request at all) and
# usage errors (exit 2, no request).
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/close.sh"

fake_start --count 0 --webhook-page-size 2
S=(closehook-subscribe --api-url "$FAKE_URL")

# reqs METHOD PATH-REGEX: how many such API requests the fake logged.
reqs() {
	jq -r --arg m "$1" --arg p "$2" \
	    'select(.n and .method == $m and (.path | test($p))) | .n' \
	    "$FAKE_LOG" | wc -l
}

run "${S[@]}" list
is "$rc:$out:$err" "0::" "list with no subscriptions: exit 0, no output"

run "${S[@]}" create --url https://example.com/a --event lead:created \
    --event opportunity:updated --key-out "$TMP/keys"
is "$rc" 0 "create exits 0"
id=$(jq -r .id <<<"$out")
like "$id" "whsub_*" "... and writes the subscription with its id"
is "$(wc -l <"$TMP/out")" 1 "... on one line"
is "$(jq -c 'select(.n and .method == "POST") | .body' "$FAKE_LOG")" \
    '{"url":"https://example.com/a","events":[{"object_type":"lead","action":"created"},{"object_type":"opportunity","action":"updated"}],"verify_ssl":true}' \
    "... sending Close the url, the events and verify_ssl"
is "$(jq -c 'select(.n and .method == "POST") | .status' "$FAKE_LOG")" 201 \
    "... which Close answered 201"

run "${S[@]}" create --url http://example.com/b --event lead:deleted \
    --no-verify-ssl --key-out "$TMP/keys"
id2=$(jq -r .id <<<"$out")
is "$rc:$(jq -r .verify_ssl <<<"$out")" 0:false \
    "--no-verify-ssl sends verify_ssl false"

# A third, so that the list takes two pages of two.
curl -sf -X POST "$FAKE_ROOT/_fake/webhook_add?n=1" >/dev/null
run "${S[@]}" list
is "$rc" 0 "list exits 0"
is "$(jq -r .id <"$TMP/out" | head -2 | tr '\n' ' ')" "$id $id2 " \
    "... one JSON line per subscription, in Close's order"
is "$(wc -l <"$TMP/out")" 3 "... all of them, across pages"
is "$(reqs GET '^/api/v1/webhook/$')" 3 \
    "... following has_more (two pages of two, and the first list)"
ok "... the second page asked with _skip=2" \
    grep -q '"_skip": \["2"\]' "$FAKE_LOG"
ok "... without any signature_key" bash -c '! grep -q signature_key "$1"' \
    _ "$TMP/out"

run "${S[@]}" pause "$id"
is "$rc:$(jq -r .status <<<"$out")" 0:paused "pause sets status paused"
is "$(jq -c 'select(.method == "PUT") | .body' "$FAKE_LOG" | tail -1)" \
    '{"status":"paused"}' "... with PUT {\"status\": \"paused\"}"
run "${S[@]}" resume "$id"
is "$rc:$(jq -r .status <<<"$out")" 0:active "resume sets status active"
is "$(jq -c 'select(.method == "PUT") | .body' "$FAKE_LOG" | tail -1)" \
    '{"status":"active"}' "... with PUT {\"status\": \"active\"}"
run "${S[@]}" delete "$id2"
is "$rc:$out" "0:" "delete exits 0 quietly"
is "$(reqs DELETE "^/api/v1/webhook/$id2/\$")" 1 "... with DELETE /webhook/ID/"
run "${S[@]}" list
ok "... and the subscription is gone" bash -c '! grep -q "$1" "$2"' _ \
    "$id2" "$TMP/out"

for c in pause resume delete; do
	run "${S[@]}" "$c" whsub_doesnotexist
	is "$rc" 1 "$c of an unknown id exits 1"
	like "$err" "*no such subscription: whsub_doesnotexist*" "... saying so"
done

# --dry-run: the request on stdout, nothing sent (not even with no key).
before=$(fake_requests)
run env -u CLOSE_API_KEY "${S[@]}" --dry-run create --url https://x.test/h \
    --event lead:created --key-out "$TMP/dry-keys"
is "$rc" 0 "create --dry-run exits 0"
is "$(head -1 "$TMP/out")" "POST $FAKE_URL/webhook/" \
    "... printing the method and URL"
is "$(sed -n 2p "$TMP/out")" \
    '{"url":"https://x.test/h","events":[{"object_type":"lead","action":"created"}],"verify_ssl":true}' \
    "... and the body"
ok "... without touching --key-out" [ ! -e "$TMP/dry-keys" ]
run "${S[@]}" -n pause "$id"
is "$out" "PUT $FAKE_URL/webhook/$id/
{\"status\":\"paused\"}" "pause -n prints the PUT"
run "${S[@]}" -n resume "$id"
like "$out" '*{"status":"active"}' "resume -n prints the PUT"
run "${S[@]}" -n delete "$id"
is "$out" "DELETE $FAKE_URL/webhook/$id/" "delete -n prints the DELETE"
run "${S[@]}" -n list
is "$out" "GET $FAKE_URL/webhook/" "list -n prints the GET"
is "$(fake_requests)" "$before" "--dry-run sent no request at all"
run "${S[@]}" list
is "$(jq -r 'select(.id == "'"$id"'") | .status' "$TMP/out")" active \
    "... and changed nothing"

# Usage errors: exit 2 before any request.
before=$(fake_requests)
exit_is 2 "no command" "${S[@]}"
exit_is 2 "an unknown command" "${S[@]}" frobnicate
exit_is 2 "pause without an id" "${S[@]}" pause
like "$err" "*pause needs a subscription id*usage:*" "and says so"
exit_is 2 "check with an argument" "${S[@]}" check extra
like "$err" "*check takes no more arguments: extra*usage:*" "and says which"
exit_is 2 "an id with odd characters" "${S[@]}" delete '../event'
exit_is 2 "create without --key-out" "${S[@]}" create --url https://x.test \
    --event lead:created
exit_is 2 "create without --event" "${S[@]}" create --url https://x.test \
    --key-out "$TMP/k2"
exit_is 2 "an --event that is not TYPE:ACTION" "${S[@]}" create \
    --url https://x.test --event lead --key-out "$TMP/k2"
run "${S[@]}" create --url https://x.test --event opportunity:wibble \
    --key-out "$TMP/k2"
is "$rc" 2 "an --event Close does not know exits 2"
is "$err" "closehook-subscribe: unknown event opportunity:wibble; opportunity's events are:
  opportunity:created opportunity:updated opportunity:deleted" \
    "... listing the object type's events"
run "${S[@]}" create --url https://x.test --event opportunities:updated \
    --key-out "$TMP/k2"
is "$rc" 2 "an --event of an unknown object type exits 2"
like "$err" "closehook-subscribe: unknown event opportunities:updated; Close's events are:
  lead:created lead:updated lead:deleted lead:merged
*  activity.call:created * activity.call:answered activity.call:completed
*  membership:activated membership:deactivated
*" "... listing every event"
exit_is 2 "a --url that is not http(s)" "${S[@]}" create --url ftp://x \
    --event lead:created --key-out "$TMP/k2"
run "${S[@]}" list --url https://x.test
is "$rc" 2 "a create option on list exits 2"
like "$err" "*--url is an option of create*" "... saying whose option it is"
exit_is 2 "--metrics on list" "${S[@]}" list --metrics "$TMP/m"
exit_is 2 "--dry-run on check" "${S[@]}" check -n
is "$(fake_requests)" "$before" "usage errors send no request"
ok "... and create no key file" [ ! -e "$TMP/k2" ]

# An answer that is not the API's (a proxy's page, a wrong --api-url):
# the API was reached, and that is what the message says.
python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = b"<html>oops</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()' "$TMP/html.port" &
hpid=$!
at_exit "kill $hpid 2>/dev/null"
for _ in $(seq 50); do [ -s "$TMP/html.port" ] && break; sleep 0.1; done
run env CLOSE_API_KEY=k closehook-subscribe \
    --api-url "http://127.0.0.1:$(cat "$TMP/html.port")/api/v1" list
is "$rc" 2 "a page that is not the API's: exit 2"
like "$err" "*the answer (HTTP 200) is not the API's: malformed JSON*wrong --api-url*" \
    "said as such, not as unreachable"

done_testing
