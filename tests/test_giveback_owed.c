/* SPDX-License-Identifier: MIT */
/*
 * tests/test_giveback_owed.c - the recount a reaper (or a closer) owes
 * after giving a record back while a repair stamped it, made even when
 * the giver dies before it, or cannot make it at once.
 *
 * A reaper gives a dead process's record back (reap.c): FLAG up, the
 * counts off the entry, the record crossed out.  A repair that meets the
 * flagged record past its bound counts it as it stands and stamps the
 * reaper (repair.c, shoal__repair_flagged); the reaper, once it has
 * crossed the record out, sees the stamp and recounts the entry, taking
 * off the count too many (shoal__reap_cross_out).  Two windows used to
 * drop that recount, leaving a pin that no ledger names on the object
 * for good (never evicted, never freed):
 *  (a) the giver killed between its cross-out and its recount (crash
 *      point REAP_CROSSED): nobody recounted;
 *  (b) the recount giving up (the repair word another live process's
 *      past the reap's bound): it was simply dropped.
 * Now the record stays flagged with no counts until the recount is made,
 * and whoever reaps the slot next (the dead slot's next reaper, or the
 * closer's reaper) recounts its entry.
 *
 * Each test: x put and held by the test; a giver (R reaping D, which died
 * pinning x; or A closing with its own pin of x) held just after taking
 * the pin off x (REAP_GIVEN: ptrace in (a), where it then dies at
 * REAP_CROSSED, and SIGSTOP in (b)); B killed in a pin of x (REF_CAS),
 * and the test's reap of B recounts x: it counts the giver's flagged
 * record as it stands (one pin too many) and stamps the giver.  In (b)
 * the test then holds the repair word (its own live identity) while the
 * giver runs on.  At the end x's counts must be what the live ledgers
 * name (crash_check.h): the test's hold, no pin.
 * Synchronisation is by pipes, ptrace stops and /proc's view of stopped
 * children, never by time.  Stores are private (memfd).
 */
#include "testutil.h"
#include "internal.h"
#include "crash_check.h"
#include "stalled.h"
#include "stop_point.h"
#include "live_slot.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

TestSuite(giveback_owed, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

#define MiB (1024u * 1024u)
#define GO_SIZE 3000u

struct go_world {
	struct shoal_store *s;
	shoal_id x;
	uint32_t idx;
	uint64_t objects;   /* before x */
};

static void go_init(struct go_world *w)
{
	uint64_t c;
	int idx;

	w->s = tu_store(MiB);
	w->objects = tu_stats(w->s).objects;
	w->x = shoal_id_next(w->s);
	tu_assert_rc(tu_put(w->s, w->x, GO_SIZE, 7, 0), 0);
	idx = shoal__dir_lookup(w->s, w->x, &c);
	cr_assert_geq(idx, 0, "no entry for x");
	w->idx = (uint32_t)idx;
}

static uint32_t go_pins(const struct go_world *w)
{
	return SHOAL__CTL_PINS(atomic_load(&w->s->dir[w->idx].ctl));
}

/* The repair word (repair.c: entry + 1 | slot + 1 << 25 | generation
 * << 38) held by the test, a live process that is not repairing: a
 * repair of anyone else waits for it until its bound. */
static void go_hold_word(struct go_world *w)
{
	struct shoal_store *s = w->s;

	atomic_store(&s->hdr->repair,
		     (uint64_t)(w->idx + 1) | ((uint64_t)(s->slot + 1) << 25) |
			     ((uint64_t)(s->slot_gen & 0xffffffu) << 38));
}

/* B dies in a pin of x and the test reaps it: the recount counts the
 * giver's flagged record as it stands, past its bound, and stamps it. */
static void go_recount_stamps(struct go_world *w, uint32_t giver)
{
	cr_assert_eq(go_pins(w), 0, "the giver's pin is still on x");
	sc_killed(w->s, w->x, SC_PIN);
	tu_assert_rc(shoal_store_reap(w->s), 1, "the reap of B");
	cr_assert_neq(atomic_load(&w->s->procs[giver].stamps), 0,
		      "the recount did not stamp the giver: not the scenario");
	cr_assert_eq(go_pins(w), 1, "pins %u: the recount did not count the "
		     "flagged record (not the scenario)", go_pins(w));
}

/* x's counts are what the live ledgers name: the test's hold, no pin;
 * then x goes, and nothing is left. */
static void go_check(struct go_world *w)
{
	uint64_t c = atomic_load(&w->s->dir[w->idx].ctl);
	struct cc_report rep;

	cr_assert_eq(SHOAL__CTL_PINS(c), 0,
		     "pins %u: a pin no ledger names stayed on x (leaked)",
		     SHOAL__CTL_PINS(c));
	cr_assert_eq(SHOAL__CTL_HOLDS(c), 1, "holds %u, want the test's one",
		     SHOAL__CTL_HOLDS(c));
	cr_assert(cc_check(w->s, &rep), "%s", rep.why);
	tu_assert_rc(shoal_drop(w->s, w->x), 0);
	shoal_evict(w->s, UINT64_MAX);
	cr_assert_eq(tu_stats(w->s).objects, w->objects, "x was never evicted");
	shoal_store_close(w->s);
}

static void go_kill(pid_t pid)
{
	int st;

	cr_assert_eq(kill(pid, SIGKILL), 0);
	st = tu_wait_status(pid, TU_CHILD_DEADLINE_MS);
	cr_assert(WIFSIGNALED(st), "the child was not killed (status %d)", st);
}

static void go_wait_stopped(pid_t pid, const char *what)
{
	cr_assert(tu_await_state(pid, 'T', TU_CHILD_DEADLINE_MS),
		  "%s never stopped at REAP_GIVEN", what);
}

/* The giver of (a), traced and armed to die at REAP_CROSSED: attached
 * (with a pin of x if it is the closer A), it reports, waits for the
 * test's breakpoint and go, then reaps (R) or closes (A).  fd: its end
 * of a socket pair with the test. */
static pid_t go_traced_giver(struct go_world *w, bool closer, int fd)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		struct shoal_view v;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(w->s), &c) == 0, 2);
		TU_CHILD_CHECK(!closer || shoal_get(c, w->x, 0, &v) == 0, 3);
		tu_child_write_byte(fd, 'r');
		sp_child_traceme();
		TU_CHILD_CHECK(tu_child_read_byte(fd) == 'g', 4);
		shoal__crash_arm(&c->crash, SHOAL__CP_REAP_CROSSED, 1);
		if (closer)
			shoal_store_close(c); /* the pin goes with the close */
		else
			shoal_store_reap(c);
		_exit(0); /* not killed at REAP_CROSSED */
	}
	return pid;
}

