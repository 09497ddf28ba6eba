/* SPDX-License-Identifier: MIT */
/*
 * base/deadline.h - deadlines, and the bound of a wait for a word another
 * process holds (implemented in event.c).  Its own header so that the heap
 * (heap.c), which knows nothing of the store handle, bounds its lock's
 * wait the same way the store's other waits are bounded.
 *
 * Words another process holds.  A directory stripe lock, a REPAIR bit, the
 * heap's lock, a ledger's odd seqcount, a flagged ledger record: each is
 * held by a live process for a few writes, and its holder's death is
 * noticed (proc.c's death test, the robust mutex).  But a holder that
 * stays alive and never lets go (stopped, or a same-user neighbour that
 * scribbled the word and lives on) would hold every other process for
 * ever.  So each such wait has a bound (struct shoal__later): the
 * caller's timeout where the public call has one, at least
 * SHOAL__LOCK_MIN_MS (shoal__lock_by), SHOAL__LOCK_FOREVER_MS where the
 * caller said "for ever" (timeout < 0: that promise is about the event it
 * waits for, room or a seal, not about a word a neighbour may hold for as
 * long as it lives), and SHOAL__LOCK_MIN_MS where it has none.  Past it
 * the call gives up with -ETIMEDOUT (after withdrawing whatever it had
 * started, each call's comment says how).
 */
#ifndef SHOAL_STORE_DEADLINE_H
#define SHOAL_STORE_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

/* The least time a wait gives a live holder of a word it needs: a holder
 * holds it for a few writes, but one the scheduler took off its CPU holds
 * it for as long as it is off (tens of ms on a loaded machine; a floor of
 * 10 ms failed two_processes_churning_the_cache_never_fail under ASan).
 * Every such wait, a try's (timeout 0) too, waits this long at least. */
#define SHOAL__LOCK_MIN_MS 1000
/* The bound of those waits in a call that waits for ever (timeout < 0),
 * a worker writing a task's result among them: far past any live
 * holder's few writes, short enough that a neighbour holding the word
 * does not take the process with it. */
#define SHOAL__LOCK_FOREVER_MS 10000

struct shoal__deadline {
	int64_t ns; /* CLOCK_MONOTONIC; INT64_MAX = never, 0 = poll */
};
struct shoal__deadline shoal__deadline_in(int timeout_ms);
bool shoal__deadline_passed(struct shoal__deadline d);
/* A caller's timeout whose clock is read only when a wait first needs
 * it (shoal__later_get): a call that never waits never reads the clock.
 * The bound starts at that first wait; what runs before it never sleeps
 * (a submit's or a call's fast path), so every wait still ends within
 * timeout_ms of the first one. */
struct shoal__later {
	int timeout_ms; /* the caller's: < 0 never, 0 poll */
	bool read;
	struct shoal__deadline d;
};
static inline struct shoal__later shoal__later_in(int timeout_ms)
{
	return (struct shoal__later){.timeout_ms = timeout_ms};
}
struct shoal__deadline shoal__later_get(struct shoal__later *l);

/* The bound of the waits for words other processes hold, in a call whose
 * caller gave timeout_ms: at least SHOAL__LOCK_MIN_MS; for a caller that
 * waits for ever (< 0), SHOAL__LOCK_FOREVER_MS.  A call that has no
 * timeout passes 0: SHOAL__LOCK_MIN_MS. */
static inline struct shoal__later shoal__lock_by(int timeout_ms)
{
	return shoal__later_in(timeout_ms < 0 ? SHOAL__LOCK_FOREVER_MS
			       : timeout_ms < SHOAL__LOCK_MIN_MS ? SHOAL__LOCK_MIN_MS
								 : timeout_ms);
}

#endif /* SHOAL_STORE_DEADLINE_H */
