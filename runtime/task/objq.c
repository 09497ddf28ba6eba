/* SPDX-License-Identifier: MIT */
/*
 * runtime/task/objq.c - putting into and getting from an object queue
 * (shoal/queue.h; the layout and its terms: qlayout.h).
 *
 * WHY NOT THE RUN QUEUE.  ring/queue.c may hand a dead consumer's item
 * to two parties or drop it across a repair (its caller's invariant),
 * which is right for task records, whose ownership a CAS on the record
 * decides, but an object ID in a queue has no record of its own: a
 * duplicate would give one object to two getters.  So the cell itself
 * is the record: its word says who is at which step, each step one CAS,
 * and only the cell at tail (for putters) or at head (for getters) may
 * be claimed, so nobody passes a step under way.  Bounded MPMC after
 * Vyukov's queue (stamps per cell, free-running positions), with the
 * claim made on the cell instead of on the index.
 *
 * HOLDS.  A hold lives in one process's ledger (store/ledger.c), which
 * only its owner writes; there is no hold that belongs to a queue.  So
 * the putting process (the cell's custodian) keeps the queue's hold in
 * its own ledger until the getter has taken its own, and lets go of it
 * when it sees its position gone (its books, below).  A getter takes its
 * hold before it frees the cell (OQ-R2), so the object is held by the
 * custodian or the getter at every instant.  A custodian that dies with
 * objects still queued: the fork server adopts them (objq_admin.c).
 *
 * A PUT, step by step (what a SIGKILL there leaves; who repairs):
 *  0. once per process, the reap guard naming the fork server
 *     (store/guard.c): once dead, this process's slot is reaped only
 *     after the fork server adopted what it left queued.
 *  1. shoal_hold (the store's REF protocol: the putter's reaper drops
 *     it).  Nothing in the queue.
 *  2. CAS FREE(t) -> FILLING(t, me), then the slot's state is re-checked
 *     (OQ-S1) [crash point OQ_FILLING]: the next putter or getter, or a
 *     delete, that meets FILLING of a gone owner puts FREE(t) back; the
 *     hold goes with the putter's slot.  The put did not happen.
 *  3. ID and custodian written, release of FULL(t) (OQ-R1)
 *     [OQ_FULL]: the object is in the queue, held in the dead putter's
 *     ledger, which no reap gives back before the fork server adopted
 *     it (objq_admin.c).
 *     tail is advanced by whoever meets FULL(t) at tail.
 *  4. the books: a process-private record, lost with the process.
 * A GET:
 *  1. CAS FULL(h) -> TAKING(h, me) (OQ-A1), state re-checked
 *     [OQ_TAKING]: whoever meets TAKING of a gone owner puts FULL(h)
 *     back: the get did not happen, the next getter gets the object.
 *  2. shoal_hold [OQ_HELD]: the same (the getter's hold goes with it).
 *  3. CAS TAKING -> FREE(h + cells) (OQ-R2) [OQ_TAKEN]: the object is
 *     the dead getter's, dropped by its reaper: it had been got (as a
 *     get that returned and whose caller then died).  head is advanced
 *     by whoever meets FREE(h + cells) at head.
 * So an object is handed to one getter at most, and a put or a get
 * either happened or did not, wherever its process died.
 *
 * Waiting: on the queue's not_empty / not_full events (base/event.c),
 * in slices, re-checking the runtime's end and the queue's deletion.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include <shoal/error.h>
#include <shoal/queue.h>
#include <shoal/store.h>

#include "ext.h"
#include "mem.h"
#include "task_int.h"

#define SHOAL__OQ_SLICE_MS 100
#define SHOAL__OQ_BUSY_SPINS 256u

/* ---------------------------------------------------------------- */
/* The books: objects this process holds for queues.                 */

/* True once the object put at e->pos is held by a getter, or let go by a
 * delete: the cell's stamp moved past that position (OQ-A2). */
static bool shoal__oq_held_done(const struct shoal__rt_view *v,
				const struct shoal__oq_held *e)
{
	struct shoal__oq_cell *c = shoal__oq_cells(v, e->queue);
	uint64_t w = atomic_load_explicit(&c[e->pos & (v->queue_cells - 1)].word,
					  memory_order_acquire); /* OQ-A2 */

	return SHOAL__OQ_STAMP(w) != (uint32_t)e->pos;
}

/* Drops the holds of every done record (all of them if `all`: a process
 * that leaves), keeping the rest in order.  Under b->lock. */
static void shoal__oq_books_sweep(struct shoal_store *s,
				  const struct shoal__rt_view *v,
				  struct shoal__oq_books *b, bool all)
{
	size_t k = 0;

