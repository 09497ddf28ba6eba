/* SPDX-License-Identifier: MIT */
/*
 * runtime/pending.c - a submitter's holds on the ref arguments of its
 * pending tasks and calls (Ray's USED_BY_PENDING_TASK references).
 *
 * shoal_submit holds every ref argument (and every by-value argument it
 * had to put into the store) so that it outlives the task even if the
 * caller drops it.  The holds are this process's, in its ledger, and only
 * the owner writes its ledger (store/ledger.c): neither the worker that
 * ran the task nor the fork server can drop them for it.  So the submitter
 * drops them itself, once the task is done:
 *
 *   done   a task: its record has left that generation (the worker freed
 *          it after sealing every return, or the fork server after
 *          failing them), so a retry after a worker death, which needs the
 *          arguments again, keeps them; a call: its first return is
 *          settled (sealed, or gone once its holders dropped it).
 *          A task is done too once every return is settled: the worker
 *          is only freeing the record then, and no retry needs them.
 *   when   at each submit, call and drop, the done entries met (up to
 *          64) until 8 that are not done (a cursor goes round the list, at
 *          most once, so entries are found done in whatever order their
 *          tasks finish: a slow task no longer pins the ones behind it,
 *          and once up to 64 tasks are done one drop lets them all go);
 *          the whole list when a put finds no room
 *          (shoal__pending_put); the rest at shutdown (or by the reaper if
 *          the process dies).
 *
 * Waiting for room (shoal__pending_put).  A put that finds the store full
 * drops the holds of every task that is done, and tries again; if nothing
 * was done it sleeps on the store's space event until its deadline.  That
 * event is signalled by whatever frees room (a drop, a release, a reap:
 * store/object/) and, for this wait, by whoever ends a task or a call
 * (shoal__pending_task_ended: the worker after it freed the record, the
 * actor after a pass), since a task's end is room its submitter can now
 * free.  Register, re-check, sleep (base/event.c): the waiter registers
 * (seq_cst) and fences before it checks the records (EV-S1), the ender
 * stores the record's state before event_signal's seq_cst fence (EV-S2),
 * so either the check sees the task done or the signal sees the
 * waiter.  Ends the fork server makes after a worker death signal nothing:
 * the sleep comes in slices of SHOAL__ROOM_SLICE_MS, after which the
 * waiter re-checks (and reaps dead processes, whose holds may be what it
 * waits for).
 *
 * The list is process-private, guarded by a mutex (any thread submits).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "ext.h"
#include "mem.h"
#include "task_int.h"

#define SHOAL__ROOM_SLICE_MS 1000

/* A by-value argument's object is the runtime's own, its ID known to
 * nobody else: it is deleted, not left to eviction (a refused submit
 * leaves nothing in the store, and a done task's arguments take no room).
 * A worker or actor still reading it has it pinned: the delete ends it
 * at their release. */
void shoal__pending_drop(struct shoal_runtime *rt, const struct shoal__pending *p)
{
	for (uint32_t i = 0; i < p->ndrop; i++) {
		if (p->made & (1u << i))
			shoal_delete(rt->store, p->drop[i]);
		shoal_drop(rt->store, p->drop[i]);
	}
	if (p->own_ret0)
		shoal_drop(rt->store, p->ret0);
}

static bool shoal__pending_grow(struct shoal_runtime *rt)
{
	size_t cap = rt->pending_cap ? 2 * rt->pending_cap : 64;
	struct shoal__pending *n = shoal__mem_alloc(rt->arena, cap * sizeof *n);

	if (!n)
		return false;
	if (rt->npending)
		memcpy(n, rt->pending, rt->npending * sizeof *n);
	shoal__mem_free(rt->arena, rt->pending);
	rt->pending = n;
	rt->pending_cap = cap;
	return true;
}

void shoal__pending_add(struct shoal_runtime *rt, const struct shoal__pending *p)
{
	/* Out of memory: the holds stay until the store handle closes. */
	pthread_mutex_lock(&rt->pending_lock);
	if (rt->npending < rt->pending_cap || shoal__pending_grow(rt))
		rt->pending[rt->npending++] = *p;
	/* Relaxed, here and below: a hint for a check without the lock. */
	atomic_store_explicit(&rt->pending_hint, rt->npending, memory_order_relaxed);
	pthread_mutex_unlock(&rt->pending_lock);
}

