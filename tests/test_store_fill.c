/* SPDX-License-Identifier: MIT */
/*
 * tests/test_store_fill.c - promises (an unsealed entry with no block, held
 * by its creator) filled by another process (store/fill.c), and what
 * happens when the filler or the creator dies, or the promise is aborted,
 * in the middle.
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "object/object_int.h"
#include "testutil.h"

TestSuite(store_fill, .init = tu_setup, .fini = tu_teardown);

#define SIZE 10000u

/* A child that fills id with pattern `seed`.  With a pipe pair, it stops
 * between begin and end (writes a byte, waits for one); exits with the
 * result of fill_end. */
static pid_t sized_filler(struct shoal_store *parent, shoal_id id, size_t size,
			  uint64_t seed, int ready_w, int go_r, uint64_t flags);

static pid_t filler(struct shoal_store *parent, shoal_id id, uint64_t seed,
		    int ready_w, int go_r, uint64_t flags)
{
	return sized_filler(parent, id, SIZE, seed, ready_w, go_r, flags);
}

/* The same with a size of one's choice. */
static pid_t sized_filler(struct shoal_store *parent, shoal_id id, size_t size,
			  uint64_t seed, int ready_w, int go_r, uint64_t flags)
{
	int fd = shoal_store_fd(parent);
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *s;
		struct shoal__fill f;
		void *buf;
		int rc = shoal_store_attach_fd(fd, &s);

		if (!rc)
			rc = shoal__fill_begin(s, id, size, 1000, &f, &buf);
		if (rc)
			_exit(tu_err_to_exit(rc));
		tu_fill(buf, size, seed);
		if (ready_w >= 0) {
			tu_child_write_byte(ready_w, 'r');
			tu_child_read_byte(go_r);
		}
		rc = shoal__fill_end(s, &f, flags);
		shoal_store_close(s);
		_exit(tu_err_to_exit(rc));
	}
	return pid;
}

/* A promise of id and a filler that stopped between fill_begin and
 * fill_end (it goes on when a byte is written to go[1]). */
struct paused {
	int ready[2];
	int go[2];
	pid_t pid;
};

static struct paused promise_and_pause(struct shoal_store *s, shoal_id id,
				       uint64_t seed)
{
	struct paused p;

	tu_pipe(p.ready);
	tu_pipe(p.go);
	tu_assert_rc(shoal__obj_promise(s, id, true, 0), 0);
	p.pid = filler(s, id, seed, p.ready[1], p.go[0], 0);
	cr_assert_eq(tu_read_byte(p.ready[0], 5000), 'r');
	return p;
}

static uint64_t ctl_of(struct shoal_store *s, shoal_id id)
{
	uint64_t c;
	int idx = shoal__dir_lookup(s, id, &c);

	cr_assert_geq(idx, 0, "no entry for the promise");
	return atomic_load(&s->dir[idx].ctl);
}

Test(store_fill, a_promise_is_held_unsealed_and_filled_by_another_process)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = shoal_id_next(s);
	struct shoal_object_info info;
	struct shoal_view v;

	tu_assert_rc(shoal__obj_promise(s, id, true, 0), 0);
	info = tu_info(s, id);
	cr_assert_eq(info.state, SHOAL_OBJECT_CREATED);
	cr_assert_eq(info.holds, 1, "the promiser holds it");
	tu_assert_rc(shoal_get(s, id, 0, &v), -ETIMEDOUT);
	cr_assert_eq(tu_wait_result(filler(s, id, 3, -1, -1, 0)), 0);
	tu_assert_rc(shoal_get(s, id, 0, &v), 0);
	cr_assert_eq(v.size, SIZE);
	cr_assert(tu_check(v.data, v.size, 3));
	shoal_release(s, &v);
	cr_assert_eq(tu_stats(s).bytes_used, SIZE);
	tu_assert_rc(shoal_drop(s, id), 0);
	shoal_store_close(s);
}

