/* SPDX-License-Identifier: MIT */
/*
 * store/heap/extent.c - the heap's page map and its extent allocator: runs
 * of whole pages, for a large block or for a slab (heap.c's header,
 * "Extent allocator").
 *
 * Invariants: a page-map entry is non-zero iff its page is the first or
 * the last page of a run, and the runs tile the arena; the rover is a
 * run's first page.  Only shoal__heap_plan_apply writes the page map, and
 * only for an intent: a change is computed as a plan (plan_take,
 * plan_give), published as the header's intent (HP-R3) and applied by
 * shoal__heap_intent_finish (heap.c).  Applying a plan is idempotent
 * (clears, then tags) and bounds-checks what it reads, since a process
 * that recovers the lock from a dead holder applies the holder's plan
 * again.
 *
 * Locking: everything in this file reads or writes the page map, the
 * rover and the intent under the heap's lock (heap.c, shoal__heap_lock).
 * shoal__heap_extent_take(_rec), shoal__heap_large_free and
 * shoal__heap_slab_retire take it themselves, bounded by the view's
 * lock_by, and return its error (-ETIMEDOUT, SHOAL_EBADSEGMENT) having
 * changed nothing; the others run under it (shoal__heap_plan_apply also
 * by a recoverer of it, before pthread_mutex_consistent).
 * slab_retire_locked retires a slab with one CAS of its word (HP-A1), inside
 * a RETIRE intent, and frees its pages only if that CAS took.
 */
#include "heap_int.h"

#include <errno.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Page map                                                            */

/* The run whose first page is p, if the tags there are consistent. */
static bool run_at(const uint32_t *pm, uint32_t np, uint32_t p,
		   uint32_t *state, uint32_t *len)
{
	uint32_t e, l;

	if (p >= np)
		return false;
	e = pm[p];
	l = e & PM_LEN_MAX;
	if (e >> PM_SHIFT == 0 || l == 0 || l > np - p || pm[p + l - 1] != e)
		return false;
	*state = e >> PM_SHIFT;
	*len = l;
	return true;
}

/* Length of the free run that ends at page s - 1, or 0. */
static uint32_t free_before(const uint32_t *pm, uint32_t np, uint32_t s)
{
	uint32_t st, l, e;

	if (s == 0 || s > np)
		return 0;
	e = pm[s - 1];
	l = e & PM_LEN_MAX;
	if (l == 0 || l > s || !run_at(pm, np, s - l, &st, &l) ||
	    st != PM_FREE)
		return 0;
	return l;
}

/* Length of the free run that starts at page p, or 0. */
uint32_t shoal__heap_free_at(const uint32_t *pm, uint32_t np, uint32_t p)
{
	uint32_t st, l;

	return run_at(pm, np, p, &st, &l) && st == PM_FREE ? l : 0;
}

static void plan_tag(struct heap_plan *pl, uint32_t first, uint32_t len,
		     uint32_t state)
{
	uint32_t e = pm_tag(state, len);

	pl->tag_page[pl->ntags] = first;
	pl->tag_val[pl->ntags++] = e;
	pl->tag_page[pl->ntags] = first + len - 1;
	pl->tag_val[pl->ntags++] = e;
}

static void plan_zero(struct heap_plan *pl, uint32_t p)
{
	pl->zero[pl->nzero++] = p;
}

/* Take n pages at page a out of the free run [p, p + len). */
static void plan_take(const struct shoal__heap_view *hv, uint32_t p,
		      uint32_t len, uint32_t a, uint32_t n, uint32_t state,
		      struct heap_plan *pl)
{
	memset(pl, 0, sizeof *pl);
	if (a > p)
		plan_tag(pl, p, a - p, PM_FREE);
	plan_tag(pl, a, n, state);
	if (a + n < p + len)
		plan_tag(pl, a + n, p + len - a - n, PM_FREE);
	pl->rover = a + n < npages_of(hv) ? a + n : 0;
	pl->reserved = reserved_pages(hv) + n;
}

