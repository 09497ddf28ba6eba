/* SPDX-License-Identifier: MIT */
/*
 * store/layout.h - the segment's layout, like a kernel uapi header.
 *
 * One file, mapped MAP_SHARED at whatever address each process gets:
 *
 *   [0, 4 KiB)     struct shoal__seg_hdr: magic, layout version, feature
 *                  words, sizes, the offset of every region, shared
 *                  counters
 *   procs          max_procs x struct shoal__proc (identity, intent,
 *                  allocator cache of each attached process); the
 *                  last SHOAL__PROC_RESERVE of them are the claim's
 *                  reserve (below)
 *   ledgers        max_procs x the base table of each ledger (uint64_t
 *                  records: holds and pins), reserved like the rest
 *   stripes        insert locks of the directory, one per 64 slots
 *   probe          one byte per directory slot: longest probe of its home
 *   dir            dir_slots x struct shoal__entry (the object directory)
 *   heap meta      the allocator's metadata (heap.h)
 *   ext            the runtime's shared structures (runtime/), opaque here
 *   arena          object bytes, 64 KiB aligned
 *   ledger_ext     max_procs x the larger tables a ledger grows into,
 *                  sparse: not reserved nor touched until an owner grows
 *                  into one (ledger.c)
 *
 * Rules: fixed-width integers only; no pointer anywhere (offsets from the
 * base, see off.h); no _Atomic wider than 8 bytes (16-byte atomics go
 * through libatomic's process-private locks); every field says who writes
 * it and which order publishes it.  Every size and offset the code relies
 * on is checked by static_assert here or by shoal__seg_validate() at attach,
 * on a private copy that the process keeps (struct shoal__geo): the header's
 * geometry is never read again after attach, since any process that can
 * write the segment can change it.
 */
#ifndef SHOAL_STORE_LAYOUT_H
#define SHOAL_STORE_LAYOUT_H

#if !defined(SHOAL__LAYER_STORE) && !defined(SHOAL__WHITEBOX)
#error "store/layout.h is private to store/: a layer above includes store/ext.h"
#endif

#include <assert.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "ext.h"
#include "heap.h"

#define SHOAL__MAGIC 0x474553204c414f48ull /* "HOAL SEG" */
#define SHOAL__LAYOUT_VERSION 8u /* 6: an ID's walk window (dir.c); 7: the intent's ref word, a slot's stamps, its orphan_scan where the unused futex word was; 8: the claim's reserve slots */
#define SHOAL__HDR_SIZE 4096u
#define SHOAL__PROBE_MAX 64u   /* directory probe window, = stripe width */
#define SHOAL__STRIPE_SLOTS 64u
/* An ID's walk window (store/dir.c): lo's top SHOAL__WIN_BITS bits hold
 * a class k; k > 0 folds the ID's counter into 2^(SHOAL__WIN_LOG0 + k)
 * directory slots, k = 0 walks the whole table. */
#define SHOAL__WIN_SHIFT 58u
#define SHOAL__WIN_BITS 6u
#define SHOAL__WIN_LOG0 13u
#define SHOAL__WIN_MAX ((1u << SHOAL__WIN_BITS) - 1)

static_assert(sizeof(_Atomic uint64_t) == 8, "8-byte atomics");
static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");

/* ------------------------------------------------------------------ */
/* Header                                                             */

struct shoal__region {
	uint64_t off;
	uint64_t size;
};

/*
 * Feature words (features, compat_features): what a segment of this
 * layout version uses beyond the version's baseline, one bit per change,
 * so that a change that keeps the layout readable by older code need not
 * bump the version and cut every older process off.  As ext4's superblock
 * (s_feature_incompat, s_feature_compat); io_uring_params.features is the
 * same idea the other way round (what the kernel offers its caller):
 *  features         required: a process that does not know one of these
 *                   bits must not use the segment (attach refuses it
 *                   with SHOAL_EVERSION).  For a change that older code
 *                   would get wrong: a new region, a field's new meaning.
 *  compat_features  optional: a process that does not know a bit may use
 *                   the segment as if it were clear.  For a change older
 *                   code can ignore safely: a hint, a statistic.
 * The creator writes the bits of what it uses (SHOAL__FEATURES,
 * SHOAL__COMPAT_FEATURES); an attacher reads them from its private copy
 * of the header (segment.c), and code that depends on a bit tests it in
 * struct shoal__geo, never in the shared header.  A bit, once given a
 * meaning, keeps it.  Required bits of layout version 4:
 *  REAP_GUARD  a slot's reap_guard (struct shoal__proc, guard.c) keeps
 *          other reapers off a dead slot: a process that ignored it
 *          would give back holds a layer above still counts on.
 * Optional bits:
 *  ORPHAN_SCAN  a slot's orphan_scan (struct shoal__proc, reap.c) says
 *          how far its reapers' scan for its orphans got; a process that
 *          ignores it scans the whole directory, as before.
 */
