/*
 * fuzz-keyring.c - libFuzzer target for the key file parser: any text is
 * parsed without a crash or an out-of-bounds access; every key kept has a
 * fingerprint of 8 hex digits and a subscription id within bounds; the
 * applicable keys of any subscription are found; and what a reread would
 * say of the keys that came and went (keyring_diff) stays in its buffer.
 * Messages go to stderr, which libFuzzer leaves alone.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "keyring.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct keyring r, empty;
	char *text, diff[96];
	size_t i, k, n;

	if (sodium_init() < 0)
		abort();
	if ((text = malloc(size + 1)) == NULL)
		abort();
	memcpy(text, data, size);
	keyring_init(&r);
	keyring_init(&empty);
	r.with_text = size > 0 && data[0] & 1;
	(void)keyring_parse(&r, "fuzz", text, size);
	for (i = 0; i < r.n; i++) {
		const struct keyring_entry *e = &r.v[i];

		if (strlen(e->fp) != 8 || e->sublen > KEYRING_SUB_MAX ||
		    strlen(e->sub) != e->sublen ||
		    strspn(e->fp, "0123456789abcdef") != 8)
			abort();
		/* Its own subscription finds it, or an unbound key first. */
		k = keyring_next(&r, 0, e->sub, e->sublen);
		if (k > i)
			abort();
	}
	keyring_diff(&empty, &r, diff, sizeof(diff));
	n = strlen(diff);
	if (n >= sizeof(diff))
		abort();
	keyring_diff(&r, &empty, diff, sizeof(diff));
	keyring_free(&r);
	free(text);
	return 0;
}
