/* SPDX-License-Identifier: MIT */
/*
 * tests/test_runtime_walls.c - no hard walls where Ray has none (issue 13):
 * a full task table makes a submit wait for room (bounded, a try flavour,
 * woken by a freed record, ended by the fork server's death, never a
 * silent deadlock inside the pool); many attached programs at once; many
 * live refs in one process; many caller processes on one actor.
 *
 * Every test runs real processes (the runtime's workers, attached
 * programs forked here).  Where a test must know that a submit is asleep
 * waiting for room before it frees one, it watches the runtime's own
 * task_room event for a registered waiter (rtlayout.h): the state the
 * wake-up acts on, not a sleep.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/shoal.h>

#include "rt.h"
#include "rtutil.h"
#include "testutil.h"

TestSuite(runtime_walls, .init = tu_setup, .fini = tu_teardown);

#define WALL_BOUND_MS 10000

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

/* fan(depth): submits fan(depth - 1) twice (no timeout), then gets both
 * results; returns, as its int64 result, how many submits in its subtree
 * failed with SHOAL_EPOOLEXHAUSTED (any other failure fails the task). */
static int task_fan(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_store *s = shoal_runtime_store(rt);
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	int64_t depth, count = 0, sub;
	shoal_id kids[2];
	bool made[2] = {false, false};
	struct shoal_args a;
	const void *d;
	size_t n;

	(void)user;
	if (shoal_task_arg(t, 0, &d, &n) || n != sizeof depth)
		return shoal_task_fail(t, SHOAL_ETASK, "fan: no depth");
	memcpy(&depth, d, sizeof depth);
	if (depth > 0) {
		int64_t next = depth - 1;

		o.timeout_ms = -1;
		shoal_args_init(&a);
		shoal_args_bytes(&a, &next, sizeof next);
		for (int i = 0; i < 2; i++) {
			int rc = shoal_submit_opts(rt, shoal_function(rt, "fan"), &a,
						   &o, &kids[i]);

			if (rc == SHOAL_EPOOLEXHAUSTED)
				count++;
			else if (rc)
				return shoal_task_fail(t, rc, "fan: submit %d", rc);
			else
				made[i] = true;
		}
	}
	for (int i = 0; i < 2; i++) {
		struct shoal_view v;
		int rc;

		if (!made[i])
			continue;
		rc = shoal_get(s, kids[i], 30000, &v);
		if (rc)
			return shoal_task_fail(t, rc, "fan: get %d", rc);
		memcpy(&sub, v.data, sizeof sub);
		count += sub;
		shoal_release(s, &v);
		shoal_drop(s, kids[i]);
	}
	return shoal_task_return(t, 0, &count, sizeof count);
}

/* spawn(n): submits n add(1) (no timeout) and drops their refs without
 * waiting for them; returns how many submits failed, as its int64. */
static int task_spawn(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	int64_t n, one = 1, failed = 0;
	struct shoal_args a;
	const void *d;
	size_t len;
	shoal_id ref;

	(void)user;
	if (shoal_task_arg(t, 0, &d, &len) || len != sizeof n)
		return shoal_task_fail(t, SHOAL_ETASK, "spawn: no count");
	memcpy(&n, d, sizeof n);
	o.timeout_ms = -1;
	shoal_args_init(&a);
	shoal_args_bytes(&a, &one, sizeof one);
	for (int64_t i = 0; i < n; i++) {
		if (shoal_submit_opts(rt, shoal_function(rt, "add"), &a, &o, &ref))
			failed++;
		else
			shoal_drop(shoal_runtime_store(rt), ref);
	}
	return shoal_task_return(t, 0, &failed, sizeof failed);
}

/* The Seq actor: seq(caller, n) fails unless n follows the caller's
 * last one (each caller's calls must run in its order); returns n. */
#define SEQ_CALLERS 128
struct seq_state {
	int64_t last[SEQ_CALLERS];
};

static int seq_init(struct shoal_task *ctx, void **self)
{
	struct seq_state *st = malloc(sizeof *st);

	(void)ctx;
	if (!st)
		return -ENOMEM;
	for (int i = 0; i < SEQ_CALLERS; i++)
		st->last[i] = -1;
	*self = st;
	return 0;
}

static int seq_call(struct shoal_task *t, void *self)
{
	struct seq_state *st = self;
	int64_t who, n;
	const void *d;
	size_t len;

	if (shoal_task_arg(t, 0, &d, &len) || len != sizeof who)
		return shoal_task_fail(t, SHOAL_ETASK, "seq: no caller");
	memcpy(&who, d, sizeof who);
	if (shoal_task_arg(t, 1, &d, &len) || len != sizeof n)
		return shoal_task_fail(t, SHOAL_ETASK, "seq: no number");
	memcpy(&n, d, sizeof n);
	if (who < 0 || who >= SEQ_CALLERS || n != st->last[who] + 1)
		return shoal_task_fail(t, SHOAL_ETASK, "seq: out of order");
	st->last[who] = n;
	return shoal_task_return(t, 0, &n, sizeof n);
}

