/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/zmq.c - the zmq family: ZeroMQ (libzmq's C API) between two
 * processes over ipc:// (a Unix socket in a mktemp directory, removed on
 * every path), the messaging library a C programmer would reach for.
 *
 *   zmq_req_rep_rtt_*        REQ sends 8 bytes, REP answers 8: per round
 *                            trip samples, p50 / p99 / p99.9; against
 *                            shoal's actor call round trips (sync calls)
 *   zmq_push_pull_rate       PUSH sends 8-byte messages, PULL receives
 *                            them one by one and answers every 1000th on
 *                            a second PUSH/PULL pair, which the sender
 *                            waits for: messages/s delivered, counted as
 *                            1_1_actor_calls_async counts windows of 1000
 *                            calls whose results came back
 *
 * Each in two placements, processes on CPUs 0 and 1 or both on CPU 0
 * (_1cpu).  Every receive has a ZMQ_RCVTIMEO of PEER_TIMEOUT_S, so a dead
 * peer is an error, not a hang; ZMQ_LINGER 0, so that closing never waits.
 * Each process makes its own zmq context after the fork (a context is
 * never shared across fork).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "families.h"
#include "peer.h"

#if BENCH_HAVE_ZMQ
#include <zmq.h>

enum zq_mode { ZQ_RTT, ZQ_RATE };

struct zq_state {
	enum zq_mode mode;
	char ep[2][160];     /* endpoints: requests / data, replies / acks */
	void *zctx;
	void *out, *in;      /* this side's sockets (in: NULL for REQ/REP) */
	uint64_t seq;
	int ready[2];        /* a pipe: this process's sockets are bound */
};

static int zq_err(void)
{
	return errno == EAGAIN ? -ETIMEDOUT : -errno;
}

/* A socket of `type`, bound or connected to ep, with bounded waits. */
static void *zq_socket(void *zctx, int type, const char *ep, bool bind, int *rc)
{
	int timeout = PEER_TIMEOUT_S * 1000, zero = 0;
	void *s = zmq_socket(zctx, type);

	*rc = 0;
	if (!s) {
		*rc = -errno;
		return NULL;
	}
	if (zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof timeout) ||
	    zmq_setsockopt(s, ZMQ_SNDTIMEO, &timeout, sizeof timeout) ||
	    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) ||
	    (bind ? zmq_bind(s, ep) : zmq_connect(s, ep))) {
		*rc = -errno;
		zmq_close(s);
		return NULL;
	}
	return s;
}

static void zq_close(struct zq_state *z)
{
	if (z->out)
		zmq_close(z->out);
	if (z->in)
		zmq_close(z->in);
	if (z->zctx)
		zmq_ctx_term(z->zctx);
	z->out = z->in = z->zctx = NULL;
}

/* This process's or the child's sockets: REQ (this) / REP (child), or
 * PUSH data + PULL acks (this) / PULL data + PUSH acks (child).  This
 * process binds, then tells the child (the ready pipe), which connects:
 * no connect waits for a bind (zmq would retry every 100 ms). */
static int zq_open(struct zq_state *z, bool child)
{
	int rc = 0;

	z->zctx = zmq_ctx_new();
	if (!z->zctx)
		return -errno;
	if (z->mode == ZQ_RTT) {
		z->out = zq_socket(z->zctx, child ? ZMQ_REP : ZMQ_REQ, z->ep[0],
				   !child, &rc);
	} else {
		z->out = zq_socket(z->zctx, ZMQ_PUSH, z->ep[child ? 1 : 0],
				   !child, &rc);
		if (rc == 0)
			z->in = zq_socket(z->zctx, ZMQ_PULL,
					  z->ep[child ? 0 : 1], !child, &rc);
	}
	if (rc < 0)
		zq_close(z);
	return rc;
}

/* The child: echo (REP), or count and acknowledge every window.  Ends on
 * a message of 0 (the stop). */
static int zq_child(void *arg)
{
	struct zq_state *z = arg;
	uint64_t msg, count = 0;
	char go;
	int rc;

	close(z->ready[1]);
	rc = peer_read_full(z->ready[0], &go, 1); /* EOF: the parent failed */
	close(z->ready[0]);
	if (rc == 0)
		rc = zq_open(z, true);

	while (rc == 0) {
		void *in = z->mode == ZQ_RTT ? z->out : z->in;

		if (zmq_recv(in, &msg, sizeof msg, 0) != sizeof msg) {
			rc = zq_err();
			break;
		}
		if (msg == 0)
			break;
		if (z->mode == ZQ_RATE && ++count % PEER_WINDOW)
			continue;
		if (zmq_send(z->out, &msg, sizeof msg, 0) != sizeof msg)
			rc = zq_err();
	}
	zq_close(z);
	return rc;
}

static int zq_round_trip(void *arg)
{
	struct zq_state *z = arg;
	uint64_t out = ++z->seq, in = 0;

	if (zmq_send(z->out, &out, sizeof out, 0) != sizeof out ||
	    zmq_recv(z->out, &in, sizeof in, 0) != sizeof in)
		return zq_err();
	return in == out ? 0 : -EPROTO;
}

