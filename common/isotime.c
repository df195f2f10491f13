/*
 * isotime.c - ISO-8601 date-times; see isotime.h.
 */
#include <stdio.h>
#include <string.h>

#include "isotime.h"

int64_t
isotime_days(int64_t y, unsigned m, unsigned d)
{
	/* Days from civil, after Howard Hinnant's public-domain algorithm. */
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
digits(const char *p, size_t n, unsigned *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		*v = *v * 10 + (unsigned)(p[i] - '0');
	}
	return 0;
}

static int
leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
valid_date(unsigned y, unsigned m, unsigned d)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
		31, 30, 31 };

	if (m < 1 || m > 12 || d < 1)
		return 0;
	return d <= mdays[m - 1] + (m == 2 && leap(y));
}

/* YYYY-MM-DD at p (10 bytes). */
static int
date_part(const char *p, unsigned *y, unsigned *m, unsigned *d)
{
	if (p[4] != '-' || p[7] != '-' || digits(p, 4, y) != 0 ||
	    digits(p + 5, 2, m) != 0 || digits(p + 8, 2, d) != 0)
		return -1;
	return valid_date(*y, *m, *d) ? 0 : -1;
}

int
isotime_is_date(const char *p, size_t n)
{
	unsigned y, m, d;

	return n == 10 && date_part(p, &y, &m, &d) == 0;
}

int
isotime_parse(const char *p, size_t n, struct isotime *t)
{
	unsigned y, mo, d, h, mi, s = 0, oh = 0, om = 0;
	size_t i = 16, k;
	long ns = 0, scale = 100000000;
	int sign = 0;

	if (n < 16 || date_part(p, &y, &mo, &d) != 0 ||
	    (p[10] != 'T' && p[10] != 't' && p[10] != ' ') || p[13] != ':' ||
	    digits(p + 11, 2, &h) != 0 || digits(p + 14, 2, &mi) != 0 ||
	    h > 23 || mi > 59)
		return -1;
	t->frac = NULL;
	t->fracn = 0;
	if (i < n && p[i] == ':') {
		/* 60 is a leap second; it counts as the next second. */
		if (i + 3 > n || digits(p + i + 1, 2, &s) != 0 || s > 60)
			return -1;
		i += 3;
		if (i < n && (p[i] == '.' || p[i] == ',')) {
			k = ++i;
			while (i < n && p[i] >= '0' && p[i] <= '9') {
				if (scale > 0) {
					ns += (p[i] - '0') * scale;
					scale /= 10;
				}
				i++;
			}
			if (i == k)
				return -1;
			t->frac = p + k;
			t->fracn = i - k;
		}
	}
	if (i < n) {
		if (p[i] == 'Z' || p[i] == 'z') {
			i++;
		} else if (p[i] == '+' || p[i] == '-') {
			sign = p[i] == '+' ? 1 : -1;
			i++;
			if (i + 2 > n || digits(p + i, 2, &oh) != 0)
				return -1;
			i += 2;
			if (i < n && p[i] == ':')
				i++;
			if (i + 2 <= n && digits(p + i, 2, &om) == 0)
				i += 2;
			if (oh > 23 || om > 59)
				return -1;
		} else
			return -1;
	}
	if (i != n)
		return -1;
	t->sec = isotime_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
	t->sec -= sign * (int64_t)(oh * 3600 + om * 60);
	t->nsec = ns;
	return 0;
}

size_t
isotime_format_utc(const struct isotime *t, char *out)
{
	int64_t days = t->sec >= 0 ? t->sec / 86400 : (t->sec - 86399) / 86400;
	int64_t rem = t->sec - days * 86400, z, era, doe, yoe, y, doy, mp;
	unsigned m, d;
	size_t n, fn = t->fracn > 30 ? 30 : t->fracn;

	/* Civil from days, the inverse of isotime_days. */
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	y += m <= 2;
	n = (size_t)snprintf(out, 32, "%04lld-%02u-%02uT%02u:%02u:%02u",
	    (long long)y, m, d, (unsigned)(rem / 3600),
	    (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
	if (fn > 0) {
		out[n++] = '.';
		memcpy(out + n, t->frac, fn);
		n += fn;
	}
	out[n++] = 'Z';
	out[n] = '\0';
	return n;
}

int
isotime_parse_arg(const char *s, struct isotime *t)
{
	const char *p = s;
	int64_t sec = 0;
	long nsec = 0, scale = 100000000;

	memset(t, 0, sizeof(*t));
	if (*p >= '0' && *p <= '9' && strchr(s, '-') == NULL) {
		for (; *p >= '0' && *p <= '9'; p++) {
			if (sec > ISOTIME_ARG_MAX / 10)
				return -1;
			sec = sec * 10 + (*p - '0');
		}
		if (*p == '.') {
			t->frac = p + 1;
			for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
				nsec += (*p - '0') * scale;
			t->fracn = (size_t)(p - t->frac);
		}
		if (*p != '\0' || sec > ISOTIME_ARG_MAX)
			return -1;
		t->sec = sec;
		t->nsec = nsec;
		return 0;
	}
	if (isotime_parse(s, strlen(s), t) != 0 || t->sec < 0 ||
	    t->sec > ISOTIME_ARG_MAX)
		return -1;
	return 0;
}
