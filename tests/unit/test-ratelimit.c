/*
 * test-ratelimit.c - RateLimit, x-rate-limit-*, Retry-After, the legacy
 * body field, and the delays derived from them.
 */
#include <string.h>

#include "ratelimit.h"
#include "tap.h"

#define H(r, s) ratelimit_header((r), (s), strlen(s), 1000)

int
main(void)
{
	struct ratelimit r;

	ratelimit_init(&r);
	H(&r, "RateLimit: limit=100, remaining=50, reset=5\r\n");
	ok(r.limit == 100 && r.remaining == 50 && r.reset == 5,
	    "Close's RateLimit header");
	ratelimit_init(&r);
	H(&r, "ratelimit: limit=240, remaining=0, reset=0.25");
	ok(r.remaining == 0 && r.reset == 0.25, "a decimal reset, any case");
	is_int((long long)(ratelimit_pace(&r) * 1000), 250,
	    "nothing remaining: wait for the reset");
	ratelimit_init(&r);
	H(&r, "RateLimit: limit=100, remaining=10, reset=5");
	is_int((long long)(ratelimit_pace(&r) * 1000), 500,
	    "few remaining: spread them over the window");
	ratelimit_init(&r);
	H(&r, "RateLimit: limit=100, remaining=90, reset=5");
	ok(ratelimit_pace(&r) == 0, "plenty remaining: no wait");
	ratelimit_init(&r);
	ok(ratelimit_pace(&r) == 0, "no header: no wait");

	ratelimit_init(&r);
	H(&r, "x-rate-limit-limit: 60");
	H(&r, "X-Rate-Limit-Remaining: 0");
	H(&r, "x-rate-limit-reset: 7");
	ok(r.limit == 60 && r.remaining == 0 && r.reset == 7,
	    "the older x-rate-limit-* headers");
	ratelimit_init(&r);
	H(&r, "RateLimit: limit=100, remaining=50, reset=5");
	H(&r, "x-rate-limit-reset: 9");
	ok(r.reset == 5, "RateLimit wins over the older headers");

	ratelimit_init(&r);
	H(&r, "Retry-After: 3");
	ok(r.retry_after == 3, "Retry-After in seconds");
	ratelimit_init(&r);
	ratelimit_header(&r, "Retry-After: Thu, 01 Jan 1970 00:16:50 GMT", 42,
	    1000);
	ok(r.retry_after == 10, "Retry-After as an HTTP-date");
	ratelimit_init(&r);
	H(&r, "Retry-After: soon");
	ok(r.retry_after < 0, "a bad Retry-After is ignored");
	ratelimit_init(&r);
	H(&r, "Retry-After: 99999999999999999999\r\n");
	ok(r.retry_after >= 1e9,
	    "a Retry-After too long to read is a long wait, not none");
	is_int(ratelimit_http_date("Sun, 06 Nov 1994 08:49:37 GMT", 29),
	    784111777, "the RFC 9110 example date");
	is_int(ratelimit_http_date("Sun, 06 Foo 1994 08:49:37 GMT", 29), -1,
	    "a bad month");

	ratelimit_init(&r);
	H(&r, "Retry-After: 4");
	H(&r, "RateLimit: limit=1, remaining=0, reset=2");
	ok(ratelimit_retry_delay(&r, 1, 60) == 4, "Retry-After first");
	ratelimit_init(&r);
	H(&r, "RateLimit: limit=1, remaining=0, reset=2");
	ok(ratelimit_retry_delay(&r, 1, 60) == 2, "then the reset");
	ratelimit_init(&r);
	ok(ratelimit_retry_delay(&r, 1.5, 60) == 1.5, "then the fallback");
	H(&r, "Retry-After: 3600");
	ok(ratelimit_retry_delay(&r, 1, 60) == 60, "capped");

	ok(ratelimit_body_reset("{\"error\": {\"rate_reset\": 2.5}}", 30) ==
	    2.5, "the legacy body field");
	ok(ratelimit_body_reset("{\"error\": \"x\"}", 14) < 0,
	    "no field, no value");
	ok(ratelimit_body_reset("not json", 8) < 0, "not JSON, no value");
	return tap_done();
}
