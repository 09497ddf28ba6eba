/* SPDX-License-Identifier: MIT */
/*
 * runtime/task/objq_admin.c - making, finding and deleting object queues
 * (shoal/queue.h), their handles in arguments, and the fork server's
 * adoption of a dead putter's objects (objq.c says how a put and a get
 * go, qlayout.h the layout).
 *
 * Names.  A create or a delete takes the region's name lock (rtlayout.h:
 * a word naming its holder, taken over by CAS from a gone holder), so
 * that a name is unique: the create looks for the name and publishes its
 * slot LIVE under it.  Lookups take no lock: they read a LIVE slot's name
 * and check the state again after.
 *
 * A create, step by step: the lock; a FREE slot CAS to BUILDING(gen + 1,
 * me); name and capacity written; release store of LIVE (OQ-R3); the lock
 * given back.  Dead while BUILDING: the next create (under the lock)
 * finds BUILDING of a gone owner and takes the slot over; the lock of a
 * gone holder is taken over the same way.
 *
 * A delete: the lock; CAS LIVE -> DELETING(gen, me) (seq_cst, OQ-S2),
 * both events signalled (waiters see the queue gone); then the cells are
 * walked from head: a FULL cell is taken (TAKING, then FREE of the next
 * round) without a hold (its custodian drops its own when it sees its
 * position gone), a claim under way is waited for (a live owner's: a few
 * instructions; bounded) or undone (a gone owner's); the name cleared,
 * release store of FREE(gen) (OQ-R3 for the next create).  Dead while
 * DELETING: the slot stays DELETING, which puts and gets refuse; the next
 * create that meets it with its owner gone finishes the walk first.
 *
 * Adoption (the fork server, at each watch and before it reaps a child):
 * every FULL cell whose custodian is gone is held by the fork server
 * (shoal_hold, in its ledger), then its custodian CAS to the fork
 * server's; a CAS that fails (the cell moved on) drops that hold again.
 * The fork server's books let go of them like any putter's.
 *
 * Adoption before any reap: the reap guard (store/guard.c).  A dead
 * putter may be reaped by any process of the store (at its attach, at a
 * wait's timeout, a stripe lock's dead holder), which gives back every
 * hold in its ledger, so the adoption must come first, whoever reaps.
 * Before its first put can claim a cell, a process names the fork server
 * the guardian of its slot (objq.c): once it is dead, every reaper,
 * the fork server included, leaves its slot alone until the fork server
 * lifted the guard.  The fork server, at each adoption: (1) marks the
 * dead slots it guards [crash point OQ_MARKED]; (2) adopts every cell of
 * a gone custodian [OQ_ADOPTING: an object held, the custodian not
 * changed yet]; (3) if nothing is to be tried again (a hold refused for
 * a reason of its own: its ledger full, a recount), lifts the guards it
 * marked [OQ_LIFTED], else leaves them for the next watch; (4) reaps.  A
 * putter that dies after (1) is not marked, so waits for the next round.
 * Why not (b), every reaper adopting into its own ledger: a reaper may
 * link the store alone (no queues to scan), it reaps under its store
 * lock (a hold would nest in it), and its books would keep the adopted
 * holds until its own next queue call (an object got and dropped would
 * stay unevictable meanwhile); the fork server collects at each watch.
 *
 * A SIGKILL, step by step.  The putter, around its guard's store: no put
 * claimed a cell yet; its slot waits for a fork server with nothing to
 * adopt.  The fork server, anywhere: it is gone, which voids every guard
 * naming it (the runtime ended: SHOAL_EFORKSERVERDIED); each dead slot is
 * then reaped as any, its holds (the putter's, the fork server's taken in
 * (2)) each given back once by its own reaper; a queued object is still
 * got unless an eviction came first.  A reaper never writes a guard.
 * Bounds: a reaper never waits for a guard; a dead guarded slot stays up
 * to one watch (SHOAL__FS_WATCH_MS) unreaped, or as long as a live fork
 * server is stopped (its holds and pins; a stripe lock it held costs a
 * create its bound, store/dir.c).  A dead slot whose objects it cannot hold
 * (its ledger full) stays unreaped while that lasts.
 *
 * Detach.  A detaching process CASes its queued cells' custodian to
 * ORPHAN, which the fork server adopts the same way, and keeps its holds
 * until it did, polling, at most SHOAL__LOCK_MIN_MS (shoal__oq_hand_over:
 * four watches; the runtime's end stops it too).  Limit: a fork server
 * that runs no watch for that long (stopped) has a detaching putter's
 * objects let go unheld: a close cannot wait on a live peer without a
 * bound.  A putter killed while it waits is a dead guarded slot (above).
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include <shoal/error.h>
#include <shoal/queue.h>
#include <shoal/runtime.h>
#include <shoal/store.h>

#include "ext.h"
#include "task_int.h"

struct shoal__oq_hdr *shoal__oq_slot(const struct shoal__rt_view *v, uint32_t i)
{
	return (struct shoal__oq_hdr *)(v->oq + (uint64_t)i * v->oq_slot_bytes);
}

struct shoal__oq_cell *shoal__oq_cells(const struct shoal__rt_view *v, uint32_t i)
{
	return (struct shoal__oq_cell *)((uint8_t *)shoal__oq_slot(v, i) +
					 sizeof(struct shoal__oq_hdr));
}

/* A view of slot i as queue generation gen (capacity checked). */
static int shoal__oq_view(const struct shoal__rt_view *v, uint32_t i, uint32_t gen,
			  struct shoal__oq *o)
{
	struct shoal__oq_hdr *h = shoal__oq_slot(v, i);
	uint32_t cap = h->capacity;

