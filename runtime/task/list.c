/* SPDX-License-Identifier: MIT */
/*
 * runtime/task/list.c - the tasks view (shoal_task_list): what each task
 * of the table is doing, read by any handle, an inspect handle's included.
 *
 * Invariants: nothing here writes the segment or takes a lock (an inspect
 * handle maps it PROT_READ).  Records are scanned below task_top (every
 * record that is not FREE lies below it: rtlayout.h, TASK-R3).
 *
 * Each record is read as a seqlock reader would: its state word loaded
 * (TASK-A1), the fields copied into a private record, an acquire fence,
 * the state loaded again; the copy counts only if both loads agree (same
 * generation, phase and owner), else the record is read again, at most
 * SHOAL__LIST_TRIES times, and then left out of this call (it is moving
 * too fast to say anything true of it).  An agreeing copy can still be
 * torn by a process that does not follow the protocol (a same-user
 * scribbler), so nothing in it is trusted without a bound: the function
 * index against nfuncs, args_len against the inline size, the argument
 * index against nargs, the owner against max_workers, the worker's
 * record index against max_tasks.  A torn view gives wrong fields, never
 * an out-of-bounds read.
 *
 * The worker that runs a record says so in its slot (run_task = record
 * index + 1, run_since in ticks; exec.c, relaxed): its time is reported
 * only while that word names the record.
 */
#include <errno.h>
#include <string.h>

#include "ext.h"
#include "task_int.h"

#define SHOAL__LIST_TRIES 4

/* ABI: a later field takes a reserved word, never the size. */
static_assert(sizeof(struct shoal_task_info) == 176, "ABI: shoal_task_info");

/* A private copy of record i, or false if it is FREE or kept moving. */
static bool shoal__task_copy(const struct shoal__rt_view *v, uint32_t i,
			     struct shoal__task_rec *out, uint64_t *state)
{
	const struct shoal__task_rec *t = &v->tasks[i];

	for (int k = 0; k < SHOAL__LIST_TRIES; k++) {
		/* TASK-A1: the record's fields, published by TASK-R1. */
		uint64_t s1 = atomic_load_explicit(&t->state, memory_order_acquire);
		uint64_t s2;

		if (SHOAL__TASK_PHASE(s1) == SHOAL__T_FREE)
			return false;
		out->fn = t->fn;
		out->num_returns = t->num_returns;
		out->nargs = t->nargs;
		out->args_len = t->args_len;
		out->submitter = t->submitter;
		out->retries = t->retries;
		out->ret_hi = t->ret_hi;
		out->ret_lo = t->ret_lo;
		out->submitted = t->submitted;
		/* Relaxed: part of the snapshot the re-check validates. */
		atomic_store_explicit(&out->deps, atomic_load_explicit(
				&t->deps, memory_order_relaxed), memory_order_relaxed);
		memcpy(out->args, t->args, sizeof out->args);
		/* TASK-A1 (the re-check): the copies above happen before the
		 * reload, so an unchanged word means no new publish between. */
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&t->state, memory_order_relaxed);
		if (s1 == s2) {
			*state = s1;
			return true;
		}
	}
	return false;
}

/* WAITING: the first ref argument whose deps bit is still up. */
static void shoal__task_waits(const struct shoal__task_rec *r,
			      struct shoal_task_info *out)
{
	uint32_t bits = atomic_load_explicit(&r->deps, memory_order_relaxed) &
			SHOAL__DEP_ARGS; /* relaxed: our private copy */
	uint32_t nargs = r->nargs < SHOAL__TASK_DEPS ? r->nargs : SHOAL__TASK_DEPS;
	uint32_t len = r->args_len < SHOAL__TASK_ARGS_INLINE ? r->args_len
							     : SHOAL__TASK_ARGS_INLINE;

