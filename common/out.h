/*
 * out.h - the block-buffered writer with "optimal buffering".
 *
 * Data is collected in a buffer owned by the struct out and written with
 * write(2) in full blocks.  The owner calls out_flush() right before any
 * read or poll that may block (the line reader does this itself when given
 * the writer), so a lone record leaves at once while a flood leaves in large
 * writes.  A write error is sticky: out_error() reports it and out_close()
 * returns -1, so a full disk is an error, never silence.
 */
#ifndef CLOSEHOOK_OUT_H
#define CLOSEHOOK_OUT_H

#include <stddef.h>

#define OUT_BUFSZ (64 * 1024)

struct out {
	int fd;
	const char *name; /* for messages: "stdout" or a path */
	char *buf;
	size_t len;
	int err; /* errno of the first failed write, or 0 */
};

/* Attach to fd; name is kept by reference.  Exits 2 when out of memory. */
void out_init(struct out *, int fd, const char *name);
/* Append bytes; returns 0, or -1 once a write has failed. */
int out_write(struct out *, const void *, size_t);
int out_putc(struct out *, int c);
/* Write what is buffered; returns 0 or -1. */
int out_flush(struct out *);
/* Bytes waiting in the buffer. */
size_t out_pending(const struct out *);
/* Flush, close the descriptor, free the buffer; returns 0 or -1. */
int out_close(struct out *);

#endif
