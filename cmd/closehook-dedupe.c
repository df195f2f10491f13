/*
 * closehook-dedupe - drop records whose key was already seen.
 *
 * For each record read (DESIGN.md section 2; an Event Log page is split into
 * one wrapped event record per element), compute its key - by default the
 * event's (id, date_updated), else the JSON value of a jq expression - hash
 * it with BLAKE2b under the namespace, and look it up in a persistent store
 * (SQLite, or Redis or a NATS JetStream key-value bucket shared by several
 * hosts).  New records pass through byte for byte; repeats are dropped.  A record without a key passes with a
 * warning.  Invalid JSON is a reject.
 *
 * Records are judged in blocks: a block ends when the input would block, or
 * when it holds BLOCK_RECORDS records or BLOCK_BYTES bytes.  Its keys are
 * claimed in the store's open transaction, its records written and flushed,
 * and only then is the transaction committed (when the input would block,
 * at the end, or during a flood every COMMIT_KEYS keys or COMMIT_NS), so a
 * crash may repeat records but never loses one (DESIGN.md section 5).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "evrec.h"
#include "jqr.h"
#include "json.h"
#include "lr.h"
#include "recloop.h"
#include "rejline.h"
#include "metrics.h"
#include "out.h"
#include "readfile.h"
#include "store.h"

static const char synopsis[] =
    "closehook-dedupe [-q] [--store PATH | --store redis://HOST:PORT[/DB] | "
    "--store unix:PATH |\n"
    "\t--store nats://HOST:PORT[,HOST:PORT...]/BUCKET]\n"
    "\t[--key EXPR] [--ttl DURATION] [--mode filter|check|record] "
    "[--invert]\n"
    "\t[--namespace NAME] [--now TIME] [--stats] [--rejects FILE] "
    "[--metrics FILE]\n"
    "\t[--redis-password-file FILE] [--busy-timeout DURATION] "
    "[--max-line BYTES]\n"
    "\t[--nats-creds FILE | --nats-user-file FILE] [--nats-replicas N] "
    "[FILE...]\n";

#define BLOCK_RECORDS 4096
#define BLOCK_BYTES (4u * 1024 * 1024)
/* Keyless records reported one by one before the rest are only counted. */
#define KEYLESS_REPORTED 10
/* Check mode's memory of keys passed in this run (direct-mapped). */
#define RECENT_SLOTS (1u << 16)
/*
 * A SQLite transaction spans blocks up to this many keys or this long.
 * Each commit writes every page its keys dirtied, and random keys dirty
 * leaves all over the B-tree, so the fewer the commits of a flood the less
 * is written: 2^18 keys are about what the 16 MiB page cache holds of a new
 * store's leaves.  Also the most records a crash repeats.
 */
#define COMMIT_KEYS (1u << 18)
#define COMMIT_NS (1000u * 1000 * 1000)

struct item {
	size_t off, len; /* the record's bytes in blk */
	unsigned char key[STORE_KEYLEN];
	int haskey;
	int dup; /* repeat within the block/run */
	size_t slot; /* index into keys[]/verdict[] */
};

static enum store_op mode = STORE_FILTER;
static int invert, want_stats, quiet;
static struct store *st;
static struct out out, rej;
static int have_rej;
static const char *rejpath;

/* The key. */
static struct jqr *keyprog; /* --key, or NULL for the default */
/*
 * [.id, .date_updated] on the event, compiled when first needed: an id or
 * date that jq would print otherwise than written.  Compiling jq's
 * builtins costs some 170 million instructions, more than the scanner
 * spends on 5000 records, and most inputs never need it.
 */
static struct jqr *defprog;
static int have_path;
static struct json_path kpath, kpath_tail; /* --key as a simple path */
static crypto_generichash_state hbase; /* after namespace + NUL */

/* A block: records, and the keys that go to the store. */
struct block {
	struct item *items;
	size_t nitems;
	char *blk;
	size_t blen, bcap;
	unsigned char *keys, *verdict;
	size_t nk; /* keys going to the store */
	uint32_t *bset; /* open addressing: item index + 1 */
};

/* The block being filled. */
static struct block B;
static unsigned char (*recent)[STORE_KEYLEN];

/*
 * The store's step on the second core (a SQLite store): while a full
 * block's keys are judged there (recloop_task), the first thread reads,
 * parses and fills the next block; then it writes the judged block's
 * records, flushes, and commits (or leaves that to commit()) while no
 * task is pending, so the store and out see the same order as on one
 * thread.  Only the first thread commits, and only then, so no key is
 * committed before its record is out.  A Redis store or a bucket needs
 * none: its commands go ahead with store_send while the block fills.
 */
static struct {
	struct block b; /* the block handed over, or an empty one */
	int pending; /* b was handed over and is not written yet */
	long got; /* store_check's answer for b */
} sj;

/* The input loop, for its second core. */
static struct recloop loop;

