/* SPDX-License-Identifier: MIT */
/*
 * tests/test_cancel_calls.c - a recursive cancel reaches the actor calls
 * a task (or an actor method) made (Ray's ray.cancel(ref, recursive=True):
 * "all the child Tasks and Actor Tasks are cancelled").
 *
 * Before, shoal_cancel(rt, ref, SHOAL_CANCEL_RECURSIVE) followed only the
 * tasks a cancelled task submitted: the calls it made ran, and their
 * results held values.  Here, on real runtimes (forked workers and actor
 * processes):
 *  - a call a task made to a busy actor (queued) is dropped: it never
 *    runs and its result holds SHOAL_ECANCELLED, and so is a call the
 *    task makes after its cancel landed;
 *  - a running call a task made sees shoal_task_cancelled(), and the
 *    calls its method made (queued) or makes after are dropped too;
 *  - a call a task makes after its recursive cancel never runs;
 *  - a call of a task waiting for room in a full lane when the task is
 *    cancelled recursively stops waiting: its result holds
 *    SHOAL_ECANCELLED while the actor is still busy (it waited on until
 *    the lane had room or its own timeout passed);
 *  - a plain cancel (no RECURSIVE) leaves the task's calls to run;
 *  - a recursive FORCE cancel kills the task's worker, drops its queued
 *    call (FORCE is never applied to a call) and the actor lives on;
 *  - its canceller killed right after its CAS (crash point
 *    TASK_CANCEL_SET, before its scan and its kill): the fork server's
 *    watch kills the worker, and its settle of the dead worker cancels
 *    the task's children again (task/deadworker.c): the call is dropped.
 *
 * Whether a method ran is counted in a page every process of the runtime
 * shares (mapped before the runtime starts).  That the actor got past a
 * call is read from its counters (a dropped call counts as failed, a run
 * one as run: shoal_actor_info).  Every wait is for an event and bounded;
 * handshakes are flags in the page.
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include <shoal/shoal.h>

#include "testutil.h"
#include "internal.h"

TestSuite(cancel_calls, .init = tu_setup, .fini = tu_teardown, .timeout = 90);

#define CC_SLOTS 16
#define CC_WAIT_MS 10000  /* a test's wait for an event */
#define CC_POLL_MS 5000   /* a method's wait for its own cancel */
#define CC_HOLD_MS 20000  /* block(i) and spin: their own bound */

/* Shared by every process of the runtime (mapped before its start). */
struct cc_page {
	_Atomic int32_t blocking[2];      /* block(i) runs on its actor */
	_Atomic int32_t release[2];       /* the driver: block(i) may return */
	_Atomic int32_t go;               /* the driver: actors released */
	_Atomic int64_t ran[CC_SLOTS];    /* runs of mark(k), pollm(k) */
	_Atomic int32_t started[CC_SLOTS]; /* task or method k started */
	_Atomic int32_t made[CC_SLOTS];   /* call k made: 1, failed: -1 */
	_Atomic int32_t saw[CC_SLOTS];    /* pollm(k) saw its flag */
	_Atomic int32_t got[CC_SLOTS];    /* code[k] written */
	_Atomic int32_t code[CC_SLOTS];   /* a get of call k's result */
	_Atomic int32_t filled;           /* calls that filled a's lane */
};

static struct cc_page *cc;

static bool cc_until(_Atomic int32_t *flag, int32_t want, int64_t ms)
{
	int64_t t0 = tu_now_ms();

	while (atomic_load(flag) != want && tu_now_ms() - t0 < ms)
		sched_yield();
	return atomic_load(flag) == want;
}

static int64_t cc_arg(struct shoal_task *t, uint32_t i)
{
	const void *d;
	size_t n;
	int64_t v = -1;

	if (!shoal_task_arg(t, i, &d, &n) && n == sizeof v)
		memcpy(&v, d, sizeof v);
	return v;
}

static bool cc_slot_ok(int64_t k)
{
	return k >= 0 && k < CC_SLOTS;
}

