/*
 * metrics.c - Prometheus metrics in a textfile; see metrics.h.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomicfile.h"
#include "cli.h"
#include "metrics.h"

#define INTERVAL_NS 1000000000ull
#define HEARTBEAT_NS 60000000000ull

double
metrics_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
metrics_init(struct metrics *m, const char *path)
{
	memset(m, 0, sizeof(*m));
	const char *e = getenv("CLOSEHOOK_METRICS_INTERVAL");
	const char *hb = getenv("CLOSEHOOK_METRICS_HEARTBEAT");
	int64_t ms;

	m->path = path;
	/*
	 * A textfile's series carry file="NAME" (its name without the
	 * directory and ".prom"): node_exporter's collector merges the
	 * files of a directory, and two processes of one program (dedupe's
	 * check and record, a stage of each of several pipelines) would
	 * otherwise give the same series twice, of which it keeps one.
	 */
	if (path != NULL) {
		const char *base = strrchr(path, '/');
		size_t n;

		base = base != NULL ? base + 1 : path;
		n = strlen(base);
		if (n > 5 && strcmp(base + n - 5, ".prom") == 0)
			n -= 5;
		m->file = xstrndup(base, n);
	}
	m->interval_ns = INTERVAL_NS;
	m->start_time = metrics_wall();
	if (path != NULL && e != NULL && *e != '\0') {
		if (cli_duration(e, 0, 3600000, &ms) != 0)
			cli_fatalx("invalid $CLOSEHOOK_METRICS_INTERVAL");
		m->interval_ns = (uint64_t)ms * 1000000;
	}
	m->beat_ns = HEARTBEAT_NS;
	if (path != NULL && hb != NULL && *hb != '\0') {
		if (cli_duration(hb, 0, 3600000, &ms) != 0 || ms < 1000)
			cli_fatalx("invalid $CLOSEHOOK_METRICS_HEARTBEAT "
				   "(a duration from 1s to 1h)");
		m->beat_ns = (uint64_t)ms * 1000000;
	}
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* [a-zA-Z_][a-zA-Z0-9_]*, and ':' too in metric names. */
static int
valid_name(const char *s, int colon)
{
	const char *p;

	if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '_' ||
			(colon && *p == ':')))
			return 0;
	return 1;
}

static void
add(struct metrics *m, const struct metrics_def *d)
{
	size_t i;

	if (!valid_name(d->name, 1) || d->help == NULL || d->p == NULL ||
	    (d->type == METRICS_COUNTER) != ends_with(d->name, "_total") ||
	    (d->type == METRICS_HISTOGRAM) !=
		(d->kind == METRICS_HIST || d->kind == METRICS_LAT) ||
	    (d->label != NULL &&
		(!valid_name(d->label, 0) || d->value == NULL ||
		    strcmp(d->label, "le") == 0)))
		cli_fatalx("metrics: bad definition of %s",
		    d->name != NULL ? d->name : "(null)");
	for (i = 0; i < m->n; i++)
		if (strcmp(m->v[i].name, d->name) == 0 &&
		    (m->v[i].type != d->type ||
			strcmp(m->v[i].help, d->help) != 0))
			cli_fatalx("metrics: %s defined twice", d->name);
	if (m->n == m->cap) {
		m->cap = m->cap == 0 ? 32 : 2 * m->cap;
		m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
	}
	m->v[m->n++] = *d;
}

void
metrics_add(struct metrics *m, const struct metrics_def *d, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		add(m, &d[i]);
}

void
metrics_add_start_time(struct metrics *m, const char *name)
{
	struct metrics_def d = { name, METRICS_GAUGE, METRICS_DOUBLE,
		&m->start_time,
		"When the program started, in seconds since the epoch.", NULL,
		NULL };

	add(m, &d);
}

void
metrics_on_update(struct metrics *m, void (*fn)(void *), void *arg)
{
	m->update = fn;
	m->update_arg = arg;
}

