/* SPDX-License-Identifier: MIT */
/*
 * runtime/actorproc.c - an actor's process.
 *
 * Forked by the fork server (actor.c) for one actor slot, like a worker:
 * SIGKILL when the fork server dies, its own store handle on the inherited
 * segment, _exit() always.  It first settles the call its predecessor was
 * running when it died, if any (the slot's `current` names the lane and
 * that lane's head, and whether the call was done): a done call is only
 * consumed (it never runs twice); one cut short runs again if it has
 * retries left, else its results fail with SHOAL_EACTORDIED.  Then it runs the constructor, marks
 * the actor ALIVE, and serves its lanes until the runtime stops, when it
 * runs the destructor.
 *
 * Serving: the lanes hooked into the slot are visited in turn, up to
 * SHOAL__ACTOR_BATCH records each (so a busy caller cannot starve the
 * others); a record is peeked, run (exec.c: the method is the class's,
 * the state the constructor's), and only then consumed, so a lane's fill
 * level counts its caller's calls queued or running (the pending-calls
 * limit) and a record whose run was cut short by a crash is still there
 * for the next process.  With nothing to do it spins up to the spin
 * budget, then sleeps on the doorbell (lane.h's protocol for many lanes).
 * Every idle slice, and about once a second when busy, it gives back the
 * empty lanes of callers that are gone.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ext.h"
#include "mem.h"
#include "proc_int.h"
#include "lane.h"

#define SHOAL__ACTOR_BATCH 64
#define SHOAL__ACTOR_SLICE_MS 1000
#define SHOAL__ACTOR_SWEEP_PASSES 4096 /* a busy actor sweeps at most 1/s */

struct shoal__actor {
	struct shoal_runtime rt;      /* this process's handle */
	struct shoal__actor_slot *slot;
	const struct shoal__class *klass;
	uint32_t index;
	uint32_t klass_index;         /* the class's index (registry) */
	uint32_t gen;                 /* the actor's generation in the slot */
	uint32_t spin;
	void *self;                   /* the constructor's state */
	time_t last_sweep;            /* seconds, of the last busy sweep */
	/* lanes[k] as last seen, and whether that lane is this actor's: its
	 * owner record is read once per hooking, not once per pass, while
	 * it is.  A lane that is not is read again each pass: the same lane
	 * index can be given back and hooked at the same k for this actor
	 * between two passes, and only that change (not-mine to mine) can
	 * happen without lanes[k] changing. */
	uint32_t seen[SHOAL__ACT_LANES];
	bool mine[SHOAL__ACT_LANES];
};

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

/* The record at the head of lane i, if its head is still `head` (relaxed:
 * the consumer's own index, ring/lane.c). */
static struct shoal__call_rec *shoal__actor_head(struct shoal__actor *a,
						 uint32_t i, uint32_t head)
{
	struct shoal__lane_view l = shoal__lane_at(&a->rt.v, i);

	if (atomic_load_explicit(&l.ring->head, memory_order_relaxed) != head)
		return NULL;
	return (struct shoal__call_rec *)shoal__lane_peek(&l);
}

/*
 * `current` (actlayout.h): lane + 1 << 32 | head while a call runs, with
 * SHOAL__CUR_DONE added once it ran to the end, before the record is
 * consumed.  The window between the two is what makes a done call
 * distinguishable from one cut short.
 */
#define SHOAL__CUR_DONE (1ull << 63)
#define SHOAL__CUR(i, head) ((uint64_t)((i) + 1) << 32 | (head))

/* The predecessor died running a call: a done one is consumed; one cut
 * short runs again (it stays at the head) or fails. */
