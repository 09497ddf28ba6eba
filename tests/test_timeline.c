/* SPDX-License-Identifier: MIT */
/*
 * The timeline and the metrics (runtime/timeline.h, trace.c, metrics.c):
 * a known workload (tasks on workers, calls on an actor, a failing task),
 * then shoal_timeline's Chrome trace parsed back as JSON (python3, which
 * meson itself needs) and checked for its slices, rows and flow arrows;
 * shoal_metrics' text checked line by line; a worker SIGKILLed after its
 * tasks still shows them; SHOAL_RUNTIME_NO_TIMELINE records nothing; and
 * the ring's seqlock (whitebox) skips a torn event and keeps the newest
 * events when it wraps.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "rtutil.h"
#include "testutil.h"
#include "rt.h"
#include "timeline.h"

TestSuite(timeline, .init = tu_setup, .fini = tu_teardown);

#define TL_TASKS 6
#define TL_CALLS 5

static int task_fails(struct shoal_task *t, void *user)
{
	(void)user;
	return shoal_task_fail(t, SHOAL_ETASK, "fails on purpose");
}

struct tl_fx {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
	int add, fails;
	struct shoal_actor box;
	int get;
};

static struct tl_fx tl_start(uint32_t workers, uint64_t flags)
{
	struct shoal_runtime_options o;
	struct tl_fx f = {0};

	tu_assert_rc(shoal_registry_open(&f.reg), 0);
	tu_assert_rc(shoal_register_task(f.reg, "add", rt_task_add, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "fails", task_fails, NULL), 0);
	tu_assert_rc(shoal_register_actor(f.reg, "Box", rt_box_init, NULL), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Box", "get", rt_box_get), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.store.capacity = 32u << 20;
	o.name = tu_shm_name("tl");
	o.flags = flags;
	tu_assert_rc(shoal_runtime_start(f.reg, &o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	f.add = shoal_function(f.rt, "add");
	f.fails = shoal_function(f.rt, "fails");
	tu_assert_rc(shoal_actor_create(f.rt, "Box", NULL, NULL, &f.box), 0);
	f.get = shoal_actor_method(f.rt, f.box, "get");
	cr_assert_geq(f.get, 0);
	return f;
}

static void tl_stop(struct tl_fx *f)
{
	tu_assert_rc(shoal_runtime_shutdown(f->rt), 0);
	shoal_registry_close(f->reg);
}

static void tl_get_drop(struct tl_fx *f, shoal_id id, int want)
{
	struct shoal_view v;

	tu_assert_rc(shoal_get(f->s, id, 10000, &v), want);
	if (!want)
		shoal_release(f->s, &v);
	shoal_drop(f->s, id);
}

/* TL_TASKS adds, one failing task, TL_CALLS calls; their result IDs
 * formatted into ids (tasks first, then the failing one, then calls). */
static void tl_workload(struct tl_fx *f, char ids[][SHOAL_ID_HEX_LEN + 1])
{
	struct shoal_args a;
	shoal_id ref;
	int64_t x = 1;

	for (int i = 0; i < TL_TASKS + 1; i++) {
		shoal_args_init(&a);
		shoal_args_bytes(&a, &x, sizeof x);
		tu_assert_rc(shoal_submit(f->rt, i < TL_TASKS ? f->add : f->fails, &a, 1,
					  &ref), 0);
		shoal_id_format(ref, ids[i]);
		tl_get_drop(f, ref, i < TL_TASKS ? 0 : SHOAL_ETASK);
	}
	for (int i = 0; i < TL_CALLS; i++) {
		shoal_args_init(&a);
		tu_assert_rc(shoal_actor_call(f->rt, f->box, f->get, &a, &ref), 0);
		shoal_id_format(ref, ids[TL_TASKS + 1 + i]);
		tl_get_drop(f, ref, 0);
	}
}

/* Waits (bounded) until the runtime counted `tasks` tasks and the Box
 * `calls` calls as finished: each process records its slice and
 * histograms after it sealed the results a get returns, and before it
 * counts the task or call done. */
