/* SPDX-License-Identifier: MIT */
/*
 * bench/put_calls.c - the put_calls family: shoal_put calls per second of
 * a 64-byte object, each followed by shoal_drop so that the object is
 * evictable cache at once (Ray's put calls).
 *
 *   single_client_put_calls  one process, a private store of default
 *                            options; evictions_per_put: the store's
 *                            evictions over the puts timed
 *   multi_client_put_calls   MULTI_PROCS forked processes on the parent's
 *                            private store (shoal_store_attach_fd), pinned
 *                            to CPUs 0 and 1 when both are usable, each
 *                            repetition started by a byte on each child's
 *                            pipe; total = the sum of their operations
 *                            over the longest child's window
 *
 * Invariants: a child asks for SIGKILL when its parent dies
 * (PR_SET_PDEATHSIG) and checks that the parent did not die first; the
 * parent waits for every child on every path and kills them (by pid) only
 * on an error path; a report is one write shorter than PIPE_BUF, so never
 * interleaved with another child's; a child's death shows as -ECHILD (its
 * pidfd) or, on a kernel without pidfds, as a timeout, never as a hang.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "bench.h"
#include "families.h"
#include "store_workloads.h"

#define TARGET_PUT_CALLS 2e6

/* ------------------------------------------------------------------ */
/* Family: put calls, one process                                     */

static int single_put_calls(const struct bench_ctx *ctx)
{
	struct metric m = {
		.name = "single_client_put_calls", .unit = UNIT_OPS,
		.size = SMALL_OBJECT, .target = ">= 2M/s",
		.note = "shoal_put of 64 B then shoal_drop; the store (default "
			"options) evicts LRU objects as needed",
	};
	uint8_t buf[SMALL_OBJECT];
	struct shoal_store *store;
	struct put_state p;
	struct workload w;
	int rc = store_open(0, &store);

	if (rc < 0)
		return emit_error(ctx, m.name, m.size, rc);
	memset(buf, 0xa5, sizeof buf);
	p = (struct put_state){store, buf, sizeof buf, 0};
	w = put_workload(&p, CALL_BATCH, UNIT_OPS);
	rc = measure_puts(ctx, &p, &w, 1, &m.st, &m);
	shoal_store_close(store);
	if (rc < 0)
		return emit_error(ctx, m.name, m.size, rc);
	m.verdict = m.st.median >= TARGET_PUT_CALLS;
	emit(ctx, &m);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Family: put calls, several processes                               */

/* What a child writes to the report pipe: after attaching (ops = 0) and
 * after each repetition.  Smaller than PIPE_BUF, so written atomically. */
struct child_report {
	int32_t rc;
	int32_t idx;
	int32_t cpu;
	int32_t pad_;
	uint64_t ops;
	double secs;
};

struct team {
	pid_t pid[MULTI_PROCS];
	int pidfd[MULTI_PROCS]; /* readable once the child exits; -1: none */
	int nforked;
	/* One pipe per child: a byte starts a repetition, EOF ends the run. */
	int go_r[MULTI_PROCS], go_w[MULTI_PROCS];
	int res_r, res_w; /* every child's reports */
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd); /* a pipe end: nothing to lose if close fails */
	*fd = -1;
}

static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = read(fd, (char *)buf + done, len - done);

		if (r == 0)
			break;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0)
			done += (size_t)r;
	}
	return (ssize_t)done;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t r = write(fd, (const char *)buf + done, len - done);

		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0)
			done += (size_t)r;
	}
	return 0;
}

/* Child side: keeps only its go pipe and the report pipe. */
static void child_fds(struct team *t, int idx)
{
	for (int j = 0; j < MULTI_PROCS; j++) {
		close_fd(&t->go_w[j]);
		if (j != idx)
			close_fd(&t->go_r[j]);
		close_fd(&t->pidfd[j]); /* an elder sibling's */
	}
	close_fd(&t->res_r);
}

static int child_setup(const struct bench_ctx *ctx, int idx, int store_fd,
		       pid_t parent, struct shoal_store **store)
{
	int rc;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return -errno;
	if (getppid() != parent)
		return -ESRCH; /* the parent died before prctl */
	if (ctx->pin) {
		rc = pin_to_cpu(idx);
		if (rc < 0)
			return rc;
	}
	return shoal_store_attach_fd(store_fd, store);
}

