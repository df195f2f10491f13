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