static void tl_settled(struct tl_fx *f, uint64_t tasks, uint64_t calls)
{
	struct shoal_runtime_info ri;
	struct shoal_actor_info ai;

	for (int64_t d = tu_now_ms() + 10000;;) {
		tu_assert_rc(shoal_runtime_info(f->rt, &ri, NULL, 0), 0);
		tu_assert_rc(shoal_actor_info(f->rt, f->box, &ai), 0);
		if (ri.tasks_done + ri.tasks_failed >= tasks && ai.calls_run >= calls)
			return;
		cr_assert_lt(tu_now_ms(), d, "tasks %llu calls %llu",
			     (unsigned long long)(ri.tasks_done + ri.tasks_failed),
			     (unsigned long long)ai.calls_run);
		usleep(1000);
	}
}

/* Runs python3 with `script` on the file at path; its exit status. */
static int tl_python(const char *path, const char *script, const char *arg)
{
	pid_t p = tu_fork();

	if (p == 0) {
		execlp("python3", "python3", "-c", script, path, arg, (char *)NULL);
		_exit(127);
	}
	return tu_wait_exit(p);
}

static FILE *tl_tmp(char *path, size_t cap)
{
	int fd;

	snprintf(path, cap, "/tmp/shoal-tl-%d-XXXXXX", (int)getpid());
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	return fdopen(fd, "w+");
}

/* The trace's checks, in python: argv[1] the trace, argv[2] the
 * expected "driver_pid actor_pid id,id,...". */
static const char *const tl_check_trace =
	"import json, sys\n"
	"d = json.load(open(sys.argv[1]))\n"
	"ev = d['traceEvents']\n"
	"drv, act, ids = sys.argv[2].split(' ')\n"
	"drv, act, ids = int(drv), int(act), ids.split(',')\n"
	"names = {e['pid']: e['args']['name'] for e in ev if e['ph'] == 'M'}\n"
	"assert names.get(drv) == 'driver', names\n"
	"assert names.get(act, '').startswith('Box#'), names\n"
	"X = [e for e in ev if e['ph'] == 'X' and e['cat'] != 'submit']\n"
	"by = {e['args']['result']: e for e in X}\n"
	"tasks, fail, calls = ids[:6], ids[6], ids[7:]\n"
	"for i in tasks:\n"
	"    e = by[i]; assert e['name'] == 'add' and e['cat'] == 'task', e\n"
	"    assert e['args']['rc'] == 0 and e['dur'] >= 0, e\n"
	"    assert names[e['pid']].startswith('worker '), names\n"
	"e = by[fail]; assert e['name'] == 'fails' and e['args']['rc'] == -4020, e\n"
	"for i in calls:\n"
	"    e = by[i]; assert e['name'] == 'Box.get' and e['cat'] == 'actor_call', e\n"
	"    assert e['pid'] == act, e\n"
	"assert len(X) == len(ids), len(X)\n"
	"s = {e['id']: e for e in ev if e['ph'] == 's'}\n"
	"f = {e['id']: e for e in ev if e['ph'] == 'f'}\n"
	"assert len(s) == len(ids) and set(s) == set(f), (len(s), len(f))\n"
	"sub = [e for e in ev if e['ph'] == 'X' and e['cat'] == 'submit']\n"
	"for k in s:\n"
	"    assert s[k]['pid'] == drv and f[k]['bp'] == 'e', (s[k], f[k])\n"
	"    assert s[k]['ts'] <= f[k]['ts'], (s[k], f[k])\n"
	"    assert any(x['pid'] == drv and x['ts'] == s[k]['ts'] for x in sub)\n"
	"    assert any(x['pid'] == f[k]['pid'] and x['ts'] == f[k]['ts'] for x in X)\n";

