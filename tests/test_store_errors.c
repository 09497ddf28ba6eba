/* SPDX-License-Identifier: MIT */
/*
 * tests/test_store_errors.c - misuse: every call returns its documented
 * error, nothing crashes, and the store still works afterwards
 * (check_sane() at the end of each test).
 *
 * Where store.h says nothing about a NULL pointer, the tests take error.h's
 * general rule: -EINVAL for an invalid argument.
 */
#include "testutil.h"

#include <sys/random.h>
#include <sys/statvfs.h>

#include "layout.h" /* header field offsets, for the tampering tests */

TestSuite(store_errors, .init = tu_setup, .fini = tu_teardown);

#define MiB (1024u * 1024u)
#define KiB 1024u

/* The store still works and its counts agree with its listing. */
static void check_sane(struct shoal_store *s)
{
	static uint64_t round;
	shoal_id id = tu_id(0x5a5e, round++);
	struct shoal_store_stats st;

	tu_assert_rc(tu_put(s, id, 3000, 42, 0), 0);
	tu_assert_rc(tu_get_check(s, id, 3000, 42, 0), 0);
	st = tu_stats(s);
	cr_assert_eq((uint64_t)shoal_list(s, NULL, 0), st.objects);
	tu_assert_rc(shoal_delete(s, id), 0);
}

Test(store_errors, unknown_id)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id id = tu_id(1, 1);
	struct shoal_view v;

	tu_assert_rc(shoal_seal(s, id), -ENOENT);
	tu_assert_rc(shoal_abort(s, id), -ENOENT);
	tu_assert_rc(shoal_hold(s, id), -ENOENT);
	tu_assert_rc(shoal_drop(s, id), -ENOENT);
	tu_assert_rc(shoal_delete(s, id), -ENOENT);
	tu_assert_rc(shoal_contains(s, id), 0);
	tu_assert_rc(shoal_get(s, id, 0, &v), -ETIMEDOUT);
	/* the same with objects around */
	tu_assert_rc(tu_put(s, tu_id(1, 2), 10, 1, 0), 0);
	tu_assert_rc(shoal_seal(s, id), -ENOENT);
	tu_assert_rc(shoal_hold(s, id), -ENOENT);
	tu_assert_rc(shoal_delete(s, id), -ENOENT);
	cr_assert_not(tu_listed(s, id));
	cr_assert_eq(tu_stats(s).objects, 1);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_errors, seal_and_abort_of_a_sealed_object)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id id = tu_id(1, 1);

	tu_assert_rc(tu_create_sealed(s, id, 100, 1, 0), 0);
	tu_assert_rc(shoal_seal(s, id), SHOAL_ESEALED);
	tu_assert_rc(shoal_abort(s, id), SHOAL_ESEALED);
	/* unchanged */
	tu_assert_rc(tu_get_check(s, id, 100, 1, 0), 0);
	cr_assert_eq(tu_info(s, id).holds, 1);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_errors, operations_that_need_a_sealed_object)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id id = tu_id(1, 1);
	void *data = NULL;

	uint32_t holds;

	tu_assert_rc(shoal_create(s, id, 100, NULL, 0, 0, &data), 0);
	holds = tu_info(s, id).holds;
	/* store.h: delete of an unsealed object fails; a hold on it works
	 * (a task's promised result is held before it exists) and counts. */
	tu_assert_rc(shoal_delete(s, id), SHOAL_ENOTSEALED);
	tu_assert_rc(shoal_hold(s, id), 0);
	cr_assert_eq(tu_info(s, id).state, SHOAL_OBJECT_CREATED);
	cr_assert_eq(tu_info(s, id).holds, holds + 1, "the hold was not counted");
	tu_assert_rc(shoal_drop(s, id), 0);
	cr_assert_eq(tu_info(s, id).holds, holds);
	tu_fill(data, 100, 3);
	tu_assert_rc(shoal_seal(s, id), 0);
	tu_assert_rc(tu_get_check(s, id, 100, 3, 0), 0);
	check_sane(s);
	shoal_store_close(s);
}


