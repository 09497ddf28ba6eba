/* SPDX-License-Identifier: MIT */
/*
 * tests/test_store_reap.c - processes that die holding store state.
 *
 * A child (forked, or store_peer exec'd) attaches, takes pins / holds /
 * an unsealed object, says so through a pipe, and is SIGKILLed and reaped
 * by waitpid before the test looks: from then on it is dead for certain.
 * The store learns of the death only when someone reaps (shoal_store_reap,
 * an attach, or a wait that times out); after that its pins and holds are
 * gone, its unsealed object is aborted and its slot is free.
 */
#include "testutil.h"
#include "ext.h"
#include <sys/resource.h>

TestSuite(store_reap, .init = tu_setup, .fini = tu_teardown);

#define MiB (1024u * 1024u)
#define KiB 1024u
#define OBJ (64 * KiB)

/* A forked child that attaches through fd, pins ids[0..npin) and holds
 * ids[0..nhold), writes 'k' to ready_fd and blocks forever (until
 * killed).  It never releases anything. */
static pid_t doomed_child(struct shoal_store *s, const shoal_id *ids,
			  int npin, int nhold, int ready_fd)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		struct shoal_view v;
		int r = shoal_store_attach_fd(shoal_store_fd(s), &c);

		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		for (int i = 0; i < npin; i++) {
			r = shoal_get(c, ids[i], 0, &v);
			TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
			/* a second pin of the first object */
			if (i == 0) {
				r = shoal_get(c, ids[i], 0, &v);
				TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
			}
		}
		for (int i = 0; i < nhold; i++) {
			r = shoal_hold(c, ids[i]);
			TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		}
		tu_child_write_byte(ready_fd, 'k');
		for (;;)
			pause();
	}
	return pid;
}

Test(store_reap, killed_reader_pins_are_reaped)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id ids[4];
	int ready[2];
	pid_t child;
	struct shoal_store_stats st, before;

	for (int i = 0; i < 4; i++) {
		ids[i] = tu_id(1, (uint64_t)i);
		tu_assert_rc(tu_put(s, ids[i], OBJ, (uint64_t)i, 0), 0);
		tu_assert_rc(shoal_drop(s, ids[i]), 0);
	}
	tu_pipe(ready);
	child = doomed_child(s, ids, 3, 0, ready[1]);
	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'k');
	cr_assert_eq(tu_info(s, ids[0]).pins, 2);
	cr_assert_eq(tu_info(s, ids[1]).pins, 1);
	cr_assert_eq(tu_stats(s).processes, 2);

	tu_kill(child);
	/* nobody has reaped yet: the slot is still taken */
	tu_assert_rc(shoal_store_reap(s), 1);
	st = tu_stats(s);
	cr_assert_eq(st.processes, 1);
	cr_assert_eq(st.reaped, 1);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(tu_info(s, ids[i]).pins, 0, "object %d", i);
	tu_assert_rc(shoal_store_reap(s), 0); /* only once */

	/* with no pin left, a delete frees the memory at once */
	before = tu_stats(s);
	tu_assert_rc(shoal_delete(s, ids[0]), 0);
	st = tu_stats(s);
	cr_assert_eq(st.bytes_used, before.bytes_used - OBJ);
	cr_assert_not(tu_listed(s, ids[0]));
	for (int i = 1; i < 4; i++)
		tu_assert_rc(tu_get_check(s, ids[i], OBJ, (uint64_t)i, 0), 0);
	shoal_store_close(s);
}

