/* SPDX-License-Identifier: MIT */
/*
 * tests/test_dirwalk_class.c - IDs whose class bits (lo's top 6, store/
 * dir.c) a caller set: include/shoal/id.h says any value works.
 *
 * A caller of shoal_put_with_id whose IDs share `hi` (one task's returns,
 * say) and carry class 1 in lo's top bits (a counter with those bits set,
 * or a hash) walks a window of 2^14 slots: its 4097th ID comes home where
 * its first did.  The store cannot move such IDs to a larger class (the
 * caller chose them), so past what one window holds the chain at a home
 * fills (SHOAL__PROBE_MAX) and the put fails with -ENOSPC while the store
 * is nearly empty.  The same IDs with class 0 all insert.  Nothing can
 * move a caller's ID, so include/shoal/id.h tells callers to leave those
 * bits 0; what this test holds the store to: class 0 inserts all 40 k,
 * and a caller-set class fails only with -ENOSPC (counted, never another
 * error) and never after it had room, and every ID it took is found.
 */
#include "testutil.h"
#include "internal.h"

TestSuite(dirwalk_class, .init = tu_setup, .fini = tu_teardown,
	  .timeout = 120);

#define DC_N 40000u

static uint32_t dc_put_all(uint64_t cls, uint32_t *fails)
{
	struct shoal_store *s = NULL;
	uint32_t ok = 0, found = 0;

	tu_assert_rc(shoal_store_create(NULL, NULL, &s), 0);
	*fails = 0;
	for (uint32_t i = 0; i < DC_N; i++) {
		shoal_id id = shoal_id_derive(7, 99, cls << 58 | i, 0);
		uint64_t v = i;
		int rc = shoal_put_with_id(s, id, &v, sizeof v, NULL, 0, 0);

		if (rc == 0)
			ok++;
		else if (rc == -ENOSPC)
			(*fails)++;
		else
			cr_assert_fail("put %u: %s", i, shoal_strerror(rc));
	}
	/* Every ID a put took is found again, with its value. */
	for (uint32_t i = 0; i < DC_N; i++) {
		shoal_id id = shoal_id_derive(7, 99, cls << 58 | i, 0);
		struct shoal_view v;
		int rc = shoal_get(s, id, 0, &v);

		if (rc == -ETIMEDOUT || rc == -ENOENT)
			continue; /* one the store refused */
		tu_assert_rc(rc, 0, "get %u", i);
		cr_assert(v.size == sizeof(uint64_t) && *(const uint64_t *)v.data == i,
			  "class %llu, id %u: wrong object", (unsigned long long)cls, i);
		tu_assert_rc(shoal_release(s, &v), 0);
		found++;
	}
	cr_assert_eq(found, ok, "class %llu: %u found of %u put",
		     (unsigned long long)cls, found, ok);
	fprintf(stderr, "class %llu: %u of %u inserted, %u -ENOSPC, "
		"max_objects %llu\n", (unsigned long long)cls, ok, DC_N, *fails,
		(unsigned long long)s->dir_mask + 1);
	shoal_store_close(s);
	return ok;
}

Test(dirwalk_class, derived_ids_of_class_0_all_insert_and_a_set_class_fails_cleanly)
{
	uint32_t f0, f1, ok1;

	cr_assert_eq(dc_put_all(0, &f0), DC_N, "class 0: %u -ENOSPC", f0);
	/* A window of 2^14 slots holds at least its 4096 IDs of a lap. */
	ok1 = dc_put_all(1, &f1);
	cr_assert_geq(ok1, 4096u, "class 1: only %u inserted", ok1);
	cr_assert_eq(ok1 + f1, DC_N, "class 1: an error other than -ENOSPC");
}
