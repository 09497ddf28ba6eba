/* SPDX-License-Identifier: MIT */
/*
 * store/ext.h - what the store offers a layer above it that links nodes of
 * its own into an entry's waiter stack.
 *
 * Who may include it: the store's own files, and the layers above (the
 * runtime).  The store never calls those layers by name: a waiter reference
 * carries a kind, and each process holds its own table of handlers by kind
 * (a function pointer cannot live in the segment).  DPDK's mempool does the
 * same with its ops table and ops_index.
 *
 * Waiter references (the words of an entry's waiter stack, layout.h):
 * bits 31..29 are the kind, bits 28..0 the payload.
 *   kind 0 (SHOAL__WKIND_THREAD)  a thread's record in its process slot;
 *                                 payload: record index + 1 (waiters.c)
 *   kinds 1..6                    a node of a layer above, resolved through
 *                                 the handler registered for the kind
 *   kind 7                        reserved: UINT32_MAX closes a stack
 *
 * Handler table: process-private, one entry per kind, each set at most once
 * (CAS from NULL, release: WT-R4 of waiters.c) and read with acquire
 * (WT-A4), so a handler registered
 * by a library constructor or by a runtime's start is seen whole by any
 * thread that drains a stack afterwards.  A process that has no handler for
 * a node's kind (a program that links the store alone) stops its drain at
 * that node: the rest of the chain is the registering layer's to repair
 * (the runtime's fork server sweeps parked tasks) and the threads behind it
 * re-check at their wait slice.
 */
#ifndef SHOAL_STORE_EXT_H
#define SHOAL_STORE_EXT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <shoal/id.h>
#include <shoal/store.h>

#include "crash.h"
#include "deadline.h"
#include "event.h"

struct shoal_store;

/* Creators: which process slot made an object (or, for a layer above,
 * holds one of its records).  The slot (12 bits, max_procs <= 4096) and
 * the low 20 bits of that slot's generation: a reused slot is not the
 * creator. */
#define SHOAL__CREATOR(slot, gen) (((uint32_t)(slot) << 20) | ((gen) & 0xfffffu))
/* The same in 24 bits, to share a state word (the runtime's task records
 * and lanes): the slot (12 bits) and the low 12 bits of its generation.
 * Told gone only once the slot is free, reused by another generation
 * (mod 4096) or its pid dead: never a live process. */
#define SHOAL__CREATOR24(creator)                                             \
	((((uint32_t)(creator) >> 20) << 12) | ((uint32_t)(creator) & 0xfffu))

#define SHOAL__WKIND_SHIFT 29u
#define SHOAL__WKIND_THREAD 0u
#define SHOAL__WKIND_MAX 6u /* the highest kind a layer may register */
#define SHOAL__WREF_PAYLOAD_MASK ((1u << SHOAL__WKIND_SHIFT) - 1)
#define SHOAL__WREF(kind, payload)                                             \
	(((uint32_t)(kind) << SHOAL__WKIND_SHIFT) |                            \
	 ((uint32_t)(payload) & SHOAL__WREF_PAYLOAD_MASK))
#define SHOAL__WREF_KIND(ref) ((uint32_t)(ref) >> SHOAL__WKIND_SHIFT)
#define SHOAL__WREF_PAYLOAD(ref) ((uint32_t)(ref) & SHOAL__WREF_PAYLOAD_MASK)

/* A layer's handlers for the nodes of one kind.  Each is called with the
 * whole reference (kind bits included). */
struct shoal__waiter_ops {
	const char *name;
	/* How many nodes of this kind one stack can hold at most: a drain or
	 * a walk stops after that many (a chain corrupted into a cycle still
	 * ends).  0: none can be resolved now. */
	uint64_t (*max_nodes)(struct shoal_store *s);
	/* Called once per node by whoever drains the closed stack of object
	 * `id` (sealed or ended, its ID stable): settles the node and returns
	 * the next reference of the chain (0 ends it).  Must read the link
	 * before settling: a settled node may be reused at once. */
	uint32_t (*resolve)(struct shoal_store *s, uint32_t ref, shoal_id id);
	/* The next reference after node ref, settling nothing (walks). */
	uint32_t (*peek_next)(struct shoal_store *s, uint32_t ref);
};

