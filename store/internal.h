/* SPDX-License-Identifier: MIT */
/*
 * store/internal.h - the process-local store handle and the functions the
 * store's modules share.  Nothing here is in the segment.
 */
#ifndef SHOAL_STORE_INTERNAL_H
#define SHOAL_STORE_INTERNAL_H

#if !defined(SHOAL__LAYER_STORE) && !defined(SHOAL__WHITEBOX)
#error "store/internal.h is private to store/: a layer above includes store/ext.h"
#endif

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <shoal/store.h>

#include "crash.h"
#include "deadline.h"
#include "event.h"
#include "ext.h"
#include "heap.h"
#include "layout.h"

/*
 * The segment's geometry as this process saw it at create or attach: a
 * private copy of the header's read-only fields, taken once and checked
 * (shoal__seg_validate) before anything is derived from it.  Every size,
 * count, mask and offset the store uses comes from here, never again from
 * the header, which any process that can write the segment may change: a
 * stray or hostile write there then corrupts data, never this process's
 * bounds.
 */
struct shoal__geo {
	uint64_t seg_size;
	uint64_t capacity;       /* arena bytes available to objects */
	uint32_t max_procs;
	uint32_t max_objects;
	uint32_t dir_slots;
	uint32_t ledger_slots;   /* the largest table's records */
	uint32_t ledger_base;    /* the base table's records */
	uint32_t ledger_levels;  /* levels above the base (layout.h) */
	uint32_t spin_budget;
	uint32_t nstripes;
	struct shoal__region ext; /* the runtime's region (opaque here) */
	struct shoal__region ledger_ext; /* the ledgers' larger tables */
	/* The header's feature words (layout.h), validated: every required
	 * bit is one this library knows. */
	uint64_t features;
	uint64_t compat_features;
};

/*
 * Process-local handle.  Every field is set by open and read-only after,
 * except id_cursor and id_win (atomic: any thread of this process derives
 * IDs), lock, ledger_used and win.
 * The pointers below are this process's translations of offsets that
 * shoal__seg_validate() checked, taken from `geo`.
 */
struct shoal__cand;

#define SHOAL__OWED_MAX 16u

