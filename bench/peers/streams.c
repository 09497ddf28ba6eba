/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/streams.c - the pipes and sockets families: what a
 * socket-based store (Plasma) or a hand-rolled worker pool pays per
 * operation between two processes, through the kernel.
 *
 *   pipe_rtt_*, unix_rtt_*   8 bytes there and 8 back, one write() and
 *                            one read() each way (two pipes; or one
 *                            AF_UNIX SOCK_STREAM socketpair); p50, p99
 *                            and p99.9 of per-round-trip samples
 *   pipe_oneway_rate, unix_oneway_rate   8-byte messages, one write()
 *                            each; the reader reads what is there (up to
 *                            64 KiB at once) and answers every 1000
 *                            messages with an 8-byte acknowledgement the
 *                            writer waits for: messages/s delivered, the
 *                            way 1_1_actor_calls_async counts windows of
 *                            1000 calls whose results came back
 *
 * Each metric in two placements: the processes on CPUs 0 and 1, and both
 * on CPU 0 (the _1cpu variants).  The echo child ends at end of file on
 * its input (this process closes its ends), or dies with this process.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "families.h"
#include "peer.h"

#define ST_READ_MAX 65536u

enum st_kind { ST_PIPE, ST_UNIX };
enum st_mode { ST_RTT, ST_RATE };

/* fds[0]: this process reads; fds[1]: it writes; fds[2], fds[3]: the
 * child's read and write ends (the same socket twice for ST_UNIX). */
struct st_chan {
	enum st_kind kind;
	enum st_mode mode;
	int fds[4];
	uint64_t seq;
};

static void st_close(struct st_chan *c, int from, int to)
{
	for (int i = from; i < to; i++) {
		if (c->fds[i] >= 0 &&
		    !(c->kind == ST_UNIX && (i == 1 || i == 3)))
			close(c->fds[i]);
		c->fds[i] = -1;
	}
}

static int st_open(struct st_chan *c)
{
	int a[2], b[2];

	for (int i = 0; i < 4; i++)
		c->fds[i] = -1;
	if (c->kind == ST_UNIX) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) < 0)
			return -errno;
		c->fds[0] = c->fds[1] = a[0];
		c->fds[2] = c->fds[3] = a[1];
		return 0;
	}
	if (pipe2(a, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(b, O_CLOEXEC) < 0) {
		int rc = -errno;

		close(a[0]);
		close(a[1]);
		return rc;
	}
	c->fds[0] = b[0]; /* child -> us */
	c->fds[1] = a[1]; /* us -> child */
	c->fds[2] = a[0];
	c->fds[3] = b[1];
	return 0;
}

/* The child: echo each 8-byte message, or count bytes and acknowledge
 * every window; ends at end of file. */
