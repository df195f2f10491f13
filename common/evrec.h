/*
 * evrec.h - reading event records (DESIGN.md section 2) from a parsed line.
 *
 * A line holds one of:
 *   an event record  {"subscription_id":…, "event":{…}}   - one record, as is
 *   a bare event     {"object_type":…, "action":…, …}     - one record, wrapped
 *   an Event Log page {"data":[…], "cursor_next":…}       - one wrapped record
 *                                                           per element
 *   any other JSON value                                  - one record, as is
 * "Wrapped" means read as {"subscription_id":null,"event":<the event>}.
 * Spans point into the caller's line; nothing is allocated.  This module
 * is the one place that spells the wrapper: every program that writes a
 * wrapped record (dedupe, flatten, backfill) writes it through here.
 */
#ifndef CLOSEHOOK_EVREC_H
#define CLOSEHOOK_EVREC_H

#include "json.h"
#include "out.h"

enum evrec_kind {
	EVREC_OTHER, /* not recognisably an event: used as it is */
	EVREC_RECORD, /* an event record */
	EVREC_BARE, /* a bare event */
	EVREC_PAGE /* an Event Log page */
};

/* The members of an event evrec_parse recorded while validating it. */
#define EVREC_MEMBERS 48

struct evrec {
	struct json_span whole; /* the record as is (unwrapped kinds) */
	struct json_span event; /* the event object, or JSON_NONE */
	int wrapped; /* 1: the record is the wrapped event */
	/* The event's members in order, when the parse recorded them all
	 * (NULL: walk event instead). */
	const struct json_member *em;
	size_t emn;
};

struct evrec_iter {
	enum evrec_kind kind;
	struct json_span root;
	struct json_span event; /* RECORD: the "event" member */
	struct json_iter it;
	int done;
	struct json_member em[EVREC_MEMBERS]; /* see struct evrec */
	size_t emn;
	int have_em;
};

/* Begin on a validated value. */
void evrec_begin(struct evrec_iter *, struct json_span root);
/*
 * Validate a line (json_parse) and begin on it, classifying it from the
 * members the parse recorded rather than by walking them again.  0, or -1
 * with *err filled (the line is not JSON).
 */
int evrec_parse(
    struct evrec_iter *, const char *p, size_t n, struct json_error *err);
/* The same, also putting every value of the line on tape (json.h). */
int evrec_parse_tape(struct evrec_iter *, const char *p, size_t n,
    struct json_error *err, struct json_tape *tape);
/* Next record of the line: 1 and *r set, or 0 when there are no more. */
int evrec_next(struct evrec_iter *, struct evrec *r);
/* The record's bytes without newline: as is, or wrapped. */
int evrec_write(struct out *, const struct evrec *);
/* Its length in bytes as evrec_write writes it. */
size_t evrec_len(const struct evrec *);
/* The length of a wrapped event of n bytes. */
size_t evrec_wrapped_len(size_t n);
/* Write the wrapped event[0..n) into dst (evrec_wrapped_len(n) bytes). */
size_t evrec_wrap(char *dst, const char *event, size_t n);
/*
 * Write a bare event (an Event Log element) as a wrapped record, without
 * newline; the CR and LF bytes in it (JSON whitespace there) become spaces,
 * so that the record fits one line.
 */
int evrec_write_event(struct out *, const char *p, size_t n);

#endif
