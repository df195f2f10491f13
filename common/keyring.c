/*
 * keyring.c - the signing-key ring; see keyring.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
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
	for (i = 0; i < r->nfiles; i++)
		free(r->files[i].path);
	free(r->files);
	memset(r, 0, sizeof(*r));
}

/* What stat(2) says of path now, into f's stat fields (seen 0: it failed). */
static void
file_stat(struct keyring_file *f, const char *path)
{
	struct stat st;

	f->seen = f->regular = 0;
	f->dev = 0;
	f->ino = 0;
	f->size = 0;
	f->mtim.tv_sec = f->mtim.tv_nsec = 0;
	if (stat(path, &st) != 0)
		return;
	f->seen = 1;
	f->regular = S_ISREG(st.st_mode);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtim = st.st_mtim;
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
		static _Thread_local char msg[96];

		snprintf(msg, sizeof(msg),
		    hexlen % 2 != 0
			? "key has an odd number of hex digits (%zu): a digit "
			  "is missing or extra"
			: "key is %zu hex digits, not 32 to 256 (Close's are "
			  "64)",
		    hexlen);
		*why = msg;
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

int
keyring_is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
			(s[i] >= 'a' && s[i] <= 'f') ||
			(s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return n > 0;
}

int
keyring_parse(struct keyring *r, const char *path, char *text, size_t n)
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
	/* A NUL is refused after a byte-order mark too. */
	if ((p == text && n >= 2 &&
		((unsigned char)p[0] == 0xff || (unsigned char)p[0] == 0xfe) &&
		((unsigned char)p[1] == 0xfe || (unsigned char)p[1] == 0xff)) ||
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
		if (ntok == 2 && toklen[0] >= 32 &&
		    keyring_is_hex(tok[0], toklen[0]) &&
		    keyring_is_hex(tok[1], toklen[1])) {
			/* Not named: the first is likely a key too. */
			cli_recwarnx(path, lineno,
			    "two hex keys on one line: give each its own "
			    "(HEXKEY or SUBSCRIPTION_ID HEXKEY)");
			rc = -1;
			continue;
		}
		if (ntok == 2 && keyring_is_hex(tok[0], toklen[0]) &&
		    !keyring_is_hex(tok[1], toklen[1])) {
			cli_recwarnx(path, lineno,
			    "expected SUBSCRIPTION_ID HEXKEY: the two look "
			    "swapped");
			rc = -1;
			continue;
		}
		if (keyring_add_hex(
			r, tok[0], toklen[0], tok[1], toklen[1], &why) != 0) {
			cli_recwarnx(path, lineno, "%s", why);
			rc = -1;
			continue;
		}
		loaded++;
		if (toklen[0] > 0 &&
		    (toklen[0] < 6 || memcmp(tok[0], "whsub_", 6) != 0))
			cli_recwarnx(path, lineno,
			    "warning: %.*s is not a subscription id "
			    "(whsub_...): the key applies to no delivery",
			    (int)(toklen[0] > 40 ? 40 : toklen[0]), tok[0]);
	}
	if (rc == 0 && loaded == 0) {
		cli_warnx("%s: no keys in key file", path);
		rc = -1;
	}
	return rc;
}

/*
 * A key file named by opt (an option, or the variable that named it),
 * remembered with its stat, taken before the read: a change after it is
 * seen by keyring_changed.
 */
static int
load_file(struct keyring *r, const char *opt, const char *path)
{
	struct keyring_file f;
	char *text;
	size_t n;
	int rc;

	file_stat(&f, path);
	if ((text = readfile_secret(opt, path, KEYRING_FILE_MAX, &n)) == NULL)
		return -1;
	f.path = xstrdup(path);
	f.opt = opt;
	r->files = xrealloc(r->files, (r->nfiles + 1) * sizeof(*r->files));
	r->files[r->nfiles++] = f;
	rc = keyring_parse(r, path, text, n);
	readfile_secret_free(text);
	return rc;
}

int
keyring_load_file(struct keyring *r, const char *path)
{
	return load_file(r, "--secret-file", path);
}

/* $CLOSEHOOK_SECRET, when set. */
static int
load_env_hex(struct keyring *r)
{
	const char *s, *why;
	size_t n;

	if ((s = getenv("CLOSEHOOK_SECRET")) == NULL || *s == '\0')
		return 0;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || is_space(s[n - 1])))
		n--;
	if (keyring_add_hex(r, "", 0, s, n, &why) != 0) {
		cli_warnx("CLOSEHOOK_SECRET: %s", why);
		return -1;
	}
	r->env_hex = 1;
	return 0;
}

