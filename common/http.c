/*
 * http.c - the libcurl multi driver; see http.h.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"
#include "http.h"

/* An environment variable as curl reads it: unset or empty is NULL. */
static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/*
 * curl's socket callback: watch s for what, or forget it.  A socket's
 * place in h->pfd, plus one, is what curl keeps for it (curl_multi_assign),
 * so that finding it costs nothing; forgetting one moves the last in its
 * place.  Returns 0, or -1 when out of memory.
 */
static int
on_socket(CURL *e, curl_socket_t s, int what, void *arg, void *sp)
{
	struct http *h = arg;
	size_t i = (size_t)(uintptr_t)sp;
	struct pollfd *p;

	(void)e;
	if (i == 0 || i > h->npfd || h->pfd[i - 1].fd != s) {
		/* Not known (or no longer where curl says): look it up. */
		for (i = 0; i < h->npfd && h->pfd[i].fd != s; i++)
			;
		i = i < h->npfd ? i + 1 : 0;
	}
	if (what == CURL_POLL_REMOVE) {
		if (i == 0)
			return 0;
		h->pfd[i - 1] = h->pfd[--h->npfd];
		if (i - 1 < h->npfd)
			curl_multi_assign(
			    h->multi, h->pfd[i - 1].fd, (void *)(uintptr_t)i);
		return 0;
	}
	if (i == 0) {
		/* Room for the caller's descriptors too (see http_wait). */
		if (h->npfd + 8 > h->cappfd) {
			size_t cap = 2 * h->cappfd + 16;

			if ((p = realloc(h->pfd, cap * sizeof(*p))) == NULL)
				return -1;
			h->pfd = p;
			h->cappfd = cap;
		}
		i = ++h->npfd;
		h->pfd[i - 1].fd = s;
		curl_multi_assign(h->multi, s, (void *)(uintptr_t)i);
	}
	p = &h->pfd[i - 1];
	p->events = (short)((what & CURL_POLL_IN ? POLLIN : 0) |
	    (what & CURL_POLL_OUT ? POLLOUT : 0));
	p->revents = 0;
	return 0;
}

/* curl's timer callback: run the transfers in timeout_ms (-1: never). */
static int
on_timer(CURLM *m, long timeout_ms, void *arg)
{
	struct http *h = arg;

	(void)m;
	h->timer_set = timeout_ms >= 0;
	if (h->timer_set)
		h->timer_at = timeout_ms == 0
		    ? 0
		    : cli_mono_ns() + (uint64_t)timeout_ms * 1000000;
	return 0;
}

int
http_init(struct http *h, const struct http_opts *o)
{
	memset(h, 0, sizeof(*h));
	h->o = *o;
	/*
	 * The proxy variables, read once: curl looks them up with five
	 * getenv calls per transfer otherwise.  Its order: http_proxy (never
	 * HTTP_PROXY), https_proxy or HTTPS_PROXY, then all_proxy or
	 * ALL_PROXY; no_proxy or NO_PROXY exempts hosts.
	 */
	if ((h->noproxy = env("no_proxy")) == NULL)
		h->noproxy = env("NO_PROXY");
	if ((h->proxy[0] = env("all_proxy")) == NULL)
		h->proxy[0] = env("ALL_PROXY");
	if ((h->proxy[1] = env("http_proxy")) == NULL)
		h->proxy[1] = h->proxy[0];
	if ((h->proxy[2] = env("https_proxy")) == NULL &&
	    (h->proxy[2] = env("HTTPS_PROXY")) == NULL)
		h->proxy[2] = h->proxy[0];
	if ((h->multi = curl_multi_init()) == NULL)
		return -1;
	/* HTTP/2 multiplexing when offered; keep-alive comes by default. */
	curl_multi_setopt(
	    h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	/*
	 * libcurl sizes its connection cache from the handles added at the
	 * moment, which is too small when transfers come and go: idle
	 * connections would be closed and reopened.
	 */
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS,
	    o->parallel > 0 ? 2 * o->parallel + 4 : 64L);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return 0;
}