static int st_child(void *arg)
{
	struct st_chan *c = arg;
	char buf[ST_READ_MAX]; /* 64 KiB on the child's stack */
	uint64_t bytes = 0, window = (uint64_t)PEER_WINDOW * PEER_MSG;
	int rd, wr;

	st_close(c, 0, 2);
	rd = c->fds[2];
	wr = c->fds[3];
	for (;;) {
		ssize_t n;
		int rc;

		if (c->mode == ST_RTT) {
			rc = peer_read_full(rd, buf, PEER_MSG);
			if (rc == -EPIPE)
				return 0;
			if (rc == 0)
				rc = peer_write_full(wr, buf, PEER_MSG);
			if (rc < 0)
				return rc;
			continue;
		}
		n = read(rd, buf, sizeof buf);
		if (n == 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
		bytes += n > 0 ? (uint64_t)n : 0;
		while (bytes >= window) {
			bytes -= window;
			rc = peer_write_full(wr, &bytes, sizeof bytes);
			if (rc < 0)
				return rc;
		}
	}
}

static int st_round_trip(void *arg)
{
	struct st_chan *c = arg;
	uint64_t out = ++c->seq, in;
	int rc = peer_write_full(c->fds[1], &out, sizeof out);

	if (rc == 0)
		rc = peer_read_full(c->fds[0], &in, sizeof in);
	return rc < 0 ? rc : in == out ? 0 : -EPROTO;
}

/* n messages, in windows of PEER_WINDOW, each acknowledged. */
static int st_rate_batch(void *arg, uint64_t n)
{
	struct st_chan *c = arg;

	for (uint64_t i = 0; i < n; i += PEER_WINDOW) {
		uint64_t ack;
		int rc = 0;

		for (uint32_t k = 0; k < PEER_WINDOW && rc == 0; k++) {
			uint64_t msg = ++c->seq;

			rc = peer_write_full(c->fds[1], &msg, sizeof msg);
		}
		if (rc == 0)
			rc = peer_read_full(c->fds[0], &ack, sizeof ack);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int st_measure(const struct bench_ctx *ctx, struct st_chan *c,
		      enum placement place, struct stats q[3])
{
	struct workload w = {st_rate_batch, c, PEER_WINDOW, 0, UNIT_OPS};
	struct peer_proc p;
	int rc = st_open(c), stop;

	if (rc < 0)
		return rc;
	rc = peer_start(place, st_child, c, &p);
	st_close(c, 2, 4);
	if (rc == 0 && c->mode == ST_RTT)
		rc = measure_dist(ctx, st_round_trip, c, q);
	else if (rc == 0)
		rc = measure(ctx, &w, 1, &q[0]);
	st_close(c, 0, 2); /* end of file for the child */
	stop = peer_stop(&p, rc < 0);
	return rc < 0 ? rc : stop;
}

static int st_family(const struct bench_ctx *ctx, enum st_kind kind)
{
	static const enum placement places[2] = {PLACE_SPLIT, PLACE_ONE_CPU};
	const char *sys = kind == ST_PIPE ? "pipe" : "unix";
	int err = 0;

	for (int k = 0; k < 2; k++) {
		enum placement place = peer_place(ctx, places[k]);
		const char *var = peer_variant(place);
		char stem[64], rate[64];
		struct st_chan c = {.kind = kind};
		struct stats q[3];
		struct metric m = {.procs = 2, .place = place, .variant = var,
				   .verdict = -1, .size = PEER_MSG};
		int rc;

		if (k == 1 && place == PLACE_FREE)
			break; /* not pinned: one placement only */
		snprintf(stem, sizeof stem, "%s_rtt%s%s", sys, var ? "_" : "",
			 var ? var : "");
		snprintf(rate, sizeof rate, "%s_oneway_rate", sys);
		m.note = kind == ST_PIPE
			? "8 bytes there and back over two pipes, one write() "
			  "and one read() each way; per-round-trip samples"
			: "8 bytes there and back over an AF_UNIX SOCK_STREAM "
			  "socketpair, one write() and one read() each way; "
			  "per-round-trip samples";
		if (wanted(ctx, stem)) {
			c.mode = ST_RTT;
			rc = st_measure(ctx, &c, place, q);
			m.variant = NULL;
			if (rc < 0)
				err = emit_error(ctx, stem, 0, rc);
			else
				emit_dist(ctx, &m, stem, q);
		}
		if (wanted(ctx, rate)) {
			c.mode = ST_RATE;
			rc = st_measure(ctx, &c, place, q);
			m.name = rate;
			m.variant = var;
			m.unit = UNIT_OPS;
			m.st = q[0];
			m.note = "8-byte messages, one write() each, in windows "
				 "of 1000 that the reader (bulk reads) "
				 "acknowledges; messages/s delivered";
			if (rc < 0)
				err = emit_error(ctx, rate, 0, rc);
			else
				emit(ctx, &m);
		}
	}
	return err;
}

int family_pipes(const struct bench_ctx *ctx)
{
	return st_family(ctx, ST_PIPE);
}

int family_sockets(const struct bench_ctx *ctx)
{
	return st_family(ctx, ST_UNIX);
}
