#!/bin/bash
# shellcheck disable=SC1091,SC2119,SC2154 # lib.sh: sourced; run sets rc, out, err
# make deb: the package holds every program, its compressed man page and
# its completions where Debian's bash, zsh and fish look, the examples,
# the units and the sysusers.d file, with dependencies computed from the
# libraries the programs load; lintian finds nothing wrong; apt installs
# it without the network, the shells and man find what it installed, the
# closehook user exists, no unit is enabled, the receiver, started as its
# unit starts it, takes Close's deliveries, and a follower set up for the
# follower template (the example vip-alert.sh) delivers from its spool;
# apt purge leaves nothing behind.  Whatever happens, the package is purged
# and the user removed at the end when the test made them.
. "$(dirname "$0")/lib.sh"
. "$TOP/tests/fakes/receive-helpers.sh"
. "$TOP/tests/fakes/post-helpers.sh"

[ "$(id -u)" -eq 0 ] || skip_all "installs a package, which needs root"
# The package is built from the sources, not from CLOSEHOOK_BUILD: the
# sanitizer run of the suite would only build and test it again.
case $CLOSEHOOK_BUILD in
*/build-san | */valgrind) skip_all "the package is tested in the plain run" ;;
esac
for c in dpkg-buildpackage dh lintian apt-get; do
	command -v "$c" >/dev/null 2>&1 ||
	    skip_all "$c is missing (.ci/deps installs it)"
done
if dpkg -s closehook >/dev/null 2>&1; then
	skip_all "a closehook package is installed here, which the test would purge"
fi
if compgen -G '/usr/bin/closehook-*' >/dev/null; then
	skip_all "/usr/bin holds closehook programs of no package"
fi

version=$(sed -n 's/^VERSION *= *//p' "$TOP/Makefile")
arch=$(dpkg --print-architecture)
deb=$TOP/build/deb/closehook_${version}_${arch}.deb
mapfile -t progs < <(cd "$TOP/cmd" && printf '%s\n' closehook-*.c | sed 's/\.c$//')
export DEBIAN_FRONTEND=noninteractive
# Wait for the dpkg lock rather than fail when other work holds it.
apt=(apt-get -y -q -o DPkg::Lock::Timeout=300)

start=$SECONDS
# One job for the package build: the other tests run beside this one.
run env DEB_BUILD_OPTIONS="nocheck parallel=1" make -s -C "$TOP" deb
is "$rc" 0 "make deb succeeds ($((SECONDS - start)) s)"
if ! ok "it builds $(basename "$deb")" test -f "$deb"; then
	tail -20 "$TMP/err" | sed 's/^/# /'
	done_testing
	exit 1
fi

# Contents: the paths in the package, directories ending in /.
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's,^\./,,' >"$TMP/contents"
has() { grep -qxF "$1" "$TMP/contents"; }
for p in "${progs[@]}"; do
	for f in usr/bin/$p usr/share/man/man1/$p.1.gz \
	    usr/share/bash-completion/completions/$p \
	    usr/share/zsh/vendor-completions/_$p \
	    usr/share/fish/vendor_completions.d/$p.fish; do
		ok "it holds /$f" has "$f"
	done
done
ok "it holds closehook(7), compressed" has usr/share/man/man7/closehook.7.gz
is "$(grep '^usr/share/man/.*[^/]$' "$TMP/contents" | grep -v '\.gz$')" "" \
    "no man page is left uncompressed"
dpkg-deb -x "$deb" "$TMP/root"
doc=usr/share/doc/closehook
for f in $(cd "$TOP" && find examples -type f | sort); do
	ok "it holds $f as /$doc/$f" cmp -s "$TOP/$f" "$TMP/root/$doc/$f"
