/* SPDX-License-Identifier: MIT */
/*
 * store/fill.c - filling a promised object from another process.
 *
 * A promise (store/object/, shoal__obj_promise) is an unsealed entry with no
 * block, created and held by one process (a task's submitter) so that the
 * object is referenced from the moment its ID exists.  Another process (a
 * worker) then fills it: it allocates a block, marks the entry FILLING with
 * a CAS, writes the bytes (through a buffer it hands to user code: no
 * copy), publishes the description and seals with one CAS that clears
 * FILLING (ENT-R2 of layout.h again: the release publishes the bytes and
 * the description, and the seal is seq_cst for WT-S2 of waiters.c).
 * Only one process can hold FILLING; nobody else changes a FILLING entry's
 * state, except that an abort of the promise (its creator aborting, or a
 * reaper aborting a dead creator's promises) adds DELETING, and the filler
 * then completes that abort instead of sealing.
 *
 * Crash safety: the filler records each fill in its process slot (layout.h,
 * struct shoal__fill_rec) before it allocates: the heap hands the block
 * over through the record (heap.h), so the record owns it from the first
 * instruction.  FILLING carries its owner: the pins field of a CREATED
 * entry (which has no pins) holds the filler's slot + 1, so nobody can take
 * another process's FILLING for its own.  The record's stage says what a
 * reaper of a dead filler must do:
 *   1 claimed: if the entry is still FILLING by the dead filler, it goes
 *     back to plain CREATED (its description cleared) or, if an abort came
 *     meanwhile, the abort is completed; the block is freed if the record
 *     still owns it;
 *   2 sealing (set before the sealing CAS): the entry still FILLING by the
 *     filler means the seal did not happen (then as stage 1); otherwise it
 *     did, the block is the entry's, the slot's byte counter is set
 *     from the record, and the entry's waiter stack is closed under a
 *     pin (shoal__obj_close_sealed: a close after the object ended would
 *     shut the stack of a new object in its entry);
 *   3 aborting (set before the abort is completed): the entry is ended if
 *     it is still FILLING by the filler (else end.c's record finishes it),
 *     and the block is freed if the record still owns it.
 * A reaper that decides "not sealed" writes stage 1 before it acts, so that
 * its own replacement decides the same.
 *
 * Error objects: fill_end may set SHOAL__SIZE_ERROR in the size word; the
 * runtime stores a failed task's code and message that way.
 *
 * Waits.  Each change of the entry waits out a REPAIR (store/object/), up to
 * the call's bound (deadline.h): fill_begin's timeout, at least
 * SHOAL__LOCK_MIN_MS; SHOAL__LOCK_MIN_MS for fill_end and fill_cancel;
 * the reap's for a reaper.  Past it the call gives up with -ETIMEDOUT
 * where the record's stage describes the entry as it is: fill_begin
 * before the entry is FILLING (its record and block given back),
 * fill_end and fill_cancel with the fill still open (stage 1 FILLING, or
 * 3 aborting: ended or cancelled again later, or by the reaper), a reaper
 * where it stands (the next reaper redoes the record).  A block a fill
 * frees itself that the heap's lock holds up (heap.c) is leaked; a
 * reaper's stays with the record for the next.
 *
 * Inline fills: at most SHOAL__INLINE_MAX bytes need no block.  The filler
 * writes them into its struct shoal__fill, and fill_end stores them in the
 * entry's data_off word with SHOAL__SIZE_INLINE; its fill record names no
 * block (block_off 0), so a reaper has nothing to free.  A filler that has
 * its bytes already takes shoal__fill_small: claim, describe and seal in
 * one lock section, the same steps and records as begin then end, with
 * no user code between the claim and the seal.  The entry's line, which
 * a getter spins on, then moves to the filler once for the claim and
 * stays for the seal, where a getter's read between the two used to
 * cost the seal one more move.
 *
 * Relaxed: the fill records' handoff words (heap.h) and the slot's byte
 * counter, read by this process or by its reaper after its death.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static int shoal__fill_rec_take(struct shoal_store *s)
{
	for (uint32_t i = 0; i < SHOAL__PROC_FILLS; i++)
		if (s->me->fills[i].stage == 0)
			return (int)i;
	return -EBUSY;
}

static uint64_t shoal__with_filler(uint64_t c, uint32_t slot)
{
	c &= ~((uint64_t)SHOAL__CTL_COUNT_MAX << SHOAL__CTL_PINS_SHIFT);
	return c | ((uint64_t)(slot + 1) << SHOAL__CTL_PINS_SHIFT);
}

/* c is entry generation gen being filled by `slot`. */
static bool shoal__filled_by(uint64_t c, uint32_t gen, uint32_t slot)
{
	return SHOAL__CTL_GEN(c) == gen && SHOAL__CTL_STATE(c) == SHOAL__E_CREATED &&
	       (c & SHOAL__CTL_FILLING) && SHOAL__CTL_PINS(c) == slot + 1;
}

