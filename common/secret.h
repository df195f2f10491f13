/*
 * secret.h - reading a secret file (a token, a password, a URL that is a
 * secret, a header file): read(2) straight into locked, guarded memory
 * (sodium_malloc), never through stdio, whose buffer would keep a copy no
 * one wipes.  A regular file that group or others may read draws a
 * warning.  Messages name the file only through cli_secret_name(), so a
 * secret passed where its path belongs is not echoed.  Issue 16 routes
 * every secret read of the programs through here; keys.c, sign.c and
 * closeapi.c still read their own files.
 *
 * The caller owns what secret_read() returns and gives it back to
 * secret_free(), which wipes it.  Call sodium_init() first.
 */
#ifndef CLOSEHOOK_SECRET_H
#define CLOSEHOOK_SECRET_H

#include <stddef.h>

/*
 * The whole file PATH, the value of option OPT ("--bearer-file"), as text
 * of at most max bytes, NUL-terminated; *n is its length.  Returns NULL
 * after a message on stderr when it cannot be opened or read or is longer
 * than max bytes.
 */
char *secret_read(const char *opt, const char *path, size_t max, size_t *n);

/*
 * A copy of the n bytes at s in locked memory, NUL-terminated (for a
 * secret from the environment).  NULL when out of memory.
 */
char *secret_dup(const char *s, size_t n);

/* Wipe and release what secret_read() or secret_dup() returned; NULL is ok. */
void secret_free(char *);

#endif