static void shoal__actor_settle(struct shoal__actor *a)
{
	/* Relaxed: the predecessor's word, read after its death (the fork
	 * server reaped it before it forked us). */
	uint64_t cur = atomic_load_explicit(&a->slot->current, memory_order_relaxed);
	uint32_t i = (uint32_t)((cur & ~SHOAL__CUR_DONE) >> 32) - 1;
	struct shoal__lane_view l;
	struct shoal__call_rec *r;

	if (!cur || i >= a->rt.v.max_lanes)
		return;
	atomic_store_explicit(&a->slot->current, 0, memory_order_relaxed);
	r = shoal__actor_head(a, i, (uint32_t)cur);
	if (!r)
		return; /* consumed already */
	l = shoal__lane_at(&a->rt.v, i);
	if (cur & SHOAL__CUR_DONE) { /* ran to the end: never again */
		shoal__lane_consume(&l);
		return;
	}
	if (r->retries < a->slot->max_task_retries) {
		r->retries++; /* the only field the consumer writes */
		return;
	}
	shoal__call_fail(a->rt.store, r, SHOAL_EACTORDIED,
			 "the actor died while it ran this call");
	/* stats */
	atomic_fetch_add_explicit(&a->slot->calls_failed, 1, memory_order_relaxed);
	shoal__lane_consume(&l);
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

/* Runs the record at the head of lane i, then consumes it. */
static void shoal__actor_run(struct shoal__actor *a, uint32_t i,
			     const struct shoal__lane_view *l,
			     const struct shoal__call_rec *r)
{
	/* Relaxed: the consumer's own index. */
	uint32_t head = atomic_load_explicit(&l->ring->head, memory_order_relaxed);
	const struct shoal__method *m =
		r->method < a->klass->nmethods ? &a->klass->methods[r->method] : NULL;
	struct shoal__call_view v = {
		.args = r->args, .nargs = r->nargs, .args_len = r->args_len,
		.cap = SHOAL__CALL_ARGS_INLINE,
		.num_returns = (r->flags & SHOAL__CALL_NORESULT) ? 0 : r->num_returns,
		.ret0 = {.hi = r->ret_hi, .lo = r->ret_lo},
		.arg_timeout_ms = -1, .name = m ? m->name : "?",
	};
	struct shoal__tl_rec tr;
	int rc;

	/* Relaxed, all three: only a process that reaped this one reads
	 * `current` (after waitpid); and the counters (statistics). */
	atomic_store_explicit(&a->slot->current, SHOAL__CUR(i, head),
			      memory_order_relaxed);
	SHOAL__STORE_CRASH(a->rt.store, CALL_STARTED);
	tr = (struct shoal__tl_rec){
		.kind = SHOAL__TL_CALL, .who = a->index, .what = r->method,
		.klass = a->klass_index, .from = r->caller, .t_submit = r->submitted,
		.id_hi = r->ret_hi, .id_lo = r->ret_lo, .t_start = shoal__ticks(),
	};
	rc = shoal__exec_run(&a->rt, &v, m ? m->fn : NULL, a->self);
	tr.t_end = shoal__ticks();
	tr.rc = rc;
	shoal__tl_record(&a->rt.tl, &tr);
	SHOAL__STORE_CRASH(a->rt.store, CALL_RAN);
	atomic_store_explicit(&a->slot->current, SHOAL__CUR(i, head) | SHOAL__CUR_DONE,
			      memory_order_relaxed);
	atomic_fetch_add_explicit(&a->slot->calls_run, 1, memory_order_relaxed);
	if (rc)
		atomic_fetch_add_explicit(&a->slot->calls_failed, 1,
					  memory_order_relaxed);
	SHOAL__STORE_CRASH(a->rt.store, CALL_DONE);
	shoal__lane_consume_quiet(l); /* the pass wakes the producer once */
	SHOAL__STORE_CRASH(a->rt.store, CALL_CONSUMED);
	atomic_store_explicit(&a->slot->current, 0, memory_order_relaxed);
}

/* Lane k of this actor into *l (its index in *i), if it is hooked and
 * made for this generation (a lane of a dead predecessor in the slot
 * waits for its owner to give it back). */
static bool shoal__actor_lane(struct shoal__actor *a, uint32_t k, uint32_t *i,
			      struct shoal__lane_view *l)
{
	/* ACT-A1: the lane's init and owner record (ACT-R1) are visible. */
	uint32_t v = atomic_load_explicit(&a->slot->lanes[k], memory_order_acquire);

	if (!v)
		return false;
	if (v != a->seen[k] || !a->mine[k]) { /* is it this actor's (now)? */
		a->seen[k] = v;
		a->mine[k] = v <= a->rt.v.max_lanes &&
			     a->rt.v.lmeta[v - 1].actor_gen == a->gen;
	}
	if (!a->mine[k])
		return false;
	*i = v - 1;
	*l = shoal__lane_at(&a->rt.v, *i);
	return true;
}

/* How many lanes[k] a pass looks at: one past the highest ever hooked
 * (ACT-A5, pairs with the callers' ACT-R5 raise; actlayout.h). */
static uint32_t shoal__actor_top(const struct shoal__actor *a)
{
	uint32_t top = atomic_load_explicit(&a->slot->lanes_top, memory_order_acquire);

	return top < SHOAL__ACT_LANES ? top : SHOAL__ACT_LANES;
}

/* One pass over the lanes, each of them up to SHOAL__ACTOR_BATCH calls
 * (round robin: no caller waits behind another's flood); the number of
 * calls run. */
static uint32_t shoal__actor_pass(struct shoal__actor *a)
{
	uint32_t ran = 0, i, top = shoal__actor_top(a);

	for (uint32_t k = 0; k < top; k++) {
		struct shoal__lane_view l;
		const struct shoal__call_rec *r;
		bool hooked = shoal__actor_lane(a, k, &i, &l);
		uint32_t b = 0;

		for (; hooked && b < SHOAL__ACTOR_BATCH &&
		       (r = shoal__lane_peek(&l)) != NULL;
		     b++)
			shoal__actor_run(a, i, &l, r);
		if (b)
			shoal__lane_wake_producer(&l);
		ran += b;
	}
	if (ran) /* their callers may free room (pending.c) */
		shoal__pending_task_ended(a->rt.store);
	return ran;
}

static bool shoal__actor_any_ready(struct shoal__actor *a)
{
	uint32_t i, top = shoal__actor_top(a);

	for (uint32_t k = 0; k < top; k++) {
		struct shoal__lane_view l;

		if (shoal__actor_lane(a, k, &i, &l) && shoal__lane_ready(&l))
			return true;
	}
	return false;
}

/* Gives back the lanes of callers that are gone or closed them: its own
 * empty ones
 * (this process is their only consumer), and a predecessor's, failing
 * what is left in them (under the drain lock, as the fork server would). */
static void shoal__actor_sweep(struct shoal__actor *a)
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

			if (!shoal__lane_len(&l))
				shoal__lane_free(a->rt.store, &a->rt.v, a->slot, i);
		} else {
			struct shoal__lane_pos p = {.lane = i, .slot = a->slot,
						    .k = k, .gen = m[i].actor_gen};

			shoal__lane_drain_free(a->rt.store, &a->rt.v, p, a->slot,
					       SHOAL_EACTORDIED, "actor died");
		}
	}
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

