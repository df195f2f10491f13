/*
 * fuzz-httpframe.c - libFuzzer target for the request framing checks: the
 * input is a request head ("METHOD TARGET VERSION", then "Name:value"
 * lines, split at LF), checked without a crash; a head that passes is
 * checked again here, the simple way, against what the result claims: the
 * method a token, at most one Host (one for HTTP/1.1), at most one
 * Content-Length with the length it holds, a chunked body only for one
 * Transfer-Encoding line saying exactly "chunked" and no Content-Length,
 * no body without either.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpframe.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Lines of name n among the fields of d[0..size) after the first line. */
static unsigned
count(
    const char *d, size_t size, const char *n, const char **last, size_t *lastn)
{
	size_t nn = strlen(n), i = 0;
	unsigned k = 0;

	while (i < size && d[i] != '\n')
		i++;
	while (i < size) {
		const char *l = d + ++i, *e = memchr(l, '\n', size - i);
		size_t len = e != NULL ? (size_t)(e - l) : size - i;

		if (len > nn && l[nn] == ':' && strncasecmp(l, n, nn) == 0) {
			k++;
			*last = l + nn + 1;
			*lastn = len - nn - 1;
		}
		i += len;
	}
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data, *line, *sp1, *sp2, *colon, *v;
	struct httpframe f, g;
	size_t i, n, vn, k;
	int st;

	line = d;
	n = memchr(d, '\n', size) != NULL
	    ? (size_t)((const char *)memchr(d, '\n', size) - d)
	    : size;
	if ((sp1 = memchr(line, ' ', n)) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - line))) == NULL)
		return 0;
	httpframe_start(&f, line, (size_t)(sp1 - line), sp1 + 1,
	    (size_t)(sp2 - sp1 - 1), sp2 + 1, n - (size_t)(sp2 + 1 - line));
	for (i = n; i < size;) {
		line = d + ++i;
		v = memchr(line, '\n', size - i);
		k = v != NULL ? (size_t)(v - line) : size - i;
		if ((colon = memchr(line, ':', k)) != NULL)
			httpframe_field(&f, line, (size_t)(colon - line),
			    colon + 1, k - (size_t)(colon + 1 - line));
		i += k;
	}
	g = f;
	st = httpframe_end(&f);
	/* A second end changes nothing. */
	if (httpframe_end(&f) != st || httpframe_end(&g) != st)
		abort();
	if (st != 0 && st != 400 && st != 413 && st != 501 && st != 505)
		abort();
	if ((st == 0) != (f.why == NULL))
		abort();
	if (st != 0) {
		if (f.body != HTTPFRAME_NONE)
			abort();
		return 0;
	}
	/* Accepted: the method is a token, the target printable. */
	for (i = 0; d + i < sp1; i++)
		if (strchr("!#$%&'*+-.^_`|~", d[i]) == NULL &&
		    !(d[i] >= '0' && d[i] <= '9') &&
		    !((d[i] | 0x20) >= 'a' && (d[i] | 0x20) <= 'z'))
			abort();
	for (v = sp1 + 1; v < sp2; v++)
		if ((unsigned char)*v <= 0x20 || (unsigned char)*v >= 0x7f)
			abort();
	if (count(d, size, "host", &v, &vn) > 1)
		abort();
	if (count(d, size, "host", &v, &vn) == 0 && sp2[8] != '0')
		abort();
	switch (f.body) {
	case HTTPFRAME_NONE:
		if (count(d, size, "content-length", &v, &vn) != 0 ||
		    count(d, size, "transfer-encoding", &v, &vn) != 0)
			abort();
		break;
	case HTTPFRAME_LENGTH: {
		uint64_t len = 0;

		if (count(d, size, "content-length", &v, &vn) != 1 ||
		    count(d, size, "transfer-encoding", &v, &vn) != 0)
			abort();
		count(d, size, "content-length", &v, &vn);
		for (i = 0; i < vn; i++)
			if (v[i] >= '0' && v[i] <= '9')
				len = len * 10 + (uint64_t)(v[i] - '0');
			else if (v[i] != ' ' && v[i] != '\t')
				abort();
		if (len != f.length)
			abort();
		break;
	}
	case HTTPFRAME_CHUNKED:
		if (count(d, size, "content-length", &v, &vn) != 0 ||
		    count(d, size, "transfer-encoding", &v, &vn) != 1)
			abort();
		while (vn > 0 && (*v == ' ' || *v == '\t'))
			v++, vn--;
		if (vn != 7 || strncasecmp(v, "chunked", 7) != 0)
			abort();
		break;
	default:
		abort();
	}
	return 0;
}
