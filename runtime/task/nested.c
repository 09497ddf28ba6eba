/* SPDX-License-Identifier: MIT */
/*
 * runtime/nested.c - nested tasks deeper than the pool: an error, never a
 * silent hang.
 *
 * A worker that sleeps in a get inside a task is blocked; when every
 * running worker is, it asks the fork server for an extra one (worker.c),
 * so the pool grows while every worker is blocked, up to num_workers +
 * max_extra_workers.  It cannot grow further: the worker slots and the
 * store's process slots (each with its ledger) are laid out in the
 * segment at start, and a recursion that never bottoms out would
 * otherwise fork until the machine gives in.  Past that cap a task nested
 * one level deeper is queued, no worker is ever free to run it, and every
 * get above it waited for ever, in silence (12 levels on 2 workers stopped
 * at 10 workers).
 *
 * So the fork server, asked for a worker it cannot start, checks whether
 * the pool is deadlocked, and if it is, fails the tasks that can never run
 * with SHOAL_EPOOLEXHAUSTED: the get that cannot be served returns that
 * error, and it propagates up through the tasks above like any task
 * error, each of which frees its worker.  The check is exact, not "all
 * blocked and something queued": a blocked get may wait for what no task
 * makes (the driver's put, an actor's result), and then a queued task will
 * run once that get returns; failing it would be wrong.  Deadlocked means:
 *
 *   every worker slot holds a RUNNING worker, blocked (before and after
 *   the walk), and each of them waits for a return of a task that needs a
 *   worker (QUEUED, or WAITING for its arguments), or of a task RUNNING on
 *   a worker that is itself deadlocked (the closure over those edges).
 *
 * What a worker waits for: a thread asleep in shoal_get on an unsealed
 * object links a waiter record of its process slot into that entry's
 * waiter stack (store/waiters.c).  The check walks the stacks of the
 * returns of every task that is queued, waiting or running, and maps each
 * WAITING record to the worker whose pid owns its slot.  The stacks move
 * under the walk (it only reads; refs are bounds-checked and the walk is
 * bounded), which can only hide a waiter, so it can only miss a deadlock,
 * and a missed one is found again: blocked workers re-ask every second
 * (their gets wake once a second, store/object/).  A worker blocked in
 * shoal_get_many or shoal_wait, or with more threads asleep than waiter
 * records, links no record and is never counted: with such a worker the
 * check never fires (shoal/runtime.h says so).
 *
 * The victims are the QUEUED tasks whose returns a deadlocked worker waits
 * for; if workers wait only through WAITING tasks, the QUEUED tasks those
 * wait for (their error then resolves the waiting task, which is failed in
 * turn by a later check if still nobody can run it).  A victim is taken
 * with a CAS QUEUED -> RUNNING owned by SHOAL__TASK_OWNER_FS (so no worker
 * claims it and its queue item goes stale), its returns filled with the
 * error, its record freed.  The fork server is the only caller (one
 * thread): nothing here is shared but the segment.
 */
#include <stdio.h>

#include "ext.h"
#include "task_int.h"

#define SHOAL__NEST_NONE (-2)  /* waits for nothing a task here makes */
#define SHOAL__NEST_NEED (-1)  /* waits for a task that needs a worker */

/* A walk's findings about one object's waiters. */
#define SHOAL__BY_WORKER 1u    /* a blocked worker waits for it */
#define SHOAL__BY_TASK 2u      /* a parked task waits for it (deps.c) */

struct shoal__nest {
	struct shoal_store *s;
	const struct shoal__rt_view *v;
	struct shoal__task_rec *tasks;
	struct shoal__rt_worker *ws;
	uint32_t n;                          /* worker slots */
	int32_t on[SHOAL__RT_MAX_WORKERS];   /* what worker i waits for */
	bool stuck[SHOAL__RT_MAX_WORKERS];
};

/* Every worker slot holds a running worker, asleep in a get in a task.
 * Acquire on state (WK-A1): pairs with the fork server's and the worker's
 * release stores (WK-R1 of rtlayout.h); blocked is a relaxed hint (the
 * walk and the re-check after it decide). */
