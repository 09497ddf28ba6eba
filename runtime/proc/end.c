/* SPDX-License-Identifier: MIT */
/*
 * runtime/proc/end.c - the sweep at a runtime's end: once no worker,
 * actor or fork server process is left, every pending task and call fails
 * with the end's code (life.c says when a runtime ends and who notices).
 *
 * The sweep (shoal__rt_sweep) runs only once no worker, actor or fork
 * server process is left (looked up by pid + start time in the store's
 * process table; a bounded wait, SHOAL__SWEEP_WAIT_MS, for processes the
 * kernel is still killing; past it the sweep is left to the next probe):
 * so no consumer of the run queue or of a lane is alive, and no task can
 * still be running.  The fork server sweeps after it reaped its children
 * (shutdown, the driver's death); any process sweeps when it finds the
 * fork server dead and no complete sweep done.  It reaps the store (the
 * dead children's half-done fills), stores sweep = 1 (END-S2), then claims
 * every QUEUED, WAITING or RUNNING task record (one CAS to RUNNING owned
 * by SHOAL__TASK_SWEPT), then writes the code into the returns of every
 * claimed record, and drains every lane in use with the code; then
 * sweep = 2 (END-R3).  Records are never freed again (the runtime is
 * over, and a WAITING record may still be linked in a waiter stack).
 * Repeating it is harmless: a sweeper killed half-way is followed by the
 * next prober (sweep stays below 2), and an error written twice is
 * written once (fill_error finds it sealed).
 *
 * END-S1/END-S2 of rtlayout.h, a submit or a call racing with the end.
 * The submitter publishes its record (QUEUED or WAITING, TASK-R1 of
 * rtlayout.h), fences (seq_cst) and loads sweep; a sweeper stores sweep
 * (seq_cst), fences and scans.  Either the scan sees the record, or the
 * submitter sees the sweep begun and fails its own record (the same claim
 * CAS: one of the two wins).  A caller's publish ends with the doorbell's
 * seq_cst fence; if it then sees the sweep begun, it drains its own lane
 * (the actor process is gone: a sweep begins only then).
 */
#include <errno.h>
#include <linux/futex.h>
#include <time.h>
#include <unistd.h>

#include "ext.h"
#include "proc_int.h"
#include "lane.h"

#define SHOAL__SWEEP_WAIT_MS 1000

/* Any worker, actor or fork server process still alive: by its live
 * store slot (pid + start time decide), or, if it has none (not attached
 * yet, or reaped), by its pid in /proc with the start time the fork
 * server recorded when it forked it (store/ext.h, shoal__pid_alive). */
static bool shoal__children_alive(struct shoal_store *s,
				  const struct shoal__rt_view *v)
{
	struct shoal__rt_worker *w = v->workers;
	struct shoal__actor_slot *a = v->actors;

	/* Relaxed: a pid, tested with no start time (any such process). */
	if (shoal__pid_alive(s, atomic_load_explicit(&v->hdr->fs_pid, memory_order_relaxed),
			     0))
		return true;
	for (uint32_t i = 0; i < v->max_workers; i++) {
		/* WK-A1 */
		uint32_t st = atomic_load_explicit(&w[i].state, memory_order_acquire);
		/* WK-A1: the start time stored before it (forkserver.c),
		 * then read relaxed. */
		int32_t pid = atomic_load_explicit(&w[i].pid, memory_order_acquire);

		if ((st == SHOAL__WK_STARTING || st == SHOAL__WK_RUNNING) &&
		    shoal__pid_alive(s, pid, atomic_load_explicit(
					     &w[i].start, memory_order_relaxed)))
			return true;
	}
	for (uint32_t i = 0; i < v->max_actors; i++) {
		/* ACT-A4 of actlayout.h: the start time, as for a worker. */
		int32_t pid = atomic_load_explicit(&a[i].pid, memory_order_acquire);

		if (shoal__pid_alive(s, pid, atomic_load_explicit(
						     &a[i].start, memory_order_relaxed)))
			return true;
	}
	return false;
}

/* Waits until no child is alive, up to SHOAL__SWEEP_WAIT_MS: they were
 * killed (PR_SET_PDEATHSIG, or the fork server's SIGKILL) and the kernel
 * is tearing them down; a bounded poll, since nothing wakes us when a
 * process that is not our child exits.  False at the bound. */
static bool shoal__children_gone(struct shoal_store *s,
				 const struct shoal__rt_view *v)
{
	struct shoal__deadline d = shoal__deadline_in(SHOAL__SWEEP_WAIT_MS);
	struct timespec tick = {0, 1000000};

	while (shoal__children_alive(s, v)) {
		if (shoal__deadline_passed(d))
			return false;
		nanosleep(&tick, NULL);
	}
	return true;
}

/*
 * Every record is claimed before any error is written: an error sealed
 * resolves the tasks that wait on it (deps.c), which would push them into
 * a run queue nobody pops any more, and a full one would never take them;
 * claimed, they are no longer WAITING, and deps.c leaves them be.  The
 * scan stops at the task top, loaded after the END-S2 fence: a submitter
 * raised it before its publish, so a record above it is one whose
 * submitter sees the sweep begun.
 */
void shoal__rt_sweep(struct shoal_store *s, const struct shoal__rt_view *v)
{
	struct shoal__lane_meta *m = v->lmeta;
	/* END-A1 */
	int code = atomic_load_explicit(&v->hdr->ended, memory_order_acquire);
	uint32_t top;

	if (!code || !shoal__children_gone(s, v))
		return;
	/* The dead processes' fills, intents and ledgers, which the sweep
	 * needs undone; their orphan scans (store/proc.c, "Work") are left
	 * to later reaps: this runs inside whichever caller's wait noticed
	 * the end, and a whole scan per dead process is a second or more
	 * in a coverage build. */
	shoal__store_reap_until(s, (struct shoal__deadline){0});
	atomic_store_explicit(&v->hdr->sweep, 1, memory_order_seq_cst); /* END-S2 */
	atomic_thread_fence(memory_order_seq_cst); /* END-S2 */
	top = shoal__task_top(v);
	for (uint32_t i = 0; i < top; i++)
		shoal__sweep_claim(v, i, UINT32_MAX, true);
	SHOAL__STORE_CRASH(s, SWEEP_CLAIMED);
	for (uint32_t i = 0; i < top; i++) {
		/* TASK-A1: the claimed record sweep_fail reads. */
		uint64_t st = atomic_load_explicit(&v->tasks[i].state,
						   memory_order_acquire);

		if (SHOAL__TASK_PHASE(st) == SHOAL__T_RUNNING &&
		    SHOAL__TASK_OWNER(st) == SHOAL__TASK_SWEPT)
			shoal__sweep_fail(s, v, i, code);
	}
	SHOAL__STORE_CRASH(s, SWEEP_FAILED);
	for (uint32_t i = 0; i < v->max_lanes; i++) {
		/* LP-A1 of actlayout.h: the lane in use. */
		uint32_t st = SHOAL__LANE_PHASE(
			atomic_load_explicit(&m[i].state, memory_order_acquire));

		if (st == SHOAL__L_OWNED || st == SHOAL__L_CLOSED)
			shoal__lane_drain(s, v, (struct shoal__lane_pos){.lane = i},
					  code, shoal__end_why(code));
	}
	SHOAL__STORE_CRASH(s, SWEEP_DRAINED);
	atomic_store_explicit(&v->hdr->sweep, 2, memory_order_release); /* END-R3 */
}

