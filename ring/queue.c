/* SPDX-License-Identifier: MIT */
/*
 * ring/queue.c - the run queue: a bounded multi-producer multi-consumer
 * queue of 32-bit items in the segment, lock-free, taken in bulk, with
 * sleeping consumers, repairable after any process dies at any instruction.
 *
 * WHAT
 *
 * Workers pull ready tasks from here; anyone (driver, workers, attached
 * programs, the reaper) pushes.  An item is a task reference.  The queue
 * is an array of `capacity` cells indexed by free-running 64-bit positions
 * (cell of p = cells[p & mask]), after Dmitry Vyukov's bounded MPMC queue
 * (1024cores.net, "Bounded MPMC queue"), with two changes: the sequence
 * stamp and the item share ONE 64-bit word, so a cell changes state by a
 * single CAS (no torn cell, no separate data slot a dead process could leave
 * half written); and producers and consumers claim whole ranges with one
 * CAS on tail or head, as DPDK's rte_ring does.
 *
 * STAMPS
 *
 * A cell word is stamp (high 32 bits) | item (low 32 bits).  For position p
 * (comparisons wrap around on uint32_t, as int32_t differences):
 *
 *   stamp == p           FREE for p (item 0): a producer may claim p
 *   stamp == p + 1       PUBLISHED for p: the item is there
 *   stamp == p + cap     released: FREE for p + cap, the next round
 *
 * Initially cell i is FREE for i.  capacity >= 2 keeps "published for p"
 * and "free for p + cap" apart.  A cell only moves forward through these
 * states, and only by CAS, so whoever CASes from a state it observed is
 * the only one to leave that state.
 *
 * PUSH (any producers).  Read tail t; count the cells from t that are FREE
 * for their positions (stop at the first that is not: the queue is full
 * there, or t is stale); CAS tail from t to t + k.  Tail only grows and is
 * 64 bits wide (no ABA), so the CAS that moves it from t is the only claim
 * of [t, t + k): those positions are ours.  Then publish each cell with a
 * CAS from (p, 0) to (p + 1, item).  Only one other party can touch a FREE
 * claimed cell: a repair, which SKIP-publishes it when it believes the
 * producer dead.  A producer whose publish fails therefore knows its
 * position was skipped: it SKIP-publishes the rest of its range and pushes
 * the unpublished items again from a new claim, so that what push reports
 * pushed is always a prefix of its input.
 *
 * POP (any consumers).  Read head h; read the cells from h while they are
 * PUBLISHED for their positions, copying their items out (at most max);
 * CAS head from h to h + k.  Head is 64-bit and only grows, so that CAS is
 * the only claim of [h, h + k); and while head was h no one could change
 * those cells (only a claimer or a repair of positions below head releases
 * a published cell), so the items read before the CAS are the claimed
 * items.  Reading before claiming is what makes a consumer need no intent
 * record: once it owns a position it already holds the item.  Then release
 * each cell with a CAS from (p + 1, item) to (p + cap, 0); a failed CAS
 * means a repair released it first (and handed the item to `lost`): ignore.
 * SKIP items are dropped; a claim of only SKIPs is retried.
 *
 * INVARIANTS
 *
 *  I1  tail and head only grow; head <= tail (pop claims only published
 *      cells, and only claimed positions are published).
 *  I2  every position in [head, tail) is claimed by a producer; its cell is
 *      FREE (not yet published) or PUBLISHED for it.
 *  I3  a position below head was claimed by one consumer, which held its
 *      item before claiming; its cell is PUBLISHED until released.
 *  I4  a cell still PUBLISHED for p < head implies tail <= p + cap (the
 *      producer of p + cap needs it released), so such cells all lie in
 *      [tail - cap, head).
 *  I5  outside a repair, a published item is popped exactly once: no
 *      state but PUBLISHED lets a consumer read it, and I1/I3 give each
 *      position one claimer.
 *
 * MEMORY ORDER
 *
 * Q- labels; each side, its partner, what the pair makes visible:
 *
 *  Q-R1 (Q-A1)  a producer's publish CAS (release; a repair's SKIP CAS
 *             in (a) too): whatever the producer wrote before pushing
 *             (the task record an item names), not the item, which is in
 *             the word itself.
 *  Q-A1 (Q-R1)  the acquire load of that cell in pop (and in repair's
 *             (b), and a scan's).
 *  Q-R2 (Q-A2)  a consumer's release CAS (release; a repair's in (b)
 *             too): the consumer's head CAS (sequenced before it), as
 *             Q-R1 publishes the producer's tail CAS, and a repair's
 *             CASes publish the indices it read.  So a thread that finds
 *             a cell in a later state than its (stale) index expects
 *             re-reads a newer index: a push or pop never reports full or
 *             empty from a stale view.  (The item itself needs neither:
 *             it is in the cell word, and coherence of that one word
 *             orders each round after the last.)
 *  Q-A2 (Q-R2)  the acquire loads of cells in push and pop.
 *  Q-S1 (Q-S2)  wake-up, base/event.c's protocol (EV-S1): a consumer
 *             increments waiters (seq_cst) and re-reads head and the cell
 *             at head (seq_cst, pop_ready) ...
 *  Q-S2 (Q-S1)  ... a pusher (or a repair) publishes, then
 *             shoal__event_signal() fences (seq_cst, EV-S2) and reads
 *             waiters.  Every push's fence either precedes the consumer's
 *             registration in the single total order S, so the re-check
 *             sees that push's cells, or follows it, so the pusher sees
 *             the registration and wakes.
 *  relaxed    the tail and head loads and claim CASes: ownership follows
 *             from the modification order of one monotonic 64-bit word,
 *             every cell is re-verified by its own stamp (a stale index
 *             only makes a claim CAS fail or a scan stop early, then Q-A2
 *             gives a fresh index), and what a claimer must see of others
 *             travels through the cells (Q-R1, Q-R2).  The waiters
 *             decrement and len(): hints (an extra wake is harmless; a
 *             length is a hint by contract).  The initial stores of
 *             shoal__queue_init: published with the queue (queue.h).

 * CRASH REPAIR
 *
 * Any process may die anywhere; the reaper calls shoal__queue_repair()
 * without knowing what the dead process was doing, while live processes
 * keep pushing and popping.
 *
 *  (a) A producer that died after its tail CAS leaves FREE cells in
 *      [head, tail) that no one will publish: consumers stop there.  The
 *      repair SKIP-publishes every such cell with a CAS from FREE.  If the
 *      producer is in fact alive and slow, exactly one of its publish CAS
 *      and the repair's CAS wins; if the repair wins, the producer pushes
 *      its item again (PUSH above).  Nothing is lost; a SKIP is dropped.
 *
 *  (b) A consumer that died after its head CAS leaves PUBLISHED cells
 *      below head that no one will release: producers stop there (full).
 *      By I4 they lie in [tail - cap, head).  The repair passes each item
 *      to `lost`, then releases the cell with a CAS.  Lost first: a repair
 *      that dies in between leaves the cell PUBLISHED, and the next repair
 *      reports the item again (a duplicate) rather than never.  If the
 *      consumer is alive, it already holds the item (it read it before
 *      claiming), so `lost` yields a duplicate, harmless by the caller's
 *      invariant (queue.h); its own release CAS then fails and is ignored.
 *      The race the design must survive: a live consumer claims, the
 *      repair releases its cell, a producer reuses it for p + cap.  The
 *      consumer does not read the cell after claiming, so it still returns
 *      the original item (also given to `lost`: a duplicate), never the
 *      new one; its release CAS expects stamp p + 1 and fails on the new
 *      round's cell, which it leaves intact.
 *
 * Items a dead consumer had already released are beyond the queue: pop
 * returned them, and the caller must cover the window between pop and its
 * ownership CAS on the task (intent record, or a reaper's sweep of tasks
 * still marked ready).  A dead producer's unclaimed items were never in the
 * queue: its caller did not see them pushed.
 *
 * WAKING
 *
 * A push wakes every sleeping consumer (shoal__event_signal: one seq bump,
 * FUTEX_WAKE of all), and only if one registered (fast path: a fence and a
 * load).  A consumer that spins on the cell at head before it registers
 * (shoal__queue_seen, then shoal__queue_wait with no spin: the worker's
 * head does) costs a push nothing of the wake line.  Sleepers are idle
 * workers, at most about one per CPU, so the herd
 * is small and forms only when the queue goes from empty to not empty while
 * they sleep; losers go back to sleep after one pop.  Waking one would need
 * the woken consumer to pass the wake on when it leaves items behind (a
 * bulk pop is capped by max) and would strand items until a timeout if the
 * woken consumer died before popping.  Wake-all has neither problem.
 *
 * LIMITS
 *
 *  - Stamps are 32 bits: a thread stalled between reading a cell and its
 *    CAS while 2^32 positions pass (only possible if a repair skipped or
 *    released its cell meanwhile) may see its stale stamp match again.
 *    The views such an aliasing can produce (a cell newer than an index
 *    that does not move; head past tail) make push report full and pop
 *    empty instead of spinning; by Q-A2 they are impossible otherwise.
 *  - Every retry loop (a claim's CAS, a stale index re-read, a pop that
 *    found only SKIPs) runs at most SHOAL__QUEUE_RETRIES times, then
 *    reports full or empty.  Between live, well-behaved processes every
 *    retry means another one made progress, so the bound is never met; it
 *    is there for a neighbour that rewrites head or tail without end,
 *    which would otherwise keep a push or a pop spinning for as long as it
 *    runs.
 *  - A producer stalled (not dead) after its claim blocks consumers at its
 *    position until it publishes or a repair skips it, as in every
 *    array-based MPMC queue; consumers' waits time out and reap.
 *  - A consumer that died while registered leaves `waiters` too high:
 *    every later push pays a futex wake syscall.  Harmless otherwise.
 *  - The configuration line is read once, by shoal__queue_open, into a
 *    private struct shoal__queue_view; every operation takes capacity and
 *    mask from the view, so a configuration line scribbled afterwards
 *    changes nothing.
 *  - Order is FIFO by position; items re-pushed by repair go to the back.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <shoal/error.h>

#include "crash.h"
#include "event.h"
#include "queue.h"

/* ------------------------------------------------------------------ */
/* Cells                                                              */

