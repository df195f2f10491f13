/*
 * mark.c - acknowledgement marks; see mark.h.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mark.h"

int
mark_is(const char *p, size_t n)
{
	return n > MARK_PREFIX_LEN && n <= MARK_MAX && p[n - 1] == '}' &&
	    memcmp(p, MARK_PREFIX, MARK_PREFIX_LEN) == 0;
}

int
mark_pass(
    struct out *o, const char *p, size_t n, struct out **side, size_t nside)
{
	size_t i;

	for (i = 0; i < nside; i++) {
		struct out *s = side[i];

		if (s == NULL || s->fd < 0)
			continue;
		if (s->append) {
			if (out_commit(s, 1) != 0)
				return -1;
			continue;
		}
		if (out_flush(s) != 0)
			return -1;
		if (fdatasync(s->fd) != 0 && errno != EINVAL) {
			s->err = errno;
			return -1;
		}
	}
	if (out_write(o, p, n) != 0 || out_putc(o, '\n') != 0)
		return -1;
	return 0;
}
