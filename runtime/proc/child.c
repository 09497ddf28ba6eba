/* SPDX-License-Identifier: MIT */
/*
 * runtime/proc/child.c - what every child the fork server forks does, in
 * one place: a worker (forkserver.c) and an actor process (fsactor.c)
 * begin here, right after fork(), before their main.
 *
 * A child starts clean: every signal's disposition back to SIG_DFL and
 * an empty signal mask (shoal__signals_reset; the fork server does the
 * same at its start), so that a handler or a mask the host program set in
 * the driver never reaches a task; then SIGPIPE is ignored, as Python
 * and Ray's workers do (a write to a closed pipe fails with EPIPE).  It closes the fork
 * server's descriptors that are not its own (the driver's control socket,
 * the signal fd, the driver's pidfd, the actor socket; an actor also the
 * spawn eventfd, which only workers use), and asks the kernel to kill it
 * when the fork server dies (PR_SET_PDEATHSIG), exiting at once if the
 * fork server is already gone (a reparented child would never get that
 * signal).  Then it names itself (title.c) by its label ("worker 2",
 * "LoggingActor#3") and turns its stdout and stderr into pipes to the log
 * relay (logrelay.c), closing the relay's socket: the task code finds no
 * descriptor of the fork server's or the relay's.  A worker and an actor
 * flush stdout and stderr after each task or call (task/exec.c, before
 * the results are sealed; shoal__child_flush at exit),
 * whatever buffering the user set: a line printed without fflush is out
 * before the process can die.  Once attached, it stores its own pid and
 * start time into its slot before it says it runs (shoal__publish_self).
 */
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "proc_int.h"

void shoal__signals_reset(void)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;

	/* SIGKILL, SIGSTOP and libc's own signals refuse it: kept. */
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* "shoal worker 2 /name" (comm "shoal worker 2") or "shoal actor
 * LoggingActor#3 /name" (comm "LoggingActor#3"); no name if private. */
static void shoal__child_name(const struct shoal__fs *fs, bool actor,
			      const char *label)
{
	char comm[16], title[384];
	const char *name = fs->boot->name;

	shoal__title_comm(comm, actor ? "" : "shoal ", label);
	snprintf(title, sizeof title, "shoal %s%s%s%s", actor ? "actor " : "",
		 label, name[0] ? " " : "", name);
	shoal__title_set(comm, title);
}

void shoal__child_begin(struct shoal__fs *fs, pid_t parent, bool actor,
			const char *label)
{
	shoal__signals_reset();
	/* As Python (and so Ray's workers) does: a write to a closed pipe or
	 * socket fails with EPIPE rather than kill the worker, so that a dead
	 * log relay costs lines, never a task or an actor's state. */
	signal(SIGPIPE, SIG_IGN);
	close(fs->boot->ctl_fd);
	close(fs->sigfd);
	close(fs->driver_pidfd);
	close(fs->act_fd);
	if (actor)
		close(fs->spawn_fd);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(0);
	shoal__child_name(fs, actor, label);
	shoal__log_attach(fs->log_sock, label); /* closes the relay's socket */
}

/* After each task or call: __fpending reads the buffer's fill without
 * taking the stream's lock, so a task that printed nothing costs two
 * loads, not two locked fflush calls. */
void shoal__child_flush(void)
{
	if (__fpending(stdout))
		fflush(stdout);
	if (__fpending(stderr))
		fflush(stderr);
}

/*
 * The fork server stores a child's pid and start time after fork()
 * returns in it; under load the child can run, say it runs and serve
 * work before that, and whoever reads the slot then would see it running
 * with pid 0.  So the child stores the same two values itself first
 * (start, then pid with release: end.c reads them in the other order),
 * before it says it runs.  Two writers of equal values: either order is
 * the same.  The release is WK-R1 for a worker's slot, ACT-R4 for an
 * actor's (actlayout.h); start is relaxed, published by it.
 */
void shoal__publish_self(_Atomic int32_t *pid, _Atomic uint64_t *start)
{
	pid_t me = getpid();

	atomic_store_explicit(start, shoal__proc_start_time(me), memory_order_relaxed);
	atomic_store_explicit(pid, me, memory_order_release); /* WK-R1, ACT-R4 */
}
