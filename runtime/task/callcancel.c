/* SPDX-License-Identifier: MIT */
/*
 * runtime/task/callcancel.c - cancelling actor calls, the deadlines of
 * queued calls, and the tasks a call submitted (cancel.c does tasks).
 *
 * A call's cancel word (actlayout.h) carries its lane position's low
 * bits, so the CAS that cancels it fails if the record was consumed and
 * its slot written again.  Queued (no STARTED): the CAS adds CANCEL, the
 * actor's start CAS then finds it and drops the call, and the canceller
 * fills its results at once (each is written once: one outcome, whoever
 * fills first).  Running: CANCEL is the flag the method polls.  FORCE is
 * refused: an actor's process holds the state of every call, and Ray
 * refuses it too.
 *
 * Deadlines of queued calls.  The actor checks a call's deadline at its
 * start, but a call queued behind a long method would wait for that.  So
 * the fork server's watch (the one process always awake, whatever the
 * caller and the actor do: the caller may be gone, its ref passed on)
 * expires them: past the deadline, the same CAS as a cancel's, with
 * DEADLINE, then the results filled with SHOAL_EDEADLINE.  The watch
 * finds them without a scan of every lane: a caller that publishes a
 * call with a deadline sets its lane group's bit in the header's
 * dl_lanes (DL-R1 of rtlayout.h), and the watch looks only at groups
 * whose bit it took (DL-A1), setting it again while one of their calls
 * is still pending.  It wakes at the soonest deadline it saw
 * (forkserver.c), so a deadline it saw is kept to within its wake-up
 * (at least SHOAL__FS_DEADLINE_MIN_MS after its last pass); one it has
 * not seen yet, to within one period (SHOAL__FS_WATCH_MS).
 *
 * Recursive cancel of a call.  A task submitted by a method names the
 * call as its parent (SHOAL__PARENT_CALL | lane, position, and the
 * lane's tag, since a lane given back and taken again counts positions
 * from 0: rtlayout.h; the call is known per thread, set around the
 * method), so a recursive
 * cancel of a running call adds RECURSIVE to its word (seq_cst) and
 * cancels the children it finds in the task table, with their own
 * children (cancel.c), and a child submitted later finds the flag in the
 * parent's word at its submit (TASK-S1/S2 of rtlayout.h).  The call's
 * record stays in its lane while it runs (it is consumed once done:
 * actorrun.c), so the word the child reads is the call's while its
 * position matches.
 *
 * Calls as children.  A call record names the task or call that made it
 * as a task record does (parent, parent_gen, parent_tag: actlayout.h),
 * so a recursive cancel's scan for children (cancel.c) also walks the
 * lanes in use, head to tail, and cancels each call its parent made as
 * if its result had been cancelled, with CANCEL | RECURSIVE and never
 * FORCE (Ray ignores force for actor tasks): a queued call is dropped
 * (the CAS against the actor's start, then its results filled), a
 * running one is flagged and its own children followed, to the same
 * depth bound.  A call made by a parent already cancelled recursively is
 * born cancelled: its word is published with CANCEL, so the actor drops
 * it unstarted, and its caller fills its results after the publish.  A
 * call published while the cancel lands is TASK-S1/S2's, as a task is:
 * the canceller's seq_cst CAS and fence, then its lane scan (the tail's
 * acquire); the caller's publish, the doorbell's seq_cst fence (EV-S2),
 * then its load of the parent's word (shoal__call_inherit): the scan
 * sees the call, or the caller sees the flag and cancels its call
 * itself.  Both may: the call's word decides, once.
 *
 * Crash safety.  A canceller killed after its CAS and before it filled a
 * queued call's results: it set the lane's group bit before its CAS, so
 * the watch fills them (and the actor drops the call when it reaches
 * it).  The watch's own death (the fork server's) ends the runtime: the
 * sweep fails what is pending (end.c), each result still written once.
 * A caller killed between its publish and its flag leaves a call the
 * watch does not know: the actor still drops it at its start, past its
 * deadline.  A recursive canceller killed in its scan: the children not
 * reached run on, but those submitted or made later are cancelled then;
 * if the parent is a task whose worker dies (a FORCE kill: the watch
 * kills it if the canceller could not), the fork server's settle scans
 * for its children again (deadworker.c).  A caller killed between its
 * record's writing and its publish leaves a record nobody sees (lane.h).
 * Killed after publishing a call born cancelled and before it filled
 * the results: the lane was flagged first (DL-R1), so the watch fills
 * them, and the actor drops the call when it reaches it (each result
 * written once, whoever is first: SHOAL_ECANCELLED, or SHOAL_EACTORDIED
 * if the actor died and its lanes were drained first).  Killed after a
 * publish and before its TASK-S2 check: the parent is the caller's own
 * task or method, which dies with it; a scan that missed the call is
 * made again at a dead worker's settle, for a task parent.  The actor
 * killed while a cancel lands: the CAS on the word either came first
 * (its replacement or the drain finds CANCEL: the call never runs) or
 * found STARTED (the call was running: its restart fails it with the
 * cancel's code, never a retry: actorrun.c).
 */
