/* SPDX-License-Identifier: MIT */
/*
 * tests/test_fill_busy.c - a return that finds every fill record of its
 * process taken is answered once one lets go, not left unsealed.
 *
 * A process has SHOAL__PROC_FILLS (8) fill records.  In a threaded actor
 * (max_concurrency 9) eight methods can hold a return buffer open each
 * (shoal_task_return_buffer) while a ninth returns a small value:
 * shoal_task_return refuses it with -EBUSY (runtime.h), and the return
 * becomes an error object when the method ends.  That error needs a fill
 * record too: before, its write failed the same way and was dropped, so
 * the promise was never sealed and the caller's get waited out its
 * timeout even after the eight had let go.  Now the ending thread waits
 * for a record (runtime/task/exec.c, shoal__return_error).
 *
 * The holders wait for a word in a shared page (bounded, 20 s), which
 * the test sets once the ninth call has run; every other wait is bounded
 * too.
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include <shoal/shoal.h>

#include "testutil.h"

TestSuite(fill_busy, .init = tu_setup, .fini = tu_teardown, .timeout = 60);

#define FB_HOLDERS 8 /* SHOAL__PROC_FILLS: every fill record of the actor */
#define FB_WAIT_MS 20000

struct fb_page {
	_Atomic int open;     /* holders with their buffer open */
	_Atomic int release;  /* set by the test: holders, return */
	_Atomic int small_rc; /* the ninth call's shoal_task_return */
	_Atomic int small_ran;
};

static struct fb_page *fb;

/* Opens return 0's buffer and keeps it open until the test says. */
static int fb_hold(struct shoal_task *t, void *self)
{
	int64_t t0 = tu_now_ms();
	void *buf;

	(void)self;
	if (shoal_task_return_buffer(t, 0, 64, &buf))
		return shoal_task_fail(t, SHOAL_ETASK, "no buffer");
	memset(buf, 1, 64);
	atomic_fetch_add(&fb->open, 1);
	while (!atomic_load(&fb->release) && tu_now_ms() - t0 < FB_WAIT_MS)
		sched_yield();
	return 0;
}

/* Returns 8 bytes, and says what shoal_task_return said. */
static int fb_small(struct shoal_task *t, void *self)
{
	int64_t v = 7;

	(void)self;
	atomic_store(&fb->small_rc, shoal_task_return(t, 0, &v, sizeof v));
	atomic_store(&fb->small_ran, 1);
	return 0;
}

static int fb_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

/* Until *word reaches want, or FB_WAIT_MS. */
static bool fb_await(_Atomic int *word, int want)
{
	int64_t t0 = tu_now_ms();

	while (atomic_load(word) < want && tu_now_ms() - t0 < FB_WAIT_MS)
		sched_yield();
	return atomic_load(word) >= want;
}

Test(fill_busy, a_return_refused_for_want_of_fill_records_is_answered_once_one_frees)
{
	struct shoal_actor_options ao = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_runtime_options o;
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
	struct shoal_actor a;
	struct shoal_args args;
	shoal_id h[FB_HOLDERS], sm;
	struct shoal_view v;
	bool opened, ran;
	int rc;

	fb = mmap(NULL, sizeof *fb, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(fb, MAP_FAILED);
	tu_assert_rc(shoal_registry_open(&reg), 0);
	tu_assert_rc(shoal_register_actor(reg, "H", fb_init, NULL), 0);
	tu_assert_rc(shoal_register_method(reg, "H", "hold", fb_hold), 0);
	tu_assert_rc(shoal_register_method(reg, "H", "small", fb_small), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	s = shoal_runtime_store(rt);
	ao.max_concurrency = FB_HOLDERS + 1;
	tu_assert_rc(shoal_actor_create(rt, "H", NULL, &ao, &a), 0);
	shoal_args_init(&args);
	for (int i = 0; i < FB_HOLDERS; i++)
		tu_assert_rc(shoal_actor_call(rt, a, shoal_actor_method(rt, a, "hold"),
					      &args, &h[i]), 0);
	opened = fb_await(&fb->open, FB_HOLDERS);
	tu_assert_rc(shoal_actor_call(rt, a, shoal_actor_method(rt, a, "small"),
				      &args, &sm), 0);
	ran = fb_await(&fb->small_ran, 1);
	atomic_store(&fb->release, 1);
	cr_assert(opened, "the holders never all opened a buffer (%d)",
		  atomic_load(&fb->open));
	cr_assert(ran, "the ninth call never ran");
	tu_assert_rc(atomic_load(&fb->small_rc), -EBUSY,
		     "the ninth return found a fill record free");
	/* The holders let go: the refused return is an error now. */
	rc = shoal_get(s, sm, FB_WAIT_MS, &v);
	if (rc == 0)
		shoal_release(s, &v);
	tu_assert_rc(rc, SHOAL_ETASK, "the ninth call's result");
	for (int i = 0; i < FB_HOLDERS; i++) {
		tu_assert_rc(shoal_get(s, h[i], FB_WAIT_MS, &v), 0, "holder %d", i);
		cr_assert_eq(v.size, 64);
		shoal_release(s, &v);
		tu_assert_rc(shoal_drop(s, h[i]), 0);
	}
	tu_assert_rc(shoal_drop(s, sm), 0);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
	munmap(fb, sizeof *fb);
}
