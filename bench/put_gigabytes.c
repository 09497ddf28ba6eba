/* SPDX-License-Identifier: MIT */
/*
 * bench/put_gigabytes.c - the put_gigabytes family: put bandwidth against
 * memcpy's, for objects of 64 B to 256 MiB (a factor of 4 apart: 12
 * sizes; --smoke measures 64 B, 1 MiB and 64 MiB only).
 *
 *   single_client_put_gigabytes  shoal_put (create + memcpy + seal) then
 *       shoal_drop, cycling through a private store of BW_CAPACITY that
 *       evicts LRU; ratio_to_memcpy: its median over memcpy_gigabytes's
 *   memcpy_gigabytes  memcpy from the same source into memfd memory,
 *       destinations cycling over the footprint the puts cycle over (the
 *       store's heap_bytes_reserved); system "floor"
 *   create_seal_get_gigabytes_1MiB  shoal_create, memcpy into the
 *       buffer, shoal_seal, shoal_get, read a byte, release, drop: what
 *       iceoryx's loan / publish / take / release does (bench/peers/),
 *       but the object stays cached after the drop (plasma's way), so
 *       the creates cycle through the store, cold
 *   create_seal_get_delete_gigabytes_1MiB  the same, deleted before
 *       the drop: its block goes back at once and the next create takes
 *       it again (next fit's rover moves back to a freed run it was in),
 *       warm in the caches, as an iceoryx chunk goes back to its pool
 *
 * Names are unique: the 64 MiB put keeps Ray's name (Ray's own figure is
 * for large objects), every other size has its own suffix
 * (single_client_put_gigabytes_1MiB, _64B ...), and memcpy_gigabytes has
 * one at every size (_64B ... _256MiB).  Every line is a point of the
 * curve put_bandwidth_vs_size (x: the object's size), which bench/plot
 * draws, memcpy's series beside the put's.  The target (>= 0.7 x memcpy)
 * is stated from 1 MiB up: below, a put is a call's cost, not a copy's.
 *
 * The store cycles every size through the same capacity, and through at
 * most BW_MAX_OBJECTS objects (max_objects, set here: the default
 * changes), so small objects cycle through BW_MAX_OBJECTS x size bytes;
 * memcpy's destinations cycle over what the allocator then holds.  Small
 * sizes are timed in runs of up to BW_CALL_BATCH operations per clock
 * read, so that the clock's cost stays out of a 64-byte put.
 *
 * Invariants: when both are wanted, the two are measured interleaved, in
 * one measure(), and only then is the ratio stated; every page either one
 * cycles over is touched before timing (two put passes over the store; a
 * memset of the destination), so that no first-touch page fault is timed;
 * the destination is shared memfd memory like the store's segment, so that
 * transparent huge pages favour neither.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "bench.h"
#include "curves.h"
#include "families.h"
#include "store_workloads.h"

/* Bandwidth: every size cycles through one footprint of 256 MiB (4 x 64
 * MiB, one 256 MiB object), plus slack for the store's own metadata and
 * the allocator's rounding. */
#define BW_FOOTPRINT (256ull << 20)
#define BW_SLACK (32ull << 20)
#define BW_CAPACITY (BW_FOOTPRINT + BW_SLACK)
#define BW_MAX_SIZE (256ull << 20)  /* the largest object */
#define BW_SMOKE_SIZE (64ull << 20) /* the largest with --smoke */
#define BW_MAX_OBJECTS 65536u       /* the store's max_objects */
#define BW_CALL_BATCH 256u          /* operations per clock read, at most */
#define BW_BATCH_BYTES (64u << 10)  /* ... and as many as make this much */
#define BW_TARGET_FROM (1u << 20)   /* the target applies from this size */

#define TARGET_PUT_VS_MEMCPY 0.7

/* The store's capacity and the memcpy's destination: with --smoke (whose
 * figures mean nothing) one 64 MiB object plus the slack, so that the
 * first touch of the pages, the bulk of a smoke run, is a third. */
static uint64_t bw_capacity(const struct bench_ctx *ctx)
{
	return ctx->smoke ? BW_SMOKE_SIZE + BW_SLACK : BW_CAPACITY;
}

