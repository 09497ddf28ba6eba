/* SPDX-License-Identifier: MIT */
/*
 * runtime/actorrun.c - how an actor's threads run its calls: Ray's
 * max_concurrency and concurrency groups over single-consumer lanes.
 *
 * WHAT
 *
 * An actor has one thread by default and then runs as it always did:
 * the lanes hooked into its slot are visited in turn, up to
 * SHOAL__ACTOR_BATCH records each (so a busy caller cannot starve the
 * others); a record is peeked, run (exec.c: the method is the class's,
 * the state the constructor's), and only then consumed, so a lane's fill
 * level counts its caller's calls queued or running (the pending-calls
 * limit) and a record whose run was cut short by a crash is still there
 * for the next process.
 *
 * A threaded actor (max_concurrency > 1, or concurrency groups) has
 * several threads in its process, each of one group.  A caller has one
 * lane per (actor, group) it calls (call.c: the group of the method picks
 * the lane; the lane's owner record names its group), so a group's calls
 * never queue behind another group's: a flood of calls to one group
 * fills that group's lanes, never the lane a control method's calls use.
 *
 * WHO CONSUMES
 *
 * A lane stays single-producer single-consumer (ring/lane.h): the
 * consumer is the actor's process, and its threads take turns at the
 * consumer's side under the process-local `lock` (actorproc.h), held only
 * to pick a record and to finish one, never while a method runs.  The
 * group's threads share each of its lanes: next[k] is the index of the
 * next record of lane k to run, past the records being run or done; a
 * thread takes the record at next[k] (peek_at) and moves next[k] on.  A
 * record is consumed only in order: a thread that finishes one marks it
 * done (the record's `done`, in the segment) and consumes the done records
 * at the lane's head, so a record that finished early waits, done, for
 * the ones before it.  The lane's head therefore only moves over done
 * records, which keeps two things true: a caller's room in its lane
 * counts its calls queued or running (as before), and every record the
 * actor has not finished is still in the lane for the next process.
 *
 * ORDER
 *
 * A group of one thread runs each caller's calls in order (one thread
 * takes a lane's records one after the other), as today; a group of N
 * threads runs them at once and in no order (Ray's threaded actors give
 * no order either).  Different groups never order each other.
 *
 * CRASH
 *
 * Each thread t names the record it runs in the slot's current[t] (lane
 * and index), stored before the method runs and cleared after the record
 * is marked done.  A process that dies leaves, in each lane: done records
 * (never run again), records some thread was running (named by a
 * current[] word, not done: cut short), and records nobody took yet.  Its
 * replacement settles before its constructor runs (shoal__actor_settle):
 * each record a current[] word names and that is still in its lane and
 * not done either runs again (retries left: it stays, retries + 1) or
 * fails with SHOAL_EACTORDIED and is marked done; then the done records at
 * each lane's head are consumed.  The rest run as usual, done ones
 * skipped.  So each call is settled once: done before the death and never
 * again, retried, or failed; none is lost, since nothing leaves a lane
 * before it is done.  A SIGKILL between two steps of the settle leaves a
 * record either untouched (the next process settles it again) or with
 * its current[] word cleared and still in the lane, not done: then it
 * runs again like a queued call, once more than max_task_retries says
 * (the settle clears the word first, as it always did).  A record whose
 * method ran but that was not yet marked done is run again after a
 * restart: delivery is at least once for a call cut short by a crash.
 *
 * Crash points: CALL_STARTED (current[t] written), CALL_RAN (the method
 * returned), CALL_DONE (the record marked done), CALL_CONSUMED.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ext.h"
#include "lane.h"
#include "actorproc.h"

void shoal__actor_lock(struct shoal__actor *a)
{
	if (a->nthreads > 1)
		pthread_mutex_lock(&a->lock);
}

void shoal__actor_unlock(struct shoal__actor *a)
{
	if (a->nthreads > 1)
		pthread_mutex_unlock(&a->lock);
}

/* The hook word of lane index + 1 v: whether its owner record names this
 * actor's generation, and its group (one this actor has, else the
 * default: a record is never left unserved). */
