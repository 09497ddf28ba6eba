/* SPDX-License-Identifier: MIT */
/*
 * ring/lane.h - an actor call lane (DESIGN.md region 5): its interface
 * and its layout in the segment, like a kernel uapi header.
 *
 * A lane is a single-producer single-consumer ring of fixed-size records
 * from ONE calling process (whose threads serialise on a process-local
 * lock of the caller's) to ONE actor process.  Records are opaque bytes
 * to the lane.  lane.c explains the design; this file states the contract.
 *
 * Layout (one region of the segment, 64-byte aligned, no pointers):
 *
 *   line 0   magic, capacity, mask, record size  (read-only after init)
 *   line 1   tail, cached head                   (the producer)
 *   line 2   head, cached tail                   (the consumer)
 *   line 3   doorbell: the consumer sleeps on it (both sides)
 *   line 4   space: the producer sleeps on it    (both sides)
 *   records  capacity x record_size bytes
 *
 * Concurrency: one producer and one consumer at a time, in any processes
 * (a replacement may take over a dead one's side).  Barriers: publish is a
 * release for the record's bytes (and everything written before it), peek
 * an acquire; consume is a release for the consumer's reads of the record,
 * and reserve's refresh of head the matching acquire, so the producer never
 * overwrites a record the consumer is still reading.
 *
 * Crash: a dead caller's unpublished record is simply never seen; a dead
 * consumer's unconsumed record is seen again by its replacement
 * (at-least-once: the actor layer decides what a repeat means).
 */
#ifndef SHOAL_RUNTIME_LANE_H
#define SHOAL_RUNTIME_LANE_H

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crash.h"
#include "event.h"

#define SHOAL__LANE_MAGIC 0x314e414c4c414f48ull /* "HOALLAN1" */
#define SHOAL__LANE_MIN_CAPACITY 2u
#define SHOAL__LANE_MAX_CAPACITY 65536u
#define SHOAL__LANE_MIN_RECORD 64u
#define SHOAL__LANE_MAX_RECORD 65536u

static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");

/*
 * The lane in the segment.  Indices are free-running uint32_t; the record
 * of index i is records[(i & mask) * record_size].  With capacity <= 2^16,
 * tail - head (mod 2^32) is the fill level; anything above capacity is a
 * corrupt or foreign lane.  Who writes what:
 *
 *  magic, capacity, mask, record_size   the creator (shoal__lane_init),
 *           before any other process can see the lane: whoever shares it
 *           publishes it (the runtime: its hook, ACT-R1 of actlayout.h);
 *           read-only afterwards.
 *  tail         the producer only: release store in publish (LN-R1 of
 *               lane.c); the consumer loads it with acquire (LN-A1) or
 *               seq_cst (LN-S1).
 *  head_cache   the producer only, plain: the last head it loaded (never
 *               ahead of head, so it can only underestimate the room).
 *  head         the consumer only: release store in consume (LN-R2); the
 *               producer loads it with acquire (LN-A2) or seq_cst (LN-S3).
 *  tail_cache   the consumer only, plain: the last tail it loaded (never
 *               ahead of tail, never behind head).
 *  doorbell     base/event.c's event: the consumer registers and sleeps,
 *               publish signals it (when the lane's own doorbell is used).
 *  space        base/event.c's event: the producer registers and sleeps,
 *               consume signals it.
 *  records      slot tail & mask: the producer, between reserve and
 *               publish; slot head & mask: read by the consumer between
 *               peek and consume.  Ordered by LN-R1/LN-A1 and
 *               LN-R2/LN-A2.
 */
