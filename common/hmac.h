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
 */
#ifndef CLOSEHOOK_HMAC_H
#define CLOSEHOOK_HMAC_H

#include <stddef.h>

#define HMAC_LEN 32

struct hmac_key {
	void *inner; /* EVP_MD_CTX after key ^ ipad */
	void *outer; /* EVP_MD_CTX after key ^ opad */
};

/* Returns 0, or -1 when OpenSSL fails (out of memory). */
int hmac_key_init(struct hmac_key *, const unsigned char *key, size_t n);
void hmac_key_free(struct hmac_key *);

/* HMAC over the concatenation a || b (either may be empty). */
void hmac_sha256(const struct hmac_key *, const void *a, size_t an,
    const void *b, size_t bn, unsigned char out[HMAC_LEN]);

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
