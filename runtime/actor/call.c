/* SPDX-License-Identifier: MIT */
/*
 * runtime/call.c - calling an actor's method: the caller's side.
 *
 * Each process has one lane (lane.h) into each actor and concurrency
 * group of it that it calls (the method's group, from the class table: a
 * group's calls never queue behind another group's): a single-producer
 * ring in the segment that it takes from the runtime's lane pool on its
 * first call and hooks into the actor's slot (actlayout.h,
 * ACT-R1/ACT-A1), its owner record naming the group.  The process's
 * threads share the lane through a node in a process-local liburcu hash
 * table (bulletproof flavour, like names.c): a call is a lock-free
 * lookup, a process-local mutex around reserve / write / publish (the
 * lane has one producer), and a doorbell that costs a system call only
 * when the actor sleeps.  Calls one thread makes to one group therefore
 * reach its lane, and run, in its order if the group has one thread
 * (runtime/proc/actorrun.c).
 *
 * A record holds the method, the encoded arguments (task.c's encoding;
 * what does not fit goes into the store, held like a task's arguments
 * until the call is done: pending.c) and the ID of its first result.  The
 * results are promises (store/fill.c) this process makes and holds before
 * it publishes the record, so that they exist when the call returns; the
 * actor fills them.  A fire-and-forget call has none, unless it has
 * arguments to keep alive: then it gets one result of its own, dropped
 * with the arguments once the call is done.
 *
 * Waiting: one deadline (shoal_call_options.timeout_ms) bounds every wait
 * of the call: the puts of its by-value arguments (made first, outside
 * every lock), the node lock, and the wait for room in a full lane.  Its
 * clock is read at the first wait (shoal__later): a call that finds room
 * at once never reads it, and the work before that first wait (copying
 * its arguments) is not counted.
 *
 * A caller killed before it publishes leaves an unpublished record, which
 * nobody ever sees (lane.h); its promises are aborted by its reaper.
 *
 * A record names the task or call this thread runs (its parent), so a
 * recursive cancel of that parent reaches the call; a call made under a
 * parent cancelled recursively already is published cancelled (it never
 * starts), and one made while such a cancel lands is checked again after
 * its publish (task/callcancel.c, TASK-S1/S2 of rtlayout.h).
 *
 * Death of the actor (ACT-S1/ACT-S2 of actlayout.h).  The fork server
 * stores DEAD (seq_cst) and then drains every lane of the actor, failing
 * each record's results.  A caller loads the state before it writes (a dead
 * actor gets no call) and again, seq_cst, after it published: if the actor
 * is dead by then, the drain may have passed before its record, so it
 * drains its own lane.  Draining (drain.c) is done under the lane's drain
 * lock (lane_meta), so the fork server and the owner never consume at the
 * same time; the actor's process is gone by then, so nobody else
 * consumes.  The lock names its holder's store slot: a drainer killed while
 * it holds the lock is noticed (its slot freed or reused, its process
 * gone) and taken over, and nobody ever waits for a live holder but an
 * owner giving its lane back, for a bounded time (lane_drain, DR-S1/DR-S2
 * of actlayout.h).
 *
 * A runtime that ended (end.c) takes no call; a call that raced with the
 * end drains its own lane if the sweep may have missed it (END-S1 of
 * rtlayout.h).
 *
 * Lanes go back to the pool: the owner's, once it finds the actor dead
 * (drained and freed under the drain lock); a dead owner's, when the actor
 * finds it empty (actorproc.c) or the fork server recycles the dead
 * actor's slot (fsactor.c).
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <urcu-bp.h>
#include <urcu/rculfhash.h>

#include "ext.h"
#include "mem.h"
#include "clock.h"
#include "actor_int.h"
#include "lane.h"

#define SHOAL__WAIT_SLICE_MS 200
#define SHOAL__GIVE_BACK_MS 1000

struct shoal__lane_node {
	struct cds_lfht_node node;
	uint64_t key;                 /* actor index << 32 | generation */
	uint32_t group;               /* the concurrency group of its calls */
	uint32_t lane;
	uint32_t actor;
	struct shoal__lane_view l;    /* the geometry: this process's copy */
	struct shoal__actor_slot *slot;
	pthread_mutex_t lock;         /* this process's producers */
};

