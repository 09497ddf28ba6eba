/* SPDX-License-Identifier: MIT */
/*
 * ring/lane.c - an actor call lane: a single-producer single-consumer
 * ring of fixed-size records in the segment, with sleeping on both ends.
 *
 * WHAT
 *
 * Each actor has one lane per calling process (DESIGN.md region 5).  The
 * caller's threads take a process-local lock and are then the lane's one
 * producer; the actor process is its one consumer.  A record is
 * record_size opaque bytes (the call: method, arguments inline or by
 * object ID, reply slot); the lane only moves them in order.  It is the
 * classic Lamport ring with free-running indices, as in DPDK's rte_ring in
 * its SP/SC mode and Concurrency Kit's ck_ring_spsc: tail counts records
 * published, head records consumed, record i lives in slot i & mask.
 * Each side also keeps a cached copy of the other side's index on its own
 * line (the FastForward / MCRingBuffer idea), so a producer that has room
 * and a consumer that has records never touch the other side's line.
 *
 * INVARIANTS
 *
 *  I1  Only the producer writes tail and head_cache, only the consumer head
 *      and tail_cache; each index only grows (mod 2^32), by one per record.
 *  I2  0 <= tail - head <= capacity (mod 2^32): the producer reserves only
 *      while tail - head < capacity, the consumer peeks only while
 *      head != tail.  Capacity <= 2^16 keeps these differences far from
 *      wrapping around.
 *  I3  head <= tail_cache <= tail and head_cache <= head <= tail: a cache
 *      is a value the other index once had, and indices only grow.  So a
 *      stale cache only underestimates (less room, fewer records), and a
 *      side refreshes it exactly when the cache says full or empty.
 *  I4  Slots [head, tail) hold published records the consumer owns; slots
 *      [tail, head + capacity) belong to the producer.  A slot changes
 *      hands only by a store of tail (to the consumer) or of head (back).
 *
 * Every index load is checked against I2 and I3.  A lane that breaks them
 * (corrupt, or foreign memory that passed the configuration check) is full
 * to the producer and empty to the consumer: nothing is read or written
 * out of bounds, the lane simply stops, and shoal__lane_check() reports it.
 *
 * MEMORY ORDER
 *
 * LN- labels; each side, its partner, what the pair makes visible:
 *
 *  LN-R1 (LN-A1)  publish's release store of tail: the record's bytes,
 *             and whatever the caller wrote before.
 *  LN-A1 (LN-R1)  the consumer's acquire load of tail (peek's refresh,
 *             shoal__lane_open's check).
 *  LN-R2 (LN-A2)  consume's release store of head: the consumer's reads
 *             of the slot are done, so the producer's next writes to it
 *             cannot race them.
 *  LN-A2 (LN-R2)  the producer's acquire load of head (reserve's refresh,
 *             a waiter's room_now, shoal__lane_open's check).
 *  LN-S1 (LN-S2)  the doorbell, base/event.c's protocol (EV-S1): a
 *             sleeping consumer increments the doorbell's waiters
 *             (seq_cst), then re-reads tail (seq_cst, shoal__lane_ready) ...
 *  LN-S2 (LN-S1)  ... publish stores tail (LN-R1), then
 *             shoal__event_signal() fences (seq_cst, EV-S2) and reads
 *             waiters.  Either the fence precedes the registration in the
 *             total order S, and the re-check sees the record, or it
 *             follows, and the publisher sees the waiter and wakes it.
 *  LN-S3 (LN-S4)  the space event, the same with the roles swapped: a
 *             waiting producer registers and re-reads head (seq_cst) ...
 *  LN-S4 (LN-S3)  ... consume stores head (LN-R2), then signals (fence,
 *             read waiters).
 *  relaxed    each side's load of its own index: it is the only writer
 *             (I1), so it reads its own last store.  A replacement that
 *             takes over a dead side learns of the death through the
 *             kernel (waitpid, pidfd), which orders it after the dead
 *             process's stores.  The caches are plain fields for the same
 *             reason.  len() reads both indices relaxed: a hint.
 *
 * BATCHING
 *
 * With one producer and one consumer nobody competes for an index, so a
 * publish is one release store (a plain MOV on x86), no CAS and no lock.
 * That is why a publish per record is fine: there is nothing to amortise
 * but the doorbell, whose signal is a fence and a load of waiters, and a
 * system call only when the consumer actually sleeps.  The caches make the
 * common case touch only the caller's own line plus the record: the
 * producer reads head (the consumer's line, a cache miss) only when its
 * cached copy says full, the consumer reads tail only when its copy says
 * empty, i.e. about once per batch that the other side produced.
 *
 * WAITING
 *
 * The consumer of a single lane sleeps on the lane's doorbell
 * (shoal__lane_wait_record).  An actor serving many lanes sleeps on one
 * doorbell of its own and its callers publish with that event; the lane's
 * doorbell then stays unused (lane.h shows the loop).  A producer that
 * finds the lane full spins, then sleeps on `space`
 * (shoal__lane_wait_room).  Both spin first: a cross-CPU futex wake costs
 * tens of microseconds here, and a lane usually drains fast.
 *
 * CRASH
 *
 *  - A producer that dies before publish leaves tail unmoved: its record,
 *    written or half written, lies beyond tail where the consumer never
 *    looks.  A dead caller's unpublished record is simply never seen; the
 *    next producer reserves the same slot and overwrites it.
 *  - A producer that dies between publish and its signal leaves a
 *    published record unannounced: a consumer asleep sees it when its
 *    deadline passes (or at the next publish).
 *  - A consumer that dies between peek and consume leaves head unmoved:
 *    its replacement peeks the same record again.  Delivery is
 *    at-least-once; the actor layer decides (a call ID, a reply slot
 *    already filled) whether a repeat runs.
 *  - A consumer that dies between consume and its signal leaves a sleeping
 *    producer unwoken until its deadline.
 *  - A side that dies while registered leaves the event's waiters too high:
 *    the other side pays a futex wake system call per signal.  Harmless.
 *
 * LIMITS
 *
 *  - One producer and one consumer at a time.  Two producers (a missing
 *    caller lock) corrupt the lane silently; two consumers run records
 *    twice.
 *  - The configuration line is read once, by shoal__lane_open (or not at
 *    all: shoal__lane_view_of takes the caller's own copy), into a private
 *    struct shoal__lane_view; every operation takes its capacity, mask
 *    and record size from the view, so a configuration line scribbled
 *    afterwards changes nothing.
 *  - Capacity <= 65536 and record_size <= 64 KiB: a lane is at most 4 GiB;
 *    larger arguments go by object ID.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <shoal/error.h>

#include "crash.h"
#include "event.h"
#include "lane.h"

/* ------------------------------------------------------------------ */
/* Set-up                                                             */

