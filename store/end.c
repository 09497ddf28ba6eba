/* SPDX-License-Identifier: MIT */
/*
 * store/end.c - ending an entry: taking an object out of the directory and
 * freeing its block exactly once, whoever dies when.
 *
 * An entry ends when it is evicted, deleted, aborted, or dropped for the
 * last time while TRANSIENT.  Ending is three shared steps (the CAS that
 * makes the entry a tombstone or FREE, the wake-up of its waiters, the
 * free of its block) and one private one (the slot's counters).  A process
 * killed between them must leave a reaper able to tell which steps were
 * done; a racing process must never finish a step twice.  So:
 *
 *   1. arm: the process's FREE record (layout.h, struct shoal__free_rec)
 *      names the entry, its generation, its block and the slot's counters
 *      as they are now;
 *   2. the ending CAS writes the new state with the MARK (the pins field,
 *      which a FREE or tombstone entry does not use otherwise) set to this
 *      process's slot + 1: of the processes that race to end an entry, the
 *      mark names the one whose CAS won, and a marked entry is not
 *      reusable, so its description stays the ended object's;
 *   3. finish: close the waiter stack, set the slot's counters from the
 *      record (an assignment, so a reaper can redo it), free the block if
 *      the record still owns it (the heap's handoff, heap.h), clear the
 *      mark (a CAS: holds of a tombstone may still be dropped meanwhile),
 *      disarm.
 *
 * A reaper of a dead process runs finish on the dead process's record:
 * everything it does is guarded by "the entry still carries this slot's
 * mark at this generation" (the CAS of step 2 won and step 3 is not over)
 * and by the heap's ownership test (the block was not freed yet), and the
 * block goes into the dead process's cache, so that a second reaper, if the
 * first one dies, sees the same answers.  A record armed for a CAS that
 * failed finds no mark: nothing happens.
 *
 * A page run's free takes the heap's lock (heap.c), which a process that
 * never lets go may hold past the wait's bound (deadline.h).  A reaper
 * then stops where it is, as if it had died there (the record still owns
 * the run, the mark is still on): the next reaper finishes.  The process
 * that made the end cannot leave its record armed (its next end arms it
 * again): it finishes without the free, and the run is leaked.
 *
 * Callers hold the store lock (internal.h): the record, the counters and
 * the cache are this process's, used one operation at a time.
 *
 * Memory order: the ending CAS is seq_cst (WT-S2 of waiters.c: the stack
 * is closed after it); clearing the mark is ENT-R4 (layout.h: the entry
 * reusable only after the block and the stack).  The FREE record, the
 * counters and the block's handoff word are relaxed: this process reads
 * them, or its reaper once it is dead (the kernel's word on the death
 * orders that read after them).
 */
#include <errno.h>

#include "internal.h"

static uint64_t shoal__with_mark(uint64_t n, uint32_t slot)
{
	n &= ~((uint64_t)SHOAL__CTL_COUNT_MAX << SHOAL__CTL_PINS_SHIFT);
	return n | ((uint64_t)(slot + 1) << SHOAL__CTL_PINS_SHIFT);
}

static uint64_t shoal__without_mark(uint64_t c)
{
	return c & ~((uint64_t)SHOAL__CTL_COUNT_MAX << SHOAL__CTL_PINS_SHIFT);
}

void shoal__end_arm(struct shoal_store *s, uint32_t idx, uint32_t gen,
		    const struct shoal__desc *d)
{
	struct shoal__free_rec *f = &s->me->free;
	bool inl = d->flags & SHOAL__SIZE_INLINE; /* its bytes: no block */
	uint64_t size = inl ? 0 : d->size + d->meta_size;

	f->entry = idx;
	f->gen = gen;
	f->size = size;
	f->block_size = size;
	/* Relaxed, all of them: the file header. */
	atomic_store_explicit(&f->block_off, inl ? 0 : d->off,
			      memory_order_relaxed);
	f->objects = atomic_load_explicit(&s->me->objects, memory_order_relaxed);
	f->bytes = atomic_load_explicit(&s->me->bytes, memory_order_relaxed);
	/* Relaxed: read by this process, or by a reaper after our death. */
	atomic_store_explicit(&f->active, 1, memory_order_relaxed);
}

void shoal__end_disarm(struct shoal_store *s)
{
	atomic_store_explicit(&s->me->free.active, 0, memory_order_relaxed);
}

uint64_t shoal__end_marked(const struct shoal_store *s, uint64_t n)
{
	return shoal__with_mark(n, s->slot);
}

static bool shoal__end_cas(struct shoal_store *s, uint32_t idx, uint64_t c,
		    uint64_t n)
{
	/* seq_cst: the ending state is stored before the waiter stack is
	 * closed (WT-S2, waiters.c's Dekker pair); acquire (both orders):
	 * ENT-A2, the description. */
	return atomic_compare_exchange_strong_explicit(
		&s->dir[idx].ctl, &c, shoal__end_marked(s, n),
		memory_order_seq_cst, memory_order_acquire);
}

