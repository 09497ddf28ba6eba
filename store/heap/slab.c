/* SPDX-License-Identifier: MIT */
/*
 * store/heap/slab.c - slabs and their blocks: a slab's initialisation at
 * its carve and the test a RETIRE intent's replay makes, the class stacks
 * (lock-free Treiber stacks of slab indices), the listed token, and the
 * pop and push of one block on a slab's word (heap.c's header, "Slabs").
 *
 * Invariants: once a carve has initialised it, a slab word changes only by
 * CAS, and every change adds 1 to its tag; a slab is on its class stack at
 * most once: whoever turns listed 0 -> 1 pushes it, exactly once, and
 * whoever pops it inherits the bit and clears it; a slab's count never
 * exceeds its block count (a push beyond it is dropped).
 *
 * Locking: shoal__heap_slab_init and shoal__heap_slab_is_retired run
 * under the heap's lock, inside a CARVE or a RETIRE intent (heap.c,
 * shoal__heap_intent_finish; a recoverer of the lock runs them again).
 * Everything else is lock-free: any process, any thread, one CAS per step
 * (HP-R1/HP-A1 on a slab word, HP-R2/HP-A2 on a class stack head).
 * slab_pop_one and shoal__heap_slab_take write the caller's cache, which
 * its owner uses from one thread at a time (store/heap.h); the order of
 * those writes around the pop CAS is what a reaper trusts after the
 * owner's death.
 */
#include "heap_int.h"

/* ------------------------------------------------------------------ */
/* Slab init and retire checks (under the lock)                        */

static uint32_t shape_make(uint32_t c)
{
	return c | class_nblocks(c) << 8;
}

/* Makes slab s a live slab of class c with every block on its stack,
 * unlisted.  Under the lock, in a CARVE intent; redone by a recoverer. */
void shoal__heap_slab_init(const struct shoal__heap_view *hv, uint32_t s,
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
	/* Relaxed (links, shape, next): published by the HP-R1 store below. */
	for (uint32_t b = 0; b < nb; b++)
		atomic_store_explicit(link_at(hv, base + (uint64_t)b * bs),
				      b + 1 < nb ? b + 1 : SW_EMPTY,
				      memory_order_relaxed);
	atomic_store_explicit(&sm->shape, shape_make(c), memory_order_relaxed);
	atomic_store_explicit(&sm->next, SLAB_NONE, memory_order_relaxed);
	/* Relaxed: only its tag is used, so that tags keep moving forward
	 * across the slab's lives (a stale CAS from a past life fails). */
	old = atomic_load_explicit(&sm->word, memory_order_relaxed);
	/* HP-R1 (init): publishes the links and the shape to poppers (HP-A1). */
	atomic_store_explicit(&sm->word, sw_next(old, 0, nb, false),
			      memory_order_release);
}

bool shoal__heap_slab_is_retired(const struct shoal__heap_view *hv,
				 uint32_t s)
{
	/* HP-A1: the CAS that retired it (ours, or a dead holder's). */
	return s < nslabs_of(hv) &&
	       !sw_live(atomic_load_explicit(&slab_at(hv, s)->word,
					     memory_order_acquire));
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
		/* Relaxed: published by the HP-R2 CAS. */
		atomic_store_explicit(&sm->next, (uint32_t)h,
				      memory_order_relaxed);
		/* HP-R2: publishes sm->next to the popper (HP-A2). */
	} while (!atomic_compare_exchange_weak_explicit(
		head, &h, cs_make(s, h), memory_order_release,
		memory_order_relaxed));
}

/* Pops a slab into *s; the caller inherits its listed token. */
bool shoal__heap_class_pop(const struct shoal__heap_view *hv, uint32_t c,
			   uint32_t *s)
{
	_Atomic uint64_t *head = class_head(hv, c);
	/* HP-A2: pairs with the HP-R2 push of the slab we find on top. */
	uint64_t h = atomic_load_explicit(head, memory_order_acquire);
	uint32_t top, next;

	do {
		top = (uint32_t)h;
		if (top >= nslabs_of(hv))
			return false; /* empty (or garbage: treated as empty) */
		/* Relaxed: a stale value makes the CAS fail (tag). */
		next = atomic_load_explicit(&slab_at(hv, top)->next,
					    memory_order_relaxed);
		/* HP-A2 on success and on failure (the new top's next). */
	} while (!atomic_compare_exchange_weak_explicit(
		head, &h, cs_make(next, h), memory_order_acquire,
		memory_order_acquire));
	*s = top;
	return true;
}