static bool capacity_ok(uint32_t c)
{
	return c >= SHOAL__LANE_MIN_CAPACITY &&
	       c <= SHOAL__LANE_MAX_CAPACITY && (c & (c - 1)) == 0;
}

static bool record_size_ok(uint32_t rs)
{
	return rs >= SHOAL__LANE_MIN_RECORD && rs <= SHOAL__LANE_MAX_RECORD &&
	       rs % 64 == 0;
}

uint64_t shoal__lane_bytes(uint32_t capacity, uint32_t record_size)
{
	if (!capacity_ok(capacity) || !record_size_ok(record_size))
		return 0;
	return sizeof(struct shoal__lane) + (uint64_t)capacity * record_size;
}

/* Relaxed: published with the lane (shoal__lane_init, below). */
static void event_init(struct shoal__event *ev)
{
	atomic_store_explicit(&ev->seq, 0, memory_order_relaxed);
	atomic_store_explicit(&ev->waiters, 0, memory_order_relaxed);
	atomic_store_explicit(&ev->sleepers, 0, memory_order_relaxed);
}

int shoal__lane_init(void *mem, uint32_t capacity, uint32_t record_size)
{
	struct shoal__lane *l = mem;

	if (!capacity_ok(capacity) || !record_size_ok(record_size) ||
	    mem == NULL || ((uintptr_t)mem & 63))
		return -EINVAL;
	memset(l, 0, sizeof(*l));
	l->capacity = capacity;
	l->mask = capacity - 1;
	l->record_size = record_size;
	/* Relaxed: whoever shares the lane publishes it whole, after this
	 * (lane.h: before any other process can see the memory; the
	 * runtime's is its hook, ACT-R1 of actlayout.h). */
	atomic_store_explicit(&l->tail, 0, memory_order_relaxed);
	atomic_store_explicit(&l->head, 0, memory_order_relaxed);
	event_init(&l->doorbell);
	event_init(&l->space);
	l->magic = SHOAL__LANE_MAGIC;
	return 0;
}

struct shoal__lane_view shoal__lane_view_of(void *mem, uint32_t capacity,
					    uint32_t record_size)
{
	return (struct shoal__lane_view){.ring = mem,
					 .capacity = capacity,
					 .mask = capacity - 1,
					 .record_size = record_size};
}

