/* SPDX-License-Identifier: MIT */
/*
 * tests/test_store_multiproc.c - one segment, several real processes:
 * forked children that open their own handle (shoal_store_attach or
 * shoal_store_attach_fd, never the handle inherited through fork) and
 * store_peer, exec'd, which maps the segment at an address of its own.
 *
 * Waits are handshakes through pipes.  When a test needs a process to be
 * really asleep inside a store wait before it wakes it, it reads the
 * process's "about to wait" byte, then observes it asleep in a futex
 * (tu_wait_sleeping); the assertions are on the wait's result and on
 * the wait ending within TU_WAKE_LATENCY_MS of the event (the store's own
 * periodic re-check would end it within a second even if the wake-up
 * were lost; see testutil.h).
 */
#include "testutil.h"

TestSuite(store_multiproc, .init = tu_setup, .fini = tu_teardown);

#define MiB (1024u * 1024u)
#define KiB 1024u
#define LONG_WAIT_MS 10000

/* A child's own handle on the parent's store. */
static struct shoal_store *child_attach_fd(int fd)
{
	struct shoal_store *c = NULL;
	int r = shoal_store_attach_fd(fd, &c);

	if (r != 0)
		_exit(tu_err_to_exit(r));
	return c;
}

static struct shoal_store *child_attach_name(const char *name)
{
	struct shoal_store *c = NULL;
	int r = shoal_store_attach(name, &c);

	if (r != 0)
		_exit(tu_err_to_exit(r));
	return c;
}

static void hex(shoal_id id, char buf[SHOAL_ID_HEX_LEN + 1])
{
	shoal_id_format(id, buf);
}

/* Runs store_peer get on id with a check of size/seed; returns the pid;
 * *out receives its stdout. */
static pid_t peer_get(const char *seg, shoal_id id, int timeout_ms,
		      size_t size, uint64_t seed, int *out)
{
	char h[SHOAL_ID_HEX_LEN + 1], t[24], n[24], sd[24];

	hex(id, h);
	snprintf(t, sizeof(t), "%d", timeout_ms);
	snprintf(n, sizeof(n), "%zu", size);
	snprintf(sd, sizeof(sd), "%" PRIu64, seed);
	return tu_spawn_peer((const char *[]){"get", seg, h, t, n, sd, NULL},
			     NULL, out);
}

/* Checks a finished store_peer get: exit 0, its checksum line for the
 * pattern (size, seed).  `text` is what it wrote after its 'R' byte.
 * Returns the time its get returned. */
static int64_t peer_get_check(pid_t pid, const char *text, size_t size,
			      uint64_t seed)
{
	char *expect = malloc(size ? size : 1);
	uint64_t sum = 0;
	size_t got_size = 0;
	int64_t t = 0;

	cr_assert_not_null(expect);
	tu_fill(expect, size, seed);
	tu_assert_rc(tu_wait_result(pid), 0);
	cr_assert_eq(sscanf(text, "%" SCNx64 " %zu %" SCNd64, &sum, &got_size,
			    &t),
		     3, "peer wrote \"%s\"", text);
	cr_assert_eq(got_size, size);
	cr_assert_eq(sum, tu_sum(expect, size), "checksum differs");
	free(expect);
	return t;
}

/* Waits for a store_peer get whose 'R' was not read yet. */
static void peer_get_done(pid_t pid, int out, size_t size, uint64_t seed)
{
	char text[128];

	cr_assert_eq(tu_read_byte(out, TU_CHILD_DEADLINE_MS), 'R');
	tu_read_all(out, text, sizeof(text));
	close(out);
	peer_get_check(pid, text, size, seed);
}

