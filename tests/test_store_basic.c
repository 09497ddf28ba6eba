/* SPDX-License-Identifier: MIT */
/*
 * tests/test_store_basic.c - the object store's single-process API:
 * options, private and named stores, create/seal/get/release, put,
 * get_many, contains, hold/drop, delete, abort, list and stats, odd sizes,
 * ID generation and error strings.
 */
#include "testutil.h"
#include "internal.h"

#include <sys/mman.h>
#include <sys/stat.h>

TestSuite(store_basic, .init = tu_setup, .fini = tu_teardown);

#define MiB (1024u * 1024u)

static uint64_t page_round(uint64_t n)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

Test(store_basic, options_init_defaults)
{
	struct shoal_store_options o, m = SHOAL_STORE_OPTIONS_INIT;

	memset(&o, 0xff, sizeof(o)); /* every field must be written */
	shoal_store_options_init(&o);
	/* the documented defaults (store.h) */
	cr_assert_eq(o.capacity, 256ull << 20);
	cr_assert_eq(o.max_objects, 262144);
	cr_assert_eq(o.max_procs, 64);
	cr_assert_eq(o.ledger_slots, 0); /* sized by need */
	cr_assert_eq(o.spin_budget, 2000);
	/* the macro and the function agree */
	cr_assert_eq(m.capacity, o.capacity);
	cr_assert_eq(m.max_objects, o.max_objects);
	cr_assert_eq(m.max_procs, o.max_procs);
	cr_assert_eq(m.ledger_slots, o.ledger_slots);
	cr_assert_eq(m.spin_budget, o.spin_budget);
}

Test(store_basic, create_with_default_options)
{
	struct shoal_store *s = NULL;
	struct shoal_store_stats st;

	/* opts == NULL means the defaults */
	tu_assert_rc(shoal_store_create(NULL, NULL, &s), 0);
	st = tu_stats(s);
	cr_assert_eq(st.capacity, 256ull << 20);
	cr_assert_eq(st.max_objects, 262144);
	cr_assert_eq(st.max_procs, 64);
	cr_assert_eq(st.processes, 1);
	shoal_store_close(s);
}

Test(store_basic, create_private_store)
{
	struct shoal_store_options o = tu_opts(3 * MiB + 1);
	struct shoal_store *s = NULL;
	struct shoal_store_stats st;
	char link[64], target[256];
	struct stat sb;
	ssize_t n;
	int fd;

	o.max_objects = 100;
	o.max_procs = 5;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	cr_assert_not_null(s);

	/* a memfd, big enough to hold the capacity */
	fd = shoal_store_fd(s);
	cr_assert_geq(fd, 0);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	cr_assert_gt(n, 0);
	target[n] = '\0';
	cr_assert_eq(strncmp(target, "/memfd:", 7), 0, "fd is %s", target);
	cr_assert_eq(fstat(fd, &sb), 0);
	cr_assert_geq((uint64_t)sb.st_size, page_round(o.capacity));

	st = tu_stats(s);
	cr_assert_geq(st.capacity, o.capacity);
	cr_assert_eq(st.max_objects, 100);
	cr_assert_eq(st.max_procs, 5);
	cr_assert_eq(st.processes, 1);
	cr_assert_eq(st.objects, 0);
	cr_assert_eq(st.bytes_used, 0);
	cr_assert_eq(st.evictions, 0);
	cr_assert_eq(st.evicted_bytes, 0);
	cr_assert_eq(st.reaped, 0);

	/* it works */
	tu_assert_rc(tu_put(s, tu_id(1, 1), 1000, 11, 0), 0);
	tu_assert_rc(tu_get_check(s, tu_id(1, 1), 1000, 11, 0), 0);
	shoal_store_close(s);
}

static uint64_t slab_round(uint64_t v)
{
	return (v + 65535) & ~(uint64_t)65535;
}

Test(store_basic, capacity_is_rounded_up_to_the_slab_size)
{
	static const uint64_t asks[] = {MiB, MiB + 1, 3 * MiB + 4095,
					5 * MiB + 4097};

	for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
		struct shoal_store_options o = tu_opts(asks[i]);
		struct shoal_store *s = NULL;
		uint64_t cap;

		tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
		cap = tu_stats(s).capacity;
		shoal_store_close(s);
		/* store.h: "Bytes available to object data and metadata
		 * (rounded up to a multiple of 64 KiB ...)" */
		cr_assert_eq(cap, slab_round(asks[i]),
			     "capacity %" PRIu64 " for %" PRIu64 " (want %" PRIu64
			     ")",
			     cap, asks[i], slab_round(asks[i]));
	}
}

