/* SPDX-License-Identifier: MIT */
/*
 * store/heap/heap_int.h - what the heap's own files share, and no one
 * else: the layout of its metadata in the segment, the accessors that find
 * its parts, the encodings of a slab word and of a page-map entry, the
 * per-process cache's operations, and the functions that one of heap.c,
 * extent.c, slab.c and cache.c calls in another.  The rest of store/ uses
 * the heap through store/heap.h only; the design, its invariants and its
 * memory orders (HP-R1/HP-A1 .. HP-R3/HP-A3) are heap.c's header.
 *
 * The inline functions are the ones more than one file reads (geometry,
 * slab words), and the cache's operations, which the small alloc and free
 * paths in heap.c must reach without a call into another file.
 * Who calls what, and under which lock or protocol:
 *   heap.c    shoal__heap_lock/unlock: any caller, bounded by the view's
 *             lock_by; shoal__heap_intent_begin/finish: the lock holder
 *   extent.c  everything: under the heap's lock, or takes it itself
 *   slab.c    shoal__heap_slab_init, shoal__heap_slab_is_retired: under
 *             the lock, in a CARVE or a RETIRE intent; the rest
 *             lock-free, any process
 *   cache.c   the cache's owner, one thread at a time, lock-free but for
 *             a carve or a retire
 *   cache_*   (below) the cache's owner, one thread at a time: plain
 *             stores in the order a reaper trusts (heap.c's header)
 */
#ifndef SHOAL_STORE_HEAP_INT_H
#define SHOAL_STORE_HEAP_INT_H

#if !defined(SHOAL__LAYER_STORE) && !defined(SHOAL__WHITEBOX)
#error "store/heap/heap_int.h is private to store/heap/"
#endif

#include <assert.h>
#include <pthread.h>
#include <stddef.h>

#include "crash.h"
#include "heap.h"

#define PAGES_PER_SLAB (SHOAL__SLAB_SIZE / SHOAL__PAGE_SIZE)
#define CACHE_HALF (SHOAL__HEAP_CACHE_CAP / 2)

/* Page-map entry: state in bits 31..30, run length in pages below. */
#define PM_FREE 1u
#define PM_USED 2u
#define PM_SLAB 3u
#define PM_SHIFT 30
#define PM_LEN_MAX ((1u << PM_SHIFT) - 1)

/* Slab word (see heap.c's header). */
#define SW_EMPTY 0xFFFFu   /* head: no free block; also the last link */
#define SW_RETIRED 0xFFFEu /* head: not a live slab */
#define SW_TAG_MASK 0x7FFFFFFFu
#define SW_LISTED (UINT64_C(1) << 63)

#define SLAB_NONE UINT32_MAX /* class stack / slab next: none */

/* Intent ops. */
#define OP_NONE 0u
#define OP_ALLOC 1u
#define OP_FREE 2u
#define OP_CARVE 3u
#define OP_RETIRE 4u

#define PLAN_ZERO 4
#define PLAN_TAGS 6

/*
 * A page-map change, computed before it is made.  Written by the lock
 * holder into the intent before HP-R3; read by the lock holder, or by the
 * process that recovers the lock from a dead holder, after HP-A3.
 */
struct heap_plan {
	uint32_t nzero;               /* entries of zero[] used */
	uint32_t ntags;               /* entries of tag_page[]/tag_val[] */
	uint32_t zero[PLAN_ZERO];     /* pages whose entry becomes 0 */
	uint32_t tag_page[PLAN_TAGS]; /* pages whose entry becomes ... */
	uint32_t tag_val[PLAN_TAGS];  /* ... this tag */
	uint32_t slab;                /* CARVE, RETIRE: the slab */
	uint32_t cls;                 /* CARVE: its class */
	uint32_t rover;               /* rover afterwards */
	uint32_t pad_;
	uint64_t reserved;            /* reserved pages afterwards */
	uint64_t rec_off;             /* a caller's record word (0: none) */
	uint64_t rec_val;             /* ... gets this value with the plan */
};

