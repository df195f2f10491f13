# pg-helpers.sh - a throwaway PostgreSQL 15 cluster for a test, on a unix
# socket in its own directory; sourced by tests after lib.sh.
#
# start_postgres: skips the test when no server is installed; starts one
# (as postgres, or nobody, when run as root: initdb refuses root), stops it
# at exit, and exports PGHOST, PGUSER and PGDATABASE so that psql and the
# example scripts connect as libpq's environment says.  Sets PGDIR.

PGBIN=/usr/lib/postgresql/15/bin

start_postgres() {
	local b
	for b in initdb pg_ctl postgres; do
		[ -x "$PGBIN/$b" ] || skip_all "no PostgreSQL 15 server ($PGBIN/$b)"
	done
	command -v psql >/dev/null 2>&1 || skip_all "no psql"
	if [ "$(id -u)" -eq 0 ]; then
		pguser=postgres
		id "$pguser" >/dev/null 2>&1 || pguser=nobody
		as_pg() { runuser -u "$pguser" -- "$@"; }
	else
		as_pg() { "$@"; }
	fi
	PGDIR=$(mktemp -d "${TMPDIR:-/tmp}/closehook-pg.XXXXXX")
	if [ "$(id -u)" -eq 0 ]; then
		chown "$pguser" "$PGDIR"
	fi
	chmod 700 "$PGDIR"
	at_exit "as_pg '$PGBIN/pg_ctl' -D '$PGDIR/data' -m immediate stop >/dev/null 2>&1; rm -rf '$PGDIR'"
	as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U closehook --auth=trust \
	    -E UTF8 --no-locale >"$TMP/initdb.log" 2>&1 || {
		sed 's/^/# /' "$TMP/initdb.log"
		echo "not ok 1 - initdb"
		exit 1
	}
	as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -o \
	    "-c listen_addresses= -k $PGDIR -c fsync=off" start >/dev/null
	export PGHOST=$PGDIR PGUSER=closehook PGDATABASE=postgres
}
