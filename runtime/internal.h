/* SPDX-License-Identifier: MIT */
/*
 * runtime/internal.h - process-local runtime structures shared by the
 * runtime's modules.  Nothing here is in the segment (see rtlayout.h).
 */
#ifndef SHOAL_RUNTIME_INTERNAL_H
#define SHOAL_RUNTIME_INTERNAL_H

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

/* The driver's handle. */
struct shoal_runtime {
	unsigned arena;
	struct shoal_store *store;
	struct shoal__rt_hdr *hdr;
	struct shoal__rt_worker *workers;
	struct shoal_registry reg;    /* the copy every process shares */
	struct shoal__boot boot;
	int ctl_fd;                   /* the driver's end of the socket */
	int fs_pidfd;
	pid_t fs_pid;
	char name[256];
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
uint64_t shoal__rt_region_bytes(uint32_t max_workers);
void shoal__rt_region_init(void *region, uint32_t num_workers,
			   uint32_t max_workers);
int shoal__rt_region_check(const void *region, uint64_t size);
struct shoal__rt_worker *shoal__rt_workers(struct shoal__rt_hdr *h);

/* forkserver.c: runs in the fork server, never returns. */
_Noreturn void shoal__fs_main(const struct shoal__boot *boot);

/* worker.c: runs in a worker, never returns. */
_Noreturn void shoal__worker_main(const struct shoal__boot *boot,
				  uint32_t index, pid_t parent);

#endif /* SHOAL_RUNTIME_INTERNAL_H */
