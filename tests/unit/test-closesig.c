/*
 * test-closesig.c - one Close signature check: each reason it gives, in
 * its order, the window, bound and unbound keys, rotation.
 */
#include <sodium.h>
#include <string.h>

#include "closesig.h"
#include "json.h"
#include "tap.h"

static const char kav_key[] =
    "b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab042eb8abb4";
static const char other_key[] =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
static const char kav_ts[] = "1557751596";
static const char kav_sig[] =
    "e6cf27a55de463dc46d8b5c16d2afe74d766e8f0c9892422c93573521cd377ed";
static const char kav_body[] =
    "{\"event\": {\"id\": \"ev_4YUAT9G7PQNYEX0V7HpiZa\", \"date_created\": "
    "\"2019-01-01T13:33:00.842000\", \"data\": {\"object_type\": "
    "\"activity.note\", \"action\": \"created\", \"note\": \"test content\"}},"
    " \"subscription_id\": \"whsub_mBTylJxRXaBOXcuQmgUdmL\"}";

/*
 * closesig_check_pair must say of each message what closesig_check says:
 * the message beside itself (both first keys fail together where a
 * second signs), and beside the CLOSE.md vector, either way round.
 */
static void
pairs(const struct keyring *k, int64_t max_age, int64_t ref, const char *ts,
    const char *sig, const char *body, enum closesig_reason want)
{
	static const char *const what[3] = { "pair with itself",
		"pair with the vector", "the vector, then the pair" };
	struct closesig_msg m = { ref, ts, strlen(ts), sig, strlen(sig), body,
		strlen(body), 0 },
			    v = { ref, kav_ts, strlen(kav_ts), kav_sig,
				    strlen(kav_sig), kav_body, strlen(kav_body),
				    1 };
	enum closesig_reason vwant = closesig_check_msg(k, max_age, &v), r[2];
	const struct closesig_msg two[3][2] = { { m, m }, { m, v }, { v, m } };
	const enum closesig_reason wants[3][2] = { { want, want },
		{ want, vwant }, { vwant, want } };
	int i;

	for (i = 0; i < 3; i++) {
		closesig_check_pair(k, max_age, two[i], r);
		if (r[0] != wants[i][0] || r[1] != wants[i][1])
			ok(0, "%s: %s and %s, alone %s and %s", what[i],
			    closesig_reason_name(r[0]),
			    closesig_reason_name(r[1]),
			    closesig_reason_name(wants[i][0]),
			    closesig_reason_name(wants[i][1]));
	}
}

/*
 * closesig_check; every body that is valid UTF-8 also goes through
 * closesig_check_msg with utf8 set, which must give the same answer.
 */
static enum closesig_reason
check(const struct keyring *k, int64_t max_age, int64_t ref, const char *ts,
    const char *sig, const char *body)
{
	enum closesig_reason r = closesig_check(k, max_age, ref, ts, strlen(ts),
				 sig, strlen(sig), body, strlen(body)),
			     r8;

	if (json_utf8_valid(body, strlen(body))) {
		struct closesig_msg m = { ref, ts, strlen(ts), sig, strlen(sig),
			body, strlen(body), 1 };

		r8 = closesig_check_msg(k, max_age, &m);
		if (r8 != r)
			ok(0,
			    "utf8 set, closesig_check_msg says %s, "
			    "closesig_check %s",
			    closesig_reason_name(r8), closesig_reason_name(r));
	}
	pairs(k, max_age, ref, ts, sig, body, r);
	return r;
}

static void
add(struct keyring *k, const char *sub, const char *hex)
{
	const char *why;

	if (keyring_add_hex(k, sub, sub != NULL ? strlen(sub) : 0, hex,
		strlen(hex), &why) != 0)
		ok(0, "keyring_add_hex: %s", why);
}

