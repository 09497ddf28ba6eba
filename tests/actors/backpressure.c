/* SPDX-License-Identifier: MIT */
/*
 * tests/actors/backpressure.c - a full lane (max_pending_calls = 4): the
 * caller blocks until the actor drains it, a try-call queues nothing, and
 * a caller blocked there is released by a kill or goes through a restart.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fixture.h"

static struct fx start_lane4(void)
{
	struct shoal_runtime_options o = small_opts(1);

	o.max_pending_calls = 4;
	return start_opts(&o);
}

/* gate() running and add(1) x 3 queued: the lane of 4 is full. */
static struct gate fill_lane(struct fx *f, struct shoal_actor a, shoal_id q[3])
{
	struct gate g = gate_call(f, a, 1);

	for (int i = 0; i < 3; i++)
		tu_assert_rc(call1(f, a, "add", 1, &q[i]), 0, "queued call %d", i);
	return g;
}

/* Opens the gate and checks that the queued add(1)s ran in order. */
static void drain_lane(struct fx *f, const struct gate *g, const shoal_id q[3])
{
	int64_t v;

	gate_open(f, g);
	tu_assert_rc(get_i64(f, g->ref, &v), 0);
	cr_assert_eq(v, 0);
	shoal_drop(f->s, g->ref);
	for (int i = 0; i < 3; i++) {
		tu_assert_rc(get_i64(f, q[i], &v), 0, "queued call %d", i);
		cr_assert_eq(v, i + 1, "queued call %d saw %" PRId64, i, v);
		shoal_drop(f->s, q[i]);
	}
}

struct blocked {
	struct fx *f;
	struct shoal_actor a;
	int m;
	_Atomic pid_t tid;
	atomic_bool returned;
	int rc;
	shoal_id ref;
};

static void *blocked_call(void *arg)
{
	struct blocked *b = arg;
	struct shoal_args args;
	int64_t one = 1;

	atomic_store(&b->tid, (pid_t)syscall(SYS_gettid));
	shoal_args_init(&args);
	shoal_args_bytes(&args, &one, sizeof one);
	b->rc = shoal_actor_call(b->f->rt, b->a, b->m, &args, &b->ref);
	atomic_store(&b->returned, true);
	return NULL;
}

/* Starts blocked_call in a thread (the lane is full) and waits until it
 * sleeps, waiting for room. */
static pthread_t block_a_caller(struct blocked *b)
{
	int64_t end = tu_now_ms() + 5000;
	pthread_t th;

	cr_assert_eq(pthread_create(&th, NULL, blocked_call, b), 0);
	while (!atomic_load(&b->tid) && tu_now_ms() < end)
		sched_yield();
	cr_assert(tu_wait_sleeping(atomic_load(&b->tid), 5000),
		  "the fifth call did not wait for room");
	cr_assert_not(atomic_load(&b->returned), "the fifth call returned at once");
	return th;
}

Test(actors, a_full_lane_blocks_the_caller_until_the_actor_drains_it)
{
	struct fx f = start_lane4();
	struct shoal_actor a = counter(&f, 0, NULL);
	struct blocked b = {.f = &f, .a = a, .m = method(&f, a, "add")};
	shoal_id q[3];
	struct gate g = fill_lane(&f, a, q);
	pthread_t th = block_a_caller(&b);
	int64_t v, st[3];

	cr_assert_eq(info(&f, a).calls_run, 0, "the gate let the actor go");
	drain_lane(&f, &g, q);
	join(th);
	tu_assert_rc(b.rc, 0);
	tu_assert_rc(get_i64(&f, b.ref, &v), 0);
	cr_assert_eq(v, 4, "the blocked call ran last: %" PRId64, v);
	shoal_drop(f.s, b.ref);
	stats(&f, a, st);
	cr_assert_eq(st[1], 4);
	stop(&f);
}

