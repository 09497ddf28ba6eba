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
 *
 * A take-over (shoal__proc_try_adopt) wrote 0 into the dead claimer's
 * start time before its CAS, with a CAS from the value it read after its
 * checks: a take-over that lost the slot to another claimer zeroed the
 * winner's start time, and one killed before its CAS left the dead
 * claimer's slot with none; either slot read alive, once its owner was
 * dead, for as long as a live process had its pid.  Two tests make that
 * real by reusing a dead process's pid (ns_last_pid: the pid counter is
 * the whole machine's, so each sets it back at once, and only once).  A
 * third gives a claimer a dead process's pid: a death test took a slot
 * that named the caller's own pid for the caller's, alive.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>

#include <shoal/shoal.h>

#include "testutil.h"
#include "internal.h"
#include "crash_check.h"
#include "stop_point.h"
#include "reserve.h"

/* Defined by the crash build of the library (stop_point.c says why). */
void shoal__crash_hit(struct shoal__crash *c, enum shoal__crash_point p);

TestSuite(adopt_review, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

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
	struct shoal_store *s = tu_store_procs(2);
	struct cc_report r = {{0}};
	int held[2], out[2], go[2];
	pid_t holder, claimer;
	int rc;

	tu_pipe(held);
	tu_pipe(out);
	tu_pipe(go);
	holder = ar_heap_holder(s, held[1]);
	tu_wait_stopped(holder);
	claimer = ar_claimer(s, out[1], go[0]);
	for (int k = 0; k < 2; k++) {
		char c = tu_read_byte(out[0], TU_RESERVE_WAIT_MS);

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
	cr_assert_eq(tu_read_byte(held[0], TU_RESERVE_WAIT_MS), 'c');
	tu_kill(holder);
	tu_write_byte(go[1], 'g');
	rc = tu_wait_result(claimer);
	cr_assert_eq(rc, 0, "the claimer's attach once the holder let go and "
		     "died: %d (%s)", rc, shoal_strerror(rc));
	shoal_store_reap(s);
	cr_assert(cc_check(s, &r), "%s", r.why);
	tu_assert_capacity(s, "after the claimer");
	shoal_store_close(s);
	for (int k = 0; k < 2; k++) {
		close(held[k]);
		close(out[k]);
		close(go[k]);
	}
}


/*
 * Two claimers at the same dead reserve slot.  max_procs = 2: the test's
 * slot and a dead creator's; both reserve slots dead claimers'.  A, traced,
 * is held inside its take-over's death test of slot 2 (at the open of
 * the dead claimer's /proc stat: the state word read already).  B takes
 * slot 2 over and is held at CLAIM_RESERVED, LIVE there.  A, let go,
 * must leave B's start time alone (its take-over of slot 2 fails) and get
 * in through slot 3 (checked if `check`).  Returns B, still held.
 */
static pid_t ar_lost_race(struct shoal_store *s, uint32_t slot, bool check)
{
	uint64_t mine;
	pid_t a, b;
	int rc;

	tu_dead_creator(s, tu_id(62, 1));
	tu_claimer_killed(s, "CLAIM_RESERVED");
	tu_claimer_killed(s, "CLAIM_RESERVED");
	a = tu_attacher(s, NULL, true);
	tu_trace_take(a);
	tu_trace_to_syscall(a, SYS_membarrier);
	tu_trace_to_syscall(a, SYS_openat);
	b = tu_attacher(s, "CLAIM_RESERVED:1:stop", false);
	tu_wait_stopped(b);
	cr_assert_eq(SHOAL__PROC_PID(atomic_load(&s->procs[slot].state)),
		     (uint32_t)b, "B did not take slot %u over", slot);
	mine = shoal__proc_start_time(b);
	cr_assert_eq(atomic_load(&s->procs[slot].start_time), mine);
	cr_assert_eq(ptrace(PTRACE_DETACH, a, NULL, NULL), 0);
	rc = tu_wait_result(a);
	cr_assert_eq(rc, 0, "A's attach: %d (%s)", rc, shoal_strerror(rc));
	cr_assert_eq(SHOAL__PROC_PID(atomic_load(&s->procs[slot].state)),
		     (uint32_t)b, "B lost slot %u", slot);
	cr_assert(!check || atomic_load(&s->procs[slot].start_time) == mine,
		     "A, which lost slot %u to B, zeroed the start time of B, "
		     "its live owner (%" PRIu64 ", not %" PRIu64 ")", slot,
		     atomic_load(&s->procs[slot].start_time), mine);
	return b;
}

Test(adopt_review, a_take_over_that_loses_its_race_leaves_the_winners_start_time)
{
	struct shoal_store *s = tu_store_procs(2);
	pid_t b = ar_lost_race(s, s->geo.max_procs - 2, true);
	struct cc_report r = {{0}};
	int rc;

	cr_assert_eq(kill(b, SIGCONT), 0);
	rc = tu_wait_result(b);
	cr_assert_eq(rc, 0, "B's attach: %d (%s)", rc, shoal_strerror(rc));
	shoal_store_reap(s);
	cr_assert(cc_check(s, &r), "%s", r.why);
	tu_assert_capacity(s, "after the race");
	shoal_store_close(s);
}

/* One run: a dead creator in the last slot a process may keep, the
 * reserve left to dead claimers (variant 1: slot 3 only, slot 2 a live
 * claimer's, stopped at CLAIM_RESERVED; variant 2: slot 2's claimer
 * killed in its reap of the creator, at REAP_CLEARED, the creator's
 * block in its cache), a claimer armed with spec that takes one over.
 * False if it did not die (no further pass). */
static bool ar_adopter_killed(const char *spec, int variant)
{
	bool second = variant == 1;
	struct shoal_store *s = tu_store_procs(2);
	struct cc_report r = {{0}};
	pid_t held = 0;
	int st, rc;

	tu_dead_creator(s, tu_id(63, 1));
	if (second) {
		held = tu_attacher(s, "CLAIM_RESERVED:1:stop", false);
		tu_wait_stopped(held);
	} else if (variant == 2) {
		int ws = tu_wait_status(tu_attacher(s, "REAP_CLEARED:1", false),
					TU_RESERVE_WAIT_MS);

		cr_assert(WIFSIGNALED(ws), "the first claimer lived (%d)", ws);
	} else {
		tu_claimer_killed(s, "CLAIM_RESERVED");
	}
	tu_claimer_killed(s, "CLAIM_RESERVED");
	st = tu_wait_status(tu_attacher(s, spec, false), TU_RESERVE_WAIT_MS);
	if (held) {
		cr_assert_eq(kill(held, SIGCONT), 0);
		rc = tu_wait_result(held);
		cr_assert(rc == 0 || rc == SHOAL_ETOOMANYPROCS,
			  "%s: the held claimer: %d (%s)", spec, rc,
			  shoal_strerror(rc));
	}
	if (WIFSIGNALED(st)) {
		rc = tu_wait_result(tu_attacher(s, NULL, false));
		cr_assert_eq(rc, 0, "%s (slot %u): the next attach: %d (%s)",
			     spec, second ? 3 : 2, rc, shoal_strerror(rc));
	} else {
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			  "%s: the claimer (status %d)", spec, st);
	}
	tu_assert_reserve_free(s, spec);
	shoal_store_reap(s);
	cr_assert(cc_check(s, &r), "%s: %s", spec, r.why);
	if (strncmp(spec, "HEAP_", 5))
		tu_assert_capacity(s, spec);
	shoal_store_close(s);
	return WIFSIGNALED(st);
}

