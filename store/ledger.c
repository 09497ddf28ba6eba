/* SPDX-License-Identifier: MIT */
/*
 * store/ledger.c - a process's ledger of the holds and pins it has, in the
 * segment, so that whoever reaps the process can give them back.
 *
 * Shape.  An open-addressed table per process slot, linear probing, of
 * one _Atomic uint64_t per record (layout.h: entry index + 1, pins,
 * holds).  A record exists exactly while one of its counts is nonzero:
 * when both reach zero it is removed by backward-shift deletion (Knuth
 * 6.4, algorithm R), so no tombstones accumulate and a miss ends at the
 * first empty slot.  The owner keeps the table at most half full, so
 * probes stay short.
 *
 * Sized by need.  The table in use starts as the slot's base table (64
 * records, in the reserved `ledgers` region) and doubles when a new
 * record would fill it past half: the owner reserves the next level's
 * table (fallocate of its pages, segment.c: SHOAL_ENOSHM if the machine
 * has no memory left for it, nothing changed), zeroes it, copies every
 * record into it, and switches the slot's level inside the seqcount's odd
 * bracket.  The largest level has ledger_slots records: with the default
 * option (0) that is twice max_objects, so a process can hold every live
 * object of the store; SHOAL_ELEDGERFULL is left for a process that holds
 * more than max_objects distinct entries (deleted objects it still holds
 * are tombstones beyond max_objects), or one that asked for a cap.  A
 * table never shrinks while its owner lives; the clear of the slot (its
 * reaper, or its own close) makes the base table the one in use again.
 * Why levels and not one table of the largest size, sparse: a hash
 * spreads even a few records over every page of its table (a thousand
 * records would touch most of 4 MiB), and each level's table is at least
 * a quarter full while in use, so a process's ledger costs at most 64
 * bytes per record it ever had at once (the tables of every level up to
 * its largest, which stay reserved in the segment until the store is
 * removed: no page of a table is ever given back, so that no reader ever
 * faults on a page that is not there; see below).
 *
 * Who touches which table.  Everyone reads only the table of the slot's
 * current level; the tables of other levels hold nothing anyone reads (a
 * table below is a stale copy, one above is zeroed before it is used).
 * So a reaper reads and crosses out one table, of a size proportional to
 * the most records its dead owner had at once, and the clear zeroes only
 * the base table.  Every page anyone reads or writes is reserved: the
 * base tables with the segment, a larger table by the growth that
 * switches to it, before its first write.
 *
 * Writers.  Only the owning process, serialised by its store handle's lock.
 * Count changes are single relaxed stores of a whole record.
 *
 * Readers.  The owner, and a reaper repairing an entry's counts (store/object/),
 * which reads another live process's table concurrently.  A deletion moves
 * records, and a growth moves the table, so each is bracketed by a
 * seqcount in the process slot, odd inside the bracket, and a deletion
 * moves it on to the next odd value before each of its stores
 * (shoal__ledger_step: LG-R1), so that each state a reader can see
 * between two stores has a value of its own; the count goes even after
 * the last store, or after the switch of a growth's level (LG-R2).  A
 * remote reader loads it (acquire: LG-A2), then the level, looks the
 * record up in that level's table with relaxed loads, issues an acquire
 * fence (LG-A1) and takes the lookup if the count is the one it loaded
 * first, odd or even: no store came in between, and in every state
 * between two stores a lookup finds every record (a move copies a record
 * before it overwrites the old slot, and the one empty slot is made
 * last).  A growth writes its new table before the bracket, and no table
 * a reader may still be reading is ever written (the old one stays as it
 * is), so a reader inside the bracket reads a whole table, old or new.
 * An owner stopped in the middle of a deletion is so read at once.  A
 * count that keeps moving past the reader's bound (deadline.h) is a
 * scribbler's, or a live owner's that drops without a pause long enough
 * for one lookup, and is taken as it stands a time bound later: that read
 * may be torn (never seen: tests/stress_ledger.c's reader was never kept
 * waiting).  A 32-bit count could also come round to the same value
 * under a reader stopped in its lookup for as long as 2^31 stores take
 * (tens of seconds of steady churn): the same read could then be torn.
 *
 * Memory order (LG-):
 *  LG-R1 (LG-A1)  the owner's release fence after each odd count (a
 *          growth's, and each step of a deletion, whose store of the
 *          count is a release too: the store before it is seen by a
 *          reader of the count), before the next store to the table: a
 *          reader whose lookup saw that store sees the count (or a later
 *          one) at its second load.
 *  LG-A1 (LG-R1)  the reader's acquire fence after its lookup, before it
 *          loads the count again.
 *  LG-R2 (LG-A2)  the release store that makes the count even (the owner
 *          after the last move, or after it switched to a larger table;
 *          a reaper in shoal__ledger_dedupe): the records as they now
 *          are, and the level of the table they are in.
 *  LG-A2 (LG-R2)  the reader's acquire load of the count before its
 *          lookup (and its relaxed load of the level).
 *  LG-R3 (LG-A3)  a reaper's writes of a dead slot's record (proc.c: the
 *          FLAG's CAS and its putting down, seq_cst; the crossed-out
 *          record, flagged until its entry's recount is settled, and
 *          then not, release, repair.c): what the reaper did for the
 *          record before, for a replacement reaper.
 *  LG-A3 (LG-R3)  a reaper's acquire loads of a dead slot's records
 *          (proc.c), and a repair's consuming CAS (acq_rel, here).
 *  LG-R4 (LG-A4)  the clear's release store of level 0: the base table
 *          it zeroed before.
 *  LG-A4 (LG-R4)  every load of a slot's level (acquire), before its
 *          table is read.
 *  relaxed  the owner's count changes (one store of a whole record; a
 *          remote reader is ordered by LG-A1/LG-A2 and by REF-A2 of
 *          object_int.h), and its own loads.  Exactly one of a reaper and
 *          a repair takes each record because each takes it by CAS on
 *          that one word: atomicity, not order (seq_cst in LG-R3 is more
 *          than that needs).
 */
