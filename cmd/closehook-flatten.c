/*
 * closehook-flatten - flat rows and CSV from event records.
 *
 * Each line is validated by the scanner and read as DESIGN.md section 2
 * says (event records as they are; bare events and the events of an Event
 * Log page wrapped as {"subscription_id":null,"event":...}).  Each record
 * then goes through: --dates (on the record text when a jq program
 * follows), --select and -e/-f (libjq), --root, --explode, and is
 * flattened into one row per result (and per exploded element), written as
 * NDJSON or CSV/TSV.  Without jq options the scanner does all the work and
 * values keep their literal bytes.  A bad line or a failing program is a
 * reject: one stderr line, one --rejects line, and the stream goes on.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "evrec.h"
#include "flat.h"
#include "jqr.h"
#include "json.h"
#include "lr.h"
#include "readfile.h"
#include "recloop.h"
#include "rejline.h"
#include "metrics.h"
#include "out.h"

static const char synopsis[] =
    "closehook-flatten [-q] [-e PROGRAM | -f FILE | --changes] "
    "[--select EXPR]\n"
    "\t[--root PATH] [--sep STR] [--arrays index|json] [--explode PATH]\n"
    "\t[--max-depth N] [--dates keep|utc|epoch] [--fields-map FILE]\n"
    "\t[--sql-names] [--format ndjson|csv|tsv] [--columns LIST] [--header]\n"
    "\t[--rejects FILE] [--metrics FILE] [--max-line BYTES] [FILE...]\n";

/*
 * Helper definitions given to every jq program, on one line so that jq's
 * compile messages need only a fixed shift of line numbers (see
 * fix_lines).  Documented in closehook-flatten(1).
 */
static const char jq_defs[] =
    "def close_time: if type != \"string\" then error(\"close_time: not a "
    "string: \\(tojson)\") else . as $s | (if length == 10 then . + "
    "\"T00:00:00\" else . end) as $t | ([$t[19:] | capture(\"^(?<f>[.,]"
    "[0-9]+)?(?<z>[Zz]|[+-][0-9]{2}(:?[0-9]{2})?)?$\")] | .[0]) as $m | "
    "($t[0:10] + \"T\" + $t[11:19]) as $b | if $m == null or ($t | length) "
    "< 19 or ($t[10:11] | test(\"^[Tt ]$\") | not) or ($b | test(\"^[0-9]"
    "{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$\") | not) then "
    "error(\"close_time: not a date-time: \\($s)\") else ($b | strptime("
    "\"%Y-%m-%dT%H:%M:%S\") | mktime) as $sec | if ($sec | strftime("
    "\"%Y-%m-%dT%H:%M:%S\")) != $b then error(\"close_time: not a "
    "date-time: \\($s)\") else $sec + (if $m.f then (\"0.\" + $m.f[1:]) | "
    "tonumber else 0 end) - (if ($m.z // \"\") | test(\"^[+-]\") then "
    "($m.z[0:1] + \"1\" | tonumber) * (($m.z[1:3] | tonumber) * 3600 + "
    "($m.z[3:] | ltrimstr(\":\") | if . == \"\" then 0 else tonumber end) "
    "* 60) else 0 end) end end end; "
    "def close_utc: close_time | todate; "
    "def close_date: close_time | strftime(\"%Y-%m-%d\"); "
    "def close_days(from; to): ((to | close_time) - (from | close_time)) "
    "/ 86400; "
    "def close_days_since(from): close_days(from; .);";

enum reason {
	RS_JSON,
	RS_NOTOBJ,
	RS_TOOLONG,
	RS_JQ,
	RS_ROOT,
	RS_NUL,
	RS_COUNT
};

static const char *const reason_name[RS_COUNT] = {
	"invalid-json",
	"not-an-object",
	"line-too-long",
	"jq-error",
	"no-root",
	"nul-in-string",
};

enum format {
	F_NDJSON,
	F_CSV,
	F_TSV
};

static struct flat_opts opts, opts_jq;
static struct flat_row row;

/*
 * A line's values, recorded as it is validated, so that flattening walks
 * them without scanning the line again (flat.h); a line with more falls
 * back to scanning.  The second thread has its own (struct prepctx).
 */
#define TAPE_MAX 8192
static struct json_tape tape;

static void
tape_init(struct json_tape *t)
{
	t->cap = TAPE_MAX;
	t->v = xmalloc(TAPE_MAX * sizeof(*t->v));
}
static struct jqr *prog, *sel;
static struct json_path root_path, explode_path;
static int have_root, have_explode;
static char *explode_key;
static size_t explode_keyn;
static enum format format = F_NDJSON;
static char **cols;
static size_t ncols;
static int cols_given, header, header_done, warned_cols, warned_coll;
static int warned_clash, warned_endmark;
static unsigned char *col_seen; /* --columns: matched in some row */
static const struct flat_pair **colp; /* the row's pair of each column */
static int quiet;
static int changes; /* --changes */
static struct out out, rej;
static int have_rej;
static unsigned long nrejected;
static unsigned long nshort; /* rows that lost keys: no --columns */
/* For --metrics: lines read, rows written, rejects by reason. */
static unsigned long nread, nrows, nreason[RS_COUNT];
static struct metrics met;
static char *wrapbuf, *datebuf;
static size_t wrapcap, datecap;

/* Where the record being processed came from, for messages. */
static const char *cur_file;
static unsigned long cur_line;
static struct json_span cur_record;