/*
 * A claimer that takes over a dead claimer's reserve slot (slot 2, or
 * slot 3 with slot 2 held by a live claimer, or slot 2 of a claimer
 * killed as it had reaped the creator) killed at the n-th pass of
 * each crash point: the next attach gets in, both reserve slots end free,
 * the store is whole and nothing leaked (but at a heap leak point).
 */
Test(adopt_review, a_claimer_killed_at_any_pass_after_its_take_over,
     .timeout = 600)
{
	for (int variant = 0; variant < 3; variant++)
		for (unsigned p = 0; p < SHOAL__CP_COUNT; p++)
			for (uint32_t n = 1; n <= 4; n++) {
				char spec[64];

				snprintf(spec, sizeof spec, "%s:%u",
					 shoal__crash_name(p), n);
				if (!ar_adopter_killed(spec, variant))
					break;
			}
}

static int ar_last_pid(int set)
{
	FILE *f = fopen("/proc/sys/kernel/ns_last_pid", set ? "w" : "r");
	int v = set;

	cr_assert(f, "ns_last_pid: %s", strerror(errno));
	if (set)
		fprintf(f, "%d", set);
	else
		cr_assert_eq(fscanf(f, "%d", &v), 1, "ns_last_pid");
	cr_assert_eq(fclose(f), 0, "ns_last_pid");
	return v;
}

/* Clock ticks since boot: the unit of a /proc start time. */
static uint64_t ar_ticks(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) /
	       (1000000000u / (uint64_t)sysconf(_SC_CLK_TCK));
}

/* tu_fork() with pid `pid` (a dead process's, reaped: free), made the
 * kernel's next through ns_last_pid, which is then set back at once (a
 * pid namespace's one counter: every other process's forks in between
 * reuse pids too): 0 in the child, its pid in the test.  The child starts
 * in a later clock tick than `was`, the dead one's start time: the same
 * pid and tick is the same process to a death test. */