#include <errno.h>
#include <sched.h>

#include "internal.h"

#include <fcntl.h>
#include <string.h>

static uint32_t shoal__ledger_home(uint32_t idx, uint32_t mask)
{
	return (idx * 0x9e3779b1u) & mask;
}

/* Relaxed, both: the file header. */
static uint64_t shoal__rec_load(_Atomic uint64_t *l, uint32_t p)
{
	return atomic_load_explicit(&l[p], memory_order_relaxed);
}

static void shoal__rec_store(_Atomic uint64_t *l, uint32_t p, uint64_t r)
{
	atomic_store_explicit(&l[p], r, memory_order_relaxed);
}

/* The table of `level` in slot's ledger (layout.h). */
static _Atomic uint64_t *shoal__level_table(const struct shoal_store *s,
					    uint32_t slot, uint32_t level)
{
	uint64_t base = s->geo.ledger_base;

	if (level == 0)
		return s->ledgers + (uint64_t)slot * base;
	return s->ledger_ext +
	       (uint64_t)slot * shoal__ledger_ext_slots(s->geo.ledger_slots) +
	       base * ((1ull << level) - 2);
}

/* LG-A4: a level the clear reset comes with the base table it zeroed
 * (otherwise the level is ordered by the seqcount, LG-A2, or is a dead
 * owner's final word).  A scribbled level is bounded, never trusted. */
_Atomic uint64_t *shoal__ledger_table(const struct shoal_store *s,
				      uint32_t slot, uint32_t *mask)
{
	uint32_t level = atomic_load_explicit(&s->procs[slot].ledger_level,
					      memory_order_acquire); /* LG-A4 */

	if (level > s->geo.ledger_levels)
		level = s->geo.ledger_levels;
	*mask = (s->geo.ledger_base << level) - 1;
	return shoal__level_table(s, slot, level);
}

static void shoal__ledger_use(struct shoal_store *s, uint32_t level)
{
	s->ledger_level = level;
	s->ledger = shoal__level_table(s, s->slot, level);
	s->ledger_mask = (s->geo.ledger_base << level) - 1;
}

/* The claim's: a freed slot's level is 0 and its base table clear (the
 * clear below, published by PROC-R1).  Relaxed: our own word. */
