/* SPDX-License-Identifier: MIT */
/*
 * store/heap/heap.c - the shared allocator: size-class slabs with
 * lock-free free lists, over a page-run extent allocator, all metadata in
 * the segment.
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
 * (HP-R3), then applied, then op is reset to NONE.  Applying a plan twice
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
 *   HP-R1 <-> HP-A1  slab word: a block push (CAS, release) or a slab
 *              init (store, release) <-> a pop, a free's validation, a
 *              push's validation, a retire (load or CAS, acquire).
 *              Publishes the pushed block's link and everything its freer
 *              wrote into it, and for an init the links of all blocks and
 *              the slab's shape.  All later changes of the word are RMWs,
 *              so every acquire synchronises with every earlier release
 *              (release sequence).
 *   HP-R2 <-> HP-A2  class stack head: push (CAS, release) <-> pop (load
 *              and CAS, acquire).  Publishes the slab's next link.
 *   HP-R3 <-> HP-A3  intent op: set (release) after the plan, reset to
 *              NONE (release) after the plan's writes <-> load (acquire)
 *              by the lock holder or a recoverer.  Publishes the plan, and
 *              with NONE the completed page-map writes, to a process that
 *              recovers the lock from a dead owner (the owner never
 *              unlocked, so the mutex itself orders nothing then).
 *   HP-R4      cache writes (owner only): an entry, or a handoff record,
 *              before the count that covers it, by a signal fence
 *              (compiler order only): a reaper reads them after the
 *              owner's death, which orders everything the owner wrote.
 *   The mutex orders the page map, rover and plan between lock holders.
 *   Relaxed: listed-bit CASes (the slab's data is published by
 *   HP-R1/HP-R2, the bit itself is only a token checked by CAS); block
 *   links and slab next links (always validated by the CAS that follows,
 *   published by HP-R1/HP-R2); the slab shape (read after an HP-A1 load
 *   of a live word); the reserved counter (a statistic written under the
 *   lock).
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
 *   (store/object/) recovers.  A slab carved by one process can be
 *   retired by a concurrent reclaim before its carver takes blocks; the
 *   carver retries.
 * - Tags are 31 bits (slab word) and 32 bits (class stack): an ABA needs a
 *   thread stalled between its load and its CAS for 2^31 changes.
 * - A broken lock (ENOTRECOVERABLE) is reported as SHOAL_EBADSEGMENT.
 * - A lock held past the caller's bound (heap.h, lock_by; a holder that
 *   stays alive and never lets go) fails the call with -ETIMEDOUT: an
 *   allocation gets nothing, a reclaim stops (its slabs unlisted, as after
 *   a death), a free of a page run leaves the run allocated and its record
 *   naming it.
 * - Arena up to 2^30 - 1 pages (4 TiB); the pmap length field is 30 bits.
 *
 * Where the code is
 * -----------------
 * The heap is one folder, split along the seams above:
 *   heap.c      this essay; size classes, the intent and the lock,
 *               allocation and free, creation and attach (every function
 *               of store/heap.h)
 *   extent.c    the page map and the extent allocator (under the lock)
 *   slab.c      a slab's carve and retire checks, the class stacks, the
 *               listed token, a block's pop and push on its slab
 *               (lock-free)
 *   cache.c     refill and reclaim: the per-process cache's slow paths
 *   heap_int.h  what those share and no one else: the metadata's structs,
 *               the geometry accessors, slab words and page-map entries,
 *               the cache's own operations (inline: the small alloc and
 *               free paths run them), and the functions one file calls
 *               in another
 */
#include "heap_int.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <shoal/error.h>

#include "deadline.h"

#define HEAP_MAGIC 0x53484f414c485031ull /* "SHOALHP1" */
#define HEAP_VERSION 1u

/* ------------------------------------------------------------------ */
/* Geometry of the metadata region                                     */

struct heap_geom {
	uint32_t npages;
	uint32_t nslabs;
	uint64_t slabs_off; /* from meta_off */
	uint64_t pmap_off;  /* from meta_off */
	uint64_t size;      /* bytes of metadata */
};

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