/* The largest object this run puts (and the source buffer's size). */
static uint64_t bw_max_size(const struct bench_ctx *ctx)
{
	return ctx->smoke ? BW_SMOKE_SIZE : BW_MAX_SIZE;
}

/* Operations per clock read for objects of `size`. */
static uint64_t bw_batch(size_t size)
{
	uint64_t b = BW_BATCH_BYTES / size;

	return b < 1 ? 1 : b > BW_CALL_BATCH ? BW_CALL_BATCH : b;
}

struct copy_state {
	uint8_t *dst;
	const void *src;
	size_t size;
	size_t slots;  /* destinations: dst + k * size, k < slots */
	size_t next;
};

static int memcpy_batch(void *arg, uint64_t n)
{
	struct copy_state *c = arg;

	for (uint64_t i = 0; i < n; i++) {
		memcpy(c->dst + c->next * c->size, c->src, c->size);
		if (++c->next == c->slots) /* no division: 64 B copies */
			c->next = 0;
	}
	__asm__ __volatile__("" ::: "memory"); /* the copies are observable */
	return 0;
}

static const char bw_put_name[] = "single_client_put_gigabytes";
static const char bw_csg_name[] = "create_seal_get_gigabytes_1MiB";
static const char bw_csgd_name[] = "create_seal_get_delete_gigabytes_1MiB";
static const char bw_copy_name[] = "memcpy_gigabytes";

struct bw_bufs {
	uint8_t *src;    /* max bytes, anonymous, pre-touched */
	uint8_t *dst;    /* cap bytes of memfd, pre-touched */
	uint64_t cap;    /* bw_capacity() */
	uint64_t max;    /* bw_max_size() */
};

