/* SPDX-License-Identifier: MIT */
/*
 * bench/curves.h - what the scaling-curve families share (live_objects,
 * tasks_in_flight, actors_scaling; bench/curves.c): the points a mode
 * measures, the labels that make each point's metric name unique, a
 * random index, and the ratio of two points as a metric of its own.
 *
 * A curve's point is one result line with "curve" (the curve's name, one
 * PNG of bench/plot) and "x" (the point); its metric name is the
 * series' stem, "_", and the point's label ("live_objects_get_ns_512k"),
 * so that names stay unique in a run and bench/plot finds the series by
 * dropping the label.  k is 1024: 1k = 1024, 512k = 524288.
 */
#ifndef SHOAL_BENCH_CURVES_H
#define SHOAL_BENCH_CURVES_H

#include <stddef.h>
#include <stdint.h>

#include "bench.h"

/* How many of a curve's points (ascending, full[0..n)) this run
 * measures: those up to quick_max with --quick, up to smoke_max with
 * --smoke, all of them otherwise; at least one. */
size_t curve_points(const struct bench_ctx *ctx, const uint64_t *full,
		    size_t n, uint64_t quick_max, uint64_t smoke_max);

/* "1k", "512k" for multiples of 1024, else the number ("8"). */
void curve_label(uint64_t x, char *buf, size_t len);

/* "stem_label" into buf: a point's metric name. */
void curve_name(char *buf, size_t len, const char *stem, uint64_t x);

/* xorshift64*: a cheap random index for the random-access workloads
 * (not for anything that needs real randomness). */
struct curve_rng {
	uint64_t s;
};

__extension__ typedef unsigned __int128 curve_u128;

static inline uint64_t curve_below(struct curve_rng *r, uint64_t n)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (uint64_t)(((curve_u128)(r->s * 0x2545f4914f6cdd1dull) * n) >> 64);
}

/* len bytes of shared memfd memory, mapped read-write into *out (unmap
 * with munmap): memory of the kind the store's segment is, so that a
 * floor measured in it and the store's figures see the same page size
 * (shmem has no transparent huge pages here).  0 or -errno. */
int curve_map_memfd(size_t len, uint8_t **out);

/* The ratio top / base of two points measured in this run: its median is
 * the ratio of the medians; its min and max are the widest the
 * repetitions allow (top's min over base's max, top's max over base's
 * min), not repetitions of a ratio. */
struct stats curve_ratio(const struct stats *top, const struct stats *base);

#endif /* SHOAL_BENCH_CURVES_H */
