/* SPDX-License-Identifier: MIT */
/*
 * tests/test_reserve_review.c - the claim's reserve slots (store/layout.h,
 * store/proc.c: shoal__claim_by_reaping) under a claimer killed at an
 * exact instruction of its claim.
 *
 * A reap looks at the slots below procs_hwm only (layout.h: 1 + the
 * highest slot ever claimed), so a claim must have hwm cover its slot
 * before the slot can hold anything a reaper must undo, its LIVE word
 * first.  A claimer killed between its claim CAS and its raise of hwm
 * leaves a LIVE slot that no reap looks at, until a claim of a higher
 * slot raises hwm over it.  The last reserve slot has no higher slot: it
 * stayed LIVE to a dead pid for good, and the reserve was one slot short
 * for the segment's life.
 *
 * The test holds a claimer under ptrace and steps it one instruction at
 * a time from its membarrier query (the last system call before the
 * claim, proc.c) until the last reserve slot's word reads LIVE in its
 * name, then SIGKILLs it there.
 *
 * And what held: a claimer killed at each instruction from its claim CAS
 * on the first reserve slot to CLAIM_RESERVED (108 in an x86-64 build),
 * and at every pass of every crash point, its reserve slot's own clean
 * among them; a foreign header's max_procs.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>

#include <shoal/shoal.h>

#include "testutil.h"
#include "internal.h"
#include "stop_point.h"
#include "crash_check.h"
#include "reserve.h"

/* Defined by the crash build of the library (stop_point.c says why). */
void shoal__crash_hit(struct shoal__crash *c, enum shoal__crash_point p);

TestSuite(reserve_review, .init = tu_setup, .fini = tu_teardown,
	  .timeout = 60);

#define RR_MAX_STEPS 1000000u

/* Runs a traced attacher to its claim (its membarrier query, proc.c),
 * then one instruction at a time until slot's word is LIVE in its name,
 * then `extra` instructions more, and SIGKILLs it there.  False if it
 * reached its next crash point (CLAIM_RESERVED) first: killed there. */
static bool rr_kill_after_claim_cas(struct shoal_store *s, uint32_t slot,
				    uint32_t extra)
{
	pid_t pid = tu_attacher(s, NULL, true);
	uint32_t steps = 0;
	bool before = true;
	uint64_t st;

	tu_trace_take(pid);
	tu_trace_to_syscall(pid, SYS_membarrier);
	for (;;) {
		st = atomic_load(&s->procs[slot].state);
		if (SHOAL__PROC_PHASE(st) == SHOAL__PROC_LIVE &&
		    SHOAL__PROC_PID(st) == pid)
			break;
		cr_assert_lt(steps++, RR_MAX_STEPS, "slot %u never claimed",
			     slot);
		tu_trace_resume(pid, PTRACE_SINGLESTEP);
	}
	for (uint32_t k = 0; k < extra && before; k++)
		before = tu_trace_step_short_of(pid,
						(uintptr_t)&shoal__crash_hit);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	st = tu_wait_status(pid, TU_RESERVE_WAIT_MS);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "the claimer was not killed (status %d)", (int)st);
	return before;
}

/*
 * max_procs = 2: the test's slot and a dead creator's, reserve slots 2
 * and 3.  A claimer killed at CLAIM_RESERVED holds slot 2; the next one
 * claims slot 3 and is killed right after its claim CAS.  The test's reap
 * must free every dead slot, both reserve slots among them; then, with
 * the store full again and a claimer killed in slot 2 again, the next
 * attach must still get in through slot 3.
 */
Test(reserve_review, a_claimer_killed_at_the_last_reserve_slots_cas_is_reaped)
{
	struct cc_report r = {{0}};
	struct shoal_store *s = tu_store_procs(2);
	uint32_t last = s->geo.max_procs - 1;
	int rc;

	tu_dead_creator(s, tu_id(41, 1));
	tu_claimer_killed(s, "CLAIM_RESERVED");
	cr_assert_eq(tu_slot_phase(s, last - 1), SHOAL__PROC_LIVE);
	rr_kill_after_claim_cas(s, last, 0);
	rc = shoal_store_reap(s);
	cr_assert_eq(rc, 3, "the test's reap freed %d slot(s), not the "
		     "creator's and the two claimers'", rc);
	tu_assert_reserve_free(s, "after the test's reap");
	tu_dead_creator(s, tu_id(41, 2));
	tu_claimer_killed(s, "CLAIM_RESERVED");
	rc = tu_attach_rc(s);
	cr_assert_eq(rc, 0, "an attach with one claimer dead in the reserve: "
		     "%d (%s)", rc, shoal_strerror(rc));
	tu_assert_reserve_free(s, "after the attach");
	cr_assert(cc_check(s, &r), "%s", r.why);
	shoal_store_close(s);
}

/*
 * A claimer killed at the n-th pass of each crash point (n = 2 and 3 are
 * the clean of its own reserve slot, after the dead creator's, and its
 * close): the next attach gets in, both reserve slots end free, the store
 * is whole, and nothing leaked but what a heap leak point may leak
 * (crash.h).
 */
