/* SPDX-License-Identifier: MIT */
/*
 * tests/test_heap.c - the shared allocator (store/heap.h) on its own: each
 * test builds a segment (memfd, MAP_SHARED) holding a fake header page, the
 * heap's metadata, the arena and a test area that forked children share,
 * and drives shoal__heap_* directly.
 *
 * Covered: class mapping, alignment, disjoint blocks, exhaustion and
 * recovery from it, slab reclaim, cache flush, refused frees, frees across
 * processes, two processes allocating at once, and recovery of the robust
 * lock from a holder killed with SIGKILL.
 */
#include "testutil.h"

#include "heap.h"

#include <sys/mman.h>

TestSuite(heap, .init = tu_setup, .fini = tu_teardown);

#define KIB 1024ull
#define MIB (1024ull * 1024ull)

struct tseg {
	int fd;
	struct shoal__heap_view hv;
	uint8_t *extra; /* test area after the arena, shared with children */
};

static void seg_close(struct tseg *t)
{
	if (t->hv.map.base != NULL)
		munmap(t->hv.map.base, t->hv.map.size);
	if (t->fd >= 0)
		close(t->fd);
	t->hv.map.base = NULL;
	t->fd = -1;
}

/* A segment: header page, metadata, arena (64 KiB aligned), test area. */
static void seg_open(struct tseg *t, uint64_t arena, uint64_t extra)
{
	uint64_t meta = shoal__heap_meta_size(arena);
	uint64_t meta_off = SHOAL__PAGE_SIZE;
	uint64_t arena_off = (meta_off + meta + SHOAL__SLAB_SIZE - 1) /
			     SHOAL__SLAB_SIZE * SHOAL__SLAB_SIZE;
	uint64_t size = arena_off + arena + extra;
	char name[128];
	void *base;

	cr_assert_gt(meta, 0);
	snprintf(name, sizeof(name), "shoal-test-heap-%d-%s", (int)getpid(),
		 criterion_current_test->name);
	t->fd = memfd_create(name, MFD_CLOEXEC);
	cr_assert_geq(t->fd, 0, "memfd_create: %s", strerror(errno));
	cr_assert_eq(ftruncate(t->fd, (off_t)size), 0);
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, t->fd, 0);
	cr_assert_neq(base, MAP_FAILED, "mmap: %s", strerror(errno));
	t->hv = (struct shoal__heap_view){
		.map = {.base = base, .size = size},
		.meta_off = meta_off,
		.meta_size = meta,
		.arena_off = arena_off,
		.arena_size = arena,
	};
	t->extra = (uint8_t *)base + arena_off + arena;
	cr_assert_eq(shoal__heap_init(&t->hv), 0);
	cr_assert_eq(shoal__heap_check(&t->hv), 0);
}

static uint8_t *blk(const struct tseg *t, shoal__off_t off, uint64_t len)
{
	return shoal__ptr(&t->hv.map, off, len);
}

static void cache_zero(struct shoal__heap_cache *c)
{
	memset(c, 0, sizeof(*c));
}

static uint32_t cache_total(const struct shoal__heap_cache *c)
{
	uint32_t n = 0;

	for (int i = 0; i < SHOAL__HEAP_NCLASSES; i++)
		n += c->count[i];
	return n;
}

struct span {
	uint64_t off;
	uint64_t len;
};

static int span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* True if no two of the n spans overlap (sorts them). */
static bool spans_disjoint(struct span *s, size_t n)
{
	qsort(s, n, sizeof(*s), span_cmp);
	for (size_t i = 1; i < n; i++)
		if (s[i - 1].off + s[i - 1].len > s[i].off)
			return false;
	return true;
}

/* A deterministic spread of sizes: mostly small, one in `large_every`
 * above 16 KiB (up to 16 KiB + large_max). */
static uint64_t size_at(uint64_t i, unsigned large_every, uint64_t large_max)
{
	uint64_t r = tu_splitmix(i);

	if (large_every && r % large_every == 0)
		return SHOAL__HEAP_SMALL_MAX + 1 + (r >> 20) % large_max;
	return 1 + (r >> 8) % SHOAL__HEAP_SMALL_MAX;
}

/* ------------------------------------------------------------------ */

