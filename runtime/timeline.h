/* SPDX-License-Identifier: MIT */
/*
 * runtime/timeline.h - the timeline's rings and the latency histograms, in
 * the runtime's region (rtlayout.h), and the recorder every executing
 * process calls (timeline.c).  Ray's ray.timeline() and the latency half
 * of its metrics, with no daemon: each process writes into its own ring,
 * and a reader (shoal_timeline, shoal_metrics, the CLI) walks them all.
 *
 *   rings   tl_rings x tl_ring_bytes, one per store process slot (index =
 *           the slot of SHOAL__CREATOR): a struct shoal__tl_ring, then
 *           tl_events x struct shoal__tl_event (0 with
 *           SHOAL_RUNTIME_NO_TIMELINE: the histograms stay)
 *
 * Invariants:
 *  - One writer per ring: the process in its slot, from the one thread
 *    that runs tasks or calls (a worker's, an actor's).  Ring words are
 *    written with plain (relaxed) stores and no read-modify-write: an
 *    event costs two tick reads and ten stores.  A process that takes a
 *    reused slot goes on from the ring's head and adds to its histograms
 *    (Prometheus counters never go down), and stamps its own pid and
 *    creator word into the ring's header; every event carries its pid.
 *  - Event n (from 0) lives at index n mod tl_events; its seq word is n + 1
 *    once it is whole, 0 while it is written.  A reader takes events
 *    [head - tl_events, head) whose seq matches after it copied them
 *    (a seqlock per event); an event torn by a writer's death or by a
 *    wrap-around is skipped, never shown half old, half new.
 *  - A reader trusts nothing it reads: indices are masked, names bounded,
 *    pids and kinds checked; a ring is data, never a pointer.
 *
 * Memory order (TL-):
 *  TL-R1 (TL-A1)  the writer stores seq = 0, fences (release) and writes
 *          the payload; then stores seq = n + 1 (release): the payload, to
 *  TL-A1 (TL-R1)  ... a reader's acquire load of seq before the copy; the
 *          reader fences (acquire) after the copy and loads seq again
 *          (relaxed): equal means no store of a later event reached the
 *          copy.
 *  TL-R2 (TL-A2)  the head, stored with release after the event's seq ...
 *  TL-A2 (TL-R2)  ... and loaded with acquire by a reader: events below it
 *          are whole or being overwritten (seq tells).
 *  TL-R3 (TL-A3)  the header's creator word, stored with release after the
 *          occupant stored its pid and label (relaxed) ...
 *  TL-A3 (TL-R3)  ... and loaded with acquire by a reader before them (a
 *          label torn by a new occupant reads as a wrong name, never out
 *          of bounds).
 *  relaxed  histogram counts and sums (single writer; readers want
 *          totals, each word read once).
 */
#ifndef SHOAL_RUNTIME_TIMELINE_H
#define SHOAL_RUNTIME_TIMELINE_H

#if !defined(SHOAL__LAYER_RUNTIME) && !defined(SHOAL__WHITEBOX)
#error "runtime/timeline.h is private to runtime/"
#endif

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "clock.h"

#define SHOAL__TL_EVENTS 4096u /* per ring; a power of two */
#define SHOAL__TL_BUCKETS 24u  /* le 1 us x 2^k, k < 23, then +Inf */
#define SHOAL__TL_LABEL 32u
#define SHOAL__TL_MAX_RINGS 4096u /* the store's max_procs bound */

enum shoal__tl_kind {
	SHOAL__TL_TASK = 1, /* a task ran on a worker */
	SHOAL__TL_CALL = 2, /* an actor method ran */
};

/* The histograms of a ring: what ran (start to end) and what waited and
 * ran (submit to end), for tasks and for actor calls. */
enum shoal__tl_hist {
	SHOAL__H_TASK_RUN = 0,
	SHOAL__H_TASK_LATENCY = 1,
	SHOAL__H_CALL_RUN = 2,
	SHOAL__H_CALL_LATENCY = 3,
	SHOAL__H_N = 4,
};

/*
 * One event: a slice of a task or a call that ran.
 *  w[0] seq      n + 1 once whole, 0 while written (TL-R1)
 *  w[1] t_submit ticks at its submit (the submitter's), 0 unknown
 *  w[2] t_start  ticks when it began to run
 *  w[3] t_end    ticks when it was done (results sealed or failed)
 *  w[4] w[5]     its first result's ID (hi, lo)
 *  w[6]          kind (8) | who (24: worker index, actor slot) << 8 |
 *                what (32: function index, method index) << 32
 *  w[7]          from (32: the submitter's SHOAL__CREATOR) |
 *                rc (32: 0 or a negative code) << 32
 *  w[8]          pid (32: the process that ran it) | klass (32) << 32
 */
#define SHOAL__TL_WORDS 9u
struct shoal__tl_event {
	_Atomic uint64_t w[SHOAL__TL_WORDS];
};

/* A ring's header, 2 KiB. */
struct shoal__tl_ring {
	_Atomic uint64_t head;     /* events written (TL-R2) */
	_Atomic int32_t pid;       /* the occupant (relaxed; TL-R3) */
	_Atomic uint32_t creator;  /* its SHOAL__CREATOR (TL-R3) */
	_Atomic uint64_t label[SHOAL__TL_LABEL / 8]; /* "worker 2", NUL-padded */
	uint8_t pad0_[128 - 48];
	_Atomic uint64_t count[SHOAL__H_N];
	_Atomic uint64_t sum_ns[SHOAL__H_N];
	uint8_t pad1_[128 - 64];
	_Atomic uint64_t hist[SHOAL__H_N][SHOAL__TL_BUCKETS];
	uint8_t pad2_[2048 - 256 - SHOAL__H_N * SHOAL__TL_BUCKETS * 8];
};
static_assert(sizeof(struct shoal__tl_ring) == 2048, "ring header");
static_assert(sizeof(struct shoal__tl_event) == 72, "event");

/* What the recorder fills in (everything but seq and pid). */
struct shoal__tl_rec {
	uint64_t t_submit, t_start, t_end;
	uint64_t id_hi, id_lo;
	uint32_t kind, who, what, from, klass;
	int32_t rc;
};

/* A process's recorder: its ring, or none (ring NULL). */
struct shoal__tl {
	struct shoal__tl_ring *ring;
	struct shoal__tl_event *ev; /* events (NULL: none, histograms only) */
	uint32_t mask;              /* events - 1 */
	int32_t pid;
	struct shoal__clock clock;
};

struct shoal__rt_view;
/* The ring of store slot `slot` in view v, or NULL past the rings. */
struct shoal__tl_ring *shoal__tl_ring_at(const struct shoal__rt_view *v,
					 uint32_t slot);
/* Takes the ring of this process's slot (creator) and stamps it with its
 * pid, creator and label.  t->ring stays NULL without one. */
void shoal__tl_open(struct shoal__tl *t, const struct shoal__rt_view *v,
		    uint32_t creator, const char *label);
/* Records r (timeline event and histograms). */
void shoal__tl_record(struct shoal__tl *t, const struct shoal__tl_rec *r);
/* The histogram bucket of a duration of ns nanoseconds. */
uint32_t shoal__tl_bucket(uint64_t ns);
/* A reader's copy of event i of ring r (ring events ev, mask): true if it
 * is event n, whole. */
bool shoal__tl_read(const struct shoal__tl_event *ev, uint32_t mask,
		    uint64_t n, struct shoal__tl_rec *out, int32_t *pid);

#endif /* SHOAL_RUNTIME_TIMELINE_H */
