/* SPDX-License-Identifier: MIT */
/*
 * tests/test_store_waiters.c - the closable waiter stack of an entry
 * (store/waiters.c): a get blocked on an unsealed object sleeps on a record
 * linked into the entry, and seal (or abort) wakes exactly those records.
 *
 * Handshakes read the records' states in the segment (this suite links the
 * internal library): a test seals only once it has seen the waiters linked,
 * never after a sleep.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

TestSuite(store_waiters, .init = tu_setup, .fini = tu_teardown);

#define OBJ_SIZE 4096u

struct getter {
	struct shoal_store *s;
	shoal_id id;
	int timeout_ms;
	uint64_t seed;
	int rc;
	bool intact;
	pthread_t t;
};

static void *getter_main(void *arg)
{
	struct getter *g = arg;
	struct shoal_view v;

	g->rc = shoal_get(g->s, g->id, g->timeout_ms, &v);
	if (g->rc == 0) {
		g->intact = v.size == OBJ_SIZE && tu_check(v.data, v.size, g->seed);
		shoal_release(g->s, &v);
	}
	return NULL;
}

static void start_getters(struct getter *g, size_t n, struct shoal_store *s,
			  shoal_id id, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		g[i] = (struct getter){.s = s, .id = id, .timeout_ms = 10000, .seed = seed};
		cr_assert_eq(pthread_create(&g[i].t, NULL, getter_main, &g[i]), 0);
	}
}

static uint32_t records_in(const struct shoal__proc *p, uint32_t state)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < SHOAL__PROC_WAITERS; i++)
		n += atomic_load(&p->waiters[i].state) == state;
	return n;
}

/* Bounded poll of shared state (a handshake, not a sleep). */
static bool until(bool (*cond)(void *), void *arg, int timeout_ms)
{
	int64_t end = tu_now_ms() + timeout_ms;

	while (!cond(arg)) {
		if (tu_now_ms() > end)
			return false;
		sched_yield();
	}
	return true;
}

struct linked {
	struct shoal_store *s;
	uint32_t waiting;      /* records WAITING in s->me */
	uint32_t on_event;     /* threads registered on the object event */
};

static bool linked_cond(void *arg)
{
	struct linked *l = arg;

	return records_in(l->s->me, SHOAL__W_WAITING) >= l->waiting &&
	       atomic_load(&l->s->hdr->obj.waiters) >= l->on_event;
}

static struct shoal__entry *entry_of(struct shoal_store *s, shoal_id id)
{
	uint64_t c;
	int idx = shoal__dir_lookup(s, id, &c);

	cr_assert_geq(idx, 0);
	return &s->dir[idx];
}

static void *create_unsealed(struct shoal_store *s, shoal_id id, uint64_t seed)
{
	void *data = NULL;

	tu_assert_rc(shoal_create(s, id, OBJ_SIZE, NULL, 0, 0, &data), 0);
	tu_fill(data, OBJ_SIZE, seed);
	return data;
}

static void join_all(struct getter *g, size_t n, int want_rc)
{
	for (size_t i = 0; i < n; i++) {
		pthread_join(g[i].t, NULL);
		cr_assert_eq(g[i].rc, want_rc, "getter %zu: %d (%s)", i, g[i].rc,
			     shoal_strerror(g[i].rc));
		if (want_rc == 0)
			cr_assert(g[i].intact, "getter %zu saw wrong bytes", i);
	}
}

Test(store_waiters, seal_wakes_the_threads_linked_on_the_entry)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = tu_id(1, 1);
	struct getter g[4];
	struct linked l = {.s = s, .waiting = 4};

	create_unsealed(s, id, 7);
	start_getters(g, 4, s, id, 7);
	cr_assert(until(linked_cond, &l, 5000), "getters never linked");
	cr_assert_neq(atomic_load(&entry_of(s, id)->waiters), 0);
	tu_assert_rc(shoal_seal(s, id), 0);
	join_all(g, 4, 0);
	cr_assert_eq(records_in(s->me, SHOAL__W_FREE), SHOAL__PROC_WAITERS,
		     "records not given back");
	shoal_store_close(s);
}