static bool shoal__nest_all_blocked(const struct shoal__nest *x)
{
	for (uint32_t i = 0; i < x->n; i++)
		if (atomic_load_explicit(&x->ws[i].state, memory_order_acquire) !=
			    SHOAL__WK_RUNNING ||
		    !atomic_load_explicit(&x->ws[i].blocked, memory_order_relaxed))
			return false;
	return true;
}

/* The worker whose process is pid, or UINT32_MAX.  Relaxed: a pid
 * compared with one a walk found (the walk's conclusions are re-checked). */
static uint32_t shoal__nest_worker_of(const struct shoal__nest *x, int32_t pid)
{
	for (uint32_t i = 0; i < x->n; i++)
		if (atomic_load_explicit(&x->ws[i].pid, memory_order_relaxed) == pid)
			return i;
	return UINT32_MAX;
}

/* Records that worker k waits for a task marked `mark`: NEED wins over an
 * edge to a running task's worker. */
static void shoal__nest_note(struct shoal__nest *x, uint32_t k, int32_t mark)
{
	if (mark == SHOAL__NEST_NEED || x->on[k] == SHOAL__NEST_NONE)
		x->on[k] = mark;
}

/* Walks the waiter stack of id (if unsealed): which blocked workers and
 * parked tasks wait for it.  Notes each worker with `mark` unless it is
 * NONE.  Returns SHOAL__BY_* bits. */
struct shoal__nest_visit {
	struct shoal__nest *x;
	int32_t mark;
	uint32_t found;
};

/* One waiter of the walked object: a parked task, or a thread whose
 * process is a worker. */
static void shoal__nest_visit_one(void *ctx, uint32_t kind, int32_t pid)
{
	struct shoal__nest_visit *nv = ctx;
	uint32_t k;

	if (kind == SHOAL__WKIND_TASK) {
		nv->found |= SHOAL__BY_TASK;
		return;
	}
	if (kind != SHOAL__WKIND_THREAD ||
	    (k = shoal__nest_worker_of(nv->x, pid)) == UINT32_MAX)
		return;
	nv->found |= SHOAL__BY_WORKER;
	if (nv->mark != SHOAL__NEST_NONE)
		shoal__nest_note(nv->x, k, nv->mark);
}

static uint32_t shoal__nest_walk(struct shoal__nest *x, shoal_id id, int32_t mark)
{
	struct shoal__nest_visit nv = {.x = x, .mark = mark};

	shoal__waiters_walk(x->s, id, shoal__nest_visit_one, &nv);
	return nv.found;
}

/* Walks the returns of record t (its phase already read). */
static uint32_t shoal__nest_walk_returns(struct shoal__nest *x,
					 const struct shoal__task_rec *t,
					 int32_t mark)
{
	uint32_t n = t->num_returns <= SHOAL_MAX_RETURNS ? t->num_returns : 1;
	uint32_t found = 0;

	for (uint32_t i = 0; i < n; i++)
		found |= shoal__nest_walk(x, shoal__task_ret(t, i), mark);
	return found;
}

/* Pass 1: what each worker waits for. */
static void shoal__nest_scan(struct shoal__nest *x)
{
	for (uint32_t i = 0; i < x->n; i++)
		x->on[i] = SHOAL__NEST_NONE;
	for (uint32_t idx = 0; idx < x->v->max_tasks; idx++) {
		const struct shoal__task_rec *t = &x->tasks[idx];
		/* TASK-A1: pairs with TASK-R1 (QUEUED) and with the claim's
		 * CAS, so the returns' ID read next is the record's current
		 * task's. */
		uint64_t st = atomic_load_explicit(&t->state, memory_order_acquire);
		uint32_t phase = SHOAL__TASK_PHASE(st), owner = SHOAL__TASK_OWNER(st);

		if (phase == SHOAL__T_QUEUED || phase == SHOAL__T_WAITING)
			shoal__nest_walk_returns(x, t, SHOAL__NEST_NEED);
		else if (phase == SHOAL__T_RUNNING && owner >= 1 && owner <= x->n)
			shoal__nest_walk_returns(x, t, (int32_t)owner - 1);
	}
}

