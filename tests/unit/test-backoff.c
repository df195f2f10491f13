/*
 * test-backoff.c - full-jitter delays, the token bucket and the option
 * parsers of common/backoff.c.
 */
#include <stdint.h>

#include "backoff.h"
#include "tap.h"

int
main(void)
{
	struct backoff_rate b;
	struct backoff_retry r;
	const char *why;
	int i;

	/* Full jitter: within [0, min(cap, base * 2^(n-1))]. */
	is_int(backoff_delay(500, 60000, 1, 0), 0, "rnd 0: no wait");
	is_int(backoff_delay(500, 60000, 1, 500), 500, "attempt 1: up to base");
	is_int(backoff_delay(500, 60000, 1, 501), 0, "attempt 1: rnd wraps");
	is_int(backoff_delay(500, 60000, 3, 2000), 2000, "attempt 3: up to 4x");
	is_int(backoff_delay(500, 60000, 3, 2001), 0, "attempt 3: not more");
	is_int(backoff_delay(500, 60000, 40, 60000), 60000, "capped");
	is_int(backoff_delay(500, 60000, 40, UINT32_MAX) <= 60000, 1,
	    "never past the cap");
	is_int(backoff_delay(0, 60000, 5, 77), 0, "base 0: no wait");

	/* --rate. */
	ok(backoff_rate_parse(&b, "10/s", &why) == 0, "10/s parses");
	is_int(b.interval_ns, 100000000, "10/s: 100 ms apart");
	ok(backoff_rate_parse(&b, "2/m", &why) == 0, "2/m parses");
	is_int(b.interval_ns, 30000000000LL, "2/m: 30 s apart");
	ok(backoff_rate_parse(&b, "0.5/s", &why) == 0, "0.5/s parses");
	is_int(b.interval_ns, 2000000000LL, "0.5/s: 2 s apart");
	ok(backoff_rate_parse(&b, "1/h", &why) == 0, "1/h parses");
	ok(backoff_rate_parse(&b, "10", &why) != 0, "no unit: refused");
	ok(backoff_rate_parse(&b, "10/d", &why) != 0, "unknown unit: refused");
	ok(backoff_rate_parse(&b, "0/s", &why) != 0, "zero: refused");
	ok(backoff_rate_parse(&b, "-1/s", &why) != 0, "negative: refused");
	ok(backoff_rate_parse(&b, "/s", &why) != 0, "no number: refused");
	ok(backoff_rate_parse(&b, "1e3x/s", &why) != 0, "junk: refused");
	backoff_rate_parse(&b, "10/s", &why);
	is_int(backoff_rate_take(&b, 1000), 0, "first token at once");
	is_int(backoff_rate_take(&b, 1000), 100000000, "second waits 100 ms");
	is_int(backoff_rate_take(&b, 1000 + 100000000), 0, "then it is there");
	is_int(backoff_rate_take(&b, 10000000000ULL), 0, "idle: one token");
	ok(backoff_rate_take(&b, 10000000000ULL) > 0, "idle: no burst");
	b.interval_ns = 0;
	for (i = 0; i < 3; i++)
		is_int(backoff_rate_take(&b, 5), 0, "no limit: always a token");

	/* --retry-on. */
	ok(backoff_retry_parse(&r, RETRYSET_DEFAULT, &why) == 0, "default parses");
	ok(r.network && r.timeout && r.status[429] && r.status[500] &&
	    r.status[502] && r.status[503] && r.status[504] &&
	    r.status[408] && r.status[425], "default set");
	ok(!r.status[501] && !r.status[410] && !r.status[404] &&
	    !r.status[301], "501, 410, 404, 3xx are not retried");
	ok(backoff_retry_parse(&r, "5xx,429", &why) == 0, "5xx,429 parses");
	ok(r.status[500] && r.status[599] && r.status[429] && !r.status[428] &&
	    !r.network && !r.timeout, "5xx,429 set");
	ok(backoff_retry_parse(&r, "500-502,timeout", &why) == 0, "range parses");
	ok(r.status[500] && r.status[501] && r.status[502] && !r.status[503] &&
	    r.timeout && !r.network, "range set");
	ok(backoff_retry_parse(&r, "", &why) != 0, "empty refused");
	ok(backoff_retry_parse(&r, "600", &why) != 0, "600 refused");
	ok(backoff_retry_parse(&r, "99", &why) != 0, "99 refused");
	ok(backoff_retry_parse(&r, "503-500", &why) != 0, "backwards range refused");
	ok(backoff_retry_parse(&r, "500,", &why) != 0, "trailing comma refused");
	ok(backoff_retry_parse(&r, "6xx", &why) != 0, "6xx refused");
	ok(backoff_retry_parse(&r, "net", &why) != 0, "unknown word refused");
	return tap_done();
}
