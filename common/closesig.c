/*
 * closesig.c - checking one Close webhook signature; see closesig.h.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "closesig.h"
#include "hmac.h"
#include "json.h"

static const char *const reason_name[CLOSESIG_COUNT] = {
	"malformed-capture",
	"missing-signature",
	"missing-timestamp",
	"bad-timestamp",
	"stale-timestamp",
	"future-timestamp",
	"bad-signature",
	"no-key",
	"signature-mismatch",
	"body-not-json",
	"line-too-long",
};

const char *
closesig_reason_name(enum closesig_reason r)
{
	return r >= 0 && r < CLOSESIG_COUNT ? reason_name[r] : "ok";
}

int
closesig_for_key(enum closesig_reason r)
{
	return r == CLOSESIG_NO_KEY || r == CLOSESIG_MISMATCH;
}

/* Parse the timestamp header: ASCII decimal seconds, nothing else. */
static int
parse_ts(const char *p, size_t n, int64_t *ts)
{
	int64_t v = 0;
	size_t i;

	if (n == 0 || n > 15)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	*ts = v;
	return 0;
}

/*
 * The subscription named in a body, to pick bound keys: the top-level
 * "subscription_id" string.  Returns its length (0 when absent, not a
 * string, or longer than any key file can name).
 */
static size_t
body_subscription(struct json_span root, const struct json_top *top, char *sub)
{
	struct json_span v = { NULL, 0, JSON_NONE };
	size_t i;

	if (top->n > top->max) {
		if (!json_object_get(root, "subscription_id", 15, &v))
			return 0;
	} else
		for (i = 0; i < top->n; i++)
			if (json_str_eq(top->m[i].key, "subscription_id", 15))
				v = top->m[i].val; /* the last one wins */
	if (v.type != JSON_STRING || v.n - 2 > KEYRING_SUB_MAX)
		return 0;
	return json_str_unescape(v, sub);
}

/* A message past its checks before the keys, and where its keys stand. */
struct keyed {
	unsigned char want[HMAC_LEN];
	char sub[KEYRING_SUB_MAX + 2];
	size_t subn;
	size_t i; /* the next applicable key */
	int tried;
};

/*
 * What decides before any HMAC: the timestamp, the signature's form, the
 * window, the body as JSON, and the subscription it names for bound keys.
 * Returns CLOSESIG_OK when the keys are to be tried (k set up), else the
 * reason of the reject.
 */
/* The headers' part: the timestamp and its window, the signature's form. */
static enum closesig_reason
check_headers(int64_t max_age, int64_t ref, const char *ts, size_t tsn,
    const char *sig, size_t sign, unsigned char want[HMAC_LEN])
{
	int64_t t;

	if (parse_ts(ts, tsn, &t) != 0)
		return CLOSESIG_BAD_TS;
	if (sign != 2 * HMAC_LEN ||
	    hmac_hex_decode(sig, sign, want, HMAC_LEN) != HMAC_LEN)
		return CLOSESIG_BAD_SIG;
	if (max_age > 0) {
		if (t < ref - max_age)
			return CLOSESIG_STALE;
		if (t > ref + max_age)
			return CLOSESIG_FUTURE;
	}
	return CLOSESIG_OK;
}

enum closesig_reason
closesig_check_headers(int64_t max_age, int64_t ref, const char *ts, size_t tsn,
    const char *sig, size_t sign)
{
	unsigned char want[HMAC_LEN];

	return check_headers(max_age, ref, ts, tsn, sig, sign, want);
}

static enum closesig_reason
prepare(const struct keyring *keys, int64_t max_age,
    const struct closesig_msg *m, struct keyed *k)
{
	struct json_member mb[16];
	struct json_top top = { .m = mb, .max = 16, .utf8 = m->utf8 };
	struct json_span root;
	enum closesig_reason r;

	if ((r = check_headers(max_age, m->ref, m->ts, m->tsn, m->sig, m->sign,
		 k->want)) != CLOSESIG_OK)
		return r;
	/* The body is verified over its exact bytes: never re-serialised. */
	if (json_parse_top(m->body, m->bodyn, &root, &top, NULL) != 0 ||
	    root.type != JSON_OBJECT)
		return CLOSESIG_NOT_JSON;
	/* Only bound keys need the subscription: skip the lookup without. */
	k->subn = keys->nbound > 0 ? body_subscription(root, &top, k->sub) : 0;
	k->i = keyring_next(keys, 0, k->sub, k->subn);
	k->tried = 0;
	return CLOSESIG_OK;
}

