/*
 * out.h - the block-buffered writer with "optimal buffering", and append
 * files that only ever gain whole records.
 *
 * Data is collected in a buffer owned by the struct out and written with
 * write(2) in full blocks.  The owner calls out_flush() right before any
 * read or poll that may block (the line reader does this itself when given
 * the writer), so a lone record leaves at once while a flood leaves in large
 * writes.  A write error is sticky: out_error() reports it and out_close()
 * returns -1, so a full disk is an error, never silence.
 *
 * Append files (--rejects, --dead-letter, --report, receive's --rejects, the
 * spool) hold one record a line, and a record is in the file whole or not
 * at all, across a full disk and a crash mid-write:
 *
 * - out_append_open() opens PATH for appending (O_APPEND|O_CREAT, MODE;
 *   read and write, so that the tail can be checked through the very
 *   descriptor that appends).  A regular file whose last byte is not '\n'
 *   ends in a torn record: a writer died in the middle of it, so nobody
 *   counted it as done and it will come again from upstream.  It is cut
 *   off (the file is truncated to just after its last '\n', with one
 *   warning) before anything is appended.  A file it created is made
 *   durable by fsyncing its directory; a failure there is an error.
 * - out_write() only collects: nothing reaches the file before
 *   out_commit(), and the buffer grows until then.  The caller commits
 *   after each record or each small group of records.
 * - out_commit(o, sync) is the commit point.  Under an exclusive flock(2)
 *   (writers sharing a file, such as several closehook-post runs without
 *   --dead-letter, never interleave or cut each other's records), it
 *   repairs a torn tail again (another writer may have died since), notes
 *   the size, writes the buffered whole lines (bytes after the last '\n'
 *   stay buffered), and with sync set fdatasyncs them.  It returns 0 when
 *   the records are in the file (and, with sync, on disk): only then may
 *   the caller count them as done.  When the write or the sync fails, the
 *   file is truncated back to the noted size, the size after the last
 *   commit, so no half record stays and no record of this commit is left
 *   to be counted twice; the error is sticky (o->err) and -1 is returned.
 *   The caller then must not count those records as done: it stops with
 *   exit status 2, naming the file, and a rerun appends cleanly.
 * - A regular file moved away or deleted (an operator's `mv` of the dead
 *   letters, to replay them) is noticed at the next commit, which opens a
 *   new file at the path, with a note: a record is never appended to a
 *   file that is no longer at its path, but for one whose commit began
 *   before the move (a second later, the moved file has all it will get).
 * - A file that is not regular (a FIFO, /dev/stderr) is written as it
 *   comes: there is no tail to repair, nothing to truncate and no sync.
 *
 * out_append_fd() is the same open for a writer that does its own writes
 * (the spool of closehook-receive, several threads, one descriptor each).
 *
 * A plain writer (stdout) into a regular file keeps whole lines too, as far
 * as one writer can: at its first write into a file opened for appending
 * (`>>`), a torn last line left by a run that died is cut off with the same
 * warning; and a write that fails (a full disk) is cut back to the end of
 * the last whole line it wrote, unless another writer has grown the file
 * meanwhile.  The error stays sticky.
 */
#ifndef CLOSEHOOK_OUT_H
#define CLOSEHOOK_OUT_H

#include <sys/stat.h>
#include <sys/types.h>

#include <stddef.h>

#define OUT_BUFSZ (64 * 1024)

struct out {
	int fd;
	const char *name; /* for messages: "stdout" or a path */
	char *buf;
	size_t len, cap;
	int err; /* errno of the first failed write, or 0 */
	int append; /* an append file: see above */
	int mem; /* a memory buffer: see out_mem_init() */
	int regular; /* a regular file: locked, synced, failed writes undone */
	int readable; /* and readable: a torn tail is cut off */
	int file; /* out_durable: -1 not asked yet, 1 a regular file, 0 not */
	int unsynced; /* written since out_durable last synced */
	/*
	 * A plain writer into a regular file (a shell's `>` or `>>`): -1 not
	 * asked yet, 1 tracked, 0 not.  pos is the file offset after the last
	 * byte written, nl_pos after the last '\n': a failed write is cut
	 * back to nl_pos, so the file keeps no partial line.
	 */
	int track;
	off_t pos, nl_pos;
	mode_t mode; /* an append file: the mode it is created with */
	struct out_blocked *blocked; /* out_on_block(), or NULL */
};

