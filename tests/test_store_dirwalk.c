/* SPDX-License-Identifier: MIT */
/*
 * tests/test_store_dirwalk.c - the directory walk of one process's IDs
 * (store/dir.c, "Walk window"; issue 12): with the default options,
 *
 *   - a process making IDs in a row while it holds few comes back to the
 *     directory pages it has used: its homes stay on a bounded number of
 *     pages, and a second process that attached by name and runs puts in
 *     a row takes a bounded number of page faults (before, a new page
 *     every 16 IDs: 6,250 pages for 100 k IDs);
 *   - a process holding 200 k objects, or leaving 200 k objects live that
 *     it no longer holds, or holding a pile of IDs that all came home to
 *     its windows' first slot, still inserts every one: no probe chain
 *     reaches SHOAL__PROBE_MAX while the directory is mostly empty; and
 *     a create that finds its chain full moves the IDs after it on;
 *   - IDs from another process, from shoal_id_random and derived by hand
 *     are found by any process (the home is a function of the ID alone).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "internal.h"
#include "testutil.h"

TestSuite(store_dirwalk, .init = tu_setup, .fini = tu_teardown);

#define DW_PAGE_SLOTS (4096u / sizeof(struct shoal__entry))
#define DW_RUN 100000u  /* IDs made in a row */
#define DW_HELD 1000u   /* of which at most this many held at once */
#define DW_BIG 200000u

/* The longest probe chain of the directory. */
static uint32_t dw_longest(const struct shoal_store *s)
{
	uint32_t m = 0;

	for (uint32_t i = 0; i <= s->dir_mask; i++) {
		uint32_t n = atomic_load(&s->probe[i]);

		m = n > m ? n : m;
	}
	return m;
}

/* Ends an object this process holds: drop, then delete. */
static int dw_end(struct shoal_store *s, shoal_id id)
{
	int rc = shoal_drop(s, id);

	return rc ? rc : shoal_delete(s, id);
}

/* Puts DW_RUN objects in a row, holding the last DW_HELD (the oldest
 * ended as each new one comes); marks the page of each one's home in
 * pages[] (one byte per directory page) and counts the pages marked into
 * *n.  No assertion (a child runs it): 0 or the first error. */
static int dw_run(struct shoal_store *s, uint8_t *pages, uint32_t *n)
{
	shoal_id *held = calloc(DW_HELD, sizeof *held);
	uint64_t v = 0;
	int rc = held ? 0 : -ENOMEM;

	*n = 0;
	for (uint32_t i = 0; rc == 0 && i < DW_RUN; i++) {
		shoal_id *slot = &held[i % DW_HELD];
		uint32_t page;

		if (i >= DW_HELD)
			rc = dw_end(s, *slot);
		v = i;
		if (rc == 0)
			rc = shoal_put(s, &v, sizeof v, 0, slot);
		if (rc)
			break;
		page = shoal__dir_home(s, *slot) / DW_PAGE_SLOTS;
		*n += !pages[page];
		pages[page] = 1;
	}
	for (uint32_t i = 0; rc == 0 && i < DW_HELD; i++)
		rc = dw_end(s, held[i]);
	free(held);
	return rc;
}

/* The window of the class these IDs took (1: a process holding 1000)
 * is 2^14 slots, 256 pages; a few more for the class the first IDs took
 * before the count rose (none here) and for the odd other class. */
Test(store_dirwalk, ids_made_in_a_row_with_few_held_stay_on_few_pages)
{
	struct shoal_store *s = NULL;
	uint8_t *pages;
	uint32_t n;

	tu_assert_rc(shoal_store_create(NULL, NULL, &s), 0);
	pages = calloc(s->dir_mask / DW_PAGE_SLOTS + 1, 1);
	cr_assert_not_null(pages);
	tu_assert_rc(dw_run(s, pages, &n), 0);
	fprintf(stderr, "dirwalk: %u IDs in a row, %u held: %u directory "
		"pages, longest chain %u\n", DW_RUN, DW_HELD, n, dw_longest(s));
	cr_assert_leq(n, 2 * (1u << (SHOAL__WIN_LOG0 + 1)) / DW_PAGE_SLOTS,
		      "%u IDs in a row, %u held: homes on %u directory pages",
		      DW_RUN, DW_HELD, n);
	cr_assert_lt(dw_longest(s), SHOAL__PROBE_MAX / 4);
	free(pages);
	shoal_store_close(s);
}