struct shoal__lane {
	/* Line 0: configuration. */
	uint64_t magic;
	uint32_t capacity;            /* power of two, 2 .. MAX_CAPACITY */
	uint32_t mask;                /* capacity - 1 */
	uint32_t record_size;         /* multiple of 64, MIN .. MAX_RECORD */
	uint8_t pad0_[64 - 20];
	/* Line 1: the producer's. */
	_Atomic uint32_t tail;
	uint32_t head_cache;
	uint8_t pad1_[64 - 8];
	/* Line 2: the consumer's. */
	_Atomic uint32_t head;
	uint32_t tail_cache;
	uint8_t pad2_[64 - 8];
	/* Line 3: the consumer sleeps here when the lane is empty. */
	struct shoal__event doorbell;
	/* Line 4: the producer sleeps here when the lane is full. */
	struct shoal__event space;
	/* capacity x record_size bytes, 64-byte aligned. */
	uint8_t records[];
};

static_assert(sizeof(_Atomic uint32_t) == 4, "indices are 4-byte words");
static_assert(sizeof(struct shoal__event) == 64, "an event is one line");
static_assert(offsetof(struct shoal__lane, tail) == 64, "lane layout");
static_assert(offsetof(struct shoal__lane, head) == 128, "lane layout");
static_assert(offsetof(struct shoal__lane, doorbell) == 192, "lane layout");
static_assert(offsetof(struct shoal__lane, space) == 256, "lane layout");
static_assert(offsetof(struct shoal__lane, records) == 320, "lane layout");
static_assert(sizeof(struct shoal__lane) == 320, "lane layout");


/* Bytes of a lane (header + records), or 0 if capacity is not a power of
 * two in [MIN_CAPACITY, MAX_CAPACITY] or record_size not a multiple of 64
 * in [MIN_RECORD, MAX_RECORD]. */
uint64_t shoal__lane_bytes(uint32_t capacity, uint32_t record_size);

/* Creator only, before any other process can see the memory: lays out an
 * empty lane at mem (64-byte aligned, shoal__lane_bytes() long).  -EINVAL
 * for a bad capacity, record size or alignment.  Record bytes are left as
 * they are. */
int shoal__lane_init(void *mem, uint32_t capacity, uint32_t record_size);

/* Attach (and after a crash): checks magic, configuration, that the lane
 * fits in `bytes`, and that 0 <= tail - head <= capacity.  0 or
 * SHOAL_EBADSEGMENT.  A lane that fails the index check behaves as full
 * to the producer and empty to the consumer: it never reads out of
 * bounds, it just stops. */
int shoal__lane_check(const void *mem, uint64_t bytes);

/*
 * A process's handle on a lane: the shared lane and its geometry, never
 * read again from the segment, whose configuration words any process that
 * can write it may change: every record's address comes from this copy.
 * Private; copied freely.  shoal__lane_open reads the geometry once from
 * the lane and checks it (as shoal__lane_check); shoal__lane_view_of takes
 * geometry the caller already holds privately (the runtime's, checked at
 * its attach) and reads nothing.
 */
struct shoal__lane_view {
	struct shoal__lane *ring;
	uint32_t capacity;
	uint32_t mask;
	uint32_t record_size;
};
int shoal__lane_open(struct shoal__lane_view *v, void *mem, uint64_t bytes);
struct shoal__lane_view shoal__lane_view_of(void *mem, uint32_t capacity,
					    uint32_t record_size);

/* ---- Producer (one at a time) ----------------------------------- */

/* The slot of the next record (record_size bytes, 64-byte aligned, the
 * old contents undefined), or NULL if the lane is full (or corrupt).  Does
 * not change the lane: reserving again before publish returns the same
 * slot.  Reads head (LN-A2) only when its cached copy says full. */
void *shoal__lane_reserve(const struct shoal__lane_view *l);

/* Publishes the record reserve returned (release store of tail, LN-R1), then
 * signals `doorbell` (NULL: the lane's own), which costs a fence and a
 * load, and a system call only if the consumer sleeps.  Only after a
 * reserve that returned a slot. */
void shoal__lane_publish(const struct shoal__lane_view *l, struct shoal__event *doorbell);

