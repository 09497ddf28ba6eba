/* SPDX-License-Identifier: MIT */
/*
 * runtime/rtlayout.h - the runtime's region of the segment (the store's
 * "ext" region), like a uapi header: fixed-width types, lock-free atomics
 * only, offsets instead of pointers, who writes what.
 *
 *   [0, 4 KiB)   struct shoal__rt_hdr
 *   workers      max_workers x struct shoal__rt_worker
 */
#ifndef SHOAL_RUNTIME_RTLAYOUT_H
#define SHOAL_RUNTIME_RTLAYOUT_H

#include <assert.h>
#include <stdatomic.h>
#include <stdint.h>

#define SHOAL__RT_MAGIC 0x454d49544e55524cull /* "LRUNTIME" */
#define SHOAL__RT_VERSION 1u
#define SHOAL__RT_HDR_SIZE 4096u
#define SHOAL__RT_MAX_WORKERS 1024u

enum shoal__worker_state {
	SHOAL__WK_EMPTY = 0,    /* never started */
	SHOAL__WK_STARTING = 1, /* forked, not running yet */
	SHOAL__WK_RUNNING = 2,
	SHOAL__WK_EXITED = 3,   /* reaped by the fork server */
};

/*
 * One worker slot.
 *  pid, state  the fork server writes STARTING and the pid when it forks,
 *              EXITED when it reaps (release); the worker writes RUNNING
 *              once attached (release, then bumps ready_seq: R1).  Readers
 *              (driver, info) load with acquire (A1).
 *  generation  the fork server bumps it for each process started in the
 *              slot (a replacement is a new generation).
 */
struct shoal__rt_worker {
	_Atomic int32_t pid;
	_Atomic uint32_t state;
	_Atomic uint32_t generation;
	uint32_t pad0_;
	_Atomic uint64_t tasks_run; /* the worker (statistics) */
	uint8_t pad1_[64 - 24];
};
static_assert(sizeof(struct shoal__rt_worker) == 64, "one line per worker");

/*
 * The header.  Written by the driver before it forks the fork server and
 * read-only after, except:
 *  fs_pid          the fork server, once, at its start
 *  stopping        the driver at shutdown, the fork server when the driver
 *                  died (release, R2); workers load it (acquire, A2) and
 *                  leave
 *  work_seq/work_waiters   idle workers sleep on work_seq (wait.c's
 *                  register / re-check / sleep protocol); shutdown and
 *                  new work bump it
 *  ready_seq/ready_waiters a worker that reached RUNNING bumps ready_seq;
 *                  the driver's start waits on it
 *  workers_*       the fork server (statistics, relaxed)
 */
struct shoal__rt_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t num_workers;
	uint32_t max_workers;
	int32_t driver_pid;
	uint64_t workers_off;     /* from the region's start */
	_Atomic int32_t fs_pid;
	_Atomic uint32_t stopping;
	uint8_t pad0_[64 - 40];
	_Atomic uint32_t work_seq;
	_Atomic uint32_t work_waiters;
	uint8_t pad1_[64 - 8];
	_Atomic uint32_t ready_seq;
	_Atomic uint32_t ready_waiters;
	uint8_t pad2_[64 - 8];
	_Atomic uint64_t workers_started;
	_Atomic uint64_t workers_died;
	uint8_t pad3_[64 - 16];
};
static_assert(sizeof(struct shoal__rt_hdr) <= SHOAL__RT_HDR_SIZE, "rt header");

#endif /* SHOAL_RUNTIME_RTLAYOUT_H */
