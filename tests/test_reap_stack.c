/* SPDX-License-Identifier: MIT */
/*
 * tests/test_reap_stack.c - the close a dead sealer owed, made by its
 * reaper, never closes the waiter stack of a new object that reused the
 * entry meanwhile.
 *
 * A process killed after its seal and before its stack's close leaves
 * that close to its reaper: for a seal (intent SEAL, store/reap.c) and
 * for a fill (record at stage 2, store/fill.c).  The reaper reads the
 * entry (its generation, sealed) and then closes the stack.  If nothing
 * holds the object between those two steps it can end there (its end
 * closes and drains the stack), and a new object take the same entry
 * (its creator reopens the stack): the reaper's close then shuts the new,
 * unsealed object's stack.  Its getters can no longer link their records
 * and spin instead of sleeping, and a task parked on it would run before
 * its argument exists.  The reaper now pins the object for the close
 * (store/object/refs.c, shoal__obj_close_sealed), so a pin refused for a
 * new generation closes nothing.
 *
 * Each test holds the reaper (under ptrace, stop_point.h) at the crash
 * point REAP_STACK_SEEN, after its read and before its pin, while the
 * test ends the object and creates it again in the same entry; then lets
 * the reaper go and checks that the new object's stack is still open and
 * that its getter sleeps until the seal.  A reaper that finds no node on
 * the stack closes nothing (a seal leaves an empty stack open anyway), so
 * one test links a getter of the new object first: the reaper then tries
 * its pin, which the new generation refuses.
 *
 * The pin's REF intent is the reaper's own intent record, which a create
 * has armed while it waits for a dead holder's directory stripe lock and
 * reaps (dir.c): the last test kills such a creator after that reap and
 * checks that its reaper still released its stripe locks.
 *
 * And a reaper of a sealer or a filler killed at each step of its close
 * (before its pin, between the pin's CAS and its ledger, pinned, and in
 * its unpin) leaves it to the next reaper, which closes the stack (a
 * stopped getter linked on it gets the bytes once let go) and gives the
 * dead reaper's pin back once.
 *
 * Last, an attach that finds every slot taken reaps from a reserve slot
 * (its intent and ledger pin with): it must not crash, and it makes the
 * dead sealer's close.
 */
#include <criterion/criterion.h>
#include <signal.h>

#include <shoal/shoal.h>

#include "testutil.h"
#include "internal.h"
#include "stop_point.h"
#include "crash_check.h"

TestSuite(reap_stack, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

#define RS_WAIT_MS 10000
#define RS_CLOSED UINT32_MAX /* waiters.c's SHOAL__WAITERS_CLOSED */

static const int64_t rs_val = 42;

/* The entry of id and its stack head; -1 if there is none. */
static int rs_entry(struct shoal_store *s, shoal_id id, uint32_t *head)
{
	uint64_t c;
	int idx = shoal__dir_lookup(s, id, &c);

	*head = idx < 0 ? RS_CLOSED : atomic_load(&s->dir[idx].waiters);
	return idx;
}

/* A victim that creates id, gives its own hold up (the object must be
 * able to end while its reaper is held) and dies in its seal, sealed,
 * its stack not closed. */
static pid_t rs_dying_sealer(struct shoal_store *s, shoal_id id)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		void *buf;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, TU_EXIT_IO);
		TU_CHILD_CHECK(shoal_create(c, id, sizeof rs_val, NULL, 0, 0, &buf) == 0, 10);
		memcpy(buf, &rs_val, sizeof rs_val);
		TU_CHILD_CHECK(shoal_drop(c, id) == 0, 11);
		shoal__crash_arm(&c->crash, SHOAL__CP_SEAL_SEALED, 1);
		shoal_seal(c, id); /* dies in here */
		_exit(12);
	}
	return pid;
}

/* A victim that fills the test's promise id and dies after the seal,
 * its fill record at stage 2. */
static pid_t rs_dying_filler(struct shoal_store *s, shoal_id id)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		bool claimed;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, TU_EXIT_IO);
		shoal__crash_arm(&c->crash, SHOAL__CP_FILL_SEALED, 1);
		shoal__fill_small(c, id, &rs_val, sizeof rs_val, 0, 0, &claimed);
		_exit(12); /* not reached: killed in the fill */
	}
	return pid;
}

/* A reaper traced from the start: it attaches (which reaps) and reaps. */
static pid_t rs_traced_reaper(struct shoal_store *s)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;

		sp_child_traceme();
		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, TU_EXIT_IO);
		shoal_store_reap(c);
		shoal_store_close(c);
		_exit(0);
	}
	return pid;
}

