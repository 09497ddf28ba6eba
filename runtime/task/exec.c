/* SPDX-License-Identifier: MIT */
/*
 * runtime/exec.c - a worker runs a task.
 *
 * Claim: a queue item names a record and its generation; the worker takes
 * the record with one acquire CAS QUEUED -> RUNNING (TASK-A1, pairs with
 * the submitter's TASK-R1 of rtlayout.h), so a stale or duplicated item
 * (queue.h) runs nothing.
 *
 * Arguments: by-value ones are read in place from the record (zero copy,
 * stable while RUNNING); ref ones are pinned views of the sealed objects.
 * An argument that is an error object fails the task without running it,
 * with the same code and message (Ray: errors propagate through dependent
 * tasks); an evicted or deleted argument fails it with that code.
 *
 * Typed reads (args.c) note why they failed: a task function that
 * returns that code fails with the note as its message.
 *
 * Returns: each is a promise held by the submitter (task.c); the task fills
 * it by copy (shoal_task_return) or in place (shoal_task_return_buffer,
 * sealed when the function returns 0).  Whatever the function left unset
 * when it returns becomes an error object: its code and message.  A call
 * made fire and forget (v.discard) drops what its method returns: any
 * return index is accepted and nothing is written (a buffer asked for is
 * process memory, freed at the end), so a method is the same code
 * whether its caller wants its value or not, and is not counted failed.  A fill
 * that finds its promise gone (the submitter died) is dropped.  Results
 * are TRANSIENT (store/layout.h): freed when the last ref to them goes, as
 * Ray frees an object nobody references, instead of cached until evicted.
 *
 * A worker's death is settled in deadworker.c.
 */
#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <string.h>
#include <time.h>

#include "ext.h"
#include "mem.h"
#include "task_int.h"
#include "queue.h"


SHOAL_API struct shoal_runtime *shoal_task_runtime(struct shoal_task *task)
{
	return task ? task->rt : NULL;
}

SHOAL_API uint32_t shoal_task_num_returns(const struct shoal_task *task)
{
	return task ? task->v.num_returns : 0;
}



/* An actor call's: its word says so, or its deadline passed. */
static bool shoal__call_cancelled(const struct shoal_task *task)
{
	/* Relaxed: a flag; nothing read after it depends on it. */
	if (atomic_load_explicit(task->v.call_cancel, memory_order_relaxed) &
	    SHOAL__CALL_C_CANCEL)
		return true;
	if (!shoal__cancel_due(task->v.deadline))
		return false;
	shoal__cancel_mark_call(task->v.call_cancel);
	return true;
}

SHOAL_API bool shoal_task_cancelled(const struct shoal_task *task)
{
	if (task && task->v.call_cancel)
		return shoal__call_cancelled(task);
	if (!task || !task->v.state)
		return false;
	/* Relaxed: a flag; nothing read after it depends on it. */
	if (atomic_load_explicit(task->v.state, memory_order_relaxed) &
	    SHOAL__TASK_F_CANCEL)
		return true;
	if (!shoal__cancel_due(task->v.deadline))
		return false;
	shoal__cancel_mark(task->v.state);
	return true;
}

/* The task's code if it was cancelled (0 if not), once its function
 * returned.  Its LEAVING CAS first: no FORCE after it; a FORCE found
 * there means a kill is on its way, so the worker dies now, as it asked,
 * before it leaves the task (the fork server then fails the task with
 * the cancel's code, never retried).  Relaxed: the bits alone. */
static int shoal__exec_leave(struct shoal_task *t)
{
	_Atomic uint64_t *state = t->v.state;
	uint64_t st;

	if (t->v.call_cancel && shoal__call_cancelled(t))
		/* Relaxed: the bits alone. */
		return (atomic_load_explicit(t->v.call_cancel, memory_order_relaxed) &
			SHOAL__CALL_C_DEADLINE) ? SHOAL_EDEADLINE : SHOAL_ECANCELLED;
	if (!state)
		return 0;
	if (shoal__cancel_due(t->v.deadline))
		shoal__cancel_mark(state);
	st = atomic_load_explicit(state, memory_order_relaxed);
	for (;;) {
		if (st & SHOAL__TASK_F_FORCE)
			raise(SIGKILL);
		if (atomic_compare_exchange_weak_explicit(
			    state, &st, st | SHOAL__TASK_F_LEAVING,
			    memory_order_relaxed, memory_order_relaxed))
			break;
	}
	return (st & SHOAL__TASK_F_CANCEL) ? shoal__cancel_code(st) : 0;
}

