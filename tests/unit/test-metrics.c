/*
 * test-metrics.c - the Prometheus text a registry renders, and when and how
 * it writes its file: at start, then only what changed, at most once per
 * interval, atomically.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "metrics.h"
#include "tap.h"

static char dir[] = "/tmp/closehook-test-metrics.XXXXXX";

static char *
slurp(const char *path)
{
	static char buf[65536];
	size_t n;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static ino_t
inode(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_ino : 0;
}

static int
entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	int n = 0;

	while (dp != NULL && (e = readdir(dp)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	if (dp != NULL)
		closedir(dp);
	return n;
}

/* Run fn in a child; its exit status (or 128 + signal). */
static int
in_child(void (*fn)(void))
{
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(99);
		fn();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void
bad_counter_name(void)
{
	struct metrics m;
	static uint64_t v;

	metrics_init(&m, NULL);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_x_things", METRICS_COUNTER,
		METRICS_U64, &v, "Things.", NULL, NULL },
	    1);
}

static void
bad_chars(void)
{
	struct metrics m;
	static uint64_t v;

	metrics_init(&m, NULL);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook-x_total", METRICS_COUNTER,
		METRICS_U64, &v, "Things.", NULL, NULL },
	    1);
}

static void
family_mismatch(void)
{
	struct metrics m;
	static uint64_t v;

	metrics_init(&m, NULL);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_x_total", METRICS_COUNTER,
		METRICS_U64, &v, "Things.", "a", "1" },
	    1);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_x_total", METRICS_COUNTER,
		METRICS_U64, &v, "Other things.", "a", "2" },
	    1);
}

static void
unwritable(void)
{
	struct metrics m;
	static uint64_t v;
	char path[256];

	snprintf(path, sizeof(path), "%s/no/such/dir/m.prom", dir);
	metrics_init(&m, path);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_x_total", METRICS_COUNTER,
		METRICS_U64, &v, "Things.", NULL, NULL },
	    1);
	metrics_start(&m);
}

static int updates;

static void
on_update(void *arg)
{
	double *g = arg;

	updates++;
	*g = 0.5 * updates;
}

