/* SPDX-License-Identifier: MIT */
/*
 * tests/test_births.c - a named segment's birth cut short: a store's
 * creator or a runtime's driver SIGKILLed inside its create or its start
 * leaves no name in /dev/shm and no process behind, or, killed once the
 * name is given, a whole segment under it (a store) or a fork server
 * that removes it (a runtime).  Linked with the library built with its
 * crash points armed (base/crash.h).
 *
 * One test per point of SHOAL__CREATE_CRASH_POINTS and
 * SHOAL__START_CRASH_POINTS, expanded from the lists: a child creates a named store, or starts a named runtime, armed
 * with the point (SHOAL_CRASH, read when its store handle opens), and
 * both scenarios run with each point (a runtime's start passes the
 * create's points too); the point's own scenario must reach it.  Then,
 * within a bound: no /dev/shm file of that name (but after SEG_NAMED: the
 * create had finished its work, so the name is there and attaches), no
 * process whose command line names it (the fork server, the log relay,
 * the workers: title.c), and a create of the same name succeeds.
 *
 * And four that are not at a point: a driver killed at instants spread
 * over a whole start (and a little past it); the race the fork server's
 * removal must lose: the driver killed after the fork server said hello
 * but before it named the segment, and another program creating that
 * name before the fork server sees the death (the fork server must then
 * leave that program's segment alone); and a create and a start whose
 * name another program takes while they are held just before their link
 * (they fail with -EEXIST, leave nothing, and remove nothing of the
 * other's).
 *
 * Every wait is bounded.  A process found by its command line is never
 * left stopped: the test sends SIGCONT before any assertion.
 */
#include "testutil.h"
#include "internal.h"

#include <shoal/shoal.h>

TestSuite(births, .init = tu_setup, .fini = tu_teardown, .timeout = 120);

/* How long a start may take, and how long the fork server, the log relay
 * and the workers may take to be gone once the driver died (they go at
 * once: the fork server sees the driver's pidfd). */
#define BI_START_MS 10000
#define BI_GONE_MS 5000

/* The processes whose command line names the segment `name` (as the last
 * word, or followed by a space: "shoal fork-server /name"); the first
 * one's pid in *first. */
static int bi_procs(const char *name, pid_t *first)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t len = strlen(name);
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		char path[64], buf[4096];
		pid_t pid = (pid_t)atoi(e->d_name);
		ssize_t got;
		int fd;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		got = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (got <= 0)
			continue;
		for (ssize_t i = 0; i < got; i++)
			if (!buf[i])
				buf[i] = ' ';
		buf[got] = '\0';
		for (char *p = strstr(buf, name); p; p = strstr(p + 1, name))
			if (p > buf && p[-1] == ' ' && (p[len] == ' ' || !p[len])) {
				if (n++ == 0 && first)
					*first = pid;
				break;
			}
	}
	closedir(d);
	return n;
}

/* Waits (bounded) until neither the name (unless `file` is false: only
 * the processes) nor a process naming it is left; false, with what is
 * left in why, if something still is. */
static bool bi_gone(const char *name, bool file, int bound_ms, char *why,
		    size_t cap)
{
	int64_t deadline = tu_now_ms() + bound_ms;
	struct timespec ms = {0, 2000000};
	bool there;
	int procs;
	pid_t one = 0;

	for (;;) {
		there = file && tu_shm_exists(name);
		procs = bi_procs(name, &one);
		if (!there && !procs)
			return true;
		if (tu_now_ms() >= deadline)
			break;
		nanosleep(&ms, NULL);
	}
	snprintf(why, cap, "%d ms after the death: %s%d process(es) naming it "
		 "(pid %d)", bound_ms, there ? "/dev/shm has the name, " : "",
		 procs, (int)one);
	return false;
}

static int bi_stat(const char *name, struct stat *st)
{
	char path[TU_NAME_LEN + 16];

	tu_shm_path(name, path, sizeof path);
	return stat(path, st);
}

/* A create of `name` succeeds (the name is free and nothing half-made is
 * in the way); the store is closed and the name removed again. */
static void bi_create_succeeds(const char *name)
{
	struct shoal_store_options o = tu_opts(1u << 20);
	struct shoal_store *s = NULL;

	tu_assert_rc(shoal_store_create(name, &o, &s), 0,
		     "a new create of %s", name);
	shoal_store_close(s);
	tu_assert_rc(shoal_store_unlink(name), 0);
}