Test(store_multiproc, one_writer_many_readers)
{
	static const size_t sizes[] = {1, 1000, 64 * KiB + 3, MiB, 8 * MiB};
	enum { K = sizeof(sizes) / sizeof(sizes[0]) };
	const char *name;
	struct shoal_store *s = tu_named_store(32 * MiB, &name);
	int sfd = shoal_store_fd(s);
	int wdone[2], wquit[2];
	pid_t writer, readers[2];
	shoal_id ids[K];

	for (int i = 0; i < K; i++)
		ids[i] = tu_id(1, (uint64_t)i);

	/* the writer: its own handle, create + write + seal in place; it
	 * stays attached (holding the objects) while the others read */
	tu_pipe(wdone);
	tu_pipe(wquit);
	writer = tu_fork();
	if (writer == 0) {
		struct shoal_store *c = child_attach_name(name);

		for (int i = 0; i < K; i++)
			TU_CHILD_CHECK(tu_create_sealed(c, ids[i], sizes[i],
							(uint64_t)i * 31, 0) ==
					       0,
				       10 + i);
		tu_child_write_byte(wdone[1], 'w');
		tu_child_read_byte(wquit[0]);
		shoal_store_close(c);
		_exit(0);
	}
	cr_assert_eq(tu_read_byte(wdone[0], TU_CHILD_DEADLINE_MS), 'w');

	/* two forked readers, one attached by name, one by fd */
	for (int r = 0; r < 2; r++) {
		readers[r] = tu_fork();
		if (readers[r] == 0) {
			struct shoal_store *c = r == 0 ? child_attach_name(name)
						       : child_attach_fd(sfd);

			for (int i = 0; i < K; i++) {
				int g = tu_get_check(c, ids[i], sizes[i],
						     (uint64_t)i * 31, 0);

				TU_CHILD_CHECK(g == 0, g == TU_EXIT_MISMATCH
							       ? TU_EXIT_MISMATCH
							       : 20 + i);
			}
			shoal_store_close(c);
			_exit(0);
		}
	}
	/* the exec'd reader, one run per object, by name */
	for (int i = 0; i < K; i++) {
		int out;
		pid_t p = peer_get(name, ids[i], 0, sizes[i], (uint64_t)i * 31,
				   &out);

		peer_get_done(p, out, sizes[i], (uint64_t)i * 31);
	}
	for (int r = 0; r < 2; r++)
		cr_assert_eq(tu_wait_exit(readers[r]), 0, "reader %d", r);
	/* and the test process itself */
	for (int i = 0; i < K; i++) {
		tu_assert_rc(tu_get_check(s, ids[i], sizes[i], (uint64_t)i * 31,
					  0),
			     0);
		cr_assert_eq(tu_info(s, ids[i]).creator_pid, writer);
		cr_assert_eq(tu_info(s, ids[i]).holds, 1); /* the writer's */
		cr_assert_eq(tu_info(s, ids[i]).pins, 0);  /* readers released */
	}
	tu_write_byte(wquit[1], 'q');
	cr_assert_eq(tu_wait_exit(writer), 0);
	/* the writer left: its holds went, the objects stay (unheld) */
	for (int i = 0; i < K; i++) {
		cr_assert_eq(tu_info(s, ids[i]).holds, 0);
		tu_assert_rc(tu_get_check(s, ids[i], sizes[i], (uint64_t)i * 31,
					  0),
			     0);
	}
	shoal_store_close(s);
}