/* Registers ops for kind (1..SHOAL__WKIND_MAX) in this process.  0, also
 * when the same ops are registered again; -EINVAL for a bad kind or ops,
 * -EEXIST if other ops hold the kind. */
int shoal__waiter_kind_register(uint32_t kind, const struct shoal__waiter_ops *ops);

/* Links the node ref (a registered kind) into id's waiter stack if id is
 * unsealed; *next is the node's link, written before the push publishes
 * the node (seq_cst CAS: WT-R1, WT-S1 of waiters.c).  False if there is
 * nothing to wait for: the
 * object is sealed, gone, or its stack closed meanwhile. */
bool shoal__waiters_push_node(struct shoal_store *s, shoal_id id, uint32_t ref,
			      _Atomic uint32_t *next);

/* A repair's close for a node ref that its pusher may have left on id's
 * stack after id was sealed, dead before it closed the stack itself
 * (waiters.c, shoal__waiters_closed_late): closes the stack, draining the
 * node, if id is sealed and ref still heads it.  Only ref's pusher pushes
 * ref, and it does not push it again.  False if id is not sealed. */
bool shoal__waiters_close_node(struct shoal_store *s, shoal_id id, uint32_t ref);

/* What a walk of id's stack met: a thread of live process `pid` still
 * waiting (kind 0), or a node of another kind (pid 0). */
typedef void (*shoal__waiter_visit_fn)(void *ctx, uint32_t kind, int32_t pid);

/* Visits every node of id's stack while id is unsealed, settling nothing;
 * bounded by the number of nodes that can exist.  Returns how many nodes
 * it visited.  A racy snapshot: callers re-check what they conclude. */
uint32_t shoal__waiters_walk(struct shoal_store *s, shoal_id id,
			     shoal__waiter_visit_fn visit, void *ctx);

/* ------------------------------------------------------------------ */
/* The handle: what a layer above may ask of it or set on it.          */

/* A store whose segment has an extra region of ext_bytes (zeroed) for
 * the layer above (its layout is that layer's); where that region is.
 * A named one is not named yet (store/name.c): the name was free when it
 * was made (-EEXIST if not), and shoal__store_publish gives it once the
 * caller has made sure that someone removes it if the caller dies.
 * Where the segment cannot be made unnamed, it has its name already. */
int shoal__store_create_ext(const char *name,
			    const struct shoal_store_options *opts,
			    uint64_t ext_bytes, struct shoal_store **out);
/* Gives a store made by shoal__store_create_ext its name: 0 (also for a
 * private store or one named already), -EEXIST if another segment took
 * the name meanwhile (opts->errbuf says whose, as the create's), or
 * another -errno of linkat.  The creator only, once. */
int shoal__store_publish(struct shoal_store *s,
			 const struct shoal_store_options *opts);
void *shoal__store_ext(const struct shoal_store *s, uint64_t *size);
/* Removes the name "/name" (or "name") from /dev/shm only if it is the
 * file fd is open on: 0, -ENOENT (no such name), -ESTALE (the name is
 * another file's: left alone), -EINVAL (a bad name) or another -errno.
 * store/name.c says what window remains. */
int shoal__shm_unlink_own(int fd, const char *name);
/* The layer above's private view of its region (checked by that layer),
 * handed to its waiter handlers; set once, before any concurrent use. */
void shoal__store_set_ext_view(struct shoal_store *s, const void *view);
const void *shoal__store_ext_view(const struct shoal_store *s);
const char *shoal__store_name(const struct shoal_store *s); /* "" if private */
/* Records what this handle's process is to the layer above (an opaque
 * role word in its slot, relaxed: read by tools, a hint; 0 = a plain
 * store). */
void shoal__store_set_role(struct shoal_store *s, uint32_t role);
/* SHOAL__CREATOR of this handle's slot. */
uint32_t shoal__store_creator(const struct shoal_store *s);
/* The store's space event (signalled when room is freed), the handle's
 * spin budget before a futex sleep, the arena's capacity in bytes. */
