/*
 * fuzz-times.c - libFuzzer target for the parsers of times and durations
 * given on the command line or read from Close: isotime_parse (dates in
 * events, state files, --since), isotime_parse_arg (--now, --from,
 * --received-at) and cli_duration (every DURATION option).  The first
 * byte picks the parser; any bytes parse or fail without a crash, and
 * what parses is in range: a date-time formats back to itself, a time
 * given as an argument lies in 1970..9999, a positive duration is never
 * 0 milliseconds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "isotime.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct isotime t, u;
	char out[64], *s;
	int64_t ms;
	size_t n, k;

	if (size == 0 || size > 256)
		return 0;
	n = size - 1;
	if ((s = malloc(n + 1)) == NULL)
		abort();
	memcpy(s, data + 1, n);
	s[n] = '\0';
	switch (data[0] % 3) {
	case 0:
		if (isotime_parse(s, n, &t) != 0)
			break;
		if (t.nsec < 0 || t.nsec >= 1000000000 || t.fracn > n)
			abort();
		/* UTC text of it parses back to the same instant. */
		k = isotime_format_utc(&t, out);
		if (k != strlen(out) || isotime_parse(out, k, &u) != 0 ||
		    u.sec != t.sec || u.nsec != t.nsec)
			abort();
		break;
	case 1:
		if (isotime_parse_arg(s, &t) != 0)
			break;
		if (t.sec < 0 || t.sec > ISOTIME_ARG_MAX || t.nsec < 0 ||
		    t.nsec >= 1000000000)
			abort();
		break;
	case 2:
		if (strlen(s) != n ||
		    cli_duration(s, 0, INT64_MAX / 2, &ms) != 0)
			break;
		/* Digits, at most one point, then a unit or nothing. */
		if (ms < 0 || strspn(s, "0123456789.") == 0)
			abort();
		if (ms == 0 &&
		    strcspn(s, "123456789") < strspn(s, "0123456789."))
			abort();
		break;
	}
	free(s);
	return 0;
}
