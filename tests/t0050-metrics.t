#!/bin/bash
# shellcheck disable=SC1091,SC2016,SC2119,SC2154 # lib.sh: sourced; run sets rc, out, err; $1 in bash -c
# --metrics FILE of every long-running program (and receive's /metrics,
# subscribe check's file): Prometheus text that a strict checker accepts,
# one naming scheme, values that match what happened, a file kept current
# while the program still runs (input from a FIFO held open, follow, a
# paced backfill), replaced atomically (a reader never sees part of it),
# and no temporary file left behind.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/close.sh"
. "$TOP/tests/fakes/post-helpers.sh"

P=$TMP/prom
mkdir "$P"

# promcheck.py FILE PREFIX: the Prometheus text exposition format, strictly:
# HELP then TYPE before a family's samples, which follow it together;
# names closehook_[a-z_]+ starting with PREFIX, counters and only counters
# ending in _total; label sets that parse; values that are numbers; no
# series twice; histogram buckets cumulative up to +Inf = _count; a final
# newline.  Prints what is wrong, exits 1.
cat >"$TMP/promcheck.py" <<'PY'
import re, sys
path, prefix = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
errs = []
if not text.endswith("\n"):
    errs.append("no final newline")
name_re = re.compile(r"^closehook_[a-z_]+$")
sample_re = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
helps, types, done, seen = {}, {}, set(), set()
cur = None
buckets = {}
for i, line in enumerate(text.split("\n")[:-1], 1):
    where = "line %d (%s)" % (i, line[:60])
    if line.startswith("# HELP "):
        f = line.split(" ", 3)
        if len(f) < 4 or not f[3]:
            errs.append(where + ": HELP without text")
            continue
        if f[2] in helps:
            errs.append(where + ": a second HELP")
        helps[f[2]] = 1
        if cur is not None:
            done.add(cur)
        cur = None
        continue
    if line.startswith("# TYPE "):
        f = line.split(" ")
        n, t = f[2], f[3] if len(f) > 3 else ""
        if n not in helps:
            errs.append(where + ": TYPE without HELP first")
        if t not in ("counter", "gauge", "histogram"):
            errs.append(where + ": bad type")
        if not name_re.match(n) or not n.startswith(prefix):
            errs.append(where + ": name outside the scheme " + prefix)
        if (t == "counter") != n.endswith("_total"):
            errs.append(where + ": _total iff counter")
        if n in types:
            errs.append(where + ": a second TYPE")
        types[n] = t
        cur = n
        continue
    if line.startswith("#") or line == "":
        errs.append(where + ": stray line")
        continue
    m = sample_re.match(line)
    if not m:
        errs.append(where + ": not a sample")
        continue
    n, labels, v = m.group(1), m.group(2), m.group(3)
    fam = n
    for suf in ("_bucket", "_sum", "_count"):
        b = n[: -len(suf)]
        if n.endswith(suf) and types.get(b) == "histogram":
            fam = b
    if fam != cur:
        errs.append(where + ": not under its own HELP/TYPE")
    if types.get(fam) == "histogram" and fam == n:
        errs.append(where + ": a bare histogram sample")
    pairs = []
    if labels is not None:
        rest = labels
        while rest:
            lm = label_re.match(rest)
            if not lm:
                errs.append(where + ": bad labels")
                break
            pairs.append((lm.group(1), lm.group(2)))
            rest = rest[lm.end():]
            if rest.startswith(","):
                rest = rest[1:]
            elif rest:
                errs.append(where + ": bad labels")
                break
    try:
        val = float(v)
    except ValueError:
        errs.append(where + ": value is not a number")
        continue
    key = (n, tuple(sorted(pairs)))
    if key in seen:
        errs.append(where + ": series twice")
    seen.add(key)
    if fam != n:
        other = tuple(sorted(p for p in pairs if p[0] != "le"))
        h = buckets.setdefault((fam, other), {"le": [], "count": None})
        if n.endswith("_bucket"):
            le = [p[1] for p in pairs if p[0] == "le"]
            if len(le) != 1:
                errs.append(where + ": a bucket without le")
            else:
                h["le"].append((float(le[0]), val))
        elif n.endswith("_count"):
            h["count"] = val
