/*
 * closehook-capture - make capture records of requests saved by other
 * tools, so that they can be piped into closehook-verify.
 *
 * Each request read becomes one capture line (DESIGN.md section 2) on
 * stdout: raw HTTP/1.1 requests as nc, a proxy or tcpflow saved them
 * (--http), the POST entries of HAR archives (--har), one body file with
 * headers typed on the command line (--body), or captures printed over
 * several lines, compacted (--json).  Header names are lower-cased, values
 * trimmed, repeated names joined; a body that is not UTF-8 is carried as
 * body_base64.  A bad request is reported with its file and line and the
 * good ones are still written.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "capture.h"
#include "cli.h"
#include "har.h"
#include "httpdump.h"
#include "isotime.h"
#include "json.h"
#include "out.h"

static const char synopsis[] =
    "closehook-capture --http [--received-at TIME] [--max-input BYTES]\n"
    "\t[FILE...]\n"
    "       closehook-capture --har [--max-input BYTES] [FILE...]\n"
    "       closehook-capture --body [-H HEADER]... [--received-at TIME]\n"
    "\t[--max-input BYTES] [FILE]\n"
    "       closehook-capture --json [--max-input BYTES] [FILE...]\n";

enum mode {
	M_NONE,
	M_HTTP,
	M_HAR,
	M_BODY,
	M_JSON
};

static size_t max_input = (size_t)64 << 20;
static char fixed_at[40]; /* --received-at, formatted; "" when not given */
static struct out out;
static struct capture_hdrs hdrs;
static unsigned long nbad; /* requests refused */
static unsigned long nresp; /* --http: responses skipped */
static int ioerr; /* an input could not be opened or read */
/* The capture line being written, reused. */
static char *linebuf;
static size_t linecap;

static void
usage(void)
{
	cli_usage(synopsis);
}

static void
help(void)
{
	printf("usage: %s", synopsis);
	printf("\n"
	       "Make capture records of saved requests, one line each, for "
	       "closehook-verify.\n"
	       "\n"
	       "  --http               raw HTTP/1.1 requests (nc -l, a proxy, "
	       "tcpflow)\n"
	       "  --har                the POST entries of HAR archives\n"
	       "  --body               one body file, headers given with -H\n"
	       "  --json               captures printed over several lines, "
	       "compacted\n"
	       "  -H, --header HEADER  with --body: a header, 'Name: value'; "
	       "repeatable\n"
	       "  --received-at TIME   received_at of --http and --body "
	       "captures: ISO 8601\n"
	       "                       or Unix seconds (default: the file's "
	       "time, or now)\n"
	       "  --max-input BYTES    largest file, or request with --http "
	       "(default 64M)\n"
	       "  -h, --help           show this help\n"
	       "      --version        show the version\n");
	exit(cli_close_out());
}

/* UTC text with six fraction digits, as closehook-receive writes it. */
static void
format_time(int64_t sec, long nsec, char *buf)
{
	struct isotime t;
	char frac[24];

	snprintf(frac, sizeof(frac), "%06ld", (nsec / 1000) % 1000000);
	t.sec = sec;
	t.nsec = nsec;
	t.frac = frac;
	t.fracn = 6;
	isotime_format_utc(&t, buf);
}

static void
now_text(char *buf)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	format_time(ts.tv_sec, ts.tv_nsec, buf);
}

/*
 * --received-at: Unix seconds (a fraction allowed) or an ISO 8601
 * date-time, UTC when it has no offset.
 */
static int
parse_time(const char *s, char *buf)
{
	struct isotime t;

	if (isotime_parse_arg(s, &t) != 0)
		return -1;
	format_time(t.sec, t.nsec, buf);
	return 0;
}

