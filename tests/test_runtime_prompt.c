/* SPDX-License-Identifier: MIT */
/*
 * tests/test_runtime_prompt.c - a runtime's calls return within their
 * time when the work they could do is much larger: a get whose wait
 * runs the sweep of a runtime whose fork server died, a submit whose
 * argument's put waits for room, each with dead processes whose orphan
 * scans (store/proc.c, "Work") would take seconds; and a shutdown while
 * the head worker spins on the run queue, unregistered, with the largest
 * spin budget.  Real runtimes and processes throughout: the fork server
 * and the orphans' owners are SIGKILLed, "gone" is checked through /proc
 * within a bounded poll (test_runtime_procs.c does the same), and the
 * head worker's spin is seen through its CPU time, never assumed after
 * a sleep.
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "internal.h"
#include "proc_int.h"
#include "rtlayout.h"
#include "testutil.h"

TestSuite(runtime_prompt, .init = tu_setup, .fini = tu_teardown);

#define MAX_PIDS 16

static int noop_u64(struct shoal_task *task, void *user)
{
	(void)user;
	return shoal_task_return_u64(task, 0, 7);
}

static struct shoal_registry *registry(void)
{
	struct shoal_registry *reg = NULL;

	tu_assert_rc(shoal_registry_open(&reg), 0);
	tu_assert_rc(shoal_register_task(reg, "u64", noop_u64, NULL), 0);
	return reg;
}

static struct shoal_runtime_options rt_opts(uint32_t max_objects)
{
	struct shoal_runtime_options o;

	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.store.capacity = 8u << 20;
	o.store.max_objects = max_objects;
	return o;
}

/* A process's state letter in /proc ('R', 'S', 'Z', ...), or 0 once
 * it is gone. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512];
	const char *p;
	char st = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')) && p[1] && p[2])
		st = p[2];
	fclose(f);
	return st;
}

/* Alive: in /proc and not a zombie (the fork server is detached: init
 * reaps it). */
static bool alive(pid_t pid)
{
	char st = proc_state(pid);

	return st && st != 'Z' && st != 'X';
}

/* SIGKILLs the fork server and polls (bounded) until it and every worker
 * are gone. */
static void kill_fork_server(struct shoal_runtime *rt)
{
	struct shoal_runtime_info info;
	int32_t w[MAX_PIDS];
	int64_t end = tu_now_ms() + 5000;
	bool up = true;

	tu_assert_rc(shoal_runtime_info(rt, &info, w, MAX_PIDS), 0);
	cr_assert_eq(kill(info.fork_server_pid, SIGKILL), 0);
	while (up && tu_now_ms() < end) {
		up = alive(info.fork_server_pid);
		for (uint32_t i = 0; i < info.workers_alive && i < MAX_PIDS; i++)
			up |= alive(w[i]);
		sched_yield();
	}
	cr_assert_not(up, "the fork server or a worker outlived the kill");
}

/* n processes attached to s, each leaving an orphan, all SIGKILLed (and
 * waited for) once all are in: an attach would reap the dead. */
static void orphans_of_the_dead(struct shoal_store *s, int n)
{
	pid_t kids[64];
	int ready[2];

	cr_assert_leq(n, 64);
	tu_pipe(ready);
	for (int i = 0; i < n; i++)
		kids[i] = tu_orphaning_child(s, tu_id(3, (uint64_t)i), ready[1]);
	for (int i = 0; i < n; i++)
		cr_assert_eq(tu_read_byte(ready[0], TU_CHILD_DEADLINE_MS), 'k');
	for (int i = 0; i < n; i++)
		tu_kill(kids[i]);
	close(ready[0]);
	close(ready[1]);
}

/*
 * Found by the chaos program in a coverage build (eca2ad5): a get with
 * a 150 ms timeout took 1.6 s.  Its wait woke (the store's on_block
 * hook), found the fork server dead and ran the runtime's sweep
 * (proc/end.c), which reaped the store in full: a scan of the whole
 * directory for each dead process with orphans, inside that get.  The
 * sweep's reap now does everything but those scans' chunks past its
 * first (one per dead process), and the get's own reap keeps within the
 * get's time; the next explicit reap finishes the scans.
 * Here sixteen dead programs with orphans in a directory of 16 Mi
 * slots (1 GiB, the largest; the scans touch pages nobody touched
 * before): before the fix the get took 2.5 to 3.4 s here, now 100 to
 * 102 ms, with two CPU hogs too.  The bound: the 100 ms and a margin of
 * 250 ms (some 60 chunks of scan in a coverage build; the work here is
 * 32), under a seventh of the old time.  The dead programs' slots are
 * still there after it, their scans left to a later reap.
 */
