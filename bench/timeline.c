/* SPDX-License-Identifier: MIT */
/*
 * bench/timeline.c - the timeline family: what the timeline (a slice per
 * task or call, written by the process that ran it into its ring in the
 * segment: runtime/timeline.h) costs the async rates, issue 11's promise
 * being under 5 % on the actor call rate.
 *
 *   timeline_cost_actor_calls_async  1_1_actor_calls_async's workload
 *                                    (bench/actors.c)
 *   timeline_cost_tasks_async        single_client_tasks_async's
 *                                    workload (bench/tasks.c)
 *
 * Method: ctx->reps pairs; a pair is two fresh private runtimes, side by
 * side, one with the timeline on (flags 0), the other started with
 * SHOAL_RUNTIME_NO_TIMELINE.  Each gets a warm-up of a quarter of
 * ctx->rep_seconds, then the two take turns in TL_SLICES slices each of
 * ctx->rep_seconds / TL_SLICES (run_for(): calls or tasks per second),
 * in ABBA order (A B B A A B ...), A being the timeline on in even pairs
 * and off in odd ones (which also opens first).  Only one runtime works
 * at a time (the other's processes sleep), and the slices are short, so
 * the host's drifts (other builds on the 2 vCPUs, the vCPUs' moves) hit
 * both sides alike within a pair, not only over many pairs.  Each side's
 * rate in a pair is the median of its slices' rates: on a loaded host a
 * window of 1000 tasks now and then stalls for tens of milliseconds
 * (slices at 10-50 k/s among slices at 300-500 k/s, on either side, as
 * often with both sides on as with one off), and a sum over the slices
 * would hand one such stall to whichever side it hit.
 *
 * The value is the median over the pairs of (rate_off / rate_on - 1) in
 * percent: what the timeline costs, positive when it slows the workload
 * down (min and max: those of the pairs).  Extras: the median rates on
 * and off, and the min and max of the per-pair ratio rate_off / rate_on.
 *
 * What the flag turns off is the event ring only: with
 * SHOAL_RUNTIME_NO_TIMELINE the region has no events, but the tick reads
 * (at submit or call, start and end) and the latency histograms stay, so
 * this measures the ring's stores, not the clock reads or the histograms.
 *
 * The runtimes are the other families' (bench.h: *_async_open/close):
 * private (nothing in /dev/shm), shut down on every path.
 */
#include <stdbool.h>
#include <stdint.h>

#include <shoal/shoal.h>

#include "bench.h"
#include "families.h"

#define TL_TARGET_PCT 5.0 /* issue 11: under 5 % on the actor call rate */
#define TL_SLICES 8       /* timed slices per runtime per pair */

struct tl_subject {
	const char *name;
	const char *target;  /* NULL: no promise for this one */
	const char *note;
	int (*open)(uint64_t flags, struct workload *w, struct metric *m);
	int (*close)(struct workload *w, int rc);
};

/* One pair: two fresh runtimes at once, [0] with the timeline on, [1]
 * off, opened in the pair's order; a warm-up of each, then TL_SLICES
 * slices of each of ctx->rep_seconds / TL_SLICES, alternating ABBA from
 * the pair's first; rate[i] = the median of runtime i's slice rates. */
static int tl_pair(const struct bench_ctx *ctx, const struct tl_subject *s,
		   int p, struct metric *m, double rate[2])
{
	static const uint64_t flags[2] = {0, SHOAL_RUNTIME_NO_TIMELINE};
	double v[2][TL_SLICES];
	struct workload w[2];
	bool open[2] = {false, false};
	int n[2] = {0, 0};
	struct timed t;
	int rc = 0;

	for (int k = 0; rc == 0 && k < 2; k++) {
		int i = k ^ (p % 2);

		rc = s->open(flags[i], &w[i], m);
		open[i] = rc == 0;
	}
	for (int k = 0; rc == 0 && k < 2; k++)
		rc = run_for(&w[k ^ (p % 2)], ctx->rep_seconds / 4, &t);
	for (int j = 0; rc == 0 && j < 2 * TL_SLICES; j++) {
		int i = ((j + 1) / 2 % 2) ^ (p % 2); /* A B B A A B B A ... */

		rc = run_for(&w[i], ctx->rep_seconds / TL_SLICES, &t);
		v[i][n[i]++] = (double)t.ops / t.secs;
	}
	for (int i = 0; i < 2; i++)
		if (open[i])
			rc = s->close(&w[i], rc);
	for (int i = 0; rc == 0 && i < 2; i++)
		rate[i] = stats_of(v[i], n[i]).median;
	return rc;
}

static int tl_cost(const struct bench_ctx *ctx, const struct tl_subject *s)
{
	double on[REPS_FULL], off[REPS_FULL], ratio[REPS_FULL], pct[REPS_FULL];
	struct metric m = {.name = s->name, .unit = UNIT_PCT, .note = s->note,
			   .target = s->target, .verdict = -1};
	struct stats st_on, st_off, st_ratio;

	if (!wanted(ctx, s->name))
		return 0;
	for (int p = 0; p < ctx->reps; p++) {
		double rate[2] = {0, 0};
		int rc = tl_pair(ctx, s, p, &m, rate);

		if (rc < 0)
			return emit_error(ctx, s->name, 0, rc);
		on[p] = rate[0];
		off[p] = rate[1];
		ratio[p] = off[p] / on[p];
		pct[p] = (ratio[p] - 1) * 100;
	}
	m.st = stats_of(pct, ctx->reps);
	st_on = stats_of(on, ctx->reps);
	st_off = stats_of(off, ctx->reps);
	st_ratio = stats_of(ratio, ctx->reps);
	add_extra(&m, "rate_on", st_on.median);
	add_extra(&m, "rate_off", st_off.median);
	add_extra(&m, "ratio_min", st_ratio.min);
	add_extra(&m, "ratio_max", st_ratio.max);
	if (s->target)
		m.verdict = m.st.median < TL_TARGET_PCT;
	emit(ctx, &m);
	return 0;
}

int family_timeline(const struct bench_ctx *ctx)
{
	static const struct tl_subject subjects[] = {
		{"timeline_cost_actor_calls_async", "< 5%",
		 "1_1_actor_calls_async (windows of 1000 calls, get_many, "
		 "release, drop), pairs of fresh runtimes, timeline on and "
		 "off (SHOAL_RUNTIME_NO_TIMELINE: the event rings; ticks and "
		 "histograms stay), order alternating; value = median of "
		 "rate_off/rate_on - 1 in %; ratio = rate_off/rate_on",
		 actors_async_open, actors_async_close},
		{"timeline_cost_tasks_async", NULL,
		 "single_client_tasks_async (windows of 1000 no-ops, "
		 "get_many, release, drop), pairs of fresh runtimes, timeline "
		 "on and off (SHOAL_RUNTIME_NO_TIMELINE: the event rings; "
		 "ticks and histograms stay), order alternating; value = "
		 "median of rate_off/rate_on - 1 in %; ratio = "
		 "rate_off/rate_on",
		 tasks_async_open, tasks_async_close},
	};
	int first = 0;

	for (unsigned i = 0; i < sizeof subjects / sizeof subjects[0]; i++) {
		int rc = tl_cost(ctx, &subjects[i]);

		first = first < 0 ? first : rc;
	}
	return first;
}