#define SHOAL__FEATURE_REAP_GUARD (1ull << 0)
#define SHOAL__FEATURES SHOAL__FEATURE_REAP_GUARD /* required bits written */
#define SHOAL__FEATURES_KNOWN SHOAL__FEATURE_REAP_GUARD /* required bits used */
#define SHOAL__COMPAT_FEATURE_ORPHAN_SCAN (1ull << 0)
#define SHOAL__COMPAT_FEATURES SHOAL__COMPAT_FEATURE_ORPHAN_SCAN /* optional bits it writes */
static_assert((SHOAL__FEATURES & ~SHOAL__FEATURES_KNOWN) == 0,
	      "a library can use every required bit it writes");

/*
 * Written once by the creator before `ready` is published (SEG-R0; the
 * feature words after it are written with the fields above it).
 * Read-only afterwards, except the counters, which any process updates
 * with relaxed RMWs (they are statistics, or, for bytes_used/objects,
 * admission counters whose exactness comes from the RMW itself, not from
 * ordering with other data).
 *
 * Memory order (SEG-; segment.c):
 *  SEG-R0 (SEG-A0)  the creator's release store of ready = 1: every
 *          field above it, and the regions it laid out before (process
 *          table, ledgers, directory, heap metadata).  Not the ext region:
 *          its layer writes that after ready (the runtime's rtlayout.h).
 *  SEG-A0 (SEG-R0)  attach's acquire load of ready.
 */
struct shoal__seg_hdr {
	uint64_t magic;
	uint32_t layout_version;
	uint32_t hdr_size;
	uint64_t seg_size;
	uint64_t capacity;       /* arena bytes available to objects */
	uint32_t max_procs;      /* slots: the option's + SHOAL__PROC_RESERVE */
	uint32_t max_objects;
	uint32_t dir_slots;      /* power of two, >= 4 x max_objects */
	uint32_t ledger_slots;   /* largest table: power of two, 2 x the
				  * option (or x max_objects, option 0) */
	uint32_t spin_budget;
	uint32_t proc_size;      /* sizeof(struct shoal__proc) */
	uint32_t entry_size;     /* sizeof(struct shoal__entry) */
	uint32_t nstripes;
	struct shoal__region procs;
	struct shoal__region ledgers;
	struct shoal__region stripes;
	struct shoal__region probe;
	struct shoal__region dir;
	struct shoal__region heap_meta;
	struct shoal__region ext;
	struct shoal__region arena;
	int32_t creator_pid;
	_Atomic uint32_t ready;  /* SEG-R0 */
	/* The feature words (above), in what was padding before layout
	 * version 4, so that no offset moved. */
	uint64_t features;
	uint64_t compat_features;
	/* The ledgers' larger tables (layout version 5), never reserved. */
	struct shoal__region ledger_ext;
	uint8_t pad0_[256 - 232];

	/* Counters, own line.  The live objects and their bytes are not here:
	 * each process slot keeps its share (struct shoal__proc), so that a
	 * reaper can redo a dead process's update exactly. */
	/* The one repair in progress (repair.c): CAS by the repairer
	 * (acquire, taking it: REF-A3; release, giving it back: REF-R3) or
	 * by a process that takes over from a dead repairer. */
	_Atomic uint64_t repair;
	/* Slots ever claimed: 1 + the highest index (proc.c raises it with a
	 * CAS before a claim's CAS, so a claimer killed after its own is
	 * below it; relaxed: sums over slots may miss a slot claimed
	 * meanwhile, whose counters are still zero). */
	_Atomic uint32_t procs_hwm;
	uint32_t pad2_;
	_Atomic uint64_t evictions;
	_Atomic uint64_t evicted_bytes;
	_Atomic uint64_t reaped;
	_Atomic uint64_t clock;        /* LRU ticks, see store/object/ */
	/* Blocks of 2^16 ID counters handed out (store/object/, shoal_id_next):
	 * relaxed fetch_add, whose atomicity alone makes each block one
	 * process's; 64 bits never wrap, so no ID repeats in a segment's
	 * life. */
	_Atomic uint64_t id_blocks;
	uint8_t pad1_[64 - 56];