struct shoal_store {
	struct shoal__map map;
	int fd;
	unsigned arena;             /* jemalloc arena for private memory */
	char name[256];             /* "" for a private store */
	bool linked;                /* the name is on the segment (name.c) */
	struct shoal__seg_hdr *hdr;  /* state words only: sizes are in geo */
	struct shoal__geo geo;
	struct shoal__proc *procs;
	_Atomic uint64_t *ledgers;     /* the base tables */
	_Atomic uint64_t *ledger_ext;  /* the larger tables (layout.h) */
	_Atomic uint32_t *stripes;
	_Atomic uint8_t *probe;
	struct shoal__entry *dir;
	struct shoal__heap_view heap;
	uint32_t slot;              /* this process's slot */
	uint32_t slot_gen;
	struct shoal__proc *me;
	_Atomic uint64_t *ledger;   /* this process's ledger's table in use */
	uint32_t dir_mask;
	uint32_t ledger_mask;       /* its records - 1 (under lock) */
	uint32_t ledger_level;      /* its level (under lock) */
	/* The ID block this handle draws from (block << 16 | next in it),
	 * 0 before the first: see shoal_id_next. */
	_Atomic uint64_t id_cursor;
	/* The walk window class of the next IDs (store/dir.c): written
	 * under lock by shoal__dir_win_note, read by shoal_id_next; relaxed
	 * both, a hint (any class makes a valid ID). */
	_Atomic uint32_t id_win;
	struct shoal__win_stat {    /* shoal__dir_win_note's (under lock) */
		uint32_t floor;     /* id_win's least, once crowded */
		uint32_t seen;      /* inserts of IDs of class id_win ... */
		uint32_t hits;      /* ... that found their home taken */
	} win;
	/* Serialises this process's threads over its per-process state in
	 * the segment (intent, ledger, allocator cache), which the protocols
	 * assume single-threaded.  Never held across a wait. */
	_Atomic uint32_t lock;
	uint32_t ledger_used;       /* records in my ledger (under lock) */
	bool reaping;               /* in shoal__proc_reap_all (under lock) */
	uint32_t limit_budget;      /* creates before the next max_objects sum */
	bool repairing;             /* holds or takes the repair word (lock) */
	/* A recount this handle owes (entry + 1, 0: none; under lock): a
	 * repairer stamped a count change of ours (refs.c, shoal__ref_settle;
	 * our intent still names the entry until it is paid). */
	uint32_t recount_owed;
	uint32_t stamps_seen;       /* our slot's stamps, last read (lock) */
	/* An inspect handle (shoal_store_inspect): mapped PROT_READ, no
	 * process slot (slot UINT32_MAX, me and ledger NULL).  Every public
	 * call that would write returns SHOAL_EREADONLY before it reads
	 * anything else of the handle (shoal__ro). */
	bool readonly;
	/* Unpins this handle owes (under lock; get.c, shoal__obj_unpin): pins
	 * that a call of its own took and could not give back (a REPAIR on
	 * the entry outlasted its bound).  Each is still whole in the entry
	 * and in our ledger (a reaper gives it back if we die); the next
	 * get or release tries it again, and close gives it back anyway. */
	struct shoal__owed {
		uint32_t idx;
		uint32_t gen;
	} owed[SHOAL__OWED_MAX];
	uint32_t nowed;
	struct shoal__crash crash;  /* test builds: where to die (crash.h) */
	/* The layer above's hooks and its region's view (ext.h): set once,
	 * before any concurrent use, by the runtime that owns this handle. */
	struct shoal__store_hooks hooks;
	const void *ext_view;
	struct shoal__evict_plan {  /* eviction candidates (under lock) */
		struct shoal__cand *buf;
		size_t cap;
		size_t n;        /* candidates in buf, oldest buckets first */
		size_t next;     /* next one to try */
		size_t stale_at; /* start of the newest bucket: rescan there */
		uint32_t scan_from; /* where the next scan starts */
	} evict;
};

static inline void shoal__lock_slow(struct shoal_store *s);

/*
 * The process-local store lock (SL-, memory order):
 *  SL-R1 (SL-A1)  shoal__unlock's release store of 0: the holder's writes
 *          to the per-process state (intent, ledger, cache, records).
 *  SL-A1 (SL-R1)  the exchange that takes it (acquire), here and in
 *          shoal__lock_slow.
 */
static inline void shoal__lock(struct shoal_store *s)
{
	if (atomic_exchange_explicit(&s->lock, 1, memory_order_acquire)) /* SL-A1 */
		shoal__lock_slow(s);
}

static inline void shoal__unlock(struct shoal_store *s)
{
	atomic_store_explicit(&s->lock, 0, memory_order_release); /* SL-R1 */
}

static inline void shoal__blocking(struct shoal_store *s, bool blocked)
{
	if (s->hooks.on_block)
		s->hooks.on_block(s->hooks.on_block_ctx, blocked);
}

/* True for an inspect handle: the caller returns SHOAL_EREADONLY. */
static inline bool shoal__ro(const struct shoal_store *s)
{
	return s && s->readonly;
}

/* segment.c */
int shoal__seg_validate(const struct shoal__seg_hdr *h, uint64_t file_size);

/* name.c: "/name" from a name that follows the rules, into out (cap
 * bytes); -EINVAL for a NULL or bad name. */
int shoal__shm_name(const char *name, char *out, size_t cap);
/* A new segment file for "/name", read-write, close-on-exec, mode 0600:
 * unnamed (*linked false; shoal__shm_link names it), or, where the
 * filesystem cannot make it unnamed, created under its name (*linked
 * true).  The fd, or -EEXIST (the name is taken) or another -errno. */
