/* SPDX-License-Identifier: MIT */
/*
 * tests/test_scribble.c - a neighbour scribbles over the geometry in the
 * shared headers (sizes, counts, masks, offsets) after other processes
 * attached: none of them may crash or wait past its timeout.  Each process
 * read the geometry once, at attach, into private memory (store/internal.h
 * struct shoal__geo); afterwards only state words come from the segment.
 *
 * Each case: a process attached by name; the test writes one hostile
 * value into one header field; the attached process runs every call it
 * can (put, get of a present and of a missing object with a short
 * timeout, wait, list, stats, hold, drop, reap, evict) and must exit by
 * itself, in bounded time; the field is put back and the store works.
 * A fresh attach of a scribbled segment is refused (SHOAL_EBADSEGMENT).
 *
 * The runtime's region likewise: its header's counts and offsets, the run
 * queue's and every lane's configuration line, scribbled under a running
 * runtime (driver, fork server, worker, actor): tasks, actor calls, an
 * actor's create and kill all return in bounded time, and once the bytes
 * are put back nobody has died and everything still works.
 */
#include "testutil.h"
#include "rtutil.h"
#include "proc_int.h"
#include "lane.h"
#include "queue.h"
#include "internal.h"

#include <stddef.h>

TestSuite(scribble, .init = tu_setup, .fini = tu_teardown, .timeout = 120);

#define MiB (1024u * 1024u)

/* What an attached process may take for all its calls on one scribbled
 * value: each has a 20 ms timeout or none; a spin of the scribbled budget
 * (2^32 spins) would take tens of seconds. */
#define SCRIBBLE_MS 3000

struct field {
	const char *name;
	size_t off;
	size_t width; /* 4 or 8 bytes */
};

#define HDR_FIELD(f)                                                           \
	{#f, offsetof(struct shoal__seg_hdr, f),                                  \
	 sizeof(((struct shoal__seg_hdr *)0)->f)}

static const struct field seg_fields[] = {
	HDR_FIELD(seg_size),     HDR_FIELD(capacity),    HDR_FIELD(max_procs),
	HDR_FIELD(max_objects),  HDR_FIELD(dir_slots),   HDR_FIELD(ledger_slots),
	HDR_FIELD(spin_budget),  HDR_FIELD(proc_size),   HDR_FIELD(entry_size),
	HDR_FIELD(nstripes),     HDR_FIELD(procs.off),   HDR_FIELD(ledgers.off),
	HDR_FIELD(stripes.off),  HDR_FIELD(probe.off),   HDR_FIELD(dir.off),
	HDR_FIELD(heap_meta.off), HDR_FIELD(ext.off),    HDR_FIELD(ext.size),
	HDR_FIELD(arena.off),    HDR_FIELD(arena.size),
};

static const uint64_t hostile[] = {0, 1, 0x7fffffffu, UINT32_MAX,
				   UINT64_MAX, 0x123456789abcull};

static void poke(void *base, const struct field *f, uint64_t v)
{
	uint8_t *p = (uint8_t *)base + f->off;

	if (f->width == 4) {
		uint32_t w = (uint32_t)v;
		memcpy(p, &w, 4);
	} else {
		memcpy(p, &v, 8);
	}
}

static uint64_t peek(const void *base, const struct field *f)
{
	const uint8_t *p = (const uint8_t *)base + f->off;
	uint32_t w;
	uint64_t v;

	if (f->width == 4) {
		memcpy(&w, p, 4);
		return w;
	}
	memcpy(&v, p, 8);
	return v;
}

/* Every call an attached store user makes, results ignored: only a
 * crash or a hang is a failure here.  Returns the milliseconds taken. */
