/* SPDX-License-Identifier: MIT */
/*
 * tests/test_stalled_count.c - a live process stalled in the middle of a
 * count change while a repair recounts the same entry.
 *
 * A count change (store/object/, the REF protocol) is an intent, a CAS on
 * the entry and a store into the process's ledger.  A repair (repair.c)
 * recounts an entry from every live ledger; it waits for a live process
 * that is in the middle of changing the entry, but only up to
 * SHOAL__LOCK_MIN_MS (deadline.h), and then has to decide without it.  A
 * process stopped there for longer (SIGSTOP, or descheduled) used to be
 * read "as its ledger stands": stopped after its CAS and before its
 * ledger store, its pin or hold was left out of the recount, and the
 * object could be deleted (its block freed and reused) while that process
 * read it.
 *
 * Each test here has a real process A (its own handle and slot) stopped
 * at a crash point (base/crash.h, ":stop": SIGSTOP at that step) in the
 * middle of a pin or a hold, before its CAS (REF_INTENT) or after it
 * (REF_CAS); another process B killed in the middle of the same change on
 * the same entry (REF_CAS); the test's own reap of B, whose recount waits
 * for A and gives up after its bound.  Then A runs on, finishes its call
 * and reports; the test checks the entry's pins and holds are exactly
 * what the live processes have, that a delete leaves a pinned object
 * alone, and that once everyone let go nothing is left (no leak).
 * The last two tests stop a reaper (or a closer) at REAP_GIVEN instead,
 * a dead process's pin already off the entry and its record still
 * flagged, while the test's reap of B recounts the entry: the recount
 * must leave no pin that no ledger names.
 * Nothing waits on time for synchronisation: pipes, and /proc's view of
 * the stopped child.  Stores are private (memfd).
 */
#include "testutil.h"
#include "internal.h"
#include "stalled.h"
#include "live_slot.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>

