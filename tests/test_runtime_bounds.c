/* SPDX-License-Identifier: MIT */
/*
 * tests/test_runtime_bounds.c - what a submit, a call or a nested get may
 * wait for, and for how long (issue 8, points 16, 9 and 15).
 *
 *  - Every timeout a caller gives bounds everything the call does: a
 *    by-value argument that must go through a store full of held objects
 *    gets the caller's remaining time, a try-call or try-submit polls, and
 *    a plain submit gives up after SHOAL_SUBMIT_TIMEOUT_MS.
 *  - The holds a submitter keeps on its pending tasks' arguments go once
 *    each task is done, in whatever order tasks finish, and a submit that
 *    waits for room releases them while it waits.
 *  - Tasks nested deeper than the pool can grow never hang in silence.
 *
 * Every test starts a real runtime (fork server, worker and actor
 * processes) on a small private store filled with real held objects.  A
 * call that used to hang runs in a thread joined with a deadline, so that
 * a hang is a failure within seconds; the runtime's processes then go with
 * the test process (the fork server watches it through a pidfd).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <shoal/shoal.h>

#include "rtutil.h"
#include "testutil.h"

TestSuite(runtime_bounds, .init = tu_setup, .fini = tu_teardown);

#define KIB 1024u
#define MIB (1024u * 1024u)
#define FILL_SIZE (64u * KIB)  /* the objects that fill the store */
#define BIG_ARG (256u * KIB)   /* a by-value argument that goes to the store */
#define HANG_BOUND_MS 5000     /* what a bounded call may take at most */

/* ------------------------------------------------------------------ */
/* Task functions and the actor                                        */

/* Length and checksum of its one bytes argument. */
static int task_measure(struct shoal_task *t, void *user)
{
	const void *d;
	size_t n;
	uint64_t out[2];

	(void)user;
	if (shoal_task_arg(t, 0, &d, &n))
		return shoal_task_fail(t, SHOAL_ETASK, "no argument");
	out[0] = n;
	out[1] = tu_sum(d, n);
	return shoal_task_return(t, 0, out, sizeof out);
}

/* Waits (bounded) for the gate object named by its first argument, then
 * returns the length of its second one. */
static int task_gate(struct shoal_task *t, void *user)
{
	const void *d;
	size_t n;
	uint64_t len;
	int rc = rt_task_wait_gate(t);

	(void)user;
	if (rc)
		return rc;
	if (shoal_task_arg(t, 1, &d, &n))
		return shoal_task_fail(t, SHOAL_ETASK, "no second argument");
	len = n;
	return shoal_task_return(t, 0, &len, sizeof len);
}

/* deep(d): d == 0 returns 0; else submits deep(d - 1), waits for it as
 * long as it takes, and returns its result + 1 (or fails with its error). */
static int task_deep(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_store *s = shoal_runtime_store(rt);
	struct shoal_args a;
	struct shoal_view v;
	const void *d;
	size_t n;
	int64_t depth, r = 0;
	shoal_id ref;
	int rc;

	(void)user;
	if (shoal_task_arg(t, 0, &d, &n) || n != sizeof depth)
		return shoal_task_fail(t, SHOAL_ETASK, "no depth");
	memcpy(&depth, d, sizeof depth);
	if (depth > 0) {
		depth--;
		shoal_args_init(&a);
		shoal_args_bytes(&a, &depth, sizeof depth);
		rc = shoal_submit(rt, shoal_function(rt, "deep"), &a, 1, &ref);
		if (rc)
			return shoal_task_fail(t, rc, "submit: %s", shoal_strerror(rc));
		rc = shoal_get(s, ref, -1, &v);
		if (rc) {
			shoal_drop(s, ref);
			return shoal_task_fail(t, rc, "level %" PRId64 ": %s",
					       depth + 1, shoal_strerror(rc));
		}
		memcpy(&r, v.data, sizeof r);
		shoal_release(s, &v);
		shoal_drop(s, ref);
		r++;
	}
	return shoal_task_return(t, 0, &r, sizeof r);
}

static int sink_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

struct fx {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
	shoal_id fill[64];       /* held objects that fill the store */
	int nfill;
};

