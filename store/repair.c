/* SPDX-License-Identifier: MIT */
/*
 * store/repair.c - recounting an entry's pins and holds from the ledgers,
 * after a process died in the middle of changing them.
 *
 * Why.  A count change is a CAS on the entry and a store into the
 * process's ledger (store/object/, the REF protocol); a reaper that finds a dead
 * process's intent naming an entry, or a ledger record that another reaper
 * was giving back when it died (proc.c, FLAG), cannot know whether the CAS
 * landed.  It recounts instead.
 *
 * What a recount is.  The entry's counts become the sum of the live
 * processes' records for it; every dead process's record for it (a slot
 * whose owner died, reaped yet or not) is consumed: crossed out with a CAS
 * (ledger.c), so that its reaper never gives it back after.  Whatever a
 * dead process had is gone from the entry at once, which is right (it is
 * dead), and no later step counts it twice.
 *
 * One repair at a time, in the whole segment.  Reaping is rare; a single
 * owner makes the repair's own death easy to survive.  The header's repair
 * word (layout.h) names the repairer (its slot and the low bits of its
 * generation) and the entry, in one 64-bit CAS:
 *
 *   take    CAS 0 -> word (acquire: REF-A3);
 *   mark    CAS the entry's ctl to set REPAIR (acq_rel: REF-A1 of
 *           object_int.h, it then sees the intent of every process whose
 *           count CAS came
 *           before; while REPAIR is set nobody but the repairer changes the
 *           word, except the end protocol clearing a tombstone's mark); a
 *           reusable entry (FREE, an unheld tombstone) is left alone: it
 *           has nothing to count and may be claimed at any moment;
 *   count   for every live process: if it is in the middle of changing
 *           this entry (its intent's ref word names it) it is waited for
 *           (its CAS meets REPAIR and it withdraws its intent: REF-A2, its
 *           ledger is then final; past the bound below, stamped), then
 *           its record is read, once no close of its own is giving that
 *           record back (FLAG, below); every dead process's record is
 *           consumed (but one its live reaper holds past the bound below:
 *           counted, and left to that reaper; and a guarded one's, which
 *           no reaper may take yet, guard.c: counted, left in place);
 *   store   the recount with REPAIR cleared (CAS, keeping a mark that the
 *           end protocol may clear meanwhile: REF-R4), then give the word
 *           back (release: REF-R3).
 *
 * If the recount ends the entry (deleted, or TRANSIENT, and nobody left),
 * the store is the ending CAS of end.c, marked, and the repairer finishes
 * the end after giving the word back.
 *
 * A repairer's death: anyone who waits for the REPAIR bit (store/object/,
 * shoal__obj_wait_settled) or for the word looks at the word's owner; if it
 * is dead, it takes the word over with a CAS (so two rescuers cannot both
 * win) and runs the same repair again: a recount from scratch, whose
 * consumptions are idempotent, gives the same answer.
 *
 * A live process's flagged record.  A process that closes its store
 * gives its own records back with a dead process's steps (proc.c,
 * shoal__reap_give_back), while its slot stays LIVE: FLAG up, the counts
 * off the entry, the record crossed out.  Between the last two steps the
 * record still shows counts that the entry no longer has, and no intent
 * says so; counted then, they would stay on the entry for ever, named by
 * no ledger (a pin no reaper gives back).  So a flagged record of a live
 * process is read again until it is crossed out (its counts went before
 * our mark) or its flag is down (its CAS met REPAIR: the counts are still
 * on the entry, and its owner gives them back after the repair).  A
 * record crossed out keeps its flag, with no counts, until its giver has
 * looked at its stamps and made the recount they ask for (below,
 * shoal__reap_cross_out): the slot's next reaper makes it if the giver
 * cannot; it counts nothing and nobody waits for it.
 *
 * Waits, each for a live peer whose death is noticed by proc.c's test: a
 * live owner's intent on the entry (its next steps do not wait); a live
 * owner's ledger in the middle of a deletion (a few stores); a live
 * reaper's or closer's flagged record (it gives it back or puts the flag
 * down at once when it meets REPAIR); the word (its owner; taken over
 * when it dies).
 * A repairer never waits for a dead process, nor for the slot it is
 * itself reaping, nor for a ledger whose deletion a dead owner left half
 * done (read as it is).  And none waits for ever for a peer that stays
 * alive and never moves on (stopped, or a neighbour that wrote the word,
 * its own intent, seqcount or a flag, and lives on), deadline.h:
 *  - the word: the caller's bound; past it the repair is not made at all
 *    (-ETIMEDOUT, nothing marked), and its caller gives up (proc.c);
 *  - once the entry is marked the repair must finish (it may have
 *    consumed records already), so the count's waits share one bound of
 *    SHOAL__LOCK_MIN_MS from the first of them, past which an intent's
 *    owner is stamped and its change counted as applied (object_int.h,
 *    "Stalls": never fewer counts than the owner has; the owner takes a
 *    count too many off when it runs again; a process without membarrier
 *    never has a slot, proc.c, and one whose membarrier fails all the
 *    same counts the change as applied too, a leak at worst:
 *    shoal__wait_intent_clear), a moving ledger is
 *    read as it is, and a flagged record, a live
 *    reaper's or a live closer's, is counted as it stands and left to
 *    its owner (consuming it would return its counts twice once that
 *    owner runs again, ledger.c), after a stamp of that owner: too many
 *    if its counts had gone already, which the owner takes off by a
 *    recount once it has crossed the record out (shoal__repair_flagged).
 *    The recount then trusts that peer's ledger as it stands, which is
 *    all a peer that does not move on can be given.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* The repair word: entry + 1 (25 bits) | repairer slot + 1 (13) << 25 |
 * repairer generation, low 24 bits << 38 (all of it: a slot's generation
 * is 24 bits, so a reused slot never looks like the dead repairer). */
