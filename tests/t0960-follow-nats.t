#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-follow on a NATS JetStream stream (real nats-server processes
# on loopback, tests/fakes/nats-cluster.sh): no server at start; a single
# server, its credentials and a refused R3 stream; then a 3-node cluster:
# every message in order; --once ends; a second durable gets everything;
# a follower killed while it holds unacknowledged messages loses none of
# them to the followers sharing its durable; --rewind and --from TIME on
# a new durable, and not on an existing one; SIGTERM; metrics.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/nats-cluster.sh"

PUB=$CLOSEHOOK_MAKE_BUILD/tests/natsq-pub
[ -x "$PUB" ] || skip_all "tests/unit/natsq-pub.c is not built (make tests)"

# publish URL FILE: store every line of FILE in the stream (exit 0 when
# each was acknowledged).
publish() {
	"$PUB" "$1" <"$2" >/dev/null 2>"$TMP/pub.err"
}

# No server: exit 2 at once, with the servers named.
port=$(nats_free_port)
run timeout "$(slow 20)" closehook-follow --durable a --once "nats://127.0.0.1:$port/S"
is "$rc" 2 "no server reachable at start: exit 2"
like "$err" "closehook-follow: nats: cannot connect to 127.0.0.1:$port: *" \
    "with a clear message ($err)"

# Usage.
must_fail "a stream needs --durable" closehook-follow --once "nats://127.0.0.1:$port/S"
like "$err" "*give the stream's consumer: --durable NAME*" "and says so"
must_fail "an offset file is for files" \
    closehook-follow --durable a --offset-file x "nats://127.0.0.1:$port/S"
must_fail "--durable is for streams" closehook-follow --durable a /dev/null
must_fail "the scheme given again before a later server" \
    closehook-follow --durable a "nats://127.0.0.1:$port,nats://127.0.0.1:$port/S"
like "$err" "*a scheme before a later server: give it once*" "says so"
must_fail "a durable name is letters, digits, - and _" \
    closehook-follow --durable a.b "nats://127.0.0.1:$port/S"
run closehook-follow --durable a "nats://alice:s3cretpw@127.0.0.1:$port/S"
is "$rc" 2 "user information in the URL is refused"
like "$err" "*--nats-creds or --nats-user-file*" "pointing to the files"
ok "and the password is not repeated" test "${err/s3cretpw/}" = "$err"

# One server with a password.
NATS_CONF_EXTRA='authorization { users = [
  { user: closehook, password: "pa ss" },
  { user: bob, password: pw-bob,
    permissions: { publish: { deny: ">" }, subscribe: { deny: ">" } } }
] }'
nats_single_start || skip_all "nats-server did not start"
NATS_CONF_EXTRA=
S1="nats://$NATS_SERVERS/SPOOL"
printf 'closehook\npa ss\n' >"$TMP/user"
chmod 600 "$TMP/user"
run timeout "$(slow 20)" closehook-follow --durable a --once "$S1"
is "$rc" 2 "no credentials for a server that wants them: exit 2"
like "$err" "closehook-follow: nats: cannot connect to *: *uthorization*" \
    "as an authorization failure"
printf 'closehook\nwrong pw\n' >"$TMP/bad"
chmod 600 "$TMP/bad"
run timeout "$(slow 20)" closehook-follow --durable a --once --nats-user-file "$TMP/bad" "$S1"
is "$rc" 2 "a wrong password: exit 2"
ok "not shown in the message" test "${err/wrong pw/}" = "$err"
run timeout "$(slow 20)" closehook-follow --durable a --once --nats-user-file "$TMP/user" "$S1"
is "$rc" 2 "3 replicas on one server: exit 2"
like "$err" "closehook-follow: nats: cannot create stream SPOOL with 3 replicas: *--nats-replicas 1*" \
    "with the reason and what to do ($err)"
chmod 644 "$TMP/user"
run timeout "$(slow 20)" closehook-follow --durable a --once --nats-user-file "$TMP/user" \
    --nats-replicas 1 "$S1"
