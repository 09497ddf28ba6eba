/* SPDX-License-Identifier: MIT */
/*
 * shoal/actor.h - actors and actor handles: Ray's @ray.remote classes in C.
 *
 * An actor is a process of its own, started by the runtime's fork server,
 * that keeps state (whatever its constructor returns) and runs the methods
 * called on it one at a time by default (Ray's max_concurrency=1), or on
 * several threads (below, "Threads").  Classes are
 * registered by name in the registry before the runtime starts: a
 * constructor, a destructor and methods, each method a shoal_task_fn that
 * receives the call's context (the same struct shoal_task a task gets:
 * arguments, returns, errors, the runtime) and the actor's state.
 *
 * A handle (struct shoal_actor) is a small plain value: copy it into task
 * arguments (shoal_args_actor), other actors' arguments, objects, or look
 * it up by name from any process attached to the runtime.  Any holder may
 * call methods on it.
 *
 * Calls.  A call writes one fixed-size record into the lane this process
 * has into the actor (a single-producer ring in the segment, made on the
 * first call; the process's threads share it under a process-local lock)
 * and rings the actor's doorbell; the result refs come back at once, held
 * by the caller (drop each when done), and are filled by the actor.
 * By-value arguments that do not fit in the record go into the store and
 * travel as refs; ref arguments are kept alive until the call is done.
 * The actor waits for an unsealed ref argument before it runs the call;
 * if that argument's creator dies before sealing it, or the ID is not in
 * the store at all (checked once a second), the call fails with
 * SHOAL_EOWNERDIED instead.
 *
 * Ordering: calls one thread makes on one actor run in the order it made
 * them (one lane per process, written under its lock, read in order),
 * as long as the methods' group has one thread (the default).  Calls
 * from different threads or processes interleave, and so do calls to
 * methods of different concurrency groups, even from one thread.
 *
 * Threads (Ray's threaded actors and concurrency groups).  An actor
 * created with max_concurrency N > 1 runs the calls of its default
 * group on N threads of its process: a caller's calls run at once, in
 * no order.  A class may also have named concurrency groups
 * (shoal_register_group), each with threads of its own, and methods in
 * them (shoal_register_method_in_group): a caller has a lane per actor
 * and group it calls, so a group's calls never wait behind another
 * group's (a control method answers while a data method is flooded),
 * and a group of one thread keeps each caller's order in it.  Thread
 * safety of the state: with one thread in all (the default, no groups)
 * methods never run at once and the state needs no lock, as before.
 * With more (max_concurrency > 1, or any group), methods run at the
 * same time on different threads with the same `self`: the methods must
 * synchronise what they share (a mutex, atomics), even methods of
 * different groups.  A method may block (a get, a sleep): only its own
 * thread waits.  The destructor runs after every thread stopped.  A
 * crash of the process (any thread) is the actor's death: each call that
 * was running on any thread is retried or fails as below, once; a call
 * that had finished is never run again.
 *
 * Backpressure: a caller process may have at most max_pending_calls calls
 * queued or running on one actor (a runtime option: the lane's capacity).
 * Beyond it, a call waits (a bounded spin, then a futex) until the actor
 * finishes one, or until its timeout; a try-call does not wait.  Either
 * way a lane still full fails the call with SHOAL_ELANEFULL (Ray's
 * PendingCallsLimitExceeded).  The same timeout bounds the wait for room in
 * the store for by-value arguments (SHOAL_ESTOREFULL past it): a call's
 * timeout bounds everything the call does.
 *
 * Failure.  Errors from a method propagate exactly like task errors (error
 * objects in its returns, passed on to dependent tasks).  An actor that
 * dies (a crash, a kill) is noticed by the fork server.  With restarts
 * left (max_restarts) it is started again: the constructor runs again,
 * calls that were queued run after it; the calls that were running (one
 * per thread) fail with SHOAL_EACTORDIED unless they have retries left
 * (max_task_retries).
 * Otherwise the actor is dead: every call queued or running fails with
 * SHOAL_EACTORDIED (its refs hold that error), a call made afterwards
 * returns SHOAL_EACTORDIED, and a call that raced with the death gets one
 * or the other.  No caller waits forever on a dead actor.
 *
 * Limits: max_actors alive at once (a runtime option; a dead actor's slot
 * is reused at once), 1024 lanes per actor (one per caller process and
 * concurrency group it calls), max_lanes lanes in all, SHOAL_MAX_CLASSES
 * classes of SHOAL_MAX_METHODS methods, SHOAL_MAX_CONCURRENCY threads per
 * actor, SHOAL_MAX_GROUPS groups per class.
 *
 * Thread safety: every function may be called from any thread of a
 * process that has a runtime handle (driver, worker, actor, attached
 * program).  Creating and killing actors goes through the fork server and
 * costs a round trip on a socket; calls do not.
 */
