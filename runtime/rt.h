/* SPDX-License-Identifier: MIT */
/*
 * runtime/rt.h - process-local runtime structures shared by every folder
 * of the runtime (runtime/ itself: the region, the registry, the
 * runtime's life; task/, actor/ and proc/ add their own headers,
 * task_int.h, actor_int.h and proc_int.h, each including the one below
 * it).  Nothing here is in the segment (see rtlayout.h).
 */
#ifndef SHOAL_RUNTIME_RT_H
#define SHOAL_RUNTIME_RT_H

#if !defined(SHOAL__LAYER_RUNTIME) && !defined(SHOAL__WHITEBOX)
#error "runtime/rt.h is private to runtime/"
#endif

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <shoal/actor.h>
#include <shoal/runtime.h>

#include "actlayout.h"
#include "qlayout.h"
#include "rtlayout.h"
#include "lane.h"
#include "queue.h"
#include "resv.h"
#include "timeline.h"

/*
 * liburcu is not built with ThreadSanitizer: the edge from a node's
 * publication (cds_lfht_add: rcu_assign_pointer, a release) to a reader
 * that found it (rcu_dereference, a dependent load) is invisible to TSan.
 * These annotations state it; they are nothing in other builds.
 */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define SHOAL__RCU_PUBLISHED(p) __tsan_release(p)
#define SHOAL__RCU_FOUND(p) __tsan_acquire(p)
#else
#define SHOAL__RCU_PUBLISHED(p) ((void)(p))
#define SHOAL__RCU_FOUND(p) ((void)(p))
#endif

struct shoal__function {
	char name[SHOAL_FUNCTION_NAME_MAX + 1];
	shoal_task_fn fn;
	void *user;
};

struct shoal__method {
	char name[64];
	shoal_task_fn fn;
	uint32_t group;               /* its concurrency group (0: default) */
};

/* A concurrency group of a class (shoal_register_group); group 0 is the
 * default one, whose threads an actor's max_concurrency gives. */
struct shoal__group {
	char name[64];
	uint32_t threads;
};

struct shoal__class {
	char name[64];
	shoal_actor_init_fn init;
	shoal_actor_fini_fn fini;
	uint32_t nmethods;
	struct shoal__method methods[SHOAL_MAX_METHODS];
	uint32_t ngroups;             /* 0 or 1: the default group alone */
	struct shoal__group groups[SHOAL_MAX_GROUPS];
};

/* Filled before start, read-only afterwards (every forked process has a
 * copy of the same table). */
struct shoal_registry {
	unsigned arena;
	bool frozen;
	uint32_t n;
	struct shoal__function fns[SHOAL_MAX_FUNCTIONS];
	uint32_t nclasses;
	struct shoal__class classes[SHOAL_MAX_CLASSES];
};

/* What the fork server and the workers need, prepared by the driver before
 * it forks (so every process has it at the same place in its memory). */
struct shoal__boot {
	int seg_fd;                   /* the segment (inherited) */
	int ctl_fd;                   /* the fork server's end of the socket */
	int log_fd;                   /* the done pipe's write end, for the
				       * log relay (-1: no relay) */
	int driver_pid;
	char name[256];               /* named segment to unlink, or "" */
	uint32_t spin_budget;
	const struct shoal_registry *reg;
};

/* A task's or call's ref-argument holds, dropped once it is done. */
struct shoal__pending {
	shoal_id ret0;                /* its first return */
	uint32_t nret;                /* a task's returns (ret0's index on) */
	uint32_t task;                /* a task's record index + 1; 0: a call */
	uint32_t task_gen;            /* the record's generation for that task */
	bool own_ret0;                /* dropped too (a fire-and-forget call's) */
	uint32_t ndrop;
	uint32_t made;                /* bit i: drop[i] is an object the runtime
				       * put (a by-value argument), deleted
				       * when let go; else a hold on a ref */
	shoal_id drop[SHOAL_MAX_ARGS];
};

