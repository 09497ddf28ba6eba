/* SPDX-License-Identifier: MIT */
/*
 * runtime/forkserver.c - the fork server: the one process that forks.
 *
 * Born from the driver by a double fork before shoal starts any thread
 * (runtime.c), so it is not the driver's child (a waitpid(-1) in the driver
 * cannot reap it) and it runs in a session of its own (setsid: a Ctrl-C at
 * the terminal reaches the driver alone).  It starts with every signal at
 * SIG_DFL and an empty mask (child.c), whatever the driver had: a SIGCHLD
 * the host ignores would have the kernel reap the workers unseen.  It
 * keeps only stdio, the segment and its end of the control socket open,
 * and first of all forks the log relay (logrelay.c), whose socket its
 * children inherit and close once they have handed it their output.
 *
 * It waits in poll() on three things:
 *  - the control socket: SPAWN a worker, SHUTDOWN; end of file means the
 *    driver is gone;
 *  - a pidfd on the driver: readable when the driver died, whatever killed
 *    it;
 *  - a signalfd for SIGCHLD: a worker exited; its store slot is reaped at
 *    once (this process holds a store handle for that) and, unless the
 *    runtime is stopping, a replacement is started in the same worker slot
 *    before anything else (a worker that died before it ran, at its
 *    start, is replaced after a backoff instead: 10 ms, doubling up to
 *    1 s, so that a start that cannot succeed is no fork loop) (exec.c:
 *    the records the dead worker ran are
 *    noted first, then failed or retried; queued records it took out of
 *    the queue are pushed again, never waiting for room: what does not fit
 *    is pushed again every SHOAL__FS_RETRY_MS).
 * The fork server never waits for another process of the runtime, nor for
 * room in the store or the run queue: it must stay free to reap, replace
 * and answer.
 * When the driver is gone it unlinks a named segment (if the name is
 * still this segment's: store/name.c), marks the runtime stopping, kills
 * every child with SIGKILL, reaps them, and exits; so does a fork server
 * that cannot start (the driver may be gone already).  On SHUTDOWN it
 * unlinks the name the same way (a driver killed once we are gone would
 * leave it), lets workers leave on their own (they watch `stopping`), and
 * kills those still there after SHOAL__FS_GRACE_MS.  Either way the
 * runtime ends (SHOAL_ESTOPPED) and, once no child is left, every task and
 * call still pending fails with that code (end.c), so that an attached
 * program's get never waits for work nobody will do.  Its own death is
 * seen by every process through a robust mutex it holds from its start
 * (end.c).
 *
 * The children it forks inherit its memory (the registry, this process's
 * store handle); a worker never uses the inherited handle, it attaches its
 * own (worker.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ext.h"
#include "mem.h"
#include "fsproto.h"
#include "proc_int.h"
#include "queue.h"

#define SHOAL__FS_GRACE_MS 2000
#define SHOAL__FS_RETRY_MS 20
#define SHOAL__FS_BACKOFF_MIN_MS 10
#define SHOAL__FS_BACKOFF_MAX_MS 1000

static int64_t shoal__fs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Closes every fd but stdio and the ones to keep (sorted, ascending). */
void shoal__close_others(const int *keep, size_t n)
{
	unsigned from = 3;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned)keep[i] > from)
			syscall(SYS_close_range, from, (unsigned)keep[i] - 1, 0);
		if ((unsigned)keep[i] + 1 > from)
			from = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0u, 0);
}

/* The segment, the control socket and the done pipe's write end (for
 * the log relay, if any). */
static void shoal__keep_only(const struct shoal__boot *boot)
{
	int keep[3] = {boot->seg_fd, boot->ctl_fd, boot->log_fd};
	size_t n = boot->log_fd >= 0 ? 3 : 2;

	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && keep[k - 1] > keep[k]; k--) {
			int t = keep[k];

			keep[k] = keep[k - 1];
			keep[k - 1] = t;
		}
	shoal__close_others(keep, n);
}