static int sqlite_store;
static size_t uncommitted; /* keys judged since the last commit */
static uint64_t txn_start; /* when the first of them was judged */

static struct {
	unsigned long in, passed, dropped, expired, keyless, rejected;
} stats;
static struct metrics met;

static void
usage(void)
{
	cli_usage(synopsis);
}

static void
help(void)
{
	printf("usage: %s", synopsis);
	printf(
	    "\n"
	    "Pass records through, dropping those whose key was already seen.\n"
	    "\n"
	    "  --store PATH         SQLite store (default\n"
	    "                       $XDG_STATE_HOME/closehook/dedupe.sqlite)\n"
	    "  --store redis://HOST:PORT[/DB], --store unix:PATH\n"
	    "                       a Redis store, shared by several hosts\n"
	    "  --store nats://HOST:PORT[,HOST:PORT...]/BUCKET\n"
	    "                       a NATS JetStream key-value bucket, shared "
	    "by several\n"
	    "                       hosts\n"
	    "  --key EXPR           jq expression whose value is the key\n"
	    "                       (default: the event's [.id, "
	    ".date_updated])\n"
	    "  --ttl DURATION       how long a key is remembered (default "
	    "35d)\n"
	    "  --mode MODE          filter (default), check (judge, store "
	    "nothing)\n"
	    "                       or record (store every key, pass every "
	    "record)\n"
	    "  --invert             write only the repeats\n"
	    "  --namespace NAME     keep this pipeline's keys apart from "
	    "others\n"
	    "  --now TIME           use this clock for the SQLite store's TTL\n"
	    "  --stats              print counts on stderr at exit\n"
	    "  -q, --quiet          no stderr line per reject or keyless "
	    "record\n"
	    "  --rejects FILE       append each reject as an NDJSON line\n"
	    "  --metrics FILE       keep Prometheus metrics in FILE\n"
	    "  --redis-password-file FILE\n"
	    "                       Redis password (else "
	    "$CLOSEHOOK_REDIS_PASSWORD)\n"
	    "  --busy-timeout DURATION\n"
	    "                       longest wait for a locked SQLite store "
	    "(30s)\n"
	    "  --max-line BYTES     longest input line (default 16M)\n"
	    "  --nats-creds FILE    NATS credentials (.creds file)\n"
	    "  --nats-user-file FILE\n"
	    "                       NATS user and password, one a line\n"
	    "  --nats-replicas N    replicas of a bucket created here "
	    "(default 3)\n"
	    "  -h, --help           show this help\n"
	    "      --version        show the version\n");
	exit(cli_close_out());
}

/* ---- rejects ---- */

static void
reject(const char *file, unsigned long lineno, const char *reason,
    const char *detail, const char *line, size_t n)
{
	stats.rejected++;
	if (!quiet) {
		if (detail != NULL)
			cli_recwarnx(
			    file, lineno, "rejected: %s (%s)", reason, detail);
		else
			cli_recwarnx(file, lineno, "rejected: %s", reason);
	}
	if (!have_rej)
		return;
	rejline_begin(&rej, file, lineno, reason);
	/* Not JSON, so kept as text when it is UTF-8, else null. */
	rejline_str(&rej, "text",
	    line != NULL && json_utf8_valid(line, n) ? line : NULL, n);
	rejline_end(&rej, file, lineno);
}

/* ---- keys ---- */

static void
hash_key(const char *p, size_t n, unsigned char *k)
{
	crypto_generichash_state s = hbase;

	crypto_generichash_update(&s, (const unsigned char *)p, n);
	crypto_generichash_final(&s, k, STORE_KEYLEN);
}

/*
 * A scalar's compact JSON text exactly as jq prints it, taken from the
 * input bytes: plain strings (no escapes, no DEL, which jq escapes), null,
 * booleans and small integers.  Anything else returns 0 and goes to jq.
 */
static int
jq_same_text(struct json_span v)
{
	int64_t i;

	switch (v.type) {
	case JSON_NULL:
	case JSON_TRUE:
	case JSON_FALSE:
		return 1;
	case JSON_STRING:
		return json_str_plain(v) && memchr(v.p, 0x7f, v.n) == NULL;
	case JSON_NUMBER:
		return json_num_i64(v, &i) == 0 && v.p[0] != '-' &&
		    i < ((int64_t)1 << 53);
	default:
		return 0;
	}
}

/* The record as jq sees it (wrapped kinds get their envelope). */
static jv
record_jv(const struct evrec *r)
{
	jv v;

	if (!r->wrapped)
		return jqr_parse(r->whole.p, r->whole.n);
	v = jqr_parse(r->event.p, r->event.n);
	return jv_object_set(
	    jv_object_set(jv_object(), jv_string("subscription_id"), jv_null()),
	    jv_string("event"), v);
}

/*
 * Run prog on input and hash the canonical text of its result (compact,
 * object keys sorted).  Returns 1 with k set, 0 when the key is null or
 * missing, or the program gave several results (*why set then, and when
 * jq failed).  Keying on the first of several would take two records
 * that differ in a later one for repeats, and drop one.
 */