TestSuite(stalled_count, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

#define MiB (1024u * 1024u)
#define SC_SIZE 3000u

static uint64_t sc_ctl(struct shoal_store *s, uint32_t idx)
{
	return atomic_load(&s->dir[idx].ctl);
}

/*
 * The scenario: x held by the test; A stopped at `point` in the middle of
 * op on x; B killed in the middle of op on x; the test reaps B (its
 * recount gives up on A after its bound); A runs on and finishes.
 * Returns A, its call returned 0.
 */
static struct sc_child sc_play(struct shoal_store *s, shoal_id x,
			       enum sc_op op, unsigned point)
{
	struct sc_child a = sc_stalled(s, x, op, point);
	int64_t t0;

	sc_killed(s, x, op);
	t0 = tu_now_ms();
	tu_assert_rc(shoal_store_reap(s), 1, "the reap of B");
	cr_assert_geq(tu_now_ms() - t0, SHOAL__LOCK_MIN_MS,
		      "the recount did not wait for A: not the scenario");
	cr_assert_eq(tu_proc_state(a.pid), 'T', "A moved on meanwhile");
	cr_assert_eq(kill(a.pid, SIGCONT), 0);
	cr_assert_eq(tu_read_byte(a.report, TU_CHILD_DEADLINE_MS), 'k',
		     "A's call failed");
	return a;
}

static void sc_let_go(struct sc_child *a)
{
	tu_write_byte(a->go, 'g');
	tu_assert_rc(tu_wait_result(a->pid), 0, "A's release or drop");
	close(a->go);
	close(a->report);
}

/* A pins x: after the repair, x has exactly A's pin; a delete leaves it
 * (DELETING, its block kept) until A releases; then it is gone. */
static void sc_pin(unsigned point)
{
	struct shoal_store *s = tu_store(MiB);
	uint64_t objects = tu_stats(s).objects;
	shoal_id x = shoal_id_next(s);
	uint32_t idx;
	struct sc_child a;
	uint64_t c;

	tu_assert_rc(tu_put(s, x, SC_SIZE, 7, 0), 0);
	idx = sc_idx(s, x);
	a = sc_play(s, x, SC_PIN, point);

	c = sc_ctl(s, idx);
	cr_assert_eq(SHOAL__CTL_PINS(c), 1, "pins %u, want A's one",
		     SHOAL__CTL_PINS(c));
	cr_assert_eq(SHOAL__CTL_HOLDS(c), 1, "holds %u, want the test's one",
		     SHOAL__CTL_HOLDS(c));
	tu_assert_rc(shoal_delete(s, x), 0);
	tu_assert_rc(shoal_drop(s, x), 0);
	c = sc_ctl(s, idx);
	cr_assert(SHOAL__CTL_STATE(c) == SHOAL__E_SEALED &&
			  (c & SHOAL__CTL_DELETING),
		  "x ended while A pins it (ctl %#llx)", (unsigned long long)c);

	sc_let_go(&a);
	cr_assert_neq(SHOAL__CTL_STATE(sc_ctl(s, idx)), SHOAL__E_SEALED,
		      "x outlived its last pin (a pin leaked)");
	cr_assert_eq(tu_stats(s).objects, objects);
	shoal_store_close(s);
}

/* A holds x: after the repair, x has exactly the test's hold and A's;
 * the test's drop leaves it held; A's drop leaves nothing. */
static void sc_hold(unsigned point)
{
	struct shoal_store *s = tu_store(MiB);
	uint64_t objects = tu_stats(s).objects;
	shoal_id x = shoal_id_next(s);
	uint32_t idx;
	struct sc_child a;
	uint64_t c;

	tu_assert_rc(tu_put(s, x, SC_SIZE, 7, 0), 0);
	idx = sc_idx(s, x);
	a = sc_play(s, x, SC_HOLD, point);

	c = sc_ctl(s, idx);
	cr_assert_eq(SHOAL__CTL_HOLDS(c), 2, "holds %u, want the test's and A's",
		     SHOAL__CTL_HOLDS(c));
	cr_assert_eq(SHOAL__CTL_PINS(c), 0, "pins %u, want none",
		     SHOAL__CTL_PINS(c));
	tu_assert_rc(shoal_drop(s, x), 0);
	cr_assert_eq(SHOAL__CTL_HOLDS(sc_ctl(s, idx)), 1, "A's hold is gone");

	sc_let_go(&a);
	c = sc_ctl(s, idx);
	cr_assert_eq(SHOAL__CTL_HOLDS(c), 0, "a hold leaked");
	cr_assert_eq(SHOAL__CTL_PINS(c), 0, "a pin leaked");
	tu_assert_rc(shoal_delete(s, x), 0);
	cr_assert_eq(tu_stats(s).objects, objects);
	shoal_store_close(s);
}

/*
 * The recount A owes cannot be made when it runs on: the repair word is
 * the test's (a live process that is not repairing) past A's bound.  A's
 * pin stands (its get returns 0) with one count too many on x (A was
 * stopped before its CAS: the repair counted the pin, and the CAS added
 * it again): a leak while the recount is owed, never an early free, and
 * A's intent still names x for its reaper.  Once the word is free, A's
 * next change (its release) makes the recount first: x then ends with
 * its last pin, nothing leaked.
 */
Test(stalled_count, a_recount_owed_is_made_by_the_next_change)
{
	struct shoal_store *s = tu_store(MiB);
	uint64_t objects = tu_stats(s).objects;
	shoal_id x = shoal_id_next(s);
	uint32_t idx, slot;
	struct sc_child a;
	uint64_t c;

	tu_assert_rc(tu_put(s, x, SC_SIZE, 7, 0), 0);
	idx = sc_idx(s, x);
	a = sc_stalled(s, x, SC_PIN, SHOAL__CP_REF_INTENT);
	slot = tu_live_slot_of(s, a.pid);
	sc_killed(s, x, SC_PIN);
	tu_assert_rc(shoal_store_reap(s), 1, "the reap of B");
	cr_assert_neq(atomic_load(&s->procs[slot].stamps), 0,
		      "the recount did not stamp A");
	/* repair.c's word: entry + 1 | slot + 1 << 25 | generation << 38 */
	atomic_store(&s->hdr->repair,
		     (uint64_t)(idx + 1) | ((uint64_t)(s->slot + 1) << 25) |
			     ((uint64_t)(s->slot_gen & 0xffffffu) << 38));
	cr_assert_eq(kill(a.pid, SIGCONT), 0);
	cr_assert_eq(tu_read_byte(a.report, TU_CHILD_DEADLINE_MS + 5000), 'k',
		     "A's get failed");
	c = sc_ctl(s, idx);
	cr_assert_eq(SHOAL__CTL_PINS(c), 2, "pins %u, want A's and the owed one",
		     SHOAL__CTL_PINS(c));
	cr_assert_eq(atomic_load(&s->procs[slot].intent.op), SHOAL__OP_REF,
		     "A's intent no longer names x for its reaper");
	cr_assert_eq(atomic_load(&s->procs[slot].intent.entry), idx);

	atomic_store(&s->hdr->repair, 0);
	tu_assert_rc(shoal_delete(s, x), 0);
	tu_assert_rc(shoal_drop(s, x), 0);
	sc_let_go(&a);
	cr_assert_neq(SHOAL__CTL_STATE(sc_ctl(s, idx)), SHOAL__E_SEALED,
		      "x outlived its last pin (a pin leaked)");
	cr_assert_eq(tu_stats(s).objects, objects);
	shoal_store_close(s);
}

Test(stalled_count, a_pin_stalled_after_its_cas_survives_a_repair)
{
	sc_pin(SHOAL__CP_REF_CAS);
}

Test(stalled_count, a_pin_stalled_before_its_cas_survives_a_repair)
{
	sc_pin(SHOAL__CP_REF_INTENT);
}

Test(stalled_count, a_hold_stalled_after_its_cas_survives_a_repair)
{
	sc_hold(SHOAL__CP_REF_CAS);
}

Test(stalled_count, a_hold_stalled_before_its_cas_survives_a_repair)
{
	sc_hold(SHOAL__CP_REF_INTENT);
}

/* A stopped after its ledger store, before its intent's clear: the repair
 * counts its change a second time (the record has it), and A's recount
 * takes it off. */
Test(stalled_count, a_pin_stalled_after_its_ledger_survives_a_repair)
{
	sc_pin(SHOAL__CP_REF_LEDGER);
}

Test(stalled_count, a_hold_stalled_after_its_ledger_survives_a_repair)
{
	sc_hold(SHOAL__CP_REF_LEDGER);
}

/*
 * A owes its recount (as above: the word is the test's when it runs on)
 * and closes without releasing its pin, the word still the test's: its
 * close's recount gives up, its slot stays for a reaper once it exited.
 * Once the word is free the test's reap recounts x and gives A's pin
 * back: x then ends on the test's delete and drop, nothing leaked.
 */
Test(stalled_count, a_recount_owed_at_close_is_made_by_the_reaper)
{
	struct shoal_store *s = tu_store(MiB);
	uint64_t objects = tu_stats(s).objects;
	shoal_id x = shoal_id_next(s);
	uint32_t idx;
	struct sc_child a;

	tu_assert_rc(tu_put(s, x, SC_SIZE, 7, 0), 0);
	idx = sc_idx(s, x);
	a = sc_stalled_to(s, x, SC_PIN, SHOAL__CP_REF_INTENT, true);
	sc_killed(s, x, SC_PIN);
	tu_assert_rc(shoal_store_reap(s), 1, "the reap of B");
	atomic_store(&s->hdr->repair,
		     (uint64_t)(idx + 1) | ((uint64_t)(s->slot + 1) << 25) |
			     ((uint64_t)(s->slot_gen & 0xffffffu) << 38));
	cr_assert_eq(kill(a.pid, SIGCONT), 0);
	cr_assert_eq(tu_read_byte(a.report, TU_CHILD_DEADLINE_MS + 5000), 'k');
	cr_assert_eq(SHOAL__CTL_PINS(sc_ctl(s, idx)), 2, "not the owed case");
	tu_write_byte(a.go, 'g');
	tu_wait_result(a.pid); /* its close's recount may give up */
	atomic_store(&s->hdr->repair, 0);
	shoal_store_reap(s);
	cr_assert_eq(SHOAL__CTL_PINS(sc_ctl(s, idx)), 0, "pins %u after A's reap",
		     SHOAL__CTL_PINS(sc_ctl(s, idx)));
	tu_assert_rc(shoal_delete(s, x), 0);
	tu_assert_rc(shoal_drop(s, x), 0);
	cr_assert_neq(SHOAL__CTL_STATE(sc_ctl(s, idx)), SHOAL__E_SEALED,
		      "x outlived its last pin (a pin leaked)");
	cr_assert_eq(tu_stats(s).objects, objects);
	close(a.go);
	close(a.report);
	shoal_store_close(s);
}

/* R: attached before D dies (its attach reaps nothing), then on the go
 * reaps D, stopped at REAP_GIVEN (D's pin off x, its record still
 * flagged); once continued it reports the reap's count and closes. */
static struct sc_child sc_reaper(struct shoal_store *s)
{
	struct sc_child r;
	int rep[2], go[2];

	tu_pipe(rep);
	tu_pipe(go);
	r.pid = tu_fork();
	if (r.pid == 0) {
		struct shoal_store *c;
		int n;

		close(rep[0]);
		close(go[1]);
		if (shoal_store_attach_fd(shoal_store_fd(s), &c))
			_exit(1);
		tu_child_write_byte(rep[1], 'a');
		tu_child_read_byte(go[0]);
		shoal__crash_arm(&c->crash, SHOAL__CP_REAP_GIVEN, 1);
		c->crash.stop = true;
		n = shoal_store_reap(c);
		tu_child_write_byte(rep[1], n == 1 ? 'k' : 'e');
		shoal_store_close(c);
		_exit(0);
	}
	close(rep[1]);
	close(go[0]);
	r.report = rep[0];
	r.go = go[1];
	cr_assert_eq(tu_read_byte(r.report, TU_CHILD_DEADLINE_MS), 'a',
		     "R did not attach");
	return r;
}

/*
 * A reaper stalled between giving a dead process's pin back and crossing
 * its record out (REAP_GIVEN), while a repair recounts the same entry:
 * past its bound the repair counts the flagged record as it stands (it
 * cannot tell whether the counts left the entry already), and they had:
 * the pin stayed on x with no ledger naming it, for good ("sealed,
 * 0 holds, 1 pin", the chaos test's LEAK under load).  Now the repair
 * stamps the reaper, which recounts x once it has crossed the record out.
 */
Test(stalled_count, a_reaper_stalled_after_its_give_back_leaks_no_pin)
{
	struct shoal_store *s = tu_store(MiB);
	uint64_t objects = tu_stats(s).objects;
	shoal_id x = shoal_id_next(s);
	struct sc_child r;
	uint32_t idx;
	pid_t d;
	uint64_t c;

	tu_assert_rc(tu_put(s, x, SC_SIZE, 7, 0), 0);
	idx = sc_idx(s, x);
	d = sc_pinned(s, x);
	r = sc_reaper(s);
	cr_assert_eq(kill(d, SIGKILL), 0);
	cr_assert(WIFSIGNALED(tu_wait_status(d, TU_CHILD_DEADLINE_MS)));
	tu_write_byte(r.go, 'g');
	cr_assert(tu_await_state(r.pid, 'T', TU_CHILD_DEADLINE_MS),
		  "R never stopped at REAP_GIVEN");
	cr_assert_eq(SHOAL__CTL_PINS(sc_ctl(s, idx)), 0, "D's pin not given");
	sc_killed(s, x, SC_PIN);
	tu_assert_rc(shoal_store_reap(s), 1, "the reap of B");
	cr_assert_eq(kill(r.pid, SIGCONT), 0);
	cr_assert_eq(tu_read_byte(r.report, TU_CHILD_DEADLINE_MS + 5000), 'k',
		     "R's reap of D failed");
	tu_assert_rc(tu_wait_result(r.pid), 0);
	close(r.go);
	close(r.report);

	c = sc_ctl(s, idx);
	cr_assert_eq(SHOAL__CTL_PINS(c), 0, "pins %u: a pin nobody has leaked",
		     SHOAL__CTL_PINS(c));
	cr_assert_eq(SHOAL__CTL_HOLDS(c), 1, "holds %u, want the test's one",
		     SHOAL__CTL_HOLDS(c));
	tu_assert_rc(shoal_drop(s, x), 0);
	shoal_store_reap(s);
	shoal_evict(s, UINT64_MAX);
	cr_assert_eq(tu_stats(s).objects, objects);
	shoal_store_close(s);
}

/*
 * The same window in a close: a process giving its own pin back (its
 * close runs a reaper's steps on its slot) stopped at REAP_GIVEN, while
 * a repair recounts the entry: the repair stamps it, and its close
 * recounts the entry once the record is crossed out.
 */
Test(stalled_count, a_closer_stalled_after_its_give_back_leaks_no_pin)
{
	struct shoal_store *s = tu_store(MiB);
	uint64_t objects = tu_stats(s).objects;
	shoal_id x = shoal_id_next(s);
	uint32_t idx;
	pid_t a;

	tu_assert_rc(tu_put(s, x, SC_SIZE, 7, 0), 0);
	idx = sc_idx(s, x);
	a = tu_fork();
	if (a == 0) {
		struct shoal_store *c;
		struct shoal_view v;

		if (shoal_store_attach_fd(shoal_store_fd(s), &c) ||
		    shoal_get(c, x, 0, &v))
			_exit(1);
		shoal__crash_arm(&c->crash, SHOAL__CP_REAP_GIVEN, 1);
		c->crash.stop = true;
		shoal_store_close(c); /* the pin goes with the close */
		_exit(0);
	}
	cr_assert(tu_await_state(a, 'T', TU_CHILD_DEADLINE_MS),
		  "A never stopped at REAP_GIVEN");
	cr_assert_eq(SHOAL__CTL_PINS(sc_ctl(s, idx)), 0, "A's pin not given");
	sc_killed(s, x, SC_PIN);
	tu_assert_rc(shoal_store_reap(s), 1, "the reap of B");
	cr_assert_eq(kill(a, SIGCONT), 0);
	tu_assert_rc(tu_wait_result(a), 0, "A's close");

	cr_assert_eq(SHOAL__CTL_PINS(sc_ctl(s, idx)), 0,
		     "pins %u: a pin nobody has leaked",
		     SHOAL__CTL_PINS(sc_ctl(s, idx)));
	tu_assert_rc(shoal_drop(s, x), 0);
	shoal_store_reap(s);
	shoal_evict(s, UINT64_MAX);
	cr_assert_eq(tu_stats(s).objects, objects);
	shoal_store_close(s);
}

/* A: attached, holding x, stopped by itself between changes; on the go
 * byte (after a SIGCONT) it drops x and leaves. */
struct sc_holder {
	pid_t pid;
	int go;
};

static struct sc_holder sc_holder_stopped(struct shoal_store *s, shoal_id x)
{
	struct sc_holder a;
	int rep[2], go[2];

	tu_pipe(rep);
	tu_pipe(go);
	a.pid = tu_fork();
	if (a.pid == 0) {
		struct shoal_store *cs;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &cs) == 0, 10);
		TU_CHILD_CHECK(shoal_hold(cs, x) == 0, 11);
		tu_child_write_byte(rep[1], 'k');
		raise(SIGSTOP);
		tu_child_read_byte(go[0]);
		TU_CHILD_CHECK(shoal_drop(cs, x) == 0, 12);
		shoal_store_close(cs);
		_exit(0);
	}
	a.go = go[1];
	cr_assert_eq(tu_read_byte(rep[0], TU_CHILD_DEADLINE_MS), 'k');
	cr_assert(tu_await_state(a.pid, 'T', TU_CHILD_DEADLINE_MS),
		  "A never stopped");
	return a;
}