/* A getter of id: exits 0 with rs_val, TU_EXIT_MISMATCH with other bytes,
 * or the get's code. */
static pid_t rs_getter(struct shoal_store *s, shoal_id id)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		int rc;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, TU_EXIT_IO);
		rc = tu_get_i64_check(c, id, rs_val, RS_WAIT_MS);
		shoal_store_close(c);
		_exit(rc == TU_EXIT_MISMATCH ? rc : tu_err_to_exit(rc));
	}
	return pid;
}

/* What the test saw while it held the reaper. */
struct rs_seen {
	bool held;          /* the reaper stopped at REAP_STACK_SEEN */
	int renew_rc;       /* the end and the new create */
	int idx0, idx1;     /* the entry before and after */
	uint32_t head0;     /* the new object's stack, reaper held */
	pid_t getter;       /* a getter of the new object linked before
			     * the reaper goes on (0: none) */
};

/* With the reaper held after its read, id's object ends (delete) and a
 * new one, unsealed, takes the same entry; *buf: its bytes.  With
 * `linked`, a getter of the new object links its record on the stack
 * before the reaper goes on: the reaper then sees a node there and takes
 * its pin, which the new generation refuses. */
static void rs_renew_under(struct shoal_store *s, shoal_id id, pid_t reaper,
			   bool linked, struct rs_seen *x, void **buf)
{
	struct sp_tracee t;
	uint32_t h;

	sp_start(&t, reaper);
	x->held = sp_wait_at(&t, SHOAL__CP_REAP_STACK_SEEN, 1, RS_WAIT_MS);
	if (x->held) {
		x->idx0 = rs_entry(s, id, &h);
		x->renew_rc = shoal_delete(s, id);
		if (!x->renew_rc)
			x->renew_rc = shoal_create(s, id, sizeof rs_val, NULL, 0,
						   0, buf);
		x->idx1 = rs_entry(s, id, &x->head0);
		if (linked && !x->renew_rc) {
			x->getter = rs_getter(s, id);
			if (!tu_wait_sleeping(x->getter, RS_WAIT_MS))
				x->renew_rc = -EAGAIN; /* never linked */
		}
	}
	sp_detach(&t);
}

/* After the held reaper went on: the new object's stack is open, its
 * getter sleeps until the seal and gets the bytes, the store is whole. */
static void rs_check_after(struct shoal_store *s, shoal_id id, pid_t reaper,
			   const struct rs_seen *x, void *buf)
{
	struct cc_report r = {{0}};
	uint32_t head = RS_CLOSED;
	bool slept;
	pid_t getter;
	int rc;

	cr_assert(x->held, "the reaper never reached REAP_STACK_SEEN");
	tu_assert_rc(x->renew_rc, 0);
	cr_assert_eq(x->idx0, x->idx1, "the new object took another entry "
		     "(%d, %d)", x->idx0, x->idx1);
	cr_assert_eq(x->head0, 0, "the new object's stack was not open");
	rc = tu_wait_result(reaper);
	cr_assert_eq(rc, 0, "the reaper: %d", rc);
	rs_entry(s, id, &head);
	if (x->getter) { /* its record heads the stack still */
		cr_assert_neq(head, RS_CLOSED, "the dead sealer's reaper closed "
			      "the stack of the new object in its entry");
		cr_assert_neq(head, 0, "the new object's getter is not linked");
	} else {
		cr_assert_eq(head, 0, "the dead sealer's reaper closed the stack "
			     "of the new object in its entry (head %u)", head);
	}
	getter = x->getter ? x->getter : rs_getter(s, id);
	slept = tu_wait_sleeping(getter, RS_WAIT_MS);
	memcpy(buf, &rs_val, sizeof rs_val);
	tu_assert_rc(shoal_seal(s, id), 0);
	cr_assert(slept, "the new object's getter never slept (its stack "
		  "closed, it spins)");
	rc = tu_wait_result(getter);
	cr_assert_eq(rc, 0, "the getter: %d (%s)", rc, shoal_strerror(rc));
	cr_assert(cc_check(s, &r), "%s", r.why);
	tu_assert_rc(shoal_drop(s, id), 0);
}

/* One reuse run: a sealer (or, with `fill`, the filler of the test's
 * promise) dies before its close, its reaper is held while the entry is
 * reused (with `linked`, a getter of the new object linked meanwhile),
 * then goes on: rs_check_after. */
