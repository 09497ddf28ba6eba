/* SPDX-License-Identifier: MIT */
/*
 * bench/put_gigabytes.c - the put_gigabytes family: put bandwidth against
 * memcpy's, for objects of 1 MiB and of 64 MiB.
 *
 *   single_client_put_gigabytes  shoal_put (create + memcpy + seal) then
 *       shoal_drop, cycling through a private store of BW_CAPACITY that
 *       evicts LRU; ratio_to_memcpy: its median over memcpy_gigabytes's
 *   memcpy_gigabytes  memcpy from the same source into memfd memory,
 *       destinations cycling over the footprint the puts cycle over (the
 *       store's heap_bytes_reserved); system "floor"
 *   create_seal_get_gigabytes_1MiB  shoal_create, memcpy into the
 *       buffer, shoal_seal, shoal_get, read a byte, release, drop: what
 *       iceoryx's loan / publish / take / release does (bench/peers/)
 *
 * Names are unique: the 64 MiB put keeps Ray's name (Ray's own figure is
 * for large objects), the 1 MiB one is single_client_put_gigabytes_1MiB,
 * memcpy_gigabytes_1MiB and _64MiB.  Every line is a point of the curve
 * put_bandwidth_vs_size (x: the object's size), which bench/plot draws.
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
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "bench.h"
#include "families.h"
#include "store_workloads.h"

/* Bandwidth: every size cycles through one footprint of 4 x 64 MiB, plus
 * slack for the store's own metadata and the allocator's rounding. */
#define BW_FOOTPRINT (256ull << 20)
#define BW_SLACK (32ull << 20)
#define BW_CAPACITY (BW_FOOTPRINT + BW_SLACK)
#define BW_MAX_SIZE (64ull << 20)

#define TARGET_PUT_VS_MEMCPY 0.7

/* The store's capacity and the memcpy's destination: with --smoke (whose
 * figures mean nothing) one 64 MiB object plus the slack, so that the
 * first touch of the pages, the bulk of a smoke run, is a third. */
static uint64_t bw_capacity(const struct bench_ctx *ctx)
{
	return ctx->smoke ? BW_MAX_SIZE + BW_SLACK : BW_CAPACITY;
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
		c->next = (c->next + 1) % c->slots;
	}
	__asm__ __volatile__("" ::: "memory"); /* the copies are observable */
	return 0;
}

static const char bw_put_name[] = "single_client_put_gigabytes";
static const char bw_csg_name[] = "create_seal_get_gigabytes_1MiB";
static const char bw_copy_name[] = "memcpy_gigabytes";

struct bw_bufs {
	uint8_t *src;    /* BW_MAX_SIZE bytes, anonymous, pre-touched */
	uint8_t *dst;    /* cap bytes of memfd, pre-touched */
	uint64_t cap;    /* bw_capacity() */
};

/* Shared memfd memory, like the store's own segment (so that the
 * comparison does not hinge on transparent huge pages for anonymous
 * memory but not for shmem). */
static int map_memfd(size_t len, uint8_t **out)
{
	int fd = memfd_create("shoal-bench-memcpy", MFD_CLOEXEC);
	void *p;
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0)
		rc = -errno;
	p = rc ? MAP_FAILED
	       : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (rc == 0 && p == MAP_FAILED)
		rc = -errno;
	close(fd); /* the mapping keeps the memory */
	if (rc == 0)
		*out = p;
	return rc;
}