Test(runtime_prompt, a_get_that_sweeps_does_not_pay_for_the_orphan_scans,
     .timeout = 60)
{
	struct shoal_runtime_options o = rt_opts(1u << 22);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	struct shoal_store *s;
	struct shoal_view v;
	int64_t t0, ms;

	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	s = shoal_runtime_store(rt);
	orphans_of_the_dead(s, 16);
	kill_fork_server(rt);
	t0 = tu_now_ms();
	tu_assert_rc(shoal_get(s, tu_id(9, 9), 100, &v), -ETIMEDOUT);
	ms = tu_now_ms() - t0;
	/* END-A3: the get's wait found the fork server dead and swept. */
	cr_assert_eq(atomic_load_explicit(&rt->v.hdr->sweep, memory_order_acquire),
		     2, "the get did not run the sweep");
	cr_assert_lt(ms, 350, "a 100 ms get that swept took %" PRId64 " ms", ms);
	cr_assert_eq(tu_stats(s).processes, 1 + 16,
		     "the dead programs' scans were not left to a later reap");
	tu_assert_rc(shoal_runtime_shutdown(rt), SHOAL_EFORKSERVERDIED);
	shoal_registry_close(reg);
}

/* Milliseconds of one scan of s's whole directory by this process: an
 * explicit eviction, in a store with nothing to evict (store/evict.c);
 * its pages are this process's from then on. */
static int64_t directory_scan_ms(struct shoal_store *s)
{
	int64_t t0 = tu_now_ms();

	tu_assert_rc(shoal_evict(s, 1), 0);
	return tu_now_ms() - t0;
}

/*
 * The other half of eca2ad5: a submit whose by-value argument waits for
 * room in the store (task/pending.c) reaps after each slice of its wait,
 * and that reap scanned the whole directory for each dead process with
 * orphans, past the submit's timeout.  It now reaps within the submit's
 * time.  Each try of the put scans the directory too (an eviction that
 * finds nothing: three in a wait that times out), in either version; so
 * the bound is counted in those scans, timed here in the same process
 * (which the build's speed and the machine's load change alike): the
 * 100 ms, four scans and 250 ms.  The 48 dead programs' scans came on
 * top before the fix: 3.2 to 5.4 s here against a bound of 0.55 to
 * 0.65 s (a scan of the 8 Mi-slot, 512 MiB directory took 45 to 75 ms);
 * now 0.19 to 0.25 s, with two CPU hogs too.
 */
Test(runtime_prompt, a_submit_waiting_for_room_does_not_pay_for_the_orphan_scans,
     .timeout = 60)
{
	struct shoal_runtime_options o = rt_opts(1u << 21);
	struct shoal_task_options t = SHOAL_TASK_OPTIONS_INIT;
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	static char arg[4u << 20];
	struct shoal_store *s;
	struct shoal_args a;
	int64_t scan, t0, ms;
	void *data = NULL;
	shoal_id ref;

	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	s = shoal_runtime_store(rt);
	/* The store full for the argument: 6 of its 8 MiB never sealed. */
	tu_assert_rc(shoal_create(s, tu_id(5, 5), 6u << 20, NULL, 0, 0, &data), 0);
	directory_scan_ms(s); /* the pages: faulted in before anything is timed */
	scan = directory_scan_ms(s);
	orphans_of_the_dead(s, 48);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, arg, sizeof arg), 0);
	t.timeout_ms = 100;
	t0 = tu_now_ms();
	tu_assert_rc(shoal_submit_opts(rt, shoal_function(rt, "u64"), &a, &t, &ref),
		     SHOAL_ESTOREFULL);
	ms = tu_now_ms() - t0;
	cr_assert_lt(ms, 100 + 4 * scan + 250,
		     "a 100 ms submit took %" PRId64 " ms (a scan: %" PRId64 " ms)",
		     ms, scan);
	cr_assert_eq(tu_stats(s).processes, 3 + 48,
		     "the dead programs' scans were not left to a later reap");
	/* Not a shutdown: the fork server would reap (and scan) in full. */
	kill_fork_server(rt);
	tu_assert_rc(shoal_runtime_shutdown(rt), SHOAL_EFORKSERVERDIED);
	shoal_registry_close(reg);
}

