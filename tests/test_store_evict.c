/* SPDX-License-Identifier: MIT */
/*
 * tests/test_store_evict.c - the store as a cache: unheld, unpinned sealed
 * objects are evicted least recently used first when a create needs room;
 * held, pinned and unsealed objects never are; a create that finds no room
 * fails with SHOAL_ESTOREFULL (at once if it could never fit) or waits for
 * a hold or pin to go; shoal_evict(); tombstones answer SHOAL_EEVICTED.
 *
 * The stores are small (1 MiB) and the objects 64 KiB, so a few dozen
 * creates go far past the capacity.  Presence is read with shoal_list(),
 * which does not touch an object's recency (a get would).
 */
#include "testutil.h"

TestSuite(store_evict, .init = tu_setup, .fini = tu_teardown);

#define MiB (1024u * 1024u)
#define KiB 1024u
#define OBJ (64 * KiB)
#define LONG_WAIT_MS 10000

/* Puts an unheld object (the creator's hold dropped at once). */
static void put_unheld(struct shoal_store *s, shoal_id id, size_t size,
		       uint64_t seed)
{
	tu_assert_rc(tu_put(s, id, size, seed, 0), 0);
	tu_assert_rc(shoal_drop(s, id), 0);
}

/* Fills a store with unheld objects: n of OBJ bytes, owner tag `tag`. */
static void churn(struct shoal_store *s, uint32_t tag, int n)
{
	for (int i = 0; i < n; i++)
		put_unheld(s, tu_id(tag, (uint64_t)i), OBJ, 5000 + (uint64_t)i);
}

/* How many OBJ-sized objects the store could ever hold. */
static uint64_t max_fit(struct shoal_store *s)
{
	return tu_stats(s).capacity / OBJ;
}

Test(store_evict, eviction_is_least_recently_used_first)
{
	enum { NOLD = 8, NMAX = 48 };
	struct shoal_store *s = tu_store(MiB);
	/* recency order, least recent first */
	shoal_id order[NOLD + NMAX];
	int norder = 0;
	bool checked_first = false;
	struct shoal_view v;

	for (int i = 0; i < NOLD; i++) {
		put_unheld(s, tu_id(1, (uint64_t)i), OBJ, (uint64_t)i);
		order[norder++] = tu_id(1, (uint64_t)i);
	}
	cr_assert_eq(tu_stats(s).evictions, 0, "512 KiB of 1 MiB evicted?");
	/* touch A = object 0: B = object 1 is now the least recent */
	tu_assert_rc(shoal_get(s, order[0], 0, &v), 0);
	tu_assert_rc(shoal_release(s, &v), 0);
	memmove(&order[0], &order[1], (NOLD - 1) * sizeof(order[0]));
	order[NOLD - 1] = tu_id(1, 0);

	for (int j = 0; j < NMAX && tu_listed(s, tu_id(1, 0)); j++) {
		int first_present = -1;

		put_unheld(s, tu_id(2, (uint64_t)j), OBJ, 100 + (uint64_t)j);
		order[norder++] = tu_id(2, (uint64_t)j);

		/* the evicted objects are exactly a prefix of the recency
		 * order: nothing more recent went before something less */
		for (int k = 0; k < norder; k++) {
			bool here = tu_listed(s, order[k]);

			if (here && first_present < 0)
				first_present = k;
			cr_assert(here || first_present < 0,
				  "after create %d: recency %d evicted while "
				  "%d (older) is present",
				  j, k, first_present);
		}
		cr_assert_eq(tu_stats(s).evictions, (uint64_t)first_present);

		if (first_present > 0 && !checked_first) {
			/* the first eviction took B, not A */
			tu_assert_rc(shoal_get(s, tu_id(1, 1), 0, &v),
				     SHOAL_EEVICTED);
			tu_assert_rc(shoal_get(s, tu_id(1, 0), 0, &v), 0);
			cr_assert(tu_check(v.data, OBJ, 0));
			tu_assert_rc(shoal_release(s, &v), 0);
			/* that get touched A again */
			for (int k = 0; k < norder; k++) {
				if (shoal_id_eq(order[k], tu_id(1, 0))) {
					memmove(&order[k], &order[k + 1],
						(size_t)(norder - k - 1) *
							sizeof(order[0]));
					order[norder - 1] = tu_id(1, 0);
					break;
				}
			}
			checked_first = true;
		}
	}
	cr_assert(checked_first, "nothing was ever evicted");
	cr_assert_not(tu_listed(s, tu_id(1, 0)),
		      "A never evicted in %d creates", NMAX);
	/* every old one is gone now, B to H before A */
	for (int i = 0; i < NOLD; i++)
		tu_assert_rc(shoal_get(s, tu_id(1, (uint64_t)i), 0, &v),
			     SHOAL_EEVICTED);
	shoal_store_close(s);
}

