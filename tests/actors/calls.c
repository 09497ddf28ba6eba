/* SPDX-License-Identifier: MIT */
/*
 * tests/actors/calls.c - calls on one actor from one caller: they run in
 * order and keep the actor's state, errors become error objects, sends,
 * arguments of any size and refs, several returns, the holds a call keeps
 * on its ref arguments, and the calls refused (bad handles and methods).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

Test(actors, calls_run_in_order_and_keep_state)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 100, NULL);
	shoal_id refs[100];
	int64_t v;

	for (int i = 0; i < 100; i++)
		tu_assert_rc(call1(&f, a, "add", i, &refs[i]), 0);
	for (int i = 0; i < 100; i++) {
		tu_assert_rc(get_i64(&f, refs[i], &v), 0);
		cr_assert_eq(v, 100 + (int64_t)i * (i + 1) / 2, "call %d saw %" PRId64, i, v);
		shoal_drop(f.s, refs[i]);
	}
	stop(&f);
}

Test(actors, method_errors_become_error_objects)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 0, NULL);
	shoal_id ref;
	char msg[128];
	struct shoal_view v;

	tu_assert_rc(call1(&f, a, "fail", 7, &ref), 0);
	tu_assert_rc(shoal_get(f.s, ref, 10000, &v), SHOAL_ETASK);
	cr_assert_geq(shoal_error_message(f.s, ref, msg, sizeof msg), 0);
	cr_assert(strstr(msg, "counter refused 7"), "message: %s", msg);
	shoal_drop(f.s, ref);
	cr_assert_eq(call_get(&f, a, "add", 5), 5, "the actor goes on after an error");
	stop(&f);
}

/* measure() saw the `size` bytes of buf. */
static void check_measure(struct fx *f, shoal_id ref, size_t size, const void *buf)
{
	struct shoal_view v;
	uint64_t got[2];

	tu_assert_rc(shoal_get(f->s, ref, 10000, &v), 0, "measure(%zu bytes)", size);
	cr_assert_eq(v.size, sizeof got);
	memcpy(got, v.data, sizeof got);
	shoal_release(f->s, &v);
	shoal_drop(f->s, ref);
	cr_assert_eq(got[0], size, "size %" PRIu64 ", want %zu", got[0], size);
	cr_assert_eq(got[1], tu_sum(buf, size), "bytes of the %zu-byte argument differ",
		     size);
}

Test(actors, sends_run_and_count)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 0, NULL);
	int m = method(&f, a, "add");
	struct shoal_args args;
	int64_t two = 2, st[3];
	char big[4096];

	shoal_args_init(&args);
	shoal_args_bytes(&args, &two, sizeof two);
	for (int i = 0; i < 50; i++)
		tu_assert_rc(shoal_actor_send(f.rt, a, m, &args), 0, "send %d", i);
	/* A send whose argument travels through the store. */
	tu_fill(big, sizeof big, 5);
	shoal_args_init(&args);
	shoal_args_bytes(&args, big, sizeof big);
	tu_assert_rc(shoal_actor_send(f.rt, a, method(&f, a, "measure"), &args), 0);
	stats(&f, a, st); /* runs after every send: same lane */
	cr_assert_eq(st[0], 100, "sum %" PRId64, st[0]);
	cr_assert_eq(st[1], 50, "calls %" PRId64, st[1]);
	cr_assert_geq(info(&f, a).calls_run, 51);
	cr_assert_eq(info(&f, a).calls_failed, 0);
	stop(&f);
}

