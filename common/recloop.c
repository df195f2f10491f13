/*
 * recloop.c - the input loop of the record filters; see recloop.h.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mark.h"
#include "recloop.h"

struct idle_ctx {
	struct recloop *rl;
	int fd;
};

static void
on_idle(void *p)
{
	struct idle_ctx *c = p;

	c->rl->idle(c->rl->arg, c->fd);
}

/* One line of a batch: as the reader gave it, and what prep made of it. */
struct held {
	struct lr_line l;
	enum lr_status st;
	int prepped;
	size_t roff, rn; /* the result in its batch's res */
};

/* A batch: its lines, where the two threads met, the second's results. */
struct bset {
	struct held *h;
	size_t n, cap, meet;
	struct out res;
};

/*
 * The second thread and the batch.  The lines not taken yet are [lo, hi),
 * packed in one atomic word: the first thread takes them from the front,
 * the second from the back, each with a compare and swap, until they
 * meet.  Neither waits for the other while lines are left: when the
 * second thread gets no CPU, the first takes them all.
 *
 * busy is set by the second thread before it tries to take a line and
 * cleared once it finds none left, so once no line is left and busy is
 * clear, the second thread touches neither the batch nor its res, and
 * the first may read them.  Batches are pipelined (batch() below), two
 * sets taking turns: while the second thread works on one, the first
 * writes the other's results, reads ahead and splits the next one's
 * lines.  The lines are in the reader's two buffers, one batch each.
 * The second thread sleeps on cv while no line is left and no task
 * waits; the first wakes it for each batch.
 */
struct prep {
	struct recloop *rl;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int started, quit, sleeping;
	struct bset b[2];
	struct out res1; /* the first thread's results of a pair */
	/* The batch the second thread works on: set before range is. */
	struct held *h;
	struct out *res;
	_Atomic uint64_t range; /* lo | hi << 32 */
	atomic_int busy;
	/*
	 * The task (recloop_task): task_fn is set, under mu, from when it is
	 * posted until it has ended, when done is broadcast; posted mirrors
	 * it for a look between two lines without the lock.
	 */
	void (*task_fn)(void *);
	void *task_arg;
	atomic_int posted;
	pthread_cond_t done;
};

#define NONE ((size_t)-1)

/* Take the first line left (front) or the last: its index, or NONE. */
static size_t
take(struct prep *p, int front)
{
	uint64_t r = atomic_load(&p->range), nr;
	uint32_t lo, hi;

	do {
		lo = (uint32_t)r;
		hi = (uint32_t)(r >> 32);
		if (lo >= hi)
			return NONE;
		nr = front ? (uint64_t)hi << 32 | (lo + 1)
			   : (uint64_t)(hi - 1) << 32 | lo;
	} while (!atomic_compare_exchange_weak(&p->range, &r, nr));
	return front ? lo : hi - 1;
}

/* The task, when one is posted: run it, then say it has ended. */
static void
run_task(struct prep *p)
{
	void (*fn)(void *);
	void *arg;

	if (!atomic_load(&p->posted))
		return;
	pthread_mutex_lock(&p->mu);
	fn = p->task_fn;
	arg = p->task_arg;
	pthread_mutex_unlock(&p->mu);
	fn(arg);
	pthread_mutex_lock(&p->mu);
	p->task_fn = NULL;
	atomic_store(&p->posted, 0);
	pthread_cond_broadcast(&p->done);
	pthread_mutex_unlock(&p->mu);
}

/* A line prep may take: a line, not a mark. */
static int
preppable(const struct held *h)
{
	return h->st == LR_LINE && !mark_is(h->l.p, h->l.n);
}

/* Lines a and b (in input order) through prep2, into res. */
static void
prep_pair(struct recloop *rl, void *ctx, struct held *a, struct held *b,
    struct out *res)
{
	const struct lr_line *l[2] = { &a->l, &b->l };
	struct held *h[2] = { a, b };
	size_t start = res->len, end[2];
	int ok[2], j;