Test(store_errors, seal_or_abort_of_another_process_object)
{
	const char *name;
	struct shoal_store *s = tu_named_store(4 * MiB, &name);
	shoal_id mine = tu_id(1, 1), theirs = tu_id(2, 2);
	char h[SHOAL_ID_HEX_LEN + 1];
	int to_peer, from_peer;
	void *data = NULL;
	pid_t peer, child;

	/* the test's unsealed object, touched by other processes */
	tu_assert_rc(shoal_create(s, mine, 1000, NULL, 0, 0, &data), 0);
	tu_assert_rc(tu_peer_on("seal", name, mine), -EPERM);
	tu_assert_rc(tu_peer_on("abort", name, mine), -EPERM);
	child = tu_fork();
	if (child == 0) {
		struct shoal_store *c = NULL;
		void *d2 = NULL;

		TU_CHILD_CHECK(shoal_store_attach(name, &c) == 0, 10);
		TU_CHILD_CHECK(shoal_seal(c, mine) == -EPERM, 11);
		TU_CHILD_CHECK(shoal_abort(c, mine) == -EPERM, 12);
		/* nor can it create the ID */
		TU_CHILD_CHECK(shoal_create(c, mine, 10, NULL, 0, 0, &d2) ==
				       -EEXIST,
			       13);
		shoal_store_close(c);
		_exit(0);
	}
	tu_assert_rc(tu_wait_result(child), 0);
	cr_assert_eq(tu_info(s, mine).state, SHOAL_OBJECT_CREATED);
	tu_fill(data, 1000, 1);
	tu_assert_rc(shoal_seal(s, mine), 0);
	tu_assert_rc(tu_get_check(s, mine, 1000, 1, 0), 0);

	/* another process's unsealed object, touched by the test */
	shoal_id_format(theirs, h);
	peer = tu_spawn_peer((const char *[]){"create-unsealed", name, h,
					      "2000", "2", NULL},
			     &to_peer, &from_peer);
	cr_assert_eq(tu_read_byte(from_peer, TU_CHILD_DEADLINE_MS), 'R');
	cr_assert_eq(tu_read_byte(from_peer, TU_CHILD_DEADLINE_MS), 'C');
	tu_assert_rc(shoal_seal(s, theirs), -EPERM);
	tu_assert_rc(shoal_abort(s, theirs), -EPERM);
	tu_assert_rc(shoal_create(s, theirs, 10, NULL, 0, 0, &data), -EEXIST);
	cr_assert_eq(tu_info(s, theirs).state, SHOAL_OBJECT_CREATED);
	/* its creator still can */
	tu_write_byte(to_peer, 's');
	tu_assert_rc(tu_wait_result(peer), 0);
	tu_assert_rc(tu_get_check(s, theirs, 2000, 2, 0), 0);
	close(to_peer);
	close(from_peer);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_errors, create_of_an_existing_id)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id sealed = tu_id(1, 1), unsealed = tu_id(1, 2);
	void *data = NULL, *d2 = NULL;

	tu_assert_rc(tu_put(s, sealed, 100, 1, 0), 0);
	tu_assert_rc(shoal_create(s, unsealed, 100, NULL, 0, 0, &data), 0);
	tu_assert_rc(shoal_create(s, sealed, 50, NULL, 0, 0, &d2), -EEXIST);
	tu_assert_rc(shoal_create(s, unsealed, 50, NULL, 0, 0, &d2), -EEXIST);
	tu_assert_rc(tu_put(s, sealed, 50, 2, 0), -EEXIST);
	/* the originals are untouched */
	tu_assert_rc(tu_get_check(s, sealed, 100, 1, 0), 0);
	cr_assert_eq(tu_info(s, unsealed).data_size, 100);
	tu_fill(data, 100, 7);
	tu_assert_rc(shoal_seal(s, unsealed), 0);
	tu_assert_rc(tu_get_check(s, unsealed, 100, 7, 0), 0);
	cr_assert_eq(tu_stats(s).objects, 2);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_errors, nil_id_and_size_overflow)
{
	struct shoal_store *s = tu_store(MiB);
	void *data = NULL;
	char buf[16] = {0};

	tu_assert_rc(shoal_create(s, SHOAL_ID_NIL, 10, NULL, 0, 0, &data),
		     -EINVAL);
	tu_assert_rc(shoal_put_with_id(s, SHOAL_ID_NIL, buf, 10, NULL, 0, 0),
		     -EINVAL);
	/* data_size + meta_size wraps around */
	tu_assert_rc(shoal_create(s, tu_id(1, 1), SIZE_MAX, buf, 2, 0, &data),
		     -EINVAL);
	tu_assert_rc(shoal_create(s, tu_id(1, 1), SIZE_MAX - 8, buf, 16, 0,
				  &data),
		     -EINVAL);
	/* no wrap, just too big */
	tu_assert_rc(shoal_create(s, tu_id(1, 2), tu_stats(s).capacity + 1,
				  NULL, 0, 0, &data),
		     SHOAL_ESTOREFULL);
	cr_assert_eq(tu_stats(s).objects, 0);
	cr_assert_eq(tu_stats(s).bytes_used, 0);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_errors, get_of_a_deleted_object)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id id = tu_id(1, 1), ids[1] = {tu_id(1, 1)};
	struct shoal_view v;

	tu_assert_rc(tu_put(s, id, 100, 1, 0), 0);
	tu_assert_rc(shoal_delete(s, id), 0);
	tu_assert_rc(shoal_get(s, id, 0, &v), SHOAL_EDELETED);
	tu_assert_rc(shoal_get(s, id, 2000, &v), SHOAL_EDELETED);
	tu_assert_rc(shoal_get_many(s, ids, 1, 0, &v), 0);
	tu_assert_rc(v.err, SHOAL_EDELETED);
	cr_assert_null(v.data);
	tu_assert_rc(shoal_contains(s, id), 0);
	check_sane(s);
	shoal_store_close(s);
}

