/* SPDX-License-Identifier: MIT */
/*
 * tests/test_lane.c - the actor call lane (ring/lane.h) on its own.
 *
 * Each test maps one memfd MAP_SHARED: the lane, then a result area that
 * forked children share.  Children are forked with
 * PR_SET_PDEATHSIG(SIGKILL), report through their exit code, pipes and the
 * shared area, never use criterion's assertions, and leave with _exit();
 * the suite's .fini kills and reaps any child a failed assertion left
 * behind.  Nothing is named, so nothing outlives a test.
 *
 * Dead processes are real: a child stops at a chosen point (after reserve,
 * after peek), tells the parent through a pipe, and blocks on another pipe
 * until the parent SIGKILLs it.
 *
 * Synchronisation is by pipes, waitpid, and bounded polls of shared words
 * (a side is "asleep" once its event's sleepers flag is up, it is
 * registered in waiters, and the kernel reports it in state S); never by
 * sleeping.
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
#include "lane.h"
#include "testutil.h"

#define POLL_NS (5ll * 1000000000) /* bound of every poll: 5 s */
#define RS 256u                    /* record size of the tests */
#define SPIN 2000u

/* Exit codes of children. */
#define K_OK 0
#define K_IO 91
#define K_TIMEOUT 92
#define K_BAD 93

/* The shared result area after the lane. */
struct area {
	_Atomic uint32_t consumer_slept; /* producer saw the consumer asleep */
	_Atomic uint32_t producer_slept; /* consumer saw the producer asleep */
	_Atomic uint32_t seen;           /* records the consumer child took */
};

static struct {
	int fd;
	uint8_t *base;
	size_t size;
	uint64_t lane_bytes;
	struct shoal__lane_view l; /* this process's view (children inherit it) */
	struct area *area;
} tl = {.fd = -1};

static void tl_fini(void)
{
	tu_teardown(); /* kills and reaps any child still alive */
	if (tl.base != NULL)
		munmap(tl.base, tl.size);
	if (tl.fd >= 0)
		close(tl.fd);
	tl.base = NULL;
	tl.fd = -1;
}

TestSuite(lane, .init = tu_setup, .fini = tl_fini, .timeout = 30);

/* A lane of `cap` records of RS bytes and a shared area, zeroed. */
static struct shoal__lane_view *tl_open(uint32_t cap)
{
	uint64_t lb = shoal__lane_bytes(cap, RS);
	char name[128];

	cr_assert_gt(lb, 0);
	snprintf(name, sizeof(name), "shoal-test-lane-%d-%s", (int)getpid(),
		 criterion_current_test->name);
	tl.fd = memfd_create(name, MFD_CLOEXEC);
	cr_assert_geq(tl.fd, 0, "memfd_create: %s", strerror(errno));
	tl.size = lb + 64;
	cr_assert_eq(ftruncate(tl.fd, (off_t)tl.size), 0);
	tl.base = mmap(NULL, tl.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       tl.fd, 0);
	cr_assert_neq(tl.base, MAP_FAILED, "mmap: %s", strerror(errno));
	cr_assert_eq(shoal__lane_init(tl.base, cap, RS), 0);
	cr_assert_eq(shoal__lane_open(&tl.l, tl.base, lb), 0);
	tl.lane_bytes = lb;
	tl.area = (struct area *)(tl.base + lb);
	return &tl.l;
}

/* Bounded poll: the lane holds `len` records and `pid` sleeps in the
 * kernel on `ev` (registered, sleepers flag up, state S). */
static bool asleep_on(struct shoal__lane_view *l, struct shoal__event *ev,
		      uint32_t len, pid_t pid)
{
	int64_t end = tu_now_ns() + POLL_NS;

	while (tu_now_ns() < end) {
		if (shoal__lane_len(l) == len &&
		    atomic_load_explicit(&ev->waiters, memory_order_seq_cst) >= 1 &&
		    atomic_load_explicit(&ev->sleepers, memory_order_seq_cst) == 1 &&
		    tu_proc_state(pid) == 'S')
			return true;
		sched_yield();
	}
	return false;
}

/* A record: its sequence number, a checksum-like pattern, a tag. */
static void rec_fill(void *slot, uint64_t seq, uint64_t tag)
{
	uint64_t *w = slot;

	w[0] = seq;
	w[1] = tag;
	for (uint32_t i = 2; i < RS / 8; i++)
		w[i] = seq * 0x9e3779b97f4a7c15ull + i;
}

