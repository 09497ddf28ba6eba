/* SPDX-License-Identifier: MIT */
/*
 * tests/test_cancel.c - shoal_cancel and task deadlines (Ray's ray.cancel,
 * and the deadlines Ray lacks), on real runtimes: a pending task queued
 * behind a busy pool, one parked on an unsealed argument, one running and
 * polling shoal_task_cancelled, one spinning without polling (FORCE: its
 * worker is killed), recursive cancels, deadlines, cancels from a task
 * and from an attached program, and cancel racing with completion (one
 * outcome per result, the same for every get from every process).
 *
 * The task functions count what they do in a page every process of the
 * runtime shares (mapped before the runtime starts, so its workers
 * inherit it): whether a task ran at all is read from there, not guessed.
 * Every wait is for an event (a counter reaching a value, a result) and
 * bounded.
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include <shoal/shoal.h>

#include "testutil.h"

TestSuite(cancel, .init = tu_setup, .fini = tu_teardown, .timeout = 90);

#define CX_SLOTS 1024
#define CX_SPIN_MS 20000 /* a task's own bound, far past any test's wait */

struct cx_page {
	_Atomic int64_t ran[CX_SLOTS];     /* runs of count(k), poll(k) ... */
	_Atomic int64_t saw[CX_SLOTS];     /* poll(k) saw the flag */
	_Atomic int64_t child_rc[4];       /* parent: what its children gave */
	shoal_id child[4];
	_Atomic int64_t children_ready;
	_Atomic int64_t seq;               /* count(k)'s runs, in order ... */
	_Atomic int64_t order[CX_SLOTS];   /* ... count(k)'s place in it + 1 */
	shoal_id mparent_gate;             /* mparent: its parked child's arg */
};

static struct cx_page *cx;

static int64_t cx_arg(struct shoal_task *t, uint32_t i)
{
	const void *d;
	size_t n;
	int64_t v = -1;

	if (!shoal_task_arg(t, i, &d, &n) && n == sizeof v)
		memcpy(&v, d, sizeof v);
	return v;
}

static bool cx_slot_ok(int64_t k)
{
	return k >= 0 && k < CX_SLOTS;
}

