#!/bin/bash
# closehook-flatten against its peers: Miller 6's flatten (where the
# semantics agree, after mapping the documented differences: 1-based
# indexes, "{}"/"[]" strings for empties) and the jq 1.6 paths/getpath
# program that bench/bench-flatten times (equal as JSON).
# shellcheck disable=SC1091,SC2154,SC2016,SC2028,SC2001
. "$(dirname "$0")/lib.sh"
set -e

python3 "$TOP/bench/gen" --count 300 --format payloads --seed 31 >"$TMP/c"
# Generic JSON too: deep objects, arrays of arrays, unicode, numbers.
python3 - >"$TMP/g" <<'PY'
import json, random
r = random.Random(7)
def val(d):
    k = r.random()
    if d > 4 or k < 0.3:
        return r.choice([0, -1, 2.5, 1e3, "s", "é ☕", "", None, True, False,
                         "a\"b\\c\nd"])
    if k < 0.65:
        return {r.choice("abcxyz") + str(i): val(d + 1)
                for i in range(r.randint(0, 4))}
    return [val(d + 1) for _ in range(r.randint(0, 4))]
for _ in range(300):
    print(json.dumps({"k%d" % i: val(0) for i in range(r.randint(1, 6))},
                     ensure_ascii=False))
PY

if command -v mlr >/dev/null 2>&1; then
	# Our keys with indexes made 1-based and empties as Miller writes them.
	to_mlr='with_entries(.key |= (split(".") | map(if test("^[0-9]+$")
	    then (tonumber + 1 | tostring) else . end) | join("."))) |
	    map_values(if . == {} then "{}" elif . == [] then "[]" else . end)'
	for f in c g; do
		closehook-flatten "$TMP/$f" | jq -c "$to_mlr" >"$TMP/$f.ours"
		mlr --ijsonl --ojsonl flatten "$TMP/$f" | jq -c . >"$TMP/$f.mlr"
		ok "$f: same rows as Miller, key order included" \
		    cmp -s "$TMP/$f.ours" "$TMP/$f.mlr"
		diff "$TMP/$f.ours" "$TMP/$f.mlr" | head -3 | cut -c1-200 |
		    sed 's/^/# /'
	done
	is "$(wc -l <"$TMP/g.ours")" 300 "(300 rows compared)"
	# --sep agrees with Miller's --flatsep.
	closehook-flatten --sep : "$TMP/g" |
	    jq -c "$(sed 's/split(".")/split(":")/; s/join(".")/join(":")/' <<<"$to_mlr")" \
	    >"$TMP/sep.ours"
	mlr --ijsonl --ojsonl --flatsep : flatten "$TMP/g" | jq -c . >"$TMP/sep.mlr"
	ok "--sep : agrees with mlr --flatsep :" cmp -s "$TMP/sep.ours" "$TMP/sep.mlr"
else
	skip "flatten agrees with mlr" "mlr not installed"
fi

prog='[paths(if type == "object" or type == "array" then length == 0 else true end) as $p | {key: ($p | map(tostring) | join(".")), value: getpath($p)}] | from_entries'
for f in c g; do
	closehook-flatten "$TMP/$f" | jq -cS . >"$TMP/$f.o2"
	jq -cS "$prog" "$TMP/$f" >"$TMP/$f.jq"
	ok "$f: same rows as the jq paths/getpath program" cmp -s "$TMP/$f.o2" "$TMP/$f.jq"
done

# The -e path gives what jq gives for the same program.
p2='{id: .event.id, t: .event.object_type, v: .event.data.value, e: [.event.data.emails[]?.email]}'
closehook-flatten --arrays json -e "$p2" "$TMP/c" >"$TMP/e.ours"
jq -c "$p2" "$TMP/c" >"$TMP/e.jq"
ok "-e PROG equals jq -c PROG when nothing needs flattening" cmp -s "$TMP/e.ours" "$TMP/e.jq"

# Results of a program are flattened from jq's values, not re-parsed: the
# rows must be those of jq's printed output flattened by the scanner.
for o in "" "--arrays json" "--max-depth 2" "--sep :" "--sql-names"; do
	# shellcheck disable=SC2086
	closehook-flatten -e . $o "$TMP/g" >"$TMP/jv.ours"
	# shellcheck disable=SC2086
	jq -c . "$TMP/g" | closehook-flatten $o >"$TMP/jv.scan" 2>/dev/null
	ok "-e . ${o:-(defaults)}: the same bytes as jq -c . | closehook-flatten" \
	    cmp -s "$TMP/jv.ours" "$TMP/jv.scan"
done
is "$(echo '{"a":[1e6,1e14,1e15,1e16,100000000000000000001,-0,0.1,1.5,-1234567,1e300]}' |
    closehook-flatten -e . --arrays json)" \
    "{\"a\":$(echo '[1e6,1e14,1e15,1e16,100000000000000000001,-0,0.1,1.5,-1234567,1e300]' | jq -c .)}" \
    "numbers as jq prints them"
is "$(echo '{"a":[1e6,1e15,-0,0.1,-1234567]}' | closehook-flatten -e . | tr -d '\n')" \
    '{"a.0":1000000,"a.1":1000000000000000,"a.2":-0,"a.3":0.1,"a.4":-1234567}' \
    "numbers as jq prints them, flattened"
is "$(printf '{"s":"\\u0001\\t\\"\\\\/\\u00e9"}\n' | closehook-flatten -e '{s: .s, t: {u: [.s]}}')" \
    '{"s":"\u0001\t\"\\/é","t.u.0":"\u0001\t\"\\/é"}' "strings escaped as JSON"
echo '[{"id":"cf_1","name":"One"}]' >"$TMP/map"
is "$(echo '{"custom.cf_1":1,"c":{"cf_1":[]}}' | closehook-flatten -e . --fields-map "$TMP/map")" \
    '{"custom.One":1,"c.One":[]}' "--fields-map on program results"
run closehook-flatten -e '{a: (reduce range(3000) as $i (1; [.]))}' <<<'{}'
is "$rc" 0 "a program may build values deeper than the parser allows"
is "$out" "{\"a$(printf '.0%.0s' {1..3000})\":1}" "and they are flattened"

done_testing
