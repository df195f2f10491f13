/*
 * test-evrec.c - event records, bare events and Event Log pages.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evrec.h"
#include "tap.h"

/* All records of a line, written as NDJSON into a string. */
static char *
records(const char *line, enum evrec_kind *kind)
{
	static char buf[4096];
	struct json_span root;
	struct evrec_iter it;
	struct evrec r;
	struct out o;
	int p[2];
	ssize_t n;

	if (json_parse(line, strlen(line), &root, NULL) != 0)
		return NULL;
	if (pipe(p) != 0)
		abort();
	out_init(&o, p[1], "pipe");
	evrec_begin(&it, root);
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
	return tap_done();
}
