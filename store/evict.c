/* SPDX-License-Identifier: MIT */
/*
 * store/evict.c - making room: least-recently-used eviction of sealed
 * objects that nobody holds or pins.
 *
 * Candidates.  A scan of the directory collects every evictable entry
 * (SEALED, no pins, no holds, not DELETING, not under REPAIR) with its
 * control word and its atime (store/object/: a tick of the header's clock taken
 * at create and at get).  The scan reads the whole directory, so one scan
 * serves many rounds: the candidates are kept in the process's plan
 * (process-private, under the store lock) and consumed oldest first; the
 * plan is rebuilt when it is spent.
 *
 * Order.  Up to SHOAL__EVICT_EXACT candidates are sorted by atime: exact
 * LRU among them.  Larger sets are partitioned in place into five recency
 * buckets at sampled quantiles (20/40/60/80 %): LRU at the granularity of a
 * fifth, and the plan is spent when only the newest bucket is left (it is
 * used only when a round cannot be satisfied otherwise).  An object that
 * became evictable after the scan (dropped since) waits for the next plan,
 * or for a round's sweep (Progress, below).
 *
 * Validity.  A candidate is evicted by one CAS from exactly the control
 * word seen at the scan (same generation, still no pins or holds) to an
 * EVICTED tombstone, and only if its atime did not move since (a get in
 * between makes it recent).  Entries that became evictable after the scan
 * wait for the next one (or a sweep's).  The block is freed under a FREE
 * intent (store/object/).
 *
 * Progress.  A plan can go stale whole between its scan and its use: a
 * process taken off its CPU there while another evicts and creates comes
 * back to candidates that are all gone.  After SHOAL__EVICT_REBUILDS such
 * plans a round sweeps the directory instead, evicting whatever is
 * evictable as it reads it (no order, one CAS from the word just read),
 * so a create fails for want of room only if the sweep, which reads every
 * entry once, found nothing it could end: never while unheld sealed
 * objects stood still under it.
 *
 * Amount.  A round frees what the create needs: its bytes, or
 * SHOAL__EVICT_BATCH objects when the object count is the limit (Ray's
 * plasma frees max(need, 1/5 of the store) per round to amortise its
 * bookkeeping; plans amortise the scan here, and small rounds let freed
 * blocks go straight back through the process's allocator cache).
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"
#include "mem.h"

#define SHOAL__EVICT_EXACT 4096u
#define SHOAL__EVICT_SAMPLE 1024u
#define SHOAL__EVICT_BUCKETS 5u
#define SHOAL__EVICT_BATCH 16u

struct shoal__cand {
	uint64_t atime;
	uint64_t ctl;
	uint32_t idx;
};

struct shoal__evict_goal {
	uint64_t bytes;   /* free at least this many bytes */
	uint64_t objects; /* and at least this many objects */
};

struct shoal__evict_done {
	uint64_t bytes;
	uint64_t objects;
};

static bool shoal__evictable(uint64_t c)
{
	return SHOAL__CTL_STATE(c) == SHOAL__E_SEALED &&
	       !(c & (SHOAL__CTL_DELETING | SHOAL__CTL_REPAIR)) &&
	       !SHOAL__CTL_PINS(c) && !SHOAL__CTL_HOLDS(c);
}

/* The plan's array, kept between rounds (a fresh megabyte per round costs
 * page faults). */
static struct shoal__cand *shoal__plan_buf(struct shoal_store *s, size_t n)
{
	struct shoal__evict_plan *p = &s->evict;

	if (n <= p->cap)
		return p->buf;
	shoal__mem_free(s->arena, p->buf);
	p->cap = n + n / 2;
	p->buf = shoal__mem_alloc(s->arena, p->cap * sizeof *p->buf);
	if (!p->buf)
		p->cap = 0;
	return p->buf;
}

void shoal__evict_plan_free(struct shoal_store *s)
{
	shoal__mem_free(s->arena, s->evict.buf);
	s->evict = (struct shoal__evict_plan){0};
}

/* Scans from a rotating start, so that a full buffer (creates racing the
 * scan) never leaves the same end of the directory unscanned. */