Test(store_basic, create_named_store)
{
	struct shoal_store_options o = tu_opts(MiB);
	struct shoal_store *s = NULL, *s2 = NULL;
	const char *name = tu_shm_name(NULL);
	char path[300];
	struct stat sb;

	tu_assert_rc(shoal_store_create(name, &o, &s), 0);
	tu_shm_path(name, path, sizeof(path));
	cr_assert_eq(stat(path, &sb), 0, "%s: %s", path, strerror(errno));
	cr_assert(S_ISREG(sb.st_mode));
	cr_assert_eq(sb.st_mode & 07777, 0600, "mode %o", sb.st_mode & 07777);
	cr_assert_eq(sb.st_uid, geteuid());

	/* exclusive: a second create of the name fails and leaves it alone */
	tu_assert_rc(shoal_store_create(name, &o, &s2), -EEXIST);
	/* the name without its leading '/' is the same segment */
	tu_assert_rc(shoal_store_create(name + 1, &o, &s2), -EEXIST);
	tu_assert_rc(tu_put(s, tu_id(1, 1), 5000, 3, 0), 0);
	tu_assert_rc(tu_get_check(s, tu_id(1, 1), 5000, 3, 0), 0);

	/* unlink removes the name; the mapping keeps working */
	tu_assert_rc(shoal_store_unlink(name), 0);
	cr_assert_not(tu_shm_exists(name));
	tu_assert_rc(shoal_store_unlink(name), -ENOENT);
	tu_assert_rc(tu_get_check(s, tu_id(1, 1), 5000, 3, 0), 0);
	tu_assert_rc(tu_put(s, tu_id(1, 2), 100, 4, 0), 0);
	tu_assert_rc(tu_get_check(s, tu_id(1, 2), 100, 4, 0), 0);
	shoal_store_close(s);
}

Test(store_basic, named_store_without_leading_slash)
{
	struct shoal_store_options o = tu_opts(MiB);
	struct shoal_store *s = NULL, *s2 = NULL;
	const char *name = tu_shm_name(NULL);
	struct stat sb;
	char path[300];

	/* "name" and "/name" are the same segment, /dev/shm/name */
	tu_assert_rc(shoal_store_create(name + 1, &o, &s), 0);
	tu_shm_path(name, path, sizeof(path));
	cr_assert_eq(stat(path, &sb), 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(sb.st_mode & 07777, 0600, "mode %o", sb.st_mode & 07777);
	tu_assert_rc(tu_put(s, tu_id(1, 1), 64, 1, 0), 0);
	tu_assert_rc(shoal_store_attach(name, &s2), 0);
	tu_assert_rc(tu_get_check(s2, tu_id(1, 1), 64, 1, 0), 0);
	shoal_store_close(s2);
	shoal_store_close(s);
	tu_assert_rc(shoal_store_unlink(name + 1), 0);
	cr_assert_not(tu_shm_exists(name));
}

Test(store_basic, create_write_seal_get)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = tu_id(1, 1);
	char meta[] = "meta: x=1;y=2";
	void *data = NULL;
	struct shoal_view v;

	tu_assert_rc(shoal_create(s, id, 1000, meta, sizeof(meta), 0, &data),
		     0);
	cr_assert_not_null(data);
	/* meta was copied at create: changing the caller's buffer after it
	 * must not change the object */
	meta[0] = 'X';
	tu_fill(data, 1000, 77);
	tu_assert_rc(shoal_seal(s, id), 0);

	memset(&v, 0, sizeof(v));
	tu_assert_rc(shoal_get(s, id, 0, &v), 0);
	cr_assert(shoal_id_eq(v.id, id));
	cr_assert_eq(v.size, 1000);
	cr_assert(tu_check(v.data, v.size, 77), "data differs");
	cr_assert_eq(v.meta_size, sizeof(meta));
	cr_assert_not_null(v.meta);
	cr_assert_str_eq((const char *)v.meta, "meta: x=1;y=2");
	tu_assert_rc(shoal_release(s, &v), 0);
	shoal_store_close(s);
}

Test(store_basic, get_of_unsealed_times_out)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = tu_id(1, 1);
	void *data = NULL;
	struct shoal_view v;
	int64_t t0, t1;

	tu_assert_rc(shoal_create(s, id, 100, NULL, 0, 0, &data), 0);
	tu_assert_rc(shoal_get(s, id, 0, &v), -ETIMEDOUT);
	/* a timed wait waits for its timeout, then gives up */
	t0 = tu_now_ms();
	tu_assert_rc(shoal_get(s, id, 50, &v), -ETIMEDOUT);
	t1 = tu_now_ms();
	cr_assert_geq(t1 - t0, 49, "returned after %" PRId64 " ms", t1 - t0);
	/* an ID that does not exist at all: the same */
	tu_assert_rc(shoal_get(s, tu_id(1, 2), 0, &v), -ETIMEDOUT);
	/* sealing makes it visible */
	tu_fill(data, 100, 5);
	tu_assert_rc(shoal_seal(s, id), 0);
	tu_assert_rc(tu_get_check(s, id, 100, 5, 0), 0);
	shoal_store_close(s);
}

