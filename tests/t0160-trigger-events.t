#!/bin/bash
# shellcheck disable=SC2154 # run sets rc, out, err
# closehook-trigger without the network: every event name of the table
# makes an event that closehook-verify accepts and that is serialised as
# Close serialises (Python's json.dumps); the events look like Close's
# (ids, dates, meta, lifecycles) and updates are consistent
# (changed_fields, previous_data); --seed is deterministic; --set
# overrides and keeps updates consistent; unknown events, bad options and
# bad overrides exit 2; a generated key is printed once and verifies.
. "$(dirname "$0")/lib.sh"

T=closehook-trigger
SUB=whsub_mBTylJxRXaBOXcuQmgUdmL
echo "$SUB $KAV_KEY" >"$TMP/keys"
echo 5f0c3e1bd2a84c7f9e6a1b3d5c7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e \
    >"$TMP/unbound"
chmod 600 "$TMP/keys" "$TMP/unbound"

# The names the program takes: all of them, for an unknown type.
run "$T" nosuch:created
is "$rc" 2 "an unknown object type exits 2"
is "$out" "" "and writes nothing to stdout"
is "$(sed -n 1p "$TMP/err")" \
    "closehook-trigger: unknown event nosuch:created; Close's events are:" \
    "it says so first"
tail -n +2 "$TMP/err" | tr -s ' ' '\n' | sed '/^$/d' >"$TMP/names"
mapfile -t names <"$TMP/names"
n=${#names[@]}
ok "then lists every event name ($n)" [ "$n" -gt 100 ]
ok "lead:created and activity.meeting:canceled among them" \
    grep -qx -e lead:created "$TMP/names"
ok "activity.meeting:canceled among them" \
    grep -qx -e activity.meeting:canceled "$TMP/names"
run "$T" lead:wibble
is "$rc:$out" "2:" "an unknown action exits 2"
is "$err" "closehook-trigger: unknown event lead:wibble; lead's events are:
  lead:created lead:updated lead:deleted lead:merged" \
    "and lists its type's events"
run "$T" lead
is "$rc" 2 "a name without a colon exits 2"
like "$err" "*lead's events are:*lead:merged" "and lists the type's events"
like "$err" "closehook-trigger: lead: an event is OBJECT_TYPE:ACTION*" \
    "... saying what a name is"
run "$T" activity.meeting.canceled
is "$rc:$err" "2:closehook-trigger: unknown event activity.meeting.canceled: did you mean activity.meeting:canceled?" \
    "a dot for the colon: the name meant is suggested"
run "$T" LEAD:Created
is "$rc:$err" "2:closehook-trigger: unknown event LEAD:Created: did you mean lead:created?" \
    "capitals: the name meant is suggested"
run "$T" :created
like "$rc:$err" "2:*unknown event :created: an event is OBJECT_TYPE:ACTION*" \
    "no type: what a name is"
run "$T" wibble
is "$rc:$err" "2:closehook-trigger: unknown event wibble: an event is OBJECT_TYPE:ACTION, such as lead:created (closehook-trigger(1) lists them)" \
    "a name that is nothing: one line, not all 179 events"
run "$T" --format event lead:created bogus:x
is "$rc:$out" "2:" "one bad name among good ones: exit 2, nothing made"

# Every name, twice over, as signed captures: all verify.
"$T" --secret-file "$TMP/keys" --seed 7 --count 2 "${names[@]}" \
    >"$TMP/cap" 2>"$TMP/cap.err"
is "$?" 0 "captures of every event: exit 0"
is "$(wc -l <"$TMP/cap")" $((2 * n)) "one capture per event"
is "$(cat "$TMP/cap.err")" "" "nothing on stderr with --secret-file"
run closehook-verify --secret-file "$TMP/keys" "$TMP/cap"
is "$rc:$(wc -l <"$TMP/out")" "0:$((2 * n))" \
    "closehook-verify accepts every one"
cp "$TMP/out" "$TMP/verified"
jq -r '[(.headers["close-sig-hash"] | test("^[0-9a-f]{64}$")),
    (.headers["close-sig-timestamp"] | test("^[0-9]{10}$")),
    .headers["content-type"] == "application/json",
    (.headers["user-agent"] | startswith("closehook-trigger/")),
    .method == "POST",
    (.received_at | test("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z$"))]
    | all' "$TMP/cap" | sort -u >"$TMP/hdr"
