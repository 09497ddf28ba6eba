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
 * No lost wake-up (Dekker, seq_cst on both sides, WT-S1/WT-S2 below): the
 * sealer changes ctl, then loads (and exchanges) the head; the waiter
 * pushes, then reloads ctl.  Either the sealer's load sees the waiter's
 * node and its exchange takes it, or the waiter's reload sees the entry
 * sealed (or ended, or reused).
 *
 * A seal that finds the stack empty leaves it open (empty) instead of
 * closing it (shoal__waiters_close_sealed): most objects never had a
 * waiter, and its getter, spinning on the entry's line meanwhile, would
 * make the exchange's write cost the sealer one more move of that line.
 * So a stack may be open on a sealed entry, and a push can still succeed
 * on it, by a waiter that read the entry unsealed before the seal: that
 * waiter's reload of ctl then sees it sealed, and it closes the stack
 * itself (the drain wakes its own node with any other, as the sealer's
 * would have).  It holds nothing on the entry, so it closes only what is
 * surely that stack: by a CAS from its own node, which only it pushes
 * (an exchange, after the object ended, draining the node, and a new
 * object reopened the reused entry's stack, would close that one), and
 * only if its reload saw SEALED (a FREE entry may be a reuse's whose
 * creator reset the stack already, before its publish, create.c).  An
 * end always closes the stack (end.c: a tombstone's stack is closed
 * before the entry can be reused and its stack reopened), so an open
 * stack is only ever a live sealed object's (or a reuse's).  A
 * waiter that dies between its push and that close has it made in its
 * place, by the same CAS from its node: for a thread record by its
 * process's reaper (shoal__waiters_reap scans the directory for a stack
 * that one of the slot's linked records heads), for a task node by the
 * fork server's deps sweep within its period (runtime/task/deps.c,
 * shoal__waiters_close_node), before the sweep lets the record go.
 * A sealer that dies between its seal and its close has that close
 * made by its reaper, which pins the object for it
 * (store/object/refs.c, shoal__obj_close_sealed): the pin keeps the
 * entry from being reused, so the exchange closes that object's stack
 * and no new one's.
 *
 * Records live in their owner's process slot (SHOAL__PROC_WAITERS each),
 * so a process with more threads blocked at once than that falls back to
 * the header's object event (store/object/).  A record that the owner gave up
 * on (timeout) while it was still linked is ABANDONED; the drainer that
 * later meets it frees it.  A reaper abandons a dead owner's linked records
 * and frees its woken ones.  A record can be woken for an entry reused
 * since the push (a spurious wake-up): waiters always re-check.
 *
 * Nodes of other kinds (ext.h): a layer above links nodes of its own into
 * the same stacks (the runtime's parked tasks), their references tagged
 * with a kind; draining one calls the handler this process registered for
 * that kind instead of waking a thread.  The store never names the layer.
 *
 * Memory order (WT-):
 *  WT-R1 (WT-A1)  a push's CAS of the head (seq_cst, so a release): the
 *          node's link (`next`, stored relaxed before it) and, for a
 *          thread, its record.
 *  WT-A1 (WT-R1)  the closer's exchange of the head (or a late waiter's
 *          CAS of it; seq_cst, so an acquire) and a walk's acquire load
 *          of it: every link of the
 *          chain, since the pushes are RMWs of one word (one release
 *          sequence).  The acquire loads of each `next` (here, and of a
 *          task node's link in deps.c) pair with nothing more: links are
 *          stored relaxed.
 *  WT-S1 (WT-S2)  a waiter pushes (WT-R1, seq_cst), then reloads ctl
 *          (seq_cst): it sees the entry sealed or ended, or ...
 *  WT-S2 (WT-S1)  ... the sealer or ender, whose CAS of ctl is seq_cst
 *          (create.c's and fill.c's seals, end.c's ending CAS, repair.c's
 *          and refs.c's when they end the entry), loads and exchanges the
 *          head (seq_cst) after it, and takes the waiter's node.  A
 *          sealer whose load sees no node exchanges nothing: every later
 *          waiter's reload then sees the seal, and the one whose node
 *          heads the stack closes it (a CAS from that node, seq_cst).
 *  WT-R2 (WT-A2)  a record's state: every change is a CAS (acq_rel) but
 *          the owner's release store of FREE; each hands what its side
 *          wrote of the record (the link, the futex) to whoever makes
 *          the next change.
 *  WT-A2 (WT-R2)  the acquire half of those CASes, and a walk's acquire
 *          load of a record's state.
 *  WT-R3 (WT-A3)  the drainer's bump of the record's futex (seq_cst
 *          fetch_add): its WOKEN, to an owner that sees the word move.
 *  WT-A3 (WT-R3)  the owner's acquire loads of its futex (`seen`, before
 *          the push, so a bump after the push moves the word; the spin
 *          of base/event.c's shoal__futex_wait).
 *  WT-S3 (WT-S4)  the owner raises `sleeping` then reads the futex again
 *          (shoal__futex_wait: base/event.c's EV-S3) ...
 *  WT-S4 (WT-S3)  ... the drainer bumps the futex then exchanges
 *          `sleeping` (seq_cst, EV-S4): one of them sees the other.
 *  WT-R4 (WT-A4)  process-private: a kind's handlers registered (CAS from
 *          NULL, release): the ops struct whole ...
 *  WT-A4 (WT-R4)  ... to the acquire load of shoal__waiter_ops_of.
 *  relaxed  a push's first load of the head (its CAS decides) and its
 *          store of the link (WT-R1 publishes it).
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

	if (ref == 0 || SHOAL__WREF_KIND(ref) != SHOAL__WKIND_THREAD ||
	    i / SHOAL__PROC_WAITERS >= s->geo.max_procs)
		return NULL; /* another process wrote garbage: stop there */
	return &s->procs[i / SHOAL__PROC_WAITERS].waiters[i % SHOAL__PROC_WAITERS];
}

/* This process's record i as a stack reference (index + 1). */
static uint32_t shoal__waiter_ref(const struct shoal_store *s, uint32_t i)
{
	return s->slot * SHOAL__PROC_WAITERS + i + 1;
}

/* WT-R2 and WT-A2; relaxed on failure: the caller only learns the state
 * moved. */
static bool shoal__waiter_cas(struct shoal__waiter *w, uint32_t from,
			      uint32_t to)
{
	return atomic_compare_exchange_strong_explicit( /* WT-R2, WT-A2 */
		&w->state, &from, to, memory_order_acq_rel, memory_order_relaxed);
}

static void shoal__waiter_wake(struct shoal__waiter *w)
{
	if (!shoal__waiter_cas(w, SHOAL__W_WAITING, SHOAL__W_WOKEN)) {
		shoal__waiter_cas(w, SHOAL__W_ABANDONED, SHOAL__W_FREE);
		return;
	}
	/* WT-R3 and WT-S4: the bump, ... */
	atomic_fetch_add_explicit(&w->futex, 1, memory_order_seq_cst);
	/* ... then WT-S4's flag taken down. */
	if (atomic_exchange_explicit(&w->sleeping, 0, memory_order_seq_cst))
		syscall(SYS_futex, (uint32_t *)&w->futex, FUTEX_WAKE, INT_MAX,
			NULL, NULL, 0); /* a spinning owner sees the bump */
}

/* The process's handlers by kind (ext.h): each set once, by CAS from
 * NULL (release, WT-R4, pairs with the acquire in shoal__waiter_ops_of,
 * WT-A4, which makes the ops struct visible whole).  Process-private by
 * nature: a function pointer means nothing in another process. */
static _Atomic(const struct shoal__waiter_ops *) shoal__waiter_kinds[SHOAL__WKIND_MAX + 1];

int shoal__waiter_kind_register(uint32_t kind, const struct shoal__waiter_ops *ops)
{
	const struct shoal__waiter_ops *none = NULL;

	if (kind == SHOAL__WKIND_THREAD || kind > SHOAL__WKIND_MAX || !ops ||
	    !ops->max_nodes || !ops->resolve || !ops->peek_next)
		return -EINVAL;
	/* WT-R4; acquire on failure (WT-A4): the ops compared below. */
	if (atomic_compare_exchange_strong_explicit(&shoal__waiter_kinds[kind],
						    &none, ops,
						    memory_order_release,
						    memory_order_acquire))
		return 0;
	return none == ops ? 0 : -EEXIST;
}

static const struct shoal__waiter_ops *shoal__waiter_ops_of(uint32_t kind)
{
	if (kind > SHOAL__WKIND_MAX)
		return NULL;
	return atomic_load_explicit(&shoal__waiter_kinds[kind],
				    memory_order_acquire); /* WT-A4 */
}

/* Per kind: how many nodes a drain or a walk has met, and its bound. */
struct shoal__wcount {
	uint64_t met[SHOAL__WKIND_MAX + 1];
	uint64_t max[SHOAL__WKIND_MAX + 1];
};

/* The handlers for node ref if one more node of its kind is within the
 * bound; NULL ends the chain (no handler here, or a cycle). */
static const struct shoal__waiter_ops *
shoal__wcount_next(struct shoal_store *s, struct shoal__wcount *c, uint32_t ref)
{
	uint32_t k = SHOAL__WREF_KIND(ref);
	const struct shoal__waiter_ops *ops = shoal__waiter_ops_of(k);

	if (!ops)
		return NULL;
	if (!c->met[k]++)
		c->max[k] = ops->max_nodes(s);
	return c->met[k] <= c->max[k] ? ops : NULL;
}

/*
 * Drains the chain from ref, which its caller took off e's stack (an
 * exchange or a CAS to CLOSED, WT-A1).  Each kind of node is counted
 * against its own bound, so that a chain another process corrupted into
 * a cycle still ends: thread records against the number of records
 * (max_procs x SHOAL__PROC_WAITERS), other kinds against their handler's
 * max_nodes.  A long run of one kind never cuts the drain short before
 * another.  Task nodes are resolved against the stack's object: *known,
 * or (NULL) e's ID, read at the first such node.
 */
static void shoal__waiters_drain(struct shoal_store *s,
				 const struct shoal__entry *e, uint32_t ref,
				 const shoal_id *known)
{
	struct shoal__wcount cnt = {{0}, {0}};
	uint32_t max = s->geo.max_procs * SHOAL__PROC_WAITERS;
	shoal_id id = known ? *known : SHOAL_ID_NIL;
	bool id_read = known != NULL;

	for (uint32_t n = 0; ref && ref != SHOAL__WAITERS_CLOSED;) {
		const struct shoal__waiter_ops *ops;
		struct shoal__waiter *w;

		if (SHOAL__WREF_KIND(ref) != SHOAL__WKIND_THREAD) {
			if (!(ops = shoal__wcount_next(s, &cnt, ref)))
				return;
			if (!id_read) {
				/* The stack's object: sealed or ended, its
				 * ID stable. */
				shoal__dir_read_id(e, &id);
				id_read = true;
			}
			ref = ops->resolve(s, ref, id);
			SHOAL__CRASH(s, WAITERS_DRAINED);
			continue;
		}
		w = n++ < max ? shoal__waiter_at(s, ref) : NULL;
		if (!w)
			return;
		/* Read next before waking: the owner may reuse the record.
		 * WT-A1 (the exchange made it visible). */
		ref = atomic_load_explicit(&w->next, memory_order_acquire);
		shoal__waiter_wake(w);
		SHOAL__CRASH(s, WAITERS_DRAINED);
	}
}

/* The sealer's close: WT-S2's load (seq_cst, after the sealing CAS of
 * ctl) sees every node pushed before it; none, and the stack is left
 * open: a later push sees the seal on its reload and closes it itself
 * (shoal__waiters_closed_late). */
void shoal__waiters_close_sealed(struct shoal_store *s, struct shoal__entry *e)
{
	if (atomic_load_explicit(&e->waiters, memory_order_seq_cst) == 0) /* WT-S2 */
		return;
	shoal__waiters_close(s, e);
}

/* After a push of node `me` (WT-S1: its seq_cst CAS, then this seq_cst
 * reload of ctl): a SEALED entry's stack was closed by nobody yet, if its
 * sealer saw it empty.  The waiter
 * holds nothing on the entry, so it closes only while its own node is
 * the head: a CAS from `me`, never an exchange.  Once its node is drained
 * (by an end, after which a new object may reuse the entry and reopen its
 * stack) or another node is pushed above it, the head is never `me`
 * again (only this waiter pushes `me`, and it does not push again here):
 * it leaves the stack be.  A node above it is a later waiter's, which
 * also pushed after the sealer's load and so sees the seal on its own
 * reload, and closes the stack (with this node) in turn.  Returns the
 * ctl word read. */
static uint64_t shoal__waiters_closed_late(struct shoal_store *s,
					   struct shoal__entry *e, uint32_t me)
{
	uint64_t now = atomic_load_explicit(&e->ctl, memory_order_seq_cst); /* WT-S1 */
	uint32_t head = me;
	shoal_id id;

	SHOAL__CRASH(s, WAITERS_LATE);
	/* Sealed only: an end closes the stack itself (after its CAS of
	 * ctl, so a node pushed before it is drained by it, and a push
	 * after it fails), and a FREE entry may be a reuse's whose stack
	 * its creator reset already, before its publish (create.c):
	 * closing that would publish the new object with its stack
	 * closed.  A node pushed there stays, as any stale push's, until
	 * the new object's seal or end drains it. */
	if (SHOAL__CTL_STATE(now) != SHOAL__E_SEALED)
		return now;
	/* The ID before the CAS: while `me` is the head no end has drained
	 * it, so the entry is still the object whose stack holds it (after
	 * the CAS the object may end and the entry be reused). */
	shoal__dir_read_id(e, &id);
	/* WT-A1 on success: the links of the chain below `me`.  Relaxed
	 * on failure: nothing is read then. */
	if (atomic_compare_exchange_strong_explicit(&e->waiters, &head,
						    SHOAL__WAITERS_CLOSED,
						    memory_order_seq_cst,
						    memory_order_relaxed))
		shoal__waiters_drain(s, e, me, &id);
	return now;
}

/* Any node on e's stack?  A seq_cst load (WT-S2's, for a dead sealer's
 * reaper: after the sealing CAS, which the death orders before it): a
 * node pushed before that seal is seen, unless the object ended since
 * (its end drained the stack) and then 0 or a new object's nodes. */
bool shoal__waiters_linked(const struct shoal__entry *e)
{
	uint32_t h = atomic_load_explicit(&e->waiters, memory_order_seq_cst); /* WT-S2 */

	return h != 0 && h != SHOAL__WAITERS_CLOSED;
}

/* A sealer's or an ender's close (WT-S2): it changed ctl, so the entry
 * cannot be reused before this returns (a dead sealer's reaper holds a
 * pin on it for the same reason, shoal__obj_close_sealed). */
void shoal__waiters_close(struct shoal_store *s, struct shoal__entry *e)
{
	uint32_t ref;

	/* Closed already (a sealed object's end): no push can succeed on a
	 * closed stack, and only a publish of a reused entry reopens it,
	 * which cannot happen while the caller seals or ends this one.
	 * WT-S2: the load and the exchange come after the caller's seq_cst
	 * CAS of ctl; the exchange is WT-A1 too. */
	if (atomic_load_explicit(&e->waiters, memory_order_seq_cst) ==
	    SHOAL__WAITERS_CLOSED)
		return;
	ref = atomic_exchange_explicit(&e->waiters, SHOAL__WAITERS_CLOSED,
				       memory_order_seq_cst); /* WT-S2, WT-A1 */
	shoal__waiters_drain(s, e, ref, NULL);
}

bool shoal__waiters_push_node(struct shoal_store *s, shoal_id id, uint32_t ref,
			      _Atomic uint32_t *next)
{
	uint64_t c;
	int idx = shoal__dir_lookup(s, id, &c);
	struct shoal__entry *e;
	uint32_t head;

	if (idx < 0 || SHOAL__CTL_STATE(c) != SHOAL__E_CREATED)
		return false;
	e = &s->dir[idx];
	SHOAL__CRASH(s, WAITERS_PUSHING);
	/* Relaxed, the load and the link: the CAS decides and publishes
	 * them (WT-R1); seq_cst for WT-S1 (the reload after). */
	head = atomic_load_explicit(&e->waiters, memory_order_relaxed);
	do {
		if (head == SHOAL__WAITERS_CLOSED)
			return false;
		atomic_store_explicit(next, head, memory_order_relaxed);
	} while (!atomic_compare_exchange_weak_explicit( /* WT-R1, WT-S1 */
		&e->waiters, &head, ref, memory_order_seq_cst, memory_order_relaxed));
	shoal__waiters_closed_late(s, e, ref); /* a seal meanwhile */
	return true;
}

/* The pid of the live process that owns thread record w if it still
 * waits; 0 otherwise. */
static int32_t shoal__waiter_pid(const struct shoal_store *s, uint32_t ref,
				 const struct shoal__waiter *w)
{
	uint32_t slot = (ref - 1) / SHOAL__PROC_WAITERS;
	uint64_t st = atomic_load_explicit(&s->procs[slot].state,
					   memory_order_acquire); /* PROC-A1 */

	if (atomic_load_explicit(&w->state, memory_order_acquire) != /* WT-A2 */
		    SHOAL__W_WAITING ||
	    SHOAL__PROC_PHASE(st) != SHOAL__PROC_LIVE)
		return 0;
	return SHOAL__PROC_PID(st);
}

uint32_t shoal__waiters_walk(struct shoal_store *s, shoal_id id,
			     shoal__waiter_visit_fn visit, void *ctx)
{
	struct shoal__wcount cnt = {{0}, {0}};
	uint32_t max = s->geo.max_procs * SHOAL__PROC_WAITERS, n = 0, seen = 0;
	uint64_t c;
	int idx = shoal__dir_lookup(s, id, &c);
	uint32_t ref;

	if (idx < 0 || SHOAL__CTL_STATE(c) != SHOAL__E_CREATED)
		return 0;
	/* WT-A1, here (pairs with the push CAS that published the node's
	 * link, WT-R1: above, and shoal__waiters_push_node) and on each
	 * next (which pairs with nothing more). */
	ref = atomic_load_explicit(&s->dir[idx].waiters, memory_order_acquire);
	while (ref && ref != SHOAL__WAITERS_CLOSED) {
		const struct shoal__waiter_ops *ops;
		struct shoal__waiter *w;
		int32_t pid;

		if (SHOAL__WREF_KIND(ref) != SHOAL__WKIND_THREAD) {
			if (!(ops = shoal__wcount_next(s, &cnt, ref)))
				break;
			visit(ctx, SHOAL__WREF_KIND(ref), 0);
			seen++;
			ref = ops->peek_next(s, ref);
			continue;
		}
		if (n++ >= max || !(w = shoal__waiter_at(s, ref)))
			break; /* another process wrote garbage: stop there */
		pid = shoal__waiter_pid(s, ref, w);
		ref = atomic_load_explicit(&w->next, memory_order_acquire); /* WT-A1 */
		if (pid)
			visit(ctx, SHOAL__WKIND_THREAD, pid);
		seen++;
	}
	return seen;
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
	uint32_t me = shoal__waiter_ref(s, i);
	uint32_t head;

	SHOAL__CRASH(s, WAITERS_PUSHING);
	/* Relaxed, the load and the link: the CAS decides and publishes
	 * them (WT-R1, and WT-S1 with the reload of ctl that follows). */
	head = atomic_load_explicit(&e->waiters, memory_order_relaxed);
	do {
		if (head == SHOAL__WAITERS_CLOSED)
			return false;
		atomic_store_explicit(&w->next, head, memory_order_relaxed);
	} while (!atomic_compare_exchange_weak_explicit( /* WT-R1, WT-S1 */
		&e->waiters, &head, me, memory_order_seq_cst, memory_order_relaxed));
	return true;
}

/* After the sleep: give the record back, or leave it to the drainer. */
static void shoal__waiter_done(struct shoal__waiter *w)
{
	if (!shoal__waiter_cas(w, SHOAL__W_WAITING, SHOAL__W_ABANDONED)) /* else WT-R2 */
		atomic_store_explicit(&w->state, SHOAL__W_FREE, memory_order_release);
}

struct shoal__ctl_watch {
	const struct shoal__entry *e;
	uint64_t c;
};

/* The spin's look: has the entry left the state and generation of c
 * (sealed, freed, reused)?  Relaxed: a hint; the caller's re-check looks
 * the entry up again (ENT-A2). */
static bool shoal__ctl_moved(void *arg)
{
	const struct shoal__ctl_watch *x = arg;
	uint64_t now = atomic_load_explicit(&x->e->ctl, memory_order_relaxed);

	return SHOAL__CTL_STATE(now) != SHOAL__CTL_STATE(x->c) ||
	       SHOAL__CTL_GEN(now) != SHOAL__CTL_GEN(x->c);
}

/*
 * Sleeps until the entry idx (control word seen: c) is sealed or freed,
 * the deadline passes or a spurious wake-up.  Returns 0 to re-check,
 * -ETIMEDOUT, or -EAGAIN if no record was free (use the object event).
 * It spins on the entry's control word first (the line the sealer
 * writes), with no record linked: a seal meanwhile finds the stack empty
 * and wakes nobody, so the hand-over moves that one line (a linked record
 * costs its line both ways, and the entry's twice).  Only then does it
 * link a record and sleep, without spinning again.
 */
int shoal__waiters_wait(struct shoal_store *s, uint32_t idx, uint64_t c,
			struct shoal__deadline d)
{
	struct shoal__entry *e = &s->dir[idx];
	struct shoal__waiter *w;
	uint32_t seen;
	uint64_t now;
	int rc = 0;
	int i;

	if (shoal__spin_until(shoal__ctl_moved,
			      &(struct shoal__ctl_watch){.e = e, .c = c},
			      s->geo.spin_budget, d))
		return 0;
	i = shoal__waiter_take(s);
	if (i < 0)
		return -EAGAIN;
	w = &s->me->waiters[i];
	seen = atomic_load_explicit(&w->futex, memory_order_acquire); /* WT-A3 */
	/* Relaxed: read by our reaper only, after our death. */
	atomic_store_explicit(&w->sleeping, SHOAL__W_LATE, memory_order_relaxed);
	if (!shoal__waiter_push(s, e, (uint32_t)i)) {
		atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
		/* WT-R2 */
		atomic_store_explicit(&w->state, SHOAL__W_FREE, memory_order_release);
		return 0;
	}
	now = shoal__waiters_closed_late(s, e, shoal__waiter_ref(s, i)); /* WT-S1 */
	/* Out of the window (a waker's exchange may have taken it down
	 * already: it then made one spare FUTEX_WAKE). */
	atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
	if (SHOAL__CTL_STATE(now) == SHOAL__CTL_STATE(c) &&
	    SHOAL__CTL_GEN(now) == SHOAL__CTL_GEN(c)) {
		/* The on_block hook only now, with the record linked: a
		 * runtime's worker asks its fork server to check for a pool
		 * deadlock here, and the check finds what a worker waits for
		 * by walking waiter stacks (runtime/task/nested.c).  Asked
		 * before the push, a check that ran at once (the asker taken
		 * off its CPU) never saw the asker's record. */
		shoal__blocking(s, true);
		rc = shoal__futex_wait(&w->futex, &w->sleeping, seen, d, 0);
		shoal__blocking(s, false);
	}
	shoal__waiter_done(w);
	return rc;
}

/* The stacks a dead owner's late pushes left open: each sealed entry
 * whose head is one of slot's records, closed in the owner's place (a
 * CAS from that record, as shoal__waiters_closed_late: the record is not
 * FREE and the slot not claimed again, so nobody pushes it meanwhile).
 * One pass over the directory; relaxed loads of the heads, a hint: the
 * close reloads ctl (seq_cst) and its CAS decides. */
static void shoal__waiters_reap_open(struct shoal_store *s, uint32_t slot)
{
	uint32_t lo = slot * SHOAL__PROC_WAITERS + 1;

	for (uint32_t i = 0; i <= s->dir_mask; i++) {
		struct shoal__entry *e = &s->dir[i];
		uint32_t h = atomic_load_explicit(&e->waiters, memory_order_relaxed);

		if (h >= lo && h - lo < SHOAL__PROC_WAITERS)
			shoal__waiters_closed_late(s, e, h);
	}
}

/* Reaper: a dead owner's records (WT-R2, WT-A2).  A record left linked
 * (WAITING, now ABANDONED; or ABANDONED already, which a reaper killed
 * before the scan below leaves too) whose owner died between its push
 * and its late close (its sleeping word still SHOAL__W_LATE: set before
 * the push, taken down after the close) may head a sealed entry's
 * stack that nobody else closes: the scan of the directory closes it,
 * then takes the mark down.  A record abandoned by a timeout, or by a
 * death while it slept, was past that close: no scan (a close after a
 * timed-out get would otherwise read the whole directory). */
void shoal__waiters_reap(struct shoal_store *s, uint32_t slot)
{
	struct shoal__proc *p = &s->procs[slot];
	bool late = false;

	for (uint32_t i = 0; i < SHOAL__PROC_WAITERS; i++) {
		struct shoal__waiter *w = &p->waiters[i];

		if (shoal__waiter_cas(w, SHOAL__W_WAITING, SHOAL__W_ABANDONED) ||
		    (!shoal__waiter_cas(w, SHOAL__W_WOKEN, SHOAL__W_FREE) &&
		     atomic_load_explicit(&w->state, memory_order_acquire) == /* WT-A2 */
			     SHOAL__W_ABANDONED))
			/* Relaxed: the dead owner's last store, or ours. */
			late |= atomic_load_explicit(&w->sleeping, memory_order_relaxed) ==
				SHOAL__W_LATE;
	}
	if (!late)
		return;
	shoal__waiters_reap_open(s, slot);
	for (uint32_t i = 0; i < SHOAL__PROC_WAITERS; i++)
		/* Relaxed: read by this slot's next reaper only. */
		atomic_store_explicit(&p->waiters[i].sleeping, 0, memory_order_relaxed);
}

bool shoal__waiters_close_node(struct shoal_store *s, shoal_id id, uint32_t ref)
{
	uint64_t c;
	int idx = shoal__dir_lookup(s, id, &c);

	if (idx < 0 || SHOAL__CTL_STATE(c) != SHOAL__E_SEALED)
		return false;
	shoal__waiters_closed_late(s, &s->dir[idx], ref);
	return true;
}
