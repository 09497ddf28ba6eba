/* SPDX-License-Identifier: MIT */
/*
 * runtime/task/cancel.c - cancelling tasks (Ray's ray.cancel) and their
 * deadlines.
 *
 * A cancel is a bit in the task record's state word (SHOAL__TASK_F_* of
 * rtlayout.h), set by a CAS that expects the record's generation and
 * phase, so that it is ordered with every other transition of the record
 * by that one word:
 *  - QUEUED or WAITING: the CAS adds CANCEL; the claim of any worker then
 *    sees the bit and fills the returns with the cancel's code instead of
 *    running it (exec.c), and the canceller fills them at once too, so a
 *    get does not wait for a worker or for the arguments.  Both write the
 *    same error, each fill once (fill_error skips a sealed return), and
 *    nobody runs the task: one outcome.  A WAITING record stays parked
 *    until its arguments settle (its nodes are linked into their waiter
 *    stacks, deps.c, and must not be reused before they are drained);
 *    then it is queued and claimed like any other, and freed without
 *    running.
 *  - RUNNING: the CAS adds CANCEL (and FORCE, RECURSIVE); the worker
 *    polls the bit (shoal_task_cancelled) and, when the function returns,
 *    writes the cancel's code into the returns left unset: the runner is
 *    the only writer of its returns.  FORCE is set only before the
 *    worker's LEAVING CAS (exec.c), so a kill never lands after the
 *    worker left the task; a worker that finds FORCE there kills itself.
 * The deadline is a CLOCK_MONOTONIC time in the record: the worker checks
 * it at its claim and in shoal_task_cancelled; the fork server's watch
 * (shoal__cancel_sweep, every 250 ms) sets CANCEL | DEADLINE on every
 * record past it.
 *
 * Actor calls (their cancel word, their deadlines while queued, and the
 * tasks a call submitted) are callcancel.c's.
 *
 * Finding the record: a ref is a return ID; the table is scanned up to
 * task_top for the record whose returns it names (no index: a cancel is
 * rare, and its cost is the scan; the bench family `cancel` measures it).
 *
 * Crash safety.  A canceller killed after its CAS and before it filled a
 * pending task's returns leaves CANCEL set: a worker's claim fills them,
 * and the watch fills those of a record still pending (parked on an
 * argument that never comes).  Killed before its kill of a FORCE'd
 * worker: the watch kills it (the fork server is its parent, so the pid
 * is exact), or the worker kills itself at its LEAVING CAS.  Killed in a
 * recursive scan: the children not reached yet keep running, but those
 * their parent submits later are cancelled at their submit (TASK-S1/S2);
 * a parent whose worker then dies (FORCE: the watch kills it) has its
 * children scanned again by the fork server (deadworker.c).
 *
 * A recursive scan for children covers the actor calls a task or call
 * made as well (callcancel.c, shoal__cancel_child_calls): never FORCE.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ext.h"
#include "task_int.h"

/* How deep a recursive cancel follows children of children. */
#define SHOAL__CANCEL_DEPTH 16u

int shoal__cancel_code(uint64_t st)
{
	return (st & SHOAL__TASK_F_DEADLINE) ? SHOAL_EDEADLINE : SHOAL_ECANCELLED;
}

int shoal__call_cancel_code(uint32_t c)
{
	if (!(c & SHOAL__CALL_C_CANCEL))
		return 0;
	return (c & SHOAL__CALL_C_DEADLINE) ? SHOAL_EDEADLINE : SHOAL_ECANCELLED;
}

const char *shoal__cancel_why(int code)
{
	return code == SHOAL_EDEADLINE ? "the task's deadline passed"
				       : "the task was cancelled (shoal_cancel)";
}

/* Writes code into every return of a record that never ran (n returns
 * from ret0): each once, and never waiting (a code is inline). */
void shoal__cancel_fill(struct shoal_store *s, shoal_id ret0, uint32_t n, int code)
{
	if (n > SHOAL_MAX_RETURNS)
		n = 1;
	for (uint32_t i = 0; i < n; i++)
		shoal__fill_error(s, shoal__ret_id(ret0, i), code,
				  shoal__cancel_why(code), 0);
}

bool shoal__cancel_due(uint64_t deadline)
{
	return deadline && shoal__mono_ns() >= deadline;
}

/* A deadline the task itself found passed: CANCEL | DEADLINE on its own
 * record, so that its finish and the watch agree.  Relaxed: the bits
 * alone (TASK- relaxed of rtlayout.h). */
