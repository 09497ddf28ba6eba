/* SPDX-License-Identifier: MIT */
/*
 * runtime/fsproto.h - the fork server's protocol, the one file both ends
 * use: the driver's control socket (SOCK_SEQPACKET: hello, spawn,
 * shutdown, replies) and the actor socket (datagrams from any process of
 * the runtime: create, kill).  proc/ has the fork server's end
 * (forkserver.c, fsactor.c); any folder may ask (fsproto.c), an actor's
 * create among them (actor/actor.c).
 */
#ifndef SHOAL_RUNTIME_FSPROTO_H
#define SHOAL_RUNTIME_FSPROTO_H

#if !defined(SHOAL__LAYER_RUNTIME) && !defined(SHOAL__WHITEBOX)
#error "runtime/fsproto.h is private to runtime/"
#endif

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <shoal/actor.h>

/* Messages on the driver <-> fork server socket (SOCK_SEQPACKET). */
enum shoal__fs_op {
	SHOAL__FS_HELLO = 1,    /* fork server -> driver: pid = its pid */
	SHOAL__FS_SPAWN = 2,    /* driver -> fork server: start worker index */
	SHOAL__FS_SHUTDOWN = 3, /* driver -> fork server: stop everything */
	SHOAL__FS_REPLY = 4,    /* fork server -> driver: rc, pid */
	/* Any process -> the fork server's actor socket (actor.c): */
	SHOAL__FS_ACTOR_CREATE = 5, /* reply: index, generation, pid */
	SHOAL__FS_ACTOR_KILL = 6,   /* index, generation, flags */
};

/* flags of actor requests */
#define SHOAL__FS_GET_IF_EXISTS 1u
#define SHOAL__FS_NO_RESTART 2u

struct shoal__fs_msg {
	uint32_t op;
	uint32_t index;
	int32_t pid;
	int32_t rc;
	/* Actor requests and replies. */
	uint32_t generation;
	uint32_t klass;
	uint32_t flags;
	uint32_t max_restarts;
	uint32_t max_task_retries;
	uint32_t ctor_nargs;
	uint32_t ctor_len;
	uint32_t max_concurrency;
	uint64_t nonce;       /* the requester's, echoed in the reply */
	uint64_t token;       /* a request: hdr->fs_token (the fork server's
			       * socket drops a datagram without it); a
			       * reply: 0 */
	char name[64];
	uint8_t ctor[SHOAL_ACTOR_CTOR_BYTES];
};

/* The fork server's actor socket: an abstract AF_UNIX datagram address
 * (nothing in the file system), with the fork server's pid and a random
 * key in it (hdr->fs_key): nobody can take it before the fork server. */
#define SHOAL__FS_SOCK_FMT "shoal-fs.%d.%016llx"

/* How long a requester waits for the fork server's answer, and the slice
 * after which it probes whether the fork server lives. */
#define SHOAL__FS_REPLY_MS 10000
#define SHOAL__FS_SLICE_MS 100

struct shoal_runtime;

/* The abstract address of the actor socket of fork server pid with key
 * (no file: gone with the fork server); its length. */
socklen_t shoal__fs_addr(pid_t pid, uint64_t key, struct sockaddr_un *a);
/* 64 random bits (nonces, the socket's key and token). */
uint64_t shoal__fs_random(void);
/* The requesting side (any process of the runtime): one datagram out,
 * one back, on a socket of its own (any thread may ask at once).  The
 * reply's rc, or a negative errno, or the runtime's end code. */
int shoal__fs_call(struct shoal_runtime *rt, struct shoal__fs_msg *m);

#endif /* SHOAL_RUNTIME_FSPROTO_H */
