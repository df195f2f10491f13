/*
 * readfile.c - whole files up to a bound, and secret files; see
 * readfile.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "readfile.h"

char *
readfile_fd(int fd, size_t max, size_t *n)
{
	size_t len = 0, cap = max < 4096 ? max + 2 : 4096;
	char *buf = malloc(cap), *nb;
	ssize_t got;
	int e;

	if (buf == NULL)
		return NULL;
	/* One byte more than allowed tells a file that is too long. */
	while (len <= max) {
		if (len + 1 >= cap) {
			cap = cap * 2 > max + 2 ? max + 2 : cap * 2;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
		}
		got = read(fd, buf + len, cap - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			e = errno;
			free(buf);
			errno = e;
			return NULL;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (len > max) {
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	buf[len] = '\0';
	*n = len;
	return buf;
}

char *
readfile(const char *path, size_t max, size_t *n)
{
	char *buf;
	int fd, e;

	if (strcmp(path, "-") == 0)
		return readfile_fd(STDIN_FILENO, max, n);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	buf = readfile_fd(fd, max, n);
	e = errno;
	close(fd);
	errno = e;
	return buf;
}

char *
readfile_must(const char *path, size_t max, size_t *n)
{
	char *buf = readfile(path, max, n);

	if (buf != NULL)
		return buf;
	if (errno == EFBIG)
		cli_fatalx("%s: larger than %zu bytes", path, max);
	cli_fatal("%s", path);
}

void
readfile_check_mode(int fd, const char *path)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) != 0)
		cli_warnx("warning: %s: readable or writable by group or "
			  "others (chmod 600)",
		    path);
}

char *
readfile_secret(const char *opt, const char *path, size_t max, size_t *n)
{
	char *buf;
	ssize_t got;
	size_t len = 0;
	int fd, e;

	if ((fd = cli_secret_open(opt, path)) < 0)
		return NULL;
	readfile_check_mode(fd, path);
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
readfile_secret_dup(const char *s, size_t n)
{
	char *p;

	if ((p = sodium_malloc(n + 1)) == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void
readfile_secret_free(char *p)
{
	/* sodium_free fills the region with zeros before unmapping it. */
	if (p != NULL)
		sodium_free(p);
}
