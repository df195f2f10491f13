/*
 * rejline.h - one reject line of a --rejects file, the same shape in
 * every program:
 *
 *	{"line":N,"file":"NAME","reason":"REASON",...,"capture":...}
 *
 * rejline_begin() writes the opening members, the program adds its own
 * (rejline_str, rejline_raw), and rejline_end() closes the line and makes
 * it durable at once (out_commit with a sync): rejects are rare, and a
 * reject that cannot be kept leaves its line unhandled, so the program
 * stops (exit 2, naming the file) and nothing counts the line as done.
 */
#ifndef CLOSEHOOK_REJLINE_H
#define CLOSEHOOK_REJLINE_H

#include <stddef.h>

#include "out.h"

void rejline_begin(
    struct out *, const char *file, unsigned long line, const char *reason);
/* ,"name":"s" (escaped), or ,"name":null when s is NULL. */
void rejline_str(struct out *, const char *name, const char *s, size_t n);
/* ,"name":JSON as is, or ,"name":null when json is NULL. */
void rejline_raw(struct out *, const char *name, const char *json, size_t n);
/* } and a newline, committed and synced; exits 2 when it cannot be. */
void rejline_end(struct out *, const char *file, unsigned long line);

#endif