/* The closure: a worker is stuck if it waits for a task that needs a
 * worker, or for one running on a stuck worker.  True if all are. */
static bool shoal__nest_all_stuck(struct shoal__nest *x)
{
	bool changed = true;

	for (uint32_t i = 0; i < x->n; i++)
		x->stuck[i] = x->on[i] == SHOAL__NEST_NEED;
	while (changed) {
		changed = false;
		for (uint32_t i = 0; i < x->n; i++) {
			if (x->stuck[i] || x->on[i] < 0 || !x->stuck[x->on[i]])
				continue;
			x->stuck[i] = changed = true;
		}
	}
	for (uint32_t i = 0; i < x->n; i++)
		if (!x->stuck[i])
			return false;
	return true;
}

/* Fails QUEUED record idx without running it; false if it left QUEUED. */
static bool shoal__nest_fail(struct shoal__nest *x, uint32_t idx)
{
	struct shoal__task_rec *t = &x->tasks[idx];
	/* Relaxed: a guess; the CAS below decides (TASK-A1). */
	uint64_t st = atomic_load_explicit(&t->state, memory_order_relaxed);
	uint32_t n = t->num_returns <= SHOAL_MAX_RETURNS ? t->num_returns : 1;
	char why[160];

	if (SHOAL__TASK_PHASE(st) != SHOAL__T_QUEUED ||
	    !atomic_compare_exchange_strong_explicit(
		    &t->state, &st,
		    SHOAL__TASK_STATE(SHOAL__TASK_GEN(st), SHOAL__T_RUNNING,
				      SHOAL__TASK_OWNER_FS),
		    memory_order_acquire, memory_order_relaxed)) /* TASK-A1 */
		return false;
	snprintf(why, sizeof why,
		 "%.63s could never run: all %u workers (num_workers + "
		 "max_extra_workers) are blocked in nested gets",
		 t->fn < x->v->nfuncs ? shoal__rt_fname(x->v, t->fn) : "?", x->n);
	for (uint32_t i = 0; i < n; i++)
		shoal__fill_error(x->s, shoal__task_ret(t, i), SHOAL_EPOOLEXHAUSTED,
				  why, 0); /* the fork server never waits */
	/* Relaxed: a counter (statistics). */
	atomic_fetch_add_explicit(&x->v->hdr->tasks_failed, 1, memory_order_relaxed);
	shoal__task_free(x->s, x->v, idx);
	return true;
}

/* Pass 2: fails the QUEUED tasks waited for by a worker (want
 * SHOAL__BY_WORKER) or by a parked task (SHOAL__BY_TASK).  The count. */
static uint32_t shoal__nest_fail_awaited(struct shoal__nest *x, uint32_t want)
{
	uint32_t failed = 0;

	for (uint32_t idx = 0; idx < x->v->max_tasks; idx++) {
		const struct shoal__task_rec *t = &x->tasks[idx];
		/* TASK-A1, as in shoal__nest_scan. */
		uint64_t st = atomic_load_explicit(&t->state, memory_order_acquire);

		if (SHOAL__TASK_PHASE(st) == SHOAL__T_QUEUED &&
		    (shoal__nest_walk_returns(x, t, SHOAL__NEST_NONE) & want) &&
		    shoal__nest_all_blocked(x))
			failed += shoal__nest_fail(x, idx);
	}
	return failed;
}

void shoal__nested_check(struct shoal_store *s, const struct shoal__rt_view *v)
{
	struct shoal__nest x = {.s = s, .v = v, .tasks = v->tasks,
				.ws = v->workers, .n = v->max_workers};

	if (x.n > SHOAL__RT_MAX_WORKERS || !shoal__nest_all_blocked(&x))
		return;
	shoal__nest_scan(&x);
	if (!shoal__nest_all_stuck(&x) || !shoal__nest_all_blocked(&x))
		return;
	if (!shoal__nest_fail_awaited(&x, SHOAL__BY_WORKER))
		shoal__nest_fail_awaited(&x, SHOAL__BY_TASK);
}
