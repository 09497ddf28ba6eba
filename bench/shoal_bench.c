/* SPDX-License-Identifier: MIT */
/*
 * bench/shoal_bench.c - the store, floors and tasks families of
 * shoal-bench, on their way to one file each; bench/harness.c is the
 * harness and says how it measures, bench/families.h lists the families.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "bench.h"
#include "families.h"

/* ------------------------------------------------------------------ */
/* Workloads                                                          */

struct put_state {
	struct shoal_store *store;
	const void *src;
	size_t size;
	uint64_t puts;  /* puts done, for evictions per put */
};

/* shoal_put then shoal_drop: the object becomes evictable cache at once. */
static int put_drop_batch(void *arg, uint64_t n)
{
	struct put_state *p = arg;

	for (uint64_t i = 0; i < n; i++) {
		shoal_id id;
		int rc = shoal_put(p->store, p->src, p->size, PUT_TIMEOUT_MS,
				   &id);

		if (rc < 0)
			return rc;
		rc = shoal_drop(p->store, id);
		if (rc < 0)
			return rc;
	}
	p->puts += n;
	return 0;
}

struct get_state {
	struct shoal_store *store;
	shoal_id id;
	uint64_t sink;  /* sizes seen, so the views are used */
};

static int get_release_batch(void *arg, uint64_t n)
{
	struct get_state *g = arg;
	uint64_t sink = 0; /* a local: no store to *g in the loop */

	for (uint64_t i = 0; i < n; i++) {
		struct shoal_view v;
		int rc = shoal_get(g->store, g->id, 0, &v);

		if (rc < 0)
			return rc;
		sink += v.size;
		rc = shoal_release(g->store, &v);
		if (rc < 0)
			return rc;
	}
	g->sink += sink;
	return 0;
}

struct copy_state {
	uint8_t *dst;
	const void *src;
	size_t size;
	size_t slots;  /* destinations: dst + k * size, k < slots */
	size_t next;
};

static int memcpy_batch(void *arg, uint64_t n)
{
	struct copy_state *c = arg;

	for (uint64_t i = 0; i < n; i++) {
		memcpy(c->dst + c->next * c->size, c->src, c->size);
		c->next = (c->next + 1) % c->slots;
	}
	__asm__ __volatile__("" ::: "memory"); /* the copies are observable */
	return 0;
}

static struct workload put_workload(struct put_state *p, uint64_t batch,
				    enum unit u)
{
	return (struct workload){put_drop_batch, p, batch, p->size, u};
}

static struct workload get_workload(struct get_state *g, enum unit u)
{
	return (struct workload){get_release_batch, g, CALL_BATCH, 0, u};
}

/* ------------------------------------------------------------------ */
/* Store helpers                                                      */

/* A private store; capacity 0 keeps the default. */
static int store_open(uint64_t capacity, struct shoal_store **out)
{
	struct shoal_store_options o;

	shoal_store_options_init(&o);
	if (capacity)
		o.capacity = capacity;
	return shoal_store_create(NULL, &o, out);
}

static int store_evictions(struct shoal_store *store, uint64_t *out)
{
	struct shoal_store_stats s;
	int rc = shoal_store_stats(store, &s);

	if (rc < 0)
		return rc;
	*out = s.evictions;
	return 0;
}

/* A sealed object of `size` bytes of which only the first and last bytes
 * are written (no memcpy of the whole object); the caller holds it. */
static int make_sealed(struct shoal_store *store, size_t size, shoal_id *id)
{
	void *data;
	int rc;

	*id = shoal_id_next(store);
	rc = shoal_create(store, *id, size, NULL, 0, 0, &data);
	if (rc < 0)
		return rc;
	((uint8_t *)data)[0] = 1;
	((uint8_t *)data)[size - 1] = 1;
	return shoal_seal(store, *id);
}

/* ------------------------------------------------------------------ */
/* Family: put calls, one process                                     */

/* Measures p's put+drop workload; adds evictions per put to m. */
static int measure_puts(const struct bench_ctx *ctx, struct put_state *p,
			const struct workload *w, int n, struct stats *st,
			struct metric *m)
{
	uint64_t ev0, ev1;
	int rc = store_evictions(p->store, &ev0);

	p->puts = 0;
	if (rc == 0)
		rc = measure(ctx, w, n, st);
	if (rc == 0)
		rc = store_evictions(p->store, &ev1);
	if (rc == 0 && p->puts)
		add_extra(m, "evictions_per_put",
			  (double)(ev1 - ev0) / (double)p->puts);
	return rc;
}

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

/* ------------------------------------------------------------------ */
/* Family: get calls                                                  */

