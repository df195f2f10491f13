/*
 * readfile.h - reading a whole file up to a bound, in one call (skalibs'
 * openreadnclose in spirit), and reading secret files.
 *
 * readfile() and readfile_fd() read into malloc'd memory and print
 * nothing: the caller words the message from errno (EFBIG: longer than
 * allowed).
 *
 * readfile_secret() is for a secret file (a key file, a token, a password,
 * a URL that is a secret, a header file): read(2) straight into locked,
 * guarded memory (sodium_malloc), never through stdio, whose buffer would
 * keep a copy no one wipes.  One permission rule for every secret file: a
 * regular file that group or others may read or write draws one warning,
 *	PROG: warning: PATH: readable or writable by group or others (chmod 600)
 * (execute bits do not count).  Its messages name the file only through
 * cli_secret_name(), so a secret passed where its path belongs is not
 * echoed.  The caller owns what it returns and gives it back to
 * readfile_secret_free(), which wipes it.  Call sodium_init() first.
 */
#ifndef CLOSEHOOK_READFILE_H
#define CLOSEHOOK_READFILE_H

#include <stddef.h>

/*
 * The whole file PATH ("-": standard input), at most max bytes, in
 * malloc'd memory, NUL-terminated; *n is its length.  NULL with errno set
 * (EFBIG when longer than max), nothing printed.
 */
char *readfile(const char *path, size_t max, size_t *n);
/* The same from an open descriptor, read to its end; fd stays open. */
char *readfile_fd(int fd, size_t max, size_t *n);
/*
 * readfile(), or exit 2 with "PATH: larger than MAX bytes" or
 * "PATH: ERROR": for a file a program cannot go on without.
 */
char *readfile_must(const char *path, size_t max, size_t *n);

/*
 * The whole secret file PATH, the value of option OPT ("--bearer-file"),
 * at most max bytes, in locked memory, NUL-terminated; *n is its length.
 * Returns NULL after a message on stderr when it cannot be opened or read
 * or is longer than max bytes.
 */
char *readfile_secret(const char *opt, const char *path, size_t max, size_t *n);

/*
 * The one permission rule, for a secret file opened as fd that a program
 * does not read through readfile_secret() (a file it writes, or one a
 * library reads): the warning above when group or others may read or
 * write it.
 */
void readfile_check_mode(int fd, const char *path);

/*
 * A copy of the n bytes at s in locked memory, NUL-terminated (for a
 * secret from the environment).  NULL when out of memory.
 */
char *readfile_secret_dup(const char *s, size_t n);

/* Wipe and release what readfile_secret*() returned; NULL is ok. */
void readfile_secret_free(char *);

#endif
