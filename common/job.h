/*
 * job.h - closehook-post's jobs and the queues they wait in: the records
 * a request carries, the ready, waiting, in-flight and dead-letter lists,
 * the --order-by chains (equal keys one at a time, in input order) and
 * the epochs that decide when an acknowledgement mark may be passed on
 * (mark.h; HACKING.md, "End to end: acknowledgement marks").
 *
 * Ownership.  A job owns its records' lines (job_new_rec's line is a part
 * of the job itself), its body (unless body_is_line:
 * then the body is its one record's line), its URL and Idempotency-Key
 * value; job_free() frees them.  The caller owns what a request needs
 * beyond that: the transfer (x) and the per-attempt header list (hdrs),
 * which it must release when the attempt ends, before job_free().  A
 * record whose line is NULL lives in the body, at [off, off + n).  The
 * queue owns its key table and its epochs (the marks' copies); the lists
 * link jobs through the jobs themselves and own none: a job is on at most
 * one of ready, waiting, dlq and inflight, as its state says.  A done job
 * is the caller's to pass to job_free().
 *
 * A job's state changes only through job_move(), which aborts on any
 * change the table below does not list, and keeps the lists in step: it
 * appends to ready, inserts into waiting by next_at, links into and out of
 * inflight, and on JOB_DONE lets the next job of the key go (JOB_CHAIN to
 * JOB_READY, unless draining: then the rest of the key's chain fails, in
 * order, with job_drain()'s reason).  Taking a
 * job off ready or waiting is job_list_pop(); it keeps its state until it
 * is moved on.
 *
 *   from \ to    READY  WAIT   CHAIN  FLIGHT DONE   what
 *   JOB_NEW      yes    -      yes    -      yes    queued; behind its key;
 *                                                   failed before queueing
 *   JOB_READY    -      -      -      yes    yes    started; start failed,
 *                                                   or drained
 *   JOB_WAIT     yes    -      -      -      yes    retry due; drained
 *   JOB_CHAIN    yes    -      -      -      yes    key's previous job done;
 *                                                   drained
 *   JOB_FLIGHT   -      yes    -      -      yes    retry later; delivered,
 *                                                   failed for good,
 *                                                   cancelled
 *   JOB_DONE     -      -      -      -      -      freed by the caller
 *
 * Epochs: the records read between two marks form an epoch; each counts
 * its records not yet done, and a mark is passed on (to the writer given
 * to job_queue_init) once its epoch and every one before it have none
 * left.  A record is done when job_recs_done() says so: the caller calls
 * it once a record was delivered and written, or dead-lettered and the
 * dead-letter file synced, then job_epochs_pass().
 */
#ifndef CLOSEHOOK_JOB_H
#define CLOSEHOOK_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "lr.h"
#include "signer.h"

struct curl_slist;
struct http_xfer;
struct out;

enum job_state {
	JOB_NEW, /* being built; a batch being filled */
	JOB_READY, /* on ready: may start */
	JOB_WAIT, /* on waiting: a retry, at next_at */
	JOB_CHAIN, /* behind the head of its key's chain */
	JOB_FLIGHT, /* on inflight: a transfer */
	JOB_DONE /* delivered or dead-lettered */
};

struct job_rec {
	char *line; /* the input line, owned; NULL: in the body */
	size_t n;
	unsigned long lineno;
	const char *file; /* "stdin" or an operand */
	uint64_t t_read; /* mono ns */
	size_t off; /* line == NULL: it is job body[off, off + n) */
	uint64_t epoch; /* the epoch it was read in */
};

struct job_key;

/* One request: one record, or a batch of them. */
struct job {
	struct job_rec *recs; /* &rec1, or allocated */
	size_t nrec, caprec;
	struct job_rec rec1;
	char *body; /* owned unless body_is_line */
	size_t bodyn, bodycap;
	int body_is_line;
	size_t linecap; /* job_new_rec: room for its line after the job */
	char *url; /* owned; NULL: the URL operand */
	char *idem; /* Idempotency-Key value, owned */
	char msgid[SIGNER_ID_MAX + 1]; /* webhook-id */
	struct job_key *key;
	enum job_state state;
	int attempts;
	uint64_t t_first; /* first attempt, mono ns */
	uint64_t next_at; /* JOB_WAIT: when to try again */
	long status; /* last HTTP status */
	char err[320]; /* last error, for the report */
	struct http_xfer *x; /* JOB_FLIGHT: the caller's transfer */
	struct curl_slist *hdrs; /* the caller's per-attempt list, or NULL */
	struct job *next; /* ready/waiting/dead-letter list */
	struct job *knext; /* the key's chain */
	struct job *iprev, *inext; /* in-flight list */
};

