/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/crash_check.c - the checks of crash_check.h, on the store's
 * internal layout (store/internal.h).  The layout is the same with crash
 * points armed or not; this file is built with the crash build's include
 * path because the crash-point suite is its only user.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "crash_check.h"

static bool cc_fail(struct cc_report *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->why, sizeof r->why, fmt, ap);
	va_end(ap);
	return false;
}

bool cc_check_locks(struct shoal_store *s, struct cc_report *r)
{
	for (uint32_t i = 0; i < s->geo.nstripes; i++) {
		uint32_t v = atomic_load(&s->stripes[i]);

		if (v)
			return cc_fail(r, "stripe %u locked by slot %u", i, v - 1);
	}
	for (uint32_t i = 0; i <= s->dir_mask; i++) {
		uint64_t c = atomic_load(&s->dir[i].ctl);

		if ((c & SHOAL__CTL_REPAIR) ||
		    (SHOAL__CTL_STATE(c) == SHOAL__E_CREATED &&
		     (c & SHOAL__CTL_FILLING)))
			return cc_fail(r, "entry %u ctl %#llx: REPAIR/FILLING left",
				       i, (unsigned long long)c);
		if (SHOAL__CTL_STATE(c) != SHOAL__E_SEALED && SHOAL__CTL_MARK(c))
			return cc_fail(r, "entry %u ctl %#llx: end mark of slot %u "
				       "left", i, (unsigned long long)c,
				       SHOAL__CTL_MARK(c) - 1);
	}
	if (atomic_load(&s->hdr->repair))
		return cc_fail(r, "repair word %#llx still held",
			       (unsigned long long)atomic_load(&s->hdr->repair));
	return true;
}

static bool cc_check_procs(struct shoal_store *s, struct cc_report *r)
{
	for (uint32_t i = 0; i < s->geo.max_procs; i++) {
		uint64_t st = atomic_load(&s->procs[i].state);
		uint32_t ph = SHOAL__PROC_PHASE(st);
		struct shoal__proc *p = &s->procs[i];

		if (ph == SHOAL__PROC_FREE)
			continue;
		if (ph != SHOAL__PROC_LIVE || shoal__proc_dead(s, i))
			return cc_fail(r, "slot %u phase %u who %#x: not reaped", i,
				       ph, (unsigned)SHOAL__PROC_PID(st));
		if (atomic_load(&p->intent.op) || atomic_load(&p->free.active))
			return cc_fail(r, "slot %u: intent %u / end record %u "
				       "still armed", i, atomic_load(&p->intent.op),
				       atomic_load(&p->free.active));
		for (uint32_t k = 0; k < SHOAL__PROC_FILLS; k++)
			if (p->fills[k].stage)
				return cc_fail(r, "slot %u: fill %u at stage %u", i,
					       k, p->fills[k].stage);
	}
	return true;
}

/* Sums every live slot's ledger into pins[] / holds[] by entry index. */
static void cc_sum_ledgers(struct shoal_store *s, uint64_t *pins,
			   uint64_t *holds)
{
	for (uint32_t q = 0; q < s->geo.max_procs; q++) {
		uint64_t st = atomic_load(&s->procs[q].state);
		uint32_t mask;
		_Atomic uint64_t *l = shoal__ledger_table(s, q, &mask);

		if (SHOAL__PROC_PHASE(st) != SHOAL__PROC_LIVE)
			continue;
		for (uint32_t i = 0; i <= mask; i++) {
			uint64_t rec = atomic_load(&l[i]);
			uint32_t idx = SHOAL__LEDGER_KEY(rec) - 1;

			if (!rec || idx > s->dir_mask)
				continue;
			pins[idx] += SHOAL__LEDGER_PINS(rec);
			holds[idx] += SHOAL__LEDGER_HOLDS(rec);
		}
	}
}

static bool cc_check_counts(struct shoal_store *s, struct cc_report *r)
{
	uint64_t *pins = calloc(s->dir_mask + 1, sizeof *pins);
	uint64_t *holds = calloc(s->dir_mask + 1, sizeof *holds);
	bool ok = true;

	if (!pins || !holds) {
		free(pins);
		free(holds);
		return cc_fail(r, "out of memory");
	}
	cc_sum_ledgers(s, pins, holds);
	for (uint32_t i = 0; ok && i <= s->dir_mask; i++) {
		uint64_t c = atomic_load(&s->dir[i].ctl);

		if (SHOAL__CTL_PINS(c) != pins[i] || SHOAL__CTL_HOLDS(c) != holds[i])
			ok = cc_fail(r, "entry %u (state %u): pins %u holds %u, "
				     "ledgers say %llu and %llu", i,
				     SHOAL__CTL_STATE(c), SHOAL__CTL_PINS(c),
				     SHOAL__CTL_HOLDS(c),
				     (unsigned long long)pins[i],
				     (unsigned long long)holds[i]);
	}
	free(pins);
	free(holds);
	return ok;
}

static bool cc_creator_live(struct shoal_store *s, uint32_t creator)
{
	uint32_t slot = creator >> 20;
	uint64_t st;

	if (slot >= s->geo.max_procs)
		return false;
	st = atomic_load(&s->procs[slot].state);
	return SHOAL__PROC_PHASE(st) == SHOAL__PROC_LIVE &&
	       (SHOAL__PROC_GEN(st) & 0xfffffu) == (creator & 0xfffffu);
}

/* Unsealed entries have a live creator; counters match the entries. */
static bool cc_check_entries(struct shoal_store *s, struct cc_report *r)
{
	uint64_t objects = 0, bytes = 0;
	int64_t cnt_objects, cnt_bytes;

	for (uint32_t i = 0; i <= s->dir_mask; i++) {
		uint64_t c = atomic_load(&s->dir[i].ctl);
		struct shoal__desc d = shoal__entry_desc(&s->dir[i]);
		unsigned st = SHOAL__CTL_STATE(c);

		if (st != SHOAL__E_CREATED && st != SHOAL__E_SEALED)
			continue;
		if (st == SHOAL__E_CREATED && !cc_creator_live(s, d.creator))
			return cc_fail(r, "entry %u unsealed, creator %#x gone", i,
				       d.creator);
		if (st == SHOAL__E_SEALED &&
		    atomic_load(&s->dir[i].waiters) != UINT32_MAX &&
		    atomic_load(&s->dir[i].waiters) != 0)
			return cc_fail(r, "entry %u sealed, its waiter stack "
				       "(head %u) never closed", i,
				       atomic_load(&s->dir[i].waiters));
		objects++;
		if (!(d.flags & SHOAL__SIZE_INLINE))
			bytes += d.size + d.meta_size;
	}
	shoal__store_totals(s, &cnt_objects, &cnt_bytes);
	if ((int64_t)objects != cnt_objects)
		return cc_fail(r, "%llu live entries, counters say %lld",
			       (unsigned long long)objects, (long long)cnt_objects);
	if ((int64_t)bytes != cnt_bytes)
		return cc_fail(r, "%llu bytes in live entries, counters say %lld",
			       (unsigned long long)bytes, (long long)cnt_bytes);
	return true;
}

bool cc_check(struct shoal_store *s, struct cc_report *r)
{
	r->why[0] = '\0';
	return cc_check_locks(s, r) && cc_check_procs(s, r) &&
	       cc_check_counts(s, r) && cc_check_entries(s, r);
}
