/*
 * flat.c - flattening JSON into rows; see flat.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "flat.h"
#include "isotime.h"

/*
 * A key's hash, eight bytes at a time (multiply and fold): keys are tens
 * of bytes, and a byte-at-a-time hash was a tenth of flatten's time.  The
 * words are hashed from the key's start (hash_words), the last partial
 * word and the length at the end (hash_end), so that flat_add keeps each
 * level's state after the whole words of its prefix and hashes only the
 * rest of a key.  A name's hash depends on its bytes alone, however they
 * were put together ("a.b" as one key and as "a" then "b" must collide).
 */
#define HASH_K 0x9e3779b97f4a7c15ull

static inline uint64_t
hash_words(uint64_t h, const char *p, size_t nw)
{
	uint64_t w;

	for (; nw > 0; p += 8, nw--) {
		memcpy(&w, p, 8);
		h = (h ^ w) * HASH_K;
		h ^= h >> 29;
	}
	return h;
}

/* tail: the last n % 8 bytes of the key, in the low bytes, zeros above. */
static inline uint32_t
hash_end(uint64_t h, uint64_t tail, size_t n)
{
	if (n % 8 != 0)
		h = (h ^ tail) * HASH_K;
	h ^= (uint64_t)n * HASH_K;
	h ^= h >> 32;
	h *= HASH_K;
	return (uint32_t)(h >> 32);
}

static uint32_t
hash(const char *p, size_t n)
{
	uint64_t tail = 0;

	memcpy(&tail, p + n / 8 * 8, n % 8);
	return hash_end(hash_words(0, p, n / 8), tail, n);
}

struct frame {
	struct json_iter it;
	size_t base; /* key length before this level's component */
	size_t idx;
	unsigned depth;
	int is_array;
	int has_prefix;
	int esc; /* the key so far may hold bytes JSON must escape */
	uint64_t hw; /* hash_words of the key's first base / 8 words */
	/* From a tape: the next entry, the end, the entry just taken. */
	uint32_t ti, tend, tcur;
};

struct flat_map {
	struct mapent {
		char *id, *name;
		size_t idn, namen;
	} * v;
	size_t n;
	int32_t *ht;
	size_t htcap;
	size_t maxname; /* the longest name */
};

static void
grow(char **buf, size_t *cap, size_t need)
{
	size_t c = *cap ? *cap : 256;

	if (need <= *cap && *buf != NULL)
		return;
	while (c < need)
		c *= 2;
	*buf = xrealloc(*buf, c);
	*cap = c;
}

void
flat_opts_init(struct flat_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->sep = ".";
	o->sepn = 1;
	o->dates = FLAT_DATES_KEEP;
}

void
flat_row_init(struct flat_row *r, const struct flat_opts *o)
{
	memset(r, 0, sizeof(*r));
	r->o = o;
	r->htcap = 64;
	r->kht = xrealloc(NULL, r->htcap * sizeof(int32_t));
	r->nht = xrealloc(NULL, r->htcap * sizeof(int32_t));
	memset(r->kht, 0xff, r->htcap * sizeof(int32_t));
	memset(r->nht, 0xff, r->htcap * sizeof(int32_t));
}

void
flat_row_free(struct flat_row *r)
{
	free(r->keys);
	free(r->kb);
	free(r->cb);
	free(r->scratch);
	free(r->pair);
	free(r->kht);
	free(r->nht);
	free(r->undo);
	free(r->stack);
	memset(r, 0, sizeof(*r));
}

void
flat_row_reset(struct flat_row *r)
{
	size_t i;

	/* Clear only the buckets in use: cheaper than the whole table. */
	for (i = 0; i < r->n; i++) {
		r->kht[r->pair[i].khash & (r->htcap - 1)] = -1;
		r->nht[r->pair[i].nhash & (r->htcap - 1)] = -1;
	}
	r->n = 0;
	r->keysn = 0;
	r->scrn = 0;
	r->mark = 0;
	r->nundo = 0;
}

