/*
 * cores.c - how much of a second core this machine gives right now: the
 * same fixed CPU work (a dependent chain of multiplies, no memory) run on
 * one thread, then on two threads at once.  With two free cores the two
 * finish in the time one takes (2.00); when the second vCPU is busy
 * elsewhere they share one (1.00).  make bench prints it at its start and
 * end, so that a run whose two-thread rows (verify, flatten, dedupe) moved
 * while the one-thread limits did not can be told from a regression.
 *
 *	cores
 *
 * Prints "ONE_NS TWO_NS RATIO": the best of five of each, and the work
 * done per second by two threads over that of one.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"

#define SPIN 20000000u
#define ROUNDS 5

static void *
spin(void *arg)
{
	uint64_t x = (uint64_t)(uintptr_t)arg | 1;
	uint32_t i;

	for (i = 0; i < SPIN; i++)
		x = x * 6364136223846793005u + 1442695040888963407u;
	/* Used, so that the loop stays. */
	__asm__ volatile("" : : "r"(x));
	return NULL;
}

int
main(int argc, char *argv[])
{
	uint64_t one = UINT64_MAX, two = UINT64_MAX, t0, t;
	pthread_t th;
	int r;

	(void)argv;
	cli_init("cores");
	if (argc != 1)
		cli_fatalx("usage: cores");
	for (r = 0; r < ROUNDS; r++) {
		t0 = cli_mono_ns();
		spin((void *)1);
		if ((t = cli_mono_ns() - t0) < one)
			one = t;
		t0 = cli_mono_ns();
		if (pthread_create(&th, NULL, spin, (void *)2) != 0)
			cli_fatalx("cannot start a thread");
		spin((void *)3);
		pthread_join(th, NULL);
		if ((t = cli_mono_ns() - t0) < two)
			two = t;
	}
	printf("%llu %llu %.2f\n", (unsigned long long)one,
	    (unsigned long long)two, 2.0 * (double)one / (double)two);
	return 0;
}
