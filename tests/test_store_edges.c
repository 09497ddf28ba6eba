/* SPDX-License-Identifier: MIT */
/*
 * tests/test_store_edges.c - the store's edge and error paths that the
 * other store suites leave out: options and names at and past their
 * limits, NULL and nil arguments of every call, header fields of a
 * foreign or corrupt segment (the segment header's plan, the heap's
 * header, a header that never became ready, a corrupt entry description,
 * a corrupt waiter stack, a corrupt high-water mark), a file that cannot
 * be sized or mapped, counts at their maximum, a full ledger at create,
 * a directory window full of held tombstones, the fill records running
 * out, a cancelled or aborted fill, error objects with odd payloads, a
 * stale view of a reused entry, drops when an ID has several entries, ID
 * blocks, eviction with more candidates than the exact sort takes, and
 * the death test of a process slot.
 *
 * Each test checks the error it expects and that nothing was lost:
 * counters, listings and process slots back to where they were, and the
 * store still usable (check_sane).
 */
#include "testutil.h"
#include "internal.h"

#include <sys/resource.h>

TestSuite(store_edges, .init = tu_setup, .fini = tu_teardown);

#define MiB (1024u * 1024u)

/* The store still works: a put, a get of its bytes, a delete, and the
 * object count equals the listing. */
static void check_sane(struct shoal_store *s)
{
	static uint64_t round;
	shoal_id id = tu_id(0x5a5e, ++round);
	struct shoal_store_stats st;

	tu_assert_rc(tu_put(s, id, 3000, 42, 0), 0);
	tu_assert_rc(tu_get_check(s, id, 3000, 42, 0), 0);
	st = tu_stats(s);
	cr_assert_eq((uint64_t)shoal_list(s, NULL, 0), st.objects);
	tu_assert_rc(shoal_drop(s, id), 0);
	tu_assert_rc(shoal_delete(s, id), 0);
}

/* The directory index of id's entry (live or tombstone). */
static uint32_t idx_of(struct shoal_store *s, shoal_id id)
{
	uint64_t c;
	int idx = shoal__dir_lookup(s, id, &c);

	cr_assert_geq(idx, 0, "no entry for %016" PRIx64 "%016" PRIx64, id.hi,
		      id.lo);
	return (uint32_t)idx;
}

/* ------------------------------------------------------------------ */
/* Options, names, handles.                                            */

Test(store_edges, options_out_of_range_are_refused)
{
	struct shoal_store *s = NULL;
	struct shoal_store_options o;
	const struct {
		const char *what;
		uint32_t procs, objects, ledger;
		uint64_t capacity;
	} bad[] = {
		{"max_procs 0", 0, 16, 16, MiB},
		{"max_procs 4097", 4097, 16, 16, MiB},
		{"max_objects 0", 2, 0, 16, MiB},
		{"max_objects 2^22 + 1", 2, (1u << 22) + 1, 16, MiB},
		{"ledger_slots 2^20 + 1", 2, 16, (1u << 20) + 1, MiB},
		{"capacity 0", 2, 16, 16, 0},
		{"capacity 2^40 + 1", 2, 16, 16, (1ull << 40) + 1},
	};

	shoal_store_options_init(NULL); /* a no-op, not a crash */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = tu_opts(bad[i].capacity);
		o.max_procs = bad[i].procs;
		o.max_objects = bad[i].objects;
		o.ledger_slots = bad[i].ledger;
		s = NULL;
		tu_assert_rc(shoal_store_create(NULL, &o, &s), -EINVAL, "%s",
			     bad[i].what);
		cr_assert_null(s, "%s: a handle came back", bad[i].what);
	}
	/* the smallest legal values work */
	o = tu_opts(1);
	o.max_procs = 1;
	o.max_objects = 1;
	o.ledger_slots = 1;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	cr_assert_eq(tu_stats(s).capacity, 64 * 1024, "rounded to a slab");
	tu_assert_rc(tu_put(s, tu_id(1, 1), 100, 1, 0), 0);
	tu_assert_rc(tu_get_check(s, tu_id(1, 1), 100, 1, 0), 0);
	/* one object at most: the next put cannot evict a held one */
	tu_assert_rc(tu_put(s, tu_id(1, 2), 100, 2, 0), -ENOSPC);
	shoal_store_close(s);
}

Test(store_edges, dot_names_null_names_and_bad_fds_are_refused)
{
	struct shoal_store_options o = tu_opts(MiB);
	struct shoal_store *s = NULL;
	const char *dots[] = {".", "..", "/.", "/.."};
	int fd;

	for (size_t i = 0; i < sizeof(dots) / sizeof(dots[0]); i++) {
		tu_assert_rc(shoal_store_create(dots[i], &o, &s), -EINVAL,
			     "create \"%s\"", dots[i]);
		tu_assert_rc(shoal_store_attach(dots[i], &s), -EINVAL,
			     "attach \"%s\"", dots[i]);
		tu_assert_rc(shoal_store_unlink(dots[i]), -EINVAL,
			     "unlink \"%s\"", dots[i]);
	}
	tu_assert_rc(shoal_store_attach(NULL, &s), -EINVAL);
	tu_assert_rc(shoal_store_unlink(NULL), -EINVAL);
	tu_assert_rc(shoal_store_fd(NULL), -EINVAL);
	tu_assert_rc(shoal_store_attach_fd(-1, &s), -EINVAL);
	/* an fd number that is not open */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	close(fd);
	tu_assert_rc(shoal_store_attach_fd(fd, &s), -EBADF);
	cr_assert_null(s);
	/* a name that exists already: refused, and left as it was */
	{
		const char *name;
		struct shoal_store *named = tu_named_store(MiB, &name);

		tu_assert_rc(tu_put(named, tu_id(1, 1), 10, 1, 0), 0);
		tu_assert_rc(shoal_store_create(name, &o, &s), -EEXIST);
		cr_assert(tu_shm_exists(name));
		tu_assert_rc(tu_get_check(named, tu_id(1, 1), 10, 1, 0), 0);
		cr_assert_eq(tu_stats(named).processes, 1);
		shoal_store_close(named);
	}
}

Test(store_edges, a_store_without_an_extra_region_has_none)
{
	struct shoal_store *s = tu_store(MiB);
	uint64_t size = 12345;

	cr_assert_null(shoal__store_ext(s, &size));
	cr_assert_eq(size, 0);
	cr_assert_str_eq(shoal__store_name(s), "");
	shoal_store_close(s);
}

/* ------------------------------------------------------------------ */
/* Foreign and corrupt segments.                                       */

/* Writes len bytes of value at off through the fd; returns the old bytes. */
static uint64_t poke(int fd, size_t off, size_t len, uint64_t value)
{
	uint64_t old = 0;

	cr_assert_eq(pread(fd, &old, len, (off_t)off), (ssize_t)len);
	cr_assert_eq(pwrite(fd, &value, len, (off_t)off), (ssize_t)len);
	return old;
}

#define HDR_FIELD(f)                                                           \
	offsetof(struct shoal__seg_hdr, f),                                    \
		sizeof(((struct shoal__seg_hdr *)0)->f)