/* The task or call of p is done: its argument holds may go. */
static bool shoal__pending_done(struct shoal_runtime *rt,
				const struct shoal__pending *p)
{
	uint64_t st;

	if (!p->task) /* a call: settled, not just ready, since a result is
		       * freed once its holders dropped it */
		return shoal__obj_settled(rt->store, p->ret0);
	/* Relaxed: only the phase and generation are read, and dropping a
	 * hold needs nothing the worker wrote (the entry's own CAS orders
	 * its pins and holds). */
	st = atomic_load_explicit(&rt->v.tasks[p->task - 1].state,
				  memory_order_relaxed);
	if (SHOAL__TASK_GEN(st) != p->task_gen ||
	    SHOAL__TASK_PHASE(st) == SHOAL__T_FREE)
		return true;
	/* Every return settled: the worker is only freeing the record, and
	 * no retry can need the arguments any more (it could fill nothing). */
	for (uint32_t i = 0; i < p->nret; i++)
		if (!shoal__obj_settled(rt->store, shoal__ret_id(p->ret0, i)))
			return false;
	return p->nret > 0;
}

/* Drops the holds of the done tasks it meets, going round the list from
 * the cursor at most once and stopping after max entries that are not
 * done, or SHOAL__PENDING_DONE_PER x max done ones; returns how many
 * tasks it let go.  Done entries count for less: each goes once, so their
 * cost is their own submit's, and a list of up to 64 done tasks is
 * emptied by one collect (with a budget of 8 entries, done or not, a drop
 * after many tasks ended let only a few go, and the rest kept their
 * arguments until later submits or drops); the cap keeps one drop from
 * paying for half a million at once (each drop of an argument may wait
 * up to its lock bound).  A done entry is replaced by the last one (order
 * does not matter: tasks end in any order). */
#define SHOAL__PENDING_DONE_PER 8u

static size_t shoal__pending_collect_locked(struct shoal_runtime *rt,
					    size_t max)
{
	size_t done = 0, busy = 0, i;
	size_t done_max = max > SIZE_MAX / SHOAL__PENDING_DONE_PER
				  ? SIZE_MAX
				  : max * SHOAL__PENDING_DONE_PER;

	i = rt->pending_next;
	for (size_t seen = 0, n = rt->npending;
	     busy < max && done < done_max && seen < n && rt->npending; seen++) {
		if (i >= rt->npending)
			i = 0;
		if (!shoal__pending_done(rt, &rt->pending[i])) {
			i++;
			busy++;
			continue;
		}
		shoal__pending_drop(rt, &rt->pending[i]);
		rt->pending[i] = rt->pending[--rt->npending];
		done++;
	}
	rt->pending_next = i;
	atomic_store_explicit(&rt->pending_hint, rt->npending, memory_order_relaxed);
	return done;
}

size_t shoal__pending_collect(struct shoal_runtime *rt, size_t max)
{
	size_t done;

	/* Relaxed: a stale count only delays a collect to the next call. */
	if (!atomic_load_explicit(&rt->pending_hint, memory_order_relaxed))
		return 0;
	pthread_mutex_lock(&rt->pending_lock);
	done = shoal__pending_collect_locked(rt, max);
	pthread_mutex_unlock(&rt->pending_lock);
	return done;
}

/* The store's on_drop hook of a runtime handle (runtime.c, worker.c): a
 * dropped result is often its task's end as the caller sees it, so a few
 * done entries go now, not at the next submit.  Never waits for the list
 * (another thread collecting, or this drop made by a collect itself). */
void shoal__pending_on_drop(void *ctx)
{
	struct shoal_runtime *rt = ctx;

	if (!atomic_load_explicit(&rt->pending_hint, memory_order_relaxed) ||
	    pthread_mutex_trylock(&rt->pending_lock))
		return;
	shoal__pending_collect_locked(rt, 8);
	pthread_mutex_unlock(&rt->pending_lock);
}