#define SHOAL__RW_IDX(w) ((uint32_t)((w) & 0x1ffffffu))
#define SHOAL__RW_OWNER(w) ((uint32_t)((w) >> 25) & 0x1fffu)
#define SHOAL__RW_GEN(w) ((uint32_t)((w) >> 38) & 0xffffffu)

static uint64_t shoal__rw_make(const struct shoal_store *s, uint32_t idx)
{
	return (uint64_t)(idx + 1) | ((uint64_t)(s->slot + 1) << 25) |
	       ((uint64_t)(s->slot_gen & 0xffffffu) << 38);
}

/* The word's owner is gone (its slot freed, reused or its process dead).
 * A slot being reaped (REAPING) is a dead owner's, whoever reaps it: its
 * death test would ask whether its reaper is dead, and a reaper that
 * reaps a dead repairer before anything took its word over would wait
 * for itself until its bound, leaving the slot for the next reap. */
static bool shoal__rw_owner_dead(const struct shoal_store *s, uint64_t w)
{
	uint32_t slot = SHOAL__RW_OWNER(w) - 1;
	uint64_t st;

	if (slot >= s->geo.max_procs)
		return true;
	/* PROC-A1 */
	st = atomic_load_explicit(&s->procs[slot].state, memory_order_acquire);
	if (SHOAL__PROC_PHASE(st) == SHOAL__PROC_FREE ||
	    SHOAL__PROC_PHASE(st) == SHOAL__PROC_REAPING ||
	    SHOAL__PROC_GEN(st) != SHOAL__RW_GEN(w))
		return true;
	return shoal__proc_dead(s, slot);
}

static uint64_t shoal__counts_cleared(uint64_t c, bool live)
{
	uint64_t m = (uint64_t)SHOAL__CTL_COUNT_MAX << SHOAL__CTL_HOLDS_SHIFT;

	if (live)
		m |= (uint64_t)SHOAL__CTL_COUNT_MAX << SHOAL__CTL_PINS_SHIFT;
	return c & ~m;
}

/* Sets REPAIR on e (it may already be set: a dead repairer's).  False for
 * a reusable entry (FREE, or a tombstone nobody holds and nobody is
 * freeing): it has nothing to count, and it may be claimed and published
 * under its stripe lock at any moment, which a REPAIR must not meet. */
static bool shoal__repair_mark(struct shoal__entry *e)
{
	/* REF-A1: acquire, sees the intents of earlier REF-R1 CASes (the
	 * load, and the CAS on success and on failure). */
	uint64_t c = atomic_load_explicit(&e->ctl, memory_order_acquire);

	while (!(c & SHOAL__CTL_REPAIR)) {
		if (shoal__dir_reusable(c))
			return false;
		if (atomic_compare_exchange_weak_explicit( /* REF-A1 */
			    &e->ctl, &c, c | SHOAL__CTL_REPAIR,
			    memory_order_acq_rel, memory_order_acquire))
			break;
	}
	return true;
}

