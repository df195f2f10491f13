/*
 * closeapi.h - the Close REST API client shared by closehook-backfill and
 * closehook-subscribe: one libcurl easy handle, sequential requests.
 *
 * It owns the API key (from $CLOSE_API_KEY or a key file, held in locked
 * memory and wiped at closeapi_free), authenticates with HTTP Basic (key as
 * user name, empty password) or Bearer, paces requests by the RateLimit
 * header (common/ratelimit.h) and an optional requests-per-second cap,
 * waits out 429s (Retry-After, else the window's reset, else the legacy
 * body field) and retries transient failures with bounded, jittered
 * exponential back-off: 500/502/503/504, timeouts, connection resets,
 * truncated bodies and 2xx answers that are not JSON.  Only GET is retried
 * on 500/502/504 and transport errors; every method is retried on 429 and
 * 503 (Close's own client does the same), since those were not processed.
 *
 * A struct closeapi_resp points into the client's buffer: it stays valid
 * until the next request or closeapi_free.  No message ever holds the key.
 */
#ifndef CLOSEHOOK_CLOSEAPI_H
#define CLOSEHOOK_CLOSEAPI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "ratelimit.h"

#define CLOSEAPI_DEFAULT_URL "https://api.close.com/api/v1"

struct closeapi_opts {
	const char *base_url; /* NULL: CLOSEAPI_DEFAULT_URL */
	const char *key_file; /* NULL: $CLOSE_API_KEY */
	int bearer; /* 1: Authorization: Bearer (OAuth) */
	double max_rps; /* cap on requests/s; 0: none */
	long connect_timeout_ms; /* 0: 10 s */
	long timeout_ms; /* whole request; 0: 60 s */
	int max_attempts; /* per request, transient errors; 0: 6 */
	long backoff_base_ms; /* 0: 500 */
	long backoff_cap_ms; /* 0: 30 s */
	double max_wait; /* longest 429 wait, seconds; 0: 300 */
	size_t max_body; /* answer size cap; 0: 64 MiB */
	/* Set by a signal handler: waits end early with CLOSEAPI_STOPPED
	 * (a transfer in flight is finished first).  May be NULL. */
	volatile sig_atomic_t *stop;
	/* Called about every 100 ms while a wait (pacing, back-off, a
	 * 429) lasts, e.g. to keep a metrics file current.  May be NULL. */
	void (*on_wait)(void *);
	void *on_wait_arg;
};

enum closeapi_status {
	CLOSEAPI_OK, /* 2xx; a non-empty body is valid JSON */
	CLOSEAPI_HTTP, /* a final answer that is not 2xx (400, 404,
				   ...): status, body and error are set */
	CLOSEAPI_AUTH, /* 401 or 403: the key is wrong or lacks rights */
	CLOSEAPI_FAILED, /* transient failures outlasted the attempts,
				   or the answer was too large */
	CLOSEAPI_STOPPED /* *opts.stop was set while waiting */
};

struct closeapi_resp {
	long status; /* HTTP status, 0 when none arrived */
	const char *body; /* NUL-terminated answer body */
	size_t n;
	char error[256]; /* why it failed: Close's error text
					   for a 4xx, else a transport error */
};

struct closeapi_stats {
	uint64_t requests; /* HTTP requests sent */
	uint64_t retries; /* transient failures retried */
	uint64_t rate_limited; /* 429 answers */
	uint64_t server_errors; /* 5xx answers */
	uint64_t failures; /* requests that ended CLOSEAPI_FAILED */
	double waited; /* seconds slept pacing or backing off */
};

struct closeapi;

/*
 * Read the key and set up a client.  Returns NULL with a message in err
 * (no key, unreadable key file, curl failure); a key file readable by group
 * or others draws a warning on stderr.
 */
struct closeapi *
closeapi_new(const struct closeapi_opts *, char *err, size_t errn);
void closeapi_free(struct closeapi *);

/*
 * One API call with pacing and retries.  path is relative to the base URL
 * and may carry a query ("/event/?_limit=50"); body (JSON) may be NULL.
 */
enum closeapi_status closeapi_request(struct closeapi *, const char *method,
    const char *path, const char *body, size_t bodyn, struct closeapi_resp *);

/* The last answer's rate-limit view (limit/remaining/reset as sent). */
const struct ratelimit *closeapi_ratelimit(const struct closeapi *);
const struct closeapi_stats *closeapi_stats(const struct closeapi *);

/*
 * Append "name=value" (percent-encoded, '&' first when dst is not empty)
 * to dst, a NUL-terminated string with room for cap bytes.  Returns 0, or
 * -1 when it does not fit (dst unchanged).
 */
int
closeapi_query_add(char *dst, size_t cap, const char *name, const char *value);

/*
 * A page of a list endpoint: {"data": [...], "cursor_next": "..."|null}
 * (the Event Log; other lists carry "has_more" instead of a cursor).
 * Returns 0 with data (an array span) and cursor_next (a string, JSON_NULL,
 * or JSON_NONE when absent) pointing into body, or -1 with *why set to a
 * static reason.  Every element of data must be an object.
 */
struct closeapi_page {
	struct json_span data;
	struct json_span cursor_next;
};

int closeapi_page_parse(
    const char *body, size_t n, struct closeapi_page *, const char **why);

/*
 * Close's error text from a 4xx body ({"error": …}, "errors": […],
 * "field-errors": {…}) as one short printable line into out (room for
 * outn bytes); the raw body, truncated, when it is not such JSON.
 */
void closeapi_error_text(const char *body, size_t n, char *out, size_t outn);

#endif
