/* SPDX-License-Identifier: MIT */
/*
 * runtime/task/task_int.h - what the files of task/ share, and offer the
 * folders above (actor/, proc/): submitting, running and parking tasks,
 * the holds of pending work, the fork server's repairs of tasks.
 */
#ifndef SHOAL_RUNTIME_TASK_INT_H
#define SHOAL_RUNTIME_TASK_INT_H

#if !defined(SHOAL__LAYER_RUNTIME) && !defined(SHOAL__WHITEBOX)
#error "runtime/task/task_int.h is private to runtime/"
#endif

#include "rt.h"

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
int shoal__args_decode_typed(const uint8_t *buf, uint32_t nargs,
			     uint32_t args_len, uint32_t i, uint32_t *kind,
			     uint32_t *type, const uint8_t **data, uint32_t *len);
struct shoal__later;
int shoal__args_fit(struct shoal_runtime *rt, const struct shoal_args *in,
		    uint32_t cap, struct shoal_args *out, struct shoal__pending *p,
		    struct shoal__later *d);
int shoal__hold_args(struct shoal_runtime *rt, const struct shoal_args *args,
		     struct shoal__pending *p);
int shoal__promise_returns(struct shoal_runtime *rt, shoal_id ret0, uint32_t n);
shoal_id shoal__ret_id(shoal_id ret0, uint32_t i);
shoal_id shoal__task_ret(const struct shoal__task_rec *t, uint32_t i);

/* objq.c, objq_admin.c: object queues (shoal/queue.h, qlayout.h) */
struct shoal_queue;
/* A process's view of one queue: its slot, the handle's generation and
 * the geometry, checked once (objq_admin.c). */
struct shoal__oq {
	struct shoal__oq_hdr *h;
	struct shoal__oq_cell *c;
	uint32_t index, gen, cap, mask;
};
struct shoal__oq_hdr *shoal__oq_slot(const struct shoal__rt_view *v, uint32_t i);
struct shoal__oq_cell *shoal__oq_cells(const struct shoal__rt_view *v, uint32_t i);
/* 0 and *o for a handle that names a LIVE queue; -EINVAL, -ENOENT,
 * SHOAL_EREADONLY, SHOAL_EBADSEGMENT. */
int shoal__oq_resolve(struct shoal_runtime *rt, const struct shoal_queue *q,
		      struct shoal__oq *o);
int shoal__oq_books_add(struct shoal_store *s, const struct shoal__rt_view *v,
			struct shoal__oq_books *b, unsigned arena,
			const struct shoal__oq_held *e);
/* Drops the holds of the puts a getter holds now (all: every one, for a
 * process that leaves). */
void shoal__oq_books_collect(struct shoal_store *s, const struct shoal__rt_view *v,
			     struct shoal__oq_books *b, bool all);
/* A hold that failed for a reason of the holder's own (its ledger, a
 * recount under way): the object is still there, to be tried again. */
bool shoal__oq_hold_retry(int rc);
/* The fork server: holds what gone putters left queued, then lets their
 * slots go to their reapers (objq_admin.c). */
void shoal__oq_adopt(struct shoal_store *s, const struct shoal__rt_view *v,
		     struct shoal__oq_books *b, unsigned arena);

/* A detaching process: its queued puts handed to the fork server,
 * waiting (at most a second) until it holds them. */
void shoal__oq_hand_over(struct shoal_runtime *rt);

/* names.c */
struct cds_lfht;
void shoal__names_close(struct shoal_runtime *rt);

/* deps.c: tasks parked on unsealed arguments, linked into waiter stacks
 * as nodes of this waiter kind (store/ext.h) */
#define SHOAL__WKIND_TASK 1u
/* The deps word (deps.c): bits 0..15 arguments, 16 the guard, the
 * generation's low 15 bits above. */
