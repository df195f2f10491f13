/*
 * netaddr.h - listen addresses as users write them: ADDR:PORT, with an IPv4
 * literal ("127.0.0.1:8080") or a bracketed IPv6 literal ("[::1]:8080",
 * "[::]:443"), and the same form printed back.  Host names are not looked
 * up: a server binds literals.  Nothing is allocated.
 */
#ifndef CLOSEHOOK_NETADDR_H
#define CLOSEHOOK_NETADDR_H

#include <sys/socket.h>

#include <stddef.h>

/* Room for the longest text netaddr_format writes, terminator included. */
#define NETADDR_STRLEN 64

/*
 * Parse s[0..n).  Returns 0 and fills *ss and *len, or -1 with a short
 * static reason in *why ("missing port", "bad port", "bad IPv6 address"...).
 */
int netaddr_parse(const char *s, size_t n, struct sockaddr_storage *ss,
    socklen_t *len, const char **why);

/*
 * "ADDR:PORT" or "[ADDR]:PORT" for an AF_INET or AF_INET6 address into out
 * (NETADDR_STRLEN bytes), NUL-terminated; with port 0, the address alone
 * without brackets ("::1", as a capture's remote_addr).  Returns the
 * length, or 0 for another family.
 */
size_t netaddr_format(const struct sockaddr *, int with_port, char *out);

#endif