Test(heap, class_mapping_edges)
{
	static const struct {
		uint64_t size;
		int cls;
		uint64_t block;
	} cases[] = {
		{1, 0, 64},           {64, 0, 64},          {65, 1, 128},
		{128, 1, 128},        {129, 2, 192},        {512, 7, 512},
		{513, 8, 640},        {1024, 11, 1024},     {1025, 12, 1280},
		{4096, 19, 4096},     {4097, 20, 5120},     {8192, 23, 8192},
		{8193, 24, 10240},    {16383, 27, 16384},   {16384, 27, 16384},
		{16385, -1, 20480},   {20480, -1, 20480},   {20481, -1, 24576},
		{1 << 20, -1, 1 << 20},
	};
	uint64_t prev_block = 0;
	int prev_cls = -1;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(shoal__heap_class(cases[i].size), cases[i].cls,
			     "class(%" PRIu64 ")", cases[i].size);
		cr_assert_eq(shoal__heap_block_size(cases[i].size),
			     cases[i].block, "block_size(%" PRIu64 ")",
			     cases[i].size);
	}
	cr_assert_eq(shoal__heap_class(UINT64_MAX), -1);
	/* Every size up to 16 KiB: the smallest class that fits, 64 B
	 * multiples, classes numbered in order, 28 of them. */
	for (uint64_t s = 1; s <= SHOAL__HEAP_SMALL_MAX; s++) {
		uint64_t b = shoal__heap_block_size(s);
		int c = shoal__heap_class(s);

		cr_assert(b >= s && b % 64 == 0, "size %" PRIu64, s);
		if (b != prev_block) {
			cr_assert_eq(c, prev_cls + 1, "size %" PRIu64, s);
			cr_assert_leq(prev_block, s - 1, "size %" PRIu64, s);
		} else {
			cr_assert_eq(c, prev_cls, "size %" PRIu64, s);
		}
		prev_block = b;
		prev_cls = c;
	}
	cr_assert_eq(prev_cls, SHOAL__HEAP_NCLASSES - 1);
}

Test(heap, alloc_free_round_trip_and_alignment)
{
	static const uint64_t sizes[] = {1,     63,    64,    65,    100,
					 512,   513,   4096,  16384, 16385,
					 20000, 65536, 1 << 20};
	struct tseg t;
	struct shoal__heap_cache c;
	shoal__off_t off;

	seg_open(&t, 4 * MIB, 0);
	cache_zero(&c);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint64_t sz = sizes[i], bs = shoal__heap_block_size(sz);
		uint8_t *p;

		cr_assert_eq(shoal__heap_alloc(&t.hv, &c, sz, &off), 0,
			     "alloc %" PRIu64, sz);
		cr_assert_eq(off.v % 64, 0);
		if (shoal__heap_class(sz) < 0)
			cr_assert_eq(off.v % SHOAL__PAGE_SIZE, 0);
		cr_assert_geq(off.v, t.hv.arena_off);
		cr_assert_leq(off.v + bs, t.hv.arena_off + t.hv.arena_size);
		p = blk(&t, off, bs);
		cr_assert_not_null(p);
		tu_fill(p, bs, i);
		cr_assert(tu_check(p, bs, i));
		cr_assert_eq(shoal__heap_free(&t.hv, &c, off, sz), 0,
			     "free %" PRIu64, sz);
	}
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 0, &off), -EINVAL);
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, t.hv.arena_size + 1, &off),
		     -EINVAL);
	/* The whole arena is one allocation once the slabs are reclaimed. */
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, t.hv.arena_size, &off), 0);
	cr_assert_eq(off.v, t.hv.arena_off);
	cr_assert_eq(shoal__heap_reserved(&t.hv), t.hv.arena_size);
	cr_assert_eq(shoal__heap_free(&t.hv, &c, off, t.hv.arena_size), 0);
	cr_assert_eq(shoal__heap_reserved(&t.hv), 0);
	seg_close(&t);
}

Test(heap, blocks_are_distinct)
{
	enum { N = 600 };
	static struct span sp[N];
	static shoal__off_t offs[N];
	static uint64_t sizes[N];
	struct tseg t;
	struct shoal__heap_cache c;
	size_t live = 0;

	seg_open(&t, 16 * MIB, 0);
	cache_zero(&c);
	for (size_t i = 0; i < N; i++) {
		sizes[i] = size_at(i, 10, 60 * KIB);
		cr_assert_eq(shoal__heap_alloc(&t.hv, &c, sizes[i], &offs[i]),
			     0);
		tu_fill(blk(&t, offs[i], sizes[i]), sizes[i], i);
	}
	/* Free every other block, allocate as many again, check all. */
	for (size_t i = 0; i < N; i += 2)
		cr_assert_eq(shoal__heap_free(&t.hv, &c, offs[i], sizes[i]), 0);
	for (size_t i = 0; i < N; i += 2) {
		sizes[i] = size_at(i + N, 10, 60 * KIB);
		cr_assert_eq(shoal__heap_alloc(&t.hv, &c, sizes[i], &offs[i]),
			     0);
		tu_fill(blk(&t, offs[i], sizes[i]), sizes[i], i + N);
	}
	for (size_t i = 0; i < N; i++) {
		uint64_t seed = i % 2 == 0 ? i + N : i;

		cr_assert(tu_check(blk(&t, offs[i], sizes[i]), sizes[i], seed),
			  "block %zu overwritten", i);
		sp[live++] = (struct span){offs[i].v,
					   shoal__heap_block_size(sizes[i])};
	}
	cr_assert(spans_disjoint(sp, live));
	seg_close(&t);
}