static size_t shoal__collect(struct shoal_store *s, struct shoal__cand *out,
			     size_t cap)
{
	uint32_t from = s->evict.scan_from;
	size_t n = 0;

	s->evict.scan_from = (from + s->dir_mask / 7) & s->dir_mask;
	for (uint32_t k = 0; k <= s->dir_mask && n < cap; k++) {
		uint32_t i = (from + k) & s->dir_mask;
		struct shoal__entry *e = &s->dir[i];
		/* Relaxed: a candidate is a hint, and so is atime; the
		 * end's CAS from this very word decides (shoal__evict_one);
		 * the fence after the loop orders the description it reads. */
		uint64_t c = atomic_load_explicit(&e->ctl, memory_order_relaxed);

		if (!shoal__evictable(c))
			continue;
		out[n].atime = atomic_load_explicit(&e->atime, memory_order_relaxed);
		out[n].ctl = c;
		out[n].idx = i;
		n++;
	}
	/* ENT-A2 for every candidate at once: the description an end reads
	 * later is at least as new as the word it CASes from. */
	atomic_thread_fence(memory_order_acquire);
	return n;
}

static int shoal__cand_cmp(const void *a, const void *b)
{
	const struct shoal__cand *x = a, *y = b;

	return x->atime < y->atime ? -1 : x->atime > y->atime;
}

static int shoal__u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Moves the candidates of [from, n) with atime <= cut to the front of
 * that range; returns the end of the moved ones. */
static size_t shoal__partition(struct shoal__cand *c, size_t from, size_t n,
			       uint64_t cut)
{
	size_t k = from;

	for (size_t i = from; i < n; i++) {
		if (c[i].atime > cut)
			continue;
		struct shoal__cand t = c[k];
		c[k++] = c[i];
		c[i] = t;
	}
	return k;
}

/* Buckets at sampled quantiles; returns the start of the newest bucket. */
static size_t shoal__bucket(struct shoal__cand *c, size_t n)
{
	uint64_t sample[SHOAL__EVICT_SAMPLE];
	size_t start = 0;

	for (size_t i = 0; i < SHOAL__EVICT_SAMPLE; i++)
		sample[i] = c[(i * n) / SHOAL__EVICT_SAMPLE].atime;
	qsort(sample, SHOAL__EVICT_SAMPLE, sizeof sample[0], shoal__u64_cmp);
	for (size_t b = 1; b < SHOAL__EVICT_BUCKETS; b++)
		start = shoal__partition(
			c, start, n,
			sample[(b * SHOAL__EVICT_SAMPLE) / SHOAL__EVICT_BUCKETS - 1]);
	return start;
}

static void shoal__plan_build(struct shoal_store *s)
{
	struct shoal__evict_plan *p = &s->evict;
	/* Every live object, and one in flight per process beyond the limit
	 * (max_objects is checked without a reservation). */
	size_t cap = (size_t)s->geo.max_objects + s->geo.max_procs + 64;
	struct shoal__cand *c = shoal__plan_buf(s, cap);

	p->n = p->next = p->stale_at = 0;
	if (!c)
		return;
	p->n = shoal__collect(s, c, cap);
	if (p->n <= SHOAL__EVICT_EXACT) {
		qsort(c, p->n, sizeof *c, shoal__cand_cmp);
		p->stale_at = p->n;
	} else {
		p->stale_at = shoal__bucket(c, p->n);
	}
}

static bool shoal__plan_spent(const struct shoal__evict_plan *p)
{
	return p->next >= p->stale_at;
}

/* One CAS makes the candidate a tombstone if nothing changed since the
 * scan (an end, end.c); returns the bytes freed (at least 1 for an empty
 * object). */
static uint64_t shoal__evict_one(struct shoal_store *s,
				 const struct shoal__cand *c)
{
	struct shoal__entry *e = &s->dir[c->idx];
	uint64_t n = (c->ctl & ~SHOAL__CTL_STATE_MASK) | SHOAL__E_EVICTED;
	struct shoal__desc d = shoal__entry_desc(e);
	uint64_t bytes = d.size + d.meta_size;

	if (atomic_load_explicit(&e->atime, memory_order_relaxed) != c->atime) /* hint */
		return 0;
	if (!shoal__obj_end(s, c->idx, c->ctl, n))
		return 0;
	/* Relaxed: counters, read for stats. */
	atomic_fetch_add_explicit(&s->hdr->evictions, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->hdr->evicted_bytes, bytes,
				  memory_order_relaxed);
	return bytes ? bytes : 1;
}

