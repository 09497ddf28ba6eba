/* SPDX-License-Identifier: MIT */
/*
 * store/waiters.c - the closable waiter stack of a directory entry, and
 * the waiter records it links.
 *
 * Each entry's `waiters` word is the head of a push-only stack of waiter
 * records (layout.h): 0 is empty, SHOAL__WAITERS_CLOSED means the entry was
 * sealed or freed, anything else is a record index + 1.  A waiter pushes
 * its record with a CAS; whoever seals or frees the entry swaps in CLOSED
 * with one exchange and wakes every record of the chain it took.  A push
 * that finds CLOSED does not link: the waiter re-checks at once.  Nothing
 * is ever popped singly, so the stack has no ABA problem.
 *
 * No lost wake-up (Dekker, seq_cst on both sides): the sealer changes ctl,
 * then exchanges the head; the waiter pushes, then reloads ctl.  Either the
 * exchange takes the waiter's record, or the waiter's reload sees the
 * entry sealed (or reused) and withdraws.
 *
 * Records live in their owner's process slot (SHOAL__PROC_WAITERS each),
 * so a process with more threads blocked at once than that falls back to
 * the header's object event (object.c).  A record that the owner gave up
 * on (timeout) while it was still linked is ABANDONED; the drainer that
 * later meets it frees it.  A reaper abandons a dead owner's linked records
 * and frees its woken ones.  A record can be woken for an entry reused
 * since the push (a spurious wake-up): waiters always re-check.
 *
 * Task dependencies: the runtime links task nodes into the same stacks
 * (runtime/deps.c), with references tagged so that shoal__dep_is_ref()
 * tells them apart; draining one resolves that dependency instead of
 * waking a thread.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define SHOAL__WAITERS_CLOSED UINT32_MAX

static struct shoal__waiter *shoal__waiter_at(const struct shoal_store *s,
					      uint32_t ref)
{
	uint32_t i = ref - 1;

	if (ref == 0 || i / SHOAL__PROC_WAITERS >= s->geo.max_procs)
		return NULL; /* another process wrote garbage: stop there */
	return &s->procs[i / SHOAL__PROC_WAITERS].waiters[i % SHOAL__PROC_WAITERS];
}

static bool shoal__waiter_cas(struct shoal__waiter *w, uint32_t from,
			      uint32_t to)
{
	return atomic_compare_exchange_strong_explicit(
		&w->state, &from, to, memory_order_acq_rel, memory_order_relaxed);
}

static void shoal__waiter_wake(struct shoal__waiter *w)
{
	if (!shoal__waiter_cas(w, SHOAL__W_WAITING, SHOAL__W_WOKEN)) {
		shoal__waiter_cas(w, SHOAL__W_ABANDONED, SHOAL__W_FREE);
		return;
	}
	atomic_fetch_add_explicit(&w->futex, 1, memory_order_seq_cst);
	if (atomic_exchange_explicit(&w->sleeping, 0, memory_order_seq_cst))
		syscall(SYS_futex, (uint32_t *)&w->futex, FUTEX_WAKE, INT_MAX,
			NULL, NULL, 0); /* a spinning owner sees the bump */
}

/*
 * Drains the chain it takes.  Each kind of node is counted against its own
 * bound, so that a chain another process corrupted into a cycle still ends:
 * thread records against the number of records (max_procs x
 * SHOAL__PROC_WAITERS), task nodes against the number the runtime can
 * have (shoal__dep_max_refs).  A long run of task nodes never cuts the
 * drain short before a thread's record, nor the other way round.
 */
void shoal__waiters_close(struct shoal_store *s, struct shoal__entry *e)
{
	uint32_t ref;

	/* Closed already (a sealed object's end): no push can succeed on a
	 * closed stack, and only a publish of a reused entry reopens it,
	 * which cannot happen while the caller seals or ends this one. */
	if (atomic_load_explicit(&e->waiters, memory_order_seq_cst) ==
	    SHOAL__WAITERS_CLOSED)
		return;
	ref = atomic_exchange_explicit(&e->waiters, SHOAL__WAITERS_CLOSED,
				       memory_order_seq_cst);
	uint32_t max = s->geo.max_procs * SHOAL__PROC_WAITERS;
	uint64_t deps = 0, dep_max = 0;
	shoal_id id = SHOAL_ID_NIL;

	for (uint32_t n = 0; ref && ref != SHOAL__WAITERS_CLOSED;) {
		struct shoal__waiter *w;

		if (shoal__dep_is_ref(ref)) {
			if (!deps++) { /* the first task node: what to check */
				dep_max = shoal__dep_max_refs(s);
				/* The stack's object: sealed or ended, its ID
				 * stable. */
				shoal__dir_read_id(e, &id);
			}
			if (deps > dep_max)
				return;
			ref = shoal__dep_resolve(s, ref, id);
			SHOAL__CRASH(s, WAITERS_DRAINED);
			continue;
		}
		w = n++ < max ? shoal__waiter_at(s, ref) : NULL;
		if (!w)
			return;
		/* Read next before waking: the owner may reuse the record. */
		ref = atomic_load_explicit(&w->next, memory_order_acquire);
		shoal__waiter_wake(w);
		SHOAL__CRASH(s, WAITERS_DRAINED);
	}
}

