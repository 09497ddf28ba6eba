/* SPDX-License-Identifier: MIT */
/*
 * tests/test_cancel_reach.c - a recursive cancel reaches the children of
 * a running child that was cancelled before, without RECURSIVE.
 *
 * A recursive cancel of top cancels the tasks top submitted "and those
 * they submitted, with the same flags" (include/shoal/runtime.h).  Its
 * scan skipped every child that had CANCEL already (cancel.c,
 * shoal__cancel_children): a running child cancelled alone before (or
 * past its own deadline: CANCEL | DEADLINE) kept running without
 * RECURSIVE, so the scan did not cancel its parked children, and a task
 * it submitted after the recursive cancel ran to completion although
 * shoal_task_cancelled had long been true in its submitter.
 *
 * Here top submits mid; mid parks one grandchild on an unsealed gate,
 * waits until it sees its own (plain) cancel and then until the driver's
 * recursive cancel of top has returned (a flag in a shared page), then
 * submits a second grandchild and gets it.  Both grandchildren must hold
 * SHOAL_ECANCELLED, unrun: the parked one at once after the recursive
 * cancel (the fork server, whose watch does nothing for it anyway, plays
 * no part), the second one at its submit.  Synchronisation: flags in a
 * shared page, bounded polls; the cancels are synchronous.
 *
 * A parent past its own deadline (CANCEL | DEADLINE), then cancelled
 * recursively: a task it submits then holds SHOAL_ECANCELLED, the code a
 * recursive cancel gives (runtime.h), as its earlier children and a
 * call's children do; it got the parent's SHOAL_EDEADLINE (cancel.c,
 * shoal__parent_cancel).  Its deadline is 1 s: it must be claimed
 * before, which an idle worker does at once.
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include <shoal/shoal.h>

#include "testutil.h"

TestSuite(cancel_reach, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

#define CR_WAIT_MS 10000

/* Shared by every process of the runtime (mapped before its start). */
struct cr_page {
	_Atomic int64_t gc_ran;   /* runs of a grandchild */
	shoal_id gate;            /* the parked grandchild's argument */
	shoal_id mid;             /* mid's return, written by top */
	_Atomic int32_t mid_set;  /* top: 1 mid submitted, -1 failed */
	shoal_id gc[2];           /* the grandchildren's returns (mid's) */
	_Atomic int32_t parked;   /* mid: 1 gc[0] submitted, -1 failed */
	_Atomic int32_t go;       /* driver: top's recursive cancel returned */
	_Atomic int32_t done;     /* mid: 1 gc1_code written, -1 failed */
	_Atomic int32_t gc1_code; /* mid's get of gc[1] */
};

static struct cr_page *cr;

static bool cr_until(_Atomic int32_t *flag)
{
	int64_t t0 = tu_now_ms();

	while (!atomic_load(flag) && tu_now_ms() - t0 < CR_WAIT_MS)
		sched_yield();
	return atomic_load(flag) != 0;
}

/* get's code within timeout_ms (its view let go) */
static int cr_code(struct shoal_store *s, shoal_id id, int timeout_ms)
{
	struct shoal_view v;
	int rc = shoal_get(s, id, timeout_ms, &v);

	if (rc == 0)
		shoal_release(s, &v);
	return rc;
}

static int cr_count(struct shoal_task *t, void *user)
{
	int64_t one = 1;

	(void)user;
	atomic_fetch_add(&cr->gc_ran, 1);
	return shoal_task_return(t, 0, &one, sizeof one);
}

/* mid(): gc[0] = count(gate), then, once cancelled and told, gc[1] =
 * count() and its code.  Keeps its holds (its worker's). */
