#!/bin/bash
# closehook-backfill filters: unsupported combinations exit 2 naming the
# accepted ones and make no request; accepted ones are sent as Close's
# query parameters with every page; --since is inclusive and --until
# exclusive to the microsecond; relative times; --event fetches one event;
# Close's 400 error text is shown.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/close.sh"

fake_start --count 300 --seed 31 --span 20000 --ties
fake_events "$TMP/want"

bad=("--object-type lead" "--action created" "--object-id x"
    "--lead-id l --action created" "--request-id r --lead-id l"
    "--user-id u --lead-id l --object-id o"
    "--object-type lead --object-id o --action created")
for b in "${bad[@]}"; do
	# shellcheck disable=SC2086
	exit_is 2 "unsupported filters $b" \
	    closehook-backfill --api-url "$FAKE_URL" $b
	like "$err" "*does not accept*accepted:*lead-id+user-id*" \
	    "$b: the message names the accepted combinations"
done
# The first line says, in a sentence, which filters cannot go alone or
# together.
first() { printf '%s\n' "${err%%$'\n'*}"; }
msg="closehook-backfill: Close's Event Log does not accept"
run closehook-backfill --api-url "$FAKE_URL" --object-type lead
is "$(first)" "$msg --object-type alone;" "one filter: named alone"
run closehook-backfill --api-url "$FAKE_URL" --request-id r --lead-id l
is "$(first)" "$msg --lead-id and --request-id together;" \
    "two filters: both named, together"
run closehook-backfill --api-url "$FAKE_URL" --user-id u --lead-id l \
    --object-id o
is "$(first)" "$msg --object-id, --lead-id and --user-id together;" \
    "three filters: a list"
is "$(fake_requests)" 0 "unsupported combinations made no request"

# Accepted combinations: the same filters on every page, cursor included.
lead=$(jq -r 'select(.lead_id != null) | .lead_id' "$TMP/want" |
    sort | uniq -c | sort -rn | head -1 | awk '{print $2}')
user=$(jq -r 'select(.user_id != null) | .user_id' "$TMP/want" |
    sort | uniq -c | sort -rn | head -1 | awk '{print $2}')
run closehook-backfill --api-url "$FAKE_URL" --order newest -q \
    --lead-id "$lead" --user-id "$user"
is "$rc" 0 "lead-id + user-id exits 0"
is "$(unwrap <"$TMP/out" | tac)" \
    "$(jq -r --arg l "$lead" --arg u "$user" \
    'select(.lead_id == $l and .user_id == $u) | .id' "$TMP/want" |
    grep -Ff - "$TMP/want")" "... writes exactly the matching events"
is "$(jq -c 'select(.path == "/api/v1/event/") |
    .query | del(._cursor, ._limit)' "$FAKE_LOG" | sort -u)" \
    "{\"lead_id\":[\"$lead\"],\"user_id\":[\"$user\"]}" \
    "... sending both filters with every page"
run closehook-backfill --api-url "$FAKE_URL" --order newest -q \
    --object-type opportunity --action updated
is "$rc" 0 "object-type + action exits 0"
is "$(jq -r '.event | "\(.object_type)/\(.action)"' "$TMP/out" | sort -u)" \
    "opportunity/updated" "... writes only such events"

# --since inclusive, --until exclusive, exactly at an event's date.
mid=$(sed -n 100p "$TMP/want" | jq -r .date_updated)
hi=$(sed -n 200p "$TMP/want" | jq -r .date_updated)
run closehook-backfill --api-url "$FAKE_URL" -q --since "${mid}Z" \
    --until "${hi}Z"
is "$rc" 0 "--since and --until exit 0"
is "$(unwrap <"$TMP/out" | jq -r .id | sort)" \
    "$(jq -r --arg a "$mid" --arg b "$hi" \
    'select(.date_updated >= $a and .date_updated < $b) | .id' \
    "$TMP/want" | sort)" "events in [since, until) exactly"