int shoal__shm_create(const char *name, bool *linked);
/* Gives the unnamed segment fd the name "/name": -EEXIST if it is taken,
 * or another -errno of linkat. */
int shoal__shm_link(int fd, const char *name);

/* proc.c: the process table (reap_all and release need s->lock) */
int shoal__proc_claim(struct shoal_store *s);
/* repair.c: may this process issue MEMBARRIER_CMD_GLOBAL (asked once)? */
bool shoal__membarrier_ok(void);
int shoal__proc_release(struct shoal_store *s);
bool shoal__proc_dead(const struct shoal_store *s, uint32_t slot);
bool shoal__proc_reaped_by_other(const struct shoal_store *s, uint32_t slot);
/* guard.c: the dead slot (state word st) is kept from its reapers. */
bool shoal__proc_guarded(const struct shoal_store *s, uint32_t slot, uint64_t st);
/* Reaps every dead slot it can: 1 per slot freed.  _until stops a dead
 * slot's orphan scan at the first chunk that ends past `until` (the slot
 * stays for the next reap; proc.c, "Work"): for a reap a wait runs. */
int shoal__proc_reap_all(struct shoal_store *s);
int shoal__proc_reap_until(struct shoal_store *s, struct shoal__deadline until);
/* reap.c: steps 0 to 5 of a slot's clean (proc.c): 0, or -ETIMEDOUT where
 * a wait outlasted `by` or the orphan scan `until` (the rest is left to
 * the next reaper). */
int shoal__reap_records(struct shoal_store *s, uint32_t slot, uint32_t gen,
			struct shoal__later *by, struct shoal__deadline until);

/* An entry's description, read with relaxed loads after ENT-A2 (or
 * between ENT-A1's two loads of ctl: layout.h). */
struct shoal__desc {
	uint64_t off;
	uint64_t size;
	uint64_t flags;   /* SHOAL__SIZE_ERROR */
	uint32_t meta_size;
	uint32_t creator;
	int32_t pid;
};

static inline struct shoal__desc shoal__entry_desc(const struct shoal__entry *e)
{
	uint64_t size = atomic_load_explicit(&e->data_size, memory_order_relaxed);
	struct shoal__desc d = {
		.off = atomic_load_explicit(&e->data_off, memory_order_relaxed),
		.size = size & SHOAL__SIZE_MASK,
		.flags = size & ~SHOAL__SIZE_MASK,
		.meta_size = atomic_load_explicit(&e->meta_size, memory_order_relaxed),
		.creator = atomic_load_explicit(&e->creator, memory_order_relaxed),
		.pid = atomic_load_explicit(&e->creator_pid, memory_order_relaxed),
	};
	return d;
}

/* Relaxed: part of the description (above). */
static inline uint32_t shoal__entry_creator(const struct shoal__entry *e)
{
	return atomic_load_explicit(&e->creator, memory_order_relaxed);
}

/* dir.c: the directory */
uint32_t shoal__dir_home(const struct shoal_store *s, shoal_id id);
unsigned shoal__id_win(shoal_id id);
void shoal__dir_win_note(struct shoal_store *s, shoal_id id, uint32_t dist);
/* Finds the live entry (CREATED/SEALED) for id, else a tombstone for it.
 * Returns the index and the ctl seen, or -ENOENT. */
int shoal__dir_lookup(const struct shoal_store *s, shoal_id id,
		      uint64_t *ctl_out);
/* The same, but of several tombstones the first this process holds (a
 * drop's; s->lock held). */
int shoal__dir_lookup_held(const struct shoal_store *s, shoal_id id,
			   uint64_t *ctl_out);
/* Locks the stripes of home's probe window: 0, -ETIMEDOUT past d (a
 * holder that never lets go), SHOAL_EBADSEGMENT for a scribbled lock. */
