/*
 * atomicfile.c - replacing a file atomically; see atomicfile.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"

int
atomicfile_dir(const char *path, char *dir, size_t cap)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		path = ".";
		n = 1;
	} else
		n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= cap) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

int
atomicfile_sync_dir(const char *path)
{
	char dir[4096];
	int fd, rc, e;

	if (atomicfile_dir(path, dir, sizeof(dir)) != 0)
		return -1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	rc = fsync(fd);
	e = errno;
	close(fd);
	if (rc != 0 && e == EINVAL)
		rc = 0;
	errno = e;
	return rc;
}

/* The temporary file and the directory are fsync'd when durable is set. */
static int
replace(const char *path, const void *p, size_t n, int durable)
{
	char tmp[4096];
	const char *s = p;
	size_t done = 0;
	ssize_t w;
	int fd, e;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/*
	 * A new file of our own: not whatever lies at that name (one left by
	 * a crash of a process with our pid, or a symlink planted in a
	 * directory others can write, which would have us truncate and
	 * expose its target).
	 */
	if (unlink(tmp) != 0 && errno != ENOENT)
		return -1;
	if ((fd = open(tmp,
		 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) <
	    0)
		return -1;
	/* A textfile is read by node_exporter, another user, whatever the
	 * umask (the units' 0077): it holds no secret. */
	if (!durable && fchmod(fd, 0644) != 0)
		goto fail;
	while (done < n) {
		if ((w = write(fd, s + done, n - done)) < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		done += (size_t)w;
	}
	if (durable && fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	if (durable)
		atomicfile_sync_dir(path);
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = e;
	return -1;
}

int
atomicfile_write(const char *path, const void *p, size_t n)
{
	return replace(path, p, n, 1);
}

int
atomicfile_write_nosync(const char *path, const void *p, size_t n)
{
	return replace(path, p, n, 0);
}