static void
test_render(void)
{
	struct metrics m;
	static uint64_t u = 18446744073709551615ull;
	static unsigned long reasons[2] = { 3, 0 };
	static size_t sz = 7;
	static int64_t neg = -5;
	static int one = 1;
	static double d = 0.25, none = NAN, inf = INFINITY, upd;
	static atomic_ulong au = 42;
	static const double le[] = { 0.001, 0.01, 0.1 };
	static uint64_t cnt[4];
	static struct metrics_hist h = { le, 3, cnt, 0 };
	char *buf = NULL;
	size_t cap = 0, n;

	metrics_init(&m, NULL);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_t_rejected_total",
		METRICS_COUNTER, METRICS_ULONG, &reasons[0], "Rejects.",
		"reason", "bad-signature" },
	    1);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_t_big_total", METRICS_COUNTER,
		METRICS_U64, &u, "A \\ and a\nnewline.", NULL, NULL },
	    1);
	/* The same family again, after another: rendered together. */
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_t_rejected_total",
		METRICS_COUNTER, METRICS_ULONG, &reasons[1], "Rejects.",
		"reason", "say \"hi\"\\" },
	    1);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_t_size_bytes", METRICS_GAUGE,
		METRICS_SIZE, &sz, "A size.", NULL, NULL },
	    1);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_t_neg", METRICS_GAUGE,
		METRICS_I64, &neg, "Negative.", NULL, NULL },
	    1);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_t_up", METRICS_GAUGE, METRICS_INT,
		&one, "Up.", NULL, NULL },
	    1);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_t_ratio", METRICS_GAUGE,
		METRICS_DOUBLE, &d, "A ratio.", NULL, NULL },
	    1);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_t_absent_seconds", METRICS_GAUGE,
		METRICS_DOUBLE, &none, "Not yet known.", NULL, NULL },
	    1);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_t_inf", METRICS_GAUGE,
		METRICS_DOUBLE, &inf, "Infinite.", NULL, NULL },
	    1);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_t_atomic_total", METRICS_COUNTER,
		METRICS_ATOMIC_ULONG, &au, "Atomic.", NULL, NULL },
	    1);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_t_latency_seconds",
		METRICS_HISTOGRAM, METRICS_HIST, &h, "Latency.", NULL, NULL },
	    1);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_t_updated", METRICS_GAUGE,
		METRICS_DOUBLE, &upd, "Set by the hook.", NULL, NULL },
	    1);
	metrics_on_update(&m, on_update, &upd);

	metrics_hist_observe(&h, 0.0005);
	metrics_hist_observe(&h, 0.001); /* on the bound: in that bucket */
	metrics_hist_observe(&h, 0.05);
	metrics_hist_observe(&h, 3);
	ok(metrics_render(&m, &buf, &cap, &n) == 0, "metrics_render succeeds");
	is_str(buf,
	    "# HELP closehook_t_rejected_total Rejects.\n"
	    "# TYPE closehook_t_rejected_total counter\n"
	    "closehook_t_rejected_total{reason=\"bad-signature\"} 3\n"
	    "closehook_t_rejected_total{reason=\"say \\\"hi\\\"\\\\\"} 0\n"
	    "# HELP closehook_t_big_total A \\\\ and a\\nnewline.\n"
	    "# TYPE closehook_t_big_total counter\n"
	    "closehook_t_big_total 18446744073709551615\n"
	    "# HELP closehook_t_size_bytes A size.\n"
	    "# TYPE closehook_t_size_bytes gauge\n"
	    "closehook_t_size_bytes 7\n"
	    "# HELP closehook_t_neg Negative.\n"
	    "# TYPE closehook_t_neg gauge\n"
	    "closehook_t_neg -5\n"
	    "# HELP closehook_t_up Up.\n"
	    "# TYPE closehook_t_up gauge\n"
	    "closehook_t_up 1\n"
	    "# HELP closehook_t_ratio A ratio.\n"
	    "# TYPE closehook_t_ratio gauge\n"
	    "closehook_t_ratio 0.25\n"
	    "# HELP closehook_t_inf Infinite.\n"
	    "# TYPE closehook_t_inf gauge\n"
	    "closehook_t_inf +Inf\n"
	    "# HELP closehook_t_atomic_total Atomic.\n"
	    "# TYPE closehook_t_atomic_total counter\n"
	    "closehook_t_atomic_total 42\n"
	    "# HELP closehook_t_latency_seconds Latency.\n"
	    "# TYPE closehook_t_latency_seconds histogram\n"
	    "closehook_t_latency_seconds_bucket{le=\"0.001\"} 2\n"
	    "closehook_t_latency_seconds_bucket{le=\"0.01\"} 2\n"
	    "closehook_t_latency_seconds_bucket{le=\"0.1\"} 3\n"
	    "closehook_t_latency_seconds_bucket{le=\"+Inf\"} 4\n"
	    "closehook_t_latency_seconds_sum 3.0515\n"
	    "closehook_t_latency_seconds_count 4\n"
	    "# HELP closehook_t_updated Set by the hook.\n"
	    "# TYPE closehook_t_updated gauge\n"
	    "closehook_t_updated 0.5\n",
	    "the rendering: families grouped, labels escaped, integers "
	    "exact, NaN left out, cumulative buckets");
	is_int(n, strlen(buf), "the length returned is the text's");
	is_int(updates, 1, "the update hook ran once per rendering");

	reasons[1] = 9;
	none = 12;
	metrics_render(&m, &buf, &cap, &n);
	ok(strstr(buf,
	       "closehook_t_rejected_total{reason=\"say "
	       "\\\"hi\\\"\\\\\"} 9\n") != NULL,
	    "values are read at each rendering");
	ok(strstr(buf,
	       "# TYPE closehook_t_absent_seconds gauge\n"
	       "closehook_t_absent_seconds 12\n") != NULL,
	    "a NaN gauge appears once it has a value");
	free(buf);
	metrics_close(&m);

	is_int(in_child(bad_counter_name), CLI_EXIT_FATAL,
	    "a counter whose name lacks _total is refused");
	is_int(in_child(bad_chars), CLI_EXIT_FATAL,
	    "a name with a dash is refused");
	is_int(in_child(family_mismatch), CLI_EXIT_FATAL,
	    "one family with two help texts is refused");
}

