/* SPDX-License-Identifier: MIT */
/*
 * store/object/refs.c - the REF protocol that changes an entry's counts
 * (pins, holds) with this process's ledger, the blocks objects live in,
 * what a reaper gives back for a dead process, recency, and the wait loop
 * (register / re-check / sleep) of every blocking call.  Invariants: the
 * essay of object_int.h.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "object_int.h"

/* ------------------------------------------------------------------ */
/* Changing counts: the REF protocol.                                  */

/* The ref word of a change of idx by (dpins, dholds): what it adds. */
static uint64_t shoal__ref_word(uint32_t idx, int32_t dpins, int32_t dholds)
{
	uint32_t p = dpins > 0 ? (uint32_t)dpins : 0;
	uint32_t h = dholds > 0 ? (uint32_t)dholds : 0;

	if (p > SHOAL__LEDGER_COUNT_MAX)
		p = SHOAL__LEDGER_COUNT_MAX;
	if (h > SHOAL__LEDGER_COUNT_MAX)
		h = SHOAL__LEDGER_COUNT_MAX;
	return SHOAL__LEDGER_REC(idx + 1, p, h);
}

void shoal__intent_ref(struct shoal_store *s, uint32_t idx, int32_t dpins,
		       int32_t dholds)
{
	/* Relaxed: published by the count's CAS that follows (REF-R1).  Only
	 * we write the ref word (a repairer stamps our slot's stamps). */
	atomic_store_explicit(&s->me->intent.entry, idx, memory_order_relaxed);
	atomic_store_explicit(&s->me->intent.ref,
			      shoal__ref_word(idx, dpins, dholds),
			      memory_order_relaxed);
	atomic_store_explicit(&s->me->intent.op, SHOAL__OP_REF,
			      memory_order_relaxed);
}

/*
 * The intent ends: the ref word is cleared, and then we look whether a
 * repairer stamped our slot meanwhile (object_int.h, "Stalls"), with
 * plain accesses: the order between the clear and the look is made by
 * the repairer's membarrier (REF-S2), which the hot path does not pay
 * for.  Not stamped: op = NONE, done.  Stamped: the repair may have
 * counted our change as applied whether it was or not, so the entry may
 * have too many of our counts (never too few); op stays REF naming the
 * entry, and s->recount_owed says we owe it a recount
 * (shoal__ref_settle), made before our next change.  Killed before the
 * recount, our intent still names the entry and our reaper recounts it
 * (proc.c).  A stamp we see that was not for this change (the repairer
 * found our word clear after all) costs a recount that changes nothing.
 */
void shoal__intent_done(struct shoal_store *s)
{
	uint32_t st;

	/* REF-R2 (release): publishes the ledger update to a repairer
	 * whose acquire load of the word sees it clear (REF-A2). */
	atomic_store_explicit(&s->me->intent.ref, 0, memory_order_release);
	/* The compiler keeps the clear before the load; the CPU does
	 * through REF-S2 (object_int.h). */
	atomic_signal_fence(memory_order_seq_cst); /* REF-S1 */
	/* Relaxed: ordered by REF-S1/REF-S2. */
	st = atomic_load_explicit(&s->me->stamps, memory_order_relaxed);
	if (__builtin_expect(st != s->stamps_seen, 0)) {
		s->stamps_seen = st;
		/* Relaxed: our own word. */
		s->recount_owed = atomic_load_explicit(&s->me->intent.entry,
						       memory_order_relaxed) + 1;
		return;
	}
	atomic_store_explicit(&s->me->intent.op, SHOAL__OP_NONE,
			      memory_order_release); /* REF-R2, for a reaper */
}

/*
 * Pays a recount we owe (s->recount_owed, above): a repair of the entry
 * (repair.c), which counts our ledger as it now is (final: no change of
 * ours is in flight), then op = NONE.  0 (nothing owed, or paid), or
 * -ETIMEDOUT if the repair word stayed another live process's past `by`
 * (still owed: the entry keeps a count too many until then, a leak and
 * never an early free).  Not from inside a repair of our own (the recount
 * would nest): it stays owed until the next count change.  Killed at any
 * step, our intent still names the entry: our reaper recounts it, and a
 * repair we die in is taken over (repair.c).
 */
