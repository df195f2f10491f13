#!/bin/bash
# closehook-flatten: --format csv and tsv, --columns, --header; RFC 4180
# quoting checked against Python's csv module, PostgreSQL's NULL/empty rule.
# shellcheck disable=SC1091,SC2154,SC2016,SC2028,SC2001
. "$(dirname "$0")/lib.sh"
set -e

fl() { closehook-flatten "$@"; }
printf '%s\n' \
    '{"id":"a","n":1.50,"s":"x, \"y\"\nz","e":"","z":null,"t":true,"o":{"k":[1,2]}}' \
    '{"id":"b","n":-2,"s":"plain","t":false,"extra":1}' >"$TMP/in"

is "$(fl --format csv --max-depth 1 --header --columns id,n,s,e,z,t,o,missing "$TMP/in")" \
    'id,n,s,e,z,t,o,missing
a,1.50,"x, ""y""
z","",,true,"{""k"":[1,2]}",
b,-2,plain,,,false,,' \
    "csv: quoting, \"\" for empty strings, nothing for null and missing"
is "$(fl --format csv --arrays json --columns o.k "$TMP/in" | head -1)" \
    '"[1,2]"' "arrays as JSON text"
is "$(fl --format csv --columns o.k.1,id "$TMP/in")" $'2,a\n,b' \
    "--columns picks flattened keys in the order given"
is "$(fl --format tsv --header --columns id,s,e,z "$TMP/in")" \
    $'id\ts\te\tz\na\tx, "y"\\nz\t\t\nb\tplain\t\t' \
    "tsv: backslash escapes, empty fields"
is "$(printf '{"a":"t\\tb\\\\c"}\n' | fl --format tsv --columns a)" 't\tb\\c' \
    "tsv escapes tab and backslash"

# Parse our CSV with Python's csv module: every field comes back.
python3 "$TOP/bench/gen" --count 200 --format payloads --seed 21 >"$TMP/c"
cols=event.id,event.object_type,event.data.note,event.data.name,event.data.value,event.user_id
fl --format csv --header --columns "$cols" "$TMP/c" >"$TMP/c.csv"
python3 -c '
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8")))
cols = rows[0]
for r in rows[1:]:
    print(json.dumps(dict(zip(cols, r)), ensure_ascii=False, sort_keys=True))
' "$TMP/c.csv" >"$TMP/py"
jq -c --arg cols "$cols" '. as $r | [$cols | split(",")[] as $c |
    {key: $c, value: ($r | getpath($c | split(".")) |
    if . == null then "" elif type == "string" then . else tojson end)}] |
    from_entries' -S "$TMP/c" >"$TMP/want"
jq -cS . "$TMP/py" >"$TMP/got"
ok "csv read back by Python matches the input field by field" cmp -s "$TMP/got" "$TMP/want"
is "$(wc -l <"$TMP/got")" 200 "200 rows"

# Without --columns the first row's keys are the columns.
run fl --format csv --header "$TMP/in"
is "$(head -1 <<<"$out")" 'id,n,s,e,z,t,o.k.0,o.k.1' "the first row's names are the header"
like "$err" "*$TMP/in:2: keys not among the first row's columns are dropped*" \
    "a later row's extra keys draw one warning"
is "$rc" 0 "that is not a reject"
is "$(fl --format csv --header --columns a,b </dev/null)" 'a,b' \
    "--columns: the header comes even without rows"
exit_is 2 "--columns needs csv or tsv" fl --columns a
exit_is 2 "a bad --format" fl --format xml
exit_is 2 "an empty column name" fl --format csv --columns a,,b

# --sql-names with csv: the names a CREATE TABLE can use.
is "$(echo '{"Event":{"Data.Custom":{"cf_X":1}}}' | fl --sql-names --format csv --header)" \
    $'event_data_custom_cf_x\n1' "--sql-names in the header"

done_testing