/* A name of exactly `len` bytes: our prefix padded with 'x'. */
static const char *padded_name(size_t len, bool slash)
{
	char buf[TU_NAME_LEN], base[TU_NAME_LEN];
	size_t n;

	cr_assert_lt(len, sizeof(buf));
	tu_format_name("pad", base, sizeof(base));
	snprintf(buf, sizeof(buf), "%s", slash ? base : base + 1);
	n = strlen(buf);
	cr_assert_lt(n, len);
	memset(buf + n, 'x', len - n);
	buf[len] = '\0';
	return tu_track_name(buf);
}

Test(store_errors, bad_segment_names)
{
	struct shoal_store_options o = tu_opts(MiB);
	struct shoal_store *s = NULL;
	const char *too_long = padded_name(201, false);
	const char *way_too_long = padded_name(255, false);
	const char *longest = padded_name(200, true); /* "/" + 199 */
	const char *bad[] = {"", "/", "a/b", "/a/b", "//a", "a/", too_long,
			     way_too_long, "a\nb", "/line\n", "tab\there",
			     "bell\a", "del\x7f"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tu_assert_rc(shoal_store_create(bad[i], &o, &s), -EINVAL,
			     "create \"%s\"", bad[i]);
		tu_assert_rc(shoal_store_attach(bad[i], &s), -EINVAL,
			     "attach \"%s\"", bad[i]);
		tu_assert_rc(shoal_store_unlink(bad[i]), -EINVAL,
			     "unlink \"%s\"", bad[i]);
	}
	cr_assert_not(tu_shm_exists(too_long));
	cr_assert_not(tu_shm_exists(way_too_long));

	/* 200 bytes is still a name */
	tu_assert_rc(shoal_store_create(longest, &o, &s), 0);
	cr_assert(tu_shm_exists(longest));
	check_sane(s);
	shoal_store_close(s);
	tu_assert_rc(shoal_store_unlink(longest), 0);
}

Test(store_errors, attach_to_a_missing_name)
{
	struct shoal_store *s = NULL;
	const char *name = tu_shm_name("never");

	tu_assert_rc(shoal_store_attach(name, &s), -ENOENT);
	tu_assert_rc(shoal_store_unlink(name), -ENOENT);
	cr_assert_not(tu_shm_exists(name));
}

/* A /dev/shm file that is not a shoal segment, of `size` bytes. */
static const char *foreign_file(const char *tag, size_t size, bool random)
{
	const char *name = tu_shm_name(tag);
	int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	uint8_t *buf = calloc(1, size ? size : 1);
	size_t done = 0;

	cr_assert_geq(fd, 0, "shm_open %s: %s", name, strerror(errno));
	cr_assert_not_null(buf);
	while (random && done < size) {
		ssize_t n = getrandom(buf + done, size - done, 0);

		cr_assert_gt(n, 0);
		done += (size_t)n;
	}
	cr_assert_eq(write(fd, buf, size), (ssize_t)size);
	free(buf);
	close(fd);
	return name;
}

Test(store_errors, attach_to_a_foreign_file)
{
	struct shoal_store *s = NULL;
	const char *rnd = foreign_file("random", MiB, true);
	const char *tiny = foreign_file("tiny", 10, true);
	const char *empty = foreign_file("empty", 0, false);
	const char *zeros = foreign_file("zeros", MiB, false);
	int fd;

	tu_assert_rc(shoal_store_attach(rnd, &s), SHOAL_EBADSEGMENT);
	tu_assert_rc(shoal_store_attach(tiny, &s), SHOAL_EBADSEGMENT);
	tu_assert_rc(shoal_store_attach(empty, &s), SHOAL_EBADSEGMENT);
	tu_assert_rc(shoal_store_attach(zeros, &s), SHOAL_EBADSEGMENT);
	/* by fd too */
	fd = shm_open(rnd, O_RDWR, 0);
	cr_assert_geq(fd, 0);
	tu_assert_rc(shoal_store_attach_fd(fd, &s), SHOAL_EBADSEGMENT);
	close(fd);
	/* and the file is left alone */
	cr_assert(tu_shm_exists(rnd));
}

Test(store_errors, attach_to_a_truncated_segment)
{
	const char *name;
	struct shoal_store *s = tu_named_store(4 * MiB, &name);
	struct shoal_store *t = NULL;
	int fd;

	tu_assert_rc(tu_put(s, tu_id(1, 1), 100, 1, 0), 0);
	shoal_store_close(s);
	fd = shm_open(name, O_RDWR, 0);
	cr_assert_geq(fd, 0);
	/* the header survives, the regions it names do not */
	cr_assert_eq(ftruncate(fd, 64 * KiB), 0);
	close(fd);
	tu_assert_rc(shoal_store_attach(name, &t), SHOAL_EBADSEGMENT);
}

struct tamper {
	const char *what;
	size_t off;
	size_t len;
	uint64_t value;
	int want;
};

/* Writes len bytes of value at off in the segment (through the fd, as
 * another program would), returns the old bytes. */
static uint64_t poke(int fd, size_t off, size_t len, uint64_t value)
{
	uint64_t old = 0;

	cr_assert_eq(pread(fd, &old, len, (off_t)off), (ssize_t)len);
	cr_assert_eq(pwrite(fd, &value, len, (off_t)off), (ssize_t)len);
	return old;
}

