/* SPDX-License-Identifier: MIT */
/*
 * tests/stop_point.h - stopping a child at a named crash point (store/crash.h)
 * without killing it, to play out an exact interleaving of live processes.
 *
 * A crash point SIGKILLs; a race between two live processes needs them
 * held at two points at once and released in a chosen order.  In the
 * crash-point build every SHOAL__CRASH(s, NAME) is a call of
 * shoal__crash_hit(&s->crash, SHOAL__CP_NAME), whether the handle is armed
 * or not, so a breakpoint on that function, with the point in its second
 * argument (%esi on x86-64), stops a process at any named point.  The test
 * process is the tracer (the child asks for it with PTRACE_TRACEME right
 * after tu_fork), and a forked child has the test's text at the same
 * addresses, so the breakpoint goes at &shoal__crash_hit.
 *
 *   child:  sp_child_traceme();  then attach and work as usual
 *   test:   sp_start(&t, pid);               breakpoint set, child running
 *           sp_wait_at(&t, SHOAL__CP_X, n);  stopped at the n-th pass of X
 *           ... let others run ...
 *           sp_wait_at(&t, SHOAL__CP_Y, 1);  on to the next point, or
 *           sp_detach(&t);                   run free (untraced) from here
 *
 * While the test does not service it, a child that passes any other point
 * simply sits stopped there.  Every wait is bounded (timeout_ms); a child
 * that exits or dies on the way fails the wait.  x86-64 only.
 */
#ifndef SHOAL_TESTS_STOP_POINT_H
#define SHOAL_TESTS_STOP_POINT_H

#include <sys/ptrace.h>
#include <sys/user.h>

#include "testutil.h"
#include "crash.h"

#if defined(__x86_64__)

void shoal__crash_hit(struct shoal__crash *c, enum shoal__crash_point p);

struct sp_tracee {
	pid_t pid;
	uintptr_t addr;  /* shoal__crash_hit */
	long orig;       /* the text word at addr */
	bool at_bp;      /* stopped on the breakpoint (rip = addr + 1) */
	int status;      /* the last wait status */
};

/* In the child, right after tu_fork(): be traced by the test and stop
 * until it has set its breakpoint. */
static inline void sp_child_traceme(void)
{
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
		_exit(TU_EXIT_IO);
	raise(SIGSTOP);
}

/* Waits up to timeout_ms for the tracee's next stop or end (a bounded
 * poll: a ptrace stop makes no pidfd readable). */
static inline bool sp_wait_stop(struct sp_tracee *t, int timeout_ms)
{
	int64_t deadline = tu_now_ms() + timeout_ms;
	struct timespec ms = {0, 200000};
	pid_t r;

	while ((r = waitpid(t->pid, &t->status, WNOHANG | __WALL)) == 0) {
		if (tu_now_ms() >= deadline)
			return false;
		nanosleep(&ms, NULL);
	}
	return r == t->pid && WIFSTOPPED(t->status);
}

static inline void sp_poke_bp(struct sp_tracee *t)
{
	long bp = (t->orig & ~0xffL) | 0xcc;

	cr_assert_eq(ptrace(PTRACE_POKETEXT, t->pid, (void *)t->addr, (void *)bp),
		     0, "poketext: %s", strerror(errno));
}

static inline void sp_unpoke_bp(struct sp_tracee *t)
{
	cr_assert_eq(ptrace(PTRACE_POKETEXT, t->pid, (void *)t->addr,
			    (void *)t->orig), 0, "poketext: %s", strerror(errno));
}

/* Back to the start of the function with its first instruction restored. */
static inline void sp_rewind(struct sp_tracee *t)
{
	struct user_regs_struct regs;

	sp_unpoke_bp(t);
	cr_assert_eq(ptrace(PTRACE_GETREGS, t->pid, NULL, &regs), 0);
	regs.rip = t->addr;
	cr_assert_eq(ptrace(PTRACE_SETREGS, t->pid, NULL, &regs), 0);
	t->at_bp = false;
}

/* Lets the tracee run on (over the breakpoint if it is on it). */
static inline void sp_cont(struct sp_tracee *t, int sig)
{
	if (t->at_bp) {
		sp_rewind(t);
		cr_assert_eq(ptrace(PTRACE_SINGLESTEP, t->pid, NULL, NULL), 0);
		cr_assert(sp_wait_stop(t, TU_CHILD_DEADLINE_MS), "single step");
		sp_poke_bp(t);
	}
	cr_assert_eq(ptrace(PTRACE_CONT, t->pid, NULL, (void *)(long)sig), 0,
		     "cont: %s", strerror(errno));
}

/* Takes the child stopped by sp_child_traceme, sets the breakpoint and
 * lets it run. */
static inline void sp_start(struct sp_tracee *t, pid_t pid)
{
	memset(t, 0, sizeof *t);
	t->pid = pid;
	t->addr = (uintptr_t)&shoal__crash_hit;
	cr_assert(sp_wait_stop(t, TU_CHILD_DEADLINE_MS) &&
		  WSTOPSIG(t->status) == SIGSTOP, "the child did not stop");
	ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)PTRACE_O_EXITKILL);
	errno = 0;
	t->orig = ptrace(PTRACE_PEEKTEXT, pid, (void *)t->addr, NULL);
	cr_assert_eq(errno, 0, "peektext: %s", strerror(errno));
	sp_poke_bp(t);
	sp_cont(t, 0);
}

/* Runs the tracee on until it stops at the n-th pass of `point` from here
 * (it is then stopped there); false if it ended or did not get there in
 * timeout_ms. */
static inline bool sp_wait_at(struct sp_tracee *t, unsigned point, uint32_t n,
			      int timeout_ms)
{
	int64_t deadline = tu_now_ms() + timeout_ms;

	if (t->at_bp)
		sp_cont(t, 0);
	for (;;) {
		struct user_regs_struct regs;
		int64_t left = deadline - tu_now_ms();

		if (left <= 0 || !sp_wait_stop(t, (int)left))
			return false;
		if (WSTOPSIG(t->status) != SIGTRAP) {
			sp_cont(t, WSTOPSIG(t->status)); /* not ours: deliver */
			continue;
		}
		cr_assert_eq(ptrace(PTRACE_GETREGS, t->pid, NULL, &regs), 0);
		t->at_bp = regs.rip == t->addr + 1;
		if (t->at_bp && (unsigned)regs.rsi == point && --n == 0)
			return true;
		sp_cont(t, 0);
	}
}

/* Removes the breakpoint and lets the tracee run free, untraced. */
static inline void sp_detach(struct sp_tracee *t)
{
	if (t->at_bp)
		sp_rewind(t);
	else
		sp_unpoke_bp(t);
	cr_assert_eq(ptrace(PTRACE_DETACH, t->pid, NULL, NULL), 0,
		     "detach: %s", strerror(errno));
}

#endif /* x86-64 */
#endif /* SHOAL_TESTS_STOP_POINT_H */
