/* SPDX-License-Identifier: MIT */
/*
 * tests/test_runtime_procs.c - the runtime's processes: fork server,
 * workers, shutdown, and what happens when the driver, a worker or the
 * fork server dies.  Real processes throughout; "gone" is checked through
 * /proc (a zombie counts as gone: the fork server is detached, so init
 * reaps it) within a bounded poll, never after a sleep.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "internal.h"
#include "proc_int.h"
#include "rtlayout.h"
#include "testutil.h"

TestSuite(runtime_procs, .init = tu_setup, .fini = tu_teardown);

#define MAX_PIDS 16

static int noop(struct shoal_task *task, void *user)
{
	(void)task;
	(void)user;
	return 0;
}

static struct shoal_registry *registry(void)
{
	struct shoal_registry *reg = NULL;

	tu_assert_rc(shoal_registry_open(&reg), 0);
	tu_assert_rc(shoal_register_task(reg, "noop", noop, NULL), 0);
	return reg;
}

static struct shoal_runtime_options rt_opts(uint32_t workers, const char *name)
{
	struct shoal_runtime_options o;

	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.max_extra_workers = 2;
	o.name = name;
	o.store.capacity = 8u << 20;
	o.store.max_objects = 1024;
	return o;
}

/* Alive: in /proc and not a zombie. */
static bool alive(pid_t pid)
{
	char path[64], buf[512];
	const char *p;
	FILE *f;
	bool up = false;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')) && p[1] && p[2])
		up = p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return up;
}

/* Bounded poll until every pid is gone. */
static bool all_gone(const pid_t *pids, size_t n, int timeout_ms)
{
	int64_t end = tu_now_ms() + timeout_ms;

	for (;;) {
		size_t up = 0;

		for (size_t i = 0; i < n; i++)
			up += alive(pids[i]);
		if (up == 0)
			return true;
		if (tu_now_ms() > end)
			return false;
		sched_yield();
	}
}

/* The fork server's pid, then the workers'; returns how many. */
static size_t runtime_pids(struct shoal_runtime *rt, pid_t *pids)
{
	struct shoal_runtime_info info;
	int32_t w[MAX_PIDS];

	tu_assert_rc(shoal_runtime_info(rt, &info, w, MAX_PIDS - 1), 0);
	pids[0] = info.fork_server_pid;
	for (uint32_t i = 0; i < info.workers_alive && i < MAX_PIDS - 1; i++)
		pids[1 + i] = w[i];
	return 1 + (info.workers_alive < MAX_PIDS - 1 ? info.workers_alive
						      : MAX_PIDS - 1);
}

Test(runtime_procs, start_runs_the_pool_and_shutdown_leaves_nothing)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_runtime_options o = rt_opts(3, name);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	struct shoal_store_stats st;
	pid_t pids[MAX_PIDS];
	size_t n;

	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	n = runtime_pids(rt, pids);
	cr_assert_eq(n, 4, "fork server + 3 workers, got %zu", n);
	for (size_t i = 0; i < n; i++)
		cr_assert(alive(pids[i]), "pid %d not running", (int)pids[i]);
	cr_assert(tu_shm_exists(name));
	tu_assert_rc(shoal_store_stats(shoal_runtime_store(rt), &st), 0);
	cr_assert_eq(st.processes, 5, "driver, fork server, 3 workers: %u",
		     st.processes);
	/* No shoal process is the driver's child: waitpid(-1) finds none. */
	errno = 0;
	cr_assert_eq(waitpid(-1, NULL, WNOHANG), -1);
	cr_assert_eq(errno, ECHILD);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	cr_assert(all_gone(pids, n, 5000), "processes left after shutdown");
	cr_assert_not(tu_shm_exists(name), "segment left after shutdown");
	shoal_registry_close(reg);
}