Test(reserve_review, a_claimer_killed_at_any_pass_of_any_point)
{
	for (unsigned p = 0; p < SHOAL__CP_COUNT; p++) {
		for (uint32_t n = 1; n <= 5; n++) {
			struct cc_report r = {{0}};
			struct shoal_store *s = tu_store_procs(2);
			char spec[64];
			int st, rc;

			snprintf(spec, sizeof spec, "%s:%u", shoal__crash_name(p), n);
			tu_dead_creator(s, tu_id(42, 1));
			st = tu_wait_status(tu_attacher(s, spec, false), TU_RESERVE_WAIT_MS);
			if (!WIFSIGNALED(st)) {
				cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
					  "%s: the claimer (status %d)", spec, st);
				shoal_store_close(s);
				break; /* no further pass either */
			}
			rc = tu_attach_rc(s);
			cr_assert_eq(rc, 0, "%s: the next attach: %d (%s)", spec,
				     rc, shoal_strerror(rc));
			tu_assert_reserve_free(s, spec);
			shoal_store_reap(s);
			cr_assert(cc_check(s, &r), "%s: %s", spec, r.why);
			if (strncmp(spec, "HEAP_", 5))
				tu_assert_capacity(s, spec);
			shoal_store_close(s);
		}
	}
}

/*
 * A claimer killed at every instruction from its claim CAS on the first
 * reserve slot to its next crash point (CLAIM_RESERVED): its slot's hwm,
 * start time and records half written.  The next attach gets in (from
 * the other reserve slot), both reserve slots end free, the store whole.
 */
/* Under AddressSanitizer the window is a few times longer and each step
 * slower: every RR_STRIDE-th instruction there (the plain build, which
 * the README's test command runs, visits each one). */
#if defined(__SANITIZE_ADDRESS__)
#define RR_STRIDE 8u
#else
#define RR_STRIDE 1u
#endif

Test(reserve_review, a_claimer_killed_at_each_instruction_of_its_reserve_claim)
{
	bool more = true;

	for (uint32_t k = 0; more; k += RR_STRIDE) {
		struct cc_report r = {{0}};
		struct shoal_store *s = tu_store_procs(2);
		char what[32];
		int rc;

		snprintf(what, sizeof what, "killed %u after the CAS", k);
		tu_dead_creator(s, tu_id(44, k + 1));
		more = rr_kill_after_claim_cas(s, s->geo.max_procs - 2, k);
		rc = tu_attach_rc(s);
		cr_assert_eq(rc, 0, "%s: the next attach: %d (%s)", what, rc,
			     shoal_strerror(rc));
		tu_assert_reserve_free(s, what);
		shoal_store_reap(s);
		cr_assert(cc_check(s, &r), "%s: %s", what, r.why);
		shoal_store_close(s);
		cr_assert_lt(k, 100000u, "the window never ended");
	}
}

/*
 * The stats count the processes a store has room for (max_procs, the
 * option's), so a claimer held in a reserve slot is not one of them:
 * with the test's slot the only one and a claimer stopped at
 * CLAIM_RESERVED, the stats read 1 process of 1.
 */
Test(reserve_review, a_claimer_in_the_reserve_is_not_counted_in_the_stats)
{
	struct shoal_store *s = tu_store_procs(1);
	struct shoal_store_stats st;
	pid_t pid = tu_attacher(s, "CLAIM_RESERVED:1:stop", false);
	int rc;

	tu_wait_stopped(pid);
	cr_assert_eq(tu_slot_phase(s, s->geo.max_procs - 2), SHOAL__PROC_LIVE);
	tu_assert_rc(shoal_store_stats(s, &st), 0);
	cr_assert_leq(st.processes, st.max_procs, "%u processes of %u",
		      st.processes, st.max_procs);
	cr_assert_eq(kill(pid, SIGCONT), 0);
	rc = tu_wait_result(pid);
	cr_assert_eq(rc, SHOAL_ETOOMANYPROCS, "the claimer: %d (%s)", rc,
		     shoal_strerror(rc));
	tu_assert_reserve_free(s, "after the claimer");
	shoal_store_close(s);
}

/* A foreign or corrupt header's max_procs (the reserve counted in it) is
 * refused by an attach in a child, which must not crash. */
Test(reserve_review, a_foreign_max_procs_is_refused)
{
	static const uint32_t bad[] = {0, 1, 2, 3, 5, 4095, 4096, 4097,
				       UINT32_MAX};
	struct shoal_store *s = tu_store_procs(2);
	size_t off = offsetof(struct shoal__seg_hdr, max_procs);
	int fd = shoal_store_fd(s);
	uint32_t old;

	cr_assert_eq(pread(fd, &old, 4, (off_t)off), 4);
	cr_assert_eq(old, 4, "the header counts the reserve: %u", old);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc;

		cr_assert_eq(pwrite(fd, &bad[i], 4, (off_t)off), 4);
		rc = tu_attach_rc(s);
		cr_assert_eq(rc, SHOAL_EBADSEGMENT, "max_procs %u: %d (%s)",
			     bad[i], rc, shoal_strerror(rc));
	}
	cr_assert_eq(pwrite(fd, &old, 4, (off_t)off), 4);
	cr_assert_eq(tu_attach_rc(s), 0);
	shoal_store_close(s);
}
