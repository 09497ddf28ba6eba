/* SPDX-License-Identifier: MIT */
/*
 * tests/test_crash_points.c - every crash point of base/crash.h, visited:
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
 *      point armed (one, stalled_ref, holds a holder after its CAS with
 *      ptrace past a recount's bound); the scenario requires that the
 *      armed child died of SIGKILL (it reached the point), not that it
 *      returned;
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
#include "stop_point.h"
#include "live_slot.h"

#include <sys/socket.h>
#include <sys/syscall.h>

TestSuite(crash_points, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

#define KiB 1024u
#define CP_WITNESSES 6
#define CP_PINNED 2
#define CP_CACHED 4
#define CP_EXTRA 4

static const size_t cp_witness_size[CP_WITNESSES] = {
	100, 5000, 20000, 8, 64, 70 * KiB,
};

struct cp_world {
	struct shoal_store *s;
	shoal_id w[CP_WITNESSES];
	struct shoal_view pin[CP_PINNED];
	shoal_id cached[CP_CACHED];
	shoal_id extra[CP_EXTRA];   /* promises the test made and holds */
	bool aborted[CP_EXTRA];     /* ... and aborted itself */
	int nextra;
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
	memset(w, 0, sizeof *w);
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

typedef void cp_child_fn(struct shoal_store *c, struct cp_world *w, int fd);

/* Forks a child that attaches, is armed with `point` at its n-th pass
 * (SHOAL__CP_COUNT: not armed) and runs fn; it exits 0 if fn returns.
 * fd: the child's end of a pipe to the test (-1: none). */
static pid_t cp_child(struct cp_world *w, unsigned point, uint32_t n,
		      cp_child_fn *fn, int fd)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		int r = shoal_store_attach_fd(shoal_store_fd(w->s), &c);

		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		shoal__crash_arm(&c->crash, point, n);
		fn(c, w, fd);
		_exit(0);
	}
	return pid;
}

/* True if the child died of SIGKILL (it reached its armed point), false if
 * it returned; anything else (a failed check, a hang) fails the test. */
static bool cp_died(pid_t pid, const char *what)
{
	int st = tu_wait_status(pid, TU_CHILD_DEADLINE_MS);

	cr_assert_neq(st, -1, "%s: the child hung", what);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		return true;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "%s: the child failed (exit %d, signal %d)", what,
		  WIFEXITED(st) ? WEXITSTATUS(st) : -1,
		  WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return false;
}

static bool cp_run_child(struct cp_world *w, unsigned point, cp_child_fn *fn)
{
	return cp_died(cp_child(w, point, 1, fn, -1), shoal__crash_name(point));
}

/* A promise (an unsealed entry with no block, held by the test) for a
 * child to fill. */
static shoal_id cp_promise(struct cp_world *w)
{
	shoal_id id = shoal_id_next(w->s);

	cr_assert_eq(shoal__obj_promise(w->s, id, true, 0), 0);
	cr_assert_lt(w->nextra, CP_EXTRA);
	w->extra[w->nextra++] = id;
	return id;
}

/* ------------------------------------------------------------------ */
/* What children do                                                    */

/* Pins, holds, releases and drops every witness. */
static void cp_do_refs(struct shoal_store *c, struct cp_world *w, int fd)
{
	(void)fd;
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

static int cp_child_put(struct shoal_store *c, size_t size, shoal_id *id)
{
	static uint8_t buf[70 * KiB];

	tu_fill(buf, size, size);
	return shoal_put(c, buf, size, 0, id);
}

/* Puts objects of each kind of block, then fills the store (evicting the
 * test's unheld objects), then drops everything. */
static void cp_do_puts(struct shoal_store *c, struct cp_world *w, int fd)
{
	static const size_t sizes[] = {100, 5000, 20000, 70 * KiB, 8};
	shoal_id ids[64];
	int n = 0;

	(void)w;
	(void)fd;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		TU_CHILD_CHECK(cp_child_put(c, sizes[i], &ids[n++]) == 0, 20);
	while (n < 64 && cp_child_put(c, 60 * KiB, &ids[n]) == 0)
		n++;
	for (int i = 0; i < n; i++)
		TU_CHILD_CHECK(shoal_drop(c, ids[i]) == 0, 21);
}

/* Deletes a pinned object (the release ends it) and an unpinned one. */
static void cp_do_deletes(struct shoal_store *c, struct cp_world *w, int fd)
{
	shoal_id a, b;
	struct shoal_view v;

	(void)w;
	(void)fd;
	TU_CHILD_CHECK(cp_child_put(c, 5000, &a) == 0, 30);
	TU_CHILD_CHECK(cp_child_put(c, 70 * KiB, &b) == 0, 31);
	TU_CHILD_CHECK(shoal_get(c, a, 0, &v) == 0, 32);
	TU_CHILD_CHECK(shoal_delete(c, a) == 0, 33);
	TU_CHILD_CHECK(shoal_delete(c, b) == 0, 34);
	TU_CHILD_CHECK(shoal_release(c, &v) == 0, 35);
	TU_CHILD_CHECK(shoal_drop(c, a) == 0, 36);
	TU_CHILD_CHECK(shoal_drop(c, b) == 0, 37);
}

/* Aborts: a small object, a large one with a second hold (a tombstone
 * until that hold is dropped), an empty one. */
static void cp_do_aborts(struct shoal_store *c, struct cp_world *w, int fd)
{
	static const size_t sizes[] = {100, 70 * KiB, 0};
	void *buf;

	(void)w;
	(void)fd;
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		shoal_id id = shoal_id_next(c);

		TU_CHILD_CHECK(shoal_create(c, id, sizes[i], NULL, 0, 0, &buf) == 0, 40);
		if (i == 1)
			TU_CHILD_CHECK(shoal_hold(c, id) == 0, 41);
		TU_CHILD_CHECK(shoal_abort(c, id) == 0, 42);
		if (i == 1)
			TU_CHILD_CHECK(shoal_drop(c, id) == 0, 43);
	}
}

static void cp_fill_one(struct shoal_store *c, shoal_id id, size_t size)
{
	struct shoal__fill f;
	void *buf;

	TU_CHILD_CHECK(shoal__fill_begin(c, id, size, 0, &f, &buf) == 0, 50);
	tu_fill(buf, size, size);
	TU_CHILD_CHECK(shoal__fill_end(c, &f, 0) == 0, 51);
}

/* Fills the test's promises extra[0..3): inline, small, large. */
static void cp_do_fills(struct shoal_store *c, struct cp_world *w, int fd)
{
	static const size_t sizes[] = {5000, 8, 70 * KiB};

	(void)fd;
	for (int i = 0; i < 3; i++)
		cp_fill_one(c, w->extra[i], sizes[i]);
}

/* Begins a fill of extra[0], lets the test abort the promise, ends it. */
static void cp_do_fill_abort(struct shoal_store *c, struct cp_world *w, int fd)
{
	struct shoal__fill f;
	void *buf;

	TU_CHILD_CHECK(shoal__fill_begin(c, w->extra[0], 5000, 0, &f, &buf) == 0, 60);
	tu_child_write_byte(fd, 'f');
	TU_CHILD_CHECK(tu_child_read_byte(fd) == 'a', 61);
	TU_CHILD_CHECK(shoal__fill_end(c, &f, 0) == -ENOENT, 62);
}

/* Holds, pins, half a fill and an unsealed object, then closes: the
 * close gives everything back (proc.c on its own slot). */
static void cp_do_close(struct shoal_store *c, struct cp_world *w, int fd)
{
	struct shoal__fill f;
	struct shoal_view v;
	shoal_id x;
	void *buf;

	(void)fd;
	TU_CHILD_CHECK(shoal_hold(c, w->w[0]) == 0, 70);
	TU_CHILD_CHECK(shoal_get(c, w->w[1], 0, &v) == 0, 71);
	TU_CHILD_CHECK(shoal__fill_begin(c, w->extra[0], 5000, 0, &f, &buf) == 0, 72);
	TU_CHILD_CHECK(cp_child_put(c, 3000, &x) == 0, 73);
	TU_CHILD_CHECK(shoal_create(c, shoal_id_next(c), 200, NULL, 0, 0, &buf) == 0, 74);
	shoal_store_close(c);
}

/* The ledger slot an entry's record goes to first (ledger.c's hash). */
static uint32_t cp_ledger_home(const struct shoal_store *c, uint32_t idx)
{
	return (idx * 0x9e3779b1u) & c->ledger_mask;
}

static uint32_t cp_entry_of(struct shoal_store *c, shoal_id id)
{
	uint64_t ctl;
	int idx = shoal__dir_lookup(c, id, &ctl);

	TU_CHILD_CHECK(idx >= 0, 103);
	return (uint32_t)idx;
}

/* Makes two of its ledger records collide: an object K of its own whose
 * record takes witness 0's home slot, then a hold on witness 0 (its record
 * one slot further); dropping K shifts witness 0's record back (ledger.c),
 * which for a moment is in two slots. */
static void cp_do_ledger(struct shoal_store *c, struct cp_world *w, int fd)
{
	uint32_t home = cp_ledger_home(c, cp_entry_of(c, w->w[0]));
	shoal_id k;
	int tries = 0;

	(void)fd;
	for (;;) { /* random IDs: random directory slots */
		TU_CHILD_CHECK(++tries < 20000, 100);
		TU_CHILD_CHECK(shoal_id_random(&k) == 0, 107);
		TU_CHILD_CHECK(shoal_put_with_id(c, k, "k", 2, NULL, 0, 0) == 0, 101);
		if (cp_ledger_home(c, cp_entry_of(c, k)) == home)
			break;
		TU_CHILD_CHECK(shoal_drop(c, k) == 0, 102);
	}
	TU_CHILD_CHECK(shoal_hold(c, w->w[0]) == 0, 104);
	TU_CHILD_CHECK(shoal_drop(c, k) == 0, 105);
	TU_CHILD_CHECK(shoal_drop(c, w->w[0]) == 0, 106);
}

/* Puts objects and keeps their creation holds, until its ledger has
 * doubled past the base table (ledger.c: 64 records, at most half full):
 * the growth copies every record into the next level's table. */
static void cp_do_grow(struct shoal_store *c, struct cp_world *w, int fd)
{
	(void)w;
	(void)fd;
	for (int i = 0; i < 40; i++) {
		shoal_id k;

		TU_CHILD_CHECK(shoal_put(c, "g", 2, 0, &k) == 0, 108);
	}
	TU_CHILD_CHECK(c->ledger_level == 1, 109);
}

/* Creates an object, tells the test its ID, waits for the word and seals
 * it: the seal wakes a getter blocked on it (waiters.c). */
