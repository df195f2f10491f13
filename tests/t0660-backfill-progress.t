#!/bin/bash
# shellcheck disable=SC2016,SC2154 # run sets rc, out, err
# closehook-backfill's progress lines: the request rate is measured over at
# least a second (the first line once said 181 req/s under a limit of 5);
# retries and 5xx answers are counted (5xx in the metrics too); a run walked oldest first ends at
# 100% of the range (it ended at 0%, "ETA ?"); and the line is redrawn in
# place only on a terminal that stdout does not write to as well: with the
# data on the same terminal there is no progress unless --progress asks
# for it, and then it comes as plain lines.  The terminal cases run under
# script(1), which gives the program a pseudo-terminal.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/close.sh"

command -v script >/dev/null || skip_all "script(1) is not installed"

# lines FILE: the progress lines of FILE, one a line (a redrawn line ends
# in ESC [ K and CR).
lines() { tr '\r' '\n' <"$1" | sed 's/\x1b\[K//g' | grep ' pages, ' || true; }

# 5 requests a second for some 3 s: a day-long window a request, at least.
fake_start --count 100 --seed 7 --span "$((10 * 86400))" \
    --fault-requests 2:500,4:503
run closehook-backfill --api-url "$FAKE_URL" --since 12d --max-rps 5 \
    --progress --metrics "$TMP/m.prom"
is "$rc" 0 "a paced run with two 5xx answers: exit 0"
ok "the 5xx answers are in the metrics too" \
    grep -qx 'closehook_backfill_server_errors_total 2' <(unlabel "$TMP/m.prom")
lines "$TMP/err" >"$TMP/p"
ok "it drew more than one progress line ($(wc -l <"$TMP/p"))" \
    [ "$(wc -l <"$TMP/p")" -ge 2 ]
sed 's/^/# /' "$TMP/p"
rates=$(sed -nE 's/.* ([0-9.]+) req\/s.*/\1/p' "$TMP/p" | tr '\n' ' ')
ok "no line shows more than the 5 req/s allowed, within a request ($rates)" \
    awk -v r="$rates" 'BEGIN { n = split(r, a, " ");
	for (i = 1; i <= n; i++) if (a[i] > 6.5) exit 1;
	exit n > 0 ? 0 : 1 }'
like "$(tail -n 1 "$TMP/p")" "*, 2 retried, 2 server errors, 0 rate-limited, 100% of the range, ETA 0s" \
    "the last line counts the retries and 5xx answers, and the whole range"
like "$(head -n 1 "$TMP/p")" "closehook-backfill: * pages, * events, *" \
    "each line names the program"
fake_stop

# Newest first, too, the last line is at 100%.  6 pages at 4 a second
# below: long enough for a line before the last.
fake_start --count 300 --seed 8
run closehook-backfill --api-url "$FAKE_URL" --order newest --progress
like "$(lines "$TMP/err" | tail -n 1)" "*, 100% of the range, ETA 0s" \
    "newest first: the last line is at 100%"
n=$(wc -l <"$TMP/out")

# On a terminal.  stderr alone on it: the line is redrawn in place.
script -qefc "closehook-backfill --api-url '$FAKE_URL' --order newest \
    --max-rps 4 >'$TMP/data'" /dev/null >"$TMP/tty1" 2>&1 </dev/null
ok "stderr on a terminal, stdout to a file: a progress line" \
    grep -q ' pages, ' "$TMP/tty1"
ok "redrawn in place (ESC [ K, CR)" grep -q $'\x1b\\[K\r' "$TMP/tty1"
is "$(wc -l <"$TMP/data")" "$n" "the data went to the file"

# Both on the same terminal: no progress among the data by default.
script -qefc "closehook-backfill --api-url '$FAKE_URL' --order newest \
    --max-rps 4" /dev/null >"$TMP/tty2" 2>&1 </dev/null
is "$(grep -c '"subscription_id":null' "$TMP/tty2")" "$n" \
    "stdout and stderr on one terminal: the data"
ok "and no progress line among it" bash -c '! grep -q " pages, " "$1"' sh \
    "$TMP/tty2"
# --progress asks for it anyway: whole lines, never a redraw over data.
script -qefc "closehook-backfill --api-url '$FAKE_URL' --order newest \
    --max-rps 4 --progress" /dev/null >"$TMP/tty3" 2>&1 </dev/null
ok "--progress on the shared terminal: progress lines" \
    grep -q ' pages, ' "$TMP/tty3"
ok "as plain lines, not redrawn" bash -c '! grep -q $'"'"'\x1b\\[K'"'"' "$1"' \
    sh "$TMP/tty3"
done_testing
