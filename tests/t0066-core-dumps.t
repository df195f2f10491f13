#!/bin/bash
# shellcheck disable=SC2154 # run and stop_receive set rc, out, err
# A core file of a program that holds secrets would hold them too (receive's
# HMAC pad states, post's bearer token, dedupe's Redis password): every
# program that may load a secret makes itself non-dumpable and sets its
# core size limit to 0 at start.  tests/fakes/dumpable.c, preloaded, tells
# what a process had when it exited; /proc/PID/limits what a running one
# has.  The core limit is raised first, so that a program that leaves it
# alone shows it; closehook-flatten, which holds no secret, is the control.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/close.sh"
. "$TOP/tests/fakes/post-helpers.sh"
. "$TOP/tests/fakes/receive-helpers.sh"

if ! cc -shared -fPIC -o "$TMP/dumpable.so" "$TOP/tests/fakes/dumpable.c" \
    2>"$TMP/cc.err"; then
	skip_all "cannot build the fake: $(head -n 1 "$TMP/cc.err")"
fi
if ! ulimit -c unlimited 2>/dev/null && ! ulimit -c 1000000 2>/dev/null; then
	skip_all "cannot raise the core size limit"
fi
export DUMPABLE_LOG=$TMP/dumpable.log
# The sanitizer runtime need not come first: this library only reads; and
# it must leave the core limit alone (it sets it to 0 by default), or the
# control below would prove nothing.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:disable_coredump=0
pre() { LD_PRELOAD=$TMP/dumpable.so "$@"; }
# at_exit_state: what the last process preloaded reported, then forget it.
at_exit_state() {
	tail -n 1 "$DUMPABLE_LOG" 2>/dev/null
	rm -f "$DUMPABLE_LOG"
}

echo "$KAV_KEY" >"$TMP/keys"
echo "api_test_key" >"$TMP/api-key"
echo "s3cret-token" >"$TMP/token"
chmod 600 "$TMP/keys" "$TMP/api-key" "$TMP/token"

# The control: a program that holds no secret keeps the defaults.
pre closehook-flatten </dev/null >/dev/null
like "$(at_exit_state)" "dumpable=1 core=[1-9-]*" \
    "control: closehook-flatten is dumpable, with the raised core limit"

# A running receive with keys: its limit is seen from outside.
ok "closehook-receive starts with keys" pre start_receive r \
    --spool "$TMP/spool" --secret-file "$TMP/keys"
like "$(grep 'Max core file size' "/proc/$RPID/limits")" \
    "Max core file size*0*0*" "a running receive has a core limit of 0"
stop_receive ""
is "$(at_exit_state)" "dumpable=0 core=0" "receive: not dumpable"

# A running post with a bearer token.
start_sink s --max-time 60
records 3 >"$TMP/in"
pre closehook-post -q --bearer-file "$TMP/token" --dead-letter "$TMP/dl" \
    "$SINK_URL/" <"$TMP/in" >/dev/null &
ppid=$!
wait "$ppid"
is "$?:$(at_exit_state)" "0:dumpable=0 core=0" \
    "post: delivered, and not dumpable"

pre closehook-verify --secret-file "$TMP/keys" </dev/null >/dev/null
is "$(at_exit_state)" "dumpable=0 core=0" "verify: not dumpable"
pre closehook-dedupe --store "$TMP/seen.sqlite" </dev/null >/dev/null
is "$(at_exit_state)" "dumpable=0 core=0" "dedupe: not dumpable"
ok "the fake Close API starts" fake_start
pre closehook-backfill -q --api-key-file "$TMP/api-key" --api-url "$FAKE_URL" \
    --since 1h >/dev/null
is "$(at_exit_state)" "dumpable=0 core=0" "backfill: not dumpable"
pre closehook-subscribe --api-key-file "$TMP/api-key" --api-url "$FAKE_URL" \
    list >/dev/null
is "$(at_exit_state)" "dumpable=0 core=0" "subscribe: not dumpable"
done_testing
