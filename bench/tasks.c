/* SPDX-License-Identifier: MIT */
/*
 * bench/tasks.c - the tasks family: remote functions per second under
 * Ray's names, each metric on a private runtime of its own (opts.name =
 * NULL: nothing in /dev/shm), the task a no-op with an 8-byte return.
 *
 *   single_client_tasks_sync    submit, get, release, drop, one at a time;
 *                               twice: the default spin budget (spinning)
 *                               and spin budget 0 (sleeping); rtt_ns and
 *                               its ratio to this run's floor
 *   single_client_tasks_async   windows of 1000 submits, one get_many each
 *   multi_client_tasks_async    2 client tasks on a runtime of 4 workers,
 *                               each submitting nested no-ops in windows
 *                               for one repetition's time (the API cannot
 *                               attach a second driver to a private
 *                               runtime)
 *   single_client_wait_1k_refs  1000 submits, one shoal_wait for all of
 *                               them, drop them unfetched
 *   first_wave_vs_warm_ratio    per repetition a fresh runtime: the time
 *                               of its first window of 1000 no-ops
 *                               (submit, get_many, release, drop) over
 *                               the median of WARM_TIMED windows taken
 *                               after WARM_WAVES more (warm: every page
 *                               they touch was touched before)
 *
 * Invariants: every ref submitted is dropped and every view got is
 * released, on every path; shoal_runtime_shutdown() stops and reaps the
 * runtime's processes on every path, error paths included; the clients
 * start together (a barrier in a MAP_SHARED page mapped before the runtime
 * starts, so that its processes inherit it) or give up after
 * CLIENT_BARRIER_S.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <shoal/shoal.h>

#include "bench.h"
#include "families.h"

#define TASK_WINDOW 1000u       /* async: tasks in flight, then get+drop */
#define TASK_TIMEOUT_MS 10000   /* a get of a no-op's result */
#define SYNC_BATCH 64u          /* sync round trips between clock reads */
#define CLIENT_WORKERS 4u       /* 2 client tasks + 2 executors */
#define CLIENT_TIMEOUT_MS 120000 /* a get of a client task's result */
#define CLIENT_BARRIER_S 10.0   /* a client waits this long for the other */

#define WARM_WAVES 70u  /* windows before the warm ones: more than the
			 * 65,536 IDs after which the driver's IDs have
			 * walked the whole directory once (store/dir.c,
			 * the default max_objects) */
#define WARM_TIMED 5u   /* warm windows timed, their median taken */

#define TARGET_TASKS_ASYNC 1e6
#define TARGET_TASKS_SYNC 500e3 /* and the slowest repetition >= half */
#define TARGET_SYNC_STABLE 0.5  /* min / median, spinning */
#define TARGET_FIRST_WAVE 3.0   /* first window / a warm one */
#define TARGET_SLEEPING_VS_FUTEX 1.5

/* Shared by the driver and the workers (mapped before the runtime starts,
 * inherited by its processes): the client tasks' start barrier. */
struct client_page {
	_Atomic uint64_t arrived; /* client tasks that reached the barrier */
};

/* Refs and views for one window (TASK_WINDOW tasks). */
struct window {
	shoal_id refs[TASK_WINDOW];
	struct shoal_view views[TASK_WINDOW];
	uint8_t ready[TASK_WINDOW];
};

/* The no-op: no arguments, one 8-byte return. */
static int task_noop(struct shoal_task *t, void *user)
{
	uint64_t v = 0;

	(void)user;
	return shoal_task_return(t, 0, &v, sizeof v);
}

/* Drops refs[0..n); returns rc, or the first drop error if rc is 0. */
static int drop_all(struct shoal_store *s, const shoal_id *refs, uint32_t n,
		    int rc)
{
	for (uint32_t i = 0; i < n; i++) {
		int r = shoal_drop(s, refs[i]);

		rc = rc < 0 ? rc : r;
	}
	return rc;
}

/* Submits n no-ops; *done gets how many were submitted (to drop). */
static int submit_noops(struct shoal_runtime *rt, int fn, shoal_id *refs,
			uint32_t n, uint32_t *done)
{
	struct shoal_args a;
	int rc = 0;

	shoal_args_init(&a);
	for (*done = 0; *done < n; (*done)++) {
		rc = shoal_submit(rt, fn, &a, 1, &refs[*done]);
		if (rc < 0)
			break;
	}
	return rc;
}