static int cr_mid(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	int64_t t0 = tu_now_ms();
	struct shoal_args a;

	(void)user;
	shoal_args_init(&a);
	shoal_args_ref(&a, cr->gate);
	if (shoal_submit(rt, shoal_function(rt, "count"), &a, 1, &cr->gc[0])) {
		atomic_store(&cr->parked, -1);
		return shoal_task_fail(t, SHOAL_ETASK, "submit failed");
	}
	atomic_store(&cr->parked, 1);
	while (!shoal_task_cancelled(t) && tu_now_ms() - t0 < CR_WAIT_MS)
		sched_yield();
	if (!shoal_task_cancelled(t) || !cr_until(&cr->go)) {
		atomic_store(&cr->done, -1);
		return shoal_task_fail(t, SHOAL_ETASK, "never cancelled, or never told");
	}
	shoal_args_init(&a);
	if (shoal_submit(rt, shoal_function(rt, "count"), &a, 1, &cr->gc[1])) {
		atomic_store(&cr->done, -1);
		return shoal_task_fail(t, SHOAL_ETASK, "second submit failed");
	}
	atomic_store(&cr->gc1_code,
		     cr_code(shoal_runtime_store(rt), cr->gc[1], CR_WAIT_MS));
	atomic_store(&cr->done, 1);
	return 0;
}

/* top(): submits mid(), then waits (bounded) until mid is done. */
static int cr_top(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_args a;

	(void)user;
	shoal_args_init(&a);
	if (shoal_submit(rt, shoal_function(rt, "mid"), &a, 1, &cr->mid)) {
		atomic_store(&cr->mid_set, -1);
		return shoal_task_fail(t, SHOAL_ETASK, "submit failed");
	}
	atomic_store(&cr->mid_set, 1);
	cr_until(&cr->done);
	return 0;
}

/* late(): waits (bounded) until its own deadline cancels it, then,
 * once told, submits count() into gc[1] and gets its code. */
static int cr_late(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	int64_t t0 = tu_now_ms();
	struct shoal_args a;

	(void)user;
	while (!shoal_task_cancelled(t) && tu_now_ms() - t0 < CR_WAIT_MS)
		sched_yield();
	atomic_store(&cr->parked, shoal_task_cancelled(t) ? 1 : -1);
	if (atomic_load(&cr->parked) != 1 || !cr_until(&cr->go)) {
		atomic_store(&cr->done, -1);
		return shoal_task_fail(t, SHOAL_ETASK, "never past its deadline, or never told");
	}
	shoal_args_init(&a);
	if (shoal_submit(rt, shoal_function(rt, "count"), &a, 1, &cr->gc[1])) {
		atomic_store(&cr->done, -1);
		return shoal_task_fail(t, SHOAL_ETASK, "submit failed");
	}
	atomic_store(&cr->gc1_code,
		     cr_code(shoal_runtime_store(rt), cr->gc[1], CR_WAIT_MS));
	atomic_store(&cr->done, 1);
	return 0;
}

/* The page, and a runtime with every function of this file. */
static void cr_start(struct shoal_registry **reg, struct shoal_runtime **rt,
		     struct shoal_runtime_options *o)
{
	cr = mmap(NULL, sizeof *cr, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		  -1, 0);
	cr_assert_neq(cr, MAP_FAILED);
	tu_assert_rc(shoal_registry_open(reg), 0);
	tu_assert_rc(shoal_register_task(*reg, "count", cr_count, NULL), 0);
	tu_assert_rc(shoal_register_task(*reg, "mid", cr_mid, NULL), 0);
	tu_assert_rc(shoal_register_task(*reg, "top", cr_top, NULL), 0);
	tu_assert_rc(shoal_register_task(*reg, "late", cr_late, NULL), 0);
	o->store.capacity = 8u << 20;
	tu_assert_rc(shoal_runtime_start(*reg, o, rt), 0);
}

