/*
 * secret.c - reading secret files; see secret.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "secret.h"

char *
secret_read(const char *opt, const char *path, size_t max, size_t *n)
{
	struct stat st;
	char *buf;
	ssize_t got;
	size_t len = 0;
	int fd, e;

	if ((fd = cli_secret_open(opt, path)) < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 077) != 0)
		cli_warnx("%s: readable by group or others (chmod 600)", path);
	/* One byte more than allowed tells a file that is too long. */
	if ((buf = sodium_malloc(max + 2)) == NULL) {
		close(fd);
		cli_warnx("out of memory");
		return NULL;
	}
	while (len <= max && (got = read(fd, buf + len, max + 1 - len)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			e = errno;
			close(fd);
			sodium_free(buf);
			errno = e;
			cli_warn("%s", path);
			return NULL;
		}
		len += (size_t)got;
	}
	close(fd);
	if (len > max) {
		sodium_free(buf);
		cli_warnx("%s: larger than %zu bytes", path, max);
		return NULL;
	}
	buf[len] = '\0';
	*n = len;
	return buf;
}

char *
secret_dup(const char *s, size_t n)
{
	char *p;

	if ((p = sodium_malloc(n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
secret_free(char *p)
{
	/* sodium_free fills the region with zeros before unmapping it. */
	if (p != NULL)
		sodium_free(p);
}
