/*
 * closehook-follow - the spool as a durable queue.
 *
 * Read FILE from the offset committed in --offset-file and write each
 * complete line to stdout, bytes unchanged, then keep following what is
 * appended (inotify, polling when inotify is not available) until stopped.
 * A line is written only once its newline has arrived, so a writer caught
 * mid-append is never seen.  The offset file records the file's identity
 * (device, inode, and an FNV-1a hash of its first line) and the byte offset
 * after the last line written and flushed; it is replaced atomically at
 * most every --commit-interval and on exit, so a crash repeats lines, never
 * skips one.  When the name is renamed away and recreated (rotation), the
 * old file is read to its end, then the new one from its start.
 *
 * Lines are not copied one by one: each read(2) of up to 1 MiB is written
 * up to its last newline in one piece, and only the incomplete tail is kept.
 *
 * Into a pipe, a line written is not a line processed: the stages after
 * follow hold lines in pipes, buffers and retries.  So there follow does
 * not commit what it wrote ("acked" commits, the default for a pipe or a
 * socket): it writes acknowledgement marks (mark.h) after the lines, every
 * closehook stage passes a mark on once it has finished everything before
 * it, and `closehook-follow --commit FILE` at the end of the pipeline
 * commits the positions the marks name.  Into a regular file, follow
 * commits what it wrote once the file is fdatasync'd.  The offset file is
 * locked (FILE.lock) while a follower reads from it.
 *
 * The spool may also be a NATS JetStream stream (nats://.../STREAM, see
 * natsq.h): follow is then a durable pull consumer of it (--durable), and
 * writes each message's data, a capture line, to stdout; a message is
 * acknowledged once its line was written and flushed (and fdatasync'd into
 * a regular file), so the cluster delivers it again, to this follower or
 * another on the same --durable, when follow dies before (HACKING.md says
 * what this covers in a pipeline, and what not).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "atomicfile.h"
#include "isotime.h"
#include "json.h"
#include "mark.h"
#include "metrics.h"
#include "natsq.h"
#include "out.h"

#define BUFSZ (1024 * 1024)
#define RECHECK_MS 1000 /* re-stat even when inotify is quiet */
#define POLL_MS 100 /* the polling fallback's interval */
#define ROTATE_GRACE_NS 1000000000ull
#define ACK_WARN_NS (60 * 1000000000ull) /* marks without a commit */
/* A stream: messages fetched at most at once, and the wait for one. */
#define NATS_BATCH 256
#define NATS_WAIT_MS 500
/* A stream that cannot be read this long is fatal (exit 2). */
#define NATS_OUTAGE_NS (60 * 1000000000ull)
/* An idle stream's consumer is asked for its state this often. */
#define NATS_HEALTH_NS (5 * 1000000000ull)

static const char synopsis[] =
    "closehook-follow [--offset-file FILE] [--from start|end] "
    "[--rewind DURATION]\n"
    "\t[--commit-when acked|written] [--commit-interval DURATION]\n"
    "\t[--metrics FILE] [--once] [-q] FILE\n"
    "closehook-follow --commit FILE [--commit-interval DURATION] [-q]\n"
    "closehook-follow --durable NAME [--ack-wait DURATION] "
    "[--from start|end|TIME]\n"
    "\t[--rewind DURATION] [--nats-creds FILE | --nats-user-file FILE]\n"
    "\t[--nats-replicas N] [--metrics FILE] [--once] [-q]\n"
    "\tnats://HOST:PORT[,HOST:PORT...]/STREAM\n";

/* One followed file. */
struct src {
	int fd;
	char *name; /* the name it was opened by, for messages */
	dev_t dev;
	ino_t ino;
	uint64_t head_hash; /* FNV-1a 64 of the first line, newline incl. */
	uint64_t head_len; /* 0 while the first line is incomplete */
	off_t done; /* offset after the last line given to out */
	off_t synced; /* the file fdatasync'd up to here (spool_sync) */
	int syncerr; /* a sync failed: nothing more is committed */
	size_t len; /* bytes of an incomplete line held in buf */
	int longline; /* that line is longer than buf: not held */
	off_t scan; /* longline: read position, no newline before */
	int wd; /* inotify watch, or -1 */
	int moved; /* path names another file now */
};

/* What an offset file says. */
struct offrec {
	uintmax_t dev, ino, head_len;
	uint64_t head_hash;
	intmax_t offset;
};

static const char *path; /* FILE as given */
static const char *offpath;
/* The inode of offpath's lock file (FILE.lock): what marks name. */
static uintmax_t lock_dev, lock_ino;
static char lockpath[4096];
static int lock_fd = -1;
static int quiet, once;
static int acked; /* commits are marks for --commit at the pipeline's end */
static uint64_t interval_ns = 1000000000ull;
static struct out out;
static char *buf;
static int ifd = -1, dirwd = -1, sfd = -1;
static volatile int stop;

/* Committed and flushed state. */
static off_t flushed;
static int have_commit;
static struct offrec committed; /* acked: the last mark written */
static uint64_t last_commit_ns;

/* acked: when the offset file last changed, to warn when nobody commits. */
static uint64_t unacked_ns, ack_check_ns;
static struct stat ack_st;
static int ack_warned;

/* --metrics: counted as lines go out; the gauges are set before a write. */
static struct metrics met;
static uint64_t nbytes, nrotations;
static double m_position, m_size = NAN, m_behind = NAN, m_committed = NAN;

static void
usage(void)
{
	cli_usage(synopsis);
}