	if (cap == 0 || cap > v->queue_cells)
		return SHOAL_EBADSEGMENT;
	*o = (struct shoal__oq){.h = h, .c = shoal__oq_cells(v, i), .index = i,
				.gen = gen, .cap = cap, .mask = v->queue_cells - 1};
	return 0;
}

int shoal__oq_resolve(struct shoal_runtime *rt, const struct shoal_queue *q,
		      struct shoal__oq *o)
{
	uint64_t st;
	int rc;

	if (!rt || !q)
		return -EINVAL;
	if (shoal__rt_ro(rt))
		return SHOAL_EREADONLY;
	if (q->magic != SHOAL_QUEUE_MAGIC || !q->generation ||
	    q->index >= rt->v.max_queues)
		return -ENOENT;
	/* OQ-A3: the name and capacity the creator wrote. */
	st = atomic_load_explicit(&shoal__oq_slot(&rt->v, q->index)->state,
				  memory_order_acquire);
	if (SHOAL__OQ_STAMP(st) != q->generation ||
	    SHOAL__OQ_KIND(st) != SHOAL__OQS_LIVE)
		return -ENOENT;
	rc = shoal__oq_view(&rt->v, q->index, q->generation, o);
	if (rc)
		return rc;
	return o->cap == q->capacity ? 0 : -ENOENT;
}

/* ---------------------------------------------------------------- */
/* The name lock.                                                    */

static int shoal__oq_lock(struct shoal_runtime *rt)
{
	_Atomic uint32_t *l = &rt->v.hdr->oq_lock;
	uint32_t me = SHOAL__CREATOR24(shoal__store_creator(rt->store)) + 1;
	struct shoal__deadline d = shoal__deadline_in(SHOAL__LOCK_MIN_MS);

	for (;;) {
		uint32_t cur = 0;

		/* OQ-A4 */
		if (atomic_compare_exchange_weak_explicit(l, &cur, me,
							  memory_order_acquire,
							  memory_order_relaxed))
			return 0;
		/* OQ-A4: a gone holder's, taken over. */
		if (cur && shoal__creator24_gone(rt->store, cur - 1) &&
		    atomic_compare_exchange_strong_explicit(l, &cur, me,
							    memory_order_acquire,
							    memory_order_relaxed))
			return 0;
		if (shoal__deadline_passed(d))
			return -ETIMEDOUT;
		sched_yield();
	}
}

