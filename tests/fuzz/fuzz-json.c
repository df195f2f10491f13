/*
 * fuzz-json.c - differential fuzz target: common/json.c against libjq 1.6.
 *
 * For any input, json_parse() and jv_parse_sized() must agree on validity,
 * and when both accept, on every value: types, lengths, every string
 * (unescaped bytes against jv_string_value), every object key lookup (last
 * duplicate wins) and every number (json_num_double against
 * jv_number_value, bit for bit).  Any other disagreement calls abort().
 *
 * The accepted differences, where jq 1.6 accepts what RFC 8259 forbids and
 * the scanner rejects it.  Each is detected here by a small model of jq's
 * lexer (jq_lax() below), and the scanner must then reject the input:
 *
 *  LAX_TOKEN	jq hands every run of bytes outside strings that is not
 *		whitespace, a quote or one of []{}:, to strtod() unless it is
 *		true/false/null: so it accepts nan, NaN, -nan, inf, Infinity,
 *		leading zeros (01, -01, 00), 1., .5, -.5, 1.e5, +1, leading
 *		\f or \v (strtod skips them: "\f1"), and a NUL byte ends the
 *		token ("1\0zz" is 1, a lone "\0" is 0).  Integers beyond 2^53
 *		are rounded to doubles ("100000000000000000001" -> 1e+20);
 *		they are valid for both, and the scanner's json_num_double()
 *		rounds them the same way, so they are compared as usual.
 *  LAX_UTF8	invalid UTF-8 inside a string (overlongs, encoded surrogates,
 *		> U+10FFFF, stray or missing continuation bytes) becomes
 *		U+FFFD instead of an error.
 *  LAX_CTRL	jq rejects raw control bytes in strings with the test
 *		c > 0 && c < 0x1f on a signed char, so a raw NUL and a raw
 *		0x1f pass ("a\0b", "a\x1fb").
 *  LAX_BOM	a leading UTF-8 byte order mark is skipped.
 *  LAX_RS	0x1e (ASCII RS, for JSON text sequences) resets jq's parser
 *		wherever it occurs: after a complete value jv_parse_sized()
 *		stops there and accepts the value, ignoring any garbage after
 *		it ("[1]\x1egarbage" is [1]).
 *
 * Not differences (jq agrees with the scanner, checked here): the depth
 * bound (jq counts a pending object key as a level, see json.c), \u
 * surrogates (a lone high one fails, a lone low one is U+FFFD), "1 2" and
 * other trailing values ("Unexpected extra JSON values"), empty and
 * whitespace-only input, DEL (0x7f) inside strings.
 *
 * Besides, for every string the scanner accepted: json_str_eq and
 * json_str_eq_nocase must match the unescaped bytes, json_escape must
 * round-trip them, json_str_plain must agree with a search for '\';
 * json_utf8_valid is compared with a naive decoder on the whole input and
 * json_escape round-trips the whole input when it is valid UTF-8; object
 * members and array elements are looked up again through json_path_get,
 * by their whole path from the root, and one step more is compared with a
 * plain step-by-step reference (missing keys, null, type errors).
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "jqr.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
const char *__lsan_default_suppressions(void);
const char *__lsan_default_options(void);

/*
 * jq 1.6 leaks the value it was about to store when it reports "Expected
 * separator between values" ({"a" "b"}); libjq has no symbols to name the
 * function by, so its leaks are ignored as a whole.  Leaks of this file's
 * own buffers are still reported.
 */
const char *
__lsan_default_suppressions(void)
{
	return "leak:libjq.so\n";
}

/* Without this, every leak check reports the suppression it used. */
const char *
__lsan_default_options(void)
{
	return "print_suppressions=0";
}

#define LAX_TOKEN 0x01
#define LAX_UTF8 0x02
#define LAX_CTRL 0x04
#define LAX_BOM 0x08
#define LAX_RS 0x10

#define MAXIN (1 << 20)

static void
fail(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "fuzz-json: %s: %.*s\n", what, (int)(n > 200 ? 200 : n),
	    (const char *)p);
	abort();
}