Test(actors, arguments_of_any_size_and_refs_arrive_intact)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 0, NULL);
	int m = method(&f, a, "measure");
	/* Around the record's inline room (192 bytes with the length word),
	 * then well beyond it. */
	static const size_t sizes[] = {100, 196, 197, 204, 4096, 1u << 20};
	struct shoal_args args;
	shoal_id ref, obj;
	void *buf = malloc(1u << 20), *data;

	cr_assert_not_null(buf);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		tu_fill(buf, sizes[i], 10 + i);
		shoal_args_init(&args);
		shoal_args_bytes(&args, buf, sizes[i]);
		tu_assert_rc(shoal_actor_call(f.rt, a, m, &args, &ref), 0);
		memset(buf, 0, sizes[i]); /* the call copied it */
		tu_fill(buf, sizes[i], 10 + i);
		check_measure(&f, ref, sizes[i], buf);
	}
	/* A ref, dropped by the caller at once: the call keeps it alive. */
	tu_fill(buf, 65536, 20);
	tu_assert_rc(shoal_put(f.s, buf, 65536, 1000, &obj), 0);
	shoal_args_init(&args);
	shoal_args_ref(&args, obj);
	tu_assert_rc(shoal_actor_call(f.rt, a, m, &args, &ref), 0);
	shoal_drop(f.s, obj);
	check_measure(&f, ref, 65536, buf);
	/* A ref sealed after the call: the actor waits for it. */
	obj = tu_id(30, 0);
	tu_assert_rc(shoal_create(f.s, obj, 5000, NULL, 0, 1000, &data), 0);
	shoal_args_init(&args);
	shoal_args_ref(&args, obj);
	tu_assert_rc(shoal_actor_call(f.rt, a, m, &args, &ref), 0);
	tu_fill(data, 5000, 30);
	tu_fill(buf, 5000, 30);
	tu_assert_rc(shoal_seal(f.s, obj), 0);
	check_measure(&f, ref, 5000, buf);
	shoal_drop(f.s, obj);
	free(buf);
	stop(&f);
}

Test(actors, several_returns)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 0, NULL);
	struct shoal_call_options o = SHOAL_CALL_OPTIONS_INIT;
	struct shoal_args args;
	int64_t x = 7, v;
	shoal_id refs[3];

	o.num_returns = 3;
	shoal_args_init(&args);
	shoal_args_bytes(&args, &x, sizeof x);
	tu_assert_rc(shoal_actor_call_opts(f.rt, a, method(&f, a, "triple"), &args, &o,
					   refs), 0);
	for (int i = 0; i < 3; i++) {
		tu_assert_rc(get_i64(&f, refs[i], &v), 0, "return %d", i);
		cr_assert_eq(v, 7 * (i + 1), "return %d is %" PRId64, i, v);
		shoal_drop(f.s, refs[i]);
	}
	stop(&f);
}