static void cp_do_seal_wake(struct shoal_store *c, struct cp_world *w, int fd)
{
	shoal_id x = shoal_id_next(c);
	void *buf;

	(void)w;
	TU_CHILD_CHECK(shoal_create(c, x, 5000, NULL, 0, 0, &buf) == 0, 110);
	tu_fill(buf, 5000, 11);
	TU_CHILD_CHECK(write(fd, &x, sizeof x) == (ssize_t)sizeof x, 111);
	TU_CHILD_CHECK(tu_child_read_byte(fd) == 's', 112);
	TU_CHILD_CHECK(shoal_seal(c, x) == 0, 113);
	TU_CHILD_CHECK(shoal_drop(c, x) == 0, 114);
}

/* A victim for the reapers: holds and pins witnesses, has half a fill,
 * an unsealed object, an unsealed one it dropped its hold on (an orphan:
 * its reaper scans the directory, proc.c step 5), and dies publishing a
 * third one (CREATE intent). */
static void cp_do_victim_create(struct shoal_store *c, struct cp_world *w,
				int fd)
{
	struct shoal__fill f;
	struct shoal_view v;
	shoal_id x;
	void *buf;

	(void)fd;
	for (int i = 0; i < 3; i++)
		TU_CHILD_CHECK(shoal_hold(c, w->w[i]) == 0, 80);
	TU_CHILD_CHECK(shoal_get(c, w->w[3], 0, &v) == 0, 81);
	TU_CHILD_CHECK(shoal__fill_begin(c, w->extra[0], 5000, 0, &f, &buf) == 0, 82);
	TU_CHILD_CHECK(shoal_create(c, shoal_id_next(c), 200, NULL, 0, 0, &buf) == 0, 83);
	x = shoal_id_next(c);
	TU_CHILD_CHECK(shoal_create(c, x, 100, NULL, 0, 0, &buf) == 0, 85);
	TU_CHILD_CHECK(shoal_drop(c, x) == 0, 86);
	TU_CHILD_CHECK(cp_child_put(c, 3000, &x) == 0, 84); /* dies in here */
}

/* A victim that dies in the middle of a count change (REF intent). */
static void cp_do_victim_ref(struct shoal_store *c, struct cp_world *w, int fd)
{
	struct shoal_view v;

	(void)fd;
	for (int i = 0; i < 3; i++)
		TU_CHILD_CHECK(shoal_hold(c, w->w[i]) == 0, 90);
	TU_CHILD_CHECK(shoal_get(c, w->w[3], 0, &v) == 0, 91);
	TU_CHILD_CHECK(shoal_hold(c, w->w[4]) == 0, 92); /* dies in here */
}

/* A reaper: armed from the environment before it attaches (attach reaps),
 * then reaps again explicitly and closes. */
static bool cp_reaper(struct cp_world *w, unsigned point)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		int r;

		if (point < SHOAL__CP_COUNT)
			setenv("SHOAL_CRASH", shoal__crash_name(point), 1);
		r = shoal_store_attach_fd(shoal_store_fd(w->s), &c);
		TU_CHILD_CHECK(r == 0, tu_err_to_exit(r));
		shoal_store_reap(c);
		shoal_store_close(c);
		_exit(0);
	}
	return cp_died(pid, shoal__crash_name(point));
}

/* ------------------------------------------------------------------ */
/* Scenarios: one per kind named in SHOAL__CRASH_POINTS, and a few more
 * that the matrix runs with every point.  Each returns true if the armed
 * process died at the point. */

static bool cp_scenario_ref(struct cp_world *w, unsigned point)
{
	return cp_run_child(w, point, cp_do_refs);
}

static bool cp_scenario_ledger(struct cp_world *w, unsigned point)
{
	return cp_run_child(w, point, cp_do_ledger);
}

static bool cp_scenario_grow(struct cp_world *w, unsigned point)
{
	return cp_run_child(w, point, cp_do_grow);
}

static bool cp_scenario_put(struct cp_world *w, unsigned point)
{
	return cp_run_child(w, point, cp_do_puts);
}

static bool cp_scenario_delete(struct cp_world *w, unsigned point)
{
	return cp_run_child(w, point, cp_do_deletes);
}

static bool cp_scenario_abort(struct cp_world *w, unsigned point)
{
	return cp_run_child(w, point, cp_do_aborts);
}

static bool cp_scenario_fill(struct cp_world *w, unsigned point)
{
	for (int i = 0; i < 3; i++)
		cp_promise(w);
	return cp_run_child(w, point, cp_do_fills);
}

/* Reads one byte if the child is alive to send it. */
static bool cp_read_byte(int fd, char *c)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	cr_assert_gt(poll(&p, 1, TU_CHILD_DEADLINE_MS), 0, "the child is silent");
	return read(fd, c, 1) == 1;
}

static bool cp_scenario_fill_abort(struct cp_world *w, unsigned point)
{
	int sv[2];
	pid_t pid;
	char c;

	cp_promise(w);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = cp_child(w, point, 1, cp_do_fill_abort, sv[1]);
	close(sv[1]);
	if (cp_read_byte(sv[0], &c)) {
		cr_assert_eq(shoal_abort(w->s, w->extra[0]), 0);
		w->aborted[0] = true;
		(void)!write(sv[0], "a", 1);
	}
	close(sv[0]);
	return cp_died(pid, shoal__crash_name(point));
}

/* A getter blocked on x: it must get it, or learn its creator died,
 * whatever happens to the sealer. */
static pid_t cp_blocked_getter(struct cp_world *w, shoal_id x)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		struct shoal_view v;
		int r;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(w->s), &c) == 0, 2);
		r = shoal_get(c, x, 5000, &v);
		TU_CHILD_CHECK(r == 0 || r == SHOAL_EOWNERDIED, 3);
		TU_CHILD_CHECK(r || tu_check(v.data, v.size, 11), 4);
		_exit(0);
	}
	return pid;
}

static bool cp_scenario_seal_wake(struct cp_world *w, unsigned point)
{
	int sv[2];
	pid_t sealer, getter = -1;
	shoal_id x;
	bool died;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	sealer = cp_child(w, point, 1, cp_do_seal_wake, sv[1]);
	close(sv[1]);
	if (cp_read_byte(sv[0], (char *)&x) &&
	    read(sv[0], (char *)&x + 1, sizeof x - 1) == (ssize_t)sizeof x - 1) {
		getter = cp_blocked_getter(w, x);
		cr_assert(tu_wait_sleeping(getter, 5000), "the getter never blocked");
		(void)!write(sv[0], "s", 1);
	}
	close(sv[0]);
	died = cp_died(sealer, shoal__crash_name(point));
	if (getter > 0)
		cr_assert_eq(tu_wait_exit(getter), 0, "the blocked getter");
	return died;
}

static bool cp_scenario_close(struct cp_world *w, unsigned point)
{
	cp_promise(w);
	return cp_run_child(w, point, cp_do_close);
}

/* A victim dies at a fixed point; a reaper armed with `point` reaps it. */
static bool cp_scenario_reap(struct cp_world *w, unsigned point)
{
	cp_promise(w);
	cr_assert(cp_died(cp_child(w, SHOAL__CP_CREATE_PUBLISHED, 3,
				   cp_do_victim_create, -1),
			  "victim"), "the victim did not die publishing");
	return cp_reaper(w, point);
}

static bool cp_scenario_reap_ref(struct cp_world *w, unsigned point)
{
	/* 3 holds and a pin pass REF_CAS first: die at the fifth. */
	cr_assert(cp_died(cp_child(w, SHOAL__CP_REF_CAS, 5, cp_do_victim_ref, -1),
			  "victim"), "the victim did not die in its hold");
	return cp_reaper(w, point);
}

/* A sealer dies before its close, a getter linked on the stack (then
 * stopped: its own slices would reap the sealer first); a reaper armed
 * with `point` closes it in its place, under a pin (store/object/refs.c,
 * shoal__obj_close_sealed), and the test's reap finishes what it left. */
static bool cp_scenario_reap_seal(struct cp_world *w, unsigned point)
{
	int sv[2];
	pid_t sealer, getter = -1;
	shoal_id x;
	bool died = false;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	sealer = cp_child(w, SHOAL__CP_SEAL_SEALED, 1, cp_do_seal_wake, sv[1]);
	close(sv[1]);
	if (cp_read_byte(sv[0], (char *)&x) &&
	    read(sv[0], (char *)&x + 1, sizeof x - 1) == (ssize_t)sizeof x - 1) {
		getter = cp_blocked_getter(w, x);
		cr_assert(tu_wait_sleeping(getter, 5000), "the getter never blocked");
		cr_assert_eq(kill(getter, SIGSTOP), 0);
		(void)!write(sv[0], "s", 1);
	}
	close(sv[0]);
	cr_assert(cp_died(sealer, "victim"), "the victim did not die sealing");
	if (getter > 0) {
		died = cp_reaper(w, point);
		shoal_store_reap(w->s);
		cr_assert_eq(kill(getter, SIGCONT), 0);
		cr_assert_eq(tu_wait_exit(getter), 0, "the blocked getter");
	}
	return died;
}

/* A process that attaches, says so, and stays until it is killed. */
static void cp_do_stay(struct shoal_store *c, struct cp_world *w, int fd)
{
	(void)c;
	(void)w;
	(void)!write(fd, "a", 1);
	for (;;)
		pause();
}

/* Every slot a process may keep taken: the test's, a victim's dead
 * creating and the rest killed attachers' (all attached first, since an
 * attach reaps).  The reaper armed with `point` finds none free: it
 * claims a reserve slot (layout.h), reaps from it, gives it back and
 * takes one of the slots it freed (proc.c, shoal__claim_by_reaping). */
static bool cp_scenario_claim_full(struct cp_world *w, unsigned point)
{
	struct shoal_store_options o = cp_opts();
	pid_t stay[8];
	uint32_t n = o.max_procs - 2;
	int sv[2];

	cr_assert_leq(n, 8);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	for (uint32_t i = 0; i < n; i++) {
		stay[i] = cp_child(w, SHOAL__CP_COUNT, 0, cp_do_stay, sv[1]);
		cr_assert(cp_read_byte(sv[0], &(char){0}), "an attacher");
	}
	close(sv[0]);
	close(sv[1]);
	cp_promise(w);
	cr_assert(cp_died(cp_child(w, SHOAL__CP_CREATE_PUBLISHED, 3,
				   cp_do_victim_create, -1),
			  "victim"), "the victim did not die publishing");
	for (uint32_t i = 0; i < n; i++) {
		cr_assert_eq(kill(stay[i], SIGKILL), 0);
		cr_assert(cp_died(stay[i], "attacher"), "an attacher");
	}
	return cp_reaper(w, point);
}