/* CREATED, generation gen, not FILLING, not being aborted -> FILLING by
 * this process; -ETIMEDOUT if a REPAIR outlasts `by`. */
static int shoal__set_filling(struct shoal_store *s, struct shoal__entry *e,
			      uint32_t gen, struct shoal__later *by)
{
	uint64_t c;

	do {
		int rc = shoal__obj_wait_settled(s, e, true, by, &c);

		if (rc)
			return rc;
		if (SHOAL__CTL_GEN(c) != gen || SHOAL__CTL_STATE(c) != SHOAL__E_CREATED ||
		    (c & SHOAL__CTL_DELETING))
			return SHOAL__CTL_STATE(c) == SHOAL__E_SEALED &&
				       SHOAL__CTL_GEN(c) == gen
				       ? SHOAL_ESEALED
				       : -ENOENT;
		if (c & SHOAL__CTL_FILLING)
			return -EBUSY;
		/* acq_rel: ENT-A2; the release half publishes nothing a
		 * reader needs (FILLING and its owner are in the word).
		 * Relaxed on failure: the loop waits for the word again. */
	} while (!atomic_compare_exchange_weak_explicit(
		&e->ctl, &c, shoal__with_filler(c, s->slot) | SHOAL__CTL_FILLING,
		memory_order_acq_rel, memory_order_relaxed));
	return 0;
}

/* Under the lock: name the entry in the record, then take it. */
static int shoal__fill_claim(struct shoal_store *s, shoal_id id,
			     struct shoal__fill *f, struct shoal__later *by)
{
	struct shoal__fill_rec *r = &s->me->fills[f->rec];
	uint64_t c;
	int idx = shoal__dir_lookup(s, id, &c);

	if (idx < 0)
		return idx;
	if (SHOAL__CTL_STATE(c) != SHOAL__E_CREATED)
		return SHOAL__CTL_STATE(c) == SHOAL__E_SEALED ? SHOAL_ESEALED : -ENOENT;
	f->idx = (uint32_t)idx;
	f->gen = SHOAL__CTL_GEN(c);
	r->entry = f->idx;
	r->gen = f->gen;
	SHOAL__CRASH(s, FILL_NAMED);
	return shoal__set_filling(s, &s->dir[f->idx], f->gen, by);
}

/* The fill's block goes back if its record still owns it (inline fills
 * have none); into the recording slot's cache (heap.h).  A free the
 * heap's lock holds up: -ETIMEDOUT for a reaper of another slot (the
 * record still owns the block), leaked by the filler itself. */
static int shoal__fill_free_block(struct shoal_store *s, struct shoal__proc *p,
				  struct shoal__fill_rec *r)
{
	uint64_t off = atomic_load_explicit(&r->block_off, memory_order_relaxed);

	if (shoal__heap_rec_owns(&p->cache, &r->block_off, off, r->block_size)) {
		if (shoal__heap_free_rec(&s->heap, &p->cache, SHOAL__OFF(off),
					 r->block_size, &r->block_off) ==
			    -ETIMEDOUT && p != s->me)
			return -ETIMEDOUT;
		/* Crossed out at once (proc.c, step 0: spills). */
		atomic_store_explicit(&r->block_off, 0, memory_order_relaxed);
	}
	return 0;
}

/* Under the lock: takes a record (stage 1) for a fill of `size` bytes;
 * its index, or -EBUSY. */
static int shoal__fill_rec_start(struct shoal_store *s, uint64_t size,
				 struct shoal__fill *f)
{
	struct shoal__fill_rec *r;
	int rc = shoal__fill_rec_take(s);

	if (rc < 0)
		return rc;
	f->rec = (uint32_t)rc;
	r = &s->me->fills[f->rec];
	r->entry = UINT32_MAX;
	r->block_size = size > SHOAL__INLINE_MAX ? size : 0;
	atomic_store_explicit(&r->block_off, 0, memory_order_relaxed);
	r->stage = 1;
	return 0;
}

