/* SPDX-License-Identifier: MIT */
/*
 * tests/test_runtime_tasks.c - remote functions: submit with bytes and ref
 * arguments, several returns, chains and diamonds, errors that propagate,
 * results held until dropped, get/wait timeouts, nested tasks, and the
 * task table's limit.  Every test starts a real runtime (fork server and
 * worker processes).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "testutil.h"

TestSuite(runtime_tasks, .init = tu_setup, .fini = tu_teardown);

/* ------------------------------------------------------------------ */
/* Task functions                                                      */

static int64_t arg_i64(struct shoal_task *t, uint32_t i, bool *ok)
{
	const void *d;
	size_t n;
	int64_t v = 0;

	*ok = shoal_task_arg(t, i, &d, &n) == 0 && n == sizeof v;
	if (*ok)
		memcpy(&v, d, sizeof v);
	return v;
}

/* Sum of its int64 arguments. */
static int task_add(struct shoal_task *t, void *user)
{
	int64_t sum = 0;
	bool ok;

	(void)user;
	for (uint32_t i = 0; i < shoal_task_num_args(t); i++) {
		sum += arg_i64(t, i, &ok);
		if (!ok)
			return shoal_task_fail(t, SHOAL_ETASK, "argument %u is not an int64", i);
	}
	return shoal_task_return(t, 0, &sum, sizeof sum);
}

/* Return i = arg * (i + 1), written in place. */
static int task_multiples(struct shoal_task *t, void *user)
{
	bool ok;
	int64_t x = arg_i64(t, 0, &ok);

	(void)user;
	for (uint32_t i = 0; i < shoal_task_num_returns(t); i++) {
		int64_t *buf;
		int rc = shoal_task_return_buffer(t, i, sizeof *buf, (void **)&buf);

		if (rc)
			return rc;
		*buf = x * (i + 1);
	}
	return 0;
}

static int task_fail(struct shoal_task *t, void *user)
{
	(void)user;
	return shoal_task_fail(t, SHOAL_ETASK, "bad input at step %d", 3);
}

/* Sets return 0 of 2 and returns success. */
static int task_half(struct shoal_task *t, void *user)
{
	int64_t v = 1;

	(void)user;
	return shoal_task_return(t, 0, &v, sizeof v);
}

/* Kills its own worker process. */
static int task_die(struct shoal_task *t, void *user)
{
	(void)t;
	(void)user;
	raise(SIGKILL);
	return 0;
}

/* Length and checksum of its one bytes argument. */
static int task_measure(struct shoal_task *t, void *user)
{
	const void *d;
	size_t n;
	uint64_t out[2];

	(void)user;
	if (shoal_task_arg(t, 0, &d, &n))
		return SHOAL_ETASK;
	out[0] = n;
	out[1] = tu_sum(d, n);
	return shoal_task_return(t, 0, out, sizeof out);
}

