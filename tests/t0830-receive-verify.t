#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154,SC2016
# closehook-receive with keys: verify at the door.  Good signatures are
# captured; bad ones get 401, a log line with closehook-verify's reason,
# a --rejects line, and no capture.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"

echo "whsub_mBTylJxRXaBOXcuQmgUdmL $KAV_KEY" >"$TMP/keys"
echo "$GEN_KEY" >>"$TMP/keys"
chmod 600 "$TMP/keys"
now=$(date +%s)
sig_now=$(sign "$KAV_KEY" "$now" "$KAV_BODY")

ok "it starts with keys" start_receive r --spool "$TMP/spool" \
    --secret-file "$TMP/keys" --rejects "$TMP/rejects"
sigpost() { # TS SIG BODY
	post -H "close-sig-timestamp: $1" -H "close-sig-hash: $2" \
	    --data-binary "$3" "$RURL/"
}
is "$(sigpost "$now" "$sig_now" "$KAV_BODY")" 200 "a good signature: 200"
is "$(sigpost "$now" "$sig_now" "${KAV_BODY/test content/tampered}")" 401 \
    "a tampered body: 401"
is "$(sigpost "$KAV_TS" "$KAV_SIG" "$KAV_BODY")" 401 \
    "the known-answer vector, years old: 401 (replay window)"
is "$(sigpost "$now" "$KAV_SIG_ASCII_KEY" "$KAV_BODY")" 401 \
    "the key used as ASCII text: 401"
is "$(post -H "close-sig-timestamp: $now" --data-binary "$KAV_BODY" "$RURL/")" \
    401 "no signature header: 401"
is "$(post -H "close-sig-hash: $sig_now" --data-binary "$KAV_BODY" "$RURL/")" \
    401 "no timestamp header: 401"
is "$(sigpost "$now" nothex "$KAV_BODY")" 401 "a signature that is not hex: 401"
is "$(sigpost "$now" "$sig_now" 'not json')" 401 "a body that is not JSON: 401"
other=$(sign "$KAV_KEY" "$now" '{"subscription_id": "whsub_other"}')
is "$(sigpost "$now" "$other" '{"subscription_id": "whsub_other"}')" 401 \
    "a subscription with no key: 401"

reasons=$(sed -n 's/^closehook-receive: 127\.0\.0\.1: rejected: //p' \
    "$TMP/r.err" | tr '\n' ' ')
is "$reasons" "signature-mismatch stale-timestamp signature-mismatch missing-signature missing-timestamp bad-signature body-not-json signature-mismatch " \
    "one log line per 401, with closehook-verify's reason"
is "$(wc -l <"$TMP/spool")" 1 "only the good request was captured"
is "$(jq -r .body "$TMP/spool")" "$KAV_BODY" "that one"
is "$(jq -r .reason "$TMP/rejects" | tr '\n' ' ')" "$reasons" \
    "--rejects has one line per 401, with the reason"
is "$(sed -n 1p "$TMP/rejects" | jq -r .capture.body)" \
    "${KAV_BODY/test content/tampered}" "and the request as a capture"
is "$(stat -c %a "$TMP/rejects")" 600 "the rejects file is private"
like "$(grep -c "$KAV_KEY" "$TMP/r.err" "$TMP/rejects" "$TMP/spool" || true)" \
    "*0*0*0*" "no key bytes anywhere"
is "$(metric 'closehook_receive_rejects_total{reason="signature-mismatch"}')" 3 \
    "the metrics count rejects by reason"
is "$(metric 'closehook_receive_requests_total{code="401"}')" 8 \
    "and 401 answers"

# The fake Close sender's events all pass the door and verify downstream.
python3 "$TOP/bench/gen" --format payloads --count 100 --seed 3 >"$TMP/events"
send_events "$RURL/" "$TMP/events" --concurrency 4
is "$(jq -r .acked "$TMP/sender.json")" 100 "the fake sender's events: all 200"
run closehook-verify --secret-file "$TMP/keys" "$TMP/spool"
is "$rc:$(wc -l <"$TMP/out")" 0:101 "and closehook-verify accepts the spool"
stop_receive
is "$rc" 0 "exit 0"

