/* SPDX-License-Identifier: MIT */
/*
 * store/proc.c - the process table: claiming a slot, deciding death, reaping.
 *
 * Each process that opens a store claims a slot with one CAS on the slot's
 * state word, which names the owner's pid (layout.h), so a slot is never
 * owned by an unknown process.  The owner then records its start time
 * (field 22 of /proc/<pid>/stat), which makes its identity survive pid
 * reuse.  A process is dead when /proc has no such pid, the pid is a
 * zombie, or the pid's start time differs from the recorded one.  Death is
 * never decided by a timeout or a heartbeat.
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
 *      the entry and recounts the entry without the slot (repair.c);
 *   3. an entry the slot was ending (end.c): finished;
 *   4. every ledger record: FLAG goes up, the record's pins and holds come
 *      off the entry (or the slot's unsealed entry is aborted with them),
 *      and the record is left as its key alone; a record found FLAGGED was
 *      in flight when an earlier reaper died: its entry is recounted;
 *   5. unsealed entries of the slot that no record names (it dropped its
 *      holds on them: counted in `orphans`) are aborted, by a scan of the
 *      directory, only if there can be any;
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

/* Start time of a running (non-zombie) pid, or 0 if it is gone. */
uint64_t shoal__proc_start_time(int pid)
{
	char path[64], buf[1024];
	unsigned long long start = 0;
	const char *p;
	char state;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
	if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%*u %*u %*d %*d %*d %*d %*d %*d %llu", &state, &start) != 2)
		return 0;
	if (state == 'Z' || state == 'X')
		return 0;
	return start ? (uint64_t)start : 1;
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
	if (pid == getpid())
		return false;
	now = shoal__proc_start_time(pid);
	if (!now)
		return true;
	/* Relaxed: 0 or the owner's, after PROC-A1 (layout.h). */
	rec = atomic_load_explicit(&p->start_time, memory_order_relaxed);
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
	/* PROC-A1: pairs with PROC-R1, the release that freed the slot (its
	 * ledger, cache and records are clear). */
	if (!atomic_compare_exchange_strong_explicit(&p->state, &st, n,
						     memory_order_acquire,
						     memory_order_relaxed))
		return -EBUSY;
	shoal__hwm_raise(s, i);
	/* Relaxed: our own words (PROC- of layout.h). */
	atomic_store_explicit(&p->start_time, my_start, memory_order_relaxed);
	atomic_store_explicit(&p->role, SHOAL__ROLE_STORE, memory_order_relaxed);
	memset(&p->intent, 0, sizeof p->intent);
	memset(&p->free, 0, sizeof p->free);
	memset(p->fills, 0, sizeof p->fills);
	atomic_store_explicit(&p->orphans, 0, memory_order_relaxed);
	/* A FREE slot is stamped by nobody (only a LIVE one mid change). */
	atomic_store_explicit(&p->stamps, 0, memory_order_relaxed);
	s->stamps_seen = 0;
	s->slot = i;
	s->slot_gen = gen;
	s->me = p;
	shoal__ledger_open(s);
	/* a new owner: a new base (store/dir.c) */
	s->win = (struct shoal__win_stat){0, 0, 0};
	atomic_store_explicit(&s->id_win, 1, memory_order_relaxed);
	return 0;
}

static int shoal__reap_all_locked(struct shoal_store *s)
{
	int n;

	shoal__lock(s);
	n = shoal__proc_reap_all(s);
	shoal__unlock(s);
	return n;
}

int shoal__proc_claim(struct shoal_store *s)
{
	uint64_t my_start = shoal__proc_start_time(getpid());

	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < s->geo.max_procs; i++)
			if (shoal__proc_try_claim(s, i, my_start) == 0)
				return 0;
		if (pass == 0 && shoal__reap_all_locked(s) == 0)
			break;
	}
	return SHOAL_ETOOMANYPROCS;
}

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
	/* Relaxed: a dead slot's records (the file header). */
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

/* A seal whose waiters may not have been woken: if the entry is still the
 * one sealed (its generation, no longer unsealed), its stack is closed
 * now (closing a closed stack does nothing). */
static void shoal__reap_seal(struct shoal_store *s, struct shoal__intent *in,
			     uint32_t idx)
{
	/* ENT-A2 */
	uint64_t c = atomic_load_explicit(&s->dir[idx].ctl, memory_order_acquire);

	if (SHOAL__CTL_GEN(c) == in->gen && SHOAL__CTL_STATE(c) != SHOAL__E_CREATED)
		shoal__waiters_close(s, &s->dir[idx]);
}

