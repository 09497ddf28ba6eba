/* SPDX-License-Identifier: MIT */
/*
 * runtime/task/deadworker.c - what a dead worker leaves, settled by the
 * fork server.
 *
 * A worker's death (forkserver.c), in two steps around the start of its
 * replacement: scan notes the records it ran; settle fails or retries
 * them and pushes again every queued record the queue no longer holds.
 * Neither waits: not for room in the store (errors are written with a
 * poll, exec.c's fill_error), nor in the queue (what does not fit is kept
 * for a later attempt).  A cancelled task is never retried: its returns
 * get the cancel's code instead of SHOAL_EWORKERDIED; one cancelled
 * recursively has its children (tasks and actor calls) cancelled again,
 * now complete: its process is gone, so nothing it made is still on its
 * way to its table or lanes.
 */
#include <string.h>

#include "ext.h"
#include "task_int.h"
#include "queue.h"

/* Fork server, after a worker died: its running task runs again if it
 * has retries left (RUNNING -> QUEUED; the re-queue sweep pushes it),
 * else fails (every return not sealed yet becomes a WORKERDIED error) and
 * its record is freed. */
static void shoal__fail_running(struct shoal_store *s, const struct shoal__rt_view *v,
				struct shoal__task_rec *t, uint32_t idx,
				const char *why)
{
	uint32_t n = t->num_returns <= SHOAL_MAX_RETURNS ? t->num_returns : 0;
	/* Relaxed: the dead worker's record, which only the fork server
	 * moves now (its settle acquired it, TASK-A1), but for a canceller's
	 * bits: the CAS below decides against them. */
	uint64_t st = atomic_load_explicit(&t->state, memory_order_relaxed);
	uint32_t gen = SHOAL__TASK_GEN(st);
	int code = SHOAL_EWORKERDIED;

	/* A cancelled task is never retried.  TASK-R1 (the record, for the
	 * retry's claim); a failure reads the canceller's bits. */
	while (t->retries > 0 && !(st & SHOAL__TASK_F_CANCEL)) {
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &st,
			    SHOAL__TASK_STATE(gen, SHOAL__T_QUEUED, 0) |
				    SHOAL__TASK_FLAGS(st),
			    memory_order_release, memory_order_relaxed)) { /* TASK-R1 */
			t->retries--;
			return;
		}
	}
	if (st & SHOAL__TASK_F_CANCEL) {
		code = shoal__cancel_code(st);
		why = shoal__cancel_why(code);
	}
	/* Cancelled recursively: its children, once more, now that it can
	 * make no more (cancel.c's scan may have missed what it published
	 * as its FORCE kill landed, or its canceller died in the scan). */
	if ((st & SHOAL__TASK_F_CANCEL) && (st & SHOAL__TASK_F_RECURSIVE))
		shoal__cancel_children(s, v, idx + 1, gen, 0,
				       st & (SHOAL__TASK_F_CANCEL | SHOAL__TASK_F_FORCE |
					     SHOAL__TASK_F_RECURSIVE),
				       0);
	for (uint32_t i = 0; i < n; i++)
		shoal__fill_error(s, shoal__task_ret(t, i), code, why,
				  0); /* the fork server never waits for room */
	/* Relaxed: a counter (statistics). */
	atomic_fetch_add_explicit(&v->hdr->tasks_failed, 1, memory_order_relaxed);
	shoal__task_free(s, v, idx);
}

/*
 * After worker `worker` died (its store slot reaped already), before the
 * fork server starts its replacement: repairs the run queue (positions
 * the dead worker claimed) and notes, into running[0 .. cap), the records
 * it was running.  Noted now because the replacement's claims carry the
 * same owner (worker + 1).  A worker runs one task at a time; more than
 * cap (a corrupt table) are left as they are.  Bounded: one pass over the
 * queue's cells and one over the task table, no wait.
 */