	/* Events (base/event.c): obj, an object was created or sealed; space, room
	 * may have appeared (a drop, release, delete, abort or reap). */
	struct shoal__event obj;
	struct shoal__event space;
};

static_assert(offsetof(struct shoal__seg_hdr, ready) == 196, "header ABI");
static_assert(offsetof(struct shoal__seg_hdr, features) == 200, "header ABI");
static_assert(offsetof(struct shoal__seg_hdr, compat_features) == 208,
	      "header ABI");
static_assert(offsetof(struct shoal__seg_hdr, ledger_ext) == 216, "header");
static_assert(offsetof(struct shoal__seg_hdr, repair) == 256, "header");
static_assert(sizeof(struct shoal__seg_hdr) <= SHOAL__HDR_SIZE, "header");

/* ------------------------------------------------------------------ */
/* Process table                                                      */

/* shoal__proc.state: gen (24 bits) << 40 | phase (8) << 32 | who (32).
 * LIVE: who is the owner's pid, part of the word so that a claim names its
 * owner in the same CAS that takes the slot (a slot is never owned by an
 * unknown pid).  REAPING: who is the reaper's slot (12 bits) << 20 | the
 * low 20 bits of that slot's generation, an identity that survives pid
 * reuse: the reaper is dead once its slot is free or has another
 * generation, or its process is dead (proc.c). */
/*
 * The claim's reserve: the table's last SHOAL__PROC_RESERVE slots, which
 * a process never keeps.  The header's max_procs counts them (the
 * option's max_procs plus the reserve); a claim takes one of the others
 * (proc.c).  A claim that finds every other slot taken must reap dead
 * ones to get one, and a reap needs an identity that the reaped slots'
 * REAPING words can name, and the intent, ledger and free record that
 * make its own steps repairable: it claims a reserve slot, reaps from
 * it, gives it back and tries the others again.  Two, so that a claimer
 * killed while it reaped (its reserve slot left LIVE to a dead pid) does
 * not stop the next one, which reaps that slot too.
 */
#define SHOAL__PROC_RESERVE 2u

/* A take-over's mark in a slot's start time (proc.c,
 * shoal__proc_try_adopt): this bit | the dead owner's pid (0 for a slot
 * taken over from REAPING, whose death test reads no start time).  The slot is
 * dead while its state word names that pid, its new owner's (alive,
 * start time unknown) once it names another.  No start time has the
 * bit (clock ticks since boot). */
#define SHOAL__START_TAKEN (1ull << 63)

enum shoal__proc_phase {
	SHOAL__PROC_FREE = 0,
	SHOAL__PROC_LIVE = 1,
	SHOAL__PROC_REAPING = 2,
};

/* A slot's role word: opaque to the store, which writes 0 (a plain store
 * user) at claim; a layer above names its processes' roles (the runtime's
 * rtlayout.h). */
#define SHOAL__ROLE_STORE 0u

enum shoal__intent_op {
	SHOAL__OP_NONE = 0,
	SHOAL__OP_REF = 1,    /* changing pins/holds of `entry` (or aborting
			       * it, which changes its holds too) */
	SHOAL__OP_CREATE = 2, /* block_* allocated; entry once published */
	SHOAL__OP_SEAL = 3,   /* sealing `entry` (gen), its waiters not woken */
};

