/*
 * keyring.c - the signing-key ring; see keyring.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "keyring.h"
#include "readfile.h"

void
keyring_init(struct keyring *r)
{
	memset(r, 0, sizeof(*r));
}

void
keyring_free(struct keyring *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		hmac_key_free(&r->v[i].hk);
		if (r->v[i].has_text)
			hmac_key_free(&r->v[i].hk_text);
	}
	if (r->v != NULL)
		sodium_memzero(r->v, r->cap * sizeof(*r->v));
	free(r->v);
	memset(r, 0, sizeof(*r));
}

int
keyring_add_hex(struct keyring *r, const char *sub, size_t sublen,
    const char *hex, size_t hexlen, const char **why)
{
	unsigned char key[KEYRING_MAX_BYTES];
	size_t klen = 0;
	const char *end;
	struct keyring_entry *e;

	if (sublen > KEYRING_SUB_MAX) {
		*why = "subscription id too long";
		return -1;
	}
	if (hexlen % 2 != 0 || hexlen / 2 < KEYRING_MIN_BYTES ||
	    hexlen / 2 > KEYRING_MAX_BYTES) {
		*why = "key is not 32 to 256 hex digits";
		return -1;
	}
	/* sodium_hex2bin runs in time independent of the key's digits. */
	if (sodium_hex2bin(key, sizeof(key), hex, hexlen, NULL, &klen, &end) !=
		0 ||
	    end != hex + hexlen) {
		sodium_memzero(key, sizeof(key));
		*why = "key is not hexadecimal";
		return -1;
	}
	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 8;
		struct keyring_entry *nv;

		nv = xcalloc(ncap, sizeof(*nv));
		if (r->n > 0)
			memcpy(nv, r->v, r->n * sizeof(*nv));
		if (r->v != NULL)
			sodium_memzero(r->v, r->cap * sizeof(*r->v));
		free(r->v);
		r->v = nv;
		r->cap = ncap;
	}
	e = &r->v[r->n];
	if (sublen > 0)
		memcpy(e->sub, sub, sublen);
	e->sub[sublen] = '\0';
	e->sublen = sublen;
	if (hmac_key_init(&e->hk, key, klen) != 0 ||
	    (r->with_text &&
		hmac_key_init(
		    &e->hk_text, (const unsigned char *)hex, hexlen) != 0)) {
		sodium_memzero(key, sizeof(key));
		*why = "cannot set up HMAC";
		return -1;
	}
	e->has_text = r->with_text;
	{
		unsigned char h[crypto_hash_sha256_BYTES];

		crypto_hash_sha256(h, key, klen);
		sodium_bin2hex(e->fp, sizeof(e->fp), h, 4);
		sodium_memzero(h, sizeof(h));
	}
	sodium_memzero(key, sizeof(key));
	r->n++;
	if (sublen > 0)
		r->nbound++;
	return 0;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Parse a key file's text held in locked memory. */
static int
parse_keys(struct keyring *r, const char *path, char *text, size_t n)
{
	char *p = text, *end = text + n, *eol, *tok[3];
	size_t toklen[3];
	unsigned long lineno = 0;
	const char *why;
	int ntok, rc = 0, loaded = 0;

	/* As a Windows editor saves text: a UTF-8 byte-order mark, skipped;
	 * UTF-16 ("Unicode"), which no line of it would parse as. */
	if (n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	else if ((n >= 2 &&
		     ((unsigned char)p[0] == 0xff ||
			 (unsigned char)p[0] == 0xfe) &&
		     ((unsigned char)p[1] == 0xfe ||
			 (unsigned char)p[1] == 0xff)) ||
	    memchr(text, '\0', n) != NULL) {
		cli_warnx("%s: UTF-16 text or NUL bytes: save the key file "
			  "as ASCII or UTF-8",
		    path);
		return -1;
	}
	while (p < end) {
		lineno++;
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		ntok = 0;
		while (p < eol) {
			while (p < eol && is_space(*p))
				p++;
			if (p == eol || *p == '#')
				break;
			if (ntok == 3) {
				ntok++;
				break;
			}
			tok[ntok] = p;
			while (p < eol && !is_space(*p) && *p != '#')
				p++;
			toklen[ntok] = (size_t)(p - tok[ntok]);
			ntok++;
		}
		p = eol + 1;
		if (ntok == 0)
			continue;
		if (ntok > 2) {
			cli_recwarnx(path, lineno,
			    "expected HEXKEY or SUBSCRIPTION_ID HEXKEY");
			rc = -1;
			continue;
		}
		if (ntok == 1) {
			/* An unbound key: no subscription id before it. */
			tok[1] = tok[0];
			toklen[1] = toklen[0];
			toklen[0] = 0;
		}
		if (keyring_add_hex(
			r, tok[0], toklen[0], tok[1], toklen[1], &why) != 0) {
			cli_recwarnx(path, lineno, "%s", why);
			rc = -1;
		} else
			loaded++;
	}
	if (rc == 0 && loaded == 0) {
		cli_warnx("%s: no keys in key file", path);
		rc = -1;
	}
	return rc;
}

/* A key file named by opt (an option, or the variable that named it). */
static int
load_file(struct keyring *r, const char *opt, const char *path)
{
	char *text;
	size_t n;
	int rc;

	if ((text = readfile_secret(opt, path, KEYRING_FILE_MAX, &n)) == NULL)
		return -1;
	rc = parse_keys(r, path, text, n);
	readfile_secret_free(text);
	return rc;
}

int
keyring_load_file(struct keyring *r, const char *path)
{
	return load_file(r, "--secret-file", path);
}

int
keyring_load_env(struct keyring *r)
{
	const char *s, *why;
	size_t n;

	if ((s = getenv("CLOSEHOOK_SECRET")) != NULL && *s != '\0') {
		n = strlen(s);
		while (n > 0 && (s[n - 1] == '\n' || is_space(s[n - 1])))
			n--;
		if (keyring_add_hex(r, "", 0, s, n, &why) != 0) {
			cli_warnx("CLOSEHOOK_SECRET: %s", why);
			return -1;
		}
	}
	if ((s = getenv("CLOSEHOOK_SECRET_FILE")) != NULL && *s != '\0')
		return load_file(r, "$CLOSEHOOK_SECRET_FILE", s);
	return 0;
}

size_t
keyring_next(const struct keyring *r, size_t i, const char *sub, size_t sublen)
{
	for (; i < r->n; i++) {
		const struct keyring_entry *e = &r->v[i];

		if (e->sublen == 0)
			return i;
		if (e->sublen == sublen && memcmp(e->sub, sub, sublen) == 0)
			return i;
	}
	return r->n;
}
