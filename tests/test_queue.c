/* SPDX-License-Identifier: MIT */
/*
 * tests/test_queue.c - the run queue (ring/queue.h) on its own.
 *
 * Each test maps one memfd MAP_SHARED: the queue, then a result area that
 * forked children share (counters of what they popped).  Children are
 * forked with PR_SET_PDEATHSIG(SIGKILL), report through their exit code and
 * pipes, never use criterion's assertions, and leave with _exit(); the
 * suite's .fini kills and reaps any child a failed assertion left behind.
 * Nothing is named, so nothing outlives a test.
 *
 * Dead processes are simulated in two ways: a forked child that makes a
 * claim by hand (tq_claim_tail / tq_claim_head: the first half of a push or
 * a pop, done on the words directly) and then blocks on a pipe until the
 * test SIGKILLs it; and, for the race tests, live processes pushing and
 * popping while the parent runs repair in a loop.
 *
 * Synchronisation is by pipes, waitpid, and bounded polls of shared words
 * (a sleeper is "asleep" once it is registered in `waiters` and the kernel
 * reports it in state S); never by sleeping.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shoal/error.h>

#include "internal.h"
#include "queue.h"
#include "testutil.h"

#define POISON 0xFFFFFFFEu   /* "stop" for consumer children */
#define POLL_NS (5ll * 1000000000) /* bound of every poll: 5 s */

/* Exit codes of children. */
#define K_OK 0
#define K_IO 91
#define K_TIMEOUT 92
#define K_BAD 93

static struct {
	int fd;
	uint8_t *base;
	size_t size;
	struct shoal__queue_view q; /* this process's view (children inherit it) */
	void *area;                /* shared result area after the queue */
} tq = {.fd = -1};

static void tq_fini(void)
{
	tu_teardown(); /* kills and reaps any child still alive */
	if (tq.base != NULL)
		munmap(tq.base, tq.size);
	if (tq.fd >= 0)
		close(tq.fd);
	tq.base = NULL;
	tq.fd = -1;
}

TestSuite(queue, .init = tu_setup, .fini = tq_fini, .timeout = 30);

/* A queue of `cap` cells and `extra` bytes of shared area, zeroed. */
static struct shoal__queue_view *tq_open(uint32_t cap, size_t extra)
{
	uint64_t qb = shoal__queue_bytes(cap);
	uint64_t off = (qb + 63) / 64 * 64;
	char name[128];

	cr_assert_gt(qb, 0);
	snprintf(name, sizeof(name), "shoal-test-queue-%d-%s", (int)getpid(),
		 criterion_current_test->name);
	tq.fd = memfd_create(name, MFD_CLOEXEC);
	cr_assert_geq(tq.fd, 0, "memfd_create: %s", strerror(errno));
	tq.size = off + extra;
	cr_assert_eq(ftruncate(tq.fd, (off_t)tq.size), 0);
	tq.base = mmap(NULL, tq.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       tq.fd, 0);
	cr_assert_neq(tq.base, MAP_FAILED, "mmap: %s", strerror(errno));
	cr_assert_eq(shoal__queue_init(tq.base, cap), 0);
	cr_assert_eq(shoal__queue_open(&tq.q, tq.base, qb), 0);
	tq.area = tq.base + off;
	return &tq.q;
}

/* Bounded poll: `n` consumers registered in waiters, and `pid` asleep. */
static bool asleep(struct shoal__queue_view *q, pid_t pid, uint32_t n)
{
	int64_t end = tu_now_ns() + POLL_NS;

	while (tu_now_ns() < end) {
		if (atomic_load_explicit(&q->ring->wake.waiters, memory_order_seq_cst) >= n &&
		    tu_proc_state(pid) == 'S')
			return true;
		sched_yield();
	}
	return false;
}