void shoal__ledger_open(struct shoal_store *s)
{
	atomic_store_explicit(&s->me->ledger_level, 0, memory_order_relaxed);
	shoal__ledger_use(s, 0);
	s->ledger_used = 0;
}

/* Nothing moves any more: a dead owner's, or our own at close, once every
 * record is given back (a remote reader of it may read zeroes or crossed
 * out records, which count the same: nothing).  The base table is zeroed
 * before it is the one in use again; the larger tables stay as they are,
 * read by nobody, zeroed by the growth that uses one next.  A reaper that
 * dies in between leaves a zero base table or a level to reset: its
 * replacement does both again.  The base table was a stale copy while a
 * larger one was in use (with counts given back since): a remote reader
 * that sees level 0 must see it zeroed (LG-R4); the next claimer is
 * ordered by PROC-R1 (proc.c). */
void shoal__ledger_clear(struct shoal_store *s, uint32_t slot)
{
	memset((void *)shoal__level_table(s, slot, 0), 0,
	       (size_t)s->geo.ledger_base * sizeof(uint64_t));
	atomic_store_explicit(&s->procs[slot].ledger_level, 0,
			      memory_order_release); /* LG-R4 */
}

/* Position of idx's record, or of the empty slot where it would go. */
static uint32_t shoal__ledger_probe(_Atomic uint64_t *l, uint32_t mask,
				    uint32_t idx, bool *found)
{
	uint32_t p = shoal__ledger_home(idx, mask);

	for (uint32_t n = 0; n <= mask; n++, p = (p + 1) & mask) {
		uint64_t r = shoal__rec_load(l, p);

		if (SHOAL__LEDGER_KEY(r) == idx + 1 || r == 0) {
			*found = r != 0;
			return p;
		}
	}
	*found = false; /* full: cannot happen while kept half full */
	return 0;
}

uint64_t shoal__ledger_lookup(_Atomic uint64_t *l, uint32_t mask, uint32_t idx)
{
	bool found;
	uint32_t p = shoal__ledger_probe(l, mask, idx, &found);

	return found ? shoal__rec_load(l, p) : 0;
}

/* A remote read is whole if the owner's count was the same before and
 * after it, odd or even: the owner gives each state between two stores of
 * a deletion a count of its own (shoal__ledger_step), and in each such
 * state a lookup finds every record, if perhaps as it was before the
 * change (a record is copied back before its old slot is overwritten,
 * and the one empty slot comes last).  A lookup that spans a store may
 * miss a record (it passes the hole before a record moves into it and
 * reaches the record's old slot after the next one overwrote it), and
 * sees the count move: it is tried again.  So an owner stopped in the
 * middle of a deletion is read at once and exactly.  A dead owner's
 * table is read as it is after 64 tries (its reaper dedupes it, see
 * below), and a count that never stands still (scribbled: no deletion
 * moves for long) is taken as it stands SHOAL__LEDGER_MOVING_MS past
 * `by`, a time bound: the repair word is held meanwhile, and a bound in
 * tries is none (on a loaded machine each yield costs a timeslice). */
#define SHOAL__LEDGER_MOVING_MS (2 * SHOAL__LOCK_MIN_MS)

uint64_t shoal__ledger_read_remote(const struct shoal_store *s, uint32_t slot,
				   uint32_t idx, struct shoal__later *by)
{
	_Atomic uint32_t *seq = &s->procs[slot].ledger_seq;
	/* Its clock starts once `by` has passed (shoal__later_get). */
	struct shoal__later past = shoal__later_in(SHOAL__LEDGER_MOVING_MS);

	for (uint32_t tries = 0;; tries++) {
		uint32_t s1 = atomic_load_explicit(seq, memory_order_acquire); /* LG-A2 */
		uint32_t mask, s2;
		_Atomic uint64_t *l = shoal__ledger_table(s, slot, &mask);
		uint64_t r = shoal__ledger_lookup(l, mask, idx);

		atomic_thread_fence(memory_order_acquire); /* LG-A1 */
		/* Relaxed: ordered by LG-A1's fence. */
		s2 = atomic_load_explicit(seq, memory_order_relaxed);
		if (s1 == s2)
			return r;
		if (tries > 64 && shoal__proc_dead(s, slot))
			return r;
		if (shoal__deadline_passed(shoal__later_get(by)) &&
		    shoal__deadline_passed(shoal__later_get(&past)))
			return r;
		sched_yield();
	}
}

