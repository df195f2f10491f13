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
 */
#ifndef CLOSEHOOK_RECLOOP_H
#define CLOSEHOOK_RECLOOP_H

#include <stddef.h>

#include "lr.h"
#include "out.h"

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
};

/*
 * Run the loop over path ("-" or NULL: stdin).  Returns 0, 1 when a
 * callback stopped it, or -1 after an open or read error (reported).
 * Exits 2 when the rejects file cannot be synced for a mark.
 */
int recloop_run(struct recloop *, const char *path);

#endif