static uint64_t shoal__actor_hook_of(const struct shoal__actor *a, uint32_t v)
{
	const struct shoal__lane_meta *m;
	uint32_t g;

	if (v > a->rt.v.max_lanes)
		return SHOAL__HOOK(v, false, 0);
	m = &a->rt.v.lmeta[v - 1];
	g = m->group < a->ngroups ? m->group : 0;
	return SHOAL__HOOK(v, m->actor_gen == a->gen, g);
}

/* Lane k of this actor into *l (its index in *i), if it is hooked and
 * made for this generation (a lane of a dead predecessor in the slot
 * waits for its owner to give it back).  Under the lock. */
static bool shoal__actor_lane(struct shoal__actor *a, uint32_t k, uint32_t *i,
			      struct shoal__lane_view *l)
{
	/* ACT-A1: the lane's init and owner record (ACT-R1) are visible. */
	uint32_t v = atomic_load_explicit(&a->slot->lanes[k], memory_order_acquire);
	/* Relaxed: this process's own words, under its lock. */
	uint64_t h = atomic_load_explicit(&a->hook[k], memory_order_relaxed);

	if (!v)
		return false;
	if ((uint32_t)h != v || !(h & SHOAL__HOOK_MINE)) { /* this actor's now? */
		h = shoal__actor_hook_of(a, v);
		if (h & SHOAL__HOOK_MINE) /* relaxed: the consumer's own index */
			atomic_store_explicit(
				&a->next[k],
				atomic_load_explicit(&shoal__lane_at(&a->rt.v, v - 1)
							      .ring->head,
						     memory_order_relaxed),
				memory_order_relaxed);
		atomic_store_explicit(&a->hook[k], h, memory_order_relaxed);
	}
	if (!(h & SHOAL__HOOK_MINE))
		return false;
	*i = v - 1;
	*l = shoal__lane_at(&a->rt.v, *i);
	return true;
}

void shoal__actor_forget(struct shoal__actor *a, uint32_t k)
{
	atomic_store_explicit(&a->hook[k], 0, memory_order_relaxed); /* the lock's */
}

/* The next record of lane k to run, at *idx, moving next[k] past it and
 * past done records (a restart leaves some); NULL if none.  Under the
 * lock. */
static struct shoal__call_rec *shoal__actor_take(struct shoal__actor *a, uint32_t k,
						 const struct shoal__lane_view *l,
						 uint32_t *idx)
{
	/* Relaxed: written under the lock this thread holds. */
	uint32_t n = atomic_load_explicit(&a->next[k], memory_order_relaxed);
	struct shoal__call_rec *r;

	while ((r = (struct shoal__call_rec *)shoal__lane_peek_at(l, n)) && r->done)
		n++;
	if (r)
		*idx = n++;
	atomic_store_explicit(&a->next[k], n, memory_order_relaxed);
	return r;
}

/* Consumes the done records at the lane's head, up to index `upto`
 * (records before it were peeked already: no load of tail); how many.
 * Under the lock (the lane's one consumer). */
static uint32_t shoal__actor_consume_done(const struct shoal__lane_view *l,
					  uint32_t upto)
{
	const struct shoal__call_rec *r;
	uint32_t n = 0;

	for (uint32_t h = shoal__lane_head(l);
	     h != upto && (r = shoal__lane_peek_at(l, h)) && r->done; h++, n++)
		shoal__lane_consume_quiet(l); /* the pass wakes the producer */
	return n;
}

static void shoal__actor_trace(struct shoal__actor *a, struct shoal__tl_rec *tr)
{
	shoal__actor_lock(a); /* the ring has one writer at a time */
	shoal__tl_record(&a->rt.tl, tr);
	shoal__actor_unlock(a);
}

struct shoal_actor shoal__actor_self(const struct shoal__actor *a)
{
	return (struct shoal_actor){.index = a->index, .generation = a->gen,
				    .klass = a->klass_index,
				    .magic = SHOAL_ACTOR_MAGIC};
}