static bool rec_ok(const void *slot, uint64_t seq, uint64_t tag)
{
	const uint64_t *w = slot;

	if (w[0] != seq || w[1] != tag)
		return false;
	for (uint32_t i = 2; i < RS / 8; i++)
		if (w[i] != seq * 0x9e3779b97f4a7c15ull + i)
			return false;
	return true;
}

static void put(struct shoal__lane_view *l, uint64_t seq, uint64_t tag)
{
	void *slot = shoal__lane_reserve(l);

	cr_assert_not_null(slot, "lane full at %llu", (unsigned long long)seq);
	rec_fill(slot, seq, tag);
	shoal__lane_publish(l, NULL);
}

static void take(struct shoal__lane_view *l, uint64_t seq, uint64_t tag)
{
	const void *r = shoal__lane_peek(l);

	cr_assert_not_null(r, "lane empty at %llu", (unsigned long long)seq);
	cr_assert(rec_ok(r, seq, tag), "record %llu: got %llu/%llx",
		  (unsigned long long)seq,
		  (unsigned long long)((const uint64_t *)r)[0],
		  (unsigned long long)((const uint64_t *)r)[1]);
	shoal__lane_consume(l);
}

static void block_on(int fd)
{
	char c;

	(void)!read(fd, &c, 1);
	_exit(K_IO);
}

/* ------------------------------------------------------------------ */

Test(lane, init_rejects_bad_sizes)
{
	_Alignas(64) static uint8_t mem[sizeof(struct shoal__lane) + 4 * 128];
	const uint32_t bad_cap[] = {0, 1, 3, 6, 100, 65536u * 2, UINT32_MAX};
	const uint32_t bad_rs[] = {0, 1, 32, 63, 65, 100, 200, 65536 + 64,
				   UINT32_MAX - 63};

	for (size_t i = 0; i < sizeof(bad_cap) / sizeof(bad_cap[0]); i++) {
		cr_expect_eq(shoal__lane_bytes(bad_cap[i], 256), 0);
		cr_expect_eq(shoal__lane_init(mem, bad_cap[i], 256), -EINVAL,
			     "capacity %u", bad_cap[i]);
	}
	for (size_t i = 0; i < sizeof(bad_rs) / sizeof(bad_rs[0]); i++) {
		cr_expect_eq(shoal__lane_bytes(4, bad_rs[i]), 0);
		cr_expect_eq(shoal__lane_init(mem, 4, bad_rs[i]), -EINVAL,
			     "record size %u", bad_rs[i]);
	}
	cr_expect_eq(shoal__lane_init(NULL, 4, 128), -EINVAL);
	cr_expect_eq(shoal__lane_init(mem + 8, 4, 128), -EINVAL);
	cr_expect_eq(shoal__lane_bytes(2, 64), 320 + 128);
	cr_expect_eq(shoal__lane_bytes(65536, 65536),
		     320 + (uint64_t)65536 * 65536);
	cr_assert_eq(shoal__lane_init(mem, 4, 128), 0);
	cr_assert_eq(shoal__lane_check(mem, sizeof(mem)), 0);
	cr_expect_eq(shoal__lane_check(mem, sizeof(mem) - 1), SHOAL_EBADSEGMENT);
	{
		struct shoal__lane_view v;

		cr_assert_eq(shoal__lane_open(&v, mem, sizeof(mem)), 0);
		cr_expect_eq(shoal__lane_len(&v), 0);
		cr_expect_null(shoal__lane_peek(&v));
	}
}

Test(lane, fifo_wraps_around)
{
	struct shoal__lane_view *l = tl_open(8);
	uint64_t next_in = 0, next_out = 0;
	unsigned step = 1;

	/* Uneven batches of 1..8 in and out so that the indices drift over
	 * every slot and the caches go stale in every way. */
	while (next_out < 100000) {
		for (unsigned k = 0; k < step % 8 + 1 && next_in < 100000; k++) {
			void *slot = shoal__lane_reserve(l);

			if (slot == NULL)
				break;
			rec_fill(slot, next_in++, 7);
			shoal__lane_publish(l, NULL);
		}
		cr_assert_leq(shoal__lane_len(l), 8);
		for (unsigned k = 0; k < (step * 5) % 7 + 1; k++) {
			const void *r = shoal__lane_peek(l);

			if (r == NULL)
				break;
			cr_assert(rec_ok(r, next_out, 7), "record %llu",
				  (unsigned long long)next_out);
			cr_assert_eq(shoal__lane_peek(l), r); /* idempotent */
			shoal__lane_consume(l);
			next_out++;
		}
		step++;
	}
	cr_assert_eq(next_in, 100000);
	cr_assert_null(shoal__lane_peek(l));
	cr_assert_eq(shoal__lane_len(l), 0);
	cr_assert_eq(shoal__lane_check(l->ring, tl.lane_bytes), 0);
}

