/* SPDX-License-Identifier: MIT */
/*
 * runtime/task.c - submitting tasks: task records, promised returns, the
 * run queue (argument lists and their encoding: arglist.c).
 *
 * A submit takes a FREE record with one CAS that makes it BUILDING and
 * names the submitter (shoal__task_take: the task bits say where to look),
 * fills it while it is BUILDING (no one else reads a BUILDING record),
 * promises every return
 * (store/fill.c: unsealed entries held by the submitter, so the refs exist
 * and are held before the call returns), takes a hold on every ref
 * argument (so that it outlives the task even if the caller drops it),
 * then parks it on its unsealed arguments (deps.c); once none is left the
 * record is published with a release CAS to QUEUED (TASK-R1 of
 * rtlayout.h) and its item
 * (index + generation) pushed into the run queue, which wakes a worker.
 *
 * The holds on ref arguments are this process's; it drops them once the
 * task is done (its record freed), checked lazily at each submit, while a
 * submit waits for room, and at shutdown (pending.c, process-private).
 *
 * Waiting: a submit waits for a free record in a full task table
 * (shoal__task_take_wait, below), then for room in the store for the
 * by-value arguments it puts there (the promises never wait: -ENOSPC at
 * once).  Both are bounded by the submit's deadline
 * (shoal_task_options.timeout_ms, SHOAL_SUBMIT_TIMEOUT_MS by default): each
 * wait gets what is left of it, counted from the first one that has to
 * wait (the clock is read then, not at every submit: shoal__later).
 *
 * Crash safety: taking and freeing a record are one step each on its
 * state word (the bit that follows is a hint).  A submitter killed while
 * BUILDING leaves a record that names it: the fork server's watch frees
 * it once the submitter is gone (shoal__task_sweep_free); its promises
 * and holds are given back by its reaper, so a worker that runs a task
 * of a dead submitter (killed after it queued it) finds its returns gone
 * and drops them.
 *
 * A runtime that ended (shut down, its fork server dead: end.c) takes no
 * task: submit returns the code it ended with, and a submit that raced
 * with the end fails its own record if the sweep may have missed it
 * (END-S1).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "ext.h"
#include "mem.h"
#include "clock.h"
#include "task_int.h"
#include "queue.h"


/*
 * Taking a record: a scan of the task bits from the hint for a set bit
 * whose record is FREE, then the CAS FREE -> BUILDING that takes it
 * (TASK-A2: acquire, pairs with the freer's release TASK-R2), naming the
 * submitter in
 * the state word in that same step; then its bit is cleared.  The state
 * word is the truth and the bits only a hint: a set bit over a record
 * that is not FREE is skipped (the record's next taker clears it); a FREE
 * record whose bit is clear (its freer died between the two) is found by
 * a pass over the records themselves when no bit leads to a FREE one,
 * and its bit is set again by the fork server's sweep.  So no single step
 * leaves a record nobody can take or free: killed after its CAS, a
 * submitter leaves a BUILDING record that names it, which the sweep
 * frees once it is gone.  Bounded: one pass over the bits (max_tasks / 64
 * words), and over the records only when the table looks full.
 */
/* Raised before the taking CAS, so that a taker killed between the two
 * leaves at worst a top one too high (the sweeps look at one record
 * more), never a taken record above it.  A sweep loads the top once, then
 * the records: one taken after that load is seen by the next watch (every
 * 250 ms); the dead-worker scan sees its worker's record because the
 * raise came before the publish (TASK-R1) the worker's pop acquired; the
 * end's sweep loads it after its END-S2 fence (end.c).  Release / acquire
 * (TASK-R3, TASK-A3): the raise is ordered before the publish that
 * follows it by that publish's release, not by its own; nothing orders
 * it before the taking CAS, which is why a watch may miss a record taken
 * just now (the next one sees it).  Relaxed: the first load and a failed
 * CAS (the loop tries again from the value it read). */
static void shoal__task_raise_top(const struct shoal__rt_view *v, uint32_t top)
{
	uint32_t cur = atomic_load_explicit(&v->hdr->task_top, memory_order_relaxed);

	while (cur < top &&
	       !atomic_compare_exchange_weak_explicit(&v->hdr->task_top, &cur, top,
						      memory_order_release,
						      memory_order_relaxed)) /* TASK-R3 */
		;
}

