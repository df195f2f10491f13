/*
 * store.c - the seen-key store; see store.h.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <sqlite3.h>

#include "cli.h"
#include "natsq.h"
#include "store.h"

/* Redis keys: this prefix and the hash in hex. */
#define RKEY_PREFIX "closehook:"
#define RKEY_LEN (sizeof(RKEY_PREFIX) - 1 + 2 * STORE_KEYLEN)
/* Claims not committed by their owner: wait at most this long for them. */
#define REDIS_WAIT_MS ((STORE_REDIS_LEASE + 5) * 1000)
/* Random bytes naming this process's claims, so it releases only its own. */
#define CLAIM_TOKEN 8
/* Deletes a claim only while it still holds the token. */
/* Bucket keys: the hash in hex. */
#define KKEY_LEN (2 * STORE_KEYLEN)
/* A bucket's claim that moves while we try to take it over: give up. */
#define KV_TAKEOVER_TRIES 8
/*
 * A bucket that cannot be read or written (its leader being elected, no
 * quorum, no server) is tried again every KV_RETRY_MS, with one warning,
 * for KV_OUTAGE_MS; then the error is fatal, as for closehook-follow.
 */
#define KV_RETRY_MS 250
#define KV_OUTAGE_MS 60000
/*
 * Claims in a bucket are made one round trip at a time (about a thousand
 * a second on three local servers, a few hundred on a loaded machine), so
 * a block of 4096 would take seconds to claim and as long again to
 * commit, and its first claims could outlive the lease before they are
 * committed - then another process takes them over as a dead one's and
 * passes their records too.  A round of claims ends after a fifth of the
 * lease: its records are written and committed before the next round.
 */
#define KV_ROUND_MS (STORE_REDIS_LEASE * 1000 / 5)
/* The lease, for a bucket's clocks: the server's and our own. */
#define KV_LEASE_NS ((int64_t)STORE_REDIS_LEASE * 1000000000)
#define RELEASE_LUA \
	"if redis.call('GET', KEYS[1]) == ARGV[1] then " \
	"return redis.call('DEL', KEYS[1]) end return 0"

/*
 * A command whose only varying argument is the key: its RESP bytes before
 * and after the key, formatted once (snprintf per argument per key was a
 * tenth of a run).
 */
struct rtmpl {
	char b[192];
	size_t pre, n;
};

/* sq_order's buckets: the values of key_bucket, a key's first 12 bits. */
#define SQ_BUCKETS 4096

struct store {
	enum store_kind kind;
	struct store_opts opt;
	char errbuf[512];
	/* SQLite */
	sqlite3 *db;
	sqlite3_stmt *sel, *ins, *upd, *sweep, *del, *getpos, *setpos;
	int64_t wmin; /* earliest expiry written in the transaction */
	int in_txn;
	int seen_first; /* look up before inserting */
	uint32_t *order, nbucket[SQ_BUCKETS]; /* sq_check's key order */
	size_t ordercap;
	int wrote; /* keys inserted or updated in the txn */
	uint64_t busy_start; /* mono ns when the current wait began */
	int busy_warned;
	/* Redis */
	redisContext *rc;
	char (*pend)[RKEY_LEN]; /* claimed, to commit */
	size_t npend, cappend;
	char *resp; /* the pipeline being built */
	size_t rlen, rcap;
	char ttlarg[24], leasearg[24];
	char claimval[2 + 2 * CLAIM_TOKEN]; /* "p" and this process's token */
	struct rtmpl t_claim, t_get, t_commit;
	size_t unread; /* commit replies not read yet */
	size_t presend; /* keys of the next check whose command went ahead */
	/* A JetStream bucket */
	struct natsq *nq;
	char (*kpend)[KKEY_LEN + 1]; /* claimed or recorded, to commit */
	uint64_t *kprev; /* a claim's revision in the bucket (0: no claim) */
	size_t *kpidx; /* the verdict it gave, by its index in the call */
	size_t nkpend, capkpend;
	uint64_t kv_down_ns; /* when the bucket began failing, or 0 */
	uint64_t kv_fail_ns; /* its last failure (kv_outage), or 0 */
};

static int fail(struct store *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
fail(struct store *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->errbuf, sizeof(s->errbuf), fmt, ap);
	va_end(ap);
	return -1;
}

const char *
store_error(const struct store *s)
{
	return s->errbuf;
}

/* ---- the --store argument ---- */

static int
parse_num(const char *p, size_t n, long max, long *out)
{
	long v = 0;
	size_t i;

	if (n == 0 || n > 9)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

int
store_url_parse(const char *spec, struct store_url *u, const char **why)
{
	const char *p, *hs, *he, *end;
	long v;

	memset(u, 0, sizeof(*u));
	if (spec == NULL || *spec == '\0') {
		*why = "empty store";
		return -1;
	}
	if (strncmp(spec, "unix:", 5) == 0) {
		p = spec + 5;
		if (strncmp(p, "///", 3) == 0)
			p += 2;
		if (*p == '\0' || strlen(p) >= sizeof(u->path)) {
			*why = "bad socket path";
			return -1;
		}
		u->kind = STORE_REDIS_UNIX;
		strcpy(u->path, p);
		return 0;
	}
	if (natsq_is_url(spec)) {
		if (natsq_url_parse(spec, &u->nats, why) != 0)
			return -1;
		u->kind = STORE_NATS;
		return 0;
	}
	if (strncmp(spec, "redis://", 8) != 0) {
		if (strstr(spec, "://") != NULL) {
			*why = "unknown scheme (use redis://, nats://, tls://, "
			       "unix: or a path)";
			return -1;
		}
		if (strlen(spec) >= sizeof(u->path)) {
			*why = "path too long";
			return -1;
		}
		u->kind = STORE_SQLITE;
		strcpy(u->path, spec);
		return 0;
	}
	p = spec + 8;
	end = p + strlen(p);
	u->kind = STORE_REDIS_TCP;
	u->port = 6379;
	if (memchr(p, '@', (size_t)(end - p)) != NULL) {
		*why = "no user or password in the URL: use "
		       "$CLOSEHOOK_REDIS_PASSWORD or --redis-password-file";
		return -1;
	}
	if (*p == '[') {
		hs = p + 1;
		if ((he = strchr(hs, ']')) == NULL) {
			*why = "unclosed [ in host";
			return -1;
		}
		p = he + 1;
	} else {
		hs = p;
		while (*p != '\0' && *p != ':' && *p != '/')
			p++;
		he = p;
	}
	if (he == hs || (size_t)(he - hs) >= sizeof(u->host)) {
		*why = "bad host";
		return -1;
	}
	for (const char *q = hs; q < he; q++)
		if (!isalnum((unsigned char)*q) && *q != '.' && *q != '-' &&
		    *q != '_' && *q != ':') {
			*why = "bad host";
			return -1;
		}
	memcpy(u->host, hs, (size_t)(he - hs));
	u->host[he - hs] = '\0';
	if (*p == ':') {
		const char *ps = ++p;

		while (*p != '\0' && *p != '/')
			p++;
		if (parse_num(ps, (size_t)(p - ps), 65535, &v) != 0 || v == 0) {
			*why = "bad port";
			return -1;
		}
		u->port = (int)v;
	}
	if (*p == '/') {
		p++;
		if (*p != '\0') {
			if (parse_num(p, strlen(p), 9999, &v) != 0) {
				*why = "bad database number";
				return -1;
			}
			u->db = (int)v;
		}
	} else if (*p != '\0') {
		*why = "bad URL";
		return -1;
	}
	return 0;
}

/* ---- SQLite ---- */

static int64_t
clock_now(const struct store *s)
{
	return s->opt.now >= 0 ? s->opt.now : (int64_t)time(NULL);
}

/*
 * Waits on a locked store: back off up to 20 ms a try, say so once a wait
 * passes a second, give up after busy_ms (SQLITE_BUSY, reported).
 */
static int
busy_handler(void *arg, int count)
{
	struct store *s = arg;
	uint64_t now = cli_mono_ns(), waited;
	struct timespec ts;
	int ms;

	if (count == 0) {
		s->busy_start = now;
		s->busy_warned = 0;
	}
	waited = (now - s->busy_start) / 1000000;
	if ((int64_t)waited >= s->opt.busy_ms)
		return 0;
	if (waited >= 1000 && !s->busy_warned) {
		cli_warnx("store busy: waiting for another process "
			  "(up to %lld ms)",
		    (long long)s->opt.busy_ms);
		s->busy_warned = 1;
	}
	ms = count < 20 ? count + 1 : 20;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)ms * 1000000;
	nanosleep(&ts, NULL);
	return 1;
}

