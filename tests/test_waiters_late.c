/* SPDX-License-Identifier: MIT */
/*
 * tests/test_waiters_late.c - a waiter that pushes onto the stack of an
 * entry sealed meanwhile closes that stack itself.
 *
 * A seal that finds an entry's waiter stack empty leaves it open
 * (store/waiters.c, shoal__waiters_close_sealed): the exchange that
 * closed it cost the sealer one more move of the entry's line, which the
 * object's getter spins on.  So a waiter that read the entry unsealed
 * before the seal can still push its record or node after it, and must
 * then see the seal on its reload and close the stack: its own node is
 * drained with it, nothing is left linked on a sealed object.
 *
 * The window is held open: the waiter is armed to stop (SIGSTOP, the
 * crash point WAITERS_PUSHING of base/crash.h) after it read the entry
 * unsealed and before its push; the test seals then, checks that the
 * seal left the stack open, and lets the waiter go.  For a task parked on
 * the object, the fork server (whose deps sweep would clear the
 * argument within its period anyway) is stopped meanwhile, so the task
 * can only run if its submitter closed the stack.
 *
 * A late close must close only the stack its node is on: the waiter
 * holds nothing on the entry, so between its reload and its close the
 * object can end (its end drains the node) and the entry be reused by a
 * new, unsealed object whose stack is open again.  The last test holds a
 * getter there (stop_point.h: the crash point WAITERS_LATE, reached under
 * ptrace) while the test deletes the object and creates it again.
 *
 * The entry may also be between its end and its reuse's publish when a
 * waiter that read it unsealed pushes: the new creator has reset the
 * stack to empty (open) already, and the waiter's reload sees the entry
 * FREE, not sealed: closing then would publish the new object with its
 * stack closed.  A test holds the new creator there (CREATE_FILLED).
 *
 * A waiter killed there, after its late push and before its close, has
 * its close made by its repairer: the reaper of its process for a get's
 * record, the fork server's deps sweep for a parked task's node.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <shoal/shoal.h>

#include "testutil.h"
#include "internal.h"
#include "live_slot.h"
#include "stop_point.h"
#include "crash_check.h"

TestSuite(waiters_late, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

#define WL_WAIT_MS 10000
#define WL_TASK_MS 3000 /* a late close takes microseconds */
#define WL_CLOSED UINT32_MAX /* waiters.c's SHOAL__WAITERS_CLOSED */

#define WL_NO_ENTRY (UINT32_MAX - 1)

/* The waiter-stack head of the entry of id (WL_NO_ENTRY: none); no
 * assertion (called with the fork server stopped). */
static uint32_t wl_head(struct shoal_store *s, shoal_id id)
{
	uint64_t c;
	int idx = shoal__dir_lookup(s, id, &c);

	return idx < 0 ? WL_NO_ENTRY : atomic_load(&s->dir[idx].waiters);
}

static void wl_arm_stop(struct shoal_store *s)
{
	shoal__crash_arm(&s->crash, SHOAL__CP_WAITERS_PUSHING, 1);
	s->crash.stop = 1;
}

/* A child that attaches to s and gets id, stopping before it links its
 * record; exits with the get's code, or TU_EXIT_MISMATCH for other bytes. */
static pid_t wl_getter(struct shoal_store *s, shoal_id id, int64_t want)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		int rc;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, TU_EXIT_IO);
		wl_arm_stop(c);
		rc = tu_get_i64_check(c, id, want, WL_WAIT_MS);
		shoal_store_close(c);
		_exit(rc == TU_EXIT_MISMATCH ? rc : tu_err_to_exit(rc));
	}
	return pid;
}

Test(waiters_late, a_get_that_links_after_a_seal_closes_the_stack_and_wakes)
{
	struct shoal_store_options o = tu_opts(8u << 20);
	struct shoal_store *s = NULL;
	shoal_id id = tu_id(1, 1);
	int64_t val = 42;
	uint32_t open_head = WL_CLOSED;
	bool held;
	void *buf;
	pid_t pid;
	int rc;

	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	tu_assert_rc(shoal_create(s, id, sizeof val, NULL, 0, 0, &buf), 0);
	pid = wl_getter(s, id, val);
	held = tu_await_state(pid, 'T', WL_WAIT_MS);
	if (held) {
		memcpy(buf, &val, sizeof val);
		tu_assert_rc(shoal_seal(s, id), 0);
		open_head = wl_head(s, id);
	}
	kill(pid, SIGCONT);
	cr_assert(held, "the getter never stopped before its push");
	cr_assert_eq(open_head, 0, "a seal with no waiter closed the stack (head %u)",
		     open_head);
	rc = tu_wait_result(pid);
	cr_assert_eq(rc, 0, "the getter: %d (%s)", rc, shoal_strerror(rc));
	cr_assert_eq(wl_head(s, id), WL_CLOSED,
		     "the late waiter left its record on the sealed object's stack");
	tu_assert_rc(shoal_drop(s, id), 0);
	shoal_store_close(s);
}