static uint64_t cell_word(uint64_t stamp, uint32_t item)
{
	return (uint64_t)(uint32_t)stamp << 32 | item;
}

static uint32_t word_stamp(uint64_t w)
{
	return (uint32_t)(w >> 32);
}

static uint32_t word_item(uint64_t w)
{
	return (uint32_t)w;
}

/* 0: the word's stamp is `want`; < 0: older; > 0: newer (wraps). */
static int32_t stamp_cmp(uint64_t w, uint64_t want)
{
	return (int32_t)(word_stamp(w) - (uint32_t)want);
}

static _Atomic uint64_t *cell_at(const struct shoal__queue_view *q, uint64_t p)
{
	return &q->ring->cells[p & q->mask];
}

static uint64_t cell_load(const struct shoal__queue_view *q, uint64_t p,
			  memory_order mo)
{
	return atomic_load_explicit(cell_at(q, p), mo);
}

/* mo on success (Q-R1 or Q-R2: the caller's); relaxed on failure: a
 * lost CAS only reports that someone else moved the cell. */
static bool cell_cas(const struct shoal__queue_view *q, uint64_t p, uint64_t from,
		     uint64_t to, memory_order mo)
{
	return atomic_compare_exchange_strong_explicit(cell_at(q, p), &from, to,
						       mo, memory_order_relaxed);
}

