/*
 * jtree.c - JSON value trees written as Python's json.dumps writes them;
 * see jtree.h.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jtree.h"

static struct jt *
node(enum jt_kind kind)
{
	struct jt *v = xmalloc(sizeof(*v));

	memset(v, 0, sizeof(*v));
	v->kind = kind;
	return v;
}

struct jt *
jt_null(void)
{
	return node(JT_NULL);
}

struct jt *
jt_bool(int b)
{
	return node(b ? JT_TRUE : JT_FALSE);
}

struct jt *
jt_num(const char *lit, size_t n)
{
	struct jt *v = node(JT_NUM);

	v->s = xmemdup(lit, n);
	v->n = n;
	return v;
}

struct jt *
jt_int(int64_t i)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%lld", (long long)i);

	return jt_num(buf, (size_t)n);
}

/*
 * A double as Python's repr writes it: the shortest digits that read back
 * as the same double, positional between 1e-4 and 1e16 (with ".0" when
 * there is no fraction), else d.ddde+XX with at least two exponent
 * digits; json.dumps writes infinities as Infinity.  out: 40 bytes.
 */
static size_t
py_float(double d, char *out)
{
	char tmp[48], dig[24];
	int p, e, nd = 0, neg = 0, i;
	size_t o = 0;
	const char *q;

	if (isnan(d))
		return (size_t)snprintf(out, 40, "NaN");
	if (isinf(d))
		return (size_t)snprintf(
		    out, 40, "%sInfinity", d < 0 ? "-" : "");
	for (p = 1; p < 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*e", p - 1, d);
	q = tmp;
	if (*q == '-') {
		neg = 1;
		q++;
	}
	for (; *q != 'e'; q++)
		if (*q != '.')
			dig[nd++] = *q;
	e = atoi(q + 1);
	while (nd > 1 && dig[nd - 1] == '0')
		nd--;
	if (neg)
		out[o++] = '-';
	if (e >= -4 && e < 16) {
		if (e < 0) {
			out[o++] = '0';
			out[o++] = '.';
			for (i = 0; i < -e - 1; i++)
				out[o++] = '0';
			for (i = 0; i < nd; i++)
				out[o++] = dig[i];
		} else {
			for (i = 0; i <= e; i++)
				out[o++] = i < nd ? dig[i] : '0';
			out[o++] = '.';
			if (nd > e + 1)
				for (i = e + 1; i < nd; i++)
					out[o++] = dig[i];
			else
				out[o++] = '0';
		}
	} else {
		out[o++] = dig[0];
		if (nd > 1) {
			out[o++] = '.';
			for (i = 1; i < nd; i++)
				out[o++] = dig[i];
		}
		o += (size_t)snprintf(
		    out + o, 40 - o, "e%c%02d", e < 0 ? '-' : '+', abs(e));
	}
	out[o] = '\0';
	return o;
}

struct jt *
jt_cents(int64_t cents)
{
	char buf[40];

	return jt_num(buf, py_float((double)cents / 100.0, buf));
}

struct jt *
jt_strn(const char *s, size_t n)
{
	struct jt *v = node(JT_STR);

	v->s = xmemdup(s, n);
	v->n = n;
	return v;
}

struct jt *
jt_str(const char *s)
{
	return jt_strn(s, strlen(s));
}

struct jt *
jt_strf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;
	struct jt *v;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		cli_fatalx("out of memory");
	v = node(JT_STR);
	v->s = s;
	v->n = (size_t)n;
	return v;
}

struct jt *
jt_arr(void)
{
	return node(JT_ARR);
}

struct jt *
jt_obj(void)
{
	return node(JT_OBJ);
}

void
jt_free(struct jt *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v->kind == JT_ARR && i < v->len; i++)
		jt_free(v->elem[i]);
	for (i = 0; v->kind == JT_OBJ && i < v->len; i++) {
		free(v->mem[i].key);
		jt_free(v->mem[i].val);
	}
	free(v->elem);
	free(v->mem);
	free(v->s);
	free(v);
}

struct jt *
jt_copy(const struct jt *v)
{
	struct jt *c = node(v->kind);
	size_t i;

	if (v->s != NULL) {
		c->s = xmemdup(v->s, v->n);
		c->n = v->n;
	}
	if (v->kind == JT_ARR)
		for (i = 0; i < v->len; i++)
			jt_push(c, jt_copy(v->elem[i]));
	if (v->kind == JT_OBJ)
		for (i = 0; i < v->len; i++)
			jt_setn(c, v->mem[i].key, v->mem[i].keyn,
			    jt_copy(v->mem[i].val));
	return c;
}