/* get's code within timeout_ms (its view let go) */
static int cc_code(struct shoal_store *s, shoal_id id, int timeout_ms)
{
	struct shoal_view v;
	int rc = shoal_get(s, id, timeout_ms, &v);

	if (rc == 0)
		shoal_release(s, &v);
	return rc;
}

/* m(k) called on actor a from the running task or method t: into *ref,
 * and made[k] says so. */
static bool cc_call(struct shoal_task *t, struct shoal_actor a, const char *m,
		    int64_t k, shoal_id *ref)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_args args;
	int rc;

	shoal_args_init(&args);
	shoal_args_bytes(&args, &k, sizeof k);
	rc = shoal_actor_call(rt, a, shoal_actor_method(rt, a, m), &args, ref);
	atomic_store(&cc->made[k], rc ? -1 : 1);
	return rc == 0;
}

/* The code of call k's result (ref), into the page. */
static void cc_record(struct shoal_task *t, int64_t k, shoal_id ref)
{
	atomic_store(&cc->code[k], cc_code(shoal_runtime_store(shoal_task_runtime(t)),
					   ref, CC_WAIT_MS));
	atomic_store(&cc->got[k], 1);
}

static bool cc_poll_until_cancelled(struct shoal_task *t, int64_t ms)
{
	int64_t t0 = tu_now_ms();

	while (!shoal_task_cancelled(t))
		if (tu_now_ms() - t0 > ms)
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* The actor's methods                                                 */

/* block(i): holds the actor until the driver releases it. */
static int m_block(struct shoal_task *t, void *user)
{
	int64_t i = cc_arg(t, 0), zero = 0;

	(void)user;
	if (i < 0 || i > 1)
		return SHOAL_ETASK;
	atomic_store(&cc->blocking[i], 1);
	cc_until(&cc->release[i], 1, CC_HOLD_MS);
	return shoal_task_return(t, 0, &zero, sizeof zero);
}

/* mark(k): counts its run, returns k. */
static int m_mark(struct shoal_task *t, void *user)
{
	int64_t k = cc_arg(t, 0);

	(void)user;
	if (!cc_slot_ok(k))
		return SHOAL_ETASK;
	atomic_fetch_add(&cc->ran[k], 1);
	return shoal_task_return(t, 0, &k, sizeof k);
}

/* pollm(k, b): counts its run, calls b.mark(k + 1) (b is busy: it stays
 * queued), polls its own flag; then calls b.mark(k + 2) and, once the
 * driver released b, records both calls' codes.  Cancelled, it returns
 * with its result unset. */
static int m_pollm(struct shoal_task *t, void *user)
{
	int64_t k = cc_arg(t, 0);
	struct shoal_actor b;
	shoal_id r1, r2;
	bool cancelled;

	(void)user;
	if (!cc_slot_ok(k) || k + 2 >= CC_SLOTS || shoal_task_arg_actor(t, 1, &b))
		return SHOAL_ETASK;
	atomic_fetch_add(&cc->ran[k], 1);
	if (!cc_call(t, b, "mark", k + 1, &r1))
		return SHOAL_ETASK;
	cancelled = cc_poll_until_cancelled(t, CC_POLL_MS);
	atomic_store(&cc->saw[k], cancelled ? 1 : -1);
	if (!cc_call(t, b, "mark", k + 2, &r2))
		return SHOAL_ETASK;
	cc_until(&cc->go, 1, CC_WAIT_MS);
	cc_record(t, k + 1, r1);
	cc_record(t, k + 2, r2);
	return cancelled ? 0 : shoal_task_return(t, 0, &k, sizeof k);
}

static int cc_actor_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The tasks                                                           */

#define CC_QUEUED 0 /* a.mark(k), then cancelled: a.mark(k + 1) */
#define CC_LATE 1   /* cancelled first, then a.mark(k) */
#define CC_NESTED 2 /* a.pollm(k, b) */
#define CC_SPIN 3   /* a.mark(k), then spins without polling */
#define CC_FULL 4   /* fills a's lane with a.mark(k + 1), then a.mark(k) */

/* Fills a's lane (a is busy) with sends of mark(k + 1), each a try: the
 * count into the page; then calls mark(k), which waits for room (up to
 * CC_HOLD_MS), and records its code (made[k] -1: the call failed). */
static int cc_fill_then_call(struct shoal_task *t, struct shoal_actor a, int64_t k)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_call_options o = SHOAL_CALL_OPTIONS_INIT;
	int m = shoal_actor_method(rt, a, "mark");
	int64_t k1 = k + 1;
	struct shoal_args args;
	int32_t n = 0;
	shoal_id r;
	int rc;

	shoal_args_init(&args);
	shoal_args_bytes(&args, &k1, sizeof k1);
	o.num_returns = 0;
	o.timeout_ms = 0;
	while ((rc = shoal_actor_call_opts(rt, a, m, &args, &o, NULL)) == 0)
		if (++n > 1 << 20)
			return SHOAL_ETASK;
	if (rc != SHOAL_ELANEFULL)
		return SHOAL_ETASK;
	atomic_store(&cc->filled, n);
	shoal_args_init(&args);
	shoal_args_bytes(&args, &k, sizeof k);
	o.num_returns = 1;
	o.timeout_ms = CC_HOLD_MS;
	rc = shoal_actor_call_opts(rt, a, m, &args, &o, &r);
	atomic_store(&cc->made[k], rc ? -1 : 1);
	if (rc) {
		atomic_store(&cc->code[k], rc);
		atomic_store(&cc->got[k], 1);
		return 0;
	}
	cc_record(t, k, r);
	return 0;
}