Test(timeline, known_workload_gives_slices_rows_and_flows)
{
	struct tl_fx f = tl_start(2, 0);
	char ids[TL_TASKS + 1 + TL_CALLS][SHOAL_ID_HEX_LEN + 1];
	char path[64], expect[1024];
	struct shoal_actor_info ai;
	FILE *out = tl_tmp(path, sizeof path);
	size_t len;
	int rc;

	tl_workload(&f, ids);
	tl_settled(&f, TL_TASKS + 1, TL_CALLS);
	tu_assert_rc(shoal_actor_info(f.rt, f.box, &ai), 0);
	len = (size_t)snprintf(expect, sizeof expect, "%d %d ", (int)getpid(), ai.pid);
	for (int i = 0; i < TL_TASKS + 1 + TL_CALLS; i++)
		len += (size_t)snprintf(expect + len, sizeof expect - len, "%s%s",
					i ? "," : "", ids[i]);
	tu_assert_rc(shoal_timeline(f.rt, out), 0);
	fclose(out);
	rc = tl_python(path, tl_check_trace, expect);
	unlink(path);
	cr_assert_eq(rc, 0, "the trace's checks failed");
	tl_stop(&f);
}

/* The python's checks of the metrics text: argv[2] "tasks calls". */
static const char *const tl_check_metrics =
	"import sys\n"
	"t, c = map(int, sys.argv[2].split())\n"
	"m = {}\n"
	"for l in open(sys.argv[1]):\n"
	"    if l.startswith('#'): continue\n"
	"    k, v = l.rsplit(' ', 1); m[k] = float(v)\n"
	"assert m['shoal_task_run_seconds_count'] == t, m\n"
	"assert m['shoal_task_latency_seconds_count'] == t, m\n"
	"assert m['shoal_actor_call_run_seconds_count'] == c, m\n"
	"assert m['shoal_actor_call_latency_seconds_count'] == c, m\n"
	"assert m['shoal_task_run_seconds_bucket{le=\"+Inf\"}'] == t, m\n"
	"for h in ('task_run', 'task_latency', 'actor_call_run', 'actor_call_latency'):\n"
	"    b = [v for k, v in m.items() if k.startswith('shoal_%s_seconds_bucket' % h)]\n"
	"    assert len(b) == 24 and b == sorted(b), b\n"
	"    assert m['shoal_%s_seconds_sum' % h] > 0, m\n"
	"assert m['shoal_tasks_submitted_total'] == t, m\n"
	"assert m['shoal_tasks_finished_total{status=\"failed\"}'] == 1, m\n"
	"assert m['shoal_actor_calls_total{class=\"Box\",actor=\"0\",name=\"\",status=\"ok\"}'] == c, m\n"
	"assert m['shoal_actor_state{class=\"Box\",actor=\"0\",name=\"\",state=\"alive\"}'] == 1, m\n"
	"assert m['shoal_workers'] == 2 and m['shoal_object_store_capacity_bytes'] > 0, m\n";

static void tl_metrics_check(struct tl_fx *f, int tasks, int calls)
{
	char path[64], arg[32];
	FILE *out = tl_tmp(path, sizeof path);
	int rc;

	tu_assert_rc(shoal_metrics(f->rt, out), 0);
	fclose(out);
	snprintf(arg, sizeof arg, "%d %d", tasks, calls);
	rc = tl_python(path, tl_check_metrics, arg);
	unlink(path);
	cr_assert_eq(rc, 0, "the metrics' checks failed");
}

Test(timeline, metrics_count_what_ran_in_histograms)
{
	struct tl_fx f = tl_start(2, 0);
	char ids[TL_TASKS + 1 + TL_CALLS][SHOAL_ID_HEX_LEN + 1];

	tl_workload(&f, ids);
	tl_settled(&f, TL_TASKS + 1, TL_CALLS);
	tl_metrics_check(&f, TL_TASKS + 1, TL_CALLS);
	tl_stop(&f);
}

Test(timeline, off_records_no_slices_but_keeps_histograms)
{
	struct tl_fx f = tl_start(2, SHOAL_RUNTIME_NO_TIMELINE);
	char ids[TL_TASKS + 1 + TL_CALLS][SHOAL_ID_HEX_LEN + 1];
	char path[64];
	FILE *out = tl_tmp(path, sizeof path);

	tl_workload(&f, ids);
	tl_settled(&f, TL_TASKS + 1, TL_CALLS);
	tu_assert_rc(shoal_timeline(f.rt, out), -ENODATA);
	cr_assert_eq(ftell(out), 0, "nothing written");
	fclose(out);
	unlink(path);
	tl_metrics_check(&f, TL_TASKS + 1, TL_CALLS);
	tl_stop(&f);
}

