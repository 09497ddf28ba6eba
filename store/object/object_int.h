/* SPDX-License-Identifier: MIT */
/*
 * store/object/object_int.h - objects: what the files of store/object/ share.
 *
 * refs.c    the REF protocol (counts), blocks, what a reaper gives back,
 *           recency, and the wait loop every blocking call uses
 * create.c  create, seal, abort, put
 * get.c     get, release, contains, wait
 * hold.c    hold, drop, delete
 * list.c    list and stats
 *
 * Objects are made crash-safe by the per-process ledger, as follows.
 *
 * Counts.  An entry's pins (open views) and holds (references) live in its
 * control word (layout.h), so admission decisions (may this be evicted?
 * may this slot be reused?) are one load or CAS.  Each process also records
 * its own share in its ledger, so that a reaper can give back what a dead
 * process had.  Every change of a count follows one protocol (ref_change):
 *
 *   intent.entry = idx; intent.ref = (idx, what the change adds);
 *   intent.op = REF                                 (relaxed, own slot)
 *   CAS ctl old -> new                              (seq_cst: REF-R1)
 *   ledger[idx] += delta                            (relaxed, own slot)
 *   intent.ref = 0                                  (release: REF-R2)
 *   stamped = (stamps moved)                        (relaxed: REF-S1)
 *   intent.op = NONE, or (stamped) recount idx first (release: REF-R2)
 *
 * A reaper that finds a dead process with op == REF cannot know whether
 * its CAS landed, so it recounts the entry (repair.c).  A process whose CAS
 * meets REPAIR backs off, withdraws its intent and waits.  Reaping is rare;
 * the hot path pays four plain stores, one load and two release stores.  An abort changes the creator's holds too (its creation hold
 * goes), so it runs under the same intent.
 *
 * Stalls.  A repair waits for a LIVE process whose intent's ref word names
 * the entry, but only until its bound (deadline.h): that process may be
 * stopped, or descheduled, for longer, anywhere between its intent and its
 * clear.  The repairer cannot tell whether its CAS landed before the mark
 * (then the recount must count the change) or will land after the
 * recount (then it must not), and reading the ledger as it stood left a
 * pin taken just before the mark out of the recount: the object could be
 * freed under its reader.  So the repairer stamps the process's slot
 * (its stamps word goes up), and if the ref word still names the entry
 * after the stamp, counts the change as applied: the ledger record as it
 * stands plus what the change adds (0 for a release, whose ledger as it
 * stands already keeps the count).  That count is never below the truth,
 * whatever the process had done: at worst one change too many (its CAS
 * lands after the recount, or its ledger store had landed too), a leak
 * the process itself takes off: after its clear it looks at its stamps,
 * and if they moved it recounts the entry (refs.c, shoal__ref_settle: a
 * repair of its own, whose count of its own ledger is exact), with op
 * still REF naming the entry until that recount is made.
 * The clear and the look are a store and a load of two words, and so are
 * the stamp and the repairer's second look at the ref word: without a
 * barrier between each pair both could miss the other (the repairer
 * counting the change, the process not seeing the stamp: a leak for
 * good).  The hot path does not pay for a barrier: the repairer calls
 * membarrier(MEMBARRIER_CMD_GLOBAL) between its stamp and its second
 * look (REF-S2), which makes every running thread pass a full barrier;
 * the process's store and load keep their program order (REF-S1, a
 * compiler barrier).  Either the clear came before that barrier (the
 * repairer sees it and reads the ledger as final) or the look comes
 * after it (the process sees the stamp).  On a kernel that gives the
 * repairer no membarrier (ENOSYS, a seccomp filter), the stamp proves
 * nothing, and the repairer counts the change as applied all the same:
 * never fewer counts than the truth, whatever the process had done and
 * whether or not it sees the stamp, so at worst a count too many for
 * good, a leak (repair.c, shoal__wait_intent_clear, case by case).  Such
 * a process is refused a slot (proc.c), so this is for a membarrier that
 * QUERY promised and that fails even so.
 * What a SIGKILL leaves between the steps:
 *   after the stamp (REPAIR_STAMPED): the repair is taken over and run
 *     again (repair.c), which waits and stamps again;
 *   after the look, before the recount (REF_STAMPED): the intent still
 *     names the entry, and the reaper recounts it;
 *   inside the recount: a dead repairer's repair, taken over; the reaper
 *     recounts again.
 * A recount the process cannot make (the repair word held by another
 * live process past the call's bound) stays owed, a leak until its next
 * count change makes it first (that change fails with -ETIMEDOUT, nothing
 * changed, if it cannot either); a process that dies meanwhile leaves its
 * intent naming the entry, which its reaper recounts.
 *
 * Memory order (REF-; repair.c has the repairer's side):
 *  REF-R1 (REF-A1)  a count change's CAS of ctl (seq_cst, refs.c; an
 *          owner's abort's too, under the same intent): the intent
 *          written before it, for a repairer whose mark CAS follows it.
 *  REF-A1 (REF-R1)  the repairer's mark: its acquire load and acq_rel CAS
 *          of ctl (repair.c).
 *  REF-R2 (REF-A2)  the release store that clears intent.ref (refs.c),
 *          and intent.op = NONE, a release store (refs.c, create.c; a
 *          reaper's for a dead slot, proc.c): the ledger update made
 *          under the intent.
 *  REF-A2 (REF-R2)  a repairer's acquire loads of a live owner's ref word
 *          (repair.c), before it reads that owner's ledger record.
 *  REF-R3 (REF-A3)  the repair word given back (release CAS to 0,
 *          repair.c): the repair's writes, for the next repairer.
 *  REF-A3 (REF-R3)  the repair word taken: the acquire CAS from 0, a
 *          takeover's CAS, the rescue's acquire load (repair.c).
 *  REF-R4 (REF-A4)  the recount stored with REPAIR clear (seq_cst CAS,
 *          repair.c): what the repair did (dead records consumed), for
 *          whoever waited for REPAIR to go.
 *  REF-A4 (REF-R4)  shoal__obj_wait_settled's acquire load that sees
 *          REPAIR clear (refs.c).
 *  REF-S1 (REF-S2)  the owner's compiler barrier between its clear of
 *          intent.ref and its relaxed load of its stamps (refs.c).
 *  REF-S2 (REF-S1)  the repairer's membarrier(MEMBARRIER_CMD_GLOBAL)
 *          between its relaxed bump of the owner's stamps and its second
 *          load of the owner's ref word (repair.c): outside the C11
 *          model, as liburcu's; "Stalls" above.
 *
 * Lifetime.  The creator holds an object from create on (its ledger gets
 * the hold before the entry is published).  An entry with pins or holds is
 * never evicted; an entry with pins is never freed (a delete marks it
 * DELETING and the last release frees it).  A deleted entry that is still
 * held stays as a DELETED tombstone until its last drop, so a ledger index
 * never names a reused entry.  Every end of an entry (eviction, delete,
 * abort, a TRANSIENT object's last drop) goes through end.c, which frees
 * its block exactly once whoever dies when.
 *
 * Eviction (evict.c).  When the heap has no room (or max_objects are
 * live), the creator evicts sealed, unpinned, unheld entries, least
 * recently used first.  Recency is a tick from the header's clock: taken
 * at create, and again at get when another tick happened since (so a get
 * loop on one object costs no shared RMW).
 *
 * Counters.  The live objects and their bytes are counted per process
 * slot (layout.h): a publish adds to the creator's slot, an end subtracts
 * from the ender's, each as an assignment from values recorded in the
 * operation's record, which a reaper can redo.  The totals are sums.
 *
 * Waiting.  get waits for the header's object event (create or seal) and
 * create waits for the space event (drop, release, delete, abort, reap),
 * with the register / re-check / sleep protocol of base/event.c, in slices of at
 * most SHOAL__WAIT_SLICE_MS after which the waiter reaps dead processes
 * (within the call's deadline: proc.c, "Work").
 * Waits for a word another process holds (a stripe lock, a REPAIR, the
 * heap's lock) end at the call's bound (deadline.h): the caller's timeout,
 * at least SHOAL__LOCK_MIN_MS, or SHOAL__LOCK_MIN_MS for a call that has
 * no timeout; the call then withdraws what it started and returns
 * -ETIMEDOUT.
 */
