#!/bin/bash
# shellcheck disable=SC1091,SC2154 # lib.sh: sourced; run sets rc, out, err
# closehook-dedupe with a real Redis: repeats dropped across runs, over a
# unix socket and TCP; database selection; passwords from the environment
# or a file; two processes sharing the seen-set; the modes; key layout and
# TTL; claims left by a dead process; an unreachable server; the server
# going away mid-run.
. "$(dirname "$0")/lib.sh"
set -e

command -v redis-server >/dev/null || skip_all "redis-server is not installed"
command -v redis-cli >/dev/null || skip_all "redis-cli is not installed"

# start_redis NAME ARGS...: a throw-away server with a unix socket at
# $TMP/NAME.sock, stopped when the test ends.
start_redis() {
	local name=$1
	shift
	redis-server --port 0 --unixsocket "$TMP/$name.sock" --save '' \
	    --appendonly no --dir "$TMP" "$@" >"$TMP/$name.log" 2>&1 &
	echo $! >"$TMP/$name.pid"
	at_exit "kill $! 2>/dev/null"
	disown $!
	for _ in $(seq 100); do
		[ -S "$TMP/$name.sock" ] && return 0
		sleep 0.05
	done
	return 1
}
rcli() { redis-cli -s "$TMP/r.sock" "$@"; }

start_redis r
S="unix:$TMP/r.sock"
ids() { seq "$1" "$2" | sed 's/.*/{"event":{"id":"ev_&","date_updated":"u"}}/'; }

ids 1 1000 >"$TMP/in"
ids 1 1000 >>"$TMP/in"
run closehook-dedupe --store "$S" --stats "$TMP/in"
is "$rc" 0 "exit 0"
is "$(wc -l <"$TMP/out")" 1000 "repeats within the run are dropped"
same_file "$TMP/out" <(ids 1 1000) "the rest passes in order, byte for byte"
run closehook-dedupe --store "$S" "$TMP/in"
is "$out" "" "and all of them in a second run"
is "$(rcli dbsize)" 1000 "one Redis key per record key"
key=$(python3 -c 'import hashlib; print("closehook:" + hashlib.blake2b(b"\0" + b"[\"ev_1\",\"u\"]", digest_size=16).hexdigest())')
is "$(rcli get "$key")" 1 \
    "keys are closehook:HEX(BLAKE2b-128(namespace NUL key-json))"
ttl=$(rcli ttl "$key")
ok "with the default TTL of 35 days ($ttl s)" \
    test "$ttl" -gt 3023000 -a "$ttl" -le 3024000
ids 5001 5001 | closehook-dedupe --store "$S" --ttl 90s >/dev/null
ttl=$(rcli ttl "$(python3 -c 'import hashlib; print("closehook:" + hashlib.blake2b(b"\0" + b"[\"ev_5001\",\"u\"]", digest_size=16).hexdigest())')")
ok "--ttl sets the expiry ($ttl s)" test "$ttl" -gt 80 -a "$ttl" -le 90

# Modes.
ids 2001 2003 >"$TMP/m"
# Filter mode's claims are what a shared Redis store is for: marks (an
# acknowledged pipeline) draw no warning here.
printf '%s\n' '{"event":{"id":"rm1"}}' '{"closehook_mark":{"dev":1,"ino":2,"head_len":0,"head_fnv1a64":"cbf29ce484222325","offset":10}}' >"$TMP/rmarked"
run closehook-dedupe --store "$S" "$TMP/rmarked"
is "$rc:$err" "0:" "filter mode with marks on Redis: no warning"
run closehook-dedupe --store "$S" --mode check "$TMP/m"
is "$(wc -l <"$TMP/out")" 3 "check passes new keys"
run closehook-dedupe --store "$S" --mode check "$TMP/m"
is "$(wc -l <"$TMP/out")" 3 "and stores nothing"
run closehook-dedupe --store "$S" --mode record "$TMP/m"
is "$(wc -l <"$TMP/out")" 3 "record passes all"
run closehook-dedupe --store "$S" --mode check --invert "$TMP/m"
is "$(wc -l <"$TMP/out")" 3 "and stored them (--invert shows the repeats)"

# Two processes on one Redis, overlapping input, one of them in reverse
# order: their blocks meet each other's claims from both sides.  Neither
# may wait while holding claims (that deadlocks until the 15 s lease
# expires and then passes keys twice): each key passes exactly once, fast.
ids 10001 40000 >"$TMP/a"
ids 20001 50000 | tac >"$TMP/b"
t0=$SECONDS
closehook-dedupe --store "$S" "$TMP/a" >"$TMP/oa" &
pa=$!
closehook-dedupe --store "$S" "$TMP/b" >"$TMP/ob" &
pb=$!
wait "$pa" && ra=0 || ra=$?
wait "$pb" && rb=0 || rb=$?
is "$ra:$rb" 0:0 "two processes on one Redis succeed"
is "$(cat "$TMP/oa" "$TMP/ob" | wc -l):$(cat "$TMP/oa" "$TMP/ob" | sort -u | wc -l)" \
    40000:40000 "each key passes exactly once in total"
ok "without waiting out a claim's lease ($((SECONDS - t0)) s)" \
    test $((SECONDS - t0)) -lt 12
same_file "$TMP/oa" <(grep -Fxf "$TMP/oa" "$TMP/a") \
    "each process keeps its input order"
same_file "$TMP/ob" <(grep -Fxf "$TMP/ob" "$TMP/b") \
    "also in reverse"
is "$(rcli --scan --pattern 'closehook:*' |
    xargs -r -n 500 redis-cli -s "$TMP/r.sock" mget | grep -vc '^1$')" 0 \
    "no claim is left behind: every key is committed"

