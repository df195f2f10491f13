#!/bin/bash
# closehook-flatten: the flattening rules - separators, arrays, empties,
# --max-depth, --root, --explode, event record wrapping, collisions,
# --sql-names, --fields-map, --dates, and any input depth without a crash.
# shellcheck disable=SC1091,SC2154,SC2016,SC2028,SC2001
. "$(dirname "$0")/lib.sh"
set -e

fl() { closehook-flatten "$@"; }

is "$(echo '{"a":{"b":1,"c":[1,{"d":null}],"e":{},"f":[]},"x":1.50,"y":"\u00e9"}' | fl)" \
    '{"a.b":1,"a.c.0":1,"a.c.1.d":null,"a.e":{},"a.f":[],"x":1.50,"y":"\u00e9"}' \
    "keys joined with ., 0-based indexes, null/{}/[] kept, literal bytes kept"
is "$(echo '{"a":{"b":{ },"c":[ ]}}' | fl)" '{"a.b":{},"a.c":[]}' \
    "empty containers written compactly"
is "$(echo '{"a":{"b":[1,2]}}' | fl --sep __)" '{"a__b__0":1,"a__b__1":2}' \
    "--sep joins keys and indexes"
is "$(echo '{"a":{"b":[1, {"c":2}]}}' | fl --arrays json)" '{"a.b":[1, {"c":2}]}' \
    "--arrays json keeps an array as one value, bytes as written"
in='{"a":{"b":{"c":1}},"d":[[1,2],[]],"e":1}'
is "$(echo "$in" | fl --max-depth 1)" "$in" "--max-depth 1 keeps every subtree whole"
is "$(echo "$in" | fl --max-depth 2)" '{"a.b":{"c":1},"d.0":[1,2],"d.1":[],"e":1}' \
    "--max-depth 2 keeps the second level whole"
is "$(echo '{"a":"x\"y\\z\n"}' | fl)" '{"a":"x\"y\\z\n"}' "escapes survive"
is "$(echo '{"a\"b":{"c\nd":1}}' | fl)" '{"a\"b.c\nd":1}' \
    "keys are decoded, joined and escaped again"

# --root and wrapping of bare events and Event Log pages.
rec='{"subscription_id":"whsub_1","event":{"id":"ev_1","data":{"v":1}}}'
is "$(echo "$rec" | fl)" \
    '{"subscription_id":"whsub_1","event.id":"ev_1","event.data.v":1}' \
    "an event record is flattened as it is"
is "$(echo "$rec" | fl --root .event)" '{"id":"ev_1","data.v":1}' \
    "--root .event flattens from the event"
is "$(echo "$rec" | fl --root .event.data)" '{"v":1}' "--root with a longer path"
is "$(echo '{"object_type":"lead","action":"created","id":"ev_2"}' | fl)" \
    '{"subscription_id":null,"event.object_type":"lead","event.action":"created","event.id":"ev_2"}' \
    "a bare event is wrapped"
is "$(echo '{"data":[{"id":"1"},{"id":"2"}],"cursor_next":"c"}' | fl --root .event | tr '\n' ' ')" \
    '{"id":"1"} {"id":"2"} ' "an Event Log page gives one row per event"
run fl --root .event <<<'{"data":[],"cursor_next":null}'
is "$rc:$out:$err" "0::" "an empty page gives no rows and no error"
run fl --root .nope <<<'{"a":1}'
is "$rc" 1 "a missing --root is a reject"
like "$err" "*stdin:1: rejected: no-root*" "named on stderr"
run fl --root .nope
is "$rc" 0 "(no input, no reject)"
must_fail "--root must be a simple path" fl --root '.a | .b'

# --explode.
in='{"id":"x","data":{"emails":[{"e":"a","t":"w"},{"e":"b"}],"n":1}}'
is "$(echo "$in" | fl --explode .data.emails | tr '\n' ' ')" \
    '{"id":"x","data.n":1,"data.emails.e":"a","data.emails.t":"w"} {"id":"x","data.n":1,"data.emails.e":"b"} ' \
    "--explode: one row per element, the other fields repeated"
is "$(echo '{"id":"x","data":{"emails":[],"n":1}}' | fl --explode .data.emails)" \
    '{"id":"x","data.n":1}' "an empty array gives one row without element fields"
is "$(echo '{"id":"x"}' | fl --explode .data.emails)" '{"id":"x"}' \
    "a missing array gives one row"
is "$(echo '{"id":"x","l":[1,"s"]}' | fl --explode .l --sep / | tr '\n' ' ')" \
    '{"id":"x","l":1} {"id":"x","l":"s"} ' "scalar elements take the array's key"
is "$(echo '{"p":{"emails":[{"e":1}]},"q":{"emails":[{"e":2},{"e":3}]}}' |
    fl --explode .q.emails | tr '\n' ' ')" \
    '{"p.emails.0.e":1,"q.emails.e":2} {"p.emails.0.e":1,"q.emails.e":3} ' \
    "only the array at PATH is exploded"
