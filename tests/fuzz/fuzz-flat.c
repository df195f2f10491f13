/*
 * fuzz-flat.c - the flattening core on arbitrary input.
 *
 * The first byte picks options (separator, arrays as JSON, max depth,
 * dates, SQL names); the rest is parsed by the scanner and, when valid,
 * flattened.  Checked, abort() on failure:
 *  - every pair's value is one valid JSON value;
 *  - every output name finds its own pair (no lost hash entries), and with
 *    SQL names every name is [a-z0-9_]{1,63} without a leading digit;
 *  - the NDJSON line is one valid JSON object with as many members as the
 *    row has pairs;
 *  - every CSV/TSV field can be written;
 *  - explode bookkeeping: rewind returns to the base row exactly;
 *  - flat_rewrite_dates gives valid JSON;
 *  - flat_add_text of each top-level member gives a sound row too.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flat.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct out o;
static int inited;

static void
check_row(const struct flat_row *r)
{
	size_t i, j;
	struct json_span v;
	const struct flat_pair *p, *q;

	for (i = 0; i < r->n; i++) {
		p = &r->pair[i];
		if (json_parse(flat_val(r, p), p->vn, &v, NULL) != 0 ||
		    v.n != p->vn || v.type != p->vt)
			abort();
		q = flat_row_get(r, flat_name(r, p), p->nlen);
		if (q != p)
			abort();
		if (r->o->sql_names) {
			const char *s = flat_name(r, p);

			if (p->nlen == 0 || p->nlen > 63 ||
			    (s[0] >= '0' && s[0] <= '9'))
				abort();
			for (j = 0; j < p->nlen; j++)
				if (!((s[j] >= 'a' && s[j] <= 'z') ||
				    (s[j] >= '0' && s[j] <= '9') || s[j] == '_'))
					abort();
		}
	}
}

static void
check_output(const struct flat_row *r)
{
	struct json_span v, k, val;
	struct json_iter it;
	size_t i, n = 0;

	o.len = 0;
	flat_write_ndjson(&o, r);
	if (o.len > 0 && o.len < OUT_BUFSZ) {
		if (o.buf[o.len - 1] != '\n' ||
		    json_parse(o.buf, o.len - 1, &v, NULL) != 0 ||
		    v.type != JSON_OBJECT)
			abort();
		json_iter_init(&it, v);
		while (json_iter_member(&it, &k, &val))
			n++;
		if (n != r->n)
			abort();
	}
	o.len = 0;
	for (i = 0; i < r->n; i++) {
		flat_write_field(&o, r, &r->pair[i], 0);
		flat_write_field(&o, r, &r->pair[i], 1);
		flat_write_text_field(&o, flat_name(r, &r->pair[i]),
		    r->pair[i].nlen, 0);
	}
	o.len = 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *seps[] = { ".", "_", "::", "\"" };
	struct flat_opts opts;
	struct flat_row row;
	struct json_span v, k, arr, el;
	struct json_iter it;
	char *rw = NULL;
	size_t rwcap = 0, n, base;
	uint8_t f;

	if (!inited) {
		out_init(&o, open("/dev/null", O_WRONLY), "null");
		inited = 1;
	}
	if (size < 1)
		return 0;
	f = data[0];
	data++;
	size--;
	if (json_parse((const char *)data, size, &v, NULL) != 0)
		return 0;
	flat_opts_init(&opts);
	opts.sep = seps[f & 3];
	opts.sepn = strlen(opts.sep);
	opts.arrays_json = (f >> 2) & 1;
	opts.max_depth = (f >> 3) & 3;
	opts.dates = (enum flat_dates)(((f >> 5) & 3) % 3);
	opts.sql_names = (f >> 7) & 1;
	flat_row_init(&row, &opts);

	flat_add(&row, "", 0, v, NULL);
	check_row(&row);
	check_output(&row);

	/* Explode the first array member of an object. */
	if (v.type == JSON_OBJECT) {
		arr.type = JSON_NONE;
		json_iter_init(&it, v);
		while (json_iter_member(&it, &k, &el))
			if (el.type == JSON_ARRAY) {
				arr = el;
				break;
			}
		if (arr.type == JSON_ARRAY) {
			flat_row_reset(&row);
			flat_add(&row, "", 0, v, arr.p);
			base = row.n;
			flat_row_mark(&row);
			json_iter_init(&it, arr);
			while (json_iter_elem(&it, &el)) {
				flat_add(&row, "x", 1, el, NULL);
				check_row(&row);
				check_output(&row);
				flat_row_rewind(&row);
				if (row.n != base)
					abort();
				check_row(&row);
			}
		}
	}

	/* The same members through flat_add_text, keys as written. */
	if (v.type == JSON_OBJECT) {
		flat_row_reset(&row);
		json_iter_init(&it, v);
		while (json_iter_member(&it, &k, &el))
			flat_add_text(&row, k.p + 1, k.n - 2, el.p, el.n,
			    el.type);
		check_row(&row);
		check_output(&row);
	}

	n = flat_rewrite_dates(v, FLAT_DATES_EPOCH, &rw, &rwcap);
	if (json_parse(rw, n, &k, NULL) != 0)
		abort();
	n = flat_rewrite_dates(v, FLAT_DATES_UTC, &rw, &rwcap);
	if (json_parse(rw, n, &k, NULL) != 0)
		abort();
	free(rw);
	flat_row_free(&row);
	return 0;
}