# A claim left by a process that died before committing: waited for, then
# taken over once it expires (records are never lost to a dead claim).
rcli set "$(python3 -c 'import hashlib; print("closehook:" + hashlib.blake2b(b"\0" + b"[\"ev_dead\",\"u\"]", digest_size=16).hexdigest())')" p EX 1 >/dev/null
run closehook-dedupe --store "$S" <<<'{"event":{"id":"ev_dead","date_updated":"u"}}'
is "$rc:$out" '0:{"event":{"id":"ev_dead","date_updated":"u"}}' \
    "a dead process's claim expires and the record passes"

# Database number over TCP; the port is found by trying a few.
port=
for _ in $(seq 10); do
	p=$((20000 + RANDOM % 40000))
	redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
	    --dir "$TMP" >"$TMP/tcp.log" 2>&1 &
	tpid=$!
	disown "$tpid"
	for _ in $(seq 40); do
		redis-cli -p "$p" ping >/dev/null 2>&1 && { port=$p; break; }
		kill -0 "$tpid" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$port" ] && break
	kill "$tpid" 2>/dev/null || true
done
if [ -n "$port" ]; then
	at_exit "kill $tpid 2>/dev/null"
	run closehook-dedupe --store "redis://127.0.0.1:$port/3" "$TMP/m"
	is "$(wc -l <"$TMP/out")" 3 "redis://HOST:PORT/DB works over TCP"
	is "$(redis-cli -p "$port" -n 3 dbsize):$(redis-cli -p "$port" dbsize)" \
	    3:0 "keys land in the database named"
else
	skip "redis://HOST:PORT/DB works over TCP" "no free TCP port found"
	skip "keys land in the database named" "no free TCP port found"
fi

# Passwords: from the environment or a file, never from argv.
start_redis pw --requirepass 's3cret pass'
P="unix:$TMP/pw.sock"
printf 's3cret pass\n' >"$TMP/pwfile"
chmod 600 "$TMP/pwfile"
run env CLOSEHOOK_REDIS_PASSWORD='s3cret pass' closehook-dedupe --store "$P" "$TMP/m"
is "$rc:$(wc -l <"$TMP/out")" 0:3 "password from \$CLOSEHOOK_REDIS_PASSWORD"
run closehook-dedupe --store "$P" --redis-password-file "$TMP/pwfile" "$TMP/m"
is "$rc:$out:$err" "0::" "password from --redis-password-file"
chmod 644 "$TMP/pwfile"
run closehook-dedupe --store "$P" --redis-password-file "$TMP/pwfile" </dev/null
like "$err" "*warning: $TMP/pwfile: readable or writable by group or others (chmod 600)*" \
    "a password file readable by others draws a warning"
# The password is read with read(2) into locked memory (secret.h): from a
# pipe too, up to the end of its first line, a CR before the LF cut off.
run closehook-dedupe --store "$P" \
    --redis-password-file <(printf 's3cret pass\r\nsecond line\n') "$TMP/m"
is "$rc:$out:$err" "0::" "the first line of a password pipe, without CR LF"
printf '\ns3cret pass\n' >"$TMP/pwfile2"
chmod 600 "$TMP/pwfile2"
run closehook-dedupe --store "$P" --redis-password-file "$TMP/pwfile2" \
    </dev/null
is "$rc:$err" "2:closehook-dedupe: $TMP/pwfile2: empty password file" \
    "an empty first line is no password: exit 2"
run env CLOSEHOOK_REDIS_PASSWORD=wrong closehook-dedupe --store "$P" "$TMP/m"
is "$rc" 2 "a wrong password: exit 2"
like "$err" "*redis: authentication failed: WRONGPASS*" \
    "reported with the server's reason"
ok "and without the password" test "${err/wrong/}" = "$err"
run closehook-dedupe --store "$P" </dev/null
is "$rc" 2 "no password for a server that wants one: exit 2"
like "$err" "*NOAUTH*(the server wants a password: --redis-password-file)*" \
    "with what to give"

# Unreachable: exit 2 before reading any input.
printf '%s\n' '{"event":{"id":"x"}}' >"$TMP/one"
run bash -c 'closehook-dedupe --store "unix:$1/nothing.sock"; echo "rc=$?"; cat' \
    sh "$TMP" <"$TMP/one"
is "$out" "$(printf 'rc=2\n{"event":{"id":"x"}}')" \
    "unreachable Redis: exit 2, stdin left unread"
like "$err" "closehook-dedupe: redis: cannot connect to *nothing.sock*" \
    "with a clear message"

# The server goes away mid-run: what passed was flushed, then exit 2.
start_redis gone
mkfifo "$TMP/fifo"
closehook-dedupe --store "unix:$TMP/gone.sock" <"$TMP/fifo" \
    >"$TMP/g.out" 2>"$TMP/g.err" &
pid=$!
exec 3>"$TMP/fifo"
ids 1 3 >&3
for _ in $(seq 100); do
	[ "$(wc -l <"$TMP/g.out")" -ge 3 ] && break
	sleep 0.02
done
kill -KILL "$(cat "$TMP/gone.pid")"
sleep 0.1
ids 4 6 >&3 || true
exec 3>&-
wait "$pid" && grc=0 || grc=$?
is "$grc" 2 "Redis going away mid-run: exit 2"
same_file "$TMP/g.out" <(ids 1 3) "what passed before is out; nothing after"
like "$(cat "$TMP/g.err")" "closehook-dedupe: store: redis: *" \
    "reported on stderr"
echo "# $(cat "$TMP/g.err")"

done_testing
