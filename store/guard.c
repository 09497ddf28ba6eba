/* SPDX-License-Identifier: MIT */
/*
 * store/guard.c - the reap guard: a dead process's slot kept from its
 * reapers until a named guardian let it go (ext.h).
 *
 * Why.  A hold lives in exactly one process's ledger (ledger.c; a
 * recount sums ledgers, so a hold in none is erased by the next one),
 * and whoever reaps a dead process gives all of its holds back (proc.c).
 * A layer above may count on some of those holds outliving the process:
 * the runtime's object queues, where the putter's hold keeps a queued
 * object alive until a getter holds it, and where the fork server takes
 * over (adopts) the holds of a dead putter (runtime/task/objq_admin.c).
 * The adoption must come before the reap, whoever reaps first.  The store
 * cannot run the adoption (it knows nothing of queues, and a reaper may be
 * a program that links the store alone), so it lets the layer above say
 * "reap me only once my guardian let me go": a guard word in the slot.
 *
 * The word (layout.h, struct shoal__proc): 0, or the slot's generation
 * (24 bits) << 32 | the guardian's SHOAL__CREATOR, and MARK (bit 63).  A
 * guard of another generation than the slot's is void, so nobody clears
 * it at claim or at clean.
 *
 * The protocol:
 *  1. the owner sets its own slot's guard (shoal__store_guard_set) before
 *     it makes anything that needs it (the runtime: before a put claims a
 *     cell);
 *  2. a reaper, having found the slot dead, leaves it alone while the
 *     guard is valid and its guardian is not gone (shoal__proc_guarded,
 *     called by proc.c's reap_one), and so does a recount of an entry
 *     (repair.c: it counts the slot's record and leaves it in place).  It does not wait: the slot stays for
 *     a later reap.  The guardian too is held off by its own guards;
 *  3. the guardian marks each dead slot it guards (MARK, relaxed: only it
 *     reads the bit), does its work for every process gone (the runtime:
 *     adopts the queued objects of every gone custodian), then lifts the
 *     guard of every slot it marked (GD-R1) and reaps.  A slot that died
 *     after the marking is not marked, so not lifted before its own turn.
 * Bounded: a guardian that is gone (its slot free, reused, or its process
 * dead) voids every guard that names it; nobody ever waits for a guard,
 * they skip the slot.  A guardian that lives and never lifts (stopped)
 * keeps its dead slots unreaped for as long as it is stopped: their holds
 * and pins stay, and a stripe lock one of them held costs its next locker
 * its bound (dir.c: -ETIMEDOUT), as a live holder's would.
 *
 * SIGKILL at each step.  The owner, before or after its store of the
 * guard: it guards nothing yet, or its slot waits for the guardian (whose
 * work then finds nothing to do, and lifts).  The guardian after marking:
 * it is gone, every guard naming it is void, reapers reap.  After a lift:
 * the slot is an ordinary dead slot.  A reaper never changes a guard.
 *
 * Memory order (GD-):
 *  GD-R1 (GD-A1)  the guardian's release CAS MARK -> 0: what it did for
 *          the dead process before (the runtime: its own holds on the
 *          adopted objects, the custodians it changed), to ...
 *  GD-A1 (GD-R1)  ... a reaper's acquire load of the guard, before it
 *          gives the dead slot's holds back.
 *  relaxed  the owner's store (ordered by its death for its reapers, as
 *          its other records, proc.c), the guardian's MARK (its own bit).
 */
#include "internal.h"

#define SHOAL__GUARD_MARK (1ull << 63)
#define SHOAL__GUARD(gen, who)                                                \
	(((uint64_t)((gen) & 0xffffffu) << 32) | (uint32_t)(who))
#define SHOAL__GUARD_GEN(g) ((uint32_t)((g) >> 32) & 0xffffffu)
#define SHOAL__GUARD_WHO(g) ((uint32_t)(g))

