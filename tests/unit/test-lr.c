/*
 * test-line.c - the line reader and the buffered writer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lr.h"
#include "out.h"
#include "tap.h"

/* A reader over the bytes s, through a pipe fed by a child. */
static void
feed(struct lr *r, const char *s, size_t n, size_t max_line)
{
	int fd[2];

	if (pipe(fd) != 0)
		abort();
	if (fork() == 0) {
		close(fd[0]);
		/* Write in small pieces to cross read boundaries. */
		while (n > 0) {
			size_t k = n < 7 ? n : 7;

			if (write(fd[1], s, k) != (ssize_t)k)
				_exit(1);
			s += k;
			n -= k;
		}
		_exit(0);
	}
	close(fd[1]);
	lr_fdopen(r, fd[0], "pipe", max_line, NULL);
	r->owns_fd = 1;
}

int
main(void)
{
	struct lr r;
	struct lr_line l;
	char *big;
	const char *text = "one\n\n  \t\ntwo\r\n\r\nthree";
	int p[2], st;
	struct out o;
	char got[16];

	feed(&r, text, strlen(text), 100);
	is_int(lr_next(&r, &l), LR_LINE, "first line");
	is_mem(l.p, l.n, "one", 3, "first line bytes");
	is_int(l.lineno, 1, "first line number");
	is_int(lr_next(&r, &l), LR_LINE, "blank lines are skipped");
	is_mem(l.p, l.n, "two", 3, "trailing CR is dropped");
	is_int(l.lineno, 4, "line numbers count blank lines");
	is_int(lr_next(&r, &l), LR_LINE, "last line without newline");
	is_mem(l.p, l.n, "three", 5, "last line bytes");
	is_int(l.lineno, 6, "last line number");
	is_int(lr_next(&r, &l), LR_EOF, "then end of input");
	lr_close(&r);

	/* A line over the bound is reported and skipped, not held. */
	big = malloc(3000000);
	memset(big, 'x', 3000000);
	memcpy(big, "ok\n", 3);
	big[2999990] = '\n';
	memcpy(big + 2999991, "after\n", 6);
	feed(&r, big, 2999997, 1000);
	is_int(lr_next(&r, &l), LR_LINE, "line before the long one");
	is_int(lr_next(&r, &l), LR_TOOLONG, "the long line is too long");
	is_int(l.lineno, 2, "its line number");
	is_int(lr_next(&r, &l), LR_LINE, "the stream continues");
	is_mem(l.p, l.n, "after", 5, "with the next line");
	is_int(l.lineno, 3, "numbered after the long one");
	ok(r.cap <= 1000 + 1024 * 1024, "the buffer stayed bounded (%zu)",
	    r.cap);
	is_int(lr_next(&r, &l), LR_EOF, "end");
	lr_close(&r);

	/* An over-long last line without a newline. */
	feed(&r, big + 3, 5000, 1000);
	is_int(lr_next(&r, &l), LR_TOOLONG, "long last line is too long");
	is_int(lr_next(&r, &l), LR_EOF, "then end");
	lr_close(&r);

	/* Exactly at the bound is fine, one more is not. */
	memset(big, 'y', 1000);
	big[1000] = '\n';
	feed(&r, big, 1001, 1000);
	is_int(lr_next(&r, &l), LR_LINE, "a line of max_line bytes is a line");
	is_int(l.n, 1000, "all of it");
	lr_close(&r);
	memset(big, 'y', 1001);
	big[1001] = '\n';
	feed(&r, big, 1002, 1000);
	is_int(lr_next(&r, &l), LR_TOOLONG, "max_line + 1 is too long");
	lr_close(&r);
	free(big);

	/*
	 * Optimal buffering: output waiting in the writer is flushed before
	 * the reader blocks on an empty pipe, so the peer sees it at once.
	 */
	if (pipe(p) != 0)
		abort();
	{
		int outp[2];
		pid_t pid;

		if (pipe(outp) != 0)
			abort();
		pid = fork();
		if (pid == 0) {
			/* Child: read the reader's output, then answer. */
			char b[16];
			ssize_t k;

			close(p[0]);
			close(outp[1]);
			k = read(outp[0], b, sizeof(b));
			if (k == 5 && memcmp(b, "hello", 5) == 0)
				(void)write(p[1], "seen\n", 5);
			else
				(void)write(p[1], "none\n", 5);
			_exit(0);
		}
		close(p[1]);
		close(outp[0]);
		out_init(&o, outp[1], "pipe");
		out_write(&o, "hello", 5);
		lr_fdopen(&r, p[0], "pipe", 100, &o);
		st = lr_next(&r, &l);
		is_int(st, LR_LINE, "the reader got the answer");
		memcpy(got, l.p, l.n < 15 ? l.n : 15);
		got[l.n < 15 ? l.n : 15] = '\0';
		is_str(
		    got, "seen", "pending output was flushed before blocking");
		lr_close(&r);
		close(p[0]);
		ok(out_close(&o) == 0, "writer closes cleanly");
	}

	/*
	 * Reading ahead (recloop's batches): the lines of a batch stay where
	 * they are through the next batch's lr_next() calls, up to the next
	 * lr_read_ahead(); every line comes out once, in order.
	 */
	{
		char path[] = "/tmp/test-lr.XXXXXX", want[32];
		struct lr_line kept[2][4096];
		size_t nk[2] = { 0, 0 }, i, cur = 0;
		unsigned long next = 0, total = 200000, bad = 0, ahead = 0;
		FILE *f;
		int fd = mkstemp(path);

		if (fd < 0 || (f = fdopen(fd, "w")) == NULL)
			abort();
		for (i = 0; i < total; i++)
			fprintf(f, "line %zu %s\n", i, i % 7 ? "" : "padding");
		fclose(f);
		if (lr_open(&r, path, 100, NULL) != 0)
			abort();
		while ((st = lr_next(&r, &l)) == LR_LINE) {
			/* A batch: this line and those held behind it. */
			nk[cur] = 0;
			kept[cur][nk[cur]++] = l;
			while (
			    nk[cur] < 4096 && lr_next_held(&r, &l) == LR_LINE)
				kept[cur][nk[cur]++] = l;
			/* The last batch's lines, read before this one's. */
			for (i = 0; i < nk[!cur]; i++) {
				snprintf(want, sizeof(want), "line %lu %s",
				    next - nk[!cur] + i,
				    (next - nk[!cur] + i) % 7 ? "" : "padding");
				bad += kept[!cur][i].n != strlen(want) ||
				    memcmp(kept[!cur][i].p, want,
					kept[!cur][i].n) != 0;
			}
			ahead += lr_read_ahead(&r) == 1;
			for (i = 0; i < nk[cur]; i++) {
				snprintf(want, sizeof(want), "line %lu %s",
				    next + i, (next + i) % 7 ? "" : "padding");
				bad += kept[cur][i].n != strlen(want) ||
				    memcmp(kept[cur][i].p, want,
					kept[cur][i].n) != 0;
			}
			next += nk[cur];
			cur = !cur;
		}
		is_int(st, LR_EOF, "read ahead: to the end");
		is_int(next, total, "read ahead: every line once");
		is_int(bad, 0, "read ahead: lines stay put until the next");
		ok(ahead > 10, "read ahead: it read (%lu times)", ahead);
		lr_close(&r);
		unlink(path);
	}
	/* Nothing waiting in a pipe: no read, no wait. */
	{
		int q[2];

		if (pipe(q) != 0)
			abort();
		(void)write(q[1], "a\nb", 3);
		lr_fdopen(&r, q[0], "pipe", 100, NULL);
		is_int(lr_next(&r, &l), LR_LINE, "pipe: a line");
		is_int(lr_read_ahead(&r), 0, "pipe: nothing waits, no read");
		(void)write(q[1], "c\n", 2);
		is_int(lr_read_ahead(&r), 1, "pipe: data waits, it is read");
		is_int(lr_next(&r, &l), LR_LINE, "pipe: the next line");
		is_mem(l.p, l.n, "bc", 2, "pipe: whole across the read ahead");
		close(q[1]);
		is_int(lr_next(&r, &l), LR_EOF, "pipe: then the end");
		lr_close(&r);
		close(q[0]);
	}
	/* A read ahead that fails is reported by the next lr_next(). */
	{
		int d = open("/", O_RDONLY | O_DIRECTORY);

		lr_fdopen(&r, d, "/", 100, NULL);
		is_int(lr_read_ahead(&r), 0, "error: nothing read ahead");
		errno = 0;
		is_int(lr_next(&r, &l), LR_ERROR, "error: reported by lr_next");
		is_int(errno, EISDIR, "error: its errno");
		lr_close(&r);
		close(d);
	}

	/* A write error is sticky and reported by out_close. */
	{
		int fd = open("/dev/full", O_WRONLY);

		out_init(&o, fd, "/dev/full");
		out_write(&o, "x", 1);
		ok(out_flush(&o) == -1, "a failed write is reported");
		ok(out_write(&o, "y", 1) == -1, "and stays reported");
		ok(out_close(&o) == -1, "out_close reports it too");
	}
	return tap_done();
}