static void
rehash(struct flat_row *r)
{
	size_t i, b;

	r->htcap *= 2;
	r->kht = xrealloc(r->kht, r->htcap * sizeof(int32_t));
	r->nht = xrealloc(r->nht, r->htcap * sizeof(int32_t));
	memset(r->kht, 0xff, r->htcap * sizeof(int32_t));
	memset(r->nht, 0xff, r->htcap * sizeof(int32_t));
	/* In index order, so every chain stays newest first (rewind). */
	for (i = 0; i < r->n; i++) {
		b = r->pair[i].khash & (r->htcap - 1);
		r->pair[i].knext = r->kht[b];
		r->kht[b] = (int32_t)i;
		b = r->pair[i].nhash & (r->htcap - 1);
		r->pair[i].nnext = r->nht[b];
		r->nht[b] = (int32_t)i;
	}
}

static int32_t
find_key(const struct flat_row *r, const char *k, size_t n, uint32_t h)
{
	int32_t i;

	for (i = r->kht[h & (r->htcap - 1)]; i >= 0; i = r->pair[i].knext)
		if (r->pair[i].khash == h && r->pair[i].klen == n &&
		    memcmp(r->keys + r->pair[i].koff, k, n) == 0)
			return i;
	return -1;
}

static int32_t
find_name(const struct flat_row *r, const char *k, size_t n, uint32_t h)
{
	int32_t i;

	for (i = r->nht[h & (r->htcap - 1)]; i >= 0; i = r->pair[i].nnext)
		if (r->pair[i].nhash == h && r->pair[i].nlen == n &&
		    memcmp(r->keys + r->pair[i].noff, k, n) == 0)
			return i;
	return -1;
}

const struct flat_pair *
flat_row_get(const struct flat_row *r, const char *name, size_t n)
{
	int32_t i = find_name(r, name, n, hash(name, n));

	return i < 0 ? NULL : &r->pair[i];
}

const char *
flat_val(const struct flat_row *r, const struct flat_pair *p)
{
	return p->v != NULL ? p->v : r->scratch + p->voff;
}

size_t
flat_sql_name(const char *key, size_t n, char *dst)
{
	size_t i, d = 0;
	int bad = 0;

	for (i = 0; i < n && d < 63; i++) {
		unsigned char c = (unsigned char)key[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_') {
			if (d == 0 && c >= '0' && c <= '9')
				dst[d++] = '_';
			dst[d++] = (char)c;
			bad = 0;
		} else if (!bad) {
			/* A run of other bytes (a separator, a UTF-8
			 * character) becomes one underscore. */
			dst[d++] = '_';
			bad = 1;
		}
	}
	if (d == 0)
		dst[d++] = '_';
	if (d > 63)
		d = 63;
	return d;
}

/* Convert a date-time string value (quotes included); -1 when not one. */
static int
date_conv(const char *raw, size_t rawn, enum flat_dates how, char *out,
    enum json_type *t)
{
	struct isotime it;
	char buf[80];
	const char *s = raw + 1;
	size_t n = rawn - 2, k;

	if (rawn < 18 || rawn > 66 || raw[1] < '0' || raw[1] > '9' ||
	    raw[5] != '-')
		return -1;
	if (memchr(s, '\\', n) != NULL) {
		struct json_span sp = { raw, rawn, JSON_STRING };

		n = json_str_unescape(sp, buf);
		s = buf;
	}
	if (isotime_parse(s, n, &it) != 0)
		return -1;
	if (how == FLAT_DATES_UTC) {
		out[0] = '"';
		k = isotime_format_utc(&it, out + 1);
		out[k + 1] = '"';
		*t = JSON_STRING;
		return (int)k + 2;
	}
	*t = JSON_NUMBER;
	if (it.fracn == 0)
		return snprintf(out, 64, "%lld", (long long)it.sec);
	if (it.sec >= 0)
		return snprintf(out, 64, "%lld.%.*s", (long long)it.sec,
		    (int)(it.fracn > 30 ? 30 : it.fracn), it.frac);
	return snprintf(out, 64, "%.*f", (int)(it.fracn > 9 ? 9 : it.fracn),
	    (double)it.sec + it.nsec / 1e9);
}

static void
set_value(struct flat_row *r, struct flat_pair *p, struct json_span v)
{
	char buf[80];
	enum json_type t;
	int k;

	p->vt = v.type;
	p->v = v.p;
	p->vn = v.n;
	if (v.type == JSON_STRING && r->o->dates != FLAT_DATES_KEEP &&
	    (k = date_conv(v.p, v.n, r->o->dates, buf, &t)) > 0) {
		grow(&r->scratch, &r->scrcap, r->scrn + (size_t)k);
		memcpy(r->scratch + r->scrn, buf, (size_t)k);
		p->v = NULL;
		p->voff = r->scrn;
		p->vn = (size_t)k;
		p->vt = t;
		r->scrn += (size_t)k;
	}
}

