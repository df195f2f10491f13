#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154,SC2016
# closehook-receive's memory for request bodies is bounded as a whole by
# --max-buffered, not only per connection by --max-body: a body that would
# take it past the bound gets 503 with Retry-After at once (announced by
# Content-Length) or at its end (chunked), and is not captured; once the
# bodies held are done, new ones are taken again.  Many large uploads at
# once leave the resident memory near the bound.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"

must_fail "--max-buffered below --max-body is a usage error" \
    closehook-receive --max-buffered 1M --max-body 2M
like "$err" "*--max-buffered*--max-body*" "the message names both"

# (All from one address, so its own cap is off here; it is tested below.)
ok "it starts" start_receive r --spool "$TMP/spool" --max-buffered 1M \
    --max-body 600K --max-buffered-per-ip 0

# Two uploads of 400 KB each (800 KB of 1 MiB) send half their body and
# wait for a go; meanwhile a third is refused, and a chunked one that grows
# past the bound gets 503 at its end.  Then the two finish.
mkfifo "$TMP/go"
timeout 30 python3 - "$RPORT" "$TMP/go" >"$TMP/held" <<'PY' &
import socket, sys
port, go = int(sys.argv[1]), sys.argv[2]
held = []
for i in range(2):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 400000\r\n\r\n"
              + b"a" * 200000)
    held.append(s)
print("sent", flush=True)
open(go).read()
for s in held:
    s.sendall(b"b" * 200000)
    print(s.recv(4096).split(b"\r\n")[0].decode(), flush=True)
PY
hpid=$!
at_exit "kill $hpid 2>/dev/null"
for _ in $(seq 100); do
	[ -s "$TMP/held" ] && break
	sleep 0.05
done
is "$(cat "$TMP/held")" sent "two uploads hold 800 KB"
is "$(metric closehook_receive_buffered_bytes)" 800000 \
    "closehook_receive_buffered_bytes says so"
timeout 30 python3 - "$RPORT" >"$TMP/third" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def ask(req):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    t0 = time.monotonic()
    s.sendall(req)
    head = s.recv(4096).split(b"\r\n\r\n")[0].split(b"\r\n")
    retry = [h.split(b":")[1].strip().decode() for h in head
             if h.lower().startswith(b"retry-after:")]
    print(head[0].decode().split(" ")[1], retry[0] if retry else "-",
          "%.1f" % (time.monotonic() - t0))
ask(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 400000\r\n\r\n"
    + b"c" * 400000)
ask(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"".join(b"%x\r\n%s\r\n" % (50000, b"d" * 50000) for _ in range(6))
    + b"0\r\n\r\n")
ask(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
    + b"e" * 100000)
PY
read -r code retry secs < <(sed -n 1p "$TMP/third")
is "$code $retry" "503 5" "a third 400 KB body: 503 with Retry-After: 5"
ok "at once ($secs s)" awk -v s="$secs" -v l="$(slow 1)" \
    'BEGIN { exit !(s != "" && s < l) }'
is "$(sed -n 2p "$TMP/third" | cut -d' ' -f1-2)" "503 5" \
    "a chunked body that grows past the bound: 503 with Retry-After"
is "$(sed -n 3p "$TMP/third" | cut -d' ' -f1)" 200 \
    "a 100 KB body still fits: 200"
timeout 5 sh -c 'echo go >"$1"' sh "$TMP/go"
wait "$hpid"
is "$(sed -n '2,3p' "$TMP/held" | tr '\n' ' ')" "HTTP/1.1 200 OK HTTP/1.1 200 OK " \
    "the two uploads finish: 200 each"
is "$(metric closehook_receive_buffered_bytes)" 0 "nothing is held any more"
head -c 400000 /dev/zero | tr '\0' f >"$TMP/b400k"
is "$(post --data-binary "@$TMP/b400k" "$RURL/")" 200 \
    "a new 400 KB body after them: 200"
is "$(bodies_of "$TMP/spool" | cut -c1 | tr -d '\n')" eaaf \
    "captured: the 100 KB body, the two uploads, the new one; none refused"