static void
help(void)
{
	printf("usage: %s", synopsis);
	printf(
	    "\n"
	    "Write the complete lines of FILE from a committed offset, then "
	    "follow it.\n"
	    "\n"
	    "  --offset-file FILE   where this consumer's offset is kept\n"
	    "  --from WHERE         start or end: where a new offset file "
	    "starts\n"
	    "                       (default start); also overrides a refused "
	    "one;\n"
	    "                       of a stream, a new consumer also takes a "
	    "TIME\n"
	    "  --rewind DURATION    start earlier: at the first capture whose\n"
	    "                       received_at is within DURATION before the "
	    "position\n"
	    "                       (a new consumer: stored DURATION before "
	    "--from or now)\n"
	    "  --durable NAME       the stream's durable consumer to read "
	    "through;\n"
	    "                       followers with one NAME share the "
	    "messages\n"
	    "  --ack-wait DURATION  redeliver a message not acknowledged "
	    "within this\n"
	    "                       (default 30s)\n"
	    "  --nats-creds FILE    NATS credentials (.creds file)\n"
	    "  --nats-user-file FILE\n"
	    "                       NATS user and password, one a line\n"
	    "  --nats-replicas N    replicas of a stream created here "
	    "(default 3)\n"
	    "  --commit-when WHEN   acked: commit what the pipeline's end "
	    "acknowledged\n"
	    "                       (closehook-follow --commit FILE); "
	    "written: what was\n"
	    "                       written to stdout (default: acked into "
	    "a pipe or socket)\n"
	    "  --commit FILE        at a pipeline's end: commit the positions "
	    "its marks name\n"
	    "                       to FILE, pass every other line on\n"
	    "  --commit-interval DURATION\n"
	    "                       commit the offset at most this often "
	    "(default 1s)\n"
	    "  --metrics FILE       keep Prometheus metrics in FILE\n"
	    "  --once               stop at the current end of the file "
	    "(stream: when\n"
	    "                       nothing is pending and nothing awaits an "
	    "ack)\n"
	    "  -q, --quiet          no notes on stderr about rotation or "
	    "overrides\n"
	    "  -h, --help           show this help\n"
	    "      --version        show the version\n");
	exit(cli_close_out());
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
note(const char *fmt, ...)
{
	va_list ap;
	char msg[1024];

	if (quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_warnx("%s", msg);
}

static uint64_t
fnv1a(uint64_t h, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* pread all of n bytes unless the file ends; returns the count or -1. */
static ssize_t
pread_full(int fd, char *p, size_t n, off_t at)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = pread(fd, p + got, n - got, at + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/*
 * Hash the first line of fd (through its newline) into *hash and *len.
 * *len is 0 when the file holds no complete line yet.  Returns 0 or -1.
 */
static int
head_of(int fd, uint64_t *hash, uint64_t *len)
{
	char chunk[64 * 1024];
	uint64_t h = 0xcbf29ce484222325ull;
	off_t at = 0;
	ssize_t r;
	char *nl;

	*len = 0;
	for (;;) {
		if ((r = pread_full(fd, chunk, sizeof(chunk), at)) < 0)
			return -1;
		if (r == 0)
			return 0;
		if ((nl = memchr(chunk, '\n', (size_t)r)) != NULL) {
			h = fnv1a(h, chunk, (size_t)(nl - chunk) + 1);
			*hash = h;
			*len = (uint64_t)at + (uint64_t)(nl - chunk) + 1;
			return 0;
		}
		h = fnv1a(h, chunk, (size_t)r);
		at += r;
	}
}

static int
stopping(void)
{
	struct signalfd_siginfo si;

	if (!stop && sfd >= 0 && read(sfd, &si, sizeof(si)) > 0)
		stop = 1;
	return stop;
}

/*
 * A write blocked on a reader that takes nothing (the stage after follow
 * is stuck): keep the metrics current, and give the write up when told to
 * stop, where waiting for the reader would leave SIGTERM unanswered until
 * systemd's SIGKILL.  What the reader did not take was not committed.
 */
static int
on_blocked(void *arg)
{
	(void)arg;
	metrics_poll(&met);
	return stopping();
}

/*
 * stdout's reader is gone (EPIPE): was the whole pipeline stopped?
 * systemctl stop signals every process of it at once, and the reader may
 * go first: a SIGTERM or SIGINT within STOP_GRACE_MS of finding it gone
 * says so, and then the broken pipe is no error.
 */
#define STOP_GRACE_MS 200

static int
stopped_with_reader(void)
{
	struct pollfd p = { sfd, POLLIN, 0 };

	if (out.err == ECANCELED)
		return 1; /* stopped while the reader took nothing: blocked */
	if (out.err != EPIPE)
		return 0;
	if (!stopping() && sfd >= 0)
		(void)poll(&p, 1, STOP_GRACE_MS);
	return stopping();
}

/*
 * An offset record's text is shorter than this (five numbers and a hash),
 * and so is a follow mark's text (two numbers more, for its lock); a
 * longer mark is another program's.
 */
#define OFFREC_MAX 256

/* The text of an offset record, without a newline; returns its length. */
static int
offrec_text(const struct offrec *o, char *text, size_t cap)
{
	return snprintf(text, cap,
	    "{\"dev\":%ju,\"ino\":%ju,\"head_len\":%ju,"
	    "\"head_fnv1a64\":\"%016" PRIx64 "\",\"offset\":%jd}",
	    o->dev, o->ino, o->head_len, o->head_hash, o->offset);
}

/* Parse an offset record; returns 0, or -1 when text is not one. */
static int
offrec_parse(const char *text, struct offrec *o)
{
	char hash[17];
	int end = 0;

	if (sscanf(text,
		"{\"dev\":%ju,\"ino\":%ju,\"head_len\":%ju,"
		"\"head_fnv1a64\":\"%16[0-9a-f]\",\"offset\":%jd}%n",
		&o->dev, &o->ino, &o->head_len, hash, &o->offset, &end) != 5 ||
	    end == 0 || o->offset < 0)
		return -1;
	o->head_hash = strtoull(hash, NULL, 16);
	return 0;
}

/* Commit o to the offset file (temp, fsync, rename, fsync dir). */
static int
write_offset(const struct offrec *o)
{
	char text[OFFREC_MAX];
	int n;

	n = offrec_text(o, text, sizeof(text) - 1);
	text[n++] = '\n';
	if (atomicfile_write(offpath, text, (size_t)n) != 0) {
		cli_warn("cannot commit the offset to %s", offpath);
		return -1;
	}
	return 0;
}

/*
 * Refuse to start when the offset cannot be committed: a run that emits
 * everything and then fails to commit would emit it all again next time.
 */
static void
check_committable(void)
{
	char tmp[4096];
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.check%ld", offpath,
		(long)getpid()) >= (int)sizeof(tmp))
		cli_fatalx("%s: name too long", offpath);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		cli_fatal("cannot commit the offset to %s", offpath);
	close(fd);
	unlink(tmp);
}

/*
 * acked: has the offset file changed since the last look?  Warn once when
 * marks went out a minute ago and nothing committed any: the pipeline has
 * no closehook-follow --commit at its end, or a stage drops marks.
 */
static void
ack_watch(uint64_t now)
{
	struct stat st;

	if (now - ack_check_ns < 1000000000ull)
		return;
	ack_check_ns = now;
	if (stat(offpath, &st) == 0 &&
	    (st.st_ino != ack_st.st_ino ||
		st.st_mtim.tv_sec != ack_st.st_mtim.tv_sec ||
		st.st_mtim.tv_nsec != ack_st.st_mtim.tv_nsec)) {
		ack_st = st;
		unacked_ns = 0;
		return;
	}
	if (unacked_ns != 0 && now - unacked_ns > ACK_WARN_NS && !ack_warned) {
		ack_warned = 1;
		cli_warnx("%s: no position committed for a minute: a stage "
			  "holds the marks back (post retrying a delivery, "
			  "say), or the pipeline has no closehook-follow "
			  "--commit %s at its end, or a stage drops "
			  "closehook_mark lines",
		    offpath, offpath);
	}
}

/*
 * A run that wrote marks says so in FILE.lock as it ends ("marked" after
 * its pid), so that the next run, finding that no offset file was ever
 * committed, can say why every run starts over: the pipeline has no
 * --commit at its end.  A cron --once run never lives the minute that
 * ack_watch waits.
 */
/* lockpath for offpath: FILE.lock, as cli_lock names it. */
static void
set_lockpath(void)
{
	if (snprintf(lockpath, sizeof(lockpath), "%s.lock", offpath) >=
	    (int)sizeof(lockpath))
		cli_fatalx("%s: name too long", offpath);
}

static int
last_run_marked(void)
{
	char t[64];
	ssize_t n;
	int fd;

	if ((fd = open(lockpath, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = pread(fd, t, sizeof(t) - 1, 0);
	close(fd);
	t[n > 0 ? n : 0] = '\0';
	return strstr(t, "\nmarked\n") != NULL;
}

static void
note_marked(void)
{
	char t[64];
	int n;

	if (lock_fd < 0 || !acked || !have_commit)
		return;
	n = snprintf(t, sizeof(t), "%ld\nmarked\n", (long)getpid());
	if (pwrite(lock_fd, t, (size_t)n, 0) != n)
		cli_warn("%s", lockpath);
}

/*
 * Flush stdout; the lines before s->done are then written.  Returns 0, or
 * -1 when stdout failed (flushed stays at what was known to be written).
 */
static int
sync_out(const struct src *s)
{
	if (out_flush(&out) != 0)
		return -1;
	flushed = s->done;
	return 0;
}

/*
 * Sync the followed file itself up to the position a commit names.  A
 * writer appends, then syncs (closehook-receive before its 2xx), so the
 * lines read may not be on disk yet, and a writer killed between the two
 * never syncs them; a power loss would then leave the file shorter than
 * the committed offset, and the next lines written there would be skipped.
 * Usually the writer synced them already and this is cheap.  A file that
 * cannot be synced (EINVAL, EROFS: nothing to sync) is taken as it is.
 * After a failure nothing more is committed: Linux reports a lost
 * write-back once, so a second sync would succeed without the bytes.
 */
static int
spool_sync(struct src *s, off_t upto)
{
	if (upto <= s->synced)
		return 0;
	if (s->syncerr)
		return -1;
	if (fdatasync(s->fd) != 0 && errno != EINVAL && errno != EROFS) {
		cli_warn("%s: cannot sync it, so its position is not "
			 "committed",
		    s->name);
		s->syncerr = 1;
		return -1;
	}
	s->synced = upto;
	return 0;
}

/*
 * Commit s's position when --commit-interval has passed since the last
 * commit (always when force): acked, write a mark after the lines (what
 * the stages pass on to --commit); written, flush stdout (and fdatasync a
 * file) and commit its flushed position.  Returns 0, or -1 on failure.
 */
static int
commit(struct src *s, int force)
{
	struct offrec o;
	uint64_t now;

	if (offpath == NULL)
		return 0;
	now = cli_mono_ns();
	if (acked)
		ack_watch(now);
	if (!force && now - last_commit_ns < interval_ns)
		return 0;
	if (acked)
		flushed = s->done; /* the mark follows the lines in stdout */
	else if (!force && out.err == 0 && sync_out(s) != 0)
		return 0; /* the caller sees out.err */
	if (s->head_len == 0 && flushed > 0 &&
	    head_of(s->fd, &s->head_hash, &s->head_len) != 0) {
		cli_warn("%s", s->name);
		return -1;
	}
	o.dev = (uintmax_t)s->dev;
	o.ino = (uintmax_t)s->ino;
	o.head_len = s->head_len;
	o.head_hash = s->head_len > 0 ? s->head_hash : 0;
	o.offset = (intmax_t)flushed;
	last_commit_ns = now;
	if (have_commit && memcmp(&o, &committed, sizeof(o)) == 0)
		return 0;
	if (spool_sync(s, flushed) != 0)
		return -1;
	if (acked) {
		char text[MARK_PREFIX_LEN + OFFREC_MAX + 2];
		int n;

		n = snprintf(text, sizeof(text), "%s", MARK_PREFIX);
		n += offrec_text(&o, text + n, sizeof(text) - (size_t)n);
		/* Which offset file: its lock file's inode (mark_parse). */
		n += snprintf(text + n - 1, sizeof(text) - (size_t)n + 1,
			 ",\"lock\":\"%ju:%ju\"}", lock_dev, lock_ino) -
		    1;
		text[n++] = '}';
		text[n++] = '\n';
		if (out_write(&out, text, (size_t)n) != 0)
			return 0; /* the caller sees out.err */
		if (unacked_ns == 0)
			unacked_ns = now;
	} else {
		if (flushed > 0 && out_sync(&out) != 0) {
			cli_warnx("stdout: %s", strerror(out.err));
			return -1;
		}
		if (write_offset(&o) != 0)
			return -1;
	}
	committed = o;
	have_commit = 1;
	return 0;
}

/* Copy the file bytes [from, to) of s to out, through buf. */
static int
copy_range(struct src *s, off_t from, off_t to)
{
	ssize_t r;

	while (from < to) {
		size_t want =
		    (size_t)(to - from) < BUFSZ ? (size_t)(to - from) : BUFSZ;

		if ((r = pread_full(s->fd, buf, want, from)) <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		if (out_write(&out, buf, (size_t)r) != 0)
			return 0; /* the caller sees out.err */
		from += r;
	}
	return 0;
}

/*
 * Are the s->len bytes held of an incomplete line still what the file has
 * at s->done?  A writer that cut a torn line back and wrote another in its
 * place between two reads would otherwise splice the two.
 */
static int
held_intact(const struct src *s)
{
	static char *cmp;

	if (cmp == NULL && (cmp = malloc(BUFSZ)) == NULL)
		cli_fatal("out of memory");
	return pread_full(s->fd, cmp, s->len, s->done) == (ssize_t)s->len &&
	    memcmp(cmp, buf, s->len) == 0;
}

enum pump {
	P_EOF,
	P_STOP,
	P_RERR,
	P_WERR,
	P_CERR /* the offset could not be committed */
};

/* Read s to its current end, writing every complete line. */
static enum pump
pump(struct src *s)
{
	ssize_t got;
	char *nl;
	size_t n;

	for (;;) {
		if (stopping())
			return P_STOP;
		if (out.err != 0)
			return P_WERR;
		if (commit(s, 0) != 0)
			return P_CERR;
		metrics_poll(&met);
		if (s->longline) {
			/* Look for the newline without holding the line. */
			got = read(s->fd, buf, BUFSZ);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				return P_RERR;
			if (got == 0)
				return P_EOF;
			if ((nl = memchr(buf, '\n', (size_t)got)) == NULL) {
				s->scan += got;
				continue;
			}
			s->scan += nl - buf + 1;
			if (copy_range(s, s->done, s->scan) != 0)
				return P_RERR;
			if (out.err != 0)
				return P_WERR;
			nbytes += (uint64_t)(s->scan - s->done);
			s->done = s->scan;
			s->longline = 0;
			s->len = 0;
			if (lseek(s->fd, s->done, SEEK_SET) < 0)
				return P_RERR;
			continue;
		}
		got = read(s->fd, buf + s->len, BUFSZ - s->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return P_RERR;
		if (got == 0)
			return P_EOF;
		nl = memrchr(buf + s->len, '\n', (size_t)got);
		if (nl != NULL && s->len > 0 && !held_intact(s)) {
			/* Cut back and written anew since the bytes we hold
			 * were read: read the line again. */
			s->len = 0;
			if (lseek(s->fd, s->done, SEEK_SET) < 0)
				return P_RERR;
			continue;
		}
		s->len += (size_t)got;
		if (nl == NULL) {
			if (s->len == BUFSZ) {
				s->longline = 1;
				s->scan = s->done + (off_t)s->len;
				s->len = 0;
			}
			continue;
		}
		n = (size_t)(nl - buf) + 1;
		if (out_write(&out, buf, n) != 0)
			return P_WERR;
		s->done += (off_t)n;
		nbytes += n;
		s->len -= n;
		if (s->len > 0)
			memmove(buf, buf + n, s->len);
	}
}

static int
has_partial(const struct src *s)
{
	return s->len > 0 || s->longline;
}

static void
watch(struct src *s)
{
	s->wd = -1;
	if (ifd >= 0)
		s->wd = inotify_add_watch(ifd, s->name,
		    IN_MODIFY | IN_MOVE_SELF | IN_DELETE_SELF | IN_ATTRIB);
}

/* Take over an open descriptor as s, positioned at pos. */
static void
src_init(struct src *s, int fd, const char *name, off_t pos)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->name = xstrdup(name);
	if (fstat(fd, &st) != 0)
		cli_fatal("%s", name);
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->done = pos;
	if (lseek(fd, pos, SEEK_SET) < 0)
		cli_fatal("%s", name);
	s->wd = -1;
}

static void
src_close(struct src *s)
{
	if (s->wd >= 0)
		inotify_rm_watch(ifd, s->wd);
	close(s->fd);
	free(s->name);
	s->name = NULL;
}

/* The offset after the last newline of fd (0 when there is none). */
static off_t
end_of_lines(int fd, const char *name)
{
	struct stat st;
	off_t hi, lo;
	ssize_t r;
	char *nl;

	if (fstat(fd, &st) != 0)
		cli_fatal("%s", name);
	for (hi = st.st_size; hi > 0; hi = lo) {
		lo = hi > BUFSZ ? hi - BUFSZ : 0;
		if ((r = pread_full(fd, buf, (size_t)(hi - lo), lo)) < 0)
			cli_fatal("%s", name);
		if ((nl = memrchr(buf, '\n', (size_t)r)) != NULL)
			return lo + (nl - buf) + 1;
	}
	return 0;
}

/* The received_at of a capture line in ns since the epoch; 0 or -1. */
static int
received_at(const char *p, size_t n, int64_t *ns)
{
	struct json_span root, v;
	struct isotime t;
	char text[64];
	size_t tn;

	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (json_parse(p, n, &root, NULL) != 0 || root.type != JSON_OBJECT)
		return -1;
	if (!json_object_get(root, "received_at", 11, &v) ||
	    v.type != JSON_STRING || v.n > sizeof(text))
		return -1;
	tn = json_str_unescape(v, text);
	if (isotime_parse(text, tn, &t) != 0)
		return -1;
	*ns = t.sec * 1000000000 + t.nsec;
	return 0;
}

/*
 * --rewind: going back from pos (a line boundary), find the nearest line
 * whose received_at is older than the newest received_at before pos minus
 * ms, and return the offset after it.  Lines without a received_at are
 * passed over (replayed with their neighbours).
 */
static off_t
rewind_from(int fd, const char *name, off_t pos, int64_t ms)
{
	size_t cap = BUFSZ;
	char *rb = buf;
	off_t hi = pos, lo, nhi;
	int64_t t, cutoff = 0;
	int have_ref = 0;
	char *e, *q, *ls;
	ssize_t r;

	while (hi > 0) {
		size_t want = (size_t)hi < cap ? (size_t)hi : cap;

		lo = hi - (off_t)want;
		if ((r = pread_full(fd, rb, want, lo)) != (ssize_t)want)
			cli_fatal("%s: read error", name);
		e = rb + want;
		while (e > rb) {
			q = e - 1 > rb ? memrchr(rb, '\n', (size_t)(e - 1 - rb))
				       : NULL;
			if (q == NULL && lo > 0)
				break; /* the line begins before lo */
			ls = q != NULL ? q + 1 : rb;
			if (received_at(ls, (size_t)(e - 1 - ls), &t) == 0) {
				if (!have_ref) {
					have_ref = 1;
					cutoff = t - ms * 1000000;
				} else if (t < cutoff) {
					nhi = lo + (e - rb);
					goto found;
				}
			}
			e = ls;
		}
		nhi = lo + (e - rb);
		if (nhi == hi) {
			/* A line longer than the buffer: read more at once. */
			cap *= 2;
			if (rb != buf)
				free(rb);
			rb = xmalloc(cap);
		}
		hi = nhi;
	}
	nhi = 0;
	if (!have_ref) {
		note("%s: no received_at before the position: "
		     "--rewind has nothing to go by",
		    name);
		nhi = pos;
	}
found:
	if (rb != buf)
		free(rb);
	return nhi;
}

static int
read_offset(struct offrec *o)
{
	char text[512];
	ssize_t n;
	int fd;

	if ((fd = open(offpath, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		cli_fatal("%s", offpath);
	}
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		cli_fatal("%s", offpath);
	text[n] = '\0';
	if (offrec_parse(text, o) != 0)
		cli_fatalx(
		    "%s: not an offset file of closehook-follow", offpath);
	return 1;
}

/* NULL when fd can resume at o->offset, else why not. */
static const char *
check_identity(int fd, const struct offrec *o)
{
	struct stat st;
	uint64_t h, hl;
	char c;

	if (fstat(fd, &st) != 0)
		return strerror(errno);
	if ((uintmax_t)st.st_dev != o->dev || (uintmax_t)st.st_ino != o->ino)
		return "it is another file (device and inode differ)";
	if (st.st_size < o->offset)
		return "it is shorter than the committed offset (truncated?)";
	if (o->head_len > 0 &&
	    (head_of(fd, &h, &hl) != 0 || hl != o->head_len ||
		h != o->head_hash))
		return "its first line differs (rewritten?)";
	if (o->offset > 0 &&
	    (pread_full(fd, &c, 1, o->offset - 1) != 1 || c != '\n'))
		return "the committed offset is not at the end of a line";
	return NULL;
}

/*
 * The offset names a file that is no longer at path: look for it, renamed,
 * in path's directory (rotation while we were not running).  Returns an
 * open descriptor and sets *found, or -1.
 */
static int
find_rotated(const struct offrec *o, char **found)
{
	char *copy, *dir;
	struct dirent *d;
	struct stat st;
	DIR *dp;
	int dfd, fd = -1;

	copy = xstrdup(path);
	dir = dirname(copy);
	if ((dp = opendir(dir)) == NULL) {
		free(copy);
		return -1;
	}
	dfd = dirfd(dp);
	while ((d = readdir(dp)) != NULL) {
		if ((uintmax_t)d->d_ino != o->ino ||
		    fstatat(dfd, d->d_name, &st, 0) != 0 ||
		    !S_ISREG(st.st_mode) || (uintmax_t)st.st_dev != o->dev ||
		    (uintmax_t)st.st_ino != o->ino)
			continue;
		if ((fd = openat(dfd, d->d_name, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		if (check_identity(fd, o) != NULL) {
			close(fd);
			fd = -1;
			continue;
		}
		if (asprintf(found, "%s/%s", dir, d->d_name) < 0)
			cli_fatal("out of memory");
		break;
	}
	closedir(dp);
	free(copy);
	return fd;
}

static void
setup_signals(void)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		cli_fatal("sigprocmask");
	if ((sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		cli_fatal("signalfd");
}

static void
setup_inotify(void)
{
	char *copy;

	if ((ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		return;
	copy = xstrdup(path);
	dirwd = inotify_add_watch(
	    ifd, dirname(copy), IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
	free(copy);
	if (dirwd < 0) {
		close(ifd);
		ifd = -1;
	}
}

static void
drain_inotify(void)
{
	char ev[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));

	while (ifd >= 0 && read(ifd, ev, sizeof(ev)) > 0)
		;
}

/*
 * The file shrank under us.  A writer that failed mid-append (a full
 * disk) cuts its file back to the end of its last complete line, as
 * closehook-receive does; follow then forgets the bytes it held of the
 * torn line and reads on from there.  Lines already written that were cut
 * away too (the writer had answered them with an error) stay written, and
 * follow goes on at the new end.  Returns 0, or -1 when size is not at the
 * end of a line (truncated by someone else: the position means nothing).
 */
static int
cut_back(struct src *s, off_t size)
{
	char c;

	if (size > 0 && (pread_full(s->fd, &c, 1, size - 1) != 1 || c != '\n'))
		return -1;
	if (size < s->done) {
		note(
		    "%s: cut back to %jd bytes, below the %jd already written: "
		    "going on at the new end",
		    s->name, (intmax_t)size, (intmax_t)s->done);
		s->done = size;
		if (s->synced > size)
			s->synced = size;
		if (flushed > size)
			flushed = size;
		if (size == 0)
			s->head_len = 0;
	}
	s->len = 0;
	s->longline = 0;
	if (lseek(s->fd, s->done, SEEK_SET) < 0)
		return -1;
	return 0;
}

/*
 * At the end of s: has path been renamed away and recreated?  Returns 1
 * when s must be read again (once more after the rename was seen, or
 * because it was replaced by the new file), 0 otherwise; *wait_ms is
 * lowered when an incomplete last line of the old file is waited for.
 */
static int
rotate(struct src *s, uint64_t *grace_end, int *wait_ms)
{
	struct stat st;
	uint64_t now;
	int fd;

	if (fstat(s->fd, &st) == 0 &&
	    st.st_size < (s->longline ? s->scan : s->done + (off_t)s->len)) {
		if (cut_back(s, st.st_size) != 0)
			cli_fatalx(
			    "%s: truncated while being followed", s->name);
		return 1;
	}
	if (stat(path, &st) != 0 ||
	    (st.st_dev == s->dev && st.st_ino == s->ino)) {
		*grace_end = 0;
		return 0;
	}
	if (!s->moved) {
		/*
		 * The writer may have appended to the old file after our last
		 * read and before it created the new one: read it once more.
		 */
		s->moved = 1;
		return 1;
	}
	if (has_partial(s)) {
		/* --once does not wait: the writer has moved on. */
		now = cli_mono_ns();
		if (*grace_end == 0)
			*grace_end = now + (once ? 0 : ROTATE_GRACE_NS);
		if (now < *grace_end) {
			int ms = (int)((*grace_end - now) / 1000000) + 1;

			if (ms < *wait_ms)
				*wait_ms = ms;
			return 0;
		}
		note("%s: rotated with an incomplete last line: %jd bytes "
		     "skipped",
		    s->name,
		    (intmax_t)(s->longline ? s->scan - s->done
					   : (off_t)s->len));
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0; /* gone again: look next time */
	*grace_end = 0;
	if (sync_out(s) != 0)
		return 0;
	note("%s: rotated: the old file was read to its end, following "
	     "the new one",
	    path);
	src_close(s);
	src_init(s, fd, path, 0);
	watch(s);
	flushed = 0;
	nrotations++;
	if (commit(s, 1) != 0)
		cli_fatalx("%s: cannot commit", offpath);
	return 1;
}

/* Before each metrics write: where the followed file stands. */
static void
metrics_update(void *arg)
{
	const struct src *s = arg;
	struct stat st;

	m_position = (double)s->done;
	m_size = m_behind = NAN;
	if (fstat(s->fd, &st) == 0) {
		m_size = (double)st.st_size;
		m_behind = 0;
		if (st.st_size > s->done)
			m_behind = (double)(st.st_size - s->done);
	}
	m_committed = have_commit ? (double)committed.offset : NAN;
}

static void
setup_metrics(const char *mpath, struct src *s)
{
	static const struct metrics_def defs[] = {
		{ "closehook_follow_written_bytes_total", METRICS_COUNTER,
		    METRICS_U64, &nbytes,
		    "Bytes of complete lines written to stdout.", NULL, NULL },
		{ "closehook_follow_rotations_total", METRICS_COUNTER,
		    METRICS_U64, &nrotations,
		    "Rotations followed to the new file.", NULL, NULL },
		{ "closehook_follow_position_bytes", METRICS_GAUGE,
		    METRICS_DOUBLE, &m_position,
		    "Offset in the file after the last line written.", NULL,
		    NULL },
		{ "closehook_follow_file_size_bytes", METRICS_GAUGE,
		    METRICS_DOUBLE, &m_size, "Size of the file being read.",
		    NULL, NULL },
		{ "closehook_follow_behind_bytes", METRICS_GAUGE,
		    METRICS_DOUBLE, &m_behind,
		    "Bytes between the position and the end of the file.", NULL,
		    NULL },
		{ "closehook_follow_committed_offset_bytes", METRICS_GAUGE,
		    METRICS_DOUBLE, &m_committed,
		    "Offset last committed to --offset-file.", NULL, NULL },
	};

	metrics_init(&met, mpath);
	metrics_add(&met, defs, sizeof(defs) / sizeof(defs[0]));
	metrics_add_start_time(&met, "closehook_follow_start_time_seconds");
	metrics_on_update(&met, metrics_update, s);
	metrics_start(&met);
}

/*
 * --commit FILE: the end of a pipeline that starts with closehook-follow
 * (mark_end_run, mark.h).  Each follow mark is taken as the position to
 * commit; ack_pend holds the newest one until it is committed.
 */
static struct offrec ack_pend;

/*
 * A mark names its follower's offset file by the inode of FILE.lock (the
 * offset file itself is renamed at every commit; its lock file never is),
 * so that --commit FILE takes no mark of a follower of another FILE: a
 * typo there would commit one pipeline's positions into another's offset
 * file, and the other would skip what it had not finished.
 */
static int
mark_parse(const char *t, struct offrec *o, uintmax_t *dev, uintmax_t *ino)
{
	char hash[17];
	int end = 0;

	if (sscanf(t,
		"{\"dev\":%ju,\"ino\":%ju,\"head_len\":%ju,"
		"\"head_fnv1a64\":\"%16[0-9a-f]\",\"offset\":%jd,"
		"\"lock\":\"%ju:%ju\"}%n",
		&o->dev, &o->ino, &o->head_len, hash, &o->offset, dev, ino,
		&end) != 7 ||
	    end == 0 || t[end] != '\0' || o->offset < 0)
		return -1;
	o->head_hash = strtoull(hash, NULL, 16);
	return 0;
}

static int
ack_take(void *arg, const char *text, size_t n, unsigned long lineno)
{
	static int warned;
	char t[OFFREC_MAX];
	struct offrec o;
	struct stat lst;
	uintmax_t dev, ino;

	(void)arg;
	if (n < sizeof(t)) {
		memcpy(t, text, n);
		t[n] = '\0';
	}
	if (n >= sizeof(t) || mark_parse(t, &o, &dev, &ino) != 0) {
		cli_recwarnx(
		    "stdin", lineno, "not a closehook-follow mark: ignored");
		return 0;
	}
	if (lock_dev == 0 && lock_ino == 0 && stat(lockpath, &lst) == 0) {
		lock_dev = (uintmax_t)lst.st_dev;
		lock_ino = (uintmax_t)lst.st_ino;
	}
	if (dev != lock_dev || ino != lock_ino) {
		if (!warned)
			cli_recwarnx("stdin", lineno,
			    "a mark of a follower of another offset file: "
			    "ignored; give closehook-follow --commit the file "
			    "its --offset-file names");
		warned = 1;
		return 0;
	}
	ack_pend = o;
	return 1;
}

/*
 * Commit the newest mark's position (stdout is on disk by now when it is a
 * file: mark_end_run).  An offset already committed is not written again.
 */
static int
ack_commit(void *arg)
{
	(void)arg;
	if (have_commit && memcmp(&ack_pend, &committed, sizeof(ack_pend)) == 0)
		return 0;
	if (write_offset(&ack_pend) != 0)
		return -1;
	committed = ack_pend;
	have_commit = 1;
	return 0;
}

/* ---- a JetStream stream ---- */

/* What the options say about a stream. */
struct nats_args {
	const char *spec;
	struct natsq_opts opt;
	struct natsq_consumer con;
	int start_given; /* --from or --rewind */
	const char *mpath;
};

static struct natsq *nq;
static uint64_t n_msgs, n_acked, n_redelivered;
static double m_pending = NAN, m_ack_pending = NAN, m_redelivering = NAN;

/* Before each metrics write: the consumer as the server counts it. */
static void
nats_metrics_update(void *arg)
{
	struct natsq_cstate cs;

	m_pending = m_ack_pending = m_redelivering = NAN;
	if (natsq_consumer_state(nq, &cs) == 0) {
		m_pending = (double)cs.pending;
		m_ack_pending = (double)cs.ack_pending;
		m_redelivering = (double)cs.redelivered;
	}
}

static void
nats_setup_metrics(const char *mpath)
{
	static const struct metrics_def defs[] = {
		{ "closehook_follow_written_bytes_total", METRICS_COUNTER,
		    METRICS_U64, &nbytes,
		    "Bytes of complete lines written to stdout.", NULL, NULL },
		{ "closehook_follow_messages_total", METRICS_COUNTER,
		    METRICS_U64, &n_msgs,
		    "Messages of the stream written to stdout.", NULL, NULL },
		{ "closehook_follow_acked_total", METRICS_COUNTER, METRICS_U64,
		    &n_acked, "Messages acknowledged after they were written.",
		    NULL, NULL },
		{ "closehook_follow_redelivered_total", METRICS_COUNTER,
		    METRICS_U64, &n_redelivered,
		    "Messages written that the stream had delivered before.",
		    NULL, NULL },
		{ "closehook_follow_pending_messages", METRICS_GAUGE,
		    METRICS_DOUBLE, &m_pending,
		    "Messages of the stream not yet delivered to the consumer.",
		    NULL, NULL },
		{ "closehook_follow_ack_pending_messages", METRICS_GAUGE,
		    METRICS_DOUBLE, &m_ack_pending,
		    "Messages delivered to the consumer's followers and not "
		    "yet acknowledged.",
		    NULL, NULL },
		{ "closehook_follow_redelivering_messages", METRICS_GAUGE,
		    METRICS_DOUBLE, &m_redelivering,
		    "Messages awaiting acknowledgement that were delivered "
		    "more than once.",
		    NULL, NULL },
	};

	metrics_init(&met, mpath);
	metrics_add(&met, defs, sizeof(defs) / sizeof(defs[0]));
	metrics_add_start_time(&met, "closehook_follow_start_time_seconds");
	if (mpath != NULL)
		metrics_on_update(&met, nats_metrics_update, NULL);
	metrics_start(&met);
}

/*
 * A stream that cannot be read: warn once when it starts, fail when it
 * lasts NATS_OUTAGE_NS (a leader election takes seconds; a cluster gone
 * for a minute is something a supervisor should hear of).  Returns 0 to
 * go on, -1 to stop.
 */
static int
nats_trouble(uint64_t *since)
{
	uint64_t now = cli_mono_ns();

	if (*since == 0) {
		*since = now;
		cli_warnx("%s: trying again", natsq_error(nq));
	} else if (now - *since > NATS_OUTAGE_NS) {
		cli_warnx("%s: giving up after %llu s", natsq_error(nq),
		    (unsigned long long)(NATS_OUTAGE_NS / 1000000000ull));
		return -1;
	}
	usleep(250000);
	return 0;
}

/* Give messages [from, b->n) back for redelivery at once. */
static void
nats_give_back(struct natsq_batch *b, int from)
{
	for (; from < b->n; from++)
		natsq_nak(nq, b, from);
}

/*
 * Write the batch's messages, flush (and fdatasync a file), then
 * acknowledge them.  Returns 0, or -1 when stdout failed: nothing of the
 * batch is acknowledged then, and all of it is given back.
 */
static int
nats_write(struct natsq_batch *b)
{
	int i, ackfail = 0;

	for (i = 0; i < b->n; i++) {
		size_t n;
		const char *p = natsq_data(b, i, &n);

		if (natsq_delivered(b, i) > 1)
			n_redelivered++;
		/* A message without data would be a blank line. */
		if (n == 0)
			continue;
		out_write(&out, p, n);
		if (p[n - 1] != '\n')
			out_putc(&out, '\n');
		nbytes += n + (p[n - 1] != '\n');
	}
	if (out_durable(&out) != 0) {
		nats_give_back(b, 0);
		return -1;
	}
	n_msgs += (uint64_t)b->n;
	/* A lost acknowledgement repeats the message: warned, not fatal. */
	for (i = 0; i < b->n; i++)
		if (natsq_ack(nq, b, i) == 0)
			n_acked++;
		else
			ackfail = 1;
	if (ackfail)
		cli_warnx("%s: those messages will be delivered again",
		    natsq_error(nq));
	return 0;
}

/*
 * --once: has the consumer nothing left, neither messages to deliver nor
 * deliveries awaiting an acknowledgement (ours, once the server has
 * them, or another follower's)?  1 yes, 0 no, -1 error.
 */
static int
nats_drained(void)
{
	struct natsq_cstate cs;

	if (natsq_sync(nq, 5000) != 0 || natsq_consumer_state(nq, &cs) != 0)
		return -1;
	return cs.pending == 0 && cs.ack_pending == 0 &&
	    cs.delivered_seq >= cs.stream_last;
}

static int
nats_follow(const struct nats_args *a)
{
	struct natsq_url u;
	struct natsq_batch b = { 0 };
	uint64_t trouble = 0, heard = 0;
	const char *why;
	char err[600];
	int created, n, rc = CLI_EXIT_OK, r, done;

	if (natsq_url_parse(a->spec, &u, &why) != 0)
		cli_fatalx("invalid stream URL: %s", why);
	out_init(&out, STDOUT_FILENO, "stdout");
	out_on_block(&out, on_blocked, NULL, 1000);
	if (sodium_init() < 0)
		cli_fatalx("cannot initialise libsodium");
	/* Before the library starts its threads, which inherit the mask. */
	setup_signals();
	if ((nq = natsq_connect(&u, &a->opt, err, sizeof(err))) == NULL) {
		if (err[0] != '\0')
			cli_warnx("%s", err);
		natsq_finish();
		return CLI_EXIT_FATAL;
	}
	/*
	 * A consumer (or stream) whose leader is still being elected, say
	 * just after another follower created it, is waited for as a stream
	 * that cannot be read is; anything else is fatal at once.
	 */
	while (natsq_stream(nq) != 0 ||
	    natsq_consume(nq, &a->con, &created) != 0) {
		if (!natsq_transient(nq)) {
			cli_warnx("%s", natsq_error(nq));
			rc = CLI_EXIT_FATAL;
			goto done;
		}
		if (nats_trouble(&trouble) != 0) {
			rc = CLI_EXIT_FATAL;
			goto done;
		}
	}
	trouble = 0;
	if (!created && a->start_given)
		note("consumer %s of %s exists: --from and --rewind apply to a "
		     "new one only; it goes on where it is",
		    a->con.durable, u.name);
	nats_setup_metrics(a->mpath);
	/*
	 * --once: a consumer with nothing left (a cron run that finds no new
	 * captures) ends at once, not after a fetch waited out for nothing.
	 */
	for (done = once && nats_drained() > 0; !done;) {
		struct pollfd pfd = { STDOUT_FILENO, 0, 0 };

		if (stopping())
			break;
		/* The stage after follow died: stop, to be restarted. */
		if (poll(&pfd, 1, 0) == 1 &&
		    (pfd.revents & (POLLERR | POLLHUP))) {
			out.err = EPIPE;
			break;
		}
		metrics_poll(&met);
		n = natsq_fetch(nq, &b, NATS_BATCH, NATS_WAIT_MS);
		if (n < 0) {
			if (nats_trouble(&trouble) != 0) {
				rc = CLI_EXIT_FATAL;
				break;
			}
			continue;
		}
		if (n == 0) {
			/*
			 * An empty fetch is also what a stream that cannot
			 * be read gives (no server, no quorum: the request
			 * times out), so every NATS_HEALTH_NS without a
			 * message the consumer is asked for its state, which
			 * needs its leader.
			 */
			if (!once) {
				uint64_t now = cli_mono_ns();

				if (heard == 0)
					heard = now;
				if (now - heard < NATS_HEALTH_NS)
					continue;
				if (nats_drained() < 0) {
					if (nats_trouble(&trouble) != 0) {
						rc = CLI_EXIT_FATAL;
						break;
					}
					continue;
				}
				if (trouble != 0)
					cli_warnx("%s: read again", u.name);
				trouble = 0;
				heard = cli_mono_ns();
				continue;
			}
			if ((r = nats_drained()) > 0)
				break;
			if (r == 0)
				trouble = 0;
			else if (nats_trouble(&trouble) != 0) {
				rc = CLI_EXIT_FATAL;
				break;
			}
			continue;
		}
		if (trouble != 0)
			cli_warnx("%s: read again", u.name);
		trouble = 0;
		heard = cli_mono_ns();
		r = nats_write(&b);
		natsq_batch_free(&b);
		if (r != 0)
			break;
		/*
		 * --once: a batch short of full may have been the last;
		 * asking costs a round trip, and saves the wait of a fetch
		 * that finds nothing.
		 */
		if (once && n < NATS_BATCH && nats_drained() > 0)
			break;
	}
	if (out.err != 0 && out.err != ECANCELED) {
		cli_warnx("stdout: %s", strerror(out.err));
		rc = CLI_EXIT_FATAL;
	}
done:
	metrics_close(&met);
	natsq_close(nq);
	natsq_finish();
	if (rc == CLI_EXIT_OK && out.err != ECANCELED)
		rc = out_close_stdout(&out, rc);
	else
		out_close(&out);
	return rc;
}

int
main(int argc, char *argv[])
{
	enum {
		O_OFFSET = 256,
		O_FROM,
		O_REWIND,
		O_INTERVAL,
		O_ONCE,
		O_METRICS,
		O_WHEN,
		O_COMMIT,
		O_DURABLE,
		O_ACKWAIT,
		O_VERSION
	};
	static const struct option longopts[] = {
		{ "offset-file", required_argument, NULL, O_OFFSET },
		{ "from", required_argument, NULL, O_FROM },
		{ "rewind", required_argument, NULL, O_REWIND },
		{ "commit-interval", required_argument, NULL, O_INTERVAL },
		{ "once", no_argument, NULL, O_ONCE },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "commit-when", required_argument, NULL, O_WHEN },
		{ "commit", required_argument, NULL, O_COMMIT },
		{ "durable", required_argument, NULL, O_DURABLE },
		{ "ack-wait", required_argument, NULL, O_ACKWAIT },
		NATSQ_LONGOPTS, { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	const char *from = NULL, *why, *mpath = NULL, *when = NULL;
	const char *ackpath = NULL;
	struct nats_args na;
	struct isotime ft;
	int from_time = 0, interval_set = 0, nats_only = 0;
	struct stat ost;
	int64_t rewind_ms = -1;
	struct offrec o;
	struct src cur;
	off_t pos;
	int ch, fd, rfd, rc = CLI_EXIT_OK;
	uint64_t grace_end = 0;
	char *rname = NULL;
	enum pump p;

	cli_init("closehook-follow");
	cli_std_fds(CLI_STDOUT_DATA);
	/* A stream's credentials may be loaded. */
	cli_no_core_dumps();
	argv[0] = (char *)cli_prog;
	memset(&na, 0, sizeof(na));
	na.con.ack_wait_ms = 30000;
	while ((ch = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
		switch (ch) {
		case O_OFFSET:
			offpath = optarg;
			break;
		case O_FROM:
			if (strcmp(optarg, "start") != 0 &&
			    strcmp(optarg, "end") != 0) {
				/* Nanoseconds since the epoch end in 2262. */
				if (isotime_parse_arg(optarg, &ft) != 0 ||
				    ft.sec >= INT64_MAX / 1000000000 - 1) {
					cli_warnx("invalid value for --from: "
						  "%.32s (start, end, a "
						  "date-time or Unix seconds)",
					    optarg);
					usage();
				}
				from_time = 1;
			}
			from = optarg;
			break;
		case O_REWIND:
			rewind_ms = cli_opt_duration(
			    "rewind", optarg, 0, 100LL * 365 * 86400 * 1000);
			break;
		case O_INTERVAL:
			interval_ns = mark_opt_interval(optarg);
			interval_set = 1;
			break;
		case O_ONCE:
			once = 1;
			break;
		case O_METRICS:
			mpath = optarg;
			break;
		case O_WHEN:
			if (strcmp(optarg, "acked") != 0 &&
			    strcmp(optarg, "written") != 0) {
				cli_warnx("invalid value for --commit-when: "
					  "%.32s (acked or written)",
				    optarg);
				usage();
			}
			when = optarg;
			break;
		case O_COMMIT:
			ackpath = optarg;
			break;
		case O_DURABLE:
			if (!natsq_name_ok(optarg)) {
				cli_warnx("invalid value for --durable: %.32s "
					  "(1 to 64 letters, digits, - or _)",
				    optarg);
				usage();
			}
			na.con.durable = optarg;
			nats_only = 1;
			break;
		case O_ACKWAIT:
			na.con.ack_wait_ms = cli_opt_duration(
			    "ack-wait", optarg, 1000, 86400LL * 1000);
			na.con.ack_wait_set = 1;
			nats_only = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			help();
			break;
		case O_VERSION:
			cli_version();
			break;
		default:
			if (!natsq_getopt(ch, optarg, &na.opt))
				usage();
		}
	}
	argc -= optind;
	argv += optind;
	nats_only |= natsq_opts_given(&na.opt);
	if (ackpath != NULL) {
		if (argc != 0 || offpath != NULL || from != NULL ||
		    rewind_ms >= 0 || when != NULL || once || mpath != NULL ||
		    nats_only) {
			cli_warnx(
			    "--commit reads a pipeline on stdin: no FILE "
			    "and no options but --commit-interval and -q");
			usage();
		}
		offpath = ackpath;
		set_lockpath();
		check_committable();
		signal(SIGPIPE, SIG_IGN);
		/*
		 * Stopped with its pipeline: the marks of what the stages
		 * before finish meanwhile are still committed.
		 */
		cli_drain_on_stop(STDIN_FILENO);
		out_init(&out, STDOUT_FILENO, "stdout");
		{
			struct mark_end me = { ack_take, ack_commit, NULL,
				interval_ns };

			rc = mark_end_run(&out, &me);
		}
		return out_close_stdout(&out, rc);
	}
	if (argc != 1) {
		cli_warnx("give exactly one FILE or stream URL to follow");
		usage();
	}
	if (natsq_is_url(argv[0])) {
		if (offpath != NULL || when != NULL || interval_set) {
			cli_warnx("a stream keeps its position in its durable "
				  "consumer: no --offset-file, --commit-when "
				  "or --commit-interval");
			usage();
		}
		if (na.con.durable == NULL) {
			cli_warnx("give the stream's consumer: --durable NAME");
			usage();
		}
		if (natsq_opts_misuse(&na.opt) != NULL) {
			cli_warnx("%s", natsq_opts_misuse(&na.opt));
			usage();
		}
		na.spec = argv[0];
		na.mpath = mpath;
		na.start_given = from != NULL || rewind_ms >= 0;
		/*
		 * Where a new consumer starts: --from (the stream's start by
		 * default), or --rewind before --from's time or now.
		 */
		if (from_time) {
			na.con.start = NATSQ_START_TIME;
			na.con.start_ns = ft.sec * 1000000000 + ft.nsec;
		} else if (from != NULL && strcmp(from, "end") == 0) {
			na.con.start = NATSQ_START_NEW;
		}
		if (rewind_ms >= 0 &&
		    (from == NULL || strcmp(from, "start") != 0)) {
			if (na.con.start != NATSQ_START_TIME)
				na.con.start_ns =
				    (int64_t)(metrics_wall() * 1e9);
			na.con.start = NATSQ_START_TIME;
			na.con.start_ns -= rewind_ms * 1000000;
		}
		/* At or before the epoch: every message (0 would mean none). */
		if (na.con.start == NATSQ_START_TIME && na.con.start_ns <= 0)
			na.con.start = NATSQ_START_ALL;
		return nats_follow(&na);
	}
	if (nats_only || from_time) {
		cli_warnx("--durable, --ack-wait, --nats-* and --from TIME are "
			  "for a nats:// stream");
		usage();
	}
	path = argv[0];

	/* Set up: the file, the offset, where to start. */
	buf = xmalloc(BUFSZ);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		cli_fatal("%s", path);
	pos = -1;
	if (offpath != NULL) {
		struct stat lst;
		int marked;

		set_lockpath();
		marked = last_run_marked();
		/* Two followers on one offset file would each skip what
		 * the other emitted. */
		lock_fd = cli_lock(offpath, "the offset file");
		if (fstat(lock_fd, &lst) == 0) {
			lock_dev = (uintmax_t)lst.st_dev;
			lock_ino = (uintmax_t)lst.st_ino;
		}
		acked = when != NULL ? strcmp(when, "acked") == 0
				     : fstat(STDOUT_FILENO, &ost) == 0 &&
			(S_ISFIFO(ost.st_mode) || S_ISSOCK(ost.st_mode));
		if (!acked)
			check_committable();
		else if (stat(offpath, &ack_st) != 0) {
			memset(&ack_st, 0, sizeof(ack_st));
			if (marked && errno == ENOENT)
				cli_warnx("%s: the last run's marks were never "
					  "committed (there is no %s yet), so "
					  "this one starts from the beginning "
					  "again: end the pipeline with "
					  "closehook-follow --commit %s",
				    path, offpath, offpath);
		}
		if (read_offset(&o)) {
			if ((why = check_identity(fd, &o)) == NULL) {
				pos = o.offset;
			} else if ((rfd = find_rotated(&o, &rname)) >= 0) {
				/* Finish the rotated file, then path. */
				close(fd);
				fd = rfd;
				pos = o.offset;
			} else if (from == NULL) {
				cli_fatalx(
				    "%s: refusing the offset in %s: %s; "
				    "give --from start or --from end to start "
				    "over",
				    path, offpath, why);
			} else {
				note("%s: ignoring the offset in %s: %s; "
				     "starting at its %s",
				    path, offpath, why, from);
			}
		}
	}
	if (pos < 0)
		pos = from != NULL && strcmp(from, "end") == 0
		    ? end_of_lines(fd, path)
		    : 0;
	if (rewind_ms >= 0 && pos > 0)
		pos = rewind_from(
		    fd, rname != NULL ? rname : path, pos, rewind_ms);
	src_init(&cur, fd, rname != NULL ? rname : path, pos);
	free(rname);
	flushed = pos;
	out_init(&out, STDOUT_FILENO, "stdout");
	out_on_block(&out, on_blocked, NULL, 1000);
	setup_signals();
	if (!once)
		setup_inotify();
	watch(&cur);
	last_commit_ns = cli_mono_ns();
	setup_metrics(mpath, &cur);

	/* Stream: read to the end, then wait for more. */
	for (;;) {
		struct pollfd pfd[3];
		int wait_ms, np = 0;

		p = pump(&cur);
		if (p != P_EOF)
			break;
		wait_ms = ifd >= 0 && cur.wd >= 0 ? RECHECK_MS : POLL_MS;
		if (rotate(&cur, &grace_end, &wait_ms))
			continue;
		if (once)
			break;
		if (sync_out(&cur) != 0) {
			p = P_WERR;
			break;
		}
		if (offpath != NULL &&
		    (!have_commit || committed.offset != (intmax_t)flushed)) {
			uint64_t now = cli_mono_ns(), due;
			int ms;

			due = last_commit_ns + interval_ns;
			if (now >= due) {
				if (commit(&cur, 1) != 0) {
					rc = CLI_EXIT_FATAL;
					goto done;
				}
				/* A mark leaves before the wait. */
				if (acked && sync_out(&cur) != 0) {
					p = P_WERR;
					break;
				}
			} else {
				ms = (int)((due - now) / 1000000) + 1;
				if (ms < wait_ms)
					wait_ms = ms;
			}
		}
		if (acked)
			ack_watch(cli_mono_ns());
		metrics_poll(&met);
		pfd[np].fd = sfd;
		pfd[np++].events = POLLIN;
		if (ifd >= 0) {
			pfd[np].fd = ifd;
			pfd[np++].events = POLLIN;
		}
		/*
		 * A pipe whose reader is gone reports an error: stop now, not
		 * when the next line is appended (the stage after follow died
		 * and the pipeline should end, to be restarted).
		 */
		pfd[np].fd = STDOUT_FILENO;
		pfd[np++].events = 0;
		if (poll(pfd, (nfds_t)np, wait_ms) < 0 && errno != EINTR)
			cli_fatal("poll");
		if (pfd[np - 1].revents & (POLLERR | POLLHUP)) {
			out.err = EPIPE;
			p = P_WERR;
			break;
		}
		drain_inotify();
	}

	/* Tear down: flush, commit what was written, check stdout. */
	if (p == P_RERR) {
		cli_warn("%s: read error", cur.name);
		rc = CLI_EXIT_FATAL;
	}
	if (p == P_CERR)
		rc = CLI_EXIT_FATAL;
	/*
	 * Stopped with the whole pipeline, the reader may be gone first:
	 * what it did not take was not committed, and comes again.  Not an
	 * error (stopped_with_reader).
	 */
	if (sync_out(&cur) != 0 && !stopped_with_reader()) {
		cli_warnx("stdout: %s", strerror(out.err));
		rc = CLI_EXIT_FATAL;
	}
	if (commit(&cur, 1) != 0)
		rc = CLI_EXIT_FATAL;
	note_marked();
done:
	metrics_close(&met);
	/* A stdout error was reported already when rc says so. */
	if (rc == CLI_EXIT_OK && !stopped_with_reader())
		rc = out_close_stdout(&out, rc);
	else
		out_close(&out);
	src_close(&cur);
	free(buf);
	return rc;
}
