/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/stalled.h - the children of the stalled-count tests
 * (test_stalled_count.c, test_stalled_nomembarrier.c,
 * test_giveback_owed.c): A, stopped at a crash point in the middle of a
 * pin or hold and let go on a byte; B, killed at REF_CAS in the same
 * change; D, pinning an object until it is killed.  Header-only (static inline):
 * each test links the crash-point build its own way.  Synchronisation is
 * by pipes and /proc's view of the stopped child, never by time.
 */
#ifndef SHOAL_TEST_STALLED_H
#define SHOAL_TEST_STALLED_H

#include "testutil.h"
#include "internal.h"

#include <signal.h>
#include <sys/wait.h>

enum sc_op { SC_PIN, SC_HOLD };

struct sc_child {
	pid_t pid;
	int report; /* A: one byte when its call returned ('k' or 'e') */
	int go;     /* A: one byte to let go */
};

/* The directory index of id's entry (asserted). */
static inline uint32_t sc_idx(struct shoal_store *s, shoal_id id)
{
	uint64_t c;
	int idx = shoal__dir_lookup(s, id, &c);

	cr_assert_geq(idx, 0, "no entry for the object");
	return (uint32_t)idx;
}

/* One pin or hold of x through c, with `point` armed to stop (A) or to
 * kill (B) at its first pass.  0, or the call's error. */
static inline int sc_change(struct shoal_store *c, shoal_id x,
			    enum sc_op op, unsigned point, bool stop,
			    struct shoal_view *v)
{
	shoal__crash_arm(&c->crash, point, 1);
	c->crash.stop = stop;
	return op == SC_PIN ? shoal_get(c, x, 0, v) : shoal_hold(c, x);
}

/* A: stops at `point` inside its change, reports once its call returned,
 * waits for the go, lets go (release or drop; with `keep`, not: its close
 * gives its counts back), closes. */
static inline struct sc_child sc_stalled_to(struct shoal_store *s,
					    shoal_id x, enum sc_op op,
					    unsigned point, bool keep)
{
	struct sc_child a;
	int rep[2], go[2];

	tu_pipe(rep);
	tu_pipe(go);
	a.pid = tu_fork();
	if (a.pid == 0) {
		struct shoal_store *c;
		struct shoal_view v;
		int rc;

		close(rep[0]);
		close(go[1]);
		if (shoal_store_attach_fd(shoal_store_fd(s), &c))
			_exit(1);
		rc = sc_change(c, x, op, point, true, &v);
		tu_child_write_byte(rep[1], rc == 0 ? 'k' : 'e');
		if (rc)
			_exit(tu_err_to_exit(rc));
		tu_child_read_byte(go[0]);
		if (!keep)
			rc = op == SC_PIN ? shoal_release(c, &v) : shoal_drop(c, x);
		shoal_store_close(c);
		_exit(tu_err_to_exit(rc));
	}
	close(rep[1]);
	close(go[0]);
	a.report = rep[0];
	a.go = go[1];
	cr_assert(tu_await_state(a.pid, 'T', TU_CHILD_DEADLINE_MS),
		  "A never stopped at its point");
	return a;
}

static inline struct sc_child sc_stalled(struct shoal_store *s, shoal_id x,
					 enum sc_op op, unsigned point)
{
	return sc_stalled_to(s, x, op, point, false);
}

/* B: killed at REF_CAS inside the same change (its CAS made, its ledger
 * not), so that its reap recounts the entry. */
static inline void sc_killed(struct shoal_store *s, shoal_id x, enum sc_op op)
{
	pid_t pid = tu_fork();
	int st;

	if (pid == 0) {
		struct shoal_store *c;
		struct shoal_view v;

		if (shoal_store_attach_fd(shoal_store_fd(s), &c))
			_exit(1);
		sc_change(c, x, op, SHOAL__CP_REF_CAS, false, &v);
		_exit(2); /* not killed */
	}
	st = tu_wait_status(pid, TU_CHILD_DEADLINE_MS);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "B was not killed at REF_CAS (status %d)", st);
}

/* D: pins x, reports, waits to be killed (its ledger keeps the pin). */
static inline pid_t sc_pinned(struct shoal_store *s, shoal_id x)
{
	int rep[2];
	pid_t pid;

	tu_pipe(rep);
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_store *c;
		struct shoal_view v;

		close(rep[0]);
		if (shoal_store_attach_fd(shoal_store_fd(s), &c) ||
		    shoal_get(c, x, 0, &v))
			_exit(1);
		tu_child_write_byte(rep[1], 'p');
		for (;;)
			pause();
	}
	close(rep[1]);
	cr_assert_eq(tu_read_byte(rep[0], TU_CHILD_DEADLINE_MS), 'p',
		     "D did not pin x");
	close(rep[0]);
	return pid;
}

#endif /* SHOAL_TEST_STALLED_H */