void
jt_push(struct jt *a, struct jt *v)
{
	if (a->len == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 4;
		a->elem = xrealloc(a->elem, a->cap * sizeof(*a->elem));
	}
	a->elem[a->len++] = v;
}

static long
find(const struct jt *o, const char *key, size_t keyn)
{
	size_t i;

	if (o == NULL || o->kind != JT_OBJ)
		return -1;
	for (i = 0; i < o->len; i++)
		if (o->mem[i].keyn == keyn &&
		    memcmp(o->mem[i].key, key, keyn) == 0)
			return (long)i;
	return -1;
}

void
jt_setn(struct jt *o, const char *key, size_t keyn, struct jt *v)
{
	long i = find(o, key, keyn);

	if (i >= 0) {
		jt_free(o->mem[i].val);
		o->mem[i].val = v;
		return;
	}
	if (o->len == o->cap) {
		o->cap = o->cap ? 2 * o->cap : 8;
		o->mem = xrealloc(o->mem, o->cap * sizeof(*o->mem));
	}
	o->mem[o->len].key = xmemdup(key, keyn);
	o->mem[o->len].keyn = keyn;
	o->mem[o->len].val = v;
	o->len++;
}

void
jt_set(struct jt *o, const char *key, struct jt *v)
{
	jt_setn(o, key, strlen(key), v);
}

struct jt *
jt_getn(const struct jt *o, const char *key, size_t keyn)
{
	long i = find(o, key, keyn);

	return i >= 0 ? o->mem[i].val : NULL;
}

struct jt *
jt_get(const struct jt *o, const char *key)
{
	return jt_getn(o, key, strlen(key));
}

void
jt_del(struct jt *o, const char *key)
{
	long i = find(o, key, strlen(key));

	if (i < 0)
		return;
	free(o->mem[i].key);
	jt_free(o->mem[i].val);
	memmove(&o->mem[i], &o->mem[i + 1],
	    (o->len - (size_t)i - 1) * sizeof(*o->mem));
	o->len--;
}

int
jt_equal(const struct jt *a, const struct jt *b)
{
	size_t i;
	const struct jt *bv;

	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case JT_NUM:
		return (a->n == b->n && memcmp(a->s, b->s, a->n) == 0) ||
		    strtod(a->s, NULL) == strtod(b->s, NULL);
	case JT_STR:
		return a->n == b->n && memcmp(a->s, b->s, a->n) == 0;
	case JT_ARR:
		if (a->len != b->len)
			return 0;
		for (i = 0; i < a->len; i++)
			if (!jt_equal(a->elem[i], b->elem[i]))
				return 0;
		return 1;
	case JT_OBJ:
		if (a->len != b->len)
			return 0;
		for (i = 0; i < a->len; i++) {
			bv = jt_getn(b, a->mem[i].key, a->mem[i].keyn);
			if (bv == NULL || !jt_equal(a->mem[i].val, bv))
				return 0;
		}
		return 1;
	default:
		return 1;
	}
}

/* A number literal as Python's json.loads then json.dumps would write it. */
static struct jt *
py_number(const char *p, size_t n)
{
	char buf[40], *lit;
	struct jt *v;

	if (memchr(p, '.', n) == NULL && memchr(p, 'e', n) == NULL &&
	    memchr(p, 'E', n) == NULL) {
		/* An int: arbitrary precision, written as read; -0 is 0. */
		if (n == 2 && p[0] == '-' && p[1] == '0')
			return jt_num("0", 1);
		return jt_num(p, n);
	}
	lit = xmemdup(p, n);
	v = jt_num(buf, py_float(strtod(lit, NULL), buf));
	free(lit);
	return v;
}

struct jt *
jt_from_json(struct json_span s)
{
	struct json_iter it;
	struct json_span k, val;
	struct jt *v;
	char *key;
	size_t kn;

	switch (s.type) {
	case JSON_NULL:
		return jt_null();
	case JSON_TRUE:
		return jt_bool(1);
	case JSON_FALSE:
		return jt_bool(0);
	case JSON_NUMBER:
		return py_number(s.p, s.n);
	case JSON_STRING:
		v = node(JT_STR);
		v->s = xmalloc(s.n + 1);
		v->n = json_str_unescape(s, v->s);
		v->s[v->n] = '\0';
		return v;
	case JSON_ARRAY:
		v = jt_arr();
		json_iter_init(&it, s);
		while (json_iter_elem(&it, &val))
			jt_push(v, jt_from_json(val));
		return v;
	default:
		v = jt_obj();
		json_iter_init(&it, s);
		while (json_iter_member(&it, &k, &val)) {
			key = xmalloc(k.n);
			kn = json_str_unescape(k, key);
			jt_setn(v, key, kn, jt_from_json(val));
			free(key);
		}
		return v;
	}
}

