/*
 * out.c - block-buffered writer and append files; see out.h.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "cli.h"
#include "json.h"
#include "out.h"

void
out_init(struct out *o, int fd, const char *name)
{
	o->fd = fd;
	o->name = name;
	o->len = 0;
	o->cap = OUT_BUFSZ;
	o->err = 0;
	o->append = 0;
	o->mem = 0;
	o->regular = 0;
	o->readable = 0;
	o->file = -1;
	o->unsynced = 0;
	o->track = -1;
	o->pos = o->nl_pos = 0;
	o->blocked = NULL;
	o->buf = xmalloc(OUT_BUFSZ);
}

/* out_on_block's state: a timer aimed at one thread. */
struct out_blocked {
	int (*fn)(void *);
	void *arg;
	pthread_t thread;
	timer_t timer;
	struct itimerspec every, off;
};

/* Set by the timer's signal; one writer thread at a time is watched. */
static volatile sig_atomic_t block_fired;

static void
on_block_signal(int sig)
{
	(void)sig;
	block_fired = 1;
}

void
out_on_block(struct out *o, int (*fn)(void *), void *arg, unsigned ms)
{
	struct out_blocked *b;
	struct sigaction sa;
	struct sigevent ev;
	struct stat st;

	if (o->fd < 0 || fstat(o->fd, &st) != 0 ||
	    !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return;
	b = xmalloc(sizeof(*b));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_block_signal; /* no SA_RESTART: the write stops */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGRTMIN, &sa, NULL) != 0)
		cli_fatal("sigaction");
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = SIGRTMIN;
	ev._sigev_un._tid = gettid(); /* glibc 2.36 has no name for it */
	if (timer_create(CLOCK_MONOTONIC, &ev, &b->timer) != 0)
		cli_fatal("timer_create");
	b->fn = fn;
	b->arg = arg;
	b->thread = pthread_self();
	memset(&b->off, 0, sizeof(b->off));
	b->every.it_value.tv_sec = ms / 1000;
	b->every.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
	b->every.it_interval = b->every.it_value;
	o->blocked = b;
}

/* Is a write of o about to be watched?  Then the timer runs. */
static struct out_blocked *
block_arm(struct out *o)
{
	struct out_blocked *b = o->blocked;

	if (b == NULL || !pthread_equal(b->thread, pthread_self()))
		return NULL;
	block_fired = 0;
	(void)timer_settime(b->timer, 0, &b->every, NULL);
	return b;
}

static void
block_disarm(struct out_blocked *b)
{
	if (b != NULL)
		(void)timer_settime(b->timer, 0, &b->off, NULL);
}

/*
 * After a write that returned: if the timer went off, it was blocked.
 * Returns nonzero when the hook gives the write up.
 */
static int
block_check(struct out_blocked *b)
{
	int stop, saved = errno;

	if (b == NULL || !block_fired)
		return 0;
	/* Stopped while the hook runs: nothing of it is cut short. */
	(void)timer_settime(b->timer, 0, &b->off, NULL);
	stop = b->fn(b->arg);
	block_fired = 0;
	if (!stop)
		(void)timer_settime(b->timer, 0, &b->every, NULL);
	errno = saved; /* the write's */
	return stop;
}

static off_t cut_torn_locked(int rfd, int wfd, const char *name, off_t size);

/*
 * Before the first write of a plain writer: is it a regular file, and
 * where do its lines end?  Opened for appending, a torn last line is cut
 * off first (read through the descriptor, or through /proc when it is
 * write-only, as a shell's `>>` opens it).
 */
static void
track_start(struct out *o)
{
	char path[64];
	struct stat st;
	int fl, rfd;
	off_t size;

	o->track = 0;
	if (o->fd < 0 || o->append || o->mem || fstat(o->fd, &st) != 0 ||
	    !S_ISREG(st.st_mode) || (fl = fcntl(o->fd, F_GETFL)) < 0)
		return;
	if (!(fl & O_APPEND)) {
		if ((o->pos = lseek(o->fd, 0, SEEK_CUR)) < 0)
			return;
	} else {
		rfd = o->fd;
		if ((fl & O_ACCMODE) != O_RDWR) {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", o->fd);
			rfd = open(path, O_RDONLY | O_CLOEXEC);
		}
		size = st.st_size;
		if (rfd >= 0) {
			size = cut_torn_locked(rfd, o->fd, o->name, st.st_size);
			if (rfd != o->fd)
				close(rfd);
			if (size < 0)
				return;
		}
		o->pos = size;
	}
	o->nl_pos = o->pos;
	o->track = 1;
}