uint32_t shoal__task_top(const struct shoal__rt_view *v)
{
	/* TASK-A3 */
	uint32_t top = atomic_load_explicit(&v->hdr->task_top, memory_order_acquire);

	return top < v->max_tasks ? top : v->max_tasks;
}

static bool shoal__task_try(struct shoal_runtime *rt, uint32_t i, uint32_t owner)
{
	struct shoal__task_rec *t = &rt->v.tasks[i];
	/* Relaxed: a guess; the CAS below decides (TASK-A2). */
	uint64_t st = atomic_load_explicit(&t->state, memory_order_relaxed);

	if (SHOAL__TASK_PHASE(st) != SHOAL__T_FREE)
		return false;
	shoal__task_raise_top(&rt->v, i + 1);
	return atomic_compare_exchange_strong_explicit(
		       &t->state, &st,
		       SHOAL__TASK_STATE(SHOAL__TASK_GEN(st) + 1, SHOAL__T_BUILDING,
					 owner),
		       memory_order_acquire, memory_order_relaxed); /* TASK-A2 */
}

static int shoal__task_take(struct shoal_runtime *rt, uint32_t *idx)
{
	const struct shoal__rt_view *v = &rt->v;
	_Atomic uint64_t *bits = rt->v.task_bits;
	uint32_t words = (v->max_tasks + 63) / 64;
	/* Relaxed, the hint and the bits: hints (above); the state word's
	 * CAS decides. */
	uint32_t w = atomic_load_explicit(&v->hdr->task_hint, memory_order_relaxed);
	uint32_t owner = SHOAL__CREATOR24(shoal__store_creator(rt->store));

	if (w >= words)
		w = 0;
	for (uint32_t k = 0; k < words; k++, w = w + 1 == words ? 0 : w + 1) {
		uint64_t b = atomic_load_explicit(&bits[w], memory_order_relaxed);

		for (; b; b &= b - 1) {
			uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(b);

			if (i >= v->max_tasks || !shoal__task_try(rt, i, owner))
				continue;
			SHOAL__STORE_CRASH(rt->store, TASK_TAKEN);
			atomic_fetch_and_explicit(&bits[w], ~(1ull << (i % 64)),
						  memory_order_relaxed);
			if (k)
				atomic_store_explicit(&v->hdr->task_hint, w,
						      memory_order_relaxed);
			*idx = i;
			return 0;
		}
	}
	/* No bit set over a FREE record: the records themselves, so that a
	 * freer killed before it set its bit costs no capacity (the full
	 * table's path: one pass more before -ENOSPC). */
	for (uint32_t i = 0; i < v->max_tasks; i++)
		if (shoal__task_try(rt, i, owner)) {
			*idx = i;
			return 0;
		}
	return -ENOSPC;
}

/* FREE (TASK-R2: release, pairs with the next taker's TASK-A2), then its
 * bit; the hint moves back to it, so that records are reused lowest first
 * (the ones still in the caches).  Relaxed: the state's first load (the
 * freer owns the record), the bit and the hint (hints). */
void shoal__task_free(struct shoal_store *s, const struct shoal__rt_view *v,
		      uint32_t idx)
{
	struct shoal__task_rec *t = &v->tasks[idx];
	uint64_t st = atomic_load_explicit(&t->state, memory_order_relaxed);

	atomic_store_explicit(&t->state,
			      SHOAL__TASK_STATE(SHOAL__TASK_GEN(st), SHOAL__T_FREE, 0),
			      memory_order_release); /* TASK-R2 */
	SHOAL__STORE_CRASH(s, TASK_FREED);
	atomic_fetch_or_explicit(&v->task_bits[idx / 64],
				 1ull << (idx % 64), memory_order_relaxed);
	if (idx / 64 < atomic_load_explicit(&v->hdr->task_hint, memory_order_relaxed))
		atomic_store_explicit(&v->hdr->task_hint, idx / 64, memory_order_relaxed);
	/* EV-S2 (its fence orders the FREE store before its look at the
	 * waiters): a submit waiting for room sees the record or is woken.
	 * A freer killed before it leaves a sleeper to its next slice. */
	shoal__event_signal(&v->hdr->task_room);
}

