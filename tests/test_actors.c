/* SPDX-License-Identifier: MIT */
/*
 * tests/test_actors.c - actors and actor handles: classes, calls and their
 * order, errors, named actors, handles through tasks and other actors,
 * backpressure, kill, crashes and restarts.  Every test starts a real
 * runtime: the actors are processes of their own, the calls go through
 * lanes in the segment.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "testutil.h"

TestSuite(actors, .init = tu_setup, .fini = tu_teardown);

/* ------------------------------------------------------------------ */
/* A Counter actor: state is a sum and, per caller, the last sequence
 * number it saw (to check per-caller order).                          */

#define MAX_CALLERS 64

struct counter {
	int64_t sum;
	int64_t calls;
	int64_t last_seq[MAX_CALLERS];
	int64_t out_of_order;
};

static int64_t arg_i64(struct shoal_task *t, uint32_t i)
{
	const void *d;
	size_t n;
	int64_t v = 0;

	if (shoal_task_arg(t, i, &d, &n) == 0 && n == sizeof v)
		memcpy(&v, d, sizeof v);
	return v;
}

static int counter_init(struct shoal_task *ctx, void **self)
{
	struct counter *c = calloc(1, sizeof *c);

	if (!c)
		return -ENOMEM;
	if (shoal_task_num_args(ctx) > 0)
		c->sum = arg_i64(ctx, 0);
	for (int i = 0; i < MAX_CALLERS; i++)
		c->last_seq[i] = -1;
	*self = c;
	return 0;
}

static void counter_fini(void *self)
{
	free(self);
}

/* add(x) -> the new sum */
static int counter_add(struct shoal_task *t, void *self)
{
	struct counter *c = self;

	c->sum += arg_i64(t, 0);
	c->calls++;
	return shoal_task_num_returns(t) ? shoal_task_return(t, 0, &c->sum, sizeof c->sum)
					 : 0;
}

/* seq(caller, n): checks that n follows the caller's last one. */
static int counter_seq(struct shoal_task *t, void *self)
{
	struct counter *c = self;
	int64_t who = arg_i64(t, 0), n = arg_i64(t, 1);

	if (who < 0 || who >= MAX_CALLERS)
		return shoal_task_fail(t, -EINVAL, "caller %" PRId64, who);
	if (n != c->last_seq[who] + 1)
		c->out_of_order++;
	c->last_seq[who] = n;
	c->calls++;
	return shoal_task_num_returns(t) ? shoal_task_return(t, 0, &n, sizeof n) : 0;
}

/* get() -> sum, calls, out_of_order */
static int counter_get(struct shoal_task *t, void *self)
{
	struct counter *c = self;
	int64_t v[3] = {c->sum, c->calls, c->out_of_order};

	return shoal_task_return(t, 0, v, sizeof v);
}

static int counter_fail(struct shoal_task *t, void *self)
{
	(void)self;
	return shoal_task_fail(t, SHOAL_ETASK, "counter refused %" PRId64, arg_i64(t, 0));
}

static int counter_crash(struct shoal_task *t, void *self)
{
	(void)t;
	(void)self;
	raise(SIGKILL);
	return 0;
}

/* sleep_ms(ms) */
static int counter_sleep(struct shoal_task *t, void *self)
{
	int64_t ms = arg_i64(t, 0);

	(void)self;
	usleep((useconds_t)ms * 1000);
	return shoal_task_return(t, 0, &ms, sizeof ms);
}

/* A task that calls add(x) n times on the actor it was handed. */
static int task_use_actor(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_actor a;
	int64_t x = arg_i64(t, 1), n = arg_i64(t, 2), last = 0;
	struct shoal_view v;
	int rc = shoal_task_arg_actor(t, 0, &a);
	int m;

	(void)user;
	if (rc)
		return rc;
	m = shoal_actor_method(rt, a, "add");
	for (int64_t i = 0; i < n; i++) {
		struct shoal_args args;
		shoal_id ref;

		shoal_args_init(&args);
		shoal_args_bytes(&args, &x, sizeof x);
		rc = shoal_actor_call(rt, a, m, &args, &ref);
		if (rc)
			return rc;
		rc = shoal_get(shoal_runtime_store(rt), ref, 10000, &v);
		if (rc)
			return rc;
		memcpy(&last, v.data, sizeof last);
		shoal_release(shoal_runtime_store(rt), &v);
		shoal_drop(shoal_runtime_store(rt), ref);
	}
	return shoal_task_return(t, 0, &last, sizeof last);
}

