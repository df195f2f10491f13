# tests/lib.sh - shared TAP helpers for the shell tests (sourced by bash).
#
# Each tests/tNNNN-PROGRAM-topic.t sources this file, runs checks with the
# helpers below and ends with `done_testing`.  Programs come from
# $CLOSEHOOK_BUILD/bin (set by make); scratch files live in $TMP, removed on
# exit.

: "${CLOSEHOOK_BUILD:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build}"
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PATH="$CLOSEHOOK_BUILD/bin:$PATH"
# The directory make built into: CLOSEHOOK_BUILD, except under
# tests/valgrind-check, whose CLOSEHOOK_BUILD holds shims.
: "${CLOSEHOOK_MAKE_BUILD:=$CLOSEHOOK_BUILD}"
export PATH CLOSEHOOK_BUILD CLOSEHOOK_MAKE_BUILD TOP
# Keys must come from the test, never from the caller's environment.
unset CLOSEHOOK_SECRET CLOSEHOOK_SECRET_FILE

# CLOSEHOOK_SLOW: how many times slower than native the programs run
# (tests/valgrind-check sets it).  Waits for the programs scale with it:
# `sleep` (so polling loops and pauses stretch; a sleep that is a helper
# process's lifetime, not a wait, is `command sleep`) and `slow` for other
# deadlines.  Checks of wall-clock speed or memory use skip when slowed.
: "${CLOSEHOOK_SLOW:=1}"
export CLOSEHOOK_SLOW
# slow SECONDS: SECONDS scaled by CLOSEHOOK_SLOW.
slow() { awk -v s="$1" -v f="$CLOSEHOOK_SLOW" 'BEGIN { print s * f }'; }
# slowed: true when the programs run slowed.
slowed() { [ "$CLOSEHOOK_SLOW" != 1 ]; }
if slowed; then
	sleep() { command sleep "$(slow "$1")"; }
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/closehook-test.XXXXXX")
cleanup_hooks=()
cleanup() {
	local h
	for h in "${cleanup_hooks[@]}"; do eval "$h" || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT
# at_exit CMD: run CMD (a string) when the test ends, e.g. to stop a server.
at_exit() { cleanup_hooks+=("$1"); }

_n=0
_failed=0

# _not_ok DESCRIPTION [DIAGNOSTICS]: the failing line and its comment
# lines, also on stderr, since prove shows a test's stderr but not its
# comments unless verbose (a CI log then says what failed, not only which
# test file).
_not_ok() {
	echo "not ok $_n - $1"
	[ -z "${2:-}" ] || printf '%s\n' "$2"
	{
		echo "# ${0##*/}: failed test $_n - $1"
		[ -z "${2:-}" ] || printf '%s\n' "$2"
	} >&2
	_failed=$((_failed + 1))
}

# ok DESCRIPTION CMD...: passes when CMD exits 0.
ok() {
	local desc=$1
	shift
	_n=$((_n + 1))
	if "$@" >/dev/null; then
		echo "ok $_n - $desc"
	else
		_not_ok "$desc"
	fi
}

# is GOT WANT DESCRIPTION: string equality, with a diff-like note.
is() {
	_n=$((_n + 1))
	if [ "$1" == "$2" ]; then
		echo "ok $_n - $3"
	else
		_not_ok "$3" "$(printf '#   got:  %s\n#   want: %s' \
		    "${1:0:300}" "${2:0:300}")"
	fi
}

# like GOT GLOB DESCRIPTION: GOT matches the bash glob pattern.
like() {
	_n=$((_n + 1))
	# shellcheck disable=SC2053
	if [[ $1 == $2 ]]; then
		echo "ok $_n - $3"
	else
		_not_ok "$3" "$(printf '#   got:  %s\n#   want: %s' "${1:0:300}" \
		    "$2")"
	fi
}

# same_file A B DESCRIPTION: byte-identical files.
same_file() {
	_n=$((_n + 1))
	if cmp -s "$1" "$2"; then
		echo "ok $_n - $3"
	else
		_not_ok "$3" "$(cmp "$1" "$2" 2>&1 | sed 's/^/#   /' | head -5)"
	fi
}

# same_lines A B DESCRIPTION: the same lines, in any order (for outputs
# written in completion order, such as closehook-post's).
same_lines() {
	sort "$1" >"$TMP/same_lines.a"
	sort "$2" >"$TMP/same_lines.b"
	same_file "$TMP/same_lines.a" "$TMP/same_lines.b" "$3"
}

# run CMD...: runs CMD with stdout/stderr in $TMP/out, $TMP/err; sets $rc.
run() {
	local errexit=0
	[[ $- == *e* ]] && errexit=1
	set +e
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ "$errexit" -eq 1 ] && set -e
	out=$(cat "$TMP/out")
	err=$(cat "$TMP/err")
}

