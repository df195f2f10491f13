/*
 * tests/fakes/failsync.c - an LD_PRELOAD library for the tests: while the
 * file named by $FAILSYNC_FLAG exists, fdatasync(2) and fsync(2) fail with
 * EIO, as they do when the disk loses a write-back; with $FAILSYNC_PATH
 * (an absolute path), only those of a descriptor open on that file.  Built
 * by the test that uses it (cc -shared -fPIC).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fdatasync(int);
int fsync(int);

static int
failing(int fd)
{
	const char *flag = getenv("FAILSYNC_FLAG");
	const char *only = getenv("FAILSYNC_PATH");
	char link[64], target[PATH_MAX];
	ssize_t n;

	if (flag == NULL || access(flag, F_OK) != 0)
		return 0;
	if (only == NULL)
		return 1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return 0;
	target[n] = '\0';
	return strcmp(target, only) == 0;
}

int
fdatasync(int fd)
{
	static int (*real)(int);

	if (failing(fd)) {
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	return real(fd);
}

int
fsync(int fd)
{
	static int (*real)(int);

	if (failing(fd)) {
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	return real(fd);
}
