/*
 * httpdump.c - raw HTTP/1.1 requests; see httpdump.h.
 *
 * Each call parses from the start of the request again: the caller keeps
 * the incomplete request's bytes and calls once more when it has read more,
 * growing its buffer geometrically, so the work stays linear in the bytes.
 * Checks run in the order of the bytes, and a check that fails on a prefix
 * fails on every longer input the same way, so where the input is cut into
 * pieces never changes the outcome.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "httpdump.h"

typedef unsigned char uchar;

void
httpdump_init(struct httpdump *d, size_t max_req)
{
	memset(d, 0, sizeof(*d));
	d->max_req = max_req;
	d->line = 1;
}

void
httpdump_free(struct httpdump *d)
{
	free(d->body);
	d->body = NULL;
	d->bodycap = 0;
}

static enum httpdump_status fail(struct httpdump *d, unsigned long line,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum httpdump_status
fail(struct httpdump *d, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	d->errline = line;
	/* httpdump_resync skips the failed request's first line first. */
	d->midline = 1;
	va_start(ap, fmt);
	vsnprintf(d->err, sizeof(d->err), fmt, ap);
	va_end(ap);
	return HTTPDUMP_ERROR;
}

/* RFC 9110 tchar: the bytes of a method or a field name. */
static int
tchar(uchar c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') ||
	    (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static size_t
count_nl(const char *p, const char *e)
{
	size_t k = 0;

	while ((p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
		k++;
		p++;
	}
	return k;
}

/* The end of a line's content: before its LF and a CR right before it. */
static const char *
content_end(const char *s, const char *lf)
{
	return lf > s && lf[-1] == '\r' ? lf - 1 : lf;
}

/*
 * METHOD SP TARGET SP HTTP/1.x over [s, e).  Returns 0 and fills the
 * request's fields, or -1 with the reason in *why: NULL when the line is no
 * request line at all, else a more precise one.
 */
static int
request_line(
    const char *s, const char *e, struct httpdump_req *r, const char **why)
{
	const char *m = s, *t, *v, *x;

	*why = NULL;
	while (s < e && tchar((uchar)*s))
		s++;
	if (s == m || s == e || *s != ' ')
		return -1;
	t = ++s;
	while (s < e && (uchar)*s > ' ' && *s != 0x7f)
		s++;
	if (s == t || s == e || *s != ' ')
		return -1;
	v = s + 1;
	if (e - v < 5 || memcmp(v, "HTTP/", 5) != 0)
		return -1;
	for (x = v; x < e; x++)
		if ((uchar)*x <= ' ' || *x == 0x7f)
			return -1;
	if (e - v != 8 || v[5] != '1' || v[6] != '.' ||
	    (v[7] != '0' && v[7] != '1')) {
		*why = "unsupported HTTP version (only HTTP/1.0 and HTTP/1.1)";
		return -1;
	}
	r->method = m;
	r->methodn = (size_t)(t - 1 - m);
	r->target = t;
	r->targetn = (size_t)(s - t);
	r->minor = v[7] - '0';
	return 0;
}

/*
 * Why the line [s, e) that should start a request may not: the usual
 * mistakes, as a parenthesised hint, or "".
 */
static const char *
not_request_hint(const struct httpdump *d, const char *s, const char *e)
{
	size_t n = (size_t)(e - s);

	if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		return " (a byte-order mark before it: an editor saved the "
		       "dump)";
	if (n > 0 && (e[-1] == ' ' || e[-1] == '\t') &&
	    memmem(s, n, " HTTP/1.", 8) != NULL)
		return " (white space after the HTTP version)";
	if (n > 0 && s[0] == '{')
		return " (it reads as JSON: a HAR archive takes --har, a bare "
		       "body --body, and captures need no closehook-capture)";
	if ((n >= 8 && memcmp(s, "== Info:", 8) == 0) ||
	    (n >= 2 && memcmp(s, "=>", 2) == 0))
		return " (it reads as curl's --trace-ascii output, not the "
		       "request as sent)";
	if (d->last_cl)
		return " (is the Content-Length of the request before it "
		       "right?)";
	return "";
}

/* NAME ":" OWS VALUE OWS over [s, e), the CR of CRLF already gone. */
static enum httpdump_status
field_line(struct httpdump *d, const char *s, const char *e, unsigned long line,
    struct httpdump_field *f)
{
	const char *n = s, *v;

	if (*s == ' ' || *s == '\t')
		return fail(d, line,
		    "header line begins with white space (obs-fold: a folded "
		    "header is not accepted)");
	if (memchr(s, ':', (size_t)(e - s)) == NULL)
		return fail(d, line, "header line without a colon");
	while (s < e && tchar((uchar)*s))
		s++;
	if (*s != ':') {
		for (v = s; *v == ' ' || *v == '\t'; v++)
			;
		if (*v == ':')
			return fail(d, line,
			    "white space between a header name and its colon");
		return fail(d, line, "invalid character in a header name");
	}
	if (s == n)
		return fail(d, line, "header line with an empty name");
	f->name = n;
	f->namen = (size_t)(s - n);
	f->line = line;
	v = s + 1;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	f->val = v;
	f->valn = (size_t)(e - v);
	if (httpdump_value_ctl(f->val, f->valn) < f->valn)
		return fail(d, line,
		    "control character in the value of header %.*s",
		    (int)(f->namen > 64 ? 64 : f->namen), f->name);
	return HTTPDUMP_REQUEST;
}

size_t
httpdump_value_ctl(const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((uchar)v[i] < ' ' && v[i] != '\t') || v[i] == 0x7f)
			break;
	return i;
}

int
httpdump_content_length(const char *s, size_t n, uint64_t *v)
{
	const char *e = s + n;
	uint64_t x;
	int have = 0;

	for (;;) {
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		if (s == e || *s < '0' || *s > '9')
			return -1;
		for (x = 0; s < e && *s >= '0' && *s <= '9'; s++) {
			if (x > (UINT64_MAX - 9) / 10)
				return -1;
			x = x * 10 + (uint64_t)(*s - '0');
		}
		if (have && x != *v)
			return -2;
		*v = x;
		have = 1;
		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		if (s == e)
			return 0;
		if (*s++ != ',')
			return -1;
	}
}

/* Room for n body bytes in the decoded body. */
static void
body_room(struct httpdump *d, size_t n)
{
	size_t cap = d->bodycap == 0 ? 4096 : d->bodycap;
	char *b;

	if (n <= d->bodycap)
		return;
	while (cap < n)
		cap *= 2;
	b = xrealloc(d->body, cap);
	d->body = b;
	d->bodycap = cap;
}

/*
 * The chunked body's next line, at s: its newline in *lf and HTTPDUMP_REQUEST,
 * or HTTPDUMP_MORE when it has not all come yet, or the request's error
 * (r->line: where it began) when it cannot fit in max_req bytes from req or
 * the input ended before it.
 */
static enum httpdump_status
chunk_line(struct httpdump *d, const char *req, const char *s, const char *e,
    int eof, const struct httpdump_req *r, const char **lf)
{
	*lf = memchr(s, '\n', (size_t)(e - s));
	if (*lf == NULL) {
		if ((size_t)(e - req) >= d->max_req)
			return fail(d, r->line, "request larger than %zu bytes",
			    d->max_req);
		if (eof)
			return fail(d, r->line, "truncated chunked body");
		return HTTPDUMP_MORE;
	}
	if ((size_t)(*lf + 1 - req) > d->max_req)
		return fail(
		    d, r->line, "request larger than %zu bytes", d->max_req);
	return HTTPDUMP_REQUEST;
}

/*
 * A chunked body from s: chunk-size [; ext] CRLF data CRLF ..., "0" CRLF,
 * trailer fields, CRLF.  req is where the request began (for the size
 * bound), line the line number at s.  Sets *end past the body.
 */
static enum httpdump_status
chunked(struct httpdump *d, const char *req, const char *s, const char *e,
    int eof, unsigned long line, struct httpdump_req *r, const char **end)
{
	const char *lf, *ce, *x;
	uint64_t size;
	size_t bodyn = 0;
	unsigned long sline;
	enum httpdump_status st;
	int empty;

	for (;;) {
		/* The chunk size line. */
		sline = line;
		if ((st = chunk_line(d, req, s, e, eof, r, &lf)) !=
		    HTTPDUMP_REQUEST)
			return st;
		ce = content_end(s, lf);
		size = 0;
		for (x = s; x < ce &&
		     ((*x >= '0' && *x <= '9') || (*x >= 'a' && *x <= 'f') ||
			 (*x >= 'A' && *x <= 'F'));
		     x++) {
			if (size > d->max_req)
				goto big;
			size = size * 16 +
			    (uint64_t)(*x <= '9' ? *x - '0'
						 : (*x | 0x20) - 'a' + 10);
		}
		if (x == s)
			return fail(d, sline, "invalid chunk size line");
		while (x < ce && (*x == ' ' || *x == '\t'))
			x++;
		/* A chunk extension (";name=value") is ignored. */
		if (x < ce && *x != ';')
			return fail(d, sline, "invalid chunk size line");
		s = lf + 1;
		line++;
		/* The data and its line end must fit. */
		if (size > d->max_req ||
		    (size_t)(s - req) + size + 2 > d->max_req)
			goto big;
		if (size == 0)
			break;
		/* The data and the line end after it. */
		if ((size_t)(e - s) < size + 1 ||
		    ((size_t)(e - s) == size + 1 && s[size] == '\r')) {
			if (eof)
				goto truncated;
			return HTTPDUMP_MORE;
		}
		x = s + size;
		if (*x == '\r')
			x++;
		if (*x != '\n')
			return fail(d, sline,
			    "chunk data not followed by a line end (is the "
			    "chunk size right?)");
		body_room(d, bodyn + size);
		memcpy(d->body + bodyn, s, size);
		bodyn += size;
		line += (unsigned long)count_nl(s, x + 1);
		s = x + 1;
	}
	/* Trailer fields, ignored, up to the empty line. */
	for (;;) {
		if ((st = chunk_line(d, req, s, e, eof, r, &lf)) !=
		    HTTPDUMP_REQUEST)
			return st;
		empty = content_end(s, lf) == s;
		s = lf + 1;
		line++;
		if (empty)
			break;
	}
	r->body = d->body != NULL ? d->body : "";
	r->bodyn = bodyn;
	r->chunked = 1;
	*end = s;
	return HTTPDUMP_REQUEST;
big:
	return fail(d, r->line, "request larger than %zu bytes", d->max_req);
truncated:
	return fail(d, r->line, "truncated chunked body");
}

/* Only spaces, tabs, CRs and LFs: what may come between requests. */
static int
ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* "chunked", the one transfer coding taken (case-insensitive). */
static int
is_chunked(const struct httpdump_field *f)
{
	return f->valn == 7 && strncasecmp(f->val, "chunked", 7) == 0;
}

/* The header named name (lower-case), ASCII case ignored. */
static int
is_name(const struct httpdump_field *f, const char *name, size_t n)
{
	return f->namen == n && strncasecmp(f->name, name, n) == 0;
}

/*
 * An interim response (HTTP/1.1 100 Continue, its fields, an empty line)
 * at *sp: moved past, with *line counting its lines.  HTTPDUMP_MORE when
 * it may be one but is not all there yet; HTTPDUMP_REQUEST otherwise.
 */
static enum httpdump_status
skip_interim(const char **sp, const char *e, int eof, unsigned long *line)
{
	const char *s = *sp, *x, *lf;
	size_t k = (size_t)(e - s) < 7 ? (size_t)(e - s) : 7;

	if (memcmp(s, "HTTP/1.", k) != 0)
		return HTTPDUMP_REQUEST;
	if ((lf = memchr(s, '\n', (size_t)(e - s))) == NULL)
		return eof ? HTTPDUMP_REQUEST : HTTPDUMP_MORE;
	if (!httpdump_status_line(s, content_end(s, lf)) || s[9] != '1')
		return HTTPDUMP_REQUEST;
	for (x = lf + 1;; x = lf + 1) {
		if ((lf = memchr(x, '\n', (size_t)(e - x))) == NULL)
			return eof ? HTTPDUMP_REQUEST : HTTPDUMP_MORE;
		if (content_end(x, lf) == x)
			break;
	}
	*line += (unsigned long)count_nl(s, lf + 1);
	*sp = lf + 1;
	return HTTPDUMP_REQUEST;
}

/* Does the line [s, e) (no LF) read as a request line or a status line? */
static int
starts_message(const char *s, const char *e)
{
	struct httpdump_req r;
	const char *why;

	/* As long as an incomplete line httpdump_resync drops: never. */
	if ((size_t)(e - s) >= HTTPDUMP_MAX_HEAD)
		return 0;
	if (s < e && e[-1] == '\r')
		e--;
	return request_line(s, e, &r, &why) == 0 || httpdump_status_line(s, e);
}

/*
 * After a request without Content-Length or Transfer-Encoding, which has
 * no body, the next bytes must be the next request, a response (a dump of
 * both directions) or the end (after white space): anything else is a body
 * that came without a length.  s is the end
 * of the head.  Returns HTTPDUMP_REQUEST when there is no body.
 */
static enum httpdump_status
no_body(struct httpdump *d, const char *s, const char *e, int eof, size_t limit,
    const struct httpdump_req *r)
{
	const char *x = s, *lf;

	/* White space and the next line: fewer than limit bytes. */
	while (x < e && ws(*x))
		x++;
	if ((size_t)(x - s) >= limit)
		goto body;
	if (x == e)
		return eof ? HTTPDUMP_REQUEST : HTTPDUMP_MORE;
	lf = memchr(x, '\n', (size_t)(e - x));
	if ((size_t)((lf != NULL ? lf : e) - s) >= limit)
		goto body;
	if (lf == NULL && !eof)
		return HTTPDUMP_MORE;
	if (starts_message(x, lf != NULL ? lf : e))
		return HTTPDUMP_REQUEST;
body:
	return fail(d, r->line,
	    "a body without Content-Length or Transfer-Encoding: chunked");
}

enum httpdump_status
httpdump_next(struct httpdump *d, const char *p, size_t n, int eof,
    struct httpdump_req *r, size_t *used)
{
	const char *s = p, *e = p + n, *req, *lf, *ce, *end = NULL, *why;
	size_t limit =
	    d->max_req < HTTPDUMP_MAX_HEAD ? d->max_req : HTTPDUMP_MAX_HEAD;
	const struct httpdump_field *f, *clf = NULL, *tef = NULL;
	enum httpdump_status st;
	unsigned long line;
	uint64_t cl = 0, v = 0;
	size_t nf = 0, i;
	int rc;

	memset(r, 0, sizeof(*r));
	/*
	 * White space before a request is skipped (RFC 9112 section 2.2
	 * allows empty lines; editors and copies add others), and taken at
	 * once, so that the caller need not keep it.
	 */
	while (s < e && ws(*s))
		s++;
	d->line += (unsigned long)count_nl(p, s);
	*used = (size_t)(s - p);
	if (s == e)
		return eof ? HTTPDUMP_END : HTTPDUMP_MORE;
	req = s;
	line = r->line = d->line;

	/* The request line and the header fields, up to the empty line. */
	for (;;) {
		lf = memchr(s, '\n', (size_t)(e - s));
		if ((lf != NULL && (size_t)(lf + 1 - req) > limit) ||
		    (lf == NULL && (size_t)(e - req) >= limit))
			return fail(d, r->line,
			    "header section longer than %zu bytes", limit);
		if (lf == NULL && !eof)
			return HTTPDUMP_MORE;
		if (lf == NULL && s == e)
			goto truncated;
		ce = lf != NULL ? content_end(s, lf) : e;
		if (s == req) {
			if (request_line(s, ce, r, &why) == 0)
				;
			else if (httpdump_status_line(s, ce))
				/* A response: framed, for the caller to skip. */
				r->status = (s[9] - '0') * 100 +
				    (s[10] - '0') * 10 + (s[11] - '0');
			else if (why != NULL)
				return fail(d, line, "%s", why);
			else
				return fail(d, line,
				    "not an HTTP/1.1 request line%s",
				    not_request_hint(d, s, ce));
		} else if (ce == s && lf != NULL) {
			s = lf + 1;
			line++;
			break;
		} else {
			if (nf == HTTPDUMP_MAX_FIELDS)
				return fail(d, line,
				    "more than %d header fields",
				    HTTPDUMP_MAX_FIELDS);
			if (field_line(d, s, ce, line, &d->f[nf]) ==
			    HTTPDUMP_ERROR)
				return HTTPDUMP_ERROR;
			nf++;
		}
		if (lf == NULL)
			goto truncated;
		s = lf + 1;
		line++;
	}
	r->f = d->f;
	r->nf = nf;

	/* How the body is framed (RFC 9112 section 6). */
	for (i = 0; i < nf; i++) {
		f = &d->f[i];
		if (is_name(f, "content-length", 14)) {
			rc = httpdump_content_length(f->val, f->valn, &v);
			if (rc == -2)
				return fail(d, f->line,
				    "two different Content-Length values in "
				    "one header");
			if (rc != 0)
				return fail(
				    d, f->line, "invalid Content-Length value");
			if (clf != NULL && v != cl)
				return fail(d, f->line,
				    "two different Content-Length values "
				    "(%llu and %llu)",
				    (unsigned long long)cl,
				    (unsigned long long)v);
			cl = v;
			clf = f;
		} else if (is_name(f, "transfer-encoding", 17)) {
			if (tef != NULL || !is_chunked(f))
				return fail(d, f->line,
				    "unsupported Transfer-Encoding (only "
				    "chunked is read)");
			tef = f;
		}
	}
	if (r->status != 0 &&
	    (r->status < 200 || r->status == 204 || r->status == 304)) {
		/* A response that has no body, whatever its fields say. */
		r->body = s;
		r->bodyn = 0;
		end = s;
		goto framed;
	}
	if (tef != NULL && clf != NULL)
		return fail(d, tef->line,
		    "both Transfer-Encoding and Content-Length: the body's "
		    "length is ambiguous");
	/*
	 * A request that asked for a 100 Continue, in a dump of both
	 * directions: the interim response sits between its head and its
	 * body.
	 */
	for (i = 0; i < nf && r->status == 0 && (tef != NULL || cl > 0); i++)
		if (is_name(&d->f[i], "expect", 6)) {
			st = skip_interim(&s, e, eof, &line);
			if (st != HTTPDUMP_REQUEST)
				return st;
			break;
		}
	if (tef != NULL) {
		st = chunked(d, req, s, e, eof, line, r, &end);
		if (st != HTTPDUMP_REQUEST)
			return st;
	} else if (clf != NULL) {
		if (cl > d->max_req || (size_t)(s - req) + cl > d->max_req)
			return fail(d, r->line, "request larger than %zu bytes",
			    d->max_req);
		if ((uint64_t)(e - s) < cl) {
			if (!eof)
				return HTTPDUMP_MORE;
			return fail(d, r->line,
			    "truncated body: Content-Length is %llu, %zu bytes "
			    "follow",
			    (unsigned long long)cl, (size_t)(e - s));
		}
		r->body = s;
		r->bodyn = (size_t)cl;
		end = s + cl;
	} else {
		st = no_body(d, s, e, eof, limit, r);
		if (st != HTTPDUMP_REQUEST)
			return st;
		r->body = s;
		r->bodyn = 0;
		end = s;
	}
framed:
	d->last_cl = clf != NULL;
	d->line += (unsigned long)count_nl(req, end);
	*used = (size_t)(end - p);
	return r->status != 0 ? HTTPDUMP_RESPONSE : HTTPDUMP_REQUEST;
truncated:
	return fail(
	    d, r->line, "truncated header section (no empty line after it)");
}

int
httpdump_status_line(const char *s, const char *e)
{
	return e - s >= 12 && memcmp(s, "HTTP/1.", 7) == 0 &&
	    (s[7] == '0' || s[7] == '1') && s[8] == ' ' && s[9] >= '1' &&
	    s[9] <= '5' && s[10] >= '0' && s[10] <= '9' && s[11] >= '0' &&
	    s[11] <= '9' && (e - s == 12 || s[12] == ' ');
}

/* The known methods, for a request line glued to the body before it. */
static const char *const methods[] = { "OPTIONS", "DELETE", "PATCH", "POST",
	"HEAD", "PUT", "GET" };

/*
 * A message that starts after lo in the line ending at lf (LF excluded),
 * glued to what came before it (nc writes a request right after the
 * body before it, with no line end between): a request line that ends the
 * line, its method one of the known ones; or a status line.  Only the
 * last RESYNC_TAIL bytes of a line are looked at, the part resync keeps of
 * a line too long to hold, so a line gives the same answer in any pieces.
 */
static const char *
message_in_line(const char *lo, const char *lf)
{
	const char *e = content_end(lo, lf), *v, *t, *x;
	size_t i, mn;

	if (lf - lo > RESYNC_TAIL)
		lo = lf - RESYNC_TAIL;
	/* A status line: its first "HTTP/1." after lo that reads as one. */
	for (x = lo + 1; x + 12 <= e &&
	     (x = memmem(x, (size_t)(e - x), "HTTP/1.", 7)) != NULL;
	     x++)
		if (httpdump_status_line(x, e))
			return x;
	/* A request line: " TARGET HTTP/1.x" at the end, a method before. */
	if (e - lo < 12 || e[-9] != ' ' || memcmp(e - 8, "HTTP/1.", 7) != 0 ||
	    (e[-1] != '0' && e[-1] != '1'))
		return NULL;
	v = e - 9;
	for (t = v; t > lo && (uchar)t[-1] > ' ' && t[-1] != 0x7f; t--)
		;
	if (t == v || t - 1 <= lo || t[-1] != ' ')
		return NULL;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		mn = strlen(methods[i]);
		x = t - 1 - mn;
		if (x > lo && memcmp(x, methods[i], mn) == 0)
			return x;
	}
	return NULL;
}

enum httpdump_status
httpdump_resync(
    struct httpdump *d, const char *p, size_t n, int eof, size_t *used)
{
	const char *s = p, *e = p + n, *lf, *m;

	for (;;) {
		lf = memchr(s, '\n', (size_t)(e - s));
		/*
		 * The rest of the line the skip began in, or is in: kept
		 * back to its last RESYNC_TAIL bytes, where a message glued
		 * to it may start.
		 */
		if (d->midline) {
			if (lf == NULL) {
				*used = n > RESYNC_TAIL ? n - RESYNC_TAIL : 0;
				return eof ? HTTPDUMP_END : HTTPDUMP_MORE;
			}
			d->midline = 0;
			if ((m = message_in_line(s, lf)) != NULL)
				goto found;
			d->line++;
			s = lf + 1;
			continue;
		}
		if (lf == NULL && !eof) {
			/* Keep an incomplete line unless it cannot be one. */
			if ((size_t)(e - s) >= HTTPDUMP_MAX_HEAD) {
				d->midline = 1;
				s = e - RESYNC_TAIL;
			}
			*used = (size_t)(s - p);
			return HTTPDUMP_MORE;
		}
		if (s < e && starts_message(s, lf != NULL ? lf : e)) {
			m = s;
			goto found;
		}
		if (lf == NULL) {
			*used = n;
			return HTTPDUMP_END;
		}
		if ((m = message_in_line(s, lf)) != NULL)
			goto found;
		d->line++;
		s = lf + 1;
	}
found:
	*used = (size_t)(m - p);
	d->last_cl = 0;
	return HTTPDUMP_REQUEST;
}
