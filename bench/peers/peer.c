/* SPDX-License-Identifier: MIT */
/*
 * bench/peers/peer.c - a placed second process and byte-stream helpers
 * for the peers of shoal-bench; peer.h states the rules.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "peer.h"

enum placement peer_place(const struct bench_ctx *ctx, enum placement want)
{
	return ctx->pin ? want : PLACE_FREE;
}

const char *peer_variant(enum placement place)
{
	return place == PLACE_ONE_CPU ? "1cpu" : NULL;
}

static int place_self(enum placement place, bool child)
{
	if (place == PLACE_SPLIT)
		return pin_to_cpu(child ? 1 : 0);
	if (place == PLACE_ONE_CPU)
		return pin_to_cpu(0);
	return 0;
}

int peer_start(enum placement place, int (*fn)(void *arg), void *arg,
	       struct peer_proc *p)
{
	pid_t parent = getpid();
	int rc = 0;

	p->pid = -1;
	p->place = place;
	p->restore = false;
	if (place != PLACE_FREE) {
		if (sched_getaffinity(0, sizeof p->saved, &p->saved) < 0)
			return -errno;
		p->restore = true;
		rc = place_self(place, false);
	}
	if (rc < 0)
		return rc;
	fflush(stdout);
	fflush(stderr);
	p->pid = fork();
	if (p->pid < 0)
		return -errno;
	if (p->pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(1); /* the parent died before prctl */
		rc = place_self(place, true);
		if (rc == 0)
			rc = fn(arg);
		_exit(rc < 0 ? 1 : 0);
	}
	return 0;
}

int peer_stop(struct peer_proc *p, bool failed)
{
	double deadline = now_s() + (failed ? 0 : PEER_TIMEOUT_S);
	int r = 0;

	if (p->pid > 0) {
		while ((r = reap_child(p->pid, false, !failed)) == 0 &&
		       now_s() < deadline)
			usleep(1000);
		if (r == 0) {
			kill(p->pid, SIGKILL); /* our own child, by pid */
			r = reap_child(p->pid, true, false);
			r = failed ? r : -ETIMEDOUT;
		}
		p->pid = -1;
	}
	if (p->restore)
		sched_setaffinity(0, sizeof p->saved, &p->saved);
	p->restore = false;
	return r < 0 && !failed ? r : 0;
}

int peer_write_full(int fd, const void *buf, size_t len)
{
	const char *b = buf;

	while (len) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

int peer_read_full(int fd, void *buf, size_t len)
{
	char *b = buf;

	while (len) {
		ssize_t n = read(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}