/* The start of a call: STARTED by a CAS, unless a cancel (or the
 * deadline) came first: then the code it is dropped with (its results
 * get it; it never runs).  A call STARTED already (run again after a
 * restart) runs.  Relaxed: the word's modification order decides
 * between the cancel and the start (actlayout.h). */
static int shoal__call_start(struct shoal__call_rec *r)
{
	_Atomic uint32_t *w = &r->cancel;
	uint32_t c = atomic_load_explicit(w, memory_order_relaxed), n;

	for (;;) {
		if (c & (SHOAL__CALL_C_CANCEL | SHOAL__CALL_C_STARTED))
			return shoal__call_cancel_code(c);
		n = shoal__cancel_due(r->deadline)
			    ? c | SHOAL__CALL_C_CANCEL | SHOAL__CALL_C_DEADLINE
			    : c | SHOAL__CALL_C_STARTED;
		if (atomic_compare_exchange_weak_explicit(w, &c, n, memory_order_relaxed,
							  memory_order_relaxed))
			return shoal__call_cancel_code(n);
	}
}

/* Marks record r done and consumes the done records at lane l's head (up
 * to next[k]: the records before it were taken already).  Called without
 * the lock; returns without it. */
static void shoal__actor_finish(struct shoal__actor *a, uint32_t k,
				const struct shoal__lane_view *l,
				struct shoal__call_rec *r)
{
	shoal__actor_lock(a);
	r->done = 1; /* plain: the lock's, and a reaper's after waitpid */
	SHOAL__STORE_CRASH(a->rt.store, CALL_DONE);
	/* Relaxed: the lock's (with one thread: this thread's own). */
	shoal__actor_consume_done(l, atomic_load_explicit(&a->next[k],
							  memory_order_relaxed));
	shoal__actor_unlock(a);
	SHOAL__STORE_CRASH(a->rt.store, CALL_CONSUMED);
}

/* A call dropped before it started (cancelled, past its deadline): its
 * results get the code (the canceller may have written them: each is
 * written once), and it is marked done and consumed in its turn.  Killed
 * before the mark, the actor's replacement finds it in its lane, not done,
 * and drops it again (its cancel word says CANCEL). */
static void shoal__actor_drop(struct shoal__actor *a, uint32_t k,
			      const struct shoal__lane_view *l,
			      struct shoal__call_rec *r, int code)
{
	shoal__call_fail(a->rt.store, r, code, shoal__cancel_why(code));
	/* stats */
	atomic_fetch_add_explicit(&a->slot->calls_failed, 1, memory_order_relaxed);
	shoal__actor_finish(a, k, l, r);
}

/* Thread th runs record idx of lane i (at lanes[k]), then marks it done
 * and consumes the done records at the lane's head.  Called and returns
 * without the lock. */
static void shoal__actor_run(struct shoal__athread *th, uint32_t k, uint32_t i,
			     const struct shoal__lane_view *l, uint32_t idx,
			     struct shoal__call_rec *r)
{
	struct shoal__actor *a = th->a;
	const struct shoal__method *m =
		r->method < a->klass->nmethods ? &a->klass->methods[r->method] : NULL;
	/* Fire and forget: the method's returns are dropped (exec.c), and
	 * the caller's own result, if it made one, is sealed empty. */
	bool discard = r->flags & (SHOAL__CALL_NORESULT | SHOAL__CALL_OWNRET);
	struct shoal__call_view v = {
		.args = r->args, .nargs = r->nargs, .args_len = r->args_len,
		.cap = SHOAL__CALL_ARGS_INLINE,
		.num_returns = discard ? 0 : r->num_returns,
		.ret0 = {.hi = r->ret_hi, .lo = r->ret_lo},
		.arg_timeout_ms = -1, .name = m ? m->name : "?",
		.discard = discard,
		.settle_ret0 = !(r->flags & SHOAL__CALL_NORESULT) &&
			       (r->flags & SHOAL__CALL_OWNRET),
		.kind = SHOAL_KIND_CALL, .worker = -1, .caller = r->caller,
		.self = shoal__actor_self(a),
		.call_cancel = &r->cancel, .deadline = r->deadline,
	};
	struct shoal__tl_rec tr;
	int rc = shoal__call_start(r);

