#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154,SC2016 # lib.sh: sourced; run sets rc, out, err; $ in JSON
# examples/won-deals-postgres.sh against a real PostgreSQL (a throwaway
# cluster on a unix socket, as in t0350) fed by closehook-receive: one row
# per won deal at its newest state, through updates, repeats, late events,
# replays, a forged capture and a database that is down for a while.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"
. "$TOP/tests/fakes/example-helpers.sh"

. "$(dirname "$0")/fakes/pg-helpers.sh"
start_postgres
command -v flock >/dev/null 2>&1 || skip_all "no flock"
pg() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
ok "the throwaway cluster answers" pg -c 'SELECT 1'

spool=$TMP/spool.ndjson
ok "closehook-receive starts" \
    start_receive recv --spool "$spool" --secret-file "$KEYS"
export CLOSEHOOK_SPOOL=$spool CLOSEHOOK_KEYS=$KEYS CLOSEHOOK_STATE=$TMP/pg
mkdir -p "$TMP/pg"

D=2026-11-26T12:00:
won='{"status_type":"won","status_label":"Won","lead_name":"Acme Corp","value":1000000,"value_currency":"USD","user_name":"Ada","date_won":"2026-11-26"}'
wonas() { jq -c --arg id "$1" --arg n "$2" --argjson v "$3" \
    '.id = $id | .lead_name = $n | .value = $v' <<<"$won"; }
{
	ev opportunity created ev_1c oppo_1 lead_1 "${D}01.000000" \
	    '{"id":"oppo_1","status_type":"active","lead_name":"Acme Corp","value":900000}'
	ev opportunity updated ev_1w oppo_1 lead_1 "${D}02.000000" \
	    "$(wonas oppo_1 'Acme Corp' 1000000)" '{"status_type":"active"}'
	ev opportunity created ev_2c oppo_2 lead_2 "${D}03.000000" \
	    "$(wonas oppo_2 'Bravo, "the" Inc' 50000)"
	ev opportunity updated ev_3l oppo_3 lead_3 "${D}04.000000" \
	    '{"id":"oppo_3","status_type":"lost","lead_name":"Charlie"}' \
	    '{"status_type":"active"}'
} >"$TMP/b1.ndjson"
python3 "$TOP/bench/gen" --format payloads --count 120 --seed 31 |
    jq -c 'select(.event.object_type != "opportunity")' >>"$TMP/b1.ndjson"
ok "Close delivers the first deals" deliver "$RURL/" "$TMP/b1.ndjson"

run "$EX/won-deals-postgres.sh"
is "$rc" 0 "won-deals-postgres.sh exits 0"
{ [ "$rc" -eq 0 ] && [ -z "$err" ]; } || sed 's/^/# /' "$TMP/err" | head -20 >&2
is "$err" "" "and says nothing"
table() {
	pg -c "SELECT opportunity_id, lead_name, status_type, value, currency,
	    user_name, date_won, event_id, date_updated
	    FROM close_won_deals ORDER BY 1"
}
is "$(table)" \
"oppo_1|Acme Corp|won|1000000|USD|Ada|2026-11-26|ev_1w|2026-11-26 12:00:02+00
oppo_2|Bravo, \"the\" Inc|won|50000|USD|Ada|2026-11-26|ev_2c|2026-11-26 12:00:03+00" \
    "the table it made holds the won deals, none other"
is "$(ls "$TMP/pg/won-deals.pending")" "" "no batch is left pending"

# Updates, a repeat, a late event and a deal lost after it was won.
{
	# A newer state of oppo_1: its value changed.
	ev opportunity updated ev_1v oppo_1 lead_1 "${D}05.000000" \
	    "$(wonas oppo_1 'Acme Corp' 1500000)" '{"value":1000000}'
	# Close's retry of oppo_2's event.
	sed -n 3p "$TMP/b1.ndjson"
	# An older state of oppo_1, arriving late: it changes nothing.
	ev opportunity updated ev_1old oppo_1 lead_1 "${D}01.500000" \
	    "$(wonas oppo_1 'Acme Corp' 1)" '{"status_label":"Old"}'
	# oppo_2 is lost after all: it keeps its row, with the new status.
	ev opportunity updated ev_2l oppo_2 lead_2 "${D}06.000000" \
	    '{"id":"oppo_2","status_type":"lost","status_label":"Lost","lead_name":"Bravo, \"the\" Inc","value":50000,"value_currency":"USD","user_name":"Ada"}' \
	    '{"status_type":"won"}'
	ev opportunity created ev_5c oppo_5 lead_5 "${D}07.000000" \
	    "$(wonas oppo_5 'Echo' 70000)"
	# Twice in one batch: the newer one wins.
	ev opportunity updated ev_5v oppo_5 lead_5 "${D}08.000000" \
	    "$(wonas oppo_5 'Echo' 75000)" '{"value":70000}'
} >"$TMP/b2.ndjson"
ok "Close delivers updates" deliver "$RURL/" "$TMP/b2.ndjson"
run "$EX/won-deals-postgres.sh"
is "$rc" 0 "the next run exits 0"
is "$(table)" \
"oppo_1|Acme Corp|won|1500000|USD|Ada|2026-11-26|ev_1v|2026-11-26 12:00:05+00
oppo_2|Bravo, \"the\" Inc|lost|50000|USD|Ada||ev_2l|2026-11-26 12:00:06+00
oppo_5|Echo|won|75000|USD|Ada|2026-11-26|ev_5v|2026-11-26 12:00:08+00" \
    "the upsert took each deal's newest state; late and repeated events changed nothing"
