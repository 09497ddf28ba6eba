/* SPDX-License-Identifier: MIT */
/*
 * bench/floors.c - the floors family: the machine's cross-process wake-up
 * round trips, the floors that the task and actor latencies are read
 * against.
 *
 *   futex_rtt_{p50,p99,p999}_ns  two forked processes ping-pong a
 *                 counter on a MAP_SHARED anonymous page, each sleeping in
 *                 FUTEX_WAIT (shared) and waking the other with
 *                 FUTEX_WAKE; per-round-trip samples
 *   futex_rtt_1cpu_*  the same, both processes on CPU 0
 *   spin_rtt_{p50,p99,p999}_ns  the same, each spinning on the word
 *                 (pause); on CPUs 0 and 1 only: on one CPU a spinner
 *                 waits for the scheduler's slice, which measures nothing
 *   shm_first_touch_ns  the first write to each 4 KiB page of a fresh
 *                 16 MiB memfd mapping (MAP_SHARED, like a store's
 *                 segment): the page fault and zeroing an object pays the
 *                 first time its memory is used; memfd_create, ftruncate,
 *                 mmap and munmap included, per page
 *
 * This process is pinned to CPU 0 and its peer to CPU 1 when both are
 * usable (this process's affinity is restored afterwards).  The p50s go
 * to ctx->floors, for the tasks and actors families that run after it.
 *
 * Invariants: the word is odd after a ping, even after its pong, and the
 * parent checks that each pong is its ping + 1 (-EPROTO otherwise); a
 * waiter looks at its peer after each timed-out sleep or PP_CHECK_SPINS
 * pauses and gives up after PP_TIMEOUT_S of silence; the child dies with
 * its parent (PR_SET_PDEATHSIG) and is reaped on every path (SIGKILL after
 * PP_TIMEOUT_S, at once on an error path).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
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

#define PP_TIMEOUT_S 10.0      /* a peer silent this long: an error */
#define PP_SLEEP_NS 100000000L /* a futex sleep, between liveness checks */
#define PP_CHECK_SPINS 65536u  /* pauses between two liveness checks */

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
	int child_cpu;   /* the CPU the child pins itself to; -1: none */
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
pp_child_main(struct pp_state *s)
{
	int rc = 0;

	s->child = 0;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		rc = -errno;
	else if (getppid() != s->parent)
		rc = -ESRCH; /* the parent died before prctl */
	else if (s->child_cpu >= 0)
		rc = pin_to_cpu(s->child_cpu);
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

static int pp_one(void *arg)
{
	return pp_batch(arg, 1);
}

/* One floor: forks the peer (pinned to CPU 1, this process to CPU 0, when
 * both are usable; both to CPU 0 for PLACE_ONE_CPU; this process's
 * affinity is restored afterwards).  q[]: p50, p99, p99.9. */
static int pp_measure(const struct bench_ctx *ctx, enum pp_mode mode,
		      struct metric *m, struct stats q[3])
{
	struct pp_state s = {.mode = mode, .parent = getpid(),
			     .child_cpu = m->place == PLACE_SPLIT ? 1
				      : m->place == PLACE_ONE_CPU ? 0 : -1};
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
	restore = rc == 0 && m->place != PLACE_FREE;
	if (restore)
		rc = pin_to_cpu(0);
	if (rc == 0) {
		fflush(stdout);
		fflush(stderr);
		s.child = fork();
		if (s.child == 0)
			pp_child_main(&s);
		if (s.child < 0)
			rc = -errno;
	}
	if (rc == 0) {
		rc = measure_dist(ctx, pp_one, &s, q);
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
		     enum placement place, double *out)
{
	const char *stem = mode == PP_SPIN ? "spin_rtt"
			   : place == PLACE_ONE_CPU ? "futex_rtt_1cpu" : "futex_rtt";
	struct metric m = {
		.unit = UNIT_NS, .procs = 2, .place = place,
		.pinned = place == PLACE_FREE ? -1 : 1,
		.note = mode == PP_FUTEX
			? "ping-pong of a counter between 2 forked processes "
			  "on a MAP_SHARED anonymous page: each side sleeps in "
			  "FUTEX_WAIT (shared) and wakes the other with "
			  "FUTEX_WAKE; per-round-trip samples"
			: "ping-pong of a counter between 2 forked processes "
			  "on a MAP_SHARED anonymous page: each side spins on "
			  "the word (pause); per-round-trip samples",
	};
	struct stats q[3];
	int rc;

	if (!wanted(ctx, stem))
		return 0;
	rc = pp_measure(ctx, mode, &m, q);
	if (rc < 0)
		return emit_error(ctx, stem, 0, rc);
	if (out)
		*out = q[0].median;
	emit_dist(ctx, &m, stem, q);
	return 0;
}

/* ---- first touch of fresh shared pages ------------------------------ */

#define FT_BYTES (16u << 20)

static int ft_batch(void *arg, uint64_t n)
{
	long page = *(long *)arg;

	for (uint64_t done = 0; done < n; done += FT_BYTES / (uint64_t)page) {
		int fd = memfd_create("shoal-bench-touch", MFD_CLOEXEC);
		char *p;
		int rc = 0;

		if (fd < 0)
			return -errno;
		if (ftruncate(fd, FT_BYTES) < 0)
			rc = -errno;
		p = rc ? MAP_FAILED : mmap(NULL, FT_BYTES, PROT_READ | PROT_WRITE,
					   MAP_SHARED, fd, 0);
		if (rc == 0 && p == MAP_FAILED)
			rc = -errno;
		close(fd);
		if (rc < 0)
			return rc;
		for (size_t off = 0; off < FT_BYTES; off += (size_t)page)
			((volatile char *)p)[off] = 1;
		munmap(p, FT_BYTES);
	}
	return 0;
}

static int first_touch(const struct bench_ctx *ctx)
{
	long page = sysconf(_SC_PAGESIZE);
	struct workload w = {ft_batch, &page, 0, 0, UNIT_NS};
	struct metric m = {
		.name = "shm_first_touch_ns", .unit = UNIT_NS, .place = PLACE_FREE,
		.size = FT_BYTES,
		.note = "first write to each page of a fresh 16 MiB memfd "
			"mapping (MAP_SHARED): the fault and the zeroing; "
			"memfd_create, ftruncate, mmap, munmap included; ns "
			"per page",
	};
	int rc;

	if (!wanted(ctx, m.name))
		return 0;
	if (page <= 0)
		return emit_error(ctx, m.name, 0, -EINVAL);
	w.batch_ops = FT_BYTES / (uint64_t)page;
	rc = measure(ctx, &w, 1, &m.st);
	if (rc < 0)
		return emit_error(ctx, m.name, 0, rc);
	add_extra(&m, "page_bytes", (double)page);
	emit(ctx, &m);
	return 0;
}

int family_floors(const struct bench_ctx *ctx)
{
	enum placement split = ctx->pin ? PLACE_SPLIT : PLACE_FREE;
	int rc[4] = {
		floor_one(ctx, PP_FUTEX, split, &ctx->floors->futex_rtt_ns),
		ctx->pin ? floor_one(ctx, PP_FUTEX, PLACE_ONE_CPU, NULL) : 0,
		floor_one(ctx, PP_SPIN, split, &ctx->floors->spin_rtt_ns),
		first_touch(ctx),
	};

	for (int i = 0; i < 4; i++)
		if (rc[i] < 0)
			return rc[i];
	return 0;
}
