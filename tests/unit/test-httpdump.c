/*
 * test-httpdump.c - the raw HTTP request parser: framing by Content-Length
 * and chunked coding, CRLF and bare LF, several requests in a row, every
 * refusal with its line, and the same result whatever pieces the bytes
 * arrive in.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpdump.h"
#include "tap.h"

#define MAXREQ 4096

/* What a dump parses into: one text line per request, then the outcome. */
static char got[8192];

/* parse: read on after a failure (httpdump_resync), as capture does. */
static int resyncing;

/* Append to got, cut short when full (a big header is only a prefix). */
static void add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
add(const char *fmt, ...)
{
	size_t n = strlen(got);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(got + n, sizeof(got) - n, fmt, ap);
	va_end(ap);
}

static void
describe(const struct httpdump_req *r)
{
	size_t i;

	add("%lu %.*s %.*s 1.%d", r->line, (int)r->methodn, r->method,
	    (int)r->targetn, r->target, r->minor);
	for (i = 0; i < r->nf; i++)
		add(" [%.*s=%.*s]", (int)r->f[i].namen, r->f[i].name,
		    (int)r->f[i].valn, r->f[i].val);
	add(" <%.*s>\n", (int)r->bodyn, r->body);
}

/*
 * Parse text as closehook-capture does, reading it step bytes at a time
 * (0: all at once) into a buffer that keeps only what is not taken yet.
 * The requests and the outcome ("end", or "error LINE: MESSAGE") go to got.
 */