#ifndef SHOAL_ACTOR_H
#define SHOAL_ACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shoal/error.h>
#include <shoal/export.h>
#include <shoal/id.h>
#include <shoal/runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHOAL_MAX_CLASSES 64
#define SHOAL_MAX_METHODS 64
/* Threads of one actor, all its concurrency groups together. */
#define SHOAL_MAX_CONCURRENCY 64
/* Concurrency groups of a class, the default one included, and the
 * default one's name. */
#define SHOAL_MAX_GROUPS 8
#define SHOAL_DEFAULT_GROUP "default"
#define SHOAL_ACTOR_NAME_MAX 63

/* An actor handle: plain bytes, valid in every process of the runtime.
 * A zeroed handle names no actor. */
struct shoal_actor {
	uint32_t index;      /* the actor's slot */
	uint32_t generation; /* which actor in that slot (never 0) */
	uint32_t klass;      /* its class */
	uint32_t magic;      /* SHOAL_ACTOR_MAGIC */
};

#define SHOAL_ACTOR_MAGIC 0x52544341u /* "ACTR" */

/* The constructor: reads its arguments from ctx (shoal_task_arg), sets
 * *self to the actor's state, returns 0 or a negative code (with
 * shoal_task_fail for a message).  A failed constructor kills the actor:
 * its calls fail with SHOAL_EACTORDIED and the message. */
typedef int (*shoal_actor_init_fn)(struct shoal_task *ctx, void **self);
/* The destructor, when the runtime shuts down (not after a kill). */
typedef void (*shoal_actor_fini_fn)(void *self);

/* Registers a class (name: 1..63 bytes).  fini may be NULL.  -EEXIST
 * (the class exists), -EINVAL (NULL reg or init, a bad name), -ENOSPC
 * (SHOAL_MAX_CLASSES), -EBUSY (a runtime was started from this registry).
 * The name is copied.  One thread at a time per registry. */
SHOAL_API int shoal_register_actor(struct shoal_registry *reg,
				   const char *klass, shoal_actor_init_fn init,
				   shoal_actor_fini_fn fini);

/* Registers a method of a registered class; fn receives the actor's state
 * as its `user` argument.  SHOAL_ENOCLASS for an unknown class, -EEXIST (the
 * class has that method), -EINVAL (NULL reg or fn, a bad name), -ENOSPC
 * (SHOAL_MAX_METHODS), -EBUSY (after start).  Methods are numbered in
 * registration order (shoal_actor_method).  One thread at a time per
 * registry. */
SHOAL_API int shoal_register_method(struct shoal_registry *reg,
				    const char *klass, const char *method,
				    shoal_task_fn fn);