/* Q-R1: FREE for p -> PUBLISHED for p.  False if a repair skipped p. */
static bool cell_publish(const struct shoal__queue_view *q, uint64_t p, uint32_t item)
{
	return cell_cas(q, p, cell_word(p, 0), cell_word(p + 1, item),
			memory_order_release); /* Q-R1 */
}

/* Q-R2: PUBLISHED for p (word w) -> FREE for p + cap.  False if someone
 * else released it first. */
static bool cell_release(const struct shoal__queue_view *q, uint64_t p, uint64_t w)
{
	return cell_cas(q, p, w, cell_word(p + q->capacity, 0),
			memory_order_release); /* Q-R2 */
}

/* ------------------------------------------------------------------ */
/* Set-up                                                             */

static bool capacity_ok(uint32_t c)
{
	return c >= SHOAL__QUEUE_MIN_CAPACITY &&
	       c <= SHOAL__QUEUE_MAX_CAPACITY && (c & (c - 1)) == 0;
}

uint64_t shoal__queue_bytes(uint32_t capacity)
{
	if (!capacity_ok(capacity))
		return 0;
	return sizeof(struct shoal__queue) +
	       (uint64_t)capacity * sizeof(_Atomic uint64_t);
}

int shoal__queue_init(void *mem, uint32_t capacity)
{
	struct shoal__queue *q = mem;

	if (!capacity_ok(capacity) || mem == NULL || ((uintptr_t)mem & 63))
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	q->capacity = capacity;
	q->mask = capacity - 1;
	atomic_store_explicit(&q->tail, 0, memory_order_relaxed);
	atomic_store_explicit(&q->head, 0, memory_order_relaxed);
	atomic_store_explicit(&q->wake.seq, 0, memory_order_relaxed);
	atomic_store_explicit(&q->wake.waiters, 0, memory_order_relaxed);
	for (uint32_t i = 0; i < capacity; i++)
		atomic_store_explicit(&q->cells[i], cell_word(i, 0),
				      memory_order_relaxed);
	q->magic = SHOAL__QUEUE_MAGIC;
	return 0;
}

