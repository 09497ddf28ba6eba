/* SPDX-License-Identifier: MIT */
/*
 * tests/test_inspect.c - read-only inspection (shoal_store_inspect,
 * shoal_runtime_inspect) and the views a tool reads through it
 * (shoal_task_list, shoal_actor_stat, shoal_actor_lanes): they report a
 * runtime in a known state (inspect_scene.h) exactly; an inspect handle
 * works with every process slot taken, refuses a missing name, a foreign
 * or truncated file and another layout version with their codes; every
 * public function on one either works or returns SHOAL_EREADONLY, without
 * a fault (a write to its PROT_READ mapping would be one); and looking
 * leaves the segment byte for byte as it was.
 */
#include <criterion/criterion.h>
#include <stddef.h>
#include <string.h>

#include <shoal/shoal.h>

#include "inspect_scene.h"
#include "layout.h"
#include "rtutil.h"
#include "testutil.h"

TestSuite(inspect, .init = tu_setup, .fini = tu_teardown);

static struct shoal_store_options small_store(uint32_t max_procs)
{
	struct shoal_store_options o;

	shoal_store_options_init(&o);
	o.capacity = 1u << 20;
	o.max_objects = 64;
	o.max_procs = max_procs;
	o.ledger_slots = 64;
	return o;
}

static const struct shoal_task_info *find_task(const struct shoal_task_info *t,
					       int n, shoal_id id)
{
	for (int i = 0; i < n; i++)
		if (shoal_id_eq(t[i].id, id))
			return &t[i];
	return NULL;
}

/* What the scene set up, read through handle rt. */
static void check_scene(struct scene *sc, struct shoal_runtime *rt)
{
	struct shoal_task_info t[8];
	const struct shoal_task_info *w, *r;
	struct shoal_runtime_info info;
	struct shoal_lane_info l[4];
	struct shoal_actor_stat st;
	struct shoal_actor a[8];
	int32_t wpid[4];
	int n;

	n = shoal_task_list(rt, t, 8);
	cr_assert_eq(n, 2, "the waiting and the running task: %d", n);
	cr_assert_eq(shoal_task_list(rt, NULL, 0), 2);
	w = find_task(t, n, sc->t_wait);
	r = find_task(t, n, sc->t_run);
	cr_assert(w && r);
	cr_assert_eq(w->state, SHOAL_TASK_WAITING);
	cr_assert_str_eq(w->function, "add");
	cr_assert_eq(w->submitter_pid, getpid());
	cr_assert_eq(w->wait_arg, 0);
	cr_assert(shoal_id_eq(w->wait_id, sc->unsealed));
	cr_assert_eq(w->worker, -1);
	cr_assert_eq(w->num_returns, 1);
	cr_assert_eq(w->nargs, 1);
	cr_assert_gt(w->pending_ns, 0);
	cr_assert_eq(w->running_ns, 0);
	cr_assert_eq(r->state, SHOAL_TASK_RUNNING);
	cr_assert_str_eq(r->function, "gate");
	cr_assert_eq(r->submitter_pid, getpid());
	cr_assert_eq(r->wait_arg, -1);
	tu_assert_rc(shoal_runtime_info(rt, &info, wpid, 4), 0);
	cr_assert_geq(r->worker, 0);
	cr_assert_gt(r->worker_pid, 0);
	cr_assert_gt(r->running_ns, 0);
	cr_assert_geq(r->pending_ns, r->running_ns);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(t[0].resv[i] | t[1].resv[i], 0);

	cr_assert_eq(shoal_actor_list(rt, a, 8), 2);
	tu_assert_rc(shoal_actor_stat(rt, sc->busy, &st), 0);
	cr_assert_eq(st.state, SHOAL_ACTOR_ALIVE);
	cr_assert_str_eq(st.name, "busy");
	cr_assert_str_eq(st.klass, "Gate");
	cr_assert_eq(st.calls_queued, 3);
	cr_assert_eq(st.lanes, 1);
	cr_assert_eq(st.calls_run, 0);
	cr_assert_str_eq(st.last_death, "");
	n = shoal_actor_lanes(rt, sc->busy, l, 4);
	cr_assert_eq(n, 1);
	cr_assert_eq(l[0].caller_pid, getpid());
	cr_assert_eq(l[0].queued, 3);
	cr_assert_eq(l[0].running, 1);
	cr_assert_eq(l[0].calls_run, 0);

	tu_assert_rc(shoal_actor_stat(rt, sc->doomed, &st), 0);
	cr_assert_eq(st.state, SHOAL_ACTOR_DEAD);
	cr_assert_eq(st.restarts, 1);
	cr_assert_eq(st.max_restarts, 1);
	cr_assert(strstr(st.why, "killed"), "why: %s", st.why);
	cr_assert_str_eq(st.last_death, st.why);
	cr_assert_eq(shoal_actor_lanes(rt, sc->doomed, NULL, 0), 0);
}