static struct fx start_extra(uint32_t workers, uint32_t extra,
			     uint64_t capacity)
{
	struct fx f = {0};
	struct shoal_runtime_options o;

	tu_assert_rc(shoal_registry_open(&f.reg), 0);
	tu_assert_rc(shoal_register_task(f.reg, "measure", task_measure, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "gate", task_gate, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "deep", task_deep, NULL), 0);
	tu_assert_rc(shoal_register_actor(f.reg, "Sink", sink_init, NULL), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Sink", "measure", task_measure), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Sink", "gate", task_gate), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.max_extra_workers = extra;
	o.max_tasks = 1024;
	o.max_actors = 4;
	o.store.capacity = capacity;
	o.store.max_objects = 4096;
	tu_assert_rc(shoal_runtime_start(f.reg, &o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	return f;
}

/* A runtime with the default max_extra_workers (4 x workers). */
static struct fx start(uint32_t workers, uint64_t capacity)
{
	return start_extra(workers, 0, capacity);
}

static void stop(struct fx *f)
{
	tu_assert_rc(shoal_runtime_shutdown(f->rt), 0);
	shoal_registry_close(f->reg);
}

/* Fills the store with FILL_SIZE objects the driver holds, until a put
 * that may not wait fails: no room is left for a BIG_ARG. */
static void fill_store(struct fx *f)
{
	static uint8_t buf[FILL_SIZE];
	int rc = 0;

	while (f->nfill < 64 &&
	       (rc = shoal_put(f->s, buf, sizeof buf, 0, &f->fill[f->nfill])) == 0)
		f->nfill++;
	tu_assert_rc(rc, SHOAL_ESTOREFULL, "after %d puts", f->nfill);
	cr_assert_gt(f->nfill, 0);
}

static void unfill_store(struct fx *f)
{
	for (int i = 0; i < f->nfill; i++)
		tu_assert_rc(shoal_drop(f->s, f->fill[i]), 0);
	f->nfill = 0;
}

static uint64_t live_objects(struct fx *f)
{
	return tu_stats(f->s).objects;
}

/* A call run in a thread, so that a hang becomes a failure. */
struct bounded {
	int (*call)(struct bounded *b);
	struct fx *f;
	int timeout_ms;          /* the call's own timeout */
	const void *data;        /* its by-value argument */
	size_t size;
	struct shoal_actor actor;
	int method;
	shoal_id ref;
	int rc;
	int64_t took_ms;
};

static void *bounded_main(void *arg)
{
	struct bounded *b = arg;
	int64_t t0 = tu_now_ms();

	b->rc = b->call(b);
	b->took_ms = tu_now_ms() - t0;
	return NULL;
}

/* Runs b->call, failing the test if it has not returned within bound_ms
 * (the thread is left behind: the test process ends with the failure). */
static void run_bounded(struct bounded *b, int bound_ms, const char *what)
{
	struct timespec ts;
	pthread_t th;
	int rc;

	cr_assert_eq(pthread_create(&th, NULL, bounded_main, b), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += bound_ms / 1000;
	ts.tv_nsec += (long)(bound_ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	rc = pthread_timedjoin_np(th, NULL, &ts);
	cr_assert_eq(rc, 0, "%s still blocked after %d ms (a hang)", what, bound_ms);
}

static int call_submit_opts(struct bounded *b)
{
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	struct shoal_args a;

	o.timeout_ms = b->timeout_ms;
	shoal_args_init(&a);
	shoal_args_bytes(&a, b->data, b->size);
	return shoal_submit_opts(b->f->rt, shoal_function(b->f->rt, "measure"),
				 &a, &o, &b->ref);
}

static int call_submit(struct bounded *b)
{
	struct shoal_args a;

	shoal_args_init(&a);
	shoal_args_bytes(&a, b->data, b->size);
	return shoal_submit(b->f->rt, shoal_function(b->f->rt, "measure"), &a, 1,
			    &b->ref);
}

static int call_actor(struct bounded *b)
{
	struct shoal_call_options o = SHOAL_CALL_OPTIONS_INIT;
	struct shoal_args a;

	o.timeout_ms = b->timeout_ms;
	shoal_args_init(&a);
	shoal_args_bytes(&a, b->data, b->size);
	return shoal_actor_call_opts(b->f->rt, b->actor, b->method, &a, &o, &b->ref);
}

/* Gets a measure() result and checks it against the bytes sent. */
static void check_measure(struct fx *f, shoal_id ref, const void *data,
			  size_t size)
{
	struct shoal_view v;
	uint64_t out[2];

	tu_assert_rc(shoal_get(f->s, ref, 10000, &v), 0);
	cr_assert_eq(v.size, sizeof out);
	memcpy(out, v.data, sizeof out);
	shoal_release(f->s, &v);
	cr_assert_eq(out[0], size, "the task saw %" PRIu64 " bytes", out[0]);
	cr_assert_eq(out[1], tu_sum(data, size), "the task saw other bytes");
	tu_assert_rc(shoal_drop(f->s, ref), 0);
}

static uint8_t *big_arg(uint64_t seed)
{
	uint8_t *p = malloc(BIG_ARG);

	cr_assert_not_null(p);
	tu_fill(p, BIG_ARG, seed);
	return p;
}

/* ------------------------------------------------------------------ */
/* Point 16: every timeout bounds everything the call does             */

Test(runtime_bounds, a_submit_with_a_timeout_gives_up_on_a_full_store)
{
	struct fx f = start(1, 2 * MIB);
	uint8_t *arg = big_arg(1);
	struct bounded b = {.call = call_submit_opts, .f = &f, .timeout_ms = 100,
			    .data = arg, .size = BIG_ARG};
	uint64_t before;

	fill_store(&f);
	before = live_objects(&f);
	run_bounded(&b, HANG_BOUND_MS, "a submit with timeout_ms 100");
	tu_assert_rc(b.rc, SHOAL_ESTOREFULL);
	cr_assert_geq(b.took_ms, 99, "gave up after %" PRId64 " ms", b.took_ms);
	cr_assert_lt(b.took_ms, 2000, "gave up after %" PRId64 " ms", b.took_ms);
	cr_assert_eq(live_objects(&f), before, "the failed submit left objects");
	/* With room back, the same submit goes through. */
	unfill_store(&f);
	run_bounded(&b, HANG_BOUND_MS, "a submit with room");
	tu_assert_rc(b.rc, 0);
	check_measure(&f, b.ref, arg, BIG_ARG);
	free(arg);
	stop(&f);
}

Test(runtime_bounds, a_try_submit_polls_a_full_store)
{
	struct fx f = start(1, 2 * MIB);
	uint8_t *arg = big_arg(2);
	struct bounded b = {.call = call_submit_opts, .f = &f, .timeout_ms = 0,
			    .data = arg, .size = BIG_ARG};

	fill_store(&f);
	run_bounded(&b, HANG_BOUND_MS, "a try-submit");
	tu_assert_rc(b.rc, SHOAL_ESTOREFULL);
	cr_assert_lt(b.took_ms, 1000, "a poll took %" PRId64 " ms", b.took_ms);
	unfill_store(&f);
	free(arg);
	stop(&f);
}

Test(runtime_bounds, a_plain_submit_gives_up_after_the_documented_bound)
{
	struct fx f = start(1, 2 * MIB);
	uint8_t *arg = big_arg(3);
	struct bounded b = {.call = call_submit, .f = &f, .data = arg,
			    .size = BIG_ARG};

	fill_store(&f);
	run_bounded(&b, SHOAL_SUBMIT_TIMEOUT_MS + HANG_BOUND_MS, "shoal_submit");
	tu_assert_rc(b.rc, SHOAL_ESTOREFULL);
	cr_assert_geq(b.took_ms, SHOAL_SUBMIT_TIMEOUT_MS - 1,
		      "gave up after %" PRId64 " ms", b.took_ms);
	unfill_store(&f);
	free(arg);
	stop(&f);
}

Test(runtime_bounds, a_call_with_a_timeout_or_a_try_call_gives_up_on_a_full_store)
{
	struct fx f = start(1, 2 * MIB);
	uint8_t *arg = big_arg(4);
	struct bounded b = {.call = call_actor, .f = &f, .timeout_ms = 100,
			    .data = arg, .size = BIG_ARG};
	struct shoal_actor_info info;
	uint64_t before;

	tu_assert_rc(shoal_actor_create(f.rt, "Sink", NULL, NULL, &b.actor), 0);
	b.method = shoal_actor_method(f.rt, b.actor, "measure");
	cr_assert_geq(b.method, 0);
	fill_store(&f);
	before = live_objects(&f);
	run_bounded(&b, HANG_BOUND_MS, "a call with timeout_ms 100");
	tu_assert_rc(b.rc, SHOAL_ESTOREFULL);
	cr_assert_geq(b.took_ms, 99, "gave up after %" PRId64 " ms", b.took_ms);
	cr_assert_lt(b.took_ms, 2000, "gave up after %" PRId64 " ms", b.took_ms);
	b.timeout_ms = 0;
	run_bounded(&b, HANG_BOUND_MS, "a try-call");
	tu_assert_rc(b.rc, SHOAL_ESTOREFULL);
	cr_assert_lt(b.took_ms, 1000, "a poll took %" PRId64 " ms", b.took_ms);
	cr_assert_eq(live_objects(&f), before, "the failed calls left objects");
	tu_assert_rc(shoal_actor_info(f.rt, b.actor, &info), 0);
	cr_assert_eq(info.calls_run, 0, "a failed call was queued");
	/* With room back, the same call goes through. */
	unfill_store(&f);
	b.timeout_ms = 100;
	run_bounded(&b, HANG_BOUND_MS, "a call with room");
	tu_assert_rc(b.rc, 0);
	check_measure(&f, b.ref, arg, BIG_ARG);
	free(arg);
	stop(&f);
}

/* ------------------------------------------------------------------ */
/* Point 9: argument holds go when their task is done                  */

/* An unsealed 8-byte object the driver made: sealing it opens the gate. */
static shoal_id make_gate(struct fx *f)
{
	shoal_id gate = shoal_id_next(f->s);
	void *data;

	tu_assert_rc(shoal_create(f->s, gate, 8, NULL, 0, 0, &data), 0);
	memset(data, 0x47, 8);
	return gate;
}

/* Submits gate(gate, arg): a task that blocks its worker until the gate
 * is sealed, and whose by-value argument the driver holds meanwhile. */
static shoal_id submit_gated(struct fx *f, shoal_id gate, const void *arg,
			     size_t size)
{
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	struct shoal_args a;
	shoal_id ref;

	o.timeout_ms = 0; /* there is room: it must not wait */
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &gate, sizeof gate), 0);
	tu_assert_rc(shoal_args_bytes(&a, arg, size), 0);
	tu_assert_rc(shoal_submit_opts(f->rt, shoal_function(f->rt, "gate"), &a,
				       &o, &ref), 0);
	return ref;
}

/* Gets (and drops) a gate() result: the length its task saw. */
static void check_len(struct fx *f, shoal_id ref, size_t size)
{
	struct shoal_view v;
	uint64_t len;

	tu_assert_rc(shoal_get(f->s, ref, 10000, &v), 0);
	cr_assert_eq(v.size, sizeof len);
	memcpy(&len, v.data, sizeof len);
	shoal_release(f->s, &v);
	cr_assert_eq(len, size);
	tu_assert_rc(shoal_drop(f->s, ref), 0);
}

static void open_gate_and_check(struct fx *f, shoal_id gate, shoal_id ref,
				size_t size)
{
	tu_assert_rc(shoal_seal(f->s, gate), 0);
	check_len(f, ref, size);
	tu_assert_rc(shoal_drop(f->s, gate), 0);
}

#define NBEHIND 24 /* 6 MiB of arguments through a 2 MiB store */

struct behind {
	struct fx *f;
	uint8_t *arg;
	shoal_id refs[NBEHIND];
};

/* Submits NBEHIND measure() tasks with a BIG_ARG argument each, waiting
 * for room as long as it takes. */
static int submit_behind(struct bounded *b)
{
	struct behind *bh = (struct behind *)b->data;
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	int fn = shoal_function(b->f->rt, "measure");

	o.timeout_ms = -1;
	for (int i = 0; i < NBEHIND; i++) {
		struct shoal_args a;
		int rc;

		shoal_args_init(&a);
		shoal_args_bytes(&a, bh->arg, BIG_ARG);
		rc = shoal_submit_opts(b->f->rt, fn, &a, &o, &bh->refs[i]);
		if (rc)
			return rc;
	}
	return 0;
}

Test(runtime_bounds, holds_of_tasks_done_go_even_behind_a_slow_task)
{
	struct fx f = start(2, 2 * MIB);
	struct behind bh = {.f = &f, .arg = big_arg(5)};
	struct bounded b = {.call = submit_behind, .f = &f, .data = &bh};
	uint8_t *slow_arg = big_arg(6);
	shoal_id gate = make_gate(&f);
	shoal_id slow = submit_gated(&f, gate, slow_arg, BIG_ARG);

	/* The slow task is the oldest pending one until the gate opens;
	 * every task behind it must still let its argument go when done. */
	run_bounded(&b, 10000, "submits behind a slow task");
	tu_assert_rc(b.rc, 0);
	for (int i = 0; i < NBEHIND; i++)
		check_measure(&f, bh.refs[i], bh.arg, BIG_ARG);
	open_gate_and_check(&f, gate, slow, BIG_ARG);
	free(slow_arg);
	free(bh.arg);
	stop(&f);
}

/* The thread's id, for tu_wait_sleeping. */
struct sleeper {
	struct bounded b;
	_Atomic pid_t tid;
};

static int submit_one_noting_tid(struct bounded *b)
{
	struct sleeper *sl = (struct sleeper *)b;
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	struct shoal_args a;

	atomic_store(&sl->tid, gettid());
	if (b->actor.magic) /* a call instead */
		return call_actor(b);
	o.timeout_ms = -1;
	shoal_args_init(&a);
	shoal_args_bytes(&a, b->data, b->size);
	return shoal_submit_opts(b->f->rt, shoal_function(b->f->rt, "measure"),
				 &a, &o, &b->ref);
}

/* The store is full of held objects and of the argument of a task or
 * call blocked on a gate (slow: its ref); a thread waits for room; the
 * gate opens.  The waiter must let go of the argument itself, woken by the
 * end of the task or call, not by its one-second re-check. */
static void wait_for_room_then_open(struct fx *f, struct sleeper *sl,
				    shoal_id gate, shoal_id slow)
{
	struct timespec ts;
	int64_t sealed;
	pthread_t th;

	fill_store(f);
	cr_assert_eq(pthread_create(&th, NULL, bounded_main, &sl->b), 0);
	for (int64_t end = tu_now_ms() + HANG_BOUND_MS;
	     !atomic_load(&sl->tid) && tu_now_ms() < end;)
		sched_yield(); /* the thread's first step */
	cr_assert(tu_wait_sleeping(atomic_load(&sl->tid), HANG_BOUND_MS),
		  "the submit or call did not wait for room");
	sealed = tu_now_ms();
	tu_assert_rc(shoal_seal(f->s, gate), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += HANG_BOUND_MS / 1000;
	cr_assert_eq(pthread_timedjoin_np(th, NULL, &ts), 0,
		     "still waiting for room %d ms after the task or call "
		     "that held it ended", HANG_BOUND_MS);
	tu_assert_rc(sl->b.rc, 0);
	cr_assert_lt(tu_now_ms() - sealed, TU_WAKE_LATENCY_MS,
		     "it returned %" PRId64 " ms after the gate opened",
		     tu_now_ms() - sealed);
	check_measure(f, sl->b.ref, sl->b.data, BIG_ARG);
	check_len(f, slow, BIG_ARG);
	tu_assert_rc(shoal_drop(f->s, gate), 0);
	unfill_store(f);
}

Test(runtime_bounds, a_submit_waiting_for_room_lets_go_of_a_task_that_ends)
{
	struct fx f = start(1, 2 * MIB);
	uint8_t *arg = big_arg(7), *slow_arg = big_arg(8);
	shoal_id gate = make_gate(&f);
	shoal_id slow = submit_gated(&f, gate, slow_arg, BIG_ARG);
	struct sleeper sl = {.b = {.call = submit_one_noting_tid, .f = &f,
				   .data = arg, .size = BIG_ARG}};

	wait_for_room_then_open(&f, &sl, gate, slow);
	free(arg);
	free(slow_arg);
	stop(&f);
}

Test(runtime_bounds, a_call_waiting_for_room_lets_go_of_a_call_that_ends)
{
	struct fx f = start(1, 2 * MIB);
	uint8_t *arg = big_arg(9), *slow_arg = big_arg(10);
	shoal_id gate = make_gate(&f), slow;
	struct sleeper sl = {.b = {.call = submit_one_noting_tid, .f = &f,
				   .timeout_ms = -1, .data = arg,
				   .size = BIG_ARG}};
	struct shoal_actor slow_actor;
	struct shoal_args a;

	/* Two actors: the gated call blocks the first one. */
	tu_assert_rc(shoal_actor_create(f.rt, "Sink", NULL, NULL, &slow_actor), 0);
	tu_assert_rc(shoal_actor_create(f.rt, "Sink", NULL, NULL, &sl.b.actor), 0);
	sl.b.method = shoal_actor_method(f.rt, sl.b.actor, "measure");
	cr_assert_geq(sl.b.method, 0);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &gate, sizeof gate), 0);
	tu_assert_rc(shoal_args_bytes(&a, slow_arg, BIG_ARG), 0);
	tu_assert_rc(shoal_actor_call(f.rt, slow_actor,
				      shoal_actor_method(f.rt, slow_actor, "gate"),
				      &a, &slow), 0);
	wait_for_room_then_open(&f, &sl, gate, slow);
	free(arg);
	free(slow_arg);
	stop(&f);
}

/* ------------------------------------------------------------------ */
/* Point 15: nested tasks deeper than the pool never hang in silence   */

static shoal_id submit_deep(struct fx *f, int64_t depth)
{
	struct shoal_args a;
	shoal_id ref;

	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &depth, sizeof depth), 0);
	tu_assert_rc(shoal_submit(f->rt, shoal_function(f->rt, "deep"), &a, 1, &ref),
		     0);
	return ref;
}