static long dw_minflt(void)
{
	struct rusage r;

	return getrusage(RUSAGE_SELF, &r) ? -1 : r.ru_minflt;
}

/* Child: attaches by name, checks the parent's objects, then runs
 * DW_RUN puts in a row and writes its page faults over them. */
static void dw_child(const char *name, const shoal_id *ids, uint32_t n,
		     int out)
{
	struct shoal_store *c = NULL;
	uint8_t *pages;
	uint32_t n_pages;
	long f0, f1;

	if (shoal_store_attach(name, &c))
		_exit(2);
	for (uint32_t i = 0; i < n; i++)
		if (tu_get_check(c, ids[i], 16, i, 0))
			_exit(3);
	pages = calloc(c->dir_mask / DW_PAGE_SLOTS + 1, 1);
	if (!pages)
		_exit(4);
	f0 = dw_minflt();
	if (dw_run(c, pages, &n_pages))
		_exit(6);
	f1 = dw_minflt();
	if (write(out, &(long){f1 - f0}, sizeof(long)) != sizeof(long))
		_exit(5);
	free(pages);
	shoal_store_close(c);
	_exit(0);
}

/*
 * Across processes: the parent's IDs (its own, random and derived) are
 * found by a child that attached by name, and the child's DW_RUN puts in
 * a row fault a bounded number of pages: its window (256 pages), the
 * probe bytes, stripes and ledger, the heap's few pages.  Before, 6,250
 * directory pages at least (measured before: 6,295 faults; after: 292).
 */
Test(store_dirwalk, another_process_finds_the_ids_and_faults_few_pages,
     .timeout = 120)
{
	const char *name = tu_shm_name("dw");
	struct shoal_store *s = NULL;
	shoal_id ids[300];
	int p[2];
	long faults = -1;
	pid_t pid;

	tu_assert_rc(shoal_store_create(name, NULL, &s), 0);
	for (uint32_t i = 0; i < 300; i++) {
		if (i % 3 == 0)
			ids[i] = shoal_id_next(s);
		else if (i % 3 == 1)
			tu_assert_rc(shoal_id_random(&ids[i]), 0);
		else /* by hand, some with lo's top bits set */
			ids[i] = shoal_id_derive(7, 0xabc, (uint64_t)i << 52 | i, 0);
		tu_assert_rc(tu_put(s, ids[i], 16, i, 0), 0, "put %u", i);
	}
	tu_pipe(p);
	pid = tu_fork();
	if (pid == 0)
		dw_child(name, ids, 300, p[1]);
	close(p[1]);
	cr_assert_eq(read(p[0], &faults, sizeof faults), (ssize_t)sizeof faults);
	cr_assert_eq(tu_wait_exit(pid), 0);
	close(p[0]);
	fprintf(stderr, "dirwalk: a child's %u puts in a row: %ld page "
		"faults\n", DW_RUN, faults);
	cr_assert_lt(faults, 1500, "%u puts in a row: %ld page faults", DW_RUN,
		     faults);
	shoal_store_close(s);
}

/* 200 k objects held: the class grows with the count, every put lands. */
Test(store_dirwalk, a_process_holding_200k_objects_inserts_every_one,
     .timeout = 120)
{
	struct shoal_store *s = NULL;
	shoal_id id;
	uint64_t v;

	tu_assert_rc(shoal_store_create(NULL, NULL, &s), 0);
	for (uint32_t i = 0; i < DW_BIG; i++) {
		v = i;
		tu_assert_rc(shoal_put(s, &v, sizeof v, 0, &id), 0, "put %u", i);
	}
	fprintf(stderr, "dirwalk: %u objects: class %u, longest chain %u\n",
		DW_BIG, shoal__id_win(id), dw_longest(s));
	cr_assert_gt(shoal__id_win(id), 1, "class %u", shoal__id_win(id));
	cr_assert_lt(dw_longest(s), SHOAL__PROBE_MAX / 2);
	shoal_store_close(s);
}

/* 200 k objects left live and unheld: the ledger says nothing of them,
 * the crowding of the window does, and the class grows. */