static uint64_t shoal__lane_key(struct shoal_actor a)
{
	return (uint64_t)a.index << 32 | a.generation;
}

/* What a node is found by: the actor and the group. */
struct shoal__node_key {
	uint64_t key;
	uint32_t group;
};

static int shoal__node_match(struct cds_lfht_node *node, const void *key)
{
	const struct shoal__lane_node *n =
		caa_container_of(node, struct shoal__lane_node, node);
	const struct shoal__node_key *k = key;

	SHOAL__RCU_FOUND(node);
	return n->key == k->key && n->group == k->group;
}

static unsigned long shoal__key_hash(struct shoal__node_key nk)
{
	uint64_t k = nk.key ^ (uint64_t)nk.group << 56;

	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	return (unsigned long)(k ^ (k >> 33));
}

static bool shoal__lanes_open(struct shoal_runtime *rt)
{
	if (atomic_load_explicit(&rt->lanes_ready, memory_order_acquire)) /* RT-A1 */
		return true;
	pthread_mutex_lock(&rt->lane_lock);
	if (!rt->lanes) {
		unsigned long size = 64;

		/* A fixed size: no resize, so no liburcu worker thread. */
		while (size < rt->v.max_actors)
			size <<= 1;
		rt->lanes = cds_lfht_new_flavor(size, size, size, 0,
						&urcu_bp_flavor, NULL);
		/* RT-R1: a reader that sees lanes_ready sees the table. */
		atomic_store_explicit(&rt->lanes_ready, rt->lanes != NULL,
				      memory_order_release);
	}
	pthread_mutex_unlock(&rt->lane_lock);
	return rt->lanes != NULL;
}

/* Inside a read-side critical section. */
static struct shoal__lane_node *shoal__lane_find(struct shoal_runtime *rt,
						 struct shoal__node_key key)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *n;

	cds_lfht_lookup(rt->lanes, shoal__key_hash(key), shoal__node_match, &key,
			&iter);
	n = cds_lfht_iter_get_node(&iter);
	return n ? caa_container_of(n, struct shoal__lane_node, node) : NULL;
}

/* The owner lets go of its lane: OWNED -> CLOSED, its taker kept
 * (LP-R1: after its last publish; relaxed on failure: not its lane). */
static void shoal__lane_close(struct shoal_runtime *rt, uint32_t i)
{
	uint32_t me = SHOAL__CREATOR24(shoal__store_creator(rt->store));
	uint32_t st = SHOAL__LANE_ST(SHOAL__L_OWNED, me);

	atomic_compare_exchange_strong_explicit(&rt->v.lmeta[i].state, /* LP-R1 */
						&st, SHOAL__LANE_ST(SHOAL__L_CLOSED, me),
						memory_order_release,
						memory_order_relaxed);
}

/* A new lane and its node; under lane_lock, outside any read section. */
static int shoal__lane_create(struct shoal_runtime *rt, struct shoal_actor a,
			      uint32_t group)
{
	struct shoal__actor_slot *slot = &rt->v.actors[a.index];
	struct shoal__node_key key = {shoal__lane_key(a), group};
	struct shoal__lane_node *n;
	uint32_t i;
	int rc;

	urcu_bp_read_lock();
	n = shoal__lane_find(rt, key);
	urcu_bp_read_unlock();
	if (n)
		return 0; /* another thread made it */
	if (shoal__actor_gone(slot, a.generation))
		return SHOAL_EACTORDIED;
	n = shoal__mem_alloc(rt->arena, sizeof *n);
	if (!n)
		return -ENOMEM;
	rc = shoal__lane_take(rt, a, group, &i);
	if (!rc)
		rc = shoal__lane_hook(rt, slot, a, i);
	if (rc) {
		shoal__mem_free(rt->arena, n);
		return rc;
	}
	*n = (struct shoal__lane_node){.key = key.key, .group = group, .lane = i,
				       .actor = a.index,
				       .l = shoal__lane_at(&rt->v, i), .slot = slot};
	pthread_mutex_init(&n->lock, NULL);
	cds_lfht_node_init(&n->node);
	SHOAL__RCU_PUBLISHED(&n->node);
	urcu_bp_read_lock();
	cds_lfht_add(rt->lanes, shoal__key_hash(key), &n->node);
	urcu_bp_read_unlock();
	return 0;
}