static int zq_rate_batch(void *arg, uint64_t n)
{
	struct zq_state *z = arg;

	for (uint64_t i = 0; i < n; i += PEER_WINDOW) {
		uint64_t ack;

		for (uint32_t k = 0; k < PEER_WINDOW; k++) {
			uint64_t msg = ++z->seq;

			if (zmq_send(z->out, &msg, sizeof msg, 0) != sizeof msg)
				return zq_err();
		}
		if (zmq_recv(z->in, &ack, sizeof ack, 0) != sizeof ack)
			return zq_err();
		if (ack != z->seq)
			return -EPROTO;
	}
	return 0;
}

/* Tells the child to stop: a 0 on the request / data socket (for REQ,
 * the REP side does not answer it; the socket closes right after).  A
 * blocking send, bounded by ZMQ_SNDTIMEO: with ZMQ_DONTWAIT it failed
 * (EAGAIN) now and then, the pipe's credit from the reader's last
 * window not back yet, and the child waited for a stop that never came. */
static void zq_stop(struct zq_state *z)
{
	uint64_t zero = 0;

	if (z->out)
		zmq_send(z->out, &zero, sizeof zero, 0);
}

static int zq_measure(const struct bench_ctx *ctx, struct zq_state *z,
		      const char *dir, enum placement place, struct stats q[3])
{
	struct workload w = {zq_rate_batch, z, PEER_WINDOW, 0, UNIT_OPS};
	struct peer_proc p;
	int rc, stop;

	/* endpoints of their own: no socket file of an earlier child */
	snprintf(z->ep[0], sizeof z->ep[0], "ipc://%s/%d-%d-a", dir, z->mode, place);
	snprintf(z->ep[1], sizeof z->ep[1], "ipc://%s/%d-%d-b", dir, z->mode, place);
	if (pipe2(z->ready, O_CLOEXEC) < 0)
		return -errno;
	rc = peer_start(place, zq_child, z, &p);
	close(z->ready[0]);
	if (rc == 0)
		rc = zq_open(z, false);
	if (rc == 0)
		rc = peer_write_full(z->ready[1], "", 1);
	close(z->ready[1]);
	if (rc == 0 && z->mode == ZQ_RTT)
		rc = measure_dist(ctx, zq_round_trip, z, q);
	else if (rc == 0)
		rc = measure(ctx, &w, 1, &q[0]);
	zq_stop(z);
	stop = peer_stop(&p, rc < 0);
	zq_close(z);
	return rc < 0 ? rc : stop;
}

/* Removes the endpoints' socket files and their directory. */
static void rm_socket_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	rmdir(dir);
}

static int zq_place(const struct bench_ctx *ctx, const char *dir,
		    enum placement place)
{
	const char *var = peer_variant(place);
	char stem[64];
	struct metric m = {.procs = 2, .place = place, .size = PEER_MSG,
			   .verdict = -1,
			   .note = "REQ/REP over ipc://, 8 bytes each way; "
				   "per-round-trip samples"};
	struct stats q[3];
	int rc, err = 0;

	snprintf(stem, sizeof stem, "zmq_req_rep_rtt%s%s", var ? "_" : "",
		 var ? var : "");
	if (wanted(ctx, stem)) {
		struct zq_state z = {.mode = ZQ_RTT};

		rc = zq_measure(ctx, &z, dir, place, q);
		if (rc < 0)
			err = emit_error(ctx, stem, 0, rc);
		else
			emit_dist(ctx, &m, stem, q);
	}
	if (wanted(ctx, "zmq_push_pull_rate")) {
		struct zq_state z = {.mode = ZQ_RATE};

		rc = zq_measure(ctx, &z, dir, place, q);
		m.name = "zmq_push_pull_rate";
		m.variant = var;
		m.unit = UNIT_OPS;
		m.st = q[0];
		m.note = "PUSH/PULL over ipc://, 8-byte messages in windows of "
			 "1000, the receiver acknowledging each window on a "
			 "second PUSH/PULL pair; messages/s delivered";
		if (rc < 0)
			err = emit_error(ctx, m.name, 0, rc);
		else
			emit(ctx, &m);
	}
	return err;
}

int family_zmq(const struct bench_ctx *ctx)
{
	char dir[] = "/tmp/shoal-bench-zmq-XXXXXX";
	int err;

	if (!wanted(ctx, "zmq_req_rep_rtt") && !wanted(ctx, "zmq_push_pull_rate"))
		return 0;
	if (!mkdtemp(dir))
		return emit_error(ctx, "zmq", 0, -errno);
	err = zq_place(ctx, dir, peer_place(ctx, PLACE_SPLIT));
	if (ctx->pin) {
		int rc = zq_place(ctx, dir, PLACE_ONE_CPU);

		err = err < 0 ? err : rc;
	}
	rm_socket_dir(dir);
	return err;
}

#else /* !BENCH_HAVE_ZMQ */

int family_zmq(const struct bench_ctx *ctx)
{
	if (!wanted(ctx, "zmq_req_rep_rtt") && !wanted(ctx, "zmq_push_pull_rate"))
		return 0;
	return emit_skip(ctx, "zmq", "built without libzmq (meson -Dzmq; "
			 "Debian: libzmq3-dev)");
}

#endif
