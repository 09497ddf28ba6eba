/* SPDX-License-Identifier: MIT */
/*
 * bench/store_workloads.c - what the store families share: the put + drop
 * and get + release workloads, a private store, a sealed object, and puts
 * measured together with the evictions they cause.
 *
 * Invariants: every store is private (shoal_store_create(NULL, ...), a
 * memfd: nothing in /dev/shm) and whoever opens one closes it on every
 * path; a put is dropped at once, so that the object is evictable cache
 * and a put loop always finds room (PUT_TIMEOUT_MS only bounds a stall);
 * a get's view is released before the next get, so a get loop holds
 * nothing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stddef.h>
#include <stdint.h>

#include <shoal/shoal.h>

#include "bench.h"
#include "store_workloads.h"

/* ------------------------------------------------------------------ */
/* Workloads                                                          */

/* shoal_put then shoal_drop: the object becomes evictable cache at once. */
int put_drop_batch(void *arg, uint64_t n)
{
	struct put_state *p = arg;

	for (uint64_t i = 0; i < n; i++) {
		shoal_id id;
		int rc = shoal_put(p->store, p->src, p->size, PUT_TIMEOUT_MS,
				   &id);

		if (rc < 0)
			return rc;
		rc = shoal_drop(p->store, id);
		if (rc < 0)
			return rc;
	}
	p->puts += n;
	return 0;
}

static int get_release_batch(void *arg, uint64_t n)
{
	struct get_state *g = arg;
	uint64_t sink = 0; /* a local: no store to *g in the loop */

	for (uint64_t i = 0; i < n; i++) {
		struct shoal_view v;
		int rc = shoal_get(g->store, g->id, 0, &v);

		if (rc < 0)
			return rc;
		sink += v.size;
		rc = shoal_release(g->store, &v);
		if (rc < 0)
			return rc;
	}
	g->sink += sink;
	return 0;
}

struct workload put_workload(struct put_state *p, uint64_t batch,
			     enum unit u)
{
	return (struct workload){put_drop_batch, p, batch, p->size, u};
}

struct workload get_workload(struct get_state *g, enum unit u)
{
	return (struct workload){get_release_batch, g, CALL_BATCH, 0, u};
}

/* ------------------------------------------------------------------ */
/* Store helpers                                                      */

/* A private store; capacity 0 keeps the default. */
int store_open(uint64_t capacity, struct shoal_store **out)
{
	struct shoal_store_options o;

	shoal_store_options_init(&o);
	if (capacity)
		o.capacity = capacity;
	return shoal_store_create(NULL, &o, out);
}

static int store_evictions(struct shoal_store *store, uint64_t *out)
{
	struct shoal_store_stats s;
	int rc = shoal_store_stats(store, &s);

	if (rc < 0)
		return rc;
	*out = s.evictions;
	return 0;
}

/* A sealed object of `size` bytes of which only the first and last bytes
 * are written (no memcpy of the whole object); the caller holds it. */
int make_sealed(struct shoal_store *store, size_t size, shoal_id *id)
{
	void *data;
	int rc;

	*id = shoal_id_next(store);
	rc = shoal_create(store, *id, size, NULL, 0, 0, &data);
	if (rc < 0)
		return rc;
	((uint8_t *)data)[0] = 1;
	((uint8_t *)data)[size - 1] = 1;
	return shoal_seal(store, *id);
}

/* Measures p's put+drop workload; adds evictions per put to m. */
int measure_puts(const struct bench_ctx *ctx, struct put_state *p,
		 const struct workload *w, int n, struct stats *st,
		 struct metric *m)
{
	uint64_t ev0, ev1;
	int rc = store_evictions(p->store, &ev0);

	p->puts = 0;
	if (rc == 0)
		rc = measure(ctx, w, n, st);
	if (rc == 0)
		rc = store_evictions(p->store, &ev1);
	if (rc == 0 && p->puts)
		add_extra(m, "evictions_per_put",
			  (double)(ev1 - ev0) / (double)p->puts);
	return rc;
}