/* A failed write of a tracked writer: cut back to its last whole line. */
static void
track_undo(struct out *o)
{
	struct stat st;

	if (o->track <= 0 || o->nl_pos == o->pos || fstat(o->fd, &st) != 0 ||
	    st.st_size != o->pos)
		return;
	if (ftruncate(o->fd, o->nl_pos) != 0)
		cli_warn("%s: cannot remove a failed write", o->name);
	else
		o->pos = o->nl_pos;
}

static int
write_all(struct out *o, const char *p, size_t n)
{
	struct out_blocked *b = block_arm(o);
	const char *nl;
	ssize_t w;

	if (o->track < 0)
		track_start(o);
	while (n > 0) {
		w = write(o->fd, p, n);
		if (block_check(b)) {
			o->err = ECANCELED;
			return -1;
		}
		if (w < 0) {
			if (errno == EINTR)
				continue;
			o->err = errno;
			block_disarm(b);
			track_undo(o);
			return -1;
		}
		if (o->track > 0) {
			if ((nl = memrchr(p, '\n', (size_t)w)) != NULL)
				o->nl_pos = o->pos + (nl - p) + 1;
			o->pos += w;
		}
		p += w;
		n -= (size_t)w;
		o->unsynced = 1;
	}
	block_disarm(b);
	return 0;
}

void
out_mem_init(struct out *o)
{
	out_init(o, -1, "memory");
	o->mem = 1;
}

int
out_flush(struct out *o)
{
	if (o->mem)
		return o->err != 0 ? -1 : 0;
	if (o->append)
		return out_commit(o, 0);
	if (o->err != 0)
		return -1;
	if (o->len == 0)
		return 0;
	if (write_all(o, o->buf, o->len) != 0)
		return -1;
	o->len = 0;
	return 0;
}

int
out_durable(struct out *o)
{
	return out_flush(o) != 0 ? -1 : out_sync(o);
}

int
out_sync(struct out *o)
{
	struct stat st;

	if (o->file < 0)
		o->file =
		    o->fd >= 0 && fstat(o->fd, &st) == 0 && S_ISREG(st.st_mode);
	if (!o->file || !o->unsynced)
		return 0;
	if (fdatasync(o->fd) != 0) {
		o->err = errno;
		return -1;
	}
	o->unsynced = 0;
	return 0;
}

/* An append file collects until out_commit(): room for n more bytes. */
static void
grow(struct out *o, size_t n)
{
	size_t cap = o->cap;
	char *nb;

	while (cap - o->len < n) {
		if (cap > SIZE_MAX / 2)
			cli_fatalx("out of memory");
		cap *= 2;
	}
	nb = xrealloc(o->buf, cap);
	o->buf = nb;
	o->cap = cap;
}

int
out_write(struct out *o, const void *p, size_t n)
{
	if (o->err != 0)
		return -1;
	if (n <= o->cap - o->len) {
		memcpy(o->buf + o->len, p, n);
		o->len += n;
		if (o->len == o->cap && !o->append && !o->mem)
			return out_flush(o);
		return 0;
	}
	if (o->append || o->mem) {
		grow(o, n);
		memcpy(o->buf + o->len, p, n);
		o->len += n;
		return 0;
	}
	if (out_flush(o) != 0)
		return -1;
	/* A large record goes straight out rather than through the buffer. */
	if (n >= OUT_BUFSZ)
		return write_all(o, p, n);
	memcpy(o->buf, p, n);
	o->len = n;
	return 0;
}

int
out_putc(struct out *o, int c)
{
	char ch = (char)c;

	if (o->len < o->cap - 1 && o->err == 0) {
		o->buf[o->len++] = ch;
		return 0;
	}
	return out_write(o, &ch, 1);
}