void shoal__pending_flush(struct shoal_runtime *rt)
{
	pthread_mutex_lock(&rt->pending_lock);
	for (size_t i = 0; i < rt->npending; i++)
		shoal__pending_drop(rt, &rt->pending[i]);
	rt->npending = 0;
	rt->pending_next = 0;
	atomic_store_explicit(&rt->pending_hint, 0, memory_order_relaxed);
	shoal__mem_free(rt->arena, rt->pending);
	rt->pending = NULL;
	rt->pending_cap = 0;
	pthread_mutex_unlock(&rt->pending_lock);
}

/* A task or call ended: wake a submitter that waits for room, since the
 * holds on its arguments can go now.  Call after the end is visible (the
 * record freed, the returns sealed); the signal's seq_cst fence (EV-S2)
 * orders it before the load of the waiters count.  Costs a fence when
 * nobody waits. */
void shoal__pending_task_ended(struct shoal_store *s)
{
	shoal__event_signal(shoal__store_space(s));
}

static bool shoal__no_room(int rc)
{
	return rc == SHOAL_ESTOREFULL || rc == -ENOSPC; /* bytes, max_objects */
}

/* One try: a put that may not wait; with no room, the holds of every done
 * task go and the put is tried again while that let anything go.
 * -EAGAIN when there is still no room (*err: the put's error). */
static int shoal__pending_try_put(struct shoal_runtime *rt, const void *data,
				  size_t size, shoal_id *out, int *err)
{
	for (;;) {
		int rc = shoal_put(rt->store, data, size, 0, out);

		if (!shoal__no_room(rc))
			return rc;
		*err = rc;
		if (!shoal__pending_collect(rt, SIZE_MAX))
			return -EAGAIN;
	}
}

struct shoal__put_await {
	struct shoal_runtime *rt;
	const void *data;
	size_t size;
	shoal_id *out;
	int *err;
	struct shoal__later *d;
	int rc;         /* out: the last try's */
};

/* The re-check (after shoal__event_await's fence, EV-S1): a try; ready
 * also once the caller's deadline passed. */
static bool shoal__put_ready(void *arg)
{
	struct shoal__put_await *p = arg;

	p->rc = shoal__pending_try_put(p->rt, p->data, p->size, p->out, p->err);
	return p->rc != -EAGAIN ||
	       shoal__deadline_passed(shoal__later_get(p->d));
}

/* Counts as blocked for a worker (more workers may start meanwhile). */
static void shoal__put_sleeping(void *arg, bool asleep)
{
	shoal__store_blocking(((struct shoal__put_await *)arg)->rt->store, asleep);
}

/*
 * Puts size bytes into the store for a task or call argument (held by
 * this process), waiting for room no later than d; while it waits it lets
 * go of the holds of its tasks that are done (see the file's header).
 * SHOAL_ESTOREFULL (or -ENOSPC) when there is still no room at d.
 */
int shoal__pending_put(struct shoal_runtime *rt, const void *data, size_t size,
		       struct shoal__later *d, shoal_id *out)
{
	struct shoal_store *s = rt->store;
	int err = SHOAL_ESTOREFULL;
	struct shoal__put_await p = {.rt = rt, .data = data, .size = size,
				     .out = out, .err = &err, .d = d};
	const struct shoal__await w = {.ready = shoal__put_ready,
				       .sleeping = shoal__put_sleeping,
				       .arg = &p};

	if (size > shoal__store_capacity(s))
		return SHOAL_ESTOREFULL; /* no wait can make it fit */
	/* A first try before anything else: a put that finds room never
	 * reads the clock (the deadline counts from the first wait). */
	p.rc = shoal__pending_try_put(rt, data, size, out, &err);
	if (p.rc != -EAGAIN)
		return p.rc;
	for (;;) {
		/* Sleeps until the space event changes or a slice ends: then
		 * reaps dead processes, whose holds may be the room. */
		struct shoal__deadline slice = shoal__deadline_in(SHOAL__ROOM_SLICE_MS);
		struct shoal__deadline by = shoal__later_get(d);
		int rc;

		if (slice.ns > by.ns)
			slice = by;
		rc = shoal__event_await(shoal__store_space(s), slice,
					shoal__store_spin(s), &w);
		if (rc == 1)
			return p.rc == -EAGAIN ? err : p.rc;
		if (rc == -ETIMEDOUT) /* within the put's time (proc.c, "Work") */
			shoal__store_reap_until(s, by);
	}
}