Test(cancel_reach, a_recursive_cancel_reaches_the_children_of_a_child_cancelled_before)
{
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_runtime_options o;
	struct shoal_store *s;
	struct shoal_args args;
	int64_t one = 1, ran;
	int gc0 = 1, rc_mid, rc_top, rc;
	bool ready;
	shoal_id r;
	void *buf;

	shoal_runtime_options_init(&o);
	o.num_workers = 3; /* top, mid, and one idle for a grandchild */
	cr_start(&reg, &rt, &o);
	s = shoal_runtime_store(rt);
	cr->gate = shoal_id_next(s);
	tu_assert_rc(shoal_create(s, cr->gate, sizeof one, NULL, 0, 0, &buf), 0);
	shoal_args_init(&args);
	tu_assert_rc(shoal_submit(rt, shoal_function(rt, "top"), &args, 1, &r), 0);

	ready = cr_until(&cr->mid_set) && atomic_load(&cr->mid_set) == 1 &&
		cr_until(&cr->parked) && atomic_load(&cr->parked) == 1;
	rc_mid = ready ? shoal_cancel(rt, cr->mid, 0) : 0;
	rc_top = ready ? shoal_cancel(rt, r, SHOAL_CANCEL_RECURSIVE) : 0;
	if (ready) /* the parked grandchild, before anything else moves */
		gc0 = cr_code(s, cr->gc[0], 2000);
	atomic_store(&cr->go, 1);
	cr_until(&cr->done);
	memcpy(buf, &one, sizeof one);
	tu_assert_rc(shoal_seal(s, cr->gate), 0); /* the parked one is claimed */
	rc = cr_code(s, r, CR_WAIT_MS);
	tu_assert_rc(shoal_drop(s, r), 0);
	tu_assert_rc(shoal_drop(s, cr->gate), 0);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	ran = atomic_load(&cr->gc_ran);
	shoal_registry_close(reg);

	cr_assert(ready, "mid or its parked grandchild was never submitted");
	tu_assert_rc(rc_mid, 1);
	tu_assert_rc(rc_top, 1);
	cr_assert_eq(gc0, SHOAL_ECANCELLED,
		     "the parked grandchild after the recursive cancel: %s",
		     gc0 == 0 ? "a value" : shoal_strerror(gc0));
	cr_assert_eq(atomic_load(&cr->done), 1, "mid never got its second grandchild");
	cr_assert_eq(atomic_load(&cr->gc1_code), SHOAL_ECANCELLED,
		     "a grandchild submitted after the recursive cancel: %s",
		     atomic_load(&cr->gc1_code) == 0
			     ? "it ran"
			     : shoal_strerror(atomic_load(&cr->gc1_code)));
	cr_assert_eq(rc, SHOAL_ECANCELLED, "top: %s", shoal_strerror(rc));
	cr_assert_eq(ran, 0, "a grandchild ran %lld times", (long long)ran);
	munmap(cr, sizeof *cr);
	cr = NULL;
}

Test(cancel_reach, a_child_of_a_parent_past_its_deadline_then_cancelled_recursively_is_cancelled)
{
	struct shoal_task_options to = SHOAL_TASK_OPTIONS_INIT;
	struct shoal_runtime_options o;
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_args args;
	int rc_top = 0, rc;
	bool ready;
	int64_t ran;
	shoal_id r;

	shoal_runtime_options_init(&o);
	o.num_workers = 2; /* late, and one idle for its child */
	cr_start(&reg, &rt, &o);
	shoal_args_init(&args);
	to.num_returns = 1;
	to.deadline_ms = 1000;
	tu_assert_rc(shoal_submit_opts(rt, shoal_function(rt, "late"), &args, &to, &r), 0);
	ready = cr_until(&cr->parked) && atomic_load(&cr->parked) == 1;
	if (ready)
		rc_top = shoal_cancel(rt, r, SHOAL_CANCEL_RECURSIVE);
	atomic_store(&cr->go, 1);
	cr_until(&cr->done);
	rc = cr_code(shoal_runtime_store(rt), r, CR_WAIT_MS);
	tu_assert_rc(shoal_drop(shoal_runtime_store(rt), r), 0);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	ran = atomic_load(&cr->gc_ran);
	shoal_registry_close(reg);

	cr_assert(ready, "late never saw its deadline pass (claimed too late?)");
	tu_assert_rc(rc_top, 1);
	cr_assert_eq(atomic_load(&cr->done), 1, "late never got its child");
	cr_assert_eq(atomic_load(&cr->gc1_code), SHOAL_ECANCELLED,
		     "a child submitted after the recursive cancel: %s",
		     atomic_load(&cr->gc1_code) == 0
			     ? "it ran"
			     : shoal_strerror(atomic_load(&cr->gc1_code)));
	cr_assert_eq(rc, SHOAL_EDEADLINE, "late itself: %s", shoal_strerror(rc));
	cr_assert_eq(ran, 0, "the child ran");
	munmap(cr, sizeof *cr);
	cr = NULL;
}
