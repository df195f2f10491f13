/*
 * flat.h - flattening JSON objects into rows of key/value pairs.
 *
 * A row is built from validated json_spans (json_parse() accepted them):
 * object keys are joined with a separator, arrays give 0-based index keys
 * (or stay one JSON value), null, {} and [] are kept as values, and
 * subtrees deeper than a maximum depth stay one JSON value.  The walk is
 * iterative with a heap stack, so no input depth can overflow the C stack.
 *
 * Ownership: a struct flat_row owns its key and scratch buffers.  Values
 * point either into the caller's input (which must outlive the row until
 * the next flat_row_reset) or into the row's scratch (rewritten dates).
 * Keys are stored decoded (UTF-8, no JSON escapes).
 *
 * Collisions: when two leaves produce the same key (a literal "custom.cf_x"
 * key beside a nested "custom": {"cf_x": ...}, or a duplicate key), the
 * later value in document order replaces the earlier one at the earlier
 * one's position - as jq and Miller treat duplicate keys.  With sql_names,
 * distinct keys that map to the same SQL name get suffixes _2, _3, ...
 */
#ifndef CLOSEHOOK_FLAT_H
#define CLOSEHOOK_FLAT_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "out.h"

enum flat_dates {
	FLAT_DATES_KEEP,
	FLAT_DATES_UTC, /* RFC 3339 UTC text ending in Z */
	FLAT_DATES_EPOCH /* Unix seconds, fraction as written */
};

/* Custom field ids (cf_...) to names, for --fields-map. */
struct flat_map;

struct flat_opts {
	const char *sep; /* key separator, default "." */
	size_t sepn;
	int arrays_json; /* arrays stay one JSON value */
	unsigned max_depth; /* 0: unlimited */
	enum flat_dates dates; /* applied to string leaves */
	int sql_names; /* [a-z0-9_] names */
	const struct flat_map *map; /* may be NULL */
};

/* How a value is written: as its JSON text, or as rewritten text. */
struct flat_pair {
	size_t koff, klen; /* flat key in row->keys */
	size_t noff, nlen; /* output name in row->keys */
	const char *v; /* JSON text (input bytes) ... */
	size_t voff; /* ... or, when v is NULL, scratch */
	size_t vn;
	enum json_type vt;
	uint32_t khash, nhash;
	int32_t knext, nnext; /* hash chains, -1 ends */
	int nesc; /* the name may hold bytes JSON must escape */
};

struct flat_undo {
	size_t idx;
	const char *v;
	size_t voff, vn;
	enum json_type vt;
};

struct flat_row {
	const struct flat_opts *o;
	char *keys; /* flat keys and names, decoded */
	size_t keysn, keyscap;
	char *scratch; /* rewritten values */
	size_t scrn, scrcap;
	struct flat_pair *pair;
	size_t n, cap;
	int32_t *kht, *nht; /* hash heads, size htcap */
	size_t htcap;
	struct flat_undo *undo; /* replaced values since the mark */
	size_t nundo, undocap;
	size_t mark; /* pairs below it are "base" pairs */
	size_t mark_keysn, mark_scrn;
	unsigned long collisions; /* keys produced twice, ever */
	char first_collision[128];
	/* --sql-names: distinct keys given one name (a suffix added), ever;
	 * the first two such keys and their name. */
	unsigned long sql_clashes;
	char first_clash[3][96];
	/* The walk's stack, kept to avoid reallocating per record. */
	void *stack;
	size_t stackcap;
	char *kb, *cb; /* the key being built, a component */
	size_t kbcap, cbcap;
	/*
	 * The tape of the line being flattened (json.h), or NULL: flat_add
	 * walks a value that lies on it from the tape, without scanning.
	 * The caller sets it for the line it parsed onto it, and clears it
	 * before the buffer holds another.
	 */
	const struct json_tape *tape;
};

/* Defaults: ".", index keys, unlimited depth, dates kept, names as is. */
void flat_opts_init(struct flat_opts *);