/* Gets an int64 result: 0 and *v, or the get's error. */
static int get_i64(struct fx *f, shoal_id ref, int timeout_ms, int64_t *v)
{
	struct shoal_view view;
	int rc = shoal_get(f->s, ref, timeout_ms, &view);

	if (rc)
		return rc;
	cr_assert_eq(view.size, sizeof *v);
	memcpy(v, view.data, sizeof *v);
	shoal_release(f->s, &view);
	return 0;
}

Test(runtime_bounds, tasks_nested_as_deep_as_the_pool_can_grow_succeed)
{
	struct fx f = start(2, 8 * MIB); /* grows to 2 + 8 workers */
	shoal_id ref = submit_deep(&f, 9); /* 9 blocked levels and a leaf */
	int64_t v = -1;

	tu_assert_rc(get_i64(&f, ref, 20000, &v), 0);
	cr_assert_eq(v, 9);
	tu_assert_rc(shoal_drop(f.s, ref), 0);
	stop(&f);
}

Test(runtime_bounds, tasks_nested_deeper_than_the_pool_fail_with_their_own_error)
{
	struct fx f = start(2, 8 * MIB); /* at most 10 workers */
	shoal_id ref = submit_deep(&f, 11); /* 12 levels */
	struct shoal_runtime_info info;
	int64_t t0 = tu_now_ms(), v = -1;
	char msg[256];
	int rc;

	/* Was: every level blocked for ever, the driver's get timed out. */
	rc = get_i64(&f, ref, 15000, &v);
	tu_assert_rc(rc, SHOAL_EPOOLEXHAUSTED, "after %" PRId64 " ms",
		     tu_now_ms() - t0);
	cr_assert_lt(tu_now_ms() - t0, 10000, "the error took %" PRId64 " ms",
		     tu_now_ms() - t0);
	cr_assert_geq(shoal_error_message(f.s, ref, msg, sizeof msg), 0);
	cr_assert_not_null(strstr(msg, "could never run"), "message: %s", msg);
	cr_assert_str_neq(shoal_strerror(SHOAL_EPOOLEXHAUSTED),
			  "unknown shoal error");
	tu_assert_rc(shoal_drop(f.s, ref), 0);
	/* Every level let go of its worker: the runtime goes on. */
	ref = submit_deep(&f, 3);
	tu_assert_rc(get_i64(&f, ref, 20000, &v), 0);
	cr_assert_eq(v, 3);
	tu_assert_rc(shoal_drop(f.s, ref), 0);
	tu_assert_rc(shoal_runtime_info(f.rt, &info, NULL, 0), 0);
	cr_assert_eq(info.workers_died, 0);
	stop(&f);
}

