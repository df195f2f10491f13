/*
 * evrec.c - reading event records; see evrec.h.
 */
#include <string.h>

#include "evrec.h"

#define WRAP_HEAD "{\"subscription_id\":null,\"event\":"

enum evrec_kind
evrec_classify(struct json_span root)
{
	struct json_iter it;
	struct json_span k, v;
	int event = 0, data = 0, cursor = 0, otype = 0, action = 0;

	if (root.type != JSON_OBJECT)
		return EVREC_OTHER;
	json_iter_init(&it, root);
	while (json_iter_member(&it, &k, &v)) {
		if (json_str_eq(k, "event", 5))
			event = v.type == JSON_OBJECT;
		else if (json_str_eq(k, "data", 4))
			data = v.type == JSON_ARRAY;
		else if (json_str_eq(k, "cursor_next", 11))
			cursor = 1;
		else if (json_str_eq(k, "object_type", 11))
			otype = 1;
		else if (json_str_eq(k, "action", 6))
			action = 1;
	}
	/* A bare event has a "data" member too (the object), never an array
	 * together with "cursor_next"; check the page first. */
	if (data && cursor)
		return EVREC_PAGE;
	if (event)
		return EVREC_RECORD;
	if (otype && action)
		return EVREC_BARE;
	return EVREC_OTHER;
}

void
evrec_begin(struct evrec_iter *e, struct json_span root)
{
	struct json_span data;

	memset(e, 0, sizeof(*e));
	e->root = root;
	e->kind = evrec_classify(root);
	if (e->kind == EVREC_PAGE) {
		json_object_get(root, "data", 4, &data);
		json_iter_init(&e->it, data);
	}
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
		json_object_get(e->root, "event", 5, &r->event);
		r->wrapped = 0;
		break;
	case EVREC_OTHER:
		r->whole = e->root;
		r->wrapped = 0;
		break;
	}
	e->done = 1;
	return 1;
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

size_t
evrec_len(const struct evrec *r)
{
	if (!r->wrapped)
		return r->whole.n;
	return sizeof(WRAP_HEAD) - 1 + r->event.n + 1;
}
