/*
 * closeapi.c - the Close REST API client; see closeapi.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "cli.h"
#include "closeapi.h"
#include "readfile.h"
#include "json.h"

#ifndef CLOSEHOOK_VERSION
#define CLOSEHOOK_VERSION "dev"
#endif

#define KEY_MAX 1024
#define RATE_RETRIES 50 /* 429s in a row before giving up */

struct closeapi {
	CURL *h;
	struct curl_slist *hdrs, *hdrs_json;
	char *key; /* sodium_malloc'd, locked */
	char *base;
	struct closeapi_opts o;
	char *buf;
	size_t len, cap;
	int too_large;
	char errbuf[CURL_ERROR_SIZE];
	char *url;
	size_t urlcap;
	struct ratelimit rl;
	uint64_t next_ns; /* earliest start of the next request */
	uint64_t last_ns; /* start of the last request */
	struct closeapi_stats st;
};

static int
stopped(const struct closeapi *c)
{
	return c->o.stop != NULL && *c->o.stop;
}

/* Sleep until the monotonic clock reaches t, in slices, watching stop. */
static int
sleep_until(struct closeapi *c, uint64_t t)
{
	uint64_t now;
	struct timespec ts;

	while ((now = cli_mono_ns()) < t) {
		uint64_t d = t - now;

		if (stopped(c))
			return -1;
		if (d > 100000000)
			d = 100000000;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)d;
		nanosleep(&ts, NULL);
		c->st.waited += (double)d / 1e9;
		if (c->o.on_wait != NULL)
			c->o.on_wait(c->o.on_wait_arg);
	}
	return stopped(c) ? -1 : 0;
}

static size_t
on_body(char *p, size_t sz, size_t nm, void *arg)
{
	struct closeapi *c = arg;
	size_t n = sz * nm, ncap;
	char *nb;

	if (c->len + n + 1 > c->o.max_body) {
		c->too_large = 1;
		return 0;
	}
	if (c->len + n + 1 > c->cap) {
		ncap = c->cap ? c->cap : 65536;
		while (ncap < c->len + n + 1)
			ncap *= 2;
		if ((nb = realloc(c->buf, ncap)) == NULL)
			return 0;
		c->buf = nb;
		c->cap = ncap;
	}
	memcpy(c->buf + c->len, p, n);
	c->len += n;
	c->buf[c->len] = '\0';
	return n;
}

static size_t
on_header(char *p, size_t sz, size_t nm, void *arg)
{
	struct closeapi *c = arg;
	size_t n = sz * nm;

	/* A new status line starts a new header block (100 Continue). */
	if (n > 5 && memcmp(p, "HTTP/", 5) == 0)
		ratelimit_init(&c->rl);
	else
		ratelimit_header(&c->rl, p, n, cli_now());
	return n;
}

/* Read the key into locked memory: a file's first line, or the env. */
static int
read_key(struct closeapi *c, char *err, size_t errn)
{
	const char *env;
	size_t n = 0;

	if ((c->key = sodium_malloc(KEY_MAX + 1)) == NULL) {
		snprintf(err, errn, "out of memory");
		return -1;
	}
	if (c->o.key_file != NULL) {
		char *text = readfile_secret(
		    "--api-key-file", c->o.key_file, KEY_MAX, &n);

		if (text == NULL) {
			snprintf(err, errn, "%s: cannot read the API key",
			    cli_secret_name("--api-key-file", c->o.key_file));
			return -1;
		}
		memcpy(c->key, text, n);
		readfile_secret_free(text);
	} else if ((env = getenv("CLOSE_API_KEY")) != NULL) {
		n = strlen(env);
		if (n > KEY_MAX)
			n = KEY_MAX;
		memcpy(c->key, env, n);
	} else {
		snprintf(err, errn,
		    "no API key: set $CLOSE_API_KEY or use "
		    "--api-key-file");
		return -1;
	}
	c->key[n] = '\0';
	/* The first line, trimmed. */
	c->key[strcspn(c->key, "\r\n")] = '\0';
	n = strlen(c->key);
	while (n > 0 && (c->key[n - 1] == ' ' || c->key[n - 1] == '\t'))
		c->key[--n] = '\0';
	if (n == 0) {
		snprintf(err, errn, "%s: the API key is empty",
		    c->o.key_file ? c->o.key_file : "$CLOSE_API_KEY");
		return -1;
	}
	return 0;
}

