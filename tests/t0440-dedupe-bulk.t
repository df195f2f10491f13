#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-dedupe at volume: realistic generated traffic (retries and
# consolidated updates) gives exactly the first occurrence of each
# (event.id, event.date_updated), as Python computes it; 1 M keys pass and
# then all drop, with flat memory.
. "$(dirname "$0")/lib.sh"
set -e

"$TOP/bench/gen" --count 20000 --format payloads --dup-rate 0.1 \
    --consolidate-rate 0.05 --seed 11 >"$TMP/gen"
python3 - "$TMP/gen" "$TMP/want" <<'PY'
import json, sys
seen = set()
with open(sys.argv[1], "rb") as f, open(sys.argv[2], "wb") as out:
    for line in f:
        ev = json.loads(line)["event"]
        k = (ev["id"], ev.get("date_updated"))
        if k not in seen:
            seen.add(k)
            out.write(line)
PY
run closehook-dedupe --store "$TMP/gen.sqlite" --stats "$TMP/gen"
is "$rc" 0 "generated traffic: exit 0"
same_file "$TMP/out" "$TMP/want" \
    "the first of each (id, date_updated) passes, byte for byte, in order"
ok "there were repeats to drop ($(wc -l <"$TMP/gen") in, $(wc -l <"$TMP/want") out)" \
    test "$(wc -l <"$TMP/gen")" -gt "$(wc -l <"$TMP/want")"

# 1 M keys.  Max RSS of a 1 M run may exceed a 100 k run's only by the
# bounded SQLite page cache (16 MiB) and slack: memory is flat.
awk 'BEGIN { for (i = 1; i <= 1000000; i++)
	printf "{\"event\":{\"id\":\"ev_%d\",\"date_updated\":\"2026-11-26T10:00:00.000000\"}}\n", i }' \
    >"$TMP/1m"
head -100000 "$TMP/1m" >"$TMP/100k"
rss() { /usr/bin/time -f %M -o "$TMP/rss" "$@" >/dev/null; cat "$TMP/rss"; }
start=$(date +%s)
small=$(rss closehook-dedupe --store "$TMP/small.sqlite" "$TMP/100k")
big=$(rss closehook-dedupe --store "$TMP/1m.sqlite" "$TMP/1m")
echo "# max RSS: 100k keys ${small} KiB, 1M keys ${big} KiB; $(($(date +%s) - start)) s"
if ldd "$(command -v closehook-dedupe)" 2>/dev/null | grep -q libasan; then
	skip "memory is flat" "AddressSanitizer keeps freed memory"
else
	ok "memory is flat (1M: $big KiB, 100k: $small KiB)" \
	    test "$big" -le $((small + 24 * 1024))
fi
run closehook-dedupe --store "$TMP/1m.sqlite" --stats "$TMP/1m"
is "$out" "" "a second run over 1 M keys drops them all"
like "$err" "*in 1000000, passed 0, dropped 1000000*" "and counts them"
run closehook-dedupe --store "$TMP/1m.sqlite" --mode check \
    <(tail -1 "$TMP/1m"; echo '{"event":{"id":"ev_new"}}')
is "$out" '{"event":{"id":"ev_new"}}' "the store holds the last key of the million"

done_testing