/*
 * A process's intent: what multi-step change to shared state it is in the
 * middle of.  Written only by the owner, before the first step and cleared
 * after the last.  `op` and `entry` are read concurrently by a reaper that
 * repairs an entry's counts (REPAIR, repair.c): the owner's CAS on the
 * entry (release) publishes them (REF-R1 -> REF-A1, object_int.h) and the
 * owner's release store of op = NONE publishes its ledger update (REF-R2
 * -> REF-A2).  The other fields are read by a reaper only after the owner
 * is dead, but for `ref`.
 *  ref        REF only: the count change in flight, in the ledger's record
 *             format (key idx + 1, the pins and holds it ADDS: 0 for a
 *             release), 0 when none.  Written only by the owner: before
 *             its CAS (relaxed, published by REF-R1), cleared after its
 *             ledger store (release: REF-R2).  A repairer that gives up
 *             waiting for it stamps the slot instead (struct shoal__proc,
 *             stamps; store/object/object_int.h, "Stalls").
 *  block_off  the handoff record of heap.h: the heap names the block it
 *             hands a CREATE here before the step that gives it away.
 *  objects, bytes  the slot's counters before a CREATE's publish (the
 *             reaper of a process that published redoes the update).
 */
struct shoal__intent {
	_Atomic uint32_t op;
	_Atomic uint32_t entry;
	uint32_t gen;          /* entry generation the op expects */
	uint32_t stage;        /* op-specific progress marker */
	uint32_t stripe[2];    /* CREATE: stripes that may be locked */
	_Atomic uint64_t block_off; /* CREATE: the block (handoff) */
	uint64_t block_size;
	int64_t objects;
	int64_t bytes;
	_Atomic uint64_t ref;  /* REF: the change in flight */
};
static_assert(sizeof(struct shoal__intent) == 64, "intent is one line");

/*
 * Ending an entry (store/object/, shoal__obj_end): the record of the one entry
 * this process is taking out of the directory and freeing.  Written only by
 * the owner, before the CAS that ends the entry (which marks the entry with
 * the owner's slot, see SHOAL__CTL_MARK), cleared after the mark is gone;
 * read by a reaper after the owner died, which finishes what the mark says
 * is unfinished (store/object/).  A separate record from the intent: an
 * eviction or a reap ends entries in the middle of a create.
 *  block_off  the entry's block, a handoff record (heap.h): a large free's
 *             plan clears it, a small one lands in the owner's cache.
 *  objects, bytes  the slot's counters before the end, so that the update
 *             after it is an assignment a reaper can redo.
 */
struct shoal__free_rec {
	_Atomic uint32_t active;
	uint32_t entry;
	uint32_t gen;
	uint32_t pad_;
	_Atomic uint64_t block_off;
	uint64_t block_size;
	uint64_t size;         /* data + meta bytes the counter loses */
	int64_t objects;
	int64_t bytes;
	uint8_t pad1_[64 - 56];
};
static_assert(sizeof(struct shoal__free_rec) == 64, "free record is a line");

/*
 * A waiter record: a thread of the owning process blocked on one entry.
 *  next   written by the owner before it pushes the record (the push CAS
 *         publishes it); read by the drainer.
 *  state  CAS by the owner (FREE -> WAITING, WAITING -> ABANDONED, WOKEN ->
 *         FREE), the drainer (WAITING -> WOKEN, ABANDONED -> FREE) and a
 *         reaper of the owner (WAITING -> ABANDONED, WOKEN -> FREE).
 *  futex  bumped by the drainer after WOKEN (seq_cst: WT-R3); the owner
 *         sleeps on it (acquire: WT-A3).
 * waiters.c has the protocol and its WT- labels.
 */
enum shoal__waiter_state {
	SHOAL__W_FREE = 0,
	SHOAL__W_WAITING = 1,
	SHOAL__W_WOKEN = 2,
	SHOAL__W_ABANDONED = 3,
};

struct shoal__waiter {
	_Atomic uint32_t next;   /* waiter index + 1; 0 ends the stack */
	_Atomic uint32_t state;
	_Atomic uint32_t futex;
	_Atomic uint32_t sleeping; /* owner raises, waker takes down (base/event.c);
				    * SHOAL__W_LATE from the owner's push to its
				    * late close (waiters.c), for its reaper */
};
/* sleeping's mark for a record between its push and its late close. */
#define SHOAL__W_LATE 2u

#define SHOAL__PROC_WAITERS 16u

