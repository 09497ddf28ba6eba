/* SPDX-License-Identifier: MIT */
/*
 * runtime/deps.c - tasks parked on unsealed arguments.
 *
 * A task whose ref arguments are not all sealed when it is submitted does
 * not go to the run queue (no worker ever blocks waiting for an argument).
 * Its record turns WAITING, and for each unsealed argument i a node is
 * pushed onto that object's closable waiter stack (store/waiters.c): the
 * node is the record's dep_next[i] link, its reference a tagged word
 * (SHOAL__DEP_REF) that cannot be mistaken for a thread's waiter record.
 *
 * Whoever seals or aborts the object closes its stack and, for each task
 * node, calls shoal__dep_resolve(): one acq_rel decrement of the record's
 * deps counter; the one that brings it to zero moves the record WAITING ->
 * QUEUED (release, R3 of rtlayout.h) and pushes it into the run queue.
 * Any process that maps the segment can do this, a store-only program
 * included: everything needed is in the segment.
 *
 * The counter starts at 1, the submitter's guard, so the task cannot be
 * queued while its nodes are still being pushed; a push that finds the
 * stack closed (the object was sealed meanwhile) resolves at once.  The
 * submitter holds every argument (task.c), so an entry a node is linked
 * into cannot be reused before the node is drained.
 *
 * Crash safety: a submitter killed while parking leaves the guard up and
 * the record WAITING forever (a leaked record; its promises are aborted by
 * its reaper).  A process killed while draining a stack leaves the rest of
 * that stack undrained, like any waiter stack (waiters.c).
 */
#include <errno.h>
#include <sched.h>

#include "../store/internal.h"
#include "internal.h"
#include "queue.h"

#define SHOAL__DEP_BIT (1u << 31)
#define SHOAL__DEP_REF(idx, arg) (SHOAL__DEP_BIT | ((idx) << 4) | (arg))

bool shoal__dep_is_ref(uint32_t ref)
{
	return (ref & SHOAL__DEP_BIT) && ref != UINT32_MAX;
}

/* WAITING -> QUEUED, then into the run queue. */
static void shoal__dep_queue(struct shoal__rt_hdr *h, uint32_t idx)
{
	struct shoal__task_rec *t = &shoal__rt_tasks(h)[idx];
	uint64_t st = atomic_load_explicit(&t->state, memory_order_relaxed);
	uint32_t gen = SHOAL__TASK_GEN(st);
	uint32_t item = SHOAL__TASK_ITEM(idx, gen & 0xfffu);

	if (SHOAL__TASK_PHASE(st) != SHOAL__T_WAITING ||
	    !atomic_compare_exchange_strong_explicit(
		    &t->state, &st, SHOAL__TASK_STATE(gen, SHOAL__T_QUEUED, 0),
		    memory_order_release, memory_order_relaxed)) /* R3 */
		return;
	while (shoal__queue_push(shoal__rt_queue(h), &item, 1) == 0)
		sched_yield();
}

static void shoal__dep_done(struct shoal__rt_hdr *h, uint32_t idx)
{
	struct shoal__task_rec *t = &shoal__rt_tasks(h)[idx];

	if (atomic_fetch_sub_explicit(&t->deps, 1, memory_order_acq_rel) == 1)
		shoal__dep_queue(h, idx);
}

/* The runtime region of a store, checked (another process wrote it). */
static struct shoal__rt_hdr *shoal__dep_region(struct shoal_store *s)
{
	uint64_t size;
	struct shoal__rt_hdr *h = shoal__store_ext(s, &size);

	return h && shoal__rt_region_check(h, size) == 0 ? h : NULL;
}

/* store/waiters.c's bound on the task nodes of one stack: every argument
 * of every record (SHOAL__DEP_REF has 4 bits for the argument). */
uint64_t shoal__dep_max_refs(struct shoal_store *s)
{
	struct shoal__rt_hdr *h = shoal__dep_region(s);

	return h ? (uint64_t)h->max_tasks * 16 : 0;
}

/* store/waiters.c, draining a closed stack: resolves one task node and
 * returns the next reference of the stack (0 ends it). */
uint32_t shoal__dep_resolve(struct shoal_store *s, uint32_t ref)
{
	struct shoal__rt_hdr *h = shoal__dep_region(s);
	uint32_t idx = (ref & ~SHOAL__DEP_BIT) >> 4, arg = ref & 0xfu, next;
	struct shoal__task_rec *t;

	if (!h || idx >= h->max_tasks)
		return 0;
	t = &shoal__rt_tasks(h)[idx];
	/* Read before resolving: once queued, the record may be reused. */
	next = atomic_load_explicit(&t->dep_next[arg], memory_order_acquire);
	shoal__dep_done(h, idx);
	return next;
}

/* The reference after task node ref in a waiter stack, without
 * resolving anything (nested.c reads stacks); 0 for a bad node. */
uint32_t shoal__dep_peek_next(struct shoal__rt_hdr *h, uint32_t ref)
{
	uint32_t idx = (ref & ~SHOAL__DEP_BIT) >> 4, arg = ref & 0xfu;

	if (idx >= h->max_tasks)
		return 0;
	return atomic_load_explicit(&shoal__rt_tasks(h)[idx].dep_next[arg],
				    memory_order_acquire);
}

/* Parks record idx on each of its unsealed ref arguments, or queues it if
 * there is none.  The submitter owns the record (BUILDING). */
void shoal__dep_park(struct shoal_runtime *rt, uint32_t idx,
		     const struct shoal_args *args)
{
	struct shoal__task_rec *t = &rt->tasks[idx];
	uint64_t st = atomic_load_explicit(&t->state, memory_order_relaxed);

	atomic_store_explicit(&t->deps, 1, memory_order_relaxed); /* the guard */
	atomic_store_explicit(&t->state,
			      SHOAL__TASK_STATE(SHOAL__TASK_GEN(st), SHOAL__T_WAITING, 0),
			      memory_order_release);
	for (uint32_t i = 0; i < args->n; i++) {
		if (args->a[i].kind != SHOAL_ARG_REF)
			continue;
		atomic_fetch_add_explicit(&t->deps, 1, memory_order_relaxed);
		if (!shoal__waiters_push_dep(rt->store, args->a[i].ref,
					     SHOAL__DEP_REF(idx, i), &t->dep_next[i]))
			shoal__dep_done(rt->hdr, idx); /* sealed (or gone): resolved */
	}
	shoal__dep_done(rt->hdr, idx); /* drop the guard */
}