Test(store_waiters, more_blocked_threads_than_records_fall_back_to_the_event)
{
	enum { N = SHOAL__PROC_WAITERS + 8 };
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = tu_id(1, 2);
	struct getter g[N];
	struct linked l = {.s = s, .waiting = SHOAL__PROC_WAITERS, .on_event = 8};

	create_unsealed(s, id, 9);
	start_getters(g, N, s, id, 9);
	cr_assert(until(linked_cond, &l, 5000), "getters never all blocked");
	tu_assert_rc(shoal_seal(s, id), 0);
	join_all(g, N, 0);
	shoal_store_close(s);
}

Test(store_waiters, abort_wakes_waiters_who_then_get_the_recreated_object)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = tu_id(1, 3);
	struct getter g[2];
	struct linked l = {.s = s, .waiting = 2};
	struct linked ev = {.s = s, .on_event = 2};

	create_unsealed(s, id, 1);
	start_getters(g, 2, s, id, 2); /* they want the second version */
	cr_assert(until(linked_cond, &l, 5000));
	tu_assert_rc(shoal_abort(s, id), 0);
	/* Woken, they find no object and wait for its creation. */
	cr_assert(until(linked_cond, &ev, 5000), "aborted waiters not requeued");
	create_unsealed(s, id, 2);
	tu_assert_rc(shoal_seal(s, id), 0);
	join_all(g, 2, 0);
	shoal_store_close(s);
}

Test(store_waiters, timed_out_records_are_freed_by_the_next_seal)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = tu_id(1, 4);
	struct shoal_view v;

	create_unsealed(s, id, 5);
	for (int i = 0; i < (int)SHOAL__PROC_WAITERS + 4; i++)
		tu_assert_rc(shoal_get(s, id, 2, &v), -ETIMEDOUT);
	cr_assert_eq(records_in(s->me, SHOAL__W_ABANDONED), SHOAL__PROC_WAITERS,
		     "each timed-out wait leaves its linked record abandoned");
	tu_assert_rc(shoal_seal(s, id), 0);
	cr_assert_eq(records_in(s->me, SHOAL__W_FREE), SHOAL__PROC_WAITERS,
		     "the seal's drain frees abandoned records");
	tu_assert_rc(shoal_get(s, id, 0, &v), 0);
	cr_assert(tu_check(v.data, v.size, 5));
	shoal_release(s, &v);
	shoal_store_close(s);
}

static struct shoal__proc *slot_of_pid(struct shoal_store *s, pid_t pid)
{
	for (uint32_t i = 0; i < s->geo.max_procs; i++) {
		uint64_t st = atomic_load(&s->procs[i].state);

		if (SHOAL__PROC_PHASE(st) != SHOAL__PROC_FREE &&
		    SHOAL__PROC_PID(st) == pid)
			return &s->procs[i];
	}
	return NULL;
}

struct child_linked {
	struct shoal_store *s;
	pid_t pid;
};

static bool child_linked_cond(void *arg)
{
	struct child_linked *c = arg;
	struct shoal__proc *p = slot_of_pid(c->s, c->pid);

	return p && records_in(p, SHOAL__W_WAITING) == 1;
}

static pid_t fork_getter(struct shoal_store *parent, shoal_id id, uint64_t seed)
{
	int fd = shoal_store_fd(parent);
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c;
		struct shoal_view v;
		int rc = shoal_store_attach_fd(fd, &c);

		if (!rc)
			rc = shoal_get(c, id, 10000, &v);
		if (!rc && !(v.size == OBJ_SIZE && tu_check(v.data, v.size, seed)))
			_exit(TU_EXIT_MISMATCH);
		_exit(tu_err_to_exit(rc));
	}
	return pid;
}

