/* SPDX-License-Identifier: MIT */
/*
 * tests/test_store_guard.c - the reap guard (store/guard.c): a dead
 * process's slot, with the holds in its ledger, kept from every reaper
 * until its guardian lifted the guard, or is gone itself.
 *
 * A child attaches, holds an object, names a guardian and is SIGKILLed
 * (reaped by waitpid first: dead for certain).  The store alone, no
 * runtime: the guardian is the test process or another child.
 */
#include "testutil.h"
#include "internal.h"
#include "object/object_int.h"

#include <signal.h>
#include <sys/wait.h>

TestSuite(store_guard, .init = tu_setup, .fini = tu_teardown);

#define MiB (1024u * 1024u)

/* A child that attaches, holds id, names `guardian` the guardian of its
 * slot (or none for 0), says 'k' on fd and waits to be killed. */
static pid_t guarded_child(struct shoal_store *s, shoal_id id, uint32_t guardian,
			   int fd)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		int r = shoal_store_attach_fd(shoal_store_fd(s), &c);

		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		r = shoal_hold(c, id);
		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		if (guardian)
			shoal__store_guard_set(c, guardian);
		tu_child_write_byte(fd, 'k');
		for (;;)
			pause();
	}
	return pid;
}

/* A child that attaches and sends its creator word on fd, then waits to
 * be killed: a guardian in another process. */
static pid_t guardian_child(struct shoal_store *s, int fd)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		uint32_t me;
		int r = shoal_store_attach_fd(shoal_store_fd(s), &c);

		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		me = shoal__store_creator(c);
		TU_CHILD_CHECK(write(fd, &me, sizeof me) == sizeof me, TU_EXIT_IO);
		for (;;)
			pause();
	}
	return pid;
}

static shoal_id unheld_object(struct shoal_store *s)
{
	shoal_id id = tu_id(7, 1);

	tu_assert_rc(tu_put(s, id, 4096, 1, 0), 0);
	tu_assert_rc(shoal_drop(s, id), 0);
	return id;
}

/*
 * The guardian is this process: its own reaps and everyone's skip the
 * dead slot, whose hold keeps the object from eviction; a mark alone
 * lets nothing go; the lift does, and the next reap gives the hold back.
 */
Test(store_guard, a_dead_guarded_slot_waits_for_its_guardian_lift)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = unheld_object(s);
	int p[2];
	pid_t child;

	tu_pipe(p);
	child = guarded_child(s, id, shoal__store_creator(s), p[1]);
	cr_assert_eq(tu_read_byte(p[0], TU_CHILD_DEADLINE_MS), 'k');
	tu_kill(child);
	tu_assert_rc(shoal_store_reap(s), 0, "a reap past the guard");
	tu_assert_rc(shoal_evict(s, UINT64_MAX), 0);
	cr_assert_eq(tu_info(s, id).holds, 1, "the dead slot's hold is kept");
	cr_assert_eq(shoal__store_guard_mark(s), 1);
	tu_assert_rc(shoal_store_reap(s), 0, "a reap past a marked guard");
	cr_assert_eq(shoal__store_guard_lift(s, NULL), 1);
	cr_assert_eq(shoal__store_guard_mark(s), 0, "nothing left to mark");
	tu_assert_rc(shoal_store_reap(s), 1);
	cr_assert_eq(tu_info(s, id).holds, 0);
	cr_assert_eq(tu_stats(s).processes, 1);
	close(p[0]);
	close(p[1]);
	shoal_store_close(s);
}

/* A guardian that is alive but not this process: a live slot is not
 * marked; once the guardian is dead, the guard no longer holds: one reap
 * takes both. */
Test(store_guard, a_gone_guardian_voids_the_guard)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = unheld_object(s);
	uint32_t who = 0;
	int p[2], g[2];
	pid_t child, guardian;

	tu_pipe(p);
	tu_pipe(g);
	guardian = guardian_child(s, g[1]);
	cr_assert_eq(read(g[0], &who, sizeof who), (ssize_t)sizeof who);
	child = guarded_child(s, id, who, p[1]);
	cr_assert_eq(tu_read_byte(p[0], TU_CHILD_DEADLINE_MS), 'k');
	cr_assert_eq(shoal__store_guard_mark(s), 0, "not this process's guard");
	tu_kill(child);
	tu_assert_rc(shoal_store_reap(s), 0, "its guardian lives");
	cr_assert_eq(tu_info(s, id).holds, 1);
	tu_kill(guardian);
	tu_assert_rc(shoal_store_reap(s), 2);
	cr_assert_eq(tu_info(s, id).holds, 0);
	close(p[0]);
	close(p[1]);
	close(g[0]);
	close(g[1]);
	shoal_store_close(s);
}

