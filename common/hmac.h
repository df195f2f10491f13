/*
 * hmac.h - HMAC-SHA256 with a precomputed key schedule, Close's signature
 * formula, hex coding and constant-time comparison.
 *
 * A struct hmac_key holds the SHA-256 states after the key's inner and outer
 * pads, so each message costs only its own hashing.  It owns OpenSSL
 * contexts: release it with hmac_key_free(), which also wipes them.  The raw
 * key bytes passed to hmac_key_init() are not kept.  A key is only read
 * while a message is hashed, so threads may share it: each thread hashes
 * in a scratch context of its own, freed when the thread ends.
 *
 * Where the CPU has the SHA extensions, messages are hashed by this
 * module's own SHA-256 on them (the same states, kept as words too), and
 * hmac_sha256_pair() hashes two messages at once, their blocks
 * interleaved: one message's rounds are a chain that waits on each
 * instruction's latency, and a second fills the gaps (1.8x the bytes a
 * second of one).  Elsewhere, and under valgrind (which hides the
 * extensions), OpenSSL hashes them one after the other.
 */
#ifndef CLOSEHOOK_HMAC_H
#define CLOSEHOOK_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define HMAC_LEN 32

struct hmac_key {
	void *inner; /* EVP_MD_CTX after key ^ ipad */
	void *outer; /* EVP_MD_CTX after key ^ opad */
	/* The same two states as words, when the CPU has SHA extensions. */
	uint32_t istate[8], ostate[8];
	int ni;
};

/* Returns 0, or -1 when OpenSSL fails (out of memory). */
int hmac_key_init(struct hmac_key *, const unsigned char *key, size_t n);
void hmac_key_free(struct hmac_key *);

/* HMAC over the concatenation a || b (either may be empty). */
void hmac_sha256(const struct hmac_key *, const void *a, size_t an,
    const void *b, size_t bn, unsigned char out[HMAC_LEN]);

/* One message of hmac_sha256_pair(): HMAC with k over a || b into out. */
struct hmac_msg {
	const struct hmac_key *k;
	const void *a, *b;
	size_t an, bn;
	unsigned char *out; /* HMAC_LEN bytes */
};

/* Two HMACs, m[0] and m[1], as hmac_sha256() computes each. */
void hmac_sha256_pair(const struct hmac_msg m[2]);

/*
 * Tests: 0 hashes every message with OpenSSL even where the SHA
 * extensions are, 1 (the default) uses them where they are.  Returns the
 * setting before.  Not for use while other threads hash.
 */
int hmac_use_ni(int on);

/*
 * Close's webhook signature (CLOSE.md): HMAC-SHA256 keyed with the decoded
 * signature_key over the timestamp's ASCII digits followed directly by the
 * raw body.
 */
#define hmac_close_sig(k, ts, tsn, body, bodyn, out) \
	hmac_sha256((k), (ts), (tsn), (body), (bodyn), (out))

/*
 * Decode exactly n hex digits (either case) into out, which has room for
 * outmax bytes.  Returns the byte count, or -1 when the text is not hex of
 * even length or does not fit.
 */
long
hmac_hex_decode(const char *hex, size_t n, unsigned char *out, size_t outmax);
/* Lowercase hex of n bytes into out (2n bytes, no terminator). */
void hmac_hex_encode(const unsigned char *, size_t n, char *out);
/* 1 when equal, in time independent of the contents. */
int hmac_equal(const unsigned char *a, const unsigned char *b, size_t n);

#endif