	for (uint32_t i = 0; i < nargs; i++) {
		const uint8_t *data;
		uint32_t kind, n;

		if (!(bits & (1u << i)))
			continue;
		out->wait_arg = (int32_t)i;
		if (!shoal__args_decode(r->args, nargs, len, i, &kind, &data, &n) &&
		    kind == SHOAL_ARG_REF)
			memcpy(&out->wait_id, data, sizeof out->wait_id);
		return;
	}
}

/* RUNNING: the worker (owner - 1), its pid, and since when it runs it. */
static void shoal__task_runner(struct shoal_runtime *rt, uint32_t idx,
			       uint32_t owner, uint64_t now,
			       struct shoal_task_info *out)
{
	const struct shoal__rt_worker *w;
	uint64_t since;

	if (owner == 0 || owner > rt->v.max_workers)
		return; /* the fork server's or a sweep's: no worker runs it */
	w = &rt->v.workers[owner - 1];
	out->worker = (int32_t)(owner - 1);
	/* Relaxed: a pid to report, and the slot's own snapshot words
	 * (exec.c): a tool's view. */
	out->worker_pid = atomic_load_explicit(&w->pid, memory_order_relaxed);
	if (atomic_load_explicit(&w->run_task, memory_order_relaxed) != idx + 1)
		return;
	since = atomic_load_explicit(&w->run_since, memory_order_relaxed);
	if (now > since)
		out->running_ns = shoal__clock_dur(&rt->v.clock, now - since);
}

static const uint32_t shoal__task_states[] = {
	[SHOAL__T_BUILDING] = SHOAL_TASK_BUILDING,
	[SHOAL__T_QUEUED] = SHOAL_TASK_QUEUED,
	[SHOAL__T_RUNNING] = SHOAL_TASK_RUNNING,
	[SHOAL__T_WAITING] = SHOAL_TASK_WAITING,
};

static bool shoal__task_info_of(struct shoal_runtime *rt, uint32_t idx,
				struct shoal_task_info *out)
{
	struct shoal__task_rec r;
	uint64_t st, now;
	uint32_t phase;
	const char *fname;

	if (!shoal__task_copy(&rt->v, idx, &r, &st))
		return false;
	phase = SHOAL__TASK_PHASE(st);
	if (phase >= sizeof shoal__task_states / sizeof shoal__task_states[0] ||
	    !shoal__task_states[phase])
		return false; /* no phase this library knows */
	now = shoal__ticks();
	fname = shoal__rt_fname(&rt->v, r.fn);
	*out = (struct shoal_task_info){
		.id = {.hi = r.ret_hi, .lo = r.ret_lo},
		.state = shoal__task_states[phase],
		.submitter_pid = shoal__creator_pid(rt->store, r.submitter),
		.num_returns = r.num_returns,
		.nargs = r.nargs,
		.retries_left = r.retries,
		.wait_arg = -1,
		.worker = -1,
		.pending_ns = now > r.submitted && r.submitted
				      ? shoal__clock_dur(&rt->v.clock, now - r.submitted)
				      : 0,
	};
	/* A name is at most 63 bytes and a NUL, but the segment's may lack
	 * the NUL: copy the bound, terminate. */
	strncpy(out->function, fname, sizeof out->function - 1);
	if (phase == SHOAL__T_WAITING)
		shoal__task_waits(&r, out);
	else if (phase == SHOAL__T_RUNNING)
		shoal__task_runner(rt, idx, SHOAL__TASK_OWNER(st), now, out);
	return true;
}

SHOAL_API int shoal_task_list(struct shoal_runtime *rt,
			      struct shoal_task_info *out, size_t cap)
{
	struct shoal_task_info info;
	uint32_t top;
	size_t n = 0;

	if (!rt || (cap && !out))
		return -EINVAL;
	top = shoal__task_top(&rt->v);
	for (uint32_t i = 0; i < top; i++) {
		if (!shoal__task_info_of(rt, i, &info))
			continue;
		if (n < cap)
			out[n] = info;
		n++;
	}
	return n > INT32_MAX ? INT32_MAX : (int)n;
}
