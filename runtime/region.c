/* SPDX-License-Identifier: MIT */
/*
 * runtime/region.c - laying out and checking the runtime's region of the
 * segment (rtlayout.h).  The layout is a pure function of a plan (workers,
 * tasks); the driver writes it before it forks the fork server, and every
 * other process recomputes it from the header and refuses a region whose
 * offsets differ (another process may have written anything there).
 *
 * Warming (shoal__rt_warm).  The first access of a process to a page of
 * the segment costs a fault (15-30 µs a page in this machine's VM, even
 * for a page another process or MADV_POPULATE_WRITE made present: the
 * hypervisor maps it per process, so a populate from the driver warms
 * nobody else), and a first wave of 1000 tasks on a fresh runtime touched
 * some 400 fresh pages in the driver and more in the workers.  So each
 * process of the runtime touches at its start what such a wave uses from
 * it: the first SHOAL__WARM_TASKS task records (records are reused lowest
 * first, task.c), the directory run of the driver's next SHOAL__WARM_IDS
 * IDs (warm_hi/lo: its tasks' results, which the driver promises and
 * gets and the workers fill), and its own timeline ring.  Loads only
 * (relaxed: nothing is read for its value, and nothing written, so any
 * process may do it at any time); bounded whatever the options: about
 * 400 KiB of records, 256 KiB of directory and a ring (288 KiB) per
 * process, never the whole table of a large max_tasks.  Not the ledgers
 * (sized by need: store/ledger.c) nor the heap (a no-op's result is
 * inline in its entry).
 */
#include <errno.h>
#include <string.h>

#include <shoal/error.h>

#include "ext.h"
#include "rt.h"
#include "lane.h"
#include "queue.h"
#include "timeline.h"

static uint32_t shoal__pow2(uint32_t v)
{
	uint32_t p = 2;

	while (p < v)
		p <<= 1;
	return p;
}

/* Fills every derived field of h; returns the region's size.  The
 * creator's region_init reads these from its own header before anyone
 * else can see it; every other use goes through a view (rt_view_open). */
static uint64_t shoal__rt_layout(struct shoal__rt_hdr *h)
{
	uint64_t cur = SHOAL__RT_HDR_SIZE;

	h->workers_off = cur;
	cur += (uint64_t)h->max_workers * sizeof(struct shoal__rt_worker);
	h->fnames_off = cur;
	cur += (uint64_t)SHOAL_MAX_FUNCTIONS * SHOAL__FN_NAME_SIZE;
	h->tasks_off = cur;
	cur += (uint64_t)h->max_tasks * SHOAL__TASK_SIZE;
	h->task_bits_off = cur;
	cur += ((((uint64_t)h->max_tasks + 63) / 64) * 8 + 63) & ~63ull;
	h->queue_off = cur;
	h->queue_bytes = shoal__queue_bytes(shoal__pow2(h->max_tasks));
	cur += (h->queue_bytes + 63) & ~63ull;
	h->classes_off = cur;
	cur += (uint64_t)SHOAL_MAX_CLASSES * sizeof(struct shoal__act_class);
	h->actors_off = cur;
	cur += (uint64_t)h->max_actors * sizeof(struct shoal__actor_slot);
	h->lmeta_off = cur;
	cur += (uint64_t)h->max_lanes * sizeof(struct shoal__lane_meta);
	h->lanes_off = cur;
	h->lane_bytes = shoal__lane_bytes(h->lane_capacity, SHOAL__CALL_SIZE);
	cur += (uint64_t)h->max_lanes * h->lane_bytes;
	h->tl_off = (cur + 63) & ~63ull;
	h->tl_ring_bytes = sizeof(struct shoal__tl_ring) +
			   (uint64_t)h->tl_events * sizeof(struct shoal__tl_event);
	h->tl_ring_bytes = (h->tl_ring_bytes + 63) & ~63ull;
	cur = h->tl_off + (uint64_t)h->tl_rings * h->tl_ring_bytes;
	h->oq_off = (cur + 63) & ~63ull;
	h->oq_slot_bytes = sizeof(struct shoal__oq_hdr) +
			   (uint64_t)h->queue_cells * sizeof(struct shoal__oq_cell);
	return h->oq_off + (uint64_t)h->max_queues * h->oq_slot_bytes;
}