is "$rc:$out" "0:" "--nats-replicas 1 on one server: the stream is created"
like "$err" "*$TMP/user: readable or writable by group or others (chmod 600)*" \
    "a user file others may read draws a warning"
# A user the server takes whose permissions deny the requests: the
# library only sees them time out; the server's reason is what is said,
# at once, not after a minute of trying again.
printf 'bob\npw-bob\n' >"$TMP/bob"
chmod 600 "$TMP/bob"
t0=$SECONDS
run timeout "$(slow 40)" closehook-follow --durable d --once --nats-user-file "$TMP/bob" \
    --nats-replicas 1 "$S1"
is "$rc" 2 "permissions that deny the requests: exit 2"
like "$err" "closehook-follow: nats: *: *Permissions Violation*" \
    "with the server's reason, not a timeout ($err)"
ok "without trying again for a minute ($((SECONDS - t0)) s)" \
    [ $((SECONDS - t0)) -lt 30 ]
run closehook-follow --durable a --once --nats-user-file "$TMP/none" "$S1"
is "$rc" 2 "a missing user file: exit 2"
like "$err" "closehook-follow: $TMP/none: No such file or directory" \
    "named like every secret file"
printf 'closehook\n' >"$TMP/one"
run closehook-follow --durable a --once --nats-user-file "$TMP/one" "$S1"
like "$rc:$err" "2:*want two lines, the user and the password*" \
    "a user file needs two lines"
printf 'not a creds file\n' >"$TMP/creds"
chmod 644 "$TMP/creds"
run timeout "$(slow 20)" closehook-follow --durable a --once --nats-creds "$TMP/creds" "$S1"
is "$rc" 2 "a .creds file that is not one: exit 2"
like "$err" "*$TMP/creds: readable or writable by group or others (chmod 600)*" \
    "a .creds file others may read draws a warning"
run closehook-follow --durable a --nats-creds "$TMP/creds" \
    --nats-user-file "$TMP/user" "$S1"
is "$rc" 2 "--nats-creds and --nats-user-file together: exit 2"

# TLS: a server whose certificate a test CA signed for "localhost".
(
	cd "$TMP" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout ca.key -out ca.pem -days 1 -subj /CN=test-ca &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	    -keyout srv.key -out srv.csr -subj /CN=localhost &&
	openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key \
	    -CAcreateserial -out srv.pem -days 1 \
	    -extfile <(printf 'subjectAltName=DNS:localhost\n')
) >/dev/null 2>&1
NATS_CONF_EXTRA="tls { cert_file: \"$TMP/srv.pem\", key_file: \"$TMP/srv.key\" }"
nats_single_start || skip_all "nats-server did not start with TLS"
NATS_CONF_EXTRA=
T="tls://localhost:${NATS_PORT[1]}/TLS"
nats_caps 1 3 >"$TMP/t3"
SSL_CERT_FILE=$TMP/ca.pem "$PUB" -R 1 "$T" <"$TMP/t3" >/dev/null 2>&1
run env SSL_CERT_FILE="$TMP/ca.pem" timeout "$(slow 20)" closehook-follow --durable t \
    --once --nats-replicas 1 "$T"
is "$rc" 0 "tls://: the server's certificate checked against \$SSL_CERT_FILE"
same_file "$TMP/out" "$TMP/t3" "and the messages read over TLS"
run env SSL_CERT_FILE=/dev/null timeout "$(slow 20)" closehook-follow --durable t \
    --once --nats-replicas 1 "$T"
is "$rc" 2 "a certificate no trusted CA signed is refused"
like "$err" "closehook-follow: nats: cannot connect to localhost:*: *" \
    "with the connection's error ($err)"
run env SSL_CERT_FILE="$TMP/ca.pem" timeout "$(slow 20)" closehook-follow --durable t \
    --once --nats-replicas 1 "tls://127.0.0.1:${NATS_PORT[1]}/TLS"
is "$rc" 2 "a certificate that does not name the URL's first host is refused"
like "$err" "*SSL*" "by the TLS handshake ($err)"
run timeout "$(slow 20)" closehook-follow --durable t --once --nats-replicas 1 \
    "nats://$NATS_SERVERS/TLS"
