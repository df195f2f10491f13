/*
 * test-flat.c - the flattening core: keys, values, depth, collisions,
 * explode marks, SQL names, fields maps, CSV/TSV fields, date rewriting.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flat.h"
#include "tap.h"

static struct flat_opts o;
static struct flat_row row;

/* Capture what a function writes through a struct out. */
static struct out cap;
static char capbuf[1 << 16];
static FILE *capf;

static void
cap_begin(void)
{
	capf = tmpfile();
	if (capf == NULL)
		abort();
	out_init(&cap, fileno(capf), "tmp");
}

static const char *
cap_end(void)
{
	size_t n;

	out_flush(&cap);
	rewind(capf);
	n = fread(capbuf, 1, sizeof(capbuf) - 1, capf);
	capbuf[n] = '\0';
	free(cap.buf);
	fclose(capf);
	return capbuf;
}

static const char *
flat(const char *json)
{
	struct json_span v;

	if (json_parse(json, strlen(json), &v, NULL) != 0)
		return "(invalid)";
	flat_row_reset(&row);
	flat_add(&row, "", 0, v, NULL);
	cap_begin();
	flat_write_ndjson(&cap, &row);
	return cap_end();
}

static const char *
csv(const char *json, int tsv)
{
	struct json_span v;
	size_t i;

	if (json_parse(json, strlen(json), &v, NULL) != 0)
		return "(invalid)";
	flat_row_reset(&row);
	flat_add(&row, "", 0, v, NULL);
	cap_begin();
	for (i = 0; i < row.n; i++) {
		if (i > 0)
			out_putc(&cap, '|');
		flat_write_field(&cap, &row, &row.pair[i], tsv);
	}
	return cap_end();
}

