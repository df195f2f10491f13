/*
 * test-json.c - unit tests of common/json.c, the streaming JSON scanner.
 *
 * Where the scanner follows jq 1.6 rather than the letter of RFC 8259 (the
 * depth bound, \u surrogates, paths), the expected values were taken from
 * jq 1.6 itself; tests/fuzz/fuzz-json.c checks the same against libjq.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "tap.h"

/* Parse a literal (sizeof, so that embedded NULs count). */
#define PARSE(lit, v, e) json_parse((lit), sizeof(lit) - 1, (v), (e))
#define L(lit) (lit), sizeof(lit) - 1
#define is_lit(got, gotn, lit, ...) \
	is_mem((got), (gotn), (lit), sizeof(lit) - 1, __VA_ARGS__)

struct tcase {
	const char *in;
	size_t n;
	int ok;
	enum json_type type;
	const char *why;
};

#define V(lit, t, why) \
	{ \
		(lit), sizeof(lit) - 1, 1, (t), (why) \
	}
#define X(lit, why) \
	{ \
		(lit), sizeof(lit) - 1, 0, JSON_NONE, (why) \
	}

static const struct tcase cases[] = {
	V("{}", JSON_OBJECT, "empty object"),
	V("[]", JSON_ARRAY, "empty array"),
	V("\"\"", JSON_STRING, "empty string"),
	V("0", JSON_NUMBER, "zero"),
	V("-0", JSON_NUMBER, "negative zero"),
	V("-0.0e-0", JSON_NUMBER, "negative zero with fraction and exponent"),
	V("1.5e10", JSON_NUMBER, "fraction and exponent"),
	V("1E+5", JSON_NUMBER, "capital exponent with plus"),
	V("1e-5", JSON_NUMBER, "negative exponent"),
	V("1e400", JSON_NUMBER, "1e400 is valid (overflows to infinity)"),
	V("100000000000000000001", JSON_NUMBER, "21-digit integer is valid"),
	V("12345678901234567890", JSON_NUMBER, "20-digit integer is valid"),
	V("true", JSON_TRUE, "true"),
	V("false", JSON_FALSE, "false"),
	V("null", JSON_NULL, "null"),
	V(" \t\r\n[ 1 , { \"a\" : null } ]\r\n\t ", JSON_ARRAY,
	    "the four whitespace bytes everywhere"),
	V("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", JSON_STRING,
	    "every short escape"),
	V("\"\\u0000\\u00e9\\uFFFF\\uabcd\"", JSON_STRING,
	    "\\u escapes, both cases of hex"),
	V("\"\\ud83d\\ude00\"", JSON_STRING, "surrogate pair escape"),
	V("\"\\udbff\\udfff\"", JSON_STRING, "highest surrogate pair"),
	V("\"\\udc00\"", JSON_STRING, "lone low surrogate accepted as jq does"),
	V("\"\\udc00\\udc00\"", JSON_STRING, "two lone low surrogates (jq)"),
	V("\"\\udfff x\"", JSON_STRING, "lone low surrogate then text (jq)"),
	V("\"\x7f\"", JSON_STRING, "raw DEL is not a control character"),
	V("\"\xc2\x80\xdf\xbf\"", JSON_STRING, "2-byte utf-8 bounds"),
	V("\"\xe0\xa0\x80\xef\xbf\xbf\"", JSON_STRING, "3-byte utf-8 bounds"),
	V("\"\xed\x9f\xbf\xee\x80\x80\"", JSON_STRING,
	    "utf-8 around the surrogates (U+D7FF, U+E000)"),
	V("\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"", JSON_STRING,
	    "4-byte utf-8 bounds (U+10000, U+10FFFF)"),
	V("\"caf\xc3\xa9 \xf0\x9f\x94\xa5 na\xc3\xafve r\xc3\xa9sum\xc3\xa9 "
	  "with a long ascii tail to go past sixteen bytes\"",
	    JSON_STRING, "mixed utf-8 and ascii"),
	V("{\"a\":1,\"a\":2}", JSON_OBJECT, "duplicate keys are valid"),
	V("[[[]],{},[{}]]", JSON_ARRAY, "nested empties"),

	X("", "empty input"),
	X(" \t\r\n", "whitespace only"),
	X("01", "leading zero"),
	X("-01", "negative leading zero"),
	X("00", "double zero"),
	X("1.", "no digit after the point"),
	X(".5", "no digit before the point"),
	X("-.5", "negative without integer part"),
	X("-", "minus alone"),
	X("+1", "plus sign"),
	X("1e", "exponent without digits"),
	X("1e+", "exponent sign without digits"),
	X("1.5e", "fraction, exponent without digits"),
	X("1..2", "two points"),
	X("0x10", "hex"),
	X("nan", "nan"),
	X("NaN", "NaN"),
	X("-nan", "-nan"),
	X("inf", "inf"),
	X("Infinity", "Infinity"),
	X("-Infinity", "-Infinity"),
	X("\xef\xbb\xbf{}", "byte order mark"),
	X("tru", "truncated true"),
	X("truex", "true with garbage"),
	X("nul", "truncated null"),
	X("True", "capital True"),
	X("[1,]", "trailing comma in array"),
	X("[,1]", "leading comma in array"),
	X("[1 2]", "missing comma"),
	X("{\"a\":1,}", "trailing comma in object"),
	X("{\"a\"}", "key without value"),
	X("{\"a\":}", "colon without value"),
	X("{\"a\" 1}", "missing colon"),
	X("{1:2}", "number key"),
	X("{'a':1}", "single quotes"),
	X("{\"a\":1 \"b\":2}", "missing comma in object"),
	X("[1:2]", "colon in array"),
	X("[", "unclosed array"),
	X("{", "unclosed object"),
	X("{\"a\"", "unclosed object after key"),
	X("{\"a\":", "unclosed object after colon"),
	X("[1", "unclosed array after value"),
	X("]", "lone close"),
	X("[1]]", "extra close"),
	X("{\"a\":1}}", "extra close brace"),
	X("[}", "mismatched close"),
	X("1 2", "two values"),
	X("{}x", "trailing garbage"),
	X("{} {}", "two objects"),
	X("\"a\"\"b\"", "two strings"),
	X("[1]\0", "trailing NUL"),
	X("1\0", "number then NUL"),
	X("[1]\x1e", "trailing RS (jq accepts)"),
	X("\f1", "form feed is not whitespace"),
	X("1\v", "vertical tab is not whitespace"),
	X("\"abc", "unterminated string"),
	X("\"abc\\\"", "unterminated after escaped quote"),
	X("\"\\", "unterminated escape"),
	X("\"\\x\"", "unknown escape"),
	X("\"\\'\"", "escaped single quote"),
	X("\"\\U0041\"", "capital U escape"),
	X("\"\\u12\"", "short \\u"),
	X("\"\\u12g4\"", "bad hex in \\u"),
	X("\"\\u", "\\u at the end"),
	X("\"\\ud800\"", "lone high surrogate (jq rejects)"),
	X("\"\\ud800x\"", "high surrogate then text"),
	X("\"\\ud800\\u0041\"", "high surrogate then non-surrogate"),
	X("\"\\ud800\\ud800\"", "two high surrogates"),
	X("\"\\udc00\\ud800\"", "reversed pair (its high half is lone)"),
	X("\"\\ud800\\n\"", "high surrogate then short escape"),
	X("\"\\ud800\\udc0", "pair cut short"),
	X("\"\0\"", "raw NUL in string (jq accepts)"),
	X("\"\x01\"", "raw 0x01 in string"),
	X("\"\x1e\"", "raw 0x1e in string"),
	X("\"\x1f\"", "raw 0x1f in string (jq accepts)"),
	X("\"a\tb\"", "raw tab in string"),
	X("\"a\nb\"", "raw newline in string"),
	X("\"\x80\"", "lone continuation byte"),
	X("\"\xbf\"", "lone continuation 0xbf"),
	X("\"\xc0\x80\"", "overlong NUL (C0 80)"),
	X("\"\xc1\xbf\"", "overlong 2-byte (C1 BF)"),
	X("\"\xe0\x80\x80\"", "overlong 3-byte (E0 80 80)"),
	X("\"\xe0\x9f\xbf\"", "overlong 3-byte (E0 9F BF)"),
	X("\"\xf0\x80\x80\x80\"", "overlong 4-byte (F0 80 80 80)"),
	X("\"\xf0\x8f\xbf\xbf\"", "overlong 4-byte (F0 8F BF BF)"),
	X("\"\xed\xa0\x80\"", "utf-8 encoded high surrogate"),
	X("\"\xed\xbf\xbf\"", "utf-8 encoded low surrogate"),
	X("\"\xed\xa0\xbd\xed\xb8\x80\"", "utf-8 encoded surrogate pair"),
	X("\"\xf4\x90\x80\x80\"", "above U+10FFFF (F4 90)"),
	X("\"\xf5\x80\x80\x80\"", "F5 lead byte"),
	X("\"\xfe\"", "FE byte"),
	X("\"\xff\"", "FF byte"),
	X("\"\xc3\"", "truncated 2-byte before the quote"),
	X("\"\xe2\x82\"", "truncated 3-byte before the quote"),
	X("\"\xf0\x9f\x98\"", "truncated 4-byte before the quote"),
	X("\"\xc3", "truncated 2-byte at the end of input"),
	X("\"\xc3\x41\"", "bad continuation byte"),
	X("\"\xe2\x28\xa1\"", "bad second byte of 3"),
	X("\"0123456789abcdef0123456789\xff\"", "bad byte past 16 bytes"),
	X("\xc3\xa9", "utf-8 outside a string"),
	X("[\"a\",\x01]", "control byte between values"),
};