static uint32_t shoal__tl_events_of(uint32_t flags)
{
	return (flags & SHOAL_RUNTIME_NO_TIMELINE) ? 0 : SHOAL__TL_EVENTS;
}

uint64_t shoal__rt_region_bytes(const struct shoal__rt_plan *p)
{
	struct shoal__rt_hdr h = {.max_workers = p->max_workers,
				  .max_tasks = p->max_tasks,
				  .max_actors = p->max_actors,
				  .max_lanes = p->max_lanes,
				  .lane_capacity = p->lane_capacity,
				  .tl_rings = p->tl_rings,
				  .tl_events = shoal__tl_events_of(p->flags),
				  .max_queues = p->max_queues,
				  .queue_cells = p->queue_cells};

	return shoal__rt_layout(&h);
}

static void shoal__rt_names(struct shoal__rt_hdr *h,
			    const struct shoal_registry *reg)
{
	char *names = (char *)h + h->fnames_off;

	h->nfuncs = reg->n;
	for (uint32_t i = 0; i < reg->n; i++)
		memcpy(names + (uint64_t)i * SHOAL__FN_NAME_SIZE, reg->fns[i].name,
		       SHOAL__FN_NAME_SIZE);
}

static void shoal__act_classes_init(struct shoal__rt_hdr *h,
				    const struct shoal_registry *reg)
{
	struct shoal__act_class *c =
		(struct shoal__act_class *)((uint8_t *)h + h->classes_off);

	h->nclasses = reg->nclasses;
	for (uint32_t i = 0; i < reg->nclasses; i++) {
		memcpy(c[i].name, reg->classes[i].name, sizeof c[i].name);
		c[i].nmethods = reg->classes[i].nmethods;
		for (uint32_t m = 0; m < c[i].nmethods; m++) {
			memcpy(c[i].methods[m], reg->classes[i].methods[m].name,
			       sizeof c[i].methods[m]);
			c[i].method_group[m] = (uint8_t)reg->classes[i].methods[m].group;
		}
		c[i].ngroups = reg->classes[i].ngroups ? reg->classes[i].ngroups : 1;
		for (uint32_t g = 1; g < c[i].ngroups; g++)
			c[i].group_threads[g] = reg->classes[i].groups[g].threads;
	}
}

/* Every record FREE (zeroed memory), and its bit set.  Relaxed: the
 * region is laid out before the fork server is forked (rtlayout.h). */
static void shoal__rt_tasks_init(struct shoal__rt_hdr *h)
{
	_Atomic uint64_t *bits =
		(_Atomic uint64_t *)((uint8_t *)h + h->task_bits_off);
	uint32_t words = (h->max_tasks + 63) / 64;

	for (uint32_t w = 0; w < words; w++) {
		uint32_t n = h->max_tasks - w * 64;

		atomic_store_explicit(&bits[w], n >= 64 ? ~0ull : (1ull << n) - 1,
				      memory_order_relaxed);
	}
	atomic_store_explicit(&h->task_hint, 0, memory_order_relaxed);
	atomic_store_explicit(&h->task_top, 0, memory_order_relaxed);
}

/* Every cell FREE for its first position (cell i: FREE(i)), every slot
 * FREE.  Relaxed: laid out before the fork server (rtlayout.h). */
static void shoal__oq_region_init(struct shoal__rt_hdr *h)
{
	for (uint32_t q = 0; q < h->max_queues; q++) {
		uint8_t *b = (uint8_t *)h + h->oq_off + q * h->oq_slot_bytes;
		struct shoal__oq_cell *c =
			(struct shoal__oq_cell *)(b + sizeof(struct shoal__oq_hdr));

		for (uint32_t i = 0; i < h->queue_cells; i++)
			atomic_store_explicit(&c[i].word,
					      SHOAL__OQ_WORD(i, SHOAL__OQ_FREE, 0),
					      memory_order_relaxed);
	}
}