int shoal__queue_open(struct shoal__queue_view *v, void *mem, uint64_t bytes)
{
	struct shoal__queue *q = mem;
	uint32_t capacity;
	uint64_t need;

	if (mem == NULL || ((uintptr_t)mem & 63) || bytes < sizeof(*q))
		return SHOAL_EBADSEGMENT;
	capacity = q->capacity; /* read once: the view keeps this copy */
	if (q->magic != SHOAL__QUEUE_MAGIC)
		return SHOAL_EBADSEGMENT;
	need = shoal__queue_bytes(capacity);
	if (need == 0 || need > bytes || q->mask != capacity - 1)
		return SHOAL_EBADSEGMENT;
	*v = (struct shoal__queue_view){
		.ring = q, .capacity = capacity, .mask = capacity - 1};
	return 0;
}

int shoal__queue_check(const void *mem, uint64_t bytes)
{
	struct shoal__queue_view v;

	return shoal__queue_open(&v, (void *)mem, bytes);
}

/* ------------------------------------------------------------------ */
/* Push                                                               */

#define SHOAL__QUEUE_RETRIES (1u << 20)

/* Cells from t that are FREE for their positions, at most n.  If none,
 * *first says how the cell at t compares (< 0 full, > 0 t is stale). */
static uint32_t count_free(const struct shoal__queue_view *q, uint64_t t, uint32_t n,
			   int32_t *first)
{
	uint32_t k;

	for (k = 0; k < n; k++) {
		int32_t d = stamp_cmp(cell_load(q, t + k, memory_order_acquire),
				      t + k); /* Q-A2 */

		if (d != 0) {
			*first = d;
			break;
		}
	}
	return k;
}

/* Claims up to n FREE positions at the tail: their count (0: full), the
 * first one in *t_out. */
