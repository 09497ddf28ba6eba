/* SPDX-License-Identifier: MIT */
/*
 * runtime/rtlayout.h - the runtime's region of the segment (the store's
 * "ext" region), like a uapi header: fixed-width types, lock-free atomics
 * only, offsets instead of pointers, who writes what.
 *
 *   [0, 4 KiB)   struct shoal__rt_hdr
 *   workers      max_workers x struct shoal__rt_worker
 *   functions    SHOAL_MAX_FUNCTIONS x 64-byte names (index = function id),
 *                so that a program attached later can submit by name
 *   tasks        max_tasks x struct shoal__task_rec
 *   task bits    one bit per record: a hint that it is FREE (task.c)
 *   queue        the run queue (queue.h), capacity >= max_tasks
 *   actors       classes, actor slots, lane owners, lanes (actlayout.h)
 *   timeline     a ring per store process slot (timeline.h)
 *   queues       max_queues object queues (qlayout.h)
 *
 * The driver lays the region out after the store's segment is ready, so
 * the segment's SEG-R0 does not publish it: the runtime's own processes
 * inherit it through fork (the fork server is forked after the layout);
 * an attached program reads it through rt_view_open, after no labelled
 * edge.
 */
#ifndef SHOAL_RUNTIME_RTLAYOUT_H
#define SHOAL_RUNTIME_RTLAYOUT_H

#if !defined(SHOAL__LAYER_RUNTIME) && !defined(SHOAL__WHITEBOX)
#error "runtime/rtlayout.h is private to runtime/"
#endif

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "event.h"
#include "ext.h"

#define SHOAL__RT_MAGIC 0x454d49544e55524cull /* "LRUNTIME" */
#define SHOAL__RT_VERSION 18u
#define SHOAL__RT_HDR_SIZE 4096u
#define SHOAL__RT_MAX_WORKERS 1024u
#define SHOAL__RT_MAX_TASKS (1u << 20)
#define SHOAL__FN_NAME_SIZE 64u
#define SHOAL__TASK_SIZE 384u
#define SHOAL__TASK_ARGS_INLINE 192u
#define SHOAL__TASK_DEPS 16u /* = SHOAL_MAX_ARGS */
/* Words of the header's dl_lanes: a bit per 64 lanes, up to 65536 lanes
 * (SHOAL__ACT_MAX_LANES, checked in task/callcancel.c). */
#define SHOAL__DL_WORDS 16u

/* What a process is to the runtime: the role word of its store slot
 * (store/layout.h; 0, SHOAL__ROLE_STORE, is a plain store user).  Written
 * by the process itself after attach, relaxed: read by tools. */
enum shoal__proc_role {
	SHOAL__ROLE_DRIVER = 1,
	SHOAL__ROLE_FORK_SERVER = 2,
	SHOAL__ROLE_WORKER = 3,
	SHOAL__ROLE_ATTACHED = 4,
	SHOAL__ROLE_ACTOR = 5,
};

enum shoal__task_phase {
	SHOAL__T_FREE = 0,     /* anyone may take it (task.c) */
	SHOAL__T_BUILDING = 1, /* its submitter fills it in (owner: the
				* submitter's SHOAL__CREATOR24) */
	SHOAL__T_QUEUED = 2,   /* in the run queue */
	SHOAL__T_RUNNING = 3,  /* a worker runs it (owner = worker + 1) */
	SHOAL__T_WAITING = 4,  /* parked on unsealed ref arguments (deps.c) */
};
/* The owner of a RUNNING record that a sweep failed after the runtime
 * ended (end.c): never freed again. */
#define SHOAL__TASK_SWEPT 0xffffffu

/* shoal__task_rec.state: generation (32) << 32 | phase (8) << 24 |
 * owner (24).  Every transition is a CAS but those of the record's sole
 * owner (its submitter's BUILDING -> WAITING, a free), which are stores;
 * the generation grows each time the record is taken (FREE -> BUILDING),
 * so a stale queue item (a duplicate after a repair) never claims a
 * reused record. */
#define SHOAL__TASK_STATE(gen, phase, owner)                                 \
	(((uint64_t)(gen) << 32) | ((uint64_t)(phase) << 24) |              \
	 ((uint32_t)(owner) & 0xffffffu))
/* The owner of a RUNNING record that the fork server fails without
 * running it (nested.c): no worker has that number. */
