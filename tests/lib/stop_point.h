/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/stop_point.h - stopping a child at a named crash point (base/crash.h)
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
 *           sp_wait_syscall(&t, nr, &p, ms);  its next system call nr, or
 *           sp_detach(&t);                   run free (untraced) from here
 *
 * While the test does not service it, a child that passes any other point
 * simply sits stopped there.  Every wait is bounded (timeout_ms); a child
 * that exits or dies on the way fails the wait.  x86-64 only.  The code is
 * in stop_point.c (static library testlib_crash: the breakpoint is on a
 * function only the crash build has).
 */
#ifndef SHOAL_TESTS_STOP_POINT_H
#define SHOAL_TESTS_STOP_POINT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#if defined(__x86_64__)

struct sp_tracee {
	pid_t pid;
	uintptr_t addr;  /* shoal__crash_hit */
	long orig;       /* the text word at addr */
	bool at_bp;      /* stopped on the breakpoint (rip = addr + 1) */
	int status;      /* the last wait status */
};

/* In the child, right after tu_fork(): be traced by the test and stop
 * until it has set its breakpoint. */
void sp_child_traceme(void);

/* Takes the child stopped by sp_child_traceme, sets the breakpoint and
 * lets it run. */
void sp_start(struct sp_tracee *t, pid_t pid);

/* Runs the tracee on until it stops at the n-th pass of `point` from here
 * (it is then stopped there); false if it ended or did not get there in
 * timeout_ms. */
bool sp_wait_at(struct sp_tracee *t, unsigned point, uint32_t n,
		int timeout_ms);

/* Runs the tracee on until it enters the system call nr (true: it is
 * stopped there), or stops at any crash point (false, *point names it), or
 * ends or does not get there in timeout_ms (false, *point UINT32_MAX).
 * What a process does between two crash points, without one of its own:
 * a wait's sched_yield, say. */
bool sp_wait_syscall(struct sp_tracee *t, long nr, unsigned *point,
		     int timeout_ms);

/* Removes the breakpoint and lets the tracee run free, untraced. */
void sp_detach(struct sp_tracee *t);

#endif /* x86-64 */
#endif /* SHOAL_TESTS_STOP_POINT_H */
