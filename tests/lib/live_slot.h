/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/live_slot.h - the store process slot a live pid holds, read
 * from the segment (whitebox: store/internal.h).  Header-only (static
 * inline), like stalled.h: each test links the store its own way (the
 * crash-point build or the plain one).
 */
#ifndef SHOAL_TEST_LIVE_SLOT_H
#define SHOAL_TEST_LIVE_SLOT_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <sys/types.h>

#include "internal.h"

/* The slot whose state is LIVE and names pid, or UINT32_MAX. */
static inline uint32_t tu_live_slot(struct shoal_store *s, pid_t pid)
{
	for (uint32_t i = 0; i < s->geo.max_procs; i++) {
		uint64_t st = atomic_load(&s->procs[i].state);

		if (SHOAL__PROC_PHASE(st) == SHOAL__PROC_LIVE &&
		    SHOAL__PROC_PID(st) == pid)
			return i;
	}
	return UINT32_MAX;
}

/* The same, asserted: the test fails if pid holds no live slot. */
static inline uint32_t tu_live_slot_of(struct shoal_store *s, pid_t pid)
{
	uint32_t i = tu_live_slot(s, pid);

	cr_assert_neq(i, UINT32_MAX, "no live slot for pid %d", (int)pid);
	return i;
}

#endif /* SHOAL_TEST_LIVE_SLOT_H */