/* The same, with both reserve slots left to claimers killed as they took
 * them: the reaper armed with `point` takes one over (proc.c,
 * shoal__proc_try_adopt) to reap from it. */
static bool cp_scenario_claim_adopt(struct cp_world *w, unsigned point)
{
	(void)cp_scenario_claim_full(w, SHOAL__CP_CLAIM_RESERVED);
	cr_assert(cp_reaper(w, SHOAL__CP_CLAIM_RESERVED),
		  "the second claimer did not die in its reserve slot");
	return cp_reaper(w, point);
}

/* Holds and drops witness 4, traced (stop_point.h) and armed with point:
 * the holder the scenario below stalls after its CAS. */
static pid_t cp_traced_holder(struct cp_world *w, unsigned point)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;

		sp_child_traceme();
		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(w->s), &c) == 0, 2);
		shoal__crash_arm(&c->crash, point, 1);
		TU_CHILD_CHECK(shoal_hold(c, w->w[4]) == 0, 93);
		TU_CHILD_CHECK(shoal_drop(c, w->w[4]) == 0, 94);
		shoal_store_close(c);
		_exit(0);
	}
	return pid;
}

static void cp_do_hold_w4(struct shoal_store *c, struct cp_world *w, int fd)
{
	(void)fd;
	TU_CHILD_CHECK(shoal_hold(c, w->w[4]) == 0, 95); /* dies in here */
}

/*
 * A holder of witness 4 stopped after its CAS (the test holds it there)
 * while a victim dies in its own hold of it and a reaper recounts it: the
 * recount gives up on the holder after its bound and stamps its change
 * (REPAIR_STAMPED); the holder, let go, finds the stamp and recounts
 * (REF_STAMPED).  Both the holder and the reaper are armed with `point`.
 */
static bool cp_scenario_stalled_ref(struct cp_world *w, unsigned point)
{
	struct sp_tracee t;
	bool died;

	sp_start(&t, cp_traced_holder(w, point));
	if (!sp_wait_at(&t, SHOAL__CP_REF_CAS, 1, TU_CHILD_DEADLINE_MS)) {
		tu_untrack(t.pid); /* reaped by the tracer's waitpid */
		cr_assert(WIFSIGNALED(t.status) && WTERMSIG(t.status) == SIGKILL,
			  "the stalled holder neither stopped nor died");
		return true; /* at its point, before its CAS */
	}
	cr_assert(cp_died(cp_child(w, SHOAL__CP_REF_CAS, 1, cp_do_hold_w4, -1),
			  "victim"), "the victim did not die in its hold");
	died = cp_reaper(w, point);
	sp_detach(&t);
	return cp_died(t.pid, "the stalled holder") || died;
}

static bool (*const cp_scenarios[])(struct cp_world *, unsigned) = {
	cp_scenario_ref,  cp_scenario_ledger,     cp_scenario_put,
	cp_scenario_delete, cp_scenario_grow,
	cp_scenario_abort, cp_scenario_fill,      cp_scenario_fill_abort,
	cp_scenario_close, cp_scenario_reap,      cp_scenario_reap_ref,
	cp_scenario_reap_seal, cp_scenario_claim_full, cp_scenario_claim_adopt,
	cp_scenario_seal_wake, cp_scenario_stalled_ref,
};

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

/* A promise the test made goes: aborted if nobody sealed it, dropped if
 * somebody did. */
static void cp_let_go(struct cp_world *w, int i)
{
	int r;

	if (w->aborted[i])
		return;
	r = shoal_abort(w->s, w->extra[i]);
	if (r == SHOAL_ESEALED)
		r = shoal_drop(w->s, w->extra[i]);
	cr_assert_eq(r, 0, "promise %d: %s", i, shoal_strerror(r));
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
	for (int i = 0; i < w->nextra; i++)
		cp_let_go(w, i);
	cr_assert(cc_check(w->s, &rep), "after the drops: %s", rep.why);
	cp_check_capacity(w);
	shoal_store_close(w->s);
}

/* Every scenario with the point armed: the point's own must reach it;
 * every run, whether it reached the point or not, must leave a store the
 * survivors repaired. */
static void cp_run(unsigned point,
		   bool (*own)(struct cp_world *w, unsigned point))
{
	bool reached = false;

	for (size_t i = 0; i < sizeof cp_scenarios / sizeof cp_scenarios[0]; i++) {
		struct cp_world w;
		bool died;

		cp_world_init(&w);
		died = cp_scenarios[i](&w, point);
		if (cp_scenarios[i] == own)
			reached = died;
		cp_check_all(&w);
	}
	cr_assert(reached, "%s: its scenario never reached it",
		  shoal__crash_name(point));
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

/* ------------------------------------------------------------------ */
/* The hostile review's reproductions (issue 8), each at its point.    */

/* Puts held objects of `size` bytes with patterns seed.. until the store
 * is full: whatever can be evicted is. */
static int cp_fill_store(struct shoal_store *s, size_t size, uint64_t seed,
			 shoal_id *ids, int cap)
{
	static uint8_t buf[64 * KiB];
	int n = 0;

	while (n < cap) {
		tu_fill(buf, size, seed + (uint64_t)n);
		if (shoal_put(s, buf, size, 0, &ids[n]))
			break;
		n++;
	}
	return n;
}

static void cp_expect_bytes(struct shoal_store *s, shoal_id id, size_t size,
			    uint64_t seed, const char *what)
{
	struct shoal_view v;
	int r = shoal_get(s, id, 0, &v);

	cr_assert_eq(r, 0, "%s: %s", what, shoal_strerror(r));
	cr_assert_eq(v.size, size, "%s: size", what);
	cr_assert(tu_check(v.data, v.size, seed), "%s: its bytes were overwritten",
		  what);
	shoal_release(s, &v);
}

/* Attaches and closes: a process that takes a freed slot and leaves. */
static void cp_pass_through(struct shoal_store *s)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, 2);
		shoal_store_close(c);
		_exit(0);
	}
	cr_assert_eq(tu_wait_exit(pid), 0);
}

static void cp_fill_transient(struct shoal_store *c, struct cp_world *w, int fd)
{
	struct shoal__fill f;
	void *buf;

	(void)fd;
	TU_CHILD_CHECK(shoal__fill_begin(c, w->extra[0], 5000, 0, &f, &buf) == 0, 2);
	tu_fill(buf, 5000, 5);
	TU_CHILD_CHECK(shoal__fill_end(c, &f, SHOAL__SIZE_TRANSIENT) == 0, 3);
}

/*
 * Point 1: a worker killed right after sealing a result left its fill
 * record behind; the next process in its slot, leaving, freed that block
 * again, under another live object that had reused it.
 */
Test(crash_points, point1_a_filler_killed_after_its_seal_frees_nothing_later)
{
	struct cp_world w;
	shoal_id z, more[16];
	int n;

	cp_world_init(&w);
	cp_promise(&w);
	cr_assert(cp_died(cp_child(&w, SHOAL__CP_FILL_SEALED, 1,
				   cp_fill_transient, -1), "filler"));
	shoal_store_reap(w.s);
	cp_expect_bytes(w.s, w.extra[0], 5000, 5, "the filled result");
	cr_assert_eq(shoal_drop(w.s, w.extra[0]), 0); /* its last ref: freed */
	w.aborted[0] = true;
	/* The same ID lands in the same entry, the block from the cache. */
	{
		static uint8_t buf[5000];

		tu_fill(buf, sizeof buf, 7);
		cr_assert_eq(shoal_put_with_id(w.s, w.extra[0], buf, sizeof buf,
					       NULL, 0, 0), 0);
		z = w.extra[0];
	}
	cp_pass_through(w.s);
	n = cp_fill_store(w.s, 5000, 100, more, 16);
	cp_expect_bytes(w.s, z, 5000, 7, "the object in the freed block");
	for (int i = 0; i < n; i++)
		cp_expect_bytes(w.s, more[i], 5000, 100 + (uint64_t)i, "a later put");
	for (int i = 0; i < n; i++)
		cr_assert_eq(shoal_drop(w.s, more[i]), 0);
	cr_assert_eq(shoal_drop(w.s, z), 0);
	cp_check_all(&w);
}

static void cp_abort_and_die(struct shoal_store *c, struct cp_world *w, int fd)
{
	shoal_id x = shoal_id_next(c);
	void *buf;

	(void)w;
	TU_CHILD_CHECK(shoal_create(c, x, 5000, NULL, 0, 0, &buf) == 0, 2);
	TU_CHILD_CHECK(write(fd, &x, sizeof x) == (ssize_t)sizeof x, 3);
	shoal_abort(c, x); /* dies in here */
}

/*
 * Point 2: shoal_abort freed the entry before it took the creation hold
 * out of its ledger; killed in between, its reaper dropped a hold on
 * whatever object reused the entry, which was then evicted while held.
 */
Test(crash_points, point2_an_abort_killed_midway_drops_no_one_elses_hold)
{
	struct cp_world w;
	shoal_id x, fill[40];
	int p[2], n;

	cp_world_init(&w);
	tu_pipe(p);
	cr_assert(cp_died(cp_child(&w, SHOAL__CP_ABORT_ENDED, 1, cp_abort_and_die,
				   p[1]), "aborter"));
	cr_assert_eq(read(p[0], &x, sizeof x), (ssize_t)sizeof x);
	close(p[0]);
	close(p[1]);
	{ /* The aborted ID again: the same entry, held by the test. */
		static uint8_t buf[5000];

		tu_fill(buf, sizeof buf, 9);
		cr_assert_eq(shoal_put_with_id(w.s, x, buf, sizeof buf, NULL, 0, 0), 0);
	}
	shoal_store_reap(w.s);
	n = cp_fill_store(w.s, 60 * KiB, 300, fill, 40);
	cp_expect_bytes(w.s, x, 5000, 9, "the held object in the aborted entry");
	for (int i = 0; i < n; i++)
		cr_assert_eq(shoal_drop(w.s, fill[i]), 0);
	cr_assert_eq(shoal_drop(w.s, x), 0);
	cp_check_all(&w);
}

static void cp_hold_and_wait(struct shoal_store *c, struct cp_world *w, int fd)
{
	TU_CHILD_CHECK(shoal_hold(c, w->w[2]) == 0, 2);
	tu_child_write_byte(fd, 'h');
	for (;;)
		pause();
}

/*
 * Point 5: a reaper killed after giving back a dead process's hold, but
 * before it crossed the record out, and then its replacement, gave that
 * hold back twice: the test's own hold was gone and its object evicted.
 */
