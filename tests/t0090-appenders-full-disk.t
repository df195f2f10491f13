#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154 # lib.sh: sourced; run sets rc, out, err
# A full disk while a record is appended: the write stops part of the way
# in.  Each appender undoes it (the file keeps no partial line), counts
# the record as not done and stops with exit 2 naming the file; once there
# is room, the same run again appends cleanly.  post's --dead-letter,
# verify's, dedupe's and flatten's --rejects, on a small tmpfs (receive's
# spool: t0860).  A sync that fails is undone the same way.
. "$(dirname "$0")/lib.sh"

mnt=$TMP/mnt
mkdir "$mnt"
mount -t tmpfs -o size=256k,mode=0700 tmpfs "$mnt" 2>"$TMP/mount.err" ||
	skip_all "cannot mount a tmpfs: $(head -n 1 "$TMP/mount.err")"
at_exit "umount -l '$mnt'"

# fill KiB: leave about KiB free on the tmpfs; a file of zeros takes the rest.
fill() {
	rm -f "$mnt/fill"
	head -c 1M /dev/zero >"$mnt/fill" 2>/dev/null
	truncate -s "-$1K" "$mnt/fill"
}

# A record of ~20 KiB: more than the 8 KiB left, so the write is cut short.
pad=$(head -c 20000 /dev/zero | tr '\0' x)
big="{\"event\":{\"id\":\"ev_big\",\"pad\":\"$pad\"}}"

# full NAME FILE WHAT CMD...: FILE holds one line; with the disk full, CMD
# must exit 2 saying FILE: No space left on device; WHAT, and leave FILE as
# it was; with room, exit 1 and append one line of JSON.
full() {
	local name=$1 file=$2 what=$3
	shift 3
	printf '%s\n' '{"kept":1}' >"$file"
	chmod 600 "$file"
	cp "$file" "$TMP/before"
	fill 8
	run "$@"
	is "$rc" 2 "$name: a full disk is fatal (exit 2)"
	like "$err" "*closehook-$name: $file: No space left on device; $what*" \
	    "$name: the message names the file, the error and the record"
	same_file "$file" "$TMP/before" \
	    "$name: the file is as it was, no partial line"
	rm -f "$mnt/fill"
	run "$@"
	is "$rc" 1 "$name: with room, the same run appends (exit 1)"
	ok "$name: every line is JSON" jq -c . "$file"
	is "$(wc -l <"$file")" 2 "$name: one line more"
}

# post: nothing listens on port 1, so the record is dead-lettered.
echo "$big" >"$TMP/big"
full post "$mnt/dl" "1 record not dead-lettered" closehook-post -q \
    --retries 0 --dead-letter "$mnt/dl" http://127.0.0.1:1/ "$TMP/big"
is "$(sed -n 2p "$mnt/dl")" "$big" "post: the dead letter, byte for byte"

# verify: a capture of a big body whose signature does not match.
echo "$KAV_KEY" >"$TMP/keys"
chmod 600 "$TMP/keys"
capture "$KAV_TS" "$KAV_SIG" "$big" >"$TMP/capture"
full verify "$mnt/vrej" "the reject of $TMP/capture:1 is not kept" \
    closehook-verify --secret-file "$TMP/keys" --max-age 0 \
    --rejects "$mnt/vrej" "$TMP/capture"
is "$(sed -n 2p "$mnt/vrej" | jq -r .capture.body)" "$big" \
    "verify: the reject holds the capture"

# dedupe: a big line that is not JSON.
echo "${big%\}}" >"$TMP/notjson"
full dedupe "$mnt/drej" "the reject of $TMP/notjson:1 is not kept" \
    closehook-dedupe --store "$TMP/seen.sqlite" --rejects "$mnt/drej" \
    "$TMP/notjson"
is "$(sed -n 2p "$mnt/drej" | jq -r .reason)" invalid-json \
    "dedupe: the reject's reason"

# flatten: a big line that is not an object.
echo "[$big]" >"$TMP/array"
full flatten "$mnt/frej" "the reject of $TMP/array:1 is not kept" \
    closehook-flatten --rejects "$mnt/frej" "$TMP/array"
is "$(sed -n 2p "$mnt/frej" | jq -r .reason)" not-an-object \
    "flatten: the reject's reason"

# A failed sync (tests/fakes/failsync.c fakes EIO while its flag file
# exists): the dead letter was written, but is not on disk, so it is cut
# off again and post stops.
if ! cc -shared -fPIC -o "$TMP/failsync.so" "$TOP/tests/fakes/failsync.c" \
    -ldl 2>"$TMP/cc.err"; then
	skip "a failed sync" "cannot build the fake: $(head -n 1 "$TMP/cc.err")"
else
	printf '%s\n' '{"kept":1}' >"$TMP/dl"
	chmod 600 "$TMP/dl"
	touch "$TMP/failsync"
	FAILSYNC_FLAG=$TMP/failsync LD_PRELOAD=$TMP/failsync.so \
	    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	    closehook-post -q --retries 0 --dead-letter "$TMP/dl" \
	    http://127.0.0.1:1/ "$TMP/big" 2>"$TMP/err" && rc=0 || rc=$?
	is "$rc" 2 "post: a failed sync of a dead letter is fatal (exit 2)"
	like "$(cat "$TMP/err")" \
	    "*closehook-post: $TMP/dl: Input/output error; 1 record not dead-lettered, and none still in flight or unread counted as done*" \
	    "post: says so"
	is "$(cat "$TMP/dl")" '{"kept":1}' "post: the unsynced dead letter is cut off"
fi

done_testing