/* Attach to fd; name is kept by reference.  Exits 2 when out of memory. */
void out_init(struct out *, int fd, const char *name);
/*
 * While a write to a pipe or socket blocks (its reader is slow or stuck),
 * call fn(arg) every ms milliseconds, so that a program keeps its metrics
 * current (a follower's lag grows while it waits) and sees a signal to
 * stop.  A timer signal (SIGRTMIN, aimed at the calling thread, armed only
 * around the write) interrupts the write; it then goes on where it
 * stopped, unless fn returned nonzero: then the write fails with
 * ECANCELED (sticky, as any write error; what the reader got of the last
 * block may end mid-line).  Only writes from the calling thread are
 * watched.  Other kinds of descriptor never block for long and are not
 * watched.  Exits 2 when the timer cannot be made.
 */
void out_on_block(struct out *, int (*fn)(void *), void *arg, unsigned ms);
/*
 * A writer into memory alone (no descriptor): the buffer grows to hold all
 * that is written, flushing leaves it as it is, and the caller reads
 * buf[0..len) and empties it by setting len to 0.  For work done on
 * another thread whose output is passed on later (recloop.h).
 */
void out_mem_init(struct out *);
/* Append bytes; returns 0, or -1 once a write has failed. */
int out_write(struct out *, const void *, size_t);
int out_putc(struct out *, int c);
/*
 * Room for n bytes in the buffer, to be written in place: a pointer to
 * them (the buffer flushed first when needed), or NULL when n does not
 * fit in the buffer at all or after an error; out_write() then.  The
 * caller writes at most n bytes there and passes the count it wrote to
 * out_advance().  Not for append files.
 */
char *out_reserve(struct out *, size_t n);
int out_advance(struct out *, size_t n);
/* Append s[0..n) as a JSON string, quotes included, escaped on the way. */
int out_json_str(struct out *, const char *s, size_t n);
/* Write what is buffered; returns 0 or -1.  Append files: out_commit(o, 0). */
int out_flush(struct out *);
/*
 * Make what was written durable before a checkpoint that covers it is
 * (backfill's state, dedupe's keys, follow's offset): flush, then, when
 * the descriptor is a regular file (a shell's `>` or `>>`), fdatasync it
 * if anything was written since the last time.  A pipe, a terminal or
 * /dev/null has nothing to sync: what reads a pipe acknowledges by marks
 * (mark.h).  Returns 0, or -1 with the error kept in err.
 */
int out_durable(struct out *);
/*
 * out_durable without the flush: what reached the descriptor so far (the
 * buffer's bytes stay), for a caller that commits only that, even after a
 * failed write.
 */
int out_sync(struct out *);
/* Bytes waiting in the buffer. */
size_t out_pending(const struct out *);
/* Flush, close the descriptor, free the buffer; returns 0 or -1. */
int out_close(struct out *);
/*
 * The end of a program's stdout: out_close(), and a write error there (a
 * full disk, a reader gone) is reported as "stdout: ERROR" and makes the
 * exit status 2.  Returns rc, or CLI_EXIT_FATAL.
 */
int out_close_stdout(struct out *, int rc);

/*
 * Open path as an append file (see above); path is kept by reference.
 * Returns 0, or -1 with errno set and nothing to close.
 */
int out_append_open(struct out *, const char *path, mode_t mode);
/* Write the buffered whole lines, fdatasync them if sync; 0 or -1. */
int out_commit(struct out *, int sync);
/*
 * The open of out_append_open() alone: a descriptor (O_RDWR|O_APPEND, or
 * O_WRONLY for a file that is not regular or not readable) whose torn tail
 * is cut off, with *st describing the file after that; or -1 with errno set.
 */
int out_append_fd(const char *path, mode_t mode, struct stat *st);

#endif