static int needs_escape(const char *s, size_t n);

/* Keep the first bytes of a key or name for a message. */
static void
clash_copy(char *dst, const char *k, size_t n)
{
	size_t m = n < 95 ? n : 95;

	memcpy(dst, k, m);
	dst[m] = '\0';
}

/*
 * Put the output name of a new pair (index i) in place; esc says whether
 * its key may hold bytes JSON must escape.
 */
static void
set_name(struct flat_row *r, size_t i, int esc)
{
	struct flat_pair *p = &r->pair[i];
	char nm[80];
	size_t n, b, sn;
	unsigned long suffix;
	uint32_t h;
	int32_t *head, j;

	if (!r->o->sql_names) {
		p->noff = p->koff;
		p->nlen = p->klen;
		p->nhash = p->khash;
		p->nesc = esc;
	} else {
		/* [a-z0-9_] only. */
		p->nesc = 0;
		n = b = flat_sql_name(r->keys + p->koff, p->klen, nm);
		h = hash(nm, n);
		for (suffix = 2; (j = find_name(r, nm, n, h)) >= 0; suffix++) {
			char sfx[24];

			if (suffix == 2 && r->sql_clashes++ == 0) {
				const struct flat_pair *q = &r->pair[j];

				clash_copy(r->first_clash[0], r->keys + q->koff,
				    q->klen);
				clash_copy(r->first_clash[1], r->keys + p->koff,
				    p->klen);
				clash_copy(r->first_clash[2], nm, b);
			}

			sn = (size_t)snprintf(sfx, sizeof(sfx), "_%lu", suffix);
			n = b + sn > 63 ? 63 - sn : b;
			memcpy(nm + n, sfx, sn);
			n += sn;
			h = hash(nm, n);
		}
		grow(&r->keys, &r->keyscap, r->keysn + n);
		p = &r->pair[i];
		memcpy(r->keys + r->keysn, nm, n);
		p->noff = r->keysn;
		p->nlen = n;
		p->nhash = h;
		r->keysn += n;
	}
	head = &r->nht[p->nhash & (r->htcap - 1)];
	p->nnext = *head;
	*head = (int32_t)i;
}

/* Add one leaf named k[0..n), h = hash(k, n); esc as for set_name. */
static void
leaf(struct flat_row *r, const char *k, size_t n, uint32_t h,
    struct json_span v, int esc)
{
	int32_t i = find_key(r, k, n, h);
	struct flat_pair *p;
	int32_t *head;

	if (i >= 0) {
		/* The later value wins, at the earlier position. */
		p = &r->pair[i];
		if ((size_t)i < r->mark) {
			if (r->nundo == r->undocap) {
				r->undocap = r->undocap ? 2 * r->undocap : 8;
				r->undo = xrealloc(
				    r->undo, r->undocap * sizeof(*r->undo));
			}
			r->undo[r->nundo].idx = (size_t)i;
			r->undo[r->nundo].v = p->v;
			r->undo[r->nundo].voff = p->voff;
			r->undo[r->nundo].vn = p->vn;
			r->undo[r->nundo].vt = p->vt;
			r->nundo++;
		}
		if (r->collisions++ == 0) {
			size_t m = n < sizeof(r->first_collision) - 1
			    ? n
			    : sizeof(r->first_collision) - 1;

			memcpy(r->first_collision, k, m);
			r->first_collision[m] = '\0';
		}
		set_value(r, p, v);
		return;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->pair = xrealloc(r->pair, r->cap * sizeof(*r->pair));
	}
	if (r->n >= 0x7fffffff)
		cli_fatalx("too many keys in one row");
	if ((r->n + 1) * 2 > r->htcap)
		rehash(r);
	grow(&r->keys, &r->keyscap, r->keysn + n);
	memcpy(r->keys + r->keysn, k, n);
	p = &r->pair[r->n];
	p->koff = r->keysn;
	p->klen = n;
	p->khash = h;
	r->keysn += n;
	head = &r->kht[h & (r->htcap - 1)];
	p->knext = *head;
	*head = (int32_t)r->n;
	set_value(r, p, v);
	set_name(r, r->n, esc);
	r->n++;
}

