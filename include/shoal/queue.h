/* SPDX-License-Identifier: MIT */
/*
 * shoal/queue.h - queues of objects between the processes of a runtime
 * (Ray's ray.util.queue.Queue), in shared memory.
 *
 * A queue is a bounded FIFO of object IDs in the runtime's segment: any
 * process of the runtime (the driver, a task, an actor, an attached
 * program) puts a ref in, any other takes it out, with no process in
 * between (Ray's queue is an actor: each put and get is a call to it).
 * Puts and gets wait for room or for an item up to a timeout (-1: for
 * ever; 0: try, -EAGAIN at once).  Several producers and several consumers
 * may use one queue at once; what one producer puts comes out in the order
 * it put it.
 *
 * Ownership.  A put takes a hold of its own on the object (in the putting
 * process's ledger), so the putter may drop its ref at once; a get hands
 * the getter a hold of its own, which it drops (shoal_drop) when done.
 * The putter's hold is let go by the putting process once a getter holds
 * the object (at its later queue calls and at its detach).  An attached
 * program that detaches while objects it put are still queued hands them
 * to the fork server first (its detach waits for that: up to a quarter
 * of a second, a second at most).
 *
 * Deaths (docs/design.md, "Queues"): a put or a get killed at any
 * instruction either happened or did not; an object is never handed to
 * two getters, and one that a dead putter put stays in the queue: the
 * fork server takes the dead putter's hold over (it holds the object
 * until a getter does), and no other process reaps the dead putter
 * before that (a reap guard: its slot waits for the fork server, up to a
 * quarter of a second), so the object is held at every instant, whoever
 * reaps first.  Limits: once the fork server itself is dead (the runtime
 * ended) the guard no longer holds, and an object then evicted reaches
 * its getter as an error (SHOAL_EEVICTED, -ENOENT); a detach whose
 * hand-over outlasts its second (a stopped fork server) lets its objects
 * go unheld the same way.
 *
 * A queue handle (struct shoal_queue) is plain bytes, valid in every
 * process of the runtime: copy it into task and call arguments
 * (shoal_args_queue), into objects, or look it up by name.
 */
#ifndef SHOAL_QUEUE_H
#define SHOAL_QUEUE_H

#include <stdint.h>
#include <stddef.h>

#include <shoal/export.h>
#include <shoal/id.h>