Test(store_edges, attach_refuses_a_header_whose_plan_disagrees)
{
	struct shoal_store *s = tu_store(4 * MiB);
	int fd = shoal_store_fd(s);
	struct shoal__seg_hdr h;
	struct shoal_store *t = NULL;

	cr_assert_eq(pread(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	const struct {
		const char *what;
		size_t off, len;
		uint64_t value;
	} cases[] = {
		/* parameters out of range */
		{"max_procs 0", HDR_FIELD(max_procs), 0},
		{"max_objects 0", HDR_FIELD(max_objects), 0},
		{"max_objects huge", HDR_FIELD(max_objects), 1u << 30},
		{"ledger_slots 8", HDR_FIELD(ledger_slots), 8},
		{"ledger_slots huge", HDR_FIELD(ledger_slots), 1u << 24},
		{"ledger_slots not a power of two", HDR_FIELD(ledger_slots),
		 h.ledger_slots + 16},
		{"capacity 0", HDR_FIELD(capacity), 0},
		{"capacity not a slab multiple", HDR_FIELD(capacity),
		 h.capacity + 4096},
		{"capacity huge", HDR_FIELD(capacity), 1ull << 41},
		{"ext size not a page multiple", HDR_FIELD(ext.size), 100},
		{"ext size huge", HDR_FIELD(ext.size), 1ull << 41},
		/* derived fields that disagree with the parameters */
		{"ext size of a MiB", HDR_FIELD(ext.size), MiB},
		{"hdr_size", HDR_FIELD(hdr_size), h.hdr_size + 64},
		{"nstripes", HDR_FIELD(nstripes), h.nstripes + 1},
		{"ledger_ext size", HDR_FIELD(ledger_ext.size),
		 h.ledger_ext.size + 4096},
		{"ledger_ext off", HDR_FIELD(ledger_ext.off),
		 h.ledger_ext.off - 4096},
		{"proc_size", HDR_FIELD(proc_size), h.proc_size + 64},
		{"procs.off", HDR_FIELD(procs.off), h.procs.off + 64},
		{"procs.size", HDR_FIELD(procs.size), h.procs.size + 64},
		{"ledgers.off", HDR_FIELD(ledgers.off), h.ledgers.off + 64},
		{"ledgers.size", HDR_FIELD(ledgers.size), h.ledgers.size - 8},
		{"stripes.off", HDR_FIELD(stripes.off), h.stripes.off + 64},
		{"stripes.size", HDR_FIELD(stripes.size), h.stripes.size * 2},
		{"probe.off", HDR_FIELD(probe.off), h.probe.off - 64},
		{"probe.size", HDR_FIELD(probe.size), h.probe.size + 1},
		{"dir.size", HDR_FIELD(dir.size), h.dir.size / 2},
		{"heap_meta.off", HDR_FIELD(heap_meta.off), h.heap_meta.off + 4096},
		{"heap_meta.size", HDR_FIELD(heap_meta.size), h.heap_meta.size + 8},
		{"ext.off", HDR_FIELD(ext.off), h.ext.off + 4096},
		{"arena.size", HDR_FIELD(arena.size), h.arena.size - 65536},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t old = poke(fd, cases[i].off, cases[i].len,
				    cases[i].value);
		int r = shoal_store_attach_fd(fd, &t);

		poke(fd, cases[i].off, cases[i].len, old);
		if (r == 0)
			shoal_store_close(t);
		tu_assert_rc(r, SHOAL_EBADSEGMENT, "%s", cases[i].what);
	}
	/* the checker itself: a foreign magic, a file too short */
	h.magic ^= 1;
	tu_assert_rc(shoal__seg_validate(&h, h.seg_size), SHOAL_EBADSEGMENT);
	h.magic ^= 1;
	tu_assert_rc(shoal__seg_validate(&h, h.seg_size - 1), SHOAL_EBADSEGMENT);
	tu_assert_rc(shoal__seg_validate(&h, h.seg_size), 0);
	/* every refused attach gave its process slot back */
	cr_assert_eq(tu_stats(s).processes, 1);
	tu_assert_rc(shoal_store_attach_fd(fd, &t), 0);
	shoal_store_close(t);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_edges, attach_refuses_a_tampered_heap_header)
{
	struct shoal_store *s = tu_store(4 * MiB);
	int fd = shoal_store_fd(s);
	uint64_t meta = s->hdr->heap_meta.off;
	struct shoal_store *t = NULL;

	/* The heap header opens with 64 bytes of geometry (magic, version,
	 * sizes, counts, offsets), written once at create: a change to any
	 * 32-bit word of it makes the segment foreign. */
	for (size_t w = 0; w < 64; w += 4) {
		uint64_t old = poke(fd, meta + w, 4, 0);

		if (old == 0)
			poke(fd, meta + w, 4, 0x10);
		{
			int r = shoal_store_attach_fd(fd, &t);

			poke(fd, meta + w, 4, old);
			if (r == 0)
				shoal_store_close(t);
			tu_assert_rc(r, SHOAL_EBADSEGMENT,
				     "heap header word at +%zu", w);
		}
	}
	cr_assert_eq(tu_stats(s).processes, 1);
	tu_assert_rc(shoal_store_attach_fd(fd, &t), 0);
	shoal_store_close(t);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_edges, attach_to_a_segment_that_never_became_ready)
{
	struct shoal_store *s = tu_store(MiB);
	int fd = shoal_store_fd(s);
	struct shoal_store *t = NULL;
	uint64_t old = poke(fd, HDR_FIELD(ready), 0);
	int64_t t0 = tu_now_ms(), took;
	int r = shoal_store_attach_fd(fd, &t);

	took = tu_now_ms() - t0;
	poke(fd, HDR_FIELD(ready), old);
	if (r == 0)
		shoal_store_close(t);
	tu_assert_rc(r, SHOAL_EBADSEGMENT);
	/* segment.c: an attacher waits up to a second for the creator */
	cr_assert_geq(took, 900, "gave up after %" PRId64 " ms", took);
	cr_assert_lt(took, 5000, "waited %" PRId64 " ms", took);
	cr_assert_eq(tu_stats(s).processes, 1);
	check_sane(s);
	shoal_store_close(s);
}

/* A child that creates a store (named if name != NULL) under a file size
 * limit smaller than the segment: exits with the create's result. */
static pid_t create_under_fsize_limit(const char *name)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct rlimit rl, old;
		struct shoal_store_options o = tu_opts(8 * MiB);
		struct shoal_store *s = NULL;
		int r;

		signal(SIGXFSZ, SIG_IGN);
		TU_CHILD_CHECK(getrlimit(RLIMIT_FSIZE, &old) == 0, 10);
		rl = old;
		rl.rlim_cur = 1 * MiB; /* the soft limit: restored below */
		TU_CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0, 10);
		r = shoal_store_create(name, &o, &s);
		/* (coverage builds write their counters at exit) */
		TU_CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0, 12);
		TU_CHILD_CHECK(r != 0 || s != NULL, 11);
		if (r == 0)
			shoal_store_close(s);
		_exit(tu_err_to_exit(r));
	}
	return pid;
}

Test(store_edges, a_create_that_cannot_size_its_file_leaves_nothing)
{
	const char *name = tu_shm_name(NULL);

	tu_assert_rc(tu_wait_result(create_under_fsize_limit(NULL)), -ENOSPC);
	tu_assert_rc(tu_wait_result(create_under_fsize_limit(name)), -ENOSPC);
	cr_assert_not(tu_shm_exists(name), "the name of a failed create stayed");
}

/* VmSize of this process, in bytes. */
static uint64_t vm_size(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long kb = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb * 1024;
}

/* A child whose address space is capped a few MiB above its present size,
 * so that a mapping of `big` bytes cannot fit.  op 'c': creates a store
 * of that capacity (named if name != NULL); op 'a': attaches to fd.
 * Exits with the result. */
static pid_t map_under_as_limit(char op, const char *name, int fd,
				uint64_t big)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		uint64_t now = vm_size();
		struct rlimit rl, old;
		struct shoal_store_options o = tu_opts(big);
		struct shoal_store *s = NULL;
		int r;

		TU_CHILD_CHECK(now > 0, 10);
		TU_CHILD_CHECK(big > 96 * MiB, 11);
		TU_CHILD_CHECK(getrlimit(RLIMIT_AS, &old) == 0, 12);
		rl = old;
		rl.rlim_cur = now + 48 * MiB; /* the soft limit: restored below */
		TU_CHILD_CHECK(setrlimit(RLIMIT_AS, &rl) == 0, 12);
		r = op == 'c' ? shoal_store_create(name, &o, &s)
			      : shoal_store_attach_fd(fd, &s);
		/* (coverage builds write their counters at exit) */
		TU_CHILD_CHECK(setrlimit(RLIMIT_AS, &old) == 0, 13);
		if (r == 0)
			shoal_store_close(s);
		_exit(tu_err_to_exit(r));
	}
	return pid;
}

