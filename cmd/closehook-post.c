/*
 * closehook-post - deliver records over HTTP.
 *
 * Each input line becomes one request (or joins a batch): its body is the
 * line as it is, or what a jq program (--body) makes of it.  Transfers run
 * in one libcurl multi loop, --parallel at a time; failures that may pass
 * (connection errors, timeouts, 429, 5xx, ...) are retried with jittered
 * exponential back-off, honouring Retry-After and RateLimit.  A record that
 * was delivered (2xx) is written to stdout unchanged, in completion order;
 * one that fails for good is appended to the dead-letter file as its
 * original line, fsync'd before it is counted, so the file replays through
 * closehook-post itself.  SIGINT and SIGTERM stop the reading, let the
 * transfers in flight finish for --drain-timeout and dead-letter the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "atomicfile.h"
#include "backoff.h"
#include "cli.h"
#include "http.h"
#include "job.h"
#include "jqr.h"
#include "json.h"
#include "lr.h"
#include "mark.h"
#include "metrics.h"
#include "out.h"
#include "ratelimit.h"
#include "readfile.h"
#include "signer.h"

static const char synopsis[] =
    "closehook-post [-q] [-X METHOD] [-H HEADER]... [--header-file FILE]\n"
    "\t[--bearer-file FILE] [--basic-file FILE] [--content-type TYPE]\n"
    "\t[--body EXPR] [--url-expr EXPR] [--allow-origin ORIGIN]...\n"
    "\t[--idempotency-key EXPR] [--batch N] [--batch-bytes BYTES]\n"
    "\t[--batch-wait DURATION] [--batch-format FORMAT] [--rate RATE]\n"
    "\t[--order-by EXPR]"
    " [--sign SCHEME] [--sign-key-file FILE] [--parallel N]\n"
    "\t[--cacert FILE] [--insecure] [--retry-on LIST] [--retry-base DURATION]\n"
    "\t[--retry-max-wait DURATION] [--retries N] [--retry-max-time DURATION]\n"
    "\t[--connect-timeout DURATION] [--timeout DURATION]\n"
    "\t[--max-response BYTES] [--dead-letter FILE] [--report FILE]\n"
    "\t[--metrics FILE] [--drain-timeout DURATION] [--max-line BYTES]\n"
    "\t(URL | --url URL | --url-file FILE) [FILE...]\n";

/* Options. */
static const char *url, *url_path;
/*
 * The origins a --url-expr URL may have: the URL's (origin0), and those of
 * --allow-origin.  Credentials and signatures go nowhere else.
 */
static char origin0[HTTP_ORIGIN_MAX];
static char (*origins)[HTTP_ORIGIN_MAX];
static size_t norigins;
static const char *method = "POST";
static struct curl_slist *hdrs, *hdrs_expect; /* and "Expect:" */
static size_t expect_max; /* the longest body sent with hdrs */
static struct jqr *jq_body, *jq_url, *jq_idem, *jq_order;
static size_t batch_n = 0, batch_bytes = 0;
static int64_t batch_wait_ms = 200;
static int batch_ndjson;
static struct backoff_rate bucket;
static struct signer signer;
static size_t parallel = 16;
static struct backoff_retry retry;
static int64_t retry_base_ms = 500, retry_max_wait_ms = 60000;
/* retries -1: as many as --retry-max-time allows. */
static int64_t retries = -1, retry_max_time_ms = 600000;
/* No request starts before this (a 429's wait, or a 503's Retry-After). */
static uint64_t paused_until;
static int64_t drain_ms = 10000;
static const char *dlpath;
static int quiet;

/* State. */
static struct http http;
static struct out out, dl, rep;
static int dl_open, have_rep;
static struct job_queue jobs;
static struct job *batch; /* the batch being filled */
static uint64_t batch_deadline;
static size_t live_max; /* the most records read and not done */
static volatile sig_atomic_t got_signal, nsignals;
static int sigpipe[2] = { -1, -1 };
static uint64_t drain_deadline;
static int progress;

/* Counters. */
static unsigned long ndelivered, nretried, ndead, nskipped, nrejected;
static struct metrics_lat lat;
static struct metrics met;
static double last_delivery = NAN;

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
	    "Deliver each record over HTTP; write each delivered line to "
	    "stdout.\n"
	    "\n"
	    "  -X, --request METHOD       HTTP method (default POST)\n"
	    "  -H, --header HEADER        add 'Name: value' (repeatable)\n"
	    "  --header-file FILE         headers from a file, one 'Name: "
	    "value' a line\n"
	    "  --bearer-file FILE         Authorization: Bearer with the token "
	    "in FILE\n"
	    "  --basic-file FILE          Authorization: Basic with "
	    "user:password in FILE\n"
	    "  --content-type TYPE        Content-Type (default "
	    "application/json)\n"
	    "  --body EXPR                jq program building the body "
	    "(string: as is)\n"
	    "  --url URL                  the URL, as an option: then every "
	    "operand is a FILE\n"
	    "  --url-file FILE            the URL from a file (a secret URL)\n"
	    "  --url-expr EXPR            jq program giving each record's URL\n"
	    "  --allow-origin ORIGIN      another scheme://host[:port] for "
	    "--url-expr\n"
	    "  --idempotency-key EXPR     jq program giving the "
	    "Idempotency-Key header\n"
	    "  --batch N                  up to N records per request\n"
	    "  --batch-bytes BYTES        at most BYTES of body per batch\n"
	    "  --batch-wait DURATION      send a partial batch after this "
	    "(default 200ms)\n"
	    "  --batch-format FORMAT      array (default) or ndjson\n"
	    "  --rate RATE                at most N/s, N/m or N/h requests\n"
	    "  --order-by EXPR            equal keys are delivered one at a "
	    "time, in order\n"
	    "  --sign SCHEME              close or standard-webhooks\n"
	    "  --sign-key-file FILE       the signing key\n"
	    "  --parallel N               transfers in flight (default 16)\n"
	    "  --cacert FILE              CA certificates to verify the server "
	    "with\n"
	    "  -k, --insecure             do not verify the server's "
	    "certificate\n"
	    "  --retry-on LIST            what is retried (default %s)\n"
	    "  --retry-base DURATION      first back-off ceiling (default "
	    "500ms)\n"
	    "  --retry-max-wait DURATION  longest wait between attempts "
	    "(default 60s)\n"
	    "  --retries N                retries per record (default: until\n"
	    "                             --retry-max-time)\n"
	    "  --retry-max-time DURATION  give up on a record after this "
	    "(default 10m)\n"
	    "  --connect-timeout DURATION connect timeout per attempt (default "
	    "5s)\n"
	    "  --timeout DURATION         total timeout per attempt (default "
	    "30s)\n"
	    "  --max-response BYTES       longest response body accepted "
	    "(default 1M)\n"
	    "  --dead-letter FILE         where failed records go (default\n"
	    "                             "
	    "$XDG_STATE_HOME/closehook/dead-letter.ndjson)\n"
	    "  --report FILE              one NDJSON line per record\n"
	    "  --metrics FILE             keep Prometheus metrics in FILE\n"
	    "  --drain-timeout DURATION   on SIGINT/SIGTERM, wait this long "
	    "(default 10s)\n"
	    "  --max-line BYTES           longest input line (default 16M)\n"
	    "  -q, --quiet                no summary, no line per reject or "
	    "dead letter\n"
	    "  -h, --help                 show this help\n"
	    "      --version              show the version\n",
	    RETRYSET_DEFAULT);
	exit(cli_close_out());
}

static void
on_signal(int sig)
{
	int e = errno;

	got_signal = sig;
	if (nsignals < 2)
		nsignals++;
	/* A full pipe already wakes the loop: a failed write loses nothing. */
	if (sigpipe[1] >= 0 && write(sigpipe[1], "", 1) < 0)
		got_signal = sig;
	errno = e;
}

/*
 * A credential in -H is in argv, which ps shows to every user: warned,
 * with where it belongs (the value is not repeated).
 */
static void
warn_secret_header(const char *h)
{
	static const char *const names[] = { "authorization",
		"proxy-authorization", "cookie", "x-api-key", "api-key",
		"x-auth-token", "x-access-token", "private-token" };
	size_t i, n = strcspn(h, ":");

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (n == strlen(names[i]) && strncasecmp(h, names[i], n) == 0) {
			cli_warnx("warning: -H %.*s: a credential on the "
				  "command line is seen by every user (ps); "
				  "put it in --header-file or --bearer-file",
			    (int)n, h);
			return;
		}
}

