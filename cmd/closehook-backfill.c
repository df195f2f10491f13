/*
 * closehook-backfill - fetch events from Close's Event Log API and write
 * them as event records, {"subscription_id":null,"event":<event>}, with the
 * event's bytes as the API sent them (only literal CR and LF bytes, which
 * valid JSON holds only as whitespace, become spaces).
 *
 * The Event Log answers newest first, 50 events a page, with a cursor to
 * the next (older) page.  --order newest writes each page as it arrives.
 * The default, oldest first, walks the time range in windows of a day from
 * the oldest: each window is fetched whole (newest first, kept in memory up
 * to a bound and spilled to an unlinked temporary file beyond it), then
 * written oldest first.
 *
 * --state FILE checkpoints after every page of records written and flushed
 * (temp file, fsync, rename).  Oldest first, the checkpoint is a position:
 * every event dated before it was written, and so were the listed ids dated
 * exactly at it; newest first, it is the next page's cursor.  A rerun with
 * the same state resumes there without fetching what was written; after a
 * complete run the next one starts 5 minutes before the newest date_updated
 * written, because Close consolidates events in place.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "atomicfile.h"
#include "backoff.h"
#include "cli.h"
#include "closeapi.h"
#include "evrec.h"
#include "isotime.h"
#include "json.h"
#include "mark.h"
#include "metrics.h"
#include "out.h"
#include "readfile.h"

static const char synopsis[] =
    "closehook-backfill [--since TIME] [--until TIME] [--object-type T] "
    "[--action A]\n"
    "\t[--object-id ID] [--lead-id ID] [--user-id ID] [--request-id ID]\n"
    "\t[--state FILE [--commit-when acked|written]] [--order oldest|newest]\n"
    "\t[--event-id ID] [--api-url URL] [--api-key-file FILE] [--rate RATE]\n"
    "\t[--progress] [--metrics FILE] [-q]\n"
    "closehook-backfill --commit FILE [--commit-interval DURATION] [-q]\n";

#define US 1000000LL
#define RETENTION_US (30LL * 86400 * US)
#define OVERLAP_US (5LL * 60 * US)
/* Oldest first: how often a day is fetched again after Close refused its
 * cursor, before the run gives up. */
#define WINDOW_AGAIN 2
#define WINDOW_US (86400LL * US)
#define PAGE_LIMIT 50
#define QUERY_MAX 8192
#define CURSOR_MAX 2048
#define ID_MAX 128

/* Close's Event Log filters, in the order they are sent. */
enum {
	F_OBJECT_TYPE,
	F_OBJECT_ID,
	F_ACTION,
	F_LEAD_ID,
	F_USER_ID,
	F_REQUEST_ID,
	F_COUNT
};
static const char *const fname[F_COUNT] = {
	"object_type",
	"object_id",
	"action",
	"lead_id",
	"user_id",
	"request_id",
};
static const char *const fopt[F_COUNT] = {
	"--object-type",
	"--object-id",
	"--action",
	"--lead-id",
	"--user-id",
	"--request-id",
};
#define B(f) (1u << (f))
/* CLOSE.md: the accepted combinations (each may add date bounds). */
static const unsigned combos[] = {
	0,
	B(F_OBJECT_TYPE) | B(F_OBJECT_ID),
	B(F_OBJECT_TYPE) | B(F_ACTION),
	B(F_OBJECT_ID) | B(F_ACTION),
	B(F_LEAD_ID) | B(F_OBJECT_TYPE),
	B(F_LEAD_ID) | B(F_OBJECT_TYPE) | B(F_ACTION),
	B(F_LEAD_ID) | B(F_USER_ID) | B(F_OBJECT_TYPE),
	B(F_LEAD_ID) | B(F_USER_ID) | B(F_OBJECT_TYPE) | B(F_ACTION),
	B(F_LEAD_ID) | B(F_USER_ID),
	B(F_USER_ID) | B(F_OBJECT_ID),
	B(F_USER_ID) | B(F_OBJECT_ID) | B(F_ACTION),
	B(F_USER_ID) | B(F_OBJECT_TYPE),
	B(F_USER_ID) | B(F_OBJECT_TYPE) | B(F_ACTION),
	B(F_LEAD_ID),
	B(F_USER_ID),
	B(F_REQUEST_ID),
};

static const char accepted_text[] =
    "accepted: none; object-type+object-id; object-type+action; "
    "object-id+action;\n"
    "  lead-id+object-type[+action]; lead-id+user-id+object-type[+action];\n"
    "  lead-id+user-id; user-id+object-id[+action]; "
    "user-id+object-type[+action];\n"
    "  lead-id; user-id; request-id (each may add --since and --until)";

/* Options and run-wide state. */
static const char *filter[F_COUNT];
static char fquery[QUERY_MAX]; /* the non-date filters, encoded */
static int64_t now_us;
static int quiet, show_progress, newest_first;
static int progress_redraw; /* stderr is a terminal of its own */
static const char *state_path, *metrics_path;
/*
 * --commit-when acked: checkpoints travel down the pipeline as marks, and
 * `closehook-backfill --commit FILE` at its end writes them (state_canon:
 * the state file's path as both ends spell it).
 */
static int acked;
static char state_canon[PATH_MAX];
static struct closeapi *api;
static struct out out;
static volatile sig_atomic_t stop;
static size_t spill_max = 64u << 20;

/* Counters for progress and --metrics; gauges set before a write. */
static uint64_t npages, nevents, nnodata, nskipped;
static struct metrics met;
static int m_complete;
static double m_duration, m_ended = NAN, m_newest = NAN, m_lag = NAN;
static uint64_t t_start_ns, last_progress_ns, last_requests;
static int64_t range_lo, range_hi; /* for progress: the time range */
static int64_t done_lo; /* oldest-first: done below this */
static int64_t seen_lo; /* oldest date seen in this fetch */
static int range_done; /* the whole range was walked */
/* --state: a checkpoint exists (read, written, or sent down as a mark). */
static int have_checkpoint;