/* -H 'Name: value': the name a token, the value trimmed when written. */
static void
add_header(const char *s)
{
	const char *colon = strchr(s, ':'), *p, *v;
	size_t i;

	for (p = s; p < colon; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') ||
			strchr("!#$%&'*+-.^_`|~", *p) != NULL))
			break;
	if (colon == NULL || colon == s || p != colon) {
		cli_warnx(
		    "invalid header '%.32s%s' for -H (want 'Name: value')", s,
		    strlen(s) > 32 ? "..." : "");
		usage();
	}
	/* As --http refuses them: no request can carry one. */
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if ((i = httpdump_value_ctl(v, strlen(v))) < strlen(v))
		cli_fatalx("-H %.*s: a control character (0x%02x) at character "
			   "%zu of its value, which HTTP cannot carry (a copy "
			   "with CRLF line ends?)",
		    (int)(colon - s > 64 ? 64 : colon - s), s,
		    (unsigned)(unsigned char)v[i], i + 1);
	capture_hdrs_add(
	    &hdrs, s, (size_t)(colon - s), colon + 1, strlen(colon + 1));
}

/* Write one capture line; hs is joined here. */
static void
emit(const struct capture_meta *m, struct capture_hdrs *hs, const char *body,
    size_t bodyn)
{
	size_t n;

	capture_hdrs_join(hs);
	n = capture_write_bound(m, hs->h, hs->n, body, bodyn);
	if (n > linecap) {
		free(linebuf);
		linecap = n + 4096;
		linebuf = xmalloc(linecap);
	}
	n = capture_write(linebuf, m, hs->h, hs->n, body, bodyn);
	out_write(&out, linebuf, n);
}

/* Open FILE ("-": stdin); sets *name for messages.  -1 when it cannot. */
static int
open_input(const char *path, const char **name)
{
	int fd;

	if (strcmp(path, "-") == 0) {
		*name = "stdin";
		return STDIN_FILENO;
	}
	*name = path;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		cli_warn("%s", path);
		ioerr = 1;
	}
	return fd;
}

static void
close_input(int fd)
{
	if (fd != STDIN_FILENO)
		close(fd);
}

/* 1 when a read of fd would not block (a regular file always). */
static int
ready(int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };

	return poll(&pfd, 1, 0) == 1;
}

/*
 * Read fd to its end into *buf, at most max_input bytes.  Returns 0; 1 when
 * it is larger (reported); -1 on a read error (reported).
 */
static int
read_all(int fd, const char *name, char **buf, size_t *n)
{
	size_t cap = 64 * 1024, have = 0;
	ssize_t r;
	char *b;

	b = xmalloc(cap);
	for (;;) {
		if (have == cap) {
			if (cap > max_input)
				break;
			cap *= 2;
			b = xrealloc(b, cap);
		}
		if (out_pending(&out) > 0 && !ready(fd))
			out_flush(&out);
		r = read(fd, b + have, cap - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cli_warn("%s", name);
			ioerr = 1;
			free(b);
			return -1;
		}
		if (r == 0)
			break;
		have += (size_t)r;
	}
	if (have > max_input) {
		cli_warnx(
		    "%s: larger than %zu bytes (--max-input)", name, max_input);
		nbad++;
		free(b);
		return 1;
	}
	*buf = b;
	*n = have;
	return 0;
}

/*
 * A request httpdump could not frame (r: as far as it was read): reported,
 * and the dump read on from the next message (httpdump_resync).  Responses
 * (a dump of both directions: Wireshark's "Follow TCP Stream", mitmproxy's
 * raw export) are no error, even one that cannot be framed: counted, and
 * named once at the end.
 */
static void
http_failed(
    const struct httpdump *d, const struct httpdump_req *r, const char *name)
{
	if (r->status != 0) {
		nresp++;
		return;
	}
	cli_recwarnx(
	    name, d->errline, "%s: skipped to the next request", d->err);
	nbad++;
}

/*
 * --http: requests one after another.  The buffer keeps the incomplete
 * request and grows when it is more than half full; requests are parsed
 * when the buffer is full, the input ends, or the next read would block,
 * so a file is parsed in large blocks and a request arriving on a pipe
 * (nc -l | closehook-capture --http) is written at once.
 */
