/*
 * fuzz-capture.c - libFuzzer target for the capture reader: any bytes are
 * parsed without a crash, what it returns stays inside the input, it calls
 * the input invalid JSON exactly when json_parse does, the body it
 * decodes while parsing is json_str_unescape's (CR/LF flag included), and
 * headers found in one walk are those found one by one, and a
 * body_base64 decodes to what libsodium's decoder alone makes of it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* capture_body's answer for a body_base64 without its fast path. */
static long
sodium_only(struct json_span b, char *out)
{
	size_t n = json_str_unescape(b, out), bin;
	const char *end;

	if (sodium_base642bin((unsigned char *)out, n, out, n, "\r\n", &bin,
		&end, sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    end == out + n)
		return (long)bin;
	n = json_str_unescape(b, out);
	if (sodium_base642bin((unsigned char *)out, n, out, n, "\r\n", &bin,
		&end, sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0 &&
	    end == out + n)
		return (long)bin;
	return -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *why;
	struct capture c;
	struct json_span v;
	char *buf;
	long n;
	int valid;

	if (sodium_init() < 0)
		abort();
	valid = json_parse(p, size, NULL, NULL) == 0;
	if ((buf = malloc(size + 1)) == NULL)
		abort();
	if (capture_parse(p, size, &c, buf, &why) != 0) {
		/* "not valid JSON" exactly when it is not. */
		if ((strcmp(why, "not valid JSON") == 0) == valid)
			abort();
		free(buf);
		return 0;
	}
	if (!valid)
		abort();
	if (c.body.p < p || c.body.p + c.body.n > p + size ||
	    c.body.type != JSON_STRING)
		abort();
	/*
	 * A header is a string or a number (a timestamp written as one)
	 * inside the input, and several looked up in one walk are the same
	 * as each looked up alone.
	 */
	{
		static const char *const names[] = { "close-sig-hash",
			"close-sig-timestamp", "content-type" };
		struct json_span hv[3];
		unsigned have = capture_headers(&c, names, 3, hv);
		size_t i;
		int one;

		for (i = 0; i < 3; i++) {
			one = capture_header(&c, names[i], &v);
			if ((unsigned)one != ((have >> i) & 1))
				abort();
			if (one &&
			    ((v.type != JSON_STRING && v.type != JSON_NUMBER) ||
				v.p < p || v.p + v.n > p + size ||
				v.p != hv[i].p || v.n != hv[i].n))
				abort();
		}
	}
	/* The body decoded with the parse is what json_str_unescape says. */
	if (!c.body_base64) {
		char *ref = malloc(c.body.n + 1);
		size_t rn;

		if (ref == NULL)
			abort();
		rn = json_str_unescape(c.body, ref);
		if (rn != c.body_n || memcmp(ref, buf, rn) != 0 ||
		    c.body_crlf !=
			(memchr(ref, '\n', rn) != NULL ||
			    memchr(ref, '\r', rn) != NULL))
			abort();
		free(ref);
	}
	n = capture_body(&c, buf);
	if (n > (long)c.body.n)
		abort();
	if (c.body_base64) {
		char *ref = malloc(c.body.n + 1);
		long rn;

		if (ref == NULL)
			abort();
		rn = sodium_only(c.body, ref);
		if (rn != n || (n > 0 && memcmp(ref, buf, (size_t)n) != 0))
			abort();
		free(ref);
	}
	free(buf);
	return 0;
}
