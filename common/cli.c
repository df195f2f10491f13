/*
 * cli.c - shared command-line plumbing: messages, exit codes, strict number,
 * size and duration parsing, the lock beside a state file.
 */
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "isotime.h"

const char *cli_prog = "closehook";
static int stdout_closed;

void
cli_init(const char *prog)
{
	cli_prog = prog;
}

void
cli_std_fds(enum cli_stdout use)
{
	int closed[3], fd;

	for (fd = 0; fd < 3; fd++)
		closed[fd] = fcntl(fd, F_GETFD) < 0 && errno == EBADF;
	/*
	 * In order, stdin first: open(2) takes the lowest free number, which
	 * then is the closed descriptor itself.  A closed stdout is reopened
	 * even when it is fatal, so that stderr's /dev/null cannot take it.
	 */
	for (fd = 0; fd < 3; fd++) {
		if (closed[fd] &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) < 0)
			cli_fatal("/dev/null");
	}
	stdout_closed = closed[1];
	if (stdout_closed && use == CLI_STDOUT_DATA)
		cli_fatalx("stdout is closed");
}

int
cli_stdout_closed(void)
{
	return stdout_closed;
}

static void
vmsg(const char *file, unsigned long line, int errnum, const char *fmt,
    va_list ap)
{
	char buf[1024];
	int n;

	/* One write per message so concurrent writers do not interleave. */
	if (file != NULL)
		n = snprintf(
		    buf, sizeof(buf), "%s: %s:%lu: ", cli_prog, file, line);
	else
		n = snprintf(buf, sizeof(buf), "%s: ", cli_prog);
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (errnum != 0) {
		size_t l = strlen(buf);

		snprintf(buf + l, sizeof(buf) - l, ": %s", strerror(errnum));
	}
	fprintf(stderr, "%s\n", buf);
}

void
cli_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(NULL, 0, 0, fmt, ap);
	va_end(ap);
}

void
cli_warn(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vmsg(NULL, 0, e, fmt, ap);
	va_end(ap);
}

void
cli_recwarnx(const char *file, unsigned long line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(file, line, 0, fmt, ap);
	va_end(ap);
}

noreturn void
cli_fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(NULL, 0, 0, fmt, ap);
	va_end(ap);
	exit(CLI_EXIT_FATAL);
}

noreturn void
cli_fatal(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	vmsg(NULL, 0, e, fmt, ap);
	va_end(ap);
	exit(CLI_EXIT_FATAL);
}

noreturn void
cli_usage(const char *synopsis)
{
	fprintf(stderr, "usage: %s", synopsis);
	exit(CLI_EXIT_FATAL);
}

noreturn void
cli_version(void)
{
	printf("%s %s\n", cli_prog, CLOSEHOOK_VERSION);
	exit(cli_close_out());
}

int
cli_close_out(void)
{
	/*
	 * A write that failed inside printf left its errno; when stdio then
	 * dropped the buffer, fflush succeeds and only ferror remembers.
	 */
	int e = errno, bad = 0;

	if (stdout_closed) {
		bad = 1;
		e = EBADF;
	} else if (fflush(stdout) != 0) {
		bad = 1;
		e = errno;
	} else if (ferror(stdout))
		bad = 1;
	if (fclose(stdout) != 0 && !bad) {
		bad = 1;
		e = errno;
	}
	if (!bad)
		return CLI_EXIT_OK;
	cli_warnx("stdout: %s", strerror(e != 0 ? e : EIO));
	return CLI_EXIT_FATAL;
}