is "$rc" 2 "nats:// to a server that wants TLS: exit 2"

# The cluster: three servers, the stream replicated on all three.
nats_cluster_start || skip_all "the nats-server cluster did not start"
U="nats://$NATS_SERVERS/SPOOL"
nats_caps 1 600 >"$TMP/a"
ok "600 captures published" publish "$U" "$TMP/a"
t0=$SECONDS
run timeout "$(slow 30)" closehook-follow --durable one --once "$U"
is "$rc" 0 "--once exits 0 when nothing is pending ($((SECONDS - t0)) s)"
same_file "$TMP/out" "$TMP/a" "every message, in order, byte for byte"
like "$(nats_jsz 'streams=true&accounts=true&config=true')" \
    '*"num_replicas": 3*' "the stream has 3 replicas"
run timeout "$(slow 30)" closehook-follow --durable one --once "$U"
is "$rc:$out" "0:" "a durable that acknowledged everything gets nothing more"
run timeout "$(slow 30)" closehook-follow --durable two --once "$U"
same_file "$TMP/out" "$TMP/a" "a second durable gets every message"

# A follower that dies while it holds messages: its stdout is a fifo that
# nobody reads, so it blocks writing a batch it has not acknowledged, and
# is killed there.  Those messages go to the followers sharing its
# durable once --ack-wait has passed; nothing is lost.
nats_caps 1001 2000 >"$TMP/b"
ok "2000 more published" publish "$U" "$TMP/b"
cat "$TMP/a" "$TMP/b" >"$TMP/ab"
mkfifo "$TMP/stuck"
command sleep 60 <>"$TMP/stuck" &
hold=$!
at_exit "kill $hold 2>/dev/null"
closehook-follow --durable shared --ack-wait "$(slow 2)s" "$U" >"$TMP/stuck" \
    2>"$TMP/f1.err" &
f1=$!
disown "$f1"
at_exit "kill -KILL $f1 2>/dev/null"
for _ in $(seq 100); do
	grep -q "pipe_w" "/proc/$f1/wchan" 2>/dev/null && break
	sleep 0.1
done
like "$(cat "/proc/$f1/wchan" 2>/dev/null)" "*pipe_w*" \
    "the first follower blocks writing into its stuck pipe"
t0=$SECONDS
closehook-follow --durable shared --once --metrics "$TMP/f2.prom" "$U" \
    >"$TMP/f2" 2>"$TMP/f2.err" &
f2=$!
closehook-follow --durable shared --once --metrics "$TMP/f3.prom" "$U" \
    >"$TMP/f3" 2>"$TMP/f3.err" &
f3=$!
sleep 0.5
kill -KILL "$f1"
wait "$f2" && r2=0 || r2=$?
wait "$f3" && r3=0 || r3=$?
is "$r2:$r3" "0:0" "the others end (--once) once every message is acknowledged ($((SECONDS - t0)) s)"
timeout 2 cat "$TMP/stuck" >"$TMP/f1" || true
# The pipe may hold the start of a message whose write the full pipe held
# back: not a line f1 wrote (wc -l does not count it), nor a pattern for
# the grep below.
cut_torn "$TMP/f1"
n1=$(wc -l <"$TMP/f1")
ok "the killed follower had written $n1 lines it never acknowledged" \
    test "$n1" -gt 0
cat "$TMP/f2" "$TMP/f3" | sort >"$TMP/union"
sort "$TMP/ab" >"$TMP/ab.sorted"
same_file "$TMP/union" "$TMP/ab.sorted" \
    "the union of the others' outputs is every message, each once"
is "$(grep -cxFf "$TMP/f1" "$TMP/union")" "$n1" \
    "every line the killed one held was delivered again"
red=$(unlabel "$TMP/f2.prom" "$TMP/f3.prom" |
    awk '$1 == "closehook_follow_redelivered_total" { s += $2 } END { print s + 0 }')
ok "the metrics count them as redelivered ($red: the killed one's whole batch)" \
    test "$red" -ge "$n1"
