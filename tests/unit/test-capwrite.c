/*
 * test-capwrite.c - the capture writer: what it writes reads back through
 * capture_parse with the same headers and the same body bytes.
 */
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
	return tap_done();
}
