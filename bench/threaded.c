/* SPDX-License-Identifier: MIT */
/*
 * bench/threaded.c - the threaded-actor family of shoal-bench: calls on
 * one actor from 2 callers (client tasks on 2 workers, each its own lane
 * into the actor), the actor run by one thread against two
 * (max_concurrency 2), so that the two rates of each pair compare.
 *
 *   threaded_actor_io_calls_1_thread, ..._2_threads   each call waits
 *       100 us in the method (clock_nanosleep: a method that waits for
 *       I/O, what Ray's threaded actors are for): one thread runs them
 *       one after the other, two at once
 *   threaded_actor_calls_1_thread, ..._2_threads      an empty method
 *       (returns 8 bytes): the dispatch's own cost, where threads cannot
 *       help (2 CPUs, 2 callers and the actor's threads share them)
 *
 * Each client: windows of T_WINDOW calls, one get_many, release and drop
 * every result; the rate is the calls of both over the longest client's
 * time.  Runtimes are private (no /dev/shm file) and shut down on every
 * path.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "bench.h"
#include "families.h"

#define T_WINDOW 100u           /* calls in flight per client */
#define T_CLIENTS 2u
#define T_IO_NS 100000L         /* the io method's wait */
#define T_TIMEOUT_MS 30000
#define T_BARRIER_S 10.0

static const char ok8[8] = "ok";

/* The clients' start barrier, mapped before the runtime starts. */
struct t_page {
	_Atomic uint64_t arrived;
};

static int t_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

static int t_value(struct shoal_task *t, void *self)
{
	(void)self;
	return shoal_task_return(t, 0, ok8, sizeof ok8);
}

static int t_io(struct shoal_task *t, void *self)
{
	struct timespec d = {0, T_IO_NS};

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &d, &d) == EINTR)
		;
	return t_value(t, self);
}

/* One window: n calls of method m, get_many, release, drop. */
static int t_window(struct shoal_runtime *rt, struct shoal_actor a, int m,
		    shoal_id *refs, struct shoal_view *views)
{
	struct shoal_store *s = shoal_runtime_store(rt);
	uint32_t made = 0;
	int rc = 0;

	for (; made < T_WINDOW && rc == 0; made++)
		rc = shoal_actor_call(rt, a, m, NULL, &refs[made]);
	if (rc < 0)
		made--;
	if (rc == 0)
		rc = shoal_get_many(s, refs, T_WINDOW, T_TIMEOUT_MS, views);
	for (uint32_t i = 0; rc >= 0 && made == T_WINDOW && i < T_WINDOW; i++) {
		if (views[i].err && rc >= 0)
			rc = views[i].err;
		if (views[i].data)
			shoal_release(s, &views[i]);
	}
	for (uint32_t i = 0; i < made; i++)
		shoal_drop(s, refs[i]);
	return rc < 0 ? rc : 0;
}

/* The client task: args actor, method, run ns; waits for the other
 * client, runs windows until the time is up; returns {calls, ns}. */
static int t_client(struct shoal_task *t, void *user)
{
	struct t_page *pg = user;
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_actor a;
	shoal_id refs[T_WINDOW];
	struct shoal_view views[T_WINDOW];
	uint64_t run_ns, out[2] = {0, 0};
	int32_t m;
	const void *d;
	size_t len;
	double t0, deadline = now_s() + T_BARRIER_S;
	int rc = 0;

	if (shoal_task_arg_actor(t, 0, &a) || shoal_task_arg(t, 1, &d, &len) ||
	    len != sizeof m)
		return shoal_task_fail(t, -EINVAL, "client: bad arguments");
	memcpy(&m, d, sizeof m);
	if (shoal_task_arg(t, 2, &d, &len) || len != sizeof run_ns)
		return shoal_task_fail(t, -EINVAL, "client: bad arguments");
	memcpy(&run_ns, d, sizeof run_ns);
	atomic_fetch_add(&pg->arrived, 1);
	while (atomic_load(&pg->arrived) < T_CLIENTS && now_s() < deadline)
		sched_yield();
	t0 = now_s();
	do {
		rc = t_window(rt, a, m, refs, views);
		out[0] += T_WINDOW;
		out[1] = (uint64_t)((now_s() - t0) * 1e9);
	} while (rc == 0 && out[1] < run_ns);
	if (rc < 0)
		return shoal_task_fail(t, rc, "client: %s", shoal_strerror(rc));
	return shoal_task_return(t, 0, out, sizeof out);
}

struct t_run {
	struct shoal_runtime *rt;
	struct shoal_actor a;
	int client;
	int32_t method;
	struct t_page *pg;
};

/* A private runtime (2 workers) with one actor of `threads` threads. */
static int t_start(struct t_run *r, uint32_t threads, const char *method,
		   struct metric *m)
{
	struct shoal_actor_options ao = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_runtime_options o;
	struct shoal_registry *reg;
	int rc = shoal_registry_open(&reg);