/* The same with another process busy on a CPU all along.  A blocked
 * worker used to ask its fork server for the deadlock check before it
 * linked itself into the waiter stack the check walks; on a busy machine
 * the fork server ran at once, found the asker waiting for nothing, and
 * every check failed: the gets ran out their 15 s (4 runs of 4 with one
 * spinning process).  The ask now comes with the record linked. */
Test(runtime_bounds, tasks_nested_deeper_than_the_pool_fail_in_time_on_a_busy_machine)
{
	struct fx f = start(2, 8 * MIB); /* at most 10 workers */
	pid_t hog = tu_fork();
	int64_t t0, v = -1;
	shoal_id ref;
	int rc;

	if (hog == 0)
		for (volatile unsigned long spin = 0;; spin++)
			; /* busy until killed (tu_teardown too, on a failure) */
	t0 = tu_now_ms();
	ref = submit_deep(&f, 11); /* 12 levels */
	rc = get_i64(&f, ref, 15000, &v);
	kill(hog, SIGKILL);
	waitpid(hog, NULL, 0);
	tu_assert_rc(rc, SHOAL_EPOOLEXHAUSTED, "after %" PRId64 " ms",
		     tu_now_ms() - t0);
	cr_assert_lt(tu_now_ms() - t0, 10000, "the error took %" PRId64 " ms",
		     tu_now_ms() - t0);
	tu_assert_rc(shoal_drop(f.s, ref), 0);
	stop(&f);
}