int family_get_calls(const struct bench_ctx *ctx)
{
	struct metric m = {
		.name = "single_client_get_calls", .unit = UNIT_OPS,
		.size = SMALL_OBJECT, .target = ">= 10M/s",
		.note = "shoal_get (timeout 0) + shoal_release of one sealed "
			"object",
	};
	struct shoal_store *store;
	struct get_state g = {0};
	struct workload w;
	int rc;

	if (!wanted(ctx, m.name))
		return 0;
	rc = store_open(0, &store);
	if (rc < 0)
		return emit_error(ctx, m.name, m.size, rc);
	g.store = store;
	w = get_workload(&g, UNIT_OPS);
	rc = make_sealed(store, SMALL_OBJECT, &g.id);
	if (rc == 0)
		rc = measure(ctx, &w, 1, &m.st);
	shoal_store_close(store);
	if (rc < 0)
		return emit_error(ctx, m.name, m.size, rc);
	m.verdict = m.st.median >= TARGET_GET_CALLS;
	emit(ctx, &m);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Family: put bandwidth against memcpy                               */

static const char bw_put_name[] = "single_client_put_gigabytes";
static const char bw_copy_name[] = "memcpy_gigabytes";

struct bw_bufs {
	uint8_t *src;    /* BW_MAX_SIZE bytes, anonymous, pre-touched */
	uint8_t *dst;    /* BW_CAPACITY bytes of memfd, pre-touched */
};

/* Shared memfd memory, like the store's own segment (so that the
 * comparison does not hinge on transparent huge pages for anonymous
 * memory but not for shmem). */
static int map_memfd(size_t len, uint8_t **out)
{
	int fd = memfd_create("shoal-bench-memcpy", MFD_CLOEXEC);
	void *p;
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0)
		rc = -errno;
	p = rc ? MAP_FAILED
	       : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (rc == 0 && p == MAP_FAILED)
		rc = -errno;
	close(fd); /* the mapping keeps the memory */
	if (rc == 0)
		*out = p;
	return rc;
}

static int bw_bufs_open(struct bw_bufs *b)
{
	void *p = mmap(NULL, BW_MAX_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int rc;

	if (p == MAP_FAILED)
		return -errno;
	b->src = p;
	memset(b->src, 0xa5, BW_MAX_SIZE);
	rc = map_memfd(BW_CAPACITY, &b->dst);
	if (rc < 0) {
		munmap(b->src, BW_MAX_SIZE);
		return rc;
	}
	memset(b->dst, 0, BW_CAPACITY); /* first touch, outside the timing */
	return 0;
}

static void bw_bufs_close(struct bw_bufs *b)
{
	munmap(b->src, BW_MAX_SIZE);
	munmap(b->dst, BW_CAPACITY);
}

/* Two passes of put+drop over the store's capacity, so that every page the
 * puts will cycle through is touched before timing.  *footprint gets the
 * bytes the allocator then holds: what memcpy must cycle through too. */
static int bw_warm(struct put_state *p, uint64_t *footprint)
{
	struct shoal_store_stats s;
	int rc = put_drop_batch(p, 2 * (BW_CAPACITY / p->size) + 2);

	if (rc == 0)
		rc = shoal_store_stats(p->store, &s);
	if (rc < 0)
		return rc;
	*footprint = s.heap_bytes_reserved;
	if (*footprint < p->size || *footprint > BW_CAPACITY)
		*footprint = BW_FOOTPRINT; /* stat out of range: the design's */
	*footprint -= *footprint % p->size;
	return 0;
}

static void bw_emit(const struct bench_ctx *ctx, struct metric *put,
		    struct metric *copy, bool both)
{
	if (both) {
		double ratio = put->st.median / copy->st.median;

		add_extra(put, "ratio_to_memcpy", ratio);
		put->verdict = ratio >= TARGET_PUT_VS_MEMCPY;
	}
	if (put->name)
		emit(ctx, put);
	if (copy->name)
		emit(ctx, copy);
}

/* Measures the put and/or memcpy workloads of one size, interleaved. */
static int bw_measure(const struct bench_ctx *ctx, struct put_state *p,
		      struct copy_state *c, struct metric *put,
		      struct metric *copy)
{
	struct workload w[MAX_WORKLOADS];
	struct stats st[MAX_WORKLOADS];
	int n = 0, rc;

	if (put->name)
		w[n++] = put_workload(p, 1, UNIT_GBPS);
	if (copy->name)
		w[n++] = (struct workload){memcpy_batch, c, 1, c->size,
					   UNIT_GBPS};
	rc = measure_puts(ctx, p, w, n, st, put);
	if (rc < 0)
		return rc;
	if (put->name)
		put->st = st[0];
	if (copy->name)
		copy->st = st[n - 1];
	bw_emit(ctx, put, copy, n == 2);
	return 0;
}

static int bw_one_size(const struct bench_ctx *ctx, const struct bw_bufs *b,
		       size_t size)
{
	struct metric put = {
		.name = wanted(ctx, bw_put_name) ? bw_put_name : NULL,
		.unit = UNIT_GBPS, .size = size, .target = ">= 70% of memcpy",
		.verdict = -1,
		.note = "shoal_put (create+memcpy+seal) then shoal_drop, "
			"cycling through a store of 288 MiB that evicts LRU; "
			"warmed by two passes first, so first-touch page "
			"faults (~3 us/page here) are excluded",
	};
	struct metric copy = {
		.name = wanted(ctx, bw_copy_name) ? bw_copy_name : NULL,
		.unit = UNIT_GBPS, .size = size,
		.note = "memcpy from the same source into pre-touched memfd "
			"memory, destinations cycling over the put's "
			"footprint (the store's heap_bytes_reserved)",
	};
	struct shoal_store *store;
	struct put_state p = {NULL, b->src, size, 0};
	struct copy_state c = {b->dst, b->src, size, 1, 0};
	const char *name = put.name ? put.name : copy.name;
	int rc;

	if (!name)
		return 0;
	rc = store_open(BW_CAPACITY, &store);
	if (rc < 0)
		return emit_error(ctx, name, size, rc);
	p.store = store;
	rc = bw_warm(&p, &put.footprint);
	copy.footprint = put.footprint;
	c.slots = put.footprint / size;
	if (rc == 0)
		rc = bw_measure(ctx, &p, &c, &put, &copy);
	shoal_store_close(store);
	return rc < 0 ? emit_error(ctx, name, size, rc) : 0;
}

int family_put_gigabytes(const struct bench_ctx *ctx)
{
	static const size_t sizes[] = {1u << 20, BW_MAX_SIZE};
	struct bw_bufs b = {NULL, NULL};
	int rc = 0, err = 0;

	if (!wanted(ctx, bw_put_name) && !wanted(ctx, bw_copy_name))
		return 0;
	rc = bw_bufs_open(&b);
	if (rc < 0)
		return emit_error(ctx, bw_copy_name, 0, rc);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		rc = bw_one_size(ctx, &b, sizes[i]);
		err = rc < 0 ? rc : err;
	}
	bw_bufs_close(&b);
	return err;
}

