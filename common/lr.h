/*
 * lr.h - the line reader: NDJSON input read with read(2), one line at a
 * time, bounded by a maximum line length.
 *
 * Blank lines (empty, or only spaces and tabs) and a trailing CR are
 * skipped.  A line longer than max_line is reported as LR_TOOLONG with its
 * line number, and the reader skips to the next newline without holding
 * more than max_line bytes.  A last line without a newline is still a line.
 *
 * The struct lr owns its buffer; a returned struct lr_line points into it and
 * stays valid (and writable, for in-place edits) until the next lr_next()
 * or lr_close().  When a writer is attached, the reader flushes it right
 * before a read(2) that may block (DESIGN.md section 4), and while it waits
 * for input it watches the writer: when the writer's reader is gone (a
 * pipe closed at the other end), lr_next() returns LR_EOF at once and the
 * writer's err is EPIPE.  An idle hook set
 * with lr_on_idle() runs at the same moment, after that flush: a program
 * that commits work per block of input (dedupe) commits there.
 */
#ifndef CLOSEHOOK_LR_H
#define CLOSEHOOK_LR_H

#include <stddef.h>

#include "out.h"

#define LR_DEFAULT_MAX_LINE (16u * 1024 * 1024)

enum lr_status {
	LR_ERROR = -1, /* read error: errno is set */
	LR_EOF = 0,
	LR_LINE = 1,
	LR_TOOLONG = 2, /* line->lineno names the line; p and n are unset */
	LR_AGAIN = 3 /* non-blocking descriptor has nothing more yet */
};

struct lr_line {
	char *p;
	size_t n;
	unsigned long lineno;
};

struct lr {
	int fd;
	int owns_fd;
	const char *name; /* "stdin" or the path, for messages */
	char *buf;
	size_t cap;
	char *alt; /* the other buffer, for lr_read_ahead() */
	size_t altcap;
	int rerr; /* errno of a failed read ahead, reported by lr_next() */
	size_t start; /* first unconsumed byte */
	size_t scan; /* bytes before this hold no newline */
	size_t end; /* end of data */
	size_t max_line;
	unsigned long lineno;
	int eof;
	int unterminated; /* the last line returned had no newline */
	int skipping; /* inside an over-long line */
	struct out *flush; /* flushed before a blocking read */
	void (*idle)(void *); /* called before a blocking read */
	void *idle_arg;
};

/*
 * Open path for reading ("-" or NULL is stdin).  Returns 0, or -1 with errno
 * set (nothing printed).  flush may be NULL.
 */
int lr_open(struct lr *, const char *path, size_t max_line, struct out *flush);
/* Read from an already open descriptor, which the reader does not close. */
void lr_fdopen(
    struct lr *, int fd, const char *name, size_t max_line, struct out *flush);
/*
 * Call fn(arg) whenever the next read(2) may block, right after the writer
 * was flushed (fn NULL: none).  fn may write and flush the writer but must
 * not touch the reader.
 */
void lr_on_idle(struct lr *, void (*fn)(void *), void *arg);
enum lr_status lr_next(struct lr *, struct lr_line *);
/*
 * The next complete line already in the buffer, without reading: LR_LINE
 * or LR_TOOLONG as lr_next() gives them, else LR_AGAIN (an incomplete last
 * line stays held).  For a program that stops reading but must account
 * for every line it has read.
 */
enum lr_status lr_next_held(struct lr *, struct lr_line *);
/*
 * Read once more, now, when that cannot block (data waits, or a regular
 * file), without returning a line: the bytes held move to the reader's
 * second buffer, which the read fills, so every line returned so far
 * stays where it is until the next lr_read_ahead() or lr_close(),
 * whatever lr_next() does meanwhile.  For a program that reads the next
 * input while the last lines are still in use (recloop.h).  Returns 1
 * when it read, else 0 (nothing waiting, the end seen, inside an
 * over-long line); a read error is reported by the next lr_next().
 */
int lr_read_ahead(struct lr *);
/* Bytes read but not yet returned as lines (complete or not). */
size_t lr_held(const struct lr *);
/*
 * Put back what was read but not returned: seek the descriptor back by
 * the bytes held, so that whoever reads it next starts at the first line
 * not returned.  Returns 0, or -1 when the descriptor cannot seek (a pipe)
 * and nothing was changed.
 */
int lr_unread(struct lr *);
void lr_close(struct lr *);

#endif
