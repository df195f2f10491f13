/*
 * netaddr.c - listen addresses; see netaddr.h.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "netaddr.h"

/* A port: 1 to 5 decimal digits, at most 65535. */
static int
parse_port(const char *p, size_t n, unsigned *port)
{
	unsigned v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = v;
	return 0;
}

int
netaddr_parse(const char *s, size_t n, struct sockaddr_storage *ss,
    socklen_t *len, const char **why)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *hp;
	size_t hn;
	unsigned port;

	memset(ss, 0, sizeof(*ss));
	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (rb == NULL) {
			*why = "missing ] after IPv6 address";
			return -1;
		}
		if ((size_t)(rb - s) + 1 == n || rb[1] != ':') {
			*why = "missing port";
			return -1;
		}
		hp = s + 1;
		hn = (size_t)(rb - hp);
		colon = rb + 1;
	} else {
		colon = NULL;
		for (hp = s; hp < s + n; hp++)
			if (*hp == ':')
				colon = hp;
		if (colon == NULL) {
			/* "8080" alone: the port without its address. */
			size_t d = 0;

			while (d < n && s[d] >= '0' && s[d] <= '9')
				d++;
			*why = n > 0 && d == n
			    ? "an address is HOST:PORT (:PORT for every "
			      "address)"
			    : "missing port";
			return -1;
		}
		hp = s;
		hn = (size_t)(colon - s);
		if (memchr(s, ':', hn) != NULL) {
			*why = "an IPv6 address needs brackets";
			return -1;
		}
	}
	if (parse_port(colon + 1, n - (size_t)(colon + 1 - s), &port) != 0) {
		*why = "bad port";
		return -1;
	}
	if (hn == 0 || hn >= sizeof(host) || memchr(hp, '\0', hn) != NULL) {
		*why = "bad address";
		return -1;
	}
	memcpy(host, hp, hn);
	host[hn] = '\0';
	if (s[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
			*why = "bad IPv6 address";
			return -1;
		}
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((unsigned short)port);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
			/* Names are not looked up: say what to give. */
			*why = strcmp(host, "localhost") == 0
			    ? "an address is an IP literal: 127.0.0.1 for "
			      "localhost"
			    : "not an IPv4 address (names are not looked up: "
			      "give an IP literal)";
			return -1;
		}
		a->sin_family = AF_INET;
		a->sin_port = htons((unsigned short)port);
		*len = sizeof(*a);
	}
	return 0;
}

size_t
netaddr_format(const struct sockaddr *sa, int with_port, char *out)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port;
	int n;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		n = with_port
		    ? snprintf(out, NETADDR_STRLEN, "%s:%u", host, port)
		    : snprintf(out, NETADDR_STRLEN, "%s", host);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		n = with_port
		    ? snprintf(out, NETADDR_STRLEN, "[%s]:%u", host, port)
		    : snprintf(out, NETADDR_STRLEN, "%s", host);
	} else {
		out[0] = '\0';
		return 0;
	}
	return n < 0 ? 0 : (size_t)n;
}
