# shellcheck shell=bash disable=SC2034 # RPID, RPORT, RURL: for the caller
# tests/fakes/receive-helpers.sh - running closehook-receive in the
# closehook-receive tests (sourced by tests/t08NN-receive-*.t after
# tests/lib.sh).  Every server listens on 127.0.0.1 port 0 and is killed
# when the test ends.

# start_receive NAME [OPTIONS...]: start closehook-receive on a free
# loopback port with stdout to $RECV_STDOUT (default $TMP/NAME.out; the
# word "closed" closes it) and stderr to $TMP/NAME.err; sets RPID (its
# process id), RPORT and RURL.  Returns 1 when it does not come up.
start_receive() {
	local name=$1 _
	shift
	RPORT=
	: >"$TMP/$name.err"
	if [ "${RECV_STDOUT:-}" = closed ]; then
		closehook-receive -l 127.0.0.1:0 "$@" >&- 2>"$TMP/$name.err" &
	else
		closehook-receive -l 127.0.0.1:0 "$@" \
		    >"${RECV_STDOUT:-$TMP/$name.out}" 2>"$TMP/$name.err" &
	fi
	RPID=$!
	at_exit "kill -9 $RPID 2>/dev/null"
	for _ in $(seq 200); do
		RPORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
		    "$TMP/$name.err")
		[ -n "$RPORT" ] && break
		kill -0 "$RPID" 2>/dev/null || break
		sleep 0.05
	done
	RURL=http://127.0.0.1:$RPORT
	[ -n "$RPORT" ]
}

# stop_receive [SIGNAL]: signal the server (default TERM), wait for it
# (at most 20 s) and set rc to its exit status.
stop_receive() {
	local _
	kill "-${1:-TERM}" "$RPID" 2>/dev/null
	for _ in $(seq 400); do
		kill -0 "$RPID" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$RPID" 2>/dev/null
	wait "$RPID"
	rc=$?
}

# post [CURL OPTIONS...] URL: POST with curl; prints the status code.
post() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@"
}

# metric NAME: the value of one metric line (NAME includes any labels).
metric() {
	curl -s --max-time 5 "$RURL/metrics" |
	    awk -v m="$1" '$1 == m { print $2 }'
}

# send_events URL FILE [SENDER OPTIONS...]: the fake Close sender, with the
# key of bench/gen; its summary goes to $TMP/sender.json.
GEN_KEY=5f0c3e1bd2a84c7f9e6a1b3d5c7e9f0a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e
send_events() {
	local url=$1 file=$2
	shift 2
	timeout "$(slow 60)" python3 "$TOP/tests/fakes/sender.py" \
	    --key "$GEN_KEY" --timeout "$(slow 5)" "$@" "$url" "$file" \
	    >"$TMP/sender.json"
}

# bodies_of FILE: the bodies of the captures in FILE (bytes, one a line,
# base64 bodies decoded), in order; a line that is not a capture prints
# as "!torn".
bodies_of() {
	python3 - "$1" <<'PY'
import base64, json, sys
out = sys.stdout.buffer
for line in open(sys.argv[1], "rb"):
    try:
        c = json.loads(line)
        b = c["body"].encode("utf-8", "surrogatepass") if "body" in c \
            else base64.b64decode(c["body_base64"])
    except Exception:
        b = b"!torn"
    out.write(b + b"\n")
PY
}
