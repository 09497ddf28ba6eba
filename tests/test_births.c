/* SPDX-License-Identifier: MIT */
/*
 * tests/test_births.c - a named segment's birth cut short: a runtime's
 * driver SIGKILLed inside its start.  Linked with the library built with
 * its crash points armed (base/crash.h).
 *
 * The race the fork server's removal of the name must lose: the driver
 * killed after the fork server said hello, and another program creating
 * that name before the fork server sees the death.  The fork server must
 * then leave that program's segment alone.
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

static void bi_arm(unsigned point)
{
	char spec[64];

	if (point >= SHOAL__CP_COUNT)
		return;
	snprintf(spec, sizeof spec, "%s:1", shoal__crash_name(point));
	setenv("SHOAL_CRASH", spec, 1);
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