/* inc(x): x + 1 */
static int wl_inc(struct shoal_task *t, void *user)
{
	const void *d;
	size_t n;
	int64_t v;

	(void)user;
	if (shoal_task_arg(t, 0, &d, &n) || n != sizeof v)
		return shoal_task_fail(t, SHOAL_ETASK, "not an int64");
	memcpy(&v, d, sizeof v);
	v++;
	return shoal_task_return(t, 0, &v, sizeof v);
}

/* A named runtime (one worker, inc registered) for the task tests. */
struct wl_rt {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
	const char *name;
};

static struct wl_rt wl_rt_start(void)
{
	struct wl_rt x = {.name = tu_shm_name("rt")};
	struct shoal_runtime_options o;

	tu_assert_rc(shoal_registry_open(&x.reg), 0);
	tu_assert_rc(shoal_register_task(x.reg, "inc", wl_inc, NULL), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.name = x.name;
	o.store.capacity = 8u << 20;
	tu_assert_rc(shoal_runtime_start(x.reg, &o, &x.rt), 0);
	x.s = shoal_runtime_store(x.rt);
	return x;
}

static void wl_rt_stop(struct wl_rt *x)
{
	tu_assert_rc(shoal_runtime_shutdown(x->rt), 0);
	shoal_registry_close(x->reg);
}

/* An attached submitter of inc(gate), stopped before it pushes the
 * task's node onto gate's stack; writes the exit code of its get of the
 * result (43 expected, within WL_TASK_MS) to fd, then exits with it. */
static pid_t wl_submitter(const char *name, shoal_id gate, int fd)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_runtime *rt = NULL;
		struct shoal_store *s;
		struct shoal_args a;
		struct shoal_view v;
		shoal_id out;
		int64_t got = 0;
		int rc, code;

		TU_CHILD_CHECK(shoal_runtime_attach(name, &rt) == 0, TU_EXIT_IO);
		s = shoal_runtime_store(rt);
		wl_arm_stop(s);
		shoal_args_init(&a);
		shoal_args_ref(&a, gate);
		rc = shoal_submit(rt, shoal_function(rt, "inc"), &a, 1, &out);
		if (rc == 0)
			rc = shoal_get(s, out, WL_TASK_MS, &v);
		if (rc == 0) {
			memcpy(&got, v.data, sizeof got);
			shoal_release(s, &v);
			rc = got == 43 ? 0 : -1;
		}
		code = rc == -1 ? TU_EXIT_MISMATCH : tu_err_to_exit(rc);
		tu_child_write_byte(fd, (char)code);
		_exit(code);
	}
	return pid;
}

/* The code byte a child wrote to fd within ms; -1 if none (no assertion:
 * called with the fork server stopped). */
static int wl_read_code(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	unsigned char c;

	if (poll(&p, 1, ms) != 1 || read(fd, &c, 1) != 1)
		return -1;
	return c;
}