	rl->prep2(ctx, l, res, ok, end);
	for (j = 0; j < 2; j++) {
		h[j]->prepped = ok[j] == 0;
		h[j]->roff = start;
		h[j]->rn = end[j] - start;
		start = end[j];
	}
}

/*
 * The second thread's part of a batch: lines from the back, and a task
 * posted meanwhile before the next line.  Not busy while on the task:
 * the first thread may finish the batch and go on.
 */
static void
prep_lines(struct prep *p)
{
	struct recloop *rl = p->rl;
	struct held *h;
	size_t i, j, off;

	atomic_store(&p->busy, 1);
	for (;;) {
		if (atomic_load(&p->posted)) {
			atomic_store(&p->busy, 0);
			run_task(p);
			atomic_store(&p->busy, 1);
		}
		if ((i = take(p, 0)) == NONE)
			break;
		h = &p->h[i];
		if (!preppable(h))
			continue;
		/* Two by two where the program can (from the back: the one
		 * before first). */
		if (rl->prep2 != NULL && (j = take(p, 0)) != NONE &&
		    preppable(&p->h[j])) {
			prep_pair(rl, rl->prep_ctx, &p->h[j], h, p->res);
			continue;
		}
		off = p->res->len;
		if (rl->prep(rl->prep_ctx, &h->l, p->res) != 0)
			p->res->len = off;
		else {
			h->prepped = 1;
			h->roff = off;
			h->rn = p->res->len - off;
		}
	}
	atomic_store(&p->busy, 0);
}

/*
 * Rounds of cpu_relax() the second thread waits awake for the next batch:
 * about a millisecond, more than the first thread takes to pass on the
 * last batch's results and read 1 MiB, so a backlog costs a futex wake-up
 * now and then instead of at every read (26 against 722 on the bench's
 * captures; verify 3% faster).
 */
#define PREP_SPIN 20000

static inline void
cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	sched_yield();
#endif
}

static int
lines_left(struct prep *p)
{
	uint64_t r = atomic_load(&p->range);

	return (uint32_t)r < (uint32_t)(r >> 32);
}

static void *
prep_main(void *arg)
{
	struct prep *p = arg;
	int spin;

	pthread_mutex_lock(&p->mu);
	while (!p->quit) {
		pthread_mutex_unlock(&p->mu);
		run_task(p);
		prep_lines(p);
		/*
		 * No line left.  The next batch usually comes after one read:
		 * wait for it awake a little while, then asleep until it
		 * comes.
		 */
		for (spin = 0; spin < PREP_SPIN && !lines_left(p) &&
		     !atomic_load(&p->posted);
		     spin++)
			cpu_relax();
		pthread_mutex_lock(&p->mu);
		while (!p->quit && !lines_left(p) && !atomic_load(&p->posted)) {
			p->sleeping = 1;
			pthread_cond_wait(&p->cv, &p->mu);
			p->sleeping = 0;
		}
	}
	pthread_mutex_unlock(&p->mu);
	/* One posted just before the stop. */
	run_task(p);
	return NULL;
}