# -q: no line per reject; --max-age 0: no window.
ok "it starts with -q --max-age 0" start_receive q -q --max-age 0 \
    --secret-file "$TMP/keys"
is "$(sigpost "$KAV_TS" "$KAV_SIG" "$KAV_BODY")" 200 \
    "--max-age 0: an old signature passes"
is "$(sigpost "$KAV_TS" "$KAV_SIG_SWAPPED" "$KAV_BODY")" 401 \
    "body || timestamp order still fails"
stop_receive
is "$(grep -c rejected "$TMP/q.err")" 0 "-q: no log line per reject"

# --max-age takes a duration, as closehook-verify's does; a window under a
# second is one second, not "no window".
ok "it starts with --max-age 2m" start_receive w --max-age 2m \
    --secret-file "$TMP/keys"
is "$(sigpost $((now - 90)) "$(sign "$KAV_KEY" $((now - 90)) "$KAV_BODY")" \
    "$KAV_BODY")" 200 "--max-age 2m: a signature 90 s old passes"
is "$(sigpost $((now - 200)) "$(sign "$KAV_KEY" $((now - 200)) "$KAV_BODY")" \
    "$KAV_BODY")" 401 "and one 200 s old is stale"
stop_receive
ok "it starts with --max-age 500ms" start_receive ms --max-age 500ms \
    --secret-file "$TMP/keys"
is "$(sigpost $((now - 30)) "$(sign "$KAV_KEY" $((now - 30)) "$KAV_BODY")" \
    "$KAV_BODY")" 401 "--max-age 500ms: a window of a second, not none"
stop_receive
run closehook-receive -l 127.0.0.1:0 --max-age 5x --secret-file "$TMP/keys"
is "$rc" 2 "--max-age 5x: a usage error"
like "$err" "*invalid*--max-age*" "naming the option"

# The keys can come from the environment, as for closehook-verify.
CLOSEHOOK_SECRET=$KAV_KEY start_receive env --max-age 0
is "$(sigpost "$KAV_TS" "$KAV_SIG" "$KAV_BODY")" 200 "\$CLOSEHOOK_SECRET: 200"
is "$(sigpost "$KAV_TS" "$KAV_SIG_ASCII_KEY" "$KAV_BODY")" 401 "and a bad one 401"
stop_receive

# SIGHUP reads the key files again: a key rotated in, then the old one out,
# with no restart.  A file caught half written, or emptied, keeps the keys
# in use rather than refusing every delivery.
echo "$KAV_KEY" >"$TMP/rot"
chmod 600 "$TMP/rot"
ok "it starts with one key" start_receive rot --max-age 0 \
    --secret-file "$TMP/rot"
new_sig=$(sign "$GEN_KEY" "$KAV_TS" "$KAV_BODY")
# hup N: SIGHUP, then wait until the log has N lines about the keys.
hup() {
	local _
	kill -HUP "$RPID"
	for _ in $(seq 200); do
		[ "$(grep -c 'keys \(not \)\{0,1\}reloaded' "$TMP/rot.err")" -ge "$1" ] &&
		    return 0
		sleep 0.05
	done
	return 1
}
is "$(sigpost "$KAV_TS" "$new_sig" "$KAV_BODY")" 401 "the new key before it is given: 401"
echo "$GEN_KEY" >>"$TMP/rot"
ok "SIGHUP: the new key beside the old" hup 1
gen_fp=$(key_fp "$GEN_KEY")
like "$(cat "$TMP/rot.err")" "*closehook-receive: SIGHUP: keys reloaded: 2 keys; new: $gen_fp (any subscription)*" \
    "said, with the count and the key that came"