bench_gen() { python3 "$TOP/bench/gen" "$@"; }
bench_gen --count 200 --format payloads --seed 5 >"$TMP/p.nd"
want=$(jq -r '.event.data.emails // [] | if length == 0 then 1 else length end' \
    "$TMP/p.nd" | paste -sd+ | bc)
is "$(fl --root .event --explode .data.emails "$TMP/p.nd" | wc -l)" "$want" \
    "explode on the corpus: rows = sum of max(1, emails)"
is "$(fl --root .event --explode .data.emails "$TMP/p.nd" |
    jq -r 'select(.["data.emails.email"]) | .["data.emails.email"]' | sort | md5sum)" \
    "$(jq -r '.event.data.emails[]?.email' "$TMP/p.nd" | sort | md5sum)" \
    "every exploded email is there once"

# Collisions: the later value wins at the first position, one warning.
run fl <<<'{"custom.cf_x":"flat","custom":{"cf_x":"nested"},"z":1}'
is "$out" '{"custom.cf_x":"nested","z":1}' "a collision keeps the later value"
is "$(grep -c 'produced more than once' <<<"$err")" 1 "with one warning"
run fl <<<$'{"a":1,"a":2}\n{"a.b":1,"a":{"b":2}}'
is "$out" $'{"a":2}\n{"a.b":2}' "duplicate keys: the last one wins, as in jq"
is "$(grep -c 'produced more than once' <<<"$err")" 1 "still one warning per run"
is "$rc" 0 "collisions are not rejects"

# --sql-names.
is "$(echo '{"Ab.C":1,"ab_c":2,"ab-c":3,"é":4,"1x":{"Y Z":5}}' | fl --sql-names)" \
    '{"ab_c":1,"ab_c_2":2,"ab_c_3":3,"_":4,"_1x_y_z":5}' \
    "--sql-names: [a-z0-9_], no leading digit, numbered suffixes"
long=$(printf 'k%.0s' {1..100})
is "$(echo "{\"$long\":1,\"${long}x\":2}" | fl --sql-names | jq -r 'keys_unsorted | map(length) | join(" ")')" \
    "63 63" "--sql-names: at most 63 bytes, suffixes too"

# --fields-map.
echo '[{"id":"cf_abc","name":"Segment"},{"id":"cf_d","name":"Deal Size"}]' >"$TMP/map"
is "$(echo '{"data":{"custom.cf_abc":"s","custom.cf_d":5,"cf_zz":1}}' |
    fl --fields-map "$TMP/map")" \
    '{"data.custom.Segment":"s","data.custom.Deal Size":5,"data.cf_zz":1}' \
    "--fields-map renames known custom field ids"
is "$(echo '{"data":{"custom":{"cf_d":5}}}' | fl --fields-map "$TMP/map" --sql-names)" \
    '{"data_custom_deal_size":5}' "nested custom dicts too, then --sql-names"
echo '{"id":"cf_x"}' >"$TMP/badmap"
exit_is 2 "a map that is not a list exits 2" fl --fields-map "$TMP/badmap"
like "$err" "*badmap: not a JSON list*" "and says why"

# --dates.
in='{"a":"2019-01-15T12:48:23.395000","b":"2019-01-15T12:41:24.496000+00:00","c":"2019-01-15","d":"2019-01-15T14:41:24+02:00","e":"x2019","f":"2019-01-15T12:00:00Z"}'
is "$(echo "$in" | fl --dates utc)" \
    '{"a":"2019-01-15T12:48:23.395000Z","b":"2019-01-15T12:41:24.496000Z","c":"2019-01-15","d":"2019-01-15T12:41:24Z","e":"x2019","f":"2019-01-15T12:00:00Z"}' \
    "--dates utc: Z, fraction as written, offsets applied, dates alone kept"
is "$(echo "$in" | fl --dates epoch)" \
    '{"a":1547556503.395000,"b":1547556084.496000,"c":"2019-01-15","d":1547556084,"e":"x2019","f":1547553600}' \
    "--dates epoch: numbers"
is "$(echo '{"2019-01-15T12:48:23":"k"}' | fl --dates epoch)" \
    '{"2019-01-15T12:48:23":"k"}' "keys are never rewritten"

# Depth: the scanner's bound (256) is the input limit; deeper is a reject,
# never a crash, and the deepest valid input flattens.
deep() { printf '%*s' "$1" '' | tr ' ' '['; printf 1; printf '%*s' "$1" '' | tr ' ' ']'; }
echo "{\"a\":$(deep 250)}" >"$TMP/deep"
run fl "$TMP/deep"
is "$rc" 0 "250 nested arrays flatten"
like "$out" '{"a.0.0.0.0*.0":1}' "to one key with 250 indexes"
echo "{\"a\":$(deep 100000)}" >"$TMP/deeper"
run fl "$TMP/deeper"
is "$rc" 1 "100000 nested arrays are a reject (exit 1), not a crash"
run fl --arrays json "$TMP/deep"
is "$out" "{\"a\":$(deep 250)}" "--arrays json keeps the deep array whole"

done_testing
