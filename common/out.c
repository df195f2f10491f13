/*
 * out.c - block-buffered writer; see out.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "out.h"

void
out_init(struct out *o, int fd, const char *name)
{
	o->fd = fd;
	o->name = name;
	o->len = 0;
	o->err = 0;
	if ((o->buf = malloc(OUT_BUFSZ)) == NULL)
		cli_fatal("out of memory");
}

static int
write_all(struct out *o, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(o->fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			o->err = errno;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
out_flush(struct out *o)
{
	if (o->err != 0)
		return -1;
	if (o->len == 0)
		return 0;
	if (write_all(o, o->buf, o->len) != 0)
		return -1;
	o->len = 0;
	return 0;
}

int
out_write(struct out *o, const void *p, size_t n)
{
	if (o->err != 0)
		return -1;
	if (n <= OUT_BUFSZ - o->len) {
		memcpy(o->buf + o->len, p, n);
		o->len += n;
		if (o->len == OUT_BUFSZ)
			return out_flush(o);
		return 0;
	}
	if (out_flush(o) != 0)
		return -1;
	/* A large record goes straight out rather than through the buffer. */
	if (n >= OUT_BUFSZ)
		return write_all(o, p, n);
	memcpy(o->buf, p, n);
	o->len = n;
	return 0;
}

int
out_putc(struct out *o, int c)
{
	char ch = (char)c;

	if (o->len < OUT_BUFSZ - 1 && o->err == 0) {
		o->buf[o->len++] = ch;
		return 0;
	}
	return out_write(o, &ch, 1);
}

size_t
out_pending(const struct out *o)
{
	return o->len;
}

int
out_close(struct out *o)
{
	int rc = out_flush(o);

	if (o->fd >= 0 && close(o->fd) != 0 && rc == 0) {
		o->err = errno;
		rc = -1;
	}
	o->fd = -1;
	free(o->buf);
	o->buf = NULL;
	if (o->err != 0) {
		errno = o->err;
		rc = -1;
	}
	return rc;
}