for (fam, _), h in buckets.items():
    les = h["le"]
    if not les or les[-1][0] != float("inf"):
        errs.append(fam + ": no +Inf bucket last")
        continue
    if [x[0] for x in les] != sorted(x[0] for x in les):
        errs.append(fam + ": le not ascending")
    if [x[1] for x in les] != sorted(x[1] for x in les):
        errs.append(fam + ": buckets not cumulative")
    if h["count"] != les[-1][1]:
        errs.append(fam + ": _count is not the +Inf bucket")
if not types:
    errs.append("no metrics at all")
for e in errs:
    print("#   " + e)
sys.exit(1 if errs else 0)
PY

# prom_ok FILE PREFIX DESCRIPTION
prom_ok() {
	_n=$((_n + 1))
	if [ -f "$1" ] && python3 "$TMP/promcheck.py" "$1" "$2" >"$TMP/pc"; then
		echo "ok $_n - $3"
	else
		_not_ok "$3" "$(head -5 "$TMP/pc" | sed 's/^/# /')"
	fi
}

# val FILE SERIES: the value of one series (name with its labels).
val() {
	unlabel "$1" 2>/dev/null | awk -v m="$2" '$1 == m { print $2 }'
}

# wait_val FILE SERIES WANT: wait (at most 10 s) until SERIES is WANT.
wait_val() {
	local _
	for _ in $(seq 200); do
		[ "$(val "$1" "$2")" = "$3" ] && return 0
		sleep 0.05
	done
	return 1
}

# no_temp: the metrics directory holds only .prom files.
no_temp() {
	is "$(find "$P" -type f ! -name '*.prom' | wc -l)" 0 \
	    "no temporary file left in the metrics directory"
}

# The checker itself refuses what it must.
printf '# HELP closehook_x_total X.\n# TYPE closehook_x_total counter\nclosehook_x_total 1' >"$TMP/bad1"
printf 'closehook_x_total 1\n' >"$TMP/bad2"
printf '# HELP closehook_x X.\n# TYPE closehook_x counter\nclosehook_x 1\n' >"$TMP/bad3"
printf '# HELP closehook_x_total X.\n# TYPE closehook_x_total counter\nclosehook_x_total{a="1} 1\n' >"$TMP/bad4"
for b in 1 2 3 4; do
	ok "the checker refuses broken text $b" \
	    bash -c '! python3 "$1" "$2" closehook_ >/dev/null' _ \
	    "$TMP/promcheck.py" "$TMP/bad$b"
done

# -- verify ------------------------------------------------------------------
printf '%s\n' "$KAV_KEY" >"$TMP/keys"
chmod 600 "$TMP/keys"
good=$(capture "$KAV_TS" "$KAV_SIG" "$KAV_BODY")
tampered=$(capture "$KAV_TS" "$KAV_SIG" "${KAV_BODY/test content/tampered}")
V=(closehook-verify -q --secret-file "$TMP/keys" --max-age 0)

printf '%s\n' "$good" "$tampered" "$good" 'not json' "$good" >"$TMP/caps"
run "${V[@]}" --metrics "$P/verify.prom" "$TMP/caps"
is "$rc" 1 "verify: 3 good and 2 bad captures, exit 1"
prom_ok "$P/verify.prom" closehook_verify_ "verify: the file is Prometheus text"
M=$P/verify.prom
is "$(val "$M" closehook_verify_records_total):$(val "$M" closehook_verify_verified_total)" \
    5:3 "verify: 5 read, 3 verified"
is "$(val "$M" 'closehook_verify_rejected_total{reason="signature-mismatch"}'):$(val "$M" 'closehook_verify_rejected_total{reason="malformed-capture"}'):$(val "$M" 'closehook_verify_rejected_total{reason="stale-timestamp"}')" \
    1:1:0 "verify: rejects by reason, every reason present"
start=$(val "$M" closehook_verify_start_time_seconds)
ok "verify: start time is now ($start)" \
    python3 -c 'import sys,time; sys.exit(abs(time.time()-float(sys.argv[1])) > 60)' \
    "$start"
ok "verify: no key material in the file" \
    bash -c '! grep -qi "$1" "$2"' _ "$KAV_KEY" "$M"