static void sc_holder_let_go(struct sc_holder *a)
{
	cr_assert_eq(kill(a->pid, SIGCONT), 0);
	tu_write_byte(a->go, 'g');
	tu_assert_rc(tu_wait_result(a->pid), 0, "A's drop");
}

/* What a recount reading A's ledger sees of an owner that runs and
 * deletes records (ledger.c), played by the test while A is stopped: its
 * seqcount odd and moving on before each store, as the owner's is
 * (shoal__ledger_step), and, if rec is set, x's record (at slot h, the
 * slot after it empty) moved as a deletion moves it: another record D put
 * at h and x at h + 1, then D deleted (x copied back to h, h + 1 emptied), over
 * and over, until `until_ms` or until the test sets `phase` to 3; then the
 * table as it was and the count even.  Every state between two stores has
 * x's record where a probe finds it, but a probe that spans two stores
 * can miss it (h read while D is there, h + 1 after it is emptied): a
 * reader must see the count move then.  Without rec, a seqcount that
 * never stands still nor goes even (a scribbler's). */
struct sc_tear {
	_Atomic uint32_t *seq;
	_Atomic uint64_t *rec; /* x's record; NULL: the count alone */
	_Atomic uint64_t *next; /* the slot after it, empty */
	uint64_t keep;         /* x's record */
	uint64_t other;        /* D's */
	int64_t until_ms;
	_Atomic int phase; /* 1: tearing; 2: whole again; 3: stop (test) */
};

