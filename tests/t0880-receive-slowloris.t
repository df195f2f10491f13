#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154
# closehook-receive under a slow-headers attack (slowloris): connections
# that dribble a header line every few seconds are closed once
# --header-timeout has passed since they opened, however busy they look,
# and --max-connections-per-ip keeps one address from taking every slot; a
# well-behaved client is answered within seconds meanwhile.  Attackers
# come from 127.0.0.2 and up, the good client from 127.0.0.1; every attack
# is bounded in connections and seconds.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"

if slowed; then
	skip_all "latency under attack is not measured with slowed programs"
fi

# attack PORT OUTFILE SLOWLORIS-OPTIONS...: start the attack in the
# background; sets APID.
attack() {
	local port=$1 out=$2
	shift 2
	timeout 60 python3 "$TOP/tests/fakes/slowloris.py" "$port" "$@" \
	    >"$out" &
	APID=$!
	at_exit "kill $APID 2>/dev/null"
}
# good: a well-behaved POST from 127.0.0.1; prints "CODE SECONDS".
good() {
	curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 30 \
	    --data-binary '{"event":{}}' "$RURL/"
}
# within GOT LIMIT: GOT seconds are below LIMIT.
within() { awk -v g="$1" -v l="$2" 'BEGIN { exit !(g < l) }'; }

# 1. The defaults against 600 connections from ten addresses, each sending
# a header line every 2 s for 10 s: together they could hold all 512
# slots for as long as they keep talking; the header deadline (5 s) frees
# them, and the good client, queued behind them, gets its 200.
ok "it starts with the defaults" start_receive d --spool "$TMP/spool"
attack "$RPORT" "$TMP/a1" --conns 600 --addrs 10 --every 2 --for 10
sleep 1.5
read -r code secs <<<"$(good)"
is "$code" 200 "a good POST during the attack: 200"
ok "within a few seconds ($secs s; the header deadline is 5 s)" \
    within "$secs" 6
wait "$APID"
first=$(jq .first_close "$TMP/a1")
ok "the attack got its connections ($(jq .opened "$TMP/a1") opened)" \
    [ "$(jq .opened "$TMP/a1")" -ge 600 ]
ok "its dribbling connections were closed at the deadline ($first s)" \
    awk -v f="$first" 'BEGIN { exit !(f != "null" && f >= 4 && f < 7.5) }'
ok "hundreds of them ($(jq '.closes | length' "$TMP/a1"))" \
    [ "$(jq '.closes | length' "$TMP/a1")" -ge 300 ]
is "$(jq -r .body "$TMP/spool")" '{"event":{}}' \
    "only the good request was captured"
timeouts=$(metric closehook_receive_header_timeouts_total)
ok "closehook_receive_header_timeouts_total counts them ($timeouts)" \
    [ "${timeouts:-0}" -ge 300 ]
stop_receive
is "$rc" 0 "exit 0"

# 2. --max-connections-per-ip alone (a header deadline far away): 200
# connections from one address get 16 slots, the rest are refused at once,
# and the good client is answered at once.
ok "it starts with --max-connections-per-ip 16" start_receive p \
    --spool "$TMP/spool2" --max-connections 64 --max-connections-per-ip 16 \
    --header-timeout 60s
attack "$RPORT" "$TMP/a2" --conns 200 --addrs 1 --every 1 --for 4
sleep 1
read -r code secs <<<"$(good)"
is "$code" 200 "a good POST while one address holds all it may: 200"
ok "at once ($secs s)" within "$secs" 1
wait "$APID"
ok "the connections past the cap were refused ($(jq .refused_at_once "$TMP/a2"))" \
    [ "$(jq .refused_at_once "$TMP/a2")" -ge 150 ]
stop_receive
is "$rc" 0 "exit 0"

# 3. What the deadline covers: the request line and headers of each
# request, from the connection's start or the previous answer.
ok "it starts with --header-timeout 1s" start_receive h \
    --spool "$TMP/spool3" --header-timeout 1s --timeout 10
python3 - "$RPORT" >"$TMP/h" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def status(s):
    try:
        d = s.recv(4096)
    except OSError:
        return "reset"
    return d.split(b"\r\n")[0].decode().split(" ")[1] if d else "closed"
def closed_after(s, t0):
    try:
        while s.recv(4096):
            pass
    except OSError:
        pass
    return time.monotonic() - t0
# Headers sent slowly but complete within the deadline: served.
s = socket.create_connection(("127.0.0.1", port), timeout=5)
for part in (b"POST / HTTP/1.1\r\n", b"Host: x\r\n", b"Content-Length: 2\r\n",
             b"\r\nok"):
    time.sleep(0.2)
    s.sendall(part)
print("slow-but-in-time", status(s))
# The next request on that kept-alive connection has its own deadline.
t0 = time.monotonic()
s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
print("second-request-dribbled %.1f" % closed_after(s, t0))
# A connection that says nothing is closed at the deadline too, before
# --timeout.
t0 = time.monotonic()
s = socket.create_connection(("127.0.0.1", port), timeout=5)
print("silent %.1f" % closed_after(s, t0))
# Dribbling: a line every 0.3 s never lets the idle timeout expire.
t0 = time.monotonic()
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
end = "open"
for i in range(20):
    time.sleep(0.3)
    try:
        s.sendall(b"X-%d: y\r\n" % i)
    except OSError:
        end = "%.1f" % (time.monotonic() - t0)
        break
if end == "open":
    end = "%.1f" % closed_after(s, t0)
print("dribbling", end)
PY
is "$(sed -n 's/^slow-but-in-time //p' "$TMP/h")" 200 \
    "headers complete within the deadline: 200"
for what in second-request-dribbled silent dribbling; do
	t=$(sed -n "s/^$what //p" "$TMP/h")
	ok "$what: closed at the deadline ($t s)" \
	    awk -v t="$t" 'BEGIN { exit !(t != "" && t >= 0.8 && t < 2.5) }'
done
is "$(wc -l <"$TMP/spool3")" 1 "one capture"
stop_receive
is "$rc" 0 "exit 0"

done_testing
