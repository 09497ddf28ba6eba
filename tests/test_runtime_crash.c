/* SPDX-License-Identifier: MIT */
/*
 * tests/test_runtime_crash.c - runtime processes killed at crash points
 * (store/crash.h), with the library built with its points armed.
 *
 * A task arms its own worker's store handle and returns: the worker then
 * dies at the point while it finishes the task (seals its result, wakes
 * what waits for it).  The runtime must still run every task that was
 * parked on that result: nobody is left waiting for a drain that died.
 *
 * The runtime's own points (SHOAL__RT_CRASH_POINTS in store/crash.h) are
 * visited here, one test per point expanded from that list, each running
 * its scenario: a method arms its actor's handle, the next call's process
 * dies at the point, and the call must have run as often as its state at
 * the point allows (a done call never twice), its caller must get a
 * value or SHOAL_EACTORDIED, the restarted actor must serve the next
 * call, and the store must be back to its baseline.
 */
#include <criterion/criterion.h>
#include <sys/mman.h>

#include <shoal/shoal.h>

#include "testutil.h"
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

#define RC_TEST(name, scenario, what)                                         \
	Test(runtime_crash, name, .description = what)                        \
	{                                                                     \
		rc_scenario_##scenario(SHOAL__CP_##name);                     \
	}
SHOAL__RT_CRASH_POINTS(RC_TEST)
#undef RC_TEST