stop_receive
is "$rc" 0 "exit 0"

# One address holds at most --max-buffered-per-ip (by default a quarter of
# --max-buffered, and never less than --max-body): a sender trickling big
# bodies from one address cannot take the rest from the others.  Loopback
# has other addresses to send from (127.0.0.2, 127.0.0.3).
# hold PORT: four 600 KB bodies from 127.0.0.2, each sending 100 bytes;
# prints each one's answer, or "held" for one still being read, then keeps
# them open for 3 s.
hold() {
	timeout 30 python3 - "$1" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held, codes = [], []
for i in range(4):
    s = socket.create_connection(("127.0.0.1", port), timeout=10,
                                 source_address=("127.0.0.2", 0))
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 600000\r\n\r\n"
              + b"h" * 100)
    held.append(s)
for s in held:
    s.settimeout(1)
    try:
        codes.append(s.recv(4096).split(b" ")[1].decode())
    except socket.timeout:
        codes.append("held")
print(" ".join(codes), flush=True)
time.sleep(3)
PY
}
ok "it starts with --max-buffered 4M" start_receive ip --spool "$TMP/spool4" \
    --max-buffered 4M --max-body 600K
hold "$RPORT" >"$TMP/ip" &
hpid=$!
for _ in $(seq 100); do [ -s "$TMP/ip" ] && break; sleep 0.05; done
is "$(cat "$TMP/ip")" "held 503 503 503" \
    "one address: one 600 KB body held (1 MiB, a quarter), the others 503"
is "$(metric closehook_receive_buffered_bytes)" 600000 "... 600 KB held"
head -c 600000 /dev/zero | tr '\0' i >"$TMP/b600k"
is "$(post --interface 127.0.0.3 --data-binary "@$TMP/b600k" "$RURL/")" 200 \
    "another address meanwhile: its 600 KB body is taken"
wait "$hpid"
stop_receive
ok "it starts with --max-buffered-per-ip 0" start_receive ip0 \
    --spool "$TMP/spool5" --max-buffered 4M --max-body 600K \
    --max-buffered-per-ip 0
hold "$RPORT" >"$TMP/ip0" &
hpid=$!
for _ in $(seq 100); do [ -s "$TMP/ip0" ] && break; sleep 0.05; done
is "$(cat "$TMP/ip0")" "held held held held" \
    "--max-buffered-per-ip 0: one address may hold all four (2.4 of 4 MB)"
wait "$hpid"
stop_receive
must_fail "--max-buffered-per-ip below --max-body is a usage error" \
    closehook-receive --max-body 600K --max-buffered-per-ip 100K

# Resident memory: 20 uploads of 6 MB each at once, holding their bodies,
# under --max-buffered 16M take about 16 MB, not 120.
if slowed; then
	skip "resident memory is not measured when slowed" "$SLOW_SKIP"
	skip "skipped" "$SLOW_SKIP"
else
	ok "it starts with --max-buffered 16M" start_receive m \
	    --spool "$TMP/spool2" --max-buffered 16M --max-body 8M
	rss() { awk '/^VmRSS/ { print $2 }' "/proc/$RPID/status"; }
	rss0=$(rss)
	timeout 30 python3 - "$RPORT" "$RPID" >"$TMP/rss" <<'PY'
import socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]
body = b"g" * (6000000 - 1000)
held, codes = [], {}
for i in range(20):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6000000\r\n\r\n")
    s.setblocking(False)
    held.append([s, memoryview(body)])
# Send what each may, until all sent or refused.
t0 = time.monotonic()
while time.monotonic() - t0 < 10 and any(len(h[1]) for h in held):
    for h in held:
        try:
            if len(h[1]):
                h[1] = h[1][h[0].send(h[1]):]
        except BlockingIOError:
            pass
        except OSError:
            h[1] = h[1][:0]
time.sleep(0.5)
rss = [l.split()[1] for l in open("/proc/%s/status" % pid)
       if l.startswith("VmRSS")][0]
for h in held:
    h[0].setblocking(True)
    h[0].settimeout(0.5)
    try:
        k = h[0].recv(4096).split(b" ")[1].decode()
    except (OSError, IndexError):
        k = "open"
    codes[k] = codes.get(k, 0) + 1