/*
 * The owner gives its lane into a dead actor back: drained and freed
 * under the drain lock.  Another drainer (the fork server draining the
 * dead actor) holds that lock for as long as it fails the lane's records,
 * which never waits for anything (fill_error polls): the owner waits for
 * it, sched_yield between attempts, up to SHOAL__GIVE_BACK_MS.  A holder
 * that dies is taken over at once (drain_lock).  Past the bound (a holder
 * stopped, not dead) the lane is closed instead, and freed when its
 * owner's slot is gone (the fork server's unhook_gone, an actor's sweep).
 */
static void shoal__lane_give_back(struct shoal_runtime *rt,
				  struct shoal__lane_node *n)
{
	struct shoal__deadline d = shoal__deadline_in(SHOAL__GIVE_BACK_MS);
	struct shoal__lane_pos p = {.lane = n->lane};

	while (!shoal__lane_drain_free(rt->store, &rt->v, p, n->slot,
				       SHOAL_EACTORDIED, "actor died")) {
		if (shoal__deadline_passed(d)) {
			shoal__lane_close(rt, n->lane);
			return;
		}
		sched_yield();
	}
}

/* Fails whatever is left in the node's lane and gives it back (the actor
 * is dead); removes the node.  Outside any read section. */
static void shoal__lane_release(struct shoal_runtime *rt, struct shoal__node_key key)
{
	struct shoal__lane_node *n;

	pthread_mutex_lock(&rt->lane_lock);
	urcu_bp_read_lock();
	n = shoal__lane_find(rt, key);
	if (n)
		cds_lfht_del(rt->lanes, &n->node);
	urcu_bp_read_unlock();
	pthread_mutex_unlock(&rt->lane_lock);
	if (!n)
		return;
	urcu_bp_synchronize_rcu(); /* no thread can find it any more */
	pthread_mutex_lock(&n->lock);
	shoal__lane_give_back(rt, n);
	pthread_mutex_unlock(&n->lock);
	pthread_mutex_destroy(&n->lock);
	shoal__mem_free(rt->arena, n);
}

/* Locks the node by the call's deadline (0: a try).  The lock is held
 * only while another thread writes one record, never across a wait. */
static int shoal__node_lock(struct shoal__lane_node *n, struct shoal__later *d)
{
	struct timespec ts;
	int64_t ns;

	if (d->timeout_ms < 0)
		return -pthread_mutex_lock(&n->lock);
	if (!pthread_mutex_trylock(&n->lock))
		return 0;
	if (d->timeout_ms == 0)
		return -EAGAIN;
	ns = shoal__later_get(d).ns;
	ts.tv_sec = ns / 1000000000; /* CLOCK_MONOTONIC, as deadlines are */
	ts.tv_nsec = ns % 1000000000;
	return pthread_mutex_clocklock(&n->lock, CLOCK_MONOTONIC, &ts) ? -ETIMEDOUT
									   : 0;
}

/* The lane is full: the caller waits for room outside its locks (lane.h
 * wait_room), then tries again. */
#define SHOAL__LANE_FULL 1

/* A slot in the lane, or SHOAL__LANE_FULL. */
static int shoal__call_reserve(struct shoal__lane_node *n, uint32_t gen,
			       void **rec)
{
	if (shoal__actor_gone(n->slot, gen))
		return SHOAL_EACTORDIED;
	*rec = shoal__lane_reserve(&n->l);
	return *rec ? 0 : SHOAL__LANE_FULL;
}

/* Waits for room in a full lane, in slices, so that a lane nobody
 * consumes any more (a corrupt one) still lets the death check run.
 * SHOAL_ELANEFULL for a try-call, or once the call's deadline passed with
 * the lane still full: the code says what stood in the way, where
 * -EAGAIN and -ETIMEDOUT would not.  The
 * lane's memory is the segment's: it stays mapped even if the lane is
 * given back meanwhile (then the wait just ends). */