static int shoal__fs_open(struct shoal__fs *fs, const struct shoal__boot *boot)
{
	uint64_t size;
	void *region;
	sigset_t chld;
	int rc;

	fs->boot = boot;
	rc = shoal_store_attach_fd(boot->seg_fd, &fs->store);
	if (rc)
		return rc;
	shoal__store_set_role(fs->store, SHOAL__ROLE_FORK_SERVER);
	region = shoal__store_ext(fs->store, &size);
	rc = shoal__rt_view_open(&fs->v, region, size);
	if (rc)
		return rc;
	shoal__store_set_ext_view(fs->store, &fs->v);
	pthread_mutex_init(&fs->oq.lock, NULL);
	if (shoal__mem_open(&fs->arena))
		return -ENOMEM;
	fs->kids = shoal__mem_alloc(fs->arena, fs->v.max_workers * sizeof *fs->kids);
	fs->act_kids = shoal__mem_alloc(fs->arena,
					(fs->v.max_actors + 1) * sizeof *fs->act_kids);
	fs->backoff_ms = shoal__mem_alloc(fs->arena, fs->v.max_workers *
							     sizeof *fs->backoff_ms);
	fs->respawn_at_ms = shoal__mem_alloc(fs->arena, fs->v.max_workers *
								sizeof *fs->respawn_at_ms);
	fs->requeue = (struct shoal__requeue){
		.v = &fs->v, .max_tasks = fs->v.max_tasks,
		.present = shoal__mem_alloc(fs->arena, ((fs->v.max_tasks + 63) / 64) *
							       sizeof(uint64_t)),
		.later = shoal__mem_alloc(fs->arena,
					  fs->v.max_tasks * sizeof(uint32_t)),
	};
	fs->act_fd = shoal__fs_actor_socket(&fs->v);
	fs->driver_pidfd = (int)syscall(SYS_pidfd_open, boot->driver_pid, 0);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	fs->sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	fs->spawn_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!fs->kids || !fs->act_kids || !fs->backoff_ms || !fs->respawn_at_ms ||
	    !fs->requeue.present ||
	    !fs->requeue.later || fs->driver_pidfd < 0 || fs->sigfd < 0 ||
	    fs->spawn_fd < 0 || fs->act_fd < 0)
		return -errno ? -errno : -ENOMEM;
	memset(fs->kids, 0, fs->v.max_workers * sizeof *fs->kids);
	memset(fs->backoff_ms, 0, fs->v.max_workers * sizeof *fs->backoff_ms);
	memset(fs->respawn_at_ms, 0, fs->v.max_workers * sizeof *fs->respawn_at_ms);
	memset(fs->act_kids, 0, (fs->v.max_actors + 1) * sizeof *fs->act_kids);
	return 0;
}

static void shoal__fs_send(const struct shoal__fs *fs, uint32_t op, int32_t pid,
			   int32_t rc)
{
	struct shoal__fs_msg m = {.op = op, .pid = pid, .rc = rc};

	send(fs->boot->ctl_fd, &m, sizeof m, MSG_NOSIGNAL);
}

_Noreturn static void shoal__fs_child(struct shoal__fs *fs, uint32_t index,
				      pid_t parent)
{
	char label[SHOAL__LABEL_MAX];

	snprintf(label, sizeof label, "worker %u", index);
	shoal__child_begin(fs, parent, false, label);
	shoal__worker_main(fs->boot, index, fs->spawn_fd);
}