static void
do_http(const char *path)
{
	static struct httpdump d;
	static char method[HTTPDUMP_MAX_HEAD + 1];
	struct httpdump_req r;
	enum httpdump_status st;
	struct capture_meta m = { NULL, NULL, method, NULL, 0 };
	size_t cap = 64 * 1024, have = 0, off = 0, used, i;
	char when[40], *buf;
	const char *name;
	struct stat sb;
	int fd, eof = 0, need = 1, regular = 0, skipping = 0;
	unsigned long nreq = 0, nother = 0, nbad0 = nbad, nresp0 = nresp;
	ssize_t k;

	if ((fd = open_input(path, &name)) < 0)
		return;
	/*
	 * nc and tcpflow write a request as it arrives, so a regular file's
	 * modification time is when its last request was received.
	 */
	if (fixed_at[0] == '\0' && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		format_time(sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec, when);
		regular = 1;
	}
	httpdump_init(&d, max_input);
	buf = xmalloc(cap);
	for (;;) {
		while (!eof && have < cap) {
			if (!ready(fd)) {
				if (!need)
					break;
				out_flush(&out);
			}
			k = read(fd, buf + have, cap - have);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				cli_warn("%s", name);
				ioerr = 1;
				goto done;
			}
			if (k == 0)
				eof = 1;
			have += (size_t)k;
			need = 0;
		}
		for (;;) {
			if (skipping) {
				st = httpdump_resync(
				    &d, buf + off, have - off, eof, &used);
				off += used;
				if (st != HTTPDUMP_REQUEST)
					break;
				skipping = 0;
			}
			st = httpdump_next(
			    &d, buf + off, have - off, eof, &r, &used);
			off += used;
			if (st == HTTPDUMP_ERROR) {
				http_failed(&d, &r, name);
				skipping = 1;
				continue;
			}
			if (st == HTTPDUMP_RESPONSE) {
				nresp++;
				continue;
			}
			if (st != HTTPDUMP_REQUEST)
				break;
			/* Close POSTs; a probe's GET is no delivery (as --har). */
			if (r.methodn != 4 ||
			    memcmp(r.method, "POST", 4) != 0) {
				nother++;
				continue;
			}
			nreq++;
			if (fixed_at[0] != '\0')
				m.received_at = fixed_at;
			else if (regular)
				m.received_at = when;
			else {
				now_text(when);
				m.received_at = when;
			}
			memcpy(method, r.method, r.methodn);
			method[r.methodn] = '\0';
			m.path = r.target;
			m.pathn = r.targetn;
			capture_hdrs_reset(&hdrs);
			for (i = 0; i < r.nf; i++)
				capture_hdrs_add(&hdrs, r.f[i].name,
				    r.f[i].namen, r.f[i].val, r.f[i].valn);
			emit(&m, &hdrs, r.body, r.bodyn);
		}
		/* A reader gone from stdout ends the run, not only the file. */
		if (st == HTTPDUMP_END || out.err != 0)
			break;
		memmove(buf, buf + off, have - off);
		have -= off;
		off = 0;
		need = 1;
		if (have > cap / 2) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
	}
	if (nother > 0)
		cli_warnx("%s: skipped %lu %s not POST", name, nother,
		    nother == 1 ? "request that is" : "requests that are");
	/* A file with nothing at all in it, not even a bad request. */
	if (fd != STDIN_FILENO && nreq == 0 && nother == 0 && nbad == nbad0 &&
	    nresp == nresp0 && out.err == 0)
		cli_warnx("%s: no HTTP request found in it", name);
	/*
	 * Every request of a regular file carries its modification time,
	 * which is the last one's arrival: an earlier request's signature
	 * can look stale to closehook-verify.
	 */
	if (regular && nreq > 1)
		cli_warnx("%s: %lu requests, each stamped with the file's "
			  "modification time (the last one's arrival); give "
			  "--received-at, or verify --max-age 0, if an "
			  "earlier one's signature reads as stale",
		    name, nreq);
done:
	httpdump_free(&d);
	free(buf);
	close_input(fd);
}

