#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154,SC2016
# closehook-receive when the spool fails: a full disk gets 503 with
# Retry-After and leaves the spool holding every acknowledged capture, and
# only whole lines (a capture written whole before the failure stays,
# answered 503: a follower may have delivered it); with room again it
# answers 2xx.  A deleted, replaced or
# unreachable spool is never acknowledged into: the capture goes to a new
# file at the path, or gets 503.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"

python3 "$TOP/bench/gen" --format payloads --count 400 --seed 11 \
    >"$TMP/events"
head -n 250 "$TMP/events" >"$TMP/events1"
tail -n 150 "$TMP/events" >"$TMP/events2"

# ids_of FILE: the event ids of the captures in FILE, sorted (a line that
# is not a capture prints as "!torn").
ids_of() {
	bodies_of "$1" | jq -R -r 'fromjson? // {} | .event.id // "!torn"' |
	    sort
}
# acked_ids FILE: the event ids the sender saw acknowledged, sorted.
acked_ids() {
	jq -r '.body | fromjson | .event.id' "$1" | sort
}

# A full disk.  Each capture is ~2 KiB: 250 of them need ~500 KiB, and
# ~100 KiB are free.
mnt=$TMP/mnt
mkdir "$mnt"
if ! mount -t tmpfs -o size=1m,mode=0700 tmpfs "$mnt" 2>"$TMP/mount.err"; then
	skip "a full disk" "cannot mount a tmpfs: $(head -n 1 "$TMP/mount.err")"
else
	at_exit "umount -l '$mnt'"
	RECV_STDOUT=/dev/null
	ok "it starts with the spool on a small tmpfs" start_receive f \
	    --spool "$mnt/spool"
	unset RECV_STDOUT
	head -c 2M /dev/zero >"$mnt/fill" 2>/dev/null
	truncate -s -100K "$mnt/fill"
	: >"$TMP/acked1"
	t0=$SECONDS
	send_events "$RURL/" "$TMP/events1" --concurrency 8 --attempts 1 \
	    --acked "$TMP/acked1"
	acked=$(jq -r .acked "$TMP/sender.json")
	ok "some captures were acknowledged ($acked)" [ "$acked" -gt 0 ]
	is "$(jq -r '.statuses["503"] + .acked' "$TMP/sender.json")" 250 \
	    "the others got 503 ($(jq -c .statuses "$TMP/sender.json"))"
	head -c 30000 /dev/zero | tr '\0' a >"$TMP/big"
	like "$(curl -s -D - -o /dev/null --max-time 10 --data-binary "@$TMP/big" \
	    "$RURL/" | tr -d '\r')" "HTTP/1.1 503*Retry-After: 5*" \
	    "while the disk is full: 503 with Retry-After"
	like "$(cat "$TMP/f.err")" \
	    "*spool: No space left on device; answering 503 until it works again*" \
	    "the full disk is logged"
	is "$(curl -s -o /dev/null -w '%{http_code}' "$RURL/healthz")" 503 \
	    "/healthz says so (503), for a load balancer or a probe"
	is "$(curl -s "$RURL/metrics" | awk '$1 == "closehook_receive_spool_failing" { print $2 }')" 1 \
	    "and the metrics (closehook_receive_spool_failing 1)"
	n=$(grep -c 'No space left' "$TMP/f.err")
	ok "once, or once every 10 s ($n in $((SECONDS - t0)) s)" \
	    [ "$n" -le $(((SECONDS - t0) / 10 + 1)) ]
	ok "every line of the spool is JSON" jq -c . "$mnt/spool"
	ids_of "$mnt/spool" >"$TMP/spool.ids"
	acked_ids "$TMP/acked1" >"$TMP/acked.ids"
	jq -r '.event.id' "$TMP/events1" | sort >"$TMP/sent.ids"
	is "$(comm -23 "$TMP/acked.ids" "$TMP/spool.ids")" "" \
	    "the spool holds every acknowledged capture"
	# (comm counts repeated lines: a capture sent once is there once.)
	is "$(comm -23 "$TMP/spool.ids" "$TMP/sent.ids")" "" \
	    "and only captures sent, whole"
	extra1=$(comm -13 "$TMP/acked.ids" "$TMP/spool.ids" | wc -l)

	rm "$mnt/fill"
	: >"$TMP/acked2"
	send_events "$RURL/" "$TMP/events2" --concurrency 8 --attempts 1 \
	    --acked "$TMP/acked2"
	is "$(jq -r .acked "$TMP/sender.json")" 150 \
	    "with room again: all 150 acknowledged"
	like "$(cat "$TMP/f.err")" "*spool: captures are written again*" \
	    "and that is logged"
	is "$(curl -s "$RURL/healthz")" ok "/healthz is ok again"
	ok "every line of the spool is JSON" jq -c . "$mnt/spool"
	ids_of "$mnt/spool" >"$TMP/spool.ids"
	cat "$TMP/acked1" "$TMP/acked2" >"$TMP/acked"
	acked_ids "$TMP/acked" >"$TMP/acked.ids"
	is "$(comm -23 "$TMP/acked.ids" "$TMP/spool.ids")" "" \
	    "the spool holds every acknowledged capture"
	is "$(comm -13 "$TMP/acked.ids" "$TMP/spool.ids" | wc -l)" "$extra1" \
	    "and besides them only those written whole before the disk filled"
	stop_receive
	is "$rc" 0 "exit 0"