/*
 * The applicable keys in the key file's order from k->i on, until one
 * gives the signature: rotation means several may apply, and the new key,
 * listed first, signs nearly all.  Each compare is constant-time;
 * stopping at a match tells only which listed key signed a genuine
 * signature, and a forged one is compared with every key.
 */
static enum closesig_reason
try_keys(
    const struct keyring *keys, const struct closesig_msg *m, struct keyed *k)
{
	unsigned char got[HMAC_LEN];
	int match = 0;

	for (; k->i < keys->n && !match;
	     k->i = keyring_next(keys, k->i + 1, k->sub, k->subn)) {
		hmac_close_sig(
		    &keys->v[k->i].hk, m->ts, m->tsn, m->body, m->bodyn, got);
		match = hmac_equal(got, k->want, HMAC_LEN);
		k->tried = 1;
	}
	if (!k->tried)
		return CLOSESIG_NO_KEY;
	return match ? CLOSESIG_OK : CLOSESIG_MISMATCH;
}

enum closesig_reason
closesig_check_msg(
    const struct keyring *keys, int64_t max_age, const struct closesig_msg *m)
{
	struct keyed k;
	enum closesig_reason r;

	if ((r = prepare(keys, max_age, m, &k)) != CLOSESIG_OK)
		return r;
	return try_keys(keys, m, &k);
}

void
closesig_check_pair(const struct keyring *keys, int64_t max_age,
    const struct closesig_msg m[2], enum closesig_reason r[2])
{
	unsigned char got[2][HMAC_LEN];
	struct keyed k[2];
	int j;

	for (j = 0; j < 2; j++)
		r[j] = prepare(keys, max_age, &m[j], &k[j]);
	/* Both have a first key: the two HMACs at once (hmac.h). */
	if (r[0] == CLOSESIG_OK && r[1] == CLOSESIG_OK && k[0].i < keys->n &&
	    k[1].i < keys->n) {
		struct hmac_msg h[2];

		for (j = 0; j < 2; j++) {
			h[j].k = &keys->v[k[j].i].hk;
			h[j].a = m[j].ts;
			h[j].an = m[j].tsn;
			h[j].b = m[j].body;
			h[j].bn = m[j].bodyn;
			h[j].out = got[j];
		}
		hmac_sha256_pair(h);
		/* Then the next keys of one that did not match, if any. */
		for (j = 0; j < 2; j++) {
			if (hmac_equal(got[j], k[j].want, HMAC_LEN))
				continue; /* r[j] stays CLOSESIG_OK */
			k[j].tried = 1;
			k[j].i =
			    keyring_next(keys, k[j].i + 1, k[j].sub, k[j].subn);
			r[j] = try_keys(keys, &m[j], &k[j]);
		}
		return;
	}
	for (j = 0; j < 2; j++)
		if (r[j] == CLOSESIG_OK)
			r[j] = try_keys(keys, &m[j], &k[j]);
}

enum closesig_reason
closesig_check(const struct keyring *keys, int64_t max_age, int64_t ref,
    const char *ts, size_t tsn, const char *sig, size_t sign, const char *body,
    size_t bodyn)
{
	struct closesig_msg m = { ref, ts, tsn, sig, sign, body, bodyn, 0 };

	return closesig_check_msg(keys, max_age, &m);
}

