/*
 * http.h - the libcurl multi driver: one CURLM, many transfers in flight,
 * a wait that also watches the caller's descriptors (stdin, a signal pipe),
 * and the per-transfer settings STYLE.md requires (no signals, connect and
 * total timeouts, error buffer, http/https only, no redirects, a cap on the
 * response body kept).  HTTP/2 is used when a TLS server offers it.
 * Handles keep their options from one transfer to the next; the first URL
 * started is parsed once for all; the proxy variables (http_proxy, ...)
 * are read by http_init, as curl would read them for each transfer.
 * Transfers are driven by curl_multi_socket_action on the sockets that
 * poll(2) found ready and on curl's timer, not by curl_multi_perform,
 * which visits (and polls) every transfer each time.
 *
 * A struct http owns the multi handle and a pool of transfers; a struct
 * http_xfer belongs to the pool and is lent to the caller from
 * http_xfer_get() until http_xfer_put().  The caller owns the URL, header
 * list and body it passes to http_xfer_start(); they must stay valid until
 * the transfer is returned by http_done() or cancelled.  The proxy strings
 * point into the environment, which must not change while the struct http
 * is in use.
 */
#ifndef CLOSEHOOK_HTTP_H
#define CLOSEHOOK_HTTP_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "ratelimit.h"

/* Response bytes kept for messages; the rest is counted and dropped. */
#define HTTP_RESP_KEEP 1024

struct http_opts {
	long connect_ms; /* connect timeout per attempt */
	long timeout_ms; /* total timeout per attempt */
	const char *cacert; /* CA bundle, or NULL */
	int insecure; /* no TLS verification */
	uint64_t max_response; /* abort beyond this many bytes */
	long parallel; /* transfers the caller keeps in flight */
};

struct http_xfer {
	CURL *easy;
	void *user; /* the caller's */
	/* Results, valid after http_done() returned the transfer. */
	CURLcode result;
	long status; /* HTTP status, 0 when none arrived */
	int too_big; /* response passed max_response */
	char errbuf[CURL_ERROR_SIZE];
	char resp[HTTP_RESP_KEEP];
	size_t respn; /* bytes kept in resp */
	uint64_t resp_total;
	struct ratelimit rl; /* from the response headers, unless 2xx */
	int rl_skip; /* the answer is a 2xx: headers not parsed */
	struct http_xfer *next; /* pool link */
	const struct http *owner;
	/* What the handle is set up for; it keeps its options between uses. */
	enum {
		XFER_NEW, /* never set up */
		XFER_READY, /* set up for method */
		XFER_STALE /* to be reset and set up again */
	} setup;
	char method[24]; /* "": set up again on each start */
	int scheme; /* of the last URL: 0 other, 1 http, 2 https */
	int url_parsed; /* the last URL was the one parsed once */
	struct curl_slist *headers; /* the last header list */
};

struct http {
	CURLM *multi;
	struct http_opts o;
	struct http_xfer *pool;
	size_t inflight;
	char *url; /* the URL parsed once, and its parsed form */
	CURLU *curlu;
	int url_tried;
	/* From the environment: all, http and https proxies; exemptions. */
	const char *proxy[3], *noproxy;
	/*
	 * The sockets curl watches (npfd of them, from its socket callback),
	 * room for the caller's descriptors after them, and whether the
	 * last http_wait left revents for http_perform.
	 */
	struct pollfd *pfd;
	size_t npfd, cappfd;
	int polled;
	/* curl's timer: due at timer_at (mono ns) when timer_set. */
	int timer_set;
	uint64_t timer_at;
};

/* Returns 0, or -1 (out of memory).  curl_global_init is the caller's. */
int http_init(struct http *, const struct http_opts *);
void http_free(struct http *);

/* A transfer from the pool, or NULL when out of memory. */
struct http_xfer *http_xfer_get(struct http *);
void http_xfer_put(struct http *, struct http_xfer *);

/*
 * Start method (POST, PUT, GET, ...) on url with the headers and body.
 * Returns 0, or -1 with a message in x->errbuf.
 */
int http_xfer_start(struct http *, struct http_xfer *, const char *method,
    const char *url, struct curl_slist *headers, const void *body, size_t n);
/* Stop a transfer in flight; it is not returned by http_done(). */
void http_xfer_cancel(struct http *, struct http_xfer *);

/*
 * http_perform drives the transfers: those whose sockets the last
 * http_wait found ready, and those curl's timer is due for (a transfer
 * just started is due at once).  http_wait waits up to timeout_ms (less
 * when curl's timer is due sooner) for network activity or one of the
 * extra descriptors (revents filled in) and returns the number of
 * descriptors that are ready (0: none, the time ran out or the wait was
 * woken), or -1.
 */
int http_perform(struct http *);
int http_wait(
    struct http *, struct curl_waitfd *extra, unsigned nextra, int timeout_ms);
/* The next finished transfer, or NULL. */
struct http_xfer *http_done(struct http *);

/* 1 when the failure of a finished transfer was a timeout. */
int http_is_timeout(const struct http_xfer *);

/*
 * The origin of an http or https URL, "scheme://host:port" with the scheme
 * and host in lower case and the port always written (80 and 443 when the
 * URL has none), into out (HTTP_ORIGIN_MAX bytes): two URLs may share
 * credentials when their origins are equal.  With only_origin, the URL
 * must be an origin itself: nothing but "/" after the port, and no user
 * or password.  Returns 0, or -1 with a reason (static text) in *why.
 */
#define HTTP_ORIGIN_MAX 320
int http_origin(const char *url, int only_origin, char *out, const char **why);

/*
 * 1 when the path of url has a "." or ".." segment, spelt out or
 * percent-encoded ("%2e%2E"), else 0.
 */
int http_dot_segment(const char *url);

/*
 * Check a "Name: value" header line: a token name, a colon, a value
 * without CR, LF or NUL.  Returns 0, or -1 with a reason in *why.
 */
int http_header_check(const char *line, size_t n, const char **why);

#endif
