/* SPDX-License-Identifier: MIT */
/*
 * store/heap.c - the shared allocator: size-class slabs with lock-free free
 * lists, over a page-run extent allocator, all metadata in the segment.
 *
 * What it does
 * ------------
 * The arena [arena_off, arena_off + arena_size) is a sequence of 4 KiB
 * pages.  A request above 16 KiB gets a run of whole pages from the extent
 * allocator.  A smaller one is rounded up to one of 28 size classes (64 B
 * steps up to 512 B, then four classes per doubling up to 16 KiB, all
 * multiples of 64 B) and comes out of a 64 KiB slab of that class.  Slabs
 * are page runs too, aligned on 64 KiB from the arena start, so the slab of
 * a block is (off - arena_off) / 64 KiB with no lookup, and its metadata is
 * an array indexed by that number.  Each process keeps a cache of free
 * blocks per class in its own slot (struct shoal__heap_cache): most small
 * allocations and frees touch no shared word.
 *
 * Metadata (the region [meta_off, meta_off + meta_size), never in the arena):
 *
 *   struct heap_hdr      geometry, robust mutex, intent, rover, reserved
 *                        pages, and the 28 class stacks (a line each)
 *   struct heap_slab[]   one per 64 KiB of arena
 *   uint32_t pmap[]      one entry per page of arena
 *
 * Extent allocator (cold path, one lock)
 * --------------------------------------
 * The page map holds boundary tags: the first and the last page of every
 * run record its state (FREE, USED, SLAB) and its length; every other entry
 * is 0.  Invariant: an entry is non-zero iff its page is the first or last
 * page of a run, and the runs tile the arena.  So a walk from page 0 (or
 * from any run's first page) steps run by run, a freed run finds its
 * neighbours through pmap[s - 1] and pmap[s + n], and a USED tag at a
 * page is proof that a run of that length starts there (a stale tag cannot
 * survive: tags that stop being boundaries are zeroed).  Allocation is next
 * fit: the walk starts at the rover (always a run's first page) and wraps
 * once; the run found is split in up to three (free head for alignment, the
 * allocation, free tail).  Free coalesces with free neighbours.  Slabs ask
 * for 16-page alignment relative to the arena start.
 *
 * The page map, the rover and the intent are guarded by one process-shared
 * robust pthread mutex in the header.  Every change under it is first
 * computed as a plan: the page-map entries to clear, the tags to write, the
 * rover and the reserved-page count afterwards (absolute values).  The plan
 * is written into the header's intent, then published by the intent's op
 * (R3), then applied, then op is reset to NONE.  Applying a plan twice
 * yields the same map (clears first, then tags), so a process that gets
 * EOWNERDEAD when it locks re-applies whatever intent it finds
 * and only then calls pthread_mutex_consistent().  Two ops touch a slab as
 * well: CARVE (a new slab: the page map, then the slab's metadata and free
 * list, all before the unlock, all redone by a recoverer) and RETIRE (a
 * CAS of the slab word to RETIRED, then the page map; a recoverer applies
 * the page map only if the word is RETIRED).  Every transition of a slab
 * word to or from RETIRED happens under the lock, inside such an intent.
 *
 * Slabs (hot path, lock-free)
 * ---------------------------
 * Each slab has one 64-bit word, changed only by CAS once a carve (under
 * the lock) has initialised it:
 *
 *   bits  0..15  head: index of the first free block, 0xFFFF none,
 *                0xFFFE RETIRED (not a live slab; count is then 0)
 *   bits 16..31  count of free blocks on the slab's stack
 *   bits 32..62  ABA tag, +1 on every successful CAS
 *   bit  63      listed: the slab is on its class stack, or someone who
 *                set or inherited this bit is about to push it there
 *
 * The next link of a free block lives in the block's own first 4 bytes, in
 * the arena.  A popper reads it with a relaxed atomic load: another process
 * may be writing its data there at that moment (the block was popped and
 * handed out after we read the head); the tag then makes our CAS fail and
 * the value is never used.  Pop and push of a block are one CAS each.
 *
 * Per class, a Treiber stack of slabs that may have free blocks: one word,
 * slab index (low 32 bits, 0xFFFFFFFF empty) + tag (high 32), the next
 * index in heap_slab.next.  Invariant: a slab is on its class stack at
 * most once.  Whoever turns "listed" 0 -> 1 in the slab word (a freer, in
 * the same CAS as its push of a block, or a refiller or a reclaim that
 * re-lists a slab) pushes it, exactly once; whoever pops it from the class
 * stack inherits the bit and clears it.  A slab with listed = 0 is on no
 * stack and nobody may push it without setting the bit first, so any
 * process may retire it (if wholly free) or re-list it (if not) at any time.
 *
 * Refill (a cache is empty): pop a slab from the class stack, clear listed,
 * pop up to CAP/2 blocks into the cache, then re-list it if it still has
 * free blocks.  Nothing on the stack: carve a new slab.  A small free goes
 * to the caller's cache; a full cache pushes half of it back to the slabs.
 * Reclaim (the extent allocator is full, for a small or a large request):
 * flush the caller's cache; pop every slab off every class stack, clearing
 * listed; then visit every slab: an unlisted live slab whose count equals
 * its block count is retired and its pages freed, one with some free
 * blocks is re-listed.  Then the allocation is retried once.  The visit
 * also re-lists slabs left unlisted by a process that died in a refill.
 *
 * Concurrency: any number of processes and threads may use one heap at
 * once, and any of them may free any block.  A cache is used by one thread
 * at a time (plain stores, heap.h): a process whose threads share one
 * cache must serialise its calls with a lock of its own.
 *
 * Caches (heap.h): the cache is written by its owner only, in an order a
 * reaper can trust after the owner's death: an entry is written before the
 * count that covers it (taking from a slab: entry, pop CAS, count + 1;
 * freeing into the cache: entry, compiler fence, count + 1), and a count
 * is lowered before the block leaves (count - 1, push CAS).
 *
 * Memory orders
 * -------------
 *   R1 <-> A1  slab word: a block push (CAS, release) or a slab init
 *              (store, release) <-> a pop, a free's validation, a push's
 *              validation, a retire (load or CAS, acquire).  Publishes the
 *              pushed block's link and everything its freer wrote into it,
 *              and for an init the links of all blocks and the slab's shape.
 *              All later changes of the word are RMWs, so every acquire
 *              synchronises with every earlier release (release sequence).
 *   R2 <-> A2  class stack head: push (CAS, release) <-> pop (load and
 *              CAS, acquire).  Publishes the slab's next link.
 *   R3 <-> A3  intent op: set (release) after the plan, reset to NONE
 *              (release) after the plan's writes <-> load (acquire) by the
 *              lock holder or a recoverer.  Publishes the plan, and with
 *              NONE the completed page-map writes, to a process that
 *              recovers the lock from a dead owner (the owner never
 *              unlocked, so the mutex itself orders nothing then).
 *   The mutex orders the page map, rover and plan between lock holders.
 *   Relaxed: listed-bit CASes (the slab's data is published by R1/R2, the
 *   bit itself is only a token checked by CAS); block links and slab next
 *   links (always validated by the CAS that follows, published by R1/R2);
 *   the slab shape (read after an A1 load of a live word); the reserved
 *   counter (a statistic written under the lock).
 *
 * Crash safety and limits
 * -----------------------
 * - A process may die anywhere.  Under the lock: the intent repairs the
 *   page map (above; crash points HEAP_PLANNED, HEAP_PUBLISHED,
 *   HEAP_APPLIED).  A plan names the caller's record (rec_off), and a
 *   dead holder's plan is applied by the next locker: a reaper settles
 *   the heap (shoal__heap_settle) before it reads a dead process's
 *   records, or it would read "no block" for a run the replay then hands
 *   to that record.  In the lock-free paths, every window leaks, none
 *   double-frees (crash.h's SHOAL__HEAP_LEAK_POINTS, one per window):
 *   * killed between a successful pop CAS and its count increment, a
 *     process leaks that one block (its reaper cannot tell whether the CAS
 *     happened, so it trusts only the count); likewise between lowering a
 *     count and the push CAS that returns the block;
 *   * killed between popping a slab off its class stack and clearing its
 *     listed bit, or between setting the bit and pushing the slab (a few
 *     instructions), a process strands that slab off its stack with the
 *     bit set: its free blocks stay unused (a known leak, bounded by one
 *     slab per death);
 *   * killed anywhere else in a refill or reclaim, it leaves slabs
 *     unlisted, which the next reclaim re-lists or retires.
 * - Double free: a free is refused (-EINVAL, nothing changed) unless the
 *   offset is a block boundary of a live slab of the size's class, or the
 *   first page of a USED run of the size's page count.  A second free of a
 *   large run is caught unless the run was allocated again in between.  A
 *   second free of a small block that still
 *   sits in a cache or on its slab's stack cannot be detected (it would put
 *   the block on a free list twice); the object directory guarantees one
 *   free per block.  A push that would exceed the slab's block count is
 *   dropped.
 * - shoal__heap_run_is_free() answers for the first page of a free run;
 *   a freed run that merged with a free left neighbour reports false
 *   (a second free of it is then refused).  Neither tells a completed free
 *   from a run freed and allocated again: a reaper needs its own proof.
 * - Reclaim is best effort under concurrency: while one process has the
 *   class stacks drained, another may see them empty and fail with
 *   -ENOMEM although blocks are free; a caller that evicts and retries
 *   (store/object/) recovers.  A slab carved by one process can be retired by a
 *   concurrent reclaim before its carver takes blocks; the carver retries.
 * - Tags are 31 bits (slab word) and 32 bits (class stack): an ABA needs a
 *   thread stalled between its load and its CAS for 2^31 changes.
 * - A broken lock (ENOTRECOVERABLE) is reported as SHOAL_EBADSEGMENT.
 * - A lock held past the caller's bound (heap.h, lock_by; a holder that
 *   stays alive and never lets go) fails the call with -ETIMEDOUT: an
 *   allocation gets nothing, a reclaim stops (its slabs unlisted, as after
 *   a death), a free of a page run leaves the run allocated and its record
 *   naming it.
 * - Arena up to 2^30 - 1 pages (4 TiB); the pmap length field is 30 bits.
 */
