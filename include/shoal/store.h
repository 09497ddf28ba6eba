/* SPDX-License-Identifier: MIT */
/*
 * shoal/store.h - the shared-memory object store (Plasma's model).
 *
 * A store is one shared-memory segment holding immutable objects.  Any
 * process that has the segment mapped reads an object in place: a get is a
 * lookup and an atomic pin, never a copy and never a system call.
 *
 * Life of an object (Plasma's semantics):
 *   create -> (write the buffer) -> seal   -- visible, immutable
 *          \-> abort                        -- as if never created
 *   get -> (read the view) -> release       -- pinned while viewed
 *   hold / drop                             -- a reference (Ray's ObjectRef)
 *   delete                                  -- deferred until unpinned
 *
 * Lifetime: an object that any process holds or has pinned is never
 * evicted.  Sealed objects nobody holds or pins are a cache: when a create
 * needs room they are evicted, least recently used first, and a later get
 * of such an ID returns SHOAL_EEVICTED (from a tombstone) instead of
 * waiting.  A create that finds no room even after evicting waits up to its
 * timeout for holds or pins to go, then fails with SHOAL_ESTOREFULL.
 *
 * Processes: every store handle takes a slot in the segment's process
 * table, where its holds, pins and allocator caches are recorded (holds and
 * pins belong to the handle: drop through the handle that held).  When a
 * process dies (any signal, at any instruction), the next process that
 * attaches, whose wait times out, or that has waited a second (long waits
 * re-check once a second), reaps its slot: its pins and holds are released,
 * its allocator caches returned, objects it created and never sealed are
 * aborted: a get that finds one of them (or was waiting for it) returns
 * SHOAL_EOWNERDIED, as Ray's OwnerDiedError, instead of waiting for ever;
 * the tombstone that says so stays until its entry is reused.  (An abort
 * by a live creator is Plasma's: as if never created, a get keeps
 * waiting.)
 * Death is decided by pid + start time (/proc), never by a timeout.
 *
 * Timeouts are in milliseconds: 0 polls, a negative value waits forever.
 * NULL where a pointer is required, or the nil ID, returns -EINVAL.
 *
 * Words other processes hold: some steps wait for a word in the segment
 * that another process holds for a few writes (a directory lock, the
 * allocator's lock, a recount of an object's references by a process that
 * reaps a dead one).  A live holder lets go at once, but one that stays
 * alive and never lets go (stopped, or a same-user neighbour that wrote
 * the word) would hold everyone for ever, so these waits are bounded: a
 * call with a timeout waits its timeout, at least a second (a poll too:
 * a holder off its CPU on a loaded machine holds a word that long); one
 * that waits for ever (timeout < 0) waits for ever for what it asked (a
 * seal, room) but ten seconds for such a word; a call without a timeout
 * waits a second.  Past that the call returns
 * -ETIMEDOUT having changed nothing (each call says what it leaves), and
 * works again once the word is let go.
 *
 * Concurrency: a struct shoal_store may be used by any number of threads of
 * its process at once (they serialise briefly on the handle's bookkeeping;
 * for parallel gets from many threads, give each thread its own handle);
 * any number of processes may attach to one segment.
 * A successful seal happens-before every get that returns the object (the
 * object's bytes written before seal are visible to the reader).
 *
 * Not async-signal-safe.  A process must not use a store handle inherited
 * through fork(); the child opens its own (shoal_store_attach or
 * shoal_store_attach_fd).
 */
#ifndef SHOAL_STORE_H
#define SHOAL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <shoal/error.h>
#include <shoal/export.h>
#include <shoal/id.h>

