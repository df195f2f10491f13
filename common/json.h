/*
 * json.h - the streaming JSON scanner of the data plane.
 *
 * Validates RFC 8259 text, walks objects and arrays, finds a value by a
 * simple path, compares and unescapes strings.  It works on a byte span the
 * caller owns: it never allocates, never copies, and every span it returns
 * points into the caller's buffer and lives exactly as long as that buffer.
 * Nesting is bounded by JSON_MAX_DEPTH and handled without recursion, so no
 * input can overflow the stack.
 *
 * Functions named json_iter_*, json_path_get and json_str_* require a span
 * that json_parse() accepted (they do not re-check validity); everything
 * else accepts arbitrary bytes.
 */
#ifndef CLOSEHOOK_JSON_H
#define CLOSEHOOK_JSON_H

#include <stddef.h>
#include <stdint.h>

/*
 * jq 1.6 refuses nesting deeper than 256, counted as jq counts it: an open
 * array is one level, an open object with a member in progress two (jq
 * stacks the pending key), so 256 nested arrays pass and 257 fail, but
 * only 128 nested objects pass.  The scanner uses the same bound and count
 * so that both agree on validity (tests/fuzz/fuzz-json.c checks that).
 */
#define JSON_MAX_DEPTH 256

enum json_type {
	JSON_NONE = 0,
	JSON_OBJECT,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL
};

/* The raw bytes of one value; a string's span includes its quotes. */
struct json_span {
	const char *p;
	size_t n;
	enum json_type type;
};

struct json_error {
	size_t off; /* byte offset of the problem */
	const char *msg; /* static text, lowercase, e.g. "invalid escape" */
};

/*
 * Validate that [p, p+n) holds exactly one JSON value, optionally surrounded
 * by whitespace.  Returns 0 and sets *v to the value (whitespace trimmed), or
 * -1 and fills *err (err may be NULL).  Empty input is an error.
 */
int json_parse(
    const char *p, size_t n, struct json_span *v, struct json_error *err);

/*
 * One value of a sequence (values one after another, as jq prints them):
 * validate the value at the start of [p, p+n), after any whitespace, and
 * set *used to the bytes up to its end and the whitespace after it, where
 * the next value starts.  Returns 0, or -1 with *err filled as json_parse
 * does (at the end of the input: "no value" after whitespace, "empty
 * input" for none).
 */
int json_parse_next(const char *p, size_t n, struct json_span *v, size_t *used,
    struct json_error *err);

/*
 * json_parse, recording the members of a top-level object as it goes, so
 * that a caller needs no second walk over them.  The first max members go
 * to m[]; n counts them (n > max: there were more, not recorded).  The
 * string value of a member named lazy (a plain key; NULL for none) is
 * decoded into lazy_dst while it is validated, in one pass: lazy_dst must
 * have room for as many bytes as the text has.  lazy_found counts such
 * values; the last one's decoded length is lazy_n (lazy_crlf set when it
 * holds a CR or LF) and its span lazy_val.  utf8 says the text is known to
 * be valid UTF-8 (decoded from a JSON string, say): the parser may then
 * skip its own UTF-8 checks, with the same result; on text that is not,
 * the result is undefined.
 */
struct json_member {
	struct json_span key, val;
};

/*
 * A tape (json_top's tape, optional): every value of the document in
 * order, each with its key when it is an object's member, so that a walk
 * over it (flatten's) needs no second scan.  Offsets are from the
 * document's start.  The caller gives room for cap entries; a document
 * with more values (or longer than 4 GiB) leaves ok 0, and the walk goes
 * the lazy way instead.
 */
struct json_tape_ent {
	uint32_t off, n; /* the value */
	uint32_t koff, kn; /* its key, quotes included; kn 0: none */
	uint32_t next; /* the entry after the value and all it holds */
	uint32_t type; /* enum json_type, | JSON_TAPE_KPLAIN */
};
/* In a tape entry's type: its key is known to hold no escape. */
#define JSON_TAPE_KPLAIN 0x100u
struct json_tape {
	struct json_tape_ent *v;
	size_t cap;
	const char *base; /* out: the document */
	size_t n; /* out: entries */
	int ok; /* out: the whole document is on the tape */
};

struct json_top {
	struct json_member *m;
	size_t max;
	/*
	 * The members of the top-level member named sub (a plain key; NULL
	 * for none), when it is an object, recorded the same way: the first
	 * smax to sm[], sn counting them; sub_found counts such members (with
	 * several, sm[] holds the last one's).
	 */
	const char *sub;
	size_t subn;
	struct json_member *sm;
	size_t smax;
	size_t sn; /* out */
	int sub_found; /* out */
	const char *lazy;
	size_t lazyn;
	char *lazy_dst;
	int utf8;
	size_t n; /* out */
	int lazy_found; /* out */
	size_t lazy_n; /* out */
	int lazy_crlf; /* out */
	struct json_span lazy_val; /* out */
	struct json_tape *tape; /* or NULL */
};
int json_parse_top(const char *p, size_t n, struct json_span *v,
    struct json_top *top, struct json_error *err);

/* Name of a type for messages: "object", "array", "string", ... */
const char *json_type_name(enum json_type);

/*
 * Copy a validated value to dst without the whitespace between its tokens
 * (room for v.n bytes) and return the bytes written.  Strings, numbers and
 * member order stay as written: only insignificant bytes go.
 */
