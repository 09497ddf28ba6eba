/* SPDX-License-Identifier: MIT */
/*
 * runtime/runtime.c - starting and stopping a runtime (the driver's side).
 *
 * Start: create the store with a region for the runtime (rtlayout.h) and
 * initialise it (a named one is not named yet: store/name.c); copy and
 * freeze the registry; flush stdio; then a double
 * fork: the child calls setsid() and forks the fork server, then exits, so
 * the fork server is nobody's child in the driver's eyes (forkserver.c);
 * a host that ignores SIGCHLD may have that middle child reaped by the
 * kernel, which is fine: the fork server's hello says it runs.
 * The driver talks to it over a SOCK_SEQPACKET socket pair and watches it
 * through a pidfd.  Once the fork server said hello, it watches the
 * driver, and only then does the driver give the segment its name: a
 * driver killed at any instant of its start leaves no name behind (before
 * the hello there is none; after it, the fork server removes it).  Then
 * it asks for the workers, and waits (on the region's ready futex, with a
 * deadline) until every worker runs.
 *
 * Shutdown: end the runtime (SHOAL_ESTOPPED, end.c: later submits and
 * calls fail at once), mark it stopping (workers leave on their own), ask
 * the fork server to stop (it fails what is still pending once its
 * children are gone), wait for its reply and for its exit (pidfd), then
 * wait (bounded) for the log relay to have written out what the children
 * wrote (its exit closes a pipe whose read end this process holds), then
 * remove a named segment's name (if it is still this segment's:
 * store/name.c) and close the store.  Every wait has a deadline;
 * a fork server that does not answer is killed.  A fork server found dead
 * is not asked: this process fails what is pending (end.c's sweep).
 *
 * The driver's and attached programs' store handles probe the fork server
 * whenever one of their waits wakes (the store's on_block hook, end.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ext.h"
#include "mem.h"
#include "fsproto.h"
#include "proc_int.h"
#include "lane.h"
#include "queue.h"

#define SHOAL__START_TIMEOUT_MS 10000
#define SHOAL__REPLY_TIMEOUT_MS 10000
/* The log relay's exit after the fork server's (logrelay.c: it gives up
 * 2 s after, and is killed by its alarm 4 s after). */
#define SHOAL__LOG_DRAIN_MS 5000

SHOAL_API void shoal_runtime_options_init(struct shoal_runtime_options *opts)
{
	if (opts)
		*opts = (struct shoal_runtime_options)SHOAL_RUNTIME_OPTIONS_INIT;
}

static int shoal__online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

/* A field of a later release takes a reserved word: never the size. */
static_assert(sizeof(void *) != 8 || sizeof(struct shoal_runtime_options) == 144,
	      "ABI: shoal_runtime_options");

/* Fills in the defaults; checks the sizes (the store's options are
 * checked by the store's create). */
static int shoal__rt_options(const struct shoal_runtime_options *in,
			     struct shoal_runtime_options *o,
			     struct shoal__rt_plan *plan)
{
	uint32_t *max_workers = &plan->max_workers;
	uint64_t max;

