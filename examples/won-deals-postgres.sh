#!/bin/bash
# examples/won-deals-postgres.sh - won deals into a PostgreSQL table, one
# row per deal, kept at its newest state.
#
#   closehook-follow --once | closehook-verify | closehook-flatten
#     | closehook-follow --commit > batch;
#   closehook-flatten --format csv < batch | psql: \copy into a staging
#     table, INSERT ... ON CONFLICT DO UPDATE
#
# Run it every minute (systemd/closehook-won-deals.timer, or cron).  Each
# run takes what arrived in the spool since the last one, keeps the events
# of opportunities that are won or were won until this change, and upserts
# them into $PG_TABLE: a newer state of a deal (a later event date_updated)
# replaces its row, a repeat or an older state changes nothing.  So Close's
# retries, a replay of the spool and events arriving out of order leave one
# row per deal with its latest status, value and owner.  A deal that is
# lost or reopened after it was won keeps its row, with the new status.
#
# \copy commits only at the end of its input, which is why this runs as
# batches rather than as a stream.  Each batch is a file in
# $CLOSEHOOK_STATE/won-deals.pending until PostgreSQL took it: a run that
# cannot reach the database leaves it there, and the next run loads it
# first.  The spool position is committed only once the batch holding the
# rows before it is on disk, so a run killed at any point loses nothing:
# the next one goes on from the last committed position.  Each run also
# starts $CLOSEHOOK_REWIND early in the spool, which costs nothing (the
# upsert ignores repeats).
#
# Environment:
#   PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSFILE, PGSSLMODE, ...
#                      where and how to connect, as for psql(1); keep the
#                      password in a PGPASSFILE (mode 0600), not in the
#                      environment or on the command line
#   PG_TABLE           the table (default close_won_deals), created if missing
#   CLOSEHOOK_STATE, CLOSEHOOK_SPOOL, CLOSEHOOK_KEYS, CLOSEHOOK_REWIND
#                      as in vip-alert.sh
#
# Exit status: 0 when every batch is in the table, 1 when one is left
# pending or the spool could not be read (the timer's next run retries).
set -euo pipefail

secrets=${CREDENTIALS_DIRECTORY:-/etc/closehook}
state=${CLOSEHOOK_STATE:-${STATE_DIRECTORY:-/var/lib/closehook}}
spool=${CLOSEHOOK_SPOOL:-$state/close.ndjson}
keys=${CLOSEHOOK_KEYS:-$secrets/keys}
table=${PG_TABLE:-close_won_deals}
name=won-deals
pending=$state/$name.pending
if [ ! -r "$keys" ]; then
	echo "$name: cannot read $keys" >&2
	exit 2
fi
mkdir -p "$pending"

# One run at a time: two followers on one offset file would both read.
exec 9>>"$state/$name.lock"
if ! flock -n 9; then
	echo "$name: a previous run is still going; skipped" >&2
	exit 0
fi

# One row per event of a deal that is won or was won until this event.
# shellcheck disable=SC2016 # jq, not the shell
rows='
.event
| select(.object_type == "opportunity" and (.data | type) == "object")
| select(.data.status_type == "won"
    or ((.previous_data | type) == "object"
        and .previous_data.status_type == "won"))