/* Whether this process's kernel lets it issue MEMBARRIER_CMD_GLOBAL
 * (Linux 4.16 or later, and no seccomp filter refusing it), asked at
 * each claim (the QUERY command: a filter may come at any time, a forked
 * child's among them).  A process whose answer is no may not take a slot
 * (proc.c, SHOAL_ENOMEMBARRIER): as a repairer its stamps would prove
 * nothing, and a stalled neighbour's change that it counts as applied
 * could stay a count too many for good (a leak: shoal__stamp).  A QUERY
 * that says yes is no promise: the call itself may fail later, which the
 * stamp's callers survive the same way. */
bool shoal__membarrier_ok(void)
{
	long m = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	return m >= 0 && (m & MEMBARRIER_CMD_GLOBAL);
}

/*
 * Stamps live slot q (object_int.h, "Stalls"): its stamps word goes up,
 * then a membarrier makes every running thread of the system pass a full
 * barrier (REF-S2): after it, either q's clear of its ref word (REF-R2)
 * is visible to our next load, or q's look at its stamps (after that
 * clear, REF-S1) sees this one.  Relaxed RMW: the membarrier orders it,
 * and only the repair word's owner stamps.
 *
 * The membarrier may fail although every process with a slot was told
 * yes by shoal__membarrier_ok (a seccomp filter that lets QUERY through
 * and refuses GLOBAL with EPERM, or one installed after the claim).  The
 * stamp is made all the same, and q most likely sees it (a stopped q
 * surely does: it was descheduled, its stores and ours made visible,
 * before it runs again), but nothing then proves that q sees it, nor that
 * our next load of its ref word is not stale.  No caller waits for the
 * membarrier or trusts it for a count: each counts as if it had been
 * made and q never looked, a count too many at worst (a leak, never an
 * early free; shoal__wait_intent_clear and shoal__repair_flagged say why
 * for theirs), which q takes off if it does see the stamp.
 */
static void shoal__stamp(struct shoal_store *s, uint32_t q)
{
	atomic_fetch_add_explicit(&s->procs[q].stamps, 1, memory_order_relaxed);
	/* REF-S2; its failure is not waited on (above). */
	(void)syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0);
}

/*
 * Waits until a live process is not in the middle of changing idx (its
 * intent's ref word names idx, layout.h), and returns 0: its record for
 * idx is then final.  If it still is at `by` (stopped, or descheduled),
 * its slot is stamped (above) and, if its word still names idx after the
 * stamp, its change is counted as applied: the returned word, whose pins
 * and holds (what the change adds; 0 for a release) the caller adds to
 * the record as it stands.  Counted so, the entry has at least every
 * count the owner's ledger will show, never fewer; a count too many is
 * taken off by the recount the owner makes once it runs again and sees
 * the stamp (refs.c, shoal__ref_settle).  A dead owner's change is left
 * to its reaper, which recounts the entry.
 *
 * None of this needs the stamp's membarrier to have been made: once
 * the entry is marked no CAS of the owner's can land on it until our
 * recount is stored, so the change whose intent we see (k) either landed
 * before our mark or lands after our store; the record we read has every
 * earlier change of the owner's on idx (REF-A2, as the wait's other
 * answers assume) and maybe k's own ledger store.  Counting k as applied
 * (record + what k adds) then gives, for each kind of change:
 *  - a pin or hold added (get, hold; up = its amount), landed: exactly
 *    the truth, or up too many if k's ledger store is in the record;
 *    not landed: up too many once it lands (or it meets REPAIR, withdraws
 *    and makes the same change again later: the same), or if its
 *    checks refuse it (no CAS at all);
 *  - a release (release, drop; up = 0), landed: the record may still
 *    have the count k took off (one change too many), or not (exactly
 *    the truth); not landed: exact once it lands, or if refused;
 *  - an abort (create.c; a release of the creator's hold, up = 0): as a
 *    release; landed on a FREE entry it was never marked (repair_mark).
 * No change adds and takes at once (get.c, hold.c, create.c), and a
 * reaper's give-back has no ref word (its FLAG: shoal__repair_flagged).
 * Never fewer than the owner's ledger names, also when the owner runs on
 * and never sees the stamp, which without the membarrier nothing
 * excludes; nor does anything exclude a stale look here (the word read
 * as still naming idx after its clear: k added to a record that may have
 * it already, one change too many).  The count too many then stays until
 * a later recount of the entry, a leak (an object never evicted or
 * freed), the project's last resort; an early free it never is.
 * Waiting on instead would hold the segment's repair word, so every
 * repair of every entry, for as long as the owner stays stopped; and
 * giving up is not open: the repair may have consumed dead records
 * already (the file header), and an entry left marked with the word
 * free would be a REPAIR no repair is behind (a repair is taken over
 * only from a dead owner of the word), every change of it failing at
 * its bound.
 */