static int shoal__call_wait_room(struct shoal_runtime *rt,
				 const struct shoal__lane_view *l,
				 struct shoal__later *later)
{
	struct shoal__deadline slice = shoal__deadline_in(SHOAL__WAIT_SLICE_MS);
	struct shoal__deadline d;

	if (later->timeout_ms == 0)
		return SHOAL_ELANEFULL;
	d = shoal__later_get(later);
	if (shoal__deadline_passed(d))
		return SHOAL_ELANEFULL;
	shoal__lane_wait_room(l, slice.ns < d.ns ? slice : d,
			      shoal__store_spin(rt->store));
	return 0;
}

struct shoal__call {
	int method;
	uint32_t num_returns;        /* the user's (0: fire and forget) */
	struct shoal_args fit;
	struct shoal__pending p;
	uint32_t flags;
	uint32_t nret;               /* promises made */
	uint64_t deadline;           /* CLOCK_MONOTONIC ns, 0: none */
};

/* Puts the by-value arguments that do not fit in a record into the
 * store, waiting for room no later than the call's deadline.  Before any
 * lock: a wait for store room never holds the lane's node lock nor the
 * read-side critical section (shoal__call_once). */
static int shoal__call_fit(struct shoal_runtime *rt, const struct shoal_args *args,
			   struct shoal__call *c, struct shoal__later *d)
{
	int rc = shoal__args_fit(rt, args, SHOAL__CALL_ARGS_INLINE, &c->fit,
				 &c->p, d);

	if (rc) {
		shoal__pending_drop(rt, &c->p);
		c->p.ndrop = c->p.made = 0;
	}
	return rc;
}

/* Holds on the ref arguments, and the promises. */
static int shoal__call_prepare(struct shoal_runtime *rt, struct shoal__call *c)
{
	int rc = shoal__hold_args(rt, &c->fit, &c->p);

	if (rc)
		return rc;
	c->nret = c->num_returns;
	if (c->nret == 0 && c->p.ndrop) {
		c->nret = 1; /* something to tell when the holds can go */
		c->flags |= SHOAL__CALL_OWNRET;
		c->p.own_ret0 = true;
	}
	if (c->nret == 0) {
		c->flags |= SHOAL__CALL_NORESULT;
		return 0;
	}
	c->p.ret0 = shoal_id_next(rt->store);
	return shoal__promise_returns(rt, c->p.ret0, c->nret);
}

/* Undoes everything the call made (fit's puts included). */
static void shoal__call_undo(struct shoal_runtime *rt, struct shoal__call *c)
{
	for (uint32_t i = 0; i < c->nret; i++)
		shoal_abort(rt->store, shoal__ret_id(c->p.ret0, i));
	c->nret = 0;
	c->p.own_ret0 = false;
	shoal__pending_drop(rt, &c->p);
	c->p.ndrop = c->p.made = 0;
}

/* Record r at lane position pos, its word born with `born` (0, or
 * CANCEL: callcancel.c); the checked fields fit their narrow types
 * (actlayout.h's asserts). */
static void shoal__call_encode(struct shoal_runtime *rt, const struct shoal__call *c,
			       uint32_t pos, uint32_t born, const struct shoal__parent *par,
			       struct shoal__call_rec *r)
{
	/* Relaxed: the word is published with the record (LN-R1).  First,
	 * so that a canceller's re-check (cancel.c) finds a slot being
	 * rewritten changed. */
	atomic_store_explicit(&r->cancel, SHOAL__CALL_C_SEQ(pos) | born,
			      memory_order_relaxed);
	r->method = (uint16_t)c->method;
	r->flags = (uint8_t)c->flags;
	r->num_returns = (uint8_t)c->nret;
	r->nargs = (uint8_t)c->fit.n;
	r->args_len = (uint16_t)shoal__args_encode(r->args, &c->fit);
	r->retries = 0;
	r->done = 0;
	/* the task or call this thread runs: a recursive cancel of it
	 * reaches this call (callcancel.c) */
	r->parent = par->id;
	r->parent_gen = par->gen;
	r->parent_tag = par->tag;
	r->ret_hi = c->p.ret0.hi;
	r->ret_lo = c->p.ret0.lo;
	r->caller = shoal__store_creator(rt->store);
	r->submitted = shoal__ticks();
	r->deadline = c->deadline;
}

