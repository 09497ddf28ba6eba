/* SPDX-License-Identifier: MIT */
/*
 * shoal/runtime.h - the runtime: Ray's ray.init() for C, on one machine.
 *
 * A runtime is a store (shoal/store.h) plus the processes that work on it:
 *
 *   driver       the program that calls shoal_runtime_start()
 *   fork server  forked by start before shoal starts any thread of its
 *                own; runs in its own session (a Ctrl-C reaches the driver
 *                alone), detached from the driver (a waitpid(-1) in the
 *                driver never reaps a shoal process), watches the driver
 *                through a pidfd, and forks every other process on request
 *   workers      a pool of processes, forked by the fork server; each sets
 *                PR_SET_PDEATHSIG and leaves with _exit()
 *
 * When the driver dies (any signal), the fork server removes the runtime's
 * segment's name (if it is still that segment's) and kills and reaps
 * every shoal process.  When a worker
 * dies, the fork server reaps its store slot and starts a replacement.
 * shoal_runtime_shutdown() leaves no process and no /dev/shm file behind.
 *
 * The end of a runtime is an error, never a hang.  At shutdown or the
 * driver's death, every task and actor call still pending (an attached
 * program's among them) fails with SHOAL_ESTOPPED, and so does a submit
 * or call an attached program makes afterwards.  When the fork server
 * dies (any signal), its workers and actors die with it; every pending
 * task and call then fails with SHOAL_EFORKSERVERDIED, and so does every
 * later submit, call, actor create or kill.  The first process of the
 * runtime that notices does it: each submit and call checks (a cheap
 * probe of a robust mutex the fork server holds), and a get through a
 * runtime's store (shoal_runtime_store) checks each time its wait wakes,
 * so a get with no timeout returns within about a second.
 *
 * Task functions are registered by name in a registry before the runtime
 * starts, so that every forked process has the same table (read-only from
 * then on).
 *
 * A task function receives a struct shoal_task: its arguments (zero-copy
 * views), a way to write its return values into the store without a copy,
 * and the runtime (to submit tasks and get objects from inside a task).
 * It returns 0, or a negative code (see shoal_task_fail).
 *
 * Thread safety: a runtime handle may be used by any thread of the driver.
 * Start and shutdown are not to be raced with other calls on the handle.
 * Other programs join a named runtime with shoal_runtime_attach().
 */
#ifndef SHOAL_RUNTIME_H
#define SHOAL_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include <shoal/error.h>
#include <shoal/export.h>
#include <shoal/store.h>