/* Submits add(arg, 1) and returns its result + 1000 (a nested task). */
static int task_nested(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_store *s = shoal_runtime_store(rt);
	struct shoal_args a;
	struct shoal_view v;
	int64_t one = 1, r;
	bool ok;
	int64_t x = arg_i64(t, 0, &ok);
	shoal_id ref;
	int rc;

	(void)user;
	shoal_args_init(&a);
	shoal_args_bytes(&a, &x, sizeof x);
	shoal_args_bytes(&a, &one, sizeof one);
	rc = shoal_submit(rt, shoal_function(rt, "add"), &a, 1, &ref);
	if (!rc)
		rc = shoal_get(s, ref, 10000, &v);
	if (rc)
		return shoal_task_fail(t, rc, "nested: %s", shoal_strerror(rc));
	memcpy(&r, v.data, sizeof r);
	shoal_release(s, &v);
	shoal_drop(s, ref);
	r += 1000;
	return shoal_task_return(t, 0, &r, sizeof r);
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

struct rt_fixture {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
};

static struct rt_fixture start(uint32_t workers, uint32_t max_tasks)
{
	struct rt_fixture f = {0};
	struct shoal_runtime_options o;

	tu_assert_rc(shoal_registry_open(&f.reg), 0);
	tu_assert_rc(shoal_register_task(f.reg, "add", task_add, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "multiples", task_multiples, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "fail", task_fail, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "half", task_half, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "measure", task_measure, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "nested", task_nested, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "die", task_die, NULL), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.max_tasks = max_tasks;
	o.store.capacity = 32u << 20;
	o.store.max_objects = 16384;
	tu_assert_rc(shoal_runtime_start(f.reg, &o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	return f;
}

static void stop(struct rt_fixture *f)
{
	tu_assert_rc(shoal_runtime_shutdown(f->rt), 0);
	shoal_registry_close(f->reg);
}

static int fn(struct rt_fixture *f, const char *name)
{
	int i = shoal_function(f->rt, name);

	cr_assert_geq(i, 0, "no function %s", name);
	return i;
}

static shoal_id submit_add(struct rt_fixture *f, const int64_t *vals, int nvals,
			   const shoal_id *refs, int nrefs)
{
	struct shoal_args a;
	shoal_id out;

	shoal_args_init(&a);
	for (int i = 0; i < nvals; i++)
		tu_assert_rc(shoal_args_bytes(&a, &vals[i], sizeof vals[i]), 0);
	for (int i = 0; i < nrefs; i++)
		tu_assert_rc(shoal_args_ref(&a, refs[i]), 0);
	tu_assert_rc(shoal_submit(f->rt, fn(f, "add"), &a, 1, &out), 0);
	return out;
}

static int64_t get_i64(struct rt_fixture *f, shoal_id ref, int timeout_ms, int *rc)
{
	struct shoal_view v;
	int64_t x = 0;

	*rc = shoal_get(f->s, ref, timeout_ms, &v);
	if (*rc)
		return 0;
	cr_assert_eq(v.size, sizeof x);
	memcpy(&x, v.data, sizeof x);
	shoal_release(f->s, &v);
	return x;
}

static int64_t value(struct rt_fixture *f, shoal_id ref)
{
	int rc;
	int64_t x = get_i64(f, ref, 10000, &rc);

	tu_assert_rc(rc, 0);
	return x;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

Test(runtime_tasks, many_tasks_each_return_their_sum)
{
	enum { N = 3000 };
	struct rt_fixture f = start(2, 0);
	static shoal_id refs[N];
	int64_t total = 0;

	for (int i = 0; i < N; i++) {
		int64_t v[2] = {i, 1};
		refs[i] = submit_add(&f, v, 2, NULL, 0);
	}
	for (int i = 0; i < N; i++) {
		total += value(&f, refs[i]);
		tu_assert_rc(shoal_drop(f.s, refs[i]), 0);
	}
	cr_assert_eq(total, (int64_t)N * (N - 1) / 2 + N);
	stop(&f);
}

Test(runtime_tasks, ref_chains_and_diamonds_resolve_before_running)
{
	struct rt_fixture f = start(2, 0);
	int64_t one = 1, ten = 10;
	shoal_id a = submit_add(&f, &one, 1, NULL, 0);        /* 1 */
	shoal_id b = submit_add(&f, &ten, 1, &a, 1);          /* 11 */
	shoal_id c = submit_add(&f, &ten, 1, &b, 1);          /* 21 */
	shoal_id left = submit_add(&f, &one, 1, &a, 1);       /* 2 */
	shoal_id right = submit_add(&f, &ten, 1, &a, 1);      /* 11 */
	shoal_id both[2] = {left, right};
	shoal_id d = submit_add(&f, NULL, 0, both, 2);         /* 13 */

	cr_assert_eq(value(&f, c), 21);
	cr_assert_eq(value(&f, d), 13);
	stop(&f);
}

Test(runtime_tasks, several_returns_written_in_place)
{
	struct rt_fixture f = start(2, 0);
	struct shoal_args a;
	shoal_id refs[5];
	int64_t x = 7;

	shoal_args_init(&a);
	shoal_args_bytes(&a, &x, sizeof x);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "multiples"), &a, 5, refs), 0);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(shoal_id_index(refs[i]), i);
		cr_assert_eq(value(&f, refs[i]), 7 * (i + 1));
	}
	stop(&f);
}

Test(runtime_tasks, errors_carry_their_message_through_dependent_tasks)
{
	struct rt_fixture f = start(2, 0);
	struct shoal_args a;
	shoal_id bad, dep, dep2;
	char msg[128];
	int rc;
	int64_t ten = 10;

	shoal_args_init(&a);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "fail"), &a, 1, &bad), 0);
	dep = submit_add(&f, &ten, 1, &bad, 1);
	dep2 = submit_add(&f, &ten, 1, &dep, 1);
	get_i64(&f, dep2, 10000, &rc);
	tu_assert_rc(rc, SHOAL_ETASK);
	tu_assert_rc(shoal_error_message(f.s, dep2, msg, sizeof msg),
		     (int)strlen("bad input at step 3"));
	cr_assert_str_eq(msg, "bad input at step 3");
	get_i64(&f, bad, 0, &rc);
	tu_assert_rc(rc, SHOAL_ETASK);
	stop(&f);
}

