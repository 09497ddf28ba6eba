/* SPDX-License-Identifier: MIT */
/*
 * tests/test_evict_stale.c - a create at the object limit whose eviction
 * plans all go stale still finds room among unheld objects.
 *
 * A create at the limit evicts from its process's plan, the candidates
 * of one scan of the directory (store/evict.c).  A process taken off its
 * CPU between its scan and its evictions, while another process evicts
 * and creates, comes back to a plan whose every candidate is gone.  A
 * round used to rebuild its plan up to three times and then give up, so
 * a create with timeout 0 failed with -ENOSPC although the store was full
 * of sealed objects nobody held: two processes churning a small cache
 * under ASan on a loaded machine did this (store_evict's
 * two_processes_churning_the_cache_never_fail, seen once in CI).
 *
 * Here the interleaving is exact: the creator is traced (stop_point.h)
 * and held at EVICT_PLANNED, right after each scan; each time, the test
 * evicts everything and creates the store full again with new objects,
 * unheld, so that the plan names only ended entries.  The create must
 * still succeed: the round, out of plans, sweeps the directory.
 * Synchronisation is by ptrace stops only.  Stores are private (memfd).
 */
#include "testutil.h"
#include "internal.h"
#include "stop_point.h"

#include <sys/wait.h>

TestSuite(evict_stale, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

#define MiB (1024u * 1024u)
#define ES_OBJECTS 64u   /* the store's object limit */
#define ES_SIZE 64u
#define ES_STOPS 8       /* more than any round rebuilds */

/* M new objects, put and dropped: sealed, unheld, evictable. */
static void es_fill(struct shoal_store *s, uint64_t *next)
{
	char buf[ES_SIZE] = {0};

	for (uint32_t i = 0; i < ES_OBJECTS; i++) {
		shoal_id id = tu_id(1, (*next)++);

		tu_assert_rc(shoal_put_with_id(s, id, buf, sizeof buf, NULL, 0, 0), 0);
		tu_assert_rc(shoal_drop(s, id), 0);
	}
}

/* Every object of the plan the creator just built ended, and the store
 * full again with others. */
static void es_stale(struct shoal_store *s, uint64_t *next)
{
	cr_assert_gt(shoal_evict(s, 8 * MiB), 0, "nothing to evict");
	cr_assert_eq(tu_stats(s).objects, 0, "objects left after evicting all");
	es_fill(s, next);
}

/* The creator: traced from the start, one put with timeout 0 at the
 * limit; exits with its result (tu_err_to_exit). */
static pid_t es_creator(struct shoal_store *s)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		char buf[ES_SIZE] = {0};
		int rc;

		sp_child_traceme();
		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, 2);
		rc = shoal_put_with_id(c, tu_id(2, 1), buf, sizeof buf, NULL, 0, 0);
		shoal_store_close(c);
		_exit(tu_err_to_exit(rc));
	}
	return pid;
}

Test(evict_stale, a_create_whose_plans_all_go_stale_still_evicts)
{
	struct shoal_store_options o = tu_opts(8 * MiB);
	struct shoal_store *s = NULL;
	struct sp_tracee t;
	uint64_t next = 1;
	int stops = 0, rc;
	pid_t pid;

	o.max_objects = ES_OBJECTS;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	es_fill(s, &next);
	pid = es_creator(s);
	sp_start(&t, pid);
	while (stops < ES_STOPS &&
	       sp_wait_at(&t, SHOAL__CP_EVICT_PLANNED, 1, TU_CHILD_DEADLINE_MS)) {
		es_stale(s, &next);
		stops++;
	}
	cr_assert_geq(stops, 1, "the creator never planned an eviction");
	cr_assert_lt(stops, ES_STOPS, "the creator planned for ever");
	/* It ended on its way to the next stop: its status is in t. */
	cr_assert(WIFEXITED(t.status), "the creator did not exit (status %d)",
		  t.status);
	rc = tu_exit_to_err(WEXITSTATUS(t.status));
	cr_assert_eq(rc, 0, "the put failed after %d stale plans: %d (%s)", stops,
		     rc, shoal_strerror(rc));
	cr_assert_eq(shoal_contains(s, tu_id(2, 1)), 1,
		     "the creator's object is not in the store");
	cr_assert_leq(tu_stats(s).objects, ES_OBJECTS, "over the object limit");
	shoal_store_close(s);
}