Test(store_edges, create_and_attach_fail_cleanly_when_the_segment_cannot_be_mapped)
{
	const char *name = tu_shm_name(NULL);
	uint64_t big = 256 * MiB;
	struct shoal_store *s = tu_store(big);

	tu_assert_rc(tu_wait_result(map_under_as_limit('c', NULL, -1, big)),
		     -ENOMEM);
	tu_assert_rc(tu_wait_result(map_under_as_limit('c', name, -1, big)),
		     -ENOMEM);
	cr_assert_not(tu_shm_exists(name), "the name of a failed create stayed");
	tu_assert_rc(tu_wait_result(map_under_as_limit('a', NULL,
						       shoal_store_fd(s), big)),
		     -ENOMEM);
	/* the child's attach claimed no process slot */
	cr_assert_eq(tu_stats(s).processes, 1);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_edges, a_corrupt_entry_description_is_refused_without_a_pin)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = tu_id(1, 1);
	struct shoal_view v;
	struct shoal__entry *e;
	uint64_t off, size, arena_end = s->heap.arena_off + s->heap.arena_size;
	uint32_t meta;

	tu_assert_rc(tu_put(s, id, 100, 1, 0), 0);
	e = &s->dir[idx_of(s, id)];
	off = atomic_load(&e->data_off);
	size = atomic_load(&e->data_size);
	meta = atomic_load(&e->meta_size);
	const struct {
		const char *what;
		uint64_t off, size;
		uint32_t meta;
	} bad[] = {
		{"offset in the header", 64, size, meta},
		{"offset 0", 0, size, meta},
		{"offset past the arena", arena_end, size, meta},
		{"offset past the mapping", 1ull << 50, size, meta},
		{"block running off the arena", arena_end - 50, size, meta},
		{"size larger than the arena", off, s->heap.arena_size + 1, meta},
		{"meta larger than the arena", off, size, 0xffffffffu},
		{"inline flag on a large size", off, size | SHOAL__SIZE_INLINE,
		 meta},
		{"inline with metadata", off, 4 | SHOAL__SIZE_INLINE, 2},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		atomic_store(&e->data_off, bad[i].off);
		atomic_store(&e->data_size, bad[i].size);
		atomic_store(&e->meta_size, bad[i].meta);
		tu_assert_rc(shoal_get(s, id, 0, &v), SHOAL_EBADSEGMENT, "%s",
			     bad[i].what);
		cr_assert_null(v.data);
		atomic_store(&e->data_off, off);
		atomic_store(&e->data_size, size);
		atomic_store(&e->meta_size, meta);
		cr_assert_eq(tu_info(s, id).pins, 0, "%s: left pinned",
			     bad[i].what);
	}
	tu_assert_rc(tu_get_check(s, id, 100, 1, 0), 0);
	tu_assert_rc(shoal_drop(s, id), 0);
	tu_assert_rc(shoal_delete(s, id), 0);
	cr_assert_eq(tu_stats(s).bytes_used, 0);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_edges, a_corrupt_waiter_stack_does_not_hang_a_seal)
{
	struct shoal_store *s = tu_store(MiB);
	uint32_t max = s->geo.max_procs * SHOAL__PROC_WAITERS;
	shoal_id a = tu_id(1, 1), b = tu_id(1, 2);
	struct shoal__entry *e;
	struct shoal__waiter *w = &s->me->waiters[0];
	uint32_t self = s->slot * SHOAL__PROC_WAITERS + 1;
	void *data;

	/* a reference past every process's records */
	tu_assert_rc(shoal_create(s, a, 10, NULL, 0, 0, &data), 0);
	e = &s->dir[idx_of(s, a)];
	atomic_store(&e->waiters, max + 7);
	tu_fill(data, 10, 1);
	tu_assert_rc(shoal_seal(s, a), 0);
	tu_assert_rc(tu_get_check(s, a, 10, 1, 0), 0);

	/* a record linked to itself (a cycle): the drain is bounded */
	tu_assert_rc(shoal_create(s, b, 10, NULL, 0, 0, &data), 0);
	e = &s->dir[idx_of(s, b)];
	cr_assert_eq(atomic_load(&w->state), SHOAL__W_FREE);
	atomic_store(&w->next, self);
	atomic_store(&e->waiters, self);
	tu_fill(data, 10, 2);
	tu_assert_rc(shoal_seal(s, b), 0);
	tu_assert_rc(tu_get_check(s, b, 10, 2, 0), 0);
	/* the free record was not taken by the drain */
	cr_assert_eq(atomic_load(&w->state), SHOAL__W_FREE);
	atomic_store(&w->next, 0);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_edges, a_corrupt_high_water_mark_is_bounded_by_max_procs)
{
	struct shoal_store *s = tu_store(MiB);
	uint32_t hwm = atomic_load(&s->hdr->procs_hwm);
	struct shoal_store_stats st;

	tu_assert_rc(tu_put(s, tu_id(1, 1), 100, 1, 0), 0);
	atomic_store(&s->hdr->procs_hwm, s->geo.max_procs + 1000);
	st = tu_stats(s);
	cr_assert_eq(st.objects, 1);
	cr_assert_eq(st.bytes_used, 100);
	tu_assert_rc(shoal_store_reap(s), 0); /* nobody dead */
	atomic_store(&s->hdr->procs_hwm, hwm);
	check_sane(s);
	shoal_store_close(s);
}

/* ------------------------------------------------------------------ */
/* NULL and nil arguments.                                             */