Test(heap, exhaustion_then_frees_make_room)
{
	enum { NB = 256 }; /* 1 MiB of 4 KiB blocks */
	static shoal__off_t offs[NB + 1];
	struct tseg t;
	struct shoal__heap_cache c;
	shoal__off_t big[16], o;
	int n = 0, rc;

	seg_open(&t, 1 * MIB, 0);
	cache_zero(&c);
	while ((rc = shoal__heap_alloc(&t.hv, &c, 4096, &offs[n])) == 0) {
		cr_assert_lt(n, NB, "more 4 KiB blocks than the arena holds");
		n++;
	}
	cr_assert_eq(rc, -ENOMEM);
	cr_assert_eq(n, NB);
	cr_assert_eq(shoal__heap_reserved(&t.hv), t.hv.arena_size);
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 20000, &o), -ENOMEM);
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 64, &o), -ENOMEM);
	/* One free makes room for one block. */
	cr_assert_eq(shoal__heap_free(&t.hv, &c, offs[7], 4096), 0);
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 4096, &offs[7]), 0);
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 4096, &o), -ENOMEM);
	for (int i = 0; i < n; i++)
		cr_assert_eq(shoal__heap_free(&t.hv, &c, offs[i], 4096), 0);
	/* Page runs: 16 runs of 64 KiB fill it; a free makes room again. */
	for (int i = 0; i < 16; i++)
		cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 64 * KIB, &big[i]), 0,
			     "run %d", i);
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 64 * KIB, &o), -ENOMEM);
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 100, &o), -ENOMEM);
	cr_assert_eq(shoal__heap_free(&t.hv, &c, big[5], 64 * KIB), 0);
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 40 * KIB, &o), 0);
	cr_assert_eq(o.v, big[5].v);
	/* 6 free pages left: no room for a 64 KiB aligned slab. */
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 100, &o), -ENOMEM);
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 6 * 4096, &o), 0);
	seg_close(&t);
}

Test(heap, small_blocks_freed_reclaimed_for_large)
{
	enum { MAXB = 40000 };
	static shoal__off_t offs[MAXB];
	static uint64_t sizes[MAXB];
	struct tseg t;
	struct shoal__heap_cache c;
	shoal__off_t o;
	int n = 0, rc;

	seg_open(&t, 2 * MIB, 0);
	cache_zero(&c);
	for (;;) {
		cr_assert_lt(n, MAXB);
		sizes[n] = 1 + tu_splitmix((uint64_t)n) % 2000;
		rc = shoal__heap_alloc(&t.hv, &c, sizes[n], &offs[n]);
		if (rc != 0)
			break;
		n++;
	}
	cr_assert_eq(rc, -ENOMEM);
	cr_assert_gt(n, 1000);
	cr_assert_eq(shoal__heap_reserved(&t.hv), t.hv.arena_size);
	for (int i = 0; i < n; i++)
		cr_assert_eq(shoal__heap_free(&t.hv, &c, offs[i], sizes[i]), 0);
	/* Slabs of many classes, partly in the cache: all must go back. */
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, t.hv.arena_size - 4096, &o),
		     0);
	cr_assert_eq(cache_total(&c), 0);
	cr_assert_eq(shoal__heap_reserved(&t.hv), t.hv.arena_size - 4096);
	cr_assert_eq(shoal__heap_free(&t.hv, &c, o, t.hv.arena_size - 4096), 0);
	cr_assert_eq(shoal__heap_reserved(&t.hv), 0);
	seg_close(&t);
}

Test(heap, reclaim_keeps_slabs_in_use)
{
	struct tseg t;
	struct shoal__heap_cache c;
	shoal__off_t live[3], spare[4], o;
	uint64_t big = 15 * SHOAL__SLAB_SIZE;

	seg_open(&t, 1 * MIB, 0);
	cache_zero(&c);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 64, &live[i]), 0);
		tu_fill(blk(&t, live[i], 64), 64, (uint64_t)i);
	}
	for (int i = 0; i < 4; i++) /* a second slab, wholly given back */
		cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 128, &spare[i]), 0);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(shoal__heap_free(&t.hv, &c, spare[i], 128), 0);
	/* 15 slabs' worth: only the idle slab may be retired for it. */
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, t.hv.arena_size, &o),
		     -ENOMEM);
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, big, &o), 0);
	for (int i = 0; i < 3; i++) {
		cr_assert(tu_check(blk(&t, live[i], 64), 64, (uint64_t)i));
		cr_assert(live[i].v + 64 <= o.v || o.v + big <= live[i].v);
	}
	cr_assert_eq(shoal__heap_free(&t.hv, &c, o, big), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(shoal__heap_free(&t.hv, &c, live[i], 64), 0);
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, t.hv.arena_size, &o), 0);
	seg_close(&t);
}