static int shoal__fs_spawn(struct shoal__fs *fs, uint32_t index)
{
	struct shoal__rt_worker *w;
	pid_t self = getpid(), pid;

	if (index >= fs->v.max_workers)
		return -EINVAL;
	if (fs->kids[index])
		return -EBUSY;
	w = &fs->v.workers[index];
	/* Relaxed: the fork server's own words, before the fork (which
	 * orders them for the child); readers count only RUNNING (WK-A1). */
	atomic_store_explicit(&w->state, SHOAL__WK_STARTING, memory_order_relaxed);
	atomic_store_explicit(&w->blocked, 0, memory_order_relaxed);
	atomic_store_explicit(&w->room_wait, 0, memory_order_relaxed);
	atomic_store_explicit(&w->head, 0, memory_order_relaxed);
	/* Before the pid's WK-R1: a canceller that sees the new pid sees no
	 * record of the dead one as this process's (task/cancel.c). */
	atomic_store_explicit(&w->run_task, 0, memory_order_relaxed);
	/* Counted before the fork: the child may attach, run a task and have
	 * its result read before this process runs again (and reads the
	 * child's start time from /proc), and a reader of the count must not
	 * see a result of a worker not counted yet.  Relaxed: a counter,
	 * ordered before the fork (and so before the child's results) by
	 * the fork itself. */
	atomic_fetch_add_explicit(&fs->v.hdr->workers_started, 1, memory_order_relaxed);
	pid = fork();
	if (pid < 0) {
		atomic_fetch_sub_explicit(&fs->v.hdr->workers_started, 1,
					  memory_order_relaxed);
		return -errno;
	}
	if (pid == 0)
		shoal__fs_child(fs, index, self);
	fs->kids[index] = pid;
	SHOAL__STORE_CRASH(fs->store, WORKER_FORKED);
	/* Relaxed: counted for tools. */
	atomic_fetch_add_explicit(&w->generation, 1, memory_order_relaxed);
	/* Our child, not reaped yet: its pid is its own.  Relaxed: the
	 * release store of pid publishes it (WK-R1). */
	atomic_store_explicit(&w->start, shoal__proc_start_time(pid),
			      memory_order_relaxed);
	atomic_store_explicit(&w->pid, pid, memory_order_release); /* WK-R1 */
	return pid;
}

bool shoal__fs_stopping(const struct shoal__fs *fs)
{
	return fs->shutting_down || /* STOP-A1 */
	       atomic_load_explicit(&fs->v.hdr->stopping, memory_order_acquire);
}

static void shoal__fs_describe_death(pid_t pid, int status, char *buf,
				     size_t cap)
{
	if (WIFSIGNALED(status))
		snprintf(buf, cap, "worker %d died (signal %d: %s)", (int)pid,
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, cap, "worker %d exited with status %d", (int)pid,
			 WEXITSTATUS(status));
}

/* The replacement of worker i: at once after a worker that ran; after a
 * growing backoff after one that died at its start (it could not attach:
 * the store's process slots are taken, say), until one runs. */
static void shoal__fs_replace(struct shoal__fs *fs, uint32_t i, bool ran)
{
	uint32_t *b = &fs->backoff_ms[i];

	if (ran) {
		*b = 0;
		fs->respawn_at_ms[i] = 0;
		shoal__fs_spawn(fs, i);
		return;
	}
	*b = *b ? *b * 2 : SHOAL__FS_BACKOFF_MIN_MS;
	if (*b > SHOAL__FS_BACKOFF_MAX_MS)
		*b = SHOAL__FS_BACKOFF_MAX_MS;
	fs->respawn_at_ms[i] = shoal__fs_now_ms() + *b;
}

/* Replacements whose backoff is over. */
static void shoal__fs_respawn_due(struct shoal__fs *fs)
{
	int64_t now = shoal__fs_now_ms();

	for (uint32_t i = 0; i < fs->v.max_workers; i++) {
		if (!fs->respawn_at_ms[i] || fs->respawn_at_ms[i] > now)
			continue;
		fs->respawn_at_ms[i] = 0;
		if (!shoal__fs_stopping(fs))
			shoal__fs_spawn(fs, i);
	}
}

