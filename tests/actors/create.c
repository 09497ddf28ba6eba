/* SPDX-License-Identifier: MIT */
/*
 * tests/actors/create.c - an actor's life from create to shutdown: names
 * found and unique, a constructor that fails (and is not restarted), the
 * list of actors and their states, the destructor at shutdown.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"

Test(actors, named_actors_are_found_and_unique)
{
	struct fx f = start(1);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor a, b, c;

	o.name = "counter-1";
	a = counter(&f, 3, &o);
	tu_assert_rc(shoal_actor_lookup(f.rt, "counter-1", &b), 0);
	cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
	tu_assert_rc(shoal_actor_create(f.rt, "Counter", NULL, &o, &c), -EEXIST);
	o.get_if_exists = true;
	tu_assert_rc(shoal_actor_create(f.rt, "Counter", NULL, &o, &c), 0);
	cr_assert_eq(memcmp(&a, &c, sizeof a), 0);
	cr_assert_eq(call_get(&f, b, "add", 1), 4);
	tu_assert_rc(shoal_actor_lookup(f.rt, "nobody", &b), SHOAL_ENOACTOR);
	stop(&f);
}

Test(actors, a_failing_constructor_fails_the_calls_and_says_why)
{
	struct fx f = start(1);
	struct shoal_actor b;
	struct shoal_actor_info i;
	struct shoal_view v;
	char msg[160];
	shoal_id ref;
	int rc;

	tu_assert_rc(shoal_actor_create(f.rt, "Broken", NULL, NULL, &b), 0);
	rc = shoal_actor_call(f.rt, b, 0, NULL, &ref); /* queued, or dead already */
	if (rc == 0) {
		tu_assert_rc(shoal_get(f.s, ref, 10000, &v), SHOAL_EACTORDIED);
		cr_assert_geq(shoal_error_message(f.s, ref, msg, sizeof msg), 0);
		cr_assert(strstr(msg, "constructor"), "message: %s", msg);
		shoal_drop(f.s, ref);
	} else {
		tu_assert_rc(rc, SHOAL_EACTORDIED);
	}
	i = info(&f, b);
	cr_assert_eq(i.state, SHOAL_ACTOR_DEAD);
	cr_assert(strstr(i.why, "constructor"), "why: %s", i.why);
	cr_assert(strstr(i.why, "broken on purpose"), "why: %s", i.why);
	cr_assert_eq(i.restarts, 0);
	tu_assert_rc(shoal_actor_call(f.rt, b, 0, NULL, &ref), SHOAL_EACTORDIED);
	tu_assert_rc(shoal_actor_kill(f.rt, b, true), SHOAL_EACTORDIED);
	stop(&f);
}

/* A failing constructor is not restarted, whatever max_restarts says. */
Test(actors, a_failing_constructor_is_not_restarted)
{
	struct fx f = start(1);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor b;
	struct shoal_view v;
	shoal_id ref;
	int rc;

	o.max_restarts = 3;
	tu_assert_rc(shoal_actor_create(f.rt, "Broken", NULL, &o, &b), 0);
	rc = shoal_actor_call(f.rt, b, 0, NULL, &ref);
	if (rc == 0) {
		tu_assert_rc(shoal_get(f.s, ref, 10000, &v), SHOAL_EACTORDIED);
		shoal_drop(f.s, ref);
	} else {
		tu_assert_rc(rc, SHOAL_EACTORDIED);
	}
	cr_assert_eq(info(&f, b).state, SHOAL_ACTOR_DEAD);
	cr_assert_eq(info(&f, b).restarts, 0);
	stop(&f);
}

Test(actors, list_names_every_actor_and_its_state)
{
	struct fx f = start(1);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor a, b, got[8];
	struct shoal_actor_info i;
	bool seen_a = false, seen_b = false;
	int n;

	o.name = "listed";
	a = counter(&f, 0, &o);
	b = counter(&f, 0, NULL);
	cr_assert_eq(call_get(&f, a, "add", 0), 0);
	tu_assert_rc(shoal_actor_kill(f.rt, b, true), 0);
	n = shoal_actor_list(f.rt, got, 8);
	cr_assert_eq(n, 2);
	for (int k = 0; k < n; k++) {
		tu_assert_rc(shoal_actor_info(f.rt, got[k], &i), 0);
		cr_assert_str_eq(i.klass, "Counter");
		if (!memcmp(&got[k], &a, sizeof a)) {
			seen_a = true;
			cr_assert_eq(i.state, SHOAL_ACTOR_ALIVE);
			cr_assert_str_eq(i.name, "listed");
		} else if (!memcmp(&got[k], &b, sizeof b)) {
			seen_b = true;
			cr_assert_eq(i.state, SHOAL_ACTOR_DEAD);
			cr_assert(strstr(i.why, "killed"), "why: %s", i.why);
		}
	}
	cr_assert(seen_a && seen_b);
	tu_assert_rc(shoal_actor_list(f.rt, NULL, 0), 2);
	tu_assert_rc(shoal_actor_list(f.rt, NULL, 1), -EINVAL);
	stop(&f);
}

/* The destructor runs when the runtime shuts down, on the actor's state. */
Test(actors, the_destructor_runs_at_shutdown)
{
	struct fx f = start(1);
	struct shoal_actor d;
	struct shoal_args args;
	char path[128], line[64] = "";
	FILE *in;

	snprintf(path, sizeof path, "/tmp/shoal-test-diary-%d", (int)getpid());
	unlink(path);
	shoal_args_init(&args);
	shoal_args_bytes(&args, path, strlen(path));
	tu_assert_rc(shoal_actor_create(f.rt, "Diary", &args, NULL, &d), 0);
	cr_assert_eq(call_get(&f, d, "add", 5), 5);
	cr_assert_eq(call_get(&f, d, "add", 2), 7);
	cr_assert_eq(access(path, F_OK), -1, "the destructor ran before shutdown");
	stop(&f);
	in = fopen(path, "r");
	if (in) {
		if (!fgets(line, sizeof line, in))
			line[0] = '\0';
		fclose(in);
	}
	unlink(path); /* before any assertion: nothing left behind */
	cr_assert(in, "no destructor ran");
	cr_assert_str_eq(line, "fini 7\n");
}