/* The checkpoint, in memory as in the state file. */
struct state {
	int running;
	int newest_order;
	int64_t since, until; /* the run's bounds; -1: none */
	int64_t pos; /* oldest first: done below (and at) this */
	char **ids; /* ids dated exactly pos that were written */
	size_t nids, capids;
	char cursor[CURSOR_MAX]; /* newest first: the next page; "" first */
	/*
	 * Newest first: the oldest date written by this walk (-1: none), and
	 * the upper bound of its pages' query after Close refused a saved
	 * cursor (-1: the run's until).
	 */
	int64_t oldest, below;
	int64_t newest; /* newest date_updated written, or -1 */
	int64_t through; /* last complete run covered up to this */
};
static struct state st = { .since = -1,
	.until = -1,
	.pos = -1,
	.newest = -1,
	.through = -1,
	.oldest = -1,
	.below = -1 };

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
	    "Fetch events from Close's Event Log API and write them as event "
	    "records.\n"
	    "\n"
	    "  --since TIME         events updated at or after TIME (ISO-8601, "
	    "or 90m,\n"
	    "                       12h, 7d before now)\n"
	    "  --until TIME         events updated before TIME\n"
	    "  --object-type T      Close's object_type filter\n"
	    "  --action A           Close's action filter\n"
	    "  --object-id ID       Close's object_id filter\n"
	    "  --lead-id ID         Close's lead_id filter\n"
	    "  --user-id ID         Close's user_id filter\n"
	    "  --request-id ID      Close's request_id filter\n"
	    "  --state FILE         checkpoint file: resume, then incremental "
	    "runs\n"
	    "  --commit-when WHEN   written (default): checkpoint what was "
	    "written;\n"
	    "                       acked: what the pipeline's end "
	    "acknowledged "
	    "(marks)\n"
	    "  --commit FILE        at a pipeline's end: write the checkpoints "
	    "its marks\n"
	    "                       carry to FILE, passing every other line "
	    "on\n"
	    "  --commit-interval DURATION\n"
	    "                       with --commit: at most this often in a "
	    "flood "
	    "(1s)\n"
	    "  --order ORDER        oldest (default, oldest first) or newest\n"
	    "  --event-id ID        fetch one event\n"
	    "  --api-url URL        API base (default " CLOSEAPI_DEFAULT_URL
	    ")\n"
	    "  --api-key-file FILE  read the API key from FILE (else "
	    "$CLOSE_API_KEY)\n"
	    "  --rate RATE          at most N/s, N/m or N/h requests\n"
	    "  --progress           progress on stderr (default when it is a "
	    "terminal)\n"
	    "  --metrics FILE       keep Prometheus metrics in FILE\n"
	    "  -q, --quiet          no warnings or progress\n"
	    "  -h, --help           show this help\n"
	    "      --version        show the version\n");
	exit(cli_close_out());
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* -- times ----------------------------------------------------------------- */

static int64_t
wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * US + ts.tv_nsec / 1000;
}

/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" into buf (room for 64). */
static const char *
fmt_us(int64_t us, char *buf)
{
	int64_t s = us / US, f = us % US;
	struct tm tm;
	time_t t;

	if (f < 0) {
		f += US;
		s--;
	}
	t = (time_t)s;
	gmtime_r(&t, &tm);
	snprintf(buf, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)f);
	return buf;
}

static int
parse_us(const char *p, size_t n, int64_t *us)
{
	struct isotime t;

	if (isotime_parse(p, n, &t) != 0)
		return -1;
	*us = t.sec * US + t.nsec / 1000;
	return 0;
}

/*
 * --since/--until (opt names it without dashes): ISO-8601, or a duration
 * before now.
 */
static int64_t
opt_time(const char *opt, const char *s)
{
	int64_t us, ms;

	if (parse_us(s, strlen(s), &us) == 0)
		return us;
	if (isotime_is_date(s, strlen(s)) && parse_us(s, strlen(s), &us) != 0) {
		char buf[32];

		snprintf(buf, sizeof(buf), "%.10sT00:00:00Z", s);
		if (parse_us(buf, strlen(buf), &us) == 0)
			return us;
	}
	if (cli_duration(s, 0, 3650LL * 86400 * 1000, &ms) != 0)
		cli_fatalx("invalid value '%.32s%s' for --%s: a date-time "
			   "(2026-11-01T00:00:00Z, 2026-11-01) or a duration "
			   "before now (90m, 12h, 7d; a bare number is "
			   "seconds), at most 3650d",
		    s, strlen(s) > 32 ? "..." : "", opt);
	return now_us - ms * 1000;
}

/* A JSON string member of obj, unescaped into buf (cap bytes). */
static size_t
member_str(struct json_span obj, const char *key, char *buf, size_t cap)
{
	struct json_span v;

	if (!json_object_get(obj, key, strlen(key), &v) ||
	    v.type != JSON_STRING || v.n > cap)
		return 0;
	return json_str_unescape(v, buf);
}

/* An event's date_updated in microseconds, or -1. */
static int64_t
event_date(struct json_span ev)
{
	char buf[64];
	size_t n = member_str(ev, "date_updated", buf, sizeof(buf));
	int64_t us;

	if (n == 0 || parse_us(buf, n, &us) != 0)
		return -1;
	return us;
}

/* -- state file ------------------------------------------------------------ */

static void
ids_clear(struct state *s)
{
	size_t i;

	for (i = 0; i < s->nids; i++)
		free(s->ids[i]);
	s->nids = 0;
}

static void
ids_add(struct state *s, const char *id, size_t n)
{
	char **nv;

	if (s->nids == s->capids) {
		s->capids = s->capids ? s->capids * 2 : 16;
		nv = xrealloc(s->ids, s->capids * sizeof(*nv));
		s->ids = nv;
	}
	s->ids[s->nids] = xstrndup(id, n);
	s->nids++;
}

static int
ids_has(const struct state *s, const char *id, size_t n)
{
	size_t i;

	for (i = 0; i < s->nids; i++)
		if (strlen(s->ids[i]) == n && memcmp(s->ids[i], id, n) == 0)
			return 1;
	return 0;
}

static void
put_str(FILE *f, const char *s)
{
	char *esc;
	size_t n = strlen(s);

	esc = xmalloc(6 * n + 1);
	n = json_escape(s, n, esc);
	fprintf(f, "\"%.*s\"", (int)n, esc);
	free(esc);
}

static void
put_date(FILE *f, const char *key, int64_t us)
{
	char buf[64];

	if (us >= 0)
		fprintf(f, ",\"%s\":\"%s\"", key, fmt_us(us, buf));
}

/*
 * Replace path atomically (atomicfile.h) with what fill prints: it prints
 * into memory first, so a write error cannot leave half a file.
 */
static int
atomic_write(const char *path, void (*fill)(FILE *, void *), void *arg)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f;
	int rc;

	if ((f = open_memstream(&text, &n)) == NULL)
		return -1;
	fill(f, arg);
	if (fclose(f) != 0) {
		free(text);
		return -1;
	}
	rc = atomicfile_write(path, text, n);
	free(text);
	return rc;
}

static void
fill_state(FILE *f, void *arg)
{
	size_t i;

	(void)arg;
	fprintf(f, "{\"version\":1,\"filters\":");
	put_str(f, fquery);
	fprintf(f, ",\"status\":\"%s\",\"order\":\"%s\"",
	    st.running ? "running" : "complete",
	    st.newest_order ? "newest" : "oldest");
	if (st.running) {
		put_date(f, "since", st.since);
		put_date(f, "until", st.until);
		if (!st.newest_order) {
			put_date(f, "position", st.pos);
			fprintf(f, ",\"position_ids\":[");
			for (i = 0; i < st.nids; i++) {
				if (i > 0)
					fputc(',', f);
				put_str(f, st.ids[i]);
			}
			fputc(']', f);
		} else {
			fprintf(f, ",\"cursor\":");
			put_str(f, st.cursor);
			put_date(f, "oldest", st.oldest);
			put_date(f, "below", st.below);
		}
	}
	put_date(f, "newest", st.newest);
	put_date(f, "through", st.through);
	fputc('}', f);
}

static void
fill_state_file(FILE *f, void *arg)
{
	fill_state(f, arg);
	fputc('\n', f);
}

/*
 * A state file's path as both ends of a pipeline spell it: its directory
 * resolved (the file itself may not exist yet), then its name.
 */
static void
canon_path(const char *path, char *dst, size_t cap)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *base = slash == NULL ? path : slash + 1;

	if (atomicfile_dir(path, dir, sizeof(dir)) != 0)
		cli_fatalx("%s: path too long", path);
	if (*base == '\0' || realpath(dir, real) == NULL)
		cli_fatal("%s: cannot resolve its directory", path);
	if ((size_t)snprintf(dst, cap, "%s/%s",
		strcmp(real, "/") == 0 ? "" : real, base) >= cap)
		cli_fatalx("%s: path too long", path);
}

