/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/stop_point.c - a breakpoint on shoal__crash_hit in a traced
 * child (what and why: stop_point.h).  x86-64 only: tests/lib/meson.build
 * builds it there only.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "crash.h"
#include "stop_point.h"
#include "testutil.h"

/* Declared by crash.h only where SHOAL_CRASH_POINTS is defined (the
 * library's build, not this one); defined by the crash build of the
 * library, which the suites that use this file link. */
void shoal__crash_hit(struct shoal__crash *c, enum shoal__crash_point p);

void sp_child_traceme(void)
{
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0)
		_exit(TU_EXIT_IO);
	raise(SIGSTOP);
}

/* Waits up to timeout_ms for the tracee's next stop or end (a bounded
 * poll: a ptrace stop makes no pidfd readable). */
static bool sp_wait_stop(struct sp_tracee *t, int timeout_ms)
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

static void sp_poke_bp(struct sp_tracee *t)
{
	long bp = (t->orig & ~0xffL) | 0xcc;

	cr_assert_eq(ptrace(PTRACE_POKETEXT, t->pid, (void *)t->addr, (void *)bp),
		     0, "poketext: %s", strerror(errno));
}

static void sp_unpoke_bp(struct sp_tracee *t)
{
	cr_assert_eq(ptrace(PTRACE_POKETEXT, t->pid, (void *)t->addr,
			    (void *)t->orig), 0, "poketext: %s", strerror(errno));
}

/* Back to the start of the function with its first instruction restored. */
static void sp_rewind(struct sp_tracee *t)
{
	struct user_regs_struct regs;

	sp_unpoke_bp(t);
	cr_assert_eq(ptrace(PTRACE_GETREGS, t->pid, NULL, &regs), 0);
	regs.rip = t->addr;
	cr_assert_eq(ptrace(PTRACE_SETREGS, t->pid, NULL, &regs), 0);
	t->at_bp = false;
}

/* Steps the tracee over the breakpoint if it is on it. */
static void sp_step_over(struct sp_tracee *t)
{
	if (t->at_bp) {
		sp_rewind(t);
		cr_assert_eq(ptrace(PTRACE_SINGLESTEP, t->pid, NULL, NULL), 0);
		cr_assert(sp_wait_stop(t, TU_CHILD_DEADLINE_MS), "single step");
		sp_poke_bp(t);
	}
}

/* Lets the tracee run on (over the breakpoint if it is on it). */
static void sp_cont(struct sp_tracee *t, int sig)
{
	sp_step_over(t);
	cr_assert_eq(ptrace(PTRACE_CONT, t->pid, NULL, (void *)(long)sig), 0,
		     "cont: %s", strerror(errno));
}

void sp_start(struct sp_tracee *t, pid_t pid)
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

bool sp_wait_at(struct sp_tracee *t, unsigned point, uint32_t n,
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
		if (WSTOPSIG(t->status) == (SIGTRAP | 0x80)) {
			sp_cont(t, 0); /* a syscall stop (sp_wait_syscall) */
			continue;
		}
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

bool sp_wait_syscall(struct sp_tracee *t, long nr, unsigned *point,
		     int timeout_ms)
{
	int64_t deadline = tu_now_ms() + timeout_ms;
	int sig = 0;

	*point = UINT32_MAX;
	/* Syscall stops then say so (SIGTRAP | 0x80): not a breakpoint. */
	cr_assert_eq(ptrace(PTRACE_SETOPTIONS, t->pid, NULL,
			    (void *)(long)(PTRACE_O_EXITKILL |
					   PTRACE_O_TRACESYSGOOD)), 0);
	sp_step_over(t);
	for (;;) {
		struct user_regs_struct regs;
		int64_t left = deadline - tu_now_ms();

		cr_assert_eq(ptrace(PTRACE_SYSCALL, t->pid, NULL,
				    (void *)(long)sig), 0,
			     "syscall: %s", strerror(errno));
		sig = 0;
		if (left <= 0 || !sp_wait_stop(t, (int)left))
			return false;
		if (WSTOPSIG(t->status) != SIGTRAP &&
		    WSTOPSIG(t->status) != (SIGTRAP | 0x80)) {
			sig = WSTOPSIG(t->status); /* not ours: deliver */
			continue;
		}
		cr_assert_eq(ptrace(PTRACE_GETREGS, t->pid, NULL, &regs), 0);
		/* Entry and exit stops alternate, the entry first: the first
		 * stop that names nr is its entry. */
		if (WSTOPSIG(t->status) == (SIGTRAP | 0x80)) {
			if ((long)regs.orig_rax == nr)
				return true;
			continue;
		}
		t->at_bp = regs.rip == t->addr + 1;
		if (t->at_bp) {
			*point = (unsigned)regs.rsi;
			return false;
		}
	}
}

void sp_detach(struct sp_tracee *t)
{
	if (t->at_bp)
		sp_rewind(t);
	else
		sp_unpoke_bp(t);
	cr_assert_eq(ptrace(PTRACE_DETACH, t->pid, NULL, NULL), 0,
		     "detach: %s", strerror(errno));
}