exit_is 2 "verify: raw mode refuses --metrics" "${V[@]}" --metrics "$P/x.prom" \
    --timestamp "$KAV_TS" --signature "$KAV_SIG" /dev/null
run "${V[@]}" --metrics "$TMP/no/such/dir/v.prom" "$TMP/caps"
is "$rc:$out" "2:" "verify: a metrics file that cannot be written: exit 2, no output"
like "$err" "*no/such/dir/v.prom: No such file or directory*" \
    "... naming the file"

# While running: the counts appear before EOF.
mkfifo "$TMP/vfifo"
"${V[@]}" --metrics "$P/vrun.prom" <"$TMP/vfifo" >"$TMP/vrun.out" 2>&1 &
vpid=$!
exec 3>"$TMP/vfifo"
printf '%s\n' "$good" "$tampered" "$good" >&3
ok "verify: counts kept current while input is held open" \
    wait_val "$P/vrun.prom" closehook_verify_verified_total 2
ok "... and the program is still running" kill -0 "$vpid"
is "$(val "$P/vrun.prom" 'closehook_verify_rejected_total{reason="signature-mismatch"}')" \
    1 "... with the reject counted"
printf '%s\n' "$good" >&3
exec 3>&-
wait "$vpid"
is "$?:$(val "$P/vrun.prom" closehook_verify_verified_total)" 1:3 \
    "verify: at exit the last count is written"

# Atomic replacement: a reader polling the file while it is rewritten
# hundreds of times never sees part of one.
printf '%s\n' "$good" >"$TMP/one"
cat >"$TMP/race.py" <<'PY'
import os, subprocess, sys, threading, time
cmd, path, line = sys.argv[3:], sys.argv[1], open(sys.argv[2], "rb").read()
env = dict(os.environ, CLOSEHOOK_METRICS_INTERVAL="0")
p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                     env=env)
stop = False
reads = bad = 0
values = set()
def poll():
    global reads, bad
    while not stop:
        try:
            with open(path, "rb") as f:
                t = f.read()
        except FileNotFoundError:
            continue
        reads += 1
        lines = t.split(b"\n")
        if (not t.endswith(b"\n") or
                not lines[-2].startswith(b"closehook_verify_start_time_seconds{")):
            bad += 1
        for l in lines:
            if l.startswith(b"closehook_verify_records_total{"):
                values.add(l)
th = threading.Thread(target=poll)
th.start()
end = time.time() + 3
while time.time() < end:
    p.stdin.write(line)
    p.stdin.flush()
    time.sleep(0.002)
p.stdin.close()
p.wait()
stop = True
th.join()
print(reads, bad, len(values))
PY
read -r reads bad versions < <(python3 "$TMP/race.py" "$P/race.prom" "$TMP/one" \
    "${V[@]}" --metrics "$P/race.prom")
ok "atomic: the file was rewritten many times ($versions versions)" \
    [ "${versions:-0}" -ge 50 ]
ok "atomic: many reads while it was ($reads)" [ "${reads:-0}" -ge 200 ]
is "${bad:-x}" 0 "atomic: no read saw a partial or empty file"
no_temp

# -- flatten -----------------------------------------------------------------
ev() { printf '{"subscription_id":null,"event":{"id":"ev_%s","object_type":"lead","action":"created","date_updated":"2026-11-26T10:00:0%s.000000","data":{"n":%s}}}\n' "$1" "$1" "$1"; }
{ ev 1; ev 2; echo '{"broken":'; echo '[1,2]'; ev 3; } >"$TMP/recs"
run closehook-flatten -q --metrics "$P/flatten.prom" "$TMP/recs"
is "$rc" 1 "flatten: 3 records and 2 rejects, exit 1"
prom_ok "$P/flatten.prom" closehook_flatten_ "flatten: the file is Prometheus text"
M=$P/flatten.prom
is "$(val "$M" closehook_flatten_records_total):$(val "$M" closehook_flatten_rows_total):$(wc -l <"$TMP/out")" \
    5:3:3 "flatten: 5 read, 3 rows, as many as written"
