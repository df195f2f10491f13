/*
 * jqr.c - the jq runner; see jqr.h.  Uses only the jq 1.6 API.
 */
#include <stdlib.h>
#include <string.h>

#include <jq.h>
#include <jv.h>

#include "cli.h"
#include "jqr.h"

struct jqr {
	jq_state *jq;
	char *msg; /* the last message jq reported */
};

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		cli_fatal("out of memory");
	return d;
}

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

	if ((r = calloc(1, sizeof(*r))) == NULL || (r->jq = jq_init()) == NULL)
		cli_fatal("out of memory");
	jq_set_error_cb(r->jq, on_error, r);
	if ((text = malloc(dl + pl + 2)) == NULL)
		cli_fatal("out of memory");
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

static int
keep_first(void *arg, jv v)
{
	*(jv *)arg = v;
	return -1;
}

jv
jqr_first(struct jqr *r, jv input, char **err)
{
	jv first = jv_invalid();

	if (jqr_run(r, input, keep_first, &first, err) < 0) {
		jv_free(first);
		return jv_invalid();
	}
	return first;
}

jv
jqr_parse(const char *p, size_t n)
{
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
