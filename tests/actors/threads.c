/* SPDX-License-Identifier: MIT */
/*
 * tests/actors/threads.c - threaded actors (max_concurrency) and
 * concurrency groups: calls that run at once for real (each waits for
 * the other to arrive, within a bound), order kept with one thread per
 * group, a control group answering while the data group is flooded, and
 * a threaded actor killed with calls running on several threads: each
 * call settled once.
 *
 * Its classes (registered by the fixture through thread_classes()):
 *   Pool()     meet(n) -> arrivals once n calls are inside it at once (or
 *              fewer, after a 5 s bound), gate(started, open) -> 0, add(x)
 *              -> sum, seq(caller, n) -> n, get() -> {sum, out_of_order}:
 *              its state under a mutex of its own, as a threaded actor's
 *              methods must keep it.
 *   Logger()   the same state, its methods in concurrency groups (the
 *              tutorial's logging actor): seq and get in the default
 *              group; gate and log(x) (= add) in "io" (1 thread);
 *              get_logs() -> sum in "control" (1 thread); meet(n) in
 *              "pair" (2 threads).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture.h"

#define MEET_BOUND_S 5

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int64_t arrivals;
	int64_t sum;
	int64_t last_seq[64];
	int64_t out_of_order;
};

static int64_t targ_i64(struct shoal_task *t, uint32_t i)
{
	const void *d;
	size_t n;
	int64_t v = 0;

	if (shoal_task_arg(t, i, &d, &n) == 0 && n == sizeof v)
		memcpy(&v, d, sizeof v);
	return v;
}

static shoal_id targ_id(struct shoal_task *t, uint32_t i)
{
	const void *d;
	size_t n;
	shoal_id id = {0, 0};

	if (shoal_task_arg(t, i, &d, &n) == 0 && n == sizeof id)
		memcpy(&id, d, sizeof id);
	return id;
}

static int ret_i64(struct shoal_task *t, int64_t v)
{
	return shoal_task_return(t, 0, &v, sizeof v);
}

static int pool_init(struct shoal_task *ctx, void **self)
{
	struct pool *p = calloc(1, sizeof *p);
	pthread_condattr_t ca;

	(void)ctx;
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	for (int i = 0; i < 64; i++)
		p->last_seq[i] = -1;
	*self = p;
	return 0;
}

static void pool_fini(void *self)
{
	free(self);
}

/* meet(n): in, then wait (bounded) until n calls are in at once. */
static int pool_meet(struct shoal_task *t, void *self)
{
	struct pool *p = self;
	int64_t n = targ_i64(t, 0), seen;
	struct timespec d;

	clock_gettime(CLOCK_MONOTONIC, &d);
	d.tv_sec += MEET_BOUND_S;
	pthread_mutex_lock(&p->mu);
	p->arrivals++;
	pthread_cond_broadcast(&p->cv);
	while (p->arrivals < n &&
	       pthread_cond_timedwait(&p->cv, &p->mu, &d) != ETIMEDOUT)
		;
	seen = p->arrivals;
	pthread_mutex_unlock(&p->mu);
	return ret_i64(t, seen);
}

/* gate(started, open): puts started, waits for open (as Counter's). */
static int pool_gate(struct shoal_task *t, void *self)
{
	struct shoal_store *s = shoal_runtime_store(shoal_task_runtime(t));
	struct shoal_view v;
	int rc = shoal_put_with_id(s, targ_id(t, 0), "s", 1, NULL, 0, 1000);

	(void)self;
	if (rc && rc != -EEXIST)
		return shoal_task_fail(t, rc, "gate: put: %s", shoal_strerror(rc));
	rc = shoal_get(s, targ_id(t, 1), 30000, &v);
	if (rc)
		return shoal_task_fail(t, rc, "gate: get: %s", shoal_strerror(rc));
	shoal_release(s, &v);
	return ret_i64(t, 0);
}

static int pool_add(struct shoal_task *t, void *self)
{
	struct pool *p = self;
	int64_t sum;

	pthread_mutex_lock(&p->mu);
	sum = p->sum += targ_i64(t, 0);
	pthread_mutex_unlock(&p->mu);
	return ret_i64(t, sum);
}

