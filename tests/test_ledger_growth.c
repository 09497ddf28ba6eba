/* SPDX-License-Identifier: MIT */
/*
 * tests/test_ledger_growth.c - a process's ledger is sized by need (issue
 * 13, "no hard walls"): 200 k live refs in one process, with the default
 * options, in a plain store and through a runtime; a process killed
 * holding them is reaped; and the ledgers' larger tables cost only what
 * processes needed (store/ledger.c).
 *
 * The kill of a process in the middle of a growth is the crash points'
 * (tests/test_crash_points.c, scenario grow: LEDGER_GROW_COPIED and
 * LEDGER_GROW_SWITCHED, with every check of crash_check.h after the reap).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <shoal/shoal.h>

#include "internal.h"
#include "rtutil.h"
#include "testutil.h"

TestSuite(ledger_growth, .init = tu_setup, .fini = tu_teardown);

#define NREFS 200000u
#define MiB (1024u * 1024u)

static void lg_value(uint32_t i, uint64_t v[2])
{
	v[0] = 0x5eed0000ull + i;
	v[1] = ~(uint64_t)i;
}

static void lg_put(struct shoal_store *s, uint32_t i, shoal_id *id)
{
	uint64_t v[2];
	int r;

	lg_value(i, v);
	r = shoal_put(s, v, sizeof v, 0, id);
	cr_assert_eq(r, 0, "put %u: %s", i, shoal_strerror(r));
}

static void lg_get_check(struct shoal_store *s, uint32_t i, shoal_id id)
{
	struct shoal_view v;
	uint64_t want[2];
	int r = shoal_get(s, id, 0, &v);

	cr_assert_eq(r, 0, "get %u: %s", i, shoal_strerror(r));
	lg_value(i, want);
	cr_assert_eq(v.size, sizeof want, "object %u size", i);
	cr_assert(!memcmp(v.data, want, sizeof want), "object %u bytes", i);
	cr_assert_eq(shoal_release(s, &v), 0);
}

static double lg_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* ns per (get + release) and per (hold + drop) of objects 0..n-1, which
 * the caller holds already (a record found, not a new one). */
static void lg_cost(struct shoal_store *s, const shoal_id *ids, uint32_t n,
		    uint32_t held)
{
	double t0, t1, t2;
	struct shoal_view v;

	t0 = lg_now();
	for (int rep = 0; rep < 10; rep++)
		for (uint32_t i = 0; i < n; i++) {
			cr_assert_eq(shoal_get(s, ids[i], 0, &v), 0);
			cr_assert_eq(shoal_release(s, &v), 0);
		}
	t1 = lg_now();
	for (int rep = 0; rep < 10; rep++)
		for (uint32_t i = 0; i < n; i++) {
			cr_assert_eq(shoal_hold(s, ids[i]), 0);
			cr_assert_eq(shoal_drop(s, ids[i]), 0);
		}
	t2 = lg_now();
	fprintf(stderr, "ledger_growth: %u held, level %u: get+release %.0f ns, "
		"hold+drop %.0f ns\n", held, s->ledger_level,
		(t1 - t0) * 1e9 / (10.0 * n), (t2 - t1) * 1e9 / (10.0 * n));
}

