/*
 * closesig.c - checking one Close webhook signature; see closesig.h.
 */
#include <string.h>

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
	if (v.type != JSON_STRING || v.n - 2 > KEYS_SUB_MAX)
		return 0;
	return json_str_unescape(v, sub);
}

enum closesig_reason
closesig_check(const struct keyring *keys, int64_t max_age, int64_t ref,
    const char *ts, size_t tsn, const char *sig, size_t sign, const char *body,
    size_t bodyn)
{
	unsigned char want[HMAC_LEN], got[HMAC_LEN];
	char sub[KEYS_SUB_MAX + 2];
	struct json_member m[16];
	struct json_top top = { .m = m, .max = 16 };
	struct json_span root;
	int64_t t;
	size_t subn, i;
	int tried = 0, match = 0;

	if (parse_ts(ts, tsn, &t) != 0)
		return CLOSESIG_BAD_TS;
	if (sign != 2 * HMAC_LEN ||
	    hmac_hex_decode(sig, sign, want, sizeof(want)) != HMAC_LEN)
		return CLOSESIG_BAD_SIG;
	if (max_age > 0) {
		if (t < ref - max_age)
			return CLOSESIG_STALE;
		if (t > ref + max_age)
			return CLOSESIG_FUTURE;
	}
	/* The body is verified over its exact bytes: never re-serialised. */
	if (json_parse_top(body, bodyn, &root, &top, NULL) != 0 ||
	    root.type != JSON_OBJECT)
		return CLOSESIG_NOT_JSON;
	/* Only bound keys need the subscription: skip the lookup without. */
	subn = keys->nbound > 0 ? body_subscription(root, &top, sub) : 0;
	/* Try every applicable key; rotation means several may apply. */
	for (i = keyring_next(keys, 0, sub, subn); i < keys->n;
	     i = keyring_next(keys, i + 1, sub, subn)) {
		hmac_close_sig(&keys->v[i].hk, ts, tsn, body, bodyn, got);
		match |= hmac_equal(got, want, HMAC_LEN);
		tried = 1;
	}
	if (!tried)
		return CLOSESIG_NO_KEY;
	return match ? CLOSESIG_OK : CLOSESIG_MISMATCH;
}
