/*
 * closesig.h - checking one Close webhook signature: the timestamp header,
 * the replay window, and HMAC-SHA256(key, timestamp || raw body) against
 * the keys of a key ring that apply to the subscription the body names, in
 * the ring's order, until one matches.
 *
 * Shared by closehook-verify (downstream, over captures) and
 * closehook-receive (at the door), so both give the same answer and the
 * same reason names, which closehook-verify(1) documents.  Nothing is
 * allocated; the key ring is the caller's and is only read, so threads
 * may share it (hmac.h).
 */
#ifndef CLOSEHOOK_CLOSESIG_H
#define CLOSEHOOK_CLOSESIG_H

#include <stddef.h>
#include <stdint.h>

#include "keyring.h"

/* The reject reasons, exactly as documented in closehook-verify(1). */
enum closesig_reason {
	CLOSESIG_OK = -1,
	CLOSESIG_MALFORMED,
	CLOSESIG_MISSING_SIG,
	CLOSESIG_MISSING_TS,
	CLOSESIG_BAD_TS,
	CLOSESIG_STALE,
	CLOSESIG_FUTURE,
	CLOSESIG_BAD_SIG,
	CLOSESIG_NO_KEY,
	CLOSESIG_MISMATCH,
	CLOSESIG_NOT_JSON,
	CLOSESIG_TOO_LONG,
	CLOSESIG_COUNT
};

/* "signature-mismatch", ...; r must lie in [0, CLOSESIG_COUNT). */
const char *closesig_reason_name(enum closesig_reason r);

/*
 * Refused for its key (no-key, signature-mismatch): what a key file that
 * changed since it was read may answer (keyring_changed).
 */
int closesig_for_key(enum closesig_reason r);

/*
 * The part of closesig_check that needs no body and no key: the timestamp
 * (a number within max_age seconds of ref, max_age 0: no window) and the
 * signature's form (64 hex digits).  A receiver asks it before it reads,
 * or reserves memory for, a body that can only be refused.
 */
enum closesig_reason closesig_check_headers(int64_t max_age, int64_t ref,
    const char *ts, size_t tsn, const char *sig, size_t sign);

/*
 * Check one message: the header values ts and sig as received and the raw
 * body.  The timestamp must lie within max_age seconds of ref (max_age 0:
 * no window).  Returns CLOSESIG_OK or the reason of the reject.
 */
enum closesig_reason closesig_check(const struct keyring *, int64_t max_age,
    int64_t ref, const char *ts, size_t tsn, const char *sig, size_t sign,
    const char *body, size_t bodyn);

/*
 * One message: the arguments of closesig_check, and utf8 set when the body
 * is known to be valid UTF-8, as the "body" string of a capture decodes
 * to: the same answer, without checking the body's UTF-8 again while it
 * is validated as JSON.
 */
struct closesig_msg {
	int64_t ref;
	const char *ts;
	size_t tsn;
	const char *sig;
	size_t sign;
	const char *body;
	size_t bodyn;
	int utf8;
};
enum closesig_reason closesig_check_msg(
    const struct keyring *, int64_t max_age, const struct closesig_msg *);

/*
 * Check two messages, each as closesig_check_msg would, into r[0] and
 * r[1]: the same answers, the first HMAC of each computed at once
 * (hmac_sha256_pair), for a program with a flood of them.
 */
void closesig_check_pair(const struct keyring *, int64_t max_age,
    const struct closesig_msg m[2], enum closesig_reason r[2]);

/* At most this many applicable keys are listed in an explanation. */
#define CLOSESIG_EXPLAIN_KEYS 16

/*
 * Why a message fails, for closehook-verify --explain: the facts, and the
 * usual mistake that makes the signature match, tried with every applicable
 * key.  The HMAC is always computed, the window ignored, so "stale but
 * genuine" and "stale and forged" differ.  Nothing here is a secret: keys
 * appear as fingerprints (keys.h).
 */
struct closesig_explain {
	int have_ts; /* the timestamp parsed */
	int64_t ts;
	int64_t age; /* ref - ts: negative is in the future */
	int ts_millis; /* the timestamp reads as milliseconds */
	int sig_hex; /* the signature is 64 hex digits */
	int body_json; /* the body is a JSON object */
	int body_gzip; /* the body starts as gzip data does (1f 8b) */
	/* When it is not: where its parse failed, and why (static text). */
	size_t body_err_off;
	const char *body_err_msg;
	int signature_valid; /* as given, with some applicable key */
	size_t body_bytes;
	char body_sha256[65];
	int have_sub; /* the body names a subscription */
	char sub[KEYRING_SUB_MAX + 1];
	size_t tried[CLOSESIG_EXPLAIN_KEYS]; /* indexes into the ring */
	size_t ntried, napplicable;
	/*
	 * When the signature does not match as given: the first mistake that
	 * makes it match ("trailing-newline-added", "bom-added",
	 * "crlf-line-endings", "saved-by-an-editor" (the three at once),
	 * "reserialized-body", "json-escaped-body", "key-as-text",
	 * "body-before-timestamp", "timestamp-changed",
	 * "timestamp-in-milliseconds", "key-of-another-subscription": one
	 * the key file binds to a subscription the body does not name),
	 * else "body-damaged"
	 * when the body is not a JSON object (cut short, or changed past
	 * repair: no key can be judged on it), else "wrong-key"; NULL when
	 * there is nothing to try (no applicable key, or a signature that is
	 * not hex).  A body that is not JSON names no subscription that can
	 * be read, so every key of the ring applies to it.
	 */
	const char *cause;
	size_t cause_key; /* the ring index of the key that matched */
	int64_t cause_ts; /* timestamp-changed, -in-milliseconds: the one
			     that matched */
};

/*
 * Explain one message (the arguments of closesig_check, the window left
 * out).  The ring must have been loaded with_text for key-as-text to be
 * tried.
 */
void closesig_explain(const struct keyring *, int64_t ref, const char *ts,
    size_t tsn, const char *sig, size_t sign, const char *body, size_t bodyn,
    struct closesig_explain *);

/*
 * The body serialised as Close serialises it (Python's json.dumps
 * defaults: ", " and ": " separators, members in their order, non-ASCII
 * as \uXXXX) into dst, which has room for 7 * n + 16 bytes.  Returns the
 * length, or -1 when the body is not JSON.
 */
long closesig_reserialize(const char *body, size_t n, char *dst);

#endif