Test(store_waiters, seal_wakes_a_getter_in_another_process)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = tu_id(1, 5);
	struct child_linked cl = {.s = s};

	create_unsealed(s, id, 11);
	cl.pid = fork_getter(s, id, 11);
	cr_assert(until(child_linked_cond, &cl, 5000), "child never linked");
	tu_assert_rc(shoal_seal(s, id), 0);
	cr_assert_eq(tu_wait_result(cl.pid), 0);
	shoal_store_close(s);
}

Test(store_waiters, a_killed_waiters_record_is_freed_by_reap_and_seal)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = tu_id(1, 6);
	struct child_linked cl = {.s = s};
	struct shoal__proc *p;
	struct shoal_view v;

	create_unsealed(s, id, 13);
	cl.pid = fork_getter(s, id, 13);
	cr_assert(until(child_linked_cond, &cl, 5000));
	p = slot_of_pid(s, cl.pid);
	tu_kill(cl.pid);
	cr_assert_geq(shoal_store_reap(s), 1);
	cr_assert_eq(records_in(p, SHOAL__W_ABANDONED), 1,
		     "a dead owner's linked record is abandoned");
	tu_assert_rc(shoal_seal(s, id), 0);
	cr_assert_eq(records_in(p, SHOAL__W_FREE), SHOAL__PROC_WAITERS);
	tu_assert_rc(shoal_get(s, id, 0, &v), 0);
	shoal_release(s, &v);
	shoal_store_close(s);
}

/* ------------------------------------------------------------------ */
/* Nodes of other kinds (store/ext.h): a layer above links its own nodes
 * into the stack and the store calls that layer's handlers by kind, never
 * by name.  The test is that layer here: its nodes are links in this
 * process's memory. */

#define TEST_KIND 5u
#define TEST_NODES 4u

static _Atomic uint32_t node_next[TEST_NODES];
static shoal_id node_resolved_for[TEST_NODES];
static _Atomic uint32_t node_resolved[TEST_NODES];

static uint64_t test_max_nodes(struct shoal_store *s)
{
	(void)s;
	return TEST_NODES;
}

static uint32_t test_resolve(struct shoal_store *s, uint32_t ref, shoal_id id)
{
	uint32_t i = SHOAL__WREF_PAYLOAD(ref);

	(void)s;
	cr_assert_lt(i, TEST_NODES);
	node_resolved_for[i] = id;
	atomic_fetch_add(&node_resolved[i], 1);
	return atomic_load(&node_next[i]);
}

static uint32_t test_peek_next(struct shoal_store *s, uint32_t ref)
{
	(void)s;
	return atomic_load(&node_next[SHOAL__WREF_PAYLOAD(ref) % TEST_NODES]);
}

static const struct shoal__waiter_ops test_ops = {
	.name = "test",
	.max_nodes = test_max_nodes,
	.resolve = test_resolve,
	.peek_next = test_peek_next,
};

Test(store_waiters, a_kind_is_registered_once_and_only_whole)
{
	struct shoal__waiter_ops half = test_ops, other = test_ops;

	half.peek_next = NULL;
	tu_assert_rc(shoal__waiter_kind_register(SHOAL__WKIND_THREAD, &test_ops), -EINVAL);
	tu_assert_rc(shoal__waiter_kind_register(SHOAL__WKIND_MAX + 1, &test_ops), -EINVAL);
	tu_assert_rc(shoal__waiter_kind_register(TEST_KIND, NULL), -EINVAL);
	tu_assert_rc(shoal__waiter_kind_register(TEST_KIND, &half), -EINVAL);
	tu_assert_rc(shoal__waiter_kind_register(TEST_KIND, &test_ops), 0);
	tu_assert_rc(shoal__waiter_kind_register(TEST_KIND, &test_ops), 0);
	tu_assert_rc(shoal__waiter_kind_register(TEST_KIND, &other), -EEXIST);
}

struct walk_seen {
	uint32_t threads, nodes;
	int32_t pid;
};

