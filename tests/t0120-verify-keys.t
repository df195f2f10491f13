#!/bin/bash
# closehook-verify key handling: bound and unbound keys, rotation, several
# key files, the permission warning, and no key bytes in any message.
. "$(dirname "$0")/lib.sh"
set -e

k1=$KAV_KEY
k2=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
k3=ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100
ts=1764000000
body_a='{"subscription_id": "whsub_a", "event": {"id": "ev_1"}}'
body_b='{"subscription_id": "whsub_b", "event": {"id": "ev_2"}}'
body_none='{"event": {"id": "ev_3"}}'

# whsub_a rotates from k1 to k2; whsub_b uses k3.
printf 'whsub_a %s\nwhsub_a %s\n' "$k1" "$k2" >"$TMP/rot"
printf 'whsub_b %s\n' "$k3" >"$TMP/b"
chmod 600 "$TMP/rot" "$TMP/b"
{
	capture $ts "$(sign "$k1" $ts "$body_a")" "$body_a"   # old key: ok
	capture $ts "$(sign $k2 $ts "$body_a")" "$body_a"   # new key: ok
	capture $ts "$(sign $k3 $ts "$body_a")" "$body_a"   # b's key on a: no
	capture $ts "$(sign $k3 $ts "$body_b")" "$body_b"   # ok
	capture $ts "$(sign "$k1" $ts "$body_b")" "$body_b"   # a's key on b: no
	capture $ts "$(sign "$k1" $ts "$body_none")" "$body_none" # no sub: no key
} >"$TMP/in"
run closehook-verify --secret-file "$TMP/rot" --secret-file "$TMP/b" \
    --now $ts "$TMP/in"
is "$(printf '%s\n' "$body_a" "$body_a" "$body_b")" "$out" \
    "both rotated keys verify; several key files combine"
is "$(sed "s|.*in:||" "$TMP/err" | tr '\n' ' ')" \
    "3: rejected: signature-mismatch 5: rejected: signature-mismatch 6: rejected: no-key " \
    "a bound key never verifies another subscription's body"

# An unbound key applies to every body, including one naming no
# subscription.
printf '%s\n' "$k1" >"$TMP/unbound"
chmod 600 "$TMP/unbound"
run closehook-verify --secret-file "$TMP/unbound" --now $ts "$TMP/in"
is "$(printf '%s\n' "$body_a" "$body_b" "$body_none")" "$out" \
    "an unbound key verifies whatever it signed"

# Permission warning, without the key.
printf '%s\n' "$k1" >"$TMP/open"
chmod 644 "$TMP/open"
run closehook-verify --secret-file "$TMP/open" --now $ts "$TMP/in"
like "$err" "*warning: $TMP/open: readable or writable by group or others (chmod 600)*" \
    "a group/world-readable key file draws a warning"
chmod 602 "$TMP/open"
run closehook-verify --secret-file "$TMP/open" --now $ts "$TMP/in"
like "$err" "*warning: $TMP/open: readable or writable by group or others*" \
    "so does a world-writable one (the key could be swapped)"
chmod 610 "$TMP/open"
run closehook-verify --secret-file "$TMP/open" --now $ts "$TMP/in"
ok "an execute bit alone exposes nothing and draws no warning" \
    bash -c "! grep -q warning '$TMP/err'"

# Bad key files: exit 2, the line named, the key never echoed.
printf 'whsub_a %s\n' "${k1:0:63}" >"$TMP/bad"
chmod 600 "$TMP/bad"
run closehook-verify --secret-file "$TMP/bad" "$TMP/in"
is "$rc" 2 "a malformed key is fatal"
is "$err" "closehook-verify: $TMP/bad:1: key has an odd number of hex digits (63): a digit is missing or extra" \
    "the message names file and line, and what is wrong"
like "$err" "!(*${k1:0:16}*)" "and holds no key bytes"
printf 'whsub_a %sZZ\n' "${k1:0:62}" >"$TMP/bad"
run closehook-verify --secret-file "$TMP/bad" "$TMP/in"
like "$err" "*key is not hexadecimal" "non-hex digits are named as such"
printf 'whsub_a %s\n' "${k1:0:30}" >"$TMP/bad"
run closehook-verify --secret-file "$TMP/bad" "$TMP/in"
like "$err" "*bad:1: key is 30 hex digits, not 32 to 256 (Close's are 64)" \
    "a key too short says its length"
printf '%s whsub_a\n' "$k1" >"$TMP/bad"
run closehook-verify --secret-file "$TMP/bad" "$TMP/in"
is "$rc:$err" "2:closehook-verify: $TMP/bad:1: expected SUBSCRIPTION_ID HEXKEY: the two look swapped" \
    "the id and the key swapped"
printf '%s %s\n' "$k1" "$k1" >"$TMP/bad"
run closehook-verify --secret-file "$TMP/bad" "$TMP/in"
is "$rc:$err" "2:closehook-verify: $TMP/bad:1: two hex keys on one line: give each its own (HEXKEY or SUBSCRIPTION_ID HEXKEY)" \
    "two keys on one line are refused, and neither is printed"