/* A full pool whose workers wait for the driver, not for queued tasks, is
 * no deadlock: its queued task must run once the driver answers. */
Test(runtime_bounds, a_full_pool_waiting_for_the_driver_fails_nothing)
{
	struct fx f = start_extra(1, 1, 8 * MIB); /* at most 2 workers */
	uint8_t small[32] = {1, 2, 3};
	shoal_id gate = make_gate(&f), slow[3];
	struct shoal_runtime_info info;
	int64_t deadline;
	uint8_t ready[3];

	/* Two run and block on the gate, one at a time (a worker takes what
	 * is queued in bulk), and the third stays queued. */
	slow[0] = submit_gated(&f, gate, small, sizeof small);
	deadline = tu_now_ms() + HANG_BOUND_MS;
	do /* the second worker starts once the first blocks */
		tu_assert_rc(shoal_runtime_info(f.rt, &info, NULL, 0), 0);
	while (info.workers_alive < 2 && tu_now_ms() < deadline);
	cr_assert_eq(info.workers_alive, 2);
	slow[1] = submit_gated(&f, gate, small, sizeof small);
	do /* the second worker took it */
		tu_assert_rc(shoal_runtime_info(f.rt, &info, NULL, 0), 0);
	while (info.tasks_queued > 0 && tu_now_ms() < deadline);
	cr_assert_eq(info.tasks_queued, 0);
	slow[2] = submit_gated(&f, gate, small, sizeof small);
	/* Blocked workers ask for a worker again every second: give the
	 * fork server a few chances to take this for a deadlock. */
	tu_assert_rc(shoal_wait(f.s, slow, 3, 1, 2500, ready), 0);
	tu_assert_rc(shoal_runtime_info(f.rt, &info, NULL, 0), 0);
	cr_assert_eq(info.tasks_failed, 0, "a task was failed");
	tu_assert_rc(shoal_seal(f.s, gate), 0);
	for (int i = 0; i < 3; i++)
		check_len(&f, slow[i], sizeof small);
	tu_assert_rc(shoal_drop(f.s, gate), 0);
	stop(&f);
}
