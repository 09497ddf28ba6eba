/* SPDX-License-Identifier: MIT */
/*
 * tests/actors/deaths.c - kills, crashes and restarts: what happens to the
 * calls running, queued and made after, a kill racing with calls or with
 * the constructor, restarts that rebuild the state (from a ref argument
 * too) and run the queued calls, task retries.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"

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