echo "# f1 wrote $n1 of the $red it held, f2 wrote $(wc -l <"$TMP/f2"), f3 $(wc -l <"$TMP/f3")"

# --rewind and --from TIME: where a new durable starts, by the stream's
# timestamps.
nats_caps 5001 50 >"$TMP/old"
ok "an older batch" publish "$U" "$TMP/old"
sleep 1.5
mid=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
sleep 1.5
nats_caps 6001 50 >"$TMP/new"
ok "a newer batch, 3 s later" publish "$U" "$TMP/new"
run timeout "$(slow 30)" closehook-follow --durable rw --rewind "$(slow 1)s" --once "$U"
same_file "$TMP/out" "$TMP/new" "--rewind 1s on a new durable: the newer batch only"
run timeout "$(slow 30)" closehook-follow --durable ft --from "$mid" --once "$U"
same_file "$TMP/out" "$TMP/new" "--from TIME on a new durable: from that time"
run timeout "$(slow 30)" closehook-follow --durable ft2 --from end --rewind 10m --once "$U"
is "$(wc -l <"$TMP/out")" 2700 "--from end --rewind 10m: everything of the last 10 minutes"
run timeout "$(slow 30)" closehook-follow --durable rw --rewind 1h --once "$U"
is "$rc:$out" "0:" "an existing durable goes on where it is"
like "$err" "*consumer rw of SPOOL exists: --from and --rewind apply to a new one only*" \
    "with a note"
run timeout "$(slow 30)" closehook-follow --durable ne --from end --once "$U"
is "$rc:$out" "0:" "--from end: nothing of the past"
run timeout "$(slow 30)" closehook-follow --durable fu \
    --from "$(date -d "$mid" +%s.%N)" --once "$U"
same_file "$TMP/out" "$TMP/new" "--from Unix seconds: the same as the date-time"
run timeout "$(slow 30)" closehook-follow --durable f0 --from 0 --once "$U"
is "$rc:$(wc -l <"$TMP/out")" 0:2700 "--from 0: every message, as --from start"
exit_is 2 "--from after 2262 is refused" closehook-follow --durable fx \
    --from 9999-01-01T00:00:00Z --once "$U"

# Following, then SIGTERM: exit 0.
closehook-follow --durable live "$U" >"$TMP/live" 2>"$TMP/live.err" &
live=$!
for _ in $(seq 100); do
	[ "$(wc -l <"$TMP/live")" -ge 2700 ] && break
	sleep 0.1
done
nats_caps 7001 5 >"$TMP/c"
publish "$U" "$TMP/c"
for _ in $(seq 50); do
	[ "$(wc -l <"$TMP/live")" -ge 2705 ] && break
	sleep 0.1
done
is "$(tail -n 5 "$TMP/live")" "$(cat "$TMP/c")" "a running follower writes new messages as they come"

# The whole cluster gone: an idle follower's fetches only time out, as
# they do on a stream with nothing new, so it asks its consumer's state
# every 5 s and says when the stream cannot be read (and exits 2 after a
# minute, not waited for here); back, it reads on and says so.
nats_kill 1 && nats_kill 2 && nats_kill 3
for _ in $(seq "$(slow 200)"); do
	grep -q 'trying again' "$TMP/live.err" && break
	sleep 0.1
done
like "$(cat "$TMP/live.err")" "*closehook-follow: *: trying again*" \
    "with the cluster gone, an idle follower says so"
ok "and keeps trying" kill -0 "$live"
nats_restart_all
nats_caps 7006 5 >"$TMP/c"
for _ in $(seq 40); do
	publish "$U" "$TMP/c" && break
	sleep 0.5
done
for _ in $(seq "$(slow 300)"); do
	[ "$(wc -l <"$TMP/live")" -ge 2710 ] && break
	sleep 0.1
done
is "$(tail -n 5 "$TMP/live")" "$(cat "$TMP/c")" "back, it writes what came meanwhile"
like "$(cat "$TMP/live.err")" "*closehook-follow: SPOOL: read again*" "and says so"
kill -TERM "$live"
wait "$live"
is "$?" 0 "SIGTERM: exit 0"

done_testing