Test(store_edges, null_store_and_nil_ids_everywhere)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id id = tu_id(1, 1), nil = SHOAL_ID_NIL;
	shoal_id ids[3] = {tu_id(1, 1), SHOAL_ID_NIL, tu_id(1, 2)};
	struct shoal_view v, views[3];
	uint8_t ready[3];
	char buf[32] = "x", text[SHOAL_ID_HEX_LEN + 1];
	void *data = NULL;
	struct shoal__fill f = {0};
	void *fbuf = NULL;
	uint64_t used;

	tu_assert_rc(tu_put(s, id, 10, 1, 0), 0);
	tu_assert_rc(tu_put(s, tu_id(1, 2), 10, 2, 0), 0);
	used = tu_stats(s).bytes_used;

	/* no store */
	tu_assert_rc(shoal_create(NULL, tu_id(2, 1), 10, NULL, 0, 0, &data),
		     -EINVAL);
	tu_assert_rc(shoal_put_with_id(NULL, tu_id(2, 1), buf, 4, NULL, 0, 0),
		     -EINVAL);
	tu_assert_rc(shoal_seal(NULL, id), -EINVAL);
	tu_assert_rc(shoal_abort(NULL, id), -EINVAL);
	tu_assert_rc(shoal_get(NULL, id, 0, &v), -EINVAL);
	tu_assert_rc(shoal_get_many(NULL, ids, 1, 0, views), -EINVAL);
	tu_assert_rc(shoal_error_message(NULL, id, buf, sizeof(buf)), -EINVAL);
	tu_assert_rc(shoal_wait(NULL, ids, 1, 1, 0, ready), -EINVAL);
	tu_assert_rc(shoal_release(NULL, &v), -EINVAL);
	tu_assert_rc(shoal_contains(NULL, id), -EINVAL);
	tu_assert_rc(shoal_hold(NULL, id), -EINVAL);
	tu_assert_rc(shoal_drop(NULL, id), -EINVAL);
	tu_assert_rc(shoal_delete(NULL, id), -EINVAL);
	tu_assert_rc(shoal_evict(NULL, 100), -EINVAL);
	tu_assert_rc(shoal_list(NULL, NULL, 0), -EINVAL);
	tu_assert_rc(shoal_store_stats(NULL, &(struct shoal_store_stats){0}),
		     -EINVAL);
	tu_assert_rc(shoal_store_reap(NULL), -EINVAL);
	tu_assert_rc(shoal__obj_promise(NULL, tu_id(2, 1), false, 0), -EINVAL);
	tu_assert_rc(shoal__fill_begin(NULL, id, 10, 0, &f, &fbuf), -EINVAL);
	tu_assert_rc(shoal__fill_end(NULL, &f, 0), -EINVAL);
	shoal__fill_cancel(NULL, &f); /* no-op */

	/* the nil ID */
	tu_assert_rc(shoal_seal(s, nil), -EINVAL);
	tu_assert_rc(shoal_abort(s, nil), -EINVAL);
	tu_assert_rc(shoal_get(s, nil, 0, &v), -EINVAL);
	tu_assert_rc(shoal_error_message(s, nil, buf, sizeof(buf)), -EINVAL);
	tu_assert_rc(shoal_contains(s, nil), -EINVAL);
	tu_assert_rc(shoal_hold(s, nil), -EINVAL);
	tu_assert_rc(shoal_drop(s, nil), -EINVAL);
	tu_assert_rc(shoal_delete(s, nil), -EINVAL);
	tu_assert_rc(shoal__obj_promise(s, nil, false, 0), -EINVAL);
	tu_assert_rc(shoal__fill_begin(s, nil, 10, 0, &f, &fbuf), -EINVAL);

	/* other bad arguments */
	tu_assert_rc(shoal_put_with_id(s, tu_id(2, 1), buf, 4, buf,
				       (size_t)UINT32_MAX + 1, 0),
		     -EINVAL);
	tu_assert_rc(shoal_get_many(s, ids, (size_t)INT32_MAX + 1, 0, views),
		     -EINVAL);
	tu_assert_rc(shoal_error_message(s, id, NULL, 4), -EINVAL);
	tu_assert_rc(shoal_wait(s, NULL, 2, 1, 0, ready), -EINVAL);
	tu_assert_rc(shoal_wait(s, ids, 2, 1, 0, NULL), -EINVAL);
	tu_assert_rc(shoal_wait(s, ids, 2, 3, 0, ready), -EINVAL);
	tu_assert_rc(shoal_wait(s, ids, (size_t)INT32_MAX + 1, 1, 0, ready),
		     -EINVAL);
	tu_assert_rc(shoal__fill_begin(s, id, 10, 0, NULL, &fbuf), -EINVAL);
	tu_assert_rc(shoal__fill_begin(s, id, 10, 0, &f, NULL), -EINVAL);
	tu_assert_rc(shoal__fill_end(s, NULL, 0), -EINVAL);
	f.rec = SHOAL__PROC_FILLS;
	tu_assert_rc(shoal__fill_end(s, &f, 0), -EINVAL);
	shoal__fill_cancel(s, NULL);
	shoal__fill_cancel(s, &f); /* out of range record: no-op */
	tu_assert_rc(shoal_evict(s, 0), 0);
	tu_assert_rc(shoal_id_random(NULL), -EINVAL);
	tu_assert_rc(shoal_id_parse(NULL, &id), -EINVAL);
	shoal_id_format(id, text);
	tu_assert_rc(shoal_id_parse(text, NULL), -EINVAL);
	cr_assert_str_eq(shoal_strerror(-4099), "unknown shoal error");
	cr_assert_str_eq(shoal_strerror(-3999), "unknown shoal error");
	cr_assert_str_eq(shoal_strerror(7), "unknown shoal error");

	/* a nil ID among others: that one fails, the rest are pinned */
	tu_assert_rc(shoal_get_many(s, ids, 3, 0, views), 2);
	tu_assert_rc(views[0].err, 0);
	tu_assert_rc(views[1].err, -EINVAL);
	cr_assert_null(views[1].data);
	tu_assert_rc(views[2].err, 0);
	cr_assert(tu_check(views[2].data, 10, 2));
	tu_assert_rc(shoal_release(s, &views[0]), 0);
	tu_assert_rc(shoal_release(s, &views[2]), 0);

	/* nothing was created, pinned or changed */
	cr_assert_eq(tu_stats(s).objects, 2);
	cr_assert_eq(tu_stats(s).bytes_used, used);
	cr_assert_eq(tu_info(s, tu_id(1, 1)).pins, 0);
	cr_assert_eq(tu_info(s, tu_id(1, 1)).holds, 1);
	cr_assert_eq(tu_info(s, tu_id(1, 2)).pins, 0);
	check_sane(s);
	shoal_store_close(s);
}

/* ------------------------------------------------------------------ */
/* Object states and counts.                                           */