struct heap_intent {
	_Atomic uint32_t op;          /* lock holder: HP-R3 after plan; HP-A3 */
	uint32_t pad_;
	struct heap_plan plan;        /* lock holder, before op */
};

/* A class's stack of slabs with free blocks: any process, CAS only. */
struct heap_class {
	_Alignas(64) _Atomic uint64_t head; /* slab index | tag << 32 */
};

struct heap_slab {
	/* Any process, CAS; an atomic store (HP-R1) only at carve, by the lock
	 * holder, while the slab is reachable by no one. */
	_Atomic uint64_t word;
	/* The holder of the listed token, before its HP-R2 push; read relaxed by
	 * poppers. */
	_Atomic uint32_t next;
	/* class | nblocks << 8: the lock holder at carve, before HP-R1. */
	_Atomic uint32_t shape;
};

struct heap_hdr {
	/* Written once by the creator (shoal__heap_init); read-only after. */
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_size;
	uint64_t arena_size;
	uint64_t meta_size;
	uint32_t npages;
	uint32_t nslabs;
	uint32_t nclasses;
	uint32_t cache_cap;
	uint64_t slabs_off; /* from meta_off */
	uint64_t pmap_off;  /* from meta_off */
	/* Robust, process-shared: guards the page map, intent and rover. */
	_Alignas(64) pthread_mutex_t lock;
	/* Written by the lock holder only. */
	struct heap_intent intent;
	uint32_t rover;     /* first page of a run: next fit starts here */
	/* Pages in USED and SLAB runs: written (relaxed) by the lock holder
	 * as part of a plan; read relaxed by anyone (a statistic). */
	_Alignas(8) _Atomic uint64_t reserved;
	/* Any process, lock-free. */
	struct heap_class classes[SHOAL__HEAP_NCLASSES];
};

static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_LONG_LOCK_FREE == 2,
	      "64-bit atomics must be lock-free");
static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");
static_assert(sizeof(_Atomic uint64_t) == 8, "slab word");
static_assert(sizeof(_Atomic uint32_t) == 4, "block link");
static_assert(sizeof(struct heap_slab) == 16, "slab metadata");
static_assert(sizeof(struct heap_class) == 64, "class stack line");
static_assert(offsetof(struct heap_hdr, lock) == 64, "lock line");
static_assert(offsetof(struct heap_hdr, classes) % 64 == 0, "class lines");
static_assert(SHOAL__SLAB_SIZE / 64 < SW_RETIRED, "block index fits");
static_assert(PAGES_PER_SLAB == 16, "slab geometry");
static_assert(SHOAL__HEAP_CACHE_CAP % 2 == 0, "cache halves");

static const uint16_t class_size[SHOAL__HEAP_NCLASSES] = {
	64,    128,   192,   256,   320,   384,   448,   512,
	640,   768,   896,   1024,  1280,  1536,  1792,  2048,
	2560,  3072,  3584,  4096,  5120,  6144,  7168,  8192,
	10240, 12288, 14336, 16384,
};

/* ------------------------------------------------------------------ */
/* Geometry and accessors                                              */

static inline uint64_t align64(uint64_t x)
{
	return (x + 63) & ~(uint64_t)63;
}

/* Where the slab array and the page map start, from meta_off. */
static inline uint64_t slabs_rel(void)
{
	return align64(sizeof(struct heap_hdr));
}

static inline uint64_t pmap_rel(uint32_t nslabs)
{
	return align64(slabs_rel() + (uint64_t)nslabs * sizeof(struct heap_slab));
}

static inline struct heap_hdr *hdr_of(const struct shoal__heap_view *hv)
{
	return shoal__at(&hv->map, hv->meta_off);
}