/* Step 3's counters: an assignment from the record (idempotent).
 * Relaxed: the slot's own counters (layout.h, struct shoal__proc). */
static void shoal__end_count(struct shoal__proc *p,
			     const struct shoal__free_rec *f)
{
	atomic_store_explicit(&p->objects, f->objects - 1, memory_order_relaxed);
	atomic_store_explicit(&p->bytes, f->bytes - (int64_t)f->size,
			      memory_order_relaxed);
}

/* Step 3's block, into the recording slot's own cache.  The process that
 * made the end still owns the block (it frees it only here); a reaper asks
 * the heap whether the dead one got that far (heap.h).  -ETIMEDOUT for a
 * reaper of another slot whose free could not get the heap's lock (the
 * record still owns the block); on its own record a process leaks the
 * block instead (above). */
static int shoal__end_free_block(struct shoal_store *s, struct shoal__proc *p,
				 struct shoal__free_rec *f)
{
	/* Relaxed: the record's handoff word (the file header). */
	uint64_t off = atomic_load_explicit(&f->block_off, memory_order_relaxed);
	bool mine = p == s->me && !s->reaping;

	if (off && (mine || shoal__heap_rec_owns(&p->cache, &f->block_off, off,
						 f->block_size))) {
		if (shoal__heap_free_rec(&s->heap, &p->cache, SHOAL__OFF(off),
					 f->block_size ? f->block_size : 1,
					 &f->block_off) == -ETIMEDOUT && p != s->me)
			return -ETIMEDOUT;
		/* Crossed out at once: a later free into this cache may spill
		 * the block out of it (proc.c, step 0). */
		atomic_store_explicit(&f->block_off, 0, memory_order_relaxed);
	}
	return 0;
}

/* Clears the mark of slot at generation gen, keeping whatever holds the
 * tombstone has by now. */
static void shoal__end_unmark(struct shoal__entry *e, uint32_t slot,
			      uint32_t gen)
{
	uint64_t c = atomic_load_explicit(&e->ctl, memory_order_acquire); /* ENT-A2 */

	/* ENT-R4 (release): a later claimer of the slot (dir.c, ENT-A4)
	 * sees the block freed and the waiters closed before it reuses the
	 * entry.  A CAS retry, not a wait: only a drop of a hold (or a
	 * repair's store) changes the word meanwhile. */
	while (SHOAL__CTL_GEN(c) == gen && SHOAL__CTL_MARK(c) == slot + 1 &&
	       !atomic_compare_exchange_weak_explicit(
		       &e->ctl, &c, shoal__without_mark(c),
		       memory_order_release, memory_order_acquire))
		;
}

static bool shoal__end_pending(uint32_t slot, const struct shoal__free_rec *f,
			       uint64_t c)
{
	unsigned st = SHOAL__CTL_STATE(c);

	return SHOAL__CTL_GEN(c) == f->gen && st != SHOAL__E_CREATED &&
	       st != SHOAL__E_SEALED && SHOAL__CTL_MARK(c) == slot + 1;
}

/* 0, or -ETIMEDOUT for a reaper that stopped at the block (above). */
int shoal__end_finish(struct shoal_store *s, uint32_t slot)
{
	struct shoal__proc *p = &s->procs[slot];
	struct shoal__free_rec *f = &p->free;
	struct shoal__entry *e;

	/* Relaxed: our own record, or a dead slot's (the file header). */
	if (!atomic_load_explicit(&f->active, memory_order_relaxed))
		return 0;
	if (f->entry > s->dir_mask) { /* only a corrupt record */
		atomic_store_explicit(&f->active, 0, memory_order_relaxed);
		return 0;
	}
	e = &s->dir[f->entry];
	if (shoal__end_pending(slot, f, /* ENT-A2: the mark's word */
			       atomic_load_explicit(&e->ctl, memory_order_acquire))) {
		shoal__waiters_close(s, e);
		SHOAL__CRASH(s, END_CLOSED);
		shoal__end_count(p, f);
		SHOAL__CRASH(s, END_COUNTED);
		if (shoal__end_free_block(s, p, f))
			return -ETIMEDOUT;
		SHOAL__CRASH(s, END_FREED);
		shoal__end_unmark(e, slot, f->gen);
		SHOAL__CRASH(s, END_UNMARKED);
		shoal__event_signal(&s->hdr->space);
	}
	atomic_store_explicit(&f->active, 0, memory_order_relaxed);
	return 0;
}

bool shoal__obj_end(struct shoal_store *s, uint32_t idx, uint64_t c,
		    uint64_t n)
{
	struct shoal__desc d = shoal__entry_desc(&s->dir[idx]);

	shoal__end_arm(s, idx, SHOAL__CTL_GEN(c), &d);
	SHOAL__CRASH(s, END_ARMED);
	if (!shoal__end_cas(s, idx, c, n)) {
		shoal__end_disarm(s);
		return false;
	}
	SHOAL__CRASH(s, END_MARKED);
	shoal__end_finish(s, s->slot);
	return true;
}
