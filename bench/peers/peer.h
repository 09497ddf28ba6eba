/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/peer.h - what the peers of shoal-bench share (peer.c): a
 * second process placed as the metric says, byte-stream helpers, and the
 * windowed one-way rate that every peer's rate metric follows.
 *
 * Placement.  PLACE_SPLIT pins this process to CPU 0 and the child to
 * CPU 1; PLACE_ONE_CPU pins both to CPU 0; without CPUs 0 and 1
 * (ctx->pin false) nothing is pinned and the line says "unpinned".  This
 * process's affinity is restored by peer_stop().
 *
 * The child dies with this process (PR_SET_PDEATHSIG), exits 0 when its
 * loop ends cleanly (its peer closed the channel or asked it to stop) and
 * 1 otherwise; peer_stop() waits PEER_TIMEOUT_S for it, then SIGKILLs it
 * (by pid), and reaps it on every path.  Every wait on the child is
 * bounded: on a byte stream by its end of file (the child's fds close
 * when it dies) or by PEER_TIMEOUT_S where the library has a timeout.
 */
#ifndef SHOAL_BENCH_PEER_H
#define SHOAL_BENCH_PEER_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench.h"

#define PEER_TIMEOUT_S 10      /* a silent peer: an error */
#define PEER_MSG 8u            /* bytes of a message: shoal's 8-byte results */
#define PEER_WINDOW 1000u      /* one-way rate: messages per acknowledged window */

struct peer_proc {
	pid_t pid;
	cpu_set_t saved;
	bool restore;
	enum placement place;
};

/* The placement a metric asking for `want` gets on this machine. */
enum placement peer_place(const struct bench_ctx *ctx, enum placement want);

/* Places this process, forks a child that places itself and runs
 * fn(arg) (exit 0 if it returns 0, 1 otherwise).  0 or -errno. */
int peer_start(enum placement place, int (*fn)(void *arg), void *arg,
	       struct peer_proc *p);

/* Waits for the child (PEER_TIMEOUT_S, or none if `failed`; then
 * SIGKILL), reaps it and restores this process's affinity.  0, or
 * -ECHILD if the child failed. */
int peer_stop(struct peer_proc *p, bool failed);

/* Whole reads and writes on a blocking fd: 0, -EPIPE at end of file,
 * or -errno. */
int peer_write_full(int fd, const void *buf, size_t len);
int peer_read_full(int fd, void *buf, size_t len);

/* The variant name of a placement: NULL (split or unpinned) or "1cpu". */
const char *peer_variant(enum placement place);

#endif /* SHOAL_BENCH_PEER_H */