/* Random page runs in a small arena: splits, merges on both sides, the
 * rover wrapping; every run keeps its bytes, and at the end the arena is
 * one free run again. */
Test(heap, page_runs_random_churn)
{
	enum { SLOTS = 64, OPS = 20000 };
	struct tseg t;
	struct shoal__heap_cache c;
	shoal__off_t offs[SLOTS], o;
	uint64_t sizes[SLOTS] = {0}, seeds[SLOTS], held = 0;
	int enomem = 0;

	seg_open(&t, 4 * MIB, 0);
	cache_zero(&c);
	for (uint64_t i = 0; i < OPS; i++) {
		uint64_t r = tu_splitmix(i), k = r % SLOTS;

		if (sizes[k] != 0) {
			cr_assert(tu_check(blk(&t, offs[k], 64), 64, seeds[k]));
			cr_assert_eq(shoal__heap_free(&t.hv, &c, offs[k],
						      sizes[k]),
				     0);
			held -= shoal__heap_block_size(sizes[k]);
			sizes[k] = 0;
			continue;
		}
		sizes[k] = SHOAL__HEAP_SMALL_MAX + 1 + (r >> 16) % (200 * KIB);
		if (shoal__heap_alloc(&t.hv, &c, sizes[k], &offs[k]) != 0) {
			sizes[k] = 0;
			enomem++;
			continue;
		}
		seeds[k] = i;
		tu_fill(blk(&t, offs[k], 64), 64, i);
		held += shoal__heap_block_size(sizes[k]);
		cr_assert_eq(shoal__heap_reserved(&t.hv), held);
	}
	cr_assert_gt(enomem, 0, "the arena never filled up");
	for (int k = 0; k < SLOTS; k++)
		if (sizes[k] != 0)
			cr_assert_eq(shoal__heap_free(&t.hv, &c, offs[k],
						      sizes[k]),
				     0);
	cr_assert_eq(shoal__heap_reserved(&t.hv), 0);
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, t.hv.arena_size, &o), 0);
	seg_close(&t);
}

Test(heap, cache_flush_returns_blocks)
{
	struct tseg t;
	struct shoal__heap_cache a, b, zero;
	shoal__off_t offs[10], o;

	seg_open(&t, 1 * MIB, 0);
	cache_zero(&a);
	cache_zero(&b);
	cache_zero(&zero);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(shoal__heap_alloc(&t.hv, &a, 64, &offs[i]), 0);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(shoal__heap_free(&t.hv, &a, offs[i], 64), 0);
	cr_assert_eq(a.count[0], SHOAL__HEAP_CACHE_CAP / 2);
	/* Cache a holds blocks of the only slab: it cannot be retired. */
	cr_assert_eq(shoal__heap_alloc(&t.hv, &b, t.hv.arena_size, &o),
		     -ENOMEM);
	shoal__heap_cache_flush(&t.hv, &a);
	cr_assert(memcmp(&a, &zero, sizeof(a)) == 0, "cache not zeroed");
	cr_assert_eq(shoal__heap_alloc(&t.hv, &b, t.hv.arena_size, &o), 0);
	cr_assert_eq(shoal__heap_free(&t.hv, &b, o, t.hv.arena_size), 0);
	cr_assert_eq(shoal__heap_reserved(&t.hv), 0);
	seg_close(&t);
}