struct closeapi *
closeapi_new(const struct closeapi_opts *o, char *err, size_t errn)
{
	struct closeapi *c;
	char ua[64];
	size_t bl;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errn, "out of memory");
		return NULL;
	}
	c->o = *o;
	if (c->o.base_url == NULL)
		c->o.base_url = CLOSEAPI_DEFAULT_URL;
	if (c->o.connect_timeout_ms <= 0)
		c->o.connect_timeout_ms = 10000;
	if (c->o.timeout_ms <= 0)
		c->o.timeout_ms = 60000;
	if (c->o.max_attempts <= 0)
		c->o.max_attempts = 6;
	if (c->o.backoff_base_ms <= 0)
		c->o.backoff_base_ms = 500;
	if (c->o.backoff_cap_ms <= 0)
		c->o.backoff_cap_ms = 30000;
	if (c->o.max_wait <= 0)
		c->o.max_wait = 300;
	if (c->o.max_body == 0)
		c->o.max_body = 64u << 20;
	ratelimit_init(&c->rl);
	if (sodium_init() < 0) {
		snprintf(err, errn, "cannot initialise libsodium");
		goto fail;
	}
	if (read_key(c, err, errn) != 0)
		goto fail;
	/* The key goes with every request: never in clear by a guess. */
	{
		const char *u = c->o.base_url,
			   *host = strncasecmp(u, "https://", 8) == 0 ? u + 8
		    : strncasecmp(u, "http://", 7) == 0		      ? u + 7
								      : NULL;

		/* No host ("http:///api/v1"): curl would take a path's
		 * first part for one. */
		if (host == NULL || *host == '\0' || *host == '/' ||
		    *host == '?' || *host == '#') {
			snprintf(err, errn,
			    "--api-url must be https://HOST/... (or http:// "
			    "for a server of your own)");
			goto fail;
		}
	}
	/* The base without trailing slashes: paths start with one. */
	if ((c->base = strdup(c->o.base_url)) == NULL)
		goto oom;
	bl = strlen(c->base);
	while (bl > 0 && c->base[bl - 1] == '/')
		c->base[--bl] = '\0';
	if ((c->h = curl_easy_init()) == NULL) {
		snprintf(err, errn, "cannot initialise libcurl");
		goto fail;
	}
	snprintf(ua, sizeof(ua), "closehook/%s", CLOSEHOOK_VERSION);
	c->hdrs = curl_slist_append(NULL, "Accept: application/json");
	c->hdrs_json = curl_slist_append(NULL, "Accept: application/json");
	c->hdrs_json =
	    curl_slist_append(c->hdrs_json, "Content-Type: application/json");
	if (c->hdrs == NULL || c->hdrs_json == NULL)
		goto oom;
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(
	    c->h, CURLOPT_CONNECTTIMEOUT_MS, c->o.connect_timeout_ms);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, c->o.timeout_ms);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->h, CURLOPT_USERAGENT, ua);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c->h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (c->o.bearer) {
		curl_easy_setopt(c->h, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(c->h, CURLOPT_XOAUTH2_BEARER, c->key);
	} else {
		curl_easy_setopt(c->h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c->h, CURLOPT_USERNAME, c->key);
		curl_easy_setopt(c->h, CURLOPT_PASSWORD, "");
	}
	/* curl keeps its own copy of the credentials. */
	sodium_memzero(c->key, KEY_MAX + 1);
	return c;
oom:
	snprintf(err, errn, "out of memory");
fail:
	closeapi_free(c);
	return NULL;
}