/* A guard outlives its slot's owner only as a word of that generation:
 * an owner that closed its handle (its slot cleaned, the word left as it
 * was) leaves nothing that holds its slot's next owner, killed with no
 * guard of its own, from being reaped at once. */
Test(store_guard, a_guard_of_an_earlier_owner_of_the_slot_is_void)
{
	struct shoal_store *s = tu_store(4 * MiB);
	uint32_t me = shoal__store_creator(s);
	shoal_id id = unheld_object(s);
	int p[2];
	pid_t child = tu_fork();

	if (child == 0) {
		struct shoal_store *c = NULL;
		int r = shoal_store_attach_fd(shoal_store_fd(s), &c);

		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		shoal__store_guard_set(c, me);
		shoal_store_close(c);
		_exit(0);
	}
	cr_assert_eq(tu_wait_exit(child), 0);
	cr_assert_eq(tu_stats(s).processes, 1);
	tu_pipe(p);
	child = guarded_child(s, id, 0, p[1]);
	cr_assert_eq(tu_read_byte(p[0], TU_CHILD_DEADLINE_MS), 'k');
	tu_kill(child);
	tu_assert_rc(shoal_store_reap(s), 1);
	cr_assert_eq(tu_info(s, id).holds, 0);
	close(p[0]);
	close(p[1]);
	shoal_store_close(s);
}

/*
 * A dead process that held stripe locks (each directory stripe, here: its
 * words and its create's intent written by hand, as a create that died
 * under them leaves them)
 * and whose guardian lives on without lifting: a create that needs a
 * stripe cannot reap it, and returns at its bound (-ETIMEDOUT) instead of
 * waiting for ever; once the guard is lifted, the reap frees the stripes
 * and the create succeeds.
 */
Test(store_guard, a_stripe_lock_of_a_guarded_dead_slot_costs_a_create_its_bound, .timeout = 30)
{
	struct shoal_store *s = tu_store(4 * MiB);
	uint32_t me = shoal__store_creator(s);
	shoal_id id = tu_id(7, 2);
	int p[2];
	int64_t t0;
	pid_t child;

	tu_pipe(p);
	child = tu_fork();
	if (child == 0) {
		struct shoal_store *c = NULL;
		int r = shoal_store_attach_fd(shoal_store_fd(s), &c);

		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		shoal__store_guard_set(c, me);
		/* A create's intent (its entry not reserved yet), then the
		 * locks, as a create that died between them leaves them. */
		atomic_store(&c->me->intent.entry, UINT32_MAX);
		atomic_store(&c->me->intent.op, SHOAL__OP_CREATE);
		for (uint32_t i = 0; i < c->geo.nstripes; i++)
			atomic_store(&c->stripes[i], c->slot + 1);
		tu_child_write_byte(p[1], 'k');
		for (;;)
			pause();
	}
	cr_assert_eq(tu_read_byte(p[0], TU_CHILD_DEADLINE_MS), 'k');
	tu_kill(child);
	t0 = tu_now_ms();
	tu_assert_rc(tu_put(s, id, 4096, 2, 200), -ETIMEDOUT);
	cr_assert_lt(tu_now_ms() - t0, 5000, "the create waited past its bound");
	cr_assert_eq(shoal__store_guard_mark(s), 1);
	cr_assert_eq(shoal__store_guard_lift(s, NULL), 1);
	tu_assert_rc(tu_put(s, id, 4096, 2, 200), 0);
	tu_assert_rc(shoal_drop(s, id), 0);
	close(p[0]);
	close(p[1]);
	shoal_store_close(s);
}

/*
 * A guarded dead slot's hold is kept from a recount too, not only from a
 * reap.  Another process dies in the middle of a count change of the same
 * object (its intent names it): the reap of that one recounts the object
 * (repair.c), which consumes every dead slot's record, the guarded one
 * included.  The guarded hold then no longer counts: the object can be
 * evicted before its guardian adopted it (the queued object of a killed
 * putter, lost).
 */