/* For a producer that found the lane full: spins up to `spin` pauses
 * re-checking, then registers on `space`, re-checks, and sleeps, until
 * there is room or the deadline.  0 (there was room; another thread of
 * the producer's process may take it first) or -ETIMEDOUT (also what a
 * corrupt lane gives).  It writes nothing of the producer's, so any
 * thread may wait while another produces.  A dead consumer never
 * signals: use a finite deadline and reap when it passes. */
int shoal__lane_wait_room(const struct shoal__lane_view *l, struct shoal__deadline d,
			  uint32_t spin);

/* ---- Consumer (one at a time) ----------------------------------- */

/* The oldest unconsumed record, or NULL if none (or the lane is corrupt).
 * Acquire (LN-A1): the record's bytes are the producer's.  Peeking again
 * before consume returns the same record. */
const void *shoal__lane_peek(const struct shoal__lane_view *l);

/*
 * The record of index i (a free-running index: head is the oldest), if
 * head <= i < tail, else NULL: peek for a consumer that works on several
 * records at once and consumes them later, in order (a threaded actor:
 * runtime/proc/actorrun.c).  Acquire (LN-A1) when it refreshes its copy
 * of tail.  The records from head to i stay the consumer's until it
 * consumes them.  Writes only the consumer's cache: one caller at a time
 * (the consumer's lock).
 */
const void *shoal__lane_peek_at(const struct shoal__lane_view *l, uint32_t i);

/* The index of the oldest unconsumed record (relaxed: the consumer's own
 * index; the consumer's side only). */
uint32_t shoal__lane_head(const struct shoal__lane_view *l);

/* As shoal__lane_ready for a record of index i (head <= i): a seq_cst
 * load of tail (LN-S1) and a relaxed one of head (the consumer's own
 * index).  Writes nothing, so any thread of the consumer may re-check
 * while another consumes. */
bool shoal__lane_ready_at(const struct shoal__lane_view *l, uint32_t i);

/* Done with the peeked record (release store of head, LN-R2; after it the
 * record's bytes may be overwritten), then signals the space event.  Only
 * after a peek that returned a record. */
void shoal__lane_consume(const struct shoal__lane_view *l);

/*
 * The re-check of a consumer that sleeps on a doorbell, after it
 * registered (seq_cst increment of the doorbell's waiters): true if a
 * record is published (seq_cst load of tail, LN-S1).  An actor that serves
 * many lanes sharing one doorbell `db` waits like this:
 *
 *	seen = shoal__event_seen(db);
 *	atomic_fetch_add_explicit(&db->waiters, 1, memory_order_seq_cst);
 *	if (no lane is shoal__lane_ready())
 *		rc = shoal__event_wait(db, seen, d, spin);
 *	atomic_fetch_sub_explicit(&db->waiters, 1, memory_order_relaxed);
 *
 * and its callers publish with shoal__lane_publish(l, db).
 */
bool shoal__lane_ready(const struct shoal__lane_view *l);

/* consume without the signal, for a consumer that takes several records
 * in a row: it calls shoal__lane_wake_producer() after the last one (the
 * LN-S4 side then), so a producer asleep for room waits at most one
 * batch. */
void shoal__lane_consume_quiet(const struct shoal__lane_view *l);
void shoal__lane_wake_producer(const struct shoal__lane_view *l);

/* For a consumer of this one lane that found it empty (the lane's own
 * doorbell, as above): 0 (peek again) or -ETIMEDOUT.  A producer that died
 * between its publish and its signal leaves the record unannounced: a
 * finite deadline finds it. */
int shoal__lane_wait_record(const struct shoal__lane_view *l, struct shoal__deadline d,
			    uint32_t spin);

/* Records published and not yet consumed, clamped to [0, capacity]: a
 * hint (relaxed loads of two moving indices). */
uint32_t shoal__lane_len(const struct shoal__lane_view *l);

#endif /* SHOAL_RUNTIME_LANE_H */
