/* SPDX-License-Identifier: MIT */
/*
 * tests/stress_heap.c - threads hammering one shared heap, for
 * ThreadSanitizer (criterion aborts under TSan, hence a plain main()).
 *
 * NTHREADS threads, each with its own cache in the segment, allocate
 * blocks of random sizes (small and page runs) in an arena small enough to
 * run out, stamp them, free them (some through exchange slots, so that a
 * block is freed by another thread than its allocator), and on -ENOMEM
 * free half of what they hold and go on.  Every block is checked before it
 * is freed: an overlap between two live blocks breaks one's stamp.  At the
 * end every block and cache is returned, and the whole arena must then be
 * one allocation (every slab retired, every page coalesced).
 *
 * Stamps: the first 8 bytes of every 64-byte line of a block are written
 * with relaxed atomic stores.  The heap reads a free block's link there
 * with a relaxed atomic load, and a popper holding a stale head may read it
 * while the block's new owner writes (its CAS then fails: by design).  A
 * plain user store there would be that benign race, which TSan cannot know
 * is benign; the rest of each line is written with plain stores, so TSan
 * still checks that the heap orders one owner's writes before the next's.
 *
 * Exit status: 0 ok, 1 failure, 77 skipped (no memfd or mapping).
 */
#include "heap.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Overridable at build time (-DNTHREADS=8 ...) for longer runs. */
#ifndef NTHREADS
#define NTHREADS 4
#endif
#ifndef ITERS
#define ITERS 20000
#endif
#ifndef ARENA
#define ARENA (4ull << 20)
#endif
#define LIVE 48
#define NSWAP 8

struct blk {
	uint64_t off;
	uint64_t size;
};

struct stress {
	struct shoal__heap_view hv;
	struct shoal__heap_cache *caches; /* in the segment: NTHREADS + 1 */
	_Atomic uint64_t *swap;           /* in the segment: off | size << 40 */
	_Atomic int failed;
	_Atomic uint64_t enomem;
};

struct worker {
	struct stress *st;
	int id;
	pthread_t tid;
};

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void fail(struct stress *st, const char *what, uint64_t a, uint64_t b)
{
	fprintf(stderr, "stress_heap: %s (%#llx, %#llx)\n", what,
		(unsigned long long)a, (unsigned long long)b);
	atomic_store_explicit(&st->failed, 1, memory_order_relaxed);
}

static uint64_t stamp_of(struct blk b)
{
	return mix(b.off * 131 + b.size) | 1;
}

static void stamp(struct stress *st, struct blk b)
{
	uint64_t bs = shoal__heap_block_size(b.size), s = stamp_of(b);
	uint8_t *p = shoal__ptr(&st->hv.map, SHOAL__OFF(b.off), bs);

	if (p == NULL) {
		fail(st, "block outside the map", b.off, b.size);
		return;
	}
	for (uint64_t j = 0; j < bs; j += 64) {
		uint64_t v = ~s - j;

		atomic_store_explicit((_Atomic uint64_t *)(p + j), s + j,
				      memory_order_relaxed);
		memcpy(p + j + 8, &v, 8);
		memcpy(p + j + 56, &v, 8);
	}
}

static bool stamp_ok(struct stress *st, struct blk b)
{
	uint64_t bs = shoal__heap_block_size(b.size), s = stamp_of(b);
	uint8_t *p = shoal__ptr(&st->hv.map, SHOAL__OFF(b.off), bs);

	for (uint64_t j = 0; p != NULL && j < bs; j += 64) {
		uint64_t v1, v2;

		memcpy(&v1, p + j + 8, 8);
		memcpy(&v2, p + j + 56, 8);
		if (atomic_load_explicit((_Atomic uint64_t *)(p + j),
					 memory_order_relaxed) != s + j ||
		    v1 != ~s - j || v2 != ~s - j)
			return false;
	}
	return p != NULL;
}

static void release(struct stress *st, struct shoal__heap_cache *c,
		    struct blk b)
{
	int rc;

	if (!stamp_ok(st, b))
		fail(st, "stamp overwritten", b.off, b.size);
	rc = shoal__heap_free(&st->hv, c, SHOAL__OFF(b.off), b.size);
	if (rc != 0)
		fail(st, "free refused", b.off, (uint64_t)-rc);
}

static uint64_t pick_size(uint64_t r)
{
	if (r % 16 == 0)
		return SHOAL__HEAP_SMALL_MAX + 1 + (r >> 8) % (96 << 10);
	if (r % 4 == 0)
		return 1 + (r >> 8) % SHOAL__HEAP_SMALL_MAX;
	return 1 + (r >> 8) % 1024;
}

/* Hands b to another thread through a slot, freeing what was there. */
static void pass_on(struct stress *st, struct shoal__heap_cache *c,
		    struct blk b, uint64_t r)
{
	/* acq_rel: publishes our stamp to the thread that takes b, and
	 * makes the previous owner's stamp of the block we take visible. */
	uint64_t old = atomic_exchange_explicit(&st->swap[r % NSWAP],
						b.off | b.size << 40,
						memory_order_acq_rel);

