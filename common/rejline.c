/*
 * rejline.c - reject lines; see rejline.h.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "rejline.h"

void
rejline_begin(
    struct out *o, const char *file, unsigned long line, const char *reason)
{
	char num[32];

	snprintf(num, sizeof(num), "{\"line\":%lu", line);
	out_write(o, num, strlen(num));
	rejline_str(o, "file", file, strlen(file));
	rejline_str(o, "reason", reason, strlen(reason));
}

static void
member(struct out *o, const char *name)
{
	out_write(o, ",\"", 2);
	out_write(o, name, strlen(name));
	out_write(o, "\":", 2);
}

void
rejline_str(struct out *o, const char *name, const char *s, size_t n)
{
	member(o, name);
	if (s == NULL)
		out_write(o, "null", 4);
	else
		out_json_str(o, s, n);
}

void
rejline_raw(struct out *o, const char *name, const char *json, size_t n)
{
	member(o, name);
	if (json == NULL)
		out_write(o, "null", 4);
	else
		out_write(o, json, n);
}

void
rejline_end(struct out *o, const char *file, unsigned long line)
{
	out_write(o, "}\n", 2);
	if (out_commit(o, 1) != 0)
		cli_fatalx("%s: %s; the reject of %s:%lu is not kept", o->name,
		    strerror(o->err), file, line);
}
