/* SPDX-License-Identifier: MIT */
/*
 * tests/actors/callers.c - many callers of one actor at once (driver
 * threads, tasks in workers, attached programs): each caller's calls run
 * in its order, none lost, none repeated, on a lane of any size, and a
 * caller killed mid-call stops none of the others.
 */
#include <inttypes.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"

#define HAMMER_CALLS 2048 /* per caller, a multiple of SEQ_BATCH */
#define MAX_THREADS 8

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