/* Python json.dumps(ensure_ascii=True) of a JSON string's contents. */
static char *
py_string(struct json_span s, char *dst, char *tmp)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = json_str_unescape(s, tmp), i = 0;

	*dst++ = '"';
	while (i < n) {
		unsigned char c = (unsigned char)tmp[i];
		unsigned long cp;
		int len;

		if (c < 0x80) {
			i++;
			switch (c) {
			case '"':
				*dst++ = '\\';
				*dst++ = '"';
				continue;
			case '\\':
				*dst++ = '\\';
				*dst++ = '\\';
				continue;
			case '\n':
				*dst++ = '\\';
				*dst++ = 'n';
				continue;
			case '\r':
				*dst++ = '\\';
				*dst++ = 'r';
				continue;
			case '\t':
				*dst++ = '\\';
				*dst++ = 't';
				continue;
			case '\b':
				*dst++ = '\\';
				*dst++ = 'b';
				continue;
			case '\f':
				*dst++ = '\\';
				*dst++ = 'f';
				continue;
			}
			/* ensure_ascii escapes all but ' ' to '~'. */
			if (c >= 0x20 && c != 0x7f) {
				*dst++ = (char)c;
				continue;
			}
			cp = c;
		} else {
			/* Validated UTF-8: the lead byte says the length. */
			len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0f : 0x1f);
			while (--len > 0)
				cp = cp << 6 | ((unsigned char)tmp[++i] & 0x3f);
			i++;
		}
		if (cp >= 0x10000) {
			unsigned long v = cp - 0x10000, hi = 0xd800 | v >> 10,
				      lo = 0xdc00 | (v & 0x3ff);

			*dst++ = '\\';
			*dst++ = 'u';
			*dst++ = hex[hi >> 12];
			*dst++ = hex[hi >> 8 & 15];
			*dst++ = hex[hi >> 4 & 15];
			*dst++ = hex[hi & 15];
			cp = lo;
		}
		*dst++ = '\\';
		*dst++ = 'u';
		*dst++ = hex[cp >> 12 & 15];
		*dst++ = hex[cp >> 8 & 15];
		*dst++ = hex[cp >> 4 & 15];
		*dst++ = hex[cp & 15];
	}
	*dst++ = '"';
	return dst;
}

static char *
py_value(struct json_span v, char *dst, char *tmp)
{
	struct json_span k, e;
	struct json_iter it;
	int first = 1;

	switch (v.type) {
	case JSON_OBJECT:
		*dst++ = '{';
		json_iter_init(&it, v);
		while (json_iter_member(&it, &k, &e)) {
			if (!first) {
				*dst++ = ',';
				*dst++ = ' ';
			}
			first = 0;
			dst = py_string(k, dst, tmp);
			*dst++ = ':';
			*dst++ = ' ';
			dst = py_value(e, dst, tmp);
		}
		*dst++ = '}';
		return dst;
	case JSON_ARRAY:
		*dst++ = '[';
		json_iter_init(&it, v);
		while (json_iter_elem(&it, &e)) {
			if (!first) {
				*dst++ = ',';
				*dst++ = ' ';
			}
			first = 0;
			dst = py_value(e, dst, tmp);
		}
		*dst++ = ']';
		return dst;
	case JSON_STRING:
		return py_string(v, dst, tmp);
	default:
		/* Numbers and literals as written. */
		memcpy(dst, v.p, v.n);
		return dst + v.n;
	}
}

long
closesig_reserialize(const char *body, size_t n, char *dst)
{
	struct json_span root;
	char *tmp, *end;

	if (json_parse(body, n, &root, NULL) != 0)
		return -1;
	tmp = xmalloc(n + 1);
	end = py_value(root, dst, tmp);
	free(tmp);
	return (long)(end - dst);
}

/* Does any key tried match mac over a || b?  Sets *which. */
static int
match_any(const struct keyring *keys, const struct closesig_explain *ex,
    int text, const void *a, size_t an, const void *b, size_t bn,
    const unsigned char *want, size_t *which)
{
	unsigned char got[HMAC_LEN];
	size_t i;

	for (i = 0; i < ex->ntried; i++) {
		const struct keyring_entry *e = &keys->v[ex->tried[i]];

		if (text && !e->has_text)
			continue;
		hmac_sha256(text ? &e->hk_text : &e->hk, a, an, b, bn, got);
		if (hmac_equal(got, want, HMAC_LEN)) {
			*which = ex->tried[i];
			return 1;
		}
	}
	return 0;
}

/* Does a key the body's subscription does not apply to match as given? */
static int
match_other(const struct keyring *keys, const struct closesig_explain *ex,
    const char *ts, size_t tsn, const char *body, size_t bodyn,
    const unsigned char *want, size_t *which)
{
	unsigned char got[HMAC_LEN];
	size_t i;

	for (i = 0; i < keys->n; i++) {
		const struct keyring_entry *e = &keys->v[i];

		/* Bound to another subscription than the body's. */
		if (e->sublen == 0 ||
		    (ex->have_sub && e->sublen == strlen(ex->sub) &&
			memcmp(e->sub, ex->sub, e->sublen) == 0))
			continue;
		hmac_sha256(&e->hk, ts, tsn, body, bodyn, got);
		if (hmac_equal(got, want, HMAC_LEN)) {
			*which = i;
			return 1;
		}
	}
	return 0;
}

