/*
 * json.c - the streaming JSON scanner of the data plane.
 *
 * json_parse() is one forward pass over the bytes: a state machine driven by
 * gotos, with the kinds of the open containers kept in a bit stack, so that
 * no input can make it recurse or allocate.  The bodies of strings, which
 * are most of the bytes of an event, are scanned 16 bytes at a time with
 * SSE2 where the compiler targets it (the x86-64 baseline) and 8 bytes at a
 * time elsewhere; both stop at the first byte that needs a closer look.
 *
 * Everything that works on a validated span (iteration, lookup, paths,
 * strings, numbers) trusts json_parse() and skips values without checking
 * them again.
 *
 * Where RFC 8259 leaves a choice, the scanner agrees with jq 1.6 (libjq's
 * jv_parse), because a user program run by libjq must see the same records
 * as the data plane; those choices are marked "jq 1.6" below and checked by
 * tests/fuzz/fuzz-json.c.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__) && !defined(JSON_NO_SIMD)
#include <emmintrin.h>
#define JSON_SSE2 1
/*
 * AVX-512 (VBMI2's byte compression) is used where the CPU has it, chosen
 * at run time; the build still targets the x86-64 baseline.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(JSON_NO_AVX512)
#include <immintrin.h>
#define JSON_AVX512 1
#endif
#endif

#include "json.h"

#if defined(__GNUC__)
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#else
#define likely(x) (x)
#define unlikely(x) (x)
#endif

typedef unsigned char uchar;

/* clang-format off */
/* The four whitespace bytes of RFC 8259; \f and \v are not among them. */
static const uchar ws_tab[256] = {
	['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [' '] = 1
};

/*
 * String bytes that need no attention: printable ASCII except the quote and
 * the backslash.  Control bytes, quote, backslash and every byte >= 0x80
 * (the start of a UTF-8 sequence, or garbage) end a plain run.
 */
#define P1(c)	((c) >= 0x20 && (c) < 0x80 && (c) != '"' && (c) != '\\')
#define P4(c)	P1(c), P1((c) + 1), P1((c) + 2), P1((c) + 3)
#define P16(c)	P4(c), P4((c) + 4), P4((c) + 8), P4((c) + 12)
#define P64(c)	P16(c), P16((c) + 16), P16((c) + 32), P16((c) + 48)
static const uchar plain_tab[256] = {
	P64(0), P64(64), P64(128), P64(192)
};

/* Bytes that may occur in a number literal, for skipping validated ones. */
static const uchar num_tab[256] = {
	['+'] = 1, ['-'] = 1, ['.'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1,
	['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1,
	['9'] = 1, ['E'] = 1, ['e'] = 1
};
/* clang-format on */

static inline const uchar *
skip_ws(const uchar *s, const uchar *e)
{
	while (s < e && ws_tab[*s])
		s++;
	return s;
}

static inline unsigned
ctz64(uint64_t x)
{
#if defined(__GNUC__)
	return (unsigned)__builtin_ctzll(x);
#else
	unsigned n = 0;

	while ((x & 1) == 0) {
		x >>= 1;
		n++;
	}
	return n;
#endif
}

static inline unsigned
ctz32(unsigned x)
{
	return ctz64(x);
}

#ifndef JSON_SSE2
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t
load64(const uchar *s)
{
	uint64_t w;

	memcpy(&w, s, sizeof(w));
	return w;
}

/* Non-zero when some byte of w is zero (exact, see Hacker's Delight 6-1). */
static inline uint64_t
haszero(uint64_t w)
{
	return (w - ONES) & ~w & HIGHS;
}

/* Non-zero when w holds a quote or a backslash. */
static inline uint64_t
has_qb(uint64_t w)
{
	return haszero(w ^ (ONES * '"')) | haszero(w ^ (ONES * '\\'));
}

/* Non-zero when w holds a byte < 0x20 or >= 0x80. */
static inline uint64_t
has_ctl_high(uint64_t w)
{
	return ((w - ONES * 0x20) & ~w & HIGHS) | (w & HIGHS);
}
#endif

#ifdef JSON_SSE2
/* The control bytes of x (unsigned x <= 0x1f), without bytes >= 0x80. */
static inline __m128i
ctl_mask(__m128i x)
{
	const __m128i c = _mm_set1_epi8(0x1f);

	return _mm_cmpeq_epi8(_mm_max_epu8(x, c), c);
}
#endif

/*
 * Skip plain string bytes; return the first byte that is a quote, a
 * backslash, a control byte or >= 0x80, or e.  Loads never reach past e.
 * With utf8 (text known to be valid UTF-8) bytes >= 0x80 are plain too
 * (SSE2 only: elsewhere they stop the skip and are checked as before).
 */
static inline const uchar *
skip_plain(const uchar *s, const uchar *e, int utf8)
{
#ifdef JSON_SSE2
	const __m128i q = _mm_set1_epi8('"');
	const __m128i b = _mm_set1_epi8('\\');
	const __m128i sp = _mm_set1_epi8(0x20);
	__m128i x;
	unsigned m;

	/*
	 * A signed compare with 0x20 flags the control bytes and, as they are
	 * negative, all bytes >= 0x80 in one instruction.
	 */
	while (e - s >= 16) {
		x = _mm_loadu_si128((const __m128i *)(const void *)s);
		m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, b)),
		    utf8 ? ctl_mask(x) : _mm_cmplt_epi8(x, sp)));
		if (m != 0)
			return s + ctz32(m);
		s += 16;
	}
	if (utf8) {
		while (s < e && (plain_tab[*s] || *s >= 0x80))
			s++;
		return s;
	}
#else
	(void)utf8;
	uint64_t w;

	while (e - s >= 8) {
		w = load64(s);
		if ((has_qb(w) | has_ctl_high(w)) != 0)
			break;
		s += 8;
	}
#endif
	while (s < e && plain_tab[*s])
		s++;
	return s;
}

/* Skip to the next quote or backslash of a validated string, or e. */
static inline const uchar *
skip_to_qb(const uchar *s, const uchar *e)
{
#ifdef JSON_SSE2
	const __m128i q = _mm_set1_epi8('"');
	const __m128i b = _mm_set1_epi8('\\');
	__m128i x;
	unsigned m;

	while (e - s >= 16) {
		x = _mm_loadu_si128((const __m128i *)(const void *)s);
		m = (unsigned)_mm_movemask_epi8(
		    _mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, b)));
		if (m != 0)
			return s + ctz32(m);
		s += 16;
	}
#else
	uint64_t w;

	while (e - s >= 8) {
		w = load64(s);
		if (has_qb(w) != 0)
			break;
		s += 8;
	}
#endif
	while (s < e && *s != '"' && *s != '\\')
		s++;
	return s;
}

#ifdef JSON_SSE2
static inline uint64_t
mask16(__m128i x, __m128i c)
{
	return (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, c));
}

/* The x86-64 baseline has no POPCNT; this beats libgcc's call. */
static inline uint64_t
popcount64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

/*
 * The bytes of a 64-byte block that a backslash escapes, given the mask of
 * backslashes; *carry says whether the previous block ended in an odd run
 * of them.  This is simdjson's branchless method: runs of backslashes that
 * start on an odd bit are told from even ones by an addition.
 */
static inline uint64_t
escaped_mask(uint64_t bs, uint64_t *carry)
{
	const uint64_t even = 0x5555555555555555ULL;
	uint64_t follows, odd_starts, seq;

	bs &= ~*carry;
	follows = bs << 1 | *carry;
	odd_starts = bs & ~even & ~follows;
	seq = odd_starts + bs;
	*carry = seq < odd_starts;
	return (even ^ (seq << 1)) & follows;
}
#endif

/*
 * Length of the well-formed UTF-8 sequence that starts at s (s[0] >= 0x80),
 * or 0.  The ranges are those of Unicode's table 3-7: they exclude
 * overlongs (C0, C1, E0 80-9F, F0 80-8F), UTF-16 surrogates (ED A0-BF) and
 * code points beyond U+10FFFF (F4 90-BF, F5-FF), and a truncated sequence
 * fails on the length check or on its first non-continuation byte.
 */