#define SHOAL__DEP_ARGS 0xffffu
#define SHOAL__DEP_GUARD (1u << 16)
#define SHOAL__DEP_WAITS 0x1ffffu
#define SHOAL__DEP_WORD(gen, bits) ((((gen) & 0x7fffu) << 17) | (bits))
#define SHOAL__DEP_GEN(d) ((d) >> 17)
void shoal__dep_park(struct shoal_runtime *rt, uint32_t idx,
		     const struct shoal_args *args, uint64_t flags);

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
	_Atomic uint64_t *state; /* a task's record state (cancel bits), or
				  * NULL */
	_Atomic uint32_t *call_cancel; /* an actor call's cancel word, or NULL */
	uint64_t deadline;    /* CLOCK_MONOTONIC ns, 0: none */
	char *why;            /* if not NULL: receives the failure message */
	size_t why_cap;
	/* A call made fire and forget (num_returns 0): whatever the method
	 * returns is dropped, not an error.  settle_ret0: its ret0 is the
	 * caller's own (SHOAL__CALL_OWNRET, to learn when the call is done),
	 * sealed empty once the method returned, whatever it did. */
	bool discard;
	bool settle_ret0;
	/* The runtime context (shoal_task_context): */
	uint32_t kind;        /* enum shoal_task_kind */
	int32_t worker;       /* a worker's index; -1 in an actor */
	uint32_t caller;      /* SHOAL__CREATOR of the submitter; 0: unknown */
	struct shoal_actor self; /* in an actor; zeroed in a task */
};
/* exec.c: argument i of a running task, checked against a type: -EINVAL
 * (NULL task), SHOAL_EARGCOUNT (past the last), SHOAL_EARGTYPE (tagged
 * with another type); untyped bytes pass (their reader checks the width). */
int shoal__task_arg_typed(const struct shoal_task *task, uint32_t i,
			  uint32_t type, const void **data, size_t *size);
#define SHOAL__MSG_MAX 512

/* A running task's or call's context (exec.c runs it; args.c reads its
 * arguments and what it is).  The running thread's alone, on its stack. */
struct shoal_task {
	struct shoal_runtime *rt;
	struct shoal__call_view v;
	uint32_t nargs;
	struct {
		const void *data;
		size_t size;
		uint32_t type;            /* enum shoal_arg_type: a tag */
	} args[SHOAL_MAX_ARGS];
	struct shoal_view views[SHOAL_MAX_ARGS];
	uint64_t set;                     /* returns filled or opened */
	struct shoal__fill open[SHOAL__PROC_FILLS];
	uint32_t open_ret[SHOAL__PROC_FILLS];
	uint32_t nopen;
	void *scratch[SHOAL__PROC_FILLS]; /* discarded returns' buffers */
	uint32_t nscratch;
	int arg_err;                      /* the last typed read's failure */
	char arg_note[96];                /* ... and why */
	int fail_code;
	char msg[SHOAL__MSG_MAX];
};

/* Runs fn(ctx, user) with the arguments resolved; seals what it returned
 * and fails the rest.  Returns the failure code, 0 on success. */
int shoal__exec_run(struct shoal_runtime *rt, const struct shoal__call_view *v,
		    shoal_task_fn fn, void *user);
/* An error object into promise ret: code and message, or the code alone
 * when the message finds no room within timeout_ms (0: a poll).  0 (also
 * when ret is sealed already or gone), or the fill's error: -EBUSY when
 * every fill record of this process is open. */
int shoal__fill_error(struct shoal_store *s, shoal_id ret, int32_t code,
		      const char *msg, int timeout_ms);
/* exec.c: a worker runs one queue item */
void shoal__exec_item(struct shoal_runtime *rt, uint32_t worker, uint32_t item,
		      bool last);
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
/* After any push into the run queue (task.c, POOL-S1 of worker.c). */
void shoal__pool_kick(const struct shoal__rt_view *v);
bool shoal__pool_other_head(const struct shoal__rt_view *v, uint32_t me);
/* The fork server's watch: pushes again every QUEUED record that has no
 * item in the queue (exec.c). */
void shoal__requeue_sweep(struct shoal__requeue *r);
/* ... and resolves parked tasks whose drainer or submitter died (deps.c). */
void shoal__deps_sweep(struct shoal_store *s, const struct shoal__rt_view *v);

/* cancel.c: cancels and deadlines (the bits are rtlayout.h's) */
int shoal__cancel_code(uint64_t st);
const char *shoal__cancel_why(int code);
/* The code of an actor call's cancel word (actlayout.h), 0: none. */
int shoal__call_cancel_code(uint32_t c);
void shoal__cancel_fill(struct shoal_store *s, shoal_id ret0, uint32_t n, int code);
bool shoal__cancel_due(uint64_t deadline);
/* A deadline its runner found passed: CANCEL | DEADLINE on a task's
 * state word, or on a call's cancel word. */
void shoal__cancel_mark(_Atomic uint64_t *state);
void shoal__cancel_mark_call(_Atomic uint32_t *w);
/* exec.c: a claimed record cancelled (or past its deadline) before it
 * started: its returns filled, its record freed; false: run it. */