static void
test_cases(void)
{
	const struct tcase *c;
	struct json_span v;
	struct json_error err;
	size_t i;
	int r;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		memset(&v, 0, sizeof(v));
		err.off = (size_t)-1;
		err.msg = NULL;
		r = json_parse(c->in, c->n, &v, &err);
		if (c->ok) {
			if (!ok(r == 0, "valid: %s", c->why))
				printf("#   error '%s' at %zu\n",
				    err.msg ? err.msg : "", err.off);
			is_int(v.type, c->type, "type of: %s", c->why);
		} else {
			ok(r == -1, "invalid: %s", c->why);
			ok(err.msg != NULL && err.off <= c->n,
			    "error message and offset for: %s", c->why);
		}
	}
}

static void
test_spans_and_errors(void)
{
	struct json_span v;
	struct json_error err;

	ok(PARSE(" \n [1, 2] \t", &v, &err) == 0, "array with blanks");
	is_lit(v.p, v.n, "[1, 2]", "span trims whitespace");
	is_int(v.type, JSON_ARRAY, "span type array");
	ok(PARSE("\"a\\\"b\"", &v, NULL) == 0, "NULL error pointer is fine");
	is_lit(v.p, v.n, "\"a\\\"b\"", "string span includes quotes");
	ok(PARSE("-12.5e3 ", &v, NULL) == 0 && v.n == 7,
	    "number span ends at the number");
	ok(json_parse(L("[1]"), NULL, NULL) == 0, "NULL span pointer is fine");

	PARSE("[1,]", &v, &err);
	is_int(err.off, 3, "offset of a trailing comma's close");
	PARSE("{\"a\":1} x", &v, &err);
	is_int(err.off, 8, "offset of trailing garbage");
	is_str(err.msg, "trailing garbage after value", "trailing message");
	PARSE("[\"ab\x01\"]", &v, &err);
	is_int(err.off, 4, "offset of a control byte");
	PARSE("\"\\ud800\"", &v, &err);
	is_int(err.off, 1, "offset of a lone high surrogate");
	PARSE("[1, 2", &v, &err);
	is_int(err.off, 5, "offset of an early end");
	PARSE("", &v, &err);
	is_str(err.msg, "empty input", "empty input message");
	PARSE("  ", &v, &err);
	is_str(err.msg, "no value", "whitespace-only message");
	PARSE("\"\xed\xa0\x80\"", &v, &err);
	is_int(err.off, 1, "offset of an encoded surrogate");
	PARSE("01", &v, &err);
	is_int(err.off, 1, "leading zero fails at the second digit");
}

/* n containers opened by open, with inner in the middle, then closed. */
static char *
nest(const char *open, const char *inner, const char *close, size_t n,
    size_t *len)
{
	size_t lo = strlen(open), li = strlen(inner), lc = strlen(close), i;
	char *b, *p;

	if ((b = malloc(n * (lo + lc) + li + 1)) == NULL)
		abort();
	p = b;
	for (i = 0; i < n; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, inner, li);
	p += li;
	for (i = 0; i < n; i++, p += lc)
		memcpy(p, close, lc);
	*len = (size_t)(p - b);
	return b;
}

static int
nest_ok(const char *open, const char *inner, const char *close, size_t n)
{
	struct json_span v;
	size_t len;
	char *b = nest(open, inner, close, n, &len);
	int r = json_parse(b, len, &v, NULL);

	free(b);
	return r == 0;
}

static void
test_depth(void)
{
	struct json_error err;
	size_t len;
	char *b;

	/*
	 * The bounds are jq 1.6's: an array counts one level, an object with
	 * a member in progress two (jq stacks the key), so 256 arrays but only
	 * 128 objects, and 85 [{"a": pairs plus one more array.
	 */
	ok(nest_ok("[", "", "]", 256), "256 nested arrays pass");
	ok(!nest_ok("[", "", "]", 257), "257 nested arrays fail");
	ok(nest_ok("[", "1", "]", 256), "256 arrays around a number pass");
	ok(nest_ok("{\"a\":", "1", "}", 128), "128 nested objects pass");
	ok(!nest_ok("{\"a\":", "1", "}", 129), "129 nested objects fail");
	ok(nest_ok("{\"a\":", "{}", "}", 127), "127 objects around {} pass");
	ok(!nest_ok("{\"a\":", "{}", "}", 128), "128 objects around {} fail");
	ok(nest_ok("{\"a\":", "[[]]", "}", 127),
	    "127 objects around two arrays pass");
	ok(!nest_ok("{\"a\":", "[[[]]]", "}", 127),
	    "127 objects around three arrays fail");
	ok(nest_ok("[{\"a\":", "[]", "}]", 85),
	    "85 [{ pairs and an array pass");
	ok(!nest_ok("[{\"a\":", "[]", "}]", 86), "86 [{ pairs fail");
	ok(nest_ok("[", "{\"a\":1}", "]", 255),
	    "255 arrays around an object of scalars pass");
	ok(!nest_ok("[", "{\"a\":[]}", "]", 254),
	    "254 arrays, an object and an array fail");

	b = nest("[", "", "", 100000, &len);
	ok(json_parse(b, len, NULL, &err) == -1, "100000 open brackets fail");
	is_int(err.off, JSON_MAX_DEPTH, "at the first bracket too deep");
	free(b);
	b = nest("[", "", "]", 100000, &len);
	ok(json_parse(b, len, NULL, NULL) == -1, "100000 nested arrays fail");
	free(b);
	b = nest("{\"a\":", "1", "}", 100000, &len);
	ok(json_parse(b, len, NULL, NULL) == -1, "100000 nested objects fail");
	free(b);
}