static void bi_arm(unsigned point)
{
	char spec[64];

	if (point >= SHOAL__CP_COUNT)
		return;
	snprintf(spec, sizeof spec, "%s:1", shoal__crash_name(point));
	setenv("SHOAL_CRASH", spec, 1);
}

/* Child side: creates the named store armed with `point`; exit 0 if the
 * create returned 0 (never closed: the name stays, as after a create). */
_Noreturn static void bi_creator(const char *name, unsigned point)
{
	struct shoal_store_options o = tu_opts(1u << 20);
	struct shoal_store *s = NULL;

	bi_arm(point);
	_exit(tu_err_to_exit(shoal_store_create(name, &o, &s)));
}

/* Child side: starts the named runtime armed with `point` (one worker, a
 * small store); a start that returns is shut down, exit 0.  A start armed
 * with a ":stop" spec (spec non-NULL) stops there instead. */
_Noreturn static void bi_driver(const char *name, unsigned point,
				const char *spec, int ready_fd)
{
	struct shoal_runtime_options o;
	struct shoal_registry *reg = NULL;
	struct shoal_runtime *rt = NULL;
	int rc;

	if (spec)
		setenv("SHOAL_CRASH", spec, 1);
	else
		bi_arm(point);
	TU_CHILD_CHECK(shoal_registry_open(&reg) == 0, TU_EXIT_IO);
	shoal_runtime_options_init(&o);
	o.name = name;
	o.num_workers = 1;
	o.max_tasks = 64;
	o.max_actors = 4;
	o.store.capacity = 1u << 20;
	o.store.max_objects = 256;
	rc = shoal_runtime_start(reg, &o, &rt);
	if (rc)
		_exit(tu_err_to_exit(rc));
	if (ready_fd >= 0) { /* killed by the test from here on */
		tu_child_write_byte(ready_fd, 'r');
		for (;;)
			pause();
	}
	_exit(tu_err_to_exit(shoal_runtime_shutdown(rt)));
}

/* Waits (bounded) for the child; true if it died of SIGKILL (it reached
 * its point), false if it exited 0 (it did not); anything else fails. */
static bool bi_reached(pid_t pid, int bound_ms, const char *what)
{
	int st = tu_wait_status(pid, bound_ms);

	cr_assert_neq(st, -1, "%s: still running after %d ms", what, bound_ms);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		return true;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "%s: ended with status %#x (%s)", what, st,
		  WIFEXITED(st) ? shoal_strerror(tu_exit_to_err(WEXITSTATUS(st)))
				: "signal");
	return false;
}

/* A plain named store's create, its creator killed at `point`. */
static bool bi_scenario_create(unsigned point)
{
	const char *name = tu_shm_name("create");
	struct shoal_store *s = NULL;
	pid_t pid = tu_fork();
	bool died;

	if (pid == 0)
		bi_creator(name, point);
	died = bi_reached(pid, TU_CHILD_DEADLINE_MS, "the creator");
	if (!died || point == SHOAL__CP_SEG_NAMED) {
		/* The create finished its work: a whole segment by that
		 * name, which its creator would have had to remove. */
		tu_assert_rc(shoal_store_attach(name, &s), 0,
			     "the name of a create that got to its end");
		shoal_store_close(s);
		tu_assert_rc(shoal_store_unlink(name), 0);
	} else {
		cr_assert(!tu_shm_exists(name), "a creator killed at %s left "
			  "its name in /dev/shm", shoal__crash_name(point));
	}
	bi_create_succeeds(name);
	return died;
}

/* A named runtime's start, its driver killed at `point`. */
static bool bi_scenario_start(unsigned point)
{
	const char *name = tu_shm_name("start");
	char why[256];
	pid_t pid = tu_fork();
	bool died;

	if (pid == 0)
		bi_driver(name, point, NULL, -1);
	died = bi_reached(pid, BI_START_MS, "the driver");
	cr_assert(bi_gone(name, true, BI_GONE_MS, why, sizeof why),
		  "a driver %s %s: %s", died ? "killed at" : "armed with",
		  shoal__crash_name(point), why);
	bi_create_succeeds(name);
	return died;
}

static bool (*const bi_scenarios[])(unsigned) = {
	bi_scenario_create,
	bi_scenario_start,
};

