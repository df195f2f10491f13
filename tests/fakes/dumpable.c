/*
 * tests/fakes/dumpable.c - an LD_PRELOAD library for the tests: when the
 * process exits, it appends "dumpable=D core=C" to the file named by
 * $DUMPABLE_LOG, D being prctl(PR_GET_DUMPABLE) and C the soft
 * RLIMIT_CORE (-1: unlimited), so that a test sees whether a program
 * turned its core dumps off.  Built by the test that uses it (cc -shared
 * -fPIC).
 */
#define _GNU_SOURCE
#include <sys/prctl.h>
#include <sys/resource.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((destructor)) static void
report(void)
{
	const char *path = getenv("DUMPABLE_LOG");
	struct rlimit rl;
	char buf[64];
	int fd, n;

	if (path == NULL || getrlimit(RLIMIT_CORE, &rl) != 0)
		return;
	n = snprintf(buf, sizeof(buf), "dumpable=%d core=%lld\n",
	    prctl(PR_GET_DUMPABLE, 0L, 0L, 0L, 0L),
	    rl.rlim_cur == RLIM_INFINITY ? -1LL : (long long)rl.rlim_cur);
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600)) < 0)
		return;
	(void)write(fd, buf, (size_t)n);
	close(fd);
}