void
metrics_hist_observe(struct metrics_hist *h, double v)
{
	size_t i;

	for (i = 0; i < h->n && v > h->le[i]; i++)
		;
	h->count[i]++;
	h->sum += v;
}

void
metrics_lat_add(struct metrics_lat *h, uint64_t ns)
{
	double us = (double)ns / 1e3;
	int i = (int)(16 * log2(1 + us));

	if (i < 0)
		i = 0;
	if (i >= METRICS_LAT_N)
		i = METRICS_LAT_N - 1;
	h->count[i]++;
	h->sum += (double)ns / 1e9;
}

double
metrics_lat_pct(const struct metrics_lat *h, double p)
{
	uint64_t total = 0, acc = 0, want;
	int i;

	for (i = 0; i < METRICS_LAT_N; i++)
		total += h->count[i];
	if (total == 0)
		return 0;
	want = (uint64_t)ceil(p * (double)total);
	for (i = 0; i < METRICS_LAT_N; i++) {
		acc += h->count[i];
		if (acc >= want)
			break;
	}
	/* The bucket's middle, in ms. */
	return (exp2((i + 0.5) / 16) - 1) / 1e3;
}

/* -- rendering --------------------------------------------------------------- */

struct sbuf {
	char **p;
	size_t *cap;
	size_t n;
	int oom; /* a realloc failed: nothing more is added */
	const char *file; /* the textfile's label value, or NULL */
};

/* Room for more bytes and a NUL; returns 0, or -1 when out of memory. */
static int
grow(struct sbuf *b, size_t more)
{
	size_t c = *b->cap;
	char *np;

	if (b->oom)
		return -1;
	if (b->n + more + 1 <= c)
		return 0;
	while (c < b->n + more + 1)
		c = c == 0 ? 4096 : 2 * c;
	if ((np = realloc(*b->p, c)) == NULL) {
		b->oom = 1;
		return -1;
	}
	*b->p = np;
	*b->cap = c;
	return 0;
}

static void
put(struct sbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (grow(b, n) != 0)
		return;
	memcpy(*b->p + b->n, s, n);
	b->n += n;
}

static void
putf(struct sbuf *, const char *, ...) __attribute__((format(printf, 2, 3)));

static void
putf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (grow(b, 64) != 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(*b->p + b->n, *b->cap - b->n, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= *b->cap - b->n) {
		if (grow(b, (size_t)n) != 0)
			return;
		va_start(ap, fmt);
		vsnprintf(*b->p + b->n, *b->cap - b->n, fmt, ap);
		va_end(ap);
	}
	b->n += (size_t)n;
}

/* Help text escapes \ and newline; label values " as well. */
static void
put_escaped(struct sbuf *b, const char *s, int quote)
{
	char c[2] = { 0, 0 };

	for (; *s != '\0'; s++) {
		if (*s == '\\')
			put(b, "\\\\");
		else if (*s == '\n')
			put(b, "\\n");
		else if (quote && *s == '"')
			put(b, "\\\"");
		else {
			c[0] = *s;
			put(b, c);
		}
	}
}

static void
put_double(struct sbuf *b, double v)
{
	if (isnan(v))
		put(b, "NaN");
	else if (isinf(v))
		put(b, v > 0 ? "+Inf" : "-Inf");
	else
		putf(b, "%.15g", v);
}

/* Integers are printed exactly, not through a double. */
static void
put_value(struct sbuf *b, const struct metrics_def *d)
{
	switch (d->kind) {
	case METRICS_U64:
		putf(b, "%llu", (unsigned long long)*(const uint64_t *)d->p);
		break;
	case METRICS_ULONG:
		putf(b, "%lu", *(const unsigned long *)d->p);
		break;
	case METRICS_SIZE:
		putf(b, "%zu", *(const size_t *)d->p);
		break;
	case METRICS_I64:
		putf(b, "%lld", (long long)*(const int64_t *)d->p);
		break;
	case METRICS_INT:
		putf(b, "%d", *(const int *)d->p);
		break;
	case METRICS_ATOMIC_ULONG:
		putf(b, "%lu",
		    atomic_load_explicit(
			(atomic_ulong *)d->p, memory_order_relaxed));
		break;
	case METRICS_DOUBLE:
		put_double(b, *(const double *)d->p);
		break;
	case METRICS_HIST:
	case METRICS_LAT:
		break;
	}
}