/* Before each store of a deletion (LG-R1): the count to its next odd
 * value (v even: the first store; odd: v + 2), so that every state a
 * reader can see between two stores has a count of its own.  Returns it. */
static uint32_t shoal__ledger_step(_Atomic uint32_t *seq, uint32_t v)
{
	v += (v & 1) ? 2 : 1;
	/* Release (LG-R1, as the fence): the store before it (the previous
	 * move) is seen by a reader that sees this count; the fence: this
	 * count is seen by a reader that sees the store after it. */
	atomic_store_explicit(seq, v, memory_order_release); /* LG-R1 */
	atomic_thread_fence(memory_order_release); /* LG-R1 */
	return v;
}

/* Is home h cyclically outside (hole, j]?  Then the record at j may move
 * back into the hole. */
static bool shoal__may_move(uint32_t h, uint32_t hole, uint32_t j)
{
	return hole <= j ? (h <= hole || h > j) : (h <= hole && h > j);
}

static void shoal__ledger_remove(struct shoal_store *s, uint32_t hole)
{
	_Atomic uint64_t *l = s->ledger;
	_Atomic uint32_t *seq = &s->me->ledger_seq;
	uint32_t mask = s->ledger_mask;
	/* Relaxed: the owner's own word (shoal__ledger_step orders it). */
	uint32_t v = atomic_load_explicit(seq, memory_order_relaxed);

	/* Once round the table at most: kept half full, it always has an
	 * empty slot, but a table someone scribbled full has none. */
	for (uint32_t n = 0, j = (hole + 1) & mask; n < mask;
	     n++, j = (j + 1) & mask) {
		uint64_t r = shoal__rec_load(l, j);

		if (r == 0)
			break;
		if (!shoal__may_move(shoal__ledger_home(SHOAL__LEDGER_KEY(r) - 1, mask),
				     hole, j))
			continue;
		v = shoal__ledger_step(seq, v);
		shoal__rec_store(l, hole, r);
		SHOAL__CRASH(s, LEDGER_MOVED);
		hole = j;
	}
	v = shoal__ledger_step(seq, v);
	shoal__rec_store(l, hole, 0);
	atomic_store_explicit(seq, v + 1, memory_order_release); /* LG-R2 */
	s->ledger_used--;
}

/*
 * A repair consumes a dead slot's record for idx (repair.c): the entry's
 * new count leaves the dead process out, so its record must never be
 * given back after that.  One CAS turns the record (the copy a lookup
 * finds) into a crossed-out record (key, no counts); a record a live
 * reaper has FLAGGED is its to give back or to put down, so this waits
 * for it (that reaper puts it down at once when it meets the REPAIR,
 * proc.c; a dead reaper's flag is consumed like any record), until `by`.
 * A flag still up then is a stopped (or descheduled) reaper's, or was
 * scribbled with the slot's state naming a live reaper: the record is
 * left to that reaper, and returned for the repair to count as it
 * stands.  Consuming it could return its counts twice: a reaper stopped
 * before its CAS on the entry makes that CAS once it runs again (the
 * repair long over), and one stopped before it puts its flag down puts
 * the consumed record back.  Counting it can at worst keep counts its
 * reaper took off the entry just before our mark: the repair stamps that
 * reaper, which recounts the entry once it has crossed the record out
 * (repair.c, shoal__repair_flagged).  The slot's reaper flags a record with a CAS from its unflagged
 * value too, so exactly one of them takes each record.  Returns the
 * record left in place (0: none, or consumed).
 */