/* Waits for each go byte, puts+drops for one repetition, reports. */
static int child_loop(const struct bench_ctx *ctx, struct shoal_store *store,
		      int idx, int go_r, int res_w)
{
	uint8_t buf[SMALL_OBJECT];
	struct put_state p = {store, buf, sizeof buf, 0};
	struct workload w = put_workload(&p, CALL_BATCH, UNIT_OPS);
	char go;

	memset(buf, 0x5a, sizeof buf);
	for (;;) {
		struct child_report r = {.idx = idx};
		struct timed t = {0, 0};
		ssize_t n = read_full(go_r, &go, 1);

		if (n <= 0)
			return (int)n; /* EOF: the run is over */
		r.rc = run_for(&w, ctx->rep_seconds, &t);
		r.cpu = sched_getcpu();
		r.ops = t.ops;
		r.secs = t.secs;
		if (write_full(res_w, &r, sizeof r) < 0 || r.rc < 0)
			return r.rc < 0 ? r.rc : -EPIPE;
	}
}

static void __attribute__((noreturn))
child_main(const struct bench_ctx *ctx, struct team *t, int idx,
	   int store_fd, pid_t parent)
{
	struct child_report r = {.idx = idx};
	struct shoal_store *store = NULL;
	int rc;

	child_fds(t, idx);
	r.rc = child_setup(ctx, idx, store_fd, parent, &store);
	r.cpu = sched_getcpu();
	rc = write_full(t->res_w, &r, sizeof r);
	if (rc == 0 && r.rc == 0)
		rc = child_loop(ctx, store, idx, t->go_r[idx], t->res_w);
	shoal_store_close(store);
	_exit(rc < 0 || r.rc < 0 ? 1 : 0);
}

static void team_init(struct team *t)
{
	t->nforked = 0;
	t->res_r = t->res_w = -1;
	for (int i = 0; i < MULTI_PROCS; i++)
		t->go_r[i] = t->go_w[i] = t->pidfd[i] = -1;
}

static int team_pipes(struct team *t)
{
	int p[2];

	if (pipe(p) < 0)
		return -errno;
	t->res_r = p[0];
	t->res_w = p[1];
	for (int i = 0; i < MULTI_PROCS; i++) {
		if (pipe(p) < 0)
			return -errno;
		t->go_r[i] = p[0];
		t->go_w[i] = p[1];
	}
	return 0;
}

/* Waits for a report or a child's exit (children exit only after the run
 * or after reporting an error, so an exit seen here is a crash). */
