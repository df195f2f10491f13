/*
 * test-evrec.c - event records, bare events and Event Log pages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evrec.h"
#include "tap.h"

/*
 * All records of a line, written as NDJSON into a string, by evrec_parse
 * (from the members its parse recorded) or by json_parse and evrec_begin.
 */
static char *
records_by(const char *line, enum evrec_kind *kind, int by_parse)
{
	static char buf[4096];
	struct json_span root;
	struct evrec_iter it;
	struct evrec r;
	struct out o;
	int p[2];
	ssize_t n;

	if (by_parse) {
		if (evrec_parse(&it, line, strlen(line), NULL) != 0)
			return NULL;
	} else {
		if (json_parse(line, strlen(line), &root, NULL) != 0)
			return NULL;
		evrec_begin(&it, root);
	}
	if (pipe(p) != 0)
		abort();
	out_init(&o, p[1], "pipe");
	*kind = it.kind;
	while (evrec_next(&it, &r)) {
		size_t before = o.len;

		evrec_write(&o, &r);
		if (o.len - before != evrec_len(&r))
			return "length mismatch";
		out_putc(&o, '\n');
	}
	out_close(&o);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

/* Both ways must agree; returns their records. */
static char *
records(const char *line, enum evrec_kind *kind)
{
	static char first[4096];
	enum evrec_kind k2;
	char *a = records_by(line, kind, 1), *b;

	if (a == NULL)
		return NULL;
	snprintf(first, sizeof(first), "%s", a);
	b = records_by(line, &k2, 0);
	if (b == NULL || strcmp(first, b) != 0 || k2 != *kind)
		return "evrec_parse and evrec_begin differ";
	return first;
}

int
main(void)
{
	enum evrec_kind k;

	is_str(records("{\"subscription_id\":\"whsub_1\",\"event\":{\"id\":1}}",
	    &k), "{\"subscription_id\":\"whsub_1\",\"event\":{\"id\":1}}\n",
	    "an event record passes as it is");
	is_int(k, EVREC_RECORD, "classified as a record");
	is_str(records("{\"object_type\":\"lead\",\"action\":\"created\","
	    "\"data\":{\"a\":1}}", &k),
	    "{\"subscription_id\":null,\"event\":{\"object_type\":\"lead\","
	    "\"action\":\"created\",\"data\":{\"a\":1}}}\n",
	    "a bare event is wrapped");
	is_int(k, EVREC_BARE, "classified as bare");
	is_str(records("{\"data\":[{\"id\":1}, {\"id\":2}],"
	    "\"cursor_next\":null,\"cursor_previous\":null}", &k),
	    "{\"subscription_id\":null,\"event\":{\"id\":1}}\n"
	    "{\"subscription_id\":null,\"event\":{\"id\":2}}\n",
	    "a page gives one wrapped record per element");
	is_int(k, EVREC_PAGE, "classified as a page");
	is_str(records("{\"data\":[],\"cursor_next\":\"x\"}", &k), "",
	    "an empty page gives no records");
	is_str(records("{\"a\":{\"b\":1}}", &k), "{\"a\":{\"b\":1}}\n",
	    "any other object passes as it is");
	is_int(k, EVREC_OTHER, "classified as other");
	is_str(records("[1,2]", &k), "[1,2]\n", "so does an array");
	is_str(records("{\"event\":\"x\",\"object_type\":\"a\",\"action\":"
	    "\"b\"}", &k), "{\"subscription_id\":null,\"event\":{\"event\":\"x\","
	    "\"object_type\":\"a\",\"action\":\"b\"}}\n",
	    "an event member that is not an object does not make a record");
	is_str(records("{\"event\":{\"id\":1},\"event\":{\"id\":2}}", &k),
	    "{\"event\":{\"id\":1},\"event\":{\"id\":2}}\n",
	    "duplicate event members: the record passes as it is");
	is_int(k, EVREC_RECORD, "and is a record");
	is_str(records("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,"
		       "\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"k\":11,\"l\":12,"
		       "\"m\":13,\"n\":14,\"o\":15,\"p\":16,\"object_type\":"
		       "\"x\",\"action\":\"y\"}",
		   &k),
	    "{\"subscription_id\":null,\"event\":{\"a\":1,\"b\":2,\"c\":3,"
	    "\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,"
	    "\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,\"p\":16,"
	    "\"object_type\":\"x\",\"action\":\"y\"}}\n",
	    "more members than the parse records: classified by a walk");
	is_int(k, EVREC_BARE, "as a bare event");
	ok(records("{\"event\":", &k) == NULL, "a line that is not JSON fails");
	{
		char dst[64];
		size_t n = evrec_wrap(dst, "{\"id\":1}", 8);

		is_int((long)n, (long)evrec_wrapped_len(8),
		    "evrec_wrap writes evrec_wrapped_len bytes");
		dst[n] = '\0';
		is_str(dst, "{\"subscription_id\":null,\"event\":{\"id\":1}}",
		    "evrec_wrap: the wrapper around the event");
	}
	{
		struct out o;

		out_init(&o, -1, "mem");
		evrec_write_event(&o, "{\"a\":\r\n1,\n\"b\":2}", 16);
		o.buf[o.len] = '\0';
		is_str(o.buf,
		    "{\"subscription_id\":null,\"event\":{\"a\":  1, \"b\":2}}",
		    "evrec_write_event: wrapped, CR and LF become spaces");
		free(o.buf);
	}
	return tap_done();
}
