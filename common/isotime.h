/*
 * isotime.h - ISO-8601 / RFC 3339 date-times as Close writes them, to and
 * from Unix seconds, without the C library's time zone machinery.
 *
 * Accepted: YYYY-MM-DD[T ]HH:MM[:SS[.fraction]] followed by Z, +HH:MM,
 * +HHMM, +HH (or -), or by nothing; Close's event-level dates carry no
 * offset and are UTC, so no offset means UTC.  Date-only values are not
 * date-times (isotime_is_date tells them apart).  Nothing is allocated;
 * the fraction span points into the caller's text.
 */
#ifndef CLOSEHOOK_ISOTIME_H
#define CLOSEHOOK_ISOTIME_H

#include <stddef.h>
#include <stdint.h>

struct isotime {
	int64_t sec; /* seconds since the epoch, UTC */
	long nsec; /* the fraction, truncated to nanoseconds */
	const char *frac; /* the fraction's digits as written */
	size_t fracn; /* 0 when there is none */
};

/* Returns 0 and fills *t, or -1 when p is not such a date-time. */
int isotime_parse(const char *p, size_t n, struct isotime *t);
/*
 * A time given on the command line (--now, --from, --received-at): Unix
 * seconds, a fraction allowed, or a date-time as above, from 1970 to the
 * end of 9999.  Returns 0 and fills *t (frac spans the digits of either
 * form), or -1.
 */
#define ISOTIME_ARG_MAX 253402300799LL /* 9999-12-31T23:59:59Z */
int isotime_parse_arg(const char *s, struct isotime *t);
/* 1 when p is exactly YYYY-MM-DD (a valid calendar date). */
int isotime_is_date(const char *p, size_t n);
/*
 * RFC 3339 UTC text "YYYY-MM-DDTHH:MM:SS[.digits]Z" for t into out (room
 * for 64 bytes), with t->frac copied as written.  Returns its length.
 */
size_t isotime_format_utc(const struct isotime *t, char *out);
/* Days since 1970-01-01 of a proleptic Gregorian date. */
int64_t isotime_days(int64_t y, unsigned m, unsigned d);

#endif
