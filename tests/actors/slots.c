/* SPDX-License-Identifier: MIT */
/*
 * tests/actors/slots.c - slots and lanes come back: max_actors live at
 * once, a dead actor's slot reused (while its callers live on), lanes of
 * callers that left back in the pool, a predecessor's lane served again.
 */
#include <unistd.h>

#include "fixture.h"

static struct fx start_actors(uint32_t max_actors)
{
	struct shoal_runtime_options o = small_opts(1);

	o.max_actors = max_actors;
	return start_opts(&o);
}

Test(actors, max_actors_live_at_once_and_a_dead_ones_slot_is_reused)
{
	struct fx f = start_actors(3);
	struct shoal_actor a[3], c;
	struct shoal_actor_info i;
	shoal_id ref;

	for (int k = 0; k < 3; k++)
		a[k] = counter(&f, 10 * k, NULL);
	tu_assert_rc(shoal_actor_create(f.rt, "Counter", NULL, NULL, &c), -ENOSPC);
	/* The driver has a lane into it: the kill must not keep the slot. */
	cr_assert_eq(call_get(&f, a[1], "add", 1), 11);
	tu_assert_rc(shoal_actor_kill(f.rt, a[1], true), 0);
	c = counter(&f, 77, NULL);
	cr_assert_eq(c.index, a[1].index, "the dead actor's slot was not reused");
	cr_assert_neq(c.generation, a[1].generation);
	cr_assert_eq(call_get(&f, c, "add", 1), 78);
	/* The old handle names the dead actor, never the new one. */
	tu_assert_rc(call1(&f, a[1], "add", 1, &ref), SHOAL_EACTORDIED);
	tu_assert_rc(shoal_actor_info(f.rt, a[1], &i), SHOAL_EACTORDIED);
	tu_assert_rc(shoal_actor_kill(f.rt, a[1], true), SHOAL_EACTORDIED);
	cr_assert_eq(call_get(&f, a[0], "add", 0), 0);
	cr_assert_eq(call_get(&f, a[2], "add", 0), 20);
	cr_assert_eq(call_get(&f, c, "add", 0), 78);
	tu_assert_rc(shoal_actor_create(f.rt, "Counter", NULL, NULL, &c), -ENOSPC);
	stop(&f);
}

/* A dead actor's slot is reused at once, even while processes that called
 * it live on (a worker, an attached program): their lanes stay behind,
 * and the new actor in the slot never reads them. */
Test(actors, a_dead_actors_slot_is_reused_while_its_callers_live)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_runtime_options o = small_opts(1);
	struct shoal_actor_options ao = SHOAL_ACTOR_OPTIONS_INIT;
	const char *args[] = {"actor-seq", name, "ctr", "1", "10", NULL};
	struct shoal_actor a, c;
	struct shoal_args targs;
	int64_t x = 1, n = 3, v;
	shoal_id ref;
	struct fx f;
	int to, from;
	pid_t pid;

	o.name = name;
	o.max_actors = 1;
	f = start_opts(&o);
	ao.name = "ctr";
	a = counter(&f, 0, &ao);
	shoal_args_init(&targs);
	shoal_args_actor(&targs, &a);
	shoal_args_bytes(&targs, &x, sizeof x);
	shoal_args_bytes(&targs, &n, sizeof n);
	tu_assert_rc(shoal_submit(f.rt, shoal_function(f.rt, "use_actor"), &targs, 1,
				  &ref), 0);
	tu_assert_rc(get_i64(&f, ref, &v), 0);
	cr_assert_eq(v, 3, "the worker called the actor");
	shoal_drop(f.s, ref);
	pid = spawn_runtime_peer(args, &to, &from);
	cr_assert_eq(tu_read_byte(from, 10000), 'r'); /* it called, and waits */
	tu_assert_rc(shoal_actor_kill(f.rt, a, true), 0);
	tu_assert_rc(shoal_actor_create(f.rt, "Counter", NULL, &ao, &c), 0,
		     "max_actors = 1 and the one actor is dead: its slot is free");
	cr_assert_eq(c.index, a.index);
	cr_assert_eq(call_get(&f, c, "add", 5), 5, "the new actor serves");
	/* The peer's old handle: its lane is the dead actor's, its calls fail. */
	tu_write_byte(to, 'g');
	cr_assert_neq(tu_wait_exit(pid), 0, "the peer's calls on a dead actor succeeded");
	cr_assert_eq(call_get(&f, c, "add", 1), 6, "nothing of the peer's reached it");
	close(to);
	close(from);
	stop(&f);
}