void
flat_row_mark(struct flat_row *r)
{
	r->mark = r->n;
	r->mark_keysn = r->keysn;
	r->mark_scrn = r->scrn;
	r->nundo = 0;
}

void
flat_row_rewind(struct flat_row *r)
{
	size_t i;
	struct flat_pair *p;

	for (i = r->n; i-- > r->mark;) {
		p = &r->pair[i];
		r->kht[p->khash & (r->htcap - 1)] = p->knext;
		r->nht[p->nhash & (r->htcap - 1)] = p->nnext;
	}
	r->n = r->mark;
	while (r->nundo > 0) {
		struct flat_undo *u = &r->undo[--r->nundo];

		p = &r->pair[u->idx];
		p->v = u->v;
		p->voff = u->voff;
		p->vn = u->vn;
		p->vt = u->vt;
	}
	r->keysn = r->mark_keysn;
	r->scrn = r->mark_scrn;
}

/* A validated container that starts at p is empty. */
static int
starts_empty(const char *p)
{
	p++;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return *p == '}' || *p == ']';
}

static int
empty_container(struct json_span v)
{
	size_t i;

	for (i = 1; i < v.n; i++)
		if (v.p[i] != ' ' && v.p[i] != '\t' && v.p[i] != '\r' &&
		    v.p[i] != '\n')
			return v.p[i] == '}' || v.p[i] == ']';
	return 1;
}

/* Replace the cf_ ids among the '.'-separated pieces of c[0..n). */
static size_t
map_component(const struct flat_map *m, const char *c, size_t n, char *dst)
{
	size_t i = 0, j, d = 0, nl;
	const char *nm;

	while (i <= n) {
		for (j = i; j < n && c[j] != '.'; j++)
			;
		if (j - i > 3 && memcmp(c + i, "cf_", 3) == 0 &&
		    (nm = flat_map_get(m, c + i, j - i, &nl)) != NULL) {
			memcpy(dst + d, nm, nl);
			d += nl;
		} else {
			memcpy(dst + d, c + i, j - i);
			d += j - i;
		}
		if (j < n)
			dst[d++] = '.';
		i = j + 1;
	}
	return d;
}

static size_t
map_maxgrow(const struct flat_map *m)
{
	return m->maxname;
}

void
flat_add_text(struct flat_row *r, const char *key, size_t kn, const char *json,
    size_t n, enum json_type t)
{
	struct json_span v;
	size_t off = r->scrn;
	uint32_t h;
	int32_t i;

	grow(&r->scratch, &r->scrcap, r->scrn + n);
	memcpy(r->scratch + off, json, n);
	r->scrn += n;
	v.p = r->scratch + off;
	v.n = n;
	v.type = t;
	h = hash(key, kn);
	leaf(r, key, kn, h, v, needs_escape(key, kn));
	/* The scratch may move: refer to the value by its offset. */
	i = find_key(r, key, kn, h);
	if (i >= 0 && r->pair[i].v == v.p) {
		r->pair[i].v = NULL;
		r->pair[i].voff = off;
	}
}

size_t
flat_key_part_room(const struct flat_opts *o, size_t n)
{
	return n + (o->map != NULL ? map_maxgrow(o->map) * (n / 4 + 1) : 0);
}

size_t
flat_key_part(const struct flat_opts *o, const char *c, size_t n, char *dst)
{
	if (o->map != NULL && n > 3 && memmem(c, n, "cf_", 3) != NULL)
		return map_component(o->map, c, n, dst);
	memcpy(dst, c, n);
	return n;
}

/*
 * The entry of tape t for the container v, when v lies in t's document
 * (it was parsed onto it): the entries, with *at its index; else NULL.
 */
