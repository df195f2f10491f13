/*
 * replay.c - run a libFuzzer target over saved inputs, without libFuzzer.
 *
 * Links with one tests/fuzz/fuzz-NAME.c so that `make check` can replay the
 * seed corpus (and any crash files) with the ordinary compiler.  Each
 * argument is a file or a directory of files; each prints one TAP line.
 * A target that finds a bug aborts, which prove(1) reports as a failure.
 */

#include <sys/stat.h>

#include <dirent.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Feed one file to the target; returns -1 when it cannot be read. */
static int
replay_file(const char *path)
{
	struct stat st;
	uint8_t *buf;
	size_t n = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1) {
		warn("%s", path);
		if (fd != -1)
			close(fd);
		return -1;
	}
	/* One spare byte, so that an empty file still gets a buffer. */
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		err(2, NULL);
	while (n < (size_t)st.st_size && (r = read(fd, buf + n,
	    (size_t)st.st_size - n)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			warn("%s", path);
			free(buf);
			close(fd);
			return -1;
		}
		n += (size_t)r;
	}
	close(fd);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

/* Every regular file directly inside dir; returns the count, or -1. */
static long
replay_dir(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	long k = 0;

	if ((d = opendir(dir)) == NULL) {
		warn("%s", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    de->d_name) >= sizeof(path) || stat(path, &st) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (replay_file(path) == -1) {
			closedir(d);
			return -1;
		}
		k++;
	}
	closedir(d);
	return k;
}

int
main(int argc, char *argv[])
{
	struct stat st;
	long k;
	int i, failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s file|dir ...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1)
			k = -1;
		else if (S_ISDIR(st.st_mode))
			k = replay_dir(argv[i]);
		else
			k = replay_file(argv[i]) == 0 ? 1 : -1;
		if (k < 0) {
			failed = 1;
			printf("not ok %d - %s: cannot read\n", i, argv[i]);
		} else
			printf("ok %d - %s (%ld inputs)\n", i, argv[i], k);
		fflush(stdout);
	}
	printf("1..%d\n", argc - 1);
	return failed;
}