/* After publishing (ACT-S1): if the actor died meanwhile, its drain may
 * have missed this record; drain the lane here.  The doorbell's signal in
 * publish began with a seq_cst fence, which orders the tail's store before
 * this load of the state.  If another drainer holds the lock, its
 * re-check after letting go fails this record (DR-S2): no wait. */
static void shoal__call_recheck(struct shoal_runtime *rt, struct shoal__lane_node *n,
				uint32_t gen)
{
	struct shoal__lane_pos p = {.lane = n->lane};

	if (shoal__actor_gone(n->slot, gen))
		shoal__lane_drain(rt->store, &rt->v, p, SHOAL_EACTORDIED,
				  "actor died");
	shoal__rt_call_published(rt, n->lane); /* the runtime's end: END-S1 */
}

/* The call proper, under the node's lock. */
static int shoal__call_locked(struct shoal_runtime *rt, struct shoal__lane_node *n,
			      struct shoal_actor a, struct shoal__call *c)
{
	void *rec;
	int rc = shoal__call_reserve(n, a.generation, &rec);
	/* Relaxed: the producer's own index (we hold the node's lock). */
	uint32_t pos = atomic_load_explicit(&n->l.ring->tail, memory_order_relaxed), born;
	struct shoal__parent par;

	if (rc)
		return rc;
	rc = shoal__call_prepare(rt, c);
	if (rc) {
		shoal__call_undo(rt, c);
		return rc;
	}
	par = shoal__cancel_parent(rt);
	born = shoal__call_born(rt, &par); /* TASK-S2: a parent cancelled before */
	shoal__call_encode(rt, c, pos, born, &par, rec);
	SHOAL__STORE_CRASH(rt->store, CALL_WRITTEN);
	shoal__lane_publish(&n->l, &n->slot->doorbell);
	/* DL-R1: the watch expires it while queued, or fills the results of
	 * one born cancelled if we die before we do */
	if (c->deadline || born)
		shoal__dl_flag(&rt->v, n->lane);
	SHOAL__STORE_CRASH(rt->store, CALL_PUBLISHED);
	shoal__call_inherit(rt, n->lane, pos, rec, born, &par); /* TASK-S2, after */
	shoal__call_recheck(rt, n, a.generation);
	return 0;
}

/* A call that found its lane full while its parent was cancelled
 * recursively (before the call, or while it waited for room): it is
 * cancelled without a record, its results made and filled with
 * SHOAL_ECANCELLED here, as those of a call published born cancelled
 * are (shoal__call_inherit), and it no longer waits for room it would
 * never use.  Killed between the two, its unsealed results are ours, and
 * our reap ends them; nobody else has their IDs yet. */
static int shoal__call_unborn(struct shoal_runtime *rt, struct shoal__call *c)
{
	int rc = shoal__call_prepare(rt, c);

	if (rc)
		return rc;
	if (c->nret)
		shoal__cancel_fill(rt->store, c->p.ret0, c->nret, SHOAL_ECANCELLED);
	return 0;
}

/* Whether the task or call this thread runs was cancelled recursively
 * (TASK-S2's question, asked again while a call waits for room). */
static bool shoal__call_parent_cancelled(const struct shoal_runtime *rt)
{
	struct shoal__parent par = shoal__cancel_parent(rt);

	return shoal__call_born(rt, &par) != 0;
}

/* The concurrency group of a checked method (shoal__call_check): the
 * class table's (the segment's: a group past SHOAL_MAX_GROUPS is the
 * default one, which the actor also gives a group it does not have). */
static uint32_t shoal__method_group(struct shoal_runtime *rt, struct shoal_actor a,
				    int method)
{
	uint32_t g = (uint32_t)method < SHOAL_MAX_METHODS
			     ? rt->v.classes[a.klass].method_group[method] : 0;

	return g < SHOAL_MAX_GROUPS ? g : 0;
}

