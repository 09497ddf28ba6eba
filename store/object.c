/* SPDX-License-Identifier: MIT */
/*
 * store/object.c - objects: create, seal, get, release, hold, drop, delete,
 * and the per-process ledger that makes them crash-safe.
 *
 * Counts.  An entry's pins (open views) and holds (references) live in its
 * control word (layout.h), so admission decisions (may this be evicted?
 * may this slot be reused?) are one load or CAS.  Each process also records
 * its own share in its ledger, so that a reaper can give back what a dead
 * process had.  Every change of a count follows one protocol (ref_change):
 *
 *   intent.entry = idx; intent.op = REF             (relaxed, own slot)
 *   CAS ctl old -> new                              (acq_rel: R3)
 *   ledger[idx] += delta                            (relaxed, own slot)
 *   intent.op = NONE                                (release: R4)
 *
 * A reaper that finds a dead process with op == REF cannot know whether
 * its CAS landed, so it recounts the entry (repair.c).  A process whose CAS
 * meets REPAIR backs off, withdraws its intent and waits.  Reaping is rare;
 * the hot path pays two plain stores and one release store.  An abort
 * changes the creator's holds too (its creation hold goes), so it runs
 * under the same intent.
 *
 * Lifetime.  The creator holds an object from create on (its ledger gets
 * the hold before the entry is published).  An entry with pins or holds is
 * never evicted; an entry with pins is never freed (a delete marks it
 * DELETING and the last release frees it).  A deleted entry that is still
 * held stays as a DELETED tombstone until its last drop, so a ledger index
 * never names a reused entry.  Every end of an entry (eviction, delete,
 * abort, a TRANSIENT object's last drop) goes through end.c, which frees
 * its block exactly once whoever dies when.
 *
 * Eviction (evict.c).  When the heap has no room (or max_objects are
 * live), the creator evicts sealed, unpinned, unheld entries, least
 * recently used first.  Recency is a tick from the header's clock: taken
 * at create, and again at get when another tick happened since (so a get
 * loop on one object costs no shared RMW).
 *
 * Counters.  The live objects and their bytes are counted per process
 * slot (layout.h): a publish adds to the creator's slot, an end subtracts
 * from the ender's, each as an assignment from values recorded in the
 * operation's record, which a reaper can redo.  The totals are sums.
 *
 * Waiting.  get waits for the header's object event (create or seal) and
 * create waits for the space event (drop, release, delete, abort, reap),
 * with the register / re-check / sleep protocol of base/event.c, in slices of at
 * most SHOAL__WAIT_SLICE_MS after which the waiter reaps dead processes.
 * Waits for a word another process holds (a stripe lock, a REPAIR, the
 * heap's lock) end at the call's bound (deadline.h): the caller's timeout,
 * at least SHOAL__LOCK_MIN_MS, or SHOAL__LOCK_MIN_MS for a call that has
 * no timeout; the call then withdraws what it started and returns
 * -ETIMEDOUT.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mem.h"

#define SHOAL__WAIT_SLICE_MS 1000

/* ------------------------------------------------------------------ */
/* Changing counts: the REF protocol.                                  */

static void shoal__intent_ref(struct shoal_store *s, uint32_t idx)
{
	atomic_store_explicit(&s->me->intent.entry, idx, memory_order_relaxed);
	atomic_store_explicit(&s->me->intent.op, SHOAL__OP_REF,
			      memory_order_relaxed);
}

static void shoal__intent_done(struct shoal_store *s)
{
	/* R4: publishes the ledger update to a repairing reaper (A4). */
	atomic_store_explicit(&s->me->intent.op, SHOAL__OP_NONE,
			      memory_order_release);
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

struct shoal__ref {
	uint32_t idx;
	uint32_t gen;
	int32_t dpins;
	int32_t dholds;
	bool acquire;   /* pin/hold (true) or unpin/drop (false) */
	bool ended;     /* out: the CAS ended the entry (end.c's record armed) */
	uint64_t old;   /* out: the word replaced */
	uint64_t now;   /* out: the word written */
};

/* One CAS of the REF protocol; -EAGAIN under REPAIR (the caller backs
 * off).  A release that ends the entry arms the end record first and
 * marks the word (end.c); the caller finishes the end. */
static int shoal__ref_cas(struct shoal_store *s, struct shoal__ref *r)
{
	struct shoal__entry *e = &s->dir[r->idx];
	uint64_t c = atomic_load_explicit(&e->ctl, memory_order_acquire);
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
		/* R3 (release: our intent is visible to a reaper whose REPAIR
		 * CAS follows), acquire: the entry's fields for a pin. */
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
static int shoal__ref_change(struct shoal_store *s, struct shoal__ref *r,
			     struct shoal__later *by)
{
	struct shoal__ledger_pos pos;
	int rc = shoal__ledger_check(s, r->idx, r->dpins, r->dholds, &pos);

	if (rc)
		return rc;
	for (;;) {
		shoal__intent_ref(s, r->idx);
		SHOAL__CRASH(s, REF_INTENT);
		rc = shoal__ref_cas(s, r);
		if (rc != -EAGAIN)
			break;
		shoal__intent_done(s);
		rc = shoal__obj_wait_settled(s, &s->dir[r->idx], true, by,
					     &(uint64_t){0});
		if (rc)
			return rc;
	}
	if (!rc) {
		SHOAL__CRASH(s, REF_CAS);
		shoal__ledger_commit(s, &pos);
		SHOAL__CRASH(s, REF_LEDGER);
	}
	shoal__intent_done(s);
	return rc;
}

/* After a successful release: finish the end it made, or announce that an
 * object became evictable. */
static void shoal__finish_release(struct shoal_store *s,
				  const struct shoal__ref *r)
{
	if (r->ended)
		shoal__end_finish(s, s->slot);
	else if (SHOAL__CTL_STATE(r->now) == SHOAL__E_SEALED &&
		 !SHOAL__CTL_PINS(r->now) && !SHOAL__CTL_HOLDS(r->now))
		shoal__event_signal(&s->hdr->space);
}

static bool shoal__mine(const struct shoal_store *s, const struct shoal__entry *e)
{
	return shoal__entry_creator(e) == SHOAL__CREATOR(s->slot, s->slot_gen);
}

/* ------------------------------------------------------------------ */
/* Blocks.                                                             */

/* The process's heap cache is single-threaded (heap.h): s->lock is held.
 * rec: the operation's handoff record (heap.h). */
static int shoal__obj_alloc_block(struct shoal_store *s, uint64_t size,
				  shoal__off_t *off, _Atomic uint64_t *rec)
{
	return shoal__heap_alloc_rec(&s->heap, &s->me->cache, size ? size : 1,
				     off, rec);
}

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
	uint64_t c = atomic_load_explicit(&e->ctl, memory_order_acquire);

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
			c = atomic_load_explicit(&e->ctl, memory_order_acquire);
			continue;
		}
		/* The filler completes the abort (fill.c). */
		n = shoal__add_counts(c, 0, (int32_t)left - (int32_t)SHOAL__CTL_HOLDS(c),
				      &(int){0}) | SHOAL__CTL_DELETING;
		if (atomic_compare_exchange_weak_explicit(&e->ctl, &c, n,
							  memory_order_seq_cst,
							  memory_order_acquire))
			return 0;
	}
}

