/* SPDX-License-Identifier: MIT */
/*
 * store/dir.c - the object directory: a fixed-capacity open-addressed table
 * in the segment, keyed by 16-byte object ID.
 *
 * Shape.  dir_slots (a power of two, at least 4 x max_objects) entries of
 * one cache line each, linear probing from the ID's home slot within a
 * bounded window of SHOAL__PROBE_MAX slots.  probe[home] records the
 * longest distance at which an entry with that home was ever placed (plus
 * one), so lookups read probe[home] slots at most; it only grows.
 *
 * States (layout.h).  EMPTY slots were never used and end every chain.
 * FREE slots were used and hold no ID.  CREATED/SEALED entries are live;
 * EVICTED/DELETED entries are tombstones that keep their ID so that a get
 * answers "evicted"/"deleted" instead of waiting.  A slot is reusable when
 * it is EMPTY, FREE, or a tombstone whose pins and holds are both zero
 * (a deleted object some process still holds keeps its slot until the
 * last drop, so that a ledger's index never names a reused entry).
 * At most one live entry exists per ID; several tombstones may.
 *
 * Writers.  Only a process holding the insert lock of a slot's stripe
 * (64 consecutive slots; a window spans two stripes, locked in index order)
 * may turn a reusable slot into a live entry; everything else (pin, hold,
 * seal, evict, delete, free) is a CAS on the entry's control word and takes
 * no lock.  Readers never lock.  A stripe lock word holds its owner's
 * process slot + 1, so that a reaper can release the lock of a dead owner
 * (reaping is the only way a lock held by a dead process is broken).
 *
 * Reading an ID (ENT-R1 -> ENT-A1 of layout.h, a seqlock on the control
 * word): the inserter claims the slot with a CAS that changes its state,
 * issues a release fence and only then writes id_hi/id_lo; a reader loads
 * ctl (acquire), the two halves (relaxed), issues an acquire fence and
 * reloads ctl.  If the reader
 * saw a new half, the fences order the claim before its second load, so the
 * state/generation it compares differs: it retries instead of trusting a
 * torn or foreign ID.
 */
#include <errno.h>
#include <sched.h>

#include "internal.h"

#define SHOAL__CTL_IDENT (SHOAL__CTL_STATE_MASK | \
	((uint64_t)SHOAL__CTL_GEN_MASK << SHOAL__CTL_GEN_SHIFT))

/*
 * An ID's home slot, a pure function of the ID.  The owner's half of the
 * ID (node and owner, not the return index) and the ID's window class k
 * (lo's top SHOAL__WIN_BITS bits) are hashed to a base; the counter then
 * walks from there, SHOAL__DIR_STRIDE slots per ID, and return i sits i
 * slots further.  IDs one process makes in a row (shoal_id_next: a task's
 * or call's results, puts) so land next to each other, which the
 * processes that create, fill, get and free them in a row find in cache
 * and in the TLB.
 *
 * Walk window.  With k = 0 the walk covers the whole table (IDs a caller
 * derives, and the old walk).  With k > 0 the counter folds into a window
 * of 2^(SHOAL__WIN_LOG0 + k) slots (capped by the table), so a process's
 * run comes back to directory pages it has already mapped instead of
 * meeting a new page every 16 IDs: a process's first touch of a segment
 * page costs 10-30 us on a virtualised guest, faults in bulk
 * (MADV_POPULATE_WRITE, fault-around) as much per page.  Each class has
 * its own base, so a window grown out of a crowded one starts on clean
 * slots.  shoal_id_next picks k (shoal__dir_win_note): a window at least
 * twice as many IDs wide as the records the process holds, and raised
 * for the rest of the process's slot when its window shows crowded (the
 * objects it made but no longer holds fill the window too): one of its
 * IDs had to probe SHOAL__WIN_CROWDED slots (a pile at one home), or most
 * of a quarter window's IDs found their home taken (the run before left
 * its objects live).  Both come long before a chain reaches
 * SHOAL__PROBE_MAX: a lap over a window of live objects takes one slot
 * of each group of SHOAL__DIR_STRIDE.  A create that finds its chain full
 * anyway fails (-ENOSPC, as with a full table) and moves the IDs after it
 * on.  Random IDs have a random counter and class: a random home.
 */
