/*
 * backoff.c - back-off delays, the token bucket and their option parsers;
 * see backoff.h.
 */
#include <stdlib.h>
#include <string.h>

#include "backoff.h"

int64_t
backoff_delay(int64_t base_ms, int64_t cap_ms, int attempt, uint32_t rnd)
{
	int64_t ceil = base_ms;
	int i;

	if (base_ms <= 0 || cap_ms <= 0)
		return 0;
	for (i = 1; i < attempt && ceil < cap_ms; i++)
		ceil *= 2;
	if (ceil > cap_ms)
		ceil = cap_ms;
	return (int64_t)((uint64_t)rnd % ((uint64_t)ceil + 1));
}

int
backoff_rate_parse(struct backoff_rate *b, const char *spec, const char **why)
{
	const char *slash = strchr(spec, '/');
	char num[32], *end;
	double n, per;

	b->interval_ns = 0;
	b->next_ns = 0;
	if (slash == NULL || slash == spec ||
	    (size_t)(slash - spec) >= sizeof(num)) {
		*why = "expected N/s, N/m or N/h";
		return -1;
	}
	memcpy(num, spec, (size_t)(slash - spec));
	num[slash - spec] = '\0';
	if (num[0] < '0' || num[0] > '9') {
		*why = "expected a positive number before /";
		return -1;
	}
	n = strtod(num, &end);
	if (*end != '\0' || !(n > 0) || n > 1e9) {
		*why = "expected a positive number before /";
		return -1;
	}
	if (strcmp(slash + 1, "s") == 0)
		per = 1;
	else if (strcmp(slash + 1, "m") == 0)
		per = 60;
	else if (strcmp(slash + 1, "h") == 0)
		per = 3600;
	else {
		*why = "the unit after / must be s, m or h";
		return -1;
	}
	b->interval_ns = (uint64_t)(per * 1e9 / n);
	if (b->interval_ns == 0)
		b->interval_ns = 1;
	return 0;
}

uint64_t
backoff_rate_take(struct backoff_rate *b, uint64_t now)
{
	if (b->interval_ns == 0)
		return 0;
	if (b->next_ns > now)
		return b->next_ns - now;
	/* At most one token is stored: an idle bucket does not burst. */
	b->next_ns = now + b->interval_ns;
	return 0;
}

static int
status3(const char *p, size_t n, int *v)
{
	size_t i;

	if (n != 3)
		return -1;
	*v = 0;
	for (i = 0; i < 3; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		*v = *v * 10 + (p[i] - '0');
	}
	return *v >= 100 && *v <= 599 ? 0 : -1;
}

int
backoff_retry_parse(struct backoff_retry *r, const char *list, const char **why)
{
	const char *p = list;

	memset(r, 0, sizeof(*r));
	if (*p == '\0') {
		*why = "empty list";
		return -1;
	}
	for (;;) {
		const char *e = strchr(p, ',');
		size_t n = e == NULL ? strlen(p) : (size_t)(e - p);
		const char *dash = memchr(p, '-', n);
		int a, b, i;

		if (n == 7 && memcmp(p, "network", 7) == 0)
			r->network = 1;
		else if (n == 7 && memcmp(p, "timeout", 7) == 0)
			r->timeout = 1;
		else if (n == 3 && p[0] >= '1' && p[0] <= '5' && p[1] == 'x' &&
		    p[2] == 'x') {
			for (i = 0; i < 100; i++)
				r->status[(p[0] - '0') * 100 + i] = 1;
		} else if (dash != NULL) {
			if (status3(p, (size_t)(dash - p), &a) != 0 ||
			    status3(dash + 1, n - (size_t)(dash - p) - 1, &b) !=
				0 ||
			    a > b) {
				*why = "bad status range";
				return -1;
			}
			for (i = a; i <= b; i++)
				r->status[i] = 1;
		} else if (status3(p, n, &a) == 0)
			r->status[a] = 1;
		else {
			*why = "expected statuses, ranges, NxX, network or "
			       "timeout";
			return -1;
		}
		if (e == NULL)
			break;
		p = e + 1;
	}
	return 0;
}