#include <errno.h>

#include "ext.h"
#include "task_int.h"

#define SHOAL__DL_GROUP 64u /* lanes per bit of dl_lanes */
/* In a cancel's `want` only, never in a word: FORCE was asked (refused). */
#define SHOAL__CALL_WANT_FORCE 0x80u
static_assert((uint64_t)SHOAL__DL_WORDS * 64u * SHOAL__DL_GROUP >=
		      SHOAL__ACT_MAX_LANES, "a bit for every lane group");

/* The call this thread runs (SHOAL__PARENT_CALL | lane + position; 0:
 * none): per thread, since a threaded actor runs several at once.  Read
 * on every submit: initial-exec, so that a read is one %fs-relative load
 * and not a __tls_get_addr call (12 bytes of the static TLS that glibc
 * keeps spare for a library loaded later, by dlopen). */
#define SHOAL__TLS _Thread_local __attribute__((tls_model("initial-exec")))
static SHOAL__TLS uint32_t shoal__cur_call;
static SHOAL__TLS uint32_t shoal__cur_call_pos;
static SHOAL__TLS uint32_t shoal__cur_call_tag;

/* Lane li's tag: its owner (the caller's slot and generation) and actor
 * (index, generation), so that a lane given back and taken again (its
 * positions start from 0 again) names another parent: a live child of
 * an old call is not taken for a new call's.  A hash: two owners alike
 * by chance are 2^-32 likely.  Read by the actor's process (its own
 * lane's, published by ACT-R1) and by a canceller (after LP-A1). */
static uint32_t shoal__lane_tag(const struct shoal__rt_view *v, uint32_t li)
{
	const struct shoal__lane_meta *m = &v->lmeta[li];
	uint32_t t = m->owner * 0x9e3779b1u ^ m->actor * 0x85ebca6bu ^
		     m->actor_gen * 0xc2b2ae35u;

	return t ? t : 1;
}

void shoal__call_enter(const struct shoal__rt_view *v, uint32_t li, uint32_t pos)
{
	shoal__cur_call = li < v->max_lanes ? SHOAL__PARENT_CALL | li : 0;
	shoal__cur_call_pos = pos;
	shoal__cur_call_tag = li < v->max_lanes ? shoal__lane_tag(v, li) : 0;
}

void shoal__call_leave(void)
{
	shoal__cur_call = 0;
}

struct shoal__parent shoal__cancel_parent(const struct shoal_runtime *rt)
{
	uint32_t call = shoal__cur_call;

	if (rt->cur_task)
		return (struct shoal__parent){rt->cur_task, rt->cur_gen, 0};
	if (!call)
		return (struct shoal__parent){0, 0, 0};
	return (struct shoal__parent){call, shoal__cur_call_pos,
				      shoal__cur_call_tag};
}

