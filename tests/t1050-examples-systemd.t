#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154 # lib.sh: sourced; run sets rc, out, err
# examples/systemd/: the units parse (systemd-analyze verify, with the
# installed paths pointed at this tree), are hardened (systemd-analyze
# security), name only programs and options that exist, hand each script
# the credentials it reads, keep secrets off command lines, and the
# receiver's command line works as the unit has it.  The key and
# cross-reference checks run without systemd too.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"

U=$TOP/examples/systemd
units=$(cd "$U" && ls -- *.service *.timer)
ok "there are units" test -n "$units"

# unit_lines FILE: its lines with continuations joined, comments dropped.
unit_lines() {
	sed -e ':a' -e '/\\$/{N;s/\\\n[[:space:]]*/ /;ba}' "$1" |
	    grep -v '^[[:space:]]*[#;]' | grep -v '^[[:space:]]*$'
}
# value FILE KEY: the values of KEY, one a line.
value() { unit_lines "$1" | sed -n "s/^$2=//p"; }

# The directives these units may use, by section: a typo is an unknown key.
declare -A known=(
	[Unit]="Description Documentation After Before Wants Requires BindsTo
	    PartOf Conflicts StartLimitIntervalSec StartLimitBurst"
	[Service]="Type ExecStart ExecStartPre ExecStartPost ExecReload ExecStop
	    User Group Environment EnvironmentFile LoadCredential
	    StandardOutput StandardError StateDirectory StateDirectoryMode
	    RuntimeDirectory WorkingDirectory UMask Restart RestartSec
	    TimeoutStartSec TimeoutStopSec KillMode LimitNOFILE MemoryMax
	    NoNewPrivileges
	    CapabilityBoundingSet AmbientCapabilities PrivateUsers ProtectSystem
	    ProtectHome PrivateTmp PrivateDevices DevicePolicy
	    ProtectKernelTunables ProtectKernelModules ProtectKernelLogs
	    ProtectControlGroups ProtectClock ProtectHostname ProtectProc
	    ProcSubset RestrictAddressFamilies RestrictNamespaces
	    RestrictRealtime RestrictSUIDSGID RemoveIPC LockPersonality
	    MemoryDenyWriteExecute SystemCallArchitectures SystemCallFilter
	    ReadWritePaths"
	[Timer]="OnCalendar OnBootSec OnUnitActiveSec AccuracySec
	    RandomizedDelaySec Persistent Unit"
	[Install]="WantedBy RequiredBy Alias Also"
)
for u in $units; do
	bad=$(unit_lines "$U/$u" | awk -v u="$u" '
	    /^\[/ { sec = $0; gsub(/[][]/, "", sec); next }
	    { k = $0; sub(/=.*/, "", k); print sec " " k }' |
	    while read -r sec k; do
		[[ " ${known[$sec]:-} " =~ [[:space:]]${k}[[:space:]] ]] ||
		    echo "[$sec] $k"
	    done)
	is "$bad" "" "$u: every section and key is one systemd knows"
done

# Hardening every service has.
for u in $(cd "$U" && ls -- *.service); do
	for kv in User=closehook NoNewPrivileges=yes ProtectSystem=strict \
	    ProtectHome=yes PrivateTmp=yes StateDirectory=closehook UMask=0077 \
	    CapabilityBoundingSet= SystemCallFilter=@system-service; do
		ok "$u: $kv" grep -qx "$kv" "$U/$u"
	done
done

# ExecStart: an installed closehook program with options it has, or one of
# the example scripts; never a secret's path.
for u in $(cd "$U" && ls -- *.service); do
	cmd=$(value "$U/$u" ExecStart)
	read -ra argv <<<"$cmd"
	case ${argv[0]} in
	/usr/local/bin/closehook-*)
		p=${argv[0]##*/}
		ok "$u: $p is a program of closehook" \
		    test -x "$CLOSEHOOK_BUILD/bin/$p"
		help=$("$CLOSEHOOK_BUILD/bin/$p" --help)
		for a in "${argv[@]:1}"; do
			case $a in
			-*) o=${a%%=*}
			    like "$help" "*[ ,]${o}[ ,=]*" "$u: $p has $o" ;;
			esac
		done
		;;
	/etc/closehook/*.sh)
		s=${argv[0]##*/}
		ok "$u: runs examples/$s (installed as ${argv[0]})" \
		    test -x "$TOP/examples/$s"
		is "${#argv[@]}" 1 "$u: with its settings in the environment"
		;;
	*)
		ok "$u: ExecStart=${argv[0]} is a closehook program or example" false
		;;
	esac
	is "$(unit_lines "$U/$u" | grep -E '^(Exec[A-Za-z]*|Environment)=' |
	    grep -oE '/etc/closehook/[^ ]*' | grep -v '\.sh$')" "" \
	    "$u: no command line or variable names a secret's file"