static const struct json_tape_ent *
tape_walk(const struct json_tape *t, struct json_span v, uint32_t *at)
{
	uintptr_t b, p = (uintptr_t)v.p;
	size_t lo = 0, hi, mid;
	uint32_t off;

	if (t == NULL || !t->ok || t->n == 0)
		return NULL;
	b = (uintptr_t)t->base;
	if (p < b + t->v[0].off || p - b > t->v[0].off + t->v[0].n)
		return NULL;
	off = (uint32_t)(p - b);
	hi = t->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (t->v[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == t->n || t->v[lo].off != off || t->v[lo].n != v.n ||
	    (t->v[lo].type & 0xff) != (uint32_t)v.type)
		return NULL;
	*at = (uint32_t)lo;
	return t->v;
}

/* An array index in decimal into d (room for 20 bytes); its length. */
static size_t
put_index(char *d, size_t v)
{
	char t[20];
	size_t n = 0, i;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	for (i = 0; i < n; i++)
		d[i] = t[n - 1 - i];
	return n;
}

void
flat_add(struct flat_row *r, const char *prefix, size_t prefixn,
    struct json_span v, const char *skip)
{
	const struct flat_opts *o = r->o;
	struct frame *st, *f;
	struct json_span k, val;
	const struct json_tape_ent *tv;
	const char *tbase = NULL;
	size_t sp = 0, len, cn, need;
	char *kb, *cb;
	size_t mg = o->map != NULL ? map_maxgrow(o->map) : 0;
	uint64_t hw, tail;
	int more, esc, sepesc, kplain;

	/* A prefix is a key built here, far below this; it keeps the size
	 * arithmetic below from wrapping. */
	if (prefixn > (size_t)1 << 32)
		cli_fatalx("flat key longer than 4 GiB");
	grow(&r->kb, &r->kbcap, prefixn + 64);
	memcpy(r->kb, prefix, prefixn);
	if ((v.type != JSON_OBJECT && v.type != JSON_ARRAY) ||
	    empty_container(v) || (v.type == JSON_ARRAY && o->arrays_json)) {
		if (v.type == JSON_OBJECT && empty_container(v))
			v.p = "{}", v.n = 2;
		else if (v.type == JSON_ARRAY && empty_container(v))
			v.p = "[]", v.n = 2;
		if (prefixn == 0)
			leaf(r, "value", 5, hash("value", 5), v, 0);
		else
			leaf(r, r->kb, prefixn, hash(r->kb, prefixn), v,
			    needs_escape(prefix, prefixn));
		return;
	}
	if (r->stackcap < 16) {
		r->stackcap = 16;
		r->stack = xrealloc(r->stack, r->stackcap * sizeof(*st));
	}
	st = r->stack;
	f = &st[sp++];
	/*
	 * From the parse's tape when v lies on it (spans whole, nothing
	 * scanned), else lazily: a nested container is walked as it is
	 * found, once, not first skipped to find its end (json.h).
	 */
	if ((tv = tape_walk(r->tape, v, &f->ti)) != NULL) {
		tbase = r->tape->base;
		f->tend = tv[f->ti].next;
		f->ti++;
	} else
		json_iter_init_lazy(&f->it, v);
	f->base = prefixn;
	f->idx = 0;
	f->depth = 0;
	f->is_array = v.type == JSON_ARRAY;
	f->has_prefix = prefixn > 0;
	f->esc = needs_escape(prefix, prefixn);
	f->hw = hash_words(0, prefix, prefixn / 8);
	sepesc = needs_escape(o->sep, o->sepn);
	while (sp > 0) {
		f = &st[sp - 1];
		k.p = NULL;
		k.n = 0;
		kplain = 0;
		if (tv != NULL) {
			/* From the tape: spans whole, nothing scanned. */
			if ((more = f->ti < f->tend)) {
				const struct json_tape_ent *t = &tv[f->ti];

				f->tcur = f->ti;
				f->ti = t->next;
				val.p = tbase + t->off;
				val.n = t->n;
				val.type = (enum json_type)(t->type & 0xff);
				if (!f->is_array) {
					k.p = tbase + t->koff;
					k.n = t->kn;
					k.type = JSON_STRING;
					kplain =
					    (t->type & JSON_TAPE_KPLAIN) != 0;
				}
			}
		} else if (f->is_array)
			more = json_iter_elem_lazy(&f->it, &val);
		else
			more = json_iter_member_lazy(&f->it, &k, &val);
		if (!more) {
			if (--sp > 0 && tv == NULL)
				json_iter_resume(&st[sp - 1].it, &f->it);
			continue;
		}
		if (skip != NULL && val.p == skip) {
			if (val.n == 0)
				json_iter_skip(&f->it, &val);
			f->idx++;
			continue;
		}
		/* A key the tape did not find plain may still be. */
		if (!f->is_array && !kplain)
			kplain = json_str_plain(k);
		len = f->base;
		esc = f->esc || (f->has_prefix && sepesc);
		need = len + o->sepn + k.n + mg * (k.n / 4 + 1) + 32;
		grow(&r->kb, &r->kbcap, need);
		kb = r->kb;
		if (f->has_prefix) {
			memcpy(kb + len, o->sep, o->sepn);
			len += o->sepn;
		}
		if (f->is_array) {
			len += put_index(kb + len, f->idx);
		} else if (o->map != NULL) {
			grow(&r->cb, &r->cbcap, k.n);
			cb = r->cb;
			cn = kplain ? k.n - 2 : json_str_unescape(k, cb);
			if (kplain)
				memcpy(cb, k.p + 1, cn);
			if (cn > 3 && memmem(cb, cn, "cf_", 3) != NULL) {
				size_t mn =
				    map_component(o->map, cb, cn, kb + len);

				esc = esc || needs_escape(kb + len, mn);
				len += mn;
			} else {
				memcpy(kb + len, cb, cn);
				esc = esc || needs_escape(cb, cn);
				len += cn;
			}
		} else if (kplain) {
			/* Validated and without escapes: nothing to escape. */
			memcpy(kb + len, k.p + 1, k.n - 2);
			len += k.n - 2;
		} else {
			cn = json_str_unescape(k, kb + len);
			esc = esc || needs_escape(kb + len, cn);
			len += cn;
		}
		f->idx++;
		/* The key's hash from its level's words; kb has room to
		 * read its last word whole. */
		hw = hash_words(
		    f->hw, kb + f->base / 8 * 8, len / 8 - f->base / 8);
		tail = 0;
		if (len % 8 != 0) {
			memcpy(&tail, kb + len / 8 * 8, 8);
			tail &= ~0ull >> (64 - 8 * (len % 8));
		}
		if ((val.n == 0 || tv != NULL) &&
		    (val.type == JSON_OBJECT ||
			(val.type == JSON_ARRAY && !o->arrays_json)) &&
		    !starts_empty(val.p) &&
		    (o->max_depth == 0 || f->depth + 1 < o->max_depth)) {
			unsigned d = f->depth + 1;

			if (sp == r->stackcap) {
				r->stackcap *= 2;
				r->stack = xrealloc(
				    r->stack, r->stackcap * sizeof(*st));
				st = r->stack;
			}
			if (tv != NULL) {
				st[sp].ti = st[sp - 1].tcur + 1;
				st[sp].tend = tv[st[sp - 1].tcur].next;
			} else
				json_iter_enter(&st[sp].it, &st[sp - 1].it);
			f = &st[sp++];
			f->base = len;
			f->idx = 0;
			f->depth = d;
			f->is_array = val.type == JSON_ARRAY;
			f->has_prefix = 1;
			f->esc = esc;
			f->hw = hw;
			continue;
		}
		/* A container kept whole: its end, found now. */
		if (val.n == 0)
			json_iter_skip(&f->it, &val);
		if (val.type == JSON_OBJECT && empty_container(val))
			val.p = "{}", val.n = 2;
		else if (val.type == JSON_ARRAY && empty_container(val))
			val.p = "[]", val.n = 2;
		leaf(r, kb, len, hash_end(hw, tail, len), val, esc);
	}
}

/* Bytes that JSON strings must escape. */
static int
needs_escape(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == '"' || c == '\\')
			return 1;
	}
	return 0;
}