/* The jobs of one --order-by key, delivered one at a time. */
struct job_key {
	char *k;
	size_t n;
	uint64_t hash;
	struct job *head, *tail;
	struct job_key *hnext;
};

struct job_list {
	struct job *head, *tail;
};

struct job_epoch {
	size_t open; /* records not done */
	char *mark; /* the mark that closed it; NULL while being read */
	size_t markn;
};

struct job_queue {
	struct job_list ready; /* JOB_READY, in order */
	struct job_list waiting; /* JOB_WAIT, by next_at */
	struct job_list dlq; /* JOB_DONE, dead-lettered, not yet synced */
	struct job *inflight; /* JOB_FLIGHT */
	size_t live; /* records read and not yet done */
	int draining; /* job_drain() ran */
	/* job_drain()'s failure, for the chains behind a job in flight. */
	void (*drain_fail)(struct job *, const char *);
	const char *drain_why;
	struct job_key **ktab;
	size_t ktabn, nkeys;
	/* epochs[0] is the oldest not passed on, the last is being read. */
	struct job_epoch *epochs;
	size_t nepochs, capepochs;
	uint64_t epoch_base; /* the number of epochs[0] */
	struct out *marks; /* where marks are passed on */
};

void job_queue_init(struct job_queue *, struct out *marks);
/* Free the key table and the epochs; the jobs are the caller's. */
void job_queue_free(struct job_queue *);

/* A job with room for nrec records, JOB_NEW. */
struct job *job_new(size_t nrec);
/*
 * A job of the one record of line l, read now from file (job_add_rec with
 * no body_off), in one allocation with its copy of the line.  job_free
 * keeps a few such jobs for the next ones; job_queue_free frees them.
 */
struct job *job_new_rec(struct job_queue *, const struct lr_line *l,
    const char *file, uint64_t now);
/*
 * Add the record of line l, read now from file, to the epoch being read:
 * a copy of the line, or, with body_off >= 0, the piece of the body at
 * body_off (a batch sent as is).
 */
void job_add_rec(struct job_queue *, struct job *, const struct lr_line *l,
    const char *file, uint64_t now, long body_off);
/* The bytes of a record's input line. */
const char *job_rec_line(const struct job *, const struct job_rec *);
void job_free(struct job *);

/* Change a job's state (the table above); aborts on an illegal change. */
void job_move(struct job_queue *, struct job *, enum job_state to);
/*
 * Queue a new job: k (kn bytes; NULL: no key) names its --order-by key;
 * it goes behind the key's last job (JOB_CHAIN) or to ready.
 */
void job_enqueue(struct job_queue *, struct job *, const char *k, size_t kn);
/* Move the retries due at now to ready. */
void job_due(struct job_queue *, uint64_t now);
/*
 * Stop: fail(j, why) every job not in flight (ready, waiting), which must
 * move it to JOB_DONE.  A waiting job keeps its last error as the reason.
 * A job in flight stays the head of its key, and the jobs behind it fail
 * when it is done, so that one key's failures come in input order (a
 * replay with --order-by keeps it).
 */
void job_drain(struct job_queue *, void (*fail)(struct job *, const char *),
    const char *why);

void job_list_push(struct job_list *, struct job *);
struct job *job_list_pop(struct job_list *);

/* A mark (p, n bytes) was read: it closes the epoch being read. */
void job_epoch_close(struct job_queue *, const char *p, size_t n);
/* The job's records are done (delivered, or dead-lettered and synced). */
void job_recs_done(struct job_queue *, const struct job *);
/* Pass on, in order, every mark whose records are all done. */
void job_epochs_pass(struct job_queue *);

#endif
