/*
 * fuzz-capture.c - libFuzzer target for the capture reader: any bytes are
 * parsed without a crash, what it returns stays inside the input, and it
 * calls the input invalid JSON (in capture_parse, or in capture_body for
 * the body string it leaves unchecked) exactly when json_parse does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

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
	if (capture_parse(p, size, &c, &why) != 0) {
		/* "not valid JSON" exactly when it is not. */
		if ((strcmp(why, "not valid JSON") == 0) == valid)
			abort();
		return 0;
	}
	if (c.body.p < p || c.body.p + c.body.n > p + size ||
	    c.body.type != JSON_STRING)
		abort();
	if (capture_header(&c, "close-sig-hash", &v) &&
	    (v.type != JSON_STRING || v.p < p || v.p + v.n > p + size))
		abort();
	if ((buf = malloc(c.body.n + 1)) == NULL)
		abort();
	n = capture_body(&c, buf);
	if (n > (long)c.body.n)
		abort();
	/* The body string left to capture_body is its last check. */
	if ((n == -2) == valid)
		abort();
	free(buf);
	return 0;
}
