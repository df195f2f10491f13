/*
 * test-job.c - closehook-post's job queue: marks pass on only after every
 * earlier record is done, in order; equal keys go one at a time; a state
 * change the table in job.h does not list aborts.
 */
#include <sys/wait.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "job.h"
#include "out.h"
#include "tap.h"

static int fds[2];
static struct out o;
static struct job_queue q;

/* What the queue passed on since the last call. */
static const char *
passed(void)
{
	static char buf[4096];
	ssize_t n;

	out_flush(&o);
	n = read(fds[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Odd line numbers through job_new_rec, even ones job_new and job_add_rec. */
static struct job *
job_of(const char *line, unsigned long lineno)
{
	struct job *j;
	struct lr_line l = { 0 };

	l.p = (char *)line; /* copied by both */
	l.n = strlen(line);
	l.lineno = lineno;
	if (lineno % 2 == 1)
		return job_new_rec(&q, &l, "stdin", 0);
	j = job_new(1);
	job_add_rec(&q, j, &l, "stdin", 0, -1);
	return j;
}

/* job_new_rec: the line copied into the job; more records may follow. */
static void
test_new_rec(void)
{
	char line[] = "{\"a\":1}";
	struct lr_line l = { 0 };
	struct job *j;

	l.p = line;
	l.n = strlen(line);
	l.lineno = 7;
	j = job_new_rec(&q, &l, "stdin", 0);
	line[2] = 'b';
	is_str(job_rec_line(j, &j->recs[0]), "{\"a\":1}", "job_new_rec copies");
	ok(j->nrec == 1 && j->recs[0].n == 7 && j->recs[0].lineno == 7,
	    "job_new_rec: one record, its length and number");
	l.lineno = 8;
	job_add_rec(&q, j, &l, "stdin", 0, -1);
	ok(j->nrec == 2 &&
		strcmp(job_rec_line(j, &j->recs[0]), "{\"a\":1}") == 0 &&
		strcmp(job_rec_line(j, &j->recs[1]), "{\"b\":1}") == 0,
	    "a second record after job_new_rec's");
	job_move(&q, j, JOB_DONE);
	job_recs_done(&q, j);
	job_free(j);
}

/* A job is over: its records done, the marks they held passed on. */
static void
finish(struct job *j)
{
	job_move(&q, j, JOB_DONE);
	job_recs_done(&q, j);
	job_free(j);
	job_epochs_pass(&q);
}

static void
test_epochs(void)
{
	struct job *a, *b, *c;

	a = job_of("{\"a\":1}", 1);
	b = job_of("{\"b\":1}", 2);
	job_epoch_close(&q, "M1", 2);
	c = job_of("{\"c\":1}", 4);
	job_epoch_close(&q, "M2", 2);
	is_str(passed(), "", "no mark while its records are open");
	is_int(q.live, 3, "three records live");
	job_enqueue(&q, a, NULL, 0);
	job_enqueue(&q, b, NULL, 0);
	job_enqueue(&q, c, NULL, 0);
	is_int(job_list_pop(&q.ready) == a, 1, "ready in input order");
	job_list_pop(&q.ready);
	job_list_pop(&q.ready);
	job_move(&q, a, JOB_FLIGHT);
	job_move(&q, b, JOB_FLIGHT);
	job_move(&q, c, JOB_FLIGHT);
	finish(c);
	is_str(passed(), "", "a later epoch done first passes nothing");
	finish(b);
	is_str(passed(), "", "M1 waits for its last record");
	finish(a);
	is_str(passed(), "M1\nM2\n", "then both marks pass, in order");
	is_int(q.live, 0, "no records live");
	job_epoch_close(&q, "M3", 2);
	is_str(passed(), "M3\n", "a mark after nothing open passes at once");
}

static void
test_keys(void)
{
	struct job *a = job_of("a", 1), *b = job_of("b", 2),
		   *c = job_of("c", 3);

	job_enqueue(&q, a, "k", 1);
	job_enqueue(&q, b, "k", 1);
	job_enqueue(&q, c, "other", 5);
	is_int(b->state, JOB_CHAIN, "the second job of a key waits behind it");
	is_int(c->state, JOB_READY, "another key's job is ready");
	is_int(job_list_pop(&q.ready) == a, 1, "the key's first is ready");
	is_int(job_list_pop(&q.ready) == c, 1, "then the other key's");
	job_move(&q, a, JOB_FLIGHT);
	a->next_at = 5;
	job_move(&q, a, JOB_WAIT);
	is_int(b->state, JOB_CHAIN, "a retry still holds its key");
	job_due(&q, 4);
	is_int(q.ready.head == NULL, 1, "not due yet");
	job_due(&q, 5);
	is_int(job_list_pop(&q.ready) == a, 1, "due at next_at");
	job_move(&q, a, JOB_FLIGHT);
	finish(a);
	is_int(b->state, JOB_READY, "the key's next goes once it is done");
	is_int(job_list_pop(&q.ready) == b, 1, "and is on ready");
	job_move(&q, b, JOB_FLIGHT);
	finish(b);
	job_move(&q, c, JOB_FLIGHT);
	finish(c);
	is_int(q.nkeys, 0, "keys without jobs are dropped");
	passed();
}

static int nfailed;

static void
fail(struct job *j, const char *why)
{
	nfailed++;
	finish(j);
}

static void
test_drain(void)
{
	struct job *a = job_of("a", 1), *b = job_of("b", 2),
		   *c = job_of("c", 3);

	job_enqueue(&q, a, "k", 1);
	job_enqueue(&q, b, "k", 1);
	job_enqueue(&q, c, NULL, 0);
	job_list_pop(&q.ready);
	job_move(&q, a, JOB_FLIGHT);
	job_drain(&q, fail, "stop");
	is_int(nfailed, 1, "drain fails the ready job at once");
	is_int(q.inflight == a, 1, "the job in flight stays");
	finish(a);
	is_int(nfailed, 2,
	    "the one behind its key fails once it is done: a key's failures "
	    "keep input order");
	is_int(q.nkeys, 0, "its key goes with it");
	is_int(q.live, 0, "every record accounted for");
	passed();
}

static void
illegal(void)
{
	struct job *j = job_of("x", 1);

	job_move(&q, j, JOB_WAIT); /* a new job was never in flight */
}

int
main(void)
{
	int st;
	pid_t pid;

	cli_init("test-job");
	/* Non-blocking: passed() reads what is there, maybe nothing. */
	if (pipe2(fds, O_NONBLOCK) != 0)
		return 2;
	out_init(&o, fds[1], "pipe");
	job_queue_init(&q, &o);
	test_new_rec();
	test_epochs();
	test_keys();
	test_drain();
	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (freopen("/dev/null", "w", stderr) == NULL)
			_exit(99);
		illegal();
		_exit(0);
	}
	ok(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) &&
		WTERMSIG(st) == SIGABRT,
	    "an illegal state change aborts");
	job_queue_free(&q);
	return tap_done();
}
