/*
 * capture.h - reading capture records (DESIGN.md section 2): what arrived
 * over HTTP, as closehook-receive writes it and closehook-verify reads it.
 *
 *   {"received_at":…, "remote_addr":…, "method":…, "path":…,
 *    "headers":{"close-sig-hash":…, …}, "body":"…" | "body_base64":"…"}
 *
 * Only `headers` and one body field are required.  Header names match
 * case-insensitively; a header value is a string, or an array whose first
 * element is that string (some capture tools keep repeated headers as
 * arrays).
 * When a name occurs twice the last one wins, as for JSON keys in jq.
 *
 * All spans point into the caller's line buffer; nothing is allocated.
 *
 * Writing (closehook-receive, closehook-capture): capture_write formats one
 * capture line into a buffer the caller sizes with capture_write_bound;
 * nothing is allocated.  A struct capture_hdrs builds its header list from
 * fields as they come; it owns the storage of the values it joins, and
 * points to the caller's names and values otherwise.
 */
#ifndef CLOSEHOOK_CAPTURE_H
#define CLOSEHOOK_CAPTURE_H

#include <stddef.h>

#include "json.h"

struct capture {
	struct json_span root; /* the whole capture object */
	struct json_span headers; /* the headers object */
	struct json_span body; /* string span of the body */
	struct json_span received_at; /* string span, or JSON_NONE */
	int body_base64; /* body came as body_base64 */
	size_t body_n; /* body: its decoded length (in capture_parse's buf) */
	int body_crlf; /* body: the decoded bytes hold a CR or LF */
};

/*
 * Parse and validate one capture line.  A text body is decoded into buf as
 * it is validated (buf: room for n bytes), so capture_body then has nothing
 * left to do for it.  Returns 0, or -1 with a short static reason in *why
 * ("not valid JSON", "not a JSON object", "missing headers", "missing
 * body", ...).
 */
int capture_parse(
    const char *p, size_t n, struct capture *, char *buf, const char **why);

/*
 * Look up a header by name (ASCII, matched case-insensitively).  Returns 1
 * and sets *val to its span, a string or a number (a timestamp some tools
 * write as one), or 0 when absent or of another type.
 */
int
capture_header(const struct capture *, const char *name, struct json_span *val);

/*
 * Several headers in one walk over the headers object: bit i of the
 * result set, and vals[i], as capture_header(names[i]) would give them.
 * Distinct names, at most CAPTURE_HEADERS_MAX.
 */
#define CAPTURE_HEADERS_MAX 16
unsigned capture_headers(const struct capture *, const char *const *names,
    size_t n, struct json_span *vals);

/*
 * The body's bytes in buf, the buffer given to capture_parse: a text body
 * is there already; body_base64 is decoded into it.  Returns the length,
 * or -1 when body_base64 is not valid base64 (standard alphabet, padded or
 * not; CR and LF ignored).
 */
long capture_body(const struct capture *, char *buf);

/* One header as received; the writer lower-cases the name. */
struct capture_hdr {
	const char *name;
	size_t namen;
	const char *val;
	size_t valn;
};

/* What the writer puts before the headers; NULL fields are left out. */
struct capture_meta {
	const char *received_at; /* RFC 3339 text */
	const char *remote_addr;
	const char *method;
	const char *path;
	size_t pathn;
};

/*
 * An upper bound of the bytes capture_write writes for these inputs (it
 * reads the body once, so the bound stays close to the body's size).
 */
size_t capture_write_bound(const struct capture_meta *,
    const struct capture_hdr *, size_t nh, const char *body, size_t bodyn);

/*
 * Write one capture line, ended by a newline, into dst (room for
 * capture_write_bound bytes) and return its length.  Header names are
 * lower-cased; the caller joins repeated headers (the reader keeps only the
 * last).  Strings that are not UTF-8 keep each byte above 0x7f as the code
 * point of the same value (Latin-1, as HTTP's obs-text), so the line is
 * valid JSON; the body is written as "body" when it is UTF-8 and as
 * "body_base64" (standard alphabet, padded) otherwise, so its bytes survive
 * exactly.
 */
size_t capture_write(char *dst, const struct capture_meta *,
    const struct capture_hdr *, size_t nh, const char *body, size_t bodyn);

/*
 * A header list built field by field (a raw request, a HAR entry, -H
 * options), for capture_write.  capture_hdrs_add trims the value of spaces
 * and tabs at both ends and keeps pointers to the caller's bytes, which
 * must stay valid until the list has been written.  capture_hdrs_join then
 * joins each repeated name (ASCII case ignored) into its first occurrence,
 * values in order separated by ", " (RFC 9110 section 5.3), as
 * closehook-receive does: a reader keeps only the last of repeated names,
 * so writing them apart would lose all but one.  h[0..n) is then the list
 * to write; joined values live in storage the list owns until the next
 * reset or free.  Out of memory is fatal (exit 2).
 */
struct capture_hdrs {
	struct capture_hdr *h;
	size_t n;
	size_t cap; /* of h */
	char *join; /* the joined values */
	size_t joincap;
};

void capture_hdrs_init(struct capture_hdrs *);
/* Empty the list, keeping its storage for the next one. */
void capture_hdrs_reset(struct capture_hdrs *);
void capture_hdrs_add(struct capture_hdrs *, const char *name, size_t namen,
    const char *val, size_t valn);
void capture_hdrs_join(struct capture_hdrs *);
void capture_hdrs_free(struct capture_hdrs *);

#endif