static int
sq_fail(struct store *s, const char *what)
{
	int code = sqlite3_errcode(s->db);

	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		return fail(s,
		    "%s: store locked by another process for more "
		    "than %lld ms",
		    what, (long long)s->opt.busy_ms);
	return fail(s, "%s: %s", what, sqlite3_errmsg(s->db));
}

/* Prefix the message with where it happened. */
static int
fail_in(struct store *s, const char *where)
{
	char msg[sizeof(s->errbuf)];

	memcpy(msg, s->errbuf, sizeof(msg));
	return fail(s, "%.200s: %s", where, msg);
}

static int
sq_exec(struct store *s, const char *sql)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sq_fail(s, "store");
	return 0;
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS seen ("
    " key BLOB PRIMARY KEY NOT NULL,"
    " expires INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS sweep ("
    " id INTEGER PRIMARY KEY CHECK (id = 0),"
    " pos BLOB NOT NULL"
    ");"
    /* A new store: nothing to sweep before what is written (sq_sweep). */
    "INSERT OR IGNORE INTO sweep (id, pos) VALUES (0, x'"
    "00000000000000000000000000000000"
    "7fffffffffffffff7fffffffffffffff');";

/*
 * PRAGMA journal_mode=WAL, its row left in *st.  Two processes opening
 * a new store at once (a pipeline's check and record stages) race to switch
 * it: the loser gets SQLITE_BUSY at once, without the busy handler (the
 * switch needs an exclusive lock, and SQLite does not wait where waiting
 * could deadlock).  Try again, as the handler would, up to busy_ms.  0, or
 * -1 with the error on the connection.
 */
static int
sq_wal(struct store *s, sqlite3_stmt **st)
{
	uint64_t start = cli_mono_ns();
	struct timespec ts = { 0, 5 * 1000000 };
	int rc;

	for (;;) {
		*st = NULL;
		rc = sqlite3_prepare_v2(
		    s->db, "PRAGMA journal_mode=WAL", -1, st, NULL);
		if (rc == SQLITE_OK && (rc = sqlite3_step(*st)) == SQLITE_ROW)
			return 0;
		sqlite3_finalize(*st);
		*st = NULL;
		if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) ||
		    (int64_t)((cli_mono_ns() - start) / 1000000) >=
			s->opt.busy_ms)
			return -1;
		nanosleep(&ts, NULL);
	}
}