Test(store_multiproc, blocked_get_is_woken_by_seal)
{
	struct shoal_store *s = tu_store(16 * MiB);
	shoal_id id = tu_id(1, 1);
	const size_t size = 256 * KiB;
	int ready[2], woke[2], out;
	pid_t child, peer;
	char seg[32], text[128];
	int pfd;
	int64_t t_seal;
	void *data = NULL;

	/* created, not sealed: the getters must wait */
	tu_assert_rc(shoal_create(s, id, size, "mm", 2, 0, &data), 0);

	tu_pipe(ready);
	tu_pipe(woke);
	child = tu_fork();
	if (child == 0) {
		struct shoal_store *c = child_attach_fd(shoal_store_fd(s));
		struct shoal_view v;
		int r;

		tu_child_write_byte(ready[1], 'g');
		r = shoal_get(c, id, LONG_WAIT_MS, &v);
		tu_child_write_time(woke[1]);
		if (r != 0)
			_exit(tu_err_to_exit(r));
		TU_CHILD_CHECK(v.size == size && tu_check(v.data, size, 42),
			       TU_EXIT_MISMATCH);
		TU_CHILD_CHECK(v.meta_size == 2 && memcmp(v.meta, "mm", 2) == 0,
			       TU_EXIT_MISMATCH);
		TU_CHILD_CHECK(shoal_release(c, &v) == 0, 30);
		shoal_store_close(c);
		_exit(0);
	}
	pfd = tu_peer_fd(s, seg, sizeof(seg));
	peer = peer_get(seg, id, LONG_WAIT_MS, size, 42, &out);
	close(pfd);

	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'g');
	cr_assert_eq(tu_read_byte(out, TU_CHILD_DEADLINE_MS), 'R');
	cr_assert(tu_wait_sleeping(child, 5000),
		  "the forked getter is not waiting");
	cr_assert(tu_wait_sleeping(peer, 5000),
		  "the exec'd getter is not waiting");

	/* the bytes are written only now: the seal must publish them */
	tu_fill(data, size, 42);
	t_seal = tu_now_ns();
	tu_assert_rc(shoal_seal(s, id), 0);

	tu_assert_rc(tu_wait_result(child), 0);
	tu_assert_woken(tu_read_time(woke[0]), t_seal, "forked getter");
	tu_read_all(out, text, sizeof(text));
	tu_assert_woken(peer_get_check(peer, text, size, 42), t_seal,
			"exec'd getter");
	shoal_store_close(s);
}

Test(store_multiproc, get_waits_for_an_id_created_later_elsewhere)
{
	const char *name;
	struct shoal_store *s = tu_named_store(16 * MiB, &name);
	shoal_id id = tu_id(3, 3);
	const size_t size = 100 * KiB + 5;
	int ready[2], go[2], woke[2], out;
	pid_t getter, creator, peer;
	char text[128];
	int64_t t_go;

	tu_pipe(ready);
	tu_pipe(go);
	tu_pipe(woke);
	getter = tu_fork();
	if (getter == 0) {
		struct shoal_store *c = child_attach_name(name);
		int r;

		tu_child_write_byte(ready[1], 'g');
		r = tu_get_check(c, id, size, 7, LONG_WAIT_MS);
		tu_child_write_time(woke[1]);
		shoal_store_close(c);
		_exit(r == TU_EXIT_MISMATCH ? r : tu_err_to_exit(r));
	}
	peer = peer_get(name, id, LONG_WAIT_MS, size, 7, &out);
	creator = tu_fork();
	if (creator == 0) {
		struct shoal_store *c = child_attach_fd(shoal_store_fd(s));
		int r;

		tu_child_read_byte(go[0]);
		r = tu_create_sealed(c, id, size, 7, 0);
		shoal_store_close(c);
		_exit(tu_err_to_exit(r));
	}

	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'g');
	cr_assert_eq(tu_read_byte(out, TU_CHILD_DEADLINE_MS), 'R');
	cr_assert(tu_wait_sleeping(getter, 5000), "getter not waiting");
	cr_assert(tu_wait_sleeping(peer, 5000), "peer not waiting");
	tu_assert_rc(shoal_contains(s, id), 0);

	t_go = tu_now_ns();
	tu_write_byte(go[1], 'c');
	tu_assert_rc(tu_wait_result(creator), 0);
	tu_assert_rc(tu_wait_result(getter), 0);
	tu_assert_woken(tu_read_time(woke[0]), t_go, "forked getter");
	tu_read_all(out, text, sizeof(text));
	tu_assert_woken(peer_get_check(peer, text, size, 7), t_go,
			"exec'd getter");
	tu_assert_rc(tu_get_check(s, id, size, 7, 0), 0);
	shoal_store_close(s);
}