Test(crash_points, point5_a_reaper_killed_mid_reap_gives_nothing_back_twice)
{
	struct cp_world w;
	shoal_id fill[40];
	pid_t victim;
	int p[2], n;

	cp_world_init(&w);
	tu_pipe(p);
	victim = cp_child(&w, SHOAL__CP_COUNT, 1, cp_hold_and_wait, p[1]);
	cr_assert_eq(tu_read_byte(p[0], TU_CHILD_DEADLINE_MS), 'h');
	tu_kill(victim);
	cr_assert(cp_reaper(&w, SHOAL__CP_REAP_GIVEN), "the reaper lived");
	shoal_store_reap(w.s);
	n = cp_fill_store(w.s, 60 * KiB, 400, fill, 40);
	cp_expect_bytes(w.s, w.w[2], cp_witness_size[2], 102, "the held witness");
	for (int i = 0; i < n; i++)
		cr_assert_eq(shoal_drop(w.s, fill[i]), 0);
	cp_check_all(&w);
}

/* A get of a witness from another process, which must end in time. */
static void cp_get_in_time(struct cp_world *w, int i, int bound_ms)
{
	pid_t pid = tu_fork();
	int st;

	if (pid == 0) {
		struct shoal_store *c = NULL;
		struct shoal_view v;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(w->s), &c) == 0, 2);
		TU_CHILD_CHECK(shoal_get(c, w->w[i], 1000, &v) == 0, 3);
		TU_CHILD_CHECK(tu_check(v.data, v.size, 100 + (uint64_t)i), 4);
		_exit(0);
	}
	st = tu_wait_status(pid, bound_ms);
	cr_assert_neq(st, -1, "a get of witness %d hung", i);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the get failed (%d)",
		  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/*
 * Point 6: a reaper killed while it recounted an entry left REPAIR set for
 * ever: every later get, drop or reap of that entry spun.
 */
Test(crash_points, point6_a_repairer_killed_midway_leaves_no_repair_behind)
{
	struct cp_world w;

	cp_world_init(&w);
	/* 3 holds and a pin pass REF_CAS first: die in the fifth change. */
	cr_assert(cp_died(cp_child(&w, SHOAL__CP_REF_CAS, 5, cp_do_victim_ref, -1),
			  "victim"));
	cr_assert(cp_reaper(&w, SHOAL__CP_REPAIR_MARKED), "the repairer lived");
	cp_get_in_time(&w, 4, 5000);
	shoal_store_reap(w.s);
	cp_check_all(&w);
}

static void cp_put_big(struct shoal_store *c, struct cp_world *w, int fd)
{
	shoal_id id;

	(void)w;
	(void)fd;
	cp_child_put(c, 60 * KiB, &id); /* evicts, then dies publishing */
}

/*
 * Point 7: an eviction inside a create overwrote the CREATE intent, so a
 * process killed holding a directory stripe lock after it had evicted left
 * the lock held for ever.
 */
Test(crash_points, point7_a_creator_killed_after_evicting_leaves_no_lock)
{
	struct cp_world w;
	shoal_id cached[40];
	struct cc_report rep;
	int n;

	cp_world_init(&w);
	n = cp_fill_store(w.s, 60 * KiB, 500, cached, 40);
	for (int i = 0; i < n; i++) /* unheld: a create must evict them */
		cr_assert_eq(shoal_drop(w.s, cached[i]), 0);
	cr_assert(cp_died(cp_child(&w, SHOAL__CP_CREATE_RESERVED, 1, cp_put_big, -1),
			  "creator"));
	shoal_store_reap(w.s);
	cr_assert(cc_check_locks(w.s, &rep), "%s", rep.why);
	cp_check_all(&w);
}

static void cp_create_drop_exit(struct shoal_store *c, struct cp_world *w, int fd)
{
	shoal_id x = shoal_id_next(c);
	void *buf;

	(void)w;
	(void)fd;
	TU_CHILD_CHECK(shoal_create(c, x, 5000, NULL, 0, 0, &buf) == 0, 2);
	TU_CHILD_CHECK(shoal_drop(c, x) == 0, 3); /* unsealed, held by no one */
	_exit(0); /* without closing: its reaper must find the object */
}

/* An unsealed object whose creator dropped its hold is named by no ledger:
 * the creator's reaper finds it in the directory and aborts it. */
Test(crash_points, a_dead_creators_unheld_unsealed_object_is_aborted)
{
	struct cp_world w;

	cp_world_init(&w);
	cr_assert_not(cp_died(cp_child(&w, SHOAL__CP_COUNT, 1, cp_create_drop_exit,
				       -1), "creator"));
	cp_check_all(&w);
}

/* ------------------------------------------------------------------ */
/* Review of the redesign (issue 8): windows the matrix above does not
 * reach, each a failing test of what breaks there.                     */


/* Sends the ID of a fresh promise to the test, then makes it (armed: dies
 * in the publish). */
static void cp_promise_and_die(struct shoal_store *c, struct cp_world *w,
			       int fd)
{
	shoal_id id = shoal_id_next(c);

	(void)w;
	TU_CHILD_CHECK(write(fd, &id, sizeof id) == (ssize_t)sizeof id, 2);
	shoal__obj_promise(c, id, true, 0); /* dies in here */
}

static void cp_read_id(int fd, shoal_id *id)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	cr_assert_gt(poll(&p, 1, TU_CHILD_DEADLINE_MS), 0, "no ID from the child");
	cr_assert_eq(read(fd, id, sizeof *id), (ssize_t)sizeof *id);
}

/*
 * A submitter killed after publishing a promise (CREATE_PUBLISHED), whose
 * promise a worker fills and seals before anyone reaps the submitter: the
 * reaper decides "not published" (proc.c, shoal__reap_create: it asks for
 * a CREATED entry, and the entry is SEALED by now), so the publish's
 * object count is never redone and the store counts one object too few.
 */
Test(crash_points, review_a_promise_sealed_before_its_creators_reap_is_counted)
{
	struct cp_world w;
	struct cc_report rep;
	struct shoal__fill f;
	shoal_id id;
	void *buf;
	int p[2];

	cp_world_init(&w);
	tu_pipe(p);
	cr_assert(cp_died(cp_child(&w, SHOAL__CP_CREATE_PUBLISHED, 1,
				   cp_promise_and_die, p[1]), "the submitter"));
	cp_read_id(p[0], &id);
	close(p[0]);
	close(p[1]);
	/* The worker's fill, before anybody reaps the submitter. */
	cr_assert_eq(shoal__fill_begin(w.s, id, 5000, 0, &f, &buf), 0);
	tu_fill(buf, 5000, 11);
	cr_assert_eq(shoal__fill_end(w.s, &f, 0), 0);
	shoal_store_reap(w.s);
	cr_assert(cc_check(w.s, &rep), "after the reap: %s", rep.why);
	cp_check_all(&w);
}

/* Attaches, says so, waits for the go, then makes a promise and sends its
 * ID (armed: dies in the publish). */
static void cp_wait_promise_and_die(struct shoal_store *c, struct cp_world *w,
				    int fd)
{
	tu_child_write_byte(fd, 'r');
	TU_CHILD_CHECK(tu_child_read_byte(fd) == 'g', 2);
	cp_promise_and_die(c, w, fd);
}

/* Attaches, says so, then fills the promise whose ID the test sends (armed
 * with FILL_SEALING: dies between describing and sealing it). */
static void cp_fill_sent(struct shoal_store *c, struct cp_world *w, int fd)
{
	struct shoal__fill f;
	shoal_id id;
	void *buf;

	(void)w;
	tu_child_write_byte(fd, 'r');
	TU_CHILD_CHECK(read(fd, &id, sizeof id) == (ssize_t)sizeof id, 2);
	TU_CHILD_CHECK(shoal__fill_begin(c, id, 5000, 0, &f, &buf) == 0, 3);
	tu_fill(buf, 5000, 12);
	shoal__fill_end(c, &f, 0); /* dies in here */
}

/*
 * A submitter killed after publishing and counting a promise (its intent
 * still CREATE) while a worker is between describing its fill and sealing
 * it: the submitter's reaper redoes the publish's byte count from the
 * entry's description (proc.c, shoal__reap_create), which is now the
 * filler's 5000 bytes, not the 0 the publish added; the fill then never
 * seals, and the store counts 5000 bytes that no object has.
 */
Test(crash_points, review_a_creators_reap_counts_no_fill_in_progress)
{
	struct cp_world w;
	struct cc_report rep;
	shoal_id id;
	int pf[2], pd[2];
	pid_t sub, filler;

	cp_world_init(&w);
	/* Both attach before either dies (an attach reaps), the submitter
	 * first: the test's reap then takes its slot before the filler's. */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pd), 0);
	sub = cp_child(&w, SHOAL__CP_CREATE_COUNTED, 1, cp_wait_promise_and_die,
		       pd[1]);
	cr_assert_eq(tu_read_byte(pd[0], TU_CHILD_DEADLINE_MS), 'r');
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pf), 0);
	filler = cp_child(&w, SHOAL__CP_FILL_SEALING, 1, cp_fill_sent, pf[1]);
	cr_assert_eq(tu_read_byte(pf[0], TU_CHILD_DEADLINE_MS), 'r');
	tu_write_byte(pd[0], 'g');
	cp_read_id(pd[0], &id);
	cr_assert(cp_died(sub, "the submitter"), "the submitter did not die");
	cr_assert_eq(write(pf[0], &id, sizeof id), (ssize_t)sizeof id);
	cr_assert(cp_died(filler, "the filler"), "the filler did not die sealing");
	close(pd[0]);
	close(pd[1]);
	close(pf[0]);
	close(pf[1]);
	shoal_store_reap(w.s); /* the submitter's slot first, then the filler's */
	cr_assert(cc_check(w.s, &rep), "after the reap: %s", rep.why);
	cp_check_all(&w);
}

/* Attaches, says so, waits for the go, then dies in a hold (REF_CAS at
 * its fifth pass, as cp_do_victim_ref). */
static void cp_wait_victim_ref(struct shoal_store *c, struct cp_world *w,
			       int fd)
{
	tu_child_write_byte(fd, 'r');
	TU_CHILD_CHECK(tu_child_read_byte(fd) == 'g', 2);
	cp_do_victim_ref(c, w, fd);
}

/* Two victims that attach, then both die in a hold of witness 4 (their
 * intents name the same entry). */