static int bw_bufs_open(struct bw_bufs *b)
{
	void *p = mmap(NULL, b->max, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int rc;

	if (p == MAP_FAILED)
		return -errno;
	b->src = p;
	memset(b->src, 0xa5, b->max);
	/* Shared memfd memory, like the store's own segment (so that the
	 * comparison does not hinge on transparent huge pages for
	 * anonymous memory but not for shmem). */
	rc = curve_map_memfd(b->cap, &b->dst);
	if (rc < 0) {
		munmap(b->src, b->max);
		return rc;
	}
	memset(b->dst, 0, b->cap); /* first touch, outside the timing */
	return 0;
}

static void bw_bufs_close(struct bw_bufs *b)
{
	munmap(b->src, b->max);
	munmap(b->dst, b->cap);
}

/* Two passes of put+drop over what the store cycles through (its
 * capacity, or BW_MAX_OBJECTS objects; one pass with --smoke, whose
 * figures mean nothing), so that every page the puts will cycle through
 * is touched before timing.  *footprint gets the bytes the allocator then
 * holds: what memcpy must cycle through too. */
static int bw_warm(const struct bench_ctx *ctx, struct put_state *p,
		   uint64_t *footprint)
{
	struct shoal_store_stats s;
	uint64_t objects = bw_capacity(ctx) / p->size;
	int rc;

	if (objects > BW_MAX_OBJECTS)
		objects = BW_MAX_OBJECTS;
	rc = put_drop_batch(p, (ctx->smoke ? 1 : 2) * objects + 2);

	if (rc == 0)
		rc = shoal_store_stats(p->store, &s);
	if (rc < 0)
		return rc;
	*footprint = s.heap_bytes_reserved;
	if (*footprint < p->size || *footprint > bw_capacity(ctx))
		*footprint = bw_capacity(ctx) - BW_SLACK; /* out of range: the design's */
	*footprint -= *footprint % p->size;
	return 0;
}

static void bw_emit(const struct bench_ctx *ctx, struct metric *put,
		    struct metric *copy, bool both)
{
	if (both) {
		double ratio = put->st.median / copy->st.median;

		add_extra(put, "ratio_to_memcpy", ratio);
		if (put->target)
			put->verdict = ratio >= TARGET_PUT_VS_MEMCPY;
	}
	if (put->name)
		emit(ctx, put);
	if (copy->name)
		emit(ctx, copy);
}

/* Measures the put and/or memcpy workloads of one size, interleaved. */
static int bw_measure(const struct bench_ctx *ctx, struct put_state *p,
		      struct copy_state *c, struct metric *put,
		      struct metric *copy)
{
	struct workload w[MAX_WORKLOADS];
	struct stats st[MAX_WORKLOADS];
	int n = 0, rc;

	if (put->name)
		w[n++] = put_workload(p, bw_batch(p->size), UNIT_GBPS);
	if (copy->name)
		w[n++] = (struct workload){memcpy_batch, c, bw_batch(c->size),
					   c->size, UNIT_GBPS};
	rc = measure_puts(ctx, p, w, n, st, put);
	if (rc < 0)
		return rc;
	if (put->name)
		put->st = st[0];
	if (copy->name)
		copy->st = st[n - 1];
	bw_emit(ctx, put, copy, n == 2);
	return 0;
}

/* A size as a name's suffix: "64B", "16KiB", "256MiB". */
static void bw_label(size_t size, char *buf, size_t len)
{
	if (size >= (1u << 20))
		snprintf(buf, len, "%zuMiB", size >> 20);
	else if (size >= (1u << 10))
		snprintf(buf, len, "%zuKiB", size >> 10);
	else
		snprintf(buf, len, "%zuB", size);
}

/* A private store for the bandwidth: capacity and max_objects set here. */
static int bw_store_open(uint64_t capacity, struct shoal_store **out)
{
	struct shoal_store_options o;

	shoal_store_options_init(&o);
	o.capacity = capacity;
	o.max_objects = BW_MAX_OBJECTS;
	return shoal_store_create(NULL, &o, out);
}

static int bw_one_size(const struct bench_ctx *ctx, const struct bw_bufs *b,
		       size_t size)
{
	struct metric put = {
		.name = wanted(ctx, bw_put_name) ? bw_put_name : NULL,
		.unit = UNIT_GBPS, .size = size,
		.target = size >= BW_TARGET_FROM ? ">= 70% of memcpy" : NULL,
		.verdict = -1,
		.note = "shoal_put (create+memcpy+seal) then shoal_drop, "
			"cycling through a store of 288 MiB (at most 65536 "
			"objects) that evicts LRU; warmed by two passes first, "
			"so first-touch page faults (~3 us/page here) are "
			"excluded",
	};
	struct metric copy = {
		.name = wanted(ctx, bw_copy_name) ? bw_copy_name : NULL,
		.unit = UNIT_GBPS, .size = size,
		.note = "memcpy from the same source into pre-touched memfd "
			"memory, destinations cycling over the put's "
			"footprint (the store's heap_bytes_reserved)",
	};
	struct shoal_store *store;
	struct put_state p = {NULL, b->src, size, 0};
	struct copy_state c = {b->dst, b->src, size, 1, 0};
	const char *name = put.name ? put.name : copy.name;
	char label[32];
	int rc;

	bw_label(size, label, sizeof label);
	put.variant = size == (64u << 20) ? NULL : label; /* Ray's name */
	copy.variant = label;
	copy.system = "floor";
	put.curve = copy.curve = "put_bandwidth_vs_size";
	put.x = copy.x = (double)size;
	if (!name)
		return 0;
	rc = bw_store_open(b->cap, &store);
	if (rc < 0)
		return emit_error(ctx, name, size, rc);
	p.store = store;
	rc = bw_warm(ctx, &p, &put.footprint);
	copy.footprint = put.footprint;
	c.slots = put.footprint / size;
	if (rc == 0)
		rc = bw_measure(ctx, &p, &c, &put, &copy);
	shoal_store_close(store);
	return rc < 0 ? emit_error(ctx, name, size, rc) : 0;
}

/* create + memcpy + seal + get + release (+ delete) + drop, n times. */
static int csg_run(struct put_state *p, uint64_t n, bool delete)
{

	for (uint64_t i = 0; i < n; i++) {
		shoal_id id = shoal_id_next(p->store);
		struct shoal_view v;
		void *data;
		int rc = shoal_create(p->store, id, p->size, NULL, 0,
				      PUT_TIMEOUT_MS, &data);

		if (rc < 0)
			return rc;
		memcpy(data, p->src, p->size);
		rc = shoal_seal(p->store, id);
		if (rc == 0)
			rc = shoal_get(p->store, id, 0, &v);
		if (rc == 0) {
			p->puts += ((const volatile uint8_t *)v.data)[v.size - 1];
			shoal_release(p->store, &v);
		}
		if (rc < 0) {
			shoal_abort(p->store, id);
			shoal_drop(p->store, id);
			return rc;
		}
		if (delete)
			rc = shoal_delete(p->store, id);
		if (rc == 0)
			rc = shoal_drop(p->store, id);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int csg_batch(void *arg, uint64_t n)
{
	return csg_run(arg, n, false);
}

static int csgd_batch(void *arg, uint64_t n)
{
	return csg_run(arg, n, true);
}

/* One of the two: the object dropped and left cached (csg), or deleted
 * first, its block recycled (csgd). */
static int csg_measure_one(const struct bench_ctx *ctx, const struct bw_bufs *b,
			   bool delete)
{
	struct metric m = {
		.name = delete ? bw_csgd_name : bw_csg_name, .unit = UNIT_GBPS,
		.size = 1u << 20, .place = PLACE_FREE,
		.note = delete
			? "shoal_create, memcpy 1 MiB into the buffer, "
			  "shoal_seal, shoal_get, read, release, delete, drop, "
			  "in one process: the block goes back at once and the "
			  "next create takes it again, as an iceoryx chunk "
			  "goes back to its pool at the last release"
			: "shoal_create, memcpy 1 MiB into the buffer, "
			  "shoal_seal, shoal_get, read, release, drop, in one "
			  "process: the object stays cached (evicted LRU), so "
			  "the creates cycle through the 288 MiB store "
			  "(warmed); the steps of an iceoryx loan, publish, "
			  "take, release, but for the recycling",
	};
	struct shoal_store *store;
	struct put_state p = {NULL, b->src, 1u << 20, 0};
	struct workload w = {delete ? csgd_batch : csg_batch, &p, 1, 1u << 20,
			     UNIT_GBPS};
	int rc;

	if (!wanted(ctx, m.name))
		return 0;
	rc = bw_store_open(b->cap, &store);
	if (rc < 0)
		return emit_error(ctx, m.name, m.size, rc);
	p.store = store;
	rc = bw_warm(ctx, &p, &m.footprint);
	if (rc == 0)
		rc = measure(ctx, &w, 1, &m.st);
	shoal_store_close(store);
	if (rc < 0)
		return emit_error(ctx, m.name, m.size, rc);
	emit(ctx, &m);
	return 0;
}

static int csg_measure(const struct bench_ctx *ctx, const struct bw_bufs *b)
{
	int rc = csg_measure_one(ctx, b, false);
	int rd = csg_measure_one(ctx, b, true);

	return rc < 0 ? rc : rd;
}

int family_put_gigabytes(const struct bench_ctx *ctx)
{
	static const size_t smoke[] = {64, 1u << 20, 64u << 20};
	struct bw_bufs b = {NULL, NULL, bw_capacity(ctx), bw_max_size(ctx)};
	int rc = 0, err = 0;

	if (!wanted(ctx, bw_put_name) && !wanted(ctx, bw_copy_name) &&
	    !wanted(ctx, bw_csg_name) && !wanted(ctx, bw_csgd_name))
		return 0;
	rc = bw_bufs_open(&b);
	if (rc < 0)
		return emit_error(ctx, bw_copy_name, 0, rc);
	for (size_t i = 0; ctx->smoke && i < sizeof smoke / sizeof smoke[0]; i++) {
		rc = bw_one_size(ctx, &b, smoke[i]);
		err = rc < 0 ? rc : err;
	}
	for (size_t size = 64; !ctx->smoke && size <= b.max; size *= 4) {
		rc = bw_one_size(ctx, &b, size);
		err = rc < 0 ? rc : err;
	}
	rc = csg_measure(ctx, &b);
	err = rc < 0 ? rc : err;
	bw_bufs_close(&b);
	return err;
}