size_t json_compact(struct json_span v, char *dst);

/* Iteration over a validated object or array span. */
struct json_iter {
	const char *p;
	const char *end;
};

void json_iter_init(struct json_iter *, struct json_span container);
/* Next member of an object: 1 and key/val set, or 0 at the end. */
int json_iter_member(
    struct json_iter *, struct json_span *key, struct json_span *val);
/* Next element of an array: 1 and val set, or 0 at the end. */
int json_iter_elem(struct json_iter *, struct json_span *val);

/*
 * The same, without scanning a nested container twice (once to find its
 * end, once to walk it).  A member or element whose value is an object or
 * array comes back with only its start known (val->n == 0) and the
 * iterator left at it; the caller then either walks it with
 * json_iter_enter() and, once that iterator returned 0, json_iter_resume(),
 * or skips it with json_iter_skip(), which completes val.  Scalars come
 * back whole.  At the end the iterator stands past the closing bracket.
 * Start with json_iter_init_lazy() on a validated container.
 */
void json_iter_init_lazy(struct json_iter *, struct json_span container);
int json_iter_member_lazy(
    struct json_iter *, struct json_span *key, struct json_span *val);
int json_iter_elem_lazy(struct json_iter *, struct json_span *val);
void json_iter_enter(struct json_iter *child, const struct json_iter *parent);
void json_iter_resume(struct json_iter *parent, const struct json_iter *child);
void json_iter_skip(struct json_iter *, struct json_span *val);

/*
 * Find the member named key (n bytes, compared after unescaping) in a
 * validated object.  With duplicate keys the last one wins, as in jq.
 * Returns 1 and sets *val, or 0 when absent.
 */
int json_object_get(
    struct json_span obj, const char *key, size_t n, struct json_span *val);

/*
 * Simple paths: the jq expressions `.`, `.a`, `.a.b`, `."a.b"`, `.["a.b"]`,
 * `.a[0]`, `.a.b[2].c` - identifiers of [A-Za-z_][A-Za-z0-9_]*, quoted keys
 * with the escapes \" \\ \/ \b \f \n \r \t, and non-negative indexes.
 * json_path_compile returns 0 when expr is such a path, -1 otherwise (the
 * caller then runs it through libjq).
 */
#define JSON_PATH_MAX 16
#define JSON_PATH_KEYMAX 256

struct json_path_step {
	int is_index;
	size_t index;
	size_t keylen;
	char key[JSON_PATH_KEYMAX];
};

struct json_path {
	size_t nsteps;
	struct json_path_step step[JSON_PATH_MAX];
};

int json_path_compile(const char *expr, struct json_path *);

enum json_path_result {
	JSON_PATH_FOUND, /* *out is the value */
	JSON_PATH_NULL, /* jq's answer is null (missing key, null on
				   the way, index past the end) */
	JSON_PATH_TYPE /* jq would raise an error (indexing a string,
				   a number, ...): let jq produce it */
};

/* A member that is present and null is JSON_PATH_FOUND of type JSON_NULL. */
enum json_path_result json_path_get(
    const struct json_path *, struct json_span root, struct json_span *out);

/*
 * Strings (validated spans of type JSON_STRING, quotes included).
 * json_str_unescape writes the decoded bytes to dst, which must have room
 * for s.n bytes (decoding never grows), and returns their count.  An
 * escaped lone low surrogate (\udc00, which jq 1.6 accepts) decodes to
 * U+FFFD, as in jq; \u0000 decodes to a NUL byte.
 */
size_t json_str_unescape(struct json_span s, char *dst);
/*
 * Validate and decode a string span that was not validated (from its
 * opening quote to its closing one, both included).  Writes at most s.n
 * bytes to dst and returns their count, or -1 when the span is not exactly
 * one valid JSON string (bad escape, control byte, invalid UTF-8, no closing
 * quote, an unescaped quote before the end), with *err filled relative to
 * s.p when err is not NULL.
 */
long json_str_decode(struct json_span s, char *dst, struct json_error *err);
/* 1 when the decoded string equals lit[0..n), else 0. */
int json_str_eq(struct json_span s, const char *lit, size_t n);
/* The same, ASCII letters compared case-insensitively (header names). */
int json_str_eq_nocase(struct json_span s, const char *lit, size_t n);
/* 1 when the string's raw bytes hold no backslash escape. */
int json_str_plain(struct json_span s);

/*
 * Numbers (validated spans of type JSON_NUMBER).  json_num_i64 returns 0 and
 * sets *v when the literal is an integer without fraction or exponent that
 * fits int64_t, else -1.  json_num_double converts as strtod does.
 */
int json_num_i64(struct json_span s, int64_t *v);
double json_num_double(struct json_span s);

/* JSON-escape src[0..n) as string content (no quotes) into dst, which must
 * have room for 6*n bytes; returns the bytes written.  Valid UTF-8 passes
 * through; control characters become \n, \t, ... or \u00XX. */
size_t json_escape(const char *src, size_t n, char *dst);
/* How many bytes of src[0..n) json_escape escapes (quotes, backslashes,
 * control characters): its output is at most n + 5 times that. */
size_t json_escape_count(const char *src, size_t n);

/* 1 when [p, p+n) is well-formed UTF-8 (no overlongs, no surrogates, at
 * most U+10FFFF), else 0. */
int json_utf8_valid(const char *p, size_t n);

#endif