static void cp_two_victims(struct cp_world *w, uint32_t slot[2])
{
	int sv[2][2];
	pid_t v[2];

	for (int i = 0; i < 2; i++) {
		cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
					sv[i]), 0);
		v[i] = cp_child(w, SHOAL__CP_REF_CAS, 5, cp_wait_victim_ref,
				sv[i][1]);
		cr_assert_eq(tu_read_byte(sv[i][0], TU_CHILD_DEADLINE_MS), 'r');
		slot[i] = tu_live_slot(w->s, v[i]);
		cr_assert_neq(slot[i], UINT32_MAX);
	}
	for (int i = 0; i < 2; i++)
		tu_write_byte(sv[i][0], 'g');
	for (int i = 0; i < 2; i++) {
		cr_assert(cp_died(v[i], "victim"), "a victim did not die in its hold");
		close(sv[i][0]);
		close(sv[i][1]);
	}
}

/* A reaper that the test traces (stop_point.h): attaches (which reaps),
 * reaps again and closes. */
static pid_t cp_traced_reaper(struct cp_world *w)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;

		sp_child_traceme();
		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(w->s), &c) == 0, 2);
		shoal_store_reap(c);
		shoal_store_close(c);
		_exit(0);
	}
	return pid;
}

/* An untraced reaper that the test does not wait for yet. */
static pid_t cp_spawn_reaper(struct cp_world *w)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(w->s), &c) == 0, 2);
		shoal_store_reap(c);
		shoal_store_close(c);
		_exit(0);
	}
	return pid;
}

/* Polls (bounded) until cond holds. */
#define CP_UNTIL(cond, what)                                                  \
	do {                                                                  \
		int64_t cp_deadline_ = tu_now_ms() + TU_CHILD_DEADLINE_MS;    \
		while (!(cond)) {                                             \
			cr_assert_lt(tu_now_ms(), cp_deadline_, "never: %s",  \
				     what);                                   \
			sched_yield();                                        \
		}                                                             \
	} while (0)

/*
 * Two processes die in the middle of a count change of the same entry
 * (both intents REF on witness 4), and two survivors reap them at once:
 * reaper A takes the repair word for the entry (reaping the first victim);
 * reaper B claims the second victim and waits for the word (proc.c,
 * shoal__reap_intent).  A's recount then waits for the second victim's
 * intent to clear (repair.c, shoal__wait_intent_clear), which only B can
 * do, and B waits for A's word: both spin for ever (a REAPING slot counts
 * as alive while its reaper lives).  Same with a record B flagged
 * (shoal__repair_read waits for the FLAG to drop).
 */
Test(crash_points, review_two_reapers_of_one_entry_do_not_deadlock)
{
	struct cp_world w;
	struct sp_tracee a;
	uint32_t victim[2];
	pid_t b;
	int st;

	cp_world_init(&w);
	cp_two_victims(&w, victim);
	sp_start(&a, cp_traced_reaper(&w));
	cr_assert(sp_wait_at(&a, SHOAL__CP_REPAIR_MARKED, 1, TU_CHILD_DEADLINE_MS),
		  "reaper A never repaired");
	b = cp_spawn_reaper(&w);
	CP_UNTIL(SHOAL__PROC_PHASE(atomic_load(&w.s->procs[victim[1]].state)) ==
			 SHOAL__PROC_REAPING,
		 "reaper B claims the second victim");
	sp_detach(&a);
	st = tu_wait_status(a.pid, 3000);
	cr_assert_neq(st, -1, "reaper A hangs in its recount (and B waits for "
		      "A's repair word: a deadlock)");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reaper A failed");
	cr_assert_eq(tu_wait_exit(b), 0, "reaper B failed");
	cp_check_all(&w);
}

/* Traced (stop_point.h): attaches, says so, puts the ID the test sends
 * (5000 bytes, seed 21), says so, and holds it until told to go. */
static pid_t cp_traced_putter(struct cp_world *w, int fd)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		static uint8_t buf[5000];
		struct shoal_store *c = NULL;
		shoal_id x;

		sp_child_traceme();
		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(w->s), &c) == 0, 2);
		tu_child_write_byte(fd, 'r');
		TU_CHILD_CHECK(read(fd, &x, sizeof x) == (ssize_t)sizeof x, 3);
		tu_fill(buf, sizeof buf, 21);
		TU_CHILD_CHECK(shoal_put_with_id(c, x, buf, sizeof buf, NULL, 0, 0) == 0, 4);
		tu_child_write_byte(fd, 'p');
		TU_CHILD_CHECK(tu_child_read_byte(fd) == 'q', 5);
		shoal_store_close(c);
		_exit(0);
	}
	return pid;
}

/*
 * A repair that marks an entry between a creator's claim of it (a FREE
 * entry is claimed with no CAS at all, dir.c, shoal__dir_claim) and its
 * publish: the publish is a plain store of ctl (store/object/, shoal__publish),
 * which wipes REPAIR, and the repair then stores a count it made before
 * the creator's hold was in its ledger over the live entry.  Here: an
 * aborter dies at ABORT_ENDED (its entry FREE, its intent REF), a putter
 * claims that entry again for the same ID, and the aborter's reaper
 * counts, then stores holds 0 over the putter's sealed, held object,
 * which an eviction then takes from under its holder.
 */
Test(crash_points, review_a_repair_never_overwrites_a_publish)
{
	struct cp_world w;
	struct sp_tracee put, rp;
	struct shoal_view v;
	uint32_t slot_c, slot_d, idx;
	shoal_id x;
	int sc[2], pd[2], r;
	pid_t d;

	cp_world_init(&w);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sc), 0);
	sp_start(&put, cp_traced_putter(&w, sc[1]));
	cr_assert_eq(tu_read_byte(sc[0], TU_CHILD_DEADLINE_MS), 'r');
	slot_c = tu_live_slot(w.s, put.pid);
	/* The aborter attaches after the putter (whose attach would reap it). */
	tu_pipe(pd);
	d = cp_child(&w, SHOAL__CP_ABORT_ENDED, 1, cp_abort_and_die, pd[1]);
	cp_read_id(pd[0], &x);
	cr_assert(cp_died(d, "the aborter"));
	close(pd[0]);
	close(pd[1]);
	slot_d = tu_live_slot(w.s, d);
	idx = atomic_load(&w.s->procs[slot_d].intent.entry);
	/* The putter claims the aborted entry for the same ID, and stops. */
	cr_assert_eq(write(sc[0], &x, sizeof x), (ssize_t)sizeof x);
	cr_assert(sp_wait_at(&put, SHOAL__CP_CREATE_RESERVED, 1,
			     TU_CHILD_DEADLINE_MS), "the putter never reserved");
	cr_assert_eq(atomic_load(&w.s->procs[slot_c].intent.entry), idx,
		     "the putter took another entry");
	/* The aborter's reaper marks and counts that entry (the putter's
	 * ledger has no hold yet), and stops before it stores; or, since a
	 * repair no longer marks a claimed (FREE) entry, it has nothing to
	 * count there and reaps to the end. */
	sp_start(&rp, cp_traced_reaper(&w));
	if (!sp_wait_at(&rp, SHOAL__CP_REPAIR_COUNTED, 1, TU_CHILD_DEADLINE_MS)) {
		cr_assert(WIFEXITED(rp.status) && WEXITSTATUS(rp.status) == 0,
			  "the reaper neither counted nor ended well");
		tu_untrack(rp.pid); /* reaped by the tracer's waitpid */
		rp.pid = 0;
		sp_detach(&put);
		cr_assert_eq(tu_read_byte(sc[0], TU_CHILD_DEADLINE_MS), 'p');
	} else {
	/* The putter publishes and seals (its publish wipes REPAIR).  A
	 * publish that waits for the repair instead (a fix) cannot end while
	 * the reaper is stopped: then the reaper goes first. */
	sp_detach(&put);
	{
		struct pollfd pp = {.fd = sc[0], .events = POLLIN};
		bool put_done = poll(&pp, 1, 500) == 1;

		cr_assert(sp_wait_at(&rp, SHOAL__CP_REPAIR_RETURNED, 1,
				     TU_CHILD_DEADLINE_MS), "the reaper never stored");
		if (!put_done)
			cr_assert(poll(&pp, 1, TU_CHILD_DEADLINE_MS) == 1,
				  "the putter's put did not end");
		cr_assert_eq(tu_read_byte(sc[0], 0), 'p');
	}
	}
	/* The putter holds x: no eviction may take it. */
	shoal_evict(w.s, 2u << 20);
	r = shoal_get(w.s, x, 0, &v);
	cr_assert_eq(r, 0, "the putter's held object: %s", shoal_strerror(r));
	cr_assert(tu_check(v.data, v.size, 21), "the putter's object changed");
	cr_assert_eq(shoal_release(w.s, &v), 0);
	if (rp.pid) {
		sp_detach(&rp);
		cr_assert_eq(tu_wait_exit(rp.pid), 0, "the reaper failed");
	}
	tu_write_byte(sc[0], 'q');
	cr_assert_eq(tu_wait_exit(put.pid), 0, "the putter failed");
	close(sc[0]);
	close(sc[1]);
	cp_check_all(&w);
}

/* Attaches, says so, waits for the go, then holds witness 4 (armed with
 * REF_INTENT: dies with its intent naming it, before its CAS). */
static void cp_wait_hold_w4(struct shoal_store *c, struct cp_world *w, int fd)
{
	tu_child_write_byte(fd, 'r');
	TU_CHILD_CHECK(tu_child_read_byte(fd) == 'g', 2);
	shoal_hold(c, w->w[4]); /* dies in here */
	_exit(3);
}

/* Forks fn armed with point:n and waits until it attached (its first
 * byte); the test's end of the socket in *fd. */
static pid_t cp_attached(struct cp_world *w, unsigned point, uint32_t n,
			 cp_child_fn *fn, int *fd)
{
	int sv[2];
	pid_t pid;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = cp_child(w, point, n, fn, sv[1]);
	close(sv[1]);
	cr_assert_eq(tu_read_byte(sv[0], TU_CHILD_DEADLINE_MS), 'r');
	*fd = sv[0];
	return pid;
}

/*
 * A reaper that takes over a dead repairer's repair waits for itself: E
 * dies changing witness 4's counts; its reaper R dies at REPAIR_MARKED
 * (the word: witness 4, excluding E); D, which R skipped (alive then),
 * dies with its intent on witness 4 too.  The next reaper claims D first
 * (lower slot), and its repair of witness 4 takes R's word over, with R's
 * exclusion (E): the recount waits for D's intent to clear (repair.c,
 * shoal__wait_intent_clear), D being REAPING by this very reaper, which
 * counts as alive.  It spins for ever, and so does every later reaper
 * (the word is held by a live process).
 */