Test(store_errors, attach_to_a_tampered_header)
{
	struct shoal_store *s = tu_store(4 * MiB);
	int fd = shoal_store_fd(s);
	struct shoal__seg_hdr h;
	struct shoal_store *t = NULL;

	cr_assert_eq(pread(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	cr_assert_eq(h.magic, SHOAL__MAGIC);
	cr_assert_eq(h.layout_version, SHOAL__LAYOUT_VERSION);

	const struct tamper cases[] = {
		{"layout version + 1",
		 offsetof(struct shoal__seg_hdr, layout_version), 4,
		 SHOAL__LAYOUT_VERSION + 1, SHOAL_EVERSION},
		{"layout version 0",
		 offsetof(struct shoal__seg_hdr, layout_version), 4, 0,
		 SHOAL_EVERSION},
		{"magic", offsetof(struct shoal__seg_hdr, magic), 8,
		 SHOAL__MAGIC ^ 1, SHOAL_EBADSEGMENT},
		{"segment size > file",
		 offsetof(struct shoal__seg_hdr, seg_size), 8,
		 h.seg_size * 2, SHOAL_EBADSEGMENT},
		{"arena past the end",
		 offsetof(struct shoal__seg_hdr, arena.off), 8, h.seg_size,
		 SHOAL_EBADSEGMENT},
		{"directory overlaps the header",
		 offsetof(struct shoal__seg_hdr, dir.off), 8, 64,
		 SHOAL_EBADSEGMENT},
		{"dir_slots not a power of two",
		 offsetof(struct shoal__seg_hdr, dir_slots), 4,
		 h.dir_slots - 1, SHOAL_EBADSEGMENT},
		{"entry size", offsetof(struct shoal__seg_hdr, entry_size), 4,
		 h.entry_size + 8, SHOAL_EBADSEGMENT},
		{"huge max_procs", offsetof(struct shoal__seg_hdr, max_procs),
		 4, 0xffffffffu, SHOAL_EBADSEGMENT},
		{"capacity > arena", offsetof(struct shoal__seg_hdr, capacity),
		 8, h.arena.size * 4, SHOAL_EBADSEGMENT},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tamper *c = &cases[i];
		uint64_t old = poke(fd, c->off, c->len, c->value);
		int r = shoal_store_attach_fd(fd, &t);

		poke(fd, c->off, c->len, old);
		if (r == 0)
			shoal_store_close(t);
		cr_assert_eq(r, c->want, "%s: got %d (%s), want %d (%s)",
			     c->what, r, shoal_strerror(r), c->want,
			     shoal_strerror(c->want));
		/* restored: attaches again */
		tu_assert_rc(shoal_store_attach_fd(fd, &t), 0, "%s", c->what);
		shoal_store_close(t);
	}
	check_sane(s);
	shoal_store_close(s);
}

Test(store_errors, too_many_objects)
{
	struct shoal_store_options o = tu_opts(4 * MiB);
	struct shoal_store *s = NULL;
	void *data = NULL;

	o.max_objects = 16;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	for (int i = 0; i < 16; i++)
		tu_assert_rc(tu_put(s, tu_id(1, (uint64_t)i), 100, (uint64_t)i, 0),
			     0);
	tu_assert_rc(tu_put(s, tu_id(1, 16), 100, 16, 0), -ENOSPC);
	tu_assert_rc(shoal_create(s, tu_id(1, 17), 100, NULL, 0, 0, &data),
		     -ENOSPC);
	cr_assert_eq(tu_stats(s).objects, 16);
	/* unheld objects do not make room by being evicted: the limit is
	 * on entries, not bytes ... but a delete does */
	tu_assert_rc(shoal_delete(s, tu_id(1, 0)), 0);
	tu_assert_rc(tu_put(s, tu_id(1, 16), 100, 16, 0), 0);
	tu_assert_rc(tu_put(s, tu_id(1, 18), 100, 18, 0), -ENOSPC);
	for (int i = 1; i <= 16; i++)
		tu_assert_rc(tu_get_check(s, tu_id(1, (uint64_t)i), 100,
					  (uint64_t)i, 0),
			     0);
	shoal_store_close(s);
}

Test(store_errors, tombstones_do_not_count_against_max_objects)
{
	/* store.h: "Live objects at most (tombstones do not count)": with
	 * 16 live objects at most and 32 directory slots, a long series of
	 * put + delete of fresh IDs keeps working */
	struct shoal_store_options o = tu_opts(4 * MiB);
	struct shoal_store *s = NULL;
	struct shoal_view v;

	o.max_objects = 16;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	for (int i = 0; i < 15; i++)
		tu_assert_rc(tu_put(s, tu_id(1, (uint64_t)i), 64, (uint64_t)i, 0),
			     0);
	for (int i = 0; i < 500; i++) {
		shoal_id id = tu_id(2, (uint64_t)i);

		tu_assert_rc(tu_put(s, id, 64, (uint64_t)i, 0), 0, "round %d",
			     i);
		/* unheld first: a deleted object that someone still holds
		 * may keep its slot until the hold is dropped */
		tu_assert_rc(shoal_drop(s, id), 0);
		tu_assert_rc(shoal_delete(s, id), 0);
	}
	/* the most recent tombstone still answers */
	tu_assert_rc(shoal_get(s, tu_id(2, 499), 0, &v), SHOAL_EDELETED);
	for (int i = 0; i < 15; i++)
		tu_assert_rc(tu_get_check(s, tu_id(1, (uint64_t)i), 64,
					  (uint64_t)i, 0),
			     0);
	cr_assert_eq(tu_stats(s).objects, 15);
	shoal_store_close(s);
}

Test(store_errors, too_many_processes)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_store_options o = tu_opts(MiB);
	struct shoal_store *s = NULL;
	int ready[2], quit[2];
	pid_t holder, extra, peer;
	char h[SHOAL_ID_HEX_LEN + 1];

	o.max_procs = 2;
	tu_assert_rc(shoal_store_create(name, &o, &s), 0);
	tu_assert_rc(tu_put(s, tu_id(1, 1), 100, 1, 0), 0);
	tu_pipe(ready);
	tu_pipe(quit);
	holder = tu_fork();
	if (holder == 0) {
		struct shoal_store *c = NULL;
		int r = shoal_store_attach(name, &c);

		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		tu_child_write_byte(ready[1], 'a');
		tu_child_read_byte(quit[0]);
		shoal_store_close(c);
		_exit(0);
	}
	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'a');
	cr_assert_eq(tu_stats(s).processes, 2);

	/* the table is full: a third process is refused, by name or fd */
	extra = tu_fork();
	if (extra == 0) {
		struct shoal_store *c = NULL;
		int r1 = shoal_store_attach(name, &c);
		int r2 = shoal_store_attach_fd(shoal_store_fd(s), &c);

		TU_CHILD_CHECK(r1 == r2, 20);
		_exit(tu_err_to_exit(r1));
	}
	tu_assert_rc(tu_wait_result(extra), SHOAL_ETOOMANYPROCS);
	shoal_id_format(tu_id(1, 1), h);
	peer = tu_spawn_peer((const char *[]){"get", name, h, "0", NULL}, NULL,
			     NULL);
	tu_assert_rc(tu_wait_result(peer), SHOAL_ETOOMANYPROCS);
	cr_assert_eq(tu_stats(s).processes, 2);

	/* a slot freed by a close is available again */
	tu_write_byte(quit[1], 'q');
	tu_assert_rc(tu_wait_result(holder), 0);
	peer = tu_spawn_peer((const char *[]){"get", name, h, "0", "100", "1",
					      NULL},
			     NULL, NULL);
	tu_assert_rc(tu_wait_result(peer), 0);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_errors, ledger_full)
{
	struct shoal_store_options o = tu_opts(4 * MiB);
	struct shoal_store *s = NULL;
	struct shoal_view v[17], extra;

	o.ledger_slots = 16;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	for (int i = 0; i < 17; i++) {
		tu_assert_rc(tu_put(s, tu_id(1, (uint64_t)i), 64, (uint64_t)i, 0),
			     0);
		tu_assert_rc(shoal_drop(s, tu_id(1, (uint64_t)i)), 0);
	}
	for (int i = 0; i < 16; i++)
		tu_assert_rc(shoal_get(s, tu_id(1, (uint64_t)i), 0, &v[i]), 0,
			     "get %d", i);
	/* a 17th distinct object: neither pin nor hold */
	tu_assert_rc(shoal_get(s, tu_id(1, 16), 0, &v[16]), SHOAL_ELEDGERFULL);
	tu_assert_rc(shoal_hold(s, tu_id(1, 16)), SHOAL_ELEDGERFULL);
	cr_assert_eq(tu_info(s, tu_id(1, 16)).pins, 0);
	cr_assert_eq(tu_info(s, tu_id(1, 16)).holds, 0);
	/* an object already recorded takes no new record */
	tu_assert_rc(shoal_get(s, tu_id(1, 3), 0, &extra), 0);
	tu_assert_rc(shoal_hold(s, tu_id(1, 3)), 0);
	tu_assert_rc(shoal_drop(s, tu_id(1, 3)), 0);
	tu_assert_rc(shoal_release(s, &extra), 0);
	/* one record freed: the 17th fits */
	tu_assert_rc(shoal_release(s, &v[0]), 0);
	tu_assert_rc(shoal_get(s, tu_id(1, 16), 0, &v[16]), 0);
	cr_assert(tu_check(v[16].data, 64, 16));
	for (int i = 1; i <= 16; i++)
		tu_assert_rc(shoal_release(s, &v[i]), 0);
	shoal_store_close(s);
}