	if (in && (!SHOAL__RESV_ZERO(*in) || (in->flags & ~SHOAL_RUNTIME_FLAGS_ALL)))
		return -EINVAL;
	*o = (struct shoal_runtime_options)SHOAL_RUNTIME_OPTIONS_INIT;
	if (in)
		*o = *in;
	if (o->num_workers == 0)
		o->num_workers = (uint32_t)shoal__online_cpus();
	if (o->max_extra_workers == 0)
		o->max_extra_workers = 4 * o->num_workers;
	max = (uint64_t)o->num_workers + o->max_extra_workers;
	if (o->max_tasks == 0)
		o->max_tasks = 65536;
	if (o->max_actors == 0)
		o->max_actors = 64;
	if (o->max_pending_calls == 0)
		o->max_pending_calls = 1024;
	if (o->max_lanes == 0)
		o->max_lanes = 4 * o->max_actors + 64;
	if (o->max_queues == 0)
		o->max_queues = SHOAL__OQ_DEFAULT_QUEUES;
	if (o->max_queue_capacity == 0)
		o->max_queue_capacity = SHOAL__OQ_DEFAULT_CAPACITY;
	if (o->max_queues > SHOAL__OQ_MAX_QUEUES ||
	    o->max_queue_capacity > SHOAL__OQ_MAX_CAPACITY)
		return -EINVAL;
	plan->max_queues = o->max_queues;
	plan->queue_cells = 1;
	while (plan->queue_cells < o->max_queue_capacity)
		plan->queue_cells <<= 1;
	if (o->num_workers > SHOAL__RT_MAX_WORKERS ||
	    o->max_tasks > SHOAL__RT_MAX_TASKS ||
	    o->max_actors > SHOAL__ACT_MAX_ACTORS ||
	    o->max_lanes > SHOAL__ACT_MAX_LANES ||
	    o->max_pending_calls > SHOAL__LANE_MAX_CAPACITY)
		return -EINVAL;
	plan->num_workers = o->num_workers;
	plan->max_tasks = o->max_tasks;
	plan->max_actors = o->max_actors;
	plan->max_lanes = o->max_lanes;
	plan->flags = (uint32_t)o->flags;
	plan->lane_capacity = SHOAL__LANE_MIN_CAPACITY;
	while (plan->lane_capacity < o->max_pending_calls)
		plan->lane_capacity <<= 1;
	*max_workers = max > SHOAL__RT_MAX_WORKERS ? SHOAL__RT_MAX_WORKERS
						   : (uint32_t)max;
	/* Driver, fork server, every worker and actor, and room for
	 * SHOAL_RUNTIME_ATTACHED attached programs (more: a larger
	 * store.max_procs). */
	if (o->store.max_procs < *max_workers + o->max_actors + 2 +
					 SHOAL_RUNTIME_ATTACHED)
		o->store.max_procs = *max_workers + o->max_actors + 2 +
				     SHOAL_RUNTIME_ATTACHED;
	/* A driver holds every task's refs until it drops them: a ledger cap
	 * covers the task table at least (0, the default: sized by need). */
	if (o->store.ledger_slots && o->store.ledger_slots < o->max_tasks)
		o->store.ledger_slots = o->max_tasks;
	plan->tl_rings = o->store.max_procs;
	return 0;
}

static struct shoal_runtime *shoal__rt_alloc(void)
{
	unsigned arena;
	struct shoal_runtime *rt = shoal__mem_new(sizeof *rt, &arena);

	if (!rt)
		return NULL;
	rt->arena = arena;
	rt->ctl_fd = rt->fs_pidfd = rt->log_fd = -1;
	rt->boot.log_fd = -1;
	shoal__rt_local_init(rt);
	return rt;
}

/* The process-local locks of a handle, and the sweep its probes run
 * (life.c: the runtime's life asks, this folder sweeps). */
void shoal__rt_local_init(struct shoal_runtime *rt)
{
	rt->sweep = shoal__rt_sweep; /* end.c */
	pthread_mutex_init(&rt->pending_lock, NULL);
	pthread_mutex_init(&rt->lane_lock, NULL);
	pthread_mutex_init(&rt->oq.lock, NULL);
}

static void shoal__rt_free(struct shoal_runtime *rt)
{
	unsigned arena = rt->arena;

	if (rt->ctl_fd >= 0)
		close(rt->ctl_fd);
	if (rt->fs_pidfd >= 0)
		close(rt->fs_pidfd);
	if (rt->log_fd >= 0)
		close(rt->log_fd);
	pthread_mutex_destroy(&rt->pending_lock);
	pthread_mutex_destroy(&rt->lane_lock);
	pthread_mutex_destroy(&rt->oq.lock);
	shoal__mem_free(arena, rt->oq.a);
	shoal__mem_free(arena, rt->reg_copy);
	shoal__mem_delete(rt, arena);
}

