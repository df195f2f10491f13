/*
 * recloop.h - the input loop of the record filters (verify, dedupe,
 * flatten): one place that reads a file or stdin line by line and does
 * what every filter does around its own work on a record.
 *
 * For each input: open it (an open error is reported, and the run goes on
 * with the next input), read it with the line reader (stdout flushed and
 * the idle hook run before a read that may block), and for each line:
 *   - a mark (mark.h): run before_mark (finish what was read before it),
 *     then pass it on to stdout after syncing the rejects file;
 *   - a line longer than max_line: too_long;
 *   - any other line: line.
 * The loop stops at the end of the input, on a read error (reported), on a
 * write error on stdout, or when line or too_long returns -1 (--fail-fast).
 * The caller owns every writer; the loop only borrows them.
 *
 * The second core (prep, optional): when the input is backlogged - at
 * least RECLOOP_PREP_MIN bytes of lines wait in the reader's buffer behind
 * the one just read - the loop takes all the complete lines held and
 * shares them out: the loop handles them from the first on as usual,
 * while a second thread calls prep() on them from the last back, until
 * the two meet (so neither waits for the other, and when the second gets
 * no CPU the loop does all).  prep() does the part of a line's work that needs nothing but the
 * line and state no other code writes meanwhile (prep_ctx is the second
 * thread's own): it appends the line's result to res and returns 0, or
 * returns -1 to leave the line whole to line() - for anything that
 * reports, rejects, counts or touches shared state.  Marks are never
 * given to prep().  Then, in input order, each prepared line goes to
 * prepped() with its result instead of line(); nothing else changes, so
 * the output, the messages and the order are those of a run without the
 * second thread.  A lone line (nothing held behind it) never leaves the
 * first thread, so the second core costs a lone record no latency.
 * CLOSEHOOK_CORES=1 in the environment keeps every line on the first.
 *
 * The second thread also runs a program's task (recloop_task below)
 * before its next line: a step of the program's own that can run beside
 * the loop, which the program waits for before it uses its result.
 */
#ifndef CLOSEHOOK_RECLOOP_H
#define CLOSEHOOK_RECLOOP_H

#include <stddef.h>

#include "lr.h"
#include "out.h"

struct prep;

struct recloop {
	struct out *out; /* stdout: the records, and the marks passed on */
	struct out *side; /* the rejects file, or NULL */
	size_t max_line;
	void *arg; /* for the callbacks */
	/* A line (p and n point into the reader's buffer). 0, or -1: stop. */
	int (*line)(void *arg, const char *file, struct lr_line *l);
	/* A line longer than max_line. 0, or -1: stop. */
	int (*too_long)(void *arg, const char *file, unsigned long lineno);
	/* Before a mark passes on (NULL: nothing to finish first). */
	void (*before_mark)(void *arg);
	/* Before a read that may block, after stdout was flushed (or NULL);
	 * fd is the input's descriptor. */
	void (*idle)(void *arg, int fd);
	/* The second core (see above), or NULL. */
	int (*prep)(void *ctx, const struct lr_line *l, struct out *res);
	/* A prepared line and its result. 0, or -1: stop. */
	int (*prepped)(void *arg, const char *file, struct lr_line *l,
	    const char *res, size_t n);
	void *prep_ctx; /* the second thread's state, for prep */
	/*
	 * Two lines at once (optional), for work that goes faster two by two
	 * (closehook-verify: two HMACs interleaved): as prep on l[0], then
	 * on l[1], each result appended to res in turn; ok[j] is set to
	 * what prep would have returned for l[j], end[j] to res's length
	 * after l[j]'s result.  Each thread then takes its lines in pairs,
	 * the first thread with prep_ctx1, its own state, passing its
	 * prepared lines to prepped as the second's.
	 */
	void (*prep2)(void *ctx, const struct lr_line *const l[2],
	    struct out *res, int ok[2], size_t end[2]);
	void *prep_ctx1;
	struct prep *priv; /* the loop's own, while it runs */
};

/* The backlog, in bytes held behind a line, that brings the second core in. */
#define RECLOOP_PREP_MIN (32u * 1024)

/*
 * Run the loop over path ("-" or NULL: stdin).  Returns 0, 1 when a
 * callback stopped it, or -1 after an open or read error (reported).
 * Exits 2 when the rejects file cannot be synced for a mark.
 */
int recloop_run(struct recloop *, const char *path);

/*
 * A task for the second core, from a callback of the loop: fn(arg) runs
 * on the second thread (started for it when no backlog has yet), ahead
 * of any line that thread has not begun, while the loop goes on.  It is
 * a program's step that touches nothing the first thread does meanwhile
 * (closehook-dedupe: a full block's keys judged in a SQLite store).  One
 * at a time: a second waits for the first to end.  Returns 0, or -1 when
 * there is no second thread to run it (CLOSEHOOK_CORES=1, or none could
 * start, or the loop is not running): the caller does the work itself.
 * The loop ends no run with a task still pending.
 */
int recloop_task(struct recloop *, void (*fn)(void *), void *arg);
/* Wait until the task posted last has ended (at once when none is). */
void recloop_task_wait(struct recloop *);

#endif