/* A put whose object this process holds for the queue (task/objq.c). */
struct shoal__oq_held {
	uint32_t queue;     /* the slot */
	uint32_t pad_;
	uint64_t pos;       /* the position it was put at */
	shoal_id id;
};
/* A process's list of them, process-private, under its lock. */
struct shoal__oq_books {
	pthread_mutex_t lock;
	struct shoal__oq_held *a;   /* from the process's arena */
	size_t n, cap;
};

/*
 * A process's view of the runtime region: the region's geometry, copied
 * once from its header and checked (shoal__rt_view_open), and the
 * pointers derived from that copy.  Every count, offset and index bound
 * the runtime uses comes from here, never again from the header, which any
 * process that can write the segment may change; only state words are
 * read through `hdr`.  Private, set once before any concurrent use.
 */
struct shoal__rt_view {
	struct shoal__rt_hdr *hdr;        /* state words only */
	uint32_t num_workers, max_workers, max_tasks, nfuncs;
	uint32_t max_actors, max_lanes, lane_capacity, nclasses;
	uint32_t flags;                   /* SHOAL_RUNTIME_* */
	uint32_t tl_rings, tl_events;     /* timeline.h */
	uint64_t tl_ring_bytes;
	struct shoal__clock clock;        /* ticks to ns (base/clock.h) */
	uint64_t lane_bytes;
	struct shoal__rt_worker *workers; /* max_workers */
	const char *fnames;               /* SHOAL_MAX_FUNCTIONS names */
	struct shoal__task_rec *tasks;    /* max_tasks */
	_Atomic uint64_t *task_bits;      /* the FREE hints (task.c) */
	struct shoal__queue_view queue;   /* the run queue */
	struct shoal__act_class *classes; /* SHOAL_MAX_CLASSES */
	struct shoal__actor_slot *actors; /* max_actors */
	struct shoal__lane_meta *lmeta;   /* max_lanes */
	uint8_t *lanes;                   /* max_lanes x lane_bytes */
	uint8_t *tl;                      /* tl_rings x tl_ring_bytes */
	uint32_t max_queues, queue_cells; /* qlayout.h */
	uint64_t oq_slot_bytes;
	uint8_t *oq;                      /* max_queues x oq_slot_bytes */
};
int shoal__rt_view_open(struct shoal__rt_view *v, void *region, uint64_t size);
/* Function fn's name ("?" past nfuncs). */
const char *shoal__rt_fname(const struct shoal__rt_view *v, uint32_t fn);
/* Lane i (< max_lanes) with the view's geometry. */
struct shoal__lane_view shoal__lane_at(const struct shoal__rt_view *v,
				       uint32_t i);

/* A process's handle on a runtime: the driver's (from start), or a
 * worker's (inherited registry, its own store handle). */