	if (rc) {
		shoal__actor_drop(a, k, l, r, rc);
		return;
	}
	/* Relaxed, current[t]: only a process that reaped this one reads it
	 * for what it means (after waitpid), a tool as a snapshot; and the
	 * counters (statistics). */
	atomic_store_explicit(&a->slot->current[th->t], SHOAL__CUR(i, idx),
			      memory_order_relaxed);
	SHOAL__STORE_CRASH(a->rt.store, CALL_STARTED);
	tr = (struct shoal__tl_rec){
		.kind = SHOAL__TL_CALL, .who = a->index, .what = r->method,
		.klass = a->klass_index, .from = r->caller, .t_submit = r->submitted,
		.id_hi = r->ret_hi, .id_lo = r->ret_lo, .t_start = shoal__ticks(),
	};
	/* its tasks name it as their parent (callcancel.c) */
	shoal__call_enter(&a->rt.v, i, idx);
	rc = shoal__exec_run(&a->rt, &v, m ? m->fn : NULL, a->self);
	shoal__call_leave();
	tr.t_end = shoal__ticks();
	tr.rc = rc;
	shoal__actor_trace(a, &tr);
	SHOAL__STORE_CRASH(a->rt.store, CALL_RAN);
	atomic_fetch_add_explicit(&a->slot->calls_run, 1, memory_order_relaxed);
	if (rc)
		atomic_fetch_add_explicit(&a->slot->calls_failed, 1,
					  memory_order_relaxed);
	shoal__actor_finish(a, k, l, r);
	atomic_store_explicit(&a->slot->current[th->t], 0, memory_order_relaxed);
}

/* Lane k, if it is this actor's and of thread th's group (under the
 * lock). */
static bool shoal__actor_lane_of(struct shoal__athread *th, uint32_t k, uint32_t *i,
				 struct shoal__lane_view *l)
{
	struct shoal__actor *a = th->a;

	return shoal__actor_lane(a, k, i, l) &&
	       SHOAL__HOOK_GROUP(atomic_load_explicit(&a->hook[k],
						      memory_order_relaxed)) ==
		       th->group; /* relaxed: under the lock */
}

/* How many lanes[k] a pass looks at: one past the highest ever hooked
 * (ACT-A5, pairs with the callers' ACT-R5 raise; actlayout.h). */
static uint32_t shoal__actor_top(const struct shoal__actor *a)
{
	uint32_t top = atomic_load_explicit(&a->slot->lanes_top, memory_order_acquire);

	return top < SHOAL__ACT_LANES ? top : SHOAL__ACT_LANES;
}

uint32_t shoal__actor_pass(struct shoal__athread *th)
{
	struct shoal__actor *a = th->a;
	uint32_t ran = 0, i, idx, top = shoal__actor_top(a);

	for (uint32_t k = 0; k < top; k++) {
		struct shoal__lane_view l;
		struct shoal__call_rec *r;
		uint32_t b = 0;

		shoal__actor_lock(a);
		/* With one thread the lane cannot go between two records
		 * (only this thread's sweep gives lanes back); with more, it
		 * is looked at again after each. */
		for (bool ok = shoal__actor_lane_of(th, k, &i, &l);
		     ok && b < SHOAL__ACTOR_BATCH && (r = shoal__actor_take(a, k, &l, &idx));
		     ok = a->nthreads == 1 || shoal__actor_lane_of(th, k, &i, &l)) {
			shoal__actor_unlock(a);
			shoal__actor_run(th, k, i, &l, idx, r);
			shoal__actor_lock(a);
			b++;
		}
		shoal__actor_unlock(a);
		if (b)
			shoal__lane_wake_producer(&l);
		ran += b;
	}
	if (ran) /* their callers may free room (pending.c) */
		shoal__pending_task_ended(a->rt.store);
	return ran;
}