Test(store_fill, a_getter_blocked_on_a_promise_wakes_at_the_fill)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = shoal_id_next(s);
	struct paused p = promise_and_pause(s, id, 5);
	struct shoal_view v;

	cr_assert(ctl_of(s, id) & SHOAL__CTL_FILLING);
	tu_write_byte(p.go[1], 'g');
	tu_assert_rc(shoal_get(s, id, 5000, &v), 0);
	cr_assert(tu_check(v.data, v.size, 5));
	shoal_release(s, &v);
	cr_assert_eq(tu_wait_result(p.pid), 0);
	shoal_store_close(s);
}

/*
 * A fresh ID's create does not signal the object event (create.c: nobody
 * can know the ID before the create returns).  A process that guessed it
 * and waits for it while it is absent must still wake when the object is
 * sealed: here G waits for the ID of a promise the test has not made yet,
 * asleep on the object event, and must have its object within half a
 * wait slice (SHOAL__WAIT_SLICE_MS, after which it would look again
 * anyway) of the fill's end.
 */
Test(store_fill, a_getter_waiting_before_a_fresh_promise_wakes_at_the_fill)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = shoal_id_next(s);
	int rep[2];
	int64_t t0;
	pid_t g;

	tu_pipe(rep);
	g = tu_fork();
	if (g == 0) {
		struct shoal_store *c;
		struct shoal_view v;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, 10);
		tu_child_write_byte(rep[1], 'a');
		TU_CHILD_CHECK(shoal_get(c, id, 8000, &v) == 0, 11);
		TU_CHILD_CHECK(tu_check(v.data, v.size, 9), 12);
		shoal_release(c, &v);
		shoal_store_close(c);
		_exit(0);
	}
	cr_assert_eq(tu_read_byte(rep[0], TU_CHILD_DEADLINE_MS), 'a');
	cr_assert(tu_await_state(g, 'S', TU_CHILD_DEADLINE_MS),
		  "G never slept in its get");
	tu_assert_rc(shoal__obj_promise(s, id, true, 0), 0);
	cr_assert_eq(tu_wait_result(filler(s, id, 9, -1, -1, 0)), 0);
	t0 = tu_now_ms();
	tu_assert_rc(tu_wait_result(g), 0, "G's get");
	cr_assert_lt(tu_now_ms() - t0, SHOAL__WAIT_SLICE_MS / 2,
		     "G was not woken by the seal: it waited for its slice");
	tu_assert_rc(shoal_drop(s, id), 0);
	shoal_store_close(s);
}

Test(store_fill, fills_of_missing_sealed_or_busy_entries_are_refused)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = shoal_id_next(s), sealed = shoal_id_next(s);
	int ready[2], go[2];
	struct shoal__fill f;
	void *buf;
	pid_t pid;

	tu_assert_rc(shoal__fill_begin(s, id, 10, 0, &f, &buf), -ENOENT);
	tu_assert_rc(tu_put(s, sealed, 10, 1, 0), 0);
	tu_assert_rc(shoal__fill_begin(s, sealed, 10, 0, &f, &buf), SHOAL_ESEALED);
	tu_pipe(ready);
	tu_pipe(go);
	tu_assert_rc(shoal__obj_promise(s, id, true, 0), 0);
	pid = filler(s, id, 1, ready[1], go[0], 0);
	cr_assert_eq(tu_read_byte(ready[0], 5000), 'r');
	tu_assert_rc(shoal__fill_begin(s, id, 10, 0, &f, &buf), -EBUSY);
	tu_write_byte(go[1], 'g');
	cr_assert_eq(tu_wait_result(pid), 0);
	tu_assert_rc(shoal__fill_begin(s, id, 10, 0, &f, &buf), SHOAL_ESEALED);
	cr_assert_eq(tu_stats(s).bytes_used, SIZE + 10, "refused fills leaked");
	shoal_store_close(s);
}