static int
jq_key(struct jqr *prog, jv input, unsigned char *k, char **why)
{
	jv v;
	jv s;
	int several;

	*why = NULL;
	v = jqr_one(prog, input, &several, why);
	if (several && *why == NULL) {
		jv_free(v);
		*why = xstrdup("the key program gave several results; wrap it "
			       "in [ ] to key on all of them");
		return 0;
	}
	if (!jv_is_valid(v) || jv_get_kind(v) == JV_KIND_NULL) {
		jv_free(v);
		return 0;
	}
	s = jv_dump_string(v, JV_PRINT_SORTED);
	hash_key(
	    jv_string_value(s), (size_t)jv_string_length_bytes(jv_copy(s)), k);
	jv_free(s);
	return 1;
}

/*
 * The key without jq: 1 with k set, 0 when the record has none, -1 when
 * only jq can tell (a --key program, or a value jq would print otherwise
 * than written).  Reads nothing but r and the options, so the second
 * thread (recloop.h) calls it too.
 *
 * The default key is [event.id, event.date_updated]: none without an id.
 * --key as a simple path takes the scanner's way when jq would agree.
 */
static int
scan_key(const struct evrec *r, unsigned char *k)
{
	struct json_span id, du, mk, mv, v;
	struct json_iter mi;
	enum json_path_result pr = JSON_PATH_TYPE;
	char buf[512];
	size_t n, i;

	if (keyprog != NULL) {
		if (!have_path)
			return -1;
		if (!r->wrapped)
			pr = json_path_get(&kpath, r->whole, &v);
		else if (kpath.nsteps > 0 && !kpath.step[0].is_index &&
		    kpath.step[0].keylen == 5 &&
		    memcmp(kpath.step[0].key, "event", 5) == 0)
			pr = json_path_get(&kpath_tail, r->event, &v);
		if (pr == JSON_PATH_NULL ||
		    (pr == JSON_PATH_FOUND && v.type == JSON_NULL))
			return 0;
		if (pr == JSON_PATH_FOUND && jq_same_text(v)) {
			hash_key(v.p, v.n, k);
			return 1;
		}
		return -1;
	}
	if (r->event.type != JSON_OBJECT)
		return 0;
	/* One pass for both members; the last duplicate wins, as in jq. */
	id.type = JSON_NULL;
	du.p = "null";
	du.n = 4;
	du.type = JSON_NULL;
	/* The members the parse recorded, or a walk over them. */
	json_iter_init(&mi, r->event);
	for (i = 0;
	     r->em != NULL ? i < r->emn : json_iter_member(&mi, &mk, &mv);
	     i++) {
		if (r->em != NULL) {
			mk = r->em[i].key;
			mv = r->em[i].val;
		}
		if (mk.n == 4 && memcmp(mk.p, "\"id\"", 4) == 0)
			id = mv;
		else if (mk.n == 14 &&
		    memcmp(mk.p, "\"date_updated\"", 14) == 0)
			du = mv;
		else if (!json_str_plain(mk)) {
			/* An escaped name: compare it decoded. */
			if (json_str_eq(mk, "id", 2))
				id = mv;
			else if (json_str_eq(mk, "date_updated", 12))
				du = mv;
		}
	}
	if (id.type == JSON_NULL)
		return 0;
	if (!jq_same_text(id) || !jq_same_text(du) ||
	    id.n + du.n + 3 > sizeof(buf))
		return -1;
	/* jq's compact text of the array, without jq. */
	buf[0] = '[';
	memcpy(buf + 1, id.p, id.n);
	buf[1 + id.n] = ',';
	memcpy(buf + 2 + id.n, du.p, du.n);
	n = id.n + du.n + 2;
	buf[n++] = ']';
	hash_key(buf, n, k);
	return 1;
}

/*
 * The record's key: 1 with k set, 0 when it has none (*why set when jq
 * failed).
 */
static int
record_key(const struct evrec *r, unsigned char *k, char **why)
{
	int rc;

	*why = NULL;
	if ((rc = scan_key(r, k)) >= 0)
		return rc;
	if (keyprog != NULL)
		return jq_key(keyprog, record_jv(r), k, why);
	if (defprog == NULL) {
		char *jqerr = NULL;

		if ((defprog = jqr_new("[.id, .date_updated]", NULL, &jqerr)) ==
		    NULL)
			cli_fatalx("default key: %s", jqerr);
	}
	return jq_key(defprog, jqr_parse(r->event.p, r->event.n), k, why);
}

/* ---- the block ---- */

static void
keyless(const char *file, unsigned long lineno, char *why)
{
	stats.keyless++;
	if (!quiet && stats.keyless <= KEYLESS_REPORTED) {
		if (why != NULL)
			cli_recwarnx(
			    file, lineno, "no key (%.200s): passed", why);
		else
			cli_recwarnx(file, lineno, "no key: passed");
		if (stats.keyless == KEYLESS_REPORTED)
			cli_warnx("further records without a key are only "
				  "counted");
	}
	free(why);
}