#define SHOAL__TASK_OWNER_FS 0xffffffu
/* The owner of a BUILDING record is its submitter's SHOAL__CREATOR24
 * (store/layout.h), so that the fork server can tell a dead submitter's
 * record from a live one's (task.c). */
#define SHOAL__TASK_GEN(s) ((uint32_t)((s) >> 32))
#define SHOAL__TASK_PHASE(s) ((uint32_t)((s) >> 24) & 0x07u)
/*
 * Cancellation (task/cancel.c) rides in the phase byte's high bits, so
 * that a cancel and every transition of the record are ordered by the one
 * state word, and a cancel names the generation it meant:
 *  CANCEL     the task is cancelled: set by a canceller's CAS (on a
 *             QUEUED, WAITING or RUNNING record), by the fork server's
 *             watch or the worker itself past the task's deadline.  A
 *             record that has it never runs (the claim checks it) and is
 *             never retried; a running one sees it (shoal_task_cancelled).
 *  FORCE      with CANCEL on a RUNNING record: its worker is to be
 *             killed (the canceller kills it; the watch kills it again if
 *             the canceller died first).
 *  DEADLINE   with CANCEL: the cause was the deadline (SHOAL_EDEADLINE
 *             instead of SHOAL_ECANCELLED).
 *  RECURSIVE  with CANCEL: tasks the task submits are cancelled too
 *             (its submits check it: cancel.c).
 *  LEAVING    the worker's CAS before it settles the task's returns: no
 *             FORCE can be set after it, so a kill never lands on the
 *             worker's next task; a worker whose CAS finds FORCE kills
 *             itself instead.
 * Every transition of a live record keeps the bits (they go with FREE).
 */
#define SHOAL__TASK_F_SHIFT 24
#define SHOAL__TASK_F_CANCEL (0x08ull << SHOAL__TASK_F_SHIFT)
#define SHOAL__TASK_F_FORCE (0x10ull << SHOAL__TASK_F_SHIFT)
#define SHOAL__TASK_F_DEADLINE (0x20ull << SHOAL__TASK_F_SHIFT)
#define SHOAL__TASK_F_RECURSIVE (0x40ull << SHOAL__TASK_F_SHIFT)
#define SHOAL__TASK_F_LEAVING (0x80ull << SHOAL__TASK_F_SHIFT)
#define SHOAL__TASK_FLAGS(s) ((s) & (0xf8ull << SHOAL__TASK_F_SHIFT))
#define SHOAL__TASK_OWNER(s) ((uint32_t)(s) & 0xffffffu)
/* A run queue item: record index (20 bits) and generation (low 12 bits). */
#define SHOAL__TASK_ITEM(idx, gen) (((uint32_t)(gen) << 20) | (uint32_t)(idx))
#define SHOAL__ITEM_IDX(it) ((it) & 0xfffffu)
#define SHOAL__ITEM_GEN(it) ((it) >> 20)

