#!/bin/bash
# shellcheck disable=SC2119,SC2154 # run sets rc, out, err; receive-helpers RURL
# closehook-trigger --url against a real closehook-receive on 127.0.0.1
# that verifies at the door: every event of the table is POSTed as Close
# posts it, answered 200 and lands in the spool, verified, with the bytes
# the same seed makes offline; a wrong key gets 401 and exit 1; an endpoint
# that is not there is exit 1 with the reason; a generated key is printed
# once.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"

T=closehook-trigger
SUB=whsub_mBTylJxRXaBOXcuQmgUdmL
echo "$SUB $KAV_KEY" >"$TMP/keys"
echo "whsub_other $GEN_KEY" >"$TMP/wrong"
chmod 600 "$TMP/keys" "$TMP/wrong"

"$T" nosuch:x 2>&1 | tail -n +2 | tr -s ' ' '\n' | sed '/^$/d' >"$TMP/names"
mapfile -t names <"$TMP/names"
n=${#names[@]}
ok "the event names ($n)" [ "$n" -gt 100 ]

ok "closehook-receive starts with the key file" start_receive r \
    --secret-file "$TMP/keys" --spool "$TMP/spool" --path /close
run timeout "$(slow 120)" "$T" --secret-file "$TMP/keys" --seed 9 \
    --url "$RURL/close" "${names[@]}"
is "$rc" 0 "every event POSTed: exit 0"
is "$(wc -l <"$TMP/out")" "$n" "one line per event"
is "$(jq -r .status "$TMP/out" | sort | uniq -c | awk '{ print $1 ":" $2 }')" \
    "$n:200" "every event answered 200"
is "$(jq -r .event "$TMP/out")" "$(cat "$TMP/names")" \
    "each line names its event, in order"
ok "each line has the event's id" \
    test "$(jq -r '.event_id | test("^ev_[A-Za-z0-9]{22}$")' "$TMP/out" |
    sort -u)" = true
cp "$TMP/out" "$TMP/status"
is "$(wc -l <"$TMP/spool")" "$n" "every event is in the spool"
run closehook-verify --secret-file "$TMP/keys" "$TMP/spool"
is "$rc:$(wc -l <"$TMP/out")" "0:$n" "and every one verifies"
cp "$TMP/out" "$TMP/verified"
"$T" --secret-file "$TMP/keys" --seed 9 --format event "${names[@]}" \
    >"$TMP/offline"
same_file "$TMP/verified" "$TMP/offline" \
    "the bodies sent are the ones the same seed makes offline"
is "$(jq -r .event.id "$TMP/offline")" "$(jq -r .event_id "$TMP/status")" \
    "the lines name the events sent"

# The requests as Close makes them.
jq -r '[.method == "POST", .path == "/close",
    .headers["content-type"] == "application/json",
    (.headers["close-sig-hash"] | test("^[0-9a-f]{64}$")),
    (.headers["user-agent"] | startswith("closehook-trigger/")),
    (.headers | has("expect") | not)] | all' "$TMP/spool" | sort -u \
    >"$TMP/x"
is "$(cat "$TMP/x")" true \
    "POST, JSON, Close's signature headers, no Expect"
now=$(date +%s)
ts=$(jq -r '.headers["close-sig-timestamp"]' "$TMP/spool" | sort -n |
    sed -n '1p;$p' | tr '\n' ' ')
first=${ts%% *}
ok "signed when sent, not when the seed's events happened ($ts)" \
    test $((now - first)) -ge 0 -a $((now - first)) -le "$(slow 120)"

# A body over 1 MiB, for which curl would add Expect: 100-continue.
big=$(head -c 100000 /dev/zero | tr '\0' x)
sets=()
for i in 1 2 3 4 5 6 7 8 9 10 11; do
	sets+=(--set "event.data.big$i=\"$big\"")
done
run timeout "$(slow 30)" "$T" --secret-file "$TMP/keys" "${sets[@]}" \
    --url "$RURL/close" activity.note:created
is "$rc:$(jq -r .status <<<"$out")" 0:200 "a body over 1 MiB: 200"
is "$(tail -1 "$TMP/spool" | jq -r '[(.body | length > 1048576),
    (.headers | has("expect") | not)] | all')" true \
    "sent whole, without Expect: 100-continue"
n=$((n + 1))

# A wrong key: 401 at the door, exit 1, the reason on stderr.
run timeout "$(slow 30)" "$T" --secret-file "$TMP/wrong" --count 2 \
    --url "$RURL/close" lead:created
is "$rc" 1 "a wrong key: exit 1"
is "$(jq -r .status "$TMP/out" | tr '\n' ' ')" "401 401 " \
    "each event answered 401"
is "$(grep -c ': HTTP 401$' "$TMP/err")" 2 "each reported on stderr"
is "$(wc -l <"$TMP/spool")" "$n" "nothing more in the spool"

# A generated key: printed once, unknown to the receiver.
run timeout "$(slow 30)" "$T" --url "$RURL/close" lead:created
is "$rc" 1 "a generated key: exit 1 (401)"
is "$(grep -c 'signing key (not saved): [0-9a-f]\{64\}$' "$TMP/err")" 1 \
    "the key is printed once"
is "$(jq -r .status "$TMP/out")" 401 "the receiver refuses it"

# A receiver that takes the generated key once it is saved.
stop_receive
key=$(sed -n 's/.*signing key (not saved): //p' "$TMP/err")
(umask 077 && echo "$key" >"$TMP/genkey")
ok "closehook-receive starts with the printed key" start_receive g \
    --secret-file "$TMP/genkey" --spool "$TMP/spool2"
run timeout "$(slow 30)" "$T" --secret-file "$TMP/genkey" --url "$RURL/" \
    opportunity:updated
is "$rc:$(jq -r .status <<<"$out")" 0:200 \
    "events signed with the saved key pass"
stop_receive

# Nobody there: status 0 with the reason, exit 1; the run goes on.
run timeout "$(slow 60)" "$T" --secret-file "$TMP/keys" --count 2 \
    --url "http://127.0.0.1:$RPORT/" lead:created
is "$rc" 1 "no server: exit 1"
is "$(jq -r .status "$TMP/out" | tr '\n' ' ')" "0 0 " \
    "every event reported, status 0"
like "$(jq -r .error "$TMP/out" | head -1)" "*onnect*" "with the reason"
is "$(grep -c "^closehook-trigger: ev_" "$TMP/err")" 2 \
    "and each on stderr"

done_testing
