/* SPDX-License-Identifier: MIT */
/*
 * bench/tasks_in_flight.c - the tasks_in_flight family: task throughput
 * against the number of tasks in flight (issue 12's scaling curves), one
 * curve ("tasks_vs_in_flight", x = tasks in flight), in tasks per second:
 *
 *   a wave of N: submit N no-op tasks (8-byte return), one shoal_get_many
 *   of all N, release and drop every one; N = 1k .. 512k (k = 1024);
 *
 *   tasks_in_flight_first_wave_N  the first wave on a fresh runtime (its
 *       task table, queue, directory and ledgers never touched: the
 *       first-touch page faults show here); extras: start_ms, the
 *       runtime's start, and warm_over_first, the warm rate over this
 *   tasks_in_flight_warm_N  a wave on the same runtime once it is warm:
 *       after the first wave, TIF_SETTLE untimed waves (the directory has
 *       pow2(4 x max_objects) slots, 8N here, and one process's successive
 *       IDs take every fourth slot of a window at least 8 x the records
 *       it holds wide (store/dir.c): a wave may not have walked all of
 *       it, so the second wave may still find cold pages), then timed
 *       waves, at least
 *       TIF_WARM_MIN and for a quarter of a repetition's time at least
 *       (one, if one wave takes a whole repetition's time), their median
 *   tasks_first_wave_ratio_1k  the first wave's time over a warm wave's
 *       at 1k (unit "x"; issue 12's target: within 3 x); extras: the same
 *       at the top point
 *
 * Each repetition is a fresh private runtime (opts.name = NULL: nothing in
 * /dev/shm) sized for its N: max_tasks = N, the store's max_objects and
 * ledger_slots N + TIF_SLACK (set here, not left to the defaults, which
 * change), max_actors 1; it measures one first wave and one warm figure,
 * and is shut down (shoal_runtime_shutdown stops and reaps its processes
 * on every path, error paths included).  The value of a point is the
 * median over ctx->reps runtimes (at most TIF_BIG_REPS from 256k on,
 * where one runtime's waves take seconds); --quick stops at 64k, --smoke
 * at 4k.
 * The waves are not interleaved with anything: a first wave exists once
 * per runtime.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <shoal/shoal.h>

#include "bench.h"
#include "curves.h"
#include "families.h"

#define TIF_SLACK 4096u        /* objects beyond N */
#define TIF_CAPACITY (64ull << 20) /* results of 8 bytes need no heap */
#define TIF_TIMEOUT_MS 60000   /* a get_many of a whole wave */
#define TIF_SETTLE 2           /* untimed waves after the first */
#define TIF_WARM_MIN 3         /* timed warm waves, their median: at least */
#define TIF_WARM_MAX 32        /* and at most */
#define TIF_BIG (1u << 18)     /* from here on, at most TIF_BIG_REPS */
#define TIF_BIG_REPS 5         /* runtimes per point (a rep is seconds) */
#define TARGET_FIRST_RATIO 3.0

static const uint64_t tif_points[] = {
	1u << 10, 1u << 12, 1u << 14, 1u << 16, 1u << 18, 1u << 19,
};
#define TIF_NPOINTS (sizeof tif_points / sizeof tif_points[0])

static const char tif_curve[] = "tasks_vs_in_flight";
static const char tif_first[] = "tasks_in_flight_first_wave";
static const char tif_warm[] = "tasks_in_flight_warm";
static const char tif_ratio[] = "tasks_first_wave_ratio";

struct tif_wave {
	shoal_id *refs;
	struct shoal_view *views;
	uint64_t n;
};

static int tif_noop(struct shoal_task *t, void *user)
{
	uint64_t v = 0;

	(void)user;
	return shoal_task_return(t, 0, &v, sizeof v);
}

/* One wave: submit n no-ops, get them all, release and drop each. */
static int tif_wave_run(struct shoal_runtime *rt, int fn, struct tif_wave *w)
{
	struct shoal_store *s = shoal_runtime_store(rt);
	struct shoal_args a;
	uint64_t done = 0;
	int rc = 0;

	shoal_args_init(&a);
	for (; done < w->n && rc == 0; done++)
		rc = shoal_submit(rt, fn, &a, 1, &w->refs[done]);
	if (rc < 0)
		done--;
	if (rc == 0)
		rc = shoal_get_many(s, w->refs, w->n, TIF_TIMEOUT_MS, w->views);
	for (uint64_t i = 0; rc >= 0 && i < w->n; i++)
		if (w->views[i].err)
			rc = w->views[i].err;
		else if (w->views[i].size != sizeof(uint64_t))
			rc = -EBADMSG;
	for (uint64_t i = 0; done == w->n && i < w->n; i++)
		if (w->views[i].data)
			shoal_release(s, &w->views[i]);
	for (uint64_t i = 0; i < done; i++) {
		int r = shoal_drop(s, w->refs[i]);

		rc = rc < 0 ? rc : r;
	}
	return rc < 0 ? rc : 0;
}