/* One store of the owner's deletion, after its step of the count. */
static void sc_tear_store(struct sc_tear *t, _Atomic uint64_t *at, uint64_t r)
{
	atomic_fetch_add(t->seq, (atomic_load(t->seq) & 1) ? 2 : 1);
	if (at)
		atomic_store(at, r);
}

static void *sc_tear_run(void *arg)
{
	struct sc_tear *t = arg;
	_Atomic uint64_t *h = t->rec, *h1 = t->next;

	sc_tear_store(t, h1, t->keep);
	sc_tear_store(t, h, t->other);
	atomic_store(&t->phase, 1);
	while (atomic_load(&t->phase) != 3 && tu_now_ms() < t->until_ms) {
		sc_tear_store(t, h, t->keep);  /* D deleted: x copied back */
		sc_tear_store(t, h1, 0);       /* ... and its old slot emptied */
		sc_tear_store(t, h1, t->keep); /* x out again ... */
		sc_tear_store(t, h, t->other); /* ... D back at h */
		for (int i = 0; i < 64; i++)
			shoal__cpu_relax();
	}
	sc_tear_store(t, h, t->keep);
	sc_tear_store(t, h1, 0);
	atomic_fetch_add(t->seq, 1); /* even */
	atomic_store(&t->phase, 2);
	return NULL;
}

