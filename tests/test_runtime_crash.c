/* SPDX-License-Identifier: MIT */
/*
 * tests/test_runtime_crash.c - runtime processes killed at crash points
 * (base/crash.h), with the library built with its points armed.
 *
 * A task arms its own worker's store handle and returns: the worker then
 * dies at the point while it finishes the task (seals its result, wakes
 * what waits for it).  The runtime must still run every task that was
 * parked on that result: nobody is left waiting for a drain that died.
 *
 * The runtime's own points (SHOAL__RT_CRASH_POINTS in base/crash.h) are
 * visited here, one test per point expanded from that list, each running
 * the scenario the list names for it:
 *
 *   call_*       a method arms its actor, the next call's process dies at
 *                the point; the call ran as often as its state there
 *                allows (a done call never twice), its caller gets a value
 *                or SHOAL_EACTORDIED, the restarted actor serves;
 *   run_*        the same for a task and its worker (SHOAL_EWORKERDIED);
 *                run_popped: the worker dies holding the task's item,
 *                popped from the run queue and not claimed: it runs once;
 *   submit*      an attached program dies while it submits (or parks, or
 *                pushes) a task;
 *   seal_resolves  the process that seals a parked task's argument dies
 *                while it queues the task;
 *   lane_*       an attached caller dies while it takes, hooks or writes
 *                to its lane, or the actor dies while it frees one;
 *   sweep        the first process to find the fork server dead is
 *                killed in its sweep of the pending work; the next prober
 *                must finish it (a waiting task and call fail with
 *                SHOAL_EFORKSERVERDIED);
 *   fs_forked    the fork server, between forking a replacement worker or
 *                actor and storing its pid: held there (SIGSTOP, the
 *                ":stop" arming of crash.h), the runtime's info must list
 *                the new process by its own pid; killed there, the
 *                runtime ends with SHOAL_EFORKSERVERDIED;
 *   oq_*         an attached program dies inside a queue's put, get,
 *                create or delete; oq_adopt: the fork server dies while it
 *                adopts a dead putter's objects;
 *   fs_actor     the fork server, killed inside its books of an actor
 *                (a create's slot filled, a restart or a death marked):
 *                the runtime ends, every request and call fails, and what
 *                it held comes back.
 *
 * and then checks that the survivors repaired everything: every record of
 * the task table comes back (64 gated submits fill a 64-record table),
 * every lane but the driver's comes back and serves a new caller, and
 * once everything unheld is evicted the store holds what it held before.
 * Every wait is bounded; runs of a task or call are counted in a page
 * that every process of the runtime shares.
 */
#include <criterion/criterion.h>
#include <sys/mman.h>

#include <shoal/shoal.h>

#include "testutil.h"
#include "proc_int.h"
#include "internal.h"

