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
#include <stdlib.h>
#include <time.h>

#include <shoal/shoal.h>

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

static struct fx start(uint32_t workers, uint64_t capacity)
{
	struct fx f = {0};
	struct shoal_runtime_options o;

	tu_assert_rc(shoal_registry_open(&f.reg), 0);
	tu_assert_rc(shoal_register_task(f.reg, "measure", task_measure, NULL), 0);
	tu_assert_rc(shoal_register_actor(f.reg, "Sink", sink_init, NULL), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Sink", "measure", task_measure), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.max_tasks = 1024;
	o.max_actors = 4;
	o.store.capacity = capacity;
	o.store.max_objects = 4096;
	tu_assert_rc(shoal_runtime_start(f.reg, &o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	return f;
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
