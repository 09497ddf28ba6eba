/* SPDX-License-Identifier: MIT */
/*
 * base/clock.h - the timeline's clock: cheap ticks, and their conversion
 * to CLOCK_MONOTONIC nanoseconds.
 *
 * A tick is the TSC on x86-64 (one rdtsc, ~7-17 ns here; no system call,
 * no vDSO page), CLOCK_MONOTONIC nanoseconds elsewhere.  The TSC is
 * invariant on every CPU this library runs on in practice (constant_tsc,
 * nonstop_tsc), so ticks from two processes compare.  A calibration (a
 * pair of readings of both clocks and the ratio between them, measured
 * once by the driver at start: shoal__clock_calibrate) turns ticks into
 * nanoseconds for every process of a runtime: the driver stores it in the
 * runtime's header before any other process exists, read-only after.
 * Invariants: shoal__clock_ns is monotonic in its tick argument, and
 * equals CLOCK_MONOTONIC within a few microseconds per second of
 * distance from the calibration.
 */
#ifndef SHOAL_BASE_CLOCK_H
#define SHOAL_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

__extension__ typedef unsigned __int128 shoal__u128;

struct shoal__clock {
	uint64_t tick0;  /* ticks at the calibration */
	uint64_t ns0;    /* CLOCK_MONOTONIC ns at the same moment */
	uint64_t mult;   /* ns per tick, fixed point: << 32 */
};

static inline uint64_t shoal__mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t shoal__ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __rdtsc();
#else
	return shoal__mono_ns();
#endif
}

/* Measures ticks against CLOCK_MONOTONIC for about 2 ms (busy). */
void shoal__clock_calibrate(struct shoal__clock *c);

/* CLOCK_MONOTONIC ns of tick t under calibration c (c->mult 0: t is
 * taken for ns already).  Ticks before the calibration map before ns0. */
static inline uint64_t shoal__clock_ns(const struct shoal__clock *c, uint64_t t)
{
	if (!c->mult)
		return t;
	if (t >= c->tick0)
		return c->ns0 + (uint64_t)(((shoal__u128)(t - c->tick0) *
					    c->mult) >> 32);
	return c->ns0 - (uint64_t)(((shoal__u128)(c->tick0 - t) * c->mult) >> 32);
}

/* A duration of d ticks in ns. */
static inline uint64_t shoal__clock_dur(const struct shoal__clock *c, uint64_t d)
{
	return c->mult ? (uint64_t)(((shoal__u128)d * c->mult) >> 32) : d;
}

#endif /* SHOAL_BASE_CLOCK_H */
