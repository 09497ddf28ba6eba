/* SPDX-License-Identifier: MIT */
/*
 * runtime/region.c - laying out and checking the runtime's region of the
 * segment (rtlayout.h).  The driver initialises it before it forks the fork
 * server; every other process checks it before use.
 */
#include <errno.h>
#include <string.h>

#include <shoal/error.h>

#include "internal.h"

uint64_t shoal__rt_region_bytes(uint32_t max_workers)
{
	return SHOAL__RT_HDR_SIZE +
	       (uint64_t)max_workers * sizeof(struct shoal__rt_worker);
}

void shoal__rt_region_init(void *region, uint32_t num_workers,
			   uint32_t max_workers)
{
	struct shoal__rt_hdr *h = region;

	h->magic = SHOAL__RT_MAGIC;
	h->version = SHOAL__RT_VERSION;
	h->num_workers = num_workers;
	h->max_workers = max_workers;
	h->workers_off = SHOAL__RT_HDR_SIZE;
}

int shoal__rt_region_check(const void *region, uint64_t size)
{
	const struct shoal__rt_hdr *h = region;

	if (!h || size < SHOAL__RT_HDR_SIZE || h->magic != SHOAL__RT_MAGIC)
		return SHOAL_EBADSEGMENT;
	if (h->version != SHOAL__RT_VERSION)
		return SHOAL_EVERSION;
	if (h->max_workers == 0 || h->max_workers > SHOAL__RT_MAX_WORKERS ||
	    h->num_workers > h->max_workers ||
	    h->workers_off != SHOAL__RT_HDR_SIZE ||
	    shoal__rt_region_bytes(h->max_workers) > size)
		return SHOAL_EBADSEGMENT;
	return 0;
}

struct shoal__rt_worker *shoal__rt_workers(struct shoal__rt_hdr *h)
{
	return (struct shoal__rt_worker *)((uint8_t *)h + h->workers_off);
}
