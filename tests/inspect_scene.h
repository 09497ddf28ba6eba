/* SPDX-License-Identifier: MIT */
/*
 * tests/inspect_scene.h - a named runtime in a known state, for the
 * inspect and cli suites (test_inspect.c, test_cli.c) to look at:
 *
 *   one worker; a task "add" WAITING on an object created and not sealed
 *   (its argument 0); a task "gate" RUNNING on the worker, waiting for an
 *   object the scene creates only at its end; an actor "busy" (class
 *   Gate) running a call that waits for another such object, with two
 *   calls queued behind it from this process; an actor "doomed" that was
 *   SIGKILLed once (restarted: its last death says signal 9) and then
 *   killed for good by shoal_actor_kill (DEAD, why: "killed").
 *
 * scene_start asserts (criterion) that the state is reached, polling
 * with a bound (no sleep stands in for an event); scene_end seals every
 * gate and shuts the runtime down.  On a failed assertion the fork server
 * sees the test process die and takes everything down, and the test
 * fixture unlinks the name.
 */
#ifndef SHOAL_TESTS_INSPECT_SCENE_H
#define SHOAL_TESTS_INSPECT_SCENE_H

#include <shoal/shoal.h>

struct scene {
	const char *name;
	struct shoal_runtime *rt;
	shoal_id unsealed;   /* created, never sealed until the end */
	shoal_id gate_task;  /* what the running task waits for */
	shoal_id gate_actor; /* what busy's running call waits for */
	shoal_id t_wait;     /* the WAITING task's first return */
	shoal_id t_run;      /* the RUNNING task's first return */
	shoal_id calls[3];   /* busy's calls: one running, two queued */
	struct shoal_actor busy, doomed;
	int32_t doomed_first_pid;
};

void scene_start(struct scene *sc, const char *name);
void scene_end(struct scene *sc);

/* Polls f(sc) every millisecond or so until true, for at most ms. */
bool scene_poll(bool (*f)(struct scene *sc), struct scene *sc, int ms);

#endif /* SHOAL_TESTS_INSPECT_SCENE_H */