void shoal__dl_flag(const struct shoal__rt_view *v, uint32_t li)
{
	uint32_t g = li / SHOAL__DL_GROUP;

	if (li < v->max_lanes)
		atomic_fetch_or_explicit(&v->hdr->dl_lanes[g / 64], 1ull << (g % 64),
					 memory_order_release); /* DL-R1 */
}

static struct shoal__call_rec *shoal__call_at(const struct shoal__lane_view *l,
					      uint32_t p)
{
	return (struct shoal__call_rec *)(l->ring->records +
					  (uint64_t)(p & l->mask) * l->record_size);
}

bool shoal__call_recursive(const struct shoal__rt_view *v, uint32_t li, uint32_t pos)
{
	struct shoal__lane_view l;
	uint32_t c, both = SHOAL__CALL_C_CANCEL | SHOAL__CALL_C_RECURSIVE;

	if (li >= v->max_lanes)
		return false;
	l = shoal__lane_at(v, li);
	/* Relaxed: ordered by the caller's fence (TASK-S2). */
	c = atomic_load_explicit(&shoal__call_at(&l, pos)->cancel, memory_order_relaxed);
	return c >> 8 == (pos & 0xffffffu) && (c & both) == both;
}

/*
 * Cancels the call r at position pos of lane li, its word last read as
 * c, adding `want` (CANCEL, and RECURSIVE or DEADLINE).  0: it had not
 * started (its results are filled); 1: it runs, flagged; -EALREADY: done,
 * or dropped before it started.
 */
static int shoal__cancel_call(struct shoal_store *s, const struct shoal__rt_view *v,
			      uint32_t li, uint32_t pos, struct shoal__call_rec *r,
			      uint32_t c, uint32_t want, uint32_t depth)
{
	/* Read before the CAS: a dropped call's slot is written again. */
	shoal_id ret0 = {.hi = r->ret_hi, .lo = r->ret_lo};
	uint32_t n = r->num_returns, seq = c >> 8, add;

	if (want & SHOAL__CALL_WANT_FORCE)
		return -EINVAL;
	if (!(c & SHOAL__CALL_C_STARTED))
		shoal__dl_flag(v, li); /* the watch fills them if we die */
	for (;;) {
		if (c >> 8 != seq)
			return -EALREADY; /* consumed: done */
		/* Its results are all there: done, though not consumed yet. */
		if ((c & SHOAL__CALL_C_STARTED) &&
		    shoal__cancel_returns_sealed(s, ret0, n))
			return -EALREADY;
		add = (c & SHOAL__CALL_C_STARTED) ? want : want & ~SHOAL__CALL_C_RECURSIVE;
		if ((c & SHOAL__CALL_C_CANCEL) && !(c & SHOAL__CALL_C_STARTED))
			return -EALREADY;
		if ((c & SHOAL__CALL_C_CANCEL) && (c | add) == c)
			return 1;
		/* TASK-S1 for a recursive cancel (seq_cst, then the fence
		 * below); else relaxed: the word's order decides
		 * (actlayout.h). */
		if (atomic_compare_exchange_weak_explicit(&r->cancel, &c, c | add,
							  memory_order_seq_cst,
							  memory_order_relaxed))
			break;
	}
	SHOAL__STORE_CRASH(s, CALL_CANCEL_SET);
	if (!(c & SHOAL__CALL_C_STARTED)) {
		shoal__cancel_fill(s, ret0, n, shoal__call_cancel_code(c | add));
		return 0;
	}
	if (add & SHOAL__CALL_C_RECURSIVE) {
		atomic_thread_fence(memory_order_seq_cst); /* TASK-S1 */
		shoal__cancel_children(s, v, SHOAL__PARENT_CALL | li, pos,
				       shoal__lane_tag(v, li),
				       SHOAL__TASK_F_CANCEL | SHOAL__TASK_F_RECURSIVE, depth);
	}
	return 1;
}

