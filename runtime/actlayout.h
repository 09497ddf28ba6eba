/* SPDX-License-Identifier: MIT */
/*
 * runtime/actlayout.h - the actors' part of the runtime region (after the
 * run queue; offsets in struct shoal__rt_hdr), like a uapi header.
 *
 *   classes   SHOAL_MAX_CLASSES x struct shoal__act_class: class and
 *             method names (the driver writes them at start), so that an
 *             attached program calls methods by name
 *   actors    max_actors x struct shoal__actor_slot
 *   lane meta max_lanes x struct shoal__lane_meta
 *   lanes     max_lanes x lane_bytes: the call lanes (lane.h), each from
 *             one caller process into one actor
 *
 * Who writes what is said per struct.  The fork server is the only writer
 * of an actor slot's identity (state, generation, class, name, options,
 * constructor arguments): it runs one request at a time, so creating,
 * naming, killing and reusing slots need no lock at all.
 */
#ifndef SHOAL_RUNTIME_ACTLAYOUT_H
#define SHOAL_RUNTIME_ACTLAYOUT_H

#if !defined(SHOAL__LAYER_RUNTIME) && !defined(SHOAL__WHITEBOX)
#error "runtime/actlayout.h is private to runtime/"
#endif

#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <shoal/actor.h>

#include "event.h"
#include "ext.h"

#define SHOAL__ACT_MAX_ACTORS 4096u
#define SHOAL__ACT_MAX_LANES 65536u
#define SHOAL__ACT_LANES 1024u      /* lanes (caller process, group) per actor */
#define SHOAL__ACT_THREADS SHOAL_MAX_CONCURRENCY /* threads per actor */
#define SHOAL__CALL_SIZE 256u       /* one call record */
#define SHOAL__CALL_ARGS_INLINE (SHOAL__CALL_SIZE - 64u)

/* Class and method names, and the class's concurrency groups (how many,
 * the threads of each named one, each method's group: a caller picks the
 * lane of a method's group from it), written by the driver before the
 * fork server exists, read-only afterwards.  A reader bounds-checks
 * method_group (< SHOAL_MAX_GROUPS) and group_threads (their sum). */
struct shoal__act_class {
	char name[64];
	uint32_t nmethods;
	uint32_t ngroups;           /* 1 ..  SHOAL_MAX_GROUPS, the default one too */
	uint32_t group_threads[SHOAL_MAX_GROUPS]; /* [0]: unused (per actor) */
	uint8_t pad_[64 - 8 - 4 * SHOAL_MAX_GROUPS];
	uint8_t method_group[SHOAL_MAX_METHODS];
	char methods[SHOAL_MAX_METHODS][64];
};
static_assert(offsetof(struct shoal__act_class, method_group) == 128, "class layout");
static_assert(sizeof(struct shoal__act_class) % 64 == 0, "class layout");

enum shoal__actor_phase {
	SHOAL__A_FREE = 0,
	SHOAL__A_STARTING = SHOAL_ACTOR_STARTING,   /* forked, constructing */
	SHOAL__A_ALIVE = SHOAL_ACTOR_ALIVE,         /* constructed */
	SHOAL__A_RESTARTING = SHOAL_ACTOR_RESTARTING,
	SHOAL__A_DEAD = SHOAL_ACTOR_DEAD,
	SHOAL__A_RECYCLING = 5, /* a dead actor's slot being filled anew */
};

/* kill_flags */
#define SHOAL__KILL_ASKED 1u    /* shoal_actor_kill: not a crash */
#define SHOAL__KILL_NORESTART 2u

