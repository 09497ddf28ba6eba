/* SPDX-License-Identifier: MIT */
/*
 * runtime/actorproc.c - an actor's process.
 *
 * Forked by the fork server (actor.c) for one actor slot, like a worker:
 * SIGKILL when the fork server dies, its own store handle on the inherited
 * segment, _exit() always.  It first settles the calls its predecessor was
 * running when it died, if any (actorrun.c: a done call is only consumed,
 * it never runs twice; one cut short runs again if it has retries left,
 * else its results fail with SHOAL_EACTORDIED).  Then it runs the
 * constructor, marks the actor ALIVE, starts its threads (one per unit
 * of concurrency of each of its groups: the calling thread is the default
 * group's first) and serves its lanes (actorrun.c) until the runtime
 * stops, when the threads are joined and it runs the destructor.
 *
 * Every thread, with nothing to do, spins up to the spin budget on its
 * lanes (unregistered: a publish then signals nobody), then sleeps on the
 * slot's doorbell (lane.h's protocol for many lanes; every
 * sleeper wakes at a signal and re-checks its own group's lanes).  The
 * first thread, every idle slice and about once a second when busy, gives
 * back the empty lanes of callers that are gone (under the lock, with
 * more than one thread: the lanes' consumer side is the process's).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ext.h"
#include "mem.h"
#include "lane.h"
#include "actorproc.h"

#define SHOAL__ACTOR_SWEEP_PASSES 4096 /* a busy actor sweeps at most 1/s */

static int shoal__actor_attach(const struct shoal__boot *boot, uint32_t index,
			       struct shoal__actor *a)
{
	struct shoal_store *store;
	char label[SHOAL__TL_LABEL];
	int rc = shoal_store_attach_fd(boot->seg_fd, &store);

	if (rc)
		return rc;
	a->rt.reg = boot->reg;
	a->rt.ctl_fd = a->rt.fs_pidfd = -1;
	shoal__rt_local_init(&a->rt);
	if (shoal__mem_open(&a->rt.arena))
		return -ENOMEM;
	rc = shoal__rt_bind(&a->rt, store);
	if (rc)
		return rc;
	if (index >= a->rt.v.max_actors)
		return -EINVAL;
	a->slot = &a->rt.v.actors[index];
	a->klass_index = a->slot->klass; /* read once, then checked */
	if (a->klass_index >= boot->reg->nclasses)
		return -EINVAL;
	a->klass = &boot->reg->classes[a->klass_index];
	a->index = index;
	snprintf(label, sizeof label, "%.20s#%u", a->klass->name, index);
	shoal__tl_open(&a->rt.tl, &a->rt.v, shoal__store_creator(store), label);
	/* ACT-A3 (the fork server's ACT-R3, before it forked us anyway). */
	a->gen = atomic_load_explicit(&a->slot->generation, memory_order_acquire);
	a->spin = boot->spin_budget;
	shoal__store_set_role(store, SHOAL__ROLE_ACTOR);
	return 0;
}

struct shoal__ctor {
	shoal_actor_init_fn init;
	void *self;
};

static int shoal__ctor_trampoline(struct shoal_task *ctx, void *user)
{
	struct shoal__ctor *c = user;

	return c->init(ctx, &c->self);
}

/* Runs the constructor; on failure records why and leaves. */
static void shoal__actor_construct(struct shoal__actor *a)
{
	struct shoal__ctor c = {.init = a->klass->init};
	char msg[SHOAL__WHY_MAX];
	struct shoal__call_view v = {
		.args = a->slot->ctor_args, .nargs = a->slot->ctor_nargs,
		.args_len = a->slot->ctor_len, .cap = SHOAL_ACTOR_CTOR_BYTES,
		.num_returns = 0, .arg_timeout_ms = -1, .name = a->klass->name,
		.why = msg, .why_cap = sizeof msg,
		.kind = SHOAL_KIND_CONSTRUCTOR, .worker = -1,
		.self = shoal__actor_self(a),
	};
	int rc = shoal__exec_run(&a->rt, &v, shoal__ctor_trampoline, &c);

	shoal__child_flush();
	if (rc) {
		snprintf(a->slot->why, sizeof a->slot->why,
			 "constructor of %.40s failed: %.60s", a->klass->name, msg);
		shoal_store_close(a->rt.store);
		_exit(SHOAL__ACTOR_EXIT_CTOR);
	}
	a->self = c.self;
}

