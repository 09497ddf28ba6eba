/* SPDX-License-Identifier: MIT */
/*
 * store/object/list.c - list and stats: relaxed snapshots of the
 * directory and the per-slot counters; nothing here changes shared state.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "object_int.h"

/* ------------------------------------------------------------------ */
/* List and stats.                                                     */

static bool shoal__info_of(struct shoal_store *s, uint32_t i,
			   struct shoal_object_info *out)
{
	const struct shoal__entry *e = &s->dir[i];
	struct shoal__desc d;
	shoal_id id;
	uint64_t c, again;
	unsigned st;

	do { /* ENT-A1, as for the ID: the entry may be reused meanwhile */
		c = shoal__dir_read_id(e, &id);
		d = shoal__entry_desc(e);
		atomic_thread_fence(memory_order_acquire); /* ENT-A1 */
		again = atomic_load_explicit(&e->ctl, memory_order_relaxed);
	} while (SHOAL__CTL_STATE(c) != SHOAL__CTL_STATE(again) ||
		 SHOAL__CTL_GEN(c) != SHOAL__CTL_GEN(again));
	st = SHOAL__CTL_STATE(c);
	if (st != SHOAL__E_CREATED && st != SHOAL__E_SEALED)
		return false;
	*out = (struct shoal_object_info){
		.id = id,
		.data_size = d.size,
		.meta_size = d.meta_size,
		.state = (c & SHOAL__CTL_DELETING) ? SHOAL_OBJECT_DELETING
			 : st == SHOAL__E_SEALED   ? SHOAL_OBJECT_SEALED
						   : SHOAL_OBJECT_CREATED,
		.pins = st == SHOAL__E_SEALED ? SHOAL__CTL_PINS(c) : 0,
		.holds = SHOAL__CTL_HOLDS(c),
		.creator_pid = d.pid,
	};
	return true;
}

SHOAL_API int shoal_list(struct shoal_store *store,
			 struct shoal_object_info *out, size_t cap)
{
	struct shoal_object_info info;
	size_t n = 0;

	if (!store || (cap && !out))
		return -EINVAL;
	for (uint32_t i = 0; i <= store->dir_mask; i++) {
		if (!shoal__info_of(store, i, &info))
			continue;
		if (n < cap)
			out[n] = info;
		n++;
	}
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

/* Relaxed: a count for stats, a snapshot.  The slots a process keeps
 * only, as max_procs below: a claimer in a reserve slot (layout.h) has
 * not attached yet. */
static uint32_t shoal__live_procs(struct shoal_store *s)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < s->geo.max_procs - SHOAL__PROC_RESERVE; i++)
		n += SHOAL__PROC_PHASE(atomic_load_explicit(
			     &s->procs[i].state, memory_order_relaxed)) ==
		     SHOAL__PROC_LIVE;
	return n;
}

SHOAL_API int shoal_store_stats(struct shoal_store *store,
				struct shoal_store_stats *out)
{
	struct shoal__seg_hdr *h;
	int64_t objects, bytes;

	if (!store || !out)
		return -EINVAL;
	h = store->hdr;
	/* Relaxed, the counters below: statistics (layout.h).  The sizes
	 * are the geometry this handle checked, not the header's words,
	 * which any process that can write the segment may change. */
	shoal__store_totals(store, &objects, &bytes);
	*out = (struct shoal_store_stats){
		.capacity = store->geo.capacity,
		.bytes_used = bytes > 0 ? (uint64_t)bytes : 0,
		.objects = objects > 0 ? (uint64_t)objects : 0,
		.max_objects = store->geo.max_objects,
		.evictions = atomic_load_explicit(&h->evictions, memory_order_relaxed),
		.evicted_bytes = atomic_load_explicit(&h->evicted_bytes,
						      memory_order_relaxed),
		.heap_bytes_reserved = shoal__heap_reserved(&store->heap),
		.processes = shoal__live_procs(store),
		.max_procs = store->geo.max_procs - SHOAL__PROC_RESERVE,
		.reaped = atomic_load_explicit(&h->reaped, memory_order_relaxed),
	};
	return 0;
}