int shoal__lane_open(struct shoal__lane_view *v, void *mem, uint64_t bytes)
{
	struct shoal__lane *l = mem;
	uint32_t capacity, record_size, fill;
	uint64_t need;

	if (mem == NULL || ((uintptr_t)mem & 63) || bytes < sizeof(*l))
		return SHOAL_EBADSEGMENT;
	capacity = l->capacity; /* read once: the view keeps these copies */
	record_size = l->record_size;
	if (l->magic != SHOAL__LANE_MAGIC)
		return SHOAL_EBADSEGMENT;
	need = shoal__lane_bytes(capacity, record_size);
	if (need == 0 || need > bytes || l->mask != capacity - 1)
		return SHOAL_EBADSEGMENT;
	/* Head first, with acquire (LN-A2, pairs with LN-R2): the tail read
	 * after it is at least the tail that head was ever compared against,
	 * so on a sane lane that is running the difference stays in [0,
	 * capacity].  Tail with acquire: LN-A1. */
	fill = (uint32_t)0 - atomic_load_explicit(&l->head, memory_order_acquire);
	fill += atomic_load_explicit(&l->tail, memory_order_acquire); /* LN-A1 */
	if (fill > capacity)
		return SHOAL_EBADSEGMENT;
	*v = shoal__lane_view_of(mem, capacity, record_size);
	return 0;
}

int shoal__lane_check(const void *mem, uint64_t bytes)
{
	struct shoal__lane_view v;

	return shoal__lane_open(&v, (void *)mem, bytes);
}

/* ------------------------------------------------------------------ */
/* Producer                                                           */

static uint8_t *slot_of(const struct shoal__lane_view *l, uint32_t i)
{
	return l->ring->records + (uint64_t)(i & l->mask) * l->record_size;
}

/* Room for one more record at tail t?  Refreshes head_cache from head
 * (LN-A2, or LN-S3 when mo is seq_cst) only when the cache says full. */
static bool has_room(const struct shoal__lane_view *l, uint32_t t, memory_order mo)
{
	uint32_t h;

	if (t - l->ring->head_cache < l->capacity)
		return true;
	h = atomic_load_explicit(&l->ring->head, mo); /* LN-A2 */
	if (t - h > l->capacity)
		return false; /* breaks I2: corrupt, stop (check reports) */
	l->ring->head_cache = h;
	return t - h < l->capacity;
}

void *shoal__lane_reserve(const struct shoal__lane_view *l)
{
	uint32_t t = atomic_load_explicit(&l->ring->tail, memory_order_relaxed);

	return has_room(l, t, memory_order_acquire) ? slot_of(l, t) : NULL; /* LN-A2 */
}

void shoal__lane_publish(const struct shoal__lane_view *l, struct shoal__event *doorbell)
{
	uint32_t t = atomic_load_explicit(&l->ring->tail, memory_order_relaxed);

	atomic_store_explicit(&l->ring->tail, t + 1, memory_order_release); /* LN-R1 */
	shoal__event_signal(doorbell != NULL ? doorbell : &l->ring->doorbell); /* LN-S2 */
}

/* Room now?  Writes nothing (not head_cache): a waiter need not be the
 * producer of the moment (call.c waits outside the producer's lock).
 * Tail relaxed: the producer's own index; a stale one only sends the
 * waiter back to reserve, which finds the lane still full. */
static bool room_now(const struct shoal__lane_view *l, memory_order mo)
{
	uint32_t t = atomic_load_explicit(&l->ring->tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&l->ring->head, mo); /* LN-A2 (LN-S3) */

	return t - h < l->capacity;
}

/* The await callbacks (base/event.h): a re-check with seq_cst loads. */
static bool room_seq_cst(void *arg)
{
	return room_now(arg, memory_order_seq_cst); /* LN-S3 */
}

int shoal__lane_wait_room(const struct shoal__lane_view *l, struct shoal__deadline d,
			  uint32_t spin)
{
	struct shoal__event *ev = &l->ring->space;

	for (uint32_t i = 0; i < spin; i++) {
		if (room_now(l, memory_order_acquire)) /* LN-A2 */
			return 0;
		shoal__cpu_relax();
	}
	for (;;) {
		/* LN-S3: the re-check's seq_cst loads, after the registration. */
		int rc = shoal__event_await(ev, d, spin, &(struct shoal__await){
			.ready = room_seq_cst, .arg = (void *)l});

		if (rc == 1 || room_now(l, memory_order_acquire)) /* LN-A2 */
			return 0;
		if (rc == -ETIMEDOUT)
			return -ETIMEDOUT;
	}
}