static void bi_run(unsigned point, bool (*own)(unsigned))
{
	bool reached = false;

	for (size_t i = 0; i < sizeof bi_scenarios / sizeof bi_scenarios[0]; i++) {
		bool died = bi_scenarios[i](point);

		if (bi_scenarios[i] == own)
			reached = died;
	}
	cr_assert(reached, "%s: its scenario never reached it",
		  shoal__crash_name(point));
}

#define BI_TEST(name, scenario, what)                                         \
	Test(births, name, .description = what)                               \
	{                                                                     \
		bi_run(SHOAL__CP_##name, bi_scenario_##scenario);             \
	}
SHOAL__CREATE_CRASH_POINTS(BI_TEST)
SHOAL__START_CRASH_POINTS(BI_TEST)
#undef BI_TEST

/* ------------------------------------------------------------------ */
/* A driver killed at any instant of its start                         */

/*
 * One start timed first (fork to "started", the test's view), then
 * drivers killed at BI_SWEEP instants spread over that time and a little
 * past it: whatever the driver was doing (its create, the double fork,
 * the wait for the hello, the workers' start, or nothing: it had
 * started), the name and every process naming it are gone within the
 * bound.  The first run also checks that bi_procs finds a running
 * runtime's processes, so that "no process left" means something.
 */
#define BI_SWEEP 12

Test(births, a_driver_killed_anywhere_in_its_start_leaves_nothing)
{
	const char *name = tu_shm_name(NULL);
	char why[256];
	int64_t t0, span_us;
	int p[2];
	pid_t pid;

	tu_pipe(p);
	t0 = tu_now_ms();
	pid = tu_fork();
	if (pid == 0)
		bi_driver(name, SHOAL__CP_COUNT, NULL, p[1]);
	cr_assert_eq(tu_read_byte(p[0], BI_START_MS), 'r');
	span_us = (tu_now_ms() - t0) * 1000;
	cr_assert(tu_shm_exists(name), "a started runtime has no name");
	cr_assert_geq(bi_procs(name, NULL), 2, "the fork server and the log "
		      "relay (at least) should name the segment");
	tu_kill(pid);
	cr_assert(bi_gone(name, true, BI_GONE_MS, why, sizeof why), "%s", why);
	for (int i = 0; i < BI_SWEEP; i++) {
		int64_t at_us = span_us * i / (BI_SWEEP - 2);
		struct timespec d = {at_us / 1000000, (at_us % 1000000) * 1000};

		pid = tu_fork();
		if (pid == 0)
			bi_driver(name, SHOAL__CP_COUNT, NULL, p[1]);
		nanosleep(&d, NULL); /* picks the instant; orders nothing */
		tu_kill(pid);
		cr_assert(bi_gone(name, true, BI_GONE_MS, why, sizeof why),
			  "a driver killed %lld us into its start (of %lld): %s",
			  (long long)at_us, (long long)span_us, why);
	}
	close(p[0]);
	close(p[1]);
	bi_create_succeeds(name);
}

/* ------------------------------------------------------------------ */
/* The fork server removes its own segment's name, never another's     */

/* Stops pid and waits (bounded) until it is stopped. */
static bool bi_stopped(pid_t pid, bool send)
{
	int64_t deadline = tu_now_ms() + TU_CHILD_DEADLINE_MS;
	struct timespec ms = {0, 1000000};

	if (send && kill(pid, SIGSTOP))
		return false;
	while (tu_proc_state(pid) != 'T' && tu_now_ms() < deadline)
		nanosleep(&ms, NULL);
	return tu_proc_state(pid) == 'T';
}

/*
 * The driver stops itself once the fork server said hello, before it
 * names the segment (START_HELLO, ":stop"); the test stops the fork
 * server too, kills the driver, and creates a store of the runtime's
 * name itself, as an unrelated program could once the driver is gone.
 * Then the fork server goes on: it sees the driver's death and ends, and
 * the name must still be the test's segment (same inode).
 */
Test(births, the_fork_server_never_removes_another_programs_segment)
{
	const char *name = tu_shm_name(NULL);
	char spec[64], why[256];
	struct shoal_store_options o = tu_opts(1u << 20);
	struct shoal_store *s = NULL;
	struct stat mine, there;
	pid_t drv, fs = 0;
	int rc;

	snprintf(spec, sizeof spec, "%s:1:stop",
		 shoal__crash_name(SHOAL__CP_START_HELLO));
	drv = tu_fork();
	if (drv == 0)
		bi_driver(name, SHOAL__CP_COUNT, spec, -1);
	cr_assert(bi_stopped(drv, false), "the driver never stopped after the "
		  "hello");
	cr_assert_eq(bi_procs(name, &fs) > 0 && fs > 0, 1, "no fork server");
	cr_assert(bi_stopped(fs, true), "the fork server did not stop");
	tu_kill(drv);
	/* The name, if the driver had given it already, is the runtime's
	 * to lose: the other program finds it free or frees it. */
	shoal_store_unlink(name);
	rc = shoal_store_create(name, &o, &s);
	kill(fs, SIGCONT); /* before any assertion */
	tu_assert_rc(rc, 0, "a create of the dead driver's name");
	cr_assert(bi_gone(name, false, BI_GONE_MS, why, sizeof why), "%s", why);
	cr_assert_eq(fstat(shoal_store_fd(s), &mine), 0);
	cr_assert(!bi_stat(name, &there), "the fork server removed the "
		  "name of a segment that is not its own");
	cr_assert(mine.st_ino == there.st_ino && mine.st_dev == there.st_dev,
		  "the name is no longer the test's segment");
	shoal_store_close(s);
	tu_assert_rc(shoal_store_unlink(name), 0);
}

/* ------------------------------------------------------------------ */
/* A name taken between the create's check and its link                */

/* The inode of the name is the one of s's segment. */
static void bi_expect_mine(const char *name, struct shoal_store *s)
{
	struct stat mine, there;

	cr_assert_eq(fstat(shoal_store_fd(s), &mine), 0);
	cr_assert(!bi_stat(name, &there), "the test's segment lost its name");
	cr_assert(mine.st_ino == there.st_ino && mine.st_dev == there.st_dev,
		  "the name is no longer the test's segment");
}

/*
 * The creator held (SEG_LAID, ":stop") with its segment whole and not
 * named yet; the test creates a store of that name meanwhile (it is
 * free), then lets the creator go: its create must fail with -EEXIST and
 * leave the test's segment as it was.
 */
Test(births, a_create_whose_name_is_taken_before_its_link_fails)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_store_options o = tu_opts(1u << 20);
	struct shoal_store *s = NULL;
	pid_t c = tu_fork();
	int rc;

	if (c == 0) {
		char spec[64];
		struct shoal_store *cs = NULL;

		snprintf(spec, sizeof spec, "%s:1:stop",
			 shoal__crash_name(SHOAL__CP_SEG_LAID));
		setenv("SHOAL_CRASH", spec, 1);
		_exit(tu_err_to_exit(shoal_store_create(name, &o, &cs)));
	}
	cr_assert(bi_stopped(c, false), "the creator never stopped");
	rc = shoal_store_create(name, &o, &s);
	kill(c, SIGCONT); /* before any assertion */
	tu_assert_rc(rc, 0, "a create while the other is not named yet");
	tu_assert_rc(tu_wait_result(c), -EEXIST, "the held create");
	bi_expect_mine(name, s);
	shoal_store_close(s);
	tu_assert_rc(shoal_store_unlink(name), 0);
}

