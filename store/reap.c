/* SPDX-License-Identifier: MIT */
/*
 * store/reap.c - the steps of a reap that undo or finish what a dead (or
 * closing) process left in the segment: its block records (step 0), its
 * fills, its intent, the entry it was ending, its ledger records and its
 * orphans (steps 1 to 5).  proc.c elects the reaper, runs these steps
 * (shoal__reap_records) and then frees the slot (steps 6 and 7); its file
 * header states the protocol: who may reap, how each step can be run again
 * by a replacement after a second death, how the waits are bounded.
 *
 * Every function here runs with the caller's store lock held, on a slot
 * that the caller holds REAPING (or its own slot, at close).
 *
 * Memory order: a dead slot's records are ordered by its death for its
 * reaper (proc.c); the labels used here are those of the protocols they
 * belong to (ENT-, REF-, LG- of layout.h, ledger.c, store/object/).
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------------ */
/* Step 0: who owns which block.                                       */

/* Relaxed: a dead slot's handoff word (heap.h), read by its reaper. */
static void shoal__decide(struct shoal__proc *p, _Atomic uint64_t *rec,
			  uint64_t size)
{
	uint64_t off = atomic_load_explicit(rec, memory_order_relaxed);

	if (off && !shoal__heap_rec_owns(&p->cache, rec, off, size))
		atomic_store_explicit(rec, 0, memory_order_relaxed);
}

/*
 * Before the reaper frees anything into the dead slot's cache: "a record
 * owns its block" (heap.h) is read from that cache, and a free into a full
 * cache spills blocks out of it, so a record still naming a block the dead
 * process had freed would then look like an owner.  Every record with a
 * block is decided first (one that does not own its block is crossed out)
 * and every free made on the slot's behalf crosses its record out at once
 * (end.c, fill.c, below), so a replacement reaper decides the same.
 * First the heap settles: the dead process may have died holding the
 * heap's lock with a large allocation's plan published and not applied
 * (its record still 0, the run USED once anyone replays it).
 */
