/* SPDX-License-Identifier: MIT */
/*
 * tests/test_claim_reserve.c - an attach to a store whose every process
 * slot is taken reaps the dead from a reserve slot, a full identity, and
 * never without one.
 *
 * A claim that finds every slot taken must reap dead processes to get
 * one.  It used to reap before it had a slot: the steps of a reap that
 * need the reaper's own intent and free record (ending a dead creator's
 * unsealed object) dereferenced a missing slot (SIGSEGV), and its REAPING
 * words named no slot, so they read as a dead reaper's and a second
 * process could reap the same slot at the same time.  The table now has
 * SHOAL__PROC_RESERVE slots that no process keeps (store/layout.h): such
 * a claim takes one, reaps from it, gives it back and claims one of the
 * slots it freed (store/proc.c, shoal__claim_by_reaping).
 *
 * Each test fills the slots a process may keep with the test's own and
 * with dead processes', then attaches from a child: the attach works, the
 * reserve slots are free again after it, and a claimer killed in its
 * reserve slot (at CLAIM_RESERVED, or in the middle of its reap) is
 * reaped by the next claimer from the other reserve slot.
 */
#include <criterion/criterion.h>
#include <signal.h>

#include <shoal/shoal.h>

#include "testutil.h"
#include "internal.h"
#include "stop_point.h"
#include "crash_check.h"
#include "reserve.h"

TestSuite(claim_reserve, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

static void cr_attach_ok(struct shoal_store *s, const char *what)
{
	int rc = tu_attach_rc(s);

	cr_assert_eq(rc, 0, "%s: the attach: %d (%s)", what, rc,
		     shoal_strerror(rc));
}

/* The dead creator's object was ended by its reaper: its ID is free
 * (a create of a live one is -EEXIST). */
static void cr_assert_ended(struct shoal_store *s, shoal_id id)
{
	struct cc_report r = {{0}};
	void *buf;

	tu_assert_rc(shoal_create(s, id, 8, NULL, 0, 0, &buf), 0);
	tu_assert_rc(shoal_abort(s, id), 0);
	cr_assert(cc_check(s, &r), "%s", r.why);
}

/* max_procs = 2: the test's slot and a dead creator's.  The attach reaps
 * the creator (its unsealed object ended through the reaper's free
 * record) and takes its slot; before the reserve it crashed there. */
Test(claim_reserve, an_attach_to_slots_all_taken_by_the_dead_reaps_them)
{
	struct shoal_store *s = tu_store_procs(2);
	struct shoal_store_stats st;
	shoal_id id = tu_id(31, 1);

	tu_dead_creator(s, id);
	cr_attach_ok(s, "full of the dead");
	tu_assert_reserve_free(s, "after the attach");
	tu_assert_rc(shoal_store_stats(s, &st), 0);
	cr_assert_eq(st.max_procs, 2, "max_procs reads %u, not the option's",
		     st.max_procs);
	cr_assert_geq(st.reaped, 1, "nobody was reaped");
	cr_assert_ended(s, id);
	shoal_store_close(s);
}

/* A claimer held under ptrace at REAP_CLAIMED has the dead slot REAPING
 * in its name: the test's own reap meanwhile must see a live reaper and
 * leave the slot alone (a REAPING word that names no slot reads as a dead
 * reaper's, and the slot was reaped twice at once). */
Test(claim_reserve, a_claimer_reaping_is_a_live_reaper_to_others)
{
	struct shoal_store *s = tu_store_procs(2);
	shoal_id id = tu_id(31, 2);
	struct sp_tracee t;
	uint32_t dead = UINT32_MAX;
	pid_t pid;
	int rc;

	tu_dead_creator(s, id);
	for (uint32_t i = 0; i < s->geo.max_procs; i++)
		if (i != s->slot && tu_slot_phase(s, i) == SHOAL__PROC_LIVE)
			dead = i;
	cr_assert_neq(dead, UINT32_MAX, "no dead slot");
	pid = tu_attacher(s, NULL, true);
	sp_start(&t, pid);
	cr_assert(sp_wait_at(&t, SHOAL__CP_REAP_CLAIMED, 1, TU_RESERVE_WAIT_MS),
		  "the claimer never reaped");
	cr_assert_eq(tu_slot_phase(s, dead), SHOAL__PROC_REAPING);
	rc = shoal_store_reap(s);
	cr_assert_eq(rc, 0, "the test reaped %d slot(s) a live claimer was "
		     "reaping", rc);
	cr_assert_eq(tu_slot_phase(s, dead), SHOAL__PROC_REAPING,
		     "the claimer's REAPING word was taken over");
	sp_detach(&t);
	rc = tu_wait_result(pid);
	cr_assert_eq(rc, 0, "the claimer's attach: %d (%s)", rc,
		     shoal_strerror(rc));
	tu_assert_reserve_free(s, "after the claimer");
	cr_assert_ended(s, id);
	shoal_store_close(s);
}

/* A claimer killed in its reserve slot, before its reap or in the middle
 * of it, is a dead process like any other: the next claimer, from the
 * other reserve slot, reaps it and the creator, and both reserve slots
 * end free. */
Test(claim_reserve, a_claimer_killed_in_the_reserve_is_reaped_by_the_next)
{
	static const char *const at[] = {
		"CLAIM_RESERVED", "REAP_CLAIMED", "REAP_INTENT", "REAP_LEDGER",
		"REAP_CLEARED",
	};

	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		struct shoal_store *s = tu_store_procs(2);
		shoal_id id = tu_id(32, (uint32_t)i + 1);

		tu_dead_creator(s, id);
		tu_claimer_killed(s, at[i]);
		cr_attach_ok(s, at[i]);
		tu_assert_reserve_free(s, at[i]);
		cr_assert_ended(s, id);
		shoal_store_close(s);
	}
}