/*
 * The same for a runtime's start, held once the fork server said hello
 * (START_HELLO): its start fails with -EEXIST, no process of it is left,
 * and its shutdown (start's error path) leaves the test's name alone.
 */
Test(births, a_start_whose_name_is_taken_before_its_link_fails)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_store_options o = tu_opts(1u << 20);
	struct shoal_store *s = NULL;
	char spec[64], why[256];
	pid_t drv;
	int rc;

	snprintf(spec, sizeof spec, "%s:1:stop",
		 shoal__crash_name(SHOAL__CP_START_HELLO));
	drv = tu_fork();
	if (drv == 0)
		bi_driver(name, SHOAL__CP_COUNT, spec, -1);
	cr_assert(bi_stopped(drv, false), "the driver never stopped");
	rc = shoal_store_create(name, &o, &s);
	kill(drv, SIGCONT); /* before any assertion */
	tu_assert_rc(rc, 0, "a create while the runtime is not named yet");
	tu_assert_rc(tu_wait_result(drv), -EEXIST, "the held start");
	cr_assert(bi_gone(name, false, BI_GONE_MS, why, sizeof why), "%s", why);
	bi_expect_mine(name, s);
	shoal_store_close(s);
	tu_assert_rc(shoal_store_unlink(name), 0);
}