int
cli_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
cli_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	default:
		return -1;
	}
	if (shift != 0) {
		end++;
		/* Accept "16M", "16MB" and "16MiB". */
		if (*end == 'i')
			end++;
		if (*end == 'B')
			end++;
		if (*end != '\0')
			return -1;
		if (v > (UINT64_MAX >> shift))
			return -1;
		v <<= shift;
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
cli_duration(const char *s, int64_t min_ms, int64_t max_ms, int64_t *out_ms)
{
	const char *p = s, *end;
	double v, unit;
	size_t nd;

	/* Decimal digits with an optional fraction: no sign, hex, exponent. */
	if (s == NULL)
		return -1;
	nd = strspn(p, "0123456789");
	p += nd;
	if (*p == '.') {
		if (strspn(p + 1, "0123456789") == 0)
			return -1;
		p += 1 + strspn(p + 1, "0123456789");
	} else if (nd == 0)
		return -1;
	end = p;
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		unit = 1000;
	else if (strcmp(end, "ms") == 0)
		unit = 1;
	else if (strcmp(end, "m") == 0)
		unit = 60 * 1000.0;
	else if (strcmp(end, "h") == 0)
		unit = 3600 * 1000.0;
	else if (strcmp(end, "d") == 0)
		unit = 86400 * 1000.0;
	else
		return -1;
	v = strtod(s, NULL) * unit;
	/* A positive duration never rounds to 0, which often means "off". */
	if (v > 0 && v < 1)
		v = 1;
	if (!isfinite(v) || v > 9.2e18 || v < (double)min_ms ||
	    v > (double)max_ms)
		return -1;
	*out_ms = (int64_t)(v + 0.5);
	return 0;
}

static noreturn void
badopt(const char *opt, const char *s)
{
	/* Echo only a short prefix of the bad value. */
	cli_warnx("invalid value '%.32s%s' for --%s", s,
	    strlen(s) > 32 ? "..." : "", opt);
	exit(CLI_EXIT_FATAL);
}

int64_t
cli_opt_int(const char *opt, const char *s, int64_t min, int64_t max)
{
	int64_t v;

	if (cli_int(s, min, max, &v) != 0)
		badopt(opt, s);
	return v;
}

uint64_t
cli_opt_size(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (cli_size(s, min, max, &v) != 0)
		badopt(opt, s);
	return v;
}

/* A bound of a duration option as its user would write it ("1h"). */
static void
fmt_bound(int64_t ms, char *buf, size_t cap)
{
	static const struct {
		int64_t ms;
		const char *unit;
	} u[] = { { 86400000, "d" }, { 3600000, "h" }, { 60000, "m" },
		{ 1000, "s" }, { 1, "ms" } };
	size_t i;

	for (i = 0; i < sizeof(u) / sizeof(u[0]) - 1; i++)
		if (ms % u[i].ms == 0)
			break;
	snprintf(buf, cap, "%lld%s", (long long)(ms / u[i].ms), u[i].unit);
}

/* cli_opt_duration, with the least value said as shown_ms. */
static int64_t
opt_duration(const char *opt, const char *s, int64_t min_ms, int64_t max_ms,
    int64_t shown_ms)
{
	char lo[32], hi[32];
	int64_t v;

	if (cli_duration(s, min_ms, max_ms, &v) == 0)
		return v;
	fmt_bound(shown_ms, lo, sizeof(lo));
	fmt_bound(max_ms, hi, sizeof(hi));
	/* Past a century the bound is no help. */
	cli_warnx("invalid value '%.32s%s' for --%s: a duration such as 30s, "
		  "5m or 1h (a bare number is seconds)%s%s%s%s",
	    s, strlen(s) > 32 ? "..." : "", opt,
	    shown_ms > 0 ? ", at least " : "", shown_ms > 0 ? lo : "",
	    max_ms <= 36500LL * 86400000 ? ", at most " : "",
	    max_ms <= 36500LL * 86400000 ? hi : "");
	exit(CLI_EXIT_FATAL);
}

int64_t
cli_opt_duration(const char *opt, const char *s, int64_t min_ms, int64_t max_ms)
{
	return opt_duration(opt, s, min_ms, max_ms, min_ms);
}

int64_t
cli_opt_time(const char *opt, const char *s)
{
	struct isotime t;

	if (isotime_parse_arg(s, &t) != 0)
		badopt(opt, s);
	return t.sec;
}

int64_t
cli_opt_seconds(const char *opt, const char *s, int64_t min_s, int64_t max_s)
{
	int64_t min_ms = min_s > 0 ? (min_s - 1) * 1000 + 1 : 0;

	return (opt_duration(opt, s, min_ms, max_s * 1000, min_s * 1000) +
		   999) /
	    1000;
}

static int
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

int
cli_looks_secret(const char *s)
{
	static const char *const prefix[] = { "whsec_", "whsk_", "api_",
		"eyJ" };
	size_t i, run = 0, n = strlen(s);
	int upper = 0, lower = 0, digit = 0, b64 = 1;

	for (i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
		if (strncmp(s, prefix[i], strlen(prefix[i])) == 0)
			return 1;
	if (strstr(s, "://") != NULL ||
	    (strchr(s, ':') != NULL && strchr(s, '/') == NULL))
		return 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		run = is_hex(c) ? run + 1 : 0;
		if (run >= 32)
			return 1;
		upper |= c >= 'A' && c <= 'Z';
		lower |= c >= 'a' && c <= 'z';
		digit |= c >= '0' && c <= '9';
		if (!isalnum(c) && strchr("+/=_-", c) == NULL)
			b64 = 0;
	}
	/* A token: long base64 or base64url text, not a file name. */
	return n >= 32 && b64 && upper && lower && digit &&
	    (strchr(s, '/') == NULL || s[n - 1] == '=');
}

/*
 * A name without a directory that is plainly a file's (keys, slack-url,
 * api_key.txt): short, lowercase letters and . - _ only.  Anything else
 * without a / (hunter2, xoxb-12..., a passphrase) may be the secret.
 */
static int
plain_file_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 24 &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz.-_") == n;
}

