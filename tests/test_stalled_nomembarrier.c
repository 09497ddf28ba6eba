/* SPDX-License-Identifier: MIT */
/*
 * tests/test_stalled_nomembarrier.c - a repair whose kernel gives it no
 * membarrier (ENOSYS: an old kernel, or a seccomp filter, as a container
 * runtime's may be) meets a live process stopped in the middle of a count
 * change on the entry it recounts.
 *
 * repair.c's stamp (object_int.h, "Stalls") needs MEMBARRIER_CMD_GLOBAL;
 * without it the repair's wait for the stopped process's intent has no
 * bound: the reaper's call never returns while its neighbour stays
 * stopped, it keeps the segment's one repair word (every other repair,
 * hence every reap, gives up), and every count change on the entry gives
 * up too.  The store's promise is that nobody hangs, whoever stops.
 *
 * Such a process now may not take a slot: create and attach refuse it
 * with SHOAL_ENOMEMBARRIER (store/proc.c), so every repairer can stamp.
 * The scenario is test_stalled_count's (tests/lib/stalled.h): A
 * stopped at REF_CAS in a pin of x, B killed at REF_CAS in a pin of x; a
 * child R whose seccomp filter answers membarrier with ENOSYS tries to
 * attach (and so to reap B) and is refused at once; the reap of B is then
 * made by the test's own process, which must return while A stays
 * stopped, and x's counts must be right once A lets go.  Before the
 * refusal, R's attach never returned (3ec5cb0); SN_WITH_MEMBARRIER=1 runs
 * the control, where R attaches and reaps.
 *
 * The refusal asks membarrier's QUERY, which is no promise: a filter may
 * let QUERY through and refuse MEMBARRIER_CMD_GLOBAL itself (EPERM), or
 * come after the claim.  The stamp_fails tests install such a filter in
 * a repairer R that has attached already (so before B dies, or R's
 * attach would reap B with its membarrier still working); R's reap of B
 * must return within its bound, leave the repair word free (the test's
 * own repair of another entry takes it), and count A's change as applied; once A runs on, x's counts must be at least
 * what the live ledgers name: equal if A sees R's stamp (it does: it was
 * stopped when R stamped), and never fewer if A does not (the test takes
 * the stamp back from A's slot while A is stopped, as if A's look had
 * missed it, which without the membarrier nothing excludes).  Before,
 * R's recount waited for A without a bound.
 */
#include "testutil.h"
#include "internal.h"
#include "stalled.h"

#include <linux/filter.h>
#include <linux/membarrier.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

TestSuite(stalled_nomembarrier, .init = tu_setup, .fini = tu_teardown,
	  .timeout = 60);

#define MiB (1024u * 1024u)
#define SC_SIZE 3000u

/* Installs the seccomp filter f (n statements) on this process, for good. */
static int sn_filter(struct sock_filter *f, unsigned short n)
{
	struct sock_fprog p = {.len = n, .filter = f};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p);
}

/* This process's membarrier answers ENOSYS from now on (x86-64 numbers:
 * the filter does not check the arch, a test's shortcut). */
static int sn_no_membarrier(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_membarrier, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};

	return sn_filter(f, sizeof f / sizeof f[0]);
}

/* R: a child without membarrier (unless SN_WITH_MEMBARRIER=1) that
 * attaches to s and reaps; one byte: 'n' refused with
 * SHOAL_ENOMEMBARRIER, 'k' attached and reaped, 'e' anything else. */
static pid_t sn_reaper(struct shoal_store *s, int out)
{
	pid_t r = tu_fork();

	if (r == 0) {
		struct shoal_store *c;
		int rc;

		/* SN_WITH_MEMBARRIER=1: the control. */
		if (!getenv("SN_WITH_MEMBARRIER") &&
		    (sn_no_membarrier() ||
		     syscall(SYS_membarrier, 0 /* QUERY */, 0, 0) != -1))
			_exit(3);
		rc = shoal_store_attach_fd(shoal_store_fd(s), &c);
		if (rc) {
			tu_child_write_byte(out, rc == SHOAL_ENOMEMBARRIER ? 'n' : 'e');
			_exit(0);
		}
		tu_child_write_byte(out, shoal_store_reap(c) >= 0 ? 'k' : 'e');
		shoal_store_close(c);
		_exit(0);
	}
	return r;
}