static void walk_count(void *ctx, uint32_t kind, int32_t pid)
{
	struct walk_seen *w = ctx;

	if (kind == SHOAL__WKIND_THREAD) {
		w->threads++;
		w->pid = pid;
	} else if (kind == TEST_KIND) {
		w->nodes++;
	}
}

/* Two nodes of the test's kind between thread records: a walk sees all
 * of them, and the seal resolves each node once, with the object's ID,
 * and wakes the threads linked before and after them. */
Test(store_waiters, seal_calls_the_handler_of_each_node_by_kind)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = tu_id(1, 5);
	struct getter g[2];
	struct linked l = {.s = s, .waiting = 1};
	struct walk_seen w = {0};

	tu_assert_rc(shoal__waiter_kind_register(TEST_KIND, &test_ops), 0);
	create_unsealed(s, id, 9);
	start_getters(g, 1, s, id, 9);
	cr_assert(until(linked_cond, &l, 5000), "getter never linked");
	for (uint32_t i = 0; i < 2; i++)
		cr_assert(shoal__waiters_push_node(s, id, SHOAL__WREF(TEST_KIND, i),
						   &node_next[i]));
	start_getters(g + 1, 1, s, id, 9);
	l.waiting = 2;
	cr_assert(until(linked_cond, &l, 5000), "second getter never linked");
	cr_assert_eq(shoal__waiters_walk(s, id, walk_count, &w), 4);
	cr_assert_eq(w.threads, 2);
	cr_assert_eq(w.nodes, 2);
	cr_assert_eq(w.pid, getpid());
	tu_assert_rc(shoal_seal(s, id), 0);
	join_all(g, 2, 0);
	for (uint32_t i = 0; i < 2; i++) {
		cr_assert_eq(atomic_load(&node_resolved[i]), 1, "node %u", i);
		cr_assert(shoal_id_eq(node_resolved_for[i], id));
	}
	/* Sealed: nothing to link, nothing to walk. */
	cr_assert_not(shoal__waiters_push_node(s, id, SHOAL__WREF(TEST_KIND, 2),
					       &node_next[2]));
	cr_assert_eq(shoal__waiters_walk(s, id, walk_count, &w), 0);
	shoal_store_close(s);
}

/* A chain corrupted into a cycle of nodes ends at the kind's bound. */
Test(store_waiters, a_cycle_of_nodes_ends_at_the_kinds_bound)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = tu_id(1, 6);
	struct walk_seen w = {0};

	tu_assert_rc(shoal__waiter_kind_register(TEST_KIND, &test_ops), 0);
	create_unsealed(s, id, 3);
	cr_assert(shoal__waiters_push_node(s, id, SHOAL__WREF(TEST_KIND, 0),
					   &node_next[0]));
	atomic_store(&node_next[0], SHOAL__WREF(TEST_KIND, 0)); /* itself */
	cr_assert_eq(shoal__waiters_walk(s, id, walk_count, &w), TEST_NODES);
	tu_assert_rc(shoal_seal(s, id), 0);
	cr_assert_eq(atomic_load(&node_resolved[0]), TEST_NODES);
	shoal_store_close(s);
}

/* A node whose kind this process has no handler for (a program that
 * links the store alone meets a runtime's task node) ends the drain
 * there; a thread linked behind it still gets the object, at its slice. */
Test(store_waiters, a_node_of_an_unknown_kind_does_not_lose_the_threads_behind_it)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = tu_id(1, 7);
	struct getter g[1];
	struct linked l = {.s = s, .waiting = 1};
	_Atomic uint32_t link = 0;

	create_unsealed(s, id, 4);
	start_getters(g, 1, s, id, 4);
	cr_assert(until(linked_cond, &l, 5000), "getter never linked");
	cr_assert(shoal__waiters_push_node(s, id, SHOAL__WREF(SHOAL__WKIND_MAX, 0),
					   &link));
	tu_assert_rc(shoal_seal(s, id), 0);
	join_all(g, 1, 0);
	shoal_store_close(s);
}
