/*
 * recloop.c - the input loop of the record filters; see recloop.h.
 */
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

int
recloop_run(struct recloop *rl, const char *path)
{
	struct idle_ctx ctx;
	enum lr_status st;
	struct lr_line l;
	struct lr r;
	int rc = 0;

	if (lr_open(&r, path, rl->max_line, rl->out) != 0) {
		cli_warn("%s", path);
		return -1;
	}
	ctx.rl = rl;
	ctx.fd = r.fd;
	if (rl->idle != NULL)
		lr_on_idle(&r, on_idle, &ctx);
	while ((st = lr_next(&r, &l)) != LR_EOF) {
		if (st == LR_ERROR) {
			cli_warn("%s: read error", r.name);
			rc = -1;
			break;
		}
		if (st == LR_LINE && mark_is(l.p, l.n)) {
			struct out *side = rl->side;

			if (rl->before_mark != NULL)
				rl->before_mark(rl->arg);
			if (mark_pass(rl->out, l.p, l.n, &side, 1) != 0) {
				if (side != NULL && side->err != 0)
					cli_fatalx("%s: %s", side->name,
					    strerror(side->err));
				break;
			}
			continue;
		}
		if ((st == LR_TOOLONG ? rl->too_long(rl->arg, r.name, l.lineno)
				      : rl->line(rl->arg, r.name, &l)) != 0) {
			rc = 1;
			break;
		}
		if (rl->out->err != 0)
			break;
	}
	lr_close(&r);
	return rc;
}