TestSuite(runtime_crash, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

struct rc_fixture {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
};

/* Arms this worker at the point named by its first argument (an int),
 * then returns 41. */
static int task_arm(struct shoal_task *t, void *user)
{
	struct shoal_store *s = shoal_runtime_store(shoal_task_runtime(t));
	const void *d;
	size_t n;
	int point;
	int64_t v = 41;

	(void)user;
	if (shoal_task_arg(t, 0, &d, &n) || n != sizeof point)
		return shoal_task_fail(t, SHOAL_ETASK, "no point");
	memcpy(&point, d, sizeof point);
	shoal__crash_arm(&s->crash, (unsigned)point, 1);
	return shoal_task_return(t, 0, &v, sizeof v);
}

/* Its int64 argument + 1. */
static int task_inc(struct shoal_task *t, void *user)
{
	const void *d;
	size_t n;
	int64_t v;

	(void)user;
	if (shoal_task_arg(t, 0, &d, &n) || n != sizeof v)
		return shoal_task_fail(t, SHOAL_ETASK, "not an int64");
	memcpy(&v, d, sizeof v);
	v++;
	return shoal_task_return(t, 0, &v, sizeof v);
}

static struct rc_fixture rc_start(void)
{
	struct rc_fixture f = {0};
	struct shoal_runtime_options o;

	tu_assert_rc(shoal_registry_open(&f.reg), 0);
	tu_assert_rc(shoal_register_task(f.reg, "arm", task_arm, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "inc", task_inc, NULL), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.store.capacity = 8u << 20;
	tu_assert_rc(shoal_runtime_start(f.reg, &o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	return f;
}

static shoal_id rc_submit(struct rc_fixture *f, const char *fn,
			  const void *val, size_t n, const shoal_id *ref)
{
	struct shoal_args a;
	shoal_id out;

	shoal_args_init(&a);
	if (val)
		tu_assert_rc(shoal_args_bytes(&a, val, n), 0);
	if (ref)
		tu_assert_rc(shoal_args_ref(&a, *ref), 0);
	tu_assert_rc(shoal_submit(f->rt, shoal_function(f->rt, fn), &a, 1, &out), 0);
	return out;
}

static int64_t rc_value(struct rc_fixture *f, shoal_id id, int timeout_ms)
{
	struct shoal_view v;
	int64_t x = 0;
	int rc = shoal_get(f->s, id, timeout_ms, &v);

	cr_assert_eq(rc, 0, "get: %s", shoal_strerror(rc));
	cr_assert_eq(v.size, sizeof x);
	memcpy(&x, v.data, sizeof x);
	shoal_release(f->s, &v);
	return x;
}

/*
 * A gate keeps the armed task parked until three dependents are parked on
 * its result; then the worker runs it and dies at `point` while it seals
 * that result or wakes what waits for it.  The dependents must run anyway.
 */
static void rc_sealer_killed(unsigned point)
{
	struct rc_fixture f = rc_start();
	shoal_id gate = shoal_id_next(f.s), a, dep[3];
	int p = (int)point;
	void *buf;

	tu_assert_rc(shoal_create(f.s, gate, 8, NULL, 0, 0, &buf), 0);
	a = rc_submit(&f, "arm", &p, sizeof p, &gate);
	for (int i = 0; i < 3; i++)
		dep[i] = rc_submit(&f, "inc", NULL, 0, &a);
	tu_assert_rc(shoal_seal(f.s, gate), 0);
	cr_assert_eq(rc_value(&f, a, 5000), 41, "the armed task's result");
	for (int i = 0; i < 3; i++)
		cr_assert_eq(rc_value(&f, dep[i], 5000), 42,
			     "dependent %d never ran after its sealer died", i);
	tu_assert_rc(shoal_runtime_shutdown(f.rt), 0);
	shoal_registry_close(f.reg);
}

Test(runtime_crash, a_worker_killed_after_sealing_a_result_strands_no_dependent)
{
	rc_sealer_killed(SHOAL__CP_FILL_SEALED);
}

Test(runtime_crash, a_worker_killed_while_waking_dependents_strands_none)
{
	rc_sealer_killed(SHOAL__CP_WAITERS_DRAINED);
}

/* ------------------------------------------------------------------ */
/* The runtime's points: actor calls                                   */

#define RC_CALLS 4

/* How often each call ran, counted in a page every process of the
 * runtime shares (mapped before the start, inherited by the fork server
 * and the actors it forks). */
struct rc_counts {
	_Atomic int64_t ran[RC_CALLS];
	_Atomic int64_t hold_open;  /* hold() returns once it is set */
};

static struct rc_counts *rc_counts;

static int rc_bumper_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

/* bump(k): counts a run of call k; returns how many runs it has had. */
static int rc_bump(struct shoal_task *t, void *self)
{
	const void *d;
	size_t n;
	int64_t k, v;

	(void)self;
	if (shoal_task_arg(t, 0, &d, &n) || n != sizeof k)
		return shoal_task_fail(t, SHOAL_ETASK, "bump(k)");
	memcpy(&k, d, sizeof k);
	if (k < 0 || k >= RC_CALLS)
		return shoal_task_fail(t, SHOAL_ETASK, "k out of range");
	v = atomic_fetch_add(&rc_counts->ran[k], 1) + 1;
	return shoal_task_return(t, 0, &v, sizeof v);
}

/* arm(point, n): this actor's process dies at the n-th pass of point. */
static int rc_arm_actor(struct shoal_task *t, void *self)
{
	struct shoal_store *s = shoal_runtime_store(shoal_task_runtime(t));
	const void *d;
	size_t n;
	int32_t pn[2];
	int64_t ok = 1;

	(void)self;
	if (shoal_task_arg(t, 0, &d, &n) || n != sizeof pn)
		return shoal_task_fail(t, SHOAL_ETASK, "arm(point, n)");
	memcpy(pn, d, sizeof pn);
	shoal__crash_arm(&s->crash, (unsigned)pn[0], (uint32_t)pn[1]);
	return shoal_task_return(t, 0, &ok, sizeof ok);
}

/* hold(): counts its run in ran[3], then holds the actor until
 * hold_open is set (bounded). */
static int rc_hold(struct shoal_task *t, void *self)
{
	int64_t one = 1, t0 = tu_now_ms();

	(void)self;
	atomic_fetch_add(&rc_counts->ran[3], 1);
	while (!atomic_load(&rc_counts->hold_open) && tu_now_ms() - t0 < 20000)
		sched_yield();
	return shoal_task_return(t, 0, &one, sizeof one);
}

struct rc_actor {
	struct rc_fixture f;
	struct shoal_actor a;
	int bump, arm;
};

static struct rc_actor rc_actor_start(uint32_t retries)
{
	struct rc_actor x = {0};
	struct shoal_runtime_options o;
	struct shoal_actor_options ao = SHOAL_ACTOR_OPTIONS_INIT;

	rc_counts = mmap(NULL, sizeof *rc_counts, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(rc_counts, MAP_FAILED);
	tu_assert_rc(shoal_registry_open(&x.f.reg), 0);
	tu_assert_rc(shoal_register_actor(x.f.reg, "Bumper", rc_bumper_init, NULL), 0);
	tu_assert_rc(shoal_register_method(x.f.reg, "Bumper", "bump", rc_bump), 0);
	tu_assert_rc(shoal_register_method(x.f.reg, "Bumper", "arm", rc_arm_actor), 0);
	tu_assert_rc(shoal_register_method(x.f.reg, "Bumper", "hold", rc_hold), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.store.capacity = 8u << 20;
	tu_assert_rc(shoal_runtime_start(x.f.reg, &o, &x.f.rt), 0);
	x.f.s = shoal_runtime_store(x.f.rt);
	ao.max_restarts = 1;
	ao.max_task_retries = retries;
	tu_assert_rc(shoal_actor_create(x.f.rt, "Bumper", NULL, &ao, &x.a), 0);
	x.bump = shoal_actor_method(x.f.rt, x.a, "bump");
	x.arm = shoal_actor_method(x.f.rt, x.a, "arm");
	cr_assert(x.bump >= 0 && x.arm >= 0);
	return x;
}

static void rc_actor_stop(struct rc_actor *x)
{
	tu_assert_rc(shoal_runtime_shutdown(x->f.rt), 0);
	shoal_registry_close(x->f.reg);
	munmap(rc_counts, sizeof *rc_counts);
	rc_counts = NULL;
}

/* A call of method m with one by-value argument; its result's get code
 * (within timeout_ms), the value into *out, the ref dropped. */
static int rc_call(struct rc_actor *x, int m, const void *arg, size_t n,
		   int64_t *out)
{
	struct shoal_args a;
	struct shoal_view v;
	shoal_id ref;
	int rc;

	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, arg, n), 0);
	tu_assert_rc(shoal_actor_call(x->f.rt, x->a, m, &a, &ref), 0);
	rc = shoal_get(x->f.s, ref, 10000, &v);
	cr_assert_neq(rc, -ETIMEDOUT, "a call hung after its actor died");
	if (rc == 0) {
		cr_assert_eq(v.size, sizeof *out);
		memcpy(out, v.data, sizeof *out);
		tu_assert_rc(shoal_release(x->f.s, &v), 0);
	}
	tu_assert_rc(shoal_drop(x->f.s, ref), 0);
	return rc;
}

/* Gets ref (up to 10 s) and drops it; the get's code. */
static int rc_get_dropped(struct shoal_store *s, shoal_id ref)
{
	struct shoal_view v;
	int rc = shoal_get(s, ref, 10000, &v);

	if (rc == 0)
		shoal_release(s, &v);
	shoal_drop(s, ref);
	return rc;
}

static int rc_bump_call(struct rc_actor *x, int64_t k, int64_t *out)
{
	return rc_call(x, x->bump, &k, sizeof k, out);
}

/* What a call cut at a point may have done: its method ran at least
 * `lo` and at most `hi` times, and its caller got a value (`sealed`) or
 * SHOAL_EACTORDIED. */
struct rc_expect {
	int64_t lo, hi;
	bool sealed;
};

/*
 * The call scenario: call 0 warms the actor; arm() makes the actor's
 * process die at `point` while it runs call 1 (a point after the method
 * ran is passed by arm's own run first: n = 2); call 2 goes to the
 * restarted actor.  e(retries) says what call 1 may have done.
 */
static void rc_call_cut(unsigned point, bool after_run,
			struct rc_expect (*e)(uint32_t retries))
{
	for (uint32_t retries = 0; retries <= 1; retries++) {
		struct rc_actor x = rc_actor_start(retries);
		struct shoal_store_stats base, end;
		struct shoal_actor_info info;
		struct rc_expect want = e(retries);
		int32_t pn[2] = {(int32_t)point, after_run ? 2 : 1};
		int64_t v, got, ran;
		int rc;

		cr_assert_eq(rc_bump_call(&x, 0, &v), 0);
		tu_assert_rc(shoal_store_stats(x.f.s, &base), 0);
		cr_assert_eq(rc_call(&x, x.arm, pn, sizeof pn, &v), 0);
		rc = rc_bump_call(&x, 1, &v);
		cr_assert(rc == 0 || rc == SHOAL_EACTORDIED,
			  "%s, retries %u: call 1: %s", shoal__crash_name(point),
			  retries, shoal_strerror(rc));
		got = v;
		/* The restarted actor serves, and runs call 2 once; the same
		 * lane, so whatever it did with call 1 came first. */
		cr_assert_eq(rc_bump_call(&x, 2, &v), 0);
		cr_assert_eq(v, 1);
		ran = atomic_load(&rc_counts->ran[1]);
		cr_assert(ran >= want.lo && ran <= want.hi,
			  "%s, retries %u: call 1 ran %lld times, not %lld..%lld",
			  shoal__crash_name(point), retries, (long long)ran,
			  (long long)want.lo, (long long)want.hi);
		if (want.sealed)
			cr_assert_eq(rc, 0, "%s: a call whose result was sealed "
				     "failed: %s", shoal__crash_name(point),
				     shoal_strerror(rc));
		if (rc == 0)
			cr_assert(got >= 1 && got <= ran);
		tu_assert_rc(shoal_actor_info(x.f.rt, x.a, &info), 0);
		cr_assert_eq(info.restarts, 1, "%s: the actor did not die there",
			     shoal__crash_name(point));
		cr_assert_eq(info.state, SHOAL_ACTOR_ALIVE);
		tu_assert_rc(shoal_store_stats(x.f.s, &end), 0);
		cr_assert_eq(end.objects, base.objects, "%s: objects %llu, not %llu",
			     shoal__crash_name(point), (unsigned long long)end.objects,
			     (unsigned long long)base.objects);
		cr_assert_eq(end.bytes_used, base.bytes_used);
		rc_actor_stop(&x);
	}
}

/* Cut before the method ran: it runs once if retried, else never. */
static struct rc_expect rc_before_run(uint32_t retries)
{
	return (struct rc_expect){.lo = retries, .hi = retries, .sealed = retries};
}

/* Cut after it ran, before it was marked done: its result stands; a
 * retry may run it again (at least once, as Ray's retries). */
static struct rc_expect rc_ran(uint32_t retries)
{
	return (struct rc_expect){.lo = 1, .hi = 1 + retries, .sealed = true};
}

/* Cut while it was queued (popped, not claimed): it was never run, so it
 * runs once, retries or not, and its result is sealed. */
static struct rc_expect rc_queued(uint32_t retries)
{
	(void)retries;
	return (struct rc_expect){.lo = 1, .hi = 1, .sealed = true};
}

/* Cut once it was done: it never runs again, retries or not. */
static struct rc_expect rc_done(uint32_t retries)
{
	(void)retries;
	return (struct rc_expect){.lo = 1, .hi = 1, .sealed = true};
}

/* The scenarios of the list: where in the call the point cuts it. */
static void rc_scenario_call_unrun(unsigned point)
{
	rc_call_cut(point, false, rc_before_run);
}

static void rc_scenario_call_ran(unsigned point)
{
	rc_call_cut(point, true, rc_ran);
}

static void rc_scenario_call_done(unsigned point)
{
	rc_call_cut(point, true, rc_done);
}

/* ------------------------------------------------------------------ */
/* The runtime's points: task records, submitted and run               */

#define RC_MAX_TASKS 64

/* count(k) -> how many runs task k has had (rc_counts, shared). */
static int rc_count(struct shoal_task *t, void *user)
{
	(void)user;
	return rc_bump(t, NULL);
}

/* arm(point, n): this worker's process dies at the n-th pass of point. */
static int rc_arm_worker(struct shoal_task *t, void *user)
{
	(void)user;
	return rc_arm_actor(t, NULL);
}

struct rc_tasks {
	struct rc_fixture f;
	const char *name;
	int count, arm;
};

static struct rc_tasks rc_tasks_start(void)
{
	struct rc_tasks x = {0};
	struct shoal_runtime_options o;

	rc_counts = mmap(NULL, sizeof *rc_counts, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(rc_counts, MAP_FAILED);
	x.name = tu_shm_name("rt");
	tu_assert_rc(shoal_registry_open(&x.f.reg), 0);
	tu_assert_rc(shoal_register_task(x.f.reg, "count", rc_count, NULL), 0);
	tu_assert_rc(shoal_register_task(x.f.reg, "arm", rc_arm_worker, NULL), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.max_tasks = RC_MAX_TASKS;
	o.name = x.name;
	o.store.capacity = 8u << 20;
	tu_assert_rc(shoal_runtime_start(x.f.reg, &o, &x.f.rt), 0);
	x.f.s = shoal_runtime_store(x.f.rt);
	x.count = shoal_function(x.f.rt, "count");
	x.arm = shoal_function(x.f.rt, "arm");
	cr_assert(x.count >= 0 && x.arm >= 0);
	return x;
}

static void rc_tasks_stop(struct rc_tasks *x)
{
	tu_assert_rc(shoal_runtime_shutdown(x->f.rt), 0);
	shoal_registry_close(x->f.reg);
	munmap(rc_counts, sizeof *rc_counts);
	rc_counts = NULL;
}

/* Waits for a child of the test (bounded) and says how it ended. */
static int rc_reap(pid_t pid)
{
	int st = tu_wait_status(pid, 15000);

	tu_untrack(pid);
	cr_assert_neq(st, -1, "child %d still running", (int)pid);
	return st;
}

/* Records not FREE in the runtime's table. */
static uint32_t rc_busy_records(struct shoal_runtime *rt)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < rt->v.max_tasks; i++)
		n += SHOAL__TASK_PHASE(atomic_load(&rt->v.tasks[i].state)) !=
		     SHOAL__T_FREE;
	return n;
}

/* Waits (bounded: the fork server's watch runs every 250 ms) until every
 * record is FREE again: whatever the crash left, retries included, ran
 * or was repaired. */
static void rc_wait_table_idle(struct rc_tasks *x, unsigned point)
{
	int64_t t0 = tu_now_ms();
	uint32_t busy;

	while ((busy = rc_busy_records(x->f.rt)) && tu_now_ms() - t0 < 5000)
		sched_yield();
	cr_assert_eq(busy, 0, "%s: %u task records still taken after 5 s",
		     shoal__crash_name(point), busy);
}

/* The table's whole capacity, shown by use: RC_MAX_TASKS tasks parked on
 * one unsealed object all fit; then they run. */
static void rc_check_task_capacity(struct rc_tasks *x, unsigned point)
{
	shoal_id gate = shoal_id_next(x->f.s), out[RC_MAX_TASKS];
	int64_t k = 3;
	void *buf;

	tu_assert_rc(shoal_create(x->f.s, gate, 8, NULL, 0, 0, &buf), 0);
	for (int i = 0; i < RC_MAX_TASKS; i++) {
		struct shoal_args a;
		int rc;

		shoal_args_init(&a);
		tu_assert_rc(shoal_args_bytes(&a, &k, sizeof k), 0);
		tu_assert_rc(shoal_args_ref(&a, gate), 0);
		rc = shoal_submit(x->f.rt, x->count, &a, 1, &out[i]);
		cr_assert_eq(rc, 0, "%s: task %d of %d: %s (a record leaked)",
			     shoal__crash_name(point), i, RC_MAX_TASKS,
			     shoal_strerror(rc));
	}
	tu_assert_rc(shoal_seal(x->f.s, gate), 0);
	tu_assert_rc(shoal_drop(x->f.s, gate), 0);
	for (int i = 0; i < RC_MAX_TASKS; i++) {
		struct shoal_view v;

		tu_assert_rc(shoal_get(x->f.s, out[i], 10000, &v), 0);
		tu_assert_rc(shoal_release(x->f.s, &v), 0);
		tu_assert_rc(shoal_drop(x->f.s, out[i]), 0);
	}
	rc_wait_table_idle(x, point);
}

/* The store's objects once everything unheld is evicted: only what the
 * test holds stays, so a count equal to the baseline's (taken the same
 * way) means the dead process left nothing held, pinned or unsealed. */
static struct shoal_store_stats rc_settled_stats(struct shoal_store *s)
{
	struct shoal_store_stats st;

	shoal_store_reap(s);
	shoal_evict(s, UINT64_MAX);
	tu_assert_rc(shoal_store_stats(s, &st), 0);
	return st;
}

static void rc_check_objects(struct rc_tasks *x, unsigned point,
			     const struct shoal_store_stats *base)
{
	struct shoal_store_stats end = rc_settled_stats(x->f.s);
	struct shoal_object_info info[4];
	int n;

	if (end.objects == base->objects && end.bytes_used == base->bytes_used)
		return;
	n = shoal_list(x->f.s, info, 4);
	cr_assert_fail("%s: %llu objects (%llu bytes), not %llu (%llu); the "
		       "first of %d: state %u holds %u pins %u size %llu",
		       shoal__crash_name(point), (unsigned long long)end.objects,
		       (unsigned long long)end.bytes_used,
		       (unsigned long long)base->objects,
		       (unsigned long long)base->bytes_used, n,
		       n > 0 ? info[0].state : 0, n > 0 ? info[0].holds : 0,
		       n > 0 ? info[0].pins : 0,
		       n > 0 ? (unsigned long long)info[0].data_size : 0ull);
}

/* Submits count(k) with retries; the get's code, the value into *out. */
static int rc_count_task(struct rc_tasks *x, int64_t k, uint32_t retries,
			 int64_t *out)
{
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	struct shoal_args a;
	struct shoal_view v;
	shoal_id ref;
	int rc;

	o.max_retries = retries;
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &k, sizeof k), 0);
	tu_assert_rc(shoal_submit_opts(x->f.rt, x->count, &a, &o, &ref), 0);
	rc = shoal_get(x->f.s, ref, 10000, &v);
	cr_assert_neq(rc, -ETIMEDOUT, "a task hung after its worker died");
	if (rc == 0) {
		cr_assert_eq(v.size, sizeof *out);
		memcpy(out, v.data, sizeof *out);
		tu_assert_rc(shoal_release(x->f.s, &v), 0);
	}
	tu_assert_rc(shoal_drop(x->f.s, ref), 0);
	return rc;
}

/*
 * The run scenario: arm() makes its worker die at `point` while it runs
 * task 1 (a point after the function ran is passed by arm's own run
 * first: n = 2); task 2 goes to the replacement.  e(retries) says what
 * task 1 may have done; the table and the store must come back whole.
 */
static void rc_task_cut(unsigned point, bool after_run,
			struct rc_expect (*e)(uint32_t retries))
{
	for (uint32_t retries = 0; retries <= 1; retries++) {
		struct rc_tasks x = rc_tasks_start();
		struct rc_expect want = e(retries);
		struct shoal_store_stats base;
		struct shoal_runtime_info info;
		int32_t pn[2] = {(int32_t)point, after_run ? 2 : 1};
		struct shoal_args a;
		struct shoal_view v;
		int64_t val, got = 0, ran;
		shoal_id ref;
		int rc;

		base = rc_settled_stats(x.f.s);
		shoal_args_init(&a);
		tu_assert_rc(shoal_args_bytes(&a, pn, sizeof pn), 0);
		tu_assert_rc(shoal_submit(x.f.rt, x.arm, &a, 1, &ref), 0);
		tu_assert_rc(shoal_get(x.f.s, ref, 10000, &v), 0);
		tu_assert_rc(shoal_release(x.f.s, &v), 0);
		tu_assert_rc(shoal_drop(x.f.s, ref), 0);
		rc = rc_count_task(&x, 1, retries, &got);
		cr_assert(rc == 0 || rc == SHOAL_EWORKERDIED,
			  "%s, retries %u: task 1: %s", shoal__crash_name(point),
			  retries, shoal_strerror(rc));
		cr_assert_eq(rc_count_task(&x, 2, 0, &val), 0);
		cr_assert_eq(val, 1);
		rc_wait_table_idle(&x, point); /* a retry of task 1 ran too */
		ran = atomic_load(&rc_counts->ran[1]);
		cr_assert(ran >= want.lo && ran <= want.hi,
			  "%s, retries %u: task 1 ran %lld times, not %lld..%lld",
			  shoal__crash_name(point), retries, (long long)ran,
			  (long long)want.lo, (long long)want.hi);
		if (want.sealed)
			cr_assert_eq(rc, 0, "%s: a task whose result was sealed "
				     "failed: %s", shoal__crash_name(point),
				     shoal_strerror(rc));
		if (rc == 0)
			cr_assert(got >= 1 && got <= ran);
		tu_assert_rc(shoal_runtime_info(x.f.rt, &info, NULL, 0), 0);
		cr_assert_eq(info.workers_died, 1, "%s: the worker did not die there",
			     shoal__crash_name(point));
		rc_check_task_capacity(&x, point);
		rc_check_objects(&x, point, &base);
		rc_tasks_stop(&x);
	}
}

static void rc_scenario_run_unrun(unsigned point)
{
	rc_task_cut(point, false, rc_before_run);
}

static void rc_scenario_run_ran(unsigned point)
{
	rc_task_cut(point, true, rc_ran);
}

static void rc_scenario_run_done(unsigned point)
{
	rc_task_cut(point, true, rc_done);
}

/* The worker dies with the task's item popped from the run queue (its
 * cell released or not) and its record still QUEUED: the queue's repair
 * and the requeue sweep give the item back, and the task runs once. */
static void rc_scenario_run_popped(unsigned point)
{
	rc_task_cut(point, false, rc_queued);
}

/* The checks that end every task scenario: once the table is idle, task 1
 * ran lo..hi times, and the table's whole capacity and the store's
 * objects are back. */
static void rc_tasks_finish(struct rc_tasks *x, unsigned point,
			    const struct shoal_store_stats *base, int64_t lo,
			    int64_t hi)
{
	int64_t ran;

	rc_wait_table_idle(x, point);
	ran = atomic_load(&rc_counts->ran[1]);
	cr_assert(ran >= lo && ran <= hi, "%s: task 1 ran %lld times, not "
		  "%lld..%lld", shoal__crash_name(point), (long long)ran,
		  (long long)lo, (long long)hi);
	rc_check_task_capacity(x, point);
	rc_check_objects(x, point, base);
}

/*
 * An attached program (a forked child that attaches by name) submits
 * count(1) with ref argument `ref`, and, with `big`, a by-value argument
 * too large for the record (it goes through the store) and two returns;
 * armed at `point`, it must die there.
 */
static void rc_submitter_dies(struct rc_tasks *x, unsigned point, shoal_id ref,
			      bool big)
{
	pid_t pid = tu_fork();
	int st;

	if (pid == 0) {
		struct shoal_runtime *rt;
		struct shoal_args a;
		shoal_id out[2];
		char bytes[1000];
		int64_t k = 1;

		if (shoal_runtime_attach(x->name, &rt))
			_exit(TU_EXIT_IO);
		shoal__crash_arm(&shoal_runtime_store(rt)->crash, point, 1);
		memset(bytes, 7, sizeof bytes);
		shoal_args_init(&a);
		shoal_args_bytes(&a, &k, sizeof k);
		if (big)
			shoal_args_bytes(&a, bytes, sizeof bytes);
		shoal_args_ref(&a, ref);
		shoal_submit(rt, shoal_function(rt, "count"), &a, big ? 2 : 1, out);
		_exit(0); /* it should have died in there */
	}
	st = rc_reap(pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "%s: the submitter did not die there (status %#x)",
		  shoal__crash_name(point), st);
}

/* An attached submitter of count(1), its ref argument a sealed put, dies
 * at `point` (rc_submitter_dies, with `big`); the task ran ran..ran times
 * once the table is idle, and the table and the store are whole. */
static void rc_submit_cut(unsigned point, bool big, int64_t ran)
{
	struct rc_tasks x = rc_tasks_start();
	struct shoal_store_stats base;
	char bytes[100];
	shoal_id arg;

	memset(bytes, 7, sizeof bytes);
	tu_assert_rc(shoal_put(x.f.s, bytes, sizeof bytes, 0, &arg), 0);
	base = rc_settled_stats(x.f.s);
	rc_submitter_dies(&x, point, arg, big);
	rc_tasks_finish(&x, point, &base, ran, ran);
	tu_assert_rc(shoal_drop(x.f.s, arg), 0);
	rc_tasks_stop(&x);
}

/*
 * The submit scenario: the submitter dies while it takes or builds the
 * record.  The task never ran; the record it took comes back (the fork
 * server's watch), and so does everything it put or held in the store
 * (its reaper).
 */
static void rc_scenario_submit(unsigned point)
{
	rc_submit_cut(point, true, 0);
}

/*
 * The submitter dies inside its push: the record is QUEUED, the queue
 * position claimed and never published.  Every worker stops at that
 * position until the fork server's watch repairs it (an attached program
 * is no worker: no worker's death repairs it); the requeue sweep pushes
 * the record, and the task runs once (its return went with its holder).
 */
static void rc_scenario_submit_queued(unsigned point)
{
	rc_submit_cut(point, false, 1);
}

/*
 * A task parked on an unsealed object: its attached submitter dies while
 * it parks it (guard up, no node pushed).  Once the object is sealed the
 * record must not stay WAITING: the fork server's watch clears the dead
 * submitter's guard, the task runs (its returns are gone with their
 * holder) or not, and the table and the store come back.
 */
static void rc_scenario_submit_parked(unsigned point)
{
	struct rc_tasks x = rc_tasks_start();
	struct shoal_store_stats base;
	shoal_id gate = shoal_id_next(x.f.s);
	void *buf;

	tu_assert_rc(shoal_create(x.f.s, gate, 8, NULL, 0, 0, &buf), 0);
	base = rc_settled_stats(x.f.s);
	rc_submitter_dies(&x, point, gate, false);
	tu_assert_rc(shoal_seal(x.f.s, gate), 0);
	rc_tasks_finish(&x, point, &base, 0, 1);
	tu_assert_rc(shoal_drop(x.f.s, gate), 0);
	rc_tasks_stop(&x);
}

/*
 * The process that seals a task's argument dies after it moved the task
 * to QUEUED and before it pushed its item: the fork server's requeue
 * sweep pushes it, and the task runs once.
 */
static void rc_scenario_seal_resolves(unsigned point)
{
	struct rc_tasks x = rc_tasks_start();
	struct shoal_store_stats base = rc_settled_stats(x.f.s);
	int to_child[2], to_test[2], st;
	struct shoal_args a;
	struct shoal_view v;
	shoal_id gate, out;
	int64_t k = 1;
	pid_t pid;

	tu_pipe(to_child);
	tu_pipe(to_test);
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_runtime *rt;
		struct shoal_store *cs;
		shoal_id g;
		void *buf;

		if (shoal_runtime_attach(x.name, &rt))
			_exit(TU_EXIT_IO);
		cs = shoal_runtime_store(rt);
		g = shoal_id_next(cs);
		if (shoal_create(cs, g, 8, NULL, 0, 0, &buf) ||
		    write(to_test[1], &g, sizeof g) != sizeof g)
			_exit(TU_EXIT_IO);
		tu_child_read_byte(to_child[0]);
		shoal__crash_arm(&cs->crash, point, 1);
		shoal_seal(cs, g);
		_exit(0);
	}
	cr_assert_eq(read(to_test[0], &gate, sizeof gate), (ssize_t)sizeof gate);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &k, sizeof k), 0);
	tu_assert_rc(shoal_args_ref(&a, gate), 0);
	tu_assert_rc(shoal_submit(x.f.rt, x.count, &a, 1, &out), 0);
	tu_write_byte(to_child[1], 'g');
	st = rc_reap(pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "%s: the sealer did not die there (status %#x)",
		  shoal__crash_name(point), st);
	tu_assert_rc(shoal_get(x.f.s, out, 5000, &v), 0, "%s: the task never ran",
		     shoal__crash_name(point));
	tu_assert_rc(shoal_release(x.f.s, &v), 0);
	tu_assert_rc(shoal_drop(x.f.s, out), 0);
	rc_tasks_finish(&x, point, &base, 1, 1);
	close(to_child[1]);
	close(to_test[0]);
	rc_tasks_stop(&x);
}

