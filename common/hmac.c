/*
 * hmac.c - HMAC-SHA256 with precomputed pads (RFC 2104): on the CPU's SHA
 * extensions by this module's own SHA-256 where they are, one message or
 * two interleaved, else on OpenSSL's; see hmac.h.
 */
#include <pthread.h>
#include <string.h>

/* HMAC_NO_NI: the fuzz builds' clang 14 does not know the "sha" feature. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(HMAC_NO_NI)
#include <immintrin.h>
#define HMAC_NI 1
#endif

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cli.h"
#include "hmac.h"

#define BLOCK 64

static EVP_MD *sha256;

static const EVP_MD *
md(void)
{
	/* Fetch once: implicit fetching on every init is slow in OpenSSL 3. */
	if (sha256 == NULL)
		sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	return sha256;
}

/*
 * The calling thread's scratch context, made on its first message and
 * freed (by the key's destructor) when the thread ends.
 */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static _Thread_local EVP_MD_CTX *scratch;

static void
scratch_free(void *p)
{
	EVP_MD_CTX_free(p);
}

static void
scratch_key_make(void)
{
	if (pthread_key_create(&scratch_key, scratch_free) != 0)
		cli_fatalx("out of memory");
}

static EVP_MD_CTX *
work(void)
{
	if (scratch != NULL)
		return scratch;
	pthread_once(&scratch_once, scratch_key_make);
	/* Given the digest now, so that copies into it need no realloc. */
	if ((scratch = EVP_MD_CTX_new()) == NULL || md() == NULL ||
	    !EVP_DigestInit_ex(scratch, md(), NULL) ||
	    pthread_setspecific(scratch_key, scratch) != 0)
		cli_fatalx("out of memory");
	return scratch;
}

static int use_ni = 1;

int
hmac_use_ni(int on)
{
	int was = use_ni;

	use_ni = on;
	return was;
}

#ifdef HMAC_NI
/*
 * SHA-256 (FIPS 180-4) on the SHA extensions.  The eight state words are
 * kept as the instructions want them: ABEF in one register, CDGH in the
 * other.  Each group of four rounds adds its four schedule words to their
 * constants; sha256rnds2 does two rounds with the low two, and again with
 * the high two.  The schedule's words 16..63 come four at a time from the
 * four before them (sha256msg1 adds sigma0 of the next, sha256msg2 the
 * sigma1 terms, the words seven back added between the two).
 */
#define NI_TARGET __attribute__((target("sha,sse4.1,ssse3")))

static const uint32_t k256[64] = { 0x428a2f98, 0x71374491, 0xb5c0fbcf,
	0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
	0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
	0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
	0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
	0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e,
	0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
	0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c,
	0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee,
	0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2 };

static const uint32_t h256[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372,
	0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

static int
ni_ok(void)
{
	return __builtin_cpu_supports("sha") &&
	    __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("ssse3");
}

/* State words a..h to the ABEF and CDGH registers, and back. */
static inline NI_TARGET void
ni_load(const uint32_t st[8], __m128i *abef, __m128i *cdgh)
{
	__m128i t = _mm_shuffle_epi32(
		    _mm_loadu_si128((const __m128i *)&st[0]), 0xB1),
		u = _mm_shuffle_epi32(
		    _mm_loadu_si128((const __m128i *)&st[4]), 0x1B);

	*abef = _mm_alignr_epi8(t, u, 8);
	*cdgh = _mm_blend_epi16(u, t, 0xF0);
}

static inline NI_TARGET void
ni_store(uint32_t st[8], __m128i abef, __m128i cdgh)
{
	__m128i t = _mm_shuffle_epi32(abef, 0x1B),
		u = _mm_shuffle_epi32(cdgh, 0xB1);

	_mm_storeu_si128((__m128i *)&st[0], _mm_blend_epi16(t, u, 0xF0));
	_mm_storeu_si128((__m128i *)&st[4], _mm_alignr_epi8(u, t, 8));
}

/* Big-endian words from 16 bytes. */
static inline NI_TARGET __m128i
ni_words(const unsigned char *p)
{
	const __m128i bswap =
	    _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);

	return _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)p), bswap);
}

/* Schedule words 4g..4g+3 (g >= 4) from the four groups before them. */
static inline NI_TARGET __m128i
ni_sched(__m128i w4, __m128i w3, __m128i w2, __m128i w1)
{
	return _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(w4, w3),
					_mm_alignr_epi8(w1, w2, 4)),
	    w1);
}

