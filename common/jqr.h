/*
 * jqr.h - the jq runner: user programs (--body, --key, -e, --select, ...)
 * compiled once by libjq 1.6 at start-up and run per record, plus kind-safe
 * helpers for the jv values they produce.
 *
 * Ownership follows libjq: every jv passed by value is consumed.  The
 * helpers named jvh_*_borrow do not consume their argument.  Messages
 * returned through `char **err` are malloc'd and belong to the caller.
 */
#ifndef CLOSEHOOK_JQR_H
#define CLOSEHOOK_JQR_H

#include <stddef.h>

#include <jv.h>

struct jqr;

/*
 * Compile prog, with defs (jq `def`s, may be NULL) placed before it.
 * Returns the runner, or NULL with jq's compile message in *err.
 */
struct jqr *jqr_new(const char *prog, const char *defs, char **err);
void jqr_free(struct jqr *);

/*
 * Run the program on input (consumed).  cb is called with each result
 * (consumed by cb) and returns 0 to continue or -1 to stop.  Returns the
 * number of results, or -1 with jq's runtime error in *err.
 */
typedef int jqr_cb(void *arg, jv result);
long jqr_run(struct jqr *, jv input, jqr_cb *cb, void *arg, char **err);

/*
 * Is any result neither false nor null (a record jq's select(EXPR) keeps)?
 * 1 yes (the run stops there), 0 no, -1 with jq's runtime error in *err
 * when it failed before such a result.
 */
int jqr_any(struct jqr *, jv input, char **err);
/*
 * For a program that must give one value: returns its first result
 * (owned), jv_invalid() when there was none, or jv_invalid() with *err set
 * on a runtime error; *several is set when it gives more than one (the
 * run stops at the second).
 */
jv jqr_one(struct jqr *, jv input, int *several, char **err);

/*
 * Parse one JSON text; jv_invalid_with_msg on failure.  Text the scanner
 * accepts is built from its spans (faster than libjq's parser, same value);
 * the rest is left to libjq.
 */
jv jqr_parse(const char *p, size_t n);
/* The jv of a span json_parse() accepted. */
struct json_span;
jv jqr_from_span(struct json_span v);

/* Compact JSON text of v (consumed), malloc'd and NUL-terminated. */
char *jvh_dump(jv v, size_t *len);
/* The text of an error value (consumed): a string, or its JSON. */
char *jvh_errmsg(jv msg);
/* 1 when v is of kind k, without consuming v. */
int jvh_is_borrow(jv v, jv_kind k);
/*
 * The member key of obj when obj is an object, else jv_null(); obj is
 * borrowed, the result owned.
 */
jv jvh_get_borrow(jv obj, const char *key);

#endif
