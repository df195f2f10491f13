/*
 * job.c - closehook-post's jobs, queues, key chains and mark epochs; see
 * job.h.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "job.h"
#include "mark.h"

/*
 * Jobs of job_new_rec freed, for the next ones: a record of a few KiB is
 * beyond malloc's per-thread cache, and each malloc and free of one cost
 * hundreds of instructions.  Room for a line is a power of two (1 KiB at
 * least), so that lines of similar lengths fit one another's jobs; jobs
 * with room for more than SPARE_CAP are not kept.
 */
#define SPARE_MAX 64
#define SPARE_CAP (64 * 1024)
static struct job *spare;
static size_t nspare;

/* legal[from][to]: the table in job.h. */
static const unsigned char legal[6][6] = {
	/*		NEW READY WAIT CHAIN FLIGHT DONE */
	[JOB_NEW] = { 0, 1, 0, 1, 0, 1 },
	[JOB_READY] = { 0, 0, 0, 0, 1, 1 },
	[JOB_WAIT] = { 0, 1, 0, 0, 0, 1 },
	[JOB_CHAIN] = { 0, 1, 0, 0, 0, 1 },
	[JOB_FLIGHT] = { 0, 0, 1, 0, 0, 1 },
	[JOB_DONE] = { 0, 0, 0, 0, 0, 0 },
};

void
job_queue_init(struct job_queue *q, struct out *marks)
{
	memset(q, 0, sizeof(*q));
	q->ktabn = 1024;
	q->ktab = xcalloc(q->ktabn, sizeof(*q->ktab));
	q->marks = marks;
}

void
job_queue_free(struct job_queue *q)
{
	size_t i;

	for (i = 0; i < q->nepochs; i++)
		free(q->epochs[i].mark);
	free(q->epochs);
	free(q->ktab);
	while (spare != NULL) {
		struct job *j = spare;

		spare = j->next;
		free(j);
	}
	nspare = 0;
	q->epochs = NULL;
	q->ktab = NULL;
}

/* Lists. */
void
job_list_push(struct job_list *l, struct job *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

struct job *
job_list_pop(struct job_list *l)
{
	struct job *j = l->head;

	if (j != NULL) {
		l->head = j->next;
		if (l->head == NULL)
			l->tail = NULL;
		j->next = NULL;
	}
	return j;
}

/* The waiting list stays sorted by next_at. */
static void
wait_insert(struct job_queue *q, struct job *j)
{
	struct job **pp = &q->waiting.head;

	while (*pp != NULL && (*pp)->next_at <= j->next_at)
		pp = &(*pp)->next;
	j->next = *pp;
	*pp = j;
	if (j->next == NULL)
		q->waiting.tail = j;
}

static void
flight_link(struct job_queue *q, struct job *j)
{
	j->iprev = NULL;
	j->inext = q->inflight;
	if (q->inflight != NULL)
		q->inflight->iprev = j;
	q->inflight = j;
}

static void
flight_unlink(struct job_queue *q, struct job *j)
{
	if (j->iprev != NULL)
		j->iprev->inext = j->inext;
	else
		q->inflight = j->inext;
	if (j->inext != NULL)
		j->inext->iprev = j->iprev;
	j->iprev = j->inext = NULL;
}

/* Order keys. */
static uint64_t
khash(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n-- > 0)
		h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
	return h;
}

static struct job_key *
key_get(struct job_queue *q, const char *k, size_t n)
{
	uint64_t h = khash(k, n);
	struct job_key *o;

	for (o = q->ktab[h % q->ktabn]; o != NULL; o = o->hnext)
		if (o->hash == h && o->n == n && memcmp(o->k, k, n) == 0)
			return o;
	o = xcalloc(1, sizeof(*o));
	o->k = xmemdup(k, n);
	o->n = n;
	o->hash = h;
	o->hnext = q->ktab[h % q->ktabn];
	q->ktab[h % q->ktabn] = o;
	q->nkeys++;
	return o;
}

/* Unlink the key at *pp from its hash chain and free it. */
static void
key_free(struct job_queue *q, struct job_key **pp)
{
	struct job_key *o = *pp;

	*pp = o->hnext;
	free(o->k);
	free(o);
	q->nkeys--;
}