Test(store_basic, put_and_put_with_id)
{
	struct shoal_store *s = tu_store(4 * MiB);
	char buf[3000], meta[] = "abc";
	shoal_id a = SHOAL_ID_NIL, b = SHOAL_ID_NIL, c = tu_id(2, 7);
	struct shoal_view v;

	tu_fill(buf, sizeof(buf), 1);
	tu_assert_rc(shoal_put(s, buf, sizeof(buf), 0, &a), 0);
	cr_assert_not(shoal_id_is_nil(a));
	tu_assert_rc(shoal_put(s, buf, 10, 0, &b), 0);
	cr_assert_not(shoal_id_is_nil(b));
	cr_assert_not(shoal_id_eq(a, b), "two puts, one ID");
	/* the put copied the buffer */
	memset(buf, 0, sizeof(buf));
	tu_assert_rc(tu_get_check(s, a, 3000, 1, 0), 0);
	tu_assert_rc(shoal_get(s, b, 0, &v), 0);
	cr_assert_eq(v.size, 10);
	cr_assert_eq(v.meta_size, 0);
	cr_assert(tu_check(v.data, 10, 1));
	tu_assert_rc(shoal_release(s, &v), 0);

	tu_fill(buf, 500, 9);
	tu_assert_rc(shoal_put_with_id(s, c, buf, 500, meta, 3, 0), 0);
	tu_assert_rc(shoal_get(s, c, 0, &v), 0);
	cr_assert_eq(v.size, 500);
	cr_assert(tu_check(v.data, 500, 9));
	cr_assert_eq(v.meta_size, 3);
	cr_assert_eq(memcmp(v.meta, "abc", 3), 0);
	tu_assert_rc(shoal_release(s, &v), 0);
	tu_assert_rc(shoal_put_with_id(s, c, buf, 500, NULL, 0, 0), -EEXIST);

	/* "The caller holds the result" */
	cr_assert_eq(tu_info(s, a).holds, 1);
	cr_assert_eq(tu_info(s, c).holds, 1);
	cr_assert_eq(tu_info(s, c).state, SHOAL_OBJECT_SEALED);
	cr_assert_eq(tu_stats(s).objects, 3);
	shoal_store_close(s);
}

Test(store_basic, get_many_all_present)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id ids[5];
	struct shoal_view v[5];

	for (int i = 0; i < 5; i++) {
		ids[i] = tu_id(1, (uint64_t)(4 - i)); /* not in ID order */
		tu_assert_rc(tu_put(s, ids[i], 100 * (size_t)(i + 1),
				    (uint64_t)i, 0),
			     0);
	}
	memset(v, 0x5a, sizeof(v));
	tu_assert_rc(shoal_get_many(s, ids, 5, 0, v), 5);
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(v[i].err, 0, "view %d: %d", i, v[i].err);
		cr_assert(shoal_id_eq(v[i].id, ids[i]), "view %d: order", i);
		cr_assert_eq(v[i].size, 100 * (size_t)(i + 1));
		cr_assert(tu_check(v[i].data, v[i].size, (uint64_t)i));
		cr_assert_eq(tu_info(s, ids[i]).pins, 1);
	}
	for (int i = 0; i < 5; i++) {
		tu_assert_rc(shoal_release(s, &v[i]), 0);
		cr_assert_eq(tu_info(s, ids[i]).pins, 0);
	}
	/* n == 0: nothing to do */
	tu_assert_rc(shoal_get_many(s, ids, 0, 0, v), 0);
	shoal_store_close(s);
}

Test(store_basic, get_many_some_missing)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id ids[6];
	struct shoal_view v[6];
	bool present[6] = {true, false, true, true, false, true};
	void *data;
	int64_t t0, t1;

	for (int i = 0; i < 6; i++) {
		ids[i] = tu_id(1, (uint64_t)i);
		if (present[i])
			tu_assert_rc(tu_put(s, ids[i], 64, (uint64_t)i, 0), 0);
	}
	/* ids[4] exists but is not sealed: not ready either */
	tu_assert_rc(shoal_create(s, ids[4], 64, NULL, 0, 0, &data), 0);

	for (int round = 0; round < 2; round++) {
		int timeout = round == 0 ? 0 : 60;

		memset(v, 0x5a, sizeof(v));
		t0 = tu_now_ms();
		tu_assert_rc(shoal_get_many(s, ids, 6, timeout, v), 4);
		t1 = tu_now_ms();
		/* one deadline for all, not one per missing ID */
		cr_assert_geq(t1 - t0, timeout - 1);
		for (int i = 0; i < 6; i++) {
			if (present[i]) {
				cr_assert_eq(v[i].err, 0, "view %d", i);
				cr_assert(tu_check(v[i].data, 64,
						   (uint64_t)i));
				tu_assert_rc(shoal_release(s, &v[i]), 0);
			} else {
				cr_assert_eq(v[i].err, -ETIMEDOUT,
					     "view %d: err %d", i, v[i].err);
				cr_assert_null(v[i].data, "view %d", i);
				/* not pinned: nothing to release */
				tu_assert_rc(shoal_release(s, &v[i]), -EINVAL);
			}
		}
	}
	for (int i = 0; i < 6; i++)
		if (present[i])
			cr_assert_eq(tu_info(s, ids[i]).pins, 0);
	shoal_store_close(s);
}