static void flush_out(void);

/*
 * acked: the checkpoint as a mark after the page's records, for
 * `closehook-backfill --commit` at the pipeline's end.  One that does not
 * fit in a mark (thousands of events dated the same microsecond) is left
 * to a later one, which covers it.
 */
static void
put_mark(void)
{
	static int warned;
	char *text = NULL;
	size_t n = 0;
	FILE *f;

	if ((f = open_memstream(&text, &n)) == NULL)
		cli_fatal("out of memory");
	fprintf(f, "%s{\"backfill\":", MARK_PREFIX);
	put_str(f, state_canon);
	fprintf(f, ",\"state\":");
	fill_state(f, NULL);
	fputs("}}", f);
	if (fclose(f) != 0)
		cli_fatal("out of memory");
	if (n > MARK_MAX) {
		if (!warned && !quiet)
			cli_warnx(
			    "a checkpoint too large for a mark (%zu bytes): "
			    "left to a later one",
			    n);
		warned = 1;
	} else {
		out_write(&out, text, n);
		out_putc(&out, '\n');
		flush_out();
	}
	free(text);
}

/*
 * Checkpoint: what was written goes first, and into a regular file it is
 * on disk first (out_durable), so that a power loss cannot keep a
 * checkpoint past records it lost.
 */
static void
save_state(void)
{
	if (state_path == NULL)
		return;
	have_checkpoint = 1;
	if (acked) {
		put_mark();
		return;
	}
	if (out_durable(&out) != 0) {
		errno = out.err;
		cli_fatal("stdout");
	}
	if (atomic_write(state_path, fill_state_file, NULL) != 0)
		cli_fatal("%s: cannot write the state", state_path);
}

static int64_t
state_date(struct json_span root, const char *key, const char *path)
{
	char buf[64];
	size_t n;
	int64_t us;
	struct json_span v;

	if (!json_object_get(root, key, strlen(key), &v))
		return -1;
	n = member_str(root, key, buf, sizeof(buf));
	if (n == 0 || parse_us(buf, n, &us) != 0)
		cli_fatalx("%s: invalid \"%s\" in the state file", path, key);
	return us;
}

static void
load_state(const char *path)
{
	char *buf = NULL, tmp[CURSOR_MAX], order[16], status[16];
	struct json_span root, v, e;
	struct json_iter it;
	size_t n = 0, k;

	if ((buf = readfile(path, 64u << 20, &n)) == NULL) {
		if (errno == ENOENT)
			return;
		if (errno == EFBIG)
			cli_fatalx("%s: state file too large", path);
		cli_fatal("%s", path);
	}
	have_checkpoint = 1;
	if (n == 0 || json_parse(buf, n, &root, NULL) != 0 ||
	    root.type != JSON_OBJECT ||
	    !json_object_get(root, "filters", 7, &v) || v.type != JSON_STRING ||
	    v.n > sizeof(tmp))
		cli_fatalx("%s: not a closehook-backfill state file", path);
	k = json_str_unescape(v, tmp);
	if (k != strlen(fquery) || memcmp(tmp, fquery, k) != 0)
		cli_fatalx(
		    "%s: the state was made with other filters (%.*s%s); "
		    "use the same filters or another --state file",
		    path, (int)(k > 200 ? 200 : k), tmp, k == 0 ? "none" : "");
	k = member_str(root, "status", status, sizeof(status) - 1);
	status[k] = '\0';
	k = member_str(root, "order", order, sizeof(order) - 1);
	order[k] = '\0';
	st.running = strcmp(status, "running") == 0;
	st.newest_order = strcmp(order, "newest") == 0;
	st.newest = state_date(root, "newest", path);
	st.through = state_date(root, "through", path);
	if (!st.running)
		goto done;
	if (st.newest_order != newest_first)
		cli_fatalx("%s: an interrupted run in --order %s is to be "
			   "resumed; use --order %s or another --state file",
		    path, order, order);
	st.since = state_date(root, "since", path);
	st.until = state_date(root, "until", path);
	if (st.newest_order) {
		k = member_str(
		    root, "cursor", st.cursor, sizeof(st.cursor) - 1);
		st.cursor[k] = '\0';
		st.oldest = state_date(root, "oldest", path);
		st.below = state_date(root, "below", path);
	} else {
		st.pos = state_date(root, "position", path);
		if (json_object_get(root, "position_ids", 12, &v) &&
		    v.type == JSON_ARRAY) {
			json_iter_init(&it, v);
			while (json_iter_elem(&it, &e)) {
				if (e.type != JSON_STRING || e.n > ID_MAX)
					continue;
				k = json_str_unescape(e, tmp);
				ids_add(&st, tmp, k);
			}
		}
	}
done:
	free(buf);
}

/* -- --commit FILE: the end of an acknowledged pipeline ---------------------- */

/* The newest checkpoint taken from a mark, and the last one written. */
static char *commit_pend, *commit_last;
static size_t commit_pend_n, commit_last_n;
/* Whether each says "complete" (-1: no checkpoint written yet). */
static int commit_pend_done, commit_last_done = -1;

static int
commit_take(void *arg, const char *text, size_t n, unsigned long lineno)
{
	static int warned;
	struct json_span root, path, state, ver, status;
	char name[PATH_MAX];
	size_t k;

	(void)arg;
	if (json_parse(text, n, &root, NULL) != 0 || root.type != JSON_OBJECT ||
	    !json_object_get(root, "backfill", 8, &path) ||
	    path.type != JSON_STRING ||
	    !json_object_get(root, "state", 5, &state) ||
	    state.type != JSON_OBJECT ||
	    !json_object_get(state, "version", 7, &ver) || ver.n != 1 ||
	    *ver.p != '1') {
		cli_recwarnx(
		    "stdin", lineno, "not a closehook-backfill mark: ignored");
		return 0;
	}
	k = path.n <= sizeof(name) ? json_str_unescape(path, name) : 0;
	if (k == 0 || k != strlen(state_canon) ||
	    memcmp(name, state_canon, k) != 0) {
		if (!warned)
			cli_recwarnx("stdin", lineno,
			    "a checkpoint for another state file (%.*s): "
			    "ignored; give closehook-backfill --commit the "
			    "file --state names",
			    (int)(k > 200 ? 200 : k), name);
		warned = 1;
		return 0;
	}
	commit_pend_done = json_object_get(state, "status", 6, &status) &&
	    status.type == JSON_STRING && json_str_eq(status, "complete", 8);
	commit_pend = xrealloc(commit_pend, state.n + 1);
	memcpy(commit_pend, state.p, state.n);
	commit_pend[state.n] = '\n';
	commit_pend_n = state.n + 1;
	return 1;
}

/* Write the newest checkpoint (stdout is on disk by now: mark_end_run). */
static int
commit_write(void *arg)
{
	char *t;
	size_t n;

	(void)arg;
	if (commit_last != NULL && commit_last_n == commit_pend_n &&
	    memcmp(commit_last, commit_pend, commit_pend_n) == 0) {
		commit_last_done = commit_pend_done;
		return 0;
	}
	if (atomicfile_write(state_path, commit_pend, commit_pend_n) != 0) {
		cli_warn("%s: cannot write the state", state_path);
		return -1;
	}
	t = commit_last;
	n = commit_last_n;
	commit_last = commit_pend;
	commit_last_n = commit_pend_n;
	commit_pend = t;
	commit_pend_n = n;
	commit_last_done = commit_pend_done;
	return 0;
}

