/* SPDX-License-Identifier: MIT */
/*
 * store/object/create.c - create, seal, abort and put: an entry goes
 * from claimed to published (creator holds it from the start) to sealed
 * or aborted, each step crash-safe by its intent record (object_int.h).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "object_int.h"

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
	/* Relaxed, hwm too (layout.h): each slot's share is exact; the sum
	 * is a snapshot. */
	uint32_t hwm = atomic_load_explicit(&s->hdr->procs_hwm,
					    memory_order_relaxed);
	int64_t o = 0, b = 0;

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
	/* Relaxed: layout.h says why (procs_hwm). */
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
	/* Relaxed: our own slot's word. */
	int32_t pid = SHOAL__PROC_PID(atomic_load_explicit(&s->me->state,
							   memory_order_relaxed));

	/* Relaxed: the publishing store of ctl (ENT-R2) orders them. */
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
 * published).  ENT-R2 (release): publishes the entry's fields with its
 * new state. */
static int shoal__publish_word(struct shoal_store *s, uint32_t idx, uint64_t c,
			       uint64_t n, struct shoal__later *by)
{
	struct shoal__entry *e = &s->dir[idx];
	int rc = 0;

	while (!rc && !atomic_compare_exchange_strong_explicit( /* ENT-R2 */
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
	/* Relaxed: a CREATE intent is read by our reaper, after our death. */
	atomic_store_explicit(&in->entry, o->idx, memory_order_relaxed);
	in->gen = gen;
	SHOAL__CRASH(s, CREATE_RESERVED);
	rc = shoal__ledger_add(s, o->idx, 0, 1);
	if (rc)
		return rc; /* the slot stays FREE */
	SHOAL__CRASH(s, CREATE_HELD);
	/* Relaxed: the slot's own counters (layout.h). */
	in->objects = atomic_load_explicit(&s->me->objects, memory_order_relaxed);
	in->bytes = atomic_load_explicit(&s->me->bytes, memory_order_relaxed);
	in->stage = 1;
	shoal__entry_fill(s, &s->dir[o->idx], o);
	SHOAL__CRASH(s, CREATE_FILLED);
	rc = shoal__publish_word(s, o->idx, c,
				 SHOAL__CTL_MAKE(SHOAL__E_CREATED, 0, 1, gen),
				 &o->lock_by);
	if (rc) {
		shoal__ledger_add(s, o->idx, 0, -1);
		return rc;
	}
	SHOAL__CRASH(s, CREATE_PUBLISHED);
	/* The slot's counters, from the intent (a reaper redoes this;
	 * relaxed, layout.h). */
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
	/* A waiter for an ID that was absent may wait on the object event
	 * (get.c): woken here, it moves to the entry.  A fresh ID
	 * (shoal_id_next) is known to nobody before this create returns, so
	 * nobody waits for it; one that guessed it is woken by the seal,
	 * which signals the event too.  The signal's fence would wait for
	 * every store this create made to leave the store buffer. */
	if (!rc && !o->fresh)
		shoal__event_signal(&s->hdr->obj);
	if (!rc || rc == -ENOSPC) /* full: the next IDs go elsewhere */
		shoal__dir_win_note(s, o->id, rc ? SHOAL__PROBE_MAX
					     : (o->idx - home) & s->dir_mask);
	o->lock_failed = rc == -ETIMEDOUT;
	return rc;
}

static void shoal__intent_create(struct shoal_store *s)
{
	struct shoal__intent *in = &s->me->intent;

	in->stage = 0;
	/* Relaxed: read by our reaper, after our death. */
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
	/* A recount we owe is paid before our intent names another op. */
	int rc = shoal__ref_settle(s, &o->lock_by);

	if (rc)
		return rc;
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
	atomic_store_explicit(&in->op, SHOAL__OP_NONE, memory_order_release); /* REF-R2 */
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

	if (shoal__ro(store))
		return SHOAL_EREADONLY;
	if (!data || meta_size > UINT32_MAX)
		return -EINVAL;
	rc = shoal__create_checked(store, &o, meta, timeout_ms);
	if (!rc)
		*data = store->map.base + o.off.v;
	return rc;
}

/* The unsealed entry this process created, for seal/abort. */
static int shoal__find_own_created(struct shoal_store *s, shoal_id id,
				   uint64_t *c)
{
	int idx = shoal__ro(s) ? SHOAL_EREADONLY : shoal__find(s, id, c);

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
	/* A recount we owe is paid before our intent names another op. */
	int rc = shoal__ref_settle(s, by);

	if (rc)
		return rc;
	in->gen = gen;
	/* Relaxed: a SEAL intent is read by our reaper, after our death. */
	atomic_store_explicit(&in->entry, idx, memory_order_relaxed);
	atomic_store_explicit(&in->op, SHOAL__OP_SEAL, memory_order_relaxed);
	do {
		rc = shoal__obj_wait_settled(s, e, true, by, &c);
		if (!rc && (SHOAL__CTL_STATE(c) != SHOAL__E_CREATED ||
			    SHOAL__CTL_GEN(c) != gen))
			rc = -ENOENT;
		if (rc) {
			atomic_store_explicit(&in->op, SHOAL__OP_NONE,
					      memory_order_release); /* REF-R2 */
			return rc;
		}
		/* ENT-R2 (the bytes, seal_entry) and WT-S2 (sealed before
		 * the stack is closed); relaxed on failure: the loop waits
		 * for the word again. */
	} while (!atomic_compare_exchange_weak_explicit(
		&e->ctl, &c, (c & ~SHOAL__CTL_STATE_MASK) | SHOAL__E_SEALED,
		memory_order_seq_cst, memory_order_relaxed));
	SHOAL__CRASH(s, SEAL_SEALED);
	shoal__waiters_close_sealed(s, e);
	atomic_store_explicit(&in->op, SHOAL__OP_NONE, memory_order_release); /* REF-R2 */
	return 0;
}

/* Only the creator seals, but a repairing reaper may hold the word for a
 * moment: wait it out, up to `by`.  ENT-R2 again: the release publishes
 * the bytes the creator wrote. */
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

	rc = shoal__ref_settle(s, by);
	if (rc)
		return rc;
	if (mine && shoal__ledger_check(s, idx, 0, -1, &pos))
		mine = 0;
	for (;;) {
		shoal__intent_ref(s, idx, 0, -(int32_t)mine);
		SHOAL__CRASH(s, ABORT_INTENT);
		rc = shoal__obj_abort_entry(s, idx, gen, mine, false);
		if (rc != -EAGAIN)
			break;
		shoal__intent_done(s);
		rc = shoal__obj_wait_settled(s, &s->dir[idx], true, by,
					     &(uint64_t){0});
		if (!rc)
			rc = shoal__ref_settle(s, by);
		if (rc)
			return rc;
	}
	SHOAL__CRASH(s, ABORT_ENDED);
	if (mine && rc == 0) /* (sealed meanwhile: the hold stays its) */
		shoal__ledger_commit(s, &pos);
	SHOAL__CRASH(s, ABORT_LEDGER);
	shoal__intent_done(s);
	shoal__ref_settle(s, by); /* else paid before our next change */
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

	if (shoal__ro(store))
		return SHOAL_EREADONLY;
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
 * with a CAS; a block lost to a racing CAS is simply never used.  lo's
 * top SHOAL__WIN_BITS bits carry the ID's walk window class (store/dir.c),
 * not the counter: 2^42 blocks outlast any segment.
 */
#define SHOAL__ID_BLOCK_BITS 16
#define SHOAL__ID_BLOCK_MASK ((1ull << SHOAL__ID_BLOCK_BITS) - 1)

static uint64_t shoal__id_counter(struct shoal_store *s)
{
	/* Relaxed, as the CAS below. */
	uint64_t cur = atomic_load_explicit(&s->id_cursor, memory_order_relaxed);

	for (;;) {
		uint64_t next = cur + 1, n;

		if (cur == 0 || (next & SHOAL__ID_BLOCK_MASK) == 0) {
			/* Relaxed: its atomicity alone makes the block ours
			 * (layout.h). */
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
	uint32_t owner, win;

	if (shoal__ro(store)) /* no slot, no block: the nil ID */
		return (shoal_id){0, 0};
	owner = (store->slot << 20) | (store->slot_gen & 0xfffff);
	/* Relaxed: a hint (store/internal.h). */
	win = atomic_load_explicit(&store->id_win, memory_order_relaxed);
	return shoal_id_derive(0, owner,
			       shoal__id_counter(store) |
				       (uint64_t)win << SHOAL__WIN_SHIFT,
			       0);
}

SHOAL_API int shoal_put(struct shoal_store *store, const void *data,
			size_t size, int timeout_ms, shoal_id *out)
{
	struct shoal__new_obj o = {.data_size = size, .fresh = true};
	int rc;

	if (!store || !out)
		return -EINVAL;
	if (store->readonly)
		return SHOAL_EREADONLY;
	o.id = shoal_id_next(store);
	rc = shoal__put(store, &o, data, timeout_ms);
	if (!rc)
		*out = o.id;
	return rc;
}