is "$(val "$M" 'closehook_flatten_rejected_total{reason="invalid-json"}'):$(val "$M" 'closehook_flatten_rejected_total{reason="not-an-object"}'):$(val "$M" 'closehook_flatten_rejected_total{reason="jq-error"}')" \
    1:1:0 "flatten: rejects by reason"
mkfifo "$TMP/ffifo"
closehook-flatten --metrics "$P/frun.prom" <"$TMP/ffifo" >/dev/null 2>&1 &
fpid=$!
exec 3>"$TMP/ffifo"
{ ev 1; ev 2; } >&3
ok "flatten: rows counted while input is held open" \
    wait_val "$P/frun.prom" closehook_flatten_rows_total 2
ok "... the program still running" kill -0 "$fpid"
exec 3>&-
wait "$fpid"

# -- dedupe ------------------------------------------------------------------
{ ev 1; ev 2; ev 1; ev 3; } >"$TMP/drecs"
D=(closehook-dedupe --store "$TMP/seen.sqlite")
run "${D[@]}" --metrics "$P/dedupe.prom" "$TMP/drecs"
is "$rc:$(wc -l <"$TMP/out")" 0:3 "dedupe: 4 records, 1 repeat, exit 0"
prom_ok "$P/dedupe.prom" closehook_dedupe_ "dedupe: the file is Prometheus text"
M=$P/dedupe.prom
is "$(val "$M" closehook_dedupe_records_total):$(val "$M" closehook_dedupe_passed_total):$(val "$M" closehook_dedupe_dropped_total):$(val "$M" closehook_dedupe_uncommitted_keys)" \
    4:3:1:0 "dedupe: 4 judged, 3 passed, 1 dropped, all committed"
run "${D[@]}" --metrics "$P/dedupe.prom" "$TMP/drecs"
is "$(val "$M" closehook_dedupe_passed_total):$(val "$M" closehook_dedupe_dropped_total)" \
    0:4 "dedupe: a second run drops all 4 (counts are per run)"
mkfifo "$TMP/dfifo"
"${D[@]}" --metrics "$P/drun.prom" <"$TMP/dfifo" >/dev/null 2>&1 &
dpid=$!
exec 3>"$TMP/dfifo"
{ ev 4; ev 4; ev 5; } >&3
ok "dedupe: counts kept current while input is held open" \
    wait_val "$P/drun.prom" closehook_dedupe_passed_total 2
ok "... the program still running" kill -0 "$dpid"
is "$(val "$P/drun.prom" closehook_dedupe_dropped_total)" 1 \
    "... the repeat counted as dropped"
exec 3>&-
wait "$dpid"

# -- post --------------------------------------------------------------------
start_sink ok --fault-first 2 --faults 500
rec() { printf '{"n":%s}\n' "$1"; }
for i in 1 2 3 4 5; do rec "$i"; done >"$TMP/precs"
run closehook-post -q --parallel 1 --retry-base 10ms --retry-max-wait 20ms \
    --dead-letter "$TMP/dl" --metrics "$P/post.prom" "$SINK_URL/hook" \
    <"$TMP/precs"
is "$rc" 0 "post: 5 records, 2 failures retried, exit 0"
prom_ok "$P/post.prom" closehook_post_ "post: the file is Prometheus text"
M=$P/post.prom
is "$(val "$M" closehook_post_delivered_total):$(val "$M" closehook_post_retries_total):$(val "$M" closehook_post_dead_lettered_total)" \
    5:2:0 "post: 5 delivered, 2 retries, 0 dead letters"
is "$(val "$M" closehook_post_delivery_latency_seconds_count):$(val "$M" 'closehook_post_delivery_latency_seconds_bucket{le="+Inf"}')" \
    5:5 "post: the latency histogram counts each delivery"
is "$(val "$M" closehook_post_inflight_requests):$(val "$M" closehook_post_pending_records)" \
    0:0 "post: nothing in flight or pending at the end"
ok "post: a last delivery time" [ -n "$(val "$M" closehook_post_last_delivery_timestamp_seconds)" ]
ok "post: no URL in the file" bash -c '! grep -q "127.0.0.1\|/hook" "$1"' _ "$M"
start_sink bad --status 400
run closehook-post -q --dead-letter "$TMP/dl" --metrics "$P/post.prom" \
    "$SINK_URL" <<<"$(rec 1; rec 2)"
