/* SPDX-License-Identifier: MIT */
/*
 * bench/curves.c - the helpers of the scaling-curve families
 * (bench/curves.h says what each does).  No state; the one mapping made
 * here (curve_map_memfd) is the caller's to unmap, and its memfd is closed
 * at once (the mapping keeps the memory, which goes with the munmap).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "curves.h"

size_t curve_points(const struct bench_ctx *ctx, const uint64_t *full,
		    size_t n, uint64_t quick_max, uint64_t smoke_max)
{
	uint64_t max = ctx->smoke ? smoke_max : ctx->quick ? quick_max
			: UINT64_MAX;
	size_t k = 0;

	while (k < n && full[k] <= max)
		k++;
	return k ? k : 1;
}

void curve_label(uint64_t x, char *buf, size_t len)
{
	if (x >= 1024 && x % 1024 == 0)
		snprintf(buf, len, "%" PRIu64 "k", x / 1024);
	else
		snprintf(buf, len, "%" PRIu64, x);
}

void curve_name(char *buf, size_t len, const char *stem, uint64_t x)
{
	char label[32];

	curve_label(x, label, sizeof label);
	snprintf(buf, len, "%s_%s", stem, label);
}

struct stats curve_ratio(const struct stats *top, const struct stats *base)
{
	struct stats r = {0, 0, 0, top->n < base->n ? top->n : base->n};

	if (base->median > 0 && base->min > 0 && base->max > 0) {
		r.median = top->median / base->median;
		r.min = top->min / base->max;
		r.max = top->max / base->min;
	}
	return r;
}

int curve_map_memfd(size_t len, uint8_t **out)
{
	int fd = memfd_create("shoal-bench-curve", MFD_CLOEXEC);
	void *p = MAP_FAILED;
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0)
		rc = -errno;
	if (rc == 0)
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (rc == 0 && p == MAP_FAILED)
		rc = -errno;
	close(fd);
	if (rc == 0)
		*out = p;
	return rc;
}
