/*
 * fuzz-explain.c - libFuzzer target for closehook-verify --explain's
 * repairs (closesig_explain): any timestamp, signature and body, against
 * two keys (one bound to a subscription), are explained without a crash or
 * an out-of-bounds access; a cause names a key of the ring; a body the
 * explanation calls a JSON object parses as one; and a serialisation as
 * Close writes it (closesig_reserialize) is JSON that parses to the same
 * serialisation again.
 *
 * Input: TS NUL SIG NUL BODY (missing parts are empty).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "closesig.h"
#include "json.h"
#include "keyring.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct keyring ring;

static const char *
part(const char **p, const char *e, size_t *n)
{
	const char *s = *p, *z = memchr(s, '\0', (size_t)(e - s));

	*n = (size_t)((z != NULL ? z : e) - s);
	*p = z != NULL ? z + 1 : e;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *e = p + size, *ts, *sig, *body;
	struct closesig_explain ex;
	struct json_span root;
	const char *why;
	size_t tsn, sign, bodyn;
	char *a, *b;
	long an, bn;

	if (ring.n == 0) {
		if (sodium_init() < 0)
			abort();
		keyring_init(&ring);
		ring.with_text = 1;
		if (keyring_add_hex(&ring, "", 0,
			"b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab042eb8abb4",
			64, &why) != 0 ||
		    keyring_add_hex(&ring, "whsub_x", 7,
			"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
			64, &why) != 0)
			abort();
	}
	ts = part(&p, e, &tsn);
	sig = part(&p, e, &sign);
	body = part(&p, e, &bodyn);
	closesig_explain(&ring, 1557751596, ts, tsn, sig, sign, body, bodyn,
	    &ex);
	if (ex.ntried > ring.n || ex.napplicable > ring.n)
		abort();
	if (ex.cause != NULL && strcmp(ex.cause, "wrong-key") != 0 &&
	    strcmp(ex.cause, "body-damaged") != 0 && ex.cause_key >= ring.n)
		abort();
	if (ex.body_json &&
	    (json_parse(body, bodyn, &root, NULL) != 0 ||
		root.type != JSON_OBJECT))
		abort();
	/* Close's serialisation is JSON, and a fixed point. */
	a = malloc(7 * bodyn + 16);
	if (a == NULL)
		abort();
	an = closesig_reserialize(body, bodyn, a);
	if (an >= 0) {
		if (json_parse(a, (size_t)an, NULL, NULL) != 0)
			abort();
		b = malloc(7 * (size_t)an + 16);
		if (b == NULL)
			abort();
		bn = closesig_reserialize(a, (size_t)an, b);
		if (bn != an || memcmp(a, b, (size_t)an) != 0)
			abort();
		free(b);
	}
	free(a);
	return 0;
}