is "$(sigpost "$KAV_TS" "$new_sig" "$KAV_BODY")" 200 "the new key: 200"
is "$(sigpost "$KAV_TS" "$KAV_SIG" "$KAV_BODY")" 200 "the old one still: 200"
printf '%s\n' "$GEN_KEY" "5f0c3e" >"$TMP/rot"
ok "SIGHUP with a file half written" hup 2
like "$(cat "$TMP/rot.err")" "*rot:2: *SIGHUP: keys not reloaded: the 2 in use stay*" \
    "the bad line named, the keys in use kept"
is "$(sigpost "$KAV_TS" "$KAV_SIG" "$KAV_BODY")" 200 "so the old key still passes"
: >"$TMP/rot"
ok "SIGHUP with the file emptied" hup 3
like "$(cat "$TMP/rot.err")" "*rot: no keys in key file*keys not reloaded: the 2 in use stay*" \
    "an empty file does not take every key away"
echo "$GEN_KEY" >"$TMP/rot"
ok "SIGHUP: the old key out" hup 4
kav_fp=$(key_fp "$KAV_KEY")
like "$(cat "$TMP/rot.err")" "*SIGHUP: keys reloaded: 1 key; gone: $kav_fp (any subscription)*" \
    "the key that went is named"
is "$(sigpost "$KAV_TS" "$KAV_SIG" "$KAV_BODY")" 401 "the old key: 401"
is "$(sigpost "$KAV_TS" "$new_sig" "$KAV_BODY")" 200 "the new one: 200"
like "$(grep -c "$GEN_KEY" "$TMP/rot.err" || true)" 0 "no key bytes in the log"
# A key appended without a SIGHUP (closehook-subscribe create --key-out):
# the first delivery refused for its key reads the changed file again.
other_sub=whsub_0123456789abcdefghijkl
other_key=$(printf '7c%.0s' $(seq 32))
other_body='{"subscription_id": "whsub_0123456789abcdefghijkl", "event": {"id": "ev_new"}}'
printf '%s %s\n' "$other_sub" "$other_key" >>"$TMP/rot"
is "$(sigpost "$KAV_TS" "$(sign "$other_key" "$KAV_TS" "$other_body")" "$other_body")" 200 \
    "a key appended to the file: its first delivery is taken, no SIGHUP"
like "$(cat "$TMP/rot.err")" "*a key file changed: keys reloaded: 2 keys; new: * ($other_sub)*" \
    "said, naming the new key's subscription"
is "$(sigpost "$KAV_TS" "$KAV_SIG" "$KAV_BODY")" 401 \
    "a key that is in no file: still 401 (the unchanged file is not read again)"
is "$(grep -c 'reloaded' "$TMP/rot.err")" 5 "and no reload for it (four SIGHUPs and one change before)"
# A key file left broken is read once after it changed, not again for
# every refused request.
printf 'whsub_x 1234ab' >>"$TMP/rot"
n0=$(grep -c 'not reloaded' "$TMP/rot.err")
for _ in 1 2 3 4 5 6; do sigpost "$KAV_TS" "$KAV_SIG_ASCII_KEY" "$KAV_BODY" >/dev/null; sleep 0.3; done
is "$(( $(grep -c 'not reloaded' "$TMP/rot.err") - n0 ))" 1 \
    "a broken key file under refused requests: one failed reload, not one a second"
printf '\n' >>"$TMP/rot"
head -n -2 "$TMP/rot" >"$TMP/rot.fixed"
mv "$TMP/rot.fixed" "$TMP/rot"
chmod 600 "$TMP/rot"
# Reloads under load: the request threads check while the ring is swapped.
echo "$KAV_KEY" >>"$TMP/rot"
send_events "$RURL/" "$TMP/events" --concurrency 8 &
spid=$!
while kill -0 "$spid" 2>/dev/null; do kill -HUP "$RPID"; sleep 0.01; done
wait "$spid"
is "$(jq -r .acked "$TMP/sender.json")" 100 "reloads during 100 deliveries: all 200"
stop_receive
is "$rc" 0 "exit 0"

done_testing
