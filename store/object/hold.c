/* SPDX-License-Identifier: MIT */
/*
 * store/object/hold.c - hold, drop and delete: references that outlive
 * views, and the tombstone that keeps a held, deleted entry until its
 * last drop.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "object_int.h"

/* ------------------------------------------------------------------ */
/* Hold, drop, delete.                                                 */

/* Adds dholds (+1: hold, -1: drop) to this process's holds on id. */
/* Before a drop of a hold on our own unsealed object: once its holds are
 * gone no ledger names it, so our reaper must look for it in the
 * directory (proc.c).  Counted before the drop: a death in between costs
 * a scan, never an orphan.  Relaxed: the owner's word, read by its
 * reaper after its death (layout.h). */
static void shoal__note_orphan(struct shoal_store *s)
{
	atomic_store_explicit(&s->me->orphans,
			      atomic_load_explicit(&s->me->orphans,
						   memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static int shoal__hold_change(struct shoal_store *store, shoal_id id,
			      int32_t dholds, struct shoal__later *by)
{
	for (;;) {
		uint64_t c;
		int idx = dholds < 0 ? shoal__dir_lookup_held(store, id, &c)
				     : shoal__find(store, id, &c);
		struct shoal__ref r;
		int rc;

		if (idx < 0)
			return idx;
		if (dholds < 0 && SHOAL__CTL_STATE(c) == SHOAL__E_CREATED &&
		    shoal__mine(store, &store->dir[idx]))
			shoal__note_orphan(store);
		r = (struct shoal__ref){.idx = (uint32_t)idx, .gen = SHOAL__CTL_GEN(c),
					.dholds = dholds, .acquire = dholds > 0};
		rc = shoal__ref_change(store, &r, by);
		if (rc == -ESTALE)
			continue; /* the entry was reused under us */
		if (!rc && dholds < 0)
			shoal__finish_release(store, &r);
		return rc;
	}
}

/* hold and drop have no timeout: a REPAIR is waited for up to
 * SHOAL__LOCK_MIN_MS (deadline.h), then -ETIMEDOUT, nothing changed. */
static int shoal__hold_locked(struct shoal_store *store, shoal_id id,
			      int32_t dholds)
{
	struct shoal__later by = shoal__lock_by(0);
	int rc;

	if (!store || shoal_id_is_nil(id))
		return -EINVAL;
	if (store->readonly)
		return SHOAL_EREADONLY;
	shoal__lock(store);
	rc = shoal__hold_change(store, id, dholds, &by);
	shoal__unlock(store);
	return rc;
}

SHOAL_API int shoal_hold(struct shoal_store *store, shoal_id id)
{
	return shoal__hold_locked(store, id, 1);
}

SHOAL_API int shoal_drop(struct shoal_store *store, shoal_id id)
{
	int rc = shoal__hold_locked(store, id, -1);

	if (!rc && store->hooks.on_drop)
		store->hooks.on_drop(store->hooks.on_drop_ctx);
	return rc;
}

/* SEALED -> DELETING while pinned, else straight to a DELETED tombstone. */
static uint64_t shoal__delete_word(uint64_t c)
{
	if (SHOAL__CTL_PINS(c))
		return c | SHOAL__CTL_DELETING;
	return (c & ~SHOAL__CTL_STATE_MASK) | SHOAL__E_DELETED;
}

/* Under the store lock: DELETING (pinned: the last release ends it) or
 * an end now (end.c); -ETIMEDOUT, nothing changed, if a REPAIR on it
 * outlasts `by`.  The DELETING CAS is acq_rel: ENT-A2 on the word; its
 * release half publishes nothing a reader needs (the flag is in the
 * word itself).  Relaxed on failure: the loop waits for the word again. */
static int shoal__delete_locked(struct shoal_store *s, uint32_t idx,
				uint32_t gen, struct shoal__later *by)
{
	struct shoal__entry *e = &s->dir[idx];

	for (;;) {
		uint64_t c, n;
		int rc = shoal__obj_wait_settled(s, e, true, by, &c);

		if (rc)
			return rc;
		if (SHOAL__CTL_GEN(c) != gen) /* evicted and reused meanwhile */
			return -ENOENT;
		if (SHOAL__CTL_STATE(c) == SHOAL__E_CREATED)
			return SHOAL_ENOTSEALED;
		if (SHOAL__CTL_STATE(c) != SHOAL__E_SEALED || (c & SHOAL__CTL_DELETING))
			return -ENOENT;
		n = shoal__delete_word(c);
		if (SHOAL__CTL_STATE(n) == SHOAL__E_DELETED) {
			if (shoal__obj_end(s, idx, c, n))
				return 0;
		} else if (atomic_compare_exchange_weak_explicit( /* ENT-A2 */
				   &e->ctl, &c, n, memory_order_acq_rel,
				   memory_order_relaxed)) {
			return 0;
		}
	}
}

SHOAL_API int shoal_delete(struct shoal_store *store, shoal_id id)
{
	struct shoal__later by = shoal__lock_by(0); /* no timeout */
	uint64_t c;
	int idx = shoal__ro(store) ? SHOAL_EREADONLY : shoal__find(store, id, &c);
	int rc;

	if (idx < 0)
		return idx;
	shoal__lock(store);
	rc = shoal__delete_locked(store, (uint32_t)idx, SHOAL__CTL_GEN(c), &by);
	shoal__unlock(store);
	return rc;
}