#define NPROC 3
#define NOBJ 300

static size_t conc_size(int k, int i)
{
	return 1 + ((size_t)k * 7919u + (size_t)i * 104729u) % 20000u;
}

static uint64_t conc_seed(int k, int i)
{
	return (uint64_t)k * 100000u + (uint64_t)i;
}

Test(store_multiproc, concurrent_creates_from_three_processes)
{
	struct shoal_store_options o = tu_opts(64 * MiB);
	struct shoal_store *s = NULL;
	int ready[2], go[2], ids_pipe[NPROC][2];
	pid_t kids[NPROC];
	static shoal_id ids[NPROC][NOBJ];
	struct shoal_store_stats st;
	uint64_t total = 0;

	o.max_objects = 2048;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	tu_pipe(ready);
	tu_pipe(go);
	for (int k = 0; k < NPROC; k++) {
		tu_pipe(ids_pipe[k]);
		kids[k] = tu_fork();
		if (kids[k] != 0)
			continue;
		struct shoal_store *c = child_attach_fd(shoal_store_fd(s));

		tu_child_write_byte(ready[1], 'r');
		tu_child_read_byte(go[0]);
		for (int i = 0; i < NOBJ; i++) {
			/* half fixed IDs, half from this process's shoal_id_next:
			 * every one reported to the parent */
			shoal_id id = (i & 1) ? shoal_id_next(c)
					      : tu_id(100 + (uint32_t)k,
						      (uint64_t)i);
			size_t n = conc_size(k, i);
			int r;

			if (i % 3 == 0) {
				char *buf = malloc(n);

				TU_CHILD_CHECK(buf != NULL, 40);
				tu_fill(buf, n, conc_seed(k, i));
				r = shoal_put_with_id(c, id, buf, n, NULL, 0, 0);
				free(buf);
			} else {
				r = tu_create_sealed(c, id, n, conc_seed(k, i),
						     0);
			}
			TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
			/* leave it unheld, as a cache entry */
			TU_CHILD_CHECK(shoal_drop(c, id) == 0, 41);
			TU_CHILD_CHECK(write(ids_pipe[k][1], &id, sizeof(id)) ==
					       (ssize_t)sizeof(id),
				       TU_EXIT_IO);
		}
		shoal_store_close(c);
		_exit(0);
	}
	/* all three attached: start them together */
	for (int k = 0; k < NPROC; k++)
		cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'r');
	for (int k = 0; k < NPROC; k++)
		tu_write_byte(go[1], 'g');
	for (int k = 0; k < NPROC; k++)
		tu_assert_rc(tu_wait_result(kids[k]), 0, "child %d", k);

	for (int k = 0; k < NPROC; k++) {
		ssize_t want = (ssize_t)sizeof(ids[k]);

		cr_assert_eq(read(ids_pipe[k][0], ids[k], sizeof(ids[k])), want);
	}
	/* every object present and intact, every ID distinct */
	for (int k = 0; k < NPROC; k++) {
		for (int i = 0; i < NOBJ; i++) {
			int r = tu_get_check(s, ids[k][i], conc_size(k, i),
					     conc_seed(k, i), 0);

			cr_assert_eq(r, 0, "child %d object %d: %d (%s)", k, i,
				     r, shoal_strerror(r));
			total += conc_size(k, i);
		}
	}
	for (int k = 0; k < NPROC; k++)
		for (int i = 0; i < NOBJ; i++)
			for (int k2 = 0; k2 <= k; k2++)
				for (int i2 = 0; i2 < (k2 == k ? i : NOBJ); i2++)
					cr_assert_not(shoal_id_eq(ids[k][i],
								  ids[k2][i2]),
						      "ID used twice");
	st = tu_stats(s);
	cr_assert_eq(st.objects, NPROC * NOBJ);
	cr_assert_eq(st.bytes_used, total);
	cr_assert_eq(st.evictions, 0);
	cr_assert_eq(st.processes, 1);
	cr_assert_eq(shoal_list(s, NULL, 0), NPROC * NOBJ);
	shoal_store_close(s);
}