/* seq(caller, n): n must follow the caller's last one. */
static int pool_seq(struct shoal_task *t, void *self)
{
	struct pool *p = self;
	int64_t c = targ_i64(t, 0) & 63, n = targ_i64(t, 1);

	pthread_mutex_lock(&p->mu);
	if (n != p->last_seq[c] + 1)
		p->out_of_order++;
	p->last_seq[c] = n;
	pthread_mutex_unlock(&p->mu);
	return ret_i64(t, n);
}

static int pool_get(struct shoal_task *t, void *self)
{
	struct pool *p = self;
	int64_t out[2];

	pthread_mutex_lock(&p->mu);
	out[0] = p->sum;
	out[1] = p->out_of_order;
	pthread_mutex_unlock(&p->mu);
	return shoal_task_return(t, 0, out, sizeof out);
}

/* get_logs() -> the sum alone. */
static int pool_sum(struct shoal_task *t, void *self)
{
	struct pool *p = self;
	int64_t sum;

	pthread_mutex_lock(&p->mu);
	sum = p->sum;
	pthread_mutex_unlock(&p->mu);
	return ret_i64(t, sum);
}

static void logger_class(struct shoal_registry *reg)
{
	tu_assert_rc(shoal_register_actor(reg, "Logger", pool_init, pool_fini), 0);
	tu_assert_rc(shoal_register_group(reg, "Logger", "io", 1), 0);
	tu_assert_rc(shoal_register_group(reg, "Logger", "control", 1), 0);
	tu_assert_rc(shoal_register_group(reg, "Logger", "pair", 2), 0);
	tu_assert_rc(shoal_register_method(reg, "Logger", "seq", pool_seq), 0);
	tu_assert_rc(shoal_register_method_in_group(reg, "Logger", "get",
						    SHOAL_DEFAULT_GROUP, pool_get), 0);
	tu_assert_rc(shoal_register_method_in_group(reg, "Logger", "gate", "io",
						    pool_gate), 0);
	tu_assert_rc(shoal_register_method_in_group(reg, "Logger", "log", "io",
						    pool_add), 0);
	tu_assert_rc(shoal_register_method_in_group(reg, "Logger", "get_logs",
						    "control", pool_sum), 0);
	tu_assert_rc(shoal_register_method_in_group(reg, "Logger", "meet", "pair",
						    pool_meet), 0);
}

/* The task meet_from_task(actor, n): calls meet(n) on it, returns the
 * result. */
static int task_meet(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_store *s = shoal_runtime_store(rt);
	struct shoal_actor a;
	struct shoal_args args;
	struct shoal_view v;
	shoal_id r;
	int64_t n = targ_i64(t, 1), x;
	int rc;

	(void)user;
	if (shoal_task_arg_actor(t, 0, &a))
		return shoal_task_fail(t, -EINVAL, "no actor");
	shoal_args_init(&args);
	shoal_args_bytes(&args, &n, sizeof n);
	rc = shoal_actor_call(rt, a, shoal_actor_method(rt, a, "meet"), &args, &r);
	if (rc)
		return rc;
	rc = shoal_get(s, r, 30000, &v);
	if (rc)
		return rc;
	memcpy(&x, v.data, sizeof x);
	shoal_release(s, &v);
	shoal_drop(s, r);
	return ret_i64(t, x);
}

void thread_classes(struct shoal_registry *reg)
{
	tu_assert_rc(shoal_register_task(reg, "meet_from_task", task_meet, NULL), 0);
	tu_assert_rc(shoal_register_actor(reg, "Pool", pool_init, pool_fini), 0);
	tu_assert_rc(shoal_register_method(reg, "Pool", "meet", pool_meet), 0);
	tu_assert_rc(shoal_register_method(reg, "Pool", "gate", pool_gate), 0);
	tu_assert_rc(shoal_register_method(reg, "Pool", "add", pool_add), 0);
	tu_assert_rc(shoal_register_method(reg, "Pool", "seq", pool_seq), 0);
	tu_assert_rc(shoal_register_method(reg, "Pool", "get", pool_get), 0);
	logger_class(reg);
}

/* ------------------------------------------------------------------ */

static struct shoal_actor pool(struct fx *f, uint32_t threads,
			       const struct shoal_actor_options *base)
{
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor a;

	if (base)
		o = *base;
	o.max_concurrency = threads;
	tu_assert_rc(shoal_actor_create(f->rt, "Pool", NULL, &o, &a), 0);
	return a;
}

static void call_n(struct fx *f, struct shoal_actor a, const char *m,
		   int64_t x, shoal_id *refs, int n)
{
	for (int k = 0; k < n; k++)
		tu_assert_rc(call1(f, a, m, x, &refs[k]), 0, "call %d", k);
}

