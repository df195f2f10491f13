/*
 * fuzz-httpdump.c - libFuzzer target for the raw HTTP request parser: any
 * bytes are parsed without a crash; every span it returns lies inside the
 * input (or its decoded body); the input parsed in pieces (of a size the
 * first byte picks) gives the same requests, responses, failures, points
 * where reading resumed after one (httpdump_resync), lines and outcome as
 * parsed at once; and each request, written as a capture, reads back
 * through capture_parse with the same body bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "capture.h"
#include "httpdump.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Small enough that the fuzzer reaches every bound. */
#define MAXREQ 600

struct log {
	char *p;
	size_t n, cap;
};

static void
put(struct log *l, const void *p, size_t n)
{
	if (l->n + n + sizeof(size_t) > l->cap) {
		l->cap = 2 * (l->n + n + sizeof(size_t)) + 256;
		if ((l->p = realloc(l->p, l->cap)) == NULL)
			abort();
	}
	/* Length first, so that two logs are equal only field by field. */
	memcpy(l->p + l->n, &n, sizeof(n));
	memcpy(l->p + l->n + sizeof(n), p, n);
	l->n += sizeof(n) + n;
}

static int
inside(const char *p, size_t n, const char *lo, size_t lon)
{
	return n == 0 || (p >= lo && p + n <= lo + lon);
}

/* A request as a capture, read back: the body bytes must survive. */
static void
roundtrip(const struct httpdump_req *r)
{
	struct capture_meta m = { NULL, NULL, NULL, NULL, 0 };
	struct capture_hdrs hs;
	struct capture c;
	const char *why;
	char *method, *line, *buf;
	size_t i, n;
	long bn;

	capture_hdrs_init(&hs);
	for (i = 0; i < r->nf; i++)
		capture_hdrs_add(&hs, r->f[i].name, r->f[i].namen, r->f[i].val,
		    r->f[i].valn);
	capture_hdrs_join(&hs);
	if ((method = malloc(r->methodn + 1)) == NULL)
		abort();
	memcpy(method, r->method, r->methodn);
	method[r->methodn] = '\0';
	m.method = method;
	m.path = r->target;
	m.pathn = r->targetn;
	n = capture_write_bound(&m, hs.h, hs.n, r->body, r->bodyn);
	if ((line = malloc(n)) == NULL || (buf = malloc(n)) == NULL)
		abort();
	n = capture_write(line, &m, hs.h, hs.n, r->body, r->bodyn);
	if (capture_parse(line, n - 1, &c, buf, &why) != 0)
		abort();
	bn = capture_body(&c, buf);
	if (bn < 0 || (size_t)bn != r->bodyn ||
	    memcmp(buf, r->body, r->bodyn) != 0)
		abort();
	free(line);
	free(buf);
	free(method);
	capture_hdrs_free(&hs);
}

/*
 * Parse p[0..n) in pieces of step bytes (0: at once) into the log, reading
 * on after a failure from where httpdump_resync finds the next message.
 */
static void
parse(const char *p, size_t n, size_t step, struct log *l, int check)
{
	struct httpdump d;
	struct httpdump_req r;
	enum httpdump_status st;
	char *buf = malloc(n + 1);
	size_t have = 0, off = 0, given = 0, used, k, i;
	int skipping = 0;

	if (buf == NULL)
		abort();
	httpdump_init(&d, MAXREQ);
	for (;;) {
		k = step == 0 || step > n - given ? n - given : step;
		memcpy(buf + have, p + given, k);
		have += k;
		given += k;
		for (;;) {
			if (skipping) {
				st = httpdump_resync(&d, buf + off, have - off,
				    given == n, &used);
				if (used > have - off)
					abort();
				off += used;
				if (st != HTTPDUMP_REQUEST)
					break;
				skipping = 0;
				put(l, &d.line, sizeof(d.line));
			}
			st = httpdump_next(
			    &d, buf + off, have - off, given == n, &r, &used);
			if (used > have - off)
				abort();
			if (st == HTTPDUMP_ERROR) {
				put(l, &d.errline, sizeof(d.errline));
				put(l, d.err, strlen(d.err));
				off += used;
				skipping = 1;
				continue;
			}
			if (st != HTTPDUMP_REQUEST && st != HTTPDUMP_RESPONSE) {
				off += used;
				break;
			}
			if ((st == HTTPDUMP_REQUEST) != (r.status == 0) ||
			    (st == HTTPDUMP_RESPONSE &&
				(r.status < 100 || r.status > 599)))
				abort();
			if ((st == HTTPDUMP_REQUEST &&
				(!inside(
				     r.method, r.methodn, buf + off, used) ||
				    !inside(
					r.target, r.targetn, buf + off, used) ||
				    r.methodn == 0 || r.targetn == 0)) ||
			    (!r.chunked &&
				!inside(r.body, r.bodyn, buf + off, used)) ||
			    (r.chunked &&
				!inside(r.body, r.bodyn, d.body, d.bodycap)))
				abort();
			put(l, &r.line, sizeof(r.line));
			put(l, &r.status, sizeof(r.status));
			if (st == HTTPDUMP_REQUEST) {
				put(l, r.method, r.methodn);
				put(l, r.target, r.targetn);
			}
			for (i = 0; i < r.nf; i++) {
				if (!inside(r.f[i].name, r.f[i].namen,
					buf + off, used) ||
				    !inside(r.f[i].val, r.f[i].valn, buf + off,
					used))
					abort();
				put(l, r.f[i].name, r.f[i].namen);
				put(l, r.f[i].val, r.f[i].valn);
			}
			put(l, r.body, r.bodyn);
			if (check && st == HTTPDUMP_REQUEST)
				roundtrip(&r);
			off += used;
		}
		if (st == HTTPDUMP_END)
			break;
		/* MORE at the end of the input is a bug. */
		if (given == n || have - off > MAXREQ + HTTPDUMP_MAX_HEAD)
			abort();
		memmove(buf, buf + off, have - off);
		have -= off;
		off = 0;
	}
	put(l, &d.line, sizeof(d.line));
	httpdump_free(&d);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct log whole = { 0 }, pieces = { 0 };
	size_t step;

	if (sodium_init() < 0)
		abort();
	if (size == 0)
		return 0;
	step = data[0] % 16 + 1;
	parse((const char *)data + 1, size - 1, 0, &whole, 1);
	parse((const char *)data + 1, size - 1, step, &pieces, 0);
	if (whole.n != pieces.n || memcmp(whole.p, pieces.p, whole.n) != 0)
		abort();
	free(whole.p);
	free(pieces.p);
	return 0;
}