/* Is lane k one thread th should look at: a record of its group past
 * next[k], or a lane of its group hooked since the last pass?  Without
 * the lock: the hook word and next[k] may be stale, which only costs a
 * pass. */
static bool shoal__actor_lane_ready(struct shoal__athread *th, uint32_t k)
{
	struct shoal__actor *a = th->a;
	/* ACT-A1: the owner record read by hook_of. */
	uint32_t v = atomic_load_explicit(&a->slot->lanes[k], memory_order_acquire);
	/* Relaxed: actorproc.h (a stale word costs a pass). */
	uint64_t h = atomic_load_explicit(&a->hook[k], memory_order_relaxed);
	struct shoal__lane_view l;

	if (!v)
		return false;
	if ((uint32_t)h != v || !(h & SHOAL__HOOK_MINE)) {
		h = shoal__actor_hook_of(a, v); /* not looked at: a pass will */
		return (h & SHOAL__HOOK_MINE) && SHOAL__HOOK_GROUP(h) == th->group;
	}
	if (SHOAL__HOOK_GROUP(h) != th->group)
		return false;
	l = shoal__lane_at(&a->rt.v, v - 1);
	return shoal__lane_ready_at(&l, atomic_load_explicit(&a->next[k],
							      memory_order_relaxed));
}

bool shoal__actor_any_ready(struct shoal__athread *th)
{
	uint32_t top = shoal__actor_top(th->a);

	for (uint32_t k = 0; k < top; k++)
		if (shoal__actor_lane_ready(th, k))
			return true;
	return false;
}

/* Settles the record current word c names, if it is still in its lane
 * and not done: it runs again (retries left) or fails. */
static void shoal__actor_settle_one(struct shoal__actor *a, uint64_t c)
{
	uint32_t i = SHOAL__CUR_LANE(c) - 1;
	struct shoal__lane_view l;
	struct shoal__call_rec *r;
	int code;

	if (!SHOAL__CUR_LANE(c) || i >= a->rt.v.max_lanes)
		return;
	l = shoal__lane_at(&a->rt.v, i);
	r = (struct shoal__call_rec *)shoal__lane_peek_at(&l, (uint32_t)c);
	if (!r || r->done)
		return; /* consumed already, or ran to the end: never again */
	/* Relaxed: the cancel bits alone (actlayout.h). */
	code = shoal__call_cancel_code(atomic_load_explicit(&r->cancel,
							    memory_order_relaxed));
	if (!code && r->retries < a->slot->max_task_retries) {
		r->retries++; /* it stays: it runs again */
		return;
	}
	/* A cancelled call is never run again. */
	shoal__call_fail(a->rt.store, r, code ? code : SHOAL_EACTORDIED,
			 code ? shoal__cancel_why(code)
			      : "the actor died while it ran this call");
	/* stats */
	atomic_fetch_add_explicit(&a->slot->calls_failed, 1, memory_order_relaxed);
	r->done = 1;
}

void shoal__actor_settle(struct shoal__actor *a)
{
	uint32_t i;

	for (uint32_t t = 0; t < SHOAL__ACT_THREADS; t++) {
		/* Relaxed: the predecessor's word, read after its death (the
		 * fork server reaped it before it forked us). */
		uint64_t c = atomic_load_explicit(&a->slot->current[t],
						  memory_order_relaxed);

		if (!c)
			continue;
		atomic_store_explicit(&a->slot->current[t], 0, memory_order_relaxed);
		shoal__actor_settle_one(a, c);
	}
	for (uint32_t k = 0; k < SHOAL__ACT_LANES; k++) {
		struct shoal__lane_view l;

		if (shoal__actor_lane(a, k, &i, &l) &&
		    shoal__actor_consume_done(&l, shoal__lane_head(&l) + l.capacity))
			shoal__lane_wake_producer(&l);
		shoal__actor_forget(a, k); /* next[k] from the head, next pass */
	}
}
