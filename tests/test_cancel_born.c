/* SPDX-License-Identifier: MIT */
/*
 * tests/test_cancel_born.c - a task submitted by a parent that was
 * cancelled recursively, after the parent saw its cancel, never runs.
 *
 * The submitter used to publish the child and only then read its
 * parent's cancel and flag it (TASK-S2 of rtlayout.h): a free worker
 * could claim the child in between and finish it, so its caller got a
 * value from a task that a recursive cancel promised would not run
 * (cancel's recursive_cancel_of_an_actor_call_reaches_its_tasks failed
 * so once in CI).  Here the window is held open: the parent (an actor's
 * method, or a task) waits until it sees its cancel, arms its own handle
 * to stop (SIGSTOP) at TASK_PUBLISHED, right after the child is
 * published, and submits; while it is held, the idle worker has all the
 * time it needs to claim the child.  The child must end with
 * SHOAL_ECANCELLED, unrun.  Synchronisation: flags in a shared page
 * (bounded polls) and the parent's stop, seen in /proc.
 *
 * A child born cancelled that is parked on an unsealed argument is never
 * claimed until the argument is sealed, so its submitter fills its
 * returns (all of them) at once; the fork server, whose watch would
 * refill them later, is stopped while the test reads them.
 *
 * A submitter killed right after such a publish (its worker, at
 * TASK_PUBLISHED, before it fills the child's returns) leaves no return
 * a get waits on to its timeout, and the child never runs.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <sys/mman.h>

#include <shoal/shoal.h>

#include "testutil.h"
#include "internal.h"

TestSuite(cancel_born, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

#define CB_WAIT_MS 10000

/* Shared by every process of the runtime (mapped before its start). */
struct cb_page {
	_Atomic int32_t parent_pid; /* set once the parent runs */
	_Atomic int64_t child_ran;  /* runs of the child */
	shoal_id child;             /* the child's return, written by its submit */
	shoal_id gate;              /* parent_on's child's argument (unsealed) */
	shoal_id kids[2];           /* parent_on's child's two returns */
	_Atomic int32_t submitted;  /* parent_on: 1 submitted, -1 failed */
};

static struct cb_page *cb;

/* count(): counts its run. */
static int cb_count(struct shoal_task *t, void *user)
{
	int64_t one = 1;

	(void)user;
	atomic_fetch_add(&cb->child_ran, 1);
	return shoal_task_return(t, 0, &one, sizeof one);
}

/* parent(): says it runs, waits (bounded) until it sees its cancel, then
 * submits count() held at TASK_PUBLISHED, and drops the child's ref. */
static int cb_parent(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_store *s = shoal_runtime_store(rt);
	int64_t t0 = tu_now_ms();
	struct shoal_args a;

	(void)user;
	atomic_store(&cb->parent_pid, (int32_t)getpid());
	while (!shoal_task_cancelled(t))
		if (tu_now_ms() - t0 > CB_WAIT_MS)
			return shoal_task_fail(t, SHOAL_ETASK, "never saw its cancel");
	shoal__crash_arm(&s->crash, SHOAL__CP_TASK_PUBLISHED, 1);
	s->crash.stop = 1;
	shoal_args_init(&a);
	if (shoal_submit(rt, shoal_function(rt, "count"), &a, 1, &cb->child))
		return shoal_task_fail(t, SHOAL_ETASK, "submit failed");
	shoal_drop(s, cb->child);
	return 0;
}

/* parent_on(): waits (bounded) until it sees its cancel, then submits
 * count(gate) with two returns, gate unsealed: the child is parked, and
 * only its submitter (or the fork server's refill) fills its returns.
 * Keeps its holds on them (its worker's, let go at shutdown). */
static int cb_parent_on(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	int64_t t0 = tu_now_ms();
	struct shoal_args a;

	(void)user;
	atomic_store(&cb->parent_pid, (int32_t)getpid());
	while (!shoal_task_cancelled(t))
		if (tu_now_ms() - t0 > CB_WAIT_MS) {
			atomic_store(&cb->submitted, -1);
			return shoal_task_fail(t, SHOAL_ETASK, "never saw its cancel");
		}
	shoal_args_init(&a);
	shoal_args_ref(&a, cb->gate);
	if (shoal_submit(rt, shoal_function(rt, "count"), &a, 2, cb->kids)) {
		atomic_store(&cb->submitted, -1);
		return shoal_task_fail(t, SHOAL_ETASK, "submit failed");
	}
	atomic_store(&cb->submitted, 1);
	return 0;
}