static int
commit_run(uint64_t interval_ns)
{
	struct mark_end me = { commit_take, commit_write, NULL, interval_ns };
	int rc;

	canon_path(state_path, state_canon, sizeof(state_canon));
	signal(SIGPIPE, SIG_IGN);
	out_init(&out, STDOUT_FILENO, "stdout");
	rc = mark_end_run(&out, &me);
	/*
	 * The fetcher's last mark says whether its run completed.  Without
	 * it (a refused key, retries run out, a stage that died) the
	 * pipeline's status would be this end's 0 under sh, which has no
	 * pipefail: a cron job or a unit would hide the failure.
	 */
	if (rc == CLI_EXIT_OK && commit_last_done != 1) {
		if (!quiet)
			cli_warnx("%s: %s: the next run resumes from the "
				  "checkpoint (the stages before say why)",
			    state_path,
			    commit_last_done < 0
				? "no checkpoint came down the pipeline"
				: "the run did not complete");
		rc = CLI_EXIT_REJECTS;
	}
	rc = out_close_stdout(&out, rc);
	free(commit_pend);
	free(commit_last);
	return rc;
}

/* -- metrics and progress ---------------------------------------------------- */

/* Before each metrics write: the gauges that follow from the state. */
static void
metrics_update(void *arg)
{
	double now = metrics_wall();

	m_duration = (double)(cli_mono_ns() - t_start_ns) / 1e9;
	m_newest = m_lag = NAN;
	if (st.newest >= 0) {
		m_newest = (double)st.newest / 1e6;
		m_lag = now > m_newest ? now - m_newest : 0;
	}
}

static void end_metrics_at_exit(void);

static void
setup_metrics(void)
{
	const struct closeapi_stats *s = closeapi_stats(api);
	const struct metrics_def defs[] = {
		{ "closehook_backfill_pages_total", METRICS_COUNTER,
		    METRICS_U64, &npages, "Event Log pages fetched.", NULL,
		    NULL },
		{ "closehook_backfill_events_total", METRICS_COUNTER,
		    METRICS_U64, &nevents, "Event records written.", NULL,
		    NULL },
		{ "closehook_backfill_requests_total", METRICS_COUNTER,
		    METRICS_U64, &s->requests, "HTTP requests sent.", NULL,
		    NULL },
		{ "closehook_backfill_retries_total", METRICS_COUNTER,
		    METRICS_U64, &s->retries, "Transient failures retried.",
		    NULL, NULL },
		{ "closehook_backfill_rate_limited_total", METRICS_COUNTER,
		    METRICS_U64, &s->rate_limited, "429 answers.", NULL, NULL },
		{ "closehook_backfill_server_errors_total", METRICS_COUNTER,
		    METRICS_U64, &s->server_errors, "5xx answers.", NULL,
		    NULL },
		{ "closehook_backfill_wait_seconds_total", METRICS_COUNTER,
		    METRICS_DOUBLE, &s->waited,
		    "Time spent waiting: pacing, back-off and 429s.", NULL,
		    NULL },
		{ "closehook_backfill_failed_requests_total", METRICS_COUNTER,
		    METRICS_U64, &s->failures,
		    "Requests that failed after every retry.", NULL, NULL },
		{ "closehook_backfill_events_without_data_total",
		    METRICS_COUNTER, METRICS_U64, &nnodata,
		    "Events older than an hour that came without data.", NULL,
		    NULL },
		{ "closehook_backfill_complete", METRICS_GAUGE, METRICS_INT,
		    &m_complete, "1 when the run fetched its whole range.",
		    NULL, NULL },
		{ "closehook_backfill_duration_seconds", METRICS_GAUGE,
		    METRICS_DOUBLE, &m_duration, "Wall time of the run.", NULL,
		    NULL },
		{ "closehook_backfill_last_run_timestamp_seconds",
		    METRICS_GAUGE, METRICS_DOUBLE, &m_ended,
		    "When the run ended.", NULL, NULL },
		{ "closehook_backfill_newest_event_timestamp_seconds",
		    METRICS_GAUGE, METRICS_DOUBLE, &m_newest,
		    "date_updated of the newest event written.", NULL, NULL },
		{ "closehook_backfill_checkpoint_lag_seconds", METRICS_GAUGE,
		    METRICS_DOUBLE, &m_lag,
		    "Now minus the date_updated of the newest event written.",
		    NULL, NULL },
	};

	metrics_init(&met, metrics_path);
	metrics_add(&met, defs, sizeof(defs) / sizeof(defs[0]));
	metrics_add_start_time(&met, "closehook_backfill_start_time_seconds");
	metrics_on_update(&met, metrics_update, NULL);
	metrics_start(&met);
	atexit(end_metrics_at_exit);
}

/* The run is over: the final values, once. */
static void
end_metrics(int complete)
{
	static int ended;

	if (ended)
		return;
	ended = 1;
	m_complete = complete;
	m_ended = metrics_wall();
	metrics_close(&met);
}

/*
 * A run that exits on a fatal error (a refused key, a failed write) ends
 * its metrics too, incomplete, so that a backfill failing run after run is
 * seen (closehook(7): ClosehookBackfillFailing), not taken for one that is
 * still running.
 */
static void
end_metrics_at_exit(void)
{
	end_metrics(0);
}

/* Called while closeapi waits, and after each page. */
static void
poll_metrics(void *arg)
{
	metrics_poll(&met);
}