printf 'whsb_a %s\n' "$k1" >"$TMP/typo"
chmod 600 "$TMP/typo"
run closehook-verify --secret-file "$TMP/typo" "$TMP/in"
like "$err" "*typo:1: warning: whsb_a is not a subscription id (whsub_...): the key applies to no delivery*" \
    "a subscription id that cannot be one draws a warning"

# As a Windows editor saves it: a byte-order mark and CRLF are read; UTF-16
# is refused as such.
printf '\xef\xbb\xbf%s\r\n' "$k1" >"$TMP/win"
chmod 600 "$TMP/win"
printf '%s\n' "$k1" >"$TMP/unix"
chmod 600 "$TMP/unix"
run closehook-verify --secret-file "$TMP/unix" --now $ts "$TMP/in"
cp "$TMP/out" "$TMP/unix.out"
run closehook-verify --secret-file "$TMP/win" --now $ts "$TMP/in"
ok "a key file with a byte-order mark and CRLF loads as without them" \
    test -s "$TMP/out" -a "$rc" -eq 1
same_file "$TMP/out" "$TMP/unix.out" "verifying the same captures"
printf '%s\r\n' "$k1" | iconv -f ascii -t utf-16 >"$TMP/win"
run closehook-verify --secret-file "$TMP/win" "$TMP/in"
is "$rc:$err" "2:closehook-verify: $TMP/win: UTF-16 text or NUL bytes: save the key file as ASCII or UTF-8" \
    "a UTF-16 key file is refused, saying why"
printf '\xef\xbb\xbfwhsub_\x00a %s\n' "$k1" >"$TMP/win"
run closehook-verify --secret-file "$TMP/win" "$TMP/in"
is "$rc:$err" "2:closehook-verify: $TMP/win: UTF-16 text or NUL bytes: save the key file as ASCII or UTF-8" \
    "a NUL byte after a byte-order mark too (fuzz-keyring)"

# No key on the command line: there is no option that takes one.
run closehook-verify --help
like "$out" "!(*--secret *|*--key *)" "no option takes a key in argv"

# A key appended while verify runs (closehook-subscribe create --key-out for
# a new subscription): the first capture refused for its key reads the
# changed file again, so a follower started before the key was made does
# not reject (and commit past) the new subscription's deliveries.
printf 'whsub_a %s\n' "$k1" >"$TMP/live"
chmod 600 "$TMP/live"
mkfifo "$TMP/feed"
closehook-verify --secret-file "$TMP/live" --now $ts --rejects "$TMP/live.rej" \
    <"$TMP/feed" >"$TMP/live.out" 2>"$TMP/live.err" &
vpid=$!
exec 7>"$TMP/feed"
capture $ts "$(sign "$k1" $ts "$body_a")" "$body_a" >&7
wait_lines "$TMP/live.out" 1 || true
printf 'whsub_b %s\n' "$k3" >>"$TMP/live"
capture $ts "$(sign $k3 $ts "$body_b")" "$body_b" >&7
wait_lines "$TMP/live.out" 2 || true
# A second key within the second after the first reload: waited for, not
# rejected (two subscribe creates in a row).
body_c='{"subscription_id": "whsub_c", "event": {"id": "ev_4"}}'
printf 'whsub_c %s\n' "$k2" >>"$TMP/live"
capture $ts "$(sign $k2 $ts "$body_c")" "$body_c" >&7
capture $ts "$(sign $k2 $ts "$body_b")" "$body_b" >&7
exec 7>&-
wait "$vpid" || true
is "$(cat "$TMP/live.out")" "$(printf '%s\n' "$body_a" "$body_b" "$body_c")" \
    "keys appended while it runs, the second within a second: their captures verify"
k3_fp=$(key_fp "$k3")
like "$(cat "$TMP/live.err")" "*a key file changed: keys reloaded: 2 keys; new: $k3_fp (whsub_b)*" \
    "said, naming the key and its subscription"
is "$(jq -r .reason "$TMP/live.rej")" signature-mismatch \
    "a key in no file is still refused"
is "$(grep -c reloaded "$TMP/live.err")" 2 "without reading the unchanged file again"

# A key file that is not a regular file (--secret-file <(command)) cannot
# be read again: no reload is tried, and nothing is said per capture.
printf 'whsub_a %s\n' "$k1" >"$TMP/reg"
chmod 600 "$TMP/reg"
mkfifo "$TMP/feed2"
closehook-verify --secret-file <(printf 'whsub_b %s\n' "$k3") \
    --secret-file "$TMP/reg" --now $ts <"$TMP/feed2" >"$TMP/ps.out" \
    2>"$TMP/ps.err" &
vpid=$!
exec 7>"$TMP/feed2"
capture $ts "$(sign $k3 $ts "$body_b")" "$body_b" >&7
wait_lines "$TMP/ps.out" 1 || true
printf 'whsub_c %s\n' "$k2" >>"$TMP/reg"
for _ in 1 2 3; do capture $ts "$(sign $k2 $ts "$body_c")" "$body_c" >&7; done
exec 7>&-
wait "$vpid" || true
is "$(cat "$TMP/ps.out")" "$body_b" "with a process substitution among the key files: its keys work"
is "$(grep -c 'reload\|regular' "$TMP/ps.err" || true)" 0 \
    "and a changed regular file beside it is not read again, quietly"

done_testing
