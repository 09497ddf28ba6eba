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
 * the reaper's pid elects one; a reaper that dies while REAPING is itself
 * detected by the same test and replaced):
 *   1. complete or roll back the intent (layout.h): release stripe locks it
 *      held, abort a half-made object or free its block, repair the counts
 *      of an entry whose pin/hold it was changing (object.c, REPAIR);
 *   2. for every ledger record: abort objects it created and never sealed,
 *      subtract its pins and holds from the entries (a DELETING entry whose
 *      pins reach zero is freed);
 *   3. return its allocator cache to the slabs;
 *   4. free the slot (release: publishes the cleared ledger and cache to
 *      the next claimer, whose claim CAS acquires).
 * Closing a store runs steps 2-4 on the caller's own slot.
 *
 * Limits (documented in the README): a process killed in the
 * one-instruction window between a CAS and the store that records it may
 * leak one block or leave one count one too high; it never causes a double
 * free or a premature free.  A reaper killed in the middle of step 2 may
 * subtract one record twice when it is replaced.
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

_Atomic uint64_t *shoal__proc_ledger(const struct shoal_store *s,
				     uint32_t slot)
{
	return s->ledgers + (uint64_t)slot * s->hdr->ledger_slots;
}

/* True if the process owning (or reaping) the slot is gone. */
bool shoal__proc_dead(const struct shoal_store *s, uint32_t slot)
{
	const struct shoal__proc *p = &s->procs[slot];
	uint64_t st = atomic_load_explicit(&p->state, memory_order_acquire);
	uint64_t rec, now;
	int pid = SHOAL__PROC_PID(st);

	if (SHOAL__PROC_PHASE(st) == SHOAL__PROC_FREE)
		return false;
	if (pid == getpid())
		return false;
	now = shoal__proc_start_time(pid);
	if (!now)
		return true;
	rec = atomic_load_explicit(&p->start_time, memory_order_relaxed);
	return SHOAL__PROC_PHASE(st) == SHOAL__PROC_LIVE && rec && rec != now;
}

static int shoal__proc_try_claim(struct shoal_store *s, uint32_t i,
				 uint64_t my_start)
{
	struct shoal__proc *p = &s->procs[i];
	uint64_t st = atomic_load_explicit(&p->state, memory_order_relaxed);
	uint32_t gen = (SHOAL__PROC_GEN(st) + 1) & 0xffffff;
	uint64_t n = SHOAL__PROC_STATE(gen, SHOAL__PROC_LIVE, getpid());

	if (SHOAL__PROC_PHASE(st) != SHOAL__PROC_FREE)
		return -EBUSY;
	/* Acquire: pairs with the release that freed the slot (its ledger
	 * and cache are clear). */
	if (!atomic_compare_exchange_strong_explicit(&p->state, &st, n,
						     memory_order_acquire,
						     memory_order_relaxed))
		return -EBUSY;
	atomic_store_explicit(&p->start_time, my_start, memory_order_relaxed);
	atomic_store_explicit(&p->role, SHOAL__ROLE_STORE, memory_order_relaxed);
	memset(&p->intent, 0, sizeof p->intent);
	s->slot = i;
	s->slot_gen = gen;
	s->me = p;
	s->ledger = shoal__proc_ledger(s, i);
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
		for (uint32_t i = 0; i < s->hdr->max_procs; i++)
			if (shoal__proc_try_claim(s, i, my_start) == 0)
				return 0;
		if (pass == 0 && shoal__reap_all_locked(s) == 0)
			break;
	}
	return SHOAL_ETOOMANYPROCS;
}

/* Step 1 for a CREATE intent.  True if the entry was published (step 2
 * then aborts it through the ledger). */
static bool shoal__reap_create(struct shoal_store *s, uint32_t slot,
			       struct shoal__intent *in, uint32_t gen)
{
	uint32_t idx = atomic_load_explicit(&in->entry, memory_order_relaxed);
	struct shoal__entry *e;
	uint64_t c;

	for (int k = 0; k < 2; k++) {
		uint32_t st = in->stripe[k];
		uint32_t owner = slot + 1;
		if (st < s->hdr->nstripes)
			atomic_compare_exchange_strong_explicit(
				&s->stripes[st], &owner, 0,
				memory_order_release, memory_order_relaxed);
	}
	if (in->stage == 1 && idx <= s->dir_mask) {
		e = &s->dir[idx];
		c = atomic_load_explicit(&e->ctl, memory_order_acquire);
		if (SHOAL__CTL_STATE(c) == SHOAL__E_CREATED &&
		    shoal__entry_creator(e) == SHOAL__CREATOR(slot, gen) &&
		    SHOAL__CTL_GEN(c) == in->gen)
			return true;
	}
	if (in->block_off)
		shoal__obj_free_block(s, in->block_off, in->block_size);
	return false;
}

/* Step 1.  Returns the entry whose ledger record step 2 must skip (its
 * counts were recounted, or it was never published), else UINT32_MAX. */