static uint64_t mix(uint64_t *s)
{
	uint64_t x = (*s += 0x9e3779b97f4a7c15ull);

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* Pushes all n items, yielding while the queue is full. */
static void push_all(struct shoal__queue_view *q, const uint32_t *items, uint32_t n)
{
	uint32_t done = 0;

	while (done < n) {
		uint32_t k = shoal__queue_push(q, items + done, n - done);

		done += k;
		if (k == 0)
			sched_yield();
	}
}

static void pipe_put(int fd, uint32_t v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		_exit(K_IO);
}

static uint32_t pipe_get(int fd)
{
	uint32_t v = 0;

	cr_assert_eq(read(fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	return v;
}

/* A child that must block until the test kills it. */
static _Noreturn void block_forever(int fd)
{
	char c;

	(void)!read(fd, &c, 1);
	_exit(K_BAD);
}

/* ------------------------------------------------------------------ */
/* Test-only helpers: half operations, done on the words directly      */

static uint64_t tq_word(uint64_t stamp, uint32_t item)
{
	return (uint64_t)(uint32_t)stamp << 32 | item;
}

/* The first half of a push: claims n FREE positions at the tail and
 * publishes nothing (a producer that dies after its tail CAS). */
static uint64_t tq_claim_tail(struct shoal__queue_view *q, uint32_t n)
{
	for (;;) {
		uint64_t t = atomic_load(&q->ring->tail);
		bool free = true;

		for (uint32_t i = 0; i < n; i++)
			free &= atomic_load(&q->ring->cells[(t + i) & q->mask]) ==
				tq_word(t + i, 0);
		if (free && atomic_compare_exchange_strong(&q->ring->tail, &t, t + n))
			return t;
	}
}

/* The first half of a pop: claims n PUBLISHED positions at the head and
 * releases nothing (a consumer that dies after its head CAS). */
static uint64_t tq_claim_head(struct shoal__queue_view *q, uint32_t n)
{
	for (;;) {
		uint64_t h = atomic_load(&q->ring->head);
		bool pub = true;

		for (uint32_t i = 0; i < n; i++)
			pub &= (atomic_load(&q->ring->cells[(h + i) & q->mask]) >> 32) ==
			       (uint32_t)(h + i + 1);
		if (pub && atomic_compare_exchange_strong(&q->ring->head, &h, h + n))
			return h;
	}
}

/* Moves an empty queue to position `pos` (as if pos items had passed). */
static void tq_move_to(struct shoal__queue_view *q, uint64_t pos)
{
	for (uint32_t i = 0; i < q->capacity; i++) {
		uint64_t p = pos + ((i - pos) & q->mask); /* first p >= pos at i */

		atomic_store(&q->ring->cells[i], tq_word(p, 0));
	}
	atomic_store(&q->ring->head, pos);
	atomic_store(&q->ring->tail, pos);
}

/* `lost` callback collecting items into a struct lostbuf. */
struct lostbuf {
	uint32_t n;
	uint32_t cap;
	uint32_t *items;
};

static void lost_collect(void *ctx, uint32_t item)
{
	struct lostbuf *b = ctx;

	if (b->n < b->cap)
		b->items[b->n] = item;
	b->n++;
}

/* ------------------------------------------------------------------ */
/* Single process                                                     */

Test(queue, init_and_check)
{
	static const uint32_t bad[] = {0, 1, 3, 6, 12, 100, 1000,
				       SHOAL__QUEUE_MAX_CAPACITY + 1,
				       SHOAL__QUEUE_MAX_CAPACITY * 2u, UINT32_MAX};
	struct shoal__queue_view *q = tq_open(1024, 0);
	uint64_t qb = shoal__queue_bytes(1024);
	uint32_t out[4];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(shoal__queue_bytes(bad[i]), 0, "bytes(%u)", bad[i]);
		cr_expect_eq(shoal__queue_init(tq.base, bad[i]), -EINVAL,
			     "init(%u)", bad[i]);
	}
	cr_assert_eq(shoal__queue_bytes(2), 256 + 2 * 8);
	cr_assert_eq(shoal__queue_bytes(4), 256 + 4 * 8);
	cr_assert_eq(qb, 256 + 1024 * 8);
	cr_assert_eq(shoal__queue_init(tq.base + 8, 4), -EINVAL); /* aligned */
	cr_assert_eq(shoal__queue_init(NULL, 4), -EINVAL);
	cr_assert_eq(shoal__queue_init(tq.base, 1024), 0);
	cr_assert_eq(q->capacity, 1024);
	cr_assert_eq(shoal__queue_len(q), 0);
	cr_assert_eq(shoal__queue_pop(q, out, 4), 0);

	cr_assert_eq(shoal__queue_check(q->ring, qb), 0);
	cr_assert_eq(shoal__queue_check(q->ring, qb + 4096), 0);
	cr_assert_eq(shoal__queue_check(q->ring, qb - 8), SHOAL_EBADSEGMENT);
	cr_assert_eq(shoal__queue_check(q->ring, 100), SHOAL_EBADSEGMENT);
	cr_assert_eq(shoal__queue_check(NULL, qb), SHOAL_EBADSEGMENT);
	q->ring->mask = 511;
	cr_assert_eq(shoal__queue_check(q->ring, qb), SHOAL_EBADSEGMENT);
	q->ring->mask = 1023;
	q->ring->capacity = 1000;
	cr_assert_eq(shoal__queue_check(q->ring, qb), SHOAL_EBADSEGMENT);
	q->ring->capacity = 1024;
	q->ring->magic ^= 1;
	cr_assert_eq(shoal__queue_check(q->ring, qb), SHOAL_EBADSEGMENT);
	q->ring->magic ^= 1;
	cr_assert_eq(shoal__queue_check(q->ring, qb), 0);
}

Test(queue, fifo_single)
{
	struct shoal__queue_view *q = tq_open(16, 0);
	uint32_t next_in = 1, next_out = 1, v;

	for (int round = 0; round < 200; round++) {
		int in = 1 + round % 7, out = 1 + round % 5;

		for (int i = 0; i < in && shoal__queue_len(q) < 16; i++) {
			cr_assert_eq(shoal__queue_push(q, &next_in, 1), 1);
			next_in++;
		}
		for (int i = 0; i < out && next_out < next_in; i++) {
			cr_assert_eq(shoal__queue_pop(q, &v, 1), 1);
			cr_assert_eq(v, next_out, "got %u, want %u", v, next_out);
			next_out++;
		}
		cr_assert_eq(shoal__queue_len(q), next_in - next_out);
	}
	while (next_out < next_in) {
		cr_assert_eq(shoal__queue_pop(q, &v, 1), 1);
		cr_assert_eq(v, next_out++);
	}
	cr_assert_eq(shoal__queue_pop(q, &v, 1), 0);
}

Test(queue, bulk_partial_empty)
{
	struct shoal__queue_view *q = tq_open(8, 0);
	uint32_t in[20], out[20];

	for (uint32_t i = 0; i < 20; i++)
		in[i] = 100 + i;
	cr_assert_eq(shoal__queue_pop(q, out, 20), 0);   /* empty */
	cr_assert_eq(shoal__queue_push(q, in, 0), 0);
	cr_assert_eq(shoal__queue_push(q, in, 5), 5);
	cr_assert_eq(shoal__queue_len(q), 5);
	cr_assert_eq(shoal__queue_push(q, in + 5, 5), 3); /* partial */
	cr_assert_eq(shoal__queue_len(q), 8);
	cr_assert_eq(shoal__queue_push(q, in + 8, 1), 0); /* full */
	cr_assert_eq(shoal__queue_pop(q, out, 0), 0);
	cr_assert_eq(shoal__queue_pop(q, out, 4), 4);
	for (uint32_t i = 0; i < 4; i++)
		cr_assert_eq(out[i], 100 + i);
	cr_assert_eq(shoal__queue_pop(q, out, 20), 4);   /* the rest */
	for (uint32_t i = 0; i < 4; i++)
		cr_assert_eq(out[i], 104 + i);
	cr_assert_eq(shoal__queue_pop(q, out, 20), 0);
	cr_assert_eq(shoal__queue_push(q, in, 20), 8);   /* n > capacity */
	cr_assert_eq(shoal__queue_pop(q, out, 20), 8);
	for (uint32_t i = 0; i < 8; i++)
		cr_assert_eq(out[i], 100 + i);
	cr_assert_eq(shoal__queue_len(q), 0);
}

/* Random bulk pushes and pops in one process, checking FIFO order. */
static void churn(struct shoal__queue_view *q, uint32_t rounds, uint64_t seed)
{
	uint32_t next_in = 0, next_out = 0, buf[64], out[64];

	for (uint32_t r = 0; r < rounds; r++) {
		uint32_t n = 1 + (uint32_t)(mix(&seed) % 8), k, m;

		for (uint32_t i = 0; i < n; i++)
			buf[i] = next_in + i;
		k = shoal__queue_push(q, buf, n);
		cr_assert_eq(k, n < q->capacity - (next_in - next_out) ?
				 n : q->capacity - (next_in - next_out));
		next_in += k;
		m = shoal__queue_pop(q, out, 1 + (uint32_t)(mix(&seed) % 8));
		for (uint32_t i = 0; i < m; i++)
			cr_assert_eq(out[i], next_out + i);
		next_out += m;
	}
	while ((next_in - next_out) > 0) {
		uint32_t m = shoal__queue_pop(q, out, 64);

		cr_assert_gt(m, 0);
		for (uint32_t i = 0; i < m; i++)
			cr_assert_eq(out[i], next_out + i);
		next_out += m;
	}
	cr_assert_eq(shoal__queue_pop(q, out, 64), 0);
}

Test(queue, wrap_around)
{
	struct shoal__queue_view *q = tq_open(4, 0);

	churn(q, 100000, 1);                    /* ~10^5 rounds of the ring */
	cr_assert_gt(atomic_load(&q->ring->tail), 100000);
	cr_assert_eq(shoal__queue_init(tq.base, 2), 0);
	cr_assert_eq(shoal__queue_open(q, tq.base, shoal__queue_bytes(2)), 0);
	churn(q, 50000, 2);
}

Test(queue, stamps_wrap_past_2_32)
{
	struct shoal__queue_view *q = tq_open(8, 0);

	tq_move_to(q, (1ull << 32) - 37);       /* stamps wrap mid-test */
	churn(q, 2000, 3);
	cr_assert_gt(atomic_load(&q->ring->tail), 1ull << 32);
}

Test(queue, skip_items_dropped)
{
	const uint32_t S = SHOAL__QUEUE_SKIP;
	uint32_t a[] = {1, S, 2, S, S, 3}, b[] = {S, S}, c[] = {S, S, S, 9};
	struct shoal__queue_view *q = tq_open(8, 0);
	uint32_t out[8];

	cr_assert_eq(shoal__queue_push(q, a, 6), 6);
	cr_assert_eq(shoal__queue_pop(q, out, 8), 3);
	cr_assert(out[0] == 1 && out[1] == 2 && out[2] == 3);
	cr_assert_eq(shoal__queue_push(q, b, 2), 2);
	cr_assert_eq(shoal__queue_pop(q, out, 8), 0);  /* only SKIPs */
	cr_assert_eq(shoal__queue_len(q), 0);          /* but consumed */
	cr_assert_eq(shoal__queue_push(q, c, 4), 4);
	cr_assert_eq(shoal__queue_pop(q, out, 3), 1);  /* 3 SKIPs, then 9 */
	cr_assert_eq(out[0], 9);
	cr_assert_eq(shoal__queue_len(q), 0);
}

Test(queue, wait_timeout_and_ready)
{
	struct shoal__queue_view *q = tq_open(8, 0);
	uint32_t v = 5;
	int64_t t0;

	cr_assert_eq(shoal__queue_wait(q, shoal__deadline_in(0), 0), -ETIMEDOUT);
	cr_assert_eq(shoal__queue_wait(q, shoal__deadline_in(20), 100),
		     -ETIMEDOUT);
	cr_assert_eq(shoal__queue_push(q, &v, 1), 1);
	t0 = tu_now_ns();                                   /* ready: no sleep */
	cr_assert_eq(shoal__queue_wait(q, shoal__deadline_in(3000), 0), 0);
	cr_assert_lt(tu_now_ns() - t0, 1000000000ll);
	cr_assert_eq(atomic_load(&q->ring->wake.waiters), 0);
	tq_claim_tail(q, 1);                             /* claimed, unpublished */
	cr_assert_eq(shoal__queue_pop(q, &v, 1), 1);
	cr_assert_eq(shoal__queue_pop(q, &v, 1), 0);     /* the hole blocks */
	cr_assert_eq(shoal__queue_wait(q, shoal__deadline_in(10), 0),
		     -ETIMEDOUT);
}

/* ------------------------------------------------------------------ */
/* Processes                                                          */

#define MP_PRODUCERS 3
#define MP_CONSUMERS 3
#define MP_ITEMS 100000u /* per producer */

struct tally {
	_Atomic uint32_t poisons;
	_Atomic uint32_t count[]; /* pops of each item */
};

static _Noreturn void producer_main(struct shoal__queue_view *q, uint32_t id,
				    uint32_t nitems)
{
	uint64_t seed = id * 77 + 1;
	uint32_t buf[16], next = 0;

	while (next < nitems) {
		uint32_t n = 1 + (uint32_t)(mix(&seed) % 16);

		if (n > nitems - next)
			n = nitems - next;
		for (uint32_t i = 0; i < n; i++)
			buf[i] = id * nitems + next + i;
		push_all(q, buf, n);
		next += n;
	}
	_exit(K_OK);
}

/* Pops until it gets a POISON (extra ones go back); counts every item. */
static _Noreturn void consumer_main(struct shoal__queue_view *q, struct tally *t,
				    uint32_t id, uint32_t nitems)
{
	uint64_t seed = id * 131 + 7;
	uint32_t out[32], poisons = 0;

	while (poisons == 0) {
		uint32_t k = shoal__queue_pop(q, out, 1 + (uint32_t)(mix(&seed) % 32));

		if (k == 0) {
			shoal__queue_wait(q, shoal__deadline_in(1000), 64);
			continue;
		}
		for (uint32_t i = 0; i < k; i++) {
			if (out[i] == POISON)
				poisons++;
			else if (out[i] < nitems)
				atomic_fetch_add(&t->count[out[i]], 1);
			else
				_exit(K_BAD);
		}
	}
	atomic_fetch_add(&t->poisons, 1);
	for (uint32_t p = POISON; poisons > 1; poisons--)
		push_all(q, &p, 1);
	_exit(K_OK);
}

static void push_poisons(struct shoal__queue_view *q, uint32_t n)
{
	for (uint32_t i = 0, p = POISON; i < n; i++)
		push_all(q, &p, 1);
}

Test(queue, processes_exactly_once)
{
	const uint32_t total = MP_PRODUCERS * MP_ITEMS;
	struct shoal__queue_view *q = tq_open(1024, sizeof(struct tally) +
					 total * sizeof(_Atomic uint32_t));
	struct tally *t = tq.area;
	pid_t prod[MP_PRODUCERS], cons[MP_CONSUMERS];
	uint32_t v;

	for (uint32_t i = 0; i < MP_CONSUMERS; i++)
		if ((cons[i] = tu_fork()) == 0)
			consumer_main(q, t, i, total);
	for (uint32_t i = 0; i < MP_PRODUCERS; i++)
		if ((prod[i] = tu_fork()) == 0)
			producer_main(q, i, MP_ITEMS);
	for (uint32_t i = 0; i < MP_PRODUCERS; i++)
		cr_assert_eq(tu_wait_exit(prod[i]), K_OK);
	push_poisons(q, MP_CONSUMERS);
	for (uint32_t i = 0; i < MP_CONSUMERS; i++)
		cr_assert_eq(tu_wait_exit(cons[i]), K_OK);
	cr_assert_eq(atomic_load(&t->poisons), MP_CONSUMERS);
	for (uint32_t i = 0; i < total; i++)
		cr_assert_eq(atomic_load(&t->count[i]), 1, "item %u popped %u times",
			     i, atomic_load(&t->count[i]));
	cr_assert_eq(shoal__queue_pop(q, &v, 1), 0);
	cr_assert_eq(shoal__queue_len(q), 0);
	cr_assert_eq(atomic_load(&q->ring->wake.waiters), 0);
}

/* Pops `want` items, sleeping when empty (spin 0: it really sleeps);
 * sends them on fd.  Exits K_TIMEOUT if a wait times out. */
static _Noreturn void sleeper_main(struct shoal__queue_view *q, uint32_t want,
				   int fd)
{
	uint32_t out[16];

	while (want > 0) {
		uint32_t k = shoal__queue_pop(q, out, want < 16 ? want : 16);

		if (k == 0 &&
		    shoal__queue_wait(q, shoal__deadline_in(5000), 0) != 0)
			_exit(K_TIMEOUT);
		for (uint32_t i = 0; i < k; i++)
			pipe_put(fd, out[i]);
		want -= k;
	}
	_exit(K_OK);
}

Test(queue, sleeping_consumer_woken_by_push)
{
	struct shoal__queue_view *q = tq_open(8, 0);
	uint32_t v = 42;
	int64_t t0;
	int p[2];
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	if ((pid = tu_fork()) == 0) {
		close(p[0]);
		sleeper_main(q, 1, p[1]);
	}
	close(p[1]);
	cr_assert(asleep(q, pid, 1), "consumer never went to sleep");
	t0 = tu_now_ns();
	cr_assert_eq(shoal__queue_push(q, &v, 1), 1);
	cr_assert_eq(pipe_get(p[0]), 42);
	cr_assert_lt(tu_now_ns() - t0, 2000000000ll, "woken by timeout, not push");
	close(p[0]);
	cr_assert_eq(tu_wait_exit(pid), K_OK);
	cr_assert_eq(atomic_load(&q->ring->wake.waiters), 0);
}

/* ------------------------------------------------------------------ */
/* Repair                                                             */

Test(queue, repair_healthy_is_noop)
{
	struct shoal__queue_view *q = tq_open(8, 0);
	uint32_t in[] = {1, 2, 3}, out[8], got[8];
	struct lostbuf lb = {.cap = 8, .items = got};

	cr_assert_eq(shoal__queue_push(q, in, 3), 3);
	cr_assert_eq(shoal__queue_pop(q, out, 1), 1);
	shoal__queue_repair(q, lost_collect, &lb);
	shoal__queue_repair(q, NULL, NULL);
	cr_assert_eq(lb.n, 0);
	cr_assert_eq(shoal__queue_pop(q, out, 8), 2);
	cr_assert(out[0] == 2 && out[1] == 3);
	shoal__queue_repair(q, lost_collect, &lb);
	cr_assert_eq(lb.n, 0);
	cr_assert_eq(shoal__queue_len(q), 0);
}

/* A child that makes a claim by hand (the first half of a push or a pop)
 * and blocks on `hold` until the test kills it. */
struct doomed {
	pid_t pid;
	int hold; /* write end the test keeps open, so the child's read blocks */
};

static struct doomed doomed_claim(struct shoal__queue_view *q, uint32_t n,
				  bool producer)
{
	int ready[2], hold[2];
	struct doomed d;

	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(hold), 0);
	if ((d.pid = tu_fork()) == 0) {
		close(ready[0]);
		close(hold[1]);
		pipe_put(ready[1], (uint32_t)(producer ? tq_claim_tail(q, n) :
						tq_claim_head(q, n)));
		block_forever(hold[0]);
	}
	close(ready[1]);
	close(hold[0]);
	pipe_get(ready[0]); /* the claim is made */
	close(ready[0]);
	d.hold = hold[1];
	return d;
}

static void doomed_kill(struct doomed d)
{
	tu_kill(d.pid);
	close(d.hold);
}

Test(queue, repair_dead_producer)
{
	struct shoal__queue_view *q = tq_open(8, 0);
	uint32_t in[] = {100, 101, 102, 103, 104}, out[8], got[8];
	struct lostbuf lb = {.cap = 8, .items = got};
	int p[2];
	struct doomed dead;
	pid_t sleeper;

	dead = doomed_claim(q, 2, true);             /* positions 0, 1 */
	cr_assert_eq(shoal__queue_push(q, in, 5), 5); /* 2 .. 6 */
	cr_assert_eq(shoal__queue_len(q), 7);
	cr_assert_eq(shoal__queue_pop(q, out, 8), 0); /* stuck behind hole */

	cr_assert_eq(pipe(p), 0);
	if ((sleeper = tu_fork()) == 0) {
		close(p[0]);
		sleeper_main(q, 5, p[1]);
	}
	close(p[1]);
	cr_assert(asleep(q, sleeper, 1), "consumer never went to sleep");
	doomed_kill(dead);
	shoal__queue_repair(q, lost_collect, &lb);   /* wakes the sleeper */
	cr_assert_eq(lb.n, 0);
	for (uint32_t i = 0; i < 5; i++)
		cr_assert_eq(pipe_get(p[0]), 100 + i);
	close(p[0]);
	cr_assert_eq(tu_wait_exit(sleeper), K_OK);

	/* The skipped cells serve the next rounds. */
	for (uint32_t r = 0; r < 4; r++) {
		cr_assert_eq(shoal__queue_push(q, in, 5), 5);
		cr_assert_eq(shoal__queue_pop(q, out, 8), 5);
		cr_assert(memcmp(out, in, sizeof(in)) == 0);
	}
	shoal__queue_repair(q, lost_collect, &lb);
	cr_assert_eq(lb.n, 0);
}

Test(queue, repair_dead_consumer)
{
	struct shoal__queue_view *q = tq_open(4, 0);
	uint32_t in[] = {1, 2, 3, 4}, more[] = {5, 6, 7, 8}, out[8], got[8];
	struct lostbuf lb = {.cap = 8, .items = got};
	struct doomed dead;

	cr_assert_eq(shoal__queue_push(q, in, 4), 4);
	dead = doomed_claim(q, 2, false);              /* took 1, 2 */
	cr_assert_eq(shoal__queue_pop(q, out, 8), 2);
	cr_assert(out[0] == 3 && out[1] == 4);
	cr_assert_eq(shoal__queue_push(q, more, 4), 0); /* 1, 2 unreleased */
	doomed_kill(dead);
	shoal__queue_repair(q, lost_collect, &lb);
	cr_assert_eq(lb.n, 2);
	cr_assert(got[0] == 1 && got[1] == 2);

	/* Producers wrap around again, and the lost items go back. */
	cr_assert_eq(shoal__queue_push(q, more, 4), 4);
	cr_assert_eq(shoal__queue_pop(q, out, 8), 4);
	cr_assert(memcmp(out, more, sizeof(more)) == 0);
	cr_assert_eq(shoal__queue_push(q, got, lb.n), 2);
	cr_assert_eq(shoal__queue_pop(q, out, 8), 2);
	cr_assert(out[0] == 1 && out[1] == 2);
	lb.n = 0;
	shoal__queue_repair(q, lost_collect, &lb);
	cr_assert_eq(lb.n, 0);

	/* A consumer that died having released part of its claim: only the
	 * unreleased rest is lost.  Then a dead producer and a dead consumer
	 * at once. */
	cr_assert_eq(shoal__queue_push(q, in, 4), 4);
	dead = doomed_claim(q, 3, false);               /* took 1, 2, 3 */
	{
		uint64_t h = atomic_load(&q->ring->head) - 3;     /* release 1 by hand */
		_Atomic uint64_t *c = &q->ring->cells[h & q->mask];
		uint64_t w = atomic_load(c);

		cr_assert_eq((uint32_t)w, 1);
		atomic_store(c, tq_word(h + q->capacity, 0));
	}
	doomed_kill(dead);
	dead = doomed_claim(q, 1, true);                /* a hole after 4 */
	doomed_kill(dead);
	shoal__queue_repair(q, lost_collect, &lb);
	cr_assert_eq(lb.n, 2);
	cr_assert(got[0] == 2 && got[1] == 3);
	cr_assert_eq(shoal__queue_pop(q, out, 8), 1);   /* 4, the SKIP dropped */
	cr_assert_eq(out[0], 4);
	cr_assert_eq(shoal__queue_len(q), 0);
	for (uint32_t r = 0; r < 3; r++) {
		cr_assert_eq(shoal__queue_push(q, more, 4), 4);
		cr_assert_eq(shoal__queue_pop(q, out, 8), 4);
		cr_assert(memcmp(out, more, sizeof(more)) == 0);
	}
}

/*
 * A gate that freezes a child at a chosen CAS, deterministically: the child
 * write-protects the page of one cell (in its own mapping only), so its
 * first write there (the publish or release CAS of a push or pop; reads go
 * through) faults; the handler pings the test, waits for its pong, lifts
 * the protection and returns, and the CAS runs again on whatever the test
 * changed meanwhile.
 */
static struct {
	uint8_t *page;
	size_t size;
	int ping, pong;
} gate;

static void gate_handler(int sig, siginfo_t *si, void *uc)
{
	uint8_t *a = si->si_addr;
	char c = 'f';

	(void)uc;
	if (a < gate.page || a >= gate.page + gate.size) {
		signal(sig, SIG_DFL); /* a real fault: die of it */
		return;
	}
	if (write(gate.ping, &c, 1) != 1 || read(gate.pong, &c, 1) != 1 ||
	    mprotect(gate.page, gate.size, PROT_READ | PROT_WRITE) != 0)
		_exit(K_IO);
}

/* Child side: arms the gate on the page of the cell of position p. */
static void gate_arm(struct shoal__queue_view *q, uint64_t p, int ping, int pong)
{
	struct sigaction sa = {.sa_sigaction = gate_handler,
			       .sa_flags = SA_SIGINFO};
	uintptr_t cell = (uintptr_t)&q->ring->cells[p & q->mask];

	gate.size = (size_t)sysconf(_SC_PAGESIZE);
	gate.page = (uint8_t *)(cell & ~(uintptr_t)(gate.size - 1));
	gate.ping = ping;
	gate.pong = pong;
	if ((uintptr_t)gate.page <= (uintptr_t)&q->ring->wake.waiters ||
	    sigaction(SIGSEGV, &sa, NULL) != 0 ||
	    mprotect(gate.page, gate.size, PROT_READ) != 0)
		_exit(K_BAD);
}

/* Test side of a gated child: its pipes. */
struct gated {
	pid_t pid;
	int ping, pong, res;
};

static struct gated gated_fork(void)
{
	int ping[2], pong[2], res[2];
	struct gated g;

	cr_assert_eq(pipe(ping), 0);
	cr_assert_eq(pipe(pong), 0);
	cr_assert_eq(pipe(res), 0);
	if ((g.pid = tu_fork()) == 0) {
		close(ping[0]);
		close(pong[1]);
		close(res[0]);
		g = (struct gated){0, ping[1], pong[0], res[1]};
		return g;
	}
	close(ping[1]);
	close(pong[0]);
	close(res[1]);
	g.ping = ping[0];
	g.pong = pong[1];
	g.res = res[0];
	return g;
}

/* Test side: waits until the child is frozen at the gate. */
static void gated_wait(struct gated *g)
{
	char c;

	cr_assert_eq(read(g->ping, &c, 1), 1, "child never reached the gate");
}

static void gated_go(struct gated *g)
{
	cr_assert_eq(write(g->pong, "g", 1), 1);
}

static void gated_close(struct gated *g)
{
	close(g->ping);
	close(g->pong);
	close(g->res);
}

/* A live producer loses its publish CAS to a repair (a): it pushes the
 * item again, and the item is popped exactly once. */
Test(queue, repair_beats_live_producer)
{
	struct shoal__queue_view *q = tq_open(1024, 0);
	uint32_t out[8], got[8];
	struct lostbuf lb = {.cap = 8, .items = got};
	struct gated g;

	tq_move_to(q, 600); /* cell 600: off the page of tail and head */
	g = gated_fork();
	if (g.pid == 0) {
		uint32_t v = 77;

		gate_arm(q, 600, g.ping, g.pong);
		pipe_put(g.res, shoal__queue_push(q, &v, 1));
		_exit(K_OK);
	}
	gated_wait(&g);                    /* claimed 600, publishing */
	cr_assert_eq(atomic_load(&q->ring->tail), 601);
	shoal__queue_repair(q, lost_collect, &lb);
	cr_assert_eq(lb.n, 0);
	cr_assert_eq(atomic_load(&q->ring->cells[600]),
		     tq_word(601, SHOAL__QUEUE_SKIP));
	gated_go(&g);
	cr_assert_eq(pipe_get(g.res), 1);  /* pushed (again, at 601) */
	cr_assert_eq(tu_wait_exit(g.pid), K_OK);
	gated_close(&g);
	cr_assert_eq(atomic_load(&q->ring->tail), 602);
	cr_assert_eq(shoal__queue_pop(q, out, 8), 1);
	cr_assert_eq(out[0], 77);
	cr_assert_eq(shoal__queue_pop(q, out, 8), 0);
}

/* The race queue.c's header describes: a live consumer has claimed a cell,
 * a repair (b) releases it (the item goes to `lost`) and a producer reuses
 * it.  The consumer returns the original item (a duplicate of the lost
 * one), and its failing release leaves the new round's item intact. */
Test(queue, repair_beats_live_consumer)
{
	struct shoal__queue_view *q = tq_open(1024, 0);
	uint32_t *in = malloc(1024 * sizeof(uint32_t));
	uint32_t *out = malloc(1024 * sizeof(uint32_t));
	uint32_t got[8], v = 7;
	struct lostbuf lb = {.cap = 8, .items = got};
	struct gated g;

	cr_assert(in != NULL && out != NULL);
	tq_move_to(q, 600);
	cr_assert_eq(shoal__queue_push(q, &v, 1), 1);    /* at 600 */
	g = gated_fork();
	if (g.pid == 0) {
		uint32_t o[4] = {0};
		uint32_t k;

		gate_arm(q, 600, g.ping, g.pong);
		k = shoal__queue_pop(q, o, 4);
		pipe_put(g.res, k);
		pipe_put(g.res, o[0]);
		_exit(K_OK);
	}
	gated_wait(&g);                    /* claimed 600, releasing */
	cr_assert_eq(atomic_load(&q->ring->head), 601);
	shoal__queue_repair(q, lost_collect, &lb);
	cr_assert_eq(lb.n, 1);
	cr_assert_eq(got[0], 7);
	for (uint32_t i = 0; i < 1024; i++)
		in[i] = 1000 + i;
	cr_assert_eq(shoal__queue_push(q, in, 1024), 1024); /* 601 .. 1624 */
	cr_assert_eq(atomic_load(&q->ring->cells[600]), tq_word(1625, 2023));
	gated_go(&g);
	cr_assert_eq(pipe_get(g.res), 1);
	cr_assert_eq(pipe_get(g.res), 7);  /* the original, not 2023 */
	cr_assert_eq(tu_wait_exit(g.pid), K_OK);
	gated_close(&g);
	cr_assert_eq(shoal__queue_pop(q, out, 1024), 1024);
	cr_assert(memcmp(in, out, 1024 * sizeof(uint32_t)) == 0);
	cr_assert_eq(shoal__queue_pop(q, out, 8), 0);
	lb.n = 0;
	shoal__queue_repair(q, lost_collect, &lb);
	cr_assert_eq(lb.n, 0);
	free(in);
	free(out);
}

/* Repair run over and over while live processes push and pop: nothing is
 * lost, and an item is popped again only as often as `lost` reported it. */
#define RR_PRODUCERS 2
#define RR_CONSUMERS 2
#define RR_ITEMS 20000u

Test(queue, repair_races_live_processes)
{
	const uint32_t total = RR_PRODUCERS * RR_ITEMS;
	struct shoal__queue_view *q = tq_open(32, sizeof(struct tally) +
					 total * sizeof(_Atomic uint32_t));
	struct tally *t = tq.area;
	uint32_t *nlost = calloc(total, sizeof(uint32_t));
	uint32_t buf[64];
	struct lostbuf lb = {.cap = 64, .items = buf};
	pid_t prod[RR_PRODUCERS], cons[RR_CONSUMERS];
	uint32_t running = RR_PRODUCERS, repairs = 0, lost_total = 0;

	cr_assert_not_null(nlost);
	for (uint32_t i = 0; i < RR_CONSUMERS; i++)
		if ((cons[i] = tu_fork()) == 0)
			consumer_main(q, t, i, total);
	for (uint32_t i = 0; i < RR_PRODUCERS; i++)
		if ((prod[i] = tu_fork()) == 0)
			producer_main(q, i, RR_ITEMS);
	while (running > 0) {
		lb.n = 0;
		shoal__queue_repair(q, lost_collect, &lb);
		repairs++;
		cr_assert_leq(lb.n, lb.cap);
		for (uint32_t i = 0; i < lb.n; i++) {
			cr_assert_lt(buf[i], total, "lost %#x", buf[i]);
			nlost[buf[i]]++;
		}
		lost_total += lb.n;
		push_all(q, buf, lb.n);
		for (uint32_t i = 0; i < RR_PRODUCERS; i++) {
			int st;

			if (prod[i] > 0 && waitpid(prod[i], &st, WNOHANG) == prod[i]) {
				tu_untrack(prod[i]);
				cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == K_OK);
				prod[i] = 0;
				running--;
			}
		}
	}
	push_poisons(q, RR_CONSUMERS);
	for (uint32_t i = 0; i < RR_CONSUMERS; i++)
		cr_assert_eq(tu_wait_exit(cons[i]), K_OK);
	for (uint32_t i = 0; i < total; i++) {
		uint32_t c = atomic_load(&t->count[i]);

		cr_assert(c >= 1 && c <= 1 + nlost[i],
			  "item %u popped %u times, lost %u times", i, c, nlost[i]);
	}
	/* Positions that carried no item: SKIPs from repair (a) and from
	 * producers filling the rest of a claim it broke. */
	cr_log_info("%u repairs, %u items reported lost, %llu positions skipped",
		    repairs, lost_total,
		    (unsigned long long)(atomic_load(&q->ring->tail) - total -
					 lost_total - RR_CONSUMERS));
	free(nlost);
}