static uint64_t shoal__wait_intent_clear(struct shoal_store *s, uint32_t q,
					 uint32_t idx, struct shoal__later *by)
{
	_Atomic uint64_t *ref = &s->procs[q].intent.ref;

	for (;;) {
		/* REF-A2: acquire, pairs with REF-R2 (the owner's clear):
		 * once the word no longer names idx the ledger update is
		 * visible.  Visible at all because REF-A1 acquired it, if the
		 * owner's CAS came before our mark. */
		uint64_t w = atomic_load_explicit(ref, memory_order_acquire);

		if (SHOAL__LEDGER_KEY(w) != idx + 1 || shoal__proc_dead(s, q))
			return 0;
		if (shoal__deadline_passed(shoal__later_get(by))) {
			shoal__stamp(s, q);
			/* REF-A2, as above. */
			w = atomic_load_explicit(ref, memory_order_acquire);
			if (SHOAL__LEDGER_KEY(w) != idx + 1)
				return 0;
			SHOAL__CRASH(s, REPAIR_STAMPED);
			return w;
		}
		sched_yield();
	}
}

/* A flagged record with counts: a reaper's or a closer's giving back in
 * flight, whose counts may have left the entry already.  Not one crossed
 * out with its recount owed (flagged, no counts: shoal__reap_cross_out,
 * below), which counts nothing and is waited for by nobody. */
static bool shoal__rec_in_flight(uint64_t r)
{
	return (r & SHOAL__LEDGER_FLAG) &&
	       (SHOAL__LEDGER_PINS(r) || SHOAL__LEDGER_HOLDS(r));
}

/* A live process's record for idx, once it is not in flight (the file
 * header: a close of its own is giving it back), or as it is past `by`.
 * Our own slot never has a record in flight while it repairs (proc.c
 * puts the flag down before it waits; one crossed out, still flagged,
 * counts nothing), so it is read at once.  The record's word is all it
 * publishes: if it is crossed out (flagged or not), its owner's CAS on
 * the entry came
 * before our mark in the entry word's order, and our mark acquired it
 * (REF-A1: the entry's word changes only by CAS, so it carries every
 * release before it), which also keeps us from reading the record as it
 * was before its flag went up. */
static uint64_t shoal__repair_read(struct shoal_store *s, uint32_t q,
				   uint32_t idx, struct shoal__later *by)
{
	for (;;) {
		uint64_t r = shoal__ledger_read_remote(s, q, idx, by);

		if (!shoal__rec_in_flight(r) || q == s->slot ||
		    shoal__proc_dead(s, q) ||
		    shoal__deadline_passed(shoal__later_get(by)))
			return r;
		sched_yield();
	}
}

/*
 * A flagged record past `by` (a live closer's own, or a dead slot's that
 * its live reaper `who` gives back, proc.c): its counts may have left the
 * entry before our mark already (the CAS made, the record not crossed out
 * yet), and counted as it stands they would stay on the entry with no
 * ledger naming them, for good.  So `who` is stamped first (as an
 * intent's owner, above: REF-S2), and the record read again: crossed out
 * (its counts went before our mark), its flag down (they are still on the
 * entry, for its owner to give back) or still flagged, counted as it
 * stands, and then `who` sees the stamp after its cross-out and recounts
 * the entry (shoal__reap_cross_out, below).  Had the membarrier failed
 * anyway (shoal__stamp), the stamp would prove nothing: counted as it
 * stands (a leak, never an early free).
 */