/*
 * A fill in progress (fill.c): this process writes the bytes of a promised
 * entry.  Written only by the owner (plain stores, program order); read by
 * a reaper after the owner died.  Stages (fill.c): 0 free; 1 claimed (the
 * block, if any, is handed over through block_off, heap.h; the entry may
 * be FILLING); 2 sealing (the entry owns the block once FILLING is clear);
 * 3 aborting (the block is the filler's to free).  bytes: the slot's byte
 * counter before the seal.
 */
struct shoal__fill_rec {
	uint32_t entry;
	uint32_t gen;
	uint32_t stage;
	uint32_t pad_;
	_Atomic uint64_t block_off;
	uint64_t block_size;
	int64_t bytes;
	uint64_t pad1_;
};


/*
 * Memory order of a slot's state word (PROC-; proc.c has the protocol):
 *  PROC-R1 (PROC-A1)  a slot handed on: the release store of FREE that
 *          ends a clean, and a stopped reaper's release CAS back to the
 *          word it found: the cleared ledger, cache and records, or what
 *          that reaper did.
 *  PROC-A1 (PROC-R1)  a claim's acquire CAS from FREE, a reaper's acq_rel
 *          CAS to REAPING; and every acquire load of a state word (the
 *          death tests of proc.c, slots.c, repair.c, waiters.c).  A claim
 *          is an RMW, so a word it wrote still carries PROC-R1's release
 *          sequence: whoever reads LIVE with acquire then reads the start
 *          time as 0 (unknown), a take-over's mark (SHOAL__START_TAKEN:
 *          the dead predecessor's pid, not the owner's: unknown) or the
 *          owner's, never a predecessor's start time.
 *  PROC-R2 (PROC-A2)  the owner's release store of its start time at
 *          its claim (proc.c, shoal__proc_take): the claim's state word.
 *  PROC-A2 (PROC-R2)  a take-over's acquire load of a dead slot's start
 *          time, before it reads the state word again (proc.c,
 *          shoal__proc_try_adopt): a start time a new owner wrote comes
 *          with that owner's claim, so the take-over never marks it.
 *  relaxed  the owner's role and orphans, its start time elsewhere (its
 *          own words: see PROC-A1 for readers), procs_hwm (above),
 *          counters (below).
 */
struct shoal__proc {
	/* Line 0: identity.  state: CAS by the claiming process, a reaper,
	 * and the owner at close (release, PROC-R1: publishes start_time and
	 * a reaped slot's cleared ledger/cache to the next claimer). */
	_Atomic uint64_t state;
	/* owner, after claiming; 0 = unknown; a take-over's mark before
	 * its claim (SHOAL__START_TAKEN, above) */
	_Atomic uint64_t start_time;
	_Atomic uint32_t role;       /* owner: opaque to the store, see above */
	/* How far a reaper's scan for the slot's orphans got (reap.c, step
	 * 5): the low 12 bits of the slot's generation << 20 | the chunks
	 * of SHOAL__ORPHAN_CHUNK directory slots done; a word of another
	 * generation reads as none done.  Written by the slot's reapers only
	 * (relaxed: handed on by PROC-R1 like their other writes, or ordered
	 * by a reaper's death), zeroed by the owner at claim and by the
	 * clean before the slot is freed. */
	_Atomic uint32_t orphan_scan;
	_Atomic uint32_t ledger_seq; /* owner; odd while its ledger moves */
	/* Drops of holds on its own unsealed objects (owner, relaxed; its
	 * reaper reads it): nonzero, the reaper scans the directory for
	 * unsealed objects of the slot that no ledger record names. */
	_Atomic uint32_t orphans;
	/* The slot's share of the store's counters (live objects, their
	 * bytes): written by the slot's owner (relaxed; its own ops are
	 * serialised by its store lock) or its reaper after its death, and
	 * never reset (a new owner carries them on); read relaxed by anyone
	 * who sums them (stats, the max_objects test).  The header's totals
	 * are the sums over every slot ever claimed. */
	_Atomic int64_t objects;
	_Atomic int64_t bytes;
	/* Reap guard (guard.c): 0, or the generation of the slot it guards
	 * (24 bits) << 32 | the guardian's SHOAL__CREATOR, MARK (bit 63) set
	 * by the guardian.  The owner sets it (relaxed: ordered by its death
	 * for its reapers, as its other records); the guardian marks it
	 * (relaxed) and lifts it to 0 (GD-R1).  Never reset at claim or
	 * clean: a guard of another generation is void. */
	_Atomic uint64_t reap_guard;
	/* The level of the ledger's table in use (0: the base table;
	 * ledger.c).  Written by the owner (relaxed, inside the seqcount's
	 * odd bracket: LG-R1/LG-R2) and by the clear of the slot (its
	 * reaper, or the owner at close: PROC-R1 publishes it); read by
	 * remote readers inside the seqcount, and by a reaper after the
	 * owner's death. */
	_Atomic uint32_t ledger_level;
	/* Stamps (object_int.h, "Stalls"): bumped (relaxed RMW) by a
	 * repairer that gave up waiting for this live owner in the middle
	 * of a count change and counted the change as applied; read by the
	 * owner at the end of each change (relaxed, after its ref word's
	 * clear: REF-S1, ordered by the repairer's membarrier, REF-S2).
	 * Zeroed at claim. */
	_Atomic uint32_t stamps;
	/* Line 1: the intent record (owner). */
	struct shoal__intent intent;
	/* Line 2: ending an entry (owner). */
	struct shoal__free_rec free;
	/* Records for this process's threads blocked on an entry. */
	struct shoal__waiter waiters[SHOAL__PROC_WAITERS];
	/* Fills of promised objects in progress (owner; reaper). */
	struct shoal__fill_rec fills[SHOAL__PROC_FILLS];
	/* Allocator cache (owner; reaper after death).  heap.h. */
	_Alignas(64) struct shoal__heap_cache cache;
};
static_assert(offsetof(struct shoal__proc, intent) == 64, "proc layout");
static_assert(offsetof(struct shoal__proc, orphan_scan) == 20, "proc layout");
static_assert(offsetof(struct shoal__proc, stamps) == 60, "proc layout");
static_assert(sizeof(struct shoal__proc) % 64 == 0, "proc is whole lines");

