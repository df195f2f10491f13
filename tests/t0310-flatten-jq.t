#!/bin/bash
# closehook-flatten: -e/-f programs and --select (libjq), the helper
# definitions (close_time, close_utc, close_date, close_days,
# close_days_since), compile errors (exit 2, the user's line numbers) and
# runtime errors (a reject, the stream goes on).
# shellcheck disable=SC1091,SC2154,SC2016,SC2028,SC2001
. "$(dirname "$0")/lib.sh"
set -e

fl() { closehook-flatten "$@"; }
printf '%s\n' '{"a":1,"b":[1,2]}' '{"a":"x","b":[]}' '{"a":3,"b":[3]}' >"$TMP/in"

is "$(fl -e '.b[] as $x | {a, x: $x}' "$TMP/in" | tr '\n' ' ')" \
    '{"a":1,"x":1} {"a":1,"x":2} {"a":3,"x":3} ' \
    "0..n results per record, each flattened"
is "$(fl --expr '{n: {m: .b}}' "$TMP/in" | tr '\n' ' ')" \
    '{"n.m.0":1,"n.m.1":2} {"n.m":[]} {"n.m.0":3} ' "results are flattened"
run fl -e '{a: (.a + 1)}' --rejects "$TMP/rej" "$TMP/in"
is "$rc" 1 "a runtime error exits 1 at the end"
is "$out" $'{"a":2}\n{"a":4}' "and the stream goes on"
like "$err" "*$TMP/in:2: rejected: jq-error (string (\"x\") and number (1) cannot be added)*" \
    "the error names file:line and carries jq's message"
is "$(jq -c '[.line, .reason, .record]' "$TMP/rej")" '[2,"jq-error",{"a":"x","b":[]}]' \
    "and is a --rejects line with the record"
run fl -e '.a' "$TMP/in"
is "$rc" 1 "a result that is not an object is a reject"
is "$(grep -c 'rejected: not-an-object' <<<"$err")" 3 "one per record"

is "$(fl --select '.a | type == "number"' "$TMP/in" | tr '\n' ' ')" \
    '{"a":1,"b.0":1,"b.1":2} {"a":3,"b.0":3} ' "--select keeps the records where it is true"
is "$(fl --select '.a == 3' -e '{a}' "$TMP/in")" '{"a":3}' "--select runs before -e"
# Several results: kept when any is true, once (jq's select(EXPR) would
# give it once per true result); an error after a true result is not met.
printf '%s\n' '{"t":["a","vip"]}' '{"t":["a"]}' '{"t":[]}' >"$TMP/tags"
is "$(fl --select '.t[] == "vip"' "$TMP/tags")" '{"t.0":"a","t.1":"vip"}' \
    "--select with several results: kept when any is true, once"
is "$(fl --select '.t[] == "a", error("late")' "$TMP/tags" 2>"$TMP/err" | wc -l)" 2 \
    "the run stops at the first true result"
like "$(cat "$TMP/err")" "*tags:3: rejected: jq-error (late)*" \
    "an error before any true result rejects the record"
is "$(printf '{"n":100000000000000000001,"m":1.50}\n' | fl --select true)" \
    '{"n":100000000000000000001,"m":1.50}' "--select alone keeps the bytes"
is "$(printf '{"n":100000000000000000001,"m":1.50}\n' | fl -e .)" \
    '{"n":1e+20,"m":1.5}' "-e results are jq's numbers"

printf '{x: .a}\n' >"$TMP/prog.jq"
is "$(fl -f "$TMP/prog.jq" "$TMP/in" 2>/dev/null | head -1)" '{"x":1}' "-f reads the program"
printf '{x: .a}\n| .b | |\n' >"$TMP/bad.jq"
exit_is 2 "a compile error exits 2" fl -f "$TMP/bad.jq" "$TMP/in"
like "$err" "*bad.jq: jq compile error:*line 2:*" "with the program's own line number"
is "$out" "" "and nothing on stdout"
exit_is 2 "an unknown function is a compile error" fl -e 'nosuch' "$TMP/in"
like "$err" "*nosuch/0 is not defined at <top-level>, line 1:*" "line 1 is line 1"
exit_is 2 "--select compiles too" fl --select '(' "$TMP/in"
exit_is 2 "-e and -f together are a usage error" fl -e . -f "$TMP/prog.jq"