void shoal__cancel_mark(_Atomic uint64_t *state)
{
	uint64_t st = atomic_load_explicit(state, memory_order_relaxed);

	while (!(st & SHOAL__TASK_F_CANCEL) &&
	       !atomic_compare_exchange_weak_explicit(
		       state, &st, st | SHOAL__TASK_F_CANCEL | SHOAL__TASK_F_DEADLINE,
		       memory_order_relaxed, memory_order_relaxed))
		;
}

/* The same for an actor call's cancel word (actlayout.h).  Relaxed, as above. */
void shoal__cancel_mark_call(_Atomic uint32_t *w)
{
	uint32_t c = atomic_load_explicit(w, memory_order_relaxed);

	while (!(c & SHOAL__CALL_C_CANCEL) &&
	       !atomic_compare_exchange_weak_explicit(
		       w, &c, c | SHOAL__CALL_C_CANCEL | SHOAL__CALL_C_DEADLINE,
		       memory_order_relaxed, memory_order_relaxed))
		;
}

/* A claimed record that was cancelled before it started, or whose
 * deadline passed: it never runs; its returns get the code (the
 * canceller may have written them already: each is written once). */
bool shoal__cancel_skip(struct shoal_runtime *rt, uint32_t idx, uint64_t st)
{
	struct shoal__task_rec *rec = &rt->v.tasks[idx];

	if (!(st & SHOAL__TASK_F_CANCEL)) {
		if (!shoal__cancel_due(rec->deadline))
			return false;
		shoal__cancel_mark(&rec->state);
		st |= SHOAL__TASK_F_CANCEL | SHOAL__TASK_F_DEADLINE;
	}
	shoal__cancel_fill(rt->store, shoal__task_ret(rec, 0), rec->num_returns,
			   shoal__cancel_code(st));
	/* Relaxed: a counter (statistics). */
	atomic_fetch_add_explicit(&rt->v.hdr->tasks_failed, 1, memory_order_relaxed);
	shoal__task_free(rt->store, &rt->v, idx);
	shoal__pending_task_ended(rt->store);
	return true;
}

static bool shoal__phase_live(uint64_t st)
{
	uint32_t ph = SHOAL__TASK_PHASE(st);

	return ph == SHOAL__T_QUEUED || ph == SHOAL__T_WAITING ||
	       ph == SHOAL__T_RUNNING;
}

/* The record whose returns ref names, and its state (when it was read:
 * the cancel's CAS checks that it is still that task). */
static bool shoal__cancel_find(const struct shoal__rt_view *v, shoal_id ref,
			       uint32_t *idx, uint64_t *state)
{
	uint32_t top = shoal__task_top(v), ri = (uint32_t)(ref.hi >> 32) & 0xffffu;

	for (uint32_t i = 0; i < top; i++) {
		const struct shoal__task_rec *t = &v->tasks[i];
		/* TASK-A1: a published record's returns (TASK-R1). */
		uint64_t st = atomic_load_explicit(&t->state, memory_order_acquire);

		if (!shoal__phase_live(st) || t->ret_lo != ref.lo ||
		    (t->ret_hi & ~SHOAL__RET_INDEX) != (ref.hi & ~SHOAL__RET_INDEX) ||
		    ri >= t->num_returns)
			continue;
		*idx = i;
		*state = st;
		return true;
	}
	return false;
}

/*
 * Kills the worker that runs record idx (generation gen) with FORCE: only
 * if the slot's process is still the one that claimed it.  The pidfd pins
 * the process; then the slot must still name that pid with the start time
 * the pidfd's process has (not a reused pid), RUNNING and running record
 * idx (a replacement's run_task is reset at its fork: forkserver.c), and
 * the record must still be this task's, forced, not left.  What this
 * refuses, the fork server's watch kills (its own child, exact).
 */
