/*
 * sqlite-insert.c - the limit of closehook-dedupe with SQLite: N new keys
 * inserted into a store of closehook-dedupe's schema and settings
 * (common/store.c: 16-byte BLOB keys in a WITHOUT ROWID table, WAL,
 * synchronous=NORMAL, a 16 MiB page cache) through one prepared
 * INSERT OR IGNORE, all in one transaction, and nothing else: no reading,
 * hashing, lookups or writing.
 *
 *	sqlite-insert DB N
 *
 * DB is created (it must not exist).  The keys are made before the clock
 * starts, pseudo-random as dedupe's BLAKE2b keys are (splitmix64).
 * Prints the nanoseconds from BEGIN to the end of COMMIT.  Keep the schema
 * and pragmas in step with common/store.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cli.h"

#define KEYLEN 16

static const char schema[] = "PRAGMA journal_mode=WAL;"
			     "PRAGMA synchronous=NORMAL;"
			     "PRAGMA cache_size=-16384;"
			     "PRAGMA wal_autocheckpoint=8192;"
			     "CREATE TABLE seen ("
			     " key BLOB PRIMARY KEY NOT NULL,"
			     " expires INTEGER NOT NULL"
			     ") WITHOUT ROWID;"
			     "CREATE TABLE sweep ("
			     " id INTEGER PRIMARY KEY CHECK (id = 0),"
			     " pos BLOB NOT NULL"
			     ");"
			     "INSERT INTO sweep (id, pos) VALUES (0, x'"
			     "00000000000000000000000000000000"
			     "7fffffffffffffff7fffffffffffffff');";

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static void
check(sqlite3 *db, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE)
		cli_fatalx("%s: %s", what, sqlite3_errmsg(db));
}

int
main(int argc, char *argv[])
{
	unsigned char *keys;
	sqlite3 *db;
	sqlite3_stmt *ins;
	uint64_t seed = 1, t0, t1, x;
	int64_t exp = (int64_t)time(NULL) + 35 * 86400;
	long n, i;
	char *end;

	cli_init("sqlite-insert");
	if (argc != 3 || (n = strtol(argv[2], &end, 10)) < 1 || *end != '\0')
		cli_fatalx("usage: sqlite-insert DB N");
	if (access(argv[1], F_OK) == 0)
		cli_fatalx("%s: exists", argv[1]);
	if ((keys = malloc((size_t)n * KEYLEN)) == NULL)
		cli_fatal("out of memory");
	for (i = 0; i < n; i++) {
		x = splitmix64(&seed);
		memcpy(keys + i * KEYLEN, &x, 8);
		x = splitmix64(&seed);
		memcpy(keys + i * KEYLEN + 8, &x, 8);
	}
	if (sqlite3_open_v2(argv[1], &db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		    SQLITE_OPEN_NOMUTEX,
		NULL) != SQLITE_OK)
		cli_fatalx("%s: cannot open", argv[1]);
	check(db, sqlite3_exec(db, schema, NULL, NULL, NULL), "schema");
	check(db,
	    sqlite3_prepare_v3(db,
		"INSERT OR IGNORE INTO seen (key, expires) VALUES (?1, ?2)", -1,
		SQLITE_PREPARE_PERSISTENT, &ins, NULL),
	    "prepare");
	t0 = cli_mono_ns();
	check(
	    db, sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), "begin");
	for (i = 0; i < n; i++) {
		sqlite3_bind_blob(
		    ins, 1, keys + i * KEYLEN, KEYLEN, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 2, exp);
		check(db, sqlite3_step(ins), "insert");
		sqlite3_reset(ins);
	}
	check(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
	t1 = cli_mono_ns();
	sqlite3_finalize(ins);
	if (sqlite3_close(db) != SQLITE_OK)
		cli_fatalx("%s: cannot close", argv[1]);
	free(keys);
	printf("%llu\n", (unsigned long long)(t1 - t0));
	return 0;
}