	for (size_t i = 0; i < b->n; i++) {
		if (all || shoal__oq_held_done(v, &b->a[i]))
			shoal_drop(s, b->a[i].id);
		else
			b->a[k++] = b->a[i];
	}
	b->n = k;
}

/* Drops the done records at the front (the oldest: FIFO queues free
 * them first), and sweeps the whole list when it is full. */
static void shoal__oq_books_trim(struct shoal_store *s,
				 const struct shoal__rt_view *v,
				 struct shoal__oq_books *b)
{
	size_t i = 0;

	while (i < b->n && shoal__oq_held_done(v, &b->a[i]))
		shoal_drop(s, b->a[i++].id);
	if (i) {
		memmove(b->a, b->a + i, (b->n - i) * sizeof *b->a);
		b->n -= i;
	}
	if (b->n == b->cap)
		shoal__oq_books_sweep(s, v, b, false);
}

int shoal__oq_books_add(struct shoal_store *s, const struct shoal__rt_view *v,
			struct shoal__oq_books *b, unsigned arena,
			const struct shoal__oq_held *e)
{
	struct shoal__oq_held *n;
	int rc = 0;

	pthread_mutex_lock(&b->lock);
	shoal__oq_books_trim(s, v, b);
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 256;

		n = shoal__mem_alloc(arena, cap * sizeof *n);
		if (!n) {
			rc = -ENOMEM;
			goto out;
		}
		if (b->n)
			memcpy(n, b->a, b->n * sizeof *n);
		shoal__mem_free(arena, b->a);
		b->a = n;
		b->cap = cap;
	}
	b->a[b->n++] = *e;
out:
	pthread_mutex_unlock(&b->lock);
	return rc;
}

void shoal__oq_books_collect(struct shoal_store *s, const struct shoal__rt_view *v,
			     struct shoal__oq_books *b, bool all)
{
	pthread_mutex_lock(&b->lock);
	shoal__oq_books_sweep(s, v, b, all);
	pthread_mutex_unlock(&b->lock);
}

/* ---------------------------------------------------------------- */
/* One attempt.                                                      */

/* Seq_cst (OQ-S1): after a claim, the slot still names the handle's
 * queue, LIVE.  Else the caller undoes its claim: a delete began. */
static bool shoal__oq_still_live(const struct shoal__oq *o)
{
	uint64_t st = atomic_load_explicit(&o->h->state, memory_order_seq_cst);

	return SHOAL__OQ_STAMP(st) == o->gen &&
	       SHOAL__OQ_KIND(st) == SHOAL__OQS_LIVE;
}

static void shoal__oq_bump(_Atomic uint64_t *idx, uint64_t from)
{
	/* Relaxed: a hint, re-checked against each cell's stamp. */
	atomic_compare_exchange_strong_explicit(idx, &from, from + 1,
						memory_order_relaxed,
						memory_order_relaxed);
}

/* The cell at p is claimed by owner in `kind` and that owner is gone:
 * puts `back` in its place (a dead put or get had not happened). */
static void shoal__oq_undo_gone(struct shoal_store *s, _Atomic uint64_t *word,
				uint64_t w, uint64_t back)
{
	if (shoal__creator24_gone(s, SHOAL__OQ_OWNER(w)))
		/* acq_rel (OQ-R1 / OQ-A1): what a FULL put back publishes is
		 * what the putter published, which this CAS read. */
		atomic_compare_exchange_strong_explicit(word, &w, back,
							memory_order_acq_rel,
							memory_order_relaxed);
}

/* The bound looks reached from head h: true if h is stale (its cell
 * already freed for the next round, by a getter that died before it
 * advanced head, or one about to), after advancing it. */
static bool shoal__oq_head_behind(const struct shoal__oq *o, uint64_t h)
{
	/* OQ-A2: the getter's release of the cell. */
	uint64_t w = atomic_load_explicit(&o->c[h & o->mask].word,
					  memory_order_acquire);

	if ((int32_t)(SHOAL__OQ_STAMP(w) - (uint32_t)h) <= 0)
		return false;
	shoal__oq_bump(&o->h->head, h);
	return true;
}

/* 0: claimed position *pos (FILLING by me); -EAGAIN full, -EBUSY another
 * putter is at the tail, -EIDRM deleted. */