void shoal__store_guard_set(struct shoal_store *s, uint32_t guardian)
{
	uint64_t g = SHOAL__GUARD(s->slot_gen, guardian);

	if (!s->me)
		return;
	/* Relaxed: our own word (the header). */
	if (atomic_load_explicit(&s->me->reap_guard, memory_order_relaxed) != g)
		atomic_store_explicit(&s->me->reap_guard, g, memory_order_relaxed);
}

/* The guard g is the one of slot state st (its generation). */
static bool shoal__guard_valid(uint64_t g, uint64_t st)
{
	return g && SHOAL__GUARD_GEN(g) == (SHOAL__PROC_GEN(st) & 0xffffffu);
}

bool shoal__proc_guarded(const struct shoal_store *s, uint32_t slot, uint64_t st)
{
	/* GD-A1 */
	uint64_t g = atomic_load_explicit(&s->procs[slot].reap_guard,
					  memory_order_acquire);

	return shoal__guard_valid(g, st) &&
	       !shoal__creator_gone(s, SHOAL__GUARD_WHO(g));
}

/* Relaxed: the guard's slot is LIVE and of its generation when it was
 * read (PROC-A1); a slot may be found freed meanwhile (the guard void). */
static uint64_t shoal__guard_of(const struct shoal_store *s, uint32_t i,
				uint32_t me, uint64_t *st)
{
	uint64_t g = atomic_load_explicit(&s->procs[i].reap_guard,
					  memory_order_relaxed);

	*st = atomic_load_explicit(&s->procs[i].state,
				   memory_order_acquire); /* PROC-A1 */
	if (!shoal__guard_valid(g, *st) || SHOAL__GUARD_WHO(g) != me ||
	    SHOAL__PROC_PHASE(*st) != SHOAL__PROC_LIVE)
		return 0;
	return g;
}

static uint32_t shoal__guard_hwm(const struct shoal_store *s)
{
	/* Relaxed: a slot claimed later is alive (layout.h). */
	uint32_t hwm = atomic_load_explicit(&s->hdr->procs_hwm, memory_order_relaxed);

	return hwm < s->geo.max_procs ? hwm : s->geo.max_procs;
}

uint32_t shoal__store_guard_mark(struct shoal_store *s)
{
	uint32_t me = SHOAL__CREATOR(s->slot, s->slot_gen), n = 0;
	uint32_t hwm = shoal__guard_hwm(s);

	if (!s->me)
		return 0;
	for (uint32_t i = 0; i < hwm; i++) {
		uint64_t st, g = i == s->slot ? 0 : shoal__guard_of(s, i, me, &st);

		if (!g)
			continue;
		/* Relaxed: our own bit (the header).  A failed CAS: the
		 * word moved, a guard we no longer hold. */
		if (!(g & SHOAL__GUARD_MARK) &&
		    (!shoal__proc_dead(s, i) ||
		     !atomic_compare_exchange_strong_explicit(
			     &s->procs[i].reap_guard, &g, g | SHOAL__GUARD_MARK,
			     memory_order_relaxed, memory_order_relaxed)))
			continue;
		n++;
	}
	return n;
}

uint32_t shoal__store_guard_lift(struct shoal_store *s, const uint64_t *keep)
{
	uint32_t me = SHOAL__CREATOR(s->slot, s->slot_gen), n = 0;
	uint32_t hwm = shoal__guard_hwm(s);

	if (!s->me)
		return 0;
	for (uint32_t i = 0; i < hwm; i++) {
		uint64_t st, g = i == s->slot ? 0 : shoal__guard_of(s, i, me, &st);

		/* i < max_procs <= 4096 (segment.c): in the bitmap. */
		if (keep && (i >= SHOAL__GUARD_KEEP_WORDS * 64 ||
			     keep[i / 64] >> (i % 64) & 1))
			continue; /* its guardian is not done with it */
		/* GD-R1 (relaxed on failure: nothing read) */
		if ((g & SHOAL__GUARD_MARK) &&
		    atomic_compare_exchange_strong_explicit(
			    &s->procs[i].reap_guard, &g, 0, memory_order_release,
			    memory_order_relaxed))
			n++;
	}
	return n;
}
