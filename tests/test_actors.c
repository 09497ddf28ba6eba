/* SPDX-License-Identifier: MIT */
/*
 * tests/test_actors.c - actors and actor handles: classes, calls and their
 * order, errors, named actors, handles through tasks and other actors,
 * backpressure, kill, crashes and restarts.  Every test starts a real
 * runtime: the actors are processes of their own, the calls go through
 * lanes in the segment.  Callers are driver threads, tasks in workers,
 * other actors, and attached programs (runtime_peer).  A call is known to
 * run through gate(), which says so with an object and waits for another:
 * no test sleeps in place of an event.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
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

/* A Diary: a Counter whose destructor writes its sum to a file named by
 * its constructor argument (to see that the destructor ran, and when). */
struct diary {
	int64_t sum;
	char path[200];
};

static int diary_init(struct shoal_task *ctx, void **self)
{
	struct diary *d = calloc(1, sizeof *d);
	const void *p;
	size_t n;

	if (!d)
		return -ENOMEM;
	if (shoal_task_arg(ctx, 0, &p, &n) || n == 0 || n >= sizeof d->path) {
		free(d);
		return shoal_task_fail(ctx, -EINVAL, "Diary(path)");
	}
	memcpy(d->path, p, n);
	*self = d;
	return 0;
}

static void diary_fini(void *self)
{
	struct diary *d = self;
	FILE *f = fopen(d->path, "w");

	if (f) {
		fprintf(f, "fini %" PRId64 "\n", d->sum);
		fclose(f);
	}
	free(d);
}

static int diary_add(struct shoal_task *t, void *self)
{
	struct diary *d = self;

	d->sum += arg_i64(t, 0);
	return shoal_task_return(t, 0, &d->sum, sizeof d->sum);
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

static shoal_id arg_id(struct shoal_task *t, uint32_t i)
{
	const void *d;
	size_t n;
	shoal_id id = SHOAL_ID_NIL;

	if (shoal_task_arg(t, i, &d, &n) == 0 && n == sizeof id)
		memcpy(&id, d, sizeof id);
	return id;
}

/* gate(started, gate) -> sum: puts `started` (so that the driver knows the
 * call runs), then waits until the driver puts `gate`.  A retry finds
 * `started` there already. */
static int counter_gate(struct shoal_task *t, void *self)
{
	struct counter *c = self;
	struct shoal_store *s = shoal_runtime_store(shoal_task_runtime(t));
	struct shoal_view v;
	int rc = shoal_put_with_id(s, arg_id(t, 0), "s", 1, NULL, 0, 1000);

	if (rc && rc != -EEXIST)
		return shoal_task_fail(t, rc, "gate: put: %s", shoal_strerror(rc));
	rc = shoal_get(s, arg_id(t, 1), 30000, &v);
	if (rc)
		return shoal_task_fail(t, rc, "gate: get: %s", shoal_strerror(rc));
	shoal_release(s, &v);
	return shoal_task_return(t, 0, &c->sum, sizeof c->sum);
}

/* measure(x) -> size and checksum of its argument (bytes or a ref). */
static int counter_measure(struct shoal_task *t, void *self)
{
	const void *d;
	size_t n;
	uint64_t out[2];

	(void)self;
	if (shoal_task_arg(t, 0, &d, &n))
		return shoal_task_fail(t, -EINVAL, "no argument");
	out[0] = n;
	out[1] = tu_sum(d, n);
	return shoal_task_return(t, 0, out, sizeof out);
}

/* triple(x) -> x, 2x, 3x as three returns */
static int counter_triple(struct shoal_task *t, void *self)
{
	int64_t x = arg_i64(t, 0);
	int rc = 0;

	(void)self;
	for (uint32_t i = 0; i < shoal_task_num_returns(t) && !rc; i++) {
		int64_t v = x * (i + 1);

		rc = shoal_task_return(t, i, &v, sizeof v);
	}
	return rc;
}

/* A Relay actor: relay(counter, x) calls add(x) on the Counter it is
 * handed and returns what add returned. */
static int relay_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

static int relay_relay(struct shoal_task *t, void *self)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_store *s = shoal_runtime_store(rt);
	struct shoal_actor a;
	struct shoal_args args;
	struct shoal_view v;
	int64_t x = arg_i64(t, 1), sum;
	shoal_id ref;
	int rc = shoal_task_arg_actor(t, 0, &a);

	(void)self;
	if (rc)
		return shoal_task_fail(t, rc, "relay: not a handle");
	shoal_args_init(&args);
	shoal_args_bytes(&args, &x, sizeof x);
	rc = shoal_actor_call(rt, a, shoal_actor_method(rt, a, "add"), &args, &ref);
	if (rc)
		return shoal_task_fail(t, rc, "relay: call: %s", shoal_strerror(rc));
	rc = shoal_get(s, ref, 10000, &v);
	if (rc) {
		shoal_drop(s, ref);
		return shoal_task_fail(t, rc, "relay: get: %s", shoal_strerror(rc));
	}
	memcpy(&sum, v.data, sizeof sum);
	shoal_release(s, &v);
	shoal_drop(s, ref);
	return shoal_task_return(t, 0, &sum, sizeof sum);
}

/* A class whose constructor always fails. */
static int broken_init(struct shoal_task *ctx, void **self)
{
	(void)self;
	return shoal_task_fail(ctx, SHOAL_ETASK, "broken on purpose");
}

static int broken_noop(struct shoal_task *t, void *self)
{
	(void)t;
	(void)self;
	return 0;
}

/* Sum of its int64 arguments (a task that depends on calls' results). */
static int task_add(struct shoal_task *t, void *user)
{
	int64_t sum = 0;

	(void)user;
	for (uint32_t i = 0; i < shoal_task_num_args(t); i++)
		sum += arg_i64(t, i);
	return shoal_task_return(t, 0, &sum, sizeof sum);
}

/* Calls seq(caller, i) for i < n on the actor it was handed, in batches
 * (several calls in flight), and returns how many results were wrong. */
#define SEQ_BATCH 32

static int seq_batch(struct shoal_runtime *rt, struct shoal_actor a, int m,
		     int64_t caller, int64_t from, int64_t n, int64_t *wrong)
{
	struct shoal_store *s = shoal_runtime_store(rt);
	shoal_id refs[SEQ_BATCH];
	int rc = 0;

	for (int64_t i = 0; i < n; i++) {
		struct shoal_args args;
		int64_t seq = from + i;

		shoal_args_init(&args);
		shoal_args_bytes(&args, &caller, sizeof caller);
		shoal_args_bytes(&args, &seq, sizeof seq);
		rc = shoal_actor_call(rt, a, m, &args, &refs[i]);
		if (rc) {
			n = i;
			break;
		}
	}
	for (int64_t i = 0; i < n; i++) {
		struct shoal_view v;
		int64_t got = -1;
		int r = shoal_get(s, refs[i], 10000, &v);

		if (!r) {
			memcpy(&got, v.data, sizeof got);
			shoal_release(s, &v);
		}
		*wrong += got != from + i;
		shoal_drop(s, refs[i]);
	}
	return rc;
}