static inline size_t
utf8_seq(const uchar *s, const uchar *e)
{
	uchar c = s[0], lo = 0x80, hi = 0xbf;

	if (c < 0xc2)
		return 0;
	if (c < 0xe0) {
		if (e - s < 2 || (s[1] & 0xc0) != 0x80)
			return 0;
		return 2;
	}
	if (c < 0xf0) {
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		if (e - s < 3 || s[1] < lo || s[1] > hi ||
		    (s[2] & 0xc0) != 0x80)
			return 0;
		return 3;
	}
	if (c < 0xf5) {
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		if (e - s < 4 || s[1] < lo || s[1] > hi ||
		    (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

/* The value of 4 hex digits at s, or -1 (also when fewer than 4 remain). */
static inline long
hex4(const uchar *s, const uchar *e)
{
	long v = 0;
	int i;
	uchar c;

	if (e - s < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		c = s[i];
		if (c >= '0' && c <= '9')
			v = v * 16 + (c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v = v * 16 + ((c | 0x20) - 'a' + 10);
		else
			return -1;
	}
	return v;
}

struct perr {
	const uchar *at;
	const char *msg;
};

/*
 * Validate an escape; s is at the backslash.  Returns the byte after it,
 * or NULL.
 *
 * \u escapes of UTF-16 surrogates follow jq 1.6, which RFC 8259 allows
 * (its grammar accepts any \uXXXX and leaves lone surrogates' meaning open):
 * - a high surrogate (D800-DBFF) must be followed at once by an escaped low
 *   one (DC00-DFFF), else the text is rejected: "\ud800", "\ud800x",
 *   "\ud800\u0041", "\ud800\ud800" and the reversed pair "\udc00\ud800"
 *   (whose second half is a lone high surrogate) all fail in jq;
 * - a lone low surrogate (DC00-DFFF) is accepted, and jq reads it as
 *   U+FFFD, as json_str_unescape() does: "\udc00" and "\udc00\udc00" pass.
 */
static inline const uchar *
scan_escape(const uchar *s, const uchar *e, struct perr *pe)
{
	long cp, lo;

	if (unlikely(e - s < 2))
		goto bad;
	switch (s[1]) {
	case '"':
	case '\\':
	case '/':
	case 'b':
	case 'f':
	case 'n':
	case 'r':
	case 't':
		return s + 2;
	case 'u':
		if ((cp = hex4(s + 2, e)) < 0) {
			pe->at = s;
			pe->msg = "invalid \\u escape";
			return NULL;
		}
		if (cp < 0xd800 || cp > 0xdbff)
			return s + 6;
		if (e - s < 12 || s[6] != '\\' || s[7] != 'u' ||
		    (lo = hex4(s + 8, e)) < 0xdc00 || lo > 0xdfff) {
			pe->at = s;
			pe->msg = "unpaired high surrogate escape";
			return NULL;
		}
		return s + 12;
	default:
		break;
	}
bad:
	pe->at = s;
	pe->msg = "invalid escape";
	return NULL;
}

#ifdef JSON_SSE2
/*
 * Escape-dense strings - a JSON document carried in a JSON string, as in
 * captures - stop the 16-byte scan at every \" escape.  From a backslash
 * on, strings are taken 64 bytes at a time as bit masks instead: up to the
 * first unescaped quote, a block must hold no control byte and no escaped
 * byte outside "\/bfnrtu; its \u escapes and UTF-8 sequences, which are
 * few, are then checked one by one.  What a block cannot settle (an error,
 * a sequence that crosses its end, the last 64 bytes of the input) is left
 * to the byte-wise code, which also produces the error messages.
 *
 * s is at a backslash that starts an escape.  Returns the byte after the
 * closing quote, with *done set; or the first byte that needs the
 * byte-wise code, with *done clear.
 */
static inline const uchar *
scan_escaped_blocks(const uchar *s, const uchar *e, int *done)
{
	const __m128i q = _mm_set1_epi8('"');
	const __m128i b = _mm_set1_epi8('\\');
	const __m128i sp = _mm_set1_epi8(0x20);
	const __m128i sl = _mm_set1_epi8('/');
	const __m128i lb = _mm_set1_epi8('b');
	const __m128i lf = _mm_set1_epi8('f');
	const __m128i ln = _mm_set1_epi8('n');
	const __m128i lr = _mm_set1_epi8('r');
	const __m128i lt = _mm_set1_epi8('t');
	const __m128i lu = _mm_set1_epi8('u');
	uint64_t mq, mb, mc, mh, mv, mu, esc, carry, region, m;
	struct perr pe;
	__m128i x;
	unsigned end, cut, i;
	size_t k;
	int j;

	*done = 0;
	while (e - s >= 64) {
		mq = mb = mc = mh = mv = mu = 0;
		for (j = 0; j < 4; j++) {
			x = _mm_loadu_si128(
			    (const __m128i *)(const void *)(s + 16 * j));
			mq |= mask16(x, q) << (16 * j);
			mb |= mask16(x, b) << (16 * j);
			mu |= mask16(x, lu) << (16 * j);
			/* Signed: bytes >= 0x80 are below 0x20 too. */
			mc |= (uint64_t)(unsigned)_mm_movemask_epi8(
				  _mm_cmplt_epi8(x, sp))
			    << (16 * j);
			mh |= (uint64_t)(unsigned)_mm_movemask_epi8(x)
			    << (16 * j);
			mv |=
			    (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(
				_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, q),
						 _mm_cmpeq_epi8(x, b)),
				    _mm_or_si128(_mm_cmpeq_epi8(x, sl),
					_mm_cmpeq_epi8(x, lb))),
				_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, lf),
						 _mm_cmpeq_epi8(x, ln)),
				    _mm_or_si128(_mm_cmpeq_epi8(x, lr),
					_mm_cmpeq_epi8(x, lt)))))
			    << (16 * j);
		}
		/* Every block starts outside an escape, so no carry in. */
		carry = 0;
		esc = escaped_mask(mb, &carry);
		mq &= ~esc;
		end = mq != 0 ? ctz64(mq) : 64;
		region = end == 64 ? ~(uint64_t)0 : ((uint64_t)1 << end) - 1;
		/* A backslash in the last byte escapes the next block's first. */
		if (end == 64 && carry)
			region >>= 1;
		if ((mc & ~mh & region) != 0 || (esc & region & ~mv & ~mu) != 0)
			return s;
		cut = 64;
		/* \u escapes: check each; one crossing the block ends it. */
		for (m = esc & region & mu; m != 0; m &= m - 1) {
			i = ctz64(m) - 1;
			if (i + 6 > 64) {
				cut = i < cut ? i : cut;
				break;
			}
			if (scan_escape(s + i, e, &pe) == NULL)
				return s;
		}
		/* UTF-8: check each sequence; one crossing the block ends it. */
		for (m = mh & region; m != 0;) {
			i = ctz64(m);
			if ((k = utf8_seq(s + i, e)) == 0)
				return s;
			if (i + k > 64) {
				cut = i < cut ? i : cut;
				break;
			}
			m &= ~((((uint64_t)1 << k) - 1) << i);
		}
		/*
		 * Also when the string ends in this block: a \u escape cut
		 * there holds the closing quote, which makes it invalid.
		 */
		if (cut < 64)
			return s + cut;
		if (end < 64) {
			*done = 1;
			return s + end + 1;
		}
		s += region == ~(uint64_t)0 ? 64 : 63;
	}
	return s;
}
#endif

/*
 * Validate a string body; s is just after the opening quote.  Returns the
 * byte after the closing quote, or NULL.
 */
static inline const uchar *
scan_string(const uchar *s, const uchar *e, struct perr *pe, int utf8)
{
	size_t k;
#ifdef JSON_SSE2
	const uchar *noblock = s;
	int done;
#endif

	for (;;) {
		s = skip_plain(s, e, utf8);
		if (unlikely(s == e)) {
			pe->at = s;
			pe->msg = "unterminated string";
			return NULL;
		}
		if (likely(*s == '"'))
			return s + 1;
		if (*s == '\\') {
#ifdef JSON_SSE2
			if (s >= noblock) {
				const uchar *t =
				    scan_escaped_blocks(s, e, &done);

				if (done)
					return t;
				if (t != s) {
					s = t;
					continue;
				}
				/* Where a block fails, go byte-wise for a
				 * while rather than retry at every escape. */
				noblock = t + 64;
			}
#endif
			if ((s = scan_escape(s, e, pe)) == NULL)
				return NULL;
		} else if (*s < 0x20) {
			pe->at = s;
			pe->msg = "control character in string";
			return NULL;
		} else {
			if ((k = utf8_seq(s, e)) == 0) {
				pe->at = s;
				pe->msg = "invalid utf-8 in string";
				return NULL;
			}
			s += k;
		}
	}
}

/*
 * scan_string's first step, inlined where the parser meets a string: most
 * strings of an event (keys, short values) end within 16 bytes, and the
 * call and the registers scan_string saves cost as much as their scan.
 * When the first byte that needs a look is the closing quote, that is all;
 * otherwise scan_string goes on where this step stopped.
 */
static inline __attribute__((always_inline)) const uchar *
scan_string_short(
    const uchar *s, const uchar *e, struct perr *pe, int utf8, int *plain)
{
#ifdef JSON_SSE2
	if (likely(e - s >= 16)) {
		const __m128i x =
		    _mm_loadu_si128((const __m128i *)(const void *)s);
		const __m128i qx = _mm_cmpeq_epi8(x, _mm_set1_epi8('"'));
		unsigned m, mq;

		mq = (unsigned)_mm_movemask_epi8(qx);
		m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
		    _mm_or_si128(qx, _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
		    utf8 ? ctl_mask(x)
			 : _mm_cmplt_epi8(x, _mm_set1_epi8(0x20))));
		/* The lowest bit of m is a quote's. */
		if (likely((m & (0U - m) & mq) != 0)) {
			if (plain != NULL)
				*plain = 1; /* no backslash before it */
			return s + ctz32(m) + 1;
		}
		s += m != 0 ? ctz32(m) : 16;
	}
