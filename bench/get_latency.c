/* SPDX-License-Identifier: MIT */
/*
 * bench/get_latency.c - the get_latency family: ns per shoal_get +
 * shoal_release pair on a sealed object of 1 KiB (get_latency_1KiB_ns)
 * and of 1 GiB of which only 2 bytes were written (get_latency_1GiB_ns),
 * each in a private store of its size + LAT_SLACK; ratio_to_1KiB: a get
 * is pointer arithmetic, so the size should not show.
 *
 * Invariants: when both are wanted, the two are measured interleaved, in
 * one measure(), and only then is the ratio stated; each object is dropped
 * and each store closed on every path.
 */
#include <shoal/shoal.h>

#include "bench.h"
#include "families.h"
#include "store_workloads.h"

#define LAT_SLACK (64ull << 20) /* store capacity = object size + this */
#define TARGET_1GIB_VS_1KIB 2.0

struct lat_case {
	struct metric m;
	struct get_state g;  /* g.store is NULL until prepared */
};

static int lat_prepare(const struct bench_ctx *ctx, struct lat_case *c)
{
	struct shoal_store *store;
	int rc = store_open(c->m.size + LAT_SLACK, &store);

	if (rc < 0)
		return emit_error(ctx, c->m.name, c->m.size, rc);
	rc = make_sealed(store, c->m.size, &c->g.id);
	if (rc < 0) {
		shoal_store_close(store);
		return emit_error(ctx, c->m.name, c->m.size, rc);
	}
	c->g.store = store;
	return 0;
}

static int lat_finish(const struct bench_ctx *ctx, struct lat_case *c)
{
	int rc;

	if (!c->g.store)
		return 0;
	rc = shoal_drop(c->g.store, c->g.id);
	shoal_store_close(c->g.store);
	c->g.store = NULL;
	return rc < 0 ? emit_error(ctx, c->m.name, c->m.size, rc) : 0;
}

/* Measures the prepared cases side by side and emits them. */
static int lat_measure(const struct bench_ctx *ctx, struct lat_case *c,
		       int ncases)
{
	struct workload w[MAX_WORKLOADS];
	struct stats st[MAX_WORKLOADS];
	struct lat_case *run[MAX_WORKLOADS];
	int n = 0, rc;

	for (int i = 0; i < ncases; i++) {
		if (c[i].g.store) {
			w[n] = get_workload(&c[i].g, UNIT_NS);
			run[n++] = &c[i];
		}
	}
	rc = n ? measure(ctx, w, n, st) : 0;
	for (int k = 0; k < n; k++) {
		if (rc < 0) {
			emit_error(ctx, run[k]->m.name, run[k]->m.size, rc);
			continue;
		}
		run[k]->m.st = st[k];
		if (k == 1) {
			double ratio = st[1].median / st[0].median;

			add_extra(&run[1]->m, "ratio_to_1KiB", ratio);
			run[1]->m.verdict = ratio <= TARGET_1GIB_VS_1KIB;
		}
		emit(ctx, &run[k]->m);
	}
	return rc;
}

int family_get_latency(const struct bench_ctx *ctx)
{
	struct lat_case c[MAX_WORKLOADS] = {
		{.m = {.name = "get_latency_1KiB_ns", .unit = UNIT_NS,
		       .size = 1u << 10,
		       .note = "shoal_get + shoal_release pair, one sealed "
			       "1 KiB object"}},
		{.m = {.name = "get_latency_1GiB_ns", .unit = UNIT_NS,
		       .size = 1u << 30, .target = "<= 2x the 1 KiB get",
		       .verdict = -1,
		       .note = "shoal_get + shoal_release pair, one sealed "
			       "1 GiB object of which only 2 bytes were "
			       "written"}},
	};
	int rc, err = 0;

	for (int i = 0; i < MAX_WORKLOADS; i++) {
		rc = wanted(ctx, c[i].m.name) ? lat_prepare(ctx, &c[i]) : 0;
		err = rc < 0 ? rc : err;
	}
	rc = lat_measure(ctx, c, MAX_WORKLOADS);
	err = rc < 0 ? rc : err;
	for (int i = 0; i < MAX_WORKLOADS; i++) {
		rc = lat_finish(ctx, &c[i]);
		err = rc < 0 ? rc : err;
	}
	return err;
}