Test(store_reap, object_deleted_while_a_killed_reader_pinned_it_is_freed)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = tu_id(1, 1);
	int ready[2];
	pid_t child;
	struct shoal_store_stats before, st;

	tu_assert_rc(tu_put(s, id, OBJ, 1, 0), 0);
	tu_pipe(ready);
	child = doomed_child(s, &id, 1, 0, ready[1]);
	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'k');
	before = tu_stats(s);
	tu_assert_rc(shoal_delete(s, id), 0);
	/* pinned by the child: deferred */
	cr_assert_eq(tu_info(s, id).state, SHOAL_OBJECT_DELETING);
	cr_assert_eq(tu_stats(s).bytes_used, before.bytes_used);

	tu_kill(child);
	tu_assert_rc(shoal_store_reap(s), 1);
	/* the reaper's unpin was the last: the object's memory is gone */
	st = tu_stats(s);
	cr_assert_eq(st.bytes_used, before.bytes_used - OBJ);
	cr_assert_eq(st.objects, before.objects - 1);
	cr_assert_not(tu_listed(s, id));
	{
		struct shoal_view v;

		tu_assert_rc(shoal_get(s, id, 0, &v), SHOAL_EDELETED);
	}
	shoal_store_close(s);
}

Test(store_reap, attach_reaps_dead_processes)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = tu_id(1, 1);
	int ready[2];
	pid_t child, second;

	tu_assert_rc(tu_put(s, id, OBJ, 1, 0), 0);
	tu_pipe(ready);
	child = doomed_child(s, &id, 1, 1, ready[1]);
	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'k');
	cr_assert_eq(tu_info(s, id).pins, 2);
	cr_assert_eq(tu_info(s, id).holds, 2);
	tu_kill(child);

	/* another process attaches: that alone reaps the dead one */
	second = tu_fork();
	if (second == 0) {
		struct shoal_store *c = NULL;
		struct shoal_store_stats cst;
		int r = shoal_store_attach_fd(shoal_store_fd(s), &c);

		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		TU_CHILD_CHECK(shoal_store_stats(c, &cst) == 0, 20);
		TU_CHILD_CHECK(cst.reaped == 1, 21);
		TU_CHILD_CHECK(cst.processes == 2, 22); /* test + this one */
		shoal_store_close(c);
		_exit(0);
	}
	tu_assert_rc(tu_wait_result(second), 0);
	cr_assert_eq(tu_stats(s).reaped, 1);
	cr_assert_eq(tu_stats(s).processes, 1);
	cr_assert_eq(tu_info(s, id).pins, 0);
	cr_assert_eq(tu_info(s, id).holds, 1); /* the test's own */
	tu_assert_rc(shoal_store_reap(s), 0);
	shoal_store_close(s);
}

Test(store_reap, timed_out_wait_reaps_dead_processes)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = tu_id(1, 1);
	struct shoal_view v;
	int ready[2];
	pid_t child;

	tu_assert_rc(tu_put(s, id, OBJ, 1, 0), 0);
	tu_pipe(ready);
	child = doomed_child(s, &id, 1, 0, ready[1]);
	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'k');
	tu_kill(child);
	/* store.h: "the next process ... whose wait times out, reaps" */
	tu_assert_rc(shoal_get(s, tu_id(9, 9), 20, &v), -ETIMEDOUT);
	cr_assert_eq(tu_stats(s).reaped, 1);
	cr_assert_eq(tu_stats(s).processes, 1);
	cr_assert_eq(tu_info(s, id).pins, 0);
	shoal_store_close(s);
}

Test(store_reap, killed_holder_objects_become_evictable)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id ids[3];
	int ready[2];
	pid_t child;
	struct shoal_view v;

	for (int i = 0; i < 3; i++) {
		ids[i] = tu_id(1, (uint64_t)i);
		tu_assert_rc(tu_put(s, ids[i], OBJ, (uint64_t)i, 0), 0);
		tu_assert_rc(shoal_drop(s, ids[i]), 0);
	}
	tu_pipe(ready);
	child = doomed_child(s, ids, 0, 3, ready[1]);
	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'k');
	for (int i = 0; i < 3; i++)
		cr_assert_eq(tu_info(s, ids[i]).holds, 1);
	/* held by the child: not evictable */
	tu_assert_rc(shoal_evict(s, UINT64_MAX), 0);
	cr_assert_eq(tu_stats(s).evictions, 0);

	tu_kill(child);
	tu_assert_rc(shoal_store_reap(s), 1);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(tu_info(s, ids[i]).holds, 0);
	cr_assert_geq(shoal_evict(s, UINT64_MAX), (int)(3 * OBJ));
	cr_assert_eq(tu_stats(s).evictions, 3);
	for (int i = 0; i < 3; i++)
		tu_assert_rc(shoal_get(s, ids[i], 0, &v), SHOAL_EEVICTED);
	shoal_store_close(s);
}

