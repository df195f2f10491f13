/*
 * test-capwrite.c - the capture writer: what it writes reads back through
 * capture_parse with the same headers and the same body bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "capture.h"
#include "tap.h"

static char *
write_one(const char *body, size_t bodyn, const struct capture_hdr *h,
    size_t nh, size_t *n)
{
	struct capture_meta m = { "2026-11-26T16:54:45.123456Z", "127.0.0.1",
		"POST", "/close", 6 };
	size_t bound = capture_write_bound(&m, h, nh, body, bodyn);
	char *buf = malloc(bound);

	*n = capture_write(buf, &m, h, nh, body, bodyn);
	ok(*n <= bound, "within the bound (%zu <= %zu)", *n, bound);
	return buf;
}

static void
roundtrip(const char *what, const char *body, size_t bodyn, int b64)
{
	struct capture_hdr h[] = {
		{ "Close-Sig-Hash", 14, "e6cf", 4 },
		{ "X-Latin1", 8, "caf\xe9", 4 },
		{ "X-Ctl", 5, "a\"b\\\x01", 5 },
	};
	struct capture c;
	struct json_span v;
	const char *why;
	char *line, *dec;
	size_t n;
	long dn;

	line = write_one(body, bodyn, h, 3, &n);
	ok(n > 0 && line[n - 1] == '\n' && memchr(line, '\n', n - 1) == NULL,
	    "%s: one line", what);
	dec = malloc(n);
	ok(capture_parse(line, n - 1, &c, dec, &why) == 0, "%s: parses", what);
	is_int(c.body_base64, b64, "%s: body field", what);
	dn = capture_body(&c, dec);
	is_mem(dec, (size_t)dn, body, bodyn, "%s: body bytes", what);
	ok(capture_header(&c, "close-sig-hash", &v) &&
		json_str_eq(v, "e6cf", 4),
	    "%s: header lower-cased", what);
	ok(capture_header(&c, "x-latin1", &v) &&
		json_str_eq(v, "caf\xc3\xa9", 5),
	    "%s: a non-UTF-8 header value reads as Latin-1", what);
	ok(capture_header(&c, "x-ctl", &v) && json_str_eq(v, "a\"b\\\x01", 5),
	    "%s: escapes", what);
	ok(memmem(line, n, "\"close-sig-hash\"", 16) != NULL,
	    "%s: the name is written lower-case", what);
	free(dec);
	free(line);
}

/* The list as "name=value;" text, for comparing in one go. */
static const char *
hdrs_text(const struct capture_hdrs *hs)
{
	static char t[512];
	size_t i, n = 0;

	for (i = 0; i < hs->n; i++)
		n += (size_t)snprintf(t + n, sizeof(t) - n, "%.*s=%.*s;",
		    (int)hs->h[i].namen, hs->h[i].name, (int)hs->h[i].valn,
		    hs->h[i].val);
	t[n] = '\0';
	return t;
}

#define ADD(hs, n, v) capture_hdrs_add((hs), (n), strlen(n), (v), strlen(v))

static void
header_lists(void)
{
	struct capture_hdrs hs;
	struct capture c;
	struct json_span v;
	const char *why;
	char *line, dec[512], big[300];
	size_t n;

	capture_hdrs_init(&hs);
	ADD(&hs, "Content-Type", " \tapplication/json\t ");
	ADD(&hs, "X-Empty", "   ");
	ADD(&hs, "Close-Sig-Hash", "e6cf");
	capture_hdrs_join(&hs);
	is_str(hdrs_text(&hs),
	    "Content-Type=application/json;X-Empty=;Close-Sig-Hash=e6cf;",
	    "values are trimmed of spaces and tabs, names kept as given");

	capture_hdrs_reset(&hs);
	ADD(&hs, "Accept", "a");
	ADD(&hs, "X-B", "1");
	ADD(&hs, "accept", " b ");
	ADD(&hs, "X-C", "2");
	ADD(&hs, "ACCEPT", "");
	ADD(&hs, "x-b", "3");
	capture_hdrs_join(&hs);
	is_str(hdrs_text(&hs), "Accept=a, b, ;X-B=1, 3;X-C=2;",
	    "repeated names join into the first, in order, case ignored");

	/* Enough fields to grow the list past its first allocation. */
	capture_hdrs_reset(&hs);
	memset(big, 'v', sizeof(big));
	for (n = 0; n < 100; n++)
		capture_hdrs_add(&hs, n % 2 ? "X-Odd" : "X-Even", 6 - n % 2,
		    big, 3);
	capture_hdrs_join(&hs);
	ok(hs.n == 2 && hs.h[0].valn == 50 * 3 + 49 * 2 &&
		hs.h[1].valn == 50 * 3 + 49 * 2 && hs.h[0].namen == 6,
	    "100 fields under two names join into two values");

	/* Written and read back, a joined header is one value. */
	capture_hdrs_reset(&hs);
	ADD(&hs, "X-A", "1");
	ADD(&hs, "x-a", "2");
	capture_hdrs_join(&hs);
	{
		struct capture_meta m = { NULL, NULL, "POST", "/", 1 };

		line = malloc(capture_write_bound(&m, hs.h, hs.n, "{}", 2));
		n = capture_write(line, &m, hs.h, hs.n, "{}", 2);
		ok(capture_parse(line, n - 1, &c, dec, &why) == 0 &&
			capture_header(&c, "x-a", &v) &&
			json_str_eq(v, "1, 2", 4),
		    "a joined header reads back as one value");
		free(line);
	}
	capture_hdrs_free(&hs);
}

int
main(void)
{
	static const char kav[] = "{\"event\": {\"id\": \"ev_1\"}, "
				  "\"subscription_id\": \"whsub_1\"}";
	char bin[256];
	int i;

	if (sodium_init() < 0)
		return 1;
	for (i = 0; i < 256; i++)
		bin[i] = (char)i;
	roundtrip("JSON body", kav, sizeof(kav) - 1, 0);
	roundtrip("empty body", "", 0, 0);
	roundtrip("control bytes and NUL", "a\0b\r\n\t\"\\", 9, 0);
	roundtrip("UTF-8", "caf\xc3\xa9 \xf0\x9f\x98\x80", 10, 0);
	roundtrip("every byte", bin, sizeof(bin), 1);
	roundtrip("one bad byte", "ok\xff", 3, 1);
	header_lists();
	return tap_done();
}