/* A (attached, holding x, stopped between changes): x's record in its
 * ledger, and where it is. */
static _Atomic uint64_t *sc_record_of(struct shoal_store *s, uint32_t slot,
				      uint32_t idx)
{
	uint32_t mask;
	_Atomic uint64_t *l = shoal__ledger_table(s, slot, &mask);

	for (uint32_t p = 0; p <= mask; p++)
		if (SHOAL__LEDGER_KEY(atomic_load(&l[p])) == idx + 1)
			return &l[p];
	cr_assert_fail("no record of x in A's ledger");
	return NULL;
}

/* x's record in A's ledger at rec: the slot after it (empty) and D's
 * record (a key A has no record of, one hold) for sc_tear. */
static void sc_tear_place(struct shoal_store *s, struct sc_tear *t, uint32_t slot,
			  uint32_t idx)
{
	uint32_t mask;
	_Atomic uint64_t *l = shoal__ledger_table(s, slot, &mask);
	uint32_t p = (uint32_t)(t->rec - l);

	t->next = &l[(p + 1) & mask];
	cr_assert_eq(atomic_load(t->next), 0, "the slot after x's record is taken");
	t->other = SHOAL__LEDGER_REC(((idx + 1) & s->dir_mask) + 1, 0, 1);
}

/*
 * A recount past its bound must not count from a ledger its running
 * owner is in the middle of changing: the read may miss a record, and a
 * hold counted too few lets the object go under its holder.  x is held
 * by the test and by A; B dies in a hold of x (its reap recounts x); A's
 * ledger is seen moving as a running owner's deletions move it (sc_tear)
 * for up to 2.5 s, past the recount's 1 s bound.  The recount must count
 * A's hold.  Before ac26e0d, it took a torn read once its bound had
 * passed: holds 1 (the test's), A's hold left out (against the deletions
 * as they were then played: x's record out of its slot while the count
 * moved).  A lookup spans two of the owner's stores only rarely, so this
 * is a check of the protocol under a running owner, not a reproduction.
 */
