#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-flatten --changes: one row per changed field of an updated
# event, {event_id, object_type, object_id, lead_id, date_updated, field,
# old, new}, the values kept as JSON, a side that lacks the field null;
# other events give no rows; CSV and TSV too.
. "$(dirname "$0")/lib.sh"

cd "$TMP" || exit 1
cat >ev.ndjson <<'J'
{"subscription_id":"whsub_1","event":{"id":"ev_1","object_type":"lead","object_id":"lead_1","lead_id":"lead_1","action":"updated","date_updated":"2026-12-01T10:00:00.000000","changed_fields":["status_label","custom.cf_tier","addresses","description"],"data":{"status_label":"Won","custom.cf_tier":"Gold","addresses":[{"city":"Kraków"}]},"previous_data":{"status_label":"Potential","custom.cf_tier":null,"addresses":[],"description":"old, \"quoted\""}}}
{"subscription_id":"whsub_1","event":{"id":"ev_2","object_type":"lead","object_id":"lead_2","lead_id":"lead_2","action":"created","date_updated":"2026-12-01T10:00:01.000000","data":{"status_label":"New"}}}
{"id":"ev_3","object_type":"opportunity","object_id":"oppo_1","lead_id":"lead_1","action":"updated","date_updated":"2026-12-01T10:00:02.000000","changed_fields":["value"],"data":{"value":50000},"previous_data":{"value":25000}}
J
run closehook-flatten --changes ev.ndjson
is "$rc" 0 "exit 0"
is "$out" '{"event_id":"ev_1","object_type":"lead","object_id":"lead_1","lead_id":"lead_1","date_updated":"2026-12-01T10:00:00.000000","field":"status_label","old":"Potential","new":"Won"}
{"event_id":"ev_1","object_type":"lead","object_id":"lead_1","lead_id":"lead_1","date_updated":"2026-12-01T10:00:00.000000","field":"custom.cf_tier","old":null,"new":"Gold"}
{"event_id":"ev_1","object_type":"lead","object_id":"lead_1","lead_id":"lead_1","date_updated":"2026-12-01T10:00:00.000000","field":"addresses","old":[],"new":[{"city":"Kraków"}]}
{"event_id":"ev_1","object_type":"lead","object_id":"lead_1","lead_id":"lead_1","date_updated":"2026-12-01T10:00:00.000000","field":"description","old":"old, \"quoted\"","new":null}
{"event_id":"ev_3","object_type":"opportunity","object_id":"oppo_1","lead_id":"lead_1","date_updated":"2026-12-01T10:00:02.000000","field":"value","old":25000,"new":50000}' \
    "one row per changed field; JSON values kept; a missing side is null; a created event gives none"

run closehook-flatten --changes --format csv --header ev.ndjson
is "$(head -3 <<<"$out")" 'event_id,object_type,object_id,lead_id,date_updated,field,old,new
ev_1,lead,lead_1,lead_1,2026-12-01T10:00:00.000000,status_label,Potential,Won
ev_1,lead,lead_1,lead_1,2026-12-01T10:00:00.000000,custom.cf_tier,,Gold' \
    "CSV: a header, the columns in order, null as an empty field"
is "$(sed -n 5p <<<"$out")" \
    'ev_1,lead,lead_1,lead_1,2026-12-01T10:00:00.000000,description,"old, ""quoted""",' \
    "CSV quoting of the values"
ok "a container is its JSON text" \
    grep -qF ',addresses,[],"[{""city"":""Kraków""}]"' <<<"$out"
run closehook-flatten --changes --format tsv ev.ndjson
is "$(wc -l <<<"$out")" 5 "TSV: the same rows"

# An Event Log page: each element's changes.
jq -c '{data: [.event], cursor_next: null}' <(head -1 ev.ndjson) >page.json
run closehook-flatten --changes page.json
is "$(wc -l <<<"$out")" 4 "an Event Log page's updated events"

# Against jq on generated traffic.
python3 "$TOP/bench/gen" --format events --count 2000 --seed 21 >g.ndjson
closehook-flatten --changes g.ndjson >ours
jq -c 'select(.action == "updated" and (.changed_fields | type) == "array")
    | . as $e | .changed_fields[] | . as $f
    | {event_id: $e.id, object_type: $e.object_type, object_id: $e.object_id,
       lead_id: $e.lead_id, date_updated: $e.date_updated, field: $f,
       old: ($e.previous_data[$f] // null), new: ($e.data[$f] // null)}' \
    g.ndjson >jq.out
ok "the same rows as a jq program on 2000 generated events" \
    cmp -s <(jq -cS . ours) <(jq -cS . jq.out)
ok "and there are some" test "$(wc -l <ours)" -gt 100

# --fields-map names the field as the flattened record would; a field
# that data holds as a nested custom object is found there too.
echo '[{"id":"cf_AbC","name":"Deal Size"}]' >map.json
echo '{"event":{"id":"ev_m","object_type":"lead","object_id":"l","lead_id":"l","action":"updated","date_updated":"2025-01-01T00:00:00","changed_fields":["custom.cf_AbC","custom.cf_Nest","name"],"data":{"custom.cf_AbC":"big","custom":{"cf_Nest":5},"name":"x"},"previous_data":{"custom.cf_AbC":"small","custom":{"cf_Nest":4},"name":"y"}}}' >m.ndjson
is "$(closehook-flatten --changes --fields-map map.json m.ndjson |
    jq -c '[.field, .old, .new]' | tr '\n' ' ')" \
    '["custom.Deal Size","small","big"] ["custom.cf_Nest",4,5] ["name","y","x"] ' \
    "--fields-map applies to the field; a nested custom object is read"

must_fail "--changes with -e is a usage error" \
    closehook-flatten --changes -e . ev.ndjson
like "$err" "*--changes makes its own rows*" "--changes and -e exclude each other"

done_testing