static int
sq_open(struct store *s, const char *path)
{
	sqlite3_stmt *st;
	const char *mode;
	int v;

	/* No memory statistics: nothing here reads them, and keeping them
	 * takes a global mutex at every allocation (3-4% of a new-keys run).
	 * Refused, harmlessly, once SQLite is initialized. */
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if (sqlite3_open_v2(path, &s->db,
		SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
		    SQLITE_OPEN_NOMUTEX,
		NULL) != SQLITE_OK)
		return sq_fail(s, path);
	sqlite3_busy_handler(s->db, busy_handler, s);
	/* WAL: readers never wait for the writer, commits need no fsync of
	 * the main file; synchronous=NORMAL may lose the last commits on
	 * power loss, which repeats records, never loses them. */
	if (sq_wal(s, &st) != 0)
		return sq_fail(s, path);
	mode = (const char *)sqlite3_column_text(st, 0);
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		sqlite3_finalize(st);
		return fail(s, "%s: cannot switch the store to WAL mode", path);
	}
	sqlite3_finalize(st);
	/* Bounded memory: a 16 MiB page cache; checkpoints (two fsyncs
	 * each) every 32 MiB of WAL rather than every 4. */
	if (sq_exec(s, "PRAGMA synchronous=NORMAL") != 0 ||
	    sq_exec(s, "PRAGMA cache_size=-16384") != 0 ||
	    sq_exec(s, "PRAGMA wal_autocheckpoint=8192") != 0 ||
	    sq_exec(s, "BEGIN IMMEDIATE") != 0)
		return fail_in(s, path);
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) !=
		SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return sq_fail(s, path);
	}
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (v > 1)
		return fail(s,
		    "%s: store schema %d is newer than this "
		    "program's (1)",
		    path, v);
	if (sq_exec(s, schema) != 0 ||
	    sq_exec(s, "PRAGMA user_version=1") != 0 ||
	    sq_exec(s, "COMMIT") != 0)
		return fail_in(s, path);
	if (sqlite3_prepare_v3(s->db, "SELECT expires FROM seen WHERE key = ?1",
		-1, SQLITE_PREPARE_PERSISTENT, &s->sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(s->db,
		"INSERT OR IGNORE INTO seen (key, expires) VALUES (?1, ?2)", -1,
		SQLITE_PREPARE_PERSISTENT, &s->ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(s->db,
		"UPDATE seen SET expires = ?2 WHERE key = ?1", -1,
		SQLITE_PREPARE_PERSISTENT, &s->upd, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(s->db,
		"SELECT key, expires FROM seen WHERE key > ?1 ORDER BY key "
		"LIMIT ?2",
		-1, SQLITE_PREPARE_PERSISTENT, &s->sweep, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(s->db,
		"DELETE FROM seen WHERE key = ?1 AND expires <= ?2", -1,
		SQLITE_PREPARE_PERSISTENT, &s->del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(s->db, "SELECT pos FROM sweep WHERE id = 0", -1,
		SQLITE_PREPARE_PERSISTENT, &s->getpos, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(s->db, "UPDATE sweep SET pos = ?1 WHERE id = 0",
		-1, SQLITE_PREPARE_PERSISTENT, &s->setpos, NULL) != SQLITE_OK)
		return sq_fail(s, path);
	return 0;
}

static int
sq_step_done(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sq_fail(s, "store");
	return 0;
}

/* A key's bucket for sq_order: its first 12 bits. */
static inline unsigned
key_bucket(const unsigned char *k)
{
	return (unsigned)k[0] << 4 | k[1] >> 4;
}

/*
 * The keys' order for sq_check: by their first 12 bits (one counting
 * pass), so that the B-tree is walked from its first leaves to its last
 * instead of at random - its upper pages stay in the CPU's caches, and
 * neighbouring keys share a leaf.  The keys are distinct (the caller
 * merges repeats), so the order changes no verdict.
 */
static void
sq_order(struct store *s, const unsigned char *keys, size_t n)
{
	uint32_t *b = s->nbucket, sum = 0, c;
	size_t i, h;

	if (s->ordercap < n) {
		free(s->order);
		s->ordercap = n;
		s->order = xmalloc(n * sizeof(*s->order));
	}
	memset(s->nbucket, 0, sizeof(s->nbucket));
	for (i = 0; i < n; i++)
		b[key_bucket(keys + i * STORE_KEYLEN)]++;
	for (h = 0; h < SQ_BUCKETS; h++) {
		c = b[h];
		b[h] = sum;
		sum += c;
	}
	for (i = 0; i < n; i++)
		s->order[b[key_bucket(keys + i * STORE_KEYLEN)]++] =
		    (uint32_t)i;
}

static int
sq_check(struct store *s, enum store_op op, const unsigned char *keys, size_t n,
    unsigned char *verdict)
{
	int64_t now = clock_now(s), exp = now + s->opt.ttl;
	size_t i, j, nseen = 0;
	int rc;

	if (!s->in_txn) {
		if (sq_exec(
			s, op == STORE_PEEK ? "BEGIN" : "BEGIN IMMEDIATE") != 0)
			return -1;
		s->in_txn = 1;
		s->wrote = 0;
		s->wmin = INT64_MAX;
	}
	sq_order(s, keys, n);
	for (j = 0; j < n; j++) {
		const unsigned char *k;

		i = s->order[j];
		k = keys + i * STORE_KEYLEN;
		sqlite3_stmt *w = NULL;

		/* Where most keys are new, one B-tree search inserts them;
		 * where most are repeats (the last call says which), one
		 * search finds them. */
		if (op != STORE_PEEK && !s->seen_first) {
			sqlite3_bind_blob(
			    s->ins, 1, k, STORE_KEYLEN, SQLITE_STATIC);
			sqlite3_bind_int64(s->ins, 2, exp);
			if (sq_step_done(s, s->ins) != 0)
				return -1;
			if (sqlite3_changes(s->db) == 1) {
				if (exp < s->wmin)
					s->wmin = exp;
				verdict[i] = STORE_NEW;
				s->wrote++;
				continue;
			}
		}
		sqlite3_bind_blob(s->sel, 1, k, STORE_KEYLEN, SQLITE_STATIC);
		rc = sqlite3_step(s->sel);
		if (rc == SQLITE_ROW) {
			int64_t e = sqlite3_column_int64(s->sel, 0);

			verdict[i] = e > now ? STORE_SEEN : STORE_EXPIRED;
		} else if (rc == SQLITE_DONE) {
			verdict[i] = STORE_NEW;
		} else {
			sqlite3_reset(s->sel);
			return sq_fail(s, "store");
		}
		sqlite3_reset(s->sel);
		nseen += verdict[i] == STORE_SEEN;
		if (op == STORE_PEEK)
			continue;
		if (verdict[i] == STORE_NEW)
			w = s->ins;
		else if (verdict[i] == STORE_EXPIRED || op == STORE_RECORD)
			w = s->upd;
		if (w == NULL)
			continue;
		if (exp < s->wmin)
			s->wmin = exp;
		sqlite3_bind_blob(w, 1, k, STORE_KEYLEN, SQLITE_STATIC);
		sqlite3_bind_int64(w, 2, exp);
		if (sq_step_done(s, w) != 0)
			return -1;
		s->wrote++;
	}
	s->seen_first = 2 * nseen > n;
	return 0;
}

/*
 * The sweep row: the position (a key), then the earliest expiry the lap
 * has seen and the time before which no sweep is needed, each eight bytes
 * big-endian.  A row of the position alone (16 bytes; x'' in a store made
 * before the sweep kept more) says nothing of its lap: the lap goes on
 * from there and does not pause at its end.
 */
#define SWEEP_ROW (STORE_KEYLEN + 16)

/* The sweep row, read at each commit that sweeps (sq_getsweep). */
struct sweep {
	unsigned char pos[STORE_KEYLEN];
	int64_t lap_min; /* earliest expiry seen this lap */
	int64_t after; /* no sweep needed before */
};

static void
be64_put(unsigned char *p, int64_t v)
{
	uint64_t u = (uint64_t)v;
	int i;

	for (i = 7; i >= 0; i--, u >>= 8)
		p[i] = (unsigned char)u;
}

static int64_t
be64_get(const unsigned char *p)
{
	uint64_t u = 0;
	int i;

	for (i = 0; i < 8; i++)
		u = u << 8 | p[i];
	return (int64_t)u;
}

static int
sq_getsweep(struct store *s, struct sweep *w)
{
	const unsigned char *p;
	int rc, n;

	memset(w->pos, 0, STORE_KEYLEN);
	w->lap_min = INT64_MIN;
	w->after = INT64_MIN;
	rc = sqlite3_step(s->getpos);
	if (rc == SQLITE_ROW) {
		p = sqlite3_column_blob(s->getpos, 0);
		n = sqlite3_column_bytes(s->getpos, 0);
		if (p != NULL && (n == STORE_KEYLEN || n == SWEEP_ROW))
			memcpy(w->pos, p, STORE_KEYLEN);
		if (p != NULL && n == SWEEP_ROW) {
			w->lap_min = be64_get(p + STORE_KEYLEN);
			w->after = be64_get(p + STORE_KEYLEN + 8);
		}
	}
	sqlite3_reset(s->getpos);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_fail(s, "store");
	return 0;
}

static void
sweep_row(const struct sweep *w, unsigned char *row)
{
	memcpy(row, w->pos, STORE_KEYLEN);
	be64_put(row + STORE_KEYLEN, w->lap_min);
	be64_put(row + STORE_KEYLEN + 8, w->after);
}

/*
 * Purge expired keys as we go, without an index on the expiry (which would
 * cost a second B-tree insert per key): a commit that wrote keys sweeps the
 * next rows in key order (as many as it wrote, and some), deleting the
 * expired ones.  After a full lap, nothing can expire before the earliest
 * expiry the lap saw, so sweeping pauses until then.  The sweep's state is
 * kept in the store, so that short runs (cron) and several processes carry
 * it on where the last one left it, the pause included; each commit lowers
 * the lap's earliest expiry and the pause's end by what it wrote, so a
 * process with a shorter --ttl brings the next sweep forward.  A new store
 * has nothing to sweep before its first keys expire.  The sweep is only
 * housekeeping: lookups check the expiry themselves.
 */
static int
sq_sweep(struct store *s)
{
	unsigned char dead[64][STORE_KEYLEN], was[SWEEP_ROW], row[SWEEP_ROW];
	int64_t now = clock_now(s), rows = (int64_t)s->wrote + 64, visited, e;
	struct sweep w;
	size_t ndead, i;
	int rc, end;

	if (sq_getsweep(s, &w) != 0)
		return -1;
	sweep_row(&w, was);
	if (s->wmin < w.lap_min)
		w.lap_min = s->wmin;
	if (s->wmin < w.after)
		w.after = s->wmin;
	while (now >= w.after && rows > 0) {
		visited = 0;
		ndead = 0;
		sqlite3_bind_blob(
		    s->sweep, 1, w.pos, STORE_KEYLEN, SQLITE_STATIC);
		sqlite3_bind_int64(s->sweep, 2, rows);
		while (ndead < sizeof(dead) / sizeof(dead[0]) &&
		    (rc = sqlite3_step(s->sweep)) == SQLITE_ROW) {
			const void *k = sqlite3_column_blob(s->sweep, 0);

			visited++;
			if (k == NULL ||
			    sqlite3_column_bytes(s->sweep, 0) != STORE_KEYLEN)
				continue;
			memcpy(w.pos, k, STORE_KEYLEN);
			e = sqlite3_column_int64(s->sweep, 1);
			if (e <= now)
				memcpy(dead[ndead++], k, STORE_KEYLEN);
			else if (e < w.lap_min)
				w.lap_min = e;
		}
		end = ndead < sizeof(dead) / sizeof(dead[0]);
		sqlite3_reset(s->sweep);
		if (end && rc != SQLITE_DONE)
			return sq_fail(s, "store");
		for (i = 0; i < ndead; i++) {
			sqlite3_bind_blob(
			    s->del, 1, dead[i], STORE_KEYLEN, SQLITE_STATIC);
			sqlite3_bind_int64(s->del, 2, now);
			if (sq_step_done(s, s->del) != 0)
				return -1;
		}
		rows -= visited;
		/* The end of the table: the next lap starts at the front. */
		if (end && rows > 0) {
			memset(w.pos, 0, STORE_KEYLEN);
			w.after = w.lap_min;
			w.lap_min = INT64_MAX;
			break;
		}
	}
	sweep_row(&w, row);
	if (memcmp(row, was, SWEEP_ROW) == 0)
		return 0;
	sqlite3_bind_blob(s->setpos, 1, row, SWEEP_ROW, SQLITE_STATIC);
	return sq_step_done(s, s->setpos);
}

static int
sq_commit(struct store *s)
{
	if (!s->in_txn)
		return 0;
	if (s->wrote > 0 && sq_sweep(s) != 0)
		return -1;
	if (sq_exec(s, "COMMIT") != 0)
		return -1;
	s->in_txn = 0;
	return 0;
}

/* ---- Redis ---- */

static void
rkey(char *dst, const unsigned char *k)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	memcpy(dst, RKEY_PREFIX, sizeof(RKEY_PREFIX) - 1);
	dst += sizeof(RKEY_PREFIX) - 1;
	for (i = 0; i < STORE_KEYLEN; i++) {
		*dst++ = hex[k[i] >> 4];
		*dst++ = hex[k[i] & 15];
	}
}

/*
 * Pipelines are built as one RESP text and handed to hiredis in one call:
 * hiredis' printf-style formatting costs more than the rest of a run.
 */
static int
resp_add(struct store *s, const char *p, size_t n)
{
	if (s->rlen + n > s->rcap) {
		size_t nc = (s->rlen + n) * 2;
		char *np = realloc(s->resp, nc);

		if (np == NULL)
			return fail(s, "out of memory");
		s->resp = np;
		s->rcap = nc;
	}
	memcpy(s->resp + s->rlen, p, n);
	s->rlen += n;
	return 0;
}

/* One command: argv of n strings, the key (RKEY_LEN bytes) where NULL. */
static int
resp_cmd(struct store *s, const char *const *argv, int n, const char *key)
{
	char hdr[32];
	int i, l;

	l = snprintf(hdr, sizeof(hdr), "*%d\r\n", n);
	if (resp_add(s, hdr, (size_t)l) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		const char *a = argv[i] != NULL ? argv[i] : key;
		size_t an = argv[i] != NULL ? strlen(a) : RKEY_LEN;

		l = snprintf(hdr, sizeof(hdr), "$%zu\r\n", an);
		if (resp_add(s, hdr, (size_t)l) != 0 ||
		    resp_add(s, a, an) != 0 || resp_add(s, "\r\n", 2) != 0)
			return -1;
	}
	return 0;
}

/* Format argv (the key where NULL) into t; 0, or -1 when it is too long. */
static int
tmpl_build(struct rtmpl *t, const char *const *argv, int n)
{
	size_t at = 0, an;
	int i, l;

	l = snprintf(t->b, sizeof(t->b), "*%d\r\n", n);
	at = (size_t)l;
	t->pre = 0;
	for (i = 0; i < n; i++) {
		an = argv[i] != NULL ? strlen(argv[i]) : RKEY_LEN;
		l = snprintf(t->b + at, sizeof(t->b) - at, "$%zu\r\n", an);
		if (l < 0 || (size_t)l >= sizeof(t->b) - at)
			return -1;
		at += (size_t)l;
		if (argv[i] == NULL) {
			t->pre = at;
			an = 0;
		} else if (an + 2 >= sizeof(t->b) - at)
			return -1;
		else
			memcpy(t->b + at, argv[i], an);
		at += an;
		memcpy(t->b + at, "\r\n", 2);
		at += 2;
	}
	t->n = at;
	return 0;
}

static int
resp_tmpl(struct store *s, const struct rtmpl *t, const char *key)
{
	if (resp_add(s, t->b, t->pre) != 0 || resp_add(s, key, RKEY_LEN) != 0)
		return -1;
	return resp_add(s, t->b + t->pre, t->n - t->pre);
}

static int
resp_send(struct store *s)
{
	int rc = 0;

	if (s->rlen > 0 &&
	    redisAppendFormattedCommand(s->rc, s->resp, s->rlen) != REDIS_OK)
		rc = fail(s, "out of memory");
	s->rlen = 0;
	return rc;
}

static int
r_fail(struct store *s, const char *what)
{
	if (s->rc->err)
		return fail(s, "redis: %s: %s", what, s->rc->errstr);
	return fail(s, "redis: %s failed", what);
}

/* An error reply's hint: what NOAUTH asks of the operator. */
static const char *
r_hint(const char *err)
{
	return strncmp(err, "NOAUTH", 6) == 0
	    ? " (the server wants a password: --redis-password-file)"
	    : "";
}

/* Run one command and check it answered without an error. */
static int
r_simple(struct store *s, const char *what, redisReply *r)
{
	int rc = 0;

	if (r == NULL)
		return r_fail(s, what);
	if (r->type == REDIS_REPLY_ERROR)
		rc = fail(
		    s, "redis: %s: %.200s%s", what, r->str, r_hint(r->str));
	freeReplyObject(r);
	return rc;
}

/* "p" and CLAIM_TOKEN random bytes in hex. */
static int
claim_token(struct store *s)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char t[CLAIM_TOKEN];
	size_t i;

	if (getrandom(t, sizeof(t), 0) != (ssize_t)sizeof(t))
		return fail(s, "getrandom: %s", strerror(errno));
	s->claimval[0] = 'p';
	for (i = 0; i < CLAIM_TOKEN; i++) {
		s->claimval[1 + 2 * i] = hex[t[i] >> 4];
		s->claimval[2 + 2 * i] = hex[t[i] & 15];
	}
	s->claimval[1 + 2 * CLAIM_TOKEN] = '\0';
	return 0;
}

static int
r_open(struct store *s, const struct store_url *u)
{
	struct timeval tv = { 5, 0 };
	redisReply *r;

	if (u->kind == STORE_REDIS_UNIX)
		s->rc = redisConnectUnixWithTimeout(u->path, tv);
	else
		s->rc = redisConnectWithTimeout(u->host, u->port, tv);
	if (s->rc == NULL)
		return fail(s, "redis: out of memory");
	if (s->rc->err && u->kind == STORE_REDIS_UNIX)
		return fail(s, "redis: cannot connect to %.200s: %s", u->path,
		    s->rc->errstr);
	if (s->rc->err) {
		/* An IPv6 address keeps its brackets, as in the URL. */
		int v6 = strchr(u->host, ':') != NULL;

		return fail(s, "redis: cannot connect to %s%s%s:%d: %s",
		    v6 ? "[" : "", u->host, v6 ? "]" : "", u->port,
		    s->rc->errstr);
	}
	snprintf(s->ttlarg, sizeof(s->ttlarg), "%lld", (long long)s->opt.ttl);
	snprintf(s->leasearg, sizeof(s->leasearg), "%d", STORE_REDIS_LEASE);
	if (claim_token(s) != 0)
		return -1;
	{
		const char *claim[] = { "SET", NULL, s->claimval, "NX", "GET",
			"EX", s->leasearg };
		const char *get[] = { "GET", NULL };
		const char *set[] = { "SET", NULL, "1", "EX", s->ttlarg };

		if (tmpl_build(&s->t_claim, claim, 7) != 0 ||
		    tmpl_build(&s->t_get, get, 2) != 0 ||
		    tmpl_build(&s->t_commit, set, 5) != 0)
			return fail(s, "redis: command too long");
	}
	/* A bounded wait for every reply: a hung server is an error. */
	tv.tv_sec = 10;
	redisSetTimeout(s->rc, tv);
	if (s->opt.password != NULL) {
		r = redisCommand(s->rc, "AUTH %s", s->opt.password);
		if (r == NULL)
			return r_fail(s, "AUTH");
		if (r->type == REDIS_REPLY_ERROR) {
			/* The server's reason (a wrong password, or none
			 * configured) holds no password. */
			int rc = fail(
			    s, "redis: authentication failed: %.200s", r->str);

			freeReplyObject(r);
			return rc;
		}
		freeReplyObject(r);
	}
	if (u->db != 0 &&
	    r_simple(s, "SELECT", redisCommand(s->rc, "SELECT %d", u->db)) != 0)
		return -1;
	/* Also proves the server takes SET with both NX and GET (7.0). */
	r = redisCommand(s->rc, "SET %s p NX GET PX 1000", RKEY_PREFIX "probe");
	if (r == NULL)
		return r_fail(s, "probe");
	if (r->type == REDIS_REPLY_ERROR) {
		int rc = *r_hint(r->str) != '\0'
		    ? fail(s, "redis: %.200s%s", r->str, r_hint(r->str))
		    : fail(s,
			  "redis: %.200s (closehook needs Redis 7.0 "
			  "or newer)",
			  r->str);

		freeReplyObject(r);
		return rc;
	}
	freeReplyObject(r);
	return r_simple(
	    s, "DEL", redisCommand(s->rc, "DEL %s", RKEY_PREFIX "probe"));
}

/*
 * hiredis writes to its socket without MSG_NOSIGNAL: a server that went
 * away would kill us with SIGPIPE before we could report it.  Block the
 * signal around Redis I/O and discard one raised there; stdout keeps the
 * usual SIGPIPE behaviour of a filter.
 */
static void
sigpipe_block(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, old);
}

static void
sigpipe_restore(const sigset_t *old)
{
	struct timespec zero = { 0, 0 };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	while (sigtimedwait(&set, NULL, &zero) > 0)
		;
	sigprocmask(SIG_SETMASK, old, NULL);
}

static int
pend_add(struct store *s, const char *k)
{
	if (s->npend == s->cappend) {
		size_t nc = s->cappend ? 2 * s->cappend : 1024;
		void *np = realloc(s->pend, nc * RKEY_LEN);

		if (np == NULL)
			return fail(s, "out of memory");
		s->pend = np;
		s->cappend = nc;
	}
	memcpy(s->pend[s->npend++], k, RKEY_LEN);
	return 0;
}

/* Read the replies to commits sent earlier; 0, or -1 when one failed. */
static int
r_drain(struct store *s)
{
	redisReply *r;
	int rc = 0;

	for (; s->unread > 0; s->unread--) {
		if (redisGetReply(s->rc, (void **)&r) != REDIS_OK || r == NULL)
			return r_fail(s, "SET");
		if (r->type == REDIS_REPLY_ERROR && rc == 0)
			rc = fail(s, "redis: SET: %.200s", r->str);
		freeReplyObject(r);
	}
	return rc;
}

/*
 * Release claims this process took but will not commit (see r_check): the
 * keys whose verdict is RELEASE.  Only a claim still holding our token is
 * deleted, so a lease that expired and was taken over stays with its new
 * owner.
 */
#define RELEASE 0xfe

static int
r_release(struct store *s, const unsigned char *keys, size_t n,
    unsigned char *verdict)
{
	const char *del[] = { "EVAL", RELEASE_LUA, "1", NULL, s->claimval };
	char k[RKEY_LEN];
	redisReply *r;
	size_t i, sent = 0;
	int rc = 0;

	for (i = 0; i < n; i++) {
		if (verdict[i] != RELEASE)
			continue;
		rkey(k, keys + i * STORE_KEYLEN);
		if (resp_cmd(s, del, 5, k) != 0)
			return -1;
		verdict[i] = 0xff;
		sent++;
	}
	if (sent == 0 || resp_send(s) != 0)
		return sent == 0 ? 0 : -1;
	for (; sent > 0; sent--) {
		if (redisGetReply(s->rc, (void **)&r) != REDIS_OK || r == NULL)
			return r_fail(s, "EVAL");
		if (r->type == REDIS_REPLY_ERROR && rc == 0)
			rc = fail(s, "redis: EVAL: %.200s", r->str);
		freeReplyObject(r);
	}
	return rc;
}

/*
 * One pipelined round over keys[0..n): send the command for each key whose
 * verdict is still 0xff, then read the replies.  Filter claims a key with
 * a short lease ("p" and our token); the commit turns claims into "1" with
 * the full TTL.  A key claimed by another process (or a dead one) stays
 * 0xff: the first such index goes to *first_wait (n when none), and the
 * claims we won past it are released (r_check says why).
 */
static int
r_round(struct store *s, enum store_op op, const unsigned char *keys, size_t n,
    unsigned char *verdict, size_t *first_wait)
{
	char k[RKEY_LEN];
	redisReply *r;
	size_t i, ahead = s->presend;
	int rc = 0;

	/* The first keys' commands were sent by store_send already. */
	s->presend = 0;
	for (i = ahead; i < n; i++) {
		if (verdict[i] != 0xff)
			continue;
		rkey(k, keys + i * STORE_KEYLEN);
		if (resp_tmpl(s, op == STORE_FILTER ? &s->t_claim : &s->t_get,
			k) != 0)
			return -1;
	}
	if (resp_send(s) != 0)
		return -1;
	*first_wait = n;
	for (i = 0; i < n; i++) {
		if (verdict[i] != 0xff)
			continue;
		if (redisGetReply(s->rc, (void **)&r) != REDIS_OK || r == NULL)
			return r_fail(s, op == STORE_FILTER ? "SET" : "GET");
		if (r->type == REDIS_REPLY_NIL) {
			verdict[i] = i > *first_wait ? RELEASE : STORE_NEW;
		} else if (r->type == REDIS_REPLY_STRING && r->len >= 1 &&
		    r->str[0] == 'p' && op == STORE_FILTER) {
			if (*first_wait == n)
				*first_wait = i;
		} else if (r->type == REDIS_REPLY_STRING) {
			/* "1", or a claim for peek and record: someone else
			 * is passing it right now; check passes it too (at
			 * least once), record marks it. */
			verdict[i] = r->str[0] == '1' ? STORE_SEEN : STORE_NEW;
		} else if (rc == 0) {
			rc = fail(s, "redis: unexpected reply: %.200s",
			    r->type == REDIS_REPLY_ERROR ? r->str : "?");
		}
		freeReplyObject(r);
	}
	if (rc != 0)
		return rc;
	return r_release(s, keys, n, verdict);
}

/*
 * Judge keys in order.  A process never waits while it holds claims, so
 * two processes cannot wait on each other: when the round meets a key
 * another process has claimed, the keys before it are returned judged
 * (the caller writes their records and commits them), the claims won
 * after it are released, and the next call starts at the contested key.
 * When the contested key comes first, it alone is polled until its owner
 * commits it (seen) or its lease expires (then it is ours).
 */
static long
r_check(struct store *s, enum store_op op, const unsigned char *keys, size_t n,
    unsigned char *verdict)
{
	uint64_t start = cli_mono_ns();
	size_t i, wait, lim = n;
	int ms = 1;

	memset(verdict, 0xff, n);
	s->npend = 0;
	if (r_drain(s) != 0)
		return -1;
	if (n == 0)
		return 0;
	for (;;) {
		if (r_round(s, op, keys, lim, verdict, &wait) != 0)
			return -1;
		if (wait > 0)
			break;
		if ((cli_mono_ns() - start) / 1000000 > REDIS_WAIT_MS)
			return fail(
			    s, "redis: a key stays claimed by another process");
		usleep((useconds_t)ms * 1000);
		if (ms < 50)
			ms *= 2;
		lim = 1;
	}
	for (i = 0; i < wait; i++) {
		char k[RKEY_LEN];

		if (op == STORE_PEEK ||
		    (op == STORE_FILTER && verdict[i] != STORE_NEW))
			continue;
		rkey(k, keys + i * STORE_KEYLEN);
		if (pend_add(s, k) != 0)
			return -1;
	}
	return (long)wait;
}

/*
 * Send a key's first-round command ahead of store_check, so that the server
 * works on it while the caller reads and parses the rest of the block.
 * Written out every SEND_AHEAD keys; store_check sends what is left.
 */
#define SEND_AHEAD 64

static int
r_send(struct store *s, enum store_op op, const unsigned char *key)
{
	char k[RKEY_LEN];
	int done = 0;

	rkey(k, key);
	if (resp_tmpl(s, op == STORE_FILTER ? &s->t_claim : &s->t_get, k) != 0)
		return -1;
	if (++s->presend % SEND_AHEAD != 0)
		return 0;
	if (resp_send(s) != 0)
		return -1;
	while (!done)
		if (redisBufferWrite(s->rc, &done) != REDIS_OK)
			return r_fail(s, op == STORE_FILTER ? "SET" : "GET");
	return 0;
}

/*
 * Send the commits and go on without waiting for their replies: the server
 * applies them while we parse the next block, and the replies are read
 * (and checked) before the next block's, or by store_close().  Plain
 * pipelined SETs rather than one script per block: a script would hold
 * a shared server for the whole block.
 */
static int
r_commit(struct store *s)
{
	size_t i;
	int done = 0;

	for (i = 0; i < s->npend; i++)
		if (resp_tmpl(s, &s->t_commit, s->pend[i]) != 0)
			return -1;
	if (resp_send(s) != 0)
		return -1;
	s->unread += s->npend;
	s->npend = 0;
	while (!done)
		if (redisBufferWrite(s->rc, &done) != REDIS_OK)
			return r_fail(s, "SET");
	return 0;
}

/* ---- a JetStream key-value bucket ---- */

/*
 * The same claims as in Redis, on a bucket whose values live --ttl after
 * their last write (the bucket's TTL; JetStream 2.9 has no TTL per key):
 * "p" and this process's token while a key is claimed, "1" once it is
 * committed.  A create fails when the key exists, so of two processes
 * claiming one key, one wins.  A claim has no expiry of its own: one
 * written more than STORE_REDIS_LEASE seconds ago (by the server's clock)
 * is its dead owner's, and is taken over by an update on its revision,
 * which again only one process can win.  Keys are judged one at a time,
 * in order, so claims never lie past a contested key: nothing has to be
 * released.
 */

static void
kkey(char *dst, const unsigned char *k)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < STORE_KEYLEN; i++) {
		dst[2 * i] = hex[k[i] >> 4];
		dst[2 * i + 1] = hex[k[i] & 15];
	}
	dst[KKEY_LEN] = '\0';
}