/* The doorbell's re-check: a call, a stop, or a sweep asked for. */
static bool shoal__actor_woken(void *arg)
{
	struct shoal__actor *a = arg;

	return shoal__actor_any_ready(a) || shoal__actor_stopping(a) || /* ACT-S4: */
	       atomic_load_explicit(&a->slot->sweep, memory_order_seq_cst);
}

/* Nothing to do: register on the doorbell, re-check, sleep. */
static void shoal__actor_idle(struct shoal__actor *a)
{
	int rc = shoal__event_await(&a->slot->doorbell,
				    shoal__deadline_in(SHOAL__ACTOR_SLICE_MS),
				    a->spin, &(struct shoal__await){
					    .ready = shoal__actor_woken, .arg = a});

	if (rc == -ETIMEDOUT) {
		shoal__actor_sweep(a);
		shoal__lanes_sweep(&a->rt); /* its own lanes, as a caller */
	}
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
	struct shoal__actor a;

	memset(&a, 0, sizeof a);
	if (shoal__actor_attach(boot, index, &a))
		_exit(1);
	shoal__actor_settle(&a);
	shoal__actor_construct(&a);
	shoal__actor_alive(&a);
	for (uint32_t n = 0; !shoal__actor_stopping(&a); n++) {
		/* Relaxed: a hint; the doorbell's re-check is ACT-S4. */
		if (atomic_load_explicit(&a.slot->sweep, memory_order_relaxed) &&
		    atomic_exchange_explicit(&a.slot->sweep, 0, memory_order_relaxed))
			shoal__actor_sweep(&a);
		if (!shoal__actor_pass(&a))
			shoal__actor_idle(&a);
		else if (!(n % SHOAL__ACTOR_SWEEP_PASSES))
			shoal__actor_sweep_busy(&a);
	}
	if (a.klass->fini)
		a.klass->fini(a.self);
	shoal__child_flush();
	shoal__lanes_close(&a.rt);
	shoal__pending_flush(&a.rt);
	shoal_store_close(a.rt.store);
	_exit(0);
}
