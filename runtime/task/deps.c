/* SPDX-License-Identifier: MIT */
/*
 * runtime/deps.c - tasks parked on unsealed arguments.
 *
 * A task whose ref arguments are not all sealed when it is submitted does
 * not go to the run queue (no worker ever blocks waiting for an argument).
 * Its record turns WAITING, and for each unsealed argument i a node is
 * pushed onto that object's closable waiter stack (store/waiters.c): the
 * node is the record's dep_next[i] link, its reference a word of the
 * waiter kind SHOAL__WKIND_TASK (store/ext.h), whose handlers below every
 * process that links the runtime registers when the library loads.
 *
 * The record's deps word says what it still waits for: one bit per ref
 * argument not yet settled, the submitter's guard bit (up while it is still
 * pushing nodes, so the task cannot be queued half parked), and the low
 * bits of the record's generation.  Resolving argument i clears its bit
 * with a CAS that expects the generation: clearing a bit twice changes
 * nothing, and a stale node (a record reused since) clears nothing.  The
 * CAS that leaves no bit set moves the record WAITING -> QUEUED (release,
 * TASK-R1 of rtlayout.h) and pushes its item into the run queue.
 *
 * Who resolves: whoever seals or aborts the object closes its stack and,
 * for each task node, calls the kind's resolve handler (which checks that
 * the record's argument i is that object); a push that finds the stack
 * closed resolves at once.  Any process that links the runtime can do
 * this, a program that uses only its store API included; one that links
 * the store alone leaves the nodes to the sweep below.
 *
 * Crash safety.  A process killed after a seal and before its drain, or in
 * the middle of a drain, leaves nodes nobody will resolve; a submitter
 * killed while parking leaves its guard up; a process killed between its
 * QUEUED CAS and its push leaves a QUEUED record with no item.  The fork
 * server's watch (forkserver.c) repairs all three, every
 * SHOAL__FS_WATCH_MS: shoal__deps_sweep() clears the bits of arguments
 * that are settled (sealed, or gone) and the guard of a dead submitter,
 * after closing the stack of a settled argument that the record's node
 * still heads (a submitter killed between a push after the seal and its
 * own close of the stack, store/waiters.c: else the node would stay
 * linked once the record is freed and reused),
 * and the requeue sweep (exec.c) pushes again every QUEUED record that has
 * no item.  Both are idempotent beside a slow but live drainer.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "ext.h"
#include "task_int.h"
#include "queue.h"

/* A task node's reference: record idx (< SHOAL__RT_MAX_TASKS, 20 bits),
 * argument arg (4 bits), in the payload of kind SHOAL__WKIND_TASK. */
#define SHOAL__DEP_REF(idx, arg) SHOAL__WREF(SHOAL__WKIND_TASK, ((idx) << 4) | (arg))
#define SHOAL__DEP_IDX(ref) (SHOAL__WREF_PAYLOAD(ref) >> 4)
#define SHOAL__DEP_ARG(ref) (SHOAL__WREF_PAYLOAD(ref) & 0xfu)
static_assert(((uint64_t)SHOAL__RT_MAX_TASKS << 4) <= SHOAL__WREF_PAYLOAD_MASK + 1ull,
	      "a task node's reference fits the payload of a waiter reference");

/* WAITING -> QUEUED, then one push into the run queue: a full queue
 * leaves the record QUEUED with no item, which the fork server's requeue
 * sweep pushes later (never a wait here).  The cancel bits go with it: a
 * cancelled task is queued too, and its claim frees it (cancel.c). */
static void shoal__dep_queue(struct shoal_store *s, const struct shoal__rt_view *v,
			     uint32_t idx, uint32_t gen)
{
	struct shoal__task_rec *t = &v->tasks[idx];
	/* Relaxed: the CAS below decides; a failed one leaves it be. */
	uint64_t st = atomic_load_explicit(&t->state, memory_order_relaxed);
	uint32_t item = SHOAL__TASK_ITEM(idx, gen & 0xfffu);

	if (SHOAL__TASK_PHASE(st) != SHOAL__T_WAITING || SHOAL__TASK_GEN(st) != gen ||
	    !atomic_compare_exchange_strong_explicit(
		    &t->state, &st,
		    SHOAL__TASK_STATE(gen, SHOAL__T_QUEUED, 0) | SHOAL__TASK_FLAGS(st),
		    memory_order_release, memory_order_relaxed)) /* TASK-R1 */
		return;
	SHOAL__STORE_CRASH(s, DEP_QUEUED);
	if (shoal__queue_push_at(&v->queue, &item, 1, SHOAL__STORE_ARMING(s)))
		shoal__pool_kick(v); /* POOL-S1 */
}

