/*
 * lr.c - the line reader; see lr.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lr.h"

/*
 * The buffer, and the most one read(2) takes.  1 MiB rather than 256 KiB:
 * a backlog comes in batches of ~500 lines, so the second core's thread
 * (recloop.h) goes on with a batch while the first spends a few
 * milliseconds on the store (dedupe) - 10% faster there, the same
 * elsewhere.
 */
#define LR_CHUNK (1024 * 1024)

void
lr_fdopen(
    struct lr *r, int fd, const char *name, size_t max_line, struct out *flush)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->name = name;
	r->max_line = max_line;
	r->flush = flush;
	r->cap = LR_CHUNK;
	r->buf = xmalloc(r->cap);
}

int
lr_open(struct lr *r, const char *path, size_t max_line, struct out *flush)
{
	int fd;

	if (path == NULL || strcmp(path, "-") == 0) {
		lr_fdopen(r, STDIN_FILENO, "stdin", max_line, flush);
		return 0;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	lr_fdopen(r, fd, path, max_line, flush);
	r->owns_fd = 1;
	return 0;
}

void
lr_close(struct lr *r)
{
	if (r->owns_fd)
		close(r->fd);
	free(r->buf);
	free(r->alt);
	r->buf = r->alt = NULL;
}

static int
blank(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t')
			return 0;
	return 1;
}

void
lr_on_idle(struct lr *r, void (*fn)(void *), void *arg)
{
	r->idle = fn;
	r->idle_arg = arg;
}

/*
 * Before a read that may block (poll with a zero timeout says whether data
 * is already there; regular files always have it): flush the attached
 * writer, run the idle hook, then wait for input, watching the writer's
 * descriptor too.  A pipe whose reader is gone reports an error there:
 * nothing read could be written any more, so the reader stops at once
 * rather than when the next line comes (a stage after this one died while
 * the stages before it have nothing to write).  Returns 0, or -1 when the
 * writer's reader is gone (its error is set to EPIPE).
 */
static int
wait_input(struct lr *r)
{
	struct pollfd pfd[2];
	int n;

	if (r->idle == NULL && r->flush == NULL)
		return 0;
	pfd[0].fd = r->fd;
	pfd[0].events = POLLIN;
	pfd[0].revents = 0;
	if (poll(pfd, 1, 0) == 1 && pfd[0].revents != 0)
		return 0;
	if (r->flush != NULL && out_pending(r->flush) > 0)
		out_flush(r->flush);
	if (r->idle != NULL)
		r->idle(r->idle_arg);
	if (r->flush == NULL || r->flush->fd < 0 || r->flush->err != 0)
		return 0;
	pfd[1].fd = r->flush->fd;
	pfd[1].events = 0;
	pfd[1].revents = 0;
	while ((n = poll(pfd, 2, -1)) < 0 && errno == EINTR)
		;
	if (n > 0 && pfd[0].revents == 0 &&
	    (pfd[1].revents & (POLLERR | POLLHUP)) != 0) {
		r->flush->err = EPIPE;
		return -1;
	}
	return 0;
}

/* Make room for at least one more chunk after end. */
static void
make_room(struct lr *r)
{
	size_t want;
	char *nb;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->scan -= r->start;
		r->start = 0;
	}
	if (r->cap - r->end >= LR_CHUNK / 4)
		return;
	want = r->cap * 2;
	if (want > r->max_line + LR_CHUNK)
		want = r->max_line + LR_CHUNK;
	if (want <= r->cap)
		return;
	nb = xrealloc(r->buf, want);
	r->buf = nb;
	r->cap = want;
}

/*
 * The next complete line in the buffer (LR_LINE, or LR_TOOLONG), or
 * LR_AGAIN when the buffer holds no more newlines.  Blank lines are passed
 * over here.
 */