/* Gives back the lanes of callers that are gone or closed them: its own
 * empty ones (this process is their only consumer; an empty lane has no
 * record running either, since records are consumed once done), and a
 * predecessor's, failing what is left in them (under the drain lock, as
 * the fork server would).  Under the lock. */
static void shoal__actor_sweep_locked(struct shoal__actor *a)
{
	struct shoal__lane_meta *m = a->rt.v.lmeta;

	for (uint32_t k = 0; k < SHOAL__ACT_LANES; k++) {
		/* ACT-A1 on the hook, LP-A1 on the owner's state. */
		uint32_t v = atomic_load_explicit(&a->slot->lanes[k],
						  memory_order_acquire);
		uint32_t i = v - 1;

		if (!v || v > a->rt.v.max_lanes || /* LP-A1: */
		    (SHOAL__LANE_PHASE(atomic_load_explicit(&m[i].state,
							    memory_order_acquire)) !=
			     SHOAL__L_CLOSED &&
		     !shoal__creator_gone(a->rt.store, m[i].owner)))
			continue;
		if (m[i].actor_gen == a->gen) {
			struct shoal__lane_view l = shoal__lane_at(&a->rt.v, i);

			if (!shoal__lane_len(&l)) {
				shoal__lane_free(a->rt.store, &a->rt.v, a->slot, i);
				shoal__actor_forget(a, k);
			}
		} else {
			struct shoal__lane_pos p = {.lane = i, .slot = a->slot,
						    .k = k, .gen = m[i].actor_gen};

			shoal__lane_drain_free(a->rt.store, &a->rt.v, p, a->slot,
					       SHOAL_EACTORDIED, "actor died");
		}
	}
}

static void shoal__actor_sweep(struct shoal__actor *a)
{
	shoal__actor_lock(a);
	shoal__actor_sweep_locked(a);
	shoal__actor_unlock(a);
}

/* A busy actor never idles: it sweeps once a second of its own time. */
static void shoal__actor_sweep_busy(struct shoal__actor *a)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec == a->last_sweep)
		return;
	a->last_sweep = now.tv_sec;
	shoal__actor_sweep(a);
}

static bool shoal__actor_stopping(struct shoal__actor *a)
{
	/* STOP-A1.  As part of the doorbell's re-check (shoal__actor_woken,
	 * EV-S1) it should be seq_cst: a stop whose signal races with the
	 * registration may be seen only at the slice's end. */
	return atomic_load_explicit(&a->rt.v.hdr->stopping, memory_order_acquire);
}

/* The doorbell's re-check: a call of the thread's group, a stop, or (for
 * the first thread, the sweeper) a sweep asked for. */
static bool shoal__actor_woken(void *arg)
{
	struct shoal__athread *th = arg;

	return shoal__actor_any_ready(th) || shoal__actor_stopping(th->a) ||
	       (th->t == 0 && /* ACT-S4: */
		atomic_load_explicit(&th->a->slot->sweep, memory_order_seq_cst));
}

/* The unregistered spin's look (shoal__spin_until): the same three
 * things, each a relaxed load (a hint: a hit makes a pass, which takes
 * the records with the lanes' own orders; a miss ends in the registered
 * re-check above). */
static bool shoal__actor_sees(void *arg)
{
	struct shoal__athread *th = arg;

	return shoal__actor_any_ready(th) ||
	       atomic_load_explicit(&th->a->rt.v.hdr->stopping, memory_order_relaxed) ||
	       (th->t == 0 &&
		atomic_load_explicit(&th->a->slot->sweep, memory_order_relaxed));
}

/* Nothing to do: spin on the lanes' tails, unregistered, then register on
 * the doorbell, re-check, sleep.  While it spins, a caller's publish
 * signals nobody: its doorbell signal is a fence and a load of a line
 * nobody wrote (base/event.c), not a bump and an exchange of a line the
 * actor polls, which cost every async call a cache line moved each way. */
static void shoal__actor_idle(struct shoal__athread *th)
{
	struct shoal__actor *a = th->a;
	struct shoal__deadline d = shoal__deadline_in(SHOAL__ACTOR_SLICE_MS);
	int rc;

	if (shoal__spin_until(shoal__actor_sees, th, a->spin, d))
		return;
	rc = shoal__event_await(&a->slot->doorbell, d, 0,
				&(struct shoal__await){.ready = shoal__actor_woken,
						       .arg = th});

	if (rc == -ETIMEDOUT && th->t == 0) {
		shoal__actor_sweep(a);
		shoal__lanes_sweep(&a->rt); /* its own lanes, as a caller */
	}
}