static int task_seq_caller(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_actor a;
	int64_t caller = arg_i64(t, 1), n = arg_i64(t, 2), wrong = 0;
	int rc = shoal_task_arg_actor(t, 0, &a);
	int m;

	(void)user;
	if (rc)
		return rc;
	m = shoal_actor_method(rt, a, "seq");
	for (int64_t i = 0; i < n && !rc; i += SEQ_BATCH)
		rc = seq_batch(rt, a, m, caller, i, n - i < SEQ_BATCH ? n - i : SEQ_BATCH,
			       &wrong);
	if (rc)
		return shoal_task_fail(t, rc, "seq caller %" PRId64 ": %s", caller,
				       shoal_strerror(rc));
	return shoal_task_return(t, 0, &wrong, sizeof wrong);
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
	tu_assert_rc(shoal_register_method(f.reg, "Counter", "gate", counter_gate), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Counter", "measure", counter_measure), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Counter", "triple", counter_triple), 0);
	tu_assert_rc(shoal_register_actor(f.reg, "Relay", relay_init, NULL), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Relay", "relay", relay_relay), 0);
	tu_assert_rc(shoal_register_actor(f.reg, "Broken", broken_init, NULL), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Broken", "noop", broken_noop), 0);
	tu_assert_rc(shoal_register_task(f.reg, "use_actor", task_use_actor, NULL), 0);
	tu_assert_rc(shoal_register_actor(f.reg, "Diary", diary_init, diary_fini), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Diary", "add", diary_add), 0);
	tu_assert_rc(shoal_register_task(f.reg, "add", task_add, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "seq_caller", task_seq_caller, NULL), 0);
	tu_assert_rc(shoal_runtime_start(f.reg, o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	return f;
}

static struct shoal_runtime_options small_opts(uint32_t workers)
{
	struct shoal_runtime_options o;

	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.max_tasks = 4096;
	o.store.capacity = 32u << 20;
	o.store.max_objects = 16384;
	return o;
}

static struct fx start(uint32_t workers)
{
	struct shoal_runtime_options o = small_opts(workers);

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

/* The Counter's get(): sum, calls, out_of_order. */
static void stats(struct fx *f, struct shoal_actor a, int64_t out[3])
{
	struct shoal_view v;
	shoal_id ref;

	tu_assert_rc(shoal_actor_call(f->rt, a, method(f, a, "get"), NULL, &ref), 0);
	tu_assert_rc(shoal_get(f->s, ref, 10000, &v), 0);
	cr_assert_eq(v.size, 3 * sizeof(int64_t));
	memcpy(out, v.data, 3 * sizeof(int64_t));
	shoal_release(f->s, &v);
	shoal_drop(f->s, ref);
}

static struct shoal_actor_info info(struct fx *f, struct shoal_actor a)
{
	struct shoal_actor_info i;

	tu_assert_rc(shoal_actor_info(f->rt, a, &i), 0);
	return i;
}

/* A gate() call known to be running: the actor put `started` and waits
 * for `open` (tu_id(tag, ...): distinct tags for distinct gates). */
struct gate {
	shoal_id started, open, ref;
};

static struct gate gate_call(struct fx *f, struct shoal_actor a, uint32_t tag)
{
	struct gate g = {.started = tu_id(tag, 0), .open = tu_id(tag, 1)};
	struct shoal_args args;
	struct shoal_view v;

	shoal_args_init(&args);
	shoal_args_bytes(&args, &g.started, sizeof g.started);
	shoal_args_bytes(&args, &g.open, sizeof g.open);
	tu_assert_rc(shoal_actor_call(f->rt, a, method(f, a, "gate"), &args, &g.ref), 0);
	tu_assert_rc(shoal_get(f->s, g.started, 10000, &v), 0, "gate() never ran");
	shoal_release(f->s, &v);
	return g;
}

static void gate_open(struct fx *f, const struct gate *g)
{
	tu_assert_rc(shoal_put_with_id(f->s, g->open, "o", 1, NULL, 0, 1000), 0);
}

/* Waits (pidfd, bounded) until a process that is not our child ended. */
static bool pid_gone(pid_t pid, int timeout_ms)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;

	if (fd < 0)
		return errno == ESRCH;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	close(fd);
	return r == 1;
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

/* ------------------------------------------------------------------ */
/* Many callers at once                                                */

#define HAMMER_CALLS 2048 /* per caller, a multiple of SEQ_BATCH */
#define MAX_THREADS 8

/* Joins a thread that must end on its own (fails the test on a hang). */
static void join(pthread_t t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += TU_CHILD_DEADLINE_MS / 1000 + 2;
	cr_assert_eq(pthread_timedjoin_np(t, NULL, &ts), 0, "a driver thread hangs");
}

/* A driver thread calling seq(caller, i); no assertions in threads. */
struct hammer {
	struct fx *f;
	struct shoal_actor a;
	int m;
	int64_t caller, calls;
	pthread_barrier_t *go;
	int rc;
	int64_t wrong;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;

	pthread_barrier_wait(h->go);
	for (int64_t i = 0; i < h->calls && !h->rc; i += SEQ_BATCH)
		h->rc = seq_batch(h->f->rt, h->a, h->m, h->caller, i, SEQ_BATCH,
				  &h->wrong);
	return NULL;
}

/* Each caller's calls ran in its order, none lost, none repeated. */
static void check_hammered(struct fx *f, struct shoal_actor a, int64_t total)
{
	int64_t st[3];

	stats(f, a, st);
	cr_assert_eq(st[1], total, "calls: %" PRId64 ", want %" PRId64, st[1], total);
	cr_assert_eq(st[2], 0, "%" PRId64 " calls out of their caller's order", st[2]);
}

static void hammer_threads_opts(struct shoal_runtime_options *o, int n,
				int64_t calls)
{
	struct fx f = start_opts(o);
	struct shoal_actor a = counter(&f, 0, NULL);
	struct hammer h[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	pthread_barrier_t go;

	pthread_barrier_init(&go, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		h[i] = (struct hammer){.f = &f, .a = a, .m = method(&f, a, "seq"),
				       .caller = i, .calls = calls, .go = &go};
		cr_assert_eq(pthread_create(&th[i], NULL, hammer_thread, &h[i]), 0);
	}
	for (int i = 0; i < n; i++)
		join(th[i]);
	for (int i = 0; i < n; i++) {
		tu_assert_rc(h[i].rc, 0, "thread %d", i);
		cr_assert_eq(h[i].wrong, 0, "thread %d: %" PRId64 " wrong results", i,
			     h[i].wrong);
	}
	check_hammered(&f, a, n * calls);
	pthread_barrier_destroy(&go);
	stop(&f);
}

static void hammer_threads(int n)
{
	struct shoal_runtime_options o = small_opts(1);

	hammer_threads_opts(&o, n, HAMMER_CALLS);
}

/* n tasks on `workers` worker processes, each a caller of its own. */
static void hammer_tasks(int n, uint32_t workers)
{
	struct fx f = start(workers);
	struct shoal_actor a = counter(&f, 0, NULL);
	shoal_id refs[MAX_THREADS];
	int64_t calls = HAMMER_CALLS, wrong;

	for (int64_t i = 0; i < n; i++) {
		struct shoal_args args;
		int64_t caller = 16 + i;

		shoal_args_init(&args);
		shoal_args_actor(&args, &a);
		shoal_args_bytes(&args, &caller, sizeof caller);
		shoal_args_bytes(&args, &calls, sizeof calls);
		tu_assert_rc(shoal_submit(f.rt, shoal_function(f.rt, "seq_caller"), &args,
					  1, &refs[i]), 0);
	}
	for (int i = 0; i < n; i++) {
		tu_assert_rc(get_i64(&f, refs[i], &wrong), 0, "task %d", i);
		cr_assert_eq(wrong, 0, "task %d: %" PRId64 " wrong results", i, wrong);
		shoal_drop(f.s, refs[i]);
	}
	check_hammered(&f, a, n * HAMMER_CALLS);
	stop(&f);
}

Test(actors, two_driver_threads_call_at_once_each_in_its_order)
{
	hammer_threads(2);
}

Test(actors, eight_driver_threads_call_at_once_each_in_its_order)
{
	hammer_threads(MAX_THREADS);
}

Test(actors, two_worker_processes_call_at_once_each_in_its_order)
{
	hammer_tasks(2, 2);
}

Test(actors, eight_tasks_on_three_workers_call_at_once_each_in_its_order)
{
	hammer_tasks(MAX_THREADS, 3);
}

/* Eight threads on a lane of two: they wait for room all the time (and
 * spin while they do: fewer calls, on two CPUs). */
Test(actors, eight_driver_threads_share_a_lane_of_two)
{
	struct shoal_runtime_options o = small_opts(1);

	o.max_pending_calls = 2;
	hammer_threads_opts(&o, MAX_THREADS, HAMMER_CALLS / 4);
}

/* ------------------------------------------------------------------ */
/* Handles in other actors, errors through tasks                       */

static shoal_id relay_call(struct fx *f, struct shoal_actor r, struct shoal_actor c,
			   int64_t x)
{
	struct shoal_args args;
	shoal_id ref;

	shoal_args_init(&args);
	shoal_args_actor(&args, &c);
	shoal_args_bytes(&args, &x, sizeof x);
	tu_assert_rc(shoal_actor_call(f->rt, r, method(f, r, "relay"), &args, &ref), 0);
	return ref;
}

Test(actors, handles_travel_through_other_actors)
{
	struct fx f = start(1);
	struct shoal_actor c = counter(&f, 100, NULL), r;
	shoal_id refs[10], ref;
	char msg[128];
	int64_t v, want = 100;

	tu_assert_rc(shoal_actor_create(f.rt, "Relay", NULL, NULL, &r), 0);
	for (int i = 0; i < 10; i++)
		refs[i] = relay_call(&f, r, c, i + 1);
	for (int i = 0; i < 10; i++) {
		want += i + 1;
		tu_assert_rc(get_i64(&f, refs[i], &v), 0, "relay %d", i);
		cr_assert_eq(v, want, "relay %d saw %" PRId64, i, v);
		shoal_drop(f.s, refs[i]);
	}
	cr_assert_eq(call_get(&f, c, "add", 0), 155);
	/* The Counter dies: the Relay's own call on it fails, and so does
	 * relay(), with the code; the Relay lives on. */
	tu_assert_rc(shoal_actor_kill(f.rt, c, true), 0);
	ref = relay_call(&f, r, c, 1);
	tu_assert_rc(get_i64(&f, ref, &v), SHOAL_EACTORDIED);
	cr_assert_geq(shoal_error_message(f.s, ref, msg, sizeof msg), 0);
	cr_assert(strstr(msg, "relay: call"), "message: %s", msg);
	shoal_drop(f.s, ref);
	cr_assert_eq(info(&f, r).state, SHOAL_ACTOR_ALIVE);
	stop(&f);
}

Test(actors, a_method_error_propagates_to_a_dependent_task)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 0, NULL);
	int fn = shoal_function(f.rt, "add");
	struct shoal_args args;
	shoal_id bad, good, r1, r2;
	char msg[128];
	int64_t one = 1, v;

	tu_assert_rc(call1(&f, a, "fail", 7, &bad), 0);
	tu_assert_rc(call1(&f, a, "add", 5, &good), 0);
	shoal_args_init(&args);
	shoal_args_ref(&args, bad);
	shoal_args_bytes(&args, &one, sizeof one);
	tu_assert_rc(shoal_submit(f.rt, fn, &args, 1, &r1), 0);
	shoal_args_init(&args);
	shoal_args_ref(&args, good);
	shoal_args_bytes(&args, &one, sizeof one);
	tu_assert_rc(shoal_submit(f.rt, fn, &args, 1, &r2), 0);
	tu_assert_rc(get_i64(&f, r1, &v), SHOAL_ETASK);
	cr_assert_geq(shoal_error_message(f.s, r1, msg, sizeof msg), 0);
	cr_assert_str_eq(msg, "counter refused 7");
	tu_assert_rc(get_i64(&f, r2, &v), 0);
	cr_assert_eq(v, 6);
	shoal_drop(f.s, bad);
	shoal_drop(f.s, good);
	shoal_drop(f.s, r1);
	shoal_drop(f.s, r2);
	stop(&f);
}

/* ------------------------------------------------------------------ */
/* Backpressure: a lane of 4                                           */

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
	tu_assert_rc(shoal_actor_call_opts(f.rt, a, m, &args, &o, &ref), -EAGAIN);
	o.num_returns = 0;
	tu_assert_rc(shoal_actor_call_opts(f.rt, a, m, &args, &o, NULL), -EAGAIN);
	o.num_returns = 1;
	o.timeout_ms = 100;
	t0 = tu_now_ms();
	tu_assert_rc(shoal_actor_call_opts(f.rt, a, m, &args, &o, &ref), -ETIMEDOUT);
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

/* ------------------------------------------------------------------ */
/* Sends, arguments, returns, bad handles, constructors, slots          */

/* measure() saw the `size` bytes of buf. */
static void check_measure(struct fx *f, shoal_id ref, size_t size, const void *buf)
{
	struct shoal_view v;
	uint64_t got[2];

	tu_assert_rc(shoal_get(f->s, ref, 10000, &v), 0, "measure(%zu bytes)", size);
	cr_assert_eq(v.size, sizeof got);
	memcpy(got, v.data, sizeof got);
	shoal_release(f->s, &v);
	shoal_drop(f->s, ref);
	cr_assert_eq(got[0], size, "size %" PRIu64 ", want %zu", got[0], size);
	cr_assert_eq(got[1], tu_sum(buf, size), "bytes of the %zu-byte argument differ",
		     size);
}

Test(actors, sends_run_and_count)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 0, NULL);
	int m = method(&f, a, "add");
	struct shoal_args args;
	int64_t two = 2, st[3];
	char big[4096];

	shoal_args_init(&args);
	shoal_args_bytes(&args, &two, sizeof two);
	for (int i = 0; i < 50; i++)
		tu_assert_rc(shoal_actor_send(f.rt, a, m, &args), 0, "send %d", i);
	/* A send whose argument travels through the store. */
	tu_fill(big, sizeof big, 5);
	shoal_args_init(&args);
	shoal_args_bytes(&args, big, sizeof big);
	tu_assert_rc(shoal_actor_send(f.rt, a, method(&f, a, "measure"), &args), 0);
	stats(&f, a, st); /* runs after every send: same lane */
	cr_assert_eq(st[0], 100, "sum %" PRId64, st[0]);
	cr_assert_eq(st[1], 50, "calls %" PRId64, st[1]);
	cr_assert_geq(info(&f, a).calls_run, 51);
	cr_assert_eq(info(&f, a).calls_failed, 0);
	stop(&f);
}

Test(actors, arguments_of_any_size_and_refs_arrive_intact)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 0, NULL);
	int m = method(&f, a, "measure");
	/* Around the record's inline room (208 bytes with the length word),
	 * then well beyond it. */
	static const size_t sizes[] = {100, 200, 201, 204, 4096, 1u << 20};
	struct shoal_args args;
	shoal_id ref, obj;
	void *buf = malloc(1u << 20), *data;

	cr_assert_not_null(buf);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		tu_fill(buf, sizes[i], 10 + i);
		shoal_args_init(&args);
		shoal_args_bytes(&args, buf, sizes[i]);
		tu_assert_rc(shoal_actor_call(f.rt, a, m, &args, &ref), 0);
		memset(buf, 0, sizes[i]); /* the call copied it */
		tu_fill(buf, sizes[i], 10 + i);
		check_measure(&f, ref, sizes[i], buf);
	}
	/* A ref, dropped by the caller at once: the call keeps it alive. */
	tu_fill(buf, 65536, 20);
	tu_assert_rc(shoal_put(f.s, buf, 65536, 1000, &obj), 0);
	shoal_args_init(&args);
	shoal_args_ref(&args, obj);
	tu_assert_rc(shoal_actor_call(f.rt, a, m, &args, &ref), 0);
	shoal_drop(f.s, obj);
	check_measure(&f, ref, 65536, buf);
	/* A ref sealed after the call: the actor waits for it. */
	obj = tu_id(30, 0);
	tu_assert_rc(shoal_create(f.s, obj, 5000, NULL, 0, 1000, &data), 0);
	shoal_args_init(&args);
	shoal_args_ref(&args, obj);
	tu_assert_rc(shoal_actor_call(f.rt, a, m, &args, &ref), 0);
	tu_fill(data, 5000, 30);
	tu_fill(buf, 5000, 30);
	tu_assert_rc(shoal_seal(f.s, obj), 0);
	check_measure(&f, ref, 5000, buf);
	shoal_drop(f.s, obj);
	free(buf);
	stop(&f);
}