Test(inspect, views_report_a_known_runtime_exactly, .timeout = 60)
{
	struct scene sc;
	struct shoal_runtime *ro;
	struct shoal_actor_info ai;

	scene_start(&sc, tu_shm_name(NULL));
	check_scene(&sc, sc.rt);
	tu_assert_rc(shoal_runtime_inspect(sc.name, &ro), 0);
	check_scene(&sc, ro);
	/* info's why is a dead actor's only; busy never died */
	tu_assert_rc(shoal_actor_info(ro, sc.busy, &ai), 0);
	cr_assert_str_eq(ai.why, "");
	tu_assert_rc(shoal_runtime_detach(ro), 0);
	scene_end(&sc);
}

static bool doomed_back(struct scene *sc)
{
	struct shoal_actor_stat st;

	return !shoal_actor_stat(sc->rt, sc->doomed, &st) && st.restarts == 1 &&
	       st.state == SHOAL_ACTOR_ALIVE;
}

Test(inspect, a_restarted_actor_keeps_why_it_died, .timeout = 60)
{
	struct shoal_runtime_options o;
	struct shoal_actor_options ao = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_registry *reg;
	struct shoal_actor_info ai;
	struct shoal_actor_stat st;
	struct scene sc = {0};
	char want[64];

	tu_assert_rc(shoal_registry_open(&reg), 0);
	tu_assert_rc(shoal_register_actor(reg, "Box", rt_box_init, NULL), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.store.capacity = 4u << 20;
	tu_assert_rc(shoal_runtime_start(reg, &o, &sc.rt), 0);
	shoal_registry_close(reg);
	ao.max_restarts = 2;
	tu_assert_rc(shoal_actor_create(sc.rt, "Box", NULL, &ao, &sc.doomed), 0);
	tu_assert_rc(shoal_actor_stat(sc.rt, sc.doomed, &st), 0);
	cr_assert_str_eq(st.last_death, "");
	snprintf(want, sizeof want, "actor process %d died (signal 9", st.pid);
	cr_assert_eq(kill(st.pid, SIGKILL), 0);
	cr_assert(scene_poll(doomed_back, &sc, 10000));
	tu_assert_rc(shoal_actor_stat(sc.rt, sc.doomed, &st), 0);
	cr_assert(!strncmp(st.last_death, want, strlen(want)), "%s", st.last_death);
	cr_assert_str_eq(st.why, "");
	tu_assert_rc(shoal_actor_info(sc.rt, sc.doomed, &ai), 0);
	cr_assert_str_eq(ai.why, "", "info keeps its meaning: %s", ai.why);
	tu_assert_rc(shoal_runtime_shutdown(sc.rt), 0);
}

Test(inspect, works_with_every_process_slot_taken)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_store_options o = small_store(1);
	struct shoal_store *s, *other, *ro;
	struct shoal_store_stats st;
	struct shoal_object_info info[4];
	shoal_id id;

	tu_assert_rc(shoal_store_create(name, &o, &s), 0);
	tu_assert_rc(shoal_put(s, "abc", 3, 0, &id), 0);
	tu_assert_rc(shoal_store_attach(name, &other), SHOAL_ETOOMANYPROCS);
	tu_assert_rc(shoal_store_inspect(name, &ro), 0);
	tu_assert_rc(shoal_store_stats(ro, &st), 0);
	cr_assert_eq(st.processes, 1);
	cr_assert_eq(st.max_procs, 1);
	cr_assert_eq(st.objects, 1);
	cr_assert_eq(shoal_list(ro, info, 4), 1);
	cr_assert(shoal_id_eq(info[0].id, id));
	cr_assert_eq(info[0].data_size, 3);
	cr_assert_eq(shoal_contains(ro, id), 1);
	shoal_store_close(ro);
	/* still one slot, still ours */
	tu_assert_rc(shoal_store_stats(s, &st), 0);
	cr_assert_eq(st.processes, 1);
	shoal_store_close(s);
}

