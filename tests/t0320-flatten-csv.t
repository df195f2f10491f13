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
like "$err" "*rows lost keys that were not among the first row's columns; give --columns" \
    "... and a count at the end"
is "$rc" 1 "data left out: exit 1, as for rejects"
is "$(fl --format csv --header --columns a,b </dev/null)" 'a,b' \
    "--columns: the header comes even without rows"
exit_is 2 "--columns needs csv or tsv" fl --columns a
exit_is 2 "a bad --format" fl --format xml
exit_is 2 "an empty column name" fl --format csv --columns a,,b

# --sql-names with csv: the names a CREATE TABLE can use.
is "$(echo '{"Event":{"Data.Custom":{"cf_X":1}}}' | fl --sql-names --format csv --header)" \
    $'event_data_custom_cf_x\n1' "--sql-names in the header"

# Two keys with one SQL name: the suffix depends on the row, so a column
# can get either's values; that is said, once, naming both.
printf '%s\n' '{"id":"L1","Region":"EU","region":"west"}' \
    '{"id":"L2","region":"east"}' '{"id":"L3","Region":"US","region":"x"}' \
    >"$TMP/clash"
run fl --sql-names --format csv --columns id,region,region_2 "$TMP/clash"
is "$out" $'L1,EU,west\nL2,east,\nL3,US,x' "the suffix goes by the row"
like "$err" "*$TMP/clash:1: --sql-names: keys \"Region\" and \"region\" both become \"region\"*rename one*" \
    "the clash is named"
is "$(grep -c 'both become' <<<"$err")" 1 "once"
is "$rc" 0 "not a reject"
run fl --sql-names "$TMP/clash"
like "$err" "*keys \"Region\" and \"region\" both become*" "in NDJSON too"
run fl --sql-names --format csv --columns id,region <(echo '{"id":1,"Region":2}')
is "$err" "" "no clash, no warning"

# --columns: a name that matched nothing is named at the end; one given
# twice is refused.
run fl --format csv --columns id,date_update,region "$TMP/clash"
is "$rc" 0 "a column without values is no error"
is "$err" "closehook-flatten: --columns: \"date_update\" matched no key in 3 rows (misspelt?)" \
    "but a misspelt column is named"
exit_is 2 "a column named twice" fl --format csv --columns id,a,id

# U+0000 cannot reach a PostgreSQL text column (COPY cuts the value there):
# the record is rejected, the stream goes on.
printf '%s\n' '{"id":"1","v":"nul\u0000x"}' '{"id":"2","v":"a\\u0000"}' \
    '{"id":"3","v":"ok"}' >"$TMP/nul"
for f in csv tsv; do
	run fl --format "$f" --columns id,v "$TMP/nul"
	like "$err" "*$TMP/nul:1: rejected: nul-in-string*" "$f: rejected with a reason"
	is "$rc" 1 "$f: exit 1"
	[ "$f" = csv ] && csv_out=$out
done
is "$csv_out" $'2,a\\u0000\n3,ok' \
    "the record with U+0000 is left out; an escaped backslash before u0000 is text"
is "$out" $'2\ta\\\\u0000\n3\tok' "in TSV too (its backslash escaped)"
is "$(fl "$TMP/nul" | head -1)" '{"id":"1","v":"nul\u0000x"}' "NDJSON keeps it"
run fl --format csv --columns id "$TMP/nul"
is "$rc" 0 "only the columns written count"

# A line "\." inside a multi-line value ends psql's \copy even quoted: the
# row is written, with one warning.
printf '%s\n' '{"id":"1","v":"first\n\\.\nafter"}' '{"id":"2","v":"x\r\n\\.\r\ny"}' \
    '{"id":"3","v":"\\."}' '{"id":"4","v":"a\n\\.b"}' >"$TMP/dot"
run fl --format csv --columns id,v "$TMP/dot"
is "$(grep -c '^' <<<"$out")" 9 "every row written (9 lines)"
like "$err" "*$TMP/dot:1: a value holds a line*alone*--format tsv*" "with a warning"
is "$(grep -c 'holds a line' <<<"$err")" 1 "once"
run fl --format csv --columns id,v <(sed -n '3,4p' "$TMP/dot")
is "$err" "" "\\. alone (quoted) or within a line: no warning"
run fl --format tsv --columns id,v "$TMP/dot"
is "$err" "" "TSV escapes the backslash: no warning"

done_testing