/*
 * Ray's concurrency groups: registers group `group` (1..63 bytes, not
 * SHOAL_DEFAULT_GROUP) of a registered class, run by `concurrency`
 * threads of each actor of the class, apart from its other groups'
 * threads (Ray's concurrency_groups={"control": 1}).  A caller's calls to
 * the methods of one group go through a lane of their own into the actor
 * (one per caller process, actor and group), so that they never queue
 * behind another group's: a control method of its own group answers while
 * a flood of data calls fills the data group's lanes.  With one thread,
 * a group runs each caller's calls in the order they were made; with
 * more, at once and in no order.  Methods outside every group run in the
 * default group (shoal_actor_options.max_concurrency threads).  -EINVAL
 * (NULL reg, a bad class or group name, concurrency 0 or above
 * SHOAL_MAX_CONCURRENCY - 1), SHOAL_ENOCLASS (no such class), -EEXIST (the class
 * has that group), -ENOSPC (SHOAL_MAX_GROUPS groups with the default one,
 * or the class's groups would need more than SHOAL_MAX_CONCURRENCY - 1
 * threads together: one stays for the default group), -EBUSY (after
 * start).  One thread at a time per registry.
 */
SHOAL_API int shoal_register_group(struct shoal_registry *reg, const char *klass,
				   const char *group, uint32_t concurrency);

/* shoal_register_method, with the method in concurrency group `group` of
 * the class (registered first with shoal_register_group; NULL or
 * SHOAL_DEFAULT_GROUP: the default group).  Its errors, and -ENOENT for a
 * group the class does not have; -EINVAL for a bad group name.  One
 * thread at a time per registry. */
SHOAL_API int shoal_register_method_in_group(struct shoal_registry *reg,
					     const char *klass, const char *method,
					     const char *group, shoal_task_fn fn);

/* Ray's .options(...) on an actor class.  Initialise with
 * SHOAL_ACTOR_OPTIONS_INIT and change only the fields you need: the
 * struct ends in reserved words that must stay zero (resv). */
struct shoal_actor_options {
	/* Registers the actor under this name (1..63 bytes) for
	 * shoal_actor_lookup; NULL: anonymous. */
	const char *name;
	/* With a name: return the live actor of that name if there is one
	 * instead of -EEXIST (Ray's get_if_exists). */
	bool get_if_exists;
	/* Times the actor is restarted after it died unasked (default 0). */
	uint32_t max_restarts;
	/* Times a call that was running when the actor died runs again after
	 * a restart (default 0: it fails with SHOAL_EACTORDIED). */
	uint32_t max_task_retries;
	/* Ignored: padding in earlier releases, so never read. */
	uint32_t pad_;
	/* Ray's max_concurrency: the threads that run the calls of the
	 * default group (methods registered with shoal_register_method), 1
	 * to SHOAL_MAX_CONCURRENCY; 0 (the default) means 1: one thread,
	 * calls one at a time, each caller's in its order.  Above 1 the
	 * calls of that group run at once on that many threads, in no
	 * order, and the methods must synchronise their state (see "Threads"
	 * above).  (SHOAL_0.3; it took the first reserved word.) */
	uint32_t max_concurrency;
	/* Zero, as resv (the rest of the first reserved word). */
	uint32_t resv0;
	/* Reserved for fields of later releases: zero, as the initialisers
	 * leave it.  shoal_actor_create refuses a nonzero word with -EINVAL,
	 * so that a program built for a later release, asking for something
	 * this library cannot do, is refused rather than ignored.  A field
	 * that takes a word has 0 as its default. */
	uint64_t resv[3];
};

#define SHOAL_ACTOR_OPTIONS_INIT                                              \
	{                                                                     \
		.name = NULL, .get_if_exists = false, .max_restarts = 0,     \
		.max_task_retries = 0,                                        \
	}