Test(store_edges, seal_and_abort_of_a_tombstone_or_of_another_process_sealed_object)
{
	const char *name;
	struct shoal_store *s = tu_named_store(MiB, &name);
	shoal_id id = tu_id(1, 1), gone = tu_id(1, 2);
	pid_t child;

	tu_assert_rc(tu_put(s, id, 100, 1, 0), 0);
	/* a program of its own (the segment at another address) ... */
	tu_assert_rc(tu_peer_on("seal", name, id), -EPERM);
	tu_assert_rc(tu_peer_on("abort", name, id), -EPERM);
	/* ... and a forked child */
	child = tu_fork();
	if (child == 0) {
		struct shoal_store *c = NULL;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0,
			       10);
		TU_CHILD_CHECK(shoal_seal(c, id) == -EPERM, 11);
		TU_CHILD_CHECK(shoal_abort(c, id) == -EPERM, 12);
		shoal_store_close(c);
		_exit(0);
	}
	tu_assert_rc(tu_wait_result(child), 0);
	tu_assert_rc(tu_get_check(s, id, 100, 1, 0), 0);

	/* deleted while held: a tombstone, no longer the creator's object */
	tu_assert_rc(tu_put(s, gone, 100, 2, 0), 0);
	tu_assert_rc(shoal_delete(s, gone), 0);
	tu_assert_rc(shoal_seal(s, gone), -ENOENT);
	tu_assert_rc(shoal_abort(s, gone), -ENOENT);
	tu_assert_rc(shoal_drop(s, gone), 0);
	cr_assert_not(tu_listed(s, gone));
	cr_assert_eq(tu_stats(s).objects, 1);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_edges, abort_after_the_creator_dropped_its_creation_hold)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id id = tu_id(1, 1);
	struct shoal_view v;
	void *data;

	tu_assert_rc(shoal_create(s, id, 1000, NULL, 0, 0, &data), 0);
	tu_assert_rc(shoal_drop(s, id), 0);
	cr_assert_eq(tu_info(s, id).holds, 0);
	cr_assert_eq(tu_info(s, id).state, SHOAL_OBJECT_CREATED);
	tu_assert_rc(shoal_abort(s, id), 0);
	cr_assert_not(tu_listed(s, id));
	cr_assert_eq(tu_stats(s).objects, 0);
	cr_assert_eq(tu_stats(s).bytes_used, 0);
	tu_assert_rc(shoal_get(s, id, 0, &v), -ETIMEDOUT);
	/* the ID can be created again */
	tu_assert_rc(tu_put(s, id, 1000, 3, 0), 0);
	tu_assert_rc(tu_get_check(s, id, 1000, 3, 0), 0);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_edges, hold_and_get_of_a_deleting_object_fail_deleted)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id id = tu_id(1, 1);
	struct shoal_view v, w;

	tu_assert_rc(tu_put(s, id, 100, 1, 0), 0);
	tu_assert_rc(shoal_drop(s, id), 0);
	tu_assert_rc(shoal_get(s, id, 0, &v), 0);
	tu_assert_rc(shoal_delete(s, id), 0);
	cr_assert_eq(tu_info(s, id).state, SHOAL_OBJECT_DELETING);
	tu_assert_rc(shoal_hold(s, id), SHOAL_EDELETED);
	tu_assert_rc(shoal_get(s, id, 0, &w), SHOAL_EDELETED);
	tu_assert_rc(shoal_delete(s, id), -ENOENT);
	tu_assert_rc(shoal_contains(s, id), 0);
	cr_assert_eq(tu_info(s, id).holds, 0);
	cr_assert_eq(tu_info(s, id).pins, 1);
	/* the view is still good until released, then everything goes */
	cr_assert(tu_check(v.data, 100, 1));
	tu_assert_rc(shoal_release(s, &v), 0);
	cr_assert_not(tu_listed(s, id));
	cr_assert_eq(tu_stats(s).bytes_used, 0);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_edges, a_stale_view_of_a_reused_entry_is_refused)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id id = tu_id(1, 1);
	struct shoal_view v, copy, now;

	tu_assert_rc(tu_put(s, id, 100, 1, 0), 0);
	tu_assert_rc(shoal_get(s, id, 0, &v), 0);
	copy = v;
	tu_assert_rc(shoal_release(s, &v), 0);
	tu_assert_rc(shoal_drop(s, id), 0);
	tu_assert_rc(shoal_delete(s, id), 0);
	/* the same ID again: the unheld tombstone's slot, a new generation */
	tu_assert_rc(tu_put(s, id, 200, 2, 0), 0);
	cr_assert_eq(idx_of(s, id), copy.entry_, "the slot was not reused");
	tu_assert_rc(shoal_get(s, id, 0, &now), 0);
	cr_assert_neq(now.gen_, copy.gen_);
	tu_assert_rc(shoal_release(s, &copy), -EINVAL);
	cr_assert_eq(tu_info(s, id).pins, 1, "a stale view took a pin away");
	cr_assert(tu_check(now.data, 200, 2));
	tu_assert_rc(shoal_release(s, &now), 0);
	cr_assert_eq(tu_info(s, id).pins, 0);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_edges, holds_past_the_count_limit_overflow_and_change_nothing)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id id = tu_id(1, 1);
	const uint32_t max = SHOAL__CTL_COUNT_MAX;
	pid_t child;

	static_assert(SHOAL__CTL_COUNT_MAX == SHOAL__LEDGER_COUNT_MAX,
		      "the test assumes one limit for both");
	tu_assert_rc(tu_put(s, id, 100, 1, 0), 0); /* the creation hold: 1 */
	for (uint32_t i = 1; i < max; i++)
		if (shoal_hold(s, id) != 0)
			cr_assert_fail("hold %u failed", i);
	cr_assert_eq(tu_info(s, id).holds, max);
	/* this process's ledger record is full */
	tu_assert_rc(shoal_hold(s, id), -EOVERFLOW);
	cr_assert_eq(tu_info(s, id).holds, max);
	/* another process has room in its ledger, but the entry has none */
	child = tu_fork();
	if (child == 0) {
		struct shoal_store *c = NULL;
		int r;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0,
			       10);
		r = shoal_hold(c, id);
		TU_CHILD_CHECK(shoal_drop(c, id) == -ENOENT, 11);
		shoal_store_close(c);
		_exit(tu_err_to_exit(r));
	}
	tu_assert_rc(tu_wait_result(child), -EOVERFLOW);
	cr_assert_eq(tu_info(s, id).holds, max);
	for (uint32_t i = 1; i < max; i++)
		if (shoal_drop(s, id) != 0)
			cr_assert_fail("drop %u failed", i);
	cr_assert_eq(tu_info(s, id).holds, 1);
	tu_assert_rc(tu_get_check(s, id, 100, 1, 0), 0);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_edges, a_create_with_a_full_ledger_leaks_nothing)
{
	struct shoal_store_options o = tu_opts(4 * MiB);
	struct shoal_store *s = NULL;
	struct shoal_store_stats before;
	void *data = NULL;
	int n = 0;

	o.ledger_slots = 16;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	/* each put keeps its creation hold: one ledger record each */
	for (;; n++) {
		int r = tu_put(s, tu_id(1, (uint64_t)n), 1000, (uint64_t)n, 0);

		if (r != 0) {
			tu_assert_rc(r, SHOAL_ELEDGERFULL, "put %d", n);
			break;
		}
		cr_assert_lt(n, 64, "the ledger never filled");
	}
	cr_assert_eq(n, 16);
	before = tu_stats(s);
	cr_assert_eq(before.objects, 16);
	cr_assert_eq(before.bytes_used, 16 * 1000);
	tu_assert_rc(shoal_create(s, tu_id(2, 1), 1000, NULL, 0, 0, &data),
		     SHOAL_ELEDGERFULL);
	cr_assert_not(tu_listed(s, tu_id(1, 16)));
	cr_assert_not(tu_listed(s, tu_id(2, 1)));
	cr_assert_eq(tu_stats(s).objects, 16);
	cr_assert_eq(tu_stats(s).bytes_used, 16 * 1000);
	cr_assert_eq(tu_stats(s).heap_bytes_reserved, before.heap_bytes_reserved,
		     "a failed create kept its block");
	/* one record given back: the create fits */
	tu_assert_rc(shoal_drop(s, tu_id(1, 0)), 0);
	tu_assert_rc(tu_put(s, tu_id(1, 16), 1000, 16, 0), 0);
	tu_assert_rc(tu_get_check(s, tu_id(1, 16), 1000, 16, 0), 0);
	shoal_store_close(s);
}

Test(store_edges, promises_and_blocks_at_the_limits)
{
	struct shoal_store_options o = tu_opts(MiB);
	struct shoal_store *s = NULL;
	shoal__off_t off = SHOAL__OFF(1);
	_Atomic uint64_t *rec;
	uint64_t cap;

	o.max_objects = 16;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	cap = tu_stats(s).capacity;
	/* the handoff record of an idle fill record (heap.h), in the segment */
	rec = &s->me->fills[SHOAL__PROC_FILLS - 1].block_off;
	cr_assert_eq(s->me->fills[SHOAL__PROC_FILLS - 1].stage, 0);
	/* a block larger than the store */
	tu_assert_rc(shoal__obj_alloc(s, cap + 1, 0, &off, rec), SHOAL_ESTOREFULL);
	cr_assert_eq(atomic_load(rec), 0);
	/* a store full of held objects: no block now, nor after a wait */
	for (int i = 0; i < 15; i++)
		tu_assert_rc(tu_put(s, tu_id(1, (uint64_t)i), cap / 16, 1, 0),
			     0, "put %d", i);
	tu_assert_rc(shoal__obj_alloc(s, cap / 8, 0, &off, rec),
		     SHOAL_ESTOREFULL);
	tu_assert_rc(shoal__obj_alloc(s, cap / 8, 30, &off, rec),
		     SHOAL_ESTOREFULL);
	cr_assert_eq(atomic_load(rec), 0);
	/* the object limit: a promise takes an entry, and there is none */
	tu_assert_rc(shoal__obj_promise(s, shoal_id_next(s), true, 0), 0);
	tu_assert_rc(shoal__obj_promise(s, shoal_id_next(s), true, 0), -ENOSPC);
	cr_assert_eq(tu_stats(s).objects, 16);
	for (int i = 0; i < 15; i++)
		tu_assert_rc(tu_get_check(s, tu_id(1, (uint64_t)i), cap / 16, 1,
					  0),
			     0);
	shoal_store_close(s);
}

Test(store_edges, id_next_moves_to_a_new_block_when_one_is_spent)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id prev = shoal_id_next(s), id;
	const uint64_t ctr = (1ull << SHOAL__WIN_SHIFT) - 1; /* lo's counter */
	uint64_t blocks = 1;

	for (int i = 0; i < 70000; i++) {
		id = shoal_id_next(s);
		cr_assert_gt(id.lo & ctr, prev.lo & ctr,
			     "ID %d not after the one before", i);
		cr_assert_eq(id.hi, prev.hi);
		if (((id.lo & ctr) >> 16) != ((prev.lo & ctr) >> 16)) {
			blocks++;
			cr_assert_eq(id.lo & 0xffff, 0, "a block starts at 0");
		}
		prev = id;
	}
	cr_assert_eq(blocks, 2);
	cr_assert_eq(atomic_load(&s->hdr->id_blocks), 2);
	/* another handle draws from a third block */
	{
		struct shoal_store *t = NULL;

		tu_assert_rc(shoal_store_attach_fd(shoal_store_fd(s), &t), 0);
		id = shoal_id_next(t);
		cr_assert_eq((id.lo & ctr) >> 16, 3);
		shoal_store_close(t);
	}
	shoal_store_close(s);
}