Test(store_evict, held_objects_are_never_evicted)
{
	struct shoal_store *s = tu_store(MiB);
	char seg[32], h[SHOAL_ID_HEX_LEN + 1];
	int pfd, to_peer, from_peer;
	pid_t peer;
	uint64_t fit = max_fit(s);

	/* four held by the test (the creator's hold), one by another
	 * process only */
	for (int i = 0; i < 4; i++)
		tu_assert_rc(tu_put(s, tu_id(1, (uint64_t)i), OBJ, (uint64_t)i, 0),
			     0);
	put_unheld(s, tu_id(1, 4), OBJ, 4);
	shoal_id_format(tu_id(1, 4), h);
	pfd = tu_peer_fd(s, seg, sizeof(seg));
	peer = tu_spawn_peer((const char *[]){"hold-and-wait", seg, h, NULL},
			     &to_peer, &from_peer);
	close(pfd);
	cr_assert_eq(tu_read_byte(from_peer, TU_CHILD_DEADLINE_MS), 'R');
	cr_assert_eq(tu_read_byte(from_peer, TU_CHILD_DEADLINE_MS), 'H');
	cr_assert_eq(tu_info(s, tu_id(1, 4)).holds, 1);

	/* four times the capacity of unheld objects: every create succeeds */
	churn(s, 2, 64);
	cr_assert_geq(tu_stats(s).evictions, 64 + 5 - fit);
	for (int i = 0; i < 5; i++)
		tu_assert_rc(tu_get_check(s, tu_id(1, (uint64_t)i), OBJ,
					  (uint64_t)i, 0),
			     0, "held object %d", i);

	/* once the peer drops, its object is a cache entry again */
	tu_write_byte(to_peer, 'x');
	tu_assert_rc(tu_wait_result(peer), 0);
	cr_assert_eq(tu_info(s, tu_id(1, 4)).holds, 0);
	churn(s, 3, 32);
	tu_assert_rc(shoal_contains(s, tu_id(1, 4)), 0);
	for (int i = 0; i < 4; i++)
		tu_assert_rc(tu_get_check(s, tu_id(1, (uint64_t)i), OBJ,
					  (uint64_t)i, 0),
			     0);
	shoal_store_close(s);
}

