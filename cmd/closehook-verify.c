/*
 * closehook-verify - check Close webhook signatures.
 *
 * For each capture read (DESIGN.md section 2), take the close-sig-timestamp
 * and close-sig-hash headers, check the timestamp against the replay window,
 * and compare HMAC-SHA256(key, timestamp || raw body) in constant time with
 * every key that applies to the subscription the body names.  A verified
 * body is written unchanged as one event record (its literal CR and LF bytes,
 * which valid JSON holds only as whitespace, become spaces).  Anything else
 * is a reject: one stderr line, one --rejects line, and the stream goes on.
 *
 * Raw mode (--timestamp and --signature) checks one body read as raw bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "capture.h"
#include "cli.h"
#include "closesig.h"
#include "hmac.h"
#include "isotime.h"
#include "json.h"
#include "keys.h"
#include "line.h"
#include "mark.h"
#include "metrics.h"
#include "out.h"

static const char synopsis[] =
    "closehook-verify [-q] [--secret-file FILE]... [--max-age SECONDS] "
    "[--now UNIX]\n"
    "\t[--rejects FILE] [--metrics FILE] [--max-line BYTES] [--fail-fast]\n"
    "\t[FILE...]\n"
    "       closehook-verify --timestamp TS --signature HEX "
    "[--secret-file FILE]...\n"
    "\t[--max-age SECONDS] [--now UNIX] [--max-line BYTES] [-q] [FILE]\n";

static struct keyring keys;
static int64_t max_age = 300;
static int64_t now;
static int have_now;
static int quiet;
static int fail_fast;
static struct out out, rej;
static int have_rej;
static unsigned long nrejected;
/* For --metrics: lines read, bodies written, rejects by reason. */
static unsigned long nread, nverified, nreason[CLOSESIG_COUNT];
static struct metrics met;

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
	    "Check Close webhook signatures: read captures, write each "
	    "verified body.\n"
	    "\n"
	    "  --secret-file FILE   key file: HEXKEY or SUBSCRIPTION_ID HEXKEY "
	    "per line\n"
	    "  --max-age SECONDS    replay window (default 300; 0: off), "
	    "around each\n"
	    "                       capture's received_at, or now when it has "
	    "none\n"
	    "  --now UNIX           check every timestamp against this time "
	    "instead\n"
	    "  --rejects FILE       append each reject as an NDJSON line\n"
	    "  --metrics FILE       keep Prometheus metrics in FILE\n"
	    "  --max-line BYTES     longest capture line (default 16M)\n"
	    "  --fail-fast          stop at the first reject\n"
	    "  --timestamp TS       raw mode: the close-sig-timestamp header\n"
	    "  --signature HEX      raw mode: the close-sig-hash header\n"
	    "  -q, --quiet          no stderr line per reject\n"
	    "  -h, --help           show this help\n"
	    "      --version        show the version\n"
	    "\n"
	    "Keys also come from $CLOSEHOOK_SECRET and "
	    "$CLOSEHOOK_SECRET_FILE.\n");
	exit(cli_close_out());
}

/* Check one message against the key ring and the window around ref. */
static enum closesig_reason
check(int64_t ref, const char *ts, size_t tsn, const char *sig, size_t sign,
    const char *body, size_t bodyn)
{
	return closesig_check(
	    &keys, max_age, ref, ts, tsn, sig, sign, body, bodyn);
}

/*
 * The time a capture's timestamp is checked against: when it was received
 * (its received_at), so a pipeline catching up on a spool after downtime
 * judges each capture by when it arrived, not by when it is read.  --now
 * overrides that; a capture without a readable received_at uses the clock.
 */
static int64_t
reference_time(const struct capture *c)
{
	struct isotime t;
	char buf[64];
	size_t n;

	if (have_now || c->received_at.type != JSON_STRING ||
	    c->received_at.n > sizeof(buf))
		return now;
	n = json_str_unescape(c->received_at, buf);
	if (isotime_parse(buf, n, &t) != 0)
		return now;
	return t.sec;
}

/* Write a verified body as one line: CR and LF become spaces. */
static void
emit(char *body, size_t n, int crlf)
{
	char *p = body, *end = body + n;

	/* crlf: the body may hold them (the decoder says when it does). */
	while (crlf && p < end) {
		size_t left = (size_t)(end - p);
		char *cr = memchr(p, '\r', left), *lf = memchr(p, '\n', left);
		char *q = cr == NULL ? lf : lf == NULL ? cr : cr < lf ? cr : lf;

		if (q == NULL)
			break;
		*q = ' ';
		p = q + 1;
	}
	out_write(&out, body, n);
	out_putc(&out, '\n');
	nverified++;
}

