#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-post against a sink that fails 30% of requests (500, 503, 429
# with Retry-After, stalls past --timeout, dropped connections): nothing is
# lost and nothing is invented.  delivered + dead-lettered = input exactly;
# every line on stdout was accepted by the sink; --order-by keeps input
# order per key; Retry-After, --timeout and --rate are honoured.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/post-helpers.sh"

# check_lost IN OUT DL: stdout and dead letters together are the input.
multiset() { sort "$@" | md5sum; }

records 10000 3 >"$TMP/in"
start_sink f1 --fault-rate 0.3 --stall 0.6 --retry-after 1 --seed 5 \
    --max-requests 40000 --max-time 100
t0=$SECONDS
run closehook-post --parallel 32 --timeout 300ms --retries 2 \
    --retry-base 10ms --retry-max-wait 100ms --dead-letter "$TMP/dl" \
    --report "$TMP/rep" "$SINK_URL/in" <"$TMP/in"
ok "10k records with 30% faults in under 60 s ($((SECONDS - t0)) s)" \
    [ $((SECONDS - t0)) -lt 60 ]
is "$rc" 1 "some records were dead-lettered: exit 1"
nout=$(wc -l <"$TMP/out")
ndl=$(wc -l <"$TMP/dl")
is "$((nout + ndl))" 10000 "delivered ($nout) + dead-lettered ($ndl) = input"
ok "some records were dead-lettered ($ndl)" [ "$ndl" -gt 0 ]
is "$(cat "$TMP/out" "$TMP/dl" | multiset)" "$(multiset "$TMP/in")" \
    "stdout and the dead letters hold exactly the input lines"
jq -r .body "$TMP/f1.log" | sort -u >"$TMP/accepted"
is "$(sort -u "$TMP/out" | comm -23 - "$TMP/accepted" | wc -l)" 0 \
    "every line on stdout was accepted by the sink"
is "$(wc -l <"$TMP/rep")" 10000 "one report line per record"
is "$(jq -r .status "$TMP/rep" | sort | uniq -c | tr -s ' ' | tr '\n' ';')" \
    " $ndl dead-letter; $nout delivered;" "the report agrees"
ok "retries were reported" grep -q '"attempts":3' "$TMP/rep"
like "$err" "*delivered $nout, retried *, dead-lettered $ndl*" "the summary"
# Dead-lettered records were really tried three times.
is "$(jq -r 'select(.status == "dead-letter") | .attempts' "$TMP/rep" |
    sort -u | tr '\n' ' ')" "3 " "dead letters had 1 + --retries attempts"

# --order-by: per object_id, the sink accepted records in input order.
records 2000 4 >"$TMP/in2"
start_sink f2 --fault-rate 0.3 --stall 0.6 --seed 6 --max-requests 20000 \
    --max-time 100
run closehook-post --parallel 16 --timeout 300ms --retry-base 10ms \
    --retry-max-wait 50ms --retries 20 --order-by .event.object_id \
    --dead-letter "$TMP/dl2" "$SINK_URL" <"$TMP/in2"
is "$rc" 0 "--order-by: all delivered"
is "$(multiset "$TMP/out")" "$(multiset "$TMP/in2")" "--order-by: stdout = input"
jq -r '.body | fromjson | .event | "\(.object_id) \(.seq)"' "$TMP/f2.log" \
    >"$TMP/seen"
ordered() {
	awk '{ if ($1 in last && $2 + 0 <= last[$1]) bad++; last[$1] = $2 + 0 }
	    END { exit bad > 0 }' "$1"
}
ok "--order-by: per key, accepted in input order" ordered "$TMP/seen"
# Without --order-by, the same faults do reorder: the check can fail.
jq -r '.body | fromjson | .event | "\(.object_id) \(.seq)"' "$TMP/f1.log" \
    >"$TMP/seen1"
ok "without --order-by, order per key is not kept (the check bites)" \
    bash -c "! awk '{ if (\$1 in last && \$2 + 0 <= last[\$1]) bad++; last[\$1] = \$2 + 0 } END { exit bad > 0 }' '$TMP/seen1'"

# Retry-After (1 s) is honoured; --retry-max-wait caps it.
head -n 1 "$TMP/in" >"$TMP/one"
start_sink f3 --fault-first 1 --faults 429 --retry-after 1 --max-time 30
run closehook-post --report "$TMP/rep3" "$SINK_URL" <"$TMP/one"
is "$rc" 0 "429 then 204: delivered"
lat=$(jq -r '.latency_ms | floor' "$TMP/rep3")
ok "waited for Retry-After: 1 ($lat ms)" [ "$lat" -ge 950 ]
is "$(jq -r .attempts "$TMP/rep3")" 2 "two attempts"
start_sink f4 --fault-first 1 --faults 429 --retry-after 30 --max-time 30
run closehook-post --retry-max-wait 200ms --report "$TMP/rep4" "$SINK_URL" \
    <"$TMP/one"
lat=$(jq -r '.latency_ms | floor' "$TMP/rep4")
ok "--retry-max-wait caps Retry-After ($lat ms)" [ "$lat" -lt 1500 ]

