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
 */
#include "testutil.h"
#include "internal.h"
#include "stalled.h"

#include <linux/filter.h>
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
	struct sock_fprog p = {.len = sizeof f / sizeof f[0], .filter = f};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p);
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