static inline uint32_t npages_of(const struct shoal__heap_view *hv)
{
	return (uint32_t)(hv->arena_size / SHOAL__PAGE_SIZE);
}

static inline uint32_t nslabs_of(const struct shoal__heap_view *hv)
{
	return (uint32_t)(hv->arena_size / SHOAL__SLAB_SIZE);
}

static inline struct heap_slab *slab_at(const struct shoal__heap_view *hv,
					uint32_t s)
{
	uint8_t *meta = (uint8_t *)hdr_of(hv);

	return (struct heap_slab *)(meta + slabs_rel()) + s;
}

static inline uint32_t *pmap_of(const struct shoal__heap_view *hv)
{
	uint8_t *meta = (uint8_t *)hdr_of(hv);

	return (uint32_t *)(meta + pmap_rel(nslabs_of(hv)));
}

static inline uint64_t page_off(const struct shoal__heap_view *hv, uint32_t p)
{
	return hv->arena_off + (uint64_t)p * SHOAL__PAGE_SIZE;
}

static inline uint64_t slab_off(const struct shoal__heap_view *hv, uint32_t s)
{
	return hv->arena_off + (uint64_t)s * SHOAL__SLAB_SIZE;
}

/* The link word of the block at off (an offset this process computed
 * from a validated slab and block index). */
static inline _Atomic uint32_t *link_at(const struct shoal__heap_view *hv,
					uint64_t off)
{
	return (_Atomic uint32_t *)shoal__at(&hv->map, off);
}

static inline uint64_t pages_for(uint64_t size)
{
	return (size + SHOAL__PAGE_SIZE - 1) / SHOAL__PAGE_SIZE;
}

/* Page index of off if it is a page boundary inside the arena. */
static inline bool page_of(const struct shoal__heap_view *hv, uint64_t off,
			   uint32_t *p)
{
	uint64_t rel = off - hv->arena_off;

	if (off < hv->arena_off || rel >= hv->arena_size ||
	    rel % SHOAL__PAGE_SIZE != 0)
		return false;
	*p = (uint32_t)(rel / SHOAL__PAGE_SIZE);
	return true;
}

/* ------------------------------------------------------------------ */
/* Size classes                                                        */

static inline uint32_t class_nblocks(uint32_t c)
{
	return SHOAL__SLAB_SIZE / class_size[c];
}

/* ------------------------------------------------------------------ */
/* Slab words and shapes                                               */

static inline uint32_t sw_head(uint64_t w)
{
	return (uint32_t)(w & 0xFFFF);
}

static inline uint32_t sw_count(uint64_t w)
{
	return (uint32_t)((w >> 16) & 0xFFFF);
}

static inline uint32_t sw_tag(uint64_t w)
{
	return (uint32_t)(w >> 32) & SW_TAG_MASK;
}

static inline bool sw_listed(uint64_t w)
{
	return (w & SW_LISTED) != 0;
}

static inline bool sw_live(uint64_t w)
{
	return sw_head(w) != SW_RETIRED;
}

static inline uint64_t sw_make(uint32_t head, uint32_t count, uint32_t tag,
			       bool listed)
{
	return (uint64_t)head | (uint64_t)count << 16 |
	       (uint64_t)(tag & SW_TAG_MASK) << 32 | (listed ? SW_LISTED : 0);
}

/* The word that follows w: same tag + 1. */
static inline uint64_t sw_next(uint64_t w, uint32_t head, uint32_t count,
			       bool listed)
{
	return sw_make(head, count, sw_tag(w) + 1, listed);
}

/* The class of slab s as recorded at its carve, if that record is sane.
 * Meaningful after an HP-A1 load that saw the slab live. */
static inline bool slab_class(const struct shoal__heap_view *hv, uint32_t s,
			      uint32_t *c)
{
	/* Relaxed: written before the HP-R1 init store we synchronised with. */
	uint32_t sh = atomic_load_explicit(&slab_at(hv, s)->shape,
					   memory_order_relaxed);

	*c = sh & 0xFF;
	return *c < SHOAL__HEAP_NCLASSES && sh >> 8 == class_nblocks(*c);
}