/* A reaper armed (from the environment: its attach reaps) to die at
 * `point`; it must die there. */
static void go_reaper_dies_at(struct go_world *w, unsigned point)
{
	pid_t pid = tu_fork();
	int st;

	if (pid == 0) {
		struct shoal_store *c = NULL;

		setenv("SHOAL_CRASH", shoal__crash_name(point), 1);
		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(w->s), &c) == 0, 2);
		shoal_store_reap(c);
		_exit(0);
	}
	st = tu_wait_status(pid, TU_CHILD_DEADLINE_MS);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "the second reaper did not die at %s (status %d)",
		  shoal__crash_name(point), st);
}

/* (a): the giver held at REAP_GIVEN, the recount stamps it, it runs on
 * and dies at REAP_CROSSED, its record crossed out; then the test's reap
 * (of the giver, and for R of D again) must take the pin too many off.
 * With `then` < SHOAL__CP_COUNT, a second reaper dies at that point of
 * the same reap first. */
static void go_killed_after_cross_out(bool closer, unsigned then)
{
	struct go_world w;
	struct sp_tracee t;
	pid_t d = -1, g;
	int p[2], st;

	go_init(&w);
	if (!closer)
		d = sc_pinned(w.s, w.x);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), 0);
	g = go_traced_giver(&w, closer, p[1]);
	cr_assert_eq(tu_read_byte(p[0], TU_CHILD_DEADLINE_MS), 'r',
		     "the giver did not attach");
	if (!closer)
		go_kill(d);
	sp_start(&t, g);
	tu_write_byte(p[0], 'g');
	cr_assert(sp_wait_at(&t, SHOAL__CP_REAP_GIVEN, 1, TU_CHILD_DEADLINE_MS),
		  "the giver never gave its pin back");
	go_recount_stamps(&w, tu_live_slot_of(w.s, g));
	sp_detach(&t);
	st = tu_wait_status(g, TU_CHILD_DEADLINE_MS);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "the giver was not killed at REAP_CROSSED (status %d)", st);
	close(p[0]);
	close(p[1]);
	cr_assert_eq(go_pins(&w), 1, "pins %u before the giver's reap: "
		     "not the scenario", go_pins(&w));
	if (then < SHOAL__CP_COUNT)
		go_reaper_dies_at(&w, then);
	shoal_store_reap(w.s);
	go_check(&w);
}

Test(giveback_owed, a_reaper_killed_after_its_cross_out_leaks_no_pin)
{
	go_killed_after_cross_out(false, SHOAL__CP_COUNT);
}

Test(giveback_owed, a_closer_killed_after_its_cross_out_leaks_no_pin)
{
	go_killed_after_cross_out(true, SHOAL__CP_COUNT);
}

/* The giver's reaper killed in its turn, in the recount the giver owed
 * (the repair word taken, the entry not marked) or just after it (its
 * record still flagged): the next reap recounts x all the same. */