is "$rc:$(wc -l <"$TMP/dl")" 1:2 "post: a sink answering 400: 2 dead letters, exit 1"
is "$(val "$M" closehook_post_delivered_total):$(val "$M" closehook_post_dead_lettered_total)" \
    0:2 "post: the metrics count the dead letters"
ok "post: no last delivery time before a delivery" \
    bash -c '! grep -q "^closehook_post_last_delivery" "$1"' _ "$M"
start_sink run
mkfifo "$TMP/pfifo"
closehook-post -q --metrics "$P/prun.prom" "$SINK_URL" <"$TMP/pfifo" \
    >/dev/null 2>&1 &
ppid=$!
exec 3>"$TMP/pfifo"
{ rec 1; rec 2; } >&3
ok "post: deliveries counted while input is held open" \
    wait_val "$P/prun.prom" closehook_post_delivered_total 2
ok "... the program still running" kill -0 "$ppid"
exec 3>&-
wait "$ppid"

# -- follow ------------------------------------------------------------------
{ rec 1; rec 2; } >"$TMP/spool"
closehook-follow -q --offset-file "$TMP/off" --commit-interval 100ms \
    --metrics "$P/follow.prom" "$TMP/spool" >"$TMP/fout" 2>&1 &
wpid=$!
M=$P/follow.prom
ok "follow: bytes written counted while following" \
    wait_val "$M" closehook_follow_written_bytes_total 16
{ rec 3; rec 44; } >>"$TMP/spool"
ok "follow: an append is counted too" \
    wait_val "$M" closehook_follow_written_bytes_total 33
ok "... the program still running" kill -0 "$wpid"
prom_ok "$M" closehook_follow_ "follow: the file is Prometheus text"
is "$(val "$M" closehook_follow_position_bytes):$(val "$M" closehook_follow_file_size_bytes):$(val "$M" closehook_follow_behind_bytes)" \
    33:33:0 "follow: position = size, nothing behind"
ok "follow: the committed offset catches up" \
    wait_val "$M" closehook_follow_committed_offset_bytes 33
printf '{"partial":' >>"$TMP/spool"
ok "follow: an incomplete line is bytes behind" \
    wait_val "$M" closehook_follow_behind_bytes 11
kill -TERM "$wpid"
wait "$wpid"
is "$?:$(val "$M" closehook_follow_written_bytes_total)" 0:33 \
    "follow: SIGTERM, exit 0, the final counts written"
mv "$TMP/spool" "$TMP/spool.1"
rec 5 >"$TMP/spool"
run closehook-follow -q --offset-file "$TMP/off" --once --metrics "$M" \
    "$TMP/spool"
is "$rc:$(val "$M" closehook_follow_rotations_total):$(val "$M" closehook_follow_written_bytes_total)" \
    0:1:8 "follow --once after a rotation: one rotation, the new file read"

# -- backfill ----------------------------------------------------------------
fake_start --count 200 || skip_all "the fake Close API does not start"
closehook-backfill -q --api-url "$FAKE_URL" --order newest --max-rps 2 \
    --metrics "$P/backfill.prom" >"$TMP/bout" 2>"$TMP/berr" &