/* ------------------------------------------------------------------ */
/* Family: get latency against object size                            */

struct lat_case {
	struct metric m;
	struct get_state g;  /* g.store is NULL until prepared */
};

static int lat_prepare(const struct bench_ctx *ctx, struct lat_case *c)
{
	struct shoal_store *store;
	int rc = store_open(c->m.size + LAT_SLACK, &store);

	if (rc < 0)
		return emit_error(ctx, c->m.name, c->m.size, rc);
	rc = make_sealed(store, c->m.size, &c->g.id);
	if (rc < 0) {
		shoal_store_close(store);
		return emit_error(ctx, c->m.name, c->m.size, rc);
	}
	c->g.store = store;
	return 0;
}

static int lat_finish(const struct bench_ctx *ctx, struct lat_case *c)
{
	int rc;

	if (!c->g.store)
		return 0;
	rc = shoal_drop(c->g.store, c->g.id);
	shoal_store_close(c->g.store);
	c->g.store = NULL;
	return rc < 0 ? emit_error(ctx, c->m.name, c->m.size, rc) : 0;
}

/* Measures the prepared cases side by side and emits them. */
static int lat_measure(const struct bench_ctx *ctx, struct lat_case *c,
		       int ncases)
{
	struct workload w[MAX_WORKLOADS];
	struct stats st[MAX_WORKLOADS];
	struct lat_case *run[MAX_WORKLOADS];
	int n = 0, rc;

	for (int i = 0; i < ncases; i++) {
		if (c[i].g.store) {
			w[n] = get_workload(&c[i].g, UNIT_NS);
			run[n++] = &c[i];
		}
	}
	rc = n ? measure(ctx, w, n, st) : 0;
	for (int k = 0; k < n; k++) {
		if (rc < 0) {
			emit_error(ctx, run[k]->m.name, run[k]->m.size, rc);
			continue;
		}
		run[k]->m.st = st[k];
		if (k == 1) {
			double ratio = st[1].median / st[0].median;

			add_extra(&run[1]->m, "ratio_to_1KiB", ratio);
			run[1]->m.verdict = ratio <= TARGET_1GIB_VS_1KIB;
		}
		emit(ctx, &run[k]->m);
	}
	return rc;
}