Test(store_fill, an_error_fill_is_flagged)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = shoal_id_next(s);
	uint64_t c;
	int idx;

	tu_assert_rc(shoal__obj_promise(s, id, true, 0), 0);
	cr_assert_eq(tu_wait_result(filler(s, id, 2, -1, -1, SHOAL__SIZE_ERROR)), 0);
	idx = shoal__dir_lookup(s, id, &c);
	cr_assert_eq(SHOAL__CTL_STATE(c), SHOAL__E_SEALED);
	cr_assert_eq(shoal__entry_desc(&s->dir[idx]).flags, SHOAL__SIZE_ERROR);
	cr_assert_eq(shoal__entry_desc(&s->dir[idx]).size, SIZE);
	shoal_store_close(s);
}

Test(store_fill, aborting_a_promise_while_it_fills_frees_everything)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = shoal_id_next(s);
	struct paused p = promise_and_pause(s, id, 1);
	struct shoal_view v;

	tu_assert_rc(shoal_abort(s, id), 0);
	tu_write_byte(p.go[1], 'g');
	cr_assert_eq(tu_wait_result(p.pid), -ENOENT, "the fill must see the abort");
	tu_assert_rc(shoal_get(s, id, 0, &v), -ETIMEDOUT);
	cr_assert_eq(tu_stats(s).objects, 0);
	cr_assert_eq(tu_stats(s).bytes_used, 0);
	shoal_store_close(s);
}

/* The block of the fill in progress recorded in pid's process slot. */
static uint64_t filling_block(struct shoal_store *s, pid_t pid)
{
	for (uint32_t i = 0; i < s->geo.max_procs; i++) {
		uint64_t st = atomic_load(&s->procs[i].state);

		if (SHOAL__PROC_PHASE(st) != SHOAL__PROC_LIVE || SHOAL__PROC_PID(st) != pid)
			continue;
		for (uint32_t k = 0; k < SHOAL__PROC_FILLS; k++)
			if (s->procs[i].fills[k].stage == 1)
				return s->procs[i].fills[k].block_off;
	}
	cr_assert_fail("no fill recorded for %d", (int)pid);
	return 0;
}

Test(store_fill, a_filler_killed_mid_fill_is_undone_and_the_promise_refilled)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = shoal_id_next(s);
	struct paused p = promise_and_pause(s, id, 1);
	struct shoal_view v;
	shoal_id all = shoal_id_next(s);
	void *buf;

	cr_assert_neq(filling_block(s, p.pid), 0);
	tu_kill(p.pid);
	cr_assert_geq(shoal_store_reap(s), 1);
	cr_assert_not(ctl_of(s, id) & SHOAL__CTL_FILLING, "FILLING left set");
	cr_assert_eq(SHOAL__CTL_STATE(ctl_of(s, id)), SHOAL__E_CREATED);
	/* The dead filler's block is free: the whole arena fits again. */
	tu_assert_rc(shoal_create(s, all, s->geo.capacity, NULL, 0, 0, &buf), 0);
	tu_assert_rc(shoal_abort(s, all), 0);
	cr_assert_eq(tu_wait_result(filler(s, id, 9, -1, -1, 0)), 0);
	tu_assert_rc(shoal_get(s, id, 0, &v), 0);
	cr_assert(tu_check(v.data, v.size, 9));
	shoal_release(s, &v);
	shoal_store_close(s);
}

Test(store_fill, a_dead_promisers_promise_is_aborted_under_its_filler)
{
	struct shoal_store *s = tu_store(8u << 20);
	int fd = shoal_store_fd(s);
	int idp[2], ready[2], go[2];
	shoal_id id;
	pid_t promiser, fill_pid;

	tu_pipe(idp);
	tu_pipe(ready);
	tu_pipe(go);
	promiser = tu_fork();
	if (promiser == 0) {
		struct shoal_store *c;

		if (shoal_store_attach_fd(fd, &c))
			_exit(1);
		id = shoal_id_next(c);
		if (shoal__obj_promise(c, id, true, 0))
			_exit(2);
		if (write(idp[1], &id, sizeof id) != sizeof id)
			_exit(3);
		pause();
		_exit(0);
	}
	cr_assert_eq(read(idp[0], &id, sizeof id), (ssize_t)sizeof id);
	fill_pid = filler(s, id, 1, ready[1], go[0], 0);
	cr_assert_eq(tu_read_byte(ready[0], 5000), 'r');
	tu_kill(promiser);
	cr_assert_geq(shoal_store_reap(s), 1);
	tu_write_byte(go[1], 'g');
	cr_assert_eq(tu_wait_result(fill_pid), -ENOENT);
	cr_assert_eq(tu_stats(s).objects, 0);
	cr_assert_eq(tu_stats(s).bytes_used, 0);
	shoal_store_close(s);
}