/* The in-block set: the first item with the same key, or -1 after
 * inserting i. */
static long
bset_find_or_add(struct block *b, size_t i)
{
	size_t mask = 2 * BLOCK_RECORDS - 1, h;
	const unsigned char *k = b->items[i].key;
	uint64_t x;

	memcpy(&x, k, sizeof(x));
	for (h = (size_t)x & mask;; h = (h + 1) & mask) {
		if (b->bset[h] == 0) {
			b->bset[h] = (uint32_t)i + 1;
			return -1;
		}
		if (memcmp(b->items[b->bset[h] - 1].key, k, STORE_KEYLEN) == 0)
			return (long)b->bset[h] - 1;
	}
}

static noreturn void
store_fatal(const char *what)
{
	/* What passed in earlier blocks was flushed already. */
	out_flush(&out);
	cli_fatalx("%s: %s", what, store_error(st));
}

/*
 * Commit the keys of the blocks written so far: always when the input
 * would block (force), else once enough keys or time have gathered.  A
 * SQLite transaction may span several blocks of a flood: random keys dirty
 * pages all over the B-tree, and each commit writes every dirty page to
 * the WAL, so fewer, larger commits write far less.  The lock is held for
 * at most COMMIT_NS.  Redis claims are committed per block.
 */
static void
commit(int force)
{
	if (uncommitted == 0)
		return;
	if (!force && sqlite_store && uncommitted < COMMIT_KEYS &&
	    cli_mono_ns() - txn_start < COMMIT_NS)
		return;
	/* Into a regular file, the records are on disk before their keys. */
	if (out_durable(&out) != 0)
		cli_fatalx("stdout: %s", strerror(out.err));
	if (store_commit(st) != 0)
		store_fatal("store");
	uncommitted = 0;
}

/*
 * The run of written records not yet given to out: consecutive records
 * lie back to back in the block with their newlines, so a run goes out in
 * one out_write, which writes a long one straight from the block.
 */
static size_t run_off, run_end;

static void
run_flush(const struct block *b)
{
	if (run_end > run_off)
		out_write(&out, b->blk + run_off, run_end - run_off);
	run_off = run_end = 0;
}

/*
 * Check mode's memory of the keys it passed: whether k passed earlier in
 * this run (as far as the direct-mapped slots remember), or (add) that it
 * just did.  Asked as records are written, in order, so a key passed in
 * one block is a repeat in the next even while the store judged both.
 */
static unsigned char *
recent_slot(const unsigned char *k)
{
	uint64_t x;

	memcpy(&x, k, sizeof(x));
	return recent[x & (RECENT_SLOTS - 1)];
}

static int
recent_has(const unsigned char *k)
{
	return memcmp(recent_slot(k), k, STORE_KEYLEN) == 0;
}

static void
recent_add(const unsigned char *k)
{
	memcpy(recent_slot(k), k, STORE_KEYLEN);
}

/* Write one judged record, or drop it, and count it. */
static void
block_write(const struct block *b, const struct item *it)
{
	/* A repeat within the block, or (check) of a recent pass. */
	int dup = it->haskey &&
	    (it->dup || (mode == STORE_PEEK && recent_has(it->key)));
	int repeat = dup || (it->haskey && b->verdict[it->slot] == STORE_SEEN);
	int write = invert ? repeat : mode == STORE_RECORD || !repeat;

	stats.in++;
	if (it->haskey && !dup && b->verdict[it->slot] == STORE_EXPIRED)
		stats.expired++;
	if (write) {
		stats.passed++;
		if (it->off != run_end || run_end == run_off) {
			run_flush(b);
			run_off = it->off;
		}
		run_end = it->off + it->len + 1;
	} else
		stats.dropped++;
	if (mode == STORE_PEEK && it->haskey && !repeat)
		recent_add(it->key);
}

static void
block_reset(struct block *b)
{
	memset(b->bset, 0, 2 * BLOCK_RECORDS * sizeof(*b->bset));
	b->nitems = 0;
	b->nk = 0;
	b->blen = 0;
}

/*
 * Judge the block (got: store_check's answer for all its keys when the
 * second core asked already, sj_run; else -2), write, flush, then commit
 * (or leave to commit()), and empty it.
 */
static void
block_done(struct block *b, long got)
{
	size_t base = 0, next = 0;

	if (b->nitems == 0)
		return;
	/* Usually one round; more when a shared Redis store judges only a
	 * prefix (store.h): that prefix is written and committed first. */
	do {
		size_t lim = b->nk;

		if (b->nk > 0) {
			if (got == -2)
				got = store_check(st, mode,
				    b->keys + base * STORE_KEYLEN, b->nk - base,
				    b->verdict + base);
			if (got < 0)
				store_fatal("store");
			lim = base + (size_t)got;
			got = -2;
		}
		for (; next < b->nitems; next++) {
			if (b->items[next].haskey && !b->items[next].dup &&
			    b->items[next].slot >= lim)
				break;
			block_write(b, &b->items[next]);
		}
		run_flush(b);
		/* The records are out before their keys are committed. */
		if (out_flush(&out) != 0)
			cli_fatalx("stdout: %s", strerror(out.err));
		if (lim > base && uncommitted == 0)
			txn_start = cli_mono_ns();
		uncommitted += lim - base;
		commit(lim < b->nk);
		base = lim;
	} while (base < b->nk);
	block_reset(b);
}