Test(heap, invalid_frees_are_refused)
{
	struct tseg t;
	struct shoal__heap_cache c, before;
	shoal__off_t s, l, s2;
	uint64_t res, ao;

	seg_open(&t, 1 * MIB, 0);
	cache_zero(&c);
	ao = t.hv.arena_off;
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 200, &s), 0);  /* 256 B */
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 20000, &l), 0); /* 5 pages */
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 200, &s2), 0);
	cr_assert_eq(shoal__heap_free(&t.hv, &c, s2, 200), 0);
	res = shoal__heap_reserved(&t.hv);
	before = c;

	static const struct {
		int64_t delta_from; /* 0: s, 1: l, 2: arena_off */
		int64_t delta;
		uint64_t size;
	} bad[] = {
		{2, -64, 64},             /* below the arena */
		{2, 1 * MIB, 64},         /* past the arena */
		{2, 1 * MIB, 20000},      /* past the arena, large */
		{0, 64, 200},             /* inside a block */
		{0, 0, 100},              /* block of another class */
		{0, 0, 0},                /* size 0 */
		{0, 0, 2 * MIB},          /* size above the arena */
		{1, 0, 64},               /* small free of a page run */
		{1, 4096, 20000},         /* inside a run */
		{1, 64, 20000},           /* not a page boundary */
		{1, 0, 40000},            /* wrong page count */
		{0, 0, 20000},            /* large free of a slab */
		{2, 512 * KIB, 20000},    /* a free run */
		{2, 512 * KIB, 256},      /* no slab there */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t base = bad[i].delta_from == 0   ? s.v
				: bad[i].delta_from == 1 ? l.v
							 : ao;
		shoal__off_t o = SHOAL__OFF(base + (uint64_t)bad[i].delta);

		cr_assert_eq(shoal__heap_free(&t.hv, &c, o, bad[i].size),
			     -EINVAL, "case %zu", i);
		cr_assert_eq(shoal__heap_reserved(&t.hv), res, "case %zu", i);
		cr_assert(memcmp(&c, &before, sizeof(c)) == 0,
			  "case %zu changed the cache", i);
	}
	cr_assert_eq(shoal__heap_free(&t.hv, &c, SHOAL__OFF_NULL, 64), -EINVAL);
	/* The real frees work, and a second free of a run is refused. */
	cr_assert_eq(shoal__heap_free(&t.hv, &c, s, 200), 0);
	cr_assert_eq(shoal__heap_free(&t.hv, &c, l, 20000), 0);
	cr_assert_eq(shoal__heap_free(&t.hv, &c, l, 20000), -EINVAL);
	cr_assert_eq(shoal__heap_reserved(&t.hv), res - 5 * 4096);
	seg_close(&t);
}

Test(heap, run_is_free_tracks_runs)
{
	struct tseg t;
	struct shoal__heap_cache c;
	shoal__off_t a, b;

	seg_open(&t, 1 * MIB, 0);
	cache_zero(&c);
	cr_assert(shoal__heap_run_is_free(&t.hv, SHOAL__OFF(t.hv.arena_off)));
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 20000, &a), 0);
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 30000, &b), 0);
	cr_assert_not(shoal__heap_run_is_free(&t.hv, a));
	cr_assert_not(shoal__heap_run_is_free(&t.hv, b));
	cr_assert(shoal__heap_run_is_free(&t.hv, SHOAL__OFF(b.v + 8 * 4096)));
	cr_assert_eq(shoal__heap_free(&t.hv, &c, a, 20000), 0);
	cr_assert(shoal__heap_run_is_free(&t.hv, a));
	cr_assert_not(shoal__heap_run_is_free(&t.hv, SHOAL__OFF(a.v + 4096)));
	cr_assert_not(shoal__heap_run_is_free(&t.hv, SHOAL__OFF(a.v + 1)));
	cr_assert_not(shoal__heap_run_is_free(&t.hv, SHOAL__OFF(0)));
	cr_assert_eq(shoal__heap_free(&t.hv, &c, b, 30000), 0);
	cr_assert(shoal__heap_run_is_free(&t.hv, a)); /* merged: a is first */
	cr_assert_not(shoal__heap_run_is_free(&t.hv, b));
	seg_close(&t);
}

/* The handoff record (heap.h): alloc names the block in it, and the
 * record owns the block exactly until it is freed (small: back in the
 * cache; large: the free's plan clears the record). */
Test(heap, a_record_owns_its_block_from_alloc_to_free)
{
	struct tseg t;
	struct shoal__heap_cache c;
	shoal__off_t holder, s, l;
	_Atomic uint64_t *rec;

	seg_open(&t, 1 * MIB, 0);
	cache_zero(&c);
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 64, &holder), 0);
	rec = (_Atomic uint64_t *)(t.hv.map.base + holder.v); /* in the map */
	atomic_store(rec, 0);
	cr_assert_eq(shoal__heap_alloc_rec(&t.hv, &c, 200, &s, rec), 0);
	cr_assert_eq(atomic_load(rec), s.v);
	cr_assert(shoal__heap_rec_owns(&c, rec, s.v, 200));
	cr_assert_eq(shoal__heap_free_rec(&t.hv, &c, s, 200, rec), 0);
	cr_assert_not(shoal__heap_rec_owns(&c, rec, s.v, 200),
		      "a small block back in the cache is freed");
	cr_assert_eq(shoal__heap_alloc_rec(&t.hv, &c, 100000, &l, rec), 0);
	cr_assert_eq(atomic_load(rec), l.v, "the plan wrote the record");
	cr_assert(shoal__heap_rec_owns(&c, rec, l.v, 100000));
	cr_assert_eq(shoal__heap_free_rec(&t.hv, &c, l, 100000, rec), 0);
	cr_assert_eq(atomic_load(rec), 0, "the free's plan cleared it");
	cr_assert_not(shoal__heap_rec_owns(&c, rec, l.v, 100000));
	seg_close(&t);
}