Test(stalled_nomembarrier, a_process_without_membarrier_is_refused_and_nobody_hangs)
{
	struct shoal_store *s = tu_store(MiB);
	shoal_id x = shoal_id_next(s);
	bool control = getenv("SN_WITH_MEMBARRIER") != NULL;
	struct sc_child a;
	struct shoal_view v;
	int rep[2];
	pid_t r;

	tu_assert_rc(tu_put(s, x, SC_SIZE, 7, 0), 0);
	a = sc_stalled(s, x, SC_PIN, SHOAL__CP_REF_CAS);
	sc_killed(s, x, SC_PIN);
	tu_pipe(rep);
	r = sn_reaper(s, rep[1]);
	close(rep[1]);
	/* A stays stopped: R is refused at once (or, with membarrier,
	 * reaps within its bound, SHOAL__LOCK_MIN_MS past its first wait). */
	cr_assert_eq(tu_read_byte(rep[0], TU_CHILD_DEADLINE_MS), control ? 'k' : 'n',
		     "R's attach: want %s", control ? "a reap" : "SHOAL_ENOMEMBARRIER");
	tu_assert_rc(tu_wait_result(r), 0, "R");
	/* Our own reap of B (we have membarrier) stamps A and returns. */
	cr_assert_geq(shoal_store_reap(s), 0);
	cr_assert_eq(kill(a.pid, SIGCONT), 0);
	cr_assert_eq(tu_read_byte(a.report, TU_CHILD_DEADLINE_MS), 'k');
	tu_write_byte(a.go, 'g');
	tu_assert_rc(tu_wait_result(a.pid), 0, "A's release");
	/* Every pin went: x is ours alone, and a delete ends it. */
	tu_assert_rc(shoal_get(s, x, 0, &v), 0);
	tu_assert_rc(shoal_release(s, &v), 0);
	tu_assert_rc(shoal_delete(s, x), 0);
	close(rep[0]);
	close(a.go);
	close(a.report);
	shoal_store_close(s);
}

Test(stalled_nomembarrier, a_store_is_not_made_without_membarrier)
{
	int rep[2];
	pid_t r;

	tu_pipe(rep);
	r = tu_fork();
	if (r == 0) {
		struct shoal_store *c = NULL;
		struct shoal_store_options o;
		int rc;

		close(rep[0]);
		if (sn_no_membarrier())
			_exit(3);
		shoal_store_options_init(&o);
		o.capacity = MiB;
		rc = shoal_store_create(NULL, &o, &c);
		tu_child_write_byte(rep[1], rc == SHOAL_ENOMEMBARRIER && !c ? 'n' : 'e');
		if (!rc)
			shoal_store_close(c);
		_exit(0);
	}
	close(rep[1]);
	cr_assert_eq(tu_read_byte(rep[0], TU_CHILD_DEADLINE_MS), 'n',
		     "create without membarrier: want SHOAL_ENOMEMBARRIER");
	tu_assert_rc(tu_wait_result(r), 0, "child");
	close(rep[0]);
}

/* This process's MEMBARRIER_CMD_GLOBAL fails with EPERM from now on, its
 * QUERY still answers (x86-64 numbers, as above; the command is the
 * argument's low 32 bits, little-endian). */
static int sn_global_fails(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_membarrier, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, args[0])),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MEMBARRIER_CMD_GLOBAL, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};

	return sn_filter(f, sizeof f / sizeof f[0]);
}

/* R: attaches to s, then installs sn_global_fails and checks that QUERY
 * still says GLOBAL and GLOBAL fails ('a', or exit 3); on a byte from
 * `go` reaps ('k': one slot reaped, 'e' anything else) and closes. */
static pid_t sn_stamp_failing_reaper(struct shoal_store *s, int go, int out)
{
	pid_t r = tu_fork();

	if (r == 0) {
		struct shoal_store *c;
		int rc;

		if (shoal_store_attach_fd(shoal_store_fd(s), &c))
			_exit(1);
		if (sn_global_fails() || !shoal__membarrier_ok() ||
		    syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) != -1 ||
		    errno != EPERM)
			_exit(3);
		tu_child_write_byte(out, 'a');
		tu_child_read_byte(go);
		rc = shoal_store_reap(c);
		tu_child_write_byte(out, rc == 1 ? 'k' : 'e');
		shoal_store_close(c);
		_exit(0);
	}
	return r;
}