static int
kv_fail(struct store *s)
{
	return fail(s, "%s", natsq_error(s->nq));
}

static int64_t
wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
kv_open(struct store *s, const struct store_url *u)
{
	char err[sizeof(s->errbuf)];

	s->nq = natsq_connect(&u->nats, &s->opt.nats, err, sizeof(err));
	if (s->nq == NULL) {
		memcpy(s->errbuf, err, sizeof(err));
		return -1;
	}
	if (claim_token(s) != 0)
		return -1;
	if (natsq_kv(s->nq, s->opt.ttl * 1000) != 0)
		return kv_fail(s);
	return 0;
}

static int
kpend_add(struct store *s, const char *k, uint64_t rev, size_t idx)
{
	if (s->nkpend == s->capkpend) {
		size_t nc = s->capkpend ? 2 * s->capkpend : 1024;

		s->kpend = xrealloc(s->kpend, nc * sizeof(*s->kpend));
		s->kprev = xrealloc(s->kprev, nc * sizeof(*s->kprev));
		s->kpidx = xrealloc(s->kpidx, nc * sizeof(*s->kpidx));
		s->capkpend = nc;
	}
	memcpy(s->kpend[s->nkpend], k, KKEY_LEN + 1);
	s->kprev[s->nkpend] = rev;
	s->kpidx[s->nkpend++] = idx;
	return 0;
}

