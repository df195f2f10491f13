/*
 * capture.c - reading capture records; see capture.h.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "capture.h"
#include "cli.h"

/*
 * One pass: json_parse_top validates the line, records its top-level
 * members and decodes the body string - most of the bytes - into buf as it
 * validates it.  Captures with more members than recorded are walked
 * again; a body under an escaped key ("bod\u0079") is decoded apart.
 */
int
capture_parse(
    const char *p, size_t n, struct capture *c, char *buf, const char **why)
{
	struct json_member m[16];
	struct json_top top = {
		.m = m, .max = 16, .lazy = "body", .lazyn = 4, .lazy_dst = buf
	};
	struct json_span body = { NULL, 0, JSON_NONE }, b64 = body, v;
	int have_body = 0, have_b64 = 0, shape = 0;
	struct json_iter it;
	struct json_span key, val;
	size_t i;

	memset(c, 0, sizeof(*c));
	if (json_parse_top(p, n, &c->root, &top, NULL) != 0) {
		*why = "not valid JSON";
		return -1;
	}
	if (c->root.type != JSON_OBJECT) {
		*why = "not a JSON object";
		return -1;
	}
	/* The last duplicate wins. */
	c->headers.type = JSON_NONE;
	c->received_at.type = JSON_NONE;
	if (top.n > top.max)
		json_iter_init(&it, c->root);
	for (i = 0;; i++) {
		if (top.n <= top.max) {
			if (i == top.n)
				break;
			key = m[i].key;
			val = m[i].val;
		} else if (!json_iter_member(&it, &key, &val))
			break;
		if (json_str_eq(key, "headers", 7))
			c->headers = val;
		else if (json_str_eq(key, "body", 4)) {
			body = val;
			have_body = 1;
		} else if (json_str_eq(key, "received_at", 11)) {
			c->received_at = val;
		} else if (json_str_eq(key, "body_base64", 11)) {
			b64 = val;
			have_b64 = 1;
		} else if (json_str_eq(key, "event", 5))
			shape |= 1;
		else if (json_str_eq(key, "capture", 7))
			shape |= 2;
	}
	if (c->headers.type != JSON_OBJECT) {
		/* What new users feed it instead, named with the way on. */
		*why = c->headers.type != JSON_NONE ? "headers is not an object"
		    : shape & 2
		    ? "missing headers: a rejects line, whose capture "
		      "closehook-capture --json takes out"
		    : shape & 1
		    ? "missing headers: an event record (verified already?), "
		      "not a capture"
		    : "missing headers";
		return -1;
	}
	if (have_body && have_b64) {
		*why = "both body and body_base64";
		return -1;
	}
	if (!have_body && !have_b64) {
		*why = "missing body";
		return -1;
	}
	v = have_body ? body : b64;
	if (v.type != JSON_STRING) {
		*why = have_body ? "body is not a string"
				 : "body_base64 is not a string";
		return -1;
	}
	c->body = v;
	c->body_base64 = have_b64;
	if (have_body && top.lazy_found > 0 && v.p == top.lazy_val.p) {
		c->body_n = top.lazy_n;
		c->body_crlf = top.lazy_crlf;
	} else if (have_body) {
		c->body_n = json_str_unescape(v, buf);
		c->body_crlf = memchr(buf, '\n', c->body_n) != NULL ||
		    memchr(buf, '\r', c->body_n) != NULL;
	}
	return 0;
}

unsigned
capture_headers(const struct capture *c, const char *const *names, size_t n,
    struct json_span *vals)
{
	struct json_iter it, ai;
	struct json_span key, val, first;
	size_t len[CAPTURE_HEADERS_MAX], i;
	unsigned found = 0;