/* Start the second thread (once per run); 0, or -1: go on without it. */
static int
prep_start(struct prep *p)
{
	sigset_t all, old;
	int rc;

	if (p->started)
		return 0;
	out_mem_init(&p->b[0].res);
	out_mem_init(&p->b[1].res);
	out_mem_init(&p->res1);
	atomic_store(&p->range, 0);
	atomic_store(&p->busy, 0);
	atomic_store(&p->posted, 0);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	pthread_cond_init(&p->done, NULL);
	/* Signals are the first thread's to take. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->th, NULL, prep_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&p->done);
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		out_close(&p->b[0].res);
		out_close(&p->b[1].res);
		out_close(&p->res1);
		return -1;
	}
	p->started = 1;
	return 0;
}

static void
prep_stop(struct prep *p)
{
	if (p->started) {
		pthread_mutex_lock(&p->mu);
		p->quit = 1;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->th, NULL);
		pthread_cond_destroy(&p->done);
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		out_close(&p->b[0].res);
		out_close(&p->b[1].res);
		out_close(&p->res1);
	}
	free(p->b[0].h);
	free(p->b[1].h);
}

/*
 * One line as the loop takes it; res (NULL: none) is its result from prep,
 * rn bytes.  Returns 0 to go on, 1 when a callback stopped the loop, 2
 * when it must end (a mark could not pass, or stdout failed).
 */
static int
one(struct recloop *rl, const char *name, enum lr_status st, struct lr_line *l,
    const char *res, size_t rn)
{
	int k;

	if (st == LR_LINE && mark_is(l->p, l->n)) {
		struct out *side = rl->side;

		if (rl->before_mark != NULL)
			rl->before_mark(rl->arg);
		if (mark_pass(rl->out, l->p, l->n, &side, 1) != 0) {
			if (side != NULL && side->err != 0)
				cli_fatalx(
				    "%s: %s", side->name, strerror(side->err));
			return 2;
		}
		return 0;
	}
	if (st == LR_TOOLONG)
		k = rl->too_long(rl->arg, name, l->lineno);
	else if (res != NULL)
		k = rl->prepped(rl->arg, name, l, res, rn);
	else
		k = rl->line(rl->arg, name, l);
	if (k != 0)
		return 1;
	return rl->out->err != 0 ? 2 : 0;
}

/* Add a line to batch b. */
static void
bset_add(struct bset *b, enum lr_status st, const struct lr_line *l)
{
	struct held *h;

	if (b->n == b->cap) {
		b->cap = b->cap == 0 ? 256 : 2 * b->cap;
		b->h = xrealloc(b->h, b->cap * sizeof(*b->h));
	}
	h = &b->h[b->n++];
	h->st = st;
	h->l = *l;
	h->prepped = 0;
}

/* Give batch b to the second thread, which is idle (see struct prep). */
static void
publish(struct prep *p, struct bset *b)
{
	b->res.len = 0;
	p->h = b->h;
	p->res = &b->res;
	/* n < 2^32: the reader's buffer holds lines of 2 bytes at least. */
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->range, (uint64_t)b->n << 32);
	if (p->sleeping)
		pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/*
 * The first thread's line i of a batch h, and the next with it when the
 * program takes lines two by two (prep2 with prep_ctx1): both prepared
 * at once, then passed on in order.  Returns as one() does.
 */
static int
front(struct recloop *rl, struct prep *p, const char *name, struct held *h,
    size_t i)
{
	size_t j;
	int rc;

	if (rl->prep2 == NULL || rl->prep_ctx1 == NULL || !preppable(&h[i]) ||
	    (j = take(p, 1)) == NONE)
		return one(rl, name, h[i].st, &h[i].l, NULL, 0);
	p->res1.len = 0;
	if (preppable(&h[j]))
		prep_pair(rl, rl->prep_ctx1, &h[i], &h[j], &p->res1);
	rc = one(rl, name, h[i].st, &h[i].l,
	    h[i].prepped ? p->res1.buf + h[i].roff : NULL, h[i].rn);
	if (rc == 0)
		rc = one(rl, name, h[j].st, &h[j].l,
		    h[j].prepped ? p->res1.buf + h[j].roff : NULL, h[j].rn);
	return rc;
}

/* The second thread's lines of batch b: from where the two met, in order. */
static int
finish(struct recloop *rl, const char *name, struct bset *b)
{
	struct held *h;
	size_t i;
	int rc = 0;

	for (i = b->meet; i < b->n && rc == 0; i++) {
		h = &b->h[i];
		rc = one(rl, name, h->st, &h->l,
		    h->prepped ? b->res.buf + h->roff : NULL, h->rn);
	}
	return rc;
}

/*
 * The line just read and every complete line held behind it, shared
 * between the two threads (recloop.h), and the batches that follow while
 * reads ahead bring more.  Pipelined, so that the first thread's serial
 * work overlaps the second's lines: with batch k given out, the first
 * writes the results of batch k-1's second part, reads ahead (into the
 * buffer batch k-1 used) and splits batch k+1's lines, then takes batch
 * k's lines from the front; the second thread takes more lines from the
 * back the longer that takes.  The output is in input order all the
 * same: batch k-1 is written out before any line of batch k.  When a
 * read ahead brings no complete line, the last batch is written out and
 * the loop reads as usual, so nothing waits on a read that may block.
 * Returns as one() does.
 */
static int
batch(struct recloop *rl, struct prep *p, struct lr *r, enum lr_status st,
    struct lr_line *l)
{
	struct bset *cur = &p->b[0], *nxt = &p->b[1], *pend = NULL, *t;
	size_t i;
	int rc = 0;

	cur->n = 0;
	do
		bset_add(cur, st, l);
	while ((st = lr_next_held(r, l)) != LR_AGAIN);
	for (;;) {
		publish(p, cur);
		if (pend != NULL)
			rc = finish(rl, r->name, pend);
		nxt->n = 0;
		if (rc == 0) {
			/* The next read, into the buffer pend's lines were
			 * in; cur's lines stay where they are. */
			lr_read_ahead(r);
			while ((st = lr_next_held(r, l)) != LR_AGAIN)
				bset_add(nxt, st, l);
		}
		while (rc == 0 && (i = take(p, 1)) != NONE)
			rc = front(rl, p, r->name, cur->h, i);
		/* Stopped: leave the second thread nothing more. */
		while (take(p, 1) != NONE)
			;
		/* Its last line, which it may still be on. */
		while (atomic_load(&p->busy))
			sched_yield();
		if (rc != 0)
			return rc;
		cur->meet = (size_t)(uint32_t)atomic_load(&p->range);
		if (nxt->n == 0)
			return finish(rl, r->name, cur);
		pend = cur;
		t = cur;
		cur = nxt;
		nxt = t;
	}
}

int
recloop_run(struct recloop *rl, const char *path)
{
	struct idle_ctx ctx;
	struct prep p = { 0 };
	enum lr_status st;
	struct lr_line l;
	struct lr r;
	int rc = 0, k;

	if (lr_open(&r, path, rl->max_line, rl->out) != 0) {
		cli_warn("%s", path);
		return -1;
	}
	/* Stopped with its pipeline: the end of the input first. */
	if (path == NULL || strcmp(path, "-") == 0)
		cli_drain_on_stop(r.fd);
	ctx.rl = rl;
	ctx.fd = r.fd;
	p.rl = rl;
	rl->priv = &p;
	if (rl->idle != NULL)
		lr_on_idle(&r, on_idle, &ctx);
	while ((st = lr_next(&r, &l)) != LR_EOF) {
		if (st == LR_ERROR) {
			cli_warn("%s: read error", r.name);
			rc = -1;
			break;
		}
		if (rl->prep != NULL && !cli_one_core() &&
		    lr_held(&r) >= RECLOOP_PREP_MIN && prep_start(&p) == 0)
			k = batch(rl, &p, &r, st, &l);
		else
			k = one(rl, r.name, st, &l, NULL, 0);
		if (k == 1)
			rc = 1;
		if (k != 0)
			break;
	}
	prep_stop(&p);
	rl->priv = NULL;
	lr_close(&r);
	return rc;
}

int
recloop_task(struct recloop *rl, void (*fn)(void *), void *arg)
{
	struct prep *p = rl->priv;

	if (p == NULL || cli_one_core() || prep_start(p) != 0)
		return -1;
	pthread_mutex_lock(&p->mu);
	while (p->task_fn != NULL)
		pthread_cond_wait(&p->done, &p->mu);
	p->task_fn = fn;
	p->task_arg = arg;
	atomic_store(&p->posted, 1);
	if (p->sleeping)
		pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void
recloop_task_wait(struct recloop *rl)
{
	struct prep *p = rl->priv;

	if (p == NULL || !p->started)
		return;
	pthread_mutex_lock(&p->mu);
	while (p->task_fn != NULL)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}
