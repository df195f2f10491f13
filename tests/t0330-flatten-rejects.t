#!/bin/bash
# closehook-flatten: bad input - invalid JSON, a line that is not an
# object, a line too long - is reported with file:line, written to
# --rejects, and the stream goes on; exit 1.  Output errors exit 2.
# shellcheck disable=SC1091,SC2154,SC2016,SC2028,SC2001
. "$(dirname "$0")/lib.sh"
set -e

fl() { closehook-flatten "$@"; }
long=$(printf 'x%.0s' {1..300})
{
	echo '{"n":1}'
	echo '{"a":'
	echo '[1,2]'
	echo '"str"'
	echo "{\"long\":\"$long\"}"
	echo '{"a":01}'
	echo ''
	printf '{"a":"\xff"}\n'
	echo '{"n":2}'
} >"$TMP/in"
run fl --max-line 200 --rejects "$TMP/rej" "$TMP/in"
is "$rc" 1 "exit 1 when lines were rejected"
is "$out" $'{"n":1}\n{"n":2}' "the good lines still came out"
is "$(sed "s|^closehook-flatten: $TMP/in:||" <<<"$err" | cut -d' ' -f1-3 | tr '\n' ' ')" \
    "2: rejected: invalid-json 3: rejected: not-an-object 4: rejected: not-an-object 5: rejected: line-too-long 6: rejected: invalid-json 8: rejected: invalid-json " \
    "one stderr line per reject with file:line"
like "$(sed -n 2p <<<"$err")" "*not-an-object (a JSON array)" "says what the line is"
is "$(jq -r '"\(.line) \(.reason)"' "$TMP/rej" | tr '\n' ' ')" \
    "2 invalid-json 3 not-an-object 4 not-an-object 5 line-too-long 6 invalid-json 8 invalid-json " \
    "the rejects file has one NDJSON line per reject"
is "$(jq -c .record "$TMP/rej" | tr '\n' ' ')" 'null [1,2] "str" null null null ' \
    "parsed lines are recorded, unparsable ones as null"
is "$(jq -r .file "$TMP/rej" | sort -u)" "$TMP/in" "with the file name"
is "$(stat -c %a "$TMP/rej")" 600 "the rejects file is private"
run fl -q "$TMP/in"
is "$rc:$err" "1:" "-q silences the messages, not the exit status"

# Several files: line numbers restart, names change.
printf '{"a":1}\nbad\n' >"$TMP/f1"
printf 'bad\n{"b":1}\n' >"$TMP/f2"
run fl "$TMP/f1" - "$TMP/f2" <<<'nope'
is "$out" $'{"a":1}\n{"b":1}' "files in order, stdin as -"
is "$(grep -o '[^ ]*:[0-9]*: rejected' <<<"$err" | tr '\n' ' ')" \
    "$TMP/f1:2: rejected stdin:1: rejected $TMP/f2:1: rejected " \
    "each reject names its file and line"

exit_is 2 "an unreadable file is fatal at the end" fl "$TMP/nonexistent"
like "$err" "*nonexistent: No such file or directory*" "with the reason"
exit_is 2 "an unwritable --rejects exits 2" fl --rejects /nonexistent/dir/x </dev/null
if [ -w /dev/full ]; then
	exit_is 2 "a full stdout exits 2" bash -c "closehook-flatten '$TMP/in' >/dev/full"
fi
exit_is 2 "a bad --max-depth" fl --max-depth 0
exit_is 2 "a bad --dates" fl --dates local
exit_is 2 "a bad --arrays" fl --arrays flat
exit_is 2 "an empty --sep" fl --sep ''

done_testing
