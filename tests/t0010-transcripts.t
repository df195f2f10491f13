#!/bin/bash
# Transcript cases: each directory under tests/cases/ holds
#   cmd     a command line, run by bash inside a copy of the directory
#   stdin   what the command reads (optional; default empty)
#   stdout  the exact expected stdout (optional; default empty)
#   stderr  a bash glob the whole stderr must match (optional; default empty)
#   exit    the expected exit status (optional; default 0)
# Files the command needs (key files, inputs) sit beside them.
. "$(dirname "$0")/lib.sh"
set -e

for dir in "$TOP"/tests/cases/*/; do
	name=$(basename "$dir")
	work="$TMP/$name"
	cp -r "$dir" "$work"
	chmod 600 "$work"/*key* 2>/dev/null || true
	stdin="$work/stdin"
	[ -f "$stdin" ] || stdin=/dev/null
	set +e
	(cd "$work" && bash ./cmd <"$stdin" >"$TMP/got.out" 2>"$TMP/got.err")
	rc=$?
	set -e
	want_rc=0
	[ -f "$work/exit" ] && want_rc=$(cat "$work/exit")
	is "$rc" "$want_rc" "$name: exit status"
	if [ -f "$work/stdout" ]; then
		same_file "$TMP/got.out" "$work/stdout" "$name: stdout"
	else
		is "$(cat "$TMP/got.out")" "" "$name: no stdout"
	fi
	if [ -f "$work/stderr" ]; then
		like "$(cat "$TMP/got.err")" "$(cat "$work/stderr")" "$name: stderr"
	else
		is "$(cat "$TMP/got.err")" "" "$name: no stderr"
	fi
done
done_testing