/* Whether w occurs in p[0..n), in any case. */
static int
has_word(const char *p, size_t n, const char *w)
{
	size_t k, wl = strlen(w);

	for (k = 0; k + wl <= n; k++)
		if (strncasecmp(p + k, w, wl) == 0)
			return 1;
	return 0;
}

/*
 * A query parameter that names a credential (?token=, &api_key=, ?sig=).
 */
static int
secret_query(const char *u)
{
	static const char *const words[] = { "token", "key", "secret", "sig",
		"pass", "auth", "credential" };
	const char *p = strchr(u, '?'), *eq, *end;
	size_t i;

	while (p != NULL && *p != '\0' && *p != '#') {
		p++;
		end = p + strcspn(p, "&#");
		eq = memchr(p, '=', (size_t)(end - p));
		for (i = 0; eq != NULL && i < sizeof(words) / sizeof(words[0]);
		     i++)
			if (has_word(p, (size_t)(eq - p), words[i]))
				return 1;
		p = *end == '&' ? end : NULL;
	}
	return 0;
}

/*
 * Whether a URL holds a credential: a user and password, a query
 * parameter named like one, or a hook whose path is its secret (Slack's,
 * Zapier's, Discord's).  On the command line it is warned about, and no
 * message repeats it.
 */
static int
url_secret(const char *u)
{
	static const char *const hooks[] = { "hooks.slack.com/",
		"hooks.zapier.com/", "discord.com/api/webhooks/",
		"discordapp.com/api/webhooks/" };
	const char *a = strstr(u, "://"), *end;
	size_t i;

	/* Without a scheme (a URL curl would refuse) the host starts it. */
	a = a != NULL ? a + 3 : u;
	end = a + strcspn(a, "/?#");
	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		if (strncasecmp(a, hooks[i], strlen(hooks[i])) == 0)
			return 1;
	return memchr(a, '@', (size_t)(end - a)) != NULL || secret_query(u);
}

static void
warn_secret_url(const char *u)
{
	if (url_secret(u))
		cli_warnx("warning: the URL holds a credential and the "
			  "command line is seen by every user (ps); give it "
			  "in --url-file");
}

/* Headers and key files. */
static void
add_header(const char *h, size_t n, const char *src)
{
	const char *why;
	char *s;

	if (http_header_check(h, n, &why) != 0)
		cli_fatalx("%s: %s", src, why);
	s = xmemdup(h, n);
	hdrs = curl_slist_append(hdrs, s);
	sodium_memzero(s, n);
	free(s);
	if (hdrs == NULL)
		cli_fatalx("out of memory");
}

/* Authorization headers from -H and --header-file. */
static int nauth_headers;

/* A header the user gave (-H, --header-file), before it is added. */
static void
user_header(const char *h, size_t n, const char *src)
{
	if (n >= 14 && strncasecmp(h, "authorization:", 14) == 0)
		nauth_headers++;
	add_header(h, n, src);
}

/*
 * Free a header list: wiped first, since copies of the headers from files
 * (Authorization, API keys) are in every list.
 */
static void
free_headers(struct curl_slist *l)
{
	struct curl_slist *h;

	for (h = l; h != NULL; h = h->next)
		sodium_memzero(h->data, strlen(h->data));
	curl_slist_free_all(l);
}

static int
has_header(const char *name)
{
	struct curl_slist *l;
	size_t n = strlen(name);

	for (l = hdrs; l != NULL; l = l->next)
		if (strncasecmp(l->data, name, n) == 0 && l->data[n] == ':')
			return 1;
	return 0;
}

/* A secret file, the value of option opt: exit 2 when it cannot be read. */
static char *
read_secret(const char *opt, const char *path, size_t max, size_t *n)
{
	char *buf;

	if ((buf = readfile_secret(opt, path, max, n)) == NULL)
		exit(CLI_EXIT_FATAL);
	return buf;
}

static void
load_header_file(const char *path)
{
	char *buf, *p, *e;
	size_t n;
	unsigned long lineno = 0;

	buf = read_secret("--header-file", path, 65535, &n);
	for (p = buf; p < buf + n; p = e + 1) {
		char src[4200];
		size_t l;

		e = memchr(p, '\n', (size_t)(buf + n - p));
		if (e == NULL)
			e = buf + n;
		lineno++;
		l = (size_t)(e - p);
		if (l > 0 && p[l - 1] == '\r')
			l--;
		if (l == 0 || p[0] == '#')
			continue;
		snprintf(src, sizeof(src), "%s:%lu", path, lineno);
		user_header(p, l, src);
	}
	readfile_secret_free(buf);
}

/*
 * A secret file of one line: the white space at its end (a final newline)
 * cut off, NUL-terminated.
 */
static char *
read_secret_line(const char *opt, const char *path, size_t max, size_t *n)
{
	char *buf = read_secret(opt, path, max, n);

	while (*n > 0 &&
	    (buf[*n - 1] == '\n' || buf[*n - 1] == '\r' || buf[*n - 1] == ' '))
		(*n)--;
	buf[*n] = '\0';
	return buf;
}

/*
 * --url-file: the URL on one line of a file, for URLs that are secrets
 * themselves (Slack's incoming webhooks).  Kept for the whole run.
 */
static const char *
load_url(const char *path)
{
	char *buf;
	size_t n;

	buf = read_secret_line("--url-file", path, 8191, &n);
	if (n == 0 || strpbrk(buf, "\r\n") != NULL)
		cli_fatalx("%s: expected one line holding the URL", path);
	return buf;
}

static void
load_auth(const char *path, int basic)
{
	char *buf, *hdr;
	size_t n, hn;

	buf = read_secret_line(
	    basic ? "--basic-file" : "--bearer-file", path, 4095, &n);
	if (n == 0 || memchr(buf, '\n', n) != NULL ||
	    memchr(buf, '\r', n) != NULL)
		cli_fatalx("%s: expected one line", path);
	if (basic && memchr(buf, ':', n) == NULL)
		cli_fatalx("%s: expected user:password", path);
	hn = 64 + sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	if ((hdr = sodium_malloc(hn)) == NULL)
		cli_fatalx("out of memory");
	if (basic) {
		memcpy(hdr, "Authorization: Basic ", 21);
		sodium_bin2base64(hdr + 21, hn - 21, (unsigned char *)buf, n,
		    sodium_base64_VARIANT_ORIGINAL);
	} else {
		memcpy(hdr, "Authorization: Bearer ", 22);
		memcpy(hdr + 22, buf, n);
		hdr[22 + n] = '\0';
	}
	add_header(hdr, strlen(hdr), path);
	sodium_free(hdr);
	readfile_secret_free(buf);
}

/*
 * --url-expr: jq formats each value interpolated into a string ("\(.x)")
 * with format("text"); for this program only, that is @uri, so that
 * "https://h/deals/\(.event.id)" percent-encodes the id and a record
 * cannot add a '/', '?' or '#' to the URL.  Other formats, @uri included,
 * stay as they are.
 */
static const char url_defs[] = "def _closehook_format(f): format(f);"
			       " def format(f): if f == \"text\""
			       " then tostring | _closehook_format(\"uri\")"
			       " else _closehook_format(f) end;";

static struct jqr *
compile(const char *opt, const char *prog, const char *defs)
{
	struct jqr *q;
	char *err = NULL;

	if ((q = jqr_new(prog, defs, &err)) == NULL)
		cli_fatalx(
		    "--%s: %s", opt, err != NULL ? err : "compile error");
	return q;
}