static void
fmt_dur(double s, char *buf, size_t n)
{
	if (s < 0 || s > 1e7)
		snprintf(buf, n, "?");
	else if (s < 60)
		snprintf(buf, n, "%.0fs", s);
	else if (s < 3600)
		snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		snprintf(buf, n, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

/*
 * About once a second, and at the end: pages, events, the request rate,
 * retries, 5xx and 429 answers, the share of the range done and the time
 * left.  The rate is measured over the time since the previous line, at
 * least a second (the first line comes a second after the start): over the
 * few milliseconds of the first request it read 181 req/s under a limit of
 * 5.  The last line gives the whole run's rate, over a second at least.
 */
static void
progress(int last)
{
	const struct closeapi_stats *s = closeapi_stats(api);
	uint64_t t = cli_mono_ns();
	double el = (double)(t - t_start_ns) / 1e9, frac = 0, total, dt, rate;
	char eta[32];

	if (!show_progress || quiet)
		return;
	if (!last && t - last_progress_ns < 1000000000ULL)
		return;
	if (last) {
		dt = el;
		rate = (double)s->requests;
	} else {
		dt = (double)(t - last_progress_ns) / 1e9;
		rate = (double)(s->requests - last_requests);
	}
	rate /= dt > 1 ? dt : 1;
	last_progress_ns = t;
	last_requests = s->requests;
	total = (double)(range_hi - range_lo);
	/* Newest first runs down from the top; oldest first goes up a
	 * window at a time. */
	if (range_done)
		frac = 1;
	else if (total > 0 && newest_first && seen_lo >= 0)
		frac = (double)(range_hi - seen_lo) / total;
	else if (total > 0 && !newest_first)
		frac = (double)(done_lo - range_lo) / total;
	if (frac < 0)
		frac = 0;
	if (frac > 1)
		frac = 1;
	fmt_dur(frac > 0.001 ? el * (1 - frac) / frac : -1, eta, sizeof(eta));
	fprintf(stderr,
	    "%s: %llu pages, %llu events, %.1f req/s, %llu retried, "
	    "%llu server errors, %llu rate-limited, %.0f%% of the range, "
	    "ETA %s%s",
	    cli_prog, (unsigned long long)npages, (unsigned long long)nevents,
	    rate, (unsigned long long)s->retries,
	    (unsigned long long)s->server_errors,
	    (unsigned long long)s->rate_limited, frac * 100, eta,
	    progress_redraw && !last ? "\033[K\r" : "\n");
}

/* -- output ------------------------------------------------------------------ */

/* Write one event record; CR and LF (JSON whitespace there) become spaces. */
static void
emit(const char *p, size_t n)
{
	evrec_write_event(&out, p, n);
	out_putc(&out, '\n');
	nevents++;
}

/* Flush stdout; a write error is fatal (the checkpoint must not pass it). */
static void
flush_out(void)
{
	if (out_flush(&out) != 0) {
		errno = out.err;
		cli_fatal("stdout");
	}
}

/* Note an event without data that Close would have sent to an admin key. */
static void
check_data(struct json_span ev, int64_t date)
{
	struct json_span v;
	char act[32];
	size_t n;

	if (date < 0 || date > now_us - 3600 * US)
		return;
	if (json_object_get(ev, "data", 4, &v) && v.type != JSON_NULL)
		return;
	n = member_str(ev, "action", act, sizeof(act));
	if (n == 7 && memcmp(act, "deleted", 7) == 0)
		return;
	nnodata++;
}

/* -- fetching ---------------------------------------------------------------- */

/*
 * The query for a page: the filters, the date bounds, _limit, _cursor.
 * gte/lt < 0 mean no bound.
 */
static void
build_query(char *q, size_t cap, int64_t gte, int64_t lt, const char *cursor)
{
	char d[64];

	snprintf(q, cap, "/event/?");
	if (strlen(fquery) + 9 >= cap)
		cli_fatalx("filters too long");
	strcat(q, fquery);
	if ((gte >= 0 &&
		closeapi_query_add(q + 8, cap - 8, "date_updated__gte",
		    fmt_us(gte, d)) != 0) ||
	    (lt >= 0 &&
		closeapi_query_add(
		    q + 8, cap - 8, "date_updated__lt", fmt_us(lt, d)) != 0) ||
	    closeapi_query_add(q + 8, cap - 8, "_limit", "50") != 0 ||
	    (cursor != NULL && cursor[0] != '\0' &&
		closeapi_query_add(q + 8, cap - 8, "_cursor", cursor) != 0))
		cli_fatalx("query too long");
}

enum fetch {
	FETCH_OK,
	FETCH_GAVE_UP,
	FETCH_STOPPED,
	FETCH_CURSOR_REFUSED
};

/* What a fatal answer to query may mean, for its message ("" or " (...)"). */
static const char *
fatal_hint(long status, const char *query)
{
	if (status == 404)
		return " (is /api/v1 missing from --api-url?)";
	if (status != 400 || strstr(query, "_cursor=") == NULL)
		return "";
	/* Newest first, a cursor is refused fatally only from a state file
	 * that predates the oldest date kept beside it. */
	if (newest_first)
		return state_path != NULL ? " (a saved cursor that Close no "
					    "longer takes? remove the state "
					    "file to start over)"
					  : "";
	return " (to a cursor, for the third time in this day's events)";
}

/*
 * Fetch one page; on FETCH_OK *pg spans the answer (valid until the next
 * request).  Fatal answers (401/403, 400, ...) exit 2 here, but for a 400
 * to a query whose cursor the caller can do without (spare):
 * FETCH_CURSOR_REFUSED.  How long Close keeps a cursor is not documented.
 */
static enum fetch
fetch_page(const char *query, struct closeapi_page *pg, int spare)
{
	struct closeapi_resp r;
	const char *why;
	int tries;

	for (tries = 0;; tries++) {
		switch (closeapi_request(api, "GET", query, NULL, 0, &r)) {
		case CLOSEAPI_OK:
			break;
		case CLOSEAPI_STOPPED:
			return FETCH_STOPPED;
		case CLOSEAPI_AUTH:
			cli_fatalx("the API refused the key (HTTP %ld): %s",
			    r.status, r.error);
		case CLOSEAPI_HTTP:
			if (r.status == 400 && spare) {
				if (!quiet)
					cli_warnx("the API refused the cursor "
						  "(HTTP 400: %s)",
					    r.error[0] ? r.error
						       : "no error text");
				return FETCH_CURSOR_REFUSED;
			}
			cli_fatalx("the API answered HTTP %ld: %s%s", r.status,
			    r.error[0] ? r.error : "(no error text)",
			    fatal_hint(r.status, query));
		case CLOSEAPI_FAILED:
			cli_warnx("a page failed after every retry: %s%s",
			    r.error,
			    state_path == NULL ? ""
				: !have_checkpoint
				? "; no checkpoint was made yet: the next run "
				  "starts over"
				: acked
				? "; the checkpoints went down the pipeline: "
				  "the next run resumes at the last one its "
				  "end committed"
				: "; the checkpoint is saved: the next run "
				  "resumes there");
			return FETCH_GAVE_UP;
		}
		if (closeapi_page_parse(r.body, r.n, pg, &why) == 0) {
			npages++;
			metrics_poll(&met);
			return FETCH_OK;
		}
		/* Valid JSON of the wrong shape: a proxy, or a bug. */
		if (tries >= 2) {
			cli_warnx("a page failed: %s", why);
			return FETCH_GAVE_UP;
		}
	}
}

/* The cursor_next of a page into buf; 0 when it is the last page. */
static int
next_cursor(const struct closeapi_page *pg, char *buf, size_t cap)
{
	size_t n;

	if (pg->cursor_next.type != JSON_STRING)
		return 0;
	if (pg->cursor_next.n >= cap)
		cli_fatalx(
		    "the API sent a cursor longer than %zu bytes", cap - 1);
	n = json_str_unescape(pg->cursor_next, buf);
	buf[n] = '\0';
	return n > 0;
}

static void
note_newest(int64_t d)
{
	if (d > st.newest)
		st.newest = d;
}

/*
 * --order newest: write each page as it arrives; checkpoint the cursor and
 * the oldest date written.  A cursor Close refuses (the saved one, or one
 * that expired during a long run) is not needed to go on: every event of
 * the range newer than the oldest date written was written, so the walk
 * starts again below that date, and at it, since the events that share it
 * may not all have been written (they are written again: at least once).
 */
static int
run_newest(void)
{
	static char query[QUERY_MAX];
	struct closeapi_page pg;
	struct json_iter it;
	struct json_span ev;
	int64_t d;
	char a[64];

	for (;;) {
		build_query(query, sizeof(query), st.since,
		    st.below >= 0 ? st.below : st.until, st.cursor);
		switch (fetch_page(
		    query, &pg, st.cursor[0] != '\0' && st.oldest >= 0)) {
		case FETCH_OK:
			break;
		case FETCH_STOPPED:
			return -1;
		case FETCH_GAVE_UP:
			nskipped++;
			return 1;
		case FETCH_CURSOR_REFUSED:
			/*
			 * Refused again before the walk got below its last
			 * bound: over 50 events share the oldest date, and
			 * going on would write the same page for ever.
			 */
			if (st.below == st.oldest + 1)
				cli_fatalx(
				    "the API refused the cursor again "
				    "before any event older than %s came "
				    "(more than a page of events share "
				    "that date); the checkpoint is kept: "
				    "rerun with the same --state",
				    fmt_us(st.oldest, a));
			st.below = st.oldest + 1;
			st.cursor[0] = '\0';
			if (!quiet)
				cli_warnx("going on from the oldest event "
					  "written, %s, without it (events "
					  "dated exactly then come again)",
				    fmt_us(st.oldest, a));
			continue;
		}
		json_iter_init(&it, pg.data);
		while (json_iter_elem(&it, &ev)) {
			d = event_date(ev);
			note_newest(d);
			if (d >= 0)
				seen_lo = d;
			if (d >= 0 && (st.oldest < 0 || d < st.oldest))
				st.oldest = d;
			check_data(ev, d);
			emit(ev.p, ev.n);
		}
		flush_out();
		if (!next_cursor(&pg, st.cursor, sizeof(st.cursor)))
			return 0;
		save_state();
		progress(0);
		if (stop)
			return -1;
	}
}

/*
 * Oldest first: a window's events kept in fetch order (newest first), in
 * memory up to spill_max bytes, beyond it in an unlinked temporary file.
 */
struct ent {
	uint64_t off;
	uint32_t len;
	uint32_t infile;
	int64_t date;
};

static struct {
	char *mem;
	size_t memlen, memcap;
	int fd;
	uint64_t flen;
	struct ent *v;
	size_t n, cap;
	char *rbuf;
	size_t rcap;
} sp = { .fd = -1 };

static void
spill_reset(void)
{
	sp.memlen = 0;
	sp.n = 0;
	sp.flen = 0;
	if (sp.fd >= 0 && ftruncate(sp.fd, 0) != 0)
		cli_fatal("temporary file");
}

static void
spill_flush_mem(void)
{
	const char *tmpdir = getenv("TMPDIR");
	char path[4096];
	size_t i, done = 0;
	ssize_t w;

	if (sp.fd < 0) {
		snprintf(path, sizeof(path), "%s/closehook-backfill.XXXXXX",
		    tmpdir && *tmpdir ? tmpdir : "/tmp");
		if ((sp.fd = mkstemp(path)) < 0)
			cli_fatal("%s", path);
		unlink(path);
	}
	while (done < sp.memlen) {
		w = pwrite(sp.fd, sp.mem + done, sp.memlen - done,
		    (off_t)(sp.flen + done));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			cli_fatal("temporary file");
		}
		done += (size_t)w;
	}
	for (i = 0; i < sp.n; i++)
		if (!sp.v[i].infile) {
			sp.v[i].off += sp.flen;
			sp.v[i].infile = 1;
		}
	sp.flen += sp.memlen;
	sp.memlen = 0;
}

static void
spill_add(const char *p, size_t n, int64_t date)
{
	struct ent *nv;
	char *nm;

	if (n > UINT32_MAX)
		cli_fatalx("an event larger than 4 GiB");
	if (sp.memlen + n > spill_max && sp.memlen > 0)
		spill_flush_mem();
	if (sp.memlen + n > sp.memcap) {
		size_t c = sp.memcap ? sp.memcap : 65536;

		while (c < sp.memlen + n)
			c *= 2;
		nm = xrealloc(sp.mem, c);
		sp.mem = nm;
		sp.memcap = c;
	}
	memcpy(sp.mem + sp.memlen, p, n);
	if (sp.n == sp.cap) {
		sp.cap = sp.cap ? sp.cap * 2 : 1024;
		nv = xrealloc(sp.v, sp.cap * sizeof(*nv));
		sp.v = nv;
	}
	sp.v[sp.n].off = sp.memlen;
	sp.v[sp.n].len = (uint32_t)n;
	sp.v[sp.n].infile = 0;
	sp.v[sp.n].date = date;
	sp.n++;
	sp.memlen += n;
}

static const char *
spill_get(size_t i)
{
	const struct ent *e = &sp.v[i];
	size_t done = 0;
	ssize_t r;

	if (!e->infile)
		return sp.mem + e->off;
	if (e->len > sp.rcap) {
		free(sp.rbuf);
		sp.rcap = e->len;
		sp.rbuf = xmalloc(sp.rcap);
	}
	while (done < e->len) {
		r = pread(sp.fd, sp.rbuf + done, e->len - done,
		    (off_t)(e->off + done));
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			cli_fatal("temporary file");
		}
		done += (size_t)r;
	}
	return sp.rbuf;
}