static void
test_iteration(void)
{
	static const char obj[] =
	    "{ \"a\" : \"]}\\\"[{\" , "
	    "\"b\":[{\"c\":\"}\"},[]], \"d\" :3,"
	    "\"e\":{\"f\":[1,{\"g\":\"\\\\\"}]},\"h\":true}";
	struct json_span v, k, val;
	struct json_iter it;
	int n;

	ok(PARSE(obj, &v, NULL) == 0, "iteration object is valid");
	json_iter_init(&it, v);
	ok(json_iter_member(&it, &k, &val), "member 1");
	is_lit(k.p, k.n, "\"a\"", "key 1");
	is_lit(val.p, val.n, "\"]}\\\"[{\"", "brackets inside a string");
	ok(json_iter_member(&it, &k, &val), "member 2");
	is_lit(k.p, k.n, "\"b\"", "key 2");
	is_lit(val.p, val.n, "[{\"c\":\"}\"},[]]", "nested array value");
	is_int(val.type, JSON_ARRAY, "type of member 2");
	ok(json_iter_member(&it, &k, &val), "member 3");
	is_lit(val.p, val.n, "3", "number value without blanks");
	is_int(val.type, JSON_NUMBER, "type of member 3");
	ok(json_iter_member(&it, &k, &val), "member 4");
	is_lit(val.p, val.n, "{\"f\":[1,{\"g\":\"\\\\\"}]}",
	    "escaped backslash before a quote");
	ok(json_iter_member(&it, &k, &val), "member 5");
	is_lit(k.p, k.n, "\"h\"", "key 5");
	is_int(val.type, JSON_TRUE, "type of member 5");
	ok(!json_iter_member(&it, &k, &val), "end of members");
	ok(!json_iter_member(&it, &k, &val), "still at the end");

	ok(PARSE("[ 1 , \"x\" ,[ ], {} ,null,false,-2.5e-3 ]", &v, NULL) == 0,
	    "iteration array is valid");
	json_iter_init(&it, v);
	ok(json_iter_elem(&it, &val) && val.type == JSON_NUMBER && val.n == 1,
	    "element 1");
	ok(json_iter_elem(&it, &val) && val.type == JSON_STRING && val.n == 3,
	    "element 2");
	ok(json_iter_elem(&it, &val) && val.type == JSON_ARRAY && val.n == 3,
	    "element 3, an empty array with a blank");
	ok(json_iter_elem(&it, &val) && val.type == JSON_OBJECT && val.n == 2,
	    "element 4");
	ok(json_iter_elem(&it, &val) && val.type == JSON_NULL, "element 5");
	ok(json_iter_elem(&it, &val) && val.type == JSON_FALSE, "element 6");
	ok(json_iter_elem(&it, &val) && val.type == JSON_NUMBER && val.n == 7,
	    "element 7");
	ok(!json_iter_elem(&it, &val), "end of elements");

	PARSE("[]", &v, NULL);
	json_iter_init(&it, v);
	ok(!json_iter_elem(&it, &val), "empty array has no elements");
	PARSE("{ }", &v, NULL);
	json_iter_init(&it, v);
	ok(!json_iter_member(&it, &k, &val), "empty object has no members");
	PARSE("[[1,2],[3]]", &v, NULL);
	json_iter_init(&it, v);
	for (n = 0; json_iter_elem(&it, &val); n++)
		;
	is_int(n, 2, "nested arrays count as one element each");
}

/*
 * Skipping big containers goes 64 bytes at a time: put runs of backslashes,
 * escaped quotes and brackets in strings at every offset around the block
 * boundaries and check that the member after the container is still found.
 */
static void
test_skip_blocks(void)
{
	char buf[600], *p;
	struct json_span v, val;
	size_t pad, bs, i;
	int bad = 0, total = 0;

	for (pad = 0; pad < 140; pad++)
		for (bs = 0; bs <= 5; bs++) {
			p = buf;
			p += sprintf(p, "{\"x\":[");
			for (i = 0; i < pad; i++)
				*p++ = ' ';
			*p++ = '"';
			for (i = 0; i < bs; i++) {
				*p++ = '\\';
				*p++ = '\\';
			}
			p += sprintf(p,
			    "\\\"]}[{\\\\\",{\"k\":\"[\"},"
			    "\"%s\"],\"y\":7}",
			    bs & 1 ? "}" : "{");
			total++;
			if (json_parse(buf, (size_t)(p - buf), &v, NULL) ==
				-1 ||
			    !json_object_get(v, L("y"), &val) || val.n != 1 ||
			    val.p[0] != '7' ||
			    !json_object_get(v, L("x"), &val) ||
			    val.p[val.n - 1] != ']' ||
			    val.p + val.n + 1 != strstr(buf, "\"y\"")) {
				if (bad++ == 0)
					printf("# failed on %s\n", buf);
			}
		}
	is_int(
	    bad, 0, "container skip at %d offsets and backslash runs", total);
}

static void
test_object_get(void)
{
	struct json_span v, val;

	PARSE("{\"a\":1,\"b\":{\"a\":5},\"a\":2,\"a\\\"b\":3,\"\\u0041\":4,"
	      "\"\\ud83d\\ude00\":5,\"\\udc00\":6,\"\":7,\"A\":8}",
	    &v, NULL);
	ok(json_object_get(v, L("a"), &val), "key found");
	is_lit(val.p, val.n, "2", "duplicate keys: the last wins");
	ok(json_object_get(v, L("a\"b"), &val) && val.p[0] == '3',
	    "escaped quote in key");
	ok(json_object_get(v, L("A"), &val) && val.p[0] == '8',
	    "\\u0041 and A are the same key, the last wins");
	ok(json_object_get(v, L("\xf0\x9f\x98\x80"), &val) && val.p[0] == '5',
	    "surrogate pair key");
	ok(json_object_get(v, L("\xef\xbf\xbd"), &val) && val.p[0] == '6',
	    "lone low surrogate key reads as U+FFFD");
	ok(json_object_get(v, "", 0, &val) && val.p[0] == '7', "empty key");
	ok(!json_object_get(v, L("c"), &val), "absent key");
	ok(!json_object_get(v, L("b\0"), &val), "key with a NUL is absent");
	ok(!json_object_get(v, L("a\""), &val), "a prefix of a key is absent");
	PARSE("[\"a\"]", &v, NULL);
	ok(!json_object_get(v, L("a"), &val),
	    "lookup in an array finds nothing");
	PARSE("{\"\\u0000\":1}", &v, NULL);
	ok(json_object_get(v, L("\0"), &val), "key \\u0000 matches a NUL byte");
}