/* Output: stdout, the report, the dead-letter file. */
static void
report(const struct job_rec *r, const char *status, const struct job *j,
    const char *err, uint64_t now)
{
	char buf[512], esc[6 * 320 + 1];
	size_t fl, el;
	int n;

	if (!have_rep)
		return;
	fl = strlen(r->file);
	n = snprintf(buf, sizeof(buf), "{\"line\":%lu,\"file\":\"", r->lineno);
	out_write(&rep, buf, (size_t)n);
	{
		char *fe = xmalloc(6 * fl + 1);

		out_write(&rep, fe, json_escape(r->file, fl, fe));
		free(fe);
	}
	n = snprintf(buf, sizeof(buf),
	    "\",\"status\":\"%s\",\"http\":%ld,"
	    "\"attempts\":%d,\"latency_ms\":%.3f,\"error\":",
	    status, j != NULL ? j->status : 0L, j != NULL ? j->attempts : 0,
	    (double)(now - r->t_read) / 1e6);
	out_write(&rep, buf, (size_t)n);
	if (err == NULL || *err == '\0')
		out_write(&rep, "null", 4);
	else {
		el = strnlen(err, 320);
		out_putc(&rep, '"');
		out_write(&rep, esc, json_escape(err, el, esc));
		out_putc(&rep, '"');
	}
	out_write(&rep, "}\n", 2);
	/*
	 * An append file collects until committed; a failure is sticky and
	 * reported when the file is closed.
	 */
	if (out_pending(&rep) >= OUT_BUFSZ)
		out_commit(&rep, 0);
}

/* A line that is no record to deliver: reported as status. */
static void
report_line(const char *file, unsigned long lineno, uint64_t now,
    const char *status, const char *why)
{
	struct job_rec r = { NULL, 0, lineno, file, now, 0, 0 };

	report(&r, status, NULL, why, now);
}

static void
dl_ensure(void)
{
	char path[4096], *slash;
	const char *base;

	if (dl_open)
		return;
	if (dlpath == NULL) {
		if ((base = getenv("XDG_STATE_HOME")) != NULL && *base == '/')
			snprintf(path, sizeof(path), "%s/closehook", base);
		else if ((base = getenv("HOME")) != NULL && *base == '/')
			snprintf(path, sizeof(path),
			    "%s/.local/state/closehook", base);
		else
			cli_fatalx("no dead-letter file: give --dead-letter, "
				   "or set $XDG_STATE_HOME or $HOME");
		/*
		 * Make each missing directory of the default path, durable
		 * in its parent like the file will be in its directory.
		 */
		for (slash = strchr(path + 1, '/');;
		     slash = strchr(slash + 1, '/')) {
			if (slash != NULL)
				*slash = '\0';
			if (mkdir(path, 0700) == 0) {
				if (atomicfile_sync_dir(path) != 0)
					cli_fatal(
					    "%s: cannot sync the directory "
					    "that holds it",
					    path);
			} else if (errno != EEXIST)
				cli_fatal("%s", path);
			if (slash == NULL)
				break;
			*slash = '/';
		}
		strncat(path, "/dead-letter.ndjson",
		    sizeof(path) - strlen(path) - 1);
		dlpath = xmemdup(path, strlen(path));
	}
	/* A torn last line (a crash mid-write) is cut off; see out.h. */
	if (out_append_open(&dl, dlpath, 0600) != 0)
		cli_fatal("%s", dlpath);
	dl_open = 1;
	if (!quiet)
		cli_warnx("dead letters go to %s", dlpath);
}

/*
 * A --dead-letter FILE that could not be opened when the first record
 * fails would stop the run then, with records in flight: say so at start,
 * without making the file before it is needed.
 */
static void
dl_check(void)
{
	char dir[PATH_MAX];
	struct stat st;

	if (dlpath == NULL)
		return;
	if (stat(dlpath, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			cli_fatalx("--dead-letter %s: a directory, not a file",
			    dlpath);
		if (access(dlpath, W_OK) != 0)
			cli_fatal("--dead-letter %s", dlpath);
		return;
	}
	if (errno != ENOENT)
		cli_fatal("--dead-letter %s", dlpath);
	if (atomicfile_dir(dlpath, dir, sizeof(dir)) != 0 ||
	    access(dir, W_OK | X_OK) != 0)
		cli_fatal(
		    "--dead-letter %s: cannot be made in %s", dlpath, dir);
}

static void
delivered(struct job *j, uint64_t now)
{
	size_t i;

	for (i = 0; i < j->nrec; i++) {
		struct job_rec *r = &j->recs[i];

		out_write(&out, job_rec_line(j, r), r->n);
		out_putc(&out, '\n');
		report(r, "delivered", j, NULL, now);
		metrics_lat_add(&lat, now - r->t_read);
	}
	ndelivered += j->nrec;
	job_move(&jobs, j, JOB_DONE);
	job_recs_done(&jobs, j);
	job_free(j);
	job_epochs_pass(&jobs);
}

/*
 * Fail a job for good: its lines go to the dead-letter file now; they are
 * counted (and reported) by dl_commit() once the file is fsync'd.
 */
static void
dead(struct job *j, const char *why)
{
	size_t i;

	if (why != NULL && why != j->err)
		snprintf(j->err, sizeof(j->err), "%s", why);
	dl_ensure();
	for (i = 0; i < j->nrec; i++) {
		out_write(&dl, job_rec_line(j, &j->recs[i]), j->recs[i].n);
		out_putc(&dl, '\n');
	}
	job_move(&jobs, j, JOB_DONE);
	job_list_push(&jobs.dlq, j);
}

static void
dl_commit(uint64_t now)
{
	struct job *j;
	size_t i;

	if (jobs.dlq.head == NULL)
		return;
	/*
	 * The commit point: once the lines are fdatasync'd they count as
	 * done.  A failed commit leaves the file as it was (no partial line,
	 * see out.h), so these records were neither delivered nor kept: stop,
	 * and a rerun of the same input appends them cleanly.
	 */
	if (out_commit(&dl, 1) != 0) {
		size_t lost = 0;

		for (j = jobs.dlq.head; j != NULL; j = j->next)
			lost += j->nrec;
		cli_fatalx("%s: %s; %zu record%s not dead-lettered, and none "
			   "still in flight or unread counted as done: run "
			   "the same input again",
		    dl.name, strerror(dl.err), lost, lost == 1 ? "" : "s");
	}
	while ((j = job_list_pop(&jobs.dlq)) != NULL) {
		for (i = 0; i < j->nrec; i++) {
			if (!quiet && j->nrec == 1)
				cli_recwarnx(j->recs[i].file, j->recs[i].lineno,
				    "dead-lettered: %s", j->err);
			report(&j->recs[i], "dead-letter", j, j->err, now);
		}
		if (!quiet && j->nrec > 1)
			cli_recwarnx(j->recs[0].file, j->recs[0].lineno,
			    "batch of %zu dead-lettered: %s", j->nrec, j->err);
		ndead += j->nrec;
		job_recs_done(&jobs, j);
		job_free(j);
	}
	job_epochs_pass(&jobs);
}

static int
json_valid(const char *p, size_t n)
{
	struct json_span v;

	return json_parse(p, n, &v, NULL) == 0;
}

static void
body_append(struct job *j, const char *p, size_t n)
{
	if (j->bodyn + n > j->bodycap) {
		j->bodycap = 2 * (j->bodyn + n) + 256;
		j->body = xrealloc(j->body, j->bodycap);
	}
	memcpy(j->body + j->bodyn, p, n);
	j->bodyn += n;
}

/* The text of a jq result: a string as is, anything else as JSON. */
static char *
jv_text(jv v, size_t *n)
{
	char *s;

	if (jvh_is_borrow(v, JV_KIND_STRING)) {
		*n = (size_t)jv_string_length_bytes(jv_copy(v));
		s = xmemdup(jv_string_value(v), *n);
		jv_free(v);
		return s;
	}
	return jvh_dump(v, n);
}

/*
 * Run a program on the record; 0 and *out set (NULL: no result), or -1
 * with the reason in err: a runtime error, or several results (one request
 * takes one body, URL or key; the rest would be lost unseen).  The result
 * is its text (a string as is), or its JSON when json; *kind says which
 * kind it was.
 */
static int
run_prog(struct jqr *q, jv in, char **outp, size_t *n, char *err, size_t errn,
    const char *what, int json, jv_kind *kind)
{
	char *jerr = NULL;
	int several;
	jv v = jqr_one(q, jv_copy(in), &several, &jerr);

	*outp = NULL;
	if (jerr != NULL) {
		snprintf(err, errn, "%s: %s", what, jerr);
		free(jerr);
		jv_free(v);
		return -1;
	}
	if (several) {
		snprintf(err, errn, "%s gave several results, not one", what);
		jv_free(v);
		return -1;
	}
	if (!jv_is_valid(v)) {
		jv_free(v);
		return 0;
	}
	if (kind != NULL)
		*kind = jv_get_kind(v);
	*outp = json ? jvh_dump(v, n) : jv_text(v, n);
	return 0;
}

static void
close_batch(void)
{
	struct job *j = batch;

	if (j == NULL)
		return;
	batch = NULL;
	if (!batch_ndjson)
		body_append(j, "]", 1);
	job_move(&jobs, j, JOB_READY);
}

/* "msg_" and 32 hex digits of the SHA-256 of [p, p + n), as the id. */
static void
msgid_hash(struct job *j, const void *p, size_t n)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[33];

	crypto_hash_sha256(h, p, n);
	hmac_hex_encode(h, 16, hex);
	hex[32] = '\0';
	snprintf(j->msgid, sizeof(j->msgid), "msg_%s", hex);
}