/*
 * Judge one key: 0 with *v set (and, for a claim, *claim its revision),
 * 1 when another live process has claimed it, 2 when the bucket failed
 * (kv_outage), -1 on error.  Filter claims it; check and record read it
 * ("1" is
 * seen; absent or claimed is new: check passes a key someone else is
 * passing right now, at least once, and record marks it).
 */
static int
kv_judge(struct store *s, enum store_op op, const char *key, unsigned char *v,
    uint64_t *claim)
{
	size_t cn = strlen(s->claimval);
	char val[64];
	uint64_t rev;
	int64_t at;
	int r, tries;

	if (op != STORE_FILTER) {
		if ((r = natsq_kv_get(
			 s->nq, key, val, sizeof(val), &rev, &at)) < 0)
			return 2;
		*v = r == 0 && val[0] == '1' ? STORE_SEEN : STORE_NEW;
		return 0;
	}
	for (tries = 0; tries < KV_TAKEOVER_TRIES; tries++) {
		/*
		 * A create that timed out may have been stored: tried
		 * again, it finds this process's claim, a live one, and
		 * waits out its lease before taking it over.
		 */
		if ((r = natsq_kv_create(s->nq, key, s->claimval, cn, claim)) <
		    0)
			return 2;
		if (r == 0) {
			*v = STORE_NEW;
			return 0;
		}
		if ((r = natsq_kv_get(
			 s->nq, key, val, sizeof(val), &rev, &at)) < 0)
			return 2;
		if (r == 1)
			continue; /* expired meanwhile: create it again */
		if (val[0] != 'p') {
			*v = STORE_SEEN;
			return 0;
		}
		/*
		 * Older than the lease by the server's clock: a dead
		 * process's claim, unless this process too failed to reach
		 * the bucket within the lease.  Its owner may then be alive,
		 * kept from committing by the same outage (a leader's
		 * election), and commits as soon as the bucket answers: it
		 * gets a whole lease from our last failure to do so.
		 */
		if (wall_ns() - at < KV_LEASE_NS ||
		    (s->kv_fail_ns != 0 &&
			cli_mono_ns() - s->kv_fail_ns < (uint64_t)KV_LEASE_NS))
			return 1;
		if ((r = natsq_kv_update(
			 s->nq, key, s->claimval, cn, rev, claim)) < 0)
			return 2;
		if (r == 0) {
			*v = STORE_NEW;
			return 0;
		}
		/* Another process took the dead claim over first. */
	}
	return 1;
}