static void cx_spin_us(int64_t us)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do
		clock_gettime(CLOCK_MONOTONIC, &b);
	while ((b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

/* count(k, us): counts its run; with us > 0, spins that long and returns
 * with its return unset if it was cancelled meanwhile; returns k. */
static int t_count(struct shoal_task *t, void *user)
{
	int64_t k = cx_arg(t, 0), us = cx_arg(t, 1);

	(void)user;
	if (cx_slot_ok(k)) {
		atomic_fetch_add(&cx->ran[k], 1);
		atomic_store(&cx->order[k], atomic_fetch_add(&cx->seq, 1) + 1);
	}
	if (us > 0) {
		cx_spin_us(us);
		if (shoal_task_cancelled(t))
			return 0;
	}
	return shoal_task_return(t, 0, &k, sizeof k);
}

/* gate(id): holds its worker until object id is sealed. */
static int t_gate(struct shoal_task *t, void *user)
{
	struct shoal_store *s = shoal_runtime_store(shoal_task_runtime(t));
	const void *d;
	size_t n;
	shoal_id gate;
	struct shoal_view v;
	int64_t zero = 0;
	int rc;

	(void)user;
	if (shoal_task_arg(t, 0, &d, &n) || n != sizeof gate)
		return SHOAL_ETASK;
	memcpy(&gate, d, sizeof gate);
	/* Polled, not a blocking get: a worker blocked in a get makes the
	 * pool start an extra worker, which would run what the gate is
	 * meant to hold back. */
	for (int64_t t0 = tu_now_ms();
	     shoal_contains(s, gate) != 1 && tu_now_ms() - t0 < CX_SPIN_MS;)
		sched_yield();
	rc = shoal_get(s, gate, 0, &v);
	if (rc)
		return rc;
	shoal_release(s, &v);
	return shoal_task_return(t, 0, &zero, sizeof zero);
}

static bool cx_poll_until_cancelled(struct shoal_task *t)
{
	int64_t t0 = tu_now_ms();

	while (!shoal_task_cancelled(t))
		if (tu_now_ms() - t0 > CX_SPIN_MS)
			return false;
	return true;
}

/* poll(k, set): counts its start, polls the flag; set: returns k after
 * it saw it, else returns with its return unset. */
static int t_poll(struct shoal_task *t, void *user)
{
	int64_t k = cx_arg(t, 0), set = cx_arg(t, 1);

	(void)user;
	if (!cx_slot_ok(k))
		return SHOAL_ETASK;
	atomic_fetch_add(&cx->ran[k], 1);
	if (cx_poll_until_cancelled(t))
		atomic_store(&cx->saw[k], 1);
	return set == 1 ? shoal_task_return(t, 0, &k, sizeof k) : 0;
}

/* spin(k): counts its start, then spins without ever polling. */
static int t_spin(struct shoal_task *t, void *user)
{
	int64_t k = cx_arg(t, 0), t0 = tu_now_ms();

	(void)user;
	if (!cx_slot_ok(k))
		return SHOAL_ETASK;
	atomic_fetch_add(&cx->ran[k], 1);
	while (tu_now_ms() - t0 < CX_SPIN_MS)
		;
	return shoal_task_return(t, 0, &k, sizeof k);
}

static int cx_submit(struct shoal_runtime *rt, const char *fn, int64_t k,
		     int64_t extra, shoal_id *out)
{
	struct shoal_args a;

	shoal_args_init(&a);
	shoal_args_bytes(&a, &k, sizeof k);
	shoal_args_bytes(&a, &extra, sizeof extra);
	return shoal_submit(rt, shoal_function(rt, fn), &a, 1, out);
}

/* get's code, and -1 on success, for recording */
static int cx_code(struct shoal_store *s, shoal_id id, int timeout_ms)
{
	struct shoal_view v;
	int rc = shoal_get(s, id, timeout_ms, &v);

	if (rc == 0)
		shoal_release(s, &v);
	return rc;
}

/* parent(k): submits poll(10) (runs on the other worker) and count(11)
 * (queued: no worker free), polls its own flag; once cancelled, submits
 * count(12) and records each child's result. */
static int t_parent(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_store *s = shoal_runtime_store(rt);
	int64_t k = cx_arg(t, 0);

	(void)user;
	if (!cx_slot_ok(k) || cx_submit(rt, "poll", 10, 0, &cx->child[0]) ||
	    cx_submit(rt, "count", 11, 0, &cx->child[1]))
		return SHOAL_ETASK;
	atomic_store(&cx->children_ready, 1);
	atomic_fetch_add(&cx->ran[k], 1);
	if (!cx_poll_until_cancelled(t))
		return SHOAL_ETASK;
	if (cx_submit(rt, "count", 12, 0, &cx->child[2]))
		return SHOAL_ETASK;
	for (int i = 0; i < 3; i++) {
		atomic_store(&cx->child_rc[i], cx_code(s, cx->child[i], 10000));
		shoal_drop(s, cx->child[i]);
	}
	return 0;
}

/* mparent(k), an actor's method: submits poll(10) and, once it runs on
 * the one worker, count(11) (queued behind it) and count(13) (parked on
 * mparent_gate, unsealed); polls its own flag; once cancelled, submits
 * count(12) and records each child's result. */
static int t_mparent(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_store *s = shoal_runtime_store(rt);
	int64_t k = cx_arg(t, 0), c13 = 13;
	struct shoal_args a;

	(void)user;
	shoal_args_init(&a);
	shoal_args_bytes(&a, &c13, sizeof c13);
	shoal_args_ref(&a, cx->mparent_gate);
	if (!cx_slot_ok(k) || cx_submit(rt, "poll", 10, 0, &cx->child[0]))
		return SHOAL_ETASK;
	for (int64_t t0 = tu_now_ms(); !atomic_load(&cx->ran[10]);)
		if (tu_now_ms() - t0 > CX_SPIN_MS)
			return SHOAL_ETASK;
	if (cx_submit(rt, "count", 11, 0, &cx->child[1]) ||
	    shoal_submit(rt, shoal_function(rt, "count"), &a, 1, &cx->child[3]))
		return SHOAL_ETASK;
	atomic_store(&cx->children_ready, 1);
	atomic_fetch_add(&cx->ran[k], 1);
	if (!cx_poll_until_cancelled(t))
		return SHOAL_ETASK;
	if (cx_submit(rt, "count", 12, 0, &cx->child[2]))
		return SHOAL_ETASK;
	for (int i = 0; i < 4; i++) {
		atomic_store(&cx->child_rc[i], cx_code(s, cx->child[i], 10000));
		shoal_drop(s, cx->child[i]);
	}
	return 0;
}

/* cancel(ref): shoal_cancel from a task; returns its code. */
static int t_cancel(struct shoal_task *t, void *user)
{
	const void *d;
	size_t n;
	shoal_id ref;
	int64_t rc;

	(void)user;
	if (shoal_task_arg(t, 0, &d, &n) || n != sizeof ref)
		return SHOAL_ETASK;
	memcpy(&ref, d, sizeof ref);
	rc = shoal_cancel(shoal_task_runtime(t), ref, 0);
	return shoal_task_return(t, 0, &rc, sizeof rc);
}

static int cx_actor_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

struct cx_rt {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
	const char *name;
};

static struct cx_rt cx_start(uint32_t workers)
{
	struct cx_rt x = {0};
	struct shoal_runtime_options o;

	cx = mmap(NULL, sizeof *cx, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(cx, MAP_FAILED);
	x.name = tu_shm_name("cx");
	tu_assert_rc(shoal_registry_open(&x.reg), 0);
	tu_assert_rc(shoal_register_task(x.reg, "count", t_count, NULL), 0);
	tu_assert_rc(shoal_register_task(x.reg, "gate", t_gate, NULL), 0);
	tu_assert_rc(shoal_register_task(x.reg, "poll", t_poll, NULL), 0);
	tu_assert_rc(shoal_register_task(x.reg, "spin", t_spin, NULL), 0);
	tu_assert_rc(shoal_register_task(x.reg, "parent", t_parent, NULL), 0);
	tu_assert_rc(shoal_register_task(x.reg, "cancel", t_cancel, NULL), 0);
	/* the same functions as an actor's methods */
	tu_assert_rc(shoal_register_actor(x.reg, "Cx", cx_actor_init, NULL), 0);
	tu_assert_rc(shoal_register_method(x.reg, "Cx", "count", t_count), 0);
	tu_assert_rc(shoal_register_method(x.reg, "Cx", "gate", t_gate), 0);
	tu_assert_rc(shoal_register_method(x.reg, "Cx", "poll", t_poll), 0);
	tu_assert_rc(shoal_register_method(x.reg, "Cx", "cancel", t_cancel), 0);
	tu_assert_rc(shoal_register_method(x.reg, "Cx", "mparent", t_mparent), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.name = x.name;
	o.store.capacity = 16u << 20;
	tu_assert_rc(shoal_runtime_start(x.reg, &o, &x.rt), 0);
	x.s = shoal_runtime_store(x.rt);
	return x;
}

static void cx_stop(struct cx_rt *x)
{
	tu_assert_rc(shoal_runtime_shutdown(x->rt), 0);
	shoal_registry_close(x->reg);
	munmap(cx, sizeof *cx);
	cx = NULL;
}

/* Waits (bounded) until *c reaches want. */
static void cx_wait_count(_Atomic int64_t *c, int64_t want, const char *what)
{
	int64_t t0 = tu_now_ms();

	while (atomic_load(c) < want && tu_now_ms() - t0 < 10000)
		sched_yield();
	cr_assert_geq(atomic_load(c), want, "%s: not within 10 s", what);
}

/* An unsealed object, and gate(it) submitted: holds one worker until
 * the object is sealed (cx_open). */
static shoal_id cx_block(struct cx_rt *x, shoal_id *gate_ref)
{
	shoal_id gate = shoal_id_next(x->s);
	struct shoal_args a;
	void *buf;

	tu_assert_rc(shoal_create(x->s, gate, 8, NULL, 0, 0, &buf), 0);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &gate, sizeof gate), 0);
	tu_assert_rc(shoal_submit(x->rt, shoal_function(x->rt, "gate"), &a, 1,
				  gate_ref), 0);
	return gate;
}

static void cx_open(struct cx_rt *x, shoal_id gate, shoal_id gate_ref)
{
	tu_assert_rc(shoal_seal(x->s, gate), 0);
	tu_assert_rc(cx_code(x->s, gate_ref, 10000), 0);
	tu_assert_rc(shoal_drop(x->s, gate_ref), 0);
	tu_assert_rc(shoal_drop(x->s, gate), 0);
}

/* A task queued after everything before it ran: the one worker has
 * claimed (and so skipped) every record queued before it. */
static void cx_drain(struct cx_rt *x, int64_t k)
{
	shoal_id r;

	tu_assert_rc(cx_submit(x->rt, "count", k, 0, &r), 0);
	tu_assert_rc(cx_code(x->s, r, 10000), 0);
	tu_assert_rc(shoal_drop(x->s, r), 0);
}

static void cx_assert_cancelled(struct cx_rt *x, shoal_id r, int code)
{
	char msg[128];

	tu_assert_rc(cx_code(x->s, r, 5000), code);
	cr_assert_geq(shoal_error_message(x->s, r, msg, sizeof msg), 0);
}

Test(cancel, a_queued_task_never_runs_and_its_result_is_cancelled)
{
	struct cx_rt x = cx_start(1);
	shoal_id gref, gate = cx_block(&x, &gref), r;

	tu_assert_rc(cx_submit(x.rt, "count", 1, 0, &r), 0);
	tu_assert_rc(shoal_cancel(x.rt, r, 0), 0);
	/* at once: no worker needed to say so */
	tu_assert_rc(cx_code(x.s, r, 0), SHOAL_ECANCELLED);
	tu_assert_rc(shoal_cancel(x.rt, r, 0), -EALREADY);
	cx_open(&x, gate, gref);
	cx_drain(&x, 2);
	cr_assert_eq(atomic_load(&cx->ran[1]), 0, "the cancelled task ran");
	cx_assert_cancelled(&x, r, SHOAL_ECANCELLED);
	tu_assert_rc(shoal_drop(x.s, r), 0);
	cx_stop(&x);
}

Test(cancel, a_parked_task_never_runs_once_its_argument_comes)
{
	struct cx_rt x = cx_start(1);
	shoal_id arg = shoal_id_next(x.s), r, dep;
	struct shoal_args a;
	int64_t k = 1;
	void *buf;

	tu_assert_rc(shoal_create(x.s, arg, 8, NULL, 0, 0, &buf), 0);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &k, sizeof k), 0);
	tu_assert_rc(shoal_args_ref(&a, arg), 0);
	tu_assert_rc(shoal_submit(x.rt, shoal_function(x.rt, "count"), &a, 1, &r), 0);
	/* a dependant of the cancelled task fails with its error */
	shoal_args_init(&a);
	k = 2;
	tu_assert_rc(shoal_args_bytes(&a, &k, sizeof k), 0);
	tu_assert_rc(shoal_args_ref(&a, r), 0);
	tu_assert_rc(shoal_submit(x.rt, shoal_function(x.rt, "count"), &a, 1, &dep), 0);
	tu_assert_rc(shoal_cancel(x.rt, r, 0), 0);
	tu_assert_rc(cx_code(x.s, r, 0), SHOAL_ECANCELLED);
	tu_assert_rc(cx_code(x.s, dep, 5000), SHOAL_ECANCELLED);
	tu_assert_rc(shoal_seal(x.s, arg), 0);
	cx_drain(&x, 3);
	cr_assert_eq(atomic_load(&cx->ran[1]), 0, "the cancelled task ran");
	cr_assert_eq(atomic_load(&cx->ran[2]), 0, "its dependant ran");
	tu_assert_rc(cx_code(x.s, r, 0), SHOAL_ECANCELLED);
	tu_assert_rc(shoal_drop(x.s, r), 0);
	tu_assert_rc(shoal_drop(x.s, dep), 0);
	tu_assert_rc(shoal_drop(x.s, arg), 0);
	cx_stop(&x);
}