	if (rc < 0)
		return rc;
	rc = shoal_register_actor(reg, "Threaded", t_init, NULL);
	if (rc == 0)
		rc = shoal_register_method(reg, "Threaded", "value", t_value);
	if (rc == 0)
		rc = shoal_register_method(reg, "Threaded", "io", t_io);
	if (rc == 0)
		rc = shoal_register_task(reg, "client", t_client, r->pg);
	shoal_runtime_options_init(&o);
	o.num_workers = T_CLIENTS;
	if (rc == 0)
		rc = shoal_runtime_start(reg, &o, &r->rt);
	shoal_registry_close(reg);
	if (rc < 0)
		return rc;
	ao.max_concurrency = threads;
	rc = shoal_actor_create(r->rt, "Threaded", NULL, &ao, &r->a);
	r->method = rc ? rc : shoal_actor_method(r->rt, r->a, method);
	r->client = rc ? rc : shoal_function(r->rt, "client");
	rc = r->method < 0 ? r->method : r->client < 0 ? r->client : 0;
	m->runtime = true;
	m->workers = T_CLIENTS;
	m->spin_budget = o.store.spin_budget;
	m->procs = T_CLIENTS;
	if (rc < 0) {
		shoal_runtime_shutdown(r->rt);
		r->rt = NULL;
	}
	return rc;
}

/* One round of both clients for `seconds`: calls per second. */
static int t_round(struct t_run *r, double seconds, double *rate)
{
	struct shoal_store *s = shoal_runtime_store(r->rt);
	uint64_t run_ns = (uint64_t)(seconds * 1e9), calls = 0, ns = 0;
	shoal_id refs[T_CLIENTS];
	uint32_t done = 0;
	int rc = 0;

	atomic_store(&r->pg->arrived, 0);
	for (; done < T_CLIENTS && rc == 0; done++) {
		struct shoal_args a;

		shoal_args_init(&a);
		shoal_args_actor(&a, &r->a);
		shoal_args_bytes(&a, &r->method, sizeof r->method);
		shoal_args_bytes(&a, &run_ns, sizeof run_ns);
		rc = shoal_submit(r->rt, r->client, &a, 1, &refs[done]);
	}
	if (rc < 0)
		done--;
	for (uint32_t i = 0; rc == 0 && i < done; i++) {
		struct shoal_view v;
		uint64_t out[2];

		rc = shoal_get(s, refs[i], T_TIMEOUT_MS + 10000, &v);
		if (rc < 0)
			break;
		if (v.size == sizeof out) {
			memcpy(out, v.data, sizeof out);
			calls += out[0];
			ns = out[1] > ns ? out[1] : ns;
		} else {
			rc = -EBADMSG;
		}
		shoal_release(s, &v);
	}
	for (uint32_t i = 0; i < done; i++)
		shoal_drop(s, refs[i]);
	*rate = ns ? (double)calls * 1e9 / (double)ns : 0;
	return rc;
}

static int t_metric(const struct bench_ctx *ctx, struct t_page *pg,
		    const char *name, const char *method, uint32_t threads,
		    const char *note)
{
	struct metric m = {.name = name, .unit = UNIT_OPS, .note = note,
			   .verdict = -1};
	struct t_run r = {.pg = pg};
	double v[REPS_FULL], rate;
	int rc;

	if (!wanted(ctx, name))
		return 0;
	rc = t_start(&r, threads, method, &m);
	if (rc == 0)
		rc = t_round(&r, ctx->rep_seconds / 4, &rate); /* warm-up */
	for (int i = 0; rc == 0 && i < ctx->reps; i++)
		rc = t_round(&r, ctx->rep_seconds, &v[i]);
	if (r.rt) {
		int s = shoal_runtime_shutdown(r.rt);

		rc = rc < 0 ? rc : s;
	}
	if (rc < 0)
		return emit_error(ctx, name, 0, rc);
	m.st = stats_of(v, ctx->reps);
	add_extra(&m, "threads", threads);
	emit(ctx, &m);
	return 0;
}

int family_threaded(const struct bench_ctx *ctx)
{
	static const char io_note[] =
		"2 client tasks (2 workers, a lane each) -> 1 actor; each call "
		"waits 100 us in the method; windows of 100, get_many; calls/s "
		"of both";
	static const char note[] =
		"2 client tasks (2 workers, a lane each) -> 1 actor; an empty "
		"method; windows of 100, get_many; calls/s of both";
	struct t_page *pg = mmap(NULL, sizeof *pg, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int rc = 0;

	if (pg == MAP_FAILED)
		return emit_error(ctx, "threaded_actor_calls", 0, -errno);
	if (!rc)
		rc = t_metric(ctx, pg, "threaded_actor_io_calls_1_thread", "io", 1,
			      io_note);
	if (!rc)
		rc = t_metric(ctx, pg, "threaded_actor_io_calls_2_threads", "io", 2,
			      io_note);
	if (!rc)
		rc = t_metric(ctx, pg, "threaded_actor_calls_1_thread", "value", 1,
			      note);
	if (!rc)
		rc = t_metric(ctx, pg, "threaded_actor_calls_2_threads", "value", 2,
			      note);
	munmap(pg, sizeof *pg);
	return rc;
}
