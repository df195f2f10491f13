#!/bin/bash
# closehook-flatten: --format csv into a real PostgreSQL (a throwaway
# cluster on a unix socket), row counts and values checked against the
# input, and the upsert recipe of closehook-flatten(1).
# shellcheck disable=SC1091,SC2154,SC2016,SC2028,SC2001
. "$(dirname "$0")/lib.sh"
set -e

. "$(dirname "$0")/fakes/pg-helpers.sh"
start_postgres
pg() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$PGDIR" -U closehook \
	    -d postgres "$@"
}
ok "the throwaway cluster answers" pg -c 'SELECT 1'

bench_gen() { python3 "$TOP/bench/gen" "$@"; }
bench_gen --count 400 --format payloads --seed 11 >"$TMP/in.ndjson"
# Event Log pages too: they are flattened as wrapped records.
bench_gen --count 60 --format pages --seed 12 >"$TMP/pages.ndjson"

# The recipe of the man page, verbatim in spirit: staging table, \copy,
# then INSERT ... ON CONFLICT keeping the newest date_updated.
cols=id,object_type,action,object_id,lead_id,user_id,date_created,date_updated,data
pg <<'EOF'
CREATE TABLE close_events (
    event_id     text PRIMARY KEY,
    object_type  text NOT NULL,
    action       text NOT NULL,
    object_id    text,
    lead_id      text,
    user_id      text,
    date_created timestamptz NOT NULL,
    date_updated timestamptz NOT NULL,
    data         jsonb
);
EOF
upsert() {
	pg <<EOF
CREATE TEMP TABLE stage (LIKE close_events);
\\copy stage FROM '$1' WITH (FORMAT csv, HEADER)
INSERT INTO close_events
SELECT DISTINCT ON (event_id) * FROM stage
ORDER BY event_id, date_updated DESC
ON CONFLICT (event_id) DO UPDATE SET
    object_type = excluded.object_type, action = excluded.action,
    object_id = excluded.object_id, lead_id = excluded.lead_id,
    user_id = excluded.user_id, date_created = excluded.date_created,
    date_updated = excluded.date_updated, data = excluded.data
WHERE excluded.date_updated > close_events.date_updated;
EOF
}

run closehook-flatten --root .event --max-depth 1 --dates utc --format csv \
    --header --columns "$cols" "$TMP/in.ndjson" "$TMP/pages.ndjson"
is "$rc" 0 "flatten to csv exits 0"
cp "$TMP/out" "$TMP/events.csv"
nev=$(cat "$TMP/in.ndjson" "$TMP/pages.ndjson" |
    jq -r 'if .data then .data[] else .event end | .id' | sort -u | wc -l)
is "$(($(wc -l <"$TMP/events.csv") - 1))" \
    "$(cat "$TMP/in.ndjson" "$TMP/pages.ndjson" |
        jq -c 'if .data then .data[] else .event end' | wc -l)" \
    "one csv row per event"
ok "the upsert recipe loads the csv" upsert "$TMP/events.csv"
is "$(pg -c 'SELECT count(*) FROM close_events')" "$nev" \
    "one table row per distinct event id"

# Values: compare what PostgreSQL holds with the input, event by event.
# The same event id arrives again when Close updates it in place: the
# table keeps the newest date_updated.
cat "$TMP/in.ndjson" "$TMP/pages.ndjson" |
    jq -s -c '[.[] | if .data then .data[] else .event end] | group_by(.id) |
        .[] | max_by(.date_updated) |
        [.id, .object_type, .action, .user_id, .data]' | jq -cS . |
    sort >"$TMP/want.c"
# jsonb re-orders keys and spaces: compare canonical JSON.
pg -c "SELECT json_build_array(event_id, object_type, action, user_id,
    data) FROM close_events" | jq -cS . | sort >"$TMP/got.c"
ok "ids, types, actions, user ids (NULL too) and data round-trip" \
    cmp -s "$TMP/want.c" "$TMP/got.c"
diff "$TMP/want.c" "$TMP/got.c" | head -4 | cut -c1-300 | sed 's/^/# /' 
is "$(pg -c "SELECT count(*) FROM close_events WHERE user_id IS NULL")" \
    "$(jq -r 'if .data then .data[] else .event end |
        select(.user_id == null) | .id' "$TMP/in.ndjson" "$TMP/pages.ndjson" |
        sort -u | wc -l)" "a JSON null is an SQL NULL"
id1=$(head -1 "$TMP/in.ndjson" | jq -r .event.id)
want_t=$(head -1 "$TMP/in.ndjson" |
    closehook-flatten --root .event --dates epoch |
    jq -r .date_updated)
is "$(pg -c "SELECT extract(epoch FROM date_updated) = $want_t
    FROM close_events WHERE event_id = '$id1'")" t \
    "a date-time arrives as the same instant"
