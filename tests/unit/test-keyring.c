/*
 * test-keys.c - key files, the environment, bound and unbound keys.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "keyring.h"
#include "tap.h"

#define K1 "b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab042eb8abb4"
#define K2 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static char path[64];

static void
write_file(const char *text, mode_t mode)
{
	FILE *f;

	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* The subscription ids the ring would try for sub, as "a,b,". */
static void
tried(const struct keyring *r, const char *sub, char *buf)
{
	size_t i;

	buf[0] = '\0';
	for (i = keyring_next(r, 0, sub, strlen(sub)); i < r->n;
	    i = keyring_next(r, i + 1, sub, strlen(sub))) {
		strcat(buf, r->v[i].sublen ? r->v[i].sub : "*");
		strcat(buf, ",");
	}
}

int
main(void)
{
	struct keyring r;
	char buf[256];
	const char *why;
	int fd;

	if (sodium_init() < 0)
		return 1;
	strcpy(path, "/tmp/closehook-keys.XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		return 1;
	close(fd);

	keyring_init(&r);
	write_file("# keys for prod\n"
	    "whsub_a " K1 "\n"
	    "\n"
	    "   whsub_a\t" K2 "   # rotated in\n"
	    K2 "\n"
	    "whsub_b " K1 "\r\n", 0600);
	is_int(keyring_load_file(&r, path), 0, "a key file loads");
	is_int(r.n, 4, "four keys");
	tried(&r, "whsub_a", buf);
	is_str(buf, "whsub_a,whsub_a,*,", "both rotated keys and the unbound "
	    "key apply to whsub_a");
	tried(&r, "whsub_b", buf);
	is_str(buf, "*,whsub_b,", "whsub_b gets its own key and the unbound");
	tried(&r, "whsub_c", buf);
	is_str(buf, "*,", "an unknown subscription gets only unbound keys");
	tried(&r, "", buf);
	is_str(buf, "*,", "a body naming no subscription: unbound keys only");
	keyring_free(&r);

	keyring_init(&r);
	write_file("whsub_a " K1 "\n", 0600);
	keyring_load_file(&r, path);
	tried(&r, "whsub_x", buf);
	is_str(buf, "", "bound keys never apply to other subscriptions");
	keyring_free(&r);

	keyring_init(&r);
	write_file("whsub_a nothex\n", 0600);
	is_int(keyring_load_file(&r, path), -1, "a bad key is refused");
	write_file("abcd\n", 0600);
	is_int(keyring_load_file(&r, path), -1, "a short key is refused");
	write_file("a b c\n", 0600);
	is_int(keyring_load_file(&r, path), -1, "three fields are refused");
	write_file("# only a comment\n", 0600);
	is_int(keyring_load_file(&r, path), -1, "a file without keys fails");
	write_file(K1 "\n", 0644);
	is_int(keyring_load_file(&r, path), 0,
	    "a world-readable file loads (with a warning)");
	keyring_free(&r);
	is_int(keyring_load_file(&r, "/nonexistent/keys"), -1,
	    "a missing file fails");

	keyring_init(&r);
	is_int(keyring_add_hex(&r, "", 0, K1 "0", 65, &why), -1,
	    "odd-length hex is refused");
	is_int(keyring_add_hex(&r, "", 0, K1, 64, &why), 0, "hex key added");
	keyring_free(&r);

	keyring_init(&r);
	setenv("CLOSEHOOK_SECRET", K1 "\n", 1);
	write_file("whsub_z " K2 "\n", 0600);
	setenv("CLOSEHOOK_SECRET_FILE", path, 1);
	is_int(keyring_load_env(&r), 0, "keys from the environment");
	is_int(r.n, 2, "one from each variable");
	tried(&r, "whsub_z", buf);
	is_str(buf, "*,whsub_z,", "the env key is unbound, the file's bound");
	keyring_free(&r);
	setenv("CLOSEHOOK_SECRET", "zz", 1);
	keyring_init(&r);
	is_int(keyring_load_env(&r), -1, "a bad $CLOSEHOOK_SECRET fails");
	keyring_free(&r);
	unlink(path);
	return tap_done();
}
