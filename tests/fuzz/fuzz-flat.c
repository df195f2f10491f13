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
 *  - flat_add_text of each top-level member gives a sound row too;
 *  - a row walked from the parse's tape (json_top.tape; a tape too small
 *    for some inputs, so the walk falls back to scanning) is the row
 *    walked by scanning, byte for byte, whole and exploded.
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
					(s[j] >= '0' && s[j] <= '9') ||
					s[j] == '_'))
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
		size_t at = o.len;
		int t = flat_text_check(r, &r->pair[i]);

		flat_write_field(&o, r, &r->pair[i], 0);
		/* The check agrees with the CSV field's bytes. */
		if (!(t & FLAT_TEXT_NUL) !=
			!memchr(o.buf + at, 0, o.len - at) ||
		    !(t & FLAT_TEXT_ENDMARK) !=
			!(memmem(o.buf + at, o.len - at, "\n\\.\n", 4) ||
			    memmem(o.buf + at, o.len - at, "\n\\.\r\n", 5)))
			abort();
		flat_write_field(&o, r, &r->pair[i], 1);
		flat_write_text_field(
		    &o, flat_name(r, &r->pair[i]), r->pair[i].nlen, 0);
	}
	o.len = 0;
}

/* The row's NDJSON line, into m (emptied first). */
static void
row_text(const struct flat_row *r, struct out *m)
{
	m->len = 0;
	flat_write_ndjson(m, r);
}

static void
same_text(const struct out *a, const struct out *b)
{
	if (a->len != b->len || memcmp(a->buf, b->buf, a->len) != 0)
		abort();
}

static struct json_tape_ent tents[4096];

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

	/* The same walk from the tape. */
	{
		struct json_tape tape = { tents, size % 3 == 0 ? 8 : 4096, NULL,
			0, 0 };
		struct json_member m[4];
		struct json_top top = { .m = m, .max = 4, .tape = &tape };
		struct json_span v2;
		struct flat_row row2;
		struct out a, b;
		size_t i;

		if (json_parse_top((const char *)data, size, &v2, &top, NULL) !=
			0 ||
		    v2.p != v.p || v2.n != v.n)
			abort();
		if (tape.ok) {
			if (tape.n == 0 ||
			    tents[0].off !=
				(size_t)(v.p - (const char *)data) ||
			    tents[0].n != v.n || tents[0].next != tape.n)
				abort();
			for (i = 0; i < tape.n; i++)
				if (tents[i].next <= i ||
				    tents[i].next > tape.n)
					abort();
		}
		out_mem_init(&a);
		out_mem_init(&b);
		flat_row_init(&row2, &opts);
		row2.tape = &tape;
		flat_add(&row2, "", 0, v, NULL);
		row_text(&row, &a);
		row_text(&row2, &b);
		same_text(&a, &b);
		if (v.type == JSON_OBJECT) {
			json_iter_init(&it, v);
			while (json_iter_member(&it, &k, &el))
				if (el.type == JSON_ARRAY) {
					flat_row_reset(&row);
					flat_row_reset(&row2);
					flat_add(&row, "", 0, v, el.p);
					flat_add(&row2, "", 0, v, el.p);
					row_text(&row, &a);
					row_text(&row2, &b);
					same_text(&a, &b);
					break;
				}
		}
		flat_row_free(&row2);
		out_close(&a);
		out_close(&b);
		flat_row_reset(&row);
		flat_add(&row, "", 0, v, NULL);
	}

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
			flat_add_text(
			    &row, k.p + 1, k.n - 2, el.p, el.n, el.type);
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
