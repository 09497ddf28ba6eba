/* SPDX-License-Identifier: MIT */
/*
 * tests/test_adopt_review.c - a hostile review of the take-over of a dead
 * claimer's reserve slot and of the abandon of a reserve slot whose own
 * clean stopped at a wait (store/proc.c: shoal__proc_try_adopt,
 * shoal__proc_abandon).
 *
 * A reserve slot's clean stops at a wait when another live process holds
 * the heap's lock past the bound (every clean settles the heap first,
 * store/reap.c).  The holder here is a process stopped at HEAP_PLANNED
 * (base/crash.c, ":stop") in a large create.  A claimer that met such a
 * wait used to keep its reserve slot LIVE in its own name as long as it
 * lived: a second attach of the same process held the other one too, and
 * no attach of anyone got in again, the holder long gone, until that
 * process exited.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/wait.h>

#include <shoal/shoal.h>

#include "testutil.h"
#include "internal.h"
#include "crash_check.h"

TestSuite(adopt_review, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

#define AR_WAIT_MS 10000

static struct shoal_store *ar_store(uint32_t max_procs)
{
	struct shoal_store_options o = tu_opts(8u << 20);
	struct shoal_store *s = NULL;

	o.max_procs = max_procs;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	return s;
}

/* Waits (bounded) until the child is stopped (a crash point's :stop). */
static void ar_wait_stopped(pid_t pid)
{
	int64_t deadline = tu_now_ms() + AR_WAIT_MS;
	struct timespec ms = {0, 200000};
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof si);
		cr_assert_eq(waitid(P_PID, (id_t)pid, &si,
				    WSTOPPED | WNOHANG | WNOWAIT), 0);
		if (si.si_pid == pid && si.si_code == CLD_STOPPED)
			return;
		cr_assert_lt(tu_now_ms(), deadline, "the child never stopped");
		nanosleep(&ms, NULL);
	}
}

/* Nothing leaked: one object as large as the whole store fits. */
static void ar_assert_capacity(struct shoal_store *s, const char *what)
{
	shoal_id id = shoal_id_next(s);
	void *buf;
	int rc = shoal_create(s, id, 8u << 20, NULL, 0, 0, &buf);

	cr_assert_eq(rc, 0, "%s: the whole capacity does not fit: %s", what,
		     shoal_strerror(rc));
	tu_assert_rc(shoal_abort(s, id), 0);
}

/* A child that attaches armed to stop at HEAP_PLANNED, creates a large
 * object (it stops there, the heap's lock held), and once continued
 * writes 'c' to done and blocks until killed (its slot then a dead
 * process's). */
static pid_t ar_heap_holder(struct shoal_store *s, int done)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		void *buf;

		setenv("SHOAL_CRASH", "HEAP_PLANNED:1:stop", 1);
		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0,
			       TU_EXIT_IO);
		TU_CHILD_CHECK(shoal_create(c, tu_id(61, 1), 1u << 20, NULL, 0,
					    0, &buf) == 0, TU_EXIT_IO);
		tu_child_write_byte(done, 'c');
		pause();
		_exit(0);
	}
	return pid;
}

static char ar_code(int rc)
{
	return rc == 0 ? 'o' : rc == SHOAL_ETOOMANYPROCS ? 'e' : 'x';
}

/* A child that attaches twice (each result to out: 'o' 0, 'e' too many
 * processes, 'x' else), waits for a byte on go and attaches once more;
 * the last attach's result is its exit code. */
static pid_t ar_claimer(struct shoal_store *s, int out, int go)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		char b;
		int rc;

		for (int k = 0; k < 2; k++) {
			rc = shoal_store_attach_fd(shoal_store_fd(s), &c);
			if (rc == 0)
				shoal_store_close(c);
			tu_child_write_byte(out, ar_code(rc));
		}
		TU_CHILD_CHECK(read(go, &b, 1) == 1, TU_EXIT_IO);
		rc = shoal_store_attach_fd(shoal_store_fd(s), &c);
		if (rc == 0)
			shoal_store_close(c);
		_exit(tu_err_to_exit(rc));
	}
	return pid;
}

/*
 * max_procs = 2: the test's slot and a holder's, stopped with the heap's
 * lock.  A claimer attaches twice: each claims a reserve slot, reaps
 * nothing, and its own clean stops at the heap's lock.  Each attach must
 * fail cleanly (too many processes), and neither reserve slot may stay
 * LIVE in the claimer's name while it lives.  Then the holder lets go
 * and is killed (its slot a dead process's): the same claimer's next
 * attach must get in, and the store end whole, nothing leaked.
 */
Test(adopt_review, a_claimer_whose_reserve_clean_stops_at_a_wait_gives_it_up)
{
	struct shoal_store *s = ar_store(2);
	struct cc_report r = {{0}};
	int held[2], out[2], go[2];
	pid_t holder, claimer;
	int rc;

	tu_pipe(held);
	tu_pipe(out);
	tu_pipe(go);
	holder = ar_heap_holder(s, held[1]);
	ar_wait_stopped(holder);
	claimer = ar_claimer(s, out[1], go[0]);
	for (int k = 0; k < 2; k++) {
		char c = tu_read_byte(out[0], AR_WAIT_MS);

		cr_assert_eq(c, 'e', "attach %d with the heap's lock held: "
			     "'%c', not 'e' (too many processes)", k + 1, c);
	}
	for (uint32_t i = s->geo.max_procs - SHOAL__PROC_RESERVE;
	     i < s->geo.max_procs; i++) {
		uint64_t st = atomic_load(&s->procs[i].state);

		cr_assert(!(SHOAL__PROC_PHASE(st) == SHOAL__PROC_LIVE &&
			    SHOAL__PROC_PID(st) == claimer),
			  "reserve slot %u is kept LIVE in the name of the "
			  "claimer, which lives on", i);
	}
	cr_assert_eq(kill(holder, SIGCONT), 0);
	cr_assert_eq(tu_read_byte(held[0], AR_WAIT_MS), 'c');
	tu_kill(holder);
	tu_write_byte(go[1], 'g');
	rc = tu_wait_result(claimer);
	cr_assert_eq(rc, 0, "the claimer's attach once the holder let go and "
		     "died: %d (%s)", rc, shoal_strerror(rc));
	shoal_store_reap(s);
	cr_assert(cc_check(s, &r), "%s", r.why);
	ar_assert_capacity(s, "after the claimer");
	shoal_store_close(s);
	for (int k = 0; k < 2; k++) {
		close(held[k]);
		close(out[k]);
		close(go[k]);
	}
}