struct wall {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
	struct shoal__rt_hdr *hdr;
	const char *name;
};

static struct wall wall_start(uint32_t workers, uint32_t extra, uint32_t max_tasks,
			      bool named)
{
	struct shoal_runtime_options o;
	struct wall w = {0};
	uint64_t size;

	tu_assert_rc(shoal_registry_open(&w.reg), 0);
	tu_assert_rc(shoal_register_task(w.reg, "add", rt_task_add, NULL), 0);
	tu_assert_rc(shoal_register_task(w.reg, "fan", task_fan, NULL), 0);
	tu_assert_rc(shoal_register_task(w.reg, "spawn", task_spawn, NULL), 0);
	tu_assert_rc(shoal_register_actor(w.reg, "Seq", seq_init, NULL), 0);
	tu_assert_rc(shoal_register_method(w.reg, "Seq", "seq", seq_call), 0);
	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.max_extra_workers = extra;
	o.max_tasks = max_tasks;
	o.store.capacity = 64u << 20;
	if (named)
		w.name = o.name = tu_shm_name("rt");
	tu_assert_rc(shoal_runtime_start(w.reg, &o, &w.rt), 0);
	w.s = shoal_runtime_store(w.rt);
	w.hdr = shoal__store_ext(w.s, &size);
	cr_assert_not_null(w.hdr);
	return w;
}

static void wall_stop(struct wall *w, int want)
{
	tu_assert_rc(shoal_runtime_shutdown(w->rt), want);
	shoal_registry_close(w->reg);
}

static int fn(struct wall *w, const char *name)
{
	int i = shoal_function(w->rt, name);

	cr_assert_geq(i, 0, "no function %s", name);
	return i;
}

/* A gate: an int64 1, created and not sealed yet. */
static shoal_id make_gate(struct wall *w)
{
	shoal_id gate = shoal_id_next(w->s);
	int64_t one = 1;
	void *data;

	tu_assert_rc(shoal_create(w->s, gate, sizeof one, NULL, 0, 0, &data), 0);
	memcpy(data, &one, sizeof one);
	return gate;
}

/* Fills the table: n add(gate) parked on the unsealed gate (WAITING). */
static void fill_on_gate(struct wall *w, shoal_id gate, uint32_t n, shoal_id *refs)
{
	struct shoal_args a;

	shoal_args_init(&a);
	tu_assert_rc(shoal_args_ref(&a, gate), 0);
	for (uint32_t i = 0; i < n; i++)
		tu_assert_rc(shoal_submit(w->rt, fn(w, "add"), &a, 1, &refs[i]), 0);
}

static int submit_one(struct wall *w, int timeout_ms, shoal_id *ref)
{
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	struct shoal_args a;
	int64_t one = 1;

	o.timeout_ms = timeout_ms;
	shoal_args_init(&a);
	shoal_args_bytes(&a, &one, sizeof one);
	return shoal_submit_opts(w->rt, fn(w, "add"), &a, &o, ref);
}

/* A submit in a thread of the driver. */
struct submitter {
	struct wall *w;
	int timeout_ms;
	shoal_id ref;
	int rc;
	_Atomic bool done;
};

static void *submitter_main(void *arg)
{
	struct submitter *sb = arg;

	sb->rc = submit_one(sb->w, sb->timeout_ms, &sb->ref);
	atomic_store(&sb->done, true);
	return NULL;
}

/* Until a submit sleeps (or spins) registered on task_room: bounded. */
static void wait_room_waiter(struct wall *w, struct submitter *sb)
{
	int64_t t0 = tu_now_ms();

	while (atomic_load(&w->hdr->task_room.waiters) == 0) {
		cr_assert(!atomic_load(&sb->done), "the submit did not wait (rc %d)",
			  sb->rc);
		cr_assert_lt(tu_now_ms() - t0, WALL_BOUND_MS, "no submit waits");
		sched_yield();
	}
}

static void join_bounded(pthread_t th)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WALL_BOUND_MS / 1000;
	cr_assert_eq(pthread_timedjoin_np(th, NULL, &ts), 0, "the submit hangs");
}

static int64_t get_i64(struct wall *w, shoal_id ref)
{
	struct shoal_view v;
	int64_t x;

	tu_assert_rc(shoal_get(w->s, ref, WALL_BOUND_MS, &v), 0);
	cr_assert_eq(v.size, sizeof x);
	memcpy(&x, v.data, sizeof x);
	shoal_release(w->s, &v);
	shoal_drop(w->s, ref);
	return x;
}