Test(cancel, a_running_task_sees_the_flag_and_its_unset_return_is_cancelled)
{
	struct cx_rt x = cx_start(1);
	shoal_id r, r2;

	tu_assert_rc(cx_submit(x.rt, "poll", 1, 0, &r), 0);
	cx_wait_count(&cx->ran[1], 1, "poll started");
	tu_assert_rc(shoal_cancel(x.rt, r, 0), 1);
	tu_assert_rc(cx_code(x.s, r, 5000), SHOAL_ECANCELLED);
	cr_assert_eq(atomic_load(&cx->saw[1]), 1);
	/* one that sets its return after it saw the flag keeps its value */
	tu_assert_rc(cx_submit(x.rt, "poll", 2, 1, &r2), 0);
	cx_wait_count(&cx->ran[2], 1, "poll started");
	tu_assert_rc(shoal_cancel(x.rt, r2, 0), 1);
	tu_assert_rc(cx_code(x.s, r2, 5000), 0);
	/* Its result is sealed before its worker lets its record go: a
	 * cancel in between still finds it running (1) and changes nothing;
	 * once the record is gone, -EALREADY. */
	int64_t t0 = tu_now_ms();
	int rc;

	while ((rc = shoal_cancel(x.rt, r2, 0)) == 1 && tu_now_ms() - t0 < 5000)
		sched_yield();
	tu_assert_rc(rc, -EALREADY);
	tu_assert_rc(cx_code(x.s, r2, 0), 0);
	tu_assert_rc(shoal_drop(x.s, r), 0);
	tu_assert_rc(shoal_drop(x.s, r2), 0);
	cx_stop(&x);
}

Test(cancel, force_kills_a_spinning_task_which_is_not_retried)
{
	struct cx_rt x = cx_start(1);
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	struct shoal_runtime_info before, after;
	struct shoal_args a;
	shoal_id r;
	int64_t k = 1;

	o.max_retries = 3;
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &k, sizeof k), 0);
	tu_assert_rc(shoal_submit_opts(x.rt, shoal_function(x.rt, "spin"), &a, &o,
				       &r), 0);
	cx_wait_count(&cx->ran[1], 1, "spin started");
	tu_assert_rc(shoal_runtime_info(x.rt, &before, NULL, 0), 0);
	tu_assert_rc(shoal_cancel(x.rt, r, SHOAL_CANCEL_FORCE), 1);
	tu_assert_rc(cx_code(x.s, r, 5000), SHOAL_ECANCELLED);
	/* the replacement serves, and the cancelled task never ran again */
	cx_drain(&x, 2);
	cr_assert_eq(atomic_load(&cx->ran[1]), 1, "the cancelled task was retried");
	tu_assert_rc(shoal_runtime_info(x.rt, &after, NULL, 0), 0);
	cr_assert_eq(after.workers_died, before.workers_died + 1);
	tu_assert_rc(shoal_drop(x.s, r), 0);
	cx_stop(&x);
}