Test(actors, bad_handles_and_methods_are_refused)
{
	struct fx f = start(1);
	struct shoal_actor a = counter(&f, 0, NULL), r, bad;
	struct shoal_call_options o = SHOAL_CALL_OPTIONS_INIT;
	struct shoal_actor_info i;
	int m = method(&f, a, "add"), last = method(&f, a, "triple");
	struct shoal_args args;
	int64_t one = 1, st[3];
	shoal_id ref;

	shoal_args_init(&args);
	shoal_args_bytes(&args, &one, sizeof one);
	memset(&bad, 0, sizeof bad);
	tu_assert_rc(shoal_actor_call(f.rt, bad, m, &args, &ref), -EINVAL, "zeroed");
	tu_assert_rc(shoal_actor_send(f.rt, bad, m, &args), -EINVAL, "zeroed");
	bad = a;
	bad.magic ^= 1;
	tu_assert_rc(shoal_actor_call(f.rt, bad, m, &args, &ref), -EINVAL, "magic");
	bad = a;
	bad.index = 1u << 20;
	tu_assert_rc(shoal_actor_call(f.rt, bad, m, &args, &ref), -EINVAL, "index");
	bad = a;
	bad.klass = SHOAL_MAX_CLASSES - 1;
	tu_assert_rc(shoal_actor_call(f.rt, bad, m, &args, &ref), -EINVAL, "class");
	bad = a;
	bad.generation = 0;
	tu_assert_rc(shoal_actor_call(f.rt, bad, m, &args, &ref), -EINVAL, "gen 0");
	bad = a;
	bad.generation += 1000; /* a well-formed handle of no live actor */
	tu_assert_rc(shoal_actor_call(f.rt, bad, m, &args, &ref), SHOAL_EACTORDIED);
	tu_assert_rc(shoal_actor_call(f.rt, a, -1, &args, &ref), -EINVAL);
	tu_assert_rc(shoal_actor_call(f.rt, a, last + 1, &args, &ref), -EINVAL);
	tu_assert_rc(shoal_actor_call(f.rt, a, SHOAL_MAX_METHODS, &args, &ref), -EINVAL);
	tu_assert_rc(shoal_actor_method(f.rt, a, "nope"), SHOAL_ENOMETHOD);
	o.num_returns = SHOAL_MAX_RETURNS + 1;
	tu_assert_rc(shoal_actor_call_opts(f.rt, a, m, &args, &o, &ref), -EINVAL);
	o.num_returns = 1;
	tu_assert_rc(shoal_actor_call_opts(f.rt, a, m, &args, &o, NULL), -EINVAL);
	/* Method indices are per class: the Relay has one. */
	tu_assert_rc(shoal_actor_create(f.rt, "Relay", NULL, NULL, &r), 0);
	tu_assert_rc(shoal_actor_call(f.rt, r, 1, &args, &ref), -EINVAL);
	tu_assert_rc(shoal_actor_create(f.rt, "Nobody", NULL, NULL, &r), SHOAL_ENOCLASS);
	{
		char big[SHOAL_ACTOR_CTOR_BYTES + 1] = {0};

		shoal_args_init(&args);
		shoal_args_bytes(&args, big, sizeof big);
		tu_assert_rc(shoal_actor_create(f.rt, "Counter", &args, NULL, &r), -E2BIG);
	}
	memset(&bad, 0, sizeof bad);
	tu_assert_rc(shoal_actor_info(f.rt, bad, &i), -EINVAL);
	tu_assert_rc(shoal_actor_kill(f.rt, bad, true), -EINVAL);
	/* Nothing was queued. */
	stats(&f, a, st);
	cr_assert_eq(st[1], 0, "calls %" PRId64, st[1]);
	stop(&f);
}

/* The holds a call keeps on its ref arguments go once it is done, even
 * when its result was fetched, dropped and freed at once (its ID gone from
 * the directory by the time the caller looks). */
static uint32_t holds_of(struct fx *f, shoal_id id)
{
	struct shoal_object_info info[64];
	int n = shoal_list(f->s, info, 64);

	for (int k = 0; k < n && k < 64; k++)
		if (shoal_id_eq(info[k].id, id))
			return info[k].holds;
	return UINT32_MAX;
}

Test(actors, holds_on_ref_arguments_go_when_calls_are_done)
{
	struct shoal_runtime_options o = small_opts(1);
	struct fx f;
	int64_t one = 1;
	struct shoal_actor a;
	shoal_id x, refs[50];

	o.store.max_objects = 64; /* a small directory: tombstones are reused */
	f = start_opts(&o);
	a = counter(&f, 0, NULL);
	tu_assert_rc(shoal_put(f.s, &one, sizeof one, 1000, &x), 0);
	for (int k = 0; k < 50; k++) {
		struct shoal_args args;

		shoal_args_init(&args);
		shoal_args_ref(&args, x);
		tu_assert_rc(shoal_actor_call(f.rt, a, method(&f, a, "measure"), &args,
					      &refs[k]), 0);
	}
	for (int k = 0; k < 50; k++) {
		tu_assert_rc(shoal_wait(f.s, &refs[k], 1, 1, 10000, &(uint8_t){0}), 1);
		shoal_drop(f.s, refs[k]); /* freed at once */
	}
	for (int k = 0; k < 1000; k++) { /* the results' tombstones get reused */
		shoal_id y;

		tu_assert_rc(shoal_put(f.s, &one, sizeof one, 1000, &y), 0);
		shoal_drop(f.s, y);
	}
	for (int k = 0; k < 10; k++) /* each call collects up to 8 done ones */
		cr_assert_eq(call_get(&f, a, "add", 1), k + 1);
	cr_assert_eq(holds_of(&f, x), 1, "the calls' holds on the argument stayed");
	tu_assert_rc(shoal_drop(f.s, x), 0);
	stop(&f);
}