static int shoal__fill_rec_open(struct shoal_store *s, uint64_t size,
				struct shoal__fill *f)
{
	int rc;

	shoal__lock(s);
	rc = shoal__fill_rec_start(s, size, f);
	shoal__unlock(s);
	return rc;
}

/* A fill of at most SHOAL__INLINE_MAX bytes: no block, so the record and
 * the claim take one lock section. */
static int shoal__fill_begin_inline(struct shoal_store *s, shoal_id id,
				    uint64_t size, struct shoal__fill *f,
				    void **buf, struct shoal__later *by)
{
	int rc;

	shoal__lock(s);
	rc = shoal__fill_rec_start(s, size, f);
	if (!rc) {
		f->off = 0;
		f->size = size;
		f->inl = 0;
		SHOAL__CRASH(s, FILL_ALLOCATED);
		rc = shoal__fill_claim(s, id, f, by);
		if (rc)
			s->me->fills[f->rec].stage = 0;
	}
	shoal__unlock(s);
	if (!rc)
		*buf = &f->inl;
	return rc;
}

int shoal__fill_begin(struct shoal_store *s, shoal_id id, uint64_t size,
		      int timeout_ms, struct shoal__fill *f, void **buf)
{
	struct shoal__later by = shoal__lock_by(timeout_ms);
	struct shoal__fill_rec *r;
	shoal__off_t off = SHOAL__OFF_NULL;
	int rc;

	if (!s || !f || !buf || shoal_id_is_nil(id))
		return -EINVAL;
	if (size <= SHOAL__INLINE_MAX)
		return shoal__fill_begin_inline(s, id, size, f, buf, &by);
	rc = shoal__fill_rec_open(s, size, f);
	if (rc)
		return rc;
	r = &s->me->fills[f->rec];
	rc = shoal__obj_alloc(s, size, timeout_ms, &off, &r->block_off);
	SHOAL__CRASH(s, FILL_ALLOCATED);
	f->off = off.v;
	f->size = size;
	f->inl = 0;
	shoal__lock(s);
	if (!rc)
		rc = shoal__fill_claim(s, id, f, &by);
	if (rc) {
		shoal__fill_free_block(s, s->me, r);
		r->stage = 0;
	}
	shoal__unlock(s);
	if (!rc)
		*buf = f->off ? (void *)(s->map.base + f->off) : (void *)&f->inl;
	return rc;
}

/* Writes the description of the filled block (relaxed; the sealing CAS
 * publishes it: ENT-R2). */
static void shoal__fill_describe(struct shoal__entry *e,
				 const struct shoal__fill *f, uint64_t flags)
{
	if (!f->off)
		flags |= SHOAL__SIZE_INLINE;
	atomic_store_explicit(&e->data_off, f->off ? f->off : f->inl,
			      memory_order_relaxed);
	atomic_store_explicit(&e->meta_size, 0, memory_order_relaxed);
	atomic_store_explicit(&e->data_size, f->size | flags, memory_order_relaxed);
}

/* A promise's description again: no block (the filler's block is its own
 * to free until the seal).  Relaxed: the CAS that follows publishes it
 * (ENT-R2: fill_release's, or the end's). */
static void shoal__fill_undescribe(struct shoal__entry *e)
{
	atomic_store_explicit(&e->data_off, 0, memory_order_relaxed);
	atomic_store_explicit(&e->data_size, 0, memory_order_relaxed);
	atomic_store_explicit(&e->meta_size, 0, memory_order_relaxed);
}

/* FILLING by us -> SEALED, unless an abort arrived (DELETING): -ENOENT;
 * -ETIMEDOUT (still FILLING) if a REPAIR outlasts `by`. */
static int shoal__fill_seal(struct shoal_store *s, struct shoal__entry *e,
			    uint32_t gen, struct shoal__later *by)
{
	uint64_t c, n;

	do {
		int rc = shoal__obj_wait_settled(s, e, true, by, &c);

		if (rc)
			return rc;
		if (!shoal__filled_by(c, gen, s->slot) || (c & SHOAL__CTL_DELETING))
			return -ENOENT;
		n = (shoal__with_filler(c, UINT32_MAX) &
		     ~(SHOAL__CTL_FILLING | SHOAL__CTL_STATE_MASK)) | SHOAL__E_SEALED;
		/* ENT-R2 (the bytes, the description) and WT-S2 (sealed
		 * before the stack is closed); relaxed on failure: the loop
		 * waits for the word again. */
	} while (!atomic_compare_exchange_weak_explicit(&e->ctl, &c, n,
							memory_order_seq_cst,
							memory_order_relaxed));
	return 0;
}