/* A worker's slices outlive it: SIGKILL it after its tasks ran. */
static const char *const tl_check_dead =
	"import json, sys\n"
	"ev = json.load(open(sys.argv[1]))['traceEvents']\n"
	"pid = int(sys.argv[2])\n"
	"X = [e for e in ev if e['ph'] == 'X' and e['pid'] == pid and e['cat'] == 'task']\n"
	"assert len(X) >= 7, len(X)\n";

Test(timeline, a_killed_workers_slices_stay)
{
	struct tl_fx f = tl_start(1, 0);
	char ids[TL_TASKS + 1 + TL_CALLS][SHOAL_ID_HEX_LEN + 1];
	struct shoal_runtime_info ri;
	int32_t pid, pid2;
	char path[64], arg[16];
	FILE *out;
	int rc;

	tl_workload(&f, ids);
	tl_settled(&f, TL_TASKS + 1, TL_CALLS);
	tu_assert_rc(shoal_runtime_info(f.rt, &ri, &pid, 1), 0);
	cr_assert_gt(pid, 0);
	kill(pid, SIGKILL);
	/* its replacement runs the next task */
	for (int64_t d = tu_now_ms() + 10000;;) {
		tu_assert_rc(shoal_runtime_info(f.rt, &ri, &pid2, 1), 0);
		if (ri.workers_alive == 1 && pid2 != pid)
			break;
		cr_assert_lt(tu_now_ms(), d, "no replacement worker");
		usleep(1000);
	}
	tl_workload(&f, ids);
	out = tl_tmp(path, sizeof path);
	tu_assert_rc(shoal_timeline(f.rt, out), 0);
	fclose(out);
	snprintf(arg, sizeof arg, "%d", (int)pid);
	rc = tl_python(path, tl_check_dead, arg);
	unlink(path);
	cr_assert_eq(rc, 0, "the dead worker's slices are missing");
	tl_stop(&f);
}

/* Whitebox: the ring's reader against its writer, in one process. */
Test(timeline, ring_wraps_to_the_newest_and_skips_a_torn_event)
{
	const uint32_t events = 64;
	size_t bytes = sizeof(struct shoal__tl_ring) + events * sizeof(struct shoal__tl_event);
	struct shoal__tl_ring *ring = calloc(1, bytes);
	struct shoal__tl_event *ev = (struct shoal__tl_event *)(ring + 1);
	struct shoal__tl t = {.ring = ring, .ev = ev, .mask = events - 1, .pid = 42};
	struct shoal__tl_rec r, got;
	int32_t pid;
	uint64_t head;

	cr_assert_not_null(ring);
	for (uint32_t i = 0; i < 3 * events + 5; i++) {
		r = (struct shoal__tl_rec){.kind = SHOAL__TL_TASK, .what = i, .who = 3,
					   .t_start = 100 + i, .t_end = 200 + i,
					   .id_lo = i, .rc = -(int32_t)(i % 3)};
		shoal__tl_record(&t, &r);
	}
	head = atomic_load(&ring->head);
	cr_assert_eq(head, 3 * events + 5);
	for (uint64_t n = 0; n < head; n++) {
		bool ok = shoal__tl_read(ev, events - 1, n, &got, &pid);

		cr_assert_eq(ok, n >= head - events, "event %llu", (unsigned long long)n);
		if (ok)
			cr_assert(got.what == n && got.id_lo == n && got.t_start == 100 + n &&
				  got.rc == -(int32_t)(n % 3) && pid == 42 && got.who == 3);
	}
	/* a writer that died inside event head-1: seq 0, skipped */
	atomic_store(&ev[(head - 1) & (events - 1)].w[0], 0);
	cr_assert_not(shoal__tl_read(ev, events - 1, head - 1, &got, &pid));
	cr_assert(shoal__tl_read(ev, events - 1, head - 2, &got, &pid));
	/* histograms: one count per record, in its duration's bucket (100 ticks
	 * = 100 ns with mult 0: the first bucket) */
	cr_assert_eq(atomic_load(&ring->count[SHOAL__H_TASK_RUN]), 3 * events + 5);
	cr_assert_eq(atomic_load(&ring->hist[SHOAL__H_TASK_RUN][0]), 3 * events + 5);
	cr_assert_eq(shoal__tl_bucket(1000), 0);
	cr_assert_eq(shoal__tl_bucket(1001), 1);
	cr_assert_eq(shoal__tl_bucket(2000), 1);
	cr_assert_eq(shoal__tl_bucket(2001), 2);
	cr_assert_eq(shoal__tl_bucket(UINT64_MAX / 2), SHOAL__TL_BUCKETS - 1);
	free(ring);
}