Test(store_basic, release_clears_the_view)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = tu_id(1, 1);
	struct shoal_view v, zero;

	tu_assert_rc(tu_put(s, id, 128, 1, 0), 0);
	tu_assert_rc(shoal_get(s, id, 0, &v), 0);
	cr_assert_eq(tu_info(s, id).pins, 1);
	tu_assert_rc(shoal_release(s, &v), 0);
	memset(&zero, 0, sizeof(zero));
	cr_assert_null(v.data);
	cr_assert_eq(v.size, 0);
	cr_assert_null(v.meta);
	cr_assert_eq(v.meta_size, 0);
	cr_assert(shoal_id_is_nil(v.id));
	cr_assert_eq(tu_info(s, id).pins, 0);
	/* the cleared view is not pinned any more */
	tu_assert_rc(shoal_release(s, &v), -EINVAL);
	cr_assert_eq(tu_info(s, id).pins, 0);
	shoal_store_close(s);
}

Test(store_basic, contains)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = tu_id(1, 1);
	void *data;

	tu_assert_rc(shoal_contains(s, id), 0);
	tu_assert_rc(shoal_create(s, id, 10, NULL, 0, 0, &data), 0);
	tu_assert_rc(shoal_contains(s, id), 0);
	tu_assert_rc(shoal_seal(s, id), 0);
	tu_assert_rc(shoal_contains(s, id), 1);
	tu_assert_rc(shoal_contains(s, tu_id(1, 2)), 0);
	tu_assert_rc(shoal_delete(s, id), 0);
	tu_assert_rc(shoal_contains(s, id), 0);
	/* contains neither pins nor holds */
	tu_assert_rc(tu_put(s, tu_id(1, 3), 10, 1, 0), 0);
	tu_assert_rc(shoal_contains(s, tu_id(1, 3)), 1);
	cr_assert_eq(tu_info(s, tu_id(1, 3)).pins, 0);
	cr_assert_eq(tu_info(s, tu_id(1, 3)).holds, 1);
	shoal_store_close(s);
}

Test(store_basic, hold_and_drop)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = tu_id(1, 1);

	tu_assert_rc(tu_put(s, id, 10, 1, 0), 0);
	cr_assert_eq(tu_info(s, id).holds, 1); /* the creator's */
	tu_assert_rc(shoal_hold(s, id), 0);
	tu_assert_rc(shoal_hold(s, id), 0);
	cr_assert_eq(tu_info(s, id).holds, 3);
	tu_assert_rc(shoal_drop(s, id), 0);
	cr_assert_eq(tu_info(s, id).holds, 2);
	tu_assert_rc(shoal_drop(s, id), 0);
	tu_assert_rc(shoal_drop(s, id), 0);
	cr_assert_eq(tu_info(s, id).holds, 0);
	/* no hold left */
	tu_assert_rc(shoal_drop(s, id), -ENOENT);
	cr_assert_eq(tu_info(s, id).holds, 0);
	/* unheld, the object is still there (a cache entry) */
	tu_assert_rc(tu_get_check(s, id, 10, 1, 0), 0);
	/* a fresh hold after that */
	tu_assert_rc(shoal_hold(s, id), 0);
	cr_assert_eq(tu_info(s, id).holds, 1);
	/* drop of an object this process never held */
	tu_assert_rc(tu_put(s, tu_id(1, 2), 10, 2, 0), 0);
	tu_assert_rc(shoal_drop(s, tu_id(1, 2)), 0);
	tu_assert_rc(shoal_drop(s, tu_id(1, 2)), -ENOENT);
	shoal_store_close(s);
}

Test(store_basic, delete_is_deferred_until_release)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = tu_id(1, 1), other = tu_id(1, 2);
	struct shoal_view v1, v2, v3;
	struct shoal_store_stats before, st;
	const size_t size = 64 * 1024, msize = 5;

	tu_assert_rc(tu_put(s, other, 1000, 2, 0), 0);
	{
		char *buf = malloc(size);

		cr_assert_not_null(buf);
		tu_fill(buf, size, 1);
		tu_assert_rc(shoal_put_with_id(s, id, buf, size, "meta!",
					       msize, 0),
			     0);
		free(buf);
	}
	tu_assert_rc(shoal_get(s, id, 0, &v1), 0);
	tu_assert_rc(shoal_get(s, id, 0, &v2), 0);
	cr_assert_eq(tu_info(s, id).pins, 2);
	before = tu_stats(s);

	/* deleted whatever its holds (the creator still holds it) */
	tu_assert_rc(shoal_delete(s, id), 0);
	/* new gets see the deletion at once, even with a long timeout */
	tu_assert_rc(shoal_get(s, id, 5000, &v3), SHOAL_EDELETED);
	tu_assert_rc(shoal_contains(s, id), 0);
	/* still pinned: listed as DELETING, memory still taken */
	cr_assert_eq(tu_info(s, id).state, SHOAL_OBJECT_DELETING);
	cr_assert_eq(tu_info(s, id).pins, 2);
	st = tu_stats(s);
	cr_assert_eq(st.bytes_used, before.bytes_used);
	/* the pinned views still read their bytes */
	cr_assert(tu_check(v1.data, size, 1));
	cr_assert(tu_check(v2.data, size, 1));
	cr_assert_eq(memcmp(v1.meta, "meta!", msize), 0);

	tu_assert_rc(shoal_release(s, &v1), 0);
	st = tu_stats(s);
	cr_assert_eq(st.bytes_used, before.bytes_used);
	cr_assert(tu_check(v2.data, size, 1), "freed under a pin");
	tu_assert_rc(shoal_get(s, id, 0, &v3), SHOAL_EDELETED);

	/* the last release frees it */
	tu_assert_rc(shoal_release(s, &v2), 0);
	st = tu_stats(s);
	cr_assert_eq(st.bytes_used, before.bytes_used - size - msize,
		     "bytes_used %" PRIu64 ", before %" PRIu64, st.bytes_used,
		     before.bytes_used);
	cr_assert_eq(st.objects, before.objects - 1);
	cr_assert_not(tu_listed(s, id));
	/* the tombstone still answers */
	tu_assert_rc(shoal_get(s, id, 1000, &v3), SHOAL_EDELETED);
	/* the other object is untouched */
	tu_assert_rc(tu_get_check(s, other, 1000, 2, 0), 0);
	shoal_store_close(s);
}