bool shoal__cancel_skip(struct shoal_runtime *rt, uint32_t idx, uint64_t st);
/* TASK-S2: the cancel bits a child inherits before it is published (0:
 * none), and the check after it is (cancel.c). */
uint64_t shoal__cancel_inherited(const struct shoal_runtime *rt, uint32_t parent,
				 uint32_t parent_gen);
void shoal__cancel_born(struct shoal_runtime *rt, shoal_id ret0, uint32_t n,
			uint64_t flags);
void shoal__cancel_inherit(struct shoal_runtime *rt, uint32_t idx, uint32_t gen,
			   uint32_t parent, uint32_t parent_gen);
/* Returns the soonest deadline of a pending record (0: none). */
uint64_t shoal__cancel_sweep(struct shoal_store *s, const struct shoal__rt_view *v,
			     const pid_t *kids);
uint64_t shoal__cancel_sooner(uint64_t a, uint64_t b);
int shoal__cancel_rec(struct shoal_store *s, const struct shoal__rt_view *v,
		      uint32_t idx, uint64_t st, uint64_t flags, uint32_t depth);
void shoal__cancel_children(struct shoal_store *s, const struct shoal__rt_view *v,
			    uint32_t pw, uint32_t pg, uint32_t tag, uint64_t flags,
			    uint32_t depth);
bool shoal__cancel_returns_sealed(struct shoal_store *s, shoal_id ret0, uint32_t n);
/* A return ID's index bits (ret0 and ret i differ only there). */
#define SHOAL__RET_INDEX (0xffffull << 32)

/* callcancel.c: actor calls' cancels and the deadlines of queued calls */
int shoal__cancel_calls(struct shoal_store *s, const struct shoal__rt_view *v,
			shoal_id ref, uint32_t flags, bool *found);
/* The calls a recursive cancel reaches: those parent (pw, pg, tag) made,
 * cancelled with CANCEL | RECURSIVE (never FORCE), in every lane in use. */
void shoal__cancel_child_calls(struct shoal_store *s, const struct shoal__rt_view *v,
			       uint32_t pw, uint32_t pg, uint32_t tag, uint32_t depth);
/* The parent the tasks and calls this thread submits name (task.c,
 * call.c): the task its process runs, or the actor call this thread runs
 * (enter / leave, around the method: proc/actorrun.c).  Read once per
 * submit: thread-local words.  id 0: none. */
struct shoal__parent {
	uint32_t id;  /* a task's index + 1, or SHOAL__PARENT_CALL | lane */
	uint32_t gen; /* the task's generation, or the call's lane position */
	uint32_t tag; /* a call's lane tag, 0 for a task's */
};
struct shoal__parent shoal__cancel_parent(const struct shoal_runtime *rt);
/* TASK-S2 for a call (call.c): the word bits it is published with
 * (SHOAL__CALL_C_CANCEL if its parent was cancelled recursively, else 0),
 * and the check after its publish. */
uint32_t shoal__call_born(const struct shoal_runtime *rt,
			  const struct shoal__parent *par);
void shoal__call_inherit(struct shoal_runtime *rt, uint32_t li, uint32_t pos,
			 struct shoal__call_rec *r, uint32_t born,
			 const struct shoal__parent *par);
/* Whether the call at position pos of lane li is cancelled recursively. */
bool shoal__call_recursive(const struct shoal__rt_view *v, uint32_t li, uint32_t pos);
void shoal__call_enter(const struct shoal__rt_view *v, uint32_t li, uint32_t pos);
void shoal__call_leave(void);
/* A caller that published a call with a deadline flags its lane for the
 * fork server's watch, which expires it (DL-R1 of rtlayout.h). */
void shoal__dl_flag(const struct shoal__rt_view *v, uint32_t li);
/* The watch: queued calls past their deadline fail with SHOAL_EDEADLINE,
 * cancelled ones get their results again; the soonest deadline still
 * pending (0: none). */
uint64_t shoal__calls_expire(struct shoal_store *s, const struct shoal__rt_view *v);

/* ended.c: task records at the runtime's end (proc/end.c sweeps) */
bool shoal__sweep_claim(const struct shoal__rt_view *v, uint32_t idx,
			uint32_t gen, bool running);
void shoal__sweep_fail(struct shoal_store *s, const struct shoal__rt_view *v,
		       uint32_t idx, int code);
void shoal__rt_task_published(struct shoal_runtime *rt, uint32_t idx,
			      uint32_t gen);

#endif /* SHOAL_RUNTIME_TASK_INT_H */