/*
 * A task record.  Written by its submitter while BUILDING (it took the
 * record with its CAS FREE -> BUILDING and owns it); the release store of
 * WAITING or CAS to QUEUED (TASK-R1) publishes it, and a worker's acquire
 * CAS QUEUED -> RUNNING (TASK-A1) claims it; the worker reads it while
 * RUNNING and frees it (a release store of FREE, TASK-R2, which the next
 * taker's acquire CAS pairs with, TASK-A2).  `submitted` is the
 * submitter's tick count when it took the record (tools: how long it has
 * been pending; the timeline: the start of its flow arrow).
 *  args   arguments, each a 4-byte header (kind << 30 | length) then the
 *         bytes (BYTES) or a 16-byte ID (REF), padded to 8 bytes.
 *  deps, dep_next  while WAITING (deps.c): unresolved arguments + 1 (the
 *         submitter's guard), decremented by whoever resolves one; and
 *         for argument i, the link of its node in that object's waiter
 *         stack (written by the submitter before its push CAS).
 *
 * Memory order (TASK-):
 *  TASK-R1 (TASK-A1)  a record published: the submitter's release store
 *          of WAITING and release CAS WAITING -> QUEUED (deps.c), the
 *          fork server's release store of QUEUED for a retry (exec.c):
 *          the record's fields (function, arguments, returns, deps).
 *  TASK-A1 (TASK-R1)  a record claimed or read: the acquire CAS QUEUED ->
 *          RUNNING (a worker's, exec.c; the fork server's, nested.c) or
 *          to the sweep's RUNNING (ended.c), and every acquire load of a
 *          state before the record is read (task.c, deps.c, exec.c,
 *          nested.c, ended.c, end.c).
 *  TASK-R2 (TASK-A2)  a record freed: the release store of FREE
 *          (task.c), the fork server's release CAS of a gone submitter's
 *          BUILDING record to FREE: the freer is done with it ...
 *  TASK-A2 (TASK-R2)  ... before the next taker's acquire CAS FREE ->
 *          BUILDING (task.c) writes it.
 *  TASK-R3 (TASK-A3)  task_top raised (release CAS, task.c) ...
 *  TASK-A3 (TASK-R3)  ... and loaded (acquire, shoal__task_top): the
 *          pair publishes nothing a sweep relies on.  What orders a raise
 *          before what a sweep reads is the publish after it (TASK-R1),
 *          the end's fences (END-S1/END-S2) or the next watch.
 *  TASK-R4 (TASK-A4)  an argument's bit cleared from deps (acq_rel CAS,
 *          deps.c): what the clearer saw of that argument (settled) ...
 *  TASK-A4 (TASK-R4)  ... for the clear that leaves no bit and queues the
 *          task.
 *  TASK-S1 (TASK-S2)  a canceller sets CANCEL | RECURSIVE on a running
 *          record (seq_cst CAS), fences (seq_cst) and scans the table and
 *          the lanes in use for its children (cancel.c, callcancel.c) ...
 *  TASK-S2 (TASK-S1)  ... while a child's submitter publishes the child
 *          (TASK-R1; a call: LN-R1, then the doorbell's seq_cst fence),
 *          fences (seq_cst) and loads its parent's state: the scan sees
 *          the child, or the submitter sees the flag and cancels the
 *          child itself.  It loads that state before the publish too: a
 *          child of a parent cancelled already is published with the
 *          flags (a call with CANCEL in its word) and never runs.
 *  relaxed  the task bits and task_hint (hints, task.c); a record's
 *          state read by its owner, or only for its phase and generation
 *          (task.c, pending.c, exec.c's requeue); counters (statistics);
 *          the cancel bits where only they are tested or added by the
 *          record's runner (shoal_task_cancelled, the LEAVING CAS): the
 *          word's own modification order orders them against a
 *          canceller's CAS, and no other data goes with them.
 */
struct shoal__task_rec {
	_Atomic uint64_t state;
	uint32_t fn;
	uint32_t num_returns;
	uint32_t nargs;
	uint32_t args_len;
	uint32_t submitter;      /* SHOAL__CREATOR(slot, generation) */
	_Atomic uint32_t deps;
	uint32_t retries;        /* runs left after a worker death (fork server) */
	uint32_t parent;         /* the submitting task's record + 1, or
				  * SHOAL__PARENT_CALL | lane of the actor
				  * call that submitted it; 0: none */
	uint64_t ret_hi;         /* the ID of return 0; return i has index i */
	uint64_t ret_lo;
	uint64_t submitted;      /* the submitter's ticks (base/clock.h) */
	uint32_t parent_gen;     /* the submitting task record's generation,
				  * or the call's position in its lane */
	uint32_t parent_tag;     /* a call parent's lane tag (callcancel.c:
				  * its owner and actor, so a lane given back
				  * and taken again is another parent), 0 */
	uint64_t deadline;       /* CLOCK_MONOTONIC ns past which it is
				  * cancelled (SHOAL_EDEADLINE); 0: none */
	_Atomic uint32_t dep_next[SHOAL__TASK_DEPS];
	uint8_t args[SHOAL__TASK_ARGS_INLINE];
	uint8_t pad1_[SHOAL__TASK_SIZE - 336];
};
static_assert(sizeof(struct shoal__task_rec) == SHOAL__TASK_SIZE, "task record");
/* A parent that is an actor call (task/callcancel.c): no record index
 * has this bit (SHOAL__RT_MAX_TASKS). */
#define SHOAL__PARENT_CALL 0x80000000u
static_assert(SHOAL__RT_MAX_TASKS <= (1u << 20), "items carry 20 index bits");

enum shoal__worker_state {
	SHOAL__WK_EMPTY = 0,    /* never started */
	SHOAL__WK_STARTING = 1, /* forked, not running yet */
	SHOAL__WK_RUNNING = 2,
	SHOAL__WK_EXITED = 3,   /* reaped by the fork server */
	SHOAL__WK_RETIRED = 4,  /* an extra worker that left when idle */
};