void
http_free(struct http *h)
{
	struct http_xfer *x, *nx;

	for (x = h->pool; x != NULL; x = nx) {
		nx = x->next;
		curl_easy_cleanup(x->easy);
		free(x);
	}
	if (h->multi != NULL)
		curl_multi_cleanup(h->multi);
	if (h->curlu != NULL)
		curl_url_cleanup(h->curlu);
	free(h->url);
	free(h->pfd);
	memset(h, 0, sizeof(*h));
}

struct http_xfer *
http_xfer_get(struct http *h)
{
	struct http_xfer *x = h->pool;

	if (x != NULL)
		h->pool = x->next;
	else {
		if ((x = calloc(1, sizeof(*x))) == NULL)
			return NULL;
		if ((x->easy = curl_easy_init()) == NULL) {
			free(x);
			return NULL;
		}
	}
	x->next = NULL;
	x->user = NULL;
	x->owner = h;
	return x;
}

void
http_xfer_put(struct http *h, struct http_xfer *x)
{
	x->next = h->pool;
	h->pool = x;
}

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct http_xfer *x = arg;
	size_t n = size * nmemb, keep;

	x->resp_total += n;
	if (x->owner->o.max_response > 0 &&
	    x->resp_total > x->owner->o.max_response) {
		x->too_big = 1;
		return 0;
	}
	keep = sizeof(x->resp) - x->respn;
	if (keep > n)
		keep = n;
	memcpy(x->resp + x->respn, p, keep);
	x->respn += keep;
	return n;
}

static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct http_xfer *x = arg;
	size_t n = size * nmemb;
	const char *sp;

	/* A new status line (after 1xx) starts a new set of headers. */
	if (n > 5 && memcmp(p, "HTTP/", 5) == 0) {
		ratelimit_init(&x->rl);
		/* A 2xx answer's pacing headers are of no use: skip them. */
		sp = memchr(p, ' ', n);
		x->rl_skip = sp != NULL && sp + 1 < p + n && sp[1] == '2';
	} else if (!x->rl_skip)
		ratelimit_header(&x->rl, p, n, (int64_t)time(NULL));
	return n;
}

/*
 * The options every transfer of a handle shares, set when the handle is
 * first used (and again only when the method changes): resetting the
 * handle and setting them all for each transfer cost a twentieth of the
 * instructions per record.
 */
