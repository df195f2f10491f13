/*
 * fuzz-postopts.c - libFuzzer target for closehook-post's option and header
 * parsers: header lines (-H, --header-file), --rate, --retry-on, and the
 * pacing headers of an answer (Retry-After, RateLimit) as they turn into a
 * retry delay.  The first byte picks the parser; any bytes parse or fail
 * without a crash, and what parses is well formed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "http.h"
#include "ratelimit.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	struct backoff_rate b;
	struct backoff_retry r;
	struct ratelimit rl;
	double d;
	char *s;
	size_t n, i;

	if (size == 0)
		return 0;
	n = size - 1;
	if ((s = malloc(n + 1)) == NULL)
		abort();
	memcpy(s, data + 1, n);
	s[n] = '\0';
	switch (data[0] % 4) {
	case 0:
		if (http_header_check(s, n, &why) == 0) {
			/* Accepted: a token name, a colon, no CR/LF/NUL. */
			if (n == 0 || s[0] == ':' || memchr(s, ':', n) == NULL ||
			    memchr(s, '\r', n) != NULL ||
			    memchr(s, '\n', n) != NULL || strlen(s) != n)
				abort();
		} else if (why == NULL)
			abort();
		break;
	case 1:
		if (backoff_rate_parse(&b, s, &why) == 0) {
			if (b.interval_ns == 0 || backoff_rate_take(&b, 1) != 0 ||
			    backoff_rate_take(&b, 1) == 0)
				abort();
		} else if (why == NULL)
			abort();
		break;
	case 2:
		if (backoff_retry_parse(&r, s, &why) != 0 && why == NULL)
			abort();
		for (i = 0; i < 100; i++)
			if (r.status[i])
				abort();
		break;
	default:
		ratelimit_init(&rl);
		/* Lines separated by newlines, as a header block. */
		for (i = 0; i < n;) {
			char *e = memchr(s + i, '\n', n - i);
			size_t l = e == NULL ? n - i : (size_t)(e - (s + i));

			ratelimit_header(&rl, s + i, l, 1700000000);
			i += l + 1;
		}
		d = ratelimit_retry_delay(&rl, 0.5, 60);
		if (!(d >= 0 && d <= 60))
			abort();
	}
	free(s);
	return 0;
}