/* body[0..n) with each CRLF made LF, into dst (room for n): the length. */
static size_t
lf_only(const char *body, size_t n, char *dst)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		if (!(body[i] == '\r' && i + 1 < n && body[i + 1] == '\n'))
			dst[k++] = body[i];
	return k;
}

/*
 * The body as an editor saves it back, undone: a byte-order mark before
 * it, CRLF line ends and a final newline, all at once.  Returns the length
 * written to dst (room for n bytes).
 */
static size_t
unsaved(const char *body, size_t n, char *dst)
{
	size_t k;

	if (n >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0) {
		body += 3;
		n -= 3;
	}
	k = lf_only(body, n, dst);
	while (k > 0 && (dst[k - 1] == '\n' || dst[k - 1] == '\r'))
		k--;
	return k;
}

/*
 * The body still escaped as a JSON string, as a log or a tool printed it
 * ("{\"event\": ...}", with or without its quotes), decoded into dst (room
 * for n + 2 bytes): its length, or -1 when it is not such a string.
 */
static long
unquoted(const char *body, size_t n, char *dst)
{
	struct json_span s;

	while (n > 0 &&
	    (body[n - 1] == '\n' || body[n - 1] == '\r' || body[n - 1] == ' '))
		n--;
	if (n >= 2 && body[0] == '"' && body[n - 1] == '"') {
		s.p = body;
		s.n = n;
		s.type = JSON_STRING;
		return json_str_decode(s, dst, NULL);
	}
	if (n < 3 || memcmp(body, "{\\\"", 3) != 0)
		return -1;
	/* Without its quotes: decode it as the string it was. */
	{
		char *q = xmalloc(n + 2);
		long r;

		q[0] = '"';
		memcpy(q + 1, body, n);
		q[n + 1] = '"';
		s.p = q;
		s.n = n + 2;
		s.type = JSON_STRING;
		r = json_str_decode(s, dst, NULL);
		free(q);
		return r;
	}
}

void
closesig_explain(const struct keyring *keys, int64_t ref, const char *ts,
    size_t tsn, const char *sig, size_t sign, const char *body, size_t bodyn,
    struct closesig_explain *ex)
{
	unsigned char want[HMAC_LEN], h[crypto_hash_sha256_BYTES];
	struct json_member m[16];
	struct json_top top = { .m = m, .max = 16 };
	struct json_span root;
	struct json_error jerr = { 0, NULL };
	char *alt, tsbuf[24];
	size_t i, subn = 0, altn, w;
	long rn;
	int d;