static int shoal__oq_claim_tail(struct shoal_store *s, const struct shoal__oq *o,
				uint32_t me24, uint64_t *pos)
{
	uint64_t t = atomic_load_explicit(&o->h->tail, memory_order_relaxed);
	uint64_t h = atomic_load_explicit(&o->h->head, memory_order_relaxed);
	_Atomic uint64_t *word = &o->c[t & o->mask].word;
	uint64_t w = atomic_load_explicit(word, memory_order_acquire); /* OQ-A2 */
	int32_t ahead = (int32_t)(SHOAL__OQ_STAMP(w) - (uint32_t)t);

	if (ahead < 0)
		return -EAGAIN; /* the cell still holds t - cells: full */
	if (ahead > 0 || SHOAL__OQ_KIND(w) >= SHOAL__OQ_FULL) {
		shoal__oq_bump(&o->h->tail, t); /* tail is behind */
		return -EBUSY;
	}
	if (SHOAL__OQ_KIND(w) == SHOAL__OQ_FILLING) {
		shoal__oq_undo_gone(s, word, w, SHOAL__OQ_WORD(t, SHOAL__OQ_FREE, 0));
		return -EBUSY;
	}
	if (t - h >= o->cap && t >= h)
		return shoal__oq_head_behind(o, h) ? -EBUSY : -EAGAIN;
	/* OQ-S1 (and OQ-A2 on the cell's last round) */
	if (!atomic_compare_exchange_strong_explicit(
		    word, &w, SHOAL__OQ_WORD(t, SHOAL__OQ_FILLING, me24),
		    memory_order_seq_cst, memory_order_relaxed))
		return -EBUSY;
	if (!shoal__oq_still_live(o)) {
		atomic_store_explicit(word, SHOAL__OQ_WORD(t, SHOAL__OQ_FREE, 0),
				      memory_order_relaxed); /* nothing written */
		return -EIDRM;
	}
	*pos = t;
	return 0;
}

static int shoal__oq_try_put(struct shoal_runtime *rt, const struct shoal__oq *o,
		      shoal_id id, uint64_t *pos)
{
	struct shoal_store *s = rt->store;
	uint32_t me = shoal__store_creator(s);
	struct shoal__oq_cell *c;
	int rc = shoal__oq_claim_tail(s, o, SHOAL__CREATOR24(me), pos);

	if (rc)
		return rc;
	SHOAL__STORE_CRASH(s, OQ_FILLING);
	c = &o->c[*pos & o->mask];
	/* Relaxed: published by the release of FULL below (OQ-R1). */
	atomic_store_explicit(&c->hi, id.hi, memory_order_relaxed);
	atomic_store_explicit(&c->lo, id.lo, memory_order_relaxed);
	atomic_store_explicit(&c->custodian, me, memory_order_relaxed);
	atomic_store_explicit(&c->word, SHOAL__OQ_WORD(*pos, SHOAL__OQ_FULL, 0),
			      memory_order_release); /* OQ-R1 */
	SHOAL__STORE_CRASH(s, OQ_FULL);
	shoal__oq_bump(&o->h->tail, *pos);
	shoal__event_signal(&o->h->not_empty);
	return 0;
}

/* 0: position *pos is mine (TAKING), its ID in *id; -EAGAIN empty,
 * -EBUSY another getter is at the head, -EIDRM deleted. */
static int shoal__oq_claim_head(struct shoal_store *s, const struct shoal__oq *o,
				uint32_t me24, uint64_t *pos, shoal_id *id)
{
	uint64_t h = atomic_load_explicit(&o->h->head, memory_order_relaxed);
	struct shoal__oq_cell *c = &o->c[h & o->mask];
	uint64_t w = atomic_load_explicit(&c->word, memory_order_acquire); /* OQ-A1 */
	int32_t ahead = (int32_t)(SHOAL__OQ_STAMP(w) - (uint32_t)h);

	if (ahead > 0) {
		shoal__oq_bump(&o->h->head, h); /* head is behind */
		return -EBUSY;
	}
	if (ahead < 0 || SHOAL__OQ_KIND(w) <= SHOAL__OQ_FILLING)
		return -EAGAIN; /* nothing put at h yet (or a put under way) */
	if (SHOAL__OQ_KIND(w) == SHOAL__OQ_TAKING) {
		shoal__oq_undo_gone(s, &c->word, w, SHOAL__OQ_WORD(h, SHOAL__OQ_FULL, 0));
		return -EBUSY;
	}
	/* OQ-A1, OQ-S1 */
	if (!atomic_compare_exchange_strong_explicit(
		    &c->word, &w, SHOAL__OQ_WORD(h, SHOAL__OQ_TAKING, me24),
		    memory_order_seq_cst, memory_order_relaxed))
		return -EBUSY;
	if (!shoal__oq_still_live(o)) {
		atomic_store_explicit(&c->word, w, memory_order_relaxed); /* FULL */
		return -EIDRM;
	}
	/* Relaxed: published by OQ-R1, acquired by the CAS above. */
	id->hi = atomic_load_explicit(&c->hi, memory_order_relaxed);
	id->lo = atomic_load_explicit(&c->lo, memory_order_relaxed);
	*pos = h;
	return 0;
}