Test(runtime_tasks, returns_left_unset_become_errors)
{
	struct rt_fixture f = start(1, 0);
	struct shoal_args a;
	shoal_id refs[2];
	char msg[128];
	int rc;

	shoal_args_init(&a);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "half"), &a, 2, refs), 0);
	cr_assert_eq(value(&f, refs[0]), 1);
	get_i64(&f, refs[1], 10000, &rc);
	tu_assert_rc(rc, SHOAL_ETASK);
	cr_assert_gt(shoal_error_message(f.s, refs[1], msg, sizeof msg), 0);
	cr_assert(strstr(msg, "1 of 2"), "message: %s", msg);
	stop(&f);
}

Test(runtime_tasks, large_by_value_arguments_travel_through_the_store)
{
	enum { BIG = 100000 };
	struct rt_fixture f = start(1, 0);
	static uint8_t buf[BIG];
	struct shoal_args a;
	struct shoal_view v;
	shoal_id ref;
	uint64_t out[2];

	tu_fill(buf, BIG, 42);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, buf, BIG), 0);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "measure"), &a, 1, &ref), 0);
	memset(buf, 0, sizeof buf); /* the task must see the bytes at submit */
	tu_assert_rc(shoal_get(f.s, ref, 10000, &v), 0);
	memcpy(out, v.data, sizeof out);
	shoal_release(f.s, &v);
	cr_assert_eq(out[0], BIG);
	tu_fill(buf, BIG, 42);
	cr_assert_eq(out[1], tu_sum(buf, BIG));
	stop(&f);
}

Test(runtime_tasks, a_ref_argument_outlives_the_callers_drop)
{
	struct rt_fixture f = start(1, 0);
	int64_t five = 5;
	shoal_id gate = shoal_id_next(f.s), args[2], sum;
	void *data;

	/* add() waits for gate, so it is pending when the caller drops arg. */
	tu_assert_rc(shoal_create(f.s, gate, sizeof five, NULL, 0, 0, &data), 0);
	memcpy(data, &five, sizeof five);
	tu_assert_rc(shoal_put(f.s, &five, sizeof five, 0, &args[0]), 0);
	args[1] = gate;
	sum = submit_add(&f, &five, 1, args, 2);
	tu_assert_rc(shoal_drop(f.s, args[0]), 0);
	cr_assert_eq(shoal_evict(f.s, 1u << 30), 0, "the pending task's arg was evicted");
	tu_assert_rc(shoal_seal(f.s, gate), 0);
	cr_assert_eq(value(&f, sum), 15);
	stop(&f);
}

/*
 * Issue 8 point 9 (found left over by the chaos program): the holds a
 * submitter keeps on a task's arguments go when the task is done, not at
 * its next submit: once every result is read and dropped, and the caller
 * dropped its own refs, nothing of the tasks is left in the store, with
 * no submit after.
 */
/* Evicts what nobody holds until the store has `objects` objects, or
 * timeout_ms passed; the stats last read in *st.  A worker unpins a
 * task's arguments once its function returned, which may be after the
 * caller read the result (the function may read them until it returns):
 * so an argument may stay pinned a moment after its result came back.
 * A bounded poll of shared state; it submits and drops nothing. */
static bool store_back_to(struct shoal_store *s, uint64_t objects, int timeout_ms,
			  struct shoal_store_stats *st)
{
	int64_t end = tu_now_ms() + timeout_ms;

	do {
		cr_assert_geq(shoal_evict(s, 1u << 30), 0);
		tu_assert_rc(shoal_store_stats(s, st), 0);
		if (st->objects == objects)
			return true;
		sched_yield();
	} while (tu_now_ms() < end);
	return false;
}