/* Clears `bits` of record idx's deps if it is still generation gen's; the
 * clear that leaves nothing queues the task.  acq_rel (TASK-R4 and
 * TASK-A4 of rtlayout.h): the last clearer sees every other clearer's
 * view of its argument (all sealed).  Relaxed: the first load and a
 * failed CAS (the loop tries again from the value it read). */
static void shoal__dep_clear(struct shoal_store *s, const struct shoal__rt_view *v,
			     uint32_t idx, uint32_t gen, uint32_t bits)
{
	_Atomic uint32_t *deps = &v->tasks[idx].deps;
	uint32_t d = atomic_load_explicit(deps, memory_order_relaxed), n;

	do {
		if (SHOAL__DEP_GEN(d) != (gen & 0x7fffu) || !(d & bits))
			return;
		n = d & ~bits;
	/* TASK-R4, TASK-A4 */
	} while (!atomic_compare_exchange_weak_explicit(deps, &d, n,
							memory_order_acq_rel,
							memory_order_relaxed));
	if (!(n & SHOAL__DEP_WAITS))
		shoal__dep_queue(s, v, idx, gen);
}

/* Argument i of record t (nargs, args of the record) as a ref. */
static bool shoal__dep_arg_ref(const struct shoal__task_rec *t, uint32_t i,
			       shoal_id *id)
{
	const uint8_t *data;
	uint32_t kind, len;

	if (shoal__args_decode(t->args, t->nargs, t->args_len, i, &kind, &data,
			       &len) || kind != SHOAL_ARG_REF || len != sizeof *id)
		return false;
	memcpy(id, data, sizeof *id);
	return true;
}

/* The runtime's view of a store's region: the one its runtime set at
 * bind, or, for a handle no runtime opened (a store-only program sealing
 * an argument), one opened into *tmp from the header now, checked.  NULL
 * if there is no valid region. */
static const struct shoal__rt_view *shoal__dep_region(struct shoal_store *s,
						      struct shoal__rt_view *tmp)
{
	const struct shoal__rt_view *v = shoal__store_ext_view(s);
	uint64_t size;
	void *region;

	if (v)
		return v;
	region = shoal__store_ext(s, &size);
	return region && shoal__rt_view_open(tmp, region, size) == 0 ? tmp : NULL;
}

/* The kind's bound on the task nodes of one stack: every argument of
 * every record (SHOAL__DEP_REF has 4 bits for the argument). */
static uint64_t shoal__dep_max_nodes(struct shoal_store *s)
{
	struct shoal__rt_view tmp;
	const struct shoal__rt_view *v = shoal__dep_region(s, &tmp);

	return v ? (uint64_t)v->max_tasks * 16 : 0;
}

/* store/waiters.c, draining the closed stack of object `id`: resolves
 * one task node (if its record still waits for that object as argument
 * arg) and returns the next reference of the stack (0 ends it). */
static uint32_t shoal__dep_resolve(struct shoal_store *s, uint32_t ref,
				   shoal_id id)
{
	struct shoal__rt_view tmp;
	const struct shoal__rt_view *v = shoal__dep_region(s, &tmp);
	uint32_t idx = SHOAL__DEP_IDX(ref), arg = SHOAL__DEP_ARG(ref), next;
	struct shoal__task_rec *t;
	shoal_id want;
	uint64_t st;

	if (!v || idx >= v->max_tasks)
		return 0;
	t = &v->tasks[idx];
	/* Read before resolving: once queued, the record may be reused.
	 * WT-A1 of store/waiters.c: the closer's exchange made the link
	 * visible; this acquire pairs with nothing more. */
	next = atomic_load_explicit(&t->dep_next[arg], memory_order_acquire);
	/* TASK-A1: a WAITING record's arguments are the submitter's
	 * (TASK-R1). */
	st = atomic_load_explicit(&t->state, memory_order_acquire);
	if (SHOAL__TASK_PHASE(st) == SHOAL__T_WAITING &&
	    shoal__dep_arg_ref(t, arg, &want) && shoal_id_eq(want, id))
		shoal__dep_clear(s, v, idx, SHOAL__TASK_GEN(st), 1u << arg);
	return next;
}

/* One WAITING record: the bits of its settled arguments, and the guard of
 * a dead submitter. */
