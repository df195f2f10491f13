/*
 * test-jtree.c - JSON trees written as Python's json.dumps writes them
 * (the expected texts are Python 3's output), member order and
 * replacement, equality, and values read from the scanner.
 */
#include <string.h>

#include "jtree.h"
#include "tap.h"

/* Dump v into a fresh buffer, compare with want, free both. */
static void
dumps_is(struct jt *v, const char *want, const char *what)
{
	struct jt_buf b = { 0 };

	jt_dump(&b, v);
	is_str(b.p, want, "%s", what);
	jt_buf_free(&b);
	jt_free(v);
}

/* A tree read from JSON text, dumped again. */
static void
loads_dumps_is(const char *text, const char *want, const char *what)
{
	struct json_span s;

	if (!ok(json_parse(text, strlen(text), &s, NULL) == 0,
		"%s: the scanner accepts it", what))
		return;
	dumps_is(jt_from_json(s), want, what);
}

int
main(void)
{
	struct jt *o, *a, *b;
	static const struct {
		const char *lit, *want;
	} floats[] = {
		{ "0.0", "0.0" },
		{ "-0.0", "-0.0" },
		{ "1.0", "1.0" },
		{ "1E2", "100.0" },
		{ "1.50", "1.5" },
		{ "0.1", "0.1" },
		{ "1e16", "1e+16" },
		{ "1.5e16", "1.5e+16" },
		{ "1e-5", "1e-05" },
		{ "0.0001", "0.0001" },
		{ "123456789012345.67", "123456789012345.67" },
		{ "1e400", "Infinity" },
		{ "-1e400", "-Infinity" },
		{ "5e-324", "5e-324" },
		{ "2.5e-7", "2.5e-07" },
		{ "1234567890123456.0", "1234567890123456.0" },
		{ "3.14159e10", "31415900000.0" },
		{ "1e22", "1e+22" },
	};
	size_t i;

	o = jt_obj();
	a = jt_arr();
	jt_push(a, jt_int(1));
	jt_push(a, jt_cents(250));
	jt_push(a, jt_null());
	jt_push(a, jt_bool(1));
	jt_push(a, jt_bool(0));
	jt_push(a, jt_obj());
	jt_set(o, "a", a);
	jt_set(o, "b",
	    jt_str("\xc3\xa9\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x9a\x80 \"q\" \\ / "
		   "\n\t\b\f\r\x01\x7f"));
	b = jt_obj();
	jt_set(b, "x", jt_arr());
	jt_set(o, "c", b);
	dumps_is(o,
	    "{\"a\": [1, 2.5, null, true, false, {}], \"b\": "
	    "\"\\u00e9\\u00e9 \\u2615 \\ud83d\\ude80 \\\"q\\\" \\\\ / "
	    "\\n\\t\\b\\f\\r\\u0001\\u007f\", \"c\": {\"x\": []}}",
	    "separators, escapes, surrogate pairs as json.dumps");

	dumps_is(jt_strn("a\0b", 3), "\"a\\u0000b\"", "a NUL byte");
	dumps_is(jt_cents(100000), "1000.0", "cents: whole amounts get .0");
	dumps_is(jt_cents(4821357), "48213.57", "cents: two digits");
	dumps_is(jt_cents(7), "0.07", "cents: below one");
	dumps_is(jt_strf("%s_%d", "lead", 7), "\"lead_7\"", "jt_strf");

	/* Replacing a member keeps its place, as in a Python dict. */
	o = jt_obj();
	jt_set(o, "a", jt_int(1));
	jt_set(o, "b", jt_int(2));
	jt_set(o, "a", jt_int(3));
	jt_set(o, "c", jt_int(4));
	jt_del(o, "b");
	jt_del(o, "nope");
	ok(jt_get(o, "b") == NULL && jt_get(o, "c") != NULL, "jt_get");
	dumps_is(o, "{\"a\": 3, \"c\": 4}", "set replaces in place, del");

	loads_dumps_is("{\"a\":1,\"b\":2,\"a\":3}", "{\"a\": 3, \"b\": 2}",
	    "duplicate keys: the last value at the first place");
	loads_dumps_is("[-0, 1, 100000000000000000001, -7]",
	    "[0, 1, 100000000000000000001, -7]",
	    "integers as written, -0 as 0");
	loads_dumps_is("{\"k\\u00e9y\":\"\\ud83d\\ude80\\/\"}",
	    "{\"k\\u00e9y\": \"\\ud83d\\ude80/\"}", "escapes decoded, redone");
	loads_dumps_is("\"caf\xc3\xa9\"", "\"caf\\u00e9\"", "raw UTF-8");
	for (i = 0; i < sizeof(floats) / sizeof(floats[0]); i++)
		loads_dumps_is(floats[i].lit, floats[i].want, floats[i].lit);

	/* Equality: numbers by value, members in any order. */
	a = jt_obj();
	jt_set(a, "x", jt_num("1", 1));
	jt_set(a, "y", jt_str("s"));
	b = jt_obj();
	jt_set(b, "y", jt_str("s"));
	jt_set(b, "x", jt_num("1.0", 3));
	ok(jt_equal(a, b), "equal: member order and 1 vs 1.0 do not matter");
	jt_set(b, "y", jt_str("t"));
	ok(!jt_equal(a, b), "not equal: a different string");
	jt_set(b, "y", jt_str("s"));
	jt_set(b, "z", jt_null());
	ok(!jt_equal(a, b), "not equal: a member more");
	o = jt_copy(b);
	ok(jt_equal(o, b) && o != b, "jt_copy is equal and apart");
	jt_free(o);
	jt_free(a);
	jt_free(b);
	return tap_done();
}
