/*
 * httpframe.h - is a request's head framed so that every reader agrees
 * where its body ends?  The checks a server makes on the request line and
 * header fields before it reads a body (RFC 9112 sections 3, 5 and 6; RFC
 * 9110 section 5.5): the method a token, the target printable, one Host,
 * at most one Content-Length and that one digits only, Transfer-Encoding
 * never beside Content-Length and ending in chunked, header names tokens
 * and no control bytes in values.  Two readers that disagree on these are
 * the shape of request smuggling.
 *
 * Where libmicrohttpd 0.9.75 reads the framing its own way, the checks are
 * stricter than the RFC, so that what they accept it frames the same way:
 * it takes a body as chunked only when its first Transfer-Encoding line is
 * exactly "chunked", so anything else that ends in chunked is refused.
 *
 * Pure: no allocation, no I/O.  The caller owns every string; none needs
 * a terminating NUL.  Use: httpframe_start, then httpframe_field for each
 * header field line in order (a repeated name once per line), then
 * httpframe_end.
 */
#ifndef CLOSEHOOK_HTTPFRAME_H
#define CLOSEHOOK_HTTPFRAME_H

#include <stddef.h>
#include <stdint.h>

/* How the body is delimited, once httpframe_end said 0. */
enum httpframe_body {
	HTTPFRAME_NONE, /* no body */
	HTTPFRAME_LENGTH, /* Content-Length: length bytes */
	HTTPFRAME_CHUNKED /* chunked transfer coding */
};

struct httpframe {
	/* Results, valid after httpframe_end. */
	int status; /* 0: well framed; else 400, 413, 501 or 505 */
	const char *why; /* static reason when status is not 0 */
	enum httpframe_body body;
	uint64_t length; /* with HTTPFRAME_LENGTH */
	/* Private. */
	int http10; /* HTTP/1.0: no Host needed, no Transfer-Encoding */
	unsigned hosts, lengths, tes; /* lines of each */
	int te_exact; /* the first Transfer-Encoding line is "chunked" */
	unsigned te_codings, te_chunked; /* codings listed, chunked ones */
	int te_last_chunked; /* the last coding listed is chunked */
	int te_other; /* a coding other than chunked was listed */
	int te_bad; /* a list that is not a list of codings */
};

/*
 * Begin with the request line's method, target and version ("HTTP/1.1").
 * Refused: a method that is not a token (400), an empty target or one with
 * bytes other than visible ASCII (400), a version other than HTTP/1.x
 * (505).
 */
void httpframe_start(struct httpframe *, const char *method, size_t methodn,
    const char *target, size_t targetn, const char *version, size_t versionn);

/* One header field line, as name and value (leading white space or not). */
void httpframe_field(struct httpframe *, const char *name, size_t namen,
    const char *val, size_t valn);

/* Decide; returns f->status (0 or the status code to answer with). */
int httpframe_end(struct httpframe *);

#endif