/* ------------------------------------------------------------------ */
/* Intent and lock                                                     */

void shoal__heap_intent_begin(const struct shoal__heap_view *hv,
			      uint32_t op, const struct heap_plan *pl)
{
	struct heap_hdr *h = hdr_of(hv);

	h->intent.plan = *pl;
	SHOAL__CRASH_AT(hv->crash, HEAP_PLANNED);
	/* HP-R3: publishes the plan to a recoverer of the lock (HP-A3). */
	atomic_store_explicit(&h->intent.op, op, memory_order_release);
	SHOAL__CRASH_AT(hv->crash, HEAP_PUBLISHED);
}

/* Carries out the pending intent, if any, and clears it.  Called by the
 * lock holder right after shoal__heap_intent_begin, and by a process that
 * got EOWNERDEAD, for the dead holder's intent. */
void shoal__heap_intent_finish(const struct shoal__heap_view *hv)
{
	struct heap_hdr *h = hdr_of(hv);
	/* HP-A3: pairs with HP-R3 of whoever wrote the plan. */
	uint32_t op = atomic_load_explicit(&h->intent.op, memory_order_acquire);
	struct heap_plan pl;

	if (op == OP_NONE)
		return;
	pl = h->intent.plan;
	if (op == OP_ALLOC || op == OP_FREE || op == OP_CARVE ||
	    (op == OP_RETIRE && shoal__heap_slab_is_retired(hv, pl.slab)))
		shoal__heap_plan_apply(hv, &pl);
	if (op == OP_CARVE)
		shoal__heap_slab_init(hv, pl.slab, pl.cls);
	SHOAL__CRASH_AT(hv->crash, HEAP_APPLIED);
	/* HP-R3: the writes above are complete for whoever reads NONE (HP-A3). */
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
int shoal__heap_lock(const struct shoal__heap_view *hv)
{
	pthread_mutex_t *mx = &hdr_of(hv)->lock;
	int rc = pthread_mutex_trylock(mx);

	if (rc == EBUSY)
		rc = heap_lock_wait(hv, mx);
	if (rc == EOWNERDEAD) {
		shoal__heap_intent_finish(hv);
		rc = pthread_mutex_consistent(mx);
		if (rc != 0)
			pthread_mutex_unlock(mx);
	}
	if (rc == ETIMEDOUT)
		return -ETIMEDOUT;
	return rc == 0 ? 0 : SHOAL_EBADSEGMENT;
}

void shoal__heap_unlock(const struct shoal__heap_view *hv)
{
	pthread_mutex_unlock(&hdr_of(hv)->lock);
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
	rc = shoal__heap_refill(hv, cache, c);
	if (rc == -ENOMEM) {
		rc = shoal__heap_reclaim(hv, cache);
		if (rc == 0)
			rc = shoal__heap_refill(hv, cache, c);
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
	int rc = shoal__heap_extent_take_rec(hv, n, PM_USED, 0, &p, rec);

	if (rc == -ENOMEM) {
		rc = shoal__heap_reclaim(hv, cache);
		if (rc == 0)
			rc = shoal__heap_extent_take_rec(hv, n, PM_USED, 0,
							 &p, rec);
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
		return shoal__heap_large_free(hv, off.v, size, rec);
	if (!block_live(hv, (uint32_t)c, off.v))
		return -EINVAL;
	cache_put(hv, cache, (uint32_t)c, off.v);
	return 0;
}

int shoal__heap_settle(const struct shoal__heap_view *hv)
{
	int rc = shoal__heap_lock(hv);

	if (rc == 0)
		shoal__heap_unlock(hv);
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

	if (!page_of(hv, off.v, &p) || shoal__heap_lock(hv) != 0)
		return false;
	free_run = shoal__heap_free_at(pmap_of(hv), npages_of(hv), p) > 0;
	shoal__heap_unlock(hv);
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
