/* SPDX-License-Identifier: MIT */
/*
 * store/slots.c - what a layer above asks of a store handle (ext.h): its
 * hooks, its region's view, its role and creator word, and whether the
 * process behind a slot, a creator word or a pid is still alive.
 *
 * Invariants: nothing here changes shared state but the caller's own
 * slot's role word; every slot index read from a word another process
 * wrote is checked against the private geometry before use.  "Gone" is
 * never said of a live process (a reused slot or pid is told apart by its
 * generation or start time); it may be said late.
 */
#include <unistd.h>

#include "internal.h"

void shoal__store_set_ext_view(struct shoal_store *s, const void *view)
{
	s->ext_view = view;
}

const void *shoal__store_ext_view(const struct shoal_store *s)
{
	return s->ext_view;
}

void shoal__store_set_role(struct shoal_store *s, uint32_t role)
{
	/* Relaxed: read by tools, a hint (ext.h). */
	atomic_store_explicit(&s->me->role, role, memory_order_relaxed);
}

uint32_t shoal__store_creator(const struct shoal_store *s)
{
	return SHOAL__CREATOR(s->slot, s->slot_gen);
}

struct shoal__event *shoal__store_space(const struct shoal_store *s)
{
	return &s->hdr->space;
}

uint32_t shoal__store_spin(const struct shoal_store *s)
{
	return s->geo.spin_budget;
}

uint64_t shoal__store_capacity(const struct shoal_store *s)
{
	return s->geo.capacity;
}

struct shoal__crash *shoal__store_crash(struct shoal_store *s)
{
	return &s->crash;
}

void shoal__store_set_hooks(struct shoal_store *s,
			    const struct shoal__store_hooks *h)
{
	s->hooks = *h;
}

void shoal__store_blocking(struct shoal_store *s, bool blocked)
{
	shoal__blocking(s, blocked);
}

/* True once the process in store slot `slot` whose generation had the
 * bits `gen` under `mask` is gone: the slot free, reused by another
 * generation, or its pid dead.  Never a live process. */
static bool shoal__slot_gen_gone(const struct shoal_store *s, uint32_t slot,
				 uint32_t gen, uint32_t mask)
{
	uint64_t st;

	if (slot >= s->geo.max_procs)
		return true;
	/* PROC-A1 */
	st = atomic_load_explicit(&s->procs[slot].state, memory_order_acquire);
	if (SHOAL__PROC_PHASE(st) == SHOAL__PROC_FREE ||
	    (SHOAL__PROC_GEN(st) & mask) != (gen & mask))
		return true;
	return shoal__proc_dead(s, slot);
}

bool shoal__creator_gone(const struct shoal_store *s, uint32_t creator)
{
	return shoal__slot_gen_gone(s, creator >> 20, creator, 0xfffffu);
}

bool shoal__creator24_gone(const struct shoal_store *s, uint32_t c24)
{
	return shoal__slot_gen_gone(s, c24 >> 12, c24, 0xfffu);
}

int32_t shoal__creator_pid(const struct shoal_store *s, uint32_t creator)
{
	uint32_t slot = creator >> 20;
	uint64_t st;

	if (slot >= s->geo.max_procs)
		return 0;
	/* PROC-A1 (a snapshot: the pid goes with the generation it read) */
	st = atomic_load_explicit(&s->procs[slot].state, memory_order_acquire);
	if (SHOAL__PROC_PHASE(st) != SHOAL__PROC_LIVE ||
	    (SHOAL__PROC_GEN(st) & 0xfffffu) != (creator & 0xfffffu))
		return 0;
	return SHOAL__PROC_PID(st);
}

int32_t shoal__creator_who(const struct shoal_store *s, uint32_t creator,
			   uint32_t *role)
{
	uint32_t slot = creator >> 20;
	int32_t pid = shoal__creator_pid(s, creator);

	/* Relaxed: the owner's own word, a hint (PROC-A1's snapshot read
	 * the slot live and of that generation). */
	*role = pid ? atomic_load_explicit(&s->procs[slot].role, memory_order_relaxed)
		    : SHOAL__ROLE_STORE;
	return pid;
}

/* A live slot's owner with that pid (and start time) decides; a pid with
 * no live slot (not attached yet, or reaped), /proc with the start time
 * (0: any process with that pid counts).  A pid that a dead child left
 * and another process reused never counts. */
bool shoal__pid_alive(const struct shoal_store *s, int32_t pid, uint64_t start)
{
	uint64_t now;

	if (pid <= 0 || pid == getpid())
		return false;
	for (uint32_t i = 0; i < s->geo.max_procs; i++) {
		/* PROC-A1; the start time is then 0 or the owner's
		 * (relaxed: proc.c says why). */
		uint64_t st = atomic_load_explicit(&s->procs[i].state,
						   memory_order_acquire);

		if (SHOAL__PROC_PHASE(st) == SHOAL__PROC_LIVE &&
		    SHOAL__PROC_PID(st) == pid &&
		    (!start || atomic_load_explicit(&s->procs[i].start_time,
						    memory_order_relaxed) == start))
			return !shoal__proc_dead(s, i);
	}
	/* /proc unreadable here (our file table full, proc.c): not known
	 * gone, so alive; whoever asks waits a bounded time for a look that
	 * can tell rather than act on a live process's behalf. */
	if (shoal__proc_stat_start(pid, &now))
		return true;
	return now && (!start || now == start);
}

bool shoal__obj_known(const struct shoal_store *s, shoal_id id)
{
	uint64_t c;

	return shoal__dir_lookup(s, id, &c) >= 0;
}