#define SHOAL_ACTOR_CTOR_BYTES 384
/*
 * Ray's Class.remote(...): starts an actor of class klass with constructor
 * arguments args (by value, at most SHOAL_ACTOR_CTOR_BYTES encoded, or
 * refs, which the runtime keeps alive for restarts).  Returns once the fork
 * server started the process; calls made at once queue until the
 * constructor has run.  SHOAL_ENOCLASS (no class of that name), -EEXIST (name taken, without
 * get_if_exists), -ENOSPC (max_actors live actors), -E2BIG (constructor
 * arguments), -EINVAL (NULL rt, klass or out, a bad name in opts, a
 * nonzero resv word, bad args, max_concurrency above
 * SHOAL_MAX_CONCURRENCY or above what the class's concurrency groups
 * leave of it), SHOAL_EFORKSERVERDIED or SHOAL_ESTOPPED
 * (the runtime ended: shoal/runtime.h), -ETIMEDOUT (the fork server did
 * not answer within its bound), -ESRCH (no fork server to ask), or a
 * negated errno of the socket or the fork.  A failed constructor is not
 * an error here: the actor dies and its calls fail (see above).
 * *out is a plain value the caller may copy anywhere; nothing to free
 * (the actor lives until killed or the runtime ends).  Any thread of any
 * process with a runtime handle.
 */
SHOAL_API int shoal_actor_create(struct shoal_runtime *rt, const char *klass,
				 const struct shoal_args *args,
				 const struct shoal_actor_options *opts,
				 struct shoal_actor *out);

/* Ray's ray.get_actor(name): the live actor of that name, or
 * SHOAL_ENOACTOR (no live actor has it);
 * -EINVAL for a NULL rt, name or out, or an empty name.  Any thread. */
SHOAL_API int shoal_actor_lookup(struct shoal_runtime *rt, const char *name,
				 struct shoal_actor *out);

/* A method's index for shoal_actor_call (SHOAL_ENOMETHOD if the class has none of
 * that name; -EINVAL for a NULL rt or method, or a handle that is not
 * one).  Stable for the runtime's life: look it up once.  Any thread. */
SHOAL_API int shoal_actor_method(struct shoal_runtime *rt,
				 struct shoal_actor actor, const char *method);

/* Options of one call.  Initialise with SHOAL_CALL_OPTIONS_INIT and
 * change only the fields you need: the struct ends in reserved words that
 * must stay zero (resv). */
struct shoal_call_options {
	/* Result refs (1..SHOAL_MAX_RETURNS), or 0 for fire and forget: no
	 * result object at all; errors are only counted. */
	uint32_t num_returns;
	/* How long the call may wait, in ms, for everything it does, one
	 * deadline for all: room in a full lane, and room in the store for
	 * by-value arguments that do not fit in the call record.  -1 forever
	 * (the default), 0 not at all (a try-call: SHOAL_ELANEFULL on a full lane,
	 * SHOAL_ESTOREFULL on a full store).  A call made under a task or
	 * method cancelled with SHOAL_CANCEL_RECURSIVE does not wait for lane
	 * room: it returns 0, its results SHOAL_ECANCELLED (shoal_cancel).
	 * The clock starts at the first
	 * wait: a call that never waits never reads it. */
	int timeout_ms;
	/* A deadline, in ms from the call (0, the default: none; negative:
	 * -EINVAL).  Past it, a call the actor has not started never runs
	 * and its results hold SHOAL_EDEADLINE, also while the actor is
	 * busy: the fork server's watch fails it at the deadline (it wakes
	 * at the soonest one it has seen, and sees a new one within 250 ms);
	 * a
	 * running one is cancelled as by shoal_cancel: shoal_task_cancelled
	 * turns true in the method, and the results it leaves unset hold
	 * SHOAL_EDEADLINE.  CLOCK_MONOTONIC. */
	int64_t deadline_ms;
	/* Reserved for fields of later releases: zero, as the initialisers
	 * leave it.  shoal_actor_call_opts refuses a nonzero word with
	 * -EINVAL, so that a program built for a later release, asking for
	 * something this library cannot do, is refused rather than ignored.  A
	 * field that takes a word has 0 as its default. */
	uint64_t resv[3];
};

