/* SPDX-License-Identifier: MIT */
/*
 * tests/actors/fixture.c - the actor suite's fixture (fixture.h): its
 * TestSuite, the classes and tasks every test registers, a runtime per
 * test and the helpers that call into it.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"

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

int seq_batch(struct shoal_runtime *rt, struct shoal_actor a, int m,
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

/* Calls seq(caller, i) for i < n on the actor it was handed, in batches
 * (several calls in flight), and returns how many results were wrong. */
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

struct fx start_opts(struct shoal_runtime_options *o)
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
	thread_classes(f.reg);
	tu_assert_rc(shoal_runtime_start(f.reg, o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	return f;
}

struct shoal_runtime_options small_opts(uint32_t workers)
{
	struct shoal_runtime_options o;

	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.max_tasks = 4096;
	o.store.capacity = 32u << 20;
	o.store.max_objects = 16384;
	return o;
}

struct fx start(uint32_t workers)
{
	struct shoal_runtime_options o = small_opts(workers);

	return start_opts(&o);
}

void stop(struct fx *f)
{
	tu_assert_rc(shoal_runtime_shutdown(f->rt), 0);
	shoal_registry_close(f->reg);
}

struct shoal_actor counter(struct fx *f, int64_t init,
			   const struct shoal_actor_options *o)
{
	struct shoal_actor a;
	struct shoal_args args;

	shoal_args_init(&args);
	shoal_args_bytes(&args, &init, sizeof init);
	tu_assert_rc(shoal_actor_create(f->rt, "Counter", &args, o, &a), 0);
	return a;
}

int method(struct fx *f, struct shoal_actor a, const char *name)
{
	int m = shoal_actor_method(f->rt, a, name);

	cr_assert_geq(m, 0, "no method %s", name);
	return m;
}

int call1(struct fx *f, struct shoal_actor a, const char *name, int64_t x,
	  shoal_id *ref)
{
	struct shoal_args args;

	shoal_args_init(&args);
	shoal_args_bytes(&args, &x, sizeof x);
	return shoal_actor_call(f->rt, a, method(f, a, name), &args, ref);
}

int get_i64(struct fx *f, shoal_id ref, int64_t *out)
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

int64_t call_get(struct fx *f, struct shoal_actor a, const char *name,
		 int64_t x)
{
	shoal_id ref;
	int64_t v;

	tu_assert_rc(call1(f, a, name, x, &ref), 0);
	tu_assert_rc(get_i64(f, ref, &v), 0);
	shoal_drop(f->s, ref);
	return v;
}

void stats(struct fx *f, struct shoal_actor a, int64_t out[3])
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

struct shoal_actor_info info(struct fx *f, struct shoal_actor a)
{
	struct shoal_actor_info i;

	tu_assert_rc(shoal_actor_info(f->rt, a, &i), 0);
	return i;
}

struct gate gate_call(struct fx *f, struct shoal_actor a, uint32_t tag)
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

void gate_open(struct fx *f, const struct gate *g)
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

void join(pthread_t t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += TU_CHILD_DEADLINE_MS / 1000 + 2;
	cr_assert_eq(pthread_timedjoin_np(t, NULL, &ts), 0, "a driver thread hangs");
}

pid_t crash_busy(struct fx *f, struct shoal_actor a, uint32_t tag,
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

struct fx start_named(const char *name)
{
	struct shoal_runtime_options o = small_opts(1);

	o.name = name;
	return start_opts(&o);
}

pid_t spawn_runtime_peer(const char *const *args, int *to, int *from)
{
	return tu_spawn_prog(RUNTIME_PEER, args, to, from);
}