	for (i = 0; i < n; i++)
		len[i] = strlen(names[i]);
	json_iter_init(&it, c->headers);
	while (json_iter_member(&it, &key, &val)) {
		for (i = 0; i < n; i++)
			if (json_str_eq_nocase(key, names[i], len[i]))
				break;
		if (i == n)
			continue;
		found &= ~(1U << i);
		if (val.type == JSON_ARRAY) {
			json_iter_init(&ai, val);
			if (!json_iter_elem(&ai, &first))
				continue;
			val = first;
		}
		/* A number is a value too (a timestamp written as one). */
		if (val.type != JSON_STRING && val.type != JSON_NUMBER)
			continue;
		vals[i] = val;
		found |= 1U << i;
	}
	return found;
}

int
capture_header(const struct capture *c, const char *name, struct json_span *out)
{
	return capture_headers(c, &name, 1, out) != 0;
}

/*
 * Standard padded base64 of whole groups of four, the form recorders
 * write, decoded in place: the bytes' count, or -1 for anything else
 * (another character, a line break, a bad pad, bits left over), which
 * libsodium then judges.  libsodium's decoder takes constant time, which a
 * body does not need, and is five times slower.
 */
static long
base64_plain(char *buf, size_t n)
{
	/* A character's value plus one; 0 for any other. */
	/* clang-format off */
	static const unsigned char v[256] = {
		['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5,
		['F'] = 6, ['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10,
		['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15,
		['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20,
		['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25,
		['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,
		['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35,
		['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
		['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45,
		['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49, ['x'] = 50,
		['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55,
		['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60,
		['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64
	};
	/* clang-format on */
	const unsigned char *s = (const unsigned char *)buf;
	unsigned char *d = (unsigned char *)buf;
	unsigned a, b, c, e;
	size_t i;

	if (n == 0 || n % 4 != 0)
		return -1;
	for (i = 0; i + 4 < n; i += 4) {
		a = v[s[i]];
		b = v[s[i + 1]];
		c = v[s[i + 2]];
		e = v[s[i + 3]];
		if ((a == 0) | (b == 0) | (c == 0) | (e == 0))
			return -1;
		a = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (e - 1);
		*d++ = (unsigned char)(a >> 16);
		*d++ = (unsigned char)(a >> 8);
		*d++ = (unsigned char)a;
	}
	/* The last group: "xxxx", "xxx=" or "xx==", unused bits zero. */
	a = v[s[i]];
	b = v[s[i + 1]];
	if (a == 0 || b == 0)
		return -1;
	a = (a - 1) << 18 | (b - 1) << 12;
	if (s[i + 2] == '=') {
		if (s[i + 3] != '=' || (a & 0xffff) != 0)
			return -1;
		*d++ = (unsigned char)(a >> 16);
		return (long)((char *)d - buf);
	}
	if ((c = v[s[i + 2]]) == 0)
		return -1;
	a |= (c - 1) << 6;
	if (s[i + 3] == '=') {
		if ((a & 0xff) != 0)
			return -1;
		*d++ = (unsigned char)(a >> 16);
		*d++ = (unsigned char)(a >> 8);
		return (long)((char *)d - buf);
	}
	if ((e = v[s[i + 3]]) == 0)
		return -1;
	a |= e - 1;
	*d++ = (unsigned char)(a >> 16);
	*d++ = (unsigned char)(a >> 8);
	*d++ = (unsigned char)a;
	return (long)((char *)d - buf);
}

long
capture_body(const struct capture *c, char *buf)
{
	size_t n, bin;
	const char *end;
	long k;

	if (!c->body_base64)
		return (long)c->body_n; /* decoded by capture_parse */
	n = json_str_unescape(c->body, buf);
	if ((k = base64_plain(buf, n)) >= 0)
		return k;
	/*
	 * Decode in place: base64 output is shorter than its input, and
	 * libsodium reads each input byte before writing the bytes it yields.
	 * Try the padded form first, then the unpadded one.  Each attempt
	 * starts from the text again, since a refused one may have written
	 * over it.
	 */
	n = json_str_unescape(c->body, buf);
	if (sodium_base642bin((unsigned char *)buf, n, buf, n, "\r\n", &bin,
		&end, sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    end == buf + n)
		return (long)bin;
	n = json_str_unescape(c->body, buf);
	if (sodium_base642bin((unsigned char *)buf, n, buf, n, "\r\n", &bin,
		&end, sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0 &&
	    end == buf + n)
		return (long)bin;
	return -1;
}

/* Room for the padded standard base64 of n bytes, terminator included. */
#define B64_LEN(n) \
	sodium_base64_ENCODED_LEN((n), sodium_base64_VARIANT_ORIGINAL)

/*
 * The text of a JSON string, quotes included, at most 6n + 2 bytes: UTF-8
 * is escaped as JSON needs, other bytes above 0x7f become \u00XX.  With
 * lower, ASCII capitals become lower case (header names).
 */
static size_t
put_str(char *d, const char *p, size_t n, int lower)
{
	static const char hex[] = "0123456789abcdef";
	char *d0 = d;
	size_t i;
	int utf8 = json_utf8_valid(p, n);

	*d++ = '"';
	if (utf8 && !lower) {
		d += json_escape(p, n, d);
		*d++ = '"';
		return (size_t)(d - d0);
	}
	for (i = 0; i < n; i++) {
		char c = p[i];

		if (lower && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if ((unsigned char)c >= 0x80 && !utf8) {
			memcpy(d, "\\u00", 4);
			d[4] = hex[(unsigned char)c >> 4];
			d[5] = hex[(unsigned char)c & 15];
			d += 6;
		} else if (c >= 0x20 && c != '"' && c != '\\')
			*d++ = c; /* the usual case: no call per byte */
		else
			d += json_escape(&c, 1, d);
	}
	*d++ = '"';
	return (size_t)(d - d0);
}

size_t
capture_write_bound(const struct capture_meta *m, const struct capture_hdr *h,
    size_t nh, const char *body, size_t bodyn)
{
	size_t n = 128, i, esc = 0;

	if (m->received_at != NULL)
		n += 6 * strlen(m->received_at) + 20;
	if (m->remote_addr != NULL)
		n += 6 * strlen(m->remote_addr) + 20;
	if (m->method != NULL)
		n += 6 * strlen(m->method) + 20;
	if (m->path != NULL)
		n += 6 * m->pathn + 20;
	for (i = 0; i < nh; i++)
		n += 6 * (h[i].namen + h[i].valn) + 8;
	if (!json_utf8_valid(body, bodyn))
		return n + B64_LEN(bodyn) + 32;
	/* Only control characters, quotes and backslashes grow. */
	esc = json_escape_count(body, bodyn);
	return n + bodyn + 5 * esc + 32;
}

size_t
capture_write(char *dst, const struct capture_meta *m,
    const struct capture_hdr *h, size_t nh, const char *body, size_t bodyn)
{
	char *d = dst;
	size_t i;
	int first = 1;

#define PUTLIT(s) (memcpy(d, (s), sizeof(s) - 1), d += sizeof(s) - 1)
	*d++ = '{';
	if (m->received_at != NULL) {
		PUTLIT("\"received_at\":");
		d += put_str(d, m->received_at, strlen(m->received_at), 0);
		first = 0;
	}
	if (m->remote_addr != NULL) {
		if (!first)
			*d++ = ',';
		PUTLIT("\"remote_addr\":");
		d += put_str(d, m->remote_addr, strlen(m->remote_addr), 0);
		first = 0;
	}
	if (m->method != NULL) {
		if (!first)
			*d++ = ',';
		PUTLIT("\"method\":");
		d += put_str(d, m->method, strlen(m->method), 0);
		first = 0;
	}
	if (m->path != NULL) {
		if (!first)
			*d++ = ',';
		PUTLIT("\"path\":");
		d += put_str(d, m->path, m->pathn, 0);
		first = 0;
	}
	if (!first)
		*d++ = ',';
	PUTLIT("\"headers\":{");
	for (i = 0; i < nh; i++) {
		if (i > 0)
			*d++ = ',';
		d += put_str(d, h[i].name, h[i].namen, 1);
		*d++ = ':';
		d += put_str(d, h[i].val, h[i].valn, 0);
	}
	*d++ = '}';
	if (json_utf8_valid(body, bodyn)) {
		PUTLIT(",\"body\":\"");
		d += json_escape(body, bodyn, d);
		*d++ = '"';
	} else {
		size_t room = B64_LEN(bodyn);

		PUTLIT(",\"body_base64\":\"");
		sodium_bin2base64(d, room, (const unsigned char *)body, bodyn,
		    sodium_base64_VARIANT_ORIGINAL);
		d += room - 1;
		*d++ = '"';
	}
	PUTLIT("}\n");
#undef PUTLIT
	return (size_t)(d - dst);
}

void
capture_hdrs_init(struct capture_hdrs *hs)
{
	memset(hs, 0, sizeof(*hs));
}

void
capture_hdrs_reset(struct capture_hdrs *hs)
{
	hs->n = 0;
}

void
capture_hdrs_add(struct capture_hdrs *hs, const char *name, size_t namen,
    const char *val, size_t valn)
{
	struct capture_hdr *h;

	while (valn > 0 && (val[0] == ' ' || val[0] == '\t'))
		val++, valn--;
	while (valn > 0 && (val[valn - 1] == ' ' || val[valn - 1] == '\t'))
		valn--;
	if (hs->n == hs->cap) {
		hs->cap = hs->cap == 0 ? 32 : 2 * hs->cap;
		h = reallocarray(hs->h, hs->cap, sizeof(*h));
		if (h == NULL)
			cli_fatal("out of memory");
		hs->h = h;
	}
	h = &hs->h[hs->n++];
	h->name = name;
	h->namen = namen;
	h->val = val;
	h->valn = valn;
}

static int
same_name(const struct capture_hdr *a, const struct capture_hdr *b)
{
	return a->namen == b->namen &&
	    strncasecmp(a->name, b->name, a->namen) == 0;
}

/*
 * In place: the list only shrinks, and entry k is written once every entry
 * up to it was read.  A later duplicate is marked by a NULL name once it
 * was joined.  The storage is sized for every value first, so the joined
 * values never move.  Quadratic in the number of fields, which the parsers
 * bound.
 */
void
capture_hdrs_join(struct capture_hdrs *hs)
{
	size_t i, j, k = 0, need = 0;
	struct capture_hdr cur;
	char *d;
	int joined;

	for (i = 0; i < hs->n; i++)
		need += hs->h[i].valn + 2;
	if (need > hs->joincap) {
		free(hs->join);
		hs->join = xmalloc(need);
		hs->joincap = need;
	}
	d = hs->join;
	for (i = 0; i < hs->n; i++) {
		cur = hs->h[i];
		if (cur.name == NULL)
			continue;
		joined = 0;
		for (j = i + 1; j < hs->n; j++) {
			if (hs->h[j].name == NULL ||
			    !same_name(&cur, &hs->h[j]))
				continue;
			if (!joined) {
				memcpy(d, cur.val, cur.valn);
				cur.val = d;
				d += cur.valn;
				joined = 1;
			}
			memcpy(d, ", ", 2);
			memcpy(d + 2, hs->h[j].val, hs->h[j].valn);
			d += 2 + hs->h[j].valn;
			cur.valn += 2 + hs->h[j].valn;
			hs->h[j].name = NULL;
		}
		hs->h[k++] = cur;
	}
	hs->n = k;
}

void
capture_hdrs_free(struct capture_hdrs *hs)
{
	free(hs->h);
	free(hs->join);
	capture_hdrs_init(hs);
}