/* ------------------------------------------------------------------ */
/* Fixture                                                             */

struct fx {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
};

static struct fx start_opts(struct shoal_runtime_options *o)
{
	struct fx f = {0};

	tu_assert_rc(shoal_registry_open(&f.reg), 0);
	tu_assert_rc(shoal_register_actor(f.reg, "Counter", counter_init, counter_fini), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Counter", "add", counter_add), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Counter", "seq", counter_seq), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Counter", "get", counter_get), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Counter", "fail", counter_fail), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Counter", "crash", counter_crash), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Counter", "sleep_ms", counter_sleep), 0);
	tu_assert_rc(shoal_register_task(f.reg, "use_actor", task_use_actor, NULL), 0);
	tu_assert_rc(shoal_runtime_start(f.reg, o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	return f;
}

static struct fx start(uint32_t workers)
{
	struct shoal_runtime_options o;

	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.max_tasks = 4096;
	o.store.capacity = 32u << 20;
	o.store.max_objects = 16384;
	return start_opts(&o);
}

static void stop(struct fx *f)
{
	tu_assert_rc(shoal_runtime_shutdown(f->rt), 0);
	shoal_registry_close(f->reg);
}

static struct shoal_actor counter(struct fx *f, int64_t init,
				  const struct shoal_actor_options *o)
{
	struct shoal_actor a;
	struct shoal_args args;

	shoal_args_init(&args);
	shoal_args_bytes(&args, &init, sizeof init);
	tu_assert_rc(shoal_actor_create(f->rt, "Counter", &args, o, &a), 0);
	return a;
}

static int method(struct fx *f, struct shoal_actor a, const char *name)
{
	int m = shoal_actor_method(f->rt, a, name);

	cr_assert_geq(m, 0, "no method %s", name);
	return m;
}

static int call1(struct fx *f, struct shoal_actor a, const char *name, int64_t x,
		 shoal_id *ref)
{
	struct shoal_args args;

	shoal_args_init(&args);
	shoal_args_bytes(&args, &x, sizeof x);
	return shoal_actor_call(f->rt, a, method(f, a, name), &args, ref);
}

static int get_i64(struct fx *f, shoal_id ref, int64_t *out)
{
	struct shoal_view v;
	int rc = shoal_get(f->s, ref, 10000, &v);

	if (rc)
		return rc;
	cr_assert_geq(v.size, sizeof *out);
	memcpy(out, v.data, sizeof *out);
	shoal_release(f->s, &v);
	return 0;
}

/* Calls name(x), gets and drops the result. */
static int64_t call_get(struct fx *f, struct shoal_actor a, const char *name,
			int64_t x)
{
	shoal_id ref;
	int64_t v;

	tu_assert_rc(call1(f, a, name, x, &ref), 0);
	tu_assert_rc(get_i64(f, ref, &v), 0);
	shoal_drop(f->s, ref);
	return v;
}

/* ------------------------------------------------------------------ */

Test(actors, calls_run_in_order_and_keep_state)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 100, NULL);
	shoal_id refs[100];
	int64_t v;

	for (int i = 0; i < 100; i++)
		tu_assert_rc(call1(&f, a, "add", i, &refs[i]), 0);
	for (int i = 0; i < 100; i++) {
		tu_assert_rc(get_i64(&f, refs[i], &v), 0);
		cr_assert_eq(v, 100 + (int64_t)i * (i + 1) / 2, "call %d saw %" PRId64, i, v);
		shoal_drop(f.s, refs[i]);
	}
	stop(&f);
}

Test(actors, method_errors_become_error_objects)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 0, NULL);
	shoal_id ref;
	char msg[128];
	struct shoal_view v;

	tu_assert_rc(call1(&f, a, "fail", 7, &ref), 0);
	tu_assert_rc(shoal_get(f.s, ref, 10000, &v), SHOAL_ETASK);
	cr_assert_geq(shoal_error_message(f.s, ref, msg, sizeof msg), 0);
	cr_assert(strstr(msg, "counter refused 7"), "message: %s", msg);
	shoal_drop(f.s, ref);
	cr_assert_eq(call_get(&f, a, "add", 5), 5, "the actor goes on after an error");
	stop(&f);
}

