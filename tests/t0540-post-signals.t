#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-post stopped mid-run loses nothing.  SIGTERM: reading stops,
# transfers in flight finish (or are dead-lettered at --drain-timeout),
# exit 1.  SIGKILL: no clean-up at all.  Either way, replaying the
# dead-letter file and the input lines the report does not mention delivers
# every input record at least once.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/post-helpers.sh"

records 3000 31 >"$TMP/in"

# replay NAME: send the dead letters and the unreported lines again.
replay() {
	local n=$1
	[ -f "$TMP/$n.dl" ] || : >"$TMP/$n.dl"
	[ -f "$TMP/$n.rep" ] || : >"$TMP/$n.rep"
	python3 - "$TMP/in" "$TMP/$n.rep" >"$TMP/$n.unreported" <<'PY'
import json, sys
seen = set()
for l in open(sys.argv[2], encoding="utf-8"):
    try:
        seen.add(json.loads(l)["line"])
    except ValueError:
        pass  # a report line cut by SIGKILL
for i, l in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    if i not in seen:
        sys.stdout.write(l)
PY
	cat "$TMP/$n.dl" "$TMP/$n.unreported" |
	    closehook-post -q --dead-letter "$TMP/$n.dl2" "$SINK_URL" >/dev/null
}

# all_received LOG: every input line's body is in the sink's log.
all_received() {
	jq -r .body "$1" | sort -u >"$TMP/recv"
	[ "$(sort -u "$TMP/in" | comm -23 - "$TMP/recv" | wc -l)" -eq 0 ]
}

# SIGTERM with a sink answering in 20 ms: the drain finishes in time.
start_sink t --delay 0.02 --max-time 100
closehook-post --parallel 4 --dead-letter "$TMP/t.dl" --report "$TMP/t.rep" \
    "$SINK_URL" <"$TMP/in" >"$TMP/t.out" 2>"$TMP/t.err" &
pid=$!
sleep 1.5
kill -TERM "$pid"
wait "$pid"
is "$?" 1 "SIGTERM: exit 1"
like "$(cat "$TMP/t.err")" "*terminated: draining*" "SIGTERM: the drain is announced"
n=$(wc -l <"$TMP/t.out")
ok "SIGTERM: some were delivered ($n)" [ "$n" -gt 0 ]
ok "SIGTERM: stopped early ($n of 3000)" [ "$n" -lt 3000 ]
jq -r .body "$TMP/t.log" | sort -u >"$TMP/recv"
is "$(sort -u "$TMP/t.out" | comm -23 - "$TMP/recv" | wc -l)" 0 \
    "SIGTERM: every stdout line was received"
is "$(jq -r 'select(.status == "delivered")' "$TMP/t.rep" | jq -s length)" \
    "$n" "SIGTERM: the report lists what stdout holds"
ok "SIGTERM: some input was not yet read" \
    [ "$(jq -s length "$TMP/t.rep")" -lt 3000 ]
ok "SIGTERM: before the replay, records are missing" \
    bash -c "[ \$(jq -r .body '$TMP/t.log' | sort -u | wc -l) -lt 3000 ]"
replay t
ok "SIGTERM + replay: every record delivered at least once" \
    all_received "$TMP/t.log"

# SIGTERM with a slow sink (3 s): --drain-timeout dead-letters what is in
# flight.
start_sink slow --delay "$(slow 3)" --max-time 100
head -n 10 "$TMP/in" >"$TMP/ten"
closehook-post --parallel 4 --drain-timeout 300ms --dead-letter "$TMP/s.dl" \
    --report "$TMP/s.rep" "$SINK_URL" <"$TMP/ten" >"$TMP/s.out" \
    2>"$TMP/s.err" &
pid=$!
sleep 0.5
t0=$SECONDS
kill -TERM "$pid"
wait "$pid"
is "$?:$(wc -l <"$TMP/s.out")" "1:0" "drain timeout: exit 1, nothing delivered"
ok "drain timeout: quick exit" [ $((SECONDS - t0)) -le "$(slow 2)" ]
is "$(wc -l <"$TMP/s.dl")" "$(wc -l <"$TMP/s.rep")" \
    "every dead letter is reported"
ok "the in-flight ones are dead letters" \
    grep -q 'in flight at the end of --drain-timeout' "$TMP/s.rep"
ok "the dead letters are input lines" bash -c \
    "[ \$(sort '$TMP/s.dl' | comm -23 - <(sort '$TMP/ten') | wc -l) -eq 0 ]"

# A second signal ends the drain at once (the operator will not wait for
# --drain-timeout), dead-lettering what is in flight.
closehook-post --parallel 4 --drain-timeout 30s --dead-letter "$TMP/s2.dl" \
    --report "$TMP/s2.rep" "$SINK_URL" <"$TMP/ten" >"$TMP/s2.out" \
    2>"$TMP/s2.err" &
pid=$!
sleep 0.5
t0=$SECONDS
kill -INT "$pid"
sleep 0.3
kill -INT "$pid"
wait "$pid"
is "$?:$(wc -l <"$TMP/s2.out")" "1:0" "a second SIGINT: exit 1, nothing delivered"
ok "... at once, not after --drain-timeout 30s" \
    [ $((SECONDS - t0)) -le "$(slow 2)" ]
ok "... the in-flight ones dead-lettered, saying why" \
    grep -q 'in flight at a second signal' "$TMP/s2.rep"
like "$(cat "$TMP/s2.err")" "*interrupted: draining 4 transfers in flight (for at most 30 s; a second signal ends them now)*" \
    "the drain says how long it waits and what a second signal does"
is "$(($(wc -l <"$TMP/s2.dl")))" 4 \
    "the four in flight are dead letters (the rest were put back in the file)"

# --order-by: the records behind a key in flight are dead-lettered after
# it, so one key's dead letters keep input order, and a replay with
# --order-by delivers them in it.
for i in $(seq 30); do
	printf '{"k":%d,"i":%d}\n' "$((i <= 10 ? 0 : i))" "$i"
done >"$TMP/keyed"
closehook-post --order-by .k --parallel 4 --drain-timeout 300ms \
    --dead-letter "$TMP/o.dl" "$SINK_URL" <"$TMP/keyed" >/dev/null \
    2>"$TMP/o.err" &
pid=$!
sleep 0.5
kill -TERM "$pid"
wait "$pid"
is "$(jq -r 'select(.k == 0) | .i' "$TMP/o.dl" | tr '\n' ' ')" \
    "1 2 3 4 5 6 7 8 9 10 " "one key's dead letters in input order"
is "$(jq -r .i "$TMP/o.dl" | sort -n | uniq -d)" "" "each once"

# SIGKILL: nothing runs at exit; the report may trail.
start_sink k --delay 0.02 --fault-rate 0.2 --faults 500,drop --max-time 100
closehook-post --parallel 4 --retry-base 10ms --dead-letter "$TMP/k.dl" \
    --report "$TMP/k.rep" "$SINK_URL" <"$TMP/in" >"$TMP/k.out" \
    2>"$TMP/k.err" &
pid=$!
sleep 1.5
kill -KILL "$pid"
wait "$pid" 2>/dev/null
is "$?" 137 "SIGKILL: killed"
ok "SIGKILL: records are missing before the replay" \
    bash -c "[ \$(jq -r .body '$TMP/k.log' | sort -u | wc -l) -lt 3000 ]"
replay k
ok "SIGKILL + replay: every record delivered at least once" \
    all_received "$TMP/k.log"
done_testing