Test(store_evict, pinned_objects_are_never_evicted)
{
	struct shoal_store *s = tu_store(MiB);
	struct shoal_view v, v2;
	int ready[2], go[2];
	pid_t child;

	put_unheld(s, tu_id(1, 1), OBJ, 1);
	put_unheld(s, tu_id(1, 2), OBJ, 2);
	tu_assert_rc(shoal_get(s, tu_id(1, 1), 0, &v), 0);
	cr_assert_eq(tu_info(s, tu_id(1, 1)).holds, 0);

	/* object 2 is pinned by another process only */
	tu_pipe(ready);
	tu_pipe(go);
	child = tu_fork();
	if (child == 0) {
		struct shoal_store *c = NULL;
		struct shoal_view cv;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0,
			       10);
		TU_CHILD_CHECK(shoal_get(c, tu_id(1, 2), 0, &cv) == 0, 11);
		tu_child_write_byte(ready[1], 'p');
		tu_child_read_byte(go[0]);
		TU_CHILD_CHECK(cv.size == OBJ && tu_check(cv.data, OBJ, 2),
			       TU_EXIT_MISMATCH);
		TU_CHILD_CHECK(shoal_release(c, &cv) == 0, 12);
		shoal_store_close(c);
		_exit(0);
	}
	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'p');

	churn(s, 2, 64);
	cr_assert_gt(tu_stats(s).evictions, 0);
	cr_assert(tu_check(v.data, OBJ, 1), "pinned bytes changed");
	tu_assert_rc(shoal_get(s, tu_id(1, 1), 0, &v2), 0);
	cr_assert_eq(v2.data, v.data);
	tu_assert_rc(shoal_release(s, &v2), 0);
	tu_assert_rc(tu_get_check(s, tu_id(1, 2), OBJ, 2, 0), 0);
	tu_write_byte(go[1], 'g');
	tu_assert_rc(tu_wait_result(child), 0);

	/* released: evictable again */
	tu_assert_rc(shoal_release(s, &v), 0);
	churn(s, 3, 32);
	tu_assert_rc(shoal_contains(s, tu_id(1, 1)), 0);
	tu_assert_rc(shoal_contains(s, tu_id(1, 2)), 0);
	shoal_store_close(s);
}

Test(store_evict, unsealed_objects_are_never_evicted)
{
	struct shoal_store *s = tu_store(MiB);
	void *data = NULL;

	tu_assert_rc(shoal_create(s, tu_id(1, 1), OBJ, NULL, 0, 0, &data), 0);
	tu_fill(data, OBJ, 1);
	churn(s, 2, 64);
	cr_assert_gt(tu_stats(s).evictions, 0);
	cr_assert_eq(tu_info(s, tu_id(1, 1)).state, SHOAL_OBJECT_CREATED);
	cr_assert(tu_check(data, OBJ, 1), "the creator's buffer changed");
	tu_assert_rc(shoal_seal(s, tu_id(1, 1)), 0);
	tu_assert_rc(tu_get_check(s, tu_id(1, 1), OBJ, 1, 0), 0);
	shoal_store_close(s);
}

Test(store_evict, store_full_when_everything_is_held)
{
	struct shoal_store *s = tu_store(MiB);
	int n = 0, r;
	int64_t t0;

	while ((r = tu_put(s, tu_id(1, (uint64_t)n), OBJ, (uint64_t)n, 0)) == 0)
		cr_assert_lt(++n, 64, "1 MiB took 64 objects of 64 KiB");
	tu_assert_rc(r, SHOAL_ESTOREFULL);
	cr_assert_geq(n, 8, "only %d objects of 64 KiB fit in 1 MiB", n);
	cr_assert_leq((uint64_t)n * OBJ, tu_stats(s).capacity);
	/* a failed create leaves nothing behind */
	cr_assert_eq(tu_stats(s).objects, (uint64_t)n);
	cr_assert_eq(tu_stats(s).bytes_used, (uint64_t)n * OBJ);
	cr_assert_not(tu_listed(s, tu_id(1, (uint64_t)n)));
	/* with a short timeout: waits, then the same error */
	t0 = tu_now_ms();
	tu_assert_rc(tu_put(s, tu_id(1, 99), OBJ, 99, 50), SHOAL_ESTOREFULL);
	cr_assert_geq(tu_now_ms() - t0, 49);
	cr_assert_eq(tu_stats(s).evictions, 0);
	for (int i = 0; i < n; i++)
		tu_assert_rc(tu_get_check(s, tu_id(1, (uint64_t)i), OBJ,
					  (uint64_t)i, 0),
			     0);
	/* dropping one hold makes room again */
	tu_assert_rc(shoal_drop(s, tu_id(1, 0)), 0);
	tu_assert_rc(tu_put(s, tu_id(1, 99), OBJ, 99, 0), 0);
	tu_assert_rc(shoal_contains(s, tu_id(1, 0)), 0);
	cr_assert_eq(tu_stats(s).evictions, 1);
	shoal_store_close(s);
}

