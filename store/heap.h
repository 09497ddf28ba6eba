/* SPDX-License-Identifier: MIT */
/*
 * store/heap.h - the shared allocator's interface and in-segment layout.
 *
 * The heap hands out blocks of the segment's arena to any process; any
 * process may free any block.  Its metadata lives in the segment (a
 * metadata region separate from the arena), never a pointer, only offsets
 * and indices.  See heap/heap.c for the design and its invariants.
 *
 * Sizes up to SHOAL__HEAP_SMALL_MAX come from size-class slabs; larger ones
 * are page runs from the extent allocator.  Every block is 64-byte aligned;
 * page runs are page aligned.  Usable size of a block is
 * shoal__heap_block_size(size) >= size.
 */
#ifndef SHOAL_STORE_HEAP_H
#define SHOAL_STORE_HEAP_H

#if !defined(SHOAL__LAYER_STORE) && !defined(SHOAL__WHITEBOX)
#error "store/heap.h is private to store/: a layer above includes store/ext.h"
#endif

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "off.h"

struct shoal__crash;
struct shoal__later;

#define SHOAL__PAGE_SIZE 4096u
#define SHOAL__SLAB_SIZE (64u * 1024u)
#define SHOAL__HEAP_SMALL_MAX (16u * 1024u)
#define SHOAL__HEAP_NCLASSES 28
#define SHOAL__HEAP_CACHE_CAP 32

/*
 * Per-process block cache, embedded in the process's slot in the segment.
 * Written only by the owning process (plain stores, program order); read by
 * a reaper only after the owner is known dead, so no atomics are needed.
 * blocks[c][0 .. count[c]) are free blocks of class c owned by this cache.
 * A block is written into blocks[c][count[c]] before it is taken from a
 * slab and count[c] is incremented after: a reaper that finds count[c]
 * trusts only [0, count[c]).
 */
struct shoal__heap_cache {
	uint32_t count[SHOAL__HEAP_NCLASSES];
	uint32_t pad_;
	uint64_t blocks[SHOAL__HEAP_NCLASSES][SHOAL__HEAP_CACHE_CAP];
};

/* Process-local handle on a mapped heap (not in the segment). */
struct shoal__heap_view {
	struct shoal__map map;     /* the whole segment */
	uint64_t meta_off;         /* heap metadata region */
	uint64_t meta_size;
	uint64_t arena_off;        /* first byte of the arena, 64 KiB aligned */
	struct shoal__crash *crash; /* the process's crash arming (crash.h;
				     * crash builds only), NULL: none */
	uint64_t arena_size;       /* multiple of SHOAL__SLAB_SIZE */
	/* How long a call may wait for the heap's lock (deadline.h): set by
	 * the view's owner around a call whose caller gave a timeout, under
	 * the lock that serialises its cache; NULL: SHOAL__LOCK_MIN_MS from
	 * the wait's start.  Past it the call fails with -ETIMEDOUT. */
	struct shoal__later *lock_by;
};

/* Bytes of metadata the heap needs for an arena of arena_size bytes. */
uint64_t shoal__heap_meta_size(uint64_t arena_size);

/* Creator only, before any other process can see the segment: initialises
 * the metadata region (robust mutex included: pshared + robust). */
int shoal__heap_init(const struct shoal__heap_view *hv);

/* Attach: checks the metadata's own magic/sizes against the view.  Returns
 * 0 or SHOAL_EBADSEGMENT. */
int shoal__heap_check(const struct shoal__heap_view *hv);

/* Size class of a request (0 .. NCLASSES-1), or -1 for a page run. */
int shoal__heap_class(uint64_t size);

/* Usable bytes of the block a request of `size` gets. */
uint64_t shoal__heap_block_size(uint64_t size);