static int shoal__call_check(struct shoal_runtime *rt, struct shoal_actor a,
			     int method, const struct shoal_args *args,
			     uint32_t num_returns)
{
	const struct shoal__act_class *k;

	if (!rt || a.magic != SHOAL_ACTOR_MAGIC || a.index >= rt->v.max_actors ||
	    a.klass >= rt->v.nclasses || !a.generation)
		return -EINVAL;
	k = &rt->v.classes[a.klass];
	if (method < 0 || (uint32_t)method >= k->nmethods ||
	    num_returns > SHOAL_MAX_RETURNS)
		return -EINVAL;
	return shoal__args_check(args);
}

/* One attempt: finds the lane and calls under its lock; *missing when
 * the lane has to be made first, *full (the lane) when it has no room.
 * Nothing blocks inside the read-side critical section but the node's
 * lock, held only for a record's writing: a thread that gives a lane back
 * (synchronize_rcu) never waits for an actor. */
static int shoal__call_once(struct shoal_runtime *rt, struct shoal_actor a,
			    uint32_t group, struct shoal__later *d,
			    struct shoal__call *c, bool *missing,
			    struct shoal__lane_view *full)
{
	struct shoal__lane_node *n;
	int rc;

	urcu_bp_read_lock();
	n = shoal__lane_find(rt, (struct shoal__node_key){shoal__lane_key(a), group});
	*missing = n == NULL;
	rc = n ? shoal__node_lock(n, d) : 0;
	if (n && !rc) {
		rc = shoal__call_locked(rt, n, a, c);
		pthread_mutex_unlock(&n->lock);
		*full = n->l;
	}
	urcu_bp_read_unlock();
	return rc;
}

SHOAL_API int shoal_actor_call_opts(struct shoal_runtime *rt,
				    struct shoal_actor actor, int method,
				    const struct shoal_args *args,
				    const struct shoal_call_options *opts,
				    shoal_id *refs)
{
	static const struct shoal_args none;
	struct shoal_call_options o = SHOAL_CALL_OPTIONS_INIT;
	struct shoal__call c; /* not zeroed: most of it is argument room */
	struct shoal__later d;
	struct shoal__lane_view full = {0};
	uint32_t group;
	bool missing;
	int rc;

	if (shoal__rt_ro(rt))
		return SHOAL_EREADONLY;
	if (opts)
		o = *opts;
	if (!SHOAL__RESV_ZERO(o) || o.deadline_ms < 0 ||
	    o.deadline_ms > INT64_MAX / 1000000)
		return -EINVAL;
	d = shoal__later_in(o.timeout_ms); /* bounds every wait of the call */
	rc = shoal__call_check(rt, actor, method, args, o.num_returns);
	if (!rc)
		rc = shoal__rt_ended(rt); /* an ended runtime runs nothing */
	if (rc || (o.num_returns && !refs) || !shoal__lanes_open(rt))
		return rc ? rc : -EINVAL;
	group = shoal__method_group(rt, actor, method);
	c.method = method;
	c.num_returns = o.num_returns;
	c.flags = 0;
	c.nret = 0;
	c.deadline = o.deadline_ms > 0
			     ? shoal__mono_ns() + (uint64_t)o.deadline_ms * 1000000u
			     : 0;
	c.p.ndrop = c.p.made = 0;
	c.p.own_ret0 = false;
	c.p.task = 0; /* done when its first return is settled */
	c.p.ret0 = (shoal_id){0, 0};
	shoal__pending_collect(rt, 8);
	rc = shoal__call_fit(rt, args ? args : &none, &c, &d);
	if (rc)
		return rc;
	for (;;) {
		rc = shoal__call_once(rt, actor, group, &d, &c, &missing, &full);
		if (rc == SHOAL__LANE_FULL && shoal__call_parent_cancelled(rt)) {
			rc = shoal__call_unborn(rt, &c);
			break;
		}
		if (rc == SHOAL__LANE_FULL) {
			rc = shoal__call_wait_room(rt, &full, &d);
			if (!rc) /* a slice passed: an actor that never consumes */
				rc = shoal__rt_ended(rt);
		}
		else if (missing) {
			pthread_mutex_lock(&rt->lane_lock);
			rc = shoal__lane_create(rt, actor, group);
			pthread_mutex_unlock(&rt->lane_lock);
		} else {
			break;
		}
		if (rc)
			break;
	}
	if (rc == SHOAL_EACTORDIED)
		shoal__lane_release(rt, (struct shoal__node_key){shoal__lane_key(actor),
								 group});
	if (rc) {
		shoal__call_undo(rt, &c); /* fit's puts; nothing else is left */
		return rc;
	}
	for (uint32_t i = 0; i < o.num_returns; i++)
		refs[i] = shoal__ret_id(c.p.ret0, i);
	if (c.p.ndrop)
		shoal__pending_add(rt, &c.p);
	return 0;
}

