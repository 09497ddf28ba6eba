/* SPDX-License-Identifier: MIT */
/*
 * tests/actors/handles.c - a handle is bytes: it travels through tasks,
 * other actors, objects and attached programs, and a method's error
 * travels on to the task that depends on its result.
 */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"

Test(actors, handles_travel_through_tasks)
{
	struct fx f = start(2);
	struct shoal_actor a = counter(&f, 0, NULL);
	shoal_id refs[4];
	int64_t x = 1, n = 50, v;

	for (int i = 0; i < 4; i++) {
		struct shoal_args args;

		shoal_args_init(&args);
		shoal_args_actor(&args, &a);
		shoal_args_bytes(&args, &x, sizeof x);
		shoal_args_bytes(&args, &n, sizeof n);
		tu_assert_rc(shoal_submit(f.rt, shoal_function(f.rt, "use_actor"), &args, 1,
					  &refs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		tu_assert_rc(get_i64(&f, refs[i], &v), 0);
		shoal_drop(f.s, refs[i]);
	}
	cr_assert_eq(call_get(&f, a, "add", 0), 200);
	stop(&f);
}

static shoal_id relay_call(struct fx *f, struct shoal_actor r, struct shoal_actor c,
			   int64_t x)
{
	struct shoal_args args;
	shoal_id ref;

	shoal_args_init(&args);
	shoal_args_actor(&args, &c);
	shoal_args_bytes(&args, &x, sizeof x);
	tu_assert_rc(shoal_actor_call(f->rt, r, method(f, r, "relay"), &args, &ref), 0);
	return ref;
}

Test(actors, handles_travel_through_other_actors)
{
	struct fx f = start(1);
	struct shoal_actor c = counter(&f, 100, NULL), r;
	shoal_id refs[10], ref;
	char msg[128];
	int64_t v, want = 100;

	tu_assert_rc(shoal_actor_create(f.rt, "Relay", NULL, NULL, &r), 0);
	for (int i = 0; i < 10; i++)
		refs[i] = relay_call(&f, r, c, i + 1);
	for (int i = 0; i < 10; i++) {
		want += i + 1;
		tu_assert_rc(get_i64(&f, refs[i], &v), 0, "relay %d", i);
		cr_assert_eq(v, want, "relay %d saw %" PRId64, i, v);
		shoal_drop(f.s, refs[i]);
	}
	cr_assert_eq(call_get(&f, c, "add", 0), 155);
	/* The Counter dies: the Relay's own call on it fails, and so does
	 * relay(), with the code; the Relay lives on. */
	tu_assert_rc(shoal_actor_kill(f.rt, c, true), 0);
	ref = relay_call(&f, r, c, 1);
	tu_assert_rc(get_i64(&f, ref, &v), SHOAL_EACTORDIED);
	cr_assert_geq(shoal_error_message(f.s, ref, msg, sizeof msg), 0);
	cr_assert(strstr(msg, "relay: call"), "message: %s", msg);
	shoal_drop(f.s, ref);
	cr_assert_eq(info(&f, r).state, SHOAL_ACTOR_ALIVE);
	stop(&f);
}

Test(actors, a_method_error_propagates_to_a_dependent_task)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 0, NULL);
	int fn = shoal_function(f.rt, "add");
	struct shoal_args args;
	shoal_id bad, good, r1, r2;
	char msg[128];
	int64_t one = 1, v;

	tu_assert_rc(call1(&f, a, "fail", 7, &bad), 0);
	tu_assert_rc(call1(&f, a, "add", 5, &good), 0);
	shoal_args_init(&args);
	shoal_args_ref(&args, bad);
	shoal_args_bytes(&args, &one, sizeof one);
	tu_assert_rc(shoal_submit(f.rt, fn, &args, 1, &r1), 0);
	shoal_args_init(&args);
	shoal_args_ref(&args, good);
	shoal_args_bytes(&args, &one, sizeof one);
	tu_assert_rc(shoal_submit(f.rt, fn, &args, 1, &r2), 0);
	tu_assert_rc(get_i64(&f, r1, &v), SHOAL_ETASK);
	cr_assert_geq(shoal_error_message(f.s, r1, msg, sizeof msg), 0);
	cr_assert_str_eq(msg, "counter refused 7");
	tu_assert_rc(get_i64(&f, r2, &v), 0);
	cr_assert_eq(v, 6);
	shoal_drop(f.s, bad);
	shoal_drop(f.s, good);
	shoal_drop(f.s, r1);
	shoal_drop(f.s, r2);
	stop(&f);
}

Test(actors, an_attached_program_finds_a_named_actor_and_calls_it)
{
	const char *name = tu_shm_name(NULL);
	struct fx f = start_named(name);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	const char *args[] = {"actor-add", name, "acc", "23", NULL};
	struct shoal_actor a;
	char out[64];
	int from;
	pid_t pid;

	o.name = "acc";
	a = counter(&f, 100, &o);
	pid = spawn_runtime_peer(args, NULL, &from);
	cr_assert_eq(tu_wait_exit(pid), 0, "runtime_peer actor-add failed");
	tu_read_all(from, out, sizeof out);
	cr_assert_str_eq(out, "123\n");
	cr_assert_eq(call_get(&f, a, "add", 0), 123, "the peer's call reached the actor");
	close(from);
	stop(&f);
}

/* A handle is bytes: it travels inside an object too, and a task finds
 * it in its ref argument. */
Test(actors, a_handle_travels_inside_an_object)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 40, NULL);
	struct shoal_args args;
	int64_t x = 1, n = 2, v;
	shoal_id obj, ref;

	tu_assert_rc(shoal_put(f.s, &a, sizeof a, 1000, &obj), 0);
	shoal_args_init(&args);
	shoal_args_ref(&args, obj);
	shoal_args_bytes(&args, &x, sizeof x);
	shoal_args_bytes(&args, &n, sizeof n);
	tu_assert_rc(shoal_submit(f.rt, shoal_function(f.rt, "use_actor"), &args, 1,
				  &ref), 0);
	tu_assert_rc(get_i64(&f, ref, &v), 0);
	cr_assert_eq(v, 42, "the task called the actor named in the object");
	shoal_drop(f.s, ref);
	shoal_drop(f.s, obj);
	stop(&f);
}

