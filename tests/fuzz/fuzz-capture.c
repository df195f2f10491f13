/*
 * fuzz-capture.c - libFuzzer target for the capture reader: any bytes are
 * parsed without a crash, and what it returns stays inside the input.
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

	if (sodium_init() < 0)
		abort();
	if (capture_parse(p, size, &c, &why) != 0)
		return 0;
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
	free(buf);
	return 0;
}