#endif
	if (plain != NULL)
		*plain = 0; /* not known */
	return scan_string(s, e, pe, utf8);
}

/*
 * Validate a number by RFC 8259's grammar,
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.  jq 1.6 is laxer (01, 1.,
 * .5, +1, nan, inf): those are differences the project accepts.  What
 * follows the number is the caller's business: "01" fails there because a
 * digit cannot follow a value.
 */
static inline const uchar *
scan_number(const uchar *s, const uchar *e, struct perr *pe)
{
	const uchar *s0 = s;

	if (*s == '-')
		s++;
	if (s < e && *s == '0')
		s++;
	else if (s < e && *s >= '1' && *s <= '9') {
		s++;
		while (s < e && *s >= '0' && *s <= '9')
			s++;
	} else
		goto bad;
	if (s < e && *s == '.') {
		s++;
		if (s == e || *s < '0' || *s > '9')
			goto bad;
		while (s < e && *s >= '0' && *s <= '9')
			s++;
	}
	if (s < e && (*s == 'e' || *s == 'E')) {
		s++;
		if (s < e && (*s == '+' || *s == '-'))
			s++;
		if (s == e || *s < '0' || *s > '9')
			goto bad;
		while (s < e && *s >= '0' && *s <= '9')
			s++;
	}
	return s;
bad:
	pe->at = s0;
	pe->msg = "invalid number";
	return NULL;
}

static enum json_type
type_of(uchar c)
{
	switch (c) {
	case '{':
		return JSON_OBJECT;
	case '[':
		return JSON_ARRAY;
	case '"':
		return JSON_STRING;
	case 't':
		return JSON_TRUE;
	case 'f':
		return JSON_FALSE;
	case 'n':
		return JSON_NULL;
	default:
		return JSON_NUMBER;
	}
}

/*
 * The depth bound is jq 1.6's, measured as jq measures it: jq keeps a
 * pending object key on its parse stack next to the open containers, and
 * refuses to open a container when that stack already holds
 * JSON_MAX_DEPTH entries.  An open array counts 1, an open object with a
 * value in progress counts 2, so 256 nested arrays pass and 257 fail, but
 * only 128 nested objects pass ({"a":{"a":...}}), and [{"a":[{"a":...
 * allows 85 pairs plus one array.  The scanner counts the same way
 * (lvl + nobj), so both agree on every nesting.  lvl never exceeds
 * JSON_MAX_DEPTH, which sizes the bit stack.
 */
static const uchar *decode_str(
    const uchar *p, const uchar *e, uchar **dp, int *crlf, struct perr *pe);
static enum json_type type_of(uchar c);

static inline void
set_span(struct json_span *v, const uchar *s, const uchar *t)
{
	v->p = (const char *)s;
	v->n = (size_t)(t - s);
	v->type = type_of(*s);
}

/* 1 when the key between quotes [k, ke) is exactly lit[0..n) unescaped
 * (a key holding an escape never matches: the lazy names are plain). */
static inline int
str_eq_raw(const uchar *k, const uchar *ke, const char *lit, size_t n)
{
	return (size_t)(ke - k) == n + 2 && memcmp(k + 1, lit, n) == 0;
}

/*
 * The parser proper.  top, when not NULL, records the members of a
 * top-level object (json_parse_top); json_parse passes NULL, and inlining
 * removes that bookkeeping from its loop.  mode, a constant at each call,
 * leaves out more of it: without PARSE_SUB top->sub and top->lazy are not
 * looked at (they are NULL), and PARSE_UTF8 trusts the text to be valid
 * UTF-8.
 */
#define PARSE_SUB 1
#define PARSE_UTF8 2
#define PARSE_TAPE 4
static inline __attribute__((always_inline)) int
parse(const char *p, size_t n, struct json_span *v, struct json_error *err,
    struct json_top *top, size_t *used, int mode)
{
	const uchar *s = (const uchar *)p, *e = s + n, *start, *end;
	const uchar *tkey = NULL, *tkeyend = NULL, *tval = NULL;
	const uchar *skey = NULL, *skeyend = NULL, *sval = NULL;
	uint64_t stk[(JSON_MAX_DEPTH + 63) / 64];
	/* PARSE_TAPE: the open containers' entries, the scalar's, the key. */
	uint32_t tstk[JSON_MAX_DEPTH], tpend = 0, tk = 0, tkn = 0;
	int tkplain = 0;
	struct json_tape *tp = (mode & PARSE_TAPE) ? top->tape : NULL;
	unsigned lvl = 0, nobj = 0;
	int inobj = 0, insub = 0; /* insub: in the object top->sub names */
	struct perr pe;

	s = skip_ws(s, e);
	if (s == e) {
		pe.at = s;
		pe.msg = n == 0 ? "empty input" : "no value";
		goto fail;
	}
	start = s;
	if (tp != NULL) {
		tp->base = p;
		tp->n = 0;
		tp->ok = n <= UINT32_MAX;
	}

value:
	if (tp != NULL && tp->ok) {
		struct json_tape_ent *t;

		if (tp->n == tp->cap)
			tp->ok = 0;
		else {
			t = &tp->v[tp->n];
			t->off = (uint32_t)(s - (const uchar *)p);
			t->type = type_of(*s);
			t->koff = tk;
			t->kn = lvl > 0 && inobj ? tkn : 0;
			if (t->kn > 0 && tkplain)
				t->type |= JSON_TAPE_KPLAIN;
			if (*s == '{' || *s == '[')
				tstk[lvl] = (uint32_t)tp->n;
			else
				tpend = (uint32_t)tp->n + 1;
			tp->n++;
		}
	}
	if ((mode & PARSE_SUB) && insub && lvl == 2 && inobj)
		sval = s;
	if (top != NULL && lvl == 1 && inobj) {
		tval = s;
		if ((mode & PARSE_SUB) && *s == '{' && top->sub != NULL &&
		    str_eq_raw(tkey, tkeyend, top->sub, top->subn)) {
			/* Its members are recorded too (the last one's). */
			insub = 1;
			top->sn = 0;
			top->sub_found++;
		}
		if ((mode & PARSE_SUB) && *s == '"' && top->lazy != NULL &&
		    str_eq_raw(tkey, tkeyend, top->lazy, top->lazyn)) {
			/* Validated while decoded, in one pass. */
			uchar *d = (uchar *)top->lazy_dst;

			top->lazy_crlf = 0;
			if ((s = decode_str(
				 s + 1, e, &d, &top->lazy_crlf, &pe)) == NULL)
				goto fail;
			top->lazy_found++;
			top->lazy_n = (size_t)(d - (uchar *)top->lazy_dst);
			set_span(&top->lazy_val, tval, s);
			goto next;
		}
	}
	switch (*s) {
	case '"':
		if ((s = scan_string_short(
			 s + 1, e, &pe, mode & PARSE_UTF8, NULL)) == NULL)
			goto fail;
		break;
	case '{':
		if (lvl + nobj >= JSON_MAX_DEPTH)
			goto deep;
		stk[lvl >> 6] |= (uint64_t)1 << (lvl & 63);
		lvl++;
		nobj++;
		inobj = 1;
		s = skip_ws(s + 1, e);
		if (s < e && *s == '}') {
			s++;
			goto close;
		}
		goto key;
	case '[':
		if (lvl + nobj >= JSON_MAX_DEPTH)
			goto deep;
		stk[lvl >> 6] &= ~((uint64_t)1 << (lvl & 63));
		lvl++;
		inobj = 0;
		s = skip_ws(s + 1, e);
		if (s == e)
			goto eof;
		if (*s == ']') {
			s++;
			goto close;
		}
		goto value;
	case 't':
		if (e - s < 4 || memcmp(s, "true", 4) != 0)
			goto lit;
		s += 4;
		break;
	case 'f':
		if (e - s < 5 || memcmp(s, "false", 5) != 0)
			goto lit;
		s += 5;
		break;
	case 'n':
		if (e - s < 4 || memcmp(s, "null", 4) != 0)
			goto lit;
		s += 4;
		break;
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		if ((s = scan_number(s, e, &pe)) == NULL)
			goto fail;
		break;
	default:
		pe.at = s;
		pe.msg = "unexpected character";
		goto fail;
	}

next:
	if (tpend != 0) {
		/* The scalar just scanned ends here. */
		tp->v[tpend - 1].n =
		    (uint32_t)(s - (const uchar *)p) - tp->v[tpend - 1].off;
		tp->v[tpend - 1].next = tpend;
		tpend = 0;
	}
	if (lvl == 0)
		goto done;
	if (top != NULL && lvl == 1 && inobj) {
		if (top->n < top->max) {
			set_span(&top->m[top->n].key, tkey, tkeyend);
			set_span(&top->m[top->n].val, tval, s);
		}
		if (top->n <= top->max)
			top->n++;
	} else if ((mode & PARSE_SUB) && insub && lvl == 2 && inobj) {
		if (top->sn < top->smax) {
			set_span(&top->sm[top->sn].key, skey, skeyend);
			set_span(&top->sm[top->sn].val, sval, s);
		}
		if (top->sn <= top->smax)
			top->sn++;
	}
	s = skip_ws(s, e);
	if (s == e)
		goto eof;
	if (*s == ',') {
		s = skip_ws(s + 1, e);
		if (inobj)
			goto key;
		if (s == e)
			goto eof;
		goto value;
	}
	if (*s == (inobj ? '}' : ']')) {
		s++;
		goto close;
	}
	pe.at = s;
	pe.msg = inobj ? "expected ',' or '}'" : "expected ',' or ']'";
	goto fail;

close:
	lvl--;
	if (tp != NULL && tp->ok) {
		struct json_tape_ent *t = &tp->v[tstk[lvl]];

		t->n = (uint32_t)(s - (const uchar *)p) - t->off;
		t->next = (uint32_t)tp->n;
	}
	if (inobj)
		nobj--;
	if (lvl == 1)
		insub = 0;
	if (lvl > 0)
		inobj = (stk[(lvl - 1) >> 6] >> ((lvl - 1) & 63)) & 1;
	goto next;

key:
	if (s == e)
		goto eof;
	if (*s != '"') {
		pe.at = s;
		pe.msg = "expected string key";
		goto fail;
	}
	if (tp != NULL)
		tk = (uint32_t)(s - (const uchar *)p);
	if (top != NULL && lvl == 1)
		tkey = s;
	else if ((mode & PARSE_SUB) && insub && lvl == 2)
		skey = s;
	if ((s = scan_string_short(s + 1, e, &pe, mode & PARSE_UTF8,
		 tp != NULL ? &tkplain : NULL)) == NULL)
		goto fail;
	if (top != NULL && lvl == 1)
		tkeyend = s;
	else if ((mode & PARSE_SUB) && insub && lvl == 2)
		skeyend = s;
	if (tp != NULL)
		tkn = (uint32_t)(s - (const uchar *)p) - tk;
	s = skip_ws(s, e);
	if (s == e)
		goto eof;
	if (*s != ':') {
		pe.at = s;
		pe.msg = "expected ':'";
		goto fail;
	}
	s = skip_ws(s + 1, e);
	if (s == e)
		goto eof;
	goto value;

done:
	end = s;
	s = skip_ws(s, e);
	if (used != NULL)
		*used = (size_t)(s - (const uchar *)p);
	else if (s != e) {
		pe.at = s;
		pe.msg = "trailing garbage after value";
		goto fail;
	}
	if (v != NULL) {
		v->p = (const char *)start;
		v->n = (size_t)(end - start);
		v->type = type_of(*start);
	}
	return 0;

lit:
	pe.at = s;
	pe.msg = "invalid literal";
	goto fail;
deep:
	pe.at = s;
	pe.msg = "nesting too deep";
	goto fail;
eof:
	pe.at = s;
	pe.msg = "unexpected end of input";
fail:
	if (err != NULL) {
		err->off = (size_t)(pe.at - (const uchar *)p);
		err->msg = pe.msg;
	}
	return -1;
}