static int64_t store_calls(struct shoal_store *c, shoal_id present, int round)
{
	int64_t t0 = tu_now_ms();
	shoal_id fresh = tu_id(0xc0de, (uint64_t)round);
	shoal_id missing = tu_id(0xdead, (uint64_t)round);
	struct shoal_object_info infos[8];
	struct shoal_store_stats st;
	struct shoal_view v;
	uint8_t ready;

	tu_put(c, fresh, 64, 1, 0);
	tu_put(c, tu_id(0xc0de, 1000u + (uint64_t)round), 100 * 1024, 2, 0);
	if (shoal_get(c, fresh, 20, &v) == 0)
		shoal_release(c, &v);
	if (shoal_get(c, present, 20, &v) == 0)
		shoal_release(c, &v);
	if (shoal_get(c, missing, 20, &v) == 0)
		shoal_release(c, &v);
	shoal_wait(c, &missing, 1, 1, 20, &ready);
	shoal_list(c, infos, 8);
	shoal_store_stats(c, &st);
	if (shoal_hold(c, present) == 0)
		shoal_drop(c, present);
	shoal_contains(c, present);
	shoal_drop(c, fresh);
	shoal_evict(c, 4096);
	shoal_store_reap(c);
	return tu_now_ms() - t0;
}

/*
 * The attached child: for each hostile value, waits for "go" (the parent
 * has scribbled), runs every call, answers 't' if they took longer than
 * SCRIBBLE_MS, else 'k'.  Exits 0 after the last value.
 */
static void store_child(const char *name, shoal_id present, int go, int done)
{
	struct shoal_store *c = NULL;

	if (shoal_store_attach(name, &c))
		_exit(3);
	tu_child_write_byte(done, 'a');
	for (int i = 0; i < (int)(sizeof hostile / sizeof hostile[0]); i++) {
		if (tu_child_read_byte(go) != 'g')
			_exit(4);
		tu_child_write_byte(done,
				    store_calls(c, present, i) > SCRIBBLE_MS ? 't' : 'k');
	}
	shoal_store_close(c);
	_exit(0);
}

static void scribble_store_field(struct shoal_store *s, const char *name,
				 const struct field *f)
{
	shoal_id present = tu_id(0x5e, 1);
	int go[2], done[2];
	uint64_t saved;
	pid_t pid;

	tu_pipe(go);
	tu_pipe(done);
	pid = tu_fork();
	if (pid == 0)
		store_child(name, present, go[0], done[1]);
	cr_assert_eq(tu_read_byte(done[0], 10000), 'a', "%s: child attach",
		     f->name);
	saved = peek(s->hdr, f);
	for (int i = 0; i < (int)(sizeof hostile / sizeof hostile[0]); i++) {
		struct shoal_store *late = NULL;
		char r;

		poke(s->hdr, f, hostile[i]);
		/* A fresh attach checks the header: it refuses it, or takes
		 * a value that is valid (a spin budget of 0) and works. */
		{
			int rc = shoal_store_attach(name, &late);

			cr_assert(rc == SHOAL_EBADSEGMENT || rc == 0,
				  "%s = %#llx: attach gave %d (%s)", f->name,
				  (unsigned long long)hostile[i], rc,
				  shoal_strerror(rc));
			if (rc == 0) {
				store_calls(late, present, 100 + i);
				shoal_store_close(late);
			}
		}
		tu_write_byte(go[1], 'g');
		r = tu_read_byte(done[0], 30000);
		poke(s->hdr, f, saved);
		cr_assert_neq(r, 0, "%s = %#llx: the attached process died or hung",
			      f->name, (unsigned long long)hostile[i]);
		cr_assert_eq(r, 'k', "%s = %#llx: its calls took over %d ms",
			     f->name, (unsigned long long)hostile[i], SCRIBBLE_MS);
	}
	tu_assert_rc(tu_wait_exit(pid), 0, "%s", f->name);
	for (int i = 0; i < 2; i++) {
		close(go[i]);
		close(done[i]);
	}
	/* Put back, the store still works for everyone. */
	tu_assert_rc(tu_get_check(s, present, 1000, 7, 0), 0, "%s", f->name);
	tu_assert_rc(tu_put(s, tu_id(0x5e, 2), 3000, 8, 0), 0, "%s", f->name);
	tu_assert_rc(shoal_delete(s, tu_id(0x5e, 2)), 0, "%s", f->name);
	tu_assert_rc(shoal_store_reap(s), 0);
}