static int bw_bufs_open(struct bw_bufs *b)
{
	void *p = mmap(NULL, BW_MAX_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int rc;

	if (p == MAP_FAILED)
		return -errno;
	b->src = p;
	memset(b->src, 0xa5, BW_MAX_SIZE);
	rc = map_memfd(b->cap, &b->dst);
	if (rc < 0) {
		munmap(b->src, BW_MAX_SIZE);
		return rc;
	}
	memset(b->dst, 0, b->cap); /* first touch, outside the timing */
	return 0;
}

static void bw_bufs_close(struct bw_bufs *b)
{
	munmap(b->src, BW_MAX_SIZE);
	munmap(b->dst, b->cap);
}

/* Two passes of put+drop over the store's capacity (one with --smoke,
 * whose figures mean nothing), so that every page the puts will cycle
 * through is touched before timing.  *footprint gets the bytes the
 * allocator then holds: what memcpy must cycle through too. */
static int bw_warm(const struct bench_ctx *ctx, struct put_state *p,
		   uint64_t *footprint)
{
	struct shoal_store_stats s;
	int rc = put_drop_batch(p, (ctx->smoke ? 1 : 2) *
				   (bw_capacity(ctx) / p->size) + 2);

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
		w[n++] = put_workload(p, 1, UNIT_GBPS);
	if (copy->name)
		w[n++] = (struct workload){memcpy_batch, c, 1, c->size,
					   UNIT_GBPS};
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

static int bw_one_size(const struct bench_ctx *ctx, const struct bw_bufs *b,
		       size_t size)
{
	struct metric put = {
		.name = wanted(ctx, bw_put_name) ? bw_put_name : NULL,
		.unit = UNIT_GBPS, .size = size, .target = ">= 70% of memcpy",
		.verdict = -1,
		.note = "shoal_put (create+memcpy+seal) then shoal_drop, "
			"cycling through a store of 288 MiB that evicts LRU; "
			"warmed by two passes first, so first-touch page "
			"faults (~3 us/page here) are excluded",
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
	bool small = size == 1u << 20;
	int rc;

	put.variant = small ? "1MiB" : NULL;
	copy.variant = small ? "1MiB" : "64MiB";
	copy.system = "floor";
	put.curve = copy.curve = "put_bandwidth_vs_size";
	put.x = copy.x = (double)size;
	if (!name)
		return 0;
	rc = store_open(b->cap, &store);
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

/* create + memcpy + seal + get + release + drop, n times. */
static int csg_batch(void *arg, uint64_t n)
{
	struct put_state *p = arg;

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
		rc = shoal_drop(p->store, id);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int csg_measure(const struct bench_ctx *ctx, const struct bw_bufs *b)
{
	struct metric m = {
		.name = bw_csg_name, .unit = UNIT_GBPS, .size = 1u << 20,
		.place = PLACE_FREE,
		.note = "shoal_create, memcpy 1 MiB into the buffer, "
			"shoal_seal, shoal_get, read, release, drop, in one "
			"process, cycling through the 288 MiB store (warmed): "
			"the steps of an iceoryx loan, publish, take, release",
	};
	struct shoal_store *store;
	struct put_state p = {NULL, b->src, 1u << 20, 0};
	struct workload w = {csg_batch, &p, 1, 1u << 20, UNIT_GBPS};
	int rc;

	if (!wanted(ctx, bw_csg_name))
		return 0;
	rc = store_open(b->cap, &store);
	if (rc < 0)
		return emit_error(ctx, bw_csg_name, m.size, rc);
	p.store = store;
	rc = bw_warm(ctx, &p, &m.footprint);
	if (rc == 0)
		rc = measure(ctx, &w, 1, &m.st);
	shoal_store_close(store);
	if (rc < 0)
		return emit_error(ctx, bw_csg_name, m.size, rc);
	emit(ctx, &m);
	return 0;
}

int family_put_gigabytes(const struct bench_ctx *ctx)
{
	static const size_t sizes[] = {1u << 20, BW_MAX_SIZE};
	struct bw_bufs b = {NULL, NULL, bw_capacity(ctx)};
	int rc = 0, err = 0;

	if (!wanted(ctx, bw_put_name) && !wanted(ctx, bw_copy_name) &&
	    !wanted(ctx, bw_csg_name))
		return 0;
	rc = bw_bufs_open(&b);
	if (rc < 0)
		return emit_error(ctx, bw_copy_name, 0, rc);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		rc = bw_one_size(ctx, &b, sizes[i]);
		err = rc < 0 ? rc : err;
	}
	rc = csg_measure(ctx, &b);
	err = rc < 0 ? rc : err;
	bw_bufs_close(&b);
	return err;
}
