/* SPDX-License-Identifier: MIT */
/*
 * runtime/task/ended.c - task records at a runtime's end: the sweep's
 * claim and failure of one record, and the submitter's half of END-S1
 * (rtlayout.h; proc/end.c has the sweep and the argument).
 */
#include "ext.h"
#include "task_int.h"

/* Claims task record idx for the sweep (of generation gen, unless gen is
 * UINT32_MAX; a RUNNING record only if `running`): true if it is the
 * sweep's now (claimed here or before: a sweeper killed half-way). */
bool shoal__sweep_claim(const struct shoal__rt_view *v, uint32_t idx,
			       uint32_t gen, bool running)
{
	struct shoal__task_rec *t = &v->tasks[idx];
	uint64_t st = atomic_load_explicit(&t->state, memory_order_acquire); /* TASK-A1 */

	for (;;) {
		uint32_t ph = SHOAL__TASK_PHASE(st);

		if (gen != UINT32_MAX && SHOAL__TASK_GEN(st) != gen)
			return false;
		if (ph == SHOAL__T_RUNNING && SHOAL__TASK_OWNER(st) == SHOAL__TASK_SWEPT)
			return true;
		if (ph != SHOAL__T_QUEUED && ph != SHOAL__T_WAITING &&
		    (ph != SHOAL__T_RUNNING || !running))
			return false;
		/* TASK-A1: the submitter's record (TASK-R1), or a dead
		 * worker's; on failure too (the loop reads the record's new
		 * state).  The release half publishes nothing a reader needs
		 * (nobody frees a swept record). */
		if (atomic_compare_exchange_weak_explicit(
			    &t->state, &st,
			    SHOAL__TASK_STATE(SHOAL__TASK_GEN(st), SHOAL__T_RUNNING,
					      SHOAL__TASK_SWEPT),
			    memory_order_acq_rel, memory_order_acquire)) {
			atomic_fetch_add_explicit(&v->hdr->tasks_failed, 1,
						  memory_order_relaxed); /* stats */
			return true;
		}
	}
}

/* Writes the code into each return of a claimed record (each is written
 * once: fill_error finds it sealed the second time). */
void shoal__sweep_fail(struct shoal_store *s, const struct shoal__rt_view *v,
			      uint32_t idx, int code)
{
	struct shoal__task_rec *t = &v->tasks[idx];
	uint32_t n = t->num_returns <= SHOAL_MAX_RETURNS ? t->num_returns : 1;

	for (uint32_t i = 0; i < n; i++)
		shoal__fill_error(s, shoal__task_ret(t, i), code, shoal__end_why(code),
				  0);
}

/* END-S1, the submitter's half: after its record idx (generation gen) is
 * published, fails it itself if a sweep began and may have missed it.
 * sweep is loaded relaxed: ordered by the fence. */
void shoal__rt_task_published(struct shoal_runtime *rt, uint32_t idx, uint32_t gen)
{
	const struct shoal__rt_view *v = &rt->v;

	atomic_thread_fence(memory_order_seq_cst); /* END-S1 */
	if (!atomic_load_explicit(&v->hdr->sweep, memory_order_relaxed))
		return;
	if (shoal__sweep_claim(v, idx, gen, false))
		shoal__sweep_fail(rt->store, v, idx, /* END-A1 */
				  atomic_load_explicit(&v->hdr->ended, memory_order_acquire));
}