/* An entry FILLING by `slot` whose promise was aborted: ended (end.c, by
 * this process), with no block (the filler frees its own).  0, or
 * -ETIMEDOUT (still FILLING) if a REPAIR outlasts `by`. */
static int shoal__fill_finish_abort(struct shoal_store *s, uint32_t slot,
				    uint32_t idx, uint32_t gen,
				    struct shoal__later *by)
{
	struct shoal__entry *e = &s->dir[idx];

	for (;;) {
		uint64_t c;
		int rc = shoal__obj_wait_settled(s, e, true, by, &c);

		if (rc)
			return rc;
		if (!shoal__filled_by(c, gen, slot))
			return 0;
		shoal__fill_undescribe(e);
		if (shoal__obj_end(s, idx, c,
				   shoal__obj_aborted_word(SHOAL__CTL_HOLDS(c), gen,
							   false)))
			return 0;
	}
}

/* FILLING by `slot` is given up: CREATED again (an abort that arrived
 * meanwhile is completed instead).  0, or -ETIMEDOUT (still FILLING) if a
 * REPAIR outlasts `by`. */
static int shoal__fill_release(struct shoal_store *s, uint32_t slot,
			       uint32_t idx, uint32_t gen, struct shoal__later *by)
{
	struct shoal__entry *e = &s->dir[idx];
	uint64_t c, n;

	do {
		int rc = shoal__obj_wait_settled(s, e, true, by, &c);

		if (rc)
			return rc;
		if (!shoal__filled_by(c, gen, slot))
			return 0;
		if (c & SHOAL__CTL_DELETING)
			return shoal__fill_finish_abort(s, slot, idx, gen, by);
		shoal__fill_undescribe(e);
		n = shoal__with_filler(c, UINT32_MAX) & ~SHOAL__CTL_FILLING;
		/* ENT-R2 (the cleared description) and ENT-A2; relaxed on
		 * failure: the loop waits for the word again. */
	} while (!atomic_compare_exchange_weak_explicit(
		&e->ctl, &c, n, memory_order_acq_rel, memory_order_relaxed));
	return 0;
}

/* The seal went through: the slot's bytes, from the record. */
static void shoal__fill_count(struct shoal__proc *p,
			      const struct shoal__fill_rec *r)
{
	atomic_store_explicit(&p->bytes, r->bytes + (int64_t)r->block_size,
			      memory_order_relaxed);
}

/* Under the lock: the promise was aborted meanwhile (stage 3): the end,
 * then the block.  -ETIMEDOUT leaves the record at stage 3. */
static int shoal__fill_abort_locked(struct shoal_store *s,
				    struct shoal__fill *f,
				    struct shoal__later *by)
{
	struct shoal__fill_rec *r = &s->me->fills[f->rec];
	int rc;

	r->stage = 3;
	SHOAL__CRASH(s, FILL_ABORTING);
	rc = shoal__fill_finish_abort(s, s->slot, f->idx, f->gen, by);
	if (!rc)
		shoal__fill_free_block(s, s->me, r);
	return rc;
}

/* Under the lock: describes and seals the entry f claimed (the record
 * stage 2 first), or completes an abort that came meanwhile. */
static int shoal__fill_end_locked(struct shoal_store *s, struct shoal__fill *f,
				  uint64_t flags, struct shoal__later *by)
{
	struct shoal__entry *e = &s->dir[f->idx];
	struct shoal__fill_rec *r = &s->me->fills[f->rec];
	int rc;

	shoal__fill_describe(e, f, flags);
	r->bytes = atomic_load_explicit(&s->me->bytes, memory_order_relaxed);
	r->stage = 2;
	SHOAL__CRASH(s, FILL_SEALING);
	rc = shoal__fill_seal(s, e, f->gen, by);
	if (!rc) {
		SHOAL__CRASH(s, FILL_SEALED);
		shoal__fill_count(s->me, r);
		/* Before the record goes: a reaper of stage 2 wakes them too. */
		shoal__waiters_close_sealed(s, e);
	} else if (rc == -ETIMEDOUT) {
		r->stage = 1; /* not sealed: still open, FILLING */
	} else if (shoal__fill_abort_locked(s, f, by) == -ETIMEDOUT) {
		rc = -ETIMEDOUT; /* still open, aborting */
	}
	if (rc != -ETIMEDOUT)
		r->stage = 0;
	return rc;
}