	memset(ex, 0, sizeof(*ex));
	ex->have_ts = parse_ts(ts, tsn, &ex->ts) == 0;
	/* Seconds that far ahead are milliseconds (year 5138 on). */
	ex->ts_millis = ex->have_ts && ex->ts >= 100000000000LL;
	if (ex->have_ts)
		ex->age = ref - ex->ts;
	ex->sig_hex = sign == 2 * HMAC_LEN &&
	    hmac_hex_decode(sig, sign, want, sizeof(want)) == HMAC_LEN;
	ex->body_bytes = bodyn;
	ex->body_gzip = bodyn >= 2 && (unsigned char)body[0] == 0x1f &&
	    (unsigned char)body[1] == 0x8b;
	crypto_hash_sha256(h, (const unsigned char *)body, bodyn);
	sodium_bin2hex(ex->body_sha256, sizeof(ex->body_sha256), h, sizeof(h));
	if (json_parse_top(body, bodyn, &root, &top, &jerr) != 0) {
		ex->body_err_off = jerr.off;
		ex->body_err_msg = jerr.msg;
	} else if (root.type != JSON_OBJECT)
		ex->body_err_msg = "not an object";
	else
		ex->body_json = 1;
	if (ex->body_json &&
	    (subn = body_subscription(root, &top, ex->sub)) > 0)
		ex->have_sub = 1;
	ex->sub[subn] = '\0';
	/* Not JSON: whatever subscription it was for cannot be read. */
	for (i = ex->body_json ? keyring_next(keys, 0, ex->sub, subn) : 0;
	     i < keys->n;
	     i = ex->body_json ? keyring_next(keys, i + 1, ex->sub, subn)
			       : i + 1) {
		if (ex->ntried < CLOSESIG_EXPLAIN_KEYS)
			ex->tried[ex->ntried++] = i;
		ex->napplicable++;
	}
	if (!ex->sig_hex || ex->ntried == 0 || !ex->have_ts)
		return;
	if (match_any(keys, ex, 0, ts, tsn, body, bodyn, want, &w)) {
		ex->signature_valid = 1;
		return;
	}
	/* The usual mistakes, most common first. */
	if (bodyn >= 1 && body[bodyn - 1] == '\n') {
		altn = bodyn - (bodyn >= 2 && body[bodyn - 2] == '\r' ? 2 : 1);
		if (match_any(keys, ex, 0, ts, tsn, body, altn, want, &w) ||
		    match_any(
			keys, ex, 0, ts, tsn, body, bodyn - 1, want, &w)) {
			ex->cause = "trailing-newline-added";
			ex->cause_key = w;
			return;
		}
	}
	if (bodyn >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0 &&
	    match_any(keys, ex, 0, ts, tsn, body + 3, bodyn - 3, want, &w)) {
		ex->cause = "bom-added";
		ex->cause_key = w;
		return;
	}
	alt = xmalloc(7 * bodyn + 16);
	if (memmem(body, bodyn, "\r\n", 2) != NULL) {
		altn = lf_only(body, bodyn, alt);
		if (match_any(keys, ex, 0, ts, tsn, alt, altn, want, &w)) {
			ex->cause = "crlf-line-endings";
			goto found;
		}
	}
	if ((altn = unsaved(body, bodyn, alt)) != bodyn &&
	    match_any(keys, ex, 0, ts, tsn, alt, altn, want, &w)) {
		ex->cause = "saved-by-an-editor";
		goto found;
	}
	if ((rn = closesig_reserialize(body, bodyn, alt)) >= 0 &&
	    ((size_t)rn != bodyn || memcmp(alt, body, bodyn) != 0) &&
	    match_any(keys, ex, 0, ts, tsn, alt, (size_t)rn, want, &w)) {
		ex->cause = "reserialized-body";
		goto found;
	}
	if ((rn = unquoted(body, bodyn, alt)) >= 0 &&
	    match_any(keys, ex, 0, ts, tsn, alt, (size_t)rn, want, &w)) {
		ex->cause = "json-escaped-body";
		goto found;
	}
	if (match_any(keys, ex, 1, ts, tsn, body, bodyn, want, &w)) {
		ex->cause = "key-as-text";
		goto found;
	}
	if (match_any(keys, ex, 0, body, bodyn, ts, tsn, want, &w)) {
		ex->cause = "body-before-timestamp";
		goto found;
	}
	for (d = 1; d <= 300; d++) {
		int s;

		for (s = -1; s <= 1; s += 2) {
			int64_t t = ex->ts + s * d;
			int n;

			if (t < 0)
				continue;
			n = snprintf(
			    tsbuf, sizeof(tsbuf), "%lld", (long long)t);
			if (match_any(keys, ex, 0, tsbuf, (size_t)n, body,
				bodyn, want, &w)) {
				ex->cause = "timestamp-changed";
				ex->cause_ts = t;
				goto found;
			}
		}
	}
	/* A timestamp in milliseconds beside a signature made in seconds. */
	if (ex->ts_millis) {
		int n = snprintf(
		    tsbuf, sizeof(tsbuf), "%lld", (long long)(ex->ts / 1000));

		if (match_any(
			keys, ex, 0, tsbuf, (size_t)n, body, bodyn, want, &w)) {
			ex->cause = "timestamp-in-milliseconds";
			ex->cause_ts = ex->ts / 1000;
			goto found;
		}
	}
	if (match_other(keys, ex, ts, tsn, body, bodyn, want, &w)) {
		ex->cause = "key-of-another-subscription";
		goto found;
	}
	ex->cause = ex->body_json ? "wrong-key" : "body-damaged";
	free(alt);
	return;
found:
	ex->cause_key = w;
	free(alt);
}
