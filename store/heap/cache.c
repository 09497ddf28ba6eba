/* SPDX-License-Identifier: MIT */
/*
 * store/heap/cache.c - the per-process cache's slow paths: refill, when a
 * cache has no block of the class asked for, and reclaim, when the
 * extent allocator has no room left (heap.c's header, "Slabs", its
 * Refill and Reclaim paragraphs).  The cache's own operations (count,
 * get, put, spill) are inline in heap_int.h: the small alloc and free
 * paths run them.
 *
 * Refill pops a slab off its class stack (inheriting its listed token,
 * which it clears), takes up to CAP/2 blocks into the cache, and re-lists
 * the slab if it still has free blocks; with nothing on the stack it
 * carves a new slab (extent.c, under the lock).  Reclaim flushes the
 * caller's cache, drains every class stack, then visits every slab: an
 * unlisted live slab that is wholly free is retired (extent.c, under the
 * lock), one with some free blocks is re-listed.  The visit also re-lists
 * slabs a process left unlisted when it died in a refill.
 *
 * Locking: lock-free but for a carve and a retire, which take the heap's
 * lock and return its error.  The caller is the cache's owner, one thread
 * at a time (store/heap.h).  Best effort under concurrency: while one
 * process has the class stacks drained, another may find them empty.
 */
#include "heap_int.h"

#include <errno.h>

/* ------------------------------------------------------------------ */
/* Refill and reclaim                                                  */

/* The next slab to take blocks from: off the class stack (unlisted), or
 * freshly carved. */
static int refill_source(const struct shoal__heap_view *hv, uint32_t c,
			 uint32_t *s)
{
	uint32_t page;
	int rc;

	for (uint32_t i = 0;
	     i < nslabs_of(hv) && shoal__heap_class_pop(hv, c, s); i++) {
		if (!slab_usable(hv, *s, c))
			continue; /* garbage on the stack: drop it */
		SHOAL__CRASH_AT(hv->crash, HEAP_SLAB_POPPED);
		shoal__heap_slab_unlist(hv, *s);
		return 0;
	}
	rc = shoal__heap_extent_take(hv, PAGES_PER_SLAB, PM_SLAB, c, &page);
	*s = page / PAGES_PER_SLAB;
	return rc;
}

/* Puts up to CAP/2 blocks of class c into the (empty) cache. */
int shoal__heap_refill(const struct shoal__heap_view *hv,
		       struct shoal__heap_cache *cache, uint32_t c)
{
	uint32_t s;

	for (uint32_t i = 0; i <= nslabs_of(hv) + 4; i++) {
		int rc = refill_source(hv, c, &s);

		if (rc != 0)
			return rc;
		shoal__heap_slab_take(hv, cache, c, s);
		shoal__heap_slab_relist(hv, s);
		if (cache_count(cache, c) > 0)
			return 0;
	}
	return -ENOMEM;
}

/* Pops every slab off class c's stack, clearing listed. */
static void class_drain(const struct shoal__heap_view *hv, uint32_t c)
{
	uint32_t s;

	for (uint32_t i = 0;
	     i < nslabs_of(hv) && shoal__heap_class_pop(hv, c, &s); i++)
		shoal__heap_slab_unlist(hv, s);
}

/* An unlisted live slab: retired if wholly free, else re-listed.  0, or
 * the lock's error (the slab left unlisted, as a death would: the next
 * reclaim settles it). */
static int slab_settle(const struct shoal__heap_view *hv, uint32_t s)
{
	/* HP-A1: for the shape; the retire reloads under the lock. */
	uint64_t w = atomic_load_explicit(&slab_at(hv, s)->word,
					  memory_order_acquire);

	if (!sw_live(w) || sw_listed(w))
		return 0;
	if (slab_idle(hv, s, w))
		return shoal__heap_slab_retire(hv, s);
	shoal__heap_slab_relist(hv, s);
	return 0;
}

/* Stops at the first retire whose lock wait ran out (every later one
 * would wait for the same holder): -ETIMEDOUT, and the caller gives up. */
int shoal__heap_reclaim(const struct shoal__heap_view *hv,
			struct shoal__heap_cache *cache)
{
	int rc = 0;

	shoal__heap_cache_flush(hv, cache);
	for (uint32_t c = 0; c < SHOAL__HEAP_NCLASSES; c++)
		class_drain(hv, c);
	for (uint32_t s = 0; s < nslabs_of(hv) && rc != -ETIMEDOUT; s++)
		rc = slab_settle(hv, s);
	return rc == -ETIMEDOUT ? rc : 0;
}