void shoal__task_sweep_free(struct shoal_store *s, const struct shoal__rt_view *v)
{
	struct shoal__task_rec *tasks = v->tasks;
	_Atomic uint64_t *bits = v->task_bits;

	uint32_t top = shoal__task_top(v);

	for (uint32_t i = 0; i < top; i++) {
		/* TASK-A1 (its phase and owner; nothing of the record is read) */
		uint64_t st = atomic_load_explicit(&tasks[i].state, memory_order_acquire);
		uint64_t bit = 1ull << (i % 64);

		if (SHOAL__TASK_PHASE(st) == SHOAL__T_BUILDING &&
		    shoal__creator24_gone(s, SHOAL__TASK_OWNER(st)) &&
		    atomic_compare_exchange_strong_explicit(
			    &tasks[i].state, &st,
			    SHOAL__TASK_STATE(SHOAL__TASK_GEN(st), SHOAL__T_FREE, 0),
			    memory_order_release, memory_order_relaxed)) /* TASK-R2 */
			st = SHOAL__TASK_STATE(SHOAL__TASK_GEN(st), SHOAL__T_FREE, 0);
		/* A set bit is only a hint: setting one over a record taken
		 * meanwhile costs its next taker a skipped probe. */
		if (SHOAL__TASK_PHASE(st) == SHOAL__T_FREE &&
		    !(atomic_load_explicit(&bits[i / 64], memory_order_relaxed) & bit))
			atomic_fetch_or_explicit(&bits[i / 64], bit, memory_order_relaxed);
	}
	shoal__event_signal(&v->hdr->task_room); /* EV-S2, as task_free */
}

/*
 * Waiting for room in a full table (the submit's timeout; 0: a try, which
 * fails with -EAGAIN at once, as a try-call on a full lane does).  The
 * waiter sleeps on task_room (every free signals it, after its FREE
 * store: EV-S1/EV-S2 of base/event.c) in slices of SHOAL__ROOM_SLICE_MS;
 * the sleep counts as blocked (the store's on_block hook: a driver's or
 * an attached program's probes the fork server after it, a worker's
 * tells the pool).  After each slice it probes the runtime's end (a dead
 * fork server: SHOAL_EFORKSERVERDIED), so a runtime that died never
 * leaves it asleep past one slice; a freer killed between its FREE and
 * its signal costs at most a slice too.
 *
 * Inside a task the records may be held by tasks that need a worker to
 * run: the worker's sleep counts as blocked, so with every worker so
 * blocked the pool starts an extra one (worker.c), which runs them.  Once
 * the pool is at its cap (num_workers + max_extra_workers) and every
 * other worker is blocked too, no task may ever run again to free a
 * record; nor when every record that is not free runs a task whose
 * worker waits for room itself (a cycle, whatever the pool's size: the
 * worker's room_wait word says so).  Either way the submit gives up with
 * SHOAL_EPOOLEXHAUSTED once it saw so at
 * SHOAL__ROOM_HOPELESS slices (about a second: blocked gets wake once a
 * second, so a worker between two sleeps is not taken for free, and a get
 * that waits for the driver's put has that long to be served), rather
 * than wait out its timeout or hang for ever.  The test is coarser than
 * nested.c's: a full pool blocked in gets of objects a program will put
 * later also fails the submit, after that second (the README says so).
 */
#define SHOAL__ROOM_SLICE_MS 200
#define SHOAL__ROOM_HOPELESS 5 /* slices seen hopeless: about a second */

struct shoal__room {
	struct shoal_runtime *rt;
	uint32_t *idx;
};

static bool shoal__room_ready(void *arg)
{
	struct shoal__room *r = arg;

	return shoal__task_take(r->rt, r->idx) == 0;
}

static void shoal__room_sleeping(void *arg, bool asleep)
{
	struct shoal__room *r = arg;

	shoal__store_blocking(r->rt->store, asleep);
}

/* Every record that is not FREE runs on a worker that waits for room
 * itself (room_wait): none of them can finish, so none is ever freed.
 * Relaxed: hints, as below. */