/* A forked creator that waits up to LONG_WAIT_MS for room: writes 'c' to
 * ready_fd before its create, the time the create returned after it. */
static pid_t waiting_creator(struct shoal_store *s, shoal_id id, int ready_fd)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		void *data = NULL;
		int r = shoal_store_attach_fd(shoal_store_fd(s), &c);

		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		tu_child_write_byte(ready_fd, 'c');
		r = shoal_create(c, id, OBJ, NULL, 0, LONG_WAIT_MS, &data);
		tu_child_write_time(ready_fd);
		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		tu_fill(data, OBJ, 777);
		r = shoal_seal(c, id);
		shoal_store_close(c);
		_exit(tu_err_to_exit(r));
	}
	return pid;
}

Test(store_evict, waiting_create_is_satisfied_by_a_drop_or_a_release)
{
	struct shoal_store *s = tu_store(MiB);
	int ready[2], n = 0, r;
	struct shoal_view v;
	int64_t t_event;
	pid_t w;

	/* full: object 0 pinned (not held), the others held */
	while ((r = tu_put(s, tu_id(1, (uint64_t)n), OBJ, (uint64_t)n, 0)) == 0)
		cr_assert_lt(++n, 64);
	tu_assert_rc(r, SHOAL_ESTOREFULL);
	cr_assert_geq(n, 3);
	tu_assert_rc(shoal_get(s, tu_id(1, 0), 0, &v), 0);
	tu_assert_rc(shoal_drop(s, tu_id(1, 0)), 0);
	tu_pipe(ready);

	/* 1: another process waits in create; the test drops a hold */
	w = waiting_creator(s, tu_id(2, 1), ready[1]);
	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'c');
	cr_assert(tu_wait_sleeping(w, 5000), "creator is not waiting");
	cr_assert_not(tu_listed(s, tu_id(2, 1)));
	t_event = tu_now_ns();
	tu_assert_rc(shoal_drop(s, tu_id(1, 1)), 0);
	tu_assert_rc(tu_wait_result(w), 0);
	tu_assert_woken(tu_read_time(ready[0]), t_event, "create");
	tu_assert_rc(shoal_contains(s, tu_id(1, 1)), 0); /* made the room */
	tu_assert_rc(tu_get_check(s, tu_id(2, 1), OBJ, 777, 0), 0);

	/* the waiter left: its object is unheld; hold it so that the store
	 * is full of held or pinned objects again */
	tu_assert_rc(shoal_hold(s, tu_id(2, 1)), 0);
	tu_assert_rc(tu_put(s, tu_id(3, 0), OBJ, 3, 0), SHOAL_ESTOREFULL);

	/* 2: the same, woken by the release of the last pin */
	w = waiting_creator(s, tu_id(2, 2), ready[1]);
	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'c');
	cr_assert(tu_wait_sleeping(w, 5000), "creator is not waiting");
	t_event = tu_now_ns();
	tu_assert_rc(shoal_release(s, &v), 0);
	tu_assert_rc(tu_wait_result(w), 0);
	tu_assert_woken(tu_read_time(ready[0]), t_event, "create");
	tu_assert_rc(shoal_contains(s, tu_id(1, 0)), 0);
	tu_assert_rc(tu_get_check(s, tu_id(2, 2), OBJ, 777, 0), 0);
	for (int i = 2; i < n; i++)
		tu_assert_rc(tu_get_check(s, tu_id(1, (uint64_t)i), OBJ,
					  (uint64_t)i, 0),
			     0);
	shoal_store_close(s);
}

