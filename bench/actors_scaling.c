/* SPDX-License-Identifier: MIT */
/*
 * bench/actors_scaling.c - the actors_scaling family: what actors cost
 * against how many there are (issue 12's scaling curves), 8 to 512
 * actors, one curve ("actors_vs_count", x = actors), four series, each
 * in ns per actor (or per call):
 *
 *   actors_create_ns_N      shoal_actor_create of N actors, one after
 *       another (each returns once the fork server started the process)
 *   actors_first_call_ns_N  then the first call on each: one call to each
 *       of the N (each makes the driver's lane into that actor and waits
 *       for its constructor), one shoal_get_many of the N results,
 *       release, drop; the time over N
 *   actors_calls_round_robin_ns_N  then windows of AS_WINDOW calls,
 *       call i to actor i mod N, one get_many per window, release and
 *       drop, for one repetition's time: ns per call
 *   actors_kill_ns_N        then shoal_actor_kill (no restart) of each,
 *       one after another (each returns once the fork server reaped it)
 *
 * Each repetition is a fresh private runtime (opts.name = NULL: nothing
 * in /dev/shm) with max_actors = N, one worker, and the store's
 * max_objects, ledger_slots and capacity set here (not the defaults,
 * which change); the four steps run in that order on it, so every series'
 * value is the median over ctx->reps runtimes.  The methods return 8
 * bytes, as the actors family's do.  --quick stops at 128 actors, --smoke
 * at 32.
 *
 * Processes: the actors are the runtime's (forked by its fork server);
 * shoal_runtime_shutdown() stops and reaps every one still alive, on every
 * path, error paths included.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/shoal.h>

#include "bench.h"
#include "curves.h"
#include "families.h"

#define AS_WINDOW 1000u        /* round-robin calls per get_many */
#define AS_TIMEOUT_MS 30000    /* a get_many of a window or of first calls */
#define AS_MAX 512u
#define AS_NSTEP 4

static const uint64_t as_points[] = {8, 32, 128, AS_MAX};
#define AS_NPOINTS (sizeof as_points / sizeof as_points[0])

static const char as_curve[] = "actors_vs_count";

enum as_step { AS_CREATE, AS_FIRST, AS_ROUND, AS_KILL };

static const char *const as_stem[AS_NSTEP] = {
	"actors_create_ns", "actors_first_call_ns",
	"actors_calls_round_robin_ns", "actors_kill_ns",
};

static const char *const as_note[AS_NSTEP] = {
	"shoal_actor_create of N actors one after another, on a fresh "
	"runtime with max_actors N; ns per actor, median over runtimes",
	"then one call to each of the N (its first: the lane is made, the "
	"constructor waited for), one get_many of the N, release, drop; "
	"ns per actor",
	"then windows of 1000 calls, call i to actor i mod N, one get_many "
	"per window, release, drop, for one repetition's time; ns per call",
	"then shoal_actor_kill (no restart) of each of the N, one after "
	"another; ns per actor",
};

static const char ok8[8] = "ok";

static int as_init(struct shoal_task *t, void **self)
{
	(void)t;
	*self = NULL;
	return 0;
}

static int as_value(struct shoal_task *t, void *self)
{
	(void)self;
	return shoal_task_return(t, 0, ok8, sizeof ok8);
}

struct as_state {
	struct shoal_runtime *rt;
	struct shoal_actor actors[AS_MAX];
	uint32_t n;        /* actors created */
	int method;
	shoal_id refs[AS_WINDOW];
	struct shoal_view views[AS_WINDOW];
};

/* calls[0..k) to actors (first + i) mod n, one get_many, release, drop. */
static int as_calls(struct as_state *s, uint32_t first, uint32_t k)
{
	struct shoal_store *st = shoal_runtime_store(s->rt);
	struct shoal_args a;
	uint32_t done = 0;
	int rc = 0;

	shoal_args_init(&a);
	for (; done < k && rc == 0; done++)
		rc = shoal_actor_call(s->rt, s->actors[(first + done) % s->n],
				      s->method, &a, &s->refs[done]);
	if (rc < 0)
		done--;
	if (rc == 0)
		rc = shoal_get_many(st, s->refs, k, AS_TIMEOUT_MS, s->views);
	for (uint32_t i = 0; rc >= 0 && i < k; i++)
		if (s->views[i].err)
			rc = s->views[i].err;
		else if (s->views[i].size != sizeof ok8)
			rc = -EBADMSG;
	for (uint32_t i = 0; done == k && i < k; i++)
		if (s->views[i].data)
			shoal_release(st, &s->views[i]);
	for (uint32_t i = 0; i < done; i++) {
		int r = shoal_drop(st, s->refs[i]);

		rc = rc < 0 ? rc : r;
	}
	return rc < 0 ? rc : 0;
}

/* Windows of AS_WINDOW calls round-robin until `seconds` passed (at least
 * one window): ns per call. */