static void
usage(void)
{
	cli_usage(synopsis);
}

static void
help(void)
{
	printf("usage: %s", synopsis);
	printf(
	    "\n"
	    "Flatten event records (or any JSON objects) into rows: NDJSON, "
	    "CSV or TSV.\n"
	    "\n"
	    "  -e, --expr PROGRAM       jq program run on each record; each "
	    "result is\n"
	    "                           flattened (helpers: close_time, "
	    "close_days, ...)\n"
	    "  -f, --from-file FILE     read the jq program from FILE\n"
	    "  --changes                one row per changed field of an "
	    "updated event:\n"
	    "                           event_id, object_type, object_id, "
	    "lead_id,\n"
	    "                           date_updated, field, old, new\n"
	    "  --select EXPR            keep the records for which jq EXPR is "
	    "true\n"
	    "  --root PATH              flatten from this sub-object (e.g. "
	    ".event)\n"
	    "  --sep STR                key separator (default .)\n"
	    "  --arrays index|json      arrays as 0-based index keys (default) "
	    "or as\n"
	    "                           one JSON value\n"
	    "  --explode PATH           one row per element of the array at "
	    "PATH\n"
	    "  --max-depth N            keep subtrees below N levels as JSON "
	    "values\n"
	    "  --dates keep|utc|epoch   rewrite ISO-8601 date-time strings "
	    "(default keep)\n"
	    "  --fields-map FILE        rename custom field ids (cf_...) from "
	    "a JSON list\n"
	    "                           of {\"id\": ..., \"name\": ...}\n"
	    "  --sql-names              names of [a-z0-9_], '_' as separator\n"
	    "  --format ndjson|csv|tsv  output format (default ndjson)\n"
	    "  --columns LIST           comma-separated columns, in this "
	    "order\n"
	    "  --header                 write a header line (csv, tsv)\n"
	    "  --rejects FILE           append each reject as an NDJSON line\n"
	    "  --metrics FILE           keep Prometheus metrics in FILE\n"
	    "  --max-line BYTES         longest input line (default 16M)\n"
	    "  -q, --quiet              no stderr line per reject\n"
	    "  -h, --help               show this help\n"
	    "      --version            show the version\n");
	exit(cli_close_out());
}

static void
reject(enum reason r, const char *detail, struct json_span rec)
{
	nrejected++;
	nreason[r]++;
	if (!quiet) {
		if (detail != NULL)
			cli_recwarnx(cur_file, cur_line,
			    "rejected: %s (%.200s)", reason_name[r], detail);
		else
			cli_recwarnx(
			    cur_file, cur_line, "rejected: %s", reason_name[r]);
	}
	if (!have_rej)
		return;
	rejline_begin(&rej, cur_file, cur_line, reason_name[r]);
	rejline_str(
	    &rej, "detail", detail, detail != NULL ? strlen(detail) : 0);
	rejline_raw(
	    &rej, "record", rec.type != JSON_NONE ? rec.p : NULL, rec.n);
	rejline_end(&rej, cur_file, cur_line);
}

static void
write_header(void)
{
	size_t i;

	header_done = 1;
	if (!header)
		return;
	for (i = 0; i < ncols; i++) {
		if (i > 0)
			out_putc(&out, format == F_CSV ? ',' : '\t');
		flat_write_text_field(
		    &out, cols[i], strlen(cols[i]), format == F_TSV);
	}
	out_putc(&out, '\n');
}

static void
emit_row(void)
{
	size_t i, found = 0;
	const struct flat_pair *p;

	if (row.collisions > 0 && !warned_coll) {
		warned_coll = 1;
		cli_recwarnx(cur_file, cur_line,
		    "key \"%.100s\" produced more "
		    "than once: the later value is kept (further collisions "
		    "are not reported)",
		    row.first_collision);
	}
	if (row.sql_clashes > 0 && !warned_clash) {
		warned_clash = 1;
		cli_recwarnx(cur_file, cur_line,
		    "--sql-names: keys \"%s\" and \"%s\" both become \"%s\": "
		    "the second is \"%s_2\" in rows that have both, \"%s\" in "
		    "rows without the first, so one column can get either's "
		    "values; rename one (--fields-map, or a jq program) "
		    "(further such keys are not reported)",
		    row.first_clash[0], row.first_clash[1], row.first_clash[2],
		    row.first_clash[2], row.first_clash[2]);
	}
	if (format == F_NDJSON) {
		nrows++;
		flat_write_ndjson(&out, &row);
		return;
	}
	if (!cols_given && cols == NULL) {
		/* The first row's names are the columns. */
		ncols = row.n;
		cols = xmalloc((ncols + 1) * sizeof(*cols));
		for (i = 0; i < ncols; i++) {
			p = &row.pair[i];
			cols[i] = xmalloc(p->nlen + 1);
			memcpy(cols[i], flat_name(&row, p), p->nlen);
			cols[i][p->nlen] = '\0';
		}
	}
	/* Each column's pair, looked up once for the check and the write. */
	if (colp == NULL)
		colp = xcalloc(ncols + 1, sizeof(*colp));
	for (i = 0; i < ncols; i++)
		colp[i] = flat_row_get(&row, cols[i], strlen(cols[i]));
	/* What no field can carry: the record is rejected, or (psql's end
	 * of data in a CSV value) written with a warning. */
	for (i = 0; i < ncols; i++) {
		int t = flat_text_check(&row, colp[i]);

		if (t & FLAT_TEXT_NUL) {
			reject(RS_NUL,
			    "a string holds U+0000, which a CSV or TSV field "
			    "cannot carry to PostgreSQL",
			    cur_record);
			return;
		}
		if ((t & FLAT_TEXT_ENDMARK) && format == F_CSV &&
		    !warned_endmark) {
			warned_endmark = 1;
			cli_recwarnx(cur_file, cur_line,
			    "a value holds a line \"\\.\" alone, which psql's "
			    "\\copy takes for the end of the data, even "
			    "quoted: "
			    "load with --format tsv, or COPY on the server "
			    "(further such values are not reported)");
		}
	}
	nrows++;
	if (!header_done)
		write_header();
	for (i = 0; i < ncols; i++) {
		if (i > 0)
			out_putc(&out, format == F_CSV ? ',' : '\t');
		p = colp[i];
		found += p != NULL;
		if (p != NULL && col_seen != NULL)
			col_seen[i] = 1;
		flat_write_field(&out, &row, p, format == F_TSV);
	}
	out_putc(&out, '\n');
	if (!cols_given && found < row.n) {
		nshort++;
		if (!warned_cols)
			cli_recwarnx(cur_file, cur_line,
			    "keys not among the first row's columns are "
			    "dropped (give --columns)");
		warned_cols = 1;
	}
}