struct shoal__later;
int shoal__dir_lock(struct shoal_store *s, uint32_t home,
		    struct shoal__later *d);
void shoal__dir_unlock(struct shoal_store *s, uint32_t home);
int shoal__dir_reserve(struct shoal_store *s, shoal_id id, bool fresh,
		       uint32_t home,
		       uint32_t *idx_out, uint64_t *ctl_out);
uint64_t shoal__dir_read_id(const struct shoal__entry *e, shoal_id *id);
/* A word a create may claim (EMPTY, or FREE / a tombstone with no holds,
 * no REPAIR and no end mark). */
bool shoal__dir_reusable(uint64_t c);
/* proc.c: a pid's start time (/proc) into *start, 0 if it is gone: 0, or
 * -errno when /proc could not be read for a reason that says nothing of
 * the pid (EMFILE...): unknown, never to be taken for a death. */
int shoal__proc_stat_start(int pid, uint64_t *start);

/* ledger.c: functions on "my" ledger need s->lock */
struct shoal__ledger_pos {
	uint32_t p;     /* slot in the table */
	bool found;     /* a record for the index exists there */
	uint64_t rec;   /* the record after the change */
};
int shoal__ledger_check(struct shoal_store *s, uint32_t idx, int32_t dpins,
			int32_t dholds, struct shoal__ledger_pos *pos);
void shoal__ledger_commit(struct shoal_store *s,
			  const struct shoal__ledger_pos *pos);
int shoal__ledger_add(struct shoal_store *s, uint32_t idx, int32_t dpins,
		      int32_t dholds);
uint64_t shoal__ledger_lookup(_Atomic uint64_t *l, uint32_t mask, uint32_t idx);
/* A slot's table in use and its mask (ledger.c): its owner's, or a dead
 * owner's for its reaper. */
_Atomic uint64_t *shoal__ledger_table(const struct shoal_store *s,
				      uint32_t slot, uint32_t *mask);
/* The owner's table at claim: the base table (ledger.c). */
void shoal__ledger_open(struct shoal_store *s);
/* A slot's clear (proc.c): its base table zeroed and in use again
 * (ledger.c). */
void shoal__ledger_clear(struct shoal_store *s, uint32_t slot);
/* Another slot's record for idx; read as it is once its owner has kept
 * its table moving past `by` (ledger.c). */
uint64_t shoal__ledger_read_remote(const struct shoal_store *s, uint32_t slot,
				   uint32_t idx, struct shoal__later *by);
/* A reaper, on a dead owner's table that was mid-deletion (ledger.c). */
void shoal__ledger_dedupe(struct shoal_store *s, uint32_t slot);
/* A repair: a dead slot's record for idx is crossed out (ledger.c); a
 * record a live reaper flagged is waited for, up to `by`, and past it
 * left in place and returned (to be counted); 0 once consumed. */
uint64_t shoal__ledger_consume(struct shoal_store *s, uint32_t slot,
			       uint32_t idx, struct shoal__later *by);

/* repair.c: a given-back record crossed out, and the entry recounted if
 * a repair stamped us meanwhile (with s->lock held): 0, or -ETIMEDOUT if
 * that recount could not be made (the record stays flagged, the recount
 * owed to the slot's next reaper) */
int shoal__reap_cross_out(struct shoal_store *s, _Atomic uint64_t *rec,
			  uint32_t idx, struct shoal__later *by);

/* store/object/: pieces the reaper needs (all with s->lock held) */
int shoal__obj_unref_dead(struct shoal_store *s, uint32_t idx,
			  uint32_t pins, uint32_t holds);
int shoal__obj_abort_entry(struct shoal_store *s, uint32_t idx, uint32_t gen,
			   uint32_t creator_holds, bool owner_died);
uint64_t shoal__obj_aborted_word(uint32_t holds, uint32_t gen, bool owner_died);
/* Closes the waiter stack of the object (idx, gen) that a dead process
 * sealed and did not close (refs.c).  0: closed, or nothing to close;
 * else the reason the pin it needs cannot be taken now (the caller keeps
 * its record for the next reaper). */