Test(lane, full_then_consume_makes_room)
{
	struct shoal__lane_view *l = tl_open(4);
	void *slot;

	for (uint64_t i = 0; i < 4; i++)
		put(l, i, 1);
	cr_assert_eq(shoal__lane_len(l), 4);
	cr_assert_null(shoal__lane_reserve(l));
	cr_assert_eq(shoal__lane_wait_room(l, shoal__deadline_in(0), 10),
		     -ETIMEDOUT);
	take(l, 0, 1);
	slot = shoal__lane_reserve(l);
	cr_assert_not_null(slot);
	cr_assert_eq(shoal__lane_reserve(l), slot); /* same until publish */
	cr_assert_eq(shoal__lane_wait_room(l, shoal__deadline_in(0), 10), 0);
	rec_fill(slot, 4, 1);
	shoal__lane_publish(l, NULL);
	cr_assert_null(shoal__lane_reserve(l));
	for (uint64_t i = 1; i < 5; i++)
		take(l, i, 1);
	cr_assert_null(shoal__lane_peek(l));
	cr_assert_eq(shoal__lane_wait_record(l, shoal__deadline_in(0), 10),
		     -ETIMEDOUT);
}

/* An external doorbell: publish signals it, not the lane's own. */
Test(lane, external_doorbell)
{
	struct shoal__lane_view *l = tl_open(4);
	struct shoal__event *db = (struct shoal__event *)tl.area;
	uint32_t seen = shoal__event_seen(db);
	uint32_t own = shoal__event_seen(&l->ring->doorbell);
	void *slot;

	atomic_fetch_add_explicit(&db->waiters, 1, memory_order_seq_cst);
	cr_assert_not(shoal__lane_ready(l));
	slot = shoal__lane_reserve(l);
	rec_fill(slot, 0, 3);
	shoal__lane_publish(l, db);
	cr_assert(shoal__lane_ready(l));
	cr_assert_neq(shoal__event_seen(db), seen);
	cr_assert_eq(shoal__event_wait(db, seen, shoal__deadline_in(0), 1), 0);
	atomic_fetch_sub_explicit(&db->waiters, 1, memory_order_relaxed);
	cr_assert_eq(shoal__event_seen(&l->ring->doorbell), own);
	take(l, 0, 3);
}

#define N_PROC 100000u
#define PHASE 25000u

/* Child consumer: takes N_PROC records in order; sleeps on the doorbell
 * when empty; every PHASE records (offset by half a phase) it lets the
 * lane fill up and waits until the producer sleeps on space. */
static int consumer_child(struct shoal__lane_view *l, pid_t producer)
{
	for (uint32_t i = 0; i < N_PROC; i++) {
		const void *r;

		if (i % PHASE == PHASE / 2) {
			if (!asleep_on(l, &l->ring->space, l->ring->capacity, producer))
				return K_TIMEOUT;
			atomic_fetch_add_explicit(&tl.area->producer_slept, 1,
						  memory_order_relaxed);
		}
		while ((r = shoal__lane_peek(l)) == NULL)
			if (shoal__lane_wait_record(l, shoal__deadline_in(5000),
						    SPIN) != 0)
				return K_TIMEOUT;
		if (!rec_ok(r, i, 0xC0FFEE))
			return K_BAD;
		shoal__lane_consume(l);
		atomic_fetch_add_explicit(&tl.area->seen, 1, memory_order_relaxed);
	}
	return shoal__lane_peek(l) == NULL ? K_OK : K_BAD;
}