/* Root, explode and flatten one value; from_jq: a program's result. */
static void
emit_value(struct json_span v, int from_jq)
{
	struct json_span arr, el;
	struct json_iter it;
	enum json_path_result pr;
	int any = 0;

	row.o = from_jq ? &opts_jq : &opts;
	if (have_root) {
		if (json_path_get(&root_path, v, &arr) != JSON_PATH_FOUND ||
		    arr.type != JSON_OBJECT) {
			reject(RS_ROOT, "--root is missing or not an object",
			    cur_record);
			return;
		}
		v = arr;
	}
	if (v.type != JSON_OBJECT) {
		reject(RS_NOTOBJ,
		    from_jq ? "a program result is not an "
			      "object"
			    : NULL,
		    cur_record);
		return;
	}
	flat_row_reset(&row);
	if (!have_explode) {
		flat_add(&row, "", 0, v, NULL);
		emit_row();
		return;
	}
	pr = json_path_get(&explode_path, v, &arr);
	if (pr != JSON_PATH_FOUND ||
	    (arr.type != JSON_ARRAY && arr.type != JSON_NULL)) {
		flat_add(&row, "", 0, v, NULL);
		emit_row();
		return;
	}
	flat_add(&row, "", 0, v, arr.p);
	if (arr.type == JSON_ARRAY) {
		flat_row_mark(&row);
		json_iter_init(&it, arr);
		while (json_iter_elem(&it, &el)) {
			flat_add(&row, explode_key, explode_keyn, el, NULL);
			emit_row();
			flat_row_rewind(&row);
			any = 1;
		}
	}
	if (!any)
		emit_row();
}

/*
 * A program's results are printed by jq into a memory stream, as jq's own
 * main prints to stdout (jv_dump_string builds a jv string by appending,
 * which costs more than the whole flattening), then scanned and flattened.
 */
static FILE *dumpf;
static char *dumpbuf;
static size_t dumplen;

/* A leaf's JSON text, as jq prints it, into *buf; returns its length. */
static size_t
jv_text(jv v, char **buf, size_t *cap, enum json_type *t)
{
	const char *s;
	size_t n;
	double d;
	jv str;

	*t = JSON_NULL;
	switch (jv_get_kind(v)) {
	case JV_KIND_NULL:
		*t = JSON_NULL;
		s = "null";
		break;
	case JV_KIND_TRUE:
		*t = JSON_TRUE;
		s = "true";
		break;
	case JV_KIND_FALSE:
		*t = JSON_FALSE;
		s = "false";
		break;
	case JV_KIND_STRING:
		*t = JSON_STRING;
		n = (size_t)jv_string_length_bytes(jv_copy(v));
		if (*cap < 6 * n + 2) {
			*cap = 6 * n + 64;
			*buf = xrealloc(*buf, *cap);
		}
		(*buf)[0] = '"';
		n = 1 + json_escape(jv_string_value(v), n, *buf + 1);
		(*buf)[n++] = '"';
		jv_free(v);
		return n;
	case JV_KIND_NUMBER:
		*t = JSON_NUMBER;
		d = jv_number_value(v);
		/* Integers as jq prints them, without its dtoa. */
		if (d == (double)(long long)d && d > -1e15 && d < 1e15 &&
		    !(d == 0 && 1 / d < 0)) {
			jv_free(v);
			if (*cap < 32) {
				*cap = 64;
				*buf = xrealloc(*buf, *cap);
			}
			return (size_t)snprintf(
			    *buf, *cap, "%lld", (long long)d);
		}
		/* FALLTHROUGH */
	default:
		/* Other numbers, and containers kept whole. */
		if (jv_get_kind(v) == JV_KIND_OBJECT)
			*t = JSON_OBJECT;
		else if (jv_get_kind(v) == JV_KIND_ARRAY)
			*t = JSON_ARRAY;
		str = jv_dump_string(v, 0);
		n = (size_t)jv_string_length_bytes(jv_copy(str));
		if (*cap < n + 1) {
			*cap = n + 64;
			*buf = xrealloc(*buf, *cap);
		}
		memcpy(*buf, jv_string_value(str), n);
		jv_free(str);
		return n;
	}
	jv_free(v);
	n = strlen(s);
	if (*cap < n + 1) {
		*cap = 64;
		*buf = xrealloc(*buf, *cap);
	}
	memcpy(*buf, s, n);
	return n;
}

