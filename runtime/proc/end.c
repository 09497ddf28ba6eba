/* SPDX-License-Identifier: MIT */
/*
 * runtime/end.c - the ends of a runtime's life: shutdown, the driver's
 * death, the fork server's death.
 *
 * A runtime ends once (v->hdr->ended, E1): with SHOAL_ESTOPPED when its
 * driver shuts it down or dies (the driver, or the fork server, stores
 * it), with SHOAL_EFORKSERVERDIED when the fork server dies first
 * (whoever finds it dead stores it).  From then on a submit, a call, an
 * actor create or kill returns that code at once, and every task and call
 * still pending fails with it (the sweep, below): nobody waits for work
 * that no process will ever do.
 *
 * Finding the fork server dead.  It holds a robust mutex of the region
 * (v->hdr->fs_alive) from its start to its exit and never unlocks it: when it
 * dies, whatever kills it, the kernel marks the mutex OWNER_DIED (its
 * robust list), and a trylock tells: EBUSY while it lives.  No pid, no
 * /proc, no timeout, no system call.  Cheaper still, and what every
 * submit and call does first: the mutex's futex word read, not written
 * (glibc's; the kernel's robust-futex ABI says what it holds): while it
 * holds the fork server's TID without FUTEX_OWNER_DIED, the fork server
 * lives (it locked it from its only thread, whose TID is fs_pid); on
 * anything else the trylock decides.  The first prober after the
 * death gets EOWNERDEAD; it stores fs_gone (sticky, in the header), then
 * unlocks without making the mutex consistent.  Every later probe reads
 * fs_gone first: the mutex alone does not keep saying so (the next
 * trylock gets ENOTRECOVERABLE, and glibc's leaves the mutex taken, so
 * the ones after it read EBUSY, as if the fork server lived; a prober that
 * set `ended` but lost that race never swept, nor did anyone after it).  A
 * prober killed between its EOWNERDEAD and its store leaves the mutex to
 * the kernel again (it is robust), and the next gets EOWNERDEAD.  The kernel can mark the mutex only where the dead process
 * still maps it: the fork server unmaps the segment (closes its store)
 * only on its way out, after the runtime ended (SHOAL_ESTOPPED) and its
 * sweep completed, so a probe that finds the mutex held by a process that
 * exited that way is answered by `ended` first.
 *
 * Who notices.  Every submit, call, actor create and kill probes first.
 * So does every wake-up of a wait through a runtime handle of the driver
 * or of an attached program (the store's on_block hook): a get of a
 * result that will never come sleeps at most one slice of the store's
 * waits (a second) before it probes.  Workers and actors die with the fork
 * server (PR_SET_PDEATHSIG) and need not notice.  A process that waits
 * through a store handle of its own, not the runtime's, is not woken by
 * its own probes: it hears of the end when another process sweeps.
 *
 * The sweep (shoal__rt_sweep) runs only once no worker, actor or fork
 * server process is left (looked up by pid + start time in the store's
 * process table; a bounded wait, SHOAL__SWEEP_WAIT_MS, for processes the
 * kernel is still killing; past it the sweep is left to the next probe):
 * so no consumer of the run queue or of a lane is alive, and no task can
 * still be running.  The fork server sweeps after it reaped its children
 * (shutdown, the driver's death); any process sweeps when it finds the
 * fork server dead and no complete sweep done.  It reaps the store (the
 * dead children's half-done fills), stores sweep = 1 (E2), then claims
 * every QUEUED, WAITING or RUNNING task record (one CAS to RUNNING owned
 * by SHOAL__TASK_SWEPT), then writes the code into the returns of every
 * claimed record, and drains every lane in use with the code; then sweep
 * = 2.  Records are never
 * freed again (the runtime is over, and a WAITING record may still be
 * linked in a waiter stack).  Repeating it is harmless: a sweeper killed
 * half-way is followed by the next prober (sweep stays below 2), and an
 * error written twice is written once (fill_error finds it sealed).
 *
 * E2, a submit or a call racing with the end.  The submitter publishes its
 * record (QUEUED or WAITING, R3 of rtlayout.h), fences (seq_cst) and loads
 * sweep; a sweeper stores sweep (seq_cst), fences and scans.  Either the
 * scan sees the record, or the submitter sees the sweep begun and fails
 * its own record (the same claim CAS: one of the two wins).  A caller's
 * publish ends with the doorbell's seq_cst fence; if it then sees the
 * sweep begun, it drains its own lane (the actor process is gone: a sweep
 * begins only then).
 */
#include <errno.h>
#include <linux/futex.h>
#include <time.h>
#include <unistd.h>

#include "ext.h"
#include "rt.h"
#include "lane.h"

#define SHOAL__SWEEP_WAIT_MS 1000

int shoal__rt_fs_alive_init(struct shoal__rt_hdr *h)
{
	pthread_mutexattr_t a;
	int rc = pthread_mutexattr_init(&a);

	if (rc)
		return -rc;
	rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!rc)
		rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!rc)
		rc = pthread_mutex_init(&h->fs_alive, &a);
	pthread_mutexattr_destroy(&a);
	return -rc;
}