static void expect_all(struct fx *f, shoal_id *refs, int n, int64_t want)
{
	int64_t x;

	for (int k = 0; k < n; k++) {
		tu_assert_rc(get_i64(f, refs[k], &x), 0, "call %d", k);
		cr_assert_eq(x, want, "call %d: %" PRId64 ", not %" PRId64, k, x, want);
		shoal_drop(f->s, refs[k]);
	}
}

/* Four calls from one caller that each wait, bounded, until all four are
 * inside the method: they return 4 only if they ran at once. */
Test(actors, a_threaded_actor_runs_one_callers_calls_at_once)
{
	struct fx f = start(1);
	struct shoal_actor a = pool(&f, 4, NULL);
	shoal_id r[4];

	call_n(&f, a, "meet", 4, r, 4);
	expect_all(&f, r, 4, 4);
	stop(&f);
}

/* The same from two callers (the driver and a thread of it share one
 * lane; a task in a worker has a lane of its own). */
Test(actors, a_threaded_actor_runs_two_callers_calls_at_once)
{
	struct fx f = start(1);
	struct shoal_actor a = pool(&f, 2, NULL);
	struct shoal_args args;
	shoal_id mine, theirs;
	int64_t x;

	tu_assert_rc(call1(&f, a, "meet", 2, &mine), 0);
	shoal_args_init(&args);
	shoal_args_actor(&args, &a);
	shoal_args_bytes(&args, &(int64_t){2}, sizeof(int64_t));
	tu_assert_rc(shoal_submit(f.rt, shoal_function(f.rt, "meet_from_task"), &args, 1,
				  &theirs), 0);
	expect_all(&f, &mine, 1, 2);
	tu_assert_rc(get_i64(&f, theirs, &x), 0);
	cr_assert_eq(x, 2, "the task's call did not meet the driver's: %" PRId64, x);
	shoal_drop(f.s, theirs);
	stop(&f);
}

/* max_concurrency 1 (and 0, the default) is today's actor: the second of
 * two meet(2) calls starts only after the first gave up waiting. */
Test(actors, one_thread_runs_calls_one_at_a_time)
{
	struct fx f = start(1);
	struct shoal_actor a = pool(&f, 1, NULL);
	shoal_id r[2];
	int64_t x;

	call_n(&f, a, "meet", 2, r, 2);
	tu_assert_rc(get_i64(&f, r[0], &x), 0);
	cr_assert_eq(x, 1, "the first call met another: %" PRId64, x);
	tu_assert_rc(get_i64(&f, r[1], &x), 0);
	cr_assert_eq(x, 2);
	shoal_drop(f.s, r[0]);
	shoal_drop(f.s, r[1]);
	stop(&f);
}

/* Bad options: above SHOAL_MAX_CONCURRENCY, or the rest of the word. */
Test(actors, max_concurrency_out_of_range_is_refused)
{
	struct fx f = start(1);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor a;

	o.max_concurrency = SHOAL_MAX_CONCURRENCY + 1;
	tu_assert_rc(shoal_actor_create(f.rt, "Pool", NULL, &o, &a), -EINVAL);
	o.max_concurrency = 2;
	o.resv0 = 1;
	tu_assert_rc(shoal_actor_create(f.rt, "Pool", NULL, &o, &a), -EINVAL);
	o.resv0 = 0;
	o.max_concurrency = SHOAL_MAX_CONCURRENCY;
	tu_assert_rc(shoal_actor_create(f.rt, "Pool", NULL, &o, &a), 0);
	stop(&f);
}

/* Waits (bounded) until a's one lane holds q calls of which n are
 * running: a call whose result is sealed is counted, marked done and
 * leaves its thread just after (actorrun.c); a kill in between runs it
 * again (at least once), and its count may lag its result. */
static void wait_lane(struct fx *f, struct shoal_actor a, uint32_t n, uint32_t q)
{
	struct shoal_lane_info row;
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		tu_assert_rc(shoal_actor_lanes(f->rt, a, &row, 1), 1);
		if (row.running == n && row.queued == q)
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		cr_assert_lt(now.tv_sec - t0.tv_sec, 10, "running %u, not %u",
			     row.running, n);
		sched_yield();
	}
}