/* 1 when v (borrowed) is an object or array with members. */
static int
jv_nonempty(jv v)
{
	if (jv_get_kind(v) == JV_KIND_OBJECT)
		return jv_object_length(jv_copy(v)) > 0;
	if (jv_get_kind(v) == JV_KIND_ARRAY)
		return jv_array_length(jv_copy(v)) > 0;
	return 0;
}

/*
 * Flatten a program's result object straight from the jv, the rules of
 * flat_add: no printing and re-scanning.  Iterative, like flat_add; jq
 * bounds the depth of what it parses, not of what a program builds.
 */
struct jframe {
	jv c;
	int it;
	size_t base;
	unsigned depth;
	int is_array, has_prefix;
};

static void
flatten_jv(jv root)
{
	static struct jframe *st;
	static size_t stcap;
	static char *kb, *vb;
	static size_t kbcap, vbcap;
	const struct flat_opts *o = &opts_jq;
	struct jframe *f;
	size_t sp = 0, len, vn, cn;
	enum json_type t;
	char num[24];
	const char *c;
	jv k, child;

	row.o = o;
	flat_row_reset(&row);
	if (stcap == 0) {
		stcap = 16;
		st = xmalloc(stcap * sizeof(*st));
	}
	st[sp++] = (struct jframe){ root, jv_object_iter(root), 0, 0, 0, 0 };
	while (sp > 0) {
		f = &st[sp - 1];
		if (f->is_array) {
			if (f->it >= jv_array_length(jv_copy(f->c))) {
				jv_free(f->c);
				sp--;
				continue;
			}
			child = jv_array_get(jv_copy(f->c), f->it);
			cn = (size_t)snprintf(num, sizeof(num), "%d", f->it);
			c = num;
			k = jv_invalid();
			f->it++;
		} else {
			if (!jv_object_iter_valid(f->c, f->it)) {
				jv_free(f->c);
				sp--;
				continue;
			}
			k = jv_object_iter_key(f->c, f->it);
			child = jv_object_iter_value(f->c, f->it);
			f->it = jv_object_iter_next(f->c, f->it);
			c = jv_string_value(k);
			cn = (size_t)jv_string_length_bytes(jv_copy(k));
		}
		len = f->base + o->sepn + flat_key_part_room(o, cn) + 1;
		if (kbcap < len) {
			kbcap = 2 * len + 256;
			kb = xrealloc(kb, kbcap);
		}
		len = f->base;
		if (f->has_prefix) {
			memcpy(kb + len, o->sep, o->sepn);
			len += o->sepn;
		}
		if (f->is_array) {
			memcpy(kb + len, c, cn);
			len += cn;
		} else
			len += flat_key_part(o, c, cn, kb + len);
		jv_free(k);
		if ((jv_get_kind(child) == JV_KIND_OBJECT ||
			(jv_get_kind(child) == JV_KIND_ARRAY &&
			    !o->arrays_json)) &&
		    jv_nonempty(child) &&
		    (o->max_depth == 0 || f->depth + 1 < o->max_depth)) {
			unsigned d = f->depth + 1;

			if (sp == stcap) {
				stcap *= 2;
				st = xrealloc(st, stcap * sizeof(*st));
			}
			f = &st[sp++];
			f->is_array = jv_get_kind(child) == JV_KIND_ARRAY;
			f->it = f->is_array ? 0 : jv_object_iter(child);
			f->c = child;
			f->base = len;
			f->depth = d;
			f->has_prefix = 1;
			continue;
		}
		vn = jv_text(child, &vb, &vbcap, &t);
		flat_add_text(&row, kb, len, vb, vn, t);
	}
	emit_row();
}

static int
on_result(void *arg, jv v)
{
	struct json_span s;

	(void)arg;
	if (!have_root && !have_explode) {
		if (jv_get_kind(v) != JV_KIND_OBJECT) {
			jv_free(v);
			reject(RS_NOTOBJ, "a program result is not an object",
			    cur_record);
		} else
			flatten_jv(v);
		return out.err != 0 ? -1 : 0;
	}
	if (dumpf == NULL &&
	    (dumpf = open_memstream(&dumpbuf, &dumplen)) == NULL)
		cli_fatal("out of memory");
	rewind(dumpf);
	jv_dumpf(v, dumpf, 0);
	if (fflush(dumpf) != 0)
		cli_fatal("out of memory");
	/* jq's own output is valid JSON; only depth could fail here. */
	if (json_parse(dumpbuf, (size_t)ftello(dumpf), &s, NULL) != 0)
		reject(
		    RS_JQ, "a program result is nested too deeply", cur_record);
	else
		emit_value(s, 1);
	return out.err != 0 ? -1 : 0;
}

/* A member of an object by its literal name, or JSON_NONE. */
static struct json_span
member(struct json_span obj, const char *name)
{
	struct json_span v = { NULL, 0, JSON_NONE };

	if (obj.type != JSON_OBJECT ||
	    !json_object_get(obj, name, strlen(name), &v))
		v.type = JSON_NONE;
	return v;
}

/* Add a column from a span; a missing value is null. */
static void
add_col(const char *name, struct json_span v)
{
	if (v.type == JSON_NONE)
		flat_add_text(&row, name, strlen(name), "null", 4, JSON_NULL);
	else
		flat_add_text(&row, name, strlen(name), v.p, v.n, v.type);
}