/*
 * store.h: a dead process's unsealed object "is aborted", and a get that
 * finds it returns SHOAL_EOWNERDIED (Ray's OwnerDiedError) from the
 * tombstone the abort leaves, until that entry is reused.
 */
Test(store_reap, killed_creator_unsealed_object_is_aborted)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = tu_id(1, 1);
	const size_t size = 256 * KiB;
	int ready[2], r;
	pid_t child;
	struct shoal_view v;
	struct shoal_store_stats before, st;

	tu_assert_rc(tu_put(s, tu_id(2, 2), 1000, 2, 0), 0);
	before = tu_stats(s);
	tu_pipe(ready);
	child = tu_fork();
	if (child == 0) {
		struct shoal_store *c = NULL;
		void *data = NULL;

		r = shoal_store_attach_fd(shoal_store_fd(s), &c);
		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		r = shoal_create(c, id, size, "mm", 2, 0, &data);
		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		tu_fill(data, size, 1);
		tu_child_write_byte(ready[1], 'k');
		for (;;)
			pause();
	}
	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'k');
	st = tu_stats(s);
	cr_assert_eq(st.objects, before.objects + 1);
	cr_assert_eq(st.bytes_used, before.bytes_used + size + 2);
	cr_assert_eq(tu_info(s, id).state, SHOAL_OBJECT_CREATED);
	cr_assert_eq(tu_info(s, id).creator_pid, child);
	tu_assert_rc(shoal_seal(s, id), -EPERM); /* not ours, alive or dead */

	tu_kill(child);
	tu_assert_rc(shoal_store_reap(s), 1);
	st = tu_stats(s);
	cr_assert_eq(st.objects, before.objects);
	cr_assert_eq(st.bytes_used, before.bytes_used);
	cr_assert_not(tu_listed(s, id));
	tu_assert_rc(shoal_contains(s, id), 0);
	r = shoal_get(s, id, 0, &v);
	cr_assert_eq(r, SHOAL_EOWNERDIED,
		     "get after the creator died: %d (%s)", r, shoal_strerror(r));
	/* the ID is free again */
	tu_assert_rc(tu_create_sealed(s, id, 5000, 9, 0), 0);
	tu_assert_rc(tu_get_check(s, id, 5000, 9, 0), 0);
	tu_assert_rc(tu_get_check(s, tu_id(2, 2), 1000, 2, 0), 0);
	shoal_store_close(s);
}

/*
 * Issue 8 (found by the chaos program): a process blocked, with no
 * timeout, on an unsealed object whose creator is killed must not wait for
 * ever (an actor waiting for a dead caller's argument did).  Its own wait
 * reaps the creator within a slice and finds the OWNERDIED tombstone.
 */
Test(store_reap, a_get_blocked_on_a_killed_creators_object_fails_owner_died)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = tu_id(1, 7);
	int ready[2], st;
	pid_t creator, getter;

	tu_pipe(ready);
	creator = tu_fork();
	if (creator == 0) {
		struct shoal_store *c = NULL;
		void *data = NULL;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, 2);
		TU_CHILD_CHECK(shoal_create(c, id, 5000, NULL, 0, 0, &data) == 0, 3);
		tu_child_write_byte(ready[1], 'k');
		for (;;)
			pause();
	}
	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'k');
	getter = tu_fork();
	if (getter == 0) {
		struct shoal_store *c = NULL;
		struct shoal_view v;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, 2);
		_exit(shoal_get(c, id, -1, &v) == SHOAL_EOWNERDIED ? 0 : 4);
	}
	cr_assert(tu_wait_sleeping(getter, 5000), "the getter never blocked");
	tu_kill(creator);
	st = tu_wait_status(getter, 5000);
	cr_assert_neq(st, -1, "the getter still waits for a dead creator's object");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the getter's get: exit %d",
		  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	shoal_store_close(s);
}