int
main(void)
{
	struct json_span v, arr;
	struct flat_map *m;
	const struct flat_pair *p;
	const char *why, *s;
	char buf[128], *rw = NULL;
	size_t n, rwcap = 0;
	char *deep;
	int i;

	flat_opts_init(&o);
	flat_row_init(&row, &o);

	is_str(flat("{\"a\":{\"b\":1,\"c\":[true,{\"d\":null}]}}"),
	    "{\"a.b\":1,\"a.c.0\":true,\"a.c.1.d\":null}\n", "nesting");
	is_str(flat("{\"a\":{},\"b\":[ ],\"c\":{\"d\":{ }}}"),
	    "{\"a\":{},\"b\":[],\"c.d\":{}}\n", "empties kept");
	is_str(flat("{\"x\":1e5,\"y\":-0.10,\"z\":\"\\u00e9\"}"),
	    "{\"x\":1e5,\"y\":-0.10,\"z\":\"\\u00e9\"}\n", "literal bytes");
	is_str(flat("{\"k\\n\\\"\":{\"\\u00e9\":1}}"),
	    "{\"k\\n\\\".\xc3\xa9\":1}\n", "keys decoded, escaped again");
	is_str(flat("[1,[2]]"), "{\"0\":1,\"1.0\":2}\n", "a top-level array");
	is_str(flat("\"s\""), "{\"value\":\"s\"}\n", "a scalar");

	o.sep = "::";
	o.sepn = 2;
	is_str(flat("{\"a\":{\"b\":[1]}}"), "{\"a::b::0\":1}\n", "--sep");
	o.sep = ".";
	o.sepn = 1;
	o.arrays_json = 1;
	is_str(flat("{\"a\":{\"b\":[1, 2]}}"), "{\"a.b\":[1, 2]}\n",
	    "arrays as JSON");
	o.arrays_json = 0;
	o.max_depth = 2;
	is_str(flat("{\"a\":{\"b\":{\"c\":1}},\"d\":1}"),
	    "{\"a.b\":{\"c\":1},\"d\":1}\n", "max depth 2");
	o.max_depth = 0;

	/* Collisions: later value, first position, counted. */
	row.collisions = 0;
	is_str(flat("{\"a.b\":1,\"c\":2,\"a\":{\"b\":3}}"),
	    "{\"a.b\":3,\"c\":2}\n", "collision: later value wins");
	is_int(row.collisions, 1, "collision counted");
	is_str(row.first_collision, "a.b", "collision key remembered");

	/* A key's hash is taken a level at a time: a name built from parts
	 * meets the same name given whole, wherever the parts split it
	 * across eight-byte words, also with an array index as a part. */
	{
		char js[256], want[128], a[24], b[24];
		int bad = 0;
		size_t ia, ib;

		for (ia = 1; ia <= 17; ia++)
			for (ib = 1; ib <= 17; ib++) {
				memset(a, 'a', ia);
				a[ia] = '\0';
				memset(b, 'b', ib);
				b[ib] = '\0';
				snprintf(js, sizeof(js),
				    "{\"%s.%s.0\":1,\"%s\":{\"%s\":[2]}}", a, b,
				    a, b);
				snprintf(want, sizeof(want),
				    "{\"%s.%s.0\":2}\n", a, b);
				row.collisions = 0;
				if (strcmp(flat(js), want) != 0 ||
				    row.collisions != 1)
					bad++;
			}
		is_int(bad, 0, "collision found across every word split");
	}

	/* Deep input: no recursion. */
	deep = malloc(2 * 300 + 16);
	n = 0;
	deep[n++] = '{';
	memcpy(deep + n, "\"a\":", 4);
	n += 4;
	for (i = 0; i < 250; i++)
		deep[n++] = '[';
	deep[n++] = '1';
	for (i = 0; i < 250; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = '\0';
	s = flat(deep);
	ok(strlen(s) == strlen("{\"a\":1}\n") + 2 * 250, "250 levels: %zu",
	    strlen(s));
	free(deep);

	/* Many keys: the hash table grows, lookups still work. */
	{
		char big[40000];
		size_t k = 0;

		big[k++] = '{';
		for (i = 0; i < 2000; i++)
			k += (size_t)snprintf(big + k, sizeof(big) - k,
			    "%s\"k%d\":%d", i ? "," : "", i, i);
		big[k++] = '}';
		big[k] = '\0';
		flat(big);
		is_int(row.n, 2000, "2000 keys");
		p = flat_row_get(&row, "k1234", 5);
		ok(p != NULL && p->vn == 4 &&
			memcmp(flat_val(&row, p), "1234", 4) == 0,
		    "k1234 found");
		ok(flat_row_get(&row, "k2000", 5) == NULL, "k2000 absent");
	}

	/* Explode: base row, mark, element, rewind. */
	s = "{\"id\":1,\"l\":[{\"e\":1},{\"e\":2,\"f\":3}],\"z\":0}";
	json_parse(s, strlen(s), &v, NULL);
	json_object_get(v, "l", 1, &arr);
	flat_row_reset(&row);
	flat_add(&row, "", 0, v, arr.p);
	is_int(row.n, 2, "base row skips the array");
	flat_row_mark(&row);
	{
		struct json_iter it;
		struct json_span el;
		const char *want[] = { "{\"id\":1,\"z\":0,\"l.e\":1}\n",
			"{\"id\":1,\"z\":0,\"l.e\":2,\"l.f\":3}\n" };

		json_iter_init(&it, arr);
		for (i = 0; json_iter_elem(&it, &el); i++) {
			flat_add(&row, "l", 1, el, NULL);
			cap_begin();
			flat_write_ndjson(&cap, &row);
			is_str(cap_end(), want[i], "exploded row %d", i);
			flat_row_rewind(&row);
		}
		is_int(row.n, 2, "rewind back to the base row");
		ok(flat_row_get(&row, "l.f", 3) == NULL, "element keys gone");
	}
	/* A rewind undoes a replaced base value. */
	s = "{\"l.e\":\"base\",\"l\":[{\"e\":1}]}";
	json_parse(s, strlen(s), &v, NULL);
	json_object_get(v, "l", 1, &arr);
	flat_row_reset(&row);
	flat_add(&row, "", 0, v, arr.p);
	flat_row_mark(&row);
	flat_add(&row, "l", 1, arr, NULL);
	p = flat_row_get(&row, "l.0.e", 5);
	ok(p != NULL, "element under its key");
	flat_row_rewind(&row);
	p = flat_row_get(&row, "l.e", 3);
	ok(p != NULL && p->vn == 6, "base value intact after rewind");

	/* SQL names. */
	n = flat_sql_name("Data.Custom Field", 17, buf);
	is_mem(buf, n, "data_custom_field", 17, "sql name");
	n = flat_sql_name("1a", 2, buf);
	is_mem(buf, n, "_1a", 3, "no leading digit");
	n = flat_sql_name("\xc3\xa9t\xc3\xa9", 6, buf);
	is_mem(buf, n, "_t_", 3, "UTF-8 runs become one _");
	n = flat_sql_name("", 0, buf);
	is_mem(buf, n, "_", 1, "empty name");
	o.sql_names = 1;
	is_str(flat("{\"a.b\":1,\"a_b\":2,\"A-B\":3}"),
	    "{\"a_b\":1,\"a_b_2\":2,\"a_b_3\":3}\n", "suffixes");
	o.sql_names = 0;

	/* Fields map. */
	s = "[{\"id\":\"cf_1\",\"name\":\"One\"},{\"id\":\"cf_1\",\"name\":"
	    "\"Uno\"},"
	    "{\"id\":\"cf_2\",\"name\":\"Two\"}]";
	json_parse(s, strlen(s), &v, NULL);
	m = flat_map_new(v, &why);
	ok(m != NULL, "map loads");
	o.map = m;
	is_str(flat("{\"custom.cf_1\":1,\"custom\":{\"cf_2\":2},\"cf_3\":3,"
		    "\"xcf_1\":4}"),
	    "{\"custom.Uno\":1,\"custom.Two\":2,\"cf_3\":3,\"xcf_1\":4}\n",
	    "ids renamed, the last duplicate wins, others kept");
	o.map = NULL;
	flat_map_free(m);
	s = "{\"id\":\"cf_1\"}";
	json_parse(s, strlen(s), &v, NULL);
	ok(flat_map_new(v, &why) == NULL, "a map must be a list");
	s = "[{\"id\":\"cf_1\"}]";
	json_parse(s, strlen(s), &v, NULL);
	ok(flat_map_new(v, &why) == NULL, "elements need a name");

	/* CSV and TSV fields. */
	is_str(csv("{\"a\":\"x,y\",\"b\":\"q\\\"\",\"c\":\"\",\"d\":null,"
		   "\"e\":1.0,\"f\":\"\\\\.\",\"g\":\"\\u00e9\",\"h\":false}",
		   0),
	    "\"x,y\"|\"q\"\"\"|\"\"||1.0|\"\\.\"|\xc3\xa9|false", "csv fields");
	is_str(csv("{\"a\":\"t\\tn\\nb\\\\\",\"c\":\"\",\"d\":null}", 1),
	    "t\\tn\\nb\\\\||", "tsv fields");
	o.arrays_json = 1;
	is_str(csv("{\"a\":[1,\"x\"]}", 0), "\"[1,\"\"x\"\"]\"",
	    "containers as quoted JSON text");
	o.arrays_json = 0;

	/* Dates. */
	o.dates = FLAT_DATES_UTC;
	is_str(
	    flat("{\"a\":\"2019-01-15T14:41:24.496000+02:00\","
		 "\"b\":\"2019-01-15\",\"c\":\"2019-01-15T12:48:23.395000\"}"),
	    "{\"a\":\"2019-01-15T12:41:24.496000Z\",\"b\":\"2019-01-15\","
	    "\"c\":\"2019-01-15T12:48:23.395000Z\"}\n",
	    "dates utc");
	o.dates = FLAT_DATES_EPOCH;
	is_str(flat("{\"a\":\"2019-01-15T14:41:24.496000+02:00\","
		    "\"b\":\"1969-12-31T23:59:59.5Z\"}"),
	    "{\"a\":1547556084.496000,\"b\":-0.5}\n", "dates epoch");
	o.dates = FLAT_DATES_KEEP;
	s = "{\"2019-01-15T00:00:00\" : \"2019-01-15T00:00:00\", "
	    "\"x\":[\"2019-01-15T00:00:00+01:00\",\"a\\\"b\"]}";
	json_parse(s, strlen(s), &v, NULL);
	n = flat_rewrite_dates(v, FLAT_DATES_EPOCH, &rw, &rwcap);
	s = "{\"2019-01-15T00:00:00\" : 1547510400, "
	    "\"x\":[1547506800,\"a\\\"b\"]}";
	is_mem(rw, n, s, strlen(s), "rewrite dates: values only");
	ok(json_parse(rw, n, &v, NULL) == 0, "the rewritten text is valid");
	free(rw);

	flat_row_free(&row);
	return tap_done();
}