/*
 * Allocates a block of at least `size` bytes (size >= 1) into *out (an
 * offset from the segment base).  Small sizes come from the caller's cache,
 * refilled from slabs; large ones from the extent allocator.  When no space
 * is left, first flushes this cache and retires wholly free slabs back to
 * the extent allocator, then returns -ENOMEM.  -EINVAL for size 0 or a
 * size above the arena; -ETIMEDOUT if it needed the heap's lock and
 * another process held it past the view's lock_by (nothing allocated).
 */
int shoal__heap_alloc(const struct shoal__heap_view *hv,
		      struct shoal__heap_cache *cache, uint64_t size,
		      shoal__off_t *out);

/* Frees a block of `size` bytes (the size given to alloc) at off, which
 * any process may have allocated.  Small blocks go to the caller's cache
 * (half of it is flushed to the slabs when full).  Returns 0, or -EINVAL for
 * an offset that is not the start of an allocated block of that class
 * (nothing is changed then), or -ETIMEDOUT for a page run whose free
 * could not get the heap's lock (lock_by): not freed, its record (below)
 * still names it. */
int shoal__heap_free(const struct shoal__heap_view *hv,
		     struct shoal__heap_cache *cache, shoal__off_t off,
		     uint64_t size);

/*
 * The handoff: the same calls with a record word `rec` in the segment
 * (the caller's intent), so that a reaper can tell after the caller's
 * death whether a block changed hands, instead of leaking it.
 *  - alloc: rec gets the block's offset.  A small block: rec is written
 *    before the cache count that gives the block away, so "rec names X and
 *    X is not in the (dead) owner's cache" means the caller got X.  A large
 *    run: rec is written by the extent plan itself (under the heap lock,
 *    replayed by whoever recovers it), so "rec names X" means allocated.
 *  - free: a small block is freed when the cache count that covers it is
 *    stored, so "X in the cache" means freed; a large run's plan stores 0
 *    into rec, so "rec still names X" means not freed.
 * shoal__heap_rec_owns() answers both: does the record still own X (got
 * it and has not freed it)?  Only meaningful once the cache's owner is
 * dead or is the caller.  A reaper that frees on a dead owner's behalf
 * frees into the dead owner's cache, so the answer stays true to the end.
 * Windows inside the slab layer (a pop or push CAS and the cache count
 * beside it) are the heap's own, see heap/heap.c.
 */
int shoal__heap_alloc_rec(const struct shoal__heap_view *hv,
			  struct shoal__heap_cache *cache, uint64_t size,
			  shoal__off_t *out, _Atomic uint64_t *rec);
int shoal__heap_free_rec(const struct shoal__heap_view *hv,
			 struct shoal__heap_cache *cache, shoal__off_t off,
			 uint64_t size, _Atomic uint64_t *rec);
bool shoal__heap_rec_owns(const struct shoal__heap_cache *cache,
			  _Atomic uint64_t *rec, uint64_t off, uint64_t size);

/* Finishes the pending plan of a holder of the heap's lock that died
 * (takes the lock, which replays it, and lets go): then every record a
 * plan names holds what the plan made of it.  A reaper calls it before it
 * reads a dead process's records: that process may have died holding the
 * lock with its allocation's plan published and not applied, and a
 * record read before the replay would say "no block" for a run the
 * replay then hands to it.  0, SHOAL_EBADSEGMENT for a broken lock, or
 * -ETIMEDOUT for a lock held past lock_by (nothing replayed). */
int shoal__heap_settle(const struct shoal__heap_view *hv);

/* Returns every block of a cache to the slabs and zeroes the cache: at
 * close, and by a reaper on a dead process's cache. */
void shoal__heap_cache_flush(const struct shoal__heap_view *hv,
			     struct shoal__heap_cache *cache);

/* True if the page run starting at off is currently free (used by a reaper
 * to learn whether a dead process's large free completed); false too if
 * the heap's lock could not be had. */
bool shoal__heap_run_is_free(const struct shoal__heap_view *hv,
			     shoal__off_t off);

/* Bytes of the arena currently taken by slabs and page runs. */
uint64_t shoal__heap_reserved(const struct shoal__heap_view *hv);

#endif /* SHOAL_STORE_HEAP_H */