/*
 * A create waiting for room that only a dead process's holds take: the
 * waiter learns of the death by itself.  store.h: a process reaps when
 * "its wait times out"; the store's waits time out internally every
 * second to do so (a create "waits up to its timeout for holds or pins to
 * go", and a dead holder's holds go when it is reaped), so the create
 * succeeds well before its own 10 s timeout, with nobody calling
 * shoal_store_reap.  Afterwards the whole capacity must be usable again:
 * the waiter's create took one block, not more.
 */
Test(store_reap, create_waiting_for_room_held_by_a_killed_process)
{
	struct shoal_store *s = tu_store(MiB);
	int full[2], ready[2];
	pid_t holder, waiter;
	uint8_t nfull;
	int n = 0, r;
	struct shoal_store_stats st;

	tu_pipe(full);
	tu_pipe(ready);
	holder = tu_fork();
	if (holder == 0) {
		struct shoal_store *c = NULL;
		uint8_t k = 0;

		r = shoal_store_attach_fd(shoal_store_fd(s), &c);
		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		while ((r = tu_put(c, tu_id(1, k), OBJ, k, 0)) == 0)
			TU_CHILD_CHECK(++k < 100, 50);
		TU_CHILD_CHECK(r == SHOAL_ESTOREFULL, tu_err_to_exit(r));
		TU_CHILD_CHECK(write(full[1], &k, 1) == 1, TU_EXIT_IO);
		for (;;)
			pause();
	}
	cr_assert_eq(read(full[0], &nfull, 1), 1);
	cr_assert_gt(nfull, 4);

	waiter = tu_fork();
	if (waiter == 0) {
		struct shoal_store *c = NULL;
		void *data = NULL;

		r = shoal_store_attach_fd(shoal_store_fd(s), &c);
		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		tu_child_write_byte(ready[1], 'c');
		r = shoal_create(c, tu_id(2, 0), OBJ, NULL, 0, 10000, &data);
		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		tu_fill(data, OBJ, 99);
		r = shoal_seal(c, tu_id(2, 0));
		shoal_store_close(c);
		_exit(tu_err_to_exit(r));
	}
	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'c');
	cr_assert(tu_wait_sleeping(waiter, 5000), "creator is not waiting");
	tu_kill(holder);
	tu_assert_rc(tu_wait_result(waiter), 0);
	tu_assert_rc(tu_get_check(s, tu_id(2, 0), OBJ, 99, 0), 0);
	st = tu_stats(s);
	cr_assert_eq(st.reaped, 1);
	cr_assert_eq(st.processes, 1);

	/* nothing leaked: as many objects fit as before */
	while ((r = tu_put(s, tu_id(3, (uint64_t)n), OBJ, (uint64_t)n, 0)) == 0)
		cr_assert_lt(++n, 100);
	tu_assert_rc(r, SHOAL_ESTOREFULL);
	st = tu_stats(s);
	cr_assert_eq(n, nfull,
		     "%d objects of 64 KiB fit after the wait, %u before "
		     "(bytes_used %" PRIu64 ", heap_bytes_reserved %" PRIu64
		     ")",
		     n, nfull, st.bytes_used, st.heap_bytes_reserved);
	shoal_store_close(s);
}

Test(store_reap, processes_are_counted_and_freed)
{
	struct shoal_store *s = tu_store(4 * MiB);
	int ready[2], quit[3][2];
	pid_t kids[3];
	struct shoal_store_stats st;

	cr_assert_eq(tu_stats(s).processes, 1);
	tu_pipe(ready);
	/* three children attach: 0 closes and exits, 1 exits without
	 * closing, 2 is killed */
	for (int k = 0; k < 3; k++) {
		tu_pipe(quit[k]);
		kids[k] = tu_fork();
		if (kids[k] == 0) {
			struct shoal_store *c = NULL;
			int r = shoal_store_attach_fd(shoal_store_fd(s), &c);

			TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
			tu_child_write_byte(ready[1], 'a');
			tu_child_read_byte(quit[k][0]);
			if (k == 0)
				shoal_store_close(c);
			_exit(0);
		}
	}
	for (int k = 0; k < 3; k++)
		cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'a');
	cr_assert_eq(tu_stats(s).processes, 4);

	/* a clean close frees the slot at once, with no reaping */
	tu_write_byte(quit[0][1], 'q');
	tu_assert_rc(tu_wait_result(kids[0]), 0);
	st = tu_stats(s);
	cr_assert_eq(st.processes, 3);
	cr_assert_eq(st.reaped, 0);

	/* an exit without close: dead, counted until reaped */
	tu_write_byte(quit[1][1], 'q');
	tu_assert_rc(tu_wait_result(kids[1]), 0);
	tu_kill(kids[2]);
	tu_assert_rc(shoal_store_reap(s), 2);
	st = tu_stats(s);
	cr_assert_eq(st.processes, 1);
	cr_assert_eq(st.reaped, 2);
	tu_assert_rc(shoal_store_reap(s), 0);
	shoal_store_close(s);
}