static pid_t ar_fork_as(pid_t pid, uint64_t was)
{
	int64_t deadline = tu_now_ms() + TU_RESERVE_WAIT_MS;
	struct timespec ms = {0, 1000000};

	while (ar_ticks() <= was + 1) {
		cr_assert_lt(tu_now_ms(), deadline, "the clock stands still");
		nanosleep(&ms, NULL);
	}
	for (int tries = 0; tries < 100; tries++) {
		int last = ar_last_pid(0), now;
		pid_t z;

		ar_last_pid((int)pid - 1);
		z = tu_fork();
		if (z == 0) {
			if (getpid() != pid)
				_exit(0); /* not the pid: the test tries again */
			return 0;
		}
		now = ar_last_pid(0);
		ar_last_pid(now > last ? now : last);
		if (z == pid)
			return z;
		tu_kill(z); /* another process took it first: again */
	}
	cr_assert_fail("pid %d was never reused", (int)pid);
	return 0;
}

/* A child with a dead process's pid (ar_fork_as) that sleeps until
 * killed. */
static pid_t ar_reuse_pid(pid_t pid, uint64_t was)
{
	pid_t z = ar_fork_as(pid, was);

	if (z == 0) {
		for (;;)
			pause();
	}
	return z;
}

/* Runs a traced attacher to its claim, then one instruction at a time
 * until the start time of slot (a dead claimer's, `was`) moved, then
 * `extra` instructions more (none past the next crash point), and
 * SIGKILLs it there.  False if it reached that crash point first. */
static bool ar_kill_after_start_cas(struct shoal_store *s, uint32_t slot,
				    uint64_t was, uint32_t extra)
{
	pid_t a = tu_attacher(s, NULL, true);
	bool before = true;
	uint32_t steps = 0;

	tu_trace_take(a);
	tu_trace_to_syscall(a, SYS_membarrier);
	while (atomic_load(&s->procs[slot].start_time) == was) {
		cr_assert_lt(steps++, 1000000u, "the start time never moved");
		tu_trace_resume(a, PTRACE_SINGLESTEP);
	}
	for (uint32_t k = 0; k < extra && before; k++)
		before = tu_trace_step_short_of(a, (uintptr_t)&shoal__crash_hit);
	tu_kill(a); /* dead and reaped */
	return before;
}

/*
 * A claimer killed at each instruction of its take-over of slot 2 from
 * the write of the slot's start time to CLAIM_ADOPTED.  A slot whose
 * state word still names the dead claimer must not be left without a
 * start time (0: unknown, alive for as long as any process has that
 * pid); the first kill's is made real, the dead claimer's pid reused by
 * a live process (once: the pid counter is every process's).  Then the
 * next attach gets in, and the test's reap leaves both reserve slots
 * free, the store whole.
 */
Test(adopt_review, a_take_over_killed_at_each_instruction_leaves_no_slot_alive,
     .timeout = 300)
{
	bool more = true;

	for (uint32_t k = 0; more; k++) {
		struct shoal_store *s = tu_store_procs(2);
		uint32_t slot = s->geo.max_procs - 2;
		struct cc_report r = {{0}};
		pid_t dead, z = 0;
		uint64_t was, now;
		bool unknown;
		int rc;

		tu_dead_creator(s, tu_id(64, k + 1));
		tu_claimer_killed(s, "CLAIM_RESERVED");
		tu_claimer_killed(s, "CLAIM_RESERVED");
		was = atomic_load(&s->procs[slot].start_time);
		dead = SHOAL__PROC_PID(atomic_load(&s->procs[slot].state));
		more = ar_kill_after_start_cas(s, slot, was, k);
		now = atomic_load(&s->procs[slot].state);
		unknown = SHOAL__PROC_PID(now) == dead &&
			  atomic_load(&s->procs[slot].start_time) == 0;
		if (k == 0)
			z = ar_reuse_pid(dead, was);
		rc = tu_wait_result(tu_attacher(s, NULL, false));
		cr_assert_eq(rc, 0, "killed %u after the start time: the next "
			     "attach: %d (%s)", k, rc, shoal_strerror(rc));
		shoal_store_reap(s);
		tu_assert_reserve_free(s, k == 0 ? "after the reap, the dead "
				       "claimer's pid reused" : "after the reap");
		cr_assert(!unknown, "killed %u after the start time: slot %u "
			  "named the dead claimer (pid %d) with no start time",
			  k, slot, (int)dead);
		cr_assert(cc_check(s, &r), "killed %u: %s", k, r.why);
		if (z)
			tu_kill(z);
		shoal_store_close(s);
		cr_assert_lt(k, 10000u, "the window never ended");
	}
}