Test(waiters_late, a_task_parked_after_its_argument_was_sealed_runs)
{
	struct wl_rt x = wl_rt_start();
	struct shoal_runtime *rt = x.rt;
	struct shoal_store *s = x.s;
	const char *name = x.name;
	struct shoal_runtime_info info;
	shoal_id gate;
	int64_t val = 42;
	uint32_t open_head = WL_CLOSED, late_head = WL_CLOSED;
	int code = -1, seal_rc = 1, p[2];
	bool held;
	void *buf;
	pid_t pid;

	tu_assert_rc(shoal_runtime_info(rt, &info, NULL, 0), 0);
	gate = shoal_id_next(s);
	tu_assert_rc(shoal_create(s, gate, sizeof val, NULL, 0, 0, &buf), 0);
	tu_pipe(p);
	pid = wl_submitter(name, gate, p[1]);
	held = tu_await_state(pid, 'T', WL_WAIT_MS);
	if (held) {
		memcpy(buf, &val, sizeof val);
		/* Only the submitter's own close can resolve its node now;
		 * nothing below asserts until the fork server runs again. */
		kill(info.fork_server_pid, SIGSTOP);
		seal_rc = shoal_seal(s, gate);
		open_head = wl_head(s, gate);
		kill(pid, SIGCONT);
		code = seal_rc == 0 ? wl_read_code(p[0], WL_TASK_MS + 2000) : -1;
		late_head = wl_head(s, gate);
		kill(info.fork_server_pid, SIGCONT);
	}
	kill(pid, SIGCONT);
	cr_assert(held, "the submitter never stopped before its push");
	tu_assert_rc(seal_rc, 0);
	cr_assert_eq(open_head, 0, "a seal with no waiter closed the stack (head %u)",
		     open_head);
	cr_assert_eq(code, 0, "the parked task never ran without the fork server "
		     "(child code %d)", code);
	cr_assert_eq(late_head, WL_CLOSED,
		     "the late node was left on the sealed object's stack");
	tu_assert_rc(tu_wait_result(pid), 0);
	tu_assert_rc(shoal_drop(s, gate), 0);
	wl_rt_stop(&x);
}

/* A getter of id traced from the start (stop_point.h); exits with the
 * get's code, or TU_EXIT_MISMATCH for bytes other than want. */
static pid_t wl_traced_getter(struct shoal_store *s, shoal_id id, int64_t want)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		int rc;

		sp_child_traceme();
		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, TU_EXIT_IO);
		rc = tu_get_i64_check(c, id, want, WL_WAIT_MS);
		shoal_store_close(c);
		_exit(rc == TU_EXIT_MISMATCH ? rc : tu_err_to_exit(rc));
	}
	return pid;
}

/* The entry index of id, -1 if none. */
static int wl_idx(struct shoal_store *s, shoal_id id)
{
	uint64_t c;

	return shoal__dir_lookup(s, id, &c);
}

Test(waiters_late, a_late_close_after_the_entry_was_reused_leaves_it_open)
{
	struct wl_rt x = wl_rt_start();
	struct shoal_runtime *rt = x.rt;
	struct shoal_store *s = x.s;
	struct sp_tracee t;
	shoal_id id, out = SHOAL_ID_NIL;
	int64_t val = 42;
	uint32_t head = WL_CLOSED;
	int idx0 = -1, idx1 = -2, end_rc = 1, early = 1, rc;
	bool pushing, late = false, again = false;
	struct shoal_view v;
	void *buf;
	pid_t pid;

	id = shoal_id_next(s);
	tu_assert_rc(shoal_create(s, id, sizeof val, NULL, 0, 0, &buf), 0);
	pid = wl_traced_getter(s, id, val);
	sp_start(&t, pid);
	/* Held before its push: the seal leaves the stack open, the getter
	 * pushes onto it and reloads ctl (sealed), held before its close. */
	pushing = sp_wait_at(&t, SHOAL__CP_WAITERS_PUSHING, 1, WL_WAIT_MS);
	if (pushing) {
		memcpy(buf, &val, sizeof val);
		late = shoal_seal(s, id) == 0 &&
		       sp_wait_at(&t, SHOAL__CP_WAITERS_LATE, 1, WL_WAIT_MS);
	}
	if (late) {
		/* The object ends (its end drains the getter's record) and
		 * a new one, the same ID, takes the same entry. */
		idx0 = wl_idx(s, id);
		end_rc = shoal_drop(s, id);
		if (!end_rc)
			end_rc = shoal_delete(s, id);
		if (!end_rc)
			end_rc = shoal_create(s, id, sizeof val, NULL, 0, 0, &buf);
		idx1 = wl_idx(s, id);
		/* The getter's close runs, then its get waits for the new
		 * object: held before that push. */
		again = !end_rc && sp_wait_at(&t, SHOAL__CP_WAITERS_PUSHING, 1,
					      WL_WAIT_MS);
		head = wl_head(s, id);
	}
	sp_detach(&t);
	cr_assert(pushing && late, "the getter was never held (%d, %d)", pushing, late);
	tu_assert_rc(end_rc, 0);
	cr_assert_eq(idx0, idx1, "the new object took another entry (%d, %d)",
		     idx0, idx1);
	cr_assert(again, "the getter never waited for the new object");
	cr_assert_eq(head, 0, "a stale late close closed the unsealed object's "
		     "stack (head %u)", head);
	/* A task on the unsealed object is parked, not run. */
	{
		struct shoal_args a;

		shoal_args_init(&a);
		shoal_args_ref(&a, id);
		tu_assert_rc(shoal_submit(rt, shoal_function(rt, "inc"), &a, 1, &out), 0);
	}
	early = shoal_get(s, out, 500, &v);
	if (early == 0)
		shoal_release(s, &v);
	memcpy(buf, &val, sizeof val);
	tu_assert_rc(shoal_seal(s, id), 0);
	cr_assert_eq(early, -ETIMEDOUT, "the task on the unsealed object ended "
		     "before its seal: %d (%s)", early, shoal_strerror(early));
	rc = shoal_get(s, out, WL_TASK_MS, &v);
	tu_assert_rc(rc, 0);
	cr_assert_eq(*(const int64_t *)v.data, 43);
	shoal_release(s, &v);
	rc = tu_wait_result(pid);
	cr_assert_eq(rc, 0, "the getter: %d (%s)", rc, shoal_strerror(rc));
	tu_assert_rc(shoal_drop(s, out), 0);
	tu_assert_rc(shoal_drop(s, id), 0);
	wl_rt_stop(&x);
}