int shoal__fill_end(struct shoal_store *s, struct shoal__fill *f,
		    uint64_t flags)
{
	struct shoal__later by = shoal__lock_by(0); /* no timeout */
	int rc;

	if (!s || !f || f->rec >= SHOAL__PROC_FILLS)
		return -EINVAL;
	shoal__lock(s);
	rc = shoal__fill_end_locked(s, f, flags, &by);
	shoal__unlock(s);
	if (!rc)
		shoal__event_signal(&s->hdr->obj);
	return rc;
}

int shoal__fill_small(struct shoal_store *s, shoal_id id, const void *data,
		      uint64_t size, int timeout_ms, uint64_t flags, bool *claimed)
{
	struct shoal__later by = shoal__lock_by(timeout_ms);
	struct shoal__later end_by = shoal__lock_by(0);
	struct shoal__fill f;
	int rc;

	*claimed = false;
	if (!s || shoal_id_is_nil(id) || size > SHOAL__INLINE_MAX || (size && !data))
		return -EINVAL;
	shoal__lock(s);
	rc = shoal__fill_rec_start(s, size, &f);
	if (!rc) {
		f.off = 0;
		f.size = size;
		f.inl = 0;
		if (size) /* data may be NULL for 0 bytes */
			memcpy(&f.inl, data, size);
		SHOAL__CRASH(s, FILL_ALLOCATED);
		rc = shoal__fill_claim(s, id, &f, &by);
		*claimed = !rc;
		if (rc)
			s->me->fills[f.rec].stage = 0;
		else
			rc = shoal__fill_end_locked(s, &f, flags, &end_by);
	}
	shoal__unlock(s);
	if (!rc)
		shoal__event_signal(&s->hdr->obj);
	return rc;
}

int shoal__fill_cancel(struct shoal_store *s, struct shoal__fill *f)
{
	struct shoal__later by = shoal__lock_by(0); /* no timeout */
	struct shoal__fill_rec *r;
	int rc;

	if (!s || !f || f->rec >= SHOAL__PROC_FILLS)
		return -EINVAL;
	r = &s->me->fills[f->rec];
	shoal__lock(s);
	rc = shoal__fill_release(s, s->slot, f->idx, f->gen, &by);
	if (!rc) {
		shoal__fill_free_block(s, s->me, r);
		r->stage = 0;
	}
	shoal__unlock(s);
	return rc;
}

/* One record of a dead (or closing) slot, as its stage says (above).
 * -ETIMEDOUT (the record left as it stands) if a wait outlasts `by`. */
static int shoal__fill_reap_one(struct shoal_store *s, uint32_t slot,
				struct shoal__fill_rec *r, struct shoal__later *by)
{
	struct shoal__proc *p = &s->procs[slot];
	bool named = r->entry <= s->dir_mask;
	uint64_t c = named ? atomic_load_explicit(&s->dir[r->entry].ctl,
						  memory_order_acquire) : 0; /* ENT-A2 */
	int rc = 0;

	if (r->stage == 2) {
		if (!named || !shoal__filled_by(c, r->gen, slot)) {
			shoal__fill_count(p, r); /* sealed: the block is its */
			if (named && SHOAL__CTL_GEN(c) == r->gen)
				return shoal__obj_close_sealed(s, r->entry,
							       r->gen, by);
			return 0;
		}
		r->stage = 1; /* not sealed: decided, then undone below */
	}
	if (named && r->stage == 1)
		rc = shoal__fill_release(s, slot, r->entry, r->gen, by);
	else if (named && r->stage == 3)
		rc = shoal__fill_finish_abort(s, slot, r->entry, r->gen, by);
	return rc ? rc : shoal__fill_free_block(s, p, r);
}

/* Reaper (s->lock held): a dead or closing process's fills; 0, or
 * -ETIMEDOUT at the first record a wait past `by` left undone. */
int shoal__fill_reap(struct shoal_store *s, uint32_t slot,
		     struct shoal__later *by)
{
	struct shoal__proc *p = &s->procs[slot];

	for (uint32_t i = 0; i < SHOAL__PROC_FILLS; i++) {
		if (p->fills[i].stage == 0)
			continue;
		if (shoal__fill_reap_one(s, slot, &p->fills[i], by))
			return -ETIMEDOUT;
		SHOAL__CRASH(s, REAP_FILL);
		p->fills[i].stage = 0;
	}
	return 0;
}