/*
 * A take-over racing an ordinary reap: B takes slot 2 over and is held
 * at CLAIM_ADOPTED (its CAS made, its start time not yet written: the
 * slot's start time is the take-over's mark).  The test, a live process
 * with a slot, reaps: slot 2 is B's, alive, and must stay so; B, let go,
 * gets in, and both reserve slots end free.
 */
Test(adopt_review, a_reap_leaves_a_take_over_between_its_cas_and_its_take)
{
	struct shoal_store *s = tu_store_procs(2);
	uint32_t slot = s->geo.max_procs - 2;
	struct cc_report r = {{0}};
	pid_t b;
	int rc;

	tu_dead_creator(s, tu_id(65, 1));
	tu_claimer_killed(s, "CLAIM_RESERVED");
	tu_claimer_killed(s, "CLAIM_RESERVED");
	b = tu_attacher(s, "CLAIM_ADOPTED:1:stop", false);
	tu_wait_stopped(b);
	cr_assert_eq(SHOAL__PROC_PID(atomic_load(&s->procs[slot].state)),
		     (uint32_t)b, "B did not take slot %u over", slot);
	shoal_store_reap(s);
	cr_assert_eq(SHOAL__PROC_PID(atomic_load(&s->procs[slot].state)),
		     (uint32_t)b, "the test's reap took slot %u from B, which "
		     "lives (phase %u)", slot,
		     SHOAL__PROC_PHASE(atomic_load(&s->procs[slot].state)));
	cr_assert_eq(kill(b, SIGCONT), 0);
	rc = tu_wait_result(b);
	cr_assert_eq(rc, 0, "B's attach: %d (%s)", rc, shoal_strerror(rc));
	tu_assert_reserve_free(s, "after B");
	shoal_store_reap(s);
	cr_assert(cc_check(s, &r), "%s", r.why);
	shoal_store_close(s);
}

/*
 * What the zeroed start time cost: B, the winner of the race above, is
 * killed in slot 2 and a live process reuses its pid.  The test's reap
 * must still read slot 2 dead and free it.  With B's start time zeroed
 * by the loser, the slot read alive for as long as that process lived.
 */
Test(adopt_review, the_winner_of_a_take_over_race_reads_dead_once_its_pid_is_reused)
{
	struct shoal_store *s = tu_store_procs(2);
	pid_t b = ar_lost_race(s, s->geo.max_procs - 2, false);
	uint64_t was = shoal__proc_start_time(b);
	struct cc_report r = {{0}};
	pid_t z;

	tu_kill(b);
	z = ar_reuse_pid(b, was);
	shoal_store_reap(s);
	tu_assert_reserve_free(s, "after the reap, B's pid reused");
	cr_assert(cc_check(s, &r), "%s", r.why);
	tu_kill(z);
	tu_assert_capacity(s, "after B");
	shoal_store_close(s);
}

/*
 * A claimer whose pid is a dead process's.  max_procs = 2: the test's
 * slot and a dead creator's, whose pid the next claimer has (reused).
 * Its claim finds both taken, so it reaps from a reserve slot: it must
 * read the creator's slot dead by its start time, as it would any other
 * pid's, and reap it.  It took any slot that named its own pid for its
 * own, alive, reaped nothing and failed with too many processes (CI,
 * once, in the pass matrix above: a claimer that got a dead claimer's
 * pid from a parallel test's pid reuse).
 */
Test(adopt_review, a_claimer_with_a_dead_processs_pid_reaps_its_slot)
{
	struct shoal_store *s = tu_store_procs(2);
	uint32_t slot = s->slot == 0 ? 1 : 0;
	struct cc_report r = {{0}};
	uint64_t was;
	pid_t dead, c;
	int rc;

	tu_dead_creator(s, tu_id(66, 1));
	cr_assert_eq(tu_slot_phase(s, slot), SHOAL__PROC_LIVE,
		     "the dead creator holds no slot %u", slot);
	dead = (pid_t)SHOAL__PROC_PID(atomic_load(&s->procs[slot].state));
	was = atomic_load(&s->procs[slot].start_time);
	c = ar_fork_as(dead, was);
	if (c == 0) {
		struct shoal_store *a = NULL;

		rc = shoal_store_attach_fd(shoal_store_fd(s), &a);
		if (rc == 0)
			shoal_store_close(a);
		_exit(tu_err_to_exit(rc));
	}
	rc = tu_wait_result(c);
	cr_assert_eq(rc, 0, "the claimer with the dead creator's pid %d: "
		     "%d (%s)", (int)dead, rc, shoal_strerror(rc));
	tu_assert_reserve_free(s, "after the claimer");
	shoal_store_reap(s);
	cr_assert(cc_check(s, &r), "%s", r.why);
	tu_assert_capacity(s, "after the claimer");
	shoal_store_close(s);
}