/*
 * One actor.
 *  state       the fork server (every phase but ALIVE, which the actor's
 *              process stores once its constructor returned), seq_cst:
 *              callers load it after they publish a call (ACT-S1), and the
 *              fork server stores DEAD before it drains the lanes
 *              (ACT-S2), so a call that raced with the death is drained
 *              by one of them.
 *  generation  the fork server, when it starts an actor in the slot
 *              (release, ACT-R3, before state leaves FREE; handles carry
 *              it).
 *  pid, start  the fork server, at each fork (start: the process's start
 *              time, so that a reused pid never passes for it), 0 when it
 *              reaped it; the actor's process stores the same values
 *              before it marks itself ALIVE (worker.c, publish_self).
 *  klass ..    name, options, ctor args: the fork server while the slot
 *              is FREE or RECYCLING; read-only while the actor lives.
 *  restarts    the fork server.
 *  kill_flags  the fork server (its kill request).
 *  max_concurrency  the fork server, with the other options: the
 *              threads of the default group (0 and 1: one; actorproc.c
 *              checks it against SHOAL__ACT_THREADS).
 *  current     the actor's process, one word per thread t of it:
 *              current[t] = lane index + 1 << 32 | the record's index in
 *              that lane while thread t runs that record, 0 otherwise
 *              (relaxed: read by the fork server and the next process
 *              only after waitpid, and by tools as a snapshot).  Whether
 *              the call ran to the end is the record's `done` mark, since
 *              a record may stay in its lane, done, after its thread
 *              moved on (actorrun.c).
 *  calls_*     the actor's process (statistics, relaxed).
 *  sweep       set by a caller that closed its lane (then it rings the
 *              doorbell: ACT-S3), taken by the actor's exchange: a hint
 *              (relaxed) but for the doorbell's re-check (ACT-S4).
 *  doorbell    every lane of the actor rings it (lane.h).
 *  lanes       index + 1 of each lane into the actor, 0 for none: a caller
 *              attaches its lane with a CAS 0 -> lane + 1 (release: the
 *              lane's init, ACT-R1) and the actor loads it with acquire
 *              (ACT-A1);
 *              the owner or a sweeper of a dead owner's lane sets it back.
 *              A reused slot may still hold lanes of its dead predecessor's
 *              callers: the new actor skips lanes whose owner record names
 *              another generation, and sweeps them once their owners go.
 *  why         why the actor last died: the fork server, before it
 *              stores DEAD or RESTARTING (so a restarted actor keeps the
 *              reason of its last death); or the actor's process before
 *              it exits after its constructor failed.  Cleared when a new
 *              actor takes the slot.
 *
 * Memory order (ACT-):
 *  ACT-R1 (ACT-A1)  a caller hooks its lane (CAS 0 -> lane + 1, seq_cst,
 *          call.c): the lane's init (lane.h) and its owner record (owner,
 *          actor, actor_gen), to ...
 *  ACT-A1 (ACT-R1)  ... whoever loads lanes[k] with acquire (the actor's
 *          process; drain.c; the fork server, seq_cst in its drain).
 *  ACT-R2 (ACT-A2)  a store of state (seq_cst: the fork server's, the
 *          actor's ALIVE): the slot's identity written before it (class,
 *          name, options, constructor arguments, why), to ...
 *  ACT-A2 (ACT-R2)  ... acquire (or seq_cst) loads of state: lookup,
 *          info, list (actor.c), shoal__actor_gone (drain.c).
 *  ACT-R3 (ACT-A3)  the generation bumped (release fetch_add, and the
 *          store of 1 after a wrap, fsactor.c): the identity, as ACT-R2,
 *          to ...
 *  ACT-A3 (ACT-R3)  ... acquire loads of generation (actor.c, drain.c,
 *          the actor's process at attach).
 *  ACT-S1 (ACT-S2)  a caller, after its hook (ACT-R1, seq_cst) or after
 *          its publish (LN-R1, then the doorbell's seq_cst fence, EV-S2),
 *          loads state (seq_cst, shoal__actor_gone): it sees the actor
 *          gone and drains or frees its lane itself, or ...
 *  ACT-S2 (ACT-S1)  ... the fork server, which stored DEAD or RECYCLING
 *          (seq_cst) before it loads lanes[k] (seq_cst) and drains them
 *          (fsactor.c), sees the hooked lane and its record.
 *  ACT-S3 (ACT-S4)  a caller that closed its lane stores sweep (seq_cst;
 *          the signal's fence would do) and rings the doorbell (EV-S2) ...
 *  ACT-S4 (ACT-S3)  ... the actor's re-check after its registration
 *          (EV-S1) loads sweep (seq_cst): a sleeping actor is woken to
 *          sweep.
 *  ACT-R4 (ACT-A4)  pid, a release store (the fork server's after the
 *          start time; the actor's own in publish_self, worker.c): the
 *          start time, to ...
 *  ACT-A4 (ACT-R4)  ... end.c's acquire load of pid, before it reads the
 *          start time.
 *  ACT-R5 (ACT-A5)  a caller raises lanes_top (release CAS, call.c)
 *          before its hook CAS (ACT-R1) ...
 *  ACT-A5 (ACT-R5)  ... and the actor's acquire load of it at each pass
 *          and re-check (actorproc.c).  What makes a lane hooked after
 *          a pass began visible to the actor is the doorbell (EV-S1/EV-S2
 *          of base/event.c): the caller's signal after its publish, whose
 *          fence orders the raise before it, and the actor's re-check
 *          after its registration, which loads lanes_top again.
 *  relaxed  restarts, kill_flags (the fork server's own words), current
 *          (read only after waitpid, or as a tool's snapshot), calls_* (statistics), the actor's
 *          own load and exchange of sweep (a hint), pid where only
 *          reported or compared.
 */