/* A thread's loop until the runtime stops.  The first one sweeps. */
static void shoal__actor_serve(struct shoal__athread *th)
{
	struct shoal__actor *a = th->a;

	for (uint32_t n = 0; !shoal__actor_stopping(a); n++) {
		/* Relaxed: a hint; the doorbell's re-check is ACT-S4. */
		if (th->t == 0 &&
		    atomic_load_explicit(&a->slot->sweep, memory_order_relaxed) &&
		    atomic_exchange_explicit(&a->slot->sweep, 0, memory_order_relaxed))
			shoal__actor_sweep(a);
		if (!shoal__actor_pass(th))
			shoal__actor_idle(th);
		else if (th->t == 0 && !(n % SHOAL__ACTOR_SWEEP_PASSES))
			shoal__actor_sweep_busy(a);
	}
}

static void *shoal__actor_thread(void *arg)
{
	shoal__actor_serve(arg);
	return NULL;
}

/* How many threads, of which group (the registry's groups; the slot's
 * max_concurrency for the default one, checked: the fork server wrote it,
 * but the segment is anyone's).  The total is at most SHOAL__ACT_THREADS;
 * past it, the default group gets what is left (at least one). */
static void shoal__actor_plan(struct shoal__actor *a)
{
	uint32_t want = a->slot->max_concurrency, rest = SHOAL__ACT_THREADS;

	a->ngroups = a->klass->ngroups ? a->klass->ngroups : 1;
	for (uint32_t g = 1; g < a->ngroups; g++) {
		uint32_t n = a->klass->groups[g].threads;

		a->group_threads[g] = n < rest - 1 ? n : rest - 1;
		rest -= a->group_threads[g];
	}
	want = want ? want : 1;
	a->group_threads[0] = want < rest ? want : rest;
	a->nthreads = SHOAL__ACT_THREADS - rest + a->group_threads[0];
}

/* Lays out th[] and starts its threads past the first (th[0], the
 * caller's).  0 or the negated error of the first that failed to start
 * (then the process leaves: a death, as any other). */
static int shoal__actor_start(struct shoal__actor *a, struct shoal__athread *th)
{
	uint32_t t = 0;
	int rc = 0;

	for (uint32_t g = 0; g < a->ngroups; g++)
		for (uint32_t j = 0; j < a->group_threads[g]; j++, t++) {
			th[t] = (struct shoal__athread){.a = a, .t = t, .group = g};
			if (t > 0 && !rc)
				rc = -pthread_create(&th[t].tid, NULL,
						     shoal__actor_thread, &th[t]);
			if (rc) /* the process leaves: the others with it */
				return rc;
		}
	return 0;
}

static void shoal__actor_alive(struct shoal__actor *a)
{
	shoal__publish_self(&a->slot->pid, &a->slot->start); /* child.c */
	/* ACT-R2 (seq_cst as every store of state; only its release half is
	 * needed here). */
	atomic_store_explicit(&a->slot->state, SHOAL__A_ALIVE, memory_order_seq_cst);
}

_Noreturn void shoal__actor_main(const struct shoal__boot *boot, uint32_t index)
{
	struct shoal__athread th[SHOAL__ACT_THREADS];
	struct shoal__actor a;

	memset(&a, 0, sizeof a);
	if (shoal__actor_attach(boot, index, &a))
		_exit(1);
	shoal__actor_settle(&a);
	shoal__actor_construct(&a);
	shoal__actor_plan(&a);
	pthread_mutex_init(&a.lock, NULL);
	shoal__actor_alive(&a);
	if (shoal__actor_start(&a, th)) /* a death like any other: a restart */
		_exit(1);
	shoal__actor_serve(&th[0]);
	for (uint32_t t = 1; t < a.nthreads; t++)
		pthread_join(th[t].tid, NULL);
	if (a.klass->fini)
		a.klass->fini(a.self);
	shoal__child_flush();
	shoal__lanes_close(&a.rt);
	shoal__pending_flush(&a.rt);
	shoal_store_close(a.rt.store);
	_exit(0);
}