static void
key_drop(struct job_queue *q, struct job_key *o)
{
	struct job_key **pp = &q->ktab[o->hash % q->ktabn];

	while (*pp != o)
		pp = &(*pp)->hnext;
	key_free(q, pp);
}

/*
 * A job is over (delivered, skipped or dead-lettered): let the next job of
 * its key go.
 */
static void
key_release(struct job_queue *q, struct job *j)
{
	struct job_key *o = j->key;
	struct job *nx;

	if (o == NULL)
		return;
	j->key = NULL;
	nx = j->knext;
	o->head = nx;
	if (nx == NULL) {
		o->tail = NULL;
		key_drop(q, o);
		return;
	}
	if (!q->draining) {
		job_move(q, nx, JOB_READY);
		return;
	}
	/* Draining: the rest of the chain fails now, after its head. */
	o->head = o->tail = NULL;
	key_drop(q, o);
	while (nx != NULL) {
		struct job *c = nx;

		nx = c->knext;
		c->knext = NULL;
		c->key = NULL;
		q->drain_fail(c, q->drain_why);
	}
}

void
job_move(struct job_queue *q, struct job *j, enum job_state to)
{
	enum job_state from = j->state;

	/* A bug: abort, for a core and a failed test, rather than go on. */
	if (!legal[from][to]) {
		cli_warnx("job: illegal move from state %d to %d", (int)from,
		    (int)to);
		abort();
	}
	if (from == JOB_FLIGHT)
		flight_unlink(q, j);
	j->state = to;
	switch (to) {
	case JOB_READY:
		job_list_push(&q->ready, j);
		break;
	case JOB_WAIT:
		wait_insert(q, j);
		break;
	case JOB_FLIGHT:
		flight_link(q, j);
		break;
	case JOB_DONE:
		key_release(q, j);
		break;
	case JOB_NEW:
	case JOB_CHAIN:
		break;
	}
}

void
job_enqueue(struct job_queue *q, struct job *j, const char *k, size_t kn)
{
	struct job_key *o;

	if (k == NULL) {
		job_move(q, j, JOB_READY);
		return;
	}
	o = key_get(q, k, kn);
	j->key = o;
	if (o->head != NULL) {
		o->tail->knext = j;
		o->tail = j;
		job_move(q, j, JOB_CHAIN);
		return;
	}
	o->head = o->tail = j;
	job_move(q, j, JOB_READY);
}

void
job_due(struct job_queue *q, uint64_t now)
{
	while (q->waiting.head != NULL && q->waiting.head->next_at <= now)
		job_move(q, job_list_pop(&q->waiting), JOB_READY);
}

void
job_drain(struct job_queue *q, void (*fail)(struct job *, const char *),
    const char *why)
{
	struct job *j;
	size_t i;

	q->draining = 1;
	q->drain_fail = fail;
	q->drain_why = why;
	while ((j = job_list_pop(&q->ready)) != NULL)
		fail(j, why);
	while ((j = job_list_pop(&q->waiting)) != NULL)
		fail(j, j->err[0] != '\0' ? j->err : why);
	/*
	 * Jobs queued behind a key: a key whose head is in flight keeps its
	 * chain, which fails after the head (key_release); the other chains
	 * fail now, in order.
	 */
	for (i = 0; i < q->ktabn; i++) {
		struct job_key **pp = &q->ktab[i], *o;

		while ((o = *pp) != NULL) {
			struct job *c = o->head, *nx;

			if (c != NULL && c->state == JOB_FLIGHT) {
				pp = &o->hnext;
				continue;
			}
			for (; c != NULL; c = nx) {
				nx = c->knext;
				c->knext = NULL;
				c->key = NULL;
				fail(c, why);
			}
			key_free(q, pp);
		}
	}
}

/* Jobs and records. */
struct job *
job_new(size_t nrec)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->caprec = nrec;
	j->recs = xmalloc(nrec * sizeof(*j->recs));
	return j;
}