/* A hold that failed for a reason of the getter's own (its ledger full,
 * or with no memory to grow into: SHOAL_ENOSHM, store/ledger.c; a
 * recount under way): the object is still there for the next get. */
bool shoal__oq_hold_retry(int rc)
{
	return rc == SHOAL_ELEDGERFULL || rc == SHOAL_ENOSHM ||
	       rc == -EOVERFLOW || rc == -ETIMEDOUT;
}

static int shoal__oq_try_get(struct shoal_runtime *rt, const struct shoal__oq *o,
		      shoal_id *id)
{
	struct shoal_store *s = rt->store;
	uint32_t me24 = SHOAL__CREATOR24(shoal__store_creator(s));
	_Atomic uint64_t *word;
	uint64_t pos, w;
	int rc = shoal__oq_claim_head(s, o, me24, &pos, id);

	if (rc) {
		*id = SHOAL_ID_NIL;
		return rc;
	}
	SHOAL__STORE_CRASH(s, OQ_TAKING);
	word = &o->c[pos & o->mask].word;
	w = SHOAL__OQ_WORD(pos, SHOAL__OQ_TAKING, me24);
	rc = shoal_hold(s, *id);
	if (rc && shoal__oq_hold_retry(rc)) {
		atomic_store_explicit(word, SHOAL__OQ_WORD(pos, SHOAL__OQ_FULL, 0),
				      memory_order_relaxed); /* nothing changed */
		*id = SHOAL_ID_NIL;
		return rc;
	}
	SHOAL__STORE_CRASH(s, OQ_HELD);
	/* OQ-R2: my reads and my hold, before the cell is anyone's again. */
	atomic_compare_exchange_strong_explicit(word, &w,
						SHOAL__OQ_WORD(pos + o->mask + 1,
							       SHOAL__OQ_FREE, 0),
						memory_order_release,
						memory_order_relaxed);
	SHOAL__STORE_CRASH(s, OQ_TAKEN);
	shoal__oq_bump(&o->h->head, pos);
	shoal__event_signal(&o->h->not_full);
	return rc ? rc : 0;
}

/* ---------------------------------------------------------------- */
/* Waiting.                                                          */

struct shoal__oq_try {
	struct shoal_runtime *rt;
	const struct shoal__oq *o;
	bool put;
	shoal_id id;
	uint64_t pos;
	int rc;
};

/* One attempt, spinning past another party's step under way (a few
 * instructions of a live process) a bounded number of times. */
static int shoal__oq_attempt(struct shoal__oq_try *t)
{
	for (uint32_t i = 0; i < SHOAL__OQ_BUSY_SPINS; i++) {
		t->rc = t->put ? shoal__oq_try_put(t->rt, t->o, t->id, &t->pos)
			       : shoal__oq_try_get(t->rt, t->o, &t->id);
		if (t->rc != -EBUSY)
			return t->rc;
		if (i >= 16)
			sched_yield();
	}
	return -EAGAIN;
}

static bool shoal__oq_ready(void *arg)
{
	return shoal__oq_attempt(arg) != -EAGAIN;
}

/* Around each sleep: a worker blocked in a task tells its runtime, which
 * may start an extra worker (a consumer task waiting for a producer task
 * that has no worker to run on). */
static void shoal__oq_sleeping(void *arg, bool asleep)
{
	struct shoal__oq_try *t = arg;

	shoal__store_blocking(t->rt->store, asleep);
}

/* The queue still names the handle's LIVE queue (OQ-A3). */
static int shoal__oq_alive(const struct shoal__oq *o)
{
	uint64_t st = atomic_load_explicit(&o->h->state, memory_order_acquire);

	if (SHOAL__OQ_STAMP(st) != o->gen)
		return -EIDRM;
	return SHOAL__OQ_KIND(st) == SHOAL__OQS_LIVE ? 0 : -EIDRM;
}

/* Attempts until one is not -EAGAIN, or the deadline, sleeping on ev
 * between them in slices (re-checking the runtime's end and the
 * queue's deletion). */