/* ------------------------------------------------------------------ */
/* The runtime's points: a caller's lane into an actor                 */

#define RC_LANES 2

/* A named runtime with one named Bumper ("b") and two lanes: the
 * driver's, and one for an attached program. */
static struct rc_actor rc_lanes_start(const char *name)
{
	struct rc_actor x = {0};
	struct shoal_runtime_options o;
	struct shoal_actor_options ao = SHOAL_ACTOR_OPTIONS_INIT;
	int64_t v;

	rc_counts = mmap(NULL, sizeof *rc_counts, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(rc_counts, MAP_FAILED);
	tu_assert_rc(shoal_registry_open(&x.f.reg), 0);
	tu_assert_rc(shoal_register_actor(x.f.reg, "Bumper", rc_bumper_init, NULL), 0);
	tu_assert_rc(shoal_register_method(x.f.reg, "Bumper", "bump", rc_bump), 0);
	tu_assert_rc(shoal_register_method(x.f.reg, "Bumper", "arm", rc_arm_actor), 0);
	tu_assert_rc(shoal_register_task(x.f.reg, "count", rc_count, NULL), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.name = name;
	o.max_actors = 1;
	o.max_lanes = RC_LANES;
	o.store.capacity = 8u << 20;
	tu_assert_rc(shoal_runtime_start(x.f.reg, &o, &x.f.rt), 0);
	x.f.s = shoal_runtime_store(x.f.rt);
	ao.name = "b";
	ao.max_restarts = 1;
	tu_assert_rc(shoal_actor_create(x.f.rt, "Bumper", NULL, &ao, &x.a), 0);
	x.bump = shoal_actor_method(x.f.rt, x.a, "bump");
	x.arm = shoal_actor_method(x.f.rt, x.a, "arm");
	cr_assert(x.bump >= 0 && x.arm >= 0);
	cr_assert_eq(rc_bump_call(&x, 0, &v), 0); /* the driver's lane */
	return x;
}

/* Lanes taken (not FREE). */
static uint32_t rc_lanes_taken(struct shoal_runtime *rt)
{
	struct shoal__lane_meta *m = rt->v.lmeta;
	uint32_t n = 0;

	for (uint32_t i = 0; i < rt->v.max_lanes; i++)
		n += SHOAL__LANE_PHASE(atomic_load(&m[i].state)) != SHOAL__L_FREE;
	return n;
}

/* An attached program: calls b.bump(k) (armed at `point` unless it is
 * SHOAL__CP_COUNT), gets the result, detaches; exits 0 if all went. */
static pid_t rc_lane_caller(const char *name, unsigned point, int64_t k)
{
	pid_t pid = tu_fork();
	struct shoal_runtime *rt;
	struct shoal_actor a;
	struct shoal_args args;
	struct shoal_view v;
	shoal_id ref;
	int m;

	if (pid)
		return pid;
	if (shoal_runtime_attach(name, &rt) || shoal_actor_lookup(rt, "b", &a) ||
	    (m = shoal_actor_method(rt, a, "bump")) < 0)
		_exit(TU_EXIT_IO);
	if (point < SHOAL__CP_COUNT)
		shoal__crash_arm(&shoal_runtime_store(rt)->crash, point, 1);
	shoal_args_init(&args);
	shoal_args_bytes(&args, &k, sizeof k);
	if (shoal_actor_call(rt, a, m, &args, &ref) ||
	    shoal_get(shoal_runtime_store(rt), ref, 10000, &v))
		_exit(1);
	shoal_release(shoal_runtime_store(rt), &v);
	shoal_drop(shoal_runtime_store(rt), ref);
	shoal_runtime_detach(rt);
	_exit(0);
}

/* Every lane but the driver's comes back (bounded: the fork server's
 * watch, the actor's idle sweep); then, by use, an attached program's
 * call gets a lane and runs. */
static void rc_check_lanes(struct rc_actor *x, const char *name, unsigned point)
{
	int64_t t0 = tu_now_ms();
	uint32_t taken;
	int st;

	while ((taken = rc_lanes_taken(x->f.rt)) > 1 && tu_now_ms() - t0 < 5000)
		sched_yield();
	cr_assert_eq(taken, 1, "%s: %u lanes taken after 5 s, not 1",
		     shoal__crash_name(point), taken);
	st = rc_reap(rc_lane_caller(name, SHOAL__CP_COUNT, 2));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "%s: a new caller's call failed (status %#x)",
		  shoal__crash_name(point), st);
	cr_assert_eq(atomic_load(&rc_counts->ran[2]), 1);
}

/* A caller dies while it takes or hooks its lane: its call never ran,
 * and the lane comes back. */
static void rc_scenario_lane_call(unsigned point)
{
	const char *name = tu_shm_name("rt");
	struct rc_actor x = rc_lanes_start(name);
	int st = rc_reap(rc_lane_caller(name, point, 1));

	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "%s: the caller did not die there (status %#x)",
		  shoal__crash_name(point), st);
	cr_assert_eq(atomic_load(&rc_counts->ran[1]), 0);
	rc_check_lanes(&x, name, point);
	rc_actor_stop(&x);
}