/* Slab s is of class c (after an HP-A1 load of a live word, as above). */
static inline bool slab_is_class(const struct shoal__heap_view *hv, uint32_t s,
				 uint32_t c)
{
	uint32_t sc;

	return slab_class(hv, s, &sc) && sc == c;
}

/* Slab and block index of off if it is a block boundary of class c. */
static inline bool block_locate(const struct shoal__heap_view *hv, uint32_t c,
				uint64_t off, uint32_t *s, uint32_t *b)
{
	uint64_t rel = off - hv->arena_off;
	uint32_t in;

	if (off < hv->arena_off || rel >= hv->arena_size)
		return false;
	*s = (uint32_t)(rel / SHOAL__SLAB_SIZE);
	in = (uint32_t)(rel % SHOAL__SLAB_SIZE);
	*b = in / class_size[c];
	return in % class_size[c] == 0 && *b < class_nblocks(c);
}

/* A word whose head and count agree for a slab of nb blocks. */
static inline bool sw_sane(uint64_t w, uint32_t nb)
{
	uint32_t h = sw_head(w), n = sw_count(w);

	return h == SW_EMPTY ? n == 0 : h < nb && n > 0 && n <= nb;
}

/* A live, unlisted slab all of whose blocks are on its stack. */
static inline bool slab_idle(const struct shoal__heap_view *hv, uint32_t s,
			     uint64_t w)
{
	uint32_t c;

	return sw_live(w) && !sw_listed(w) && slab_class(hv, s, &c) &&
	       sw_count(w) == class_nblocks(c);
}

/* A slab popped off class c's stack is usable if it is live and of c. */
static inline bool slab_usable(const struct shoal__heap_view *hv, uint32_t s,
			       uint32_t c)
{
	_Atomic uint64_t *word = &slab_at(hv, s)->word;

	/* HP-A1: makes the shape written at carve visible. */
	return sw_live(atomic_load_explicit(word, memory_order_acquire)) &&
	       slab_is_class(hv, s, c);
}

/* ------------------------------------------------------------------ */
/* Page map                                                            */

static inline uint32_t pm_tag(uint32_t state, uint32_t len)
{
	return state << PM_SHIFT | len;
}

