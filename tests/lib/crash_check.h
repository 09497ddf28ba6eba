/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/crash_check.h - what "the survivors repaired everything" means, as
 * checks on a store's shared state (internal layout), for tests that kill
 * processes at crash points (test_crash_points.c).
 *
 * Call cc_check() on a quiescent store: every process that had it open is
 * either dead and already reaped, or the caller (whose own calls have all
 * returned).  It then holds that:
 *   - no directory stripe lock is held, no entry is marked REPAIR or
 *     FILLING or carries an end mark, the repair word is free, and no
 *     live process has an intent, end record or fill armed (nobody is in
 *     the middle of anything);
 *   - every process slot is FREE, or LIVE with a running owner;
 *   - every entry's pins and holds equal the sum of the live processes'
 *     ledger records for it (no count given back twice or never);
 *   - no unsealed entry outlives its creator;
 *   - no sealed entry has waiters linked on an open stack (threads, or
 *     the runtime's parked tasks, that nobody will ever wake);
 *   - the header's object and byte counters equal what the live entries
 *     add up to.
 * The first violation is described in `why`.  The code is in crash_check.c
 * (static library testlib_crash).
 */
#ifndef SHOAL_TESTS_CRASH_CHECK_H
#define SHOAL_TESTS_CRASH_CHECK_H

#include <stdbool.h>

#include "internal.h"

struct cc_report {
	char why[512];
};

/* All of the above: true if the store is whole. */
bool cc_check(struct shoal_store *s, struct cc_report *r);

/* Only the first point: no stripe lock held, no entry marked REPAIR or
 * FILLING or carrying an end mark, the repair word free. */
bool cc_check_locks(struct shoal_store *s, struct cc_report *r);

#endif /* SHOAL_TESTS_CRASH_CHECK_H */