/* parent_dies(): as parent_on, gated or not (user), but killed (its
 * worker) at TASK_PUBLISHED: after the child is published cancelled and
 * before its submitter fills the child's returns. */
static int cb_parent_dies(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_store *s = shoal_runtime_store(rt);
	int64_t t0 = tu_now_ms();
	struct shoal_args a;

	atomic_store(&cb->parent_pid, (int32_t)getpid());
	while (!shoal_task_cancelled(t))
		if (tu_now_ms() - t0 > CB_WAIT_MS) {
			atomic_store(&cb->submitted, -1);
			return shoal_task_fail(t, SHOAL_ETASK, "never saw its cancel");
		}
	shoal_args_init(&a);
	if (user)
		shoal_args_ref(&a, cb->gate);
	atomic_store(&cb->submitted, 1); /* kids are written by the submit */
	shoal__crash_arm(&s->crash, SHOAL__CP_TASK_PUBLISHED, 1);
	if (shoal_submit(rt, shoal_function(rt, "count"), &a, 2, cb->kids)) {
		atomic_store(&cb->submitted, -1);
		return shoal_task_fail(t, SHOAL_ETASK, "submit failed");
	}
	atomic_store(&cb->submitted, -1); /* it should have died */
	return shoal_task_fail(t, SHOAL_ETASK, "not killed at TASK_PUBLISHED");
}

static int cb_actor_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

struct cb_rt {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
};

static struct cb_rt cb_start(uint32_t workers)
{
	struct cb_rt x = {0};
	struct shoal_runtime_options o;

