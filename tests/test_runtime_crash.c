/* SPDX-License-Identifier: MIT */
/*
 * tests/test_runtime_crash.c - runtime processes killed at crash points
 * (store/crash.h), with the library built with its points armed.
 *
 * A task arms its own worker's store handle and returns: the worker then
 * dies at the point while it finishes the task (seals its result, wakes
 * what waits for it).  The runtime must still run every task that was
 * parked on that result: nobody is left waiting for a drain that died.
 */
#include <criterion/criterion.h>

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
