/*
 * closesig.h - checking one Close webhook signature: the timestamp header,
 * the replay window, and HMAC-SHA256(key, timestamp || raw body) against
 * every key of a key ring that applies to the subscription the body names.
 *
 * Shared by closehook-verify (downstream, over captures) and
 * closehook-receive (at the door), so both give the same answer and the
 * same reason names, which closehook-verify(1) documents.  Nothing is
 * allocated; the key ring is the caller's.  A check uses the ring's scratch
 * hashing contexts, so one ring serves one thread at a time.
 */
#ifndef CLOSEHOOK_CLOSESIG_H
#define CLOSEHOOK_CLOSESIG_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

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
 * Check one message: the header values ts and sig as received and the raw
 * body.  The timestamp must lie within max_age seconds of ref (max_age 0:
 * no window).  Returns CLOSESIG_OK or the reason of the reject.
 */
enum closesig_reason closesig_check(const struct keyring *, int64_t max_age,
    int64_t ref, const char *ts, size_t tsn, const char *sig, size_t sign,
    const char *body, size_t bodyn);

#endif