Test(heap, init_and_check_refuse_bad_views)
{
	struct tseg t;
	struct shoal__heap_view v;
	uint64_t magic;

	seg_open(&t, 1 * MIB, 0);
	v = t.hv;
	v.arena_off += 4096; /* not 64 KiB aligned */
	cr_assert_eq(shoal__heap_init(&v), -EINVAL);
	cr_assert_eq(shoal__heap_check(&v), SHOAL_EBADSEGMENT);
	v = t.hv;
	v.meta_size -= 64;
	cr_assert_eq(shoal__heap_init(&v), -EINVAL);
	v = t.hv;
	v.arena_size = 1 * MIB + 4096; /* not a slab multiple */
	cr_assert_eq(shoal__heap_init(&v), -EINVAL);
	cr_assert_eq(shoal__heap_meta_size(v.arena_size), 0);
	v = t.hv;
	v.arena_size = 512 * KIB; /* fits, but is not what was created */
	cr_assert_eq(shoal__heap_check(&v), SHOAL_EBADSEGMENT);
	v = t.hv;
	v.arena_size = t.hv.map.size; /* past the map */
	cr_assert_eq(shoal__heap_check(&v), SHOAL_EBADSEGMENT);
	v = t.hv;
	v.meta_off = t.hv.arena_off; /* overlaps the arena */
	cr_assert_eq(shoal__heap_init(&v), -EINVAL);
	memcpy(&magic, t.hv.map.base + t.hv.meta_off, sizeof(magic));
	magic ^= 1;
	memcpy(t.hv.map.base + t.hv.meta_off, &magic, sizeof(magic));
	cr_assert_eq(shoal__heap_check(&t.hv), SHOAL_EBADSEGMENT);
	seg_close(&t);
}

/* ------------------------------------------------------------------ */
/* Several processes                                                   */

struct xfer {
	uint64_t small, large;
	struct shoal__heap_cache cache; /* the child's, flushed by the test */
};

Test(heap, block_freed_by_another_process)
{
	struct tseg t;
	struct shoal__heap_cache c;
	struct xfer *x;
	shoal__off_t o;
	pid_t pid;

	seg_open(&t, 1 * MIB, sizeof(struct xfer));
	x = (struct xfer *)t.extra;
	cache_zero(&c);
	pid = tu_fork();
	if (pid == 0) {
		shoal__off_t s, l;

		TU_CHILD_CHECK(shoal__heap_alloc(&t.hv, &x->cache, 100, &s) == 0,
			       2);
		TU_CHILD_CHECK(
			shoal__heap_alloc(&t.hv, &x->cache, 100000, &l) == 0, 3);
		tu_fill(blk(&t, s, 100), 100, 1);
		tu_fill(blk(&t, l, 100000), 100000, 2);
		x->small = s.v;
		x->large = l.v;
		_exit(0);
	}
	cr_assert_eq(tu_wait_exit(pid), 0);
	cr_assert(tu_check(blk(&t, SHOAL__OFF(x->small), 100), 100, 1));
	cr_assert(tu_check(blk(&t, SHOAL__OFF(x->large), 100000), 100000, 2));
	cr_assert_eq(shoal__heap_free(&t.hv, &c, SHOAL__OFF(x->small), 100), 0);
	cr_assert_eq(shoal__heap_free(&t.hv, &c, SHOAL__OFF(x->large), 100000),
		     0);
	cr_assert_eq(shoal__heap_free(&t.hv, &c, SHOAL__OFF(x->large), 100000),
		     -EINVAL);
	/* As a reaper would: return the dead child's cache.  Then every
	 * block is home and the whole arena can be one run. */
	cr_assert_gt(cache_total(&x->cache), 0);
	shoal__heap_cache_flush(&t.hv, &x->cache);
	cr_assert_eq(shoal__heap_alloc(&t.hv, &c, t.hv.arena_size, &o), 0);
	cr_assert_eq(shoal__heap_free(&t.hv, &c, o, t.hv.arena_size), 0);
	seg_close(&t);
}

enum { PAR_N = 1500 };

struct par_area {
	uint32_t n[2];
	struct span rec[2][PAR_N];
};

/* Child of the concurrency test: waits for the start byte, allocates
 * PAR_N blocks (freeing one in four at once), stamps its pid into each,
 * records the live ones, and checks them all at the end. */
