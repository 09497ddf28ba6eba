/* SPDX-License-Identifier: MIT */
/*
 * base/event.c - waiting on shared futex words, with deadlines.
 *
 * Protocol (DESIGN.md "Waiting"): a waiter registers (seq_cst increment of
 * a waiters count), re-checks its condition, then waits on a sequence word
 * with an absolute deadline; the producer changes the shared state, issues
 * a seq_cst fence, and bumps the sequence only if someone registered.
 * Store-buffer reasoning: of "waiter registers, then reads the state" and
 * "producer writes the state, then reads waiters", with seq_cst on both
 * sides at least one sees the other, so a wake-up is never lost.
 *
 * A registered waiter first spins on the sequence; only one that is about
 * to enter the kernel raises the `sleepers` flag (seq_cst) and re-reads
 * the sequence; the producer, after its bump (seq_cst), takes the flag
 * down with an exchange and makes the FUTEX_WAKE (all) system call only if
 * it was up.  Same reasoning: either the producer sees the flag and wakes
 * every sleeper, or the sleeper sees the bump and does not sleep (and the
 * kernel re-checks the word anyway).  So a producer whose consumers spin
 * pays no system call, and of a burst of signals only the first one after
 * a sleep does (a counter would make every signal pay until the woken
 * sleeper is back on a CPU to count itself out).
 *
 * Memory order.  EV- labels, used wherever the protocol is (the store's
 * events, the ring's doorbells, the runtime's lines); each side names its
 * partner and what the pair makes visible:
 *  EV-R1 (EV-A1)  the producer's bump of seq (seq_cst fetch_add, so a
 *          release): the state it changed before the signal, for a
 *          waiter whose load sees seq move.
 *  EV-A1 (EV-R1)  a waiter's acquire loads of seq (shoal__event_seen,
 *          the spin); event_seen's also stays before the registration,
 *          so a bump after the registration moves seq from `seen`.
 *  EV-S1 (EV-S2)  the waiter registers (seq_cst increment of waiters),
 *          then a seq_cst fence (shoal__event_await's), then re-checks
 *          with loads of any order: it sees the producer's change, or ...
 *  EV-S2 (EV-S1)  ... the producer's seq_cst fence, after its change and
 *          before its load of waiters, comes after the registration in
 *          the total order S, and that load sees the waiter.
 *  EV-S3 (EV-S4)  a sleeper raises sleepers (seq_cst store), then reads
 *          seq again (seq_cst): it sees the bump, or ...
 *  EV-S4 (EV-S3)  ... the producer's bump (seq_cst), then its exchange of
 *          sleepers (seq_cst), sees the flag and makes the FUTEX_WAKE.
 *  relaxed  the load of waiters (ordered by EV-S2's fence); the decrement
 *          (a late one costs a producer one spare bump).
 *
 * A waiter that can watch the state itself (the line its producer writes
 * anyway: a queue's cell, an entry's control word) spins on that first,
 * unregistered (shoal__spin_until), and registers only to sleep: while it
 * spins, the producer's signal finds no waiter and writes nothing, so
 * the hand-over costs the one line the producer had to write, not that
 * line and the event's too (seq's bump, the sleepers exchange, the
 * waiters count: each a cache line moved between CPUs, ~100 ns here).
 *
 * Futexes are the shared (not _PRIVATE) kind: the words live in a
 * MAP_SHARED segment used by several processes.  Before sleeping a waiter
 * spins a bounded number of pauses (the store's spin budget), since a
 * cross-CPU futex wake costs 25-45 µs here and most waits are short.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "event.h"

static int64_t shoal__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct shoal__deadline shoal__deadline_in(int timeout_ms)
{
	struct shoal__deadline d;

	if (timeout_ms < 0)
		d.ns = INT64_MAX;
	else if (timeout_ms == 0)
		d.ns = 0;
	else
		d.ns = shoal__now_ns() + (int64_t)timeout_ms * 1000000;
	return d;
}

struct shoal__deadline shoal__later_get(struct shoal__later *l)
{
	if (!l->read) {
		l->d = shoal__deadline_in(l->timeout_ms);
		l->read = true;
	}
	return l->d;
}

bool shoal__deadline_passed(struct shoal__deadline d)
{
	if (d.ns == INT64_MAX)
		return false;
	return d.ns == 0 || shoal__now_ns() >= d.ns;
}

void shoal__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Every SHOAL__SPIN_YIELD pauses (~13 us here) the spinner yields: when
 * the process it waits for shares its CPU, that one runs after a quarter
 * of the budget (~50 us) instead of all of it; alone on its CPU, a yield
 * is a system call that returns at once.  Measured both ways: every 128
 * pauses took n:n actor calls from 2.6 to 3.9 M/s but cost spinning task
 * round trips half their rate (two spinners sharing a CPU yield to each
 * other); every 512 keeps most of both. */
#define SHOAL__SPIN_YIELD 512u

/* One step of a bounded spin's pacing: a pause, and every
 * SHOAL__SPIN_YIELD-th step a yield, or false once d passed (the
 * deadline is read only then). */