static int shoal__vfail(struct shoal_task *t, int code, const char *fmt,
			va_list ap)
{
	if (code >= 0)
		code = SHOAL_ETASK;
	if (!t->fail_code) {
		t->fail_code = code;
		if (fmt)
			vsnprintf(t->msg, sizeof t->msg, fmt, ap);
	}
	return t->fail_code;
}

SHOAL_API int shoal_task_fail(struct shoal_task *task, int code,
			      const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (!task)
		return -EINVAL;
	va_start(ap, fmt);
	rc = shoal__vfail(task, code, fmt, ap);
	va_end(ap);
	return rc;
}

static int shoal__fail(struct shoal_task *t, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int shoal__fail(struct shoal_task *t, int code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = shoal__vfail(t, code, fmt, ap);
	va_end(ap);
	return rc;
}

static int shoal__check_ret(struct shoal_task *t, uint32_t i)
{
	if (i >= (t->v.discard ? SHOAL_MAX_RETURNS : t->v.num_returns))
		return -EINVAL;
	if (t->set & (1ull << i))
		return -EEXIST;
	return 0;
}

/* A fire-and-forget call's buffer: process memory, freed at finish. */
static int shoal__discard_buffer(struct shoal_task *t, uint32_t i, size_t size,
				 void **buf)
{
	void *p;

	if (t->nscratch == SHOAL__PROC_FILLS)
		return -EBUSY;
	p = shoal__mem_alloc(t->rt->arena, size ? size : 1);
	if (!p)
		return -ENOMEM;
	t->scratch[t->nscratch++] = p;
	t->set |= 1ull << i;
	*buf = p;
	return 0;
}

SHOAL_API int shoal_task_return_buffer(struct shoal_task *task, uint32_t i,
				       size_t size, void **buf)
{
	int rc;

	if (!task || !buf)
		return -EINVAL;
	rc = shoal__check_ret(task, i);
	if (rc)
		return rc;
	if (task->v.discard)
		return shoal__discard_buffer(task, i, size, buf);
	if (task->nopen == SHOAL__PROC_FILLS)
		return -EBUSY;
	rc = shoal__fill_begin(task->rt->store, shoal__ret_id(task->v.ret0, i), size,
			       -1, &task->open[task->nopen], buf);
	if (rc == -ENOENT || rc == SHOAL_ESEALED) { /* gone, or a retry */
		task->set |= 1ull << i;
		return rc;
	}
	if (rc)
		return rc;
	task->open_ret[task->nopen++] = i;
	task->set |= 1ull << i;
	return 0;
}

SHOAL_API int shoal_task_return(struct shoal_task *task, uint32_t i,
				const void *data, size_t size)
{
	struct shoal__fill f;
	void *buf;
	int rc;

	if (!task || (size && !data))
		return -EINVAL;
	rc = shoal__check_ret(task, i);
	if (rc)
		return rc;
	if (task->v.discard) { /* nobody wants it: not an error */
		task->set |= 1ull << i;
		return 0;
	}
	if (size <= SHOAL__INLINE_MAX) { /* begin and end at once (fill.c) */
		bool claimed;

		rc = shoal__fill_small(task->rt->store, shoal__ret_id(task->v.ret0, i),
				       data, size, -1, SHOAL__SIZE_TRANSIENT, &claimed);
		/* As below: set unless begin's part failed for want of room. */
		if (claimed || rc == -ENOENT || rc == SHOAL_ESEALED)
			task->set |= 1ull << i;
		return rc == -ENOENT || rc == SHOAL_ESEALED ? 0 : rc;
	}
	rc = shoal__fill_begin(task->rt->store, shoal__ret_id(task->v.ret0, i), size,
			       -1, &f, &buf);
	/* Gone (the submitter died), or sealed by an earlier attempt.  Any
	 * other failure (every fill of this process open: -EBUSY) leaves the
	 * return unset, so that finish writes an error into it. */
	if (rc == -ENOENT || rc == SHOAL_ESEALED)
		task->set |= 1ull << i;
	if (rc)
		return rc == -ENOENT || rc == SHOAL_ESEALED ? 0 : rc;
	task->set |= 1ull << i;
	if (size)
		memcpy(buf, data, size);
	rc = shoal__fill_end(task->rt->store, &f, SHOAL__SIZE_TRANSIENT);
	return rc == -ENOENT ? 0 : rc;
}

SHOAL_API int shoal_task_return_i64(struct shoal_task *task, uint32_t i,
				    int64_t v)
{
	return shoal_task_return(task, i, &v, sizeof v);
}

SHOAL_API int shoal_task_return_u64(struct shoal_task *task, uint32_t i,
				    uint64_t v)
{
	return shoal_task_return(task, i, &v, sizeof v);
}

SHOAL_API int shoal_task_return_f64(struct shoal_task *task, uint32_t i,
				    double v)
{
	return shoal_task_return(task, i, &v, sizeof v);
}

SHOAL_API int shoal_task_return_str(struct shoal_task *task, uint32_t i,
				    const char *str)
{
	if (!str)
		return -EINVAL;
	return shoal_task_return(task, i, str, strlen(str) + 1);
}

/*
 * Writes an error object (code, then message) into a promise; nothing if
 * it is sealed already or gone.  The message needs a block: it waits up to
 * timeout_ms for room (0: not at all).  Without room the message is
 * dropped and the code alone is written: 4 bytes live in the entry itself
 * (store/fill.c, inline fills), so the error always gets there and a full
 * store never holds up whoever writes it (the fork server, a sweep).
 */
int shoal__fill_error(struct shoal_store *s, shoal_id ret, int32_t code,
		      const char *msg, int timeout_ms)
{
	size_t len = strlen(msg);
	struct shoal__fill f;
	void *buf;
	int rc = shoal__fill_begin(s, ret, sizeof code + len, timeout_ms, &f, &buf);

	static_assert(sizeof code <= SHOAL__INLINE_MAX, "an error code is inline");
	if (rc && len && rc != -ENOENT && rc != SHOAL_ESEALED) {
		len = 0; /* no room for the message: the code alone */
		rc = shoal__fill_begin(s, ret, sizeof code, 0, &f, &buf);
	}
	if (rc)
		return rc == -ENOENT || rc == SHOAL_ESEALED ? 0 : rc;
	memcpy(buf, &code, sizeof code);
	if (len)
		memcpy((char *)buf + sizeof code, msg, len);
	rc = shoal__fill_end(s, &f, SHOAL__SIZE_ERROR | SHOAL__SIZE_TRANSIENT);
	return rc == -ENOENT ? 0 : rc;
}

/*
 * A return the function left unset, as an error.  A worker or an actor:
 * it may wait for room for the message (the task's own caller waits on it
 * anyway).  It may also find every fill record of this process taken
 * (-EBUSY: SHOAL__PROC_FILLS return buffers held open by the other
 * threads of a threaded actor): it then waits for one of them to let
 * go, which it does when its method ends, instead of leaving the promise
 * unsealed (its caller's get would wait out its timeout).  The wait
 * yields, then sleeps in 1 ms steps, up to SHOAL__FILL_BUSY_MS: a record
 * can also stay taken for good (a fill whose end a stalled REPAIR kept
 * open), and this thread must not hang on it; it ends too if the runtime
 * stops (whose end fails every call still pending).
 */
#define SHOAL__FILL_BUSY_SPINS 64u
#define SHOAL__FILL_BUSY_MS 30000

static void shoal__return_error(struct shoal_task *t, uint32_t i)
{
	shoal_id ret = shoal__ret_id(t->v.ret0, i);
	const struct shoal__rt_hdr *h = t->rt->v.hdr;
	struct shoal__deadline d = shoal__deadline_in(SHOAL__FILL_BUSY_MS);

	t->msg[sizeof t->msg - 1] = '\0';
	for (uint32_t n = 0; shoal__fill_error(t->rt->store, ret, t->fail_code,
					       t->msg, -1) == -EBUSY; n++) {
		/* Relaxed: a hint; the end's own sweep answers the rest. */
		if (atomic_load_explicit(&h->stopping, memory_order_relaxed) ||
		    shoal__deadline_passed(d))
			return;
		if (n < SHOAL__FILL_BUSY_SPINS)
			sched_yield();
		else
			nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
}

/*
 * An actor call's ref argument, which it may have to wait for (a task's
 * are sealed before it runs).  The caller holds it until the call is
 * done, so it exists (live, or a tombstone that answers) unless its
 * caller died: then a dead creator's unsealed argument was aborted, and
 * its OWNERDIED tombstone may already be reused by the time this wakes.
 * So a wait with no bound goes in slices, and an argument whose ID is no
 * longer in the directory at all fails the call with SHOAL_EOWNERDIED
 * instead of being waited for for ever.
 */
#define SHOAL__ARG_SLICE_MS 1000

static int shoal__get_arg(struct shoal_store *s, shoal_id ref, int timeout_ms,
			  struct shoal_view *v)
{
	int rc;

	if (timeout_ms >= 0)
		return shoal_get(s, ref, timeout_ms, v);
	for (;;) {
		rc = shoal_get(s, ref, SHOAL__ARG_SLICE_MS, v);
		if (rc != -ETIMEDOUT)
			return rc;
		if (!shoal__obj_known(s, ref))
			return SHOAL_EOWNERDIED;
	}
}

/* Resolves argument i (a pinned view for a ref); fails the task on error. */
static int shoal__resolve_arg(struct shoal_task *t, uint32_t i)
{
	const uint8_t *data;
	uint32_t kind, len;
	shoal_id ref;
	int rc = shoal__args_decode_typed(t->v.args, t->v.nargs, t->v.args_len, i,
					  &kind, &t->args[i].type, &data, &len);

	if (rc)
		return shoal__fail(t, SHOAL_ETASK, "corrupt task record");
	if (kind == SHOAL_ARG_BYTES) {
		t->args[i].data = data;
		t->args[i].size = len;
		return 0;
	}
	memcpy(&ref, data, sizeof ref);
	/* A task was parked until every argument was sealed (deps.c): no
	 * wait there; an actor call waits (arg_timeout_ms). */
	rc = shoal__get_arg(t->rt->store, ref, t->v.arg_timeout_ms, &t->views[i]);
	if (rc && shoal_error_message(t->rt->store, ref, t->msg, sizeof t->msg) >= 0)
		return shoal__fail(t, rc, NULL); /* the same error, passed on */
	if (rc)
		return shoal__fail(t, rc, "argument %u: %s", i, shoal_strerror(rc));
	t->args[i].data = t->views[i].data;
	t->args[i].size = t->views[i].size;
	return 0;
}

static int shoal__resolve_args(struct shoal_task *t)
{
	if (t->v.nargs > SHOAL_MAX_ARGS || t->v.args_len > t->v.cap)
		return shoal__fail(t, SHOAL_ETASK, "corrupt task record");
	t->nargs = t->v.nargs;
	for (uint32_t i = 0; i < t->nargs; i++)
		t->views[i].data = NULL; /* what finish releases */
	for (uint32_t i = 0; i < t->nargs; i++)
		if (shoal__resolve_arg(t, i))
			return t->fail_code;
	return 0;
}

static void shoal__call(struct shoal_task *t, shoal_task_fn fn, void *user)
{
	int rc = fn(t, user);

	if (rc < 0 && rc == t->arg_err) /* what a typed read noted */
		shoal__fail(t, rc, "%s: %s: %s", t->v.name, t->arg_note,
			    shoal_strerror(rc));
	else if (rc < 0)
		shoal__fail(t, rc, "%s failed: %s", t->v.name, shoal_strerror(rc));
}

/* A fire-and-forget call's own result (SHOAL__CALL_OWNRET): sealed empty,
 * so that its caller sees the call done and drops its arguments' holds.
 * Nothing if sealed already (a retry) or gone (the caller died). */
static void shoal__settle_empty(struct shoal_store *s, shoal_id ret)
{
	struct shoal__fill f;
	void *buf;

	static_assert(SHOAL__INLINE_MAX > 0, "an empty object needs no block");
	if (!shoal__fill_begin(s, ret, 0, 0, &f, &buf))
		shoal__fill_end(s, &f, SHOAL__SIZE_TRANSIENT);
}

/* Seals (success) or cancels the buffers handed out, then writes an error
 * into every return left unset: the cancel's code (cancelled: nonzero)
 * if the task was cancelled. */
static void shoal__finish(struct shoal_task *t, int cancelled)
{
	struct shoal_store *s = t->rt->store;

	for (uint32_t k = 0; k < t->nopen; k++) {
		if (!t->fail_code && !shoal__fill_end(s, &t->open[k], SHOAL__SIZE_TRANSIENT))
			continue;
		if (!t->fail_code) /* the promise vanished: nothing to fill */
			continue;
		shoal__fill_cancel(s, &t->open[k]);
		t->set &= ~(1ull << t->open_ret[k]);
	}
	for (uint32_t i = 0; i < t->v.num_returns; i++) {
		if (t->set & (1ull << i))
			continue;
		if (cancelled && t->fail_code != cancelled) {
			t->fail_code = cancelled;
			snprintf(t->msg, sizeof t->msg, "%s: %s", t->v.name,
				 shoal__cancel_why(cancelled));
		}
		if (!t->fail_code)
			shoal__fail(t, SHOAL_ETASK, "%s set %u of %u return values",
				    t->v.name, (unsigned)__builtin_popcountll(t->set),
				    t->v.num_returns);
		shoal__return_error(t, i);
	}
	for (uint32_t i = 0; i < t->nargs; i++)
		if (t->views[i].data)
			shoal__release_owed(s, &t->views[i]);
	for (uint32_t k = 0; k < t->nscratch; k++)
		shoal__mem_free(t->rt->arena, t->scratch[k]);
	if (t->v.settle_ret0)
		shoal__settle_empty(s, t->v.ret0);
}

static bool shoal__claim(struct shoal_runtime *rt, uint32_t worker,
			 uint32_t item, uint32_t *idx, uint64_t *claimed)
{
	struct shoal__task_rec *rec;
	uint64_t st;
	bool ok;

	*idx = SHOAL__ITEM_IDX(item);
	if (item == SHOAL__QUEUE_SKIP || *idx >= rt->v.max_tasks)
		return false;
	rec = &rt->v.tasks[*idx];
	/* Relaxed: a guess; the CAS below decides (TASK-A1). */
	st = atomic_load_explicit(&rec->state, memory_order_relaxed);
	if (SHOAL__TASK_PHASE(st) != SHOAL__T_QUEUED ||
	    (SHOAL__TASK_GEN(st) & 0xfffu) != SHOAL__ITEM_GEN(item))
		return false;
	/* The cancel bits go with the record (cancel.c). */
	*claimed = SHOAL__TASK_STATE(SHOAL__TASK_GEN(st), SHOAL__T_RUNNING,
				     worker + 1) | SHOAL__TASK_FLAGS(st);
	ok = atomic_compare_exchange_strong_explicit(
		&rec->state, &st, *claimed,
		memory_order_acquire, memory_order_relaxed); /* TASK-A1 */
	return ok;
}



/* What the function printed goes out before its results are sealed: a
 * caller that got a result finds its lines written (to the log relay's
 * pipe, or to the driver's stdout directly), whatever buffering the user
 * set.  __fpending reads the fill without the stream's lock: a function
 * that printed nothing costs two loads. */
static void shoal__exec_flush(void)
{
	if (__fpending(stdout))
		fflush(stdout);
	if (__fpending(stderr))
		fflush(stderr);
}

int shoal__exec_run(struct shoal_runtime *rt, const struct shoal__call_view *v,
		    shoal_task_fn fn, void *user)
{
	struct shoal_task t;
	int cancelled;

	/* Not a memset of the whole context (its views and message are most
	 * of its 1.6 KiB): what is read before it is written. */
	t.rt = rt;
	t.v = *v;
	t.nargs = 0;
	t.set = 0;
	t.nopen = 0;
	t.nscratch = 0;
	t.arg_err = 0;
	t.arg_note[0] = '\0';
	t.fail_code = 0;
	t.msg[0] = '\0';
	if (t.v.num_returns > SHOAL_MAX_RETURNS)
		t.v.num_returns = 1; /* corrupt: still answer return 0 */
	if (!fn)
		shoal__fail(&t, SHOAL_ETASK, "no function %s here", v->name);
	else if (!shoal__resolve_args(&t))
		shoal__call(&t, fn, user);
	cancelled = shoal__exec_leave(&t);
	shoal__exec_flush();
	shoal__finish(&t, cancelled);
	if (t.fail_code && v->why)
		snprintf(v->why, v->why_cap, "%s", t.msg);
	return t.fail_code;
}

/* What worker runs, for tools (shoal_task_list): relaxed, a snapshot. */
static void shoal__exec_running(struct shoal_runtime *rt, uint32_t worker,
				uint32_t task, uint64_t since)
{
	struct shoal__rt_worker *w;

	if (worker >= rt->v.max_workers)
		return;
	w = &rt->v.workers[worker];
	atomic_store_explicit(&w->run_since, since, memory_order_relaxed);
	atomic_store_explicit(&w->run_task, task, memory_order_relaxed);
}

/* The worker's last item before it looks at the queue again: its head
 * word goes up as soon as the function returned (POOL- of worker.c; a
 * hint, relaxed), unless another worker is the head. */
static void shoal__exec_head(struct shoal_runtime *rt, uint32_t worker)
{
	if (worker < rt->v.max_workers && !shoal__pool_other_head(&rt->v, worker))
		atomic_store_explicit(&rt->v.workers[worker].head, 1,
				      memory_order_relaxed);
}

void shoal__exec_item(struct shoal_runtime *rt, uint32_t worker, uint32_t item,
		      bool last)
{
	const struct shoal__function *f = NULL;
	struct shoal__task_rec *rec;
	struct shoal__call_view v;
	struct shoal__tl_rec r;
	uint32_t idx;
	uint64_t st;
	int rc;

	if (!shoal__claim(rt, worker, item, &idx, &st))
		return;
	SHOAL__STORE_CRASH(rt->store, TASK_CLAIMED);
	if (shoal__cancel_skip(rt, idx, st))
		return;
	rec = &rt->v.tasks[idx];
	if (rec->fn < rt->reg->n)
		f = &rt->reg->fns[rec->fn];
	v = (struct shoal__call_view){
		.args = rec->args, .nargs = rec->nargs, .args_len = rec->args_len,
		.cap = SHOAL__TASK_ARGS_INLINE, .ret0 = shoal__task_ret(rec, 0),
		.num_returns = rec->num_returns ? rec->num_returns : 1,
		.arg_timeout_ms = 0, .name = f ? f->name : "?",
		.kind = SHOAL_KIND_TASK, .worker = (int32_t)worker,
		.caller = rec->submitter,
		.state = &rec->state, .deadline = rec->deadline,
	};
	r = (struct shoal__tl_rec){
		.kind = SHOAL__TL_TASK, .who = worker, .what = rec->fn,
		.from = rec->submitter, .t_submit = rec->submitted,
		.id_hi = rec->ret_hi, .id_lo = rec->ret_lo, .t_start = shoal__ticks(),
	};
	shoal__exec_running(rt, worker, idx + 1, r.t_start);
	rt->cur_task = idx + 1;
	rt->cur_gen = SHOAL__TASK_GEN(st);
	rc = shoal__exec_run(rt, &v, f ? f->fn : NULL, f ? f->user : NULL);
	if (last)
		shoal__exec_head(rt, worker);
	rt->cur_task = 0;
	r.t_end = shoal__ticks();
	r.rc = rc;
	shoal__exec_running(rt, worker, 0, 0);
	shoal__tl_record(&rt->tl, &r);
	SHOAL__STORE_CRASH(rt->store, TASK_RAN);
	/* Relaxed: counters (statistics). */
	atomic_fetch_add_explicit(rc ? &rt->v.hdr->tasks_failed : &rt->v.hdr->tasks_done,
				  1, memory_order_relaxed);
	shoal__task_free(rt->store, &rt->v, idx);
	shoal__pending_task_ended(rt->store); /* its submitter may free room */
}