int
json_parse(const char *p, size_t n, struct json_span *v, struct json_error *err)
{
	return parse(p, n, v, err, NULL, NULL, 0);
}

int
json_parse_next(const char *p, size_t n, struct json_span *v, size_t *used,
    struct json_error *err)
{
	return parse(p, n, v, err, NULL, used, 0);
}

/*
 * json_parse_top's four parsers, each a function of its own: inlined into
 * one, they made the one verify uses for bodies 10% slower.
 */
static __attribute__((noinline)) int
parse_top_sub(const char *p, size_t n, struct json_span *v,
    struct json_top *top, struct json_error *err)
{
	return parse(p, n, v, err, top, NULL, PARSE_SUB);
}

static __attribute__((noinline)) int
parse_top_tape(const char *p, size_t n, struct json_span *v,
    struct json_top *top, struct json_error *err)
{
	return parse(p, n, v, err, top, NULL, PARSE_SUB | PARSE_TAPE);
}

static __attribute__((noinline)) int
parse_top_utf8(const char *p, size_t n, struct json_span *v,
    struct json_top *top, struct json_error *err)
{
	return parse(p, n, v, err, top, NULL, PARSE_UTF8);
}

static __attribute__((noinline)) int
parse_top_plain(const char *p, size_t n, struct json_span *v,
    struct json_top *top, struct json_error *err)
{
	return parse(p, n, v, err, top, NULL, 0);
}

int
json_parse_top(const char *p, size_t n, struct json_span *v,
    struct json_top *top, struct json_error *err)
{
	top->n = 0;
	top->sn = 0;
	top->sub_found = 0;
	top->lazy_found = 0;
	top->lazy_n = 0;
	top->lazy_crlf = 0;
	if (top->tape != NULL)
		return parse_top_tape(p, n, v, top, err);
	if (top->sub != NULL || top->lazy != NULL)
		return parse_top_sub(p, n, v, top, err);
	if (top->utf8)
		return parse_top_utf8(p, n, v, top, err);
	return parse_top_plain(p, n, v, top, err);
}

/* jq's names, so that messages read like jq's own. */
const char *
json_type_name(enum json_type t)
{
	switch (t) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_NUMBER:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	default:
		return "none";
	}
}

/* Skip a validated string; s is at its opening quote. */
static inline const uchar *
skip_string(const uchar *s, const uchar *e)
{
#ifdef JSON_SSE2
	const __m128i q = _mm_set1_epi8('"');
	const __m128i b = _mm_set1_epi8('\\');
	uint64_t mq, mb, carry = 0;
	__m128i x;
	int i;
#endif

	s++;
	for (;;) {
		s = skip_to_qb(s, e);
		if (s >= e)
			return e;
		if (*s == '"')
			return s + 1;
#ifdef JSON_SSE2
		/*
		 * An escape: take the rest 64 bytes at a time, dropping the
		 * escaped quotes, so escape-dense strings cost no more than
		 * plain ones.
		 */
		while (e - s >= 64) {
			mq = mb = 0;
			for (i = 0; i < 4; i++) {
				x = _mm_loadu_si128((
				    const __m128i *)(const void *)(s + 16 * i));
				mq |= mask16(x, q) << (16 * i);
				mb |= mask16(x, b) << (16 * i);
			}
			mq &= ~escaped_mask(mb, &carry);
			if (mq != 0)
				return s + ctz64(mq) + 1;
			s += 64;
		}
		if (carry) {
			/* The previous block's last backslash escapes s[0]. */
			s++;
			carry = 0;
			continue;
		}
		if (s >= e)
			return e;
		if (*s == '"')
			return s + 1;
		if (*s != '\\') {
			s++;
			continue;
		}
#endif
		s += 2;
	}
}

#ifdef JSON_SSE2

/*
 * Skip a validated object or array; s is at its opening bracket.  The bytes
 * are taken 64 at a time as bit masks, as simdjson does: escaped quotes are
 * removed, the prefix XOR of the remaining quotes marks the bytes inside
 * strings, brackets outside them are counted with popcount, and only a
 * block that may close the container is walked bit by bit.  The last
 * partial block is copied into a zero-padded buffer, so no load passes e.
 */
static const uchar *
skip_container(const uchar *s, const uchar *e)
{
	const __m128i q = _mm_set1_epi8('"');
	const __m128i bs = _mm_set1_epi8('\\');
	const __m128i ob = _mm_set1_epi8('{');
	const __m128i cb = _mm_set1_epi8('}');
	const __m128i lc = _mm_set1_epi8(0x20);
	uchar pad[64];
	const uchar *b;
	__m128i x, y;
	uint64_t mq, mb, mo, mc, in, m, instr = 0, carry = 0, depth = 0;
	int i;

	for (; s < e; s += 64) {
		b = s;
		if (e - s < 64) {
			memset(pad, 0, sizeof(pad));
			memcpy(pad, s, (size_t)(e - s));
			b = pad;
		}
		mq = mb = mo = mc = 0;
		for (i = 0; i < 4; i++) {
			x = _mm_loadu_si128(
			    (const __m128i *)(const void *)(b + 16 * i));
			y = _mm_or_si128(x, lc);
			mq |= mask16(x, q) << (16 * i);
			mb |= mask16(x, bs) << (16 * i);
			mo |= mask16(y, ob) << (16 * i);
			mc |= mask16(y, cb) << (16 * i);
		}
		if ((mb | carry) != 0)
			mq &= ~escaped_mask(mb, &carry);
		in = mq;
		in ^= in << 1;
		in ^= in << 2;
		in ^= in << 4;
		in ^= in << 8;
		in ^= in << 16;
		in ^= in << 32;
		in ^= instr;
		instr = (uint64_t)0 - (in >> 63);
		mo &= ~in;
		mc &= ~in;
		if (mc == 0) {
			depth += popcount64(mo);
			continue;
		}
		if (popcount64(mc) < depth) {
			depth += popcount64(mo) - popcount64(mc);
			continue;
		}
		for (m = mo | mc; m != 0; m &= m - 1) {
			i = (int)ctz64(m);
			if (mo >> i & 1)
				depth++;
			else if (--depth == 0)
				return s + i + 1;
		}
	}
	return e;
}
#else
/*
 * Skip a validated object or array; s is at its opening bracket.  Without
 * SSE2 the bytes are walked one at a time: count brackets outside strings.
 */