/* A caller dies once its call is published: the actor runs the call
 * (its caller's results are gone), and the lane comes back. */
static void rc_scenario_lane_call_ran(unsigned point)
{
	const char *name = tu_shm_name("rt");
	struct rc_actor x = rc_lanes_start(name);
	int st = rc_reap(rc_lane_caller(name, point, 1));
	int64_t t0 = tu_now_ms();

	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "%s: the caller did not die there (status %#x)",
		  shoal__crash_name(point), st);
	while (atomic_load(&rc_counts->ran[1]) == 0 && tu_now_ms() - t0 < 5000)
		sched_yield();
	cr_assert_eq(atomic_load(&rc_counts->ran[1]), 1,
		     "%s: a published call did not run once",
		     shoal__crash_name(point));
	rc_check_lanes(&x, name, point);
	rc_actor_stop(&x);
}

/* The actor dies while it frees the lane of a caller that left: the lane
 * (unhooked, not FREE) comes back, and the restarted actor serves. */
static void rc_scenario_lane_sweep(unsigned point)
{
	const char *name = tu_shm_name("rt");
	struct rc_actor x = rc_lanes_start(name);
	struct shoal_actor_info info;
	int32_t pn[2] = {(int32_t)point, 1};
	int64_t v;
	int st;

	cr_assert_eq(rc_call(&x, x.arm, pn, sizeof pn, &v), 0);
	st = rc_reap(rc_lane_caller(name, SHOAL__CP_COUNT, 1));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %#x", st);
	cr_assert_eq(atomic_load(&rc_counts->ran[1]), 1);
	rc_check_lanes(&x, name, point);
	tu_assert_rc(shoal_actor_info(x.f.rt, x.a, &info), 0);
	cr_assert_eq(info.restarts, 1, "%s: the actor did not die there",
		     shoal__crash_name(point));
	rc_actor_stop(&x);
}