/* Write the window [.., hi) oldest first, checkpointing every page. */
static void
write_window(int64_t hi)
{
	struct json_span ev = { NULL, 0, JSON_NONE };
	char id[ID_MAX];
	size_t i, idn, inpage = 0;
	const char *p;
	int64_t d;

	for (i = sp.n; i-- > 0;) {
		p = spill_get(i);
		d = sp.v[i].date;
		idn = 0;
		if (json_parse(p, sp.v[i].len, &ev, NULL) == 0)
			idn = member_str(ev, "id", id, sizeof(id));
		if (d >= 0 && d == st.pos && idn > 0 && ids_has(&st, id, idn))
			continue; /* written before a resume */
		check_data(ev, d);
		emit(p, sp.v[i].len);
		note_newest(d);
		if (d > st.pos) {
			st.pos = d;
			ids_clear(&st);
		}
		if (d == st.pos && idn > 0)
			ids_add(&st, id, idn);
		if (++inpage == PAGE_LIMIT) {
			flush_out();
			save_state();
			inpage = 0;
			if (stop)
				return;
		}
	}
	flush_out();
	if (hi >= 0) {
		st.pos = hi;
		ids_clear(&st);
	}
	save_state();
}

/* Oldest first: windows of a day from st.pos up. */
static int
run_oldest(void)
{
	static char query[QUERY_MAX];
	struct closeapi_page pg;
	struct json_iter it;
	struct json_span ev;
	char cursor[CURSOR_MAX], a[64];
	int64_t lo, hi, d, end = st.until;
	int again;

	while (end < 0 || st.pos < end) {
		lo = st.pos;
		hi = lo + WINDOW_US;
		/* The last window: open above unless --until bounds it. */
		if (end >= 0 ? hi >= end : hi >= now_us)
			hi = end;
		done_lo = lo;
		cursor[0] = '\0';
		again = 0;
		for (;;) {
			/* Without a cursor the day is fetched from its top. */
			if (cursor[0] == '\0') {
				spill_reset();
				seen_lo = -1;
			}
			build_query(query, sizeof(query), lo, hi, cursor);
			switch (fetch_page(query, &pg,
			    cursor[0] != '\0' && again < WINDOW_AGAIN)) {
			case FETCH_OK:
				break;
			case FETCH_STOPPED:
				return -1;
			case FETCH_GAVE_UP:
				nskipped++;
				return 1;
			case FETCH_CURSOR_REFUSED:
				/* Nothing of it is written: fetch it whole. */
				again++;
				if (!quiet)
					cli_warnx("fetching the day from %s "
						  "again",
					    fmt_us(lo, a));
				cursor[0] = '\0';
				continue;
			}
			json_iter_init(&it, pg.data);
			while (json_iter_elem(&it, &ev)) {
				d = event_date(ev);
				if (d >= 0)
					seen_lo = d;
				spill_add(ev.p, ev.n, d);
			}
			progress(0);
			if (stop)
				return -1;
			if (!next_cursor(&pg, cursor, sizeof(cursor)))
				break;
		}
		write_window(hi);
		/* The last window is open above: it ends at the range's end. */
		done_lo = hi >= 0 ? hi : range_hi;
		progress(0);
		if (stop)
			return -1;
		if (hi < 0)
			break;
	}
	return 0;
}

