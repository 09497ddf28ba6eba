/* SPDX-License-Identifier: MIT */
/*
 * tests/test_crash_points.c - every crash point of store/crash.h, visited:
 * a process is SIGKILLed at the point, and the survivors must repair
 * everything.
 *
 * One test per point, expanded from SHOAL__CRASH_POINTS, so a point added
 * there is visited here without anything else to write (and a scenario
 * named there but not defined here does not compile).  Each test:
 *
 *   1. builds a world: a private store with witnesses (sealed objects with
 *      known bytes, held by the test, two of them pinned) and unheld
 *      sealed objects that creates may evict;
 *   2. runs the point's scenario: children (forked, linked with the
 *      crash-point library) attach and run a shared operation with the
 *      point armed; the scenario requires that the armed child died of
 *      SIGKILL (it reached the point), not that it returned;
 *   3. reaps (the test's own handle, as any survivor would) and checks:
 *      every witness is still sealed with its bytes, its holds and pins
 *      are the test's; the store's shared state is consistent
 *      (crash_check.h); after the test drops everything the counters are
 *      zero and a store filled to the brim takes as many objects as a
 *      fresh store of the same size (nothing leaked).
 *
 * Every wait is bounded: the children's by tu_wait_status, the survivors'
 * calls by their timeouts, and a hang anywhere by the test's .timeout.
 */
#include "testutil.h"
#include "crash_check.h"

TestSuite(crash_points, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

#define KiB 1024u
#define CP_WITNESSES 6
#define CP_PINNED 2
#define CP_CACHED 4

static const size_t cp_witness_size[CP_WITNESSES] = {
	100, 5000, 20000, 8, 64, 70 * KiB,
};

struct cp_world {
	struct shoal_store *s;
	shoal_id w[CP_WITNESSES];
	struct shoal_view pin[CP_PINNED];
	shoal_id cached[CP_CACHED];
};

static struct shoal_store_options cp_opts(void)
{
	struct shoal_store_options o;

	shoal_store_options_init(&o);
	o.capacity = 2u << 20;
	o.max_objects = 64;
	o.max_procs = 8;
	o.ledger_slots = 64;
	return o;
}

static struct shoal_store *cp_store(void)
{
	struct shoal_store_options o = cp_opts();
	struct shoal_store *s = NULL;
	int r = shoal_store_create(NULL, &o, &s);

	cr_assert_eq(r, 0, "create: %s", shoal_strerror(r));
	return s;
}

static void cp_put(struct shoal_store *s, size_t size, uint64_t seed,
		   shoal_id *id)
{
	void *buf = malloc(size);
	int r;

	cr_assert_not_null(buf);
	tu_fill(buf, size, seed);
	r = shoal_put(s, buf, size, 0, id);
	free(buf);
	cr_assert_eq(r, 0, "put %zu: %s", size, shoal_strerror(r));
}

static void cp_world_init(struct cp_world *w)
{
	w->s = cp_store();
	for (int i = 0; i < CP_WITNESSES; i++)
		cp_put(w->s, cp_witness_size[i], 100 + i, &w->w[i]);
	for (int i = 0; i < CP_PINNED; i++)
		cr_assert_eq(shoal_get(w->s, w->w[i], 0, &w->pin[i]), 0);
	for (int i = 0; i < CP_CACHED; i++) {
		cp_put(w->s, 3000, 200 + i, &w->cached[i]);
		cr_assert_eq(shoal_drop(w->s, w->cached[i]), 0);
	}
}

/* ------------------------------------------------------------------ */
/* Children                                                            */

/* Forks a child that attaches, arms `point` (SHOAL__CP_COUNT: none) and
 * runs fn; it exits 0 if fn returns.  Returns its pid. */
static pid_t cp_child(struct cp_world *w, unsigned point,
		      void (*fn)(struct shoal_store *c, struct cp_world *w))
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		int r = shoal_store_attach_fd(shoal_store_fd(w->s), &c);

		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		shoal__crash_arm(&c->crash, point, 1);
		fn(c, w);
		_exit(0);
	}
	return pid;
}