/* Four rounds with schedule words w and constants k. */
static inline NI_TARGET void
ni_rounds(__m128i *abef, __m128i *cdgh, __m128i w, __m128i k)
{
	__m128i m = _mm_add_epi32(w, k);

	*cdgh = _mm_sha256rnds2_epu32(*cdgh, *abef, m);
	*abef = _mm_sha256rnds2_epu32(*abef, *cdgh, _mm_shuffle_epi32(m, 0x0E));
}

/* nb 64-byte blocks at p into st. */
static NI_TARGET void
ni_blocks(uint32_t st[8], const unsigned char *p, size_t nb)
{
	__m128i s0, s1, w[16];
	int g;

	ni_load(st, &s0, &s1);
	for (; nb > 0; nb--, p += 64) {
		__m128i a = s0, c = s1;

#pragma GCC unroll 16
		for (g = 0; g < 16; g++) {
			w[g] = g < 4
			    ? ni_words(p + 16 * g)
			    : ni_sched(w[g - 4], w[g - 3], w[g - 2], w[g - 1]);
			ni_rounds(&s0, &s1, w[g],
			    _mm_loadu_si128((const __m128i *)&k256[4 * g]));
		}
		s0 = _mm_add_epi32(s0, a);
		s1 = _mm_add_epi32(s1, c);
	}
	ni_store(st, s0, s1);
}

/* nb blocks at p into st and nb at q into su, their rounds interleaved. */
static NI_TARGET void
ni_blocks2(uint32_t st[8], const unsigned char *p, uint32_t su[8],
    const unsigned char *q, size_t nb)
{
	__m128i s0, s1, u0, u1, w[16], x[16], k;
	int g;

	ni_load(st, &s0, &s1);
	ni_load(su, &u0, &u1);
	for (; nb > 0; nb--, p += 64, q += 64) {
		__m128i a = s0, c = s1, b = u0, d = u1;

#pragma GCC unroll 16
		for (g = 0; g < 16; g++) {
			if (g < 4) {
				w[g] = ni_words(p + 16 * g);
				x[g] = ni_words(q + 16 * g);
			} else {
				w[g] = ni_sched(
				    w[g - 4], w[g - 3], w[g - 2], w[g - 1]);
				x[g] = ni_sched(
				    x[g - 4], x[g - 3], x[g - 2], x[g - 1]);
			}
			k = _mm_loadu_si128((const __m128i *)&k256[4 * g]);
			ni_rounds(&s0, &s1, w[g], k);
			ni_rounds(&u0, &u1, x[g], k);
		}
		s0 = _mm_add_epi32(s0, a);
		s1 = _mm_add_epi32(s1, c);
		u0 = _mm_add_epi32(u0, b);
		u1 = _mm_add_epi32(u1, d);
	}
	ni_store(st, s0, s1);
	ni_store(su, u0, u1);
}

/*
 * A message's inner hash, block by block: the key's pad block (hashed
 * already), then a || b padded (0x80, zeros, the length in bits of pad
 * block and message).  Blocks that lie whole in a or in b are hashed
 * where they are; the one across the two and the padded end are put
 * together in tmp.
 */
struct ni_msg {
	const unsigned char *a, *b;
	size_t an, n; /* n: an + bn */
	size_t k, nb; /* the next block; the padded message's blocks */
	unsigned char tmp[64];
};

static void
ni_msg_init(struct ni_msg *c, const struct hmac_msg *m)
{
	c->a = m->a;
	c->b = m->b;
	c->an = m->an;
	c->n = m->an + m->bn;
	c->k = 0;
	c->nb = (c->n + 8) / 64 + 1;
}

