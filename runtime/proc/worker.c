/* SPDX-License-Identifier: MIT */
/*
 * runtime/worker.c - a worker process.
 *
 * Forked by the fork server (forkserver.c), which is its parent: it asks
 * the kernel for SIGKILL when that parent dies and re-checks getppid()
 * right after, since the parent may have died before the request.  It then
 * opens its own store handle on the inherited segment fd (never the fork
 * server's handle, whose memory it also inherited), marks its worker slot
 * RUNNING and wakes the driver's start (WK-R1 of rtlayout.h).  It takes
 * tasks from the run queue in bulk (exec.c runs each).  It leaves when the
 * runtime is stopping (STOP-A1),
 * always through _exit(): atexit handlers belong to the driver's program.
 * What its tasks wrote to stdout and stderr is flushed after each task
 * (child.c), so that it is out even if the worker dies next.
 *
 * Idle workers: one head, the others on standby.  An idle worker that
 * finds no other head (a RUNNING worker whose `head` word is up) becomes
 * the head: it waits on the run queue's wake line, spinning first while
 * spinning pays (fewer spinners than CPUs - 1), then asleep on it.  Every
 * other idle worker stands by on the header's `work` event, which a push
 * signals only when no head waits (shoal__pool_kick, task.c, after
 * every push).
 * So a push the head takes wakes nobody else: with every idle worker on
 * the wake line, each push's FUTEX_WAKE woke them all (one system call
 * and a context switch per task on 2 CPUs, the spinner taking the task
 * anyway).  A worker that pops and leaves items behind kicks the pool
 * (a standby worker helps); one that took the last item does not.  A
 * worker raises its head word as soon as the function of the last item
 * it popped returned (exec.c), if no other worker is the head: it looks
 * at the queue next, so a submitter that got the result and submits
 * again wakes nobody (the sync round trip's case).
 *
 * Memory order (POOL-): a lost wake-up would leave a pushed item to a
 * standby worker's next slice (SHOAL__WORKER_SLICE_MS), never for ever.
 *  POOL-S1 (POOL-S2)  the pusher publishes its item (Q-R1), fences
 *          (seq_cst) and loads every worker's head word: it sees a head
 *          (which pops the item, below) or no head, and signals `work`
 *          (EV-S2: a standby worker registered before sees the bump, one
 *          registering later re-checks the queue, EV-S1).
 *  POOL-S2 (POOL-S1)  a head puts its word down (seq_cst store), fences,
 *          then looks at the queue (a pop after its wait; the length,
 *          after a pop made while the word was up): if the pusher's load
 *          saw the word still up, the store comes after the pusher's
 *          fence in S, so that look sees the item (and pops it, or kicks
 *          for it).  A raised word is followed by a look at the queue:
 *          the pop of the worker's next step, or its wait's re-check.
 *  relaxed  the head word's raise and the loads that choose the head
 *          (two heads or none for a moment cost a spare wake-up, or a
 *          standby sleep that the next push's kick ends).
 * A head killed with its word up is seen as a head until the fork server
 * reaps it (state no longer RUNNING); a push in that window waits for a
 * standby worker's slice at most.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ext.h"
#include "mem.h"
#include "proc_int.h"
#include "queue.h"

#define SHOAL__WORKER_SLICE_MS 1000
#define SHOAL__WORKER_BATCH 16

struct shoal__worker {
	struct shoal_store *store;
	const struct shoal__rt_view *v;
	struct shoal__rt_worker *me;
	struct shoal_runtime rt;  /* this process's handle, for the tasks */
	uint32_t index;
	uint32_t spin;
	int spawn_fd;             /* asks the fork server for an extra worker */
	bool extra;               /* beyond num_workers: retires when idle */
	uint32_t max_spinners;    /* online CPUs - 1 */
};

static int shoal__worker_attach(const struct shoal__boot *boot, uint32_t index,
				struct shoal__worker *w)
{
	char label[SHOAL__TL_LABEL];
	int rc = shoal_store_attach_fd(boot->seg_fd, &w->store);