/* The child must die of SIGKILL: it reached the armed point. */
static void cp_expect_killed(pid_t pid, unsigned point)
{
	int st = tu_wait_status(pid, TU_CHILD_DEADLINE_MS);

	cr_assert_neq(st, -1, "%s: the child hung", shoal__crash_name(point));
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "%s: the child never reached the point (exit %d)",
		  shoal__crash_name(point), WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* ------------------------------------------------------------------ */
/* Scenarios: one per kind named in SHOAL__CRASH_POINTS.               */

/* Pins, holds, releases and drops every witness. */
static void cp_do_refs(struct shoal_store *c, struct cp_world *w)
{
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < CP_WITNESSES; i++) {
			struct shoal_view v;

			TU_CHILD_CHECK(shoal_get(c, w->w[i], 0, &v) == 0, 10);
			TU_CHILD_CHECK(shoal_hold(c, w->w[i]) == 0, 11);
			TU_CHILD_CHECK(shoal_release(c, &v) == 0, 12);
			TU_CHILD_CHECK(shoal_drop(c, w->w[i]) == 0, 13);
		}
	}
}

static void cp_scenario_ref(struct cp_world *w, unsigned point)
{
	cp_expect_killed(cp_child(w, point, cp_do_refs), point);
}

/* ------------------------------------------------------------------ */
/* After the crash                                                     */

static void cp_check_witnesses(struct cp_world *w)
{
	for (int i = 0; i < CP_WITNESSES; i++) {
		struct shoal_view v;
		int r = shoal_get(w->s, w->w[i], 1000, &v);

		cr_assert_eq(r, 0, "witness %d: %s", i, shoal_strerror(r));
		cr_assert_eq(v.size, cp_witness_size[i], "witness %d size", i);
		cr_assert(tu_check(v.data, v.size, 100 + i),
			  "witness %d: its bytes changed", i);
		cr_assert_eq(shoal_release(w->s, &v), 0);
	}
}

/* Nothing leaked: once every object is unheld, one object as large as
 * the whole store fits (the create evicts everything else and the heap
 * takes back every idle slab; a block leaked anywhere keeps its pages). */
static void cp_check_capacity(struct cp_world *w)
{
	struct shoal_store_options o = cp_opts();
	struct shoal_store_stats st;
	shoal_id id = shoal_id_next(w->s);
	void *buf;
	int r = shoal_create(w->s, id, o.capacity, NULL, 0, 0, &buf);

	cr_assert_eq(r, 0, "an object of the whole capacity does not fit: %s "
		     "(capacity leaked)", shoal_strerror(r));
	cr_assert_eq(shoal_abort(w->s, id), 0);
	cr_assert_eq(shoal_store_stats(w->s, &st), 0);
	cr_assert_eq(st.objects, 0, "objects counter %llu",
		     (unsigned long long)st.objects);
	cr_assert_eq(st.bytes_used, 0, "bytes counter %llu",
		     (unsigned long long)st.bytes_used);
}

static void cp_check_all(struct cp_world *w)
{
	struct cc_report rep;

	shoal_store_reap(w->s);
	cp_check_witnesses(w);
	cr_assert(cc_check(w->s, &rep), "after the crash: %s", rep.why);
	for (int i = 0; i < CP_PINNED; i++)
		cr_assert_eq(shoal_release(w->s, &w->pin[i]), 0);
	for (int i = 0; i < CP_WITNESSES; i++)
		cr_assert_eq(shoal_drop(w->s, w->w[i]), 0, "drop witness %d", i);
	cr_assert(cc_check(w->s, &rep), "after the drops: %s", rep.why);
	cp_check_capacity(w);
	shoal_store_close(w->s);
}

static void cp_run(unsigned point,
		   void (*scenario)(struct cp_world *w, unsigned point))
{
	struct cp_world w;

	cp_world_init(&w);
	scenario(&w, point);
	cp_check_all(&w);
}

#define CP_TEST(name, scenario, what)                                         \
	Test(crash_points, name, .description = what)                         \
	{                                                                     \
		cp_run(SHOAL__CP_##name, cp_scenario_##scenario);             \
	}
SHOAL__CRASH_POINTS(CP_TEST)
#undef CP_TEST

/* The list itself: names are unique and every point has a test above. */
Test(crash_points, list_is_named)
{
	for (unsigned p = 0; p < SHOAL__CP_COUNT; p++) {
		cr_assert_not_null(shoal__crash_name(p));
		for (unsigned q = 0; q < p; q++)
			cr_assert_str_neq(shoal__crash_name(p), shoal__crash_name(q));
	}
	cr_assert_null(shoal__crash_name(SHOAL__CP_COUNT));
}
