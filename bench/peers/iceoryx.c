/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/iceoryx.c - the iceoryx family: zero-copy shared-memory
 * publish/subscribe (Eclipse iceoryx, its C binding), against shoal's
 * actor call round trips and its create / seal / get.  Needs a running
 * iox-roudi (bench/run starts one with bench/peers/roudi.toml); without
 * --iceoryx the family says it skipped.
 *
 *   iceoryx_rtt_busy_*     the driver publishes an 8-byte ping (loan,
 *                          write, publish), the echo takes it and
 *                          publishes the same 8 bytes back on a second
 *                          service; both busy-poll iox_sub_take_chunk:
 *                          against actor_call_rtt_spin_*; CPUs 0 and 1
 *                          only (on one CPU a busy-poller waits for the
 *                          scheduler's slice)
 *   iceoryx_rtt_waitset_*  the same, both sides sleeping in a WaitSet
 *                          (iox_ws_timed_wait on the subscriber's
 *                          HAS_DATA state): against actor_call_rtt_sleep_*;
 *                          also both on CPU 0 (_1cpu)
 *   iceoryx_loan_gigabytes_1MiB  in one process: loan a 1 MiB chunk,
 *                          memcpy 1 MiB into it, publish, take it on a
 *                          subscriber, read a byte, release; GB/s: against
 *                          create_seal_get_gigabytes_1MiB (the object
 *                          stays cached) and
 *                          create_seal_get_delete_gigabytes_1MiB (its
 *                          block recycled, as the chunk is)
 *
 * Processes.  A runtime (iox_runtime_init) is one per process and its
 * library keeps threads, so nothing of iceoryx ever runs in shoal-bench's
 * own process: for each metric it forks the echo (peer_start: placed) and
 * a driver (this process's placement), each initialising its own runtime;
 * the driver measures and writes its stats to a pipe, which this process
 * reads (end of file if the driver dies).  The driver ends the echo with
 * a ping of 0; both check their parent (getppid) and give up after
 * PEER_TIMEOUT_S without a message; both die with shoal-bench
 * (PR_SET_PDEATHSIG); both end with exit() (ix_exit).  Their stdout is
 * their stderr: iceoryx logs on stdout, which is shoal-bench's results.  Service names carry shoal-bench's pid, so that two
 * runs on one RouDi never meet.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "families.h"
#include "peer.h"

#if BENCH_HAVE_ICEORYX
/* runtime.h declares iox_runtime_shutdown() without (void) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>
#include <iceoryx_binding_c/wait_set.h>
#pragma GCC diagnostic pop

#define IX_LOAN (1u << 20)
#define IX_HANDSHAKE_NS 10000000L /* a handshake ping every 10 ms */

enum ix_mode { IX_BUSY, IX_WAITSET, IX_LOAN_MODE };

struct ix_state {
	enum ix_mode mode;
	pid_t bench;                /* shoal-bench's pid: names, liveness */
	char instance[32];
	iox_pub_storage_t pub_storage;
	iox_sub_storage_t sub_storage;
	iox_ws_storage_t ws_storage;
	iox_pub_t pub;
	iox_sub_t sub;
	iox_ws_t ws;
	uint64_t seq;
	const uint8_t *src;         /* loan: the bytes copied in */
	uint64_t sink;
};

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* The runtime and a publisher on `out`, a subscriber on `in` (and a
 * WaitSet on it in IX_WAITSET mode); `who` names the runtime. */
static void ix_open(struct ix_state *s, const char *who, const char *out,
		    const char *in)
{
	char name[64];
	iox_pub_options_t po;
	iox_sub_options_t so;

	snprintf(name, sizeof name, "shoal-bench-%s-%d", who, (int)getpid());
	dup2(STDERR_FILENO, STDOUT_FILENO); /* iceoryx logs on stdout */
	iox_set_loglevel(Iceoryx_LogLevel_Warn);
	/* iox_runtime_init waits for RouDi without a bound of ours: SIGALRM
	 * (default action: end the process) bounds it, and the process's
	 * parent sees an end of file or a dead child */
	alarm(PEER_TIMEOUT_S);
	iox_runtime_init(name);
	alarm(0);
	snprintf(s->instance, sizeof s->instance, "%d", (int)s->bench);
	iox_pub_options_init(&po);
	po.historyCapacity = 0;
	s->pub = iox_pub_init(&s->pub_storage, "shoal-bench", s->instance, out,
			      &po);
	iox_sub_options_init(&so);
	so.queueCapacity = 16;
	so.historyRequest = 0;
	s->sub = iox_sub_init(&s->sub_storage, "shoal-bench", s->instance, in,
			      &so);
	s->ws = NULL;
	if (s->mode == IX_WAITSET) {
		s->ws = iox_ws_init(&s->ws_storage);
		iox_ws_attach_subscriber_state(s->ws, s->sub,
					       SubscriberState_HAS_DATA, 0, NULL);
	}
}

/* Ends a process that initialised a runtime: exit(), not _exit(), so
 * that the runtime's static destructor tells RouDi this process is gone
 * (RouDi, stopping, otherwise tries to kill a registered process that no
 * longer exists, fails an assertion and leaves its /dev/shm files). */
static void __attribute__((noreturn)) ix_exit(int rc)
{
	exit(rc < 0 ? 1 : 0);
}

static void ix_close(struct ix_state *s)
{
	if (s->ws) {
		iox_ws_detach_subscriber_state(s->ws, s->sub,
					       SubscriberState_HAS_DATA);
		iox_ws_deinit(s->ws);
	}
	iox_sub_deinit(s->sub);
	iox_pub_deinit(s->pub);
	iox_runtime_shutdown();
}

static int ix_send(struct ix_state *s, uint64_t v)
{
	void *chunk;

	if (iox_pub_loan_chunk(s->pub, &chunk, sizeof v) != AllocationResult_SUCCESS)
		return -ENOMEM;
	memcpy(chunk, &v, sizeof v);
	iox_pub_publish_chunk(s->pub, chunk);
	return 0;
}

/* The next message: 0 and *v, or -ETIMEDOUT after PEER_TIMEOUT_S of
 * nothing, or -ESRCH when shoal-bench went.  Busy-polls, or sleeps in
 * the WaitSet (one-second slices between liveness checks). */
static int ix_recv(struct ix_state *s, uint64_t *v)
{
	double deadline = 0;
	uint32_t spins = 0;

	for (;;) {
		const void *chunk;

		if (iox_sub_take_chunk(s->sub, &chunk) == ChunkReceiveResult_SUCCESS) {
			memcpy(v, chunk, sizeof *v);
			iox_sub_release_chunk(s->sub, chunk);
			return 0;
		}
		if (s->mode == IX_WAITSET) {
			iox_notification_info_t info[1];
			uint64_t missed;
			struct timespec slice = {1, 0};

			iox_ws_timed_wait(s->ws, slice, info, 1, &missed);
		} else if (++spins % 65536) {
			cpu_relax();
			continue;
		}
		if (getppid() != s->bench)
			return -ESRCH;
		if (deadline == 0)
			deadline = now_s() + PEER_TIMEOUT_S;
		else if (now_s() > deadline)
			return -ETIMEDOUT;
	}
}

/* The echo: answers each ping with the same value until a 0. */
static int ix_echo(void *arg)
{
	struct ix_state *s = arg;
	int rc;

	ix_open(s, "echo", "pong", "ping");
	for (;;) {
		uint64_t v;

		rc = ix_recv(s, &v);
		if (rc < 0 || v == 0)
			break;
		rc = ix_send(s, v);
		if (rc < 0)
			break;
	}
	ix_close(s);
	ix_exit(rc);
}

/* Until the echo answers: a ping of 1 every 10 ms, then drains the
 * extra pongs of 1.  Bounded by PEER_TIMEOUT_S. */
static int ix_handshake(struct ix_state *s)
{
	const struct timespec gap = {0, IX_HANDSHAKE_NS};
	double deadline = now_s() + PEER_TIMEOUT_S;
	const void *chunk;
	bool answered = false;

	while (!answered && now_s() < deadline) {
		int rc = ix_send(s, 1);

		if (rc < 0)
			return rc;
		nanosleep(&gap, NULL);
		while (iox_sub_take_chunk(s->sub, &chunk) == ChunkReceiveResult_SUCCESS) {
			iox_sub_release_chunk(s->sub, chunk);
			answered = true;
		}
	}
	nanosleep(&gap, NULL);
	while (iox_sub_take_chunk(s->sub, &chunk) == ChunkReceiveResult_SUCCESS)
		iox_sub_release_chunk(s->sub, chunk);
	s->seq = 1;
	return answered ? 0 : -ETIMEDOUT;
}

static int ix_round_trip(void *arg)
{
	struct ix_state *s = arg;
	uint64_t v = 0, want = ++s->seq;
	int rc = ix_send(s, want);

	while (rc == 0 && v != want) /* a late pong of the handshake: skip */
		rc = ix_recv(s, &v);
	return rc;
}

/* Loan 1 MiB, fill it, publish; take it, read it, release: n times. */
static int ix_loan_batch(void *arg, uint64_t n)
{
	struct ix_state *s = arg;

	for (uint64_t i = 0; i < n; i++) {
		const void *in;
		void *chunk;

		if (iox_pub_loan_chunk(s->pub, &chunk, IX_LOAN) != AllocationResult_SUCCESS)
			return -ENOMEM;
		memcpy(chunk, s->src, IX_LOAN);
		iox_pub_publish_chunk(s->pub, chunk);
		if (iox_sub_take_chunk(s->sub, &in) != ChunkReceiveResult_SUCCESS)
			return -EPROTO;
		s->sink += ((const volatile uint8_t *)in)[IX_LOAN - 1];
		iox_sub_release_chunk(s->sub, in);
	}
	return 0;
}

/* What the driver sends back: its rc and up to three stats. */
struct ix_result {
	int rc;
	struct stats q[3];
};

static int ix_loan_measure(const struct bench_ctx *ctx, struct ix_state *s,
			   struct stats *st)
{
	struct workload w = {ix_loan_batch, s, 1, IX_LOAN, UNIT_GBPS};
	double deadline = now_s() + PEER_TIMEOUT_S;
	uint8_t *src = malloc(IX_LOAN);
	const void *in;
	int rc = src ? 0 : -ENOMEM;

	if (src)
		memset(src, 0xa5, IX_LOAN);
	s->src = src;
	/* until the subscriber is connected: a published chunk arrives */
	while (rc == 0) {
		rc = ix_send(s, 1);
		if (rc == 0 && iox_sub_take_chunk(s->sub, &in) == ChunkReceiveResult_SUCCESS) {
			iox_sub_release_chunk(s->sub, in);
			break;
		}
		if (now_s() > deadline)
			rc = -ETIMEDOUT;
		usleep(10000);
	}
	while (iox_sub_take_chunk(s->sub, &in) == ChunkReceiveResult_SUCCESS)
		iox_sub_release_chunk(s->sub, in);
	if (rc == 0)
		rc = measure(ctx, &w, 1, st);
	free(src);
	s->src = NULL;
	return rc;
}

/* The driver: measures, writes an ix_result to fd, stops the echo. */
static int ix_driver(const struct bench_ctx *ctx, struct ix_state *s, int fd)
{
	struct ix_result res = {0};

	if (s->mode == IX_LOAN_MODE) {
		ix_open(s, "loan", "loan", "loan");
		res.rc = ix_loan_measure(ctx, s, &res.q[0]);
	} else {
		ix_open(s, "driver", "ping", "pong");
		res.rc = ix_handshake(s);
		if (res.rc == 0)
			res.rc = measure_dist(ctx, ix_round_trip, s, res.q);
		ix_send(s, 0); /* the echo's stop */
	}
	ix_close(s);
	return peer_write_full(fd, &res, sizeof res);
}

/* Forks the driver (this process's placement); *res gets its result. */
static int ix_run_driver(const struct bench_ctx *ctx, struct ix_state *s,
			 struct ix_result *res)
{
	int fds[2], rc;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != s->bench)
			_exit(1);
		ix_exit(ix_driver(ctx, s, fds[1]));
	}
	close(fds[1]);
	rc = pid < 0 ? -errno : peer_read_full(fds[0], res, sizeof *res);
	close(fds[0]);
	if (pid > 0) {
		int r = reap_child(pid, true, true);

		rc = rc < 0 ? rc : r < 0 ? r : res->rc;
	}
	return rc;
}