static void
test_path_compile(void)
{
	static const char *bad[] = {
		"",
		"a",
		"..",
		".a.",
		".a.[\"b\"]",
		".[0].[0]",
		". a",
		".a ",
		".a | .b",
		".[-1]",
		".[01]",
		".[1e0]",
		".[]",
		".a?",
		".[0]?",
		".\"\\u0041\"",
		".\"\\(1)\"",
		".1a",
		".$a",
		".a::b",
		".[10000000000]",
		".\"abc",
		".[\"a\"",
		".[0",
		".a[0]x",
		".\"a\x01\"",
		".\"\xff\"",
		".[ 0 ]",
		".a..b",
		".a-b",
	};
	struct json_path path;
	char expr[600];
	size_t i;
	int r;

	ok(json_path_compile(".", &path) == 0 && path.nsteps == 0,
	    "'.' is the identity");
	ok(json_path_compile(".a", &path) == 0 && path.nsteps == 1 &&
		!path.step[0].is_index && path.step[0].keylen == 1 &&
		path.step[0].key[0] == 'a',
	    ".a");
	r = json_path_compile(".a.b_2[2].C", &path);
	ok(r == 0 && path.nsteps == 4, ".a.b_2[2].C has 4 steps");
	is_lit(path.step[1].key, path.step[1].keylen, "b_2", "step 2 key");
	ok(path.step[2].is_index && path.step[2].index == 2, "step 3 index");
	is_lit(path.step[3].key, path.step[3].keylen, "C", "step 4 key");
	ok(json_path_compile(".\"a.b\"", &path) == 0 && path.nsteps == 1,
	    ".\"a.b\"");
	is_lit(path.step[0].key, path.step[0].keylen, "a.b",
	    "quoted key keeps the dot");
	ok(json_path_compile(".[\"a.b\"][\"c\"]", &path) == 0 &&
		path.nsteps == 2,
	    ".[\"a.b\"][\"c\"]");
	ok(json_path_compile(".\"a\".\"b\"", &path) == 0 && path.nsteps == 2,
	    ".\"a\".\"b\"");
	ok(json_path_compile(".a.\"b\"[0][1]", &path) == 0 &&
		path.nsteps == 4 && path.step[3].index == 1,
	    ".a.\"b\"[0][1]");
	ok(json_path_compile(".[0]", &path) == 0 && path.nsteps == 1 &&
		path.step[0].is_index && path.step[0].index == 0,
	    ".[0]");
	ok(json_path_compile(".[999999999]", &path) == 0 &&
		path.step[0].index == 999999999,
	    "nine-digit index");
	ok(json_path_compile(".if", &path) == 0, "keyword as a field (.if)");
	ok(json_path_compile(".\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", &path) == 0,
	    "every escape of a quoted key");
	is_lit(path.step[0].key, path.step[0].keylen, "\"\\/\b\f\n\r\t",
	    "escapes decoded");
	ok(json_path_compile(".\"caf\xc3\xa9\"", &path) == 0 &&
		path.step[0].keylen == 5,
	    "utf-8 in a quoted key");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(json_path_compile(bad[i], &path) == -1,
		    "not a simple path: '%s'", bad[i]);

	strcpy(expr, "");
	for (i = 0; i < JSON_PATH_MAX; i++)
		strcat(expr, ".a");
	ok(json_path_compile(expr, &path) == 0 && path.nsteps == JSON_PATH_MAX,
	    "JSON_PATH_MAX steps");
	strcat(expr, ".a");
	ok(json_path_compile(expr, &path) == -1, "one step too many");
	expr[0] = '.';
	memset(expr + 1, 'k', JSON_PATH_KEYMAX);
	expr[JSON_PATH_KEYMAX + 1] = '\0';
	ok(json_path_compile(expr, &path) == 0 &&
		path.step[0].keylen == JSON_PATH_KEYMAX,
	    "longest key");
	expr[JSON_PATH_KEYMAX + 1] = 'k';
	expr[JSON_PATH_KEYMAX + 2] = '\0';
	ok(json_path_compile(expr, &path) == -1, "key one byte too long");
}

static enum json_path_result
get(const char *doc, const char *expr, struct json_span *out)
{
	struct json_path path;
	struct json_span root;

	if (json_path_compile(expr, &path) == -1 ||
	    json_parse(doc, strlen(doc), &root, NULL) == -1)
		return (enum json_path_result) - 1;
	return json_path_get(&path, root, out);
}

static void
test_path_get(void)
{
	/* Every expectation below is what jq 1.6 prints for the same. */
	static const char doc[] =
	    "{\"a\":{\"b\":[10,{\"c\":\"x\"}]},"
	    "\"n\":null,\"s\":\"str\",\"num\":1,\"t\":true,\"a.b\":3,"
	    "\"d\":1,\"d\":{\"e\":2},\"\":[]}";
	struct json_span out;

	is_int(get(doc, ".a.b[1].c", &out), JSON_PATH_FOUND, ".a.b[1].c");
	is_lit(out.p, out.n, "\"x\"", ".a.b[1].c is \"x\"");
	is_int(get(doc, ".", &out), JSON_PATH_FOUND, ". finds the root");
	is_int(out.n, sizeof(doc) - 1, ". is the whole document");
	is_int(get(doc, ".a.b[0]", &out), JSON_PATH_FOUND, ".a.b[0]");
	is_lit(out.p, out.n, "10", ".a.b[0] is 10");
	is_int(get(doc, ".[\"a\"][\"b\"][1][\"c\"]", &out), JSON_PATH_FOUND,
	    "bracket keys");
	is_int(
	    get(doc, ".\"a.b\"", &out), JSON_PATH_FOUND, "quoted dotted key");
	is_lit(out.p, out.n, "3", ".\"a.b\" is 3");
	is_int(get(doc, ".d.e", &out), JSON_PATH_FOUND,
	    "through the last duplicate");
	is_lit(out.p, out.n, "2", ".d.e is 2");
	is_int(get(doc, ".n", &out), JSON_PATH_FOUND, "a null member is found");
	is_int(out.type, JSON_NULL, "its type is null");
	is_int(get(doc, ".[\"\"]", &out), JSON_PATH_FOUND, "empty key");

	is_int(get(doc, ".zz", &out), JSON_PATH_NULL, "missing key is null");
	is_int(get(doc, ".zz.y[3]", &out), JSON_PATH_NULL,
	    "steps after a missing key are null");
	is_int(get(doc, ".n.x", &out), JSON_PATH_NULL, "key on null is null");
	is_int(
	    get(doc, ".n[3]", &out), JSON_PATH_NULL, "index on null is null");
	is_int(get(doc, ".a.b[2]", &out), JSON_PATH_NULL,
	    "index past the end is null");
	is_int(get(doc, ".a.b[5].c[1]", &out), JSON_PATH_NULL,
	    "steps after the end are null");
	is_int(get(doc, ".[\"\"][0]", &out), JSON_PATH_NULL,
	    "index on an empty array is null");
	is_int(get("null", ".a", &out), JSON_PATH_NULL, "null root, key");
	is_int(get("null", ".[0]", &out), JSON_PATH_NULL, "null root, index");

	is_int(get(doc, ".s.x", &out), JSON_PATH_TYPE, "key on a string");
	is_int(get(doc, ".s[0]", &out), JSON_PATH_TYPE, "index on a string");
	is_int(get(doc, ".num.a", &out), JSON_PATH_TYPE, "key on a number");
	is_int(get(doc, ".t[0]", &out), JSON_PATH_TYPE, "index on a boolean");
	is_int(get(doc, ".a[0]", &out), JSON_PATH_TYPE, "index on an object");
	is_int(
	    get(doc, ".[0]", &out), JSON_PATH_TYPE, "index on the root object");
	is_int(get(doc, ".a.b.c", &out), JSON_PATH_TYPE, "key on an array");
	is_int(get(doc, ".a.b[0].c", &out), JSON_PATH_TYPE,
	    "key on a number in an array");
	is_int(get("[1]", ".a", &out), JSON_PATH_TYPE, "key on a root array");
	is_int(get("[1,[2,{\"a\":3}],4]", ".[1][1].a", &out), JSON_PATH_FOUND,
	    "root array, nested array, object");
	is_lit(out.p, out.n, "3", ".[1][1].a is 3");
	is_int(get("[1,[2,{\"a\":3}],4]", ".[2]", &out), JSON_PATH_FOUND,
	    "last element of a root array");
	is_lit(out.p, out.n, "4", ".[2] is 4");
	is_int(get("[1,[2,{\"a\":3}],4]", ".[1][2]", &out), JSON_PATH_NULL,
	    "past the end of a nested array");
	is_int(get("[1,[2,{\"a\":3}],4]", ".[3].a", &out), JSON_PATH_NULL,
	    "past the end of a root array, then a key");
	is_int(get("[1,[2,{\"a\":3}],4]", ".[0][0]", &out), JSON_PATH_TYPE,
	    "index on a number in a root array");
	is_int(get("[1,[2,{\"a\":3}],4]", ".[1][1][0]", &out), JSON_PATH_TYPE,
	    "index on an object in a root array");
	is_int(get("{\"a\":\"s\",\"a\":{\"b\":[5]}}", ".a.b[0]", &out),
	    JSON_PATH_FOUND, "a later duplicate replaces a string");
	is_lit(out.p, out.n, "5", "and its value is found");
	is_int(get("{\"a\":{\"b\":[5]},\"a\":\"s\"}", ".a.b[0]", &out),
	    JSON_PATH_TYPE, "a later duplicate string makes it an error");
	is_int(get("{\"a\":{\"b\":1},\"a\":{\"c\":1}}", ".a.b", &out),
	    JSON_PATH_NULL, "a later duplicate without the key is null");
	is_int(get("{\"a\":{\"b\":1},\"a\":null}", ".a.b", &out),
	    JSON_PATH_NULL, "a later null duplicate is null");
	is_int(get("{\"a\":[{\"b\":1,\"b\":2},3],\"z\":0}", ".a[0].b", &out),
	    JSON_PATH_FOUND, "duplicates inside an array element");
	is_lit(out.p, out.n, "2", "the last of them");
	is_int(get(" { \"a\" : [ 1 , { \"b\" : \"x\" } ] } ", ".a[1].b", &out),
	    JSON_PATH_FOUND, "blanks everywhere");
	is_lit(out.p, out.n, "\"x\"", "found through the blanks");
	is_int(get("\"s\"", ".[0]", &out), JSON_PATH_TYPE,
	    "index on a root string");
	is_int(get("false", ".a", &out), JSON_PATH_TYPE, "key on false");
}

