/*
 * har.c - HAR 1.2 archives; see har.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "cli.h"
#include "har.h"
#include "httpdump.h"
#include "isotime.h"

static int fail(struct har *h, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct har *h, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	h->errline = line;
	va_start(ap, fmt);
	vsnprintf(h->err, sizeof(h->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* The line of p, counting on from where the last call stopped. */
static unsigned long
line_at(struct har *h, const char *p)
{
	const char *s = h->linep;

	while ((s = memchr(s, '\n', (size_t)(p - s))) != NULL) {
		h->line++;
		s++;
	}
	h->linep = p;
	return h->line;
}

int
har_open(struct har *h, const char *p, size_t n)
{
	struct json_span root, log;
	struct json_error err;

	memset(h, 0, sizeof(*h));
	h->doc = h->linep = p;
	h->n = n;
	h->line = 1;
	/* HAR 1.2: readers ignore a byte-order mark (.NET tools write one). */
	if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;
		n -= 3;
	}
	if (json_parse(p, n, &root, &err) != 0)
		return fail(
		    h, line_at(h, p + err.off), "not valid JSON: %s", err.msg);
	if (root.type != JSON_OBJECT ||
	    !json_object_get(root, "log", 3, &log) || log.type != JSON_OBJECT)
		return fail(
		    h, line_at(h, root.p), "not a HAR archive: no log object");
	if (!json_object_get(log, "entries", 7, &log) || log.type != JSON_ARRAY)
		return fail(h, line_at(h, log.p),
		    "not a HAR archive: log.entries is not an array");
	json_iter_init(&h->it, log);
	return 0;
}

void
har_free(struct har *h)
{
	free(h->buf);
	h->buf = NULL;
	h->cap = 0;
}

/* A member that is a string, decoded to *d (moved past it). */
static int
get_str(
    struct json_span obj, const char *key, char **d, const char **s, size_t *n)
{
	struct json_span v;

	if (!json_object_get(obj, key, strlen(key), &v) ||
	    v.type != JSON_STRING)
		return -1;
	*s = *d;
	*n = json_str_unescape(v, *d);
	*d += *n;
	return 0;
}

/*
 * startedDateTime as received_at: UTC, six fraction digits.  Years past
 * 9999 or before 0000 (an offset can move a date there) are refused.
 */
static int
received_at(const char *s, size_t n, char *out)
{
	struct isotime t;
	char frac[24];

	if (isotime_parse(s, n, &t) != 0 ||
	    t.sec < isotime_days(0, 1, 1) * 86400 ||
	    t.sec >= isotime_days(10000, 1, 1) * 86400)
		return -1;
	snprintf(frac, sizeof(frac), "%06ld", t.nsec / 1000);
	t.frac = frac;
	t.fracn = 6;
	isotime_format_utc(&t, out);
	return 0;
}

/*
 * The request target of a URL: its path and query as written, without the
 * fragment; "/" when it has no path.  An origin-form URL ("/close?x=1") is
 * taken as it is.  d has room for n + 1 bytes.
 */
static int
url_path(const char *u, size_t n, char *d, const char **path, size_t *pathn)
{
	const char *e = u + n, *s = u, *x;

	if ((x = memchr(u, '#', n)) != NULL)
		e = x;
	if (s < e && *s == '/') {
		*path = s;
		*pathn = (size_t)(e - s);
		return 0;
	}
	/* scheme "://" authority */
	while (s < e &&
	    ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		(s > u &&
		    ((*s >= '0' && *s <= '9') || *s == '+' || *s == '-' ||
			*s == '.'))))
		s++;
	if (s == u || e - s < 3 || memcmp(s, "://", 3) != 0)
		return -1;
	for (s += 3; s < e && *s != '/' && *s != '?'; s++)
		;
	if (s < e && *s == '/') {
		*path = s;
		*pathn = (size_t)(e - s);
		return 0;
	}
	d[0] = '/';
	memcpy(d + 1, s, (size_t)(e - s));
	*path = d;
	*pathn = 1 + (size_t)(e - s);
	return 0;
}