Test(actors, several_returns)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 0, NULL);
	struct shoal_call_options o = SHOAL_CALL_OPTIONS_INIT;
	struct shoal_args args;
	int64_t x = 7, v;
	shoal_id refs[3];

	o.num_returns = 3;
	shoal_args_init(&args);
	shoal_args_bytes(&args, &x, sizeof x);
	tu_assert_rc(shoal_actor_call_opts(f.rt, a, method(&f, a, "triple"), &args, &o,
					   refs), 0);
	for (int i = 0; i < 3; i++) {
		tu_assert_rc(get_i64(&f, refs[i], &v), 0, "return %d", i);
		cr_assert_eq(v, 7 * (i + 1), "return %d is %" PRId64, i, v);
		shoal_drop(f.s, refs[i]);
	}
	stop(&f);
}

Test(actors, bad_handles_and_methods_are_refused)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 0, NULL), r, bad;
	struct shoal_call_options o = SHOAL_CALL_OPTIONS_INIT;
	struct shoal_actor_info i;
	int m = method(&f, a, "add"), last = method(&f, a, "triple");
	struct shoal_args args;
	int64_t one = 1, st[3];
	shoal_id ref;

	shoal_args_init(&args);
	shoal_args_bytes(&args, &one, sizeof one);
	memset(&bad, 0, sizeof bad);
	tu_assert_rc(shoal_actor_call(f.rt, bad, m, &args, &ref), -EINVAL, "zeroed");
	tu_assert_rc(shoal_actor_send(f.rt, bad, m, &args), -EINVAL, "zeroed");
	bad = a;
	bad.magic ^= 1;
	tu_assert_rc(shoal_actor_call(f.rt, bad, m, &args, &ref), -EINVAL, "magic");
	bad = a;
	bad.index = 1u << 20;
	tu_assert_rc(shoal_actor_call(f.rt, bad, m, &args, &ref), -EINVAL, "index");
	bad = a;
	bad.klass = SHOAL_MAX_CLASSES - 1;
	tu_assert_rc(shoal_actor_call(f.rt, bad, m, &args, &ref), -EINVAL, "class");
	bad = a;
	bad.generation = 0;
	tu_assert_rc(shoal_actor_call(f.rt, bad, m, &args, &ref), -EINVAL, "gen 0");
	bad = a;
	bad.generation += 1000; /* a well-formed handle of no live actor */
	tu_assert_rc(shoal_actor_call(f.rt, bad, m, &args, &ref), SHOAL_EACTORDIED);
	tu_assert_rc(shoal_actor_call(f.rt, a, -1, &args, &ref), -EINVAL);
	tu_assert_rc(shoal_actor_call(f.rt, a, last + 1, &args, &ref), -EINVAL);
	tu_assert_rc(shoal_actor_call(f.rt, a, SHOAL_MAX_METHODS, &args, &ref), -EINVAL);
	tu_assert_rc(shoal_actor_method(f.rt, a, "nope"), -ENOENT);
	o.num_returns = SHOAL_MAX_RETURNS + 1;
	tu_assert_rc(shoal_actor_call_opts(f.rt, a, m, &args, &o, &ref), -EINVAL);
	o.num_returns = 1;
	tu_assert_rc(shoal_actor_call_opts(f.rt, a, m, &args, &o, NULL), -EINVAL);
	/* Method indices are per class: the Relay has one. */
	tu_assert_rc(shoal_actor_create(f.rt, "Relay", NULL, NULL, &r), 0);
	tu_assert_rc(shoal_actor_call(f.rt, r, 1, &args, &ref), -EINVAL);
	tu_assert_rc(shoal_actor_create(f.rt, "Nobody", NULL, NULL, &r), -ENOENT);
	{
		char big[SHOAL_ACTOR_CTOR_BYTES + 1] = {0};

		shoal_args_init(&args);
		shoal_args_bytes(&args, big, sizeof big);
		tu_assert_rc(shoal_actor_create(f.rt, "Counter", &args, NULL, &r), -E2BIG);
	}
	memset(&bad, 0, sizeof bad);
	tu_assert_rc(shoal_actor_info(f.rt, bad, &i), -EINVAL);
	tu_assert_rc(shoal_actor_kill(f.rt, bad, true), -EINVAL);
	/* Nothing was queued. */
	stats(&f, a, st);
	cr_assert_eq(st[1], 0, "calls %" PRId64, st[1]);
	stop(&f);
}