# A 429 holds every request for its Retry-After, not only the record that
# got it: the next records would meet the same limit.
head -n 3 "$TMP/in" >"$TMP/three"
start_sink f4b --fault-first 1 --faults 429 --retry-after 1 --max-time 30
run closehook-post --parallel 1 --report "$TMP/rep4b" "$SINK_URL" \
    <"$TMP/three"
is "$rc:$(wc -l <"$TMP/out")" 0:3 "429 on the first: all three delivered"
lat=$(jq -r 'select(.line == 2) | .latency_ms | floor' "$TMP/rep4b")
ok "the second record waited out the first one's Retry-After too ($lat ms)" \
    [ "${lat:-0}" -ge 950 ]
is "$(jq -r 'select(.line == 2) | .attempts' "$TMP/rep4b")" 1 \
    "... and was sent once, after the wait"

# By default a record is retried until --retry-max-time, not after a count:
# a sink down for a while (here 8 failures, more than the old default of 8
# retries allowed with these waits) costs no dead letter.
start_sink f4c --fault-first 10 --faults 500 --max-time 30
run closehook-post --retry-base 1ms --retry-max-wait 5ms \
    --report "$TMP/rep4c" "$SINK_URL" <"$TMP/one"
is "$rc:$(jq -r .attempts "$TMP/rep4c")" 0:11 \
    "ten 500s, then delivered at the eleventh attempt"
start_sink f4d --fault-first 10 --faults 500 --max-time 30
run closehook-post --retry-base 1ms --retry-max-wait 5ms --retries 3 \
    --dead-letter "$TMP/dl4d" --report "$TMP/rep4d" "$SINK_URL" <"$TMP/one"
is "$rc:$(jq -r .attempts "$TMP/rep4d")" 1:4 \
    "--retries 3 still bounds them: dead-lettered after four attempts"

# A stall past --timeout is retried; --retry-on 500 alone does not retry it.
start_sink f5 --fault-first 1 --faults stall --stall "$(slow 1)" \
    --max-time 30
run closehook-post --timeout "$(slow 200)ms" --retry-base 1ms \
    --report "$TMP/rep5" \
    "$SINK_URL" <"$TMP/one"
is "$rc:$(jq -r .attempts "$TMP/rep5")" "0:2" "a timeout is retried"
start_sink f6 --fault-first 1 --faults stall --stall "$(slow 1)" \
    --max-time 30
run closehook-post --timeout "$(slow 200)ms" --retry-on 500 \
    --dead-letter "$TMP/dl6" \
    --report "$TMP/rep6" "$SINK_URL" <"$TMP/one"
is "$rc:$(jq -r .attempts "$TMP/rep6")" "1:1" "--retry-on 500: no timeout retry"
like "$(jq -r .error "$TMP/rep6")" "*timed out*" "the report names the timeout"

# --rate 40/s: 20 requests take about half a second.
head -n 20 "$TMP/in" >"$TMP/twenty"
start_sink f7 --max-time 30
t0=$(date +%s%N)
run closehook-post --rate 40/s "$SINK_URL" <"$TMP/twenty"
ms=$((($(date +%s%N) - t0) / 1000000))
is "$rc" 0 "--rate: delivered"
ok "--rate 40/s spaces 20 requests ($ms ms)" [ "$ms" -ge 450 ]

# A kept-alive connection that the server closes as it is reused: curl
# sends the request again on a new connection, within the same attempt,
# however often that happens to one handle (libcurl before 8.17 gives up
# after five over a handle's life unless the handle is reset).
start_sink f8 --drop-reused --max-time 30
run closehook-post --parallel 1 --retries 0 --report "$TMP/rep8" \
    "$SINK_URL" <"$TMP/twenty"
is "$rc:$(jq -r .attempts "$TMP/rep8" | sort -u)" "0:1" \
    "connections dropped on reuse: every record delivered at the first attempt"
is "$(jq -r .body "$TMP/f8.log" | sort | md5sum)" \
    "$(sort "$TMP/twenty" | md5sum)" "and the sink accepted each record"

# The dead letters moved away to be replayed while post runs (the replay
# recipe of closehook-post(1)): the next failure goes to a new file at the
# path, not into the one being replayed.
start_sink f9 --status 500 --max-time 30
mkfifo "$TMP/dl.fifo"
closehook-post --retries 0 --dead-letter "$TMP/dl9" "$SINK_URL" \
    <"$TMP/dl.fifo" >/dev/null 2>"$TMP/dl9.err" &
ppid=$!
exec 7>"$TMP/dl.fifo"
printf '{"n":1}\n' >&7
wait_lines "$TMP/dl9" 1 || true
mv "$TMP/dl9" "$TMP/replay9"
printf '{"n":2}\n' >&7
wait_lines "$TMP/dl9" 1 || true
exec 7>&-
wait "$ppid"
is "$(cat "$TMP/replay9")" '{"n":1}' "the moved file keeps what it had, and gets nothing more"
is "$(cat "$TMP/dl9")" '{"n":2}' "the next dead letter goes to a new file at the path"
like "$(cat "$TMP/dl9.err")" "*dl9: moved away or deleted: appending to a new file there*" \
    "said once"
ok "the new file is private" test "$(stat -c %a "$TMP/dl9")" = 600

done_testing