char *
out_reserve(struct out *o, size_t n)
{
	if (o->err != 0 || o->append)
		return NULL;
	if (o->mem) {
		grow(o, n);
		return o->buf + o->len;
	}
	if (n >= o->cap)
		return NULL;
	if (n > o->cap - o->len && out_flush(o) != 0)
		return NULL;
	return o->buf + o->len;
}

int
out_advance(struct out *o, size_t n)
{
	o->len += n;
	if (o->len == o->cap && !o->mem)
		return out_flush(o);
	return 0;
}

size_t
out_pending(const struct out *o)
{
	return o->len;
}

int
out_close(struct out *o)
{
	int rc = out_flush(o);

	if (o->fd >= 0 && close(o->fd) != 0 && rc == 0) {
		o->err = errno;
		rc = -1;
	}
	o->fd = -1;
	free(o->buf);
	o->buf = NULL;
	if (o->blocked != NULL) {
		(void)timer_delete(o->blocked->timer);
		free(o->blocked);
		o->blocked = NULL;
	}
	if (o->err != 0) {
		errno = o->err;
		rc = -1;
	}
	return rc;
}

/* Append files. */

static void
lock(int fd, int op)
{
	/* Without flock (ENOLCK), writers sharing a file are on their own. */
	while (flock(fd, op) != 0 && errno == EINTR)
		;
}

/*
 * Cut a torn last record off the regular file of size bytes, read through
 * rfd and truncated through wfd: truncate it to just after its last '\n'.
 * Returns the new size, or -1 with errno set.
 */
static off_t
cut_torn(int rfd, int wfd, const char *name, off_t size)
{
	char buf[16384], *nl;
	off_t at = size, lo;
	ssize_t got;
	size_t k;

	if (size == 0)
		return 0;
	while ((got = pread(rfd, buf, 1, size - 1)) < 0 && errno == EINTR)
		;
	if (got != 1) {
		if (got >= 0)
			errno = EIO; /* shorter than fstat said: changed */
		return -1;
	}
	if (buf[0] == '\n')
		return size;
	while (at > 0) {
		lo = at > (off_t)sizeof(buf) ? at - (off_t)sizeof(buf) : 0;
		k = (size_t)(at - lo);
		if ((got = pread(rfd, buf, k, lo)) < 0 && errno == EINTR)
			continue;
		if (got != (ssize_t)k) {
			if (got >= 0)
				errno = EIO;
			return -1;
		}
		if ((nl = memrchr(buf, '\n', k)) != NULL) {
			at = lo + (nl - buf) + 1;
			break;
		}
		at = lo;
	}
	if (ftruncate(wfd, at) != 0)
		return -1;
	cli_warnx("%s: ends in a partial line; removed its %jd bytes", name,
	    (intmax_t)(size - at));
	return at;
}

/* cut_torn under an exclusive flock of wfd (errno kept across the unlock). */
static off_t
cut_torn_locked(int rfd, int wfd, const char *name, off_t size)
{
	off_t r;
	int e;

	lock(wfd, LOCK_EX);
	r = cut_torn(rfd, wfd, name, size);
	e = errno;
	lock(wfd, LOCK_UN);
	errno = e;
	return r;
}