Test(store_edges, a_directory_full_of_held_tombstones_refuses_a_create)
{
	struct shoal_store_options o = tu_opts(4 * MiB);
	struct shoal_store *s = NULL;
	uint64_t reserved;
	uint32_t slots;
	void *data = NULL;

	/* 16 objects: the smallest directory, one probe window of 64 slots */
	o.max_objects = 16;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	slots = s->dir_mask + 1;
	cr_assert_eq(slots, SHOAL__PROBE_MAX);
	/* deleted while held: tombstones that keep their slots */
	for (uint32_t i = 0; i < slots; i++) {
		tu_assert_rc(tu_put(s, tu_id(1, i), 1000, i, 0), 0, "put %u", i);
		tu_assert_rc(shoal_delete(s, tu_id(1, i)), 0);
	}
	cr_assert_eq(tu_stats(s).objects, 0);
	cr_assert_eq(tu_stats(s).bytes_used, 0);
	reserved = tu_stats(s).heap_bytes_reserved;
	tu_assert_rc(tu_put(s, tu_id(2, 1), 1000, 1, 0), -ENOSPC);
	tu_assert_rc(shoal_create(s, tu_id(2, 1), 1000, NULL, 0, 0, &data),
		     -ENOSPC);
	tu_assert_rc(shoal__obj_promise(s, shoal_id_next(s), true, 0), -ENOSPC);
	cr_assert_eq(tu_stats(s).objects, 0);
	cr_assert_eq(tu_stats(s).bytes_used, 0);
	cr_assert_leq(tu_stats(s).heap_bytes_reserved, reserved,
		      "a refused create kept its block");
	/* a tombstone let go of makes room */
	tu_assert_rc(shoal_drop(s, tu_id(1, 7)), 0);
	tu_assert_rc(tu_put(s, tu_id(2, 1), 1000, 1, 0), 0);
	tu_assert_rc(tu_get_check(s, tu_id(2, 1), 1000, 1, 0), 0);
	for (uint32_t i = 0; i < slots; i++)
		if (i != 7)
			tu_assert_rc(shoal_drop(s, tu_id(1, i)), 0);
	check_sane(s);
	shoal_store_close(s);
}

/* ------------------------------------------------------------------ */
/* Eviction with many candidates.                                      */

Test(store_edges, eviction_of_more_candidates_than_the_exact_sort_takes)
{
	struct shoal_store_options o = tu_opts(4 * MiB);
	struct shoal_store *s = NULL;
	const int n = 5000, evict = 100;
	struct shoal_store_stats st;
	int freed, gone = 0;

	o.max_objects = 8192;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	/* unheld objects, created oldest first */
	for (int i = 0; i < n; i++) {
		tu_assert_rc(tu_put(s, tu_id(1, (uint64_t)i), 16, (uint64_t)i, 0),
			     0, "put %d", i);
		tu_assert_rc(shoal_drop(s, tu_id(1, (uint64_t)i)), 0);
	}
	freed = shoal_evict(s, 16 * evict);
	cr_assert_geq(freed, 16 * evict);
	st = tu_stats(s);
	cr_assert_eq(st.evictions, (uint64_t)freed / 16);
	cr_assert_eq(st.objects, (uint64_t)(n - freed / 16));
	/* more than 4096 candidates are bucketed by fifths of recency:
	 * every victim comes from the oldest fifth (with room for the
	 * sampled quantile) and the newer ones are all still there */
	for (int i = 0; i < n; i++) {
		bool in = shoal_contains(s, tu_id(1, (uint64_t)i)) == 1;

		if (i >= n / 4)
			cr_assert(in, "object %d of %d was evicted", i, n);
		gone += !in;
	}
	cr_assert_eq(gone, freed / 16);
	check_sane(s);
	shoal_store_close(s);
}

/* ------------------------------------------------------------------ */
/* Fills (fill.c) and error objects.                                   */

/* A promise of a fresh ID, held by s. */
static shoal_id promise(struct shoal_store *s)
{
	shoal_id id = shoal_id_next(s);

	tu_assert_rc(shoal__obj_promise(s, id, true, 0), 0);
	return id;
}

Test(store_edges, the_fill_records_run_out_and_come_back)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id ids[SHOAL__PROC_FILLS + 1];
	struct shoal__fill f[SHOAL__PROC_FILLS + 1];
	void *buf[SHOAL__PROC_FILLS + 1];
	const size_t size = 100;

	for (uint32_t i = 0; i <= SHOAL__PROC_FILLS; i++)
		ids[i] = promise(s);
	for (uint32_t i = 0; i < SHOAL__PROC_FILLS; i++) {
		tu_assert_rc(shoal__fill_begin(s, ids[i], size, 0, &f[i], &buf[i]),
			     0, "fill %u", i);
		tu_fill(buf[i], size, i);
	}
	/* every record busy: refused, big or inline, and nothing taken */
	tu_assert_rc(shoal__fill_begin(s, ids[SHOAL__PROC_FILLS], size, 0,
				       &f[SHOAL__PROC_FILLS],
				       &buf[SHOAL__PROC_FILLS]),
		     -EBUSY);
	tu_assert_rc(shoal__fill_begin(s, ids[SHOAL__PROC_FILLS], 4, 0,
				       &f[SHOAL__PROC_FILLS],
				       &buf[SHOAL__PROC_FILLS]),
		     -EBUSY);
	cr_assert_eq(tu_stats(s).bytes_used, 0, "unsealed fills count nothing");
	tu_assert_rc(shoal__fill_end(s, &f[0], 0), 0);
	/* one record back: the last promise fills */
	tu_assert_rc(shoal__fill_begin(s, ids[SHOAL__PROC_FILLS], size, 0,
				       &f[SHOAL__PROC_FILLS],
				       &buf[SHOAL__PROC_FILLS]),
		     0);
	tu_fill(buf[SHOAL__PROC_FILLS], size, SHOAL__PROC_FILLS);
	for (uint32_t i = 1; i <= SHOAL__PROC_FILLS; i++)
		tu_assert_rc(shoal__fill_end(s, &f[i], 0), 0, "fill %u", i);
	for (uint32_t i = 0; i <= SHOAL__PROC_FILLS; i++)
		tu_assert_rc(tu_get_check(s, ids[i], size, i, 0), 0, "%u", i);
	cr_assert_eq(tu_stats(s).bytes_used, (SHOAL__PROC_FILLS + 1) * size);
	for (uint32_t i = 0; i <= SHOAL__PROC_FILLS; i++) {
		tu_assert_rc(shoal_drop(s, ids[i]), 0);
		tu_assert_rc(shoal_delete(s, ids[i]), 0);
	}
	cr_assert_eq(tu_stats(s).objects, 0);
	cr_assert_eq(tu_stats(s).bytes_used, 0);
	shoal_store_close(s);
}

