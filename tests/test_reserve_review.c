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

/* Defined by the crash build of the library (stop_point.c says why). */
void shoal__crash_hit(struct shoal__crash *c, enum shoal__crash_point p);

TestSuite(reserve_review, .init = tu_setup, .fini = tu_teardown,
	  .timeout = 60);

#define RR_WAIT_MS 10000
#define RR_MAX_STEPS 1000000u

static struct shoal_store *rr_store(uint32_t max_procs)
{
	struct shoal_store_options o = tu_opts(8u << 20);
	struct shoal_store *s = NULL;

	o.max_procs = max_procs;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	return s;
}

static uint32_t rr_phase(struct shoal_store *s, uint32_t slot)
{
	return SHOAL__PROC_PHASE(atomic_load(&s->procs[slot].state));
}

/* A child that attaches, creates id (100 bytes), never seals it and
 * exits without closing: a dead process in a slot a process may keep. */
static void rr_dead_creator(struct shoal_store *s, shoal_id id)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		void *buf;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0,
			       TU_EXIT_IO);
		TU_CHILD_CHECK(shoal_create(c, id, 100, NULL, 0, 0, &buf) == 0,
			       TU_EXIT_IO);
		_exit(0);
	}
	cr_assert_eq(tu_wait_exit(pid), 0, "the creator that dies");
}

/* A child that attaches (traced first if traced; armed with spec, NULL:
 * not armed) and closes: exits with the attach's code. */
static pid_t rr_attacher(struct shoal_store *s, const char *spec, bool traced)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		int rc;

		if (traced)
			sp_child_traceme();
		if (spec)
			setenv("SHOAL_CRASH", spec, 1);
		rc = shoal_store_attach_fd(shoal_store_fd(s), &c);
		if (rc == 0)
			shoal_store_close(c);
		_exit(tu_err_to_exit(rc));
	}
	return pid;
}

static void rr_claimer_killed(struct shoal_store *s, const char *spec)
{
	int st = tu_wait_status(rr_attacher(s, spec, false), RR_WAIT_MS);

	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "the claimer did not die at %s (status %d)", spec, st);
}

static int rr_attach(struct shoal_store *s)
{
	int st = tu_wait_status(rr_attacher(s, NULL, false), RR_WAIT_MS);

	cr_assert(WIFEXITED(st), "the attach died (status %d)", st);
	return tu_exit_to_err(WEXITSTATUS(st));
}

/* The tracee's next stop, bounded: its wait status. */
static int rr_stop(pid_t pid)
{
	int64_t deadline = tu_now_ms() + RR_WAIT_MS;
	struct timespec ms = {0, 100000};
	int status;
	pid_t r;

	while ((r = waitpid(pid, &status, WNOHANG | __WALL)) == 0) {
		cr_assert_lt(tu_now_ms(), deadline, "the claimer never stopped");
		nanosleep(&ms, NULL);
	}
	cr_assert(r == pid && WIFSTOPPED(status),
		  "the claimer ended (status %d)", status);
	return status;
}

/* The tracee's next stop after `req` (a step, or on to a system call). */
static int rr_resume(pid_t pid, int req)
{
	int status;

	cr_assert_eq(ptrace(req, pid, NULL, NULL), 0, "ptrace %d", req);
	status = rr_stop(pid);
	cr_assert((WSTOPSIG(status) & 0x7f) == SIGTRAP,
		  "the claimer stopped by signal %d", WSTOPSIG(status));
	return status;
}

/* Runs the traced child (stopped by sp_child_traceme) to the entry of its
 * first system call nr. */
static void rr_run_to_syscall(pid_t pid, long nr)
{
	cr_assert_eq(WSTOPSIG(rr_stop(pid)), SIGSTOP, "not sp_child_traceme's");
	cr_assert_eq(ptrace(PTRACE_SETOPTIONS, pid, NULL,
			    (void *)(long)(PTRACE_O_EXITKILL |
					   PTRACE_O_TRACESYSGOOD)), 0);
	for (;;) {
		struct user_regs_struct regs;
		int st = rr_resume(pid, PTRACE_SYSCALL);

		cr_assert_eq(ptrace(PTRACE_GETREGS, pid, NULL, &regs), 0);
		if (WSTOPSIG(st) == (SIGTRAP | 0x80) && (long)regs.orig_rax == nr)
			return;
	}
}

