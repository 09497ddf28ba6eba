/* SPDX-License-Identifier: MIT */
/*
 * bench/actors.c - the actor family of shoal-bench, under Ray's names
 * (python/ray/_private/ray_perf.py), counted as Ray counts them: calls
 * completed and their results fetched (get, then release and drop in one
 * change: shoal_release_drop).
 *
 *   1_1_actor_calls_sync     one caller, one actor: call, get, drop, repeat
 *   1_1_actor_calls_async    windows of 1000 calls, one get_many each
 *   1_n_actor_calls_async    the same, spread over 2 actors
 *   n_n_actor_calls_async    2 clients (tasks on 2 workers) x 2 actors,
 *                            each client windows over both actors
 *   n_n_actor_calls_with_arg_async  the same, each call with a ref
 *                            argument (Ray's ray.put(0) ref)
 *   actor_call_enqueue_rate  fire-and-forget calls one caller writes per
 *                            second into its lane, timed over bursts of
 *                            the lane's capacity into an empty lane (the
 *                            actor drains it between bursts, untimed)
 *   1_1_actor_calls_async_split, _1cpu  1_1_actor_calls_async with the
 *                            caller pinned to CPU 0 and the actor to CPU
 *                            1, or both to CPU 0: the placements of the
 *                            peers' one-way rates (bench/peers/)
 *   actor_call_rtt_spin_{p50,p99,p999}_ns  one call + get round trip,
 *                            per-call samples; the caller pinned to CPU
 *                            0, the actor to CPU 1 (the one worker
 *                            sleeps: nothing else spins)
 *   actor_call_rtt_sleep_*   the same with spin budget 0 (sleeping)
 *   actor_call_rtt_sleep_1cpu_*  the same, caller and actor on CPU 0
 *
 * The actor's methods return 8 bytes ("ok" padded), like Ray's b"ok".
 * Runtimes are private (no /dev/shm file) and shut down on every path.
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

#define A_WINDOW 1000u          /* async: calls in flight, then get_many */
#define A_TIMEOUT_MS 10000      /* a get of a call's result */
#define A_SYNC_BATCH 64u
#define A_ACTORS 2u             /* 1:n and n:n */
#define A_CLIENTS 2u            /* n:n */
#define A_BARRIER_S 10.0
#define A_CLIENT_TIMEOUT_MS 120000
#define A_LANE 1024u            /* max_pending_calls: the lane's capacity */

#define TARGET_ACTOR_ASYNC 2e6
#define TARGET_ACTOR_NN 2e6
#define TARGET_ENQUEUE 10e6
#define TARGET_RTT_SPIN_NS 1000.0
#define TARGET_RTT_SLEEP_VS_FUTEX 1.1 /* issue 12 */

static const char ok8[8] = "ok";

static int bench_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

static int small_value(struct shoal_task *t, void *self)
{
	(void)self;
	return shoal_task_return(t, 0, ok8, sizeof ok8);
}

static int noop(struct shoal_task *t, void *self)
{
	(void)t;
	(void)self;
	return 0;
}

/* The clients' start barrier, mapped before the runtime starts (its
 * processes inherit it). */
struct a_page {
	_Atomic uint64_t arrived;
};

struct a_window {
	shoal_id refs[A_WINDOW];
	struct shoal_view views[A_WINDOW];
};

struct a_state {
	struct shoal_runtime *rt;
	struct shoal_actor actors[A_ACTORS];
	uint32_t nactors;
	int m_value, m_arg, m_noop;
	shoal_id arg;               /* with_arg: a put object, or nil */
	struct a_window *w;
};

static int drop_refs(struct shoal_store *s, const shoal_id *refs, uint32_t n,
		     int rc)
{
	for (uint32_t i = 0; i < n; i++) {
		int r = shoal_id_is_nil(refs[i]) ? 0 : shoal_drop(s, refs[i]);

		rc = rc < 0 ? rc : r;
	}
	return rc;
}

