#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-follow: --once, committed offsets, incomplete last lines,
# --from, identity checks (truncated or replaced files are refused), long
# lines, SIGTERM.
. "$(dirname "$0")/lib.sh"

cd "$TMP" || exit 1

printf 'one\ntwo\nthree' >spool
run closehook-follow --once --offset-file off spool
is "$rc" 0 "--once exits 0"
is "$out" $'one\ntwo' "complete lines only: the incomplete last line waits"
like "$(cat off)" '*"offset":8}' "the offset is after the last newline"
printf '\nfour\n' >>spool
run closehook-follow --once --offset-file off spool
is "$out" $'three\nfour' "the next run resumes at the committed offset"
run closehook-follow --once --offset-file off spool
is "$rc:$out" "0:" "nothing new: nothing written"

# Bytes pass through unchanged, CRs and blank lines included.
printf '{"a":1.50}\r\n\n  {"b" : "\\u00e9"}\n' >raw
closehook-follow --once raw >raw.out
same_file raw raw.out "bytes pass through unchanged"

# --from end: a new offset file starts after the last complete line.
printf 'old1\nold2\npart' >s2
run closehook-follow --once --from end --offset-file off2 s2
is "$rc:$out" "0:" "--from end writes nothing at first"
printf 'ial\nnew\n' >>s2
run closehook-follow --once --offset-file off2 s2
is "$out" $'partial\nnew' "--from end starts at the end of the last whole line"

# A replaced file (same name, other inode) is refused.
cp spool spool.copy && mv spool.copy spool
must_fail "a replaced file is refused" \
    closehook-follow --once --offset-file off spool
is "$rc" 2 "with exit 2"
like "$err" "*refusing the offset in off*another file*--from*" \
    "and a message that says why and what to do"
is "$out" "" "and nothing written"
run closehook-follow --once --from start --offset-file off spool
is "$rc" 0 "--from start overrides the refusal"
is "$(wc -l <<<"$out")" 4 "and starts from the start"
like "$err" "*ignoring the offset*" "with a note"
run closehook-follow -q --once --offset-file off spool
is "$rc:$out:$err" "0::" "the new offset sticks; -q"

# Truncated (same inode, shorter) and rewritten in place are refused.
: >spool
printf 'x\n' >>spool
must_fail "a truncated file is refused" \
    closehook-follow --once --offset-file off spool
like "$err" "*shorter than the committed offset*" "as truncated"
printf 'ONE\ntwo\nthree\nfour\nfive\n' >spool
must_fail "a rewritten file is refused" \
    closehook-follow --once --offset-file off spool
like "$err" "*first line differs*" "as rewritten"

# An offset file that is not one.
echo garbage >bad
must_fail "a foreign offset file is refused" \
    closehook-follow --once --offset-file bad spool

# Lines longer than the read buffer pass whole; memory stays bounded.
python3 -c '
import sys
w = sys.stdout.write
for i in range(5):
    w("{\"i\":%d,\"pad\":\"%s\"}\n" % (i, "x" * (3 * 1024 * 1024 + i)))
w("short\n")' >long
closehook-follow --once long >long.out
same_file long long.out "lines of 3 MiB pass whole"

# SIGTERM: flush, commit, exit 0.
seq 1 1000 >sig
closehook-follow --offset-file sigoff sig >sig.out &
pid=$!
for _ in $(seq 50); do [ "$(wc -l <sig.out)" -ge 1000 ] && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
is "$?" 0 "SIGTERM exits 0"
like "$(cat sigoff)" '*"offset":3893}' "and commits the end"

# Usage errors.
exit_is 2 "no FILE is a usage error" closehook-follow
exit_is 2 "two FILEs are a usage error" closehook-follow a b
exit_is 2 "--from other is a usage error" closehook-follow --from middle spool
exit_is 2 "a bad duration is a usage error" \
    closehook-follow --rewind 5x spool
exit_is 2 "a missing FILE is fatal" closehook-follow --once nonexistent

done_testing