/* Points a handle at the runtime region of an open store. */
int shoal__rt_bind(struct shoal_runtime *rt, struct shoal_store *store)
{
	uint64_t size;
	void *region = shoal__store_ext(store, &size);
	int rc = shoal__rt_view_open(&rt->v, region, size);

	if (rc)
		return rc;
	rt->store = store;
	shoal__store_set_ext_view(store, &rt->v);
	return 0;
}

static int shoal__rt_store(struct shoal_runtime *rt,
			   const struct shoal_runtime_options *o,
			   const struct shoal__rt_plan *plan)
{
	uint64_t size;
	void *region;
	shoal_id id;
	int rc = shoal__store_create_ext(o->name, &o->store,
					 shoal__rt_region_bytes(plan), &rt->store);

	if (rc)
		return rc;
	region = shoal__store_ext(rt->store, &size);
	rc = shoal__rt_region_init(region, plan, rt->reg);
	if (!rc)
		rc = shoal__rt_bind(rt, rt->store);
	if (rc)
		return rc;
	rt->v.hdr->driver_pid = getpid();
	id = shoal_id_next(rt->store); /* its first: warming (region.c) */
	rt->v.hdr->warm_hi = id.hi;
	rt->v.hdr->warm_lo = id.lo;
	shoal__store_set_role(rt->store, SHOAL__ROLE_DRIVER);
	/* Its ring names its row in the timeline; it records nothing. */
	shoal__tl_open(&rt->tl, &rt->v, shoal__store_creator(rt->store), "driver");
	/* Its waits probe the fork server as they wake (end.c). */
	shoal__store_set_hooks(rt->store, &(struct shoal__store_hooks){
		.on_block = shoal__rt_on_block, .on_block_ctx = rt,
		.on_drop = shoal__pending_on_drop, /* pending.c */
		.on_drop_ctx = rt});
	snprintf(rt->name, sizeof rt->name, "%s", shoal__store_name(rt->store));
	return 0;
}

/* Wakes every sleeping worker (shutdown, or the driver's death). */
void shoal__rt_wake_workers(const struct shoal__rt_view *v)
{
	struct shoal__actor_slot *a = v->actors;

	shoal__event_signal(&v->hdr->work);
	shoal__event_signal(&v->queue.ring->wake);
	for (uint32_t i = 0; i < v->max_actors; i++)
		shoal__event_signal(&a[i].doorbell);
}

/* Waits for a message from the fork server. */
static int shoal__rt_recv(struct shoal_runtime *rt, struct shoal__fs_msg *m,
			  int timeout_ms)
{
	struct pollfd p = {.fd = rt->ctl_fd, .events = POLLIN};
	ssize_t n;
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	n = recv(rt->ctl_fd, m, sizeof *m, 0);
	if (n != (ssize_t)sizeof *m)
		return n < 0 ? -errno : -EPIPE;
	return 0;
}

static int shoal__rt_request(struct shoal_runtime *rt, uint32_t op,
			     uint32_t index, struct shoal__fs_msg *reply)
{
	struct shoal__fs_msg m = {.op = op, .index = index};
	int rc;

	if (send(rt->ctl_fd, &m, sizeof m, MSG_NOSIGNAL) != (ssize_t)sizeof m)
		return -errno ? -errno : -EPIPE;
	rc = shoal__rt_recv(rt, reply, SHOAL__REPLY_TIMEOUT_MS);
	return rc ? rc : reply->rc;
}

/* The log relay's done pipe (logrelay.c): the write end goes to the fork
 * server, which hands it to the relay alone; this process keeps the read
 * end and waits for its end of file at shutdown.  None (and no relay)
 * with SHOAL_RUNTIME_NO_LOG_PREFIX, or if the pipe cannot be made: the
 * children then write to stdout and stderr directly. */
