#!/bin/bash
# make demo's script end to end (sender -> receive -> two followers ->
# verify, dedupe, flatten / post -> sink; backfill from the fake Close; a
# debugging scene with closehook-trigger and verify --explain):
# its files add up, and what it prints is what its files hold.
. "$(dirname "$0")/lib.sh"
set -e

export DEMO_DIR=$TMP/demo
run sh "$TOP/bench/demo"
is "$rc" 0 "the demo runs"
d=$DEMO_DIR
sent=$(wc -l <"$d/payloads.ndjson")
is "$(wc -l <"$d/acked.ndjson")" "$sent" "every delivery was acknowledged"
is "$(wc -l <"$d/spool.ndjson")" "$((sent + 5))" \
    "every acknowledged request is in the spool, the forged ones too"
is "$(jq -r .reason "$d/rejects.ndjson" | sort | uniq -c | tr -s ' ')" \
    " 5 signature-mismatch" "the 5 forged deliveries were rejected"
uniq=$(jq -r '[.event.id, .event.date_updated] | @json' \
    "$d/payloads.ndjson" | sort -u | wc -l)
is "$(($(wc -l <"$d/table.csv") - 1))" "$uniq" \
    "one table row per unique (id, date_updated)"
is "$(head -1 "$d/table.csv")" "id,date_updated,object_type,action,lead_id" \
    "the CSV header"
is "$(wc -l <"$d/sink.log")" "$uniq" "the sink got each unique event once"
is "$(jq -r '.body | fromjson | [.event.id, .event.date_updated] | @json' \
    "$d/sink.log" | sort | uniq -d | wc -l)" 0 \
    "no (id, date_updated) reached the sink twice"
is "$(wc -l <"$d/replay.ndjson")" 0 "a replay of the spool delivers nothing"
is "$(wc -l <"$d/backfill.ndjson")" 300 \
    "the backfill brought the fake's 300 events"
like "$out" "*delivered to the sink:     $uniq by closehook-post*" \
    "the summary tells what was delivered"
is "$(jq -r .explain.likely_cause "$d/debug-rejects.ndjson" | tr '\n' ' ')" \
    "trailing-newline-added reserialized-body key-as-text body-before-timestamp timestamp-changed " \
    "the debugging scene: --explain names each of the five causes"
like "$out" "*line 3: signature-mismatch, likely cause key-as-text*" \
    "and the demo prints them"
done_testing