	if (rc)
		return rc;
	w->rt.reg = boot->reg;
	w->rt.ctl_fd = w->rt.fs_pidfd = -1;
	shoal__rt_local_init(&w->rt);
	if (shoal__mem_open(&w->rt.arena))
		return -ENOMEM;
	rc = shoal__rt_bind(&w->rt, w->store); /* the view: checked, private */
	if (rc)
		return rc;
	if (index >= w->rt.v.max_workers)
		return -EINVAL;
	w->me = &w->rt.v.workers[index];
	w->index = index;
	w->rt.worker_slot = index + 1;
	snprintf(label, sizeof label, "worker %u", index);
	shoal__tl_open(&w->rt.tl, &w->rt.v, shoal__store_creator(w->store), label);
	shoal__rt_warm(&w->rt); /* before RUNNING: part of the start */
	w->spin = boot->spin_budget;
	return 0;
}

static bool shoal__stopping(const struct shoal__worker *w)
{
	/* STOP-A1 */
	return atomic_load_explicit(&w->rt.v.hdr->stopping, memory_order_acquire);
}

static void shoal__announce_running(struct shoal__worker *w)
{
	shoal__publish_self(&w->me->pid, &w->me->start); /* child.c */
	atomic_store_explicit(&w->me->state, SHOAL__WK_RUNNING,
			      memory_order_release); /* WK-R1 */
	shoal__event_signal(&w->rt.v.hdr->ready);
}

/* In bulk, but no more than this worker's share of the queue, so that a
 * long task never holds short ones back while another worker idles. */
static uint32_t shoal__worker_share(const struct shoal__worker *w)
{
	uint32_t workers = w->rt.v.num_workers ? w->rt.v.num_workers : 1;
	uint32_t share = shoal__queue_len(&w->rt.v.queue) / workers;

	return share < 1 ? 1 : share > SHOAL__WORKER_BATCH ? SHOAL__WORKER_BATCH : share;
}

/* True when every running worker is asleep in a task.  Relaxed: hints
 * (below; nested.c re-checks with WK-A1). */
bool shoal__all_blocked(const struct shoal__rt_view *v)
{
	struct shoal__rt_worker *ws = v->workers;

	for (uint32_t i = 0; i < v->max_workers; i++)
		if (atomic_load_explicit(&ws[i].state, memory_order_relaxed) ==
			    SHOAL__WK_RUNNING &&
		    !atomic_load_explicit(&ws[i].blocked, memory_order_relaxed))
			return false;
	return true;
}

/*
 * The store calls this around every sleep of a get inside a task.  When
 * every running worker is asleep so, nothing can run the tasks they wait
 * for (nested tasks deeper than the pool): ask the fork server for an
 * extra worker (or, with the pool at its cap, to check for a deadlock:
 * nested.c).  Relaxed counts: a missed request is repeated by the next
 * blocking get (a get re-blocks once a second), a spurious one costs an
 * idle worker that retires.
 */
static void shoal__worker_blocked(void *ctx, bool blocked)
{
	struct shoal__worker *w = ctx;
	uint64_t one = 1;

	atomic_store_explicit(&w->me->blocked, blocked, memory_order_relaxed);
	if (blocked && shoal__all_blocked(&w->rt.v) &&
	    write(w->spawn_fd, &one, sizeof one) < 0)
		return; /* the fork server is gone: shutting down */
}

/* POOL-S2: the word down, then a fence, before the queue is looked at. */
static void shoal__worker_head_down(struct shoal__worker *w)
{
	atomic_store_explicit(&w->me->head, 0, memory_order_seq_cst); /* POOL-S2 */
	atomic_thread_fence(memory_order_seq_cst); /* POOL-S2 */
}

/* The head's spin: an item at the queue's head, or the runtime stopping
 * (relaxed, both: hints; the step's pop and the loop's STOP-A1 decide). */
static bool shoal__head_sees(void *arg)
{
	const struct shoal__worker *w = arg;

	return shoal__queue_seen(&w->rt.v.queue) ||
	       atomic_load_explicit(&w->rt.v.hdr->stopping, memory_order_relaxed);
}

/* Spin only while it can pay: fewer spinners than CPUs - 1 (a spinner
 * must not take the CPU of the process that would hand it work); the
 * head alone spins, so that is one spinner with 2 CPUs or more, none
 * with one (it sleeps on the wake line at once).  It spins on the cell a
 * push writes, unregistered, so a push to a spinning head signals
 * nobody (the wake line stays in both caches, unwritten); only then
 * does it register on the wake line and sleep.  The stopping word is
 * watched too: shutdown's signal of the wake line finds no waiter. */
static int shoal__worker_head_wait(struct shoal__worker *w,
				   struct shoal__deadline d)
{
	uint32_t spin = w->max_spinners ? w->spin : 0;
	int rc = 0;

