/* SPDX-License-Identifier: MIT */
/*
 * runtime/rt.h - process-local runtime structures shared by the
 * runtime's modules.  Nothing here is in the segment (see rtlayout.h).
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
#include "rtlayout.h"
#include "lane.h"
#include "queue.h"
#include "resv.h"

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
};

struct shoal__class {
	char name[64];
	shoal_actor_init_fn init;
	shoal_actor_fini_fn fini;
	uint32_t nmethods;
	struct shoal__method methods[SHOAL_MAX_METHODS];
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
	struct shoal_store *store;
	struct shoal__rt_view v;          /* the region, read once at bind */
	const struct shoal_registry *reg; /* the copy every process shares */
	struct shoal_registry *reg_copy;  /* the driver's, owned */
	struct shoal__boot boot;
	int ctl_fd;                   /* the driver's end of the socket */
	int fs_pidfd;
	pid_t fs_pid;
	char name[256];
	pthread_mutex_t pending_lock; /* guards the pending list, names */
	pthread_mutex_t lane_lock;    /* makes and removes lane nodes */
	struct cds_lfht *lanes;       /* actor -> this process's lane (call.c) */
	_Atomic bool lanes_ready;
	struct cds_lfht *names;       /* name -> function index (names.c) */
	_Atomic bool names_ready;
	struct shoal__pending *pending;
	size_t npending;
	size_t pending_cap;
	size_t pending_next;          /* where the next collect looks first */
	_Atomic size_t pending_hint;  /* npending, for a check without the lock */
};

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
	uint32_t pad_;
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
};
struct shoal__queue;
struct shoal__lane;
uint64_t shoal__rt_region_bytes(const struct shoal__rt_plan *p);
int shoal__rt_region_init(void *region, const struct shoal__rt_plan *p,
			  const struct shoal_registry *reg);


/* runtime.c */
void shoal__rt_local_init(struct shoal_runtime *rt);
int shoal__rt_bind(struct shoal_runtime *rt, struct shoal_store *store);
void shoal__rt_wake_workers(const struct shoal__rt_view *v);

/* task.c */
struct shoal__pending;
void shoal__task_free(struct shoal_store *s, const struct shoal__rt_view *v,
		      uint32_t idx);
/* The fork server's watch: frees the records of submitters that died
 * while BUILDING, and sets the bit of every FREE record whose freer died
 * before it set it. */
void shoal__task_sweep_free(struct shoal_store *s, const struct shoal__rt_view *v);
/* One past the highest record ever taken (at most max_tasks): every
 * record that is not FREE lies below it, so a sweep looks no further. */
uint32_t shoal__task_top(const struct shoal__rt_view *v);
int shoal__args_check(const struct shoal_args *args);
uint32_t shoal__args_encode(uint8_t *buf, const struct shoal_args *args);
int shoal__args_decode(const uint8_t *buf, uint32_t nargs, uint32_t args_len,
		       uint32_t i, uint32_t *kind, const uint8_t **data,
		       uint32_t *len);
struct shoal__later;
int shoal__args_fit(struct shoal_runtime *rt, const struct shoal_args *in,
		    uint32_t cap, struct shoal_args *out, struct shoal__pending *p,
		    struct shoal__later *d);
int shoal__hold_args(struct shoal_runtime *rt, const struct shoal_args *args,
		     struct shoal__pending *p);
int shoal__promise_returns(struct shoal_runtime *rt, shoal_id ret0, uint32_t n);
shoal_id shoal__ret_id(shoal_id ret0, uint32_t i);
shoal_id shoal__task_ret(const struct shoal__task_rec *t, uint32_t i);

/* names.c */
struct cds_lfht;
void shoal__names_close(struct shoal_runtime *rt);

/* deps.c: tasks parked on unsealed arguments, linked into waiter stacks
 * as nodes of this waiter kind (store/ext.h) */
#define SHOAL__WKIND_TASK 1u
void shoal__dep_park(struct shoal_runtime *rt, uint32_t idx,
		     const struct shoal_args *args);

/* nested.c: the fork server, when the pool cannot grow any more */
void shoal__nested_check(struct shoal_store *s, const struct shoal__rt_view *v);

/* pending.c: a submitter's holds on its pending tasks' ref arguments */
void shoal__pending_add(struct shoal_runtime *rt, const struct shoal__pending *p);
void shoal__pending_drop(struct shoal_runtime *rt, const struct shoal__pending *p);
size_t shoal__pending_collect(struct shoal_runtime *rt, size_t max);
/* The store's on_drop hook (ctx: the runtime): collects a few, never
 * waiting for the list. */
void shoal__pending_on_drop(void *ctx);
void shoal__pending_flush(struct shoal_runtime *rt);
int shoal__pending_put(struct shoal_runtime *rt, const void *data, size_t size,
		       struct shoal__later *d, shoal_id *out);
void shoal__pending_task_ended(struct shoal_store *s);

/* exec.c: what a task or an actor call runs on: encoded arguments (at
 * most cap bytes, checked against args_len), returns from ret0 on. */
struct shoal__call_view {
	const uint8_t *args;
	uint32_t nargs;
	uint32_t args_len;
	uint32_t cap;
	uint32_t num_returns;
	shoal_id ret0;
	int arg_timeout_ms;   /* for unsealed ref arguments */
	const char *name;     /* for error messages */
	char *why;            /* if not NULL: receives the failure message */
	size_t why_cap;
};
/* Runs fn(ctx, user) with the arguments resolved; seals what it returned
 * and fails the rest.  Returns the failure code, 0 on success. */
