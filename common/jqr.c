/*
 * jqr.c - the jq runner; see jqr.h.  Uses only the jq 1.6 API.
 */
#include <stdlib.h>
#include <string.h>

#include <jq.h>
#include <jv.h>

#include "cli.h"
#include "jqr.h"
#include "json.h"

struct jqr {
	jq_state *jq;
	char *msg; /* the last message jq reported */
};

char *
jvh_errmsg(jv msg)
{
	char *s;

	if (jv_get_kind(msg) == JV_KIND_STRING) {
		s = xstrdup(jv_string_value(msg));
		jv_free(msg);
		return s;
	}
	return jvh_dump(msg, NULL);
}

/* jq reports compile errors through this callback, one jv each. */
static void
on_error(void *arg, jv msg)
{
	struct jqr *r = arg;
	char *s;

	if (jv_get_kind(msg) == JV_KIND_INVALID)
		msg = jv_invalid_get_msg(msg);
	s = jvh_errmsg(msg);
	if (r->msg == NULL)
		r->msg = s;
	else {
		/* Keep every line jq reports: they build on each other. */
		size_t a = strlen(r->msg), b = strlen(s);
		char *m = realloc(r->msg, a + b + 2);

		if (m == NULL)
			cli_fatal("out of memory");
		m[a] = '\n';
		memcpy(m + a + 1, s, b + 1);
		r->msg = m;
		free(s);
	}
}

struct jqr *
jqr_new(const char *prog, const char *defs, char **err)
{
	struct jqr *r;
	char *text;
	size_t dl = defs ? strlen(defs) : 0, pl = strlen(prog);

	r = xcalloc(1, sizeof(*r));
	if ((r->jq = jq_init()) == NULL)
		cli_fatalx("out of memory");
	jq_set_error_cb(r->jq, on_error, r);
	text = xmalloc(dl + pl + 2);
	if (dl > 0)
		memcpy(text, defs, dl);
	text[dl] = '\n';
	memcpy(text + dl + 1, prog, pl + 1);
	if (!jq_compile(r->jq, dl > 0 ? text : prog)) {
		*err = r->msg != NULL ? r->msg : xstrdup("compile error");
		r->msg = NULL;
		free(text);
		jqr_free(r);
		return NULL;
	}
	free(text);
	return r;
}

void
jqr_free(struct jqr *r)
{
	if (r == NULL)
		return;
	if (r->jq != NULL)
		jq_teardown(&r->jq);
	free(r->msg);
	free(r);
}

long
jqr_run(struct jqr *r, jv input, jqr_cb *cb, void *arg, char **err)
{
	jv v;
	long n = 0;
	int stop = 0;

	*err = NULL;
	jq_start(r->jq, input, 0);
	while (jv_is_valid(v = jq_next(r->jq))) {
		n++;
		if (!stop && cb(arg, v) != 0)
			stop = 1;
		if (stop)
			break;
	}
	if (stop)
		return n;
	if (jq_halted(r->jq)) {
		/* halt and halt_error end the results for this record. */
		jv_free(v);
		return n;
	}
	if (jv_invalid_has_msg(jv_copy(v))) {
		*err = jvh_errmsg(jv_invalid_get_msg(v));
		return -1;
	}
	jv_free(v);
	return n;
}

/* A result that jq's select would keep: neither false nor null. */
static int
stop_at_true(void *arg, jv v)
{
	jv_kind k = jv_get_kind(v);

	jv_free(v);
	if (k == JV_KIND_NULL || k == JV_KIND_FALSE)
		return 0;
	*(int *)arg = 1;
	return -1;
}

int
jqr_any(struct jqr *r, jv input, char **err)
{
	int found = 0;

	if (jqr_run(r, input, stop_at_true, &found, err) < 0)
		return -1;
	return found;
}

struct one {
	jv first;
	int n;
};

static int
keep_one(void *arg, jv v)
{
	struct one *o = arg;

	if (o->n++ == 0) {
		o->first = v;
		return 0;
	}
	jv_free(v);
	return -1;
}

jv
jqr_one(struct jqr *r, jv input, int *several, char **err)
{
	struct one o = { jv_invalid(), 0 };

	*several = 0;
	if (jqr_run(r, input, keep_one, &o, err) < 0) {
		jv_free(o.first);
		return jv_invalid();
	}
	*several = o.n > 1;
	return o.first;
}