/* A store-only getter of a sealed object, killed after its late push: its
 * reaper closes the stack (the record is freed by that drain). */
Test(waiters_late, a_getter_killed_after_its_late_push_has_the_stack_closed_by_its_reaper)
{
	struct shoal_store_options o = tu_opts(8u << 20);
	struct shoal_store *s = NULL;
	shoal_id id = tu_id(1, 1);
	int64_t val = 42;
	struct sp_tracee t;
	struct cc_report r = {{0}};
	uint32_t linked = 0;
	bool held = false, whole;
	void *buf;
	pid_t pid;

	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	tu_assert_rc(shoal_create(s, id, sizeof val, NULL, 0, 0, &buf), 0);
	pid = wl_traced_getter(s, id, val);
	sp_start(&t, pid);
	if (sp_wait_at(&t, SHOAL__CP_WAITERS_PUSHING, 1, WL_WAIT_MS)) {
		memcpy(buf, &val, sizeof val);
		held = shoal_seal(s, id) == 0 &&
		       sp_wait_at(&t, SHOAL__CP_WAITERS_LATE, 1, WL_WAIT_MS);
		linked = wl_head(s, id);
	}
	tu_kill(pid);
	cr_assert(held, "the getter was never held after its late push");
	cr_assert_neq(linked, 0, "the getter's record was not linked");
	cr_assert_neq(linked, WL_CLOSED, "the seal closed the stack");
	cr_assert_geq(shoal_store_reap(s), 0);
	whole = cc_check(s, &r);
	cr_assert_eq(wl_head(s, id), WL_CLOSED,
		     "the dead getter's record still heads the sealed object's "
		     "stack (head %u)", wl_head(s, id));
	cr_assert(whole, "%s", r.why);
	tu_assert_rc(shoal_drop(s, id), 0);
	shoal_store_close(s);
}

/* A submitter traced from the start: submits inc(gate), then exits. */
static pid_t wl_traced_submitter(const char *name, shoal_id gate)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_runtime *rt = NULL;
		struct shoal_args a;
		shoal_id out;
		int rc;

		sp_child_traceme();
		TU_CHILD_CHECK(shoal_runtime_attach(name, &rt) == 0, TU_EXIT_IO);
		shoal_args_init(&a);
		shoal_args_ref(&a, gate);
		rc = shoal_submit(rt, shoal_function(rt, "inc"), &a, 1, &out);
		_exit(tu_err_to_exit(rc));
	}
	return pid;
}

/* A submitter killed after its task's late push: the fork server's deps
 * sweep closes the stack (and drains the node) before it frees the
 * record for reuse. */
