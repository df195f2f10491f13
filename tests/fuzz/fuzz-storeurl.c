/*
 * fuzz-storeurl.c - libFuzzer target for the --store argument parser: any
 * bytes parse or fail without a crash, and a parsed store is well formed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_url u;
	const char *why = NULL;
	char *s;

	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (store_url_parse(s, &u, &why) != 0) {
		if (why == NULL || *why == '\0')
			abort();
		free(s);
		return 0;
	}
	switch (u.kind) {
	case STORE_REDIS_TCP:
		if (u.host[0] == '\0' || strlen(u.host) >= STORE_HOSTMAX ||
		    u.port < 1 || u.port > 65535 || u.db < 0 ||
		    strchr(s, '@') != NULL)
			abort();
		break;
	case STORE_NATS:
		if (u.nats.nsrv < 1 || u.nats.nsrv > NATSQ_MAXSRV ||
		    !natsq_name_ok(u.nats.name) || strchr(s, '@') != NULL)
			abort();
		break;
	case STORE_REDIS_UNIX:
	case STORE_SQLITE:
		if (u.path[0] == '\0' || strlen(u.path) >= STORE_PATHMAX ||
		    strlen(u.path) > strlen(s))
			abort();
		break;
	default:
		abort();
	}
	free(s);
	return 0;
}