/* --har: one capture per POST entry. */
static void
do_har(const char *path)
{
	static struct har h;
	struct har_entry e;
	struct capture_meta m = { NULL, NULL, "POST", NULL, 0 };
	const char *name;
	char *buf;
	size_t n, i;
	int fd, rc;

	if ((fd = open_input(path, &name)) < 0)
		return;
	rc = read_all(fd, name, &buf, &n);
	close_input(fd);
	if (rc != 0)
		return;
	if (har_open(&h, buf, n) != 0) {
		cli_recwarnx(name, h.errline, "%s", h.err);
		nbad++;
		goto done;
	}
	while ((rc = har_next(&h, &e)) != 0) {
		if (rc < 0) {
			cli_recwarnx(name, h.errline, "%s", h.err);
			nbad++;
			continue;
		}
		m.received_at = e.received_at;
		m.path = e.path;
		m.pathn = e.pathn;
		capture_hdrs_reset(&hdrs);
		for (i = 0; i < e.nh; i++)
			capture_hdrs_add(&hdrs, e.h[i].name, e.h[i].namen,
			    e.h[i].val, e.h[i].valn);
		emit(&m, &hdrs, e.body, e.bodyn);
	}
	if (h.nskipped > 0)
		cli_warnx("%s: skipped %lu %s not POST", name, h.nskipped,
		    h.nskipped == 1 ? "entry that is" : "entries that are");
done:
	har_free(&h);
	free(buf);
}

/* --body: one capture of FILE's bytes and the -H headers. */
static void
do_body(const char *path)
{
	struct capture_meta m = { NULL, NULL, "POST", "/", 1 };
	const char *name;
	char when[40], *buf;
	size_t n;
	int fd, rc;

	if ((fd = open_input(path, &name)) < 0)
		return;
	rc = read_all(fd, name, &buf, &n);
	close_input(fd);
	if (rc != 0)
		return;
	if (fixed_at[0] != '\0')
		m.received_at = fixed_at;
	else {
		now_text(when);
		m.received_at = when;
	}
	emit(&m, &hdrs, buf, n);
	free(buf);
}

static unsigned long
line_of(const char *start, const char *p)
{
	unsigned long line = 1;

	while ((start = memchr(start, '\n', (size_t)(p - start))) != NULL) {
		line++;
		start++;
	}
	return line;
}

/*
 * --json: JSON values one after another, each a capture (or a reject line
 * holding one): written compact, members and strings as they are.  A value that is no capture is
 * reported and skipped; text that is not JSON ends the file, since where
 * the next value begins is unknown.
 */