Test(waiters_late, a_submitter_killed_after_its_late_push_has_the_stack_closed_by_the_sweep)
{
	struct wl_rt x = wl_rt_start();
	struct shoal_store *s = x.s;
	const char *name = x.name;
	struct sp_tracee t;
	shoal_id gate;
	int64_t val = 42, until;
	uint32_t linked = 0, head;
	bool held = false;
	void *buf;
	pid_t pid;

	gate = shoal_id_next(s);
	tu_assert_rc(shoal_create(s, gate, sizeof val, NULL, 0, 0, &buf), 0);
	pid = wl_traced_submitter(name, gate);
	sp_start(&t, pid);
	if (sp_wait_at(&t, SHOAL__CP_WAITERS_PUSHING, 1, WL_WAIT_MS)) {
		memcpy(buf, &val, sizeof val);
		held = shoal_seal(s, gate) == 0 &&
		       sp_wait_at(&t, SHOAL__CP_WAITERS_LATE, 1, WL_WAIT_MS);
		linked = wl_head(s, gate);
	}
	tu_kill(pid);
	cr_assert(held, "the submitter was never held after its late push");
	cr_assert(linked != 0 && linked != WL_CLOSED,
		  "the task's node was not linked (head %u)", linked);
	/* The sweep runs every SHOAL__FS_WATCH_MS (250 ms). */
	until = tu_now_ms() + WL_TASK_MS;
	while ((head = wl_head(s, gate)) != WL_CLOSED && tu_now_ms() < until)
		usleep(1000);
	cr_assert_eq(head, WL_CLOSED, "the dead submitter's node still heads "
		     "the sealed object's stack (head %u)", head);
	tu_assert_rc(shoal_drop(s, gate), 0);
	wl_rt_stop(&x);
}

/* Whether id's entry is published and unsealed. */
static bool wl_created(struct shoal_store *s, shoal_id id)
{
	uint64_t c;

	return shoal__dir_lookup(s, id, &c) >= 0 &&
	       SHOAL__CTL_STATE(c) == SHOAL__E_CREATED;
}

/* A creator traced from the start: creates id (8 bytes), then, on a byte
 * from fd, writes val, seals it and exits with the seal's code. */
static pid_t wl_traced_creator(struct shoal_store *s, shoal_id id, int64_t val,
			       int fd)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		void *buf;
		int rc;

		sp_child_traceme();
		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, TU_EXIT_IO);
		rc = shoal_create(c, id, sizeof val, NULL, 0, 0, &buf);
		if (rc == 0) {
			tu_child_read_byte(fd);
			memcpy(buf, &val, sizeof val);
			rc = shoal_seal(c, id);
		}
		shoal_store_close(c);
		_exit(tu_err_to_exit(rc));
	}
	return pid;
}

