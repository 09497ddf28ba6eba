/* SPDX-License-Identifier: MIT */
/*
 * runtime/proc/metrics.c - shoal_metrics: the runtime's counters and
 * latency histograms in the Prometheus text format (0.0.4), for a
 * scraper's textfile collector or `shoal metrics NAME`.
 *
 * Invariants: it only reads (the public info calls, and the timeline
 * rings' histogram words, timeline.h), so it works on any handle and
 * never disturbs the runtime.  A histogram is written consistent with
 * itself: its _count is the sum of the buckets read, and the buckets are
 * cumulative, whatever the writers did between two loads.  Label values
 * are escaped (backslash, quote, newline), names come from the segment
 * bounded.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <shoal/actor.h>
#include <shoal/runtime.h>

#include "proc_int.h"
#include "timeline.h"

static void shoal__m_head(FILE *out, const char *name, const char *type,
			  const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void shoal__m_one(FILE *out, const char *name, const char *type,
			 const char *help, uint64_t value)
{
	shoal__m_head(out, name, type, help);
	fprintf(out, "%s %" PRIu64 "\n", name, value);
}

/* A label value, escaped as the text format wants. */
static void shoal__m_label(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++) {
		if (s[i] == '\\' || s[i] == '"')
			fputc('\\', out);
		if (s[i] == '\n')
			fputs("\\n", out);
		else
			fputc(s[i], out);
	}
}

static int shoal__m_store(FILE *out, struct shoal_store *st)
{
	struct shoal_store_stats s;
	int rc = shoal_store_stats(st, &s);

	if (rc)
		return rc;
	shoal__m_one(out, "shoal_object_store_capacity_bytes", "gauge",
		     "Bytes the store can hold.", s.capacity);
	shoal__m_one(out, "shoal_object_store_used_bytes", "gauge",
		     "Bytes of live objects.", s.bytes_used);
	shoal__m_one(out, "shoal_object_store_objects", "gauge",
		     "Live objects.", s.objects);
	shoal__m_one(out, "shoal_object_store_evictions_total", "counter",
		     "Objects evicted to make room.", s.evictions);
	shoal__m_one(out, "shoal_object_store_evicted_bytes_total", "counter",
		     "Bytes evicted to make room.", s.evicted_bytes);
	shoal__m_one(out, "shoal_processes", "gauge",
		     "Processes attached to the store.", s.processes);
	shoal__m_one(out, "shoal_processes_reaped_total", "counter",
		     "Dead processes whose slots were reaped.", s.reaped);
	return 0;
}

static int shoal__m_pool(FILE *out, struct shoal_runtime *rt)
{
	struct shoal_runtime_info i;
	int rc = shoal_runtime_info(rt, &i, NULL, 0);

	if (rc)
		return rc;
	shoal__m_one(out, "shoal_workers", "gauge", "The pool's size.", i.num_workers);
	shoal__m_one(out, "shoal_workers_alive", "gauge", "Worker processes running.",
		     i.workers_alive);
	shoal__m_one(out, "shoal_workers_started_total", "counter",
		     "Worker processes started, replacements included.",
		     i.workers_started);
	shoal__m_one(out, "shoal_workers_died_total", "counter",
		     "Worker deaths not asked for.", i.workers_died);
	shoal__m_one(out, "shoal_tasks_submitted_total", "counter",
		     "Tasks submitted.", i.tasks_submitted);
	shoal__m_head(out, "shoal_tasks_finished_total", "counter",
		      "Tasks that ran to the end, by outcome.");
	fprintf(out, "shoal_tasks_finished_total{status=\"ok\"} %" PRIu64 "\n",
		i.tasks_done);
	fprintf(out, "shoal_tasks_finished_total{status=\"failed\"} %" PRIu64 "\n",
		i.tasks_failed);
	shoal__m_one(out, "shoal_tasks_queued", "gauge",
		     "Tasks in the run queue now (approximate).", i.tasks_queued);
	return 0;
}

static const char *shoal__m_state(uint32_t state)
{
	switch (state) {
	case SHOAL_ACTOR_STARTING: return "starting";
	case SHOAL_ACTOR_ALIVE: return "alive";
	case SHOAL_ACTOR_RESTARTING: return "restarting";
	case SHOAL_ACTOR_DEAD: return "dead";
	default: return "unknown";
	}
}

static void shoal__m_actor_labels(FILE *out, const struct shoal_actor_info *a,
				  uint32_t slot)
{
	fputs("{class=\"", out);
	shoal__m_label(out, a->klass, sizeof a->klass);
	fprintf(out, "\",actor=\"%u\",name=\"", slot);
	shoal__m_label(out, a->name, sizeof a->name);
	fputc('"', out);
}