static int tif_timed_wave(struct shoal_runtime *rt, int fn,
			  struct tif_wave *w, double *secs)
{
	double t0 = now_s();
	int rc = tif_wave_run(rt, fn, w);

	*secs = now_s() - t0;
	return rc;
}

/* A fresh private runtime sized for n tasks in flight. */
static int tif_start(uint64_t n, struct shoal_runtime **rt, int *fn,
		     struct metric *m)
{
	struct shoal_runtime_options o;
	struct shoal_registry *reg;
	struct shoal_runtime_info info;
	int rc = shoal_registry_open(&reg);

	*rt = NULL;
	if (rc < 0)
		return rc;
	rc = shoal_register_task(reg, "noop", tif_noop, NULL);
	shoal_runtime_options_init(&o);
	o.name = NULL;
	o.max_tasks = (uint32_t)n;
	o.max_actors = 1;
	o.store.max_objects = (uint32_t)(n + TIF_SLACK);
	o.store.ledger_slots = (uint32_t)(n + TIF_SLACK);
	o.store.capacity = TIF_CAPACITY;
	if (rc == 0)
		rc = shoal_runtime_start(reg, &o, rt);
	shoal_registry_close(reg);
	if (rc < 0)
		return rc;
	*fn = shoal_function(*rt, "noop");
	rc = *fn < 0 ? *fn : shoal_runtime_info(*rt, &info, NULL, 0);
	if (rc < 0) {
		shoal_runtime_shutdown(*rt);
		*rt = NULL;
		return rc;
	}
	m->runtime = true;
	m->workers = info.num_workers;
	m->capacity = o.store.capacity;
	m->spin_budget = o.store.spin_budget;
	return 0;
}