SHOAL_API int shoal_actor_call(struct shoal_runtime *rt, struct shoal_actor actor,
			       int method, const struct shoal_args *args,
			       shoal_id *ref)
{
	return shoal_actor_call_opts(rt, actor, method, args, NULL, ref);
}

SHOAL_API int shoal_actor_send(struct shoal_runtime *rt, struct shoal_actor actor,
			       int method, const struct shoal_args *args)
{
	struct shoal_call_options o = {.num_returns = 0, .timeout_ms = -1};

	return shoal_actor_call_opts(rt, actor, method, args, &o, NULL);
}

/* Gives back this process's lanes into actors that are dead, so that
 * their slots can be reused (a slot is reused only once no lane is hooked
 * into it).  Called where a process is not in the middle of a call: when
 * it creates or kills an actor, and when a worker or an actor idles. */
void shoal__lanes_sweep(struct shoal_runtime *rt)
{
	struct shoal__node_key dead[32];
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	struct shoal__lane_node *n;
	uint32_t k = 0;

	if (!atomic_load_explicit(&rt->lanes_ready, memory_order_acquire)) /* RT-A1 */
		return;
	urcu_bp_read_lock();
	/* Node by node, not cds_lfht_for_each_entry: that one takes the
	 * container of the NULL that ends the walk (UBSan: pointer-overflow). */
	for (cds_lfht_first(rt->lanes, &iter); (node = cds_lfht_iter_get_node(&iter));
	     cds_lfht_next(rt->lanes, &iter)) {
		n = caa_container_of(node, struct shoal__lane_node, node);
		SHOAL__RCU_FOUND(&n->node);
		if (k < 32 && shoal__actor_gone(n->slot, (uint32_t)n->key))
			dead[k++] = (struct shoal__node_key){n->key, n->group};
	}
	urcu_bp_read_unlock();
	for (uint32_t i = 0; i < k; i++)
		shoal__lane_release(rt, dead[i]);
}

/* The handle goes: every node is removed.  A lane into a live actor is
 * marked CLOSED and the actor told to sweep: it gives the lane back once
 * it ran what is left in it. */
void shoal__lanes_close(struct shoal_runtime *rt)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	struct shoal__lane_node *n;

	if (!rt->lanes)
		return;
	urcu_bp_read_lock();
	for (cds_lfht_first(rt->lanes, &iter); (node = cds_lfht_iter_get_node(&iter));
	     cds_lfht_next(rt->lanes, &iter)) {
		n = caa_container_of(node, struct shoal__lane_node, node);
		SHOAL__RCU_FOUND(&n->node);
		cds_lfht_del(rt->lanes, &n->node);
		shoal__lane_close(rt, n->lane);
		/* ACT-S3: the request, then the doorbell (EV-S2). */
		atomic_store_explicit(&n->slot->sweep, 1, memory_order_seq_cst);
		shoal__event_signal(&n->slot->doorbell);
	}
	urcu_bp_read_unlock();
	urcu_bp_synchronize_rcu();
	cds_lfht_destroy(rt->lanes, NULL);
	rt->lanes = NULL;
	/* The nodes came from the handle's arena, which goes with it. */
}