/* ------------------------------------------------------------------ */
/* The runtime's points: the fork server between a fork and its books  */

/* The parent of pid, from /proc (0 if gone). */
static pid_t rc_ppid(pid_t pid)
{
	char path[64], buf[512], *rp;
	FILE *f;
	int ppid = 0;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof buf, f) && (rp = strrchr(buf, ')')) &&
	    sscanf(rp + 2, "%*c %d", &ppid) != 1)
		ppid = 0;
	fclose(f);
	return ppid;
}

/* The one worker's pid as the runtime's info lists it (0: none yet). */
static pid_t rc_worker_pid(struct shoal_runtime *rt)
{
	struct shoal_runtime_info info;
	int32_t w[4] = {0};

	tu_assert_rc(shoal_runtime_info(rt, &info, w, 4), 0);
	return info.workers_alive == 1 ? w[0] : 0;
}

/* Starts a runtime whose fork server is armed with `spec` (SHOAL_CRASH is
 * read when a handle opens: only the processes started now see it). */
static struct rc_actor rc_armed_start(const char *spec)
{
	struct rc_actor x;

	setenv("SHOAL_CRASH", spec, 1);
	x = rc_actor_start(0);
	unsetenv("SHOAL_CRASH");
	return x;
}

/* Kills the worker (WORKER_FORKED) or the actor (ACTOR_FORKED): the fork
 * server's second pass of the point is the replacement's fork.  The old
 * process's pid. */
static pid_t rc_kill_child(struct rc_actor *x, unsigned point)
{
	struct shoal_actor_info ai;
	pid_t old;

	if (point == SHOAL__CP_WORKER_FORKED) {
		old = rc_worker_pid(x->f.rt);
	} else {
		tu_assert_rc(shoal_actor_info(x->f.rt, x->a, &ai), 0);
		old = ai.pid;
	}
	cr_assert_gt(old, 0);
	cr_assert_eq(kill(old, SIGKILL), 0);
	return old;
}

/*
 * Held there (SIGSTOP), the fork server has forked the replacement and
 * not yet stored its pid: the replacement runs on, and once it says it
 * runs (worker RUNNING, actor ALIVE) the runtime's info must give its own
 * pid, a child of the fork server, never 0 nor the dead one's.  Killed
 * there, the fork server takes the runtime with it: a call that waits
 * ends with SHOAL_EFORKSERVERDIED, and the shutdown is clean.
 */
static void rc_scenario_fs_forked(unsigned point)
{
	char spec[64];
	struct rc_actor x;
	struct shoal_runtime_info info;
	struct shoal_actor_info ai;
	int64_t t0, v = 1;
	pid_t old, now = 0, fs;
	bool held, mine;

	snprintf(spec, sizeof spec, "%s:2:stop", shoal__crash_name(point));
	x = rc_armed_start(spec);
	tu_assert_rc(shoal_runtime_info(x.f.rt, &info, NULL, 0), 0);
	fs = info.fork_server_pid;
	old = rc_kill_child(&x, point);
	/* First the fork server held at the point (the new process may say
	 * it runs before its parent gets there), then the new process. */
	t0 = tu_now_ms();
	while (tu_proc_state(fs) != 'T' && tu_now_ms() - t0 < 5000)
		sched_yield();
	while (tu_now_ms() - t0 < 5000) {
		if (point == SHOAL__CP_WORKER_FORKED) {
			now = rc_worker_pid(x.f.rt);
			now = now ? now : -1; /* not running yet */
		} else {
			tu_assert_rc(shoal_actor_info(x.f.rt, x.a, &ai), 0);
			now = ai.state == SHOAL_ACTOR_ALIVE && ai.restarts == 1 ? ai.pid : -1;
		}
		if (now != -1 && now != old)
			break;
		sched_yield();
	}
	/* Let go before any assertion: a fork server left stopped would
	 * outlive the test with its children. */
	held = tu_proc_state(fs) == 'T';
	mine = now > 0 && rc_ppid(now) == fs;
	cr_assert_eq(kill(fs, SIGCONT), 0);
	cr_assert(held, "%s: the fork server was not held there",
		  shoal__crash_name(point));
	cr_assert(mine && now != old,
		  "%s: the new process runs, listed with pid %d (the old one "
		  "was %d)", shoal__crash_name(point), (int)now, (int)old);
	cr_assert_eq(rc_bump_call(&x, 1, &v), 0);
	rc_actor_stop(&x);

	/* Killed there. */
	snprintf(spec, sizeof spec, "%s:2", shoal__crash_name(point));
	x = rc_armed_start(spec);
	rc_kill_child(&x, point);
	t0 = tu_now_ms();
	for (int rc = 0; rc != SHOAL_EFORKSERVERDIED;) {
		struct shoal_args a;
		shoal_id ref;

		/* The actor may serve a call or two before it dies with the
		 * fork server; then calls fail with the runtime's end. */
		cr_assert_lt(tu_now_ms() - t0, 5000, "%s: the runtime did not "
			     "end after its fork server died there",
			     shoal__crash_name(point));
		shoal_args_init(&a);
		tu_assert_rc(shoal_args_bytes(&a, &v, sizeof v), 0);
		rc = shoal_actor_call(x.f.rt, x.a, x.bump, &a, &ref);
		if (rc == 0) {
			rc = rc_get_dropped(x.f.s, ref);
			cr_assert(rc == 0 || rc == SHOAL_EFORKSERVERDIED ||
				  rc == SHOAL_EACTORDIED, "%s: a call: %s",
				  shoal__crash_name(point), shoal_strerror(rc));
		}
	}
	shoal_runtime_shutdown(x.f.rt);
	shoal_registry_close(x.f.reg);
	munmap(rc_counts, sizeof *rc_counts);
	rc_counts = NULL;
}