#ifdef __cplusplus
extern "C" {
#endif

struct shoal_store;

/* Sizes fixed at creation.  Initialise with shoal_store_options_init()
 * (or SHOAL_STORE_OPTIONS_INIT) and change only the fields you need: the
 * struct ends in reserved words that must stay zero (resv). */
struct shoal_store_options {
	/* Bytes available to object data and metadata (rounded up to a
	 * multiple of 64 KiB, the allocator's slab size).  Default 256 MiB. */
	uint64_t capacity;
	/* Live objects at most (tombstones do not count).  Default 262144.
	 * The directory has four times as many slots (64 bytes each: 64 MiB
	 * of shared memory at the default, reserved at create). */
	uint32_t max_objects;
	/* Processes that may have the store open at once, at most 4094.
	 * Default 64.  The segment has two slots more, which no process
	 * keeps: an attach that finds every slot taken reaps the dead from
	 * one of them. */
	uint32_t max_procs;
	/* Distinct objects one process may hold or pin at once.  Default 0:
	 * sized by need, up to max_objects (a process's ledger starts at
	 * 64 records and doubles as it needs, about 32 to 64 bytes of
	 * shared memory per object held, kept until the store is removed;
	 * SHOAL_ELEDGERFULL only past max_objects distinct objects, which
	 * only held tombstones can reach).  A nonzero value is a cap:
	 * beyond it, hold/get/create return SHOAL_ELEDGERFULL.  Growing
	 * the ledger can fail with SHOAL_ENOSHM when the machine's shared
	 * memory is exhausted (nothing is held then). */
	uint32_t ledger_slots;
	/* Pause iterations a waiter spins before it sleeps on a futex.
	 * Default 2000 (about 70 µs of spinning at most); at most 2^20
	 * (-EINVAL beyond).  A wait's timeout ends its spinning too. */
	uint32_t spin_budget;
	/* Where a failing create writes one line saying why in detail (how
	 * much memory was asked and how much is free, for SHOAL_ENOSHM),
	 * NUL-terminated, at most errbuf_size bytes; NULL for nowhere.  Only
	 * written on failure, never kept. */
	char *errbuf;
	size_t errbuf_size;
	/* Reserved for fields of later releases: zero, as the initialisers
	 * leave it.  shoal_store_create (and shoal_runtime_start, for a
	 * runtime's store) refuses a nonzero word with -EINVAL, so that a
	 * program built for a later release, asking for something this
	 * library cannot do, is refused rather than ignored.  A field that
	 * takes a word has 0 as its default. */
	uint64_t resv[4];
};

#define SHOAL_STORE_OPTIONS_INIT                                              \
	{                                                                     \
		.capacity = 256u << 20, .max_objects = 262144,                \
		.max_procs = 64, .ledger_slots = 0, .spin_budget = 2000,      \
	}

/* Fills *opts with the defaults (as SHOAL_STORE_OPTIONS_INIT, resv
 * zeroed).  The struct is the caller's.  Any thread.  No errors (NULL
 * is a no-op). */
SHOAL_API void shoal_store_options_init(struct shoal_store_options *opts);

/*
 * Creates a store.  With a name ("/name" or "name": 1 to 200 bytes not
 * counting the leading '/', no other '/', no control character), the segment is /dev/shm/<name>, created exclusively with mode
 * 0600 (-EEXIST if it exists); it outlives the process until
 * shoal_store_unlink().  The name appears only once the segment is whole,
 * when the create returns: a creator killed during the create leaves no
 * name behind (where /dev/shm cannot make a file without a name,
 * O_TMPFILE, the name comes first, as in shoal 0.1).  With name == NULL the segment is a private memfd:
 * it goes away with the last process that has it open; children reach it
 * through shoal_store_fd() and shoal_store_attach_fd().
 * opts may be NULL for the defaults.
 *
 * Errors: -EINVAL (NULL out, a bad name, an option out of its range or a
 * nonzero resv word), -EEXIST (the name is taken; opts->errbuf says by
 * whom if it can), SHOAL_ENOSHM (not enough free memory in /dev/shm or
 * the machine; errbuf says how much), -ENOSPC (the file could not be
 * sized), -ENOMEM, or another negated errno of shm_open/memfd_create/
 * mmap, or SHOAL_ENOMEMBARRIER (this process may not use
 * membarrier(MEMBARRIER_CMD_GLOBAL), which repairing a dead neighbour's
 * work needs), -EMFILE or -ENFILE (no file left to read this process's
 * /proc/<pid>/stat: its start time tells its death from a reuse of its
 * pid), -ESRCH (no /proc to tell deaths by).  Nothing is left in
 * /dev/shm when it fails.
 *
 * *out is the caller's: close it with shoal_store_close() (which does not
 * unlink a named segment).  Any thread; two creates of one name race
 * safely (one gets -EEXIST).
 */
SHOAL_API int shoal_store_create(const char *name,
				 const struct shoal_store_options *opts,
				 struct shoal_store **out);

/*
 * Attaches to an existing named store.  Refuses one that another user
 * owns or whose mode is wider than 0600 (SHOAL_ENOTMINE: whoever made or
 * opened it could change it under us).  Checks the magic, layout version,
 * feature words, sizes and every region offset; a foreign or corrupt
 * segment is refused with SHOAL_EBADSEGMENT, another layout version, or
 * one that needs a feature this library does not know, with
 * SHOAL_EVERSION.
 * Reaps the slots of dead processes (as shoal_store_reap: a slot whose
 * reaping waits more than a second for a word another process holds is
 * left for a later reap, and the attach succeeds).
 * Also -EINVAL (NULL out, a bad name), -ENOENT (no such segment),
 * SHOAL_ETOOMANYPROCS (max_procs live processes have it open; with every
 * slot taken, dead processes' too, the attach reaps them first, from a
 * reserve slot; only with both reserve slots left to attaches killed in
 * the few steps of a reap that a next attach cannot take over is it
 * refused until a process with a slot reaps, docs/design.md "Limits"),
 * SHOAL_ENOMEMBARRIER, -EMFILE, -ENFILE or -ESRCH (as
 * shoal_store_create), -ENOMEM, or
 * another negated errno of shm_open/mmap.  *out is the caller's: close it
 * with shoal_store_close().  Any thread; each attach is a handle of its
 * own (a process slot).
 */
SHOAL_API int shoal_store_attach(const char *name, struct shoal_store **out);

/* Attaches through a file descriptor of the segment (e.g. a private store's
 * memfd inherited across fork+exec).  The fd is duplicated, not taken:
 * the caller still closes its own.  Checks and reaps as
 * shoal_store_attach, with its errors (SHOAL_EBADSEGMENT, SHOAL_EVERSION,
 * SHOAL_ETOOMANYPROCS, -ENOMEM, ...) but SHOAL_ENOTMINE; -EINVAL for a
 * NULL out or a negative fd, a negated errno if dup fails.  *out is the
 * caller's (shoal_store_close).  Any thread. */
SHOAL_API int shoal_store_attach_fd(int fd, struct shoal_store **out);

/* The segment's file descriptor (owned by the store; do not close: it
 * goes with shoal_store_close).  -EINVAL for a NULL store.  Any thread. */
SHOAL_API int shoal_store_fd(const struct shoal_store *store);

/*
 * Detaches: releases this process's pins and holds, returns its allocator
 * caches and frees its process slot.  Views obtained through this handle
 * become invalid.  NULL is a no-op.  If that waits more than a second for
 * a word another process holds, it stops there: the slot keeps what is
 * left until this process exits and a reaper gives it back.
 * No errors (void).  Not concurrently with any other call on the same
 * handle: the handle is freed.  A runtime's store (shoal_runtime_store)
 * is the runtime's to close, never the caller's.
 */
SHOAL_API void shoal_store_close(struct shoal_store *store);

/* Removes a named segment from /dev/shm.  Processes that have it mapped
 * keep using it.  -ENOENT if there is none, -EINVAL for a bad name, or
 * another negated errno of shm_unlink (-EACCES).  Any thread, any
 * process: no handle needed. */
SHOAL_API int shoal_store_unlink(const char *name);

/* ------------------------------------------------------------------ */
/* Objects                                                            */

/*
 * Creates an unsealed object of data_size bytes plus a copy of meta
 * (meta_size bytes, may be 0).  *data receives a writable buffer of
 * data_size bytes, valid until seal or abort.  The object is not visible
 * to get until sealed.  The creator holds it from create on (drop it when
 * done; after an abort there is nothing to drop).
 *
 * -EEXIST: the ID exists (live); -EINVAL: nil ID or size overflow;
 * SHOAL_ESTOREFULL: no room within timeout_ms even after evicting (a size
 * larger than the capacity fails at once); -ENOSPC: max_objects objects are
 * live and none can be evicted, or the directory has no free slot near the
 * ID's home; -ETIMEDOUT: a word another process holds stayed taken past
 * timeout_ms (at least a second: its holder is stopped, or the word was
 * scribbled on): the directory's lock near the ID's home, the allocator's
 * lock, or a recount on the entry being claimed; nothing is created then.
 * SHOAL_EBADSEGMENT: that directory lock word names no process.
 * SHOAL_ELEDGERFULL: this process holds or pins ledger_slots objects
 * already (the creator's hold needs a record); SHOAL_ENOSHM: its ledger
 * had to grow for that record and the machine has no shared memory left
 * (shoal_store_options, ledger_slots).  IDs from
 * shoal_id_next() are unique by construction and skip the duplicate
 * check: do not forge IDs in their format.
 * The buffer is the store's: write it, then seal or abort (never free
 * it).  Any thread of the handle's process; only the creating handle
 * seals or aborts.
 */
SHOAL_API int shoal_create(struct shoal_store *store, shoal_id id,
			   size_t data_size, const void *meta,
			   size_t meta_size, int timeout_ms, void **data);

/* Seals an object this process created: it becomes immutable and visible,
 * and waiting gets wake up.  SHOAL_ESEALED if sealed already, -EPERM if
 * another process created it, -ENOENT if there is no such object,
 * -ETIMEDOUT if a recount of its references stayed under way for more
 * than a second (still unsealed: seal or abort it again), -EINVAL for a
 * NULL store or the nil ID.  Any thread of the creating process. */
SHOAL_API int shoal_seal(struct shoal_store *store, shoal_id id);

/* Aborts an unsealed object this process created: as if never created.
 * The creator's hold goes with it; holds others took on the unsealed
 * object stay on a tombstone (a get answers SHOAL_EDELETED) until each is
 * dropped.  SHOAL_ESEALED if it was sealed, -EPERM / -ENOENT / -ETIMEDOUT
 * (nothing aborted) / -EINVAL as for seal.  Any thread of the creating
 * process. */
SHOAL_API int shoal_abort(struct shoal_store *store, shoal_id id);

/* create + copy + seal.  The caller holds the result.  Errors as for
 * create; a seal that waits past timeout_ms (at least a second) for a
 * recount of its references returns -ETIMEDOUT and aborts the object (if
 * that has to wait too, the object stays unsealed, held by this handle,
 * until its close).  The bytes are copied: data stays the caller's.  Any
 * thread. */
SHOAL_API int shoal_put_with_id(struct shoal_store *store, shoal_id id,
				const void *data, size_t size,
				const void *meta, size_t meta_size,
				int timeout_ms);

/* As shoal_put_with_id, under a fresh ID derived for this process (Ray's
 * ray.put), no metadata.  *out receives the ID, which the caller holds
 * (shoal_drop it when done).  Errors as for shoal_put_with_id (-EINVAL
 * for a NULL store or out, SHOAL_ESTOREFULL, -ENOSPC, -ETIMEDOUT ...); *out
 * is untouched then.  Any thread. */
SHOAL_API int shoal_put(struct shoal_store *store, const void *data,
			size_t size, int timeout_ms, shoal_id *out);

/* A fresh ID derived for this handle (unique within the segment for its
 * life: shoal/id.h).  Any thread of the handle's process.  No errors;
 * store must be a valid handle (NULL is not checked). */
SHOAL_API shoal_id shoal_id_next(struct shoal_store *store);

/* A read-only, zero-copy view of a sealed object, pinned until released.
 * Fields other than data/size/meta/meta_size/id are private. */
struct shoal_view {
	const void *data;
	size_t size;
	const void *meta;
	size_t meta_size;
	shoal_id id;
	int err;          /* per-ID result of shoal_get_many */
	uint32_t entry_;  /* private */
	uint32_t gen_;    /* private */
};

/*
 * Gets a sealed object, pinning it.  Waits up to timeout_ms for an object
 * that is not yet created or not yet sealed.  -ETIMEDOUT when the wait ends,
 * SHOAL_EEVICTED / SHOAL_EDELETED for an evicted / deleted object (from its
 * tombstone), SHOAL_ELEDGERFULL if this process pins too many objects.
 * -ETIMEDOUT too if a recount of the object's references stayed under
 * way past timeout_ms (at least a second), nothing pinned.
 * An object that holds an error (the result of a failed task, as Ray's
 * RayTaskError) returns that error's code (SHOAL_ETASK, SHOAL_EWORKERDIED,
 * ...) and no view; shoal_error_message() reads the message the failing
 * side wrote.  Also SHOAL_EOWNERDIED (its creator died unsealed),
 * -EINVAL (NULL store or out, the nil ID).  On an error *out is zeroed
 * (out->err holds the code).
 * The view is pinned by this handle: the caller releases it
 * (shoal_release) through the same handle; the bytes are the store's,
 * read-only, valid until then.  Any thread.
 */
SHOAL_API int shoal_get(struct shoal_store *store, shoal_id id,
			int timeout_ms, struct shoal_view *out);

/*
 * Gets n objects, waiting until every one is sealed or timeout_ms passed
 * (one deadline for all).  views[i].err is 0 (pinned: release it) or the
 * error shoal_get would return for ids[i]; views[i].data is NULL unless
 * err == 0.  Returns the number of objects pinned, or -EINVAL (NULL
 * store, NULL ids or views with n > 0, n over INT32_MAX); a nil ID gets
 * views[i].err = -EINVAL, one still missing at the deadline -ETIMEDOUT.
 * (A recount on an object is waited for as by shoal_get: timeout_ms, at
 * least a second, for the whole call.)  views[] is the caller's; each
 * pinned view is released by the caller (shoal_release).  Any thread.
 */
SHOAL_API int shoal_get_many(struct shoal_store *store, const shoal_id *ids,
			     size_t n, int timeout_ms,
			     struct shoal_view *views);

/*
 * One call to read a small result (SHOAL_0.3; Ray's `v = ray.get(ref);
 * del ref`): gets the object (waiting up to timeout_ms, as shoal_get),
 * checks its size, copies it into *out, releases the view and drops one
 * hold this handle has on it (the hold a submit, call or put gave the
 * caller; none to drop is fine).  Objects carry no type: an i64, u64 or
 * f64 is any object of 8 bytes (what shoal_task_return_i64 ... write),
 * read in this machine's byte order.
 *
 * The hold is dropped on success only.  A failed read leaves the ref as
 * it was, the caller's to drop: an error object's code (SHOAL_ETASK,
 * SHOAL_EACTORDIED ...: shoal_error_message reads its message), an
 * object of another size (SHOAL_EOBJTYPE), a tombstone's code
 * (SHOAL_EEVICTED, SHOAL_EDELETED, SHOAL_EOWNERDIED), -ETIMEDOUT (not
 * sealed within timeout_ms: ask again), SHOAL_ELEDGERFULL, -EINVAL (NULL
 * store or out, the nil ID), SHOAL_EREADONLY (an inspect handle).  *out
 * is untouched on any error.  Any thread, as shoal_get.
 */
SHOAL_API int shoal_get_i64(struct shoal_store *store, shoal_id id,
			    int timeout_ms, int64_t *out);
SHOAL_API int shoal_get_u64(struct shoal_store *store, shoal_id id,
			    int timeout_ms, uint64_t *out);
SHOAL_API int shoal_get_f64(struct shoal_store *store, shoal_id id,
			    int timeout_ms, double *out);
/* A string result (shoal_task_return_str), copied into buf (cap bytes,
 * the caller's) with its NUL, as shoal_get_i64 (SHOAL_0.3): the object's
 * bytes must end in a NUL (SHOAL_EOBJTYPE otherwise: not a string).
 * -ENOBUFS if it needs more than cap bytes (ask again with more room);
 * other errors as shoal_get_i64's (-EINVAL for a NULL buf too), and as
 * there the hold goes on success only. */
SHOAL_API int shoal_get_str(struct shoal_store *store, shoal_id id,
			    int timeout_ms, char *buf, size_t cap);
/* Any object's bytes copied into buf (cap bytes, the caller's), as
 * shoal_get_i64 (SHOAL_0.3); *size (may be NULL) receives the object's
 * size, on success and on -ENOBUFS (more than cap bytes: nothing copied,
 * so the caller can ask again with that much room).  Other errors as
 * shoal_get_i64's (-EINVAL for a NULL buf with cap > 0 too), the hold
 * going on success only; SHOAL_EOBJTYPE is never returned. */
SHOAL_API int shoal_get_copy(struct shoal_store *store, shoal_id id,
			     int timeout_ms, void *buf, size_t cap,
			     size_t *size);

/* The message of an object that holds an error: copies at most cap - 1
 * bytes and a NUL into buf, returns the message's full length.  -ENOMSG if
 * the object is sealed but not an error, -ENOENT / -EAGAIN if it is absent
 * / not sealed yet, -ETIMEDOUT if a recount of its references stayed
 * under way for more than a second, SHOAL_EEVICTED / SHOAL_EDELETED /
 * SHOAL_EOWNERDIED for a tombstone, -EINVAL (NULL store, NULL buf with
 * cap > 0, the nil ID).  Does not wait.  buf is the caller's.  Any
 * thread. */
SHOAL_API int shoal_error_message(struct shoal_store *store, shoal_id id,
				  char *buf, size_t cap);

/*
 * Ray's ray.wait: waits until at least num_ready of the n objects are
 * ready (sealed, an error, or gone: a get would return at once) or
 * timeout_ms passed.  ready[i] is set to 1 or 0 for each ID (input order).
 * Returns how many are ready (it may exceed num_ready), or -EINVAL (NULL
 * store, NULL ids or ready with n > 0, num_ready > n, n over INT32_MAX).
 * Reaching the timeout is not an error: the count is returned.  Pins
 * nothing, holds nothing.  ready[] is the caller's.  Any thread.
 */
SHOAL_API int shoal_wait(struct shoal_store *store, const shoal_id *ids,
			 size_t n, size_t num_ready, int timeout_ms,
			 uint8_t *ready);

/* Unpins a view from shoal_get / shoal_get_many.  The view is cleared.
 * -EINVAL for a view that is not pinned; -ETIMEDOUT if a recount of the
 * object's references stayed under way for more than a second (still
 * pinned, the view untouched: release it again).  Any thread, but
 * through the handle that pinned it, and once per view. */
SHOAL_API int shoal_release(struct shoal_store *store,
			    struct shoal_view *view);

/* shoal_release of the view and shoal_drop of one hold this process has
 * on its object, in one step (SHOAL_0.3): what a reader does with a
 * result it is done with (Ray's `ray.get(ref)`, then `del ref`), for the
 * price of one count change instead of two.  The view is cleared.
 * -ENOENT if this process holds no hold on the object, or did not pin
 * the view (nothing changed: release the view alone); -EINVAL for a NULL store or a view that is not
 * pinned; SHOAL_EREADONLY for an inspect handle; -ETIMEDOUT if a recount
 * of the object's references stayed under way for more than a second
 * (nothing changed: ask again).  Any thread, through the handle that
 * pinned the view, once per view. */
SHOAL_API int shoal_release_drop(struct shoal_store *store,
				 struct shoal_view *view);

/* 1 if the object exists and is sealed, 0 if not (absent, unsealed,
 * evicted, deleted), -EINVAL for a NULL store or the nil ID.  Does not
 * wait or pin: the answer may be stale at once.  Any thread. */
SHOAL_API int shoal_contains(struct shoal_store *store, shoal_id id);

/* Takes a reference on an object, sealed or not yet sealed (a task's result
 * is held before it exists): it is not evicted while any process holds it.
 * A process may hold an object several times.  SHOAL_EEVICTED /
 * SHOAL_EDELETED (or SHOAL_EOWNERDIED) for a tombstone, -ENOENT if there
 * is no such object, SHOAL_ELEDGERFULL if this process holds or pins
 * ledger_slots objects already (a cap it asked for), SHOAL_ENOSHM if its
 * ledger had to grow and the machine has no shared memory left for it
 * (not held), -EOVERFLOW if this handle holds it more
 * times than its ledger counts, -ETIMEDOUT if a recount of its references
 * stayed under way for more than a second (not held), -EINVAL for a NULL
 * store or the nil ID.  The hold belongs to this handle: drop it through
 * the same handle (shoal_drop), or it goes at close.  Any thread. */
SHOAL_API int shoal_hold(struct shoal_store *store, shoal_id id);

/* Drops one reference this process holds.  -ENOENT if it holds none,
 * -ETIMEDOUT if a recount of its references stayed under way for more
 * than a second (still held: drop it again).  The last drop (and unpin)
 * of a task's or call's result frees its memory (Ray's reference
 * counting); an object made with shoal_put or shoal_create stays cached,
 * evictable once nobody holds or pins it, until it is evicted or
 * deleted.  A large one whose free waits more than a second for the
 * allocator's lock is leaked (never reused) rather than wait on.
 * -EINVAL for a NULL store or the nil ID.  Any thread. */
SHOAL_API int shoal_drop(struct shoal_store *store, shoal_id id);

/*
 * Deletes a sealed object whatever its holds: new gets see SHOAL_EDELETED
 * at once, its memory goes when the last pin is released.  Holders still
 * drop their holds: until the last drop, the deleted object's tombstone
 * keeps its directory slot.  -ENOENT if the object does not exist,
 * SHOAL_ENOTSEALED if it is unsealed (abort it), -ETIMEDOUT if a recount
 * of its references stayed under way for more than a second (not
 * deleted), -EINVAL for a NULL store or the nil ID.  Its memory goes as
 * after a drop.  Any thread, any process (not only the creator).
 */
SHOAL_API int shoal_delete(struct shoal_store *store, shoal_id id);

/* Evicts unheld, unpinned sealed objects, least recently used first, until
 * at least `bytes` were freed or nothing is left to evict.  Returns the
 * number of bytes freed (capped at INT32_MAX; 0 for bytes == 0), or
 * -EINVAL for a NULL store.  Any thread. */
SHOAL_API int shoal_evict(struct shoal_store *store, uint64_t bytes);

enum shoal_object_state {
	SHOAL_OBJECT_CREATED = 1, /* unsealed */
	SHOAL_OBJECT_SEALED = 2,
	SHOAL_OBJECT_DELETING = 3, /* deleted, waiting for pins to go */
};

struct shoal_object_info {
	shoal_id id;
	uint64_t data_size;
	uint32_t meta_size;
	uint32_t state;   /* enum shoal_object_state */
	uint32_t pins;    /* views open, all processes */
	uint32_t holds;   /* references, all processes */
	int32_t creator_pid;
	uint32_t reserved_;
};

/* Lists live objects into out[0..cap) (the caller's array).  Returns how
 * many live objects were seen (which may exceed cap; at most INT32_MAX),
 * or -EINVAL for a NULL store, or a NULL out with cap > 0.  A snapshot per
 * object, not of the store.  Pins and holds nothing.  Any thread. */
SHOAL_API int shoal_list(struct shoal_store *store,
			 struct shoal_object_info *out, size_t cap);

struct shoal_store_stats {
	uint64_t capacity;        /* bytes for objects */
	uint64_t bytes_used;      /* bytes of live objects (data + meta) */
	uint64_t objects;         /* live objects, sealed or not */
	uint64_t max_objects;
	uint64_t evictions;       /* objects evicted since creation */
	uint64_t evicted_bytes;
	uint64_t heap_bytes_reserved; /* pages taken by the allocator */
	uint32_t processes;       /* live process slots, of max_procs */
	uint32_t max_procs;
	uint64_t reaped;          /* dead processes reaped since creation */
};

/* Fills *out (the caller's) with the store's sizes and counters (a
 * snapshot: counters move while it reads).  0, or -EINVAL for a NULL
 * store or out.  Any thread. */
SHOAL_API int shoal_store_stats(struct shoal_store *store,
				struct shoal_store_stats *out);

/* ------------------------------------------------------------------ */
/* Read-only inspection (SHOAL_0.2)                                   */

/*
 * Opens a named store for reading only, as a tool does (the `shoal`
 * command): the file is opened O_RDONLY and mapped PROT_READ, and the
 * handle takes no process slot, starts no thread and writes nothing, so
 * it works when every slot is taken and never disturbs the processes
 * that use the store.  The header is checked as by shoal_store_attach
 * (magic, layout version, features, sizes, every region offset against
 * the file's size): -ENOENT for no such name, SHOAL_EBADSEGMENT for a
 * foreign or truncated file, SHOAL_EVERSION for another layout,
 * SHOAL_ENOTMINE as for attach, -EINVAL for a bad name or NULL out.
 *
 * What works on it: shoal_store_stats, shoal_list and shoal_contains
 * (racy snapshots of what other processes do meanwhile), and
 * shoal_store_close, which closes it.  Every other call on it returns
 * SHOAL_EREADONLY (shoal_id_next returns the nil ID): it has no slot to
 * record pins or holds in, and a write would fault.  Dead processes'
 * slots are not reaped: the counts it reports include what they left.
 * *out is the caller's, closed with shoal_store_close.  Thread safety as
 * any handle.
 */
SHOAL_API int shoal_store_inspect(const char *name, struct shoal_store **out);

/* Reaps the slots of dead processes now (attach and timed-out waits do it
 * on their own).  Returns the number reaped.  A slot whose reaping would
 * wait for a word another process holds, more than a second in all for
 * the call, is not counted: it is left as it was, for a later reap.
 * -EINVAL for a NULL store.  Any thread, any process (reapers of one slot
 * do not collide: one of them does it). */
SHOAL_API int shoal_store_reap(struct shoal_store *store);

#ifdef __cplusplus
}
#endif
#endif /* SHOAL_STORE_H */
