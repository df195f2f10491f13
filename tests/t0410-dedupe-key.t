#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-dedupe --key: any jq expression's JSON value is the key; the
# scanner's fast path for simple paths gives exactly jq's key; null, missing
# and failing keys pass with a warning; the default key is
# [.event.id, .event.date_updated].
. "$(dirname "$0")/lib.sh"
set -e

n=0
# same_key EXPR1 EXPR2 INPUT DESC: recording INPUT under EXPR1 makes every
# record a repeat under EXPR2 (the two compute the same keys); "-" is the
# default key.  Every record of INPUT must have a key.
same_key() {
	local k1=(--key "$1") k2=(--key "$2")
	[ "$1" = - ] && k1=()
	[ "$2" = - ] && k2=()
	n=$((n + 1))
	closehook-dedupe --store "$TMP/k$n.sqlite" "${k1[@]}" --mode record \
	    <<<"$3" >/dev/null
	run closehook-dedupe --store "$TMP/k$n.sqlite" "${k2[@]}" \
	    --mode check <<<"$3"
	is "$out$err" "" "$4"
}

recs=$(printf '%s\n' \
    '{"event":{"id":"ev_1","date_updated":"d1","n":7,"f":1.5,"b":true,"o":{}}}' \
    '{"event":{"id":"ev_\u0032","date_updated":"d\/2","n":-3,"f":1e2,"b":false,"o":{"a":1}}}' \
    '{"event":{"id":"caf\u00e9 \u007f","n":9007199254740993,"f":-0.0,"b":0,"o":{"b":1,"a":[2]}}}' \
    '{"event":{"id":12,"date_updated":null,"n":100000000000000000001,"f":0.1,"b":"","o":[]}}')
same_key .event.id '.event.id | .' "$recs" \
    "fast path .event.id = jq's .event.id (strings with and without escapes)"
same_key .event.n '.event.n | .' "$recs" \
    "fast path = jq for integers, negative and beyond 2^53"
same_key .event.f '.event.f | .' "$recs" "and for fractions and exponents"
same_key .event.b '.event.b | .' "$recs" "and for other scalars"
same_key '.event.o' '.event.o | with_entries(.)' "$recs" \
    "objects are compared with sorted keys"
same_key '[.event.id, .event.date_updated]' - "$recs" \
    "the default key is [.event.id, .event.date_updated]"
same_key - '[.event.id, .event.date_updated] | .' "$recs" \
    "and the other way round"
same_key '.event["id"]' '.event.id' '{"event":{"id":"x","id":"y"}}' \
    "duplicate members: the last wins, as in jq"
n=$((n + 1))
closehook-dedupe --store "$TMP/k$n.sqlite" --key .event.id --mode record \
    <<<'{"event":{"id":"x","id":"y"}}' >/dev/null
run closehook-dedupe --store "$TMP/k$n.sqlite" --key .event.id \
    --mode check <<<'{"event":{"id":"x"}}'
is "$out" '{"event":{"id":"x"}}' "(so x is not the key there)"

# A page's elements are keyed as wrapped records.
page='{"data":[{"id":"p1","x":1},{"id":"p1","x":2},{"id":"p2"}],"cursor_next":"c"}'
run closehook-dedupe --store "$TMP/p.sqlite" --key .event.id <<<"$page"
is "$(jq -r .event.id <<<"$out" | tr '\n' ' ')" "p1 p2 " \
    "--key .event.id sees page elements as wrapped records"
run closehook-dedupe --store "$TMP/p2.sqlite" --key '.event.id | ascii_upcase' \
    <<<"$page"
is "$(jq -r .event.id <<<"$out" | tr '\n' ' ')" "p1 p2 " \
    "and so does a jq program"

# Keys that are null, missing or fail: the record passes, with a warning.
in=$(printf '%s\n' '{"a":null}' '{"a":null}' '{"b":1}' '{"a":"x"}' '{"a":"x"}' '{"a":[1]}')
run closehook-dedupe --store "$TMP/n.sqlite" --key .a <<<"$in"
is "$rc" 0 "keyless records are not an error"
is "$out" "$(printf '%s\n' '{"a":null}' '{"a":null}' '{"b":1}' '{"a":"x"}' '{"a":[1]}')" \
    "null and missing keys pass, every time"
like "$err" "*stdin:1: no key: passed*stdin:3: no key: passed*" \
    "each with a warning naming the line"
run closehook-dedupe --store "$TMP/e.sqlite" --key '.a | tonumber' <<<"$in"
is "$(wc -l <"$TMP/out")" 6 "a key expression that fails passes the record"
like "$err" "*stdin:4: no key (*): passed*" "with jq's message"
run closehook-dedupe --store "$TMP/e2.sqlite" --key 'empty' <<<'{"a":1}'
is "$out" '{"a":1}' "no result at all: no key"
# Several results: keying on the first would drop the second record, which
# differs in .b; the record has no key, and wrapping the program keys on all.
two=$(printf '%s\n' '{"a":1,"b":2}' '{"a":1,"b":3}' '{"a":1,"b":3}')
run closehook-dedupe --store "$TMP/e3.sqlite" --key '.a, .b' <<<"$two"
is "$out" "$two" "several results: no key, every record passes"
like "$err" "*stdin:1: no key (the key program gave several results; wrap it in ? ? to key on all of them): passed*" \
    "saying why and what to write"
run closehook-dedupe --store "$TMP/e4.sqlite" --key '[.a, .b]' <<<"$two"
is "$out" "$(printf '%s\n' '{"a":1,"b":2}' '{"a":1,"b":3}')" \
    "wrapped in [ ]: keyed on both, the repeat dropped"

must_fail "a --key that does not compile is a usage error" \
    closehook-dedupe --store "$TMP/c.sqlite" --key '.a |||'
is "$rc" 2 "exit 2"
like "$err" "closehook-dedupe: --key: *" "with jq's message"
ok "before creating the store" test ! -e "$TMP/c.sqlite"

done_testing
