/*
 * mark.c - acknowledgement marks; see mark.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mark.h"

int
mark_pass(
    struct out *o, const char *p, size_t n, struct out **side, size_t nside)
{
	size_t i;

	for (i = 0; i < nside; i++) {
		struct out *s = side[i];

		if (s == NULL || s->fd < 0)
			continue;
		if (s->append) {
			if (out_commit(s, 1) != 0)
				return -1;
			continue;
		}
		if (out_flush(s) != 0)
			return -1;
		if (fdatasync(s->fd) != 0 && errno != EINVAL) {
			s->err = errno;
			return -1;
		}
	}
	if (out_write(o, p, n) != 0 || out_putc(o, '\n') != 0)
		return -1;
	return 0;
}

/* mark_end_run's buffer: room for a mark and plenty of lines. */
#define END_BUFSZ (1024 * 1024)
/* The longest incomplete line held back until its newline. */
#define END_HOLD (END_BUFSZ / 2)

int
mark_end_run(struct out *o, const struct mark_end *me)
{
	int have_pend = 0, passing = 0, eof = 0;
	unsigned long lineno = 0;
	uint64_t last_commit = cli_mono_ns();
	size_t len = 0, at;
	ssize_t got;
	char *buf = xmalloc(END_BUFSZ), *nl;
	int rc = CLI_EXIT_OK;

	for (;;) {
		struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
		int idle;

		/* Every complete line in buf[0, len). */
		for (at = 0; (nl = memchr(buf + at, '\n', len - at)) != NULL;
		     at = (size_t)(nl - buf) + 1) {
			size_t n = (size_t)(nl - (buf + at));
			size_t m = n > 0 && buf[at + n - 1] == '\r' ? n - 1 : n;

			lineno++;
			if (!passing && mark_is(buf + at, m)) {
				if (me->take(me->arg,
					buf + at + MARK_PREFIX_LEN,
					m - MARK_PREFIX_LEN - 1, lineno))
					have_pend = 1;
			} else
				out_write(o, buf + at, n + 1);
			passing = 0;
		}
		/*
		 * An incomplete line is held until its newline, so that none
		 * of a line whose writer dies in the middle of it goes out;
		 * one longer than END_HOLD is passed on as it comes.
		 */
		if (at < len && !eof && (passing || len - at > END_HOLD)) {
			out_write(o, buf + at, len - at);
			passing = 1;
			at = len;
		}
		if (eof && (passing || at < len)) {
			size_t n = len - at;
			size_t m = n > 0 && buf[len - 1] == '\r' ? n - 1 : n;

			/*
			 * The input ended inside a line: a stage before this
			 * one died mid-record.  No mark after it committed
			 * it, so it comes again whole.  A last mark without
			 * its newline is still taken.
			 */
			if (passing) {
				cli_recwarnx("stdin", lineno + 1,
				    "cut short: no newline at the end of "
				    "input, after %d KiB had been passed on: "
				    "ended with one",
				    END_HOLD / 1024);
				rc = CLI_EXIT_REJECTS;
			} else if (!mark_is(buf + at, m)) {
				cli_recwarnx("stdin", lineno + 1,
				    "cut short: no newline at the end of "
				    "input: dropped (it was not committed and "
				    "comes again)");
				rc = CLI_EXIT_REJECTS;
				len = at;
				continue;
			}
			buf[len++] = '\n';
			continue;
		}
		memmove(buf, buf + at, len - at);
		len -= at;
		if (o->err != 0 || eof)
			break;
		idle = !(poll(&pfd, 1, 0) == 1 &&
		    (pfd.revents & (POLLIN | POLLHUP)));
		if (have_pend &&
		    (idle || cli_mono_ns() - last_commit >= me->interval_ns)) {
			if (out_durable(o) != 0)
				break;
			if (me->commit(me->arg) != 0) {
				rc = CLI_EXIT_FATAL;
				goto out;
			}
			last_commit = cli_mono_ns();
			have_pend = 0;
		} else if (idle && out_flush(o) != 0)
			break;
		got = read(STDIN_FILENO, buf + len, END_BUFSZ - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			cli_warn("stdin: read error");
			rc = CLI_EXIT_FATAL;
			goto out;
		}
		if (got == 0)
			eof = 1;
		len += (size_t)got;
	}
	if (out_flush(o) != 0 || (have_pend && out_sync(o) != 0)) {
		cli_warnx("%s: %s", o->name, strerror(o->err));
		rc = CLI_EXIT_FATAL;
	} else if (have_pend && me->commit(me->arg) != 0)
		rc = CLI_EXIT_FATAL;
out:
	free(buf);
	return rc;
}

uint64_t
mark_opt_interval(const char *arg)
{
	return (uint64_t)cli_opt_duration("commit-interval", arg, 0, 86400000) *
	    1000000;
}