/* The soonest replacement due, in ms from now (-1: none). */
static int64_t shoal__fs_respawn_in(const struct shoal__fs *fs)
{
	int64_t now = shoal__fs_now_ms(), best = -1;

	for (uint32_t i = 0; i < fs->v.max_workers; i++) {
		int64_t at = fs->respawn_at_ms[i];

		if (at && (best < 0 || at - now < best))
			best = at > now ? at - now : 0;
	}
	return best;
}

/* A worker died unasked: the replacement first (it drains the queue),
 * then its running task fails or is retried, and what it took out of the
 * queue goes back.  Nothing here waits (exec.c).  ran: it had started
 * (RUNNING) before it died. */
static void shoal__fs_worker_died(struct shoal__fs *fs, uint32_t i, pid_t pid,
				  int status, bool ran)
{
	uint32_t running[SHOAL__DEAD_RUNNING_MAX], n;
	char why[128];

	/* Counted before its task fails: whoever sees the failure sees the
	 * death counted (relaxed: the failure's own publication orders it,
	 * ENT-R2 of the error object it seals). */
	atomic_fetch_add_explicit(&fs->v.hdr->workers_died, 1, memory_order_relaxed);
	shoal__fs_describe_death(pid, status, why, sizeof why);
	n = shoal__exec_dead_worker_scan(&fs->v, i, running, SHOAL__DEAD_RUNNING_MAX);
	shoal__fs_replace(fs, i, ran);
	shoal__exec_dead_worker_settle(fs->store, &fs->v, i, running, n, why,
				       &fs->requeue);
}

/* A child is gone: its store slot is reaped, and unless the runtime is
 * stopping (or it was an extra worker that retired) it is replaced. */
static void shoal__fs_child_exited(struct shoal__fs *fs, pid_t pid, int status)
{
	uint32_t state;

	/* Before its slot is reaped: what it put and still holds for a
	 * queue becomes the fork server's (objq_admin.c). */
	shoal__oq_adopt(fs->store, &fs->v, &fs->oq, fs->arena);
	if (shoal__fs_actor_exited(fs, pid, status))
		return;
	for (uint32_t i = 0; i < fs->v.max_workers; i++) {
		if (fs->kids[i] != pid)
			continue;
		fs->kids[i] = 0;
		/* WK-A1, WK-R1: the worker's last state, then EXITED (which
		 * publishes nothing a reader needs: the slot is dead). */
		state = atomic_load_explicit(&fs->v.workers[i].state,
					     memory_order_acquire);
		atomic_store_explicit(&fs->v.workers[i].state, SHOAL__WK_EXITED,
				      memory_order_release);
		shoal_store_reap(fs->store);
		if (shoal__fs_stopping(fs) ||
		    (state == SHOAL__WK_RETIRED && WIFEXITED(status) &&
		     WEXITSTATUS(status) == 0))
			return;
		shoal__fs_worker_died(fs, i, pid, status,
				      state != SHOAL__WK_STARTING);
		return;
	}
}

static uint32_t shoal__fs_live_kids(const struct shoal__fs *fs)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < fs->v.max_workers; i++)
		n += fs->kids[i] != 0;
	for (uint32_t i = 0; i < fs->v.max_actors; i++)
		n += fs->act_kids[i] != 0;
	return n;
}

void shoal__fs_reap_children(struct shoal__fs *fs, bool block)
{
	struct signalfd_siginfo si;
	pid_t pid;
	int status;

	while (read(fs->sigfd, &si, sizeof si) == sizeof si)
		;
	/* block: only once every child was SIGKILLed (they exit without
	 * running any code), and only while a worker or an actor is left:
	 * the log relay, our child too, outlives us (logrelay.c). */
	for (;;) {
		pid = waitpid(-1, &status,
			      block && shoal__fs_live_kids(fs) ? 0 : WNOHANG);
		if (pid <= 0)
			return;
		shoal__fs_child_exited(fs, pid, status);
	}
}

