/*
 * hmac-speed.c - the limit of closehook-verify: HMAC-SHA256 alone over the
 * captures' bodies (the close-sig-timestamp value, then the body; the
 * key's pads precomputed), and nothing else: no reading, parsing,
 * comparing or writing.  Measured twice: one message after another on
 * OpenSSL's SHA-256, as `openssl speed` measures it (issue 19's limit),
 * and two at a time on common/hmac's own (hmac_sha256_pair), as verify
 * hashes a flood where the CPU has SHA extensions.
 *
 *	hmac-speed CAPTURES [ROUNDS]
 *
 * Every capture of CAPTURES with a body is decoded into memory first, a
 * body_base64 to the bytes that were signed, as verify decodes it (a line
 * that is not a capture is skipped: verify rejects it unhashed); then
 * ROUNDS passes (default 5) of each kind hash every body once.  Prints one
 * line, "BODIES BODY_BYTES NS NS_PAIRED": the bodies, their decoded bytes,
 * and the fastest pass of each kind in nanoseconds.  The key's bytes do not change the cost; a fixed one
 * is used.  Built by `make bench`; bench/run divides BODY_BYTES by verify's
 * time and by NS.
 *
 * What it counts is one HMAC per capture, as if with the key that signed
 * it, whatever the key file holds: that is the physical minimum, so no
 * verifier can reach the limit.  A capture of a subscription mid-rotation
 * signed with its previous key (bench/gen --rotate-rate) costs a verifier
 * that tries the subscription's keys in turn, stopping at the one that
 * matches, a second HMAC when that key is tried second: in bench/run's
 * corpus (5% of one subscription's deliveries in three) under 2% more
 * HMACs; that work counts against verify, not in the limit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture.h"
#include "cli.h"
#include "hmac.h"

struct body {
	char ts[24];
	size_t tsn;
	char *p;
	size_t n;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int
main(int argc, char *argv[])
{
	static const unsigned char key[32] = "closehook-bench-hmac-speed-key!";
	struct body *v = NULL;
	size_t nv = 0, cap = 0, bn = 0, bytes = 0, i;
	struct hmac_key hk;
	unsigned char out[HMAC_LEN];
	/* Written per message, so that no pass can be left out. */
	volatile unsigned char sink = 0;
	uint64_t best = 0, best2 = 0, t0, t;
	unsigned char out2[HMAC_LEN];
	int was;
	ssize_t got;
	char *line = NULL;
	FILE *f;
	int rounds = 5, r;

	cli_init("hmac-speed");
	if (argc < 2 || argc > 3 || (argc == 3 && (rounds = atoi(argv[2])) < 1))
		cli_fatalx("usage: hmac-speed CAPTURES [ROUNDS]");
	if ((f = fopen(argv[1], "r")) == NULL)
		cli_fatal("%s", argv[1]);
	while ((got = getline(&line, &bn, f)) > 0) {
		struct capture c;
		struct json_span ts;
		const char *why;
		char *buf;
		long n;

		if (line[got - 1] == '\n')
			got--;
		if ((buf = malloc((size_t)got + 1)) == NULL)
			cli_fatal("out of memory");
		if (capture_parse(line, (size_t)got, &c, buf, &why) != 0 ||
		    (n = capture_body(&c, buf)) < 0) {
			free(buf);
			continue;
		}
		if (nv == cap) {
			cap = cap ? 2 * cap : 4096;
			if ((v = realloc(v, cap * sizeof(*v))) == NULL)
				cli_fatal("out of memory");
		}
		v[nv].tsn = 0;
		if (capture_header(&c, "close-sig-timestamp", &ts) &&
		    ts.n < sizeof(v[nv].ts))
			v[nv].tsn = json_str_unescape(ts, v[nv].ts);
		v[nv].p = buf;
		v[nv].n = (size_t)n;
		bytes += (size_t)n;
		nv++;
	}
	if (ferror(f))
		cli_fatal("%s", argv[1]);
	fclose(f);
	free(line);
	if (nv == 0)
		cli_fatalx("%s: no capture with a body", argv[1]);
	if (hmac_key_init(&hk, key, sizeof(key)) != 0)
		cli_fatalx("cannot set up the key");
	was = hmac_use_ni(0);
	for (r = 0; r < rounds; r++) {
		t0 = now_ns();
		for (i = 0; i < nv; i++) {
			hmac_close_sig(
			    &hk, v[i].ts, v[i].tsn, v[i].p, v[i].n, out);
			sink ^= out[0];
		}
		t = now_ns() - t0;
		if (best == 0 || t < best)
			best = t;
	}
	hmac_use_ni(was);
	for (r = 0; r < rounds; r++) {
		t0 = now_ns();
		for (i = 0; i + 1 < nv; i += 2) {
			struct hmac_msg m[2] = {
				{ &hk, v[i].ts, v[i].p, v[i].tsn, v[i].n, out },
				{ &hk, v[i + 1].ts, v[i + 1].p, v[i + 1].tsn,
				    v[i + 1].n, out2 },
			};

			hmac_sha256_pair(m);
			sink ^= out[0] ^ out2[0];
		}
		if (i < nv) {
			hmac_close_sig(
			    &hk, v[i].ts, v[i].tsn, v[i].p, v[i].n, out);
			sink ^= out[0];
		}
		t = now_ns() - t0;
		if (best2 == 0 || t < best2)
			best2 = t;
	}
	hmac_key_free(&hk);
	printf("%zu %zu %llu %llu\n", nv, bytes, (unsigned long long)best,
	    (unsigned long long)best2);
	for (i = 0; i < nv; i++)
		free(v[i].p);
	free(v);
	return 0;
}