Test(cancel, recursive_cancels_the_children_and_later_submits)
{
	struct cx_rt x = cx_start(2);
	shoal_id r;

	tu_assert_rc(cx_submit(x.rt, "parent", 1, 0, &r), 0);
	cx_wait_count(&cx->ran[1], 1, "parent started");
	cx_wait_count(&cx->children_ready, 1, "children submitted");
	cx_wait_count(&cx->ran[10], 1, "its running child started");
	tu_assert_rc(shoal_cancel(x.rt, r, SHOAL_CANCEL_RECURSIVE), 1);
	tu_assert_rc(cx_code(x.s, r, 10000), SHOAL_ECANCELLED);
	cr_assert_eq(atomic_load(&cx->child_rc[0]), SHOAL_ECANCELLED,
		     "running child: %s", shoal_strerror((int)cx->child_rc[0]));
	cr_assert_eq(atomic_load(&cx->child_rc[1]), SHOAL_ECANCELLED,
		     "queued child: %s", shoal_strerror((int)cx->child_rc[1]));
	cr_assert_eq(atomic_load(&cx->child_rc[2]), SHOAL_ECANCELLED,
		     "child submitted after: %s", shoal_strerror((int)cx->child_rc[2]));
	cr_assert_eq(atomic_load(&cx->saw[10]), 1);
	cr_assert_eq(atomic_load(&cx->ran[11]) + atomic_load(&cx->ran[12]), 0);
	tu_assert_rc(shoal_drop(x.s, r), 0);
	cx_stop(&x);
}

Test(cancel, without_recursive_the_children_run_on)
{
	struct cx_rt x = cx_start(2);
	shoal_id r;

	tu_assert_rc(cx_submit(x.rt, "parent", 1, 0, &r), 0);
	cx_wait_count(&cx->ran[1], 1, "parent started");
	cx_wait_count(&cx->children_ready, 1, "children submitted");
	cx_wait_count(&cx->ran[10], 1, "its running child started");
	tu_assert_rc(shoal_cancel(x.rt, r, 0), 1);
	/* the parent now waits on its poll(10) child, which polls for ever:
	 * cancel that one alone, and the rest runs */
	tu_assert_rc(shoal_cancel(x.rt, cx->child[0], 0), 1);
	tu_assert_rc(cx_code(x.s, r, 10000), SHOAL_ECANCELLED);
	cr_assert_eq(atomic_load(&cx->child_rc[1]), 0);
	cr_assert_eq(atomic_load(&cx->child_rc[2]), 0);
	cr_assert_eq(atomic_load(&cx->ran[11]), 1);
	cr_assert_eq(atomic_load(&cx->ran[12]), 1);
	tu_assert_rc(shoal_drop(x.s, r), 0);
	cx_stop(&x);
}

Test(cancel, a_deadline_past_before_the_start_means_never_started)
{
	struct cx_rt x = cx_start(1);
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	shoal_id gref, gate = cx_block(&x, &gref), r;
	struct shoal_args a;
	int64_t k = 1, t0;

	o.deadline_ms = 50;
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &k, sizeof k), 0);
	tu_assert_rc(shoal_submit_opts(x.rt, shoal_function(x.rt, "count"), &a, &o,
				       &r), 0);
	t0 = tu_now_ms();
	/* the pool stays busy: the fork server's watch fails it */
	tu_assert_rc(cx_code(x.s, r, 5000), SHOAL_EDEADLINE);
	cr_assert_geq(tu_now_ms() - t0, 40);
	cx_open(&x, gate, gref);
	cx_drain(&x, 2);
	cr_assert_eq(atomic_load(&cx->ran[1]), 0, "it started past its deadline");
	tu_assert_rc(shoal_drop(x.s, r), 0);
	o.deadline_ms = -1;
	tu_assert_rc(shoal_submit_opts(x.rt, shoal_function(x.rt, "count"), &a, &o,
				       &r), -EINVAL);
	cx_stop(&x);
}

Test(cancel, a_running_task_past_its_deadline_sees_the_flag)
{
	struct cx_rt x = cx_start(1);
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	struct shoal_args a;
	int64_t k = 1, set = 0, t0 = tu_now_ms();
	shoal_id r;

	o.deadline_ms = 200;
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &k, sizeof k), 0);
	tu_assert_rc(shoal_args_bytes(&a, &set, sizeof set), 0);
	tu_assert_rc(shoal_submit_opts(x.rt, shoal_function(x.rt, "poll"), &a, &o,
				       &r), 0);
	tu_assert_rc(cx_code(x.s, r, 10000), SHOAL_EDEADLINE);
	cr_assert_geq(tu_now_ms() - t0, 190);
	cr_assert_eq(atomic_load(&cx->ran[1]), 1);
	cr_assert_eq(atomic_load(&cx->saw[1]), 1);
	tu_assert_rc(shoal_drop(x.s, r), 0);
	cx_stop(&x);
}

Test(cancel, a_task_and_an_attached_program_cancel_too)
{
	struct cx_rt x = cx_start(2);
	shoal_id arg = shoal_id_next(x.s), r1, r2, cr;
	struct shoal_args a;
	int64_t k = 1, got;
	struct shoal_view v;
	void *buf;
	pid_t pid;

	tu_assert_rc(shoal_create(x.s, arg, 8, NULL, 0, 0, &buf), 0);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &k, sizeof k), 0);
	tu_assert_rc(shoal_args_ref(&a, arg), 0);
	tu_assert_rc(shoal_submit(x.rt, shoal_function(x.rt, "count"), &a, 1, &r1), 0);
	tu_assert_rc(shoal_submit(x.rt, shoal_function(x.rt, "count"), &a, 1, &r2), 0);
	/* from a task */
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &r1, sizeof r1), 0);
	tu_assert_rc(shoal_submit(x.rt, shoal_function(x.rt, "cancel"), &a, 1, &cr), 0);
	tu_assert_rc(shoal_get(x.s, cr, 10000, &v), 0);
	memcpy(&got, v.data, sizeof got);
	tu_assert_rc(shoal_release(x.s, &v), 0);
	cr_assert_eq(got, 0, "cancel from a task: %s", shoal_strerror((int)got));
	tu_assert_rc(cx_code(x.s, r1, 0), SHOAL_ECANCELLED);
	/* from an attached program */
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_runtime *rt;

		TU_CHILD_CHECK(shoal_runtime_attach(x.name, &rt) == 0, 2);
		TU_CHILD_CHECK(shoal_cancel(rt, r2, 0) == 0, 3);
		TU_CHILD_CHECK(shoal_cancel(rt, r2, 0) == -EALREADY, 4);
		shoal_runtime_detach(rt);
		_exit(0);
	}
	tu_assert_rc(tu_wait_exit(pid), 0);
	tu_assert_rc(cx_code(x.s, r2, 0), SHOAL_ECANCELLED);
	tu_assert_rc(shoal_seal(x.s, arg), 0);
	cx_drain(&x, 2);
	cx_drain(&x, 3);
	cr_assert_eq(atomic_load(&cx->ran[1]), 0);
	tu_assert_rc(shoal_drop(x.s, r1), 0);
	tu_assert_rc(shoal_drop(x.s, r2), 0);
	tu_assert_rc(shoal_drop(x.s, cr), 0);
	tu_assert_rc(shoal_drop(x.s, arg), 0);
	cx_stop(&x);
}

