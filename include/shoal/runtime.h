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
 * When the driver dies (any signal), the fork server kills and reaps every
 * shoal process and unlinks the runtime's named segment.  When a worker
 * dies, the fork server reaps its store slot and starts a replacement.
 * shoal_runtime_shutdown() leaves no process and no /dev/shm file behind.
 *
 * Task functions are registered by name in a registry before the runtime
 * starts, so that every forked process has the same table (read-only from
 * then on).
 *
 * Thread safety: a runtime handle may be used by any thread of the driver.
 * Start and shutdown are not to be raced with other calls on the handle.
 */
#ifndef SHOAL_RUNTIME_H
#define SHOAL_RUNTIME_H

#include <stddef.h>
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

SHOAL_API int shoal_registry_open(struct shoal_registry **out);
SHOAL_API void shoal_registry_close(struct shoal_registry *reg);

/* Registers fn under name (user is passed back to it).  -EEXIST for a name
 * taken, -EINVAL for a bad name, -ENOSPC when the registry is full, -EBUSY
 * once a runtime was started from this registry. */
SHOAL_API int shoal_register_task(struct shoal_registry *reg, const char *name,
				  shoal_task_fn fn, void *user);

struct shoal_runtime_options {
	/* Worker processes.  0: one per online CPU. */
	uint32_t num_workers;
	/* Extra workers the pool may start while workers are blocked (nested
	 * tasks), beyond num_workers.  Default 4 x num_workers. */
	uint32_t max_extra_workers;
	/* The store's options (capacity, max_objects, spin budget, ...). */
	struct shoal_store_options store;
	/* A name for the segment ("/name"), so that other programs can attach;
	 * NULL (default): a private segment that goes with the runtime. */
	const char *name;
};

#define SHOAL_RUNTIME_OPTIONS_INIT                                            \
	{                                                                     \
		.num_workers = 0, .max_extra_workers = 0,                     \
		.store = SHOAL_STORE_OPTIONS_INIT, .name = NULL,              \
	}

SHOAL_API void shoal_runtime_options_init(struct shoal_runtime_options *opts);

/*
 * Starts a runtime: creates the store, forks the fork server (after
 * flushing stdio) and the workers, and returns once every worker runs.
 * The registry is copied; it may be closed afterwards.  opts may be NULL.
 * Call it before the driver starts threads of its own if it can: the fork
 * server is forked from the calling thread.
 */
SHOAL_API int shoal_runtime_start(struct shoal_registry *reg,
				  const struct shoal_runtime_options *opts,
				  struct shoal_runtime **out);

/* Stops every shoal process, waits for them, closes the store and unlinks
 * a named segment.  NULL is a no-op.  Returns 0, or the first error met
 * (the runtime is gone either way). */
SHOAL_API int shoal_runtime_shutdown(struct shoal_runtime *rt);

/* The runtime's store: put / get / hold / drop objects through it. */
SHOAL_API struct shoal_store *shoal_runtime_store(struct shoal_runtime *rt);

struct shoal_runtime_info {
	int32_t fork_server_pid;
	uint32_t num_workers;       /* the pool's size */
	uint32_t workers_alive;     /* worker processes running now */
	uint64_t workers_started;   /* since start, replacements included */
	uint64_t workers_died;      /* deaths not asked for */
};

/* A snapshot of the process pool.  worker_pids (may be NULL) receives up
 * to cap pids of running workers. */
SHOAL_API int shoal_runtime_info(struct shoal_runtime *rt,
				 struct shoal_runtime_info *out,
				 int32_t *worker_pids, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* SHOAL_RUNTIME_H */