#define SHOAL_CALL_OPTIONS_INIT {.num_returns = 1, .timeout_ms = -1}

/*
 * Ray's actor.method.remote(...): queues method with args and returns at
 * once; refs[0..num_returns) receive the results (held by the caller).
 * SHOAL_EACTORDIED (the actor is dead, or the handle names an actor gone),
 * SHOAL_ESTOPPED or SHOAL_EFORKSERVERDIED (the runtime ended: shoal/runtime.h),
 * SHOAL_ELANEFULL (the lane from this process was full: at once for a
 * try-call, at the timeout otherwise), -EAGAIN (a try-call found another
 * thread of this process writing into the lane), -ETIMEDOUT (the timeout
 * passed while another thread of this process held the lane),
 * SHOAL_ESTOREFULL (no room in the store for by-value arguments within the
 * timeout), -EINVAL (bad handle, method, args), -ENOSPC (this process's
 * first call to the actor, or to the method's concurrency group, found
 * no lane: the runtime's max_lanes are taken, or 1024 lanes go into this
 * actor already), -E2BIG (the encoded
 * arguments do not fit the call record's 192 bytes, counted as for
 * shoal_submit), or the store's errors.  Nothing is queued, and nothing
 * is left in the store, when it fails.  refs[] is the caller's array
 * (NULL allowed for num_returns 0); the caller holds each ref (drop it).
 * Any thread of any process with a runtime handle (ordering: above).
 */
SHOAL_API int shoal_actor_call_opts(struct shoal_runtime *rt,
				    struct shoal_actor actor, int method,
				    const struct shoal_args *args,
				    const struct shoal_call_options *opts,
				    shoal_id *refs);

/* One result, waiting as long as it takes for room: shoal_actor_call_opts
 * with the defaults, and its errors (SHOAL_EACTORDIED, -EINVAL ...; never
 * SHOAL_ELANEFULL).  *ref is held by the caller. */
SHOAL_API int shoal_actor_call(struct shoal_runtime *rt, struct shoal_actor actor,
			       int method, const struct shoal_args *args,
			       shoal_id *ref);

/* Fire and forget: no result (num_returns 0, no timeout).  Errors as
 * shoal_actor_call's (SHOAL_EACTORDIED, -EINVAL ...), returned at the
 * send only: a failure of the method itself is only counted
 * (shoal_actor_info's calls_failed).  A value the method returns is
 * dropped, not a failure (shoal_task_return returns 0 there). */
SHOAL_API int shoal_actor_send(struct shoal_runtime *rt, struct shoal_actor actor,
			       int method, const struct shoal_args *args);

/*
 * Ray's ray.kill(actor, no_restart): kills the actor's process (SIGKILL,
 * no destructor) and returns once the fork server reaped it.  With
 * no_restart, or without restarts left, the actor is dead and every call
 * queued or running has failed with SHOAL_EACTORDIED by the time this
 * returns; otherwise it restarts (the running call fails or is retried).
 * SHOAL_EACTORDIED if it was dead already; SHOAL_EFORKSERVERDIED or
 * SHOAL_ESTOPPED once the runtime ended (as for create); -EINVAL for a
 * NULL rt or a handle that is not one; -ETIMEDOUT, -ESRCH as for create.
 * Any thread of any process with a runtime handle.
 */
SHOAL_API int shoal_actor_kill(struct shoal_runtime *rt, struct shoal_actor actor,
			       bool no_restart);

enum shoal_actor_state {
	SHOAL_ACTOR_STARTING = 1,   /* the constructor has not finished */
	SHOAL_ACTOR_ALIVE = 2,
	SHOAL_ACTOR_RESTARTING = 3,
	SHOAL_ACTOR_DEAD = 4,
};

