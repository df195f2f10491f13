/*
 * jtree.h - JSON values as a small tree that can be built, changed and
 * written out the way Close writes its webhook bodies: Python's
 * json.dumps with its defaults (", " and ": " between items, members in
 * insertion order, every character outside printable ASCII as a \uXXXX
 * escape, astral characters as surrogate pairs).
 *
 * The data plane never builds trees (DESIGN.md section 3); this is for
 * programs that make JSON rather than pass it on (closehook-trigger's
 * sample events).  Every node is malloc'd and owned by its parent; a root
 * is owned by the caller, who releases it with jt_free().  A value given
 * to jt_set() or jt_push() becomes the container's.  Out of memory is
 * fatal (exit 2).  Strings hold UTF-8 bytes with their length (a NUL byte
 * may be among them); numbers hold their literal text.
 */
#ifndef CLOSEHOOK_JTREE_H
#define CLOSEHOOK_JTREE_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

enum jt_kind {
	JT_NULL,
	JT_FALSE,
	JT_TRUE,
	JT_NUM,
	JT_STR,
	JT_ARR,
	JT_OBJ
};

struct jt;

struct jt_member {
	char *key;
	size_t keyn;
	struct jt *val;
};

struct jt {
	enum jt_kind kind;
	char *s; /* JT_STR: the bytes; JT_NUM: the literal */
	size_t n;
	struct jt **elem; /* JT_ARR */
	struct jt_member *mem; /* JT_OBJ */
	size_t len, cap; /* elements or members */
};

/* A growable output buffer; p is NUL-terminated after each write. */
struct jt_buf {
	char *p;
	size_t n, cap;
};

struct jt *jt_null(void);
struct jt *jt_bool(int);
struct jt *jt_int(int64_t);
/* A number from its literal, which must be valid JSON number text. */
struct jt *jt_num(const char *lit, size_t n);
/* Money as Python prints a float rounded to cents: 12.5, 100.0, 0.07. */
struct jt *jt_cents(int64_t cents);
struct jt *jt_str(const char *);
struct jt *jt_strn(const char *, size_t);
struct jt *jt_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
struct jt *jt_arr(void);
struct jt *jt_obj(void);

void jt_free(struct jt *);
struct jt *jt_copy(const struct jt *);

/* Append v to an array. */
void jt_push(struct jt *arr, struct jt *v);
/*
 * Set member key of an object to v: an existing member keeps its place
 * and its old value is freed (as assigning to a Python dict does), a new
 * one goes last.
 */
void jt_set(struct jt *obj, const char *key, struct jt *v);
void jt_setn(struct jt *obj, const char *key, size_t keyn, struct jt *v);
/* The member's value, or NULL when absent (or obj is not an object). */
struct jt *jt_get(const struct jt *obj, const char *key);
struct jt *jt_getn(const struct jt *obj, const char *key, size_t keyn);
/* Remove a member (nothing when absent). */
void jt_del(struct jt *obj, const char *key);

/*
 * Equality as jq and Python see it: numbers by value, objects regardless
 * of member order.
 */
int jt_equal(const struct jt *, const struct jt *);

/*
 * A tree from a value the scanner validated (json_parse): strings are
 * unescaped, numbers made what Python's json.loads would make of them
 * (an integer stays as written, minus a sign on zero; other numbers are
 * floats, written as Python's repr writes them), duplicate keys resolved
 * as json.loads does (the last value, at the first key's place).
 */
struct jt *jt_from_json(struct json_span);

/* Append v as Python's json.dumps(v) would write it. */
void jt_dump(struct jt_buf *, const struct jt *v);

void jt_buf_add(struct jt_buf *, const void *, size_t);
void jt_buf_free(struct jt_buf *);

#endif
