/*
 * tap.h - a minimal TAP producer for the unit tests of common/.
 *
 * Each test program includes this header once, calls ok()/is_int()/is_str()
 * and ends main() with `return tap_done();`, which prints the plan and
 * returns non-zero when anything failed.  prove(1) reads the output.
 */
#ifndef CLOSEHOOK_TAP_H
#define CLOSEHOOK_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

static int
tap_ok(int cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	tap_n++;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is_int(got, want, ...) do {					\
	long long g_ = (long long)(got), w_ = (long long)(want);	\
	if (!ok(g_ == w_, __VA_ARGS__))					\
		printf("#   got %lld, want %lld\n", g_, w_);		\
} while (0)

#define is_mem(got, gotn, want, wantn, ...) do {			\
	const char *g_ = (const char *)(got), *w_ = (const char *)(want); \
	size_t gn_ = (gotn), wn_ = (wantn);				\
	if (!ok(gn_ == wn_ && memcmp(g_, w_, gn_) == 0, __VA_ARGS__))	\
		printf("#   got '%.*s', want '%.*s'\n", (int)gn_, g_,	\
		    (int)wn_, w_);					\
} while (0)

#define is_str(got, want, ...) do {					\
	const char *gs_ = (got), *ws_ = (want);				\
	is_mem(gs_ ? gs_ : "(null)", strlen(gs_ ? gs_ : "(null)"),	\
	    ws_, strlen(ws_), __VA_ARGS__);				\
} while (0)

static int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}

#endif