Test(crash_points, review_a_reaper_taking_over_a_repair_never_waits_for_itself)
{
	struct cp_world w;
	int fd_d, fd_e, st;
	pid_t d, e, p;

	cp_world_init(&w);
	d = cp_attached(&w, SHOAL__CP_REF_INTENT, 1, cp_wait_hold_w4, &fd_d);
	e = cp_attached(&w, SHOAL__CP_REF_CAS, 5, cp_wait_victim_ref, &fd_e);
	tu_write_byte(fd_e, 'g');
	cr_assert(cp_died(e, "E"), "E did not die in its hold");
	cr_assert(cp_reaper(&w, SHOAL__CP_REPAIR_MARKED), "R did not die repairing");
	tu_write_byte(fd_d, 'g');
	cr_assert(cp_died(d, "D"), "D did not die in its hold");
	close(fd_d);
	close(fd_e);
	p = cp_spawn_reaper(&w);
	st = tu_wait_status(p, 3000);
	cr_assert_neq(st, -1, "the reaper hangs in the repair it took over");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the reaper failed");
	cp_check_all(&w);
}

/* Opens a fill of the test's promise (a 5000-byte block of the class C),
 * then puts and deletes 5000-byte objects until its cache of class C
 * holds CAP - 1 blocks, then dies freeing one more (END_FREED: the block
 * in the cache, the entry still marked): the cache is full. */
static void cp_fill_then_free_to_full(struct shoal_store *c, struct cp_world *w,
				      int fd)
{
	uint32_t cls = (uint32_t)shoal__heap_class(5000);
	struct shoal__fill f;
	shoal_id ids[40];
	void *buf;
	int n = 0;

	(void)fd;
	TU_CHILD_CHECK(shoal__fill_begin(c, w->extra[0], 5000, 0, &f, &buf) == 0, 2);
	for (int i = 0; i < 40; i++)
		TU_CHILD_CHECK(cp_child_put(c, 5000, &ids[i]) == 0, 3);
	/* Newest first: the block freed last shares its slab with live
	 * objects (a wholly free slab would refuse the second push). */
	while (c->me->cache.count[cls] != SHOAL__HEAP_CACHE_CAP - 1) {
		TU_CHILD_CHECK(n < 38, 4);
		TU_CHILD_CHECK(shoal_delete(c, ids[39 - n++]) == 0, 5);
	}
	shoal__crash_arm(&c->crash, SHOAL__CP_END_FREED, 1);
	shoal_delete(c, ids[39 - n]); /* dies in here, its cache full */
	_exit(6);
}

/*
 * A reaper frees a block its record no longer owns: the heap's test
 * (heap.c, shoal__heap_rec_owns) reads "not in the dead owner's cache" as
 * "not freed", but the reaper's own frees into that cache spill it.  A
 * worker with an open fill dies at END_FREED, its cache of that class
 * full: the reaper frees the fill's block first (proc.c, fill_reap before
 * end_finish), which spills the top half of the cache, the ended block
 * among them, to its slab; end_finish then finds the block out of the
 * cache and frees it again: it is on its slab's free list twice, and the
 * heap hands it out twice.
 */
Test(crash_points, review_a_reaper_frees_no_block_twice_through_a_full_cache)
{
	static uint64_t got[1024];
	struct cp_world w;
	shoal__off_t off;
	int n = 0;

	cp_world_init(&w);
	cp_promise(&w);
	cr_assert(cp_died(cp_child(&w, SHOAL__CP_COUNT, 1,
				   cp_fill_then_free_to_full, -1), "the worker"),
		  "the worker did not die freeing");
	shoal_store_reap(w.s);
	/* Every free block of the class, each once.  Each gets user bytes as
	 * it is handed out, here ff ff 00 00 first (the free list's link
	 * field of a free block: a block on it twice then reads as a sane
	 * list's last one). */
	shoal__lock(w.s);
	while (n < 1024 && shoal__heap_alloc(&w.s->heap, &w.s->me->cache, 5000,
					     &off) == 0) {
		memcpy(w.s->map.base + off.v, "\xff\xff\x00\x00", 4);
		got[n++] = off.v;
	}
	shoal__unlock(w.s);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < i; j++)
			cr_assert_neq(got[i], got[j], "block %#llx handed out twice "
				      "(allocations %d and %d of %d)",
				      (unsigned long long)got[i], j, i, n);
	shoal__lock(w.s);
	for (int i = 0; i < n; i++)
		shoal__heap_free(&w.s->heap, &w.s->me->cache, SHOAL__OFF(got[i]), 5000);
	shoal__unlock(w.s);
	cp_check_all(&w);
}

/* Attaches, says so, then waits up to 5 s for the test's promise and says
 * 'g' once its get returned with the filler's bytes. */
static void cp_get_promise(struct shoal_store *c, struct cp_world *w, int fd)
{
	struct shoal_view v;

	tu_child_write_byte(fd, 'r');
	TU_CHILD_CHECK(shoal_get(c, w->extra[0], 5000, &v) == 0, 2);
	TU_CHILD_CHECK(tu_check(v.data, v.size, 5000), 3);
	tu_child_write_byte(fd, 'g');
	TU_CHILD_CHECK(tu_child_read_byte(fd) == 'q', 4);
	shoal_release(c, &v);
}

/*
 * A filler killed right after its sealing CAS (FILL_SEALED) never closes
 * the entry's waiter stack (fill.c closes it after the unlock), and its
 * reaper, which sees the seal done, does not either (fill.c,
 * shoal__fill_reap_one, stage 2).  Whatever waits on that stack is never
 * woken: a thread in a get waits out its one-second slice, and the
 * runtime's tasks parked on the result (runtime/deps.c, resolved only by
 * the drain) never run at all.
 */
Test(crash_points, review_a_filler_killed_after_its_seal_leaves_no_waiter_behind)
{
	struct cp_world w;
	struct cc_report rep;
	uint64_t c;
	int64_t t0;
	int fd, idx;
	pid_t g;

	cp_world_init(&w);
	cp_promise(&w);
	idx = shoal__dir_lookup(w.s, w.extra[0], &c);
	cr_assert_geq(idx, 0);
	g = cp_attached(&w, SHOAL__CP_COUNT, 1, cp_get_promise, &fd);
	CP_UNTIL(atomic_load(&w.s->dir[idx].waiters) != 0,
		 "the getter waits on the promise's stack");
	cr_assert(cp_died(cp_child(&w, SHOAL__CP_FILL_SEALED, 1, cp_do_fills, -1),
			  "filler"), "the filler did not die sealing");
	t0 = tu_now_ms();
	shoal_store_reap(w.s);
	cr_assert_eq(tu_read_byte(fd, TU_CHILD_DEADLINE_MS), 'g');
	cr_assert_lt(tu_now_ms() - t0, TU_WAKE_LATENCY_MS,
		     "the getter was woken %lld ms after the reap (its slice's "
		     "end), not by the seal or the reap",
		     (long long)(tu_now_ms() - t0));
	cr_assert(cc_check(w.s, &rep), "after the reap: %s", rep.why);
	tu_write_byte(fd, 'q');
	cr_assert_eq(tu_wait_exit(g), 0);
	close(fd);
	cp_check_all(&w);
}

/* Creates x (5000 bytes, seed 31), sends it, waits for the go, seals
 * (armed with SEAL_SEALED: dies between the seal and the wake-up). */
static void cp_create_then_seal(struct shoal_store *c, struct cp_world *w,
				int fd)
{
	shoal_id x = shoal_id_next(c);
	void *buf;

	(void)w;
	TU_CHILD_CHECK(shoal_create(c, x, 5000, NULL, 0, 0, &buf) == 0, 2);
	tu_fill(buf, 5000, 31);
	tu_child_write_byte(fd, 'r');
	TU_CHILD_CHECK(write(fd, &x, sizeof x) == (ssize_t)sizeof x, 3);
	TU_CHILD_CHECK(tu_child_read_byte(fd) == 'g', 4);
	shoal_seal(c, x); /* dies in here */
}

/* Attaches, says so, reads an ID, waits up to 5 s for it (5000 bytes,
 * seed 31) and says 'g' once its get returned. */
static void cp_get_sent(struct shoal_store *c, struct cp_world *w, int fd)
{
	struct shoal_view v;
	shoal_id x;

	(void)w;
	tu_child_write_byte(fd, 'r');
	TU_CHILD_CHECK(read(fd, &x, sizeof x) == (ssize_t)sizeof x, 2);
	TU_CHILD_CHECK(shoal_get(c, x, 5000, &v) == 0, 3);
	TU_CHILD_CHECK(tu_check(v.data, v.size, 31), 4);
	tu_child_write_byte(fd, 'g');
	TU_CHILD_CHECK(tu_child_read_byte(fd) == 'q', 5);
	shoal_release(c, &v);
}

/*
 * The same for a creator killed between its seal and the wake-up of the
 * entry's waiters (SEAL_SEALED, new): nothing records the seal, and no
 * reaper closes the stack.
 */
Test(crash_points, review_a_creator_killed_after_its_seal_leaves_no_waiter_behind)
{
	struct cp_world w;
	struct cc_report rep;
	shoal_id x;
	uint64_t c;
	int64_t t0;
	int fc, fg, idx;
	pid_t cr, g;

	cp_world_init(&w);
	cr = cp_attached(&w, SHOAL__CP_SEAL_SEALED, 1, cp_create_then_seal, &fc);
	cr_assert_eq(read(fc, &x, sizeof x), (ssize_t)sizeof x);
	idx = shoal__dir_lookup(w.s, x, &c);
	cr_assert_geq(idx, 0);
	g = cp_attached(&w, SHOAL__CP_COUNT, 1, cp_get_sent, &fg);
	cr_assert_eq(write(fg, &x, sizeof x), (ssize_t)sizeof x);
	CP_UNTIL(atomic_load(&w.s->dir[idx].waiters) != 0,
		 "the getter waits on the object's stack");
	tu_write_byte(fc, 'g');
	cr_assert(cp_died(cr, "creator"), "the creator did not die sealing");
	t0 = tu_now_ms();
	shoal_store_reap(w.s);
	cr_assert_eq(tu_read_byte(fg, TU_CHILD_DEADLINE_MS), 'g');
	cr_assert_lt(tu_now_ms() - t0, TU_WAKE_LATENCY_MS,
		     "the getter was woken %lld ms after the reap (its slice's "
		     "end), not by the seal or the reap",
		     (long long)(tu_now_ms() - t0));
	cr_assert(cc_check(w.s, &rep), "after the reap: %s", rep.why);
	tu_write_byte(fg, 'q');
	cr_assert_eq(tu_wait_exit(g), 0);
	close(fc);
	close(fg);
	cp_check_all(&w);
}

/* Attaches, says so, waits for the go, then holds the test's promise
 * (armed with REF_CAS: dies with the hold in the entry, not its ledger). */