Test(store_edges, a_cancelled_fill_gives_the_promise_back)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = promise(s);
	uint64_t reserved = tu_stats(s).heap_bytes_reserved;
	struct shoal__fill f;
	struct shoal_object_info info;
	void *buf;
	uint64_t c;

	tu_assert_rc(shoal__fill_begin(s, id, 5000, 0, &f, &buf), 0);
	c = atomic_load(&s->dir[f.idx].ctl);
	cr_assert(c & SHOAL__CTL_FILLING);
	/* the filler's slot sits in the pins field: not a pin */
	info = tu_info(s, id);
	cr_assert_eq(info.pins, 0);
	cr_assert_eq(info.state, SHOAL_OBJECT_CREATED);
	shoal__fill_cancel(s, &f);
	c = atomic_load(&s->dir[f.idx].ctl);
	cr_assert_not(c & SHOAL__CTL_FILLING);
	cr_assert_eq(SHOAL__CTL_STATE(c), SHOAL__E_CREATED);
	cr_assert_eq(SHOAL__CTL_PINS(c), 0);
	cr_assert_eq(tu_info(s, id).holds, 1, "the promiser's hold went");
	cr_assert_eq(tu_stats(s).bytes_used, 0);
	/* and it can be filled again */
	tu_assert_rc(shoal__fill_begin(s, id, 5000, 0, &f, &buf), 0);
	tu_fill(buf, 5000, 9);
	tu_assert_rc(shoal__fill_end(s, &f, 0), 0);
	tu_assert_rc(tu_get_check(s, id, 5000, 9, 0), 0);
	cr_assert_eq(tu_stats(s).bytes_used, 5000);
	tu_assert_rc(shoal_drop(s, id), 0);
	tu_assert_rc(shoal_delete(s, id), 0);
	cr_assert_eq(tu_stats(s).bytes_used, 0);
	/* the cancelled block went back: one fill's worth reserved at most */
	cr_assert_leq(tu_stats(s).heap_bytes_reserved, reserved + 64 * 1024);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_edges, a_fill_of_an_aborted_promise_is_refused_and_freed)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id a = promise(s), b = promise(s);
	struct shoal__fill f1, f2, g;
	void *buf, *buf2;

	/* aborted under a fill that then ends */
	tu_assert_rc(shoal__fill_begin(s, a, 5000, 0, &f1, &buf), 0);
	tu_assert_rc(shoal_abort(s, a), 0);
	cr_assert(atomic_load(&s->dir[f1.idx].ctl) & SHOAL__CTL_DELETING);
	tu_assert_rc(shoal__fill_begin(s, a, 5000, 0, &f2, &buf2), -ENOENT);
	tu_fill(buf, 5000, 1);
	tu_assert_rc(shoal__fill_end(s, &f1, 0), -ENOENT);
	cr_assert_not(tu_listed(s, a));

	/* aborted under a fill that is then cancelled */
	tu_assert_rc(shoal__fill_begin(s, b, 5000, 0, &g, &buf), 0);
	tu_assert_rc(shoal_abort(s, b), 0);
	shoal__fill_cancel(s, &g);
	cr_assert_not(tu_listed(s, b));

	cr_assert_eq(tu_stats(s).objects, 0);
	cr_assert_eq(tu_stats(s).bytes_used, 0);
	check_sane(s);
	shoal_store_close(s);
}

Test(store_edges, a_fill_that_gets_no_block_gives_its_record_back)
{
	struct shoal_store *s = tu_store(MiB);
	uint64_t cap = tu_stats(s).capacity;
	shoal_id id = promise(s);
	struct shoal__fill f;
	void *buf = NULL;

	/* more than the store, and (below) more than the room left */
	for (uint32_t i = 0; i < SHOAL__PROC_FILLS + 1; i++)
		tu_assert_rc(shoal__fill_begin(s, id, cap + 1, 0, &f, &buf),
			     SHOAL_ESTOREFULL, "try %u", i);
	tu_assert_rc(tu_put(s, tu_id(1, 1), cap - cap / 4, 1, 0), 0);
	for (uint32_t i = 0; i < SHOAL__PROC_FILLS + 1; i++)
		tu_assert_rc(shoal__fill_begin(s, id, cap / 2, 0, &f, &buf),
			     SHOAL_ESTOREFULL, "try %u", i);
	cr_assert_null(buf);
	cr_assert_not(atomic_load(&s->dir[idx_of(s, id)].ctl) & SHOAL__CTL_FILLING);
	/* every record came back: a fill that fits works */
	tu_assert_rc(shoal__fill_begin(s, id, 1000, 0, &f, &buf), 0);
	tu_fill(buf, 1000, 4);
	tu_assert_rc(shoal__fill_end(s, &f, 0), 0);
	tu_assert_rc(tu_get_check(s, id, 1000, 4, 0), 0);
	cr_assert_eq(tu_stats(s).bytes_used, cap - cap / 4 + 1000);
	shoal_store_close(s);
}

/* An error object (fill.c's SHOAL__SIZE_ERROR) of `size` payload bytes. */
static shoal_id error_object(struct shoal_store *s, const void *payload,
			     size_t size)
{
	shoal_id id = promise(s);
	struct shoal__fill f;
	void *buf;

	tu_assert_rc(shoal__fill_begin(s, id, size, 0, &f, &buf), 0);
	memcpy(buf, payload, size);
	tu_assert_rc(shoal__fill_end(s, &f, SHOAL__SIZE_ERROR), 0);
	return id;
}

Test(store_edges, error_objects_with_odd_payloads_read_as_a_failed_task)
{
	struct shoal_store *s = tu_store(MiB);
	struct {
		int32_t code;
		char text[12];
	} positive = {5, "not ours"}, ours = {SHOAL_EWORKERDIED, "worker"},
	  low = {-4100, "too low"};
	shoal_id shrt = error_object(s, "ab", 2);
	shoal_id pos = error_object(s, &positive, sizeof(positive));
	shoal_id own = error_object(s, &ours, sizeof(ours));
	shoal_id lo = error_object(s, &low, sizeof(low));
	struct shoal_view v;
	char buf[32];

	tu_assert_rc(shoal_get(s, shrt, 0, &v), SHOAL_ETASK);
	cr_assert_null(v.data);
	tu_assert_rc(shoal_get(s, pos, 0, &v), SHOAL_ETASK);
	tu_assert_rc(shoal_get(s, lo, 0, &v), SHOAL_ETASK);
	tu_assert_rc(shoal_get(s, own, 0, &v), SHOAL_EWORKERDIED);
	/* a payload shorter than a code has an empty message */
	memset(buf, 'z', sizeof(buf));
	tu_assert_rc(shoal_error_message(s, shrt, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "");
	tu_assert_rc(shoal_error_message(s, own, buf, 4), 12);
	cr_assert_str_eq(buf, "wor");
	/* nothing stays pinned by the failed gets */
	cr_assert_eq(tu_info(s, shrt).pins, 0);
	cr_assert_eq(tu_info(s, pos).pins, 0);
	cr_assert_eq(tu_info(s, own).pins, 0);
	cr_assert_eq(tu_info(s, lo).pins, 0);
	/* not an error object, not sealed, not there */
	{
		shoal_id plain = tu_id(1, 1), unsealed = tu_id(1, 2);
		void *data;

		tu_assert_rc(tu_put(s, plain, 10, 1, 0), 0);
		tu_assert_rc(shoal_error_message(s, plain, buf, sizeof(buf)),
			     -ENOMSG);
		tu_assert_rc(shoal_create(s, unsealed, 10, NULL, 0, 0, &data), 0);
		tu_assert_rc(shoal_error_message(s, unsealed, buf, sizeof(buf)),
			     -EAGAIN);
		tu_assert_rc(shoal_error_message(s, tu_id(1, 3), buf, sizeof(buf)),
			     -ENOENT);
		tu_assert_rc(shoal_abort(s, unsealed), 0);
		cr_assert_eq(tu_info(s, plain).pins, 0);
	}
	shoal_store_close(s);
}

Test(store_edges, wait_counts_sealed_and_gone_objects_as_ready)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id sealed = tu_id(1, 1), unsealed = tu_id(1, 2), deleted = tu_id(1, 3),
		 absent = tu_id(1, 4);
	shoal_id ids[4] = {sealed, unsealed, deleted, absent};
	uint8_t ready[4];
	void *data;

	tu_assert_rc(tu_put(s, sealed, 10, 1, 0), 0);
	tu_assert_rc(shoal_create(s, unsealed, 10, NULL, 0, 0, &data), 0);
	tu_assert_rc(tu_put(s, deleted, 10, 3, 0), 0);
	tu_assert_rc(shoal_drop(s, deleted), 0);
	tu_assert_rc(shoal_delete(s, deleted), 0);
	memset(ready, 7, sizeof(ready));
	tu_assert_rc(shoal_wait(s, ids, 4, 4, 0, ready), 2);
	cr_assert_eq(ready[0], 1);
	cr_assert_eq(ready[1], 0);
	cr_assert_eq(ready[2], 1);
	cr_assert_eq(ready[3], 0);
	/* enough ready already: no wait even with a long timeout */
	tu_assert_rc(shoal_wait(s, ids, 4, 2, 60000, ready), 2);
	tu_assert_rc(shoal_wait(s, ids, 0, 0, 60000, ready), 0);
	/* no IDs: the arrays may be NULL (only n > 0 needs them) */
	tu_assert_rc(shoal_wait(s, NULL, 0, 0, 0, NULL), 0);
	tu_assert_rc(shoal_get_many(s, NULL, 0, 0, NULL), 0);
	tu_assert_rc(shoal_abort(s, unsealed), 0);
	check_sane(s);
	shoal_store_close(s);
}