uint32_t shoal__exec_dead_worker_scan(const struct shoal__rt_view *v, uint32_t worker,
				      uint32_t *running, uint32_t cap)
{
	struct shoal__task_rec *tasks = v->tasks;
	uint32_t n = 0, top = shoal__task_top(v);

	/* No `lost` callback: the sweep of settle covers those items (it
	 * pushes every queued record the queue does not hold), and pushing
	 * from inside the repair could find the queue full of the very
	 * cells it has not released yet (queue.h). */
	shoal__queue_repair(&v->queue, NULL, NULL);
	for (uint32_t i = 0; i < top && n < cap; i++) {
		/* TASK-A1 (its phase and owner: the worker's claims) */
		uint64_t st = atomic_load_explicit(&tasks[i].state, memory_order_acquire);

		if (SHOAL__TASK_PHASE(st) == SHOAL__T_RUNNING &&
		    SHOAL__TASK_OWNER(st) == worker + 1)
			running[n++] = i;
	}
	return n;
}

static void shoal__mark_present(void *ctx, uint32_t item)
{
	struct shoal__requeue *r = ctx;
	uint32_t idx = SHOAL__ITEM_IDX(item);
	uint64_t st;

	if (idx >= r->max_tasks)
		return;
	/* Relaxed: only the generation is compared (a duplicate item is
	 * harmless: queue.h). */
	st = atomic_load_explicit(&r->v->tasks[idx].state,
				  memory_order_relaxed);
	if ((SHOAL__TASK_GEN(st) & 0xfffu) == SHOAL__ITEM_GEN(item))
		r->present[idx / 64] |= 1ull << (idx % 64);
}

/*
 * The items of every QUEUED record that has no item in the queue: those a
 * dead consumer took out without claiming them (popped in bulk, or a
 * claimed position the repair released), a retried task, and those of a
 * producer that died between its QUEUED CAS and its push.  The queue
 * holds each record at most once this way, so it has room for them unless
 * stale duplicates fill it: what does not fit waits in r->later.  A
 * producer still pushing, or a live worker holding a popped item, makes a
 * duplicate, which its claim CAS makes harmless (queue.h).
 */
void shoal__requeue_sweep(struct shoal__requeue *r)
{
	struct shoal__task_rec *tasks = r->v->tasks;
	uint32_t top = shoal__task_top(r->v);

	if (top > r->max_tasks) /* present and later are sized by our copy */
		top = r->max_tasks;

	memset(r->present, 0, ((r->max_tasks + 63) / 64) * sizeof *r->present);
	r->nlater = 0;
	shoal__queue_scan(&r->v->queue, shoal__mark_present, r);
	for (uint32_t i = 0; i < top; i++) {
		/* TASK-A1 (its phase and generation, for the item) */
		uint64_t st = atomic_load_explicit(&tasks[i].state, memory_order_acquire);

		if (SHOAL__TASK_PHASE(st) == SHOAL__T_QUEUED &&
		    !(r->present[i / 64] & (1ull << (i % 64))))
			r->later[r->nlater++] =
				SHOAL__TASK_ITEM(i, SHOAL__TASK_GEN(st) & 0xfffu);
	}
	shoal__requeue_retry(r);
}

/* Pushes what r->later holds, as far as the queue has room: one attempt,
 * never a wait (the fork server calls it again later). */
void shoal__requeue_retry(struct shoal__requeue *r)
{
	uint32_t n;

	if (!r->nlater)
		return;
	n = shoal__queue_push(&r->v->queue, r->later, r->nlater);
	if (n)
		shoal__pool_kick(r->v); /* POOL-S1 */
	memmove(r->later, r->later + n, (r->nlater - n) * sizeof *r->later);
	r->nlater -= n;
}

/* After the replacement started: the dead worker's running tasks run
 * again or fail, and every queued record the queue lost is pushed again
 * (what the queue has no room for stays in r->later). */
void shoal__exec_dead_worker_settle(struct shoal_store *s,
				    const struct shoal__rt_view *v, uint32_t worker,
				    const uint32_t *running, uint32_t n,
				    const char *why, struct shoal__requeue *r)
{
	struct shoal__task_rec *tasks = v->tasks;

	for (uint32_t k = 0; k < n; k++) {
		/* TASK-A1: the record fail_running reads. */
		uint64_t st = atomic_load_explicit(&tasks[running[k]].state,
						   memory_order_acquire);

		/* Only the dead worker moved its records: still RUNNING. */
		if (SHOAL__TASK_PHASE(st) == SHOAL__T_RUNNING &&
		    SHOAL__TASK_OWNER(st) == worker + 1)
			shoal__fail_running(s, v, &tasks[running[k]], running[k], why);
	}
	shoal__requeue_sweep(r);
}