Test(actors, a_failing_constructor_fails_the_calls_and_says_why)
{
	struct fx f = start(1);
	struct shoal_actor b;
	struct shoal_actor_info i;
	struct shoal_view v;
	char msg[160];
	shoal_id ref;
	int rc;

	tu_assert_rc(shoal_actor_create(f.rt, "Broken", NULL, NULL, &b), 0);
	rc = shoal_actor_call(f.rt, b, 0, NULL, &ref); /* queued, or dead already */
	if (rc == 0) {
		tu_assert_rc(shoal_get(f.s, ref, 10000, &v), SHOAL_EACTORDIED);
		cr_assert_geq(shoal_error_message(f.s, ref, msg, sizeof msg), 0);
		cr_assert(strstr(msg, "constructor"), "message: %s", msg);
		shoal_drop(f.s, ref);
	} else {
		tu_assert_rc(rc, SHOAL_EACTORDIED);
	}
	i = info(&f, b);
	cr_assert_eq(i.state, SHOAL_ACTOR_DEAD);
	cr_assert(strstr(i.why, "constructor"), "why: %s", i.why);
	cr_assert(strstr(i.why, "broken on purpose"), "why: %s", i.why);
	cr_assert_eq(i.restarts, 0);
	tu_assert_rc(shoal_actor_call(f.rt, b, 0, NULL, &ref), SHOAL_EACTORDIED);
	tu_assert_rc(shoal_actor_kill(f.rt, b, true), SHOAL_EACTORDIED);
	stop(&f);
}

