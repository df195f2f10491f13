/*
 * fuzz-har.c - libFuzzer target for the HAR reader: any bytes are read
 * without a crash; har_open fails exactly when the bytes are not JSON or
 * not a HAR archive; each entry's strings lie in the reader's storage, its
 * received_at is UTC text with six fraction digits that isotime reads
 * back, its path begins with '/'; the walk ends; and each entry, written as
 * a capture, reads back through capture_parse with the same body bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "capture.h"
#include "har.h"
#include "isotime.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
inside(const char *p, size_t n, const char *lo, size_t lon)
{
	return n == 0 || (p >= lo && p + n <= lo + lon);
}

static void
roundtrip(const struct har_entry *e)
{
	struct capture_meta m = { e->received_at, NULL, "POST", e->path,
		e->pathn };
	struct capture_hdrs hs;
	struct capture c;
	const char *why;
	char *line, *buf;
	size_t i, n;
	long bn;

	capture_hdrs_init(&hs);
	for (i = 0; i < e->nh; i++)
		capture_hdrs_add(&hs, e->h[i].name, e->h[i].namen, e->h[i].val,
		    e->h[i].valn);
	capture_hdrs_join(&hs);
	n = capture_write_bound(&m, hs.h, hs.n, e->body, e->bodyn);
	if ((line = malloc(n)) == NULL || (buf = malloc(n)) == NULL)
		abort();
	n = capture_write(line, &m, hs.h, hs.n, e->body, e->bodyn);
	if (capture_parse(line, n - 1, &c, buf, &why) != 0 ||
	    c.received_at.type != JSON_STRING ||
	    !json_str_eq(c.received_at, e->received_at, strlen(e->received_at)))
		abort();
	bn = capture_body(&c, buf);
	if (bn < 0 || (size_t)bn != e->bodyn ||
	    memcmp(buf, e->body, e->bodyn) != 0)
		abort();
	free(line);
	free(buf);
	capture_hdrs_free(&hs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct har h;
	struct har_entry e;
	struct isotime t;
	size_t i, k = 0;
	int rc;

	if (sodium_init() < 0)
		abort();
	if (har_open(&h, p, size) != 0) {
		if (h.errline < 1 || h.err[0] == '\0')
			abort();
		har_free(&h);
		return 0;
	}
	/* What har_open accepted is JSON, after a byte-order mark it skips. */
	if (size >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0
		? json_parse(p + 3, size - 3, NULL, NULL) != 0
		: json_parse(p, size, NULL, NULL) != 0)
		abort();
	while ((rc = har_next(&h, &e)) != 0) {
		/* Each call moves on by at least one entry. */
		if (++k > size)
			abort();
		if (rc < 0) {
			if (h.err[0] == '\0' || h.errline < 1)
				abort();
			continue;
		}
		if (strlen(e.received_at) != 27 ||
		    isotime_parse(e.received_at, 27, &t) != 0 ||
		    e.received_at[26] != 'Z' || e.received_at[19] != '.')
			abort();
		if (e.pathn == 0 || e.path[0] != '/' ||
		    !inside(e.path, e.pathn, h.buf, h.cap) ||
		    !inside(e.body, e.bodyn, h.buf, h.cap) ||
		    e.nh > HAR_MAX_HEADERS)
			abort();
		for (i = 0; i < e.nh; i++)
			if (e.h[i].namen == 0 || e.h[i].name[0] == ':' ||
			    !inside(e.h[i].name, e.h[i].namen, h.buf, h.cap) ||
			    !inside(e.h[i].val, e.h[i].valn, h.buf, h.cap))
				abort();
		roundtrip(&e);
	}
	har_free(&h);
	return 0;
}
