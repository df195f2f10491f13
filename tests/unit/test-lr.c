/*
 * test-line.c - the line reader and the buffered writer.
 */
#include <fcntl.h>
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
		is_str(got, "seen", "pending output was flushed before blocking");
		lr_close(&r);
		close(p[0]);
		ok(out_close(&o) == 0, "writer closes cleanly");
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