static void shoal__oq_unlock(struct shoal_runtime *rt)
{
	atomic_store_explicit(&rt->v.hdr->oq_lock, 0, memory_order_release); /* OQ-R4 */
}

/* ---------------------------------------------------------------- */
/* Delete: the walk, for a slot DELETING by me.                      */

/* One cell at head p: 1 to go on to p + 1, 0 when the walk is done (the
 * cell is FREE for p: nothing was put there), -EBUSY for a live party's
 * step under way. */
static int shoal__oq_let_go(struct shoal_store *s, const struct shoal__oq *o,
			    uint64_t p)
{
	_Atomic uint64_t *word = &o->c[p & o->mask].word;
	uint64_t w = atomic_load_explicit(word, memory_order_seq_cst); /* OQ-S2 */
	int32_t ahead = (int32_t)(SHOAL__OQ_STAMP(w) - (uint32_t)p);
	uint32_t kind = SHOAL__OQ_KIND(w);

	if (ahead > 0)
		return 1;
	if (ahead < 0 || kind == SHOAL__OQ_FREE)
		return 0;
	if (kind == SHOAL__OQ_FILLING || kind == SHOAL__OQ_TAKING) {
		if (!shoal__creator24_gone(s, SHOAL__OQ_OWNER(w)))
			return -EBUSY;
		/* A gone party's step undone, as objq.c does: OQ-R1 / OQ-A1. */
		atomic_compare_exchange_strong_explicit(
			word, &w,
			SHOAL__OQ_WORD(p, kind == SHOAL__OQ_FILLING ? SHOAL__OQ_FREE
								  : SHOAL__OQ_FULL,
				       0),
			memory_order_acq_rel, memory_order_relaxed);
		return -EBUSY;
	}
	/* FULL: taken without a hold (OQ-R2 for the next putter). */
	return atomic_compare_exchange_strong_explicit(
		       word, &w, SHOAL__OQ_WORD(p + o->mask + 1, SHOAL__OQ_FREE, 0),
		       memory_order_release, memory_order_relaxed)
		       ? 1
		       : -EBUSY; /* moved meanwhile: look again */
}

static int shoal__oq_walk(struct shoal_store *s, const struct shoal__oq *o)
{
	struct shoal__deadline d = shoal__deadline_in(SHOAL__LOCK_MIN_MS);
	uint64_t p = atomic_load_explicit(&o->h->head, memory_order_relaxed);

	for (;;) {
		int rc = shoal__oq_let_go(s, o, p);

		if (rc == 0)
			break;
		if (rc == 1) {
			p++;
			continue;
		}
		if (shoal__deadline_passed(d))
			return -ETIMEDOUT;
		sched_yield();
	}
	/* Relaxed: hints; a slot is reused only after OQ-R3. */
	atomic_store_explicit(&o->h->head, p, memory_order_relaxed);
	atomic_store_explicit(&o->h->tail, p, memory_order_relaxed);
	return 0;
}

/* Walks a slot that is DELETING by me and frees it (under the lock). */
static int shoal__oq_finish_delete(struct shoal_runtime *rt, uint32_t i,
				   uint32_t gen)
{
	struct shoal__oq o;
	int rc = shoal__oq_view(&rt->v, i, gen, &o);

	if (rc)
		return rc;
	shoal__event_signal(&o.h->not_full);
	shoal__event_signal(&o.h->not_empty);
	rc = shoal__oq_walk(rt->store, &o);
	if (rc)
		return rc;
	SHOAL__STORE_CRASH(rt->store, OQ_WALKED);
	memset(o.h->name, 0, sizeof o.h->name);
	atomic_store_explicit(&o.h->state, SHOAL__OQS_WORD(gen, SHOAL__OQS_FREE, 0),
			      memory_order_release); /* OQ-R3 */
	shoal__event_signal(&o.h->not_full);
	shoal__event_signal(&o.h->not_empty);
	return 0;
}

