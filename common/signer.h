/*
 * signer.h - outbound webhook signatures: Close's own scheme (close-sig-hash
 * over timestamp || body, hex key) and Standard Webhooks (webhook-id,
 * webhook-timestamp, webhook-signature over "id.timestamp.body"): v1 with an
 * HMAC-SHA256 `whsec_` secret, v1a with an Ed25519 `whsk_` secret key.
 *
 * A struct signer owns its key material in locked memory; signer_free()
 * wipes and releases it.  Key bytes never appear in a message.  Call
 * sodium_init() before signer_load().
 */
#ifndef CLOSEHOOK_SIGNER_H
#define CLOSEHOOK_SIGNER_H

#include <stddef.h>
#include <stdint.h>

#include "hmac.h"

enum signer_scheme {
	SIGNER_NONE,
	SIGNER_CLOSE, /* close-sig-hash, close-sig-timestamp */
	SIGNER_SW_V1, /* standard webhooks, HMAC-SHA256 */
	SIGNER_SW_V1A /* standard webhooks, Ed25519 */
};

struct signer {
	enum signer_scheme scheme;
	struct hmac_key hk; /* SIGNER_CLOSE, SIGNER_SW_V1 */
	unsigned char *sk; /* SIGNER_SW_V1A: 64-byte secret key */
};

/*
 * Standard Webhooks message ids (webhook-id): the signed text joins id,
 * timestamp and body with '.', so the spec forbids a '.' in an id; it
 * names no other limit.  closehook takes 1 to SIGNER_ID_MAX bytes of
 * printable ASCII (no space, no control byte) without '.'.
 */
#define SIGNER_ID_MAX 200
int sign_id_ok(const char *id, size_t n);

/* The longest header line signer_headers writes (with its name). */
#define SIGNER_HDR_MAX (SIGNER_ID_MAX + 32)

/*
 * Load a key from text (the first non-comment line of a key file): for
 * "close" 32 to 256 hex digits, as keyring.h takes them; for
 * "standard-webhooks" whsk_BASE64 (v1a; Ed25519, a 32-byte seed, or a
 * 64-byte secret key whose public half must be its seed's), else a v1
 * HMAC secret as the spec's reference libraries take it: base64, padded
 * or not, with or without the whsec_ prefix, of 24 to 64 bytes as the
 * spec says.  Hex digits alone, without the prefix, are refused as a
 * Close key given by mistake.  Returns 0, or -1 with a
 * reason (static text) in *why.
 */
int signer_init(struct signer *, const char *scheme, const char *key, size_t n,
    const char **why);
/* Whether scheme is one signer_init takes (SIGNER_SCHEMES names them). */
#define SIGNER_SCHEMES "close or standard-webhooks"
int signer_scheme_ok(const char *scheme);
/*
 * Read the key from a file (readfile_secret: warns when others may read
 * it): for "close" a key file as keyring.h reads it, holding one key; else
 * its first line that is neither blank nor a comment.  On failure *why is
 * the reason, or NULL when a message was printed already.
 */
int signer_load(
    struct signer *, const char *scheme, const char *path, const char **why);
void signer_free(struct signer *);

/*
 * The signature headers for one attempt, as "Name: value" strings, into
 * hdr[0..2] (each SIGNER_HDR_MAX bytes).  id is the message id (Standard
 * Webhooks only), ts the Unix time.  Returns the number of headers.
 */
int signer_headers(const struct signer *, const char *id, int64_t ts,
    const void *body, size_t n, char hdr[3][SIGNER_HDR_MAX]);

/* The Standard Webhooks v1 signature, "v1,BASE64", into out (64 bytes). */
void sign_sw_v1(const struct hmac_key *, const char *id, const char *ts,
    const void *body, size_t n, char *out, size_t outn);

#endif