#define SHOAL__PROC_STATE(gen, phase, pid)                                   \
	(((uint64_t)((gen) & 0xffffff) << 40) | ((uint64_t)(phase) << 32) |  \
	 (uint32_t)(pid))
/* The `who` of a REAPING word: the reaper's slot and generation. */
#define SHOAL__PROC_REAPER(slot, gen) (((uint32_t)(slot) << 20) | ((gen) & 0xfffffu))
#define SHOAL__PROC_GEN(s) ((uint32_t)((s) >> 40) & 0xffffff)
#define SHOAL__PROC_PHASE(s) ((uint32_t)((s) >> 32) & 0xff)
#define SHOAL__PROC_PID(s) ((int32_t)(uint32_t)(s))

/*
 * Ledger tables.  A process's ledger is one table in use at a time: the
 * base table of SHOAL__LEDGER_BASE records (fewer if the largest is
 * smaller) in the reserved `ledgers` region, or, once it has grown, the
 * table of level l >= 1, of base << l records, in the slot's part of the
 * sparse `ledger_ext` region, at record base x (2^l - 2) of that part;
 * the largest level's table has ledger_slots records (ledger.c).
 */
#define SHOAL__LEDGER_BASE 64u

/* Records of the base table, for a largest table of `slots` (a power of
 * two, at least 16). */
static inline uint32_t shoal__ledger_base(uint32_t slots)
{
	return slots < SHOAL__LEDGER_BASE ? slots : SHOAL__LEDGER_BASE;
}

/* Levels above the base: log2(slots / base). */
static inline uint32_t shoal__ledger_levels(uint32_t slots)
{
	uint32_t n = 0;

	for (uint32_t b = shoal__ledger_base(slots); b < slots; b <<= 1)
		n++;
	return n;
}

/* Records of one slot's part of ledger_ext: the tables of levels 1 to
 * levels, base x (2^(levels+1) - 2). */
static inline uint64_t shoal__ledger_ext_slots(uint32_t slots)
{
	return 2 * ((uint64_t)slots - shoal__ledger_base(slots));
}