static void rs_reuse_run(uint64_t k, bool fill, bool linked)
{
	struct shoal_store_options o = tu_opts(8u << 20);
	struct shoal_store *s = NULL;
	shoal_id id = tu_id(7, k);
	struct rs_seen x = {.renew_rc = 1, .idx0 = -1, .idx1 = -2, .head0 = 1};
	void *buf = NULL;
	pid_t reaper;
	int st;

	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	if (fill)
		tu_assert_rc(shoal__obj_promise(s, id, true, 0), 0);
	st = tu_wait_status(fill ? rs_dying_filler(s, id) : rs_dying_sealer(s, id),
			    RS_WAIT_MS);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "the %s did not die (status %d)", fill ? "filler" : "sealer", st);
	/* A promise's hold is the test's: gone, the sealed object can end
	 * while the reaper is held. */
	if (fill)
		tu_assert_rc(shoal_drop(s, id), 0);
	reaper = rs_traced_reaper(s);
	rs_renew_under(s, id, reaper, linked, &x, &buf);
	rs_check_after(s, id, reaper, &x, buf);
	shoal_store_close(s);
}

Test(reap_stack, a_dead_sealers_reaper_leaves_a_reused_entrys_stack_open)
{
	rs_reuse_run(1, false, false);
}

/* The same with a getter of the new object linked on the stack before
 * the reaper goes on: the reaper's pin is refused (a new generation) and
 * it closes nothing; the getter stays linked and asleep until the seal. */
Test(reap_stack, a_dead_sealers_reaper_leaves_a_reused_entrys_waiter_linked)
{
	rs_reuse_run(3, false, true);
}

Test(reap_stack, a_dead_fillers_reaper_leaves_a_reused_entrys_stack_open)
{
	rs_reuse_run(2, true, false);
}

/* ------------------------------------------------------------------ */
/* A reap inside a create: the reaper's own intent is in use.          */

/* A child that attaches at once (so that its attach reaps nobody: no one
 * is dead yet), says so on `ready`, waits for the test's byte on `go`,
 * is armed with `point` and creates id with a timeout: it dies at the
 * point.  Exits 12 if it returns. */
static pid_t rs_armed_creator(struct shoal_store *s, shoal_id id,
			      unsigned point, int ready, int go)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		void *buf;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, TU_EXIT_IO);
		tu_child_write_byte(ready, 'r');
		tu_child_read_byte(go);
		shoal__crash_arm(&c->crash, point, 1);
		shoal_create(c, id, sizeof rs_val, NULL, 0, RS_WAIT_MS, &buf);
		_exit(12);
	}
	return pid;
}

static void rs_assert_killed(pid_t pid, const char *what)
{
	int st = tu_wait_status(pid, RS_WAIT_MS);

	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "%s did not die at its point (status %d)", what, st);
}

/*
 * A create waiting for a directory stripe lock whose holder is dead reaps
 * (dir.c, shoal__stripe_lock) while its own CREATE intent is armed: that
 * intent is what its reaper needs to release the stripe locks and decide
 * the entry if it dies before the create returns.  A dead sealer reaped
 * there must not have its close made through the REF protocol's intent
 * of the creator (which would leave it NONE): the creator killed after
 * the reap, holding the stripes, must still be reaped whole.
 */
Test(reap_stack, a_reap_inside_a_create_keeps_the_creators_intent)
{
	struct shoal_store_options o = tu_opts(8u << 20);
	struct shoal_store *s = NULL;
	shoal_id x = tu_id(7, 3), y = tu_id(7, 4);
	int ready[2], go_d[2], go_a[2];
	struct shoal_store_stats st;
	struct cc_report r = {{0}};
	void *buf = NULL;
	pid_t d, a;
	int rc;

	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	tu_pipe(ready);
	tu_pipe(go_d);
	tu_pipe(go_a);
	/* d dies holding x's stripe locks, its entry reserved; a creates x
	 * after, waits for those locks and reaps, then dies published. */
	d = rs_armed_creator(s, x, SHOAL__CP_CREATE_RESERVED, ready[1], go_d[0]);
	a = rs_armed_creator(s, x, SHOAL__CP_CREATE_PUBLISHED, ready[1], go_a[0]);
	tu_read_byte(ready[0], RS_WAIT_MS);
	tu_read_byte(ready[0], RS_WAIT_MS);
	rs_assert_killed(rs_dying_sealer(s, y), "the sealer");
	tu_write_byte(go_d[1], 'g');
	rs_assert_killed(d, "the stripe holder");
	tu_write_byte(go_a[1], 'g');
	rs_assert_killed(a, "the creator");
	tu_assert_rc(shoal_store_stats(s, &st), 0);
	cr_assert_geq(st.reaped, 1, "the creator reaped nobody in its wait");
	shoal_store_reap(s);
	/* Its reaper released its stripes: x can be made again. */
	rc = shoal_create(s, x, sizeof rs_val, NULL, 0, 0, &buf);
	cr_assert_eq(rc, 0, "a create of x after the creator's reap: %s",
		     shoal_strerror(rc));
	tu_assert_rc(shoal_abort(s, x), 0);
	cr_assert(cc_check(s, &r), "%s", r.why);
	close(ready[0]);
	close(ready[1]);
	close(go_d[0]);
	close(go_d[1]);
	close(go_a[0]);
	close(go_a[1]);
	shoal_store_close(s);
}