is "$(unwrap <"$TMP/out" | head -n 1 | jq -r .date_updated)" "$mid" \
    "an event dated exactly --since is included"
ok "no event dated exactly --until is included" \
    [ "$(jq -r .event.date_updated "$TMP/out" | grep -cxF "$hi")" -eq 0 ]
run closehook-backfill --api-url "$FAKE_URL" -q --since "${mid}+00:00" \
    --until "${hi}+00:00" --order newest
is "$(unwrap <"$TMP/out" | jq -r .id | sort)" \
    "$(jq -r --arg a "$mid" --arg b "$hi" \
    'select(.date_updated >= $a and .date_updated < $b) | .id' \
    "$TMP/want" | sort)" "the same range newest first (offset +00:00)"

# Relative times: 90m before now.
run closehook-backfill --api-url "$FAKE_URL" -q --since 90m
cut=$(date -u -d '-90 minutes' +%Y-%m-%dT%H:%M:%S)
is "$(unwrap <"$TMP/out" | jq -r .id | sort)" \
    "$(jq -r --arg a "$cut" 'select(.date_updated >= $a) | .id' \
    "$TMP/want" | sort)" "--since 90m: the last 90 minutes"
exit_is 2 "a bad --since exits 2" closehook-backfill --since yesterday
exit_is 2 "--since after --until exits 2" \
    closehook-backfill --since 1h --until 2h
from=$(fake_requests)
run closehook-backfill --api-url "$FAKE_URL" --since 40d --until 33d
like "$err" "*older than Close's 30-day retention*" \
    "--since before the retention is warned about"
is "$rc:$(fake_requests)" "0:$from" \
    "... and a range wholly before it asks for nothing (not a day at a time)"
from=$(fake_requests)
run closehook-backfill --api-url "$FAKE_URL" --since 400d -q
is "$rc" 0 "--since 400d: exit 0"
first=$(grep '"path": "/api/' "$FAKE_LOG" | sed -n "$((from + 1))p" | jq -r '.query.date_updated__gte[0]')
ok "... it starts a day before the retention, not 400 days back ($first)" python3 -c '
import datetime, sys
d = datetime.datetime.fromisoformat(sys.argv[1].rstrip("Z"))
age = datetime.datetime.utcnow() - d
sys.exit(0 if datetime.timedelta(days=30) < age < datetime.timedelta(days=31, minutes=5) else 1)' "$first"

# --event-id ID (--event, its earlier name, too)
id=$(sed -n 42p "$TMP/want" | jq -r .id)
run closehook-backfill --api-url "$FAKE_URL" --event-id "$id"
is "$rc" 0 "--event-id exits 0"
is "$(unwrap <"$TMP/out")" "$(sed -n 42p "$TMP/want")" \
    "--event-id writes that event as served"
is "$(tail -n 1 "$FAKE_LOG" | jq -r .path)" "/api/v1/event/$id/" \
    "--event-id asks /event/ID/"
exit_is 1 "--event (the earlier name) with an unknown id exits 1" \
    closehook-backfill --api-url "$FAKE_URL" --event ev_nosuchevent
like "$err" "*no such event*" "... saying so"
exit_is 2 "--event-id with filters exits 2" \
    closehook-backfill --api-url "$FAKE_URL" --event-id "$id" --lead-id x
like "$err" "*--event-id takes no filters*" "... saying so"

# Close's 400 text: a state whose cursor the API refuses.
printf '{"version":1,"filters":"","status":"running","order":"newest","cursor":"garbage"}\n' \
    >"$TMP/badst"
exit_is 2 "a 400 answer exits 2" \
    closehook-backfill --api-url "$FAKE_URL" --order newest -q \
    --state "$TMP/badst"
like "$err" "*HTTP 400*Invalid cursor*" "... showing Close's error text"

done_testing