static int shoal__reap_blocks_decide(struct shoal_store *s, uint32_t slot)
{
	struct shoal__proc *p = &s->procs[slot];

	/* A broken lock: the records as they are; one held past the reap's
	 * bound: nothing decided, the reap stops here. */
	if (shoal__heap_settle(&s->heap) == -ETIMEDOUT)
		return -ETIMEDOUT;

	for (uint32_t i = 0; i < SHOAL__PROC_FILLS; i++)
		if (p->fills[i].stage)
			shoal__decide(p, &p->fills[i].block_off,
				      p->fills[i].block_size);
	/* Relaxed: a dead slot's records (proc.c's header). */
	if (atomic_load_explicit(&p->intent.op, memory_order_relaxed) ==
	    SHOAL__OP_CREATE)
		shoal__decide(p, &p->intent.block_off, p->intent.block_size);
	if (atomic_load_explicit(&p->free.active, memory_order_relaxed))
		shoal__decide(p, &p->free.block_off, p->free.block_size);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Step 2: the intent.                                                 */

/* idx is the slot's unsealed entry (its word into *c). */
static bool shoal__unsealed_of(const struct shoal_store *s, uint32_t idx,
			       uint32_t slot, uint32_t gen, uint64_t *c)
{
	*c = atomic_load_explicit(&s->dir[idx].ctl, memory_order_acquire); /* ENT-A2 */
	return SHOAL__CTL_STATE(*c) == SHOAL__E_CREATED &&
	       shoal__entry_creator(&s->dir[idx]) == SHOAL__CREATOR(slot, gen);
}

/* The slot's own unsealed entry at idx, aborted with creator_holds of its
 * holds: 0, -EAGAIN under REPAIR, -ENOENT if idx is not one. */
static int shoal__reap_abort_own(struct shoal_store *s, uint32_t slot,
				 uint32_t gen, uint32_t idx, uint32_t creator_holds)
{
	uint64_t c;

	if (!shoal__unsealed_of(s, idx, slot, gen, &c))
		return -ENOENT;
	return shoal__obj_abort_entry(s, idx, SHOAL__CTL_GEN(c), creator_holds,
				      true);
}

/* The same with none of its holds left to give back (a recount or a
 * give-back took them): waits only for a REPAIR (store/object/: bounded by the
 * repairer, a dead one's repair taken over), until `by`: -ETIMEDOUT. */
static int shoal__reap_abort_unheld(struct shoal_store *s, uint32_t slot,
				    uint32_t gen, uint32_t idx,
				    struct shoal__later *by)
{
	uint64_t c;
	int rc = 0;

	while (!rc && shoal__reap_abort_own(s, slot, gen, idx, 0) == -EAGAIN)
		rc = shoal__obj_wait_settled(s, &s->dir[idx], true, by, &c);
	return rc;
}

static bool shoal__published_by(const struct shoal_store *s, uint32_t idx,
				uint32_t gen, uint32_t creator)
{
	/* ENT-A2 */
	uint64_t c = atomic_load_explicit(&s->dir[idx].ctl, memory_order_acquire);
	unsigned st = SHOAL__CTL_STATE(c);

	return SHOAL__CTL_GEN(c) == gen && st >= SHOAL__E_CREATED &&
	       shoal__entry_creator(&s->dir[idx]) == creator;
}

/* Releases every directory stripe lock the slot holds. */
static void shoal__reap_stripes(struct shoal_store *s, uint32_t slot)
{
	for (uint32_t st = 0; st < s->geo.nstripes; st++) {
		uint32_t owner = slot + 1;

		/* ENT-R3 (release): the entries it wrote, for the next locker
		 * (ENT-A3).  Relaxed on failure: not its lock. */
		atomic_compare_exchange_strong_explicit(
			&s->stripes[st], &owner, 0, memory_order_release,
			memory_order_relaxed);
	}
}

/* CREATE stages a reaper writes (the creator stops at 1): the decision,
 * made while the creator's stripe locks still keep the entry from reuse. */
#define SHOAL__CREATE_WAS_PUBLISHED 3u
#define SHOAL__CREATE_NOT_PUBLISHED 4u

static int shoal__reap_create(struct shoal_store *s, uint32_t slot,
			      uint32_t gen, struct shoal__intent *in,
			      struct shoal__later *by)
{
	struct shoal__proc *p = &s->procs[slot];
	/* Relaxed, here and below: a dead slot's words (the header). */
	uint32_t idx = atomic_load_explicit(&in->entry, memory_order_relaxed);
	uint64_t off = atomic_load_explicit(&in->block_off, memory_order_relaxed);

	if (in->stage < SHOAL__CREATE_WAS_PUBLISHED) {
		/* Published: the entry has the intent's generation and names
		 * the slot as creator, in whatever state (a promise may have
		 * been filled and sealed since); nobody can have reused it,
		 * the slot's stripe locks or creation hold keep it. */
		bool pub = in->stage == 1 && idx <= s->dir_mask &&
			   shoal__published_by(s, idx, in->gen,
					       SHOAL__CREATOR(slot, gen));

		if (pub) { /* redo the counters (store/object/, shoal__publish):
			    * the size published, not what a fill wrote since */
			atomic_store_explicit(&p->objects, in->objects + 1,
					      memory_order_relaxed);
			atomic_store_explicit(&p->bytes,
					      in->bytes + (int64_t)in->block_size,
					      memory_order_relaxed);
		}
		in->stage = pub ? SHOAL__CREATE_WAS_PUBLISHED
				: SHOAL__CREATE_NOT_PUBLISHED;
	}
	if (in->stage == SHOAL__CREATE_NOT_PUBLISHED) {
		if (shoal__heap_rec_owns(&p->cache, &in->block_off, off,
					 in->block_size)) {
			if (shoal__heap_free_rec(&s->heap, &p->cache,
						 SHOAL__OFF(off),
						 in->block_size ? in->block_size : 1,
						 &in->block_off) == -ETIMEDOUT)
				return -ETIMEDOUT; /* the record still owns it */
			atomic_store_explicit(&in->block_off, 0,
					      memory_order_relaxed);
		}
		if (idx <= s->dir_mask) /* its hold, recorded, never counted */
			shoal__ledger_consume(s, slot, idx, by);
	}
	SHOAL__CRASH(s, REAP_CREATE);
	shoal__reap_stripes(s, slot);
	return 0;
}

/* An entry whose counts the dead slot may have been changing: recount it
 * from the live processes (which consumes the slot's record for it,
 * repair.c), and abort it if it is the slot's own unsealed one. */
static int shoal__reap_recount(struct shoal_store *s, uint32_t slot,
			       uint32_t gen, uint32_t idx, struct shoal__later *by)
{
	int rc = shoal__obj_repair(s, idx, by);

	if (rc)
		return rc;
	SHOAL__CRASH(s, REAP_RECOUNTED);
	return shoal__reap_abort_unheld(s, slot, gen, idx, by);
}

/* A seal whose waiters may not have been woken: the stack is closed now
 * if the entry is still the object sealed (its generation, no longer
 * unsealed), under a pin that keeps it from ending meanwhile
 * (shoal__obj_close_sealed).  0, or an error that leaves the intent for
 * the next reaper. */
static int shoal__reap_seal(struct shoal_store *s, struct shoal__intent *in,
			    uint32_t idx, struct shoal__later *by)
{
	/* ENT-A2 */
	uint64_t c = atomic_load_explicit(&s->dir[idx].ctl, memory_order_acquire);

	if (SHOAL__CTL_GEN(c) != in->gen || SHOAL__CTL_STATE(c) == SHOAL__E_CREATED)
		return 0;
	return shoal__obj_close_sealed(s, idx, in->gen, by);
}

static int shoal__reap_intent(struct shoal_store *s, uint32_t slot,
			      uint32_t gen, struct shoal__later *by)
{
	struct shoal__intent *in = &s->procs[slot].intent;
	/* REF-A2: a replaced reaper's REF-R2 below (a dead owner's own op
	 * is ordered by its death anyway); entry relaxed, as the intent's
	 * other words (proc.c's header). */
	uint32_t op = atomic_load_explicit(&in->op, memory_order_acquire);
	uint32_t idx = atomic_load_explicit(&in->entry, memory_order_relaxed);
	int rc = 0;

	if (op == SHOAL__OP_CREATE) {
		rc = shoal__reap_create(s, slot, gen, in, by);
	} else if (op == SHOAL__OP_SEAL && idx <= s->dir_mask) {
		rc = shoal__reap_seal(s, in, idx, by);
	} else if (op == SHOAL__OP_REF && idx <= s->dir_mask) {
		rc = shoal__reap_recount(s, slot, gen, idx, by);
	}
	if (!rc) /* else the intent stays, for the next reaper */
		atomic_store_explicit(&in->op, SHOAL__OP_NONE,
				      memory_order_release); /* REF-R2 */
	return rc;
}

/* ------------------------------------------------------------------ */
/* Step 4: the ledger.                                                 */

/*
 * Gives back the record at rec: FLAG goes up with a CAS from its plain
 * value (a repair may consume the record first, ledger.c: then there is
 * nothing to give back), the pins and holds come off the entry (or the
 * slot's unsealed entry is aborted with them), the record crossed out (and
 * the entry recounted if a repair stamped us, repair.c: a recount that
 * cannot be made leaves the record crossed out and flagged, -ETIMEDOUT,
 * for the next reaper to recount).  A repair in progress on the entry is
 * let count the record first: the flag goes down while this waits, until
 * `by` (-ETIMEDOUT, the record as it was). */
static int shoal__reap_give_back(struct shoal_store *s, uint32_t slot,
				 uint32_t gen, _Atomic uint64_t *rec,
				 struct shoal__later *by)
{
	for (;;) {
		/* LG-A3 */
		uint64_t r = atomic_load_explicit(rec, memory_order_acquire), c;
		uint32_t idx = SHOAL__LEDGER_KEY(r) - 1;
		int rc;

		if ((r & SHOAL__LEDGER_FLAG) ||
		    !(SHOAL__LEDGER_PINS(r) || SHOAL__LEDGER_HOLDS(r)))
			return 0; /* consumed by a repair meanwhile */
		/* LG-R3 (seq_cst: more than needed); failure: reload. */
		if (!atomic_compare_exchange_strong_explicit(
			    rec, &r, r | SHOAL__LEDGER_FLAG, memory_order_seq_cst,
			    memory_order_relaxed))
			continue;
		SHOAL__CRASH(s, REAP_FLAGGED);
		rc = shoal__reap_abort_own(s, slot, gen, idx, SHOAL__LEDGER_HOLDS(r));
		if (rc == -ENOENT) /* not its unsealed entry: give the counts */
			rc = shoal__obj_unref_dead(s, idx, SHOAL__LEDGER_PINS(r),
						   SHOAL__LEDGER_HOLDS(r));
		if (rc != -EAGAIN) {
			SHOAL__CRASH(s, REAP_GIVEN);
			return shoal__reap_cross_out(s, rec, idx, by); /* LG-R3 */
		}
		/* A repair is counting the entry: let it count this record
		 * (not given back yet), then try again.  LG-R3, seq_cst as
		 * the flag's CAS. */
		atomic_store_explicit(rec, r, memory_order_seq_cst);
		rc = shoal__obj_wait_settled(s, &s->dir[idx], true, by, &c);
		if (rc)
			return rc;
	}
}

/* Each record: given back (or its entry recounted), its unsealed entry
 * aborted, then crossed out; a record a wait past `by` held up stays as
 * it is (-ETIMEDOUT). */
static int shoal__reap_ledger(struct shoal_store *s, uint32_t slot,
			      uint32_t gen, struct shoal__later *by)
{
	uint32_t mask;
	_Atomic uint64_t *l = shoal__ledger_table(s, slot, &mask);

	/* The table in use, whole (a dead owner's level is final): the
	 * others hold no record of its (ledger.c). */
	for (uint32_t i = 0; i <= mask; i++) {
		/* LG-A3 */
		uint64_t r = atomic_load_explicit(&l[i], memory_order_acquire);
		uint32_t key = SHOAL__LEDGER_KEY(r);
		int rc = 0;

		if (!key || key - 1 > s->dir_mask)
			continue; /* empty, or corrupt */
		/* A dead reaper's (or closer's), in flight, or crossed out
		 * with its recount owed (repair.c, shoal__reap_cross_out). */
		if (r & SHOAL__LEDGER_FLAG)
			rc = shoal__reap_recount(s, slot, gen, key - 1, by);
		else if (SHOAL__LEDGER_PINS(r) || SHOAL__LEDGER_HOLDS(r))
			rc = shoal__reap_give_back(s, slot, gen, &l[i], by);
		/* A crossed-out record (given back, or consumed by a repair):
		 * its unsealed entry, if it is the slot's, goes now. */
		if (!rc)
			rc = shoal__reap_abort_unheld(s, slot, gen, key - 1, by);
		if (rc)
			return rc;
		atomic_store_explicit(&l[i], SHOAL__LEDGER_REC(key, 0, 0),
				      memory_order_release); /* LG-R3 */
	}
	return 0;
}

/* Step 5: unsealed entries of the slot that no ledger record names (their
 * creation hold was dropped): nobody else will ever seal them. */

/* Directory slots a reaper scans between two records of its progress. */
#define SHOAL__ORPHAN_CHUNK 4096u
/* orphan_scan's generation tag (layout.h): the low 12 bits of gen. */
#define SHOAL__ORPHAN_TAG(gen) (((uint32_t)(gen) & 0xfffu) << 20)
#define SHOAL__ORPHAN_DONE_MASK 0xfffffu

/* Chunks of the slot's scan done (0 for a word of another generation, or
 * in a segment whose creator does not keep the word).  Relaxed: a dead
 * slot's word, handed on by PROC-R1 or ordered by a reaper's death. */
static uint32_t shoal__orphan_chunks_done(const struct shoal_store *s,
					  uint32_t slot, uint32_t gen)
{
	uint32_t w = atomic_load_explicit(&s->procs[slot].orphan_scan,
					  memory_order_relaxed);

	if (!(s->geo.compat_features & SHOAL__COMPAT_FEATURE_ORPHAN_SCAN) ||
	    (w & ~SHOAL__ORPHAN_DONE_MASK) != SHOAL__ORPHAN_TAG(gen))
		return 0;
	return w & SHOAL__ORPHAN_DONE_MASK;
}

static int shoal__reap_orphan_chunk(struct shoal_store *s, uint32_t slot,
				    uint32_t gen, uint64_t first,
				    struct shoal__later *by)
{
	uint64_t end = first + SHOAL__ORPHAN_CHUNK;
	int rc = 0;

	for (uint64_t i = first; i < end && i <= s->dir_mask && !rc; i++)
		rc = shoal__reap_abort_unheld(s, slot, gen, (uint32_t)i, by);
	return rc;
}

/* The scan, from where the last reaper left it, a chunk at a time, until
 * the end or a chunk ending past `until` (-EINPROGRESS: proc.c's header,
 * "Work"). */
static int shoal__reap_orphans(struct shoal_store *s, uint32_t slot,
			       uint32_t gen, struct shoal__later *by,
			       struct shoal__deadline until)
{
	uint64_t slots = (uint64_t)s->dir_mask + 1;

	for (uint32_t c = shoal__orphan_chunks_done(s, slot, gen);
	     (uint64_t)c * SHOAL__ORPHAN_CHUNK < slots; c++) {
		int rc = shoal__reap_orphan_chunk(
			s, slot, gen, (uint64_t)c * SHOAL__ORPHAN_CHUNK, by);

		if (rc)
			return rc;
		/* Relaxed: see shoal__orphan_chunks_done. */
		atomic_store_explicit(&s->procs[slot].orphan_scan,
				      SHOAL__ORPHAN_TAG(gen) | (c + 1),
				      memory_order_relaxed);
		SHOAL__CRASH(s, REAP_ORPHANS);
		if ((uint64_t)(c + 1) * SHOAL__ORPHAN_CHUNK < slots &&
		    shoal__deadline_passed(until))
			return -EINPROGRESS;
	}
	return 0;
}

/* Steps 0 to 5; -ETIMEDOUT where a wait outlasted `by`, or the orphan
 * scan `until` (proc.c's header: the rest is left to the next reaper). */
int shoal__reap_records(struct shoal_store *s, uint32_t slot, uint32_t gen,
			struct shoal__later *by, struct shoal__deadline until)
{
	struct shoal__proc *p = &s->procs[slot];

	/* First: a table left mid-deletion is made whole before anything
	 * reads it (a repair while the fills are reaped may), and every block
	 * record is decided before anything is freed into the dead cache. */
	shoal__ledger_dedupe(s, slot);
	if (shoal__reap_blocks_decide(s, slot) || shoal__fill_reap(s, slot, by))
		return -ETIMEDOUT;
	SHOAL__CRASH(s, REAP_FILLS);
	if (shoal__reap_intent(s, slot, gen, by))
		return -ETIMEDOUT;
	SHOAL__CRASH(s, REAP_INTENT);
	if (shoal__end_finish(s, slot))
		return -ETIMEDOUT;
	SHOAL__CRASH(s, REAP_END);
	if (shoal__reap_ledger(s, slot, gen, by))
		return -ETIMEDOUT;
	SHOAL__CRASH(s, REAP_LEDGER);
	/* Relaxed: a dead (or closing) slot's own word. */
	if (atomic_load_explicit(&p->orphans, memory_order_relaxed) &&
	    shoal__reap_orphans(s, slot, gen, by, until))
		return -ETIMEDOUT;
	return 0;
}
