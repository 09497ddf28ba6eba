/* SPDX-License-Identifier: MIT */
/*
 * runtime/internal.h - process-local runtime structures shared by the
 * runtime's modules.  Nothing here is in the segment (see rtlayout.h).
 */
#ifndef SHOAL_RUNTIME_INTERNAL_H
#define SHOAL_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <shoal/runtime.h>

#include "rtlayout.h"

struct shoal__function {
	char name[SHOAL_FUNCTION_NAME_MAX + 1];
	shoal_task_fn fn;
	void *user;
};

/* Filled before start, read-only afterwards (every forked process has a
 * copy of the same table). */
struct shoal_registry {
	unsigned arena;
	bool frozen;
	uint32_t n;
	struct shoal__function fns[SHOAL_MAX_FUNCTIONS];
};

/* What the fork server and the workers need, prepared by the driver before
 * it forks (so every process has it at the same place in its memory). */
struct shoal__boot {
	int seg_fd;                   /* the segment (inherited) */
	int ctl_fd;                   /* the fork server's end of the socket */
	int driver_pid;
	char name[256];               /* named segment to unlink, or "" */
	uint32_t spin_budget;
	const struct shoal_registry *reg;
};

/* A task's ref-argument holds, dropped once the task is done. */
struct shoal__pending {
	shoal_id ret0;                /* ready once the task is done */
	uint32_t ndrop;
	shoal_id drop[SHOAL_MAX_ARGS];
};

/* A process's handle on a runtime: the driver's (from start), or a
 * worker's (inherited registry, its own store handle). */
struct shoal_runtime {
	unsigned arena;
	bool driver;
	struct shoal_store *store;
	struct shoal__rt_hdr *hdr;
	struct shoal__rt_worker *workers;
	struct shoal__task_rec *tasks;
	struct shoal__queue *queue;
	const struct shoal_registry *reg; /* the copy every process shares */
	struct shoal_registry *reg_copy;  /* the driver's, owned */
	struct shoal__boot boot;
	int ctl_fd;                   /* the driver's end of the socket */
	int fs_pidfd;
	pid_t fs_pid;
	char name[256];
	pthread_mutex_t pending_lock; /* guards the pending list, names */
	struct cds_lfht *names;       /* name -> function index (names.c) */
	_Atomic bool names_ready;
	struct shoal__pending *pending;
	size_t npending;
	size_t pending_cap;
};

/* Messages on the driver <-> fork server socket (SOCK_SEQPACKET). */
enum shoal__fs_op {
	SHOAL__FS_HELLO = 1,    /* fork server -> driver: pid = its pid */
	SHOAL__FS_SPAWN = 2,    /* driver -> fork server: start worker index */
	SHOAL__FS_SHUTDOWN = 3, /* driver -> fork server: stop everything */
	SHOAL__FS_REPLY = 4,    /* fork server -> driver: rc, pid */
};

struct shoal__fs_msg {
	uint32_t op;
	uint32_t index;
	int32_t pid;
	int32_t rc;
};

/* registry.c */
int shoal__registry_find(const struct shoal_registry *reg, const char *name);

/* region.c */
struct shoal__rt_plan {
	uint32_t num_workers;
	uint32_t max_workers;
	uint32_t max_tasks;
};
struct shoal__queue;
uint64_t shoal__rt_region_bytes(const struct shoal__rt_plan *p);
int shoal__rt_region_init(void *region, const struct shoal__rt_plan *p,
			  const struct shoal_registry *reg);
int shoal__rt_region_check(const void *region, uint64_t size);
struct shoal__rt_worker *shoal__rt_workers(struct shoal__rt_hdr *h);
struct shoal__task_rec *shoal__rt_tasks(struct shoal__rt_hdr *h);
struct shoal__queue *shoal__rt_queue(struct shoal__rt_hdr *h);
const char *shoal__rt_fname(const struct shoal__rt_hdr *h, uint32_t fn);

/* runtime.c */
int shoal__rt_bind(struct shoal_runtime *rt, struct shoal_store *store);
void shoal__rt_wake_workers(struct shoal__rt_hdr *h);

/* task.c */
void shoal__task_free(struct shoal__rt_hdr *hdr, struct shoal__task_rec *tasks,
		      uint32_t idx);
int shoal__args_decode(const struct shoal__task_rec *t, uint32_t i,
		       uint32_t *kind, const uint8_t **data, uint32_t *len);
shoal_id shoal__task_ret(const struct shoal__task_rec *t, uint32_t i);

/* names.c */
struct cds_lfht;
void shoal__names_close(struct shoal_runtime *rt);

/* deps.c: tasks parked on unsealed arguments */
void shoal__dep_park(struct shoal_runtime *rt, uint32_t idx,
		     const struct shoal_args *args);

/* pending.c: a submitter's holds on its pending tasks' ref arguments */
void shoal__pending_add(struct shoal_runtime *rt, const struct shoal__pending *p);
void shoal__pending_drop(struct shoal_runtime *rt, const struct shoal__pending *p);
void shoal__pending_collect(struct shoal_runtime *rt, size_t max);
void shoal__pending_flush(struct shoal_runtime *rt);

/* exec.c: a worker runs one queue item; the fork server cleans up after a
 * worker that died */
void shoal__exec_item(struct shoal_runtime *rt, uint32_t worker, uint32_t item);
void shoal__exec_worker_died(struct shoal_store *s, struct shoal__rt_hdr *h,
			     uint32_t worker, const char *why);

/* forkserver.c: runs in the fork server, never returns. */
_Noreturn void shoal__fs_main(const struct shoal__boot *boot);

/* worker.c: runs in a worker, never returns. */
bool shoal__all_blocked(struct shoal__rt_hdr *h);
_Noreturn void shoal__worker_main(const struct shoal__boot *boot,
				  uint32_t index, pid_t parent, int spawn_fd);

#endif /* SHOAL_RUNTIME_INTERNAL_H */