static void shoal__rt_log_pipe(struct shoal_runtime *rt)
{
	int p[2];

	if ((rt->v.flags & SHOAL_RUNTIME_NO_LOG_PREFIX) || pipe2(p, O_CLOEXEC))
		return;
	rt->log_fd = p[0];
	rt->boot.log_fd = p[1];
}

static void shoal__rt_log_pipe_close(struct shoal_runtime *rt)
{
	if (rt->boot.log_fd >= 0)
		close(rt->boot.log_fd);
	rt->boot.log_fd = -1;
}

/* The double fork; the middle process exits at once and is reaped here. */
static int shoal__rt_fork_server(struct shoal_runtime *rt)
{
	int sv[2], status;
	pid_t mid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return -errno;
	rt->ctl_fd = sv[0];
	rt->boot.ctl_fd = sv[1];
	shoal__rt_log_pipe(rt);
	fflush(NULL);
	mid = fork();
	if (mid < 0) {
		close(sv[1]);
		shoal__rt_log_pipe_close(rt);
		return -errno;
	}
	if (mid == 0) {
		close(sv[0]);
		setsid();
		if (fork() != 0)
			_exit(0);
		shoal__fs_main(&rt->boot);
	}
	close(sv[1]);
	shoal__rt_log_pipe_close(rt); /* the relay's alone (forkserver.c) */
	/* Bounded: the middle child forks the fork server and exits.  A host
	 * that ignores SIGCHLD (or sets SA_NOCLDWAIT, or reaps with its own
	 * waitpid(-1)) has it reaped before us: ECHILD, and the hello
	 * decides whether the fork server runs. */
	while (waitpid(mid, &status, 0) < 0) {
		if (errno == ECHILD)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECHILD;
}

static int shoal__rt_hello(struct shoal_runtime *rt)
{
	struct shoal__fs_msg m;
	int rc = shoal__rt_recv(rt, &m, SHOAL__START_TIMEOUT_MS);

	if (rc)
		return rc;
	if (m.op != SHOAL__FS_HELLO || m.rc || m.pid <= 0)
		return m.rc ? m.rc : -EPROTO;
	rt->fs_pid = m.pid;
	rt->fs_pidfd = (int)syscall(SYS_pidfd_open, m.pid, 0);
	return rt->fs_pidfd < 0 ? -errno : 0;
}

static uint32_t shoal__rt_running(const struct shoal_runtime *rt)
{
	uint32_t n = 0;

	/* WK-A1.  As the re-check of the wait below (EV-S1 of base/event.c)
	 * these loads should be seq_cst or follow a fence: acquire is not
	 * enough to pair with the worker's EV-S2 in C11. */
	for (uint32_t i = 0; i < rt->v.max_workers; i++)
		n += atomic_load_explicit(&rt->v.workers[i].state,
					  memory_order_acquire) == SHOAL__WK_RUNNING;
	return n;
}

struct shoal__rt_want {
	struct shoal_runtime *rt;
	uint32_t n;
};

static bool shoal__rt_enough_running(void *arg)
{
	const struct shoal__rt_want *w = arg;

	return shoal__rt_running(w->rt) >= w->n;
}

/* Waits (ready futex: register, re-check, sleep) until n workers run. */
static int shoal__rt_wait_running(struct shoal_runtime *rt, uint32_t n)
{
	const struct shoal__rt_view *v = &rt->v;
	struct shoal__deadline d = shoal__deadline_in(SHOAL__START_TIMEOUT_MS);

	struct shoal__rt_want want = {rt, n};

	for (;;) {
		int rc = shoal__event_await(&v->hdr->ready, d, 0, &(struct shoal__await){
			.ready = shoal__rt_enough_running, .arg = &want});

		if (rc == 1 || shoal__rt_running(rt) >= n)
			return 0;
		if (rc == -ETIMEDOUT)
			return rc;
	}
}

static int shoal__rt_spawn_pool(struct shoal_runtime *rt, uint32_t n)
{
	struct shoal__fs_msg reply;

	for (uint32_t i = 0; i < n; i++) {
		int rc = shoal__rt_request(rt, SHOAL__FS_SPAWN, i, &reply);
		if (rc)
			return rc;
	}
	shoal__rt_warm(rt); /* while the workers start (region.c) */
	return shoal__rt_wait_running(rt, n);
}

static void shoal__rt_boot(struct shoal_runtime *rt,
			   const struct shoal_runtime_options *o)
{
	rt->boot.seg_fd = shoal_store_fd(rt->store);
	rt->boot.driver_pid = getpid();
	rt->boot.spin_budget = o->store.spin_budget;
	rt->boot.reg = rt->reg;
	snprintf(rt->boot.name, sizeof rt->boot.name, "%s", rt->name);
}

static int shoal__rt_launch(struct shoal_runtime *rt,
			    const struct shoal_runtime_options *o)
{
	int rc;

	shoal__rt_boot(rt, o);
	rc = shoal__rt_fork_server(rt);
	if (rc)
		return rc;
	SHOAL__STORE_CRASH(rt->store, START_FORKED);
	rc = shoal__rt_hello(rt);
	if (rc)
		return rc;
	SHOAL__STORE_CRASH(rt->store, START_HELLO);
	/* The fork server watches this process now (its pidfd and the
	 * socket's end): whenever we die from here on, it removes the name. */
	rc = shoal__store_publish(rt->store, &o->store);
	if (rc)
		return rc;
	SHOAL__STORE_CRASH(rt->store, START_NAMED);
	rc = shoal__rt_spawn_pool(rt, o->num_workers);
	if (!rc)
		SHOAL__STORE_CRASH(rt->store, START_RUNNING);
	return rc;
}

SHOAL_API int shoal_runtime_start(struct shoal_registry *reg,
				  const struct shoal_runtime_options *opts,
				  struct shoal_runtime **out)
{
	struct shoal_runtime_options o;
	struct shoal__rt_plan plan;
	struct shoal_runtime *rt;
	bool was_frozen;
	int rc;

	if (!reg || !out)
		return -EINVAL;
	rc = shoal__rt_options(opts, &o, &plan);
	if (rc)
		return rc;
	rt = shoal__rt_alloc();
	if (!rt)
		return -ENOMEM;
	rt->driver = true;
	rt->reg_copy = shoal__mem_alloc(rt->arena, sizeof *reg);
	if (!rt->reg_copy) {
		shoal__rt_free(rt);
		return -ENOMEM;
	}
	memcpy(rt->reg_copy, reg, sizeof *reg);
	was_frozen = reg->frozen;
	rt->reg_copy->frozen = reg->frozen = true;
	rt->reg = rt->reg_copy;
	rc = shoal__rt_store(rt, &o, &plan);
	if (!rc) {
		SHOAL__STORE_CRASH(rt->store, START_STORE);
		rc = shoal__rt_launch(rt, &o);
	}
	if (rc) {
		reg->frozen = was_frozen; /* no runtime: registrations go on */
		if (rt->store)
			shoal_runtime_shutdown(rt);
		else
			shoal__rt_free(rt);
		return rc;
	}
	*out = rt;
	return 0;
}

/* Waits for the fork server to exit; kills it after the deadline. */
static void shoal__rt_reap_fs(struct shoal_runtime *rt)
{
	struct pollfd p = {.fd = rt->fs_pidfd, .events = POLLIN};

	if (rt->fs_pidfd < 0)
		return;
	if (poll(&p, 1, SHOAL__REPLY_TIMEOUT_MS) == 1)
		return;
	syscall(SYS_pidfd_send_signal, rt->fs_pidfd, SIGKILL, NULL, 0);
	poll(&p, 1, SHOAL__REPLY_TIMEOUT_MS);
}

/* Waits (bounded) until the log relay exited: what the children wrote
 * is then out (logrelay.c; the relay's own bound is shorter). */
static void shoal__rt_log_drained(struct shoal_runtime *rt)
{
	struct shoal__deadline d = shoal__deadline_in(SHOAL__LOG_DRAIN_MS);
	struct pollfd p = {.fd = rt->log_fd, .events = POLLIN};
	char b[64];

	if (rt->log_fd < 0)
		return;
	while (!shoal__deadline_passed(d)) {
		if (poll(&p, 1, 100) > 0 && read(rt->log_fd, b, sizeof b) <= 0)
			break; /* nobody writes it: end of file */
	}
	close(rt->log_fd);
	rt->log_fd = -1;
}

/*
 * The runtime ends (SHOAL_ESTOPPED, end.c) before anything stops: a
 * submit or call from now on fails at once, and the fork server, once its
 * children are gone, fails what is still pending.  If the fork server is
 * dead already (or dies meanwhile), this process does that itself (the
 * sweep in shoal__rt_ended) and returns SHOAL_EFORKSERVERDIED.
 */
static int shoal__rt_stop(struct shoal_runtime *rt)
{
	struct shoal__fs_msg reply;
	int rc = shoal__rt_ended(rt);

	/* STOP-R1 */
	atomic_store_explicit(&rt->v.hdr->stopping, 1, memory_order_release);
	shoal__rt_end(&rt->v, SHOAL_ESTOPPED);
	shoal__rt_wake_workers(&rt->v);
	if (rt->fs_pid > 0 && rc != SHOAL_EFORKSERVERDIED) {
		rc = shoal__rt_request(rt, SHOAL__FS_SHUTDOWN, 0, &reply);
		shoal__rt_reap_fs(rt);
	}
	if (shoal__rt_ended(rt) == SHOAL_EFORKSERVERDIED)
		rc = SHOAL_EFORKSERVERDIED;
	return rc;
}

SHOAL_API int shoal_runtime_shutdown(struct shoal_runtime *rt)
{
	int rc = 0;

	if (!rt)
		return 0;
	if (rt->readonly)
		return SHOAL_EREADONLY;
	if (!rt->driver)
		return -EINVAL;
	shoal__names_close(rt);
	shoal__lanes_close(rt);
	if (rt->v.hdr)
		rc = shoal__rt_stop(rt);
	else if (rt->fs_pid > 0)
		shoal__rt_reap_fs(rt);
	shoal__rt_log_drained(rt);
	if (rt->store) {
		shoal__pending_flush(rt);
		SHOAL__STORE_CRASH(rt->store, STOP_FS_GONE);
	}
	/* Only if the name is still this segment's (store/name.c). */
	if (rt->store && rt->name[0])
		shoal__shm_unlink_own(shoal_store_fd(rt->store), rt->name);
	shoal_store_close(rt->store);
	shoal__rt_free(rt);
	return rc;
}

/* A handle on the runtime region of store (attached or inspected):
 * *out, or the error with store closed. */
static int shoal__rt_open_on(struct shoal_store *store, struct shoal_runtime **out)
{
	struct shoal_runtime *rt = shoal__rt_alloc();
	int rc = rt ? shoal__rt_bind(rt, store) : -ENOMEM;

	if (rc) {
		shoal_store_close(store);
		if (rt)
			shoal__rt_free(rt);
		return rc;
	}
	/* Relaxed: a pid to report (shoal_runtime_info); requests load it
	 * with FS-A1. */
	rt->fs_pid = atomic_load_explicit(&rt->v.hdr->fs_pid, memory_order_relaxed);
	*out = rt;
	return 0;
}

SHOAL_API int shoal_runtime_attach(const char *name, struct shoal_runtime **out)
{
	struct shoal_runtime *rt;
	struct shoal_store *store;
	int rc;

	if (!out)
		return -EINVAL;
	rc = shoal_store_attach(name, &store);
	if (!rc)
		rc = shoal__rt_open_on(store, &rt);
	if (rc)
		return rc;
	shoal__store_set_role(store, SHOAL__ROLE_ATTACHED);
	shoal__tl_open(&rt->tl, &rt->v, shoal__store_creator(store), "attached");
	shoal__store_set_hooks(store, &(struct shoal__store_hooks){
		.on_block = shoal__rt_on_block, /* end.c */
		.on_block_ctx = rt,
		.on_drop = shoal__pending_on_drop, /* pending.c */
		.on_drop_ctx = rt});
	*out = rt;
	return 0;
}

/* The store's inspect handle, and the region's view read through it:
 * nothing is registered, no ring opened, no hook set (shoal/runtime.h). */
SHOAL_API int shoal_runtime_inspect(const char *name, struct shoal_runtime **out)
{
	struct shoal_runtime *rt;
	struct shoal_store *store;
	int rc;

	if (!out)
		return -EINVAL;
	rc = shoal_store_inspect(name, &store);
	if (!rc)
		rc = shoal__rt_open_on(store, &rt);
	if (rc)
		return rc;
	rt->readonly = true;
	*out = rt;
	return 0;
}

SHOAL_API int shoal_runtime_detach(struct shoal_runtime *rt)
{
	if (!rt)
		return 0;
	if (rt->driver)
		return -EINVAL;
	shoal__names_close(rt);
	if (!rt->readonly) { /* an inspect handle has no lane, holds nothing */
		shoal__lanes_close(rt);
		shoal__pending_flush(rt);
		shoal__oq_hand_over(rt);
		shoal__oq_books_collect(rt->store, &rt->v, &rt->oq, true);
	}
	shoal_store_close(rt->store);
	shoal__rt_free(rt);
	return 0;
}

SHOAL_API struct shoal_store *shoal_runtime_store(struct shoal_runtime *rt)
{
	return rt ? rt->store : NULL;
}

SHOAL_API int shoal_runtime_info(struct shoal_runtime *rt,
				 struct shoal_runtime_info *out,
				 int32_t *worker_pids, size_t cap)
{
	size_t n = 0;

	if (!rt || !out)
		return -EINVAL;
	/* Relaxed: counters (statistics); the states WK-A1, their pids
	 * relaxed (a snapshot). */
	*out = (struct shoal_runtime_info){
		.fork_server_pid = rt->fs_pid,
		.num_workers = rt->v.num_workers,
		.workers_started = atomic_load_explicit(&rt->v.hdr->workers_started,
							memory_order_relaxed),
		.workers_died = atomic_load_explicit(&rt->v.hdr->workers_died,
						     memory_order_relaxed),
		.tasks_submitted = atomic_load_explicit(&rt->v.hdr->tasks_submitted,
							memory_order_relaxed),
		.tasks_done = atomic_load_explicit(&rt->v.hdr->tasks_done,
						   memory_order_relaxed),
		.tasks_failed = atomic_load_explicit(&rt->v.hdr->tasks_failed,
						     memory_order_relaxed),
		.tasks_queued = shoal__queue_len(&rt->v.queue),
		.max_tasks = rt->v.max_tasks,
	};
	for (uint32_t i = 0; i < rt->v.max_workers; i++) {
		const struct shoal__rt_worker *w = &rt->v.workers[i];

		if (atomic_load_explicit(&w->state, memory_order_acquire) != /* WK-A1 */
		    SHOAL__WK_RUNNING)
			continue;
		out->workers_alive++;
		if (worker_pids && n < cap)
			worker_pids[n++] = atomic_load_explicit(&w->pid,
								memory_order_relaxed);
	}
	return 0;
}