/*
 * Ledger record (one _Atomic uint64_t): FLAG (1 bit) << 63 | entry index +
 * 1 (25 bits; 0 = empty) << 38 | pins (19) << 19 | holds (19).  The key has
 * room for every directory slot (at most 4 x 2^22, segment.c) and the
 * counts are as wide as an entry's.  Each process's ledger is an
 * open-addressed table written only by its owner (ledger.c), and after its
 * death by its reaper, which sets FLAG on a record while it gives that
 * record back (proc.c) and leaves a given-back record as key with zero
 * counts until the whole table is cleared (FLAG still set while the
 * entry is owed a recount, repair.c: shoal__reap_cross_out).  The index
 * alone identifies the object because an entry with a nonzero count in
 * any ledger is never reused.
 */
#define SHOAL__LEDGER_KEY_BITS 25
#define SHOAL__LEDGER_FLAG (1ull << 63)
#define SHOAL__LEDGER_KEY(r) ((uint32_t)((r) >> 38) & 0x1ffffffu)
#define SHOAL__LEDGER_PINS(r) ((uint32_t)((r) >> 19) & 0x7ffffu)
#define SHOAL__LEDGER_HOLDS(r) ((uint32_t)(r) & 0x7ffffu)
#define SHOAL__LEDGER_REC(key, pins, holds)                                  \
	(((uint64_t)(key) << 38) | ((uint64_t)(pins) << 19) | (uint64_t)(holds))
#define SHOAL__LEDGER_COUNT_MAX 0x7ffffu

/* ------------------------------------------------------------------ */
/* Object directory                                                   */

/*
 * Entry control word, changed only by CAS (a stripe lock's holder's
 * publish and the seals are ENT-R2 below; count changes are the REF
 * protocol's, object_int.h):
 *   bits  0..2   state (enum shoal__entry_state)
 *   bit   3      DELETING: deleted while pinned; freed by the last release
 *   bit   4      REPAIR: a reaper is recounting pins/holds (store/object/)
 *   bit   5      FILLING: a process other than the creator is writing a
 *                promised (CREATED) object's bytes (fill.c); in a DELETED
 *                tombstone, OWNERDIED: its creator died unsealed (proc.c)
 *   bits  6..24  pins  (19 bits); in a FREE or tombstone entry (no pins
 *                there) the MARK: process slot + 1 of whoever ended the
 *                entry and is still freeing it (store/object/, shoal__obj_end);
 *                a marked entry is not reusable
 *   bits 25..43  holds (19 bits)
 *   bits 44..63  generation (20 bits), bumped when an entry is published
 * Because state, counts and generation share the word, a reader that was
 * descheduled between lookup and pin can never pin a reused entry: its CAS
 * expects the old generation.
 */
enum shoal__entry_state {
	SHOAL__E_EMPTY = 0,   /* never used: ends every probe chain */
	SHOAL__E_FREE = 1,    /* used before; no ID; reusable */
	SHOAL__E_CREATED = 2, /* unsealed: only its creator writes it */
	SHOAL__E_SEALED = 3,
	SHOAL__E_EVICTED = 4, /* tombstone: ID kept, data gone */
	SHOAL__E_DELETED = 5, /* tombstone: ID kept, data gone */
};

#define SHOAL__CTL_STATE_MASK 0x7ull
#define SHOAL__CTL_DELETING (1ull << 3)
#define SHOAL__CTL_REPAIR (1ull << 4)
#define SHOAL__CTL_FILLING (1ull << 5)
/* Bit 5 in a DELETED tombstone: its creator died before sealing it. */
#define SHOAL__CTL_OWNERDIED (1ull << 5)
#define SHOAL__CTL_PINS_SHIFT 6
#define SHOAL__CTL_HOLDS_SHIFT 25
#define SHOAL__CTL_GEN_SHIFT 44
#define SHOAL__CTL_COUNT_MAX 0x7ffffu
#define SHOAL__CTL_GEN_MASK 0xfffffu

#define SHOAL__CTL_STATE(c) ((unsigned)((c) & SHOAL__CTL_STATE_MASK))
#define SHOAL__CTL_PINS(c)                                                    \
	((uint32_t)((c) >> SHOAL__CTL_PINS_SHIFT) & SHOAL__CTL_COUNT_MAX)
#define SHOAL__CTL_HOLDS(c)                                                   \
	((uint32_t)((c) >> SHOAL__CTL_HOLDS_SHIFT) & SHOAL__CTL_COUNT_MAX)