int shoal__rt_region_init(void *region, const struct shoal__rt_plan *p,
			  const struct shoal_registry *reg)
{
	struct shoal__rt_hdr *h = region;
	int rc;

	h->magic = SHOAL__RT_MAGIC;
	h->version = SHOAL__RT_VERSION;
	h->num_workers = p->num_workers;
	h->max_workers = p->max_workers;
	h->max_tasks = p->max_tasks;
	h->max_actors = p->max_actors;
	h->max_lanes = p->max_lanes;
	h->lane_capacity = p->lane_capacity;
	h->flags = p->flags;
	h->tl_rings = p->tl_rings;
	h->tl_events = shoal__tl_events_of(p->flags);
	h->max_queues = p->max_queues;
	h->queue_cells = p->queue_cells;
	shoal__clock_calibrate(&h->clock);
	shoal__rt_layout(h);
	shoal__rt_names(h, reg);
	shoal__act_classes_init(h, reg);
	shoal__rt_tasks_init(h);
	shoal__oq_region_init(h);
	rc = shoal__rt_fs_alive_init(h);
	if (rc)
		return rc;
	return shoal__queue_init((uint8_t *)h + h->queue_off, shoal__pow2(h->max_tasks));
}

/* Checks a private copy h of the region's header against the region's
 * size: ranges, and offsets equal to the layout they imply. */
static int shoal__rt_hdr_check(const struct shoal__rt_hdr *h, uint64_t size)
{
	struct shoal__rt_hdr p;

	if (h->magic != SHOAL__RT_MAGIC)
		return SHOAL_EBADSEGMENT;
	if (h->version != SHOAL__RT_VERSION)
		return SHOAL_EVERSION;
	if (h->max_workers == 0 || h->max_workers > SHOAL__RT_MAX_WORKERS ||
	    h->num_workers > h->max_workers || h->max_tasks == 0 ||
	    h->max_tasks > SHOAL__RT_MAX_TASKS || h->nfuncs > SHOAL_MAX_FUNCTIONS ||
	    h->max_actors > SHOAL__ACT_MAX_ACTORS || h->max_lanes > SHOAL__ACT_MAX_LANES ||
	    h->nclasses > SHOAL_MAX_CLASSES ||
	    (h->flags & ~(uint32_t)SHOAL_RUNTIME_FLAGS_ALL) ||
	    h->tl_rings > SHOAL__TL_MAX_RINGS ||
	    h->tl_events != shoal__tl_events_of(h->flags) ||
	    !shoal__lane_bytes(h->lane_capacity, SHOAL__CALL_SIZE) ||
	    h->max_queues > SHOAL__OQ_MAX_QUEUES ||
	    h->queue_cells > SHOAL__OQ_MAX_CAPACITY ||
	    (h->queue_cells & (h->queue_cells - 1)) ||
	    (h->max_queues && !h->queue_cells))
		return SHOAL_EBADSEGMENT;
	p = (struct shoal__rt_hdr){.max_workers = h->max_workers,
				   .max_tasks = h->max_tasks,
				   .max_actors = h->max_actors,
				   .max_lanes = h->max_lanes,
				   .lane_capacity = h->lane_capacity,
				   .tl_rings = h->tl_rings,
				   .tl_events = h->tl_events,
				   .max_queues = h->max_queues,
				   .queue_cells = h->queue_cells};
	if (shoal__rt_layout(&p) > size || p.workers_off != h->workers_off ||
	    p.fnames_off != h->fnames_off || p.tasks_off != h->tasks_off ||
	    p.task_bits_off != h->task_bits_off ||
	    p.queue_off != h->queue_off || p.queue_bytes != h->queue_bytes ||
	    p.classes_off != h->classes_off || p.actors_off != h->actors_off ||
	    p.lmeta_off != h->lmeta_off || p.lanes_off != h->lanes_off ||
	    p.lane_bytes != h->lane_bytes || p.tl_off != h->tl_off ||
	    p.tl_ring_bytes != h->tl_ring_bytes || p.oq_off != h->oq_off ||
	    p.oq_slot_bytes != h->oq_slot_bytes)
		return SHOAL_EBADSEGMENT;
	return 0;
}