static void
reject(const char *file, unsigned long lineno, enum closesig_reason r,
    const char *detail, const char *line, size_t n, int line_is_json)
{
	char num[32];
	static char *esc;
	static size_t escn;
	size_t fl = strlen(file);
	const char *rs;

	nrejected++;
	nreason[r]++;
	if (!quiet) {
		if (detail != NULL)
			cli_recwarnx(file, lineno, "rejected: %s (%s)",
			    closesig_reason_name(r), detail);
		else
			cli_recwarnx(file, lineno, "rejected: %s",
			    closesig_reason_name(r));
	}
	if (!have_rej)
		return;
	snprintf(num, sizeof(num), "%lu", lineno);
	out_write(&rej, "{\"line\":", 8);
	out_write(&rej, num, strlen(num));
	out_write(&rej, ",\"file\":\"", 9);
	if (escn < 6 * fl + 1) {
		escn = 6 * fl + 1;
		if ((esc = realloc(esc, escn)) == NULL)
			cli_fatal("out of memory");
	}
	out_write(&rej, esc, json_escape(file, fl, esc));
	out_write(&rej, "\",\"reason\":\"", 12);
	rs = closesig_reason_name(r);
	out_write(&rej, rs, strlen(rs));
	out_write(&rej, "\",\"capture\":", 12);
	if (line_is_json)
		out_write(&rej, line, n);
	else
		out_write(&rej, "null", 4);
	out_write(&rej, "}\n", 2);
	/*
	 * Rejects are rare: make each one durable in the file at once.  A
	 * reject that cannot be kept leaves its line unhandled: stop, so that
	 * nothing counts it as done.
	 */
	if (out_commit(&rej, 1) != 0)
		cli_fatalx("%s: %s; the reject of %s:%lu is not kept", rej.name,
		    strerror(rej.err), file, lineno);
}

/* Verify one capture line; the line buffer is ours to modify. */
static void
verify_line(const char *file, struct line *l, char **bodybuf, size_t *bodycap)
{
	struct capture c;
	struct json_span ts, sig;
	char tsbuf[64], sigbuf[256];
	size_t tsn, sign;
	const char *why;
	enum closesig_reason r;
	long bn;

	/* The body is decoded while the line is parsed: room for it all. */
	if (*bodycap < l->n) {
		free(*bodybuf);
		*bodycap = l->n + 4096;
		if ((*bodybuf = malloc(*bodycap)) == NULL)
			cli_fatal("out of memory");
	}
	if (capture_parse(l->p, l->n, &c, *bodybuf, &why) != 0) {
		reject(file, l->lineno, CLOSESIG_MALFORMED, why, l->p, l->n,
		    c.root.type != JSON_NONE);
		return;
	}
	bn = capture_body(&c, *bodybuf);
	if (!capture_header(&c, "close-sig-hash", &sig)) {
		reject(
		    file, l->lineno, CLOSESIG_MISSING_SIG, NULL, l->p, l->n, 1);
		return;
	}
	if (!capture_header(&c, "close-sig-timestamp", &ts)) {
		reject(
		    file, l->lineno, CLOSESIG_MISSING_TS, NULL, l->p, l->n, 1);
		return;
	}
	if (bn < 0) {
		reject(file, l->lineno, CLOSESIG_MALFORMED,
		    "body_base64 is not base64", l->p, l->n, 1);
		return;
	}
	/*
	 * Header values are validated JSON strings: compare their decoded
	 * contents.  Longer values than any valid one are bad already.
	 */
	if (ts.n > sizeof(tsbuf)) {
		reject(file, l->lineno, CLOSESIG_BAD_TS, NULL, l->p, l->n, 1);
		return;
	}
	if (sig.n > sizeof(sigbuf)) {
		reject(file, l->lineno, CLOSESIG_BAD_SIG, NULL, l->p, l->n, 1);
		return;
	}
	tsn = json_str_unescape(ts, tsbuf);
	sign = json_str_unescape(sig, sigbuf);
	r = check(
	    reference_time(&c), tsbuf, tsn, sigbuf, sign, *bodybuf, (size_t)bn);
	if (r != CLOSESIG_OK) {
		reject(file, l->lineno, r, NULL, l->p, l->n, 1);
		return;
	}
	emit(*bodybuf, (size_t)bn, c.body_base64 || c.body_crlf);
}