#ifndef SHOAL_STORE_OBJECT_INT_H
#define SHOAL_STORE_OBJECT_INT_H

#if !defined(SHOAL__LAYER_STORE) && !defined(SHOAL__WHITEBOX)
#error "store/object/object_int.h is private to store/"
#endif

#include <errno.h>

#include "internal.h"

#define SHOAL__WAIT_SLICE_MS 1000

/* refs.c: one change of an entry's counts (the REF protocol). */
struct shoal__ref {
	uint32_t idx;
	uint32_t gen;
	int32_t dpins;
	int32_t dholds;
	bool acquire;   /* pin/hold (true) or unpin/drop (false) */
	bool ended;     /* out: the CAS ended the entry (end.c's record armed) */
	uint64_t old;   /* out: the word replaced */
	uint64_t now;   /* out: the word written */
};

typedef int (*shoal__try_fn)(struct shoal_store *s, void *arg);

/* The intent record of the REF protocol (object_int.h's essay): written
 * before the CAS, cleared (release) after the ledger. */
void shoal__intent_ref(struct shoal_store *s, uint32_t idx, int32_t dpins,
		       int32_t dholds);
void shoal__intent_done(struct shoal_store *s);

/* Pays the recount this process owes after a repairer stamped its change
 * (refs.c): 0, or -ETIMEDOUT (still owed, nothing else changed).  The
 * check is inline: the hot path pays one load of our own handle. */