is "$(pg -c "SELECT sum((data->>'value')::bigint) FROM close_events
    WHERE object_type = 'opportunity'")" \
    "$(cat "$TMP/in.ndjson" "$TMP/pages.ndjson" |
        jq -s '[.[] | if .data then .data[] else .event end] |
            unique_by(.id) | map(select(.object_type == "opportunity") |
            .data.value // 0) | add')" \
    "money values sum to the input's"

# Upsert: a newer state of one event replaces the row; an older one does
# not; a new event is added.
head -1 "$TMP/in.ndjson" | jq -c '.event.date_updated = "2030-01-01T00:00:00.000000" |
    .event.action = "newer"' >"$TMP/upd.ndjson"
sed -n 2p "$TMP/in.ndjson" | jq -c '.event.date_updated = "2000-01-01T00:00:00.000000" |
    .event.action = "older"' >>"$TMP/upd.ndjson"
head -1 "$TMP/in.ndjson" | jq -c '.event.id = "ev_brandnew"' >>"$TMP/upd.ndjson"
closehook-flatten --root .event --max-depth 1 --dates utc --format csv \
    --header --columns "$cols" "$TMP/upd.ndjson" >"$TMP/upd.csv"
ok "the upsert recipe runs again" upsert "$TMP/upd.csv"
is "$(pg -c "SELECT action FROM close_events WHERE event_id = '$id1'")" \
    newer "a newer date_updated replaces the row"
id2=$(sed -n 2p "$TMP/in.ndjson" | jq -r .event.id)
is "$(pg -c "SELECT action FROM close_events WHERE event_id = '$id2'")" \
    "$(sed -n 2p "$TMP/in.ndjson" | jq -r .event.action)" \
    "an older date_updated leaves the row alone"
is "$(pg -c 'SELECT count(*) FROM close_events')" "$((nev + 1))" \
    "a new event is added, nothing duplicated"

# Flat columns with --sql-names: "" stays an empty string, null is NULL,
# quotes, commas and newlines survive.
printf '%s\n' \
    '{"id":"a","data":{"note":"","title":null,"body":"x, \"y\"\nz","n":1.50}}' \
    '{"id":"b","data":{"note":"n","body":"\\.","n":-2}}' \
    '{"id":"c","data":{"body":"cut\u0000here"}}' >"$TMP/flat.ndjson"
closehook-flatten --sql-names --format csv --columns id,data_note,data_title,data_body,data_n \
    "$TMP/flat.ndjson" >"$TMP/flat.csv" 2>"$TMP/flat.err" || frc=$?
is "${frc:-0}" 1 "exit 1: a record was rejected"
like "$(cat "$TMP/flat.err")" "*:3: rejected: nul-in-string*" \
    "a string with U+0000 is rejected, not cut short by COPY"
pg <<EOF
CREATE TABLE flat (id text, note text, title text, body text, n numeric);
\\copy flat FROM '$TMP/flat.csv' WITH (FORMAT csv)
EOF
is "$(pg -c "SELECT note IS NULL, note = '', title IS NULL FROM flat WHERE id = 'a'")" \
    "f|t|t" "an empty string is '' and a null is NULL"
is "$(pg -c "SELECT body FROM flat WHERE id = 'a'")" $'x, "y"\nz' \
    "quotes, commas and newlines survive"
is "$(pg -c "SELECT body FROM flat WHERE id = 'b'")" '\.' \
    "a lone \\. is not the end-of-data marker"
is "$(pg -c "SELECT n FROM flat ORDER BY id" | tr '\n' ' ')" "1.50 -2 " \
    "numbers keep their text"
is "$(pg -c "SELECT count(*) FROM flat")" 2 "the others load"

# TSV loads as PostgreSQL's text format with NULL ''.
closehook-flatten --sql-names --format tsv --columns id,data_note,data_body \
    "$TMP/flat.ndjson" >"$TMP/flat.tsv" 2>/dev/null || [ $? = 1 ] # "c"
pg <<EOF
CREATE TABLE flatt (id text, note text, body text);
\\copy flatt FROM '$TMP/flat.tsv' WITH (FORMAT text, NULL '')
EOF
is "$(pg -c "SELECT body FROM flatt WHERE id = 'a'")" $'x, "y"\nz' \
    "tsv escapes load as text format"

# A line "\." inside a value: psql's \copy of CSV would end there (flatten
# warns); TSV carries it.
echo '{"id":"d","data":{"body":"first\n\\.\nafter"}}' |
    closehook-flatten --sql-names --format tsv --columns id,data_note,data_body \
    >"$TMP/dot.tsv" 2>"$TMP/dot.err"
is "$(cat "$TMP/dot.err")" \
    'closehook-flatten: --columns: "data_note" matched no key in 1 rows (misspelt?)' \
    "no warning but the column it lacks"
pg <<EOF
\\copy flatt FROM '$TMP/dot.tsv' WITH (FORMAT text, NULL '')
EOF
is "$(pg -c "SELECT body FROM flatt WHERE id = 'd'")" $'first\n\\.\nafter' \
    "a line \\. inside a value loads from TSV"

done_testing