/* Input may block: keep the metrics file up to date meanwhile. */
static void
idle(void *fd)
{
	metrics_idle(&met, *(int *)fd);
}

static void
setup_metrics(const char *path)
{
	static const struct metrics_def defs[] = {
		{ "closehook_verify_records_total", METRICS_COUNTER,
		    METRICS_ULONG, &nread, "Capture lines read.", NULL, NULL },
		{ "closehook_verify_verified_total", METRICS_COUNTER,
		    METRICS_ULONG, &nverified,
		    "Verified bodies written as event records.", NULL, NULL },
	};
	struct metrics_def d = { "closehook_verify_rejected_total",
		METRICS_COUNTER, METRICS_ULONG, NULL,
		"Captures rejected, by reason.", "reason", NULL };
	int k;

	metrics_init(&met, path);
	metrics_add(&met, defs, sizeof(defs) / sizeof(defs[0]));
	for (k = 0; k < CLOSESIG_COUNT; k++) {
		d.p = &nreason[k];
		d.value = closesig_reason_name(k);
		metrics_add(&met, &d, 1);
	}
	metrics_add_start_time(&met, "closehook_verify_start_time_seconds");
	metrics_start(&met);
}

/* Returns 0, or -1 after a read error (already reported). */
static int
verify_stream(const char *path, size_t max_line)
{
	struct lr r;
	struct line l;
	enum lr_status st;
	char *body = NULL;
	size_t bodycap = 0;
	int rc = 0;

	if (lr_open(&r, path, max_line, &out) != 0) {
		cli_warn("%s", path);
		return -1;
	}
	lr_on_idle(&r, idle, &r.fd);
	while ((st = lr_next(&r, &l)) != LR_EOF) {
		if (st == LR_ERROR) {
			cli_warn("%s: read error", r.name);
			rc = -1;
			break;
		}
		if (st == LR_LINE && mark_is(l.p, l.n)) {
			/* Everything before it is written or rejected. */
			struct out *side = have_rej ? &rej : NULL;

			if (mark_pass(&out, l.p, l.n, &side, 1) != 0) {
				if (side != NULL && rej.err != 0)
					cli_fatalx("%s: %s", rej.name,
					    strerror(rej.err));
				break;
			}
			continue;
		}
		nread++;
		metrics_tick(&met);
		if (st == LR_TOOLONG)
			reject(r.name, l.lineno, CLOSESIG_TOO_LONG, NULL, NULL,
			    0, 0);
		else
			verify_line(r.name, &l, &body, &bodycap);
		if (fail_fast && nrejected > 0)
			break;
		if (out.err != 0)
			break;
	}
	free(body);
	lr_close(&r);
	return rc;
}