static void
test_writes(void)
{
	struct metrics m;
	static uint64_t records;
	char path[256];
	const char *t;
	ino_t ino;
	int fds[2], i;
	uint64_t t0, el;

	snprintf(path, sizeof(path), "%s/m.prom", dir);
	metrics_init(&m, path);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_t_records_total", METRICS_COUNTER,
		METRICS_U64, &records, "Records.", NULL, NULL },
	    1);
	m.interval_ns = 200000000ull;
	metrics_start(&m);
	t = slurp(path);
	ok(t != NULL &&
		strstr(t, "closehook_t_records_total{file=\"m\"} 0\n") != NULL,
	    "metrics_start writes the file at once, each series labelled "
	    "with the file's name (file=\"m\" for m.prom)");
	is_int(entries(dir), 1, "... and leaves no temporary file");
	ino = inode(path);

	records = 5;
	metrics_poll(&m);
	ok(strstr(slurp(path), "closehook_t_records_total{file=\"m\"} 0\n") !=
		NULL,
	    "poll within the interval does not write");
	usleep(220000);
	metrics_poll(&m);
	ok(strstr(slurp(path), "closehook_t_records_total{file=\"m\"} 5\n") !=
		NULL,
	    "poll after the interval writes the new value");
	ok(inode(path) != ino, "... by replacing the file (rename)");
	ino = inode(path);
	usleep(220000);
	metrics_poll(&m);
	ok(inode(path) == ino, "nothing changed: the file is left alone");

	/* tick looks at the clock every 1024 calls only. */
	records = 6;
	usleep(220000);
	for (i = 0; i < 1023 && m.ticks % 1024 != 1023; i++)
		metrics_tick(&m);
	ok(strstr(slurp(path), "closehook_t_records_total{file=\"m\"} 5\n") !=
		NULL,
	    "tick does not write before its 1024th call");
	metrics_tick(&m);
	ok(strstr(slurp(path), "closehook_t_records_total{file=\"m\"} 6\n") !=
		NULL,
	    "... and does on it");

	/*
	 * idle: waits for input, writing a change once the interval is over
	 * and the file again at each heartbeat (here 0.6 s) however long the
	 * input takes (a child writes it after 1.5 s).
	 */
	if (pipe(fds) != 0)
		exit(2);
	m.beat_ns = 600000000ull;
	records = 7;
	{
		struct timespec w0;
		struct stat st;
		pid_t pid;

		clock_gettime(CLOCK_REALTIME, &w0);
		if ((pid = fork()) < 0)
			exit(2);
		if (pid == 0) {
			usleep(1500000);
			_exit(write(fds[1], "x", 1) == 1 ? 0 : 1);
		}
		t0 = cli_mono_ns();
		metrics_idle(&m, fds[0]);
		el = cli_mono_ns() - t0;
		waitpid(pid, NULL, 0);
		ok(strstr(slurp(path),
		       "closehook_t_records_total{file=\"m\"} 7\n") != NULL,
		    "idle writes a change once the interval is over");
		ok(el >= 1400000000ull && el < 3000000000ull,
		    "... and waits for the input, however long (%.3f s)",
		    (double)el / 1e9);
		ok(stat(path, &st) == 0 &&
			(double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9 >
			    (double)w0.tv_sec + w0.tv_nsec / 1e9 + 0.7,
		    "... writing the file again at a heartbeat meanwhile");
	}
	records = 8;
	if (write(fds[1], "x", 1) != 1)
		exit(2);
	t0 = cli_mono_ns();
	metrics_idle(&m, fds[0]);
	el = cli_mono_ns() - t0;
	ok(el < 100000000ull, "idle returns at once when input is ready");
	ok(strstr(slurp(path), "closehook_t_records_total{file=\"m\"} 7\n") !=
		NULL,
	    "... without writing (the change waits)");
	t0 = cli_mono_ns();
	records = 7;
	metrics_idle(&m, fds[0]);
	ok(cli_mono_ns() - t0 < 100000000ull,
	    "idle with nothing changed returns at once");
	close(fds[0]);
	close(fds[1]);

	records = 9;
	is_int(metrics_close(&m), 0, "close succeeds");
	ok(strstr(slurp(path), "closehook_t_records_total{file=\"m\"} 9\n") !=
		NULL,
	    "close writes the last change at once");
	is_int(entries(dir), 1, "no temporary file is left");
	unlink(path);

	is_int(in_child(unwritable), CLI_EXIT_FATAL,
	    "a file that cannot be written at start exits 2");
}