/*
 * The value of the field Close names name[0..n) in obj: a literal key
 * ("custom.cf_..." included), else the same path through nested objects
 * ({"custom": {"cf_...": ...}}, which flattens to the same key).
 */
static struct json_span
field_value(struct json_span obj, const char *name, size_t n)
{
	struct json_span v = { NULL, 0, JSON_NONE }, in;
	size_t i;

	if (obj.type != JSON_OBJECT)
		return v;
	if (json_object_get(obj, name, n, &v))
		return v;
	for (i = 0; i < n; i++)
		if (name[i] == '.' && json_object_get(obj, name, i, &in) &&
		    in.type == JSON_OBJECT) {
			v = field_value(in, name + i + 1, n - i - 1);
			if (v.type != JSON_NONE)
				return v;
		}
	v.type = JSON_NONE;
	return v;
}

/*
 * --changes: one row per field an updated event changed, with its value
 * before (previous_data) and after (data), kept as JSON values.  A field
 * Close names in changed_fields is a literal key of data
 * ("custom.cf_..." included; field_value).  Its name takes --fields-map.
 * Other events give no rows.
 */
static void
emit_changes(struct json_span rec)
{
	struct json_span ev = member(rec, "event"), changed, data, prev, f,
			 action;
	struct json_iter it;
	char name[1024], mapped[4096], quoted[6 * sizeof(mapped) + 2];
	size_t n, m;
	struct json_span fs;

	if (ev.type != JSON_OBJECT)
		ev = rec; /* a bare event given as is */
	action = member(ev, "action");
	if (!json_str_eq(action, "updated", 7))
		return;
	changed = member(ev, "changed_fields");
	if (changed.type != JSON_ARRAY)
		return;
	data = member(ev, "data");
	prev = member(ev, "previous_data");
	json_iter_init(&it, changed);
	while (json_iter_elem(&it, &f) && out.err == 0) {
		if (f.type != JSON_STRING || f.n > sizeof(name))
			continue;
		n = json_str_unescape(f, name);
		name[n] = '\0';
		/* The name as the flattened record names it. */
		fs = f;
		if (opts.map != NULL &&
		    flat_key_part_room(&opts, n) <= sizeof(mapped)) {
			m = flat_key_part(&opts, name, n, mapped);
			if (m != n || memcmp(mapped, name, n) != 0) {
				quoted[0] = '"';
				m = json_escape(mapped, m, quoted + 1);
				quoted[m + 1] = '"';
				fs.p = quoted;
				fs.n = m + 2;
			}
		}
		flat_row_reset(&row);
		add_col("event_id", member(ev, "id"));
		add_col("object_type", member(ev, "object_type"));
		add_col("object_id", member(ev, "object_id"));
		add_col("lead_id", member(ev, "lead_id"));
		add_col("date_updated", member(ev, "date_updated"));
		add_col("field", fs);
		add_col("old", field_value(prev, name, n));
		add_col("new", field_value(data, name, n));
		emit_row();
	}
}

static void
do_record(struct json_span rec)
{
	struct json_span src = rec;
	char *err = NULL;
	jv in;

	cur_record = rec;
	if (prog == NULL && sel == NULL) {
		if (changes)
			emit_changes(rec);
		else
			emit_value(rec, 0);
		return;
	}
	if (opts.dates != FLAT_DATES_KEEP) {
		src.n = flat_rewrite_dates(rec, opts.dates, &datebuf, &datecap);
		src.p = datebuf;
	}
	in = jqr_parse(src.p, src.n);
	if (!jv_is_valid(in)) {
		err = jvh_errmsg(jv_invalid_get_msg(in));
		reject(RS_JQ, err, rec);
		free(err);
		return;
	}
	if (sel != NULL) {
		int keep = jqr_any(sel, jv_copy(in), &err);

		if (keep < 0) {
			reject(RS_JQ, err, rec);
			free(err);
			jv_free(in);
			return;
		}
		if (keep == 0) {
			jv_free(in);
			return;
		}
	}
	if (prog == NULL) {
		jv_free(in);
		if (changes)
			emit_changes(rec);
		else
			emit_value(rec, 0);
		return;
	}
	if (jqr_run(prog, in, on_result, NULL, &err) < 0) {
		reject(RS_JQ, err, rec);
		free(err);
	}
}

/*
 * A record's text: the record as is, or its event wrapped into *buf (grown
 * to fit).  The wrapped text is made of valid parts, so it is valid
 * without a second parse.
 */
static struct json_span
record_text(const struct evrec *rec, char **buf, size_t *cap)
{
	struct json_span w;
	size_t n;

	if (!rec->wrapped)
		return rec->whole;
	n = evrec_len(rec);
	if (*cap < n) {
		free(*buf);
		*cap = n + 4096;
		*buf = xmalloc(*cap);
	}
	w.p = *buf;
	w.n = evrec_wrap(*buf, rec->event.p, rec->event.n);
	w.type = JSON_OBJECT;
	return w;
}

