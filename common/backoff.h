/*
 * backoff.h - pacing of outbound requests: exponential back-off with full
 * jitter, a token bucket for --rate, and the parsers of the options that
 * set them (--rate N/s, --retry-on LIST).
 *
 * Everything here is plain data; nothing is allocated and nothing reads a
 * clock or a random source by itself: callers pass the time and the random
 * number in, so the functions are deterministic and testable.
 */
#ifndef CLOSEHOOK_BACKOFF_H
#define CLOSEHOOK_BACKOFF_H

#include <stddef.h>
#include <stdint.h>

/*
 * Full jitter: a delay drawn uniformly (from rnd) in [0, min(cap_ms,
 * base_ms * 2^(attempt-1))], attempt counting from 1.  Returns ms.
 */
int64_t
backoff_delay(int64_t base_ms, int64_t cap_ms, int attempt, uint32_t rnd);

/*
 * A token bucket holding at most one token: requests are spaced evenly at
 * rate per second.  interval_ns 0 means no limit.
 */
struct backoff_rate {
	uint64_t interval_ns; /* time per token */
	uint64_t next_ns; /* when the next token is available */
};

/*
 * Parse "N/s", "N/m" or "N/h" (N a positive decimal, fraction allowed) into
 * b.  Returns 0, or -1 with a reason (static text) in *why.
 */
int
backoff_rate_parse(struct backoff_rate *, const char *spec, const char **why);
/* Take a token at now: 0 on success, else the ns to wait for one. */
uint64_t backoff_rate_take(struct backoff_rate *, uint64_t now_ns);

/*
 * Which failures are retried: HTTP statuses 100..599, network errors
 * (refused, reset, dropped connections, DNS) and timeouts.
 */
struct backoff_retry {
	unsigned char status[600];
	int network;
	int timeout;
};

#define RETRYSET_DEFAULT "network,timeout,408,425,429,500,502,503,504"

/*
 * Parse a comma-separated list of statuses (429), ranges (500-504),
 * classes (5xx) and the words network and timeout.  Returns 0, or -1 with
 * a reason in *why.
 */
int
backoff_retry_parse(struct backoff_retry *, const char *list, const char **why);

#endif