static void shoal__cancel_kill(const struct shoal__rt_view *v, uint32_t idx,
			       uint32_t gen)
{
	const struct shoal__task_rec *t = &v->tasks[idx];
	/* Relaxed: re-checked below after the pidfd. */
	uint64_t st = atomic_load_explicit(&t->state, memory_order_relaxed);
	uint32_t owner = SHOAL__TASK_OWNER(st);
	const struct shoal__rt_worker *w;
	int32_t pid;
	int fd;

	if (owner == 0 || owner > v->max_workers)
		return;
	w = &v->workers[owner - 1];
	pid = atomic_load_explicit(&w->pid, memory_order_acquire); /* WK-A1 */
	if (pid <= 0 || (fd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0)
		return;
	/* WK-A1: the slot's pid, then its state; the start time and
	 * run_task are published by the pid's WK-R1 (relaxed). */
	if (atomic_load_explicit(&w->pid, memory_order_acquire) == pid &&
	    atomic_load_explicit(&w->state, memory_order_acquire) == SHOAL__WK_RUNNING &&
	    atomic_load_explicit(&w->start, memory_order_relaxed) ==
		    shoal__proc_start_time(pid) &&
	    atomic_load_explicit(&w->run_task, memory_order_relaxed) == idx + 1) {
		/* Relaxed: compared only (a flag and an owner). */
		st = atomic_load_explicit(&t->state, memory_order_relaxed);
		if (SHOAL__TASK_GEN(st) == gen && SHOAL__TASK_OWNER(st) == owner &&
		    SHOAL__TASK_PHASE(st) == SHOAL__T_RUNNING &&
		    (st & SHOAL__TASK_F_FORCE) && !(st & SHOAL__TASK_F_LEAVING))
			syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
	}
	close(fd);
}

/* The live children of a parent (pw: its record + 1, or
 * SHOAL__PARENT_CALL | lane for an actor call; pg: its generation, or
 * the call's lane position; tag: 0, or the call's lane tag), each
 * cancelled with the same flags.  A running child that has CANCEL
 * already (a cancel of its own without RECURSIVE, or its deadline) is
 * not skipped: it still gets the flags it lacks, and its own children
 * are followed (cancel_rec says 1 and does nothing if it has them all).
 * Bounded: one pass over the table per level, at most
 * SHOAL__CANCEL_DEPTH levels. */
void shoal__cancel_children(struct shoal_store *s, const struct shoal__rt_view *v,
			    uint32_t pw, uint32_t pg, uint32_t tag, uint64_t flags,
			    uint32_t depth)
{
	uint32_t top = shoal__task_top(v);

	if (depth >= SHOAL__CANCEL_DEPTH)
		return;
	for (uint32_t i = 0; i < top; i++) {
		const struct shoal__task_rec *t = &v->tasks[i];
		/* TASK-A1: a published child's parent fields (TASK-R1). */
		uint64_t st = atomic_load_explicit(&t->state, memory_order_acquire);

		if (shoal__phase_live(st) &&
		    (!(st & SHOAL__TASK_F_CANCEL) ||
		     SHOAL__TASK_PHASE(st) == SHOAL__T_RUNNING) &&
		    t->parent == pw && t->parent_gen == pg && t->parent_tag == tag)
			shoal__cancel_rec(s, v, i, st, flags, depth + 1);
	}
	shoal__cancel_child_calls(s, v, pw, pg, tag, depth + 1);
}

/* Whether every return of a task (ret0, n of them, read from a record
 * that may change: n is bounded) is sealed: a value or an error object. */
bool shoal__cancel_returns_sealed(struct shoal_store *s, shoal_id ret0, uint32_t n)
{
	if (!n || n > SHOAL_MAX_RETURNS)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (shoal_contains(s, shoal__ret_id(ret0, i)) != 1)
			return false;
	return true;
}

/*
 * Cancels record idx, last seen in state st, adding `flags` (CANCEL and
 * any of FORCE, RECURSIVE, DEADLINE).  0: it had not started (its
 * returns are filled); 1: it runs, flagged; -EALREADY: it finished (or
 * runs with every return sealed already), or was cancelled before it
 * started.
 */
int shoal__cancel_rec(struct shoal_store *s, const struct shoal__rt_view *v,
		      uint32_t idx, uint64_t st, uint64_t flags, uint32_t depth)
{
	struct shoal__task_rec *t = &v->tasks[idx];
	uint32_t gen = SHOAL__TASK_GEN(st);
	/* Read before the CAS: once it succeeds, a claim may free the record
	 * and a new task take it.  The CAS proves they were this task's. */
	shoal_id ret0 = shoal__task_ret(t, 0);
	uint32_t n = t->num_returns;
	uint64_t want;

	for (;;) {
		bool running = SHOAL__TASK_PHASE(st) == SHOAL__T_RUNNING;

		if (SHOAL__TASK_GEN(st) != gen || !shoal__phase_live(st) ||
		    (!running && (st & SHOAL__TASK_F_CANCEL)))
			return -EALREADY;
		/* Its results are all there: done, as far as anyone who got
		 * one can tell (the worker has yet to let the record go). */
		if (running && shoal__cancel_returns_sealed(s, ret0, n))
			return -EALREADY;
		want = flags;
		if (!running || (st & SHOAL__TASK_F_LEAVING))
			want &= ~SHOAL__TASK_F_FORCE;
		if ((st | want) == st)
			return 1; /* running, flagged already */
		/* TASK-S1 (seq_cst: a recursive cancel's scan below); on
		 * failure TASK-A1, the record's new state. */
		if (atomic_compare_exchange_weak_explicit(&t->state, &st, st | want,
							  memory_order_seq_cst,
							  memory_order_acquire))
			break;
	}
	SHOAL__STORE_CRASH(s, TASK_CANCEL_SET);
	if (SHOAL__TASK_PHASE(st) != SHOAL__T_RUNNING) {
		shoal__cancel_fill(s, ret0, n, shoal__cancel_code(st | want));
		return 0;
	}
	if (want & SHOAL__TASK_F_RECURSIVE) {
		atomic_thread_fence(memory_order_seq_cst); /* TASK-S1 */
		shoal__cancel_children(s, v, idx + 1, gen, 0, flags, depth);
	}
	if (want & SHOAL__TASK_F_FORCE)
		shoal__cancel_kill(v, idx, gen);
	return 1;
}

SHOAL_API int shoal_cancel(struct shoal_runtime *rt, shoal_id ref, uint32_t flags)
{
	bool found = false;
	int rc;

	uint64_t f = SHOAL__TASK_F_CANCEL, st;
	uint32_t idx;

	if (shoal__rt_ro(rt))
		return SHOAL_EREADONLY;
	if (!rt || shoal_id_is_nil(ref) ||
	    (flags & ~(SHOAL_CANCEL_FORCE | SHOAL_CANCEL_RECURSIVE)))
		return -EINVAL;
	if (flags & SHOAL_CANCEL_FORCE)
		f |= SHOAL__TASK_F_FORCE;
	if (flags & SHOAL_CANCEL_RECURSIVE)
		f |= SHOAL__TASK_F_RECURSIVE;
	if (shoal__cancel_find(&rt->v, ref, &idx, &st))
		return shoal__cancel_rec(rt->store, &rt->v, idx, st, f, 0);
	rc = shoal__cancel_calls(rt->store, &rt->v, ref, flags, &found);
	if (found)
		return rc;
	return shoal__obj_known(rt->store, ref) ? -EALREADY : -ENOENT;
}

/* The cancel bits a child of parent (record parent - 1, generation
 * parent_gen; or SHOAL__PARENT_CALL | lane, parent_gen the call's
 * position) inherits: the parent's recursive cancel (CANCEL | RECURSIVE,
 * and FORCE) if it was cancelled recursively, else 0.  Not the parent's
 * DEADLINE: that is the parent's own code; a child the recursive cancel
 * reaches holds SHOAL_ECANCELLED, as the scan's and a call's children do.
 * The parent's word is loaded relaxed: ordered by the caller's fence, or
 * by coherence alone where the submitter is the parent's own thread and
 * saw its cancel. */
static uint64_t shoal__parent_cancel(const struct shoal__rt_view *v, uint32_t parent,
				     uint32_t parent_gen)
{
	uint64_t ps, both = SHOAL__TASK_F_CANCEL | SHOAL__TASK_F_RECURSIVE;

	if (!parent || (!(parent & SHOAL__PARENT_CALL) && parent > v->max_tasks))
		return 0;
	if (parent & SHOAL__PARENT_CALL)
		return shoal__call_recursive(v, parent & ~SHOAL__PARENT_CALL, parent_gen)
			       ? both : 0;
	ps = atomic_load_explicit(&v->tasks[parent - 1].state, memory_order_relaxed);
	if (SHOAL__TASK_GEN(ps) != parent_gen || (ps & both) != both)
		return 0;
	return ps & (both | SHOAL__TASK_F_FORCE);
}

/*
 * TASK-S2, the submitter's half, in two reads of the parent's word.
 *
 * Before the child is published (shoal__cancel_inherited): a parent
 * cancelled recursively already (the submitter runs in it, so a cancel
 * it saw is seen here) has its child parked with the bits, and a claim
 * drops it unrun (shoal__cancel_skip); its submitter fills its returns
 * at once (shoal__cancel_born).  Flagging it only after its publish
 * would let a free worker claim it and finish it first.
 *
 * After (shoal__cancel_inherit): a cancel that lands meanwhile, whose
 * scan may have missed the child; the seq_cst fence pairs with the
 * canceller's (TASK-S1): the scan sees the child, or this read sees the
 * flag and cancels the child here.  A child that a worker claimed in
 * between runs flagged, as any running child of a cancel does.
 */
uint64_t shoal__cancel_inherited(const struct shoal_runtime *rt, uint32_t parent,
				 uint32_t parent_gen)
{
	/* FORCE goes with RUNNING only (rtlayout.h). */
	return shoal__parent_cancel(&rt->v, parent, parent_gen) & ~SHOAL__TASK_F_FORCE;
}

/* A child parked cancelled (flags): its returns (ret0, n, read before
 * its publish) filled now, as a canceller's are after its CAS.  Each is
 * written once, whoever is first: a claim's skip, or the watch's refill
 * of pending cancelled records if this submitter dies first. */
void shoal__cancel_born(struct shoal_runtime *rt, shoal_id ret0, uint32_t n,
			uint64_t flags)
{
	shoal__cancel_fill(rt->store, ret0, n, shoal__cancel_code(flags));
}

void shoal__cancel_inherit(struct shoal_runtime *rt, uint32_t idx, uint32_t gen,
			   uint32_t parent, uint32_t parent_gen)
{
	const struct shoal__rt_view *v = &rt->v;
	uint64_t ps, st;

	atomic_thread_fence(memory_order_seq_cst); /* TASK-S2 */
	ps = shoal__parent_cancel(v, parent, parent_gen);
	if (!ps)
		return;
	/* TASK-A1: our record's state now (it may be queued and claimed). */
	st = atomic_load_explicit(&v->tasks[idx].state, memory_order_acquire);
	if (SHOAL__TASK_GEN(st) == gen)
		shoal__cancel_rec(rt->store, v, idx, st, ps, 1);
}

/* A pending cancelled record's returns, again: read, then checked to be
 * still that task's (a claim may have freed it meanwhile, and a new task
 * taken it) before they are filled.  Each is filled once. */
static void shoal__cancel_refill(struct shoal_store *s, struct shoal__task_rec *t,
				 uint64_t st)
{
	shoal_id ret0 = shoal__task_ret(t, 0);
	uint32_t n = t->num_returns;

	/* TASK-A1 (the re-check, as list.c's): the reads above happen before
	 * the reload, so an unchanged generation means they were its. */
	atomic_thread_fence(memory_order_acquire);
	if (SHOAL__TASK_GEN(atomic_load_explicit(&t->state, memory_order_relaxed)) ==
	    SHOAL__TASK_GEN(st))
		shoal__cancel_fill(s, ret0, n, shoal__cancel_code(st));
}

/* The sooner of two deadlines (0: none). */
uint64_t shoal__cancel_sooner(uint64_t a, uint64_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/*
 * The fork server's watch: records past their deadline are cancelled
 * (DEADLINE); pending cancelled records get their returns filled again
 * (a canceller killed before it filled them); forced records whose worker
 * still runs them see their worker killed (kids: the fork server's
 * children by worker index, exact pids).  Bounded: one pass, no wait.
 * Returns the soonest deadline of a record still pending (not running:
 * a runner checks its own), 0 if none, for the watch's next wake.
 */
uint64_t shoal__cancel_sweep(struct shoal_store *s, const struct shoal__rt_view *v,
			     const pid_t *kids)
{
	uint32_t top = shoal__task_top(v);
	uint64_t now = shoal__mono_ns(), soonest = 0;

	for (uint32_t i = 0; i < top; i++) {
		struct shoal__task_rec *t = &v->tasks[i];
		/* TASK-A1: the record's deadline, returns and owner. */
		uint64_t st = atomic_load_explicit(&t->state, memory_order_acquire);
		uint32_t owner = SHOAL__TASK_OWNER(st);

		if (!shoal__phase_live(st))
			continue;
		if (!(st & SHOAL__TASK_F_CANCEL)) {
			if (t->deadline && now >= t->deadline)
				shoal__cancel_rec(s, v, i, st,
						  SHOAL__TASK_F_CANCEL |
							  SHOAL__TASK_F_DEADLINE, 0);
			else if (SHOAL__TASK_PHASE(st) != SHOAL__T_RUNNING)
				soonest = shoal__cancel_sooner(soonest, t->deadline);
			continue;
		}
		if (SHOAL__TASK_PHASE(st) != SHOAL__T_RUNNING)
			shoal__cancel_refill(s, t, st);
		else if ((st & SHOAL__TASK_F_FORCE) && !(st & SHOAL__TASK_F_LEAVING) &&
			 owner && owner <= v->max_workers && kids[owner - 1] > 0)
			kill(kids[owner - 1], SIGKILL);
	}
	return soonest;
}