struct shoal_actor_info {
	uint32_t state;             /* enum shoal_actor_state */
	int32_t pid;                /* of the process now, 0 if none */
	uint32_t restarts;          /* restarts so far */
	uint64_t calls_run;         /* calls it finished (every process) */
	uint64_t calls_failed;      /* of which failed */
	char klass[64];
	char name[SHOAL_ACTOR_NAME_MAX + 1];
	char why[128];              /* why it died, if dead */
};

/* A snapshot of the actor into *out (the caller's).  SHOAL_EACTORDIED if
 * the handle names an actor whose slot was reused; -EINVAL for a NULL rt
 * or out, or a handle that is not one.  Any thread. */
SHOAL_API int shoal_actor_info(struct shoal_runtime *rt, struct shoal_actor actor,
			       struct shoal_actor_info *out);

/* Ray's `ray list actors`: handles of every actor in the runtime's table
 * (alive, starting, restarting, or dead and not reused yet), up to cap.
 * Returns how many there are (may exceed cap), or -EINVAL for a NULL rt,
 * or a NULL out with cap > 0.  A snapshot; out[] is the caller's.  Any
 * thread. */
SHOAL_API int shoal_actor_list(struct shoal_runtime *rt, struct shoal_actor *out,
			       size_t cap);

/* Appends a handle to a task's or call's arguments (by value: the handle
 * is copied when the list is submitted, as shoal_args_bytes).  -EINVAL
 * for a NULL args or actor, -ENOSPC beyond SHOAL_MAX_ARGS. */
SHOAL_API int shoal_args_actor(struct shoal_args *args,
			       const struct shoal_actor *actor);
/* Argument i of a task or call as a handle, copied into *out (-EINVAL if
 * it is not one, or for a NULL task or out, or i out of range).  From the
 * task function's thread, as the other shoal_task_* calls. */
SHOAL_API int shoal_task_arg_actor(const struct shoal_task *task, uint32_t i,
				   struct shoal_actor *out);

/* ------------------------------------------------------------------ */
/* Ray's ray.get_runtime_context(), inside a task or a method (SHOAL_0.3). */

/* What runs (shoal_task_context.kind). */
enum shoal_task_kind {
	SHOAL_KIND_TASK = 1,        /* a task function, in a worker */
	SHOAL_KIND_CALL = 2,        /* an actor's method */
	SHOAL_KIND_CONSTRUCTOR = 3, /* an actor's constructor */
};

/* Who submitted it (shoal_task_context.caller): the role of the process
 * that made the submit or call. */
enum shoal_caller {
	SHOAL_CALLER_GONE = 0,      /* not known: its process is gone (or a
				     * constructor: the fork server starts it) */
	SHOAL_CALLER_DRIVER = 1,    /* the program that started the runtime */
	SHOAL_CALLER_TASK = 2,      /* a task, in a worker (a nested task) */
	SHOAL_CALLER_ACTOR = 3,     /* an actor's method or constructor */
	SHOAL_CALLER_ATTACHED = 4,  /* a program of shoal_runtime_attach */
};

/* An output struct: shoal_task_context fills all of it, the reserved
 * words with zero today (a later release gives a word a meaning only
 * where zero means "not known"). */
struct shoal_task_context {
	/* Its ID: a task's or call's first return (shoal_submit's refs[0],
	 * shoal_task_info's id); nil for a constructor and a call made fire
	 * and forget, which have none the caller knows. */
	shoal_id id;
	uint32_t kind;        /* enum shoal_task_kind */
	int32_t worker;       /* a task: its worker's index; -1 in an actor */
	int32_t caller_pid;   /* the submitter's pid; 0 once it is gone */
	uint32_t caller;      /* enum shoal_caller, the submitter's role */
	/* In an actor (a method or its constructor): the actor's own handle,
	 * to pass to a task or another actor (Ray's current_actor).  Zeroed
	 * (no actor) in a task. */
	struct shoal_actor actor;
	uint64_t resv[4];     /* zero (see above) */
};

/* Fills *out with what runs: its ID, kind, worker, caller, and the actor
 * it runs in.  -EINVAL for a NULL task or out.  From the task function's
 * thread, as every shoal_task_* call (shoal/runtime.h). */