done
for f in "$TOP"/examples/*.sh; do
	ok "examples/${f##*/} stays executable" test -x "$TMP/root/$doc/examples/${f##*/}"
done
for f in copyright README.Debian changelog.gz; do
	ok "it holds /$doc/$f" has "$doc/$f"
done
# Where this debhelper puts units: /lib/systemd/system on Debian 12, which
# is /usr/lib/systemd/system on its merged /usr; newer ones /usr/lib.
unitdir=$(grep -oE '^(usr/)?lib/systemd/system/closehook-receive\.service$' \
    "$TMP/contents" | sed 's,/[^/]*$,,')
ok "it holds closehook-receive.service in ${unitdir:-no unit directory}" \
    test -n "$unitdir"
ok "and closehook-follow@.service beside it" \
    has "$unitdir/closehook-follow@.service"
ok "it holds /usr/lib/sysusers.d/closehook.conf, the example's" cmp -s \
    "$TOP/examples/systemd/sysusers.d/closehook.conf" \
    "$TMP/root/usr/lib/sysusers.d/closehook.conf"
ok "it holds /etc/closehook for the configuration" has etc/closehook/
is "$(grep -vE '^(usr/bin|usr/share/(man|doc/closehook|bash-completion|zsh|fish)|(usr/)?lib/systemd/system|usr/lib/sysusers\.d|etc/closehook)(/|$)' \
    "$TMP/contents" | grep -vxE '(usr/|usr/share/|usr/share/doc/|usr/lib/|lib/|lib/systemd/|etc/)?')" \
    "" "and nothing elsewhere"

# The packaged receiver is the example's, but for the programs' directory.
unit_lines() {
	sed -e ':a' -e '/\\$/{N;s/\\\n[[:space:]]*/ /;ba}' "$1" |
	    grep -v '^[[:space:]]*[#;]' | grep -v '^[[:space:]]*$'
}
is "$(unit_lines "$TMP/root/$unitdir/closehook-receive.service")" \
    "$(unit_lines "$TOP/examples/systemd/closehook-receive.service" |
    sed 's,/usr/local/bin/,/usr/bin/,g')" \
    "closehook-receive.service is examples/systemd's, run from /usr/bin"

# The control file: the Makefile's version, and a dependency on the
# package of every library a program loads, as dh_shlibdeps computes it.
is "$(dpkg-deb -f "$deb" Version)" "$version" "the package's version is the Makefile's"
depends=$(dpkg-deb -f "$deb" Depends)
# owner PATH: the package that has the file, by its path or by the other
# spelling of it on a merged /usr.
owner() {
	local f try
	# Twice: dpkg -S reads a database another dpkg may be rewriting.
	for try in 1 2; do
		for f in "$1" "${1#/usr}" "/usr$1"; do
			dpkg -S "$f" 2>/dev/null | head -1 | sed 's/[:,].*//' |
			    grep . && return 0
		done
		[ "$try" = 1 ] && sleep 1
	done
	return 1
}
for lib in $(for p in "${progs[@]}"; do
	objdump -p "$TMP/root/usr/bin/$p" | awk '$1 == "NEEDED" { print $2 }'
    done | sort -u); do
	path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
	pkg=$(owner "$path" || owner "$(realpath "$path")")
	like ", $depends," "*, ${pkg:-?} (*" "it depends on ${pkg:-?}, for $lib"
done

# lintian: no error and no warning (its notes are shown).
lintian -I "$deb" >"$TMP/lintian" 2>/dev/null
sed 's/^/# lintian: /' "$TMP/lintian"
is "$(grep -E '^[EW]: ' "$TMP/lintian")" "" "lintian reports no error and no warning"

# Install it, noting what was here before, so that the test can leave the
# machine as it found it.
had_etc=0
[ -e /etc/closehook ] && had_etc=1
had_var=0
[ -e /var/lib/closehook ] && had_var=1
had_user=0
getent passwd closehook >/dev/null && had_user=1
had_group=0
getent group closehook >/dev/null && had_group=1
# The follower instance the test sets up in /etc/closehook, removed before
# the purge (hooks run in order).
inst=t0045-$$
at_exit "rm -f /etc/closehook/$inst.sh /etc/closehook/$inst.env"
at_exit "dpkg -s closehook >/dev/null 2>&1 && ${apt[*]} purge closehook >/dev/null 2>&1"
# An interrupted run cleans up too: the EXIT trap runs on exit, not when a
# signal kills the shell.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
[ "$had_user" = 1 ] || at_exit "getent passwd closehook >/dev/null && userdel closehook"
[ "$had_group" = 1 ] || at_exit "getent group closehook >/dev/null && groupdel closehook"

