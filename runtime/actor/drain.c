/* SPDX-License-Identifier: MIT */
/*
 * runtime/drain.c - draining a dead actor's lanes and giving lanes back to
 * the pool (ACT-S1/ACT-S2, LP- and DR- of actlayout.h; the protocol is in
 * call.c's header).
 *
 * Invariants: only the holder of a lane's drain lock (lane_meta) consumes
 * its records once the actor is dead; the lock names its holder's store
 * slot, so a holder killed while it holds it is noticed (its slot freed or
 * reused, its process gone) and the lock taken over; nobody waits for a
 * live holder but an owner giving its lane back, for a bounded time.  A
 * lane goes back to the pool (FREE, release: LP-R1) only empty and
 * unhooked.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "ext.h"
#include "lane.h"
#include "actor_int.h"

/* ACT-S1 (seq_cst: after a hook or a publish) and ACT-A2 on state;
 * ACT-A3 on the generation. */
bool shoal__actor_gone(struct shoal__actor_slot *a, uint32_t gen)
{
	uint32_t st = atomic_load_explicit(&a->state, memory_order_seq_cst);

	return st == SHOAL__A_DEAD || st == SHOAL__A_FREE ||
	       st == SHOAL__A_RECYCLING || /* ACT-A3: */
	       atomic_load_explicit(&a->generation, memory_order_acquire) != gen;
}

/* Fails a record's results with code and message (nothing for a
 * fire-and-forget call).  Never waits for room in the store: whoever
 * drains a lane (the fork server among them) must not block on it, so a
 * message that finds no room is dropped and the code kept (fill_error). */
void shoal__call_fail(struct shoal_store *s, const struct shoal__call_rec *r,
		      int code, const char *why)
{
	shoal_id ret0 = {.hi = r->ret_hi, .lo = r->ret_lo};
	uint32_t n = r->num_returns <= SHOAL_MAX_RETURNS ? r->num_returns : 1;

	if (r->flags & SHOAL__CALL_NORESULT)
		return;
	for (uint32_t i = 0; i < n; i++)
		shoal__fill_error(s, shoal__ret_id(ret0, i), code, why, 0);
}

/*
 * The drain lock (lane_meta.drain, actlayout.h).  Taken with a CAS from 0
 * to this process's identity; a word naming a process that is gone (a
 * drainer killed while draining) is taken over with a CAS from that word,
 * so a dead holder never keeps it.  A live holder is never waited for:
 * lane_drain re-checks the lane after it lets go (DR-S2), so a drainer
 * that finds the lock held may leave the lane to the holder.
 *
 * DR-S1/DR-S2 (actlayout.h): the seq_cst fence before the CAS, and the
 * one after the store that lets go.  A drainer T whose CAS fails read the
 * holder H's word, which precedes H's store of 0 in the lock's
 * modification order; so T's fence precedes H's second fence in the total
 * order S, and H's re-check of the lane (relaxed loads after that fence)
 * sees every record published before T's fence: T's own (a caller's
 * re-check after its publish), or one whose caller saw the actor alive
 * before ACT-S2 (the fork server's).  The CAS is DR-A1 (the last
 * holder's DR-R1); relaxed on failure: the word is only looked at.
 */
static bool shoal__drain_lock(struct shoal_store *s, struct shoal__lane_meta *m)
{
	uint64_t me = SHOAL__DRAIN_HELD | shoal__store_creator(s);
	uint64_t cur = 0;

	atomic_thread_fence(memory_order_seq_cst); /* DR-S1 */
	if (atomic_compare_exchange_strong_explicit(&m->drain, &cur, me, /* DR-A1 */
						    memory_order_acquire,
						    memory_order_relaxed))
		return true;
	/* A word without the held bit is garbage: anyone may take it. */
	if ((cur & SHOAL__DRAIN_HELD) && !shoal__creator_gone(s, (uint32_t)cur))
		return false;
	/* DR-A1 (a gone holder released nothing: its death orders it). */
	return atomic_compare_exchange_strong_explicit(&m->drain, &cur, me,
						       memory_order_acquire,
						       memory_order_relaxed);
}