#define SHOAL__DIR_STRIDE 4u
#define SHOAL__WIN_CROWDED (SHOAL__PROBE_MAX / 4)

unsigned shoal__id_win(shoal_id id)
{
	return (unsigned)(id.lo >> SHOAL__WIN_SHIFT);
}

uint32_t shoal__dir_home(const struct shoal_store *s, shoal_id id)
{
	unsigned k = shoal__id_win(id);
	uint64_t x = (id.hi & ~(0xffffull << 32)) | ((uint64_t)k << 32);
	uint64_t step = id.lo * SHOAL__DIR_STRIDE;

	if (k && SHOAL__WIN_LOG0 + k < 64)
		step &= (1ull << (SHOAL__WIN_LOG0 + k)) - 1;
	x *= 0x9e3779b97f4a7c15ull;
	x ^= x >> 29;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	return (uint32_t)(x + step + shoal_id_index(id)) & s->dir_mask;
}

/* Slots in class k's window (k > 0), the table at most. */
static uint64_t shoal__win_slots(const struct shoal_store *s, unsigned k)
{
	uint64_t table = (uint64_t)s->dir_mask + 1;

	return SHOAL__WIN_LOG0 + k < 64 && (1ull << (SHOAL__WIN_LOG0 + k)) < table
		       ? 1ull << (SHOAL__WIN_LOG0 + k) : table;
}

/* The smallest class whose window holds 2 x used IDs (at least 1). */
static unsigned shoal__win_for(uint32_t used)
{
	uint64_t slots = (uint64_t)used * 2 * SHOAL__DIR_STRIDE;
	unsigned k = 1;

	while (SHOAL__WIN_LOG0 + k < 40 && (1ull << (SHOAL__WIN_LOG0 + k)) < slots)
		k++;
	return k;
}

/* Whether an insert at distance d shows class k's window crowded: d
 * alone (a pile at one home), or, over a quarter window's inserts, most
 * homes taken (what the IDs of the run before left live and unheld). */
static bool shoal__win_crowded(struct shoal_store *s, unsigned k, uint32_t d)
{
	uint64_t ids = shoal__win_slots(s, k) / SHOAL__DIR_STRIDE;
	bool most;

	s->win.hits += d != 0;
	if (d >= SHOAL__WIN_CROWDED)
		return true;
	if (++s->win.seen < ids / 4)
		return false;
	most = s->win.hits * 2 > s->win.seen;
	s->win.seen = s->win.hits = 0;
	return most;
}

/* Under the process lock, after id was placed dist slots past its home
 * (SHOAL__PROBE_MAX: not placed, the chain was full): the class the next
 * shoal_id_next IDs take.  Relaxed, the load (our own store, under the
 * same lock) and the store: the class is a hint, any value makes a valid
 * ID (shoal_id_next). */
void shoal__dir_win_note(struct shoal_store *s, shoal_id id, uint32_t dist)
{
	unsigned k = shoal__id_win(id), want;
	unsigned cur = atomic_load_explicit(&s->id_win, memory_order_relaxed);

	if (k == cur && k > 0 && k < SHOAL__WIN_MAX &&
	    shoal__win_slots(s, k) <= s->dir_mask &&
	    shoal__win_crowded(s, k, dist) &&
	    k >= s->win.floor)
		s->win.floor = k + 1;
	want = shoal__win_for(s->ledger_used);
	if (want < s->win.floor)
		want = s->win.floor;
	if (want != cur) {
		s->win.seen = s->win.hits = 0;
		atomic_store_explicit(&s->id_win, want, memory_order_relaxed);
	}
}

/* Every 16th slot of the run the next n IDs of first's owner walk from
 * first's home (SHOAL__DIR_STRIDE each: 4 loads a page; within first's
 * window), and every 1024th probe byte.  Relaxed: nothing is read for its
 * value. */