/*
 * Killed with calls running on two threads and one done behind them (a
 * lane is consumed in order: the done one waits in the lane for the two
 * before it).  After the restart: the two running ones fail (no retries)
 * or run again (a retry each), the done one is not run again (the sum
 * shows it: the restart's state starts at 0), and calls_run counts each
 * call once.
 */
static void killed_with_calls_on_threads(uint32_t retries)
{
	struct fx f = start(1);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor a;
	struct gate g[2];
	struct shoal_args args;
	struct shoal_actor_info i;
	struct shoal_view v;
	shoal_id done, after;
	int64_t x;

	o.max_restarts = 1;
	o.max_task_retries = retries;
	a = pool(&f, 4, &o);
	for (uint32_t k = 0; k < 2; k++) {
		g[k] = (struct gate){.started = tu_id(40 + k, 0), .open = tu_id(40 + k, 1)};
		shoal_args_init(&args);
		shoal_args_bytes(&args, &g[k].started, sizeof g[k].started);
		shoal_args_bytes(&args, &g[k].open, sizeof g[k].open);
		tu_assert_rc(shoal_actor_call(f.rt, a, method(&f, a, "gate"), &args,
					      &g[k].ref), 0);
	}
	for (uint32_t k = 0; k < 2; k++) {
		tu_assert_rc(shoal_get(f.s, g[k].started, 10000, &v), 0, "gate %u", k);
		shoal_release(f.s, &v);
	}
	tu_assert_rc(call1(&f, a, "add", 5, &done), 0);
	tu_assert_rc(get_i64(&f, done, &x), 0);
	cr_assert_eq(x, 5);
	wait_lane(&f, a, 2, 3);
	i = info(&f, a);
	cr_assert_eq(i.calls_run, 1);
	cr_assert_eq(kill(i.pid, SIGKILL), 0);
	for (uint32_t k = 0; k < 2; k++) {
		if (retries) /* it runs again: let it through */
			gate_open(&f, &g[k]);
		tu_assert_rc(shoal_get(f.s, g[k].ref, 10000, &v),
			     retries ? 0 : SHOAL_EACTORDIED, "gate %u", k);
		if (retries)
			shoal_release(f.s, &v);
		shoal_drop(f.s, g[k].ref);
	}
	tu_assert_rc(call1(&f, a, "add", 1, &after), 0);
	tu_assert_rc(get_i64(&f, after, &x), 0);
	cr_assert_eq(x, 1, "the done add(5) ran again after the restart: %" PRId64, x);
	tu_assert_rc(get_i64(&f, done, &x), 0);
	cr_assert_eq(x, 5);
	wait_lane(&f, a, 0, 0);
	i = info(&f, a);
	cr_assert_eq(i.restarts, 1);
	cr_assert_eq(i.calls_run, retries ? 4 : 2, "calls_run %" PRIu64, i.calls_run);
	cr_assert_eq(i.calls_failed, retries ? 0 : 2);
	shoal_drop(f.s, done);
	shoal_drop(f.s, after);
	stop(&f);
}

Test(actors, a_killed_threaded_actor_fails_its_running_calls_once)
{
	killed_with_calls_on_threads(0);
}

Test(actors, a_killed_threaded_actor_retries_its_running_calls_once)
{
	killed_with_calls_on_threads(1);
}

/* A 1-thread actor restarted after a kill serves two callers, each in
 * its order. */
struct seq_arg {
	struct fx *f;
	struct shoal_actor a;
	int64_t caller;
	int64_t wrong;
	int rc;
};

static void *seq_thread(void *arg)
{
	struct seq_arg *s = arg;
	int m = shoal_actor_method(s->f->rt, s->a, "seq");

	for (int64_t from = 0; from < 512 && !s->rc; from += SEQ_BATCH)
		s->rc = seq_batch(s->f->rt, s->a, m, s->caller, from, SEQ_BATCH,
				  &s->wrong);
	return NULL;
}

static void two_seq_callers(struct fx *f, struct shoal_actor a)
{
	struct seq_arg s[2] = {{.f = f, .a = a, .caller = 1},
			       {.f = f, .a = a, .caller = 2}};
	struct shoal_view v;
	int64_t st[2];
	pthread_t t;
	shoal_id r;

	cr_assert_eq(pthread_create(&t, NULL, seq_thread, &s[0]), 0);
	seq_thread(&s[1]);
	join(t);
	for (int k = 0; k < 2; k++) {
		tu_assert_rc(s[k].rc, 0, "caller %d", k);
		cr_assert_eq(s[k].wrong, 0, "caller %d: %" PRId64 " wrong", k,
			     s[k].wrong);
	}
	tu_assert_rc(call1(f, a, "get", 0, &r), 0);
	tu_assert_rc(shoal_get(f->s, r, 10000, &v), 0);
	memcpy(st, v.data, sizeof st);
	cr_assert_eq(st[1], 0, "out of order: %" PRId64, st[1]);
	shoal_release(f->s, &v);
	shoal_drop(f->s, r);
}