/* A scalar of a validated document as a jv; buf has room for s.n bytes. */
static jv
scalar(struct json_span s, char *buf)
{
	char num[64], *d;
	double x;

	switch (s.type) {
	case JSON_STRING:
		return jv_string_sized(buf, (int)json_str_unescape(s, buf));
	case JSON_NUMBER:
		/*
		 * strtod rounds correctly, as jq's own jvp_strtod does, so a
		 * number gets the double jq would give it.
		 */
		if (s.n < sizeof(num)) {
			memcpy(num, s.p, s.n);
			num[s.n] = '\0';
			return jv_number(strtod(num, NULL));
		}
		memcpy(buf, s.p, s.n);
		buf[s.n] = '\0';
		x = strtod(buf, &d);
		return jv_number(x);
	case JSON_TRUE:
		return jv_true();
	case JSON_FALSE:
		return jv_false();
	default:
		return jv_null();
	}
}

/*
 * Build the jv of a document the scanner validated, without libjq's
 * parser, which is several times slower than the scanner: a walk with an
 * explicit stack (the scanner bounds the depth), values set in document
 * order so duplicate keys resolve as jq's parser resolves them (the last
 * wins).  Strings are at most as long as their escaped form, so one buffer
 * of the document's size holds any of them.
 */
static jv
from_span(struct json_span root)
{
	struct frame {
		jv c;
		jv key;
		struct json_iter it;
	} * st;
	struct json_span k, v;
	char *buf;
	jv val;
	int sp = 0, more;

	if (root.type != JSON_OBJECT && root.type != JSON_ARRAY) {
		buf = xmalloc(root.n + 1);
		val = scalar(root, buf);
		free(buf);
		return val;
	}
	st = xmalloc((JSON_MAX_DEPTH + 2) * sizeof(*st));
	buf = xmalloc(root.n + 1);
	st[0].c = root.type == JSON_OBJECT ? jv_object() : jv_array();
	st[0].key = jv_invalid();
	json_iter_init(&st[0].it, root);
	for (;;) {
		if (jv_get_kind(st[sp].c) == JV_KIND_OBJECT)
			more = json_iter_member(&st[sp].it, &k, &v);
		else
			more = json_iter_elem(&st[sp].it, &v);
		if (!more) {
			/* The container is complete: give it to its parent. */
			val = st[sp].c;
			if (sp == 0)
				break;
			sp--;
			if (jv_get_kind(st[sp].c) == JV_KIND_OBJECT)
				st[sp].c =
				    jv_object_set(st[sp].c, st[sp].key, val);
			else
				st[sp].c = jv_array_append(st[sp].c, val);
			st[sp].key = jv_invalid();
			continue;
		}
		if (v.type == JSON_OBJECT || v.type == JSON_ARRAY) {
			if (jv_get_kind(st[sp].c) == JV_KIND_OBJECT)
				st[sp].key = jv_string_sized(
				    buf, (int)json_str_unescape(k, buf));
			sp++;
			st[sp].c =
			    v.type == JSON_OBJECT ? jv_object() : jv_array();
			st[sp].key = jv_invalid();
			json_iter_init(&st[sp].it, v);
			continue;
		}
		if (jv_get_kind(st[sp].c) == JV_KIND_OBJECT) {
			jv key = jv_string_sized(
			    buf, (int)json_str_unescape(k, buf));

			st[sp].c = jv_object_set(st[sp].c, key, scalar(v, buf));
		} else
			st[sp].c = jv_array_append(st[sp].c, scalar(v, buf));
	}
	free(buf);
	free(st);
	return val;
}

jv
jqr_from_span(struct json_span v)
{
	return from_span(v);
}

jv
jqr_parse(const char *p, size_t n)
{
	struct json_span v;

	/*
	 * What the scanner accepts is built directly; the rest goes to
	 * libjq's parser, for jq's own laxities (nan, 01, ...) and messages.
	 */
	if (n <= 0x7fffffff && json_parse(p, n, &v, NULL) == 0)
		return from_span(v);
	if (n > 0x7fffffff)
		return jv_invalid_with_msg(jv_string("input too large"));
	return jv_parse_sized(p, (int)n);
}

char *
jvh_dump(jv v, size_t *len)
{
	jv s = jv_dump_string(v, 0);
	char *d;

	d = xstrdup(jv_string_value(s));
	if (len != NULL)
		*len = (size_t)jv_string_length_bytes(jv_copy(s));
	jv_free(s);
	return d;
}

int
jvh_is_borrow(jv v, jv_kind k)
{
	return jv_get_kind(v) == k;
}

jv
jvh_get_borrow(jv obj, const char *key)
{
	jv v;

	if (jv_get_kind(obj) != JV_KIND_OBJECT)
		return jv_null();
	v = jv_object_get(jv_copy(obj), jv_string(key));
	if (!jv_is_valid(v)) {
		jv_free(v);
		return jv_null();
	}
	return v;
}