Test(store_dirwalk, a_process_leaving_200k_objects_live_inserts_every_one,
     .timeout = 120)
{
	struct shoal_store *s = NULL;
	shoal_id id;
	uint64_t v;

	tu_assert_rc(shoal_store_create(NULL, NULL, &s), 0);
	for (uint32_t i = 0; i < DW_BIG; i++) {
		v = i;
		tu_assert_rc(shoal_put(s, &v, sizeof v, 0, &id), 0, "put %u", i);
		tu_assert_rc(shoal_drop(s, id), 0);
	}
	fprintf(stderr, "dirwalk: %u objects: class %u, longest chain %u\n",
		DW_BIG, shoal__id_win(id), dw_longest(s));
	cr_assert_gt(shoal__id_win(id), 1, "class %u", shoal__id_win(id));
	cr_assert_lt(dw_longest(s), SHOAL__PROBE_MAX / 2);
	shoal_store_close(s);
}

/* Whether id's home is its window's first slot (its counter's step
 * folded to 0). */
static bool dw_first_of_window(shoal_id id)
{
	unsigned k = shoal__id_win(id);

	return ((id.lo * 4) & ((1ull << (SHOAL__WIN_LOG0 + k)) - 1)) == 0;
}

/* A pile: the process holds the IDs that come home to its window's first
 * slot, one a lap, and deletes the others; the held count stays small,
 * the pile at that home grows.  The crowding (a chain of
 * SHOAL__PROBE_MAX / 4) moves the IDs to a larger class before the pile
 * reaches SHOAL__PROBE_MAX. */
Test(store_dirwalk, a_pile_at_one_home_moves_the_ids_on, .timeout = 120)
{
	struct shoal_store *s = NULL;
	uint32_t held = 0;
	unsigned k0 = 0;
	shoal_id id;
	uint64_t v;

	tu_assert_rc(shoal_store_create(NULL, NULL, &s), 0);
	for (uint32_t i = 0; held < SHOAL__PROBE_MAX / 4 + 8; i++) {
		v = i;
		tu_assert_rc(shoal_put(s, &v, sizeof v, 0, &id), 0, "put %u", i);
		k0 = k0 ? k0 : shoal__id_win(id);
		if (dw_first_of_window(id))
			held++;
		else
			tu_assert_rc(dw_end(s, id), 0);
	}
	fprintf(stderr, "dirwalk: a pile of %u: class %u to %u, longest "
		"chain %u\n", held, k0, shoal__id_win(id), dw_longest(s));
	cr_assert_gt(shoal__id_win(id), k0, "class %u, first %u",
		     shoal__id_win(id), k0);
	cr_assert_leq(dw_longest(s), SHOAL__PROBE_MAX / 4 + 1);
	shoal_store_close(s);
}

/* An ID of window class 0 (the whole table) of owner whose home is slot
 * `at` of the table. */
static shoal_id dw_class0_at(struct shoal_store *s, uint32_t owner,
			     uint32_t at)
{
	uint32_t t = (at - shoal__dir_home(s, shoal_id_derive(0, owner, 0, 0))) &
		     s->dir_mask;

	return shoal_id_derive(0, owner, t / 4, (uint16_t)(t % 4));
}

/* A chain that is full when one of this process's IDs comes home: the
 * create fails (-ENOSPC, as before), and the IDs after it take a larger
 * class, elsewhere.  The chain is filled with IDs of class 0, which the
 * crowding rules do not watch: only the failure can move the IDs on. */
Test(store_dirwalk, a_full_chain_moves_the_next_ids_on)
{
	struct shoal_store *s = NULL;
	shoal_id t, id;
	uint32_t h;

	tu_assert_rc(shoal_store_create(NULL, NULL, &s), 0);
	t = shoal_id_next(s);
	h = shoal__dir_home(s, t);
	for (uint32_t j = 0; j < SHOAL__PROBE_MAX; j++) {
		id = dw_class0_at(s, 0xf11, (h + j) & s->dir_mask);
		cr_assert_eq(shoal__dir_home(s, id), (h + j) & s->dir_mask);
		tu_assert_rc(shoal_put_with_id(s, id, "x", 1, NULL, 0, 0), 0,
			     "fill %u", j);
	}
	cr_assert_eq(shoal__id_win(shoal_id_next(s)), shoal__id_win(t));
	tu_assert_rc(shoal_put_with_id(s, t, "t", 1, NULL, 0, 0), -ENOSPC);
	id = shoal_id_next(s);
	cr_assert_gt(shoal__id_win(id), shoal__id_win(t), "class %u after %u",
		     shoal__id_win(id), shoal__id_win(t));
	tu_assert_rc(shoal_put_with_id(s, id, "n", 1, NULL, 0, 0), 0);
	shoal_store_close(s);
}
