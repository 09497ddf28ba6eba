/* SPDX-License-Identifier: MIT */
/*
 * bench/get_calls.c - the get_calls family: single_client_get_calls,
 * shoal_get (timeout 0) + shoal_release pairs per second on one sealed
 * 64-byte object of a private store (Ray's get calls).
 *
 * Invariants: the object is sealed before timing and held by the bench
 * until the store closes, so every get finds it; nothing is created or
 * evicted while timing.
 */
#include <shoal/shoal.h>

#include "bench.h"
#include "families.h"
#include "store_workloads.h"

#define TARGET_GET_CALLS 10e6

int family_get_calls(const struct bench_ctx *ctx)
{
	struct metric m = {
		.name = "single_client_get_calls", .unit = UNIT_OPS,
		.size = SMALL_OBJECT, .target = ">= 10M/s",
		.note = "shoal_get (timeout 0) + shoal_release of one sealed "
			"object",
	};
	struct shoal_store *store;
	struct get_state g = {0};
	struct workload w;
	int rc;

	if (!wanted(ctx, m.name))
		return 0;
	rc = store_open(0, &store);
	if (rc < 0)
		return emit_error(ctx, m.name, m.size, rc);
	g.store = store;
	w = get_workload(&g, UNIT_OPS);
	rc = make_sealed(store, SMALL_OBJECT, &g.id);
	if (rc == 0)
		rc = measure(ctx, &w, 1, &m.st);
	shoal_store_close(store);
	if (rc < 0)
		return emit_error(ctx, m.name, m.size, rc);
	m.verdict = m.st.median >= TARGET_GET_CALLS;
	emit(ctx, &m);
	return 0;
}
