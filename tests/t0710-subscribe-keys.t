#!/bin/bash
# shellcheck disable=SC2016
# closehook-subscribe create and the signing key: appended to --key-out as
# "whsub_ID HEXKEY" (closehook-verify's format) in a new file of mode 0600,
# never on stdout or stderr; closehook-verify accepts a delivery signed with
# it; a key file that cannot be opened stops create before the request; a
# key that cannot be written is a loud exit 2 naming the subscription.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/close.sh"

fake_start --count 0
S=(closehook-subscribe --api-url "$FAKE_URL")
keyof() { curl -sf "$FAKE_ROOT/_fake/webhook_keys" | jq -r --arg i "$1" '.[$i]'; }

umask 022
run "${S[@]}" create --url https://example.com/a --event lead:created \
    --key-out "$TMP/keys"
is "$rc" 0 "create exits 0"
id=$(jq -r .id <<<"$out")
key=$(keyof "$id")
like "$key" "????????????????????????????????????????????????????????????????" \
    "the fake made a 64-hex-digit key"
is "$(cat "$TMP/keys")" "$id $key" "the key file holds \"whsub_ID HEXKEY\""
is "$(stat -c %a "$TMP/keys")" 600 "... in a new file of mode 0600 (umask 022)"
ok "... not on stdout" bash -c '! grep -q "$1" "$2"' _ "$key" "$TMP/out"
ok "... nor on stderr" bash -c '! grep -q "$1" "$2"' _ "$key" "$TMP/err"
like "$(cat "$TMP/err")" "*$id's key appended to $TMP/keys: closehook-receive and closehook-verify reading it take it at its first delivery*" \
    "stderr says where the key went, and who takes it"
is "$(jq -r 'has("signature_key")' <<<"$out")" false \
    "stdout is the subscription without signature_key"
is "$(jq -r '[.status, .url] | join(" ")' <<<"$out")" \
    "active https://example.com/a" "... and with the rest of it"

# A delivery signed with the key passes closehook-verify --secret-file.
body='{"event": {"id": "ev_1", "object_type": "lead", "action": "created"}, "subscription_id": "'$id'"}'
ts=$(date +%s)
capture "$ts" "$(sign "$key" "$ts" "$body")" "$body" >"$TMP/cap"
run timeout 20 closehook-verify --secret-file "$TMP/keys" --max-age 0 "$TMP/cap"
is "$rc:$out" "0:$body" "closehook-verify accepts a delivery signed with it"
other='{"event": {"id": "ev_2"}, "subscription_id": "'$id'"}'
capture "$ts" "$(sign "$KAV_KEY" "$ts" "$other")" "$other" >"$TMP/cap2"
must_fail "... and rejects one signed with another key" \
    timeout 20 closehook-verify --secret-file "$TMP/keys" --max-age 0 "$TMP/cap2"

# A second create appends; a file without a final newline gets one.
printf '# keys for the hooks' >"$TMP/keys2"
chmod 600 "$TMP/keys2"
run "${S[@]}" create --url https://example.com/b --event lead:deleted \
    --key-out "$TMP/keys"
id2=$(jq -r .id <<<"$out")
is "$(cat "$TMP/keys")" "$id $key
$id2 $(keyof "$id2")" "a second create appends a line"
run "${S[@]}" create --url https://example.com/c --event lead:updated \
    --key-out "$TMP/keys2"
id3=$(jq -r .id <<<"$out")
is "$(cat "$TMP/keys2")" "# keys for the hooks
$id3 $(keyof "$id3")" "a file without a final newline gets one first"
ok "... and closehook-verify still reads the file" \
    timeout 20 closehook-verify --secret-file "$TMP/keys" --max-age 0 "$TMP/cap"

chmod 644 "$TMP/keys"
run "${S[@]}" create --url https://example.com/d --event lead:merged \
    --key-out "$TMP/keys"
like "$err" "*keys: readable or writable by group or others (chmod 600)*" \
    "an existing key file readable by others draws a warning"

# Cannot open the key file: exit 2 before anything is created.
before=$(fake_requests)
run "${S[@]}" create --url https://example.com/e --event lead:created \
    --key-out "$TMP/no/such/dir/keys"
is "$rc" 2 "an unopenable --key-out exits 2"
like "$err" "*cannot open the key file (no subscription was created)*" \
    "... saying nothing was created"
is "$(fake_requests)" "$before" "... and sending no request"

# The key cannot be written: loud, exit 2, naming the subscription.
run "${S[@]}" create --url https://example.com/f --event lead:created \
    --key-out /dev/full
is "$rc" 2 "a key that cannot be written exits 2"
idf=$(curl -sf "$FAKE_ROOT/_fake/webhook_keys" | jq -r 'keys_unsorted[-1]')
ok "... naming the subscription that exists" grep -qF \
    "SUBSCRIPTION $idf WAS CREATED, BUT ITS SIGNING KEY COULD NOT BE WRITTEN" \
    "$TMP/err"
ok "... and how to delete it" grep -qF "closehook-subscribe delete $idf" \
    "$TMP/err"
is "$out" "" "... writing nothing to stdout"
ok "... nor the key anywhere" bash -c '! grep -q "$1" "$2"' _ \
    "$(keyof "$idf")" "$TMP/err"

# A create Close refuses leaves no empty key file behind.
fake_stop
fake_start --count 0 --webhook-limit 0
run "${S[@]}" create --url https://example.com/g --event lead:created \
    --key-out "$TMP/keys3"
is "$rc" 2 "a refused create exits 2"
ok "... and removes the key file it had made" [ ! -e "$TMP/keys3" ]

done_testing
