/* SPDX-License-Identifier: MIT */
/*
 * base/clock.c - calibrating ticks against CLOCK_MONOTONIC (clock.h).
 * Each reading of CLOCK_MONOTONIC is bracketed by two tick reads and the
 * midpoint taken, so the error is the bracket's width (tens of ns) over
 * the 2 ms measured: a few parts in 10^5.
 */
#include "clock.h"

#define SHOAL__CAL_NS 2000000ull

static void shoal__clock_pair(uint64_t *tick, uint64_t *ns)
{
	uint64_t a = shoal__ticks();

	*ns = shoal__mono_ns();
	*tick = a + (shoal__ticks() - a) / 2;
}

void shoal__clock_calibrate(struct shoal__clock *c)
{
	uint64_t t0, n0, t1, n1;

#if !defined(__x86_64__) && !defined(__i386__)
	*c = (struct shoal__clock){0};
	return;
#endif
	shoal__clock_pair(&t0, &n0);
	do
		shoal__clock_pair(&t1, &n1);
	while (n1 - n0 < SHOAL__CAL_NS);
	*c = (struct shoal__clock){
		.tick0 = t0, .ns0 = n0,
		.mult = t1 > t0 ? (uint64_t)((((shoal__u128)(n1 - n0)) << 32) /
					     (t1 - t0))
				: 0,
	};
}