Test(runtime_tasks, a_done_tasks_argument_holds_go_without_another_submit)
{
	enum { N = 20 };
	struct rt_fixture f = start(2, 0);
	struct shoal_store_stats before, after;
	int64_t five = 5;
	shoal_id arg, sums[N];

	tu_assert_rc(shoal_store_stats(f.s, &before), 0);
	tu_assert_rc(shoal_put(f.s, &five, sizeof five, 0, &arg), 0);
	for (int i = 0; i < N; i++)
		sums[i] = submit_add(&f, &five, 1, &arg, 1);
	tu_assert_rc(shoal_drop(f.s, arg), 0);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(value(&f, sums[i]), 10);
		tu_assert_rc(shoal_drop(f.s, sums[i]), 0);
	}
	/* unheld: evicted, once the workers let go of their pins */
	cr_assert(store_back_to(f.s, before.objects, TU_CHILD_DEADLINE_MS, &after),
		  "%llu bytes left after every ref was dropped (argument holds "
		  "kept until the next submit)",
		  (unsigned long long)(after.bytes_used - before.bytes_used));
	cr_assert_eq(after.bytes_used, before.bytes_used);
	stop(&f);
}

/* Once every task is done, one drop lets all their argument holds go (up
 * to 64 tasks, pending.c):
 * twenty tasks share an argument, their results are all ready before the
 * caller drops the argument, and that one drop (no submit, no other drop
 * after) leaves the argument unheld, evictable.  Before, a drop let at
 * most 8 done tasks go and the argument stayed held by the other 12 (the
 * tasks ended together). */
Test(runtime_tasks, one_drop_lets_every_done_tasks_argument_holds_go)
{
	enum { N = 20 };
	struct rt_fixture f = start(2, 0);
	struct shoal_store_stats before, after;
	int64_t five = 5;
	shoal_id arg, sums[N];
	uint8_t ready[N];

	tu_assert_rc(shoal_store_stats(f.s, &before), 0);
	tu_assert_rc(shoal_put(f.s, &five, sizeof five, 0, &arg), 0);
	for (int i = 0; i < N; i++)
		sums[i] = submit_add(&f, &five, 1, &arg, 1);
	tu_assert_rc(shoal_wait(f.s, sums, N, N, 10000, ready), N);
	tu_assert_rc(shoal_drop(f.s, arg), 0);
	cr_assert(store_back_to(f.s, before.objects + N, TU_CHILD_DEADLINE_MS, &after),
		  "%llu objects, want the %d results alone (the argument "
		  "still held by done tasks)",
		  (unsigned long long)(after.objects - before.objects), N);
	for (int i = 0; i < N; i++)
		tu_assert_rc(shoal_drop(f.s, sums[i]), 0);
	stop(&f);
}

/* Ray's reference counting: a result lives while someone holds it, and is
 * freed (not cached) when the last ref goes. */
Test(runtime_tasks, results_are_held_until_dropped_then_freed)
{
	struct rt_fixture f = start(1, 0);
	int64_t v = 3;
	shoal_id r = submit_add(&f, &v, 1, NULL, 0);
	struct shoal_store_stats before, after;
	struct shoal_view view;
	uint8_t ready;

	tu_assert_rc(shoal_wait(f.s, &r, 1, 1, 10000, &ready), 1);
	cr_assert_eq(shoal_evict(f.s, 1u << 30), 0, "an unfetched result was evicted");
	cr_assert_eq(value(&f, r), 3);
	tu_assert_rc(shoal_get(f.s, r, 0, &view), 0);
	tu_assert_rc(shoal_store_stats(f.s, &before), 0);
	tu_assert_rc(shoal_drop(f.s, r), 0);
	cr_assert_eq(*(const int64_t *)view.data, 3, "a pinned result outlives its drop");
	shoal_release(f.s, &view);
	tu_assert_rc(shoal_store_stats(f.s, &after), 0);
	cr_assert_eq(after.objects, before.objects - 1, "the last release freed it");
	tu_assert_rc(shoal_get(f.s, r, 0, &view), SHOAL_EDELETED);
	cr_assert_eq(shoal_evict(f.s, 1u << 30), 0, "nothing was left to evict");
	stop(&f);
}