int shoal__rt_view_open(struct shoal__rt_view *v, void *region, uint64_t size)
{
	struct shoal__rt_hdr h;
	uint8_t *b = region;
	int rc;

	if (!region || size < SHOAL__RT_HDR_SIZE)
		return SHOAL_EBADSEGMENT;
	/* One copy, checked, and only it used: the header can change under
	 * us at any time. */
	memcpy(&h, region, sizeof h);
	rc = shoal__rt_hdr_check(&h, size);
	if (rc)
		return rc;
	*v = (struct shoal__rt_view){
		.hdr = region,
		.num_workers = h.num_workers,
		.max_workers = h.max_workers,
		.max_tasks = h.max_tasks,
		.nfuncs = h.nfuncs,
		.max_actors = h.max_actors,
		.max_lanes = h.max_lanes,
		.lane_capacity = h.lane_capacity,
		.nclasses = h.nclasses,
		.flags = h.flags,
		.tl_rings = h.tl_rings,
		.tl_events = h.tl_events,
		.tl_ring_bytes = h.tl_ring_bytes,
		.clock = h.clock,
		.lane_bytes = h.lane_bytes,
		.workers = (struct shoal__rt_worker *)(b + h.workers_off),
		.fnames = (const char *)(b + h.fnames_off),
		.tasks = (struct shoal__task_rec *)(b + h.tasks_off),
		.task_bits = (_Atomic uint64_t *)(b + h.task_bits_off),
		.classes = (struct shoal__act_class *)(b + h.classes_off),
		.actors = (struct shoal__actor_slot *)(b + h.actors_off),
		.lmeta = (struct shoal__lane_meta *)(b + h.lmeta_off),
		.lanes = b + h.lanes_off,
		.tl = b + h.tl_off,
		.max_queues = h.max_queues,
		.queue_cells = h.queue_cells,
		.oq_slot_bytes = h.oq_slot_bytes,
		.oq = b + h.oq_off,
	};
	return shoal__queue_open(&v->queue, b + h.queue_off, h.queue_bytes);
}

#define SHOAL__WARM_TASKS 1024u /* task records touched at start */
#define SHOAL__WARM_IDS 1024u   /* IDs whose directory run is touched */

void shoal__rt_warm(const struct shoal_runtime *rt)
{
	const struct shoal__rt_view *v = &rt->v;
	uint32_t n = v->max_tasks < SHOAL__WARM_TASKS ? v->max_tasks
						     : SHOAL__WARM_TASKS;
	/* Read-only since before the fork server: only hashed to a slot. */
	shoal_id first = {.hi = v->hdr->warm_hi, .lo = v->hdr->warm_lo};
	uint32_t per_page = 4096 / sizeof(struct shoal__tl_event);

	/* Relaxed, every load here: the header's paragraph on warming. */
	for (uint32_t i = 0; i < n; i++)
		(void)atomic_load_explicit(&v->tasks[i].state, memory_order_relaxed);
	shoal__store_warm_ids(rt->store, first, SHOAL__WARM_IDS);
	for (uint32_t i = 0; rt->tl.ev && i <= rt->tl.mask; i += per_page)
		(void)atomic_load_explicit(&rt->tl.ev[i].w[0], memory_order_relaxed);
}

const char *shoal__rt_fname(const struct shoal__rt_view *v, uint32_t fn)
{
	return fn < v->nfuncs ? v->fnames + (uint64_t)fn * SHOAL__FN_NAME_SIZE
			      : "?";
}

struct shoal__lane_view shoal__lane_at(const struct shoal__rt_view *v,
				       uint32_t i)
{
	return shoal__lane_view_of(v->lanes + (uint64_t)i * v->lane_bytes,
				   v->lane_capacity, SHOAL__CALL_SIZE);
}