Test(scribble, store_geometry_written_after_attach_crashes_and_hangs_nobody)
{
	const char *name;
	struct shoal_store *s = tu_named_store(4 * MiB, &name);

	tu_assert_rc(tu_put(s, tu_id(0x5e, 1), 1000, 7, 0), 0);
	for (size_t i = 0; i < sizeof seg_fields / sizeof seg_fields[0]; i++)
		scribble_store_field(s, name, &seg_fields[i]);
	shoal_store_close(s);
	shoal_store_unlink(name);
}

/* The issue's own case: a stray max_procs together with a high-water mark
 * past it made every sum over the process table read past its end. */
Test(scribble, max_procs_and_its_high_water_mark_together)
{
	const char *name;
	struct shoal_store *s = tu_named_store(4 * MiB, &name);
	uint32_t hwm = atomic_load(&s->hdr->procs_hwm);
	uint32_t max = s->hdr->max_procs;
	int go[2], done[2];
	pid_t pid;

	tu_assert_rc(tu_put(s, tu_id(0x5e, 1), 1000, 7, 0), 0);
	tu_pipe(go);
	tu_pipe(done);
	pid = tu_fork();
	if (pid == 0) {
		struct shoal_store *c = NULL;
		struct shoal_store_stats st;

		if (shoal_store_attach(name, &c))
			_exit(3);
		tu_child_write_byte(done[1], 'a');
		if (tu_child_read_byte(go[0]) != 'g')
			_exit(4);
		store_calls(c, tu_id(0x5e, 1), 0);
		_exit(shoal_store_stats(c, &st) == 0 && st.objects >= 1 ? 0 : 5);
	}
	cr_assert_eq(tu_read_byte(done[0], 10000), 'a');
	s->hdr->max_procs = UINT32_MAX;
	atomic_store(&s->hdr->procs_hwm, UINT32_MAX);
	tu_write_byte(go[1], 'g');
	tu_assert_rc(tu_wait_exit(pid), 0);
	s->hdr->max_procs = max;
	atomic_store(&s->hdr->procs_hwm, hwm);
	tu_assert_rc(tu_get_check(s, tu_id(0x5e, 1), 1000, 7, 0), 0);
	shoal_store_close(s);
	shoal_store_unlink(name);
}

/* ------------------------------------------------------------------ */
/* The runtime's region                                                */

#define RT_FIELD(f)                                                            \
	{#f, offsetof(struct shoal__rt_hdr, f),                                   \
	 sizeof(((struct shoal__rt_hdr *)0)->f)}

static const struct field rt_fields[] = {
	RT_FIELD(num_workers),   RT_FIELD(max_workers),  RT_FIELD(workers_off),
	RT_FIELD(max_tasks),     RT_FIELD(nfuncs),       RT_FIELD(fnames_off),
	RT_FIELD(tasks_off),     RT_FIELD(task_bits_off), RT_FIELD(queue_off),
	RT_FIELD(queue_bytes),   RT_FIELD(max_actors),   RT_FIELD(max_lanes),
	RT_FIELD(lane_capacity), RT_FIELD(nclasses),     RT_FIELD(classes_off),
	RT_FIELD(actors_off),    RT_FIELD(lmeta_off),    RT_FIELD(lanes_off),
	RT_FIELD(lane_bytes),
};

struct rt_world {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
	uint8_t *region;
	struct shoal__rt_hdr good; /* the header as it was */
	struct shoal_actor box;
	int add, get;
};