/* A failing constructor is not restarted, whatever max_restarts says. */
Test(actors, a_failing_constructor_is_not_restarted)
{
	struct fx f = start(1);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor b;
	struct shoal_view v;
	shoal_id ref;
	int rc;

	o.max_restarts = 3;
	tu_assert_rc(shoal_actor_create(f.rt, "Broken", NULL, &o, &b), 0);
	rc = shoal_actor_call(f.rt, b, 0, NULL, &ref);
	if (rc == 0) {
		tu_assert_rc(shoal_get(f.s, ref, 10000, &v), SHOAL_EACTORDIED);
		shoal_drop(f.s, ref);
	} else {
		tu_assert_rc(rc, SHOAL_EACTORDIED);
	}
	cr_assert_eq(info(&f, b).state, SHOAL_ACTOR_DEAD);
	cr_assert_eq(info(&f, b).restarts, 0);
	stop(&f);
}

static struct fx start_actors(uint32_t max_actors)
{
	struct shoal_runtime_options o = small_opts(1);

	o.max_actors = max_actors;
	return start_opts(&o);
}

Test(actors, max_actors_live_at_once_and_a_dead_ones_slot_is_reused)
{
	struct fx f = start_actors(3);
	struct shoal_actor a[3], c;
	struct shoal_actor_info i;
	shoal_id ref;

	for (int k = 0; k < 3; k++)
		a[k] = counter(&f, 10 * k, NULL);
	tu_assert_rc(shoal_actor_create(f.rt, "Counter", NULL, NULL, &c), -ENOSPC);
	/* The driver has a lane into it: the kill must not keep the slot. */
	cr_assert_eq(call_get(&f, a[1], "add", 1), 11);
	tu_assert_rc(shoal_actor_kill(f.rt, a[1], true), 0);
	c = counter(&f, 77, NULL);
	cr_assert_eq(c.index, a[1].index, "the dead actor's slot was not reused");
	cr_assert_neq(c.generation, a[1].generation);
	cr_assert_eq(call_get(&f, c, "add", 1), 78);
	/* The old handle names the dead actor, never the new one. */
	tu_assert_rc(call1(&f, a[1], "add", 1, &ref), SHOAL_EACTORDIED);
	tu_assert_rc(shoal_actor_info(f.rt, a[1], &i), SHOAL_EACTORDIED);
	tu_assert_rc(shoal_actor_kill(f.rt, a[1], true), SHOAL_EACTORDIED);
	cr_assert_eq(call_get(&f, a[0], "add", 0), 0);
	cr_assert_eq(call_get(&f, a[2], "add", 0), 20);
	cr_assert_eq(call_get(&f, c, "add", 0), 78);
	tu_assert_rc(shoal_actor_create(f.rt, "Counter", NULL, NULL, &c), -ENOSPC);
	stop(&f);
}

/* ------------------------------------------------------------------ */
/* Kills and crashes                                                   */

/* A driver thread calling add(1) in batches, racing with a kill. */
struct racer {
	struct fx *f;
	struct shoal_actor a;
	int m;
	int ready;       /* a byte after the first batch */
	int call_rc;     /* what ended the loop */
	int other;       /* a get result that is neither 0 nor EACTORDIED */
	int64_t ok, failed, bad;
};

static int fetch_i64(struct shoal_store *s, shoal_id ref, int64_t *out)
{
	struct shoal_view v;
	int rc = shoal_get(s, ref, 10000, &v);

	if (rc)
		return rc;
	*out = -1;
	if (v.size == sizeof *out)
		memcpy(out, v.data, sizeof *out);
	shoal_release(s, &v);
	return 0;
}

static void race_batch(struct racer *r)
{
	struct shoal_args args;
	shoal_id refs[16];
	int64_t one = 1, v;
	int n = 0;

	shoal_args_init(&args);
	shoal_args_bytes(&args, &one, sizeof one);
	for (; n < 16 && !r->call_rc; n++)
		r->call_rc = shoal_actor_call(r->f->rt, r->a, r->m, &args, &refs[n]);
	n -= r->call_rc != 0;
	for (int i = 0; i < n; i++) {
		int rc = fetch_i64(r->f->s, refs[i], &v);

		if (!rc) /* in order, and never after a failed one */
			r->bad += r->failed || v != ++r->ok;
		else if (rc == SHOAL_EACTORDIED)
			r->failed++;
		else
			r->other = rc;
		shoal_drop(r->f->s, refs[i]);
	}
}

static void *race_calls(void *arg)
{
	struct racer *r = arg;

	for (int round = 0; round < 1000000 && !r->call_rc; round++) {
		race_batch(r);
		if (round == 0 && write(r->ready, "r", 1) != 1)
			r->other = -EIO;
	}
	return NULL;
}

Test(actors, a_call_racing_with_a_kill_fails_and_never_hangs)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 0, NULL);
	struct racer r = {.f = &f, .a = a, .m = method(&f, a, "add")};
	struct shoal_actor_info i;
	pthread_t th;
	int p[2];

	tu_pipe(p);
	r.ready = p[1];
	cr_assert_eq(pthread_create(&th, NULL, race_calls, &r), 0);
	tu_read_byte(p[0], 10000);
	tu_assert_rc(shoal_actor_kill(f.rt, a, true), 0);
	join(th);
	tu_assert_rc(r.call_rc, SHOAL_EACTORDIED, "the call that ended the loop");
	tu_assert_rc(r.other, 0, "a get that was neither a result nor EACTORDIED");
	cr_assert_eq(r.bad, 0, "%" PRId64 " results out of order or after a failure",
		     r.bad);
	cr_assert_geq(r.ok, 16);
	i = info(&f, a);
	cr_assert_eq(i.state, SHOAL_ACTOR_DEAD);
	cr_assert(strstr(i.why, "killed"), "why: %s", i.why);
	close(p[0]);
	close(p[1]);
	stop(&f);
}

/* A call waiting for room in a full lane when the actor is killed. */
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

/* Killed before or while its constructor runs: calls made meanwhile ran or
 * failed, in order, and none is left pending once the kill returned. */
Test(actors, a_kill_while_starting_leaves_no_call_pending)
{
	struct fx f = start(1);

	for (int round = 0; round < 20; round++) {
		struct shoal_actor a = counter(&f, 0, NULL);
		struct shoal_view v;
		shoal_id q[5];
		int64_t ok = 0, x;
		bool failed = false;

		for (int k = 0; k < 5; k++)
			tu_assert_rc(call1(&f, a, "add", 1, &q[k]), 0);
		tu_assert_rc(shoal_actor_kill(f.rt, a, true), 0);
		for (int k = 0; k < 5; k++) {
			int rc = shoal_get(f.s, q[k], 0, &v);

			if (rc == 0) {
				memcpy(&x, v.data, sizeof x);
				shoal_release(f.s, &v);
				cr_assert(!failed && x == ++ok, "round %d call %d: %" PRId64,
					  round, k, x);
			} else {
				tu_assert_rc(rc, SHOAL_EACTORDIED, "round %d call %d", round, k);
				failed = true;
			}
			shoal_drop(f.s, q[k]);
		}
	}
	stop(&f);
}