static void
do_line(const char *file, struct lr_line *l)
{
	struct json_span root, none = { NULL, 0, JSON_NONE };
	struct json_error je;
	struct evrec_iter it;
	struct evrec rec;
	char detail[96];

	cur_file = file;
	cur_line = l->lineno;
	if (evrec_parse_tape(&it, l->p, l->n, &je, &tape) != 0) {
		snprintf(detail, sizeof(detail), "%s at byte %zu", je.msg,
		    je.off + 1);
		reject(RS_JSON, detail, none);
		return;
	}
	root = it.root;
	if (root.type != JSON_OBJECT) {
		snprintf(detail, sizeof(detail), "a JSON %s",
		    json_type_name(root.type));
		reject(RS_NOTOBJ, detail, root);
		return;
	}
	row.tape = &tape;
	while (evrec_next(&it, &rec) && out.err == 0)
		do_record(record_text(&rec, &wrapbuf, &wrapcap));
	row.tape = NULL;
}

static void
setup_metrics(const char *path)
{
	static const struct metrics_def defs[] = {
		{ "closehook_flatten_records_total", METRICS_COUNTER,
		    METRICS_ULONG, &nread, "Input lines read.", NULL, NULL },
		{ "closehook_flatten_rows_total", METRICS_COUNTER,
		    METRICS_ULONG, &nrows,
		    "Flat rows written (header lines not counted).", NULL,
		    NULL },
	};
	struct metrics_def d = { "closehook_flatten_rejected_total",
		METRICS_COUNTER, METRICS_ULONG, NULL,
		"Records rejected, by reason.", "reason", NULL };
	int k;

	metrics_init(&met, path);
	metrics_add(&met, defs, sizeof(defs) / sizeof(defs[0]));
	for (k = 0; k < RS_COUNT; k++) {
		d.p = &nreason[k];
		d.value = reason_name[k];
		metrics_add(&met, &d, 1);
	}
	metrics_add_start_time(&met, "closehook_flatten_start_time_seconds");
	metrics_start(&met);
	if (met.path != NULL) /* a reader that stops us: the file goes on */
		out_on_block(&out, metrics_blocked, &met, 1000);
}

static int
on_line(void *arg, const char *file, struct lr_line *l)
{
	nread++;
	metrics_tick(&met);
	do_line(file, l);
	return 0;
}

static int
on_too_long(void *arg, const char *file, unsigned long lineno)
{
	struct json_span none = { NULL, 0, JSON_NONE };

	nread++;
	metrics_tick(&met);
	cur_file = file;
	cur_line = lineno;
	reject(RS_TOOLONG, NULL, none);
	return 0;
}

/*
 * The second core (recloop.h), in the default mode alone (no program,
 * --root, --explode, --changes, NDJSON out): a line whose records all
 * flatten cleanly becomes its rows, after the count of rows in a size_t.
 * A line to reject, or with a key produced twice (warned about once, by
 * the first thread), is left to on_line.
 */
struct prepctx {
	struct flat_row row;
	char *wrap;
	size_t wrapcap;
	struct json_tape tape;
};

static int
prep_line(void *ctx, const struct lr_line *l, struct out *res)
{
	struct prepctx *c = ctx;
	unsigned long coll = c->row.collisions, clash = c->row.sql_clashes;
	struct json_error je;
	struct evrec_iter it;
	struct evrec rec;
	struct json_span v;
	size_t at = res->len, rows = 0;

	if (evrec_parse_tape(&it, l->p, l->n, &je, &c->tape) != 0 ||
	    it.root.type != JSON_OBJECT)
		return -1;
	c->row.tape = &c->tape;
	out_write(res, &rows, sizeof(rows));
	while (evrec_next(&it, &rec)) {
		v = record_text(&rec, &c->wrap, &c->wrapcap);
		if (v.type != JSON_OBJECT)
			return -1;
		flat_row_reset(&c->row);
		flat_add(&c->row, "", 0, v, NULL);
		if (c->row.collisions != coll || c->row.sql_clashes != clash)
			return -1;
		flat_write_ndjson(res, &c->row);
		rows++;
	}
	memcpy(res->buf + at, &rows, sizeof(rows));
	return 0;
}

static int
on_prepped(
    void *arg, const char *file, struct lr_line *l, const char *res, size_t n)
{
	size_t rows;

	nread++;
	metrics_tick(&met);
	memcpy(&rows, res, sizeof(rows));
	nrows += rows;
	out_write(&out, res + sizeof(rows), n - sizeof(rows));
	return 0;
}

/* Input may block: keep the metrics file up to date meanwhile. */
static void
on_idle(void *arg, int fd)
{
	metrics_idle(&met, fd);
}

/*
 * The defs take line 1 and jqr_new adds a newline, so jq numbers the
 * program's lines from 2: print them as the user wrote them.
 */
static void
fix_lines(char *msg)
{
	char *p = msg, *end;
	unsigned long n;

	while ((p = strstr(p, "line ")) != NULL) {
		p += 5;
		n = strtoul(p, &end, 10);
		if (end == p || *end != ':' || n < 2)
			continue;
		{
			char num[24];
			int k = snprintf(num, sizeof(num), "%lu", n - 1);

			memmove(p + k, end, strlen(end) + 1);
			memcpy(p, num, (size_t)k);
		}
	}
}

static struct jqr *
compile(const char *what, const char *text)
{
	struct jqr *j;
	char *err = NULL;

	if ((j = jqr_new(text, jq_defs, &err)) == NULL) {
		fix_lines(err);
		cli_warnx("%s: jq compile error:\n%s", what, err);
		free(err);
		exit(CLI_EXIT_FATAL);
	}
	return j;
}

static void
simple_path(const char *opt, const char *s, struct json_path *p)
{
	if (json_path_compile(s, p) != 0)
		cli_fatalx("invalid value for --%s: not a simple path such as "
			   ".event or .data.emails: %.40s",
		    opt, s);
}