/* ------------------------------------------------------------------ */
/* Recency and eviction.                                               */

static uint64_t shoal__tick(struct shoal_store *s)
{
	return atomic_fetch_add_explicit(&s->hdr->clock, 1,
					 memory_order_relaxed) + 1;
}

static void shoal__touch(struct shoal_store *s, struct shoal__entry *e)
{
	uint64_t now = atomic_load_explicit(&s->hdr->clock, memory_order_relaxed);

	/* Relaxed: recency is a hint for eviction, not a synchronisation. */
	if (atomic_load_explicit(&e->atime, memory_order_relaxed) != now)
		atomic_store_explicit(&e->atime, shoal__tick(s),
				      memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* Waiting for an event with register / re-check / sleep.              */

typedef int (*shoal__try_fn)(struct shoal_store *s, void *arg);

/* One attempt, with the process lock held (try functions need it). */
static int shoal__attempt(struct shoal_store *s, shoal__try_fn try, void *arg)
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
static int shoal__wait_for(struct shoal_store *s, struct shoal__event *ev,
			   struct shoal__deadline d, shoal__try_fn try, void *arg)
{
	for (;;) {
		uint32_t seen = shoal__event_seen(ev);
		struct shoal__deadline slice = shoal__deadline_in(SHOAL__WAIT_SLICE_MS);
		int rc;

		atomic_fetch_add_explicit(&ev->waiters, 1, memory_order_seq_cst);
		rc = shoal__attempt(s, try, arg);
		if (rc != -EAGAIN) {
			atomic_fetch_sub_explicit(&ev->waiters, 1, memory_order_relaxed);
			return rc;
		}
		if (slice.ns > d.ns)
			slice = d;
		shoal__blocking(s, true);
		rc = shoal__event_wait(ev, seen, slice, s->geo.spin_budget);
		shoal__blocking(s, false);
		atomic_fetch_sub_explicit(&ev->waiters, 1, memory_order_relaxed);
		if (rc != -ETIMEDOUT)
			continue;
		shoal__lock(s);
		shoal__proc_reap_all(s);
		shoal__unlock(s);
		if (!shoal__deadline_passed(d))
			continue;
		rc = shoal__attempt(s, try, arg);
		return rc == -EAGAIN ? -ETIMEDOUT : rc;
	}
}

/* ------------------------------------------------------------------ */
/* Create, seal, abort, put.                                           */


struct shoal__alloc_req {
	uint64_t bytes;
	shoal__off_t off;
	_Atomic uint64_t *rec; /* the handoff record (heap.h) */
	struct shoal__later *by; /* the heap's lock wait (deadline.h) */
	bool gave_up;   /* out: the heap's lock was not had by then */
};

void shoal__store_totals(const struct shoal_store *s, int64_t *objects,
			 int64_t *bytes)
{
	uint32_t hwm = atomic_load_explicit(&s->hdr->procs_hwm,
					    memory_order_relaxed);
	int64_t o = 0, b = 0;

	/* Relaxed: each slot's share is exact; the sum is a snapshot. */
	for (uint32_t i = 0; i < hwm && i < s->geo.max_procs; i++) {
		o += atomic_load_explicit(&s->procs[i].objects, memory_order_relaxed);
		b += atomic_load_explicit(&s->procs[i].bytes, memory_order_relaxed);
	}
	*objects = o;
	*bytes = b;
}

static bool shoal__over_object_limit(const struct shoal_store *s)
{
	int64_t objects, bytes;

	shoal__store_totals(s, &objects, &bytes);
	return objects >= (int64_t)s->geo.max_objects;
}

/*
 * The max_objects test of a create (s->lock held).  The exact total is a
 * sum over every slot's line, a cache miss each when other processes
 * create too, so a handle sums only when its budget of creates is spent:
 * after a sum that found `room` objects left, it may create room /
 * (processes ever + 1) (at most SHOAL__LIMIT_BUDGET) before it sums again.
 * Every process's budget is at most that share of the room it saw, so
 * together they never take more than the room: the limit holds as it did
 * with a shared counter (concurrent creators can each go one over).
 */
#define SHOAL__LIMIT_BUDGET 64

static bool shoal__at_object_limit(struct shoal_store *s)
{
	int64_t objects, bytes, room, share;
	uint32_t hwm;

	if (s->limit_budget) {
		s->limit_budget--;
		return false;
	}
	shoal__store_totals(s, &objects, &bytes);
	room = (int64_t)s->geo.max_objects - objects;
	if (room <= 0)
		return true;
	hwm = atomic_load_explicit(&s->hdr->procs_hwm, memory_order_relaxed);
	share = room / ((int64_t)hwm + 1);
	s->limit_budget = (uint32_t)(share < SHOAL__LIMIT_BUDGET ? share
								 : SHOAL__LIMIT_BUDGET);
	return false;
}

/* Below the object limit, evicting while that makes progress: another
 * process may take the room we made, but each round evicts something, so
 * only a store with nothing evictable says no. */
static int shoal__make_object_room(struct shoal_store *s)
{
	while (shoal__at_object_limit(s))
		if (!shoal__evict_for(s, 0))
			return -EAGAIN;
	return 0;
}

/* A block, evicting for it: 0, -EAGAIN (no room yet), or -ETIMEDOUT
 * (gave_up: the heap's lock stayed taken past r->by, heap.c). */
static int shoal__try_alloc(struct shoal_store *s, void *arg)
{
	struct shoal__alloc_req *r = arg;
	int rc = shoal__make_object_room(s);

	while (!rc) {
		s->heap.lock_by = r->by;
		rc = shoal__obj_alloc_block(s, r->bytes, &r->off, r->rec);
		s->heap.lock_by = NULL;
		r->gave_up = rc == -ETIMEDOUT;
		if (rc != -ENOMEM)
			return rc;
		rc = shoal__evict_for(s, r->bytes) ? 0 : -EAGAIN;
	}
	return rc;
}

struct shoal__new_obj {
	shoal_id id;
	uint64_t data_size;
	uint32_t meta_size;
	const void *meta;
	bool fresh;       /* id from shoal_id_next: no duplicate possible */
	bool promise;     /* no block: another process fills it (fill.c) */
	bool lock_failed; /* out: a word another process holds (the window's
			   * lock, the heap's, a REPAIR) was not had (below) */
	struct shoal__later lock_by; /* how long those may take (deadline.h):
				      * the caller's timeout, at least
				      * SHOAL__LOCK_MIN_MS (its clock read
				      * only if one makes it wait) */
	shoal__off_t off;
	uint32_t idx;
	uint32_t gen;
};

static void shoal__entry_fill(struct shoal_store *s, struct shoal__entry *e,
			      const struct shoal__new_obj *o)
{
	int32_t pid = SHOAL__PROC_PID(atomic_load_explicit(&s->me->state,
							   memory_order_relaxed));

	/* Relaxed: the publishing store of ctl (R2) orders them. */
	atomic_store_explicit(&e->data_off, o->off.v, memory_order_relaxed);
	atomic_store_explicit(&e->data_size, o->data_size, memory_order_relaxed);
	atomic_store_explicit(&e->meta_size, o->meta_size, memory_order_relaxed);
	atomic_store_explicit(&e->creator, SHOAL__CREATOR(s->slot, s->slot_gen),
			      memory_order_relaxed);
	atomic_store_explicit(&e->waiters, 0, memory_order_relaxed);
	atomic_store_explicit(&e->creator_pid, pid, memory_order_relaxed);
	atomic_store_explicit(&e->atime, shoal__tick(s), memory_order_relaxed);
}

/* The claimed word c (FREE, ours under the stripe lock) -> the published
 * one, by CAS: nothing else may change a claimed entry (a repair never
 * marks a reusable one, repair.c), and if something did, its REPAIR is
 * waited out rather than overwritten, until `by`: -ETIMEDOUT then (not
 * published).  R2 (release): publishes the entry's fields with its new
 * state. */
static int shoal__publish_word(struct shoal_store *s, uint32_t idx, uint64_t c,
			       uint64_t n, struct shoal__later *by)
{
	struct shoal__entry *e = &s->dir[idx];
	int rc = 0;

	while (!rc && !atomic_compare_exchange_strong_explicit(
			      &e->ctl, &c, n, memory_order_release,
			      memory_order_relaxed))
		rc = shoal__obj_wait_settled(s, e, true, by, &c);
	return rc;
}

/* Under the window lock: reserve, record the creator's hold, publish.  A
 * publish that gives up (-ETIMEDOUT: a REPAIR on the claimed entry that
 * outlasts the bound) takes the hold out of the ledger again; the entry
 * stays FREE (a reaper of a death in between finds it unpublished, proc.c,
 * and consumes the hold). */
static int shoal__publish(struct shoal_store *s, struct shoal__new_obj *o,
			  uint32_t home)
{
	struct shoal__intent *in = &s->me->intent;
	uint64_t c;
	uint32_t gen;
	int rc = shoal__dir_reserve(s, o->id, o->fresh, home, &o->idx, &c);

	if (rc)
		return rc;
	gen = (SHOAL__CTL_GEN(c) + 1) & SHOAL__CTL_GEN_MASK;
	o->gen = gen;
	atomic_store_explicit(&in->entry, o->idx, memory_order_relaxed);
	in->gen = gen;
	SHOAL__CRASH(s, CREATE_RESERVED);
	rc = shoal__ledger_add(s, o->idx, 0, 1);
	if (rc)
		return rc; /* the slot stays FREE */
	SHOAL__CRASH(s, CREATE_HELD);
	in->objects = atomic_load_explicit(&s->me->objects, memory_order_relaxed);
	in->bytes = atomic_load_explicit(&s->me->bytes, memory_order_relaxed);
	in->stage = 1;
	shoal__entry_fill(s, &s->dir[o->idx], o);
	rc = shoal__publish_word(s, o->idx, c,
				 SHOAL__CTL_MAKE(SHOAL__E_CREATED, 0, 1, gen),
				 &o->lock_by);
	if (rc) {
		shoal__ledger_add(s, o->idx, 0, -1);
		return rc;
	}
	SHOAL__CRASH(s, CREATE_PUBLISHED);
	/* The slot's counters, from the intent (a reaper redoes this). */
	atomic_store_explicit(&s->me->objects, in->objects + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&s->me->bytes,
			      in->bytes + (int64_t)(o->data_size + o->meta_size),
			      memory_order_relaxed);
	SHOAL__CRASH(s, CREATE_COUNTED);
	return 0;
}

static int shoal__insert(struct shoal_store *s, struct shoal__new_obj *o)
{
	uint32_t home = shoal__dir_home(s, o->id);
	int rc = shoal__dir_lock(s, home, &o->lock_by);

	if (rc) {
		o->lock_failed = true;
		return rc;
	}
	rc = shoal__publish(s, o, home);
	shoal__dir_unlock(s, home);
	if (!rc)
		shoal__event_signal(&s->hdr->obj);
	o->lock_failed = rc == -ETIMEDOUT;
	return rc;
}

static void shoal__intent_create(struct shoal_store *s)
{
	struct shoal__intent *in = &s->me->intent;

	in->stage = 0;
	atomic_store_explicit(&in->entry, UINT32_MAX, memory_order_relaxed);
	atomic_store_explicit(&in->block_off, 0, memory_order_relaxed);
	in->block_size = 0;
	in->stripe[0] = in->stripe[1] = UINT32_MAX;
	atomic_store_explicit(&in->op, SHOAL__OP_CREATE, memory_order_relaxed);
}

/* A promise takes a directory entry but no block. */
static int shoal__try_promise(struct shoal_store *s, struct shoal__new_obj *o)
{
	if (shoal__make_object_room(s))
		return -EAGAIN;
	o->off = SHOAL__OFF_NULL;
	return shoal__insert(s, o);
}

/* One attempt at a whole create, under the process lock: -EAGAIN when
 * there is no room yet (nothing is left half done then). */
static int shoal__try_create(struct shoal_store *s, void *arg)
{
	struct shoal__new_obj *o = arg;
	uint64_t bytes = o->data_size + o->meta_size;
	struct shoal__intent *in = &s->me->intent;
	struct shoal__alloc_req r = {.bytes = bytes, .rec = &in->block_off,
				     .by = &o->lock_by};
	int rc;

	shoal__intent_create(s);
	in->block_size = bytes;
	/* The home slot is a cache miss: start it while we allocate. */
	__builtin_prefetch(&s->dir[shoal__dir_home(s, o->id)], 1);
	if (o->promise) {
		rc = shoal__try_promise(s, o);
		goto out;
	}
	rc = shoal__try_alloc(s, &r);
	o->lock_failed = r.gave_up;
	if (rc)
		goto out;
	SHOAL__CRASH(s, CREATE_ALLOCATED);
	o->off = r.off;
	if (o->meta_size)
		memcpy(s->map.base + o->off.v + o->data_size, o->meta, o->meta_size);
	rc = shoal__insert(s, o);
	if (rc)
		shoal__obj_free_block(s, o->off.v, bytes, &in->block_off);
out:
	atomic_store_explicit(&in->op, SHOAL__OP_NONE, memory_order_release);
	return rc;
}

/* Creates, evicting and then waiting for space up to the deadline.  The
 * directory window's lock, the heap's and a REPAIR on the claimed entry
 * are held by a live process for a few writes, but a holder the scheduler
 * took off its CPU holds them for as long as it is off: every create, a
 * try (timeout 0) too, waits up to SHOAL__LOCK_MIN_MS for them
 * (deadline.h), and a create whose wait for one of them ran out says so
 * (-ETIMEDOUT), not "no room". */
static int shoal__create(struct shoal_store *s, struct shoal__new_obj *o,
			 int timeout_ms)
{
	int rc;

	o->lock_by = shoal__lock_by(timeout_ms);
	rc = shoal__attempt(s, shoal__try_create, o);
	if (rc == -EAGAIN && timeout_ms != 0 && !o->lock_failed)
		rc = shoal__wait_for(s, &s->hdr->space,
				     shoal__deadline_in(timeout_ms),
				     shoal__try_create, o);
	if (o->lock_failed)
		return rc; /* -ETIMEDOUT or SHOAL_EBADSEGMENT: not "no room" */
	if (rc == -ETIMEDOUT || rc == -EAGAIN)
		rc = shoal__over_object_limit(s) ? -ENOSPC : SHOAL_ESTOREFULL;
	return rc;
}

static int shoal__check_new(struct shoal_store *s, shoal_id id, size_t size,
			    const void *meta, size_t meta_size)
{
	if (!s || shoal_id_is_nil(id) || (meta_size && !meta))
		return -EINVAL;
	if (meta_size > UINT32_MAX || size > UINT64_MAX - meta_size)
		return -EINVAL;
	if (size + meta_size > s->geo.capacity)
		return SHOAL_ESTOREFULL;
	return 0;
}

static int shoal__create_checked(struct shoal_store *s,
				 struct shoal__new_obj *o, const void *meta,
				 int timeout_ms)
{
	int rc = shoal__check_new(s, o->id, o->data_size, meta, o->meta_size);

	o->meta = meta;
	return rc ? rc : shoal__create(s, o, timeout_ms);
}

int shoal__obj_promise(struct shoal_store *s, shoal_id id, bool fresh,
			int timeout_ms)
{
	struct shoal__new_obj o = {.id = id, .fresh = fresh, .promise = true};

	if (!s || shoal_id_is_nil(id))
		return -EINVAL;
	return shoal__create(s, &o, timeout_ms);
}

/* A block for a fill (fill.c): evicting, then waiting for room;
 * -ETIMEDOUT if the heap's lock stayed taken past the bound of a call
 * with timeout_ms (deadline.h), SHOAL_ESTOREFULL if there was no room. */
int shoal__obj_alloc(struct shoal_store *s, uint64_t bytes, int timeout_ms,
		     shoal__off_t *off, _Atomic uint64_t *rec)
{
	struct shoal__later by = shoal__lock_by(timeout_ms);
	struct shoal__alloc_req r = {.bytes = bytes, .rec = rec, .by = &by};
	int rc;

	if (bytes > s->geo.capacity)
		return SHOAL_ESTOREFULL;
	rc = shoal__attempt(s, shoal__try_alloc, &r);
	if (rc == -EAGAIN && timeout_ms != 0)
		rc = shoal__wait_for(s, &s->hdr->space,
				     shoal__deadline_in(timeout_ms),
				     shoal__try_alloc, &r);
	if ((rc == -ETIMEDOUT && !r.gave_up) || rc == -EAGAIN)
		rc = SHOAL_ESTOREFULL;
	*off = r.off;
	return rc;
}

SHOAL_API int shoal_create(struct shoal_store *store, shoal_id id,
			   size_t data_size, const void *meta,
			   size_t meta_size, int timeout_ms, void **data)
{
	struct shoal__new_obj o = {
		.id = id, .data_size = data_size, .meta_size = (uint32_t)meta_size,
	};
	int rc;

	if (!data || meta_size > UINT32_MAX)
		return -EINVAL;
	rc = shoal__create_checked(store, &o, meta, timeout_ms);
	if (!rc)
		*data = store->map.base + o.off.v;
	return rc;
}

/* Finds id's entry; -ENOENT if there is none at all. */
static int shoal__find(struct shoal_store *s, shoal_id id, uint64_t *c)
{
	if (!s || shoal_id_is_nil(id))
		return -EINVAL;
	return shoal__dir_lookup(s, id, c);
}

/* The unsealed entry this process created, for seal/abort. */
static int shoal__find_own_created(struct shoal_store *s, shoal_id id,
				   uint64_t *c)
{
	int idx = shoal__find(s, id, c);

	if (idx < 0)
		return idx;
	if (SHOAL__CTL_STATE(*c) != SHOAL__E_CREATED) {
		if (SHOAL__CTL_STATE(*c) != SHOAL__E_SEALED)
			return -ENOENT;
		return shoal__mine(s, &s->dir[idx]) ? SHOAL_ESEALED : -EPERM;
	}
	return shoal__mine(s, &s->dir[idx]) ? idx : -EPERM;
}

/* Under the store lock: CREATED (generation gen) -> SEALED, then its
 * waiters woken, under a SEAL intent naming the entry, so that the reaper
 * of a process killed between the two wakes them (proc.c).  -ETIMEDOUT
 * if a REPAIR on it outlasts `by` (still unsealed, the intent withdrawn). */
static int shoal__seal_locked(struct shoal_store *s, uint32_t idx, uint32_t gen,
			      struct shoal__later *by)
{
	struct shoal__entry *e = &s->dir[idx];
	struct shoal__intent *in = &s->me->intent;
	uint64_t c;
	int rc;

	in->gen = gen;
	atomic_store_explicit(&in->entry, idx, memory_order_relaxed);
	atomic_store_explicit(&in->op, SHOAL__OP_SEAL, memory_order_relaxed);
	do {
		rc = shoal__obj_wait_settled(s, e, true, by, &c);
		if (!rc && (SHOAL__CTL_STATE(c) != SHOAL__E_CREATED ||
			    SHOAL__CTL_GEN(c) != gen))
			rc = -ENOENT;
		if (rc) {
			atomic_store_explicit(&in->op, SHOAL__OP_NONE,
					      memory_order_release);
			return rc;
		}
	} while (!atomic_compare_exchange_weak_explicit(
		&e->ctl, &c, (c & ~SHOAL__CTL_STATE_MASK) | SHOAL__E_SEALED,
		memory_order_seq_cst, memory_order_relaxed));
	SHOAL__CRASH(s, SEAL_SEALED);
	shoal__waiters_close(s, e);
	atomic_store_explicit(&in->op, SHOAL__OP_NONE, memory_order_release);
	return 0;
}

/* Only the creator seals, but a repairing reaper may hold the word for a
 * moment: wait it out, up to `by`.  R2 again: the release publishes the
 * bytes the creator wrote. */
static int shoal__seal_entry(struct shoal_store *s, struct shoal__entry *e,
			     uint32_t gen, struct shoal__later *by)
{
	int rc;

	shoal__lock(s);
	rc = shoal__seal_locked(s, (uint32_t)(e - s->dir), gen, by);
	shoal__unlock(s);
	if (!rc)
		shoal__event_signal(&s->hdr->obj);
	return rc;
}

SHOAL_API int shoal_seal(struct shoal_store *store, shoal_id id)
{
	struct shoal__later by = shoal__lock_by(0); /* no timeout */
	uint64_t c;
	int idx = shoal__find_own_created(store, id, &c);

	if (idx < 0)
		return idx;
	return shoal__seal_entry(store, &store->dir[idx], SHOAL__CTL_GEN(c), &by);
}

/*
 * The creation hold goes with the object; more holds this process took
 * (other threads) stay, on a tombstone, until dropped.  Under a REF
 * intent: the abort changes the entry's holds and this process's ledger,
 * and a reaper of a process killed in between recounts the entry.  0, or
 * -ETIMEDOUT if a REPAIR on it outlasts `by` (nothing changed: the intent
 * is withdrawn before each wait).
 */
static int shoal__abort_locked(struct shoal_store *s, uint32_t idx,
			       uint32_t gen, struct shoal__later *by)
{
	uint32_t mine = SHOAL__LEDGER_HOLDS(shoal__ledger_lookup(
				s->ledger, s->ledger_mask, idx)) ? 1 : 0;
	struct shoal__ledger_pos pos;
	int rc;

	if (mine && shoal__ledger_check(s, idx, 0, -1, &pos))
		mine = 0;
	for (;;) {
		shoal__intent_ref(s, idx);
		SHOAL__CRASH(s, ABORT_INTENT);
		rc = shoal__obj_abort_entry(s, idx, gen, mine, false);
		if (rc != -EAGAIN)
			break;
		shoal__intent_done(s);
		rc = shoal__obj_wait_settled(s, &s->dir[idx], true, by,
					     &(uint64_t){0});
		if (rc)
			return rc;
	}
	SHOAL__CRASH(s, ABORT_ENDED);
	if (mine && rc == 0) /* (sealed meanwhile: the hold stays its) */
		shoal__ledger_commit(s, &pos);
	SHOAL__CRASH(s, ABORT_LEDGER);
	shoal__intent_done(s);
	return 0;
}

SHOAL_API int shoal_abort(struct shoal_store *store, shoal_id id)
{
	struct shoal__later by = shoal__lock_by(0); /* no timeout */
	uint64_t c;
	int idx = shoal__find_own_created(store, id, &c);
	int rc;

	if (idx < 0)
		return idx;
	shoal__lock(store);
	rc = shoal__abort_locked(store, (uint32_t)idx, SHOAL__CTL_GEN(c), &by);
	shoal__unlock(store);
	return rc;
}

/* create + copy + seal by index (no second lookup).  The seal's wait
 * for a REPAIR has what is left of the create's bound; a put whose seal
 * gives up aborts the object (if a REPAIR holds that up too, it stays
 * unsealed and held by this handle until its close). */
static int shoal__put(struct shoal_store *s, struct shoal__new_obj *o,
		      const void *data, int timeout_ms)
{
	int rc;

	if ((o->data_size && !data) || !s)
		return -EINVAL;
	rc = shoal__create_checked(s, o, o->meta, timeout_ms);
	if (rc)
		return rc;
	if (o->data_size)
		memcpy(s->map.base + o->off.v, data, o->data_size);
	rc = shoal__seal_entry(s, &s->dir[o->idx], o->gen, &o->lock_by);
	if (rc == -ETIMEDOUT) {
		shoal__lock(s);
		shoal__abort_locked(s, o->idx, o->gen, &o->lock_by);
		shoal__unlock(s);
	}
	return rc;
}

SHOAL_API int shoal_put_with_id(struct shoal_store *store, shoal_id id,
				const void *data, size_t size,
				const void *meta, size_t meta_size,
				int timeout_ms)
{
	struct shoal__new_obj o = {
		.id = id, .data_size = size, .meta_size = (uint32_t)meta_size,
		.meta = meta,
	};

	if (meta_size > UINT32_MAX)
		return -EINVAL;
	return shoal__put(store, &o, data, timeout_ms);
}

/*
 * ID counters: the segment hands out blocks of 2^16 counters from one
 * 64-bit header counter (id_blocks, never reset, never wrapping), and a
 * handle draws its IDs' `lo` from its current block, so an ID's counter
 * alone is unique for the segment's life, whatever happens to the process
 * slots (a slot's generation, which the owner field carries, wraps after
 * 2^20 processes).  The cursor is one word: a thread that takes the last
 * counter of a block (or finds none) reserves a new block and installs it
 * with a CAS; a block lost to a racing CAS is simply never used.
 */
#define SHOAL__ID_BLOCK_BITS 16
#define SHOAL__ID_BLOCK_MASK ((1ull << SHOAL__ID_BLOCK_BITS) - 1)

static uint64_t shoal__id_counter(struct shoal_store *s)
{
	uint64_t cur = atomic_load_explicit(&s->id_cursor, memory_order_relaxed);

	for (;;) {
		uint64_t next = cur + 1, n;

		if (cur == 0 || (next & SHOAL__ID_BLOCK_MASK) == 0) {
			n = atomic_fetch_add_explicit(&s->hdr->id_blocks, 1,
						      memory_order_relaxed) + 1;
			next = n << SHOAL__ID_BLOCK_BITS;
		}
		/* Relaxed: the cursor orders nothing but itself. */
		if (atomic_compare_exchange_weak_explicit(&s->id_cursor, &cur,
							  next,
							  memory_order_relaxed,
							  memory_order_relaxed))
			return next;
	}
}

SHOAL_API shoal_id shoal_id_next(struct shoal_store *store)
{
	uint32_t owner = (store->slot << 20) | (store->slot_gen & 0xfffff);

	return shoal_id_derive(0, owner, shoal__id_counter(store), 0);
}

SHOAL_API int shoal_put(struct shoal_store *store, const void *data,
			size_t size, int timeout_ms, shoal_id *out)
{
	struct shoal__new_obj o = {.data_size = size, .fresh = true};
	int rc;

	if (!store || !out)
		return -EINVAL;
	o.id = shoal_id_next(store);
	rc = shoal__put(store, &o, data, timeout_ms);
	if (!rc)
		*out = o.id;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Get, release, contains.                                             */

/* The bytes of a pinned entry: in its own data_off word when inline (the
 * pin keeps the entry), else its block; NULL if its description does not
 * lie in the arena (another process may have written anything). */
static uint8_t *shoal__entry_bytes(struct shoal_store *s, uint32_t idx,
				   const struct shoal__desc *d)
{
	const struct shoal__heap_view *h = &s->heap;
	uint8_t *p;

	if (d->flags & SHOAL__SIZE_INLINE)
		return d->size <= SHOAL__INLINE_MAX && !d->meta_size
			       ? (uint8_t *)&s->dir[idx].data_off : NULL;
	if (d->off < h->arena_off || d->size > h->arena_size ||
	    d->meta_size > h->arena_size - d->size)
		return NULL;
	p = shoal__ptr(&s->map, SHOAL__OFF(d->off), d->size + d->meta_size);
	if (!p || d->off + d->size + d->meta_size > h->arena_off + h->arena_size)
		return NULL;
	return p;
}

/* Fills a view of a pinned entry; SHOAL_EBADSEGMENT for a description
 * that does not lie in the arena. */
static int shoal__view_fill(struct shoal_store *s, uint32_t idx, uint32_t gen,
			    shoal_id id, struct shoal_view *v)
{
	struct shoal__desc d = shoal__entry_desc(&s->dir[idx]);
	uint8_t *p = shoal__entry_bytes(s, idx, &d);

	if (!p)
		return SHOAL_EBADSEGMENT;
	v->data = p;
	v->size = d.size;
	v->meta = d.meta_size ? p + d.size : NULL;
	v->meta_size = d.meta_size;
	v->id = id;
	v->err = 0;
	v->entry_ = idx;
	v->gen_ = gen;
	return 0;
}

/* A pin this call took and does not hand out goes again.  If a REPAIR
 * outlasts `by` it stays, whole (entry and ledger agree), until the
 * handle's close gives it back. */
static void shoal__unpin(struct shoal_store *s, uint32_t idx, uint32_t gen,
			 struct shoal__later *by)
{
	struct shoal__ref u = {.idx = idx, .gen = gen, .dpins = -1,
			       .acquire = false};

	if (!shoal__ref_change(s, &u, by))
		shoal__finish_release(s, &u);
}

/* An error object's bytes: its code (int32_t, one of ours), then the
 * message.  Anything else reads as a failed task. */
static int shoal__error_code(const struct shoal_view *v)
{
	int32_t code = SHOAL_ETASK;

	if (v->size >= sizeof code)
		memcpy(&code, v->data, sizeof code);
	return code <= -4000 && code > -4100 ? code : SHOAL_ETASK;
}

/* Pins id's sealed entry into v, whatever it holds: 0, -EAGAIN (not
 * there yet), or a final error (-ETIMEDOUT: a REPAIR on it outlasted
 * `by`). */
static int shoal__pin_view(struct shoal_store *s, shoal_id id,
			   struct shoal_view *v, struct shoal__later *by)
{
	for (;;) {
		uint64_t c;
		int idx = shoal__dir_lookup(s, id, &c);
		struct shoal__ref r;
		int rc;

		if (idx < 0 || SHOAL__CTL_STATE(c) == SHOAL__E_CREATED)
			return -EAGAIN;
		r = (struct shoal__ref){.idx = (uint32_t)idx, .gen = SHOAL__CTL_GEN(c),
					.dpins = 1, .acquire = true};
		rc = shoal__ref_change(s, &r, by);
		if (rc == -ESTALE)
			continue; /* the entry was reused under us */
		if (rc == SHOAL_ENOTSEALED)
			return -EAGAIN;
		if (rc)
			return rc;
		rc = shoal__view_fill(s, (uint32_t)idx, r.gen, id, v);
		if (rc) /* a corrupt entry: do not leave it pinned */
			shoal__unpin(s, r.idx, r.gen, by);
		return rc;
	}
}

/* One attempt: 0 (pinned), -EAGAIN (not there yet), or a final error
 * (an error object's code among them). */
static int shoal__try_get(struct shoal_store *s, shoal_id id,
			  struct shoal_view *v, struct shoal__later *by)
{
	int rc = shoal__pin_view(s, id, v, by);

	if (rc)
		return rc;
	if (shoal__entry_desc(&s->dir[v->entry_]).flags & SHOAL__SIZE_ERROR) {
		rc = shoal__error_code(v);
		shoal__unpin(s, v->entry_, v->gen_, by);
		return rc;
	}
	shoal__touch(s, &s->dir[v->entry_]);
	return 0;
}

struct shoal__get_req {
	const shoal_id *ids;
	struct shoal_view *views;
	size_t n;
	size_t pending;
	struct shoal__later *by; /* a pin's wait for a REPAIR (deadline.h) */
};

/* Tries every ID still pending; -EAGAIN while any is. */
static int shoal__try_get_many(struct shoal_store *s, void *arg)
{
	struct shoal__get_req *r = arg;

	for (size_t i = 0; i < r->n; i++) {
		if (r->views[i].err != -EAGAIN)
			continue;
		r->views[i].err = shoal__try_get(s, r->ids[i], &r->views[i],
						 r->by);
		if (r->views[i].err != -EAGAIN)
			r->pending--;
	}
	return r->pending ? -EAGAIN : 0;
}

static int shoal__get_wait(struct shoal_store *s, struct shoal__get_req *r,
			   int timeout_ms)
{
	int rc = shoal__attempt(s, shoal__try_get_many, r);

	if (rc == -EAGAIN && timeout_ms != 0)
		rc = shoal__wait_for(s, &s->hdr->obj,
				     shoal__deadline_in(timeout_ms),
				     shoal__try_get_many, r);
	return rc;
}

static struct shoal__deadline shoal__slice_of(struct shoal__deadline d)
{
	struct shoal__deadline slice = shoal__deadline_in(SHOAL__WAIT_SLICE_MS);

	return slice.ns < d.ns ? slice : d;
}

/* One slice of waiting for id: on its entry's waiter stack while it is
 * unsealed (a targeted wake-up), else on the object event. */
static int shoal__get_one_slice(struct shoal_store *s, shoal_id id,
				struct shoal__deadline slice,
				struct shoal__get_req *r)
{
	uint64_t c;
	int idx = shoal__dir_lookup(s, id, &c);
	int rc = -EAGAIN;

	if (idx >= 0 && SHOAL__CTL_STATE(c) == SHOAL__E_CREATED)
	{
		shoal__blocking(s, true);
		rc = shoal__waiters_wait(s, (uint32_t)idx, c, slice);
		shoal__blocking(s, false);
	}
	if (rc == -ETIMEDOUT) {
		shoal__lock(s);
		shoal__proc_reap_all(s);
		shoal__unlock(s);
	}
	if (rc != -EAGAIN)
		return rc;
	return shoal__wait_for(s, &s->hdr->obj, slice,
			       shoal__try_get_many, r);
}

/* Waits for one object: 0 (pinned into v), an error, or -ETIMEDOUT. */
static int shoal__get_one_wait(struct shoal_store *s, shoal_id id,
			       struct shoal__deadline d, struct shoal__later *by,
			       struct shoal_view *v)
{
	struct shoal__get_req r = {&id, v, 1, 1, by};

	for (;;) {
		int rc;

		v->err = -EAGAIN;
		r.pending = 1;
		if (shoal__attempt(s, shoal__try_get_many, &r) != -EAGAIN)
			return v->err;
		if (shoal__deadline_passed(d))
			return -ETIMEDOUT;
		rc = shoal__get_one_slice(s, id, shoal__slice_of(d), &r);
		if (rc == 0 && r.pending == 0)
			return v->err;
	}
}

SHOAL_API int shoal_get(struct shoal_store *store, shoal_id id,
			int timeout_ms, struct shoal_view *out)
{
	struct shoal__later by = shoal__lock_by(timeout_ms);
	int rc;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof *out);
	if (!store || shoal_id_is_nil(id))
		return -EINVAL;
	shoal__lock(store);
	rc = shoal__try_get(store, id, out, &by);
	shoal__unlock(store);
	if (rc == -EAGAIN && timeout_ms != 0)
		rc = shoal__get_one_wait(store, id, shoal__deadline_in(timeout_ms),
					 &by, out);
	if (rc == -EAGAIN)
		rc = -ETIMEDOUT;
	if (rc)
		memset(out, 0, sizeof *out);
	out->err = rc;
	return rc;
}

SHOAL_API int shoal_get_many(struct shoal_store *store, const shoal_id *ids,
			     size_t n, int timeout_ms, struct shoal_view *views)
{
	struct shoal__later by = shoal__lock_by(timeout_ms);
	struct shoal__get_req r = {ids, views, n, n, &by};
	int pinned = 0;

	if (!store || (n && (!ids || !views)) || n > INT32_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		memset(&views[i], 0, sizeof views[i]);
		views[i].err = shoal_id_is_nil(ids[i]) ? -EINVAL : -EAGAIN;
		r.pending -= views[i].err != -EAGAIN;
	}
	shoal__get_wait(store, &r, timeout_ms);
	for (size_t i = 0; i < n; i++) {
		if (views[i].err == -EAGAIN)
			views[i].err = -ETIMEDOUT;
		if (views[i].err) {
			int err = views[i].err;
			memset(&views[i], 0, sizeof views[i]);
			views[i].err = err;
		}
		pinned += views[i].err == 0;
	}
	return pinned;
}

SHOAL_API int shoal_release(struct shoal_store *store, struct shoal_view *view)
{
	struct shoal__later by = shoal__lock_by(0);
	struct shoal__ref r;
	int rc;

	if (!store || !view || !view->data || view->entry_ > store->dir_mask)
		return -EINVAL;
	r = (struct shoal__ref){.idx = view->entry_, .gen = view->gen_,
				.dpins = -1, .acquire = false};
	shoal__lock(store);
	rc = shoal__ref_change(store, &r, &by);
	if (!rc)
		shoal__finish_release(store, &r);
	shoal__unlock(store);
	if (rc)
		return rc == -ENOENT || rc == -ESTALE ? -EINVAL : rc;
	memset(view, 0, sizeof *view);
	return 0;
}

SHOAL_API int shoal_error_message(struct shoal_store *store, shoal_id id,
				  char *buf, size_t cap)
{
	struct shoal__later by = shoal__lock_by(0);
	struct shoal_view v;
	size_t len, n;
	int rc;

	if (!store || (cap && !buf) || shoal_id_is_nil(id))
		return -EINVAL;
	shoal__lock(store);
	rc = shoal__pin_view(store, id, &v, &by);
	shoal__unlock(store);
	if (rc == -EAGAIN && shoal__dir_lookup(store, id, &(uint64_t){0}) < 0)
		return -ENOENT;
	if (rc)
		return rc;
	len = v.size > sizeof(int32_t) ? v.size - sizeof(int32_t) : 0;
	rc = (shoal__entry_desc(&store->dir[v.entry_]).flags & SHOAL__SIZE_ERROR)
		     ? (int)(len > INT32_MAX ? INT32_MAX : len)
		     : -ENOMSG;
	if (rc >= 0 && cap) {
		n = len < cap - 1 ? len : cap - 1;
		memcpy(buf, (const char *)v.data + sizeof(int32_t), n);
		buf[n] = '\0';
	}
	shoal_release(store, &v);
	return rc;
}

struct shoal__wait_req {
	const shoal_id *ids;
	size_t n;
	size_t need;
	uint8_t *ready;
	size_t count;
};

/* Ready: sealed (an error included) or gone; not: absent or unsealed. */
static bool shoal__is_ready(struct shoal_store *s, shoal_id id)
{
	uint64_t c;

	return shoal__dir_lookup(s, id, &c) >= 0 &&
	       SHOAL__CTL_STATE(c) != SHOAL__E_CREATED;
}

/* No unsealed entry for id: sealed, a tombstone, or gone altogether (a
 * transient result freed and its tombstone reused). */
bool shoal__obj_settled(struct shoal_store *s, shoal_id id)
{
	uint64_t c;

	return shoal__dir_lookup(s, id, &c) < 0 ||
	       SHOAL__CTL_STATE(c) != SHOAL__E_CREATED;
}

static int shoal__try_wait(struct shoal_store *s, void *arg)
{
	struct shoal__wait_req *r = arg;

	r->count = 0;
	for (size_t i = 0; i < r->n; i++) {
		if (!r->ready[i])
			r->ready[i] = shoal__is_ready(s, r->ids[i]);
		r->count += r->ready[i];
	}
	return r->count >= r->need ? 0 : -EAGAIN;
}

SHOAL_API int shoal_wait(struct shoal_store *store, const shoal_id *ids,
			 size_t n, size_t num_ready, int timeout_ms,
			 uint8_t *ready)
{
	struct shoal__wait_req r = {ids, n, num_ready, ready, 0};
	int rc;

	if (!store || (n && (!ids || !ready)) || num_ready > n || n > INT32_MAX)
		return -EINVAL;
	if (n) /* ready may be NULL then: memset(NULL, 0, 0) is undefined */
		memset(ready, 0, n);
	rc = shoal__try_wait(store, &r);
	if (rc == -EAGAIN && timeout_ms != 0)
		shoal__wait_for(store, &store->hdr->obj,
				shoal__deadline_in(timeout_ms), shoal__try_wait, &r);
	return (int)r.count;
}

SHOAL_API int shoal_contains(struct shoal_store *store, shoal_id id)
{
	uint64_t c;
	int idx = shoal__find(store, id, &c);

	if (idx == -EINVAL)
		return idx;
	return idx >= 0 && SHOAL__CTL_STATE(c) == SHOAL__E_SEALED &&
	       !(c & SHOAL__CTL_DELETING);
}

/* ------------------------------------------------------------------ */
/* Hold, drop, delete.                                                 */

/* Adds dholds (+1: hold, -1: drop) to this process's holds on id. */
/* Before a drop of a hold on our own unsealed object: once its holds are
 * gone no ledger names it, so our reaper must look for it in the
 * directory (proc.c).  Counted before the drop: a death in between costs
 * a scan, never an orphan. */
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
 * outlasts `by`. */
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
		} else if (atomic_compare_exchange_weak_explicit(
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
	int idx = shoal__find(store, id, &c);
	int rc;

	if (idx < 0)
		return idx;
	shoal__lock(store);
	rc = shoal__delete_locked(store, (uint32_t)idx, SHOAL__CTL_GEN(c), &by);
	shoal__unlock(store);
	return rc;
}

/* ------------------------------------------------------------------ */
/* List and stats.                                                     */

static bool shoal__info_of(struct shoal_store *s, uint32_t i,
			   struct shoal_object_info *out)
{
	const struct shoal__entry *e = &s->dir[i];
	struct shoal__desc d;
	shoal_id id;
	uint64_t c, again;
	unsigned st;

	do { /* A1, as for the ID: the entry may be reused meanwhile */
		c = shoal__dir_read_id(e, &id);
		d = shoal__entry_desc(e);
		atomic_thread_fence(memory_order_acquire);
		again = atomic_load_explicit(&e->ctl, memory_order_relaxed);
	} while (SHOAL__CTL_STATE(c) != SHOAL__CTL_STATE(again) ||
		 SHOAL__CTL_GEN(c) != SHOAL__CTL_GEN(again));
	st = SHOAL__CTL_STATE(c);
	if (st != SHOAL__E_CREATED && st != SHOAL__E_SEALED)
		return false;
	*out = (struct shoal_object_info){
		.id = id,
		.data_size = d.size,
		.meta_size = d.meta_size,
		.state = (c & SHOAL__CTL_DELETING) ? SHOAL_OBJECT_DELETING
			 : st == SHOAL__E_SEALED   ? SHOAL_OBJECT_SEALED
						   : SHOAL_OBJECT_CREATED,
		.pins = st == SHOAL__E_SEALED ? SHOAL__CTL_PINS(c) : 0,
		.holds = SHOAL__CTL_HOLDS(c),
		.creator_pid = d.pid,
	};
	return true;
}

SHOAL_API int shoal_list(struct shoal_store *store,
			 struct shoal_object_info *out, size_t cap)
{
	struct shoal_object_info info;
	size_t n = 0;

	if (!store || (cap && !out))
		return -EINVAL;
	for (uint32_t i = 0; i <= store->dir_mask; i++) {
		if (!shoal__info_of(store, i, &info))
			continue;
		if (n < cap)
			out[n] = info;
		n++;
	}
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

static uint32_t shoal__live_procs(struct shoal_store *s)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < s->geo.max_procs; i++)
		n += SHOAL__PROC_PHASE(atomic_load_explicit(
			     &s->procs[i].state, memory_order_relaxed)) ==
		     SHOAL__PROC_LIVE;
	return n;
}

SHOAL_API int shoal_store_stats(struct shoal_store *store,
				struct shoal_store_stats *out)
{
	struct shoal__seg_hdr *h;
	int64_t objects, bytes;

	if (!store || !out)
		return -EINVAL;
	h = store->hdr;
	shoal__store_totals(store, &objects, &bytes);
	*out = (struct shoal_store_stats){
		.capacity = h->capacity,
		.bytes_used = bytes > 0 ? (uint64_t)bytes : 0,
		.objects = objects > 0 ? (uint64_t)objects : 0,
		.max_objects = h->max_objects,
		.evictions = atomic_load_explicit(&h->evictions, memory_order_relaxed),
		.evicted_bytes = atomic_load_explicit(&h->evicted_bytes,
						      memory_order_relaxed),
		.heap_bytes_reserved = shoal__heap_reserved(&store->heap),
		.processes = shoal__live_procs(store),
		.max_procs = h->max_procs,
		.reaped = atomic_load_explicit(&h->reaped, memory_order_relaxed),
	};
	return 0;
}
