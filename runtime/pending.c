/* SPDX-License-Identifier: MIT */
/*
 * runtime/pending.c - a submitter's holds on the ref arguments of its
 * pending tasks (Ray's USED_BY_PENDING_TASK references).
 *
 * shoal_submit holds every ref argument (and every by-value argument it
 * had to put into the store) so that it outlives the task even if the
 * caller drops it.  The holds are this process's, in its ledger; they are
 * dropped once the task is done, i.e. once its first return is ready.
 * That is checked lazily, oldest first, at each submit, and everything
 * left is dropped at shutdown (or by the reaper if the process dies).
 * The list is process-private, guarded by a mutex (any thread submits).
 */
#include <errno.h>
#include <string.h>

#include "../store/internal.h"
#include "../store/mem.h"
#include "internal.h"

void shoal__pending_drop(struct shoal_runtime *rt, const struct shoal__pending *p)
{
	for (uint32_t i = 0; i < p->ndrop; i++)
		shoal_drop(rt->store, p->drop[i]);
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
	atomic_store_explicit(&rt->pending_hint, rt->npending, memory_order_relaxed);
	pthread_mutex_unlock(&rt->pending_lock);
}

/* Drops the holds of up to max done tasks, oldest first. */
void shoal__pending_collect(struct shoal_runtime *rt, size_t max)
{
	size_t done = 0;

	/* Relaxed: a stale count only delays a collect to the next call. */
	if (!atomic_load_explicit(&rt->pending_hint, memory_order_relaxed))
		return;
	pthread_mutex_lock(&rt->pending_lock);
	while (done < max && done < rt->npending) {
		/* Settled, not just ready: once its holders dropped it, a
		 * result is freed and its ID may vanish from the directory. */
		if (!shoal__obj_settled(rt->store, rt->pending[done].ret0))
			break;
		shoal__pending_drop(rt, &rt->pending[done]);
		done++;
	}
	if (done) {
		memmove(rt->pending, rt->pending + done,
			(rt->npending - done) * sizeof *rt->pending);
		rt->npending -= done;
		atomic_store_explicit(&rt->pending_hint, rt->npending,
				      memory_order_relaxed);
	}
	pthread_mutex_unlock(&rt->pending_lock);
}

void shoal__pending_flush(struct shoal_runtime *rt)
{
	pthread_mutex_lock(&rt->pending_lock);
	for (size_t i = 0; i < rt->npending; i++)
		shoal__pending_drop(rt, &rt->pending[i]);
	rt->npending = 0;
	atomic_store_explicit(&rt->pending_hint, 0, memory_order_relaxed);
	shoal__mem_free(rt->arena, rt->pending);
	rt->pending = NULL;
	rt->pending_cap = 0;
	pthread_mutex_unlock(&rt->pending_lock);
}