static bool shoal__goal_met(struct shoal__evict_goal g,
			    const struct shoal__evict_done *d)
{
	return d->bytes >= g.bytes && d->objects >= g.objects;
}

/* Evicts plan candidates [next, end) until the goal is met. */
static void shoal__consume(struct shoal_store *s, struct shoal__evict_goal g,
			   struct shoal__evict_done *d, size_t end)
{
	struct shoal__evict_plan *p = &s->evict;

	while (p->next < end && !shoal__goal_met(g, d)) {
		uint64_t b;

		/* Candidates are scattered: fetch a few ahead of the CAS. */
		if (p->next + 8 < end)
			__builtin_prefetch(&s->dir[p->buf[p->next + 8].idx], 1);
		b = shoal__evict_one(s, &p->buf[p->next++]);

		d->bytes += b;
		d->objects += b != 0;
	}
}

/* A plan can go stale all at once (another process evicted its
 * candidates while this one was descheduled): a round rebuilds up to
 * SHOAL__EVICT_REBUILDS times before it sweeps. */
#define SHOAL__EVICT_REBUILDS 3

/* The last resort of a round (Progress, above): one pass over the whole
 * directory from the rotating start, ending every entry evictable when
 * read, until the goal is met. */
static void shoal__sweep(struct shoal_store *s, struct shoal__evict_goal g,
			 struct shoal__evict_done *d)
{
	uint32_t from = s->evict.scan_from;

	s->evict.scan_from = (from + s->dir_mask / 7) & s->dir_mask;
	for (uint32_t k = 0; k <= s->dir_mask && !shoal__goal_met(g, d); k++) {
		struct shoal__cand c = {.idx = (from + k) & s->dir_mask};
		struct shoal__entry *e = &s->dir[c.idx];
		uint64_t b;

		/* Relaxed: read back by shoal__evict_one as a hint.  Before the
		 * word: a get in between (pin and release leave the word as it
		 * was) moves atime, and the object is left alone. */
		c.atime = atomic_load_explicit(&e->atime, memory_order_relaxed);
		/* Acquire (ENT-A2): the description the end reads is the one
		 * this word published; the end's CAS from it decides. */
		c.ctl = atomic_load_explicit(&e->ctl, memory_order_acquire);
		if (!shoal__evictable(c.ctl))
			continue;
		b = shoal__evict_one(s, &c);
		d->bytes += b;
		d->objects += b != 0;
	}
}

static uint64_t shoal__evict_round(struct shoal_store *s,
				   struct shoal__evict_goal g)
{
	struct shoal__evict_plan *p = &s->evict;
	struct shoal__evict_done d = {0};

	for (int pass = 0; !shoal__goal_met(g, &d); pass++) {
		if (shoal__plan_spent(p)) {
			if (pass == SHOAL__EVICT_REBUILDS)
				break;
			shoal__plan_build(s);
			SHOAL__CRASH(s, EVICT_PLANNED);
			if (p->n == 0)
				break;
		}
		shoal__consume(s, g, &d, p->stale_at);
	}
	shoal__consume(s, g, &d, p->n); /* the newest bucket, if need be */
	if (!shoal__goal_met(g, &d) && p->n)
		shoal__sweep(s, g, &d);
	return d.bytes;
}

uint64_t shoal__evict_for(struct shoal_store *s, uint64_t bytes)
{
	struct shoal__evict_goal g = {.bytes = bytes};

	if (!bytes)
		g.objects = SHOAL__EVICT_BATCH;
	return shoal__evict_round(s, g);
}

SHOAL_API int shoal_evict(struct shoal_store *store, uint64_t bytes)
{
	struct shoal__evict_goal g = {.bytes = bytes};
	uint64_t freed;

	if (!store)
		return -EINVAL;
	if (store->readonly)
		return SHOAL_EREADONLY;
	if (!bytes)
		return 0;
	shoal__lock(store);
	store->evict.next = store->evict.stale_at; /* an explicit call rescans */
	freed = shoal__evict_round(store, g);
	shoal__unlock(store);
	return freed > INT32_MAX ? INT32_MAX : (int)freed;
}