/* caller(k, mode, a[, b]) */
static int t_caller(struct shoal_task *t, void *user)
{
	int64_t k = cc_arg(t, 0), mode = cc_arg(t, 1);
	struct shoal_args args;
	struct shoal_actor a, b;
	shoal_id r1, r2;

	(void)user;
	if (!cc_slot_ok(k) || k + 1 >= CC_SLOTS || shoal_task_arg_actor(t, 2, &a))
		return SHOAL_ETASK;
	atomic_store(&cc->started[k], 1);
	switch (mode) {
	case CC_QUEUED:
		if (!cc_call(t, a, "mark", k, &r1) ||
		    !cc_poll_until_cancelled(t, CC_WAIT_MS))
			return SHOAL_ETASK;
		if (!cc_call(t, a, "mark", k + 1, &r2))
			return SHOAL_ETASK;
		cc_until(&cc->go, 1, CC_WAIT_MS);
		cc_record(t, k, r1);
		cc_record(t, k + 1, r2);
		return 0;
	case CC_LATE:
		if (!cc_poll_until_cancelled(t, CC_WAIT_MS) ||
		    !cc_call(t, a, "mark", k, &r1))
			return SHOAL_ETASK;
		cc_record(t, k, r1);
		return 0;
	case CC_NESTED:
		if (shoal_task_arg_actor(t, 3, &b))
			return SHOAL_ETASK;
		shoal_args_init(&args);
		shoal_args_bytes(&args, &k, sizeof k);
		shoal_args_actor(&args, &b);
		if (shoal_actor_call(shoal_task_runtime(t), a,
				     shoal_actor_method(shoal_task_runtime(t), a, "pollm"),
				     &args, &r1))
			return SHOAL_ETASK;
		if (!cc_poll_until_cancelled(t, CC_WAIT_MS))
			return SHOAL_ETASK;
		cc_record(t, k, r1);
		return 0;
	case CC_FULL:
		return cc_fill_then_call(t, a, k);
	case CC_SPIN:
		if (!cc_call(t, a, "mark", k, &r1))
			return SHOAL_ETASK;
		for (int64_t t0 = tu_now_ms(); tu_now_ms() - t0 < CC_HOLD_MS;)
			;
		return 0;
	}
	return SHOAL_ETASK;
}

/* ------------------------------------------------------------------ */
/* The driver's side                                                   */

struct cc_rt {
	const char *name;
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
	struct shoal_actor a[2];
	shoal_id block[2];
};

static struct cc_rt cc_start(uint32_t workers)
{
	struct cc_rt x = {0};
	struct shoal_runtime_options o;