static int shoal__oq_wait(struct shoal__oq_try *t, struct shoal__event *ev,
		   int timeout_ms)
{
	struct shoal__deadline end = shoal__deadline_in(timeout_ms);
	struct shoal__await w = {.ready = shoal__oq_ready,
				 .sleeping = shoal__oq_sleeping, .arg = t};
	int rc;

	if (shoal__oq_attempt(t) != -EAGAIN || timeout_ms == 0)
		return t->rc == -EBUSY ? -EAGAIN : t->rc;
	for (;;) {
		/* Behind another party's step that outlasted the spins (its
		 * process off its CPU): its end signals the other event, so
		 * look again soon rather than at the slice's end. */
		struct shoal__deadline d = shoal__deadline_in(
			t->rc == -EBUSY ? 1 : SHOAL__OQ_SLICE_MS);

		if (end.ns < d.ns)
			d = end;
		rc = shoal__event_await(ev, d, shoal__store_spin(t->rt->store), &w);
		if (rc == 1)
			return t->rc;
		rc = shoal__rt_ended(t->rt);
		if (rc)
			return rc;
		rc = shoal__oq_alive(t->o);
		if (rc)
			return rc;
		if (shoal__oq_attempt(t) != -EAGAIN)
			return t->rc;
		if (shoal__deadline_passed(end))
			return -ETIMEDOUT;
	}
}

/* Before a put may claim a cell: once this process is dead, its slot
 * waits for the fork server's adoption before anyone reaps it (the
 * guard, store/guard.c; objq_admin.c).  Relaxed: fs_creator is one word
 * (rtlayout.h); 0 before the fork server wrote it (no put then). */
static void shoal__oq_guard(struct shoal_runtime *rt)
{
	uint64_t fs = atomic_load_explicit(&rt->v.hdr->fs_creator,
					   memory_order_relaxed);

	if (fs >> 32)
		shoal__store_guard_set(rt->store, (uint32_t)fs);
}

static int shoal__oq_put_held(struct shoal_runtime *rt, const struct shoal__oq *o,
			      shoal_id ref, int timeout_ms)
{
	struct shoal__oq_try t = {.rt = rt, .o = o, .put = true, .id = ref};
	struct shoal__oq_held e = {.queue = o->index, .id = ref};
	int rc;

	shoal__oq_guard(rt);
	rc = shoal__oq_wait(&t, &o->h->not_full, timeout_ms);

	if (rc)
		return rc;
	e.pos = t.pos;
	/* Out of memory for the record: the hold stays until detach. */
	(void)shoal__oq_books_add(rt->store, &rt->v, &rt->oq, rt->arena, &e);
	return 0;
}

SHOAL_API int shoal_queue_put(struct shoal_runtime *rt, const struct shoal_queue *q,
			      shoal_id ref, int timeout_ms)
{
	struct shoal__oq o;
	int rc = shoal__oq_resolve(rt, q, &o);

	if (rc)
		return rc;
	if (shoal_id_is_nil(ref))
		return -EINVAL;
	rc = shoal_hold(rt->store, ref);
	if (rc)
		return rc;
	rc = shoal__oq_put_held(rt, &o, ref, timeout_ms);
	if (rc)
		shoal_drop(rt->store, ref);
	return rc;
}

SHOAL_API int shoal_queue_put_bytes(struct shoal_runtime *rt,
				    const struct shoal_queue *q,
				    const void *data, size_t size, int timeout_ms)
{
	struct shoal__oq o;
	shoal_id id;
	int rc = shoal__oq_resolve(rt, q, &o);

	if (rc)
		return rc;
	if (!data && size)
		return -EINVAL;
	rc = shoal_put(rt->store, data, size, timeout_ms, &id);
	if (rc)
		return rc;
	/* The put's hold is the queue's. */
	rc = shoal__oq_put_held(rt, &o, id, timeout_ms);
	if (rc) {
		shoal_delete(rt->store, id);
		shoal_drop(rt->store, id);
	}
	return rc;
}

SHOAL_API int shoal_queue_get(struct shoal_runtime *rt, const struct shoal_queue *q,
			      int timeout_ms, shoal_id *out)
{
	struct shoal__oq o;
	struct shoal__oq_try t = {.rt = rt, .o = &o};
	int rc = shoal__oq_resolve(rt, q, &o);

	if (rc)
		return rc;
	if (!out)
		return -EINVAL;
	t.id = SHOAL_ID_NIL;
	rc = shoal__oq_wait(&t, &o.h->not_empty, timeout_ms);
	if (!shoal_id_is_nil(t.id)) /* taken: held, or lost (rc) */
		*out = t.id;
	return rc;
}