static uint64_t shoal__repair_flagged(struct shoal_store *s, uint32_t q,
				      uint32_t idx, bool live,
				      struct shoal__later *by)
{
	/* PROC-A1: a REAPING slot's state names its reaper (layout.h). */
	uint64_t st = atomic_load_explicit(&s->procs[q].state,
					   memory_order_acquire);
	uint32_t who = live ? q : (uint32_t)st >> 20;

	if (who < s->geo.max_procs &&
	    (live || SHOAL__PROC_PHASE(st) == SHOAL__PROC_REAPING))
		shoal__stamp(s, who);
	return live ? shoal__ledger_read_remote(s, q, idx, by)
		    : shoal__ledger_consume(s, q, idx, by);
}

/*
 * A reaper's (or a closer's) last step of giving a record back (reap.c,
 * shoal__reap_give_back), once the record's counts are off the entry:
 *
 *   cross out   rec = key | FLAG, no counts            (release: LG-R3)
 *   look        stamped = (our stamps moved)           (relaxed: REF-S1)
 *   recount     if stamped: a repair of idx of our own
 *   done        rec = key, no counts                   (release: LG-R3)
 *
 * The look is the same store-then-load as a count change's clear (refs.c,
 * REF-S1), paired with the repairer's membarrier (REF-S2).  Stamped: a
 * repair may have counted the record while its counts were already off
 * the entry (shoal__repair_flagged, above), a count too many, so we
 * recount idx (the record counts nothing now).  A stamp that was not for
 * this record costs a recount that changes nothing.
 * Until the last step the record is crossed out but still flagged (from
 * the cross-out on: a giver killed before its look cannot say whether it
 * was stamped): no counts (every reader counts it as nothing, and none
 * waits for it), and a recount owed: whoever reaps the slot whose
 * ledger it is in (a dead slot's: the next reaper of that slot; our own,
 * at close: our reaper) finds a flagged record and recounts its entry
 * (reap.c, step 4).
 * So a SIGKILL between the cross-out and the recount (REAP_CROSSED), or
 * inside the recount, leaves the recount to the slot's next reaper, and
 * that reaper's own death leaves it to the one after (the record is put
 * down only after its recount).  A recount that cannot be made now (the
 * repair word another live process's past `by`; or we are inside a
 * repair ourselves, which must not nest) stays owed the same way:
 * -ETIMEDOUT, and the reap stops there (proc.c gives the dead slot back
 * for the next reap, which recounts; a close leaves its slot for its
 * reaper).  The count too many lasts until then: a leak for a while,
 * never an early free.  0 once the record is put down.
 */
int shoal__reap_cross_out(struct shoal_store *s, _Atomic uint64_t *rec,
			  uint32_t idx, struct shoal__later *by)
{
	uint32_t st;

	atomic_store_explicit(rec, SHOAL__LEDGER_REC(idx + 1, 0, 0) |
				      SHOAL__LEDGER_FLAG,
			      memory_order_release); /* LG-R3 */
	SHOAL__CRASH(s, REAP_CROSSED);
	atomic_signal_fence(memory_order_seq_cst); /* REF-S1 */
	/* Relaxed: ordered by REF-S1/REF-S2. */
	st = atomic_load_explicit(&s->me->stamps, memory_order_relaxed);
	if (__builtin_expect(st != s->stamps_seen, 0)) {
		/* The stamp is answered by this record's recount, now or
		 * by the slot's next reaper. */
		s->stamps_seen = st;
		if (s->repairing || shoal__obj_repair(s, idx, by))
			return -ETIMEDOUT; /* owed: the record stays flagged */
	}
	atomic_store_explicit(rec, SHOAL__LEDGER_REC(idx + 1, 0, 0),
			      memory_order_release); /* LG-R3 */
	return 0;
}

struct shoal__recount {
	uint64_t pins;
	uint64_t holds;
};

/* A slot whose records count: its owner is alive (LIVE, not dead). */
static bool shoal__slot_live(const struct shoal_store *s, uint32_t q)
{
	uint64_t st = atomic_load_explicit(&s->procs[q].state,
					   memory_order_acquire); /* PROC-A1 */

	return SHOAL__PROC_PHASE(st) == SHOAL__PROC_LIVE && !shoal__proc_dead(s, q);
}

/* Its waits share one bound (the file header): a repair that marked its
 * entry always finishes. */
