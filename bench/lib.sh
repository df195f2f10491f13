# bench/lib.sh - the timing helpers every bench script shares (sourced;
# POSIX sh).  Each side of a comparison keeps its best (lowest) wall time
# over the runs, and the two sides run by turns, so that a change in this
# machine's speed meets both alike.
#
#   ns             the time now, in nanoseconds
#   keep VAR NS    VAR (a best time in ns) becomes NS when VAR is empty
#                  or NS is lower; keep_new is 1 when it did, else 0
#   timed CMD...   run CMD once, its stdout to /dev/null; t_ns is its
#                  wall time in ns.  CMD's exit status is returned.
#   best IN CMD... the fastest of $runs runs of CMD <IN, in best_ns
#   repeat K FILE  FILE's bytes K times over, to stdout
#   peak_rss CMD.. run CMD once (stdin as given, stdout to /dev/null)
#                  under GNU time and print its peak RSS in KiB; CMD's
#                  exit status is returned
#   flat_row PROG WHAT R1 R10
#                  a table line of peak RSS: R1 KiB on the corpus, R10 on
#                  ten times it (1M records), met when R10 is within 2 MiB
#                  of R1 (DESIGN.md section 7: flat RSS)
#
# keep_new, t_ns and best_ns are the callers' to read.
# shellcheck disable=SC2034

ns() {
	date +%s%N
}

keep() {
	eval "k_cur=\${$1}"
	keep_new=0
	if [ -z "$k_cur" ] || [ "$2" -lt "$k_cur" ]; then
		eval "$1=\$2"
		keep_new=1
	fi
}

timed() {
	t_start=$(ns)
	t_rc=0
	"$@" >/dev/null || t_rc=$?
	t_ns=$(($(ns) - t_start))
	return "$t_rc"
}

best() {
	b_in=$1
	shift
	best_ns=
	b_i=0
	while [ "$b_i" -lt "${runs:?}" ]; do
		timed "$@" <"$b_in"
		keep best_ns "$t_ns"
		b_i=$((b_i + 1))
	done
}

repeat() {
	r_i=0
	while [ "$r_i" -lt "$1" ]; do
		cat "$2"
		r_i=$((r_i + 1))
	done
}

flat_row() {
	awk -v p="$1" -v w="$2" -v a="$3" -v b="$4" 'BEGIN {
		printf "%s|peak RSS KiB: %s, the corpus / 10x it|%d|%d|-|flat|%s\n",
		    p, w, a, b, (b <= a + 2048 ? "yes" : "NO") }'
}

peak_rss() {
	p_out=$(mktemp "${TMPDIR:-/tmp}/closehook-rss.XXXXXX")
	p_rc=0
	/usr/bin/time -f '%M' -o "$p_out" "$@" >/dev/null || p_rc=$?
	tail -n 1 "$p_out"
	rm -f "$p_out"
	return "$p_rc"
}
