/*
 * natsq-pub.c - a test tool (not a test itself): publish the capture lines
 * of stdin to a spool stream the way closehook-receive is to, through
 * natsq_publish (asynchronous, many in flight, a Nats-Msg-Id from the
 * body and the signature timestamp), and do what Close does with a
 * delivery that failed: send it again, until it is acknowledged or the
 * deadline passes.  tests/t0970-nats-publish.t kills the stream's leader
 * while it runs.
 *
 *	natsq-pub [-n] [-r RATE] [-i INFLIGHT] [-d SECONDS] [-R REPLICAS] URL
 *	    <captures
 *
 * -n: the stream exists; do not look it up (a cluster without a quorum
 * cannot answer, and it is the publishes that are to fail).
 *
 * stdout: one line per capture acknowledged, "LINE SEQ DUP" (its line
 * number from 1, its stream sequence, 1 when the stream reported it a
 * duplicate), in line order.  stderr: a summary.  Exit 0 when every line
 * was acknowledged, 1 otherwise, 2 on a setup failure.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "capture.h"
#include "cli.h"
#include "natsq.h"

/* A failed line is sent again this long after. */
#define RETRY_S 0.25

struct line {
	char *p;
	size_t n;
	char id[NATSQ_MSGID_LEN + 1];
	uint64_t seq;
	int dup;
	int state; /* 0 to send, 1 in flight, 2 acknowledged */
	double retry_at; /* not sent again before */
	unsigned long tries;
};

static struct line *lines;
static size_t nlines;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static size_t nacked, nfailed, ninflight;
static char lastwhy[256];

static double now(void);

static void
on_done(void *arg, int ok, uint64_t seq, int dup, const char *why)
{
	struct line *l = arg;

	pthread_mutex_lock(&mu);
	ninflight--;
	if (ok) {
		l->state = 2;
		l->seq = seq;
		l->dup = dup;
		nacked++;
	} else {
		/* As Close would: the delivery failed, send it again. */
		l->state = 0;
		l->retry_at = now() + RETRY_S;
		nfailed++;
		snprintf(lastwhy, sizeof(lastwhy), "%s", why);
	}
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
read_lines(void)
{
	size_t cap = 0, bn = 0;
	ssize_t got;
	char *buf = NULL, *body;
	struct capture c;
	struct json_span ts;
	const char *why;
	char tsv[64];
	long n;

	while ((got = getline(&buf, &bn, stdin)) > 0) {
		struct line *l;

		if (buf[got - 1] == '\n')
			buf[--got] = '\0';
		if (nlines == cap) {
			cap = cap ? 2 * cap : 1024;
			if ((lines = realloc(lines, cap * sizeof(*lines))) ==
			    NULL)
				cli_fatal("out of memory");
		}
		l = &lines[nlines++];
		memset(l, 0, sizeof(*l));
		if ((l->p = strdup(buf)) == NULL ||
		    (body = malloc((size_t)got + 1)) == NULL)
			cli_fatal("out of memory");
		l->n = (size_t)got;
		if (capture_parse(l->p, l->n, &c, body, &why) != 0)
			cli_fatalx("stdin:%zu: %s", nlines, why);
		if ((n = capture_body(&c, body)) < 0)
			cli_fatalx("stdin:%zu: bad body", nlines);
		tsv[0] = '\0';
		if (capture_header(&c, "close-sig-timestamp", &ts) &&
		    ts.n < sizeof(tsv))
			tsv[json_str_unescape(ts, tsv)] = '\0';
		natsq_msgid(body, (size_t)n, tsv, strlen(tsv), l->id);
		free(body);
	}
	free(buf);
}

int
main(int argc, char *argv[])
{
	struct natsq_opts o = { 0 };
	struct natsq_url u;
	struct natsq *q;
	double rate = 0, deadline = 60, t0, next;
	int inflight = 256, ch, rc, nolookup = 0;
	const char *why;
	size_t i, sent = 0, ndup = 0;
	unsigned long npub = 0;
	char err[600];

	cli_init("natsq-pub");
	while ((ch = getopt(argc, argv, "nr:i:d:R:")) != -1) {
		switch (ch) {
		case 'n':
			nolookup = 1;
			break;
		case 'r':
			rate = atof(optarg);
			break;
		case 'i':
			inflight = atoi(optarg);
			break;
		case 'd':
			deadline = atof(optarg);
			break;
		case 'R':
			o.replicas = atoi(optarg);
			break;
		default:
			return 2;
		}
	}
	if (optind + 1 != argc || sodium_init() < 0)
		return 2;
	if (natsq_url_parse(argv[optind], &u, &why) != 0)
		cli_fatalx("%s", why);
	read_lines();
	if ((q = natsq_connect(&u, &o, err, sizeof(err))) == NULL)
		cli_fatalx("%s", err);
	if ((!nolookup && natsq_stream(q) != 0) ||
	    natsq_pub_start(q, on_done, inflight, 2000) != 0)
		cli_fatalx("%s", natsq_error(q));
	t0 = now();
	next = t0;
	pthread_mutex_lock(&mu);
	while (nacked < nlines && now() - t0 < deadline) {
		struct line *l = NULL;

		/* A failed one first, else the next new one when it is due. */
		for (i = 0; i < sent; i++)
			if (lines[i].state == 0 && lines[i].retry_at <= now()) {
				l = &lines[i];
				break;
			}
		if (l == NULL && sent < nlines && now() >= next) {
			l = &lines[sent++];
			next += rate > 0 ? 1 / rate : 0;
		}
		if (l == NULL || ninflight >= (size_t)inflight) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 2000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&cv, &mu, &ts);
			continue;
		}
		l->state = 1;
		l->tries++;
		ninflight++;
		npub++;
		pthread_mutex_unlock(&mu);
		rc = natsq_publish(q, l->p, l->n, l->id, l);
		pthread_mutex_lock(&mu);
		if (rc != 0) {
			ninflight--;
			l->state = 0;
			l->retry_at = now() + RETRY_S;
			nfailed++;
			snprintf(
			    lastwhy, sizeof(lastwhy), "%s", natsq_pub_error());
		}
	}
	pthread_mutex_unlock(&mu);
	natsq_pub_drain(q, 3000);
	pthread_mutex_lock(&mu);
	for (i = 0; i < nlines; i++) {
		if (lines[i].state == 2)
			printf("%zu %llu %d\n", i + 1,
			    (unsigned long long)lines[i].seq, lines[i].dup);
		ndup += lines[i].state == 2 && lines[i].dup;
	}
	fprintf(stderr,
	    "natsq-pub: %zu lines, %zu acknowledged (%zu as duplicates), "
	    "%lu publishes, %zu failed%s%s, %.2f s\n",
	    nlines, nacked, ndup, npub, nfailed, nfailed ? ", the last: " : "",
	    nfailed ? lastwhy : "", now() - t0);
	rc = nacked == nlines ? 0 : 1;
	pthread_mutex_unlock(&mu);
	natsq_close(q);
	natsq_finish();
	for (i = 0; i < nlines; i++)
		free(lines[i].p);
	free(lines);
	return rc;
}