/*
 * The webhook-id (sign.h says what an id may hold): the --idempotency-key
 * value, or, when it cannot be an id, a hash of it, the same on every
 * attempt and every run; without one, the record's event id when it can
 * be one, else a hash of the body.
 */
static void
set_msgid(struct job *j, const char *line, size_t n)
{
	struct json_span root, ev, id;

	if (j->idem != NULL) {
		if (sign_id_ok(j->idem, strlen(j->idem)))
			snprintf(j->msgid, sizeof(j->msgid), "%s", j->idem);
		else
			msgid_hash(j, j->idem, strlen(j->idem));
		return;
	}
	if (line != NULL && json_parse(line, n, &root, NULL) == 0 &&
	    root.type == JSON_OBJECT &&
	    json_object_get(root, "event", 5, &ev) && ev.type == JSON_OBJECT &&
	    json_object_get(ev, "id", 2, &id) && id.type == JSON_STRING &&
	    json_str_plain(id) && sign_id_ok(id.p + 1, id.n - 2)) {
		memcpy(j->msgid, id.p + 1, id.n - 2);
		j->msgid[id.n - 2] = '\0';
		return;
	}
	msgid_hash(j, j->body, j->bodyn);
}

static void
fail_record(
    const struct lr_line *l, const char *file, uint64_t now, const char *why)
{
	dead(job_new_rec(&jobs, l, file, now), why);
}

static int
header_value_ok(const char *s)
{
	return strpbrk(s, "\r\n") == NULL;
}

/* --allow-origin ORIGIN */
static void
add_origin(const char *o)
{
	const char *why;

	origins = xrealloc(origins, (norigins + 1) * sizeof(*origins));
	if (http_origin(o, 1, origins[norigins], &why) != 0)
		cli_fatalx("invalid ORIGIN for --allow-origin '%.40s%s': %s", o,
		    strlen(o) > 40 ? "..." : "", why);
	norigins++;
}

/*
 * A URL from --url-expr (u, un bytes; NULL: no result): an http or https
 * URL of the URL's origin or an --allow-origin, without a dot segment in
 * its path.  Returns 0, or -1 with why in err.
 */
static int
url_check(const char *u, size_t un, char *err, size_t errn)
{
	char o[HTTP_ORIGIN_MAX];
	const char *why;
	size_t i;

	if (u == NULL || memchr(u, '\0', un) != NULL || !header_value_ok(u)) {
		snprintf(err, errn, "--url-expr gave no usable URL");
		return -1;
	}
	if (http_origin(u, 0, o, &why) != 0) {
		snprintf(err, errn, "--url-expr gave no usable URL: %s", why);
		return -1;
	}
	for (i = 0; i < norigins && strcmp(o, origins[i]) != 0; i++)
		;
	if (strcmp(o, origin0) != 0 && i == norigins) {
		snprintf(err, errn,
		    "--url-expr gave another origin (%.100s), not the URL's "
		    "nor an --allow-origin",
		    o);
		return -1;
	}
	if (http_dot_segment(u)) {
		snprintf(err, errn,
		    "--url-expr gave a path with a '.' or '..' segment");
		return -1;
	}
	return 0;
}

/*
 * Add a record to the batch being filled (opening one), with its body, or
 * with its line when body is NULL.  Returns NULL, or why the record fails.
 */
static const char *
batch_add(const struct lr_line *l, const char *file, uint64_t now,
    const char *body, size_t bodyn)
{
	const char *p = body != NULL ? body : l->p;
	size_t n = body != NULL ? bodyn : l->n;
	long off;

	if (!batch_ndjson && body == NULL && !json_valid(p, n))
		return "not json: cannot go into an array batch";
	if (batch != NULL && batch_bytes > 0 &&
	    batch->bodyn + n + 2 > batch_bytes)
		close_batch();
	if (batch == NULL) {
		batch = job_new(16);
		batch_deadline = now + (uint64_t)batch_wait_ms * 1000000;
		/* Room for a full batch of such records at once. */
		batch->bodycap = batch_bytes > 0
		    ? batch_bytes + 16
		    : batch_n * (n + 2) + n / 4 + 16;
		if (batch->bodycap > 64 * 1024 * 1024)
			batch->bodycap = 64 * 1024 * 1024;
		batch->body = xmalloc(batch->bodycap);
		if (!batch_ndjson)
			body_append(batch, "[", 1);
	} else if (!batch_ndjson)
		body_append(batch, ",", 1);
	/* Sent as is, the line is kept only inside the body. */
	off = body == NULL ? (long)batch->bodyn : -1;
	body_append(batch, p, n);
	if (batch_ndjson)
		body_append(batch, "\n", 1);
	job_add_rec(&jobs, batch, l, file, now, off);
	if (batch->nrec >= batch_n)
		close_batch();
	return NULL;
}

/*
 * One input line: a job of its own, a record in the batch, skipped (--body
 * gave nothing), or failed (dead-lettered) with the reason in why.
 */
static void
add_line(const struct lr_line *l, const char *file, uint64_t now)
{
	char err[200];
	const char *why = NULL;
	char *body = NULL, *u = NULL, *idem = NULL, *k = NULL;
	size_t bodyn = 0, un = 0, idn = 0, kn = 0;
	struct job *j;

	if (jq_body != NULL || jq_url != NULL || jq_idem != NULL ||
	    jq_order != NULL) {
		jv in = jqr_parse(l->p, l->n);

		if (!jv_is_valid(in)) {
			char *m = jvh_errmsg(jv_invalid_get_msg(in));

			snprintf(err, sizeof(err), "not json: %s", m);
			free(m);
			why = err;
			goto out;
		}
		jv_kind ik = JV_KIND_NULL;

		/* In an array batch a string result is a JSON string. */
		if ((jq_body != NULL &&
			run_prog(jq_body, in, &body, &bodyn, err, sizeof(err),
			    "--body", batch_n > 0 && !batch_ndjson,
			    NULL) != 0) ||
		    (jq_url != NULL &&
			run_prog(jq_url, in, &u, &un, err, sizeof(err),
			    "--url-expr", 0, NULL) != 0) ||
		    (jq_idem != NULL &&
			run_prog(jq_idem, in, &idem, &idn, err, sizeof(err),
			    "--idempotency-key", 0, &ik) != 0) ||
		    (jq_order != NULL &&
			run_prog(jq_order, in, &k, &kn, err, sizeof(err),
			    "--order-by", 0, NULL) != 0))
			why = err;
		/*
		 * A key that is no string or number (null: a record without
		 * the field) would be the same key, "null", for every such
		 * record, and an idempotent receiver would drop all but the
		 * first; an empty one is no key.
		 */
		else if (jq_idem != NULL &&
		    (idem == NULL ||
			(ik != JV_KIND_STRING && ik != JV_KIND_NUMBER) ||
			idn == 0)) {
			snprintf(err, sizeof(err),
			    "--idempotency-key gave %s, not a string",
			    idem == NULL	       ? "no result"
				: ik == JV_KIND_STRING ? "an empty string"
						       : jv_kind_name(ik));
			why = err;
		}
		jv_free(in);
		if (why != NULL)
			goto out;
		if (jq_body != NULL && body == NULL) {
			/* --body gave nothing (select): not for this sink. */
			nskipped++;
			report_line(file, l->lineno, now, "skipped", NULL);
			goto out;
		}
		if (jq_url != NULL && url_check(u, un, err, sizeof(err)) != 0) {
			why = err;
			goto out;
		}
		if (idem != NULL &&
		    (memchr(idem, '\0', idn) != NULL ||
			!header_value_ok(idem) || idn > SIGNER_ID_MAX)) {
			why = "--idempotency-key gave an unusable value";
			goto out;
		}
	}

	if (batch_n > 0) {
		why = batch_add(l, file, now, body, bodyn);
		goto out;
	}
	j = job_new_rec(&jobs, l, file, now);
	if (body != NULL) {
		j->body = body;
		j->bodyn = bodyn;
	} else {
		j->body = j->recs[0].line;
		j->bodyn = j->recs[0].n;
		j->body_is_line = 1;
	}
	j->url = u;
	j->idem = idem;
	body = u = idem = NULL; /* the job's now */
	if (signer.scheme == SIGNER_SW_V1 || signer.scheme == SIGNER_SW_V1A)
		set_msgid(j, l->p, l->n);
	/*
	 * --parallel 1 keeps input order through retries too: every record
	 * in one chain, as if they all had one --order-by key.
	 */
	job_enqueue(&jobs, j, k == NULL && parallel == 1 ? "" : k, kn);
out:
	if (why != NULL)
		fail_record(l, file, now, why);
	free(body);
	free(u);
	free(idem);
	free(k);
}