# Every dependency is here already (.ci/deps installed them): apt installs
# the package alone and fetches nothing.
run "${apt[@]}" install --simulate "$deb"
is "$(grep '^Inst ' "$TMP/out" | awk '{print $2}')" closehook \
    "apt would install the package alone, with nothing to fetch"
run "${apt[@]}" install "$deb"
is "$rc" 0 "apt-get installs it, without the network"
[ "$rc" = 0 ] || sed 's/^/# /' "$TMP/err" | tail -10 >&2
is "$(dpkg-query -W -f '${Status}' closehook 2>/dev/null)" \
    "install ok installed" "dpkg has it installed"
for p in "${progs[@]}"; do
	run "/usr/bin/$p" --version
	is "$out" "$p $version" "/usr/bin/$p runs"
	is "$(MANPAGER=cat MANWIDTH=80 man "$p" 2>/dev/null |
	    sed -n '/^NAME/{n;p;q}' | awk '{print $1}')" "$p" "man $p shows its page"
	is "$(bash -c ". /usr/share/bash-completion/bash_completion
	    __load_completion $p || exit 1
	    f=\$(complete -p $p | sed 's/.*-F \\([^ ]*\\).*/\\1/')
	    COMP_WORDS=($p --vers); COMP_CWORD=1
	    COMP_LINE='$p --vers'; COMP_POINT=\${#COMP_LINE}
	    \$f $p --vers $p; printf '%s\\n' \"\${COMPREPLY[@]}\"")" \
	    --version "$p: bash-completion loads its completion, which completes --vers"
	is "$(fish -c "complete -C '$p --vers'" | cut -f1)" --version \
	    "$p: fish loads its completion, which completes --vers"
done
is "$(MANPAGER=cat MANWIDTH=80 man 7 closehook 2>/dev/null |
    sed -n '/^NAME/{n;p;q}' | awk '{print $1}')" closehook "man 7 closehook shows it"
# compinit finds each completion in zsh's own function path.
# shellcheck disable=SC2016 # zsh's variables
# (-d: a dump file of our own; compinit would replace /dev/null with one)
is "$(ZDUMP=$TMP/zcompdump zsh -f -c 'autoload -Uz compinit && compinit -u -D -d "$ZDUMP"
    for p in "$@"; do print -r -- "$p ${_comps[$p]:-none}"; done' zsh "${progs[@]}")" \
    "$(for p in "${progs[@]}"; do echo "$p _$p"; done)" \
    "zsh's compinit finds every completion"
like "$(getent passwd closehook)" "closehook:x:*:*:*:/var/lib/closehook:*nologin" \
    "the system user closehook exists, home /var/lib/closehook, no login"
is "$(find /etc/systemd/system -name 'closehook*' 2>/dev/null)" "" \
    "no unit is enabled"
ok "and the units are where systemd looks" \
    test -f /usr/lib/systemd/system/closehook-receive.service \
    -a -f /usr/lib/systemd/system/closehook-follow@.service

for u in closehook-receive.service closehook-follow@.service; do
	for d in $(unit_lines "/usr/lib/systemd/system/$u" |
	    sed -n 's/^Documentation=//p'); do
		case $d in
		man:*) t=${d#man:}; t=${t%)}
		    ok "$u: Documentation=$d is installed" man -w "${t#*(}" "${t%(*}" ;;
		file:*) ok "$u: Documentation=$d is installed" test -f "${d#file:}" ;;
		*) ok "$u: Documentation=$d is a man page or file" false ;;
		esac
	done
done