Test(lane, two_processes_sleep_both_ways)
{
	struct shoal__lane_view *l = tl_open(64);
	pid_t me = getpid();
	pid_t kid = tu_fork();

	if (kid == 0)
		_exit(consumer_child(l, me));
	for (uint32_t i = 0; i < N_PROC; i++) {
		void *slot;

		if (i % PHASE == 0 && i > 0) {
			cr_assert(asleep_on(l, &l->ring->doorbell, 0, kid),
				  "consumer never slept at %u", i);
			atomic_fetch_add_explicit(&tl.area->consumer_slept, 1,
						  memory_order_relaxed);
		}
		while ((slot = shoal__lane_reserve(l)) == NULL)
			cr_assert_eq(shoal__lane_wait_room(
					     l, shoal__deadline_in(5000), SPIN),
				     0, "no room at %u", i);
		rec_fill(slot, i, 0xC0FFEE);
		shoal__lane_publish(l, NULL);
	}
	cr_assert_eq(tu_wait_exit(kid), K_OK);
	cr_assert_eq(atomic_load(&tl.area->seen), N_PROC);
	cr_assert_geq(atomic_load(&tl.area->consumer_slept), 1);
	cr_assert_geq(atomic_load(&tl.area->producer_slept), 1);
	cr_assert_eq(shoal__lane_len(l), 0);
	cr_assert_eq(shoal__lane_check(l->ring, tl.lane_bytes), 0);
}

Test(lane, dead_producer_record_never_seen)
{
	struct shoal__lane_view *l = tl_open(8);
	int ready[2], hold[2];
	pid_t kid;
	char c;

	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(hold), 0);
	kid = tu_fork();
	if (kid == 0) {
		void *slot;

		close(ready[0]);
		close(hold[1]);
		for (uint64_t i = 0; i < 3; i++) {
			slot = shoal__lane_reserve(l);
			if (slot == NULL)
				_exit(K_BAD);
			rec_fill(slot, i, 1);
			shoal__lane_publish(l, NULL);
		}
		slot = shoal__lane_reserve(l); /* record 3: never published */
		if (slot == NULL)
			_exit(K_BAD);
		rec_fill(slot, 3, 0xDEAD);
		if (write(ready[1], "r", 1) != 1)
			_exit(K_IO);
		block_on(hold[0]);
	}
	close(ready[1]);
	close(hold[0]);
	cr_assert_eq(read(ready[0], &c, 1), 1);
	tu_kill(kid);
	close(ready[0]);
	close(hold[1]);

	for (uint64_t i = 0; i < 3; i++)
		take(l, i, 1);
	cr_assert_null(shoal__lane_peek(l), "the dead caller's record was seen");
	cr_assert_eq(shoal__lane_len(l), 0);

	/* A new producer process continues on the same lane. */
	kid = tu_fork();
	if (kid == 0) {
		for (uint64_t i = 3; i < 13; i++) {
			void *slot;

			while ((slot = shoal__lane_reserve(l)) == NULL)
				if (shoal__lane_wait_room(l, shoal__deadline_in(5000),
							  SPIN) != 0)
					_exit(K_TIMEOUT);
			rec_fill(slot, i, 2);
			shoal__lane_publish(l, NULL);
		}
		_exit(K_OK);
	}
	for (uint64_t i = 3; i < 13; i++) {
		while (shoal__lane_peek(l) == NULL)
			cr_assert_eq(shoal__lane_wait_record(
					     l, shoal__deadline_in(5000), SPIN),
				     0);
		take(l, i, 2);
	}
	cr_assert_eq(tu_wait_exit(kid), K_OK);
	cr_assert_null(shoal__lane_peek(l));
	cr_assert_eq(shoal__lane_check(l->ring, tl.lane_bytes), 0);
}

Test(lane, dead_consumer_record_seen_again)
{
	struct shoal__lane_view *l = tl_open(8);
	int ready[2], hold[2];
	pid_t kid;
	char c;

	for (uint64_t i = 0; i < 5; i++)
		put(l, i, 4);
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(hold), 0);
	kid = tu_fork();
	if (kid == 0) {
		const void *r;

		close(ready[0]);
		close(hold[1]);
		r = shoal__lane_peek(l);
		if (r == NULL || !rec_ok(r, 0, 4))
			_exit(K_BAD);
		shoal__lane_consume(l);
		r = shoal__lane_peek(l); /* record 1: never consumed */
		if (r == NULL || !rec_ok(r, 1, 4))
			_exit(K_BAD);
		if (write(ready[1], "p", 1) != 1)
			_exit(K_IO);
		block_on(hold[0]);
	}
	close(ready[1]);
	close(hold[0]);
	cr_assert_eq(read(ready[0], &c, 1), 1);
	tu_kill(kid);
	close(ready[0]);
	close(hold[1]);
	cr_assert_eq(shoal__lane_len(l), 4);

	/* A replacement consumer (a fresh process) sees record 1 again. */
	kid = tu_fork();
	if (kid == 0) {
		for (uint64_t i = 1; i < 5; i++) {
			const void *r = shoal__lane_peek(l);

			if (r == NULL || !rec_ok(r, i, 4))
				_exit(K_BAD);
			shoal__lane_consume(l);
		}
		_exit(shoal__lane_peek(l) == NULL ? K_OK : K_BAD);
	}
	cr_assert_eq(tu_wait_exit(kid), K_OK);
	cr_assert_eq(shoal__lane_len(l), 0);
	put(l, 5, 4);
	take(l, 5, 4);
}