/* The task: the handed-over block's keys judged. */
static void
sj_run(void *arg)
{
	sj.got = sj.b.nk > 0
	    ? store_check(st, mode, sj.b.keys, sj.b.nk, sj.b.verdict)
	    : 0;
}

/* Wait for the block handed over, and write it out. */
static void
sj_finish(void)
{
	if (!sj.pending)
		return;
	recloop_task_wait(&loop);
	sj.pending = 0;
	block_done(&sj.b, sj.got);
}

static void
block_alloc(struct block *b)
{
	b->items = xcalloc(BLOCK_RECORDS, sizeof(*b->items));
	b->keys = xmalloc((size_t)BLOCK_RECORDS * STORE_KEYLEN);
	b->verdict = xmalloc(BLOCK_RECORDS);
	b->bset = xcalloc(2 * BLOCK_RECORDS, sizeof(*b->bset));
}

static void
block_free(struct block *b)
{
	free(b->items);
	free(b->keys);
	free(b->verdict);
	free(b->bset);
	free(b->blk);
}

/*
 * The full block: with SQLite and two cores, to the second core (the
 * block it had is written first), else judged here, with no second block.
 */
static void
block_full(void)
{
	struct block t;

	if (!sqlite_store || cli_one_core()) {
		block_done(&B, -2);
		return;
	}
	sj_finish();
	if (sj.b.items == NULL)
		block_alloc(&sj.b);
	t = sj.b;
	sj.b = B;
	B = t;
	sj.pending = 1;
	if (recloop_task(&loop, sj_run, NULL) != 0) {
		/* The second thread could not start: judged here, at once. */
		sj_run(NULL);
		sj_finish();
	}
}

/*
 * Everything read so far judged, written and flushed: when the input would
 * block, before a mark, and at the end.
 */
static void
block_run(void)
{
	sj_finish();
	block_done(&B, -2);
}

/*
 * Give a new record its place among the block's keys: a repeat within the
 * block is marked; a new key gets a slot and its store command goes ahead
 * (store_send).
 */
static void
block_key(size_t i)
{
	struct item *it = &B.items[i];

	if (bset_find_or_add(&B, i) >= 0) {
		it->dup = 1;
		return;
	}
	memcpy(B.keys + B.nk * STORE_KEYLEN, it->key, STORE_KEYLEN);
	it->slot = B.nk++;
	if (store_send(st, mode, it->key) != 0)
		store_fatal("store");
}

/* arg: the input's descriptor, which the metrics wait on. */
static void
on_idle(void *arg, int fd)
{
	block_run();
	commit(1);
	metrics_idle(&met, fd);
}

/*
 * Put a record into the block (the block sent on first when full), with
 * its newline: p[0..n) as is, or (wrap) the event p[0..n) wrapped, which
 * an Event Log page's records are.  Returns its item, key not yet set.
 */
static struct item *
block_put(int wrap, const char *p, size_t n)
{
	size_t len = wrap ? evrec_wrapped_len(n) : n;
	struct item *it;

	if (B.nitems == BLOCK_RECORDS ||
	    (B.nitems > 0 && B.blen + len + 1 > BLOCK_BYTES))
		block_full();
	if (B.blen + len + 1 > B.bcap) {
		B.bcap = B.blen + len + 1 + 64 * 1024;
		B.blk = xrealloc(B.blk, B.bcap);
	}
	it = &B.items[B.nitems];
	it->off = B.blen;
	it->len = len;
	it->dup = 0;
	if (wrap)
		evrec_wrap(B.blk + B.blen, p, n);
	else
		memcpy(B.blk + B.blen, p, n);
	B.blk[B.blen + len] = '\n';
	B.blen += len + 1;
	return it;
}

/* Append one record of a line to the block, with its key. */
static void
block_add(const char *file, unsigned long lineno, const struct evrec *r,
    int wrap, const char *line, size_t n)
{
	struct item *it =
	    wrap ? block_put(1, r->event.p, r->event.n) : block_put(0, line, n);
	char *why;

	it->haskey = record_key(r, it->key, &why);
	if (!it->haskey)
		keyless(file, lineno, why);
	else {
		free(why);
		block_key(B.nitems);
	}
	B.nitems++;
}