int shoal__ref_settle_owed(struct shoal_store *s, struct shoal__later *by)
{
	int rc;

	if (s->repairing)
		return 0;
	SHOAL__CRASH(s, REF_STAMPED);
	rc = shoal__obj_repair(s, s->recount_owed - 1, by);
	if (rc)
		return rc;
	s->recount_owed = 0;
	atomic_store_explicit(&s->me->intent.op, SHOAL__OP_NONE,
			      memory_order_release); /* REF-R2, for a reaper */
	return 0;
}

/*
 * Waits until e is not under REPAIR: 0 and its word in *out.  A live
 * repairer runs a bounded recount; every SHOAL__RESCUE_SPINS yields the
 * waiter looks at the repairer and, if it died, takes its repair over
 * (repair.c), taking the store lock for it unless `locked` says the caller
 * holds it.  But a REPAIR that no repair is behind (another process set
 * it, and its own live identity in the header's repair word) would hold
 * the waiter for ever: past `by` (the call's bound, deadline.h) the wait
 * ends with -ETIMEDOUT, and the caller withdraws.  The clock is read only
 * once the word has been under REPAIR for SHOAL__RESCUE_SPINS yields.
 */
#define SHOAL__RESCUE_SPINS 64u

int shoal__obj_wait_settled(struct shoal_store *s, struct shoal__entry *e,
			    bool locked, struct shoal__later *by, uint64_t *out)
{
	for (uint32_t i = 1;; i++) {
		/* REF-A4: the repair's store (REF-R4), once REPAIR is clear;
		 * and ENT-A2 for the caller's use of the word. */
		uint64_t c = atomic_load_explicit(&e->ctl, memory_order_acquire);

		if (!(c & SHOAL__CTL_REPAIR)) {
			*out = c;
			return 0;
		}
		if (i % SHOAL__RESCUE_SPINS == 0) {
			if (!locked)
				shoal__lock(s);
			shoal__repair_rescue(s);
			if (!locked)
				shoal__unlock(s);
			if (shoal__deadline_passed(shoal__later_get(by)))
				return -ETIMEDOUT;
		}
		sched_yield();
	}
}

static uint64_t shoal__add_counts(uint64_t c, int32_t dp, int32_t dh, int *err)
{
	int64_t p = (int64_t)SHOAL__CTL_PINS(c) + dp;
	int64_t h = (int64_t)SHOAL__CTL_HOLDS(c) + dh;

	if (p < 0 || h < 0) {
		*err = -ENOENT;
		return 0;
	}
	if (p > SHOAL__CTL_COUNT_MAX || h > SHOAL__CTL_COUNT_MAX) {
		*err = -EOVERFLOW;
		return 0;
	}
	c &= ~(((uint64_t)SHOAL__CTL_COUNT_MAX << SHOAL__CTL_PINS_SHIFT) |
	       ((uint64_t)SHOAL__CTL_COUNT_MAX << SHOAL__CTL_HOLDS_SHIFT));
	return c | ((uint64_t)p << SHOAL__CTL_PINS_SHIFT) |
	       ((uint64_t)h << SHOAL__CTL_HOLDS_SHIFT);
}

static int shoal__tomb_error(uint64_t c)
{
	unsigned st = SHOAL__CTL_STATE(c);

	if (st == SHOAL__E_EVICTED)
		return SHOAL_EEVICTED;
	if (st == SHOAL__E_DELETED && (c & SHOAL__CTL_OWNERDIED))
		return SHOAL_EOWNERDIED;
	if (st == SHOAL__E_DELETED || (c & SHOAL__CTL_DELETING))
		return SHOAL_EDELETED;
	if (st == SHOAL__E_CREATED)
		return SHOAL_ENOTSEALED;
	return -ENOENT;
}

/* pin: needs a sealed, undeleted entry of generation gen; hold: sealed or
 * unsealed (a promised task return is held before it exists). */