struct shoal_runtime {
	unsigned arena;
	bool driver;
	/* A worker's slot + 1 (worker.c), 0 in every other process: a
	 * submit that waits for room inside a task looks at the pool
	 * (task.c). */
	uint32_t worker_slot;
	struct shoal_store *store;
	struct shoal__rt_view v;          /* the region, read once at bind */
	const struct shoal_registry *reg; /* the copy every process shares */
	struct shoal_registry *reg_copy;  /* the driver's, owned */
	struct shoal__boot boot;
	int ctl_fd;                   /* the driver's end of the socket */
	int fs_pidfd;
	int log_fd;                   /* the done pipe's read end: its end
				       * of file is the log relay's exit */
	pid_t fs_pid;
	char name[256];
	pthread_mutex_t pending_lock; /* guards the pending list, names */
	pthread_mutex_t lane_lock;    /* makes and removes lane nodes */
	/* Made once, under a lock, then published (process-local, RT-):
	 *  RT-R1 (RT-A1)  lanes_ready stored (release, call.c) after the
	 *          table is made: the table, to ...
	 *  RT-A1 (RT-R1)  ... every acquire load of lanes_ready (call.c).
	 *  RT-R2 (RT-A2)  names_ready, the same for the names (names.c) ...
	 *  RT-A2 (RT-R2)  ... and its acquire load (names.c). */
	struct cds_lfht *lanes;       /* actor -> this process's lane (call.c) */
	_Atomic bool lanes_ready;
	struct cds_lfht *names;       /* name -> function index (names.c) */
	_Atomic bool names_ready;
	struct shoal__pending *pending;
	size_t npending;
	size_t pending_cap;
	size_t pending_next;          /* where the next collect looks first */
	_Atomic size_t pending_hint;  /* npending, for a check without the lock
				       * (relaxed: a hint, pending.c) */
	/* Objects this process put into queues and holds for them until a
	 * getter holds them (task/objq.c). */
	struct shoal__oq_books oq;
	/* The sweep a probe that finds the fork server dead runs (life.c;
	 * proc/end.c's shoal__rt_sweep, set by shoal__rt_local_init). */
	void (*sweep)(struct shoal_store *s, const struct shoal__rt_view *v);
	/* This process's timeline ring (timeline.h), opened by a process
	 * that runs tasks or calls; ring NULL elsewhere. */
	struct shoal__tl tl;
	/* An inspect handle (shoal_runtime_inspect): its store is an inspect
	 * handle too (mapped PROT_READ, no slot); every public call that
	 * would write, or probe the fork server's mutex, returns
	 * SHOAL_EREADONLY first (shoal__rt_ro). */
	bool readonly;
	/* The task record this process runs now (index + 1, 0: none) and
	 * its generation: a worker's, set around each task (exec.c), so
	 * that the tasks it submits name their parent (cancel.c). */
	uint32_t cur_task;
	uint32_t cur_gen;
};

/* True for an inspect handle: the caller returns SHOAL_EREADONLY. */
static inline bool shoal__rt_ro(const struct shoal_runtime *rt)
{
	return rt && rt->readonly;
}


/* Why an actor died, for its callers' errors. */
#define SHOAL__WHY_MAX 128
/* An actor process's exit status when its constructor failed. */
#define SHOAL__ACTOR_EXIT_CTOR 3

/* registry.c */
int shoal__registry_find(const struct shoal_registry *reg, const char *name);

/* region.c */
struct shoal__rt_plan {
	uint32_t num_workers;
	uint32_t max_workers;
	uint32_t max_tasks;
	uint32_t max_actors;
	uint32_t max_lanes;
	uint32_t lane_capacity;
	uint32_t flags;           /* SHOAL_RUNTIME_* */
	uint32_t tl_rings;        /* timeline rings: the store's max_procs */
	uint32_t max_queues;      /* object queues (qlayout.h) */
	uint32_t queue_cells;     /* cells per queue, a power of two */
};
struct shoal__queue;
struct shoal__lane;
uint64_t shoal__rt_region_bytes(const struct shoal__rt_plan *p);
int shoal__rt_region_init(void *region, const struct shoal__rt_plan *p,
			  const struct shoal_registry *reg);
/* Touches what a first wave of tasks will use from this process (region.c:
 * warming); after the handle is bound (and a worker's timeline opened). */
void shoal__rt_warm(const struct shoal_runtime *rt);


/* life.c: whether the runtime ended; probing the fork server. */
int shoal__rt_fs_alive_init(struct shoal__rt_hdr *h);
int shoal__rt_fs_hold(const struct shoal__rt_view *v);
bool shoal__rt_fs_dead(const struct shoal__rt_view *v);
int shoal__rt_end(const struct shoal__rt_view *v, int code);
/* 0 while the runtime runs, else the code it ended with (probes the fork
 * server; sweeps through rt->sweep when it is found dead). */
int shoal__rt_ended(struct shoal_runtime *rt);
void shoal__rt_on_block(void *ctx, bool blocked);
/* The message an end's code leaves in the results it fails. */
const char *shoal__end_why(int code);

#endif /* SHOAL_RUNTIME_RT_H */
