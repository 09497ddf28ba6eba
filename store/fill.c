/* SPDX-License-Identifier: MIT */
/*
 * store/fill.c - filling a promised object from another process.
 *
 * A promise (object.c, shoal__obj_promise) is an unsealed entry with no
 * block, created and held by one process (a task's submitter) so that the
 * object is referenced from the moment its ID exists.  Another process (a
 * worker) then fills it: it allocates a block, marks the entry FILLING with
 * a CAS, writes the bytes (through a buffer it hands to user code: no
 * copy), publishes the description and seals with one CAS that clears
 * FILLING (R2 again: the release publishes the bytes and the description).
 * Only one process can hold FILLING; nobody else changes a FILLING entry's
 * state, except that an abort of the promise (its creator aborting, or a
 * reaper aborting a dead creator's promises) adds DELETING, and the filler
 * then completes that abort instead of sealing.
 *
 * Crash safety: the filler records each fill in its process slot (layout.h,
 * struct shoal__fill_rec) before it sets FILLING.  A reaper of a dead filler
 * reads the records: an entry of that generation still FILLING was not
 * sealed, so its FILLING bit is cleared (or the pending abort completed)
 * and the block freed; an entry already sealed with that block keeps it.
 * A block allocated but not yet recorded can leak (the one-instruction
 * window of proc.c).
 *
 * Error objects: fill_end may set SHOAL__SIZE_ERROR in the size word; the
 * runtime stores a failed task's code and message that way.
 *
 * Inline fills: at most SHOAL__INLINE_MAX bytes need no block.  The filler
 * writes them into its struct shoal__fill, and fill_end stores them in the
 * entry's data_off word with SHOAL__SIZE_INLINE; its fill record names no
 * block (block_off 0), so a reaper has nothing to free.
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

/* CREATED, generation gen, not FILLING, not being aborted -> FILLING. */
static int shoal__set_filling(struct shoal__entry *e, uint32_t gen)
{
	uint64_t c;

	do {
		c = shoal__obj_wait_no_repair(e);
		if (SHOAL__CTL_GEN(c) != gen || SHOAL__CTL_STATE(c) != SHOAL__E_CREATED ||
		    (c & SHOAL__CTL_DELETING))
			return SHOAL__CTL_STATE(c) == SHOAL__E_SEALED &&
				       SHOAL__CTL_GEN(c) == gen
				       ? SHOAL_ESEALED
				       : -ENOENT;
		if (c & SHOAL__CTL_FILLING)
			return -EBUSY;
	} while (!atomic_compare_exchange_weak_explicit(
		&e->ctl, &c, c | SHOAL__CTL_FILLING, memory_order_acq_rel,
		memory_order_relaxed));
	return 0;
}

/* Under the lock: record the fill, then take the entry. */
static int shoal__fill_claim(struct shoal_store *s, shoal_id id,
			     struct shoal__fill *f)
{
	struct shoal__fill_rec *r;
	uint64_t c;
	int idx = shoal__dir_lookup(s, id, &c);
	int rc = shoal__fill_rec_take(s);

	if (idx < 0 || rc < 0)
		return idx < 0 ? idx : rc;
	if (SHOAL__CTL_STATE(c) != SHOAL__E_CREATED)
		return SHOAL__CTL_STATE(c) == SHOAL__E_SEALED ? SHOAL_ESEALED : -ENOENT;
	f->rec = (uint32_t)rc;
	f->idx = (uint32_t)idx;
	f->gen = SHOAL__CTL_GEN(c);
	r = &s->me->fills[f->rec];
	*r = (struct shoal__fill_rec){.entry = f->idx, .gen = f->gen, .stage = 1,
				      .block_off = f->off, .block_size = f->size};
	rc = shoal__set_filling(&s->dir[f->idx], f->gen);
	if (rc)
		r->stage = 0;
	return rc;
}

/* The fill's block goes back (if `now` and it has one: inline fills do
 * not). */
static void shoal__fill_free_block(struct shoal_store *s,
				   const struct shoal__fill *f, bool now)
{
	if (now && f->off)
		shoal__obj_free_block(s, f->off, f->size);
}

int shoal__fill_begin(struct shoal_store *s, shoal_id id, uint64_t size,
		      int timeout_ms, struct shoal__fill *f, void **buf)
{
	shoal__off_t off;
	int rc;

	if (!s || !f || !buf || shoal_id_is_nil(id))
		return -EINVAL;
	off.v = 0;
	if (size > SHOAL__INLINE_MAX) {
		rc = shoal__obj_alloc(s, size, timeout_ms, &off);
		if (rc)
			return rc;
	}
	f->off = off.v;
	f->size = size;
	f->inl = 0;
	shoal__lock(s);
	rc = shoal__fill_claim(s, id, f);
	shoal__fill_free_block(s, f, rc != 0);
	shoal__unlock(s);
	if (!rc)
		*buf = f->off ? (void *)(s->map.base + f->off) : (void *)&f->inl;
	return rc;
}

/* Writes the description of the filled block (relaxed; the sealing CAS
 * publishes it). */
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