static void
test_unescape(void)
{
	struct json_span v;
	char out[64];
	size_t n;

	PARSE("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"", &v, NULL);
	n = json_str_unescape(v, out);
	is_lit(out, n, "a\"b\\c/d\be\ff\ng\rh\ti", "short escapes");
	PARSE("\"\\u0041\\u00e9\\u20ac\\uffff\\u0000z\"", &v, NULL);
	n = json_str_unescape(v, out);
	is_lit(out, n, "A\xc3\xa9\xe2\x82\xac\xef\xbf\xbf\0z",
	    "\\u escapes of 1, 2 and 3 bytes and NUL");
	PARSE("\"x\\ud83d\\ude00y\\uDBFF\\uDFFF\"", &v, NULL);
	n = json_str_unescape(v, out);
	is_lit(out, n, "x\xf0\x9f\x98\x80y\xf4\x8f\xbf\xbf",
	    "surrogate pairs to 4-byte utf-8");
	PARSE("\"\\udc00-\\udfff\"", &v, NULL);
	n = json_str_unescape(v, out);
	is_lit(out, n, "\xef\xbf\xbd-\xef\xbf\xbd",
	    "lone low surrogates become U+FFFD as in jq");
	PARSE("\"plain caf\xc3\xa9\"", &v, NULL);
	n = json_str_unescape(v, out);
	is_lit(out, n, "plain caf\xc3\xa9", "plain string copied");
	PARSE("\"\"", &v, NULL);
	is_int(json_str_unescape(v, out), 0, "empty string");
}

/* The validating decoder: same bytes as json_str_unescape, and every way a
 * string can be invalid, inside and past the 16-byte fast path. */
static void
test_str_decode(void)
{
	static const struct {
		const char *in, *err;
		size_t off;
	} bad[] = {
		{ "\"abc", "unterminated string", 4 },
		{ "\"a\\x\"", "invalid escape", 2 },
		{ "\"0123456789abcdef0123\\q\"", "invalid escape", 21 },
		{ "\"a\\u12g4\"", "invalid \\u escape", 2 },
		{ "\"\\ud800\"", "unpaired high surrogate escape", 1 },
		{ "\"\\ud800\\u0041\"", "unpaired high surrogate escape", 1 },
		{ "\"tab\there\"", "control character in string", 4 },
		{ "\"0123456789abcdefXYZ\n\"", "control character in string",
		    20 },
		{ "\"a\"b\"", "unescaped quote in string", 2 },
		{ "\"caf\xc3\"", "invalid utf-8 in string", 4 },
		{ "\"0123456789abcdef\xed\xa0\x80\"", "invalid utf-8 in string",
		    17 },
		{ "\"\\\"", "unterminated string", 3 },
	};
	char out[128], ref[128];
	struct json_span v, raw;
	struct json_error err;
	size_t i, n;
	long dn;
	static const char good[] =
	    "\"{\\\"event\\\":{\\\"id\\\":\\\"ev_1\\\",\\\"note\\\":"
	    "\\\"caf\xc3\xa9 \\u20ac \\ud83d\\ude00 \\udc00\\\\n\\\"}}\"";

	ok(PARSE(good, &v, NULL) == 0, "an escape-dense string");
	n = json_str_unescape(v, ref);
	dn = json_str_decode(v, out, NULL);
	ok(dn == (long)n && memcmp(out, ref, n) == 0,
	    "decode gives json_str_unescape's bytes on an escape-dense string");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		raw.p = bad[i].in;
		raw.n = strlen(bad[i].in);
		raw.type = JSON_STRING;
		memset(&err, 0, sizeof(err));
		dn = json_str_decode(raw, out, &err);
		ok(dn == -1 && err.msg != NULL &&
			strcmp(err.msg, bad[i].err) == 0 &&
			err.off == bad[i].off,
		    "decode rejects %s: %s at %zu (got %s at %zu)", bad[i].in,
		    bad[i].err, bad[i].off, err.msg ? err.msg : "-", err.off);
		ok(json_parse(bad[i].in, raw.n, NULL, NULL) == -1,
		    "and json_parse agrees");
	}
}

/*
 * Escape-dense strings are taken 64 bytes at a time (validation, and
 * decoding where the CPU has AVX-512): at every offset of a block, each
 * kind of item the blocks leave to the byte-wise code (a \u escape, a
 * control byte, a bad escape, bad UTF-8, a sequence crossing the block)
 * gives the same bytes or the same error as json_str_unescape and
 * json_parse.
 */
/*
 * The parser's first 16-byte string step (scan_string_short) and the loop
 * it hands over to: a string of every length up to 80 with one item at
 * every offset, as a value, as a key and alone in a buffer of its exact
 * size (so that a read past the end is caught under ASan), through
 * json_parse and json_parse_top, and json_parse_top told the text is UTF-8
 * when it is.  Validity, error offset and message must
 * be what json_str_decode, a separate implementation, says of the string.
 */
static void
test_string_steps(void)
{
	static const char *const item[] = { "", "\xc3\xa9", "\\n", "\x01",
		"\xff", "\\q", "\\u00e9", "\x7f", "\xc3", "\x1f",
		"\\\"" };
	char str[100], in[120], out[120];
	struct json_error perr, derr;
	struct json_member m[4];
	struct json_top top = { .m = m, .max = 4 };
	struct json_top t8 = { .m = m, .max = 4, .utf8 = 1 };
	struct json_error uerr;
	struct json_span raw, v;
	size_t i, k, c, len, at, sn, n;
	int bad = 0, total = 0, pv, tv, uv;
	long dn;
	char *buf;

	for (k = 0; k < sizeof(item) / sizeof(item[0]); k++)
		for (len = 0; len <= 80; len++)
			for (at = 0; at <= len; at++) {
				sn = 0;
				str[sn++] = '"';
				for (i = 0; i < len; i++) {
					if (i == at)
						sn += (size_t)sprintf(
						    str + sn, "%s", item[k]);
					str[sn++] = 'a';
				}
				if (at == len)
					sn += (size_t)sprintf(
					    str + sn, "%s", item[k]);
				str[sn++] = '"';
				raw.p = str;
				raw.n = sn;
				raw.type = JSON_STRING;
				memset(&derr, 0, sizeof(derr));
				dn = json_str_decode(raw, out, &derr);
				for (c = 0; c < 3; c++) {
					n = (size_t)snprintf(in, sizeof(in),
					    c == 0 ? "[%.*s]"
						   : c == 1 ? "{%.*s:1}"
							    : "%.*s",
					    (int)sn, str);
					buf = malloc(n);
					memcpy(buf, in, n);
					memset(&perr, 0, sizeof(perr));
					pv = json_parse(buf, n, &v, &perr);
					tv = json_parse_top(
					    buf, n, &v, &top, NULL);
					/* Told it is UTF-8, when it is. */
					uerr = perr;
					uv = json_utf8_valid(buf, n)
					    ? json_parse_top(
						  buf, n, &v, &t8, &uerr)
					    : pv;
					if (uv < 0 && pv < 0 &&
					    (uerr.off != perr.off ||
						strcmp(uerr.msg, perr.msg) != 0))
						uv = 1;
					total++;
					if (pv != tv || pv != uv ||
					    (dn < 0) != (pv < 0) ||
					    (pv < 0 &&
						(perr.off != derr.off + (c < 2) ||
						    strcmp(perr.msg, derr.msg) !=
							0))) {
						if (bad++ == 0)
							printf("# failed on "
							       "%.*s\n",
							    (int)n, buf);
					}
					free(buf);
				}
			}
	is_int(bad, 0, "the string steps agree with json_str_decode on %d "
	    "strings", total);
}

