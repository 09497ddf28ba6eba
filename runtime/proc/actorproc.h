/* SPDX-License-Identifier: MIT */
/*
 * runtime/proc/actorproc.h - an actor's process, shared by actorproc.c
 * (its life: attach, settle, construct, serve, stop) and actorrun.c (how
 * its threads take, run and consume the records of its lanes).
 *
 * Process-private: every field lives in the actor's process only.  With
 * one thread (nthreads == 1, the default) nothing here is shared and
 * nothing is locked; with more, `lock` guards what the comments say.
 */
#ifndef SHOAL_RUNTIME_ACTORPROC_H
#define SHOAL_RUNTIME_ACTORPROC_H

#if !defined(SHOAL__LAYER_RUNTIME) && !defined(SHOAL__WHITEBOX)
#error "runtime/proc/actorproc.h is private to runtime/"
#endif

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "proc_int.h"

#define SHOAL__ACTOR_BATCH 64
#define SHOAL__ACTOR_SLICE_MS 1000

/* hook[k]: lanes[k] as last seen (low 32 bits), whether that lane is this
 * actor's, and its concurrency group. */
#define SHOAL__HOOK_MINE (1ull << 32)
#define SHOAL__HOOK_GROUP(h) ((uint32_t)((h) >> 40) & 0xffu)
#define SHOAL__HOOK(v, mine, group)                                           \
	((uint64_t)(v) | ((mine) ? SHOAL__HOOK_MINE : 0) | (uint64_t)(group) << 40)

struct shoal__actor {
	struct shoal_runtime rt;      /* this process's handle (thread-safe) */
	struct shoal__actor_slot *slot;
	const struct shoal__class *klass;
	uint32_t index;
	uint32_t klass_index;         /* the class's index (registry) */
	uint32_t gen;                 /* the actor's generation in the slot */
	uint32_t spin;
	void *self;                   /* the constructor's state */
	time_t last_sweep;            /* seconds, of the last busy sweep */
	uint32_t nthreads;            /* threads serving calls, 1 .. SHOAL__ACT_THREADS */
	uint32_t ngroups;             /* its class's groups, the default one too */
	uint32_t group_threads[SHOAL_MAX_GROUPS];
	/* nthreads > 1: the consumer side of every lane (peek_at, the
	 * records' `done`, consume), next[] and hook[] (written under it,
	 * read without it by a thread's re-check, hence atomics, relaxed:
	 * a stale word only sends a thread through one more pass), the
	 * sweep, and the timeline ring (one writer at a time). */
	pthread_mutex_t lock;
	/* Per k (the slot's lanes[k]).  hook[k]: SHOAL__HOOK; its owner
	 * record is read once per hooking, not once per pass, while the lane
	 * is this actor's.  A lane that is not is read again each pass: the
	 * same lane index can be given back and hooked at the same k for
	 * this actor between two passes, and only that change (not-mine to
	 * mine) can happen without lanes[k] changing.  next[k]: the index of
	 * the next record of that lane to run; the records from its head to
	 * next[k] are running or done (set to head when the lane becomes
	 * this actor's). */
	_Atomic uint64_t hook[SHOAL__ACT_LANES];
	_Atomic uint32_t next[SHOAL__ACT_LANES];
};

/* One thread of the actor: its slot word current[t] and its group. */
struct shoal__athread {
	struct shoal__actor *a;
	uint32_t t;
	uint32_t group;
	pthread_t tid;
};

/* actorrun.c */
void shoal__actor_lock(struct shoal__actor *a);
void shoal__actor_unlock(struct shoal__actor *a);
/* The predecessor died running calls: settles each (before construct). */
void shoal__actor_settle(struct shoal__actor *a);
/* The actor's own handle (shoal_task_self_actor). */
struct shoal_actor shoal__actor_self(const struct shoal__actor *a);
/* One pass of thread th over its group's lanes: the calls it ran. */
uint32_t shoal__actor_pass(struct shoal__athread *th);
/* The doorbell's re-check of thread th: a record its group may run. */
bool shoal__actor_any_ready(struct shoal__athread *th);
/* Forgets lane k (the sweep gave it back; under the lock). */
void shoal__actor_forget(struct shoal__actor *a, uint32_t k);

#endif /* SHOAL_RUNTIME_ACTORPROC_H */