static void cp_wait_hold_promise(struct shoal_store *c, struct cp_world *w,
				 int fd)
{
	tu_child_write_byte(fd, 'r');
	TU_CHILD_CHECK(tu_child_read_byte(fd) == 'g', 2);
	shoal_hold(c, w->extra[0]); /* dies in here */
	_exit(3);
}

/* Attaches, opens a fill of the test's promise, says so, waits for the
 * go, then makes two ledger records collide and dies shifting one back
 * (armed with LEDGER_MOVED: its ledger's seqcount odd). */
static void cp_fill_then_ledger(struct shoal_store *c, struct cp_world *w,
				int fd)
{
	struct shoal__fill f;
	void *buf;

	TU_CHILD_CHECK(shoal__fill_begin(c, w->extra[0], 5000, 0, &f, &buf) == 0, 2);
	tu_child_write_byte(fd, 'r');
	TU_CHILD_CHECK(tu_child_read_byte(fd) == 'g', 3);
	cp_do_ledger(c, w, fd); /* dies in here */
	_exit(4);
}

/*
 * The same self-wait through a ledger: F fills the test's promise P; E
 * dies holding P (REF intent); E's reaper R dies at REPAIR_MARKED (REPAIR
 * on P, the word excluding E); then F dies in the middle of a ledger
 * deletion (its seqcount odd).  The next reaper claims F first (lower
 * slot); releasing F's fill waits for P's REPAIR, takes R's repair over,
 * and its recount reads F's ledger, which it waits to see even
 * (ledger.c, shoal__ledger_read_remote): F is REAPING by this very
 * reaper, which counts as alive, and only this reaper's dedupe, which
 * comes after the fills (proc.c), would make it even.
 */
Test(crash_points, review_a_reaper_never_waits_for_a_ledger_it_is_to_fix)
{
	struct cp_world w;
	int fd_f, fd_e, st;
	pid_t f, e, p;

	cp_world_init(&w);
	cp_promise(&w);
	f = cp_attached(&w, SHOAL__CP_LEDGER_MOVED, 1, cp_fill_then_ledger, &fd_f);
	e = cp_attached(&w, SHOAL__CP_REF_CAS, 1, cp_wait_hold_promise, &fd_e);
	tu_write_byte(fd_e, 'g');
	cr_assert(cp_died(e, "E"), "E did not die in its hold");
	cr_assert(cp_reaper(&w, SHOAL__CP_REPAIR_MARKED), "R did not die repairing");
	tu_write_byte(fd_f, 'g');
	cr_assert(cp_died(f, "F"), "F did not die in its ledger");
	close(fd_f);
	close(fd_e);
	p = cp_spawn_reaper(&w);
	st = tu_wait_status(p, 3000);
	cr_assert_neq(st, -1, "the reaper hangs reading the ledger it is to fix");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the reaper failed");
	cp_check_all(&w);
}

/* Attaches, pins witness 4, says so, stops for its tracer (stop_point.h)
 * and closes when told to go: its close gives the pin back (proc.c, the
 * steps of a reap on its own slot, which stays LIVE meanwhile). */
static pid_t cp_traced_closer(struct cp_world *w, int fd)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		struct shoal_view v;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(w->s), &c) == 0, 2);
		TU_CHILD_CHECK(shoal_get(c, w->w[4], 0, &v) == 0, 3);
		tu_child_write_byte(fd, 'r');
		sp_child_traceme();
		TU_CHILD_CHECK(tu_child_read_byte(fd) == 'g', 4);
		shoal_store_close(c);
		_exit(0);
	}
	return pid;
}

/*
 * A repair that counts a live closer's record in the middle of its give
 * back: the closer's close (proc.c, shoal__reap_give_back on its own
 * slot) flags its record of a pin on witness 4, takes the pin off the
 * entry, then crosses the record out.  A repair of witness 4 (a victim
 * died holding it) that reads the record between those two steps, its
 * FLAG up and its pin still in it, counts a pin the entry no longer has:
 * the entry keeps one pin for ever, that no ledger names and no reaper
 * gives back (the chaos test's LEAK).  The repair must wait for the
 * closer to cross the record out (or to put its flag down when its CAS
 * meets REPAIR): here it yields (sched_yield) instead of counting.
 */
Test(crash_points, review_a_repair_never_counts_a_pin_a_closer_gave_back)
{
	struct cp_world w;
	struct sp_tracee cl, rp;
	unsigned at;
	bool waited;
	int sv[2];
	pid_t closer;

	cp_world_init(&w);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	closer = cp_traced_closer(&w, sv[1]);
	cr_assert_eq(tu_read_byte(sv[0], TU_CHILD_DEADLINE_MS), 'r');
	sp_start(&cl, closer);
	/* A victim dies in a hold of witness 4 (its CAS made, its ledger
	 * not): its reaper recounts witness 4. */
	cr_assert(cp_died(cp_child(&w, SHOAL__CP_REF_CAS, 5, cp_do_victim_ref, -1),
			  "victim"), "the victim did not die in its hold");
	tu_write_byte(sv[0], 'g');
	cr_assert(sp_wait_at(&cl, SHOAL__CP_REAP_GIVEN, 1, TU_CHILD_DEADLINE_MS),
		  "the closer never gave its pin back");
	sp_start(&rp, cp_traced_reaper(&w));
	cr_assert(sp_wait_at(&rp, SHOAL__CP_REPAIR_MARKED, 1, TU_CHILD_DEADLINE_MS),
		  "the victim's reaper never repaired witness 4");
	waited = sp_wait_syscall(&rp, SYS_sched_yield, &at, TU_CHILD_DEADLINE_MS);
	sp_detach(&cl);
	sp_detach(&rp);
	cr_assert_eq(tu_wait_exit(closer), 0, "the closer failed");
	cr_assert_eq(tu_wait_exit(rp.pid), 0, "the reaper failed");
	close(sv[0]);
	close(sv[1]);
	/* Witness 4's pins are the test's (none): nothing counted twice. */
	cp_check_all(&w);
	cr_assert(waited, "the repair went on to %s without waiting for the "
		  "closer's record in flight",
		  at < SHOAL__CP_COUNT ? shoal__crash_name(at) : "its end");
}

/* Attaches, holds witness 4, says so, waits for the go and dies (D, a
 * dead process with a hold for its reaper to give back). */
static void cp_hold_w4_then_die(struct shoal_store *c, struct cp_world *w,
				int fd)
{
	TU_CHILD_CHECK(shoal_hold(c, w->w[4]) == 0, 2);
	tu_child_write_byte(fd, 'r');
	TU_CHILD_CHECK(tu_child_read_byte(fd) == 'g', 3);
	kill(getpid(), SIGKILL);
}

/*
 * A repair that outlasts its bound waiting for a live reaper's flagged
 * record must not take that record from it.  D dies holding witness 4;
 * its reaper R flags D's record and stops (REAP_FLAGGED: a reaper the
 * scheduler took off its CPU, its CAS not made).  V dies in a hold of
 * witness 4, and the test's reap of V recounts witness 4: it waits for
 * R's flag up to its bound, then, past it, consumed D's record (left it
 * out of the count, as if given back) while R was still to give it back:
 * R's CAS then took D's hold off the entry a second time, the test's own
 * hold with it (a double return: an object someone holds is evictable).
 * Past the bound a live reaper's record is counted as it stands instead:
 * at worst a hold too many (a leak), never one too few.
 */
Test(crash_points, review_a_repair_past_its_bound_leaves_a_live_reapers_record)
{
	struct cp_world w;
	struct sp_tracee r;
	int fd_d;
	pid_t d, v;

	cp_world_init(&w);
	d = cp_attached(&w, SHOAL__CP_COUNT, 1, cp_hold_w4_then_die, &fd_d);
	tu_write_byte(fd_d, 'g');
	cr_assert(cp_died(d, "D"), "D did not die");
	close(fd_d);
	sp_start(&r, cp_traced_reaper(&w));
	cr_assert(sp_wait_at(&r, SHOAL__CP_REAP_FLAGGED, 1, TU_CHILD_DEADLINE_MS),
		  "R never flagged D's record");
	v = cp_child(&w, SHOAL__CP_REF_CAS, 5, cp_do_victim_ref, -1);
	cr_assert(cp_died(v, "V"), "V did not die in its hold");
	shoal_store_reap(w.s); /* V's: recounts witness 4, R stopped */
	sp_detach(&r);
	cr_assert_eq(tu_wait_exit(r.pid), 0, "R failed");
	cp_check_all(&w);
}

/* Traced: attaches, says so, reads witness 5's error message (it has
 * none: its pin is taken and given back), says so, then on the go gets
 * and releases witness 0, says so, and closes when told. */
static pid_t cp_traced_reader(struct cp_world *w, int fd)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		struct shoal_view v;
		char msg[16];

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(w->s), &c) == 0, 2);
		tu_child_write_byte(fd, 'r');
		sp_child_traceme();
		TU_CHILD_CHECK(shoal_error_message(c, w->w[5], msg, sizeof msg) ==
			       -ENOMSG, 3);
		tu_child_write_byte(fd, 'o');
		TU_CHILD_CHECK(tu_child_read_byte(fd) == 'g', 4);
		TU_CHILD_CHECK(shoal_get(c, w->w[0], 0, &v) == 0, 5);
		TU_CHILD_CHECK(shoal_release(c, &v) == 0, 6);
		tu_child_write_byte(fd, 'p');
		TU_CHILD_CHECK(tu_child_read_byte(fd) == 'q', 7);
		shoal_store_close(c);
		_exit(0);
	}
	return pid;
}

/*
 * A pin that a call takes for itself and cannot give back goes back
 * later, not at close.  error_message (like a get of an error object, or
 * a worker done with a task's arguments) pins the object and releases it
 * before it returns; a REPAIR on the entry that outlasts the release's
 * bound (1 s: a repairer descheduled on a loaded machine) made that
 * release give up, silently, and the pin stayed for the rest of the
 * process's life: an object nobody holds, never evicted (the chaos
 * test's LEAK, from a worker that lives on).  Now it is owed, and the
 * process's next get gives it back.
 */
