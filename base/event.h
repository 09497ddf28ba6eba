/* SPDX-License-Identifier: MIT */
/*
 * base/event.h - wake-up lines in shared memory and the futex wait under
 * them (event.c has the protocol and why no wake-up is lost).
 *
 * Used by every layer: the store's object and space events, the ring's
 * doorbells, the runtime's ready and work lines.  Nothing here knows who
 * waits or why.
 */
#ifndef SHOAL_BASE_EVENT_H
#define SHOAL_BASE_EVENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "deadline.h"

/*
 * A wake-up line (event.c), on its own cache line.  seq: bumped by the
 * event's producers (seq_cst, EV-R1), read by waiters (EV-A1); waiters:
 * count of registered waiters (seq_cst increment by each, EV-S1,
 * decrement after); sleepers: a flag a waiter raises before it enters the
 * kernel and a producer takes down with an exchange before its FUTEX_WAKE
 * (EV-S3, EV-S4).
 */
struct shoal__event {
	_Atomic uint32_t seq;
	_Atomic uint32_t waiters;
	_Atomic uint32_t sleepers;
	uint8_t pad_[64 - 12];
};

/* A pause for a spinning loop (x86 pause, arm64 yield). */
void shoal__cpu_relax(void);

/* Waits until *seq != seen, the deadline, or a wake.  Returns 0 (woken or
 * changed) or -ETIMEDOUT.  Spins up to `spin` pauses first, then raises
 * the *sleepers flag before it enters the kernel. */
int shoal__futex_wait(_Atomic uint32_t *seq, _Atomic uint32_t *sleepers,
		      uint32_t seen, struct shoal__deadline d, uint32_t spin);
/* Spins up to `spin` pauses until ready(arg) (yielding the CPU now and
 * then, as the spin of shoal__futex_wait does, and giving up at d): true
 * once ready.  Registers nothing: for a waiter that watches its producer's
 * own line before it registers and sleeps (event.c).  ready's loads need
 * no order (a hint: the caller re-checks). */
bool shoal__spin_until(bool (*ready)(void *arg), void *arg, uint32_t spin,
		       struct shoal__deadline d);
/* An event's side of the protocol: a waiter takes `seen` with
 * shoal__event_seen(), registers (waiters), re-checks, then waits. */
static inline uint32_t shoal__event_seen(struct shoal__event *ev)
{
	return atomic_load_explicit(&ev->seq, memory_order_acquire); /* EV-A1 */
}

static inline int shoal__event_wait(struct shoal__event *ev, uint32_t seen,
				    struct shoal__deadline d, uint32_t spin)
{
	return shoal__futex_wait(&ev->seq, &ev->sleepers, seen, d, spin);
}

void shoal__event_signal(struct shoal__event *ev);

/* What a waiter waits for: ready(arg) is the re-check, made after it
 * registered and after a seq_cst fence (EV-S1), so its loads may have any
 * order; it may do work (a try).  sleeping, if not
 * NULL, is called around the sleep itself (true before, false after). */
struct shoal__await {
	bool (*ready)(void *arg);
	void (*sleeping)(void *arg, bool asleep);
	void *arg;
};
/* Registers on ev, re-checks, sleeps if not ready, unregisters: every
 * waiter's half of the protocol (event.c, EV-A1, EV-S1).  1 if ready at
 * the re-check (no sleep), 0 after a sleep that ended early (a signal or
 * a spurious wake-up: check again), -ETIMEDOUT once d passed asleep. */
int shoal__event_await(struct shoal__event *ev, struct shoal__deadline d,
		       uint32_t spin, const struct shoal__await *w);

#endif /* SHOAL_BASE_EVENT_H */