int
main(void)
{
	struct keyring k, bound, wrong, rot;
	const int64_t t = 1557751596;
	char bad[sizeof(kav_sig)];

	if (sodium_init() < 0)
		return 1;
	keyring_init(&k);
	add(&k, NULL, kav_key);
	is_int(check(&k, 300, t, kav_ts, kav_sig, kav_body), CLOSESIG_OK,
	    "the CLOSE.md vector verifies");
	is_int(check(&k, 300, t + 300, kav_ts, kav_sig, kav_body), CLOSESIG_OK,
	    "at the edge of the window");
	is_int(check(&k, 300, t + 301, kav_ts, kav_sig, kav_body),
	    CLOSESIG_STALE, "past it: stale");
	is_int(check(&k, 300, t - 301, kav_ts, kav_sig, kav_body),
	    CLOSESIG_FUTURE, "ahead of it: in the future");
	is_int(check(&k, 0, t + 86400 * 365, kav_ts, kav_sig, kav_body),
	    CLOSESIG_OK, "max_age 0: no window");
	is_int(check(&k, 300, t, "", kav_sig, kav_body), CLOSESIG_BAD_TS,
	    "an empty timestamp is a bad one (missing is the caller's)");
	is_int(check(&k, 300, t, kav_ts, "", kav_body), CLOSESIG_BAD_SIG,
	    "an empty signature is a bad one");
	is_int(check(&k, 300, t, "15577x1596", kav_sig, kav_body),
	    CLOSESIG_BAD_TS, "a timestamp that is not a number");
	is_int(check(&k, 300, t, kav_ts, "e6cf27", kav_body), CLOSESIG_BAD_SIG,
	    "a signature that is not 64 hex digits");
	is_int(check(&k, 300, t, kav_ts, kav_sig, "{\"event\": "),
	    CLOSESIG_NOT_JSON, "a body that is not JSON");
	is_int(check(&k, 300, t, kav_ts, kav_sig,
		   "{\"event\": \"caf\xc3\xa9 and a control byte \x01 in a "
		   "string\"}"),
	    CLOSESIG_NOT_JSON,
	    "a control byte in a body's string, past UTF-8: not JSON");
	is_int(check(&k, 300, t, kav_ts, kav_sig,
		   "{\"event\": \"caf\xc3\xa9 and caf\xc3 in a string\"}"),
	    CLOSESIG_NOT_JSON, "a body that is not UTF-8 is not JSON");
	memcpy(bad, kav_sig, sizeof(bad));
	bad[0] = bad[0] == 'e' ? 'f' : 'e';
	is_int(check(&k, 300, t, kav_ts, bad, kav_body), CLOSESIG_MISMATCH,
	    "one digit off: mismatch");
	is_int(check(&k, 300, t, "x", "", kav_body), CLOSESIG_BAD_TS,
	    "reasons in order: a bad timestamp before a bad signature");
	is_int(check(&k, 300, t + 1000, kav_ts, "e6", kav_body),
	    CLOSESIG_BAD_SIG, "a bad signature before the window");
	is_int(check(&k, 300, t + 1000, kav_ts, kav_sig, "{"), CLOSESIG_STALE,
	    "the window before the body");

	keyring_init(&wrong);
	add(&wrong, NULL, other_key);
	is_int(check(&wrong, 300, t, kav_ts, kav_sig, kav_body),
	    CLOSESIG_MISMATCH, "another key: mismatch");

	keyring_init(&bound);
	add(&bound, "whsub_other", kav_key);
	is_int(check(&bound, 300, t, kav_ts, kav_sig, kav_body),
	    CLOSESIG_NO_KEY, "a key bound to another subscription: no key");
	add(&bound, "whsub_mBTylJxRXaBOXcuQmgUdmL", kav_key);
	is_int(check(&bound, 300, t, kav_ts, kav_sig, kav_body), CLOSESIG_OK,
	    "a key bound to the body's subscription verifies");

	keyring_init(&rot);
	add(&rot, NULL, other_key);
	add(&rot, NULL, kav_key);
	is_int(check(&rot, 300, t, kav_ts, kav_sig, kav_body), CLOSESIG_OK,
	    "during a rotation either key verifies");
	is_str(closesig_reason_name(CLOSESIG_MISMATCH), "signature-mismatch",
	    "reason names as documented");
	keyring_free(&k);
	keyring_free(&wrong);
	keyring_free(&bound);
	keyring_free(&rot);
	return tap_done();
}