static void shoal__deps_sweep_one(struct shoal_store *s,
				  const struct shoal__rt_view *v, uint32_t idx)
{
	struct shoal__task_rec *t = &v->tasks[idx];
	/* TASK-A1: a WAITING record's arguments, and its deps word (stored
	 * before TASK-R1; relaxed below, the clear's CAS decides). */
	uint64_t st = atomic_load_explicit(&t->state, memory_order_acquire);
	uint32_t gen = SHOAL__TASK_GEN(st), d, clear = 0;
	shoal_id id;

	if (SHOAL__TASK_PHASE(st) != SHOAL__T_WAITING)
		return;
	d = atomic_load_explicit(&t->deps, memory_order_relaxed);
	if (SHOAL__DEP_GEN(d) != (gen & 0x7fffu))
		return;
	for (uint32_t i = 0; i < SHOAL__TASK_DEPS; i++) {
		if (!(d & (1u << i)) || !shoal__dep_arg_ref(t, i, &id) ||
		    !shoal__obj_settled(s, id))
			continue;
		/* Its node, if a submitter dead after a late push left it
		 * heading the sealed object's open stack: closed (and
		 * drained) first, so that it is off the stack before the
		 * record can be freed and reused. */
		shoal__waiters_close_node(s, id, SHOAL__DEP_REF(idx, i));
		clear |= 1u << i;
	}
	if ((d & SHOAL__DEP_GUARD) && shoal__creator_gone(s, t->submitter))
		clear |= SHOAL__DEP_GUARD;
	if (clear)
		shoal__dep_clear(s, v, idx, gen, clear);
}

void shoal__deps_sweep(struct shoal_store *s, const struct shoal__rt_view *v)
{
	uint32_t top = shoal__task_top(v);

	for (uint32_t i = 0; i < top; i++)
		shoal__deps_sweep_one(s, v, i);
}

/* The reference after task node ref in a waiter stack, without
 * resolving anything (walks); 0 for a bad node. */
static uint32_t shoal__dep_peek_next(struct shoal_store *s, uint32_t ref)
{
	struct shoal__rt_view tmp;
	const struct shoal__rt_view *v = shoal__dep_region(s, &tmp);
	uint32_t idx = SHOAL__DEP_IDX(ref), arg = SHOAL__DEP_ARG(ref);

	if (!v || idx >= v->max_tasks)
		return 0;
	/* WT-A1, as in shoal__dep_resolve: the walk's acquire of the head
	 * made the link visible. */
	return atomic_load_explicit(&v->tasks[idx].dep_next[arg],
				    memory_order_acquire);
}

static const struct shoal__waiter_ops shoal__dep_ops = {
	.name = "task",
	.max_nodes = shoal__dep_max_nodes,
	.resolve = shoal__dep_resolve,
	.peek_next = shoal__dep_peek_next,
};

/* Task nodes are resolved by every process that links the runtime, from
 * the moment the library is loaded: a program using only the store API of
 * a runtime's segment included.  (A static link pulls this file in with
 * the fork server's sweep or the submit path, i.e. with any runtime.) */
__attribute__((constructor)) static void shoal__deps_register(void)
{
	(void)shoal__waiter_kind_register(SHOAL__WKIND_TASK, &shoal__dep_ops);
}

/* Parks record idx on each of its unsealed ref arguments, or queues it if
 * there is none, with the cancel bits `flags` (0, or those it inherits
 * from a parent cancelled recursively: it is then dropped at its claim).
 * The submitter owns the record (BUILDING). */
void shoal__dep_park(struct shoal_runtime *rt, uint32_t idx,
		     const struct shoal_args *args, uint64_t flags)
{
	struct shoal__task_rec *t = &rt->v.tasks[idx];
	/* Relaxed: our own record (BUILDING). */
	uint64_t st = atomic_load_explicit(&t->state, memory_order_relaxed);
	uint32_t gen = SHOAL__TASK_GEN(st), waits = SHOAL__DEP_GUARD;

	for (uint32_t i = 0; i < args->n; i++)
		if (args->a[i].kind == SHOAL_ARG_REF)
			waits |= 1u << i;
	/* Relaxed: published with the record by the release below. */
	atomic_store_explicit(&t->deps, SHOAL__DEP_WORD(gen, waits),
			      memory_order_relaxed);
	atomic_store_explicit(&t->state, /* TASK-R1 */
			      SHOAL__TASK_STATE(gen, SHOAL__T_WAITING, 0) |
				      SHOAL__TASK_FLAGS(flags),
			      memory_order_release);
	SHOAL__STORE_CRASH(rt->store, DEP_PARKING);
	for (uint32_t i = 0; i < args->n; i++) {
		if (args->a[i].kind != SHOAL_ARG_REF)
			continue;
		if (!shoal__waiters_push_node(rt->store, args->a[i].ref,
					     SHOAL__DEP_REF(idx, i), &t->dep_next[i]))
			shoal__dep_clear(rt->store, &rt->v, idx, gen, 1u << i); /* settled */
	}
	shoal__dep_clear(rt->store, &rt->v, idx, gen, SHOAL__DEP_GUARD);
}