Test(actors, handles_travel_through_tasks)
{
	struct fx f = start(2);
	struct shoal_actor a = counter(&f, 0, NULL);
	shoal_id refs[4];
	int64_t x = 1, n = 50, v;

	for (int i = 0; i < 4; i++) {
		struct shoal_args args;

		shoal_args_init(&args);
		shoal_args_actor(&args, &a);
		shoal_args_bytes(&args, &x, sizeof x);
		shoal_args_bytes(&args, &n, sizeof n);
		tu_assert_rc(shoal_submit(f.rt, shoal_function(f.rt, "use_actor"), &args, 1,
					  &refs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		tu_assert_rc(get_i64(&f, refs[i], &v), 0);
		shoal_drop(f.s, refs[i]);
	}
	cr_assert_eq(call_get(&f, a, "add", 0), 200);
	stop(&f);
}

Test(actors, kill_fails_pending_calls_and_later_ones)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 0, NULL);
	shoal_id slow, queued[10], ref;
	struct shoal_view v;

	tu_assert_rc(call1(&f, a, "sleep_ms", 5000, &slow), 0);
	for (int i = 0; i < 10; i++)
		tu_assert_rc(call1(&f, a, "add", 1, &queued[i]), 0);
	tu_assert_rc(shoal_actor_kill(f.rt, a, true), 0);
	tu_assert_rc(shoal_get(f.s, slow, 10000, &v), SHOAL_EACTORDIED);
	for (int i = 0; i < 10; i++) {
		tu_assert_rc(shoal_get(f.s, queued[i], 10000, &v), SHOAL_EACTORDIED);
		shoal_drop(f.s, queued[i]);
	}
	shoal_drop(f.s, slow);
	tu_assert_rc(call1(&f, a, "add", 1, &ref), SHOAL_EACTORDIED);
	tu_assert_rc(shoal_actor_kill(f.rt, a, true), SHOAL_EACTORDIED);
	stop(&f);
}

Test(actors, crash_with_restarts_reconstructs_and_runs_queued_calls)
{
	struct fx f = start(1);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor a;
	struct shoal_actor_info info;
	shoal_id crash, after[5];
	struct shoal_view v;
	int64_t x;

	o.max_restarts = 1;
	a = counter(&f, 10, &o);
	cr_assert_eq(call_get(&f, a, "add", 5), 15);
	tu_assert_rc(call1(&f, a, "crash", 0, &crash), 0);
	for (int i = 0; i < 5; i++)
		tu_assert_rc(call1(&f, a, "add", 1, &after[i]), 0);
	tu_assert_rc(shoal_get(f.s, crash, 10000, &v), SHOAL_EACTORDIED);
	for (int i = 0; i < 5; i++) {
		tu_assert_rc(get_i64(&f, after[i], &x), 0);
		cr_assert_eq(x, 11 + i, "state was rebuilt by the constructor");
		shoal_drop(f.s, after[i]);
	}
	tu_assert_rc(shoal_actor_info(f.rt, a, &info), 0);
	cr_assert_eq(info.restarts, 1);
	cr_assert_eq(info.state, SHOAL_ACTOR_ALIVE);
	shoal_drop(f.s, crash);
	stop(&f);
}

Test(actors, named_actors_are_found_and_unique)
{
	struct fx f = start(1);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor a, b, c;

	o.name = "counter-1";
	a = counter(&f, 3, &o);
	tu_assert_rc(shoal_actor_lookup(f.rt, "counter-1", &b), 0);
	cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
	tu_assert_rc(shoal_actor_create(f.rt, "Counter", NULL, &o, &c), -EEXIST);
	o.get_if_exists = true;
	tu_assert_rc(shoal_actor_create(f.rt, "Counter", NULL, &o, &c), 0);
	cr_assert_eq(memcmp(&a, &c, sizeof a), 0);
	cr_assert_eq(call_get(&f, b, "add", 1), 4);
	tu_assert_rc(shoal_actor_lookup(f.rt, "nobody", &b), -ENOENT);
	stop(&f);
}