static void rt_world_start(struct rt_world *w)
{
	struct shoal_runtime_options o;
	uint64_t size;

	memset(w, 0, sizeof *w);
	tu_assert_rc(shoal_registry_open(&w->reg), 0);
	tu_assert_rc(shoal_register_task(w->reg, "add", rt_task_add, NULL), 0);
	tu_assert_rc(shoal_register_actor(w->reg, "Box", rt_box_init, NULL), 0);
	tu_assert_rc(shoal_register_method(w->reg, "Box", "get", rt_box_get), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.max_actors = 4;
	o.store.capacity = 4 * MiB;
	o.store.max_procs = 16;
	tu_assert_rc(shoal_runtime_start(w->reg, &o, &w->rt), 0);
	w->s = shoal_runtime_store(w->rt);
	w->region = shoal__store_ext(w->s, &size);
	cr_assert_not_null(w->region);
	memcpy(&w->good, w->region, sizeof w->good);
	w->add = shoal_function(w->rt, "add");
	cr_assert_geq(w->add, 0);
	tu_assert_rc(shoal_actor_create(w->rt, "Box", NULL, NULL, &w->box), 0);
	w->get = shoal_actor_method(w->rt, w->box, "get");
	cr_assert_geq(w->get, 0);
}

/* A task and an actor call, each waited for up to ms; their results
 * (any code is fine while the region is scribbled). */
static int rt_task_once(struct rt_world *w, int ms)
{
	struct shoal_args a;
	struct shoal_view v;
	int64_t one = 1;
	shoal_id ref;
	int rc;

	shoal_args_init(&a);
	shoal_args_bytes(&a, &one, sizeof one);
	shoal_args_bytes(&a, &one, sizeof one);
	rc = shoal_submit(w->rt, w->add, &a, 1, &ref);
	if (rc)
		return rc;
	rc = shoal_get(w->s, ref, ms, &v);
	if (rc == 0) {
		int64_t sum;

		memcpy(&sum, v.data, sizeof sum);
		rc = sum == 2 ? 0 : -EPROTO;
		shoal_release(w->s, &v);
	}
	shoal_drop(w->s, ref);
	return rc;
}

static int rt_call_once(struct rt_world *w, int ms)
{
	struct shoal_call_options co = SHOAL_CALL_OPTIONS_INIT;
	struct shoal_view v;
	shoal_id ref;
	int rc;

	co.timeout_ms = ms;
	rc = shoal_actor_call_opts(w->rt, w->box, w->get, NULL, &co, &ref);
	if (rc)
		return rc;
	rc = shoal_get(w->s, ref, ms, &v);
	if (rc == 0) {
		rc = *(const int64_t *)v.data == 7 ? 0 : -EPROTO;
		shoal_release(w->s, &v);
	}
	shoal_drop(w->s, ref);
	return rc;
}

/* Everything a driver does, under a scribbled region: a task, a call, an
 * actor made and killed (the fork server's loop turns), the listings. */
static void rt_calls(struct rt_world *w)
{
	struct shoal_runtime_info info;
	struct shoal_actor_info ai;
	struct shoal_actor list[8], b;

	rt_task_once(w, 50);
	rt_call_once(w, 50);
	if (shoal_actor_create(w->rt, "Box", NULL, NULL, &b) == 0)
		shoal_actor_kill(w->rt, b, true);
	shoal_actor_info(w->rt, w->box, &ai);
	shoal_actor_list(w->rt, list, 8);
	shoal_runtime_info(w->rt, &info, NULL, 0);
}

/* The region as it was, and everybody alive and working. */
static void rt_world_check(struct rt_world *w, const char *what)
{
	struct shoal_runtime_info info;
	struct shoal_actor_info ai;

	tu_assert_rc(rt_task_once(w, 10000), 0, "%s: a task after", what);
	tu_assert_rc(rt_call_once(w, 10000), 0, "%s: a call after", what);
	tu_assert_rc(shoal_runtime_info(w->rt, &info, NULL, 0), 0);
	cr_assert_eq(info.workers_died, 0, "%s: a worker died", what);
	cr_assert_gt(info.fork_server_pid, 0, "%s", what);
	cr_assert_eq(kill(info.fork_server_pid, 0), 0,
		     "%s: the fork server died", what);
	tu_assert_rc(shoal_actor_info(w->rt, w->box, &ai), 0, "%s", what);
	cr_assert_eq(ai.state, SHOAL_ACTOR_ALIVE, "%s: the actor died (%s)", what,
		     ai.why);
	cr_assert_eq(ai.restarts, 0, "%s: the actor restarted (%s)", what,
		     ai.why);
}

static void rt_world_stop(struct rt_world *w)
{
	tu_assert_rc(shoal_runtime_shutdown(w->rt), 0);
	shoal_registry_close(w->reg);
}

/* Scribbles n bytes at p with each hostile value in turn (of width
 * bytes, repeated), runs every call, and puts the bytes back. */
static void rt_scribble(struct rt_world *w, uint8_t *p, size_t width,
			const char *what)
{
	uint8_t saved[8];

	memcpy(saved, p, width);
	for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
		struct field f = {what, 0, width};
		int64_t t0 = tu_now_ms();

		poke(p, &f, hostile[i]);
		rt_calls(w);
		memcpy(p, saved, width);
		cr_assert_lt(tu_now_ms() - t0, SCRIBBLE_MS,
			     "%s = %#llx: the calls took %lld ms", what,
			     (unsigned long long)hostile[i],
			     (long long)(tu_now_ms() - t0));
		rt_world_check(w, what);
	}
}