void shoal__store_warm_ids(const struct shoal_store *s, shoal_id first,
			   uint32_t n)
{
	uint64_t ids = (uint64_t)s->dir_mask / SHOAL__DIR_STRIDE + 1;

	if (n < ids)
		ids = n;
	for (uint64_t j = 0; j < ids; j += 16 / SHOAL__DIR_STRIDE) {
		shoal_id id = {.hi = first.hi, .lo = first.lo + j};
		uint32_t at = shoal__dir_home(s, id);

		(void)atomic_load_explicit(&s->dir[at].ctl, memory_order_relaxed);
		if (j % (1024 / SHOAL__DIR_STRIDE) == 0)
			(void)atomic_load_explicit(&s->probe[at], memory_order_relaxed);
	}
}

/* Reads an entry's ID consistently with ctl (ENT-A1).  Returns the ctl
 * value the ID belongs to. */
uint64_t shoal__dir_read_id(const struct shoal__entry *e, shoal_id *id)
{
	uint64_t c1, c2;

	for (;;) {
		/* ENT-A1 (and ENT-A2 for a live word): load, relaxed halves,
		 * fence, reload; the reload is ordered by the fence. */
		c1 = atomic_load_explicit(&e->ctl, memory_order_acquire);
		id->hi = atomic_load_explicit(&e->id_hi, memory_order_relaxed);
		id->lo = atomic_load_explicit(&e->id_lo, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire); /* ENT-A1 */
		c2 = atomic_load_explicit(&e->ctl, memory_order_relaxed);
		if (((c1 ^ c2) & SHOAL__CTL_IDENT) == 0)
			return c2;
	}
}

static bool shoal__live(unsigned st)
{
	return st == SHOAL__E_CREATED || st == SHOAL__E_SEALED;
}

static bool shoal__has_id(unsigned st)
{
	return st >= SHOAL__E_CREATED;
}

/* True if this process's ledger records a hold on entry i (s->lock). */
static bool shoal__held_here(const struct shoal_store *s, uint32_t i)
{
	return SHOAL__LEDGER_HOLDS(shoal__ledger_lookup(s->ledger,
							s->ledger_mask, i)) != 0;
}

/* Scans the home's chain: the live entry for id wins, else the first
 * tombstone for it.  With `held` (a drop's lookup), an entry this process
 * holds wins over one it does not: an ID deleted while held and created
 * again has a live entry and a tombstone, or several tombstones, and a
 * drop must find the one its hold is on. */
static int shoal__dir_scan(const struct shoal_store *s, shoal_id id,
			   bool held, uint64_t *ctl_out)
{
	uint32_t h = shoal__dir_home(s, id);
	/* Relaxed: a stale length is covered as in shoal__dir_reserve. */
	uint32_t n = atomic_load_explicit(&s->probe[h], memory_order_relaxed);
	int best = -ENOENT;
	/* of best: 1 a tombstone, 2 the live entry, 3 a tombstone held
	 * here, 4 the live entry held here (or any live entry, without
	 * `held`): nothing beats it */
	unsigned rank = 0;
	uint64_t best_ctl = 0;

	for (uint32_t d = 0; d < n && rank < 4; d++) {
		uint32_t i = (h + d) & s->dir_mask;
		const struct shoal__entry *e = &s->dir[i];
		/* ENT-A2 */
		uint64_t c = atomic_load_explicit(&e->ctl, memory_order_acquire);
		shoal_id got;
		unsigned r;

		if (SHOAL__CTL_STATE(c) == SHOAL__E_EMPTY)
			break;
		if (!shoal__has_id(SHOAL__CTL_STATE(c)))
			continue;
		c = shoal__dir_read_id(e, &got);
		if (!shoal__has_id(SHOAL__CTL_STATE(c)) || !shoal_id_eq(got, id))
			continue;
		r = shoal__live(SHOAL__CTL_STATE(c)) ? 2 : 1;
		if (!held ? r == 2 : shoal__held_here(s, i))
			r += 2;
		if (r > rank) {
			best = (int)i;
			best_ctl = c;
			rank = r;
		}
	}
	if (best >= 0)
		*ctl_out = best_ctl;
	return best;
}

int shoal__dir_lookup(const struct shoal_store *s, shoal_id id,
		      uint64_t *ctl_out)
{
	return shoal__dir_scan(s, id, false, ctl_out);
}

int shoal__dir_lookup_held(const struct shoal_store *s, shoal_id id,
			   uint64_t *ctl_out)
{
	return shoal__dir_scan(s, id, true, ctl_out);
}

