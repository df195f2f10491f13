#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# The receive side of a stream spool (common/natsq.c, natsq_publish, as
# tests/unit/natsq-pub.c drives it): captures published asynchronously,
# many in flight, to a 3-node cluster whose stream leader is SIGKILLed
# mid-stream; what failed is sent again, as Close would.  Every capture
# acknowledged is in the stream exactly once, by its Nats-Msg-Id (a hash
# of body and signature timestamp); a repeat within the duplicate window is
# acknowledged as a duplicate and not stored; without a quorum nothing is
# acknowledged.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/nats-cluster.sh"

PUB=$CLOSEHOOK_MAKE_BUILD/tests/natsq-pub
[ -x "$PUB" ] || skip_all "tests/unit/natsq-pub.c is not built (make tests)"

# ids FILE: the message id of each capture line of FILE, as natsq_msgid
# makes it (BLAKE2b-128 of timestamp, NUL, body), one a line.
ids() {
	python3 - "$1" <<'PY'
import hashlib, json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    c = json.loads(line)
    ts = c["headers"].get("close-sig-timestamp", "").encode()
    print("ch1-" + hashlib.blake2b(ts + b"\0" + c["body"].encode(),
                                   digest_size=16).hexdigest())
PY
}

nats_cluster_start || skip_all "the nats-server cluster did not start"
U="nats://$NATS_SERVERS/SPOOL"

# The stream first, so that its leader is known before the publishing.
nats_caps 1 1 500 >"$TMP/first"
run "$PUB" "$U" <"$TMP/first"
is "$rc" 0 "the stream is created by the first publish"
leader=$(nats_leader SPOOL)
ok "its leader is server $leader" test -n "$leader"

# 3000 captures at 1000/s, 256 in flight at most; the leader is killed a
# second in.
nats_caps 2 3000 500 >"$TMP/in"
"$PUB" -r 1000 -d 40 "$U" <"$TMP/in" >"$TMP/acks" 2>"$TMP/pub.err" &
pub=$!
sleep 1
nats_kill "$leader"
t0=$SECONDS
wait "$pub"
is "$?" 0 "every capture is acknowledged in the end, the leader killed mid-stream"
echo "# $(cat "$TMP/pub.err"); a new leader: server $(nats_leader SPOOL), $((SECONDS - t0)) s after the kill"
like "$(cat "$TMP/pub.err")" "*, [1-9]* failed, the last: *" \
    "publishes failed while the leader was gone, and were sent again"
is "$(wc -l <"$TMP/acks")" 3000 "3000 acknowledgements"

# What the stream holds: read it whole through a new durable.
# follow retries a stream it cannot read for a minute (a leader election
# under load), so the deadline is longer than that.
run timeout "$(slow 90)" closehook-follow --durable audit --once "$U"
is "$rc" 0 "the stream is read to its end"
ids "$TMP/out" >"$TMP/stored"
cat "$TMP/first" "$TMP/in" >"$TMP/all"
ids "$TMP/all" | sort >"$TMP/want"
is "$(wc -l <"$TMP/stored")" 3001 "3001 messages in the stream"
is "$(sort "$TMP/stored" | uniq -d | wc -l)" 0 "no id stored twice"
same_file <(sort "$TMP/stored") "$TMP/want" \
    "every acknowledged capture is in the stream, exactly once by id"

# The same captures again, within the duplicate window (2 minutes): each
# is acknowledged as a duplicate, none stored again.
nats_restart "$leader"
"$PUB" -d 20 "$U" <"$TMP/in" >"$TMP/acks2" 2>"$TMP/pub2.err"
is "$?" 0 "a repeat of every capture is acknowledged"
is "$(awk '$3 == 1' "$TMP/acks2" | wc -l)" 3000 "as a duplicate"
# follow retries a stream it cannot read for a minute (a leader election
# under load), so the deadline is longer than that.
run timeout "$(slow 90)" closehook-follow --durable audit --once "$U"
is "$rc:$out" "0:" "and not stored again"

# No quorum: two of three servers gone.  Nothing is acknowledged.
others=$(seq 3 | grep -vx "$leader" | head -1)
nats_kill "$leader"
nats_kill "$others"
nats_caps 9001 20 500 >"$TMP/lost"
"$PUB" -n -d 4 "$U" <"$TMP/lost" >"$TMP/acks3" 2>"$TMP/pub3.err"
is "$?" 1 "without a quorum the publisher does not succeed"
is "$(wc -l <"$TMP/acks3")" 0 "and nothing is acknowledged"
echo "# $(cat "$TMP/pub3.err")"

done_testing