uint64_t shoal__ledger_consume(struct shoal_store *s, uint32_t slot,
			       uint32_t idx, struct shoal__later *by)
{
	uint32_t mask;
	/* A dead owner's level is final (nothing grows it), and so is our
	 * own, closing (reap_create in proc.c). */
	_Atomic uint64_t *l = shoal__ledger_table(s, slot, &mask);

	for (;;) {
		bool found;
		uint32_t p = shoal__ledger_probe(l, mask, idx, &found);
		uint64_t r = found ? shoal__rec_load(l, p) : 0;

		if (!r || !(SHOAL__LEDGER_PINS(r) || SHOAL__LEDGER_HOLDS(r)))
			return 0; /* none, or crossed out already */
		if ((r & SHOAL__LEDGER_FLAG) && shoal__proc_reaped_by_other(s, slot)) {
			if (shoal__deadline_passed(shoal__later_get(by)))
				return r; /* left to its reaper: counted */
			sched_yield(); /* its live reaper is giving it back */
			continue;
		}
		/* LG-A3 (a reaper's LG-R3 on this record); the release half
		 * publishes nothing a reader needs (the record is the word).
		 * Relaxed on failure: the loop probes again. */
		if (atomic_compare_exchange_strong_explicit(
			    &l[p], &r, SHOAL__LEDGER_REC(idx + 1, 0, 0),
			    memory_order_acq_rel, memory_order_relaxed))
			return 0;
	}
}

/*
 * A dead owner's table, if it died in the middle of a deletion (odd
 * seqcount): a record being shifted back can be in two slots at once (the
 * copy is stored before the original is overwritten), and a reaper that
 * gave back both would give it back twice.  The copy a lookup finds first
 * (the nearer to its home) stays; any other slot with the same key becomes
 * a crossed-out record (key, no counts, no FLAG), which keeps every probe
 * chain whole.  Nothing else is wrong with such a table: the record being
 * deleted had already left the entry's counts, and the owner's intent
 * names it, so its reaper recounts that entry (proc.c).
 */
void shoal__ledger_dedupe(struct shoal_store *s, uint32_t slot)
{
	uint32_t mask;
	_Atomic uint64_t *l = shoal__ledger_table(s, slot, &mask);

	/* Relaxed: a dead owner's count (its death orders it).  Odd also if
	 * it died switching to a larger table, which is then whole: nothing
	 * to cross out, only the count to make even. */
	if (!(atomic_load_explicit(&s->procs[slot].ledger_seq,
				   memory_order_relaxed) & 1))
		return;
	for (uint32_t i = 0; i <= mask; i++) {
		uint64_t r = shoal__rec_load(l, i);
		uint32_t key = SHOAL__LEDGER_KEY(r);
		bool found;

		if (!key)
			continue;
		if (shoal__ledger_probe(l, mask, key - 1, &found) != i && found)
			shoal__rec_store(l, i, SHOAL__LEDGER_REC(key, 0, 0));
	}
	atomic_store_explicit(&s->procs[slot].ledger_seq, /* LG-R2 */
			      atomic_load_explicit(&s->procs[slot].ledger_seq,
						   memory_order_relaxed) + 1,
			      memory_order_release);
}

/* The pages of `bytes` at `off` of the segment are reserved (segment.c:
 * a tmpfs promises no page of a sparse file). */
static int shoal__ledger_reserve(struct shoal_store *s, uint64_t off,
				 uint64_t bytes)
{
	uint64_t lo = off & ~(uint64_t)(SHOAL__PAGE_SIZE - 1);
	int rc;

	do
		rc = fallocate(s->fd, 0, (off_t)lo, (off_t)(off + bytes - lo)) ? errno : 0;
	while (rc == EINTR);
	if (rc == 0 || rc == EOPNOTSUPP) /* cannot reserve: as sized */
		return 0;
	return rc == ENOSPC || rc == ENOMEM ? SHOAL_ENOSHM : -rc;
}

/*
 * The owner's ledger doubles (the file header): the next level's table is
 * reserved, zeroed and filled with every record, then the slot's level
 * switches to it inside the seqcount's odd bracket.  Killed before the
 * switch, the owner leaves its level and old table as they were (the new
 * one is read by nobody); after it, its new table whole and the count
 * odd, which its reaper makes even (shoal__ledger_dedupe: a whole table
 * has nothing to cross out).  The old table is left as it is: a reader
 * may still be in it (its second load of the count sends it round again).
 */