/*
 * One worker slot.
 *  pid, state  the fork server writes STARTING and the pid when it forks,
 *              EXITED when it reaps (release); the worker writes its pid
 *              and start (the same values: publish_self) and RUNNING once
 *              attached (release, then signals `ready`: WK-R1).  Readers
 *              (driver, info) load with acquire (WK-A1).
 *  generation  the fork server bumps it for each process started in the
 *              slot (a replacement is a new generation).
 *  blocked     the worker, around a sleep in a get inside a task
 *              (relaxed: a hint for starting extra workers); reset by the
 *              fork server when it starts a process in the slot.
 *  head        the worker, while it is the pool's head: idle and waiting
 *              on the run queue's wake line, spinning, then asleep on it
 *              (worker.c: put down seq_cst, POOL-S2; read by a push's
 *              kick, POOL-S1, and by idle workers choosing a head,
 *              relaxed); reset like blocked.
 *  room_wait   the worker, while a task it runs waits for a free task
 *              record (relaxed: a hint for the submit's deadlock test,
 *              task.c); reset like blocked.
 *
 * Memory order (WK-):
 *  WK-R1 (WK-A1)  a slot's release stores: of pid (the fork server's
 *          after the start time, the worker's own in publish_self), of
 *          RUNNING (after publish_self), RETIRED and EXITED: the start
 *          time before the pid, the pid before the state.
 *  WK-A1 (WK-R1)  acquire loads of state and pid (the driver's start and
 *          info, nested.c, end.c, the fork server's reap).
 *  relaxed  STARTING (the fork server's own, before the fork), blocked
 *          and head's raise (hints), generation (counted for tools),
 *          tasks_run (statistics), start (published by the pid's WK-R1).
 */
struct shoal__rt_worker {
	_Atomic int32_t pid;
	_Atomic uint32_t state;
	_Atomic uint32_t generation;
	_Atomic uint32_t blocked;   /* the worker: asleep in a get in a task */
	_Atomic uint64_t tasks_run; /* the worker (statistics) */
	_Atomic uint32_t head;      /* the worker: idle, waiting on the queue */
	uint32_t pad0_;
	/* The fork server, before it publishes pid (release): the process's
	 * start time, so that a reused pid never passes for it (end.c). */
	_Atomic uint64_t start;
	/* The worker, relaxed (a tool's view, shoal_task_list): the record
	 * it runs (index + 1, 0 idle) and since when (ticks). */
	_Atomic uint32_t run_task;
	/* The worker, relaxed (a hint, task.c): 1 while a task it runs
	 * waits for room in a full task table; reset like blocked. */
	_Atomic uint32_t room_wait;
	_Atomic uint64_t run_since;
	uint8_t pad1_[64 - 56];
};
static_assert(sizeof(struct shoal__rt_worker) == 64, "one line per worker");