/* The one slot whose intent's ref word names idx (A, stopped in its
 * change). */
static uint32_t sn_changing(struct shoal_store *s, uint32_t idx)
{
	uint32_t found = UINT32_MAX;

	for (uint32_t q = 0; q < s->geo.max_procs; q++)
		if (SHOAL__LEDGER_KEY(atomic_load(&s->procs[q].intent.ref)) ==
		    idx + 1) {
			cr_assert_eq(found, UINT32_MAX, "two slots change x");
			found = q;
		}
	cr_assert_neq(found, UINT32_MAX, "A's intent does not name x");
	return found;
}

/* What the live slots' ledgers name for idx, summed. */
static void sn_ledgers(struct shoal_store *s, uint32_t idx, uint32_t *pins,
		       uint32_t *holds)
{
	struct shoal__later by = shoal__lock_by(0);

	*pins = 0;
	*holds = 0;
	for (uint32_t q = 0; q < s->geo.max_procs; q++) {
		uint64_t st = atomic_load(&s->procs[q].state);
		uint64_t r;

		if (SHOAL__PROC_PHASE(st) != SHOAL__PROC_LIVE ||
		    shoal__proc_dead(s, q))
			continue;
		r = shoal__ledger_read_remote(s, q, idx, &by);
		*pins += SHOAL__LEDGER_PINS(r);
		*holds += SHOAL__LEDGER_HOLDS(r);
	}
}

/* x's counts against the live ledgers: never fewer; equal if `exact`. */
static void sn_check_counts(struct shoal_store *s, uint32_t idx, bool exact,
			    const char *when)
{
	uint64_t c = atomic_load(&s->dir[idx].ctl);
	uint32_t pins, holds;

	sn_ledgers(s, idx, &pins, &holds);
	cr_assert(SHOAL__CTL_PINS(c) >= pins && SHOAL__CTL_HOLDS(c) >= holds,
		  "%s: x has %u pins, %u holds, fewer than the ledgers' %u, %u",
		  when, SHOAL__CTL_PINS(c), SHOAL__CTL_HOLDS(c), pins, holds);
	if (exact)
		cr_assert(SHOAL__CTL_PINS(c) == pins && SHOAL__CTL_HOLDS(c) == holds,
			  "%s: x has %u pins, %u holds, the ledgers %u, %u",
			  when, SHOAL__CTL_PINS(c), SHOAL__CTL_HOLDS(c), pins,
			  holds);
}

/* A repair of idx by this process: it takes the word and returns 0. */
static void sn_repair(struct shoal_store *s, uint32_t idx, const char *what)
{
	struct shoal__later by = shoal__lock_by(0);
	int rc;

	shoal__lock(s);
	rc = shoal__obj_repair(s, idx, &by);
	shoal__unlock(s);
	tu_assert_rc(rc, 0, "%s", what);
}

/*
 * x held by the test (and y, another entry); A stopped at `point` in op
 * on x; R attached, its MEMBARRIER_CMD_GLOBAL failing from now on; B
 * killed in op on x; R reaps B: its recount of x waits for A until its
 * bound, stamps A (the membarrier fails) and counts A's change as
 * applied.  `seen`: A finds the stamp when it runs on, or (false) the
 * test takes it back first.
 */
