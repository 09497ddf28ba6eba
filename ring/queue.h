/* SPDX-License-Identifier: MIT */
/*
 * ring/queue.h - the run queue (DESIGN.md region 4): its interface and
 * its layout in the segment, like a kernel uapi header.
 *
 * A bounded multi-producer multi-consumer queue of 32-bit items (task
 * references), lock-free, pushed and popped in bulk, with sleeping
 * consumers, and repairable after any process dies at any instruction.
 * queue.c explains the design; this file states the contract.
 *
 * Layout (one region of the segment, 64-byte aligned, no pointers):
 *
 *   line 0   magic, capacity, mask              (read-only after init)
 *   line 1   tail: next position to push        (producers)
 *   line 2   head: next position to pop         (consumers)
 *   line 3   seq, waiters: sleeping consumers   (consumers and producers)
 *   cells    capacity x _Atomic uint64_t: stamp (high 32) | item (low 32)
 *
 * THE CALLER'S INVARIANT.  The queue never loses a published item and
 * never hands one out twice, except across shoal__queue_repair(): a repair
 * may give an item to its `lost` callback that a live consumer also pops
 * (a duplicate), and it may drop a dead consumer's claimed items unless
 * `lost` pushes them again.  So an item must name something whose
 * ownership the caller decides by a CAS of its own (a task record's state
 * word: READY -> RUNNING).  A consumer that loses that CAS drops the item;
 * a duplicate is then harmless, and a lost item comes back through `lost`.
 *
 * Items are any uint32_t except SHOAL__QUEUE_SKIP, which is reserved: the
 * queue uses it to fill positions that were claimed but never published,
 * and pop drops it.
 *
 * Barriers: a push is a release for the caller's writes before it (what
 * the items name), a pop (and the `lost` callback) an acquire: a consumer
 * that pops an item sees everything its producer wrote before pushing it.
 */
#ifndef SHOAL_RUNTIME_QUEUE_H
#define SHOAL_RUNTIME_QUEUE_H

#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "crash.h"
#include "event.h"

#define SHOAL__QUEUE_MAGIC 0x3151524c414f4853ull /* "SHOALRQ1" */
#define SHOAL__QUEUE_SKIP UINT32_MAX
#define SHOAL__QUEUE_MIN_CAPACITY 2u
/* Stamps are compared as int32_t differences: capacity must stay far
 * below 2^31. */
#define SHOAL__QUEUE_MAX_CAPACITY (1u << 30)

static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");

/*
 * The queue in the segment.  Positions are free-running uint64_t; the cell
 * of position p is cells[p & mask].  Who writes what:
 *
 *  magic, capacity, mask   the creator (shoal__queue_init), before any
 *                          other process can see the queue: whoever shares
 *                          it publishes it (not the segment header's
 *                          SEG-R0 for the runtime's queue, laid out after
 *                          the segment is ready: see rtlayout.h);
 *                          read-only afterwards.
 *  tail     CAS by producers claiming positions (relaxed: queue.c, "Memory
 *           order").
 *  head     CAS by consumers claiming positions (relaxed, same reason).
 *  seq      bumped by producers and repair when waiters != 0 (seq_cst:
 *           EV-R1 of base/event.c); consumers sleep on it (futex).
 *  waiters  +1 / -1 by a consumer around its sleep (seq_cst / relaxed).
 *  cells    CAS only: a producer publishes its cell (Q-R1, release), a
 *           consumer releases it for the next round (Q-R2, release), a
 *           repair does either for a dead process; pop, push and repair
 *           read them with acquire loads (Q-A1, Q-A2).
 */
struct shoal__queue {
	/* Line 0: configuration. */
	uint64_t magic;
	uint32_t capacity;            /* power of two, 2 .. MAX_CAPACITY */
	uint32_t mask;                /* capacity - 1 */
	uint8_t pad0_[64 - 16];
	/* Line 1: producers. */
	_Atomic uint64_t tail;
	uint8_t pad1_[64 - 8];
	/* Line 2: consumers. */
	_Atomic uint64_t head;
	uint8_t pad2_[64 - 8];
	/* Line 3: wake line (base/event.c protocol). */
	struct shoal__event wake;
	/* capacity cells; cell i starts as stamp i, item 0 ("free for i"). */
	_Atomic uint64_t cells[];
};

static_assert(sizeof(_Atomic uint64_t) == 8, "a cell is one 8-byte word");
static_assert(offsetof(struct shoal__queue, tail) == 64, "queue layout");
static_assert(offsetof(struct shoal__queue, head) == 128, "queue layout");
static_assert(offsetof(struct shoal__queue, wake) == 192, "queue layout");
static_assert(offsetof(struct shoal__queue, cells) == 256, "queue layout");
static_assert(sizeof(struct shoal__queue) == 256, "queue layout");


/* Bytes of a queue of `capacity` cells (header + cells), or 0 if capacity
 * is not a power of two in [MIN_CAPACITY, MAX_CAPACITY]. */
uint64_t shoal__queue_bytes(uint32_t capacity);

/* Creator only, before any other process can see the memory: lays out a
 * queue of `capacity` cells at mem (64-byte aligned, shoal__queue_bytes()
 * long).  -EINVAL if capacity is not a valid power of two or mem is
 * misaligned. */
