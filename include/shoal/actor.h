/* SPDX-License-Identifier: MIT */
/*
 * shoal/actor.h - actors and actor handles: Ray's @ray.remote classes in C.
 *
 * An actor is a process of its own, started by the runtime's fork server,
 * that keeps state (whatever its constructor returns) and runs the methods
 * called on it one at a time (Ray's max_concurrency=1).  Classes are
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
 * them (one lane per process, written under its lock, read in order).
 * Calls from different threads or processes interleave.
 *
 * Backpressure: a caller process may have at most max_pending_calls calls
 * queued or running on one actor (a runtime option: the lane's capacity).
 * Beyond it, a call waits (a bounded spin, then a futex) until the actor
 * finishes one, or until its timeout (-ETIMEDOUT); a try-call returns
 * -EAGAIN at once instead.  The same timeout bounds the wait for room in
 * the store for by-value arguments (SHOAL_ESTOREFULL past it): a call's
 * timeout bounds everything the call does.
 *
 * Failure.  Errors from a method propagate exactly like task errors (error
 * objects in its returns, passed on to dependent tasks).  An actor that
 * dies (a crash, a kill) is noticed by the fork server.  With restarts
 * left (max_restarts) it is started again: the constructor runs again,
 * calls that were queued run after it; the call that was running fails
 * with SHOAL_EACTORDIED unless it has retries left (max_task_retries).
 * Otherwise the actor is dead: every call queued or running fails with
 * SHOAL_EACTORDIED (its refs hold that error), a call made afterwards
 * returns SHOAL_EACTORDIED, and a call that raced with the death gets one
 * or the other.  No caller waits forever on a dead actor.
 *
 * Limits: max_actors alive at once (a runtime option; a dead actor's slot
 * is reused at once), 1024 caller processes per actor, max_lanes lanes in
 * all (one per caller process and actor), SHOAL_MAX_CLASSES classes of
 * SHOAL_MAX_METHODS methods.
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
 * as its `user` argument.  -ENOENT for an unknown class, -EEXIST (the
 * class has that method), -EINVAL (NULL reg or fn, a bad name), -ENOSPC
 * (SHOAL_MAX_METHODS), -EBUSY (after start).  Methods are numbered in
 * registration order (shoal_actor_method).  One thread at a time per
 * registry. */
SHOAL_API int shoal_register_method(struct shoal_registry *reg,
				    const char *klass, const char *method,
				    shoal_task_fn fn);

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
	/* Reserved for fields of later releases: zero, as the initialisers
	 * leave it.  shoal_actor_create refuses a nonzero word with -EINVAL,
	 * so that a program built for a later release, asking for something
	 * this library cannot do, is refused rather than ignored.  A field
	 * that takes a word has 0 as its default. */
	uint64_t resv[4];
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
 * constructor has run.  -ENOENT (class), -EEXIST (name taken, without
 * get_if_exists), -ENOSPC (max_actors live actors), -E2BIG (constructor
 * arguments), -EINVAL (NULL rt, klass or out, a bad name in opts, a
 * nonzero resv word, bad args), SHOAL_EFORKSERVERDIED or SHOAL_ESTOPPED
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

/* Ray's ray.get_actor(name): the live actor of that name, or -ENOENT;
 * -EINVAL for a NULL rt, name or out, or an empty name.  Any thread. */
SHOAL_API int shoal_actor_lookup(struct shoal_runtime *rt, const char *name,
				 struct shoal_actor *out);

/* A method's index for shoal_actor_call (-ENOENT if the class has none of
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
	 * (the default), 0 not at all (a try-call: -EAGAIN on a full lane,
	 * SHOAL_ESTOREFULL on a full store).  The clock starts at the first
	 * wait: a call that never waits never reads it. */
	int timeout_ms;
	/* Reserved for fields of later releases: zero, as the initialisers
	 * leave it.  shoal_actor_call_opts refuses a nonzero word with
	 * -EINVAL, so that a program built for a later release, asking for
	 * something this library cannot do, is refused rather than ignored.  A
	 * field that takes a word has 0 as its default. */
	uint64_t resv[4];
};

#define SHOAL_CALL_OPTIONS_INIT {.num_returns = 1, .timeout_ms = -1}

/*
 * Ray's actor.method.remote(...): queues method with args and returns at
 * once; refs[0..num_returns) receive the results (held by the caller).
 * SHOAL_EACTORDIED (the actor is dead, or the handle names an actor gone),
 * SHOAL_ESTOPPED or SHOAL_EFORKSERVERDIED (the runtime ended: shoal/runtime.h),
 * -EAGAIN (try-call on a full lane), -ETIMEDOUT (timeout on a full lane),
 * SHOAL_ESTOREFULL (no room in the store for by-value arguments within the
 * timeout), -EINVAL (bad handle, method, args), -ENOSPC (this process's
 * first call to the actor found no lane: the runtime's max_lanes are
 * taken, or 1024 processes call this actor already), -E2BIG (the encoded
 * arguments do not fit the call record's 200 bytes, counted as for
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
 * -EAGAIN).  *ref is held by the caller. */
SHOAL_API int shoal_actor_call(struct shoal_runtime *rt, struct shoal_actor actor,
			       int method, const struct shoal_args *args,
			       shoal_id *ref);

/* Fire and forget: no result (num_returns 0, no timeout).  Errors as
 * shoal_actor_call's (SHOAL_EACTORDIED, -EINVAL ...), returned at the send only: a failure of the method
 * itself is only counted (shoal_actor_info's calls_failed). */
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
	uint32_t running;           /* 1 while the actor runs one of them */
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