static void
xfer_setup(struct http *h, struct http_xfer *x, const char *method)
{
	CURL *e = x->easy;

	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->o.timeout_ms);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	if (h->o.max_response > 0)
		curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
		    (curl_off_t)h->o.max_response);
	if (h->o.cacert != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, h->o.cacert);
	if (h->o.insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (strcasecmp(method, "GET") == 0)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else if (strcasecmp(method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "POST") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	/* A method too long to remember is set up again each time. */
	if (strlen(method) < sizeof(x->method))
		memcpy(x->method, method, strlen(method) + 1);
	else
		x->method[0] = '\0';
	x->scheme = -1;
	x->url_parsed = 0;
	x->headers = NULL;
	x->setup = XFER_READY;
}

/*
 * The first URL started, parsed once: given the parsed form as well as the
 * text, curl does not parse the URL and print it back for each transfer,
 * about a seventh of its work per request.  curl copies the parsed URL for
 * each transfer, so one serves all.  Other URLs (--url-expr) are parsed by
 * curl as usual.
 */
static CURLU *
parsed_url(struct http *h, const char *url)
{
	if (h->url == NULL && !h->url_tried) {
		h->url_tried = 1;
		if ((h->curlu = curl_url()) == NULL)
			return NULL;
		/* The flags curl itself parses a URL with. */
		if (curl_url_set(h->curlu, CURLUPART_URL, url,
			CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) !=
			CURLUE_OK ||
		    (h->url = strdup(url)) == NULL) {
			curl_url_cleanup(h->curlu);
			h->curlu = NULL;
			return NULL;
		}
	}
	return h->url != NULL && strcmp(h->url, url) == 0 ? h->curlu : NULL;
}

int
http_xfer_start(struct http *h, struct http_xfer *x, const char *method,
    const char *url, struct curl_slist *headers, const void *body, size_t n)
{
	CURL *e = x->easy;
	CURLMcode mc;
	CURLU *cu;
	int scheme;

	x->result = CURLE_OK;
	x->status = 0;
	x->too_big = 0;
	x->errbuf[0] = '\0';
	x->respn = 0;
	x->resp_total = 0;
	ratelimit_init(&x->rl);
	x->rl_skip = 0;

	if (x->setup != XFER_READY || strcmp(x->method, method) != 0) {
		if (x->setup != XFER_NEW)
			curl_easy_reset(e);
		xfer_setup(h, x, method);
	}
	if (strncasecmp(url, "https:", 6) == 0)
		scheme = 2;
	else if (strncasecmp(url, "http:", 5) == 0)
		scheme = 1;
	else
		scheme = 0;
	if (scheme != x->scheme) {
		const char *proxy = NULL, *noproxy = NULL;

		/*
		 * The proxy the environment names for the scheme, as curl
		 * would pick it ("": none); for other URLs curl reads the
		 * environment itself.
		 */
		if (scheme != 0) {
			if ((proxy = h->proxy[scheme]) == NULL)
				proxy = "";
			if ((noproxy = h->noproxy) == NULL)
				noproxy = "";
		}
		curl_easy_setopt(e, CURLOPT_PIPEWAIT, scheme == 2 ? 1L : 0L);
		curl_easy_setopt(e, CURLOPT_PROXY, proxy);
		curl_easy_setopt(e, CURLOPT_NOPROXY, noproxy);
		x->scheme = scheme;
	}
	/*
	 * The handle keeps the URL and the header list of its last transfer:
	 * the same ones are not set again (curl copies the URL each time).
	 */
	cu = parsed_url(h, url);
	if (cu == NULL || !x->url_parsed) {
		if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK) {
			x->url_parsed = 0;
			snprintf(x->errbuf, sizeof(x->errbuf), "bad url");
			return -1;
		}
		curl_easy_setopt(e, CURLOPT_CURLU, cu);
		x->url_parsed = cu != NULL;
	}
	if (headers != x->headers || headers == NULL) {
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
		x->headers = headers;
	}
	if (strcasecmp(method, "GET") != 0 && strcasecmp(method, "HEAD") != 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	}
	if ((mc = curl_multi_add_handle(h->multi, e)) != CURLM_OK) {
		snprintf(x->errbuf, sizeof(x->errbuf), "%s",
		    curl_multi_strerror(mc));
		return -1;
	}
	h->inflight++;
	return 0;
}

void
http_xfer_cancel(struct http *h, struct http_xfer *x)
{
	curl_multi_remove_handle(h->multi, x->easy);
	h->inflight--;
	x->setup = XFER_STALE;
}

/*
 * curl_multi_socket_action runs only the transfers of a socket that is
 * ready, told that it is (curl_multi_perform would visit all of them, and
 * poll each one's socket again), then those whose time came.
 */
