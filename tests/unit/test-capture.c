/*
 * test-capture.c - the capture reader: required fields, header lookup,
 * body decoding.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "capture.h"
#include "tap.h"

static const char *why;
/* capture_parse decodes a text body here; capture_body reads it back. */
static char pbuf[8192];

static int
parse(const char *s, struct capture *c)
{
	why = NULL;
	if (strlen(s) > sizeof(pbuf))
		abort();
	return capture_parse(s, strlen(s), c, pbuf, &why);
}

static void
header_is(
    struct capture *c, const char *name, const char *want, const char *desc)
{
	struct json_span v;
	char buf[256];
	size_t n;

	if (!capture_header(c, name, &v)) {
		ok(want == NULL, "%s", desc);
		return;
	}
	n = json_str_unescape(v, buf);
	is_mem(buf, n, want ? want : "(absent)", want ? strlen(want) : 8, "%s",
	    desc);
}

static void
body_is(struct capture *c, const char *want, const char *desc)
{
	long n = capture_body(c, pbuf);

	if (want == NULL)
		is_int(n, -1, "%s", desc);
	else
		is_mem(pbuf, n < 0 ? 0 : (size_t)n, want, strlen(want), "%s",
		    desc);
}

/* What capture_body gave before its fast path: libsodium alone. */
static long
sodium_only(const char *b64, size_t n, char *out)
{
	const char *end;
	size_t bin;

	memcpy(out, b64, n);
	if (sodium_base642bin((unsigned char *)out, n, out, n, "\r\n", &bin,
		&end, sodium_base64_VARIANT_ORIGINAL) == 0 &&
	    end == out + n)
		return (long)bin;
	memcpy(out, b64, n);
	if (sodium_base642bin((unsigned char *)out, n, out, n, "\r\n", &bin,
		&end, sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0 &&
	    end == out + n)
		return (long)bin;
	return -1;
}

/*
 * The fast path for padded base64 gives what libsodium gives, on the
 * encodings of 0..99 random bytes and on each of them with one character
 * replaced, a pad moved or dropped, or a line break put in.
 */
static void
base64_same(void)
{
	static const char alt[] = "A/+=\n$-_aZ9";
	char raw[100], b64[200], line[400], want[200];
	struct capture c;
	size_t len, n, k, bad = 0, tried = 0;
	long got, exp;

	for (len = 0; len < 100; len++) {
		randombytes_buf(raw, len);
		sodium_bin2base64(b64, sizeof(b64), (unsigned char *)raw, len,
		    sodium_base64_VARIANT_ORIGINAL);
		n = strlen(b64);
		for (k = 0; k <= n * (sizeof(alt) - 1); k++) {
			char t[200];

			memcpy(t, b64, n + 1);
			if (k > 0) {
				/* Position k / |alt|, replacement k % |alt|. */
				size_t at = (k - 1) / (sizeof(alt) - 1);

				t[at] = alt[(k - 1) % (sizeof(alt) - 1)];
				if (t[at] == '\n') {
					memmove(t + at + 1, t + at, n - at + 1);
					t[at] = '\\';
					t[at + 1] = 'n';
				}
			}
			snprintf(line, sizeof(line),
			    "{\"headers\":{},\"body_base64\":\"%s\"}", t);
			if (parse(line, &c) != 0) {
				bad++;
				continue;
			}
			got = capture_body(&c, pbuf);
			/* The string as JSON decodes it. */
			{
				char dec[200];
				size_t dn = json_str_unescape(c.body, dec);

				exp = sodium_only(dec, dn, want);
			}
			tried++;
			if (got != exp ||
			    (got > 0 && memcmp(pbuf, want, (size_t)got) != 0))
				bad++;
		}
	}
	is_int((long)bad, 0,
	    "base64: the fast path agrees with libsodium (%zu strings)", tried);
}

int
main(void)
{
	struct capture c;

	if (sodium_init() < 0)
		return 1;
	is_int(
	    parse(
		"{\"headers\":{\"Close-Sig-Hash\":\"ab\","
		"\"close-sig-timestamp\":\"12\"},\"body\":\"{\\\"a\\\": 1}\"}",
		&c),
	    0, "a capture parses");
	header_is(&c, "close-sig-hash", "ab", "header names match any case");
	header_is(&c, "CLOSE-SIG-TIMESTAMP", "12", "in either direction");
	header_is(&c, "content-type", NULL, "an absent header is absent");
	body_is(&c, "{\"a\": 1}", "the body is unescaped");
	ok(!c.body_base64, "not base64");
	ok(!c.body_crlf, "and holds no CR or LF");

	/* The body is decoded while the line is parsed: every path. */
	is_int(parse("{\"headers\":{},\"body\":\"{\\n}\"}", &c), 0,
	    "a body with an escaped newline");
	ok(c.body_crlf, "is flagged as holding one");
	is_int(parse("{\"headers\":{},\"body\":\"{\\u000d}\"}", &c), 0,
	    "a \\u000d escape");
	ok(c.body_crlf, "too");
	is_int(parse("{\"headers\":{},\"body\":\"{\\q}\"}", &c), -1,
	    "a bad escape in the body");
	is_str(why, "not valid JSON", "is not valid JSON");
	is_int(parse("{\"headers\":{},\"body\":\"a\tb\"}", &c), -1,
	    "a raw tab in the body");
	is_str(why, "not valid JSON", "is not valid JSON");
	is_int(parse("{\"headers\":{},\"body\":\"caf\xc3\"}", &c), -1,
	    "invalid UTF-8 in the body");
	is_int(
	    parse("{\"body\":\"\\q\"}", &c), -1, "a bad body and no headers");
	is_str(why, "not valid JSON", "is not valid JSON first");
	is_int(parse("{\"headers\":{},\"body\":\"{1}\",\"body\":\"{2}\"}", &c),
	    0, "two bodies");
	body_is(&c, "{2}", "the last one wins");
	is_int(parse("{\"headers\":{},\"bod\\u0079\":\"{\\\"e\\\":1}\"}", &c),
	    0, "a body under an escaped key");
	body_is(&c, "{\"e\":1}", "is decoded too");
	is_int(parse("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,"
		     "\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,"
		     "\"m\":13,\"n\":14,\"o\":15,\"p\":16,\"headers\":{\"x\":"
		     "\"y\"},\"body\":\"{\\\"z\\\":0}\"}",
		   &c),
	    0, "more members than the parse records");
	header_is(&c, "x", "y", "its headers are found by a walk");
	body_is(&c, "{\"z\":0}", "and its body");

	is_int(
	    parse("{\"headers\":{\"x\":\"1\",\"X\":\"2\"},\"body\":\"\"}", &c),
	    0, "an empty body is a body");
	header_is(&c, "x", "2", "the last of duplicate headers wins");
	body_is(&c, "", "empty body");

	is_int(parse("{\"headers\":{\"x\":[\"a\",\"b\"],\"y\":[],\"z\":5,"
		     "\"t\":true},"
		     "\"body_base64\":\"eyJhIjoxfQ==\"}",
		   &c),
	    0, "base64 capture");
	header_is(&c, "x", "a", "an array header gives its first value");
	header_is(&c, "y", NULL, "an empty array is absent");
	{
		struct json_span v;

		ok(capture_header(&c, "z", &v) && v.type == JSON_NUMBER &&
			v.n == 1 && v.p[0] == '5',
		    "a number is a header value (a timestamp written as one)");
	}
	header_is(&c, "t", NULL, "true is not a header value");
	{
		static const char *const names[] = { "t", "Z", "w", "x", "y" };
		struct json_span v[5];

		is_int(capture_headers(&c, names, 5, v), 2 | 8,
		    "several headers in one walk: the same as one by one");
		ok(v[1].type == JSON_NUMBER && v[3].n == 3 &&
			memcmp(v[3].p, "\"a\"", 3) == 0,
		    "with the same values");
	}
	ok(c.body_base64, "flagged base64");
	body_is(&c, "{\"a\":1}", "base64 is decoded");
	is_int(parse("{\"headers\":{\"a\":\"1\",\"b\":\"2\",\"A\":[],"
		     "\"B\":\"3\"},\"body\":\"\"}",
		   &c),
	    0, "repeated headers");
	{
		static const char *const names[] = { "a", "b" };
		struct json_span v[2];

		ok(capture_headers(&c, names, 2, v) == 2 && v[1].n == 3 &&
			v[1].p[1] == '3',
		    "the last of each wins, an empty array unsets");
	}

	parse("{\"headers\":{},\"body_base64\":\"eyJhIjoxfQ\"}", &c);
	body_is(&c, "{\"a\":1}", "unpadded base64 is decoded");
	parse("{\"headers\":{},\"body_base64\":\"eyJh\\nIjoxfQ==\"}", &c);
	body_is(&c, "{\"a\":1}", "line breaks in base64 are ignored");
	parse("{\"headers\":{},\"body_base64\":\"e$$\"}", &c);
	body_is(&c, NULL, "invalid base64 is an error");

	is_int(parse("", &c), -1, "empty line");
	is_str(why, "not valid JSON", "empty: not valid JSON");
	is_int(parse("{\"headers\":{}", &c), -1, "truncated");
	is_str(why, "not valid JSON", "truncated: not valid JSON");
	is_int(parse("[]", &c), -1, "array");
	is_str(why, "not a JSON object", "array: not an object");
	is_int(parse("{\"body\":\"\"}", &c), -1, "no headers");
	is_str(why, "missing headers", "no headers: named");
	is_int(parse("{\"subscription_id\":null,\"event\":{}}", &c), -1,
	    "an event record");
	is_str(why,
	    "missing headers: an event record (verified already?), not a "
	    "capture",
	    "an event record: named as one");
	is_int(parse("{\"reason\":\"no-key\",\"capture\":{}}", &c), -1,
	    "a rejects line");
	is_str(why,
	    "missing headers: a rejects line, whose capture closehook-capture "
	    "--json takes out",
	    "a rejects line: named, with the way to its capture");
	is_int(
	    parse("{\"headers\":[],\"body\":\"\"}", &c), -1, "headers array");
	is_str(why, "headers is not an object", "headers array: named");
	is_int(parse("{\"headers\":{}}", &c), -1, "no body");
	is_str(why, "missing body", "no body: named");
	is_int(parse("{\"headers\":{},\"body\":null}", &c), -1, "null body");
	is_str(why, "body is not a string", "null body: named");
	is_int(parse("{\"headers\":{},\"body\":\"\",\"body_base64\":\"\"}", &c),
	    -1, "two bodies");
	is_str(why, "both body and body_base64", "two bodies: named");
	base64_same();
	return tap_done();
}