/* Bytes of the segment that are backed by memory. */
static uint64_t lg_resident(struct shoal_store *s)
{
	struct stat st;

	cr_assert_eq(fstat(shoal_store_fd(s), &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

/* The entry of id has no pins and no holds left. */
static bool lg_unheld(struct shoal_store *s, shoal_id id)
{
	uint64_t c;

	return shoal__dir_lookup(s, id, &c) >= 0 && !SHOAL__CTL_PINS(c) &&
	       !SHOAL__CTL_HOLDS(c);
}

Test(ledger_growth, two_hundred_k_live_refs_with_the_default_options,
     .timeout = 240)
{
	shoal_id *ids = calloc(NREFS, sizeof *ids);
	struct shoal_store *s = NULL;
	double t0;

	cr_assert_not_null(ids);
	tu_assert_rc(shoal_store_create(NULL, NULL, &s), 0);
	for (uint32_t i = 0; i < 1000; i++)
		lg_put(s, i, &ids[i]);
	lg_cost(s, ids, 1000, 1000);
	t0 = lg_now();
	for (uint32_t i = 1000; i < NREFS; i++)
		lg_put(s, i, &ids[i]); /* each keeps its creator's hold */
	fprintf(stderr, "ledger_growth: 199 k puts, holds kept: %.0f ns each\n",
		(lg_now() - t0) * 1e9 / (NREFS - 1000));
	/* a second hold of each: found in the ledger, no new record */
	for (uint32_t i = 0; i < NREFS; i++)
		tu_assert_rc(shoal_hold(s, ids[i]), 0, "hold %u", i);
	lg_cost(s, ids, 1000, NREFS);
	for (uint32_t i = 0; i < NREFS; i++)
		lg_get_check(s, i, ids[i]);
	cr_assert_eq(tu_stats(s).objects, NREFS);
	for (uint32_t i = 0; i < NREFS; i++) {
		tu_assert_rc(shoal_drop(s, ids[i]), 0, "drop %u", i);
		tu_assert_rc(shoal_drop(s, ids[i]), 0, "drop %u", i);
		cr_assert(lg_unheld(s, ids[i]), "object %u still held", i);
	}
	cr_assert_eq(s->ledger_used, 0);
	shoal_store_close(s);
	free(ids);
}

/* A cap asked for is still a cap (ELEDGERFULL past it), and growing
 * into it works on the way. */
Test(ledger_growth, a_nonzero_ledger_slots_is_a_cap)
{
	struct shoal_store_options o = tu_opts(16 * MiB);
	struct shoal_store *s = NULL;
	shoal_id id;
	uint32_t i;

	o.max_objects = 4096;
	o.ledger_slots = 1000;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	for (i = 0; i < 1024; i++) /* table 2048: half full at 1024 */
		tu_assert_rc(shoal_put(s, "x", 2, 0, &id), 0, "put %u", i);
	tu_assert_rc(shoal_put(s, "x", 2, 0, &id), SHOAL_ELEDGERFULL);
	cr_assert_eq(s->ledger_mask + 1, 2048);
	shoal_store_close(s);
}

Test(ledger_growth, a_runtime_driver_keeps_two_hundred_k_refs, .timeout = 300)
{
	struct shoal_registry *reg = NULL;
	struct shoal_runtime *rt = NULL;
	shoal_id *ids = calloc(NREFS, sizeof *ids);
	struct shoal_store *s;

	cr_assert_not_null(ids);
	tu_assert_rc(shoal_registry_open(&reg), 0);
	tu_assert_rc(shoal_register_task(reg, "add", rt_task_add, NULL), 0);
	tu_assert_rc(shoal_runtime_start(reg, NULL, &rt), 0);
	s = shoal_runtime_store(rt);
	for (uint32_t i = 0; i < NREFS; i++)
		lg_put(s, i, &ids[i]);
	for (uint32_t i = 0; i < NREFS; i++)
		lg_get_check(s, i, ids[i]);
	for (uint32_t i = 0; i < NREFS; i++)
		tu_assert_rc(shoal_drop(s, ids[i]), 0, "drop %u", i);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
	free(ids);
}

/* A child attaches, holds every object of ids (n of them), says so, and
 * waits to be killed. */
static pid_t lg_holder(struct shoal_store *s, const shoal_id *ids, uint32_t n,
		       int fd)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, 2);
		for (uint32_t i = 0; i < n; i++)
			TU_CHILD_CHECK(shoal_hold(c, ids[i]) == 0, 3);
		tu_child_write_byte(fd, 'h');
		for (;;)
			pause();
	}
	return pid;
}