Test(runtime_tasks, get_and_wait_time_out_then_succeed)
{
	struct rt_fixture f = start(2, 0);
	shoal_id gate = shoal_id_next(f.s), slow, fast, both[2];
	int64_t one = 1;
	uint8_t ready[2];
	void *data;
	int rc;

	/* slow waits for gate (unsealed until the end); fast does not. */
	tu_assert_rc(shoal_create(f.s, gate, sizeof one, NULL, 0, 0, &data), 0);
	memcpy(data, &one, sizeof one);
	slow = submit_add(&f, &one, 1, &gate, 1);
	fast = submit_add(&f, &one, 1, NULL, 0);
	get_i64(&f, slow, 10, &rc);
	tu_assert_rc(rc, -ETIMEDOUT);
	both[0] = slow;
	both[1] = fast;
	tu_assert_rc(shoal_wait(f.s, both, 2, 1, 10000, ready), 1);
	cr_assert(!ready[0] && ready[1], "the ungated task is the one ready");
	tu_assert_rc(shoal_wait(f.s, both, 2, 2, 20, ready), 1);
	tu_assert_rc(shoal_seal(f.s, gate), 0);
	tu_assert_rc(shoal_wait(f.s, both, 2, 2, 10000, ready), 2);
	cr_assert_eq(value(&f, slow), 2);
	stop(&f);
}

Test(runtime_tasks, a_task_submits_and_gets_a_nested_task)
{
	struct rt_fixture f = start(2, 0);
	struct shoal_args a;
	int64_t x = 41;
	shoal_id r;

	shoal_args_init(&a);
	shoal_args_bytes(&a, &x, sizeof x);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "nested"), &a, 1, &r), 0);
	cr_assert_eq(value(&f, r), 1042);
	stop(&f);
}

Test(runtime_tasks, bad_submissions_are_refused)
{
	struct rt_fixture f = start(1, 0);
	struct shoal_args a;
	shoal_id refs[SHOAL_MAX_RETURNS + 1];
	int add = fn(&f, "add");

	shoal_args_init(&a);
	tu_assert_rc(shoal_function(f.rt, "nope"), SHOAL_ENOFUNCTION);
	tu_assert_rc(shoal_submit(f.rt, 999, &a, 1, refs), -EINVAL);
	tu_assert_rc(shoal_submit(f.rt, -1, &a, 1, refs), -EINVAL);
	tu_assert_rc(shoal_submit(f.rt, add, &a, 0, refs), -EINVAL);
	tu_assert_rc(shoal_submit(f.rt, add, &a, SHOAL_MAX_RETURNS + 1, refs), -EINVAL);
	tu_assert_rc(shoal_submit(f.rt, add, &a, 1, NULL), -EINVAL);
	tu_assert_rc(shoal_args_ref(&a, SHOAL_ID_NIL), -EINVAL);
	tu_assert_rc(shoal_args_bytes(&a, NULL, 4), -EINVAL);
	for (int i = 0; i < SHOAL_MAX_ARGS; i++)
		tu_assert_rc(shoal_args_bytes(&a, &i, sizeof i), 0);
	tu_assert_rc(shoal_args_bytes(&a, &add, sizeof add), -ENOSPC);
	stop(&f);
}

Test(runtime_tasks, a_full_task_table_refuses_then_drains)
{
	enum { MAX = 8 };
	struct rt_fixture f = start(1, MAX);
	shoal_id gate = shoal_id_next(f.s), refs[MAX], extra;
	int64_t one = 1;
	void *data;

	/* Every task waits for `gate`, which is not sealed yet. */
	tu_assert_rc(shoal_create(f.s, gate, sizeof one, NULL, 0, 0, &data), 0);
	memcpy(data, &one, sizeof one);
	for (int i = 0; i < MAX; i++)
		refs[i] = submit_add(&f, &one, 1, &gate, 1);
	{
		struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
		struct shoal_args a;

		shoal_args_init(&a);
		shoal_args_bytes(&a, &one, sizeof one);
		o.timeout_ms = 0; /* a try: a full table refuses at once */
		tu_assert_rc(shoal_submit_opts(f.rt, fn(&f, "add"), &a, &o, &extra),
			     -EAGAIN);
	}
	tu_assert_rc(shoal_seal(f.s, gate), 0);
	for (int i = 0; i < MAX; i++)
		cr_assert_eq(value(&f, refs[i]), 2);
	extra = submit_add(&f, &one, 1, NULL, 0);
	cr_assert_eq(value(&f, extra), 1);
	stop(&f);
}