/* ------------------------------------------------------------------ */
/* Consumer                                                           */

/* A record of index i, at or after head h (i - h < capacity)?
 * Refreshes tail_cache from tail (LN-A1, or LN-S1 when mo is seq_cst)
 * only when the cache says there is none (or is not sane). */
static bool has_record_at(const struct shoal__lane_view *l, uint32_t h,
			  uint32_t i, memory_order mo)
{
	uint32_t t, n = l->ring->tail_cache - h;

	if (i - h < n && n <= l->capacity)
		return true;
	t = atomic_load_explicit(&l->ring->tail, mo); /* LN-A1 */
	if (t - h > l->capacity)
		return false; /* breaks I2: corrupt, stop (check reports) */
	l->ring->tail_cache = t;
	return i - h < t - h;
}

/* A record at head h? */
static bool has_record(const struct shoal__lane_view *l, uint32_t h, memory_order mo)
{
	return has_record_at(l, h, h, mo);
}

const void *shoal__lane_peek(const struct shoal__lane_view *l)
{
	uint32_t h = atomic_load_explicit(&l->ring->head, memory_order_relaxed);

	return has_record(l, h, memory_order_acquire) ? slot_of(l, h) : NULL; /* LN-A1 */
}

const void *shoal__lane_peek_at(const struct shoal__lane_view *l, uint32_t i)
{
	uint32_t h = atomic_load_explicit(&l->ring->head, memory_order_relaxed);

	if (i - h >= l->capacity)
		return NULL; /* before head, or past any record */
	return has_record_at(l, h, i, memory_order_acquire) ? slot_of(l, i) /* LN-A1 */
							    : NULL;
}

uint32_t shoal__lane_head(const struct shoal__lane_view *l)
{
	return atomic_load_explicit(&l->ring->head, memory_order_relaxed);
}

bool shoal__lane_ready_at(const struct shoal__lane_view *l, uint32_t i)
{
	uint32_t h = atomic_load_explicit(&l->ring->head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&l->ring->tail, memory_order_seq_cst); /* LN-S1 */

	return t - h <= l->capacity && i - h < t - h;
}

void shoal__lane_consume(const struct shoal__lane_view *l)
{
	uint32_t h = atomic_load_explicit(&l->ring->head, memory_order_relaxed);

	atomic_store_explicit(&l->ring->head, h + 1, memory_order_release); /* LN-R2 */
	shoal__event_signal(&l->ring->space); /* LN-S4 */
}

void shoal__lane_consume_quiet(const struct shoal__lane_view *l)
{
	uint32_t h = atomic_load_explicit(&l->ring->head, memory_order_relaxed);

	atomic_store_explicit(&l->ring->head, h + 1, memory_order_release); /* LN-R2 */
}

void shoal__lane_wake_producer(const struct shoal__lane_view *l)
{
	shoal__event_signal(&l->ring->space); /* LN-S4 */
}

bool shoal__lane_ready(const struct shoal__lane_view *l)
{
	uint32_t h = atomic_load_explicit(&l->ring->head, memory_order_relaxed);

	return has_record(l, h, memory_order_seq_cst); /* LN-S1 */
}

static bool lane_ready_cb(void *arg)
{
	return shoal__lane_ready(arg);
}

int shoal__lane_wait_record(const struct shoal__lane_view *l, struct shoal__deadline d,
			    uint32_t spin)
{
	struct shoal__event *ev = &l->ring->doorbell;

	for (uint32_t i = 0; i < spin; i++) {
		if (shoal__lane_peek(l) != NULL)
			return 0;
		shoal__cpu_relax();
	}
	for (;;) {
		/* LN-S1: shoal__lane_ready's seq_cst loads, after the
		 * registration. */
		int rc = shoal__event_await(ev, d, spin, &(struct shoal__await){
			.ready = lane_ready_cb, .arg = (void *)l});

		if (rc == 1 || shoal__lane_peek(l) != NULL)
			return 0;
		if (rc == -ETIMEDOUT)
			return -ETIMEDOUT;
	}
}

/* Relaxed: a hint (MEMORY ORDER above). */
uint32_t shoal__lane_len(const struct shoal__lane_view *l)
{
	uint32_t h = atomic_load_explicit(&l->ring->head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&l->ring->tail, memory_order_relaxed);

	/* Wrapped (stale head read after a newer tail is impossible, but a
	 * corrupt lane) or above capacity: clamp. */
	if (t - h > l->capacity)
		return (int32_t)(t - h) < 0 ? 0 : l->capacity;
	return t - h;
}