static uint64_t shoal__ref_acquire(uint64_t c, uint32_t gen, int32_t dp,
				   int32_t dh, int *err)
{
	bool holdable = SHOAL__CTL_STATE(c) == SHOAL__E_SEALED ||
			(SHOAL__CTL_STATE(c) == SHOAL__E_CREATED && dp == 0);

	if (SHOAL__CTL_GEN(c) != gen || !holdable || (c & SHOAL__CTL_DELETING)) {
		*err = SHOAL__CTL_GEN(c) != gen ? -ESTALE : shoal__tomb_error(c);
		return 0;
	}
	return shoal__add_counts(c, dp, dh, err);
}

/* True if a word goes from sealed to gone (its end, end.c). */
static bool shoal__is_end(uint64_t c, uint64_t n)
{
	return SHOAL__CTL_STATE(c) == SHOAL__E_SEALED &&
	       SHOAL__CTL_STATE(n) == SHOAL__E_DELETED;
}

/* unpin or drop: the entry may be sealed, deleting or a tombstone (holds
 * only: a tombstone's pins field is the end's mark).  A DELETING entry
 * whose last pin goes becomes DELETED in the same CAS, and so does a
 * TRANSIENT one (flags: its description's) whose last pin or hold goes:
 * an end, which the caller marks (end.c). */
static uint64_t shoal__ref_release(uint64_t c, uint32_t gen, int32_t dp,
				   int32_t dh, uint64_t flags, int *err)
{
	bool sealed = SHOAL__CTL_STATE(c) == SHOAL__E_SEALED;
	bool created = SHOAL__CTL_STATE(c) == SHOAL__E_CREATED;
	uint64_t n;

	if (SHOAL__CTL_GEN(c) != gen) {
		*err = -ESTALE;
		return 0;
	}
	if (!sealed && (dp || (!created && SHOAL__CTL_STATE(c) != SHOAL__E_EVICTED &&
			       SHOAL__CTL_STATE(c) != SHOAL__E_DELETED))) {
		*err = -ENOENT; /* no pins but on a sealed entry */
		return 0;
	}
	n = shoal__add_counts(c, dp, dh, err);
	if (n && sealed && (n & SHOAL__CTL_DELETING) && SHOAL__CTL_PINS(n) == 0)
		n = (n & ~(SHOAL__CTL_DELETING | SHOAL__CTL_STATE_MASK)) |
		    SHOAL__E_DELETED;
	else if (n && sealed && (flags & SHOAL__SIZE_TRANSIENT) &&
		 !SHOAL__CTL_PINS(n) && !SHOAL__CTL_HOLDS(n))
		n = (n & ~SHOAL__CTL_STATE_MASK) | SHOAL__E_DELETED;
	return n;
}

/* One CAS of the REF protocol; -EAGAIN under REPAIR (the caller backs
 * off).  A release that ends the entry arms the end record first and
 * marks the word (end.c); the caller finishes the end. */
static int shoal__ref_cas(struct shoal_store *s, struct shoal__ref *r)
{
	struct shoal__entry *e = &s->dir[r->idx];
	uint64_t c = atomic_load_explicit(&e->ctl, memory_order_acquire); /* ENT-A2 */
	int err = 0;

	for (;;) {
		struct shoal__desc d;
		uint64_t n;

		if (c & SHOAL__CTL_REPAIR)
			return -EAGAIN;
		if (r->acquire) {
			n = shoal__ref_acquire(c, r->gen, r->dpins, r->dholds, &err);
		} else { /* its flags decide an end; stable while live */
			d = shoal__entry_desc(e);
			n = shoal__ref_release(c, r->gen, r->dpins, r->dholds,
					       d.flags, &err);
		}
		if (!n)
			return err;
		r->ended = shoal__is_end(c, n);
		if (r->ended) {
			shoal__end_arm(s, r->idx, r->gen, &d);
			n = shoal__end_marked(s, n);
		}
		/* REF-R1 (release: our intent is visible to a reaper whose
		 * REPAIR CAS follows), ENT-A2 (acquire: the entry's fields for
		 * a pin); seq_cst for WT-S2 when the CAS ends the entry (end.c
		 * then closes its waiter stack). */
		if (atomic_compare_exchange_weak_explicit(&e->ctl, &c, n,
							  memory_order_seq_cst,
							  memory_order_acquire)) {
			r->old = c;
			r->now = n;
			return 0;
		}
		if (r->ended)
			shoal__end_disarm(s);
	}
}