static inline uint64_t reserved_pages(const struct shoal__heap_view *hv)
{
	/* Relaxed: a statistic; under the lock it is the last plan's value. */
	return atomic_load_explicit(&hdr_of(hv)->reserved, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* Across the files                                                    */

/* heap.c: the heap's lock (the one blocking lock of the store) and the
 * intent that makes every change under it replayable. */
int shoal__heap_lock(const struct shoal__heap_view *hv);
void shoal__heap_unlock(const struct shoal__heap_view *hv);
void shoal__heap_intent_begin(const struct shoal__heap_view *hv,
			      uint32_t op, const struct heap_plan *pl);
void shoal__heap_intent_finish(const struct shoal__heap_view *hv);

/* extent.c: the page map and the extent allocator. */
uint32_t shoal__heap_free_at(const uint32_t *pm, uint32_t np, uint32_t p);
void shoal__heap_plan_apply(const struct shoal__heap_view *hv,
			    const struct heap_plan *pl);
int shoal__heap_extent_take_rec(const struct shoal__heap_view *hv,
				uint32_t n, uint32_t state, uint32_t cls,
				uint32_t *page, _Atomic uint64_t *rec);
int shoal__heap_extent_take(const struct shoal__heap_view *hv, uint32_t n,
			    uint32_t state, uint32_t cls, uint32_t *page);
int shoal__heap_large_free(const struct shoal__heap_view *hv, uint64_t off,
			   uint64_t size, _Atomic uint64_t *rec);
int shoal__heap_slab_retire(const struct shoal__heap_view *hv, uint32_t s);

/* slab.c: slabs, class stacks, the listed token, blocks on a slab. */
void shoal__heap_slab_init(const struct shoal__heap_view *hv, uint32_t s,
			   uint32_t c);
bool shoal__heap_slab_is_retired(const struct shoal__heap_view *hv,
				 uint32_t s);
bool shoal__heap_class_pop(const struct shoal__heap_view *hv, uint32_t c,
			   uint32_t *s);
void shoal__heap_slab_unlist(const struct shoal__heap_view *hv, uint32_t s);
void shoal__heap_slab_relist(const struct shoal__heap_view *hv, uint32_t s);
void shoal__heap_slab_take(const struct shoal__heap_view *hv,
			   struct shoal__heap_cache *cache, uint32_t c,
			   uint32_t s);
void shoal__heap_slab_give(const struct shoal__heap_view *hv, uint32_t c,
			   uint64_t off);

/* cache.c: refill and reclaim. */
int shoal__heap_refill(const struct shoal__heap_view *hv,
		       struct shoal__heap_cache *cache, uint32_t c);
int shoal__heap_reclaim(const struct shoal__heap_view *hv,
			struct shoal__heap_cache *cache);

/* ------------------------------------------------------------------ */
/* The per-process cache (its owner only)                              */

static inline uint32_t cache_count(const struct shoal__heap_cache *cache,
				   uint32_t c)
{
	uint32_t n = cache->count[c];

	return n <= SHOAL__HEAP_CACHE_CAP ? n : SHOAL__HEAP_CACHE_CAP;
}

/* Returns up to k blocks of class c from the top of the cache. */
static inline void cache_spill(const struct shoal__heap_view *hv,
			       struct shoal__heap_cache *cache, uint32_t c,
			       uint32_t k)
{
	for (uint32_t i = 0; i < k; i++) {
		uint32_t n = cache_count(cache, c);
		uint64_t off;

		if (n == 0)
			return;
		off = cache->blocks[c][n - 1];
		cache->count[c] = n - 1; /* before the push: leak, never twice */
		SHOAL__CRASH_AT(hv->crash, HEAP_BLOCK_GIVING);
		shoal__heap_slab_give(hv, c, off);
	}
}

static inline void cache_put(const struct shoal__heap_view *hv,
			     struct shoal__heap_cache *cache, uint32_t c,
			     uint64_t off)
{
	uint32_t n = cache_count(cache, c);

	if (n == SHOAL__HEAP_CACHE_CAP) {
		cache_spill(hv, cache, c, CACHE_HALF);
		n = cache_count(cache, c);
	}
	cache->blocks[c][n] = off;
	/* HP-R4, compiler order only: a reaper reads the cache after our
	 * death, so the entry must be stored before the count that covers
	 * it. */
	atomic_signal_fence(memory_order_release);
	cache->count[c] = n + 1;
}

/* Takes a block of class c from the cache (entries outside the arena,
 * which only the owner could have written, are dropped). */
static inline bool cache_get(const struct shoal__heap_view *hv,
			     struct shoal__heap_cache *cache, uint32_t c,
			     shoal__off_t *out, _Atomic uint64_t *rec)
{
	uint32_t s, b;

	for (uint32_t n = cache_count(cache, c); n > 0; n--) {
		uint64_t off = cache->blocks[c][n - 1];

		/* HP-R4, the handoff (heap.h): the record names the block
		 * before the count that gives it away; compiler order only, a
		 * reaper reads both after our death. */
		if (rec)
			atomic_store_explicit(rec, off, memory_order_relaxed);
		atomic_signal_fence(memory_order_release);
		cache->count[c] = n - 1;
		if (block_locate(hv, c, off, &s, &b)) {
			*out = SHOAL__OFF(off);
			return true;
		}
	}
	return false;
}

#endif /* SHOAL_STORE_HEAP_INT_H */
