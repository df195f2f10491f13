/*
 * httpframe.c - request framing checks; see httpframe.h.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "httpframe.h"

/* tchar of RFC 9110 section 5.6.2. */
static int
is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return 1;
	switch (c) {
	case '!':
	case '#':
	case '$':
	case '%':
	case '&':
	case '\'':
	case '*':
	case '+':
	case '-':
	case '.':
	case '^':
	case '_':
	case '`':
	case '|':
	case '~':
		return 1;
	default:
		return 0;
	}
}

static int
is_token(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_tchar((unsigned char)s[i]))
			return 0;
	return 1;
}

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* The value without the optional white space around it. */
static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && is_ows((*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_ows((*s)[*n - 1]))
		(*n)--;
}

/* s[0..n) is lit, a lower-case string, ignoring the case of letters. */
static int
same(const char *s, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i];

		if (lit[i] == '\0' || c != lit[i])
			return 0;
	}
	return lit[n] == '\0';
}

static int
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') ||
	    ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/*
 * A Host value (RFC 9110 section 7.2, RFC 3986 section 3.2.2): empty, or
 * a host and an optional ":port", the host a reg-name or an IP literal in
 * brackets.
 */
static int
host_ok(const char *s, size_t n)
{
	size_t i = 0;

	if (n > 0 && s[0] == '[') {
		for (i = 1; i < n && s[i] != ']'; i++)
			if (!is_hex((unsigned char)s[i]) && s[i] != ':' &&
			    s[i] != '.' && s[i] != 'v' && s[i] != 'V')
				return 0;
		if (i == n || i == 1)
			return 0;
		i++;
	} else {
		for (; i < n && s[i] != ':'; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '%') {
				if (i + 2 >= n ||
				    !is_hex((unsigned char)s[i + 1]) ||
				    !is_hex((unsigned char)s[i + 2]))
					return 0;
				i += 2;
				continue;
			}
			/* unreserved and sub-delims */
			if (!((c >= '0' && c <= '9') ||
				((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
				c == '-' || c == '.' || c == '_' || c == '~' ||
				c == '!' || c == '$' || c == '&' || c == '\'' ||
				c == '(' || c == ')' || c == '*' || c == '+' ||
				c == ',' || c == ';' || c == '='))
				return 0;
		}
	}
	if (i == n)
		return 1;
	if (s[i] != ':')
		return 0;
	for (i++; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static void
refuse(struct httpframe *f, int status, const char *why)
{
	if (f->status == 0) {
		f->status = status;
		f->why = why;
	}
}

void
httpframe_start(struct httpframe *f, const char *method, size_t methodn,
    const char *target, size_t targetn, const char *version, size_t versionn)
{
	size_t i;

	*f = (struct httpframe){ 0 };
	f->body = HTTPFRAME_NONE;
	if (!is_token(method, methodn))
		refuse(f, 400, "invalid method");
	if (targetn == 0)
		refuse(f, 400, "empty request target");
	for (i = 0; i < targetn; i++)
		if ((unsigned char)target[i] <= 0x20 ||
		    (unsigned char)target[i] >= 0x7f) {
			refuse(f, 400, "invalid byte in the request target");
			break;
		}
	/* HTTP-version is case-sensitive (RFC 9112 section 2.3). */
	if (versionn != 8 || memcmp(version, "HTTP/1.", 7) != 0 ||
	    version[7] < '0' || version[7] > '9')
		refuse(f, 505, "unsupported HTTP version");
	else
		f->http10 = version[7] == '0';
}

/* One transfer coding of a list: a token and its parameters. */
static void
te_coding(struct httpframe *f, const char *c, size_t n)
{
	size_t t = 0;

	while (t < n && is_tchar((unsigned char)c[t]))
		t++;
	if (t == 0) {
		f->te_bad = 1;
		return;
	}
	f->te_codings++;
	if (same(c, t, "chunked")) {
		/* chunked takes no parameters. */
		if (t != n)
			f->te_bad = 1;
		f->te_chunked++;
		f->te_last_chunked = 1;
		return;
	}
	f->te_other = 1;
	f->te_last_chunked = 0;
}

/* One Transfer-Encoding line: a list of transfer codings. */
static void
te_line(struct httpframe *f, const char *v, size_t n)
{
	size_t i = 0, s, e;

	/* What libmicrohttpd reads as chunked, after leading white space. */
	if (f->tes == 1) {
		for (s = 0; s < n && is_ows(v[s]); s++)
			;
		f->te_exact = n - s == 7 && same(v + s, 7, "chunked");
	}
	while (i < n) {
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		if (i < n)
			i++; /* the comma */
		while (s < e && is_ows(v[s]))
			s++;
		while (e > s && is_ows(v[e - 1]))
			e--;
		/* Empty list elements do not count (RFC 9110 5.6.1). */
		if (s < e)
			te_coding(f, v + s, e - s);
	}
}

void
httpframe_field(struct httpframe *f, const char *name, size_t namen,
    const char *val, size_t valn)
{
	size_t i;

	if (!is_token(name, namen)) {
		refuse(f, 400, "invalid header name");
		return;
	}
	for (i = 0; i < valn; i++) {
		unsigned char c = (unsigned char)val[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			refuse(f, 400, "control character in a header value");
			return;
		}
	}
	if (same(name, namen, "host")) {
		f->hosts++;
		trim(&val, &valn);
		if (!host_ok(val, valn))
			refuse(f, 400, "invalid Host");
	} else if (same(name, namen, "content-length")) {
		uint64_t v = 0;

		f->lengths++;
		trim(&val, &valn);
		if (valn == 0)
			refuse(f, 400, "invalid Content-Length");
		for (i = 0; i < valn; i++) {
			unsigned d = (unsigned)(unsigned char)val[i] - '0';

			if (d > 9) {
				refuse(f, 400, "invalid Content-Length");
				return;
			}
			if (v > (UINT64_MAX - d) / 10) {
				refuse(f, 413, "Content-Length too large");
				return;
			}
			v = v * 10 + d;
		}
		f->length = v;
	} else if (same(name, namen, "transfer-encoding")) {
		f->tes++;
		te_line(f, val, valn);
	}
}

int
httpframe_end(struct httpframe *f)
{
	if (f->status != 0)
		return f->status;
	if (f->hosts > 1)
		refuse(f, 400, "more than one Host");
	else if (f->hosts == 0 && !f->http10)
		refuse(f, 400, "no Host");
	else if (f->lengths > 1)
		refuse(f, 400, "more than one Content-Length");
	else if (f->tes > 0) {
		if (f->http10)
			refuse(f, 400, "Transfer-Encoding in HTTP/1.0");
		else if (f->lengths > 0)
			refuse(f, 400,
			    "both Content-Length and Transfer-Encoding");
		else if (f->te_bad || f->te_codings == 0)
			refuse(f, 400, "invalid Transfer-Encoding");
		else if (!f->te_last_chunked)
			refuse(
			    f, 400, "chunked is not the final transfer coding");
		else if (f->te_chunked > 1)
			refuse(f, 400, "chunked more than once");
		else if (f->te_other)
			refuse(f, 501, "unsupported transfer coding");
		else if (f->tes > 1 || !f->te_exact)
			refuse(f, 400,
			    "Transfer-Encoding other than chunked alone");
		else
			f->body = HTTPFRAME_CHUNKED;
	} else if (f->lengths == 1)
		f->body = HTTPFRAME_LENGTH;
	if (f->status != 0)
		f->body = HTTPFRAME_NONE;
	return f->status;
}