static bool shoal__room_cycle(const struct shoal_runtime *rt)
{
	const struct shoal__rt_view *v = &rt->v;
	uint32_t top = shoal__task_top(v);

	for (uint32_t i = 0; i < top; i++) {
		uint64_t st = atomic_load_explicit(&v->tasks[i].state,
						   memory_order_relaxed);
		uint32_t w = SHOAL__TASK_OWNER(st) - 1;

		if (SHOAL__TASK_PHASE(st) == SHOAL__T_FREE)
			continue;
		if (SHOAL__TASK_PHASE(st) != SHOAL__T_RUNNING ||
		    w >= v->max_workers ||
		    !atomic_load_explicit(&v->workers[w].room_wait,
					  memory_order_relaxed))
			return false;
	}
	return true;
}

/* A worker's submit that can never find room: the records form a cycle
 * of room waits (above), or every other worker slot holds a running
 * worker asleep in a task (the pool at its cap: nothing can run what is
 * queued).  Relaxed: hints, the same as the pool's own test in worker.c;
 * a wrong guess costs one more slice, or an early error when it holds
 * for SHOAL__ROOM_HOPELESS slices. */
static bool shoal__room_hopeless(const struct shoal_runtime *rt)
{
	const struct shoal__rt_worker *ws = rt->v.workers;

	if (!rt->worker_slot)
		return false;
	if (shoal__room_cycle(rt))
		return true;
	for (uint32_t i = 0; i < rt->v.max_workers; i++)
		if (i + 1 != rt->worker_slot &&
		    (atomic_load_explicit(&ws[i].state, memory_order_relaxed) !=
			     SHOAL__WK_RUNNING ||
		     !atomic_load_explicit(&ws[i].blocked, memory_order_relaxed)))
			return false;
	return true;
}

/* A worker says so while a task it runs waits for room (relaxed: a hint
 * for the others' shoal__room_cycle). */
static void shoal__room_mark(const struct shoal_runtime *rt, uint32_t on)
{
	if (rt->worker_slot)
		atomic_store_explicit(&rt->v.workers[rt->worker_slot - 1].room_wait,
				      on, memory_order_relaxed);
}

static int shoal__task_wait_room(struct shoal_runtime *rt, uint32_t *idx,
				 struct shoal__later *later);

static int shoal__task_take_wait(struct shoal_runtime *rt, uint32_t *idx,
				 struct shoal__later *later)
{
	int rc = shoal__task_take(rt, idx);

	if (rc != -ENOSPC)
		return rc;
	if (later->timeout_ms == 0)
		return -EAGAIN;
	shoal__room_mark(rt, 1);
	rc = shoal__task_wait_room(rt, idx, later);
	shoal__room_mark(rt, 0);
	return rc;
}

static int shoal__task_wait_room(struct shoal_runtime *rt, uint32_t *idx,
				 struct shoal__later *later)
{
	struct shoal__room r = {.rt = rt, .idx = idx};
	const struct shoal__await w = {.ready = shoal__room_ready,
				       .sleeping = shoal__room_sleeping,
				       .arg = &r};
	struct shoal__event *ev = &rt->v.hdr->task_room;
	uint32_t hopeless = 0;
	int rc;

	for (;;) {
		struct shoal__deadline d = shoal__later_get(later);
		struct shoal__deadline slice = shoal__deadline_in(SHOAL__ROOM_SLICE_MS);

		if (shoal__deadline_passed(d))
			return -ETIMEDOUT;
		rc = shoal__event_await(ev, slice.ns < d.ns ? slice : d,
					shoal__store_spin(rt->store), &w);
		if (rc == 1)
			return 0;
		if (shoal__task_take(rt, idx) == 0)
			return 0;
		rc = shoal__rt_ended(rt);
		if (rc)
			return rc;
		if (shoal__room_hopeless(rt) && ++hopeless >= SHOAL__ROOM_HOPELESS)
			return SHOAL_EPOOLEXHAUSTED;
	}
}

/* Is another RUNNING worker the head?  Relaxed: a hint (POOL- of
 * proc/worker.c). */
