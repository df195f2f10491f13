#!/bin/bash
# shellcheck disable=SC2016,SC2119,SC2154 # run and closed set rc, out, err
# Every program started with stdin, stdout or stderr closed: the next file
# or socket it opens would take the closed number and get the data or the
# diagnostics meant for it.  A closed stdout in a program that writes data
# there is exit 2 with "closehook-NAME: stdout is closed" before anything
# is read, sent or written (no request, no checkpoint, no offset, no seen
# key, no rejects file); a closed stderr or stdin is /dev/null, so no
# diagnostic lands in a spool or rejects file and no file is read as input.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/close.sh"
. "$TOP/tests/fakes/post-helpers.sh"
. "$TOP/tests/fakes/receive-helpers.sh"

# closed FD CMD...: run CMD with descriptor FD (0, 1 or 2) closed, the
# others of stdout and stderr in $TMP/out and $TMP/err, at most 30 s; sets
# rc, out and err.
closed() {
	local fd=$1
	shift
	: >"$TMP/out"
	: >"$TMP/err"
	case $fd in
	0) timeout "$(slow 30)" "$@" <&- >"$TMP/out" 2>"$TMP/err" ;;
	1) timeout "$(slow 30)" "$@" >&- 2>"$TMP/err" ;;
	2) timeout "$(slow 30)" "$@" 2>&- >"$TMP/out" ;;
	esac
	rc=$?
	out=$(cat "$TMP/out")
	err=$(cat "$TMP/err")
}

# stdout_refused NAME: the last `closed 1` run of closehook-NAME exited 2
# saying that stdout is closed, and nothing else.
stdout_refused() {
	is "$rc" 2 "$1 >&-: exit 2"
	is "$err" "closehook-$1: stdout is closed" "$1 >&-: says stdout is closed"
}

# all_json FILE: every line of FILE is a JSON value (no diagnostic in it).
all_json() {
	python3 -c 'import json, sys
for line in open(sys.argv[1]):
    json.loads(line)' "$1" 2>/dev/null
}

echo "$KAV_KEY" >"$TMP/keys"
chmod 600 "$TMP/keys"
good=$(capture "$KAV_TS" "$KAV_SIG" "$KAV_BODY")
bad=$(capture "$KAV_TS" 00 "$KAV_BODY")
printf '%s\n%s\n' "$good" "$bad" >"$TMP/caps"
V=(closehook-verify --max-age 0 --secret-file "$TMP/keys")

# -- closed stdout --------------------------------------------------------
closed 1 "${V[@]}" --rejects "$TMP/vrej" "$TMP/caps"
stdout_refused verify
ok "verify >&-: no rejects file" [ ! -e "$TMP/vrej" ]

printf '{"a":1}\nnot json\n' >"$TMP/recs"
closed 1 closehook-flatten --rejects "$TMP/frej" "$TMP/recs"
stdout_refused flatten
ok "flatten >&-: no rejects file" [ ! -e "$TMP/frej" ]

printf '%s\n' "$KAV_BODY" >"$TMP/ev"
closed 1 closehook-dedupe --store "$TMP/seen.sqlite" "$TMP/ev"
stdout_refused dedupe
run closehook-dedupe --store "$TMP/seen.sqlite" "$TMP/ev"
is "$out" "$KAV_BODY" "dedupe >&-: the key was not recorded as seen"

cp "$TMP/caps" "$TMP/spool"
closed 1 closehook-follow --once --offset-file "$TMP/off" "$TMP/spool"
stdout_refused follow
ok "follow >&-: no offset committed" [ ! -e "$TMP/off" ]

start_sink sink
closed 1 closehook-post --dead-letter "$TMP/dl" "$SINK_URL/hook" "$TMP/recs"
stdout_refused post
is "$(wc -l <"$TMP/sink.log")" 0 "post >&-: nothing delivered"
ok "post >&-: nothing dead-lettered" [ ! -e "$TMP/dl" ]

fake_start --count 40 --seed 3 --webhook-page-size 2
run closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st" -q
is "$rc" 0 "backfill: a first run completes"
cp "$TMP/st" "$TMP/st.before"
n=$(fake_requests)
closed 1 closehook-backfill --api-url "$FAKE_URL" --state "$TMP/st" -q
stdout_refused backfill
same_file "$TMP/st" "$TMP/st.before" "backfill >&-: the checkpoint is not advanced"
is "$(fake_requests)" "$n" "backfill >&-: no request sent"

S=(closehook-subscribe --api-url "$FAKE_URL")
curl -sf -X POST "$FAKE_ROOT/_fake/webhook_add?n=1" >/dev/null
n=$(fake_requests)
closed 1 "${S[@]}" list
stdout_refused subscribe
closed 1 "${S[@]}" create --url https://example.com/hook \
    --event lead:created --key-out "$TMP/sub.keys"