/* Crash after crash: each restart runs the calls queued behind the crash. */
Test(actors, every_restart_runs_the_calls_queued_behind_a_crash)
{
	struct fx f = start(1);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor a;
	struct shoal_view v;
	shoal_id crash, q[10];
	int64_t x;

	o.max_restarts = 5;
	a = counter(&f, 0, &o);
	for (int round = 0; round <= 5; round++) {
		tu_assert_rc(call1(&f, a, "crash", 0, &crash), 0);
		for (int k = 0; k < 10; k++)
			tu_assert_rc(call1(&f, a, "add", 1, &q[k]), 0);
		tu_assert_rc(shoal_get(f.s, crash, 10000, &v), SHOAL_EACTORDIED,
			     "round %d", round);
		shoal_drop(f.s, crash);
		for (int k = 0; k < 10; k++) {
			int rc = get_i64(&f, q[k], &x);

			if (round < 5) { /* restarted: from the constructor's 0 */
				tu_assert_rc(rc, 0, "round %d call %d", round, k);
				cr_assert_eq(x, k + 1, "round %d call %d: %" PRId64, round,
					     k, x);
			} else { /* no restart left */
				tu_assert_rc(rc, SHOAL_EACTORDIED, "call %d", k);
			}
			shoal_drop(f.s, q[k]);
		}
	}
	cr_assert_eq(info(&f, a).restarts, 5);
	cr_assert_eq(info(&f, a).state, SHOAL_ACTOR_DEAD);
	stop(&f);
}

/* gate() running, `nq` add(1)s queued behind it; then SIGKILL to the
 * actor's process, and a wait until it is gone.  Returns its pid. */
static pid_t crash_busy(struct fx *f, struct shoal_actor a, uint32_t tag,
			struct gate *g, shoal_id *q, int nq)
{
	struct shoal_actor_info i;

	*g = gate_call(f, a, tag);
	for (int k = 0; k < nq; k++)
		tu_assert_rc(call1(f, a, "add", 1, &q[k]), 0, "queued call %d", k);
	i = info(f, a);
	cr_assert_eq(i.state, SHOAL_ACTOR_ALIVE);
	cr_assert_gt(i.pid, 0);
	cr_assert_eq(kill(i.pid, SIGKILL), 0, "kill(%d): %s", (int)i.pid, strerror(errno));
	cr_assert(pid_gone(i.pid, 5000), "the actor's process outlived SIGKILL");
	return i.pid;
}

Test(actors, a_sigkilled_actor_fails_its_running_and_queued_calls)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 10, NULL);
	struct shoal_actor_info i;
	struct gate g;
	shoal_id q[3], ref;
	struct shoal_view v;
	char msg[160];

	cr_assert_eq(call_get(&f, a, "add", 5), 15);
	crash_busy(&f, a, 1, &g, q, 3);
	tu_assert_rc(shoal_get(f.s, g.ref, 10000, &v), SHOAL_EACTORDIED, "running call");
	cr_assert_geq(shoal_error_message(f.s, g.ref, msg, sizeof msg), 0);
	cr_assert(strstr(msg, "signal 9"), "message: %s", msg);
	shoal_drop(f.s, g.ref);
	for (int k = 0; k < 3; k++) {
		tu_assert_rc(shoal_get(f.s, q[k], 10000, &v), SHOAL_EACTORDIED,
			     "queued call %d", k);
		shoal_drop(f.s, q[k]);
	}
	tu_assert_rc(call1(&f, a, "add", 1, &ref), SHOAL_EACTORDIED);
	i = info(&f, a);
	cr_assert_eq(i.state, SHOAL_ACTOR_DEAD);
	cr_assert_eq(i.pid, 0);
	cr_assert_eq(i.restarts, 0);
	cr_assert(strstr(i.why, "signal 9"), "why: %s", i.why);
	tu_assert_rc(shoal_actor_kill(f.rt, a, true), SHOAL_EACTORDIED);
	stop(&f);
}

Test(actors, a_sigkilled_actor_restarts_and_runs_its_queued_calls)
{
	struct fx f = start(1);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor a;
	struct shoal_actor_info i;
	struct gate g;
	shoal_id q[3];
	struct shoal_view v;
	int64_t x;
	pid_t old;

	o.max_restarts = 1;
	a = counter(&f, 10, &o);
	cr_assert_eq(call_get(&f, a, "add", 5), 15);
	old = crash_busy(&f, a, 2, &g, q, 3);
	tu_assert_rc(shoal_get(f.s, g.ref, 10000, &v), SHOAL_EACTORDIED, "running call");
	shoal_drop(f.s, g.ref);
	for (int k = 0; k < 3; k++) {
		tu_assert_rc(get_i64(&f, q[k], &x), 0, "queued call %d", k);
		cr_assert_eq(x, 11 + k, "not the constructor's state: %" PRId64, x);
		shoal_drop(f.s, q[k]);
	}
	i = info(&f, a);
	cr_assert_eq(i.state, SHOAL_ACTOR_ALIVE);
	cr_assert_eq(i.restarts, 1);
	cr_assert_neq(i.pid, old);
	/* No restart left: the next crash is the last. */
	crash_busy(&f, a, 3, &g, q, 1);
	tu_assert_rc(shoal_get(f.s, g.ref, 10000, &v), SHOAL_EACTORDIED);
	tu_assert_rc(shoal_get(f.s, q[0], 10000, &v), SHOAL_EACTORDIED);
	shoal_drop(f.s, q[0]);
	shoal_drop(f.s, g.ref);
	cr_assert_eq(info(&f, a).state, SHOAL_ACTOR_DEAD);
	stop(&f);
}

/* A ref constructor argument outlives the creator's hold: a restart runs
 * the constructor on it again. */
Test(actors, a_restart_reads_a_ref_constructor_argument_again)
{
	struct fx f = start(1);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor a;
	struct shoal_args args;
	struct gate g;
	shoal_id obj, q[1];
	struct shoal_view v;
	int64_t init = 40, x;

	o.max_restarts = 1;
	tu_assert_rc(shoal_put(f.s, &init, sizeof init, 1000, &obj), 0);
	shoal_args_init(&args);
	shoal_args_ref(&args, obj);
	tu_assert_rc(shoal_actor_create(f.rt, "Counter", &args, &o, &a), 0);
	cr_assert_eq(call_get(&f, a, "add", 2), 42);
	shoal_drop(f.s, obj);
	shoal_evict(f.s, UINT64_MAX); /* gone unless the runtime holds it */
	crash_busy(&f, a, 4, &g, q, 1);
	tu_assert_rc(shoal_get(f.s, g.ref, 10000, &v), SHOAL_EACTORDIED);
	shoal_drop(f.s, g.ref);
	tu_assert_rc(get_i64(&f, q[0], &x), 0);
	cr_assert_eq(x, 41, "the constructor did not see its ref again: %" PRId64, x);
	shoal_drop(f.s, q[0]);
	cr_assert_eq(info(&f, a).restarts, 1);
	stop(&f);
}

Test(actors, a_sigkilled_actor_with_task_retries_runs_the_call_again)
{
	struct fx f = start(1);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor a;
	struct shoal_actor_info i;
	struct gate g;
	shoal_id q[2];
	int64_t x;

	o.max_restarts = 1;
	o.max_task_retries = 1;
	a = counter(&f, 10, &o);
	cr_assert_eq(call_get(&f, a, "add", 5), 15);
	crash_busy(&f, a, 5, &g, q, 2);
	/* The first run is gone for good: only a second run can pass now. */
	gate_open(&f, &g);
	tu_assert_rc(get_i64(&f, g.ref, &x), 0, "the retried call");
	cr_assert_eq(x, 10, "the retry did not run on the rebuilt state: %" PRId64, x);
	shoal_drop(f.s, g.ref);
	for (int k = 0; k < 2; k++) {
		tu_assert_rc(get_i64(&f, q[k], &x), 0, "queued call %d", k);
		cr_assert_eq(x, 11 + k);
		shoal_drop(f.s, q[k]);
	}
	i = info(&f, a);
	cr_assert_eq(i.state, SHOAL_ACTOR_ALIVE);
	cr_assert_eq(i.restarts, 1);
	cr_assert_eq(i.calls_failed, 0);
	stop(&f);
}