static uint32_t shoal__reap_intent(struct shoal_store *s, uint32_t slot,
				   uint32_t gen)
{
	struct shoal__intent *in = &s->procs[slot].intent;
	uint32_t op = atomic_load_explicit(&in->op, memory_order_acquire);
	uint32_t idx = atomic_load_explicit(&in->entry, memory_order_relaxed);
	uint32_t skip = UINT32_MAX;

	if (op == SHOAL__OP_CREATE) {
		if (!shoal__reap_create(s, slot, in, gen) && in->stage == 1)
			skip = idx; /* its hold was recorded, never published */
	} else if (op == SHOAL__OP_REF && idx <= s->dir_mask) {
		shoal__obj_repair(s, idx, slot);
		skip = idx;
	} else if (op == SHOAL__OP_FREE && in->stage == 0 && in->block_off) {
		shoal__obj_free_block(s, in->block_off, in->block_size);
	}
	atomic_store_explicit(&in->op, SHOAL__OP_NONE, memory_order_release);
	return skip;
}

/* Step 2: one ledger record of the slot. */
static void shoal__reap_record(struct shoal_store *s, uint32_t slot,
			       uint32_t gen, uint64_t r)
{
	uint32_t idx = SHOAL__LEDGER_KEY(r) - 1;
	struct shoal__entry *e;
	uint64_t c;

	if (idx > s->dir_mask)
		return;
	e = &s->dir[idx];
	c = atomic_load_explicit(&e->ctl, memory_order_acquire);
	if (SHOAL__CTL_STATE(c) == SHOAL__E_CREATED &&
	    shoal__entry_creator(e) == SHOAL__CREATOR(slot, gen))
		shoal__obj_abort_entry(s, idx, c, SHOAL__LEDGER_HOLDS(r));
	else
		shoal__obj_unref_dead(s, idx, SHOAL__LEDGER_PINS(r),
				      SHOAL__LEDGER_HOLDS(r));
}

static void shoal__reap_ledger(struct shoal_store *s, uint32_t slot,
			       uint32_t gen, uint32_t skip)
{
	_Atomic uint64_t *l = shoal__proc_ledger(s, slot);

	for (uint32_t i = 0; i <= s->ledger_mask; i++) {
		uint64_t r = atomic_load_explicit(&l[i], memory_order_relaxed);

		if (r && SHOAL__LEDGER_KEY(r) - 1 != skip)
			shoal__reap_record(s, slot, gen, r);
		if (r)
			atomic_store_explicit(&l[i], 0, memory_order_relaxed);
	}
}

/* Steps 1-3, then frees the slot (step 4). */
static void shoal__proc_clean(struct shoal_store *s, uint32_t slot,
			      uint32_t gen)
{
	struct shoal__proc *p = &s->procs[slot];

	shoal__fill_reap(s, slot);
	shoal__reap_ledger(s, slot, gen, shoal__reap_intent(s, slot, gen));
	shoal__heap_cache_flush(&s->heap, &p->cache);
	shoal__waiters_reap(p);
	memset(&p->intent, 0, sizeof p->intent);
	atomic_store_explicit(&p->start_time, 0, memory_order_relaxed);
	/* Release: the cleared ledger, cache and intent are visible to the
	 * next claimer (its claim CAS acquires). */
	atomic_store_explicit(&p->state,
			      SHOAL__PROC_STATE(gen, SHOAL__PROC_FREE, 0),
			      memory_order_release);
}

static bool shoal__proc_reap_one(struct shoal_store *s, uint32_t slot)
{
	struct shoal__proc *p = &s->procs[slot];
	uint64_t st = atomic_load_explicit(&p->state, memory_order_acquire);
	uint32_t gen = SHOAL__PROC_GEN(st);
	uint64_t mine = SHOAL__PROC_STATE(gen, SHOAL__PROC_REAPING, getpid());

	if (SHOAL__PROC_PHASE(st) == SHOAL__PROC_FREE ||
	    !shoal__proc_dead(s, slot))
		return false;
	if (!atomic_compare_exchange_strong_explicit(&p->state, &st, mine,
						     memory_order_acq_rel,
						     memory_order_relaxed))
		return false;
	shoal__proc_clean(s, slot, gen);
	atomic_fetch_add_explicit(&s->hdr->reaped, 1, memory_order_relaxed);
	shoal__event_signal(&s->hdr->space);
	return true;
}

int shoal__proc_reap_all(struct shoal_store *s)
{
	int n = 0;

	for (uint32_t i = 0; i < s->hdr->max_procs; i++)
		if (i != s->slot && shoal__proc_reap_one(s, i))
			n++;
	return n;
}

void shoal__proc_release(struct shoal_store *s)
{
	if (s->me)
		shoal__proc_clean(s, s->slot, s->slot_gen);
	s->me = NULL;
	s->ledger_used = 0;
}

SHOAL_API int shoal_store_reap(struct shoal_store *store)
{
	if (!store)
		return -EINVAL;
	return shoal__reap_all_locked(store);
}