Test(cancel, bad_input_finished_and_unknown_refs)
{
	struct cx_rt x = cx_start(1);
	shoal_id r, put;
	int64_t v = 5;

	tu_assert_rc(cx_submit(x.rt, "count", 7, 0, &r), 0);
	tu_assert_rc(cx_code(x.s, r, 10000), 0);
	tu_assert_rc(shoal_cancel(x.rt, r, 0), -EALREADY);
	tu_assert_rc(shoal_cancel(x.rt, r, SHOAL_CANCEL_FORCE), -EALREADY);
	tu_assert_rc(cx_code(x.s, r, 0), 0);
	tu_assert_rc(shoal_cancel(NULL, r, 0), -EINVAL);
	tu_assert_rc(shoal_cancel(x.rt, SHOAL_ID_NIL, 0), -EINVAL);
	tu_assert_rc(shoal_cancel(x.rt, r, 4), -EINVAL);
	tu_assert_rc(shoal_cancel(x.rt, shoal_id_next(x.s), 0), -ENOENT);
	tu_assert_rc(shoal_put(x.s, &v, sizeof v, 0, &put), 0);
	tu_assert_rc(shoal_cancel(x.rt, put, 0), -EALREADY);
	cr_assert_eq(shoal_task_cancelled(NULL), false);
	tu_assert_rc(shoal_drop(x.s, put), 0);
	tu_assert_rc(shoal_drop(x.s, r), 0);
	cx_stop(&x);
}

/*
 * Cancel racing with completion: each of CX_RACE tasks is cancelled
 * while it may be queued, starting, running or done.  Each result is one
 * of two outcomes: its value (and the task ran once) or SHOAL_ECANCELLED;
 * a cancel that said "not started" (0) means cancelled and never run, one
 * that said "finished" (-EALREADY) means the value.  Every later get
 * agrees, and so does an attached program's.
 */
#define CX_RACE 600

Test(cancel, cancel_racing_with_completion_has_one_outcome)
{
	struct cx_rt x = cx_start(2);
	static shoal_id r[CX_RACE];
	static int outcome[CX_RACE];
	int n_cancelled = 0, n_value = 0, n_rc[3] = {0};
	pid_t pid;

	for (int i = 0; i < CX_RACE; i++) {
		int rc;

		/* runs 0 or 300 us, cancelled 0 .. 980 us after its submit:
		 * queued, starting, running, finishing or done */
		tu_assert_rc(cx_submit(x.rt, "count", i, (i & 1) * 300, &r[i]), 0);
		cx_spin_us((i / 2 % 50) * 20);
		rc = shoal_cancel(x.rt, r[i], 0);
		n_rc[rc == -EALREADY ? 2 : rc]++;
		cr_assert(rc == 0 || rc == 1 || rc == -EALREADY, "cancel: %d", rc);
		outcome[i] = cx_code(x.s, r[i], 10000);
		cr_assert(outcome[i] == 0 || outcome[i] == SHOAL_ECANCELLED,
			  "task %d: %s", i, shoal_strerror(outcome[i]));
		if (rc == 0)
			cr_assert_eq(outcome[i], SHOAL_ECANCELLED, "task %d", i);
		if (rc == -EALREADY)
			cr_assert_eq(outcome[i], 0, "task %d", i);
		n_cancelled += outcome[i] != 0;
		n_value += outcome[i] == 0;
	}
	cx_drain(&x, CX_SLOTS - 1);
	cx_drain(&x, CX_SLOTS - 2);
	for (int i = 0; i < CX_RACE; i++) {
		int64_t ran = atomic_load(&cx->ran[i]);

		cr_assert_eq(cx_code(x.s, r[i], 0), outcome[i], "task %d changed", i);
		if (outcome[i] == 0)
			cr_assert_eq(ran, 1, "task %d: value, ran %lld", i, (long long)ran);
		else
			cr_assert_leq(ran, 1, "task %d ran %lld times", i, (long long)ran);
	}
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_runtime *rt;
		struct shoal_store *s;

		TU_CHILD_CHECK(shoal_runtime_attach(x.name, &rt) == 0, 2);
		s = shoal_runtime_store(rt);
		for (int i = 0; i < CX_RACE; i++)
			TU_CHILD_CHECK(cx_code(s, r[i], 1000) == outcome[i], 3);
		shoal_runtime_detach(rt);
		_exit(0);
	}
	tu_assert_rc(tu_wait_exit(pid), 0);
	cr_log_info("race: %d cancelled, %d completed; cancel said not started "
		    "%d, running %d, finished %d", n_cancelled, n_value, n_rc[0],
		    n_rc[1], n_rc[2]);
	for (int i = 0; i < CX_RACE; i++)
		tu_assert_rc(shoal_drop(x.s, r[i]), 0);
	cx_stop(&x);
}

/* ------------------------------------------------------------------ */
/* Actor calls                                                         */

static int cx_call(struct cx_rt *x, struct shoal_actor a, const char *m,
		   int64_t k, int64_t extra, int64_t deadline_ms, shoal_id *out)
{
	struct shoal_call_options o = SHOAL_CALL_OPTIONS_INIT;
	struct shoal_args args;

	o.deadline_ms = deadline_ms;
	shoal_args_init(&args);
	shoal_args_bytes(&args, &k, sizeof k);
	shoal_args_bytes(&args, &extra, sizeof extra);
	return shoal_actor_call_opts(x->rt, a, shoal_actor_method(x->rt, a, m), &args,
				     &o, out);
}