Test(stalled_count, a_recount_counts_no_torn_ledger_of_a_running_owner)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id x = shoal_id_next(s);
	struct sc_tear t = {0};
	struct sc_holder a;
	pthread_t th;
	uint32_t idx;
	uint64_t c;

	tu_assert_rc(tu_put(s, x, SC_SIZE, 7, 0), 0);
	idx = sc_idx(s, x);
	a = sc_holder_stopped(s, x);
	t.seq = &s->procs[tu_live_slot_of(s, a.pid)].ledger_seq;
	t.rec = sc_record_of(s, tu_live_slot_of(s, a.pid), idx);
	t.keep = atomic_load(t.rec);
	cr_assert_eq(SHOAL__LEDGER_HOLDS(t.keep), 1);
	sc_tear_place(s, &t, tu_live_slot_of(s, a.pid), idx);
	sc_killed(s, x, SC_HOLD);
	t.until_ms = tu_now_ms() + 2 * SHOAL__LOCK_MIN_MS + 500;
	cr_assert_eq(pthread_create(&th, NULL, sc_tear_run, &t), 0);
	while (atomic_load(&t.phase) != 1)
		sched_yield();
	tu_assert_rc(shoal_store_reap(s), 1, "the reap of B");
	atomic_store(&t.phase, 3);
	cr_assert_eq(pthread_join(th, NULL), 0);
	c = sc_ctl(s, idx);
	cr_assert_eq(SHOAL__CTL_HOLDS(c), 2, "holds %u, want the test's and A's "
		     "(a torn read of A's ledger counted)", SHOAL__CTL_HOLDS(c));
	sc_holder_let_go(&a);
	tu_assert_rc(shoal_drop(s, x), 0);
	c = sc_ctl(s, idx);
	cr_assert_eq(SHOAL__CTL_HOLDS(c), 0, "a hold leaked");
	tu_assert_rc(shoal_delete(s, x), 0);
	shoal_store_close(s);
}