/* Ray's async batch: submit n no-ops, get all (one shoal_get_many),
 * release and drop every one. */
static int noop_window(struct shoal_runtime *rt, int fn, struct window *w,
		       uint32_t n)
{
	struct shoal_store *s = shoal_runtime_store(rt);
	bool got;
	uint32_t done;
	int rc = submit_noops(rt, fn, w->refs, n, &done);

	if (rc == 0)
		rc = shoal_get_many(s, w->refs, n, TASK_TIMEOUT_MS, w->views);
	got = rc >= 0 && done == n; /* views[0..n) are this window's */
	for (uint32_t i = 0; got && rc >= 0 && i < n; i++) {
		if (w->views[i].err)
			rc = w->views[i].err;
		else if (w->views[i].size != sizeof(uint64_t))
			rc = -EBADMSG;
	}
	for (uint32_t i = 0; got && i < n; i++)
		if (w->views[i].data)
			shoal_release(s, &w->views[i]);
	return drop_all(s, w->refs, done, rc < 0 ? rc : 0);
}

struct task_state {
	struct shoal_runtime *rt;
	int fn;
	struct window *w;
};

/* single_client_tasks_sync: submit, get, release, drop, one at a time. */
static int sync_batch(void *arg, uint64_t n)
{
	struct task_state *ts = arg;
	struct shoal_store *s = shoal_runtime_store(ts->rt);
	struct shoal_args a;

	shoal_args_init(&a);
	for (uint64_t i = 0; i < n; i++) {
		struct shoal_view v;
		shoal_id ref;
		int rc = shoal_submit(ts->rt, ts->fn, &a, 1, &ref);

		if (rc < 0)
			return rc;
		rc = shoal_get(s, ref, TASK_TIMEOUT_MS, &v);
		if (rc == 0) {
			rc = v.size == sizeof(uint64_t) ? 0 : -EBADMSG;
			shoal_release(s, &v);
		}
		rc = drop_all(s, &ref, 1, rc);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* single_client_tasks_async: n tasks, in windows of TASK_WINDOW. */
static int async_batch(void *arg, uint64_t n)
{
	struct task_state *ts = arg;

	for (uint64_t i = 0; i < n; i += TASK_WINDOW) {
		uint32_t k = n - i < TASK_WINDOW ? (uint32_t)(n - i) : TASK_WINDOW;
		int rc = noop_window(ts->rt, ts->fn, ts->w, k);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* single_client_wait_1k_refs: n times, submit TASK_WINDOW no-ops, one
 * shoal_wait for all of them, drop them (unfetched). */
static int wait_batch(void *arg, uint64_t n)
{
	struct task_state *ts = arg;
	struct shoal_store *s = shoal_runtime_store(ts->rt);

	for (uint64_t i = 0; i < n; i++) {
		uint32_t done;
		int rc = submit_noops(ts->rt, ts->fn, ts->w->refs, TASK_WINDOW,
				      &done);

		if (rc == 0)
			rc = shoal_wait(s, ts->w->refs, TASK_WINDOW, TASK_WINDOW,
					TASK_TIMEOUT_MS, ts->w->ready);
		if (rc >= 0)
			rc = rc < (int)TASK_WINDOW ? -ETIMEDOUT : 0;
		rc = drop_all(s, ts->w->refs, done, rc);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A client (multi_client_tasks_async), run by a worker: waits until
 * args[1] client tasks reached the barrier, then, for args[0] ns at least,
 * submits no-ops through its worker's runtime handle (nested submission)
 * in windows, getting and dropping each window (as run_for() does, one
 * clock read per window).  Returns {tasks, elapsed ns}. */
static int task_client(struct shoal_task *t, void *user)
{
	struct client_page *pg = user;
	struct shoal_runtime *rt = shoal_task_runtime(t);
	uint64_t arg[2], out[2];
	struct window *w = NULL;
	const void *d[2];
	size_t len[2];
	double t0, deadline = now_s() + CLIENT_BARRIER_S;
	int fn = shoal_function(rt, "noop"), rc = 0;

	for (uint32_t i = 0; i < 2; i++) {
		if (shoal_task_arg(t, i, &d[i], &len[i]) < 0 ||
		    len[i] != sizeof arg[i])
			return shoal_task_fail(t, -EINVAL, "client: bad args");
		memcpy(&arg[i], d[i], sizeof arg[i]);
	}
	if (!pg || fn < 0)
		return shoal_task_fail(t, fn < 0 ? fn : -EINVAL,
				       "client: no noop or page");
	atomic_fetch_add(&pg->arrived, 1);
	while (atomic_load(&pg->arrived) < arg[1]) {
		if (now_s() > deadline)
			return shoal_task_fail(t, -ETIMEDOUT,
					       "client: the other client "
					       "never started");
		sched_yield();
	}
	w = malloc(sizeof *w);
	if (!w)
		return shoal_task_fail(t, -ENOMEM, "client: no memory");
	t0 = now_s();
	out[0] = 0;
	do {
		rc = noop_window(rt, fn, w, TASK_WINDOW);
		out[0] += TASK_WINDOW;
		out[1] = (uint64_t)((now_s() - t0) * 1e9);
	} while (rc == 0 && out[1] < arg[0]);
	free(w);
	if (rc < 0)
		return shoal_task_fail(t, rc, "client: nested tasks: %s",
				       shoal_strerror(rc));
	return shoal_task_return(t, 0, out, sizeof out);
}

/* A private runtime with the no-op and the client registered. */
struct bench_rt {
	struct shoal_runtime *rt;
	int noop, client;
};

/* Starts it; fills m's runtime fields.  spin_budget < 0: the default;
 * flags: shoal_runtime_options.flags (0: everything on). */
static int bench_rt_start(uint32_t workers, int64_t spin_budget,
			  uint64_t flags, struct client_page *pg,
			  struct bench_rt *b, struct metric *m)
{
	struct shoal_runtime_options o;
	struct shoal_runtime_info info;
	struct shoal_store_stats st;
	struct shoal_registry *reg;
	int rc = shoal_registry_open(&reg);

	b->rt = NULL;
	if (rc < 0)
		return rc;
	rc = shoal_register_task(reg, "noop", task_noop, NULL);
	if (rc == 0)
		rc = shoal_register_task(reg, "client", task_client, pg);
	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.name = NULL; /* private: nothing in /dev/shm */
	o.flags = flags;
	if (spin_budget >= 0)
		o.store.spin_budget = (uint32_t)spin_budget;
	if (rc == 0)
		rc = shoal_runtime_start(reg, &o, &b->rt);
	shoal_registry_close(reg);
	if (rc < 0)
		return rc;
	b->noop = shoal_function(b->rt, "noop");
	b->client = shoal_function(b->rt, "client");
	rc = b->noop < 0 ? b->noop : b->client < 0 ? b->client : 0;
	if (rc == 0)
		rc = shoal_runtime_info(b->rt, &info, NULL, 0);
	if (rc == 0)
		rc = shoal_store_stats(shoal_runtime_store(b->rt), &st);
	if (rc < 0) {
		shoal_runtime_shutdown(b->rt);
		b->rt = NULL;
		return rc;
	}
	m->runtime = true;
	m->workers = info.num_workers;
	m->capacity = st.capacity;
	m->spin_budget = o.store.spin_budget;
	return 0;
}

/* Shuts the runtime down; returns rc, or shutdown's error if rc is 0. */
static int bench_rt_stop(struct bench_rt *b, int rc)
{
	int r = shoal_runtime_shutdown(b->rt);

	b->rt = NULL;
	return rc < 0 ? rc : r;
}

/* Starts a runtime, measures one workload on it, shuts it down. */
static int tasks_measure(const struct bench_ctx *ctx, uint32_t workers,
			 int64_t spin_budget,
			 int (*batch)(void *state, uint64_t n),
			 uint64_t batch_ops, struct metric *m)
{
	struct task_state ts = {0};
	struct workload w = {batch, &ts, batch_ops, 0, UNIT_OPS};
	struct bench_rt b;
	int rc;

	ts.w = malloc(sizeof *ts.w);
	if (!ts.w)
		return -ENOMEM;
	rc = bench_rt_start(workers, spin_budget, 0, NULL, &b, m);
	if (rc == 0) {
		ts.rt = b.rt;
		ts.fn = b.noop;
		rc = measure(ctx, &w, 1, &m->st);
		rc = bench_rt_stop(&b, rc);
	}
	free(ts.w);
	return rc;
}

/* single_client_tasks_async's workload on a runtime of its own, for the
 * timeline family (bench.h). */
int tasks_async_open(uint64_t flags, struct workload *w, struct metric *m)
{
	struct task_state *ts = calloc(1, sizeof *ts);
	struct bench_rt b;
	int rc = ts ? 0 : -ENOMEM;

	if (rc == 0) {
		ts->w = malloc(sizeof *ts->w);
		rc = ts->w ? 0 : -ENOMEM;
	}
	if (rc == 0)
		rc = bench_rt_start(0, -1, flags, NULL, &b, m);
	if (rc < 0) {
		if (ts)
			free(ts->w);
		free(ts);
		return rc;
	}
	ts->rt = b.rt;
	ts->fn = b.noop;
	*w = (struct workload){async_batch, ts, TASK_WINDOW, 0, UNIT_OPS};
	return 0;
}

int tasks_async_close(struct workload *w, int rc)
{
	struct task_state *ts = w->state;
	struct bench_rt b = {.rt = ts->rt};

	rc = bench_rt_stop(&b, rc);
	free(ts->w);
	free(ts);
	w->state = NULL;
	return rc;
}

static int tasks_sync(const struct bench_ctx *ctx, bool sleeping)
{
	struct metric m = {
		.name = "single_client_tasks_sync", .unit = UNIT_OPS,
		.verdict = -1,
		.target = sleeping ? "rtt <= 1.5x futex_rtt_ns"
				   : ">= 500k/s, min >= median/2",
		.note = sleeping
			? "submit a no-op (8-byte return), shoal_get, release, "
			  "drop, repeat; spin_budget 0: the driver and the "
			  "workers sleep on futexes at once (the sleeping "
			  "case); rtt_ns = 1e9 / median"
			: "submit a no-op (8-byte return), shoal_get, release, "
			  "drop, repeat; default spin budget (waiters spin, "
			  "then sleep); rtt_ns = 1e9 / median",
	};
	const double *fl = sleeping ? &ctx->floors->futex_rtt_ns
				       : &ctx->floors->spin_rtt_ns;
	int rc;

	if (!wanted(ctx, m.name))
		return 0;
	rc = tasks_measure(ctx, 0, sleeping ? 0 : -1, sync_batch, SYNC_BATCH,
			   &m);
	if (rc < 0)
		return emit_error(ctx, m.name, 0, rc);
	add_extra(&m, "rtt_ns", 1e9 / m.st.median);
	add_extra(&m, "min_over_median", m.st.min / m.st.median);
	if (*fl > 0)
		add_extra(&m, sleeping ? "ratio_to_futex_rtt"
				       : "ratio_to_spin_rtt",
			  1e9 / m.st.median / *fl);
	if (!sleeping)
		m.verdict = m.st.median >= TARGET_TASKS_SYNC &&
			    m.st.min >= TARGET_SYNC_STABLE * m.st.median;
	else if (*fl > 0) /* unknown without the floor from this run */
		m.verdict = 1e9 / m.st.median <= TARGET_SLEEPING_VS_FUTEX * *fl;
	emit(ctx, &m);
	return 0;
}

static int tasks_async(const struct bench_ctx *ctx)
{
	struct metric m = {
		.name = "single_client_tasks_async", .unit = UNIT_OPS,
		.target = ">= 1M/s",
		.note = "submit 1000 no-ops (8-byte return), shoal_get_many "
			"of the 1000, release and drop each; repeat",
	};
	int rc;

	if (!wanted(ctx, m.name))
		return 0;
	rc = tasks_measure(ctx, 0, -1, async_batch, TASK_WINDOW, &m);
	if (rc < 0)
		return emit_error(ctx, m.name, 0, rc);
	m.verdict = m.st.median >= TARGET_TASKS_ASYNC;
	emit(ctx, &m);
	return 0;
}

static int tasks_wait(const struct bench_ctx *ctx)
{
	struct metric m = {
		.name = "single_client_wait_1k_refs", .unit = UNIT_OPS,
		.verdict = -1,
		.note = "submit 1000 no-ops, one shoal_wait(1000 refs, "
			"num_ready 1000), drop the 1000 unfetched; ops = "
			"waits; tasks_per_s = 1000 x waits/s",
	};
	int rc;

	if (!wanted(ctx, m.name))
		return 0;
	rc = tasks_measure(ctx, 0, -1, wait_batch, 1, &m);
	if (rc < 0)
		return emit_error(ctx, m.name, 0, rc);
	add_extra(&m, "tasks_per_s", m.st.median * TASK_WINDOW);
	emit(ctx, &m);
	return 0;
}

/* One round of the clients, each running for `seconds` after the
 * barrier; *rate = their tasks / the longer client's time. */
static int client_round(struct bench_rt *b, double seconds, uint64_t *round,
			double *rate)
{
	struct shoal_store *s = shoal_runtime_store(b->rt);
	uint64_t arg[2] = {(uint64_t)(seconds * 1e9),
			   (*round + 1) * MULTI_PROCS};
	struct shoal_view v[MULTI_PROCS] = {{0}};
	shoal_id refs[MULTI_PROCS];
	struct shoal_args a;
	uint64_t ops = 0, ns = 0;
	uint32_t done;
	int rc;

	shoal_args_init(&a);
	shoal_args_bytes(&a, &arg[0], sizeof arg[0]);
	shoal_args_bytes(&a, &arg[1], sizeof arg[1]);
	for (done = 0; done < MULTI_PROCS; done++) {
		rc = shoal_submit(b->rt, b->client, &a, 1, &refs[done]);
		if (rc < 0)
			return drop_all(s, refs, done, rc);
	}
	(*round)++;
	rc = shoal_get_many(s, refs, MULTI_PROCS, CLIENT_TIMEOUT_MS, v);
	for (int i = 0; rc >= 0 && i < MULTI_PROCS; i++) {
		uint64_t out[2];

		if (v[i].err) {
			rc = v[i].err;
			break;
		}
		if (v[i].size != sizeof out) {
			rc = -EBADMSG;
			break;
		}
		memcpy(out, v[i].data, sizeof out);
		ops += out[0];
		ns = out[1] > ns ? out[1] : ns;
	}
	for (int i = 0; i < MULTI_PROCS; i++)
		if (v[i].data)
			shoal_release(s, &v[i]);
	if (rc >= 0)
		*rate = (double)ops * 1e9 / (double)(ns ? ns : 1);
	return drop_all(s, refs, MULTI_PROCS, rc < 0 ? rc : 0);
}

/* As measure(): a discarded warm-up round, then ctx->reps timed rounds
 * of ctx->rep_seconds. */
static int client_measure(const struct bench_ctx *ctx, struct bench_rt *b,
			  struct metric *m)
{
	double v[REPS_FULL], warm;
	uint64_t round = 0;
	int rc = client_round(b, ctx->rep_seconds / 4, &round, &warm);

	for (int r = 0; rc == 0 && r < ctx->reps; r++)
		rc = client_round(b, ctx->rep_seconds, &round, &v[r]);
	if (rc < 0)
		return rc;
	m->st = stats_of(v, ctx->reps);
	return 0;
}

static int tasks_multi(const struct bench_ctx *ctx)
{
	struct metric m = {
		.name = "multi_client_tasks_async", .unit = UNIT_OPS,
		.procs = MULTI_PROCS, .target = ">= 1M/s",
		.note = "the 2 clients are tasks (the API cannot attach a "
			"second driver yet): the driver submits 2 client "
			"tasks to a runtime of 4 workers (2 run the clients, "
			"2 execute); each client waits for the other, then "
			"submits no-ops through shoal_task_runtime() (nested) "
			"in windows of 1000, get_many+release+drop, for one "
			"repetition's time; total = sum of tasks / the longer "
			"client's time",
	};
	struct client_page *pg;
	struct bench_rt b;
	void *p;
	int rc;

	if (!wanted(ctx, m.name))
		return 0;
	p = mmap(NULL, sizeof *pg, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return emit_error(ctx, m.name, 0, -errno);
	pg = p; /* zero-filled, inherited by the runtime's processes */
	rc = bench_rt_start(CLIENT_WORKERS, -1, 0, pg, &b, &m);
	if (rc == 0)
		rc = bench_rt_stop(&b, client_measure(ctx, &b, &m));
	munmap(p, sizeof *pg);
	if (rc < 0)
		return emit_error(ctx, m.name, 0, rc);
	m.verdict = m.st.median >= TARGET_TASKS_ASYNC;
	emit(ctx, &m);
	return 0;
}

/* One window of TASK_WINDOW no-ops, timed. */
static int timed_wave(struct bench_rt *b, struct window *w, double *secs)
{
	double t0 = now_s();
	int rc = noop_window(b->rt, b->noop, w, TASK_WINDOW);

	*secs = now_s() - t0;
	return rc;
}

/* A fresh runtime (m: its fields): its first window's time, then the
 * median of WARM_TIMED windows after `warm` untimed ones. */
static int first_wave_round(struct window *w, uint32_t warm,
			    struct metric *m, double *first, double *warm_s)
{
	double v[WARM_TIMED];
	struct bench_rt b;
	int rc = bench_rt_start(0, -1, 0, NULL, &b, m);

	if (rc < 0)
		return rc;
	rc = timed_wave(&b, w, first);
	for (uint32_t i = 0; rc == 0 && i < warm; i++)
		rc = noop_window(b.rt, b.noop, w, TASK_WINDOW);
	for (uint32_t i = 0; rc == 0 && i < WARM_TIMED; i++)
		rc = timed_wave(&b, w, &v[i]);
	if (rc == 0)
		*warm_s = stats_of(v, WARM_TIMED).median;
	return bench_rt_stop(&b, rc);
}

static int tasks_first_wave(const struct bench_ctx *ctx)
{
	struct metric m = {
		.name = "first_wave_vs_warm_ratio", .unit = UNIT_RATIO,
		.target = "<= 3x",
		.note = "per repetition a fresh runtime (default options): "
			"its first window of 1000 no-ops (submit, get_many, "
			"release, drop) over the median of 5 windows after 70 "
			"more (70,000 tasks: the driver's IDs have come round "
			"their directory window, every page is warm); value = median "
			"of the ratios; first_wave_ms, warm_wave_ms: medians",
	};
	double ratio[REPS_FULL], first[REPS_FULL], warm[REPS_FULL];
	uint32_t warm_waves = ctx->smoke ? 2 : WARM_WAVES;
	struct window *w;
	int rc = 0;

	if (!wanted(ctx, m.name))
		return 0;
	w = calloc(1, sizeof *w); /* its pages touched: shoal's first wave is
				   * measured, not this program's buffers' */
	if (!w)
		return emit_error(ctx, m.name, 0, -ENOMEM);
	memset(w, 0, sizeof *w);
	for (int r = 0; rc == 0 && r < ctx->reps; r++) {
		rc = first_wave_round(w, warm_waves, &m, &first[r], &warm[r]);
		ratio[r] = rc == 0 ? first[r] / warm[r] : 0;
	}
	free(w);
	if (rc < 0)
		return emit_error(ctx, m.name, 0, rc);
	m.st = stats_of(ratio, ctx->reps);
	add_extra(&m, "first_wave_ms", stats_of(first, ctx->reps).median * 1e3);
	add_extra(&m, "warm_wave_ms", stats_of(warm, ctx->reps).median * 1e3);
	m.verdict = m.st.median <= TARGET_FIRST_WAVE;
	emit(ctx, &m);
	return 0;
}

int family_tasks(const struct bench_ctx *ctx)
{
	int rc[6] = {tasks_sync(ctx, false), tasks_sync(ctx, true),
		     tasks_async(ctx), tasks_multi(ctx), tasks_wait(ctx),
		     tasks_first_wave(ctx)};

	for (int i = 0; i < 6; i++)
		if (rc[i] < 0)
			return rc[i];
	return 0;
}