Test(cancel, an_actor_call_queued_is_dropped_and_a_running_one_flagged)
{
	struct cx_rt x = cx_start(1);
	struct shoal_actor a;
	shoal_id run, queued, later, forced;

	tu_assert_rc(shoal_actor_create(x.rt, "Cx", NULL, NULL, &a), 0);
	tu_assert_rc(cx_call(&x, a, "poll", 1, 0, 0, &run), 0);
	tu_assert_rc(cx_call(&x, a, "count", 2, 0, 0, &queued), 0);
	cx_wait_count(&cx->ran[1], 1, "the method started");
	tu_assert_rc(shoal_cancel(x.rt, queued, 0), 0);
	tu_assert_rc(cx_code(x.s, queued, 0), SHOAL_ECANCELLED);
	tu_assert_rc(shoal_cancel(x.rt, queued, 0), -EALREADY);
	tu_assert_rc(shoal_cancel(x.rt, run, SHOAL_CANCEL_FORCE), -EINVAL);
	tu_assert_rc(shoal_cancel(x.rt, run, 0), 1);
	tu_assert_rc(cx_code(x.s, run, 5000), SHOAL_ECANCELLED);
	cr_assert_eq(atomic_load(&cx->saw[1]), 1);
	/* the actor serves on, and the dropped call never ran */
	tu_assert_rc(cx_call(&x, a, "count", 3, 0, 0, &later), 0);
	tu_assert_rc(cx_code(x.s, later, 5000), 0);
	cr_assert_eq(atomic_load(&cx->ran[2]), 0, "the dropped call ran");
	tu_assert_rc(shoal_cancel(x.rt, later, 0), -EALREADY);
	tu_assert_rc(cx_code(x.s, later, 0), 0);
	/* a method cancels too: poll(4) runs, a method of another actor
	 * cancels it */
	tu_assert_rc(cx_call(&x, a, "poll", 4, 0, 0, &forced), 0);
	cx_wait_count(&cx->ran[4], 1, "the method started");
	{
		struct shoal_actor b;
		struct shoal_args args;
		struct shoal_view v;
		shoal_id cr;
		int64_t got;

		tu_assert_rc(shoal_actor_create(x.rt, "Cx", NULL, NULL, &b), 0);
		shoal_args_init(&args);
		tu_assert_rc(shoal_args_bytes(&args, &forced, sizeof forced), 0);
		tu_assert_rc(shoal_actor_call(x.rt, b, shoal_actor_method(x.rt, b, "cancel"),
					      &args, &cr), 0);
		tu_assert_rc(shoal_get(x.s, cr, 10000, &v), 0);
		memcpy(&got, v.data, sizeof got);
		tu_assert_rc(shoal_release(x.s, &v), 0);
		cr_assert_eq(got, 1, "cancel from a method: %lld", (long long)got);
		tu_assert_rc(shoal_drop(x.s, cr), 0);
	}
	tu_assert_rc(cx_code(x.s, forced, 5000), SHOAL_ECANCELLED);
	tu_assert_rc(shoal_drop(x.s, run), 0);
	tu_assert_rc(shoal_drop(x.s, queued), 0);
	tu_assert_rc(shoal_drop(x.s, later), 0);
	tu_assert_rc(shoal_drop(x.s, forced), 0);
	cx_stop(&x);
}

Test(cancel, actor_call_deadlines)
{
	struct cx_rt x = cx_start(1);
	struct shoal_actor a;
	shoal_id gate = shoal_id_next(x.s), g, late, run;
	struct shoal_args args;
	void *buf;

	tu_assert_rc(shoal_actor_create(x.rt, "Cx", NULL, NULL, &a), 0);
	tu_assert_rc(shoal_create(x.s, gate, 8, NULL, 0, 0, &buf), 0);
	shoal_args_init(&args);
	tu_assert_rc(shoal_args_bytes(&args, &gate, sizeof gate), 0);
	tu_assert_rc(shoal_actor_call(x.rt, a, shoal_actor_method(x.rt, a, "gate"),
				      &args, &g), 0);
	/* queued behind the gate past its deadline: dropped, never run */
	tu_assert_rc(cx_call(&x, a, "count", 1, 0, 30, &late), 0);
	tu_assert_rc(cx_code(x.s, late, 5000), SHOAL_EDEADLINE); /* the watch's */
	tu_assert_rc(shoal_seal(x.s, gate), 0);
	tu_assert_rc(cx_code(x.s, g, 10000), 0);
	tu_assert_rc(cx_code(x.s, late, 10000), SHOAL_EDEADLINE);
	cr_assert_eq(atomic_load(&cx->ran[1]), 0, "it started past its deadline");
	/* running past its deadline: the method sees the flag */
	tu_assert_rc(cx_call(&x, a, "poll", 2, 0, 100, &run), 0);
	tu_assert_rc(cx_code(x.s, run, 10000), SHOAL_EDEADLINE);
	cr_assert_eq(atomic_load(&cx->saw[2]), 1);
	tu_assert_rc(cx_call(&x, a, "count", 3, 0, -1, &run), -EINVAL);
	tu_assert_rc(shoal_drop(x.s, g), 0);
	tu_assert_rc(shoal_drop(x.s, late), 0);
	tu_assert_rc(shoal_drop(x.s, run), 0);
	tu_assert_rc(shoal_drop(x.s, gate), 0);
	cx_stop(&x);
}

/* ------------------------------------------------------------------ */
/* Deadlines of queued calls and tasks, recursive cancel of a call     */

/* How late a queued call or task may fail past its deadline: one watch
 * period (250 ms: a deadline the fork server's watch has not seen yet)
 * and the machine's scheduling. */
#define CX_DL_LATE_MS 500

/* gate(gate) called on a: holds the actor until *gate is sealed. */
static shoal_id cx_hold_actor(struct cx_rt *x, struct shoal_actor a, shoal_id *gate)
{
	struct shoal_args args;
	shoal_id g;
	void *buf;

	*gate = shoal_id_next(x->s);
	tu_assert_rc(shoal_create(x->s, *gate, 8, NULL, 0, 0, &buf), 0);
	shoal_args_init(&args);
	tu_assert_rc(shoal_args_bytes(&args, gate, sizeof *gate), 0);
	tu_assert_rc(shoal_actor_call(x->rt, a, shoal_actor_method(x->rt, a, "gate"),
				      &args, &g), 0);
	return g;
}