/* Runs a traced attacher to its claim (its membarrier query, proc.c),
 * then one instruction at a time until slot's word is LIVE in its name,
 * then `extra` instructions more, and SIGKILLs it there.  False if it
 * reached its next crash point (CLAIM_RESERVED) first: killed there. */
static bool rr_kill_after_claim_cas(struct shoal_store *s, uint32_t slot,
				    uint32_t extra)
{
	pid_t pid = rr_attacher(s, NULL, true);
	uint32_t steps = 0;
	bool before = true;
	uint64_t st;

	rr_run_to_syscall(pid, SYS_membarrier);
	for (;;) {
		st = atomic_load(&s->procs[slot].state);
		if (SHOAL__PROC_PHASE(st) == SHOAL__PROC_LIVE &&
		    SHOAL__PROC_PID(st) == pid)
			break;
		cr_assert_lt(steps++, RR_MAX_STEPS, "slot %u never claimed",
			     slot);
		rr_resume(pid, PTRACE_SINGLESTEP);
	}
	for (uint32_t k = 0; k < extra && before; k++) {
		struct user_regs_struct regs;

		rr_resume(pid, PTRACE_SINGLESTEP);
		cr_assert_eq(ptrace(PTRACE_GETREGS, pid, NULL, &regs), 0);
		before = regs.rip != (uintptr_t)&shoal__crash_hit;
	}
	cr_assert_eq(kill(pid, SIGKILL), 0);
	st = tu_wait_status(pid, RR_WAIT_MS);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "the claimer was not killed (status %d)", (int)st);
	return before;
}

static void rr_assert_reserve_free(struct shoal_store *s, const char *what)
{
	for (uint32_t i = s->geo.max_procs - SHOAL__PROC_RESERVE;
	     i < s->geo.max_procs; i++)
		cr_assert_eq(rr_phase(s, i), SHOAL__PROC_FREE,
			     "%s: reserve slot %u is not free (phase %u)", what,
			     i, rr_phase(s, i));
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
	struct shoal_store *s = rr_store(2);
	uint32_t last = s->geo.max_procs - 1;
	int rc;

	rr_dead_creator(s, tu_id(41, 1));
	rr_claimer_killed(s, "CLAIM_RESERVED");
	cr_assert_eq(rr_phase(s, last - 1), SHOAL__PROC_LIVE);
	rr_kill_after_claim_cas(s, last, 0);
	rc = shoal_store_reap(s);
	cr_assert_eq(rc, 3, "the test's reap freed %d slot(s), not the "
		     "creator's and the two claimers'", rc);
	rr_assert_reserve_free(s, "after the test's reap");
	rr_dead_creator(s, tu_id(41, 2));
	rr_claimer_killed(s, "CLAIM_RESERVED");
	rc = rr_attach(s);
	cr_assert_eq(rc, 0, "an attach with one claimer dead in the reserve: "
		     "%d (%s)", rc, shoal_strerror(rc));
	rr_assert_reserve_free(s, "after the attach");
	cr_assert(cc_check(s, &r), "%s", r.why);
	shoal_store_close(s);
}

