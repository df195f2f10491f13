#!/bin/bash
# make demo's script end to end: its files add up, and what it prints is
# what its files hold.
. "$(dirname "$0")/lib.sh"
set -e

export DEMO_DIR=$TMP/demo
run sh "$TOP/bench/demo"
is "$rc" 0 "the demo runs"
d=$DEMO_DIR
in=$(wc -l <"$d/captures.ndjson")
ver=$(wc -l <"$d/events.ndjson")
rej=$(wc -l <"$d/rejects.ndjson")
is "$((ver + rej))" "$in" "every capture was verified or rejected"
like "$out" "*verified:     $ver*" "the summary gives the verified count"
uniq=$(wc -l <"$d/unique.ndjson")
ok "dedupe dropped something and kept most" test "$uniq" -lt "$ver" -a \
    "$uniq" -gt $((ver / 2))
is "$(jq -r '[.event.id, .event.date_updated] | @json' "$d/unique.ndjson" |
    sort | uniq -d | wc -l)" 0 "no (id, date_updated) twice after dedupe"
is "$(($(wc -l <"$d/table.csv") - 1))" "$uniq" "one CSV row per unique event"
is "$(head -1 "$d/table.csv")" "id,date_updated,object_type,action,lead_id" \
    "the CSV header"
is "$(wc -l <"$d/backfill.ndjson")" 300 "the backfill brought the fake's 300 events"
done_testing