Test(store_basic, delete_unpinned_frees_at_once)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = tu_id(1, 1);
	struct shoal_store_stats before, st;
	struct shoal_view v;

	before = tu_stats(s);
	tu_assert_rc(tu_put(s, id, 20000, 1, 0), 0);
	st = tu_stats(s);
	cr_assert_eq(st.bytes_used, before.bytes_used + 20000);
	cr_assert_eq(st.objects, before.objects + 1);
	tu_assert_rc(shoal_delete(s, id), 0);
	st = tu_stats(s);
	cr_assert_eq(st.bytes_used, before.bytes_used);
	cr_assert_eq(st.objects, before.objects);
	tu_assert_rc(shoal_get(s, id, 0, &v), SHOAL_EDELETED);
	/* the holder's hold went with the object */
	cr_assert_not(tu_listed(s, id));
	shoal_store_close(s);
}

Test(store_basic, abort)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = tu_id(1, 1);
	struct shoal_store_stats before, st;
	struct shoal_view v;
	void *data = NULL;

	before = tu_stats(s);
	tu_assert_rc(shoal_create(s, id, 30000, "m", 1, 0, &data), 0);
	st = tu_stats(s);
	cr_assert_eq(st.objects, before.objects + 1);
	cr_assert_eq(st.bytes_used, before.bytes_used + 30001);
	cr_assert_eq(tu_info(s, id).state, SHOAL_OBJECT_CREATED);
	cr_assert_eq(tu_info(s, id).creator_pid, getpid());
	memset(data, 0xee, 30000);
	tu_assert_rc(shoal_abort(s, id), 0);

	/* as if never created */
	st = tu_stats(s);
	cr_assert_eq(st.objects, before.objects);
	cr_assert_eq(st.bytes_used, before.bytes_used);
	cr_assert_not(tu_listed(s, id));
	tu_assert_rc(shoal_contains(s, id), 0);
	tu_assert_rc(shoal_get(s, id, 0, &v), -ETIMEDOUT);
	tu_assert_rc(shoal_seal(s, id), -ENOENT);

	/* the ID can be created again */
	tu_assert_rc(tu_create_sealed(s, id, 100, 4, 0), 0);
	tu_assert_rc(tu_get_check(s, id, 100, 4, 0), 0);
	shoal_store_close(s);
}