/*
 * A recount's read of a live ledger whose odd seqcount keeps moving is
 * bounded in time (SHOAL__LEDGER_MOVING_MS past the recount's bound), not
 * in tries, each a /proc read and a yield; the repair word is held all
 * the while.  The reap must still end
 * within a few of its bounds (before ac26e0d: one bound, ~1 s).  Three
 * processes that spin make each yield cost a timeslice: 2^20 tries then
 * last minutes, not seconds (the toggler gives up after 8 s).
 */
Test(stalled_count, a_recount_against_a_seqcount_moving_for_ever_ends_in_time)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id x = shoal_id_next(s);
	struct sc_tear t = {0};
	struct sc_holder a;
	pthread_t th;
	int64_t t0, took;
	pid_t hog[3];

	tu_assert_rc(tu_put(s, x, SC_SIZE, 7, 0), 0);
	a = sc_holder_stopped(s, x);
	t.seq = &s->procs[tu_live_slot_of(s, a.pid)].ledger_seq;
	sc_killed(s, x, SC_HOLD);
	for (int i = 0; i < 3; i++) {
		hog[i] = tu_fork();
		if (hog[i] == 0)
			for (;;)
				shoal__cpu_relax();
	}
	t.until_ms = tu_now_ms() + 8000;
	cr_assert_eq(pthread_create(&th, NULL, sc_tear_run, &t), 0);
	while (atomic_load(&t.phase) != 1)
		sched_yield();
	t0 = tu_now_ms();
	tu_assert_rc(shoal_store_reap(s), 1, "the reap of B");
	took = tu_now_ms() - t0;
	atomic_store(&t.phase, 3);
	for (int i = 0; i < 3; i++) {
		kill(hog[i], SIGKILL);
		waitpid(hog[i], NULL, 0);
	}
	cr_assert_eq(pthread_join(th, NULL), 0);
	sc_holder_let_go(&a);
	tu_assert_rc(shoal_drop(s, x), 0);
	tu_assert_rc(shoal_delete(s, x), 0);
	shoal_store_close(s);
	cr_assert_lt(took, 5 * SHOAL__LOCK_MIN_MS,
		     "the reap took %lld ms against a moving seqcount "
		     "(repair word held meanwhile)", (long long)took);
}

/* Two objects whose records share a home in a base ledger table (64
 * records: ledger.c's hash of the entry index), so that the second one
 * held lands in the slot after the first's. */