static uint32_t shoal__stripe_of(const struct shoal_store *s, uint32_t slot)
{
	return (slot & s->dir_mask) / SHOAL__STRIPE_SLOTS;
}

/*
 * Waits for a stripe lock.  A lock is only held across shoal__publish
 * (reserve, ledger add, publish: no wait inside), so a live holder lets
 * go within its own progress; a dead one (the lock word names its slot,
 * proc.c's death test) is reaped, and its reaper releases every stripe
 * lock of the slot; one no reap can take now (its reap guard holds it,
 * guard.c, or its reap stopped at a wait) is waited for like a live one.
 * A word that names no process slot, or names ours
 * (we hold no lock when we ask for one), was scribbled on:
 * SHOAL_EBADSEGMENT at once.  And the wait ends at the caller's deadline
 * d (-ETIMEDOUT): a holder stopped for good, or a scribbled word that
 * names a live process, costs the caller its timeout, not for ever (the
 * clock is read only once the spinning is over: an uncontended lock
 * costs no clock read).
 */
static int shoal__stripe_lock(struct shoal_store *s, uint32_t stripe,
			      struct shoal__later *d)
{
	uint32_t me = s->slot + 1;

	for (uint32_t spins = 0;; spins++) {
		uint32_t v = 0;
		/* ENT-A3: pairs with ENT-R3 (stripe_unlock, a reaper's
		 * release), so the previous holder's entry writes are visible
		 * to our scan.  Relaxed on failure: the word is only looked at. */
		if (atomic_compare_exchange_weak_explicit(
			    &s->stripes[stripe], &v, me, memory_order_acquire,
			    memory_order_relaxed))
			return 0;
		if (v == me || v > s->geo.max_procs)
			return SHOAL_EBADSEGMENT;
		if (spins < 64)
			shoal__cpu_relax();
		else if (v && shoal__proc_dead(s, v - 1) &&
			 shoal__proc_reap_until(s, (struct shoal__deadline){0}))
			; /* a slot reaped: look at the word again */
		else if (shoal__deadline_passed(shoal__later_get(d)))
			return -ETIMEDOUT;
		else
			sched_yield();
	}
}

static void shoal__stripe_unlock(struct shoal_store *s, uint32_t stripe)
{
	atomic_store_explicit(&s->stripes[stripe], 0, memory_order_release); /* ENT-R3 */
}

/* The two stripes covering [home, home + PROBE_MAX), lowest first. */
static void shoal__stripes_of_window(const struct shoal_store *s,
				     uint32_t home, uint32_t st[2])
{
	uint32_t a = shoal__stripe_of(s, home);
	uint32_t b = shoal__stripe_of(s, home + SHOAL__PROBE_MAX - 1);

	st[0] = a < b ? a : b;
	st[1] = a < b ? b : a;
}

int shoal__dir_lock(struct shoal_store *s, uint32_t home,
		    struct shoal__later *d)
{
	uint32_t st[2];
	int rc;

	shoal__stripes_of_window(s, home, st);
	s->me->intent.stripe[0] = st[0];
	s->me->intent.stripe[1] = st[1];
	rc = shoal__stripe_lock(s, st[0], d);
	if (rc || st[1] == st[0])
		return rc;
	rc = shoal__stripe_lock(s, st[1], d);
	if (rc)
		shoal__stripe_unlock(s, st[0]);
	return rc;
}

void shoal__dir_unlock(struct shoal_store *s, uint32_t home)
{
	uint32_t st[2];

	shoal__stripes_of_window(s, home, st);
	if (st[1] != st[0])
		shoal__stripe_unlock(s, st[1]);
	shoal__stripe_unlock(s, st[0]);
}

/* EMPTY, or FREE / a tombstone that nobody holds, that is not under
 * REPAIR and that carries no end mark (its block may not be freed yet,
 * end.c). */
bool shoal__dir_reusable(uint64_t c)
{
	unsigned st = SHOAL__CTL_STATE(c);

	if (st == SHOAL__E_EMPTY)
		return true;
	return (st == SHOAL__E_FREE || st == SHOAL__E_EVICTED ||
		st == SHOAL__E_DELETED) &&
	       !(c & SHOAL__CTL_REPAIR) && SHOAL__CTL_MARK(c) == 0 &&
	       SHOAL__CTL_HOLDS(c) == 0;
}