static inline bool shoal__spin_pace(uint32_t i, struct shoal__deadline d)
{
	if (i % SHOAL__SPIN_YIELD != SHOAL__SPIN_YIELD - 1)
		shoal__cpu_relax();
	else if (shoal__deadline_passed(d))
		return false;
	else
		sched_yield();
	return true;
}

/* The deadline is read at each yield too: a spin budget longer than the
 * caller's timeout ends at the timeout, not at the budget. */
static bool shoal__spin_until_change(_Atomic uint32_t *seq, uint32_t seen,
				     uint32_t spin, struct shoal__deadline d)
{
	for (uint32_t i = 0; i < spin; i++) {
		/* EV-A1: the producer's state, once seq moved (EV-R1). */
		if (atomic_load_explicit(seq, memory_order_acquire) != seen)
			return true;
		if (!shoal__spin_pace(i, d))
			return false;
	}
	return false;
}

bool shoal__spin_until(bool (*ready)(void *arg), void *arg, uint32_t spin,
		       struct shoal__deadline d)
{
	for (uint32_t i = 0; i < spin; i++) {
		if (ready(arg))
			return true;
		if (!shoal__spin_pace(i, d))
			return false;
	}
	return false;
}

/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline. */
static int shoal__futex_sleep(_Atomic uint32_t *seq, uint32_t seen,
			      struct shoal__deadline d)
{
	struct timespec ts, *tsp = NULL;

	if (d.ns != INT64_MAX) {
		ts.tv_sec = d.ns / 1000000000;
		ts.tv_nsec = d.ns % 1000000000;
		tsp = &ts;
	}
	if (syscall(SYS_futex, (uint32_t *)seq, FUTEX_WAIT_BITSET, seen, tsp,
		    NULL, FUTEX_BITSET_MATCH_ANY) == 0)
		return 0;
	return errno == ETIMEDOUT ? -ETIMEDOUT : 0; /* EAGAIN/EINTR: recheck */
}

int shoal__futex_wait(_Atomic uint32_t *seq, _Atomic uint32_t *sleepers,
		      uint32_t seen, struct shoal__deadline d, uint32_t spin)
{
	int rc;

	if (shoal__spin_until_change(seq, seen, spin, d))
		return 0;
	if (shoal__deadline_passed(d))
		return -ETIMEDOUT;
	/* EV-S3: the flag up, then seq read again. */
	atomic_store_explicit(sleepers, 1, memory_order_seq_cst);
	rc = atomic_load_explicit(seq, memory_order_seq_cst) != seen /* EV-S3 */
		     ? 0 : shoal__futex_sleep(seq, seen, d);
	return rc; /* the flag stays up: at worst one spare wake-up call */
}

void shoal__event_signal(struct shoal__event *ev)
{
	atomic_thread_fence(memory_order_seq_cst); /* EV-S2 */
	/* Relaxed: ordered after the caller's change by EV-S2's fence. */
	if (atomic_load_explicit(&ev->waiters, memory_order_relaxed) == 0)
		return;
	/* EV-R1 and EV-S4: the bump, ... */
	atomic_fetch_add_explicit(&ev->seq, 1, memory_order_seq_cst);
	/* ... then EV-S4's flag taken down. */
	if (!atomic_exchange_explicit(&ev->sleepers, 0, memory_order_seq_cst))
		return; /* spinners see the bump: no system call */
	syscall(SYS_futex, (uint32_t *)&ev->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/*
 * The waiter's half of the protocol, the one place it is written.
 * EV-A1: seen is read (acquire) before the registration, so a signal after
 * it changes seq from seen; EV-S1: the registration is a seq_cst
 * increment, then a seq_cst fence orders it before the re-check's loads,
 * whatever their order (an acquire load may otherwise be satisfied before
 * the increment is visible, in C11's model and on RCpc hardware), and
 * pairs with the seq_cst fence that starts shoal__event_signal (EV-S2: a
 * producer that changed the state before it read waiters saw us
 * registered, or our re-check sees its change).  The fence costs one
 * barrier on a path that is about to sleep.  The decrement is relaxed: a
 * late one costs a producer at most one spare bump.
 */
int shoal__event_await(struct shoal__event *ev, struct shoal__deadline d,
		       uint32_t spin, const struct shoal__await *w)
{
	uint32_t seen = shoal__event_seen(ev); /* EV-A1 */
	int rc = 1;

	atomic_fetch_add_explicit(&ev->waiters, 1, memory_order_seq_cst); /* EV-S1 */
	atomic_thread_fence(memory_order_seq_cst); /* EV-S1: before the re-check */
	if (!w->ready(w->arg)) {
		if (w->sleeping)
			w->sleeping(w->arg, true);
		rc = shoal__event_wait(ev, seen, d, spin);
		if (w->sleeping)
			w->sleeping(w->arg, false);
	}
	atomic_fetch_sub_explicit(&ev->waiters, 1, memory_order_relaxed);
	return rc;
}