Test(store_multiproc, delete_by_another_process_frees_for_reuse)
{
	/* 200 small (slab) and 6 large (page run) objects fill ~78% of a
	 * 1 MiB store; all are held by the test, so nothing can be evicted:
	 * the second batch fits only if the first one's blocks, freed by
	 * the child, are reused. */
	struct shoal_store *s = tu_store(MiB);
	struct shoal_store_stats st;
	pid_t child;

	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 206; i++) {
			size_t n = i < 200 ? 2 * KiB : 64 * KiB;

			tu_assert_rc(tu_put(s, tu_id((uint32_t)round, (uint64_t)i),
					    n, (uint64_t)i, 0),
				     0, "round %d object %d", round, i);
		}
		if (round == 1)
			break;
		st = tu_stats(s);
		cr_assert_eq(st.objects, 206);

		child = tu_fork();
		if (child == 0) {
			struct shoal_store *c =
				child_attach_fd(shoal_store_fd(s));

			for (int i = 0; i < 206; i++) {
				int r = shoal_delete(c, tu_id(0, (uint64_t)i));

				TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
			}
			shoal_store_close(c);
			_exit(0);
		}
		tu_assert_rc(tu_wait_result(child), 0);
		st = tu_stats(s);
		cr_assert_eq(st.objects, 0);
		cr_assert_eq(st.bytes_used, 0);
		tu_assert_rc(shoal_contains(s, tu_id(0, 0)), 0);
	}
	st = tu_stats(s);
	cr_assert_eq(st.objects, 206);
	cr_assert_eq(st.evictions, 0);
	cr_assert_leq(st.heap_bytes_reserved, st.capacity);
	for (int i = 0; i < 206; i++)
		tu_assert_rc(tu_get_check(s, tu_id(1, (uint64_t)i),
					  i < 200 ? 2 * KiB : 64 * KiB,
					  (uint64_t)i, 0),
			     0);
	shoal_store_close(s);
}

Test(store_multiproc, objects_of_another_process_evicted_after_its_drop)
{
	/* the child allocates (and holds) until the store is full; the test
	 * cannot create; the child drops; the test's creates now evict the
	 * child's objects and reuse their blocks */
	struct shoal_store *s = tu_store(MiB);
	const size_t size = 64 * KiB;
	int full[2], cmd[2];
	pid_t child;
	uint8_t nfull;
	int evicted = 0;

	tu_pipe(full);
	tu_pipe(cmd);
	child = tu_fork();
	if (child == 0) {
		struct shoal_store *c = child_attach_fd(shoal_store_fd(s));
		uint8_t n = 0;
		int r;

		while ((r = tu_put(c, tu_id(7, n), size, n, 0)) == 0)
			TU_CHILD_CHECK(++n < 100, 50);
		TU_CHILD_CHECK(r == SHOAL_ESTOREFULL, tu_err_to_exit(r));
		TU_CHILD_CHECK(write(full[1], &n, 1) == 1, TU_EXIT_IO);
		tu_child_read_byte(cmd[0]);
		for (uint8_t i = 0; i < n; i++)
			TU_CHILD_CHECK(shoal_drop(c, tu_id(7, i)) == 0, 51);
		tu_child_write_byte(full[1], 'd');
		tu_child_read_byte(cmd[0]);
		shoal_store_close(c);
		_exit(0);
	}
	cr_assert_eq(read(full[0], &nfull, 1), 1);
	cr_assert_gt(nfull, 4, "only %u objects of 64 KiB fit in 1 MiB", nfull);
	cr_assert_leq((uint64_t)nfull * size, tu_stats(s).capacity);
	/* everything is held by the child */
	tu_assert_rc(tu_put(s, tu_id(8, 0), size, 1000, 0), SHOAL_ESTOREFULL);
	cr_assert_eq(tu_stats(s).evictions, 0);

	tu_write_byte(cmd[1], 'd');
	cr_assert_eq(tu_read_byte(full[0], TU_CHILD_DEADLINE_MS), 'd');
	for (int i = 0; i < nfull; i++)
		tu_assert_rc(tu_put(s, tu_id(8, (uint64_t)i), size,
				    1000 + (uint64_t)i, 0),
			     0);
	for (int i = 0; i < nfull; i++) {
		struct shoal_view v;
		int r = shoal_get(s, tu_id(7, (uint64_t)i), 0, &v);

		if (r == 0) {
			cr_assert(tu_check(v.data, v.size, (uint64_t)i));
			tu_assert_rc(shoal_release(s, &v), 0);
		} else {
			tu_assert_rc(r, SHOAL_EEVICTED);
			evicted++;
		}
	}
	/* nfull + 1 objects of this size never fit (the child's last put
	 * failed), so none of the child's objects can be left */
	cr_assert_eq(evicted, nfull);
	cr_assert_eq(tu_stats(s).evictions, (uint64_t)evicted);
	for (int i = 0; i < nfull; i++)
		tu_assert_rc(tu_get_check(s, tu_id(8, (uint64_t)i), size,
					  1000 + (uint64_t)i, 0),
			     0);
	tu_write_byte(cmd[1], 'q');
	tu_assert_rc(tu_wait_result(child), 0);
	shoal_store_close(s);
}