static uint32_t push_claim(const struct shoal__queue_view *q, uint32_t n, uint64_t *t_out)
{
	uint64_t t = atomic_load_explicit(&q->ring->tail, memory_order_relaxed);

	for (uint32_t tries = 0; tries < SHOAL__QUEUE_RETRIES; tries++) {
		int32_t first = 0;
		uint32_t k = count_free(q, t, n, &first);

		if (k == 0) {
			uint64_t now = atomic_load_explicit(&q->ring->tail,
							    memory_order_relaxed);

			if (first < 0 || now == t)
				return 0; /* full at t (now == t: LIMITS) */
			t = now;
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(
			    &q->ring->tail, &t, t + k, memory_order_relaxed,
			    memory_order_relaxed)) {
			*t_out = t;
			return k;
		}
	}
	return 0; /* the tail never held still: LIMITS */
}

/* Publishes items[0 .. k) at [t, t + k).  If a repair skipped position
 * t + j, SKIP-publishes the rest and returns j: items[j ..) go again. */
static uint32_t push_publish(const struct shoal__queue_view *q, uint64_t t,
			     const uint32_t *items, uint32_t k)
{
	uint32_t j = 0;

	while (j < k && cell_publish(q, t + j, items[j]))
		j++;
	for (uint32_t i = j + 1; i < k; i++)
		cell_publish(q, t + i, SHOAL__QUEUE_SKIP); /* may be skipped */
	return j;
}

uint32_t shoal__queue_push(const struct shoal__queue_view *q, const uint32_t *items,
			   uint32_t n)
{
	return shoal__queue_push_at(q, items, n, NULL);
}

uint32_t shoal__queue_push_at(const struct shoal__queue_view *q, const uint32_t *items,
			      uint32_t n, struct shoal__crash *c)
{
	uint32_t done = 0, rounds = 0;
	bool claimed = false;

	while (done < n && rounds++ < SHOAL__QUEUE_RETRIES) {
		uint32_t want = n - done < q->capacity ? n - done : q->capacity;
		uint64_t t;
		uint32_t k = push_claim(q, want, &t);

		if (k == 0)
			break;
		claimed = true;
		SHOAL__CRASH_AT(c, QUEUE_CLAIMED);
		done += push_publish(q, t, items + done, k);
	}
	if (claimed) /* Q-S2: even SKIPs only, a consumer may wait behind them */
		shoal__event_signal(&q->ring->wake);
	return done;
}

/* ------------------------------------------------------------------ */
/* Pop                                                                */

/* Items of the cells from h that are PUBLISHED for their positions, at
 * most max, into out (Q-A1).  If none, *first compares the cell at h with
 * "published for h" (< 0: not yet, > 0: h is stale). */
static uint32_t read_published(const struct shoal__queue_view *q, uint64_t h,
			       uint32_t *out, uint32_t max, int32_t *first)
{
	uint32_t k;

	for (k = 0; k < max; k++) {
		uint64_t w = cell_load(q, h + k, memory_order_acquire); /* Q-A1, Q-A2 */
		int32_t d = stamp_cmp(w, h + k + 1);

		if (d != 0) {
			*first = d;
			break;
		}
		out[k] = word_item(w);
	}
	return k;
}

/* Claims up to max published positions at the head, their items already
 * in out: their count (0: empty), the first one in *h_out. */
static uint32_t pop_claim(const struct shoal__queue_view *q, uint32_t *out, uint32_t max,
			  uint64_t *h_out)
{
	uint64_t h = atomic_load_explicit(&q->ring->head, memory_order_relaxed);

	for (uint32_t tries = 0; tries < SHOAL__QUEUE_RETRIES; tries++) {
		int32_t first = 0;
		uint32_t k = read_published(q, h, out, max, &first);

		if (k == 0) {
			uint64_t now = atomic_load_explicit(&q->ring->head,
							    memory_order_relaxed);

			if (first < 0 || now == h)
				return 0; /* empty at h (now == h: LIMITS) */
			h = now;
			continue;
		}
		if (atomic_compare_exchange_weak_explicit(
			    &q->ring->head, &h, h + k, memory_order_relaxed,
			    memory_order_relaxed)) {
			*h_out = h;
			return k;
		}
	}
	return 0; /* the head never held still: LIMITS */
}

