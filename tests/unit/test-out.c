/*
 * test-out.c - append files: a torn tail is cut off before appending, a
 * commit writes whole lines only, and a commit that fails is undone.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "out.h"
#include "tap.h"

static char dir[] = "/tmp/closehook-test-out.XXXXXX";

/* The whole file at path into buf (NUL-terminated); returns its length. */
static size_t
slurp(const char *path, char *buf, size_t cap)
{
	ssize_t got;
	size_t n = 0;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		return (size_t)-1;
	while (n < cap - 1 && (got = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)got;
	close(fd);
	buf[n] = '\0';
	return n;
}

static void
spit(const char *path, const char *s, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, s, n) != (ssize_t)n)
		abort();
	close(fd);
}

int
main(void)
{
	struct out o;
	struct stat st;
	struct rlimit rl, old;
	char path[128], got[65536], *big;
	size_t n;
	int fd, rc;

	if (mkdtemp(dir) == NULL)
		abort();
	umask(022);

	/* A new file. */
	snprintf(path, sizeof(path), "%s/new", dir);
	ok(out_append_open(&o, path, 0600) == 0, "a new append file opens");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "mode 0600");
	out_write(&o, "{\"a\":1}\n{\"b\"", 12);
	is_int(out_commit(&o, 1), 0, "a commit");
	n = slurp(path, got, sizeof(got));
	is_mem(got, n, "{\"a\":1}\n", 8, "writes the whole lines only");
	is_int(out_pending(&o), 4, "and keeps the unfinished one");
	out_write(&o, ":2}\n", 4);
	is_int(out_close(&o), 0, "closing commits the rest");
	n = slurp(path, got, sizeof(got));
	is_mem(got, n, "{\"a\":1}\n{\"b\":2}\n", 16, "both lines are in");

	/* Torn tails are cut off before anything is appended. */
	spit(path, "one\ntwo\nthr", 11);
	ok(out_append_open(&o, path, 0600) == 0,
	    "a file with a torn tail opens");
	n = slurp(path, got, sizeof(got));
	is_mem(got, n, "one\ntwo\n", 8, "the torn line is gone at once");
	out_write(&o, "three\n", 6);
	is_int(out_commit(&o, 0), 0, "an append");
	n = slurp(path, got, sizeof(got));
	is_mem(got, n, "one\ntwo\nthree\n", 14, "starts on a line of its own");
	/* Another writer died in the middle of a line since: cut again. */
	if ((fd = open(path, O_WRONLY | O_APPEND)) < 0 ||
	    write(fd, "{\"torn", 6) != 6)
		abort();
	close(fd);
	out_write(&o, "four\n", 5);
	is_int(out_commit(&o, 1), 0, "an append after a foreign torn line");
	n = slurp(path, got, sizeof(got));
	is_mem(got, n, "one\ntwo\nthree\nfour\n", 19,
	    "the foreign torn line is cut before the append");
	out_close(&o);

	spit(path, "no newline at all", 17);
	ok(out_append_open(&o, path, 0600) == 0, "a file of one torn line");
	is_int(slurp(path, got, sizeof(got)), 0, "is emptied");
	out_close(&o);

	/* A torn line longer than the backwards read. */
	if ((big = malloc(50002)) == NULL)
		abort();
	memcpy(big, "x\n", 2);
	memset(big + 2, 'y', 50000);
	spit(path, big, 50002);
	fd = out_append_fd(path, 0600, &st);
	ok(fd >= 0, "out_append_fd on a 50000-byte torn line");
	is_int(st.st_size, 2, "reports the size after the cut");
	n = slurp(path, got, sizeof(got));
	is_mem(got, n, "x\n", 2, "cuts back to the last newline");
	close(fd);
	free(big);

	/* A failed commit is undone; the error is sticky. */
	spit(path, "kept\n", 5);
	ok(out_append_open(&o, path, 0600) == 0, "open for a failing write");
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	rl = old;
	rl.rlim_cur = 5 + 10; /* the write stops 10 bytes in: a full disk */
	out_write(&o, "a line that does not fit\n", 25);
	/* The limit holds for stdout too when it is a file: test, then tell. */
	setrlimit(RLIMIT_FSIZE, &rl);
	rc = out_commit(&o, 1);
	setrlimit(RLIMIT_FSIZE, &old);
	is_int(rc, -1, "a commit past the limit fails");
	is_int(o.err, EFBIG, "with the write's error");
	n = slurp(path, got, sizeof(got));
	is_mem(got, n, "kept\n", 5, "and leaves no half record");
	is_int(out_write(&o, "x\n", 2), -1, "later writes fail");
	is_int(out_commit(&o, 1), -1, "and so do later commits");
	ok(out_close(&o) == -1 && errno == EFBIG, "close reports the error");
	n = slurp(path, got, sizeof(got));
	is_mem(got, n, "kept\n", 5, "nothing was written after it");

	/* A file that is not regular is written as it comes. */
	ok(out_append_open(&o, "/dev/null", 0600) == 0, "/dev/null opens");
	out_write(&o, "x\n", 2);
	is_int(out_commit(&o, 1), 0, "and takes a commit with sync");
	is_int(out_close(&o), 0, "and closes");

	snprintf(path, sizeof(path), "%s/missing/f", dir);
	ok(out_append_open(&o, path, 0600) == -1 && errno == ENOENT,
	    "a missing directory is an error");

	snprintf(path, sizeof(path), "%s/new", dir);
	unlink(path);
	rmdir(dir);
	return tap_done();
}