int
http_perform(struct http *h)
{
	struct {
		curl_socket_t fd;
		int ev;
	} ready[64];
	size_t i, n, from = 0;
	int running, rounds;

	/* A socket's actions may change h->pfd: collect first, then act. */
	while (h->polled && from < h->npfd) {
		for (n = 0; from < h->npfd && n < 64; from++) {
			short r = h->pfd[from].revents;

			if (r == 0)
				continue;
			ready[n].fd = h->pfd[from].fd;
			ready[n].ev =
			    (r & (POLLIN | POLLHUP | POLLERR) ? CURL_CSELECT_IN
							      : 0) |
			    (r & (POLLOUT | POLLERR) ? CURL_CSELECT_OUT : 0);
			if (ready[n].ev == 0)
				ready[n].ev = CURL_CSELECT_ERR;
			h->pfd[from].revents = 0;
			n++;
		}
		for (i = 0; i < n; i++)
			if (curl_multi_socket_action(h->multi, ready[i].fd,
				ready[i].ev, &running) != CURLM_OK)
				return -1;
	}
	h->polled = 0;
	/* Transfers started by a timeout may start others: a few rounds. */
	for (rounds = 0; rounds < 4 && h->timer_set &&
	     (h->timer_at == 0 || h->timer_at <= cli_mono_ns());
	     rounds++) {
		h->timer_set = 0;
		if (curl_multi_socket_action(
			h->multi, CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK)
			return -1;
	}
	return 0;
}

int
http_wait(
    struct http *h, struct curl_waitfd *extra, unsigned nextra, int timeout_ms)
{
	struct pollfd *p;
	unsigned i;
	int n;

	if (h->timer_set) {
		uint64_t now = h->timer_at == 0 ? 0 : cli_mono_ns();
		int64_t left = h->timer_at > now
		    ? (int64_t)((h->timer_at - now + 999999) / 1000000)
		    : 0;

		if (timeout_ms < 0 || left < timeout_ms)
			timeout_ms = (int)left;
	}
	/* The caller's descriptors go after curl's sockets. */
	if (h->npfd + nextra > h->cappfd) {
		size_t cap = h->npfd + nextra + 16;

		if ((p = realloc(h->pfd, cap * sizeof(*p))) == NULL)
			return -1;
		h->pfd = p;
		h->cappfd = cap;
	}
	p = h->pfd + h->npfd;
	for (i = 0; i < nextra; i++) {
		p[i].fd = extra[i].fd;
		p[i].events =
		    (short)((extra[i].events & CURL_WAIT_POLLIN ? POLLIN : 0) |
			(extra[i].events & CURL_WAIT_POLLPRI ? POLLPRI : 0) |
			(extra[i].events & CURL_WAIT_POLLOUT ? POLLOUT : 0));
		p[i].revents = 0;
		extra[i].revents = 0;
	}
	n = poll(h->pfd, h->npfd + nextra, timeout_ms);
	if (n < 0) {
		h->polled = 0;
		return errno == EINTR ? 0 : -1;
	}
	h->polled = n > 0;
	for (i = 0; i < nextra; i++)
		extra[i].revents =
		    (short)((p[i].revents & POLLIN ? CURL_WAIT_POLLIN : 0) |
			(p[i].revents & POLLPRI ? CURL_WAIT_POLLPRI : 0) |
			(p[i].revents & POLLOUT ? CURL_WAIT_POLLOUT : 0));
	return n;
}

struct http_xfer *
http_done(struct http *h)
{
	struct http_xfer *x;
	CURLMsg *m;
	long nconn = 0;
	int left;
	char *priv;

	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		x = (struct http_xfer *)(void *)priv;
		x->result = m->data.result;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
		/*
		 * libcurl before 8.17 counts the requests it resent on a
		 * fresh connection (a kept-alive one was found closed) per
		 * handle, and clears the count only in curl_easy_reset: after
		 * five over a handle's life, the next one fails.  A resent
		 * request makes a new connection, so a handle whose transfer
		 * connected, or failed, is reset before its next use.
		 */
		curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &nconn);
		if (nconn > 0 || x->result != CURLE_OK)
			x->setup = XFER_STALE;
		curl_multi_remove_handle(h->multi, x->easy);
		h->inflight--;
		if (x->result != CURLE_OK && x->errbuf[0] == '\0')
			snprintf(x->errbuf, sizeof(x->errbuf), "%s",
			    curl_easy_strerror(x->result));
		if (x->too_big)
			snprintf(x->errbuf, sizeof(x->errbuf),
			    "response larger than %llu bytes",
			    (unsigned long long)h->o.max_response);
		return x;
	}
	return NULL;
}