static const uchar *
skip_container(const uchar *s, const uchar *e)
{
	size_t depth = 0;
	int instr = 0;
	uchar c;

	for (; s < e; s++) {
		c = *s;
		if (instr) {
			if (c == '\\')
				s++;
			else if (c == '"')
				instr = 0;
		} else if (c == '"')
			instr = 1;
		else if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return s + 1;
	}
	return e;
}
#endif

/* Skip a validated value that starts at s. */
static inline const uchar *
skip_value(const uchar *s, const uchar *e)
{
	switch (*s) {
	case '"':
		return skip_string(s, e);
	case '{':
	case '[':
		return skip_container(s, e);
	case 't':
	case 'n':
		return s + 4;
	case 'f':
		return s + 5;
	default:
		while (s < e && num_tab[*s])
			s++;
		return s;
	}
}

size_t
json_compact(struct json_span v, char *dst)
{
	const uchar *s = (const uchar *)v.p, *e = s + v.n, *t;
	char *d = dst;

	while (s < e) {
		if (*s == '"') {
			/* A string's bytes, escapes included, stay as written. */
			t = skip_string(s, e);
			memcpy(d, s, (size_t)(t - s));
			d += t - s;
			s = t;
		} else if (ws_tab[*s])
			s++;
		else
			*d++ = (char)*s++;
	}
	return (size_t)(d - dst);
}

/* Past the white space and the comma before an iterator's next item. */
static inline const uchar *
next_item(const uchar *s, const uchar *e)
{
	s = skip_ws(s, e);
	if (s < e && *s == ',')
		s = skip_ws(s + 1, e);
	return s;
}

void
json_iter_init(struct json_iter *it, struct json_span c)
{
	/* Inside the brackets; an empty or scalar span iterates nothing. */
	if (c.n >= 2 && (c.type == JSON_OBJECT || c.type == JSON_ARRAY)) {
		it->p = c.p + 1;
		it->end = c.p + c.n - 1;
	} else
		it->p = it->end = c.p;
}

int
json_iter_member(
    struct json_iter *it, struct json_span *key, struct json_span *val)
{
	const uchar *s = (const uchar *)it->p, *e = (const uchar *)it->end;
	const uchar *t;

	s = next_item(s, e);
	if (s >= e || *s != '"') {
		it->p = it->end;
		return 0;
	}
	t = skip_string(s, e);
	set_span(key, s, t);
	s = skip_ws(t, e);
	s = skip_ws(s + 1, e); /* the colon */
	t = skip_value(s, e);
	set_span(val, s, t);
	it->p = (const char *)t;
	return 1;
}

int
json_iter_elem(struct json_iter *it, struct json_span *val)
{
	const uchar *s = (const uchar *)it->p, *e = (const uchar *)it->end;
	const uchar *t;

	s = next_item(s, e);
	if (s >= e) {
		it->p = it->end;
		return 0;
	}
	t = skip_value(s, e);
	set_span(val, s, t);
	it->p = (const char *)t;
	return 1;
}

void
json_iter_init_lazy(struct json_iter *it, struct json_span c)
{
	if (c.n >= 2 && (c.type == JSON_OBJECT || c.type == JSON_ARRAY)) {
		it->p = c.p + 1;
		it->end = c.p + c.n;
	} else
		it->p = it->end = c.p;
}

/*
 * The value at s: a scalar whole, with the iterator past it; a container
 * by its start, with the iterator at it.
 */
static inline void
lazy_value(
    struct json_iter *it, const uchar *s, const uchar *e, struct json_span *val)
{
	const uchar *t;

	if (*s == '{' || *s == '[') {
		val->p = (const char *)s;
		val->n = 0;
		val->type = *s == '{' ? JSON_OBJECT : JSON_ARRAY;
		it->p = (const char *)s;
		return;
	}
	t = skip_value(s, e);
	set_span(val, s, t);
	it->p = (const char *)t;
}

/* At the closing bracket (or the end): stand past it; 1 when there. */
static inline int
lazy_end(struct json_iter *it, const uchar *s, const uchar *e)
{
	if (s < e && *s != '}' && *s != ']')
		return 0;
	it->p = (const char *)(s < e ? s + 1 : e);
	return 1;
}

int
json_iter_member_lazy(
    struct json_iter *it, struct json_span *key, struct json_span *val)
{
	const uchar *s = (const uchar *)it->p, *e = (const uchar *)it->end;
	const uchar *t;

	s = next_item(s, e);
	if (lazy_end(it, s, e) || *s != '"')
		return 0;
	t = skip_string(s, e);
	set_span(key, s, t);
	s = skip_ws(t, e);
	s = skip_ws(s + 1, e); /* the colon */
	if (s >= e)
		return 0;
	lazy_value(it, s, e, val);
	return 1;
}

int
json_iter_elem_lazy(struct json_iter *it, struct json_span *val)
{
	const uchar *s = (const uchar *)it->p, *e = (const uchar *)it->end;

	s = next_item(s, e);
	if (lazy_end(it, s, e))
		return 0;
	lazy_value(it, s, e, val);
	return 1;
}

void
json_iter_enter(struct json_iter *child, const struct json_iter *parent)
{
	child->p = parent->p + 1;
	child->end = parent->end;
}

void
json_iter_resume(struct json_iter *parent, const struct json_iter *child)
{
	parent->p = child->p;
}

void
json_iter_skip(struct json_iter *it, struct json_span *val)
{
	const uchar *s = (const uchar *)it->p, *e = (const uchar *)it->end;
	const uchar *t = skip_container(s, e);

	set_span(val, s, t);
	it->p = (const char *)t;
}

int
json_object_get(
    struct json_span obj, const char *key, size_t n, struct json_span *val)
{
	struct json_iter it;
	struct json_span k, v;
	int found = 0;

	if (obj.type != JSON_OBJECT)
		return 0;
	/* jq keeps the last of duplicate keys, so look at every member. */
	json_iter_init(&it, obj);
	while (json_iter_member(&it, &k, &v))
		if (json_str_eq(k, key, n)) {
			*val = v;
			found = 1;
		}
	return found;
}

/*
 * Paths.  The grammar is the part of jq 1.6's that a lookup can answer:
 *	path	= "." [ name ] { "." name | "[" ( qkey | index ) "]" }
 *	name	= ident | qkey
 * with no blanks.  Anything else (.a.["b"], which 1.6 cannot parse, negative
 * or huge indexes, \u or \( in quoted keys, ..) is left to libjq.
 */
static int
path_qkey(const char **sp, struct json_path_step *st)
{
	const char *s = *sp + 1;
	size_t n = 0;
	char c;

	for (;;) {
		c = *s++;
		if (c == '"')
			break;
		if ((unsigned char)c < 0x20)
			return -1; /* also the terminating NUL */
		if (c == '\\') {
			switch (*s++) {
			case '"':
				c = '"';
				break;
			case '\\':
				c = '\\';
				break;
			case '/':
				c = '/';
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			default:
				return -1;
			}
		}
		if (n == JSON_PATH_KEYMAX)
			return -1;
		st->key[n++] = c;
	}
	if (!json_utf8_valid(st->key, n))
		return -1;
	st->is_index = 0;
	st->keylen = n;
	*sp = s;
	return 0;
}

static int
path_ident(const char **sp, struct json_path_step *st)
{
	const char *s = *sp;
	size_t n = 0;

	while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
	    *s == '_' || (n > 0 && *s >= '0' && *s <= '9')) {
		if (n == JSON_PATH_KEYMAX)
			return -1;
		st->key[n++] = *s++;
	}
	if (n == 0)
		return -1;
	st->is_index = 0;
	st->keylen = n;
	*sp = s;
	return 0;
}

static int
path_name(const char **sp, struct json_path_step *st)
{
	return **sp == '"' ? path_qkey(sp, st) : path_ident(sp, st);
}

