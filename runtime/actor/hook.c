/* SPDX-License-Identifier: MIT */
/*
 * runtime/actor/hook.c - a caller's new lane: taken from the pool (one
 * CAS FREE -> OWNED naming this process, then laid out for its actor and
 * group) and hooked into the actor's lane table (lanes_top raised first,
 * then one CAS on a free word, then a re-check that the actor is still
 * the handle's).  A SIGKILL between the steps leaves a lane OWNED by a
 * dead process and hooked nowhere, which the fork server's watch frees
 * (shoal__lanes_sweep_lost), or a lanes_top one too high, which costs the
 * actor one empty word per pass.  call.c makes the node that names it.
 */
#include <errno.h>

#include "ext.h"
#include "actor_int.h"
#include "lane.h"

/* Takes a free lane from the pool and lays it out for group `group` of
 * actor a. */
int shoal__lane_take(struct shoal_runtime *rt, struct shoal_actor a,
		      uint32_t group, uint32_t *out)
{
	struct shoal__lane_meta *m = rt->v.lmeta;
	uint32_t me = SHOAL__CREATOR24(shoal__store_creator(rt->store));

	for (uint32_t i = 0; i < rt->v.max_lanes; i++) {
		uint32_t st = SHOAL__L_FREE;

		/* Relaxed: a look first; the CAS decides (LP-A1: the giver's
		 * LP-R1, before this process lays the lane out; its release
		 * half publishes nothing a reader needs). */
		if (atomic_load_explicit(&m[i].state, memory_order_relaxed) != st ||
		    !atomic_compare_exchange_strong_explicit(
			    &m[i].state, &st, SHOAL__LANE_ST(SHOAL__L_OWNED, me),
			    memory_order_acq_rel, memory_order_relaxed))
			continue;
		SHOAL__STORE_CRASH(rt->store, LANE_TAKEN);
		/* The drain word is left as it is: a drainer that still holds
		 * it (from before the lane was given back) finds the lane
		 * given back or hooked elsewhere, and lets go (lane_still). */
		m[i].owner = shoal__store_creator(rt->store);
		m[i].actor = a.index;
		m[i].actor_gen = a.generation;
		m[i].group = group;
		shoal__lane_init(shoal__lane_at(&rt->v, i).ring,
				 rt->v.lane_capacity, SHOAL__CALL_SIZE);
		*out = i;
		return 0;
	}
	return -ENOSPC;
}

/* lanes_top raised to top before a hook at top - 1 (ACT-R5: release;
 * relaxed on failure, the loop goes on from the value it read).  A
 * caller killed between the raise and its hook leaves a top one too
 * high: the actor looks at one empty word more. */
static void shoal__lanes_raise_top(struct shoal__actor_slot *a, uint32_t top)
{
	uint32_t cur = atomic_load_explicit(&a->lanes_top, memory_order_relaxed);

	while (cur < top &&
	       !atomic_compare_exchange_weak_explicit(&a->lanes_top, &cur, top,
						      memory_order_release,
						      memory_order_relaxed)) /* ACT-R5 */
		;
}

/* Hooks lane i into the actor (ACT-R1), then re-checks (ACT-S1) that the
 * actor is still the one of the handle: a slot the fork server reused has
 * another generation (and its actor skips this lane).  Relaxed: the look
 * before each CAS, and a failed CAS (another lane took that k). */
int shoal__lane_hook(struct shoal_runtime *rt, struct shoal__actor_slot *a,
		      struct shoal_actor h, uint32_t i)
{
	for (uint32_t k = 0; k < SHOAL__ACT_LANES; k++) {
		uint32_t zero = 0;

		if (atomic_load_explicit(&a->lanes[k], memory_order_relaxed))
			continue;
		shoal__lanes_raise_top(a, k + 1);
		if (!atomic_compare_exchange_strong_explicit(
			    &a->lanes[k], &zero, i + 1, memory_order_seq_cst,
			    memory_order_relaxed)) /* ACT-R1, ACT-S1 */
			continue;
		SHOAL__STORE_CRASH(rt->store, LANE_HOOKED);
		if (!shoal__actor_gone(a, h.generation))
			return 0;
		shoal__lane_free(rt->store, &rt->v, a, i);
		return SHOAL_EACTORDIED;
	}
	atomic_store_explicit(&rt->v.lmeta[i].state, SHOAL__L_FREE, /* LP-R1 */
			      memory_order_release);
	return -ENOSPC;
}