/* The REF protocol.  0, or the reason the change is not allowed:
 * -ETIMEDOUT if a REPAIR on the entry outlasted `by` (nothing changed:
 * the intent is withdrawn before each wait). */
int shoal__ref_change(struct shoal_store *s, struct shoal__ref *r,
		      struct shoal__later *by)
{
	struct shoal__ledger_pos pos;
	int rc = shoal__ref_settle(s, by);

	if (!rc)
		rc = shoal__ledger_check(s, r->idx, r->dpins, r->dholds, &pos);
	if (rc)
		return rc;
	for (;;) {
		shoal__intent_ref(s, r->idx, r->dpins, r->dholds);
		SHOAL__CRASH(s, REF_INTENT);
		rc = shoal__ref_cas(s, r);
		if (rc != -EAGAIN)
			break;
		shoal__intent_done(s);
		rc = shoal__obj_wait_settled(s, &s->dir[r->idx], true, by,
					     &(uint64_t){0});
		if (!rc)
			rc = shoal__ref_settle(s, by);
		if (rc)
			return rc;
	}
	if (!rc) {
		SHOAL__CRASH(s, REF_CAS);
		shoal__ledger_commit(s, &pos);
		SHOAL__CRASH(s, REF_LEDGER);
	}
	shoal__intent_done(s);
	/* The change is made: a recount we cannot pay now (-ETIMEDOUT) is
	 * paid before our next one, and rc stays the change's. */
	shoal__ref_settle(s, by);
	return rc;
}

/* After a successful release: finish the end it made, or announce that an
 * object became evictable. */
void shoal__finish_release(struct shoal_store *s, const struct shoal__ref *r)
{
	if (r->ended)
		shoal__end_finish(s, s->slot);
	else if (SHOAL__CTL_STATE(r->now) == SHOAL__E_SEALED &&
		 !SHOAL__CTL_PINS(r->now) && !SHOAL__CTL_HOLDS(r->now))
		shoal__event_signal(&s->hdr->space);
}

/*
 * The close a dead sealer owed (its reaper's: reap.c for a seal, fill.c
 * for a fill), made while a pin of ours keeps the object from ending.
 * Without it, the check of the generation and the close would be two
 * steps with nothing held between them: the object could end there (its
 * end drains and closes the stack), a new object reuse the entry (its
 * creator reopens the stack) and the close then shut the new object's
 * stack, whose getters would stop sleeping and whose parked tasks would
 * run before their argument existed.  The pin is the REF protocol's (our
 * ledger has it), so a reaper killed holding it is reaped in turn: its
 * reaper gives the pin back, and the dead sealer's record, still there,
 * has the close made again (closing a closed stack does nothing).
 * A pin refused because the object ended, is ending (DELETING: its end
 * closes the stack) or is gone means there is nothing to close: 0.  So
 * does a stack with no node on it: a seal that finds its stack empty
 * leaves it open anyway (waiters.c), and every waiter that pushes after
 * the seal closes it itself; only waiters linked before the seal wait
 * for this close, and most reaps find none (no pin taken).
 *
 * The pin's REF intent is our slot's one intent record, and a reap can
 * run inside a call of ours that has that record armed: a create waiting
 * for a dead holder's directory stripe lock reaps (dir.c) with its CREATE
 * intent naming its block, entry and stripes, which its reaper needs if
 * it dies before the create returns.  The pin would overwrite it and
 * leave it NONE.  So with our intent armed (anything but a REF whose
 * recount we owe, which the REF protocol pays first) the close is not
 * made here: -EBUSY, and the dead slot is left for a reap of ours (or
 * anyone's) outside such a call.  A reap always has a slot of its own
 * (a claim that finds none free reaps from a reserve slot, proc.c); the
 * same -EBUSY without one is only a guard.
 */