/* ------------------------------------------------------------------ */
/* The runtime's points: the fork server's books of an actor           */

/* Polls (bounded) until the store's settled objects and bytes are the
 * baseline's: the dead fork server's holds and its actor's, given back by
 * whoever reaps them. */
static void rc_wait_objects(struct shoal_store *s, unsigned point,
			    const struct shoal_store_stats *base)
{
	int64_t t0 = tu_now_ms();
	struct shoal_store_stats now = rc_settled_stats(s);

	while ((now.objects != base->objects || now.bytes_used != base->bytes_used) &&
	       tu_now_ms() - t0 < 5000) {
		sched_yield();
		now = rc_settled_stats(s);
	}
	cr_assert(now.objects == base->objects && now.bytes_used == base->bytes_used,
		  "%s: %llu objects (%llu bytes) after the fork server's death, "
		  "not %llu (%llu)", shoal__crash_name(point),
		  (unsigned long long)now.objects, (unsigned long long)now.bytes_used,
		  (unsigned long long)base->objects,
		  (unsigned long long)base->bytes_used);
}

/* What takes the fork server to the point: a second actor created with
 * a ref argument it holds (ACTOR_HELD, its second pass: the first was
 * the test's actor), the actor's process killed (ACTOR_RESTARTING: it
 * has a restart left), or a kill that asks for no restart (ACTOR_DEAD).
 * The request's code (0 for the kill by signal: nothing answers it). */
static int rc_fs_actor_step(struct rc_actor *x, unsigned point, shoal_id arg)
{
	struct shoal_actor_options ao = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor_info ai;
	struct shoal_actor second;
	struct shoal_args a;

	if (point == SHOAL__CP_ACTOR_HELD) {
		shoal_args_init(&a);
		tu_assert_rc(shoal_args_ref(&a, arg), 0);
		return shoal_actor_create(x->f.rt, "Bumper", &a, &ao, &second);
	}
	if (point == SHOAL__CP_ACTOR_DEAD)
		return shoal_actor_kill(x->f.rt, x->a, true);
	tu_assert_rc(shoal_actor_info(x->f.rt, x->a, &ai), 0);
	cr_assert_gt(ai.pid, 0);
	cr_assert_eq(kill(ai.pid, SIGKILL), 0);
	return 0;
}

/*
 * The fork server dies inside its books of an actor: after it filled a
 * new actor's slot and held its constructor's arguments (ACTOR_HELD),
 * after it marked a dead actor's restart (ACTOR_RESTARTING), or after it
 * declared the actor dead for good (ACTOR_DEAD), before the next step.
 * The runtime ends with it: the request that took it there, the call that
 * waited in the actor, and every later call and submit fail with
 * SHOAL_EFORKSERVERDIED (the waiting call may fail first with its actor:
 * SHOAL_EACTORDIED), each within its bound; and what the fork server and
 * the actor held (the constructor's argument, the call's) is given back.
 */
static void rc_scenario_fs_actor(unsigned point)
{
	char spec[64];
	struct rc_actor x;
	struct shoal_store_stats base;
	struct shoal_args a;
	shoal_id gate, arg, call, ref;
	int64_t k = 1;
	void *buf;
	int rc;

	snprintf(spec, sizeof spec, "%s:%d", shoal__crash_name(point),
		 point == SHOAL__CP_ACTOR_HELD ? 2 : 1);
	x = rc_armed_start(spec);
	base = rc_settled_stats(x.f.s);
	gate = shoal_id_next(x.f.s);
	tu_assert_rc(shoal_create(x.f.s, gate, 8, NULL, 0, 0, &buf), 0);
	tu_assert_rc(shoal_put(x.f.s, &k, sizeof k, 0, &arg), 0);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &k, sizeof k), 0);
	tu_assert_rc(shoal_args_ref(&a, gate), 0);
	tu_assert_rc(shoal_actor_call(x.f.rt, x.a, x.bump, &a, &call), 0);
	rc = rc_fs_actor_step(&x, point, arg);
	tu_assert_rc(rc, point == SHOAL__CP_ACTOR_RESTARTING ? 0 : SHOAL_EFORKSERVERDIED,
		     "%s: the request that took the fork server there",
		     shoal__crash_name(point));
	rc = rc_get_dropped(x.f.s, call);
	cr_assert(rc == SHOAL_EFORKSERVERDIED || rc == SHOAL_EACTORDIED,
		  "%s: the waiting call: %s", shoal__crash_name(point),
		  shoal_strerror(rc));
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &k, sizeof k), 0);
	tu_assert_rc(shoal_actor_call(x.f.rt, x.a, x.bump, &a, &ref),
		     SHOAL_EFORKSERVERDIED, "%s: a later call",
		     shoal__crash_name(point));
	tu_assert_rc(shoal_seal(x.f.s, gate), 0);
	tu_assert_rc(shoal_drop(x.f.s, gate), 0);
	tu_assert_rc(shoal_drop(x.f.s, arg), 0);
	rc_wait_objects(x.f.s, point, &base);
	shoal_runtime_shutdown(x.f.rt);
	shoal_registry_close(x.f.reg);
	munmap(rc_counts, sizeof *rc_counts);
	rc_counts = NULL;
}

/* ------------------------------------------------------------------ */
/* The runtime's points: the sweep after the fork server died          */

/*
 * A task and an actor call wait on an object nobody seals; the fork
 * server is killed; an attached program is the first to find it dead and
 * sweeps, and is killed at `point` in its sweep.  The next prober (the
 * driver's get) must finish the sweep: both results fail with
 * SHOAL_EFORKSERVERDIED within its bound.
 */
static void rc_scenario_sweep(unsigned point)
{
	const char *name = tu_shm_name("rt");
	struct rc_actor x = rc_lanes_start(name);
	struct shoal_runtime_info info;
	struct shoal_args a;
	shoal_id gate = shoal_id_next(x.f.s), task, call;
	int to_child[2], from_child[2], st, fn;
	int64_t k = 1, t0;
	void *buf;
	pid_t pid, fs;

	fn = shoal_function(x.f.rt, "count");
	cr_assert_geq(fn, 0);
	tu_assert_rc(shoal_create(x.f.s, gate, 8, NULL, 0, 0, &buf), 0);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &k, sizeof k), 0);
	tu_assert_rc(shoal_args_ref(&a, gate), 0);
	tu_assert_rc(shoal_actor_call(x.f.rt, x.a, x.bump, &a, &call), 0);
	tu_assert_rc(shoal_submit(x.f.rt, fn, &a, 1, &task), 0);
	tu_pipe(to_child);
	tu_pipe(from_child);
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_runtime *rt;
		shoal_id out;

		if (shoal_runtime_attach(name, &rt))
			_exit(TU_EXIT_IO);
		tu_child_write_byte(from_child[1], 'r');
		tu_child_read_byte(to_child[0]);
		shoal__crash_arm(&shoal_runtime_store(rt)->crash, point, 1);
		shoal_actor_call(rt, x.a, x.bump, NULL, &out); /* it probes */
		_exit(0);
	}
	cr_assert_eq(tu_read_byte(from_child[0], 10000), 'r');
	tu_assert_rc(shoal_runtime_info(x.f.rt, &info, NULL, 0), 0);
	fs = info.fork_server_pid;
	cr_assert_eq(kill(fs, SIGKILL), 0);
	t0 = tu_now_ms();
	while (tu_proc_state(fs) != 'Z' && tu_proc_state(fs) != '?' &&
	       tu_now_ms() - t0 < 5000)
		sched_yield();
	tu_write_byte(to_child[1], 'g');
	st = rc_reap(pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "%s: the sweeper did not die there (status %#x)",
		  shoal__crash_name(point), st);
	t0 = tu_now_ms();
	tu_assert_rc(rc_get_dropped(x.f.s, call), SHOAL_EFORKSERVERDIED,
		     "%s: the call", shoal__crash_name(point));
	tu_assert_rc(rc_get_dropped(x.f.s, task), SHOAL_EFORKSERVERDIED,
		     "%s: the task", shoal__crash_name(point));
	cr_assert_lt(tu_now_ms() - t0, 5000, "%s: the sweep took %lld ms",
		     shoal__crash_name(point), (long long)(tu_now_ms() - t0));
	shoal_abort(x.f.s, gate);
	shoal_runtime_shutdown(x.f.rt);
	shoal_registry_close(x.f.reg);
	munmap(rc_counts, sizeof *rc_counts);
	rc_counts = NULL;
}

/* ------------------------------------------------------------------ */
/* The runtime's points: object queues (task/objq.c)                   */

struct rc_oq {
	struct rc_fixture f;
	const char *name;
	struct shoal_queue q;
};