int
json_path_compile(const char *expr, struct json_path *path)
{
	const char *s = expr;
	struct json_path_step *st;
	size_t idx;
	int nd;

	path->nsteps = 0;
	if (*s++ != '.')
		return -1;
	if (*s == '\0')
		return 0;
	if (*s != '[') {
		if (path_name(&s, &path->step[0]) == -1)
			return -1;
		path->nsteps = 1;
	}
	while (*s != '\0') {
		if (path->nsteps == JSON_PATH_MAX)
			return -1;
		st = &path->step[path->nsteps];
		if (*s == '.') {
			s++;
			if (path_name(&s, st) == -1)
				return -1;
		} else if (*s == '[') {
			s++;
			if (*s == '"') {
				if (path_qkey(&s, st) == -1)
					return -1;
			} else {
				/*
				 * jq reads 01 as 1 and would index past
				 * INT_MAX oddly; such indexes go to libjq.
				 */
				idx = 0;
				for (nd = 0; *s >= '0' && *s <= '9'; nd++)
					idx = idx * 10 + (size_t)(*s++ - '0');
				if (nd == 0 || nd > 9 ||
				    (nd > 1 && s[-nd] == '0'))
					return -1;
				st->is_index = 1;
				st->index = idx;
				st->keylen = 0;
			}
			if (*s++ != ']')
				return -1;
		} else
			return -1;
		path->nsteps++;
	}
	return 0;
}

/*
 * jq 1.6: null indexed by anything is null, a missing key is null, an index
 * past the end is null; a key on a non-object or an index on a non-array
 * is an error ("Cannot index object with number").  Once the answer is
 * null it stays null, as null's every step is null.
 *
 * As the last of duplicate keys wins, every object on the way must be read
 * to its end.  Doing that one step at a time would skip the bytes of the
 * document once per step, so the walk is a single pass instead: a member
 * whose key matches is entered at once, and the object it belongs to is
 * read on from where that member ended, a later duplicate replacing the
 * answer.  An explicit stack of one frame per step replaces recursion.
 */
enum json_path_result
json_path_get(
    const struct json_path *path, struct json_span root, struct json_span *out)
{
	struct {
		enum json_path_result res;
		struct json_span val;
		size_t k;
	} fr[JSON_PATH_MAX];
	const struct json_path_step *st = NULL;
	const uchar *s = (const uchar *)root.p, *e = s + root.n, *kp, *t;
	enum json_path_result res;
	struct json_span key, val = root;
	size_t d = 0, n = path->nsteps;

	if (n == 0 || root.n == 0) {
		*out = root;
		return JSON_PATH_FOUND;
	}

enter:
	/* s is at a value that steps d.. apply to. */
	if (d == n) {
		t = skip_value(s, e);
		set_span(&val, s, t);
		s = t;
		res = JSON_PATH_FOUND;
		goto leave;
	}
	st = &path->step[d];
	if (*s == 'n') {
		s += 4;
		res = JSON_PATH_NULL;
		goto leave;
	}
	if (*s != (st->is_index ? '[' : '{')) {
		s = skip_value(s, e);
		res = JSON_PATH_TYPE;
		goto leave;
	}
	fr[d].res = JSON_PATH_NULL;
	fr[d].k = 0;
	s = skip_ws(s + 1, e);

member:
	/* s is at a member or element of the level-d container, or its end. */
	if (s >= e || *s == '}' || *s == ']') {
		s++;
		res = fr[d].res;
		val = fr[d].val;
		goto leave;
	}
	if (st->is_index) {
		if (fr[d].k++ == st->index) {
			d++;
			goto enter;
		}
	} else {
		kp = s;
		s = skip_string(s, e);
		set_span(&key, kp, s);
		s = skip_ws(s, e);
		s = skip_ws(s + 1, e); /* the colon */
		if (json_str_eq(key, st->key, st->keylen)) {
			d++;
			goto enter;
		}
	}
	s = skip_value(s, e);

next:
	s = next_item(s, e);
	goto member;

leave:
	/* The value entered at level d ended at s with answer res. */
	if (d == 0) {
		if (res == JSON_PATH_FOUND)
			*out = val;
		return res;
	}
	d--;
	st = &path->step[d];
	fr[d].res = res;
	fr[d].val = val;
	/*
	 * Nothing after an array's element can change the answer; only an
	 * enclosing object needs the position after the array.
	 */
	if (d == 0 && st->is_index) {
		if (res == JSON_PATH_FOUND)
			*out = val;
		return res;
	}
	goto next;
}

/* Encode code point cp as UTF-8 at d; returns the bytes written. */
static inline size_t
utf8_put(uchar *d, unsigned long cp)
{
	if (cp < 0x80) {
		d[0] = (uchar)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (uchar)(0xc0 | (cp >> 6));
		d[1] = (uchar)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (uchar)(0xe0 | (cp >> 12));
		d[1] = (uchar)(0x80 | ((cp >> 6) & 0x3f));
		d[2] = (uchar)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (uchar)(0xf0 | (cp >> 18));
	d[1] = (uchar)(0x80 | ((cp >> 12) & 0x3f));
	d[2] = (uchar)(0x80 | ((cp >> 6) & 0x3f));
	d[3] = (uchar)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decode the validated escape at s (the byte after the backslash) into d;
 * returns the bytes written and advances *sp past the escape.  A lone low
 * surrogate becomes U+FFFD, as in jq 1.6.
 */
static inline size_t
unescape1(const uchar **sp, const uchar *e, uchar *d)
{
	const uchar *s = *sp;
	unsigned long cp;

	*sp = s + 1;
	switch (*s) {
	case 'b':
		*d = '\b';
		return 1;
	case 'f':
		*d = '\f';
		return 1;
	case 'n':
		*d = '\n';
		return 1;
	case 'r':
		*d = '\r';
		return 1;
	case 't':
		*d = '\t';
		return 1;
	case 'u':
		cp = (unsigned long)hex4(s + 1, e);
		*sp = s + 5;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) +
			    ((unsigned long)hex4(s + 7, e) - 0xdc00);
			*sp = s + 11;
		} else if (cp >= 0xdc00 && cp <= 0xdfff)
			cp = 0xfffd;
		return utf8_put(d, cp);
	default:
		*d = *s; /* " \ / */
		return 1;
	}
}

size_t
json_str_unescape(struct json_span s, char *dst)
{
	const uchar *p = (const uchar *)s.p + 1, *e, *q;
	uchar *d = (uchar *)dst;

	if (s.n < 2)
		return 0;
	e = (const uchar *)s.p + s.n - 1;
	while (p < e) {
#ifdef JSON_SSE2
		/*
		 * Copy 16 bytes at a time up to the next backslash: in
		 * escape-dense strings a memchr call per escape costs more
		 * than the copying.  Only bytes that are kept are stored, so a
		 * caller that sized dst for the decoded string is safe too.
		 */
		{
			const __m128i b = _mm_set1_epi8('\\');
			__m128i x;
			unsigned m;

			while (e - p >= 16) {
				x = _mm_loadu_si128(
				    (const __m128i *)(const void *)p);
				m = (unsigned)_mm_movemask_epi8(
				    _mm_cmpeq_epi8(x, b));
				if (m != 0) {
					memcpy(d, p, ctz32(m));
					d += ctz32(m);
					p += ctz32(m);
					break;
				}
				_mm_storeu_si128((__m128i *)(void *)d, x);
				d += 16;
				p += 16;
			}
			if (p < e && *p == '\\') {
				p++;
				d += unescape1(&p, e, d);
				continue;
			}
		}
#endif
		q = memchr(p, '\\', (size_t)(e - p));
		if (q == NULL)
			q = e;
		memcpy(d, p, (size_t)(q - p));
		d += q - p;
		if (q == e)
			break;
		p = q + 1;
		d += unescape1(&p, e, d);
	}
	return (size_t)(d - (uchar *)dst);
}

#ifdef JSON_AVX512
#define AVX512_TARGET \
	__attribute__((target("avx512f,avx512bw,avx512vbmi2,bmi,bmi2," \
			      "popcnt")))

/*
 * Whether the CPU and the OS support VBMI2: each test reads the CPU model
 * that libgcc recorded at start-up (no lock, no first-use race).
 */
static inline int
avx512_ok(void)
{
	return __builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vbmi2");
}

/*
 * decode_str's bulk step, 64 bytes at a time, for escape-dense strings (a
 * JSON document carried in a JSON string).  Each block becomes bit masks:
 * backslashes, and from them the bytes they escape (simdjson's method, as
 * in scan_escaped_blocks), the first unescaped quote, control bytes and
 * bytes >= 0x80.  Up to the quote, the escaping backslashes are dropped
 * with one compression and the rest stored whole; escaped b f n r t
 * become their control bytes on the way, UTF-8 sequences are checked one
 * by one.  What a block cannot settle - a \u escape, an error, a
 * sequence that crosses its end - is left to the byte-wise code, starting
 * at that item.  A block never ends inside an escape (a backslash in its
 * last byte is left to the next), so no state crosses blocks.
 *
 * p is just after a complete item of the string.  Returns where the
 * byte-wise code resumes (p itself when no block applied), or the byte
 * after the closing quote with *done set.  The 64-byte store at d stays
 * within the output's room: d never runs ahead of p, and p + 64 <= e.
 */