/* Per actor: state, restarts, calls (labels: class, slot, name). */
static void shoal__m_actors(FILE *out, struct shoal_runtime *rt)
{
	static const char *const what[] = {"shoal_actor_state", "shoal_actor_restarts_total",
					   "shoal_actor_calls_total"};
	struct shoal_actor *list = malloc(SHOAL__ACT_MAX_ACTORS * sizeof *list);
	struct shoal_actor_info a;
	int n = list ? shoal_actor_list(rt, list, SHOAL__ACT_MAX_ACTORS) : 0;

	shoal__m_head(out, what[0], "gauge", "1 for the actor's state now.");
	for (int i = 0; i < n && i < (int)SHOAL__ACT_MAX_ACTORS; i++)
		if (!shoal_actor_info(rt, list[i], &a)) {
			fputs(what[0], out);
			shoal__m_actor_labels(out, &a, list[i].index);
			fprintf(out, ",state=\"%s\"} 1\n", shoal__m_state(a.state));
		}
	shoal__m_head(out, what[1], "counter", "Restarts of the actor.");
	for (int i = 0; i < n && i < (int)SHOAL__ACT_MAX_ACTORS; i++)
		if (!shoal_actor_info(rt, list[i], &a)) {
			fputs(what[1], out);
			shoal__m_actor_labels(out, &a, list[i].index);
			fprintf(out, "} %u\n", a.restarts);
		}
	shoal__m_head(out, what[2], "counter", "Calls the actor ran, by outcome.");
	for (int i = 0; i < n && i < (int)SHOAL__ACT_MAX_ACTORS; i++)
		if (!shoal_actor_info(rt, list[i], &a)) {
			fputs(what[2], out);
			shoal__m_actor_labels(out, &a, list[i].index);
			fprintf(out, ",status=\"ok\"} %" PRIu64 "\n",
				a.calls_run - (a.calls_failed < a.calls_run ? a.calls_failed
									    : a.calls_run));
			fputs(what[2], out);
			shoal__m_actor_labels(out, &a, list[i].index);
			fprintf(out, ",status=\"failed\"} %" PRIu64 "\n", a.calls_failed);
		}
	free(list);
}

/* a + b, saturating: counts a neighbour scribbled near 2^64 must not
 * wrap and make the buckets go down. */
static uint64_t shoal__m_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/* Histogram h summed over every ring. */
static void shoal__m_hist(FILE *out, const struct shoal__rt_view *v, uint32_t h,
			  const char *name, const char *help)
{
	uint64_t b[SHOAL__TL_BUCKETS] = {0}, sum_ns = 0, cum = 0;

	for (uint32_t r = 0; r < v->tl_rings; r++) {
		const struct shoal__tl_ring *g = shoal__tl_ring_at(v, r);

		/* Relaxed: counters, each read once (timeline.h). */
		for (uint32_t k = 0; k < SHOAL__TL_BUCKETS; k++)
			b[k] = shoal__m_add(b[k], atomic_load_explicit(&g->hist[h][k],
								 memory_order_relaxed));
		sum_ns = shoal__m_add(sum_ns, atomic_load_explicit(&g->sum_ns[h],
								  memory_order_relaxed));
	}
	shoal__m_head(out, name, "histogram", help);
	for (uint32_t k = 0; k < SHOAL__TL_BUCKETS; k++) {
		cum = shoal__m_add(cum, b[k]);
		if (k + 1 < SHOAL__TL_BUCKETS)
			fprintf(out, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
				1e-6 * (double)(1ull << k), cum);
		else
			fprintf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cum);
	}
	fprintf(out, "%s_sum %.9f\n%s_count %" PRIu64 "\n", name,
		(double)sum_ns / 1e9, name, cum);
}

SHOAL_API int shoal_metrics(struct shoal_runtime *rt, FILE *out)
{
	int rc;

	if (!rt || !out)
		return -EINVAL;
	rc = shoal__m_store(out, rt->store);
	if (!rc)
		rc = shoal__m_pool(out, rt);
	if (rc)
		return rc;
	shoal__m_actors(out, rt);
	shoal__m_hist(out, &rt->v, SHOAL__H_TASK_RUN, "shoal_task_run_seconds",
		      "Time tasks ran, start to results sealed.");
	shoal__m_hist(out, &rt->v, SHOAL__H_TASK_LATENCY, "shoal_task_latency_seconds",
		      "Time from a task's submit to its results sealed.");
	shoal__m_hist(out, &rt->v, SHOAL__H_CALL_RUN, "shoal_actor_call_run_seconds",
		      "Time actor methods ran, start to result sealed.");
	shoal__m_hist(out, &rt->v, SHOAL__H_CALL_LATENCY,
		      "shoal_actor_call_latency_seconds",
		      "Time from a call to its result sealed.");
	if (fflush(out) || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}
