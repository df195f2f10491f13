/*
 * store.h - the seen-key store of closehook-dedupe: fixed-size key hashes
 * with an expiry, in SQLite (one host, several processes), Redis or a NATS
 * JetStream key-value bucket (several hosts; natsq.h), behind one small
 * batch interface.
 *
 * Work goes in blocks: store_check() judges a block of keys and, for the
 * writing operations, claims them inside an open unit of work; the caller
 * then writes and flushes the records those keys belong to, and only then
 * calls store_commit(), which makes the claims permanent.  A crash before
 * the commit leaves the keys unrecorded (SQLite rolls the transaction back,
 * Redis lets the short claims expire, a bucket's claims are taken over once
 * their lease has passed), so a record may repeat but is never lost.  In SQLite the unit is one IMMEDIATE transaction, so concurrent
 * processes serialise and a key is judged new exactly once in total.
 *
 * The struct store is opaque and owns its connection.  Messages returned by
 * store_error() are owned by the store and valid until its next call; they
 * never contain a password.
 */
#ifndef CLOSEHOOK_STORE_H
#define CLOSEHOOK_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "natsq.h"

/* BLAKE2b output length: 128 bits (see closehook-dedupe(1), STORE). */
#define STORE_KEYLEN 16

/*
 * Seconds a Redis or bucket claim lives when its owner dies before
 * committing.
 */
#define STORE_REDIS_LEASE 15

enum store_kind {
	STORE_SQLITE,
	STORE_REDIS_TCP,
	STORE_REDIS_UNIX,
	STORE_NATS
};

#define STORE_HOSTMAX 256
#define STORE_PATHMAX 4096

/* A parsed --store argument. */
struct store_url {
	enum store_kind kind;
	char host[STORE_HOSTMAX]; /* TCP: name or address */
	int port; /* TCP: 1..65535 */
	int db; /* Redis database number */
	char path[STORE_PATHMAX]; /* SQLite file or socket */
	struct natsq_url nats; /* STORE_NATS: servers and bucket */
};

/*
 * Parse spec: "redis://HOST[:PORT][/DB]" (HOST may be [IPv6]; port 6379 and
 * database 0 by default), "unix:PATH" (a Redis socket),
 * "nats://HOST[:PORT][,...]/BUCKET" or "tls://..." (a JetStream bucket),
 * anything else a SQLite file path.  User information ("user:pass@") is
 * refused: passwords never go on the command line.  Returns 0, or -1 with
 * a static reason.
 */
int store_url_parse(const char *spec, struct store_url *, const char **why);

struct store_opts {
	int64_t ttl; /* seconds a recorded key lives */
	int64_t now; /* fixed clock (SQLite), or -1 */
	int64_t busy_ms; /* bound on waiting for a lock */
	const char *password; /* Redis AUTH, or NULL */
	struct natsq_opts nats; /* a bucket: credentials files, replicas */
};

/* How store_check treats the keys. */
enum store_op {
	STORE_FILTER, /* judge, and claim the new ones */
	STORE_PEEK, /* judge only, write nothing */
	STORE_RECORD /* judge, and claim every one (refreshing expiry) */
};

enum store_verdict {
	STORE_NEW = 0, /* not stored */
	STORE_SEEN = 1, /* stored and not expired */
	STORE_EXPIRED = 2 /* stored but expired: new again */
};

struct store;

/*
 * Open (and create, for SQLite and a bucket) the store, and check it can be
 * locked or reached.  Returns NULL with a message in err on failure (an
 * empty one when it was printed already: an unreadable credentials file).
 */
struct store *store_open(const struct store_url *, const struct store_opts *,
    char *err, size_t errlen);
/*
 * Judge keys in order (n keys, n * STORE_KEYLEN bytes, distinct) and put
 * one enum store_verdict per key in verdict.  Returns how many leading
 * keys were judged, or -1 (store_error).  SQLite judges all n.  Redis
 * judges fewer when it meets a key another process has claimed: the caller
 * writes the records of the judged keys, commits, and calls again with the
 * rest, so no process holds claims while it waits for another's (at least
 * 1 is judged when n > 0).  A bucket does the same, and also ends a
 * round after a fifth of the claims' lease, so that its claims (one round
 * trip each) are committed long before they could be taken over.
 */
long store_check(struct store *, enum store_op, const unsigned char *keys,
    size_t n, unsigned char *verdict);
/*
 * Optional: announce, in order, the keys the next store_check will judge
 * (with the same op), as they become known.  A Redis store sends their
 * commands ahead in batches, so the server works while the caller parses;
 * the keys must then be passed to store_check in the same order, first.
 * 0, or -1 (store_error).
 */
int store_send(struct store *, enum store_op, const unsigned char *key);
/*
 * Make the claims of the last store_check permanent.  0 or -1.  Redis
 * commits are sent without waiting: a failure is reported by the next
 * store_check or by store_close.
 */
int store_commit(struct store *);
const char *store_error(const struct store *);
/*
 * Roll back anything uncommitted and close.  Returns -1 (reported on
 * stderr) when a Redis commit sent earlier failed, else 0.
 */
int store_close(struct store *);

#endif
