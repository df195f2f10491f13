# tests/fakes/close.sh - start the fake Close API (close.py) from a shell
# test that sourced tests/lib.sh.
#
#   fake_start [close.py options...]
#
# starts it in the background on a free port, stops it when the test ends,
# and sets FAKE_URL (the API base, .../api/v1), FAKE_ROOT (http://host:port),
# FAKE_LOG (its request log) and FAKE_PID.  CLOSE_API_KEY is set to the
# fake's key.  fake_requests prints the number of API requests logged.

fake_start() {
	local pf=$TMP/fake.port.$$.$RANDOM i
	FAKE_LOG=$TMP/fake.log.$RANDOM
	: >"$FAKE_LOG"
	python3 "$TOP/tests/fakes/close.py" --port-file "$pf" \
	    --log "$FAKE_LOG" "$@" 2>"$TMP/fake.err" &
	FAKE_PID=$!
	at_exit "kill $FAKE_PID 2>/dev/null"
	for i in $(seq 200); do
		[ -s "$pf" ] && break
		kill -0 "$FAKE_PID" 2>/dev/null || break
		sleep 0.05
	done
	if [ ! -s "$pf" ]; then
		echo "# the fake Close did not start:" >&2
		sed 's/^/#   /' "$TMP/fake.err" >&2
		return 1
	fi
	FAKE_ROOT=http://127.0.0.1:$(cat "$pf")
	FAKE_URL=$FAKE_ROOT/api/v1
	CLOSE_API_KEY=api_test_key
	export CLOSE_API_KEY FAKE_URL FAKE_ROOT FAKE_LOG
}

fake_stop() {
	kill "$FAKE_PID" 2>/dev/null
	wait "$FAKE_PID" 2>/dev/null || true
}

# fake_requests: API requests (not /_fake/ control ones) in the log.
fake_requests() {
	grep -c '"path": "/api/' "$FAKE_LOG" || true
}

# fake_events FILE: the fake's current event set, oldest first.
fake_events() {
	curl -sf "$FAKE_ROOT/_fake/events" >"$1"
}

# unwrap: event records on stdin to the bare event bytes.
unwrap() {
	sed 's/^{"subscription_id":null,"event"://; s/}$//'
}