bool shoal__pool_other_head(const struct shoal__rt_view *v, uint32_t me)
{
	for (uint32_t i = 0; i < v->max_workers; i++)
		if (i != me &&
		    atomic_load_explicit(&v->workers[i].state, memory_order_relaxed) ==
			    SHOAL__WK_RUNNING &&
		    atomic_load_explicit(&v->workers[i].head, memory_order_relaxed))
			return true;
	return false;
}

/* After a push: wakes a standby worker unless a head waits (POOL-S1 of
 * proc/worker.c: the pool's idle protocol).
 * Costs a fence and a load per worker slot up to the first head, and a
 * fence more (the signal's) when there is none. */
void shoal__pool_kick(const struct shoal__rt_view *v)
{
	atomic_thread_fence(memory_order_seq_cst); /* POOL-S1 */
	for (uint32_t i = 0; i < v->max_workers; i++)
		/* Relaxed: ordered by POOL-S1's fence. */
		if (atomic_load_explicit(&v->workers[i].head, memory_order_relaxed) &&
		    atomic_load_explicit(&v->workers[i].state, memory_order_relaxed) ==
			    SHOAL__WK_RUNNING)
			return;
	shoal__event_signal(&v->hdr->work);
}

shoal_id shoal__ret_id(shoal_id ret0, uint32_t i)
{
	ret0.hi = (ret0.hi & ~(0xffffull << 32)) | ((uint64_t)i << 32);
	return ret0;
}

shoal_id shoal__task_ret(const struct shoal__task_rec *t, uint32_t i)
{
	return shoal__ret_id((shoal_id){.hi = t->ret_hi, .lo = t->ret_lo}, i);
}

/* Promises n returns from ret0 on; on failure, aborts those made. */
int shoal__promise_returns(struct shoal_runtime *rt, shoal_id ret0, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		int rc = shoal__obj_promise(rt->store, shoal__ret_id(ret0, i), true, 0);

		if (rc) {
			while (i-- > 0)
				shoal_abort(rt->store, shoal__ret_id(ret0, i));
			return rc;
		}
	}
	return 0;
}

/* Holds every ref argument for the task's lifetime. */
int shoal__hold_args(struct shoal_runtime *rt,
			    const struct shoal_args *args, struct shoal__pending *p)
{
	for (uint32_t i = 0; i < args->n; i++) {
		int rc;

		if (args->a[i].kind != SHOAL_ARG_REF)
			continue;
		rc = shoal_hold(rt->store, args->a[i].ref);
		if (rc)
			return rc;
		p->drop[p->ndrop++] = args->a[i].ref;
	}
	return 0;
}

static int shoal__check_submit(struct shoal_runtime *rt, int fn,
			       const struct shoal_args *args,
			       uint32_t num_returns, int64_t deadline_ms,
			       const shoal_id *refs)
{
	if (!rt || !refs || fn < 0 || (uint32_t)fn >= rt->v.nfuncs)
		return -EINVAL;
	if (deadline_ms < 0 || deadline_ms > INT64_MAX / 1000000)
		return -EINVAL;
	if (num_returns == 0 || num_returns > SHOAL_MAX_RETURNS)
		return -EINVAL;
	return shoal__args_check(args);
}

/* Builds record idx (fit: its arguments as encoded), naming par as its
 * parent; on failure the caller undoes it. */
static int shoal__task_build(struct shoal_runtime *rt, uint32_t idx, int fn,
			     const struct shoal_args *args,
			     const struct shoal__parent *par,
			     const struct shoal_task_options *o,
			     struct shoal__pending *p, struct shoal_args *fit,
			     struct shoal__later *d)
{
	uint32_t num_returns = o->num_returns;
	struct shoal__task_rec *t = &rt->v.tasks[idx];
	/* Relaxed: our own record (BUILDING), for its generation. */
	uint64_t st = atomic_load_explicit(&t->state, memory_order_relaxed);
	shoal_id ret0 = shoal_id_next(rt->store);
	int rc;