/* Lanes of callers that detached go back to the pool: with room for two
 * lanes, programs attached one after another each get one. */
Test(actors, lanes_of_callers_that_left_go_back_to_the_pool)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_runtime_options o = small_opts(1);
	struct shoal_actor_options ao = SHOAL_ACTOR_OPTIONS_INIT;
	const char *args[] = {"actor-add", name, "acc", "1", NULL};
	struct shoal_actor a;
	struct fx f;

	o.name = name;
	o.max_lanes = 2; /* the driver's and one more */
	f = start_opts(&o);
	ao.name = "acc";
	a = counter(&f, 0, &ao);
	cr_assert_eq(call_get(&f, a, "add", 0), 0);
	for (int k = 1; k <= 6; k++) {
		int from;
		char out[64];
		pid_t pid = spawn_runtime_peer(args, NULL, &from);

		cr_assert_eq(tu_wait_exit(pid), 0, "peer %d found no lane", k);
		tu_read_all(from, out, sizeof out);
		close(from);
		/* The actor gives the lane back after running what is in it:
		 * this call, queued behind the peer's, sees it done. */
		cr_assert_eq(call_get(&f, a, "add", 0), k);
	}
	stop(&f);
}

/* A lane the new actor in a slot first saw as its predecessor's (an
 * attached program's, left hooked when the old actor was SIGKILLed),
 * given back and taken again for the new actor at the same hook (by a
 * worker): the new actor must see that it is now its own.  The driver's
 * call proves the new actor passed over the old lane before the program
 * gives it back; with room for two lanes, the worker's is the same one. */
Test(actors, a_predecessors_lane_taken_again_for_the_new_actor_is_served)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_runtime_options o = small_opts(1);
	struct shoal_actor_options ao = SHOAL_ACTOR_OPTIONS_INIT;
	const char *args[] = {"actor-seq", name, "ctr", "1", "1", NULL};
	struct shoal_actor a, c;
	struct shoal_args targs;
	int64_t x = 1, n = 2, v;
	struct shoal_view view;
	struct gate g;
	shoal_id ref;
	struct fx f;
	int to, from;
	pid_t pid;

	o.name = name;
	o.max_actors = 1;
	o.max_lanes = 2;
	f = start_opts(&o);
	ao.name = "ctr";
	a = counter(&f, 0, &ao);
	pid = spawn_runtime_peer(args, &to, &from);
	cr_assert_eq(tu_read_byte(from, 10000), 'r'); /* its lane is hooked */
	crash_busy(&f, a, 1, &g, NULL, 0);
	tu_assert_rc(shoal_get(f.s, g.ref, 10000, &view), SHOAL_EACTORDIED);
	shoal_drop(f.s, g.ref);
	c = counter(&f, 10, NULL);
	cr_assert_eq(c.index, a.index);
	cr_assert_eq(call_get(&f, c, "add", 1), 11, "the new actor serves");
	/* The program's next call fails and gives its lane back. */
	tu_write_byte(to, 'g');
	cr_assert_neq(tu_wait_exit(pid), 0, "a call on a dead actor succeeded");
	close(to);
	close(from);
	shoal_args_init(&targs);
	shoal_args_actor(&targs, &c);
	shoal_args_bytes(&targs, &x, sizeof x);
	shoal_args_bytes(&targs, &n, sizeof n);
	tu_assert_rc(shoal_submit(f.rt, shoal_function(f.rt, "use_actor"), &targs, 1,
				  &ref), 0);
	tu_assert_rc(get_i64(&f, ref, &v), 0, "the new actor never read the lane");
	cr_assert_eq(v, 13);
	shoal_drop(f.s, ref);
	stop(&f);
}