int
http_is_timeout(const struct http_xfer *x)
{
	return x->result == CURLE_OPERATION_TIMEDOUT;
}

static int
tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int
http_header_check(const char *line, size_t n, const char **why)
{
	size_t i = 0;

	while (i < n && tchar((unsigned char)line[i]))
		i++;
	if (i == 0) {
		*why = "header name missing or not a token";
		return -1;
	}
	if (i == n || line[i] != ':') {
		*why = "expected Name: value";
		return -1;
	}
	for (i++; i < n; i++)
		if (line[i] == '\r' || line[i] == '\n' || line[i] == '\0') {
			*why = "header value holds CR, LF or NUL";
			return -1;
		}
	return 0;
}

/* 1 when the URL has the part, and it is not except (may be NULL). */
static int
url_has(CURLU *u, CURLUPart what, const char *except)
{
	char *v = NULL;
	int has;

	has = curl_url_get(u, what, &v, 0) == CURLUE_OK &&
	    (except == NULL || strcmp(v, except) != 0);
	curl_free(v);
	return has;
}

int
http_origin(const char *url, int only_origin, char *out, const char **why)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *port = NULL;
	const char *sep;
	size_t i;
	int rc = -1;

	if ((u = curl_url()) == NULL) {
		*why = "out of memory";
		return -1;
	}
	/* No scheme guessed: "example.com/x" is not taken for http. */
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) !=
	    CURLUE_OK) {
		*why = "not a URL";
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") != 0 &&
		strcasecmp(scheme, "https") != 0)) {
		*why = "not an http or https URL";
		goto out;
	}
	/* curl takes "http:///x" for the host x: a third slash is no host. */
	sep = strstr(url, "://");
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    *host == '\0' || (sep != NULL && sep[3] == '/')) {
		*why = "no host";
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK) {
		*why = "no port";
		goto out;
	}
	if (only_origin) {
		if (url_has(u, CURLUPART_USER, NULL) ||
		    url_has(u, CURLUPART_PASSWORD, NULL)) {
			*why = "an origin has no user or password";
			goto out;
		}
		if (url_has(u, CURLUPART_PATH, "/") ||
		    url_has(u, CURLUPART_QUERY, NULL) ||
		    url_has(u, CURLUPART_FRAGMENT, NULL)) {
			*why =
			    "an origin is scheme://host[:port], with no path";
			goto out;
		}
	}
	if ((size_t)snprintf(out, HTTP_ORIGIN_MAX, "%s://%s:%s", scheme, host,
		port) >= HTTP_ORIGIN_MAX) {
		*why = "host name too long";
		goto out;
	}
	for (i = 0; out[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/* 1 when [p, e) is "." or "..", each dot spelt out or as %2e. */
static int
dot_segment(const char *p, const char *e)
{
	int dots = 0;

	while (p < e) {
		if (*p == '.')
			p++;
		else if (e - p >= 3 && p[0] == '%' && p[1] == '2' &&
		    (p[2] == 'e' || p[2] == 'E'))
			p += 3;
		else
			return 0;
		dots++;
	}
	return dots == 1 || dots == 2;
}

int
http_dot_segment(const char *url)
{
	const char *p = strstr(url, "://"), *end, *seg;

	if (p == NULL)
		return 0;
	/* The path starts after the authority and ends at '?' or '#'. */
	p += 3;
	p += strcspn(p, "/?#");
	end = p + strcspn(p, "?#");
	while (p < end && *p == '/') {
		seg = ++p;
		p += strcspn(p, "/?#");
		if (p > end)
			p = end;
		if (dot_segment(seg, p))
			return 1;
	}
	return 0;
}
