/* SPDX-License-Identifier: MIT */
/*
 * base/crash.h - named crash points: every step of every multi-step change
 * to shared state, where a test build can kill the process.
 *
 * Any process may die at any instruction (DESIGN.md, "Crash safety").  The
 * windows that matter are the ones between two steps of a change to the
 * segment: between an intent and its commit, between a CAS and the store
 * that records it, between reserving and publishing.  Each such window has
 * a name here and a SHOAL__CRASH(handle, NAME) at its place in the code.
 * In a build with SHOAL_CRASH_POINTS defined (the test-only static library
 * shoal_crash, meson.build), a handle armed with a point SIGKILLs its own
 * process the n-th time it passes it; in every other build the macro
 * compiles to nothing (it still checks that NAME is in the list).
 *
 * The list is the one place the points are named: tests/test_crash_points.c
 * expands it into one test per point, which runs the point's scenario (the
 * second column: a shared operation, or a reap of a dead process) with the
 * point armed, requires that the process died there, and then checks that
 * the survivors repaired everything (crash_check.h).  A point added here
 * without a scenario that reaches it fails that test; a SHOAL__CRASH naming
 * a point that is not here does not compile.
 *
 * Arming: shoal__crash_arm() on a handle, or the environment variable
 * SHOAL_CRASH="NAME" or "NAME:n" (die at the n-th pass, n >= 1) read when a
 * handle is opened, so that a process the test does not control directly
 * (an attacher that reaps on attach, a worker, the fork server) can be
 * armed too.  "NAME:n:stop" stops the process there (SIGSTOP) instead of
 * killing it, once: a test plays out what others do while it is held at
 * that step, then sends SIGCONT.
 */
#ifndef SHOAL_STORE_CRASH_H
#define SHOAL_STORE_CRASH_H

#include <stdint.h>

/*
 * X(NAME, scenario, what the process leaves behind when it dies there).
 * The scenario is the one that must reach the point (the test runs every
 * other scenario with the point armed too, and checks those that reach
 * it as well).
 */