/*
 * The row as one JSON object: in place in the output buffer when its
 * names need no escaping and it fits (the common case), else piece by
 * piece.
 */
int
flat_write_ndjson(struct out *o, const struct flat_row *r)
{
	size_t i, need = 3;
	const struct flat_pair *p;
	char *d, *d0;

	for (i = 0; i < r->n; i++) {
		p = &r->pair[i];
		if (p->nesc)
			break;
		need += p->nlen + p->vn + 4;
	}
	if (i == r->n && (d0 = out_reserve(o, need)) != NULL) {
		d = d0;
		*d++ = '{';
		for (i = 0; i < r->n; i++) {
			p = &r->pair[i];
			if (i > 0)
				*d++ = ',';
			*d++ = '"';
			memcpy(d, r->keys + p->noff, p->nlen);
			d += p->nlen;
			*d++ = '"';
			*d++ = ':';
			memcpy(d, flat_val(r, p), p->vn);
			d += p->vn;
		}
		*d++ = '}';
		*d++ = '\n';
		out_advance(o, (size_t)(d - d0));
		return o->err ? -1 : 0;
	}
	out_putc(o, '{');
	for (i = 0; i < r->n; i++) {
		p = &r->pair[i];
		if (i > 0)
			out_putc(o, ',');
		out_json_str(o, r->keys + p->noff, p->nlen);
		out_putc(o, ':');
		out_write(o, flat_val(r, p), p->vn);
	}
	out_write(o, "}\n", 2);
	return o->err ? -1 : 0;
}