/* Releases the k claimed cells from h and drops SKIPs from out: the number
 * of items left in out. */
static uint32_t pop_release(const struct shoal__queue_view *q, uint64_t h, uint32_t *out,
			    uint32_t k)
{
	uint32_t kept = 0;

	for (uint32_t i = 0; i < k; i++) {
		cell_release(q, h + i, cell_word(h + i + 1, out[i]));
		if (out[i] != SHOAL__QUEUE_SKIP)
			out[kept++] = out[i];
	}
	return kept;
}

uint32_t shoal__queue_pop(const struct shoal__queue_view *q, uint32_t *out, uint32_t max)
{
	return shoal__queue_pop_at(q, out, max, NULL);
}

uint32_t shoal__queue_pop_at(const struct shoal__queue_view *q, uint32_t *out, uint32_t max,
			     struct shoal__crash *c)
{
	uint32_t got = 0, rounds = 0;

	if (max > q->capacity)
		max = q->capacity;
	while (got == 0 && rounds++ < SHOAL__QUEUE_RETRIES) {
		uint64_t h;
		uint32_t k = pop_claim(q, out, max, &h);

		if (k == 0)
			break;
		SHOAL__CRASH_AT(c, QUEUE_POPPED);
		got = pop_release(q, h, out, k);
	}
	if (got)
		SHOAL__CRASH_AT(c, QUEUE_TAKEN);
	return got;
}

/* ------------------------------------------------------------------ */
/* Waiting                                                            */

/* The re-check half of Q-S1: is the cell at head published (seq_cst
 * loads)?  An inconsistent view (head stale twice) counts as ready: the
 * caller pops again rather than sleeping on it. */
static bool pop_ready(const struct shoal__queue_view *q)
{
	uint64_t h = atomic_load_explicit(&q->ring->head, memory_order_seq_cst);
	int32_t d = stamp_cmp(cell_load(q, h, memory_order_seq_cst), h + 1);

	if (d <= 0)
		return d == 0;
	/* Q-S1 again: head was stale; both read anew. */
	h = atomic_load_explicit(&q->ring->head, memory_order_seq_cst);
	return stamp_cmp(cell_load(q, h, memory_order_seq_cst), h + 1) >= 0;
}

static bool pop_ready_cb(void *arg)
{
	return pop_ready(arg);
}

/* Relaxed, both loads: a hint (queue.h); the pop that follows reads the
 * cell again (Q-A1). */
bool shoal__queue_seen(const struct shoal__queue_view *q)
{
	uint64_t h = atomic_load_explicit(&q->ring->head, memory_order_relaxed);

	return stamp_cmp(cell_load(q, h, memory_order_relaxed), h + 1) >= 0;
}

int shoal__queue_wait(const struct shoal__queue_view *q, struct shoal__deadline d,
		      uint32_t spin)
{
	/* Q-S1: pop_ready's seq_cst loads, after the registration; seq
	 * publishes nothing we rely on: the cells are re-checked. */
	int rc = shoal__event_await(&q->ring->wake, d, spin, &(struct shoal__await){
		.ready = pop_ready_cb, .arg = (void *)q});

	return rc == 1 ? 0 : rc;
}

bool shoal__queue_head_unpublished(const struct shoal__queue_view *q, uint64_t *pos)
{
	uint64_t h = atomic_load_explicit(&q->ring->head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&q->ring->tail, memory_order_relaxed);

	/* Relaxed indices: a hint, as len(); the cell's acquire is Q-A2
	 * (the release that freed it for h). */
	if (h >= t || stamp_cmp(cell_load(q, h, memory_order_acquire), h) != 0)
		return false;
	*pos = h;
	return true;
}