fi

# A deleted spool: the next capture goes to a new file at the path.
mkdir "$TMP/d"
spool=$TMP/d/spool
body() { printf '{"event":{"id":"%s"}}' "$1"; }
ok "it starts" start_receive d --spool "$spool"
is "$(post --data-binary "$(body d1)" "$RURL/")" 200 "a capture"
rm "$spool"
is "$(post --data-binary "$(body d2)" "$RURL/")" 200 \
    "after the spool was deleted: 200"
is "$(ids_of "$spool")" d2 "into a new spool at the path"
is "$(stat -c %a "$spool")" 640 "with the spool's mode"
is "$(grep -c 'deleted or replaced while open' "$TMP/d.err")" 1 \
    "one warning"
is "$(post --data-binary "$(body d3)" "$RURL/")" 200 "the next capture"
is "$(ids_of "$spool" | tr '\n' ' ')" "d2 d3 " "goes there too"

# Replaced by a rename: the captures go to the file the path names now.
capture "$KAV_TS" "$KAV_SIG" "$(body other)" >"$TMP/d/new"
mv "$TMP/d/new" "$spool"
is "$(post --data-binary "$(body d4)" "$RURL/")" 200 \
    "after the spool was replaced: 200"
is "$(ids_of "$spool" | tr '\n' ' ')" "d4 other " "into the file at the path"
is "$(grep -c 'deleted or replaced while open' "$TMP/d.err")" 2 \
    "one more warning"

# Its directory gone: no file can take the capture, so 503, until it is
# back.
rm -r "$TMP/d"
like "$(curl -s -D - -o /dev/null --max-time 10 --data-binary "$(body d5)" \
    "$RURL/" | tr -d '\r')" "HTTP/1.1 503*Retry-After: 5*" \
    "with the spool's directory gone: 503 with Retry-After"
like "$(cat "$TMP/d.err")" "*$spool: No such file or directory*" \
    "says why"
mkdir "$TMP/d"
is "$(post --data-binary "$(body d6)" "$RURL/")" 200 \
    "with the directory back: 200"
is "$(ids_of "$spool")" d6 "into a new spool"
stop_receive
is "$rc" 0 "exit 0"

# A sync that fails (the disk lost a write-back; tests/fakes/failsync.c
# fakes it while a flag file exists): the batch gets 503 but stays (a
# follower may have delivered it; t0940), the spool's descriptors are
# closed and it is reopened before the next 2xx.
spool_fds() { # the descriptors receive holds on $spool
	local fd
	for fd in /proc/"$RPID"/fd/*; do
		[ "$(readlink "$fd")" = "$spool" ] && echo "${fd##*/}"
	done | sort -n | tr '\n' ' '
}
if ! cc -shared -fPIC -o "$TMP/failsync.so" "$TOP/tests/fakes/failsync.c" \
    -ldl 2>"$TMP/cc.err"; then
	skip "a failed sync" "cannot build the fake: $(head -n 1 "$TMP/cc.err")"
else
	mkdir "$TMP/s"
	spool=$TMP/s/spool
	export FAILSYNC_FLAG=$TMP/failsync
	# The sanitizer runtime need not come first: this library only wraps.
	LD_PRELOAD=$TMP/failsync.so \
	    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	    start_receive s --spool "$spool"
	ok "it starts with fdatasync faked" [ -n "$RPORT" ]
	is "$(post --data-binary "$(body s1)" "$RURL/")" 200 "a capture"
	fds=$(spool_fds)
	like "$fds" "[0-9]* [0-9]* " "a descriptor on the spool per committer"
	touch "$FAILSYNC_FLAG"
	like "$(curl -s -D - -o /dev/null --max-time 10 --data-binary "$(body s2)" \
	    "$RURL/" | tr -d '\r')" "HTTP/1.1 503*Retry-After: 5*" \
	    "a failed sync: 503 with Retry-After"
	like "$(cat "$TMP/s.err")" \
	    "*$spool: Input/output error; answering 503 until it works again*" \
	    "is logged"
	is "$(ids_of "$spool" | tr '\n' ' ')" "s1 s2 " \
	    "the capture whose sync failed stays, whole"
	rm "$FAILSYNC_FLAG"
	is "$(post --data-binary "$(body s3)" "$RURL/")" 200 \
	    "once syncs work: 200"
	is "$(ids_of "$spool" | tr '\n' ' ')" "s1 s2 s3 " \
	    "the spool holds s1, s2 and s3"
	like "$(spool_fds)" "[0-9]* [0-9]* " "two descriptors again"
	ok "not the old ones: the spool was reopened ($fds, $(spool_fds))" \
	    [ "$(spool_fds)" != "$fds" ]
	like "$(cat "$TMP/s.err")" "*spool: captures are written again*" \
	    "the end of the outage is logged"
	stop_receive
	is "$rc" 0 "exit 0"
	unset FAILSYNC_FLAG
fi

done_testing