/* Transfers. */

/*
 * An attempt is over: its transfer goes back to the pool, and its header
 * list, copies of secrets among them, is wiped and freed.
 */
static void
attempt_end(struct job *j)
{
	http_xfer_put(&http, j->x);
	j->x = NULL;
	free_headers(j->hdrs);
	j->hdrs = NULL;
}

static int
start(struct job *j, uint64_t now)
{
	struct curl_slist *h = j->bodyn > expect_max ? hdrs_expect : hdrs, *l;

	if (j->idem != NULL || signer.scheme != SIGNER_NONE) {
		char buf[300], sh[3][SIGNER_HDR_MAX];
		int i, ns;

		if (signer.scheme == SIGNER_SW_V1 ||
		    signer.scheme == SIGNER_SW_V1A)
			if (j->msgid[0] == '\0')
				set_msgid(j, NULL, 0);
		for (l = h; l != NULL; l = l->next)
			if ((j->hdrs = curl_slist_append(j->hdrs, l->data)) ==
			    NULL)
				cli_fatalx("out of memory");
		if (j->idem != NULL) {
			snprintf(
			    buf, sizeof(buf), "Idempotency-Key: %s", j->idem);
			j->hdrs = curl_slist_append(j->hdrs, buf);
		}
		ns = signer_headers(
		    &signer, j->msgid, cli_now(), j->body, j->bodyn, sh);
		for (i = 0; i < ns; i++)
			j->hdrs = curl_slist_append(j->hdrs, sh[i]);
		if (j->hdrs == NULL)
			cli_fatalx("out of memory");
		h = j->hdrs;
	}
	if (j->attempts == 0)
		j->t_first = now;
	j->attempts++;
	if ((j->x = http_xfer_get(&http)) == NULL)
		cli_fatalx("out of memory");
	j->x->user = j;
	if (http_xfer_start(&http, j->x, method, j->url != NULL ? j->url : url,
		h, j->body, j->bodyn) != 0) {
		snprintf(j->err, sizeof(j->err), "%s", j->x->errbuf);
		attempt_end(j);
		return -1;
	}
	job_move(&jobs, j, JOB_FLIGHT);
	return 0;
}

/*
 * A short, printable piece of a response body for messages, without the
 * white space around it (most bodies end in a newline).
 */
static void
resp_snippet(const struct http_xfer *x, char *dst, size_t cap)
{
	size_t i, n = x->respn < cap - 1 ? x->respn : cap - 1, skip = 0;

	if (n > 80)
		n = 80;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)x->resp[i];

		dst[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	while (n > 0 && dst[n - 1] == ' ')
		n--;
	while (skip < n && dst[skip] == ' ')
		skip++;
	memmove(dst, dst + skip, n - skip);
	dst[n - skip] = '\0';
}

static void
finished(struct http_xfer *x, uint64_t now)
{
	struct job *j = x->user;
	long st = x->status;
	int retryable;
	double delay;
	char snip[96];

	j->status = st;
	if (st >= 200 && st <= 299) {
		/* A body too large or cut short after a 2xx still arrived. */
		attempt_end(j);
		delivered(j, now);
		return;
	}
	if (st > 0) {
		resp_snippet(x, snip, sizeof(snip));
		snprintf(j->err, sizeof(j->err), "http %ld%s%s%s", st,
		    st >= 300 && st < 400 ? " (redirects are not followed: "
					    "give the URL it moved to)"
					  : "",
		    snip[0] != '\0' ? ": " : "", snip);
		retryable = st >= 100 && st <= 599 && retry.status[st];
	} else {
		snprintf(j->err, sizeof(j->err), "%s", x->errbuf);
		retryable = http_is_timeout(x) ? retry.timeout
		    : x->result == CURLE_URL_MALFORMAT ||
			x->result == CURLE_UNSUPPORTED_PROTOCOL ||
			x->result == CURLE_SSL_CACERT_BADFILE ||
			x->result == CURLE_PEER_FAILED_VERIFICATION
		    ? 0
		    : retry.network;
	}
	if (!retryable || jobs.draining ||
	    (retries >= 0 && j->attempts > retries)) {
		if (retryable && !jobs.draining)
			snprintf(j->err + strlen(j->err),
			    sizeof(j->err) - strlen(j->err),
			    " (after %d attempt%s)", j->attempts,
			    j->attempts == 1 ? "" : "s");
		attempt_end(j);
		dead(j, NULL);
		return;
	}
	delay = (double)backoff_delay(retry_base_ms, retry_max_wait_ms,
		    j->attempts, randombytes_random()) /
	    1e3;
	if (st == 429 || st == 503) {
		delay = ratelimit_retry_delay(
		    &x->rl, delay, (double)retry_max_wait_ms / 1e3);
		/*
		 * A rate limit (429), or a server that said when to come
		 * back (503 and Retry-After), holds every request, not only
		 * this one: the others would meet the same limit and spend
		 * their retries on it.
		 */
		if (st == 429 || x->rl.retry_after >= 0) {
			uint64_t until = now + (uint64_t)(delay * 1e9);

			if (until > paused_until)
				paused_until = until;
		}
	} else if (x->rl.retry_after >= 0)
		delay =
		    fmin(x->rl.retry_after, (double)retry_max_wait_ms / 1e3);
	attempt_end(j);
	j->next_at = now + (uint64_t)(delay * 1e9);
	if (j->next_at > j->t_first + (uint64_t)retry_max_time_ms * 1000000) {
		snprintf(j->err + strlen(j->err),
		    sizeof(j->err) - strlen(j->err),
		    " (--retry-max-time reached)");
		dead(j, NULL);
		return;
	}
	nretried++;
	job_move(&jobs, j, JOB_WAIT);
}

/*
 * Start ready jobs while there is room; returns the ns until the bucket
 * gives the next token (0: not waiting for one).
 */
static uint64_t
launch(uint64_t now)
{
	struct job *j;
	uint64_t wait;

	while (jobs.ready.head != NULL && http.inflight < parallel) {
		if (now < paused_until)
			return paused_until - now;
		if ((wait = backoff_rate_take(&bucket, now)) > 0)
			return wait;
		j = job_list_pop(&jobs.ready);
		if (start(j, now) != 0)
			dead(j, NULL);
	}
	return 0;
}

/* SIGINT/SIGTERM: everything not in flight is dead-lettered now. */
static void
begin_drain(uint64_t now)
{
	drain_deadline = now + (uint64_t)drain_ms * 1000000;
	if (!quiet)
		cli_warnx("%s: draining %zu transfers in flight (for at most "
			  "%.3g s; a second signal ends them now)",
		    got_signal == SIGINT ? "interrupted" : "terminated",
		    http.inflight, (double)drain_ms / 1e3);
	close_batch();
	job_drain(&jobs, dead, "interrupted before delivery");
}

static void
cancel_all(const char *why)
{
	struct job *j;

	while ((j = jobs.inflight) != NULL) {
		http_xfer_cancel(&http, j->x);
		attempt_end(j);
		dead(j, why);
	}
}

static void
show_progress(int final)
{
	if (!progress)
		return;
	fprintf(stderr,
	    "\r%s: delivered %lu, retried %lu, dead-lettered %lu, "
	    "in flight %zu\033[K",
	    cli_prog, ndelivered, nretried, ndead, http.inflight);
	if (final)
		fputs("\r\033[K", stderr);
}