/*
 * A bucket operation failed: 0 to try it again (the outage is young, and
 * was reported when it began), -1 when it has lasted KV_OUTAGE_MS.
 */
static int
kv_outage(struct store *s)
{
	uint64_t now = cli_mono_ns();

	s->kv_fail_ns = now;
	if (s->kv_down_ns == 0) {
		s->kv_down_ns = now;
		cli_warnx("%s: trying again", natsq_error(s->nq));
	} else if ((now - s->kv_down_ns) / 1000000 > KV_OUTAGE_MS)
		return fail(s, "%s: giving up after %d s", natsq_error(s->nq),
		    KV_OUTAGE_MS / 1000);
	usleep(KV_RETRY_MS * 1000);
	return 0;
}

/* Move count pending entries from src to dst (dst <= src). */
static void
kp_move(struct store *s, size_t dst, size_t src, size_t count)
{
	if (dst == src || count == 0)
		return;
	memmove(s->kpend[dst], s->kpend[src], count * sizeof(*s->kpend));
	memmove(&s->kprev[dst], &s->kprev[src], count * sizeof(*s->kprev));
	memmove(&s->kpidx[dst], &s->kpidx[src], count * sizeof(*s->kpidx));
}

/*
 * After an outage in the middle of judging (kv_outage waited), the claims
 * made before it may have grown older than the lease while this process
 * could not reach the bucket, and another may have taken them over as a
 * dead process's.  Renew each: an update on its revision writes it anew
 * (a fresh lease).  When the key has moved on and holds another's claim
 * or "1", this process did not claim it after all: its verdict becomes
 * seen and it leaves the claims (still ours: an update of ours that timed
 * out yet was stored).  A failure of the bucket during the renewal waits
 * and renews them all again.  0, or -1.
 */