static void
do_line(const char *file, struct lr_line *l)
{
	struct json_error e;
	struct evrec_iter ei;
	struct evrec r;
	char detail[96];

	if (evrec_parse(&ei, l->p, l->n, &e) != 0) {
		snprintf(
		    detail, sizeof(detail), "%s at byte %zu", e.msg, e.off + 1);
		reject(file, l->lineno, "invalid-json", detail, l->p, l->n);
		return;
	}
	while (evrec_next(&ei, &r))
		block_add(
		    file, l->lineno, &r, ei.kind == EVREC_PAGE, l->p, l->n);
}

static int
on_line(void *arg, const char *file, struct lr_line *l)
{
	do_line(file, l);
	metrics_tick(&met);
	return 0;
}

/*
 * The second core (recloop.h): a line whose records all have a key the
 * scanner can tell becomes, per record, where its bytes are and its key.
 * A line to reject, without a key or needing jq is left to on_line.
 */
struct prepped_rec {
	size_t off, n; /* the line, or the event to wrap, in the line */
	int wrap;
	unsigned char key[STORE_KEYLEN];
};

static int
prep_line(void *ctx, const struct lr_line *l, struct out *res)
{
	struct json_error e;
	struct evrec_iter ei;
	struct evrec r;
	struct prepped_rec pr;

	if (evrec_parse(&ei, l->p, l->n, &e) != 0)
		return -1;
	while (evrec_next(&ei, &r)) {
		pr.wrap = ei.kind == EVREC_PAGE;
		pr.off = pr.wrap ? (size_t)(r.event.p - l->p) : 0;
		pr.n = pr.wrap ? r.event.n : l->n;
		if (scan_key(&r, pr.key) != 1)
			return -1;
		out_write(res, &pr, sizeof(pr));
	}
	return 0;
}

static int
on_prepped(
    void *arg, const char *file, struct lr_line *l, const char *res, size_t n)
{
	struct prepped_rec pr;
	struct item *it;
	size_t at;

	for (at = 0; at + sizeof(pr) <= n; at += sizeof(pr)) {
		memcpy(&pr, res + at, sizeof(pr));
		it = block_put(pr.wrap, l->p + pr.off, pr.n);
		memcpy(it->key, pr.key, STORE_KEYLEN);
		it->haskey = 1;
		block_key(B.nitems);
		B.nitems++;
	}
	metrics_tick(&met);
	return 0;
}

static int
on_too_long(void *arg, const char *file, unsigned long lineno)
{
	reject(file, lineno, "line-too-long", NULL, NULL, 0);
	metrics_tick(&met);
	return 0;
}

/*
 * A mark passes on after the records before it and their keys.  In filter
 * mode with a SQLite store, a mark says an acknowledged pipeline, where
 * this stage keeps its promise only for itself: a key is recorded as its
 * record goes on, so a crash of a later stage (or of the whole pipeline)
 * before the end commits the record replays it into a store that drops
 * it.  Said once a run.  A shared Redis store or bucket is left out: there
 * the filter's claim across hosts is the point, and the README and
 * examples/shared-redis.sh state the cost.
 */
static void
on_mark(void *arg)
{
	static int warned;

	if (mode == STORE_FILTER && sqlite_store && !warned) {
		warned = 1;
		cli_warnx("warning: filter mode in an acknowledged pipeline: "
			  "a record passed here that a later stage has not "
			  "finished when the pipeline dies is dropped as seen "
			  "when it comes again; run --mode check before the "
			  "delivery and --mode record after it");
	}
	block_run();
	commit(1);
}

/* ---- set-up ---- */

static void
setup_metrics(const char *path)
{
	static const struct metrics_def defs[] = {
		{ "closehook_dedupe_records_total", METRICS_COUNTER,
		    METRICS_ULONG, &stats.in,
		    "Records judged (each event of an Event Log page is one).",
		    NULL, NULL },
		{ "closehook_dedupe_passed_total", METRICS_COUNTER,
		    METRICS_ULONG, &stats.passed, "Records written.", NULL,
		    NULL },
		{ "closehook_dedupe_dropped_total", METRICS_COUNTER,
		    METRICS_ULONG, &stats.dropped,
		    "Records not written (repeats; with --invert, new ones).",
		    NULL, NULL },
		{ "closehook_dedupe_expired_total", METRICS_COUNTER,
		    METRICS_ULONG, &stats.expired,
		    "Records whose key was seen longer ago than --ttl.", NULL,
		    NULL },
		{ "closehook_dedupe_keyless_total", METRICS_COUNTER,
		    METRICS_ULONG, &stats.keyless,
		    "Records without a key (passed with a warning).", NULL,
		    NULL },
		{ "closehook_dedupe_rejected_total", METRICS_COUNTER,
		    METRICS_ULONG, &stats.rejected,
		    "Lines rejected (not JSON, too long).", NULL, NULL },
		{ "closehook_dedupe_uncommitted_keys", METRICS_GAUGE,
		    METRICS_SIZE, &uncommitted,
		    "Keys judged and not yet committed to the store.", NULL,
		    NULL },
	};

	metrics_init(&met, path);
	metrics_add(&met, defs, sizeof(defs) / sizeof(defs[0]));
	metrics_add_start_time(&met, "closehook_dedupe_start_time_seconds");
	metrics_start(&met);
	if (met.path != NULL) /* a reader that stops us: the file goes on */
		out_on_block(&out, metrics_blocked, &met, 1000);
}

