/*
 * fuzz-netaddr.c - libFuzzer target for the listen address parser: any
 * bytes are parsed without a crash, and an accepted address prints back as
 * text that parses to the same address.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage a, b;
	socklen_t an, bn;
	const char *why;
	char txt[NETADDR_STRLEN];
	size_t n;

	if (netaddr_parse((const char *)data, size, &a, &an, &why) != 0) {
		if (why == NULL || why[0] == '\0')
			abort();
		return 0;
	}
	n = netaddr_format((struct sockaddr *)&a, 1, txt);
	if (n == 0 || n >= sizeof(txt) || strlen(txt) != n)
		abort();
	if (netaddr_parse(txt, n, &b, &bn, &why) != 0 || an != bn ||
	    memcmp(&a, &b, an) != 0)
		abort();
	return 0;
}