/*
 * A neighbour that rewrites head and tail without end, with stale
 * positions (their cells are newer), keeps every claim re-reading an index
 * that never holds still.  Push and pop give up after their retry bound
 * (queue.c LIMITS) and report full and empty, while it still runs.  (The
 * same test passes without the bound: the victim re-reads the index
 * within nanoseconds and mostly sees it unchanged, so a neighbour cannot
 * hold it spinning in practice; the bound makes termination a proof, not
 * a race the victim usually wins.)
 */
Test(queue, a_neighbour_rewriting_the_indices_never_holds_a_push_or_pop)
{
	struct shoal__queue_view *q = tq_open(8, 0);
	uint32_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8];
	int ready[2];
	pid_t pid;
	int64_t t0;

	cr_assert_eq(shoal__queue_push(q, in, 8), 8);
	cr_assert_eq(shoal__queue_pop(q, out, 8), 8); /* cells now stamped 8.. */
	tu_pipe(ready);
	pid = tu_fork();
	if (pid == 0) {
		tu_child_write_byte(ready[1], 'r');
		/* Never the same value twice in a row; the low 32 bits (what
		 * stamps compare) always behind the cells' stamps. */
		for (uint64_t i = 1;; i++) {
			uint64_t stale = i << 32 | (i & 7);

			atomic_store_explicit(&q->ring->tail, stale, memory_order_relaxed);
			atomic_store_explicit(&q->ring->head, stale, memory_order_relaxed);
		}
	}
	cr_assert_eq(tu_read_byte(ready[0], 10000), 'r');
	t0 = tu_now_ms();
	cr_assert_leq(shoal__queue_push(q, in, 4), 4);
	cr_assert_leq(shoal__queue_pop(q, out, 4), 4);
	cr_assert_lt(tu_now_ms() - t0, 5000, "push and pop took %lld ms",
		     (long long)(tu_now_ms() - t0));
	tu_kill(pid);
}