static int
set_nonblock(int fd, int *saved)
{
	struct stat st;
	int fl;

	*saved = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return 0;
	if ((fl = fcntl(fd, F_GETFL)) < 0)
		return -1;
	*saved = fl;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/*
 * A line rejected for the reason why (line-too-long, cut-short), said on
 * stderr as the other programs say theirs, with detail when not NULL, and
 * reported with why.
 */
static void
reject(const char *file, unsigned long lineno, uint64_t now, const char *why,
    const char *detail)
{
	if (!quiet) {
		if (detail != NULL)
			cli_recwarnx(
			    file, lineno, "rejected: %s (%s)", why, detail);
		else
			cli_recwarnx(file, lineno, "rejected: %s", why);
	}
	nrejected++;
	report_line(file, lineno, now, "rejected", why);
}

/*
 * Reading stops (SIGTERM): every line read must still be delivered or
 * dead-lettered.  Lines read from a regular file on stdin are put back
 * (its offset moved back to the first line not taken), so that whoever
 * shares the descriptor reads them next; any other input's held lines are
 * taken now, and dead-lettered by begin_drain() with the queues.
 */
static void
put_back(struct lr *r, uint64_t now)
{
	struct stat st;
	struct lr_line l;
	enum lr_status s;

	if (r->fd == STDIN_FILENO && fstat(r->fd, &st) == 0 &&
	    S_ISREG(st.st_mode) && lr_unread(r) == 0)
		return;
	while ((s = lr_next_held(r, &l)) != LR_AGAIN) {
		if (s == LR_LINE && mark_is(l.p, l.n))
			job_epoch_close(&jobs, l.p, l.n);
		else if (s == LR_LINE)
			add_line(&l, r->name, now);
		else
			reject(r->name, l.lineno, now, "line-too-long", NULL);
	}
}

/* The ns until deadline t (0: past), or wake if that is sooner. */
static uint64_t
sooner(uint64_t wake, uint64_t t, uint64_t now)
{
	return t <= now ? 0 : t - now < wake ? t - now : wake;
}

/* The main loop over all inputs.  Returns 0, or -1 after a read error. */
static int
run(char **files, int nfiles, size_t max_line)
{
	struct lr r;
	struct lr_line l;
	int fi = 0, reading = 1, saved = -1, rc = 0, opened = 0;
	uint64_t now, last_progress = 0, tok = 0;

	for (;;) {
		struct curl_waitfd wfd[2];
		unsigned nw = 0;
		uint64_t wake;
		int timeout;

		now = cli_mono_ns();
		if (got_signal && !jobs.draining) {
			if (reading && opened)
				put_back(&r, now);
			reading = 0;
			begin_drain(now);
		}
		/* Read while there is room; stop when the slots are full. */
		while (reading && jobs.ready.head == NULL &&
		    http.inflight < parallel && jobs.live < live_max) {
			enum lr_status st;

			if (!opened) {
				const char *path =
				    fi < nfiles ? files[fi] : NULL;

				if (lr_open(&r, path, max_line, NULL) != 0) {
					cli_warn("%s", path);
					rc = -1;
					reading = 0;
					break;
				}
				if (set_nonblock(r.fd, &saved) != 0)
					cli_warn("%s: cannot make non-blocking",
					    r.name);
				opened = 1;
			}
			st = lr_next(&r, &l);
			if (st == LR_AGAIN)
				break;
			if (st == LR_LINE && mark_is(l.p, l.n)) {
				job_epoch_close(&jobs, l.p, l.n);
				continue;
			}
			/*
			 * The input ended inside a line that is not JSON: a
			 * writer that died mid-line (a stage of the pipeline
			 * killed).  Its record comes whole with the replay;
			 * this piece of it is never sent.
			 */
			if (st == LR_LINE && r.unterminated &&
			    !json_valid(l.p, l.n)) {
				reject(r.name, l.lineno, now, "cut-short",
				    "no newline at the end of input, and not "
				    "JSON");
				continue;
			}
			if (st == LR_LINE) {
				/* Start it now: free slots fill in one go. */
				add_line(&l, r.name, now);
				tok = launch(now);
				continue;
			}
			if (st == LR_TOOLONG) {
				reject(r.name, l.lineno, now, "line-too-long",
				    NULL);
				continue;
			}
			if (st == LR_ERROR) {
				cli_warn("%s: read error", r.name);
				rc = -1;
			}
			if (saved >= 0)
				(void)fcntl(r.fd, F_SETFL, saved);
			lr_close(&r);
			opened = 0;
			if (st == LR_ERROR || ++fi >= nfiles) {
				reading = 0;
				close_batch();
			}
		}
		if (batch != NULL && now >= batch_deadline)
			close_batch();
		job_due(&jobs, now);
		tok = launch(now);
		http_perform(&http);
		{
			struct http_xfer *x;

			while ((x = http_done(&http)) != NULL)
				finished(x, cli_mono_ns());
		}
		now = cli_mono_ns();
		job_due(&jobs, now);
		tok = launch(now);
		if (jobs.draining && http.inflight > 0 && now >= drain_deadline)
			cancel_all("in flight at the end of --drain-timeout");
		/* A second signal: the operator will not wait. */
		if (jobs.draining && http.inflight > 0 && nsignals >= 2)
			cancel_all("in flight at a second signal");
		dl_commit(now);
		metrics_poll(&met);
		if (out.err != 0)
			break;
		if (!reading && jobs.live == 0 && http.inflight == 0 &&
		    batch == NULL)
			break;
		if (jobs.draining && http.inflight == 0)
			break;

		/* How long to sleep. */
		wake = 1000000000ULL;
		if (tok > 0 && tok < wake)
			wake = tok;
		if (jobs.waiting.head != NULL)
			wake = sooner(wake, jobs.waiting.head->next_at, now);
		if (batch != NULL)
			wake = sooner(wake, batch_deadline, now);
		if (jobs.draining)
			wake = sooner(wake, drain_deadline, now);
		timeout = (int)((wake + 999999) / 1000000);
		if (reading && opened && jobs.ready.head == NULL &&
		    http.inflight < parallel && jobs.live < live_max) {
			wfd[nw].fd = r.fd;
			wfd[nw].events = CURL_WAIT_POLLIN;
			nw++;
		}
		wfd[nw].fd = sigpipe[0];
		wfd[nw].events = CURL_WAIT_POLLIN;
		nw++;
		/*
		 * Optimal buffering: flush only before a wait that would block,
		 * which a zero-time look tells.
		 */
		if (timeout > 0 &&
		    (out_pending(&out) > 0 ||
			(have_rep && out_pending(&rep) > 0)) &&
		    http_wait(&http, wfd, nw, 0) > 0)
			timeout = -1; /* something is ready already */
		if (timeout > 0) {
			out_flush(&out);
			if (have_rep)
				out_flush(&rep);
			if (progress && now - last_progress > 500000000ULL) {
				show_progress(0);
				last_progress = now;
			}
		}
		if (timeout >= 0)
			http_wait(&http, wfd, nw, timeout);
		if (wfd[nw - 1].revents != 0) {
			char junk[16];

			/* Only the wake-up matters; got_signal says which. */
			if (read(sigpipe[0], junk, sizeof(junk)) < 0)
				junk[0] = '\0';
		}
	}
	if (opened) {
		if (saved >= 0)
			(void)fcntl(r.fd, F_SETFL, saved);
		lr_close(&r);
	}
	show_progress(1);
	return rc;
}

/* Before each rendering: when a record was last delivered. */
static void
metrics_update(void *arg)
{
	static unsigned long seen;

	if (ndelivered != seen) {
		seen = ndelivered;
		last_delivery = metrics_wall();
	}
}

static void
setup_metrics(const char *path)
{
	static const struct metrics_def defs[] = {
		{ "closehook_post_delivered_total", METRICS_COUNTER,
		    METRICS_ULONG, &ndelivered,
		    "Records delivered (2xx) and written to stdout.", NULL,
		    NULL },
		{ "closehook_post_retries_total", METRICS_COUNTER,
		    METRICS_ULONG, &nretried,
		    "Failed attempts that were scheduled again.", NULL, NULL },
		{ "closehook_post_dead_lettered_total", METRICS_COUNTER,
		    METRICS_ULONG, &ndead,
		    "Records that failed for good, in the dead-letter file.",
		    NULL, NULL },
		{ "closehook_post_skipped_total", METRICS_COUNTER,
		    METRICS_ULONG, &nskipped,
		    "Records for which --body gave nothing.", NULL, NULL },
		{ "closehook_post_rejected_total", METRICS_COUNTER,
		    METRICS_ULONG, &nrejected,
		    "Input lines rejected: too long, or cut short at the end.",
		    NULL, NULL },
		{ "closehook_post_inflight_requests", METRICS_GAUGE,
		    METRICS_SIZE, &http.inflight, "Transfers in flight.", NULL,
		    NULL },
		{ "closehook_post_pending_records", METRICS_GAUGE, METRICS_SIZE,
		    &jobs.live,
		    "Records read and not yet delivered or dead-lettered.",
		    NULL, NULL },
		{ "closehook_post_delivery_latency_seconds", METRICS_HISTOGRAM,
		    METRICS_LAT, &lat,
		    "From reading a record to its delivery, retries included.",
		    NULL, NULL },
		{ "closehook_post_last_delivery_timestamp_seconds",
		    METRICS_GAUGE, METRICS_DOUBLE, &last_delivery,
		    "When a record was last delivered (to within a second).",
		    NULL, NULL },
	};
	metrics_init(&met, path);
	metrics_add(&met, defs, sizeof(defs) / sizeof(defs[0]));
	metrics_add_start_time(&met, "closehook_post_start_time_seconds");
	metrics_on_update(&met, metrics_update, NULL);
	metrics_start(&met);
	if (met.path != NULL) /* a reader that stops us: the file goes on */
		out_on_block(&out, metrics_blocked, &met, 1000);
}

int
main(int argc, char *argv[])
{
	enum {
		O_HFILE = 256,
		O_BEARER,
		O_BASIC,
		O_CTYPE,
		O_BODY,
		O_URLEXPR,
		O_URL,
		O_URLFILE,
		O_ALLOW,
		O_IDEM,
		O_BATCH,
		O_BBYTES,
		O_BWAIT,
		O_BFORMAT,
		O_RATE,
		O_ORDER,
		O_SIGN,
		O_SIGNKEY,
		O_PARALLEL,
		O_CACERT,
		O_RETRYON,
		O_RBASE,
		O_RMAXWAIT,
		O_RETRIES,
		O_RMAXTIME,
		O_CTIMEOUT,
		O_TIMEOUT,
		O_MAXRESP,
		O_DEAD,
		O_REPORT,
		O_METRICS,
		O_DRAIN,
		O_MAXLINE,
		O_VERSION
	};
	static const struct option longopts[] = {
		{ "request", required_argument, NULL, 'X' },
		{ "header", required_argument, NULL, 'H' },
		{ "header-file", required_argument, NULL, O_HFILE },
		{ "bearer-file", required_argument, NULL, O_BEARER },
		{ "basic-file", required_argument, NULL, O_BASIC },
		{ "content-type", required_argument, NULL, O_CTYPE },
		{ "body", required_argument, NULL, O_BODY },
		{ "url-expr", required_argument, NULL, O_URLEXPR },
		{ "url", required_argument, NULL, O_URL },
		{ "url-file", required_argument, NULL, O_URLFILE },
		{ "allow-origin", required_argument, NULL, O_ALLOW },
		{ "idempotency-key", required_argument, NULL, O_IDEM },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "batch-bytes", required_argument, NULL, O_BBYTES },
		{ "batch-wait", required_argument, NULL, O_BWAIT },
		{ "batch-format", required_argument, NULL, O_BFORMAT },
		{ "rate", required_argument, NULL, O_RATE },
		{ "order-by", required_argument, NULL, O_ORDER },
		{ "sign", required_argument, NULL, O_SIGN },
		{ "sign-key-file", required_argument, NULL, O_SIGNKEY },
		{ "parallel", required_argument, NULL, O_PARALLEL },
		{ "cacert", required_argument, NULL, O_CACERT },
		{ "insecure", no_argument, NULL, 'k' },
		{ "retry-on", required_argument, NULL, O_RETRYON },
		{ "retry-base", required_argument, NULL, O_RBASE },
		{ "retry-max-wait", required_argument, NULL, O_RMAXWAIT },
		{ "retries", required_argument, NULL, O_RETRIES },
		{ "retry-max-time", required_argument, NULL, O_RMAXTIME },
		{ "connect-timeout", required_argument, NULL, O_CTIMEOUT },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "max-response", required_argument, NULL, O_MAXRESP },
		{ "dead-letter", required_argument, NULL, O_DEAD },
		{ "report", required_argument, NULL, O_REPORT },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "drain-timeout", required_argument, NULL, O_DRAIN },
		{ "max-line", required_argument, NULL, O_MAXLINE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 }
	};
	struct http_opts ho = { 5000, 30000, NULL, 0, 1024 * 1024, 16 };
	const char *ctype = NULL, *sign_scheme = NULL, *sign_key = NULL;
	const char *reppath = NULL, *why, *metpath = NULL;
	size_t max_line = LR_DEFAULT_MAX_LINE;
	struct sigaction sa;
	struct curl_slist *l;
	int ch, rc = CLI_EXIT_OK, ioerr, bwait_set = 0, nauth = 0, nurl = 0;

	cli_init("closehook-post");
	cli_std_fds(CLI_STDOUT_DATA);
	cli_no_core_dumps();
	argv[0] = (char *)cli_prog;
	if (sodium_init() < 0)
		cli_fatalx("cannot initialise libsodium");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		cli_fatalx("cannot initialise libcurl");
	if (backoff_retry_parse(&retry, RETRYSET_DEFAULT, &why) != 0)
		cli_fatalx("%s", why);
	while (
	    (ch = getopt_long(argc, argv, "H:X:hkq", longopts, NULL)) != -1) {
		switch (ch) {
		case 'X':
			if (*optarg == '\0' ||
			    strpbrk(optarg, " \t\r\n:/") != NULL)
				cli_fatalx("invalid METHOD for -X");
			method = optarg;
			break;
		case 'H':
			warn_secret_header(optarg);
			user_header(optarg, strlen(optarg), "-H");
			break;
		case O_HFILE:
			load_header_file(optarg);
			break;
		case O_BEARER:
			load_auth(optarg, 0);
			nauth++;
			break;
		case O_BASIC:
			load_auth(optarg, 1);
			nauth++;
			break;
		case O_CTYPE:
			if (!header_value_ok(optarg))
				cli_fatalx("invalid TYPE for --content-type");
			ctype = optarg;
			break;
		case O_BODY:
			jq_body = compile("body", optarg, NULL);
			break;
		case O_URL:
			nurl++;
			url = optarg;
			warn_secret_url(url);
			break;
		case O_URLFILE:
			nurl++;
			url = load_url(optarg);
			url_path = optarg;
			break;
		case O_ALLOW:
			add_origin(optarg);
			break;
		case O_URLEXPR:
			jq_url = compile("url-expr", optarg, url_defs);
			break;
		case O_IDEM:
			jq_idem = compile("idempotency-key", optarg, NULL);
			break;
		case O_BATCH:
			batch_n =
			    (size_t)cli_opt_int("batch", optarg, 1, 100000);
			break;
		case O_BBYTES:
			batch_bytes = cli_opt_size(
			    "batch-bytes", optarg, 1, (uint64_t)1 << 32);
			break;
		case O_BWAIT:
			batch_wait_ms =
			    cli_opt_duration("batch-wait", optarg, 0, 3600000);
			bwait_set = 1;
			break;
		case O_BFORMAT:
			if (strcmp(optarg, "ndjson") == 0)
				batch_ndjson = 1;
			else if (strcmp(optarg, "array") == 0)
				batch_ndjson = 0;
			else
				cli_fatalx("invalid FORMAT for --batch-format "
					   "(array or ndjson)");
			break;
		case O_RATE:
			if (backoff_rate_parse(&bucket, optarg, &why) != 0)
				cli_fatalx("invalid RATE for --rate: %s", why);
			break;
		case O_ORDER:
			jq_order = compile("order-by", optarg, NULL);
			break;
		case O_SIGN:
			sign_scheme = optarg;
			break;
		case O_SIGNKEY:
			sign_key = optarg;
			break;
		case O_PARALLEL:
			parallel =
			    (size_t)cli_opt_int("parallel", optarg, 1, 4096);
			break;
		case O_CACERT:
			ho.cacert = optarg;
			break;
		case 'k':
			ho.insecure = 1;
			break;
		case O_RETRYON:
			if (backoff_retry_parse(&retry, optarg, &why) != 0)
				cli_fatalx(
				    "invalid LIST for --retry-on: %s", why);
			break;
		case O_RBASE:
			retry_base_ms =
			    cli_opt_duration("retry-base", optarg, 0, 3600000);
			break;
		case O_RMAXWAIT:
			retry_max_wait_ms = cli_opt_duration(
			    "retry-max-wait", optarg, 0, 86400000);
			break;
		case O_RETRIES:
			retries = cli_opt_int("retries", optarg, 0, 1000);
			break;
		case O_RMAXTIME:
			retry_max_time_ms = cli_opt_duration(
			    "retry-max-time", optarg, 0, 30LL * 86400000);
			break;
		case O_CTIMEOUT:
			ho.connect_ms = (long)cli_opt_duration(
			    "connect-timeout", optarg, 1, 3600000);
			break;
		case O_TIMEOUT:
			ho.timeout_ms = (long)cli_opt_duration(
			    "timeout", optarg, 1, 86400000);
			break;
		case O_MAXRESP:
			ho.max_response = cli_opt_size(
			    "max-response", optarg, 1, (uint64_t)1 << 40);
			break;
		case O_DEAD:
			dlpath = optarg;
			break;
		case O_REPORT:
			reppath = optarg;
			break;
		case O_METRICS:
			metpath = optarg;
			break;
		case O_DRAIN:
			drain_ms = cli_opt_duration(
			    "drain-timeout", optarg, 0, 86400000);
			break;
		case O_MAXLINE:
			max_line = cli_opt_size(
			    "max-line", optarg, 1, (uint64_t)1 << 32);
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
	if (nurl > 1) {
		cli_warnx("the URL is given %d times (--url, --url-file): give "
			  "it once",
		    nurl);
		usage();
	}
	if (url == NULL) {
		if (argc < 1) {
			cli_warnx("no URL");
			usage();
		}
		url = argv[0];
		argc--;
		argv++;
		warn_secret_url(url);
	}
	/*
	 * The URL is checked before any input is read: a URL that can never
	 * work would otherwise dead-letter every record, after retries.  A
	 * URL from --url-file may be a secret: only the file is named.
	 */
	if (http_origin(url, 0, origin0, &why) != 0) {
		if (url_path != NULL)
			cli_fatalx("%s: %s", url_path, why);
		if (url_secret(url))
			cli_fatalx("invalid URL (not shown: it holds a "
				   "credential): %s",
			    why);
		cli_fatalx("invalid URL '%.40s%s': %s", url,
		    strlen(url) > 40 ? "..." : "", why);
	}
	if (norigins > 0 && jq_url == NULL) {
		cli_warnx("--allow-origin needs --url-expr");
		usage();
	}
	if (batch_n == 0 && (batch_bytes > 0 || batch_ndjson || bwait_set)) {
		cli_warnx("--batch-bytes, --batch-format and --batch-wait need "
			  "--batch");
		usage();
	}
	/* One Authorization header: the later would silently win. */
	if (nauth > 1) {
		cli_warnx("--bearer-file and --basic-file exclude each other, "
			  "and each is given once");
		usage();
	}
	if (nauth_headers + nauth > 1) {
		cli_warnx("an Authorization header is given %s: give one, so "
			  "that it is known which is sent",
		    nauth > 0 ? "by a header and by --bearer-file or "
				"--basic-file"
			      : "twice");
		usage();
	}
	if (batch_n > 0 &&
	    (jq_url != NULL || jq_idem != NULL || jq_order != NULL)) {
		cli_warnx("--batch does not go with --url-expr, "
			  "--idempotency-key or --order-by");
		usage();
	}
	if ((sign_scheme == NULL) != (sign_key == NULL)) {
		cli_warnx("--sign and --sign-key-file go together");
		usage();
	}
	if (sign_scheme != NULL && !signer_scheme_ok(sign_scheme))
		cli_fatalx("invalid value for --sign: %.40s (" SIGNER_SCHEMES
			   ")",
		    sign_scheme);
	/* A CA file that cannot be read would dead-letter every record. */
	if (ho.cacert != NULL && access(ho.cacert, R_OK) != 0)
		cli_fatal("--cacert %s", ho.cacert);
	if (sign_scheme != NULL &&
	    signer_load(&signer, sign_scheme, sign_key, &why) != 0) {
		if (why == NULL)
			exit(CLI_EXIT_FATAL);
		cli_fatalx("%s: %s",
		    cli_secret_name("--sign-key-file", sign_key), why);
	}
	if (ho.insecure)
		cli_warnx("warning: --insecure: server certificates are not "
			  "verified");
	if (!has_header("Content-Type")) {
		char buf[512];

		snprintf(buf, sizeof(buf), "Content-Type: %s",
		    ctype != NULL      ? ctype
			: batch_ndjson ? "application/x-ndjson"
				       : "application/json");
		add_header(buf, strlen(buf), "--content-type");
	}
	/*
	 * No 100-continue round trip before a body.  curl asks for one only
	 * for bodies over 1 MiB (1 KiB before 7.69), and an empty "Expect:"
	 * says no; the requests with a smaller body go without it, which
	 * spares curl a look at it in each of its header checks.
	 */
	expect_max = curl_version_info(CURLVERSION_NOW)->version_num >= 0x074500
	    ? 1024 * 1024
	    : 1024;
	for (l = hdrs; l != NULL; l = l->next)
		hdrs_expect = curl_slist_append(hdrs_expect, l->data);
	hdrs_expect = curl_slist_append(hdrs_expect, "Expect:");
	if (hdrs_expect == NULL)
		cli_fatalx("out of memory");

	ho.parallel = (long)parallel;
	if (http_init(&http, &ho) != 0)
		cli_fatalx("cannot initialise libcurl");
	live_max = (parallel + 1) * (batch_n > 0 ? batch_n : 1) + 4 * parallel;
	job_queue_init(&jobs, &out);
	if (pipe(sigpipe) != 0)
		cli_fatal("pipe");
	(void)fcntl(sigpipe[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(sigpipe[1], F_SETFL, O_NONBLOCK);
	(void)fcntl(sigpipe[0], F_SETFD, FD_CLOEXEC);
	(void)fcntl(sigpipe[1], F_SETFD, FD_CLOEXEC);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	out_init(&out, STDOUT_FILENO, "stdout");
	dl_check();
	/* The report quotes responses: customer data, as dead letters are. */
	if (reppath != NULL) {
		if (out_append_open(&rep, reppath, 0600) != 0)
			cli_fatal("%s", reppath);
		have_rep = 1;
	}
	/* Not among the delivered lines when both go to one terminal. */
	progress = !quiet && cli_progress_tty();
	setup_metrics(metpath);

	ioerr = run(argv, argc > 0 ? argc : 1, max_line);

	if (!quiet)
		cli_warnx("delivered %lu, retried %lu, dead-lettered %lu, "
			  "skipped %lu, rejected %lu; latency p50 %.2fms p95 "
			  "%.2fms p99 %.2fms",
		    ndelivered, nretried, ndead, nskipped, nrejected,
		    metrics_lat_pct(&lat, 0.50), metrics_lat_pct(&lat, 0.95),
		    metrics_lat_pct(&lat, 0.99));
	/* Interrupted: what was not read was not delivered either. */
	if (ndead > 0 || nrejected > 0 || got_signal)
		rc = CLI_EXIT_REJECTS;
	if (ioerr != 0)
		rc = CLI_EXIT_FATAL;
	if (dl_open && out_close(&dl) != 0) {
		cli_warn("%s", dl.name);
		rc = CLI_EXIT_FATAL;
	}
	if (have_rep && out_close(&rep) != 0) {
		cli_warn("%s", reppath);
		rc = CLI_EXIT_FATAL;
	}
	metrics_close(&met);
	rc = out_close_stdout(&out, rc);
	http_free(&http);
	free_headers(hdrs);
	free_headers(hdrs_expect);
	signer_free(&signer);
	jqr_free(jq_body);
	jqr_free(jq_url);
	jqr_free(jq_idem);
	jqr_free(jq_order);
	free(origins);
	job_queue_free(&jobs);
	curl_global_cleanup();
	return rc;
}
