/*
 * har.h - HAR 1.2 archives (browser devtools, mitmproxy, Charles, ngrok
 * exports): the POST requests among log.entries[], one at a time, as the
 * parts of a capture.
 *
 * The document is validated whole by the project's scanner (json.h), then
 * walked entry by entry.  For each entry whose request.method is "POST",
 * har_next gives its startedDateTime as UTC text with microseconds (the
 * form of closehook-receive's received_at), the path and query of
 * request.url, request.headers (HTTP/2 pseudo-headers such as ":authority"
 * left out), and postData.text decoded, from base64 when postData.encoding
 * is "base64".  Entries with another method are skipped and counted.  A bad
 * entry is reported with its line and index, and the walk goes on.
 *
 * Ownership: the caller owns the document's bytes and keeps them until
 * har_free.  An entry's strings are decoded into storage the struct har
 * owns, valid until the next har_next; har_free releases it.  Out of memory
 * is fatal (exit 2).
 */
#ifndef CLOSEHOOK_HAR_H
#define CLOSEHOOK_HAR_H

#include <stddef.h>

#include "json.h"

#define HAR_MAX_HEADERS 256

struct har_hdr {
	const char *name;
	size_t namen;
	const char *val;
	size_t valn;
};

struct har_entry {
	unsigned long line; /* of the entry's opening brace */
	size_t index; /* in log.entries, from 0 */
	char received_at[40]; /* "2026-11-26T16:54:45.123000Z" */
	const char *path; /* path and query of request.url */
	size_t pathn;
	const struct har_hdr *h; /* names and values as in the file */
	size_t nh;
	const char *body;
	size_t bodyn;
};

struct har {
	const char *doc;
	size_t n;
	struct json_iter it; /* over log.entries */
	size_t index; /* of the next entry */
	const char *linep; /* line counting: up to here, */
	unsigned long line; /* this many lines */
	unsigned long nskipped; /* entries that are not POST requests */
	char *buf; /* an entry's decoded strings */
	size_t cap;
	struct har_hdr h[HAR_MAX_HEADERS];
	unsigned long errline; /* after -1: where, */
	char err[192]; /* and what, lowercase, no final period */
};

/*
 * Validate the document p[0..n) and find log.entries.  Returns 0, or -1
 * with errline and err set (not JSON, not a HAR archive).
 */
int har_open(struct har *, const char *p, size_t n);

/*
 * The next POST entry: 1 and *e filled, 0 at the end, or -1 for a bad
 * entry (errline and err set); after -1 the next call goes on with the
 * entry after it.
 */
int har_next(struct har *, struct har_entry *e);

void har_free(struct har *);

#endif
