/* SPDX-License-Identifier: MIT */
/*
 * bench/store_workloads.h - the workloads and store helpers that the store
 * families (put_calls, get_calls, put_gigabytes, get_latency) share;
 * bench/store_workloads.c says what each does.
 */
#ifndef SHOAL_BENCH_STORE_WORKLOADS_H
#define SHOAL_BENCH_STORE_WORKLOADS_H

#include <stddef.h>
#include <stdint.h>

#include <shoal/shoal.h>

#include "bench.h"

#define SMALL_OBJECT 64u     /* bytes, the put/get call benchmarks */
#define CALL_BATCH 256u      /* calls between two clock reads */
#define PUT_TIMEOUT_MS 1000  /* a put + drop loop always finds evictable room */

struct put_state {
	struct shoal_store *store;
	const void *src;
	size_t size;
	uint64_t puts;  /* puts done, for evictions per put */
};

struct get_state {
	struct shoal_store *store;
	shoal_id id;
	uint64_t sink;  /* sizes seen, so the views are used */
};

int put_drop_batch(void *arg, uint64_t n);
struct workload put_workload(struct put_state *p, uint64_t batch,
			     enum unit u);
struct workload get_workload(struct get_state *g, enum unit u);
int store_open(uint64_t capacity, struct shoal_store **out);
int make_sealed(struct shoal_store *store, size_t size, shoal_id *id);
int measure_puts(const struct bench_ctx *ctx, struct put_state *p,
		 const struct workload *w, int n, struct stats *st,
		 struct metric *m);

#endif /* SHOAL_BENCH_STORE_WORKLOADS_H */