/* Nanoseconds pid has run on a CPU (the first field of
 * /proc/<pid>/schedstat: brought up to date at each of its yields), or
 * -1. */
static int64_t cpu_ns(pid_t pid)
{
	char path[64];
	long long ns = -1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/schedstat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &ns) != 1)
		ns = -1;
	fclose(f);
	return ns;
}

/* Polls (bounded) until the worker has run 1 ms since `from`, its head
 * word up: it was done with its last task within microseconds, so it is
 * spinning now (the largest budget spins some 35 ms here).  Or until it
 * sleeps: where pauses are short the whole spin may take less than 1 ms,
 * and a sleeping head is woken by the shutdown's signal (not this test's
 * case, but no failure either). */
static void until_spinning(struct shoal_runtime *rt, pid_t pid, int64_t from)
{
	int64_t end = tu_now_ms() + TU_CHILD_DEADLINE_MS;
	int64_t ns = from;

	while (ns - from < 1000000 && proc_state(pid) != 'S' &&
	       tu_now_ms() < end) {
		sched_yield();
		ns = cpu_ns(pid);
	}
	cr_assert_lt(tu_now_ms(), end, "the worker neither ran nor slept");
	cr_assert_eq(atomic_load(&rt->v.workers[0].head), 1,
		     "the worker is not the pool's head");
}

/*
 * The head worker spins on the run queue's cell, unregistered (8066305,
 * proc/worker.c): shutdown's signal of the queue's wake line finds no
 * waiter, so the head watches the runtime's `stopping` word in its spin
 * too.  Without that, a shutdown during the spin cost the rest of the
 * worker's idle slice (SHOAL__WORKER_SLICE_MS, 1 s): the spin (2^20
 * pauses at most, some 35 ms here) ends, the head registers and sleeps
 * until its slice ends, and only then sees `stopping`.  The spin budget
 * is capped (2^20), so the spin alone would cost little; what the missed
 * signal costs is the rest of that second: 1.01 s here in each of 11
 * runs with the check removed, against 9 to 23 ms with it (two CPU hogs
 * too).  The bound is the suites' wake-up bound (TU_WAKE_LATENCY_MS),
 * half the slice.  Before 8066305 the head spun registered and the
 * signal woke it: this guards the check, not an older bug.  With one CPU
 * the head does not spin and the shutdown is prompt either way.
 */
Test(runtime_prompt, a_shutdown_while_the_head_worker_spins_is_prompt)
{
	struct shoal_runtime_options o = rt_opts(1024);
	struct shoal_registry *reg = registry();
	struct shoal_runtime_info info;
	struct shoal_runtime *rt = NULL;
	struct shoal_store *s;
	struct shoal_args a;
	struct shoal_view v;
	int64_t t0, ms, ns;
	shoal_id ref;
	int32_t w[1];

	o.store.spin_budget = 1u << 20; /* the most */
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	s = shoal_runtime_store(rt);
	tu_assert_rc(shoal_runtime_info(rt, &info, w, 1), 0);
	cr_assert_eq(info.workers_alive, 1);
	shoal_args_init(&a);
	tu_assert_rc(shoal_submit(rt, shoal_function(rt, "u64"), &a, 1, &ref), 0);
	tu_assert_rc(shoal_get(s, ref, 10000, &v), 0);
	ns = cpu_ns(w[0]);
	shoal_release(s, &v);
	tu_assert_rc(shoal_drop(s, ref), 0);
	until_spinning(rt, w[0], ns);
	t0 = tu_now_ms();
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	ms = tu_now_ms() - t0;
	cr_assert_lt(ms, TU_WAKE_LATENCY_MS,
		     "a shutdown while the head spun took %" PRId64 " ms", ms);
	shoal_registry_close(reg);
}