	t->fn = (uint32_t)fn;
	t->num_returns = num_returns;
	t->retries = o->max_retries;
	t->submitter = shoal__store_creator(rt->store);
	t->submitted = shoal__ticks();
	t->parent = par->id;
	t->parent_gen = par->gen;
	t->parent_tag = par->tag;
	t->deadline = o->deadline_ms > 0
			      ? shoal__mono_ns() + (uint64_t)o->deadline_ms * 1000000u
			      : 0;
	t->ret_hi = ret0.hi;
	t->ret_lo = ret0.lo;
	p->ret0 = ret0;
	p->task = idx + 1;
	p->task_gen = SHOAL__TASK_GEN(st);
	rc = shoal__args_fit(rt, args, SHOAL__TASK_ARGS_INLINE, fit, p, d);
	if (!rc)
		rc = shoal__hold_args(rt, fit, p);
	if (!rc)
		rc = shoal__promise_returns(rt, ret0, num_returns);
	if (!rc) {
		t->args_len = shoal__args_encode(t->args, fit);
		t->nargs = fit->n;
	}
	return rc;
}

/* A field of a later release takes a reserved word: never the size. */
static_assert(sizeof(void *) != 8 || sizeof(struct shoal_task_options) == 48,
	      "ABI: shoal_task_options");

SHOAL_API int shoal_submit(struct shoal_runtime *rt, int fn,
			   const struct shoal_args *args, uint32_t num_returns,
			   shoal_id *refs)
{
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;

	o.num_returns = num_returns;
	return shoal_submit_opts(rt, fn, args, &o, refs);
}

SHOAL_API int shoal_submit_opts(struct shoal_runtime *rt, int fn,
				const struct shoal_args *args,
				const struct shoal_task_options *opts,
				shoal_id *refs)
{
	static const struct shoal_args none;
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	struct shoal_args fit;
	struct shoal__pending p; /* not zeroed: its drop list is room */
	struct shoal__later d;
	struct shoal__parent par;
	uint32_t idx, num_returns, gen;
	uint64_t born;
	int rc;

	if (shoal__rt_ro(rt))
		return SHOAL_EREADONLY;
	if (opts)
		o = *opts;
	if (!SHOAL__RESV_ZERO(o))
		return -EINVAL;
	d = shoal__later_in(o.timeout_ms); /* bounds every wait of the submit */
	num_returns = o.num_returns;
	p.ndrop = 0;
	p.made = 0;
	p.own_ret0 = false;
	p.task = 0;
	rc = shoal__check_submit(rt, fn, args, num_returns, o.deadline_ms, refs);

	if (!rc)
		rc = shoal__rt_ended(rt); /* an ended runtime runs nothing */
	if (rc)
		return rc;
	shoal__pending_collect(rt, 8);
	rc = shoal__task_take_wait(rt, &idx, &d);
	if (rc)
		return rc;
	par = shoal__cancel_parent(rt);
	rc = shoal__task_build(rt, idx, fn, args ? args : &none, &par, &o, &p,
			       &fit, &d);
	if (rc) {
		shoal__pending_drop(rt, &p);
		shoal__task_free(rt->store, &rt->v, idx);
		return rc;
	}
	SHOAL__STORE_CRASH(rt->store, TASK_BUILT);
	/* Read before parking: once queued the record may run and go. */
	for (uint32_t i = 0; i < num_returns; i++)
		refs[i] = shoal__task_ret(&rt->v.tasks[idx], i);
	p.ret0 = shoal__task_ret(&rt->v.tasks[idx], 0);
	p.nret = num_returns;
	/* Relaxed: a counter (statistics); our own record's generation. */
	atomic_fetch_add_explicit(&rt->v.hdr->tasks_submitted, 1, memory_order_relaxed);
	gen = SHOAL__TASK_GEN(atomic_load_explicit(&rt->v.tasks[idx].state,
						   memory_order_relaxed));
	/* TASK-S2: a parent cancelled recursively, before and after. */
	born = par.id ? shoal__cancel_inherited(rt, par.id, par.gen) : 0;
	shoal__dep_park(rt, idx, &fit, born);
	shoal__rt_task_published(rt, idx, gen); /* END-S1 of rtlayout.h */
	SHOAL__STORE_CRASH(rt->store, TASK_PUBLISHED);
	if (born)
		shoal__cancel_born(rt, p.ret0, num_returns, born);
	else if (par.id)
		shoal__cancel_inherit(rt, idx, gen, par.id, par.gen);
	if (p.ndrop)
		shoal__pending_add(rt, &p);
	return 0;
}