int shoal__exec_run(struct shoal_runtime *rt, const struct shoal__call_view *v,
		    shoal_task_fn fn, void *user);
/* An error object into promise ret: code and message, or the code alone
 * when the message finds no room within timeout_ms (0: a poll). */
void shoal__fill_error(struct shoal_store *s, shoal_id ret, int32_t code,
		       const char *msg, int timeout_ms);
/* exec.c: a worker runs one queue item */
void shoal__exec_item(struct shoal_runtime *rt, uint32_t worker, uint32_t item);
/* exec.c: the fork server cleans up after a worker that died, in two
 * steps around the start of its replacement: scan (repairs the queue,
 * notes the records it ran), then settle (fails or retries them, pushes
 * again the queued records the queue lost).  Neither ever waits: what the
 * queue has no room for stays in `later`, for requeue_retry. */
struct shoal__requeue {
	const struct shoal__rt_view *v;
	uint32_t max_tasks;
	uint64_t *present;      /* max_tasks bits: records with an item queued */
	uint32_t *later;        /* max_tasks items the queue had no room for */
	uint32_t nlater;
};
#define SHOAL__DEAD_RUNNING_MAX 8u
uint32_t shoal__exec_dead_worker_scan(const struct shoal__rt_view *v, uint32_t worker,
				      uint32_t *running, uint32_t cap);
void shoal__exec_dead_worker_settle(struct shoal_store *s,
				    const struct shoal__rt_view *v, uint32_t worker,
				    const uint32_t *running, uint32_t n,
				    const char *why, struct shoal__requeue *r);
void shoal__requeue_retry(struct shoal__requeue *r);
/* The fork server's watch: pushes again every QUEUED record that has no
 * item in the queue (exec.c). */
void shoal__requeue_sweep(struct shoal__requeue *r);
/* ... and resolves parked tasks whose drainer or submitter died (deps.c). */
void shoal__deps_sweep(struct shoal_store *s, const struct shoal__rt_view *v);

/* call.c: the caller's side of actor calls */
bool shoal__actor_gone(struct shoal__actor_slot *a, uint32_t gen);
void shoal__call_fail(struct shoal_store *s, const struct shoal__call_rec *r,
		      int code, const char *why);
/* A lane a drainer means: lane `lane`; for a drainer that is not its
 * owner (slot set), hooked at slot->lanes[k], for actor generation gen
 * (0: any).  Drains (and frees) only while it still is (call.c). */
struct shoal__lane_pos {
	uint32_t lane;
	struct shoal__actor_slot *slot;
	uint32_t k;
	uint32_t gen;
};
bool shoal__lane_drain(struct shoal_store *s, const struct shoal__rt_view *v,
		       struct shoal__lane_pos p, int code, const char *why);
bool shoal__lane_drain_free(struct shoal_store *s, const struct shoal__rt_view *v,
			    struct shoal__lane_pos p, struct shoal__actor_slot *a,
			    int code, const char *why);
void shoal__lane_free(struct shoal_store *s, const struct shoal__rt_view *v,
		      struct shoal__actor_slot *a, uint32_t i);
/* The fork server's watch: frees lanes taken by a process that is gone
 * and hooked into no actor (call.c). */
void shoal__lanes_sweep_lost(struct shoal_store *s, const struct shoal__rt_view *v);
void shoal__lanes_close(struct shoal_runtime *rt);
void shoal__lanes_sweep(struct shoal_runtime *rt);

/* actor.c: requests to the fork server's actor socket */
int shoal__fs_call(struct shoal_runtime *rt, struct shoal__fs_msg *m);

/* actorproc.c: runs in an actor's process, never returns. */
_Noreturn void shoal__actor_main(const struct shoal__boot *boot, uint32_t index,
				 pid_t parent);

/* end.c: the ends of a runtime's life (shutdown, the driver's or the fork
 * server's death): the ended code, probing the fork server, the sweep of
 * pending work. */
int shoal__rt_fs_alive_init(struct shoal__rt_hdr *h);
int shoal__rt_fs_hold(const struct shoal__rt_view *v);
bool shoal__rt_fs_dead(const struct shoal__rt_view *v);
int shoal__rt_end(const struct shoal__rt_view *v, int code);
void shoal__rt_sweep(struct shoal_store *s, const struct shoal__rt_view *v);
/* 0 while the runtime runs, else the code it ended with (probes the fork
 * server; sweeps when it is found dead). */
int shoal__rt_ended(struct shoal_runtime *rt);
void shoal__rt_task_published(struct shoal_runtime *rt, uint32_t idx,
			      uint32_t gen);
void shoal__rt_call_published(struct shoal_runtime *rt, uint32_t lane);
void shoal__rt_on_block(void *ctx, bool blocked);

/* forkserver.c: runs in the fork server, never returns. */
_Noreturn void shoal__fs_main(const struct shoal__boot *boot);

/* worker.c: runs in a worker, never returns. */
bool shoal__all_blocked(const struct shoal__rt_view *v);
void shoal__die_with_parent(pid_t parent);
/* A forked child stores its own pid and start time into its slot before
 * it says it runs (worker.c). */
void shoal__publish_self(_Atomic int32_t *pid, _Atomic uint64_t *start);
_Noreturn void shoal__worker_main(const struct shoal__boot *boot,
				  uint32_t index, pid_t parent, int spawn_fd);

#endif /* SHOAL_RUNTIME_RT_H */