Test(store_basic, list_and_stats)
{
	struct shoal_store *s = tu_store(4 * MiB);
	static const size_t sizes[3] = {100, 5000, 70000};
	static const size_t msizes[3] = {0, 10, 3};
	struct shoal_object_info infos[8];
	struct shoal_store_stats st;
	struct shoal_view v;
	shoal_id u = tu_id(9, 9);
	uint64_t total = 0;
	void *data;
	char *buf = malloc(70000);
	int n;

	cr_assert_not_null(buf);
	for (int i = 0; i < 3; i++) {
		tu_fill(buf, sizes[i], (uint64_t)i);
		tu_assert_rc(shoal_put_with_id(s, tu_id(1, (uint64_t)i), buf,
					       sizes[i], "0123456789",
					       msizes[i], 0),
			     0);
		total += sizes[i] + msizes[i];
	}
	free(buf);
	tu_assert_rc(shoal_create(s, u, 200, NULL, 0, 0, &data), 0);
	total += 200;

	st = tu_stats(s);
	cr_assert_eq(st.objects, 4);
	cr_assert_eq(st.bytes_used, total, "bytes_used %" PRIu64 " want %" PRIu64,
		     st.bytes_used, total);
	cr_assert_geq(st.heap_bytes_reserved, total);
	cr_assert_leq(st.heap_bytes_reserved, st.capacity);
	cr_assert_eq(st.processes, 1);

	memset(infos, 0, sizeof(infos));
	n = shoal_list(s, infos, 8);
	cr_assert_eq(n, 4);
	for (int i = 0; i < 3; i++) {
		int k = tu_find(infos, n, tu_id(1, (uint64_t)i));

		cr_assert_geq(k, 0, "object %d not listed", i);
		cr_assert_eq(infos[k].data_size, sizes[i]);
		cr_assert_eq(infos[k].meta_size, msizes[i]);
		cr_assert_eq(infos[k].state, SHOAL_OBJECT_SEALED);
		cr_assert_eq(infos[k].pins, 0);
		cr_assert_eq(infos[k].holds, 1);
		cr_assert_eq(infos[k].creator_pid, getpid());
	}
	{
		int k = tu_find(infos, n, u);

		cr_assert_geq(k, 0);
		cr_assert_eq(infos[k].state, SHOAL_OBJECT_CREATED);
		cr_assert_eq(infos[k].data_size, 200);
		/* holds of an unsealed object: store.h only says that the
		 * creator holds it once sealed (checked below), not before */
		cr_assert_eq(infos[k].pins, 0);
		cr_assert_eq(infos[k].creator_pid, getpid());
	}

	/* pins and holds as they change */
	tu_assert_rc(shoal_get(s, tu_id(1, 1), 0, &v), 0);
	tu_assert_rc(shoal_hold(s, tu_id(1, 2)), 0);
	tu_assert_rc(shoal_drop(s, tu_id(1, 0)), 0);
	cr_assert_eq(tu_info(s, tu_id(1, 1)).pins, 1);
	cr_assert_eq(tu_info(s, tu_id(1, 2)).holds, 2);
	cr_assert_eq(tu_info(s, tu_id(1, 0)).holds, 0);
	tu_assert_rc(shoal_release(s, &v), 0);
	cr_assert_eq(tu_info(s, tu_id(1, 1)).pins, 0);

	/* a short array: the count of all, only cap entries written */
	memset(infos, 0x77, sizeof(infos));
	cr_assert_eq(shoal_list(s, infos, 2), 4);
	for (int i = 2; i < 8; i++) {
		const unsigned char *p = (const unsigned char *)&infos[i];

		for (size_t b = 0; b < sizeof(infos[i]); b++)
			cr_assert_eq(p[b], 0x77, "wrote entry %d", i);
	}
	cr_assert_eq(shoal_list(s, NULL, 0), 4);

	/* sealing changes the state, not the count */
	tu_assert_rc(shoal_seal(s, u), 0);
	cr_assert_eq(tu_info(s, u).state, SHOAL_OBJECT_SEALED);
	cr_assert_eq(tu_info(s, u).holds, 1);
	st = tu_stats(s);
	cr_assert_eq(st.objects, 4);
	cr_assert_eq(st.bytes_used, total);
	shoal_store_close(s);
}

Test(store_basic, zero_size_and_metadata_only_objects)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id a = tu_id(1, 1), b = tu_id(1, 2), c = tu_id(1, 3);
	struct shoal_view v;
	void *data = (void *)1;
	char dummy = 0;

	/* metadata only, through create/seal */
	tu_assert_rc(shoal_create(s, a, 0, "only-meta", 9, 0, &data), 0);
	tu_assert_rc(shoal_seal(s, a), 0);
	tu_assert_rc(shoal_get(s, a, 0, &v), 0);
	cr_assert_eq(v.size, 0);
	cr_assert_eq(v.meta_size, 9);
	cr_assert_eq(memcmp(v.meta, "only-meta", 9), 0);
	tu_assert_rc(shoal_release(s, &v), 0);

	/* nothing at all */
	tu_assert_rc(shoal_put_with_id(s, b, &dummy, 0, NULL, 0, 0), 0);
	tu_assert_rc(shoal_get(s, b, 0, &v), 0);
	cr_assert_eq(v.size, 0);
	cr_assert_eq(v.meta_size, 0);
	cr_assert(shoal_id_eq(v.id, b));
	tu_assert_rc(shoal_release(s, &v), 0);
	tu_assert_rc(shoal_contains(s, b), 1);

	/* metadata only, through put */
	tu_assert_rc(shoal_put_with_id(s, c, &dummy, 0, "m", 1, 0), 0);
	tu_assert_rc(shoal_get(s, c, 0, &v), 0);
	cr_assert_eq(v.size, 0);
	cr_assert_eq(v.meta_size, 1);
	cr_assert_eq(*(const char *)v.meta, 'm');
	tu_assert_rc(shoal_release(s, &v), 0);

	cr_assert_eq(tu_stats(s).objects, 3);
	cr_assert_eq(tu_stats(s).bytes_used, 9 + 0 + 1);
	cr_assert_eq(tu_info(s, b).data_size, 0);
	tu_assert_rc(shoal_delete(s, a), 0);
	tu_assert_rc(shoal_delete(s, b), 0);
	tu_assert_rc(shoal_delete(s, c), 0);
	cr_assert_eq(tu_stats(s).objects, 0);
	cr_assert_eq(tu_stats(s).bytes_used, 0);
	shoal_store_close(s);
}