static void sc_colliding(struct shoal_store *s, shoal_id *d, shoal_id *x)
{
	uint32_t mask = s->geo.ledger_base - 1, seen[64];
	shoal_id ids[64];

	cr_assert_leq(s->geo.ledger_base, 64u);
	for (uint32_t n = 0; n < 64; n++) {
		uint32_t home;

		ids[n] = shoal_id_next(s);
		tu_assert_rc(tu_put(s, ids[n], SC_SIZE, n, 0), 0);
		home = (sc_idx(s, ids[n]) * 0x9e3779b1u) & mask;
		for (uint32_t k = 0; k < n; k++)
			if (seen[k] == home) {
				*d = ids[k];
				*x = ids[n];
				return;
			}
		seen[n] = home;
	}
	cr_assert_fail("no two of 64 objects share a ledger home");
}

/*
 * An owner stopped in the middle of a deletion that moves a record is
 * read at once, and exactly: each state between two of its stores has a
 * seqcount of its own (ledger.c, shoal__ledger_step), in which a lookup
 * finds every record.  A holds d and then x (x's record in the slot after
 * d's, their home the same) and drops d: the backward shift copies x's
 * record into d's slot, and A is stopped there (LEDGER_MOVED), x's record
 * in two slots and the count odd.  B dies in a hold of x; the test's reap
 * recounts x from A's ledger.  It must count A's hold once (holds 2: the
 * test's and A's) and not wait: before, a count that stood odd was waited
 * for past the recount's bound (SHOAL__LOCK_MIN_MS) and 50 ms more, the
 * repair word held all the while, and then read as it stood.
 */
Test(stalled_count, an_owner_stopped_in_a_deletion_is_read_at_once_and_exactly)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id d, x;
	int rep[2], go[2];
	int64_t t0, took;
	uint32_t idx;
	pid_t a;

	sc_colliding(s, &d, &x);
	idx = sc_idx(s, x);
	tu_pipe(rep);
	tu_pipe(go);
	a = tu_fork();
	if (a == 0) {
		struct shoal_store *c;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, 10);
		TU_CHILD_CHECK(shoal_hold(c, d) == 0 && shoal_hold(c, x) == 0, 11);
		tu_child_write_byte(rep[1], 'k');
		tu_child_read_byte(go[0]);
		shoal__crash_arm(&c->crash, SHOAL__CP_LEDGER_MOVED, 1);
		c->crash.stop = true;
		TU_CHILD_CHECK(shoal_drop(c, d) == 0, 12);
		tu_child_read_byte(go[0]);
		TU_CHILD_CHECK(shoal_drop(c, x) == 0, 13);
		shoal_store_close(c);
		_exit(0);
	}
	cr_assert_eq(tu_read_byte(rep[0], TU_CHILD_DEADLINE_MS), 'k');
	sc_killed(s, x, SC_HOLD);
	tu_write_byte(go[1], 'g');
	cr_assert(tu_await_state(a, 'T', TU_CHILD_DEADLINE_MS),
		  "A never stopped in its deletion");
	cr_assert(atomic_load(&s->procs[tu_live_slot_of(s, a)].ledger_seq) & 1,
		  "A stopped outside a deletion");

	t0 = tu_now_ms();
	tu_assert_rc(shoal_store_reap(s), 1, "the reap of B");
	took = tu_now_ms() - t0;
	cr_assert_eq(SHOAL__CTL_HOLDS(sc_ctl(s, idx)), 2,
		     "holds %u, want the test's and A's", SHOAL__CTL_HOLDS(sc_ctl(s, idx)));
	cr_assert_lt(took, SHOAL__LOCK_MIN_MS / 2,
		     "the recount took %lld ms: it waited for A's deletion",
		     (long long)took);

	cr_assert_eq(kill(a, SIGCONT), 0);
	tu_write_byte(go[1], 'g');
	tu_assert_rc(tu_wait_result(a), 0, "A's drops");
	cr_assert_eq(SHOAL__CTL_HOLDS(sc_ctl(s, idx)), 1, "a hold leaked");
	tu_assert_rc(shoal_drop(s, x), 0);
	tu_assert_rc(shoal_delete(s, x), 0);
	shoal_store_close(s);
}
