/*
 * test-netaddr.c - listen addresses: the forms accepted, the ones refused,
 * and printing them back.
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <string.h>

#include "netaddr.h"
#include "tap.h"

/* Parse s and print it back with its port; "" when refused. */
static const char *
roundtrip(const char *s, char *out)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const char *why;

	if (netaddr_parse(s, strlen(s), &ss, &len, &why) != 0) {
		out[0] = '\0';
		return out;
	}
	netaddr_format((struct sockaddr *)&ss, 1, out);
	return out;
}

int
main(void)
{
	static const char *const good[][2] = {
		{ "127.0.0.1:8080", "127.0.0.1:8080" },
		{ "0.0.0.0:0", "0.0.0.0:0" },
		{ "[::1]:8080", "[::1]:8080" },
		{ "[::]:443", "[::]:443" },
		{ "[2001:DB8::1]:65535", "[2001:db8::1]:65535" },
		{ "[::ffff:10.0.0.1]:80", "[::ffff:10.0.0.1]:80" },
	};
	static const char *const bad[] = {
		"",
		"127.0.0.1",
		"127.0.0.1:",
		":8080",
		"127.0.0.1:65536",
		"127.0.0.1:-1",
		"127.0.0.1:+80",
		"127.0.0.1:80x",
		"127.0.0.1:123456",
		"::1:8080",
		"[::1]",
		"[::1]8080",
		"[::1:80",
		"[]:80",
		"[127.0.0.1]:80",
		"localhost:8080",
		"1.2.3:80",
		"256.0.0.1:80",
		"[fe80::1%eth0]:80",
	};
	struct sockaddr_storage ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	const char *why;
	char out[NETADDR_STRLEN];
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		is_str(
		    roundtrip(good[i][0], out), good[i][1], "%s", good[i][0]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is_str(roundtrip(bad[i], out), "", "refused: \"%s\"", bad[i]);

	ok(netaddr_parse("[::1]:80", 8, &ss, &len, &why) == 0 &&
		ss.ss_family == AF_INET6 && len == sizeof(*a6) &&
		ntohs(a6->sin6_port) == 80,
	    "IPv6: family, length and port");
	ok(netaddr_parse("127.0.0.1:80", 9, &ss, &len, &why) != 0,
	    "the length bounds the text (no port within it)");
	netaddr_parse("::1:80", 6, &ss, &len, &why);
	is_str(why, "an IPv6 address needs brackets", "the reason says why");
	netaddr_parse("localhost:80", 12, &ss, &len, &why);
	is_str(why, "an address is an IP literal: 127.0.0.1 for localhost",
	    "localhost: the literal to give");
	netaddr_parse("example.com:80", 14, &ss, &len, &why);
	is_str(why,
	    "not an IPv4 address (names are not looked up: give an IP literal)",
	    "a name: not looked up, said so");
	netaddr_parse("[::1]:80", 8, &ss, &len, &why);
	netaddr_format((struct sockaddr *)&ss, 0, out);
	is_str(out, "::1", "without the port: the bare address");
	return tap_done();
}