int shoal__rt_fs_hold(const struct shoal__rt_view *v)
{
	int rc = pthread_mutex_lock(&v->hdr->fs_alive);

	/* EOWNERDEAD: an earlier fork server of this region died (it is
	 * ours now, but the runtime it served is over). */
	return rc == EOWNERDEAD ? SHOAL_EFORKSERVERDIED : -rc;
}

/* True while the futex word names the fork server as its live owner.  A
 * load, so the line stays shared among the probers. */
static bool shoal__fs_word_alive(const struct shoal__rt_view *v)
{
#ifdef __GLIBC__
	uint32_t w = (uint32_t)__atomic_load_n(&v->hdr->fs_alive.__data.__lock,
					       __ATOMIC_ACQUIRE);
	int32_t fs = atomic_load_explicit(&v->hdr->fs_pid, memory_order_relaxed);

	return fs > 0 && (w & (FUTEX_TID_MASK | FUTEX_OWNER_DIED)) == (uint32_t)fs;
#else
	(void)h;
	return false;
#endif
}

bool shoal__rt_fs_dead(const struct shoal__rt_view *v)
{
	int rc;

	if (atomic_load_explicit(&v->hdr->fs_gone, memory_order_acquire))
		return true;
	if (shoal__fs_word_alive(v))
		return false;
	rc = pthread_mutex_trylock(&v->hdr->fs_alive);
	if (rc == EBUSY)
		return false;
	if (rc == 0) { /* not taken yet: no fork server started */
		pthread_mutex_unlock(&v->hdr->fs_alive);
		return false;
	}
	/* EOWNERDEAD, ENOTRECOVERABLE, or a corrupt mutex: said once, kept. */
	atomic_store_explicit(&v->hdr->fs_gone, 1, memory_order_release);
	if (rc == EOWNERDEAD) /* left inconsistent */
		pthread_mutex_unlock(&v->hdr->fs_alive);
	return true;
}

int shoal__rt_end(const struct shoal__rt_view *v, int code)
{
	int32_t open = 0;

	atomic_compare_exchange_strong_explicit(&v->hdr->ended, &open, code,
						memory_order_seq_cst,
						memory_order_acquire); /* E1 */
	return atomic_load_explicit(&v->hdr->ended, memory_order_acquire);
}

/* Any worker, actor or fork server process still alive: by its live
 * store slot (pid + start time decide), or, if it has none (not attached
 * yet, or reaped), by its pid in /proc with the start time the fork
 * server recorded when it forked it (store/ext.h, shoal__pid_alive). */
static bool shoal__children_alive(struct shoal_store *s,
				  const struct shoal__rt_view *v)
{
	struct shoal__rt_worker *w = v->workers;
	struct shoal__actor_slot *a = v->actors;

	if (shoal__pid_alive(s, atomic_load_explicit(&v->hdr->fs_pid, memory_order_relaxed),
			     0))
		return true;
	for (uint32_t i = 0; i < v->max_workers; i++) {
		uint32_t st = atomic_load_explicit(&w[i].state, memory_order_acquire);
		/* Acquire: the start time stored before it (forkserver.c). */
		int32_t pid = atomic_load_explicit(&w[i].pid, memory_order_acquire);

		if ((st == SHOAL__WK_STARTING || st == SHOAL__WK_RUNNING) &&
		    shoal__pid_alive(s, pid, atomic_load_explicit(
					     &w[i].start, memory_order_relaxed)))
			return true;
	}
	for (uint32_t i = 0; i < v->max_actors; i++) {
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

static const char *shoal__end_why(int code)
{
	return code == SHOAL_EFORKSERVERDIED ? "the runtime's fork server died"
					     : "the runtime stopped";
}

/* Claims task record idx for the sweep (of generation gen, unless gen is
 * UINT32_MAX; a RUNNING record only if `running`): true if it is the
 * sweep's now (claimed here or before: a sweeper killed half-way). */
static bool shoal__sweep_claim(const struct shoal__rt_view *v, uint32_t idx,
			       uint32_t gen, bool running)
{
	struct shoal__task_rec *t = &v->tasks[idx];
	uint64_t st = atomic_load_explicit(&t->state, memory_order_acquire);

	for (;;) {
		uint32_t ph = SHOAL__TASK_PHASE(st);

		if (gen != UINT32_MAX && SHOAL__TASK_GEN(st) != gen)
			return false;
		if (ph == SHOAL__T_RUNNING && SHOAL__TASK_OWNER(st) == SHOAL__TASK_SWEPT)
			return true;
		if (ph != SHOAL__T_QUEUED && ph != SHOAL__T_WAITING &&
		    (ph != SHOAL__T_RUNNING || !running))
			return false;
		/* Acquire: the submitter's record (R3), or a dead worker's. */
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &st,
			    SHOAL__TASK_STATE(SHOAL__TASK_GEN(st), SHOAL__T_RUNNING,
					      SHOAL__TASK_SWEPT),
			    memory_order_acq_rel, memory_order_acquire)) {
			atomic_fetch_add_explicit(&v->hdr->tasks_failed, 1,
						  memory_order_relaxed);
			return true;
		}
	}
}

