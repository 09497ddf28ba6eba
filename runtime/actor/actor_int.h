/* SPDX-License-Identifier: MIT */
/*
 * runtime/actor/actor_int.h - what the files of actor/ share, and offer
 * proc/: the caller's side of a call, lanes and their draining.
 */
#ifndef SHOAL_RUNTIME_ACTOR_INT_H
#define SHOAL_RUNTIME_ACTOR_INT_H

#if !defined(SHOAL__LAYER_RUNTIME) && !defined(SHOAL__WHITEBOX)
#error "runtime/actor/actor_int.h is private to runtime/"
#endif

#include "task_int.h"

/* hook.c: a caller's new lane, taken and hooked into the actor */
int shoal__lane_take(struct shoal_runtime *rt, struct shoal_actor a,
		     uint32_t group, uint32_t *out);
int shoal__lane_hook(struct shoal_runtime *rt, struct shoal__actor_slot *a,
		     struct shoal_actor h, uint32_t i);
/* call.c: the caller's side of actor calls */
bool shoal__actor_gone(struct shoal__actor_slot *a, uint32_t gen);
void shoal__call_fail(struct shoal_store *s, const struct shoal__call_rec *r,
		      int code, const char *why);
/* A lane a drainer means: lane `lane`; for a drainer that is not its
 * owner (slot set), hooked at slot->lanes[k], for actor generation gen
 * (0: any).  Drains (and frees) only while it still is (call.c). */
struct shoal__lane_pos {
	uint32_t lane;
	struct shoal__actor_slot *slot;
	uint32_t k;
	uint32_t gen;
};
bool shoal__lane_drain(struct shoal_store *s, const struct shoal__rt_view *v,
		       struct shoal__lane_pos p, int code, const char *why);
bool shoal__lane_drain_free(struct shoal_store *s, const struct shoal__rt_view *v,
			    struct shoal__lane_pos p, struct shoal__actor_slot *a,
			    int code, const char *why);
void shoal__lane_free(struct shoal_store *s, const struct shoal__rt_view *v,
		      struct shoal__actor_slot *a, uint32_t i);
/* The fork server's watch: frees lanes taken by a process that is gone
 * and hooked into no actor (call.c). */
void shoal__lanes_sweep_lost(struct shoal_store *s, const struct shoal__rt_view *v);
void shoal__lanes_close(struct shoal_runtime *rt);
void shoal__lanes_sweep(struct shoal_runtime *rt);

/* drain.c: END-S1, the caller's half (rtlayout.h, proc/end.c) */
void shoal__rt_call_published(struct shoal_runtime *rt, uint32_t lane);

#endif /* SHOAL_RUNTIME_ACTOR_INT_H */