static int shoal__ledger_grow(struct shoal_store *s)
{
	uint32_t n = s->ledger_level + 1, mask = (s->geo.ledger_base << n) - 1;
	_Atomic uint64_t *old = s->ledger, *l = shoal__level_table(s, s->slot, n);
	_Atomic uint32_t *seq = &s->me->ledger_seq;
	uint32_t v;
	int rc;

	if (n > s->geo.ledger_levels)
		return SHOAL_ELEDGERFULL;
	rc = shoal__ledger_reserve(s, (uint64_t)((uint8_t *)l - s->map.base),
				   ((uint64_t)mask + 1) * sizeof *l);
	if (rc)
		return rc;
	/* A previous owner's records may be there (the clear leaves them). */
	memset((void *)l, 0, ((size_t)mask + 1) * sizeof *l);
	for (uint32_t i = 0; i <= s->ledger_mask; i++) {
		uint64_t r = shoal__rec_load(old, i);
		bool found;

		if (SHOAL__LEDGER_KEY(r))
			shoal__rec_store(l, shoal__ledger_probe(l, mask,
								SHOAL__LEDGER_KEY(r) - 1,
								&found), r);
	}
	SHOAL__CRASH(s, LEDGER_GROW_COPIED);
	/* Relaxed: the owner's word; the fence orders the odd value. */
	v = atomic_load_explicit(seq, memory_order_relaxed);
	/* Release, as a deletion's steps (LG-R1): a reader that takes this
	 * odd count sees the records as they were before it. */
	atomic_store_explicit(seq, v + 1, memory_order_release); /* LG-R1 */
	atomic_thread_fence(memory_order_release); /* LG-R1 */
	/* Relaxed, yet ordered after the copy for every reader: LG-R1's
	 * fence comes before it, and every load of a level is an acquire
	 * (LG-A4), so a reader that reads n, a remote one that gave up on
	 * a dead owner's odd seqcount among them, sees the copied table
	 * (fence-to-acquire synchronisation, C11 7.17.4). */
	atomic_store_explicit(&s->me->ledger_level, n, memory_order_relaxed);
	SHOAL__CRASH(s, LEDGER_GROW_SWITCHED);
	atomic_store_explicit(seq, v + 2, memory_order_release); /* LG-R2 */
	shoal__ledger_use(s, n);
	return 0;
}

int shoal__ledger_check(struct shoal_store *s, uint32_t idx, int32_t dpins,
			int32_t dholds, struct shoal__ledger_pos *pos)
{
	uint64_t r = 0;
	int64_t pins, holds;

	pos->p = shoal__ledger_probe(s->ledger, s->ledger_mask, idx, &pos->found);
	if (pos->found) {
		r = shoal__rec_load(s->ledger, pos->p);
	} else if (s->ledger_used >= (s->ledger_mask + 1) / 2) {
		int rc = shoal__ledger_grow(s);

		if (rc)
			return rc;
		pos->p = shoal__ledger_probe(s->ledger, s->ledger_mask, idx,
					     &pos->found);
	}
	pins = (int64_t)SHOAL__LEDGER_PINS(r) + dpins;
	holds = (int64_t)SHOAL__LEDGER_HOLDS(r) + dholds;
	if (pins < 0 || holds < 0)
		return -ENOENT;
	if (pins > SHOAL__LEDGER_COUNT_MAX || holds > SHOAL__LEDGER_COUNT_MAX)
		return -EOVERFLOW;
	pos->rec = SHOAL__LEDGER_REC(idx + 1, (uint32_t)pins, (uint32_t)holds);
	return 0;
}

void shoal__ledger_commit(struct shoal_store *s,
			  const struct shoal__ledger_pos *pos)
{
	if (SHOAL__LEDGER_PINS(pos->rec) || SHOAL__LEDGER_HOLDS(pos->rec)) {
		shoal__rec_store(s->ledger, pos->p, pos->rec);
		s->ledger_used += !pos->found;
	} else if (pos->found) {
		shoal__ledger_remove(s, pos->p);
	}
}

int shoal__ledger_add(struct shoal_store *s, uint32_t idx, int32_t dpins,
		      int32_t dholds)
{
	struct shoal__ledger_pos pos;
	int rc = shoal__ledger_check(s, idx, dpins, dholds, &pos);

	if (!rc)
		shoal__ledger_commit(s, &pos);
	return rc;
}