static int wait_report(const struct bench_ctx *ctx, const struct team *t)
{
	struct pollfd pfd[1 + MULTI_PROCS];
	int timeout_ms = (int)(ctx->rep_seconds * 1000) + 10000;
	int rc;

	pfd[0] = (struct pollfd){.fd = t->res_r, .events = POLLIN};
	for (int i = 0; i < MULTI_PROCS; i++)
		pfd[1 + i] = (struct pollfd){.fd = t->pidfd[i], .events = POLLIN};
	do
		rc = poll(pfd, 1 + MULTI_PROCS, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	return pfd[0].revents ? 0 : -ECHILD;
}

/* A report; -ECHILD if a child died first, -EPIPE if all are gone,
 * -ETIMEDOUT if none reports in time. */
static int read_report(const struct bench_ctx *ctx, struct team *t,
		       struct child_report *r)
{
	ssize_t n;
	int rc = wait_report(ctx, t);

	if (rc < 0)
		return rc;
	n = read_full(t->res_r, r, sizeof *r);
	if (n < 0)
		return (int)n;
	return n == (ssize_t)sizeof *r ? 0 : -EPIPE;
}

/* Forks the children; returns once each has attached (or failed to). */
static int team_start(const struct bench_ctx *ctx, int store_fd,
		      struct team *t)
{
	pid_t parent = getpid();
	int rc = team_pipes(t);

	if (rc < 0)
		return rc;
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < MULTI_PROCS; i++) {
		pid_t pid = fork();

		if (pid < 0)
			return -errno;
		if (pid == 0)
			child_main(ctx, t, i, store_fd, parent);
		t->pid[t->nforked] = pid;
		/* Without a pidfd (kernel < 5.3) a crash shows as a timeout. */
		t->pidfd[t->nforked++] = (int)syscall(SYS_pidfd_open, pid, 0);
	}
	close_fd(&t->res_w);
	for (int i = 0; i < MULTI_PROCS; i++)
		close_fd(&t->go_r[i]);
	for (int i = 0; i < MULTI_PROCS; i++) {
		struct child_report r;

		rc = read_report(ctx, t, &r);
		if (rc == 0)
			rc = r.rc;
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* One repetition: starts every child, sums their operations over the
 * longest child's window.  cpus[i] receives child i's CPU. */
static int team_round(const struct bench_ctx *ctx, struct team *t,
		      double *rate, int *cpus)
{
	uint64_t ops = 0;
	double secs = 0;
	int rc;

	for (int i = 0; i < MULTI_PROCS; i++) {
		rc = write_full(t->go_w[i], "g", 1);
		if (rc < 0)
			return rc;
	}
	for (int i = 0; i < MULTI_PROCS; i++) {
		struct child_report r;

		rc = read_report(ctx, t, &r);
		if (rc == 0)
			rc = r.rc;
		if (rc < 0)
			return rc;
		ops += r.ops;
		secs = r.secs > secs ? r.secs : secs;
		if (r.idx >= 0 && r.idx < MULTI_PROCS)
			cpus[r.idx] = r.cpu;
	}
	*rate = (double)ops / secs;
	return 0;
}

/* A discarded warm-up round, then ctx->reps timed rounds. */
static int team_measure(const struct bench_ctx *ctx, struct team *t,
			struct metric *m)
{
	double v[REPS_FULL], warm;
	int rc = team_round(ctx, t, &warm, m->cpus);

	for (int r = 0; rc == 0 && r < ctx->reps; r++)
		rc = team_round(ctx, t, &v[r], m->cpus);
	if (rc < 0)
		return rc;
	m->st = stats_of(v, ctx->reps);
	m->ncpus = MULTI_PROCS;
	return 0;
}

/* Ends the run: EOF on every go pipe, and on an error (`kill_them`) a
 * SIGKILL to each child still running; then waits for every child.
 * Returns 0, or an error if a child failed on its own. */
static int team_stop(struct team *t, bool kill_them)
{
	int rc = 0;

	for (int i = 0; i < MULTI_PROCS; i++) {
		close_fd(&t->go_w[i]);
		close_fd(&t->go_r[i]);
	}
	close_fd(&t->res_w);
	for (int i = 0; i < t->nforked; i++) {
		int r = kill_them ? reap_child(t->pid[i], false, true) : 0;

		if (r == 0 && kill_them)
			kill(t->pid[i], SIGKILL); /* our own child, by pid */
		if (r == 0)
			r = reap_child(t->pid[i], true, !kill_them);
		if (r < 0 && !(kill_them && r == -ECHILD))
			rc = r;
		close_fd(&t->pidfd[i]);
	}
	close_fd(&t->res_r);
	return rc;
}

static int multi_put_calls(const struct bench_ctx *ctx)
{
	struct metric m = {
		.name = "multi_client_put_calls", .unit = UNIT_OPS,
		.size = SMALL_OBJECT, .procs = MULTI_PROCS, .verdict = -1,
		.note = ctx->pin
			? "2 forked processes (shoal_store_attach_fd on the "
			  "parent's private store), pinned to CPUs 0 and 1, "
			  "put+drop 64 B after a pipe barrier; total = sum of "
			  "ops / longest window"
			: "2 forked processes (shoal_store_attach_fd on the "
			  "parent's private store), not pinned, put+drop 64 B "
			  "after a pipe barrier; total = sum of ops / longest "
			  "window",
	};
	struct shoal_store *store;
	struct team t;
	int rc = store_open(0, &store), stop_rc;

	if (rc < 0)
		return emit_error(ctx, m.name, m.size, rc);
	team_init(&t);
	rc = team_start(ctx, shoal_store_fd(store), &t);
	if (rc == 0)
		rc = team_measure(ctx, &t, &m);
	stop_rc = team_stop(&t, rc < 0);
	rc = rc < 0 ? rc : stop_rc;
	shoal_store_close(store);
	if (rc < 0)
		return emit_error(ctx, m.name, m.size, rc);
	emit(ctx, &m);
	return 0;
}

int family_put_calls(const struct bench_ctx *ctx)
{
	int rc1 = 0, rc2 = 0;

	if (wanted(ctx, "single_client_put_calls"))
		rc1 = single_put_calls(ctx);
	if (wanted(ctx, "multi_client_put_calls"))
		rc2 = multi_put_calls(ctx);
	return rc1 < 0 ? rc1 : rc2;
}