static void cx_release_actor(struct cx_rt *x, shoal_id gate, shoal_id g)
{
	tu_assert_rc(shoal_seal(x->s, gate), 0);
	tu_assert_rc(cx_code(x->s, g, 10000), 0);
	tu_assert_rc(shoal_drop(x->s, g), 0);
	tu_assert_rc(shoal_drop(x->s, gate), 0);
}

Test(cancel, a_queued_call_fails_at_its_deadline_while_the_actor_is_busy)
{
	struct cx_rt x = cx_start(1);
	struct shoal_actor a;
	shoal_id gate, g, late, r2, r3;
	int64_t t0, dt;

	tu_assert_rc(shoal_actor_create(x.rt, "Cx", NULL, NULL, &a), 0);
	g = cx_hold_actor(&x, a, &gate);
	t0 = tu_now_ms();
	tu_assert_rc(cx_call(&x, a, "count", 1, 0, 100, &late), 0);
	/* the actor stays busy (the gate is sealed only below) */
	tu_assert_rc(cx_code(x.s, late, 5000), SHOAL_EDEADLINE);
	dt = tu_now_ms() - t0;
	cr_assert(dt >= 95 && dt <= 100 + CX_DL_LATE_MS, "failed after %lld ms",
		  (long long)dt);
	tu_assert_rc(shoal_cancel(x.rt, late, 0), -EALREADY);
	/* the lane serves on, in order, once the actor is free */
	tu_assert_rc(cx_call(&x, a, "count", 2, 0, 0, &r2), 0);
	tu_assert_rc(cx_call(&x, a, "count", 3, 0, 0, &r3), 0);
	cx_release_actor(&x, gate, g);
	tu_assert_rc(cx_code(x.s, r2, 5000), 0);
	tu_assert_rc(cx_code(x.s, r3, 5000), 0);
	cr_assert_eq(atomic_load(&cx->ran[1]), 0, "the expired call ran");
	cr_assert(atomic_load(&cx->order[2]) > 0 &&
		  atomic_load(&cx->order[2]) < atomic_load(&cx->order[3]));
	tu_assert_rc(cx_code(x.s, late, 0), SHOAL_EDEADLINE);
	tu_assert_rc(shoal_drop(x.s, late), 0);
	tu_assert_rc(shoal_drop(x.s, r2), 0);
	tu_assert_rc(shoal_drop(x.s, r3), 0);
	cx_stop(&x);
}

Test(cancel, a_queued_call_of_an_attached_program_fails_at_its_deadline)
{
	struct cx_rt x = cx_start(1);
	struct shoal_actor a;
	shoal_id gate, g, r;
	pid_t pid;

	tu_assert_rc(shoal_actor_create(x.rt, "Cx", NULL, NULL, &a), 0);
	g = cx_hold_actor(&x, a, &gate);
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_call_options o = SHOAL_CALL_OPTIONS_INIT;
		struct shoal_runtime *rt;
		struct shoal_args args;
		struct shoal_view v;
		int64_t k = 1, t0, dt;
		shoal_id late;

		TU_CHILD_CHECK(shoal_runtime_attach(x.name, &rt) == 0, 2);
		o.deadline_ms = 100;
		shoal_args_init(&args);
		shoal_args_bytes(&args, &k, sizeof k);
		shoal_args_bytes(&args, &k, sizeof k);
		t0 = tu_now_ms();
		TU_CHILD_CHECK(shoal_actor_call_opts(rt, a, shoal_actor_method(rt, a, "count"),
						     &args, &o, &late) == 0, 3);
		TU_CHILD_CHECK(shoal_get(shoal_runtime_store(rt), late, 5000, &v) ==
				       SHOAL_EDEADLINE, 4);
		dt = tu_now_ms() - t0;
		TU_CHILD_CHECK(dt >= 95 && dt <= 100 + CX_DL_LATE_MS, 5);
		shoal_drop(shoal_runtime_store(rt), late);
		shoal_runtime_detach(rt);
		_exit(0);
	}
	tu_assert_rc(tu_wait_exit(pid), 0);
	cx_release_actor(&x, gate, g);
	tu_assert_rc(cx_call(&x, a, "count", 2, 0, 0, &r), 0);
	tu_assert_rc(cx_code(x.s, r, 5000), 0);
	cr_assert_eq(atomic_load(&cx->ran[1]), 0, "the expired call ran");
	tu_assert_rc(shoal_drop(x.s, r), 0);
	cx_stop(&x);
}

/*
 * Deadlines racing with the actor's start: behind a method busy for
 * 150 ms, calls whose deadlines fall between 100 and 220 ms; the watch
 * expires some while the actor starts others.  Each get gives the value
 * (and the method ran once) or SHOAL_EDEADLINE (and it never ran), and
 * says so again later.
 */
#define CX_DL_ROUNDS 4
#define CX_DL_CALLS 60

Test(cancel, a_deadline_racing_with_the_actors_start_has_one_outcome)
{
	struct cx_rt x = cx_start(1);
	static shoal_id r[CX_DL_ROUNDS * CX_DL_CALLS];
	static int out[CX_DL_ROUNDS * CX_DL_CALLS];
	struct shoal_actor a;
	int n_dl = 0, n_val = 0;

	tu_assert_rc(shoal_actor_create(x.rt, "Cx", NULL, NULL, &a), 0);
	for (int round = 0; round < CX_DL_ROUNDS; round++) {
		shoal_id busy;

		tu_assert_rc(cx_call(&x, a, "count", 1, 150000, 0, &busy), 0);
		for (int i = 0; i < CX_DL_CALLS; i++) {
			int j = round * CX_DL_CALLS + i;

			tu_assert_rc(cx_call(&x, a, "count", 100 + j, 0,
					     100 + (i * 37) % 120, &r[j]), 0);
		}
		tu_assert_rc(cx_code(x.s, busy, 10000), 0);
		tu_assert_rc(shoal_drop(x.s, busy), 0);
		for (int i = 0; i < CX_DL_CALLS; i++) {
			int j = round * CX_DL_CALLS + i;

			out[j] = cx_code(x.s, r[j], 10000);
			cr_assert(out[j] == 0 || out[j] == SHOAL_EDEADLINE, "call %d: %s",
				  j, shoal_strerror(out[j]));
		}
	}
	cx_drain(&x, 2); /* a task: the actor's own order is checked below */
	{
		shoal_id last;

		tu_assert_rc(cx_call(&x, a, "count", 3, 0, 0, &last), 0);
		tu_assert_rc(cx_code(x.s, last, 10000), 0);
		tu_assert_rc(shoal_drop(x.s, last), 0);
	}
	for (int j = 0; j < CX_DL_ROUNDS * CX_DL_CALLS; j++) {
		int64_t ran = atomic_load(&cx->ran[100 + j]);

		cr_assert_eq(cx_code(x.s, r[j], 0), out[j], "call %d changed", j);
		cr_assert_eq(ran, out[j] == 0 ? 1 : 0, "call %d: %s, ran %lld", j,
			     shoal_strerror(out[j]), (long long)ran);
		n_dl += out[j] != 0;
		n_val += out[j] == 0;
		tu_assert_rc(shoal_drop(x.s, r[j]), 0);
	}
	cr_log_info("deadline race: %d expired, %d ran", n_dl, n_val);
	cx_stop(&x);
}