Test(store_evict, larger_than_capacity_fails_at_once)
{
	struct shoal_store *s = tu_store(MiB);
	uint64_t cap = tu_stats(s).capacity;
	void *data = NULL;
	int64_t t0;

	churn(s, 1, 8); /* evictable, but no eviction can help */
	t0 = tu_now_ms();
	tu_assert_rc(shoal_create(s, tu_id(2, 1), cap + 1, NULL, 0, 5000, &data),
		     SHOAL_ESTOREFULL);
	tu_assert_rc(shoal_create(s, tu_id(2, 2), 2 * cap, NULL, 0, 5000, &data),
		     SHOAL_ESTOREFULL);
	tu_assert_rc(shoal_create(s, tu_id(2, 3), (size_t)1 << 40, NULL, 0,
				  5000, &data),
		     SHOAL_ESTOREFULL);
	/* the metadata counts too */
	tu_assert_rc(shoal_create(s, tu_id(2, 4), cap, "m", 1, 5000, &data),
		     SHOAL_ESTOREFULL);
	/* "fails at once": not after the 5 s timeout (four calls) */
	cr_assert_lt(tu_now_ms() - t0, 2500);
	/* and it did not evict anything on the way */
	cr_assert_eq(tu_stats(s).evictions, 0);
	for (int i = 0; i < 8; i++)
		tu_assert_rc(tu_get_check(s, tu_id(1, (uint64_t)i), OBJ,
					  5000 + (uint64_t)i, 0),
			     0);
	cr_assert_eq(tu_stats(s).objects, 8);
	shoal_store_close(s);
}

Test(store_evict, shoal_evict_frees_unheld_objects)
{
	struct shoal_store *s = tu_store(MiB);
	struct shoal_store_stats before, st;
	int r;

	for (int i = 0; i < 8; i++)
		put_unheld(s, tu_id(1, (uint64_t)i), OBJ, (uint64_t)i);
	tu_assert_rc(tu_put(s, tu_id(2, 0), OBJ, 20, 0), 0); /* held */
	tu_assert_rc(tu_put(s, tu_id(2, 1), OBJ, 21, 0), 0); /* held */
	before = tu_stats(s);
	cr_assert_eq(before.evictions, 0);

	r = shoal_evict(s, 3 * OBJ);
	cr_assert_geq(r, (int)(3 * OBJ), "freed %d", r);
	st = tu_stats(s);
	/* least recently used first, and no more than needed */
	for (int i = 0; i < 8; i++)
		cr_assert_eq(tu_listed(s, tu_id(1, (uint64_t)i)), i >= 3,
			     "object %d", i);
	cr_assert_eq(st.evictions, 3);
	cr_assert_geq(st.evicted_bytes, 3 * OBJ);
	cr_assert_eq(st.bytes_used, before.bytes_used - 3 * OBJ);
	cr_assert_eq(st.objects, before.objects - 3);

	r = shoal_evict(s, UINT64_MAX);
	cr_assert_geq(r, (int)(5 * OBJ), "freed %d", r);
	st = tu_stats(s);
	cr_assert_eq(st.evictions, 8);
	cr_assert_geq(st.evicted_bytes, 8 * OBJ);
	cr_assert_eq(st.objects, 2);
	cr_assert_eq(st.bytes_used, 2 * OBJ);
	/* only held ones are left: nothing more to evict */
	tu_assert_rc(shoal_evict(s, 1), 0);
	tu_assert_rc(tu_get_check(s, tu_id(2, 0), OBJ, 20, 0), 0);
	tu_assert_rc(tu_get_check(s, tu_id(2, 1), OBJ, 21, 0), 0);
	cr_assert_eq(tu_stats(s).evictions, 8);
	shoal_store_close(s);
}