#include "heap.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <shoal/error.h>

#include "crash.h"
#include "deadline.h"

#define HEAP_MAGIC 0x53484f414c485031ull /* "SHOALHP1" */
#define HEAP_VERSION 1u

#define PAGES_PER_SLAB (SHOAL__SLAB_SIZE / SHOAL__PAGE_SIZE)
#define CACHE_HALF (SHOAL__HEAP_CACHE_CAP / 2)

/* Page-map entry: state in bits 31..30, run length in pages below. */
#define PM_FREE 1u
#define PM_USED 2u
#define PM_SLAB 3u
#define PM_SHIFT 30
#define PM_LEN_MAX ((1u << PM_SHIFT) - 1)

/* Slab word (see the file header). */
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
 * holder into the intent before R3; read by the lock holder, or by the
 * process that recovers the lock from a dead holder, after A3.
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
	_Atomic uint32_t op;          /* lock holder: R3 after plan; A3 */
	uint32_t pad_;
	struct heap_plan plan;        /* lock holder, before op */
};

/* A class's stack of slabs with free blocks: any process, CAS only. */
struct heap_class {
	_Alignas(64) _Atomic uint64_t head; /* slab index | tag << 32 */
};

struct heap_slab {
	/* Any process, CAS; an atomic store (R1) only at carve, by the lock
	 * holder, while the slab is reachable by no one. */
	_Atomic uint64_t word;
	/* The holder of the listed token, before its R2 push; read relaxed by
	 * poppers. */
	_Atomic uint32_t next;
	/* class | nblocks << 8: the lock holder at carve, before R1. */
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

struct heap_geom {
	uint32_t npages;
	uint32_t nslabs;
	uint64_t slabs_off; /* from meta_off */
	uint64_t pmap_off;  /* from meta_off */
	uint64_t size;      /* bytes of metadata */
};

static uint64_t align64(uint64_t x)
{
	return (x + 63) & ~(uint64_t)63;
}

/* Where the slab array and the page map start, from meta_off. */
static uint64_t slabs_rel(void)
{
	return align64(sizeof(struct heap_hdr));
}

static uint64_t pmap_rel(uint32_t nslabs)
{
	return align64(slabs_rel() + (uint64_t)nslabs * sizeof(struct heap_slab));
}

static bool geom_of(uint64_t arena_size, struct heap_geom *g)
{
	if (arena_size == 0 || arena_size % SHOAL__SLAB_SIZE != 0 ||
	    arena_size / SHOAL__PAGE_SIZE > PM_LEN_MAX)
		return false;
	g->npages = (uint32_t)(arena_size / SHOAL__PAGE_SIZE);
	g->nslabs = (uint32_t)(arena_size / SHOAL__SLAB_SIZE);
	g->slabs_off = slabs_rel();
	g->pmap_off = pmap_rel(g->nslabs);
	g->size = align64(g->pmap_off + (uint64_t)g->npages * sizeof(uint32_t));
	return true;
}

static struct heap_hdr *hdr_of(const struct shoal__heap_view *hv)
{
	return shoal__at(&hv->map, hv->meta_off);
}

static uint32_t npages_of(const struct shoal__heap_view *hv)
{
	return (uint32_t)(hv->arena_size / SHOAL__PAGE_SIZE);
}

static uint32_t nslabs_of(const struct shoal__heap_view *hv)
{
	return (uint32_t)(hv->arena_size / SHOAL__SLAB_SIZE);
}

static struct heap_slab *slab_at(const struct shoal__heap_view *hv,
				 uint32_t s)
{
	uint8_t *meta = (uint8_t *)hdr_of(hv);

	return (struct heap_slab *)(meta + slabs_rel()) + s;
}

static uint32_t *pmap_of(const struct shoal__heap_view *hv)
{
	uint8_t *meta = (uint8_t *)hdr_of(hv);

	return (uint32_t *)(meta + pmap_rel(nslabs_of(hv)));
}

static uint64_t page_off(const struct shoal__heap_view *hv, uint32_t p)
{
	return hv->arena_off + (uint64_t)p * SHOAL__PAGE_SIZE;
}

static uint64_t slab_off(const struct shoal__heap_view *hv, uint32_t s)
{
	return hv->arena_off + (uint64_t)s * SHOAL__SLAB_SIZE;
}

/* The link word of the block at off (an offset this process computed
 * from a validated slab and block index). */
static _Atomic uint32_t *link_at(const struct shoal__heap_view *hv,
				 uint64_t off)
{
	return (_Atomic uint32_t *)shoal__at(&hv->map, off);
}

static uint64_t pages_for(uint64_t size)
{
	return (size + SHOAL__PAGE_SIZE - 1) / SHOAL__PAGE_SIZE;
}

/* Page index of off if it is a page boundary inside the arena. */
static bool page_of(const struct shoal__heap_view *hv, uint64_t off,
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

int shoal__heap_class(uint64_t size)
{
	int lo = 0, hi = SHOAL__HEAP_NCLASSES - 1;

	if (size > SHOAL__HEAP_SMALL_MAX)
		return -1;
	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (class_size[mid] < size)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t shoal__heap_block_size(uint64_t size)
{
	int c = shoal__heap_class(size);

	if (c >= 0)
		return class_size[c];
	if (size > UINT64_MAX - (SHOAL__PAGE_SIZE - 1))
		return 0;
	return pages_for(size) * SHOAL__PAGE_SIZE;
}

static uint32_t class_nblocks(uint32_t c)
{
	return SHOAL__SLAB_SIZE / class_size[c];
}

/* ------------------------------------------------------------------ */
/* Slab words and shapes                                               */

static uint32_t sw_head(uint64_t w)
{
	return (uint32_t)(w & 0xFFFF);
}

static uint32_t sw_count(uint64_t w)
{
	return (uint32_t)((w >> 16) & 0xFFFF);
}

static uint32_t sw_tag(uint64_t w)
{
	return (uint32_t)(w >> 32) & SW_TAG_MASK;
}

static bool sw_listed(uint64_t w)
{
	return (w & SW_LISTED) != 0;
}

static bool sw_live(uint64_t w)
{
	return sw_head(w) != SW_RETIRED;
}

static uint64_t sw_make(uint32_t head, uint32_t count, uint32_t tag,
			bool listed)
{
	return (uint64_t)head | (uint64_t)count << 16 |
	       (uint64_t)(tag & SW_TAG_MASK) << 32 | (listed ? SW_LISTED : 0);
}

/* The word that follows w: same tag + 1. */
static uint64_t sw_next(uint64_t w, uint32_t head, uint32_t count,
			bool listed)
{
	return sw_make(head, count, sw_tag(w) + 1, listed);
}

static uint32_t shape_make(uint32_t c)
{
	return c | class_nblocks(c) << 8;
}

/* The class of slab s as recorded at its carve, if that record is sane.
 * Meaningful after an A1 load that saw the slab live. */
static bool slab_class(const struct shoal__heap_view *hv, uint32_t s,
		       uint32_t *c)
{
	/* Relaxed: written before the R1 init store we synchronised with. */
	uint32_t sh = atomic_load_explicit(&slab_at(hv, s)->shape,
					   memory_order_relaxed);

	*c = sh & 0xFF;
	return *c < SHOAL__HEAP_NCLASSES && sh >> 8 == class_nblocks(*c);
}

/* Slab s is of class c (after an A1 load of a live word, as above). */
static bool slab_is_class(const struct shoal__heap_view *hv, uint32_t s,
			  uint32_t c)
{
	uint32_t sc;

	return slab_class(hv, s, &sc) && sc == c;
}

/* Slab and block index of off if it is a block boundary of class c. */
static bool block_locate(const struct shoal__heap_view *hv, uint32_t c,
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
static bool sw_sane(uint64_t w, uint32_t nb)
{
	uint32_t h = sw_head(w), n = sw_count(w);

	return h == SW_EMPTY ? n == 0 : h < nb && n > 0 && n <= nb;
}

/* ------------------------------------------------------------------ */
/* Page map                                                            */

static uint32_t pm_tag(uint32_t state, uint32_t len)
{
	return state << PM_SHIFT | len;
}

/* The run whose first page is p, if the tags there are consistent. */
static bool run_at(const uint32_t *pm, uint32_t np, uint32_t p,
		   uint32_t *state, uint32_t *len)
{
	uint32_t e, l;

	if (p >= np)
		return false;
	e = pm[p];
	l = e & PM_LEN_MAX;
	if (e >> PM_SHIFT == 0 || l == 0 || l > np - p || pm[p + l - 1] != e)
		return false;
	*state = e >> PM_SHIFT;
	*len = l;
	return true;
}

/* Length of the free run that ends at page s - 1, or 0. */
static uint32_t free_before(const uint32_t *pm, uint32_t np, uint32_t s)
{
	uint32_t st, l, e;

	if (s == 0 || s > np)
		return 0;
	e = pm[s - 1];
	l = e & PM_LEN_MAX;
	if (l == 0 || l > s || !run_at(pm, np, s - l, &st, &l) ||
	    st != PM_FREE)
		return 0;
	return l;
}

/* Length of the free run that starts at page p, or 0. */
static uint32_t free_at(const uint32_t *pm, uint32_t np, uint32_t p)
{
	uint32_t st, l;

	return run_at(pm, np, p, &st, &l) && st == PM_FREE ? l : 0;
}

static void plan_tag(struct heap_plan *pl, uint32_t first, uint32_t len,
		     uint32_t state)
{
	uint32_t e = pm_tag(state, len);

	pl->tag_page[pl->ntags] = first;
	pl->tag_val[pl->ntags++] = e;
	pl->tag_page[pl->ntags] = first + len - 1;
	pl->tag_val[pl->ntags++] = e;
}

static void plan_zero(struct heap_plan *pl, uint32_t p)
{
	pl->zero[pl->nzero++] = p;
}

static uint64_t reserved_pages(const struct shoal__heap_view *hv)
{
	/* Relaxed: a statistic; under the lock it is the last plan's value. */
	return atomic_load_explicit(&hdr_of(hv)->reserved, memory_order_relaxed);
}

/* Take n pages at page a out of the free run [p, p + len). */
static void plan_take(const struct shoal__heap_view *hv, uint32_t p,
		      uint32_t len, uint32_t a, uint32_t n, uint32_t state,
		      struct heap_plan *pl)
{
	memset(pl, 0, sizeof *pl);
	if (a > p)
		plan_tag(pl, p, a - p, PM_FREE);
	plan_tag(pl, a, n, state);
	if (a + n < p + len)
		plan_tag(pl, a + n, p + len - a - n, PM_FREE);
	pl->rover = a + n < npages_of(hv) ? a + n : 0;
	pl->reserved = reserved_pages(hv) + n;
}

/* Free the run [s, s + n), merged with its free neighbours. */
static void plan_give(const struct shoal__heap_view *hv, uint32_t s,
		      uint32_t n, struct heap_plan *pl)
{
	const uint32_t *pm = pmap_of(hv);
	uint32_t np = npages_of(hv), ms = s, me = s + n, l;
	uint32_t rover = hdr_of(hv)->rover;
	uint64_t res = reserved_pages(hv);

	memset(pl, 0, sizeof *pl);
	l = free_before(pm, np, s);
	if (l > 0) {
		ms = s - l;
		plan_zero(pl, s - 1);
		plan_zero(pl, s);
	}
	l = me < np ? free_at(pm, np, me) : 0;
	if (l > 0) {
		plan_zero(pl, me - 1);
		plan_zero(pl, me);
		me += l;
	}
	plan_tag(pl, ms, me - ms, PM_FREE);
	pl->rover = ms < rover && rover < me ? ms : rover;
	pl->reserved = res >= n ? res - n : 0;
}

/* The caller's record word (heap.h, the handoff): written as part of the
 * plan, so that it says "allocated" or "freed" exactly when the page map
 * does, whoever applies the plan.  Relaxed: the reader is the owner
 * itself, or a reaper after the owner's death (which the mutex or the
 * reaper's own death test orders). */
static void plan_record(const struct shoal__heap_view *hv,
			const struct heap_plan *pl)
{
	if (pl->rec_off && pl->rec_off % 8 == 0 &&
	    pl->rec_off <= hv->map.size - 8)
		atomic_store_explicit((_Atomic uint64_t *)(hv->map.base +
							   pl->rec_off),
				      pl->rec_val, memory_order_relaxed);
}

/* Idempotent: clears first, then tags; bounds-checks everything, since a
 * recoverer reads the plan from shared memory. */
static void plan_apply(const struct shoal__heap_view *hv,
		       const struct heap_plan *pl)
{
	struct heap_hdr *h = hdr_of(hv);
	uint32_t *pm = pmap_of(hv);
	uint32_t np = npages_of(hv);

	for (uint32_t i = 0; i < pl->nzero && i < PLAN_ZERO; i++)
		if (pl->zero[i] < np)
			pm[pl->zero[i]] = 0;
	for (uint32_t i = 0; i < pl->ntags && i < PLAN_TAGS; i++)
		if (pl->tag_page[i] < np)
			pm[pl->tag_page[i]] = pl->tag_val[i];
	h->rover = pl->rover < np ? pl->rover : 0;
	/* Relaxed: a statistic; lock holders see it through the mutex. */
	atomic_store_explicit(&h->reserved,
			      pl->reserved <= np ? pl->reserved : np,
			      memory_order_relaxed);
	plan_record(hv, pl);
}

/* ------------------------------------------------------------------ */
/* Slab init and retire checks (under the lock)                        */

/* Makes slab s a live slab of class c with every block on its stack,
 * unlisted.  Under the lock, in a CARVE intent; redone by a recoverer. */
static void slab_init(const struct shoal__heap_view *hv, uint32_t s,
		      uint32_t c)
{
	struct heap_slab *sm;
	uint32_t nb, bs;
	uint64_t base, old;

	if (s >= nslabs_of(hv) || c >= SHOAL__HEAP_NCLASSES)
		return;
	sm = slab_at(hv, s);
	nb = class_nblocks(c);
	bs = class_size[c];
	base = slab_off(hv, s);
	/* Relaxed (links, shape, next): published by the R1 store below. */
	for (uint32_t b = 0; b < nb; b++)
		atomic_store_explicit(link_at(hv, base + (uint64_t)b * bs),
				      b + 1 < nb ? b + 1 : SW_EMPTY,
				      memory_order_relaxed);
	atomic_store_explicit(&sm->shape, shape_make(c), memory_order_relaxed);
	atomic_store_explicit(&sm->next, SLAB_NONE, memory_order_relaxed);
	/* Relaxed: only its tag is used, so that tags keep moving forward
	 * across the slab's lives (a stale CAS from a past life fails). */
	old = atomic_load_explicit(&sm->word, memory_order_relaxed);
	/* R1 (init): publishes the links and the shape to poppers (A1). */
	atomic_store_explicit(&sm->word, sw_next(old, 0, nb, false),
			      memory_order_release);
}

static bool slab_is_retired(const struct shoal__heap_view *hv, uint32_t s)
{
	/* A1: the CAS that retired it (ours, or a dead holder's). */
	return s < nslabs_of(hv) &&
	       !sw_live(atomic_load_explicit(&slab_at(hv, s)->word,
					     memory_order_acquire));
}

/* ------------------------------------------------------------------ */
/* Intent and lock                                                     */

static void intent_begin(const struct shoal__heap_view *hv, uint32_t op,
			 const struct heap_plan *pl)
{
	struct heap_hdr *h = hdr_of(hv);

	h->intent.plan = *pl;
	SHOAL__CRASH_AT(hv->crash, HEAP_PLANNED);
	/* R3: publishes the plan to a recoverer of the lock (A3). */
	atomic_store_explicit(&h->intent.op, op, memory_order_release);
	SHOAL__CRASH_AT(hv->crash, HEAP_PUBLISHED);
}

/* Carries out the pending intent, if any, and clears it.  Called by the
 * lock holder right after intent_begin, and by a process that got
 * EOWNERDEAD, for the dead holder's intent. */
static void intent_finish(const struct shoal__heap_view *hv)
{
	struct heap_hdr *h = hdr_of(hv);
	/* A3: pairs with R3 of whoever wrote the plan. */
	uint32_t op = atomic_load_explicit(&h->intent.op, memory_order_acquire);
	struct heap_plan pl;

	if (op == OP_NONE)
		return;
	pl = h->intent.plan;
	if (op == OP_ALLOC || op == OP_FREE || op == OP_CARVE ||
	    (op == OP_RETIRE && slab_is_retired(hv, pl.slab)))
		plan_apply(hv, &pl);
	if (op == OP_CARVE)
		slab_init(hv, pl.slab, pl.cls);
	SHOAL__CRASH_AT(hv->crash, HEAP_APPLIED);
	/* R3: the writes above are complete for whoever reads NONE (A3). */
	atomic_store_explicit(&h->intent.op, OP_NONE, memory_order_release);
}

#if defined(__SANITIZE_THREAD__)
#define HEAP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HEAP_TSAN 1
#endif
#endif

#ifndef HEAP_TSAN
/* Locks mx, waiting at most until d. */
static int heap_lock_until(pthread_mutex_t *mx, struct shoal__deadline d)
{
	struct timespec ts = {.tv_sec = d.ns / 1000000000,
			      .tv_nsec = d.ns % 1000000000};

	return pthread_mutex_clocklock(mx, CLOCK_MONOTONIC, &ts);
}
#else
/* The same under ThreadSanitizer, which (gcc 12's) does not intercept
 * pthread_mutex_clocklock and would then see the unlock of a mutex it
 * never saw locked: timedlock, against CLOCK_REALTIME (a step of the wall
 * clock can lengthen the wait; no race test steps the clock). */
static int heap_lock_until(pthread_mutex_t *mx, struct shoal__deadline d)
{
	struct timespec mono, real, ts;
	int64_t left;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	left = d.ns - ((int64_t)mono.tv_sec * 1000000000 + mono.tv_nsec);
	d.ns = (int64_t)real.tv_sec * 1000000000 + real.tv_nsec +
	       (left > 0 ? left : 0);
	ts.tv_sec = d.ns / 1000000000;
	ts.tv_nsec = d.ns % 1000000000;
	return pthread_mutex_timedlock(mx, &ts);
}
#endif

/* Waits for the lock until the view's bound (deadline.h): the caller's
 * timeout, or SHOAL__LOCK_MIN_MS from now. */
static int heap_lock_wait(const struct shoal__heap_view *hv,
			  pthread_mutex_t *mx)
{
	struct shoal__later dflt = shoal__later_in(SHOAL__LOCK_MIN_MS);
	struct shoal__deadline d = shoal__later_get(hv->lock_by ? hv->lock_by
							       : &dflt);

	if (d.ns == INT64_MAX)
		return pthread_mutex_lock(mx);
	return heap_lock_until(mx, d);
}

/* The one blocking lock of the store: its holder holds it for a plan's few
 * writes (no wait inside); a holder's death is noticed by the kernel
 * (robust futex list) and reported as EOWNERDEAD to the next locker, which
 * replays the holder's plan.  A holder that stays alive and never lets go
 * (stopped, or a neighbour that locked it or wrote its own tid into the
 * futex word) would hold everyone for ever: the wait ends at the view's
 * lock_by (heap_lock_wait) with -ETIMEDOUT, having changed nothing.  An
 * uncontended lock reads no clock. */
static int heap_lock(const struct shoal__heap_view *hv)
{
	pthread_mutex_t *mx = &hdr_of(hv)->lock;
	int rc = pthread_mutex_trylock(mx);

	if (rc == EBUSY)
		rc = heap_lock_wait(hv, mx);
	if (rc == EOWNERDEAD) {
		intent_finish(hv);
		rc = pthread_mutex_consistent(mx);
		if (rc != 0)
			pthread_mutex_unlock(mx);
	}
	if (rc == ETIMEDOUT)
		return -ETIMEDOUT;
	return rc == 0 ? 0 : SHOAL_EBADSEGMENT;
}

static void heap_unlock(const struct shoal__heap_view *hv)
{
	pthread_mutex_unlock(&hdr_of(hv)->lock);
}

/* ------------------------------------------------------------------ */
/* Extent allocator (under the lock)                                   */

/* First page >= p aligned to `align`, if n pages fit from there in the run
 * [p, p + len). */
static bool fit_in(uint32_t p, uint32_t len, uint32_t n, uint32_t align,
		   uint32_t *at)
{
	uint32_t a = (p + align - 1) / align * align;

	if (a - p >= len || len - (a - p) < n)
		return false;
	*at = a;
	return true;
}

/* Next fit: walks run by run from the rover, wrapping once. */
static bool find_fit(const struct shoal__heap_view *hv, uint32_t n,
		     uint32_t align, uint32_t *run, uint32_t *len,
		     uint32_t *at)
{
	const uint32_t *pm = pmap_of(hv);
	uint32_t np = npages_of(hv), start = hdr_of(hv)->rover, p, st, l;

	if (!run_at(pm, np, start, &st, &l))
		start = 0;
	p = start;
	for (uint32_t i = 0; i < np; i++) {
		if (!run_at(pm, np, p, &st, &l))
			return false; /* a broken map: no space, no crash */
		if (st == PM_FREE && fit_in(p, l, n, align, at)) {
			*run = p;
			*len = l;
			return true;
		}
		p = p + l == np ? 0 : p + l;
		if (p == start)
			return false;
	}
	return false;
}

/* Segment offset of a caller's record word, 0 for none. */
static uint64_t rec_offset(const struct shoal__heap_view *hv,
			   _Atomic uint64_t *rec)
{
	uint8_t *p = (uint8_t *)rec;

	if (!rec || p < hv->map.base || p + 8 > hv->map.base + hv->map.size)
		return 0;
	return (uint64_t)(p - hv->map.base);
}

/* Takes n pages (a slab of class cls if state is PM_SLAB) into *page;
 * the plan also stores the run's offset into rec (if not NULL). */
static int extent_take_rec(const struct shoal__heap_view *hv, uint32_t n,
			   uint32_t state, uint32_t cls, uint32_t *page,
			   _Atomic uint64_t *rec)
{
	uint32_t align = state == PM_SLAB ? PAGES_PER_SLAB : 1, run, len, at;
	struct heap_plan pl;
	int rc = heap_lock(hv);

	if (rc != 0)
		return rc;
	if (!find_fit(hv, n, align, &run, &len, &at)) {
		heap_unlock(hv);
		return -ENOMEM;
	}
	plan_take(hv, run, len, at, n, state, &pl);
	pl.slab = at / PAGES_PER_SLAB;
	pl.cls = cls;
	pl.rec_off = rec_offset(hv, rec);
	pl.rec_val = page_off(hv, at);
	intent_begin(hv, state == PM_SLAB ? OP_CARVE : OP_ALLOC, &pl);
	intent_finish(hv);
	heap_unlock(hv);
	*page = at;
	return 0;
}

static int extent_take(const struct shoal__heap_view *hv, uint32_t n,
		       uint32_t state, uint32_t cls, uint32_t *page)
{
	return extent_take_rec(hv, n, state, cls, page, NULL);
}

/* Frees the run at off; the plan also stores 0 into rec (if not NULL). */
static int large_free(const struct shoal__heap_view *hv, uint64_t off,
		      uint64_t size, _Atomic uint64_t *rec)
{
	uint32_t p, st, l;
	struct heap_plan pl;
	int rc;

	if (!page_of(hv, off, &p))
		return -EINVAL;
	rc = heap_lock(hv);
	if (rc != 0)
		return rc;
	if (!run_at(pmap_of(hv), npages_of(hv), p, &st, &l) ||
	    st != PM_USED || l != pages_for(size)) {
		rc = -EINVAL;
	} else {
		plan_give(hv, p, l, &pl);
		pl.rec_off = rec_offset(hv, rec);
		pl.rec_val = 0;
		intent_begin(hv, OP_FREE, &pl);
		intent_finish(hv);
	}
	heap_unlock(hv);
	return rc;
}

/* A live, unlisted slab all of whose blocks are on its stack. */
static bool slab_idle(const struct shoal__heap_view *hv, uint32_t s,
		      uint64_t w)
{
	uint32_t c;

	return sw_live(w) && !sw_listed(w) && slab_class(hv, s, &c) &&
	       sw_count(w) == class_nblocks(c);
}

/* Under the lock: RETIRE intent, CAS the idle word to RETIRED, pages back. */
static void slab_retire_locked(const struct shoal__heap_view *hv,
			       uint32_t s)
{
	struct heap_slab *sm = slab_at(hv, s);
	uint32_t p = s * PAGES_PER_SLAB, st, l;
	struct heap_plan pl;
	/* A1: the pushes of every block (their writes end before the pages
	 * are reused). */
	uint64_t w = atomic_load_explicit(&sm->word, memory_order_acquire);

	if (!slab_idle(hv, s, w) ||
	    !run_at(pmap_of(hv), npages_of(hv), p, &st, &l) || st != PM_SLAB ||
	    l != PAGES_PER_SLAB)
		return;
	plan_give(hv, p, PAGES_PER_SLAB, &pl);
	pl.slab = s;
	intent_begin(hv, OP_RETIRE, &pl);
	/* A1 as above; fails if anyone touched the word since the load. */
	atomic_compare_exchange_strong_explicit(
		&sm->word, &w, sw_next(w, SW_RETIRED, 0, false),
		memory_order_acquire, memory_order_relaxed);
	intent_finish(hv); /* applies the plan iff the word is RETIRED */
}

static int slab_retire(const struct shoal__heap_view *hv, uint32_t s)
{
	int rc = heap_lock(hv);

	if (rc != 0)
		return rc;
	slab_retire_locked(hv, s);
	heap_unlock(hv);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Class stacks (lock-free Treiber stacks of slab indices)             */

static _Atomic uint64_t *class_head(const struct shoal__heap_view *hv,
				    uint32_t c)
{
	return &hdr_of(hv)->classes[c].head;
}

static uint64_t cs_make(uint32_t slab, uint64_t old)
{
	return (uint64_t)slab | ((old >> 32) + 1) << 32;
}

/* Pushes slab s; the caller holds its listed token (set it 0 -> 1). */
static void class_push(const struct shoal__heap_view *hv, uint32_t c,
		       uint32_t s)
{
	_Atomic uint64_t *head = class_head(hv, c);
	struct heap_slab *sm = slab_at(hv, s);
	/* Relaxed: the CAS below validates it. */
	uint64_t h = atomic_load_explicit(head, memory_order_relaxed);

	do {
		/* Relaxed: published by the R2 CAS. */
		atomic_store_explicit(&sm->next, (uint32_t)h,
				      memory_order_relaxed);
		/* R2: publishes sm->next to the popper (A2). */
	} while (!atomic_compare_exchange_weak_explicit(
		head, &h, cs_make(s, h), memory_order_release,
		memory_order_relaxed));
}

/* Pops a slab into *s; the caller inherits its listed token. */
static bool class_pop(const struct shoal__heap_view *hv, uint32_t c,
		      uint32_t *s)
{
	_Atomic uint64_t *head = class_head(hv, c);
	/* A2: pairs with the R2 push of the slab we find on top. */
	uint64_t h = atomic_load_explicit(head, memory_order_acquire);
	uint32_t top, next;

	do {
		top = (uint32_t)h;
		if (top >= nslabs_of(hv))
			return false; /* empty (or garbage: treated as empty) */
		/* Relaxed: a stale value makes the CAS fail (tag). */
		next = atomic_load_explicit(&slab_at(hv, top)->next,
					    memory_order_relaxed);
		/* A2 on success and on failure (the new top's next). */
	} while (!atomic_compare_exchange_weak_explicit(
		head, &h, cs_make(next, h), memory_order_acquire,
		memory_order_acquire));
	*s = top;
	return true;
}

/* ------------------------------------------------------------------ */
/* The listed token                                                    */

/* Clears listed on slab s (the caller popped it off its class stack). */
static void slab_unlist(const struct shoal__heap_view *hv, uint32_t s)
{
	_Atomic uint64_t *word = &slab_at(hv, s)->word;
	/* Relaxed: the bit is a token; no data rides on it (A1/A2 do). */
	uint64_t w = atomic_load_explicit(word, memory_order_relaxed);

	do {
		if (!sw_live(w) || !sw_listed(w))
			return;
	} while (!atomic_compare_exchange_weak_explicit(
		word, &w, sw_next(w, sw_head(w), sw_count(w), false),
		memory_order_relaxed, memory_order_relaxed));
}

/* Lists slab s on the stack of its own class if it is live, unlisted and
 * has free blocks: whoever sets the bit pushes the slab, so it is pushed
 * once.  The class is read from the slab, not trusted from the caller: the
 * slab may have been retired and carved again for another class since the
 * caller last looked. */
static void slab_relist(const struct shoal__heap_view *hv, uint32_t s)
{
	_Atomic uint64_t *word = &slab_at(hv, s)->word;
	/* A1: the shape read below is then this life's (a new carve would
	 * change the word and fail the CAS). */
	uint64_t w = atomic_load_explicit(word, memory_order_acquire);
	uint32_t c;

	do {
		if (!sw_live(w) || sw_listed(w) || sw_count(w) == 0 ||
		    !slab_class(hv, s, &c))
			return;
		/* A1 on failure, as above (and so on success, which C11
		 * requires; the bit itself is a token, class_push's R2
		 * publishes the slab). */
	} while (!atomic_compare_exchange_weak_explicit(
		word, &w, sw_next(w, sw_head(w), sw_count(w), true),
		memory_order_acquire, memory_order_acquire));
	SHOAL__CRASH_AT(hv->crash, HEAP_SLAB_LISTED);
	class_push(hv, c, s);
}

/* ------------------------------------------------------------------ */
/* Blocks: pop into a cache, push back from one                        */

static uint32_t cache_count(const struct shoal__heap_cache *cache,
			    uint32_t c)
{
	uint32_t n = cache->count[c];

	return n <= SHOAL__HEAP_CACHE_CAP ? n : SHOAL__HEAP_CACHE_CAP;
}

/* Pops one block of slab s (class c) into the cache.  False when the
 * slab has none (or is retired, or its list is broken). */
static bool slab_pop_one(const struct shoal__heap_view *hv,
			 struct shoal__heap_cache *cache, uint32_t c,
			 uint32_t s)
{
	_Atomic uint64_t *word = &slab_at(hv, s)->word;
	uint32_t nb = class_nblocks(c), n = cache_count(cache, c), h, link;
	uint64_t base = slab_off(hv, s), off, w2;
	/* A1: pairs with the R1 that pushed the head block (its link). */
	uint64_t w = atomic_load_explicit(word, memory_order_acquire);

	for (;;) {
		h = sw_head(w);
		if (h == SW_EMPTY || !sw_live(w) || !sw_sane(w, nb) ||
		    !slab_is_class(hv, s, c))
			return false; /* empty, retired, or carved anew */
		off = base + (uint64_t)h * class_size[c];
		cache->blocks[c][n] = off; /* before the CAS (heap.h) */
		/* Relaxed: another process may be writing here; if so the
		 * word has changed and the CAS fails. */
		link = atomic_load_explicit(link_at(hv, off),
					    memory_order_relaxed);
		if (link == SW_EMPTY ? sw_count(w) != 1
				     : link >= nb || sw_count(w) == 1) {
			/* A1, as above. */
			w2 = atomic_load_explicit(word, memory_order_acquire);
			if (w2 == w)
				return false; /* a broken list: leave it */
			w = w2;
			continue;
		}
		/* A1 on success and failure; release too, so that the entry
		 * above is stored before the CAS and the count after it. */
		if (atomic_compare_exchange_weak_explicit(
			    word, &w, sw_next(w, link, sw_count(w) - 1,
					      sw_listed(w)),
			    memory_order_acq_rel, memory_order_acquire))
			break;
	}
	SHOAL__CRASH_AT(hv->crash, HEAP_BLOCK_TAKEN);
	cache->count[c] = n + 1;
	return true;
}

static void slab_take(const struct shoal__heap_view *hv,
		      struct shoal__heap_cache *cache, uint32_t c, uint32_t s)
{
	for (uint32_t i = 0; i < CACHE_HALF; i++)
		if (cache_count(cache, c) == SHOAL__HEAP_CACHE_CAP ||
		    !slab_pop_one(hv, cache, c, s))
			return;
}

/* True if a block of class c may be pushed on a slab whose word is w. */
static bool slab_accepts(const struct shoal__heap_view *hv, uint32_t s,
			 uint32_t c, uint64_t w)
{
	return sw_live(w) && sw_sane(w, class_nblocks(c)) &&
	       sw_count(w) < class_nblocks(c) && slab_is_class(hv, s, c);
}

/* Pushes the block at off (class c) on its slab, listing the slab if it
 * was not.  A block that is not a block of a live slab of class c, or a
 * push beyond the slab's block count, is dropped. */
static void slab_give(const struct shoal__heap_view *hv, uint32_t c,
		      uint64_t off)
{
	uint32_t s, b;
	_Atomic uint64_t *word;
	uint64_t w;

	if (!block_locate(hv, c, off, &s, &b))
		return;
	word = &slab_at(hv, s)->word;
	/* A1: a live word's shape is then the one slab_accepts reads. */
	w = atomic_load_explicit(word, memory_order_acquire);
	do {
		if (!slab_accepts(hv, s, c, w))
			return;
		/* Relaxed: published by the R1 CAS. */
		atomic_store_explicit(link_at(hv, off), sw_head(w),
				      memory_order_relaxed);
		/* R1: publishes the link and the freer's writes to the block
		 * to the next popper (A1).  A1 on failure, as above. */
	} while (!atomic_compare_exchange_weak_explicit(
		word, &w, sw_next(w, b, sw_count(w) + 1, true),
		memory_order_release, memory_order_acquire));
	if (!sw_listed(w))
		class_push(hv, c, s);
}

/* Returns up to k blocks of class c from the top of the cache. */
static void cache_spill(const struct shoal__heap_view *hv,
			struct shoal__heap_cache *cache, uint32_t c, uint32_t k)
{
	for (uint32_t i = 0; i < k; i++) {
		uint32_t n = cache_count(cache, c);
		uint64_t off;

		if (n == 0)
			return;
		off = cache->blocks[c][n - 1];
		cache->count[c] = n - 1; /* before the push: leak, never twice */
		SHOAL__CRASH_AT(hv->crash, HEAP_BLOCK_GIVING);
		slab_give(hv, c, off);
	}
}

static void cache_put(const struct shoal__heap_view *hv,
		      struct shoal__heap_cache *cache, uint32_t c, uint64_t off)
{
	uint32_t n = cache_count(cache, c);

	if (n == SHOAL__HEAP_CACHE_CAP) {
		cache_spill(hv, cache, c, CACHE_HALF);
		n = cache_count(cache, c);
	}
	cache->blocks[c][n] = off;
	/* Compiler order only: a reaper reads the cache after our death, so
	 * the entry must be stored before the count that covers it. */
	atomic_signal_fence(memory_order_release);
	cache->count[c] = n + 1;
}

/* Takes a block of class c from the cache (entries outside the arena,
 * which only the owner could have written, are dropped). */
static bool cache_get(const struct shoal__heap_view *hv,
		      struct shoal__heap_cache *cache, uint32_t c,
		      shoal__off_t *out, _Atomic uint64_t *rec)
{
	uint32_t s, b;

	for (uint32_t n = cache_count(cache, c); n > 0; n--) {
		uint64_t off = cache->blocks[c][n - 1];

		/* The handoff (heap.h): the record names the block before the
		 * count that gives it away; compiler order only, a reaper
		 * reads both after our death. */
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

/* ------------------------------------------------------------------ */
/* Refill and reclaim                                                  */

/* A slab popped off class c's stack is usable if it is live and of c. */
static bool slab_usable(const struct shoal__heap_view *hv, uint32_t s,
			uint32_t c)
{
	_Atomic uint64_t *word = &slab_at(hv, s)->word;

	/* A1: makes the shape written at carve visible. */
	return sw_live(atomic_load_explicit(word, memory_order_acquire)) &&
	       slab_is_class(hv, s, c);
}

/* The next slab to take blocks from: off the class stack (unlisted), or
 * freshly carved. */
static int refill_source(const struct shoal__heap_view *hv, uint32_t c,
			 uint32_t *s)
{
	uint32_t page;
	int rc;

	for (uint32_t i = 0; i < nslabs_of(hv) && class_pop(hv, c, s); i++) {
		if (!slab_usable(hv, *s, c))
			continue; /* garbage on the stack: drop it */
		SHOAL__CRASH_AT(hv->crash, HEAP_SLAB_POPPED);
		slab_unlist(hv, *s);
		return 0;
	}
	rc = extent_take(hv, PAGES_PER_SLAB, PM_SLAB, c, &page);
	*s = page / PAGES_PER_SLAB;
	return rc;
}

/* Puts up to CAP/2 blocks of class c into the (empty) cache. */
static int refill(const struct shoal__heap_view *hv,
		  struct shoal__heap_cache *cache, uint32_t c)
{
	uint32_t s;

	for (uint32_t i = 0; i <= nslabs_of(hv) + 4; i++) {
		int rc = refill_source(hv, c, &s);

		if (rc != 0)
			return rc;
		slab_take(hv, cache, c, s);
		slab_relist(hv, s);
		if (cache_count(cache, c) > 0)
			return 0;
	}
	return -ENOMEM;
}

/* Pops every slab off class c's stack, clearing listed. */
static void class_drain(const struct shoal__heap_view *hv, uint32_t c)
{
	uint32_t s;

	for (uint32_t i = 0; i < nslabs_of(hv) && class_pop(hv, c, &s); i++)
		slab_unlist(hv, s);
}

/* An unlisted live slab: retired if wholly free, else re-listed.  0, or
 * the lock's error (the slab left unlisted, as a death would: the next
 * reclaim settles it). */
static int slab_settle(const struct shoal__heap_view *hv, uint32_t s)
{
	/* A1: for the shape; the retire reloads under the lock. */
	uint64_t w = atomic_load_explicit(&slab_at(hv, s)->word,
					  memory_order_acquire);

	if (!sw_live(w) || sw_listed(w))
		return 0;
	if (slab_idle(hv, s, w))
		return slab_retire(hv, s);
	slab_relist(hv, s);
	return 0;
}

/* Stops at the first retire whose lock wait ran out (every later one
 * would wait for the same holder): -ETIMEDOUT, and the caller gives up. */
static int heap_reclaim(const struct shoal__heap_view *hv,
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

/* ------------------------------------------------------------------ */
/* Allocation and free                                                 */

static int small_alloc(const struct shoal__heap_view *hv,
		       struct shoal__heap_cache *cache, uint32_t c,
		       shoal__off_t *out, _Atomic uint64_t *rec)
{
	int rc;

	if (cache_get(hv, cache, c, out, rec))
		return 0;
	rc = refill(hv, cache, c);
	if (rc == -ENOMEM) {
		rc = heap_reclaim(hv, cache);
		if (rc == 0)
			rc = refill(hv, cache, c);
	}
	if (rc == 0 && !cache_get(hv, cache, c, out, rec))
		rc = -ENOMEM;
	return rc;
}

static int large_alloc(const struct shoal__heap_view *hv,
		       struct shoal__heap_cache *cache, uint64_t size,
		       shoal__off_t *out, _Atomic uint64_t *rec)
{
	uint32_t n = (uint32_t)pages_for(size), p;
	int rc = extent_take_rec(hv, n, PM_USED, 0, &p, rec);

	if (rc == -ENOMEM) {
		rc = heap_reclaim(hv, cache);
		if (rc == 0)
			rc = extent_take_rec(hv, n, PM_USED, 0, &p, rec);
	}
	if (rc == 0)
		*out = SHOAL__OFF(page_off(hv, p));
	return rc;
}

int shoal__heap_alloc_rec(const struct shoal__heap_view *hv,
			  struct shoal__heap_cache *cache, uint64_t size,
			  shoal__off_t *out, _Atomic uint64_t *rec)
{
	int c;

	if (size == 0 || size > hv->arena_size)
		return -EINVAL;
	c = shoal__heap_class(size);
	if (c < 0)
		return large_alloc(hv, cache, size, out, rec);
	return small_alloc(hv, cache, (uint32_t)c, out, rec);
}

int shoal__heap_alloc(const struct shoal__heap_view *hv,
		      struct shoal__heap_cache *cache, uint64_t size,
		      shoal__off_t *out)
{
	return shoal__heap_alloc_rec(hv, cache, size, out, NULL);
}

/* off is a block boundary of a live slab of class c. */
static bool block_live(const struct shoal__heap_view *hv, uint32_t c,
		       uint64_t off)
{
	uint32_t s, b;

	return block_locate(hv, c, off, &s, &b) && slab_usable(hv, s, c);
}

int shoal__heap_free_rec(const struct shoal__heap_view *hv,
			 struct shoal__heap_cache *cache, shoal__off_t off,
			 uint64_t size, _Atomic uint64_t *rec)
{
	int c;

	if (size == 0 || size > hv->arena_size)
		return -EINVAL;
	c = shoal__heap_class(size);
	if (c < 0)
		return large_free(hv, off.v, size, rec);
	if (!block_live(hv, (uint32_t)c, off.v))
		return -EINVAL;
	cache_put(hv, cache, (uint32_t)c, off.v);
	return 0;
}

int shoal__heap_settle(const struct shoal__heap_view *hv)
{
	int rc = heap_lock(hv);

	if (rc == 0)
		heap_unlock(hv);
	return rc;
}

int shoal__heap_free(const struct shoal__heap_view *hv,
		     struct shoal__heap_cache *cache, shoal__off_t off,
		     uint64_t size)
{
	return shoal__heap_free_rec(hv, cache, off, size, NULL);
}

bool shoal__heap_rec_owns(const struct shoal__heap_cache *cache,
			  _Atomic uint64_t *rec, uint64_t off, uint64_t size)
{
	int c = shoal__heap_class(size ? size : 1);

	if (!off || atomic_load_explicit(rec, memory_order_relaxed) != off)
		return false;
	if (c < 0)
		return true; /* large: the plan wrote it; a free clears it */
	for (uint32_t i = 0; i < cache_count(cache, (uint32_t)c); i++)
		if (cache->blocks[c][i] == off)
			return false; /* still (or again) in the cache */
	return true;
}

void shoal__heap_cache_flush(const struct shoal__heap_view *hv,
			     struct shoal__heap_cache *cache)
{
	for (uint32_t c = 0; c < SHOAL__HEAP_NCLASSES; c++)
		cache_spill(hv, cache, c, SHOAL__HEAP_CACHE_CAP);
	memset(cache, 0, sizeof *cache);
}

bool shoal__heap_run_is_free(const struct shoal__heap_view *hv,
			     shoal__off_t off)
{
	uint32_t p;
	bool free_run;

	if (!page_of(hv, off.v, &p) || heap_lock(hv) != 0)
		return false;
	free_run = free_at(pmap_of(hv), npages_of(hv), p) > 0;
	heap_unlock(hv);
	return free_run;
}

uint64_t shoal__heap_reserved(const struct shoal__heap_view *hv)
{
	return reserved_pages(hv) * SHOAL__PAGE_SIZE;
}

/* ------------------------------------------------------------------ */
/* Creation and attach                                                 */

uint64_t shoal__heap_meta_size(uint64_t arena_size)
{
	struct heap_geom g;

	return geom_of(arena_size, &g) ? g.size : 0;
}

static bool in_map(const struct shoal__map *m, uint64_t off, uint64_t len)
{
	return off <= m->size && len <= m->size - off;
}

/* The view's regions are sane, inside the map and disjoint. */
static bool view_ok(const struct shoal__heap_view *hv, struct heap_geom *g)
{
	const struct shoal__map *m = &hv->map;

	if (m->base == NULL || (uintptr_t)m->base % 64 != 0 ||
	    !geom_of(hv->arena_size, g))
		return false;
	if (hv->arena_off == 0 || hv->arena_off % SHOAL__SLAB_SIZE != 0 ||
	    !in_map(m, hv->arena_off, hv->arena_size))
		return false;
	if (hv->meta_off % 64 != 0 || hv->meta_size < g->size ||
	    !in_map(m, hv->meta_off, hv->meta_size))
		return false;
	return hv->meta_off + hv->meta_size <= hv->arena_off ||
	       hv->arena_off + hv->arena_size <= hv->meta_off;
}

static int lock_init(pthread_mutex_t *mx)
{
	pthread_mutexattr_t a;
	int rc = pthread_mutexattr_init(&a);

	if (rc != 0)
		return -rc;
	rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (rc == 0)
		rc = pthread_mutex_init(mx, &a);
	pthread_mutexattr_destroy(&a);
	return -rc;
}

static void hdr_fill(struct heap_hdr *h, const struct shoal__heap_view *hv,
		     const struct heap_geom *g)
{
	h->version = HEAP_VERSION;
	h->hdr_size = sizeof *h;
	h->arena_size = hv->arena_size;
	h->meta_size = g->size;
	h->npages = g->npages;
	h->nslabs = g->nslabs;
	h->nclasses = SHOAL__HEAP_NCLASSES;
	h->cache_cap = SHOAL__HEAP_CACHE_CAP;
	h->slabs_off = g->slabs_off;
	h->pmap_off = g->pmap_off;
}

/* Relaxed stores throughout: nobody else sees the segment yet; its
 * publication (segment.c) orders them. */
static void state_init(const struct shoal__heap_view *hv)
{
	struct heap_hdr *h = hdr_of(hv);
	uint32_t *pm = pmap_of(hv), np = npages_of(hv);

	pm[0] = pm_tag(PM_FREE, np);
	pm[np - 1] = pm_tag(PM_FREE, np);
	h->rover = 0;
	atomic_store_explicit(&h->intent.op, OP_NONE, memory_order_relaxed);
	atomic_store_explicit(&h->reserved, 0, memory_order_relaxed);
	for (uint32_t c = 0; c < SHOAL__HEAP_NCLASSES; c++)
		atomic_store_explicit(&h->classes[c].head, SLAB_NONE,
				      memory_order_relaxed);
	for (uint32_t s = 0; s < nslabs_of(hv); s++) {
		struct heap_slab *sm = slab_at(hv, s);

		atomic_store_explicit(&sm->word, sw_make(SW_RETIRED, 0, 0, false),
				      memory_order_relaxed);
		atomic_store_explicit(&sm->next, SLAB_NONE, memory_order_relaxed);
		atomic_store_explicit(&sm->shape, 0, memory_order_relaxed);
	}
}

int shoal__heap_init(const struct shoal__heap_view *hv)
{
	struct heap_geom g;
	struct heap_hdr *h;
	int rc;

	if (!view_ok(hv, &g))
		return -EINVAL;
	h = hdr_of(hv);
	memset(h, 0, g.size);
	rc = lock_init(&h->lock);
	if (rc != 0)
		return rc;
	hdr_fill(h, hv, &g);
	state_init(hv);
	h->magic = HEAP_MAGIC;
	return 0;
}

int shoal__heap_check(const struct shoal__heap_view *hv)
{
	struct heap_geom g;
	const struct heap_hdr *h;

	if (!view_ok(hv, &g))
		return SHOAL_EBADSEGMENT;
	h = hdr_of(hv);
	if (h->magic != HEAP_MAGIC || h->version != HEAP_VERSION ||
	    h->hdr_size != sizeof *h || h->arena_size != hv->arena_size ||
	    h->meta_size != g.size || h->npages != g.npages ||
	    h->nslabs != g.nslabs || h->nclasses != SHOAL__HEAP_NCLASSES ||
	    h->cache_cap != SHOAL__HEAP_CACHE_CAP ||
	    h->slabs_off != g.slabs_off || h->pmap_off != g.pmap_off)
		return SHOAL_EBADSEGMENT;
	return 0;
}