# Program results go through --root and --explode too.
is "$(fl -e '{e: {id: .a, l: .b}}' --root .e --explode .l "$TMP/in" | tr '\n' ' ')" \
    '{"id":1,"l":1} {"id":1,"l":2} {"id":"x"} {"id":3,"l":3} ' \
    "-e with --root and --explode"
run fl -e '{e: 1}' --root .e <<<'{}'
like "$rc:$err" "1:*rejected: no-root*" "a result without the --root is a reject"

# The helpers.
t() { jq -nc --arg d "$1" '{d: $d}' | fl -e "{v: (.d | $2)}" | jq -r .v; }
is "$(t 2019-01-15T12:48:23.395000 close_time)" 1547556503.395 \
    "close_time: an event date (no offset: UTC), fraction kept"
is "$(t 2019-01-15T12:41:24.496000+00:00 close_time)" 1547556084.496 \
    "close_time: a data date with +00:00"
is "$(t 2019-01-15T14:41:24+02:00 close_time)" 1547556084 "close_time: offsets applied"
is "$(t 2019-01-15T07:11:24-0530 close_time)" 1547556084 "close_time: -HHMM"
is "$(t 2019-01-15T12:41:24Z close_time)" 1547556084 "close_time: Z"
is "$(t 2019-01-15 close_time)" 1547510400 "close_time: a date alone is midnight UTC"
is "$(t 2019-01-15T14:41:24.5+02:00 close_utc)" 2019-01-15T12:41:24Z "close_utc"
is "$(t 2019-01-15T23:41:24-02:00 close_date)" 2019-01-16 "close_date"
run fl -e '{v: (.d | close_time)}' <<<'{"d":"2019-02-30T00:00:00"}'
like "$rc:$err" "1:*not a date-time: 2019-02-30T00:00:00*" "close_time refuses a bad date"
run fl -e '{v: (.d | close_time)}' <<<'{"d":5}'
like "$rc:$err" "1:*close_time: not a string: 5*" "close_time refuses a number"
is "$(fl -e '{v: close_days(.a; .b)}' <<<'{"a":"2019-01-15","b":"2019-01-20T12:00:00.000000"}')" \
    '{"v":5.5}' "close_days(from; to)"
is "$(fl -e '{v: (.b | close_days_since("2019-01-14"))}' <<<'{"b":"2019-01-15T06:00:00"}')" \
    '{"v":1.25}' "close_days_since(from)"
# Helpers agree with --dates epoch on the whole corpus.
python3 "$TOP/bench/gen" --count 100 --format payloads --seed 9 >"$TMP/c"
is "$(fl -e '{t: (.event.date_updated | close_time)}' "$TMP/c" | jq -r .t | md5sum)" \
    "$(fl --root .event --dates epoch "$TMP/c" | jq -r .date_updated | md5sum)" \
    "close_time agrees with --dates epoch on every event"

# --dates runs before the program.
is "$(fl --dates utc -e '{d: .d, t: (.d | type)}' <<<'{"d":"2019-01-15T14:41:24+02:00"}')" \
    '{"d":"2019-01-15T12:41:24Z","t":"string"}' "--dates utc happens before -e"
is "$(fl --dates epoch -e '{t: (.d | type)}' <<<'{"d":"2019-01-15T14:41:24+02:00"}')" \
    '{"t":"number"}' "--dates epoch gives the program numbers"

# Wrapping happens before the program too.
is "$(fl -e '{s: .subscription_id, id: .event.id}' <<<'{"object_type":"lead","action":"x","id":"ev_9"}')" \
    '{"s":null,"id":"ev_9"}' "a bare event reaches the program wrapped"

done_testing