static void par_child(struct tseg *t, struct par_area *pa, int who, int go)
{
	struct shoal__heap_cache c;
	uint64_t seed = (uint64_t)getpid() << 32;
	uint32_t n = 0;

	cache_zero(&c);
	tu_child_read_byte(go);
	for (uint64_t i = 0; i < PAR_N; i++) {
		uint64_t sz = size_at(i * 2 + (uint64_t)who, 30, 64 * KIB);
		uint64_t bs = shoal__heap_block_size(sz);
		shoal__off_t o;
		uint8_t *p;

		TU_CHILD_CHECK(shoal__heap_alloc(&t->hv, &c, sz, &o) == 0, 2);
		p = blk(t, o, bs);
		TU_CHILD_CHECK(p != NULL, 3);
		tu_fill(p, bs, seed + o.v);
		if (i % 4 == 3) {
			TU_CHILD_CHECK(tu_check(p, bs, seed + o.v), 4);
			TU_CHILD_CHECK(shoal__heap_free(&t->hv, &c, o, sz) == 0,
				       5);
			continue;
		}
		pa->rec[who][n++] = (struct span){o.v, bs};
	}
	for (uint32_t i = 0; i < n; i++) {
		struct span s = pa->rec[who][i];

		TU_CHILD_CHECK(tu_check(blk(t, SHOAL__OFF(s.off), s.len), s.len,
					seed + s.off),
			       6);
	}
	pa->n[who] = n;
	_exit(0);
}

Test(heap, two_processes_allocate_concurrently)
{
	static struct span all[2 * PAR_N];
	struct tseg t;
	struct par_area *pa;
	pid_t pid[2];
	int go[2];
	size_t m = 0;

	seg_open(&t, 64 * MIB, sizeof(struct par_area));
	pa = (struct par_area *)t.extra;
	tu_pipe(go);
	for (int w = 0; w < 2; w++) {
		pid[w] = tu_fork();
		if (pid[w] == 0) {
			close(go[1]);
			par_child(&t, pa, w, go[0]);
		}
	}
	close(go[0]);
	tu_write_byte(go[1], 'g');
	tu_write_byte(go[1], 'g');
	close(go[1]);
	for (int w = 0; w < 2; w++)
		cr_assert_eq(tu_wait_exit(pid[w]), 0, "child %d", w);
	for (int w = 0; w < 2; w++) {
		uint64_t seed = (uint64_t)pid[w] << 32;

		cr_assert_eq(pa->n[w], PAR_N - PAR_N / 4);
		for (uint32_t i = 0; i < pa->n[w]; i++) {
			struct span s = pa->rec[w][i];

			cr_assert(tu_check(blk(&t, SHOAL__OFF(s.off), s.len),
					   s.len, seed + s.off),
				  "child %d block %u", w, i);
			all[m++] = s;
		}
	}
	cr_assert(spans_disjoint(all, m));
	seg_close(&t);
}

/* Child of the lock test: allocates and frees page runs of 5..12 pages,
 * spending most of its time holding the heap's lock, until killed. */
static void churn_child(struct tseg *t, int ready)
{
	struct shoal__heap_cache c;
	shoal__off_t o;

	cache_zero(&c);
	for (uint64_t i = 0;; i++) {
		uint64_t sz = SHOAL__HEAP_SMALL_MAX + 1 + (i % 8) * 4096;

		TU_CHILD_CHECK(shoal__heap_alloc(&t->hv, &c, sz, &o) == 0, 2);
		TU_CHILD_CHECK(shoal__heap_free(&t->hv, &c, o, sz) == 0, 3);
		if (i == 0)
			tu_child_write_byte(ready, 'r');
	}
}

/* Busy work of a random length, so that the kill lands anywhere. */
static uint64_t spin(uint64_t n)
{
	volatile uint64_t x = 0;

	for (uint64_t i = 0; i < n; i++)
		x += i;
	return x;
}

Test(heap, robust_lock_recovered_after_sigkill)
{
	enum { ROUNDS = 40, MAXRUNS = 256 };
	static shoal__off_t runs[MAXRUNS];
	struct tseg t;
	struct shoal__heap_cache c;
	uint64_t leaked = 0, nleaks = 0, np, got = 0;
	shoal__off_t o;
	int n = 0, rc;

	seg_open(&t, 4 * MIB, 0);
	cache_zero(&c);
	np = t.hv.arena_size / 4096;
	for (int r = 0; r < ROUNDS; r++) {
		uint64_t before = shoal__heap_reserved(&t.hv), d;
		int ready[2];
		pid_t pid;

		tu_pipe(ready);
		pid = tu_fork();
		if (pid == 0) {
			close(ready[0]);
			churn_child(&t, ready[1]);
		}
		close(ready[1]);
		tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS);
		close(ready[0]);
		spin(tu_splitmix((uint64_t)r ^ (uint64_t)getpid()) % 200000);
		tu_kill(pid);
		/* The next locker repairs whatever the child left. */
		cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 64 * KIB, &o), 0,
			     "round %d", r);
		cr_assert_eq(shoal__heap_free(&t.hv, &c, o, 64 * KIB), 0);
		d = (shoal__heap_reserved(&t.hv) - before) / 4096;
		cr_assert(d == 0 || (d >= 5 && d <= 12),
			  "round %d: %" PRIu64 " pages appeared", r, d);
		leaked += d;
		nleaks += d != 0;
	}
	/* Fill what is left with 5-page runs: the accounting matches, and
	 * no free page was lost (each hole wastes at most 4 pages). */
	while ((rc = shoal__heap_alloc(&t.hv, &c, 5 * 4096, &runs[n])) == 0) {
		cr_assert_lt(n, MAXRUNS - 1);
		n++;
		got += 5;
	}
	cr_assert_eq(rc, -ENOMEM);
	cr_assert_eq(shoal__heap_reserved(&t.hv), (got + leaked) * 4096);
	cr_assert_geq(got + leaked + 4 * (nleaks + 1), np,
		      "%" PRIu64 " + %" PRIu64 " of %" PRIu64 " pages", got,
		      leaked, np);
	for (int i = 0; i < n; i++)
		cr_assert_eq(shoal__heap_free(&t.hv, &c, runs[i], 5 * 4096), 0);
	cr_assert_eq(shoal__heap_reserved(&t.hv), leaked * 4096);
	seg_close(&t);
}