/* Writes the code into each return of a claimed record (each is written
 * once: fill_error finds it sealed the second time). */
static void shoal__sweep_fail(struct shoal_store *s, const struct shoal__rt_view *v,
			      uint32_t idx, int code)
{
	struct shoal__task_rec *t = &v->tasks[idx];
	uint32_t n = t->num_returns <= SHOAL_MAX_RETURNS ? t->num_returns : 1;

	for (uint32_t i = 0; i < n; i++)
		shoal__fill_error(s, shoal__task_ret(t, i), code, shoal__end_why(code),
				  0);
}

/*
 * Every record is claimed before any error is written: an error sealed
 * resolves the tasks that wait on it (deps.c), which would push them into
 * a run queue nobody pops any more, and a full one would never take them;
 * claimed, they are no longer WAITING, and deps.c leaves them be.  The
 * scan stops at the task top, loaded after the E2 fence: a submitter
 * raised it before its publish, so a record above it is one whose
 * submitter sees the sweep begun.
 */
void shoal__rt_sweep(struct shoal_store *s, const struct shoal__rt_view *v)
{
	struct shoal__lane_meta *m = v->lmeta;
	int code = atomic_load_explicit(&v->hdr->ended, memory_order_acquire);
	uint32_t top;

	if (!code || !shoal__children_gone(s, v))
		return;
	shoal_store_reap(s);
	atomic_store_explicit(&v->hdr->sweep, 1, memory_order_seq_cst); /* E2 */
	atomic_thread_fence(memory_order_seq_cst);
	top = shoal__task_top(v);
	for (uint32_t i = 0; i < top; i++)
		shoal__sweep_claim(v, i, UINT32_MAX, true);
	SHOAL__STORE_CRASH(s, SWEEP_CLAIMED);
	for (uint32_t i = 0; i < top; i++) {
		uint64_t st = atomic_load_explicit(&v->tasks[i].state,
						   memory_order_acquire);

		if (SHOAL__TASK_PHASE(st) == SHOAL__T_RUNNING &&
		    SHOAL__TASK_OWNER(st) == SHOAL__TASK_SWEPT)
			shoal__sweep_fail(s, v, i, code);
	}
	SHOAL__STORE_CRASH(s, SWEEP_FAILED);
	for (uint32_t i = 0; i < v->max_lanes; i++) {
		uint32_t st = SHOAL__LANE_PHASE(
			atomic_load_explicit(&m[i].state, memory_order_acquire));

		if (st == SHOAL__L_OWNED || st == SHOAL__L_CLOSED)
			shoal__lane_drain(s, v, (struct shoal__lane_pos){.lane = i},
					  code, shoal__end_why(code));
	}
	SHOAL__STORE_CRASH(s, SWEEP_DRAINED);
	atomic_store_explicit(&v->hdr->sweep, 2, memory_order_release);
}

int shoal__rt_ended(struct shoal_runtime *rt)
{
	const struct shoal__rt_view *v = &rt->v;
	int code = atomic_load_explicit(&v->hdr->ended, memory_order_acquire); /* E1 */

	if (!code) {
		if (!shoal__rt_fs_dead(v))
			return 0;
		code = shoal__rt_end(v, SHOAL_EFORKSERVERDIED);
	}
	/* Nobody else sweeps once the fork server is gone. */
	if (atomic_load_explicit(&v->hdr->sweep, memory_order_acquire) != 2 &&
	    shoal__rt_fs_dead(v))
		shoal__rt_sweep(rt->store, v);
	return code;
}

/* E2, the submitter's half: after its record idx (generation gen) is
 * published, fails it itself if a sweep began and may have missed it. */
void shoal__rt_task_published(struct shoal_runtime *rt, uint32_t idx, uint32_t gen)
{
	const struct shoal__rt_view *v = &rt->v;

	atomic_thread_fence(memory_order_seq_cst); /* E2 */
	if (!atomic_load_explicit(&v->hdr->sweep, memory_order_relaxed))
		return;
	if (shoal__sweep_claim(v, idx, gen, false))
		shoal__sweep_fail(rt->store, v, idx,
				  atomic_load_explicit(&v->hdr->ended, memory_order_acquire));
}

/* E2, the caller's half: after its publish (whose doorbell signal began
 * with a seq_cst fence), drains its own lane if a sweep began. */
void shoal__rt_call_published(struct shoal_runtime *rt, uint32_t lane)
{
	const struct shoal__rt_view *v = &rt->v;
	int code;

	if (!atomic_load_explicit(&v->hdr->sweep, memory_order_relaxed))
		return;
	code = atomic_load_explicit(&v->hdr->ended, memory_order_acquire);
	shoal__lane_drain(rt->store, v, (struct shoal__lane_pos){.lane = lane}, code,
			  shoal__end_why(code));
}

/* The store calls it around every sleep of a wait through the handle of
 * a driver or an attached program: after each, probe (and sweep). */
void shoal__rt_on_block(void *ctx, bool blocked)
{
	if (!blocked)
		shoal__rt_ended(ctx);
}