static struct shoal__recount shoal__repair_count(struct shoal_store *s,
						 uint32_t idx)
{
	struct shoal__later by = shoal__lock_by(0);
	struct shoal__recount n = {0, 0};
	/* Acquire, but nothing releases hwm (a relaxed raise, layout.h):
	 * what makes this load see every slot that changed idx's counts is
	 * REF-A1 (a claim raises hwm before any count change of its own). */
	uint32_t hwm = atomic_load_explicit(&s->hdr->procs_hwm,
					    memory_order_acquire);

	for (uint32_t q = 0; q < hwm && q < s->geo.max_procs; q++) {
		uint64_t st = atomic_load_explicit(&s->procs[q].state,
						   memory_order_acquire); /* PROC-A1 */
		uint64_t r;

		if (SHOAL__PROC_PHASE(st) == SHOAL__PROC_FREE)
			continue;
		if (shoal__slot_live(s, q)) {
			uint64_t up = shoal__wait_intent_clear(s, q, idx, &by);

			r = shoal__repair_read(s, q, idx, &by);
			if (shoal__rec_in_flight(r) && q != s->slot)
				r = shoal__repair_flagged(s, q, idx, true, &by);
			n.pins += SHOAL__LEDGER_PINS(up);
			n.holds += SHOAL__LEDGER_HOLDS(up);
		} else if (shoal__proc_guarded(s, q, st)) {
			/* Kept for its guardian (guard.c): counted as it
			 * stands, not consumed, so that its holds outlast
			 * this recount as they outlast a reap; its own reap,
			 * once lifted, gives the record back (and recounts
			 * what its intent names).  A record its dead owner
			 * had already taken off the entry is counted: a
			 * leak until that reap, never an early free. */
			uint32_t mask;
			_Atomic uint64_t *l = shoal__ledger_table(s, q, &mask);

			r = shoal__ledger_lookup(l, mask, idx);
		} else { /* consumed, or its live reaper's past `by` */
			r = shoal__ledger_consume(s, q, idx, &by);
			if (r & SHOAL__LEDGER_FLAG)
				r = shoal__repair_flagged(s, q, idx, false, &by);
		}
		n.pins += SHOAL__LEDGER_PINS(r);
		n.holds += SHOAL__LEDGER_HOLDS(r);
	}
	if (n.pins > SHOAL__CTL_COUNT_MAX)
		n.pins = SHOAL__CTL_COUNT_MAX;
	if (n.holds > SHOAL__CTL_COUNT_MAX)
		n.holds = SHOAL__CTL_COUNT_MAX;
	return n;
}

/* The recounted word for c (REPAIR set), and whether it ends the entry. */
static uint64_t shoal__repair_word(uint64_t c, struct shoal__recount n,
				   uint64_t flags, bool *ends)
{
	unsigned st = SHOAL__CTL_STATE(c);
	bool live = st == SHOAL__E_CREATED || st == SHOAL__E_SEALED;
	bool filling = c & SHOAL__CTL_FILLING; /* pins = the filler's slot */
	uint64_t w = shoal__counts_cleared(c & ~SHOAL__CTL_REPAIR,
					   live && !filling);

	w |= n.holds << SHOAL__CTL_HOLDS_SHIFT;
	if (live && !filling)
		w |= n.pins << SHOAL__CTL_PINS_SHIFT;
	*ends = st == SHOAL__E_SEALED && n.pins == 0 &&
		((c & SHOAL__CTL_DELETING) ||
		 ((flags & SHOAL__SIZE_TRANSIENT) && n.holds == 0));
	if (*ends)
		w = (w & ~(SHOAL__CTL_DELETING | SHOAL__CTL_STATE_MASK)) |
		    SHOAL__E_DELETED;
	return w;
}

/* The store that ends the repair: a CAS against the mark clear of end.c,
 * the only change another process may make meanwhile (a tombstone's mark
 * is then kept as it is now, not as it was). */
static bool shoal__repair_store(struct shoal_store *s, uint32_t idx,
				struct shoal__recount n)
{
	struct shoal__entry *e = &s->dir[idx];
	struct shoal__desc d = shoal__entry_desc(e); /* stable under REPAIR */
	uint64_t c = atomic_load_explicit(&e->ctl, memory_order_acquire); /* ENT-A2 */
	bool ends;
	uint64_t w;