bpid=$!
M=$P/backfill.prom
wait_pages() {
	local _ p
	for _ in $(seq 200); do
		p=$(val "$M" closehook_backfill_pages_total)
		[ "${p:-0}" -ge 1 ] && kill -0 "$bpid" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
ok "backfill: pages counted while it runs" wait_pages
is "$(val "$M" closehook_backfill_complete)" 0 "... and not complete yet"
ok "... no end time while it runs" \
    bash -c '! grep -q "^closehook_backfill_last_run_timestamp" "$1"' _ "$M"
wait "$bpid"
is "$?" 0 "backfill: exit 0"
prom_ok "$M" closehook_backfill_ "backfill: the file is Prometheus text"
fake_events "$TMP/bwant"
nwant=$(wc -l <"$TMP/bwant")
is "$(val "$M" closehook_backfill_events_total):$(wc -l <"$TMP/bout"):$(val "$M" closehook_backfill_pages_total):$(val "$M" closehook_backfill_complete)" \
    "$nwant:$nwant:4:1" "backfill: all $nwant events in 4 pages, complete"
ok "backfill: the --max-rps waits are counted" python3 -c \
    'import sys; sys.exit(not float(sys.argv[1]) > 0.5)' \
    "$(val "$M" closehook_backfill_wait_seconds_total)"
newest=$(jq -r '.event.date_updated' "$TMP/bout" | sort | tail -1)
ok "backfill: the lag is now minus the newest event ($newest)" python3 -c '
import sys, time, datetime
d = datetime.datetime.fromisoformat(sys.argv[1].rstrip("Z")).replace(
    tzinfo=datetime.timezone.utc).timestamp()
lag, ts = float(sys.argv[2]), float(sys.argv[3])
sys.exit(not (abs(ts - d) < 0.001 and abs(time.time() - d - lag) < 30))' \
    "$newest" "$(val "$M" closehook_backfill_checkpoint_lag_seconds)" \
    "$(val "$M" closehook_backfill_newest_event_timestamp_seconds)"
ok "backfill: an end time" [ -n "$(val "$M" closehook_backfill_last_run_timestamp_seconds)" ]
fake_stop

# -- subscribe check, receive ------------------------------------------------
fake_start --count 0
run closehook-subscribe --api-url "$FAKE_URL" check --metrics "$P/sub.prom"
is "$rc" 0 "subscribe check: exit 0"
prom_ok "$P/sub.prom" closehook_subscribe_ "subscribe check: Prometheus text, same scheme"
fake_stop

. "$TOP/tests/fakes/receive-helpers.sh"
ok "receive starts" start_receive r --spool "$TMP/rspool"
post --data-binary '{"n":1}' "$RURL/" >/dev/null
curl -s "$RURL/metrics" >"$TMP/rmetrics"
stop_receive
prom_ok "$TMP/rmetrics" closehook_receive_ "receive /metrics: Prometheus text, same scheme"
is "$(val "$TMP/rmetrics" closehook_receive_captures_written_total):$(val "$TMP/rmetrics" closehook_receive_stdout_stalled)" \
    1:0 "receive /metrics: a capture written, stdout not stalled"
ok "receive /metrics: a start time" \
    [ -n "$(val "$TMP/rmetrics" closehook_receive_start_time_seconds)" ]

no_temp

# Under the units' umask 0077 the textfile is still readable by
# node_exporter, another user: it holds no secret.
(umask 077; echo '{"a":1}' | closehook-flatten --metrics "$TMP/um.prom" >/dev/null)
is "$(stat -c %a "$TMP/um.prom")" 644 "a metrics file is mode 0644 whatever the umask"

# Each series of a textfile carries file="NAME" (its name without .prom):
# node_exporter merges a directory's files, and two processes of one
# program there (dedupe's check and record) would give the same series.
echo '{"event":{"id":"ev_1"}}' | closehook-dedupe --store "$TMP/two.sqlite" \
    --metrics "$TMP/closehook_dedupe_check.prom" |
    closehook-dedupe --store "$TMP/two.sqlite" --mode record \
    --metrics "$TMP/closehook_dedupe_record.prom" >/dev/null
is "$(grep -h '^closehook_dedupe_records_total' "$TMP"/closehook_dedupe_*.prom | sort | tr '\n' ' ')" \
    'closehook_dedupe_records_total{file="closehook_dedupe_check"} 1 closehook_dedupe_records_total{file="closehook_dedupe_record"} 1 ' \
    "two dedupes in one directory: their series differ by file"
is "$(grep -c '{file="closehook_dedupe_check"' "$TMP/closehook_dedupe_check.prom")" \
    "$(grep -vc '^#' "$TMP/closehook_dedupe_check.prom")" "every series has it"

# A heartbeat: a file is written at least every $CLOSEHOOK_METRICS_HEARTBEAT
# (60 s by default) while its program lives, even when nothing changed, so
# node_textfile_mtime_seconds tells a live process from a dead one; also
# while it waits for input, and while it waits on a reader that stopped.
# beats FILE: the file is written again within 3 s.
beats() {
	local t0 _
	t0=$(stat -c %.9Y "$1") || return 1
	for _ in $(seq 60); do
		sleep 0.05
		[ "$(stat -c %.9Y "$1")" != "$t0" ] && return 0
	done
	return 1
}
export CLOSEHOOK_METRICS_HEARTBEAT=1s
mkfifo "$TMP/hbfifo"
exec 4<>"$TMP/hbfifo"
"${V[@]}" --metrics "$P/hbv.prom" <"$TMP/hbfifo" >/dev/null 2>&1 &
hv=$!
closehook-dedupe --store "$TMP/hb.sqlite" --metrics "$P/hbd.prom" \
    <"$TMP/hbfifo" >/dev/null 2>&1 &
hd=$!
closehook-flatten --metrics "$P/hbf.prom" <"$TMP/hbfifo" >/dev/null 2>&1 &
hf=$!
for f in hbv hbd hbf; do
	for _ in $(seq 100); do [ -f "$P/$f.prom" ] && break; sleep 0.05; done
done
ok "heartbeat: verify waiting for input writes its file again" beats "$P/hbv.prom"
ok "... dedupe too" beats "$P/hbd.prom"
ok "... flatten too" beats "$P/hbf.prom"
ok "... and again" beats "$P/hbv.prom"
kill "$hv" "$hd" "$hf"
wait "$hv" "$hd" "$hf" 2>/dev/null
exec 4>&-

# A reader that stopped reading: follow blocks writing into the pipe, and
# its file still follows the spool (the lag grows as receive appends).
mkfifo "$TMP/stuck"
exec 4<>"$TMP/stuck"
for i in $(seq 300); do printf '{"n":%s,"pad":"%0600d"}\n' "$i" 0; done \
    >"$TMP/bigspool"
closehook-follow -q --offset-file "$TMP/stuckoff" --metrics "$P/stuck.prom" \
    "$TMP/bigspool" >"$TMP/stuck" 2>/dev/null &
sp=$!
for _ in $(seq 100); do [ -f "$P/stuck.prom" ] && break; sleep 0.05; done
size0=$(stat -c %s "$TMP/bigspool")
ok "blocked: the file has the spool's size ($size0)" \
    wait_val "$P/stuck.prom" closehook_follow_file_size_bytes "$size0"
rec 9 >>"$TMP/bigspool"
ok "blocked: an append while follow waits on its reader is seen" \
    wait_val "$P/stuck.prom" closehook_follow_file_size_bytes $((size0 + 8))
b=$(val "$P/stuck.prom" closehook_follow_behind_bytes)
ok "... and counted behind ($b bytes, more than a pipe holds)" \
    [ "${b:-0}" -gt 65536 ]
ok "... the heartbeat goes on" beats "$P/stuck.prom"
ok "... follow still running, blocked" kill -0 "$sp"
# Told to stop while blocked, it stops (systemd would wait for SIGKILL),
# and what its reader did not take comes again from the offset file.
t0=$(date +%s%N)
kill -TERM "$sp"
wait "$sp"
is "$?" 0 "blocked: SIGTERM stops follow, exit 0"
ok "... within 3 s" [ $(($(date +%s%N) - t0)) -lt 3000000000 ]
timeout 1 cat "$TMP/stuck" >"$TMP/stuck.got" || true
exec 4>&-
closehook-follow -q --offset-file "$TMP/stuckoff" --once "$TMP/bigspool" \
    >"$TMP/stuck.again"
is "$(cat "$TMP/stuck.got" "$TMP/stuck.again" | grep -E '^[{]"n":[0-9]+(,"pad":"0+")?[}]$' | sort -u | wc -l)" \
    301 "... the pipe's lines and a rerun's hold every line"
"${V[@]}" --metrics "$P/hbv.prom" </dev/null
unset CLOSEHOOK_METRICS_HEARTBEAT
CLOSEHOOK_METRICS_HEARTBEAT=0.5s run closehook-flatten --metrics "$P/x.prom" </dev/null
like "$rc:$err" "2:*invalid \$CLOSEHOOK_METRICS_HEARTBEAT*" \
    "a heartbeat under a second is refused"

done_testing
