/* SPDX-License-Identifier: MIT */
/*
 * tests/stress_queue.c - threads hammering one run queue (ring/queue.h),
 * for ThreadSanitizer (criterion aborts under TSan, hence a plain main()).
 *
 * NPROD producer threads push NITEMS items each, in random batches, into a
 * small queue (so that it is often full and wraps around many times);
 * NCONS consumer threads pop random batches.  Half the consumers sleep in
 * shoal__queue_wait (spin 0) whenever the queue is empty, the other half
 * spin first.  Before pushing item i a producer writes payload[i] with a
 * plain store; a consumer reads it with a plain load after popping i, so
 * TSan checks that the push/pop pair (Q-R1 <-> Q-A1 in queue.c) orders it.
 * Every item must be popped exactly once.  The consumers stop on a POISON
 * item each, pushed after the producers are joined.
 *
 * Phase 2 adds a repairer thread that runs shoal__queue_repair() in a loop
 * while everyone works, as a reaper would if processes kept dying, and
 * pushes back what `lost` reports.  Then every item must be popped at least
 * once and at most once more than `lost` reported it.
 *
 * Exit status: 0 ok, 1 failure, 77 skipped (no mapping).
 */
#include "internal.h"
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN 1
#endif
#endif

/* Overridable at build time (-DNITEMS=1000000 ...) for longer runs. */
#ifndef NPROD
#define NPROD 4
#endif
#ifndef NCONS
#define NCONS 4
#endif
#ifndef NITEMS
#ifdef TSAN
#define NITEMS 150000u
#else
#define NITEMS 1000000u
#endif
#endif
#ifndef CAPACITY
#define CAPACITY 64u
#endif
#define TOTAL (NPROD * NITEMS)
#define POISON 0xFFFFFFFEu
#define LOSTMAX 256u

struct stress {
	struct shoal__queue_view qv;  /* the view every thread uses */
	const struct shoal__queue_view *q;
	void *mem;                    /* the queue's memory */
	uint32_t *payload;            /* plain: written before push (Q-R1) */
	_Atomic uint32_t *count;      /* pops of each item */
	uint32_t *nlost;              /* repairer only */
	_Atomic int failed;
	_Atomic int stop_repair;
	_Atomic uint64_t sleeps;
	_Atomic uint64_t repoisoned;  /* extra POISONs pushed back */
	uint64_t repairs, lost;
};

struct worker {
	struct stress *st;
	uint32_t id;
	pthread_t tid;
};