	cc = mmap(NULL, sizeof *cc, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		  -1, 0);
	cr_assert_neq(cc, MAP_FAILED);
	tu_assert_rc(shoal_registry_open(&x.reg), 0);
	tu_assert_rc(shoal_register_task(x.reg, "caller", t_caller, NULL), 0);
	tu_assert_rc(shoal_register_actor(x.reg, "Cc", cc_actor_init, NULL), 0);
	tu_assert_rc(shoal_register_method(x.reg, "Cc", "block", m_block), 0);
	tu_assert_rc(shoal_register_method(x.reg, "Cc", "mark", m_mark), 0);
	tu_assert_rc(shoal_register_method(x.reg, "Cc", "pollm", m_pollm), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.name = x.name = tu_shm_name("cc");
	o.store.capacity = 16u << 20;
	tu_assert_rc(shoal_runtime_start(x.reg, &o, &x.rt), 0);
	x.s = shoal_runtime_store(x.rt);
	for (int i = 0; i < 2; i++)
		tu_assert_rc(shoal_actor_create(x.rt, "Cc", NULL, NULL, &x.a[i]), 0);
	return x;
}

/* block(i) on actor i: busy until cc_release. */
static void cc_hold(struct cc_rt *x, int64_t i)
{
	struct shoal_args args;

	shoal_args_init(&args);
	shoal_args_bytes(&args, &i, sizeof i);
	tu_assert_rc(shoal_actor_call(x->rt, x->a[i],
				      shoal_actor_method(x->rt, x->a[i], "block"), &args,
				      &x->block[i]), 0);
	cr_assert(cc_until(&cc->blocking[i], 1, CC_WAIT_MS), "block(%lld) never ran",
		  (long long)i);
}

static void cc_release(struct cc_rt *x, int64_t i)
{
	atomic_store(&cc->release[i], 1);
	tu_assert_rc(cc_code(x->s, x->block[i], CC_WAIT_MS), 0);
	tu_assert_rc(shoal_drop(x->s, x->block[i]), 0);
}

/* caller(k, mode, a0[, a1]) submitted */
static shoal_id cc_submit(struct cc_rt *x, int64_t k, int64_t mode, bool both)
{
	struct shoal_args args;
	shoal_id r;

	shoal_args_init(&args);
	shoal_args_bytes(&args, &k, sizeof k);
	shoal_args_bytes(&args, &mode, sizeof mode);
	shoal_args_actor(&args, &x->a[0]);
	if (both)
		shoal_args_actor(&args, &x->a[1]);
	tu_assert_rc(shoal_submit(x->rt, shoal_function(x->rt, "caller"), &args, 1, &r), 0);
	cr_assert(cc_until(&cc->started[k], 1, CC_WAIT_MS), "caller(%lld) never started",
		  (long long)k);
	return r;
}

/* Waits (bounded) until actor i has settled `want` calls (run or
 * dropped: a dropped call counts as failed only). */
static void cc_settled(struct cc_rt *x, int i, uint64_t want)
{
	struct shoal_actor_info info;
	int64_t t0 = tu_now_ms();

	for (;;) {
		tu_assert_rc(shoal_actor_info(x->rt, x->a[i], &info), 0);
		if (info.calls_run + info.calls_failed >= want ||
		    tu_now_ms() - t0 > CC_WAIT_MS)
			break;
		sched_yield();
	}
	cr_assert_geq(info.calls_run + info.calls_failed, want,
		      "actor %d settled %llu calls, not %llu", i,
		      (unsigned long long)(info.calls_run + info.calls_failed),
		      (unsigned long long)want);
}

static void cc_stop(struct cc_rt *x)
{
	tu_assert_rc(shoal_runtime_shutdown(x->rt), 0);
	shoal_registry_close(x->reg);
	munmap(cc, sizeof *cc);
	cc = NULL;
}

static const char *cc_what(int code)
{
	return code == 0 ? "a value (it ran)" : shoal_strerror(code);
}

/* code[k] once written */
static int cc_got(int64_t k)
{
	cr_assert(cc_until(&cc->got[k], 1, 2 * CC_WAIT_MS), "call %lld: no code recorded",
		  (long long)k);
	return atomic_load(&cc->code[k]);
}

Test(cancel_calls, a_queued_call_of_a_task_cancelled_recursively_never_runs)
{
	struct cc_rt x = cc_start(1);
	shoal_id r;
	int rc;

	cc_hold(&x, 0);
	r = cc_submit(&x, 1, CC_QUEUED, false);
	cr_assert(cc_until(&cc->made[1], 1, CC_WAIT_MS), "the task's call was not made");
	rc = shoal_cancel(x.rt, r, SHOAL_CANCEL_RECURSIVE);
	cc_release(&x, 0);
	atomic_store(&cc->go, 1);
	tu_assert_rc(rc, 1);
	tu_assert_rc(cc_code(x.s, r, 2 * CC_WAIT_MS), SHOAL_ECANCELLED);
	cr_assert_eq(cc_got(1), SHOAL_ECANCELLED,
		     "the queued call of a task cancelled recursively: %s",
		     cc_what(cc_got(1)));
	cr_assert_eq(cc_got(2), SHOAL_ECANCELLED,
		     "its call made after the cancel: %s", cc_what(cc_got(2)));
	cc_settled(&x, 0, 3); /* block, and both marks run or dropped */
	cr_assert_eq(atomic_load(&cc->ran[1]) + atomic_load(&cc->ran[2]), 0,
		     "a dropped call ran (%lld, %lld)", (long long)atomic_load(&cc->ran[1]),
		     (long long)atomic_load(&cc->ran[2]));
	tu_assert_rc(shoal_drop(x.s, r), 0);
	cc_stop(&x);
}

Test(cancel_calls, a_running_call_reached_by_a_recursive_cancel_is_flagged_and_its_calls_dropped)
{
	struct cc_rt x = cc_start(1);
	shoal_id r;
	int rc;

	cc_hold(&x, 1); /* b: pollm's own calls stay queued */
	r = cc_submit(&x, 3, CC_NESTED, true);
	cr_assert(cc_until(&cc->made[4], 1, CC_WAIT_MS),
		  "pollm never ran, or its call failed");
	rc = shoal_cancel(x.rt, r, SHOAL_CANCEL_RECURSIVE);
	cc_until(&cc->saw[3], 1, CC_WAIT_MS);
	cc_until(&cc->made[5], 1, CC_WAIT_MS);
	cc_release(&x, 1);
	atomic_store(&cc->go, 1);
	tu_assert_rc(rc, 1);
	tu_assert_rc(cc_code(x.s, r, 2 * CC_WAIT_MS), SHOAL_ECANCELLED);
	cr_assert_eq(atomic_load(&cc->saw[3]), 1,
		     "the running call never saw shoal_task_cancelled()");
	cr_assert_eq(cc_got(3), SHOAL_ECANCELLED, "the running call's result: %s",
		     cc_what(cc_got(3)));
	cr_assert_eq(cc_got(4), SHOAL_ECANCELLED,
		     "a queued call the running call made: %s", cc_what(cc_got(4)));
	cr_assert_eq(cc_got(5), SHOAL_ECANCELLED,
		     "a call it made after the cancel: %s", cc_what(cc_got(5)));
	cc_settled(&x, 1, 3);
	cr_assert_eq(atomic_load(&cc->ran[4]) + atomic_load(&cc->ran[5]), 0,
		     "a dropped call ran");
	cr_assert_eq(atomic_load(&cc->ran[3]), 1, "pollm ran %lld times",
		     (long long)atomic_load(&cc->ran[3]));
	tu_assert_rc(shoal_drop(x.s, r), 0);
	cc_stop(&x);
}

Test(cancel_calls, a_call_made_after_the_recursive_cancel_landed_never_runs)
{
	struct cc_rt x = cc_start(1);
	shoal_id r = cc_submit(&x, 6, CC_LATE, false);

	tu_assert_rc(shoal_cancel(x.rt, r, SHOAL_CANCEL_RECURSIVE), 1);
	tu_assert_rc(cc_code(x.s, r, 2 * CC_WAIT_MS), SHOAL_ECANCELLED);
	cr_assert_eq(atomic_load(&cc->made[6]), 1, "the late call was not made");
	cr_assert_eq(cc_got(6), SHOAL_ECANCELLED,
		     "a call made after the recursive cancel landed: %s",
		     cc_what(cc_got(6)));
	cc_settled(&x, 0, 1);
	cr_assert_eq(atomic_load(&cc->ran[6]), 0, "the late call ran");
	tu_assert_rc(shoal_drop(x.s, r), 0);
	cc_stop(&x);
}

Test(cancel_calls, a_plain_cancel_leaves_the_tasks_calls_to_run)
{
	struct cc_rt x = cc_start(1);
	shoal_id r;
	int rc;

	cc_hold(&x, 0);
	r = cc_submit(&x, 7, CC_QUEUED, false);
	cr_assert(cc_until(&cc->made[7], 1, CC_WAIT_MS), "the task's call was not made");
	rc = shoal_cancel(x.rt, r, 0);
	cc_release(&x, 0);
	atomic_store(&cc->go, 1);
	tu_assert_rc(rc, 1);
	tu_assert_rc(cc_code(x.s, r, 2 * CC_WAIT_MS), SHOAL_ECANCELLED);
	cr_assert_eq(cc_got(7), 0, "the queued call after a plain cancel: %s",
		     shoal_strerror(cc_got(7)));
	cr_assert_eq(cc_got(8), 0, "a call made after a plain cancel: %s",
		     shoal_strerror(cc_got(8)));
	cr_assert_eq(atomic_load(&cc->ran[7]), 1);
	cr_assert_eq(atomic_load(&cc->ran[8]), 1);
	tu_assert_rc(shoal_drop(x.s, r), 0);
	cc_stop(&x);
}

Test(cancel_calls, a_recursive_force_cancel_kills_the_worker_and_drops_its_call)
{
	struct cc_rt x = cc_start(1);
	struct shoal_runtime_info before, after;
	struct shoal_actor_info info;
	struct shoal_args args;
	int64_t ten = 10, t0;
	shoal_id r, later;
	int rc;

	cc_hold(&x, 0);
	r = cc_submit(&x, 9, CC_SPIN, false);
	cr_assert(cc_until(&cc->made[9], 1, CC_WAIT_MS), "the task's call was not made");
	tu_assert_rc(shoal_runtime_info(x.rt, &before, NULL, 0), 0);
	rc = shoal_cancel(x.rt, r, SHOAL_CANCEL_FORCE | SHOAL_CANCEL_RECURSIVE);
	tu_assert_rc(rc, 1);
	tu_assert_rc(cc_code(x.s, r, CC_WAIT_MS), SHOAL_ECANCELLED);
	cc_release(&x, 0);
	cc_settled(&x, 0, 2); /* block, and the task's call run or dropped */
	cr_assert_eq(atomic_load(&cc->ran[9]), 0,
		     "the call of a task cancelled with FORCE | RECURSIVE ran");
	/* the actor lives on and serves */
	shoal_args_init(&args);
	shoal_args_bytes(&args, &ten, sizeof ten);
	tu_assert_rc(shoal_actor_call(x.rt, x.a[0], shoal_actor_method(x.rt, x.a[0], "mark"),
				      &args, &later), 0);
	tu_assert_rc(cc_code(x.s, later, CC_WAIT_MS), 0);
	cr_assert_eq(atomic_load(&cc->ran[10]), 1);
	tu_assert_rc(shoal_actor_info(x.rt, x.a[0], &info), 0);
	cr_assert_eq(info.state, SHOAL_ACTOR_ALIVE);
	cr_assert_eq(info.restarts, 0);
	/* the worker was killed (its death counted once the fork server
	 * reaped it) */
	t0 = tu_now_ms();
	do
		tu_assert_rc(shoal_runtime_info(x.rt, &after, NULL, 0), 0);
	while (after.workers_died == before.workers_died &&
	       tu_now_ms() - t0 < CC_WAIT_MS && sched_yield() == 0);
	cr_assert_eq(after.workers_died, before.workers_died + 1,
		     "the task's worker was not killed");
	tu_assert_rc(shoal_drop(x.s, later), 0);
	tu_assert_rc(shoal_drop(x.s, r), 0);
	cc_stop(&x);
}

Test(cancel_calls, a_force_canceller_killed_before_its_scan_still_drops_the_call)
{
	struct cc_rt x = cc_start(1);
	shoal_id r;
	pid_t pid;
	int st;

	cc_hold(&x, 0);
	r = cc_submit(&x, 11, CC_SPIN, false);
	cr_assert(cc_until(&cc->made[11], 1, CC_WAIT_MS), "the task's call was not made");
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_runtime *rt;

		if (shoal_runtime_attach(x.name, &rt))
			_exit(TU_EXIT_IO);
		shoal__crash_arm(&shoal_runtime_store(rt)->crash, SHOAL__CP_TASK_CANCEL_SET, 1);
		shoal_cancel(rt, r, SHOAL_CANCEL_FORCE | SHOAL_CANCEL_RECURSIVE);
		_exit(0); /* it should have died in there */
	}
	st = tu_wait_status(pid, 15000);
	tu_untrack(pid);
	cr_assert(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "the canceller did not die at TASK_CANCEL_SET (status %#x)", st);
	/* the watch kills the worker; the settle fills the task's return
	 * after it cancelled the task's children again */
	tu_assert_rc(cc_code(x.s, r, CC_WAIT_MS), SHOAL_ECANCELLED);
	cc_release(&x, 0);
	cc_settled(&x, 0, 2);
	cr_assert_eq(atomic_load(&cc->ran[11]), 0,
		     "the call of a task whose FORCE | RECURSIVE canceller died "
		     "after its CAS ran");
	tu_assert_rc(shoal_drop(x.s, r), 0);
	cc_stop(&x);
}