static void sn_stamp_fails(enum sc_op op, unsigned point, bool seen)
{
	struct shoal_store *s = tu_store(MiB);
	uint64_t objects = tu_stats(s).objects;
	shoal_id x = shoal_id_next(s), y = shoal_id_next(s);
	uint32_t idx, qa;
	struct sc_child a;
	int go[2], rep[2];
	int64_t t0;
	uint64_t c;
	pid_t r;

	tu_assert_rc(tu_put(s, x, SC_SIZE, 7, 0), 0);
	tu_assert_rc(tu_put(s, y, SC_SIZE, 8, 0), 0);
	idx = sc_idx(s, x);
	a = sc_stalled(s, x, op, point);
	qa = sn_changing(s, idx);
	tu_pipe(go);
	tu_pipe(rep);
	r = sn_stamp_failing_reaper(s, go[0], rep[1]);
	close(go[0]);
	close(rep[1]);
	cr_assert_eq(tu_read_byte(rep[0], TU_CHILD_DEADLINE_MS), 'a',
		     "R attached with GLOBAL failing and QUERY saying yes");
	sc_killed(s, x, op);
	t0 = tu_now_ms();
	tu_write_byte(go[1], 'g');
	/* The bound: before, R never answered while A stayed stopped. */
	cr_assert_eq(tu_read_byte(rep[0], TU_CHILD_DEADLINE_MS), 'k',
		     "R's reap of B");
	cr_assert_geq(tu_now_ms() - t0, SHOAL__LOCK_MIN_MS,
		      "R's recount did not wait for A: not the scenario");
	tu_assert_rc(tu_wait_result(r), 0, "R");
	cr_assert_eq(tu_proc_state(a.pid), 'T', "A moved on meanwhile");
	cr_assert_eq(atomic_load(&s->hdr->repair), 0, "the repair word is held");
	sn_repair(s, sc_idx(s, y), "another repair, with A still stopped");

	/* A's change counted as applied: its pin or hold is in x. */
	c = atomic_load(&s->dir[idx].ctl);
	cr_assert_eq(op == SC_PIN ? SHOAL__CTL_PINS(c) : SHOAL__CTL_HOLDS(c) - 1,
		     1, "x has %u pins, %u holds: A's change is not counted",
		     SHOAL__CTL_PINS(c), SHOAL__CTL_HOLDS(c));
	cr_assert_eq(atomic_load(&s->procs[qa].stamps), 1, "R did not stamp A");
	if (!seen) /* as if A's look missed it (nothing orders it) */
		atomic_store(&s->procs[qa].stamps, 0);

	cr_assert_eq(kill(a.pid, SIGCONT), 0);
	cr_assert_eq(tu_read_byte(a.report, TU_CHILD_DEADLINE_MS), 'k',
		     "A's call failed");
	sn_check_counts(s, idx, seen, "A's change made");
	tu_write_byte(a.go, 'g');
	tu_assert_rc(tu_wait_result(a.pid), 0, "A's release or drop");
	sn_check_counts(s, idx, seen, "A gone");
	/* A later recount takes a count too many off. */
	sn_repair(s, idx, "the recount after A");
	sn_check_counts(s, idx, true, "recounted");
	c = atomic_load(&s->dir[idx].ctl);
	cr_assert(SHOAL__CTL_PINS(c) == 0 && SHOAL__CTL_HOLDS(c) == 1,
		  "x keeps %u pins, %u holds after everyone but the test let go",
		  SHOAL__CTL_PINS(c), SHOAL__CTL_HOLDS(c));
	tu_assert_rc(shoal_delete(s, x), 0);
	tu_assert_rc(shoal_drop(s, x), 0);
	tu_assert_rc(shoal_delete(s, y), 0);
	tu_assert_rc(shoal_drop(s, y), 0);
	cr_assert_eq(tu_stats(s).objects, objects, "an object outlived its holds");
	close(go[1]);
	close(rep[0]);
	close(a.go);
	close(a.report);
	shoal_store_close(s);
}

Test(stalled_nomembarrier, stamp_fails_pinned_after_cas)
{
	sn_stamp_fails(SC_PIN, SHOAL__CP_REF_CAS, true);
}

Test(stalled_nomembarrier, stamp_fails_pinned_before_cas)
{
	sn_stamp_fails(SC_PIN, SHOAL__CP_REF_INTENT, true);
}

Test(stalled_nomembarrier, stamp_fails_and_is_missed_pin_before_cas)
{
	sn_stamp_fails(SC_PIN, SHOAL__CP_REF_INTENT, false);
}

Test(stalled_nomembarrier, stamp_fails_and_is_missed_hold_after_cas)
{
	sn_stamp_fails(SC_HOLD, SHOAL__CP_REF_CAS, false);
}