static void shoal__fs_kill_all(struct shoal__fs *fs)
{
	for (uint32_t i = 0; i < fs->v.max_workers; i++)
		if (fs->kids[i])
			kill(fs->kids[i], SIGKILL); /* our own child, by pid */
	for (uint32_t i = 0; i < fs->v.max_actors; i++)
		if (fs->act_kids[i])
			kill(fs->act_kids[i], SIGKILL);
}

/* Waits for every child, killing those left after grace_ms; then every
 * task and call still pending fails with SHOAL_ESTOPPED (end.c: the
 * sweep, with no child left to run or consume anything). */
static void shoal__fs_stop_children(struct shoal__fs *fs, int grace_ms)
{
	struct shoal__deadline d = shoal__deadline_in(grace_ms);
	struct pollfd p = {.fd = fs->sigfd, .events = POLLIN};

	fs->shutting_down = true;
	shoal__rt_end(&fs->v, SHOAL_ESTOPPED);
	/* STOP-R1 */
	atomic_store_explicit(&fs->v.hdr->stopping, 1, memory_order_release);
	shoal__rt_wake_workers(&fs->v);
	while (shoal__fs_live_kids(fs) && !shoal__deadline_passed(d)) {
		poll(&p, 1, 50);
		shoal__fs_reap_children(fs, false);
	}
	shoal__fs_kill_all(fs);
	while (shoal__fs_live_kids(fs)) /* SIGKILLed children: it ends */
		shoal__fs_reap_children(fs, true);
	shoal__rt_sweep(fs->store, &fs->v);
}

/* The segment's name, if it is still this runtime's (name.c: another
 * program may have taken a name the driver never gave, or gave up). */
static void shoal__fs_unlink(const struct shoal__boot *boot)
{
	if (boot->name[0])
		shoal__shm_unlink_own(boot->seg_fd, boot->name);
}

_Noreturn static void shoal__fs_driver_gone(struct shoal__fs *fs)
{
	shoal__fs_unlink(fs->boot); /* first: the runtime is over */
	shoal__fs_stop_children(fs, 0);
	shoal_store_close(fs->store);
	_exit(0);
}

/* One request from the driver; false when the fork server should exit. */
static bool shoal__fs_request(struct shoal__fs *fs)
{
	struct shoal__fs_msg m;
	ssize_t n = recv(fs->boot->ctl_fd, &m, sizeof m, 0);

	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
		shoal__fs_driver_gone(fs);
	if (n != (ssize_t)sizeof m)
		return true;
	if (m.op == SHOAL__FS_SPAWN) {
		int pid = shoal__fs_spawn(fs, m.index);
		shoal__fs_send(fs, SHOAL__FS_REPLY, pid > 0 ? pid : 0,
			       pid > 0 ? 0 : pid);
		return true;
	}
	if (m.op == SHOAL__FS_SHUTDOWN) {
		/* The name first, as when the driver dies: the driver removes
		 * it too once we are gone, but if it dies before that, nobody
		 * would. */
		shoal__fs_unlink(fs->boot);
		shoal__fs_stop_children(fs, SHOAL__FS_GRACE_MS);
		shoal_store_close(fs->store);
		shoal__fs_send(fs, SHOAL__FS_REPLY, 0, 0);
		return false;
	}
	shoal__fs_send(fs, SHOAL__FS_REPLY, 0, -EINVAL);
	return true;
}

/* Every running worker is blocked in a task: start an extra one in a
 * free slot beyond num_workers, if there is one left; else fail the tasks
 * that can never run if the pool is deadlocked (nested.c). */
static void shoal__fs_extra(struct shoal__fs *fs)
{
	uint64_t n;

	if (read(fs->spawn_fd, &n, sizeof n) != sizeof n || shoal__fs_stopping(fs) ||
	    !shoal__all_blocked(&fs->v))
		return;
	for (uint32_t i = fs->v.num_workers; i < fs->v.max_workers; i++)
		if (!fs->kids[i] && shoal__fs_spawn(fs, i) > 0)
			return;
	shoal__nested_check(fs->store, &fs->v);
}