/* Decode base64 (padded or not; white space ignored) from s to d. */
static int
base64(const char *s, size_t n, char *d, size_t *dn)
{
	const char *end;

	if (sodium_base642bin((unsigned char *)d, n, s, n, " \t\r\n", dn, &end,
		sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    end == s + n)
		return 0;
	if (sodium_base642bin((unsigned char *)d, n, s, n, " \t\r\n", dn, &end,
		sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0 &&
	    end == s + n)
		return 0;
	return -1;
}

/* request.headers into h->h; names starting with ':' are left out. */
static int
headers(struct har *h, struct json_span req, char **d, size_t *nh,
    unsigned long line, size_t index)
{
	struct json_span hs, one;
	struct json_iter it;
	struct har_hdr x;
	size_t i = 0;

	*nh = 0;
	if (!json_object_get(req, "headers", 7, &hs) || hs.type == JSON_NULL)
		return 0;
	if (hs.type != JSON_ARRAY)
		return fail(h, line,
		    "entry %zu: request.headers is not an array", index);
	json_iter_init(&it, hs);
	for (; json_iter_elem(&it, &one); i++) {
		if (one.type != JSON_OBJECT ||
		    get_str(one, "name", d, &x.name, &x.namen) != 0 ||
		    get_str(one, "value", d, &x.val, &x.valn) != 0)
			return fail(h, line,
			    "entry %zu: request.headers[%zu] is not a "
			    "{name, value} object of strings",
			    index, i);
		if (x.namen == 0)
			return fail(h, line,
			    "entry %zu: request.headers[%zu] has an empty name",
			    index, i);
		if (x.name[0] == ':')
			continue;
		if (*nh == HAR_MAX_HEADERS)
			return fail(h, line,
			    "entry %zu: more than %d request headers", index,
			    HAR_MAX_HEADERS);
		h->h[(*nh)++] = x;
	}
	return 0;
}

/*
 * The body's size as the entry declares it: the larger of request.bodySize
 * (unless -1, "not available" in HAR 1.2) and the request's Content-Length
 * header; -1 when neither says.  Chrome writes bodySize 0 for a body it
 * left out, beside the Content-Length the request had.
 */
static int64_t
declared_size(struct json_span req, const struct har_entry *e)
{
	struct json_span v;
	int64_t size = -1, bs;
	uint64_t cl;
	size_t i;

	if (json_object_get(req, "bodySize", 8, &v) && v.type == JSON_NUMBER &&
	    json_num_i64(v, &bs) == 0 && bs >= 0)
		size = bs;
	for (i = 0; i < e->nh; i++) {
		const struct har_hdr *x = &e->h[i];

		if (x->namen != 14 ||
		    strncasecmp(x->name, "content-length", 14))
			continue;
		if (httpdump_content_length(x->val, x->valn, &cl) == 0 &&
		    cl <= INT64_MAX && (int64_t)cl > size)
			size = (int64_t)cl;
		break;
	}
	return size;
}

/*
 * A body shorter than its declared size: the exporter cut it short.
 * (Exporters that count the text in characters, or in JavaScript's UTF-16
 * units, declare no more than its UTF-8 bytes.)
 */
static int
short_body(struct har *h, const struct har_entry *e, int64_t size)
{
	if (size < 0 || (uint64_t)e->bodyn >= (uint64_t)size)
		return 0;
	return fail(h, e->line,
	    "entry %zu: postData.text holds %zu bytes, but the request had "
	    "%lld (bodySize or Content-Length): the exporter cut the body "
	    "short",
	    e->index, e->bodyn, (long long)size);
}

/*
 * postData.text, decoded.  No postData (or no text) is an empty body,
 * unless the entry says there was one (declared_size): then the exporter
 * left it out, and an empty body would only fail its signature check
 * later.  Text shorter than that was cut short by the exporter.
 */
static int
post_data(struct har *h, struct json_span req, char **d, struct har_entry *e)
{
	struct json_span pd, v;
	struct json_iter it;
	const char *text, *enc;
	size_t textn, encn, bin;
	int64_t size = declared_size(req, e);

	e->body = "";
	e->bodyn = 0;
	if (!json_object_get(req, "postData", 8, &pd) || pd.type == JSON_NULL)
		goto none;
	if (pd.type != JSON_OBJECT)
		return fail(h, e->line, "entry %zu: postData is not an object",
		    e->index);
	if (!json_object_get(pd, "text", 4, &v)) {
		if (json_object_get(pd, "params", 6, &v) &&
		    v.type == JSON_ARRAY) {
			json_iter_init(&it, v);
			if (json_iter_elem(&it, &v))
				return fail(h, e->line,
				    "entry %zu: postData holds form params, "
				    "not the body's text",
				    e->index);
		}
		goto none;
	}
	if (get_str(pd, "text", d, &text, &textn) != 0)
		return fail(h, e->line,
		    "entry %zu: postData.text is not a string", e->index);
	if (textn == 0)
		goto none;
	e->body = text;
	e->bodyn = textn;
	/* No encoding: absent, null or "" (exporters write all three). */
	if (!json_object_get(pd, "encoding", 8, &v) || v.type == JSON_NULL ||
	    (v.type == JSON_STRING && v.n == 2))
		return short_body(h, e, size);
	if (get_str(pd, "encoding", d, &enc, &encn) != 0 ||
	    (encn != 6 || memcmp(enc, "base64", 6) != 0))
		return fail(h, e->line,
		    "entry %zu: unsupported postData.encoding (only base64)",
		    e->index);
	if (base64(text, textn, *d, &bin) != 0)
		return fail(h, e->line,
		    "entry %zu: postData.text is not valid base64", e->index);
	/*
	 * Not checked against the size: exporters differ on whether it is
	 * the size of the text or of the bytes it encodes.
	 */
	e->body = *d;
	e->bodyn = bin;
	*d += bin;
	return 0;
none:
	if (size > 0)
		return fail(h, e->line,
		    "entry %zu: no postData.text, but the request had a body "
		    "of %lld bytes (bodySize or Content-Length): the exporter "
		    "left it out",
		    e->index, (long long)size);
	return 0;
}

int
har_next(struct har *h, struct har_entry *e)
{
	struct json_span ent, req, v;
	const char *s, *url;
	size_t n, urln;
	char *d;

	while (json_iter_elem(&h->it, &ent)) {
		memset(e, 0, sizeof(*e));
		e->index = h->index++;
		e->line = line_at(h, ent.p);
		if (ent.type != JSON_OBJECT)
			return fail(
			    h, e->line, "entry %zu is not an object", e->index);
		if (!json_object_get(ent, "request", 7, &req) ||
		    req.type != JSON_OBJECT)
			return fail(h, e->line, "entry %zu: no request object",
			    e->index);
		if (!json_object_get(req, "method", 6, &v) ||
		    v.type != JSON_STRING)
			return fail(h, e->line,
			    "entry %zu: request.method is not a string",
			    e->index);
		if (!json_str_eq(v, "POST", 4)) {
			h->nskipped++;
			continue;
		}
		/*
		 * Every decoded string is shorter than its text in the
		 * entry, and base64 shorter than its text again: twice the
		 * entry (and a '/' for a path) is room for all of them.
		 */
		if (2 * ent.n + 16 > h->cap) {
			free(h->buf);
			h->cap = 2 * ent.n + 16;
			h->buf = xmalloc(h->cap);
		}
		d = h->buf;
		if (get_str(ent, "startedDateTime", &d, &s, &n) != 0 ||
		    received_at(s, n, e->received_at) != 0)
			return fail(h, e->line,
			    "entry %zu: startedDateTime is not an ISO 8601 "
			    "date-time",
			    e->index);
		if (get_str(req, "url", &d, &url, &urln) != 0 ||
		    url_path(url, urln, d, &e->path, &e->pathn) != 0)
			return fail(h, e->line,
			    "entry %zu: request.url is not a URL", e->index);
		d += urln + 1;
		if (headers(h, req, &d, &e->nh, e->line, e->index) != 0)
			return -1;
		e->h = h->h;
		if (post_data(h, req, &d, e) != 0)
			return -1;
		return 1;
	}
	return 0;
}