print(rss, " ".join("%s:%d" % kv for kv in sorted(codes.items())))
PY
	read -r rss1 codes <"$TMP/rss"
	ok "20 x 6 MB held at once: resident memory grew by $(( (${rss1:-0} - rss0) / 1024 )) MB (under 40)" \
	    awk -v a="$rss0" -v b="$rss1" 'BEGIN { exit !(b != "" && b - a < 40 * 1024) }'
	like "$codes" "*503:1[89]*" "and 18 or 19 of them got 503 ($codes)"
	stop_receive
fi


# With keys, what the signature headers alone refuse takes no memory: a
# client without them, announcing big bodies, is answered 401 before it
# sends a byte of them, so it cannot hold --max-buffered against Close's
# deliveries.  A refused body over 256 KiB (its headers well-formed, the
# signature forged) is read but not kept in --keep-rejects, nor made into
# a capture line.
printf '%s\n' "$KAV_KEY" >"$TMP/keys"
chmod 600 "$TMP/keys"
ok "it starts with keys" start_receive k --spool "$TMP/spool3" \
    --max-buffered 1M --max-body 600K --secret-file "$TMP/keys" \
    --max-age 0 --keep-rejects "$TMP/rej"
timeout 30 python3 - "$RPORT" "$KAV_TS" >"$TMP/door" <<'PY'
import socket, sys
port, ts = int(sys.argv[1]), sys.argv[2]
held = []
for i in range(4):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 600000\r\n\r\n")
    held.append(s)
print(" ".join(s.recv(4096).split(b" ")[1].decode() for s in held))
s = socket.create_connection(("127.0.0.1", port), timeout=5)
body = b'{"a":"' + b"x" * 400000 + b'"}'
s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nClose-Sig-Timestamp: " + ts.encode()
          + b"\r\nClose-Sig-Hash: " + b"0" * 64
          + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
print(s.recv(4096).split(b" ")[1].decode())
PY
is "$(sed -n 1p "$TMP/door")" "401 401 401 401" \
    "no signature headers: 401 before the announced body is sent"
is "$(metric closehook_receive_buffered_bytes)" 0 "... nothing is held"
is "$(post -H "close-sig-timestamp: $KAV_TS" -H "close-sig-hash: $KAV_SIG" --data-binary "$KAV_BODY" "$RURL/")" 200 \
    "a delivery meanwhile: 200"
is "$(sed -n 2p "$TMP/door")" 401 "a forged signature on a 400 KB body: 401"
is "$(metric 'closehook_receive_rejects_unkept_total')" 5 \
    "... not kept (over 256 KiB), counted with the four"
is "$(metric 'closehook_receive_rejects_total{reason="missing-signature"}')" 4 \
    "the four refused at their headers are counted"
ok "the rejects file holds no refused body" \
    bash -c '! grep -q xxxxxxxxxx "$1"' _ "$TMP/rej"
# Small unsigned bodies are read to be kept, but from a pool of their own
# (4 MiB): 30 of 200 KB each, sent slowly and held open, take nothing from
# --max-buffered, and a delivery meanwhile is taken.
timeout 30 python3 - "$RPORT" >"$TMP/slow" <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
held = []
for i in range(30):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n"
              + b"j" * 100)
    held.append(s)
print("held", flush=True)
time.sleep(3)
PY
spid=$!
for _ in $(seq 100); do [ -s "$TMP/slow" ] && break; sleep 0.05; done
is "$(metric closehook_receive_buffered_bytes)" 0 \
    "30 slow unsigned bodies to be kept: none of --max-buffered held"
is "$(post -H "close-sig-timestamp: $KAV_TS" -H "close-sig-hash: $KAV_SIG" --data-binary "$KAV_BODY" "$RURL/")" 200 \
    "... and a delivery meanwhile: 200"
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null
is "$(metric 'closehook_receive_rejects_total{reason="missing-signature"}')" 34 \
    "each counted at its headers, also those cut off before their body"
stop_receive

done_testing