static struct rc_oq rc_oq_start(void)
{
	struct rc_oq x = {0};
	struct shoal_runtime_options o;

	x.name = tu_shm_name("oq");
	tu_assert_rc(shoal_registry_open(&x.f.reg), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.name = x.name;
	o.store.capacity = 8u << 20;
	tu_assert_rc(shoal_runtime_start(x.f.reg, &o, &x.f.rt), 0);
	x.f.s = shoal_runtime_store(x.f.rt);
	tu_assert_rc(shoal_queue_create(x.f.rt, "q", 4, &x.q), 0);
	return x;
}

static void rc_oq_stop(struct rc_oq *x)
{
	tu_assert_rc(shoal_runtime_shutdown(x->f.rt), 0);
	shoal_registry_close(x->f.reg);
}

/* An attached program armed at `point` does op (0 put, 1 get, 2 create
 * "q2", 3 delete "q"); it must die there (SIGKILL). */
static void rc_oq_child_dies(struct rc_oq *x, unsigned point, int op)
{
	pid_t pid = tu_fork();
	int st;

	if (pid == 0) {
		struct shoal_runtime *rt;
		struct shoal_store *cs;
		struct shoal_queue q;
		shoal_id id;
		int64_t v = 7;

		if (shoal_runtime_attach(x->name, &rt) ||
		    shoal_queue_lookup(rt, "q", &q))
			_exit(TU_EXIT_IO);
		cs = shoal_runtime_store(rt);
		shoal__crash_arm(&cs->crash, point, 1);
		if (op == 0)
			shoal_queue_put_bytes(rt, &q, &v, sizeof v, 1000);
		else if (op == 1)
			shoal_queue_get(rt, &q, 1000, &id);
		else if (op == 2)
			shoal_queue_create(rt, "q2", 4, &q);
		else
			shoal_queue_delete(rt, &q);
		_exit(0);
	}
	st = tu_wait_status(pid, 10000);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "%s: the child did not die there (status %#x)",
		  shoal__crash_name(point), st);
}

/* The queue serves: a put and a get of a fresh value, the queue empty
 * after. */
static void rc_oq_serves(struct rc_oq *x, struct shoal_queue *q)
{
	int64_t v = 99;
	shoal_id id;

	tu_assert_rc(shoal_queue_put_bytes(x->f.rt, q, &v, sizeof v, 5000), 0);
	tu_assert_rc(shoal_queue_get(x->f.rt, q, 5000, &id), 0);
	cr_assert_eq(rc_value(&x->f, id, 1000), 99);
	tu_assert_rc(shoal_drop(x->f.s, id), 0);
	tu_assert_rc(shoal_queue_get(x->f.rt, q, 0, &id), -EAGAIN);
}

/* Waits (bounded) until the fork server adopted the object at the head
 * of queue q: its custodian is no longer the dead putter's. */
static void rc_oq_adopted(struct rc_oq *x)
{
	struct shoal__oq_cell *c = shoal__oq_cells(&x->f.rt->v, x->q.index);
	uint64_t h = atomic_load(&shoal__oq_slot(&x->f.rt->v, x->q.index)->head);
	struct shoal__oq_cell *cell = &c[h & (x->f.rt->v.queue_cells - 1)];
	uint32_t dead = atomic_load(&cell->custodian);
	int64_t t0 = tu_now_ms();

	while (atomic_load(&cell->custodian) == dead && tu_now_ms() - t0 < 5000)
		sched_yield();
	cr_assert_neq(atomic_load(&cell->custodian), dead,
		      "the fork server never adopted the dead putter's object");
}

/*
 * A putter dies inside its put.  FILLING: the put did not happen, and the
 * next put repairs the cell.  FULL: the object is in the queue; once the
 * fork server adopted it, the dead putter's slot is reaped and the object
 * still reaches its getter, whole, exactly once.
 */
static void rc_scenario_oq_put(unsigned point)
{
	struct rc_oq x = rc_oq_start();
	shoal_id id;

	rc_oq_child_dies(&x, point, 0);
	if (point == SHOAL__CP_OQ_FULL) {
		rc_oq_adopted(&x);
		shoal_store_reap(x.f.s);
		tu_assert_rc(shoal_queue_get(x.f.rt, &x.q, 5000, &id), 0);
		cr_assert_eq(rc_value(&x.f, id, 1000), 7);
		tu_assert_rc(shoal_drop(x.f.s, id), 0);
	}
	tu_assert_rc(shoal_queue_size(x.f.rt, &x.q), 0);
	rc_oq_serves(&x, &x.q);
	rc_oq_stop(&x);
}

/*
 * A getter dies inside its get, the queue full (4 of 4).  Before it freed
 * the cell (TAKING, HELD): the get did not happen, the object goes to the
 * next getter.  After (TAKEN): the dead getter had it; nobody else gets
 * it, and its cell is room for a put at once (head is behind: the putter
 * moves it on), though no get came after.
 */
static void rc_scenario_oq_get(unsigned point)
{
	struct rc_oq x = rc_oq_start();
	int64_t first = point == SHOAL__CP_OQ_TAKEN ? 6 : 5;
	shoal_id id;

	for (int64_t v = 5; v < 9; v++)
		tu_assert_rc(shoal_queue_put_bytes(x.f.rt, &x.q, &v, sizeof v, 1000), 0);
	rc_oq_child_dies(&x, point, 1);
	if (point == SHOAL__CP_OQ_TAKEN) {
		int64_t v = 9;

		tu_assert_rc(shoal_queue_put_bytes(x.f.rt, &x.q, &v, sizeof v, 0), 0,
			     "the dead getter's cell is no room");
	}
	for (int64_t v = first; v < first + 4; v++) {
		tu_assert_rc(shoal_queue_get(x.f.rt, &x.q, 5000, &id), 0);
		cr_assert_eq(rc_value(&x.f, id, 1000), v, "%s: got out of order",
			     shoal__crash_name(point));
		tu_assert_rc(shoal_drop(x.f.s, id), 0);
	}
	tu_assert_rc(shoal_queue_get(x.f.rt, &x.q, 0, &id), -EAGAIN,
		     "an object got twice");
	rc_oq_serves(&x, &x.q);
	rc_oq_stop(&x);
}

/*
 * A creator dies while it builds a queue, a deleter while it deletes one,
 * each holding the name lock: the lock and the slot are taken over, the
 * name can be created again, and the new queue serves.
 */
static void rc_scenario_oq_admin(unsigned point)
{
	struct rc_oq x = rc_oq_start();
	struct shoal_queue q;
	int64_t v = 3;
	const char *name = point == SHOAL__CP_OQ_BUILDING ? "q2" : "q";

	tu_assert_rc(shoal_queue_put_bytes(x.f.rt, &x.q, &v, sizeof v, 1000), 0);
	rc_oq_child_dies(&x, point, point == SHOAL__CP_OQ_BUILDING ? 2 : 3);
	if (point == SHOAL__CP_OQ_WALKED)
		tu_assert_rc(shoal_queue_put(x.f.rt, &x.q, SHOAL_ID_NIL, 0), -ENOENT);
	tu_assert_rc(shoal_queue_lookup(x.f.rt, name, &q),
		     point == SHOAL__CP_OQ_BUILDING ? -ENOENT : -ENOENT);
	tu_assert_rc(shoal_queue_create(x.f.rt, name, 4, &q), 0);
	rc_oq_serves(&x, &q);
	rc_oq_stop(&x);
}

/*
 * The fork server dies while it adopts what a dead putter left queued
 * (objq_admin.c, store/guard.c): after it marked the putter's slot
 * (OQ_MARKED), held the object (OQ_ADOPTING) or lifted the guard
 * (OQ_LIFTED).  The runtime ends with it, and the guard, which names it,
 * no longer holds: whoever reaps first reaps the putter and the fork
 * server, each giving back its own hold once.  The object is still in
 * the queue for the driver (nothing pressed the store meanwhile), whole;
 * once it is dropped the store is back to where it began: no hold left
 * behind, none given back twice.
 */
static void rc_scenario_oq_adopt(unsigned point)
{
	char spec[64];
	struct rc_oq x;
	struct shoal_store_stats base;
	int64_t t0;
	shoal_id id;
	pid_t fs, pid;
	int st;

	snprintf(spec, sizeof spec, "%s:1", shoal__crash_name(point));
	setenv("SHOAL_CRASH", spec, 1);
	x = rc_oq_start();
	unsetenv("SHOAL_CRASH");
	fs = atomic_load(&x.f.rt->v.hdr->fs_pid);
	base = rc_settled_stats(x.f.s);
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_runtime *rt;
		struct shoal_queue q;
		int64_t v = 7;

		if (shoal_runtime_attach(x.name, &rt) ||
		    shoal_queue_lookup(rt, "q", &q) ||
		    shoal_queue_put_bytes(rt, &q, &v, sizeof v, 1000))
			_exit(TU_EXIT_IO);
		kill(getpid(), SIGKILL);
		_exit(0);
	}
	st = tu_wait_status(pid, 10000);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "%s: the putter (status %#x)", shoal__crash_name(point), st);
	t0 = tu_now_ms();
	while (shoal__proc_start_time(fs) && tu_now_ms() - t0 < 10000)
		sched_yield();
	cr_assert_eq(shoal__proc_start_time(fs), 0,
		     "%s: the fork server did not die there", shoal__crash_name(point));
	shoal_store_reap(x.f.s);
	tu_assert_rc(shoal_queue_get(x.f.rt, &x.q, 5000, &id), 0, "%s: the get",
		     shoal__crash_name(point));
	cr_assert_eq(rc_value(&x.f, id, 1000), 7);
	tu_assert_rc(shoal_drop(x.f.s, id), 0);
	tu_assert_rc(shoal_queue_size(x.f.rt, &x.q), 0);
	rc_wait_objects(x.f.s, point, &base);
	shoal_runtime_shutdown(x.f.rt);
	shoal_registry_close(x.f.reg);
}