/* FILLING -> SEALED, unless an abort arrived (DELETING): then -ENOENT. */
static int shoal__fill_seal(struct shoal__entry *e, uint32_t gen)
{
	uint64_t c;

	do {
		c = shoal__obj_wait_no_repair(e);
		if (SHOAL__CTL_GEN(c) != gen || !(c & SHOAL__CTL_FILLING))
			return -ENOENT;
		if (c & SHOAL__CTL_DELETING)
			return -ENOENT;
	} while (!atomic_compare_exchange_weak_explicit(
		&e->ctl, &c,
		(c & ~(SHOAL__CTL_FILLING | SHOAL__CTL_STATE_MASK)) | SHOAL__E_SEALED,
		memory_order_seq_cst, memory_order_relaxed));
	return 0;
}

/* A FILLING entry whose promise was aborted: FREE, counted out.  The
 * block is freed by the caller (it is not the entry's). */
static void shoal__fill_finish_abort(struct shoal_store *s, uint32_t idx,
				     uint32_t gen)
{
	struct shoal__entry *e = &s->dir[idx];
	uint64_t c = shoal__obj_wait_no_repair(e);

	struct shoal__desc none = {0}; /* the block is the filler's to free */

	if (SHOAL__CTL_GEN(c) != gen || !(c & SHOAL__CTL_FILLING))
		return;
	/* Before the store that ends the entry: then it may be reused. */
	shoal__waiters_close(s, e);
	atomic_store_explicit(&e->data_off, 0, memory_order_relaxed);
	atomic_store_explicit(&e->data_size, 0, memory_order_relaxed);
	atomic_store_explicit(&e->ctl,
			      shoal__obj_aborted_word(SHOAL__CTL_HOLDS(c), gen),
			      memory_order_seq_cst);
	shoal__obj_entry_free(s, &none); /* counts only */
}

int shoal__fill_end(struct shoal_store *s, struct shoal__fill *f,
		    uint64_t flags)
{
	struct shoal__entry *e;
	int rc;

	if (!s || !f || f->rec >= SHOAL__PROC_FILLS)
		return -EINVAL;
	e = &s->dir[f->idx];
	shoal__lock(s);
	shoal__fill_describe(e, f, flags);
	rc = shoal__fill_seal(e, f->gen);
	if (rc) {
		shoal__fill_finish_abort(s, f->idx, f->gen);
		shoal__fill_free_block(s, f, true);
	} else if (f->off) { /* inline bytes use no arena */
		atomic_fetch_add_explicit(&s->hdr->bytes_used, f->size,
					  memory_order_relaxed);
	}
	s->me->fills[f->rec].stage = 0;
	shoal__unlock(s);
	if (!rc) {
		shoal__waiters_close(s, e);
		shoal__event_signal(&s->hdr->obj);
	}
	return rc;
}

/* Clears FILLING, or completes an abort that arrived meanwhile. */
static void shoal__fill_release(struct shoal_store *s, uint32_t idx,
				uint32_t gen)
{
	struct shoal__entry *e = &s->dir[idx];
	uint64_t c;

	do {
		c = shoal__obj_wait_no_repair(e);
		if (SHOAL__CTL_GEN(c) != gen || !(c & SHOAL__CTL_FILLING))
			return;
		if (c & SHOAL__CTL_DELETING) {
			shoal__fill_finish_abort(s, idx, gen);
			return;
		}
	} while (!atomic_compare_exchange_weak_explicit(
		&e->ctl, &c, c & ~SHOAL__CTL_FILLING, memory_order_acq_rel,
		memory_order_relaxed));
}

void shoal__fill_cancel(struct shoal_store *s, struct shoal__fill *f)
{
	if (!s || !f || f->rec >= SHOAL__PROC_FILLS)
		return;
	shoal__lock(s);
	shoal__fill_release(s, f->idx, f->gen);
	shoal__fill_free_block(s, f, true);
	s->me->fills[f->rec].stage = 0;
	shoal__unlock(s);
}

/* Reaper (s->lock held): a dead process's fills. */
void shoal__fill_reap(struct shoal_store *s, uint32_t slot)
{
	struct shoal__proc *p = &s->procs[slot];

	for (uint32_t i = 0; i < SHOAL__PROC_FILLS; i++) {
		struct shoal__fill_rec *r = &p->fills[i];
		struct shoal__entry *e;
		uint64_t c;

		if (r->stage == 0 || r->entry > s->dir_mask)
			continue;
		e = &s->dir[r->entry];
		c = atomic_load_explicit(&e->ctl, memory_order_acquire);
		if (SHOAL__CTL_GEN(c) == r->gen && !(c & SHOAL__CTL_FILLING) &&
		    (!r->block_off || shoal__entry_desc(e).off == r->block_off))
			continue; /* sealed with this block (or inline): it stays */
		shoal__fill_release(s, r->entry, r->gen);
		if (r->block_off) /* an inline fill has none */
			shoal__obj_free_block(s, r->block_off, r->block_size);
		r->stage = 0;
	}
}
