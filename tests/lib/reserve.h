/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/reserve.h - the cast of the reserve-slot tests (store/proc.c:
 * shoal__claim_by_reaping, shoal__proc_try_adopt): a store with few
 * process slots, a dead creator in one, attachers (armed with a crash
 * point, or traced), a claimer killed in its claim, and what must hold
 * after (both reserve slots free, the whole capacity usable).  Then the
 * ptrace steps that walk a claimer one instruction at a time.
 *
 * Header-only (static inline), like live_slot.h: each test links the
 * store its own way.  Whitebox (store/internal.h); every wait is bounded
 * by TU_RESERVE_WAIT_MS; x86-64 for the ptrace part.
 */
#ifndef SHOAL_TEST_RESERVE_H
#define SHOAL_TEST_RESERVE_H

#include <criterion/criterion.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>

#include <shoal/shoal.h>

#include "internal.h"
#include "stop_point.h"
#include "testutil.h"

#define TU_RESERVE_WAIT_MS 10000

/* An 8 MiB store whose slots a process may keep are max_procs (the
 * reserve's SHOAL__PROC_RESERVE more follow them). */
static inline struct shoal_store *tu_store_procs(uint32_t max_procs)
{
	struct shoal_store_options o = tu_opts(8u << 20);
	struct shoal_store *s = NULL;

	o.max_procs = max_procs;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	return s;
}

static inline uint32_t tu_slot_phase(struct shoal_store *s, uint32_t slot)
{
	return SHOAL__PROC_PHASE(atomic_load(&s->procs[slot].state));
}

/* A child that attaches through fd, creates id (100 bytes), never seals
 * it and exits without closing: a dead process in a slot a process may
 * keep, whose reap ends an entry through the reaper's free record. */
static inline void tu_dead_creator_fd(int fd, shoal_id id)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		void *buf;

		TU_CHILD_CHECK(shoal_store_attach_fd(fd, &c) == 0, TU_EXIT_IO);
		TU_CHILD_CHECK(shoal_create(c, id, 100, NULL, 0, 0, &buf) == 0,
			       TU_EXIT_IO);
		_exit(0);
	}
	cr_assert_eq(tu_wait_exit(pid), 0, "the creator that dies");
}

static inline void tu_dead_creator(struct shoal_store *s, shoal_id id)
{
	tu_dead_creator_fd(shoal_store_fd(s), id);
}

/* A child that attaches through fd (traced by the test first if traced:
 * stop_point.h; armed with SHOAL_CRASH=spec, NULL: not armed) and closes:
 * exits with the attach's code (tu_err_to_exit). */
static inline pid_t tu_attacher_fd(int fd, const char *spec, bool traced)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		int rc;

		if (traced)
			sp_child_traceme();
		if (spec)
			setenv("SHOAL_CRASH", spec, 1);
		rc = shoal_store_attach_fd(fd, &c);
		if (rc == 0)
			shoal_store_close(c);
		_exit(tu_err_to_exit(rc));
	}
	return pid;
}

static inline pid_t tu_attacher(struct shoal_store *s, const char *spec,
				bool traced)
{
	return tu_attacher_fd(shoal_store_fd(s), spec, traced);
}

/* An untraced, unarmed attach from a child: its code (asserted to have
 * exited, not died). */
static inline int tu_attach_rc(struct shoal_store *s)
{
	int st = tu_wait_status(tu_attacher(s, NULL, false),
				TU_RESERVE_WAIT_MS);

	cr_assert(WIFEXITED(st), "the attach died (signal %d)",
		  WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return tu_exit_to_err(WEXITSTATUS(st));
}

/* A claimer killed at spec (a crash point's SIGKILL; "CLAIM_RESERVED": a
 * reserve slot left LIVE to a dead pid, with nothing in it). */
static inline void tu_claimer_killed(struct shoal_store *s, const char *spec)
{
	int st = tu_wait_status(tu_attacher(s, spec, false),
				TU_RESERVE_WAIT_MS);

	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "the claimer did not die at %s (status %d)", spec, st);
}

/* Both reserve slots free: every claimer's was given back, or reaped or
 * taken over and then given back. */