/*
 * The watch, every SHOAL__FS_WATCH_MS while the runtime runs: tasks whose
 * drainer or submitter died are resolved (deps.c), tasks past their
 * deadline are cancelled and forced cancels finished (cancel.c), records whose
 * submitter died while building them are freed (task.c), and so are
 * lanes taken by a process that is gone and hooked nowhere (call.c); a run queue
 * stalled by a dead producer's claim is repaired, and QUEUED records with
 * no item pushed again (exec.c).  What a dead process left in the middle
 * of a seal or a submit waits at most that long.
 */
#define SHOAL__FS_WATCH_MS 250

/* A producer that died (an attached program, an actor: no worker, whose
 * death repairs the queue itself) between its claim of a run-queue
 * position and its publish stops every worker at that position: repaired
 * once the same unpublished head is seen at two watches in a row. */
static void shoal__fs_unstall_queue(struct shoal__fs *fs)
{
	const struct shoal__queue_view *q = &fs->v.queue;
	uint64_t pos;

	if (!shoal__queue_head_unpublished(q, &pos)) {
		fs->stalled_head = 0;
		return;
	}
	if (fs->stalled_head == pos + 1) {
		shoal__queue_repair(q, NULL, NULL); /* the requeue sweep covers
						     * what it drops */
		fs->stalled_head = 0;
		return;
	}
	fs->stalled_head = pos + 1;
}

/*
 * Deadlines (task/cancel.c, task/callcancel.c): tasks and queued calls
 * past theirs fail, and the watch wakes again at the soonest one still
 * pending, but no sooner than SHOAL__FS_DEADLINE_MIN_MS, nor than four
 * times the pass's CPU time, from now (a pass scans the task table: many
 * deadlines close together cost one pass per that much time, not one
 * each, and the fork server spends at most a fifth of its CPU there; CPU
 * time, not the clock's: a pass descheduled on a loaded machine does not
 * push the next deadline back).
 */
#define SHOAL__FS_DEADLINE_MIN_MS 10

static int64_t shoal__fs_cpu_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void shoal__fs_deadlines(struct shoal__fs *fs, int64_t now)
{
	int64_t cpu0 = shoal__fs_cpu_us();
	uint64_t soon = shoal__cancel_sooner(
		shoal__cancel_sweep(fs->store, &fs->v, fs->kids),
		shoal__calls_expire(fs->store, &fs->v));
	int64_t at = (int64_t)(soon / 1000000) + 1; /* CLOCK_MONOTONIC, as now */
	int64_t gap = 4 * (shoal__fs_cpu_us() - cpu0) / 1000;

	if (gap < SHOAL__FS_DEADLINE_MIN_MS)
		gap = SHOAL__FS_DEADLINE_MIN_MS;
	fs->next_deadline_ms = !soon ? 0 : at < now + gap ? now + gap : at;
}

static void shoal__fs_watch(struct shoal__fs *fs)
{
	int64_t now = shoal__fs_now_ms();

	if (shoal__fs_stopping(fs))
		return;
	if (now < fs->next_watch_ms) {
		if (fs->next_deadline_ms && now >= fs->next_deadline_ms)
			shoal__fs_deadlines(fs, now);
		return;
	}
	fs->next_watch_ms = now + SHOAL__FS_WATCH_MS;
	shoal__deps_sweep(fs->store, &fs->v);
	shoal__fs_deadlines(fs, now);
	shoal__task_sweep_free(fs->store, &fs->v);
	shoal__lanes_sweep_lost(fs->store, &fs->v);
	shoal__fs_unstall_queue(fs);
	shoal__requeue_sweep(&fs->requeue);
	shoal__oq_adopt(fs->store, &fs->v, &fs->oq, fs->arena);
}