/* The blocks from block k on that lie back to back: how many, at *p. */
static size_t
ni_run(struct ni_msg *c, const unsigned char **p)
{
	size_t off = 64 * c->k, i = 0, m;
	uint64_t bits;

	if (off + 64 <= c->an) {
		*p = c->a + off;
		return (c->an - off) / 64;
	}
	if (off >= c->an && off + 64 <= c->n) {
		*p = c->b + (off - c->an);
		return (c->n - off) / 64;
	}
	memset(c->tmp, 0, sizeof(c->tmp));
	if (off < c->an) {
		m = c->an - off < 64 ? c->an - off : 64;
		memcpy(c->tmp, c->a + off, m);
		i = m;
	}
	if (i < 64 && off + i < c->n) {
		m = c->n - (off + i) < 64 - i ? c->n - (off + i) : 64 - i;
		memcpy(c->tmp + i, c->b + (off + i - c->an), m);
		i += m;
	}
	if (c->n >= off && c->n < off + 64)
		c->tmp[c->n - off] = 0x80;
	if (c->k == c->nb - 1) {
		bits = ((uint64_t)c->n + 64) * 8;
		for (i = 0; i < 8; i++)
			c->tmp[63 - i] = (unsigned char)(bits >> (8 * i));
	}
	*p = c->tmp;
	return 1;
}

static void
ni_rest(uint32_t st[8], struct ni_msg *c)
{
	const unsigned char *p;
	size_t r;

	while (c->k < c->nb) {
		r = ni_run(c, &p);
		ni_blocks(st, p, r);
		c->k += r;
	}
}

/* A state's words, big-endian: the digest. */
static void
ni_digest(const uint32_t st[8], unsigned char *out)
{
	int i;

	for (i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(st[i] >> 24);
		out[4 * i + 1] = (unsigned char)(st[i] >> 16);
		out[4 * i + 2] = (unsigned char)(st[i] >> 8);
		out[4 * i + 3] = (unsigned char)st[i];
	}
}

/* The outer block: the inner hash, padded for 64 + 32 bytes. */
static void
ni_outer_block(const uint32_t ih[8], unsigned char blk[64])
{
	ni_digest(ih, blk);
	memset(blk + 32, 0, 32);
	blk[32] = 0x80;
	blk[62] = 0x03; /* 768 bits */
}

static void
ni_hmac(const struct hmac_msg *m)
{
	struct ni_msg c;
	uint32_t st[8];
	unsigned char blk[64];

	ni_msg_init(&c, m);
	memcpy(st, m->k->istate, sizeof(st));
	ni_rest(st, &c);
	ni_outer_block(st, blk);
	memcpy(st, m->k->ostate, sizeof(st));
	ni_blocks(st, blk, 1);
	ni_digest(st, m->out);
	OPENSSL_cleanse(st, sizeof(st));
}

static void
ni_hmac_pair(const struct hmac_msg m[2])
{
	struct ni_msg c[2];
	uint32_t st[2][8];
	unsigned char blk[2][64];
	const unsigned char *p[2];
	size_t r[2];
	int i;

	for (i = 0; i < 2; i++) {
		ni_msg_init(&c[i], &m[i]);
		memcpy(st[i], m[i].k->istate, sizeof(st[i]));
	}
	while (c[0].k < c[0].nb && c[1].k < c[1].nb) {
		r[0] = ni_run(&c[0], &p[0]);
		r[1] = ni_run(&c[1], &p[1]);
		if (r[1] < r[0])
			r[0] = r[1];
		ni_blocks2(st[0], p[0], st[1], p[1], r[0]);
		c[0].k += r[0];
		c[1].k += r[0];
	}
	for (i = 0; i < 2; i++) {
		ni_rest(st[i], &c[i]);
		ni_outer_block(st[i], blk[i]);
		memcpy(st[i], m[i].k->ostate, sizeof(st[i]));
	}
	ni_blocks2(st[0], blk[0], st[1], blk[1], 1);
	ni_digest(st[0], m[0].out);
	ni_digest(st[1], m[1].out);
	OPENSSL_cleanse(st, sizeof(st));
}
#endif