/* Free the run [s, s + n), merged with its free neighbours. */
static void plan_give(const struct shoal__heap_view *hv, uint32_t s,
		      uint32_t n, struct heap_plan *pl)
{
	const uint32_t *pm = pmap_of(hv);
	uint32_t np = npages_of(hv), ms = s, me = s + n, l;
	uint32_t rover = hdr_of(hv)->rover;
	uint64_t res = reserved_pages(hv);

	memset(pl, 0, sizeof *pl);
	l = free_before(pm, np, s);
	if (l > 0) {
		ms = s - l;
		plan_zero(pl, s - 1);
		plan_zero(pl, s);
	}
	l = me < np ? shoal__heap_free_at(pm, np, me) : 0;
	if (l > 0) {
		plan_zero(pl, me - 1);
		plan_zero(pl, me);
		me += l;
	}
	plan_tag(pl, ms, me - ms, PM_FREE);
	pl->rover = ms < rover && rover < me ? ms : rover;
	pl->reserved = res >= n ? res - n : 0;
}

/* The caller's record word (heap.h, the handoff): written as part of the
 * plan, so that it says "allocated" or "freed" exactly when the page map
 * does, whoever applies the plan.  Relaxed: the reader is the owner
 * itself, or a reaper after the owner's death (which the mutex or the
 * reaper's own death test orders). */
static void plan_record(const struct shoal__heap_view *hv,
			const struct heap_plan *pl)
{
	if (pl->rec_off && pl->rec_off % 8 == 0 &&
	    pl->rec_off <= hv->map.size - 8)
		atomic_store_explicit((_Atomic uint64_t *)(hv->map.base +
							   pl->rec_off),
				      pl->rec_val, memory_order_relaxed);
}

/* Idempotent: clears first, then tags; bounds-checks everything, since a
 * recoverer reads the plan from shared memory. */
void shoal__heap_plan_apply(const struct shoal__heap_view *hv,
			    const struct heap_plan *pl)
{
	struct heap_hdr *h = hdr_of(hv);
	uint32_t *pm = pmap_of(hv);
	uint32_t np = npages_of(hv);

	for (uint32_t i = 0; i < pl->nzero && i < PLAN_ZERO; i++)
		if (pl->zero[i] < np)
			pm[pl->zero[i]] = 0;
	for (uint32_t i = 0; i < pl->ntags && i < PLAN_TAGS; i++)
		if (pl->tag_page[i] < np)
			pm[pl->tag_page[i]] = pl->tag_val[i];
	h->rover = pl->rover < np ? pl->rover : 0;
	/* Relaxed: a statistic; lock holders see it through the mutex. */
	atomic_store_explicit(&h->reserved,
			      pl->reserved <= np ? pl->reserved : np,
			      memory_order_relaxed);
	plan_record(hv, pl);
}

/* ------------------------------------------------------------------ */
/* Extent allocator (under the lock)                                   */

/* First page >= p aligned to `align`, if n pages fit from there in the run
 * [p, p + len). */
static bool fit_in(uint32_t p, uint32_t len, uint32_t n, uint32_t align,
		   uint32_t *at)
{
	uint32_t a = (p + align - 1) / align * align;

	if (a - p >= len || len - (a - p) < n)
		return false;
	*at = a;
	return true;
}

/* Next fit: walks run by run from the rover, wrapping once. */
static bool find_fit(const struct shoal__heap_view *hv, uint32_t n,
		     uint32_t align, uint32_t *run, uint32_t *len,
		     uint32_t *at)
{
	const uint32_t *pm = pmap_of(hv);
	uint32_t np = npages_of(hv), start = hdr_of(hv)->rover, p, st, l;

	if (!run_at(pm, np, start, &st, &l))
		start = 0;
	p = start;
	for (uint32_t i = 0; i < np; i++) {
		if (!run_at(pm, np, p, &st, &l))
			return false; /* a broken map: no space, no crash */
		if (st == PM_FREE && fit_in(p, l, n, align, at)) {
			*run = p;
			*len = l;
			return true;
		}
		p = p + l == np ? 0 : p + l;
		if (p == start)
			return false;
	}
	return false;
}

/* Segment offset of a caller's record word, 0 for none. */
static uint64_t rec_offset(const struct shoal__heap_view *hv,
			   _Atomic uint64_t *rec)
{
	uint8_t *p = (uint8_t *)rec;

	if (!rec || p < hv->map.base || p + 8 > hv->map.base + hv->map.size)
		return 0;
	return (uint64_t)(p - hv->map.base);
}

