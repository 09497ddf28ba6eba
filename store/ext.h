/* SPDX-License-Identifier: MIT */
/*
 * store/ext.h - what the store offers a layer above it that links nodes of
 * its own into an entry's waiter stack.
 *
 * Who may include it: the store's own files, and the layers above (the
 * runtime).  The store never calls those layers by name: a waiter reference
 * carries a kind, and each process holds its own table of handlers by kind
 * (a function pointer cannot live in the segment).  DPDK's mempool does the
 * same with its ops table and ops_index.
 *
 * Waiter references (the words of an entry's waiter stack, layout.h):
 * bits 31..29 are the kind, bits 28..0 the payload.
 *   kind 0 (SHOAL__WKIND_THREAD)  a thread's record in its process slot;
 *                                 payload: record index + 1 (waiters.c)
 *   kinds 1..6                    a node of a layer above, resolved through
 *                                 the handler registered for the kind
 *   kind 7                        reserved: UINT32_MAX closes a stack
 *
 * Handler table: process-private, one entry per kind, each set at most once
 * (CAS from NULL, release) and read with acquire, so a handler registered
 * by a library constructor or by a runtime's start is seen whole by any
 * thread that drains a stack afterwards.  A process that has no handler for
 * a node's kind (a program that links the store alone) stops its drain at
 * that node: the rest of the chain is the registering layer's to repair
 * (the runtime's fork server sweeps parked tasks) and the threads behind it
 * re-check at their wait slice.
 */
#ifndef SHOAL_STORE_EXT_H
#define SHOAL_STORE_EXT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <shoal/id.h>

struct shoal_store;

#define SHOAL__WKIND_SHIFT 29u
#define SHOAL__WKIND_THREAD 0u
#define SHOAL__WKIND_MAX 6u /* the highest kind a layer may register */
#define SHOAL__WREF_PAYLOAD_MASK ((1u << SHOAL__WKIND_SHIFT) - 1)
#define SHOAL__WREF(kind, payload)                                             \
	(((uint32_t)(kind) << SHOAL__WKIND_SHIFT) |                            \
	 ((uint32_t)(payload) & SHOAL__WREF_PAYLOAD_MASK))
#define SHOAL__WREF_KIND(ref) ((uint32_t)(ref) >> SHOAL__WKIND_SHIFT)
#define SHOAL__WREF_PAYLOAD(ref) ((uint32_t)(ref) & SHOAL__WREF_PAYLOAD_MASK)

/* A layer's handlers for the nodes of one kind.  Each is called with the
 * whole reference (kind bits included). */
struct shoal__waiter_ops {
	const char *name;
	/* How many nodes of this kind one stack can hold at most: a drain or
	 * a walk stops after that many (a chain corrupted into a cycle still
	 * ends).  0: none can be resolved now. */
	uint64_t (*max_nodes)(struct shoal_store *s);
	/* Called once per node by whoever drains the closed stack of object
	 * `id` (sealed or ended, its ID stable): settles the node and returns
	 * the next reference of the chain (0 ends it).  Must read the link
	 * before settling: a settled node may be reused at once. */
	uint32_t (*resolve)(struct shoal_store *s, uint32_t ref, shoal_id id);
	/* The next reference after node ref, settling nothing (walks). */
	uint32_t (*peek_next)(struct shoal_store *s, uint32_t ref);
};

/* Registers ops for kind (1..SHOAL__WKIND_MAX) in this process.  0, also
 * when the same ops are registered again; -EINVAL for a bad kind or ops,
 * -EEXIST if other ops hold the kind. */
int shoal__waiter_kind_register(uint32_t kind, const struct shoal__waiter_ops *ops);

/* Links the node ref (a registered kind) into id's waiter stack if id is
 * unsealed; *next is the node's link, written before the push publishes
 * the node (seq_cst CAS).  False if there is nothing to wait for: the
 * object is sealed, gone, or its stack closed meanwhile. */
bool shoal__waiters_push_node(struct shoal_store *s, shoal_id id, uint32_t ref,
			      _Atomic uint32_t *next);

/* What a walk of id's stack met: a thread of live process `pid` still
 * waiting (kind 0), or a node of another kind (pid 0). */
typedef void (*shoal__waiter_visit_fn)(void *ctx, uint32_t kind, int32_t pid);

/* Visits every node of id's stack while id is unsealed, settling nothing;
 * bounded by the number of nodes that can exist.  Returns how many nodes
 * it visited.  A racy snapshot: callers re-check what they conclude. */
uint32_t shoal__waiters_walk(struct shoal_store *s, shoal_id id,
			     shoal__waiter_visit_fn visit, void *ctx);

#endif /* SHOAL_STORE_EXT_H */
