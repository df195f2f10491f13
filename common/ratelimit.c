/*
 * ratelimit.c - rate-limit headers and the delays they imply; see
 * ratelimit.h.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"
#include "json.h"
#include "ratelimit.h"

void
ratelimit_init(struct ratelimit *r)
{
	r->limit = r->remaining = r->reset = r->retry_after = -1;
}

static int
name_is(const char *p, size_t n, const char *name)
{
	size_t l = strlen(name), i;

	if (n != l)
		return 0;
	for (i = 0; i < l; i++)
		if (tolower((unsigned char)p[i]) != name[i])
			return 0;
	return 1;
}

/* A non-negative decimal number at p; -1 when there is none. */
static double
number(const char *p, size_t n)
{
	char buf[32], *end;
	double v;

	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= sizeof(buf) ||
	    !(isdigit((unsigned char)*p) || *p == '.'))
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	v = strtod(buf, &end);
	if (*end != '\0' || v < 0 || v > 1e9)
		return -1;
	return v;
}

/* p[0..n) is digits, with blanks and a line end around them. */
static int
all_digits(const char *p, size_t n)
{
	size_t i, d = 0;

	for (i = 0; i < n; i++) {
		if (isdigit((unsigned char)p[i]))
			d++;
		else if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' &&
		    p[i] != '\n')
			return 0;
	}
	return d > 0;
}

int64_t
ratelimit_http_date(const char *p, size_t n)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	unsigned d, y, h, mi, s, m;
	const char *mp;
	char mon[4];

	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (29 bytes). */
	if (n != 29 || p[3] != ',' || p[4] != ' ' || p[7] != ' ' ||
	    p[11] != ' ' || p[16] != ' ' || p[19] != ':' || p[22] != ':' ||
	    memcmp(p + 25, " GMT", 4) != 0)
		return -1;
	memcpy(mon, p + 8, 3);
	mon[3] = '\0';
	if ((mp = strstr(months, mon)) == NULL || (mp - months) % 3 != 0)
		return -1;
	m = (unsigned)(mp - months) / 3 + 1;
#define D2(q) ((unsigned)((q)[0] - '0') * 10 + (unsigned)((q)[1] - '0'))
	if (!isdigit((unsigned char)p[5]) || !isdigit((unsigned char)p[6]) ||
	    !isdigit((unsigned char)p[12]) || !isdigit((unsigned char)p[13]) ||
	    !isdigit((unsigned char)p[14]) || !isdigit((unsigned char)p[15]) ||
	    !isdigit((unsigned char)p[17]) || !isdigit((unsigned char)p[18]) ||
	    !isdigit((unsigned char)p[20]) || !isdigit((unsigned char)p[21]) ||
	    !isdigit((unsigned char)p[23]) || !isdigit((unsigned char)p[24]))
		return -1;
	d = D2(p + 5);
	y = D2(p + 12) * 100 + D2(p + 14);
	h = D2(p + 17);
	mi = D2(p + 20);
	s = D2(p + 23);
#undef D2
	if (d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		return -1;
	return isotime_days(y, m, d) * 86400 + h * 3600 + mi * 60 + s;
}

/* RateLimit: limit=100, remaining=50, reset=5 */
static void
structured(struct ratelimit *r, const char *p, size_t n)
{
	const char *end = p + n, *item, *eq;
	size_t len;

	while (p < end) {
		while (p < end && (*p == ' ' || *p == ',' || *p == '\t'))
			p++;
		item = p;
		while (p < end && *p != ',' && *p != ';')
			p++;
		len = (size_t)(p - item);
		if (p < end && *p == ';')
			while (p < end && *p != ',')
				p++;
		if ((eq = memchr(item, '=', len)) == NULL)
			continue;
		if (name_is(item, (size_t)(eq - item), "limit"))
			r->limit =
			    number(eq + 1, len - (size_t)(eq - item) - 1);
		else if (name_is(item, (size_t)(eq - item), "remaining"))
			r->remaining =
			    number(eq + 1, len - (size_t)(eq - item) - 1);
		else if (name_is(item, (size_t)(eq - item), "reset"))
			r->reset =
			    number(eq + 1, len - (size_t)(eq - item) - 1);
	}
}

void
ratelimit_header(struct ratelimit *r, const char *line, size_t n, int64_t now)
{
	const char *colon = memchr(line, ':', n), *v;
	size_t vn, nn;
	int64_t t;

	if (colon == NULL)
		return;
	nn = (size_t)(colon - line);
	v = colon + 1;
	vn = n - nn - 1;
	while (vn > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vn--;
	}
	while (vn > 0 &&
	    (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
		vn--;
	if (name_is(line, nn, "ratelimit"))
		structured(r, v, vn);
	else if (name_is(line, nn, "x-rate-limit-limit") && r->limit < 0)
		r->limit = number(v, vn);
	else if (name_is(line, nn, "x-rate-limit-remaining") &&
	    r->remaining < 0)
		r->remaining = number(v, vn);
	else if (name_is(line, nn, "x-rate-limit-reset") && r->reset < 0)
		r->reset = number(v, vn);
	else if (name_is(line, nn, "retry-after")) {
		if ((r->retry_after = number(v, vn)) < 0 &&
		    (t = ratelimit_http_date(v, vn)) >= 0)
			r->retry_after = t > now ? (double)(t - now) : 0;
		/* Digits beyond what number() takes: a long wait (the
		 * caller's ceiling), not none. */
		else if (r->retry_after < 0 && all_digits(v, vn))
			r->retry_after = 1e9;
	}
}

double
ratelimit_body_reset(const char *body, size_t n)
{
	struct json_span root, e, v;

	if (json_parse(body, n, &root, NULL) != 0 || root.type != JSON_OBJECT ||
	    !json_object_get(root, "error", 5, &e) || e.type != JSON_OBJECT ||
	    !json_object_get(e, "rate_reset", 10, &v) || v.type != JSON_NUMBER)
		return -1;
	return json_num_double(v) < 0 ? -1 : json_num_double(v);
}

double
ratelimit_retry_delay(const struct ratelimit *r, double fallback, double cap)
{
	double d = fallback;

	if (r->retry_after >= 0)
		d = r->retry_after;
	else if (r->reset >= 0)
		d = r->reset;
	return d > cap ? cap : d;
}

double
ratelimit_pace(const struct ratelimit *r)
{
	if (r->remaining < 0 || r->reset < 0)
		return 0;
	if (r->remaining < 1)
		return r->reset;
	/* Plenty left: no need to slow down yet. */
	if (r->limit > 0 && r->remaining > r->limit / 2)
		return 0;
	return r->reset / r->remaining;
}