/*
 * The task fills a's lane (a busy with block(0)) and then waits for room
 * for one more call; the driver cancels it recursively.  The waiting
 * call must give up at once, its result SHOAL_ECANCELLED, while a is
 * still busy: it waited for room (the actor's release, or its own
 * CC_HOLD_MS) before.  None of the task's calls runs once a is free.
 */
Test(cancel_calls, a_call_waiting_for_room_stops_once_its_task_is_cancelled)
{
	struct cc_rt x = cc_start(1);
	int32_t filled;
	shoal_id r;
	int rc;

	cc_hold(&x, 0);
	r = cc_submit(&x, 8, CC_FULL, false);
	for (int64_t t0 = tu_now_ms(); !atomic_load(&cc->filled) &&
				       tu_now_ms() - t0 < CC_WAIT_MS;)
		sched_yield();
	filled = atomic_load(&cc->filled);
	cr_assert_gt(filled, 0, "the task never filled the lane");
	rc = shoal_cancel(x.rt, r, SHOAL_CANCEL_RECURSIVE);
	tu_assert_rc(rc, 1);
	cr_assert(cc_until(&cc->got[8], 1, CC_WAIT_MS),
		  "the call still waits for room %d s after its task's "
		  "recursive cancel", CC_WAIT_MS / 1000);
	cr_assert_eq(atomic_load(&cc->made[8]), 1, "the call failed: %s",
		     shoal_strerror(atomic_load(&cc->code[8])));
	cr_assert_eq(atomic_load(&cc->code[8]), SHOAL_ECANCELLED,
		     "the call waiting for room: %s",
		     cc_what(atomic_load(&cc->code[8])));
	cc_release(&x, 0);
	tu_assert_rc(cc_code(x.s, r, 2 * CC_WAIT_MS), SHOAL_ECANCELLED);
	cc_settled(&x, 0, 1 + (uint64_t)filled);
	cr_assert_eq(atomic_load(&cc->ran[8]) + atomic_load(&cc->ran[9]), 0,
		     "a call of the cancelled task ran (%lld, %lld)",
		     (long long)atomic_load(&cc->ran[8]),
		     (long long)atomic_load(&cc->ran[9]));
	tu_assert_rc(shoal_drop(x.s, r), 0);
	cc_stop(&x);
}