Test(store_basic, large_and_small_objects)
{
	struct shoal_store *s = tu_store(32 * MiB);
	static const size_t sizes[] = {1,	  7,	  8,	      63,
				       64,	  65,	  4095,	      4096,
				       4097,  16384, 16385,       65536,
				       100000, MiB,  8 * MiB,     8 * MiB - 1};
	const size_t n = sizeof(sizes) / sizeof(sizes[0]);
	uint64_t total = 0;

	for (size_t i = 0; i < n; i++) {
		tu_assert_rc(tu_create_sealed(s, tu_id(1, i), sizes[i], 100 + i,
					      0),
			     0, "size %zu", sizes[i]);
		total += sizes[i];
	}
	/* every object intact after all were written (no overlap) */
	for (size_t i = 0; i < n; i++)
		tu_assert_rc(tu_get_check(s, tu_id(1, i), sizes[i], 100 + i, 0),
			     0);
	cr_assert_eq(tu_stats(s).bytes_used, total);
	cr_assert_eq(tu_stats(s).objects, n);
	cr_assert_eq(tu_stats(s).evictions, 0);
	/* views of distinct objects do not overlap */
	{
		struct shoal_view v[16];

		cr_assert_eq(shoal_get_many(s, (shoal_id[]){tu_id(1, 0),
							     tu_id(1, 1)},
					    2, 0, v),
			     2);
		cr_assert((const char *)v[0].data + v[0].size <=
				  (const char *)v[1].data ||
			  (const char *)v[1].data + v[1].size <=
				  (const char *)v[0].data);
		shoal_release(s, &v[0]);
		shoal_release(s, &v[1]);
	}
	shoal_store_close(s);
}