/* Whitebox, through a live runtime: a worker killed between an event's
 * seq store and its head store left a whole event at head (the trace
 * shows it); histogram words a neighbour set near 2^64 do not make the
 * buckets go down (the sums saturate). */
static const char *const tl_check_head =
	"import json, sys\n"
	"ev = json.load(open(sys.argv[1]))['traceEvents']\n"
	"assert any(e['ph'] == 'X' and e.get('args', {}).get('result') == sys.argv[2]\n"
	"           for e in ev), 'the event at head is missing'\n";

static const char *const tl_check_cumulative =
	"import sys\n"
	"b = [float(l.rsplit(' ', 1)[1]) for l in open(sys.argv[1])\n"
	"     if l.startswith('shoal_task_run_seconds_bucket')]\n"
	"assert len(b) == 24 and b == sorted(b), b\n";

Test(timeline, a_whole_event_at_head_shows_and_scribbled_counts_saturate)
{
	struct tl_fx f = tl_start(1, 0);
	char ids[TL_TASKS + 1 + TL_CALLS][SHOAL_ID_HEX_LEN + 1];
	char path[64], hex[SHOAL_ID_HEX_LEN + 1];
	struct shoal__tl_ring *g = NULL;
	struct shoal__tl_event *ev;
	uint64_t head;
	FILE *out;
	int rc;

	tl_workload(&f, ids);
	tl_settled(&f, TL_TASKS + 1, TL_CALLS);
	for (uint32_t i = 0; i < f.rt->v.tl_rings && !g; i++) {
		struct shoal__tl_ring *r = shoal__tl_ring_at(&f.rt->v, i);

		if (!strcmp((const char *)r->label, "worker 0"))
			g = r;
	}
	cr_assert_not_null(g, "no ring for worker 0");
	ev = (struct shoal__tl_event *)(g + 1);
	head = atomic_load(&g->head);
	/* the event head, whole, as a writer leaves it before its head store:
	 * a copy of event head - 1 with another result ID */
	for (uint32_t w = 1; w < SHOAL__TL_WORDS; w++)
		atomic_store(&ev[head & (f.rt->v.tl_events - 1)].w[w],
			     atomic_load(&ev[(head - 1) & (f.rt->v.tl_events - 1)].w[w]));
	atomic_store(&ev[head & (f.rt->v.tl_events - 1)].w[5], 0x5eedull);
	atomic_store(&ev[head & (f.rt->v.tl_events - 1)].w[0], head + 1);
	shoal_id_format((shoal_id){.hi = atomic_load(&ev[(head - 1) &
							 (f.rt->v.tl_events - 1)].w[4]),
				   .lo = 0x5eedull}, hex);
	atomic_store(&g->hist[SHOAL__H_TASK_RUN][0], UINT64_MAX - 1);
	atomic_store(&g->hist[SHOAL__H_TASK_RUN][1], 5);

	out = tl_tmp(path, sizeof path);
	tu_assert_rc(shoal_timeline(f.rt, out), 0);
	fclose(out);
	rc = tl_python(path, tl_check_head, hex);
	unlink(path);
	cr_assert_eq(rc, 0, "the whole event at head is not in the trace");
	out = tl_tmp(path, sizeof path);
	tu_assert_rc(shoal_metrics(f.rt, out), 0);
	fclose(out);
	rc = tl_python(path, tl_check_cumulative, "");
	unlink(path);
	cr_assert_eq(rc, 0, "buckets went down");
	tl_stop(&f);
}