struct shoal__actor_slot {
	/* Line 0: the fork server's (callers read state on every call). */
	_Atomic uint32_t state;
	_Atomic uint32_t generation;
	_Atomic int32_t pid;
	uint32_t klass;
	uint32_t max_restarts;
	uint32_t max_task_retries;
	_Atomic uint32_t restarts;
	_Atomic uint32_t kill_flags;
	uint32_t ctor_nargs;
	uint32_t ctor_len;
	/* The fork server, before pid: the process's start time (end.c). */
	_Atomic uint64_t start;
	uint32_t max_concurrency;
	uint8_t pad0_[64 - 52];
	/* Line 1: rung by every lane of the actor (lane.h). */
	struct shoal__event doorbell;
	/* Line 2: the actor's process. */
	_Atomic uint64_t calls_run;
	_Atomic uint64_t calls_failed;
	_Atomic uint32_t sweep;      /* a caller closed its lane: sweep soon */
	/* One past the highest lanes[k] ever hooked (callers raise it before
	 * their hook: ACT-R5), so that the actor's passes look at that many
	 * words, not at all SHOAL__ACT_LANES.  Only grows, never reset: a
	 * reused slot may keep its predecessor's lanes. */
	_Atomic uint32_t lanes_top;
	uint8_t pad2_[64 - 24];
	char name[64];
	char why[128];
	_Atomic uint32_t lanes[SHOAL__ACT_LANES];
	uint8_t ctor_args[SHOAL_ACTOR_CTOR_BYTES];
	_Atomic uint64_t current[SHOAL__ACT_THREADS];
};
static_assert(offsetof(struct shoal__actor_slot, doorbell) == 64, "actor layout");
static_assert(offsetof(struct shoal__actor_slot, calls_run) == 128, "actor layout");
static_assert(offsetof(struct shoal__actor_slot, current) % 64 == 0, "actor layout");
static_assert(sizeof(struct shoal__actor_slot) % 64 == 0, "actor slots are lines");
/* A `current` word: lane i, the record of index idx in it. */
#define SHOAL__CUR(i, idx) ((uint64_t)((i) + 1) << 32 | (uint32_t)(idx))
#define SHOAL__CUR_LANE(c) ((uint32_t)((c) >> 32)) /* lane + 1, 0: none */

enum shoal__lane_owner_state {
	SHOAL__L_FREE = 0,
	SHOAL__L_OWNED = 1,
	SHOAL__L_CLOSED = 2,  /* its owner let go: the actor frees it once empty */
};

/* A lane's state word: the phase (low 8 bits) and, while OWNED or CLOSED,
 * the taker's SHOAL__CREATOR24 above it, written by the same CAS that
 * takes the lane, so no step leaves a taken lane that does not name its
 * taker (the fork server frees a lost one: call.c, lanes_sweep_lost). */
#define SHOAL__LANE_ST(phase, taker) ((uint32_t)(phase) | (uint32_t)(taker) << 8)
#define SHOAL__LANE_PHASE(st) ((uint32_t)(st) & 0xffu)
#define SHOAL__LANE_TAKER(st) ((uint32_t)(st) >> 8)