	cb = mmap(NULL, sizeof *cb, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		  -1, 0);
	cr_assert_neq(cb, MAP_FAILED);
	tu_assert_rc(shoal_registry_open(&x.reg), 0);
	tu_assert_rc(shoal_register_task(x.reg, "count", cb_count, NULL), 0);
	tu_assert_rc(shoal_register_task(x.reg, "parent", cb_parent, NULL), 0);
	tu_assert_rc(shoal_register_task(x.reg, "parent_on", cb_parent_on, NULL), 0);
	tu_assert_rc(shoal_register_task(x.reg, "dies_on", cb_parent_dies, cb), 0);
	tu_assert_rc(shoal_register_task(x.reg, "dies", cb_parent_dies, NULL), 0);
	tu_assert_rc(shoal_register_actor(x.reg, "P", cb_actor_init, NULL), 0);
	tu_assert_rc(shoal_register_method(x.reg, "P", "parent", cb_parent), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.store.capacity = 8u << 20;
	tu_assert_rc(shoal_runtime_start(x.reg, &o, &x.rt), 0);
	x.s = shoal_runtime_store(x.rt);
	return x;
}

static void cb_stop(struct cb_rt *x)
{
	tu_assert_rc(shoal_runtime_shutdown(x->rt), 0);
	shoal_registry_close(x->reg);
	munmap(cb, sizeof *cb);
	cb = NULL;
}

/* get's code within timeout_ms (its view let go) */
static int cb_code(struct shoal_store *s, shoal_id id, int timeout_ms)
{
	struct shoal_view v;
	int rc = shoal_get(s, id, timeout_ms, &v);

	if (rc == 0)
		shoal_release(s, &v);
	return rc;
}

/*
 * The parent r is running: cancels it recursively, then, with the parent
 * held right after it published its child, gets the child's code (the
 * idle worker claims the child meanwhile).  The parent is let go before
 * anything is asserted.
 */
static void cb_cancel_and_check(struct cb_rt *x, shoal_id r)
{
	int64_t t0 = tu_now_ms();
	int crc = 1, rc;
	pid_t pid;
	bool held;

	while (!(pid = atomic_load(&cb->parent_pid)) && tu_now_ms() - t0 < CB_WAIT_MS)
		sched_yield();
	cr_assert_gt(pid, 0, "the parent never ran");
	tu_assert_rc(shoal_cancel(x->rt, r, SHOAL_CANCEL_RECURSIVE), 1);
	held = tu_await_state(pid, 'T', CB_WAIT_MS);
	if (held)
		crc = cb_code(x->s, cb->child, CB_WAIT_MS);
	kill(pid, SIGCONT);
	cr_assert(held, "the parent never stopped after publishing its child");
	cr_assert_eq(crc, SHOAL_ECANCELLED,
		     "a child submitted after its parent saw a recursive cancel: %s",
		     crc == 0 ? "ran" : shoal_strerror(crc));
	rc = cb_code(x->s, r, CB_WAIT_MS);
	cr_assert_eq(rc, SHOAL_ECANCELLED, "the parent: %s", shoal_strerror(rc));
	cr_assert_eq(atomic_load(&cb->child_ran), 0, "the child ran");
	tu_assert_rc(shoal_drop(x->s, r), 0);
}

Test(cancel_born, a_child_of_a_call_cancelled_recursively_never_runs)
{
	struct cb_rt x = cb_start(1);
	struct shoal_actor a;
	struct shoal_args args;
	shoal_id r;

	tu_assert_rc(shoal_actor_create(x.rt, "P", NULL, NULL, &a), 0);
	shoal_args_init(&args);
	tu_assert_rc(shoal_actor_call(x.rt, a, shoal_actor_method(x.rt, a, "parent"),
				      &args, &r), 0);
	cb_cancel_and_check(&x, r);
	cb_stop(&x);
}

/* The parent on one worker, the other idle for its child. */
Test(cancel_born, a_child_of_a_task_cancelled_recursively_never_runs)
{
	struct cb_rt x = cb_start(2);
	struct shoal_args args;
	shoal_id r;

	shoal_args_init(&args);
	tu_assert_rc(shoal_submit(x.rt, shoal_function(x.rt, "parent"), &args, 1, &r), 0);
	cb_cancel_and_check(&x, r);
	cb_stop(&x);
}

/*
 * A child born cancelled while parked on an unsealed argument, with two
 * returns: its submitter fills both at once (shoal__cancel_born).  The
 * fork server, whose watch would refill them too, is stopped meanwhile,
 * and nothing claims a parked child: only the submitter can.  Once the
 * argument is sealed, the child is claimed and dropped unrun.
 */
Test(cancel_born, a_parked_child_born_cancelled_has_all_its_returns_filled_at_once)
{
	struct cb_rt x = cb_start(1);
	struct shoal_runtime_info info;
	struct shoal_args args;
	int64_t t0, one = 1;
	int code[2] = {1, 1}, sub = 0, rc;
	int64_t ran;
	shoal_id r;
	void *buf;
	pid_t pid;

	tu_assert_rc(shoal_runtime_info(x.rt, &info, NULL, 0), 0);
	cb->gate = shoal_id_next(x.s);
	tu_assert_rc(shoal_create(x.s, cb->gate, sizeof one, NULL, 0, 0, &buf), 0);
	shoal_args_init(&args);
	tu_assert_rc(shoal_submit(x.rt, shoal_function(x.rt, "parent_on"), &args, 1, &r), 0);
	t0 = tu_now_ms();
	while (!(pid = atomic_load(&cb->parent_pid)) && tu_now_ms() - t0 < CB_WAIT_MS)
		sched_yield();
	cr_assert_gt(pid, 0, "the parent never ran");
	kill(info.fork_server_pid, SIGSTOP);
	rc = shoal_cancel(x.rt, r, SHOAL_CANCEL_RECURSIVE);
	while (rc == 1 && !(sub = atomic_load(&cb->submitted)) &&
	       tu_now_ms() - t0 < CB_WAIT_MS)
		sched_yield();
	if (sub == 1)
		for (int i = 0; i < 2; i++)
			code[i] = cb_code(x.s, cb->kids[i], 2000);
	kill(info.fork_server_pid, SIGCONT);
	tu_assert_rc(rc, 1);
	cr_assert_eq(sub, 1, "the parent never submitted its child");
	for (int i = 0; i < 2; i++)
		cr_assert_eq(code[i], SHOAL_ECANCELLED, "return %d of the parked child: %s",
			     i, code[i] == 0 ? "a value" : shoal_strerror(code[i]));
	memcpy(buf, &one, sizeof one);
	tu_assert_rc(shoal_seal(x.s, cb->gate), 0);
	rc = cb_code(x.s, r, CB_WAIT_MS);
	cr_assert_eq(rc, SHOAL_ECANCELLED, "the parent: %s", shoal_strerror(rc));
	tu_assert_rc(shoal_drop(x.s, r), 0);
	tu_assert_rc(shoal_drop(x.s, cb->gate), 0);
	tu_assert_rc(shoal_runtime_shutdown(x.rt), 0);
	ran = atomic_load(&cb->child_ran);
	shoal_registry_close(x.reg);
	munmap(cb, sizeof *cb);
	cb = NULL;
	cr_assert_eq(ran, 0, "the child ran");
}

/* Whether the task whose first return is id left the task table within
 * CB_WAIT_MS (claimed and dropped, or run and done). */
static bool cb_await_gone(struct shoal_runtime *rt, shoal_id id)
{
	struct shoal_task_info info[64];
	int64_t t0 = tu_now_ms();

	for (;;) {
		int n = shoal_task_list(rt, info, 64);
		bool live = false;

		for (int i = 0; i < n && i < 64; i++)
			live |= shoal_id_eq(info[i].id, id);
		if (n >= 0 && !live)
			return true;
		if (tu_now_ms() - t0 > CB_WAIT_MS)
			return false;
		sched_yield();
	}
}

/*
 * The submitter killed at TASK_PUBLISHED (its child published cancelled,
 * its returns not filled yet): no return of the child is left unfilled,
 * queued (a claim drops it, or the watch refills it) or parked on an
 * argument nobody seals (the watch refills it, or the dead submitter's
 * promises are aborted by its reaper): a get of each ends well within a
 * bounded wait, with an error, never with a value, and the child never
 * runs.
 */
static void cb_killed_after_publish(const char *parent, bool gated)
{
	struct cb_rt x = cb_start(2);
	struct shoal_args args;
	int64_t t0, one = 1;
	int code[2] = {0, 0}, sub = 0, rc;
	void *buf = NULL;
	shoal_id r;

	if (gated) {
		cb->gate = shoal_id_next(x.s);
		tu_assert_rc(shoal_create(x.s, cb->gate, sizeof one, NULL, 0, 0, &buf), 0);
	}
	shoal_args_init(&args);
	tu_assert_rc(shoal_submit(x.rt, shoal_function(x.rt, parent), &args, 1, &r), 0);
	t0 = tu_now_ms();
	while (!atomic_load(&cb->parent_pid) && tu_now_ms() - t0 < CB_WAIT_MS)
		sched_yield();
	rc = shoal_cancel(x.rt, r, SHOAL_CANCEL_RECURSIVE);
	while (rc == 1 && !(sub = atomic_load(&cb->submitted)) &&
	       tu_now_ms() - t0 < CB_WAIT_MS)
		sched_yield();
	/* The parent's own result: its worker's death, cancelled. */
	code[0] = cb_code(x.s, r, CB_WAIT_MS);
	tu_assert_rc(rc, 1);
	cr_assert_eq(sub, 1, "the parent never submitted its child");
	cr_assert_eq(code[0], SHOAL_ECANCELLED, "the parent: %s", shoal_strerror(code[0]));
	for (int i = 0; i < 2; i++) {
		code[i] = cb_code(x.s, cb->kids[i], 5000);
		cr_assert(code[i] != 0 && code[i] != -ETIMEDOUT,
			  "return %d of the child of a killed submitter: %s", i,
			  code[i] == 0 ? "a value" : shoal_strerror(code[i]));
	}
	if (gated) {
		memcpy(buf, &one, sizeof one);
		tu_assert_rc(shoal_seal(x.s, cb->gate), 0);
		tu_assert_rc(shoal_drop(x.s, cb->gate), 0);
	}
	/* Claimed by the idle worker: dropped unrun, or run. */
	cr_assert(cb_await_gone(x.rt, cb->kids[0]), "the child's record never went");
	tu_assert_rc(shoal_drop(x.s, r), 0);
	tu_assert_rc(shoal_runtime_shutdown(x.rt), 0);
	cr_assert_eq(atomic_load(&cb->child_ran), 0, "the child ran");
	shoal_registry_close(x.reg);
	munmap(cb, sizeof *cb);
	cb = NULL;
}

Test(cancel_born, a_queued_child_of_a_submitter_killed_after_its_publish_never_runs)
{
	cb_killed_after_publish("dies", false);
}

Test(cancel_born, a_parked_child_of_a_submitter_killed_after_its_publish_is_answered)
{
	cb_killed_after_publish("dies_on", true);
}
