/* SPDX-License-Identifier: MIT */
/*
 * runtime/proc/proc_int.h - what the files of proc/ share: the processes
 * of a runtime (the driver's runtime.c, the fork server, workers, actor
 * processes) and the fork server's state.
 */
#ifndef SHOAL_RUNTIME_PROC_INT_H
#define SHOAL_RUNTIME_PROC_INT_H

#if !defined(SHOAL__LAYER_RUNTIME) && !defined(SHOAL__WHITEBOX)
#error "runtime/proc/proc_int.h is private to runtime/"
#endif

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "actor_int.h"

/* runtime.c */
void shoal__rt_local_init(struct shoal_runtime *rt);
int shoal__rt_bind(struct shoal_runtime *rt, struct shoal_store *store);
void shoal__rt_wake_workers(const struct shoal__rt_view *v);

/* actorproc.c: runs in an actor's process, never returns. */
_Noreturn void shoal__actor_main(const struct shoal__boot *boot, uint32_t index);

/* end.c: the sweep at a runtime's end */
void shoal__rt_sweep(struct shoal_store *s, const struct shoal__rt_view *v);

/* forkserver.c: runs in the fork server, never returns. */
_Noreturn void shoal__fs_main(const struct shoal__boot *boot);

/* worker.c: runs in a worker, never returns. */
bool shoal__all_blocked(const struct shoal__rt_view *v);
_Noreturn void shoal__worker_main(const struct shoal__boot *boot,
				  uint32_t index, int spawn_fd);

/* The fork server's state, shared by forkserver.c (workers, the driver's
 * requests) and fsactor.c (actors).  Process-private: it lives in the
 * fork server only; its children close what is not theirs. */
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
	int log_sock;             /* the log relay's socket (-1: none) */
	bool shutting_down;
	struct shoal__requeue requeue; /* after a worker died (exec.c) */
	int64_t next_watch_ms;    /* CLOCK_MONOTONIC: the next watch (deps.c) */
	int64_t next_deadline_ms; /* CLOCK_MONOTONIC: the next deadline pass
				   * (forkserver.c), 0: none pending */
	uint64_t stalled_head;    /* the run queue's unpublished head at the
				   * last watch, + 1 (0: none) */
	struct shoal__oq_books oq; /* objects adopted from gone putters */
};

/* child.c: every signal's disposition to SIG_DFL, an empty mask (the
 * start of every process the driver's fork leads to). */
void shoal__signals_reset(void);
/* child.c: what every forked child does.  begin: right after fork(), in
 * the child of the fork server `parent` (an actor's or a worker's), which
 * it names after `label` ("worker 2", "LoggingActor#3"). */
#define SHOAL__LABEL_MAX 80
void shoal__child_begin(struct shoal__fs *fs, pid_t parent, bool actor,
			const char *label);
/* A worker's or an actor's stdout and stderr flushed, after each task or
 * call and before it exits: the user's buffered output reaches the log
 * relay (or the driver's stdout) even if the process dies next. */
void shoal__child_flush(void);
/* A forked child stores its own pid and start time into its slot before
 * it says it runs. */
void shoal__publish_self(_Atomic int32_t *pid, _Atomic uint64_t *start);

/* title.c: names this process: comm (PR_SET_NAME) and the command line
 * (/proc/PID/cmdline, over the argv area).  Never fails. */
void shoal__title_set(const char *comm, const char *title);
/* comm: prefix + label if it fits in 15 bytes, else the label cut so
 * that its "#n" or last word stays. */
void shoal__title_comm(char out[16], const char *prefix, const char *label);

/* logrelay.c: the log relay.  start: in the fork server, forks it with
 * boot->log_fd (closed here whatever happens); the socket its children
 * inherit, or -1 (no relay: they write to stdout and stderr directly).
 * attach: in a child, its stdout and stderr become pipes to the relay
 * under `label`, if the relay takes them; sock is closed. */
int shoal__log_start(const struct shoal__boot *boot);
void shoal__log_attach(int sock, const char *label);

/* forkserver.c */
/* Closes every fd but stdio and keep[0..n) (ascending). */
void shoal__close_others(const int *keep, size_t n);
bool shoal__fs_stopping(const struct shoal__fs *fs);
void shoal__fs_reap_children(struct shoal__fs *fs, bool block);

/* fsactor.c */
int shoal__fs_actor_socket(const struct shoal__rt_view *v);
void shoal__fs_actor_request(struct shoal__fs *fs);
/* True if pid was an actor's (then handled: restarted or dead). */
bool shoal__fs_actor_exited(struct shoal__fs *fs, pid_t pid, int status);

#endif /* SHOAL_RUNTIME_PROC_INT_H */