void
jt_buf_add(struct jt_buf *b, const void *p, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t c = b->cap ? b->cap : 1024;

		while (c < b->n + n + 1)
			c *= 2;
		b->p = xrealloc(b->p, c);
		b->cap = c;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void
jt_buf_free(struct jt_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void
add_u(struct jt_buf *b, unsigned u)
{
	char esc[16];

	snprintf(esc, sizeof(esc), "\\u%04x", u);
	jt_buf_add(b, esc, 6);
}

/*
 * A JSON string as json.dumps writes it (ensure_ascii): printable ASCII as
 * itself but for the quote and backslash, the short escapes \" \\ \n \r
 * \t \b \f, everything else as \uXXXX (lowercase), code points beyond the
 * BMP as a surrogate pair.  A byte that is not part of valid UTF-8 (which
 * the callers never pass) is escaped as the code point of its value.
 */
static void
dump_str(struct jt_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run;
	unsigned cp, len;

	jt_buf_add(b, "\"", 1);
	while (i < n) {
		for (run = i; run < n && p[run] >= 0x20 && p[run] < 0x7f &&
		     p[run] != '"' && p[run] != '\\';
		     run++)
			;
		jt_buf_add(b, s + i, run - i);
		if ((i = run) == n)
			break;
		switch (p[i]) {
		case '"':
			jt_buf_add(b, "\\\"", 2);
			i++;
			continue;
		case '\\':
			jt_buf_add(b, "\\\\", 2);
			i++;
			continue;
		case '\n':
			jt_buf_add(b, "\\n", 2);
			i++;
			continue;
		case '\r':
			jt_buf_add(b, "\\r", 2);
			i++;
			continue;
		case '\t':
			jt_buf_add(b, "\\t", 2);
			i++;
			continue;
		case '\b':
			jt_buf_add(b, "\\b", 2);
			i++;
			continue;
		case '\f':
			jt_buf_add(b, "\\f", 2);
			i++;
			continue;
		default:
			break;
		}
		if (p[i] < 0x80) {
			add_u(b, p[i++]);
			continue;
		}
		len = 0;
		if (p[i] >= 0xf0)
			len = 4;
		else if (p[i] >= 0xe0)
			len = 3;
		else if (p[i] >= 0xc0)
			len = 2;
		if (len == 0 || i + len > n || !json_utf8_valid(s + i, len)) {
			add_u(b, p[i++]);
			continue;
		}
		cp = p[i] & (0x7f >> len);
		for (run = 1; run < len; run++)
			cp = cp << 6 | (p[i + run] & 0x3f);
		i += len;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			add_u(b, 0xd800 | cp >> 10);
			add_u(b, 0xdc00 | (cp & 0x3ff));
		} else
			add_u(b, cp);
	}
	jt_buf_add(b, "\"", 1);
}

void
jt_dump(struct jt_buf *b, const struct jt *v)
{
	size_t i;

	switch (v->kind) {
	case JT_NULL:
		jt_buf_add(b, "null", 4);
		break;
	case JT_TRUE:
		jt_buf_add(b, "true", 4);
		break;
	case JT_FALSE:
		jt_buf_add(b, "false", 5);
		break;
	case JT_NUM:
		jt_buf_add(b, v->s, v->n);
		break;
	case JT_STR:
		dump_str(b, v->s, v->n);
		break;
	case JT_ARR:
		jt_buf_add(b, "[", 1);
		for (i = 0; i < v->len; i++) {
			if (i > 0)
				jt_buf_add(b, ", ", 2);
			jt_dump(b, v->elem[i]);
		}
		jt_buf_add(b, "]", 1);
		break;
	case JT_OBJ:
		jt_buf_add(b, "{", 1);
		for (i = 0; i < v->len; i++) {
			if (i > 0)
				jt_buf_add(b, ", ", 2);
			dump_str(b, v->mem[i].key, v->mem[i].keyn);
			jt_buf_add(b, ": ", 2);
			jt_dump(b, v->mem[i].val);
		}
		jt_buf_add(b, "}", 1);
		break;
	}
}