struct shoal__event *shoal__store_space(const struct shoal_store *s);
uint32_t shoal__store_spin(const struct shoal_store *s);
uint64_t shoal__store_capacity(const struct shoal_store *s);
/* shoal_store_reap for a reap that a wait (or a hook inside one) runs: a
 * dead process's scan for its orphans stops at the first chunk past
 * `until` and the next reap goes on (proc.c, "Work"); everything else a
 * reap does is done.  The slots freed; SHOAL_EREADONLY, -EINVAL as
 * shoal_store_reap. */
int shoal__store_reap_until(struct shoal_store *s, struct shoal__deadline until);
/* Touches (loads only) the directory slots and probe bytes of the n IDs
 * that follow `first` in its owner's counter (shoal_id_next's order), so
 * that this process pays its first access to those pages now (a fault,
 * tens of µs in a VM) rather than its first objects (dir.c). */
void shoal__store_warm_ids(const struct shoal_store *s, shoal_id first,
			   uint32_t n);
/* The handle's crash-point arming (base/crash.h). */
struct shoal__crash *shoal__store_crash(struct shoal_store *s);
/* The arming to hand to a ring or a crash point: the handle's in a build
 * with crash points, NULL (none, and no call) in every other build. */
#ifdef SHOAL_CRASH_POINTS
#define SHOAL__STORE_ARMING(s) shoal__store_crash(s)
#else
#define SHOAL__STORE_ARMING(s) ((void)(s), (struct shoal__crash *)NULL)
#endif
/* A layer above's crash point on a store handle (base/crash.h). */
#define SHOAL__STORE_CRASH(s, name) SHOAL__CRASH_AT(SHOAL__STORE_ARMING(s), name)

/* Hooks of the layer above, called in the calling thread: on_block around
 * every sleep of a get, wait or create (a worker tells its runtime it is
 * blocked), on_drop after every successful drop, outside the store lock.
 * Set once, before any concurrent use of the handle. */
struct shoal__store_hooks {
	void (*on_block)(void *ctx, bool blocked);
	void *on_block_ctx;
	void (*on_drop)(void *ctx);
	void *on_drop_ctx;
};
void shoal__store_set_hooks(struct shoal_store *s,
			    const struct shoal__store_hooks *h);
/* Calls the on_block hook, if any (a layer's own sleeps on the store). */
void shoal__store_blocking(struct shoal_store *s, bool blocked);

/* ------------------------------------------------------------------ */
/* Processes: the identity of a slot's owner (slots.c, proc.c).         */

/* A process's start time (/proc, clock ticks since boot): with its pid,
 * an identity that survives pid reuse.  0 if it is gone, and also if
 * /proc cannot be read here (EMFILE...): a store slot's death is decided
 * by proc.c, which tells the two apart and takes the second for alive. */
uint64_t shoal__proc_start_time(int pid);
/* True once the process that owned `creator` (SHOAL__CREATOR) is gone:
 * its slot free, reused by another generation, or its pid dead.  Never a
 * live process. */
bool shoal__creator_gone(const struct shoal_store *s, uint32_t creator);
/* The same for a SHOAL__CREATOR24 (4096 reuses of its slot while it
 * waits only delay the answer). */
bool shoal__creator24_gone(const struct shoal_store *s, uint32_t c24);
/* The pid of the process that owns `creator` (SHOAL__CREATOR): its slot
 * live and of that generation; else 0.  A snapshot for tools: it writes
 * nothing (an inspect handle may ask) and tells nothing of liveness. */
int32_t shoal__creator_pid(const struct shoal_store *s, uint32_t creator);
/* The same, and the role word of that slot (shoal__store_set_role;
 * SHOAL__ROLE_STORE, 0, when the pid is 0): a snapshot, as above. */
int32_t shoal__creator_who(const struct shoal_store *s, uint32_t creator,
			   uint32_t *role);
/* True if process pid (with that start time; 0: any) is alive: a live
 * slot's owner that is not dead, or else by /proc; also when /proc
 * cannot be read here (EMFILE...): not known gone.  False for
 * ourselves. */
bool shoal__pid_alive(const struct shoal_store *s, int32_t pid, uint64_t start);

/* ------------------------------------------------------------------ */
/* The reap guard (guard.c): a dead slot kept for its guardian.         */

/* Asks that this handle's slot, once its process is dead, be reaped only
 * after `guardian` (a SHOAL__CREATOR) lifted the guard, or is gone
 * itself.  Idempotent; cheap when already set. */
