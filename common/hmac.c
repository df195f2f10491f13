/*
 * hmac.c - HMAC-SHA256 with precomputed pads (RFC 2104), on OpenSSL's
 * SHA-256, which uses the CPU's SHA extensions where present; see hmac.h.
 */
#include <pthread.h>
#include <string.h>

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
	for (j = 0; j < BLOCK; j++)
		pad[j] = block[j] ^ 0x5c;
	if (!EVP_DigestInit_ex(o, md(), NULL) ||
	    !EVP_DigestUpdate(o, pad, BLOCK))
		goto out;
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
	memset(k, 0, sizeof(*k));
}

void
hmac_sha256(const struct hmac_key *k, const void *a, size_t an, const void *b,
    size_t bn, unsigned char out[HMAC_LEN])
{
	unsigned char ih[HMAC_LEN];
	unsigned int dl;
	EVP_MD_CTX *w = work();

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
