/*
 * test-jqr.c - the jq runner: compile errors, results, runtime errors.
 */
#include <stdlib.h>
#include <string.h>

#include "jqr.h"
#include "tap.h"

static int
collect(void *arg, jv v)
{
	char **acc = arg, *s;
	size_t a = *acc ? strlen(*acc) : 0, n;

	s = jvh_dump(v, &n);
	*acc = realloc(*acc, a + n + 2);
	memcpy(*acc + a, s, n);
	(*acc)[a + n] = ';';
	(*acc)[a + n + 1] = '\0';
	free(s);
	return 0;
}

/* jqr_parse (the scanner's spans) and libjq's parser give equal values. */
static void
same_as_jq(const char *text)
{
	jv a = jqr_parse(text, strlen(text));
	jv b = jv_parse_sized(text, (int)strlen(text));
	char *da, *db;

	if (!jv_is_valid(a) || !jv_is_valid(b)) {
		ok(0, "both parse: %s", text);
		jv_free(a);
		jv_free(b);
		return;
	}
	da = jvh_dump(jv_copy(a), NULL);
	db = jvh_dump(jv_copy(b), NULL);
	ok(jv_equal(a, b) && strcmp(da, db) == 0, "same value as jq: %s", text);
	free(da);
	free(db);
}

int
main(void)
{
	struct jqr *r;
	char *err = NULL, *acc = NULL;
	long n;
	jv v;
	int several;

	r = jqr_new(".a +", NULL, &err);
	ok(r == NULL, "a syntax error does not compile");
	ok(err != NULL && strstr(err, "syntax error") != NULL,
	    "the compile message is jq's");
	free(err);
	err = NULL;

	r = jqr_new(".event.id, .n * 2", NULL, &err);
	ok(r != NULL, "a program compiles");
	n = jqr_run(r, jqr_parse("{\"event\":{\"id\":\"ev_1\"},\"n\":21}", 30),
	    collect, &acc, &err);
	is_int(n, 2, "two results");
	is_str(acc, "\"ev_1\";42;", "results in order");
	free(acc);
	acc = NULL;

	n = jqr_run(r, jqr_parse("{\"event\":\"x\"}", 13), collect, &acc, &err);
	is_int(n, -1, "a runtime error is reported");
	ok(err != NULL && strstr(err, "Cannot index string") != NULL,
	    "with jq's message: %s", err ? err : "(none)");
	free(err);
	free(acc);
	acc = NULL;
	err = NULL;
	jqr_free(r);

	r = jqr_new("twice", "def twice: . * 2;", &err);
	ok(r != NULL, "definitions are placed before the program");
	v = jqr_one(r, jv_number(4), &several, &err);
	ok(jv_get_kind(v) == JV_KIND_NUMBER && jv_number_value(v) == 8 &&
		!several,
	    "definitions are usable");
	jv_free(v);
	jqr_free(r);

	r = jqr_new("empty", NULL, &err);
	v = jqr_one(r, jv_null(), &several, &err);
	ok(!jv_is_valid(v) && err == NULL, "no result is not an error");
	jv_free(v);
	is_int(jqr_any(r, jv_null(), &err), 0, "no result: none is true");
	jqr_free(r);

	r = jqr_new("1, 2", NULL, &err);
	v = jqr_one(r, jv_null(), &several, &err);
	ok(jv_get_kind(v) == JV_KIND_NUMBER && jv_number_value(v) == 1 &&
		several,
	    "several results: the first, and said");
	jv_free(v);
	jqr_free(r);

	r = jqr_new(".[] == 2, error(\"late\")", NULL, &err);
	is_int(jqr_any(r, jv_parse("[1,2]"), &err), 1,
	    "any: true when a later result is, stopping there");
	ok(err == NULL, "so the error after it is not met");
	is_int(jqr_any(r, jv_parse("[1,3]"), &err), -1,
	    "any: an error before a true result is one");
	is_str(err, "late", "with jq's message");
	free(err);
	err = NULL;
	jqr_free(r);
	r = jqr_new(".[]", NULL, &err);
	is_int(jqr_any(r, jv_parse("[false,null]"), &err), 0,
	    "any: false and null are not true");
	is_int(jqr_any(r, jv_parse("[false,0]"), &err), 1, "0 is true");
	jqr_free(r);

	r = jqr_new("error({\"why\":1})", NULL, &err);
	n = jqr_run(r, jv_null(), collect, &acc, &err);
	is_int(n, -1, "error with an object");
	is_str(err, "{\"why\":1}", "an object error is shown as JSON");
	free(err);
	jqr_free(r);

	v = jqr_parse("{\"a\":", 5);
	ok(!jv_is_valid(v), "invalid JSON does not parse");
	jv_free(v);
	v = jqr_parse("{\"a\":[1]}", 9);
	{
		jv a = jvh_get_borrow(v, "a"), b = jvh_get_borrow(v, "b");

		ok(jvh_is_borrow(a, JV_KIND_ARRAY), "get finds a member");
		ok(jvh_is_borrow(b, JV_KIND_NULL),
		    "get on a missing key: null");
		jv_free(a);
		jv_free(b);
	}
	{
		jv s = jv_string("x"), g = jvh_get_borrow(s, "a");

		ok(jvh_is_borrow(g, JV_KIND_NULL),
		    "get on a non-object: null, no abort");
		jv_free(g);
		jv_free(s);
	}
	jv_free(v);
	same_as_jq("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"x\"}}");
	same_as_jq("{\"a\":1,\"a\":2,\"b\":{\"a\":3,\"a\":{}}}");
	same_as_jq("[1e400, -0, 0.1, 100000000000000000001, 1.5e-320]");
	same_as_jq("\"caf\\u00e9 \\ud83d\\ude80 \\udc00 \\n\\\"\\/\"");
	same_as_jq("{\"custom.cf_x\":[[],{},[[{\"k\":\"\"}]]]}");
	same_as_jq("[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]");
	same_as_jq("  \"plain\"  ");
	same_as_jq("123456789012");
	v = jqr_parse("[01]", 4);
	ok(jv_is_valid(v), "jq's laxities still parse through libjq");
	jv_free(v);
	v = jqr_parse("{\"a\" 1}", 8);
	ok(!jv_is_valid(v) && jv_invalid_has_msg(jv_copy(v)),
	    "invalid text gets jq's message");
	jv_free(v);
	return tap_done();
}