static int ix_measure(const struct bench_ctx *ctx, enum ix_mode mode,
		      enum placement place, struct stats q[3])
{
	struct ix_state s = {.mode = mode, .bench = getpid()};
	struct ix_result res;
	struct peer_proc p;
	int rc, stop;

	if (mode == IX_LOAN_MODE) {
		rc = ix_run_driver(ctx, &s, &res);
		if (rc == 0)
			q[0] = res.q[0];
		return rc;
	}
	rc = peer_start(place, ix_echo, &s, &p);
	if (rc == 0)
		rc = ix_run_driver(ctx, &s, &res);
	stop = peer_stop(&p, rc < 0);
	if (rc == 0)
		memcpy(q, res.q, sizeof res.q);
	return rc < 0 ? rc : stop;
}

static int ix_rtt(const struct bench_ctx *ctx, enum ix_mode mode,
		  enum placement place)
{
	const char *stem = mode == IX_BUSY ? "iceoryx_rtt_busy"
			   : place == PLACE_ONE_CPU ? "iceoryx_rtt_waitset_1cpu"
			   : "iceoryx_rtt_waitset";
	struct metric m = {.procs = 2, .place = place, .size = 8,
			   .verdict = -1,
			   .note = mode == IX_BUSY
				? "8-byte ping and pong, each a loaned chunk "
				  "published on its own service; both sides "
				  "busy-poll iox_sub_take_chunk"
				: "8-byte ping and pong, each a loaned chunk "
				  "published on its own service; both sides "
				  "sleep in a WaitSet (HAS_DATA)"};
	struct stats q[3];
	int rc;

