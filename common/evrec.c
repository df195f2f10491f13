/*
 * evrec.c - reading event records; see evrec.h.
 */
#include <string.h>

#include "evrec.h"

#define WRAP_HEAD "{\"subscription_id\":null,\"event\":"

/* What the top-level members say; fed one member at a time. */
struct cls {
	int event, data, cursor, otype, action;
	struct json_span ev, dv;
};

static void
cls_member(struct cls *c, struct json_span k, struct json_span v)
{
	if (json_str_eq(k, "event", 5)) {
		c->event = v.type == JSON_OBJECT;
		c->ev = v;
	} else if (json_str_eq(k, "data", 4)) {
		c->data = v.type == JSON_ARRAY;
		c->dv = v;
	} else if (json_str_eq(k, "cursor_next", 11))
		c->cursor = 1;
	else if (json_str_eq(k, "object_type", 11))
		c->otype = 1;
	else if (json_str_eq(k, "action", 6))
		c->action = 1;
}

static enum evrec_kind
cls_kind(const struct cls *c)
{
	/* A bare event has a "data" member too (the object), never an array
	 * together with "cursor_next"; check the page first. */
	if (c->data && c->cursor)
		return EVREC_PAGE;
	if (c->event)
		return EVREC_RECORD;
	if (c->otype && c->action)
		return EVREC_BARE;
	return EVREC_OTHER;
}

static void
cls_walk(struct cls *c, struct json_span root)
{
	struct json_iter it;
	struct json_span k, v;

	memset(c, 0, sizeof(*c));
	if (root.type != JSON_OBJECT)
		return;
	json_iter_init(&it, root);
	while (json_iter_member(&it, &k, &v))
		cls_member(c, k, v);
}

static void
begin(struct evrec_iter *e, struct json_span root, const struct cls *c)
{
	/* Not em[]: evrec_parse may have recorded into it already. */
	memset(&e->it, 0, sizeof(e->it));
	e->done = 0;
	e->emn = 0;
	e->have_em = 0;
	e->root = root;
	e->kind = cls_kind(c);
	e->event = c->ev;
	if (e->kind == EVREC_PAGE)
		json_iter_init(&e->it, c->dv);
}

void
evrec_begin(struct evrec_iter *e, struct json_span root)
{
	struct cls c;

	cls_walk(&c, root);
	begin(e, root, &c);
}

int
evrec_parse(
    struct evrec_iter *e, const char *p, size_t n, struct json_error *err)
{
	return evrec_parse_tape(e, p, n, err, NULL);
}

int
evrec_parse_tape(struct evrec_iter *e, const char *p, size_t n,
    struct json_error *err, struct json_tape *tape)
{
	struct json_member m[16];
	struct json_top top = {
		.m = m, .max = 16, .sub = "event", .subn = 5, .tape = tape
	};
	struct json_span root;
	struct cls c;
	size_t i;

	/* The event's members too, straight into e->em. */
	top.sm = e->em;
	top.smax = EVREC_MEMBERS;
	if (json_parse_top(p, n, &root, &top, err) != 0)
		return -1;
	if (root.type != JSON_OBJECT || top.n > top.max) {
		evrec_begin(e, root);
		return 0;
	}
	memset(&c, 0, sizeof(c));
	for (i = 0; i < top.n; i++)
		cls_member(&c, m[i].key, m[i].val);
	begin(e, root, &c);
	/*
	 * The recorded members are the event's only when the last "event"
	 * member was the object recorded (an object then null is no event).
	 */
	if (e->kind == EVREC_RECORD && top.sub_found > 0 &&
	    top.sn <= top.smax && top.sn > 0 && e->em[0].key.p > e->event.p &&
	    e->em[0].key.p < e->event.p + e->event.n) {
		e->emn = top.sn;
		e->have_em = 1;
	}
	return 0;
}

int
evrec_next(struct evrec_iter *e, struct evrec *r)
{
	struct json_span v;

	if (e->done)
		return 0;
	r->event.type = JSON_NONE;
	r->event.p = NULL;
	r->event.n = 0;
	r->em = NULL;
	r->emn = 0;
	switch (e->kind) {
	case EVREC_PAGE:
		if (!json_iter_elem(&e->it, &v)) {
			e->done = 1;
			return 0;
		}
		r->whole = v;
		r->event = v;
		r->wrapped = 1;
		return 1;
	case EVREC_BARE:
		r->whole = e->root;
		r->event = e->root;
		r->wrapped = 1;
		break;
	case EVREC_RECORD:
		r->whole = e->root;
		r->event = e->event;
		r->wrapped = 0;
		if (e->have_em) {
			r->em = e->em;
			r->emn = e->emn;
		}
		break;
	case EVREC_OTHER:
		r->whole = e->root;
		r->wrapped = 0;
		break;
	}
	e->done = 1;
	return 1;
}

size_t
evrec_wrapped_len(size_t event_n)
{
	return sizeof(WRAP_HEAD) - 1 + event_n + 1;
}

size_t
evrec_wrap(char *dst, const char *event, size_t n)
{
	memcpy(dst, WRAP_HEAD, sizeof(WRAP_HEAD) - 1);
	memcpy(dst + sizeof(WRAP_HEAD) - 1, event, n);
	dst[sizeof(WRAP_HEAD) - 1 + n] = '}';
	return evrec_wrapped_len(n);
}

int
evrec_write(struct out *o, const struct evrec *r)
{
	if (!r->wrapped)
		return out_write(o, r->whole.p, r->whole.n);
	out_write(o, WRAP_HEAD, sizeof(WRAP_HEAD) - 1);
	out_write(o, r->event.p, r->event.n);
	return out_putc(o, '}');
}

int
evrec_write_event(struct out *o, const char *p, size_t n)
{
	const char *end = p + n, *q;

	out_write(o, WRAP_HEAD, sizeof(WRAP_HEAD) - 1);
	while (p < end) {
		for (q = p; q < end && *q != '\n' && *q != '\r'; q++)
			;
		out_write(o, p, (size_t)(q - p));
		if (q < end)
			out_putc(o, ' ');
		p = q < end ? q + 1 : q;
	}
	return out_putc(o, '}');
}

size_t
evrec_len(const struct evrec *r)
{
	return r->wrapped ? evrec_wrapped_len(r->event.n) : r->whole.n;
}