/* Whether the record read at position p (word c, fields read before)
 * is still that call's: LN-A1 (the re-check, as list.c's): the reads
 * before the fence happen before the reload, so the same position means
 * they were that call's. */
static bool shoal__call_still(struct shoal__call_rec *r, uint32_t c)
{
	atomic_thread_fence(memory_order_acquire); /* LN-A1 */
	return atomic_load_explicit(&r->cancel, memory_order_relaxed) >> 8 == c >> 8;
}

/* The call in lane li whose results ref names, cancelled: *found says
 * whether there was one.  Its published records only, head to tail
 * (LN-A1 of ring/lane.c: the tail's acquire makes them visible); each
 * matched by its ID, then re-checked by its word's position (the actor
 * may consume it, and its caller write the slot again, meanwhile). */
static int shoal__cancel_in_lane(struct shoal_store *s, const struct shoal__rt_view *v,
				 uint32_t li, shoal_id ref, uint32_t want, bool *found)
{
	struct shoal__lane_view l = shoal__lane_at(v, li);
	uint32_t t = atomic_load_explicit(&l.ring->tail, memory_order_acquire); /* LN-A1 */
	/* Relaxed: a lower bound; the word's check decides. */
	uint32_t h = atomic_load_explicit(&l.ring->head, memory_order_relaxed);

	if (t - h > l.capacity)
		return 0;
	for (uint32_t p = h; p != t; p++) {
		struct shoal__call_rec *r = shoal__call_at(&l, p);
		/* Relaxed: re-checked (call_still). */
		uint32_t c = atomic_load_explicit(&r->cancel, memory_order_relaxed);

		if (c >> 8 != (p & 0xffffffu) || (r->flags & SHOAL__CALL_NORESULT) ||
		    r->ret_lo != ref.lo ||
		    (r->ret_hi & ~SHOAL__RET_INDEX) != (ref.hi & ~SHOAL__RET_INDEX))
			continue;
		if (!shoal__call_still(r, c))
			continue;
		*found = true;
		return shoal__cancel_call(s, v, li, p, r, c, want, 0);
	}
	return 0;
}

/* Every lane in use (LP-A1: its owner's state), for the call ref names;
 * flags are shoal_cancel's. */
int shoal__cancel_calls(struct shoal_store *s, const struct shoal__rt_view *v,
			shoal_id ref, uint32_t flags, bool *found)
{
	uint32_t want = SHOAL__CALL_C_CANCEL;
	int rc = 0;

	if (flags & SHOAL_CANCEL_RECURSIVE)
		want |= SHOAL__CALL_C_RECURSIVE;
	if (flags & SHOAL_CANCEL_FORCE)
		want |= SHOAL__CALL_WANT_FORCE;
	for (uint32_t i = 0; i < v->max_lanes && !*found; i++)
		if (SHOAL__LANE_PHASE(atomic_load_explicit(&v->lmeta[i].state,
							   memory_order_acquire)) !=
		    SHOAL__L_FREE) /* LP-A1 */
			rc = shoal__cancel_in_lane(s, v, i, ref, want, found);
	return rc;
}

/* A recursive cancel's child calls: the task or call (pw, pg, tag, as
 * a task record names its parent) made them.  Each is cancelled
 * recursively, never with FORCE (Ray ignores force for actor tasks):
 * dropped if queued, flagged if running, and the tasks and calls it
 * made followed (depth: cancel.c's).  Lane li's published records, head
 * to tail: the tail's acquire (LN-A1) makes them visible, and it comes
 * after the canceller's TASK-S1 fence, so a call published before its
 * caller's TASK-S2 fence (the doorbell's) is seen here, or its caller
 * sees the parent's flag; each matched by its parent fields, then
 * re-checked by its word's position (call_still). */