static void
parse_columns(const char *s)
{
	const char *p = s, *c;
	size_t i;

	cols_given = 1;
	for (;;) {
		c = strchr(p, ',');
		if (c == NULL)
			c = p + strlen(p);
		if (c == p)
			cli_fatalx("invalid value for --columns: empty name");
		cols = realloc(cols, (ncols + 1) * sizeof(*cols));
		if (cols == NULL)
			cli_fatal("out of memory");
		cols[ncols] = xmalloc((size_t)(c - p) + 1);
		memcpy(cols[ncols], p, (size_t)(c - p));
		cols[ncols][c - p] = '\0';
		for (i = 0; i < ncols; i++)
			if (strcmp(cols[i], cols[ncols]) == 0)
				cli_fatalx(
				    "invalid value for --columns: \"%.100s\" "
				    "twice",
				    cols[i]);
		ncols++;
		if (*c == '\0')
			break;
		p = c + 1;
	}
	col_seen = xcalloc(ncols, 1);
}

static void
load_map(const char *path)
{
	size_t n;
	char *text = readfile_must(path, (size_t)1 << 30, &n);
	struct json_span v;
	struct json_error je;
	const char *why;

	if (json_parse(text, n, &v, &je) != 0)
		cli_fatalx("%s: not valid JSON: %s at byte %zu", path, je.msg,
		    je.off + 1);
	if ((opts.map = flat_map_new(v, &why)) == NULL)
		cli_fatalx("%s: %s", path, why);
	free(text);
}