static AVX512_TARGET const uchar *
decode_blocks512(
    const uchar *p, const uchar *e, uchar **dp, int *crlf, int *done)
{
	const __m512i bsl = _mm512_set1_epi8('\\');
	const __m512i quo = _mm512_set1_epi8('"');
	const __m512i sla = _mm512_set1_epi8('/');
	const __m512i spc = _mm512_set1_epi8(0x20);
	uchar *d = *dp;
	uint64_t bs, q, ctl, hi, esc, carry, lim, keep, odd, m;
	unsigned end, i;
	size_t k;
	__m512i x;

	*done = 0;
	while (e - p >= 64) {
		x = _mm512_loadu_si512((const void *)p);
		bs = _mm512_cmpeq_epi8_mask(x, bsl);
		q = _mm512_cmpeq_epi8_mask(x, quo);
		ctl = _mm512_cmplt_epu8_mask(x, spc);
		hi = _mm512_movepi8_mask(x);
		carry = 0;
		esc = escaped_mask(bs, &carry);
		/* lim: the bytes this block may settle. */
		end = (q & ~esc) != 0 ? ctz64(q & ~esc) : 64;
		lim = end == 64 ? ~(uint64_t)0 : ((uint64_t)1 << end) - 1;
		if (end == 64 && carry)
			lim >>= 1; /* the last byte escapes the next block's */
		/* Escapes other than \" \\ \/ stop at their backslash. */
		odd = esc & lim & ~q & ~bs & ~_mm512_cmpeq_epi8_mask(x, sla);
		if (unlikely(odd != 0)) {
			const uint64_t n = _mm512_cmpeq_epi8_mask(
					   x, _mm512_set1_epi8('n')),
				       r = _mm512_cmpeq_epi8_mask(
					   x, _mm512_set1_epi8('r')),
				       t = _mm512_cmpeq_epi8_mask(
					   x, _mm512_set1_epi8('t')),
				       b = _mm512_cmpeq_epi8_mask(
					   x, _mm512_set1_epi8('b')),
				       f = _mm512_cmpeq_epi8_mask(
					   x, _mm512_set1_epi8('f'));

			x = _mm512_mask_mov_epi8(
			    x, odd & n, _mm512_set1_epi8('\n'));
			x = _mm512_mask_mov_epi8(
			    x, odd & r, _mm512_set1_epi8('\r'));
			x = _mm512_mask_mov_epi8(
			    x, odd & t, _mm512_set1_epi8('\t'));
			x = _mm512_mask_mov_epi8(
			    x, odd & b, _mm512_set1_epi8('\b'));
			x = _mm512_mask_mov_epi8(
			    x, odd & f, _mm512_set1_epi8('\f'));
			if ((odd & (n | r)) != 0)
				*crlf = 1;
			odd &= ~(n | r | t | b | f);
			/* A \u or a bad escape: stop at its backslash. */
			if (odd != 0)
				lim &= ((uint64_t)1 << (ctz64(odd) - 1)) - 1;
		}
		/* A control byte is an error the byte-wise code reports. */
		if (unlikely((ctl & lim) != 0))
			lim &= ((uint64_t)1 << ctz64(ctl & lim)) - 1;
		/*
		 * UTF-8: check each sequence; a bad one, or one crossing the
		 * block's end, ends the block (the cuts above are ASCII bytes,
		 * so a sequence that starts before one ends before it).
		 */
		for (m = hi & lim; m != 0;) {
			i = ctz64(m);
			k = utf8_seq(p + i, e);
			if (k == 0 || i + k > 64) {
				lim &= ((uint64_t)1 << i) - 1;
				break;
			}
			m &= ~((((uint64_t)1 << k) - 1) << i);
		}
		keep = lim & ~(esc >> 1 & bs);
		_mm512_storeu_si512(
		    (void *)d, _mm512_maskz_compress_epi8(keep, x));
		d += __builtin_popcountll(keep);
		if (lim == ~(uint64_t)0) {
			p += 64;
			continue;
		}
		/* lim is a run of ones from bit 0: k bytes were settled. */
		k = lim == 0 ? 0 : 64 - (size_t)__builtin_clzll(lim);
		if (end < 64 && k == end) {
			*done = 1;
			*dp = d;
			return p + end + 1;
		}
		if (end == 64 && carry && k == 63) {
			p += 63;
			continue;
		}
		p += k;
		break;
	}
	*dp = d;
	return p;
}
#endif

/*
 * Validate and decode a string in one pass; p is just after its opening
 * quote.  Returns the byte after the closing quote, with the decoded bytes
 * at *dp (advanced past them) and *crlf set when they hold a CR or LF; or
 * NULL with *pe set.  The SSE2 loop stores each 16 bytes whole and advances
 * to the first byte that needs a look: a backslash, a quote, a control
 * byte or a byte >= 0x80 (signed compare).  Decoding never grows, so the
 * output stays behind the input: a store at d happens only with 16 input
 * bytes left before e, and never reaches dst + (e - start).
 */
static const uchar *
decode_str(
    const uchar *p, const uchar *e, uchar **dp, int *crlf, struct perr *pe)
{
	uchar *d = *dp, c;
	long cp, lo;
	size_t k;
#ifdef JSON_AVX512
	/* Asked once a string: the loop below comes back at every escape. */
	const int wide = avx512_ok();
#endif

	for (;;) {
#ifdef JSON_AVX512
		if (wide && e - p >= 64) {
			uchar *wd = d; /* d itself stays in a register */
			int done;

			p = decode_blocks512(p, e, &wd, crlf, &done);
			d = wd;
			if (done) {
				*dp = d;
				return p;
			}
		}
#endif
#ifdef JSON_SSE2
		{
			const __m128i bs = _mm_set1_epi8('\\');
			const __m128i q = _mm_set1_epi8('"');
			const __m128i sp = _mm_set1_epi8(0x20);
			__m128i x;
			unsigned m;

			while (e - p >= 16) {
				x = _mm_loadu_si128(
				    (const __m128i *)(const void *)p);
				m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
				    _mm_or_si128(_mm_cmpeq_epi8(x, bs),
					_mm_cmpeq_epi8(x, q)),
				    _mm_cmplt_epi8(x, sp)));
				_mm_storeu_si128((__m128i *)(void *)d, x);
				if (m != 0) {
					p += ctz32(m);
					d += ctz32(m);
					break;
				}
				p += 16;
				d += 16;
			}
		}
#endif
		if (unlikely(p >= e)) {
			pe->at = p;
			pe->msg = "unterminated string";
			return NULL;
		}
		c = *p;
		if (c == '"') {
			*dp = d;
			return p + 1;
		}
		if (c == '\\') {
			if (e - p < 2)
				goto bad_escape;
			switch (p[1]) {
			case '"':
			case '\\':
			case '/':
				*d++ = p[1];
				p += 2;
				continue;
			case 'n':
			case 'r':
				*crlf = 1;
				/* fall through */
			case 'b':
			case 'f':
			case 't':
				p++;
				d += unescape1(&p, e, d);
				continue;
			case 'u':
				if ((cp = hex4(p + 2, e)) < 0) {
					pe->at = p;
					pe->msg = "invalid \\u escape";
					return NULL;
				}
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (e - p < 12 || p[6] != '\\' ||
					    p[7] != 'u' ||
					    (lo = hex4(p + 8, e)) < 0xdc00 ||
					    lo > 0xdfff) {
						pe->at = p;
						pe->msg = "unpaired high "
							  "surrogate escape";
						return NULL;
					}
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					    (lo - 0xdc00);
					p += 12;
				} else {
					if (cp >= 0xdc00 && cp <= 0xdfff)
						cp = 0xfffd;
					p += 6;
				}
				if (cp == '\n' || cp == '\r')
					*crlf = 1;
				d += utf8_put(d, (unsigned long)cp);
				continue;
			default:
				goto bad_escape;
			}
		}
		if (c >= 0x80) {
			if ((k = utf8_seq(p, e)) == 0) {
				pe->at = p;
				pe->msg = "invalid utf-8 in string";
				return NULL;
			}
			while (k-- > 0)
				*d++ = *p++;
			continue;
		}
		if (c < 0x20) {
			pe->at = p;
			pe->msg = "control character in string";
			return NULL;
		}
		*d++ = *p++;
	}
bad_escape:
	pe->at = p;
	pe->msg = "invalid escape";
	return NULL;
}