static int shoal__fs_poll_ms(const struct shoal__fs *fs)
{
	int64_t now = shoal__fs_now_ms(), left = fs->next_watch_ms - now;
	int64_t respawn = shoal__fs_respawn_in(fs);

	/* Items the run queue had no room for are pushed again every
	 * SHOAL__FS_RETRY_MS, never waited for. */
	if (fs->requeue.nlater)
		return SHOAL__FS_RETRY_MS;
	if (respawn >= 0 && respawn < left)
		left = respawn;
	if (fs->next_deadline_ms && fs->next_deadline_ms - now < left)
		left = fs->next_deadline_ms - now;
	return left < 0 ? 0 : left > SHOAL__FS_WATCH_MS ? SHOAL__FS_WATCH_MS
						       : (int)left;
}

static void shoal__fs_loop(struct shoal__fs *fs)
{
	struct pollfd p[5] = {
		{.fd = fs->boot->ctl_fd, .events = POLLIN},
		{.fd = fs->driver_pidfd, .events = POLLIN},
		{.fd = fs->sigfd, .events = POLLIN},
		{.fd = fs->spawn_fd, .events = POLLIN},
		{.fd = fs->act_fd, .events = POLLIN},
	};

	for (;;) {
		if (poll(p, 5, shoal__fs_poll_ms(fs)) < 0 && errno != EINTR)
			shoal__fs_driver_gone(fs);
		if (shoal__fs_stopping(fs))
			fs->requeue.nlater = 0;
		shoal__requeue_retry(&fs->requeue);
		shoal__fs_respawn_due(fs);
		shoal__fs_watch(fs);
		if (p[1].revents)
			shoal__fs_driver_gone(fs);
		if (p[2].revents)
			shoal__fs_reap_children(fs, false);
		if (p[3].revents)
			shoal__fs_extra(fs);
		if (p[4].revents)
			shoal__fs_actor_request(fs);
		if (p[0].revents && !shoal__fs_request(fs))
			return;
	}
}

/* comm "shoal-fs", command line "shoal fork-server /name" (title.c). */
static void shoal__fs_name(const struct shoal__boot *boot)
{
	char title[300];

	snprintf(title, sizeof title, "shoal fork-server%s%s",
		 boot->name[0] ? " " : "", boot->name);
	shoal__title_set("shoal-fs", title);
}

_Noreturn void shoal__fs_main(const struct shoal__boot *boot)
{
	struct shoal__fs fs = {0};
	int rc;

	/* The driver's handlers, mask and SIGCHLD disposition (SIG_IGN would
	 * have the kernel reap our children before we see them) stay there. */
	shoal__signals_reset();
	shoal__keep_only(boot);
	shoal__fs_name(boot);
	/* Before anything else: the relay inherits nothing of ours. */
	fs.log_sock = shoal__log_start(boot); /* logrelay.c; -1: none */
	rc = shoal__fs_open(&fs, boot);
	if (!rc) /* held until this process is gone: its death marks it (end.c) */
		rc = shoal__rt_fs_hold(&fs.v);
	if (rc) {
		/* The start fails.  The driver removes the name too if it is
		 * still there; if it is gone already (pidfd_open found no such
		 * process), nobody else would. */
		shoal__fs_unlink(boot);
		shoal__fs_send(&fs, SHOAL__FS_HELLO, 0, rc);
		_exit(1);
	}
	/* The guardian of queue putters' slots (rtlayout.h, objq_admin.c). */
	atomic_store_explicit(&fs.v.hdr->fs_creator,
			      (1ull << 32) | shoal__store_creator(fs.store),
			      memory_order_relaxed);
	/* FS-R1: publishes fs_key and fs_token (written when the socket
	 * was made) to whoever loads fs_pid with acquire (FS-A1, fsproto.c). */
	atomic_store_explicit(&fs.v.hdr->fs_pid, getpid(), memory_order_release);
	shoal__fs_send(&fs, SHOAL__FS_HELLO, getpid(), 0);
	shoal__fs_loop(&fs);
	_exit(0);
}