uint32_t shoal__queue_len(const struct shoal__queue_view *q)
{
	uint64_t h = atomic_load_explicit(&q->ring->head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&q->ring->tail, memory_order_relaxed);

	if (t <= h)
		return 0;
	return t - h > q->capacity ? q->capacity : (uint32_t)(t - h);
}

/* ------------------------------------------------------------------ */
/* Repair                                                             */

/* (a) SKIP-publishes every position in [h, t) whose cell is still FREE
 * for it (claimed, never published). */
static void repair_unpublished(const struct shoal__queue_view *q, uint64_t h, uint64_t t)
{
	if (t - h > q->capacity) /* inconsistent view: no more than a round */
		h = t - q->capacity;
	for (uint64_t p = h; p < t; p++) {
		uint64_t w = cell_load(q, p, memory_order_relaxed);

		if (stamp_cmp(w, p) == 0) /* any item: robust to garbage */
			cell_cas(q, p, w, cell_word(p + 1, SHOAL__QUEUE_SKIP),
				 memory_order_release); /* Q-R1 */
	}
}

/* (b) Reports and releases every position in [lo, h) whose cell is still
 * PUBLISHED for it (claimed by a consumer, never released). */
static void repair_unreleased(const struct shoal__queue_view *q, uint64_t lo, uint64_t h,
			      void (*lost)(void *, uint32_t), void *ctx)
{
	for (uint64_t p = lo; p < h; p++) {
		uint64_t w = cell_load(q, p, memory_order_acquire); /* Q-A1 */

		if (stamp_cmp(w, p + 1) != 0)
			continue;
		if (lost != NULL && word_item(w) != SHOAL__QUEUE_SKIP)
			lost(ctx, word_item(w));
		cell_release(q, p, w);
	}
}

/*
 * Relaxed index loads: the reaper learned of the death through the kernel
 * (waitpid, a pidfd), after the dead process's last store, so it sees the
 * dead process's claims; claims of live processes it misses are theirs to
 * complete.  Head first: then tail >= head in any sane view.
 */
void shoal__queue_repair(const struct shoal__queue_view *q,
			 void (*lost)(void *ctx, uint32_t item), void *ctx)
{
	uint64_t h = atomic_load_explicit(&q->ring->head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&q->ring->tail, memory_order_relaxed);
	uint64_t lo = t > q->capacity ? t - q->capacity : 0;

	if (h < t)
		repair_unpublished(q, h, t);
	if (lo < h && h - lo > q->capacity) /* h > t: inconsistent view */
		lo = h - q->capacity;
	if (lo < h)
		repair_unreleased(q, lo, h, lost, ctx);
	shoal__event_signal(&q->ring->wake); /* Q-S2 */
}

/* ------------------------------------------------------------------ */
/* Scan                                                               */

/*
 * Every item published in [head, tail) now, SKIPs left out.  Relaxed
 * index loads and acquire cell loads (Q-A1): a snapshot that races with
 * pushes and pops, which the caller's invariant absorbs (queue.h).  At
 * most one round of cells: bounded whatever the indices say.
 */
void shoal__queue_scan(const struct shoal__queue_view *q,
		       void (*fn)(void *ctx, uint32_t item), void *ctx)
{
	uint64_t h = atomic_load_explicit(&q->ring->head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&q->ring->tail, memory_order_relaxed);

	if (t <= h)
		return;
	if (t - h > q->capacity) /* inconsistent view: no more than a round */
		h = t - q->capacity;
	for (uint64_t p = h; p < t; p++) {
		uint64_t w = cell_load(q, p, memory_order_acquire); /* Q-A1 */

		if (stamp_cmp(w, p + 1) == 0 && word_item(w) != SHOAL__QUEUE_SKIP)
			fn(ctx, word_item(w));
	}
}