/* Under the window's lock: -EEXIST if id is live in the chain. */
static int shoal__dir_check_dup(const struct shoal_store *s, shoal_id id,
				uint32_t home)
{
	/* Relaxed: under the window's lock, ENT-A3 ordered the last raise. */
	uint32_t n = atomic_load_explicit(&s->probe[home], memory_order_relaxed);

	for (uint32_t d = 0; d < n; d++) {
		const struct shoal__entry *e = &s->dir[(home + d) & s->dir_mask];
		/* ENT-A2 */
		uint64_t c = atomic_load_explicit(&e->ctl, memory_order_acquire);
		shoal_id got;

		if (SHOAL__CTL_STATE(c) == SHOAL__E_EMPTY)
			break;
		if (!shoal__live(SHOAL__CTL_STATE(c)))
			continue; /* tombstones may share the ID: only live count */
		c = shoal__dir_read_id(e, &got);
		if (shoal__live(SHOAL__CTL_STATE(c)) && shoal_id_eq(got, id))
			return -EEXIST;
	}
	return 0;
}

/* Claims a reusable slot: CAS to FREE (a state change every concurrent
 * ID reader notices), then the release fence of ENT-R1.  The load and
 * the CAS are ENT-A4 (the end that freed the entry, end.c's ENT-R4); the
 * CAS's release half orders nothing a reader relies on (the fence does). */
static bool shoal__dir_claim(struct shoal__entry *e, uint64_t *ctl)
{
	uint64_t c = atomic_load_explicit(&e->ctl, memory_order_acquire); /* ENT-A4 */
	uint64_t n;

	if (!shoal__dir_reusable(c))
		return false;
	n = SHOAL__CTL_MAKE(SHOAL__E_FREE, 0, 0, SHOAL__CTL_GEN(c));
	if (c != n && !atomic_compare_exchange_strong_explicit(
			      &e->ctl, &c, n, memory_order_acq_rel,
			      memory_order_relaxed)) /* ENT-A4 */
		return false;
	atomic_thread_fence(memory_order_release); /* ENT-R1 */
	*ctl = n;
	return true;
}

/* Relaxed, the load and the store: the window's lock is held (ENT-A3,
 * ENT-R3 order it between holders). */
static void shoal__probe_raise(struct shoal_store *s, uint32_t home,
			       uint32_t len)
{
	if (atomic_load_explicit(&s->probe[home], memory_order_relaxed) < len)
		atomic_store_explicit(&s->probe[home], (uint8_t)len,
				      memory_order_relaxed);
}

/*
 * Under the window's lock: finds a reusable slot for id (none live), claims
 * it and writes the ID.  The caller fills the entry and publishes it with
 * a release store of ctl.  -EEXIST, or -ENOSPC when the window is full.
 * A `fresh` ID (shoal_id_next: unique by construction) skips the duplicate
 * scan, which costs a cache miss per slot of the home's longest chain.
 */
int shoal__dir_reserve(struct shoal_store *s, shoal_id id, bool fresh,
		       uint32_t home, uint32_t *idx_out, uint64_t *ctl_out)
{
	int rc = fresh ? 0 : shoal__dir_check_dup(s, id, home);

	if (rc)
		return rc;
	for (uint32_t d = 0; d < SHOAL__PROBE_MAX; d++) {
		uint32_t i = (home + d) & s->dir_mask;
		struct shoal__entry *e = &s->dir[i];

		if (!shoal__dir_claim(e, ctl_out))
			continue;
		/* Relaxed: after ENT-R1's fence (the file header). */
		atomic_store_explicit(&e->id_hi, id.hi, memory_order_relaxed);
		atomic_store_explicit(&e->id_lo, id.lo, memory_order_relaxed);
		/* Relaxed: a lookup that misses the raise is ordered by the
		 * object event it waits for (base/event.c), not by this store. */
		shoal__probe_raise(s, home, d + 1);
		*idx_out = i;
		return 0;
	}
	return -ENOSPC;
}