/*
 * The header.  Written by the driver before it forks the fork server and
 * read-only after, except:
 *  fs_pid          the fork server, once, at its start
 *  stopping        the driver at shutdown, the fork server when the driver
 *                  died (release, STOP-R1); workers load it (acquire,
 *                  STOP-A1) and leave
 *  ended           0 while the runtime runs; then, once, the code pending
 *                  and later work fails with (end.c): SHOAL_ESTOPPED (the
 *                  driver at shutdown, the fork server when the driver
 *                  died) or SHOAL_EFORKSERVERDIED (whoever finds the fork
 *                  server dead).  CAS 0 -> code, seq_cst (END-R1); loaded
 *                  with acquire by every submit, call, create and kill
 *                  (END-A1).
 *  sweep           0; 1 once a sweep of pending work began (seq_cst store
 *                  before its scan, END-S2); 2 once one completed
 *                  (release, END-R3).  Whoever sweeps (end.c).
 *  fs_alive        a robust, process-shared mutex the fork server locks at
 *                  its start and never unlocks: the kernel marks it
 *                  OWNER_DIED when it dies (end.c probes it).  Initialised
 *                  by the driver before the fork server exists.
 *  fs_gone         0; 1 (release, END-R2) once a probe of fs_alive found
 *                  its owner dead, stored by that prober before it lets go
 *                  of the mutex: the mutex itself does not keep saying so
 *                  (life.c).  Loaded with acquire by every probe (END-A2).
 *  work            an event (base/event.c): idle workers other than the
 *                  head stand by on it; a push signals it when no head
 *                  waits (worker.c, POOL-S1), and so does shutdown
 *  task_room       an event whoever frees a task record signals after
 *                  its FREE store (task.c, TASK-R2 then EV-S2): a submit
 *                  that found the table full sleeps on it
 *  ready           a worker that reached RUNNING signals it; the driver's
 *                  start waits on it
 *  workers_*       the fork server (statistics, relaxed)
 *
 * Memory order of the header (STOP-, END-, FS-):
 *  STOP-R1 (STOP-A1)  stopping = 1, a release store (runtime.c,
 *          forkserver.c) ...
 *  STOP-A1 (STOP-R1)  ... and its acquire loads (worker.c, actorproc.c,
 *          forkserver.c): a process that sees the flag leaves and reads
 *          nothing the stopper wrote, so the pair publishes nothing it
 *          needs.  Sleepers are woken by the signals after the store
 *          (EV-S2 of base/event.c).
 *  END-R1 (END-A1)  the CAS that ends the runtime (0 -> code, seq_cst,
 *          life.c): the code, once, to ...
 *  END-A1 (END-R1)  ... every acquire load of `ended` (life.c, fsproto.c,
 *          end.c, ended.c, drain.c).  Its seq_cst is more than the pair
 *          needs: a submit that races with the end is END-S1/END-S2's.
 *  END-R2 (END-A2)  fs_gone = 1, a release store by the prober that found
 *          the fork server dead (life.c) ...
 *  END-A2 (END-R2)  ... every probe's acquire load of it: the fork server
 *          is dead, whatever its mutex says now.
 *  END-S1 (END-S2)  a submitter publishes its record (TASK-R1), or a
 *          caller its call (LN-R1 of ring/lane.c), fences (seq_cst:
 *          ended.c; the doorbell's EV-S2 for a call), then loads sweep:
 *          it sees the sweep begun and fails its own work, or ...
 *  END-S2 (END-S1)  ... the sweeper, which stored sweep = 1 (seq_cst) and
 *          fenced before it loads task_top and scans (proc/end.c), sees
 *          the record.
 *  END-R3 (END-A3)  sweep = 2 (release, proc/end.c): the sweep is
 *          complete ...
 *  END-A3 (END-R3)  ... for a prober's acquire load (life.c), which then
 *          sweeps no more.
 *  FS-R1 (FS-A1)  the fork server's release store of fs_pid, after it
 *          stored fs_key and fs_token (relaxed) ...
 *  FS-A1 (FS-R1)  ... to a requester's acquire load of fs_pid
 *          (fsproto.c), which then reads the key and the token.
 *  FS-A2 (no partner)  a probe's acquire load of the fork server's robust
 *          mutex word (life.c): written by glibc and the kernel, compared,
 *          never relied on for other data; relaxed would do.
 */