Test(store_evict, get_of_an_evicted_object_fails_at_once)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id gone = tu_id(1, 1), here = tu_id(1, 2);
	shoal_id ids[2] = {gone, here};
	struct shoal_view v, vs[2];
	int64_t t0;

	put_unheld(s, gone, OBJ, 1);
	tu_assert_rc(tu_put(s, here, OBJ, 2, 0), 0);
	cr_assert_geq(shoal_evict(s, 1), (int)OBJ);
	cr_assert_not(tu_listed(s, gone));
	tu_assert_rc(shoal_contains(s, gone), 0);

	/* from the tombstone, not after the timeout */
	t0 = tu_now_ms();
	tu_assert_rc(shoal_get(s, gone, LONG_WAIT_MS, &v), SHOAL_EEVICTED);
	memset(vs, 0x5a, sizeof(vs));
	tu_assert_rc(shoal_get_many(s, ids, 2, LONG_WAIT_MS, vs), 1);
	cr_assert_lt(tu_now_ms() - t0, 5000);
	cr_assert_eq(vs[0].err, SHOAL_EEVICTED);
	cr_assert_null(vs[0].data);
	cr_assert_eq(vs[1].err, 0);
	cr_assert(tu_check(vs[1].data, OBJ, 2));
	tu_assert_rc(shoal_release(s, &vs[1]), 0);

	/* the ID is not live: it can be created again (a reconstruction) */
	tu_assert_rc(tu_put(s, gone, 1000, 9, 0), 0);
	tu_assert_rc(tu_get_check(s, gone, 1000, 9, 0), 0);
	shoal_store_close(s);
}

Test(store_evict, small_objects_are_evicted_for_a_large_one)
{
	/* slab-sized objects fill the store; a create of half the capacity
	 * in one page run must still find room by evicting them */
	struct shoal_store *s = tu_store(MiB);
	const int n = 400;

	for (int i = 0; i < n; i++)
		put_unheld(s, tu_id(1, (uint64_t)i), 2 * KiB, (uint64_t)i);
	cr_assert_eq(tu_stats(s).evictions, 0);
	tu_assert_rc(tu_put(s, tu_id(2, 0), MiB / 2, 77, 0), 0);
	tu_assert_rc(tu_get_check(s, tu_id(2, 0), MiB / 2, 77, 0), 0);
	cr_assert_gt(tu_stats(s).evictions, 0);
	cr_assert_leq(tu_stats(s).heap_bytes_reserved, tu_stats(s).capacity);
	/* the small ones that are left are intact */
	for (int i = 0; i < n; i++) {
		struct shoal_view v;
		int r = shoal_get(s, tu_id(1, (uint64_t)i), 0, &v);

		if (r == SHOAL_EEVICTED)
			continue;
		tu_assert_rc(r, 0);
		cr_assert(tu_check(v.data, 2 * KiB, (uint64_t)i));
		tu_assert_rc(shoal_release(s, &v), 0);
	}
	shoal_store_close(s);
}

/*
 * Two processes put and drop small objects as fast as they can through a
 * store whose object limit forces an eviction for almost every put.  Every
 * put must succeed: unheld objects are a cache, wherever they sit in the
 * directory (a scan that stopped early once left the far end of the
 * directory unevicted until its probe windows filled: -ENOSPC).
 */
static int churn_process(int fd, uint32_t owner, int n)
{
	struct shoal_store *s;
	char buf[64] = {0};
	int rc = shoal_store_attach_fd(fd, &s);

	for (int i = 0; !rc && i < n; i++) {
		shoal_id id = tu_id(owner, (uint64_t)i + 1);

		rc = shoal_put_with_id(s, id, buf, sizeof buf, NULL, 0, 0);
		if (!rc)
			rc = shoal_drop(s, id);
	}
	if (s)
		shoal_store_close(s);
	return rc;
}

Test(store_evict, two_processes_churning_the_cache_never_fail)
{
	struct shoal_store_options o = tu_opts(8u << 20);
	struct shoal_store *s = NULL;
	pid_t kids[2];

	o.max_objects = 512;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	for (int k = 0; k < 2; k++) {
		int fd = shoal_store_fd(s);

		kids[k] = tu_fork();
		if (kids[k] == 0)
			_exit(tu_err_to_exit(churn_process(fd, 100 + (uint32_t)k, 150000)));
	}
	for (int k = 0; k < 2; k++)
		{ int r = tu_wait_result(kids[k]); cr_assert_eq(r, 0, "churner %d failed: %d (%s)", k, r, shoal_strerror(r)); }
	cr_assert_gt(tu_stats(s).evictions, 250000);
	shoal_store_close(s);
}