/* One call to actor i % nactors; the ref arg if the state has one. */
static int a_call(struct a_state *st, uint32_t i, shoal_id *ref)
{
	struct shoal_args a;
	bool with_arg = !shoal_id_is_nil(st->arg);

	shoal_args_init(&a);
	if (with_arg)
		shoal_args_ref(&a, st->arg);
	return shoal_actor_call(st->rt, st->actors[i % st->nactors],
				with_arg ? st->m_arg : st->m_value, &a, ref);
}

/* n calls, one get_many, release and drop every result (one change each). */
static int a_window_run(struct a_state *st, uint32_t n)
{
	struct shoal_store *s = shoal_runtime_store(st->rt);
	uint32_t done = 0;
	int rc = 0;

	for (; done < n && rc == 0; done++)
		rc = a_call(st, done, &st->w->refs[done]);
	if (rc < 0)
		done--;
	if (rc == 0)
		rc = shoal_get_many(s, st->w->refs, n, A_TIMEOUT_MS, st->w->views);
	for (uint32_t i = 0; rc >= 0 && i < n; i++) {
		if (st->w->views[i].err)
			rc = st->w->views[i].err;
		else if (st->w->views[i].size != sizeof ok8)
			rc = -EBADMSG;
	}
	/* Each result released and dropped in one change; the refs left
	 * (a failed get, calls not all made) dropped alone. */
	for (uint32_t i = 0; done == n && i < n; i++) {
		if (!st->w->views[i].data)
			continue;
		if (shoal_release_drop(s, &st->w->views[i]) == 0)
			st->w->refs[i] = (shoal_id){0, 0};
		else
			shoal_release(s, &st->w->views[i]);
	}
	return drop_refs(s, st->w->refs, done, rc < 0 ? rc : 0);
}

