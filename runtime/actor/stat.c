/* SPDX-License-Identifier: MIT */
/*
 * runtime/actor/stat.c - the actors view of a tool: shoal_actor_stat (an
 * actor's row, what shoal_actor_info says and what its fixed struct
 * cannot) and shoal_actor_lanes (one row per caller's lane).
 *
 * Invariants: nothing here writes the segment or takes a lock (an inspect
 * handle maps it PROT_READ).  Every index read from the segment is
 * bounded before use: a hooked lane's number against max_lanes, a class
 * against nclasses, fill levels against the lane's capacity.  A lane
 * counts for the actor only while its owner record names this actor and
 * generation (a reused slot may still hold its predecessor's callers'
 * lanes: actlayout.h).  Reads are a snapshot of words that move: a row
 * may mix moments, never read out of bounds.
 *
 * The reason of the last death is the slot's `why`, which the fork
 * server now writes before RESTARTING as well as before DEAD
 * (actlayout.h): `why` in the row only once the actor is dead, as
 * shoal_actor_info has it, `last_death` always.
 */
#include <errno.h>
#include <string.h>

#include "ext.h"
#include "actor_int.h"

/* ABI: a later field takes a reserved word, never the size. */
static_assert(sizeof(struct shoal_actor_stat) == 464, "ABI: shoal_actor_stat");
static_assert(sizeof(struct shoal_lane_info) == 56, "ABI: shoal_lane_info");

/* Threads of the actor running a record of lane v (index + 1), from the
 * slot's `current` words (relaxed: a snapshot for a tool). */
static uint32_t shoal__lane_running(struct shoal__actor_slot *a, uint32_t v)
{
	uint32_t n = 0;

	for (uint32_t t = 0; t < SHOAL__ACT_THREADS; t++)
		n += SHOAL__CUR_LANE(atomic_load_explicit(&a->current[t],
							  memory_order_relaxed)) == v;
	return n;
}

static int shoal__stat_check(struct shoal_runtime *rt, struct shoal_actor a)
{
	return rt && a.magic == SHOAL_ACTOR_MAGIC && a.index < rt->v.max_actors &&
			       a.generation && a.klass < rt->v.nclasses
		       ? 0 : -EINVAL;
}

/* Lane k of actor slot a, if it is hooked and its owner record is this
 * actor's: its row in *out. */
static bool shoal__lane_row(struct shoal_runtime *rt, struct shoal__actor_slot *a,
			    struct shoal_actor actor, uint32_t k,
			    struct shoal_lane_info *out)
{
	/* ACT-A1: the lane's init and owner record, published by its hook. */
	uint32_t v = atomic_load_explicit(&a->lanes[k], memory_order_acquire);
	const struct shoal__lane_meta *m;
	struct shoal__lane_view l;
	uint32_t st, phase, head, tail, queued;

	if (!v || v > rt->v.max_lanes)
		return false;
	m = &rt->v.lmeta[v - 1];
	/* LP-A1: the owner record, as the taker wrote it. */
	st = atomic_load_explicit(&m->state, memory_order_acquire);
	phase = SHOAL__LANE_PHASE(st);
	if ((phase != SHOAL__L_OWNED && phase != SHOAL__L_CLOSED) ||
	    m->actor != actor.index || m->actor_gen != actor.generation)
		return false;
	l = shoal__lane_at(&rt->v, v - 1);
	/* Relaxed, the indices and `current`: counts for a tool, a
	 * snapshot (lane.h's order is for the records, not read here). */
	head = atomic_load_explicit(&l.ring->head, memory_order_relaxed);
	tail = atomic_load_explicit(&l.ring->tail, memory_order_relaxed);
	queued = tail - head;
	if (queued > l.capacity)
		queued = 0; /* torn between the loads, or a corrupt lane */
	*out = (struct shoal_lane_info){
		.caller_pid = shoal__creator_pid(rt->store, m->owner),
		.queued = queued,
		.running = queued ? shoal__lane_running(a, v) : 0,
		.lane = v - 1,
		.calls_run = head,
	};
	return true;
}

SHOAL_API int shoal_actor_lanes(struct shoal_runtime *rt,
				struct shoal_actor actor,
				struct shoal_lane_info *out, size_t cap)
{
	struct shoal__actor_slot *a;
	struct shoal_lane_info row;
	int rc = shoal__stat_check(rt, actor), n = 0;

	if (rc || (cap && !out))
		return rc ? rc : -EINVAL;
	a = &rt->v.actors[actor.index];
	/* ACT-A3: the identity the lanes are compared with. */
	if (atomic_load_explicit(&a->generation, memory_order_acquire) !=
	    actor.generation)
		return SHOAL_EACTORDIED;
	for (uint32_t k = 0; k < SHOAL__ACT_LANES; k++) {
		if (!shoal__lane_row(rt, a, actor, k, &row))
			continue;
		if ((size_t)n < cap)
			out[n] = row;
		n++;
	}
	return n;
}

/* A NUL-terminated copy of a segment string of `size` bytes. */
static void shoal__copy_str(char *dst, const char *src, size_t size)
{
	memcpy(dst, src, size);
	dst[size - 1] = '\0';
}

SHOAL_API int shoal_actor_stat(struct shoal_runtime *rt, struct shoal_actor actor,
			       struct shoal_actor_stat *out)
{
	struct shoal__actor_slot *a;
	struct shoal_lane_info row;
	int rc = shoal__stat_check(rt, actor);

	if (rc || !out)
		return rc ? rc : -EINVAL;
	a = &rt->v.actors[actor.index];
	*out = (struct shoal_actor_stat){
		/* ACT-A2 on state (the identity and why before it); the rest
		 * relaxed: statistics and a pid, a snapshot. */
		.state = atomic_load_explicit(&a->state, memory_order_acquire),
		.pid = atomic_load_explicit(&a->pid, memory_order_relaxed),
		.restarts = atomic_load_explicit(&a->restarts, memory_order_relaxed),
		.max_restarts = a->max_restarts,
		.calls_run = atomic_load_explicit(&a->calls_run, memory_order_relaxed),
		.calls_failed = atomic_load_explicit(&a->calls_failed,
						     memory_order_relaxed),
	};
	/* ACT-A3 */
	if (atomic_load_explicit(&a->generation, memory_order_acquire) !=
	    actor.generation)
		return SHOAL_EACTORDIED;
	if (out->state == SHOAL__A_RECYCLING || out->state == SHOAL__A_FREE)
		out->state = SHOAL_ACTOR_DEAD;
	for (uint32_t k = 0; k < SHOAL__ACT_LANES; k++) {
		if (!shoal__lane_row(rt, a, actor, k, &row))
			continue;
		out->lanes++;
		out->calls_queued += row.queued;
	}
	shoal__copy_str(out->klass, rt->v.classes[actor.klass].name,
			sizeof out->klass);
	shoal__copy_str(out->name, a->name, sizeof out->name);
	shoal__copy_str(out->last_death, a->why, sizeof out->last_death);
	if (out->state == SHOAL_ACTOR_DEAD)
		memcpy(out->why, out->last_death, sizeof out->why);
	return 0;
}