done

# Credentials: each unit loads what its program or script reads, and
# nothing else; what the script reads is a $CREDENTIALS_DIRECTORY default.
declare -A creds=(
	[closehook-receive.service]="keys"
	[closehook-vip-alert.service]="keys slack-url"
	[closehook-won-handoff.service]="keys helpdesk-token"
	[closehook-won-deals.service]="keys pgpass"
	[closehook-backfill.service]="close-api-key"
)
for u in $(cd "$U" && ls -- *.service); do
	is "$(value "$U/$u" LoadCredential | sed 's/:.*//' | sort | tr '\n' ' ')" \
	    "$(tr ' ' '\n' <<<"${creds[$u]:-?}" | sort | tr '\n' ' ')" \
	    "$u: loads the credentials ${creds[$u]:-?}"
	s=$(value "$U/$u" ExecStart)
	s=$TOP/examples/${s##*/}
	for c in ${creds[$u]:-}; do
		ok "$u: $c is read, as a credential" bash -c \
		    "grep -q '%d/$c\\b' '$U/$u' ||
		    { [ -f '$s' ] && grep -q '\\\$secrets/$c\\b' '$s'; }"
	done
	unit_lines "$U/$u" | grep -o '%d/[a-z-]*' | sed 's,%d/,,' |
	    while read -r c; do
		[[ " ${creds[$u]} " == *" $c "* ]] || echo "$u: %d/$c not loaded"
	    done >"$TMP/unloaded"
	is "$(cat "$TMP/unloaded")" "" "$u: every %d/ID it names is loaded"
done
for t in $(cd "$U" && ls -- *.timer); do
	s=${t%.timer}.service
	ok "$t: starts $s, which exists" test -f "$U/$s"
	is "$(value "$U/$s" Type)" oneshot "$t: $s is a oneshot"
	is "$(value "$U/$t" WantedBy)" timers.target "$t: wanted by timers.target"
done

# systemd itself: verify the units with the installed paths pointed at this
# tree (programs, example scripts, man pages), and score their hardening.
if systemd-analyze --version >/dev/null 2>&1 &&
    systemd-analyze verify --help >/dev/null 2>&1; then
	mkdir -p "$TMP/units" "$TMP/man/man1" "$TMP/man/man7"
	ln -s "$TOP"/man/*.1 "$TMP/man/man1/"
	ln -s "$TOP"/man/*.7 "$TMP/man/man7/"
	for u in $units; do
		sed -e "s,/usr/local/bin/,$CLOSEHOOK_BUILD/bin/,g" \
		    -e "s,/etc/closehook/\([a-z-]*\.sh\),$TOP/examples/\1,g" \
		    "$U/$u" >"$TMP/units/$u"
	done
	manopt=()
	command -v man >/dev/null 2>&1 || manopt=(--man=no)
	for u in $units; do
		run env MANPATH="$TMP/man" systemd-analyze verify "${manopt[@]}" \
		    "$TMP/units/$u"
		is "$rc:$out$err" 0: "$u: systemd-analyze verify is silent"
	done
	for u in $(cd "$U" && ls -- *.service); do
		run systemd-analyze security --offline=yes --threshold=20 \
		    "$TMP/units/$u"
		is "$rc" 0 "$u: exposure $(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: //p') (at most 2.0)"
	done
	for t in $(cd "$U" && ls -- *.timer); do
		ok "$t: OnCalendar=$(value "$U/$t" OnCalendar) is a calendar spec" \
		    systemd-analyze calendar "$(value "$U/$t" OnCalendar)"
	done
else
	skip "the units pass systemd-analyze verify" "systemd-analyze is not usable here"
fi
if command -v systemd-sysusers >/dev/null 2>&1; then
	mkdir -p "$TMP/root/etc"
	run systemd-sysusers --dry-run --root="$TMP/root" \
	    "$U/sysusers.d/closehook.conf"
	is "$rc" 0 "sysusers.d/closehook.conf is valid"
	like "$out$err" "*Creating user 'closehook'*" "and makes the user closehook"
else
	skip "sysusers.d/closehook.conf is valid" "systemd-sysusers is not here"
	skip "and makes the user closehook" "systemd-sysusers is not here"
fi

# make install puts the examples beside the other documents.
dest=$TMP/inst
run make -s -C "$TOP" install DESTDIR="$dest" PREFIX=/usr \
    BUILD="${CLOSEHOOK_MAKE_BUILD:-$CLOSEHOOK_BUILD}"
is "$rc" 0 "make install succeeds"
doc=$dest/usr/share/doc/closehook/examples
for f in "$TOP"/examples/*.sh; do
	ok "it installs examples/${f##*/}, executable" test -x "$doc/${f##*/}"
done
for u in $units sysusers.d/closehook.conf; do
	ok "it installs examples/systemd/$u" cmp -s "$U/$u" "$doc/systemd/$u"
done
run make -s -C "$TOP" uninstall DESTDIR="$dest" PREFIX=/usr \
    BUILD="${CLOSEHOOK_MAKE_BUILD:-$CLOSEHOOK_BUILD}"
is "$rc:$(find "$dest" -type f | wc -l)" 0:0 "make uninstall removes them"
ok "and their directories" test ! -e "$dest/usr/share/doc/closehook"

# The receiver as closehook-receive.service starts it, on a free port with
# its paths in the test's directory: Close's deliveries reach the spool, a
# forgery does not.
mkdir -p "$TMP/creds" "$TMP/state"
echo "$GEN_KEY" >"$TMP/creds/keys"
chmod 600 "$TMP/creds/keys"
cmd=$(value "$U/closehook-receive.service" ExecStart |
    sed -e "s,/usr/local/bin/,$CLOSEHOOK_BUILD/bin/," -e "s,%d,$TMP/creds," \
    -e "s,/var/lib/closehook,$TMP/state," -e "s,127\.0\.0\.1:8080,127.0.0.1:0,")
read -ra argv <<<"$cmd"
"${argv[@]}" >/dev/null 2>"$TMP/recv.err" &
RPID=$!
at_exit "kill -9 $RPID 2>/dev/null"
for _ in $(seq 100); do
	grep -q 'listening on' "$TMP/recv.err" && break
	sleep 0.1
done
RURL=http://127.0.0.1:$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
    "$TMP/recv.err")
python3 "$TOP/bench/gen" --format payloads --count 5 --seed 71 >"$TMP/five"
send_events "$RURL/close" "$TMP/five"
is "$(jq -r .acked "$TMP/sender.json")" 5 "the unit's receiver acknowledges Close's deliveries"
is "$(wc -l <"$TMP/state/close.ndjson")" 5 "into the spool the followers read"
is "$(post -H 'close-sig-hash: 00' -H 'close-sig-timestamp: 1' -d '{}' "$RURL/close")" \
    401 "and refuses a forgery at the door, with the credential's keys"
stop_receive
is "$rc" 0 "it stops on SIGTERM, exit 0"
done_testing