/* ------------------------------------------------------------------ */
/* 1. A full task table: the submit waits for room                     */

Test(runtime_walls, a_submit_on_a_full_table_waits_and_a_freed_record_lets_it_in)
{
	enum { MAX = 4 };
	struct wall w = wall_start(1, 0, MAX, false);
	shoal_id gate = make_gate(&w), refs[MAX];
	struct submitter sb = {.w = &w, .timeout_ms = -1};
	pthread_t th;
	int64_t t0;

	fill_on_gate(&w, gate, MAX, refs);
	cr_assert_eq(pthread_create(&th, NULL, submitter_main, &sb), 0);
	wait_room_waiter(&w, &sb);
	cr_assert(!atomic_load(&sb.done));
	t0 = tu_now_ms();
	tu_assert_rc(shoal_seal(w.s, gate), 0); /* the gated tasks run and go */
	join_bounded(th);
	tu_assert_rc(sb.rc, 0, "the waiting submit");
	/* Woken by the freed record, not by its 200 ms re-check alone. */
	cr_assert_lt(tu_now_ms() - t0, 5000);
	cr_assert_eq(get_i64(&w, sb.ref), 1);
	for (int i = 0; i < MAX; i++) {
		struct shoal_view v;

		tu_assert_rc(shoal_get(w.s, refs[i], WALL_BOUND_MS, &v), 0);
		shoal_release(w.s, &v);
		shoal_drop(w.s, refs[i]);
	}
	shoal_drop(w.s, gate);
	wall_stop(&w, 0);
}

Test(runtime_walls, a_submit_on_a_full_table_times_out_and_a_try_fails_at_once)
{
	enum { MAX = 2, TIMEOUT = 300 };
	struct wall w = wall_start(1, 0, MAX, false);
	shoal_id gate = make_gate(&w), refs[MAX], ref;
	int64_t t0, took;

	fill_on_gate(&w, gate, MAX, refs);
	t0 = tu_now_ms();
	tu_assert_rc(submit_one(&w, 0, &ref), -EAGAIN, "a try on a full table");
	cr_assert_lt(tu_now_ms() - t0, TIMEOUT, "a try does not wait");
	t0 = tu_now_ms();
	tu_assert_rc(submit_one(&w, TIMEOUT, &ref), -ETIMEDOUT);
	took = tu_now_ms() - t0;
	cr_assert_geq(took, TIMEOUT, "gave up after %" PRId64 " ms", took);
	cr_assert_lt(took, TIMEOUT + 5000, "overran its timeout: %" PRId64 " ms", took);
	/* Nothing was left: once the table drains, a submit goes in. */
	tu_assert_rc(shoal_seal(w.s, gate), 0);
	for (int i = 0; i < MAX; i++) {
		struct shoal_view v;

		tu_assert_rc(shoal_get(w.s, refs[i], WALL_BOUND_MS, &v), 0);
		shoal_release(w.s, &v);
		shoal_drop(w.s, refs[i]);
	}
	tu_assert_rc(submit_one(&w, -1, &ref), 0);
	cr_assert_eq(get_i64(&w, ref), 1);
	shoal_drop(w.s, gate);
	wall_stop(&w, 0);
}

Test(runtime_walls, a_submit_waiting_for_room_hears_of_the_fork_servers_death)
{
	enum { MAX = 2 };
	struct wall w = wall_start(1, 0, MAX, false);
	shoal_id gate = make_gate(&w), refs[MAX];
	struct submitter sb = {.w = &w, .timeout_ms = -1};
	struct shoal_runtime_info info;
	pthread_t th;

	fill_on_gate(&w, gate, MAX, refs);
	cr_assert_eq(pthread_create(&th, NULL, submitter_main, &sb), 0);
	wait_room_waiter(&w, &sb);
	tu_assert_rc(shoal_runtime_info(w.rt, &info, NULL, 0), 0);
	cr_assert_eq(kill(info.fork_server_pid, SIGKILL), 0);
	join_bounded(th);
	tu_assert_rc(sb.rc, SHOAL_EFORKSERVERDIED, "the waiting submit");
	tu_assert_rc(shoal_abort(w.s, gate), 0);
	for (int i = 0; i < MAX; i++)
		shoal_drop(w.s, refs[i]);
	wall_stop(&w, SHOAL_EFORKSERVERDIED);
}

/* Tasks that hold their records while they submit more than the table
 * holds, on a pool that cannot grow past 2 workers: every worker ends up
 * waiting for room nobody can free.  The submits give up with
 * SHOAL_EPOOLEXHAUSTED (about a second), the tasks finish, the driver's
 * get returns: no silent deadlock. */