int
main(int argc, char *argv[])
{
	enum {
		O_SELECT = 256,
		O_ROOT,
		O_SEP,
		O_ARRAYS,
		O_EXPLODE,
		O_MAXDEPTH,
		O_DATES,
		O_FIELDSMAP,
		O_SQLNAMES,
		O_FORMAT,
		O_COLUMNS,
		O_HEADER,
		O_REJECTS,
		O_METRICS,
		O_MAXLINE,
		O_CHANGES,
		O_VERSION
	};
	static const struct option longopts[] = { { "expr", required_argument,
						      NULL, 'e' },
		{ "from-file", required_argument, NULL, 'f' },
		{ "select", required_argument, NULL, O_SELECT },
		{ "changes", no_argument, NULL, O_CHANGES },
		{ "root", required_argument, NULL, O_ROOT },
		{ "sep", required_argument, NULL, O_SEP },
		{ "arrays", required_argument, NULL, O_ARRAYS },
		{ "explode", required_argument, NULL, O_EXPLODE },
		{ "max-depth", required_argument, NULL, O_MAXDEPTH },
		{ "dates", required_argument, NULL, O_DATES },
		{ "fields-map", required_argument, NULL, O_FIELDSMAP },
		{ "sql-names", no_argument, NULL, O_SQLNAMES },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "columns", required_argument, NULL, O_COLUMNS },
		{ "header", no_argument, NULL, O_HEADER },
		{ "rejects", required_argument, NULL, O_REJECTS },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "max-line", required_argument, NULL, O_MAXLINE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 } };
	const char *rejpath = NULL, *expr = NULL, *exprfile = NULL;
	const char *selexpr = NULL, *mappath = NULL, *metpath = NULL;
	char *progtext = NULL;
	size_t max_line = LR_DEFAULT_MAX_LINE, i;
	struct recloop loop = { 0 };
	struct prepctx pc = { 0 };
	int ch, rc = CLI_EXIT_OK, ioerr = 0;

	cli_init("closehook-flatten");
	cli_std_fds(CLI_STDOUT_DATA);
	argv[0] = (char *)cli_prog;
	flat_opts_init(&opts);
	while ((ch = getopt_long(argc, argv, "e:f:hq", longopts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			expr = optarg;
			break;
		case 'f':
			exprfile = optarg;
			break;
		case O_SELECT:
			selexpr = optarg;
			break;
		case O_CHANGES:
			changes = 1;
			break;
		case O_ROOT:
			simple_path("root", optarg, &root_path);
			have_root = 1;
			break;
		case O_SEP:
			if (*optarg == '\0')
				cli_fatalx("invalid value for --sep: empty");
			opts.sep = optarg;
			opts.sepn = strlen(optarg);
			break;
		case O_ARRAYS:
			if (strcmp(optarg, "index") == 0)
				opts.arrays_json = 0;
			else if (strcmp(optarg, "json") == 0)
				opts.arrays_json = 1;
			else
				cli_fatalx("invalid value for --arrays: %.40s "
					   "(index or json)",
				    optarg);
			break;
		case O_EXPLODE:
			simple_path("explode", optarg, &explode_path);
			have_explode = 1;
			break;
		case O_MAXDEPTH:
			opts.max_depth = (unsigned)cli_opt_int(
			    "max-depth", optarg, 1, 1000000);
			break;
		case O_DATES:
			if (strcmp(optarg, "keep") == 0)
				opts.dates = FLAT_DATES_KEEP;
			else if (strcmp(optarg, "utc") == 0)
				opts.dates = FLAT_DATES_UTC;
			else if (strcmp(optarg, "epoch") == 0)
				opts.dates = FLAT_DATES_EPOCH;
			else
				cli_fatalx("invalid value for --dates: %.40s "
					   "(keep, utc or epoch)",
				    optarg);
			break;
		case O_FIELDSMAP:
			mappath = optarg;
			break;
		case O_SQLNAMES:
			opts.sql_names = 1;
			break;
		case O_FORMAT:
			if (strcmp(optarg, "ndjson") == 0)
				format = F_NDJSON;
			else if (strcmp(optarg, "csv") == 0)
				format = F_CSV;
			else if (strcmp(optarg, "tsv") == 0)
				format = F_TSV;
			else
				cli_fatalx("invalid value for --format: %.40s "
					   "(ndjson, csv or tsv)",
				    optarg);
			break;
		case O_COLUMNS:
			parse_columns(optarg);
			break;
		case O_HEADER:
			header = 1;
			break;
		case O_REJECTS:
			rejpath = optarg;
			break;
		case O_METRICS:
			metpath = optarg;
			break;
		case O_MAXLINE:
			max_line = cli_opt_size(
			    "max-line", optarg, 1, (uint64_t)1 << 32);
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			help();
			break;
		case O_VERSION:
			cli_version();
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (expr != NULL && exprfile != NULL) {
		cli_warnx("-e and -f exclude each other");
		usage();
	}
	if (changes &&
	    (expr != NULL || exprfile != NULL || have_root || have_explode)) {
		cli_warnx("--changes makes its own rows: no -e, -f, --root or "
			  "--explode with it");
		usage();
	}
	if (format == F_NDJSON && (cols_given || header)) {
		cli_warnx("--columns and --header need --format csv or tsv");
		usage();
	}

	/* Set up: everything that can fail for good fails here, exit 2. */
	if (mappath != NULL)
		load_map(mappath);
	if (exprfile != NULL) {
		size_t n;

		progtext = readfile_must(exprfile, (size_t)1 << 24, &n);
		prog = compile(exprfile, progtext);
	} else if (expr != NULL)
		prog = compile("-e", expr);
	if (selexpr != NULL)
		sel = compile("--select", selexpr);
	opts_jq = opts;
	/* Dates were rewritten before the program ran. */
	opts_jq.dates = FLAT_DATES_KEEP;
	if (have_explode) {
		/* The exploded elements' key: the path's steps joined. */
		size_t cap = 16;

		explode_key = xmalloc(cap);
		for (i = 0; i < explode_path.nsteps; i++) {
			const struct json_path_step *s = &explode_path.step[i];
			char num[24];
			const char *k = s->key;
			size_t kn = s->keylen;

			if (s->is_index) {
				kn = (size_t)snprintf(
				    num, sizeof(num), "%zu", s->index);
				k = num;
			}
			explode_key =
			    xrealloc(explode_key, cap += kn + opts.sepn);
			if (explode_keyn > 0) {
				memcpy(explode_key + explode_keyn, opts.sep,
				    opts.sepn);
				explode_keyn += opts.sepn;
			}
			memcpy(explode_key + explode_keyn, k, kn);
			explode_keyn += kn;
		}
	}
	flat_row_init(&row, &opts);
	tape_init(&tape);
	out_init(&out, STDOUT_FILENO, "stdout");
	if (rejpath != NULL) {
		if (out_append_open(&rej, rejpath, 0600) != 0)
			cli_fatal("%s", rejpath);
		have_rej = 1;
	}
	setup_metrics(metpath);
	if (cols_given && format != F_NDJSON)
		write_header();

	loop.out = &out;
	loop.side = have_rej ? &rej : NULL;
	loop.max_line = max_line;
	loop.line = on_line;
	loop.too_long = on_too_long;
	loop.idle = on_idle;
	if (prog == NULL && sel == NULL && !changes && !have_root &&
	    !have_explode && format == F_NDJSON) {
		flat_row_init(&pc.row, &opts);
		tape_init(&pc.tape);
		loop.prep = prep_line;
		loop.prepped = on_prepped;
		loop.prep_ctx = &pc;
	}
	if (argc == 0)
		ioerr |= recloop_run(&loop, NULL) < 0;
	for (i = 0; i < (size_t)argc && out.err == 0; i++)
		ioerr |= recloop_run(&loop, argv[i]) < 0;

	if (col_seen != NULL && nrows > 0)
		for (i = 0; i < ncols; i++)
			if (!col_seen[i])
				cli_warnx("--columns: \"%s\" matched no key in "
					  "%lu rows (misspelt?)",
				    cols[i], nrows);
	if (nshort > 0) {
		/* Data left out of the output: not a success. */
		cli_warnx("%lu of %lu rows lost keys that were not among the "
			  "first row's columns; give --columns",
		    nshort, nrows);
		rc = CLI_EXIT_REJECTS;
	}
	if (nrejected > 0)
		rc = CLI_EXIT_REJECTS;
	if (ioerr)
		rc = CLI_EXIT_FATAL;
	if (have_rej && out_close(&rej) != 0) {
		cli_warn("%s", rejpath);
		rc = CLI_EXIT_FATAL;
	}
	metrics_close(&met);
	rc = out_close_stdout(&out, rc);
	jqr_free(prog);
	jqr_free(sel);
	flat_row_free(&row);
	if (loop.prep != NULL)
		flat_row_free(&pc.row);
	free(pc.wrap);
	free(pc.tape.v);
	free(tape.v);
	flat_map_free((struct flat_map *)opts.map);
	for (i = 0; i < ncols; i++)
		free(cols[i]);
	free(cols);
	free(col_seen);
	free(colp);
	free(progtext);
	free(wrapbuf);
	free(datebuf);
	free(explode_key);
	if (dumpf != NULL)
		fclose(dumpf);
	free(dumpbuf);
	return rc;
}