#ifdef __cplusplus
extern "C" {
#endif

struct shoal_runtime;
struct shoal_args;
struct shoal_task;

/* A queue handle: plain bytes, valid in every process of the runtime.
 * A zeroed handle names no queue. */
struct shoal_queue {
	uint32_t index;      /* the queue's slot */
	uint32_t generation; /* which queue in that slot (never 0) */
	uint32_t capacity;   /* its bound, as created */
	uint32_t magic;      /* SHOAL_QUEUE_MAGIC */
};

#define SHOAL_QUEUE_MAGIC 0x45555551u /* "QUUE" */
/* A queue's name: 1..63 bytes. */
#define SHOAL_QUEUE_NAME_MAX 63

/* Makes a queue of at most `capacity` objects (1 .. the runtime's
 * max_queue_capacity rounded up to a power of two), named (NULL:
 * anonymous, reached by its handle alone) and writes its handle into
 * *out.  -EINVAL (NULL rt or out, a capacity of 0 or above that bound,
 * a name of 0 or more than 63 bytes), -EEXIST (a queue of that name
 * exists: shoal_queue_lookup), -ENOSPC (max_queues queues exist),
 * -ETIMEDOUT (another create or delete held the names' lock for more
 * than a second: its process stopped), SHOAL_EREADONLY (an inspect
 * handle), the runtime's end code (SHOAL_ESTOPPED,
 * SHOAL_EFORKSERVERDIED) once it ended.  The queue lives until shoal_queue_delete or the runtime's end.
 * Any thread of any process of the runtime. */
SHOAL_API int shoal_queue_create(struct shoal_runtime *rt, const char *name,
				 uint32_t capacity, struct shoal_queue *out);

/* The handle of the queue named `name`, into *out.  -ENOENT if there is
 * none, -EINVAL for a NULL argument or a bad name.  Any thread. */
SHOAL_API int shoal_queue_lookup(struct shoal_runtime *rt, const char *name,
				 struct shoal_queue *out);

/* Puts ref at the queue's tail.  The queue takes its own hold on the
 * object (the caller keeps its own, and may drop it at once).  Waits for
 * room up to timeout_ms (-1: for ever, 0: not at all).  -EAGAIN (full,
 * timeout_ms 0), -ETIMEDOUT (still full at the timeout), -ENOENT (no such
 * queue: deleted, or a handle from another runtime), -EIDRM (deleted
 * while it waited), -EINVAL (NULL rt or q, the nil ID), what shoal_hold
 * returns when the object cannot be held (-ENOENT: no such object,
 * SHOAL_EEVICTED, SHOAL_EDELETED, SHOAL_ELEDGERFULL ...), the runtime's
 * end code (SHOAL_ESTOPPED, SHOAL_EFORKSERVERDIED) if it ended while the
 * put waited.  On an error nothing was put.  Any thread of
 * any process of the runtime. */
SHOAL_API int shoal_queue_put(struct shoal_runtime *rt, const struct shoal_queue *q,
			      shoal_id ref, int timeout_ms);

/* Puts `size` bytes into the store and their object into the queue, in
 * one call (shoal_put then shoal_queue_put; the caller holds nothing).
 * The timeout bounds both the wait for room in the store and for room in
 * the queue.  The errors of shoal_queue_put, SHOAL_ESTOREFULL, and
 * -EINVAL for NULL data with a nonzero size.  On an error nothing was
 * put and nothing is left in the store.  Any thread. */
SHOAL_API int shoal_queue_put_bytes(struct shoal_runtime *rt,
				    const struct shoal_queue *q,
				    const void *data, size_t size, int timeout_ms);

/* Takes the object at the queue's head into *out: the caller holds it
 * and drops it when done (shoal_drop).  Waits for one up to timeout_ms
 * (-1: for ever, 0: not at all).  -EAGAIN (empty, timeout_ms 0),
 * -ETIMEDOUT (still empty at the timeout), -ENOENT (no such queue),
 * -EIDRM (deleted while it waited), -EINVAL (NULL rt, q or out), the
 * runtime's end code if it ended while the get waited, SHOAL_ELEDGERFULL
 * (this process holds as many objects as its ledger records: the object
 * stays queued), SHOAL_ENOSHM (its ledger cannot grow, /dev/shm is full:
 * the object stays queued).  If the object was taken but could not be held (it was
 * lost: see "Deaths" above), *out is its ID and the return is what
 * shoal_hold said (SHOAL_EEVICTED, -ENOENT, ...): the caller holds
 * nothing then, and the item is gone from the queue.  Any thread of any
 * process of the runtime. */
SHOAL_API int shoal_queue_get(struct shoal_runtime *rt, const struct shoal_queue *q,
			      int timeout_ms, shoal_id *out);

/* Objects in the queue now, or a negative code: -ENOENT (no such
 * queue), -EINVAL (NULL rt or q).  A snapshot.  Any thread. */
SHOAL_API int shoal_queue_size(struct shoal_runtime *rt, const struct shoal_queue *q);

/* Deletes the queue: the objects still in it are let go (their holds
 * dropped by whoever took them: the putting processes, the fork server),
 * its waiters wake with -EIDRM, its name is free again.  Waits for puts
 * and gets under way on it (a few instructions each; up to a second for
 * one whose process is stopped).  -ENOENT (no such queue, or deleted
 * already), -EINVAL (NULL rt or q), -ETIMEDOUT (a put or a get stayed
 * under way past a second, or another create or delete held the names'
 * lock that long: call it again), SHOAL_EREADONLY.  Any
 * thread. */
SHOAL_API int shoal_queue_delete(struct shoal_runtime *rt, const struct shoal_queue *q);

/* Appends a queue handle to a task's or call's arguments (by value, as
 * shoal_args_bytes).  -EINVAL for a NULL args or q, -ENOSPC beyond
 * SHOAL_MAX_ARGS. */
SHOAL_API int shoal_args_queue(struct shoal_args *args, const struct shoal_queue *q);
/* Argument i of a task or call as a queue handle, into *out.  -EINVAL if
 * it is not one, for a NULL task or out, or i out of range.  From the
 * task function's thread. */
SHOAL_API int shoal_task_arg_queue(const struct shoal_task *task, uint32_t i,
				   struct shoal_queue *out);

#ifdef __cplusplus
}
#endif
#endif /* SHOAL_QUEUE_H */