/* ------------------------------------------------------------------ */
/* A reaper killed pinning, closing or unpinning.                      */

/* A sealer that creates id, says so on `ready`, waits for `go` and dies
 * in its seal (sealed, its stack not closed). */
static pid_t rs_waiting_sealer(struct shoal_store *s, shoal_id id, int ready,
			       int go)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		void *buf;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, TU_EXIT_IO);
		TU_CHILD_CHECK(shoal_create(c, id, sizeof rs_val, NULL, 0, 0, &buf) == 0, 10);
		memcpy(buf, &rs_val, sizeof rs_val);
		tu_child_write_byte(ready, 'r');
		tu_child_read_byte(go);
		shoal__crash_arm(&c->crash, SHOAL__CP_SEAL_SEALED, 1);
		shoal_seal(c, id); /* dies in here */
		_exit(12);
	}
	return pid;
}

/* A reaper armed from the environment (its attach reaps) with the n-th
 * pass of point. */
static pid_t rs_armed_reaper(struct shoal_store *s, unsigned point, uint32_t n)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		char spec[96];

		snprintf(spec, sizeof spec, "%s:%u", shoal__crash_name(point), n);
		setenv("SHOAL_CRASH", spec, 1);
		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, TU_EXIT_IO);
		shoal_store_reap(c);
		shoal_store_close(c);
		_exit(0);
	}
	return pid;
}

/*
 * One run: a getter sleeps on id's stack (then stopped, so that its own
 * slices reap nothing), the sealer (or, with `fill`, the filler of the
 * test's promise) dies before its close, a reaper armed
 * with (point, n) dies in its close_sealed, and the test reaps it and
 * the sealer: the stack is closed, the getter gets the bytes, and every
 * count is the ledgers' (the dead reaper's pin given back exactly once).
 */
static void rs_killed_reaper_run(unsigned point, uint32_t n, uint32_t k,
				 bool fill)
{
	struct shoal_store_options o = tu_opts(8u << 20);
	struct shoal_store *s = NULL;
	shoal_id id = tu_id(8, k);
	struct cc_report r = {{0}};
	int ready[2], go[2];
	uint32_t head = 0;
	pid_t sealer = -1, getter;
	int st, rc;

	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	tu_pipe(ready);
	tu_pipe(go);
	if (fill) { /* the test's promise, filled by a child that dies */
		tu_assert_rc(shoal__obj_promise(s, id, true, 0), 0);
	} else {
		sealer = rs_waiting_sealer(s, id, ready[1], go[0]);
		tu_read_byte(ready[0], RS_WAIT_MS);
	}
	getter = rs_getter(s, id);
	cr_assert(tu_wait_sleeping(getter, RS_WAIT_MS), "the getter never slept");
	cr_assert_eq(kill(getter, SIGSTOP), 0);
	if (fill) {
		sealer = rs_dying_filler(s, id);
	} else {
		tu_write_byte(go[1], 'g');
	}
	rs_assert_killed(sealer, fill ? "the filler" : "the sealer");
	st = tu_wait_status(rs_armed_reaper(s, point, n), RS_WAIT_MS);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "%s:%u: the reaper did not die there (status %d)",
		  shoal__crash_name(point), n, st);
	shoal_store_reap(s);
	rs_entry(s, id, &head);
	cr_assert_eq(head, RS_CLOSED, "%s:%u: the sealed object's stack is "
		     "still open (head %u)", shoal__crash_name(point), n, head);
	cr_assert_eq(kill(getter, SIGCONT), 0);
	rc = tu_wait_result(getter);
	cr_assert_eq(rc, 0, "%s:%u: the getter: %d (%s)",
		     shoal__crash_name(point), n, rc, shoal_strerror(rc));
	cr_assert(cc_check(s, &r), "%s:%u: %s", shoal__crash_name(point), n,
		  r.why);
	if (fill)
		tu_assert_rc(shoal_drop(s, id), 0);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	shoal_store_close(s);
}