#define SHOAL__CRASH_POINTS(X)                                                 \
	/* store/object/: the REF protocol (pin, hold, unpin, drop) */              \
	X(REF_INTENT, ref, "count change: intent written, CAS not made")        \
	X(REF_CAS, ref, "count change: entry CAS made, ledger not")            \
	X(REF_LEDGER, ref, "count change: ledger written, intent not cleared") \
	X(REF_STAMPED, stalled_ref, "count change: stamped by a repair, recount not made") \
	/* ledger.c: a record leaving the table (backward shift) */            \
	X(LEDGER_MOVED, ledger, "ledger delete: a record copied back, twice")  \
	/* ledger.c: a ledger doubling into its next level's table */          \
	X(LEDGER_GROW_COPIED, grow, "ledger growth: new table filled, not used") \
	X(LEDGER_GROW_SWITCHED, grow, "ledger growth: level switched, count odd") \
	/* store/object/: create and put */                                        \
	X(CREATE_ALLOCATED, put, "create: block handed over, no entry yet")    \
	X(CREATE_RESERVED, put, "create: entry claimed under the stripe lock") \
	X(CREATE_HELD, put, "create: creation hold in the ledger, unpublished")\
	X(CREATE_FILLED, put, "create: entry's fields written (stack reopened), unpublished")\
	X(CREATE_PUBLISHED, put, "create: entry published, counters not")      \
	X(CREATE_COUNTED, put, "create: counted, stripes still locked")        \
	X(SEAL_SEALED, put, "seal: sealed, its waiters not woken")             \
	/* store/object/: abort */                                                  \
	X(ABORT_INTENT, abort, "abort: intent written, entry not ended")       \
	X(ABORT_ENDED, abort, "abort: entry ended, creation hold in ledger")   \
	X(ABORT_LEDGER, abort, "abort: ledger written, intent not cleared")    \
	/* end.c: evict, delete, abort, last drop */                           \
	X(END_ARMED, put, "end: record armed, ending CAS not made")            \
	X(END_MARKED, put, "end: entry ended and marked, waiters not woken")   \
	X(END_CLOSED, put, "end: waiters woken, counters not set")             \
	X(END_COUNTED, put, "end: counters set, block not freed")              \
	X(END_FREED, put, "end: block freed, mark not cleared")                \
	X(END_UNMARKED, put, "end: mark cleared, record still armed")          \
	/* evict.c: a plan of candidates, private to the process */          \
	X(EVICT_PLANNED, put, "evict: plan built, nothing of it evicted")      \
	/* heap.c: a change of the page map under the heap's lock */          \
	X(HEAP_PLANNED, put, "heap: plan written, not published")              \
	X(HEAP_PUBLISHED, put, "heap: plan published, not applied")            \
	X(HEAP_APPLIED, put, "heap: plan applied, not cleared")                \
	/* fill.c: filling a promise */                                        \
	X(FILL_ALLOCATED, fill, "fill: block handed to the record")            \
	X(FILL_NAMED, fill, "fill: entry named in the record, not FILLING")    \
	X(FILL_SEALING, fill, "fill: described, sealing CAS not made")         \
	X(FILL_SEALED, fill, "fill: sealed, counters and record not")          \
	X(FILL_ABORTING, fill_abort, "fill: aborted meanwhile, end not made")  \
	/* waiters.c: draining a closed waiter stack */                        \
	X(WAITERS_DRAINED, seal_wake, "drain: one waiter woken, the rest not") \
	/* repair.c: a reaper recounting an entry */                           \
	X(REPAIR_TAKEN, reap_ref, "repair: word taken, entry not marked")      \
	X(REPAIR_MARKED, reap_ref, "repair: REPAIR set, nothing counted")      \
	X(REPAIR_STAMPED, stalled_ref, "repair: a stalled change stamped, not counted") \
	X(REPAIR_COUNTED, reap_ref, "repair: counted, not stored")             \
	X(REPAIR_RETURNED, reap_ref, "repair: stored and word given back")     \
	/* proc.c: reaping a dead process */                                   \
	X(CLAIM_RESERVED, claim_full, "claim: a reserve slot taken, nothing reaped") \
	X(CLAIM_ADOPTED, claim_adopt, "claim: a dead claimer's reserve slot taken over, not cleared") \
	X(REAP_CLAIMED, reap, "reap: slot claimed, nothing done")              \
	X(REAP_FILL, reap, "reap: one fill handled, record not cleared")       \
	X(REAP_FILLS, reap, "reap: fills done, intent not")                    \
	X(REAP_CREATE, reap, "reap: create decided, stripes not released")     \
	X(REAP_RECOUNTED, reap_ref, "reap: entry recounted, abort not checked")\
	X(REAP_STACK_SEEN, reap_seal, "reap: a dead sealer's stack to close, nothing pinned") \
	X(REAP_STACK_PINNED, reap_seal, "reap: a dead sealer's object pinned, stack not closed") \
	X(REAP_INTENT, reap, "reap: intent done, end record not")              \
	X(REAP_END, reap, "reap: end record done, ledger not")                 \
	X(REAP_FLAGGED, reap, "reap: a record flagged, not given back")        \
	X(REAP_GIVEN, reap, "reap: a record given back, still flagged")        \
	X(REAP_CROSSED, reap, "reap: a record crossed out, flagged, stamps not read") \
	X(REAP_LEDGER, reap, "reap: ledger done, orphans and cache not")       \
	X(REAP_ORPHANS, reap, "reap: a chunk of the orphan scan recorded")     \
	X(REAP_CLEARED, reap, "reap: slot cleared, not freed")

/*
 * The runtime's points, in the same form: steps of the runtime's shared
 * operations (task records, actor calls).  Their scenarios are runtime
 * scenarios: tests/test_runtime_crash.c expands this list the way
 * test_crash_points.c expands the store's.  One enum for both, so one
 * handle arms either kind.
 */