/* Both reserve slots left to claimers killed as they took them: an
 * attach takes one over (proc.c, shoal__proc_try_adopt), since neither
 * holds anything a reaper would have to finish, and reaps from it. */
Test(claim_reserve, two_dead_claimers_leave_a_reserve_slot_to_take_over)
{
	struct shoal_store *s = tu_store_procs(2);
	shoal_id id = tu_id(33, 1);

	tu_dead_creator(s, id);
	tu_claimer_killed(s, "CLAIM_RESERVED");
	tu_claimer_killed(s, "CLAIM_RESERVED");
	cr_attach_ok(s, "both reserve slots dead");
	tu_assert_reserve_free(s, "after the attach");
	cr_assert_ended(s, id);
	shoal_store_close(s);
}

/* A dead claimer's reserve slot that holds something to finish (here an
 * orphan count, which its reaper's scan settles) is not taken over: with
 * both such, an attach is refused with SHOAL_ETOOMANYPROCS until a process
 * with a slot reaps; then it works. */
Test(claim_reserve, a_dead_claimer_with_work_left_is_reaped_not_taken_over)
{
	struct shoal_store *s = tu_store_procs(2);
	shoal_id id = tu_id(33, 2);
	int rc;

	tu_dead_creator(s, id);
	tu_claimer_killed(s, "CLAIM_RESERVED");
	tu_claimer_killed(s, "CLAIM_RESERVED");
	for (uint32_t i = s->geo.max_procs - SHOAL__PROC_RESERVE;
	     i < s->geo.max_procs; i++)
		atomic_store(&s->procs[i].orphans, 1);
	rc = tu_wait_result(tu_attacher(s, NULL, false));
	cr_assert_eq(rc, SHOAL_ETOOMANYPROCS, "the third claimer: %d (%s)", rc,
		     shoal_strerror(rc));
	rc = shoal_store_reap(s);
	cr_assert_eq(rc, 3, "the test's reap reaped %d, not the creator and "
		     "the two claimers", rc);
	tu_assert_reserve_free(s, "after the test's reap");
	cr_attach_ok(s, "after the test's reap");
	cr_assert_ended(s, id);
	shoal_store_close(s);
}

