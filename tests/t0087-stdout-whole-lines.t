#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# Standard output redirected into a regular file keeps whole lines, as the
# append files do: a run appending (`>>`) to a file whose last line a killed
# run left torn cuts that line off first, with a warning (its record was
# never checkpointed and comes again); a write that fails on a full disk is
# cut back to the last whole line, so the rerun's lines are not glued to a
# partial one.
. "$(dirname "$0")/lib.sh"

cd "$TMP" || exit 1

# A torn last line left by a killed run: cut off before appending.
printf '{"id":"C"}\n{"id":"D"}\n' >spool
printf '{"id":"A"}\n{"id":"B","cut' >out
closehook-follow --once --offset-file off spool >>out 2>err
is "$?" 0 "follow appends to a file with a torn last line"
is "$(jq -r .id out | tr '\n' ' ')" "A C D " "the torn line is gone, the new lines whole"
like "$(cat err)" "*stdout: ends in a partial line; removed its 14 bytes*" \
    "with a warning"
printf '{"k":1}\n{"k":2}\n' >in
printf '{"id":"A"}\n{"half' >out2
closehook-dedupe --key .k --store seen.sqlite <in >>out2 2>err
is "$?:$(jq -c . out2 | tr '\n' ' ')" '0:{"id":"A"} {"k":1} {"k":2} ' \
    "dedupe the same"
printf '{"id":"A"}\n{"half' >out3
closehook-dedupe --key .k --store seen2.sqlite <in >out3 2>err
is "$(cat out3)" '{"k":1}
{"k":2}' "a file opened with > starts empty: nothing to cut"

# A full disk: a small tmpfs (root only).
full_disk() {
	at_exit "umount '$TMP/small'"
	mk() { python3 -c 'import json,sys; print(json.dumps({"id": sys.argv[1], "pad": "x" * 1733}))' "$1"; }
	: >sp
	mk A >>sp
	mk B >>sp
	pipe() {
		closehook-follow --once --offset-file sp.off sp |
		    closehook-follow --commit sp.off >>small/out 2>>perr
	}
	pipe
	is "$(jq -r .id small/out | tr '\n' ' ')" "A B " "the first run"
	dd if=/dev/zero of=small/filler bs=4096 2>/dev/null
	for i in C D E; do mk "$i" >>sp; done
	pipe
	ok "on a full disk the end of the pipeline fails" grep -q "No space left" perr
	ok "and the file still ends in a whole line" ends_in_newline small/out
	rm small/filler
	pipe
	is "$(jq -r .id small/out | tr '\n' ' ')" "A B C D E " \
	    "the rerun appends the rest, every line JSON"

	# The same with `>`: the failed write is cut back too.
	dd if=/dev/zero of=small/filler bs=4096 2>/dev/null
	rm -f small/out
	seq 60000 | awk '{ print "{\"k\":" $1 "}" }' >many
	closehook-dedupe --key .k --store seen3.sqlite <many >small/out 2>err
	is "$?" 2 "dedupe into a full disk: exit 2"
	ok "having written some" test -s small/out
	ok "and what it wrote ends in a whole line" ends_in_newline small/out
}
mkdir small
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=1m tmpfs small 2>/dev/null; then
	full_disk
else
	for d in "the first run" "a full disk fails" "ends in a whole line" \
	    "the rerun appends the rest" "dedupe into a full disk" \
	    "having written some" "ends in a whole line (>)"; do
		skip "$d" "no tmpfs to fill here (needs root)"
	done
fi

done_testing
