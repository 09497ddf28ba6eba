/* SPDX-License-Identifier: MIT */
/*
 * tests/inspect_scene.c - the runtime of inspect_scene.h.
 */
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "inspect_scene.h"
#include "rtutil.h"
#include "testutil.h"

static int task_gate(struct shoal_task *t, void *user)
{
	(void)user;
	return rt_task_wait_gate(t);
}

static int gate_wait(struct shoal_task *t, void *self)
{
	(void)self;
	return rt_task_wait_gate(t);
}

bool scene_poll(bool (*f)(struct scene *sc), struct scene *sc, int ms)
{
	int64_t end = tu_now_ms() + ms;

	while (!f(sc)) {
		if (tu_now_ms() > end)
			return false;
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
	return true;
}

static bool task_in(struct scene *sc, shoal_id id, uint32_t state)
{
	struct shoal_task_info t[16];
	int n = shoal_task_list(sc->rt, t, 16);

	for (int i = 0; i < n && i < 16; i++)
		if (shoal_id_eq(t[i].id, id))
			return t[i].state == state;
	return false;
}

static bool run_started(struct scene *sc)
{
	return task_in(sc, sc->t_run, SHOAL_TASK_RUNNING);
}

static bool busy_queued(struct scene *sc)
{
	struct shoal_lane_info l[4];
	int n = shoal_actor_lanes(sc->rt, sc->busy, l, 4);

	return n == 1 && l[0].queued == 3 && l[0].running == 1;
}

static bool doomed_restarted(struct scene *sc)
{
	struct shoal_actor_stat st;

	return !shoal_actor_stat(sc->rt, sc->doomed, &st) && st.restarts == 1 &&
	       st.state == SHOAL_ACTOR_ALIVE && st.pid > 0;
}

static struct shoal_registry *scene_registry(void)
{
	struct shoal_registry *reg;

	tu_assert_rc(shoal_registry_open(&reg), 0);
	tu_assert_rc(shoal_register_task(reg, "add", rt_task_add, NULL), 0);
	tu_assert_rc(shoal_register_task(reg, "gate", task_gate, NULL), 0);
	tu_assert_rc(shoal_register_actor(reg, "Gate", rt_box_init, NULL), 0);
	tu_assert_rc(shoal_register_method(reg, "Gate", "wait", gate_wait), 0);
	return reg;
}

static void scene_tasks(struct scene *sc)
{
	struct shoal_store *s = shoal_runtime_store(sc->rt);
	struct shoal_args a;
	void *buf;

	sc->unsealed = shoal_id_next(s);
	tu_assert_rc(shoal_create(s, sc->unsealed, 8, NULL, 0, 0, &buf), 0);
	memset(buf, 0, 8);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_ref(&a, sc->unsealed), 0);
	tu_assert_rc(shoal_submit(sc->rt, shoal_function(sc->rt, "add"), &a, 1,
				  &sc->t_wait), 0);
	sc->gate_task = shoal_id_next(s);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &sc->gate_task, sizeof sc->gate_task), 0);
	tu_assert_rc(shoal_submit(sc->rt, shoal_function(sc->rt, "gate"), &a, 1,
				  &sc->t_run), 0);
	cr_assert(scene_poll(run_started, sc, 10000), "the gate task never ran");
}

static void scene_actors(struct scene *sc)
{
	struct shoal_store *s = shoal_runtime_store(sc->rt);
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor_stat st;
	struct shoal_args a;
	int m;

	o.name = "busy";
	tu_assert_rc(shoal_actor_create(sc->rt, "Gate", NULL, &o, &sc->busy), 0);
	m = shoal_actor_method(sc->rt, sc->busy, "wait");
	cr_assert_geq(m, 0);
	sc->gate_actor = shoal_id_next(s);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &sc->gate_actor, sizeof sc->gate_actor), 0);
	for (int i = 0; i < 3; i++)
		tu_assert_rc(shoal_actor_call(sc->rt, sc->busy, m, &a, &sc->calls[i]), 0);
	cr_assert(scene_poll(busy_queued, sc, 10000), "busy never ran its call");

	o.name = "doomed";
	o.max_restarts = 1;
	tu_assert_rc(shoal_actor_create(sc->rt, "Gate", NULL, &o, &sc->doomed), 0);
	tu_assert_rc(shoal_actor_stat(sc->rt, sc->doomed, &st), 0);
	cr_assert_gt(st.pid, 0);
	sc->doomed_first_pid = st.pid;
	cr_assert_eq(kill(st.pid, SIGKILL), 0);
	cr_assert(scene_poll(doomed_restarted, sc, 10000), "doomed never restarted");
	tu_assert_rc(shoal_actor_kill(sc->rt, sc->doomed, true), 0);
}

void scene_start(struct scene *sc, const char *name)
{
	struct shoal_runtime_options o;
	struct shoal_registry *reg = scene_registry();

	memset(sc, 0, sizeof *sc);
	sc->name = name;
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.max_extra_workers = 1;
	o.name = name;
	o.store.capacity = 8u << 20;
	o.store.max_objects = 1024;
	o.max_actors = 4;
	tu_assert_rc(shoal_runtime_start(reg, &o, &sc->rt), 0);
	shoal_registry_close(reg);
	scene_tasks(sc);
	scene_actors(sc);
}

void scene_end(struct scene *sc)
{
	struct shoal_store *s = shoal_runtime_store(sc->rt);
	int64_t v = 0;

	tu_assert_rc(shoal_seal(s, sc->unsealed), 0);
	tu_assert_rc(shoal_put_with_id(s, sc->gate_task, &v, sizeof v, NULL, 0, 0), 0);
	tu_assert_rc(shoal_put_with_id(s, sc->gate_actor, &v, sizeof v, NULL, 0, 0), 0);
	tu_assert_rc(shoal_runtime_shutdown(sc->rt), 0);
	sc->rt = NULL;
}
