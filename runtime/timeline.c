/* SPDX-License-Identifier: MIT */
/*
 * runtime/timeline.c - recording into a process's timeline ring and
 * reading one back (the layout and its invariants: timeline.h).
 *
 * The recorder runs on the hot path of every task and call a worker or an
 * actor runs: no read-modify-write, no system call, no branch on the
 * reader.  A reader copies an event word by word between two loads of its
 * seq word and keeps it only if both say the event it wanted.
 */
#include <string.h>
#include <unistd.h>

#include "rt.h"
#include "timeline.h"

struct shoal__tl_ring *shoal__tl_ring_at(const struct shoal__rt_view *v,
					 uint32_t slot)
{
	if (!v->tl || slot >= v->tl_rings)
		return NULL;
	return (struct shoal__tl_ring *)(v->tl + (uint64_t)slot * v->tl_ring_bytes);
}

void shoal__tl_open(struct shoal__tl *t, const struct shoal__rt_view *v,
		    uint32_t creator, const char *label)
{
	uint64_t words[SHOAL__TL_LABEL / 8] = {0};

	*t = (struct shoal__tl){.clock = v->clock, .pid = (int32_t)getpid()};
	t->ring = shoal__tl_ring_at(v, creator >> 20);
	if (!t->ring)
		return;
	if (v->tl_events) {
		t->ev = (struct shoal__tl_event *)(t->ring + 1);
		t->mask = v->tl_events - 1;
	}
	strncpy((char *)words, label, sizeof words - 1);
	/* Relaxed, then TL-R3: the pid and label before the creator word. */
	atomic_store_explicit(&t->ring->pid, t->pid, memory_order_relaxed);
	for (uint32_t i = 0; i < SHOAL__TL_LABEL / 8; i++)
		atomic_store_explicit(&t->ring->label[i], words[i], memory_order_relaxed);
	atomic_store_explicit(&t->ring->creator, creator, memory_order_release); /* TL-R3 */
}

uint32_t shoal__tl_bucket(uint64_t ns)
{
	uint64_t us = (ns + 999) / 1000;
	uint32_t k = us <= 1 ? 0 : 64u - (uint32_t)__builtin_clzll(us - 1);

	return k < SHOAL__TL_BUCKETS ? k : SHOAL__TL_BUCKETS - 1;
}

/* Single writer: a load and a store, no read-modify-write (relaxed). */
static inline void shoal__tl_add(_Atomic uint64_t *w, uint64_t d)
{
	atomic_store_explicit(w, atomic_load_explicit(w, memory_order_relaxed) + d,
			      memory_order_relaxed);
}

static void shoal__tl_hist(struct shoal__tl *t, uint32_t h, uint64_t ticks)
{
	uint64_t ns = shoal__clock_dur(&t->clock, ticks);

	shoal__tl_add(&t->ring->count[h], 1);
	shoal__tl_add(&t->ring->sum_ns[h], ns);
	shoal__tl_add(&t->ring->hist[h][shoal__tl_bucket(ns)], 1);
}

static void shoal__tl_event(struct shoal__tl *t, const struct shoal__tl_rec *r)
{
	/* Relaxed: our own head (single writer). */
	uint64_t n = atomic_load_explicit(&t->ring->head, memory_order_relaxed);
	struct shoal__tl_event *e = &t->ev[n & t->mask];
	const uint64_t w[SHOAL__TL_WORDS] = {
		0, r->t_submit, r->t_start, r->t_end, r->id_hi, r->id_lo,
		(uint64_t)(r->kind & 0xffu) | (uint64_t)(r->who & 0xffffffu) << 8 |
			(uint64_t)r->what << 32,
		(uint64_t)r->from | (uint64_t)(uint32_t)r->rc << 32,
		(uint64_t)(uint32_t)t->pid | (uint64_t)r->klass << 32,
	};

	atomic_store_explicit(&e->w[0], 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release); /* TL-R1: seq 0 first */
	for (uint32_t i = 1; i < SHOAL__TL_WORDS; i++)
		atomic_store_explicit(&e->w[i], w[i], memory_order_relaxed);
	atomic_store_explicit(&e->w[0], n + 1, memory_order_release);       /* TL-R1 */
	atomic_store_explicit(&t->ring->head, n + 1, memory_order_release); /* TL-R2 */
}

void shoal__tl_record(struct shoal__tl *t, const struct shoal__tl_rec *r)
{
	uint32_t run = r->kind == SHOAL__TL_TASK ? SHOAL__H_TASK_RUN : SHOAL__H_CALL_RUN;

	if (!t->ring)
		return;
	shoal__tl_hist(t, run, r->t_end - r->t_start);
	if (r->t_submit && r->t_submit <= r->t_end)
		shoal__tl_hist(t, run + 1, r->t_end - r->t_submit);
	if (t->ev)
		shoal__tl_event(t, r);
}

bool shoal__tl_read(const struct shoal__tl_event *ev, uint32_t mask,
		    uint64_t n, struct shoal__tl_rec *out, int32_t *pid)
{
	const struct shoal__tl_event *e = &ev[n & mask];
	uint64_t w[SHOAL__TL_WORDS];

	if (atomic_load_explicit(&e->w[0], memory_order_acquire) != n + 1) /* TL-A1 */
		return false;
	for (uint32_t i = 1; i < SHOAL__TL_WORDS; i++)
		w[i] = atomic_load_explicit(&e->w[i], memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire); /* TL-A1: then the re-check */
	if (atomic_load_explicit(&e->w[0], memory_order_relaxed) != n + 1)
		return false;
	*out = (struct shoal__tl_rec){
		.t_submit = w[1], .t_start = w[2], .t_end = w[3],
		.id_hi = w[4], .id_lo = w[5],
		.kind = (uint32_t)(w[6] & 0xffu),
		.who = (uint32_t)(w[6] >> 8) & 0xffffffu,
		.what = (uint32_t)(w[6] >> 32),
		.from = (uint32_t)w[7], .rc = (int32_t)(uint32_t)(w[7] >> 32),
		.klass = (uint32_t)(w[8] >> 32),
	};
	*pid = (int32_t)(uint32_t)w[8];
	return true;
}