int
flat_write_text_field(struct out *o, const char *s, size_t n, int tsv)
{
	size_t i, st;

	if (tsv) {
		for (i = st = 0; i < n; i++) {
			const char *e;

			switch (s[i]) {
			case '\\':
				e = "\\\\";
				break;
			case '\t':
				e = "\\t";
				break;
			case '\n':
				e = "\\n";
				break;
			case '\r':
				e = "\\r";
				break;
			default:
				continue;
			}
			out_write(o, s + st, i - st);
			out_write(o, e, 2);
			st = i + 1;
		}
		return out_write(o, s + st, n - st);
	}
	/* RFC 4180: quote when needed; PostgreSQL also needs "" for the
	 * empty string (an empty field is NULL) and for \. alone. */
	for (i = 0; i < n; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
			break;
	if (i == n && n > 0 && !(n == 2 && s[0] == '\\' && s[1] == '.'))
		return out_write(o, s, n);
	out_putc(o, '"');
	for (i = st = 0; i < n; i++) {
		if (s[i] == '"') {
			out_write(o, s + st, i - st + 1);
			out_putc(o, '"');
			st = i + 1;
		}
	}
	out_write(o, s + st, n - st);
	return out_putc(o, '"');
}

/*
 * A string value's text with its escapes decoded (the JSON text v[0..vn),
 * quotes included, holds at least one), in a buffer the next call reuses.
 */
static const char *
unescaped(const char *v, size_t vn, size_t *n)
{
	static char *buf;
	static size_t cap;
	struct json_span s = { v, vn, JSON_STRING };

	grow(&buf, &cap, vn);
	*n = json_str_unescape(s, buf);
	return buf;
}

int
flat_text_check(const struct flat_row *r, const struct flat_pair *p)
{
	const char *v, *t;
	size_t n;
	int got = 0;

	/* Both need an escape in the JSON text: \u0000, \n or \r. */
	if (p == NULL || p->vt != JSON_STRING)
		return 0;
	v = flat_val(r, p);
	if (memchr(v + 1, '\\', p->vn - 2) == NULL)
		return 0;
	t = unescaped(v, p->vn, &n);
	if (memchr(t, '\0', n) != NULL)
		got |= FLAT_TEXT_NUL;
	/* psql's \copy ends the data at a line "\." (LF or CRLF after it),
	 * quoted or not; a value's first line follows its quote. */
	if (memmem(t, n, "\n\\.\n", 4) != NULL ||
	    memmem(t, n, "\n\\.\r\n", 5) != NULL)
		got |= FLAT_TEXT_ENDMARK;
	return got;
}

int
flat_write_field(
    struct out *o, const struct flat_row *r, const struct flat_pair *p, int tsv)
{
	const char *v, *t;
	size_t n;

	if (p == NULL || p->vt == JSON_NULL)
		return 0;
	v = flat_val(r, p);
	if (p->vt != JSON_STRING) {
		if (p->vt == JSON_NUMBER || p->vt == JSON_TRUE ||
		    p->vt == JSON_FALSE)
			return out_write(o, v, p->vn);
		return flat_write_text_field(o, v, p->vn, tsv);
	}
	if (memchr(v + 1, '\\', p->vn - 2) == NULL)
		return flat_write_text_field(o, v + 1, p->vn - 2, tsv);
	t = unescaped(v, p->vn, &n);
	return flat_write_text_field(o, t, n, tsv);
}

size_t
flat_rewrite_dates(
    struct json_span v, enum flat_dates dates, char **buf, size_t *cap)
{
	const char *p = v.p, *e = v.p + v.n, *q, *s, *t;
	char tmp[80];
	size_t n = 0;
	enum json_type ty;
	int k;

	grow(buf, cap, v.n + 64);
	while (p < e) {
		q = memchr(p, '"', (size_t)(e - p));
		if (q == NULL)
			q = e;
		grow(buf, cap, n + (size_t)(q - p) + 80);
		memcpy(*buf + n, p, (size_t)(q - p));
		n += (size_t)(q - p);
		if (q == e)
			break;
		/* The string's end: validated text, so escapes are sound. */
		for (s = q + 1; *s != '"'; s++)
			if (*s == '\\')
				s++;
		s++;
		for (t = s; t < e &&
		     (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n');
		     t++)
			;
		if ((t == e || *t != ':') &&
		    (k = date_conv(q, (size_t)(s - q), dates, tmp, &ty)) > 0) {
			memcpy(*buf + n, tmp, (size_t)k);
			n += (size_t)k;
		} else {
			grow(buf, cap, n + (size_t)(s - q) + 80);
			memcpy(*buf + n, q, (size_t)(s - q));
			n += (size_t)(s - q);
		}
		p = s;
	}
	return n;
}

struct flat_map *
flat_map_new(struct json_span list, const char **why)
{
	struct flat_map *m;
	struct json_iter it;
	struct json_span el, id, name;
	size_t i, b;

	if (list.type != JSON_ARRAY) {
		*why = "not a JSON list";
		return NULL;
	}
	m = xrealloc(NULL, sizeof(*m));
	memset(m, 0, sizeof(*m));
	json_iter_init(&it, list);
	while (json_iter_elem(&it, &el)) {
		if (el.type != JSON_OBJECT ||
		    !json_object_get(el, "id", 2, &id) ||
		    !json_object_get(el, "name", 4, &name) ||
		    id.type != JSON_STRING || name.type != JSON_STRING) {
			*why = "an element is not {\"id\": STRING, "
			       "\"name\": STRING}";
			flat_map_free(m);
			return NULL;
		}
		if ((m->n & (m->n - 1)) == 0)
			m->v = xrealloc(
			    m->v, (m->n ? 2 * m->n : 1) * sizeof(*m->v));
		m->v[m->n].id = xrealloc(NULL, id.n);
		m->v[m->n].idn = json_str_unescape(id, m->v[m->n].id);
		m->v[m->n].name = xrealloc(NULL, name.n);
		m->v[m->n].namen = json_str_unescape(name, m->v[m->n].name);
		if (m->v[m->n].namen > m->maxname)
			m->maxname = m->v[m->n].namen;
		m->n++;
	}
	for (m->htcap = 16; m->htcap < 2 * m->n + 2; m->htcap *= 2)
		;
	m->ht = xrealloc(NULL, m->htcap * sizeof(int32_t));
	memset(m->ht, 0xff, m->htcap * sizeof(int32_t));
	for (i = 0; i < m->n; i++) {
		b = hash(m->v[i].id, m->v[i].idn) & (m->htcap - 1);
		while (m->ht[b] >= 0)
			b = (b + 1) & (m->htcap - 1);
		m->ht[b] = (int32_t)i;
	}
	return m;
}

void
flat_map_free(struct flat_map *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++) {
		free(m->v[i].id);
		free(m->v[i].name);
	}
	free(m->v);
	free(m->ht);
	free(m);
}

const char *
flat_map_get(const struct flat_map *m, const char *id, size_t n, size_t *namen)
{
	size_t b;
	int32_t found = -1;

	if (m == NULL || m->htcap == 0)
		return NULL;
	/* Probe the whole run: with duplicate ids the last one wins. */
	for (b = hash(id, n) & (m->htcap - 1); m->ht[b] >= 0;
	     b = (b + 1) & (m->htcap - 1)) {
		const struct mapent *e = &m->v[m->ht[b]];

		if (e->idn == n && memcmp(e->id, id, n) == 0 &&
		    m->ht[b] > found)
			found = m->ht[b];
	}
	if (found < 0)
		return NULL;
	*namen = m->v[found].namen;
	return m->v[found].name;
}