Test(lane, check_rejects_corruption)
{
	struct shoal__lane_view *l = tl_open(8);
	uint64_t lb = tl.lane_bytes;

	cr_assert_eq(shoal__lane_check(l->ring, lb), 0);
	cr_expect_eq(shoal__lane_check(NULL, lb), SHOAL_EBADSEGMENT);
	cr_expect_eq(shoal__lane_check(tl.base + 64, lb), SHOAL_EBADSEGMENT);
	cr_expect_eq(shoal__lane_check(l->ring, 100), SHOAL_EBADSEGMENT);

	l->ring->magic ^= 1;
	cr_expect_eq(shoal__lane_check(l->ring, lb), SHOAL_EBADSEGMENT);
	l->ring->magic ^= 1;
	l->ring->capacity = 6;
	cr_expect_eq(shoal__lane_check(l->ring, lb), SHOAL_EBADSEGMENT);
	l->ring->capacity = 16; /* consistent mask would be 15: does not fit */
	l->ring->mask = 15;
	cr_expect_eq(shoal__lane_check(l->ring, lb), SHOAL_EBADSEGMENT);
	l->ring->capacity = 8;
	cr_expect_eq(shoal__lane_check(l->ring, lb), SHOAL_EBADSEGMENT); /* mask */
	l->ring->mask = 7;
	l->ring->record_size = 100;
	cr_expect_eq(shoal__lane_check(l->ring, lb), SHOAL_EBADSEGMENT);
	l->ring->record_size = RS;
	cr_assert_eq(shoal__lane_check(l->ring, lb), 0);

	/* Impossible indices: tail - head > capacity either way.  The lane
	 * stops: empty to the consumer, full to the producer. */
	atomic_store(&l->ring->tail, 100);
	atomic_store(&l->ring->head, 3);
	l->ring->head_cache = 3;   /* foreign memory: the caches agree with it */
	l->ring->tail_cache = 100;
	cr_expect_eq(shoal__lane_check(l->ring, lb), SHOAL_EBADSEGMENT);
	cr_expect_null(shoal__lane_peek(l));
	cr_expect_null(shoal__lane_reserve(l));
	cr_expect_eq(shoal__lane_len(l), 8);
	cr_expect_eq(shoal__lane_wait_room(l, shoal__deadline_in(1), 10),
		     -ETIMEDOUT);
	atomic_store(&l->ring->tail, 3);
	atomic_store(&l->ring->head, 100);
	l->ring->head_cache = 100;
	l->ring->tail_cache = 3;
	cr_expect_eq(shoal__lane_check(l->ring, lb), SHOAL_EBADSEGMENT);
	cr_expect_null(shoal__lane_peek(l));
	cr_expect_null(shoal__lane_reserve(l));
	cr_expect_eq(shoal__lane_len(l), 0);
	cr_expect_eq(shoal__lane_wait_record(l, shoal__deadline_in(1), 10),
		     -ETIMEDOUT);
	/* Wrapped but sane indices are fine. */
	atomic_store(&l->ring->head, UINT32_MAX - 1);
	atomic_store(&l->ring->tail, UINT32_MAX - 1);
	l->ring->head_cache = UINT32_MAX - 1;
	l->ring->tail_cache = UINT32_MAX - 1;
	cr_assert_eq(shoal__lane_check(l->ring, lb), 0);
	for (uint64_t i = 0; i < 20; i++) {
		put(l, i, 9);
		take(l, i, 9);
	}
	cr_assert_eq(shoal__lane_check(l->ring, lb), 0);
}