static int cmp_id(const void *a, const void *b)
{
	const shoal_id *x = a, *y = b;

	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

Test(store_basic, id_next_gives_distinct_ids)
{
	enum { N = 2000 };
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id *ids = malloc(N * sizeof(*ids));
	shoal_id p = SHOAL_ID_NIL;

	cr_assert_not_null(ids);
	for (int i = 0; i < N; i++) {
		ids[i] = shoal_id_next(s);
		cr_assert_not(shoal_id_is_nil(ids[i]));
		cr_assert_eq(shoal_id_node(ids[i]), 0);
	}
	/* and put's IDs come from the same source */
	tu_assert_rc(shoal_put(s, "x", 1, 0, &p), 0);
	qsort(ids, N, sizeof(*ids), cmp_id);
	for (int i = 1; i < N; i++)
		cr_assert_not(shoal_id_eq(ids[i - 1], ids[i]),
			      "shoal_id_next repeated an ID");
	for (int i = 0; i < N; i++)
		cr_assert_not(shoal_id_eq(ids[i], p), "put reused an ID");
	/* a fresh ID is free in the store: it can be created */
	tu_assert_rc(tu_put(s, ids[0], 8, 1, 0), 0);
	free(ids);
	shoal_store_close(s);
}

/*
 * Issue 8 point 3: an ID never repeats in a segment's life, even when a
 * process slot's generation wraps around.  IDs used to carry 20 bits of
 * the slot's generation and a counter that restarted at each attach: the
 * 2^20-th process in a slot made the IDs of the first again, and a put
 * made a second live entry under an existing ID.  The wrap is made here
 * by setting the freed slot's generation 2^20 - 1 ahead.
 */
Test(store_basic, ids_do_not_repeat_when_a_slot_generation_wraps)
{
	struct shoal_store *s = tu_store(4 * MiB), *a, *b;
	shoal_id ia, ib;
	struct shoal_view v;
	uint32_t slot, gen;

	tu_assert_rc(shoal_store_attach_fd(shoal_store_fd(s), &a), 0);
	slot = a->slot;
	gen = a->slot_gen;
	tu_assert_rc(shoal_put(a, "first", 6, 0, &ia), 0);
	shoal_store_close(a);
	atomic_store(&s->procs[slot].state,
		     SHOAL__PROC_STATE(gen + 0xfffff, SHOAL__PROC_FREE, 0));
	tu_assert_rc(shoal_store_attach_fd(shoal_store_fd(s), &b), 0);
	cr_assert_eq(b->slot, slot, "the same slot again");
	cr_assert_eq(b->slot_gen & 0xfffff, gen & 0xfffff, "a wrapped generation");
	tu_assert_rc(shoal_put(b, "second", 7, 0, &ib), 0);
	cr_assert_not(shoal_id_eq(ia, ib), "the second process got the first "
		      "process's ID again");
	tu_assert_rc(shoal_get(s, ib, 0, &v), 0);
	cr_assert_str_eq(v.data, "second");
	tu_assert_rc(shoal_release(s, &v), 0);
	tu_assert_rc(shoal_get(s, ia, 0, &v), 0);
	cr_assert_str_eq(v.data, "first");
	tu_assert_rc(shoal_release(s, &v), 0);
	shoal_store_close(b);
	shoal_store_close(s);
}

/*
 * Issue 8 point 4: a process's ledger names every directory entry.  Its
 * key was 24 bits: with max_objects above 2^21 the directory has 2^24
 * slots, the last one's key (index + 1) wrapped to 0, and its holds could
 * never be dropped.  The directory is 1 GiB of a sparse memfd here; only
 * the pages touched cost memory.
 */
Test(store_basic, the_last_directory_entry_can_be_held_and_dropped)
{
	struct shoal_store_options o = tu_opts(1 * MiB);
	struct shoal_store *s = NULL;
	struct shoal_store_stats st;
	shoal_id id;
	uint32_t owner = 0x1234, t;

	o.max_objects = 1u << 22;
	o.max_procs = 2;
	o.ledger_slots = 16;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	cr_assert_eq(s->dir_mask, (1u << 24) - 1);
	/* An ID whose home is the last slot of the empty directory. */
	t = (s->dir_mask - shoal__dir_home(s, shoal_id_derive(0, owner, 0, 0))) &
	    s->dir_mask;
	id = shoal_id_derive(0, owner, t / 4, (uint16_t)(t % 4));
	cr_assert_eq(shoal__dir_home(s, id), s->dir_mask);
	tu_assert_rc(shoal_put_with_id(s, id, "last", 5, NULL, 0, 0), 0);
	tu_assert_rc(shoal_hold(s, id), 0);
	tu_assert_rc(shoal_drop(s, id), 0);
	tu_assert_rc(shoal_drop(s, id), 0);
	tu_assert_rc(shoal_delete(s, id), 0);
	tu_assert_rc(shoal_store_stats(s, &st), 0);
	cr_assert_eq(st.objects, 0);
	shoal_store_close(s);
}

Test(store_basic, strerror_names_every_code)
{
	static const int ours[] = {
		SHOAL_ESTOREFULL,  SHOAL_EEVICTED,   SHOAL_EDELETED,
		SHOAL_ESEALED,	   SHOAL_ENOTSEALED, SHOAL_EBADSEGMENT,
		SHOAL_EVERSION,	   SHOAL_EOWNERDIED, SHOAL_ETOOMANYPROCS,
		SHOAL_ELEDGERFULL, SHOAL_ETASK,	     SHOAL_EWORKERDIED,
		SHOAL_EACTORDIED,  SHOAL_ECANCELLED, SHOAL_EFORKSERVERDIED,
		SHOAL_ESTOPPED,	   SHOAL_EPOOLEXHAUSTED,
	};
	static const int errnos[] = {-ENOENT, -EEXIST,	-ETIMEDOUT, -EAGAIN,
				     -EINVAL, -ENOSPC,	-EPERM,	    -EBUSY,
				     -EOVERFLOW, -ENOMEM};
	const size_t no = sizeof(ours) / sizeof(ours[0]);
	const size_t ne = sizeof(errnos) / sizeof(errnos[0]);

	for (size_t i = 0; i < no; i++) {
		const char *a = shoal_strerror(ours[i]);

		for (size_t j = 0; j < i; j++) /* two names, one value */
			cr_assert_neq(ours[i], ours[j], "codes %zu and %zu are both %d",
				      i, j, ours[i]);
		cr_assert_not_null(a, "code %d", ours[i]);
		cr_assert_gt(strlen(a), 0, "code %d", ours[i]);
		for (size_t j = 0; j < i; j++)
			cr_assert_str_neq(a, shoal_strerror(ours[j]),
					  "codes %d and %d share \"%s\"",
					  ours[i], ours[j], a);
		for (size_t j = 0; j < ne; j++)
			cr_assert_str_neq(a, shoal_strerror(errnos[j]),
					  "code %d reads as errno %d", ours[i],
					  -errnos[j]);
	}
	for (size_t j = 0; j < ne; j++) {
		const char *e = shoal_strerror(errnos[j]);

		cr_assert_not_null(e);
		cr_assert_gt(strlen(e), 0);
		for (size_t k = 0; k < j; k++)
			cr_assert_str_neq(e, shoal_strerror(errnos[k]));
	}
	/* success and codes nobody returns still get a string */
	cr_assert_not_null(shoal_strerror(0));
	cr_assert_not_null(shoal_strerror(-4000));
	cr_assert_not_null(shoal_strerror(-4999));
	cr_assert_not_null(shoal_strerror(-99999));
	cr_assert_not_null(shoal_strerror(12345));
	cr_assert_not_null(shoal_strerror(INT32_MIN));
}

/* A hold taken on an unsealed object (another thread of the creating
 * process, here the same handle) survives the creator's abort: the object
 * becomes a tombstone that answers SHOAL_EDELETED until the hold is
 * dropped, and the drop succeeds. */
Test(store_basic, a_hold_on_an_unsealed_object_survives_its_abort)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id id = tu_id(5, 5);
	struct shoal_view v;
	void *data = NULL;

	tu_assert_rc(shoal_create(s, id, 100, NULL, 0, 0, &data), 0);
	tu_assert_rc(shoal_hold(s, id), 0);
	cr_assert_eq(tu_info(s, id).holds, 2);
	tu_assert_rc(shoal_abort(s, id), 0);
	tu_assert_rc(shoal_get(s, id, 0, &v), SHOAL_EDELETED);
	cr_assert_eq(tu_stats(s).objects, 0, "an aborted object still counted");
	tu_assert_rc(shoal_drop(s, id), 0);
	tu_assert_rc(shoal_drop(s, id), -ENOENT);
	/* The ID can be created again. */
	tu_assert_rc(shoal_create(s, id, 100, NULL, 0, 0, &data), 0);
	tu_assert_rc(shoal_seal(s, id), 0);
	tu_assert_rc(shoal_get(s, id, 0, &v), 0);
	shoal_release(s, &v);
	shoal_store_close(s);
}
