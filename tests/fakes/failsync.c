/*
 * tests/fakes/failsync.c - an LD_PRELOAD library for the tests: while the
 * file named by $FAILSYNC_FLAG exists, fdatasync(2) and fsync(2) fail with
 * EIO, as they do when the disk loses a write-back.  Built by the test
 * that uses it (cc -shared -fPIC).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

int fdatasync(int);
int fsync(int);

static int
failing(void)
{
	const char *flag = getenv("FAILSYNC_FLAG");

	return flag != NULL && access(flag, F_OK) == 0;
}

int
fdatasync(int fd)
{
	static int (*real)(int);

	if (failing()) {
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

	if (failing()) {
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	return real(fd);
}