static void shoal__cancel_lane_children(struct shoal_store *s,
					const struct shoal__rt_view *v, uint32_t li,
					uint32_t pw, uint32_t pg, uint32_t tag,
					uint32_t depth)
{
	struct shoal__lane_view l = shoal__lane_at(v, li);
	uint32_t t = atomic_load_explicit(&l.ring->tail, memory_order_acquire); /* LN-A1 */
	/* Relaxed: a lower bound; the word's check decides. */
	uint32_t h = atomic_load_explicit(&l.ring->head, memory_order_relaxed);

	if (t - h > l.capacity)
		return;
	for (uint32_t p = h; p != t; p++) {
		struct shoal__call_rec *r = shoal__call_at(&l, p);
		/* Relaxed: re-checked (call_still). */
		uint32_t c = atomic_load_explicit(&r->cancel, memory_order_relaxed);

		if (c >> 8 != (p & 0xffffffu) || r->parent != pw ||
		    r->parent_gen != pg || r->parent_tag != tag)
			continue;
		if (shoal__call_still(r, c))
			shoal__cancel_call(s, v, li, p, r, c,
					   SHOAL__CALL_C_CANCEL | SHOAL__CALL_C_RECURSIVE,
					   depth);
	}
}

void shoal__cancel_child_calls(struct shoal_store *s, const struct shoal__rt_view *v,
			       uint32_t pw, uint32_t pg, uint32_t tag, uint32_t depth)
{
	for (uint32_t i = 0; i < v->max_lanes; i++)
		if (SHOAL__LANE_PHASE(atomic_load_explicit(&v->lmeta[i].state,
							   memory_order_acquire)) !=
		    SHOAL__L_FREE) /* LP-A1 */
			shoal__cancel_lane_children(s, v, i, pw, pg, tag, depth);
}

/* TASK-S2 for a call, before its publish: CANCEL if the task or call
 * this thread runs was cancelled recursively (the call is then published
 * with it: the actor drops it unstarted), else 0. */
uint32_t shoal__call_born(const struct shoal_runtime *rt,
			  const struct shoal__parent *par)
{
	return par->id && shoal__cancel_inherited(rt, par->id, par->gen)
		       ? SHOAL__CALL_C_CANCEL
		       : 0;
}

/*
 * TASK-S2 for a call, after its publish (record r at position pos of lane
 * li, its word published with `born`).  Born cancelled: its results are
 * filled now, as a canceller's are after its CAS (the actor's drop, or
 * the watch if we die first: the lane is flagged, DL-R1, fill each once).
 * Else a recursive cancel of its parent that landed meanwhile, whose scan
 * may have missed the record, is applied here: the publish's doorbell
 * began with a seq_cst fence (EV-S2), TASK-S2's, so the scan saw the
 * record or this relaxed load sees the flag.  Under the caller's node
 * lock: nobody writes the slot again meanwhile.
 */
void shoal__call_inherit(struct shoal_runtime *rt, uint32_t li, uint32_t pos,
			 struct shoal__call_rec *r, uint32_t born,
			 const struct shoal__parent *par)
{
	uint32_t c;

	if (born) {
		shoal__cancel_fill(rt->store, (shoal_id){.hi = r->ret_hi, .lo = r->ret_lo},
				   r->num_returns, SHOAL_ECANCELLED);
		return;
	}
	if (!par->id || !shoal__cancel_inherited(rt, par->id, par->gen))
		return;
	/* Relaxed: the word's own order decides (cancel_call's CAS). */
	c = atomic_load_explicit(&r->cancel, memory_order_relaxed);
	if (c >> 8 == (pos & 0xffffffu))
		shoal__cancel_call(rt->store, &rt->v, li, pos, r, c,
				   SHOAL__CALL_C_CANCEL | SHOAL__CALL_C_RECURSIVE, 1);
}