table >"$TMP/table.before"

rm "$TMP/pg/won-deals.offset"
run "$EX/won-deals-postgres.sh"
is "$rc" 0 "a replay of the whole spool exits 0"
table >"$TMP/table.after"
same_file "$TMP/table.before" "$TMP/table.after" "and leaves the table as it was"
is "$(pg -c 'SELECT count(*), count(DISTINCT opportunity_id) FROM close_won_deals')" \
    "3|3" "no duplicate rows"

# A forged capture in the spool (one that did not come through the
# receiver's check) is rejected by verify and loads nothing; the rest of
# the batch still loads.
ev opportunity created ev_7c oppo_7 lead_7 "${D}09.000000" \
    "$(wonas oppo_7 'Forged' 1)" >"$TMP/forged.body"
capture "$(date +%s)" 0000000000000000000000000000000000000000000000000000000000000000 \
    "$(cat "$TMP/forged.body")" |
    jq -c ".received_at = \"$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)\"" >>"$spool"
ev opportunity created ev_8c oppo_8 lead_8 "${D}10.000000" \
    "$(wonas oppo_8 'Foxtrot' 80000)" >"$TMP/b3.ndjson"
ok "Close delivers another deal" deliver "$RURL/" "$TMP/b3.ndjson"
run "$EX/won-deals-postgres.sh"
is "$rc" 0 "a forged capture does not fail the run"
is "$(pg -c "SELECT string_agg(opportunity_id, ' ' ORDER BY 1) FROM close_won_deals")" \
    "oppo_1 oppo_2 oppo_5 oppo_8" "the real deal is loaded, the forged one not"
is "$(jq -r .reason "$TMP/pg/won-deals.rejects.ndjson" | sort -u)" \
    signature-mismatch "the forged one is in the rejects file"

# PostgreSQL is unreachable for a while: the batch stays pending and is
# loaded by the next run that reaches it, even without the rewind.
ev opportunity created ev_9c oppo_9 lead_9 "${D}11.000000" \
    "$(wonas oppo_9 'Golf' 90000)" >"$TMP/b4.ndjson"
ok "Close delivers a deal while the database is down" \
    deliver "$RURL/" "$TMP/b4.ndjson"
run env PGHOST="$TMP/no-such-dir" CLOSEHOOK_REWIND=0 \
    "$EX/won-deals-postgres.sh"
is "$rc" 1 "a run that cannot reach PostgreSQL exits 1"
like "$err" "*won-deals.pending/*.ndjson not loaded; kept for the next run*" \
    "saying its batch is kept"
is "$(find "$TMP/pg/won-deals.pending" -name '*.ndjson' | wc -l)" 1 \
    "one batch is pending"
run env CLOSEHOOK_REWIND=0 "$EX/won-deals-postgres.sh"
is "$rc" 0 "the next run, with the database back, exits 0"
is "$(pg -c "SELECT lead_name, value FROM close_won_deals WHERE opportunity_id = 'oppo_9'")" \
    "Golf|90000" "and loads the pending batch"
is "$(ls "$TMP/pg/won-deals.pending")" "" "which is gone"

# Values their columns cannot take (beyond bigint, a date that is none) do
# not stop the load: the deal is loaded with NULL there, and a warning
# names the event.
ev opportunity created ev_10c oppo_10 lead_10 "${D}12.000000" \
    "$(wonas oppo_10 'Hotel' 1e30 | jq -c '.date_won = "2026-02-30"')" \
    >"$TMP/b5.ndjson"
ok "Close delivers a deal whose value is out of range" \
    deliver "$RURL/" "$TMP/b5.ndjson"
run env CLOSEHOOK_REWIND=0 "$EX/won-deals-postgres.sh"
is "$rc" 0 "the run exits 0"
like "$err" "*won-deals: event ev_10c: value \"1e+30\" is not a bigint: loaded as NULL*" \
    "naming the event and the value"
like "$err" "*won-deals: event ev_10c: date_won \"2026-02-30\" is not a date: loaded as NULL*" \
    "and a date that is none"
is "$(pg -c "SELECT lead_name, value IS NULL, date_won IS NULL FROM close_won_deals WHERE opportunity_id = 'oppo_10'")" \
    "Hotel|t|t" "the deal is loaded, its value and date NULL"
is "$(ls "$TMP/pg/won-deals.pending")" "" "no batch is left pending"

# Two runs at once (a timer and a hand-started run) would read the spool
# twice: the second one steps aside.
exec 8>>"$TMP/pg/won-deals.lock"
ok "(the test holds the lock)" flock -n 8
run "$EX/won-deals-postgres.sh"
is "$rc:$err" "0:won-deals: a previous run is still going; skipped" \
    "a run while another holds the lock exits 0 and skips"
exec 8>&-

run env CLOSEHOOK_KEYS="$TMP/nothing" "$EX/won-deals-postgres.sh"
is "$rc:$err" "2:won-deals: cannot read $TMP/nothing" "no key file: exit 2"

stop_receive
done_testing