# must_fail DESCRIPTION CMD...: CMD must exit 1 or 2 (a failure the program
# chose), never 0 and never a crash (status >= 128: a signal).
must_fail() {
	local desc=$1
	shift
	run "$@"
	_n=$((_n + 1))
	if [ "$rc" -eq 1 ] || [ "$rc" -eq 2 ]; then
		echo "ok $_n - $desc"
	else
		_not_ok "$desc (exit $rc)" "$(sed 's/^/#   /' "$TMP/err" | head -5)"
	fi
}

# exit_is N DESCRIPTION CMD...: CMD exits with status N.
exit_is() {
	local want=$1 desc=$2
	shift 2
	run "$@"
	is "$rc" "$want" "$desc (exit status)"
}

skip_all() {
	echo "1..0 # SKIP $1"
	exit 0
}

# cut_torn FILE: drop a last line without its newline, as SIGKILL leaves a
# file that a process was writing in blocks.  Nothing counted that record
# as done (checkpoints and commits come after the write), so a rerun writes
# it again whole; readers such as jq would stop at the torn bytes.
cut_torn() {
	if [ -s "$1" ] && [ -n "$(tail -c 1 "$1")" ]; then
		sed -i '$d' "$1"
	fi
}

# ends_in_newline FILE: FILE's last byte is a newline.
ends_in_newline() {
	[ "$(tail -c 1 "$1" | od -An -c | tr -d ' ')" = '\n' ]
}

# unlabel FILE...: a metrics textfile without its series' file="NAME"
# label (every series of a textfile carries it), for comparing series.
unlabel() {
	sed -E 's/\{file="[^"]*"\}//; s/\{file="[^"]*",/{/' "$@"
}

# wait_lines FILE N: wait (at most 20 s, slowed: longer) until FILE has N
# lines (a missing FILE has none).
wait_lines() {
	local _
	for _ in $(seq 200); do
		[ "$(wc -l <"$1" 2>/dev/null || echo 0)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# wait_open FILE PID: wait (at most 20 s, slowed: longer) until PID or a
# child of it has FILE open, e.g. a follower its spool before a writer
# starts that could otherwise rotate the spool away unseen.
wait_open() {
	local _ p fd f
	f=$(realpath -m "$1")
	for _ in $(seq 200); do
		for p in "$2" $(pgrep -P "$2"); do
			for fd in /proc/"$p"/fd/*; do
				[ "$(readlink "$fd")" = "$f" ] && return 0
			done
		done
		sleep 0.1
	done
	return 1
}

# skip DESCRIPTION REASON: a check that does not apply in this run.
skip() {
	_n=$((_n + 1))
	echo "ok $_n - $1 # SKIP $2"
}

# The reason for checks of speed or memory use that skip when slowed.
SLOW_SKIP="programs slowed ${CLOSEHOOK_SLOW}x (valgrind)"

done_testing() {
	echo "1..$_n"
	[ "$_failed" -eq 0 ]
}

# The CLOSE.md known-answer vector.
KAV_KEY=b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab042eb8abb4
KAV_TS=1557751596
# shellcheck disable=SC2089  # JSON text, quotes are literal on purpose
KAV_BODY='{"event": {"id": "ev_4YUAT9G7PQNYEX0V7HpiZa", "date_created": "2019-01-01T13:33:00.842000", "data": {"object_type": "activity.note", "action": "created", "note": "test content"}}, "subscription_id": "whsub_mBTylJxRXaBOXcuQmgUdmL"}'
KAV_SIG=e6cf27a55de463dc46d8b5c16d2afe74d766e8f0c9892422c93573521cd377ed
KAV_SIG_ASCII_KEY=59913793034b5fd9c60cdc5599ce5461eb6900e7d8517946eafcf18aaf82568e
KAV_SIG_SWAPPED=f127b50b433570aab1426b42f461c95bc6a932d0a76bdb726fc52cfe1b3405db
# shellcheck disable=SC2090
export KAV_KEY KAV_TS KAV_BODY KAV_SIG

# capture TS SIG BODY: a capture line with the body as a JSON string.
capture() {
	python3 -c 'import json,sys; print(json.dumps({"received_at":"2026-11-26T16:54:45.123456Z","remote_addr":"127.0.0.1","method":"POST","path":"/close","headers":{"close-sig-hash":sys.argv[2],"close-sig-timestamp":sys.argv[1],"content-type":"application/json"},"body":sys.argv[3]}, ensure_ascii=False))' "$1" "$2" "$3"
}

# key_fp KEYHEX: the fingerprint messages name a key by: the first 8 hex
# digits of SHA-256 of its bytes.
key_fp() { printf '%s' "$1" | xxd -r -p | sha256sum | cut -c1-8; }

# sign KEYHEX TS BODY: Close's signature, computed by openssl for tests.
sign() {
	printf '%s%s' "$2" "$3" | openssl dgst -sha256 -mac HMAC \
	    -macopt "hexkey:$1" -r | cut -d' ' -f1
}