int shoal__obj_close_sealed(struct shoal_store *s, uint32_t idx, uint32_t gen,
			    struct shoal__later *by)
{
	struct shoal__ref r = {.idx = idx, .gen = gen, .dpins = 1,
			       .acquire = true};
	uint32_t op;
	int rc;

	SHOAL__CRASH(s, REAP_STACK_SEEN);
	if (!shoal__waiters_linked(&s->dir[idx]))
		return 0;
	if (!s->me)
		return -EBUSY;
	/* Relaxed: our own word. */
	op = atomic_load_explicit(&s->me->intent.op, memory_order_relaxed);
	if (op != SHOAL__OP_NONE && !(op == SHOAL__OP_REF && s->recount_owed))
		return -EBUSY;
	rc = shoal__ref_change(s, &r, by);
	if (rc == -ESTALE || rc == -ENOENT || rc == SHOAL_EDELETED ||
	    rc == SHOAL_EEVICTED || rc == SHOAL_EOWNERDIED ||
	    rc == SHOAL_ENOTSEALED)
		return 0;
	if (rc)
		return rc;
	SHOAL__CRASH(s, REAP_STACK_PINNED);
	shoal__waiters_close(s, &s->dir[idx]);
	shoal__obj_unpin(s, idx, gen, by);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Blocks.                                                             */

void shoal__obj_free_block(struct shoal_store *s, uint64_t off, uint64_t size,
			   _Atomic uint64_t *rec)
{
	shoal__heap_free_rec(&s->heap, &s->me->cache, SHOAL__OFF(off),
			     size ? size : 1, rec);
}

/* ------------------------------------------------------------------ */
/* What a reaper gives back, and aborts.                               */

/* A dead (or closing) process's share of idx goes: 0, or -EAGAIN under
 * REPAIR (the reaper takes its record's FLAG down before it waits, so the
 * repair can count the record, proc.c). */
int shoal__obj_unref_dead(struct shoal_store *s, uint32_t idx, uint32_t pins,
			  uint32_t holds)
{
	struct shoal__ref r = {.idx = idx, .dpins = -(int32_t)pins,
			       .dholds = -(int32_t)holds};
	/* ENT-A2 */
	uint64_t c = atomic_load_explicit(&s->dir[idx].ctl, memory_order_acquire);
	int rc;

	if (c & SHOAL__CTL_REPAIR)
		return -EAGAIN;
	if (SHOAL__CTL_PINS(c) < pins || SHOAL__CTL_HOLDS(c) < holds ||
	    (pins && SHOAL__CTL_STATE(c) != SHOAL__E_SEALED))
		return 0; /* counts repaired below this record: nothing to do */
	r.gen = SHOAL__CTL_GEN(c);
	rc = shoal__ref_cas(s, &r);
	if (rc == 0)
		shoal__finish_release(s, &r);
	return rc == -EAGAIN ? rc : 0;
}

/* An aborted entry: FREE, or a DELETED tombstone while others still hold
 * it (a task's promised return held by a later task's submitter), so that
 * their ledgers never name a reused entry.  A dead creator's object always
 * leaves a tombstone marked OWNERDIED, so that a get that was waiting for
 * it learns why it will never come (SHOAL_EOWNERDIED). */
uint64_t shoal__obj_aborted_word(uint32_t holds, uint32_t gen, bool owner_died)
{
	if (owner_died)
		return SHOAL__CTL_MAKE(SHOAL__E_DELETED, 0, holds, gen) |
		       SHOAL__CTL_OWNERDIED;
	return holds ? SHOAL__CTL_MAKE(SHOAL__E_DELETED, 0, holds, gen)
		     : SHOAL__CTL_MAKE(SHOAL__E_FREE, 0, 0, gen);
}

/*
 * Aborts the unsealed entry idx of generation gen; creator_holds go with
 * it: the creator's own creation hold when it aborts, a dead creator's
 * holds when a reaper does (owner_died: the tombstone says so).  Other
 * holds keep a tombstone.  An entry being
 * filled gets DELETING instead and its filler ends it (fill.c).  0 (done,
 * or its abort under way), -ENOENT if it is no longer that unsealed entry
 * (a filler sealed it: nothing was taken from it), -EAGAIN under REPAIR.
 */
int shoal__obj_abort_entry(struct shoal_store *s, uint32_t idx, uint32_t gen,
			   uint32_t creator_holds, bool owner_died)
{
	struct shoal__entry *e = &s->dir[idx];
	uint64_t c = atomic_load_explicit(&e->ctl, memory_order_acquire); /* ENT-A2 */

	for (;;) {
		uint32_t left;
		uint64_t n;

		if (c & SHOAL__CTL_REPAIR)
			return -EAGAIN;
		if (SHOAL__CTL_STATE(c) != SHOAL__E_CREATED ||
		    SHOAL__CTL_GEN(c) != gen)
			return -ENOENT; /* sealed, or gone, meanwhile */
		if (c & SHOAL__CTL_DELETING)
			return 0; /* its abort is under way (fill.c) */
		left = SHOAL__CTL_HOLDS(c) > creator_holds
			       ? SHOAL__CTL_HOLDS(c) - creator_holds : 0;
		if (!(c & SHOAL__CTL_FILLING)) {
			if (shoal__obj_end(s, idx, c,
					   shoal__obj_aborted_word(left, gen,
								   owner_died)))
				return 0;
			/* ENT-A2 */
			c = atomic_load_explicit(&e->ctl, memory_order_acquire);
			continue;
		}
		/* The filler completes the abort (fill.c). */
		n = shoal__add_counts(c, 0, (int32_t)left - (int32_t)SHOAL__CTL_HOLDS(c),
				      &(int){0}) | SHOAL__CTL_DELETING;
		/* seq_cst: REF-R1 (an owner's abort runs under its REF
		 * intent); acquire: ENT-A2. */
		if (atomic_compare_exchange_weak_explicit(&e->ctl, &c, n,
							  memory_order_seq_cst,
							  memory_order_acquire))
			return 0;
	}
}

/* ------------------------------------------------------------------ */
/* Waiting for an event with register / re-check / sleep.              */

/* One attempt, with the process lock held (try functions need it). */
int shoal__attempt(struct shoal_store *s, shoal__try_fn try, void *arg)
{
	int rc;

	shoal__lock(s);
	rc = try(s, arg);
	shoal__unlock(s);
	return rc;
}

/* Calls try until it returns anything but -EAGAIN, sleeping on the event
 * (without the process lock) in between; -ETIMEDOUT at the deadline.  A
 * timed-out slice reaps dead processes, whose holds may be what we wait
 * for. */
struct shoal__try_await {
	struct shoal_store *s;
	shoal__try_fn try;
	void *arg;
	int rc;         /* out: the last attempt's */
};

/* The re-check is an attempt, made under the process lock after the
 * registration; the sleep counts as blocked (the on_block hook). */
static bool shoal__try_ready(void *arg)
{
	struct shoal__try_await *t = arg;

	t->rc = shoal__attempt(t->s, t->try, t->arg);
	return t->rc != -EAGAIN;
}

static void shoal__try_sleeping(void *arg, bool asleep)
{
	shoal__blocking(((struct shoal__try_await *)arg)->s, asleep);
}

int shoal__wait_for(struct shoal_store *s, struct shoal__event *ev,
		    struct shoal__deadline d, shoal__try_fn try, void *arg)
{
	struct shoal__try_await t = {.s = s, .try = try, .arg = arg};
	const struct shoal__await w = {.ready = shoal__try_ready,
				       .sleeping = shoal__try_sleeping,
				       .arg = &t};

	for (;;) {
		struct shoal__deadline slice = shoal__deadline_in(SHOAL__WAIT_SLICE_MS);
		int rc;

		if (slice.ns > d.ns)
			slice = d;
		rc = shoal__event_await(ev, slice, s->geo.spin_budget, &w);
		if (rc == 1)
			return t.rc;
		if (rc != -ETIMEDOUT)
			continue;
		shoal__lock(s);
		shoal__proc_reap_until(s, d); /* within the call's time */
		shoal__unlock(s);
		if (!shoal__deadline_passed(d))
			continue;
		rc = shoal__attempt(s, try, arg);
		return rc == -EAGAIN ? -ETIMEDOUT : rc;
	}
}