is "$(cat "$TMP/hdr")" true \
    "captures carry Close's headers, a user-agent and received_at"
# The signature by openssl, for one capture: Close's formula exactly.
ts=$(sed -n 3p "$TMP/cap" | jq -r '.headers["close-sig-timestamp"]')
body=$(sed -n 3p "$TMP/cap" | jq -j .body)
is "$(sign "$KAV_KEY" "$ts" "$body")" \
    "$(sed -n 3p "$TMP/cap" | jq -r '.headers["close-sig-hash"]')" \
    "the signature is HMAC-SHA256(hex key, timestamp || body)"

# The same as event records: the verified bodies, byte for byte.
"$T" --secret-file "$TMP/keys" --seed 7 --count 2 --format event \
    "${names[@]}" >"$TMP/ev"
is "$?" 0 "event records of every event: exit 0"
same_file "$TMP/ev" "$TMP/verified" \
    "--format event writes the bodies the captures carry"
jq -r '.event.object_type + ":" + .event.action' "$TMP/ev" >"$TMP/got"
for _ in 1 2; do cat "$TMP/names"; done >"$TMP/want"
same_file "$TMP/got" "$TMP/want" \
    "each line parses, with the object_type and action asked, in order"
is "$(jq -r .subscription_id "$TMP/ev" | sort -u)" "$SUB" \
    "the subscription is the one the key is bound to"

# Serialised as Close serialises: Python's json.dumps with its defaults.
python3 - "$TMP/ev" >"$TMP/py" <<'PY'
import json, sys
bad = 0
for line in open(sys.argv[1], "rb"):
    line = line.rstrip(b"\n")
    if json.dumps(json.loads(line)).encode() != line:
        bad += 1
print(bad)
PY
is "$(cat "$TMP/py")" 0 "json.dumps(json.loads(body)) == body for every body"
is "$(LC_ALL=C grep -c '[^ -~]' "$TMP/ev")" 0 \
    "bodies are printable ASCII (non-ASCII as \\u escapes)"
ok "and there are such escapes, surrogate pairs too" \
    grep -q '\\ud83[cd]\\ud[c-f][0-9a-f][0-9a-f]' "$TMP/ev"