static inline void tu_assert_reserve_free(struct shoal_store *s,
					  const char *what)
{
	for (uint32_t i = s->geo.max_procs - SHOAL__PROC_RESERVE;
	     i < s->geo.max_procs; i++)
		cr_assert_eq(tu_slot_phase(s, i), SHOAL__PROC_FREE,
			     "%s: reserve slot %u is not free (phase %u)", what,
			     i, tu_slot_phase(s, i));
}

/* Nothing leaked: one object as large as the whole (8 MiB) store fits. */
static inline void tu_assert_capacity(struct shoal_store *s, const char *what)
{
	shoal_id id = shoal_id_next(s);
	void *buf;
	int rc = shoal_create(s, id, 8u << 20, NULL, 0, 0, &buf);

	cr_assert_eq(rc, 0, "%s: the whole capacity does not fit: %s", what,
		     shoal_strerror(rc));
	tu_assert_rc(shoal_abort(s, id), 0);
}

/* Waits (bounded) until the child is stopped (a crash point's :stop),
 * leaving the stop to be waited for. */
static inline void tu_wait_stopped(pid_t pid)
{
	int64_t deadline = tu_now_ms() + TU_RESERVE_WAIT_MS;
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

#if defined(__x86_64__)
/* The tracee's next stop, bounded: its wait status. */
static inline int tu_trace_stop(pid_t pid)
{
	int64_t deadline = tu_now_ms() + TU_RESERVE_WAIT_MS;
	struct timespec ms = {0, 100000};
	int status;
	pid_t r;

	while ((r = waitpid(pid, &status, WNOHANG | __WALL)) == 0) {
		cr_assert_lt(tu_now_ms(), deadline, "the tracee never stopped");
		nanosleep(&ms, NULL);
	}
	cr_assert(r == pid && WIFSTOPPED(status),
		  "the tracee ended (status %d)", status);
	return status;
}

/* The tracee's next stop after `req` (a step, or on to a system call),
 * asserted to be a trap, not a signal: its wait status. */
static inline int tu_trace_resume(pid_t pid, int req)
{
	int status;

	cr_assert_eq(ptrace(req, pid, NULL, NULL), 0, "ptrace %d", req);
	status = tu_trace_stop(pid);
	cr_assert((WSTOPSIG(status) & 0x7f) == SIGTRAP,
		  "the tracee stopped by signal %d", WSTOPSIG(status));
	return status;
}

/* Takes the child stopped by sp_child_traceme: it dies with the test,
 * and its system call stops are told apart from its other traps. */
static inline void tu_trace_take(pid_t pid)
{
	cr_assert_eq(WSTOPSIG(tu_trace_stop(pid)), SIGSTOP,
		     "not sp_child_traceme's stop");
	cr_assert_eq(ptrace(PTRACE_SETOPTIONS, pid, NULL,
			    (void *)(long)(PTRACE_O_EXITKILL |
					   PTRACE_O_TRACESYSGOOD)), 0);
}

/* Runs the tracee on to the entry of its next system call nr (entry and
 * exit stops alternate, the entry first). */
static inline void tu_trace_to_syscall(pid_t pid, long nr)
{
	for (;;) {
		struct user_regs_struct regs;
		int st = tu_trace_resume(pid, PTRACE_SYSCALL);

		cr_assert_eq(WSTOPSIG(st), SIGTRAP | 0x80,
			     "the tracee stopped by signal %d", WSTOPSIG(st));
		cr_assert_eq(ptrace(PTRACE_GETREGS, pid, NULL, &regs), 0);
		if ((long)regs.orig_rax == nr)
			return;
	}
}

/* One instruction on: false once the tracee stands at the crash build's
 * shoal__crash_hit (its next crash point). */
static inline bool tu_trace_step_short_of(pid_t pid, uintptr_t crash_hit)
{
	struct user_regs_struct regs;

	tu_trace_resume(pid, PTRACE_SINGLESTEP);
	cr_assert_eq(ptrace(PTRACE_GETREGS, pid, NULL, &regs), 0);
	return regs.rip != crash_hit;
}
#endif /* x86-64 */

#endif /* SHOAL_TEST_RESERVE_H */