Test(waiters_late, a_push_before_a_reused_entry_is_published_leaves_it_open)
{
	struct wl_rt x = wl_rt_start();
	struct shoal_runtime *rt = x.rt;
	struct shoal_store *s = x.s;
	struct sp_tracee tw, tc;
	shoal_id id, out = SHOAL_ID_NIL;
	int64_t val = 42;
	uint32_t head = WL_CLOSED;
	int end_rc = 1, early = 1, rc, p[2];
	bool pushing, filled = false, late = false, slept = false;
	struct shoal_view v;
	struct shoal_args a;
	unsigned point = 0;
	void *buf;
	pid_t gpid, cpid;

	id = shoal_id_next(s);
	tu_pipe(p);
	tu_assert_rc(shoal_create(s, id, sizeof val, NULL, 0, 0, &buf), 0);
	gpid = wl_traced_getter(s, id, val);
	sp_start(&tw, gpid);
	/* The getter read the entry unsealed; held before its push. */
	pushing = sp_wait_at(&tw, SHOAL__CP_WAITERS_PUSHING, 1, WL_WAIT_MS);
	if (pushing) {
		memcpy(buf, &val, sizeof val);
		end_rc = shoal_seal(s, id);
		if (!end_rc)
			end_rc = shoal_drop(s, id);
		if (!end_rc)
			end_rc = shoal_delete(s, id);
	}
	cpid = wl_traced_creator(s, id, val, p[0]);
	sp_start(&tc, cpid);
	/* The object ended; a new creator of the same ID reset the entry's
	 * stack and is held before its publish. */
	filled = !end_rc && sp_wait_at(&tc, SHOAL__CP_CREATE_FILLED, 1, WL_WAIT_MS);
	/* The getter pushes onto the reset stack, reloads ctl (FREE) ... */
	late = filled && sp_wait_at(&tw, SHOAL__CP_WAITERS_LATE, 1, WL_WAIT_MS);
	/* ... and, done with that wait, sleeps on the object event (the ID
	 * is not published). */
	while (late && !(slept = sp_wait_syscall(&tw, SYS_futex, &point,
						 WL_WAIT_MS)) &&
	       point != UINT32_MAX)
		; /* a crash point on the way (its drain, if it closed) */
	sp_detach(&tw);
	sp_detach(&tc);
	cr_assert(pushing && filled && late && slept,
		  "not held where wanted (%d %d %d %d point %u), seal/end %d", pushing,
		  filled, late, slept, point, end_rc);
	/* The creator publishes; the new object's stack must be open. */
	for (int64_t t0 = tu_now_ms(); tu_now_ms() - t0 < WL_WAIT_MS;)
		if (wl_created(s, id))
			break;
	cr_assert(wl_created(s, id), "the creator never published");
	head = wl_head(s, id);
	cr_assert_neq(head, WL_CLOSED, "the new object was published with its "
		      "stack closed");
	shoal_args_init(&a);
	shoal_args_ref(&a, id);
	tu_assert_rc(shoal_submit(rt, shoal_function(rt, "inc"), &a, 1, &out), 0);
	early = shoal_get(s, out, 500, &v);
	if (early == 0)
		shoal_release(s, &v);
	tu_write_byte(p[1], 'g');
	cr_assert_eq(early, -ETIMEDOUT, "the task on the unsealed object ended "
		     "before its seal: %d (%s)", early, shoal_strerror(early));
	tu_assert_rc(tu_wait_result(cpid), 0);
	rc = shoal_get(s, out, WL_TASK_MS, &v);
	tu_assert_rc(rc, 0);
	cr_assert_eq(*(const int64_t *)v.data, 43);
	shoal_release(s, &v);
	rc = tu_wait_result(gpid);
	cr_assert_eq(rc, 0, "the getter: %d (%s)", rc, shoal_strerror(rc));
	tu_assert_rc(shoal_drop(s, out), 0);
	wl_rt_stop(&x);
}

/* Records of p still marked as in their late window. */
static int wl_late_marks(const struct shoal__proc *p)
{
	int n = 0;

	for (uint32_t i = 0; i < SHOAL__PROC_WAITERS; i++)
		n += atomic_load(&p->waiters[i].sleeping) == SHOAL__W_LATE;
	return n;
}

/*
 * The late mark (SHOAL__W_LATE in a record's sleeping word, which makes
 * a reaper scan the whole directory for an open stack the record heads)
 * is up only between a waiter's push and its late close: a getter asleep
 * on an unsealed object, and one whose get timed out, carry none, so
 * neither their reaper nor their close reads the directory (25 ms for a
 * 1 GiB store's, measured, when a timed-out get's close did).
 */
Test(waiters_late, a_sleeping_or_timed_out_getter_carries_no_late_mark)
{
	struct shoal_store_options o = tu_opts(8u << 20);
	struct shoal_store *s = NULL;
	shoal_id id = tu_id(1, 1);
	struct shoal__proc *p;
	int sleeping_marks, rc;
	void *buf;
	pid_t pid;

	tu_assert_rc(shoal_store_create(NULL, &o, &s), 0);
	tu_assert_rc(shoal_create(s, id, 8, NULL, 0, 0, &buf), 0);
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_store *c = NULL;
		struct shoal_view v;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, TU_EXIT_IO);
		/* Asleep (the test looks meanwhile), then timed out. */
		TU_CHILD_CHECK(shoal_get(c, id, 400, &v) == -ETIMEDOUT, 2);
		TU_CHILD_CHECK(wl_late_marks(c->me) == 0, 3);
		_exit(0);
	}
	cr_assert(tu_wait_sleeping(pid, WL_WAIT_MS), "the getter never slept");
	p = &s->procs[tu_live_slot_of(s, pid)];
	sleeping_marks = wl_late_marks(p);
	rc = tu_wait_exit(pid);
	cr_assert_eq(sleeping_marks, 0, "a sleeping getter's record carries the late mark");
	cr_assert_eq(rc, 0, "the getter: exit %d (3: its timed-out record kept the mark)", rc);
	tu_assert_rc(shoal_abort(s, id), 0);
	shoal_store_close(s);
}
