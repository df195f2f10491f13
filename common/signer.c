/*
 * signer.c - outbound webhook signatures; see signer.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "keyring.h"
#include "readfile.h"
#include "signer.h"

#define KEYTEXT_MAX 4096

/*
 * Standard base64 of n bytes of text, with its padding or without, as the
 * reference libraries take it (Python's and Java's decoders accept both).
 */
static int
b64_decode(
    const char *t, size_t n, unsigned char *raw, size_t cap, size_t *rawn)
{
	const char *end;

	if (n == 0)
		return -1;
	if (sodium_base642bin(raw, cap, t, n, NULL, rawn, &end,
		sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    end == t + n)
		return 0;
	if (sodium_base642bin(raw, cap, t, n, NULL, rawn, &end,
		sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0 &&
	    end == t + n)
		return 0;
	return -1;
}

int
sign_id_ok(const char *id, size_t n)
{
	size_t i;

	if (n == 0 || n > SIGNER_ID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)id[i] <= ' ' || (unsigned char)id[i] > '~' ||
		    id[i] == '.')
			return 0;
	return 1;
}

int
signer_scheme_ok(const char *scheme)
{
	return strcmp(scheme, "close") == 0 ||
	    strcmp(scheme, "standard-webhooks") == 0;
}

/*
 * A Close key comes from a key ring (keyring.h), which reads hex keys for
 * verify and receive: the ring's one key's schedule moves to s, and the
 * ring forgets it.
 */
static void
take_key(struct signer *s, struct keyring *ring)
{
	s->hk = ring->v[0].hk;
	memset(&ring->v[0].hk, 0, sizeof(ring->v[0].hk));
	ring->n = 0;
	s->scheme = SIGNER_CLOSE;
}

int
signer_init(struct signer *s, const char *scheme, const char *key, size_t n,
    const char **why)
{
	unsigned char raw[256], pk[crypto_sign_PUBLICKEYBYTES];
	size_t rawn = 0;
	int rc = -1, same;

	memset(s, 0, sizeof(*s));
	if (strcmp(scheme, "close") == 0) {
		struct keyring ring;

		keyring_init(&ring);
		if (keyring_add_hex(&ring, NULL, 0, key, n, why) == 0) {
			take_key(s, &ring);
			rc = 0;
		}
		keyring_free(&ring);
		return rc;
	}
	/* Every way out goes through out:, which wipes raw. */
	if (!signer_scheme_ok(scheme)) {
		*why = "unknown scheme (" SIGNER_SCHEMES ")";
		goto out;
	}
	if (n > 5 && memcmp(key, "whsk_", 5) == 0) {
		unsigned char check[crypto_sign_SECRETKEYBYTES];

		if (b64_decode(key + 5, n - 5, raw, sizeof(raw), &rawn) != 0 ||
		    (rawn != crypto_sign_SEEDBYTES &&
			rawn != crypto_sign_SECRETKEYBYTES)) {
			*why = "whsk_ key is not base64 of a 32-byte seed or "
			       "a 64-byte Ed25519 secret key";
			goto out;
		}
		if ((s->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) ==
		    NULL) {
			*why = "out of memory";
			goto out;
		}
		/*
		 * A 64-byte key is the seed and its public key: a public half
		 * of another key would give signatures that verify under
		 * neither.
		 */
		crypto_sign_seed_keypair(pk, s->sk, raw);
		if (rawn == crypto_sign_SECRETKEYBYTES) {
			memcpy(check, s->sk, sizeof(check));
			same = sodium_memcmp(check, raw, sizeof(check)) == 0;
			sodium_memzero(check, sizeof(check));
			if (!same) {
				sodium_free(s->sk);
				s->sk = NULL;
				*why = "whsk_ key: its public half is not the "
				       "one of its seed (a damaged or mixed-up "
				       "key)";
				goto out;
			}
		}
		sodium_mprotect_readonly(s->sk);
		s->scheme = SIGNER_SW_V1A;
		rc = 0;
		goto out;
	}
	/* A v1 secret: whsec_ is optional, as in the reference libraries. */
	if (n >= 6 && memcmp(key, "whsec_", 6) == 0) {
		key += 6;
		n -= 6;
	} else if (n > 0 && strspn(key, "0123456789abcdefABCDEF") >= n) {
		*why = "hex digits: a key for --sign close, not a Standard "
		       "Webhooks secret (whsec_ and base64)";
		goto out;
	}
	if (b64_decode(key, n, raw, sizeof(raw), &rawn) != 0) {
		*why = "expected a whsec_ secret or a whsk_ key, in base64";
		goto out;
	}
	if (rawn < 24 || rawn > 64) {
		*why = "the secret is not 24 to 64 bytes, as Standard Webhooks "
		       "wants";
		goto out;
	}
	if (hmac_key_init(&s->hk, raw, rawn) != 0) {
		*why = "out of memory";
		goto out;
	}
	s->scheme = SIGNER_SW_V1;
	rc = 0;
out:
	sodium_memzero(raw, sizeof(raw));
	return rc;
}

/*
 * A Close key file as verify and receive read it (keyring.h): HEXKEY or
 * SUBSCRIPTION_ID HEXKEY lines, as closehook-subscribe --key-out writes
 * them.  Signing takes one key, so the file must hold one.
 */
static int
load_close(
    struct signer *s, const char *path, char *text, size_t n, const char **why)
{
	struct keyring ring;
	int rc = -1;

	memset(s, 0, sizeof(*s));
	keyring_init(&ring);
	/* keyring_parse refuses a file of no key, saying so. */
	if (keyring_parse(&ring, path, text, n) != 0)
		*why = NULL; /* said already */
	else if (ring.n > 1)
		*why = "more than one key in the file: --sign close signs with "
		       "one, so give a file that holds only it";
	else {
		take_key(s, &ring);
		rc = 0;
	}
	keyring_free(&ring);
	return rc;
}

int
signer_load(
    struct signer *s, const char *scheme, const char *path, const char **why)
{
	char *buf, *p, *e;
	size_t n;
	int rc = -1;

	if ((buf = readfile_secret("--sign-key-file", path, KEYTEXT_MAX, &n)) ==
	    NULL) {
		*why = NULL; /* said already */
		return -1;
	}
	if (strcmp(scheme, "close") == 0) {
		rc = load_close(s, path, buf, n, why);
		goto out;
	}
	/* The first line that is neither blank nor a comment is the key. */
	for (p = buf; *p != '\0'; p = *e == '\0' ? e : e + 1) {
		e = p + strcspn(p, "\n");
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		if (p == e || *p == '#')
			continue;
		while (
		    e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		rc = signer_init(s, scheme, p, (size_t)(e - p), why);
		goto out;
	}
	*why = "no key in the file";
out:
	readfile_secret_free(buf);
	return rc;
}

void
signer_free(struct signer *s)
{
	if (s->scheme == SIGNER_CLOSE || s->scheme == SIGNER_SW_V1)
		hmac_key_free(&s->hk);
	if (s->sk != NULL)
		sodium_free(s->sk);
	memset(s, 0, sizeof(*s));
}

void
sign_sw_v1(const struct hmac_key *k, const char *id, const char *ts,
    const void *body, size_t n, char *out, size_t outn)
{
	unsigned char mac[HMAC_LEN];
	char pre[256];
	int pn;

	pn = snprintf(pre, sizeof(pre), "%s.%s.", id, ts);
	if (pn < 0 || (size_t)pn >= sizeof(pre))
		pn = 0;
	hmac_sha256(k, pre, (size_t)pn, body, n, mac);
	snprintf(out, outn, "v1,");
	sodium_bin2base64(out + 3, outn - 3, mac, sizeof(mac),
	    sodium_base64_VARIANT_ORIGINAL);
}

int
signer_headers(const struct signer *s, const char *id, int64_t ts,
    const void *body, size_t n, char hdr[3][SIGNER_HDR_MAX])
{
	unsigned char mac[HMAC_LEN];
	char tsb[32], hex[2 * HMAC_LEN + 1];
	char sig[128];
	int tn;

	tn = snprintf(tsb, sizeof(tsb), "%lld", (long long)ts);
	switch (s->scheme) {
	case SIGNER_CLOSE:
		hmac_close_sig(&s->hk, tsb, (size_t)tn, body, n, mac);
		hmac_hex_encode(mac, sizeof(mac), hex);
		hex[2 * HMAC_LEN] = '\0';
		snprintf(hdr[0], SIGNER_HDR_MAX, "close-sig-hash: %s", hex);
		snprintf(
		    hdr[1], SIGNER_HDR_MAX, "close-sig-timestamp: %s", tsb);
		return 2;
	case SIGNER_SW_V1:
		sign_sw_v1(&s->hk, id, tsb, body, n, sig, sizeof(sig));
		break;
	case SIGNER_SW_V1A: {
		unsigned char ed[crypto_sign_BYTES], *m;
		unsigned long long sl;
		char pre[256];
		int pn;

		/* Ed25519 over the same "id.timestamp.body" message. */
		pn = snprintf(pre, sizeof(pre), "%s.%s.", id, tsb);
		if (pn < 0 || (size_t)pn >= sizeof(pre))
			pn = 0;
		m = xmalloc((size_t)pn + n + 1);
		memcpy(m, pre, (size_t)pn);
		if (n > 0)
			memcpy(m + pn, body, n);
		crypto_sign_detached(ed, &sl, m, (size_t)pn + n, s->sk);
		free(m);
		snprintf(sig, sizeof(sig), "v1a,");
		sodium_bin2base64(sig + 4, sizeof(sig) - 4, ed, sizeof(ed),
		    sodium_base64_VARIANT_ORIGINAL);
		break;
	}
	default:
		return 0;
	}
	snprintf(hdr[0], SIGNER_HDR_MAX, "webhook-id: %s", id);
	snprintf(hdr[1], SIGNER_HDR_MAX, "webhook-timestamp: %s", tsb);
	snprintf(hdr[2], SIGNER_HDR_MAX, "webhook-signature: %s", sig);
	return 3;
}