/*
 * A lane's owner record.
 *  state      SHOAL__LANE_ST.  CAS FREE -> OWNED | taker by the caller that
 *             takes the lane (acq_rel, LP-A1); OWNED -> CLOSED (same
 *             taker) by the owner when its handle goes (a CAS, release,
 *             LP-R1, after its last publish); CAS to FREE (release, LP-R1)
 *             by whoever frees it, from the word it read before it
 *             unhooked the lane from its actor, so a lane freed and taken
 *             again meanwhile is never freed twice.  Every transition is
 *             a CAS (but a failed hook's store of FREE, call.c: the taker
 *             still owns it).
 *  owner      SHOAL__CREATOR of the caller process's store slot; actor,
 *             actor_gen: which actor; group: which of its concurrency
 *             groups the calls in the lane are for (a caller has a lane
 *             per actor and group it calls; the actor serves a group it
 *             does not have as its default one).  Written by the taker
 *             while OWNED and before it attaches the lane (ACT-R1
 *             publishes them).
 *  drain      the lock of the consumer side once the actor is dead: 0, or
 *             SHOAL__DRAIN_HELD | SHOAL__CREATOR of the holder's store
 *             slot (drain.c: lane_drain).  CAS 0 -> holder (acquire,
 *             DR-A1) by whoever fails the lane's records (the fork
 *             server, the owner, the slot's next actor); store 0
 *             (release, DR-R1) after.  A holder found dead (its slot
 *             freed, reused, or its process gone) is replaced by a CAS
 *             from its word: the lock is never left to a dead process.
 *
 * Memory order (LP-: the lane pool; DR-: the drain lock):
 *  LP-R1 (LP-A1)  a release change of state (to CLOSED by the owner,
 *          after its last publish; to FREE by whoever gives the lane back,
 *          drain.c, call.c): the giver is done with the lane, to ...
 *  LP-A1 (LP-R1)  ... the taker's acq_rel CAS FREE -> OWNED (call.c),
 *          before it lays the lane out, and every acquire load of state
 *          (drain.c, actorproc.c, end.c).
 *  DR-R1 (DR-A1)  the drain lock let go (release store of 0): the
 *          holder's consumption of the lane, to ...
 *  DR-A1 (DR-R1)  ... the next holder's acquire CAS (from 0, or from a
 *          gone holder's word).
 *  DR-S1 (DR-S2)  a drainer's seq_cst fence before its CAS: one whose
 *          CAS fails read the holder's word, which precedes the holder's
 *          store of 0 in the lock's order, so ...
 *  DR-S2 (DR-S1)  ... the holder's seq_cst fence after that store follows
 *          DR-S1 in the total order S, and its re-check of the lane
 *          (relaxed loads after it) sees every record published before
 *          the other drainer's fence (drain.c).
 */
struct shoal__lane_meta {
	_Atomic uint32_t state;
	uint32_t owner;
	uint32_t actor;
	uint32_t actor_gen;
	_Atomic uint64_t drain;
	uint32_t group;
	uint8_t pad_[64 - 28];
};
static_assert(offsetof(struct shoal__lane_meta, drain) == 16, "lane meta layout");
#define SHOAL__DRAIN_HELD (1ull << 32)
static_assert(sizeof(struct shoal__lane_meta) == 64, "lane meta is a line");

/* Call record flags */
#define SHOAL__CALL_NORESULT 1u  /* fire and forget: no result object */
#define SHOAL__CALL_OWNRET 2u    /* the result is the caller's, not the user's */

