/*
 * test-store.c - the --store parser and the SQLite seen-key store: verdicts,
 * claims that only a commit makes permanent, expiry, peeking, and two
 * connections on one file.  Redis is tested end to end by
 * tests/t0420-dedupe-redis.t against a real server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "tap.h"

static char dir[] = "/tmp/closehook-store.XXXXXX";
static char path[256];

static struct store *
open_at(int64_t now, int64_t ttl)
{
	struct store_url u;
	struct store_opts o = { ttl, now, 200, NULL, { NULL, NULL, 0, 0 } };
	const char *why;
	char err[600];
	struct store *s;

	if (store_url_parse(path, &u, &why) != 0)
		return NULL;
	s = store_open(&u, &o, err, sizeof(err));
	if (s == NULL)
		printf("# %s\n", err);
	return s;
}

static void
key(unsigned char *k, int i)
{
	memset(k, 0, STORE_KEYLEN);
	memcpy(k, &i, sizeof(i));
	k[STORE_KEYLEN - 1] = 0x5a;
}

static void
test_parse(void)
{
	struct store_url u;
	const char *why;

	ok(store_url_parse("redis://127.0.0.1:6380/3", &u, &why) == 0 &&
	    u.kind == STORE_REDIS_TCP && strcmp(u.host, "127.0.0.1") == 0 &&
	    u.port == 6380 && u.db == 3, "redis://HOST:PORT/DB");
	ok(store_url_parse("redis://cache", &u, &why) == 0 &&
	    u.port == 6379 && u.db == 0, "port 6379 and database 0 by default");
	ok(store_url_parse("redis://[::1]:7000/", &u, &why) == 0 &&
	    strcmp(u.host, "::1") == 0 && u.port == 7000,
	    "an IPv6 host in brackets");
	ok(store_url_parse("unix:/run/redis.sock", &u, &why) == 0 &&
	    u.kind == STORE_REDIS_UNIX &&
	    strcmp(u.path, "/run/redis.sock") == 0, "unix:PATH");
	ok(store_url_parse("unix:///run/redis.sock", &u, &why) == 0 &&
	    strcmp(u.path, "/run/redis.sock") == 0, "unix:///PATH");
	ok(store_url_parse("state/dedupe.sqlite", &u, &why) == 0 &&
	    u.kind == STORE_SQLITE &&
	    strcmp(u.path, "state/dedupe.sqlite") == 0,
	    "anything else is a SQLite path");
	ok(store_url_parse("redis://u:secret@h", &u, &why) == -1 &&
	    strstr(why, "secret") == NULL, "a password in the URL is refused");
	ok(store_url_parse("redis://h:0", &u, &why) == -1, "port 0 refused");
	ok(store_url_parse("redis://h:65536", &u, &why) == -1,
	    "port 65536 refused");
	ok(store_url_parse("redis://h:12x", &u, &why) == -1, "bad port");
	ok(store_url_parse("redis://h/x", &u, &why) == -1, "bad database");
	ok(store_url_parse("redis://", &u, &why) == -1, "no host");
	ok(store_url_parse("rediss://h", &u, &why) == -1, "unknown scheme");
	ok(store_url_parse("nats://n1:4222,n2/SEEN", &u, &why) == 0 &&
	    u.kind == STORE_NATS && u.nats.nsrv == 2 &&
	    strcmp(u.nats.name, "SEEN") == 0,
	    "nats://HOST:PORT,HOST/BUCKET: a JetStream bucket");
	ok(store_url_parse("tls://n1/SEEN", &u, &why) == 0 &&
	    u.kind == STORE_NATS && u.nats.tls, "tls://HOST/BUCKET");
	ok(store_url_parse("nats://u:secret@n1/SEEN", &u, &why) == -1 &&
	    strstr(why, "secret") == NULL,
	    "a password in a nats:// URL is refused");
	ok(store_url_parse("nats://n1/a.b", &u, &why) == -1,
	    "a bucket name is letters, digits, - and _");
	ok(store_url_parse("unix:", &u, &why) == -1, "empty socket path");
	ok(store_url_parse("", &u, &why) == -1, "empty store");
}

static void
test_sqlite(void)
{
	unsigned char keys[3 * STORE_KEYLEN], v[3];
	struct store *a, *b;

	key(keys, 1);
	key(keys + STORE_KEYLEN, 2);
	key(keys + 2 * STORE_KEYLEN, 3);
	a = open_at(1000, 100);
	ok(a != NULL, "a new store opens");
	if (a == NULL)
		return;
	ok(store_check(a, STORE_FILTER, keys, 2, v) == 2 &&
	    v[0] == STORE_NEW && v[1] == STORE_NEW, "new keys are new");
	store_close(a);	/* no commit: rolled back */
	a = open_at(1000, 100);
	b = open_at(1000, 100);
	ok(b != NULL, "a second connection opens");
	ok(store_check(a, STORE_FILTER, keys, 2, v) == 2 &&
	    v[0] == STORE_NEW && v[1] == STORE_NEW,
	    "claims without a commit are not kept");
	ok(store_commit(a) == 0, "commit");
	ok(store_check(a, STORE_FILTER, keys, 3, v) == 3 &&
	    v[0] == STORE_SEEN && v[1] == STORE_SEEN && v[2] == STORE_NEW,
	    "committed keys are seen");
	/* The second connection must wait for a's transaction. */
	ok(b != NULL && store_check(b, STORE_FILTER, keys + 2 * STORE_KEYLEN,
	    1, v) == -1 && strstr(store_error(b), "locked") != NULL,
	    "a writer waits at most busy_ms for another, then says locked");
	ok(store_commit(a) == 0, "a commits");
	ok(b != NULL && store_check(b, STORE_FILTER, keys + 2 * STORE_KEYLEN,
	    1, v) == 1 && v[0] == STORE_SEEN,
	    "b then sees what a committed");
	if (b != NULL) {
		store_commit(b);
		store_close(b);
	}
	ok(store_check(a, STORE_PEEK, keys, 3, v) == 3 && v[2] == STORE_SEEN,
	    "peek judges");
	store_commit(a);
	store_close(a);

	a = open_at(1100, 100);
	ok(store_check(a, STORE_PEEK, keys, 1, v) == 1 &&
	    v[0] == STORE_EXPIRED, "a key expires after the TTL");
	store_commit(a);
	ok(store_check(a, STORE_PEEK, keys, 1, v) == 1 &&
	    v[0] == STORE_EXPIRED, "peek did not renew it");
	store_commit(a);
	ok(store_check(a, STORE_FILTER, keys, 1, v) == 1 &&
	    v[0] == STORE_EXPIRED, "filter passes an expired key once");
	store_commit(a);
	ok(store_check(a, STORE_FILTER, keys, 1, v) == 1 &&
	    v[0] == STORE_SEEN, "and renews it");
	store_commit(a);
	ok(store_check(a, STORE_RECORD, keys + STORE_KEYLEN, 1, v) == 1 &&
	    v[0] != STORE_SEEN, "record reports an expired key as not seen");
	store_commit(a);
	store_close(a);
	a = open_at(1150, 100);
	ok(store_check(a, STORE_PEEK, keys, 3, v) == 3 &&
	    v[0] == STORE_SEEN && v[1] == STORE_SEEN && v[2] != STORE_SEEN,
	    "record renewed the expiry of its key");
	store_commit(a);
	store_close(a);
}

static void
test_errors(void)
{
	FILE *f;

	snprintf(path, sizeof(path), "%s/no/such/dir/x.sqlite", dir);
	ok(open_at(0, 10) == NULL, "a store in a missing directory fails");
	snprintf(path, sizeof(path), "%s/junk", dir);
	if ((f = fopen(path, "w")) != NULL) {
		fputs("this is not a database, not at all, no.\n", f);
		fclose(f);
	}
	ok(open_at(0, 10) == NULL, "a file that is not a database fails");
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/seen.sqlite", dir);
	test_parse();
	test_sqlite();
	test_errors();
	if (fork() == 0)
		execlp("rm", "rm", "-rf", dir, (char *)NULL);
	return tap_done();
}