const char *
cli_secret_name(const char *opt, const char *path)
{
	static char buf[160];

	if (!cli_looks_secret(path) &&
	    (strchr(path, '/') != NULL || plain_file_name(path)))
		return path;
	snprintf(buf, sizeof(buf),
	    "%s (its value looks like a secret, not the path of a file "
	    "holding one: not shown)",
	    opt);
	return buf;
}

int
cli_secret_open(const char *opt, const char *path)
{
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		e = errno;
		cli_warn("%s", cli_secret_name(opt, path));
		errno = e;
	}
	return fd;
}

/*
 * cli_drain_on_stop: the stop signal taken (0: none yet), and what the
 * bound's end says, composed before any signal can come.
 */
static volatile sig_atomic_t stop_sig;
static char drain_msg[160];
static size_t drain_msgn;

/* A first stop signal starts the bound; a second ends at once. */
static void
on_stop(int sig)
{
	if (stop_sig != 0) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	stop_sig = sig;
	/* A reader gone now is the stop, not an error: die quietly of it. */
	signal(SIGPIPE, SIG_DFL);
	alarm(CLI_DRAIN_S);
}

int
cli_stop_taken(void)
{
	return stop_sig;
}

/* The bound reached: say so, and end as the stop signal would have. */
static void
on_drain_alarm(int sig)
{
	(void)sig;
	if (write(STDERR_FILENO, drain_msg, drain_msgn) < 0) {
		/* Nothing more to do about stderr here. */
	}
	signal(stop_sig, SIG_DFL);
	raise(stop_sig);
}

/*
 * At exit after a drained stop: end by the signal, so that whoever waits
 * (a shell's $?, pipefail) sees the run was stopped, not complete.
 */
static void
reraise_stop(void)
{
	if (stop_sig != 0) {
		signal(stop_sig, SIG_DFL);
		raise(stop_sig);
	}
}

void
cli_drain_on_stop(int fd)
{
	static const int sigs[] = { SIGTERM, SIGINT };
	struct sigaction sa, old;
	struct stat st;
	size_t i;
	int n;

	if (fstat(fd, &st) != 0 ||
	    !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return;
	n = snprintf(drain_msg, sizeof(drain_msg),
	    "%s: stopped: the input did not end within %d s of the signal\n",
	    cli_prog, CLI_DRAIN_S);
	drain_msgn = n > 0 && (size_t)n < sizeof(drain_msg) ? (size_t)n : 0;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_drain_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_stop;
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		/* A signal the shell set to be ignored (cmd &) stays so. */
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
	atexit(reraise_stop);
}

void
cli_no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0L, 0L, 0L, 0L) != 0)
		cli_warn("warning: cannot make the process non-dumpable");
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		cli_warn("warning: cannot turn core dumps off");
}

int
cli_progress_tty(void)
{
	struct stat so, se;

	if (!isatty(STDERR_FILENO))
		return 0;
	return !(isatty(STDOUT_FILENO) && fstat(STDOUT_FILENO, &so) == 0 &&
	    fstat(STDERR_FILENO, &se) == 0 && so.st_rdev == se.st_rdev);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n != 0 ? n : 1);

	if (p == NULL)
		cli_fatalx("out of memory");
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n != 0 ? n : 1, size != 0 ? size : 1);

	if (p == NULL)
		cli_fatalx("out of memory");
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n != 0 ? n : 1)) == NULL)
		cli_fatalx("out of memory");
	return p;
}

char *
xstrdup(const char *s)
{
	return xmemdup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	return xmemdup(s, strnlen(s, n));
}

char *
xmemdup(const void *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int64_t
cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec;
}

uint64_t
cli_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int
cli_one_core(void)
{
	static int one = -1; /* not read yet */
	const char *e;

	if (one < 0)
		one = (e = getenv("CLOSEHOOK_CORES")) != NULL &&
		    strcmp(e, "1") == 0;
	return one;
}

int
cli_lock(const char *path, const char *what)
{
	char lpath[4096], pid[32];
	ssize_t n;
	int fd;

	if (snprintf(lpath, sizeof(lpath), "%s.lock", path) >=
	    (int)sizeof(lpath))
		cli_fatalx("%s: name too long", path);
	/* Not through a symlink: we truncate and write what it names. */
	if ((fd = open(
		 lpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0)
		cli_fatal("cannot lock %s %s: %s", what, path, lpath);
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno != EWOULDBLOCK)
			cli_fatal("%s", lpath);
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		cli_fatalx("%s: in use by another %s%s%s%s", path, cli_prog,
		    pid[0] != '\0' ? " (pid " : "", pid,
		    pid[0] != '\0' ? ")" : "");
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		cli_warn("%s", lpath);
	/* fd stays open, and locked, until exit. */
	return fd;
}