Test(store_multiproc, attach_by_name_created_by_another_process)
{
	const char *name = tu_shm_name(NULL);
	int created[2], done[2];
	struct shoal_store *s = NULL;
	pid_t creator, peer;
	char h[SHOAL_ID_HEX_LEN + 1];

	/* the creator is another process; the test only attaches */
	tu_pipe(created);
	tu_pipe(done);
	creator = tu_fork();
	if (creator == 0) {
		struct shoal_store_options o = tu_opts(8 * MiB);
		struct shoal_store *c = NULL;
		int r = shoal_store_create(name, &o, &c);

		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		r = tu_put(c, tu_id(1, 1), 3000, 1, 0);
		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		tu_child_write_byte(created[1], 'c');
		tu_child_read_byte(done[0]);
		/* the object the test put is readable here */
		r = tu_get_check(c, tu_id(2, 2), 5000, 2, 0);
		TU_CHILD_CHECK(r == 0, r == TU_EXIT_MISMATCH
					       ? r
					       : tu_err_to_exit(r));
		shoal_store_close(c);
		_exit(0);
	}
	cr_assert_eq(tu_read_byte(created[0], TU_CHILD_DEADLINE_MS), 'c');
	tu_assert_rc(shoal_store_attach(name, &s), 0);
	cr_assert_eq(tu_stats(s).processes, 2);
	cr_assert_eq(tu_stats(s).capacity, 8 * MiB);
	tu_assert_rc(tu_get_check(s, tu_id(1, 1), 3000, 1, 0), 0);
	cr_assert_eq(tu_info(s, tu_id(1, 1)).creator_pid, creator);
	tu_assert_rc(tu_put(s, tu_id(2, 2), 5000, 2, 0), 0);

	/* an exec'd program attaches by name too, and puts */
	shoal_id_format(tu_id(3, 3), h);
	peer = tu_spawn_peer((const char *[]){"put", name, h, "777", "3", NULL},
			     NULL, NULL);
	tu_assert_rc(tu_wait_result(peer), 0);
	tu_assert_rc(tu_get_check(s, tu_id(3, 3), 777, 3, 0), 0);

	tu_write_byte(done[1], 'd');
	tu_assert_rc(tu_wait_result(creator), 0);
	/* the creator left; the segment and its objects stay */
	cr_assert_eq(tu_stats(s).processes, 1);
	tu_assert_rc(tu_get_check(s, tu_id(1, 1), 3000, 1, 0), 0);
	shoal_store_close(s);
	tu_assert_rc(shoal_store_unlink(name), 0);
}