static enum lr_status
held_line(struct lr *r, struct lr_line *l)
{
	char *nl;
	size_t len;

	while (
	    (nl = memchr(r->buf + r->scan, '\n', r->end - r->scan)) != NULL) {
		size_t at = (size_t)(nl - r->buf);

		r->lineno++;
		if (r->skipping) {
			/* The tail of an over-long line. */
			r->skipping = 0;
			r->start = r->scan = at + 1;
			l->lineno = r->lineno;
			return LR_TOOLONG;
		}
		len = at - r->start;
		l->p = r->buf + r->start;
		r->start = r->scan = at + 1;
		if (len > 0 && l->p[len - 1] == '\r')
			len--;
		if (len > r->max_line) {
			l->lineno = r->lineno;
			return LR_TOOLONG;
		}
		if (blank(l->p, len))
			continue;
		l->n = len;
		l->lineno = r->lineno;
		return LR_LINE;
	}
	return LR_AGAIN;
}

enum lr_status
lr_next_held(struct lr *r, struct lr_line *l)
{
	return held_line(r, l);
}

enum lr_status
lr_next(struct lr *r, struct lr_line *l)
{
	enum lr_status st;
	size_t len;
	ssize_t got;

	for (;;) {
		if ((st = held_line(r, l)) != LR_AGAIN)
			return st;
		r->scan = r->end;
		/* max_line + 1 leaves room for a CR before the newline. */
		if (r->skipping || r->end - r->start > r->max_line + 1) {
			/* Drop what we hold and skip to the next newline. */
			r->skipping = 1;
			r->start = r->scan = r->end = 0;
		}
		if (r->eof) {
			if (r->skipping) {
				r->skipping = 0;
				r->lineno++;
				l->lineno = r->lineno;
				return LR_TOOLONG;
			}
			if (r->end == r->start)
				return LR_EOF;
			/*
			 * Cut short by the stop of the stages before (a
			 * follower gives up a write to a reader that stopped):
			 * not a record, which comes again from upstream.
			 */
			if (cli_stop_taken() != 0 && r->fd == STDIN_FILENO) {
				cli_warnx("%s: the input ended inside a line "
					  "after the stop signal: that line is "
					  "dropped (it comes again from the "
					  "stages before)",
				    r->name);
				r->start = r->scan = r->end;
				return LR_EOF;
			}
			len = r->end - r->start;
			l->p = r->buf + r->start;
			r->start = r->scan = r->end;
			r->lineno++;
			r->unterminated = 1;
			if (len > 0 && l->p[len - 1] == '\r')
				len--;
			if (blank(l->p, len))
				continue;
			l->n = len;
			l->lineno = r->lineno;
			return LR_LINE;
		}
		if (r->rerr != 0) {
			errno = r->rerr;
			r->rerr = 0;
			return LR_ERROR;
		}
		make_room(r);
		if (wait_input(r) != 0)
			return LR_EOF;
		got = read(r->fd, r->buf + r->end, r->cap - r->end);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return LR_AGAIN;
			return LR_ERROR;
		}
		if (got == 0)
			r->eof = 1;
		r->end += (size_t)got;
	}
}

int
lr_read_ahead(struct lr *r)
{
	struct pollfd pfd = { r->fd, POLLIN, 0 };
	size_t held = r->end - r->start, cap;
	ssize_t got;
	char *t;

	if (r->eof || r->skipping || r->rerr != 0 || poll(&pfd, 1, 0) != 1 ||
	    pfd.revents == 0)
		return 0;
	if (r->altcap < r->cap) {
		free(r->alt);
		r->altcap = r->cap;
		r->alt = xmalloc(r->altcap);
	}
	memcpy(r->alt, r->buf + r->start, held);
	t = r->buf;
	r->buf = r->alt;
	r->alt = t;
	cap = r->cap;
	r->cap = r->altcap;
	r->altcap = cap;
	r->scan -= r->start;
	r->start = 0;
	r->end = held;
	make_room(r);
	while ((got = read(r->fd, r->buf + r->end, r->cap - r->end)) < 0 &&
	    errno == EINTR)
		;
	if (got < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			r->rerr = errno;
		return 0;
	}
	if (got == 0)
		r->eof = 1;
	r->end += (size_t)got;
	return got > 0;
}

size_t
lr_held(const struct lr *r)
{
	return r->skipping ? 0 : r->end - r->start;
}

int
lr_unread(struct lr *r)
{
	size_t held = r->end - r->start;

	if (r->skipping)
		held = 0; /* the over-long line was given up already */
	if (held > 0 && lseek(r->fd, -(off_t)held, SEEK_CUR) < 0)
		return -1;
	r->start = r->scan = r->end;
	return 0;
}