int shoal__ref_settle_owed(struct shoal_store *s, struct shoal__later *by);
static inline int shoal__ref_settle(struct shoal_store *s,
				    struct shoal__later *by)
{
	return s->recount_owed ? shoal__ref_settle_owed(s, by) : 0;
}

/* The REF protocol.  0, or the reason the change is not allowed:
 * -ETIMEDOUT if a REPAIR on the entry outlasted `by` (nothing changed:
 * the intent is withdrawn before each wait). */
int shoal__ref_change(struct shoal_store *s, struct shoal__ref *r,
		      struct shoal__later *by);

/* After a successful release: finish the end it made, or announce that an
 * object became evictable. */
void shoal__finish_release(struct shoal_store *s, const struct shoal__ref *r);

/* Unpins (idx, gen), this handle's pin; one a REPAIR keeps past `by` is
 * owed (get.c). */
void shoal__obj_unpin(struct shoal_store *s, uint32_t idx, uint32_t gen,
		      struct shoal__later *by);

/* One attempt, with the process lock held (try functions need it). */
int shoal__attempt(struct shoal_store *s, shoal__try_fn try, void *arg);


/* Calls try until it returns anything but -EAGAIN, sleeping on the event
 * (without the process lock) in between; -ETIMEDOUT at the deadline.  A
 * timed-out slice reaps dead processes, whose holds may be what we wait
 * for. */
int shoal__wait_for(struct shoal_store *s, struct shoal__event *ev,
		    struct shoal__deadline d, shoal__try_fn try, void *arg);

/* Relaxed: the clock only orders recency, a hint for eviction. */
static inline uint64_t shoal__tick(struct shoal_store *s)
{
	return atomic_fetch_add_explicit(&s->hdr->clock, 1,
					 memory_order_relaxed) + 1;
}

static inline void shoal__touch(struct shoal_store *s, struct shoal__entry *e)
{
	/* Relaxed: recency is a hint for eviction, not a synchronisation. */
	uint64_t now = atomic_load_explicit(&s->hdr->clock, memory_order_relaxed);

	if (atomic_load_explicit(&e->atime, memory_order_relaxed) != now)
		atomic_store_explicit(&e->atime, shoal__tick(s),
				      memory_order_relaxed);
}

static inline bool shoal__mine(const struct shoal_store *s,
			       const struct shoal__entry *e)
{
	return shoal__entry_creator(e) == SHOAL__CREATOR(s->slot, s->slot_gen);
}

/* The process's heap cache is single-threaded (heap.h): s->lock is held.
 * rec: the operation's handoff record (heap.h). */
static inline int shoal__obj_alloc_block(struct shoal_store *s, uint64_t size,
					 shoal__off_t *off,
					 _Atomic uint64_t *rec)
{
	return shoal__heap_alloc_rec(&s->heap, &s->me->cache, size ? size : 1,
				     off, rec);
}

/* Finds id's entry; -ENOENT if there is none at all. */
static inline int shoal__find(struct shoal_store *s, shoal_id id, uint64_t *c)
{
	if (!s || shoal_id_is_nil(id))
		return -EINVAL;
	return shoal__dir_lookup(s, id, c);
}

#endif /* SHOAL_STORE_OBJECT_INT_H */