SHOAL_API int shoal_task_context(const struct shoal_task *task,
				 struct shoal_task_context *out);
/* Its ID alone (shoal_task_context's id): the nil ID for a NULL task, a
 * constructor or a call made fire and forget.  No errors. */
SHOAL_API shoal_id shoal_task_id(const struct shoal_task *task);
/* The actor's own handle into *out, inside one of its methods or its
 * constructor (Ray's runtime_context.current_actor): a plain value to
 * pass in arguments (shoal_args_actor), so that an actor can hand itself
 * to a task that calls it back.  -EINVAL in a task (no actor), or for a
 * NULL task or out. */
SHOAL_API int shoal_task_self_actor(const struct shoal_task *task,
				    struct shoal_actor *out);

/* ------------------------------------------------------------------ */
/* Inspection (SHOAL_0.2): the actors view of a tool                   */

/*
 * Everything shoal_actor_info says and what it cannot (its struct has no
 * reserved words, so it cannot grow): the calls queued, the lanes, and
 * why the actor last died, which a restarted actor keeps (info's `why`
 * is only filled once the actor is dead for good).  A new struct rather
 * than a field beside info: one call fills a tool's whole row, and its
 * reserved words take the next fields.  An output struct: the library
 * fills all of it, the reserved words with zero today; a later release
 * gives a word a meaning only where zero means "not known".
 */
struct shoal_actor_stat {
	uint32_t state;             /* enum shoal_actor_state */
	int32_t pid;                /* of the process now, 0 if none */
	uint32_t restarts;          /* restarts so far */
	uint32_t max_restarts;
	uint64_t calls_run;         /* calls it finished (every process) */
	uint64_t calls_failed;      /* of which failed */
	uint64_t calls_queued;      /* in its lanes now, a running one too */
	uint32_t lanes;             /* caller processes with a lane into it */
	uint32_t reserved_;         /* zero */
	char klass[64];
	char name[SHOAL_ACTOR_NAME_MAX + 1];
	char why[128];              /* why it died, if dead ("" otherwise) */
	char last_death[128];       /* why it last died, "" if it never did */
	uint64_t resv[4];           /* zero (see above) */
};

/* A snapshot of the actor, as shoal_actor_info (same errors: -EINVAL,
 * SHOAL_EACTORDIED for a handle whose slot was reused).  Racy: the
 * counts and the lanes move while they are read.  Any handle, any
 * thread, an inspect handle's included; it writes nothing. */
SHOAL_API int shoal_actor_stat(struct shoal_runtime *rt,
			       struct shoal_actor actor,
			       struct shoal_actor_stat *out);

/* One caller process's lane into an actor (shoal_actor_lanes).  An
 * output struct, filled whole as shoal_actor_stat. */
struct shoal_lane_info {
	int32_t caller_pid;         /* 0 once the caller's process is gone */
	uint32_t queued;            /* calls published, not finished yet */
	uint32_t running;           /* how many of them the actor runs now
				     * (0 or 1 but on a threaded actor) */
	uint32_t lane;              /* the lane's index in the runtime */
	uint64_t calls_run;         /* calls the actor finished from it since
				     * its caller took the lane (mod 2^32) */
	uint64_t resv[4];           /* zero */
};

/*
 * The lanes into the actor (Ray's per-caller queues), one per caller
 * process, up to cap into out.  Returns how many there are (may exceed
 * cap); -EINVAL for a bad handle or out NULL with cap > 0,
 * SHOAL_EACTORDIED for a handle whose slot was reused.  A snapshot that
 * moves while it is read, as shoal_actor_stat; any thread, any handle.
 */
SHOAL_API int shoal_actor_lanes(struct shoal_runtime *rt,
				struct shoal_actor actor,
				struct shoal_lane_info *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* SHOAL_ACTOR_H */