/* Takes n pages (a slab of class cls if state is PM_SLAB) into *page;
 * the plan also stores the run's offset into rec (if not NULL). */
int shoal__heap_extent_take_rec(const struct shoal__heap_view *hv,
				uint32_t n, uint32_t state, uint32_t cls,
				uint32_t *page, _Atomic uint64_t *rec)
{
	uint32_t align = state == PM_SLAB ? PAGES_PER_SLAB : 1, run, len, at;
	struct heap_plan pl;
	int rc = shoal__heap_lock(hv);

	if (rc != 0)
		return rc;
	if (!find_fit(hv, n, align, &run, &len, &at)) {
		shoal__heap_unlock(hv);
		return -ENOMEM;
	}
	plan_take(hv, run, len, at, n, state, &pl);
	pl.slab = at / PAGES_PER_SLAB;
	pl.cls = cls;
	pl.rec_off = rec_offset(hv, rec);
	pl.rec_val = page_off(hv, at);
	shoal__heap_intent_begin(hv, state == PM_SLAB ? OP_CARVE : OP_ALLOC,
				 &pl);
	shoal__heap_intent_finish(hv);
	shoal__heap_unlock(hv);
	*page = at;
	return 0;
}

int shoal__heap_extent_take(const struct shoal__heap_view *hv, uint32_t n,
			    uint32_t state, uint32_t cls, uint32_t *page)
{
	return shoal__heap_extent_take_rec(hv, n, state, cls, page, NULL);
}

/* Frees the run at off; the plan also stores 0 into rec (if not NULL). */
int shoal__heap_large_free(const struct shoal__heap_view *hv, uint64_t off,
			   uint64_t size, _Atomic uint64_t *rec)
{
	uint32_t p, st, l;
	struct heap_plan pl;
	int rc;

	if (!page_of(hv, off, &p))
		return -EINVAL;
	rc = shoal__heap_lock(hv);
	if (rc != 0)
		return rc;
	if (!run_at(pmap_of(hv), npages_of(hv), p, &st, &l) ||
	    st != PM_USED || l != pages_for(size)) {
		rc = -EINVAL;
	} else {
		plan_give(hv, p, l, &pl);
		pl.rec_off = rec_offset(hv, rec);
		pl.rec_val = 0;
		shoal__heap_intent_begin(hv, OP_FREE, &pl);
		shoal__heap_intent_finish(hv);
	}
	shoal__heap_unlock(hv);
	return rc;
}

/* Under the lock: RETIRE intent, CAS the idle word to RETIRED, pages back. */
static void slab_retire_locked(const struct shoal__heap_view *hv,
			       uint32_t s)
{
	struct heap_slab *sm = slab_at(hv, s);
	uint32_t p = s * PAGES_PER_SLAB, st, l;
	struct heap_plan pl;
	/* HP-A1: the pushes of every block (their writes end before the pages
	 * are reused). */
	uint64_t w = atomic_load_explicit(&sm->word, memory_order_acquire);

	if (!slab_idle(hv, s, w) ||
	    !run_at(pmap_of(hv), npages_of(hv), p, &st, &l) || st != PM_SLAB ||
	    l != PAGES_PER_SLAB)
		return;
	plan_give(hv, p, PAGES_PER_SLAB, &pl);
	pl.slab = s;
	shoal__heap_intent_begin(hv, OP_RETIRE, &pl);
	/* HP-A1 as above; fails if anyone touched the word since the load. */
	atomic_compare_exchange_strong_explicit(
		&sm->word, &w, sw_next(w, SW_RETIRED, 0, false),
		memory_order_acquire, memory_order_relaxed);
	/* Applies the plan iff the word is RETIRED. */
	shoal__heap_intent_finish(hv);
}

int shoal__heap_slab_retire(const struct shoal__heap_view *hv, uint32_t s)
{
	int rc = shoal__heap_lock(hv);

	if (rc != 0)
		return rc;
	slab_retire_locked(hv, s);
	shoal__heap_unlock(hv);
	return 0;
}