	if (old != 0)
		release(st, c, (struct blk){old & ((1ull << 40) - 1),
					    old >> 40});
}

static void shed_half(struct stress *st, struct shoal__heap_cache *c,
		      struct blk *live, int *n)
{
	while (*n > LIVE / 2)
		release(st, c, live[--*n]);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct stress *st = w->st;
	struct shoal__heap_cache *c = &st->caches[w->id];
	struct blk live[LIVE];
	uint64_t rng = (uint64_t)w->id * 0x1234567ull + 1;
	int n = 0;

	for (int i = 0; i < ITERS; i++) {
		uint64_t r = mix(rng++);

		if (n < LIVE && (n == 0 || r % 3 != 0)) {
			struct blk b = {0, pick_size(r)};
			shoal__off_t o;
			int rc = shoal__heap_alloc(&st->hv, c, b.size, &o);

			if (rc == -ENOMEM) {
				atomic_fetch_add_explicit(&st->enomem, 1,
							  memory_order_relaxed);
				shed_half(st, c, live, &n);
				continue;
			}
			if (rc != 0) {
				fail(st, "alloc", b.size, (uint64_t)-rc);
				break;
			}
			b.off = o.v;
			stamp(st, b);
			live[n++] = b;
		} else {
			int k = (int)(r % (uint64_t)n);
			struct blk b = live[k];

			live[k] = live[--n];
			if (r & 64) {
				if (!stamp_ok(st, b))
					fail(st, "stamp overwritten", b.off,
					     b.size);
				pass_on(st, c, b, r >> 8);
			} else {
				release(st, c, b);
			}
		}
	}
	while (n > 0)
		release(st, c, live[--n]);
	return NULL;
}

/* After the threads: empty the slots and caches, then the whole arena
 * must be free and coalesced. */
static void final_check(struct stress *st)
{
	struct shoal__heap_cache *c = &st->caches[NTHREADS];
	shoal__off_t o;
	int rc;

	for (int i = 0; i < NSWAP; i++) {
		uint64_t old = atomic_exchange_explicit(&st->swap[i], 0,
							memory_order_acq_rel);

		if (old != 0)
			release(st, c, (struct blk){old & ((1ull << 40) - 1),
						    old >> 40});
	}
	for (int i = 0; i <= NTHREADS; i++)
		shoal__heap_cache_flush(&st->hv, &st->caches[i]);
	rc = shoal__heap_alloc(&st->hv, c, ARENA, &o);
	if (rc != 0) {
		fail(st, "whole arena after the run", ARENA, (uint64_t)-rc);
		return;
	}
	if (shoal__heap_free(&st->hv, c, o, ARENA) != 0 ||
	    shoal__heap_reserved(&st->hv) != 0)
		fail(st, "reserved after the run", shoal__heap_reserved(&st->hv),
		     0);
}

/* Segment: header page, metadata, arena, then caches and swap slots. */
static int map_segment(struct stress *st, int *fd)
{
	uint64_t meta = shoal__heap_meta_size(ARENA);
	uint64_t arena_off = (4096 + meta + SHOAL__SLAB_SIZE - 1) /
			     SHOAL__SLAB_SIZE * SHOAL__SLAB_SIZE;
	uint64_t extra = (NTHREADS + 1) * sizeof(struct shoal__heap_cache) +
			 NSWAP * sizeof(uint64_t);
	uint64_t size = arena_off + ARENA + extra;
	uint8_t *base;

	*fd = memfd_create("shoal-stress-heap", MFD_CLOEXEC);
	if (*fd < 0 || ftruncate(*fd, (off_t)size) != 0)
		return 77;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (base == MAP_FAILED)
		return 77;
	st->hv = (struct shoal__heap_view){
		.map = {.base = base, .size = size},
		.meta_off = 4096,
		.meta_size = meta,
		.arena_off = arena_off,
		.arena_size = ARENA,
	};
	st->caches = (struct shoal__heap_cache *)(base + arena_off + ARENA);
	st->swap = (_Atomic uint64_t *)(st->caches + NTHREADS + 1);
	return shoal__heap_init(&st->hv) == 0 ? 0 : 1;
}

int main(void)
{
	static struct stress st;
	struct worker w[NTHREADS];
	int fd = -1, rc = map_segment(&st, &fd);

	if (rc != 0) {
		fprintf(stderr, "stress_heap: no segment (%d)\n", rc);
		return rc;
	}
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){.st = &st, .id = i};
		if (pthread_create(&w[i].tid, NULL, work, &w[i]) != 0)
			return 77;
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(w[i].tid, NULL);
	final_check(&st);
	printf("stress_heap: %d threads x %d ops, %llu ENOMEM, %s\n", NTHREADS,
	       ITERS,
	       (unsigned long long)atomic_load_explicit(&st.enomem,
							memory_order_relaxed),
	       atomic_load_explicit(&st.failed, memory_order_relaxed) ? "FAILED"
								     : "ok");
	munmap(st.hv.map.base, st.hv.map.size);
	close(fd);
	return atomic_load_explicit(&st.failed, memory_order_relaxed) ? 1 : 0;
}