stdout_refused subscribe
ok "subscribe create >&-: no key file" [ ! -e "$TMP/sub.keys" ]
closed 1 "${S[@]}" -n delete whsub_x
stdout_refused subscribe
is "$(fake_requests)" "$n" "subscribe >&-: no request sent"
# check and delete write nothing to stdout: they work without one.
closed 1 "${S[@]}" check
is "$rc/$err" 0/ "subscribe check >&-: exit 0, quietly"
id=$("${S[@]}" list | jq -r .id | head -1)
closed 1 "${S[@]}" delete "$id"
is "$rc/$err" 0/ "subscribe delete >&-: exit 0, quietly"
ok "subscribe delete >&-: the subscription is gone" \
    bash -c '! "$@" list | grep -q "$0"' "$id" "${S[@]}"

# receive: stdout is optional with --spool, but --help needs it.
closed 1 closehook-receive --help
is "$rc" 2 "receive --help >&-: exit 2"
is "$err" "closehook-receive: stdout: Bad file descriptor" \
    "receive --help >&-: says why"
closed 1 closehook-post --version
stdout_refused post

printf '%s' "$KAV_BODY" >"$TMP/body"
closed 1 closehook-capture --body "$TMP/body"
stdout_refused capture

# -- closed stderr --------------------------------------------------------
closed 2 "${V[@]}" --rejects "$TMP/vrej2" "$TMP/caps"
is "$rc/$out" "1/$KAV_BODY" "verify 2>&-: the good capture passes, exit 1"
is "$(wc -l <"$TMP/vrej2")" 1 "verify 2>&-: one line in the rejects file"
is "$(jq -r .reason "$TMP/vrej2" 2>/dev/null)" bad-signature \
    "verify 2>&-: ... the reject, no diagnostic"

closed 2 closehook-flatten --rejects "$TMP/frej2" "$TMP/recs"
is "$rc/$out" '1/{"a":1}' "flatten 2>&-: the record passes, exit 1"
is "$(wc -l <"$TMP/frej2")" 1 "flatten 2>&-: one line in the rejects file"
ok "flatten 2>&-: ... a JSON reject, no diagnostic" all_json "$TMP/frej2"

# receive: the port is not on stderr; ask the kernel.
closehook-receive -l 127.0.0.1:0 --spool "$TMP/rspool" --max-age 0 \
    --secret-file "$TMP/keys" --keep-rejects "$TMP/rrej" \
    2>&- >"$TMP/r.out" &
rpid=$!
at_exit "kill -9 $rpid 2>/dev/null"
RPORT=
for _ in $(seq 200); do
	RPORT=$(ss -Hltnp 2>/dev/null |
	    sed -n "/pid=$rpid,/s/^.* 127\.0\.0\.1:\([0-9]*\) .*/\1/p")
	[ -n "$RPORT" ] && break
	sleep 0.05
done
ok "receive 2>&- starts" [ -n "$RPORT" ]
RURL=http://127.0.0.1:$RPORT
is "$(post -H "close-sig-hash: $KAV_SIG" -H "close-sig-timestamp: $KAV_TS" \
    --data-binary "$KAV_BODY" "$RURL/")" 200 "receive 2>&-: a POST is taken"
is "$(post -H "close-sig-hash: 00" -H "close-sig-timestamp: $KAV_TS" \
    --data-binary "$KAV_BODY" "$RURL/")" 401 "receive 2>&-: a forgery is not"
RPID=$rpid
stop_receive
is "$rc" 0 "receive 2>&-: exit 0 on SIGTERM"
is "$(wc -l <"$TMP/rspool")" 1 "receive 2>&-: one line in the spool"
is "$(bodies_of "$TMP/rspool")" "$KAV_BODY" "receive 2>&-: ... the capture"
is "$(wc -l <"$TMP/rrej")" 1 "receive 2>&-: one line in the rejects file"
ok "receive 2>&-: ... a JSON reject, no diagnostic" all_json "$TMP/rrej"
same_file "$TMP/rspool" "$TMP/r.out" "receive 2>&-: stdout holds the capture"

# -- closed stdin: empty input, not a file opened in its place ------------
closed 0 "${V[@]}" --rejects "$TMP/vrej3"
is "$rc/$out/$err" 0// "verify <&-: empty input, exit 0"
closed 0 closehook-flatten --rejects "$TMP/frej3"
is "$rc/$out/$err" 0// "flatten <&-: empty input, exit 0"
closed 0 closehook-dedupe --store "$TMP/seen.sqlite"
is "$rc/$out/$err" 0// "dedupe <&-: empty input, exit 0"
closed 0 closehook-post -q --dead-letter "$TMP/dl3" "$SINK_URL/hook"
is "$rc/$out/$err" 0// "post <&-: empty input, exit 0"
is "$(wc -l <"$TMP/sink.log")" 0 "post <&-: nothing delivered"
closed 0 closehook-capture --http
is "$rc/$out/$err" 0// "capture <&-: empty input, exit 0"
done_testing
