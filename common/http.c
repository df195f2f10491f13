/*
 * http.c - the libcurl multi driver; see http.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"

int
http_init(struct http *h, const struct http_opts *o)
{
	memset(h, 0, sizeof(*h));
	h->o = *o;
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
	memset(h, 0, sizeof(*h));
}

struct http_xfer *
http_xfer_get(struct http *h)
{
	struct http_xfer *x = h->pool;

	if (x != NULL) {
		h->pool = x->next;
		curl_easy_reset(x->easy);
	} else {
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

	/* A new status line (after 1xx) starts a new set of headers. */
	if (n > 5 && memcmp(p, "HTTP/", 5) == 0)
		ratelimit_init(&x->rl);
	else
		ratelimit_header(&x->rl, p, n, (int64_t)time(NULL));
	return n;
}

int
http_xfer_start(struct http *h, struct http_xfer *x, const char *method,
    const char *url, struct curl_slist *headers, const void *body, size_t n)
{
	CURL *e = x->easy;
	CURLMcode mc;

	x->result = CURLE_OK;
	x->status = 0;
	x->too_big = 0;
	x->errbuf[0] = '\0';
	x->respn = 0;
	x->resp_total = 0;
	ratelimit_init(&x->rl);

	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->o.connect_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->o.timeout_ms);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	if (strncasecmp(url, "https:", 6) == 0)
		curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
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
	if (curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK) {
		snprintf(x->errbuf, sizeof(x->errbuf), "bad url");
		return -1;
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
	if (strcasecmp(method, "GET") == 0)
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	else if (strcasecmp(method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		if (strcmp(method, "POST") != 0)
			curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
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
}

int
http_perform(struct http *h)
{
	int running;

	return curl_multi_perform(h->multi, &running) == CURLM_OK ? 0 : -1;
}

int
http_wait(
    struct http *h, struct curl_waitfd *extra, unsigned nextra, int timeout_ms)
{
	unsigned i;
	int n = 0;

	for (i = 0; i < nextra; i++)
		extra[i].revents = 0;
	if (curl_multi_poll(h->multi, extra, nextra, timeout_ms, &n) !=
	    CURLM_OK)
		return -1;
	return n;
}

struct http_xfer *
http_done(struct http *h)
{
	struct http_xfer *x;
	CURLMsg *m;
	int left;
	char *priv;

	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		x = (struct http_xfer *)(void *)priv;
		x->result = m->data.result;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
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