/*
 * name{file="f",label="value",le="x"}, each label when there is one,
 * without the value.
 */
static void
put_series(struct sbuf *b, const char *name, const char *suffix,
    const struct metrics_def *d, const char *le)
{
	const char *sep = "{";

	put(b, name);
	put(b, suffix);
	if (b->file != NULL) {
		put(b, sep);
		put(b, "file=\"");
		put_escaped(b, b->file, 1);
		put(b, "\"");
		sep = ",";
	}
	if (d->label != NULL) {
		put(b, sep);
		put(b, d->label);
		put(b, "=\"");
		put_escaped(b, d->value, 1);
		put(b, "\"");
		sep = ",";
	}
	if (le != NULL) {
		put(b, sep);
		put(b, "le=\"");
		put(b, le);
		put(b, "\"");
		sep = ",";
	}
	if (*sep == ',')
		put(b, "}");
}

static void
put_hist(
    struct sbuf *b, const struct metrics_def *d, const struct metrics_hist *h)
{
	uint64_t cum = 0;
	char le[64];
	size_t i;

	for (i = 0; i <= h->n; i++) {
		cum += h->count[i];
		if (i < h->n)
			snprintf(le, sizeof(le), "%.15g", h->le[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		put_series(b, d->name, "_bucket", d, le);
		putf(b, " %llu\n", (unsigned long long)cum);
	}
	put_series(b, d->name, "_sum", d, NULL);
	put(b, " ");
	put_double(b, h->sum);
	put(b, "\n");
	put_series(b, d->name, "_count", d, NULL);
	putf(b, " %llu\n", (unsigned long long)cum);
}

/*
 * A metrics_lat's octaves 7 to 30 as the buckets of a metrics_hist: 127 us
 * to 17.9 minutes, as long as post's retries of one delivery go.
 */
#define LAT_LO 7
#define LAT_NLE 24

static void
put_lat(struct sbuf *b, const struct metrics_def *d)
{
	const struct metrics_lat *l = d->p;
	double le[LAT_NLE];
	uint64_t count[LAT_NLE + 1];
	struct metrics_hist h = { le, LAT_NLE, count, l->sum };
	size_t i = 0, k;

	for (k = 0; k <= LAT_NLE; k++) {
		size_t end = k < LAT_NLE ? 16 * (LAT_LO + k) : METRICS_LAT_N;

		if (k < LAT_NLE)
			le[k] = (exp2((double)(LAT_LO + k)) - 1) / 1e6;
		count[k] = 0;
		for (; i < end; i++)
			count[k] += l->count[i];
	}
	put_hist(b, d, &h);
}

static int
present(const struct metrics_def *d)
{
	return d->kind != METRICS_DOUBLE || !isnan(*(const double *)d->p);
}

static const char *const type_name[] = { "counter", "gauge", "histogram" };

int
metrics_render(struct metrics *m, char **buf, size_t *cap, size_t *len)
{
	struct sbuf b = { buf, cap, 0, 0, m->file };
	size_t i, j;
	int any;

	if (m->update != NULL)
		m->update(m->update_arg);
	if (grow(&b, 0) != 0)
		return -1;
	for (i = 0; i < m->n; i++) {
		const struct metrics_def *d = &m->v[i];

		/* A family is rendered where its name first appears. */
		for (j = 0; j < i && strcmp(m->v[j].name, d->name) != 0; j++)
			;
		if (j < i)
			continue;
		for (any = 0, j = i; j < m->n && !any; j++)
			any = strcmp(m->v[j].name, d->name) == 0 &&
			    present(&m->v[j]);
		if (!any)
			continue;
		put(&b, "# HELP ");
		put(&b, d->name);
		put(&b, " ");
		put_escaped(&b, d->help, 0);
		put(&b, "\n# TYPE ");
		put(&b, d->name);
		put(&b, " ");
		put(&b, type_name[d->type]);
		put(&b, "\n");
		for (j = i; j < m->n; j++) {
			const struct metrics_def *e = &m->v[j];

			if (strcmp(e->name, d->name) != 0 || !present(e))
				continue;
			if (e->kind == METRICS_HIST) {
				put_hist(&b, e, e->p);
				continue;
			}
			if (e->kind == METRICS_LAT) {
				put_lat(&b, e);
				continue;
			}
			put_series(&b, e->name, "", e, NULL);
			put(&b, " ");
			put_value(&b, e);
			put(&b, "\n");
		}
	}
	if (b.oom)
		return -1;
	(*buf)[b.n] = '\0';
	*len = b.n;
	return 0;
}

/* -- writing ----------------------------------------------------------------- */

static void
render(struct metrics *m)
{
	if (metrics_render(m, &m->text, &m->textcap, &m->textn) != 0)
		cli_fatal("out of memory");
}

/* Render; 1 when the text differs from what the file holds. */
static int
changed(struct metrics *m)
{
	render(m);
	return !m->written || m->textn != m->prevn ||
	    memcmp(m->text, m->prev, m->textn) != 0;
}

/* The file now holds the last rendering. */
static void
keep(struct metrics *m)
{
	char *t = m->prev;
	size_t c = m->prevcap;

	m->prev = m->text;
	m->prevcap = m->textcap;
	m->prevn = m->textn;
	m->text = t;
	m->textcap = c;
	m->written = 1;
}

/* Write the last rendering; returns 0 or -1 (reported once a streak). */
static int
write_text(struct metrics *m)
{
	if (atomicfile_write_nosync(m->path, m->text, m->textn) != 0) {
		if (!m->failing)
			cli_warn("%s: cannot write the metrics", m->path);
		m->failing = 1;
		return -1;
	}
	m->failing = 0;
	m->wrote_ns = cli_mono_ns();
	keep(m);
	return 0;
}

void
metrics_start(struct metrics *m)
{
	if (m->path == NULL)
		return;
	m->last_ns = cli_mono_ns();
	render(m);
	if (atomicfile_write_nosync(m->path, m->text, m->textn) != 0)
		cli_fatal("%s", m->path);
	m->wrote_ns = m->last_ns;
	keep(m);
}

void
metrics_poll(struct metrics *m)
{
	uint64_t now;

	if (m->path == NULL)
		return;
	now = cli_mono_ns();
	if (now - m->last_ns < m->interval_ns)
		return;
	m->last_ns = now;
	if (changed(m) || now - m->wrote_ns >= m->beat_ns)
		write_text(m);
}

void
metrics_idle(struct metrics *m, int fd)
{
	struct pollfd pfd;
	uint64_t now, due;

	if (m->path == NULL)
		return;
	for (;;) {
		now = cli_mono_ns();
		if (changed(m))
			due = m->last_ns + m->interval_ns;
		else if (fd >= 0)
			due = m->wrote_ns + m->beat_ns;
		else
			return;
		if (now < due) {
			pfd.fd = fd;
			pfd.events = POLLIN;
			pfd.revents = 0;
			if (poll(&pfd, 1, (int)((due - now) / 1000000) + 1) !=
			    0)
				return; /* input (or a signal): later */
			now = cli_mono_ns();
			render(m);
		}
		m->last_ns = now;
		if (write_text(m) != 0)
			return;
	}
}

int
metrics_blocked(void *arg)
{
	metrics_poll(arg);
	return 0;
}

int
metrics_close(struct metrics *m)
{
	int rc = 0;

	if (m->path != NULL && changed(m))
		rc = write_text(m);
	free(m->v);
	free(m->text);
	free(m->prev);
	free(m->file);
	m->v = NULL;
	m->text = m->prev = NULL;
	m->n = m->cap = m->textcap = m->prevcap = 0;
	m->path = NULL;
	return rc;
}