/* An error object as the runtime writes it: code, then message. */
static pid_t error_filler(struct shoal_store *parent, shoal_id id, int32_t code,
			  const char *msg)
{
	int fd = shoal_store_fd(parent);
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *s;
		struct shoal__fill f;
		size_t len = strlen(msg);
		void *buf;
		int rc = shoal_store_attach_fd(fd, &s);

		if (!rc)
			rc = shoal__fill_begin(s, id, sizeof code + len, 1000, &f, &buf);
		if (!rc) {
			memcpy(buf, &code, sizeof code);
			memcpy((char *)buf + sizeof code, msg, len);
			rc = shoal__fill_end(s, &f, SHOAL__SIZE_ERROR);
		}
		_exit(tu_err_to_exit(rc));
	}
	return pid;
}

Test(store_fill, get_of_an_error_object_returns_its_code_and_message)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = shoal_id_next(s), ok = shoal_id_next(s);
	const char *msg = "division by zero in step 3";
	struct shoal_view v[2];
	shoal_id ids[2] = {id, ok};
	char buf[64], small[9];

	tu_assert_rc(shoal__obj_promise(s, id, true, 0), 0);
	tu_assert_rc(shoal_error_message(s, id, buf, sizeof buf), -EAGAIN);
	cr_assert_eq(tu_wait_result(error_filler(s, id, SHOAL_ETASK, msg)), 0);
	tu_assert_rc(shoal_get(s, id, 0, &v[0]), SHOAL_ETASK);
	cr_assert_null(v[0].data);
	tu_assert_rc(shoal_error_message(s, id, buf, sizeof buf), (int)strlen(msg));
	cr_assert_str_eq(buf, msg);
	tu_assert_rc(shoal_error_message(s, id, small, sizeof small), (int)strlen(msg));
	cr_assert_str_eq(small, "division", "truncated and NUL-terminated");
	cr_assert_eq(tu_info(s, id).pins, 0, "an error get leaves no pin");
	tu_assert_rc(tu_put(s, ok, 100, 4, 0), 0);
	tu_assert_rc(shoal_error_message(s, ok, buf, sizeof buf), -ENOMSG);
	tu_assert_rc(shoal_error_message(s, tu_id(9, 9), buf, sizeof buf), -ENOENT);
	cr_assert_eq(shoal_get_many(s, ids, 2, 0, v), 1);
	cr_assert_eq(v[0].err, SHOAL_ETASK);
	cr_assert_eq(v[1].err, 0);
	shoal_release(s, &v[1]);
	shoal_store_close(s);
}

Test(store_fill, wait_returns_ready_objects_in_input_order)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id ids[4];
	uint8_t ready[4];
	int ready_pipe[2], go[2];
	pid_t pid;

	for (int i = 0; i < 4; i++) {
		ids[i] = shoal_id_next(s);
		tu_assert_rc(shoal__obj_promise(s, ids[i], true, 0), 0);
	}
	tu_assert_rc(shoal_wait(s, ids, 4, 1, 0, ready), 0);
	cr_assert_eq(ready[0] + ready[1] + ready[2] + ready[3], 0);
	cr_assert_eq(tu_wait_result(filler(s, ids[2], 1, -1, -1, 0)), 0);
	cr_assert_eq(tu_wait_result(error_filler(s, ids[0], SHOAL_ETASK, "x")), 0);
	tu_assert_rc(shoal_wait(s, ids, 4, 1, 0, ready), 2);
	cr_assert(ready[0] && !ready[1] && ready[2] && !ready[3]);
	/* Asking for 3 waits for the next fill (another process). */
	tu_pipe(ready_pipe);
	tu_pipe(go);
	pid = filler(s, ids[3], 1, ready_pipe[1], go[0], 0);
	cr_assert_eq(tu_read_byte(ready_pipe[0], 5000), 'r');
	tu_assert_rc(shoal_wait(s, ids, 4, 3, 0, ready), 2);
	tu_write_byte(go[1], 'g');
	tu_assert_rc(shoal_wait(s, ids, 4, 3, 5000, ready), 3);
	cr_assert(ready[3] && !ready[1]);
	cr_assert_eq(tu_wait_result(pid), 0);
	tu_assert_rc(shoal_wait(s, ids, 4, 4, 20, ready), 3); /* timeout */
	tu_assert_rc(shoal_wait(s, ids, 4, 5, 0, ready), -EINVAL);
	shoal_store_close(s);
}