static void
test_decode_blocks(void)
{
	static const char *const item[] = { "\\u00e9", "\\n", "\\r\\t",
		"\xc3\xa9", "\xf0\x9f\x98\x80", "\\ud83d\\ude00", "\x01", "\\q",
		"\xc3(", "\\u12", "\\\\", "\\/", "\\b\\f" };
	char in[400], out[400], ref[400];
	struct json_error perr, derr;
	struct json_span raw, v;
	size_t i, k, n, pre;
	int bad = 0, total = 0, pv;
	long dn;

	for (k = 0; k < sizeof(item) / sizeof(item[0]); k++)
		for (pre = 0; pre < 140; pre++) {
			n = 0;
			in[n++] = '"';
			for (i = 0; i < pre; i++) {
				if (i % 4 == 0)
					in[n++] = '\\';
				in[n++] = i % 4 == 0 ? '"' : 'a';
			}
			n += (size_t)sprintf(in + n, "%s\\\"x\"", item[k]);
			raw.p = in;
			raw.n = n;
			raw.type = JSON_STRING;
			memset(&perr, 0, sizeof(perr));
			memset(&derr, 0, sizeof(derr));
			pv = json_parse(in, n, &v, &perr);
			dn = json_str_decode(raw, out, &derr);
			total++;
			if (pv == 0 ? dn != (long)json_str_unescape(v, ref) ||
				    memcmp(out, ref, (size_t)dn) != 0
				    : dn != -1 || perr.off != derr.off ||
				    strcmp(perr.msg, derr.msg) != 0) {
				if (bad++ == 0)
					printf(
					    "# failed on %.*s\n", (int)n, in);
			}
		}
	is_int(bad, 0, "block decoding of %d strings agrees", total);
}

/* A \u escape cut by the end of a 64-byte block, with the closing quote
 * in it (json_parse took such a string for valid). */