Test(store_reap, exec_peer_killed_while_pinning)
{
	const char *name;
	struct shoal_store *s = tu_named_store(4 * MiB, &name);
	shoal_id id = tu_id(1, 1);
	char h[SHOAL_ID_HEX_LEN + 1];
	int from_peer, to_peer;
	pid_t peer;
	struct shoal_store_stats before, st;

	tu_assert_rc(tu_put(s, id, OBJ, 5, 0), 0);
	tu_assert_rc(shoal_drop(s, id), 0);
	shoal_id_format(id, h);
	peer = tu_spawn_peer((const char *[]){"pin-and-wait", name, h, "65536",
					      "5", NULL},
			     &to_peer, &from_peer);
	cr_assert_eq(tu_read_byte(from_peer, TU_CHILD_DEADLINE_MS), 'R');
	cr_assert_eq(tu_read_byte(from_peer, TU_CHILD_DEADLINE_MS), 'P');
	cr_assert_eq(tu_info(s, id).pins, 1);
	cr_assert_eq(tu_stats(s).processes, 2);

	tu_kill(peer);
	tu_assert_rc(shoal_store_reap(s), 1);
	cr_assert_eq(tu_info(s, id).pins, 0);
	cr_assert_eq(tu_stats(s).processes, 1);
	before = tu_stats(s);
	tu_assert_rc(shoal_delete(s, id), 0);
	st = tu_stats(s);
	cr_assert_eq(st.bytes_used, before.bytes_used - OBJ);
	cr_assert_not(tu_listed(s, id));
	close(to_peer);
	close(from_peer);
	shoal_store_close(s);
}

Test(store_reap, exec_peer_killed_while_creating)
{
	const char *name;
	struct shoal_store *s = tu_named_store(4 * MiB, &name);
	shoal_id id = tu_id(1, 1);
	char h[SHOAL_ID_HEX_LEN + 1];
	int from_peer, to_peer;
	pid_t peer;

	shoal_id_format(id, h);
	peer = tu_spawn_peer((const char *[]){"create-unsealed", name, h,
					      "300000", "3", NULL},
			     &to_peer, &from_peer);
	cr_assert_eq(tu_read_byte(from_peer, TU_CHILD_DEADLINE_MS), 'R');
	cr_assert_eq(tu_read_byte(from_peer, TU_CHILD_DEADLINE_MS), 'C');
	cr_assert_eq(tu_info(s, id).state, SHOAL_OBJECT_CREATED);
	cr_assert_eq(tu_stats(s).bytes_used, 300000);
	tu_kill(peer);
	tu_assert_rc(shoal_store_reap(s), 1);
	cr_assert_eq(tu_stats(s).bytes_used, 0);
	cr_assert_eq(tu_stats(s).objects, 0);
	tu_assert_rc(tu_create_sealed(s, id, 300000, 4, 0), 0);
	tu_assert_rc(tu_get_check(s, id, 300000, 4, 0), 0);
	close(to_peer);
	close(from_peer);
	shoal_store_close(s);
}