# What the events look like.
jq -r '.event | [
    (.id | test("^ev_[A-Za-z0-9]{22}$")),
    (.organization_id | test("^orga_[A-Za-z0-9]{43}$")),
    (.date_created | test("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}000$")),
    .date_updated == .date_created,
    ((.user_id == null) or (.user_id | test("^user_[A-Za-z0-9]{43}$"))),
    ((.request_id == null) or (.request_id | test("^req_[A-Za-z0-9]{22}$"))),
    ((.user_id == null) == (.request_id == null)),
    (.meta | type == "object"),
    ((.meta.request_method // "POST") | IN("POST", "PUT", "DELETE")),
    ((.meta.request_path // "/api/v1/") | startswith("/api/v1/")),
    ((.lead_id == null) or (.lead_id | test("^lead_[A-Za-z0-9]{43}$"))),
    ((.data // .previous_data) | type == "object"),
    ((.data // .previous_data).date_updated // "2019-01-15T12:41:24.496000+00:00"
        | test("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}\\+00:00$"))
    ] | all' "$TMP/ev" | sort -u >"$TMP/shape"
is "$(cat "$TMP/shape")" true \
    "ids, dates, user, request, meta and lead_id as Close writes them"
jq -r '.event | select(.object_type == "lead") | .lead_id == .object_id' \
    "$TMP/ev" | sort -u >"$TMP/x"
is "$(cat "$TMP/x")" true "a lead event's lead_id is the lead"
jq -r '.event | .object_type + " " + (.object_id // "null")[0:5]' "$TMP/ev" |
    sort -u | awk '$1 == "lead" || $1 == "contact" || $1 == "opportunity" ||
        $1 ~ /^task\./ || $1 ~ /^activity\./ { print $2 }' | sort -u \
    >"$TMP/x"
is "$(tr '\n' ' ' <"$TMP/x")" "acti_ cont_ lead_ oppo_ task_ " \
    "object ids have their type's prefix"
is "$(jq -r 'select(.event.object_type == "opportunity" and
    .event.data != null) | .event.data | [has("status_type", "value",
    "value_currency", "value_formatted", "lead_name", "status_label")]
    | all' "$TMP/ev" | sort -u)" true "an opportunity has its fields"
is "$(jq -r 'select(.event.object_type == "lead" and .event.data != null)
    | .event.data | [has("display_name", "status_label", "status_id")]
    | all' "$TMP/ev" | sort -u)" true "a lead has its fields"
is "$(jq -r 'select(.event.object_type | startswith("activity."))
    | (.event.data // .event.previous_data)._type' "$TMP/ev" | sort -u |
    wc -l)" "$(grep -c '^activity\.[a-z_]*:created$' "$TMP/names")" \
    "each activity type has its own _type"
ok "no data object is nearly empty" [ "$(jq -r '.event.data // empty
    | keys | length' "$TMP/ev" | sort -n | head -1)" -ge 3 ]

# Updates are consistent.
jq -r 'select(.event | has("changed_fields")) | .event as $e | [
    ($e.changed_fields | length > 0),
    ($e.changed_fields == ($e.changed_fields | sort)),
    ($e.changed_fields | all(. as $k | ($e.data | has($k)) and
        ($e.previous_data | has($k)) and $e.data[$k] != $e.previous_data[$k])),
    (($e.data | has("date_updated") | not) or
        ($e.changed_fields | index("date_updated") != null)),
    ($e.previous_data | keys == ($e.changed_fields | sort))
    ] | all' "$TMP/ev" >"$TMP/upd"
ok "there are updates to check ($(wc -l <"$TMP/upd"))" \
    [ "$(wc -l <"$TMP/upd")" -gt 100 ]
is "$(sort -u "$TMP/upd")" true \
    "every changed field is in data and previous_data, with different values; date_updated among them"
is "$(jq -r 'select(.event.action | IN("deleted", "deactivated"))
    | .event | (.data == null and (.previous_data | type == "object")
    and (has("changed_fields") | not))' "$TMP/ev" | sort -u)" true \
    "a delete has null data and the object as previous_data"
is "$(jq -r 'select(.event.action | IN("created", "activated")) | .event
    | (has("changed_fields") or has("previous_data"))' "$TMP/ev" |
    sort -u)" false "a create has neither changed_fields nor previous_data"

# Lifecycles: one lead created, updated, deleted.
"$T" --seed 3 --format event lead:created lead:updated lead:deleted \
    >"$TMP/life"
is "$(jq -r .event.object_id "$TMP/life" | sort -u | wc -l)" 1 \
    "created, updated, deleted: the same lead"
is "$(jq -c '.event | select(.action == "created") | .data.date_updated' \
    "$TMP/life")" \
    "$(jq -c '.event | select(.action == "updated")
    | .previous_data.date_updated' "$TMP/life")" \
    "the update's previous date_updated is the creation's"
is "$(jq -cS '.event | select(.action == "updated") | .data' "$TMP/life")" \
    "$(jq -cS '.event | select(.action == "deleted") | .previous_data' \
    "$TMP/life")" "the delete's previous_data is the updated lead"
"$T" --seed 3 --count 3 --format event activity.email:sent \
    task.lead:completed >"$TMP/life"
is "$(jq -r '.event | select(.action == "sent") | [.previous_data.status
    != "sent", (.data.direction == "outgoing")] | all' "$TMP/life" |
    sort -u)" true "only outgoing drafts are sent"
is "$(jq -r '.event.object_id' "$TMP/life" | sort -u | wc -l)" 6 \
    "a lifecycle step is taken once per object"

# Determinism.
"$T" --secret-file "$TMP/keys" --seed 42 --count 3 lead:updated \
    opportunity:updated >"$TMP/s1"
"$T" --secret-file "$TMP/keys" --seed 42 --count 3 lead:updated \
    opportunity:updated >"$TMP/s2"
same_file "$TMP/s1" "$TMP/s2" "the same seed: the same captures, byte for byte"
"$T" --secret-file "$TMP/keys" --seed 43 --count 3 lead:updated \
    opportunity:updated >"$TMP/s3"
is "$(cmp -s "$TMP/s1" "$TMP/s3"; echo $?)" 1 "another seed: other events"
"$T" --format event lead:created >"$TMP/r1"
"$T" --format event lead:created >"$TMP/r2"
is "$(cmp -s "$TMP/r1" "$TMP/r2"; echo $?)" 1 "no seed: every run differs"
like "$("$T" --seed 42 --format event lead:created |
    jq -r .event.date_created)" "2025-11-24T16:00:0[0-3].*" \
    "a seed fixes the clock too (2025-11-24T16:00:00Z)"
now=$(date +%s)
t=$("$T" --secret-file "$TMP/keys" --count 5 lead:created |
    jq -r '.headers["close-sig-timestamp"]' | tail -1)
# Five events of at most 3 s each, started 17 s ago: never in the future.
ok "without a seed the last event is signed in the last seconds ($((now - t)) s)" \
    test $((now - t)) -ge 0 -a $((now - t)) -le 20
run closehook-verify --now "$now" --secret-file "$TMP/keys" \
    <("$T" --secret-file "$TMP/keys" --count 20 lead:created)
is "$rc:$(wc -l <"$TMP/out")" 0:20 "within verify's window of the clock"

# --set.
"$T" --seed 5 --format event --set 'event.data.status_label="Won"' \
    --set 'event.data."custom.cf_x"={"a": [1, 2.50, "é"], "b": 1E2}' \
    --set 'event.meta.extra[2]=true' opportunity:created >"$TMP/set"
is "$(jq -r .event.data.status_label "$TMP/set")" Won "--set a string"
ok "--set an object: written as Close writes it" \
    grep -qF '"custom.cf_x": {"a": [1, 2.5, "\u00e9"], "b": 100.0}' "$TMP/set"
is "$(jq -c .event.meta.extra "$TMP/set")" '[null,null,true]' \
    "--set an index: arrays made and padded with null"
ok "still one line that Python writes alike" python3 -c '
import json, sys
line = open(sys.argv[1]).read().rstrip("\n")
sys.exit(json.dumps(json.loads(line)) != line)' "$TMP/set"
"$T" --secret-file "$TMP/keys" --set 'event.data.note="ok"' \
    --count 3 activity.note:updated | closehook-verify --secret-file \
    "$TMP/keys" | jq -r .event.data.note | sort -u >"$TMP/x"
is "$(cat "$TMP/x")" ok "overridden captures are signed over the new body"
bad=0
for s in 1 2 3 4 5 6 7 8; do
	orig=$("$T" --seed "$s" --format event opportunity:updated)
	prev=$(jq -c .event.previous_data.status_label <<<"$orig")
	got=$("$T" --seed "$s" --format event \
	    --set "event.data.status_label=$prev" opportunity:updated)
	jq -e --argjson p "$prev" --argjson o \
	    "$(jq -c .event.data.status_label <<<"$orig")" '.event |
	    .data.status_label == $p and .previous_data.status_label == $o and
	    $o != $p' <<<"$got" >/dev/null || bad=$((bad + 1))
done
is "$bad" 0 "a changed field set to its previous value: previous_data takes the value it had"
run "$T" --format event --set 'event.data.status_label=Won' lead:created
is "$rc:$out" "2:" "--set with JSON that is not JSON: exit 2, nothing written"
is "$err" "closehook-trigger: --set event.data.status_label: invalid JSON at byte 0: unexpected character (a string takes its quotes: PATH='\"text\"')" \
    "and says why, and that a string takes quotes"
run "$T" --format event --set 'event.data.x={"a":' lead:created
is "$rc" 2 "--set with truncated JSON: exit 2"
run "$T" --format event --set 'event.data.x' lead:created
is "$rc" 2 "--set without =JSON: exit 2"
run "$T" --format event --set 'event..x=1' lead:created
is "$rc" 2 "--set with a bad PATH: exit 2"
run "$T" --format event --set 'event.id.x=1' lead:created
is "$rc:$out" "2:" "--set through a string: exit 2, nothing written"
like "$err" "*event.id.x: cannot index a string*" "and says why"

# The generated key.
run "$T" --count 3 lead:created contact:updated
is "$rc" 0 "no --secret-file: exit 0"
is "$(wc -l <"$TMP/err")" 1 "one line on stderr"
like "$err" "closehook-trigger: signing key (not saved): *" "the key, once"
key=${err##*: }
ok "64 hex digits" grep -qxE '[0-9a-f]{64}' <<<"$key"
is "$(grep -cF "$key" "$TMP/out")" 0 "not in the output"
(umask 077 && echo "$key" >"$TMP/genkey")
cp "$TMP/out" "$TMP/gencap"

# The key verify and receive take from the environment signs too.
CLOSEHOOK_SECRET=$key run "$T" lead:created
is "$rc:$err" "0:" "\$CLOSEHOOK_SECRET: signed with it, no new key printed"
cp "$TMP/out" "$TMP/envcap"
CLOSEHOOK_SECRET=$key run closehook-verify -q --max-age 0 "$TMP/envcap"
is "$rc:$(wc -l <"$TMP/out")" 0:1 "... and verify, with the same variable, takes it"
CLOSEHOOK_SECRET_FILE=$TMP/genkey run "$T" lead:created
is "$rc:$err" "0:" "\$CLOSEHOOK_SECRET_FILE: the same"
run closehook-verify --secret-file "$TMP/genkey" "$TMP/gencap"
is "$rc:$(wc -l <"$TMP/out")" 0:6 "captures verify with the printed key"
run closehook-verify --secret-file "$TMP/keys" "$TMP/gencap"
is "$rc" 1 "and with no other"
run "$T" lead:created
ok "a new key each run" [ "${err##*: }" != "$key" ]
run "$T" --format event lead:created
is "$rc:$err" 0: "--format event: no key made, nothing printed"
run "$T" --secret-file "$TMP/unbound" --format event lead:created
like "$(jq -r .subscription_id <<<"$out")" "whsub_*" \
    "an unbound key: a subscription id of Close's shape"
run closehook-verify --secret-file "$TMP/unbound" \
    <("$T" --secret-file "$TMP/unbound" lead:created)
is "$rc" 0 "and its captures verify"

# Usage errors.
run "$T"
is "$rc:$out" "2:" "no EVENT: exit 2"
like "$err" "*usage: closehook-trigger*" "with the usage"
for args in "--count 0 lead:created" "--count x lead:created" \
    "--seed -1 lead:created" "--format json lead:created" \
    "--format event --url http://127.0.0.1:1/ lead:created" \
    "--url ftp://127.0.0.1/ lead:created" \
    "--secret-file $TMP/nosuch lead:created" \
    "--secret-file $TMP/keys --secret-file $TMP/keys lead:created"; do
	# shellcheck disable=SC2086 # the words are the arguments
	run "$T" $args
	is "$rc:$out" "2:" "$args: exit 2, nothing written"
done
"$T" --format event lead:created >/dev/full 2>"$TMP/err"
is "$?:$(cat "$TMP/err")" \
    "2:closehook-trigger: stdout: No space left on device" \
    "a full stdout: exit 2"
"$T" --format event lead:created >&- 2>"$TMP/err"
is "$?" 2 "a closed stdout: exit 2"

done_testing