int shoal__obj_close_sealed(struct shoal_store *s, uint32_t idx, uint32_t gen,
			    struct shoal__later *by);
/* The store's live objects and bytes: the sum of every slot's share. */
void shoal__store_totals(const struct shoal_store *s, int64_t *objects,
			 int64_t *bytes);

/* repair.c (s->lock held): recounts idx from the live processes' ledgers,
 * consuming every dead process's record for it.  0, or -ETIMEDOUT if
 * another live repairer kept the repair word past `by` (nothing done). */
int shoal__obj_repair(struct shoal_store *s, uint32_t idx,
		      struct shoal__later *by);
/* Takes over and finishes the repair of a dead repairer, if any. */
void shoal__repair_rescue(struct shoal_store *s);

/* end.c (s->lock held): ending an entry, exactly once.  obj_end arms this
 * process's FREE record, CASes c -> n (marked) and finishes; false if the
 * CAS lost.  The pieces are for callers whose CAS does more (store/object/,
 * repair.c); end_finish also finishes a dead slot's record for a reaper. */
bool shoal__obj_end(struct shoal_store *s, uint32_t idx, uint64_t c,
		    uint64_t n);
void shoal__end_arm(struct shoal_store *s, uint32_t idx, uint32_t gen,
		    const struct shoal__desc *d);
void shoal__end_disarm(struct shoal_store *s);
uint64_t shoal__end_marked(const struct shoal_store *s, uint64_t n);
int shoal__end_finish(struct shoal_store *s, uint32_t slot);
void shoal__obj_free_block(struct shoal_store *s, uint64_t off,
			   uint64_t size, _Atomic uint64_t *rec);
/* A block, evicting and waiting for room; takes the lock itself. */
int shoal__obj_alloc(struct shoal_store *s, uint64_t bytes, int timeout_ms,
		     shoal__off_t *off, _Atomic uint64_t *rec);
/* An entry's word once no REPAIR is on it, into *c (a dead repairer's is
 * taken over; locked: the caller holds s->lock): 0, or -ETIMEDOUT past
 * `by` (deadline.h). */
int shoal__obj_wait_settled(struct shoal_store *s, struct shoal__entry *e,
			    bool locked, struct shoal__later *by, uint64_t *c);

int shoal__fill_reap(struct shoal_store *s, uint32_t slot,
		     struct shoal__later *by);

/* evict.c (s->lock held) */
uint64_t shoal__evict_for(struct shoal_store *s, uint64_t bytes);
void shoal__evict_plan_free(struct shoal_store *s);

/* waiters.c: the closable waiter stack of an entry */
struct shoal__deadline;
void shoal__waiters_close(struct shoal_store *s, struct shoal__entry *e);
/* A sealer's close: none if nothing was ever pushed (waiters.c). */
void shoal__waiters_close_sealed(struct shoal_store *s, struct shoal__entry *e);
/* Any node linked on e's waiter stack (a seq_cst load of its head)? */
bool shoal__waiters_linked(const struct shoal__entry *e);
int shoal__waiters_wait(struct shoal_store *s, uint32_t idx, uint64_t c,
			struct shoal__deadline d);
void shoal__waiters_reap(struct shoal_store *s, uint32_t slot);

static inline void shoal__lock_slow(struct shoal_store *s)
{
	for (;;) {
		/* Relaxed: a hint to spin on; the exchange decides (SL-A1). */
		for (int i = 0; atomic_load_explicit(&s->lock, memory_order_relaxed); i++) {
			if (i < 128)
				shoal__cpu_relax();
			else
				sched_yield();
		}
		/* SL-A1 */
		if (!atomic_exchange_explicit(&s->lock, 1, memory_order_acquire))
			return;
	}
}

#endif /* SHOAL_STORE_INTERNAL_H */
