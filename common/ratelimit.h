/*
 * ratelimit.h - what an HTTP answer says about pacing: Close's `RateLimit:
 * limit=100, remaining=50, reset=5` header (reset in seconds, may be
 * decimal), the older x-rate-limit-limit / -remaining / -reset headers,
 * `Retry-After` (seconds or an HTTP-date) and the legacy 429 body
 * {"error": {"rate_reset": …}}; and the delay that follows from them.
 *
 * A struct ratelimit is plain data filled header by header; it owns
 * nothing.  Values that were not seen stay negative.
 */
#ifndef CLOSEHOOK_RATELIMIT_H
#define CLOSEHOOK_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct ratelimit {
	double limit; /* requests per window, or -1 */
	double remaining; /* requests left in the window, or -1 */
	double reset; /* seconds until the window resets, or -1 */
	double retry_after; /* seconds to wait (Retry-After), or -1 */
};

void ratelimit_init(struct ratelimit *);

/*
 * Feed one response header line ("Name: value", with or without CRLF).
 * now is the wall clock in seconds, for Retry-After given as a date.
 * Headers other than the ones above are ignored.
 */
void
ratelimit_header(struct ratelimit *, const char *line, size_t n, int64_t now);

/*
 * The legacy 429 body field error.rate_reset (seconds), or -1 when the body
 * holds no such number.
 */
double ratelimit_body_reset(const char *body, size_t n);

/*
 * Seconds to wait after a 429 or 503: Retry-After, else the window's reset,
 * else fallback; never more than cap.
 */
double
ratelimit_retry_delay(const struct ratelimit *, double fallback, double cap);

/*
 * Seconds to wait before the next request so that the window is not
 * exhausted: 0 while plenty remains, the reset time when nothing does,
 * reset / remaining when few requests are left (spread evenly).
 */
double ratelimit_pace(const struct ratelimit *);

/* Parse an HTTP-date (RFC 9110 IMF-fixdate) to Unix seconds, or -1. */
int64_t ratelimit_http_date(const char *p, size_t n);

#endif