int
out_append_fd(const char *path, mode_t mode, struct stat *st)
{
	const int wr = O_APPEND | O_CLOEXEC | O_NOCTTY;
	int fd = -1, created = 0, tries, e;
	off_t size;

	for (tries = 0; fd < 0 && tries < 8; tries++) {
		if (stat(path, st) == 0 && !S_ISREG(st->st_mode)) {
			/* Read and write would make us a reader of a FIFO. */
			fd = open(path, O_WRONLY | wr);
			break;
		}
		fd = open(path, O_RDWR | wr);
		if (fd < 0 && errno == EACCES)
			fd = open(path, O_WRONLY | wr);
		else if (fd < 0 && errno == ENOENT) {
			fd = open(path, O_RDWR | O_CREAT | O_EXCL | wr, mode);
			created = fd >= 0;
			if (fd < 0 && errno == EEXIST)
				continue; /* created meanwhile: open it */
		}
		if (fd < 0)
			return -1;
	}
	if (fd < 0)
		return -1;
	if (fstat(fd, st) != 0)
		goto fail;
	if (S_ISREG(st->st_mode) &&
	    (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR) {
		size = cut_torn_locked(fd, fd, path, st->st_size);
		if (size < 0)
			goto fail;
		st->st_size = size;
	}
	/* A new file is durable only once its directory entry is. */
	if (created && atomicfile_sync_dir(path) != 0)
		goto fail;
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* An append file's descriptor from out_append_fd, and what it is. */
static void
append_fd(struct out *o, int fd, const struct stat *st)
{
	o->fd = fd;
	o->regular = S_ISREG(st->st_mode);
	o->readable = (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR;
}

int
out_append_open(struct out *o, const char *path, mode_t mode)
{
	struct stat st;
	int fd;

	if ((fd = out_append_fd(path, mode, &st)) < 0)
		return -1;
	out_init(o, fd, path);
	o->append = 1;
	o->mode = mode;
	append_fd(o, fd, &st);
	return 0;
}

/*
 * An append file no longer at its path (moved away, deleted): open a new
 * one there.  0 when the descriptor is the path's file (again), -1 with
 * o->err set when the new one cannot be opened.
 */
static int
follow_path(struct out *o)
{
	struct stat cur, now;
	int fd;

	if (fstat(o->fd, &cur) != 0)
		return 0;
	if (stat(o->name, &now) == 0 && now.st_dev == cur.st_dev &&
	    now.st_ino == cur.st_ino)
		return 0;
	if ((fd = out_append_fd(o->name, o->mode, &now)) < 0) {
		o->err = errno;
		return -1;
	}
	cli_warnx("%s: moved away or deleted: appending to a new file there",
	    o->name);
	close(o->fd);
	append_fd(o, fd, &now);
	return 0;
}

int
out_commit(struct out *o, int sync)
{
	struct stat st;
	const char *nl;
	off_t size;
	size_t n;
	int e;

	if (!o->append)
		return out_flush(o);
	if (o->err != 0)
		return -1;
	/* Whole lines only: bytes after the last '\n' wait for the rest. */
	if (o->len == 0 || (nl = memrchr(o->buf, '\n', o->len)) == NULL)
		return 0;
	n = (size_t)(nl - o->buf) + 1;
	if (o->regular && follow_path(o) != 0)
		return -1;
	if (!o->regular) {
		if (write_all(o, o->buf, n) != 0)
			return -1;
	} else {
		lock(o->fd, LOCK_EX);
		if (fstat(o->fd, &st) != 0) {
			o->err = errno;
			lock(o->fd, LOCK_UN);
			return -1;
		}
		size = st.st_size;
		if (o->readable &&
		    (size = cut_torn(o->fd, o->fd, o->name, size)) < 0) {
			o->err = errno;
			lock(o->fd, LOCK_UN);
			return -1;
		}
		if (write_all(o, o->buf, n) != 0 ||
		    (sync && fdatasync(o->fd) != 0)) {
			e = o->err != 0 ? o->err : errno;
			/*
			 * Undo the whole commit: no half record stays, and
			 * none of its records is left for a rerun to repeat.
			 */
			if (ftruncate(o->fd, size) != 0)
				cli_warn("%s: cannot remove a failed write",
				    o->name);
			lock(o->fd, LOCK_UN);
			o->err = e;
			return -1;
		}
		lock(o->fd, LOCK_UN);
	}
	memmove(o->buf, o->buf + n, o->len - n);
	o->len -= n;
	return 0;
}

int
out_close_stdout(struct out *o, int rc)
{
	if (out_close(o) == 0)
		return rc;
	cli_warnx("stdout: %s", strerror(o->err != 0 ? o->err : errno));
	return CLI_EXIT_FATAL;
}

int
out_json_str(struct out *o, const char *s, size_t n)
{
	char esc[6 * 512];
	size_t k;

	/* Escaping is byte by byte: any cut between chunks is fine. */
	out_putc(o, '"');
	while (n > 0) {
		k = n < 512 ? n : 512;
		out_write(o, esc, json_escape(s, k, esc));
		s += k;
		n -= k;
	}
	return out_putc(o, '"');
}