void flat_row_init(struct flat_row *, const struct flat_opts *);
void flat_row_free(struct flat_row *);
/* Empty the row (keeps its buffers). */
void flat_row_reset(struct flat_row *);

/*
 * Flatten v into the row under prefix (prefixn bytes, decoded; empty for
 * the top level).  A scalar, {} or [] becomes one pair named prefix (an
 * empty prefix names it "value").  When skip is not NULL, the member or
 * element whose value starts at skip is left out (for --explode).
 */
void flat_add(struct flat_row *, const char *prefix, size_t prefixn,
    struct json_span v, const char *skip);

/*
 * Add one leaf named key[0..kn) whose JSON text json[0..n) (of type t) is
 * copied into the row: for values that do not come from a json_span, such
 * as a jq program's results.  Dates are applied as for flat_add.
 */
void flat_add_text(struct flat_row *, const char *key, size_t kn,
    const char *json, size_t n, enum json_type t);
/*
 * One decoded key part c[0..n) as flat_add writes it (--fields-map
 * applied) into dst, which must have room for flat_key_part_room(o, n)
 * bytes; returns the bytes written.
 */
size_t
flat_key_part(const struct flat_opts *, const char *c, size_t n, char *dst);
size_t flat_key_part_room(const struct flat_opts *, size_t n);

/*
 * Explode support: flat_row_mark() remembers the row as it is;
 * flat_row_rewind() returns to that state, undoing later pairs and
 * replacements.
 */
void flat_row_mark(struct flat_row *);
void flat_row_rewind(struct flat_row *);

/* The pair named name (output name), or NULL. */
const struct flat_pair *
flat_row_get(const struct flat_row *, const char *name, size_t n);
/* A pair's value bytes (JSON text). */
const char *flat_val(const struct flat_row *, const struct flat_pair *);
/* A pair's output name. */
static inline const char *
flat_name(const struct flat_row *r, const struct flat_pair *p)
{
	return r->keys + p->noff;
}

/* Write the row as one NDJSON object line. */
int flat_write_ndjson(struct out *, const struct flat_row *);

/*
 * One CSV (RFC 4180, tsv == 0) or TSV (tsv == 1) field: p is NULL or a
 * null value for an empty (NULL) field; strings are unescaped, quoted
 * when needed (an empty string is "" in CSV, so PostgreSQL tells it from
 * NULL); containers are their JSON text.
 */
int flat_write_field(
    struct out *, const struct flat_row *, const struct flat_pair *p, int tsv);
/* A name (header cell) as a field. */
int flat_write_text_field(struct out *, const char *s, size_t n, int tsv);

/*
 * What a value p of the row holds that a CSV or TSV field cannot carry to
 * PostgreSQL: a U+0000 (FLAT_TEXT_NUL; text columns cannot hold it, and
 * COPY ends the value there), a line that is \. alone in a multi-line
 * string (FLAT_TEXT_ENDMARK; psql's \copy takes it for the end of the
 * data even inside a quoted CSV field).  0 for neither.
 */
#define FLAT_TEXT_NUL 1
#define FLAT_TEXT_ENDMARK 2
int flat_text_check(const struct flat_row *, const struct flat_pair *p);

/*
 * Rewrite every ISO-8601 date-time string value (not keys) of the
 * validated span v as dates says, appending the new JSON text to *buf
 * (growing it); returns the new text's length.  Used before jq programs.
 */
size_t flat_rewrite_dates(
    struct json_span v, enum flat_dates dates, char **buf, size_t *cap);

/*
 * Custom field names: from the validated JSON text of a list of
 * {"id": "cf_...", "name": "..."} objects.  Returns NULL with *why set
 * when the shape is wrong.
 */
struct flat_map *flat_map_new(struct json_span list, const char **why);
void flat_map_free(struct flat_map *);
/* The name for id, or NULL. */
const char *
flat_map_get(const struct flat_map *, const char *id, size_t n, size_t *namen);

/* The SQL name of key: lower-case [a-z0-9_], at most 63 bytes. */
size_t flat_sql_name(const char *key, size_t n, char *dst);

#endif