int
hmac_key_init(struct hmac_key *k, const unsigned char *key, size_t n)
{
	unsigned char block[BLOCK], pad[BLOCK];
	unsigned int dl;
	EVP_MD_CTX *i, *o, *w;
	size_t j;
	int rc = -1;

	memset(k, 0, sizeof(*k));
	memset(block, 0, sizeof(block));
	i = EVP_MD_CTX_new();
	o = EVP_MD_CTX_new();
	w = EVP_MD_CTX_new();
	if (i == NULL || o == NULL || w == NULL || md() == NULL)
		goto out;
	if (n > BLOCK) {
		if (!EVP_DigestInit_ex(w, md(), NULL) ||
		    !EVP_DigestUpdate(w, key, n) ||
		    !EVP_DigestFinal_ex(w, block, &dl))
			goto out;
	} else if (n > 0)
		memcpy(block, key, n);
	for (j = 0; j < BLOCK; j++)
		pad[j] = block[j] ^ 0x36;
	if (!EVP_DigestInit_ex(i, md(), NULL) ||
	    !EVP_DigestUpdate(i, pad, BLOCK))
		goto out;
#ifdef HMAC_NI
	if ((k->ni = ni_ok())) {
		memcpy(k->istate, h256, sizeof(h256));
		ni_blocks(k->istate, pad, 1);
	}
#endif
	for (j = 0; j < BLOCK; j++)
		pad[j] = block[j] ^ 0x5c;
	if (!EVP_DigestInit_ex(o, md(), NULL) ||
	    !EVP_DigestUpdate(o, pad, BLOCK))
		goto out;
#ifdef HMAC_NI
	if (k->ni) {
		memcpy(k->ostate, h256, sizeof(h256));
		ni_blocks(k->ostate, pad, 1);
	}
#endif
	k->inner = i;
	k->outer = o;
	i = o = NULL;
	rc = 0;
out:
	OPENSSL_cleanse(block, sizeof(block));
	OPENSSL_cleanse(pad, sizeof(pad));
	EVP_MD_CTX_free(i);
	EVP_MD_CTX_free(o);
	EVP_MD_CTX_free(w);
	return rc;
}

void
hmac_key_free(struct hmac_key *k)
{
	/* EVP_MD_CTX_free cleanses the digest state before freeing it. */
	EVP_MD_CTX_free(k->inner);
	EVP_MD_CTX_free(k->outer);
	OPENSSL_cleanse(k, sizeof(*k));
}

void
hmac_sha256(const struct hmac_key *k, const void *a, size_t an, const void *b,
    size_t bn, unsigned char out[HMAC_LEN])
{
	unsigned char ih[HMAC_LEN];
	unsigned int dl;
	EVP_MD_CTX *w;

#ifdef HMAC_NI
	if (k->ni && use_ni) {
		struct hmac_msg m = { k, a, b, an, bn, out };

		ni_hmac(&m);
		return;
	}
#endif
	w = work();
	EVP_MD_CTX_copy_ex(w, k->inner);
	if (an > 0)
		EVP_DigestUpdate(w, a, an);
	if (bn > 0)
		EVP_DigestUpdate(w, b, bn);
	EVP_DigestFinal_ex(w, ih, &dl);
	EVP_MD_CTX_copy_ex(w, k->outer);
	EVP_DigestUpdate(w, ih, sizeof(ih));
	EVP_DigestFinal_ex(w, out, &dl);
}

void
hmac_sha256_pair(const struct hmac_msg m[2])
{
#ifdef HMAC_NI
	if (m[0].k->ni && m[1].k->ni && use_ni) {
		ni_hmac_pair(m);
		return;
	}
#endif
	hmac_sha256(m[0].k, m[0].a, m[0].an, m[0].b, m[0].bn, m[0].out);
	hmac_sha256(m[1].k, m[1].a, m[1].an, m[1].b, m[1].bn, m[1].out);
}

static int
hexval(int c)
{
	/* A digit's value plus one; 0 for anything else.  One load instead
	 * of three ranges: the signature of every request is decoded. */
	static const unsigned char tab[256] = { ['0'] = 1,
		['1'] = 2,
		['2'] = 3,
		['3'] = 4,
		['4'] = 5,
		['5'] = 6,
		['6'] = 7,
		['7'] = 8,
		['8'] = 9,
		['9'] = 10,
		['a'] = 11,
		['b'] = 12,
		['c'] = 13,
		['d'] = 14,
		['e'] = 15,
		['f'] = 16,
		['A'] = 11,
		['B'] = 12,
		['C'] = 13,
		['D'] = 14,
		['E'] = 15,
		['F'] = 16 };

	return (int)tab[c & 0xff] - 1;
}

long
hmac_hex_decode(const char *hex, size_t n, unsigned char *out, size_t outmax)
{
	size_t i;
	int hi, lo;

	if (n % 2 != 0 || n / 2 > outmax)
		return -1;
	for (i = 0; i < n; i += 2) {
		hi = hexval((unsigned char)hex[i]);
		lo = hexval((unsigned char)hex[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

void
hmac_hex_encode(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
}

int
hmac_equal(const unsigned char *a, const unsigned char *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}