#define SHOAL__CTL_GEN(c) ((uint32_t)((c) >> SHOAL__CTL_GEN_SHIFT))
#define SHOAL__CTL_MARK(c) SHOAL__CTL_PINS(c)
#define SHOAL__CTL_MAKE(state, pins, holds, gen)                             \
	((uint64_t)(state) | ((uint64_t)(pins) << SHOAL__CTL_PINS_SHIFT) |   \
	 ((uint64_t)(holds) << SHOAL__CTL_HOLDS_SHIFT) |                     \
	 ((uint64_t)((gen) & SHOAL__CTL_GEN_MASK) << SHOAL__CTL_GEN_SHIFT))

/*
 * One directory entry, one cache line.
 *  ctl         CAS by anyone (see above).
 *  id_hi/lo    written by the creator while the entry is not live and the
 *              creator holds the entry's stripe lock, after a release fence
 *              (ENT-R1); read by lookups with relaxed loads between two
 *              loads of ctl (ENT-A1, a seqlock on the generation), see
 *              dir.c.
 *  data_off .. creator_pid (but waiters)
 *              written by the creator (relaxed stores) after its claim and
 *              before it publishes the entry with a release store of ctl
 *              (ENT-R2); read with relaxed loads after an acquire load or
 *              CAS of ctl saw the entry live (ENT-A2), or, without a pin
 *              (listing), between two loads of ctl like the ID (ENT-A1).
 *  waiters     head of the entry's waiter stack (waiters.c, WT-): reset by
 *              the creator before publishing, then pushed by waiters and
 *              closed by whoever seals or frees the entry.  Its words are
 *              waiter references: a kind and a payload (ext.h).
 *  atime       LRU tick, relaxed stores by any getter (a hint).
 * With SHOAL__SIZE_INLINE in data_size, data_off holds the object's bytes
 * (a view points at it: the entry stays while the view pins it).
 *
 * Memory order (ENT-: publishing an entry and looking it up):
 *  ENT-R1 (ENT-A1)  the inserter's release fence after its claim CAS and
 *          before it writes the ID (dir.c): a reader whose relaxed loads
 *          saw a half of the new ID also sees, at its second load of ctl,
 *          the claim's new state, and retries.
 *  ENT-A1 (ENT-R1)  a reader's load of ctl, relaxed loads of the ID (and,
 *          listing, of the description), acquire fence, reload of ctl
 *          (dir.c shoal__dir_read_id, list.c).
 *  ENT-R2 (ENT-A2)  the CAS of ctl that publishes a claimed entry
 *          (release, create.c), and every seal (seq_cst, create.c and
 *          fill.c): the description written before it, and at a seal the
 *          object's bytes.
 *  ENT-A2 (ENT-R2)  an acquire load or CAS of ctl that sees the entry
 *          live (a lookup's scan, a pin's CAS): the description and bytes
 *          are then read relaxed (internal.h, shoal__entry_desc).
 *  ENT-R3 (ENT-A3)  a stripe lock let go (dir.c's release store of 0, or a
 *          reaper's release CAS of a dead holder's word, proc.c): the
 *          holder's writes to its window (claims, IDs, descriptions,
 *          probe lengths).
 *  ENT-A3 (ENT-R3)  the stripe lock taken (acquire CAS from 0, dir.c).
 *  ENT-R4 (ENT-A4)  the release CAS that clears an end's mark (end.c):
 *          the block freed and the waiter stack closed, before the entry
 *          is reusable.
 *  ENT-A4 (ENT-R4)  a claim (dir.c): its acquire load and CAS of a
 *          reusable word.
 */
struct shoal__entry {
	_Atomic uint64_t ctl;
	_Atomic uint64_t id_hi;
	_Atomic uint64_t id_lo;
	_Atomic uint64_t data_off;
	_Atomic uint64_t data_size;
	_Atomic uint32_t meta_size;
	_Atomic uint32_t creator;  /* SHOAL__CREATOR(slot, slot generation), ext.h */
	_Atomic uint32_t waiters;  /* closable waiter stack, see waiters.c */
	_Atomic int32_t creator_pid;
	_Atomic uint64_t atime;
};

static_assert(sizeof(struct shoal__entry) == 64, "entry is one line");

#endif /* SHOAL_STORE_LAYOUT_H */