#define SHOAL__RT_CRASH_POINTS(X)                                              \
	/* task.c: taking and freeing a task record */                         \
	X(TASK_TAKEN, submit, "take: record BUILDING, its bit still set")      \
	X(TASK_BUILT, submit, "submit: built and promised, not parked")        \
	X(TASK_PUBLISHED, submit_queued, "submit: queued, its parent's cancel not read again")\
	X(TASK_FREED, run_done, "free: record FREE, its bit not set")          \
	/* deps.c: a task parked on unsealed arguments, then queued */         \
	X(DEP_PARKING, submit_parked, "park: WAITING, guard up, no node pushed")\
	X(DEP_QUEUED, seal_resolves, "resolve: QUEUED, its item not pushed")   \
	/* store/waiters.c: a waiter's node or record, before its push */    \
	X(WAITERS_PUSHING, submit_parked, "push: entry read unsealed, node not pushed")\
	X(WAITERS_LATE, submit_parked, "push: node pushed, ctl reloaded, stack not closed")\
	/* exec.c: a worker runs a task */                                     \
	X(TASK_CLAIMED, run_unrun, "run: record RUNNING, function not run")    \
	X(TASK_RAN, run_ran, "run: returns sealed, record not freed")          \
	/* cancel.c: a pending task cancelled */                               \
	X(TASK_CANCEL_SET, cancel, "cancel: CANCEL set, returns not filled")   \
	X(CALL_CANCEL_SET, call_cancel, "call cancel: CANCEL set, results not filled")\
	/* call.c: a caller's lane into an actor, taken, hooked, freed */     \
	X(LANE_TAKEN, lane_call, "lane: taken (names its taker), not hooked")  \
	X(LANE_HOOKED, lane_call, "lane: hooked into the actor, not checked")  \
	X(LANE_UNHOOKED, lane_sweep, "lane free: unhooked, not FREE")          \
	X(CALL_WRITTEN, lane_call, "call: record written, not published")      \
	X(CALL_PUBLISHED, lane_call_ran, "call: published, not re-checked")    \
	/* queue.c: an item pushed into the run queue, and popped */           \
	X(QUEUE_CLAIMED, submit_queued, "push: tail claimed, cell not published")\
	X(QUEUE_POPPED, run_popped, "pop: head claimed, cells not released")   \
	X(QUEUE_TAKEN, run_popped, "pop: cells released, items held only here")\
	/* forkserver.c, fsactor.c: a child forked, its pid not stored */     \
	X(WORKER_FORKED, fs_forked, "spawn: worker forked, pid not stored")    \
	X(ACTOR_FORKED, fs_forked, "spawn: actor forked, pid not stored")      \
	/* fsactor.c: the fork server's books of an actor */                   \
	X(ACTOR_HELD, fs_actor, "create: slot filled, arguments held, not STARTING")\
	X(ACTOR_RESTARTING, fs_actor, "death: RESTARTING, no process forked") \
	X(ACTOR_DEAD, fs_actor, "death: DEAD, lanes not drained")             \
	/* end.c: the sweep after the fork server died */                      \
	X(SWEEP_CLAIMED, sweep, "sweep: records claimed, no error written")    \
	X(SWEEP_FAILED, sweep, "sweep: tasks failed, lanes not drained")       \
	X(SWEEP_DRAINED, sweep, "sweep: lanes drained, not marked complete")   \
	/* actorproc.c: an actor runs the call at the head of a lane */        \
	X(CALL_STARTED, call_unrun, "call: named as running, method not run")        \
	X(CALL_RAN, call_ran, "call: method ran, results sealed, not marked done") \
	X(CALL_DONE, call_done, "call: marked done, record not consumed")           \
	X(CALL_CONSUMED, call_done, "call: consumed, still named as running") \
	/* objq.c, objq_admin.c: object queues */                             \
	X(OQ_FILLING, oq_put, "queue put: cell FILLING, no ID written")        \
	X(OQ_FULL, oq_put, "queue put: cell FULL, tail not advanced")          \
	X(OQ_TAKING, oq_get, "queue get: cell TAKING, object not held")        \
	X(OQ_HELD, oq_get, "queue get: object held, cell still TAKING")        \
	X(OQ_TAKEN, oq_get, "queue get: cell free, head not advanced")         \
	X(OQ_BUILDING, oq_admin, "queue create: slot BUILDING, lock held")     \
	X(OQ_WALKED, oq_admin, "queue delete: cells let go, slot DELETING")   \
	X(OQ_MARKED, oq_adopt, "adopt: dead guarded slots marked, none adopted")\
	X(OQ_ADOPTING, oq_adopt, "adopt: object held, custodian not changed") \
	X(OQ_LIFTED, oq_adopt, "adopt: guards lifted, slots not reaped")