| {opportunity_id: (.data.id // .object_id), lead_id: (.lead_id // .data.lead_id),
   lead_name: .data.lead_name, status_type: .data.status_type,
   status_label: .data.status_label, value: .data.value,
   currency: .data.value_currency, user_name: .data.user_name,
   date_won: .data.date_won, event_id: .id, date_updated: .date_updated}'
cols=opportunity_id,lead_id,lead_name,status_type,status_label,value,currency
cols=$cols,user_name,date_won,event_id,date_updated

# shellcheck disable=SC2016 # SQL: $f$, $w$, $$ ... are dollar quotes
sql='
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS :"table" (
    opportunity_id text PRIMARY KEY,
    lead_id        text,
    lead_name      text,
    status_type    text NOT NULL,
    status_label   text,
    value          bigint,      -- cents, as Close sends it
    currency       text,
    user_name      text,
    date_won       date,
    event_id       text NOT NULL,
    date_updated   timestamptz NOT NULL
);
-- The batch is staged as text, so that no value stops the load; a value
-- its column cannot take (a value beyond bigint, a date that is not one)
-- is loaded as NULL, with a warning naming the event.
CREATE TEMP TABLE stage (opportunity_id text, lead_id text, lead_name text,
    status_type text, status_label text, value text, currency text,
    user_name text, date_won text, event_id text, date_updated text)
    ON COMMIT DROP;
-- v when it reads as type typ, else NULL with a warning naming the event.
CREATE FUNCTION pg_temp.as_type(v text, typ text, col text, ev text)
RETURNS text LANGUAGE plpgsql AS $f$
BEGIN
    EXECUTE format($q$SELECT %L::%s$q$, v, typ);
    RETURN v;
EXCEPTION WHEN others THEN
    RAISE WARNING $w$won-deals: event %: % "%" is not a %: loaded as NULL$w$,
        ev, col, v, typ;
    RETURN NULL;
END $f$;
\copy stage FROM pstdin WITH (FORMAT csv)
-- One row per deal from the batch (an UPDATE may not touch a row twice),
-- the newest; then only a newer state replaces what the table holds.
INSERT INTO :"table" AS t
SELECT DISTINCT ON (opportunity_id) opportunity_id, lead_id, lead_name,
    status_type, status_label,
    pg_temp.as_type(value, $$bigint$$, $$value$$, event_id)::bigint,
    currency, user_name,
    pg_temp.as_type(date_won, $$date$$, $$date_won$$, event_id)::date,
    event_id, date_updated::timestamptz
FROM stage
ORDER BY opportunity_id, date_updated::timestamptz DESC
ON CONFLICT (opportunity_id) DO UPDATE SET
    lead_id = excluded.lead_id, lead_name = excluded.lead_name,
    status_type = excluded.status_type, status_label = excluded.status_label,
    value = excluded.value, currency = excluded.currency,
    user_name = excluded.user_name, date_won = excluded.date_won,
    event_id = excluded.event_id, date_updated = excluded.date_updated
WHERE excluded.date_updated > t.date_updated;'

# 1. What is new in the spool becomes a pending batch of rows (NDJSON: a
# line cut short by a crash is simply rejected when loaded, and comes
# again from the spool).  closehook-follow --commit at the end commits the
# spool position only once the rows before it are fdatasync'd in the
# batch, so a batch that exists may hold committed rows: it is kept even
# when a stage failed.  verify and flatten exit 1 when they rejected a line
# (kept in the rejects files); that still makes a good batch.
batch=$pending/$(date -u +%Y%m%dT%H%M%S.%N).ndjson
set +e
closehook-follow --once --rewind "${CLOSEHOOK_REWIND:-10m}" \
    --offset-file "$state/$name.offset" "$spool" |
	closehook-verify -q --secret-file "$keys" \
	    --rejects "$state/$name.rejects.ndjson" |
	closehook-flatten -q --dates utc -e "$rows" \
	    --rejects "$state/$name.rejects.ndjson" |
	closehook-follow --commit "$state/$name.offset" >"$batch"
st=("${PIPESTATUS[@]}")
set -e
[ -s "$batch" ] || rm -f "$batch"
if [ "${st[0]}" -ne 0 ] || [ "${st[1]}" -gt 1 ] || [ "${st[2]}" -gt 1 ] ||
    [ "${st[3]}" -ne 0 ]; then
	echo "$name: reading the spool failed (follow ${st[0]}, verify ${st[1]}," \
	    "flatten ${st[2]}, commit ${st[3]}); the next run goes on from" \
	    "the last committed position" >&2
	exit 1
fi

# 2. Load every pending batch, oldest first, each in one transaction: its
# rows as CSV into a staging table, then upserted.  A batch PostgreSQL
# refuses stays pending and the others still load: the upsert keeps the
# newest state whatever the order, so one bad batch (a value a column
# cannot take) does not hold the rest back.  It is named every run, with
# exit 1, until it is mended or removed by hand.
failed=0
for f in "$pending"/*.ndjson; do
	[ -e "$f" ] || continue
	set +e
	closehook-flatten -q --format csv --columns "$cols" \
	    --rejects "$state/$name.rejects.ndjson" <"$f" |
		psql -X -q -v ON_ERROR_STOP=1 -v table="$table" -1 \
		    -f <(printf '%s\n' "$sql")
	st=("${PIPESTATUS[@]}")
	set -e
	if [ "${st[0]}" -gt 1 ] || [ "${st[1]}" -ne 0 ]; then
		echo "$name: $f not loaded; kept for the next run" >&2
		failed=1
		# psql exit 2: the server is gone; the rest would fail alike.
		[ "${st[1]}" -eq 2 ] && break
		continue
	fi
	rm -f "$f"
done
exit "$failed"