SHOAL_API int shoal_queue_delete(struct shoal_runtime *rt, const struct shoal_queue *q)
{
	uint32_t me24;
	struct shoal__oq o;
	uint64_t st;
	int rc = shoal__oq_resolve(rt, q, &o);

	if (rc && rc != -ENOENT)
		return rc;
	if (!rt || !q || q->index >= rt->v.max_queues)
		return -ENOENT;
	me24 = SHOAL__CREATOR24(shoal__store_creator(rt->store));
	rc = shoal__oq_lock(rt);
	if (rc)
		return rc;
	o.h = shoal__oq_slot(&rt->v, q->index);
	st = atomic_load_explicit(&o.h->state, memory_order_acquire); /* OQ-A3 */
	rc = -ENOENT;
	if (SHOAL__OQ_STAMP(st) == q->generation &&
	    (SHOAL__OQ_KIND(st) == SHOAL__OQS_LIVE ||
	     (SHOAL__OQ_KIND(st) == SHOAL__OQS_DELETING &&
	      (SHOAL__OQ_OWNER(st) == me24 ||
	       shoal__creator24_gone(rt->store, SHOAL__OQ_OWNER(st))))) &&
	    atomic_compare_exchange_strong_explicit(
		    &o.h->state, &st,
		    SHOAL__OQS_WORD(q->generation, SHOAL__OQS_DELETING, me24),
		    memory_order_seq_cst, memory_order_relaxed)) /* OQ-S2 */
		rc = shoal__oq_finish_delete(rt, q->index, q->generation);
	shoal__oq_unlock(rt);
	/* What this process held in it: let go now. */
	shoal__oq_books_collect(rt->store, &rt->v, &rt->oq, false);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Create, lookup, size.                                             */

static int shoal__oq_name_check(const char *name)
{
	size_t n;

	if (!name)
		return 0;
	n = strnlen(name, SHOAL_QUEUE_NAME_MAX + 1);
	return n == 0 || n > SHOAL_QUEUE_NAME_MAX ? -EINVAL : 0;
}

/* The LIVE slot named `name` and its generation, or -ENOENT. */
static int shoal__oq_find(const struct shoal__rt_view *v, const char *name,
			  uint32_t *index, uint32_t *gen)
{
	for (uint32_t i = 0; i < v->max_queues; i++) {
		struct shoal__oq_hdr *h = shoal__oq_slot(v, i);
		/* OQ-A3 */
		uint64_t st = atomic_load_explicit(&h->state, memory_order_acquire);
		char copy[sizeof h->name];

		if (SHOAL__OQ_KIND(st) != SHOAL__OQS_LIVE)
			continue;
		memcpy(copy, h->name, sizeof copy);
		copy[sizeof copy - 1] = 0;
		/* The state again (OQ-A3): the name was this queue's. */
		if (strcmp(copy, name) ||
		    atomic_load_explicit(&h->state, memory_order_acquire) != st)
			continue;
		*index = i;
		*gen = SHOAL__OQ_STAMP(st);
		return 0;
	}
	return -ENOENT;
}

/* A slot a create may take (under the lock): FREE, or BUILDING of a gone
 * creator; a DELETING slot of a gone deleter is finished first. */
static bool shoal__oq_takeable(struct shoal_runtime *rt, uint32_t i, uint64_t st)
{
	uint32_t kind = SHOAL__OQ_KIND(st);

	if (kind == SHOAL__OQS_FREE)
		return true;
	if (kind == SHOAL__OQS_LIVE ||
	    !shoal__creator24_gone(rt->store, SHOAL__OQ_OWNER(st)))
		return false;
	if (kind == SHOAL__OQS_BUILDING)
		return true;
	return shoal__oq_finish_delete(rt, i, SHOAL__OQ_STAMP(st)) == 0;
}

static int shoal__oq_build(struct shoal_runtime *rt, const char *name,
			   uint32_t capacity, struct shoal_queue *out)
{
	uint32_t me24 = SHOAL__CREATOR24(shoal__store_creator(rt->store));

	for (uint32_t i = 0; i < rt->v.max_queues; i++) {
		struct shoal__oq_hdr *h = shoal__oq_slot(&rt->v, i);
		uint64_t st = atomic_load_explicit(&h->state, memory_order_acquire); /* OQ-A3 */
		uint32_t gen = SHOAL__OQ_STAMP(st) + 1;

		if (!shoal__oq_takeable(rt, i, st))
			continue;
		st = atomic_load_explicit(&h->state, memory_order_acquire); /* OQ-A3 */
		gen = SHOAL__OQ_STAMP(st) + (SHOAL__OQ_KIND(st) == SHOAL__OQS_FREE);
		gen += gen == 0;
		/* Relaxed: the lock and OQ-R3 order what the slot holds. */
		if (!atomic_compare_exchange_strong_explicit(
			    &h->state, &st, SHOAL__OQS_WORD(gen, SHOAL__OQS_BUILDING, me24),
			    memory_order_relaxed, memory_order_relaxed))
			continue;
		SHOAL__STORE_CRASH(rt->store, OQ_BUILDING);
		memset(h->name, 0, sizeof h->name);
		if (name)
			memcpy(h->name, name, strlen(name));
		h->capacity = capacity;
		atomic_store_explicit(&h->state, SHOAL__OQS_WORD(gen, SHOAL__OQS_LIVE, 0),
				      memory_order_release); /* OQ-R3 */
		*out = (struct shoal_queue){.index = i, .generation = gen,
					    .capacity = capacity,
					    .magic = SHOAL_QUEUE_MAGIC};
		return 0;
	}
	return -ENOSPC;
}

SHOAL_API int shoal_queue_create(struct shoal_runtime *rt, const char *name,
				 uint32_t capacity, struct shoal_queue *out)
{
	uint32_t idx, gen;
	int rc;

	if (!rt || !out || shoal__oq_name_check(name) || capacity == 0 ||
	    capacity > rt->v.queue_cells)
		return -EINVAL;
	if (shoal__rt_ro(rt))
		return SHOAL_EREADONLY;
	rc = shoal__rt_ended(rt);
	if (rc)
		return rc;
	rc = shoal__oq_lock(rt);
	if (rc)
		return rc;
	if (name && shoal__oq_find(&rt->v, name, &idx, &gen) == 0)
		rc = -EEXIST;
	else
		rc = shoal__oq_build(rt, name, capacity, out);
	shoal__oq_unlock(rt);
	return rc;
}

SHOAL_API int shoal_queue_lookup(struct shoal_runtime *rt, const char *name,
				 struct shoal_queue *out)
{
	uint32_t idx, gen;
	int rc;

	if (!rt || !out || !name || shoal__oq_name_check(name))
		return -EINVAL;
	rc = shoal__oq_find(&rt->v, name, &idx, &gen);
	if (rc)
		return rc;
	*out = (struct shoal_queue){.index = idx, .generation = gen,
				    .capacity = shoal__oq_slot(&rt->v, idx)->capacity,
				    .magic = SHOAL_QUEUE_MAGIC};
	return 0;
}

SHOAL_API int shoal_queue_size(struct shoal_runtime *rt, const struct shoal_queue *q)
{
	struct shoal__oq o;
	uint64_t t, h;
	int rc = shoal__oq_resolve(rt, q, &o);

	if (rc)
		return rc;
	/* Relaxed: a snapshot of two hints.  A FULL cell at tail not yet
	 * counted (tail not advanced) is counted here. */
	h = atomic_load_explicit(&o.h->head, memory_order_relaxed);
	t = atomic_load_explicit(&o.h->tail, memory_order_relaxed);
	if (SHOAL__OQ_KIND(atomic_load_explicit(&o.c[t & o.mask].word,
						memory_order_relaxed)) == SHOAL__OQ_FULL)
		t++;
	return t <= h ? 0 : t - h > o.cap ? (int)o.cap : (int)(t - h);
}

/* ---------------------------------------------------------------- */
/* Handles in arguments.                                             */

SHOAL_API int shoal_args_queue(struct shoal_args *args, const struct shoal_queue *q)
{
	if (!q)
		return -EINVAL;
	return shoal_args_bytes(args, q, sizeof *q);
}

SHOAL_API int shoal_task_arg_queue(const struct shoal_task *task, uint32_t i,
				   struct shoal_queue *out)
{
	const void *data;
	size_t size;
	int rc = shoal_task_arg(task, i, &data, &size);

	if (rc)
		return rc;
	if (!out || size != sizeof *out)
		return -EINVAL;
	memcpy(out, data, sizeof *out);
	return out->magic == SHOAL_QUEUE_MAGIC && out->generation ? 0 : -EINVAL;
}

/* ---------------------------------------------------------------- */
/* Adoption by the fork server.                                      */

/* A cell of custodian `cust` is to be tried again: its slot keeps its
 * guard (an ORPHAN's slot is not known: every slot keeps it). */
static void shoal__oq_keep(uint64_t *keep, uint32_t cust)
{
	uint32_t slot = cust >> 20; /* SHOAL__CREATOR's slot */

	if (cust == SHOAL__OQ_ORPHAN || slot >= SHOAL__GUARD_KEEP_WORDS * 64)
		memset(keep, 0xff, SHOAL__GUARD_KEEP_WORDS * sizeof *keep);
	else
		keep[slot / 64] |= 1ull << (slot % 64);
}

/* Adopts the object at position p of queue q if its custodian is gone
 * (or ORPHAN): false only if it should be tried again (a hold that
 * failed for a reason of the fork server's own). */
static bool shoal__oq_adopt_cell(struct shoal_store *s, const struct shoal__rt_view *v,
				 struct shoal__oq_books *b, unsigned arena,
				 uint32_t q, struct shoal__oq_cell *c, uint64_t p,
				 uint64_t *keep)
{
	uint32_t me = shoal__store_creator(s);
	uint64_t w = atomic_load_explicit(&c->word, memory_order_acquire); /* OQ-A1 */
	uint32_t cust = atomic_load_explicit(&c->custodian, memory_order_relaxed);
	struct shoal__oq_held e = {.queue = q, .pos = p};
	int rc;

	if (w != SHOAL__OQ_WORD(p, SHOAL__OQ_FULL, 0) || cust == me ||
	    (cust != SHOAL__OQ_ORPHAN && !shoal__creator_gone(s, cust)))
		return true;
	e.id.hi = atomic_load_explicit(&c->hi, memory_order_relaxed); /* OQ-R1 */
	e.id.lo = atomic_load_explicit(&c->lo, memory_order_relaxed);
	if (shoal_id_is_nil(e.id))
		return true;
	rc = shoal_hold(s, e.id);
	if (rc && shoal__oq_hold_retry(rc)) { /* try again: keep its guard */
		shoal__oq_keep(keep, cust);
		return false;
	}
	if (rc) /* gone already: its getter will be told */
		return true;
	SHOAL__STORE_CRASH(s, OQ_ADOPTING);
	/* The cell still holds that put (a new put has a live custodian),
	 * relaxed: the word was acquired above. */
	if (atomic_load_explicit(&c->word, memory_order_relaxed) != w ||
	    !atomic_compare_exchange_strong_explicit(&c->custodian, &cust, me,
						     memory_order_relaxed,
						     memory_order_relaxed)) {
		shoal_drop(s, e.id);
		return true;
	}
	/* Out of memory for the record: the hold stays, never dropped (a
	 * leak while the fork server lives, not a loss). */
	(void)shoal__oq_books_add(s, v, b, arena, &e);
	return true;
}

/* Every FULL cell of a gone (or ORPHAN) custodian, adopted: false if one
 * is to be tried again, its custodian's slot then set in keep. */
static bool shoal__oq_adopt_all(struct shoal_store *s, const struct shoal__rt_view *v,
				struct shoal__oq_books *b, unsigned arena,
				uint64_t *keep)
{
	bool all = true;

	for (uint32_t q = 0; q < v->max_queues; q++) {
		struct shoal__oq_hdr *h = shoal__oq_slot(v, q);
		struct shoal__oq_cell *c = shoal__oq_cells(v, q);
		/* OQ-A3 */
		uint64_t st = atomic_load_explicit(&h->state, memory_order_acquire);
		/* Relaxed: hints; every FULL cell lies in [head, tail] (a put
		 * advances tail after its FULL), and each cell is checked by
		 * its own stamp. */
		uint64_t head = atomic_load_explicit(&h->head, memory_order_relaxed);
		uint64_t tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
		uint64_t n = tail >= head ? tail - head + 1 : 0;

		if (SHOAL__OQ_KIND(st) != SHOAL__OQS_LIVE)
			continue;
		if (n > v->queue_cells)
			n = v->queue_cells;
		for (uint64_t p = head; p < head + n; p++)
			all &= shoal__oq_adopt_cell(s, v, b, arena, q,
						    &c[p & (v->queue_cells - 1)], p,
						    keep);
	}
	return all;
}

/* The guard (store/guard.c): the slots of the dead putters that named
 * this process their guardian are marked first, so that a process that
 * dies during the scan is not let go unadopted; each is let go to its
 * reapers once the scan adopted all of its cells (a slot with a cell to
 * try again keeps its guard until a later watch: one such cell, say of a
 * full ledger, never holds the others back), and reaped at once. */
void shoal__oq_adopt(struct shoal_store *s, const struct shoal__rt_view *v,
		     struct shoal__oq_books *b, unsigned arena)
{
	uint64_t keep[SHOAL__GUARD_KEEP_WORDS] = {0};
	uint32_t marked = shoal__store_guard_mark(s);

	if (marked)
		SHOAL__STORE_CRASH(s, OQ_MARKED);
	(void)shoal__oq_adopt_all(s, v, b, arena, keep);
	if (marked && shoal__store_guard_lift(s, keep)) {
		SHOAL__STORE_CRASH(s, OQ_LIFTED);
		shoal_store_reap(s);
	}
	shoal__oq_books_collect(s, v, b, false);
}

/* ---------------------------------------------------------------- */
/* Detach: handing what this process holds for queues over.          */

static struct shoal__oq_cell *shoal__oq_held_cell(const struct shoal__rt_view *v,
						   const struct shoal__oq_held *e)
{
	return &shoal__oq_cells(v, e->queue)[e->pos & (v->queue_cells - 1)];
}

/* Puts of mine still queued whose custodian is still ORPHAN (relaxed:
 * hints, polled; the stamp as objq.c's books read it). */
static size_t shoal__oq_orphans(const struct shoal__rt_view *v,
				const struct shoal__oq_books *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++) {
		struct shoal__oq_cell *c = shoal__oq_held_cell(v, &b->a[i]);

		n += SHOAL__OQ_STAMP(atomic_load_explicit(&c->word, memory_order_relaxed)) ==
			     (uint32_t)b->a[i].pos &&
		     atomic_load_explicit(&c->custodian, memory_order_relaxed) ==
			     SHOAL__OQ_ORPHAN;
	}
	return n;
}

void shoal__oq_hand_over(struct shoal_runtime *rt)
{
	struct shoal__oq_books *b = &rt->oq;
	uint32_t me = shoal__store_creator(rt->store);
	struct shoal__deadline d = shoal__deadline_in(SHOAL__LOCK_MIN_MS);
	const struct timespec poll = {0, 5 * 1000 * 1000};

	pthread_mutex_lock(&b->lock);
	for (size_t i = 0; i < b->n; i++) {
		uint32_t cur = me;

		/* Relaxed: the fork server reads it with the cell's word,
		 * which it acquires (OQ-A1), and decides by its own CAS. */
		atomic_compare_exchange_strong_explicit(
			&shoal__oq_held_cell(&rt->v, &b->a[i])->custodian, &cur,
			SHOAL__OQ_ORPHAN, memory_order_relaxed, memory_order_relaxed);
	}
	/* Our holds stay until the fork server holds each (its next watch)
	 * or a getter does; bounded: a fork server gone or stopped. */
	while (shoal__oq_orphans(&rt->v, b) && !shoal__deadline_passed(d) &&
	       !shoal__rt_ended(rt))
		nanosleep(&poll, NULL);
	pthread_mutex_unlock(&b->lock);
}