Test(store_errors, release_of_a_view_that_is_not_pinned)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id id = tu_id(1, 1);
	struct shoal_view zero, junk, v, copy;
	int ready[2], quit[2];
	pid_t child;

	memset(&zero, 0, sizeof(zero));
	tu_assert_rc(shoal_release(s, &zero), -EINVAL);
	memset(&junk, 0xa5, sizeof(junk));
	tu_assert_rc(shoal_release(s, &junk), -EINVAL);
	junk.entry_ = 1;
	junk.gen_ = 1;
	tu_assert_rc(shoal_release(s, &junk), -EINVAL);

	/* another process pins the object; the test's stale copy of its own
	 * released view must not take that pin away */
	tu_assert_rc(tu_put(s, id, 100, 1, 0), 0);
	tu_pipe(ready);
	tu_pipe(quit);
	child = tu_fork();
	if (child == 0) {
		struct shoal_store *c = NULL;
		struct shoal_view cv;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0,
			       10);
		TU_CHILD_CHECK(shoal_get(c, id, 0, &cv) == 0, 11);
		tu_child_write_byte(ready[1], 'p');
		tu_child_read_byte(quit[0]);
		TU_CHILD_CHECK(tu_check(cv.data, 100, 1), TU_EXIT_MISMATCH);
		TU_CHILD_CHECK(shoal_release(c, &cv) == 0, 12);
		shoal_store_close(c);
		_exit(0);
	}
	cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'p');
	tu_assert_rc(shoal_get(s, id, 0, &v), 0);
	copy = v;
	cr_assert_eq(tu_info(s, id).pins, 2);
	tu_assert_rc(shoal_release(s, &v), 0);
	tu_assert_rc(shoal_release(s, &copy), -EINVAL);
	tu_assert_rc(shoal_release(s, &v), -EINVAL);
	cr_assert_eq(tu_info(s, id).pins, 1);
	/* deleted now, the child's pin keeps it */
	tu_assert_rc(shoal_delete(s, id), 0);
	copy.data = NULL;
	tu_assert_rc(shoal_release(s, &copy), -EINVAL);
	cr_assert_eq(tu_info(s, id).pins, 1);
	tu_write_byte(quit[1], 'q');
	tu_assert_rc(tu_wait_result(child), 0);
	cr_assert_not(tu_listed(s, id));
	check_sane(s);
	shoal_store_close(s);
}