# systemd's own checks of the installed units; the template as an instance
# whose script is the installed example.
if systemd-analyze verify --help >/dev/null 2>&1; then
	mkdir -p "$TMP/units"
	cp /usr/lib/systemd/system/closehook-receive.service "$TMP/units/"
	sed "s,/etc/closehook/%i\.sh,/$doc/examples/%i.sh,g" \
	    /usr/lib/systemd/system/closehook-follow@.service \
	    >"$TMP/units/closehook-follow@vip-alert.service"
	for u in closehook-receive.service closehook-follow@vip-alert.service; do
		run systemd-analyze verify "$TMP/units/$u"
		is "$rc:$out$err" 0: "$u: systemd-analyze verify is silent"
		run systemd-analyze security --offline=yes --threshold=20 \
		    "$TMP/units/$u"
		is "$rc" 0 "$u: exposure $(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: //p') (at most 2.0)"
	done
else
	skip "the installed units pass systemd-analyze" "systemd-analyze verify is not usable here"
fi

# The receiver as the installed unit starts it, as the closehook user with
# its umask, on a free port with its paths in a directory of the test's.
W=$(mktemp -d /tmp/closehook-deb.XXXXXX)
at_exit "rm -rf '$W'"
chmod 755 "$W"
mkdir -p "$W/creds" "$W/state"
echo "$GEN_KEY" >"$W/creds/keys"
chown -R closehook:closehook "$W/creds" "$W/state"
chmod 700 "$W/creds" "$W/state"
chmod 400 "$W/creds/keys"
cmd=$(unit_lines /usr/lib/systemd/system/closehook-receive.service |
    sed -n 's/^ExecStart=//p' | sed -e "s,%d,$W/creds," \
    -e "s,/var/lib/closehook,$W/state," -e "s,127\.0\.0\.1:8080,127.0.0.1:0,")
like "$cmd" "/usr/bin/closehook-receive *" "the unit starts /usr/bin/closehook-receive"
read -ra argv <<<"$cmd"
(umask 077 && exec setpriv --reuid closehook --regid closehook --init-groups \
    -- "${argv[@]}") >/dev/null 2>"$TMP/recv.err" &
RPID=$!
at_exit "kill -9 $RPID 2>/dev/null"
for _ in $(seq 100); do
	grep -q 'listening on' "$TMP/recv.err" && break
	sleep 0.1
done
RURL=http://127.0.0.1:$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
    "$TMP/recv.err")
is "$(curl -s --max-time 5 "$RURL/healthz")" ok "it answers /healthz"
# Close's traffic, and a lead created as a VIP for the follower below.
python3 "$TOP/bench/gen" --format payloads --count 3 --seed 45 >"$TMP/four"
jq -nc '{subscription_id: "whsub_t0045", event: {id: "ev_t0045vip",
    date_created: "2026-11-26T10:00:00.000000",
    date_updated: "2026-11-26T10:00:00.000000", object_type: "lead",
    object_id: "lead_T45", lead_id: "lead_T45", action: "created",
    data: {id: "lead_T45", display_name: "Packaged VIP",
    "custom.cf_Tier": "VIP"}, previous_data: null}}' >>"$TMP/four"
send_events "$RURL/close" "$TMP/four"
is "$(jq -r .acked "$TMP/sender.json")" 4 "it acknowledges Close's deliveries"
is "$(wc -l <"$W/state/close.ndjson")" 4 "into the spool"
is "$(stat -c %U:%a "$W/state/close.ndjson")" closehook:600 \
    "which the closehook user owns, mode 0600 under the unit's umask"
is "$(post -H 'close-sig-hash: 00' -H 'close-sig-timestamp: 1' -d '{}' "$RURL/close")" \
    401 "it refuses a forgery, with the credential's keys"
stop_receive
is "$rc" 0 "it stops on SIGTERM, exit 0"