Test(actors, a_try_call_on_a_full_lane_queues_nothing)
{
	struct fx f = start_lane4();
	struct shoal_actor a = counter(&f, 0, NULL);
	struct shoal_call_options o = SHOAL_CALL_OPTIONS_INIT;
	int m = method(&f, a, "add");
	struct shoal_args args;
	int64_t hundred = 100, t0, st[3];
	shoal_id q[3], ref;
	struct gate g = fill_lane(&f, a, q);

	shoal_args_init(&args);
	shoal_args_bytes(&args, &hundred, sizeof hundred);
	o.timeout_ms = 0;
	tu_assert_rc(shoal_actor_call_opts(f.rt, a, m, &args, &o, &ref), SHOAL_ELANEFULL);
	o.num_returns = 0;
	tu_assert_rc(shoal_actor_call_opts(f.rt, a, m, &args, &o, NULL), SHOAL_ELANEFULL);
	o.num_returns = 1;
	o.timeout_ms = 100;
	t0 = tu_now_ms();
	tu_assert_rc(shoal_actor_call_opts(f.rt, a, m, &args, &o, &ref), SHOAL_ELANEFULL);
	cr_assert_geq(tu_now_ms() - t0, 99, "timed out early");
	drain_lane(&f, &g, q);
	/* Only the three queued add(1)s ran: the refused calls left nothing. */
	stats(&f, a, st);
	cr_assert_eq(st[0], 3, "sum %" PRId64, st[0]);
	cr_assert_eq(st[1], 3, "calls %" PRId64, st[1]);
	o.timeout_ms = 0;
	tu_assert_rc(shoal_actor_call_opts(f.rt, a, m, &args, &o, &ref), 0);
	tu_assert_rc(get_i64(&f, ref, &st[0]), 0);
	cr_assert_eq(st[0], 103);
	shoal_drop(f.s, ref);
	stop(&f);
}

/* A ref that must hold SHOAL_EACTORDIED already (no wait). */
static void failed_now(struct fx *f, shoal_id ref, const char *what)
{
	struct shoal_view v;

	tu_assert_rc(shoal_get(f->s, ref, 0, &v), SHOAL_EACTORDIED, "%s", what);
	shoal_drop(f->s, ref);
}

/* A call waiting for room in a full lane when the actor is killed. */
Test(actors, a_kill_releases_a_caller_blocked_on_a_full_lane)
{
	struct fx f = start_lane4();
	struct shoal_actor a = counter(&f, 0, NULL);
	struct blocked b = {.f = &f, .a = a, .m = method(&f, a, "add")};
	shoal_id q[3];
	struct gate g = fill_lane(&f, a, q);
	pthread_t th = block_a_caller(&b);

	tu_assert_rc(shoal_actor_kill(f.rt, a, true), 0);
	/* The kill returned: every call queued or running has failed. */
	failed_now(&f, g.ref, "running call");
	for (int k = 0; k < 3; k++)
		failed_now(&f, q[k], "queued call");
	join(th);
	if (b.rc == 0) /* it got in before it saw the death: its ref fails */
		failed_now(&f, b.ref, "the blocked call");
	else
		tu_assert_rc(b.rc, SHOAL_EACTORDIED);
	stop(&f);
}

/* With a restart left, the blocked call goes through, after the calls
 * queued before it. */
Test(actors, a_caller_blocked_on_a_full_lane_survives_a_restart)
{
	struct shoal_runtime_options ro = small_opts(1);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct fx f;
	struct shoal_actor a;
	struct blocked b;
	struct gate g;
	shoal_id q[3];
	pthread_t th;
	int64_t v;

	ro.max_pending_calls = 4;
	f = start_opts(&ro);
	o.max_restarts = 1;
	a = counter(&f, 0, &o);
	b = (struct blocked){.f = &f, .a = a, .m = method(&f, a, "add")};
	g = fill_lane(&f, a, q);
	th = block_a_caller(&b);
	cr_assert_eq(kill(info(&f, a).pid, SIGKILL), 0);
	join(th);
	tu_assert_rc(b.rc, 0);
	tu_assert_rc(get_i64(&f, g.ref, &v), SHOAL_EACTORDIED);
	shoal_drop(f.s, g.ref);
	for (int k = 0; k < 3; k++) {
		tu_assert_rc(get_i64(&f, q[k], &v), 0, "queued call %d", k);
		cr_assert_eq(v, k + 1);
		shoal_drop(f.s, q[k]);
	}
	tu_assert_rc(get_i64(&f, b.ref, &v), 0);
	cr_assert_eq(v, 4, "the blocked call ran out of order: %" PRId64, v);
	shoal_drop(f.s, b.ref);
	cr_assert_eq(info(&f, a).restarts, 1);
	stop(&f);
}