Test(store_errors, null_pointers)
{
	struct shoal_store *s = tu_store(MiB);
	struct shoal_store_options o = tu_opts(MiB);
	shoal_id id = tu_id(1, 1), ids[2] = {tu_id(1, 1), tu_id(1, 2)};
	struct shoal_view views[2];
	void *data = NULL;
	char buf[8] = "1234567";

	tu_assert_rc(tu_put(s, id, 10, 1, 0), 0);

	tu_assert_rc(shoal_store_create(NULL, &o, NULL), -EINVAL);
	{
		const char *name;
		struct shoal_store *named = tu_named_store(MiB, &name);

		tu_assert_rc(shoal_store_attach(name, NULL), -EINVAL);
		cr_assert_eq(tu_stats(named).processes, 1);
		shoal_store_close(named);
	}
	tu_assert_rc(shoal_store_attach_fd(shoal_store_fd(s), NULL), -EINVAL);
	tu_assert_rc(shoal_create(s, tu_id(2, 1), 10, NULL, 0, 0, NULL),
		     -EINVAL);
	/* meta_size without meta, size without data */
	tu_assert_rc(shoal_create(s, tu_id(2, 2), 10, NULL, 4, 0, &data),
		     -EINVAL);
	tu_assert_rc(shoal_put_with_id(s, tu_id(2, 3), NULL, 10, NULL, 0, 0),
		     -EINVAL);
	tu_assert_rc(shoal_put_with_id(s, tu_id(2, 4), buf, 4, NULL, 3, 0),
		     -EINVAL);
	tu_assert_rc(shoal_put(s, buf, 4, 0, NULL), -EINVAL);
	tu_assert_rc(shoal_get(s, id, 0, NULL), -EINVAL);
	tu_assert_rc(shoal_get_many(s, NULL, 2, 0, views), -EINVAL);
	tu_assert_rc(shoal_get_many(s, ids, 2, 0, NULL), -EINVAL);
	tu_assert_rc(shoal_release(s, NULL), -EINVAL);
	tu_assert_rc(shoal_store_stats(s, NULL), -EINVAL);
	tu_assert_rc(shoal_list(s, NULL, 4), -EINVAL);
	shoal_store_close(NULL); /* documented no-op */

	/* nothing was created or pinned by the failed calls */
	cr_assert_eq(tu_stats(s).objects, 1);
	cr_assert_eq(tu_info(s, id).pins, 0);
	cr_assert_eq(tu_info(s, id).holds, 1);
	check_sane(s);
	shoal_store_close(s);
}

/* ------------------------------------------------------------------ */
/* The segment's memory (issue 9: a store larger than /dev/shm)        */

/*
 * A named store larger than /dev/shm has free: its create fails at once
 * with SHOAL_ENOSHM and a line that says how much it asked and how much
 * is free, and leaves no file.  Before its memory was reserved at create,
 * the create succeeded (the file was only sized) and the first process to
 * write past the free space died of SIGBUS.
 */