/* Fills of at most SHOAL__INLINE_MAX bytes live in the entry itself: no
 * block, no arena bytes; one byte more takes a block. */
Test(store_fill, small_fills_live_in_the_entry)
{
	struct shoal_store *s = tu_store(8u << 20);
	size_t sizes[] = {0, 1, SHOAL__INLINE_MAX, SHOAL__INLINE_MAX + 1};
	shoal_id ids[4];

	for (int k = 0; k < 4; k++) {
		struct shoal_view v;

		ids[k] = shoal_id_next(s);
		tu_assert_rc(shoal__obj_promise(s, ids[k], true, 0), 0);
		cr_assert_eq(tu_wait_result(sized_filler(s, ids[k], sizes[k], 20 + k,
							 -1, -1, 0)), 0);
		tu_assert_rc(shoal_get(s, ids[k], 0, &v), 0);
		cr_assert_eq(v.size, sizes[k]);
		cr_assert(tu_check(v.data, v.size, 20 + k), "size %zu: wrong bytes",
			  sizes[k]);
		shoal_release(s, &v);
		cr_assert_eq(tu_stats(s).bytes_used,
			     sizes[k] > SHOAL__INLINE_MAX ? sizes[k] : 0,
			     "size %zu: arena bytes", sizes[k]);
	}
	for (int k = 0; k < 4; k++) {
		tu_assert_rc(shoal_drop(s, ids[k]), 0);
		tu_assert_rc(shoal_delete(s, ids[k]), 0);
	}
	cr_assert_eq(tu_stats(s).bytes_used, 0);
	cr_assert_eq(tu_stats(s).objects, 0);
	shoal_store_close(s);
}

/* A filler killed inside an inline fill: undone, nothing to free, and the
 * promise can be filled again. */
Test(store_fill, a_filler_killed_in_an_inline_fill_is_undone)
{
	struct shoal_store *s = tu_store(8u << 20);
	shoal_id id = shoal_id_next(s);
	struct shoal_view v;
	int ready[2], go[2];
	pid_t pid;

	tu_pipe(ready);
	tu_pipe(go);
	tu_assert_rc(shoal__obj_promise(s, id, true, 0), 0);
	pid = sized_filler(s, id, 4, 7, ready[1], go[0], 0);
	cr_assert_eq(tu_read_byte(ready[0], 5000), 'r');
	cr_assert(ctl_of(s, id) & SHOAL__CTL_FILLING);
	tu_kill(pid);
	cr_assert_geq(shoal_store_reap(s), 1);
	cr_assert_not(ctl_of(s, id) & SHOAL__CTL_FILLING, "FILLING left set");
	cr_assert_eq(SHOAL__CTL_STATE(ctl_of(s, id)), SHOAL__E_CREATED);
	cr_assert_eq(tu_wait_result(sized_filler(s, id, 4, 8, -1, -1, 0)), 0);
	tu_assert_rc(shoal_get(s, id, 0, &v), 0);
	cr_assert(tu_check(v.data, v.size, 8));
	shoal_release(s, &v);
	cr_assert_eq(tu_stats(s).bytes_used, 0);
	shoal_store_close(s);
}