Test(giveback_owed, a_reaper_killed_in_the_owed_recount_leaves_it_to_the_next)
{
	go_killed_after_cross_out(false, SHOAL__CP_REPAIR_TAKEN);
}

Test(giveback_owed, a_closers_reaper_killed_after_the_owed_recount_leaks_no_pin)
{
	go_killed_after_cross_out(true, SHOAL__CP_REAP_RECOUNTED);
}

/*
 * (b), a reaper: R stopped at REAP_GIVEN in its reap of D, stamped by
 * the recount; the test holds the repair word while R runs on, so R's
 * own recount gives up.  Its reap stops there (0 reaped: D's slot given
 * back, its record crossed out and still flagged); once the word is
 * free, R's next reap recounts x.  R reports each reap's count.
 */
Test(giveback_owed, a_reaper_whose_recount_times_out_makes_it_at_its_next_reap)
{
	struct go_world w;
	int rep[2], go[2];
	char n1, n2;
	pid_t d, r;

	go_init(&w);
	d = sc_pinned(w.s, w.x);
	tu_pipe(rep);
	tu_pipe(go);
	r = tu_fork();
	if (r == 0) {
		struct shoal_store *c;

		close(rep[0]);
		close(go[1]);
		if (shoal_store_attach_fd(shoal_store_fd(w.s), &c))
			_exit(1);
		tu_child_write_byte(rep[1], 'a');
		TU_CHILD_CHECK(tu_child_read_byte(go[0]) == 'g', 2);
		shoal__crash_arm(&c->crash, SHOAL__CP_REAP_GIVEN, 1);
		c->crash.stop = true;
		tu_child_write_byte(rep[1], (char)('0' + shoal_store_reap(c)));
		TU_CHILD_CHECK(tu_child_read_byte(go[0]) == 'g', 3);
		tu_child_write_byte(rep[1], (char)('0' + shoal_store_reap(c)));
		shoal_store_close(c);
		_exit(0);
	}
	close(rep[1]);
	close(go[0]);
	cr_assert_eq(tu_read_byte(rep[0], TU_CHILD_DEADLINE_MS), 'a',
		     "R did not attach");
	go_kill(d);
	tu_write_byte(go[1], 'g');
	go_wait_stopped(r, "R");
	go_recount_stamps(&w, tu_live_slot_of(w.s, r));
	go_hold_word(&w);
	cr_assert_eq(kill(r, SIGCONT), 0);
	n1 = tu_read_byte(rep[0], TU_CHILD_DEADLINE_MS + 5000);
	cr_assert_eq(go_pins(&w), 1, "pins %u while the recount is owed",
		     go_pins(&w));
	atomic_store(&w.s->hdr->repair, 0);
	tu_write_byte(go[1], 'g');
	n2 = tu_read_byte(rep[0], TU_CHILD_DEADLINE_MS + 5000);
	tu_assert_rc(tu_wait_result(r), 0, "R");
	close(rep[0]);
	close(go[1]);
	go_check(&w);
	cr_assert_eq(n1, '0', "R's first reap: %c reaped, want 0 (stopped at "
		     "the recount it owes)", n1);
	cr_assert_eq(n2, '1', "R's second reap: %c reaped, want D", n2);
}

/*
 * (b), a closer: A closes with its pin of x, stopped at REAP_GIVEN,
 * stamped by the recount; the test holds the repair word while A runs
 * on, so A's recount gives up and its close leaves its slot (and the
 * record, crossed out and flagged) to its reaper: the test's reap, once
 * A has exited and the word is free.
 */
Test(giveback_owed, a_closer_whose_recount_times_out_leaves_it_to_its_reaper)
{
	struct go_world w;
	pid_t a;

	go_init(&w);
	a = tu_fork();
	if (a == 0) {
		struct shoal_store *c;
		struct shoal_view v;

		if (shoal_store_attach_fd(shoal_store_fd(w.s), &c) ||
		    shoal_get(c, w.x, 0, &v))
			_exit(1);
		shoal__crash_arm(&c->crash, SHOAL__CP_REAP_GIVEN, 1);
		c->crash.stop = true;
		shoal_store_close(c); /* the pin goes with the close */
		_exit(0);
	}
	go_wait_stopped(a, "A");
	go_recount_stamps(&w, tu_live_slot_of(w.s, a));
	go_hold_word(&w);
	cr_assert_eq(kill(a, SIGCONT), 0);
	tu_assert_rc(tu_wait_result(a), 0, "A's close");
	cr_assert_eq(go_pins(&w), 1, "pins %u while the recount is owed",
		     go_pins(&w));
	atomic_store(&w.s->hdr->repair, 0);
	shoal_store_reap(w.s);
	go_check(&w);
}