static uint64_t mix(uint64_t *s)
{
	uint64_t x = (*s += 0x9e3779b97f4a7c15ull);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void fail(struct stress *st, const char *what, uint32_t a, uint32_t b)
{
	fprintf(stderr, "stress_queue: %s (%u, %u)\n", what, a, b);
	atomic_store_explicit(&st->failed, 1, memory_order_relaxed);
}

static uint32_t payload_of(uint32_t item)
{
	return item * 2654435761u ^ 0x5bd1e995u;
}

static void push_all(const struct shoal__queue_view *q, const uint32_t *items, uint32_t n)
{
	uint32_t done = 0;

	while (done < n) {
		uint32_t k = shoal__queue_push(q, items + done, n - done);

		done += k;
		if (k == 0)
			sched_yield();
	}
}

static void *producer(void *arg)
{
	struct worker *w = arg;
	struct stress *st = w->st;
	uint64_t seed = w->id * 7919 + 1;
	uint32_t buf[32], next = 0;

	while (next < NITEMS) {
		uint32_t n = 1 + (uint32_t)(mix(&seed) % 32);

		if (n > NITEMS - next)
			n = NITEMS - next;
		for (uint32_t i = 0; i < n; i++) {
			buf[i] = w->id * NITEMS + next + i;
			st->payload[buf[i]] = payload_of(buf[i]);
		}
		push_all(st->q, buf, n);
		next += n;
	}
	return NULL;
}

/* Counts one popped item; false on POISON. */
static bool take(struct stress *st, uint32_t item)
{
	if (item == POISON)
		return false;
	if (item >= TOTAL) {
		fail(st, "popped an item never pushed", item, 0);
		return true;
	}
	if (st->payload[item] != payload_of(item))
		fail(st, "payload not visible after pop", item, st->payload[item]);
	atomic_fetch_add_explicit(&st->count[item], 1, memory_order_relaxed);
	return true;
}

static void *consumer(void *arg)
{
	struct worker *w = arg;
	struct stress *st = w->st;
	uint64_t seed = w->id * 104729 + 3;
	uint32_t spin = w->id % 2 ? 0 : 200; /* odd consumers sleep at once */
	uint32_t out[48], poisons = 0;

	while (poisons == 0) {
		uint32_t k = shoal__queue_pop(st->q, out,
					      1 + (uint32_t)(mix(&seed) % 48));

		if (k == 0) {
			atomic_fetch_add_explicit(&st->sleeps, 1,
						  memory_order_relaxed);
			shoal__queue_wait(st->q, shoal__deadline_in(100), spin);
			continue;
		}
		for (uint32_t i = 0; i < k; i++)
			poisons += !take(st, out[i]);
	}
	for (uint32_t p = POISON; poisons > 1; poisons--) {
		push_all(st->q, &p, 1);
		atomic_fetch_add_explicit(&st->repoisoned, 1, memory_order_relaxed);
	}
	return NULL;
}

struct lostbuf {
	struct stress *st;
	uint32_t n;
	uint32_t items[LOSTMAX];
};

static void lost_cb(void *ctx, uint32_t item)
{
	struct lostbuf *b = ctx;

	if (item >= TOTAL || b->n >= LOSTMAX) {
		fail(b->st, "lost: bad item or too many", item, b->n);
		return;
	}
	if (b->st->payload[item] != payload_of(item)) /* Q-A1 through repair */
		fail(b->st, "payload not visible to lost", item, 0);
	b->items[b->n++] = item;
}

static void *repairer(void *arg)
{
	struct stress *st = arg;
	struct lostbuf *b = calloc(1, sizeof(*b));

	if (b == NULL) {
		fail(st, "calloc", 0, 0);
		return NULL;
	}
	b->st = st;
	while (!atomic_load_explicit(&st->stop_repair, memory_order_relaxed)) {
		b->n = 0;
		shoal__queue_repair(st->q, lost_cb, b);
		for (uint32_t i = 0; i < b->n; i++)
			st->nlost[b->items[i]]++;
		st->lost += b->n;
		st->repairs++;
		push_all(st->q, b->items, b->n);
	}
	free(b);
	return NULL;
}

static int start(struct worker *w, uint32_t n, void *(*fn)(void *),
		 struct stress *st)
{
	for (uint32_t i = 0; i < n; i++) {
		w[i].st = st;
		w[i].id = i;
		if (pthread_create(&w[i].tid, NULL, fn, &w[i]) != 0)
			return -1;
	}
	return 0;
}

static void join(struct worker *w, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		pthread_join(w[i].tid, NULL);
}

/* One run; with_repair adds the repairer.  Returns 0 or 1. */
static int run(struct stress *st, bool with_repair)
{
	struct worker prod[NPROD], cons[NCONS];
	pthread_t rep;
	uint64_t skipped;
	uint32_t v;

	memset(st->count, 0, TOTAL * sizeof(*st->count));
	memset(st->nlost, 0, TOTAL * sizeof(*st->nlost));
	memset(st->payload, 0, TOTAL * sizeof(*st->payload));
	atomic_store(&st->stop_repair, 0);
	atomic_store(&st->repoisoned, 0);
	st->repairs = st->lost = 0;
	if (shoal__queue_init(st->mem, CAPACITY) != 0 ||
	    shoal__queue_open(&st->qv, st->mem, shoal__queue_bytes(CAPACITY)) != 0)
		return 1;
	st->q = &st->qv;
	if (start(cons, NCONS, consumer, st) || start(prod, NPROD, producer, st))
		return 1;
	if (with_repair && pthread_create(&rep, NULL, repairer, st) != 0)
		return 1;
	join(prod, NPROD);
	if (with_repair) {
		atomic_store(&st->stop_repair, 1);
		pthread_join(rep, NULL);
	}
	for (uint32_t i = 0, p = POISON; i < NCONS; i++)
		push_all(st->q, &p, 1);
	join(cons, NCONS);
	for (uint32_t i = 0; i < TOTAL; i++) {
		uint32_t c = atomic_load(&st->count[i]);

		if (c < 1 || c > 1 + st->nlost[i]) {
			fail(st, "item popped wrong number of times", i, c);
			break;
		}
	}
	if (!with_repair && shoal__queue_pop(st->q, &v, 1) != 0)
		fail(st, "queue not empty at the end", v, 0);
	/* Positions that carried no item: SKIPs of repair (a), and of
	 * producers filling the rest of a claim a repair broke. */
	skipped = atomic_load(&st->q->ring->tail) - TOTAL - st->lost - NCONS -
		  atomic_load(&st->repoisoned);
	printf("stress_queue: %s: %u items, %llu empty pops, %llu repairs, "
	       "%llu reported lost, %llu positions skipped\n",
	       with_repair ? "with repair" : "plain", TOTAL,
	       (unsigned long long)atomic_load(&st->sleeps),
	       (unsigned long long)st->repairs, (unsigned long long)st->lost,
	       (unsigned long long)skipped);
	if (!with_repair && skipped != 0)
		fail(st, "positions skipped without a repair", (uint32_t)skipped, 0);
	return atomic_load(&st->failed) ? 1 : 0;
}

int main(void)
{
	uint64_t qb = (shoal__queue_bytes(CAPACITY) + 63) / 64 * 64;
	size_t size = qb + TOTAL * (sizeof(uint32_t) * 2 + sizeof(_Atomic uint32_t));
	struct stress st;
	uint8_t *base;
	int rc;

	memset(&st, 0, sizeof(st));
	base = mmap(NULL, size, PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		perror("stress_queue: mmap");
		return 77;
	}
	alarm(240); /* a hang is a failure, not a stuck CI job */
	st.mem = base;
	st.count = (_Atomic uint32_t *)(base + qb);
	st.payload = (uint32_t *)(st.count + TOTAL);
	st.nlost = st.payload + TOTAL;
	rc = run(&st, false);
	if (rc == 0)
		rc = run(&st, true);
	munmap(base, size);
	printf("stress_queue: %s\n", rc ? "FAILED" : "ok");
	return rc;
}