/* Raw mode: one body from FILE or stdin, bounded by max_body. */
static int
verify_raw(const char *path, const char *ts, const char *sig, size_t max_body)
{
	const char *name =
	    path == NULL || strcmp(path, "-") == 0 ? "stdin" : path;
	size_t n = 0, cap = 64 * 1024;
	char *buf;
	ssize_t got;
	enum closesig_reason r;
	int fd;

	if (path == NULL || strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		cli_fatal("%s", path);
	if ((buf = malloc(cap)) == NULL)
		cli_fatal("out of memory");
	for (;;) {
		if (n == cap) {
			if (cap > max_body)
				break;
			cap *= 2;
			if ((buf = realloc(buf, cap)) == NULL)
				cli_fatal("out of memory");
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			cli_fatal("%s", name);
		if (got == 0)
			break;
		n += (size_t)got;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	if (n > max_body) {
		nrejected++;
		if (!quiet)
			cli_warnx("%s: rejected: %s", name,
			    closesig_reason_name(CLOSESIG_TOO_LONG));
		free(buf);
		return CLI_EXIT_REJECTS;
	}
	r = check(now, ts, strlen(ts), sig, strlen(sig), buf, n);
	if (r != CLOSESIG_OK) {
		nrejected++;
		if (!quiet)
			cli_warnx(
			    "%s: rejected: %s", name, closesig_reason_name(r));
		free(buf);
		return CLI_EXIT_REJECTS;
	}
	emit(buf, n, 1);
	free(buf);
	return CLI_EXIT_OK;
}

int
main(int argc, char *argv[])
{
	enum {
		O_SECRET = 256,
		O_MAXAGE,
		O_NOW,
		O_REJECTS,
		O_METRICS,
		O_MAXLINE,
		O_FAILFAST,
		O_TS,
		O_SIG,
		O_VERSION
	};
	static const struct option longopts[] = {
		{ "secret-file", required_argument, NULL, O_SECRET },
		{ "max-age", required_argument, NULL, O_MAXAGE },
		{ "now", required_argument, NULL, O_NOW },
		{ "rejects", required_argument, NULL, O_REJECTS },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "max-line", required_argument, NULL, O_MAXLINE },
		{ "fail-fast", no_argument, NULL, O_FAILFAST },
		{ "timestamp", required_argument, NULL, O_TS },
		{ "signature", required_argument, NULL, O_SIG },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	const char *rejpath = NULL, *raw_ts = NULL, *raw_sig = NULL;
	const char *metpath = NULL;
	size_t max_line = LR_DEFAULT_MAX_LINE;
	int ch, i, rc = CLI_EXIT_OK, ioerr = 0;

	cli_init("closehook-verify");
	cli_std_fds(CLI_STDOUT_DATA);
	cli_no_core_dumps();
	/* getopt's own messages name the program as STYLE.md wants. */
	argv[0] = (char *)cli_prog;
	keyring_init(&keys);
	if (sodium_init() < 0)
		cli_fatalx("cannot initialise libsodium");
	while ((ch = getopt_long(argc, argv, "hq", longopts, NULL)) != -1) {
		switch (ch) {
		case O_SECRET:
			if (keyring_load_file(&keys, optarg) != 0)
				exit(CLI_EXIT_FATAL);
			break;
		case O_MAXAGE:
			max_age = cli_opt_int(
			    "max-age", optarg, 0, 100LL * 365 * 86400);
			break;
		case O_NOW:
			now = cli_opt_int("now", optarg, 0, INT64_MAX / 4);
			have_now = 1;
			break;
		case O_REJECTS:
			rejpath = optarg;
			break;
		case O_METRICS:
			metpath = optarg;
			break;
		case O_MAXLINE:
			max_line = cli_opt_size(
			    "max-line", optarg, 1, (uint64_t)1 << 32);
			break;
		case O_FAILFAST:
			fail_fast = 1;
			break;
		case O_TS:
			raw_ts = optarg;
			break;
		case O_SIG:
			raw_sig = optarg;
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
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if ((raw_ts == NULL) != (raw_sig == NULL)) {
		cli_warnx("--timestamp and --signature go together");
		usage();
	}
	if (raw_ts != NULL &&
	    (argc > 1 || rejpath != NULL || metpath != NULL)) {
		cli_warnx("raw mode takes at most one FILE, no --rejects and "
			  "no --metrics");
		usage();
	}
	if (keyring_load_env(&keys) != 0)
		exit(CLI_EXIT_FATAL);
	if (keys.n == 0)
		cli_fatalx("no keys: give --secret-file, $CLOSEHOOK_SECRET or "
			   "$CLOSEHOOK_SECRET_FILE");
	if (!have_now)
		now = cli_now();
	out_init(&out, STDOUT_FILENO, "stdout");

	if (raw_ts != NULL) {
		rc = verify_raw(
		    argc > 0 ? argv[0] : NULL, raw_ts, raw_sig, max_line);
		goto done;
	}
	if (rejpath != NULL) {
		if (out_append_open(&rej, rejpath, 0600) != 0)
			cli_fatal("%s", rejpath);
		have_rej = 1;
	}
	setup_metrics(metpath);
	if (argc == 0)
		ioerr |= verify_stream(NULL, max_line);
	for (i = 0; i < argc && out.err == 0; i++) {
		ioerr |= verify_stream(argv[i], max_line);
		if (fail_fast && nrejected > 0)
			break;
	}
	if (nrejected > 0)
		rc = CLI_EXIT_REJECTS;
	if (ioerr)
		rc = CLI_EXIT_FATAL;
	if (have_rej && out_close(&rej) != 0) {
		cli_warn("%s", rejpath);
		rc = CLI_EXIT_FATAL;
	}
	metrics_close(&met);
done:
	if (out_close(&out) != 0) {
		cli_warn("stdout");
		rc = CLI_EXIT_FATAL;
	}
	keyring_free(&keys);
	return rc;
}