struct shoal__rt_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t num_workers;
	uint32_t max_workers;
	int32_t driver_pid;
	uint64_t workers_off;     /* from the region's start */
	_Atomic int32_t fs_pid;
	_Atomic uint32_t stopping;
	_Atomic int32_t ended;
	_Atomic uint32_t sweep;
	_Atomic uint32_t fs_gone;
	uint32_t flags;           /* SHOAL_RUNTIME_* of the driver's options */
	uint8_t pad0_[64 - 56];
	struct shoal__event work;
	struct shoal__event ready;
	_Atomic uint64_t workers_started;
	_Atomic uint64_t workers_died;
	/* The fork server's socket key (random, in its abstract address:
	 * fsactor.c), written by it once before fs_pid (release, FS-R1: a
	 * requester that loads fs_pid with acquire, FS-A1, reads the key
	 * that goes with it). */
	_Atomic uint64_t fs_key;
	/* Its request token (random, in no address), written and published
	 * with fs_key.  A requester copies it into each request; the
	 * socket's filter drops every datagram without it in its sender's
	 * send, so a process that cannot read this segment takes no room in
	 * the fork server's queue (fsactor.c). */
	_Atomic uint64_t fs_token;
	/* The fork server's store SHOAL__CREATOR, 1 << 32 set once written
	 * (by it, once, at its start; relaxed: one word read whole, which
	 * publishes nothing else).  Putters into object queues name it the
	 * guardian of their slot (store/guard.c, task/objq.c). */
	_Atomic uint64_t fs_creator;
	uint8_t pad3_[64 - 40];
	/* Tasks: layout written by the driver before the fork server; the
	 * hint (the word of task bits where a free record was last seen) is
	 * written by anyone, relaxed (task.c); task_top (one past the highest
	 * record ever taken) only grows, raised by a taker before its taking
	 * CAS (release, TASK-R3, pairs with the sweeps' acquire, TASK-A3:
	 * task.c), so that every record that is not FREE lies below it;
	 * counters are statistics (relaxed). */
	uint32_t max_tasks;
	uint32_t nfuncs;
	uint64_t fnames_off;
	uint64_t tasks_off;
	uint64_t task_bits_off;
	uint64_t queue_off;
	uint64_t queue_bytes;
	/* The driver, before the fork server, read-only after: the first ID
	 * it made (shoal_id_next, at start), whose successors its first
	 * tasks' results take; every process warms their directory run at
	 * its start (region.c, shoal__rt_warm).  Only hashed to a slot. */
	uint64_t warm_hi;
	uint64_t warm_lo;
	_Atomic uint32_t task_hint;
	_Atomic uint32_t task_top;
	_Atomic uint64_t tasks_submitted;
	_Atomic uint64_t tasks_done;
	_Atomic uint64_t tasks_failed;
	uint8_t pad5_[64 - 32];
	/* Actors (actlayout.h): layout written by the driver before the fork
	 * server, read-only after. */
	uint32_t max_actors;
	uint32_t max_lanes;
	uint32_t lane_capacity;
	uint32_t nclasses;
	uint64_t classes_off;
	uint64_t actors_off;
	uint64_t lmeta_off;
	uint64_t lanes_off;
	uint64_t lane_bytes;
	uint8_t pad6_[64 - 56];
	/* The timeline (timeline.h): layout and the clock's calibration,
	 * written by the driver before the fork server, read-only after. */
	uint64_t tl_off;
	uint64_t tl_ring_bytes;
	uint32_t tl_rings;
	uint32_t tl_events;
	struct shoal__clock clock;
	uint8_t pad8_[64 - 48];
	/* Object queues (qlayout.h): layout written by the driver before the
	 * fork server, read-only after. */
	uint32_t max_queues;
	uint32_t queue_cells;     /* cells per queue, a power of two */
	uint64_t oq_off;
	uint64_t oq_slot_bytes;   /* header + cells of one queue */
	/* Names: creates and deletes take it (CAS 0 -> their
	 * SHOAL__CREATOR24 + 1, acquire: OQ-A4; given back with a release
	 * store of 0, OQ-R4 of qlayout.h), so a name is unique; a gone
	 * holder's is taken over by CAS. */
	_Atomic uint32_t oq_lock;
	uint8_t pad9_[64 - 28];
	/* Its own line: every submit and call probes it (end.c). */
	pthread_mutex_t fs_alive;
	uint8_t pad7_[64 - sizeof(pthread_mutex_t)];
	/* Its own line: signalled at every free of a task record (task.c). */
	struct shoal__event task_room;
	/*
	 * Queued actor calls the fork server's watch must look at
	 * (task/callcancel.c): bit g % 64 of dl_lanes[g / 64] set while
	 * lanes 64g .. 64g + 63 may hold one (a call with a deadline not
	 * reached yet, or a cancelled call whose results its canceller may
	 * not have filled).  Set by a caller after it published a call with
	 * a deadline and by a canceller before its CAS (fetch_or, release:
	 * DL-R1); taken by the watch before it scans those lanes (exchange
	 * with 0, acquire: DL-A1), and set again by the watch (relaxed: its
	 * own next scan reads it) for a group that still has one.
	 *  DL-R1 (DL-A1)  a caller's publish of its call (LN-R1), then its
	 *          fetch_or: the watch whose exchange reads that bit sees
	 *          the tail that published the call ...
	 *  DL-A1 (DL-R1)  ... and an exchange before the fetch_or leaves
	 *          the bit set for the next watch.
	 */
	_Atomic uint64_t dl_lanes[SHOAL__DL_WORDS];
};
static_assert(sizeof(struct shoal__rt_hdr) <= SHOAL__RT_HDR_SIZE, "rt header");
static_assert(sizeof(pthread_mutex_t) <= 64, "the mutex fits its line");
static_assert(offsetof(struct shoal__rt_hdr, fs_alive) % 64 == 0,
	      "fs_alive has its own line");

#endif /* SHOAL_RUNTIME_RTLAYOUT_H */