Test(runtime_tasks, a_worker_that_dies_fails_its_task_and_loses_no_other)
{
	enum { N = 400 };
	struct rt_fixture f = start(2, 0);
	static shoal_id refs[N];
	struct shoal_runtime_info info;
	struct shoal_args a;
	shoal_id dead;
	char msg[128];
	int64_t total = 0, one = 1;
	int rc;

	for (int i = 0; i < N; i++) {
		if (i == N / 2) {
			shoal_args_init(&a);
			tu_assert_rc(shoal_submit(f.rt, fn(&f, "die"), &a, 1, &dead), 0);
		}
		refs[i] = submit_add(&f, &one, 1, NULL, 0);
	}
	get_i64(&f, dead, 10000, &rc);
	tu_assert_rc(rc, SHOAL_EWORKERDIED);
	cr_assert_gt(shoal_error_message(f.s, dead, msg, sizeof msg), 0);
	cr_assert(strstr(msg, "signal 9"), "message: %s", msg);
	for (int i = 0; i < N; i++)
		total += value(&f, refs[i]);
	cr_assert_eq(total, N, "tasks were lost with the worker");
	tu_assert_rc(shoal_runtime_info(f.rt, &info, NULL, 0), 0);
	cr_assert_eq(info.workers_died, 1);
	cr_assert_eq(value(&f, submit_add(&f, &one, 1, NULL, 0)), 1,
		     "the pool does not work after the death");
	stop(&f);
}

Test(runtime_tasks, a_thousand_tasks_park_on_one_object_without_a_worker)
{
	enum { N = 1000 };
	struct rt_fixture f = start(1, 0);
	static shoal_id refs[N];
	shoal_id gate = shoal_id_next(f.s), free_task;
	int64_t two = 2, one = 1, total = 0;
	struct shoal_runtime_info info;
	void *data;

	tu_assert_rc(shoal_create(f.s, gate, sizeof two, NULL, 0, 0, &data), 0);
	memcpy(data, &two, sizeof two);
	for (int i = 0; i < N; i++)
		refs[i] = submit_add(&f, &one, 1, &gate, 1);
	/* The only worker is free: the parked tasks hold none. */
	free_task = submit_add(&f, &one, 1, NULL, 0);
	cr_assert_eq(value(&f, free_task), 1, "a parked task held the worker");
	tu_assert_rc(shoal_seal(f.s, gate), 0);
	for (int i = 0; i < N; i++)
		total += value(&f, refs[i]);
	cr_assert_eq(total, 3 * N);
	tu_assert_rc(shoal_runtime_info(f.rt, &info, NULL, 0), 0);
	cr_assert_eq(info.workers_died, 0);
	stop(&f);
}

/*
 * Issue 8 point 8: draining a sealed object's waiter stack counted task
 * nodes against the bound meant for thread records (max_procs x 16): with
 * a blocked thread and more than that many tasks parked after it, the
 * drain stopped at the thread and the tasks parked before it never ran.
 */
Test(runtime_tasks, a_long_stack_of_parked_tasks_and_a_thread_drains_whole)
{
	enum { EARLY = 100, LATE = 1300 };
	struct rt_fixture f = start(1, 4096);
	static shoal_id early[EARLY], late[LATE];
	shoal_id gate = shoal_id_next(f.s);
	int64_t one = 1, two = 2, total = 0;
	void *data;
	pid_t getter;

	tu_assert_rc(shoal_create(f.s, gate, sizeof two, NULL, 0, 0, &data), 0);
	memcpy(data, &two, sizeof two);
	for (int i = 0; i < EARLY; i++)
		early[i] = submit_add(&f, &one, 1, &gate, 1);
	getter = tu_fork();
	if (getter == 0) {
		struct shoal_store *c = NULL;
		struct shoal_view v;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(f.s), &c) == 0, 10);
		TU_CHILD_CHECK(shoal_get(c, gate, 20000, &v) == 0, 11);
		_exit(0);
	}
	cr_assert(tu_wait_sleeping(getter, 5000), "the getter never blocked");
	for (int i = 0; i < LATE; i++)
		late[i] = submit_add(&f, &one, 1, &gate, 1);
	tu_assert_rc(shoal_seal(f.s, gate), 0);
	for (int i = 0; i < LATE; i++)
		total += value(&f, late[i]);
	for (int i = 0; i < EARLY; i++)
		total += value(&f, early[i]);
	cr_assert_eq(total, 3 * (EARLY + LATE));
	cr_assert_eq(tu_wait_exit(getter), 0);
	stop(&f);
}