void shoal__store_guard_set(struct shoal_store *s, uint32_t guardian);
/* The guardian's side.  Marks every slot guarded by this handle whose
 * process is dead; returns how many are marked (those marked before
 * too).  Then, once the guardian did what it must for a dead process,
 * lift lets each marked slot go to its reapers (release: what the
 * guardian did before is seen by them), but for the slots set in `keep`
 * (a bitmap of SHOAL__GUARD_KEEP_WORDS words indexed by slot; NULL:
 * none), whose work is still to do; returns how many it lifted. */
#define SHOAL__GUARD_KEEP_WORDS 64u /* 4096 slots, the most a store has */
uint32_t shoal__store_guard_mark(struct shoal_store *s);
uint32_t shoal__store_guard_lift(struct shoal_store *s, const uint64_t *keep);

/* ------------------------------------------------------------------ */
/* Objects a layer above fills for its callers (store/object/, fill.c).      */

/* data_size: the size in the low 56 bits, flags above. */
#define SHOAL__SIZE_MASK ((1ull << 56) - 1)
#define SHOAL__SIZE_ERROR (1ull << 63) /* the bytes are an error (fill.c) */
/* Freed when its last pin and hold go, not cached (fill.c: the runtime's
 * task and call results, which Ray frees once no reference is left). */
#define SHOAL__SIZE_TRANSIENT (1ull << 62)
/* The bytes (at most SHOAL__INLINE_MAX) live in data_off itself, not in a
 * block (fill.c: small results cost no allocation and no extra line). */
#define SHOAL__SIZE_INLINE (1ull << 61)
#define SHOAL__INLINE_MAX 8u

/* An unsealed entry with no block, held by the caller, for another
 * process to fill (fill.c).  Takes the process lock itself. */
int shoal__obj_promise(struct shoal_store *s, shoal_id id, bool fresh,
		       int timeout_ms);
/* Releases a view the process's own code pinned for itself (a task's
 * argument): as shoal_release, but a REPAIR on the entry that outlasts
 * the bound leaves the pin owed to the store handle (get.c), which gives
 * it back at its next get or release, or at close, instead of to a caller
 * that could only drop it.  The view is cleared. */
void shoal__release_owed(struct shoal_store *s, struct shoal_view *v);
/* True once id is sealed, or gone (nothing more will come of it). */
bool shoal__obj_settled(struct shoal_store *s, shoal_id id);
/* True while id names an entry (created, sealed or being ended). */
bool shoal__obj_known(const struct shoal_store *s, shoal_id id);

#define SHOAL__PROC_FILLS 8u
/* fill.c: writing a promised entry from another process */
struct shoal__fill {
	uint32_t idx;
	uint32_t gen;
	uint32_t rec;     /* index in this process's fill records */
	uint64_t off;     /* the block, 0 for an inline fill */
	uint64_t size;
	uint64_t inl;     /* an inline fill's bytes (size <= INLINE_MAX) */
};
/* begin waits for room and for a REPAIR on the entry up to timeout_ms
 * (at least SHOAL__LOCK_MIN_MS, deadline.h): -ETIMEDOUT, nothing taken.
 * end and cancel have no timeout: they wait for a REPAIR up to
 * SHOAL__LOCK_MIN_MS, then -ETIMEDOUT with the fill still open (end or
 * cancel it again; else the handle's close or reaper finishes it). */
int shoal__fill_begin(struct shoal_store *s, shoal_id id, uint64_t size,
		      int timeout_ms, struct shoal__fill *f, void **buf);
int shoal__fill_end(struct shoal_store *s, struct shoal__fill *f,
		    uint64_t flags);
int shoal__fill_cancel(struct shoal_store *s, struct shoal__fill *f);
/* begin, the size bytes of data (at most SHOAL__INLINE_MAX, else
 * -EINVAL), then end, in one lock section (fill.c); begin's and end's
 * codes and bounds; *claimed: whether begin's part succeeded (the code
 * is then end's). */
int shoal__fill_small(struct shoal_store *s, shoal_id id, const void *data,
		      uint64_t size, int timeout_ms, uint64_t flags, bool *claimed);

#endif /* SHOAL_STORE_EXT_H */