Test(store_guard, a_recount_keeps_a_guarded_dead_slots_hold)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = unheld_object(s);
	int p[2], st;
	pid_t child, y;

	tu_pipe(p);
	child = guarded_child(s, id, shoal__store_creator(s), p[1]);
	cr_assert_eq(tu_read_byte(p[0], TU_CHILD_DEADLINE_MS), 'k');
	tu_kill(child);
	y = tu_fork();
	if (y == 0) { /* dies at its hold's intent */
		struct shoal_store *c = NULL;
		int r = shoal_store_attach_fd(shoal_store_fd(s), &c);

		uint64_t ctl;
		int idx;

		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		idx = shoal__find(c, id, &ctl);
		TU_CHILD_CHECK(idx >= 0, TU_EXIT_IO);
		/* A hold's first step (refs.c, crash point REF_INTENT): the
		 * crash points are not in this suite's build. */
		shoal__intent_ref(c, (uint32_t)idx, 0, 1);
		raise(SIGKILL);
		_exit(TU_EXIT_IO);
	}
	cr_assert_eq(waitpid(y, &st, 0), y);
	cr_assert(WIFSIGNALED(st), "the holder died at its intent");
	tu_assert_rc(shoal_store_reap(s), 1, "the unguarded one is reaped");
	cr_assert_eq(tu_info(s, id).holds, 1, "the guarded slot's hold is kept");
	tu_assert_rc(shoal_evict(s, UINT64_MAX), 0);
	cr_assert_eq(tu_info(s, id).holds, 1, "still there for its guardian");
	cr_assert_eq(shoal__store_guard_mark(s), 1);
	cr_assert_eq(shoal__store_guard_lift(s, NULL), 1);
	tu_assert_rc(shoal_store_reap(s), 1);
	close(p[0]);
	close(p[1]);
	shoal_store_close(s);
}

/* A child as guarded_child, that sends its creator word instead of 'k'. */
static uint32_t guarded_child_creator(struct shoal_store *s, shoal_id id,
				      pid_t *pid)
{
	int p[2];
	uint32_t creator = 0;

	tu_pipe(p);
	*pid = tu_fork();
	if (*pid == 0) {
		struct shoal_store *c = NULL;
		int r = shoal_store_attach_fd(shoal_store_fd(s), &c);

		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		r = shoal_hold(c, id);
		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		shoal__store_guard_set(c, shoal__store_creator(s));
		creator = shoal__store_creator(c);
		TU_CHILD_CHECK(write(p[1], &creator, sizeof creator) == sizeof creator,
			       TU_EXIT_IO);
		for (;;)
			pause();
	}
	cr_assert_eq(read(p[0], &creator, sizeof creator), (ssize_t)sizeof creator);
	close(p[0]);
	close(p[1]);
	return creator;
}

/*
 * A guardian that is not done with one dead slot (a cell it could not
 * adopt yet: objq_admin.c) lifts the others' guards all the same: the
 * kept slot stays, with its hold, and the other one is reaped; the kept
 * one goes at a later lift.  Before, one such slot held every other
 * guarded dead slot back from its reapers (a slot leak while it lasted).
 */
Test(store_guard, a_kept_slot_holds_back_no_other_guarded_slot)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id a = tu_id(7, 1), b = tu_id(7, 2);
	uint64_t keep[SHOAL__GUARD_KEEP_WORDS] = {0};
	uint32_t ca, cb;
	pid_t pa, pb;

	tu_assert_rc(tu_put(s, a, 4096, 1, 0), 0);
	tu_assert_rc(shoal_drop(s, a), 0);
	tu_assert_rc(tu_put(s, b, 4096, 2, 0), 0);
	tu_assert_rc(shoal_drop(s, b), 0);
	ca = guarded_child_creator(s, a, &pa);
	cb = guarded_child_creator(s, b, &pb);
	cr_assert_neq(ca >> 20, cb >> 20, "two slots");
	tu_kill(pa);
	tu_kill(pb);
	cr_assert_eq(shoal__store_guard_mark(s), 2);
	keep[(ca >> 20) / 64] |= 1ull << ((ca >> 20) % 64);
	cr_assert_eq(shoal__store_guard_lift(s, keep), 1, "b's guard alone");
	tu_assert_rc(shoal_store_reap(s), 1, "b's slot is reaped");
	cr_assert_eq(tu_info(s, b).holds, 0, "b's hold given back");
	cr_assert_eq(tu_info(s, a).holds, 1, "a's slot and hold are kept");
	cr_assert_eq(shoal__store_guard_mark(s), 1);
	cr_assert_eq(shoal__store_guard_lift(s, NULL), 1);
	tu_assert_rc(shoal_store_reap(s), 1);
	cr_assert_eq(tu_info(s, a).holds, 0);
	cr_assert_eq(tu_stats(s).processes, 1);
	shoal_store_close(s);
}