Test(runtime_procs, registry_rejects_bad_names_and_freezes_at_start)
{
	struct shoal_registry *reg = registry();
	struct shoal_runtime_options o = rt_opts(1, NULL);
	struct shoal_runtime *rt = NULL;
	char long_name[SHOAL_FUNCTION_NAME_MAX + 2];

	memset(long_name, 'x', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	tu_assert_rc(shoal_register_task(reg, "noop", noop, NULL), -EEXIST);
	tu_assert_rc(shoal_register_task(reg, "", noop, NULL), -EINVAL);
	tu_assert_rc(shoal_register_task(reg, long_name, noop, NULL), -EINVAL);
	tu_assert_rc(shoal_register_task(reg, "f", NULL, NULL), -EINVAL);
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	tu_assert_rc(shoal_register_task(reg, "late", noop, NULL), -EBUSY);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
}

/* A driver in a child process: starts a named runtime, sends its pids
 * (fork server first) down `out`, then waits for a byte on `in` and shuts
 * down.  With sigint_ok it survives SIGINT. */
static void driver_child(const char *name, int in, int out, bool sigint_ok)
{
	struct shoal_runtime_options o = rt_opts(2, name);
	struct shoal_registry *reg = NULL;
	struct shoal_runtime *rt = NULL;
	pid_t pids[MAX_PIDS];
	size_t n;

	if (sigint_ok)
		signal(SIGINT, SIG_IGN);
	if (shoal_registry_open(&reg) || shoal_runtime_start(reg, &o, &rt))
		_exit(1);
	n = runtime_pids(rt, pids);
	if (write(out, pids, n * sizeof pids[0]) != (ssize_t)(n * sizeof pids[0]))
		_exit(2);
	tu_child_read_byte(in);
	_exit(shoal_runtime_shutdown(rt) ? 3 : 0);
}

static size_t read_pids(int fd, pid_t *pids)
{
	ssize_t got = 0;
	int64_t end = tu_now_ms() + 10000;

	/* One write of 3 pids; read until it is there. */
	while (got < (ssize_t)(3 * sizeof(pid_t)) && tu_now_ms() < end) {
		ssize_t r = read(fd, (char *)pids + got, MAX_PIDS * sizeof(pid_t) - (size_t)got);
		if (r <= 0)
			break;
		got += r;
	}
	return (size_t)got / sizeof(pid_t);
}

Test(runtime_procs, a_killed_driver_takes_every_process_and_the_segment)
{
	const char *name = tu_shm_name(NULL);
	int to_drv[2], from_drv[2];
	pid_t drv, pids[MAX_PIDS];
	size_t n;

	tu_pipe(to_drv);
	tu_pipe(from_drv);
	drv = tu_fork();
	if (drv == 0)
		driver_child(name, to_drv[0], from_drv[1], false);
	n = read_pids(from_drv[0], pids);
	cr_assert_eq(n, 3, "driver sent %zu pids", n);
	cr_assert(tu_shm_exists(name));
	tu_kill(drv);
	cr_assert(all_gone(pids, n, 5000), "fork server or workers outlived the driver");
	/* The fork server unlinks before it exits. */
	cr_assert_not(tu_shm_exists(name), "segment outlived the driver");
}

Test(runtime_procs, sigint_to_the_drivers_group_does_not_reach_the_pool)
{
	const char *name = tu_shm_name(NULL);
	int to_drv[2], from_drv[2];
	pid_t drv, pids[MAX_PIDS];
	size_t n;

	tu_pipe(to_drv);
	tu_pipe(from_drv);
	drv = tu_fork();
	if (drv == 0) {
		setpgid(0, 0);
		driver_child(name, to_drv[0], from_drv[1], true);
	}
	n = read_pids(from_drv[0], pids);
	cr_assert_eq(n, 3);
	/* What a Ctrl-C does: SIGINT to the whole foreground group. */
	cr_assert_eq(kill(-drv, SIGINT), 0);
	for (size_t i = 0; i < n; i++)
		cr_assert(alive(pids[i]), "pid %d got the driver's SIGINT",
			  (int)pids[i]);
	tu_write_byte(to_drv[1], 'q');
	cr_assert_eq(tu_wait_exit(drv), 0, "driver's shutdown failed");
	cr_assert(all_gone(pids, n, 5000));
	cr_assert_not(tu_shm_exists(name));
}

/* Bounded poll: a replacement for `dead` runs. */
static bool replaced(struct shoal_runtime *rt, pid_t dead, uint32_t want)
{
	int64_t end = tu_now_ms() + 5000;

	while (tu_now_ms() < end) {
		struct shoal_runtime_info info;
		int32_t w[MAX_PIDS];
		bool gone = true;

		shoal_runtime_info(rt, &info, w, MAX_PIDS);
		for (uint32_t i = 0; i < info.workers_alive; i++)
			gone &= w[i] != dead;
		if (info.workers_died == 1 && info.workers_alive == want && gone)
			return true;
		sched_yield();
	}
	return false;
}

Test(runtime_procs, a_killed_worker_is_reaped_and_replaced)
{
	struct shoal_runtime_options o = rt_opts(2, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	struct shoal_store_stats st;
	pid_t pids[MAX_PIDS];

	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	runtime_pids(rt, pids);
	cr_assert_eq(kill(pids[1], SIGKILL), 0);
	cr_assert(replaced(rt, pids[1], 2), "no replacement worker");
	tu_assert_rc(shoal_store_stats(shoal_runtime_store(rt), &st), 0);
	cr_assert_eq(st.processes, 4, "the dead worker's slot was not reaped (%u)",
		     st.processes);
	cr_assert_geq(st.reaped, 1);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
}

Test(runtime_procs, workers_die_with_the_fork_server)
{
	struct shoal_runtime_options o = rt_opts(2, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	pid_t pids[MAX_PIDS];
	size_t n;

	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	n = runtime_pids(rt, pids);
	cr_assert_eq(kill(pids[0], SIGKILL), 0);
	cr_assert(all_gone(pids + 1, n - 1, 5000),
		  "workers outlived their fork server (PR_SET_PDEATHSIG)");
	shoal_runtime_shutdown(rt); /* the fork server is gone: best effort */
	shoal_registry_close(reg);
}

Test(runtime_procs, the_fork_server_keeps_no_fd_of_the_driver)
{
	struct shoal_runtime_options o = rt_opts(1, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	struct stat mine, theirs;
	char path[64];
	pid_t pids[MAX_PIDS];
	int p[2], fd;

	cr_assert_eq(pipe(p), 0); /* not close-on-exec: a fork inherits it */
	cr_assert_eq(fstat(p[0], &mine), 0);
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	runtime_pids(rt, pids);
	for (fd = 3; fd < 64; fd++) {
		snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pids[0], fd);
		if (stat(path, &theirs) == 0)
			cr_assert_neq(theirs.st_ino, mine.st_ino,
				      "fork server kept the driver's pipe (fd %d)", fd);
	}
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	close(p[0]);
	close(p[1]);
	shoal_registry_close(reg);
}

/* The process table says what each process is. */
Test(runtime_procs, the_process_table_records_each_role)
{
	struct shoal_runtime_options o = rt_opts(2, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	struct shoal_store *s;
	uint32_t count[5] = {0};

	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	s = shoal_runtime_store(rt);
	for (uint32_t i = 0; i < s->geo.max_procs; i++) {
		uint64_t st = atomic_load(&s->procs[i].state);
		uint32_t role = atomic_load(&s->procs[i].role);

		if (SHOAL__PROC_PHASE(st) == SHOAL__PROC_LIVE && role < 5)
			count[role]++;
	}
	cr_assert_eq(count[SHOAL__ROLE_DRIVER], 1);
	cr_assert_eq(count[SHOAL__ROLE_FORK_SERVER], 1);
	cr_assert_eq(count[SHOAL__ROLE_WORKER], 2);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
}

/* A number of a process's status (key: "RssShmem:", kB of shared memory
 * it has mapped; "voluntary_ctxt_switches:"), or -1. */
static long status_of(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t len = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, len))
			v = atol(line + len);
	if (f)
		fclose(f);
	return v;
}

static long rss_shmem_kb(pid_t pid)
{
	return status_of(pid, "RssShmem:");
}

static void run_noop(struct shoal_runtime *rt)
{
	struct shoal_args a;
	struct shoal_view v;
	shoal_id ref;

	shoal_args_init(&a);
	tu_assert_rc(shoal_submit(rt, shoal_function(rt, "noop"), &a, 1, &ref), 0);
	/* noop sets no return: its result is an error object, ready */
	cr_assert_eq(shoal_get(shoal_runtime_store(rt), ref, 10000, &v),
		     SHOAL_ETASK);
	tu_assert_rc(shoal_drop(shoal_runtime_store(rt), ref), 0);
}

/* Each process warms at its start what a first wave of tasks uses from it
 * (runtime/region.c): a worker has some 1 MiB of the segment mapped
 * before it runs anything (it had 0.1-0.2 MiB), and no more than that
 * bound whatever the options: with the largest task table (1 Mi records,
 * 384 MiB) the driver and the workers map a few MiB of it at most. */
Test(runtime_procs, start_warms_a_first_wave_and_no_more_with_a_huge_table)
{
	struct shoal_runtime_options o = rt_opts(2, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_runtime_info info;
	struct shoal_runtime *rt = NULL;
	int32_t w[2];

	o.max_tasks = 1u << 20;
	o.store.capacity = 64u << 20;
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	tu_assert_rc(shoal_runtime_info(rt, &info, w, 2), 0);
	cr_assert_eq(info.workers_alive, 2);
	for (int i = 0; i < 2; i++) {
		long kb = rss_shmem_kb(w[i]);

		cr_assert(kb >= 700 && kb <= 8 * 1024,
			  "worker %d maps %ld KiB of the segment at start", i, kb);
	}
	/* The driver also laid out the run queue (8 MiB of cells here). */
	cr_assert_leq(rss_shmem_kb(getpid()), 32 * 1024);
	run_noop(rt);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
}

/* Warming a table smaller than what it warms, without a timeline. */
Test(runtime_procs, a_runtime_of_one_task_record_without_timeline_runs)
{
	struct shoal_runtime_options o = rt_opts(1, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;

	o.max_tasks = 1;
	o.flags = SHOAL_RUNTIME_NO_TIMELINE;
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	for (int i = 0; i < 3; i++)
		run_noop(rt);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
}

/* The no-op with a result (run_noop's has none: an error object). */
/* n round trips of task fn (no arguments): submit, get, release, drop. */
static void task_round_trips(struct shoal_runtime *rt, int fn, int n)
{
	struct shoal_store *s = shoal_runtime_store(rt);
	struct shoal_args a;

	shoal_args_init(&a);
	for (int i = 0; i < n; i++) {
		struct shoal_view v;
		shoal_id ref;

		tu_assert_rc(shoal_submit(rt, fn, &a, 1, &ref), 0);
		tu_assert_rc(shoal_get(s, ref, 10000, &v), 0);
		shoal_release(s, &v);
		tu_assert_rc(shoal_drop(s, ref), 0);
	}
}

static int noop_u64(struct shoal_task *task, void *user)
{
	(void)user;
	return shoal_task_return_u64(task, 0, 7);
}

/* Idle workers other than the pool's head stand by (proc/worker.c): a
 * run of submit-get round trips, each task taken by the head, leaves the
 * other worker asleep (it was woken by every push, some 250 times in
 * 300: every idle worker slept on the queue's wake line). */
Test(runtime_procs, sync_round_trips_leave_the_standby_worker_asleep)
{
	struct shoal_runtime_options o = rt_opts(2, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_runtime_info info;
	struct shoal_runtime *rt = NULL;
	long before[2], woke[2];
	int32_t w[2];
	int fn;

	tu_assert_rc(shoal_register_task(reg, "u64", noop_u64, NULL), 0);
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	fn = shoal_function(rt, "u64");
	tu_assert_rc(shoal_runtime_info(rt, &info, w, 2), 0);
	cr_assert_eq(info.workers_alive, 2);
	for (int i = 0; i < 2; i++)
		before[i] = status_of(w[i], "voluntary_ctxt_switches:");
	task_round_trips(rt, fn, 300);
	for (int i = 0; i < 2; i++)
		woke[i] = status_of(w[i], "voluntary_ctxt_switches:") - before[i];
	/* Before, each woke about once a round trip (243 and 274 times);
	 * now one stays asleep, but under load a push that finds no head
	 * waiting (the head still on its way back) wakes the other, and the
	 * roles may swap: 95 and 41 at the full suite's load.  Half the round
	 * trips tells the two apart. */
	cr_assert(woke[0] <= 150 || woke[1] <= 150,
		  "both workers woke for 300 round trips: %ld and %ld times",
		  woke[0], woke[1]);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
}

/* The driver's waiter records' futex words, summed: each wake of one of
 * them bumps its word (store/waiters.c, WT-R3). */
static uint64_t waiter_bumps(struct shoal_store *s)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < SHOAL__PROC_WAITERS; i++)
		n += atomic_load(&s->me->waiters[i].futex);
	return n;
}

/* 300 spinning round trips: how many pushes bumped the run queue's wake
 * line, and how many gets had a waiter record woken. */
static void round_trips_signalled(struct shoal_runtime *rt, int fn,
				  uint32_t *pushes, uint64_t *gets)
{
	struct shoal_store *s = shoal_runtime_store(rt);
	uint32_t seq0 = atomic_load(&rt->v.queue.ring->wake.seq);
	uint64_t bumps0 = waiter_bumps(s);

	task_round_trips(rt, fn, 300);
	*pushes = atomic_load(&rt->v.queue.ring->wake.seq) - seq0;
	*gets = waiter_bumps(s) - bumps0;
}

/* A spinning round trip hands over through the lines the other side
 * writes anyway: the head worker spins on the run queue's cell (the
 * push finds no waiter on the wake line and leaves it alone), and the
 * driver's get spins on the result's entry (the seal finds no waiter
 * record to wake).  Before, every push bumped the wake line (the head
 * spun on it, registered) and every seal woke the get's record: some 300
 * of each for 300 round trips.  A spin budget far beyond a round trip
 * (yielding now and then) keeps a waiter whose peer is off the CPU
 * spinning rather than asleep, so that the count does not depend on
 * the machine's load. */
Test(runtime_procs, spinning_round_trips_touch_no_wake_line)
{
	struct shoal_runtime_options o = rt_opts(1, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	uint32_t pushes;
	uint64_t gets;
	int fn;

	o.store.spin_budget = 1u << 20; /* the most: about 35 ms */
	tu_assert_rc(shoal_register_task(reg, "u64", noop_u64, NULL), 0);
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	fn = shoal_function(rt, "u64");
	round_trips_signalled(rt, fn, &pushes, &gets);
	cr_expect(pushes <= 150,
		  "the wake line was bumped for %u pushes of 300", pushes);
	cr_expect(gets <= 150, "a waiter record was woken for %lu gets of 300",
		  (unsigned long)gets);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
}

static int echo_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

/* A spinning actor watches its lanes, unregistered (proc/actorproc.c): a
 * caller's publish then finds no waiter on the slot's doorbell and leaves
 * the line alone.  Before, the idle actor spun registered on the doorbell
 * and every call bumped its sequence word: 300 bumps for 300 round trips.
 * The spin budget, as above, keeps an actor whose caller is off the CPU
 * spinning rather than asleep. */
Test(runtime_procs, spinning_actor_calls_touch_no_doorbell)
{
	struct shoal_runtime_options o = rt_opts(1, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	struct shoal_actor a;
	struct shoal_store *s;
	_Atomic uint32_t *seq;
	uint32_t seq0 = 0, bumps;
	int m;

	o.store.spin_budget = 1u << 20;
	tu_assert_rc(shoal_register_actor(reg, "Echo", echo_init, NULL), 0);
	tu_assert_rc(shoal_register_method(reg, "Echo", "u64", noop_u64), 0);
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	s = shoal_runtime_store(rt);
	tu_assert_rc(shoal_actor_create(rt, "Echo", NULL, NULL, &a), 0);
	m = shoal_actor_method(rt, a, "u64");
	cr_assert_geq(m, 0);
	cr_assert_lt(a.index, rt->v.max_actors);
	seq = &rt->v.actors[a.index].doorbell.seq;
	for (int i = 0; i < 301; i++) {
		struct shoal_view v;
		shoal_id ref;

		if (i == 1) /* the first call made the lane and woke the actor */
			seq0 = atomic_load(seq);
		tu_assert_rc(shoal_actor_call(rt, a, m, NULL, &ref), 0);
		tu_assert_rc(shoal_get(s, ref, 10000, &v), 0);
		cr_assert_eq(v.size, sizeof(uint64_t));
		shoal_release(s, &v);
		tu_assert_rc(shoal_drop(s, ref), 0);
	}
	bumps = atomic_load(seq) - seq0;
	cr_expect(bumps <= 150, "the doorbell was bumped for %u calls of 300",
		  bumps);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
}
