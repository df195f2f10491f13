/*
 * json-speed.c - throughput of the JSON scanner against libjq's parser.
 *
 * Reads an NDJSON file into memory (make one with bench/gen), then times,
 * per line: json_parse(); json_parse() plus json_path_get() of a path; and
 * libjq's jv_parse_sized(), the peer.  Each figure is the best of ROUNDS
 * passes, in MB/s of input.  Not part of `make bench`; build it with
 *
 *	cc -O2 -std=c11 -D_GNU_SOURCE -Icommon -o json-speed \
 *	    bench/json-speed.c common/json.c -ljq
 *	python3 bench/gen --count 20000 --format payloads > events.ndjson
 *	./json-speed events.ndjson 20 .event.data.lead_name
 */

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jv.h>

#include "json.h"

enum { PARSE, PATH, JQ, NMODES };

static const char *names[NMODES] = {
	"json_parse", "json_parse + json_path_get", "jv_parse_sized (jq 1.6)"
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One pass over every line; returns how many lines succeeded. */
static size_t
pass(int mode, const char *buf, size_t n, const struct json_path *path)
{
	const char *p, *nl;
	struct json_span v, out;
	size_t good = 0;
	jv j;

	for (p = buf; p < buf + n; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(buf + n - p))) == NULL)
			nl = buf + n;
		switch (mode) {
		case PARSE:
			good += json_parse(p, (size_t)(nl - p), &v, NULL) == 0;
			break;
		case PATH:
			if (json_parse(p, (size_t)(nl - p), &v, NULL) == 0 &&
			    json_path_get(path, v, &out) == JSON_PATH_FOUND)
				good++;
			break;
		default:
			j = jv_parse_sized(p, (int)(nl - p));
			good += jv_is_valid(j);
			jv_free(j);
			break;
		}
	}
	return good;
}

int
main(int argc, char *argv[])
{
	struct json_path path;
	FILE *f;
	char *buf;
	size_t n, good;
	long len;
	int rounds, r, mode;
	double t, best;

	if (argc < 2)
		errx(2, "usage: json-speed FILE [ROUNDS [PATH]]");
	rounds = argc > 2 ? atoi(argv[2]) : 20;
	if (json_path_compile(argc > 3 ? argv[3] : ".event.id", &path) == -1)
		errx(2, "not a simple path");
	if ((f = fopen(argv[1], "rb")) == NULL)
		err(2, "%s", argv[1]);
	if (fseek(f, 0, SEEK_END) == -1 || (len = ftell(f)) < 0)
		err(2, "%s", argv[1]);
	rewind(f);
	/* A spare NUL: jv_parse_sized prints its input with %s on errors. */
	if ((buf = calloc(1, (size_t)len + 1)) == NULL)
		err(2, NULL);
	n = fread(buf, 1, (size_t)len, f);
	fclose(f);

	for (mode = 0; mode < NMODES; mode++) {
		best = 1e30;
		good = 0;
		for (r = 0; r < (mode == JQ ? 1 + rounds / 10 : rounds); r++) {
			t = now();
			good = pass(mode, buf, n, &path);
			t = now() - t;
			if (t < best)
				best = t;
		}
		printf("%-28s %7.0f MB/s  (%zu lines ok)\n", names[mode],
		    (double)n / best / 1e6, good);
	}
	free(buf);
	return 0;
}