/* ------------------------------------------------------------------ */
/* Attached programs (runtime_peer)                                    */

static struct fx start_named(const char *name)
{
	struct shoal_runtime_options o = small_opts(1);

	o.name = name;
	return start_opts(&o);
}

/* Starts runtime_peer with args; *to writes its stdin, *from reads its
 * stdout (NULL: closed / /dev/null). */
static pid_t spawn_runtime_peer(const char *const *args, int *to, int *from)
{
	return tu_spawn_prog(RUNTIME_PEER, args, to, from);
}

Test(actors, an_attached_program_finds_a_named_actor_and_calls_it)
{
	const char *name = tu_shm_name(NULL);
	struct fx f = start_named(name);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	const char *args[] = {"actor-add", name, "acc", "23", NULL};
	struct shoal_actor a;
	char out[64];
	int from;
	pid_t pid;

	o.name = "acc";
	a = counter(&f, 100, &o);
	pid = spawn_runtime_peer(args, NULL, &from);
	cr_assert_eq(tu_wait_exit(pid), 0, "runtime_peer actor-add failed");
	tu_read_all(from, out, sizeof out);
	cr_assert_str_eq(out, "123\n");
	cr_assert_eq(call_get(&f, a, "add", 0), 123, "the peer's call reached the actor");
	close(from);
	stop(&f);
}

Test(actors, a_caller_killed_mid_call_does_not_stop_the_others)
{
	const char *name = tu_shm_name(NULL);
	struct fx f = start_named(name);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	const char *victim_args[] = {"actor-seq", name, "ctr", "1", "0", NULL};
	const char *other_args[] = {"actor-seq", name, "ctr", "2", "20000", NULL};
	struct shoal_actor_info i0, i1;
	struct shoal_actor a;
	int vout, oin, oout;
	pid_t victim, other;
	int64_t wrong = 0, st[3];

	o.name = "ctr";
	a = counter(&f, 0, &o);
	i0 = info(&f, a);
	victim = spawn_runtime_peer(victim_args, NULL, &vout);
	other = spawn_runtime_peer(other_args, &oin, &oout);
	cr_assert_eq(tu_read_byte(vout, 10000), 'r');
	cr_assert_eq(tu_read_byte(oout, 10000), 'r');
	tu_write_byte(oin, 'g'); /* the other caller goes on meanwhile */
	tu_kill(victim); /* calling in a loop: killed inside a call or between */
	for (int64_t k = 0; k < HAMMER_CALLS; k += SEQ_BATCH)
		tu_assert_rc(seq_batch(f.rt, a, method(&f, a, "seq"), 3, k, SEQ_BATCH,
				       &wrong), 0);
	cr_assert_eq(wrong, 0);
	cr_assert_eq(tu_wait_exit(other), 0, "the other caller failed");
	stats(&f, a, st);
	cr_assert_eq(st[2], 0, "%" PRId64 " calls out of order", st[2]);
	cr_assert_geq(st[1], 64 + 64 + 20000 + HAMMER_CALLS);
	i1 = info(&f, a);
	cr_assert_eq(i1.state, SHOAL_ACTOR_ALIVE);
	cr_assert_eq(i1.pid, i0.pid, "the actor's process changed");
	cr_assert_eq(i1.restarts, 0);
	close(vout);
	close(oin);
	close(oout);
	stop(&f);
}

/* ------------------------------------------------------------------ */
/* Slots and lanes come back                                           */

/* A dead actor's slot is reused at once, even while processes that called
 * it live on (a worker, an attached program): their lanes stay behind,
 * and the new actor in the slot never reads them. */
Test(actors, a_dead_actors_slot_is_reused_while_its_callers_live)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_runtime_options o = small_opts(1);
	struct shoal_actor_options ao = SHOAL_ACTOR_OPTIONS_INIT;
	const char *args[] = {"actor-seq", name, "ctr", "1", "10", NULL};
	struct shoal_actor a, c;
	struct shoal_args targs;
	int64_t x = 1, n = 3, v;
	shoal_id ref;
	struct fx f;
	int to, from;
	pid_t pid;

	o.name = name;
	o.max_actors = 1;
	f = start_opts(&o);
	ao.name = "ctr";
	a = counter(&f, 0, &ao);
	shoal_args_init(&targs);
	shoal_args_actor(&targs, &a);
	shoal_args_bytes(&targs, &x, sizeof x);
	shoal_args_bytes(&targs, &n, sizeof n);
	tu_assert_rc(shoal_submit(f.rt, shoal_function(f.rt, "use_actor"), &targs, 1,
				  &ref), 0);
	tu_assert_rc(get_i64(&f, ref, &v), 0);
	cr_assert_eq(v, 3, "the worker called the actor");
	shoal_drop(f.s, ref);
	pid = spawn_runtime_peer(args, &to, &from);
	cr_assert_eq(tu_read_byte(from, 10000), 'r'); /* it called, and waits */
	tu_assert_rc(shoal_actor_kill(f.rt, a, true), 0);
	tu_assert_rc(shoal_actor_create(f.rt, "Counter", NULL, &ao, &c), 0,
		     "max_actors = 1 and the one actor is dead: its slot is free");
	cr_assert_eq(c.index, a.index);
	cr_assert_eq(call_get(&f, c, "add", 5), 5, "the new actor serves");
	/* The peer's old handle: its lane is the dead actor's, its calls fail. */
	tu_write_byte(to, 'g');
	cr_assert_neq(tu_wait_exit(pid), 0, "the peer's calls on a dead actor succeeded");
	cr_assert_eq(call_get(&f, c, "add", 1), 6, "nothing of the peer's reached it");
	close(to);
	close(from);
	stop(&f);
}

/* Lanes of callers that detached go back to the pool: with room for two
 * lanes, programs attached one after another each get one. */
Test(actors, lanes_of_callers_that_left_go_back_to_the_pool)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_runtime_options o = small_opts(1);
	struct shoal_actor_options ao = SHOAL_ACTOR_OPTIONS_INIT;
	const char *args[] = {"actor-add", name, "acc", "1", NULL};
	struct shoal_actor a;
	struct fx f;

	o.name = name;
	o.max_lanes = 2; /* the driver's and one more */
	f = start_opts(&o);
	ao.name = "acc";
	a = counter(&f, 0, &ao);
	cr_assert_eq(call_get(&f, a, "add", 0), 0);
	for (int k = 1; k <= 6; k++) {
		int from;
		char out[64];
		pid_t pid = spawn_runtime_peer(args, NULL, &from);

		cr_assert_eq(tu_wait_exit(pid), 0, "peer %d found no lane", k);
		tu_read_all(from, out, sizeof out);
		close(from);
		/* The actor gives the lane back after running what is in it:
		 * this call, queued behind the peer's, sees it done. */
		cr_assert_eq(call_get(&f, a, "add", 0), k);
	}
	stop(&f);
}

/* A lane the new actor in a slot first saw as its predecessor's (an
 * attached program's, left hooked when the old actor was SIGKILLed),
 * given back and taken again for the new actor at the same hook (by a
 * worker): the new actor must see that it is now its own.  The driver's
 * call proves the new actor passed over the old lane before the program
 * gives it back; with room for two lanes, the worker's is the same one. */