Test(runtime_tasks, a_store_only_process_that_seals_releases_parked_tasks)
{
	struct rt_fixture f = start(1, 0);
	shoal_id gate = tu_id(77, 1), r;
	int64_t one = 1;
	int fd = shoal_store_fd(f.s);
	int ready[2], go[2];
	pid_t pid;

	tu_pipe(ready);
	tu_pipe(go);
	pid = tu_fork();
	if (pid == 0) {
		/* A plain store user: it creates the gate, waits until the
		 * driver parked a task on it, then seals it.  Its seal is what
		 * must queue the task. */
		struct shoal_store *c;
		int64_t five = 5;
		void *data;
		int rc = shoal_store_attach_fd(fd, &c);

		if (!rc)
			rc = shoal_create(c, gate, sizeof five, NULL, 0, 0, &data);
		if (rc)
			_exit(tu_err_to_exit(rc));
		memcpy(data, &five, sizeof five);
		tu_child_write_byte(ready[1], 'c');
		tu_child_read_byte(go[0]);
		rc = shoal_seal(c, gate);
		tu_child_write_byte(ready[1], 's');
		tu_child_read_byte(go[0]); /* keep the object until the end */
		_exit(tu_err_to_exit(rc));
	}
	cr_assert_eq(tu_read_byte(ready[0], 5000), 'c');
	r = submit_add(&f, &one, 1, &gate, 1);
	tu_write_byte(go[1], 'g');
	cr_assert_eq(tu_read_byte(ready[0], 5000), 's');
	cr_assert_eq(value(&f, r), 6);
	tu_write_byte(go[1], 'q');
	cr_assert_eq(tu_wait_result(pid), 0);
	stop(&f);
}