static void
do_json(const char *path)
{
	struct json_span v, cv;
	struct json_error err;
	struct capture c;
	const char *name, *why, *bad, *p;
	char *buf, *dec = NULL;
	size_t n, used, k;
	int fd, rc;

	if ((fd = open_input(path, &name)) < 0)
		return;
	rc = read_all(fd, name, &buf, &n);
	close_input(fd);
	if (rc != 0)
		return;
	for (p = buf;; p += used) {
		while (p < buf + n &&
		    (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
			p++;
		if (p == buf + n)
			break;
		if (json_parse_next(
			p, (size_t)(buf + n - p), &v, &used, &err) != 0) {
			cli_recwarnx(name, line_of(buf, p + err.off),
			    "not valid JSON: %s", err.msg);
			nbad++;
			break;
		}
		/* A reject line (closehook-verify --rejects, closehook-receive
		 * --rejects): the capture it holds. */
		if (v.type == JSON_OBJECT &&
		    json_object_get(v, "capture", 7, &cv) &&
		    cv.type == JSON_OBJECT)
			v = cv;
		if (v.n + 1 > linecap) {
			free(linebuf);
			linecap = v.n + 4096;
			linebuf = xmalloc(linecap);
		}
		dec = xrealloc(dec, v.n + 1);
		k = json_compact(v, linebuf);
		if (capture_parse(linebuf, k, &c, dec, &why) != 0)
			bad = why;
		else if (capture_body(&c, dec) < 0)
			bad = "body_base64 is not base64";
		else
			bad = NULL;
		if (bad != NULL) {
			cli_recwarnx(
			    name, line_of(buf, v.p), "not a capture: %s", bad);
			nbad++;
			continue;
		}
		linebuf[k++] = '\n';
		out_write(&out, linebuf, k);
	}
	free(dec);
	free(buf);
}

int
main(int argc, char *argv[])
{
	enum {
		O_HTTP = 256,
		O_HAR,
		O_BODY,
		O_JSON,
		O_AT,
		O_MAXIN,
		O_VERSION
	};
	static const struct option longopts[] = { { "http", no_argument, NULL,
						      O_HTTP },
		{ "har", no_argument, NULL, O_HAR },
		{ "body", no_argument, NULL, O_BODY },
		{ "json", no_argument, NULL, O_JSON },
		{ "header", required_argument, NULL, 'H' },
		{ "received-at", required_argument, NULL, O_AT },
		{ "max-input", required_argument, NULL, O_MAXIN },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 } };
	enum mode mode = M_NONE, m;
	int ch, i, nh = 0, rc = CLI_EXIT_OK;

	cli_init("closehook-capture");
	cli_std_fds(CLI_STDOUT_DATA);
	/* getopt's own messages name the program as STYLE.md wants. */
	argv[0] = (char *)cli_prog;
	if (sodium_init() < 0)
		cli_fatalx("cannot initialise libsodium");
	capture_hdrs_init(&hdrs);
	while ((ch = getopt_long(argc, argv, "hH:", longopts, NULL)) != -1) {
		m = M_NONE;
		switch (ch) {
		case O_HTTP:
			m = M_HTTP;
			break;
		case O_HAR:
			m = M_HAR;
			break;
		case O_BODY:
			m = M_BODY;
			break;
		case O_JSON:
			m = M_JSON;
			break;
		case 'H':
			add_header(optarg);
			nh++;
			break;
		case O_AT:
			if (parse_time(optarg, fixed_at) != 0) {
				cli_warnx("invalid value '%.32s%s' for "
					  "--received-at",
				    optarg, strlen(optarg) > 32 ? "..." : "");
				exit(CLI_EXIT_FATAL);
			}
			break;
		case O_MAXIN:
			max_input = cli_opt_size(
			    "max-input", optarg, 1024, (uint64_t)1 << 32);
			break;
		case 'h':
			help();
			break;
		case O_VERSION:
			cli_version();
			break;
		default:
			usage();
		}
		if (m != M_NONE && mode != M_NONE && m != mode) {
			cli_warnx("--http, --har, --body and --json exclude "
				  "each other");
			usage();
		}
		if (m != M_NONE)
			mode = m;
	}
	argc -= optind;
	argv += optind;
	if (mode == M_NONE) {
		cli_warnx("say what to read: --http, --har, --body or --json");
		usage();
	}
	if (nh > 0 && mode != M_BODY) {
		cli_warnx("-H goes with --body");
		usage();
	}
	if (fixed_at[0] != '\0' && mode != M_HTTP && mode != M_BODY) {
		cli_warnx("--received-at goes with --http or --body");
		usage();
	}
	if (mode == M_BODY && argc > 1) {
		cli_warnx("--body reads one FILE");
		usage();
	}
	out_init(&out, STDOUT_FILENO, "stdout");

	for (i = 0; i < (argc > 0 ? argc : 1) && out.err == 0; i++) {
		const char *path = argc > 0 ? argv[i] : "-";

		switch (mode) {
		case M_HTTP:
			do_http(path);
			break;
		case M_HAR:
			do_har(path);
			break;
		case M_BODY:
			do_body(path);
			break;
		case M_JSON:
			do_json(path);
			break;
		case M_NONE:
			break;
		}
	}
	if (nresp > 0)
		cli_warnx("%lu HTTP responses skipped (a dump of both "
			  "directions)",
		    nresp);
	if (nbad > 0)
		rc = CLI_EXIT_REJECTS;
	if (ioerr)
		rc = CLI_EXIT_FATAL;
	rc = out_close_stdout(&out, rc);
	capture_hdrs_free(&hdrs);
	free(linebuf);
	return rc;
}