Test(store_errors, a_store_larger_than_dev_shm_fails_at_create)
{
	struct shoal_store_options o;
	struct shoal_store *s = NULL;
	const char *name = tu_shm_name("big");
	struct statvfs v;
	char why[256] = "", asked[32];
	uint64_t free_bytes;

	cr_assert_eq(statvfs("/dev/shm", &v), 0);
	free_bytes = (uint64_t)v.f_bavail * v.f_frsize;
	shoal_store_options_init(&o);
	o.capacity = free_bytes + (64u << 20);
	o.errbuf = why;
	o.errbuf_size = sizeof why;
	tu_assert_rc(shoal_store_create(name, &o, &s), SHOAL_ENOSHM);
	cr_assert_null(s);
	cr_assert_str_not_empty(shoal_strerror(SHOAL_ENOSHM));
	snprintf(asked, sizeof asked, "capacity %llu", (unsigned long long)o.capacity);
	cr_assert(strstr(why, "the store needs") && strstr(why, asked) &&
		  strstr(why, "/dev/shm has"), "errbuf: \"%s\"", why);
	cr_assert_not(tu_shm_exists(name), "the failed create left its file");
	tu_assert_rc(shoal_store_attach(name, &s), -ENOENT);
}

/* A store that fits reserves its pages: the segment's file has all its
 * blocks at create, before any object is written (its own st_blocks, not
 * /dev/shm's free space, which other tests move meanwhile). */
Test(store_errors, a_named_store_reserves_its_memory_at_create)
{
	struct shoal_store_options o;
	struct shoal_store *s = NULL;
	struct stat st;
	char why[64] = "untouched";

	shoal_store_options_init(&o);
	o.capacity = 64u << 20;
	o.errbuf = why;
	o.errbuf_size = sizeof why;
	struct shoal__seg_hdr h;

	tu_assert_rc(shoal_store_create(tu_shm_name("reserved"), &o, &s), 0);
	cr_assert_eq(fstat(shoal_store_fd(s), &st), 0);
	cr_assert_eq(pread(shoal_store_fd(s), &h, sizeof h, 0), (ssize_t)sizeof h);
	/* All but the ledgers' larger tables, the last region (the file
	 * ends with it, rounded up to a page), which are reserved as a
	 * ledger grows into one (ledger.c). */
	cr_assert_leq(h.ledger_ext.off + h.ledger_ext.size, (uint64_t)st.st_size);
	cr_assert_lt((uint64_t)st.st_size - (h.ledger_ext.off + h.ledger_ext.size),
		     4096);
	cr_assert_geq((uint64_t)st.st_blocks * 512, h.ledger_ext.off,
		      "only %llu of %llu bytes reserved",
		      (unsigned long long)st.st_blocks * 512,
		      (unsigned long long)h.ledger_ext.off);
	cr_assert_geq((uint64_t)st.st_size, o.capacity);
	cr_assert_str_eq(why, "untouched", "errbuf written on success");
	shoal_store_close(s);
	shoal_store_unlink(tu_shm_name("reserved"));
}

/* A private store's segment is sealed: whoever has its fd cannot shrink
 * it under the others (a SIGBUS for each of them), nor grow it; the store
 * goes on working. */
Test(store_errors, a_private_segment_cannot_be_truncated)
{
	struct shoal_store *s = NULL;
	struct shoal_view v;
	shoal_id id;
	int fd;

	tu_assert_rc(shoal_store_create(NULL, NULL, &s), 0);
	tu_assert_rc(shoal_put(s, "abc", 4, 0, &id), 0);
	fd = shoal_store_fd(s);
	cr_assert_eq(ftruncate(fd, 4096), -1, "the segment was shrunk");
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(ftruncate(fd, (off_t)1 << 40), -1, "the segment was grown");
	cr_assert_eq(errno, EPERM);
	tu_assert_rc(shoal_get(s, id, 0, &v), 0);
	cr_assert_str_eq(v.data, "abc");
	tu_assert_rc(shoal_release(s, &v), 0);
	shoal_store_close(s);
}

/* A spin budget is bounded (2^20 pauses, about 35 ms): UINT32_MAX made a
 * get with a 50 ms timeout spin for minutes before it looked at the
 * clock.  Refused at create, and at attach from a header that says so;
 * and a spin stops at the wait's timeout. */
Test(store_errors, spin_budget_is_bounded_at_create_and_attach)
{
	struct shoal_store_options o = tu_opts(MiB);
	struct shoal_store *s = NULL, *t = NULL;
	const char *name = tu_shm_name("spin");
	struct shoal_view v;
	shoal_id id = tu_id(9, 1);
	void *buf;
	int64_t t0;

	o.spin_budget = UINT32_MAX;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), -EINVAL);
	o.spin_budget = (1u << 20) + 1;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), -EINVAL);
	o.spin_budget = 1u << 20;
	tu_assert_rc(shoal_store_create(name, &o, &s), 0);
	/* A get of an unsealed object with a 20 ms timeout, spin budget at
	 * its largest: it ends near its timeout (bound: a second). */
	tu_assert_rc(shoal_create(s, id, 8, NULL, 0, 0, &buf), 0);
	t0 = tu_now_ms();
	tu_assert_rc(shoal_get(s, id, 20, &v), -ETIMEDOUT);
	cr_assert_lt(tu_now_ms() - t0, 1000, "a 20 ms get took %lld ms",
		     (long long)(tu_now_ms() - t0));
	tu_assert_rc(shoal_abort(s, id), 0);
	/* A header scribbled to a huge budget: attach refuses it. */
	poke(shoal_store_fd(s), offsetof(struct shoal__seg_hdr, spin_budget), 4,
	     UINT32_MAX);
	tu_assert_rc(shoal_store_attach(name, &t), SHOAL_EBADSEGMENT);
	shoal_store_close(s);
	shoal_store_unlink(name);
}