Test(store_reap, reap_with_nobody_dead_is_a_no_op)
{
	struct shoal_store *s = tu_store(MiB);
	int ready[2], quit[2];
	pid_t child;

	tu_pipe(ready);
	tu_pipe(quit);
	child = tu_fork();
	if (child == 0) {
		struct shoal_store *c = NULL;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0,
			       10);
		tu_child_write_byte(ready[1], 'a');
		tu_child_read_byte(quit[0]);
		shoal_store_close(c);
		_exit(0);
	}
	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'a');
	/* a live process is never reaped */
	tu_assert_rc(shoal_store_reap(s), 0);
	cr_assert_eq(tu_stats(s).processes, 2);
	tu_write_byte(quit[1], 'q');
	tu_assert_rc(tu_wait_result(child), 0);
	tu_assert_rc(shoal_store_reap(s), 0);
	cr_assert_eq(tu_stats(s).processes, 1);
	cr_assert_eq(tu_stats(s).reaped, 0);
	shoal_store_close(s);
}

/*
 * Found by the chaos program in a coverage build: a get with a 22 ms
 * timeout returned after 1061 ms.  Its wait timed out and reaped a killed
 * process that had orphans, and that reap scanned the whole directory
 * (64 MiB by default, about a second under gcov) inside the get.  A reap
 * that a wait runs now scans only within its caller's timeout (a chunk
 * at least, proc.c "Work") and leaves the rest to the next reap.
 * Here three killed processes with orphans in a directory of 4 M slots
 * (256 MiB): their whole scans take about a second even in the normal
 * build; a 20 ms get must return well within 300 ms, and an explicit reap
 * afterwards finishes the scans and aborts every orphan.
 */
Test(store_reap, a_short_get_does_not_pay_for_a_dead_processs_orphan_scan,
     .timeout = 60)
{
	struct shoal_store_options o = tu_opts(4 * MiB);
	struct shoal_store *s = NULL;
	shoal_id ids[3];
	pid_t kids[3];
	struct shoal_view v;
	int ready[2];
	int64_t t0, ms;

	o.max_objects = 1u << 20;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	tu_pipe(ready);
	/* All alive before any dies: an attach reaps the dead. */
	for (int i = 0; i < 3; i++) {
		ids[i] = tu_id(3, (uint64_t)i);
		kids[i] = tu_orphaning_child(s, ids[i], ready[1]);
	}
	for (int i = 0; i < 3; i++)
		cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'k');
	for (int i = 0; i < 3; i++)
		tu_kill(kids[i]);
	t0 = tu_now_ms();
	tu_assert_rc(shoal_get(s, tu_id(9, 9), 20, &v), -ETIMEDOUT);
	ms = tu_now_ms() - t0;
	cr_assert_lt(ms, 300, "a 20 ms get took %" PRId64 " ms", ms);
	tu_assert_rc(shoal_store_reap(s), 3);
	for (int i = 0; i < 3; i++)
		tu_assert_rc(shoal_get(s, ids[i], 0, &v), SHOAL_EOWNERDIED);
	cr_assert_eq(tu_stats(s).processes, 1);
	shoal_store_close(s);
}

/* A reaper that cannot open /proc (its file table full: EMFILE) learns
 * nothing about a peer's death, and must not reap it: a live reader's
 * pin given back would let the object be freed under it.  R attaches,
 * fills its file table, then reaps; A (alive, pinning x) and the test's
 * own slot must stay. */
