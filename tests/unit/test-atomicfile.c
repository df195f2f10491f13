/*
 * test-atomicfile.c - replacing a file atomically: the new contents, no
 * temporary left behind, the old contents kept when the write fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomicfile.h"
#include "tap.h"

static char *
slurp(const char *path)
{
	static char buf[256];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int
entries(const char *dir)
{
	char cmd[512];
	FILE *p;
	int n = 0, c;

	snprintf(cmd, sizeof(cmd), "ls -A '%s'", dir);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	while ((c = fgetc(p)) != EOF)
		n += c == '\n';
	pclose(p);
	return n;
}

int
main(void)
{
	char dir[] = "/tmp/closehook-atomicfile.XXXXXX", path[256], cmd[300];

	if (mkdtemp(dir) == NULL)
		return 1;
	{
		char d[8];

		ok(atomicfile_dir("a/b/c", d, sizeof(d)) == 0 &&
			strcmp(d, "a/b") == 0,
		    "atomicfile_dir: a/b/c is in a/b");
		ok(atomicfile_dir("c", d, sizeof(d)) == 0 &&
			strcmp(d, ".") == 0,
		    "... a name alone in .");
		ok(atomicfile_dir("/c", d, sizeof(d)) == 0 &&
			strcmp(d, "/") == 0,
		    "... /c in /");
		ok(atomicfile_dir("abcdefgh/c", d, sizeof(d)) != 0 &&
			errno == ENAMETOOLONG,
		    "... a directory that does not fit: -1, ENAMETOOLONG");
	}
	snprintf(path, sizeof(path), "%s/state.json", dir);
	is_int(atomicfile_write(path, "one\n", 4), 0, "a new file is written");
	is_str(slurp(path), "one\n", "with its contents");
	is_int(atomicfile_write(path, "two\n", 4), 0, "and replaced");
	is_str(slurp(path), "two\n", "by the new contents");
	is_int(atomicfile_write_nosync(path, "three\n", 6), 0,
	    "without the syncs too");
	is_str(slurp(path), "three\n", "the same way");
	is_int(entries(dir), 1, "no temporary file is left behind");
	{
		/* A symlink planted at the temporary file's name (the pid is
		 * easy to guess): its target is neither written nor made
		 * readable, the file is replaced as always. */
		char tmp[300], victim[300];
		struct stat st;
		int fd;

		snprintf(victim, sizeof(victim), "%s/victim", dir);
		snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
		fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		ok(fd >= 0 && write(fd, "secret\n", 7) == 7, "a victim file");
		close(fd);
		ok(symlink(victim, tmp) == 0,
		    "a symlink at the temporary name");
		is_int(atomicfile_write_nosync(path, "four\n", 5), 0,
		    "the file is still replaced");
		is_str(slurp(victim), "secret\n",
		    "the symlink's target is untouched");
		ok(stat(victim, &st) == 0 && (st.st_mode & 0777) == 0600,
		    "and keeps its mode");
		ok(lstat(path, &st) == 0 && S_ISREG(st.st_mode),
		    "the file is a file of its own, not the link");
		is_str(slurp(path), "four\n", "with the new contents");
		unlink(victim);
	}
	if (geteuid() != 0) {
		chmod(dir, 0555);
		ok(atomicfile_write(path, "four\n", 5) != 0 && errno == EACCES,
		    "a directory that cannot be written: -1 and errno");
		is_str(slurp(path), "three\n", "and the old contents stay");
		chmod(dir, 0755);
	} else {
		snprintf(path, sizeof(path), "%s/missing/state.json", dir);
		ok(atomicfile_write(path, "four\n", 5) != 0 && errno == ENOENT,
		    "a directory that does not exist: -1 and errno");
		is_int(entries(dir), 1, "and nothing is created");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}