Test(reap_stack, a_reaper_killed_in_its_close_is_finished_by_the_next)
{
	/* The pin's points are its first passes, the unpin's its second
	 * (the reaper changes no other count through the REF protocol). */
	static const struct { unsigned point; uint32_t n; } at[] = {
		{SHOAL__CP_REAP_STACK_SEEN, 1}, {SHOAL__CP_REF_INTENT, 1},
		{SHOAL__CP_REF_CAS, 1},         {SHOAL__CP_REF_LEDGER, 1},
		{SHOAL__CP_REAP_STACK_PINNED, 1}, {SHOAL__CP_REF_INTENT, 2},
		{SHOAL__CP_REF_CAS, 2},         {SHOAL__CP_REF_LEDGER, 2},
	};

	for (uint32_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		rs_killed_reaper_run(at[i].point, at[i].n, 2 * i + 1, false);
		rs_killed_reaper_run(at[i].point, at[i].n, 2 * i + 2, true);
	}
}

/* ------------------------------------------------------------------ */
/* A reap by an attach that found no free slot.                         */

/* A child that attaches and closes: exits with the attach's code. */
static pid_t rs_attacher(struct shoal_store *s)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		int rc = shoal_store_attach_fd(shoal_store_fd(s), &c);

		if (rc == 0)
			shoal_store_close(c);
		_exit(tu_err_to_exit(rc));
	}
	return pid;
}

/* A child that attaches and dies without closing: a dead slot to reap. */
static void rs_dead_attacher(struct shoal_store *s)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, TU_EXIT_IO);
		_exit(0);
	}
	cr_assert_eq(tu_wait_exit(pid), 0, "the attacher that dies");
}

/*
 * With every process slot taken (the test's, a getter's, a dead
 * process's and a sealer's dead before its close), an attach reaps from a
 * reserve slot (store/proc.c, shoal__claim_by_reaping), whose intent and
 * ledger pin the sealer's object for the close.  It must not crash: it
 * reaps both dead slots, closes the sealer's stack, which wakes the
 * getter, and claims one of the slots it freed.
 */
Test(reap_stack, an_attach_with_no_free_slot_reaps_a_dead_sealer)
{
	struct shoal_store_options o = tu_opts(8u << 20);
	struct shoal_store *s = NULL;
	shoal_id id = tu_id(9, 1);
	struct cc_report r = {{0}};
	int ready[2], go[2];
	uint32_t head = 0;
	pid_t sealer, getter;
	int st, rc;

	o.max_procs = 4;
	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	tu_pipe(ready);
	tu_pipe(go);
	sealer = rs_waiting_sealer(s, id, ready[1], go[0]);
	tu_read_byte(ready[0], RS_WAIT_MS);
	getter = rs_getter(s, id);
	cr_assert(tu_wait_sleeping(getter, RS_WAIT_MS), "the getter never slept");
	cr_assert_eq(kill(getter, SIGSTOP), 0); /* its slices reap nothing */
	rs_dead_attacher(s);
	tu_write_byte(go[1], 'g');
	rs_assert_killed(sealer, "the sealer");
	st = tu_wait_status(rs_attacher(s), RS_WAIT_MS);
	cr_assert(WIFEXITED(st), "the attach that reaps died (signal %d)",
		  WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	rc = tu_exit_to_err(WEXITSTATUS(st));
	cr_assert_eq(rc, 0, "the attach: %d (%s)", rc, shoal_strerror(rc));
	rs_entry(s, id, &head);
	cr_assert_eq(head, RS_CLOSED, "the sealed object's stack is still open "
		     "(head %u)", head);
	cr_assert_eq(kill(getter, SIGCONT), 0);
	rc = tu_wait_result(getter);
	cr_assert_eq(rc, 0, "the getter: %d (%s)", rc, shoal_strerror(rc));
	cr_assert(cc_check(s, &r), "%s", r.why);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	shoal_store_close(s);
}