Test(actors, a_restarted_actor_keeps_each_callers_order)
{
	struct fx f = start(1);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor a;
	struct gate g;
	struct shoal_view v;

	o.max_restarts = 1;
	a = pool(&f, 1, &o);
	g = gate_call(&f, a, 50);
	cr_assert_eq(kill(info(&f, a).pid, SIGKILL), 0);
	tu_assert_rc(shoal_get(f.s, g.ref, 10000, &v), SHOAL_EACTORDIED);
	shoal_drop(f.s, g.ref);
	two_seq_callers(&f, a);
	stop(&f);
}

/* ------------------------------------------------------------------ */
/* Concurrency groups                                                  */

static struct shoal_actor logger(struct fx *f)
{
	struct shoal_actor a;

	tu_assert_rc(shoal_actor_create(f->rt, "Logger", NULL, NULL, &a), 0);
	return a;
}

#define FLOOD 10000

/*
 * The tutorial's control method: get_logs (group "control") answers at
 * once while the "io" group's one thread is held in a gate with FLOOD
 * log calls queued behind it in the same caller's io lane; then the gate
 * opens and every log runs, in order.  Without groups get_logs would
 * wait behind the gate (its lane's head).
 */
Test(actors, a_control_group_answers_while_the_data_group_is_flooded)
{
	struct shoal_runtime_options ro = small_opts(1);
	struct fx f;
	struct shoal_actor a;
	struct shoal_actor_stat st;
	struct shoal_args args;
	struct shoal_view v;
	struct gate g;
	shoal_id r;
	int64_t x;
	int log;

	ro.max_pending_calls = 16384;
	ro.max_lanes = 8;
	ro.max_actors = 4;
	f = start_opts(&ro);
	a = logger(&f);
	log = method(&f, a, "log");
	g = gate_call(&f, a, 60);
	for (int64_t k = 0; k < FLOOD; k++) {
		shoal_args_init(&args);
		shoal_args_bytes(&args, &(int64_t){1}, sizeof(int64_t));
		tu_assert_rc(shoal_actor_send(f.rt, a, log, &args), 0, "log %" PRId64, k);
	}
	tu_assert_rc(call1(&f, a, "get_logs", 0, &r), 0);
	tu_assert_rc(shoal_get(f.s, r, 5000, &v), 0, "get_logs waited behind the flood");
	memcpy(&x, v.data, sizeof x);
	shoal_release(f.s, &v);
	shoal_drop(f.s, r);
	cr_assert_eq(x, 0, "a log ran past the gate: %" PRId64, x);
	tu_assert_rc(shoal_actor_stat(f.rt, a, &st), 0);
	cr_assert_geq(st.calls_queued, FLOOD, "the flood ran already: %" PRIu64,
		      st.calls_queued);
	gate_open(&f, &g);
	tu_assert_rc(shoal_get(f.s, g.ref, 10000, &v), 0);
	shoal_release(f.s, &v);
	shoal_drop(f.s, g.ref);
	/* One io thread, one caller: the last log sees every one before. */
	tu_assert_rc(call1(&f, a, "log", 1, &r), 0);
	tu_assert_rc(shoal_get(f.s, r, 30000, &v), 0);
	memcpy(&x, v.data, sizeof x);
	shoal_release(f.s, &v);
	shoal_drop(f.s, r);
	cr_assert_eq(x, FLOOD + 1, "the last log saw %" PRId64, x);
	stop(&f);
}

/* One thread per group: each caller's calls to the default group keep
 * their order while other groups' threads run beside it. */
Test(actors, a_grouped_actor_keeps_each_callers_order)
{
	struct fx f = start(1);
	struct shoal_actor a = logger(&f);
	struct gate g = gate_call(&f, a, 61); /* io busy meanwhile */
	struct shoal_view v;

	two_seq_callers(&f, a);
	gate_open(&f, &g);
	tu_assert_rc(shoal_get(f.s, g.ref, 10000, &v), 0);
	shoal_release(f.s, &v);
	shoal_drop(f.s, g.ref);
	stop(&f);
}

