/*
 * test-readfile.c - whole files and secret files (common/readfile.c): the whole file comes
 * back NUL-terminated in locked memory, pipes too; a file longer than
 * allowed, a missing file and a directory are refused; readfile_secret_dup copies.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "readfile.h"
#include "tap.h"

static void
put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		exit(99);
	close(fd);
}

int
main(void)
{
	char dir[] = "/tmp/closehook-secret.XXXXXX", path[256], *s;
	int p[2];
	size_t n = 0;

	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/token", dir);

	put(path, "s3cret\nsecond\n");
	s = readfile_secret("--bearer-file", path, 64, &n);
	ok(s != NULL, "a secret file is read");
	is_int(n, 14, "all of it");
	is_str(s, "s3cret\nsecond\n", "its bytes, NUL-terminated");
	readfile_secret_free(s);

	s = readfile_secret("--bearer-file", path, 14, &n);
	ok(s != NULL, "a file exactly as long as allowed is read");
	readfile_secret_free(s);
	s = readfile_secret("--bearer-file", path, 13, &n);
	ok(s == NULL, "a file one byte longer than allowed is refused");

	put(path, "");
	s = readfile_secret("--bearer-file", path, 64, &n);
	ok(s != NULL && n == 0 && s[0] == '\0', "an empty file is empty text");
	readfile_secret_free(s);

	if (pipe(p) != 0 || write(p[1], "from a pipe", 11) != 11)
		return 1;
	close(p[1]);
	snprintf(path, sizeof(path), "/dev/fd/%d", p[0]);
	s = readfile_secret("--url-file", path, 64, &n);
	ok(s != NULL && n == 11, "a pipe is read to its end");
	is_str(s, "from a pipe", "its bytes");
	readfile_secret_free(s);
	close(p[0]);

	snprintf(path, sizeof(path), "%s/missing", dir);
	ok(readfile_secret("--bearer-file", path, 64, &n) == NULL,
	    "a missing file is refused");
	ok(readfile_secret("--bearer-file", dir, 64, &n) == NULL,
	    "a directory is refused");

	s = readfile_secret_dup("env secret", 10);
	is_str(s, "env secret", "readfile_secret_dup copies and terminates");
	readfile_secret_free(s);
	readfile_secret_free(NULL);

	snprintf(path, sizeof(path), "%s/token", dir);
	unlink(path);
	rmdir(dir);
	return tap_done();
}