/*
 * Tasks queued behind a busy pool fail at their deadlines, each within
 * 120 ms of it: the watch wakes at the soonest deadline it saw, not only
 * at its period (250 ms: five deadlines 70 ms apart cannot all be kept
 * to 120 ms by a 250 ms grid).
 */
Test(cancel, queued_tasks_fail_at_their_deadlines)
{
	struct cx_rt x = cx_start(1);
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	shoal_id gref, gate = cx_block(&x, &gref), r[5];
	int64_t t0[5], dl[5];

	for (int i = 0; i < 5; i++) {
		struct shoal_args a;
		int64_t k = 20 + i;

		dl[i] = 400 + 70 * i;
		o.deadline_ms = dl[i];
		shoal_args_init(&a);
		tu_assert_rc(shoal_args_bytes(&a, &k, sizeof k), 0);
		t0[i] = tu_now_ms();
		tu_assert_rc(shoal_submit_opts(x.rt, shoal_function(x.rt, "count"), &a,
					       &o, &r[i]), 0);
	}
	for (int i = 0; i < 5; i++) {
		int64_t dt;

		tu_assert_rc(cx_code(x.s, r[i], 5000), SHOAL_EDEADLINE);
		dt = tu_now_ms() - t0[i];
		cr_assert(dt >= dl[i] - 5 && dt <= dl[i] + 120,
			  "task %d (deadline %lld ms) failed after %lld ms", i,
			  (long long)dl[i], (long long)dt);
	}
	cx_open(&x, gate, gref);
	cx_drain(&x, 2);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(atomic_load(&cx->ran[20 + i]), 0);
		tu_assert_rc(shoal_drop(x.s, r[i]), 0);
	}
	cx_stop(&x);
}

/* mparent(1) on an actor, with its children started: poll(10) running
 * on the one worker, count(11) queued, count(13) parked. */
static shoal_id cx_mparent(struct cx_rt *x, struct shoal_actor *a)
{
	shoal_id r;
	void *buf;

	tu_assert_rc(shoal_actor_create(x->rt, "Cx", NULL, NULL, a), 0);
	cx->mparent_gate = shoal_id_next(x->s);
	tu_assert_rc(shoal_create(x->s, cx->mparent_gate, 8, NULL, 0, 0, &buf), 0);
	tu_assert_rc(cx_call(x, *a, "mparent", 1, 0, 0, &r), 0);
	cx_wait_count(&cx->ran[1], 1, "mparent started");
	cx_wait_count(&cx->children_ready, 1, "children submitted");
	cx_wait_count(&cx->ran[10], 1, "its running child started");
	return r;
}

Test(cancel, recursive_cancel_of_an_actor_call_reaches_its_tasks)
{
	struct cx_rt x = cx_start(1);
	struct shoal_actor a;
	shoal_id r = cx_mparent(&x, &a);

	tu_assert_rc(shoal_cancel(x.rt, r, SHOAL_CANCEL_RECURSIVE), 1);
	tu_assert_rc(cx_code(x.s, r, 10000), SHOAL_ECANCELLED);
	cr_assert_eq(atomic_load(&cx->child_rc[0]), SHOAL_ECANCELLED,
		     "running child: %s", shoal_strerror((int)cx->child_rc[0]));
	cr_assert_eq(atomic_load(&cx->child_rc[1]), SHOAL_ECANCELLED,
		     "queued child: %s", shoal_strerror((int)cx->child_rc[1]));
	cr_assert_eq(atomic_load(&cx->child_rc[2]), SHOAL_ECANCELLED,
		     "child submitted after: %s", shoal_strerror((int)cx->child_rc[2]));
	cr_assert_eq(atomic_load(&cx->child_rc[3]), SHOAL_ECANCELLED,
		     "parked child: %s", shoal_strerror((int)cx->child_rc[3]));
	cr_assert_eq(atomic_load(&cx->saw[10]), 1);
	tu_assert_rc(shoal_seal(x.s, cx->mparent_gate), 0);
	cx_drain(&x, 2);
	cr_assert_eq(atomic_load(&cx->ran[11]) + atomic_load(&cx->ran[12]) +
			     atomic_load(&cx->ran[13]), 0, "a cancelled child ran");
	tu_assert_rc(shoal_drop(x.s, cx->mparent_gate), 0);
	tu_assert_rc(shoal_drop(x.s, r), 0);
	cx_stop(&x);
}

Test(cancel, without_recursive_an_actor_calls_tasks_run_on)
{
	struct cx_rt x = cx_start(1);
	struct shoal_actor a;
	shoal_id r = cx_mparent(&x, &a);

	tu_assert_rc(shoal_cancel(x.rt, r, 0), 1);
	/* the method now waits on its poll(10) child: cancel that one alone */
	tu_assert_rc(shoal_cancel(x.rt, cx->child[0], 0), 1);
	tu_assert_rc(shoal_seal(x.s, cx->mparent_gate), 0);
	tu_assert_rc(cx_code(x.s, r, 10000), SHOAL_ECANCELLED);
	cr_assert_eq(atomic_load(&cx->child_rc[1]), 0);
	cr_assert_eq(atomic_load(&cx->child_rc[2]), 0);
	cr_assert_eq(atomic_load(&cx->child_rc[3]), 0);
	cr_assert_eq(atomic_load(&cx->ran[11]), 1);
	cr_assert_eq(atomic_load(&cx->ran[12]), 1);
	cr_assert_eq(atomic_load(&cx->ran[13]), 1);
	tu_assert_rc(shoal_drop(x.s, cx->mparent_gate), 0);
	tu_assert_rc(shoal_drop(x.s, r), 0);
	cx_stop(&x);
}