long
json_str_decode(struct json_span s, char *dst, struct json_error *err)
{
	const uchar *b = (const uchar *)s.p, *t = NULL;
	uchar *d = (uchar *)dst;
	struct perr pe;
	int crlf = 0;

	if (s.n < 2 || b[0] != '"') {
		pe.at = b;
		pe.msg = "not a string";
	} else if ((t = decode_str(b + 1, b + s.n, &d, &crlf, &pe)) != NULL &&
	    t != b + s.n) {
		pe.at = t - 1;
		pe.msg = "unescaped quote in string";
		t = NULL;
	}
	if (t != NULL)
		return (long)(d - (uchar *)dst);
	if (err != NULL) {
		err->off = (size_t)(pe.at - b);
		err->msg = pe.msg;
	}
	return -1;
}

static inline uchar
lower(uchar c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* a[0..n) and b[0..n) are equal, ASCII letters folded when nocase. */
static int
memeq(const uchar *a, const uchar *b, size_t n, int nocase)
{
	size_t i;

	if (!nocase)
		return memcmp(a, b, n) == 0;
	for (i = 0; i < n; i++)
		if (a[i] != b[i] && lower(a[i]) != lower(b[i]))
			return 0;
	return 1;
}

static int
str_eq(struct json_span s, const char *lit, size_t n, int nocase)
{
	const uchar *p = (const uchar *)s.p + 1, *e, *q;
	const uchar *l = (const uchar *)lit, *le = l + n;
	uchar buf[4];
	size_t k;

	if (s.n < 2)
		return 0;
	e = (const uchar *)s.p + s.n - 1;
	/*
	 * Decoding only shrinks: a shorter raw body never matches, an equal
	 * one only without escapes, so most keys are settled by the length.
	 */
	if ((size_t)(e - p) < n)
		return 0;
	if ((size_t)(e - p) == n)
		return memchr(p, '\\', n) == NULL && memeq(p, l, n, nocase);
	while (p < e) {
		q = memchr(p, '\\', (size_t)(e - p));
		if (q == NULL)
			q = e;
		k = (size_t)(q - p);
		if (k > (size_t)(le - l) || !memeq(p, l, k, nocase))
			return 0;
		l += k;
		if (q == e)
			break;
		p = q + 1;
		k = unescape1(&p, e, buf);
		if (k > (size_t)(le - l) || !memeq(buf, l, k, nocase))
			return 0;
		l += k;
	}
	return l == le;
}

int
json_str_eq(struct json_span s, const char *lit, size_t n)
{
	return str_eq(s, lit, n, 0);
}

int
json_str_eq_nocase(struct json_span s, const char *lit, size_t n)
{
	return str_eq(s, lit, n, 1);
}

int
json_str_plain(struct json_span s)
{
	if (s.n < 2)
		return 1;
	return memchr(s.p + 1, '\\', s.n - 2) == NULL;
}

int
json_num_i64(struct json_span s, int64_t *v)
{
	const uchar *p = (const uchar *)s.p, *e = p + s.n;
	uint64_t acc = 0, lim;
	int neg = 0;
	unsigned d;

	if (p < e && *p == '-') {
		neg = 1;
		p++;
	}
	if (p == e)
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; p < e; p++) {
		if (*p < '0' || *p > '9')
			return -1; /* a fraction or an exponent */
		d = *p - '0';
		if (acc > (lim - d) / 10)
			return -1;
		acc = acc * 10 + d;
	}
	if (neg)
		*v = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
	else
		*v = (int64_t)acc;
	return 0;
}

/*
 * strtod wants a terminated string and the span is not one, so the literal
 * is copied.  A long one is first reduced to at most NUM_SIG significant
 * digits plus a sticky 1 when anything non-zero was dropped: a double's
 * halfway points have at most 767 significant digits, so the reduced
 * literal rounds exactly as the original does, and the buffer stays bounded.
 */
#define NUM_SIG 780
#define NUM_SHORT 64

double
json_num_double(struct json_span s)
{
	char buf[NUM_SIG + 40];
	const uchar *p = (const uchar *)s.p, *e = p + s.n;
	size_t nd = 0;
	long exp10 = 0, ex = 0;
	int sticky = 0, seen = 0, frac = 0, eneg = 0;

	if (s.n < NUM_SHORT) {
		memcpy(buf, s.p, s.n);
		buf[s.n] = '\0';
		return strtod(buf, NULL);
	}
	if (p < e && *p == '-')
		buf[nd++] = *p++;
	buf[nd++] = '.';
	for (; p < e; p++) {
		if (*p == '.') {
			frac = 1;
			continue;
		}
		if (*p < '0' || *p > '9')
			break;
		if (!seen && *p == '0') {
			/* Leading zeros: only those after the point scale. */
			if (frac)
				exp10--;
			continue;
		}
		seen = 1;
		if (!frac)
			exp10++;
		if (nd < NUM_SIG + 2)
			buf[nd++] = (char)*p;
		else if (*p != '0')
			sticky = 1;
	}
	if (sticky)
		buf[nd++] = '1';
	if (!seen)
		buf[nd++] = '0';
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		/* Past a billion the result is 0 or infinity anyway. */
		for (; p < e; p++)
			if (ex < 1000000000L)
				ex = ex * 10 + (*p - '0');
	}
	exp10 += eneg ? -ex : ex;
	nd += (size_t)snprintf(buf + nd, sizeof(buf) - nd, "e%ld", exp10);
	return strtod(buf, NULL);
}

/* clang-format off */
/* Short escapes for output; 'u' means \u00XX, 0 means the byte passes. */
static const char esc_tab[256] = {
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
	'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
	['"'] = '"', ['\\'] = '\\'
};
/* clang-format on */

size_t
json_escape(const char *src, size_t n, char *dst)
{
	static const char hex[] = "0123456789abcdef";
	const uchar *s = (const uchar *)src, *e = s + n;
	char *d = dst;
	char c;

	while (s < e) {
#ifdef JSON_SSE2
		/*
		 * 16 bytes at a time up to the next byte to escape, storing
		 * each 16 whole: the output so far is at most 6 bytes per
		 * input byte and 16 input bytes remain, so a store never
		 * passes dst + 6 * n.
		 */
		{
			const __m128i q = _mm_set1_epi8('"');
			const __m128i bs = _mm_set1_epi8('\\');
			const __m128i c1f = _mm_set1_epi8(0x1f);
			__m128i x;
			unsigned m;

			while (e - s >= 16) {
				x = _mm_loadu_si128(
				    (const __m128i *)(const void *)s);
				m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
				    _mm_or_si128(_mm_cmpeq_epi8(x, q),
					_mm_cmpeq_epi8(x, bs)),
				    _mm_cmpeq_epi8(_mm_min_epu8(x, c1f), x)));
				_mm_storeu_si128((__m128i *)(void *)d, x);
				if (m != 0) {
					s += ctz32(m);
					d += ctz32(m);
					break;
				}
				s += 16;
				d += 16;
			}
		}
#endif
		/* Byte by byte: the tail, or up to the next escape. */
		while (s < e && esc_tab[*s] == 0)
			*d++ = (char)*s++;
		if (s == e)
			break;
		c = esc_tab[*s];
		*d++ = '\\';
		*d++ = c;
		if (c == 'u') {
			*d++ = '0';
			*d++ = '0';
			*d++ = hex[*s >> 4];
			*d++ = hex[*s & 15];
		}
		s++;
	}
	return (size_t)(d - dst);
}

size_t
json_escape_count(const char *src, size_t n)
{
	const uchar *s = (const uchar *)src, *e = s + n;
	size_t k = 0;

#ifdef JSON_SSE2
	const __m128i q = _mm_set1_epi8('"');
	const __m128i bs = _mm_set1_epi8('\\');
	const __m128i c1f = _mm_set1_epi8(0x1f);
	__m128i x;

	for (; e - s >= 16; s += 16) {
		x = _mm_loadu_si128((const __m128i *)(const void *)s);
		k += popcount64((unsigned)_mm_movemask_epi8(_mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bs)),
		    _mm_cmpeq_epi8(_mm_min_epu8(x, c1f), x))));
	}
#endif
	for (; s < e; s++)
		k += *s < 0x20 || *s == '"' || *s == '\\';
	return k;
}

int
json_utf8_valid(const char *p, size_t n)
{
	const uchar *s = (const uchar *)p, *e = s + n;
	size_t k;

	for (;;) {
#ifdef JSON_SSE2
		while (e - s >= 16 &&
		    _mm_movemask_epi8(
			_mm_loadu_si128((const __m128i *)(const void *)s)) == 0)
			s += 16;
#else
		while (e - s >= 8 && (load64(s) & HIGHS) == 0)
			s += 8;
#endif
		while (s < e && *s < 0x80)
			s++;
		if (s == e)
			return 1;
		if ((k = utf8_seq(s, e)) == 0)
			return 0;
		s += k;
	}
}