/* Percentiles and the Prometheus buckets come from one count. */
static void
test_lat(void)
{
	struct metrics m;
	static struct metrics_lat l;
	char *buf = NULL;
	size_t cap = 0, n;
	double p;
	int i;

	is_int(metrics_lat_pct(&l, 0.5) == 0, 1, "no latencies: percentile 0");
	for (i = 0; i < 50; i++)
		metrics_lat_add(&l, 1000); /* 1 us */
	for (i = 0; i < 49; i++)
		metrics_lat_add(&l, 10000000); /* 10 ms */
	metrics_lat_add(&l, (uint64_t)1 << 62); /* past the last bucket */
	p = metrics_lat_pct(&l, 0.5);
	ok(p > 0.00099 && p < 0.00110, "p50 is 1 us within a bucket (%g ms)",
	    p);
	p = metrics_lat_pct(&l, 0.51);
	ok(p > 9.7 && p < 10.3, "p51 is 10 ms within 3%% (%g ms)", p);
	p = metrics_lat_pct(&l, 0.99);
	ok(p > 9.7 && p < 10.3, "p99 is 10 ms within 3%% (%g ms)", p);
	ok(metrics_lat_pct(&l, 1) > 1e9, "p100 is the overflow bucket");

	metrics_init(&m, NULL);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_t_lat_seconds", METRICS_HISTOGRAM,
		METRICS_LAT, &l, "Latency.", NULL, NULL },
	    1);
	ok(metrics_render(&m, &buf, &cap, &n) == 0, "a METRICS_LAT renders");
	ok(strstr(buf,
	       "# TYPE closehook_t_lat_seconds histogram\n"
	       "closehook_t_lat_seconds_bucket{le=\"0.000127\"} 50\n") != NULL,
	    "the first bucket ends at 127 us and holds the 1 us ones");
	ok(strstr(buf,
	       "_bucket{le=\"0.008191\"} 50\n"
	       "closehook_t_lat_seconds_bucket{le=\"0.016383\"} 99\n") != NULL,
	    "the 10 ms ones are in the octave that ends at 16383 us");
	ok(strstr(buf,
	       "_bucket{le=\"1073.741823\"} 99\n"
	       "closehook_t_lat_seconds_bucket{le=\"+Inf\"} 100\n") != NULL,
	    "the last bound is 2^30 - 1 us (17.9 minutes, post's longest "
	    "retries); beyond it only +Inf");
	ok(strstr(buf, "closehook_t_lat_seconds_count 100\n") != NULL,
	    "the count is every observation");
	free(buf);
	metrics_close(&m);
}

static void
test_off(void)
{
	struct metrics m;
	static uint64_t v;
	int i;

	metrics_init(&m, NULL);
	metrics_add(&m,
	    &(struct metrics_def){ "closehook_t_total", METRICS_COUNTER,
		METRICS_U64, &v, "Off.", NULL, NULL },
	    1);
	metrics_start(&m);
	for (i = 0; i < 5000; i++)
		metrics_tick(&m);
	metrics_poll(&m);
	metrics_idle(&m, 0);
	is_int(metrics_close(&m), 0, "without a path every call is a no-op");
}

int
main(void)
{
	cli_init("test-metrics");
	if (mkdtemp(dir) == NULL)
		return 2;
	test_render();
	test_lat();
	test_off();
	test_writes();
	rmdir(dir);
	return tap_done();
}