#ifdef __cplusplus
extern "C" {
#endif

struct shoal_registry;
struct shoal_runtime;
struct shoal_task; /* a running task's context (the runtime issue's API) */

/* A task function.  Returns 0, or a negative code for a failed task. */
typedef int (*shoal_task_fn)(struct shoal_task *task, void *user);

/* A registry of task functions, filled before start.  Names are 1 to 63
 * bytes; at most SHOAL_MAX_FUNCTIONS per registry. */
#define SHOAL_MAX_FUNCTIONS 256
#define SHOAL_FUNCTION_NAME_MAX 63

/* Opens an empty registry (process-private memory) into *out, or closes
 * one (NULL is a no-op).  The registry is the caller's: close it when no
 * runtime will be started from it any more (a started runtime keeps its
 * own copy, so closing right after shoal_runtime_start is fine).  One
 * thread at a time per registry: it has no lock.  open: -EINVAL for a
 * NULL out, -ENOMEM; close: no errors. */
SHOAL_API int shoal_registry_open(struct shoal_registry **out);
SHOAL_API void shoal_registry_close(struct shoal_registry *reg);

/* Registers fn under name (user is passed back to it).  -EEXIST for a name
 * taken, -EINVAL for a bad name or a NULL reg or fn, -ENOSPC when the
 * registry is full, -EBUSY once a runtime was started from this registry.
 * The name is copied; user stays the caller's (every forked process sees
 * the same pointer, into its copy of the driver's memory).  One thread at
 * a time per registry. */
SHOAL_API int shoal_register_task(struct shoal_registry *reg, const char *name,
				  shoal_task_fn fn, void *user);

/* Initialise with shoal_runtime_options_init() (or
 * SHOAL_RUNTIME_OPTIONS_INIT) and change only the fields you need: the
 * struct ends in reserved words that must stay zero (resv), and so does
 * its store's. */
struct shoal_runtime_options {
	/* Worker processes.  0: one per online CPU. */
	uint32_t num_workers;
	/* Extra workers the pool may start while workers are blocked (nested
	 * tasks), beyond num_workers.  Default 4 x num_workers.  The pool
	 * grows while every worker is blocked in a get inside a task, up to
	 * this cap and no further: the worker and process slots are laid out
	 * in the segment at start, and an unbounded pool would let a runaway
	 * recursion fork without end.  At the cap, when every worker waits
	 * (directly or through the others) for tasks that need a worker, no
	 * task could ever run again: instead of a silent hang, the tasks
	 * those gets wait for fail with SHOAL_EPOOLEXHAUSTED, which the gets
	 * return (and nested tasks pass up, like any task error).  A full pool
	 * whose gets wait for anything else (a put, an actor) is left alone.
	 * Limit: only gets of one object are seen (shoal_get; not
	 * shoal_get_many or shoal_wait inside a task). */
	uint32_t max_extra_workers;
	/* Tasks pending or running at once (the task table), at most
	 * 1 Mi.  Default 65536.  A submit that finds it full waits for room
	 * (shoal_task_options.timeout_ms).  A nonzero store.ledger_slots (a
	 * cap) is raised to it at least (a driver holds every ref it got
	 * until it drops it); 0, the default, sizes ledgers by need. */
	uint32_t max_tasks;
	/* The store's options (capacity, max_objects, spin budget, ...).
	 * Its max_procs is raised to the driver, the fork server, every
	 * worker (num_workers + max_extra_workers) and actor (max_actors),
	 * and SHOAL_RUNTIME_ATTACHED attached programs at least; set it
	 * higher for more attached programs at once (past it, attach fails
	 * with SHOAL_ETOOMANYPROCS).  Each process slot costs its timeline
	 * ring and its ledger (512 bytes, growing with what it holds). */
	struct shoal_store_options store;
	/* A name for the segment ("/name"), so that other programs can attach;
	 * NULL (default): a private segment that goes with the runtime. */
	const char *name;
	/* Actors alive at once (shoal/actor.h), at most 4096.  Default 64. */
	uint32_t max_actors;
	/* Calls one process may have queued or running on one actor: the
	 * capacity of its lane, rounded up to a power of two, 2 .. 65536.
	 * Default 1024. */
	uint32_t max_pending_calls;
	/* Lanes (caller process, actor) at once, at most 65536.  Default
	 * 4 x max_actors + 64.  One actor takes calls from at most 1024
	 * processes at once (a lane each), and from no more than max_lanes. */
	uint32_t max_lanes;
	/* SHOAL_RUNTIME_* bits below; 0 (default) leaves everything on.  An
	 * unknown bit is refused with -EINVAL. */
	uint64_t flags;
	/* Reserved for fields of later releases: zero, as the initialisers
	 * leave it.  shoal_runtime_start refuses a nonzero word with -EINVAL,
	 * so that a program built for a later release, asking for something
	 * this library cannot do, is refused rather than ignored.  A field
	 * that takes a word has 0 as its default. */
	uint64_t resv[2];
	/* Object queues (shoal/queue.h) alive at once, at most 4096.
	 * Default 16.  (SHOAL_0.3: the third reserved word.) */
	uint32_t max_queues;
	/* The largest capacity a queue may have, at most 1 Mi.  Default
	 * 1024.  Each queue takes 32 bytes per object of this bound (rounded
	 * up to a power of two) in the segment. */
	uint32_t max_queue_capacity;
};

/* Attached programs (shoal_runtime_attach) a runtime has room for at
 * once by default, beyond its own processes (store.max_procs above). */
#define SHOAL_RUNTIME_ATTACHED 128u

/* shoal_runtime_options.flags */
/* Record no timeline (shoal_timeline): unless this is set, every process
 * writes its task and call events into its own ring in the segment.  The
 * latency histograms (shoal_metrics) and the submit times the tasks view
 * shows stay: they cost two clock reads and a few stores per task. */
#define SHOAL_RUNTIME_NO_TIMELINE 0x1ull
/* Let workers and actors write to the driver's stdout and stderr
 * directly, without the "(pid=..., who) " prefix on each line. */
#define SHOAL_RUNTIME_NO_LOG_PREFIX 0x2ull
#define SHOAL_RUNTIME_FLAGS_ALL                                               \
	(SHOAL_RUNTIME_NO_TIMELINE | SHOAL_RUNTIME_NO_LOG_PREFIX)

#define SHOAL_RUNTIME_OPTIONS_INIT                                            \
	{                                                                     \
		.num_workers = 0, .max_extra_workers = 0, .max_tasks = 0,     \
		.store = SHOAL_STORE_OPTIONS_INIT, .name = NULL,              \
		.max_actors = 0, .max_pending_calls = 0, .max_lanes = 0,      \
		.flags = 0, .max_queues = 0, .max_queue_capacity = 0,         \
	}

/* Fills *opts with the defaults (as SHOAL_RUNTIME_OPTIONS_INIT, resv
 * zeroed, the store's options at theirs).  Any thread.  No errors (NULL is
 * a no-op). */
SHOAL_API void shoal_runtime_options_init(struct shoal_runtime_options *opts);

/*
 * Starts a runtime: creates the store, forks the fork server (after
 * flushing stdio) and the workers, and returns once every worker runs.
 * The registry is copied; it may be closed afterwards.  opts may be NULL.
 * Call it before the driver starts threads of its own if it can: the fork
 * server is forked from the calling thread.
 *
 * Errors: -EINVAL (NULL reg or out, a nonzero resv word or unknown flag,
 * a size over its limit: num_workers over 1024, max_tasks over 1 Mi,
 * max_actors over 4096, max_lanes or max_pending_calls over 65536), the
 * store's create errors (-EEXIST for a name taken, -EINVAL for a bad name
 * or store option, SHOAL_ENOSHM, -ENOSPC), -ENOMEM, -ETIMEDOUT (the fork
 * server or the workers were not up within 10 s), -ECHILD or -EPROTO (the
 * fork server failed to start), or a negated errno of socketpair, fork or
 * pidfd_open (-EAGAIN: the process limit).  On an error nothing is left:
 * no process, no /dev/shm file, and the registry takes registrations
 * again.  A named runtime's name appears once the fork server runs and
 * watches the driver, and is there when start returns: a driver killed at
 * any instant of its start leaves no name in /dev/shm (the fork server,
 * if there is one yet, removes it and ends).
 *
 * *out is the caller's: end it with shoal_runtime_shutdown().  Not
 * concurrently with another start from the same registry.
 */
SHOAL_API int shoal_runtime_start(struct shoal_registry *reg,
				  const struct shoal_runtime_options *opts,
				  struct shoal_runtime **out);

/* Stops every shoal process, waits for them, removes a named segment's
 * name (unless another program's segment has that name by then) and
 * closes the store; what is still pending fails with SHOAL_ESTOPPED (see
 * above).  NULL is a no-op.  Returns 0, SHOAL_EFORKSERVERDIED if the fork
 * server had died, or the first error met (the runtime is gone either
 * way).  -EINVAL for an attached handle (use shoal_runtime_detach).
 * The handle, its store and every view and pointer got through them are
 * gone afterwards.  Only the driver, and not concurrently with any other
 * call on the handle: the other threads' calls must have returned. */
SHOAL_API int shoal_runtime_shutdown(struct shoal_runtime *rt);

/*
 * Attaches a separate program (not forked from the driver) to the named
 * runtime: it can submit tasks by function name (shoal_function reads the
 * names the driver registered), get their results, and put and get
 * objects, with no daemon anywhere.  The attached program's ref holds are
 * its own (its store slot).  It cannot run tasks.  -ENOENT if there is no
 * such runtime, SHOAL_EBADSEGMENT for a store without a runtime, -EINVAL
 * for a NULL out or a bad name, and the errors of shoal_store_attach
 * (SHOAL_ENOTMINE, SHOAL_EVERSION, SHOAL_ETOOMANYPROCS, -ENOMEM ...).
 * *out is the caller's: end it with shoal_runtime_detach().  Any thread;
 * the handle is then usable from any thread of this process.
 */
SHOAL_API int shoal_runtime_attach(const char *name, struct shoal_runtime **out);

/* Detaches an attached program's handle: drops what it still holds for
 * pending tasks and closes its store handle; the runtime goes on.  Refs
 * the program held go with its store slot.  NULL is a no-op (0);
 * -EINVAL for the driver's handle (use shoal_runtime_shutdown).  Not
 * concurrently with any other call on the handle. */
SHOAL_API int shoal_runtime_detach(struct shoal_runtime *rt);

/* The runtime's store: put / get / hold / drop objects through it.  The
 * store handle is the runtime's (do not close it; it goes with shutdown
 * or detach).  NULL for a NULL rt.  No errors otherwise.  Any thread. */
SHOAL_API struct shoal_store *shoal_runtime_store(struct shoal_runtime *rt);

struct shoal_runtime_info {
	int32_t fork_server_pid;
	uint32_t num_workers;       /* the pool's size */
	uint32_t workers_alive;     /* worker processes running now */
	uint64_t workers_started;   /* since start, replacements included */
	uint64_t workers_died;      /* deaths not asked for */
	uint64_t tasks_submitted;
	uint64_t tasks_done;        /* ran and returned 0 */
	uint64_t tasks_failed;      /* failed, or their worker died */
	uint32_t tasks_queued;      /* in the run queue now (approximate) */
	uint32_t max_tasks;
};

/* A snapshot of the process pool into *out (the caller's).  worker_pids
 * (may be NULL) receives up to cap pids of running workers.  0, or -EINVAL
 * for a NULL rt or out.  Any thread, any process with a runtime handle. */
SHOAL_API int shoal_runtime_info(struct shoal_runtime *rt,
				 struct shoal_runtime_info *out,
				 int32_t *worker_pids, size_t cap);

/* ------------------------------------------------------------------ */
/* Tasks (Ray's remote functions)                                      */

#define SHOAL_MAX_ARGS 16
#define SHOAL_MAX_RETURNS 64

enum shoal_arg_kind {
	SHOAL_ARG_BYTES = 1, /* copied into the task at submit */
	SHOAL_ARG_REF = 2,   /* an object: the task sees its sealed bytes */
};

/*
 * The type a by-value argument carries (SHOAL_0.3), a tag the task's side
 * checks (shoal_task_arg_i64 ...) instead of agreeing on widths by
 * convention.  It travels in the task or call record with the argument
 * (six bits of its header: the record grows by nothing).  Untyped bytes
 * (shoal_args_bytes) are SHOAL_TYPE_BYTES; so is a ref argument
 * (shoal_args_ref): an object is bytes, whatever put it there, and a
 * typed reader accepts bytes of its width (8 for a number; a string's
 * bytes end in a NUL).  A typed value that is too large for the record
 * (a string over 16 bytes among many arguments) travels as a ref to a
 * copy in the store and keeps its type.
 */
enum shoal_arg_type {
	SHOAL_TYPE_BYTES = 0, /* untyped bytes, or a ref's object */
	SHOAL_TYPE_I64 = 1,   /* int64_t, 8 bytes */
	SHOAL_TYPE_U64 = 2,   /* uint64_t, 8 bytes */
	SHOAL_TYPE_F64 = 3,   /* double, 8 bytes */
	SHOAL_TYPE_STR = 4,   /* a C string: its bytes and the NUL */
	SHOAL_TYPE_ACTOR = 5, /* a struct shoal_actor, 16 bytes */
};

struct shoal_arg {
	uint32_t kind;       /* enum shoal_arg_kind */
	uint32_t type;       /* enum shoal_arg_type; 0: untyped */
	const void *data;    /* BYTES: until shoal_submit returns; NULL for
			      * the types whose value is held below */
	size_t size;
	union {
		shoal_id ref;        /* REF */
		int64_t i64;         /* the value of an I64, U64, F64 or */
		uint64_t u64;        /* ACTOR argument, kept here by its */
		double f64;          /* helper (data NULL): the list needs */
		unsigned char value[16]; /* no storage of the caller's */
	};
};

/* A task's arguments, built on the caller's stack. */
struct shoal_args {
	uint32_t n;
	struct shoal_arg a[SHOAL_MAX_ARGS];
};

/* Empties an argument list (the caller's, usually on its stack).  No
 * errors (NULL is a no-op).  An argument list is the caller's alone: one
 * thread at a time. */
SHOAL_API void shoal_args_init(struct shoal_args *args);
/* Appends a by-value argument of untyped bytes.  The bytes are not copied
 * here: data must stay valid until the submit or call that takes the list
 * returns (which copies them).  -ENOSPC beyond SHOAL_MAX_ARGS, -EINVAL for
 * a NULL args, NULL data with a size, or a size of 2^30 bytes or more. */
SHOAL_API int shoal_args_bytes(struct shoal_args *args, const void *data,
			       size_t size);
/* Append a typed by-value argument (SHOAL_0.3): the value is kept in the
 * list itself (nothing of the caller's needs to outlive the call), and
 * read on the task's side with shoal_task_arg_i64, _u64, _f64 (or as 8
 * bytes with shoal_task_arg).  -ENOSPC beyond SHOAL_MAX_ARGS, -EINVAL for
 * a NULL args. */
SHOAL_API int shoal_args_i64(struct shoal_args *args, int64_t v);
SHOAL_API int shoal_args_u64(struct shoal_args *args, uint64_t v);
SHOAL_API int shoal_args_f64(struct shoal_args *args, double v);
/* Appends a C string (SHOAL_0.3): its bytes and the NUL, copied at the
 * submit or call as shoal_args_bytes (str must stay valid until then);
 * the task reads it with shoal_task_arg_str, zero copy.  -ENOSPC beyond
 * SHOAL_MAX_ARGS, -EINVAL for a NULL args or str, or a string of 2^30
 * bytes or more. */
SHOAL_API int shoal_args_str(struct shoal_args *args, const char *str);
/* Appends a ref argument: the task sees the object's sealed bytes.  The
 * list takes no hold: the caller keeps its own until the submit returns
 * (the runtime holds it from then on).  -ENOSPC beyond SHOAL_MAX_ARGS,
 * -EINVAL for a NULL args or the nil ID. */
SHOAL_API int shoal_args_ref(struct shoal_args *args, shoal_id ref);

/* A registered function's index, for shoal_submit (SHOAL_ENOFUNCTION if unknown,
 * -EINVAL for a NULL rt or an empty or NULL name).  Stable for the
 * runtime's life: look it up once.  Any thread. */
SHOAL_API int shoal_function(struct shoal_runtime *rt, const char *name);

/*
 * Ray's f.remote(...): queues function fn with args and returns at once
 * with num_returns (1..SHOAL_MAX_RETURNS) refs in refs[].  The caller holds
 * every ref from now on (drop each when done): a result nobody fetched yet
 * is never evicted, and a result is freed as soon as its last hold and pin
 * go (Ray's reference counting; objects put with shoal_put are a cache
 * instead, until evicted).  A ref argument is resolved before the task runs (the
 * task sees the sealed bytes) and kept alive until the task is done, even
 * if the caller drops it meanwhile.  By-value arguments that do not fit in
 * the task record are put into the store for the task (Ray does the same
 * above 100 KiB); a put waits for room at most SHOAL_SUBMIT_TIMEOUT_MS (a
 * full store fails the submit with SHOAL_ESTOREFULL then; shoal_submit_opts
 * takes another bound).  Usable from a task as well (nested tasks; a get
 * of a nested task's result fails with SHOAL_EPOOLEXHAUSTED rather than
 * hang when nesting exhausts the pool: see max_extra_workers).
 * A full task table (max_tasks tasks pending or running) makes the
 * submit wait for a record to be freed, up to SHOAL_SUBMIT_TIMEOUT_MS (as
 * a call waits for room in a full lane; shoal_submit_opts takes another
 * bound, 0 for a try).
 * SHOAL_ESTOPPED or SHOAL_EFORKSERVERDIED once the runtime ended (nothing
 * queued; also when it ends, or its fork server dies, while the submit
 * waits for room),
 * -EINVAL (bad fn, args, num_returns), -ETIMEDOUT (the task table stayed
 * full for the whole timeout), -EAGAIN (a try-submit, timeout_ms 0, found
 * it full), SHOAL_EPOOLEXHAUSTED (inside a task: the table is full, the
 * pool is at its cap and every other worker is blocked, so no task could
 * run to free a record), -E2BIG (the encoded arguments do not fit
 * the record's 192 bytes even once every by-value argument over 16 bytes
 * went through the store: a ref takes 24 bytes, a value of up to 8 bytes
 * 16, of 9 to 16 bytes 24; so 8 refs, or 12 small values, at most), or
 * the store's errors.  Nothing is queued, and nothing is left in the
 * store, when it fails.  refs[] is the caller's array of num_returns IDs.
 * Any thread of any process with a runtime handle (driver, task, attached
 * program).
 */
SHOAL_API int shoal_submit(struct shoal_runtime *rt, int fn,
			   const struct shoal_args *args, uint32_t num_returns,
			   shoal_id *refs);

/* Options of one task (Ray's .options(...)).  Initialise with
 * SHOAL_TASK_OPTIONS_INIT and change only the fields you need: the struct
 * ends in reserved words that must stay zero (resv). */
struct shoal_task_options {
	uint32_t num_returns;  /* 1..SHOAL_MAX_RETURNS; default 1 */
	/* Times the task runs again when its worker dies (a crash, a kill)
	 * before it finished; application errors are never retried.  A retry
	 * finds the returns its earlier attempt sealed already sealed
	 * (shoal_task_return then succeeds without writing, and
	 * shoal_task_return_buffer returns SHOAL_ESEALED).  Default 0. */
	uint32_t max_retries;
	/* How long the submit may wait, in ms, for everything it does: a free
	 * record in a full task table (past it: -ETIMEDOUT), then room in the
	 * store for by-value arguments that do not fit in the task record
	 * (past it: SHOAL_ESTOREFULL, or -ENOSPC when max_objects objects are
	 * live; the returns' directory entries never wait: -ENOSPC at once).
	 * -1 forever, 0 not at all (a try-submit: -EAGAIN at once on a full
	 * task table, as a try-call on a full lane; SHOAL_ESTOREFULL at once
	 * on a full store).  Default SHOAL_SUBMIT_TIMEOUT_MS: a
	 * store full of objects nobody drops fails a submit instead of hanging
	 * it (Ray's ObjectStoreFullError after its grace period).  The
	 * clock starts at the first wait: a submit that never waits never
	 * reads it (the copying before is not counted). */
	int timeout_ms;
	/* A deadline, in ms from the submit (0, the default: none; negative:
	 * -EINVAL).  Past it, a task that has not started never starts: its
	 * returns hold SHOAL_EDEADLINE (noticed by the worker that would run
	 * it, or by the fork server's watch, whichever comes first: the
	 * watch wakes at the soonest deadline it has seen, and sees a new
	 * one within 250 ms); a task that is running is cancelled as by shoal_cancel
	 * without SHOAL_CANCEL_FORCE: shoal_task_cancelled turns true, and
	 * the returns it leaves unset hold SHOAL_EDEADLINE.  Measured on
	 * CLOCK_MONOTONIC.  Not inherited by the tasks it submits. */
	int64_t deadline_ms;
	/* Reserved for fields of later releases: zero, as the initialisers
	 * leave it.  shoal_submit_opts refuses a nonzero word with -EINVAL, so
	 * that a program built for a later release, asking for something this
	 * library cannot do, is refused rather than ignored.  A field that
	 * takes a word has 0 as its default. */
	uint64_t resv[3];
};

#define SHOAL_SUBMIT_TIMEOUT_MS 10000
#define SHOAL_TASK_OPTIONS_INIT                                               \
	{                                                                     \
		.num_returns = 1, .max_retries = 0,                           \
		.timeout_ms = SHOAL_SUBMIT_TIMEOUT_MS,                        \
	}

/* shoal_submit with options; opts NULL means the defaults.  Errors as
 * shoal_submit's, and -EINVAL for a nonzero resv word or a negative
 * deadline_ms; with timeout_ms the wait for a task record ends in
 * -ETIMEDOUT (-EAGAIN for 0), the wait for store room in
 * SHOAL_ESTOREFULL (or -ENOSPC). */
SHOAL_API int shoal_submit_opts(struct shoal_runtime *rt, int fn,
				const struct shoal_args *args,
				const struct shoal_task_options *opts,
				shoal_id *refs);

/* The runtime handle of the process the task runs in, to submit nested
 * tasks or get objects (shoal_runtime_store); the runtime's, not to shut
 * down or detach.  NULL for a NULL task.  No errors otherwise.
 *
 * Inside a task function (or an actor's constructor or method), every
 * shoal_task_* call is made by the thread that runs the task function,
 * while it runs (or by threads it joins before it returns, one at a
 * time): the struct shoal_task is the runtime's and is gone once the
 * function returns. */
SHOAL_API struct shoal_runtime *shoal_task_runtime(struct shoal_task *task);
/* The number of arguments (0 for a NULL task).  No errors. */
SHOAL_API uint32_t shoal_task_num_args(const struct shoal_task *task);
/* A zero-copy, read-only view of argument i, valid while the task runs:
 * the bytes are the runtime's (the task record's or a pinned object's),
 * never to be freed or written.  Any argument reads as its bytes (a
 * string's with its NUL, a number's 8).  -EINVAL for a NULL task, data
 * or size; SHOAL_EARGCOUNT for i >= shoal_task_num_args(). */
SHOAL_API int shoal_task_arg(const struct shoal_task *task, uint32_t i,
			     const void **data, size_t *size);
/* Typed reads of argument i (SHOAL_0.3), copied into *out.  An argument
 * added with the matching helper (shoal_args_i64 for _i64 ...) reads;
 * so do untyped bytes of the type's width (8 bytes: shoal_args_bytes of
 * an int64_t, or a ref to an 8-byte object), which carry no tag to
 * check (a ref is bytes).  SHOAL_EARGTYPE for an argument of another
 * type (an f64 read as an i64: no conversion), or untyped bytes of
 * another width; SHOAL_EARGCOUNT for i >= shoal_task_num_args(); -EINVAL
 * for a NULL task or out.  A task function that returns the code fails
 * with a message naming the argument and both types.  From the task
 * function's thread, as every shoal_task_* call. */
SHOAL_API int shoal_task_arg_i64(struct shoal_task *task, uint32_t i,
				 int64_t *out);
SHOAL_API int shoal_task_arg_u64(struct shoal_task *task, uint32_t i,
				 uint64_t *out);
SHOAL_API int shoal_task_arg_f64(struct shoal_task *task, uint32_t i,
				 double *out);
/* Argument i as a C string (SHOAL_0.3), zero copy: *out points into the
 * runtime's bytes, valid while the task runs, read-only.  Its bytes are
 * checked to end in a NUL (so *out is a terminated string, whoever wrote
 * the record).  A string argument (shoal_args_str) reads, and so do
 * untyped bytes that end in a NUL.  SHOAL_EARGTYPE for another type, or
 * bytes with no NUL at their end; SHOAL_EARGCOUNT, -EINVAL as
 * shoal_task_arg_i64's. */
SHOAL_API int shoal_task_arg_str(struct shoal_task *task, uint32_t i,
				 const char **out);
/* The arity check (SHOAL_0.3): 0 if the task or call got exactly n
 * arguments, else SHOAL_EARGCOUNT (returned by the task function, it
 * fails with a message saying how many it got and expects); -EINVAL for
 * a NULL task.  From the task function's thread. */
SHOAL_API int shoal_task_expect(struct shoal_task *task, uint32_t n);
/* The number of return values the submitter asked for (0 for a NULL
 * task, a constructor, or an actor call made fire and forget).  No
 * errors. */
SHOAL_API uint32_t shoal_task_num_returns(const struct shoal_task *task);
/* Return value i, copied into the store (sealed at once; data stays the
 * caller's).  -EINVAL for a NULL task, NULL data with a size, or i >=
 * shoal_task_num_returns(); -EEXIST if return i was set already;
 * SHOAL_ESTOREFULL if size exceeds the store's capacity; -EBUSY if eight
 * return buffers of this process are open; -ETIMEDOUT if a word another
 * process holds stayed taken.  Waits for room as long as it takes.  After
 * an error the return stays unset: it becomes an error object when the
 * task function returns (in a threaded actor whose other methods hold
 * every return buffer open, once one of them lets go, within 30 s).  0,
 * writing nothing, if the result is not wanted any more (the submitter
 * died) or an earlier attempt of this task sealed it already (a retry).  A method called fire and forget
 * (shoal_actor_send, num_returns 0) returns what it returns all the same:
 * any i below SHOAL_MAX_RETURNS is then 0, writing nothing, so the call
 * is not counted as failed (Ray drops such a value too). */
SHOAL_API int shoal_task_return(struct shoal_task *task, uint32_t i,
				const void *data, size_t size);
/* Typed returns (SHOAL_0.3): shoal_task_return of the value's 8 bytes,
 * or of a string's bytes and its NUL; shoal_get_i64, shoal_get_str ...
 * (shoal/store.h) read them back.  Errors as shoal_task_return's
 * (-EINVAL, -EEXIST, SHOAL_ESTOREFULL, -EBUSY, -ETIMEDOUT), and -EINVAL
 * for a NULL str. */
SHOAL_API int shoal_task_return_i64(struct shoal_task *task, uint32_t i,
				    int64_t v);
SHOAL_API int shoal_task_return_u64(struct shoal_task *task, uint32_t i,
				    uint64_t v);
SHOAL_API int shoal_task_return_f64(struct shoal_task *task, uint32_t i,
				    double v);
SHOAL_API int shoal_task_return_str(struct shoal_task *task, uint32_t i,
				    const char *str);
/* A buffer of size bytes in the store for return value i, to write in
 * place: the store's, writable until the task function returns; it is
 * sealed when the task function returns 0, and cancelled (the return
 * becomes an error object) when the task fails.  At most eight open at
 * once per process (-EBUSY beyond).  -EINVAL and -EEXIST as for
 * shoal_task_return, -EINVAL for a NULL buf too; -ENOENT if the result is
 * not wanted any more, SHOAL_ESEALED if an earlier attempt sealed it (a
 * retry): the return counts as set then, and no buffer is given;
 * SHOAL_ESTOREFULL, -ETIMEDOUT as for shoal_task_return.  A method called
 * fire and forget gets a buffer of the process's own memory, dropped
 * when it returns (-ENOMEM if there is none that large). */
SHOAL_API int shoal_task_return_buffer(struct shoal_task *task, uint32_t i,
				       size_t size, void **buf);
/* Records why the task fails (code < 0; a code >= 0 becomes SHOAL_ETASK)
 * and returns the code, for `return shoal_task_fail(t, ...)`.  Only the
 * first call counts: a later one returns the first code.  When the task
 * function returns, every return value not yet copied with
 * shoal_task_return (buffers from shoal_task_return_buffer included, which
 * are cancelled) becomes an error object with this code and message (at
 * most 511 bytes; fmt may be NULL for none), which a get of it returns
 * (shoal_error_message reads the message), and so do the results of every
 * task that depends on them.  A get returns the code itself only if it is
 * one of shoal's own (SHOAL_E...); any other, a negated errno included,
 * reads back as SHOAL_ETASK (store/object/get.c).  A task function that returns a negative
 * code without calling it fails the same way, with that code.  -EINVAL
 * for a NULL task. */
SHOAL_API int shoal_task_fail(struct shoal_task *task, int code,
			      const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------------ */
/* Cancellation (Ray's ray.cancel)                                     */

/* Also kill the worker that runs the task (SIGKILL): for a task that
 * does not poll shoal_task_cancelled.  Its replacement starts as after
 * any worker death. */
#define SHOAL_CANCEL_FORCE 1u
/* Also cancel the tasks it submitted (nested tasks) and the actor calls
 * it made, and those they submitted or made, with the same flags (Ray's
 * recursive=True: "all the child Tasks and Actor Tasks").  A call is
 * cancelled as by shoal_cancel on its result, without FORCE (Ray ignores
 * force for actor tasks): dropped if the actor has not started it (its
 * results hold SHOAL_ECANCELLED), flagged if it runs, and what its
 * method submitted or made is followed in turn, without FORCE either.
 * A task it submits or a call it makes after the cancel is cancelled
 * there: once shoal_task_cancelled() is true in it, such a task or call
 * never runs (its returns hold SHOAL_ECANCELLED); one it submits or
 * makes while the cancel lands may start, flagged, as a running child
 * does. */
#define SHOAL_CANCEL_RECURSIVE 2u

/*
 * Cancels the task whose return (any of them) ref is.
 *  - Not started yet (queued, or parked on an argument not sealed yet):
 *    it never runs; each of its returns holds SHOAL_ECANCELLED at once,
 *    and tasks that depend on it fail with it as with any task error.
 *    Returns 0.
 *  - Running: shoal_task_cancelled() turns true in it; if it returns,
 *    the returns it left unset hold SHOAL_ECANCELLED (those it set keep
 *    their values).  With SHOAL_CANCEL_FORCE its worker is killed at
 *    once instead, and every return it had not set holds
 *    SHOAL_ECANCELLED (not SHOAL_EWORKERDIED).  Returns 1: whether it
 *    finishes first is the task's race.
 * A cancelled task is never retried (max_retries notwithstanding).
 * Cancel and completion have exactly one outcome per return: its real
 * value or SHOAL_ECANCELLED, the same for every get from any process
 * (one writer per return: the task's runner, or the canceller of a task
 * that had not started, decided by one CAS on the task's record).
 * Finished already, or running with every one of its returns sealed
 * (a get of them could return: its worker has yet to let its record go),
 * or cancelled before it started: nothing is done, the result stays, and
 * it returns -EALREADY.  So a cancel after a get of every result always
 * returns -EALREADY.  -ENOENT: ref names no
 * object (not a task's return, or dropped by everyone); -EINVAL (NULL
 * rt, a nil ref, unknown flags, SHOAL_CANCEL_FORCE on an actor call);
 * SHOAL_EREADONLY (an inspect handle).
 * An actor call's result works too (shoal/actor.h): a call the actor has
 * not started is dropped (it never runs; its results hold
 * SHOAL_ECANCELLED at once; returns 0); a running one gets the flag
 * (shoal_task_cancelled works in methods; returns 1); SHOAL_CANCEL_FORCE
 * is refused with -EINVAL, as Ray refuses it for actor tasks (the
 * actor's process holds every call's state); SHOAL_CANCEL_RECURSIVE
 * on a running call cancels the tasks its method submitted and the
 * calls it made (and theirs, as for a task), and those it submits or
 * makes later.  A call made under a parent cancelled so (or cancelled
 * while the call waits for room in a full lane) stops waiting: it
 * returns 0 at once, its results holding SHOAL_ECANCELLED.  A cancelled
 * call is never retried after a restart.
 * A plain cancel (no SHOAL_CANCEL_RECURSIVE) of a task or call leaves
 * the tasks and calls it made alone.
 * Cost: a scan of the task table up to its highest record in use, then,
 * for a call, of the lanes in use (bench family cancel); a recursive
 * cancel scans the table and the lanes in use once more for each
 * running task or call it reaches, 16 levels deep at most (deeper ones
 * are cancelled only when they submit or call).  Any thread of any
 * process with a runtime handle (driver, task, actor method, attached
 * program); never waits.
 */
SHOAL_API int shoal_cancel(struct shoal_runtime *rt, shoal_id ref,
			   uint32_t flags);

/* Whether the running task (or actor call) was cancelled, or passed its
 * deadline: a task that polls it can stop early (return a negative code,
 * or just return: its unset returns then hold SHOAL_ECANCELLED or
 * SHOAL_EDEADLINE).  One load (and a clock read when the task has a
 * deadline).  False for a NULL task.  No errors.  The thread that runs
 * the task. */
SHOAL_API bool shoal_task_cancelled(const struct shoal_task *task);

/* ------------------------------------------------------------------ */
/* Introspection                                                       */

/*
 * Ray's ray.timeline(): writes the runtime's timeline to out as a Chrome
 * trace (the JSON that chrome://tracing and https://ui.perfetto.dev load):
 * a row per process, a slice per task or actor call that ran (name,
 * duration, result ID, rc, time queued), and a flow arrow from each
 * submit or call to its execution (when the submitter is still known).
 * Each process keeps its last 4096 slices in its ring in the segment, so
 * the trace covers what is still there, from every process, dead ones
 * included until their slot's next occupant overwrites them.  Recording
 * is on unless the runtime was started with SHOAL_RUNTIME_NO_TIMELINE.
 * Any handle of the runtime works (a driver's, an attached or inspecting
 * program's); it only reads the segment and never waits, so it can run
 * at any time, from any thread, while tasks run (slices being written
 * then are left out).  A slice is recorded just after the task's or
 * call's results are sealed, so a get can return a moment before its
 * slice (and its count in shoal_metrics) is there; the pool's counters
 * (shoal_runtime_info's tasks_done, an actor's calls_run) grow after it.
 * out stays the caller's (flushed, not closed).
 * -EINVAL (NULL), -ENODATA (the runtime records no timeline: nothing is
 * written), or the -errno of a failed write to out.
 */
SHOAL_API int shoal_timeline(struct shoal_runtime *rt, FILE *out);

/*
 * Writes the runtime's metrics to out in the Prometheus text format
 * (version 0.0.4): the store's (capacity, bytes used, objects,
 * evictions, processes), the pool's and the tasks' counters, per-actor
 * states and call counts, and four latency histograms summed over every
 * process (task run time, task submit-to-finish, actor call run time,
 * call submit-to-finish; buckets 1 us x 2^k).  Histograms are kept even
 * with SHOAL_RUNTIME_NO_TIMELINE.  Counters only grow while the runtime
 * lives.  Any handle works, it only reads; out stays the caller's.
 * -EINVAL (NULL), the errors of shoal_store_stats, or the -errno of a
 * failed write.
 */
SHOAL_API int shoal_metrics(struct shoal_runtime *rt, FILE *out);

/* ------------------------------------------------------------------ */
/* Inspection (SHOAL_0.2): what a tool reads, disturbing nothing       */

/*
 * Opens the named runtime for reading only (the `shoal` command): its
 * store through shoal_store_inspect (opened O_RDONLY, mapped PROT_READ,
 * no process slot, so it works when every slot is taken), and the
 * runtime's region checked as by shoal_runtime_attach.  It starts no
 * thread, registers nothing, and writes nothing to the segment.  Errors
 * as shoal_store_inspect's, and SHOAL_EBADSEGMENT for a store without a
 * runtime, SHOAL_EVERSION for a runtime region of another version.
 *
 * What works on it: shoal_runtime_info, shoal_function,
 * shoal_task_list, shoal_actor_list, shoal_actor_info, shoal_actor_stat,
 * shoal_actor_lanes, shoal_actor_lookup, shoal_actor_method,
 * shoal_timeline, shoal_metrics, and the read functions of shoal_store_inspect on shoal_runtime_store's handle;
 * shoal_runtime_detach closes it (the runtime goes on).  Every other call
 * returns SHOAL_EREADONLY (shoal_runtime_shutdown too).  What it reads
 * is a racy snapshot of a runtime that goes on meanwhile.  *out is the
 * caller's; thread safety as an attached handle.
 */
SHOAL_API int shoal_runtime_inspect(const char *name,
				    struct shoal_runtime **out);

/* What a task is doing (shoal_task_info.state). */
enum shoal_task_state {
	SHOAL_TASK_BUILDING = 1, /* its submitter is still writing it */
	SHOAL_TASK_WAITING = 2,  /* parked on an unsealed ref argument */
	SHOAL_TASK_QUEUED = 3,   /* in the run queue, waiting for a worker */
	SHOAL_TASK_RUNNING = 4,  /* a worker runs it */
};

/*
 * One task of the task table (Ray's `ray list tasks`).  An output
 * struct: the library fills all of it, the reserved words with zero
 * today; a later release may give them a meaning (a new field is added
 * only where zero means "not known"), so a caller built today reads what
 * it knows and never sees garbage.
 */
struct shoal_task_info {
	shoal_id id;               /* its first return (shoal_submit's refs[0]) */
	char function[SHOAL_FUNCTION_NAME_MAX + 1]; /* "?" if not known */
	uint32_t state;            /* enum shoal_task_state */
	int32_t submitter_pid;     /* 0 once the submitter's process is gone */
	uint32_t num_returns;
	uint32_t nargs;
	uint32_t retries_left;     /* runs left after a worker death */
	/* WAITING: the first argument not yet settled (its index, its ID);
	 * -1 and the nil ID otherwise. */
	int32_t wait_arg;
	shoal_id wait_id;
	/* RUNNING: the worker's index and pid; -1 and 0 otherwise (or when
	 * the fork server fails it without running it). */
	int32_t worker;
	int32_t worker_pid;
	uint64_t pending_ns;       /* since it was submitted */
	uint64_t running_ns;       /* RUNNING: since it started; else 0 */
	uint64_t resv[4];          /* zero (see above) */
};

/*
 * Lists the tasks of the runtime's table that are not done: up to cap
 * into out, in table order.  Returns how many there are (which may exceed
 * cap), or -EINVAL (NULL rt, out NULL with cap > 0).  Each record is read
 * as a snapshot that other processes change meanwhile: one that changed
 * while it was copied is read again, a few times, then left out of this
 * call; nothing read from the segment is trusted without a bound.  Works
 * on any handle (driver, attached, inspect), from any thread; it takes no
 * lock and writes nothing.
 */
SHOAL_API int shoal_task_list(struct shoal_runtime *rt,
			      struct shoal_task_info *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* SHOAL_RUNTIME_H */