/* A group of two threads runs two calls at once. */
Test(actors, a_group_of_two_threads_runs_two_calls_at_once)
{
	struct fx f = start(1);
	struct shoal_actor a = logger(&f);
	shoal_id r[2];

	call_n(&f, a, "meet", 2, r, 2);
	expect_all(&f, r, 2, 2);
	stop(&f);
}

/* max_concurrency and the class's groups share SHOAL_MAX_CONCURRENCY
 * threads (Logger's groups take 4). */
Test(actors, groups_and_max_concurrency_share_the_thread_limit)
{
	struct fx f = start(1);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor a;

	o.max_concurrency = SHOAL_MAX_CONCURRENCY - 3;
	tu_assert_rc(shoal_actor_create(f.rt, "Logger", NULL, &o, &a), -EINVAL);
	o.max_concurrency = SHOAL_MAX_CONCURRENCY - 4;
	tu_assert_rc(shoal_actor_create(f.rt, "Logger", NULL, &o, &a), 0);
	/* After start the registry is frozen. */
	tu_assert_rc(shoal_register_group(f.reg, "Pool", "late", 1), -EBUSY);
	tu_assert_rc(shoal_register_method_in_group(f.reg, "Logger", "late", "io",
						    pool_add), -EBUSY);
	stop(&f);
}

static int noop(struct shoal_task *t, void *self)
{
	(void)t;
	(void)self;
	return 0;
}

static int noop_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

/* Every error of the two registration calls. */
Test(actors, group_registration_refuses_what_it_cannot_do)
{
	struct shoal_registry *reg;
	char name[16];

	tu_assert_rc(shoal_registry_open(&reg), 0);
	tu_assert_rc(shoal_register_group(reg, "K", "g", 1), SHOAL_ENOCLASS);
	tu_assert_rc(shoal_register_actor(reg, "K", noop_init, NULL), 0);
	tu_assert_rc(shoal_register_group(NULL, "K", "g", 1), -EINVAL);
	tu_assert_rc(shoal_register_group(reg, "K", "", 1), -EINVAL);
	tu_assert_rc(shoal_register_group(reg, "K", NULL, 1), -EINVAL);
	tu_assert_rc(shoal_register_group(reg, "K", "g", 0), -EINVAL);
	tu_assert_rc(shoal_register_group(reg, "K", "g", SHOAL_MAX_CONCURRENCY), -EINVAL);
	tu_assert_rc(shoal_register_group(reg, "K", SHOAL_DEFAULT_GROUP, 1), -EEXIST);
	tu_assert_rc(shoal_register_group(reg, "K", "big", SHOAL_MAX_CONCURRENCY - 2), 0);
	tu_assert_rc(shoal_register_group(reg, "K", "g", 2), -ENOSPC);
	tu_assert_rc(shoal_register_group(reg, "K", "g", 1), 0);
	tu_assert_rc(shoal_register_group(reg, "K", "g", 1), -EEXIST);
	tu_assert_rc(shoal_register_method_in_group(reg, "K", "m", "nope", noop), -ENOENT);
	tu_assert_rc(shoal_register_method_in_group(reg, "K", "m", "", noop), -EINVAL);
	tu_assert_rc(shoal_register_method_in_group(reg, "K", "m", "g", NULL), -EINVAL);
	tu_assert_rc(shoal_register_method_in_group(reg, "X", "m", "g", noop), SHOAL_ENOCLASS);
	tu_assert_rc(shoal_register_method_in_group(reg, "K", "m", "g", noop), 0);
	tu_assert_rc(shoal_register_method_in_group(reg, "K", "m", NULL, noop), -EEXIST);
	shoal_registry_close(reg);
	/* SHOAL_MAX_GROUPS, the default one included. */
	tu_assert_rc(shoal_registry_open(&reg), 0);
	tu_assert_rc(shoal_register_actor(reg, "K", noop_init, NULL), 0);
	for (int g = 1; g < SHOAL_MAX_GROUPS; g++) {
		snprintf(name, sizeof name, "g%d", g);
		tu_assert_rc(shoal_register_group(reg, "K", name, 1), 0);
	}
	tu_assert_rc(shoal_register_group(reg, "K", "one_more", 1), -ENOSPC);
	shoal_registry_close(reg);
}
