/*
 * keyring.h - the signing-key ring: hex keys from key files and the
 * environment, each optionally bound to one Close subscription.
 *
 * Key file lines are `HEXKEY` or `SUBSCRIPTION_ID HEXKEY`; `#` starts a
 * comment; blank lines are ignored.  Files are read into locked memory that
 * is wiped after parsing; each key is kept only as its HMAC key schedule
 * (hmac.h), never as text.  No message ever contains key bytes.  The ring
 * owns its entries; keyring_free() releases and wipes them.
 */
#ifndef CLOSEHOOK_KEYRING_H
#define CLOSEHOOK_KEYRING_H

#include <sys/types.h>

#include <stddef.h>
#include <time.h>

#include "hmac.h"

#define KEYRING_SUB_MAX 128 /* longest subscription id accepted */
#define KEYRING_MAX_BYTES 128 /* longest key accepted, in bytes */
#define KEYRING_MIN_BYTES 16 /* shortest key accepted, in bytes */
#define KEYRING_FILE_MAX (1024 * 1024)

struct keyring_entry {
	char sub[KEYRING_SUB_MAX + 1]; /* "" when unbound */
	size_t sublen;
	struct hmac_key hk;
	/* The first 8 hex digits of SHA-256 of the key bytes: names a key in
	 * messages without telling anything usable about it. */
	char fp[9];
	/* with_text: the schedule of the key's hex text used as the key (the
	 * usual mistake closehook-verify --explain looks for). */
	struct hmac_key hk_text;
	int has_text;
};

/* A key file read into a ring, and what stat(2) said of it just before. */
struct keyring_file {
	char *path;
	const char *opt; /* how it was named, for messages */
	int seen; /* the stat succeeded */
	int regular; /* a regular file: one that can be read again */
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim;
};

struct keyring {
	struct keyring_entry *v;
	size_t n;
	size_t cap;
	size_t nbound; /* entries bound to a subscription */
	int with_text; /* set before loading: keep hk_text too */
	struct keyring_file *files; /* the key files read, in order */
	size_t nfiles;
	int env_hex; /* $CLOSEHOOK_SECRET was read */
};

void keyring_init(struct keyring *);
void keyring_free(struct keyring *);

/*
 * Add one key given as hex, bound to sub (sublen 0: unbound).  Returns 0, or
 * -1 with a reason (static text) in *why.
 */
int keyring_add_hex(struct keyring *, const char *sub, size_t sublen,
    const char *hex, size_t hexlen, const char **why);

/* Is s[0..n) hex digits only, and not empty? */
int keyring_is_hex(const char *s, size_t n);

/*
 * Parse a key file's text (held in locked memory by the caller), named
 * path in messages: 0, or -1 after printing "PATH:LINE: reason".  What
 * keyring_load_file does after reading the file; also for fuzzing.
 */
int keyring_parse(struct keyring *, const char *path, char *text, size_t n);

/*
 * Load a key file.  Returns 0, or -1 after printing "PATH:LINE: reason" or
 * "PATH: reason" through cli_warnx.  A file readable by group or others
 * draws a warning but is loaded.
 */
int keyring_load_file(struct keyring *, const char *path);

/*
 * Load $CLOSEHOOK_SECRET (one unbound hex key) and $CLOSEHOOK_SECRET_FILE (a
 * key file) when set.  Returns 0, or -1 after printing why.
 */
int keyring_load_env(struct keyring *);

/*
 * The keys to try for a body naming subscription sub (sublen 0: none):
 * returns the index of the first applicable entry at or after i, or
 * ring->n when there is none.  Bound keys apply only to their own
 * subscription; unbound keys apply to every body.
 */
size_t
keyring_next(const struct keyring *, size_t i, const char *sub, size_t sublen);

/*
 * Has a key file of the ring changed since it was read, or since a
 * reload of it failed (another file at its path, another size or modification
 * time, or gone)?  A stat per file.  Never, when a file of the ring is not
 * a regular file (a pipe, --secret-file <(command)): that cannot be read
 * again.
 */
int keyring_changed(const struct keyring *);

/*
 * What a reread changed, for a message: "N keys" and, when keys came or
 * went, "; new: FP (SUB), ...; gone: FP (SUB), ..." (fingerprints and the
 * subscriptions they are bound to), cut to fit dst.
 */
void keyring_diff(const struct keyring *old, const struct keyring *new,
    char *dst, size_t cap);

/*
 * A new ring read from the ring's key files and $CLOSEHOOK_SECRET again,
 * all of them or nothing, said: "WHY: keys reloaded: DIFF" (keyring_diff)
 * and the new ring; or, after saying why (as the loads do; also when a
 * file is not a regular file), "WHY: keys not reloaded: the N in use
 * stay" and NULL, r's files then taken as they are now for unchanged, so
 * that the same broken file is not read again until it changes.  A file
 * caught half written either fails to parse or has changed again by the
 * next keyring_changed.  r's files are read and written, so reloads of
 * one ring must not overlap; its keys are only read.
 */
struct keyring *keyring_reload(struct keyring *, const char *why);

#endif