/*
 * The cancel scenario: an attached program cancels a task parked on an
 * unsealed object and dies after its CAS, before it wrote the returns.
 * The task must never run; its return must still read SHOAL_ECANCELLED
 * (the fork server's watch writes it), and once the object is sealed the
 * record comes back (queued, claimed, freed without running).
 */
static void rc_scenario_cancel(unsigned point)
{
	struct rc_tasks x = rc_tasks_start();
	struct shoal_store_stats base;
	shoal_id gate = shoal_id_next(x.f.s), out;
	struct shoal_args a;
	struct shoal_view v;
	int64_t k = 1;
	void *buf;
	pid_t pid;
	int st;

	tu_assert_rc(shoal_create(x.f.s, gate, 8, NULL, 0, 0, &buf), 0);
	base = rc_settled_stats(x.f.s);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &k, sizeof k), 0);
	tu_assert_rc(shoal_args_ref(&a, gate), 0);
	tu_assert_rc(shoal_submit(x.f.rt, x.count, &a, 1, &out), 0);
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_runtime *rt;

		if (shoal_runtime_attach(x.name, &rt))
			_exit(TU_EXIT_IO);
		shoal__crash_arm(&shoal_runtime_store(rt)->crash, point, 1);
		shoal_cancel(rt, out, 0);
		_exit(0); /* it should have died in there */
	}
	st = rc_reap(pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "%s: the canceller did not die there (status %#x)",
		  shoal__crash_name(point), st);
	tu_assert_rc(shoal_get(x.f.s, out, 5000, &v), SHOAL_ECANCELLED,
		     "%s: the cancel was not completed", shoal__crash_name(point));
	tu_assert_rc(shoal_drop(x.f.s, out), 0);
	tu_assert_rc(shoal_seal(x.f.s, gate), 0);
	rc_tasks_finish(&x, point, &base, 0, 0);
	tu_assert_rc(shoal_drop(x.f.s, gate), 0);
	rc_tasks_stop(&x);
}

/*
 * The call_cancel scenario: an attached program cancels a call queued
 * behind a method that holds the actor, and dies after its CAS, before
 * it filled the results.  The call must never run, and its result must
 * read SHOAL_ECANCELLED while the actor is still held: the fork server's
 * watch fills it (the canceller flagged the lane before its CAS), not
 * the actor when it gets there.
 */
/* Waits (bounded) until hold() runs. */
static void rc_wait_hold(void)
{
	for (int64_t t0 = tu_now_ms(); !atomic_load(&rc_counts->ran[3]) &&
				       tu_now_ms() - t0 < 10000;)
		sched_yield();
	cr_assert_eq(atomic_load(&rc_counts->ran[3]), 1, "the hold never started");
}

static void rc_scenario_call_cancel(unsigned point)
{
	struct rc_actor x = {0};
	struct shoal_runtime_options o;
	const char *name = tu_shm_name("cc");
	shoal_id held, queued;
	int64_t k = 1, v;
	pid_t pid;
	int st;

	rc_counts = mmap(NULL, sizeof *rc_counts, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(rc_counts, MAP_FAILED);
	tu_assert_rc(shoal_registry_open(&x.f.reg), 0);
	tu_assert_rc(shoal_register_actor(x.f.reg, "Bumper", rc_bumper_init, NULL), 0);
	tu_assert_rc(shoal_register_method(x.f.reg, "Bumper", "bump", rc_bump), 0);
	tu_assert_rc(shoal_register_method(x.f.reg, "Bumper", "hold", rc_hold), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.name = name;
	o.store.capacity = 8u << 20;
	tu_assert_rc(shoal_runtime_start(x.f.reg, &o, &x.f.rt), 0);
	x.f.s = shoal_runtime_store(x.f.rt);
	tu_assert_rc(shoal_actor_create(x.f.rt, "Bumper", NULL, NULL, &x.a), 0);
	x.bump = shoal_actor_method(x.f.rt, x.a, "bump");
	tu_assert_rc(shoal_actor_call(x.f.rt, x.a, shoal_actor_method(x.f.rt, x.a, "hold"),
				      NULL, &held), 0);
	rc_wait_hold();
	{
		struct shoal_args a;

		shoal_args_init(&a);
		tu_assert_rc(shoal_args_bytes(&a, &k, sizeof k), 0);
		tu_assert_rc(shoal_actor_call(x.f.rt, x.a, x.bump, &a, &queued), 0);
	}
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_runtime *rt;

		if (shoal_runtime_attach(name, &rt))
			_exit(TU_EXIT_IO);
		shoal__crash_arm(&shoal_runtime_store(rt)->crash, point, 1);
		shoal_cancel(rt, queued, 0);
		_exit(0); /* it should have died in there */
	}
	st = rc_reap(pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "%s: the canceller did not die there (status %#x)",
		  shoal__crash_name(point), st);
	/* the actor is still held: only the watch can have filled it */
	tu_assert_rc(shoal_get(x.f.s, queued, 2000, &(struct shoal_view){0}),
		     SHOAL_ECANCELLED, "%s: the cancel was not completed",
		     shoal__crash_name(point));
	atomic_store(&rc_counts->hold_open, 1);
	tu_assert_rc(rc_get_dropped(x.f.s, held), 0);
	tu_assert_rc(rc_get_dropped(x.f.s, queued), SHOAL_ECANCELLED);
	cr_assert_eq(rc_bump_call(&x, 2, &v), 0, "the lane serves on");
	cr_assert_eq(atomic_load(&rc_counts->ran[1]), 0, "the cancelled call ran");
	tu_assert_rc(shoal_runtime_shutdown(x.f.rt), 0);
	shoal_registry_close(x.f.reg);
	munmap(rc_counts, sizeof *rc_counts);
	rc_counts = NULL;
}

/*
 * The expirer of a deadline killed mid-way: the fork server's watch dies
 * at CALL_CANCEL_SET while it expires a call queued behind a held actor
 * (CANCEL | DEADLINE set, results not filled).  The runtime ends
 * (SHOAL_EFORKSERVERDIED) and its sweep fails what is pending: the
 * call's result is one outcome, the same at every get, and the method
 * never ran.
 */
Test(runtime_crash, the_fork_server_killed_expiring_a_call_leaves_one_outcome)
{
	struct rc_actor x = rc_armed_start("CALL_CANCEL_SET");
	struct shoal_call_options o = SHOAL_CALL_OPTIONS_INIT;
	struct shoal_args a;
	struct shoal_view v;
	shoal_id held, late, ref;
	int64_t k = 1;
	int rc;

	tu_assert_rc(shoal_actor_call(x.f.rt, x.a, shoal_actor_method(x.f.rt, x.a, "hold"),
				      NULL, &held), 0);
	rc_wait_hold();
	o.deadline_ms = 100;
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &k, sizeof k), 0);
	tu_assert_rc(shoal_actor_call_opts(x.f.rt, x.a, x.bump, &a, &o, &late), 0);
	rc = shoal_get(x.f.s, late, 10000, &v);
	cr_assert(rc == SHOAL_EFORKSERVERDIED || rc == SHOAL_EDEADLINE,
		  "the expired call: %s", shoal_strerror(rc));
	cr_log_info("the expired call: %s", shoal_strerror(rc));
	/* the fork server did die there */
	tu_assert_rc(shoal_actor_call(x.f.rt, x.a, x.bump, &a, &ref),
		     SHOAL_EFORKSERVERDIED);
	tu_assert_rc(shoal_get(x.f.s, late, 0, &v), rc, "a second outcome");
	tu_assert_rc(shoal_get(x.f.s, held, 10000, &v), SHOAL_EFORKSERVERDIED);
	cr_assert_eq(atomic_load(&rc_counts->ran[1]), 0, "the expired call ran");
	atomic_store(&rc_counts->hold_open, 1);
	tu_assert_rc(shoal_drop(x.f.s, late), 0);
	tu_assert_rc(shoal_drop(x.f.s, held), 0);
	tu_assert_rc(shoal_runtime_shutdown(x.f.rt), SHOAL_EFORKSERVERDIED);
	shoal_registry_close(x.f.reg);
	munmap(rc_counts, sizeof *rc_counts);
	rc_counts = NULL;
}

#define RC_TEST(name, scenario, what)                                         \
	Test(runtime_crash, name, .description = what)                        \
	{                                                                     \
		rc_scenario_##scenario(SHOAL__CP_##name);                     \
	}
SHOAL__RT_CRASH_POINTS(RC_TEST)
#undef RC_TEST
