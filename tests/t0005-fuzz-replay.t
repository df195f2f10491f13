#!/bin/bash
# Replay every fuzz target's seed corpus (and saved crash inputs) with the
# ordinary build, so make check catches regressions without libFuzzer.
. "$(dirname "$0")/lib.sh"
set -e

for replay in "$CLOSEHOOK_BUILD"/tests/replay-*; do
	name=${replay##*/replay-}
	run "$replay" "$TOP/tests/fuzz/corpus/$name"
	is "$rc" 0 "fuzz-$name: the seed corpus replays cleanly"
	ok "fuzz-$name: at least one input was replayed" \
	    test "$(grep -c '^ok' "$TMP/out")" -ge 1
done
done_testing