static void lg_kill_holder(struct shoal_store *s, const shoal_id *ids,
			   uint32_t n)
{
	int p[2];
	pid_t pid;

	tu_pipe(p);
	pid = lg_holder(s, ids, n, p[1]);
	close(p[1]); /* a child that fails closes the pipe */
	cr_assert_eq(tu_read_byte(p[0], 60000), 'h', "the holder never held");
	close(p[0]);
	tu_kill(pid);
	cr_assert_eq(shoal_store_reap(s), 1, "one dead process reaped");
}

Test(ledger_growth, a_killed_holder_of_two_hundred_k_refs_is_reaped,
     .timeout = 240)
{
	shoal_id *ids = calloc(NREFS, sizeof *ids);
	struct shoal_store *s = NULL;
	uint64_t before;
	double t0;

	cr_assert_not_null(ids);
	tu_assert_rc(shoal_store_create(NULL, NULL, &s), 0);
	for (uint32_t i = 0; i < NREFS; i++) {
		lg_put(s, i, &ids[i]);
		tu_assert_rc(shoal_drop(s, ids[i]), 0);
	}
	before = lg_resident(s);
	t0 = lg_now();
	lg_kill_holder(s, ids, NREFS);
	fprintf(stderr, "ledger_growth: hold 200 k in a child, kill, reap: "
		"%.2f s; the child's ledger took %llu KiB\n", lg_now() - t0,
		(unsigned long long)((lg_resident(s) - before) >> 10));
	for (uint32_t i = 0; i < NREFS; i++) {
		cr_assert(lg_unheld(s, ids[i]), "object %u still held", i);
		lg_get_check(s, i, ids[i]);
	}
	/* unheld: a delete frees each at once */
	for (uint32_t i = 0; i < NREFS; i++)
		tu_assert_rc(shoal_delete(s, ids[i]), 0);
	cr_assert_eq(tu_stats(s).objects, 0);
	shoal_store_close(s);
	free(ids);
}

/*
 * Memory.  The ledgers' larger tables are not reserved at create (with
 * the defaults they would be 64 x 8 MiB), and children that each held a
 * few hundred refs and were killed and reaped cost only the tables they
 * grew into: a reap reads and the clear writes only a slot's table in
 * use, never another slot's nor a table nobody used.
 */
Test(ledger_growth, ledgers_cost_only_what_their_processes_needed)
{
	const char *name = tu_shm_name("lgmem");
	struct shoal_store *s = NULL;
	shoal_id ids[300];
	uint64_t at_create, seg;
	struct stat st;

	tu_assert_rc(shoal_store_create(name, NULL, &s), 0);
	for (uint32_t i = 0; i < 300; i++) {
		lg_put(s, i, &ids[i]);
		tu_assert_rc(shoal_drop(s, ids[i]), 0);
	}
	cr_assert_eq(fstat(shoal_store_fd(s), &st), 0);
	seg = (uint64_t)st.st_size;
	at_create = lg_resident(s);
	cr_assert_lt(at_create, seg / 2, "%llu of %llu bytes resident at create",
		     (unsigned long long)at_create, (unsigned long long)seg);
	for (int k = 0; k < 8; k++)
		lg_kill_holder(s, ids, 300); /* 300 records: level 4 */
	/* Each child's tables of levels 1 to 4 (1 + 2 + 4 + 8 KiB, in its
	 * slot's part of the region): the same slot each time, or another. */
	cr_assert_leq(lg_resident(s) - at_create, 8 * 8 * 4096ull,
		      "the reaped ledgers took %llu bytes",
		      (unsigned long long)(lg_resident(s) - at_create));
	for (uint32_t i = 0; i < 300; i++)
		cr_assert(lg_unheld(s, ids[i]), "object %u still held", i);
	shoal_store_close(s);
	shoal_store_unlink(name);
}
