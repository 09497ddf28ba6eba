/* SPDX-License-Identifier: MIT */
/*
 * runtime/fsproto.c - the fork server's protocol, the requester's side and
 * what both sides share (fsproto.h).  A requester connects its socket to
 * the fork server's address, so the kernel delivers it nothing from
 * anyone else (no forged reply), and matches its request's random nonce
 * in the reply; every wait is bounded (SHOAL__FS_REPLY_MS) and probes the
 * fork server every SHOAL__FS_SLICE_MS (life.c), so a dead fork server
 * ends the call with the runtime's end code.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "ext.h"
#include "fsproto.h"
#include "rt.h"

socklen_t shoal__fs_addr(pid_t pid, uint64_t key, struct sockaddr_un *a)
{
	int n;

	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, SHOAL__FS_SOCK_FMT,
		     (int)pid, (unsigned long long)key);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* 64 random bits (the kernel's; the clock's if it has none to give). */
uint64_t shoal__fs_random(void)
{
	uint64_t v;
	struct timespec ts;

	if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v)
		return v;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^
	       ((uint64_t)getpid() << 48);
}

/* Waits for the fork server's answer on fd: up to SHOAL__FS_REPLY_MS, in
 * slices after each of which it probes the runtime (end.c), so that the
 * fork server's death, or the runtime's end, ends the wait at once.  Both
 * are needed: a fork server that ends the runtime (shutdown, the driver's
 * death) exits without answering what is still queued, after it unmapped
 * the segment, so its robust mutex never says it died. */
static int shoal__fs_reply(struct shoal_runtime *rt, int fd, struct shoal__fs_msg *m)
{
	struct shoal__deadline d = shoal__deadline_in(SHOAL__FS_REPLY_MS);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint64_t nonce = m->nonce;
	struct shoal__fs_msg got;
	ssize_t n;
	int r;

	for (;;) {
		r = poll(&p, 1, SHOAL__FS_SLICE_MS);
		if (r < 0 && errno != EINTR)
			return -errno;
		/* Connected: only the fork server's datagrams arrive; one that
		 * is not the answer to this request (its nonce) is skipped. */
		n = r > 0 ? recv(fd, &got, sizeof got, MSG_DONTWAIT) : 0;
		if (n == (ssize_t)sizeof got && got.op == SHOAL__FS_REPLY &&
		    got.nonce == nonce) {
			*m = got;
			return m->rc;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			poll(NULL, 0, SHOAL__FS_SLICE_MS); /* the peer went: a
							    * slice, then the probe */
		if (atomic_load_explicit(&rt->v.hdr->ended, memory_order_acquire) ||
		    shoal__rt_fs_dead(&rt->v)) /* END-A1, END-A2 */
			return shoal__rt_ended(rt);
		if (shoal__deadline_passed(d))
			return -ETIMEDOUT;
	}
}

int shoal__fs_call(struct shoal_runtime *rt, struct shoal__fs_msg *m)
{
	struct sockaddr_un to, me = {.sun_family = AF_UNIX};
	/* FS-A1: pairs with the fork server's release of fs_pid (FS-R1),
	 * after its key and token, which are then read relaxed. */
	pid_t fs = atomic_load_explicit(&rt->v.hdr->fs_pid, memory_order_acquire);
	uint64_t key = atomic_load_explicit(&rt->v.hdr->fs_key, memory_order_relaxed);
	socklen_t len = shoal__fs_addr(fs, key, &to);
	int rc, fd;

	if (fs <= 0)
		return -ESRCH;
	m->nonce = shoal__fs_random();
	m->token = atomic_load_explicit(&rt->v.hdr->fs_token, memory_order_relaxed);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Autobind: the fork server answers to this abstract address;
	 * connected to the fork server's, it takes datagrams from no one
	 * else. */
	if (bind(fd, (struct sockaddr *)&me, sizeof(sa_family_t)) ||
	    connect(fd, (struct sockaddr *)&to, len) ||
	    send(fd, m, sizeof *m, 0) != (ssize_t)sizeof *m) {
		rc = errno == ECONNREFUSED || errno == ENOENT ? -ESRCH : -errno;
		close(fd);
		return rc;
	}
	rc = shoal__fs_reply(rt, fd, m);
	close(fd);
	return rc;
}
