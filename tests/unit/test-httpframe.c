/*
 * test-httpframe.c - request framing: heads that are framed one way only
 * pass with their body's delimitation, the smuggling shapes and malformed
 * heads get the status RFC 9112 asks for.
 */
#include <stdint.h>
#include <string.h>

#include "httpframe.h"
#include "tap.h"

/*
 * Check a head written as "METHOD TARGET VERSION|Name: value|...": the
 * request line, then one field line per "|"-separated piece.
 */
static int
check(const char *head, struct httpframe *f)
{
	const char *line = head, *end, *sp1, *sp2, *colon;
	size_t n;

	end = strchr(line, '|');
	n = end != NULL ? (size_t)(end - line) : strlen(line);
	sp1 = memchr(line, ' ', n);
	sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - line))
			  : NULL;
	if (sp2 == NULL)
		return -1;
	httpframe_start(f, line, (size_t)(sp1 - line), sp1 + 1,
	    (size_t)(sp2 - sp1 - 1), sp2 + 1, n - (size_t)(sp2 + 1 - line));
	while (end != NULL) {
		line = end + 1;
		end = strchr(line, '|');
		n = end != NULL ? (size_t)(end - line) : strlen(line);
		colon = memchr(line, ':', n);
		if (colon == NULL)
			return -1;
		httpframe_field(f, line, (size_t)(colon - line), colon + 1,
		    n - (size_t)(colon + 1 - line));
	}
	return httpframe_end(f);
}

int
main(void)
{
	static const struct {
		const char *head;
		int status;
		enum httpframe_body body;
		uint64_t length;
	} cases[] = {
		/* Well framed. */
		{ "POST / HTTP/1.1|Host: x|Content-Length: 2", 0,
		    HTTPFRAME_LENGTH, 2 },
		{ "POST /?a=1 HTTP/1.1|host:x|content-length:0", 0,
		    HTTPFRAME_LENGTH, 0 },
		{ "POST / HTTP/1.1|Host: x|Transfer-Encoding: chunked", 0,
		    HTTPFRAME_CHUNKED, 0 },
		{ "POST / HTTP/1.1|Host: x|TRANSFER-ENCODING: Chunked", 0,
		    HTTPFRAME_CHUNKED, 0 },
		{ "GET /healthz HTTP/1.1|Host: 127.0.0.1:8080", 0,
		    HTTPFRAME_NONE, 0 },
		{ "GET / HTTP/1.1|Host: [::1]:80", 0, HTTPFRAME_NONE, 0 },
		{ "GET / HTTP/1.1|Host: ", 0, HTTPFRAME_NONE, 0 },
		{ "GET / HTTP/1.1|Host: hooks.example.com", 0, HTTPFRAME_NONE,
		    0 },
		{ "POST / HTTP/1.0|Content-Length: 5", 0, HTTPFRAME_LENGTH, 5 },
		{ "POST / HTTP/1.1|Host: x|Content-Length: "
		  "18446744073709551615",
		    0, HTTPFRAME_LENGTH, UINT64_MAX },
		{ "M-SEARCH * HTTP/1.1|Host: x", 0, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|X-Obs: caf\xc3\xa9\tok", 0,
		    HTTPFRAME_NONE, 0 },
		/* The request line. */
		{ "P(ST / HTTP/1.1|Host: x", 400, HTTPFRAME_NONE, 0 },
		{ "POST /a\x01 HTTP/1.1|Host: x", 400, HTTPFRAME_NONE, 0 },
		{ "POST /caf\xc3\xa9 HTTP/1.1|Host: x", 400, HTTPFRAME_NONE,
		    0 },
		{ "POST / HTTP/2.0|Host: x", 505, HTTPFRAME_NONE, 0 },
		{ "POST / http/1.1|Host: x", 505, HTTPFRAME_NONE, 0 },
		/* Host (RFC 9112 section 3.2). */
		{ "POST / HTTP/1.1|Content-Length: 0", 400, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Host: y", 400, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Host: x", 400, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: a b", 400, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x:80a", 400, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: a/b", 400, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: [::1", 400, HTTPFRAME_NONE, 0 },
		/* Content-Length (section 6.3). */
		{ "POST / HTTP/1.1|Host: x|Content-Length: 2|Content-Length: 3",
		    400, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Content-Length: 2|Content-Length: 2",
		    400, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Content-Length: 2, 3", 400,
		    HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Content-Length: -1", 400,
		    HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Content-Length: +1", 400,
		    HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Content-Length: ", 400,
		    HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Content-Length: "
		  "18446744073709551616",
		    413, HTTPFRAME_NONE, 0 },
		/* Transfer-Encoding (section 6.1). */
		{ "POST / HTTP/1.1|Host: x|Transfer-Encoding: gzip", 400,
		    HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Transfer-Encoding: gzip, chunked",
		    501, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Transfer-Encoding: gzip|"
		  "Transfer-Encoding: chunked",
		    501, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Transfer-Encoding: chunked, gzip",
		    400, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Transfer-Encoding: chunked, chunked",
		    400, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Transfer-Encoding: chunked|"
		  "Transfer-Encoding: chunked",
		    400, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Transfer-Encoding: chunked;q=1", 400,
		    HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Transfer-Encoding: ", 400,
		    HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Transfer-Encoding: ,", 400,
		    HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Transfer-Encoding: chunked|"
		  "Content-Length: 3",
		    400, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.0|Transfer-Encoding: chunked", 400,
		    HTTPFRAME_NONE, 0 },
		/* libmicrohttpd would not read these as chunked. */
		{ "POST / HTTP/1.1|Host: x|Transfer-Encoding: chunked ", 400,
		    HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Transfer-Encoding: ,chunked", 400,
		    HTTPFRAME_NONE, 0 },
		/* Field names and values (RFC 9112 5.1, RFC 9110 5.5). */
		{ "POST / HTTP/1.1|Host: x|Content-Length : 5", 400,
		    HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|Bad Header: 1", 400, HTTPFRAME_NONE,
		    0 },
		{ "POST / HTTP/1.1|Host: x|: 1", 400, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|X: a\rb", 400, HTTPFRAME_NONE, 0 },
		{ "POST / HTTP/1.1|Host: x|X: a\x7f", 400, HTTPFRAME_NONE, 0 },
	};
	struct httpframe f;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = check(cases[i].head, &f);

		is_int(st, cases[i].status, "status: %s", cases[i].head);
		is_int(f.body, cases[i].body, "body: %s", cases[i].head);
		if (cases[i].body == HTTPFRAME_LENGTH)
			ok(f.length == cases[i].length, "length: %s",
			    cases[i].head);
		ok((st == 0) == (f.why == NULL), "a reason iff refused: %s",
		    cases[i].head);
	}
	check(
	    "POST / HTTP/1.1|Host: x|Content-Length: 2|Content-Length: 3", &f);
	is_str(f.why, "more than one Content-Length", "the reason says why");
	check("POST / HTTP/1.1|Host: x|Transfer-Encoding: gzip, chunked", &f);
	is_str(f.why, "unsupported transfer coding", "and for 501");
	return tap_done();
}