/* A child that attaches through fd, creates id without sealing it, says
 * so on ready and stays until it is killed. */
static pid_t cr_staying_creator(int fd, shoal_id id, int ready)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		void *buf;

		TU_CHILD_CHECK(shoal_store_attach_fd(fd, &c) == 0, TU_EXIT_IO);
		TU_CHILD_CHECK(shoal_create(c, id, 100, NULL, 0, 0, &buf) == 0,
			       TU_EXIT_IO);
		tu_child_write_byte(ready, 'c');
		for (;;)
			pause();
	}
	return pid;
}

/* Every process dead (the test gives its own slot back, two creators
 * are killed together), then two claimers killed in their reaps (at a
 * reap step, REAP_INTENT): nobody with a slot is left to reap, and the
 * next attach must still get in. */
Test(claim_reserve, a_store_whose_processes_all_died_still_takes_attaches)
{
	struct shoal_store *s = tu_store_procs(2);
	int fd = dup(shoal_store_fd(s));
	shoal_id a = tu_id(34, 1), b = tu_id(34, 2);
	struct shoal_store *t = NULL;
	pid_t ca, cb;
	int ready[2], st;

	cr_assert_geq(fd, 0);
	shoal_store_close(s); /* the test keeps no slot */
	tu_pipe(ready);
	ca = cr_staying_creator(fd, a, ready[1]);
	tu_read_byte(ready[0], TU_RESERVE_WAIT_MS);
	cb = cr_staying_creator(fd, b, ready[1]);
	tu_read_byte(ready[0], TU_RESERVE_WAIT_MS);
	tu_kill(ca);
	tu_kill(cb);
	close(ready[0]);
	close(ready[1]);
	for (int i = 0; i < 2; i++) {
		st = tu_wait_status(tu_attacher_fd(fd, "REAP_INTENT", false),
				    TU_RESERVE_WAIT_MS);
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
			  "claimer %d was not killed in its reap: %d", i, st);
	}
	st = tu_wait_status(tu_attacher_fd(fd, NULL, false), TU_RESERVE_WAIT_MS);
	cr_assert(WIFEXITED(st), "the attach died (signal %d)",
		  WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	tu_assert_rc(tu_exit_to_err(WEXITSTATUS(st)), 0);
	tu_assert_rc(shoal_store_attach_fd(fd, &t), 0);
	tu_assert_reserve_free(t, "after the attaches");
	cr_assert_ended(t, a);
	cr_assert_ended(t, b);
	shoal_store_close(t);
	close(fd);
}

/* max_procs live processes attach; one more is refused, and leaves no
 * reserve slot taken behind it. */
Test(claim_reserve, one_more_than_max_procs_is_refused_and_takes_nothing)
{
	struct shoal_store *s = tu_store_procs(3);
	struct shoal_store_stats st;
	int ready[2];
	pid_t stay[2];
	int rc;

	tu_pipe(ready);
	for (int i = 0; i < 2; i++) {
		stay[i] = tu_fork();
		if (stay[i] == 0) {
			struct shoal_store *c = NULL;

			TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s),
							     &c) == 0,
				       TU_EXIT_IO);
			tu_child_write_byte(ready[1], 'a');
			for (;;)
				pause();
		}
		tu_read_byte(ready[0], TU_RESERVE_WAIT_MS);
	}
	tu_assert_rc(shoal_store_stats(s, &st), 0);
	cr_assert_eq(st.processes, 3);
	cr_assert_eq(st.max_procs, 3);
	rc = tu_wait_result(tu_attacher(s, NULL, false));
	cr_assert_eq(rc, SHOAL_ETOOMANYPROCS, "the fourth: %d (%s)", rc,
		     shoal_strerror(rc));
	tu_assert_reserve_free(s, "after the refusal");
	tu_kill(stay[0]);
	cr_attach_ok(s, "after a death");
	tu_kill(stay[1]);
	close(ready[0]);
	close(ready[1]);
	shoal_store_close(s);
}
