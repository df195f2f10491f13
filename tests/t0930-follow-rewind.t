#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-follow --rewind: where it starts, lines without received_at, and
# the recipe with closehook-dedupe --mode check before delivery and --mode
# record after it: records in flight when a stage died are delivered once
# more, the rest are dropped as already delivered.
. "$(dirname "$0")/lib.sh"

cd "$TMP" || exit 1

# caps FIRST LAST: captures FIRST..LAST, received one second apart.
caps() {
	python3 -c '
import json, sys
for i in range(int(sys.argv[1]), int(sys.argv[2]) + 1):
    print(json.dumps({"received_at": "2026-11-26T10:%02d:%02d.5Z" % divmod(i, 60),
        "headers": {}, "body": "{\"event\":{\"id\":\"ev_%d\"}}" % i}))' "$1" "$2"
}

caps 1 100 >spool
closehook-follow --once --offset-file off spool >/dev/null

# From the position after capture 100 (10:01:40.5), 30 s back: 10:01:10.5,
# which is capture 70.
cp off off30
run closehook-follow --once --rewind 30s --offset-file off30 spool
like "$(head -n 1 <<<"$out")" '*"ev_70*' "--rewind 30s starts at the capture 30 s back"
is "$(wc -l <<<"$out")" 31 "and replays through the committed position"
cp off off0
run closehook-follow --once --rewind 0 --offset-file off0 spool
is "$(wc -l <<<"$out")" 1 "--rewind 0 replays the last capture"
cp off offall
run closehook-follow --once --rewind 1h --offset-file offall spool
is "$(wc -l <<<"$out")" 100 "a window beyond the start replays everything"

# Lines without a received_at are replayed with their neighbours.
{ caps 1 10; echo '{"no":"time"}'; caps 11 20; } >mixed
run closehook-follow --once --from end --rewind 12s mixed
is "$(wc -l <<<"$out")" 14 "lines without received_at inside the window replay"
seq 1 5 >plain
run closehook-follow --once --from end --rewind 1h plain
is "$rc:$out" "0:" "no received_at at all: no rewind"
like "$err" "*nothing to go by*" "with a note"

# The recipe.  sink.py LIMIT: deliver (append to sink, pass on) the first
# LIMIT lines read, lose the rest: a stage that died with those in flight.
# Marks are lines too: those after the loss are lost with it.
cat >sink.py <<'PY'
import sys
limit = int(sys.argv[1])
with open("sink", "a") as sink:
    for n, line in enumerate(sys.stdin):
        if n < limit:
            if not line.startswith('{"closehook_mark":'):
                sink.write(line)
                sink.flush()
            sys.stdout.write(line)
PY
pipeline() {
	closehook-follow --once --offset-file p.off spool |
	    closehook-dedupe --mode check --store dd.sqlite --key .body |
	    python3 sink.py "$limit" |
	    closehook-dedupe --mode record --store dd.sqlite --key .body |
	    closehook-follow --commit p.off
}
limit=60 pipeline
is "$(wc -l <sink)" 60 "a first run delivers 60 and loses 40 in flight"
ok "the lost records' position is not committed" [ ! -e p.off ]
caps 101 120 >>spool
limit=1000 pipeline
is "$(wc -l <sink)" 120 "the next run delivers the rest"
is "$(sort sink | uniq -d | wc -l)" 0 "nothing delivered twice"
same_file sink spool "nothing lost, in order"
like "$(cat p.off)" "*\"offset\":$(wc -c <spool)}" \
    "the end of the pipeline committed the end of the spool"
limit=1000 pipeline
is "$(wc -l <sink)" 120 "a run with nothing new delivers nothing"

done_testing