Test(scribble, runtime_header_written_after_start_crashes_and_hangs_nobody)
{
	struct rt_world w;

	rt_world_start(&w);
	for (size_t i = 0; i < sizeof rt_fields / sizeof rt_fields[0]; i++)
		rt_scribble(&w, w.region + rt_fields[i].off, rt_fields[i].width,
			    rt_fields[i].name);
	cr_assert_eq(memcmp(w.region, &w.good, offsetof(struct shoal__rt_hdr, fs_pid)),
		     0);
	rt_world_stop(&w);
}

/* The run queue's and the lanes' configuration lines (capacity, mask,
 * record size), as every process attached: scribbled, no index leaves
 * its ring (before, a bad lane mask segfaulted the caller). */
Test(scribble, ring_configuration_written_after_start_crashes_and_hangs_nobody)
{
	struct rt_world w;
	uint8_t *q;

	rt_world_start(&w);
	tu_assert_rc(rt_call_once(&w, 10000), 0); /* the driver's lane exists */
	q = w.region + w.good.queue_off;
	rt_scribble(&w, q + offsetof(struct shoal__queue, capacity), 4,
		    "queue capacity");
	rt_scribble(&w, q + offsetof(struct shoal__queue, mask), 4, "queue mask");
	for (uint32_t i = 0; i < 4 && i < w.good.max_lanes; i++) { /* in use */
		uint8_t *l = w.region + w.good.lanes_off + (uint64_t)i * w.good.lane_bytes;
		char what[64];

		snprintf(what, sizeof what, "lane %u capacity", i);
		rt_scribble(&w, l + offsetof(struct shoal__lane, capacity), 4, what);
		snprintf(what, sizeof what, "lane %u mask", i);
		rt_scribble(&w, l + offsetof(struct shoal__lane, mask), 4, what);
		snprintf(what, sizeof what, "lane %u record size", i);
		rt_scribble(&w, l + offsetof(struct shoal__lane, record_size), 4,
			    what);
	}
	rt_world_stop(&w);
}

/* ------------------------------------------------------------------ */
/* A process's own ledger                                              */

/*
 * A neighbour fills every empty slot of this process's ledger (the table
 * of its holds and pins) with records: the table, kept half full by its
 * owner, has no empty slot left, and a drop's deletion, which shifts
 * records back until it meets one, went round it for ever (found by
 * fuzz_segment).  It stops after one round now: the drop returns, the
 * process goes on.  The child plays this process (its handle inherited,
 * the same slot, the parent idle meanwhile), so that a hang fails at the
 * child's deadline, not at the suite's timeout.
 */
Test(scribble, a_ledger_scribbled_full_holds_no_drop)
{
	struct shoal_store *s = tu_store(4 * MiB);
	shoal_id id = tu_id(0x1e, 1);
	pid_t pid;

	tu_assert_rc(tu_put(s, id, 100, 1, 0), 0);
	pid = tu_fork();
	if (pid == 0) {
		uint32_t fake = 0;

		for (uint32_t p = 0; p <= s->ledger_mask; p++)
			if (!atomic_load(&s->ledger[p]))
				atomic_store(&s->ledger[p],
					     SHOAL__LEDGER_REC(s->geo.dir_slots + 1 + fake++, 0, 1));
		shoal_drop(s, id);
		shoal_store_stats(s, &(struct shoal_store_stats){0});
		_exit(0);
	}
	tu_assert_rc(tu_wait_exit(pid), 0);
	shoal_store_close(s);
}