static int shoal__reap_intent(struct shoal_store *s, uint32_t slot,
			      uint32_t gen, struct shoal__later *by)
{
	struct shoal__intent *in = &s->procs[slot].intent;
	/* REF-A2: a replaced reaper's REF-R2 below (a dead owner's own op
	 * is ordered by its death anyway); entry relaxed, as the intent's
	 * other words (the file header). */
	uint32_t op = atomic_load_explicit(&in->op, memory_order_acquire);
	uint32_t idx = atomic_load_explicit(&in->entry, memory_order_relaxed);
	int rc = 0;

	if (op == SHOAL__OP_CREATE) {
		rc = shoal__reap_create(s, slot, gen, in, by);
	} else if (op == SHOAL__OP_SEAL && idx <= s->dir_mask) {
		shoal__reap_seal(s, in, idx);
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
 * the entry recounted if a repair stamped us, repair.c).  A repair in
 * progress on the entry is let count the record first: the flag goes down
 * while this waits, until `by` (-ETIMEDOUT, the record as it was). */
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
			shoal__reap_cross_out(s, rec, idx, by); /* LG-R3 */
			return 0;
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
		if (r & SHOAL__LEDGER_FLAG) /* a dead reaper's, in flight */
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
static int shoal__reap_orphans(struct shoal_store *s, uint32_t slot,
			       uint32_t gen, struct shoal__later *by)
{
	int rc = 0;

	for (uint32_t i = 0; i <= s->dir_mask && !rc; i++)
		rc = shoal__reap_abort_unheld(s, slot, gen, i, by);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The whole clean.                                                    */

/* Steps 1 to 5; -ETIMEDOUT where a wait outlasted `by` (the file
 * header: the rest is left to the next reaper). */
static int shoal__proc_clean_records(struct shoal_store *s, uint32_t slot,
				     uint32_t gen, struct shoal__later *by)
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
	    shoal__reap_orphans(s, slot, gen, by))
		return -ETIMEDOUT;
	return 0;
}

static int shoal__proc_clean(struct shoal_store *s, uint32_t slot,
			     uint32_t gen, struct shoal__later *by)
{
	struct shoal__proc *p = &s->procs[slot];

	if (shoal__proc_clean_records(s, slot, gen, by))
		return -ETIMEDOUT;
	shoal__heap_cache_flush(&s->heap, &p->cache);
	shoal__waiters_reap(p);
	shoal__ledger_clear(s, slot);
	memset(&p->intent, 0, sizeof p->intent);
	memset(&p->free, 0, sizeof p->free);
	memset(p->fills, 0, sizeof p->fills);
	/* Relaxed: published by PROC-R1 below. */
	atomic_store_explicit(&p->orphans, 0, memory_order_relaxed);
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
				 struct shoal__later *by)
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
	if (shoal__proc_clean(s, slot, gen, by)) {
		shoal__proc_give_back(s, slot, mine, st);
		return false;
	}
	atomic_fetch_add_explicit(&s->hdr->reaped, 1, memory_order_relaxed); /* stats */
	shoal__event_signal(&s->hdr->space);
	return true;
}

/* The reap's waits, the heap's lock's among them, share one bound (the
 * file header). */
int shoal__proc_reap_all(struct shoal_store *s)
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
	for (uint32_t i = 0; i < hwm && i < s->geo.max_procs; i++)
		if (i != s->slot && shoal__proc_reap_one(s, i, &by))
			n++;
	s->heap.lock_by = outer;
	s->reaping = false;
	return n;
}

/* Close: a clean that stops at a wait (the file header) leaves the slot
 * LIVE, for its reaper once this process has exited. */
void shoal__proc_release(struct shoal_store *s)
{
	struct shoal__later by = shoal__lock_by(0);

	if (s->me) {
		s->reaping = true;
		s->heap.lock_by = &by;
		shoal__proc_clean(s, s->slot, s->slot_gen, &by);
		s->heap.lock_by = NULL;
		s->reaping = false;
	}
	s->me = NULL;
	s->ledger_used = 0;
}

SHOAL_API int shoal_store_reap(struct shoal_store *store)
{
	if (!store || store->readonly)
		return store ? SHOAL_EREADONLY : -EINVAL;
	return shoal__reap_all_locked(store);
}