/* mkdir -p for the parent directories of path, private to the user. */
static void
make_parents(char *path)
{
	char *p;

	for (p = path + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			cli_fatal("%s", path);
		*p = '/';
	}
}

static char *
default_store(void)
{
	const char *base = getenv("XDG_STATE_HOME"), *home;
	char *path;
	int n;

	if (base != NULL && base[0] == '/')
		n = asprintf(&path, "%s/closehook/dedupe.sqlite", base);
	else if ((home = getenv("HOME")) != NULL && home[0] != '\0')
		n = asprintf(
		    &path, "%s/.local/state/closehook/dedupe.sqlite", home);
	else
		cli_fatalx("no store: give --store, or set HOME or "
			   "XDG_STATE_HOME");
	if (n < 0)
		cli_fatal("out of memory");
	make_parents(path);
	return path;
}

/*
 * The Redis password: the first line of the file, or the environment, in
 * locked memory (readfile.h); the caller wipes it with readfile_secret_free().
 */
static char *
read_password(const char *file)
{
	char *pw, *e;
	size_t n;

	if (file == NULL) {
		if ((e = getenv("CLOSEHOOK_REDIS_PASSWORD")) == NULL ||
		    *e == '\0')
			return NULL;
		if ((pw = readfile_secret_dup(e, strlen(e))) == NULL)
			cli_fatalx("out of memory");
		return pw;
	}
	if ((pw = readfile_secret("--redis-password-file", file, 4096, &n)) ==
	    NULL)
		exit(CLI_EXIT_FATAL);
	pw[strcspn(pw, "\r\n")] = '\0';
	if (pw[0] == '\0')
		cli_fatalx("%s: empty password file", file);
	return pw;
}