/* runtime_peer (a separate program) attaches and submits by name. */
Test(runtime_tasks, an_attached_program_submits_by_name)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_runtime_options o;
	struct rt_fixture f = {0};
	struct shoal_view v;
	char out[128] = {0}, *hex;
	int p[2];
	size_t n;
	shoal_id peer_obj;
	pid_t pid;

	tu_assert_rc(shoal_registry_open(&f.reg), 0);
	tu_assert_rc(shoal_register_task(f.reg, "add", task_add, NULL), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.name = name;
	o.store.capacity = 8u << 20;
	tu_assert_rc(shoal_runtime_start(f.reg, &o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	tu_pipe(p);
	pid = tu_fork();
	if (pid == 0) {
		if (dup2(p[1], 1) < 0)
			_exit(TU_EXIT_IO);
		execl(RUNTIME_PEER, RUNTIME_PEER, name, "20", "22", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	cr_assert_eq(tu_wait_exit(pid), 0, "runtime_peer failed");
	n = tu_read_all(p[0], out, sizeof out - 1);
	out[n] = '\0';
	cr_assert_eq(strncmp(out, "42 ", 3), 0, "peer printed: %s", out);
	hex = out + 3;
	hex[SHOAL_ID_HEX_LEN] = '\0';
	tu_assert_rc(shoal_id_parse(hex, &peer_obj), 0);
	/* What the attached program put is in the driver's store. */
	tu_assert_rc(shoal_get(f.s, peer_obj, 0, &v), 0);
	cr_assert_eq(v.size, 4);
	cr_assert_eq(memcmp(v.data, "peer", 4), 0);
	shoal_release(f.s, &v);
	tu_assert_rc(shoal_runtime_detach(f.rt), -EINVAL);
	stop(&f);
}

/* depth d: submits deep(d - 1) and waits for it, so d + 1 tasks block at
 * once on a pool of one worker. */
static int task_deep(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_store *s = shoal_runtime_store(rt);
	struct shoal_args a;
	struct shoal_view v;
	bool ok;
	int64_t d = arg_i64(t, 0, &ok), below = 0, r;
	shoal_id ref;
	int rc;

	(void)user;
	if (d > 0) {
		int64_t next = d - 1;

		shoal_args_init(&a);
		shoal_args_bytes(&a, &next, sizeof next);
		rc = shoal_submit(rt, shoal_function(rt, "deep"), &a, 1, &ref);
		if (!rc)
			rc = shoal_get(s, ref, 20000, &v);
		if (rc)
			return shoal_task_fail(t, rc, "depth %" PRId64 ": %s", d,
					       shoal_strerror(rc));
		memcpy(&below, v.data, sizeof below);
		shoal_release(s, &v);
		shoal_drop(s, ref);
	}
	r = below + 1;
	return shoal_task_return(t, 0, &r, sizeof r);
}

/* Bounded poll of shared state: the extra workers retire. */
static bool pool_back_to(struct shoal_runtime *rt, uint32_t n, int timeout_ms)
{
	int64_t end = tu_now_ms() + timeout_ms;
	struct shoal_runtime_info info;

	while (tu_now_ms() < end) {
		shoal_runtime_info(rt, &info, NULL, 0);
		if (info.workers_alive == n)
			return true;
		sched_yield();
	}
	return false;
}

Test(runtime_tasks, nested_tasks_deeper_than_the_pool_get_extra_workers)
{
	struct shoal_runtime_options o;
	struct rt_fixture f = {0};
	struct shoal_runtime_info info;
	struct shoal_args a;
	int64_t depth = 4;
	shoal_id r;

	tu_assert_rc(shoal_registry_open(&f.reg), 0);
	tu_assert_rc(shoal_register_task(f.reg, "deep", task_deep, NULL), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.max_extra_workers = 4;
	o.store.capacity = 8u << 20;
	tu_assert_rc(shoal_runtime_start(f.reg, &o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	shoal_args_init(&a);
	shoal_args_bytes(&a, &depth, sizeof depth);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "deep"), &a, 1, &r), 0);
	cr_assert_eq(value(&f, r), depth + 1);
	tu_assert_rc(shoal_runtime_info(f.rt, &info, NULL, 0), 0);
	cr_assert_geq(info.workers_started, (uint64_t)depth + 1,
		      "only %" PRIu64 " workers started", info.workers_started);
	cr_assert_eq(info.workers_died, 0, "a retired worker counted as dead");
	cr_assert(pool_back_to(f.rt, 1, 10000), "the extra workers did not retire");
	stop(&f);
}

/* Dies on its first `arg` attempts (it leaves a marker object per attempt,
 * IDs derived from the task's second argument), then returns the attempt
 * number. */
static int task_flaky(struct shoal_task *t, void *user)
{
	struct shoal_store *s = shoal_runtime_store(shoal_task_runtime(t));
	bool ok;
	int64_t deaths = arg_i64(t, 0, &ok), tag = arg_i64(t, 1, &ok), attempt;

	(void)user;
	for (attempt = 0; attempt < deaths; attempt++) {
		shoal_id marker = tu_id(900 + (uint32_t)tag, (uint64_t)attempt + 1);

		if (shoal_contains(s, marker) == 1)
			continue;
		shoal_put_with_id(s, marker, "x", 1, NULL, 0, 1000);
		raise(SIGKILL);
	}
	attempt += 1;
	return shoal_task_return(t, 0, &attempt, sizeof attempt);
}

static shoal_id submit_flaky(struct rt_fixture *f, int64_t deaths, int64_t tag,
			     uint32_t retries)
{
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	struct shoal_args a;
	shoal_id r;

	o.max_retries = retries;
	shoal_args_init(&a);
	shoal_args_bytes(&a, &deaths, sizeof deaths);
	shoal_args_bytes(&a, &tag, sizeof tag);
	tu_assert_rc(shoal_submit_opts(f->rt, fn(f, "flaky"), &a, &o, &r), 0);
	return r;
}

Test(runtime_tasks, a_task_with_retries_runs_again_after_its_worker_dies)
{
	struct rt_fixture f = {0};
	struct shoal_runtime_options o;
	int rc;

	tu_assert_rc(shoal_registry_open(&f.reg), 0);
	tu_assert_rc(shoal_register_task(f.reg, "flaky", task_flaky, NULL), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.store.capacity = 8u << 20;
	tu_assert_rc(shoal_runtime_start(f.reg, &o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	/* Two deaths, two retries: the third attempt returns 3. */
	cr_assert_eq(value(&f, submit_flaky(&f, 2, 1, 2)), 3);
	/* Two deaths, one retry: the worker-died error stands. */
	get_i64(&f, submit_flaky(&f, 2, 2, 1), 10000, &rc);
	tu_assert_rc(rc, SHOAL_EWORKERDIED);
	stop(&f);
}