void
closeapi_free(struct closeapi *c)
{
	if (c == NULL)
		return;
	if (c->h != NULL) {
		/* Overwrite curl's copies of the credentials before cleanup. */
		curl_easy_setopt(c->h, CURLOPT_USERNAME, "");
		curl_easy_setopt(c->h, CURLOPT_XOAUTH2_BEARER, "");
		curl_easy_cleanup(c->h);
	}
	curl_slist_free_all(c->hdrs);
	curl_slist_free_all(c->hdrs_json);
	if (c->key != NULL)
		sodium_free(c->key);
	free(c->base);
	free(c->buf);
	free(c->url);
	free(c);
}

const struct ratelimit *
closeapi_ratelimit(const struct closeapi *c)
{
	return &c->rl;
}

const struct closeapi_stats *
closeapi_stats(const struct closeapi *c)
{
	return &c->st;
}

/* Transport errors worth another try: the request may never have run. */
static int
transient(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_BAD_CONTENT_ENCODING:
		return 1;
	default:
		return 0;
	}
}

/* Full-jitter exponential back-off for the attempt'th retry (1, 2, ...). */
static uint64_t
backoff_ns(const struct closeapi *c, int attempt)
{
	uint64_t ms = (uint64_t)c->o.backoff_base_ms;
	int i;

	for (i = 1; i < attempt && ms < (uint64_t)c->o.backoff_cap_ms; i++)
		ms *= 2;
	if (ms > (uint64_t)c->o.backoff_cap_ms)
		ms = (uint64_t)c->o.backoff_cap_ms;
	/* Between half and all of it: spread, yet never a zero wait. */
	ms = ms / 2 + randombytes_uniform((uint32_t)(ms / 2 + 1));
	return ms * 1000000;
}

/* When the next request may start, from the answer just read. */
static void
pace(struct closeapi *c)
{
	double d = ratelimit_pace(&c->rl);
	uint64_t now = cli_mono_ns(), t;

	if (d > c->o.max_wait)
		d = c->o.max_wait;
	c->next_ns = now + (uint64_t)(d * 1e9);
	if (c->o.max_rps > 0) {
		t = c->last_ns + (uint64_t)(1e9 / c->o.max_rps);
		if (t > c->next_ns)
			c->next_ns = t;
	}
}

static int
build_url(struct closeapi *c, const char *path)
{
	size_t need = strlen(c->base) + strlen(path) + 2;
	char *nu;

	if (need > c->urlcap) {
		if ((nu = realloc(c->url, need)) == NULL)
			return -1;
		c->url = nu;
		c->urlcap = need;
	}
	snprintf(
	    c->url, need, "%s%s%s", c->base, path[0] == '/' ? "" : "/", path);
	return 0;
}

