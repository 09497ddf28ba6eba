/* SPDX-License-Identifier: MIT */
/*
 * store/proc.c - the process table: claiming a slot, deciding death, reaping.
 *
 * Each process that opens a store claims a slot with one CAS on the slot's
 * state word, which names the owner's pid (layout.h), so a slot is never
 * owned by an unknown process.  Every reap runs from a slot: a claim that
 * finds every slot taken reaps from one of the claim's reserve slots
 * (layout.h, shoal__claim_by_reaping), never without an identity.  The owner then records its start time
 * (field 22 of /proc/<pid>/stat), which makes its identity survive pid
 * reuse.  A process is dead when /proc has no such pid, the pid is a
 * zombie, or the pid's start time differs from the recorded one.  Death is
 * never decided by a timeout or a heartbeat, nor by a /proc that this
 * process cannot read (its file table full): then the owner is taken as
 * alive until a later look can tell.
 *
 * Every function here that touches per-process state runs with the
 * caller's store lock held (internal.h), so reaping also serialises with
 * the caller's own threads.
 *
 * Reaping a dead slot (any process may do it; the CAS LIVE -> REAPING with
 * the reaper's slot and generation elects one; a reaper that dies while
 * REAPING is itself detected by the same test and replaced, and every step
 * below can be run again by its replacement with the same result):
 *   1. fills in progress (fill.c): a fill's entry is sealed, given back or
 *      its abort completed, as its stage says; the fill's block freed if
 *      its record still owns it;
 *   2. the intent: a CREATE is decided (published or not) while the dead
 *      process's stripe locks still keep the entry from reuse, the
 *      decision written into the intent, an unpublished block freed if the
 *      intent owns it, then every stripe lock of the slot released; a REF
 *      (a count change or an abort in flight) flags the slot's record for
 *      the entry and recounts the entry without the slot (repair.c); a
 *      SEAL has the sealed object's waiter stack closed under a pin of
 *      the reaper's (store/object/refs.c), which a reap run inside a
 *      create of the reaper's own (its stripe-lock wait, dir.c: its own
 *      intent armed) leaves to a later reap, the slot given back;
 *   3. an entry the slot was ending (end.c): finished;
 *   4. every ledger record: FLAG goes up, the record's pins and holds come
 *      off the entry (or the slot's unsealed entry is aborted with them),
 *      and the record is left as its key alone (flagged still, with no
 *      counts, until the entry is recounted if a repair stamped the
 *      reaper meanwhile, repair.c: shoal__reap_cross_out); a record
 *      found FLAGGED was in flight when an earlier reaper died, or owes
 *      its entry that recount: its entry is recounted;
 *   5. unsealed entries of the slot that no record names (it dropped its
 *      holds on them: counted in `orphans`) are aborted, by a scan of the
 *      directory, only if there can be any.  The scan goes in chunks of
 *      SHOAL__ORPHAN_CHUNK slots and records after each how far it got
 *      (orphan_scan, layout.h); the next reaper goes on from there (a
 *      chunk run twice aborts nothing twice: an aborted entry is no
 *      longer unsealed);
 *   6. its allocator cache goes back to the slabs, its waiter records;
 *   7. the slot is cleared and freed (release: publishes the cleared ledger,
 *      cache and records to the next claimer, whose claim CAS acquires).
 *      Its share of the store's counters stays in it.
 * Closing a store runs the same steps on the caller's own slot.
 *
 * Waits.  A reap waits for words other processes hold: a REPAIR on an
 * entry it changes, the repair word, the heap's lock, a live reaper's
 * flag (store/object/, repair.c, heap.c, ledger.c).  Each is held by a live
 * process for a few writes, but one that stays alive and never lets go
 * (stopped, or a neighbour that wrote the word and lives on) would hold
 * the reaper, and everyone who reaps, for ever.  So the waits of one
 * reap_all share one bound, SHOAL__LOCK_MIN_MS from the first of them
 * (deadline.h), and a slot whose clean meets a wait past it is given
 * back: its state word goes back to what it was (a dead owner, or a dead
 * reaper), exactly as if this reaper had died at that step, and the next
 * reap does the rest (every step can be run again, above).  A close
 * whose clean stops so leaves its slot LIVE: its reaper, once the process
 * has exited, does the rest.
 *
 * Work.  Step 5 reads the whole directory (dir_slots x 64 bytes: 64 MiB at
 * the default max_objects, about a second in a coverage build), which is
 * not a wait for anyone but still time.  A reap that a wait runs (a get's
 * or a create's slice, a stripe lock's dead holder) passes its caller's
 * deadline (shoal__proc_reap_until): once the scan has done a chunk past
 * it, the slot is given back as above with the scan's progress recorded,
 * and the next reap goes on.  So a get with a 22 ms timeout pays for one
 * chunk, not for the dead process's whole scan; every reap still does a
 * chunk at least, so the scan ends, and an explicit reap
 * (shoal_store_reap: the fork server's, an attach's, a claim's) and a
 * close finish it.  The steps before it are not bounded so: they are
 * proportional to what the dead process held (its ledger, its records),
 * and the stripe locks a waiter needs go in step 2.
 *
 * Memory order: PROC- of layout.h (struct shoal__proc) for the state
 * word; a dead slot's records are ordered by its death for its reaper.
 *
 * Crash points (crash.h) mark each step, for the second death: the test
 * kills a reaper at each of them and checks that its replacement finishes.
 * What a crash still costs: a block in the middle of a slab push or pop
 * (heap.c) may leak; nothing is freed twice or early.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* Start time of a running (non-zombie) pid into *start, 0 if it is gone:
 * 0, or -errno when /proc could not be read for a reason that says
 * nothing about the pid (this process's file table full, EMFILE or
 * ENFILE; no memory; /proc not mounted): the answer is then unknown. */