Test(inspect, refuses_missing_foreign_truncated_and_other_versions)
{
	const char *name = tu_shm_name("a"), *junk = tu_shm_name("junk");
	const char *plain = tu_shm_name("plain");
	struct shoal_store_options o = small_store(4);
	struct shoal_store *s, *ro;
	struct shoal_runtime *rt;
	char path[TU_NAME_LEN], buf[8192];
	struct stat sb;
	void *map;
	int fd;

	tu_assert_rc(shoal_store_inspect(name, &ro), -ENOENT);
	tu_assert_rc(shoal_runtime_inspect(name, &rt), -ENOENT);
	tu_assert_rc(shoal_store_inspect("a/b", &ro), -EINVAL);
	/* a foreign file, ours and 0600 as a store would be */
	tu_shm_path(junk, path, sizeof path);
	fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	memset(buf, 'x', sizeof buf);
	cr_assert_eq(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
	close(fd);
	tu_assert_rc(shoal_store_inspect(junk, &ro), SHOAL_EBADSEGMENT);
	tu_assert_rc(shoal_runtime_inspect(junk, &rt), SHOAL_EBADSEGMENT);
	/* a store without a runtime */
	tu_assert_rc(shoal_store_create(plain, &o, &s), 0);
	shoal_store_close(s);
	tu_assert_rc(shoal_runtime_inspect(plain, &rt), SHOAL_EBADSEGMENT);
	/* another layout version */
	tu_assert_rc(shoal_store_create(name, &o, &s), 0);
	shoal_store_close(s);
	tu_shm_path(name, path, sizeof path);
	fd = open(path, O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(map, MAP_FAILED);
	((struct shoal__seg_hdr *)map)->layout_version += 1;
	tu_assert_rc(shoal_store_inspect(name, &ro), SHOAL_EVERSION);
	tu_assert_rc(shoal_runtime_inspect(name, &rt), SHOAL_EVERSION);
	((struct shoal__seg_hdr *)map)->layout_version -= 1;
	munmap(map, 4096);
	tu_assert_rc(shoal_store_inspect(name, &ro), 0);
	shoal_store_close(ro);
	/* truncated to half its size */
	cr_assert_eq(fstat(fd, &sb), 0);
	cr_assert_eq(ftruncate(fd, sb.st_size / 2), 0);
	close(fd);
	tu_assert_rc(shoal_store_inspect(name, &ro), SHOAL_EBADSEGMENT);
	cr_assert_str_neq(shoal_strerror(SHOAL_EREADONLY), "");
}

/* Every public function of shoal/store.h on a store inspect handle. */
static void every_store_call(struct shoal_store *ro, shoal_id sealed)
{
	struct shoal_view v, vs[1];
	struct shoal_object_info info[4];
	struct shoal_store_stats st;
	uint8_t ready[1];
	char msg[16];
	void *buf;

	tu_assert_rc(shoal_store_stats(ro, &st), 0);
	cr_assert_geq(shoal_list(ro, info, 4), 1);
	cr_assert_eq(shoal_contains(ro, sealed), 1);
	tu_assert_rc(shoal_store_fd(ro), SHOAL_EREADONLY);
	tu_assert_rc(shoal_create(ro, (shoal_id){7, 7}, 8, NULL, 0, 0, &buf),
		     SHOAL_EREADONLY);
	tu_assert_rc(shoal_seal(ro, sealed), SHOAL_EREADONLY);
	tu_assert_rc(shoal_abort(ro, sealed), SHOAL_EREADONLY);
	tu_assert_rc(shoal_put_with_id(ro, (shoal_id){7, 7}, "x", 1, NULL, 0, 0),
		     SHOAL_EREADONLY);
	tu_assert_rc(shoal_put(ro, "x", 1, 0, &(shoal_id){0}), SHOAL_EREADONLY);
	cr_assert(shoal_id_is_nil(shoal_id_next(ro)));
	tu_assert_rc(shoal_get(ro, sealed, 0, &v), SHOAL_EREADONLY);
	tu_assert_rc(shoal_get_many(ro, &sealed, 1, 0, vs), SHOAL_EREADONLY);
	tu_assert_rc(shoal_error_message(ro, sealed, msg, sizeof msg),
		     SHOAL_EREADONLY);
	tu_assert_rc(shoal_wait(ro, &sealed, 1, 1, 0, ready), SHOAL_EREADONLY);
	v = (struct shoal_view){.data = "x", .size = 1, .id = sealed};
	tu_assert_rc(shoal_release(ro, &v), SHOAL_EREADONLY);
	tu_assert_rc(shoal_hold(ro, sealed), SHOAL_EREADONLY);
	tu_assert_rc(shoal_drop(ro, sealed), SHOAL_EREADONLY);
	tu_assert_rc(shoal_delete(ro, sealed), SHOAL_EREADONLY);
	tu_assert_rc(shoal_evict(ro, 1 << 20), SHOAL_EREADONLY);
	tu_assert_rc(shoal_store_reap(ro), SHOAL_EREADONLY);
}

Test(inspect, every_store_call_works_or_is_refused)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_store_options o = small_store(4);
	struct shoal_store *s, *ro;
	shoal_id id;

	tu_assert_rc(shoal_store_create(name, &o, &s), 0);
	tu_assert_rc(shoal_put(s, "abc", 3, 0, &id), 0);
	tu_assert_rc(shoal_store_inspect(name, &ro), 0);
	every_store_call(ro, id);
	shoal_store_close(ro);
	shoal_store_close(s);
}

Test(inspect, every_runtime_call_works_or_is_refused, .timeout = 60)
{
	struct scene sc;
	struct shoal_runtime *ro;
	struct shoal_runtime_info info;
	struct shoal_task_options to = SHOAL_TASK_OPTIONS_INIT;
	struct shoal_call_options co = SHOAL_CALL_OPTIONS_INIT;
	struct shoal_actor_info ai;
	struct shoal_actor found;
	struct shoal_args args;
	shoal_id refs[1], put;
	int32_t pids[4];
	FILE *devnull;

	scene_start(&sc, tu_shm_name(NULL));
	tu_assert_rc(shoal_put(shoal_runtime_store(sc.rt), "abc", 3, 0, &put), 0);
	tu_assert_rc(shoal_runtime_inspect(sc.name, &ro), 0);
	every_store_call(shoal_runtime_store(ro), put);
	shoal_args_init(&args);
	tu_assert_rc(shoal_runtime_info(ro, &info, pids, 4), 0);
	cr_assert_eq(info.num_workers, 1);
	cr_assert_gt(info.fork_server_pid, 0);
	cr_assert_eq(shoal_function(ro, "gate"), shoal_function(sc.rt, "gate"));
	tu_assert_rc(shoal_function(ro, "nope"), SHOAL_ENOFUNCTION);
	tu_assert_rc(shoal_actor_lookup(ro, "busy", &found), 0);
	cr_assert_eq(found.index, sc.busy.index);
	cr_assert_geq(shoal_actor_method(ro, sc.busy, "wait"), 0);
	tu_assert_rc(shoal_actor_info(ro, sc.busy, &ai), 0);
	devnull = fopen("/dev/null", "w");
	cr_assert(devnull);
	tu_assert_rc(shoal_timeline(ro, devnull), 0);
	tu_assert_rc(shoal_metrics(ro, devnull), 0);
	fclose(devnull);
	tu_assert_rc(shoal_submit(ro, 0, &args, 1, refs), SHOAL_EREADONLY);
	tu_assert_rc(shoal_submit_opts(ro, 0, &args, &to, refs), SHOAL_EREADONLY);
	tu_assert_rc(shoal_actor_create(ro, "Gate", NULL, NULL, &found),
		     SHOAL_EREADONLY);
	tu_assert_rc(shoal_actor_call(ro, sc.busy, 0, &args, refs), SHOAL_EREADONLY);
	tu_assert_rc(shoal_actor_call_opts(ro, sc.busy, 0, &args, &co, refs),
		     SHOAL_EREADONLY);
	tu_assert_rc(shoal_actor_send(ro, sc.busy, 0, &args), SHOAL_EREADONLY);
	tu_assert_rc(shoal_actor_kill(ro, sc.busy, true), SHOAL_EREADONLY);
	tu_assert_rc(shoal_runtime_shutdown(ro), SHOAL_EREADONLY);
	tu_assert_rc(shoal_runtime_detach(ro), 0);
	/* the runtime went on: busy still alive */
	tu_assert_rc(shoal_actor_info(sc.rt, sc.busy, &ai), 0);
	cr_assert_eq(ai.state, SHOAL_ACTOR_ALIVE);
	scene_end(&sc);
}

Test(inspect, stats_report_the_checked_geometry_not_a_scribbled_header)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_store_options o = small_store(4);
	struct shoal_store *s, *ro;
	struct shoal_store_stats st;
	struct shoal__seg_hdr *h;
	char path[TU_NAME_LEN];
	int fd;

	tu_assert_rc(shoal_store_create(name, &o, &s), 0);
	tu_assert_rc(shoal_store_inspect(name, &ro), 0);
	tu_shm_path(name, path, sizeof path);
	fd = open(path, O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	h = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert_neq(h, MAP_FAILED);
	h->capacity = 1ull << 50;
	h->max_objects = 7;
	h->max_procs = 9999;
	tu_assert_rc(shoal_store_stats(ro, &st), 0);
	cr_assert_eq(st.capacity, 1u << 20);
	cr_assert_eq(st.max_objects, 64);
	cr_assert_eq(st.max_procs, 4);
	munmap(h, 4096);
	close(fd);
	shoal_store_close(ro);
	shoal_store_close(s);
}

/* FNV-1a over the whole file, read through a mapping of our own. */
static uint64_t checksum(const char *name)
{
	char path[TU_NAME_LEN];
	struct stat sb;
	uint64_t h = 14695981039346656037ull;
	const uint8_t *p;
	int fd;

	tu_shm_path(name, path, sizeof path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &sb), 0);
	p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	cr_assert_neq(p, MAP_FAILED);
	for (off_t i = 0; i < sb.st_size; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	munmap((void *)p, (size_t)sb.st_size);
	close(fd);
	return h;
}

Test(inspect, leaves_the_segment_byte_identical)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_store_options o = small_store(4);
	struct shoal_store *s, *ro;
	struct shoal_view v;
	shoal_id id, pinned;
	void *buf;
	uint64_t before;

	tu_assert_rc(shoal_store_create(name, &o, &s), 0);
	tu_assert_rc(shoal_put(s, "abc", 3, 0, &id), 0);
	tu_assert_rc(shoal_put(s, "pinned", 6, 0, &pinned), 0);
	tu_assert_rc(shoal_get(s, pinned, 0, &v), 0);
	tu_assert_rc(shoal_create(s, shoal_id_next(s), 16, NULL, 0, 0, &buf), 0);
	before = checksum(name);
	for (int i = 0; i < 3; i++) {
		tu_assert_rc(shoal_store_inspect(name, &ro), 0);
		every_store_call(ro, id);
		shoal_store_close(ro);
	}
	cr_assert_eq(checksum(name), before, "inspecting changed the segment");
	tu_assert_rc(shoal_release(s, &v), 0);
	shoal_store_close(s);
}
