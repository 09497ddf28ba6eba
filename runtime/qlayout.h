/* SPDX-License-Identifier: MIT */
/*
 * runtime/qlayout.h - the object queues' part of the runtime region
 * (shoal/queue.h), like a uapi header: max_queues slots, each a header
 * and `cells` cells (a power of two >= the runtime's max_queue_capacity).
 *
 * Terms.  A position is a free-running 64-bit count; position p lives in
 * cell p & (cells - 1), whose word carries p's low 32 bits (the stamp),
 * a kind and an owner:
 *
 *   FREE(p)          nobody has put anything at p yet: a putter may claim
 *   FILLING(p, o)    putter o (SHOAL__CREATOR24) claimed p, writes the ID
 *   FULL(p)          the ID of p is there, held by the cell's custodian
 *   TAKING(p, o)     getter o took p, holds the object, then frees the cell
 *   FREE(p + cells)  the next round
 *
 * A cell moves only forward through these, each step one CAS by the one
 * party the state names, or by a repairer that found that party gone
 * (FILLING(p, o) -> FREE(p), TAKING(p, o) -> FULL(p): a dead put or get
 * had not happened).  tail and head are hints: the next position to put
 * and to take, advanced by CAS by whoever sees the cell of that position
 * past it (a put's FULL, a get's FREE of the next round), so a process
 * that dies before it advances one blocks nobody.
 *
 * Ends are serial: a putter claims only the cell at tail, a getter only
 * the cell at head, so puts (and gets) of one queue follow each other, a
 * few instructions apart, while a put and a get proceed side by side.
 * That is what makes the order FIFO and a dead party's step undoable in
 * place: nobody passes a FILLING or TAKING cell.
 *
 * Memory order (OQ-):
 *  OQ-R1 (OQ-A1)  a putter's release store of FULL(p): the ID and
 *          custodian it wrote before, to ...
 *  OQ-A1 (OQ-R1)  ... the getter's acquire CAS FULL(p) -> TAKING(p, o),
 *          and the fork server's acquire load in its adoption scan.
 *  OQ-R2 (OQ-A2)  a getter's release CAS TAKING(p, o) -> FREE(p + cells):
 *          its reads of the ID are done (and its hold taken) before ...
 *  OQ-A2 (OQ-R2)  ... the next putter's acquire CAS FREE -> FILLING
 *          overwrites it, and before a putting process's acquire load
 *          that finds its position gone and drops its hold.
 *  OQ-S1 (OQ-S2)  a putter's claim CAS (seq_cst) then its load of the
 *          slot state (seq_cst) ...
 *  OQ-S2 (OQ-S1)  ... against a deleter's store of DELETING (seq_cst)
 *          then its loads of the cells (seq_cst): either the putter sees
 *          the queue deleted and undoes its claim, or the deleter sees
 *          the claim and waits for it to resolve.  The same pair orders
 *          a getter's claim against the deleter.
 *  OQ-R3 (OQ-A3)  the creator's release store of LIVE: the name,
 *          capacity and cursors it wrote, to ...
 *  OQ-A3 (OQ-R3)  ... every acquire load of a slot's state (lookup,
 *          a handle's check).
 *  OQ-R4 (OQ-A4)  the name lock's release store of 0 (rtlayout.h): the
 *          names and states its holder wrote, to ...
 *  OQ-A4 (OQ-R4)  ... the next holder's acquire CAS that takes it.
 *  relaxed  tail and head (hints re-checked against each cell's stamp);
 *          the ID words (published by OQ-R1); counters.
 */
#ifndef SHOAL_RUNTIME_QLAYOUT_H
#define SHOAL_RUNTIME_QLAYOUT_H

#if !defined(SHOAL__LAYER_RUNTIME) && !defined(SHOAL__WHITEBOX)
#error "runtime/qlayout.h is private to runtime/"
#endif

#include <assert.h>
#include <stdatomic.h>
#include <stdint.h>