static int a_async_batch(void *arg, uint64_t n)
{
	struct a_state *st = arg;

	for (uint64_t i = 0; i < n; i += A_WINDOW) {
		uint32_t k = n - i < A_WINDOW ? (uint32_t)(n - i) : A_WINDOW;
		int rc = a_window_run(st, k);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* One call + get + release + drop. */
static int a_round_trip(struct a_state *st)
{
	struct shoal_store *s = shoal_runtime_store(st->rt);
	struct shoal_view v;
	shoal_id ref;
	int rc = a_call(st, 0, &ref);

	if (rc < 0)
		return rc;
	rc = shoal_get(s, ref, A_TIMEOUT_MS, &v);
	if (rc == 0) {
		rc = v.size == sizeof ok8 ? 0 : -EBADMSG;
		if (shoal_release_drop(s, &v) == 0)
			return rc;
		shoal_release(s, &v);
	}
	return drop_refs(s, &ref, 1, rc);
}

static int a_sync_batch(void *arg, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		int rc = a_round_trip(arg);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A client of n_n (a task on a worker): args are the actor handles'
 * bytes, the run time in ns and the number of clients; waits for the
 * others, then runs windows over the actors until the time is up.
 * Returns {calls, elapsed ns}. */
static int a_client(struct shoal_task *t, void *user)
{
	struct a_page *pg = user;
	struct a_state st = {.rt = shoal_task_runtime(t)};
	uint64_t run_ns, clients, out[2] = {0, 0};
	const void *d;
	size_t len;
	double t0, deadline = now_s() + A_BARRIER_S;
	int rc = 0;

	if (shoal_task_arg(t, 0, &d, &len) || len != sizeof st.actors ||
	    shoal_task_arg(t, 1, &d, &len) || len != sizeof run_ns)
		return shoal_task_fail(t, -EINVAL, "client: bad arguments");
	shoal_task_arg(t, 0, &d, &len);
	memcpy(st.actors, d, sizeof st.actors);
	shoal_task_arg(t, 1, &d, &len);
	memcpy(&run_ns, d, sizeof run_ns);
	shoal_task_arg(t, 2, &d, &len);
	memcpy(&clients, d, sizeof clients);
	if (shoal_task_num_args(t) > 3) {
		shoal_task_arg(t, 3, &d, &len);
		memcpy(&st.arg, d, sizeof st.arg);
	}
	st.nactors = A_ACTORS;
	st.m_value = shoal_actor_method(st.rt, st.actors[0], "small_value");
	st.m_arg = shoal_actor_method(st.rt, st.actors[0], "small_value_arg");
	st.w = malloc(sizeof *st.w);
	if (!st.w || st.m_value < 0 || st.m_arg < 0)
		return shoal_task_fail(t, -ENOMEM, "client: setup");
	atomic_fetch_add(&pg->arrived, 1);
	while (atomic_load(&pg->arrived) < clients && now_s() < deadline)
		sched_yield();
	t0 = now_s();
	do {
		rc = a_window_run(&st, A_WINDOW);
		out[0] += A_WINDOW;
		out[1] = (uint64_t)((now_s() - t0) * 1e9);
	} while (rc == 0 && out[1] < run_ns);
	free(st.w);
	if (rc < 0)
		return shoal_task_fail(t, rc, "client: %s", shoal_strerror(rc));
	return shoal_task_return(t, 0, out, sizeof out);
}

/* A private runtime with the Bench actor class and the client task;
 * flags: shoal_runtime_options.flags (0: everything on). */
static int a_start(uint32_t workers, int64_t spin_budget, uint64_t flags,
		   struct a_page *pg, uint32_t nactors, struct a_state *st,
		   struct metric *m)
{
	struct shoal_runtime_options o;
	struct shoal_registry *reg;
	int rc = shoal_registry_open(&reg);

	st->rt = NULL;
	if (rc < 0)
		return rc;
	rc = shoal_register_actor(reg, "Bench", bench_init, NULL);
	if (rc == 0)
		rc = shoal_register_method(reg, "Bench", "small_value", small_value);
	if (rc == 0)
		rc = shoal_register_method(reg, "Bench", "small_value_arg", small_value);
	if (rc == 0)
		rc = shoal_register_method(reg, "Bench", "noop", noop);
	if (rc == 0)
		rc = shoal_register_task(reg, "client", a_client, pg);
	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.max_pending_calls = A_LANE;
	o.flags = flags;
	if (spin_budget >= 0)
		o.store.spin_budget = (uint32_t)spin_budget;
	if (rc == 0)
		rc = shoal_runtime_start(reg, &o, &st->rt);
	shoal_registry_close(reg);
	for (uint32_t i = 0; rc == 0 && i < nactors; i++)
		rc = shoal_actor_create(st->rt, "Bench", NULL, NULL, &st->actors[i]);
	st->nactors = nactors;
	if (rc == 0) {
		st->m_value = shoal_actor_method(st->rt, st->actors[0], "small_value");
		st->m_arg = shoal_actor_method(st->rt, st->actors[0], "small_value_arg");
		st->m_noop = shoal_actor_method(st->rt, st->actors[0], "noop");
		rc = st->m_value < 0 ? st->m_value : st->m_noop < 0 ? st->m_noop : 0;
	}
	if (rc == 0) {
		struct shoal_store_stats ss;

		m->runtime = true;
		m->workers = workers;
		m->spin_budget = o.store.spin_budget;
		if (shoal_store_stats(shoal_runtime_store(st->rt), &ss) == 0)
			m->capacity = ss.capacity;
	}
	if (rc < 0 && st->rt) {
		shoal_runtime_shutdown(st->rt);
		st->rt = NULL;
	}
	return rc;
}

static int a_stop(struct a_state *st, int rc)
{
	int r = shoal_runtime_shutdown(st->rt);

	st->rt = NULL;
	free(st->w);
	st->w = NULL;
	return rc < 0 ? rc : r;
}

/* Waits until the first actor has run `target` calls in all. */
static int a_drained(struct a_state *st, uint64_t target)
{
	struct shoal_actor_info info;
	double deadline = now_s() + A_TIMEOUT_MS / 1000.0;

	do {
		int rc = shoal_actor_info(st->rt, st->actors[0], &info);

		if (rc < 0)
			return rc;
		if (info.calls_run >= target)
			return 0;
		sched_yield();
	} while (now_s() < deadline);
	return -ETIMEDOUT;
}

/* ---- 1:1 sync, 1:1 async, 1:n async -------------------------------- */

/* 1_1_actor_calls_async's workload on a runtime of its own (one worker,
 * one actor), for the timeline family (bench.h). */
int actors_async_open(uint64_t flags, struct workload *w, struct metric *m)
{
	struct a_state *st = calloc(1, sizeof *st);
	int rc = st ? 0 : -ENOMEM;

	if (rc == 0) {
		st->w = malloc(sizeof *st->w);
		rc = st->w ? 0 : -ENOMEM;
	}
	if (rc == 0)
		rc = a_start(1, -1, flags, NULL, 1, st, m);
	if (rc < 0) {
		if (st)
			free(st->w);
		free(st);
		return rc;
	}
	*w = (struct workload){a_async_batch, st, A_WINDOW, 0, UNIT_OPS};
	return 0;
}

int actors_async_close(struct workload *w, int rc)
{
	struct a_state *st = w->state;

	rc = a_stop(st, rc); /* frees st->w */
	free(st);
	w->state = NULL;
	return rc;
}

static int a_simple(const struct bench_ctx *ctx, const char *name, uint32_t nactors,
		    bool sync, const char *target, double want, const char *note)
{
	struct metric m = {.name = name, .unit = UNIT_OPS, .target = target,
			   .note = note, .verdict = -1};
	struct a_state st = {0};
	struct workload w = {sync ? a_sync_batch : a_async_batch, &st,
			     sync ? A_SYNC_BATCH : A_WINDOW, 0, UNIT_OPS};
	int rc;

	if (!wanted(ctx, name))
		return 0;
	st.w = malloc(sizeof *st.w);
	if (!st.w)
		return emit_error(ctx, name, 0, -ENOMEM);
	rc = a_start(1, -1, 0, NULL, nactors, &st, &m);
	if (rc == 0)
		rc = a_stop(&st, measure(ctx, &w, 1, &m.st));
	else
		free(st.w);
	if (rc < 0)
		return emit_error(ctx, name, 0, rc);
	if (want > 0)
		m.verdict = m.st.median >= want;
	if (sync)
		add_extra(&m, "rtt_ns", 1e9 / m.st.median);
	emit(ctx, &m);
	return 0;
}

/* ---- n:n ----------------------------------------------------------- */

/* One round: A_CLIENTS client tasks for `seconds`; rate = calls / the
 * longest client's time. */
static int a_nn_round(struct a_state *st, struct a_page *pg, int client,
		      double seconds, double *rate)
{
	struct shoal_store *s = shoal_runtime_store(st->rt);
	uint64_t run_ns = (uint64_t)(seconds * 1e9), n = A_CLIENTS, calls = 0, ns = 0;
	shoal_id refs[A_CLIENTS];
	int rc = 0;
	uint32_t done = 0;

	atomic_store(&pg->arrived, 0);
	for (; done < A_CLIENTS && rc == 0; done++) {
		struct shoal_args a;

		shoal_args_init(&a);
		shoal_args_bytes(&a, st->actors, sizeof st->actors);
		shoal_args_bytes(&a, &run_ns, sizeof run_ns);
		shoal_args_bytes(&a, &n, sizeof n);
		if (!shoal_id_is_nil(st->arg))
			shoal_args_bytes(&a, &st->arg, sizeof st->arg);
		rc = shoal_submit(st->rt, client, &a, 1, &refs[done]);
	}
	if (rc < 0)
		done--;
	for (uint32_t i = 0; rc == 0 && i < done; i++) {
		struct shoal_view v;
		uint64_t out[2];

		rc = shoal_get(s, refs[i], A_CLIENT_TIMEOUT_MS, &v);
		if (rc < 0) {
			char msg[256];

			if (shoal_error_message(s, refs[i], msg, sizeof msg) >= 0)
				fprintf(stderr, "shoal-bench: a client failed: %s\n", msg);
			break;
		}
		if (v.size == sizeof out) {
			memcpy(out, v.data, sizeof out);
			calls += out[0];
			ns = out[1] > ns ? out[1] : ns;
		} else {
			rc = -EBADMSG;
		}
		shoal_release(s, &v);
	}
	rc = drop_refs(s, refs, done, rc);
	*rate = ns ? (double)calls * 1e9 / (double)ns : 0;
	return rc;
}

static int a_nn(const struct bench_ctx *ctx, bool with_arg)
{
	struct metric m = {
		.name = with_arg ? "n_n_actor_calls_with_arg_async"
				 : "n_n_actor_calls_async",
		.unit = UNIT_OPS, .target = with_arg ? NULL : ">= 2M/s",
		.procs = A_CLIENTS, .verdict = -1,
		.note = with_arg
			? "2 client tasks (2 workers) x 2 actors; each client: "
			  "windows of 1000 calls round-robin over both actors, "
			  "each with a ref argument (one put object), get_many, "
			  "shoal_release_drop; calls/s of both"
			: "2 client tasks (2 workers) x 2 actors; each client: "
			  "windows of 1000 calls round-robin over both actors, "
			  "get_many, shoal_release_drop; calls/s of both",
	};
	double v[REPS_FULL], rate;
	struct a_state st = {0};
	struct a_page *pg;
	int rc, client;

	if (!wanted(ctx, m.name))
		return 0;
	pg = mmap(NULL, sizeof *pg, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pg == MAP_FAILED)
		return emit_error(ctx, m.name, 0, -errno);
	rc = a_start(A_CLIENTS, -1, 0, pg, A_ACTORS, &st, &m);
	if (rc == 0 && with_arg) {
		uint64_t zero = 0;

		rc = shoal_put(shoal_runtime_store(st.rt), &zero, sizeof zero, -1,
			       &st.arg);
	}
	client = rc == 0 ? shoal_function(st.rt, "client") : -EINVAL;
	if (rc == 0 && client < 0)
		rc = client;
	if (rc == 0)
		rc = a_nn_round(&st, pg, client, ctx->rep_seconds / 4, &rate);
	for (int r = 0; rc == 0 && r < ctx->reps; r++)
		rc = a_nn_round(&st, pg, client, ctx->rep_seconds, &v[r]);
	if (st.rt)
		rc = a_stop(&st, rc);
	munmap(pg, sizeof *pg);
	if (rc < 0)
		return emit_error(ctx, m.name, 0, rc);
	m.st = stats_of(v, ctx->reps);
	if (!with_arg) /* the n:n target is for calls without one */
		m.verdict = m.st.median >= TARGET_ACTOR_NN;
	emit(ctx, &m);
	return 0;
}

/* ---- the lane's own speed ------------------------------------------ */

/* Bursts of A_LANE sends into a drained lane; the rate of the writes. */
static int a_enqueue_rep(struct a_state *st, double seconds, double *rate,
			 uint64_t *sent)
{
	double busy = 0, t_end = now_s() + seconds;
	uint64_t n = 0;

	while (now_s() < t_end) {
		struct shoal_args a;
		double t0;
		int rc = a_drained(st, *sent);

		if (rc < 0)
			return rc;
		shoal_args_init(&a);
		t0 = now_s();
		for (uint32_t i = 0; i < A_LANE; i++) {
			rc = shoal_actor_send(st->rt, st->actors[0], st->m_noop, &a);
			if (rc < 0)
				return rc;
		}
		busy += now_s() - t0;
		n += A_LANE;
		*sent += A_LANE;
	}
	*rate = (double)n / busy;
	return 0;
}

static int a_enqueue(const struct bench_ctx *ctx)
{
	struct metric m = {
		.name = "actor_call_enqueue_rate", .unit = UNIT_OPS,
		.target = ">= 10M/s",
		.note = "fire-and-forget calls (no result, no argument) one "
			"caller writes, in bursts of 1024 (the lane's capacity) "
			"into a lane the actor drained; only the writes are "
			"timed",
	};
	double v[REPS_FULL], rate;
	struct a_state st = {0};
	uint64_t sent = 0;
	int rc;

	if (!wanted(ctx, m.name))
		return 0;
	rc = a_start(1, -1, 0, NULL, 1, &st, &m);
	if (rc == 0)
		rc = a_enqueue_rep(&st, ctx->rep_seconds / 4, &rate, &sent);
	for (int r = 0; rc == 0 && r < ctx->reps; r++)
		rc = a_enqueue_rep(&st, ctx->rep_seconds, &v[r], &sent);
	if (st.rt)
		rc = a_stop(&st, rc);
	if (rc < 0)
		return emit_error(ctx, m.name, 0, rc);
	m.st = stats_of(v, ctx->reps);
	m.verdict = m.st.median >= TARGET_ENQUEUE;
	emit(ctx, &m);
	return 0;
}

/* ---- round-trip latency -------------------------------------------- */

static int a_round_trip_one(void *arg)
{
	return a_round_trip(arg);
}

/* Pins this process to CPU 0 and the actor's to CPU 1, or both to CPU 0
 * (m->place PLACE_ONE_CPU); this process's affinity is restored after. */
static int a_pin(const struct bench_ctx *ctx, struct a_state *st, cpu_set_t *saved,
		 struct metric *m)
{
	struct shoal_actor_info info;
	cpu_set_t one;
	int rc;

	if (!ctx->pin || m->place == PLACE_FREE) {
		m->place = PLACE_FREE;
		return 0;
	}
	rc = shoal_actor_info(st->rt, st->actors[0], &info);
	if (rc < 0)
		return rc;
	if (sched_getaffinity(0, sizeof *saved, saved) < 0)
		return -errno;
	CPU_ZERO(&one);
	CPU_SET(m->place == PLACE_ONE_CPU ? 0 : 1, &one);
	if (sched_setaffinity(info.pid, sizeof one, &one) < 0)
		return -errno;
	m->pinned = 1;
	return pin_to_cpu(0);
}

static int a_rtt_measure(const struct bench_ctx *ctx, bool sleeping,
			 struct metric *m, struct stats q[3])
{
	struct a_state st = {0};
	cpu_set_t saved;
	int rc;

	rc = a_start(1, sleeping ? 0 : -1, 0, NULL, 1, &st, m);
	if (rc == 0)
		rc = a_pin(ctx, &st, &saved, m);
	if (rc == 0)
		rc = measure_dist(ctx, a_round_trip_one, &st, q);
	if (m->pinned == 1)
		sched_setaffinity(0, sizeof saved, &saved);
	if (st.rt)
		rc = a_stop(&st, rc);
	return rc;
}

static int a_rtt(const struct bench_ctx *ctx, bool sleeping, enum placement place)
{
	const char *stem = !sleeping ? "actor_call_rtt_spin"
			   : place == PLACE_ONE_CPU ? "actor_call_rtt_sleep_1cpu"
			   : "actor_call_rtt_sleep";
	const char *note = sleeping
		? "one call + shoal_get + release + drop, per-call samples; "
		  "spin budget 0: caller and actor sleep on futexes at once"
		: "one call + shoal_get + release + drop, per-call samples; "
		  "default spin budget; the one worker asleep: nothing else "
		  "spins";
	struct metric m = {.unit = UNIT_NS, .note = note, .verdict = -1,
			   .place = place, .pinned = -1,
			   .target = sleeping ? "<= 1.1x futex_rtt p50" : "<= 1 us"};
	double floor = sleeping ? ctx->floors->futex_rtt_ns : ctx->floors->spin_rtt_ns;
	struct stats q[3];
	int rc;

	if (!wanted(ctx, stem))
		return 0;
	rc = a_rtt_measure(ctx, sleeping, &m, q);
	if (rc < 0)
		return emit_error(ctx, stem, 0, rc);
	m.pinned = m.place == PLACE_FREE ? -1 : 1;
	if (floor > 0 && place != PLACE_ONE_CPU)
		add_extra(&m, sleeping ? "ratio_to_futex_rtt" : "ratio_to_spin_rtt",
			  q[0].median / floor);
	if (!sleeping)
		m.verdict = q[0].median <= TARGET_RTT_SPIN_NS;
	else if (floor > 0 && place != PLACE_ONE_CPU)
		m.verdict = q[0].median <= TARGET_RTT_SLEEP_VS_FUTEX * floor;
	else
		m.target = NULL;
	emit_dist(ctx, &m, stem, q);
	return 0;
}

/* 1_1_actor_calls_async placed as the peers' one-way rates: the caller
 * on CPU 0, the actor on CPU 1 (split) or CPU 0 (1cpu). */
static int a_async_placed(const struct bench_ctx *ctx, enum placement place)
{
	struct metric m = {.name = "1_1_actor_calls_async", .unit = UNIT_OPS,
			   .verdict = -1, .place = place,
			   .variant = place == PLACE_ONE_CPU ? "1cpu" : "split",
			   .note = "1_1_actor_calls_async, the caller pinned to "
				   "CPU 0, the actor to CPU 1 (split) or CPU 0 "
				   "(1cpu)"};
	struct a_state st = {0};
	struct workload w = {a_async_batch, &st, A_WINDOW, 0, UNIT_OPS};
	char name[64];
	cpu_set_t saved;
	int rc;

	snprintf(name, sizeof name, "1_1_actor_calls_async_%s", m.variant);
	if (!ctx->pin || !wanted(ctx, name))
		return 0;
	st.w = malloc(sizeof *st.w);
	if (!st.w)
		return emit_error(ctx, name, 0, -ENOMEM);
	rc = a_start(1, -1, 0, NULL, 1, &st, &m);
	if (rc < 0) {
		free(st.w);
		return emit_error(ctx, name, 0, rc);
	}
	rc = a_pin(ctx, &st, &saved, &m);
	if (rc == 0)
		rc = measure(ctx, &w, 1, &m.st);
	if (m.pinned == 1)
		sched_setaffinity(0, sizeof saved, &saved);
	rc = a_stop(&st, rc);
	if (rc < 0)
		return emit_error(ctx, name, 0, rc);
	emit(ctx, &m);
	return 0;
}

int family_actors(const struct bench_ctx *ctx)
{
	int rc[11] = {
		a_simple(ctx, "1_1_actor_calls_sync", 1, true, NULL, 0,
			 "call a method returning 8 bytes, shoal_get, "
			 "shoal_release_drop, repeat; not pinned; rtt_ns = 1e9 / median"),
		a_simple(ctx, "1_1_actor_calls_async", 1, false, ">= 2M/s",
			 TARGET_ACTOR_ASYNC,
			 "windows of 1000 calls (8-byte results), shoal_get_many, "
			 "shoal_release_drop each; repeat"),
		a_simple(ctx, "1_n_actor_calls_async", A_ACTORS, false, NULL, 0,
			 "windows of 1000 calls round-robin over 2 actors, "
			 "shoal_get_many, shoal_release_drop each"),
		a_nn(ctx, false),
		a_nn(ctx, true),
		a_enqueue(ctx),
		a_async_placed(ctx, PLACE_SPLIT),
		a_async_placed(ctx, PLACE_ONE_CPU),
		a_rtt(ctx, false, ctx->pin ? PLACE_SPLIT : PLACE_FREE),
		a_rtt(ctx, true, ctx->pin ? PLACE_SPLIT : PLACE_FREE),
		ctx->pin ? a_rtt(ctx, true, PLACE_ONE_CPU) : 0,
	};

	for (int i = 0; i < 11; i++)
		if (rc[i] < 0)
			return rc[i];
	return 0;
}