# A follower as closehook-follow@NAME runs it, set up as README.Debian
# says for the installed example vip-alert.sh: the script and its settings
# in /etc/closehook, the Slack URL a credential beside the keys, the
# receiver's state directory (so the spool is where the script looks), as
# the closehook user, with only Debian's programs on PATH (systemd's, less
# /usr/local).  A sink stands in for Slack; the script stops at the end of
# the spool.
T=/usr/lib/systemd/system/closehook-follow@.service
script=$(unit_lines "$T" | sed -n 's/^ExecStart=//p' | sed "s/%i/$inst/g")
envfile=$(unit_lines "$T" | sed -n 's/^EnvironmentFile=-\{0,1\}//p' |
    sed "s/%i/$inst/g")
is "$script $envfile" "/etc/closehook/$inst.sh /etc/closehook/$inst.env" \
    "closehook-follow@NAME runs /etc/closehook/NAME.sh, settings in NAME.env"
is "$(unit_lines "$T" | sed -n 's/^StateDirectory=//p')" \
    "$(unit_lines /usr/lib/systemd/system/closehook-receive.service |
    sed -n 's/^StateDirectory=//p')" "in the receiver's state directory"
is "$(unit_lines "$T" | sed -n 's/^LoadCredential=//p')" \
    "keys:/etc/closehook/keys" "with the signature keys as the credential keys"
install -m 0755 "/$doc/examples/vip-alert.sh" "$script"
printf '%s\n' VIP_FIELD=custom.cf_Tier VIP_VALUES=VIP SLACK_RATE=100/s \
    CLOSEHOOK_ONCE=1 >"$envfile"
start_sink slack --max-time 60
echo "$SINK_URL/services/T0/B0/t0045" >"$W/creds/slack-url"
chown closehook:closehook "$W/creds/slack-url"
chmod 400 "$W/creds/slack-url"
mapfile -t settings <"$envfile"
run timeout "$(slow 180)" sh -c 'umask 077 && exec "$@"' sh \
    setpriv --reuid closehook --regid closehook --init-groups -- \
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    STATE_DIRECTORY="$W/state" CREDENTIALS_DIRECTORY="$W/creds" \
    "${settings[@]}" "$script"
is "$rc" 0 "the follower runs the example's pipeline to the end of the spool"
[ "$rc" -eq 0 ] || sed 's/^/# /' "$TMP/err" | head -20 >&2
[ "$rc" = 0 ] || sed 's/^/# /' "$TMP/err" | tail -10 >&2
is "$(jq -r '.path + " " + (.body | fromjson | .text)' "$TMP/slack.log")" \
    "/services/T0/B0/t0045 VIP lead <https://app.close.com/lead/lead_T45/|Packaged VIP>: VIP" \
    "Slack gets one alert, for the VIP lead, at the credential's URL"
is "$(stat -c %U "$W/state/vip-alert.offset" 2>&1)" closehook \
    "its offset is committed in the state directory, the closehook user's"
rm -f "$script" "$envfile"

# Purge: every file of the package goes, and nothing the install made
# stays but the user, which Debian packages leave (README.Debian).
run "${apt[@]}" purge closehook
is "$rc" 0 "apt-get purges it"
ok "dpkg no longer knows it" bash -c '! dpkg -s closehook >/dev/null 2>&1'
left=
while read -r f; do
	case $f in
	'' | */) ;;
	lib/*) [ -e "/$f" ] || [ -e "/usr/$f" ] && left="$left /$f" ;;
	*) [ -e "/$f" ] && left="$left /$f" ;;
	esac
done <"$TMP/contents"
is "$left" "" "none of its files is left"
for d in /usr/share/doc/closehook /etc/closehook /var/lib/closehook; do
	case $d in
	/etc/*) [ "$had_etc" = 1 ] && continue ;;
	/var/*) [ "$had_var" = 1 ] && continue ;;
	esac
	ok "$d is gone" test ! -e "$d"
done
is "$(find /etc/systemd /var/lib/systemd -name '*closehook*' 2>/dev/null)" "" \
    "no unit state is left in /etc/systemd or /var/lib/systemd"
ok "the closehook user stays, as Debian's system users do" \
    getent passwd closehook
done_testing
