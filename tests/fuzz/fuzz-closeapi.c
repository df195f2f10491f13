/*
 * fuzz-closeapi.c - libFuzzer target for what closeapi makes of an answer
 * body: the Event Log page parser and Close's error text.  Any bytes are
 * handled without a crash; spans stay inside the input; every element of
 * an accepted page is an object; the error text is printable and bounded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "closeapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
inside(struct json_span s, const char *p, size_t n)
{
	if (s.type != JSON_NONE && (s.p < p || s.p + s.n > p + n))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *why = NULL;
	struct closeapi_page pg;
	struct json_iter it;
	struct json_span e;
	char text[128], q[256] = "";
	size_t i, l;

	if (closeapi_page_parse(p, size, &pg, &why) == 0) {
		if (pg.data.type != JSON_ARRAY)
			abort();
		inside(pg.data, p, size);
		inside(pg.cursor_next, p, size);
		if (pg.cursor_next.type != JSON_NONE &&
		    pg.cursor_next.type != JSON_NULL &&
		    pg.cursor_next.type != JSON_STRING)
			abort();
		json_iter_init(&it, pg.data);
		while (json_iter_elem(&it, &e)) {
			inside(e, p, size);
			if (e.type != JSON_OBJECT)
				abort();
		}
	} else if (why == NULL)
		abort();
	closeapi_error_text(p, size, text, sizeof(text));
	l = strlen(text);
	if (l >= sizeof(text))
		abort();
	for (i = 0; i < l; i++)
		if ((unsigned char)text[i] < 0x20)
			abort();
	/* The query encoder on the input as a value: bounded, or refused. */
	if (size < 200) {
		char v[200];

		memcpy(v, p, size);
		v[size] = '\0';
		if (closeapi_query_add(q, sizeof(q), "_cursor", v) == 0 &&
		    strlen(q) >= sizeof(q))
			abort();
	}
	return 0;
}
