/* SPDX-License-Identifier: MIT */
/*
 * shoal/error.h - error codes.
 *
 * Every int-returning shoal function returns 0 (or a count) on success and a
 * negative code on failure.  Where an errno value fits, the code is that
 * errno negated (-ENOENT: unknown ID, -EEXIST, -ETIMEDOUT, -EAGAIN, -EINVAL,
 * -ENOSPC: a fixed-size table is full, -EPERM, -EBUSY, -EOVERFLOW, ...).
 * shoal's own conditions use the SHOAL_E* values below, all below -4000 so
 * they never collide with an errno.  shoal keeps no errno of its own.
 */
#ifndef SHOAL_ERROR_H
#define SHOAL_ERROR_H

#include <shoal/export.h>

#ifdef __cplusplus
extern "C" {
#endif

enum shoal_error {
	/* The store has no room and nothing can be evicted (Ray's
	 * ObjectStoreFullError). */
	SHOAL_ESTOREFULL = -4001,
	/* The object was evicted to make room; its tombstone says so
	 * (Ray's ObjectLostError for an object nobody held). */
	SHOAL_EEVICTED = -4002,
	/* The object was deleted (shoal_delete). */
	SHOAL_EDELETED = -4003,
	/* Seal of an object that is sealed already. */
	SHOAL_ESEALED = -4004,
	/* Operation needs a sealed object (e.g. delete before seal). */
	SHOAL_ENOTSEALED = -4005,
	/* The segment is not a shoal segment, or is corrupt. */
	SHOAL_EBADSEGMENT = -4006,
	/* The segment was made by a shoal this library cannot use: another
	 * layout version, or one that uses a required feature this library
	 * does not know (a later release made it). */
	SHOAL_EVERSION = -4007,
	/* The process that created the object died before it sealed it
	 * (Ray's OwnerDiedError): a get of it, or a get that was waiting
	 * for it, returns this (shoal/store.h). */
	SHOAL_EOWNERDIED = -4008,
	/* No free slot in the process table. */
	SHOAL_ETOOMANYPROCS = -4009,
	/* This process already holds/pins as many objects as its ledger
	 * may record (a store option ledger_slots cap, or max_objects). */
	SHOAL_ELEDGERFULL = -4010,
	/* The segment's memory could not be reserved at create: the store
	 * (its capacity and metadata) is larger than what /dev/shm (a named
	 * store) or the machine's memory (a private one) has free.  The
	 * create's errbuf (shoal_store_options) says how much was asked and
	 * how much is free. */
	SHOAL_ENOSHM = -4011,
	/* Attach by name to a segment that belongs to another user, or that
	 * others may read or write (its mode is wider than 0600): whoever
	 * made it could change it under us, or hang us. */
	SHOAL_ENOTMINE = -4012,
	/* The call would write the segment, and the handle is an inspect
	 * handle (shoal_store_inspect, shoal_runtime_inspect), which maps it
	 * read-only and has no process slot. */
	SHOAL_EREADONLY = -4013,
	/* This process may not issue membarrier(MEMBARRIER_CMD_GLOBAL)
	 * (Linux before 4.16, or a seccomp filter refusing it), which a
	 * process with a slot in a segment needs to repair what a dead
	 * neighbour left, while another stays stopped, without leaving a
	 * count too many behind; create and attach refuse it (an inspect
	 * handle does not need it). */
	SHOAL_ENOMEMBARRIER = -4014,
	/* Reserved for the runtime (task error, actor died, ...). */
	SHOAL_ETASK = -4020,
	SHOAL_EWORKERDIED = -4021,
	SHOAL_EACTORDIED = -4022,
	/* The task or call was cancelled (shoal_cancel) before it ran, or
	 * while it ran and before it set this result (Ray's
	 * TaskCancelledError). */
	SHOAL_ECANCELLED = -4023,
	/* A task that could never run: every worker the pool may have
	 * (num_workers + max_extra_workers) is blocked in a get inside a
	 * task, each waiting, directly or through the others, for tasks
	 * that need a worker (nested tasks deeper than the pool).  The
	 * result of such a task holds this error, so the get that could
	 * not be served returns it (shoal/runtime.h). */
	SHOAL_EPOOLEXHAUSTED = -4025,
	/* The runtime's fork server died: every task and call pending then
	 * fails with it, and so does every later submit, call, actor create
	 * or kill (the runtime cannot run anything any more). */
	SHOAL_EFORKSERVERDIED = -4024,
	/* The runtime stopped (shoal_runtime_shutdown, or its driver died):
	 * what was still pending fails with it, and so does a submit or a
	 * call made afterwards (from an attached program). */
	SHOAL_ESTOPPED = -4026,
	/* Names a Ray user can read (SHOAL_0.3; these were -ENOENT and
	 * -EAGAIN, whose texts said "No such file or directory"): */
	/* shoal_actor_lookup: no live actor has that name (ray.get_actor's
	 * ValueError). */
	SHOAL_ENOACTOR = -4040,
	/* shoal_actor_method: the actor's class has no method of that
	 * name. */
	SHOAL_ENOMETHOD = -4041,
	/* shoal_function: no task function of that name was registered. */
	SHOAL_ENOFUNCTION = -4042,
	/* shoal_actor_create, shoal_register_method: no actor class of that
	 * name was registered. */
	SHOAL_ENOCLASS = -4043,
	/* A call found the actor's lane from this process full
	 * (max_pending_calls calls queued or running): at once for a
	 * try-call, at its timeout otherwise (Ray's
	 * PendingCallsLimitExceeded). */
	SHOAL_ELANEFULL = -4044,
	/* A typed argument helper (shoal_task_arg_i64 ...) read an argument
	 * that has another type, or bytes of another width. */
	SHOAL_EARGTYPE = -4045,
	/* A task or call read an argument past the last one it got, or got
	 * another number of arguments than it expects (shoal_task_expect). */
	SHOAL_EARGCOUNT = -4046,
	/* A typed get (shoal_get_i64 ...) found an object of another size
	 * (not 8 bytes for a number, no NUL at its end for a string). */
	SHOAL_EOBJTYPE = -4047,
	/* The task's or call's deadline passed (shoal_task_options and
	 * shoal_call_options deadline_ms) before it started, or while it
	 * ran and before it set this result: a cancel by the clock. */
	SHOAL_EDEADLINE = -4027,
};

/* A static, human-readable description of any code returned by shoal
 * (negative errno values included; an unknown code gets a generic
 * text).  The string is the library's: do not free or modify it.  Any
 * thread.  No errors: never returns NULL. */
SHOAL_API const char *shoal_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* SHOAL_ERROR_H */
