/*
 * httpdump.h - raw HTTP/1.1 requests as tools save them: `nc -l > FILE`, a
 * proxy's "save request", tcpflow.  A dump holds requests one after another
 * (pipelined, or saved one after the other); each is a request line, header
 * fields, an empty line, and a body framed by Content-Length or by the
 * chunked transfer coding (RFC 9112).  Lines end in CRLF or a bare LF, and
 * empty lines before a request are skipped.
 *
 * The parser is strict wherever a lenient reading could frame the requests
 * differently from the server that received them: differing Content-Length
 * values, Content-Length beside Transfer-Encoding, a coding other than
 * chunked, a body with no length, a truncated body, a folded header line
 * (obs-fold), white space before a colon.  Each refusal says what is wrong
 * and names a line: the request line's, or the offending header's or chunk
 * size line's.  Chunk extensions and trailer fields are ignored.
 *
 * It is incremental: given the bytes read so far, httpdump_next returns a
 * request, asks for more bytes, or fails; parsing the same bytes in any
 * number of pieces gives the same result as parsing them at once.
 *
 * Ownership: the caller owns the bytes.  A request's method, target and
 * header spans point into them and stay valid while the caller keeps them
 * where they are; a Content-Length body points into them too.  A chunked
 * body is decoded into storage the struct httpdump owns, valid until the
 * next httpdump_next; httpdump_free releases it.  Nothing else is
 * allocated; out of memory is fatal (exit 2).
 */
#ifndef CLOSEHOOK_HTTPDUMP_H
#define CLOSEHOOK_HTTPDUMP_H

#include <stddef.h>
#include <stdint.h>

/* The request line and header fields, with their line ends, at most. */
#define HTTPDUMP_MAX_HEAD (64 * 1024)
#define HTTPDUMP_MAX_FIELDS 256
/* httpdump_resync: what it keeps of a line too long to hold. */
#define RESYNC_TAIL 8192

struct httpdump_field {
	const char *name;
	size_t namen;
	const char *val; /* trimmed of spaces and tabs */
	size_t valn;
	unsigned long line;
};

struct httpdump_req {
	unsigned long line; /* of the request line */
	const char *method;
	size_t methodn;
	const char *target; /* the request target as sent */
	size_t targetn;
	int minor; /* HTTP/1.minor: 0 or 1 */
	const struct httpdump_field *f;
	size_t nf;
	const char *body;
	size_t bodyn;
	int chunked; /* the body came chunked (and is decoded) */
	int status; /* HTTPDUMP_RESPONSE: its status code; method is NULL */
};

struct httpdump {
	size_t max_req; /* the largest request, as sent, in bytes */
	unsigned long line; /* the line number of the next byte given */
	int last_cl; /* the last request had a Content-Length body */
	struct httpdump_field f[HTTPDUMP_MAX_FIELDS];
	char *body; /* a chunked body, decoded */
	size_t bodycap;
	unsigned long errline; /* after HTTPDUMP_ERROR: where, */
	char err[192]; /* and what, lowercase, no final period */
	int midline; /* httpdump_resync: inside a line to skip */
};

enum httpdump_status {
	HTTPDUMP_ERROR = -1,
	HTTPDUMP_MORE = 0, /* not complete: more bytes are needed */
	HTTPDUMP_REQUEST = 1,
	HTTPDUMP_END = 2, /* at the end, nothing but white space was left */
	/*
	 * A response, framed as a request is (none of 1xx, 204 and 304 has a
	 * body): dumps of both directions hold them between the requests.
	 */
	HTTPDUMP_RESPONSE = 3
};

/* max_req bounds a request's bytes as sent; line numbers start at 1. */
void httpdump_init(struct httpdump *, size_t max_req);

/*
 * Parse the next request from p[0..n); eof says that nothing follows p + n.
 * *used is set to the bytes taken: a request's (HTTPDUMP_REQUEST) or a
 * response's (HTTPDUMP_RESPONSE), the
 * empty lines before an incomplete one (HTTPDUMP_MORE), all of them
 * (HTTPDUMP_END).  The caller drops those bytes and calls again with the
 * rest, after reading more on HTTPDUMP_MORE.  After HTTPDUMP_ERROR the
 * request's framing is lost: the caller skips to the next message with
 * httpdump_resync, given the same bytes.  HTTPDUMP_MORE never comes with
 * eof, and the bytes it leaves are
 * fewer than max_req + HTTPDUMP_MAX_HEAD (a request without a length is
 * complete only once the line after it shows that no body follows), so a
 * caller's buffer stays bounded.
 */
enum httpdump_status httpdump_next(struct httpdump *, const char *p, size_t n,
    int eof, struct httpdump_req *, size_t *used);

void httpdump_free(struct httpdump *);

/*
 * After HTTPDUMP_ERROR, with p at the failed request: skip its first line,
 * then every line up to the next message: a line that reads as a request
 * line or a status line (a response, which dumps of both directions hold),
 * or one glued to the end of a line (nc writes a request right after the
 * body before it): a request line with a known method, or a status line.
 * Lines are counted.
 * Returns HTTPDUMP_REQUEST with *used the bytes before that message (give
 * the rest to httpdump_next), or HTTPDUMP_MORE / HTTPDUMP_END with *used
 * the bytes skipped so far (call again with more bytes, or stop).  A line
 * longer than HTTPDUMP_MAX_HEAD is dropped as it comes but for its last
 * RESYNC_TAIL bytes, so the bytes kept stay bounded.  A request line
 * inside a body is taken for a request: the framing that would have told
 * is what failed.
 */
enum httpdump_status httpdump_resync(
    struct httpdump *, const char *p, size_t n, int eof, size_t *used);

/* Is [s, e) (no line end) an HTTP/1.x status line, "HTTP/1.1 200 OK"? */
int httpdump_status_line(const char *s, const char *e);

/*
 * A Content-Length value in s[0..n): one decimal number, or a list of
 * equal ones ("42, 42", which a proxy may make of repeated fields; RFC 9110
 * section 8.6).  Returns 0 and *v; -2 when the list's numbers differ; -1
 * when it is not such a value.  Also for HAR files (har.c).
 */
int httpdump_content_length(const char *s, size_t n, uint64_t *v);

/*
 * Where a header value v[0..n) holds a control character, which no HTTP
 * request can carry (a byte below 0x20 but tab, or DEL): its offset, or n
 * when there is none.  Also for capture's -H.
 */
size_t httpdump_value_ctl(const char *v, size_t n);

#endif