/*
 * Links a task node (runtime/deps.c) into id's waiter stack if id is
 * unsealed; *next is the node's link.  False if there is nothing to wait
 * for: the object is sealed, gone, or its stack closed meanwhile.
 */
bool shoal__waiters_push_dep(struct shoal_store *s, shoal_id id, uint32_t ref,
			     _Atomic uint32_t *next)
{
	uint64_t c;
	int idx = shoal__dir_lookup(s, id, &c);
	struct shoal__entry *e;
	uint32_t head;

	if (idx < 0 || SHOAL__CTL_STATE(c) != SHOAL__E_CREATED)
		return false;
	e = &s->dir[idx];
	head = atomic_load_explicit(&e->waiters, memory_order_relaxed);
	do {
		if (head == SHOAL__WAITERS_CLOSED)
			return false;
		atomic_store_explicit(next, head, memory_order_relaxed);
	} while (!atomic_compare_exchange_weak_explicit(
		&e->waiters, &head, ref, memory_order_seq_cst, memory_order_relaxed));
	return true;
}

/* Takes a FREE record of this process (now WAITING): its index, or -1. */
static int shoal__waiter_take(struct shoal_store *s)
{
	for (uint32_t i = 0; i < SHOAL__PROC_WAITERS; i++)
		if (shoal__waiter_cas(&s->me->waiters[i], SHOAL__W_FREE,
				      SHOAL__W_WAITING))
			return (int)i;
	return -1;
}

/* Links the record; false if the stack is closed (nothing linked). */
static bool shoal__waiter_push(struct shoal_store *s, struct shoal__entry *e,
			       uint32_t i)
{
	struct shoal__waiter *w = &s->me->waiters[i];
	uint32_t me = s->slot * SHOAL__PROC_WAITERS + i + 1;
	uint32_t head = atomic_load_explicit(&e->waiters, memory_order_relaxed);

	do {
		if (head == SHOAL__WAITERS_CLOSED)
			return false;
		atomic_store_explicit(&w->next, head, memory_order_relaxed);
	} while (!atomic_compare_exchange_weak_explicit(
		&e->waiters, &head, me, memory_order_seq_cst, memory_order_relaxed));
	return true;
}

/* After the sleep: give the record back, or leave it to the drainer. */
static void shoal__waiter_done(struct shoal__waiter *w)
{
	if (!shoal__waiter_cas(w, SHOAL__W_WAITING, SHOAL__W_ABANDONED))
		atomic_store_explicit(&w->state, SHOAL__W_FREE, memory_order_release);
}

/*
 * Sleeps until the entry idx (control word seen: c) is sealed or freed,
 * the deadline passes or a spurious wake-up.  Returns 0 to re-check,
 * -ETIMEDOUT, or -EAGAIN if no record was free (use the object event).
 */
int shoal__waiters_wait(struct shoal_store *s, uint32_t idx, uint64_t c,
			struct shoal__deadline d)
{
	struct shoal__entry *e = &s->dir[idx];
	int i = shoal__waiter_take(s);
	struct shoal__waiter *w;
	uint32_t seen;
	uint64_t now;
	int rc = 0;

	if (i < 0)
		return -EAGAIN;
	w = &s->me->waiters[i];
	seen = atomic_load_explicit(&w->futex, memory_order_acquire);
	if (!shoal__waiter_push(s, e, (uint32_t)i)) {
		atomic_store_explicit(&w->state, SHOAL__W_FREE, memory_order_release);
		return 0;
	}
	now = atomic_load_explicit(&e->ctl, memory_order_seq_cst);
	if (SHOAL__CTL_STATE(now) == SHOAL__CTL_STATE(c) &&
	    SHOAL__CTL_GEN(now) == SHOAL__CTL_GEN(c))
		rc = shoal__futex_wait(&w->futex, &w->sleeping, seen, d,
				       s->geo.spin_budget);
	shoal__waiter_done(w);
	return rc;
}

/* Reaper: a dead owner's records. */
void shoal__waiters_reap(struct shoal__proc *p)
{
	for (uint32_t i = 0; i < SHOAL__PROC_WAITERS; i++) {
		struct shoal__waiter *w = &p->waiters[i];

		if (!shoal__waiter_cas(w, SHOAL__W_WAITING, SHOAL__W_ABANDONED))
			shoal__waiter_cas(w, SHOAL__W_WOKEN, SHOAL__W_FREE);
	}
}