int
keyring_load_env(struct keyring *r)
{
	const char *s;

	if (load_env_hex(r) != 0)
		return -1;
	if ((s = getenv("CLOSEHOOK_SECRET_FILE")) != NULL && *s != '\0')
		return load_file(r, "$CLOSEHOOK_SECRET_FILE", s);
	return 0;
}

int
keyring_changed(const struct keyring *r)
{
	struct keyring_file now;
	const struct keyring_file *f;
	size_t i;

	for (i = 0; i < r->nfiles; i++)
		if (!r->files[i].regular)
			return 0;
	for (i = 0; i < r->nfiles; i++) {
		f = &r->files[i];
		file_stat(&now, f->path);
		if (now.seen != f->seen || now.dev != f->dev ||
		    now.ino != f->ino || now.size != f->size ||
		    now.mtim.tv_sec != f->mtim.tv_sec ||
		    now.mtim.tv_nsec != f->mtim.tv_nsec)
			return 1;
	}
	return 0;
}

/* Take r's files as they are now for unchanged. */
static void
keyring_seen(struct keyring *r)
{
	size_t i;

	for (i = 0; i < r->nfiles; i++)
		file_stat(&r->files[i], r->files[i].path);
}

/* r's files and $CLOSEHOOK_SECRET read again, all or nothing. */
static struct keyring *
keyring_reread(const struct keyring *r)
{
	struct keyring *nr;
	size_t i;

	for (i = 0; i < r->nfiles; i++)
		if (!r->files[i].regular) {
			cli_warnx("%s: not a regular file: it cannot be read "
				  "again",
			    r->files[i].path);
			return NULL;
		}
	nr = xmalloc(sizeof(*nr));

	keyring_init(nr);
	nr->with_text = r->with_text;
	for (i = 0; i < r->nfiles; i++)
		if (load_file(nr, r->files[i].opt, r->files[i].path) != 0)
			goto fail;
	if (r->env_hex && load_env_hex(nr) != 0)
		goto fail;
	return nr;
fail:
	keyring_free(nr);
	free(nr);
	return NULL;
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

/* Is entry e (fingerprint and subscription) in r? */
static int
has_entry(const struct keyring *r, const struct keyring_entry *e)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->v[i].fp, e->fp) == 0 &&
		    r->v[i].sublen == e->sublen &&
		    memcmp(r->v[i].sub, e->sub, e->sublen) == 0)
			return 1;
	return 0;
}

/* Append printf text to dst[*len, cap), cut to fit. */
static void append(char *dst, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
append(char *dst, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (*len + 1 >= cap)
		return;
	va_start(ap, fmt);
	k = vsnprintf(dst + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (k > 0)
		*len += (size_t)k < cap - *len ? (size_t)k : cap - *len - 1;
}

/* Append "; LABEL: FP (SUB), ..." for the entries of a missing from b. */
static void
diff_list(const struct keyring *a, const struct keyring *b, const char *label,
    char *dst, size_t cap, size_t *len)
{
	size_t i;
	int first = 1;

	for (i = 0; i < a->n; i++) {
		const struct keyring_entry *e = &a->v[i];

		if (has_entry(b, e))
			continue;
		append(dst, cap, len, "%s%s (%s)", first ? label : ", ", e->fp,
		    e->sublen > 0 ? e->sub : "any subscription");
		first = 0;
	}
}

void
keyring_diff(
    const struct keyring *old, const struct keyring *new, char *dst, size_t cap)
{
	size_t len = 0;

	dst[0] = '\0';
	append(dst, cap, &len, "%zu key%s", new->n, new->n == 1 ? "" : "s");
	diff_list(new, old, "; new: ", dst, cap, &len);
	diff_list(old, new, "; gone: ", dst, cap, &len);
}

struct keyring *
keyring_reload(struct keyring *r, const char *why)
{
	struct keyring *nr = keyring_reread(r);
	char diff[512];

	if (nr == NULL) {
		cli_warnx(
		    "%s: keys not reloaded: the %zu in use stay", why, r->n);
		keyring_seen(r);
		return NULL;
	}
	keyring_diff(r, nr, diff, sizeof(diff));
	cli_warnx("%s: keys reloaded: %s", why, diff);
	return nr;
}
