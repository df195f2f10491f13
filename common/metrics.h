/*
 * metrics.h - Prometheus metrics of a long-running program: a small
 * registry of counters, gauges and histograms, rendered in the text
 * exposition format (0.0.4) and written to a file for node_exporter's
 * textfile collector (--metrics FILE).
 *
 * A metric names a variable the program already counts in: the registry
 * keeps a pointer, never a second count, so counting stays a plain
 * increment.  The file is replaced atomically (a temporary file beside it,
 * renamed into place; see atomicfile.h) when a value has changed, at most
 * once per interval (1 s, or $CLOSEHOOK_METRICS_INTERVAL), and when it has
 * not been written for a heartbeat (60 s, or $CLOSEHOOK_METRICS_HEARTBEAT),
 * so that its modification time says the process lives; never from the
 * per-record path:
 *
 *   metrics_tick()    per record: looks at the clock every 1024 calls;
 *   metrics_poll()    from a loop that wakes up anyway (at least once a
 *                     heartbeat), or from out_on_block(): looks every call;
 *   metrics_idle()    right before input may block: waits for input,
 *                     writing what changed when the interval is over and
 *                     the file again at each heartbeat;
 *   metrics_close()   at the end: writes what changed, frees.
 *
 * With no path every call returns at once.  Names, help texts and label
 * values are kept by reference and must outlive the registry (literals or
 * static tables).  A DOUBLE that is NaN has no value yet: its sample is left
 * out, and a family without samples is left out whole.  The update hook
 * runs before each rendering, so derived gauges (a lag, a file size) are
 * computed once per write, not per record.  One thread renders; a counter
 * other threads increment must be METRICS_ATOMIC_ULONG.
 */
#ifndef CLOSEHOOK_METRICS_H
#define CLOSEHOOK_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum metrics_type {
	METRICS_COUNTER, /* the name ends in _total */
	METRICS_GAUGE,
	METRICS_HISTOGRAM /* kind METRICS_HIST or METRICS_LAT */
};

/* What the pointer of a metric points to. */
enum metrics_kind {
	METRICS_U64, /* uint64_t */
	METRICS_ULONG, /* unsigned long */
	METRICS_SIZE, /* size_t */
	METRICS_I64, /* int64_t */
	METRICS_INT, /* int */
	METRICS_DOUBLE, /* double; NaN: no sample */
	METRICS_ATOMIC_ULONG, /* atomic_ulong, read with a relaxed load */
	METRICS_HIST, /* struct metrics_hist */
	METRICS_LAT /* struct metrics_lat */
};

/*
 * A histogram: count[i] holds the observations v with le[i - 1] < v <=
 * le[i] (not cumulative), count[n] those above le[n - 1]; sum is their sum.
 * The owner provides the arrays.
 */
struct metrics_hist {
	const double *le; /* finite upper bounds, ascending */
	size_t n;
	uint64_t *count; /* n + 1 buckets */
	double sum;
};

/*
 * A latency histogram fine enough for percentiles: 1/16 octave buckets of
 * microseconds (count[i] holds the latencies of i = floor(16 log2(1 + us)),
 * the last bucket everything beyond), so a percentile, the middle of its
 * bucket, is off by at most about 2% above a few tens of microseconds.
 * As a METRICS_LAT it renders as a Prometheus histogram whose buckets end
 * at 2^k - 1 us, k = 7 to 25 (127 us to 33.6 s), where octaves of the fine
 * buckets end: no fine bucket is split, so the rendered counts are the
 * same observations the percentiles come from, not an estimate.
 */
#define METRICS_LAT_N 800
struct metrics_lat {
	uint64_t count[METRICS_LAT_N];
	double sum; /* seconds */
};

struct metrics_def {
	const char *name; /* closehook_PROGRAM_WHAT_UNIT */
	enum metrics_type type;
	enum metrics_kind kind;
	const void *p;
	const char *help;
	const char *label, *value; /* one optional label: label="value" */
};

struct metrics {
	const char *path; /* NULL: off */
	char *file; /* the file="..." label of a textfile's series */
	struct metrics_def *v;
	size_t n, cap;
	void (*update)(void *);
	void *update_arg;
	char *text, *prev; /* the last rendering; what the file holds */
	size_t textn, textcap, prevn, prevcap;
	int written; /* prev holds what the file holds */
	uint64_t interval_ns;
	uint64_t last_ns; /* when the values were last looked at */
	uint64_t beat_ns; /* the file is written at least this often */
	uint64_t wrote_ns; /* when it was last written */
	unsigned ticks;
	int failing; /* the last write failed (reported once) */
	double start_time; /* wall clock at metrics_init, in seconds */
};

/* Set up a registry writing to path (NULL: metrics are off). */
void metrics_init(struct metrics *, const char *path);
/*
 * Register n metrics (the definitions are copied).  Metrics of one name form
 * one family and must agree on type and help; a bad name exits 2 (a bug).
 */
void metrics_add(struct metrics *, const struct metrics_def *, size_t n);
/*
 * Register the gauge name (closehook_PROGRAM_start_time_seconds): when the
 * program started, in seconds since the epoch; a restart shows as a change.
 */
void metrics_add_start_time(struct metrics *, const char *name);
/* Run fn(arg) before each rendering (fn NULL: none). */
void metrics_on_update(struct metrics *, void (*fn)(void *), void *arg);
/* Write the file for the first time; exits 2 when it cannot be written. */
void metrics_start(struct metrics *);

void metrics_poll(struct metrics *);

static inline void
metrics_tick(struct metrics *m)
{
	if ((++m->ticks & 1023) == 0)
		metrics_poll(m);
}

/*
 * Input on fd may block: wait for it, writing what changed once the
 * interval since the last write is over, and the file again each
 * heartbeat.  Returns when input arrives (or a signal, or a write fails);
 * with fd < 0, at once when nothing changed.
 */
void metrics_idle(struct metrics *, int fd);
/*
 * metrics_poll() of the registry arg, as out_on_block() calls it: a
 * program blocked writing to a slow reader keeps its file current.
 */
int metrics_blocked(void *arg);
/* Write what changed and free the registry; returns 0, or -1 (warned). */
int metrics_close(struct metrics *);

/*
 * Render every metric into *buf (grown with realloc, *cap its size; the
 * caller frees it) and set *len.  Runs the update hook first.  Returns 0,
 * or -1 when out of memory.  Does not touch the file: a server answers a
 * scrape with it.
 */
int metrics_render(struct metrics *, char **buf, size_t *cap, size_t *len);

void metrics_hist_observe(struct metrics_hist *, double v);
/* Count a latency of ns nanoseconds. */
void metrics_lat_add(struct metrics_lat *, uint64_t ns);
/*
 * The p-quantile (0 < p <= 1) of the latencies counted, in milliseconds:
 * the middle of its bucket; 0 when none were.
 */
double metrics_lat_pct(const struct metrics_lat *, double p);
/* The wall clock in seconds since the epoch, for timestamp gauges. */
double metrics_wall(void);

#endif