/* One allocation instead of three (the job, its records, the line). */
struct job *
job_new_rec(struct job_queue *q, const struct lr_line *l, const char *file,
    uint64_t now)
{
	struct job *j;
	size_t cap = 1024;
	char *line;

	if (spare != NULL && spare->linecap > l->n) {
		j = spare;
		spare = j->next;
		nspare--;
		cap = j->linecap;
	} else {
		while (cap <= l->n && cap <= SPARE_CAP)
			cap *= 2;
		if (cap <= l->n)
			cap = l->n + 1;
		j = xmalloc(sizeof(*j) + cap);
	}
	memset(j, 0, sizeof(*j));
	j->linecap = cap;
	line = (char *)(j + 1);
	memcpy(line, l->p, l->n);
	line[l->n] = '\0';
	j->recs = &j->rec1;
	j->caprec = 1;
	job_add_rec(q, j, l, file, now, 0); /* not copied there */
	j->rec1.line = line;
	return j;
}

/* The epoch being read: the one a record read now belongs to. */
static struct job_epoch *
epoch_cur(struct job_queue *q)
{
	if (q->nepochs == 0) {
		q->capepochs = 16;
		q->epochs = xmalloc(q->capepochs * sizeof(*q->epochs));
		memset(&q->epochs[0], 0, sizeof(q->epochs[0]));
		q->nepochs = 1;
	}
	return &q->epochs[q->nepochs - 1];
}

void
job_add_rec(struct job_queue *q, struct job *j, const struct lr_line *l,
    const char *file, uint64_t now, long body_off)
{
	struct job_rec *r;

	if (j->nrec == j->caprec) {
		j->caprec = j->caprec == 0 ? 1 : 2 * j->caprec;
		if (j->recs == &j->rec1) {
			j->recs = xmalloc(j->caprec * sizeof(*r));
			j->recs[0] = j->rec1;
		} else
			j->recs = xrealloc(j->recs, j->caprec * sizeof(*r));
	}
	r = &j->recs[j->nrec++];
	if (body_off >= 0) {
		r->line = NULL;
		r->off = (size_t)body_off;
	} else
		r->line = xmemdup(l->p, l->n);
	r->n = l->n;
	r->lineno = l->lineno;
	r->file = file;
	r->t_read = now;
	epoch_cur(q)->open++;
	r->epoch = q->epoch_base + q->nepochs - 1;
	q->live++;
}

const char *
job_rec_line(const struct job *j, const struct job_rec *r)
{
	return r->line != NULL ? r->line : j->body + r->off;
}

void
job_free(struct job *j)
{
	size_t i;

	/* job_new_rec's line follows the job: freed with it. */
	for (i = 0; i < j->nrec; i++)
		if (j->recs[i].line != (char *)(j + 1))
			free(j->recs[i].line);
	if (j->recs != &j->rec1)
		free(j->recs);
	if (!j->body_is_line)
		free(j->body);
	free(j->url);
	free(j->idem);
	if (j->linecap > 0 && j->linecap <= SPARE_CAP && nspare < SPARE_MAX) {
		j->next = spare;
		spare = j;
		nspare++;
	} else
		free(j);
}

/* Epochs. */
void
job_epochs_pass(struct job_queue *q)
{
	size_t k = 0;

	while (k + 1 < q->nepochs && q->epochs[k].open == 0) {
		/* The caller made the dead letters durable already. */
		mark_pass(
		    q->marks, q->epochs[k].mark, q->epochs[k].markn, NULL, 0);
		free(q->epochs[k].mark);
		k++;
	}
	if (k > 0) {
		memmove(q->epochs, q->epochs + k,
		    (q->nepochs - k) * sizeof(*q->epochs));
		q->nepochs -= k;
		q->epoch_base += k;
	}
}

void
job_epoch_close(struct job_queue *q, const char *p, size_t n)
{
	struct job_epoch *e = epoch_cur(q);

	e->mark = xmemdup(p, n);
	e->markn = n;
	if (q->nepochs == q->capepochs) {
		q->capepochs *= 2;
		q->epochs =
		    xrealloc(q->epochs, q->capepochs * sizeof(*q->epochs));
	}
	memset(&q->epochs[q->nepochs++], 0, sizeof(*q->epochs));
	job_epochs_pass(q);
}

void
job_recs_done(struct job_queue *q, const struct job *j)
{
	size_t i;

	for (i = 0; i < j->nrec; i++)
		q->epochs[j->recs[i].epoch - q->epoch_base].open--;
	q->live -= j->nrec;
}