static int
kv_renew(struct store *s, unsigned char *verdict)
{
	size_t cn = strlen(s->claimval), i, j;
	char val[64];
	uint64_t rev;
	int64_t at;
	int r;

restart:
	for (i = j = 0; i < s->nkpend; i++) {
		if (s->kprev[i] != 0) {
			r = natsq_kv_update(s->nq, s->kpend[i], s->claimval, cn,
			    s->kprev[i], &rev);
			if (r == 1 &&
			    (r = natsq_kv_get(s->nq, s->kpend[i], val,
				 sizeof(val), &rev, &at)) == 0 &&
			    strcmp(val, s->claimval) != 0)
				r = 1;
			if (r < 0) {
				if (kv_outage(s) != 0)
					return -1;
				/* The kept ones, then the rest, again. */
				kp_move(s, j, i, s->nkpend - i);
				s->nkpend = j + (s->nkpend - i);
				goto restart;
			}
			if (r == 1) {
				verdict[s->kpidx[i]] = STORE_SEEN;
				continue;
			}
			s->kprev[i] = rev;
		}
		kp_move(s, j++, i, 1);
	}
	s->nkpend = j;
	return 0;
}

/*
 * kv_check's end: the first judged keys of the call, once the claims made
 * before a wait are renewed (waited).  Their count, or -1.
 */