/* ------------------------------------------------------------------ */
/* The listed token                                                    */

/* Clears listed on slab s (the caller popped it off its class stack). */
void shoal__heap_slab_unlist(const struct shoal__heap_view *hv, uint32_t s)
{
	_Atomic uint64_t *word = &slab_at(hv, s)->word;
	/* Relaxed: the bit is a token; no data rides on it (HP-A1/HP-A2 do). */
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
void shoal__heap_slab_relist(const struct shoal__heap_view *hv, uint32_t s)
{
	_Atomic uint64_t *word = &slab_at(hv, s)->word;
	/* HP-A1: the shape read below is then this life's (a new carve would
	 * change the word and fail the CAS). */
	uint64_t w = atomic_load_explicit(word, memory_order_acquire);
	uint32_t c;

	do {
		if (!sw_live(w) || sw_listed(w) || sw_count(w) == 0 ||
		    !slab_class(hv, s, &c))
			return;
		/* HP-A1 on failure, as above (and so on success, which C11
		 * requires; the bit itself is a token, class_push's HP-R2
		 * publishes the slab). */
	} while (!atomic_compare_exchange_weak_explicit(
		word, &w, sw_next(w, sw_head(w), sw_count(w), true),
		memory_order_acquire, memory_order_acquire));
	SHOAL__CRASH_AT(hv->crash, HEAP_SLAB_LISTED);
	class_push(hv, c, s);
}

/* ------------------------------------------------------------------ */
/* Blocks: pop into a cache, push back from one                        */

/* Pops one block of slab s (class c) into the cache.  False when the
 * slab has none (or is retired, or its list is broken). */
static bool slab_pop_one(const struct shoal__heap_view *hv,
			 struct shoal__heap_cache *cache, uint32_t c,
			 uint32_t s)
{
	_Atomic uint64_t *word = &slab_at(hv, s)->word;
	uint32_t nb = class_nblocks(c), n = cache_count(cache, c), h, link;
	uint64_t base = slab_off(hv, s), off, w2;
	/* HP-A1: pairs with the HP-R1 that pushed the head block (its link). */
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
			/* HP-A1, as above. */
			w2 = atomic_load_explicit(word, memory_order_acquire);
			if (w2 == w)
				return false; /* a broken list: leave it */
			w = w2;
			continue;
		}
		/* HP-A1 on success and failure; release too, so that the entry
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

void shoal__heap_slab_take(const struct shoal__heap_view *hv,
			   struct shoal__heap_cache *cache, uint32_t c,
			   uint32_t s)
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
void shoal__heap_slab_give(const struct shoal__heap_view *hv, uint32_t c,
			   uint64_t off)
{
	uint32_t s, b;
	_Atomic uint64_t *word;
	uint64_t w;

	if (!block_locate(hv, c, off, &s, &b))
		return;
	word = &slab_at(hv, s)->word;
	/* HP-A1: a live word's shape is then the one slab_accepts reads. */
	w = atomic_load_explicit(word, memory_order_acquire);
	do {
		if (!slab_accepts(hv, s, c, w))
			return;
		/* Relaxed: published by the HP-R1 CAS. */
		atomic_store_explicit(link_at(hv, off), sw_head(w),
				      memory_order_relaxed);
		/* HP-R1: publishes the link and the freer's writes to the block
		 * to the next popper (HP-A1).  HP-A1 on failure, as above. */
	} while (!atomic_compare_exchange_weak_explicit(
		word, &w, sw_next(w, b, sw_count(w) + 1, true),
		memory_order_release, memory_order_acquire));
	if (!sw_listed(w))
		class_push(hv, c, s);
}