	/* Relaxed: POOL- of the header. */
	atomic_store_explicit(&w->me->head, 1, memory_order_relaxed);
	if (!shoal__spin_until(shoal__head_sees, w, spin, d))
		rc = shoal__queue_wait(&w->rt.v.queue, d, 0);
	shoal__worker_head_down(w);
	return rc;
}

static bool shoal__standby_ready(void *arg)
{
	const struct shoal__worker *w = arg;

	/* A push to take, or no head any more (this worker becomes it):
	 * relaxed loads after the await's EV-S1 fence. */
	return shoal__queue_len(&w->rt.v.queue) > 0 ||
	       !shoal__pool_other_head(&w->rt.v, w->index);
}

/* Sleeps on `work` until a kick, a push seen by the re-check, or d
 * (EV-S1: registered before the re-check; POOL-S1 is the kick's side). */
static int shoal__worker_standby(struct shoal__worker *w,
				 struct shoal__deadline d)
{
	int rc = shoal__event_await(&w->rt.v.hdr->work, d, 0, &(struct shoal__await){
		.ready = shoal__standby_ready, .arg = w});

	return rc == 1 ? 0 : rc;
}

/* Idle: the head waits on the queue, every other worker stands by. */
static int shoal__worker_idle(struct shoal__worker *w)
{
	struct shoal__deadline d = shoal__deadline_in(SHOAL__WORKER_SLICE_MS);

	/* Relaxed: its own word (raised by exec.c after its last item). */
	if (atomic_load_explicit(&w->me->head, memory_order_relaxed) ||
	    !shoal__pool_other_head(&w->rt.v, w->index))
		return shoal__worker_head_wait(w, d);
	return shoal__worker_standby(w, d);
}

/* Runs what the queue has; sleeps on it when it is empty.  False when an
 * idle extra worker should retire. */
static bool shoal__worker_step(struct shoal__worker *w)
{
	uint32_t items[SHOAL__WORKER_BATCH];
	uint32_t n = shoal__queue_pop_at(&w->rt.v.queue, items, shoal__worker_share(w),
					 SHOAL__STORE_ARMING(w->rt.store));

	if (n == 0) {
		int rc = shoal__worker_idle(w);

		if (rc == -ETIMEDOUT)
			shoal__lanes_sweep(&w->rt); /* lanes into dead actors */
		return !(rc == -ETIMEDOUT && w->extra &&
			 shoal__queue_len(&w->rt.v.queue) == 0);
	}
	shoal__worker_head_down(w); /* if exec.c raised it: busy now */
	if (shoal__queue_len(&w->rt.v.queue)) /* more: a standby one helps */
		shoal__pool_kick(&w->rt.v);
	for (uint32_t i = 0; i < n; i++) /* flushes stdio */
		shoal__exec_item(&w->rt, w->index, items[i], i + 1 == n);
	/* Relaxed: a counter (statistics). */
	atomic_fetch_add_explicit(&w->me->tasks_run, n, memory_order_relaxed);
	return true;
}

_Noreturn void shoal__worker_main(const struct shoal__boot *boot, uint32_t index,
				  int spawn_fd)
{
	struct shoal__worker w = {0};
	bool retire = false;

	if (shoal__worker_attach(boot, index, &w))
		_exit(1);
	w.spawn_fd = spawn_fd;
	w.extra = index >= w.rt.v.num_workers;
	w.max_spinners = sysconf(_SC_NPROCESSORS_ONLN) > 1
				 ? (uint32_t)sysconf(_SC_NPROCESSORS_ONLN) - 1 : 0;
	shoal__store_set_role(w.store, SHOAL__ROLE_WORKER);
	shoal__store_set_hooks(w.store, &(struct shoal__store_hooks){
		.on_block = shoal__worker_blocked, .on_block_ctx = &w,
		.on_drop = shoal__pending_on_drop, /* nested tasks' holds */
		.on_drop_ctx = &w.rt});
	shoal__announce_running(&w);
	while (!shoal__stopping(&w) && !retire)
		retire = !shoal__worker_step(&w);
	if (retire) /* the fork server neither counts nor replaces it: WK-R1 */
		atomic_store_explicit(&w.me->state, SHOAL__WK_RETIRED,
				      memory_order_release);
	shoal__lanes_close(&w.rt);
	shoal__names_close(&w.rt);
	shoal__pending_flush(&w.rt);
	shoal_store_close(w.store);
	shoal__child_flush();
	_exit(0);
}