enum closeapi_status
closeapi_request(struct closeapi *c, const char *method, const char *path,
    const char *body, size_t bodyn, struct closeapi_resp *r)
{
	int get = strcmp(method, "GET") == 0, attempt = 0, rated = 0;
	struct json_span v;
	CURLcode rc;
	uint64_t wait;
	double d;

	memset(r, 0, sizeof(*r));
	r->body = "";
	if (build_url(c, path) != 0) {
		snprintf(r->error, sizeof(r->error), "out of memory");
		return CLOSEAPI_FAILED;
	}
	curl_easy_setopt(c->h, CURLOPT_URL, c->url);
	if (get) {
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, NULL);
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
	} else {
		curl_easy_setopt(c->h, CURLOPT_POST, 1L);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body ? body : "");
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(body ? bodyn : 0));
		curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST,
		    strcmp(method, "POST") == 0 ? NULL : method);
		curl_easy_setopt(
		    c->h, CURLOPT_HTTPHEADER, body ? c->hdrs_json : c->hdrs);
	}
	for (;;) {
		if (sleep_until(c, c->next_ns) != 0)
			return CLOSEAPI_STOPPED;
		c->len = 0;
		c->too_large = 0;
		c->errbuf[0] = '\0';
		if (c->buf != NULL)
			c->buf[0] = '\0';
		ratelimit_init(&c->rl);
		c->last_ns = cli_mono_ns();
		c->st.requests++;
		rc = curl_easy_perform(c->h);
		r->status = 0;
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
		r->body = c->buf ? c->buf : "";
		r->n = c->len;
		pace(c);
		if (rc != CURLE_OK) {
			snprintf(r->error, sizeof(r->error), "%s",
			    c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
			if (c->too_large) {
				snprintf(r->error, sizeof(r->error),
				    "answer larger than %zu bytes",
				    c->o.max_body);
				c->st.failures++;
				return CLOSEAPI_FAILED;
			}
			if (!transient(rc) ||
			    (!get && rc != CURLE_COULDNT_CONNECT)) {
				c->st.failures++;
				return CLOSEAPI_FAILED;
			}
			goto retry;
		}
		if (r->status >= 200 && r->status < 300) {
			if (r->n == 0 ||
			    json_parse(r->body, r->n, &v, NULL) == 0)
				return CLOSEAPI_OK;
			snprintf(r->error, sizeof(r->error),
			    "malformed JSON in the answer (%zu bytes)", r->n);
			if (!get) {
				c->st.failures++;
				return CLOSEAPI_FAILED;
			}
			goto retry;
		}
		if (r->status == 429) {
			c->st.rate_limited++;
			if (++rated > RATE_RETRIES) {
				snprintf(r->error, sizeof(r->error),
				    "still rate limited after %d waits",
				    RATE_RETRIES);
				c->st.failures++;
				return CLOSEAPI_FAILED;
			}
			d = ratelimit_retry_delay(&c->rl, -1, c->o.max_wait);
			if (d < 0)
				d = ratelimit_body_reset(r->body, r->n);
			if (d < 0)
				d = 1;
			if (d > c->o.max_wait)
				d = c->o.max_wait;
			wait = cli_mono_ns() + (uint64_t)(d * 1e9);
			if (wait > c->next_ns)
				c->next_ns = wait;
			continue;
		}
		closeapi_error_text(r->body, r->n, r->error, sizeof(r->error));
		if (r->status >= 500 && r->status <= 599)
			c->st.server_errors++;
		if (r->status == 401 || r->status == 403)
			return CLOSEAPI_AUTH;
		if (r->status == 503 ||
		    (get &&
			(r->status == 500 || r->status == 502 ||
			    r->status == 504)))
			goto retry;
		return CLOSEAPI_HTTP;
retry:
		if (++attempt >= c->o.max_attempts) {
			c->st.failures++;
			/* The last answer's status, for a cron job's mail. */
			if (r->status >= 400) {
				char e[sizeof(r->error)];

				snprintf(e, sizeof(e), "%s", r->error);
				snprintf(r->error, sizeof(r->error),
				    "HTTP %ld: %.*s", r->status,
				    (int)sizeof(r->error) - 16, e);
			}
			return CLOSEAPI_FAILED;
		}
		c->st.retries++;
		wait = cli_mono_ns() + backoff_ns(c, attempt);
		/* A 503 may say how long to stay away. */
		if (r->status == 503 && c->rl.retry_after >= 0) {
			d = ratelimit_retry_delay(&c->rl, 0, c->o.max_wait);
			if (cli_mono_ns() + (uint64_t)(d * 1e9) > wait)
				wait = cli_mono_ns() + (uint64_t)(d * 1e9);
		}
		if (wait > c->next_ns)
			c->next_ns = wait;
	}
}

int
closeapi_query_add(char *dst, size_t cap, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(dst), start = n;
	const char *s;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		s = pass == 0 ? name : value;
		if (pass == 0 && n > 0) {
			if (n + 1 >= cap)
				goto full;
			dst[n++] = '&';
		}
		if (pass == 1) {
			if (n + 1 >= cap)
				goto full;
			dst[n++] = '=';
		}
		for (; *s != '\0'; s++) {
			unsigned char ch = (unsigned char)*s;

			if ((ch >= 'a' && ch <= 'z') ||
			    (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '-' ||
			    ch == '_' || ch == '.' || ch == '~') {
				if (n + 1 >= cap)
					goto full;
				dst[n++] = (char)ch;
			} else {
				if (n + 3 >= cap)
					goto full;
				dst[n++] = '%';
				dst[n++] = hex[ch >> 4];
				dst[n++] = hex[ch & 15];
			}
		}
	}
	dst[n] = '\0';
	return 0;
full:
	dst[start] = '\0';
	return -1;
}