static void shoal__drain_unlock(struct shoal__lane_meta *m)
{
	atomic_store_explicit(&m->drain, 0, memory_order_release); /* DR-R1 */
	atomic_thread_fence(memory_order_seq_cst); /* DR-S2 */
}

/* The lane is still the one the drainer means: not given back, and, for
 * a drainer that is not its owner (p.slot set), still hooked where it was
 * found, for the actor generation it expects (0: any).  Checked after the
 * lock is taken and after each peek: the peek's acquire (LN-A1 of
 * ring/lane.c) orders a new owner's take and hook before its records, so
 * a lane given back and taken again meanwhile is never drained as the old
 * one.  LP-A1 on the state, ACT-A1 on the hook. */
static bool shoal__lane_still(const struct shoal__rt_view *v, struct shoal__lane_pos p)
{
	struct shoal__lane_meta *m = &v->lmeta[p.lane];

	/* LP-A1 */
	if (SHOAL__LANE_PHASE(atomic_load_explicit(&m->state, memory_order_acquire)) ==
	    SHOAL__L_FREE)
		return false;
	if (!p.slot)
		return true;
	return p.k < SHOAL__ACT_LANES && /* ACT-A1 */
	       atomic_load_explicit(&p.slot->lanes[p.k], memory_order_acquire) ==
		       p.lane + 1 &&
	       (!p.gen || m->actor_gen == p.gen);
}

/* Fails and consumes every record of the lane (the lock held), but for
 * records the dead actor marked done (actorrun.c): those only go. */
static void shoal__drain_records(struct shoal_store *s, const struct shoal__rt_view *v,
				 struct shoal__lane_pos p, int code,
				 const char *why)
{
	struct shoal__lane_view l = shoal__lane_at(v, p.lane);
	const struct shoal__call_rec *r;

	while ((r = shoal__lane_peek(&l)) != NULL && shoal__lane_still(v, p)) {
		if (!r->done) /* a done one's results are filled already */
			shoal__call_fail(s, r, code, why);
		shoal__lane_consume(&l);
	}
}

/* Drains the lane under its drain lock: every record fails with code and
 * why.  False if a live process holds the lock (it drains what is there,
 * DR-S2) or the lane is not the one meant any more.  The loop re-checks after
 * letting go; each turn consumes what callers published meanwhile, and a
 * caller publishes into a dead actor's lane at most once (its re-check
 * after the publish): it ends. */
bool shoal__lane_drain(struct shoal_store *s, const struct shoal__rt_view *v,
		       struct shoal__lane_pos p, int code, const char *why)
{
	struct shoal__lane_meta *m = &v->lmeta[p.lane];

	for (;;) {
		bool still;

		if (!shoal__drain_lock(s, m))
			return false;
		still = shoal__lane_still(v, p);
		if (still)
			shoal__drain_records(s, v, p, code, why);
		shoal__drain_unlock(m);
		if (!still)
			return false;
		struct shoal__lane_view l = shoal__lane_at(v, p.lane);

		if (!shoal__lane_len(&l))
			return true;
	}
}

/* Drains the lane and gives it back to the pool (unhooked from actor
 * slot a), both under its drain lock, so that no other drainer is still
 * at work on it when a new owner takes it.  False (nothing done) if a
 * live process holds the lock or the lane is not the one meant. */
bool shoal__lane_drain_free(struct shoal_store *s, const struct shoal__rt_view *v,
			    struct shoal__lane_pos p, struct shoal__actor_slot *a,
			    int code, const char *why)
{
	struct shoal__lane_meta *m = &v->lmeta[p.lane];
	bool still;

	if (!shoal__drain_lock(s, m))
		return false;
	still = shoal__lane_still(v, p);
	if (still) {
		shoal__drain_records(s, v, p, code, why);
		shoal__lane_free(s, v, a, p.lane);
	}
	shoal__drain_unlock(m);
	return still;
}

/* Unhooks lane i from its actor and gives it back to the pool.  Only with
 * no consumer left: the actor's own process, or an actor that is dead
 * (then under the drain lock, which the caller holds). */
void shoal__lane_free(struct shoal_store *s, const struct shoal__rt_view *v,
		      struct shoal__actor_slot *a, uint32_t i)
{
	_Atomic uint32_t *state = &v->lmeta[i].state;
	/* Relaxed: the word the free's CAS below expects (a change since
	 * makes it fail, which is what it is for). */
	uint32_t st = atomic_load_explicit(state, memory_order_relaxed);