/*
 * The heap's lock-free windows that a death turns into a leak (heap.c,
 * "Crash safety and limits"): no reaper can tell whether the dead
 * process's CAS happened, so what it took stays taken, never freed twice.
 * tests/test_crash_points.c visits them with their own check: the store
 * stays whole and consistent, and the capacity lost is at most one slab
 * (64 KiB: the leaked block keeps its slab from being retired, or the
 * stranded slab keeps its free blocks).
 */
#define SHOAL__HEAP_LEAK_POINTS(X)                                             \
	X(HEAP_BLOCK_TAKEN, small_puts, "refill: block popped, not counted")   \
	X(HEAP_BLOCK_GIVING, small_drops, "spill: count lowered, block not pushed")\
	X(HEAP_SLAB_POPPED, small_puts, "refill: slab off its stack, still listed")\
	X(HEAP_SLAB_LISTED, small_puts, "relist: listed, slab not pushed")

/*
 * The birth of a named segment: the steps of a named store's create
 * (store/segment.c) and of a named runtime's start (runtime/proc/
 * runtime.c) between which a creator killed must leave no name behind,
 * or a whole segment under it; and the runtime's last step, its
 * shutdown's, where the driver is alone with the name.  tests/test_births.c visits each with a
 * creator killed there (scenario create: a plain named store's creator;
 * start: a named runtime's driver, whose start passes the create's
 * points too) and checks /dev/shm and the process table afterwards.
 */
#define SHOAL__CREATE_CRASH_POINTS(X)                                          \
	X(SEG_MADE, create, "create: file made, not laid out")                \
	X(SEG_LAID, create, "create: laid out, slot claimed, not named")       \
	X(SEG_NAMED, create, "create: named, create not returned")
#define SHOAL__START_CRASH_POINTS(X)                                           \
	X(START_STORE, start, "start: store made, no fork server")             \
	X(START_FORKED, start, "start: fork server forked, no hello heard")    \
	X(START_HELLO, start, "start: fork server watching, not named")       \
	X(START_NAMED, start, "start: named, no worker asked for")             \
	X(START_RUNNING, start, "start: workers running, start not returned") \
	X(STOP_FS_GONE, start, "shutdown: fork server gone, name not removed")

enum shoal__crash_point {
#define SHOAL__CP_ENUM(name, scenario, what) SHOAL__CP_##name,
	SHOAL__CRASH_POINTS(SHOAL__CP_ENUM)
	SHOAL__RT_CRASH_POINTS(SHOAL__CP_ENUM)
	SHOAL__HEAP_LEAK_POINTS(SHOAL__CP_ENUM)
	SHOAL__CREATE_CRASH_POINTS(SHOAL__CP_ENUM)
	SHOAL__START_CRASH_POINTS(SHOAL__CP_ENUM)
#undef SHOAL__CP_ENUM
	SHOAL__CP_COUNT
};

/* A handle's arming (process-local): point + 1 (0: none), passes left,
 * and whether to stop there instead of dying. */
struct shoal__crash {
	uint32_t point;
	uint32_t left;
	uint32_t stop;
};

#ifdef SHOAL_CRASH_POINTS
void shoal__crash_hit(struct shoal__crash *c, enum shoal__crash_point p);
#define SHOAL__CRASH(s, name) shoal__crash_hit(&(s)->crash, SHOAL__CP_##name)
/* The same where a module has no store handle, only its caller's arming
 * (NULL: none). */
#define SHOAL__CRASH_AT(c, name)                                               \
	do {                                                                   \
		if (c)                                                         \
			shoal__crash_hit((c), SHOAL__CP_##name);               \
	} while (0)
#else
#define SHOAL__CRASH(s, name) ((void)(s), (void)SHOAL__CP_##name)
#define SHOAL__CRASH_AT(c, name) ((void)(c), (void)SHOAL__CP_##name)
#endif

/* Arms c with point p (SHOAL__CP_COUNT disarms), dying at pass n >= 1. */
void shoal__crash_arm(struct shoal__crash *c, unsigned p, uint32_t n);
/* Arms c from SHOAL_CRASH in the environment (crash builds only). */
void shoal__crash_from_env(struct shoal__crash *c);
/* The point's name ("REF_CAS"), or NULL past the list. */
const char *shoal__crash_name(unsigned p);

#endif /* SHOAL_STORE_CRASH_H */