/* --event-id ID */
static int
run_event(const char *id)
{
	char path[256];
	struct closeapi_resp r;
	struct json_span ev;
	const char *p;

	for (p = id; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			cli_fatalx("invalid event id: %.40s", id);
	if (strlen(id) == 0 || strlen(id) > ID_MAX)
		cli_fatalx("invalid event id: %.40s", id);
	snprintf(path, sizeof(path), "/event/%s/", id);
	switch (closeapi_request(api, "GET", path, NULL, 0, &r)) {
	case CLOSEAPI_OK:
		break;
	case CLOSEAPI_STOPPED:
		return 1;
	case CLOSEAPI_AUTH:
		cli_fatalx("the API refused the key (HTTP %ld): %s", r.status,
		    r.error);
	case CLOSEAPI_HTTP:
		if (r.status == 404) {
			cli_warnx("no such event: %s", id);
			return 1;
		}
		cli_fatalx("the API answered HTTP %ld: %s", r.status,
		    r.error[0] ? r.error : "(no error text)");
	case CLOSEAPI_FAILED:
		cli_warnx("the request failed after every retry: %s", r.error);
		return 1;
	}
	if (json_parse(r.body, r.n, &ev, NULL) != 0 || ev.type != JSON_OBJECT) {
		cli_warnx("the answer is not an event");
		return 1;
	}
	npages++;
	check_data(ev, event_date(ev));
	emit(ev.p, ev.n);
	return 0;
}

static uint64_t
env_size(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	uint64_t v;

	if (s == NULL || *s == '\0')
		return def;
	if (cli_size(s, 1, (uint64_t)1 << 40, &v) != 0)
		cli_fatalx("invalid $%s", name);
	return v;
}

int
main(int argc, char **argv)
{
	enum {
		O_SINCE = 256,
		O_UNTIL,
		O_STATE,
		O_ORDER,
		O_EVENT,
		O_URL,
		O_KEYFILE,
		O_RPS,
		O_RATE,
		O_PROGRESS,
		O_METRICS,
		O_VERSION,
		O_COMMIT,
		O_COMMIT_WHEN,
		O_INTERVAL,
		O_FILTER
	};
	static const struct option longopts[] = { { "since", required_argument,
						      NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "object-type", required_argument, NULL, O_FILTER + 0 },
		{ "object-id", required_argument, NULL, O_FILTER + 1 },
		{ "action", required_argument, NULL, O_FILTER + 2 },
		{ "lead-id", required_argument, NULL, O_FILTER + 3 },
		{ "user-id", required_argument, NULL, O_FILTER + 4 },
		{ "request-id", required_argument, NULL, O_FILTER + 5 },
		{ "state", required_argument, NULL, O_STATE },
		{ "order", required_argument, NULL, O_ORDER },
		{ "event-id", required_argument, NULL, O_EVENT },
		/* Its earlier name. */
		{ "event", required_argument, NULL, O_EVENT },
		{ "api-url", required_argument, NULL, O_URL },
		{ "api-key-file", required_argument, NULL, O_KEYFILE },
		{ "rate", required_argument, NULL, O_RATE },
		/* Its earlier form: --max-rps R is --rate R/s. */
		{ "max-rps", required_argument, NULL, O_RPS },
		{ "progress", no_argument, NULL, O_PROGRESS },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "commit", required_argument, NULL, O_COMMIT },
		{ "commit-when", required_argument, NULL, O_COMMIT_WHEN },
		{ "commit-interval", required_argument, NULL, O_INTERVAL },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 } };
	struct closeapi_opts ao;
	struct sigaction sa;
	const char *since_s = NULL, *until_s = NULL, *event_id = NULL;
	const char *commit_path = NULL, *when = NULL;
	uint64_t interval_ns = 1000000000ull;
	int interval_set = 0, others = 0;
	char err[512], *end;
	int fresh;
	int64_t since = -1, until = -1;
	unsigned given = 0;
	size_t i;
	int c, rc = 0, ok_combo = 0, complete;
	const char *s;

	cli_init("closehook-backfill");
	cli_std_fds(CLI_STDOUT_DATA);
	cli_no_core_dumps();
	memset(&ao, 0, sizeof(ao));
	now_us = wall_us();
	/* Not among the data when both go to one terminal. */
	show_progress = progress_redraw = cli_progress_tty();
	while ((c = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		if (c != 'q' && c != O_COMMIT && c != O_INTERVAL)
			others++;
		switch (c) {
		case O_SINCE:
			since_s = optarg;
			break;
		case O_UNTIL:
			until_s = optarg;
			break;
		case O_STATE:
			state_path = optarg;
			break;
		case O_ORDER:
			if (strcmp(optarg, "newest") == 0)
				newest_first = 1;
			else if (strcmp(optarg, "oldest") == 0)
				newest_first = 0;
			else
				cli_fatalx("invalid value for --order: %.40s "
					   "(oldest or newest)",
				    optarg);
			break;
		case O_EVENT:
			event_id = optarg;
			break;
		case O_URL:
			ao.base_url = optarg;
			break;
		case O_KEYFILE:
			ao.key_file = optarg;
			break;
		case O_RPS:
			errno = 0;
			ao.max_rps = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    !(ao.max_rps > 0 && ao.max_rps <= 1e6))
				cli_fatalx("invalid value for --max-rps: %.40s",
				    optarg);
			break;
		case O_RATE: {
			/* post's --rate, as a pace in requests per second. */
			struct backoff_rate b;
			const char *why;

			if (backoff_rate_parse(&b, optarg, &why) != 0)
				cli_fatalx("invalid RATE for --rate: %s", why);
			ao.max_rps = 1e9 / (double)b.interval_ns;
			break;
		}
		case O_PROGRESS:
			show_progress = 1;
			break;
		case O_METRICS:
			metrics_path = optarg;
			break;
		case O_COMMIT:
			commit_path = optarg;
			break;
		case O_COMMIT_WHEN:
			if (strcmp(optarg, "acked") != 0 &&
			    strcmp(optarg, "written") != 0)
				cli_fatalx("invalid value for --commit-when: "
					   "%.40s (acked or written)",
				    optarg);
			when = optarg;
			break;
		case O_INTERVAL:
			interval_ns = mark_opt_interval(optarg);
			interval_set = 1;
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
			if (c >= O_FILTER && c < O_FILTER + F_COUNT) {
				if (*optarg == '\0')
					cli_fatalx("empty value for %s",
					    fopt[c - O_FILTER]);
				filter[c - O_FILTER] = optarg;
				given |= 1u << (c - O_FILTER);
				break;
			}
			usage();
		}
	}
	if (commit_path != NULL) {
		if (others > 0 || optind != argc) {
			cli_warnx("--commit reads a pipeline on stdin: no "
				  "options but --commit-interval and -q");
			usage();
		}
		state_path = commit_path;
		return commit_run(interval_ns);
	}
	if (optind != argc)
		usage();
	if (interval_set) {
		cli_warnx("--commit-interval goes with --commit");
		usage();
	}
	if (when != NULL && state_path == NULL)
		cli_fatalx("--commit-when goes with --state");
	acked = when != NULL && strcmp(when, "acked") == 0;
	if (acked)
		canon_path(state_path, state_canon, sizeof(state_canon));
	if (since_s != NULL)
		since = opt_time("since", since_s);
	if (until_s != NULL)
		until = opt_time("until", until_s);
	if (since >= 0 && until >= 0 && since >= until)
		cli_fatalx("--since must be before --until");
	if (event_id != NULL &&
	    (given != 0 || since_s || until_s || state_path || newest_first))
		cli_fatalx("--event-id takes no filters, --state or --order");
	for (i = 0; i < sizeof(combos) / sizeof(combos[0]); i++)
		ok_combo |= combos[i] == given;
	if (!ok_combo) {
		char names[256] = "";
		unsigned n = 0, k = 0;

		/* "--a alone", "--a and --b together", "--a, --b and --c ..." */
		for (i = 0; i < F_COUNT; i++)
			n += (given >> i) & 1u;
		for (i = 0; i < F_COUNT; i++) {
			if ((given & (1u << i)) == 0)
				continue;
			if (k++ > 0)
				strcat(names, k == n ? " and " : ", ");
			strcat(names, fopt[i]);
		}
		cli_fatalx("Close's Event Log does not accept %s %s;\n%s",
		    names, n == 1 ? "alone" : "together", accepted_text);
	}
	for (i = 0; i < F_COUNT; i++)
		if (filter[i] != NULL &&
		    closeapi_query_add(
			fquery, sizeof(fquery), fname[i], filter[i]) != 0)
			cli_fatalx("filters too long");
	if ((s = getenv("CLOSEHOOK_BACKFILL_MEMORY")) != NULL)
		spill_max =
		    (size_t)env_size("CLOSEHOOK_BACKFILL_MEMORY", spill_max);
	if ((s = getenv("CLOSEHOOK_HTTP_TIMEOUT")) != NULL && *s != '\0' &&
	    cli_duration(s, 1, 3600000, &ao.timeout_ms) != 0)
		cli_fatalx("invalid $CLOSEHOOK_HTTP_TIMEOUT");
	if ((s = getenv("CLOSEHOOK_BACKOFF")) != NULL && *s != '\0' &&
	    cli_duration(s, 1, 600000, &ao.backoff_base_ms) != 0)
		cli_fatalx("invalid $CLOSEHOOK_BACKOFF");

	/* Set up.  Two runs on one state file (a cron job that overlaps the
	 * last) would fetch the range twice on one rate limit. */
	if (state_path != NULL) {
		cli_lock(state_path, "the state file");
		load_state(state_path);
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		cli_fatalx("cannot initialise libcurl");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ao.stop = &stop;
	ao.on_wait = poll_metrics;
	if ((api = closeapi_new(&ao, err, sizeof(err))) == NULL)
		cli_fatalx("%s", err);
	out_init(&out, 1, "stdout");
	t_start_ns = last_progress_ns = cli_mono_ns();
	setup_metrics();

	if (event_id != NULL) {
		rc = run_event(event_id);
		goto done;
	}
	fresh = !st.running;
	if (st.running && since_s != NULL && since < st.since && !quiet) {
		char a[64];

		/* Widened since the run began: resuming does not go back. */
		cli_warnx("%s: resuming the unfinished run from %s; what "
			  "--since adds before that is not fetched (remove "
			  "the state file to start over)",
		    state_path, fmt_us(st.since, a));
	}
	if (!st.running) {
		/*
		 * A new run: after a complete one, start 5 minutes before
		 * the newest event written (Close consolidates in place),
		 * also when --since is later: a cron job's relative --since
		 * (7d) that was down longer than that would otherwise jump
		 * over the events in between.
		 */
		int64_t from = st.newest >= 0 ? st.newest : st.through;
		/* Nothing is there before the retention (a day more, for
		 * clocks). */
		int64_t oldest = now_us - RETENTION_US - 86400 * US;
		char a[64];

		if (from >= 0) {
			if (since_s != NULL && from - OVERLAP_US < since &&
			    !quiet)
				cli_warnx("%s: the last complete run "
					  "reached %s, before --since: "
					  "fetching from there, so that no "
					  "event in between is missed",
				    state_path, fmt_us(from, a));
			since = from - OVERLAP_US;
		}
		if (since >= 0 && since < now_us - RETENTION_US && !quiet) {
			if (from >= 0)
				cli_warnx("%s: the last complete run "
					  "reached %s, older than Close's "
					  "30-day retention: what changed "
					  "between then and %s is lost",
				    state_path, fmt_us(from, a),
				    fmt_us(now_us - RETENTION_US, err));
			else if (since_s != NULL)
				cli_warnx("--since is older than Close's "
					  "30-day retention: nothing before %s "
					  "can be fetched",
				    fmt_us(now_us - RETENTION_US, err));
		}
		/* A walk through empty days would spend the rate limit. */
		if (!newest_first && since >= 0 && since < oldest)
			since = until >= 0 && until <= oldest
			    ? until /* the whole range: nothing to ask for */
			    : oldest;
		if (!newest_first && since < 0)
			since = now_us - RETENTION_US;
		st.running = 1;
		st.newest_order = newest_first;
		st.since = since;
		st.until = until;
		st.pos = since;
		ids_clear(&st);
		st.cursor[0] = '\0';
		st.oldest = st.below = -1;
	}
	range_lo = st.since >= 0 ? st.since : now_us - RETENTION_US;
	range_hi = st.until >= 0 ? st.until : now_us;
	done_lo = st.pos >= 0 ? st.pos : range_lo;
	seen_lo = -1;
	/*
	 * A new run is saved with its first page: one that fetches none (a
	 * refused key) leaves no unfinished run behind to pin a later
	 * --since.
	 */
	if (!fresh)
		save_state();
	rc = newest_first ? run_newest() : run_oldest();
	complete = range_done = rc == 0;
	if (rc == 0) {
		st.running = 0;
		st.through = st.until >= 0 ? st.until : now_us;
		save_state();
	} else if (rc < 0) {
		if (!quiet)
			cli_warnx("interrupted%s",
			    !state_path ? ""
				: acked ? ": the checkpoint went down the "
					  "pipeline as a mark, rerun with the "
					  "same --state to resume"
					: ": the checkpoint is saved, rerun "
					  "with the same --state to resume");
		rc = 1;
	}
	progress(1);
	if (nnodata > 0 && !quiet)
		cli_warnx("%llu events older than an hour came without data "
			  "(Close omits it for API keys without admin rights)",
		    (unsigned long long)nnodata);
	end_metrics(complete);
	goto close;
done:
	end_metrics(rc == 0);
close:
	if (out_close_stdout(&out, CLI_EXIT_OK) != CLI_EXIT_OK)
		exit(CLI_EXIT_FATAL);
	closeapi_free(api);
	curl_global_cleanup();
	ids_clear(&st);
	free(st.ids);
	free(sp.mem);
	free(sp.v);
	free(sp.rbuf);
	if (sp.fd >= 0)
		close(sp.fd);
	return rc;
}