	for (;;) {
		w = shoal__repair_word(c, n, d.flags, &ends);
		if (ends) {
			shoal__end_arm(s, idx, SHOAL__CTL_GEN(c), &d);
			w = shoal__end_marked(s, w);
		}
		/* REF-R4 (release): the recount is published with the word;
		 * seq_cst for WT-S2 when it ends the entry (end.c closes the
		 * stack after it); acquire: ENT-A2 (on failure: the mark
		 * clear of end.c, the word the loop retries from). */
		if (atomic_compare_exchange_weak_explicit(&e->ctl, &c, w,
							  memory_order_seq_cst,
							  memory_order_acquire))
			return ends;
		if (ends)
			shoal__end_disarm(s);
	}
}

/* Runs the repair the word w names (ours, or taken over). */
static bool shoal__repair_run(struct shoal_store *s, uint64_t w)
{
	uint32_t idx = SHOAL__RW_IDX(w) - 1;
	struct shoal__recount n;

	if (idx > s->dir_mask || !shoal__repair_mark(&s->dir[idx]))
		return false;
	SHOAL__CRASH(s, REPAIR_MARKED);
	n = shoal__repair_count(s, idx);
	SHOAL__CRASH(s, REPAIR_COUNTED);
	return shoal__repair_store(s, idx, n);
}

static void shoal__repair_give_back(struct shoal_store *s, uint64_t w,
				    bool ended)
{
	/* REF-R3 (release): the repair's writes before the next
	 * repairer's take (REF-A3).  Relaxed on failure: a word taken over
	 * meanwhile is not ours to give back. */
	atomic_compare_exchange_strong_explicit(&s->hdr->repair, &w, 0,
						memory_order_release,
						memory_order_relaxed);
	SHOAL__CRASH(s, REPAIR_RETURNED);
	if (ended)
		shoal__end_finish(s, s->slot);
}

/* If the word's owner is dead, takes it over and finishes its repair.
 * True if there was one to take. */
static bool shoal__repair_take_over(struct shoal_store *s, uint64_t w)
{
	uint64_t mine;

	if (!w || !shoal__rw_owner_dead(s, w))
		return false;
	mine = shoal__rw_make(s, SHOAL__RW_IDX(w) - 1);
	/* REF-A3 (a dead repairer released nothing: its death orders its
	 * writes); the release half is REF-R3 for whoever takes the word
	 * over from us. */
	if (!atomic_compare_exchange_strong_explicit(&s->hdr->repair, &w, mine,
						     memory_order_acq_rel,
						     memory_order_relaxed))
		return true; /* someone else took it: look again */
	shoal__repair_give_back(s, mine, shoal__repair_run(s, mine));
	return true;
}

void shoal__repair_rescue(struct shoal_store *s)
{
	/* Relaxed: our own record. */
	if (s->repairing ||
	    atomic_load_explicit(&s->me->free.active, memory_order_relaxed))
		return; /* we are the repairer, or busy ending an entry */
	s->repairing = true;
	shoal__repair_take_over(s, atomic_load_explicit(&s->hdr->repair, /* REF-A3 */
							memory_order_acquire));
	s->repairing = false;
}

/* Takes the word (a live repairer's is waited for until `by`, a dead
 * one's repair is taken over and finished first) and repairs idx. */
int shoal__obj_repair(struct shoal_store *s, uint32_t idx,
		      struct shoal__later *by)
{
	uint64_t mine = shoal__rw_make(s, idx);

	s->repairing = true;
	for (uint32_t i = 1;; i++) {
		uint64_t w = 0;

		/* REF-A3: pairs with REF-R3, the release that gave the word
		 * back; on failure too (the owner whose death we then test). */
		if (atomic_compare_exchange_strong_explicit(
			    &s->hdr->repair, &w, mine, memory_order_acquire,
			    memory_order_acquire))
			break;
		if (shoal__repair_take_over(s, w))
			continue;
		/* A live repairer: its run is bounded, but a word that names
		 * a live process that is not repairing is not. */
		if (i % 64 == 0 && shoal__deadline_passed(shoal__later_get(by))) {
			s->repairing = false;
			return -ETIMEDOUT;
		}
		sched_yield();
	}
	SHOAL__CRASH(s, REPAIR_TAKEN);
	shoal__repair_give_back(s, mine, shoal__repair_run(s, mine));
	s->repairing = false;
	return 0;
}