int shoal__queue_init(void *mem, uint32_t capacity);

/*
 * A process's handle on a queue: the shared queue and its geometry, read
 * once by shoal__queue_open and never again from the segment, whose
 * capacity and mask words any process that can write it may change: every
 * cell index comes from this copy.  Private; copied freely.
 */
struct shoal__queue_view {
	struct shoal__queue *ring;
	uint32_t capacity;
	uint32_t mask;
};

/* Attach: checks magic and capacity, and that the queue fits in `bytes`
 * (the region's size), then fills *v.  0 or SHOAL_EBADSEGMENT. */
int shoal__queue_open(struct shoal__queue_view *v, void *mem, uint64_t bytes);
/* The same checks, without a view. */
int shoal__queue_check(const void *mem, uint64_t bytes);

/*
 * Any number of producers, in any processes.  Pushes items[0 .. r) in
 * order and returns r <= n; r < n means the queue was full (the caller
 * decides: wait, run a task itself, or fail).  Release (Q-R1): writes before
 * the push are visible to whoever pops or is handed the items.  Wakes the
 * sleeping consumers, if any.  Items equal to SHOAL__QUEUE_SKIP are
 * counted as pushed but never popped.
 */
uint32_t shoal__queue_push(const struct shoal__queue_view *q, const uint32_t *items,
			   uint32_t n);
/* The same, dying at the crash points QUEUE_CLAIMED of c when armed there
 * (c: the pusher's store handle's arming; crash builds only). */
struct shoal__crash;
uint32_t shoal__queue_push_at(const struct shoal__queue_view *q, const uint32_t *items,
			      uint32_t n, struct shoal__crash *c);

/*
 * Any number of consumers, in any processes.  Takes up to `max` items,
 * oldest first, into out and returns how many (0: empty, or the oldest
 * position is claimed but not yet published).  Acquire (Q-A1): pairs with
 * the push that published each item.
 */
uint32_t shoal__queue_pop(const struct shoal__queue_view *q, uint32_t *out, uint32_t max);
/* The same, with the crash points QUEUE_POPPED and QUEUE_TAKEN of c. */
uint32_t shoal__queue_pop_at(const struct shoal__queue_view *q, uint32_t *out, uint32_t max,
			     struct shoal__crash *c);

/* Is the cell at head published (or head stale)?  A hint for a consumer
 * that spins before it waits: no order (relaxed loads), no registration,
 * so a push meanwhile finds no waiter and writes nothing but its cell;
 * pop to know.  Any thread. */
bool shoal__queue_seen(const struct shoal__queue_view *q);

/*
 * For a consumer that found the queue empty: registers as a sleeper,
 * re-checks, and sleeps until a push (or a repair) may have made items
 * available, the deadline, or a spurious wake-up; spins `spin` pauses
 * before sleeping.  Returns 0 (pop again) or -ETIMEDOUT (pop again too,
 * and reap dead processes: a dead producer's claimed position blocks the
 * queue until shoal__queue_repair()).
 */
int shoal__queue_wait(const struct shoal__queue_view *q, struct shoal__deadline d,
		      uint32_t spin);

/* True if the oldest position, *pos, is claimed by a producer and not
 * published yet: every consumer stops there until it is.  A live producer
 * publishes within a few instructions; the same *pos seen twice a watch
 * apart means a producer died (or is stopped) after its claim, and a
 * repair (safe against a live producer: PUSH in queue.c) is due.  A
 * snapshot (relaxed indices, acquire cell load). */
bool shoal__queue_head_unpublished(const struct shoal__queue_view *q, uint64_t *pos);

/* Positions pushed and not yet popped, clamped to [0, capacity]: a hint
 * (relaxed reads of two moving indices). */
uint32_t shoal__queue_len(const struct shoal__queue_view *q);

/*
 * Repair after a process died (whoever reaps it; safe while other
 * processes push and pop, and by several reapers at once):
 *  (a) positions claimed by a producer but never published are published
 *      as SHOAL__QUEUE_SKIP (a live producer that loses that race pushes
 *      its item again);
 *  (b) positions claimed by a consumer whose cell was never released: the
 *      item is passed to lost(ctx, item) (if lost is not NULL), then the
 *      cell is released for the next round.
 * `lost` may see an item that a live consumer also popped, and the same
 * item again if this repair dies and another runs: see the invariant
 * above.  It must not wait for room in this queue: the cells it reports
 * are released only after it returns, so a push from inside `lost` may
 * find the queue full.  Collect the items and push them after repair
 * returns.  Wakes sleeping consumers.
 */
void shoal__queue_repair(const struct shoal__queue_view *q,
			 void (*lost)(void *ctx, uint32_t item), void *ctx);

/*
 * Calls fn(ctx, item) for each item published in the queue now, oldest
 * first, without taking any: at most `capacity` calls.  A snapshot, safe
 * while others push and pop: an item popped meanwhile may still be
 * reported, one pushed meanwhile may be missed.  For a reaper that must
 * tell which items a dead consumer took out of the queue (exec.c).
 */
void shoal__queue_scan(const struct shoal__queue_view *q,
		       void (*fn)(void *ctx, uint32_t item), void *ctx);

#endif /* SHOAL_RUNTIME_QUEUE_H */