Test(runtime_walls, nested_submits_that_fill_the_table_fail_rather_than_deadlock)
{
	struct wall w = wall_start(1, 1, 2, false);
	struct shoal_args a;
	int64_t depth = 3, failed;
	shoal_id ref;

	shoal_args_init(&a);
	shoal_args_bytes(&a, &depth, sizeof depth);
	tu_assert_rc(shoal_submit(w.rt, fn(&w, "fan"), &a, 1, &ref), 0);
	failed = get_i64(&w, ref);
	cr_assert_geq(failed, 1, "some submit must have given up");
	/* And the pool works on. */
	tu_assert_rc(submit_one(&w, -1, &ref), 0);
	cr_assert_eq(get_i64(&w, ref), 1);
	wall_stop(&w, 0);
}

/* A task submits more than the table holds: its worker waits for room
 * (blocked), so the pool starts an extra worker, which runs the queued
 * tasks and frees their records: every submit goes in. */
Test(runtime_walls, a_nested_submit_on_a_full_table_waits_while_the_pool_can_grow)
{
	struct wall w = wall_start(1, 4, 2, false);
	struct shoal_args a;
	int64_t n = 6;
	shoal_id ref;

	shoal_args_init(&a);
	shoal_args_bytes(&a, &n, sizeof n);
	tu_assert_rc(shoal_submit(w.rt, fn(&w, "spawn"), &a, 1, &ref), 0);
	cr_assert_eq(get_i64(&w, ref), 0, "no submit may fail");
	wall_stop(&w, 0);
}

/* ------------------------------------------------------------------ */
/* 3. Many attached programs at once                                   */

#define PEERS 100

struct peers {
	pid_t pid[PEERS];
	int to[PEERS], from[PEERS];
};

/* Starts PEERS runtime_peer programs with args (argv[i] of "%d" is the
 * peer's number), and waits until each wrote 'r': attached (and, for
 * actor-seq, with a lane into the actor) at once. */
static void peers_start(struct peers *p, const char *const *fmt, int nargs)
{
	char num[PEERS][16];

	for (int i = 0; i < PEERS; i++) {
		const char *args[8];

		snprintf(num[i], sizeof num[i], "%d", i);
		for (int k = 0; k < nargs; k++)
			args[k] = strcmp(fmt[k], "%d") ? fmt[k] : num[i];
		args[nargs] = NULL;
		p->pid[i] = tu_spawn_prog(RUNTIME_PEER, args, &p->to[i], &p->from[i]);
	}
	for (int i = 0; i < PEERS; i++)
		cr_assert_eq(tu_read_byte(p->from[i], 60000), 'r', "peer %d", i);
}

/* Tells each to go on, and checks each exits 0. */
static void peers_finish(struct peers *p)
{
	for (int i = 0; i < PEERS; i++)
		tu_write_byte(p->to[i], 'g');
	for (int i = 0; i < PEERS; i++) {
		int rc = tu_wait_status(p->pid[i], 60000);

		cr_assert_eq(rc, 0, "peer %d exited with %d", i, rc);
		close(p->to[i]);
		close(p->from[i]);
	}
}

Test(runtime_walls, a_hundred_attached_programs_at_once_submit_and_get, .timeout = 110)
{
	struct wall w = wall_start(2, 0, 0, true);
	const char *fmt[] = {"hold", w.name, "%d", "1"};
	static struct peers p;

	peers_start(&p, fmt, 4); /* all attached at once */
	peers_finish(&p);
	wall_stop(&w, 0);
}

/* ------------------------------------------------------------------ */
/* 4. Many caller processes on one actor                               */

/* 100 attached programs, each with its lane into one actor (all hooked at
 * once: each made 64 calls and keeps its lane until it detaches), then
 * 64 calls more each, all at once: every call runs, each caller's in its
 * order (the actor fails one out of order, the peer checks each result). */
Test(runtime_walls, a_hundred_caller_processes_call_one_actor_each_in_its_order,
     .timeout = 110)
{
	struct wall w = wall_start(1, 0, 0, true);
	struct shoal_actor_options ao = SHOAL_ACTOR_OPTIONS_INIT;
	const char *fmt[] = {"actor-seq", w.name, "seq", "%d", "64"};
	static struct peers p;
	struct shoal_actor a;

	ao.name = "seq";
	tu_assert_rc(shoal_actor_create(w.rt, "Seq", NULL, &ao, &a), 0);
	peers_start(&p, fmt, 5);
	peers_finish(&p);
	tu_assert_rc(shoal_actor_kill(w.rt, a, 0), 0);
	wall_stop(&w, 0);
}