static int as_round(struct as_state *s, double seconds, double *ns)
{
	double t0 = now_s(), t;
	uint64_t calls = 0;

	do {
		int rc = as_calls(s, (uint32_t)(calls % s->n), AS_WINDOW);

		if (rc < 0)
			return rc;
		calls += AS_WINDOW;
		t = now_s();
	} while (t - t0 < seconds);
	*ns = (t - t0) * 1e9 / (double)calls;
	return 0;
}

static int as_start(uint32_t n, struct as_state *s, struct metric *m)
{
	struct shoal_runtime_options o;
	struct shoal_registry *reg;
	int rc = shoal_registry_open(&reg);

	s->rt = NULL;
	s->n = 0;
	if (rc < 0)
		return rc;
	rc = shoal_register_actor(reg, "Scale", as_init, NULL);
	if (rc == 0)
		rc = shoal_register_method(reg, "Scale", "value", as_value);
	shoal_runtime_options_init(&o);
	o.name = NULL;
	o.num_workers = 1;
	o.max_actors = n;
	o.store.max_objects = 65536;
	o.store.ledger_slots = 4096;
	o.store.capacity = 64ull << 20;
	if (rc == 0)
		rc = shoal_runtime_start(reg, &o, &s->rt);
	shoal_registry_close(reg);
	if (rc < 0)
		return rc;
	m->runtime = true;
	m->workers = o.num_workers;
	m->capacity = o.store.capacity;
	m->spin_budget = o.store.spin_budget;
	return 0;
}

/* One repetition on a fresh runtime: v[step] gets each step's ns. */
static int as_rep(const struct bench_ctx *ctx, uint32_t n,
		  struct as_state *s, struct metric *m, double v[AS_NSTEP])
{
	double t0;
	int r, rc = as_start(n, s, m);

	if (rc < 0)
		return rc;
	t0 = now_s();
	for (; s->n < n && rc == 0; s->n++)
		rc = shoal_actor_create(s->rt, "Scale", NULL, NULL,
					&s->actors[s->n]);
	v[AS_CREATE] = (now_s() - t0) * 1e9 / n;
	if (rc == 0) {
		s->method = shoal_actor_method(s->rt, s->actors[0], "value");
		rc = s->method < 0 ? s->method : 0;
	}
	t0 = now_s();
	if (rc == 0)
		rc = as_calls(s, 0, n);
	v[AS_FIRST] = (now_s() - t0) * 1e9 / n;
	if (rc == 0)
		rc = as_round(s, ctx->rep_seconds, &v[AS_ROUND]);
	t0 = now_s();
	for (uint32_t i = 0; i < s->n && rc == 0; i++)
		rc = shoal_actor_kill(s->rt, s->actors[i], true);
	v[AS_KILL] = (now_s() - t0) * 1e9 / n;
	r = shoal_runtime_shutdown(s->rt);
	s->rt = NULL;
	return rc < 0 ? rc : r;
}

static void as_emit(const struct bench_ctx *ctx, enum as_step k, uint64_t n,
		    const struct metric *tmpl, const struct stats *st)
{
	char name[96];
	struct metric m = *tmpl;

	curve_name(name, sizeof name, as_stem[k], n);
	m.name = name;
	m.unit = UNIT_NS;
	m.st = *st;
	m.place = PLACE_FREE;
	m.curve = as_curve;
	m.x = (double)n;
	m.verdict = -1;
	m.note = as_note[k];
	add_extra(&m, "actors", (double)n);
	emit(ctx, &m);
}

static int as_point(const struct bench_ctx *ctx, uint32_t n,
		    struct as_state *s, const bool *want)
{
	double v[AS_NSTEP][REPS_FULL], rep[AS_NSTEP] = {0};
	struct metric m = {0};
	int rc = 0;

	for (int r = 0; rc == 0 && r < ctx->reps; r++) {
		rc = as_rep(ctx, n, s, &m, rep);
		for (int k = 0; k < AS_NSTEP; k++)
			v[k][r] = rep[k];
	}
	for (int k = 0; rc == 0 && k < AS_NSTEP; k++) {
		struct stats st;

		if (!want[k])
			continue;
		st = stats_of(v[k], ctx->reps);
		as_emit(ctx, (enum as_step)k, n, &m, &st);
	}
	return rc;
}

int family_actors_scaling(const struct bench_ctx *ctx)
{
	size_t np = curve_points(ctx, as_points, AS_NPOINTS, 128, 32);
	struct as_state *s;
	bool want[AS_NSTEP], any = false;
	int rc = 0;

	for (int k = 0; k < AS_NSTEP; k++)
		any |= want[k] = wanted(ctx, as_stem[k]);
	if (!any)
		return 0;
	s = calloc(1, sizeof *s);
	if (!s)
		return emit_error(ctx, as_stem[AS_CREATE], 0, -ENOMEM);
	for (size_t p = 0; rc == 0 && p < np; p++)
		rc = as_point(ctx, (uint32_t)as_points[p], s, want);
	free(s);
	return rc < 0 ? emit_error(ctx, as_stem[AS_CREATE], 0, rc) : 0;
}