Test(actors, a_predecessors_lane_taken_again_for_the_new_actor_is_served)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_runtime_options o = small_opts(1);
	struct shoal_actor_options ao = SHOAL_ACTOR_OPTIONS_INIT;
	const char *args[] = {"actor-seq", name, "ctr", "1", "1", NULL};
	struct shoal_actor a, c;
	struct shoal_args targs;
	int64_t x = 1, n = 2, v;
	struct shoal_view view;
	struct gate g;
	shoal_id ref;
	struct fx f;
	int to, from;
	pid_t pid;

	o.name = name;
	o.max_actors = 1;
	o.max_lanes = 2;
	f = start_opts(&o);
	ao.name = "ctr";
	a = counter(&f, 0, &ao);
	pid = spawn_runtime_peer(args, &to, &from);
	cr_assert_eq(tu_read_byte(from, 10000), 'r'); /* its lane is hooked */
	crash_busy(&f, a, 1, &g, NULL, 0);
	tu_assert_rc(shoal_get(f.s, g.ref, 10000, &view), SHOAL_EACTORDIED);
	shoal_drop(f.s, g.ref);
	c = counter(&f, 10, NULL);
	cr_assert_eq(c.index, a.index);
	cr_assert_eq(call_get(&f, c, "add", 1), 11, "the new actor serves");
	/* The program's next call fails and gives its lane back. */
	tu_write_byte(to, 'g');
	cr_assert_neq(tu_wait_exit(pid), 0, "a call on a dead actor succeeded");
	close(to);
	close(from);
	shoal_args_init(&targs);
	shoal_args_actor(&targs, &c);
	shoal_args_bytes(&targs, &x, sizeof x);
	shoal_args_bytes(&targs, &n, sizeof n);
	tu_assert_rc(shoal_submit(f.rt, shoal_function(f.rt, "use_actor"), &targs, 1,
				  &ref), 0);
	tu_assert_rc(get_i64(&f, ref, &v), 0, "the new actor never read the lane");
	cr_assert_eq(v, 13);
	shoal_drop(f.s, ref);
	stop(&f);
}

Test(actors, list_names_every_actor_and_its_state)
{
	struct fx f = start(1);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor a, b, got[8];
	struct shoal_actor_info i;
	bool seen_a = false, seen_b = false;
	int n;

	o.name = "listed";
	a = counter(&f, 0, &o);
	b = counter(&f, 0, NULL);
	cr_assert_eq(call_get(&f, a, "add", 0), 0);
	tu_assert_rc(shoal_actor_kill(f.rt, b, true), 0);
	n = shoal_actor_list(f.rt, got, 8);
	cr_assert_eq(n, 2);
	for (int k = 0; k < n; k++) {
		tu_assert_rc(shoal_actor_info(f.rt, got[k], &i), 0);
		cr_assert_str_eq(i.klass, "Counter");
		if (!memcmp(&got[k], &a, sizeof a)) {
			seen_a = true;
			cr_assert_eq(i.state, SHOAL_ACTOR_ALIVE);
			cr_assert_str_eq(i.name, "listed");
		} else if (!memcmp(&got[k], &b, sizeof b)) {
			seen_b = true;
			cr_assert_eq(i.state, SHOAL_ACTOR_DEAD);
			cr_assert(strstr(i.why, "killed"), "why: %s", i.why);
		}
	}
	cr_assert(seen_a && seen_b);
	tu_assert_rc(shoal_actor_list(f.rt, NULL, 0), 2);
	tu_assert_rc(shoal_actor_list(f.rt, NULL, 1), -EINVAL);
	stop(&f);
}

/* The holds a call keeps on its ref arguments go once it is done, even
 * when its result was fetched, dropped and freed at once (its ID gone from
 * the directory by the time the caller looks). */
static uint32_t holds_of(struct fx *f, shoal_id id)
{
	struct shoal_object_info info[64];
	int n = shoal_list(f->s, info, 64);

	for (int k = 0; k < n && k < 64; k++)
		if (shoal_id_eq(info[k].id, id))
			return info[k].holds;
	return UINT32_MAX;
}

Test(actors, holds_on_ref_arguments_go_when_calls_are_done)
{
	struct shoal_runtime_options o = small_opts(1);
	struct fx f;
	int64_t one = 1;
	struct shoal_actor a;
	shoal_id x, refs[50];

	o.store.max_objects = 64; /* a small directory: tombstones are reused */
	f = start_opts(&o);
	a = counter(&f, 0, NULL);
	tu_assert_rc(shoal_put(f.s, &one, sizeof one, 1000, &x), 0);
	for (int k = 0; k < 50; k++) {
		struct shoal_args args;

		shoal_args_init(&args);
		shoal_args_ref(&args, x);
		tu_assert_rc(shoal_actor_call(f.rt, a, method(&f, a, "measure"), &args,
					      &refs[k]), 0);
	}
	for (int k = 0; k < 50; k++) {
		tu_assert_rc(shoal_wait(f.s, &refs[k], 1, 1, 10000, &(uint8_t){0}), 1);
		shoal_drop(f.s, refs[k]); /* freed at once */
	}
	for (int k = 0; k < 1000; k++) { /* the results' tombstones get reused */
		shoal_id y;

		tu_assert_rc(shoal_put(f.s, &one, sizeof one, 1000, &y), 0);
		shoal_drop(f.s, y);
	}
	for (int k = 0; k < 10; k++) /* each call collects up to 8 done ones */
		cr_assert_eq(call_get(&f, a, "add", 1), k + 1);
	cr_assert_eq(holds_of(&f, x), 1, "the calls' holds on the argument stayed");
	tu_assert_rc(shoal_drop(f.s, x), 0);
	stop(&f);
}

/* The destructor runs when the runtime shuts down, on the actor's state. */
Test(actors, the_destructor_runs_at_shutdown)
{
	struct fx f = start(1);
	struct shoal_actor d;
	struct shoal_args args;
	char path[128], line[64] = "";
	FILE *in;

	snprintf(path, sizeof path, "/tmp/shoal-test-diary-%d", (int)getpid());
	unlink(path);
	shoal_args_init(&args);
	shoal_args_bytes(&args, path, strlen(path));
	tu_assert_rc(shoal_actor_create(f.rt, "Diary", &args, NULL, &d), 0);
	cr_assert_eq(call_get(&f, d, "add", 5), 5);
	cr_assert_eq(call_get(&f, d, "add", 2), 7);
	cr_assert_eq(access(path, F_OK), -1, "the destructor ran before shutdown");
	stop(&f);
	in = fopen(path, "r");
	if (in) {
		if (!fgets(line, sizeof line, in))
			line[0] = '\0';
		fclose(in);
	}
	unlink(path); /* before any assertion: nothing left behind */
	cr_assert(in, "no destructor ran");
	cr_assert_str_eq(line, "fini 7\n");
}

/* A handle is bytes: it travels inside an object too, and a task finds
 * it in its ref argument. */
Test(actors, a_handle_travels_inside_an_object)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 40, NULL);
	struct shoal_args args;
	int64_t x = 1, n = 2, v;
	shoal_id obj, ref;

	tu_assert_rc(shoal_put(f.s, &a, sizeof a, 1000, &obj), 0);
	shoal_args_init(&args);
	shoal_args_ref(&args, obj);
	shoal_args_bytes(&args, &x, sizeof x);
	shoal_args_bytes(&args, &n, sizeof n);
	tu_assert_rc(shoal_submit(f.rt, shoal_function(f.rt, "use_actor"), &args, 1,
				  &ref), 0);
	tu_assert_rc(get_i64(&f, ref, &v), 0);
	cr_assert_eq(v, 42, "the task called the actor named in the object");
	shoal_drop(f.s, ref);
	shoal_drop(f.s, obj);
	stop(&f);
}