/*
 * A naive UTF-8 decoder, written independently of json.c: decode the code
 * point, then reject overlongs, surrogates and values past U+10FFFF.
 * Returns the sequence length, or 0.
 */
static size_t
ref_utf8(const uint8_t *p, size_t n)
{
	uint32_t cp, min;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
		min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
		min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
		min = 0x10000;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static int
ref_utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if ((k = ref_utf8(p + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* RFC 8259's literal and number tokens, by a separate matcher. */
static int
strict_token(const uint8_t *t, size_t n)
{
	size_t i = 0;

	if ((n == 4 && memcmp(t, "true", 4) == 0) ||
	    (n == 5 && memcmp(t, "false", 5) == 0) ||
	    (n == 4 && memcmp(t, "null", 4) == 0))
		return 1;
#define DIG(k) ((k) < n && t[k] >= '0' && t[k] <= '9')
	if (i < n && t[i] == '-')
		i++;
	if (!DIG(i))
		return 0;
	if (t[i] == '0')
		i++;
	else
		while (DIG(i))
			i++;
	if (i < n && t[i] == '.') {
		i++;
		if (!DIG(i))
			return 0;
		while (DIG(i))
			i++;
	}
	if (i < n && (t[i] == 'e' || t[i] == 'E')) {
		i++;
		if (i < n && (t[i] == '+' || t[i] == '-'))
			i++;
		if (!DIG(i))
			return 0;
		while (DIG(i))
			i++;
	}
#undef DIG
	return i == n;
}

/* jq's character classes outside strings. */
static int
jq_delim(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' ||
	    c == '[' || c == ']' || c == '{' || c == '}' || c == ':' ||
	    c == ',';
}

/* Which of jq's laxities the input may fall into (a model of its lexer). */
static int
jq_lax(const uint8_t *p, size_t n)
{
	size_t i = 0, j, k;
	int flags = 0, instr = 0;

	if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		flags |= LAX_BOM;
	if (memchr(p, 0x1e, n) != NULL)
		flags |= LAX_RS;
	while (i < n) {
		if (instr) {
			if (p[i] == '\\')
				i += 2;
			else if (p[i] == '"') {
				instr = 0;
				i++;
			} else if (p[i] >= 0x80) {
				if ((k = ref_utf8(p + i, n - i)) == 0) {
					flags |= LAX_UTF8;
					k = 1;
				}
				i += k;
			} else {
				if (p[i] == 0x00 || p[i] == 0x1f)
					flags |= LAX_CTRL;
				i++;
			}
		} else if (p[i] == '"') {
			instr = 1;
			i++;
		} else if (jq_delim(p[i]))
			i++;
		else {
			for (j = i; j < n && !jq_delim(p[j]); j++)
				;
			if (!strict_token(p + i, j - i))
				flags |= LAX_TOKEN;
			i = j;
		}
	}
	return flags;
}

static enum json_type
kind_type(jv j)
{
	switch (jv_get_kind(j)) {
	case JV_KIND_OBJECT:
		return JSON_OBJECT;
	case JV_KIND_ARRAY:
		return JSON_ARRAY;
	case JV_KIND_STRING:
		return JSON_STRING;
	case JV_KIND_NUMBER:
		return JSON_NUMBER;
	case JV_KIND_TRUE:
		return JSON_TRUE;
	case JV_KIND_FALSE:
		return JSON_FALSE;
	case JV_KIND_NULL:
		return JSON_NULL;
	default:
		return JSON_NONE;
	}
}

static const uint8_t *in_p;
static size_t in_n;

/* Check a string the scanner accepted; returns its unescaped bytes. */
static char *
check_string(struct json_span s, size_t *lenp)
{
	char *u, *esc, *q;
	size_t n, en;
	struct json_span s2;

	if ((u = malloc(s.n + 1)) == NULL)
		abort();
	n = json_str_unescape(s, u);
	if (n > s.n - 2)
		fail("unescape grew", in_p, in_n);
	if (!json_utf8_valid(u, n) || !ref_utf8_valid((uint8_t *)u, n))
		fail("unescaped string not utf-8", in_p, in_n);
	if (!json_str_eq(s, u, n) || !json_str_eq_nocase(s, u, n))
		fail("json_str_eq", in_p, in_n);
	if (n > 0 &&
	    (json_str_eq(s, u, n - 1) || json_str_eq_nocase(s, u, n - 1)))
		fail("json_str_eq on a prefix", in_p, in_n);
	if (json_str_plain(s) != (memchr(s.p + 1, '\\', s.n - 2) == NULL))
		fail("json_str_plain", in_p, in_n);
	/* The validating decoder accepts it and decodes the same bytes. */
	if ((q = malloc(s.n)) == NULL)
		abort();
	if (json_str_decode(s, q, NULL) != (long)n || memcmp(q, u, n) != 0)
		fail("json_str_decode differs from json_str_unescape", in_p,
		    in_n);
	free(q);
	/* Escaping and parsing again gives back the same bytes. */
	if ((esc = malloc(6 * n + 2)) == NULL || (q = malloc(6 * n)) == NULL)
		abort();
	esc[0] = '"';
	en = json_escape(u, n, esc + 1);
	esc[en + 1] = '"';
	if (json_parse(esc, en + 2, &s2, NULL) == -1 ||
	    s2.type != JSON_STRING || json_str_unescape(s2, q) != n ||
	    memcmp(q, u, n) != 0)
		fail("json_escape round trip", in_p, in_n);
	free(esc);
	free(q);
	*lenp = n;
	return u;
}

/*
 * The members of the top-level member "a" that json_parse_top records
 * (the last "a" whose value is an object) are those json_iter_member
 * walks in it, and the parse is as valid as without.
 */
static void
check_sub(const uint8_t *data, size_t size, int ours)
{
	struct json_member m[2], sm[3];
	struct json_top top = {
		.m = m, .max = 2, .sub = "a", .subn = 1, .sm = sm, .smax = 3
	};
	struct json_span root, key, val, last = { 0 };
	struct json_iter it, st;
	int found = 0, tv;
	size_t i;

	tv = json_parse_top((const char *)data, size, &root, &top, NULL) == 0;
	if (tv != ours)
		fail(
		    "json_parse_top (sub) and json_parse disagree", data, size);
	if (!tv)
		return;
	if (root.type == JSON_OBJECT) {
		json_iter_init(&it, root);
		while (json_iter_member(&it, &key, &val))
			if (json_str_eq(key, "a", 1) && key.n == 3 &&
			    val.type == JSON_OBJECT) {
				found++;
				last = val;
			}
	}
	if (top.sub_found != found)
		fail("json_parse_top sub count", data, size);
	if (!found)
		return;
	json_iter_init(&st, last);
	for (i = 0; json_iter_member(&st, &key, &val); i++)
		if (i < top.smax &&
		    (sm[i].key.p != key.p || sm[i].key.n != key.n ||
			sm[i].val.p != val.p || sm[i].val.n != val.n))
			fail("json_parse_top sub member", data, size);
	if (top.sn != (i > top.smax ? top.smax + 1 : i))
		fail("json_parse_top sub member count", data, size);
}

/*
 * On valid UTF-8, json_parse_top told so (.utf8, which skips the UTF-8
 * checks) gives json_parse's answer: validity, the error's offset and
 * message, the value's span, and the same members as without.
 */
static void
check_top_utf8(const uint8_t *data, size_t size, int ours)
{
	struct json_member m[4], m8[4];
	struct json_top top = { .m = m, .max = 4 };
	struct json_top t8 = { .m = m8, .max = 4, .utf8 = 1 };
	struct json_error err, e8;
	struct json_span root, r8;
	const char *p = (const char *)data;
	size_t i;
	int tv;

	if (!json_utf8_valid(p, size))
		return;
	memset(&err, 0, sizeof(err));
	memset(&e8, 0, sizeof(e8));
	(void)json_parse(p, size, &root, &err);
	tv = json_parse_top(p, size, &r8, &t8, &e8) == 0;
	if (tv != ours)
		fail("json_parse_top (utf8) and json_parse disagree", data,
		    size);
	if (!tv) {
		if (err.off != e8.off || strcmp(err.msg, e8.msg) != 0)
			fail("json_parse_top (utf8) error", data, size);
		return;
	}
	if (r8.p != root.p || r8.n != root.n || r8.type != root.type)
		fail("json_parse_top (utf8) value", data, size);
	(void)json_parse_top(p, size, &root, &top, NULL);
	if (t8.n != top.n)
		fail("json_parse_top (utf8) member count", data, size);
	for (i = 0; i < top.n && i < top.max; i++)
		if (m8[i].key.p != m[i].key.p || m8[i].key.n != m[i].key.n ||
		    m8[i].val.p != m[i].val.p || m8[i].val.n != m[i].val.n)
			fail("json_parse_top (utf8) member", data, size);
}

/*
 * json_parse_top against json_parse: the same validity, with or without a
 * lazy key ("a", decoded as it is parsed), the same members as
 * json_iter_member, and the same decoded bytes as json_str_unescape.
 * A whole input that is one quoted string decodes exactly when it parses.
 */
static void
check_top(const uint8_t *data, size_t size, int ours)
{
	struct json_member m[4];
	struct json_top top = { .m = m, .max = 4 };
	struct json_span root, key, val;
	struct json_iter it;
	const char *p = (const char *)data;
	size_t i;
	char *buf;
	int tv;

	tv = json_parse_top(p, size, &root, &top, NULL) == 0;
	if (tv != ours)
		fail("json_parse_top and json_parse disagree", data, size);
	if (tv && root.type == JSON_OBJECT) {
		json_iter_init(&it, root);
		for (i = 0; json_iter_member(&it, &key, &val); i++)
			if (i < top.max &&
			    (m[i].key.p != key.p || m[i].key.n != key.n ||
				m[i].val.p != val.p || m[i].val.n != val.n ||
				m[i].val.type != val.type))
				fail("json_parse_top member", data, size);
		if (top.n != (i > top.max ? top.max + 1 : i))
			fail("json_parse_top member count", data, size);
	}
	check_sub(data, size, ours);
	check_top_utf8(data, size, ours);
	/* Decoding the lazy member "a" while parsing changes nothing about
	 * validity, and gives json_str_unescape's bytes. */
	if ((buf = malloc(size + 1)) == NULL)
		abort();
	top.lazy = "a";
	top.lazyn = 1;
	top.lazy_dst = buf;
	tv = json_parse_top(p, size, &root, &top, NULL) == 0;
	if (tv != ours)
		fail("json_parse_top (lazy) and json_parse disagree", data,
		    size);
	if (tv && top.lazy_found > 0) {
		char *ref = malloc(top.lazy_val.n + 1);
		size_t rn;

		if (ref == NULL)
			abort();
		rn = json_str_unescape(top.lazy_val, ref);
		if (rn != top.lazy_n || memcmp(ref, buf, rn) != 0)
			fail("the lazy member decodes differently", data, size);
		if (top.lazy_crlf !=
		    (memchr(ref, '\n', rn) != NULL ||
			memchr(ref, '\r', rn) != NULL))
			fail("lazy_crlf", data, size);
		free(ref);
	}
	free(buf);
	if (size >= 2 && data[0] == '"' && data[size - 1] == '"') {
		struct json_span s = { p, size, JSON_STRING };

		if ((buf = malloc(size)) == NULL)
			abort();
		if ((json_str_decode(s, buf, NULL) >= 0) != ours)
			fail("json_str_decode and json_parse disagree", data,
			    size);
		free(buf);
	}
}

/* Compare one scalar, or check a container's kind; consumes j. */
static void
check_scalar(struct json_span v, jv j)
{
	char *u;
	size_t n;
	double d, jd;
	int64_t i;

	if (kind_type(j) != v.type)
		fail("types differ", in_p, in_n);
	switch (v.type) {
	case JSON_STRING:
		u = check_string(v, &n);
		if ((size_t)jv_string_length_bytes(jv_copy(j)) != n ||
		    memcmp(jv_string_value(j), u, n) != 0)
			fail("strings differ", in_p, in_n);
		free(u);
		break;
	case JSON_NUMBER:
		d = json_num_double(v);
		jd = jv_number_value(j);
		if (memcmp(&d, &jd, sizeof(d)) != 0)
			fail("numbers differ", in_p, in_n);
		if (json_num_i64(v, &i) == 0 && (double)i != jd)
			fail("json_num_i64 differs", in_p, in_n);
		break;
	default:
		break;
	}
	jv_free(j);
}

/* Look a member or element up again through a compiled path. */
static void
check_path_key(struct json_span obj, struct json_span key, struct json_span val)
{
	char u[JSON_PATH_KEYMAX], expr[8 * JSON_PATH_KEYMAX];
	struct json_path path;
	struct json_span out;
	size_t n, i, e = 0;

	if (key.n - 2 > JSON_PATH_KEYMAX)
		return;
	n = json_str_unescape(key, u);
	expr[e++] = '.';
	expr[e++] = '[';
	expr[e++] = '"';
	for (i = 0; i < n; i++) {
		/* Path keys know only the short escapes. */
		if ((unsigned char)u[i] < 0x20 && u[i] != '\n' && u[i] != '\t')
			return;
		if (u[i] == '"' || u[i] == '\\')
			expr[e++] = '\\';
		if (u[i] == '\n') {
			expr[e++] = '\\';
			expr[e++] = 'n';
		} else if (u[i] == '\t') {
			expr[e++] = '\\';
			expr[e++] = 't';
		} else
			expr[e++] = u[i];
	}
	expr[e++] = '"';
	expr[e++] = ']';
	expr[e] = '\0';
	if (json_path_compile(expr, &path) == -1 || path.nsteps != 1 ||
	    path.step[0].keylen != n || memcmp(path.step[0].key, u, n) != 0)
		fail("path compile", in_p, in_n);
	if (json_path_get(&path, obj, &out) != JSON_PATH_FOUND ||
	    out.p != val.p || out.n != val.n)
		fail("path get key", in_p, in_n);
}

static void
check_path_index(struct json_span arr, size_t idx, struct json_span *val)
{
	struct json_path path;
	struct json_span out;
	char expr[32];

	snprintf(expr, sizeof(expr), ".[%zu]", idx);
	if (json_path_compile(expr, &path) == -1)
		fail("path compile index", in_p, in_n);
	if (val == NULL) {
		if (json_path_get(&path, arr, &out) != JSON_PATH_NULL)
			fail("path past the end", in_p, in_n);
	} else if (json_path_get(&path, arr, &out) != JSON_PATH_FOUND ||
	    out.p != val->p || out.n != val->n)
		fail("path get index", in_p, in_n);
	if (json_path_compile(".a", &path) == -1 ||
	    json_path_get(&path, arr, &out) != JSON_PATH_TYPE)
		fail("key on an array", in_p, in_n);
}

/*
 * The reference for json_path_get: one step at a time, with
 * json_object_get and json_iter_elem, as jq 1.6 reads a path.
 */
static enum json_path_result
ref_path_get(
    const struct json_path *path, struct json_span cur, struct json_span *out)
{
	const struct json_path_step *st;
	struct json_iter it;
	struct json_span v;
	size_t i, k;
	int found;

	for (i = 0; i < path->nsteps; i++) {
		st = &path->step[i];
		if (cur.type == JSON_NULL)
			return JSON_PATH_NULL;
		if (st->is_index) {
			if (cur.type != JSON_ARRAY)
				return JSON_PATH_TYPE;
			json_iter_init(&it, cur);
			for (k = 0, found = 0;
			     !found && json_iter_elem(&it, &v); k++)
				found = k == st->index;
			if (!found)
				return JSON_PATH_NULL;
		} else {
			if (cur.type != JSON_OBJECT)
				return JSON_PATH_TYPE;
			if (!json_object_get(cur, st->key, st->keylen, &v))
				return JSON_PATH_NULL;
		}
		cur = v;
	}
	*out = cur;
	return JSON_PATH_FOUND;
}

static struct json_span g_root;
static struct json_path g_path; /* the steps to the value being checked */
static size_t g_npaths;

/*
 * The value v is reached from the root by the first nsteps of g_path: the
 * single-pass json_path_get must find exactly it, and agree with the
 * reference on one step more, whatever v is.
 */
static void
check_path_at(size_t nsteps, struct json_span v)
{
	static const struct {
		int is_index;
		size_t index;
		const char *key;
	} extra[] = { { 0, 0, "a" }, { 0, 0, "" }, { 1, 0, NULL },
		{ 1, 1, NULL }, { 1, 7, NULL } };
	struct json_path_step *st;
	struct json_span out, rout;
	enum json_path_result r, rr;
	size_t i;

	/* Each check reads the document; keep big inputs fast. */
	if (g_npaths++ > 64)
		return;
	g_path.nsteps = nsteps;
	if (json_path_get(&g_path, g_root, &out) != JSON_PATH_FOUND ||
	    out.p != v.p || out.n != v.n || out.type != v.type)
		fail("json_path_get misses a value", in_p, in_n);
	if (nsteps == JSON_PATH_MAX)
		return;
	g_path.nsteps = nsteps + 1;
	st = &g_path.step[nsteps];
	for (i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		st->is_index = extra[i].is_index;
		st->index = extra[i].index;
		if (!st->is_index) {
			st->keylen = strlen(extra[i].key);
			memcpy(st->key, extra[i].key, st->keylen);
		}
		r = json_path_get(&g_path, g_root, &out);
		rr = ref_path_get(&g_path, g_root, &rout);
		if (r != rr ||
		    (r == JSON_PATH_FOUND &&
			(out.p != rout.p || out.n != rout.n)))
			fail("json_path_get differs from the reference", in_p,
			    in_n);
	}
}

struct frame {
	struct json_span span;
	struct json_iter it;
	jv j;
	size_t idx;
	int pathok; /* g_path leads here */
};

/* Walk both trees without recursion; consumes j. */
static void
compare(struct json_span root, jv j)
{
	static struct frame stk[JSON_MAX_DEPTH + 1];
	struct json_path_step *st;
	struct frame *f;
	struct json_span k, v, last;
	size_t top = 0, n;
	char *u;
	int pathok;
	jv jk, jval;

	g_root = root;
	g_npaths = 0;
	check_path_at(0, root);
	if (root.type != JSON_OBJECT && root.type != JSON_ARRAY) {
		check_scalar(root, j);
		return;
	}
	if (kind_type(j) != root.type)
		fail("types differ", in_p, in_n);
	stk[0].span = root;
	stk[0].j = j;
	stk[0].idx = 0;
	stk[0].pathok = 1;
	json_iter_init(&stk[0].it, root);
	top = 1;
	while (top > 0) {
		f = &stk[top - 1];
		pathok = f->pathok && top <= JSON_PATH_MAX;
		st = pathok ? &g_path.step[top - 1] : NULL;
		if (f->span.type == JSON_OBJECT) {
			if (!json_iter_member(&f->it, &k, &v)) {
				if ((size_t)jv_object_length(jv_copy(f->j)) !=
				    f->idx)
					fail("object sizes differ", in_p, in_n);
				jv_free(f->j);
				top--;
				continue;
			}
			u = check_string(k, &n);
			if (!json_object_get(f->span, u, n, &last))
				fail(
				    "json_object_get misses a key", in_p, in_n);
			check_path_key(f->span, k, last);
			if (last.p != v.p) {
				/* An earlier duplicate: jq keeps the last. */
				free(u);
				continue;
			}
			if (pathok && n <= JSON_PATH_KEYMAX) {
				st->is_index = 0;
				st->keylen = n;
				memcpy(st->key, u, n);
			} else
				pathok = 0;
			f->idx++;
			jk = jv_string_sized(u, (int)n);
			free(u);
			jval = jv_object_get(jv_copy(f->j), jk);
			if (!jv_is_valid(jval))
				fail("jq lacks a key", in_p, in_n);
		} else {
			if (!json_iter_elem(&f->it, &v)) {
				if (jv_array_length(jv_copy(f->j)) !=
				    (int)f->idx)
					fail("array sizes differ", in_p, in_n);
				check_path_index(f->span, f->idx, NULL);
				jv_free(f->j);
				top--;
				continue;
			}
			check_path_index(f->span, f->idx, &v);
			if (pathok) {
				st->is_index = 1;
				st->index = f->idx;
			}
			jval = jv_array_get(jv_copy(f->j), (int)f->idx);
			f->idx++;
		}
		if (pathok)
			check_path_at(top, v);
		if (v.type == JSON_OBJECT || v.type == JSON_ARRAY) {
			if (kind_type(jval) != v.type)
				fail("types differ", in_p, in_n);
			if (top > JSON_MAX_DEPTH)
				fail("deeper than JSON_MAX_DEPTH", in_p, in_n);
			f = &stk[top++];
			f->span = v;
			f->j = jval;
			f->idx = 0;
			f->pathok = pathok;
			json_iter_init(&f->it, v);
		} else
			check_scalar(v, jval);
	}
}

static size_t
count(const char *p, size_t n, char c)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += p[i] == c;
	return k;
}

/* The whole input as string content: escape, parse, unescape. */
static void
check_escape(const uint8_t *p, size_t n)
{
	char *esc, *back;
	struct json_span s;
	size_t en, k;
	int valid = json_utf8_valid((const char *)p, n);

	if (valid != ref_utf8_valid(p, n))
		fail("json_utf8_valid", p, n);
	if ((esc = malloc(6 * n + 2)) == NULL || (back = malloc(n + 1)) == NULL)
		abort();
	esc[0] = '"';
	en = json_escape((const char *)p, n, esc + 1);
	esc[en + 1] = '"';
	if (count(esc + 1, en, '/') != count((const char *)p, n, '/'))
		fail("json_escape escaped '/'", p, n);
	k = json_escape_count((const char *)p, n);
	if (en < n + k || en > n + 5 * k)
		fail("json_escape_count does not bound json_escape", p, n);
	if (json_parse(esc, en + 2, &s, NULL) == 0) {
		if (!valid)
			fail("escaped invalid utf-8 parsed", p, n);
		if (json_str_unescape(s, back) != n || memcmp(back, p, n) != 0)
			fail("escape round trip", p, n);
	} else if (valid)
		fail("escaped valid utf-8 did not parse", p, n);
	free(esc);
	free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_span v;
	struct json_error err;
	char *copy;
	int lax, ours, theirs;
	jv j;

	if (size > MAXIN)
		return 0;
	in_p = data;
	in_n = size;
	check_escape(data, size);
	lax = jq_lax(data, size);
	ours = json_parse((const char *)data, size, &v, &err) == 0;
	if (ours && lax)
		fail("scanner accepted an input jq is lax about", data, size);
	if (!ours && err.off > size)
		fail("error offset past the end", data, size);
	check_top(data, size, ours);

	/* jv_parse_sized prints the text in its message with %s. */
	if ((copy = malloc(size + 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	j = jv_parse_sized(copy, (int)size);
	theirs = jv_is_valid(j);
	if (ours && !theirs) {
		jv msg = jv_invalid_get_msg(j);

		if (jv_get_kind(msg) == JV_KIND_STRING)
			fprintf(stderr, "jq: %s\n", jv_string_value(msg));
		jv_free(msg);
		fail("scanner accepts, jq rejects", data, size);
	}
	if (!ours && theirs && lax == 0) {
		fprintf(stderr, "scanner: %s at %zu\n", err.msg, err.off);
		fail("jq accepts, scanner rejects", data, size);
	}
	if (ours && theirs) {
		/* jqr_parse builds jq's value from the spans: it must equal. */
		if (!jv_equal(jqr_from_span(v), jv_copy(j)))
			fail("jqr_from_span differs from jv_parse", data, size);
		compare(v, j);
	} else
		jv_free(j);
	free(copy);
	return 0;
}