int
main(int argc, char *argv[])
{
	enum {
		O_STORE = 256,
		O_KEY,
		O_TTL,
		O_MODE,
		O_INVERT,
		O_NS,
		O_NOW,
		O_STATS,
		O_REJECTS,
		O_METRICS,
		O_PWFILE,
		O_BUSY,
		O_MAXLINE,
		O_VERSION
	};
	static const struct option longopts[] = { { "store", required_argument,
						      NULL, O_STORE },
		{ "key", required_argument, NULL, O_KEY },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "mode", required_argument, NULL, O_MODE },
		{ "invert", no_argument, NULL, O_INVERT },
		{ "namespace", required_argument, NULL, O_NS },
		{ "now", required_argument, NULL, O_NOW },
		{ "stats", no_argument, NULL, O_STATS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "rejects", required_argument, NULL, O_REJECTS },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "redis-password-file", required_argument, NULL, O_PWFILE },
		{ "busy-timeout", required_argument, NULL, O_BUSY },
		{ "max-line", required_argument, NULL, O_MAXLINE },
		NATSQ_LONGOPTS, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 } };
	const char *spec = NULL, *keyexpr = NULL, *ns = "", *pwfile = NULL,
		   *why, *metpath = NULL;
	struct store_url url;
	struct store_opts so;
	size_t max_line = LR_DEFAULT_MAX_LINE;
	int64_t ttl_ms = 35LL * 86400 * 1000;
	char *pw, *jqerr = NULL, *defpath = NULL, err[600];
	int ch, i, rc = CLI_EXIT_OK, ioerr = 0;

	cli_init("closehook-dedupe");
	cli_std_fds(CLI_STDOUT_DATA);
	cli_no_core_dumps();
	argv[0] = (char *)cli_prog;
	memset(&so, 0, sizeof(so));
	so.now = -1;
	so.busy_ms = 30000;
	while ((ch = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
		switch (ch) {
		case O_STORE:
			spec = optarg;
			break;
		case O_KEY:
			keyexpr = optarg;
			break;
		case O_TTL:
			ttl_ms = cli_opt_duration(
			    "ttl", optarg, 1000, 100LL * 365 * 86400 * 1000);
			break;
		case O_MODE:
			if (strcmp(optarg, "filter") == 0)
				mode = STORE_FILTER;
			else if (strcmp(optarg, "check") == 0)
				mode = STORE_PEEK;
			else if (strcmp(optarg, "record") == 0)
				mode = STORE_RECORD;
			else {
				cli_warnx("invalid mode '%.40s' for --mode: "
					  "filter, check or record",
				    optarg);
				usage();
			}
			break;
		case O_INVERT:
			invert = 1;
			break;
		case O_NS:
			ns = optarg;
			break;
		case O_NOW:
			so.now = cli_opt_time("now", optarg);
			break;
		case O_STATS:
			want_stats = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case O_REJECTS:
			rejpath = optarg;
			break;
		case O_METRICS:
			metpath = optarg;
			break;
		case O_PWFILE:
			pwfile = optarg;
			break;
		case O_BUSY:
			so.busy_ms = cli_opt_duration(
			    "busy-timeout", optarg, 0, 86400LL * 1000);
			break;
		case O_MAXLINE:
			max_line = cli_opt_size(
			    "max-line", optarg, 1, (uint64_t)1 << 32);
			break;
		case 'h':
			help();
			break;
		case O_VERSION:
			cli_version();
			break;
		default:
			if (!natsq_getopt(ch, optarg, &so.nats))
				usage();
		}
	}
	argc -= optind;
	argv += optind;

	/* Set-up: everything that can fail does so before any input. */
	if (sodium_init() < 0)
		cli_fatalx("cannot initialise libsodium");
	crypto_generichash_init(&hbase, NULL, 0, STORE_KEYLEN);
	crypto_generichash_update(
	    &hbase, (const unsigned char *)ns, strlen(ns) + 1);
	if (keyexpr != NULL) {
		if ((keyprog = jqr_new(keyexpr, NULL, &jqerr)) == NULL)
			cli_fatalx("--key: %s", jqerr);
		if (json_path_compile(keyexpr, &kpath) == 0) {
			have_path = 1;
			if (kpath.nsteps > 0) {
				kpath_tail.nsteps = kpath.nsteps - 1;
				memcpy(kpath_tail.step, kpath.step + 1,
				    kpath_tail.nsteps * sizeof(kpath.step[0]));
			}
		}
	}
	if (spec == NULL)
		spec = defpath = default_store();
	if (store_url_parse(spec, &url, &why) != 0)
		cli_fatalx("--store: %s", why);
	if (natsq_opts_given(&so.nats) && url.kind != STORE_NATS) {
		cli_warnx("--nats-creds, --nats-user-file and --nats-replicas "
			  "are for a nats:// store");
		usage();
	}
	if (url.kind == STORE_NATS && pwfile != NULL) {
		cli_warnx("--redis-password-file is for a Redis store");
		usage();
	}
	if (natsq_opts_misuse(&so.nats) != NULL) {
		cli_warnx("%s", natsq_opts_misuse(&so.nats));
		usage();
	}
	so.ttl = (ttl_ms + 999) / 1000;
	pw = url.kind == STORE_SQLITE || url.kind == STORE_NATS
	    ? NULL
	    : read_password(pwfile);
	so.password = pw;
	sqlite_store = url.kind == STORE_SQLITE;
	st = store_open(&url, &so, err, sizeof(err));
	readfile_secret_free(pw);
	if (st == NULL && err[0] == '\0')
		exit(CLI_EXIT_FATAL);
	if (st == NULL)
		cli_fatalx("%s", err);
	if (rejpath != NULL) {
		if (out_append_open(&rej, rejpath, 0600) != 0)
			cli_fatal("%s", rejpath);
		have_rej = 1;
	}
	block_alloc(&B);
	if (mode == STORE_PEEK)
		recent = xcalloc(RECENT_SLOTS, sizeof(*recent));
	out_init(&out, STDOUT_FILENO, "stdout");
	setup_metrics(metpath);

	/* Stream. */
	loop.out = &out;
	loop.side = have_rej ? &rej : NULL;
	loop.max_line = max_line;
	loop.line = on_line;
	loop.too_long = on_too_long;
	loop.before_mark = on_mark;
	loop.idle = on_idle;
	loop.prep = prep_line;
	loop.prepped = on_prepped;
	if (argc == 0)
		ioerr |= recloop_run(&loop, NULL) < 0;
	for (i = 0; i < argc && out.err == 0; i++)
		ioerr |= recloop_run(&loop, argv[i]) < 0;
	block_run();
	commit(1);

	/* Tear down. */
	if (stats.rejected > 0)
		rc = CLI_EXIT_REJECTS;
	if (ioerr)
		rc = CLI_EXIT_FATAL;
	if (have_rej && out_close(&rej) != 0) {
		cli_warn("%s", rejpath);
		rc = CLI_EXIT_FATAL;
	}
	rc = out_close_stdout(&out, rc);
	if (stats.keyless > (quiet ? 0 : KEYLESS_REPORTED))
		cli_warnx("%lu record%s without a key passed", stats.keyless,
		    stats.keyless == 1 ? "" : "s");
	if (want_stats)
		cli_warnx("stats: in %lu, passed %lu, dropped %lu, "
			  "expired %lu, keyless %lu, rejected %lu",
		    stats.in, stats.passed, stats.dropped, stats.expired,
		    stats.keyless, stats.rejected);
	metrics_close(&met);
	if (store_close(st) != 0)
		rc = CLI_EXIT_FATAL;
	jqr_free(keyprog);
	jqr_free(defprog);
	block_free(&B);
	block_free(&sj.b);
	free(recent);
	free(defpath);
	return rc;
}