/*
 * A call's cancel word (task/cancel.c): the low 24 bits of its lane
 * position << 8 (so that a CAS never hits the slot's next call), and:
 *  STARTED   the actor's CAS before it runs the call (from a word
 *            without CANCEL: one that finds CANCEL drops the call);
 *  CANCEL    a canceller's CAS (or the actor's own, past the deadline):
 *            queued, the call never runs; running, the method sees it
 *            (shoal_task_cancelled) and its unset results get the code;
 *  DEADLINE  with CANCEL: SHOAL_EDEADLINE instead of SHOAL_ECANCELLED
 *            (set by the actor at its start, the method's own poll, or
 *            the fork server's watch on a queued call: callcancel.c);
 *  RECURSIVE with CANCEL on a STARTED call: the tasks the method
 *            submitted and the calls it made, and those it submits or
 *            makes from now on, are cancelled too (their records name
 *            the call as their parent: TASK-S1/S2 of rtlayout.h, with
 *            this word in the parent's role).
 * A call made by a task or method cancelled recursively already is
 * published with CANCEL (and its position) in its word: it never starts.
 * Memory order: the caller's store is published with the record (LN-R1);
 * the CASes are on the word alone and relaxed (its modification order
 * decides between a cancel and the start; no other data goes with it),
 * but for the canceller's re-check of the record it read (cancel.c) and
 * a recursive cancel's CAS (seq_cst, TASK-S1).
 */
#define SHOAL__CALL_C_STARTED 1u
#define SHOAL__CALL_C_CANCEL 2u
#define SHOAL__CALL_C_DEADLINE 4u
#define SHOAL__CALL_C_RECURSIVE 8u
#define SHOAL__CALL_C_SEQ(pos) (((uint32_t)(pos) & 0xffffffu) << 8)

/*
 * A call record in a lane (lane.h gives the ordering: written by the
 * caller between reserve and publish, read by the actor between peek and
 * consume).  The actor's side writes `retries` (a replacement counting
 * down a retried call) and `done` (1 once the call ran to the end, was
 * failed for good or was dropped, so that it never runs again: a record
 * of a threaded actor can stay in its lane, done, behind an earlier
 * record still running, since a lane is consumed only in order); the
 * caller writes both as 0.  `cancel` is the one word a canceller or the
 * actor changes by CAS (above).  Arguments are encoded like a task's
 * (task.c).  parent, parent_gen, parent_tag name the task or actor call
 * that made the call, as a task record names its parent (written by the
 * caller, published with the record): a recursive cancel of that parent
 * finds the call by them (task/callcancel.c).  The small fields are
 * narrow so that they fit in the header's 64 bytes with the arguments'
 * 192 (runtime layout version 18).
 */
struct shoal__call_rec {
	uint16_t method;        /* < SHOAL_MAX_METHODS */
	uint8_t flags;          /* SHOAL__CALL_NORESULT, _OWNRET */
	uint8_t done;           /* the actor's side (above) */
	uint8_t num_returns;    /* <= SHOAL_MAX_RETURNS */
	uint8_t nargs;          /* <= SHOAL_MAX_ARGS */
	uint16_t args_len;      /* <= SHOAL__CALL_ARGS_INLINE */
	uint32_t retries;
	uint32_t parent;        /* the task or call that made it, as a task
				 * record's parent (rtlayout.h): record + 1,
				 * or SHOAL__PARENT_CALL | lane; 0: none */
	uint32_t parent_gen;    /* its generation, or the call's position */
	uint32_t parent_tag;    /* a call parent's lane tag, else 0 */
	uint64_t ret_hi;        /* the ID of return 0 */
	uint64_t ret_lo;
	uint32_t caller;        /* SHOAL__CREATOR */
	_Atomic uint32_t cancel; /* SHOAL__CALL_C_* */
	uint64_t submitted;     /* the caller's ticks (base/clock.h) */
	uint64_t deadline;      /* CLOCK_MONOTONIC ns, 0: none */
	uint8_t args[SHOAL__CALL_ARGS_INLINE];
};
static_assert(sizeof(struct shoal__call_rec) == SHOAL__CALL_SIZE, "call record");
static_assert(SHOAL_MAX_METHODS <= UINT16_MAX && SHOAL_MAX_RETURNS <= UINT8_MAX &&
		      SHOAL_MAX_ARGS <= UINT8_MAX &&
		      SHOAL__CALL_ARGS_INLINE <= UINT16_MAX,
	      "the call record's narrow fields hold their bounds");
static_assert(offsetof(struct shoal__call_rec, args) == 64, "call record header");

#endif /* SHOAL_RUNTIME_ACTLAYOUT_H */