struct carve_area {
	uint64_t large; /* the child's whole-arena run, 0 when none */
	struct shoal__heap_cache cache;
};

/* Child of the slab lock test: carves a slab, gives its blocks back,
 * makes a whole-arena run retire it, frees the run, until killed.  Most
 * lock holds are CARVE and RETIRE intents. */
static void carve_child(struct tseg *t, struct carve_area *ca, int ready)
{
	uint64_t sz = t->hv.arena_size;
	shoal__off_t s, l;

	for (uint64_t i = 0;; i++) {
		TU_CHILD_CHECK(shoal__heap_alloc(&t->hv, &ca->cache, 16384, &s) ==
				       0,
			       2);
		TU_CHILD_CHECK(shoal__heap_free(&t->hv, &ca->cache, s, 16384) ==
				       0,
			       3);
		shoal__heap_cache_flush(&t->hv, &ca->cache);
		TU_CHILD_CHECK(shoal__heap_alloc(&t->hv, &ca->cache, sz, &l) == 0,
			       4);
		ca->large = l.v;
		TU_CHILD_CHECK(shoal__heap_free(&t->hv, &ca->cache, l, sz) == 0,
			       5);
		ca->large = 0;
		if (i == 0)
			tu_child_write_byte(ready, 'r');
	}
}

Test(heap, robust_lock_recovered_in_slab_carve_and_retire)
{
	enum { ROUNDS = 64 };
	const uint64_t slab_pages = SHOAL__SLAB_SIZE / 4096;

	for (int r = 0; r < ROUNDS; r++) {
		struct tseg t;
		struct shoal__heap_cache c;
		struct carve_area *ca;
		uint64_t np, res;
		shoal__off_t o;
		int ready[2];
		pid_t pid;

		seg_open(&t, 4 * SHOAL__SLAB_SIZE, sizeof(*ca));
		np = t.hv.arena_size / 4096;
		ca = (struct carve_area *)t.extra;
		cache_zero(&c);
		tu_pipe(ready);
		pid = tu_fork();
		if (pid == 0) {
			close(ready[0]);
			carve_child(&t, ca, ready[1]);
		}
		close(ready[1]);
		tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS);
		close(ready[0]);
		spin(tu_splitmix((uint64_t)r ^ (uint64_t)getpid()) % 100000);
		tu_kill(pid);
		/* Reap as the store would: the cache, and the run the child
		 * recorded (freed already, or not: both are fine). */
		shoal__heap_cache_flush(&t.hv, &ca->cache);
		if (ca->large != 0) {
			int rc = shoal__heap_free(&t.hv, &c,
						  SHOAL__OFF(ca->large),
						  t.hv.arena_size);

			cr_assert(rc == 0 || rc == -EINVAL, "round %d: %d", r,
				  rc);
		}
		(void)shoal__heap_run_is_free(&t.hv, SHOAL__OFF(t.hv.arena_off));
		res = shoal__heap_reserved(&t.hv) / 4096;
		/* Nothing, a slab (a block in the child's hands, or a slab
		 * stranded in a few-instruction window), or the whole run
		 * taken before the child could record it. */
		cr_assert(res == 0 || res == slab_pages || res == np,
			  "round %d: %" PRIu64 " pages reserved", r, res);
		if (res < np) {
			uint64_t sz = t.hv.arena_size - SHOAL__SLAB_SIZE;

			cr_assert_eq(shoal__heap_alloc(&t.hv, &c, sz, &o), 0,
				     "round %d", r);
			cr_assert_eq(shoal__heap_free(&t.hv, &c, o, sz), 0);
			cr_assert_eq(shoal__heap_alloc(&t.hv, &c, 100, &o), 0);
			cr_assert_eq(shoal__heap_free(&t.hv, &c, o, 100), 0);
		}
		seg_close(&t);
	}
}