int shoal__proc_stat_start(int pid, uint64_t *start)
{
	char path[64], buf[1024];
	unsigned long long t = 0;
	const char *p;
	char state;
	ssize_t n;
	int fd;

	*start = 0;
	if (pid <= 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ESRCH ? 0 : -errno;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%*u %*u %*d %*d %*d %*d %*d %*d %llu", &state, &t) != 2)
		return 0;
	if (state != 'Z' && state != 'X')
		*start = t ? (uint64_t)t : 1;
	return 0;
}

/* Start time of a running (non-zombie) pid, or 0 if it is gone (or if
 * /proc cannot be read: callers that decide a death use
 * shoal__proc_stat_start, which tells the two apart). */
uint64_t shoal__proc_start_time(int pid)
{
	uint64_t start;

	return shoal__proc_stat_start(pid, &start) ? 0 : start;
}

static bool shoal__slot_dead(const struct shoal_store *s, uint32_t slot,
			     uint32_t depth);

/* A REAPING slot's reaper (`who`, layout.h) is gone: its slot is free or
 * has another generation, or its process is dead.  depth bounds a chain of
 * dead reapers that a corrupt table could make a cycle. */
static bool shoal__reaper_dead(const struct shoal_store *s, uint32_t who,
			       uint32_t depth)
{
	uint32_t slot = who >> 20;
	uint64_t st;

	if (slot >= s->geo.max_procs || depth > s->geo.max_procs)
		return true;
	/* PROC-A1 */
	st = atomic_load_explicit(&s->procs[slot].state, memory_order_acquire);
	if (SHOAL__PROC_PHASE(st) == SHOAL__PROC_FREE ||
	    (SHOAL__PROC_GEN(st) & 0xfffffu) != (who & 0xfffffu))
		return true;
	return shoal__slot_dead(s, slot, depth + 1);
}

static bool shoal__slot_dead(const struct shoal_store *s, uint32_t slot,
			     uint32_t depth)
{
	const struct shoal__proc *p = &s->procs[slot];
	uint64_t st = atomic_load_explicit(&p->state, memory_order_acquire); /* PROC-A1 */
	uint64_t rec, now;
	int pid = SHOAL__PROC_PID(st);

	if (SHOAL__PROC_PHASE(st) == SHOAL__PROC_FREE)
		return false;
	if (SHOAL__PROC_PHASE(st) == SHOAL__PROC_REAPING)
		return shoal__reaper_dead(s, (uint32_t)st, depth);
	/* Our own pid is not enough to be ours: a dead predecessor's slot
	 * names it too once we reuse its pid, and its start time is not
	 * ours (read below, as anyone's). */
	/* /proc unreadable here (our file table full): not known dead, so
	 * not dead; its reap waits for a look that can tell (a reap too
	 * late is a leak for a while, one too early an early free). */
	if (shoal__proc_stat_start(pid, &now))
		return false;
	if (!now)
		return true;
	/* Relaxed: 0, the owner's or a take-over's mark, after PROC-A1
	 * (layout.h). */
	rec = atomic_load_explicit(&p->start_time, memory_order_relaxed);
	if (rec & SHOAL__START_TAKEN) /* the dead owner's pid, or unknown */
		return (uint32_t)rec == (uint32_t)pid && pid != getpid();
	return rec && rec != now;
}

/* True if the process owning (or reaping) the slot is gone. */
bool shoal__proc_dead(const struct shoal_store *s, uint32_t slot)
{
	return slot < s->geo.max_procs && shoal__slot_dead(s, slot, 0);
}

/* True if the slot is being reaped by a live process other than this one
 * (whose flagged ledger records are then its own business). */
bool shoal__proc_reaped_by_other(const struct shoal_store *s, uint32_t slot)
{
	uint64_t st = atomic_load_explicit(&s->procs[slot].state,
					   memory_order_acquire); /* PROC-A1 */

	return SHOAL__PROC_PHASE(st) == SHOAL__PROC_REAPING &&
	       (uint32_t)st != SHOAL__PROC_REAPER(s->slot, s->slot_gen) &&
	       !shoal__reaper_dead(s, (uint32_t)st, 0);
}

/* procs_hwm >= i + 1 (relaxed: see layout.h). */
static void shoal__hwm_raise(struct shoal_store *s, uint32_t i)
{
	uint32_t h = atomic_load_explicit(&s->hdr->procs_hwm, memory_order_relaxed);

	while (h < i + 1 &&
	       !atomic_compare_exchange_weak_explicit(&s->hdr->procs_hwm, &h,
						      i + 1, memory_order_relaxed,
						      memory_order_relaxed))
		;
}

static void shoal__proc_take(struct shoal_store *s, uint32_t i, uint32_t gen,
			     uint64_t my_start);

static int shoal__proc_try_claim(struct shoal_store *s, uint32_t i,
				 uint64_t my_start)
{
	struct shoal__proc *p = &s->procs[i];
	/* Relaxed: a guess; the CAS below decides (PROC-A1). */
	uint64_t st = atomic_load_explicit(&p->state, memory_order_relaxed);
	uint32_t gen = (SHOAL__PROC_GEN(st) + 1) & 0xffffff;
	uint64_t n = SHOAL__PROC_STATE(gen, SHOAL__PROC_LIVE, getpid());

	if (SHOAL__PROC_PHASE(st) != SHOAL__PROC_FREE)
		return -EBUSY;
	/* Before the CAS: a reap looks below hwm only, so a claimer killed
	 * right after its CAS must leave its slot under hwm already (the
	 * last reserve slot has no higher claim to raise it later).  A raise
	 * for a CAS lost is harmless: hwm only bounds a scan. */
	shoal__hwm_raise(s, i);
	/* PROC-A1: pairs with PROC-R1, the release that freed the slot (its
	 * ledger, cache and records are clear). */
	if (!atomic_compare_exchange_strong_explicit(&p->state, &st, n,
						     memory_order_acquire,
						     memory_order_relaxed))
		return -EBUSY;
	shoal__proc_take(s, i, gen, my_start);
	return 0;
}

/* The rest of a claim, once its CAS made slot i this process's (LIVE,
 * generation gen, its pid): its start time, then its records cleared. */
static void shoal__proc_take(struct shoal_store *s, uint32_t i, uint32_t gen,
			     uint64_t my_start)
{
	struct shoal__proc *p = &s->procs[i];

	/* PROC-R2: after the claim, for a take-over that reads it
	 * (shoal__proc_try_adopt). */
	atomic_store_explicit(&p->start_time, my_start, memory_order_release);
	/* Relaxed: our own words (PROC- of layout.h). */
	atomic_store_explicit(&p->role, SHOAL__ROLE_STORE, memory_order_relaxed);
	memset(&p->intent, 0, sizeof p->intent);
	memset(&p->free, 0, sizeof p->free);
	memset(p->fills, 0, sizeof p->fills);
	atomic_store_explicit(&p->orphans, 0, memory_order_relaxed);
	atomic_store_explicit(&p->orphan_scan, 0, memory_order_relaxed);
	/* A FREE slot is stamped by nobody (only a LIVE one mid change). */
	atomic_store_explicit(&p->stamps, 0, memory_order_relaxed);
	s->stamps_seen = 0;
	s->slot = i;
	s->slot_gen = gen;
	s->me = p;
	shoal__ledger_open(s);
	s->win = (struct shoal__win_stat){0, 0, 0}; /* a new owner (dir.c) */
	atomic_store_explicit(&s->id_win, 1, memory_order_relaxed);
}

static int shoal__reap_all_locked(struct shoal_store *s)
{
	int n;

	shoal__lock(s);
	n = shoal__proc_reap_all(s);
	shoal__unlock(s);
	return n;
}

/* The slots a process may keep: all but the claim's reserve (layout.h). */
static uint32_t shoal__proc_keepable(const struct shoal_store *s)
{
	return s->geo.max_procs - SHOAL__PROC_RESERVE;
}

static int shoal__claim_kept(struct shoal_store *s, uint64_t my_start)
{
	for (uint32_t i = 0; i < shoal__proc_keepable(s); i++)
		if (shoal__proc_try_claim(s, i, my_start) == 0)
			return 0;
	return SHOAL_ETOOMANYPROCS;
}

/* A reserve slot whose clean stopped at a wait (the file header) is
 * left as a dead process's: its state word names pid 0, which every death
 * test reads as gone, so the next reap finishes the clean.  This process
 * never touches the slot again, exactly as if it had died there; a slot it
 * kept LIVE instead would be taken while it lives, and one process that
 * met such waits twice would hold both.  Release (PROC-R1): what the clean
 * did, for that reaper, whose CAS acquires (PROC-A1). */
static void shoal__proc_abandon(struct shoal_store *s, uint32_t slot,
				uint32_t gen)
{
	uint64_t mine = SHOAL__PROC_STATE(gen, SHOAL__PROC_LIVE, getpid());

	atomic_compare_exchange_strong_explicit(
		&s->procs[slot].state, &mine,
		SHOAL__PROC_STATE(gen, SHOAL__PROC_LIVE, 0),
		memory_order_release, memory_order_relaxed); /* PROC-R1 */
}

/* A dead slot that holds nothing a reaper would have to finish: no
 * operation in flight (intent, free record, fills, their block
 * handoffs), no ledger record, waiter record, orphan or stamp.  Only its
 * allocator cache may hold blocks (a reaper's end frees into it), which
 * is whole at any instruction of its owner's (heap.c) and goes back to
 * the slabs as a clean sends it.  Read while the slot is dead: its words
 * change only under its state word, by a reaper that holds it (live: the
 * slot does not read dead) or held it and gave it back (its steps done:
 * they only empty records).  Relaxed: PROC-A1, the caller's load of the
 * state word, orders them. */
static bool shoal__proc_empty(const struct shoal_store *s, uint32_t slot)
{
	const struct shoal__proc *p = &s->procs[slot];
	_Atomic uint64_t *t;
	uint32_t mask;

	if (atomic_load_explicit(&p->intent.op, memory_order_relaxed) ||
	    atomic_load_explicit(&p->intent.ref, memory_order_relaxed) ||
	    atomic_load_explicit(&p->intent.block_off, memory_order_relaxed) ||
	    atomic_load_explicit(&p->free.active, memory_order_relaxed) ||
	    atomic_load_explicit(&p->free.block_off, memory_order_relaxed) ||
	    atomic_load_explicit(&p->orphans, memory_order_relaxed) ||
	    atomic_load_explicit(&p->stamps, memory_order_relaxed))
		return false;
	for (uint32_t i = 0; i < SHOAL__PROC_FILLS; i++)
		if (p->fills[i].stage ||
		    atomic_load_explicit(&p->fills[i].block_off, memory_order_relaxed))
			return false;
	for (uint32_t i = 0; i < SHOAL__PROC_WAITERS; i++)
		if (atomic_load_explicit(&p->waiters[i].state, memory_order_relaxed) !=
		    SHOAL__W_FREE)
			return false;
	t = shoal__ledger_table(s, slot, &mask);
	for (uint32_t i = 0; i <= mask; i++)
		if (atomic_load_explicit(&t[i], memory_order_relaxed))
			return false;
	return true;
}

/*
 * Both reserve slots taken by dead claimers (each killed in its reap,
 * the second before it had reaped the first): one is taken over as it
 * is, if it is empty (above), which a claimer's slot is but for the few
 * instructions of a pin or an end of its own.  Its start time becomes a
 * take-over's mark first (SHOAL__START_TAKEN | the dead claimer's pid,
 * layout.h), which every take-over of that slot writes alike: once the
 * CAS names this process, no reaper reads the dead claimer's start time
 * (nor another claimer's) against it, its start time unknown until the
 * take writes it; while the word still names the dead claimer (killed
 * before the CAS, or the CAS lost to a reaper that then gives the slot
 * back) the slot reads dead, also once a live process reuses that pid.
 * (A 0 there, unknown, read alive for as long as any process had that
 * pid; its own start time, the winner of two take-overs could get the
 * loser's and read dead while it lived.)  Only the dead claimer's start
 * time is replaced: a slot reaped and claimed since its state word was
 * read shows that claim when the word is read again after the start
 * time (PROC-A2), and the take-over leaves it.  After the CAS the slot
 * is this process's, reaped as any.  The dead claimer's REAPING words
 * elsewhere name the old generation: a reaper reads them dead.
 */
/* The mark for a slot whose state word is st: a LIVE word's pid; a
 * REAPING word's low half is its reaper's slot and generation, not a pid
 * (which a new owner's pid could equal: its slot would read dead), and
 * its death test reads no start time: pid 0, which no owner has. */
static uint64_t shoal__taken_mark(uint64_t st)
{
	return SHOAL__START_TAKEN |
	       (SHOAL__PROC_PHASE(st) == SHOAL__PROC_LIVE
			? (uint32_t)SHOAL__PROC_PID(st)
			: 0u);
}

static int shoal__proc_try_adopt(struct shoal_store *s, uint32_t i,
				 uint64_t my_start)
{
	struct shoal__proc *p = &s->procs[i];
	uint64_t st = atomic_load_explicit(&p->state, memory_order_acquire); /* PROC-A1 */
	uint32_t gen = (SHOAL__PROC_GEN(st) + 1) & 0xffffff;
	uint64_t n = SHOAL__PROC_STATE(gen, SHOAL__PROC_LIVE, getpid());
	uint64_t was;

	if (SHOAL__PROC_PHASE(st) == SHOAL__PROC_FREE || !shoal__proc_dead(s, i) ||
	    shoal__proc_guarded(s, i, st) || !shoal__proc_empty(s, i))
		return -EBUSY;
	/* A start time read here is the dead owner's, unless the slot was
	 * reaped and claimed since the state word was read: a new owner's
	 * start time comes with its claim (PROC-A2), so the word read
	 * again shows that claim.  Marked then, the new owner's slot would
	 * read alive once it died for as long as any process had its pid. */
	was = atomic_load_explicit(&p->start_time, memory_order_acquire); /* PROC-A2 */
	/* Relaxed: PROC-A2 orders it after the load above. */
	if (atomic_load_explicit(&p->state, memory_order_relaxed) != st)
		return -EBUSY;
	/* Relaxed: ordered before the CAS by its release.  Fails if the
	 * slot was claimed since: no start time of a process that lives
	 * equals a dead one's (but one started in the same clock tick). */
	atomic_compare_exchange_strong_explicit(
		&p->start_time, &was, shoal__taken_mark(st),
		memory_order_relaxed, memory_order_relaxed);
	/* PROC-A1 (what the dead claimer and any reaper of it did); its
	 * release half publishes the mark with the new owner. */
	if (!atomic_compare_exchange_strong_explicit(&p->state, &st, n,
						     memory_order_acq_rel,
						     memory_order_relaxed))
		return -EBUSY;
	SHOAL__CRASH(s, CLAIM_ADOPTED);
	shoal__ledger_clear(s, i); /* empty at its level; its base table too */
	shoal__proc_take(s, i, gen, my_start);
	shoal__heap_cache_flush(&s->heap, &p->cache);
	return 0;
}

/* The reap from reserve slot i (this process's now), its release, and
 * the claim of a slot it freed. */
static int shoal__claim_from(struct shoal_store *s, uint32_t i,
			     uint64_t my_start)
{
	SHOAL__CRASH(s, CLAIM_RESERVED);
	shoal__reap_all_locked(s);
	if (shoal__proc_release(s))
		shoal__proc_abandon(s, i, s->slot_gen);
	s->slot = UINT32_MAX; /* no slot, as before the claim */
	return shoal__claim_kept(s, my_start);
}

/* Every other slot taken: a reap from a reserve slot, which is a full
 * identity (its REAPING words name it; its intent, ledger and free record
 * make each of its steps repairable), then the reserve given back (a
 * clean of its own, as a close) and one more look at the others.  Killed
 * in between, the reserve slot is a dead process's like any other: the
 * next claimer reaps it from the other reserve slot, first of all
 * (shoal__proc_reap_until).  With both reserve slots dead claimers', one
 * that holds nothing to finish is taken over as it is (try_adopt), which
 * is all of a claimer's life but its own pins and ends: only two
 * claimers killed in those leave an attach refused until a process with
 * a slot reaps. */
static int shoal__claim_by_reaping(struct shoal_store *s, uint64_t my_start)
{
	for (uint32_t i = shoal__proc_keepable(s); i < s->geo.max_procs; i++)
		if (shoal__proc_try_claim(s, i, my_start) == 0)
			return shoal__claim_from(s, i, my_start);
	for (uint32_t i = shoal__proc_keepable(s); i < s->geo.max_procs; i++)
		if (shoal__proc_try_adopt(s, i, my_start) == 0)
			return shoal__claim_from(s, i, my_start);
	return SHOAL_ETOOMANYPROCS;
}

/* A slot names its owner by pid and start time, so that a reaper can
 * tell the owner's death from a new process that reused its pid.  A
 * start time this process cannot read (its file table full: EMFILE)
 * would leave the slot taken for alive as long as the pid exists, after
 * the owner's death too: the open fails instead, with that error. */
int shoal__proc_claim(struct shoal_store *s)
{
	uint64_t my_start;
	int rc = shoal__proc_stat_start(getpid(), &my_start);

	if (rc)
		return rc;
	if (!my_start)
		return -ESRCH; /* /proc says we are not running: no /proc */
	if (!shoal__membarrier_ok())
		return SHOAL_ENOMEMBARRIER; /* repair.c: its stamps prove nothing */
	if (shoal__claim_kept(s, my_start) == 0)
		return 0;
	return shoal__claim_by_reaping(s, my_start);
}

/* ------------------------------------------------------------------ */
/* The whole clean.                                                    */

static int shoal__proc_clean(struct shoal_store *s, uint32_t slot,
			     uint32_t gen, struct shoal__later *by,
			     struct shoal__deadline until)
{
	struct shoal__proc *p = &s->procs[slot];

	if (shoal__reap_records(s, slot, gen, by, until))
		return -ETIMEDOUT;
	shoal__heap_cache_flush(&s->heap, &p->cache);
	shoal__waiters_reap(s, slot);
	shoal__ledger_clear(s, slot);
	memset(&p->intent, 0, sizeof p->intent);
	memset(&p->free, 0, sizeof p->free);
	memset(p->fills, 0, sizeof p->fills);
	/* Relaxed: published by PROC-R1 below. */
	atomic_store_explicit(&p->orphans, 0, memory_order_relaxed);
	atomic_store_explicit(&p->orphan_scan, 0, memory_order_relaxed);
	atomic_store_explicit(&p->start_time, 0, memory_order_relaxed);
	SHOAL__CRASH(s, REAP_CLEARED);
	/* PROC-R1: the cleared ledger, cache and records are visible to the
	 * next claimer (its claim CAS acquires, PROC-A1).  The counters
	 * stay. */
	atomic_store_explicit(&p->state,
			      SHOAL__PROC_STATE(gen, SHOAL__PROC_FREE, 0),
			      memory_order_release); /* PROC-R1 */
	return 0;
}

/* A clean that stopped at a wait: the slot's state goes back to what it
 * was (st: a dead owner's, or a dead reaper's), as if this reaper had
 * died there (PROC-R1: what it did is visible to the next reaper, whose
 * CAS acquires, PROC-A1).  Relaxed on failure: nothing to hand on. */
static void shoal__proc_give_back(struct shoal_store *s, uint32_t slot,
				  uint64_t mine, uint64_t st)
{
	atomic_compare_exchange_strong_explicit(&s->procs[slot].state, &mine,
						st, memory_order_release,
						memory_order_relaxed); /* PROC-R1 */
}

static bool shoal__proc_reap_one(struct shoal_store *s, uint32_t slot,
				 struct shoal__later *by,
				 struct shoal__deadline until)
{
	struct shoal__proc *p = &s->procs[slot];
	uint64_t st = atomic_load_explicit(&p->state, memory_order_acquire); /* PROC-A1 */
	uint32_t gen = SHOAL__PROC_GEN(st);
	uint64_t mine = SHOAL__PROC_STATE(gen, SHOAL__PROC_REAPING,
					  SHOAL__PROC_REAPER(s->slot, s->slot_gen));

	if (SHOAL__PROC_PHASE(st) == SHOAL__PROC_FREE ||
	    !shoal__proc_dead(s, slot) || shoal__proc_guarded(s, slot, st))
		return false; /* free, alive, or kept for its guardian: guard.c */
	/* PROC-A1 (a stopped reaper's PROC-R1); the release half hands
	 * nothing on: a reaper that dies is replaced by its death's test. */
	if (!atomic_compare_exchange_strong_explicit(&p->state, &st, mine,
						     memory_order_acq_rel,
						     memory_order_relaxed))
		return false;
	SHOAL__CRASH(s, REAP_CLAIMED);
	if (shoal__proc_clean(s, slot, gen, by, until)) {
		shoal__proc_give_back(s, slot, mine, st);
		return false;
	}
	atomic_fetch_add_explicit(&s->hdr->reaped, 1, memory_order_relaxed); /* stats */
	shoal__event_signal(&s->hdr->space);
	return true;
}

/* The reap's waits, the heap's lock's among them, share one bound; its
 * orphan scans stop at the first chunk past `until` (the file header). */
int shoal__proc_reap_until(struct shoal_store *s, struct shoal__deadline until)
{
	/* Acquire, but nothing releases hwm (layout.h): relaxed would do.
	 * A slot claimed later is the next reap's (its word: PROC-A1). */
	uint32_t hwm = atomic_load_explicit(&s->hdr->procs_hwm,
					    memory_order_acquire);
	struct shoal__later by = shoal__lock_by(0);
	struct shoal__later *outer = s->heap.lock_by;
	int n = 0;

	if (s->reaping)
		return 0; /* a wait inside a reap: the outer one goes on */
	s->reaping = true;
	s->heap.lock_by = &by;
	if (hwm > s->geo.max_procs)
		hwm = s->geo.max_procs;
	/* The claim's reserve first (layout.h): a dead claimer there holds
	 * little, and its slot is the identity the next claimer needs. */
	for (uint32_t i = shoal__proc_keepable(s); i < hwm; i++)
		if (i != s->slot && shoal__proc_reap_one(s, i, &by, until))
			n++;
	for (uint32_t i = 0; i < hwm && i < shoal__proc_keepable(s); i++)
		if (i != s->slot && shoal__proc_reap_one(s, i, &by, until))
			n++;
	s->heap.lock_by = outer;
	s->reaping = false;
	return n;
}

int shoal__proc_reap_all(struct shoal_store *s)
{
	return shoal__proc_reap_until(s, (struct shoal__deadline){INT64_MAX});
}

/* Close: a clean that stops at a wait (the file header) leaves the slot
 * LIVE, for its reaper once this process has exited: -ETIMEDOUT (a claim
 * gives up its reserve slot then instead, shoal__proc_abandon). */
int shoal__proc_release(struct shoal_store *s)
{
	struct shoal__later by = shoal__lock_by(0);
	int rc = 0;

	if (s->me) {
		s->reaping = true;
		s->heap.lock_by = &by;
		rc = shoal__proc_clean(s, s->slot, s->slot_gen, &by,
				       (struct shoal__deadline){INT64_MAX});
		s->heap.lock_by = NULL;
		s->reaping = false;
	}
	s->me = NULL;
	s->ledger_used = 0;
	return rc;
}

int shoal__store_reap_until(struct shoal_store *s, struct shoal__deadline until)
{
	int n;

	if (!s || s->readonly)
		return s ? SHOAL_EREADONLY : -EINVAL;
	shoal__lock(s);
	n = shoal__proc_reap_until(s, until);
	shoal__unlock(s);
	return n;
}

SHOAL_API int shoal_store_reap(struct shoal_store *store)
{
	if (!store || store->readonly)
		return store ? SHOAL_EREADONLY : -EINVAL;
	return shoal__reap_all_locked(store);
}