/* Nothing leaked: one object as large as the whole store fits. */
static void rr_assert_capacity(struct shoal_store *s, const char *what)
{
	shoal_id id = shoal_id_next(s);
	void *buf;
	int rc = shoal_create(s, id, 8u << 20, NULL, 0, 0, &buf);

	cr_assert_eq(rc, 0, "%s: the whole capacity does not fit: %s", what,
		     shoal_strerror(rc));
	tu_assert_rc(shoal_abort(s, id), 0);
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
			struct shoal_store *s = rr_store(2);
			char spec[64];
			int st, rc;

			snprintf(spec, sizeof spec, "%s:%u", shoal__crash_name(p), n);
			rr_dead_creator(s, tu_id(42, 1));
			st = tu_wait_status(rr_attacher(s, spec, false), RR_WAIT_MS);
			if (!WIFSIGNALED(st)) {
				cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
					  "%s: the claimer (status %d)", spec, st);
				shoal_store_close(s);
				break; /* no further pass either */
			}
			rc = rr_attach(s);
			cr_assert_eq(rc, 0, "%s: the next attach: %d (%s)", spec,
				     rc, shoal_strerror(rc));
			rr_assert_reserve_free(s, spec);
			shoal_store_reap(s);
			cr_assert(cc_check(s, &r), "%s: %s", spec, r.why);
			if (strncmp(spec, "HEAP_", 5))
				rr_assert_capacity(s, spec);
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
		struct shoal_store *s = rr_store(2);
		char what[32];
		int rc;

		snprintf(what, sizeof what, "killed %u after the CAS", k);
		rr_dead_creator(s, tu_id(44, k + 1));
		more = rr_kill_after_claim_cas(s, s->geo.max_procs - 2, k);
		rc = rr_attach(s);
		cr_assert_eq(rc, 0, "%s: the next attach: %d (%s)", what, rc,
			     shoal_strerror(rc));
		rr_assert_reserve_free(s, what);
		shoal_store_reap(s);
		cr_assert(cc_check(s, &r), "%s: %s", what, r.why);
		shoal_store_close(s);
		cr_assert_lt(k, 100000u, "the window never ended");
	}
}

/* Waits (bounded) until the child is stopped (a crash point's :stop). */
static void rr_wait_stopped(pid_t pid)
{
	int64_t deadline = tu_now_ms() + RR_WAIT_MS;
	struct timespec ms = {0, 200000};
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof si);
		cr_assert_eq(waitid(P_PID, (id_t)pid, &si,
				    WSTOPPED | WNOHANG | WNOWAIT), 0);
		if (si.si_pid == pid && si.si_code == CLD_STOPPED)
			return;
		cr_assert_lt(tu_now_ms(), deadline, "the claimer never stopped");
		nanosleep(&ms, NULL);
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
	struct shoal_store *s = rr_store(1);
	struct shoal_store_stats st;
	pid_t pid = rr_attacher(s, "CLAIM_RESERVED:1:stop", false);
	int rc;

	rr_wait_stopped(pid);
	cr_assert_eq(rr_phase(s, s->geo.max_procs - 2), SHOAL__PROC_LIVE);
	tu_assert_rc(shoal_store_stats(s, &st), 0);
	cr_assert_leq(st.processes, st.max_procs, "%u processes of %u",
		      st.processes, st.max_procs);
	cr_assert_eq(kill(pid, SIGCONT), 0);
	rc = tu_wait_result(pid);
	cr_assert_eq(rc, SHOAL_ETOOMANYPROCS, "the claimer: %d (%s)", rc,
		     shoal_strerror(rc));
	rr_assert_reserve_free(s, "after the claimer");
	shoal_store_close(s);
}

/* A foreign or corrupt header's max_procs (the reserve counted in it) is
 * refused by an attach in a child, which must not crash. */
Test(reserve_review, a_foreign_max_procs_is_refused)
{
	static const uint32_t bad[] = {0, 1, 2, 3, 5, 4095, 4096, 4097,
				       UINT32_MAX};
	struct shoal_store *s = rr_store(2);
	size_t off = offsetof(struct shoal__seg_hdr, max_procs);
	int fd = shoal_store_fd(s);
	uint32_t old;

	cr_assert_eq(pread(fd, &old, 4, (off_t)off), 4);
	cr_assert_eq(old, 4, "the header counts the reserve: %u", old);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc;

		cr_assert_eq(pwrite(fd, &bad[i], 4, (off_t)off), 4);
		rc = rr_attach(s);
		cr_assert_eq(rc, SHOAL_EBADSEGMENT, "max_procs %u: %d (%s)",
			     bad[i], rc, shoal_strerror(rc));
	}
	cr_assert_eq(pwrite(fd, &old, 4, (off_t)off), 4);
	cr_assert_eq(rr_attach(s), 0);
	shoal_store_close(s);
}