Test(store_reap, a_reaper_out_of_file_descriptors_reaps_nobody_alive)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id x = tu_id(1, 77);
	int ready[2], quit[2];
	pid_t a, r;

	tu_assert_rc(tu_put(s, x, OBJ / 4, 5, 0), 0);
	tu_pipe(ready);
	tu_pipe(quit);
	a = tu_fork();
	if (a == 0) {
		struct shoal_store *c = NULL;
		struct shoal_view v;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, 10);
		TU_CHILD_CHECK(shoal_get(c, x, 0, &v) == 0, 11);
		tu_child_write_byte(ready[1], 'a');
		tu_child_read_byte(quit[0]);
		TU_CHILD_CHECK(shoal_release(c, &v) == 0, 12);
		shoal_store_close(c);
		_exit(0);
	}
	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'a');
	cr_assert_eq(tu_info(s, x).pins, 1);
	r = tu_fork();
	if (r == 0) {
		struct shoal_store *c = NULL;
		struct rlimit rl = {.rlim_cur = 64, .rlim_max = 64};
		int n;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, 10);
		TU_CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, 13);
		while (dup(shoal_store_fd(c)) >= 0)
			;
		TU_CHILD_CHECK(errno == EMFILE, 14);
		n = shoal_store_reap(c);
		_exit(n < 0 ? 15 : 20 + n); /* no close: it needs no file */
	}
	tu_assert_rc(tu_wait_exit(r), 20, "R reaped live processes (20 + n)");
	tu_assert_rc(shoal_store_reap(s), 1, "R's own slot"); /* R is gone */
	cr_assert_eq(tu_info(s, x).pins, 1, "A's pin was given back while A "
		     "lives: x may be freed under its reader");
	cr_assert_eq(tu_stats(s).processes, 2);
	tu_write_byte(quit[1], 'q');
	tu_assert_rc(tu_wait_result(a), 0);
	shoal_store_close(s);
}

/* A process that cannot read its own start time (one file left: the
 * attach's dup takes it, and /proc/self/stat finds none) must not take a
 * slot: a slot without a start time stays "alive" while its pid exists,
 * after its owner's death too, once the pid is reused.  The attach fails
 * with -EMFILE and takes no slot; with a file more it works. */
Test(store_reap, an_attach_that_cannot_read_its_start_time_takes_no_slot)
{
	struct shoal_store *s = tu_store(MiB);
	pid_t r = tu_fork();

	if (r == 0) {
		struct shoal_store *c = NULL;
		struct rlimit rl = {.rlim_cur = 64, .rlim_max = 64};
		int fds[64], n = 0, rc;

		TU_CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, 10);
		while (n < 64 && (fds[n] = dup(shoal_store_fd(s))) >= 0)
			n++;
		TU_CHILD_CHECK(errno == EMFILE && n > 2, 11);
		close(fds[--n]); /* one left: the attach's dup takes it */
		rc = shoal_store_attach_fd(shoal_store_fd(s), &c);
		TU_CHILD_CHECK(rc == -EMFILE, 20 + (rc < 0 ? -rc % 50 : 60));
		close(fds[--n]);
		close(fds[--n]); /* two left: the dup and /proc's */
		rc = shoal_store_attach_fd(shoal_store_fd(s), &c);
		TU_CHILD_CHECK(rc == 0, 12);
		shoal_store_close(c);
		_exit(0);
	}
	tu_assert_rc(tu_wait_result(r), 0, "20+: the first attach's -errno, "
		     "80: it succeeded (without a start time)");
	cr_assert_eq(tu_stats(s).processes, 1, "a slot was left behind");
	shoal_store_close(s);
}

/* The same for shoal__pid_alive (the runtime's end asks it of children
 * that hold no store slot): a process that cannot open /proc may not
 * take a live pid for gone.  P is a plain child (no slot); R fills its
 * file table and asks. */
Test(store_reap, a_pid_is_not_taken_for_gone_by_a_process_out_of_file_descriptors)
{
	struct shoal_store *s = tu_store(MiB);
	int quit[2];
	pid_t p, r;

	tu_pipe(quit);
	p = tu_fork();
	if (p == 0) {
		tu_child_read_byte(quit[0]);
		_exit(0);
	}
	r = tu_fork();
	if (r == 0) {
		struct rlimit rl = {.rlim_cur = 64, .rlim_max = 64};

		TU_CHILD_CHECK(shoal__pid_alive(s, p, 0), 10);
		TU_CHILD_CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0, 11);
		while (dup(shoal_store_fd(s)) >= 0)
			;
		TU_CHILD_CHECK(errno == EMFILE, 12);
		_exit(shoal__pid_alive(s, p, 0) ? 0 : 13);
	}
	tu_assert_rc(tu_wait_exit(r), 0, "a live pid taken for gone (13)");
	tu_write_byte(quit[1], 'q');
	tu_assert_rc(tu_wait_result(p), 0);
	shoal_store_close(s);
}