#include "event.h"

#define SHOAL__OQ_MAX_QUEUES 4096u
#define SHOAL__OQ_MAX_CAPACITY (1u << 20)
#define SHOAL__OQ_DEFAULT_QUEUES 16u
#define SHOAL__OQ_DEFAULT_CAPACITY 1024u

enum shoal__oq_kind {
	SHOAL__OQ_FREE = 0,
	SHOAL__OQ_FILLING = 1,
	SHOAL__OQ_FULL = 2,
	SHOAL__OQ_TAKING = 3,
};
/* A cell word: stamp (32) << 32 | kind (8) << 24 | owner (24). */
#define SHOAL__OQ_WORD(stamp, kind, owner)                                    \
	(((uint64_t)(uint32_t)(stamp) << 32) | ((uint64_t)(kind) << 24) |    \
	 ((uint32_t)(owner) & 0xffffffu))
#define SHOAL__OQ_STAMP(w) ((uint32_t)((w) >> 32))
#define SHOAL__OQ_KIND(w) ((uint32_t)((w) >> 24) & 0xffu)
#define SHOAL__OQ_OWNER(w) ((uint32_t)(w) & 0xffffffu)

/* A custodian that let go (a detaching process): the fork server adopts
 * its object at its next watch (objq_admin.c). */
#define SHOAL__OQ_ORPHAN UINT32_MAX

/*
 * A cell.  word: CAS only (above).  hi, lo, custodian: written by the
 * putter that holds the cell FILLING, before its release of FULL (OQ-R1);
 * custodian (the SHOAL__CREATOR of the process whose ledger holds the
 * object) is changed afterwards by its custodian's CAS to ORPHAN when
 * it detaches, and by the fork server's CAS when it adopts the object of
 * a gone or ORPHAN custodian.
 */
struct shoal__oq_cell {
	_Atomic uint64_t word;
	_Atomic uint64_t hi;
	_Atomic uint64_t lo;
	_Atomic uint32_t custodian;
	uint32_t pad_;
};
static_assert(sizeof(struct shoal__oq_cell) == 32, "queue cell");

enum shoal__oq_phase {
	SHOAL__OQS_FREE = 0,     /* anyone may create a queue here */
	SHOAL__OQS_BUILDING = 1, /* its creator (owner) lays it out */
	SHOAL__OQS_LIVE = 2,
	SHOAL__OQS_DELETING = 3, /* its deleter (owner) lets its objects go */
};
/* A slot's state: generation (32) << 32 | phase (8) << 24 | owner (24).
 * The generation grows at each create, so a handle names one queue. */
#define SHOAL__OQS_WORD(gen, phase, owner) SHOAL__OQ_WORD(gen, phase, owner)

/*
 * A queue slot, then its cells.  state: CAS by a creator (FREE ->
 * BUILDING), a deleter (LIVE -> DELETING, then release of FREE), and by
 * anyone who finds a BUILDING or DELETING owner gone (BUILDING -> FREE;
 * a DELETING slot's delete is finished by the next delete or create that
 * meets it).  name, capacity: the creator, while BUILDING (OQ-R3).
 * tail, head: CAS by anyone (hints, relaxed).  not_full: signalled by
 * getters and deletes (putters wait on it); not_empty: by putters and
 * deletes (getters wait).
 */
struct shoal__oq_hdr {
	_Atomic uint64_t state;
	uint32_t capacity;
	uint32_t pad0_;
	char name[64];
	uint8_t pad1_[128 - 80];
	_Atomic uint64_t tail;
	uint8_t pad2_[64 - 8];
	_Atomic uint64_t head;
	uint8_t pad3_[64 - 8];
	struct shoal__event not_full;
	struct shoal__event not_empty;
	/* cells follow */
};
static_assert(sizeof(struct shoal__oq_hdr) == 384, "queue header");

#endif /* SHOAL_RUNTIME_QLAYOUT_H */