static long
kv_judged(struct store *s, unsigned char *verdict, int waited, size_t judged)
{
	return waited && kv_renew(s, verdict) != 0 ? -1 : (long)judged;
}

/*
 * Judge keys in order, as r_check does: a contested key ends the judged
 * prefix, whose records the caller writes and commits before it calls
 * again; contested first, the key alone is polled until its owner commits
 * it or its lease passes.
 */
static long
kv_check(struct store *s, enum store_op op, const unsigned char *keys, size_t n,
    unsigned char *verdict)
{
	uint64_t start = cli_mono_ns(), contested = 0;
	char k[KKEY_LEN + 1];
	uint64_t claim;
	size_t i;
	int r, ms = 1, waited = 0;

	s->nkpend = 0;
	for (i = 0; i < n; i++) {
		if (i > 0 && (cli_mono_ns() - start) / 1000000 > KV_ROUND_MS)
			return kv_judged(s, verdict, waited, i);
		kkey(k, keys + i * STORE_KEYLEN);
		s->kv_down_ns = 0;
		claim = 0;
		while ((r = kv_judge(s, op, k, &verdict[i], &claim)) != 0) {
			if (r < 0)
				return -1;
			if (r == 2) {
				if (kv_outage(s) != 0)
					return -1;
				waited = 1;
				/* An outage is not the owner's delay. */
				contested = 0;
				continue;
			}
			if (i > 0)
				return kv_judged(s, verdict, waited, i);
			/* The wait counts from when the claim was met. */
			if (contested == 0)
				contested = cli_mono_ns();
			else if ((cli_mono_ns() - contested) / 1000000 >
			    REDIS_WAIT_MS)
				return fail(s,
				    "nats: a key stays claimed by "
				    "another process");
			usleep((useconds_t)ms * 1000);
			if (ms < 50)
				ms *= 2;
		}
		if (op == STORE_RECORD ||
		    (op == STORE_FILTER && verdict[i] == STORE_NEW))
			kpend_add(s, k, op == STORE_FILTER ? claim : 0, i);
	}
	return kv_judged(s, verdict, waited, n);
}

/* A claim becomes "1", and a recorded key's TTL starts again. */
static int
kv_commit(struct store *s)
{
	size_t i;

	s->kv_down_ns = 0;
	for (i = 0; i < s->nkpend; i++)
		while (natsq_kv_put(s->nq, s->kpend[i], "1", 1) != 0)
			if (kv_outage(s) != 0)
				return -1;
	s->nkpend = 0;
	return 0;
}

/* ---- the interface ---- */

struct store *
store_open(const struct store_url *u, const struct store_opts *o, char *err,
    size_t errlen)
{
	struct store *s;
	int rc;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->kind = u->kind;
	s->opt = *o;
	if (s->opt.ttl < 1)
		s->opt.ttl = 1;
	if (u->kind == STORE_SQLITE)
		rc = sq_open(s, u->path);
	else if (u->kind == STORE_NATS)
		rc = kv_open(s, u);
	else {
		sigset_t old;

		sigpipe_block(&old);
		rc = r_open(s, u);
		sigpipe_restore(&old);
	}
	if (rc != 0) {
		snprintf(err, errlen, "%s", s->errbuf);
		store_close(s);
		return NULL;
	}
	return s;
}

long
store_check(struct store *s, enum store_op op, const unsigned char *keys,
    size_t n, unsigned char *verdict)
{
	sigset_t old;
	long rc;

	if (s->kind == STORE_SQLITE)
		return sq_check(s, op, keys, n, verdict) != 0 ? -1 : (long)n;
	if (s->kind == STORE_NATS)
		return kv_check(s, op, keys, n, verdict);
	sigpipe_block(&old);
	rc = r_check(s, op, keys, n, verdict);
	sigpipe_restore(&old);
	return rc;
}

int
store_send(struct store *s, enum store_op op, const unsigned char *key)
{
	sigset_t old;
	int rc;

	if (s->kind == STORE_SQLITE || s->kind == STORE_NATS)
		return 0;
	if (s->presend % SEND_AHEAD != SEND_AHEAD - 1) {
		/* Only buffered: no I/O, no signal to block. */
		return r_send(s, op, key);
	}
	sigpipe_block(&old);
	rc = r_send(s, op, key);
	sigpipe_restore(&old);
	return rc;
}

int
store_commit(struct store *s)
{
	sigset_t old;
	int rc;

	if (s->kind == STORE_SQLITE)
		return sq_commit(s);
	if (s->kind == STORE_NATS)
		return kv_commit(s);
	sigpipe_block(&old);
	rc = r_commit(s);
	sigpipe_restore(&old);
	return rc;
}

int
store_close(struct store *s)
{
	int rc = 0;

	if (s == NULL)
		return 0;
	if (s->db != NULL) {
		if (s->in_txn)
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_finalize(s->sel);
		sqlite3_finalize(s->ins);
		sqlite3_finalize(s->upd);
		sqlite3_finalize(s->sweep);
		sqlite3_finalize(s->del);
		sqlite3_finalize(s->getpos);
		sqlite3_finalize(s->setpos);
		sqlite3_close(s->db);
	}
	if (s->rc != NULL) {
		sigset_t old;

		sigpipe_block(&old);
		if (s->rc->err == 0 && r_drain(s) != 0)
			rc = -1;
		redisFree(s->rc);
		sigpipe_restore(&old);
	}
	if (s->kind == STORE_NATS) {
		natsq_close(s->nq);
		/*
		 * The process's only connection (or none, when it failed):
		 * stop the threads the library started.
		 */
		natsq_finish();
	}
	free(s->kpend);
	free(s->kprev);
	free(s->kpidx);
	free(s->pend);
	free(s->resp);
	free(s->order);
	if (rc != 0)
		fprintf(stderr, "%s: store: %s\n", cli_prog, s->errbuf);
	free(s);
	return rc;
}