/*
 * Attach by name refuses a segment it cannot trust: one others may open
 * (mode wider than 0600) or one another user owns (given away here by
 * root, which CI and this machine's tests run as; a squatter's file in
 * the issue).  Before, root attached a squatter's file and that user hung
 * root's put.  A create that finds the name taken says who holds it.
 */
Test(store_errors, attach_refuses_a_segment_that_is_not_its_own)
{
	struct shoal_store_options o = tu_opts(MiB);
	const char *name = tu_shm_name("mine");
	struct shoal_store *s = NULL, *t = NULL;
	char why[256] = "";
	int fd;

	tu_assert_rc(shoal_store_create(name, &o, &s), 0);
	fd = shoal_store_fd(s);
	cr_assert_eq(fchmod(fd, 0644), 0);
	tu_assert_rc(shoal_store_attach(name, &t), SHOAL_ENOTMINE, "mode 0644");
	cr_assert_eq(fchmod(fd, 0606), 0);
	tu_assert_rc(shoal_store_attach(name, &t), SHOAL_ENOTMINE, "mode 0606");
	cr_assert_eq(fchmod(fd, 0600), 0);
	tu_assert_rc(shoal_store_attach(name, &t), 0, "mode 0600, ours");
	shoal_store_close(t);
	if (geteuid() == 0) {
		cr_assert_eq(fchown(fd, 65534, 65534), 0);
		tu_assert_rc(shoal_store_attach(name, &t), SHOAL_ENOTMINE,
			     "owned by uid 65534");
		cr_assert_eq(fchown(fd, 0, 0), 0);
		tu_assert_rc(shoal_store_attach(name, &t), 0);
		shoal_store_close(t);
	}
	o.errbuf = why;
	o.errbuf_size = sizeof why;
	tu_assert_rc(shoal_store_create(name, &o, &t), -EEXIST);
	cr_assert(strstr(why, "exists: it belongs to uid") && strstr(why, "mode 0600"),
		  "errbuf: \"%s\"", why);
	cr_assert_str_not_empty(shoal_strerror(SHOAL_ENOTMINE));
	shoal_store_close(s);
	tu_assert_rc(shoal_store_unlink(name), 0);
}

/*
 * The header's feature words (layout.h): a required bit this library
 * does not know makes attach refuse the segment with SHOAL_EVERSION, by
 * name and by fd, whichever bit it is; the segment is left as it was and
 * attaches again once the bit is gone.
 */
Test(store_errors, attach_refuses_a_required_feature_it_does_not_know)
{
	const char *name;
	struct shoal_store *s = tu_named_store(4 * MiB, &name);
	struct shoal_store *t = NULL;
	const size_t off = offsetof(struct shoal__seg_hdr, features);
	int fd = shoal_store_fd(s), unknown = 0;
	struct shoal__seg_hdr h;

	cr_assert_eq(pread(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
	cr_assert_eq(h.features, SHOAL__FEATURES, "what the creator writes");
	cr_assert_eq(h.compat_features, SHOAL__COMPAT_FEATURES);
	for (int b = 0; b < 64; b++) {
		uint64_t bit = 1ull << b, old;

		if (SHOAL__FEATURES_KNOWN & bit)
			continue;
		unknown++;
		old = poke(fd, off, 8, h.features | bit);
		tu_assert_rc(shoal_store_attach(name, &t), SHOAL_EVERSION,
			     "required bit %d", b);
		tu_assert_rc(shoal_store_attach_fd(fd, &t), SHOAL_EVERSION,
			     "required bit %d", b);
		poke(fd, off, 8, old);
	}
	cr_assert_gt(unknown, 0);
	tu_assert_rc(shoal_store_attach(name, &t), 0, "the bit gone");
	check_sane(t);
	shoal_store_close(t);
	check_sane(s);
	shoal_store_close(s);
}

/* An optional (compat) bit this library does not know is ignored: every
 * one of them set at once, the segment attaches and works. */
Test(store_errors, attach_ignores_an_optional_feature_it_does_not_know)
{
	const char *name;
	struct shoal_store *s = tu_named_store(4 * MiB, &name);
	struct shoal_store *t = NULL;

	poke(shoal_store_fd(s), offsetof(struct shoal__seg_hdr, compat_features),
	     8, ~0ull);
	tu_assert_rc(shoal_store_attach(name, &t), 0);
	check_sane(t);
	tu_assert_rc(tu_put(t, tu_id(7, 1), 500, 7, 0), 0);
	tu_assert_rc(tu_get_check(s, tu_id(7, 1), 500, 7, 0), 0);
	shoal_store_close(t);
	check_sane(s);
	shoal_store_close(s);
}