/* Append a JSON string's decoded text, made printable, to out. */
static void
append_str(char *out, size_t outn, struct json_span s)
{
	char tmp[512];
	size_t l = strlen(out), i, k;

	if (s.type != JSON_STRING || s.n > sizeof(tmp))
		return;
	k = json_str_unescape(s, tmp);
	for (i = 0; i < k && l + 1 < outn; i++)
		out[l++] = (unsigned char)tmp[i] < 0x20 ? ' ' : tmp[i];
	out[l] = '\0';
}

/* 1 when the string's text is already in out (Close often repeats the
 * "error" text in "errors"). */
static int
seen(const char *out, struct json_span s)
{
	char tmp[512];
	size_t k;

	if (s.n >= sizeof(tmp))
		return 0;
	k = json_str_unescape(s, tmp);
	tmp[k] = '\0';
	return k > 0 && memchr(tmp, '\0', k) == NULL && strstr(out, tmp);
}

static void
append_lit(char *out, size_t outn, const char *lit)
{
	size_t l = strlen(out);

	snprintf(out + l, outn - l, "%s", lit);
}

void
closeapi_error_text(const char *body, size_t n, char *out, size_t outn)
{
	struct json_span root, v, k, e;
	struct json_iter it;
	size_t i;

	if (outn == 0)
		return;
	out[0] = '\0';
	if (json_parse(body, n, &root, NULL) == 0 && root.type == JSON_OBJECT) {
		if (json_object_get(root, "error", 5, &v)) {
			if (v.type == JSON_OBJECT &&
			    json_object_get(v, "message", 7, &e))
				v = e;
			append_str(out, outn, v);
		}
		if (json_object_get(root, "errors", 6, &v) &&
		    v.type == JSON_ARRAY) {
			json_iter_init(&it, v);
			while (json_iter_elem(&it, &e)) {
				if (e.type != JSON_STRING || seen(out, e))
					continue;
				if (out[0] != '\0')
					append_lit(out, outn, "; ");
				append_str(out, outn, e);
			}
		}
		if (json_object_get(root, "field-errors", 12, &v) &&
		    v.type == JSON_OBJECT) {
			json_iter_init(&it, v);
			while (json_iter_member(&it, &k, &e)) {
				if (out[0] != '\0')
					append_lit(out, outn, "; ");
				append_str(out, outn, k);
				append_lit(out, outn, ": ");
				append_str(out, outn, e);
			}
		}
		if (out[0] != '\0')
			return;
	}
	/* Not Close's shape: a short, printable piece of the body. */
	for (i = 0; i < n && i + 1 < outn && i < 160; i++)
		out[i] = (unsigned char)body[i] < 0x20 ||
			(unsigned char)body[i] == 0x7f
		    ? ' '
		    : body[i];
	out[i] = '\0';
}

int
closeapi_page_parse(
    const char *body, size_t n, struct closeapi_page *pg, const char **why)
{
	struct json_span root, e;
	struct json_iter it;

	pg->data.type = pg->cursor_next.type = JSON_NONE;
	pg->data.p = pg->cursor_next.p = NULL;
	pg->data.n = pg->cursor_next.n = 0;
	if (json_parse(body, n, &root, NULL) != 0) {
		*why = "the answer is not JSON";
		return -1;
	}
	if (root.type != JSON_OBJECT) {
		*why = "the answer is not an object";
		return -1;
	}
	if (!json_object_get(root, "data", 4, &pg->data) ||
	    pg->data.type != JSON_ARRAY) {
		*why = "the answer has no \"data\" array";
		return -1;
	}
	if (json_object_get(root, "cursor_next", 11, &pg->cursor_next) &&
	    pg->cursor_next.type != JSON_STRING &&
	    pg->cursor_next.type != JSON_NULL) {
		*why = "\"cursor_next\" is neither a string nor null";
		return -1;
	}
	json_iter_init(&it, pg->data);
	while (json_iter_elem(&it, &e))
		if (e.type != JSON_OBJECT) {
			*why = "an element of \"data\" is not an object";
			return -1;
		}
	return 0;
}