Test(crash_points, review_a_pin_a_call_could_not_give_back_goes_back_later)
{
	struct cp_world w;
	struct sp_tracee rd;
	_Atomic uint64_t *ctl;
	uint32_t idx;
	int sv[2];
	pid_t reader;

	cp_world_init(&w);
	idx = (uint32_t)shoal__dir_lookup(w.s, w.w[5], &(uint64_t){0});
	ctl = &w.s->dir[idx].ctl;
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	reader = cp_traced_reader(&w, sv[1]);
	cr_assert_eq(tu_read_byte(sv[0], TU_CHILD_DEADLINE_MS), 'r');
	sp_start(&rd, reader);
	cr_assert(sp_wait_at(&rd, SHOAL__CP_REF_LEDGER, 1, TU_CHILD_DEADLINE_MS),
		  "the reader never pinned witness 5");
	/* A REPAIR that nobody runs: the release waits its second, then
	 * gives up with the pin whole. */
	atomic_fetch_or(ctl, SHOAL__CTL_REPAIR);
	sp_detach(&rd);
	cr_assert_eq(tu_read_byte(sv[0], TU_CHILD_DEADLINE_MS), 'o');
	cr_assert_eq(tu_info(w.s, w.w[5]).pins, 1, "the release did not wait");
	atomic_fetch_and(ctl, ~SHOAL__CTL_REPAIR);
	tu_write_byte(sv[0], 'g');
	cr_assert_eq(tu_read_byte(sv[0], TU_CHILD_DEADLINE_MS), 'p');
	cr_assert_eq(tu_info(w.s, w.w[5]).pins, 0, "the reader, alive, keeps a "
		     "pin it took for itself");
	tu_write_byte(sv[0], 'q');
	cr_assert_eq(tu_wait_exit(reader), 0, "the reader failed");
	close(sv[0]);
	close(sv[1]);
	cp_check_all(&w);
}

/* ------------------------------------------------------------------ */
/* The heap's leak windows (SHOAL__HEAP_LEAK_POINTS)                  */

#define CP_SMALL 100 /* one size class for every small put below */
#define CP_DROPS 40  /* more than a cache holds (SHOAL__HEAP_CACHE_CAP) */

/* Small puts, each dropped at once: the first refills the child's empty
 * cache (a slab off the class stack the test's own puts listed it on,
 * blocks popped off it, the slab listed again). */
static void cp_do_small_puts(struct shoal_store *c, struct cp_world *w, int fd)
{
	(void)w;
	(void)fd;
	for (int i = 0; i < 8; i++) {
		shoal_id id;

		TU_CHILD_CHECK(cp_child_put(c, CP_SMALL, &id) == 0, 50);
		TU_CHILD_CHECK(shoal_drop(c, id) == 0, 51);
	}
}

/* CP_DROPS small objects, then all deleted and dropped (a drop alone
 * keeps a sealed object until it is evicted): their blocks fill the
 * child's cache, which spills half of itself back to the slabs. */
static void cp_do_small_drops(struct shoal_store *c, struct cp_world *w, int fd)
{
	shoal_id ids[CP_DROPS];

	(void)w;
	(void)fd;
	for (int i = 0; i < CP_DROPS; i++)
		TU_CHILD_CHECK(cp_child_put(c, CP_SMALL, &ids[i]) == 0, 52);
	for (int i = 0; i < CP_DROPS; i++) {
		TU_CHILD_CHECK(shoal_delete(c, ids[i]) == 0, 53);
		TU_CHILD_CHECK(shoal_drop(c, ids[i]) == 0, 54);
	}
}

static bool cp_scenario_small_puts(struct cp_world *w, unsigned point)
{
	return cp_run_child(w, point, cp_do_small_puts);
}

static bool cp_scenario_small_drops(struct cp_world *w, unsigned point)
{
	return cp_run_child(w, point, cp_do_small_drops);
}

/* No block is handed out twice: the store filled with small objects of
 * distinct patterns (the leaked block's class), every one intact. */
static void cp_check_distinct(struct cp_world *w)
{
	shoal_id ids[64];
	int n = cp_fill_store(w->s, CP_SMALL, 7000, ids, 64);

	cr_assert_gt(n, 0, "not one small object fits");
	for (int i = 0; i < n; i++)
		cp_expect_bytes(w->s, ids[i], CP_SMALL, 7000 + (uint64_t)i,
				"a small object put after the leak");
	for (int i = 0; i < n; i++)
		cr_assert_eq(shoal_drop(w->s, ids[i]), 0);
}

/* The leak's bound: once everything is dropped, an object one slab short
 * of the whole capacity fits (what the dead process took stays taken:
 * one block, which keeps its slab's pages, or one stranded slab). */
static void cp_check_leak_bound(struct cp_world *w, unsigned point)
{
	struct shoal_store_options o = cp_opts();
	shoal_id id = shoal_id_next(w->s);
	void *buf;
	int r = shoal_create(w->s, id, o.capacity - SHOAL__SLAB_SIZE, NULL, 0, 0,
			     &buf);

	cr_assert_eq(r, 0, "%s: an object one slab short of the capacity does "
		     "not fit: %s (more than one slab leaked)",
		     shoal__crash_name(point), shoal_strerror(r));
	cr_assert_eq(shoal_abort(w->s, id), 0);
}

static void cp_run_leak(unsigned point,
			bool (*own)(struct cp_world *w, unsigned point))
{
	struct cp_world w;
	struct cc_report rep;

	cp_world_init(&w);
	cr_assert(own(&w, point), "%s: its scenario never reached it",
		  shoal__crash_name(point));
	shoal_store_reap(w.s);
	cp_check_witnesses(&w);
	cr_assert(cc_check(w.s, &rep), "after the crash: %s", rep.why);
	cp_check_distinct(&w);
	for (int i = 0; i < CP_PINNED; i++)
		cr_assert_eq(shoal_release(w.s, &w.pin[i]), 0);
	for (int i = 0; i < CP_WITNESSES; i++)
		cr_assert_eq(shoal_drop(w.s, w.w[i]), 0, "drop witness %d", i);
	cr_assert(cc_check(w.s, &rep), "after the drops: %s", rep.why);
	cp_check_leak_bound(&w, point);
	shoal_store_close(w.s);
}

#define CP_LEAK_TEST(name, scenario, what)                                    \
	Test(crash_points, name, .description = what)                         \
	{                                                                     \
		cp_run_leak(SHOAL__CP_##name, cp_scenario_##scenario);        \
	}
SHOAL__HEAP_LEAK_POINTS(CP_LEAK_TEST)
#undef CP_LEAK_TEST

/* ------------------------------------------------------------------ */
/* A typed get's release and drop in one change (store/object/getv.c).  */

static shoal_id cp_word; /* set by the test before it forks */

/* Holds the test's 8-byte object (a REF change: pass 1), then reads it
 * with shoal_get_i64: its pin (pass 2), then its pin and hold given back
 * in one change (pass 3), where the armed point kills it. */
static void cp_do_get_word(struct shoal_store *c, struct cp_world *w, int fd)
{
	int64_t out;

	(void)w;
	(void)fd;
	TU_CHILD_CHECK(shoal_hold(c, cp_word) == 0, 2);
	TU_CHILD_CHECK(shoal_get_i64(c, cp_word, 0, &out) == 0 && out == 42, 3);
}

/* Killed at each step of the combined change, the reader leaves a REF
 * intent (or a ledger record) that its reaper settles: the object keeps
 * the test's hold alone, no pin, and everything else is whole. */
static void cp_get_word_killed_at(unsigned point)
{
	struct cp_world w;
	int64_t v = 42;
	struct shoal_object_info info;

	cp_world_init(&w);
	cp_word = shoal_id_next(w.s);
	cr_assert_eq(shoal_put_with_id(w.s, cp_word, &v, sizeof v, NULL, 0, 0), 0);
	cr_assert(cp_died(cp_child(&w, point, 3, cp_do_get_word, -1), "reader"),
		  "the reader did not die at %s", shoal__crash_name(point));
	shoal_store_reap(w.s);
	info = tu_info(w.s, cp_word);
	cr_assert(info.holds == 1 && info.pins == 0,
		  "after a reader died at %s: holds %u pins %u, want the test's "
		  "hold alone", shoal__crash_name(point), info.holds, info.pins);
	cr_assert_eq(shoal_drop(w.s, cp_word), 0);
	cp_check_all(&w);
}

Test(crash_points, a_typed_get_killed_in_its_release_and_drop_leaves_no_count)
{
	cp_get_word_killed_at(SHOAL__CP_REF_INTENT);
	cp_get_word_killed_at(SHOAL__CP_REF_CAS);
	cp_get_word_killed_at(SHOAL__CP_REF_LEDGER);
}

/* ------------------------------------------------------------------ */
/* A small fill's claim, description and seal in one lock section      */
/* (store/fill.c, shoal__fill_small: a task's or call's result of at   */
/* most 8 bytes).                                                      */

/* Fills the test's first promise with the 8 bytes of 42 in one step. */
static void cp_do_fill_small(struct shoal_store *c, struct cp_world *w, int fd)
{
	int64_t v = 42;
	bool claimed;

	(void)fd;
	TU_CHILD_CHECK(shoal__fill_small(c, w->extra[0], &v, sizeof v, 0, 0,
					 &claimed) == 0, 2);
}

/* The 8 bytes of id, sealed (fails the test otherwise). */
static int64_t cp_word_of(struct shoal_store *s, shoal_id id)
{
	struct shoal_view v;
	int64_t x = 0;

	cr_assert_eq(shoal_get(s, id, 0, &v), 0, "the promise is not sealed");
	cr_assert_eq(v.size, sizeof x);
	memcpy(&x, v.data, sizeof x);
	cr_assert_eq(shoal_release(s, &v), 0);
	return x;
}

/* Killed at each step, the filler leaves its record for its reaper: the
 * promise is sealed with the whole value (killed after the seal) or a
 * promise again that another filler fills (killed before it), and the
 * store is whole either way. */
static void cp_fill_small_killed_at(unsigned point, bool sealed)
{
	struct cp_world w;
	int64_t v = 42;
	bool claimed;
	shoal_id p;

	cp_world_init(&w);
	p = cp_promise(&w);
	cr_assert(cp_run_child(&w, point, cp_do_fill_small),
		  "the filler did not die at %s", shoal__crash_name(point));
	shoal_store_reap(w.s);
	cr_assert_eq(shoal_contains(w.s, p), sealed ? 1 : 0,
		     "killed at %s: the promise is %s", shoal__crash_name(point),
		     sealed ? "not sealed" : "sealed");
	if (!sealed)
		cr_assert_eq(shoal__fill_small(w.s, p, &v, sizeof v, 0, 0, &claimed), 0,
			     "killed at %s: the promise cannot be filled again",
			     shoal__crash_name(point));
	cr_assert_eq(cp_word_of(w.s, p), 42);
	cp_check_all(&w);
}

Test(crash_points, a_small_fill_killed_at_each_step_is_sealed_whole_or_refillable)
{
	cp_fill_small_killed_at(SHOAL__CP_FILL_ALLOCATED, false);
	cp_fill_small_killed_at(SHOAL__CP_FILL_NAMED, false);
	cp_fill_small_killed_at(SHOAL__CP_FILL_SEALING, false);
	cp_fill_small_killed_at(SHOAL__CP_FILL_SEALED, true);
}