	if (!wanted(ctx, stem))
		return 0;
	rc = ix_measure(ctx, mode, place, q);
	if (rc < 0)
		return emit_error(ctx, stem, 0, rc);
	emit_dist(ctx, &m, stem, q);
	return 0;
}

static int ix_loan(const struct bench_ctx *ctx)
{
	struct metric m = {.name = "iceoryx_loan_gigabytes_1MiB",
			   .unit = UNIT_GBPS, .size = IX_LOAN,
			   .place = PLACE_FREE, .verdict = -1,
			   .note = "one process: loan a 1 MiB chunk, memcpy "
				   "1 MiB in, publish, take it on a subscriber, "
				   "read, release; GB/s"};
	struct stats q[3];
	int rc;

	if (!wanted(ctx, m.name))
		return 0;
	rc = ix_measure(ctx, IX_LOAN_MODE, PLACE_FREE, q);
	if (rc < 0)
		return emit_error(ctx, m.name, m.size, rc);
	m.st = q[0];
	emit(ctx, &m);
	return 0;
}

int family_iceoryx(const struct bench_ctx *ctx)
{
	int rc[4];

	if (!wanted(ctx, "iceoryx_rtt_busy") && !wanted(ctx, "iceoryx_rtt_waitset") &&
	    !wanted(ctx, "iceoryx_loan_gigabytes_1MiB"))
		return 0;
	if (!ctx->iceoryx)
		return emit_skip(ctx, "iceoryx", "no RouDi: --iceoryx not given "
				 "(bench/run starts iox-roudi)");
	rc[0] = ctx->pin ? ix_rtt(ctx, IX_BUSY, PLACE_SPLIT) : 0;
	rc[1] = ix_rtt(ctx, IX_WAITSET, peer_place(ctx, PLACE_SPLIT));
	rc[2] = ctx->pin ? ix_rtt(ctx, IX_WAITSET, PLACE_ONE_CPU) : 0;
	rc[3] = ix_loan(ctx);
	for (int i = 0; i < 4; i++)
		if (rc[i] < 0)
			return rc[i];
	return 0;
}

#else /* !BENCH_HAVE_ICEORYX */

int family_iceoryx(const struct bench_ctx *ctx)
{
	return emit_skip(ctx, "iceoryx", "built without iceoryx's C binding "
			 "(meson -Diceoryx; Debian: libiceoryx-binding-c-dev, "
			 "cmake)");
}

#endif