static const char *
parse(const char *text, size_t len, size_t step, size_t max_req)
{
	struct httpdump d;
	struct httpdump_req r;
	enum httpdump_status st;
	char *buf = malloc(len + 1);
	size_t have = 0, off = 0, given = 0, used, k;
	int skipping = 0;

	got[0] = '\0';
	httpdump_init(&d, max_req);
	for (;;) {
		k = step == 0 ? len - given : step;
		if (k > len - given)
			k = len - given;
		memcpy(buf + have, text + given, k);
		have += k;
		given += k;
		for (;;) {
			if (skipping) {
				st = httpdump_resync(&d, buf + off, have - off,
				    given == len, &used);
				off += used;
				if (st != HTTPDUMP_REQUEST)
					break;
				skipping = 0;
				add("resync %lu\n", d.line);
			}
			st = httpdump_next(
			    &d, buf + off, have - off, given == len, &r, &used);
			off += used;
			if (st == HTTPDUMP_RESPONSE)
				add("response %d\n", r.status);
			else if (st == HTTPDUMP_ERROR && resyncing) {
				add("error %lu: %s\n", d.errline, d.err);
				skipping = 1;
			} else if (st == HTTPDUMP_REQUEST)
				describe(&r);
			else
				break;
		}
		if (st == HTTPDUMP_END || st == HTTPDUMP_ERROR)
			break;
		if (given == len) {
			add("more at the end\n");
			break;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
		off = 0;
	}
	if (st == HTTPDUMP_END)
		add("end %lu", d.line);
	else if (st == HTTPDUMP_ERROR)
		add("error %lu: %s", d.errline, d.err);
	httpdump_free(&d);
	free(buf);
	return got;
}

/* The result at once, then the same in pieces of every size up to 7. */
static void
check(const char *what, const char *text, const char *want)
{
	char whole[8192];
	size_t step, len = strlen(text);
	int same = 1;

	snprintf(whole, sizeof(whole), "%s", parse(text, len, 0, MAXREQ));
	is_str(whole, want, "%s", what);
	for (step = 1; step <= 7; step++)
		if (strcmp(parse(text, len, step, MAXREQ), whole) != 0) {
			same = 0;
			printf("# in pieces of %zu: %s\n", step, got);
		}
	ok(same, "%s: the same in pieces of 1 to 7 bytes", what);
}

static void
framing(void)
{
	check("CRLF, Content-Length",
	    "POST /close?x=1 HTTP/1.1\r\nHost: h\r\nContent-Type:  a/b \t\r\n"
	    "Content-Length: 5\r\n\r\nhello",
	    "1 POST /close?x=1 1.1 [Host=h] [Content-Type=a/b] "
	    "[Content-Length=5] <hello>\nend 6");
	check("bare LF, HTTP/1.0", "POST / HTTP/1.0\nContent-Length: 3\n\na\nb",
	    "1 POST / 1.0 [Content-Length=3] <a\nb>\nend 5");
	check("two requests, blank lines and a trailing newline",
	    "\r\n\nPOST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\n1"
	    "POST /b HTTP/1.1\nContent-Length: 2\n\n22\r\n\r\n"
	    "POST /c HTTP/1.1\nContent-Length: 0\n\n\n",
	    "3 POST /a 1.1 [Content-Length=1] <1>\n"
	    "6 POST /b 1.1 [Content-Length=2] <22>\n"
	    "11 POST /c 1.1 [Content-Length=0] <>\nend 15");
	check("chunked: extensions, upper-case hex, trailers",
	    "POST /c HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
	    "4;name=\"v\"\r\nab\r\n\r\nA \r\n0123456789\r\n0\r\n"
	    "X-Trailer: t\r\n\r\n"
	    "GET /next HTTP/1.1\r\n\r\n",
	    "1 POST /c 1.1 [Transfer-Encoding=Chunked] <ab\r\n0123456789>\n"
	    "12 GET /next 1.1 <>\nend 14");
	check("chunked with bare LF and no trailers",
	    "POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n",
	    "1 POST / 1.1 [Transfer-Encoding=chunked] <abc>\nend 8");
	check("equal Content-Length values are one length",
	    "POST / HTTP/1.1\r\nContent-Length: 2, 2\r\ncontent-length: 2\r\n"
	    "\r\nok",
	    "1 POST / 1.1 [Content-Length=2, 2] [content-length=2] <ok>\n"
	    "end 5");
	check("no length: no body before the next request",
	    "GET / HTTP/1.1\r\nHost: h\r\n\r\n\r\nPOST / HTTP/1.1\r\n"
	    "Content-Length: 1\r\n\r\nx",
	    "1 GET / 1.1 [Host=h] <>\n5 POST / 1.1 [Content-Length=1] <x>\n"
	    "end 8");
	check("no length and nothing after: no body",
	    "POST /empty HTTP/1.1\r\n\r\n \n", "1 POST /empty 1.1 <>\nend 4");
	check("white space only", " \r\n\t\n", "end 3");
	check("empty input", "", "end 1");
	check("field values trimmed, empty value kept, obs-text kept",
	    "POST / HTTP/1.1\r\nX-Empty:\r\nX-Caf: caf\xe9 \r\n"
	    "Content-Length: 0\r\n\r\n",
	    "1 POST / 1.1 [X-Empty=] [X-Caf=caf\xe9] [Content-Length=0] <>\n"
	    "end 6");
}

static void
refusals(void)
{
	check("two different Content-Length headers",
	    "POST / HTTP/1.1\r\nContent-Length: 3\r\nHost: h\r\n"
	    "Content-Length: 4\r\n\r\nabcd",
	    "error 4: two different Content-Length values (3 and 4)");
	check("two different values in one Content-Length",
	    "POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\nabcd",
	    "error 2: two different Content-Length values in one header");
	check("a bad Content-Length",
	    "POST / HTTP/1.1\r\nContent-Length: 3x\r\n\r\nabc",
	    "error 2: invalid Content-Length value");
	check("a negative Content-Length",
	    "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\nabc",
	    "error 2: invalid Content-Length value");
	check("Transfer-Encoding beside Content-Length",
	    "POST / HTTP/1.1\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	    "error 3: both Transfer-Encoding and Content-Length: the body's "
	    "length is ambiguous");
	check("a coding other than chunked",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	    "error 2: unsupported Transfer-Encoding (only chunked is read)");
	check("a body without a length",
	    "POST /x HTTP/1.1\r\nHost: h\r\n\r\n{\"event\": {}}",
	    "error 1: a body without Content-Length or Transfer-Encoding: "
	    "chunked");
	check("a truncated body",
	    "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345",
	    "error 1: truncated body: Content-Length is 10, 5 bytes follow");
	check("a truncated chunked body",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
	    "error 1: truncated chunked body");
	check("a chunked body without its last chunk",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\nab\r\n",
	    "error 1: truncated chunked body");
	check("chunk data longer than its size",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\nabc\r\n0\r\n\r\n",
	    "error 4: chunk data not followed by a line end (is the chunk "
	    "size right?)");
	check("a bad chunk size",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\nab\r\nzz\r\n",
	    "error 6: invalid chunk size line");
	check("an obs-fold line",
	    "POST / HTTP/1.1\r\nX-A: one\r\n two\r\nContent-Length: 0\r\n\r\n",
	    "error 3: header line begins with white space (obs-fold: a "
	    "folded header is not accepted)");
	check("white space before the colon",
	    "POST / HTTP/1.1\r\nContent-Length : 0\r\n\r\n",
	    "error 2: white space between a header name and its colon");
	check("a header line without a colon",
	    "POST / HTTP/1.1\r\nHost h\r\n\r\n",
	    "error 2: header line without a colon");
	check("an empty header name", "POST / HTTP/1.1\r\n: v\r\n\r\n",
	    "error 2: header line with an empty name");
	check("a control character in a value",
	    "POST / HTTP/1.1\r\nX-A: a\rb\r\n\r\n",
	    "error 2: control character in the value of header X-A");
	check("not a request line", "hello world\r\n\r\n",
	    "error 1: not an HTTP/1.1 request line");
	check("HTTP/2", "POST / HTTP/2.0\r\n\r\n",
	    "error 1: unsupported HTTP version (only HTTP/1.0 and HTTP/1.1)");
	check("a body longer than its Content-Length",
	    "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nabc\r\n",
	    "1 POST / 1.1 [Content-Length=2] <ab>\n"
	    "error 4: not an HTTP/1.1 request line (is the Content-Length of "
	    "the request before it right?)");
	check("a truncated header section", "POST / HTTP/1.1\r\nHost: h\r\n",
	    "error 1: truncated header section (no empty line after it)");
	check("a truncated request line", "POST / HTTP/1.1",
	    "error 1: truncated header section (no empty line after it)");
	check("a truncated bad first line", "GARBAGE",
	    "error 1: not an HTTP/1.1 request line");
	check("the good request before a bad one is still returned",
	    "\nPOST /1 HTTP/1.1\r\nContent-Length: 1\r\n\r\n1\r\n"
	    "POST /2 HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
	    "2 POST /1 1.1 [Content-Length=1] <1>\n"
	    "error 8: header line begins with white space (obs-fold: a "
	    "folded header is not accepted)");
	check("white space inside a header name",
	    "POST / HTTP/1.1\r\nX Y: v\r\n\r\n",
	    "error 2: invalid character in a header name");
	check("a colon after white space",
	    "POST / HTTP/1.1\r\nHost \t: v\r\n\r\n",
	    "error 2: white space between a header name and its colon");
}

static void
bounds(void)
{
	char *t = malloc(80000), *u;
	size_t n, i;

	/* A header section of HTTPDUMP_MAX_HEAD bytes passes; one more not. */
	n = (size_t)sprintf(t, "POST / HTTP/1.1\r\nX-Big: ");
	memset(t + n, 'a', HTTPDUMP_MAX_HEAD - n - 4);
	n = HTTPDUMP_MAX_HEAD - 4;
	memcpy(t + n, "\r\n\r\n", 5);
	ok(strncmp(parse(t, strlen(t), 0, 1 << 20), "1 POST", 6) == 0,
	    "a header section of exactly %d bytes passes", HTTPDUMP_MAX_HEAD);
	memmove(t + 20, t + 19, strlen(t + 19) + 1);
	is_str(parse(t, strlen(t), 0, 1 << 20),
	    "error 1: header section longer than 65536 bytes",
	    "one byte more is refused");
	n = (size_t)sprintf(t, "POST / HTTP/1.1\r\nX-Big: ");
	memset(t + n, 'a', 70000);
	t[n + 70000] = '\0';
	is_str(parse(t, strlen(t), 4096, 1 << 20),
	    "error 1: header section longer than 65536 bytes",
	    "a header line that never ends is refused at the bound");

	/* HTTPDUMP_MAX_FIELDS fields pass; one more not. */
	n = (size_t)sprintf(t, "POST / HTTP/1.1\r\n");
	for (i = 0; i < HTTPDUMP_MAX_FIELDS; i++)
		n += (size_t)sprintf(t + n, "X-%zu: v\r\n", i);
	u = t + n;
	strcpy(u, "\r\n");
	ok(strncmp(parse(t, strlen(t), 0, 1 << 20), "1 POST", 6) == 0,
	    "%d header fields pass", HTTPDUMP_MAX_FIELDS);
	strcpy(u, "X-Last: v\r\n\r\n");
	is_str(parse(t, strlen(t), 0, 1 << 20),
	    "error 258: more than 256 header fields", "one more is refused");

	/* max_req bounds the request as sent. */
	strcpy(t, "POST / HTTP/1.1\r\nContent-Length: 60\r\n\r\n");
	memset(t + strlen(t), 'b', 60);
	t[39 + 60] = '\0';
	ok(strncmp(parse(t, strlen(t), 0, 99), "1 POST", 6) == 0,
	    "a request of exactly max_req bytes passes");
	is_str(parse(t, strlen(t), 0, 98),
	    "error 1: request larger than 98 bytes",
	    "one byte less of max_req refuses it");
	strcpy(t, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < 20; i++)
		strcat(t, "5\r\nhello\r\n");
	strcat(t, "0\r\n\r\n");
	ok(strncmp(parse(t, strlen(t), 0, 4096), "1 POST", 6) == 0,
	    "a chunked request within max_req passes");
	is_str(parse(t, strlen(t), 3, 100),
	    "error 1: request larger than 100 bytes",
	    "a chunked one past max_req is refused, in pieces too");
	strcpy(t,
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "ffffffffffffffffffff\r\n");
	is_str(parse(t, strlen(t), 0, 4096),
	    "error 1: request larger than 4096 bytes",
	    "a huge chunk size does not overflow");
	free(t);
}

/*
 * Reading on after a failure, as closehook-capture --http does: the same
 * requests, responses, failures and lines in any pieces.
 */
static void
resync(void)
{
	char *big;
	size_t n;

	resyncing = 1;
	check("a refused request, then requests glued to bodies",
	    "POST /a HTTP/1.1\r\nHost: a\r\n folded\r\nContent-Length: 2\r\n"
	    "\r\n{}POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
	    "error 3: header line begins with white space (obs-fold: a folded "
	    "header is not accepted)\nresync 6\n6 POST /b 1.1 "
	    "[Content-Length=2] <{}>\nend 9");
	check("garbage before a request on its line, a response, a bodyless "
	      "request",
	    "\x16\x03\x01garbagePOST /c HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
	    "HTTP/1.1 204 No Content\r\n\r\nGET /d HTTP/1.1\r\nHost: h\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	    "error 1: not an HTTP/1.1 request line\nresync 1\n1 POST /c 1.1 "
	    "[Content-Length=0] <>\nresponse 204\n6 GET /d 1.1 [Host=h] <>\n"
	    "response 200\nend 12");
	check("Expect: 100-continue: the interim response before the body",
	    "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
	    "\r\nHTTP/1.1 100 Continue\r\n\r\n{}",
	    "1 POST /e 1.1 [Expect=100-continue] [Content-Length=2] <{}>\n"
	    "end 7");
	check("a body starting as a status line is a body without Expect",
	    "POST /g HTTP/1.1\r\nContent-Length: 12\r\n\r\nHTTP/1.1 100",
	    "1 POST /g 1.1 [Content-Length=12] <HTTP/1.1 100>\nend 4");
	/* A line longer than a header section, a request glued to its end:
	 * found from the tail kept of it, in any pieces. */
	n = HTTPDUMP_MAX_HEAD + 5000;
	big = malloc(n + 200);
	memcpy(big, "junk\r\n", 6);
	memset(big + 6, 'x', n);
	snprintf(big + 6 + n, 200, "%s",
	    "POST /e HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
	check("a long line, a request glued to its end", big,
	    "error 1: not an HTTP/1.1 request line\nresync 2\n2 POST /e 1.1 "
	    "[Content-Length=2] <{}>\nend 5");
	free(big);
	resyncing = 0;
}

int
main(void)
{
	framing();
	refusals();
	bounds();
	resync();
	return tap_done();
}