int family_get_latency(const struct bench_ctx *ctx)
{
	struct lat_case c[MAX_WORKLOADS] = {
		{.m = {.name = "get_latency_1KiB_ns", .unit = UNIT_NS,
		       .size = 1u << 10,
		       .note = "shoal_get + shoal_release pair, one sealed "
			       "1 KiB object"}},
		{.m = {.name = "get_latency_1GiB_ns", .unit = UNIT_NS,
		       .size = 1u << 30, .target = "<= 2x the 1 KiB get",
		       .verdict = -1,
		       .note = "shoal_get + shoal_release pair, one sealed "
			       "1 GiB object of which only 2 bytes were "
			       "written"}},
	};
	int rc, err = 0;

	for (int i = 0; i < MAX_WORKLOADS; i++) {
		rc = wanted(ctx, c[i].m.name) ? lat_prepare(ctx, &c[i]) : 0;
		err = rc < 0 ? rc : err;
	}
	rc = lat_measure(ctx, c, MAX_WORKLOADS);
	err = rc < 0 ? rc : err;
	for (int i = 0; i < MAX_WORKLOADS; i++) {
		rc = lat_finish(ctx, &c[i]);
		err = rc < 0 ? rc : err;
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* Family: the machine's floors (cross-process wake-up round trips)   */

#define PP_TIMEOUT_S 10.0      /* a peer silent this long: an error */
#define PP_SLEEP_NS 100000000L /* a futex sleep, between liveness checks */
#define PP_CHECK_SPINS 65536u  /* pauses between two liveness checks */
#define PP_FUTEX_BATCH 16u     /* round trips between two clock reads */
#define PP_SPIN_BATCH 1024u

/* The page two processes ping-pong on (MAP_SHARED | MAP_ANONYMOUS). */
struct pp_page {
	_Atomic uint32_t word;      /* odd: the parent's ping; even: the pong */
	_Atomic uint32_t stop;      /* set by the parent before a last ping */
	_Atomic int32_t child_cpu;  /* where the child ran last */
};

enum pp_mode { PP_FUTEX, PP_SPIN };

struct pp_state {
	struct pp_page *pg;
	enum pp_mode mode;
	pid_t parent;    /* the child's peer */
	pid_t child;     /* the parent's peer; 0 on the child's side */
	uint32_t seq;    /* parent: the last pong */
};

static void cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/* FUTEX_WAIT / FUTEX_WAKE, the shared kind (not _PRIVATE): the word is in
 * a MAP_SHARED page of two processes. */
static long futex_call(_Atomic uint32_t *word, int op, uint32_t val,
		       const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

/* 0 while the peer runs, -ECHILD (child gone) or -ESRCH (parent gone). */
static int pp_peer_alive(const struct pp_state *s)
{
	siginfo_t si;

	if (!s->child)
		return getppid() == s->parent ? 0 : -ESRCH;
	si.si_pid = 0;
	if (waitid(P_PID, (id_t)s->child, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return -errno;
	return si.si_pid ? -ECHILD : 0;
}

/* Waits until the word is no longer `old`: FUTEX_WAIT, or pauses.  Checks
 * the peer after each timed-out sleep or PP_CHECK_SPINS pauses. */
static int pp_wait(const struct pp_state *s, uint32_t old)
{
	const struct timespec slice = {0, PP_SLEEP_NS};
	double deadline = 0;
	uint32_t spins = 0;
	int rc;

	for (;;) {
		if (atomic_load_explicit(&s->pg->word, memory_order_acquire) != old)
			return 0;
		if (s->mode == PP_FUTEX) {
			if (futex_call(&s->pg->word, FUTEX_WAIT, old, &slice) == 0 ||
			    errno != ETIMEDOUT)
				continue; /* woken, changed (EAGAIN) or EINTR */
		} else if (++spins % PP_CHECK_SPINS) {
			cpu_pause();
			continue;
		} else {
			sched_yield(); /* only matters with one CPU */
		}
		rc = pp_peer_alive(s);
		if (rc < 0)
			return rc;
		if (deadline == 0)
			deadline = now_s() + PP_TIMEOUT_S;
		else if (now_s() > deadline)
			return -ETIMEDOUT;
	}
}

/* Publishes v; in futex mode, always wakes the peer. */
static void pp_signal(const struct pp_state *s, uint32_t v)
{
	atomic_store_explicit(&s->pg->word, v, memory_order_release);
	if (s->mode == PP_FUTEX)
		futex_call(&s->pg->word, FUTEX_WAKE, 1, NULL);
}

/* The parent's workload: n round trips (ping, wait for the pong). */
static int pp_batch(void *arg, uint64_t n)
{
	struct pp_state *s = arg;

	for (uint64_t i = 0; i < n; i++) {
		uint32_t ping = s->seq + 1;
		int rc;

		pp_signal(s, ping);
		rc = pp_wait(s, ping);
		if (rc < 0)
			return rc;
		if (atomic_load_explicit(&s->pg->word, memory_order_relaxed) !=
		    ping + 1)
			return -EPROTO;
		s->seq = ping + 1;
	}
	return 0;
}

/* The child: answers every ping until the parent sets stop. */
static int pp_child_loop(const struct pp_state *s)
{
	uint32_t last = 0;

	for (;;) {
		int rc = pp_wait(s, last);

		if (rc < 0)
			return rc;
		if (atomic_load_explicit(&s->pg->stop, memory_order_acquire))
			return 0;
		last = atomic_load_explicit(&s->pg->word, memory_order_relaxed) + 1;
		pp_signal(s, last);
	}
}

static void __attribute__((noreturn))
pp_child_main(const struct bench_ctx *ctx, struct pp_state *s)
{
	int rc = 0;

	s->child = 0;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		rc = -errno;
	else if (getppid() != s->parent)
		rc = -ESRCH; /* the parent died before prctl */
	else if (ctx->pin)
		rc = pin_to_cpu(1);
	if (rc == 0)
		rc = pp_child_loop(s);
	atomic_store_explicit(&s->pg->child_cpu, sched_getcpu(),
			      memory_order_relaxed);
	_exit(rc < 0 ? 1 : 0);
}

/* Ends the ping-pong: stop + a last ping, then waits for the child (at
 * most PP_TIMEOUT_S, then SIGKILL; at once on an error path). */
static int pp_stop(struct pp_state *s, bool failed)
{
	double deadline = now_s() + PP_TIMEOUT_S;
	int r;

	atomic_store_explicit(&s->pg->stop, 1, memory_order_release);
	pp_signal(s, s->seq + 1);
	while ((r = reap_child(s->child, false, true)) == 0 && !failed &&
	       now_s() < deadline)
		usleep(1000);
	if (r == 0) {
		kill(s->child, SIGKILL); /* our own child, by pid */
		r = reap_child(s->child, true, false);
	}
	return r < 0 && !failed ? r : 0;
}

/* One floor: forks the peer (pinned to CPU 1, this process to CPU 0, when
 * both are usable; this process's affinity is restored afterwards). */
static int pp_measure(const struct bench_ctx *ctx, enum pp_mode mode,
		      struct metric *m)
{
	struct pp_state s = {.mode = mode, .parent = getpid()};
	struct workload w = {pp_batch, &s,
			     mode == PP_FUTEX ? PP_FUTEX_BATCH : PP_SPIN_BATCH,
			     0, UNIT_NS};
	cpu_set_t saved;
	void *p = mmap(NULL, sizeof *s.pg, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	bool restore = false;
	int rc = 0, stop_rc;

	if (p == MAP_FAILED)
		return -errno;
	s.pg = p; /* zero-filled */
	atomic_store(&s.pg->child_cpu, -1);
	if (sched_getaffinity(0, sizeof saved, &saved) < 0)
		rc = -errno;
	restore = rc == 0 && ctx->pin;
	if (restore)
		rc = pin_to_cpu(0);
	if (rc == 0) {
		fflush(stdout);
		fflush(stderr);
		s.child = fork();
		if (s.child == 0)
			pp_child_main(ctx, &s);
		if (s.child < 0)
			rc = -errno;
	}
	if (rc == 0) {
		rc = measure(ctx, &w, 1, &m->st);
		m->cpus[0] = sched_getcpu();
		stop_rc = pp_stop(&s, rc < 0);
		rc = rc < 0 ? rc : stop_rc;
		m->cpus[1] = atomic_load(&s.pg->child_cpu);
		m->ncpus = 2;
	}
	if (restore && sched_setaffinity(0, sizeof saved, &saved) < 0 &&
	    rc == 0)
		rc = -errno;
	munmap(p, sizeof *s.pg);
	return rc;
}

static int floor_one(const struct bench_ctx *ctx, enum pp_mode mode,
		     double *out)
{
	struct metric m = {
		.name = mode == PP_FUTEX ? "futex_rtt_ns" : "spin_rtt_ns",
		.unit = UNIT_NS, .procs = 2, .pinned = ctx->pin ? 1 : -1,
		.note = mode == PP_FUTEX
			? "ping-pong of a counter between 2 forked processes "
			  "on a MAP_SHARED anonymous page: each side sleeps in "
			  "FUTEX_WAIT (shared) and wakes the other with "
			  "FUTEX_WAKE; ns per round trip"
			: "ping-pong of a counter between 2 forked processes "
			  "on a MAP_SHARED anonymous page: each side spins on "
			  "the word (pause); ns per round trip",
	};
	int rc;

	if (!wanted(ctx, m.name))
		return 0;
	rc = pp_measure(ctx, mode, &m);
	if (rc < 0)
		return emit_error(ctx, m.name, 0, rc);
	*out = m.st.median;
	emit(ctx, &m);
	return 0;
}

int family_floors(const struct bench_ctx *ctx)
{
	int rc1 = floor_one(ctx, PP_FUTEX, &ctx->floors->futex_rtt_ns);
	int rc2 = floor_one(ctx, PP_SPIN, &ctx->floors->spin_rtt_ns);

	return rc1 < 0 ? rc1 : rc2;
}

/* ------------------------------------------------------------------ */
/* Family: tasks (remote functions)                                   */

#define TASK_WINDOW 1000u       /* async: tasks in flight, then get+drop */
#define TASK_TIMEOUT_MS 10000   /* a get of a no-op's result */
#define SYNC_BATCH 64u          /* sync round trips between clock reads */
#define CLIENT_WORKERS 4u       /* 2 client tasks + 2 executors */
#define CLIENT_TIMEOUT_MS 120000 /* a get of a client task's result */
#define CLIENT_BARRIER_S 10.0   /* a client waits this long for the other */

/* Shared by the driver and the workers (mapped before the runtime starts,
 * inherited by its processes): the client tasks' start barrier. */
struct client_page {
	_Atomic uint64_t arrived; /* client tasks that reached the barrier */
};

/* Refs and views for one window (TASK_WINDOW tasks). */
struct window {
	shoal_id refs[TASK_WINDOW];
	struct shoal_view views[TASK_WINDOW];
	uint8_t ready[TASK_WINDOW];
};

/* The no-op: no arguments, one 8-byte return. */
static int task_noop(struct shoal_task *t, void *user)
{
	uint64_t v = 0;

	(void)user;
	return shoal_task_return(t, 0, &v, sizeof v);
}

/* Drops refs[0..n); returns rc, or the first drop error if rc is 0. */
static int drop_all(struct shoal_store *s, const shoal_id *refs, uint32_t n,
		    int rc)
{
	for (uint32_t i = 0; i < n; i++) {
		int r = shoal_drop(s, refs[i]);

		rc = rc < 0 ? rc : r;
	}
	return rc;
}

/* Submits n no-ops; *done gets how many were submitted (to drop). */
static int submit_noops(struct shoal_runtime *rt, int fn, shoal_id *refs,
			uint32_t n, uint32_t *done)
{
	struct shoal_args a;
	int rc = 0;

	shoal_args_init(&a);
	for (*done = 0; *done < n; (*done)++) {
		rc = shoal_submit(rt, fn, &a, 1, &refs[*done]);
		if (rc < 0)
			break;
	}
	return rc;
}

/* Ray's async batch: submit n no-ops, get all (one shoal_get_many),
 * release and drop every one. */
static int noop_window(struct shoal_runtime *rt, int fn, struct window *w,
		       uint32_t n)
{
	struct shoal_store *s = shoal_runtime_store(rt);
	bool got;
	uint32_t done;
	int rc = submit_noops(rt, fn, w->refs, n, &done);

	if (rc == 0)
		rc = shoal_get_many(s, w->refs, n, TASK_TIMEOUT_MS, w->views);
	got = rc >= 0 && done == n; /* views[0..n) are this window's */
	for (uint32_t i = 0; got && rc >= 0 && i < n; i++) {
		if (w->views[i].err)
			rc = w->views[i].err;
		else if (w->views[i].size != sizeof(uint64_t))
			rc = -EBADMSG;
	}
	for (uint32_t i = 0; got && i < n; i++)
		if (w->views[i].data)
			shoal_release(s, &w->views[i]);
	return drop_all(s, w->refs, done, rc < 0 ? rc : 0);
}

struct task_state {
	struct shoal_runtime *rt;
	int fn;
	struct window *w;
};

/* single_client_tasks_sync: submit, get, release, drop, one at a time. */
static int sync_batch(void *arg, uint64_t n)
{
	struct task_state *ts = arg;
	struct shoal_store *s = shoal_runtime_store(ts->rt);
	struct shoal_args a;

	shoal_args_init(&a);
	for (uint64_t i = 0; i < n; i++) {
		struct shoal_view v;
		shoal_id ref;
		int rc = shoal_submit(ts->rt, ts->fn, &a, 1, &ref);

		if (rc < 0)
			return rc;
		rc = shoal_get(s, ref, TASK_TIMEOUT_MS, &v);
		if (rc == 0) {
			rc = v.size == sizeof(uint64_t) ? 0 : -EBADMSG;
			shoal_release(s, &v);
		}
		rc = drop_all(s, &ref, 1, rc);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* single_client_tasks_async: n tasks, in windows of TASK_WINDOW. */
static int async_batch(void *arg, uint64_t n)
{
	struct task_state *ts = arg;

	for (uint64_t i = 0; i < n; i += TASK_WINDOW) {
		uint32_t k = n - i < TASK_WINDOW ? (uint32_t)(n - i) : TASK_WINDOW;
		int rc = noop_window(ts->rt, ts->fn, ts->w, k);

		if (rc < 0)
			return rc;
	}
	return 0;
}

/* single_client_wait_1k_refs: n times, submit TASK_WINDOW no-ops, one
 * shoal_wait for all of them, drop them (unfetched). */
static int wait_batch(void *arg, uint64_t n)
{
	struct task_state *ts = arg;
	struct shoal_store *s = shoal_runtime_store(ts->rt);

	for (uint64_t i = 0; i < n; i++) {
		uint32_t done;
		int rc = submit_noops(ts->rt, ts->fn, ts->w->refs, TASK_WINDOW,
				      &done);

		if (rc == 0)
			rc = shoal_wait(s, ts->w->refs, TASK_WINDOW, TASK_WINDOW,
					TASK_TIMEOUT_MS, ts->w->ready);
		if (rc >= 0)
			rc = rc < (int)TASK_WINDOW ? -ETIMEDOUT : 0;
		rc = drop_all(s, ts->w->refs, done, rc);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A client (multi_client_tasks_async), run by a worker: waits until
 * args[1] client tasks reached the barrier, then, for args[0] ns at least,
 * submits no-ops through its worker's runtime handle (nested submission)
 * in windows, getting and dropping each window (as run_for() does, one
 * clock read per window).  Returns {tasks, elapsed ns}. */
static int task_client(struct shoal_task *t, void *user)
{
	struct client_page *pg = user;
	struct shoal_runtime *rt = shoal_task_runtime(t);
	uint64_t arg[2], out[2];
	struct window *w = NULL;
	const void *d[2];
	size_t len[2];
	double t0, deadline = now_s() + CLIENT_BARRIER_S;
	int fn = shoal_function(rt, "noop"), rc = 0;

	for (uint32_t i = 0; i < 2; i++) {
		if (shoal_task_arg(t, i, &d[i], &len[i]) < 0 ||
		    len[i] != sizeof arg[i])
			return shoal_task_fail(t, -EINVAL, "client: bad args");
		memcpy(&arg[i], d[i], sizeof arg[i]);
	}
	if (!pg || fn < 0)
		return shoal_task_fail(t, fn < 0 ? fn : -EINVAL,
				       "client: no noop or page");
	atomic_fetch_add(&pg->arrived, 1);
	while (atomic_load(&pg->arrived) < arg[1]) {
		if (now_s() > deadline)
			return shoal_task_fail(t, -ETIMEDOUT,
					       "client: the other client "
					       "never started");
		sched_yield();
	}
	w = malloc(sizeof *w);
	if (!w)
		return shoal_task_fail(t, -ENOMEM, "client: no memory");
	t0 = now_s();
	out[0] = 0;
	do {
		rc = noop_window(rt, fn, w, TASK_WINDOW);
		out[0] += TASK_WINDOW;
		out[1] = (uint64_t)((now_s() - t0) * 1e9);
	} while (rc == 0 && out[1] < arg[0]);
	free(w);
	if (rc < 0)
		return shoal_task_fail(t, rc, "client: nested tasks: %s",
				       shoal_strerror(rc));
	return shoal_task_return(t, 0, out, sizeof out);
}

/* A private runtime with the no-op and the client registered. */
struct bench_rt {
	struct shoal_runtime *rt;
	int noop, client;
};

/* Starts it; fills m's runtime fields.  spin_budget < 0: the default. */
static int bench_rt_start(uint32_t workers, int64_t spin_budget,
			  struct client_page *pg, struct bench_rt *b,
			  struct metric *m)
{
	struct shoal_runtime_options o;
	struct shoal_runtime_info info;
	struct shoal_store_stats st;
	struct shoal_registry *reg;
	int rc = shoal_registry_open(&reg);

	b->rt = NULL;
	if (rc < 0)
		return rc;
	rc = shoal_register_task(reg, "noop", task_noop, NULL);
	if (rc == 0)
		rc = shoal_register_task(reg, "client", task_client, pg);
	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.name = NULL; /* private: nothing in /dev/shm */
	if (spin_budget >= 0)
		o.store.spin_budget = (uint32_t)spin_budget;
	if (rc == 0)
		rc = shoal_runtime_start(reg, &o, &b->rt);
	shoal_registry_close(reg);
	if (rc < 0)
		return rc;
	b->noop = shoal_function(b->rt, "noop");
	b->client = shoal_function(b->rt, "client");
	rc = b->noop < 0 ? b->noop : b->client < 0 ? b->client : 0;
	if (rc == 0)
		rc = shoal_runtime_info(b->rt, &info, NULL, 0);
	if (rc == 0)
		rc = shoal_store_stats(shoal_runtime_store(b->rt), &st);
	if (rc < 0) {
		shoal_runtime_shutdown(b->rt);
		b->rt = NULL;
		return rc;
	}
	m->runtime = true;
	m->workers = info.num_workers;
	m->capacity = st.capacity;
	m->spin_budget = o.store.spin_budget;
	return 0;
}

/* Shuts the runtime down; returns rc, or shutdown's error if rc is 0. */
static int bench_rt_stop(struct bench_rt *b, int rc)
{
	int r = shoal_runtime_shutdown(b->rt);

	b->rt = NULL;
	return rc < 0 ? rc : r;
}

/* Starts a runtime, measures one workload on it, shuts it down. */
static int tasks_measure(const struct bench_ctx *ctx, uint32_t workers,
			 int64_t spin_budget,
			 int (*batch)(void *state, uint64_t n),
			 uint64_t batch_ops, struct metric *m)
{
	struct task_state ts = {0};
	struct workload w = {batch, &ts, batch_ops, 0, UNIT_OPS};
	struct bench_rt b;
	int rc;

	ts.w = malloc(sizeof *ts.w);
	if (!ts.w)
		return -ENOMEM;
	rc = bench_rt_start(workers, spin_budget, NULL, &b, m);
	if (rc == 0) {
		ts.rt = b.rt;
		ts.fn = b.noop;
		rc = measure(ctx, &w, 1, &m->st);
		rc = bench_rt_stop(&b, rc);
	}
	free(ts.w);
	return rc;
}

static int tasks_sync(const struct bench_ctx *ctx, bool sleeping)
{
	struct metric m = {
		.name = "single_client_tasks_sync", .unit = UNIT_OPS,
		.verdict = -1,
		.target = sleeping ? "rtt <= 1.5x futex_rtt_ns" : ">= 200k/s",
		.note = sleeping
			? "submit a no-op (8-byte return), shoal_get, release, "
			  "drop, repeat; spin_budget 0: the driver and the "
			  "workers sleep on futexes at once (the sleeping "
			  "case); rtt_ns = 1e9 / median"
			: "submit a no-op (8-byte return), shoal_get, release, "
			  "drop, repeat; default spin budget (waiters spin, "
			  "then sleep); rtt_ns = 1e9 / median",
	};
	const double *fl = sleeping ? &ctx->floors->futex_rtt_ns
				       : &ctx->floors->spin_rtt_ns;
	int rc;

	if (!wanted(ctx, m.name))
		return 0;
	rc = tasks_measure(ctx, 0, sleeping ? 0 : -1, sync_batch, SYNC_BATCH,
			   &m);
	if (rc < 0)
		return emit_error(ctx, m.name, 0, rc);
	add_extra(&m, "rtt_ns", 1e9 / m.st.median);
	if (*fl > 0)
		add_extra(&m, sleeping ? "ratio_to_futex_rtt"
				       : "ratio_to_spin_rtt",
			  1e9 / m.st.median / *fl);
	if (!sleeping)
		m.verdict = m.st.median >= TARGET_TASKS_SYNC;
	else if (*fl > 0) /* unknown without the floor from this run */
		m.verdict = 1e9 / m.st.median <= TARGET_SLEEPING_VS_FUTEX * *fl;
	emit(ctx, &m);
	return 0;
}

static int tasks_async(const struct bench_ctx *ctx)
{
	struct metric m = {
		.name = "single_client_tasks_async", .unit = UNIT_OPS,
		.target = ">= 1M/s",
		.note = "submit 1000 no-ops (8-byte return), shoal_get_many "
			"of the 1000, release and drop each; repeat",
	};
	int rc;

	if (!wanted(ctx, m.name))
		return 0;
	rc = tasks_measure(ctx, 0, -1, async_batch, TASK_WINDOW, &m);
	if (rc < 0)
		return emit_error(ctx, m.name, 0, rc);
	m.verdict = m.st.median >= TARGET_TASKS_ASYNC;
	emit(ctx, &m);
	return 0;
}

static int tasks_wait(const struct bench_ctx *ctx)
{
	struct metric m = {
		.name = "single_client_wait_1k_refs", .unit = UNIT_OPS,
		.verdict = -1,
		.note = "submit 1000 no-ops, one shoal_wait(1000 refs, "
			"num_ready 1000), drop the 1000 unfetched; ops = "
			"waits; tasks_per_s = 1000 x waits/s",
	};
	int rc;

	if (!wanted(ctx, m.name))
		return 0;
	rc = tasks_measure(ctx, 0, -1, wait_batch, 1, &m);
	if (rc < 0)
		return emit_error(ctx, m.name, 0, rc);
	add_extra(&m, "tasks_per_s", m.st.median * TASK_WINDOW);
	emit(ctx, &m);
	return 0;
}

/* One round of the clients, each running for `seconds` after the
 * barrier; *rate = their tasks / the longer client's time. */
static int client_round(struct bench_rt *b, double seconds, uint64_t *round,
			double *rate)
{
	struct shoal_store *s = shoal_runtime_store(b->rt);
	uint64_t arg[2] = {(uint64_t)(seconds * 1e9),
			   (*round + 1) * MULTI_PROCS};
	struct shoal_view v[MULTI_PROCS] = {{0}};
	shoal_id refs[MULTI_PROCS];
	struct shoal_args a;
	uint64_t ops = 0, ns = 0;
	uint32_t done;
	int rc;

	shoal_args_init(&a);
	shoal_args_bytes(&a, &arg[0], sizeof arg[0]);
	shoal_args_bytes(&a, &arg[1], sizeof arg[1]);
	for (done = 0; done < MULTI_PROCS; done++) {
		rc = shoal_submit(b->rt, b->client, &a, 1, &refs[done]);
		if (rc < 0)
			return drop_all(s, refs, done, rc);
	}
	(*round)++;
	rc = shoal_get_many(s, refs, MULTI_PROCS, CLIENT_TIMEOUT_MS, v);
	for (int i = 0; rc >= 0 && i < MULTI_PROCS; i++) {
		uint64_t out[2];

		if (v[i].err) {
			rc = v[i].err;
			break;
		}
		if (v[i].size != sizeof out) {
			rc = -EBADMSG;
			break;
		}
		memcpy(out, v[i].data, sizeof out);
		ops += out[0];
		ns = out[1] > ns ? out[1] : ns;
	}
	for (int i = 0; i < MULTI_PROCS; i++)
		if (v[i].data)
			shoal_release(s, &v[i]);
	if (rc >= 0)
		*rate = (double)ops * 1e9 / (double)(ns ? ns : 1);
	return drop_all(s, refs, MULTI_PROCS, rc < 0 ? rc : 0);
}

/* As measure(): a discarded warm-up round, then ctx->reps timed rounds
 * of ctx->rep_seconds. */
static int client_measure(const struct bench_ctx *ctx, struct bench_rt *b,
			  struct metric *m)
{
	double v[REPS_FULL], warm;
	uint64_t round = 0;
	int rc = client_round(b, ctx->rep_seconds / 4, &round, &warm);

	for (int r = 0; rc == 0 && r < ctx->reps; r++)
		rc = client_round(b, ctx->rep_seconds, &round, &v[r]);
	if (rc < 0)
		return rc;
	m->st = stats_of(v, ctx->reps);
	return 0;
}

static int tasks_multi(const struct bench_ctx *ctx)
{
	struct metric m = {
		.name = "multi_client_tasks_async", .unit = UNIT_OPS,
		.procs = MULTI_PROCS, .target = ">= 1M/s",
		.note = "the 2 clients are tasks (the API cannot attach a "
			"second driver yet): the driver submits 2 client "
			"tasks to a runtime of 4 workers (2 run the clients, "
			"2 execute); each client waits for the other, then "
			"submits no-ops through shoal_task_runtime() (nested) "
			"in windows of 1000, get_many+release+drop, for one "
			"repetition's time; total = sum of tasks / the longer "
			"client's time",
	};
	struct client_page *pg;
	struct bench_rt b;
	void *p;
	int rc;

	if (!wanted(ctx, m.name))
		return 0;
	p = mmap(NULL, sizeof *pg, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return emit_error(ctx, m.name, 0, -errno);
	pg = p; /* zero-filled, inherited by the runtime's processes */
	rc = bench_rt_start(CLIENT_WORKERS, -1, pg, &b, &m);
	if (rc == 0)
		rc = bench_rt_stop(&b, client_measure(ctx, &b, &m));
	munmap(p, sizeof *pg);
	if (rc < 0)
		return emit_error(ctx, m.name, 0, rc);
	m.verdict = m.st.median >= TARGET_TASKS_ASYNC;
	emit(ctx, &m);
	return 0;
}

int family_tasks(const struct bench_ctx *ctx)
{
	int rc[5] = {tasks_sync(ctx, false), tasks_sync(ctx, true),
		     tasks_async(ctx), tasks_multi(ctx), tasks_wait(ctx)};

	for (int i = 0; i < 5; i++)
		if (rc[i] < 0)
			return rc[i];
	return 0;
}