static int cmp_secs(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Timed warm waves (see the file header): *warm gets their median. */
static int tif_warm_waves(const struct bench_ctx *ctx, struct shoal_runtime *rt,
			  int fn, struct tif_wave *w, double *warm)
{
	double v[TIF_WARM_MAX], t0 = now_s(), t = 0;
	int k = 0, rc = 0;

	while (rc == 0 && k < TIF_WARM_MAX &&
	       (k < TIF_WARM_MIN || t < ctx->rep_seconds / 4) &&
	       !(k >= 1 && t >= ctx->rep_seconds)) {
		rc = tif_timed_wave(rt, fn, w, &v[k++]);
		t = now_s() - t0;
	}
	if (rc < 0)
		return rc;
	qsort(v, (size_t)k, sizeof v[0], cmp_secs);
	*warm = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
	return 0;
}

/* One repetition: a fresh runtime, its first wave, then warm waves.
 * start, first, warm: seconds. */
static int tif_rep(const struct bench_ctx *ctx, struct tif_wave *w,
		   struct metric *m, double *start, double *first,
		   double *warm)
{
	struct shoal_runtime *rt;
	double t0 = now_s();
	int fn, r, rc = tif_start(w->n, &rt, &fn, m);

	if (rc < 0)
		return rc;
	*start = now_s() - t0;
	rc = tif_timed_wave(rt, fn, w, first);
	for (int i = 0; rc == 0 && i < TIF_SETTLE; i++)
		rc = tif_wave_run(rt, fn, w);
	if (rc == 0)
		rc = tif_warm_waves(ctx, rt, fn, w, warm);
	r = shoal_runtime_shutdown(rt);
	return rc < 0 ? rc : r;
}

struct tif_point {
	struct stats start, first, warm;  /* seconds */
	struct metric m;                  /* the runtime's fields */
};

static int tif_measure(const struct bench_ctx *ctx, uint64_t n,
		       struct tif_point *pt)
{
	double start[REPS_FULL], first[REPS_FULL], warm[REPS_FULL];
	struct tif_wave w = {calloc(n, sizeof(shoal_id)),
			     calloc(n, sizeof(struct shoal_view)), n};
	int reps = n >= TIF_BIG && ctx->reps > TIF_BIG_REPS ? TIF_BIG_REPS
							    : ctx->reps;
	int rc = w.refs && w.views ? 0 : -ENOMEM;

	for (int r = 0; rc == 0 && r < reps; r++)
		rc = tif_rep(ctx, &w, &pt->m, &start[r], &first[r], &warm[r]);
	free(w.refs);
	free(w.views);
	if (rc < 0)
		return rc;
	pt->start = stats_of(start, reps);
	pt->first = stats_of(first, reps);
	pt->warm = stats_of(warm, reps);
	return 0;
}

/* A wave's time in seconds as a rate: n tasks / the time (so the
 * slowest wave is the min). */
static struct stats tif_rate(const struct stats *secs, uint64_t n)
{
	return (struct stats){(double)n / secs->median, (double)n / secs->max,
			      (double)n / secs->min, secs->n};
}

static void tif_emit_point(const struct bench_ctx *ctx, uint64_t n,
			   const struct tif_point *pt, bool first)
{
	char name[96];
	struct metric m = pt->m;

	curve_name(name, sizeof name, first ? tif_first : tif_warm, n);
	m.name = name;
	m.unit = UNIT_OPS;
	m.place = PLACE_FREE;
	m.curve = tif_curve;
	m.x = (double)n;
	m.verdict = -1;
	m.st = tif_rate(first ? &pt->first : &pt->warm, n);
	m.note = first
		? "a fresh runtime sized for N (max_tasks N, max_objects and "
		  "ledger_slots N + 4096): its first wave of N no-op tasks "
		  "(submit all, one get_many, release, drop), first-touch "
		  "page faults and all; tasks per second, median over "
		  "fresh runtimes"
		: "the same runtime after its first wave and 2 more untimed: "
		  "the median of timed waves of N (3 at least, for a quarter "
		  "of a repetition's time at least); tasks per second, median "
		  "over the runtimes";
	add_extra(&m, "tasks_in_flight", (double)n);
	if (first) {
		add_extra(&m, "start_ms", pt->start.median * 1e3);
		add_extra(&m, "warm_over_first",
			  pt->first.median / pt->warm.median);
	}
	emit(ctx, &m);
}

static void tif_emit_ratio(const struct bench_ctx *ctx,
			   const struct tif_point *base, uint64_t top,
			   const struct tif_point *at_top)
{
	char name[96];
	struct metric m = base->m;

	snprintf(name, sizeof name, "%s_1k", tif_ratio);
	m.name = name;
	m.unit = UNIT_RATIO;
	m.place = PLACE_FREE;
	m.st = curve_ratio(&base->first, &base->warm);
	m.target = "<= 3x (first wave of 1k vs a warm one)";
	m.verdict = m.st.median <= TARGET_FIRST_RATIO;
	m.note = "the first wave of 1k no-op tasks on a fresh runtime over a "
		 "warm wave of 1k (times; medians over the runtimes; min, "
		 "max: the widest the repetitions allow); extra "
		 "ratio_at_top: the same at the top point, whose N is "
		 "top_tasks";
	if (at_top != base) {
		add_extra(&m, "ratio_at_top",
			  at_top->first.median / at_top->warm.median);
		add_extra(&m, "top_tasks", (double)top);
	}
	emit(ctx, &m);
}

int family_tasks_in_flight(const struct bench_ctx *ctx)
{
	size_t np = curve_points(ctx, tif_points, TIF_NPOINTS, 1u << 16,
				 1u << 12);
	struct tif_point *pt;
	bool ratio = wanted(ctx, tif_ratio);
	bool first = wanted(ctx, tif_first), warm = wanted(ctx, tif_warm);
	int rc = 0;

	if (!ratio && !first && !warm)
		return 0;
	pt = calloc(np, sizeof *pt);
	if (!pt)
		return emit_error(ctx, tif_first, 0, -ENOMEM);
	for (size_t p = 0; rc == 0 && p < np; p++) {
		if (!first && !warm && p > 0 && p < np - 1)
			continue; /* the ratio needs 1k and the top only */
		rc = tif_measure(ctx, tif_points[p], &pt[p]);
		if (rc == 0 && first)
			tif_emit_point(ctx, tif_points[p], &pt[p], true);
		if (rc == 0 && warm)
			tif_emit_point(ctx, tif_points[p], &pt[p], false);
	}
	if (rc == 0 && ratio)
		tif_emit_ratio(ctx, &pt[0], tif_points[np - 1], &pt[np - 1]);
	free(pt);
	return rc < 0 ? emit_error(ctx, tif_first, 0, rc) : 0;
}