/* A queued call of a flagged lane, for the watch: expired if past its
 * deadline, its results filled again if it was cancelled; whether it
 * still needs the watch, and its deadline into *soonest. */
static bool shoal__expire_one(struct shoal_store *s, const struct shoal__rt_view *v,
			      uint32_t li, uint32_t p, struct shoal__call_rec *r,
			      uint64_t now, uint64_t *soonest)
{
	/* Relaxed: re-checked (call_still) before anything is done. */
	uint32_t c = atomic_load_explicit(&r->cancel, memory_order_relaxed);
	uint64_t deadline = r->deadline;
	shoal_id ret0 = {.hi = r->ret_hi, .lo = r->ret_lo};
	uint32_t n = r->num_returns;

	if (c >> 8 != (p & 0xffffffu) || (c & SHOAL__CALL_C_STARTED))
		return false;
	if (c & SHOAL__CALL_C_CANCEL) { /* a canceller may have died */
		if (!(r->flags & SHOAL__CALL_NORESULT) && shoal__call_still(r, c) &&
		    !shoal__cancel_returns_sealed(s, ret0, n))
			shoal__cancel_fill(s, ret0, n, shoal__call_cancel_code(c));
		return false;
	}
	if (!deadline)
		return false;
	if (now < deadline) {
		*soonest = shoal__cancel_sooner(*soonest, deadline);
		return true;
	}
	if (shoal__call_still(r, c))
		shoal__cancel_call(s, v, li, p, r, c,
				   SHOAL__CALL_C_CANCEL | SHOAL__CALL_C_DEADLINE, 0);
	return false;
}

/* The lanes of group g: whether one still holds a call for the watch. */
static bool shoal__expire_group(struct shoal_store *s, const struct shoal__rt_view *v,
				uint32_t g, uint64_t now, uint64_t *soonest)
{
	uint32_t end = (g + 1) * SHOAL__DL_GROUP;
	bool keep = false;

	for (uint32_t i = g * SHOAL__DL_GROUP; i < end && i < v->max_lanes; i++) {
		struct shoal__lane_view l;
		uint32_t t, h;

		if (SHOAL__LANE_PHASE(atomic_load_explicit(&v->lmeta[i].state,
							   memory_order_acquire)) ==
		    SHOAL__L_FREE) /* LP-A1 */
			continue;
		l = shoal__lane_at(v, i);
		t = atomic_load_explicit(&l.ring->tail, memory_order_acquire); /* LN-A1 */
		/* Relaxed: a lower bound; each word's check decides. */
		h = atomic_load_explicit(&l.ring->head, memory_order_relaxed);
		if (t - h > l.capacity)
			continue;
		for (uint32_t p = h; p != t; p++)
			keep |= shoal__expire_one(s, v, i, p, shoal__call_at(&l, p), now,
						  soonest);
	}
	return keep;
}

uint64_t shoal__calls_expire(struct shoal_store *s, const struct shoal__rt_view *v)
{
	uint64_t now = shoal__mono_ns(), soonest = 0;

	for (uint32_t w = 0; w < SHOAL__DL_WORDS; w++) {
		uint64_t bits;

		/* Relaxed: a word seen 0 is looked at again next pass (its
		 * line is left clean: most passes find no deadline). */
		if (!atomic_load_explicit(&v->hdr->dl_lanes[w], memory_order_relaxed))
			continue;
		/* DL-A1: the calls published before each bit's DL-R1. */
		bits = atomic_exchange_explicit(&v->hdr->dl_lanes[w], 0,
						memory_order_acquire);

		for (; bits; bits &= bits - 1) {
			uint32_t b = (uint32_t)__builtin_ctzll(bits);

			if (shoal__expire_group(s, v, w * 64 + b, now, &soonest))
				/* Relaxed: this process's own next exchange. */
				atomic_fetch_or_explicit(&v->hdr->dl_lanes[w], 1ull << b,
							 memory_order_relaxed);
		}
	}
	return soonest;
}
