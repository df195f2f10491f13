#!/bin/bash
# shellcheck disable=SC2154 # run sets rc, out, err
# Every program's --help and --version: printed in full to a working
# stdout (exit 0), and a stdout that cannot be written (/dev/full) is exit
# 2 with "closehook-NAME: stdout: No space left on device", never exit 0 and
# never a silent failure.
. "$(dirname "$0")/lib.sh"

progs=(backfill capture dedupe flatten follow post receive subscribe trigger verify)
[ -w /dev/full ] || skip_all "no /dev/full here"

for p in "${progs[@]}"; do
	run "closehook-$p" --help
	is "$rc" 0 "$p --help: exit 0"
	like "$out" "usage: closehook-$p *--version*" \
	    "$p --help: the whole help on stdout"
	is "$err" "" "$p --help: nothing on stderr"
	run "closehook-$p" --version
	is "$rc/$out" "0/closehook-$p 0.1.0" "$p --version: exit 0, the version"
	for opt in --help --version; do
		"closehook-$p" "$opt" >/dev/full 2>"$TMP/err"
		rc=$?
		is "$rc" 2 "$p $opt >/dev/full: exit 2"
		is "$(cat "$TMP/err")" \
		    "closehook-$p: stdout: No space left on device" \
		    "$p $opt >/dev/full: says why"
	done
done
done_testing
