/* SPDX-License-Identifier: MIT */
/*
 * runtime/fs.h - the fork server's state, shared by forkserver.c (workers,
 * the driver's requests) and fsactor.c (actors).  Process-private: it lives
 * in the fork server only; its children close what is not theirs.
 */
#ifndef SHOAL_RUNTIME_FS_H
#define SHOAL_RUNTIME_FS_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "rt.h"

struct shoal__fs {
	const struct shoal__boot *boot;
	struct shoal_store *store;
	/* The region, read once at open (checked then, region.c): every
	 * array below is sized by its geometry, and every loop over children
	 * runs to it, never to what the header says later (a scribbled
	 * max_workers would have signalled pids past the array). */
	struct shoal__rt_view v;
	pid_t *kids;              /* by worker index; 0 = none */
	pid_t *act_kids;          /* by actor index; 0 = none */
	/* By worker index: the backoff after a death at start (ms, 0 after
	 * a worker that ran), and when its replacement is due (0: none). */
	uint32_t *backoff_ms;
	int64_t *respawn_at_ms;   /* CLOCK_MONOTONIC */
	unsigned arena;           /* this process's private memory */
	int driver_pidfd;
	int sigfd;
	int spawn_fd;             /* eventfd: a worker asks for an extra one */
	int act_fd;               /* the actor socket (datagrams, any process) */
	sigset_t old_mask;
	bool shutting_down;
	struct shoal__requeue requeue; /* after a worker died (exec.c) */
	int64_t next_watch_ms;    /* CLOCK_MONOTONIC: the next watch (deps.c) */
	uint64_t stalled_head;    /* the run queue's unpublished head at the
				   * last watch, + 1 (0: none) */
};

/* forkserver.c */
void shoal__fs_child_setup(struct shoal__fs *fs);
bool shoal__fs_stopping(const struct shoal__fs *fs);
void shoal__fs_reap_children(struct shoal__fs *fs, bool block);

/* fsactor.c */
int shoal__fs_actor_socket(const struct shoal__rt_view *v);
void shoal__fs_actor_request(struct shoal__fs *fs);
/* True if pid was an actor's (then handled: restarted or dead). */
bool shoal__fs_actor_exited(struct shoal__fs *fs, pid_t pid, int status);

#endif /* SHOAL_RUNTIME_FS_H */