	for (uint32_t k = 0; k < SHOAL__ACT_LANES; k++) {
		uint32_t want = i + 1;

		/* acq_rel on the hook word, which publishes nothing back:
		 * ACT-A1 of the hook's ACT-R1 is all a reader needs, and the
		 * lane's end is LP-R1's.  Relaxed on failure: not this k. */
		if (atomic_compare_exchange_strong_explicit(&a->lanes[k], &want, 0,
							    memory_order_acq_rel,
							    memory_order_relaxed))
			break;
	}
	SHOAL__STORE_CRASH(s, LANE_UNHOOKED);
	/* Fails only if the fork server freed it first (its taker gone). */
	if (SHOAL__LANE_PHASE(st) != SHOAL__L_FREE) /* LP-R1 */
		atomic_compare_exchange_strong_explicit(state, &st, SHOAL__L_FREE,
							memory_order_release,
							memory_order_relaxed);
}

/* True if lane i is hooked into actor slot `actor` (read from the
 * segment: bounds-checked). */
static bool shoal__lane_hooked_in(const struct shoal__rt_view *v, uint32_t actor,
				  uint32_t i)
{
	struct shoal__actor_slot *a = v->actors;

	if (actor >= v->max_actors)
		return false;
	for (uint32_t k = 0; k < SHOAL__ACT_LANES; k++) /* ACT-A1 */
		if (atomic_load_explicit(&a[actor].lanes[k], memory_order_acquire) ==
		    i + 1)
			return true;
	return false;
}

/* True if lane i is hooked into any actor slot. */
static bool shoal__lane_hooked(const struct shoal__rt_view *v, uint32_t i)
{
	for (uint32_t s = 0; s < v->max_actors; s++)
		if (shoal__lane_hooked_in(v, s, i))
			return true;
	return false;
}

/*
 * The fork server's watch: a lane taken by a process that is gone and
 * hooked into no actor (its taker died between its take and its hook, or
 * whoever freed it died between its unhook and its free) is freed.  A
 * gone taker hooks nothing any more, so the check cannot race with a
 * hook; a lane still hooked is left to the paths that drain hooked lanes
 * (the actor's sweep, unhook_gone).
 */
void shoal__lanes_sweep_lost(struct shoal_store *s, const struct shoal__rt_view *v)
{
	struct shoal__lane_meta *m = v->lmeta;

	for (uint32_t i = 0; i < v->max_lanes; i++) {
		/* LP-A1: the taker's record (actor) below. */
		uint32_t st = atomic_load_explicit(&m[i].state, memory_order_acquire);

		/* Cheapest first: a lane in use is hooked into the actor its
		 * record names, and that needs no look at its taker's process
		 * (a read of /proc); the record may be stale only for a
		 * taker that died before it wrote it. */
		if (SHOAL__LANE_PHASE(st) == SHOAL__L_FREE ||
		    shoal__lane_hooked_in(v, m[i].actor, i) ||
		    !shoal__creator24_gone(s, SHOAL__LANE_TAKER(st)) ||
		    shoal__lane_hooked(v, i))
			continue;
		/* LP-R1; relaxed on failure: taken again meanwhile. */
		atomic_compare_exchange_strong_explicit(&m[i].state, &st, SHOAL__L_FREE,
							memory_order_release,
							memory_order_relaxed);
	}
}

/* END-S1, the caller's half: after its publish (whose doorbell signal
 * began with a seq_cst fence), drains its own lane if a sweep began.
 * sweep is loaded relaxed: ordered by that fence. */
void shoal__rt_call_published(struct shoal_runtime *rt, uint32_t lane)
{
	const struct shoal__rt_view *v = &rt->v;
	int code;

	if (!atomic_load_explicit(&v->hdr->sweep, memory_order_relaxed))
		return;
	code = atomic_load_explicit(&v->hdr->ended, memory_order_acquire); /* END-A1 */
	shoal__lane_drain(rt->store, v, (struct shoal__lane_pos){.lane = lane}, code,
			  shoal__end_why(code));
}