/* ------------------------------------------------------------------ */
/* Processes.                                                          */

Test(store_edges, start_time_of_no_process_a_zombie_and_a_gone_one_is_zero)
{
	pid_t child;
	siginfo_t si;

	cr_assert_eq(shoal__proc_start_time(0), 0);
	cr_assert_eq(shoal__proc_start_time(-1), 0);
	cr_assert_neq(shoal__proc_start_time(getpid()), 0);
	child = tu_fork();
	if (child == 0)
		_exit(0);
	/* ended, not reaped: a zombie */
	memset(&si, 0, sizeof(si));
	cr_assert_eq(waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT), 0);
	cr_assert_eq(shoal__proc_start_time(child), 0, "a zombie looked alive");
	tu_assert_rc(tu_wait_result(child), 0);
	cr_assert_eq(shoal__proc_start_time(child), 0, "a reaped pid looked alive");
}

Test(store_edges, the_death_test_of_a_process_slot)
{
	struct shoal_store *s = tu_store(MiB);
	int ready[2], quit[2];
	uint32_t free_slot = s->slot == 0 ? 1 : 0;
	uint32_t slot;
	pid_t child;

	cr_assert_not(shoal__proc_dead(s, s->slot), "this process looked dead");
	cr_assert_not(shoal__proc_dead(s, free_slot), "a free slot looked dead");
	cr_assert_not(shoal__proc_dead(s, s->geo.max_procs));
	cr_assert_not(shoal__proc_dead(s, UINT32_MAX));
	/* a live process in another slot, then the same one killed */
	tu_pipe(ready);
	tu_pipe(quit);
	child = tu_fork();
	if (child == 0) {
		struct shoal_store *c = NULL;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0,
			       10);
		tu_child_write_byte(ready[1], (char)c->slot);
		tu_child_read_byte(quit[0]);
		_exit(0);
	}
	slot = (uint8_t)tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS);
	cr_assert_neq(slot, s->slot);
	cr_assert_not(shoal__proc_dead(s, slot), "a live process looked dead");
	cr_assert_eq(tu_stats(s).processes, 2);
	tu_kill(child);
	cr_assert(shoal__proc_dead(s, slot), "a killed process looked alive");
	tu_assert_rc(shoal_store_reap(s), 1);
	cr_assert_not(shoal__proc_dead(s, slot), "a reaped (free) slot");
	cr_assert_eq(tu_stats(s).processes, 1);
	check_sane(s);
	shoal_store_close(s);
}
Test(store_edges, a_drop_finds_the_entry_of_the_id_this_process_holds)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id id = tu_id(1, 1);
	struct shoal_view v;

	/* deleted while held, created again, deleted again while held */
	tu_assert_rc(tu_put(s, id, 100, 1, 0), 0);
	tu_assert_rc(shoal_delete(s, id), 0);
	tu_assert_rc(tu_put(s, id, 200, 2, 0), 0);
	tu_assert_rc(shoal_delete(s, id), 0);
	tu_assert_rc(shoal_get(s, id, 0, &v), SHOAL_EDELETED);
	cr_assert_eq(s->ledger_used, 2, "one hold on each tombstone");
	/* this process holds both: each drop lets go of one */
	tu_assert_rc(shoal_drop(s, id), 0);
	tu_assert_rc(shoal_drop(s, id), 0);
	tu_assert_rc(shoal_drop(s, id), -ENOENT);
	cr_assert_eq(s->ledger_used, 0, "a hold on a tombstone is stuck");

	/* a tombstone held, and a live entry of the ID again: the live
	 * entry's hold goes first, then the tombstone's */
	tu_assert_rc(tu_put(s, id, 300, 3, 0), 0);
	tu_assert_rc(shoal_delete(s, id), 0);
	tu_assert_rc(tu_put(s, id, 400, 4, 0), 0);
	tu_assert_rc(shoal_drop(s, id), 0);
	cr_assert_eq(tu_info(s, id).holds, 0, "the live entry's hold stayed");
	tu_assert_rc(shoal_drop(s, id), 0);
	tu_assert_rc(shoal_drop(s, id), -ENOENT);
	cr_assert_eq(s->ledger_used, 0, "a hold on a tombstone is stuck");
	tu_assert_rc(tu_get_check(s, id, 400, 4, 0), 0);
	check_sane(s);
	shoal_store_close(s);
}

/*
 * A directory stripe lock scribbled on (issue 9): a word that names no
 * process slot, or names this process's own, fails the create at once
 * with SHOAL_EBADSEGMENT; one that names a live process that never lets
 * go fails it at its timeout with -ETIMEDOUT (at least a second, a try
 * too: a holder may be off its CPU that long).  Before,
 * the create spun for ever in all three.  Nothing is left behind: once
 * the word is clear, the same ID is created, and the counters agree.
 */
Test(store_edges, a_scribbled_stripe_lock_fails_a_create_instead_of_hanging)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id id = shoal_id_next(s);
	uint32_t home = shoal__dir_home(s, id);
	_Atomic uint32_t *w = &s->stripes[(home & s->dir_mask) / SHOAL__STRIPE_SLOTS];
	struct shoal_store_stats before = tu_stats(s);
	int to_test[2], to_child[2];
	uint32_t other;
	int64_t t0;
	pid_t pid;

	atomic_store(w, s->geo.max_procs + 7);
	tu_assert_rc(shoal_put_with_id(s, id, "x", 1, NULL, 0, -1), SHOAL_EBADSEGMENT,
		     "a lock naming no slot");
	atomic_store(w, s->slot + 1);
	tu_assert_rc(shoal_put_with_id(s, id, "x", 1, NULL, 0, -1), SHOAL_EBADSEGMENT,
		     "a lock naming this process");

	tu_pipe(to_test);
	tu_pipe(to_child);
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_store *c;

		if (shoal_store_attach_fd(shoal_store_fd(s), &c))
			_exit(1);
		if (write(to_test[1], &c->slot, sizeof c->slot) != sizeof c->slot)
			_exit(2);
		tu_child_read_byte(to_child[0]);
		_exit(0);
	}
	cr_assert_eq(read(to_test[0], &other, sizeof other), (ssize_t)sizeof other);
	atomic_store(w, other + 1); /* alive, and not holding it */
	t0 = tu_now_ms();
	tu_assert_rc(shoal_put_with_id(s, id, "x", 1, NULL, 0, 100), -ETIMEDOUT,
		     "a lock naming a live process, timeout 100 ms");
	cr_assert(tu_now_ms() - t0 >= 1000 && tu_now_ms() - t0 < 5000,
		  "the lock's wait took %lld ms", (long long)(tu_now_ms() - t0));
	tu_assert_rc(shoal_put_with_id(s, id, "x", 1, NULL, 0, 0), -ETIMEDOUT,
		     "the same, a try");
	tu_write_byte(to_child[1], 'g');
	cr_assert_eq(tu_wait_exit(pid), 0);

	atomic_store(w, 0);
	shoal_store_reap(s);
	cr_assert_eq(tu_stats(s).objects, before.objects);
	cr_assert_eq(tu_stats(s).bytes_used, before.bytes_used);
	tu_assert_rc(shoal_put_with_id(s, id, "x", 1, NULL, 0, 0), 0);
	tu_assert_rc(shoal_drop(s, id), 0);
	shoal_store_close(s);
}