static void
test_u_escape_at_block_end(void)
{
	struct json_error err;
	char in[128];
	size_t n;

	n = (size_t)sprintf(in, "\"\\/%.58s\\u\"          ",
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	ok(json_parse(in, n, NULL, &err) == -1 &&
		strcmp(err.msg, "invalid \\u escape") == 0 && err.off == 61,
	    "a \\u escape that the closing quote cuts short fails");
}

/* json_parse_top: the members of one named member recorded as well. */
static void
test_parse_top_sub(void)
{
	struct json_member m[4], sm[2];
	struct json_top top = {
		.m = m, .max = 4, .sub = "event", .subn = 5, .sm = sm, .smax = 2
	};
	struct json_span v;
	const char *t = "{\"x\": {\"id\": 0}, \"event\": {\"id\": \"a\", "
			"\"data\": {\"id\": [1, {\"id\": 2}]}}, \"y\": 1}";
	const char *u = "{\"event\": {\"id\": 1}, \"event\": {\"id\": 2}}";
	const char *w = "{\"event\": {\"a\": 1, \"b\": 2, \"c\": 3}}";
	const char *z = "{\"event\": [{\"id\": 1}], \"e\": {\"id\": 3}}";

	ok(json_parse_top(t, strlen(t), &v, &top, NULL) == 0 && top.n == 3 &&
		top.sub_found == 1 && top.sn == 2,
	    "the named member's two members recorded, beside the top three");
	ok(sm[0].key.n == 4 && memcmp(sm[0].key.p, "\"id\"", 4) == 0 &&
		sm[0].val.n == 3 && memcmp(sm[0].val.p, "\"a\"", 3) == 0,
	    "its first: key and value spans");
	ok(sm[1].val.type == JSON_OBJECT && sm[1].val.n == 22 &&
		sm[1].val.p[sm[1].val.n - 1] == '}',
	    "its second: the whole nested object, whose members are not taken");
	ok(json_parse_top(u, strlen(u), &v, &top, NULL) == 0 &&
		top.sub_found == 2 && top.sn == 1 && sm[0].val.p[0] == '2',
	    "named twice: the last one's members");
	ok(json_parse_top(w, strlen(w), &v, &top, NULL) == 0 && top.sn == 3,
	    "more members than recorded: sn is smax + 1");
	ok(json_parse_top(z, strlen(z), &v, &top, NULL) == 0 &&
		top.sub_found == 0 && top.sn == 0,
	    "not an object, or another name: nothing recorded");
}

/* json_parse_top: members recorded in one pass, the lazy value skipped. */
static void
test_parse_top(void)
{
	struct json_member m[2];
	struct json_top top = { .m = m, .max = 2 };
	struct json_span v;
	const char *t = "{\"a\": {\"b\": [1, \"x\"]}, \"body\": \"\\q\", "
			"\"c\": 2}";
	const char *g = "{\"body\": \"x\\\"y\\n\", \"c\": 2, "
			"\"body\": \"last\\u00e9\"}";
	struct json_error err;
	char out[64];

	ok(json_parse_top(
	       "{\"a\": {\"b\": 1}, \"c\" : \"d\"}", 26, &v, &top, NULL) == 0 &&
		top.n == 2 && top.lazy_found == 0,
	    "two members recorded");
	ok(m[0].key.n == 3 && memcmp(m[0].key.p, "\"a\"", 3) == 0 &&
		m[0].val.type == JSON_OBJECT && m[0].val.n == 8,
	    "the first: key and object value spans");
	ok(m[1].val.type == JSON_STRING && m[1].val.n == 3 &&
		memcmp(m[1].val.p, "\"d\"", 3) == 0,
	    "the second, after a nested key (not taken for a member)");
	ok(json_parse_top("{\"a\":1,\"b\":2,\"c\":3}", 19, &v, &top, NULL) ==
		    0 &&
		top.n == 3,
	    "more members than recorded: n is max + 1");
	ok(json_parse_top("[1, {\"a\": 2}]", 13, &v, &top, NULL) == 0 &&
		top.n == 0,
	    "an array root records nothing");
	ok(json_parse_top(t, strlen(t), &v, &top, NULL) == -1,
	    "a bad escape fails");
	top.lazy = "body";
	top.lazyn = 4;
	top.lazy_dst = out;
	ok(json_parse_top(t, strlen(t), &v, &top, &err) == -1 &&
		strcmp(err.msg, "invalid escape") == 0 && err.off == 32,
	    "and fails the same in a decoded member, at the backslash");
	ok(json_parse_top(g, strlen(g), &v, &top, NULL) == 0 &&
		top.lazy_found == 2 && top.lazy_n == 6 &&
		memcmp(out, "last\xc3\xa9", 6) == 0 && !top.lazy_crlf,
	    "each lazy member is decoded: the last one is in lazy_dst");
	ok(json_parse_top(g, 21, &v, &top, NULL) == -1,
	    "a text cut short fails");
	ok(json_parse_top("{\"body\": \"x\\\"y\\n\"}", 18, &v, &top, NULL) ==
		    0 &&
		top.lazy_n == 4 && memcmp(out, "x\"y\n", 4) == 0 &&
		top.lazy_crlf,
	    "a decoded newline is flagged");
	ok(json_parse_top("{\"body\": 5}", 11, &v, &top, NULL) == 0 &&
		top.lazy_found == 0,
	    "a lazy member that is not a string is parsed as usual");
	ok(json_parse_top("{\"body\": \"abc}", 14, &v, &top, NULL) == -1,
	    "an unterminated lazy string fails");
}

static void
test_str_eq(void)
{
	struct json_span v;

	PARSE("\"Content-Type\"", &v, NULL);
	ok(json_str_eq(v, L("Content-Type")), "plain equal");
	ok(!json_str_eq(v, L("content-type")), "case matters");
	ok(json_str_eq_nocase(v, L("content-type")), "nocase equal");
	ok(json_str_eq_nocase(v, L("CONTENT-TYPE")), "nocase upper");
	ok(!json_str_eq_nocase(v, L("content-typ")), "nocase prefix");
	ok(!json_str_eq(v, L("Content-Type ")), "longer literal");
	ok(!json_str_eq(v, L("Content-Typ")), "shorter literal");
	ok(json_str_plain(v), "no backslash: plain");

	PARSE("\"a\\u0041\\n\"", &v, NULL);
	ok(json_str_eq(v, L("aA\n")), "equal after unescaping");
	ok(!json_str_eq(v, L("a\\u0041\\n")), "raw bytes are not the content");
	ok(!json_str_eq(v, L("aA")), "prefix of the content");
	ok(!json_str_eq(v, L("aA\nx")), "content is a prefix");
	ok(json_str_eq_nocase(v, L("Aa\n")), "nocase after unescaping");
	ok(!json_str_plain(v), "escapes: not plain");

	PARSE("\"\\u00c9t\\u00e9\"", &v, NULL);
	ok(json_str_eq(v, L("\xc3\x89t\xc3\xa9")), "non-ascii escapes");
	ok(!json_str_eq_nocase(v, L("\xc3\xa9t\xc3\xa9")),
	    "nocase folds ascii only");
	PARSE("\"a\\\\b\"", &v, NULL);
	ok(json_str_eq(v, L("a\\b")), "escaped backslash");
	ok(!json_str_eq(v, L("a\\\\b")), "same length as raw is not equal");
	PARSE("\"\"", &v, NULL);
	ok(json_str_eq(v, "", 0), "empty equals empty");
	ok(!json_str_eq(v, L("x")), "empty is not x");
	PARSE("\"\\ud83d\\ude00\"", &v, NULL);
	ok(json_str_eq(v, L("\xf0\x9f\x98\x80")), "surrogate pair equal");
	ok(!json_str_eq(v, L("\xf0\x9f\x98\x81")), "last byte differs");
}

static void
test_numbers(void)
{
	struct json_span v;
	int64_t i = 42;
	char big[2000], c;
	double d;
	size_t n, k, j;
	unsigned carry;

	PARSE("0", &v, NULL);
	ok(json_num_i64(v, &i) == 0 && i == 0, "i64 0");
	PARSE("-0", &v, NULL);
	ok(json_num_i64(v, &i) == 0 && i == 0, "i64 -0");
	PARSE("1764000000", &v, NULL);
	ok(json_num_i64(v, &i) == 0 && i == 1764000000, "i64 timestamp");
	PARSE("9223372036854775807", &v, NULL);
	ok(json_num_i64(v, &i) == 0 && i == INT64_MAX, "i64 max");
	PARSE("-9223372036854775808", &v, NULL);
	ok(json_num_i64(v, &i) == 0 && i == INT64_MIN, "i64 min");
	i = 42;
	PARSE("9223372036854775808", &v, NULL);
	ok(json_num_i64(v, &i) == -1 && i == 42, "i64 max + 1 fails");
	PARSE("-9223372036854775809", &v, NULL);
	ok(json_num_i64(v, &i) == -1, "i64 min - 1 fails");
	PARSE("12345678901234567890", &v, NULL);
	ok(json_num_i64(v, &i) == -1, "20-digit integer fails");
	PARSE("1.0", &v, NULL);
	ok(json_num_i64(v, &i) == -1, "fraction fails");
	PARSE("1e2", &v, NULL);
	ok(json_num_i64(v, &i) == -1, "exponent fails");

	PARSE("1.5", &v, NULL);
	ok(json_num_double(v) == 1.5, "double 1.5");
	PARSE("-0", &v, NULL);
	d = json_num_double(v);
	ok(d == 0 && signbit(d), "double -0 keeps its sign");
	PARSE("1e400", &v, NULL);
	ok(isinf(json_num_double(v)) && json_num_double(v) > 0,
	    "1e400 is infinity");
	PARSE("-1e400", &v, NULL);
	ok(isinf(json_num_double(v)) && json_num_double(v) < 0,
	    "-1e400 is -infinity");
	PARSE("1e-400", &v, NULL);
	ok(json_num_double(v) == 0, "1e-400 is 0");
	PARSE("100000000000000000001", &v, NULL);
	ok(json_num_double(v) == 1e20, "21 digits round to 1e20 as in jq");
	PARSE("[0.1]", &v, NULL);
	v.p++;
	v.n = 3;
	ok(json_num_double(v) == 0.1, "number inside a larger buffer");

	/* Long literals take the reduced path; strtod on all is the truth. */
	n = (size_t)sprintf(big, "9007199254740993");
	memset(big + n, '0', 801);
	n += 801;
	n += (size_t)sprintf(big + n, "e-801");
	v.p = big;
	v.n = n;
	v.type = JSON_NUMBER;
	ok(json_parse(big, n, NULL, NULL) == 0, "long literal is valid");
	ok(json_num_double(v) == 9007199254740992.0,
	    "long exact halfway rounds to even");
	n = (size_t)sprintf(big, "9007199254740993");
	memset(big + n, '0', 800);
	n += 800;
	n += (size_t)sprintf(big + n, "1e-801");
	v.n = n;
	ok(json_num_double(v) == 9007199254740994.0,
	    "a far non-zero digit breaks the tie upwards");
	ok(json_num_double(v) == strtod(big, NULL), "same as strtod");
	/* 1 + 2^-53, halfway between 1 and the next double, is 54 digits. */
	n = (size_t)sprintf(big,
	    "1.00000000000000011102230246251565404236316"
	    "680908203125");
	v.n = n;
	ok(json_num_double(v) == 1.0, "exact long halfway rounds to even");
	memset(big + n, '0', 100);
	n += 100;
	n += (size_t)sprintf(big + n, "1");
	v.n = n;
	ok(json_num_double(v) == 1.0 + 0x1p-52,
	    "a digit 150 places down breaks the tie upwards");
	n = (size_t)sprintf(big,
	    "1.00000000000000011102230246251565404236316"
	    "680908203124");
	memset(big + n, '9', 900);
	n += 900;
	big[n] = '\0'; /* for strtod below */
	v.n = n;
	ok(json_num_double(v) == 1.0, "just below halfway, 950 digits, down");
	ok(json_num_double(v) == strtod(big, NULL), "that is strtod's answer");
	/*
	 * 2^-1075, halfway between 0 and the least subnormal, is 5^1075 *
	 * 10^-1075: 752 significant digits, the most a tie can need.
	 */
	memset(big, 0, sizeof(big));
	big[0] = 1;
	for (n = 0, k = 1; n < 1075; n++)
		for (j = 0, carry = 0; j < k || carry; j++) {
			carry += big[j] * 5;
			big[j] = (char)(carry % 10);
			carry /= 10;
			if (j + 1 > k)
				k = j + 1;
		}
	for (j = 0; j < k / 2; j++) {
		c = big[j];
		big[j] = big[k - 1 - j];
		big[k - 1 - j] = c;
	}
	for (j = 0; j < k; j++)
		big[j] += '0';
	is_int(k, 752, "5^1075 has 752 digits");
	n = k + (size_t)sprintf(big + k, "e-1075");
	v.n = n;
	ok(json_num_double(v) == 0.0, "752-digit tie rounds to even, 0");
	n = k + (size_t)sprintf(big + k, "1e-1076");
	v.n = n;
	ok(json_num_double(v) == 0x1p-1074,
	    "one more digit rounds up to the least subnormal");
	n = (size_t)sprintf(big, "-0.");
	memset(big + n, '0', 400);
	n += 400;
	n += (size_t)sprintf(big + n, "123456789012345678901234567890E+410");
	v.n = n;
	ok(json_num_double(v) == strtod(big, NULL),
	    "many leading fraction zeros");
	n = (size_t)sprintf(big, "1");
	memset(big + n, '0', 1200);
	n += 1200;
	big[n] = '\0';
	v.n = n;
	ok(isinf(json_num_double(v)), "1201-digit integer is infinity");
}

static void
test_escape(void)
{
	static const char in[] = "a\"b\\c/d\b\f\n\r\t\x01\x1f\x7f\0"
				 "caf\xc3\xa9\xff";
	char out[6 * 64], back[64], q[6 * 64 + 2];
	struct json_span v;
	size_t n;

	n = json_escape(in, sizeof(in) - 1, out);
	is_lit(out, n,
	    "a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001f\x7f"
	    "\\u0000caf\xc3\xa9\xff",
	    "escapes for output, '/' kept");
	is_int(json_escape("", 0, out), 0, "empty escapes to empty");

	/* Round trip of valid utf-8 with every control character. */
	for (n = 0; n < 32; n++)
		back[n] = (char)n;
	memcpy(back + 32, "\"\\/\xf0\x9f\x94\xa5", 8);
	q[0] = '"';
	n = json_escape(back, 40, q + 1);
	q[n + 1] = '"';
	ok(json_parse(q, n + 2, &v, NULL) == 0, "escaped output is valid");
	n = json_str_unescape(v, out);
	is_mem(out, n, back, 40, "escape then unescape is the identity");
	is_int(json_escape_count(back, 40), 35,
	    "json_escape_count: 33 controls (one the literal's NUL), a quote, "
	    "a backslash");

	/* Past the 16-byte fast path: escapes at every offset of a block. */
	{
		static const char t[] = "0123456789abcdef\"0123456789abcde\\"
					"0123456789abcd\n0123456789abcdefghij"
					"klmnopq\"";
		char e2[6 * sizeof(t)], b2[sizeof(t)];

		n = json_escape(t, sizeof(t) - 1, e2);
		is_lit(e2, n,
		    "0123456789abcdef\\\"0123456789abcde\\\\0123456789abcd"
		    "\\n0123456789abcdefghijklmnopq\\\"",
		    "long strings escape the same through the fast path");
		is_int(json_escape_count(t, sizeof(t) - 1), 4,
		    "and json_escape_count counts four");
		q[0] = '"';
		memcpy(q + 1, e2, n);
		q[n + 1] = '"';
		ok(json_parse(q, n + 2, &v, NULL) == 0 &&
			json_str_unescape(v, b2) == sizeof(t) - 1 &&
			memcmp(b2, t, sizeof(t) - 1) == 0,
		    "and round trip");
	}
}

static void
test_utf8(void)
{
	char buf[100];

	ok(json_utf8_valid("", 0), "empty is valid");
	ok(json_utf8_valid(L("plain ascii that is longer than 16 bytes")),
	    "ascii");
	ok(json_utf8_valid(
	       L("\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee"
		 "\x80\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf")),
	    "every boundary");
	ok(json_utf8_valid(L("\0")), "NUL is valid utf-8");
	ok(!json_utf8_valid(L("\x80")), "continuation byte");
	ok(!json_utf8_valid(L("\xc0\xaf")), "overlong 2");
	ok(!json_utf8_valid(L("\xe0\x9f\xbf")), "overlong 3");
	ok(!json_utf8_valid(L("\xf0\x8f\xbf\xbf")), "overlong 4");
	ok(!json_utf8_valid(L("\xed\xa0\x80")), "surrogate");
	ok(!json_utf8_valid(L("\xf4\x90\x80\x80")), "above U+10FFFF");
	ok(!json_utf8_valid(L("\xf8\x88\x80\x80\x80")), "5-byte form");
	ok(!json_utf8_valid(L("\xe2\x82")), "truncated at the end");
	ok(!json_utf8_valid(L("\xe2\x82x")), "truncated before ascii");
	memset(buf, 'a', sizeof(buf));
	buf[37] = '\xff';
	ok(!json_utf8_valid(buf, sizeof(buf)), "bad byte after 32 good");
	buf[37] = 'a';
	ok(json_utf8_valid(buf, sizeof(buf)), "100 bytes of ascii");
	ok(!json_utf8_valid("\xc3\xa9", 1), "the length bounds the sequence");
}

static void
test_parse_next(void)
{
	/* Two pretty-printed values, as jq prints them, then whitespace. */
	const char *seq = "\n{\n  \"a\": [1, 2],\n  \"b\": \"x y\"\n}\n"
			  "[true]{}  \n";
	const char *p = seq;
	size_t n = strlen(seq), used;
	struct json_span v;
	struct json_error err;

	ok(json_parse_next(p, n, &v, &used, NULL) == 0 &&
		v.type == JSON_OBJECT && v.p == seq + 1 && v.n == 31 &&
		used == 33,
	    "the first value, its span and the whitespace after it");
	p += used;
	n -= used;
	ok(json_parse_next(p, n, &v, &used, NULL) == 0 &&
		v.type == JSON_ARRAY && v.n == 6 && used == 6,
	    "the next value starts right after the first");
	p += used;
	n -= used;
	ok(json_parse_next(p, n, &v, &used, NULL) == 0 && v.n == 2 && used == n,
	    "the last value takes the trailing whitespace");
	ok(json_parse_next(p + used, 0, &v, &used, &err) == -1 &&
		strcmp(err.msg, "empty input") == 0,
	    "nothing left: empty input");
	ok(json_parse_next(" \n", 2, &v, &used, &err) == -1 &&
		strcmp(err.msg, "no value") == 0,
	    "only whitespace left: no value");
	ok(json_parse_next("{\"a\":}", 7, &v, &used, &err) == -1 &&
		err.off == 5,
	    "a bad value fails where json_parse fails");
	ok(json_parse_next("1 2", 3, &v, &used, NULL) == 0 && v.n == 1 &&
		used == 2,
	    "a number ends at the whitespace");
	ok(json_parse("{} {}", 5, &v, NULL) == -1,
	    "json_parse still refuses a sequence");
}

static void
test_compact(void)
{
	const char *t = "{\n\t\"a b\" : [ 1 , 2.50e1 ],\r\n"
			"  \"s\": \" x\\\" \\u00e9 \\n\" , \"o\":{ } }";
	const char *want = "{\"a b\":[1,2.50e1],\"s\":\" x\\\" "
			   "\\u00e9 \\n\",\"o\":{}}";
	struct json_span v;
	char out[128];
	size_t n;

	ok(json_parse(t, strlen(t), &v, NULL) == 0, "compact: input parses");
	n = json_compact(v, out);
	is_mem(out, n, want, strlen(want),
	    "whitespace between tokens goes, strings and numbers stay");
	ok(json_parse(out, n, NULL, NULL) == 0, "the result is valid JSON");
	ok(json_parse("\"a \\\" }\"", 8, &v, NULL) == 0 &&
		json_compact(v, out) == 8 &&
		memcmp(out, "\"a \\\" }\"", 8) == 0,
	    "an escaped quote does not end a string");
}

static void
test_type_names(void)
{
	is_str(json_type_name(JSON_OBJECT), "object", "object name");
	is_str(json_type_name(JSON_ARRAY), "array", "array name");
	is_str(json_type_name(JSON_STRING), "string", "string name");
	is_str(json_type_name(JSON_NUMBER), "number", "number name");
	is_str(json_type_name(JSON_TRUE), "boolean", "true is a boolean");
	is_str(json_type_name(JSON_FALSE), "boolean", "false is a boolean");
	is_str(json_type_name(JSON_NULL), "null", "null name");
	is_str(json_type_name(JSON_NONE), "none", "none name");
}

int
main(void)
{
	test_cases();
	test_spans_and_errors();
	test_depth();
	test_iteration();
	test_skip_blocks();
	test_object_get();
	test_path_compile();
	test_path_get();
	test_unescape();
	test_str_decode();
	test_string_steps();
	test_decode_blocks();
	test_u_escape_at_block_end();
	test_parse_top();
	test_parse_top_sub();
	test_str_eq();
	test_numbers();
	test_escape();
	test_utf8();
	test_parse_next();
	test_compact();
	test_type_names();
	return tap_done();
}
