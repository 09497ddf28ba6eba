/* SPDX-License-Identifier: MIT */
/*
 * tests/test_proc_identity.c - what a runtime's processes are to the host
 * (issue 11): their names in ps (/proc/PID/comm and cmdline); what they
 * print reaches the driver's stdout and stderr line by line with a
 * "(pid=..., who) " prefix (the log relay); they start clean of the
 * driver's signal handlers and mask, and a driver that ignores SIGCHLD
 * still runs a runtime.
 *
 * The output tests run the driver in a child whose stdout and stderr are
 * memfds, and read them after it exited, that is after
 * shoal_runtime_shutdown returned: everything the workers wrote must be
 * there by then.
 *
 * A test that changes the driver's signals runs its driver in a forked
 * child (tu_fork), which reports through its exit code (the codes are
 * named below): the test process's own signals stay criterion's.  Every
 * wait is bounded; a state that must come (a replacement worker) is
 * polled for, never slept for.
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "rtutil.h"
#include "testutil.h"

TestSuite(proc_identity, .init = tu_setup, .fini = tu_teardown);

#define GET_MS 8000
#define POLL_MS 5000
#define MAX_PIDS 16

/* ------------------------------------------------------------------ */
/* Tasks                                                               */

static int64_t arg_int(struct shoal_task *t, uint32_t i)
{
	const void *d;
	size_t n;
	int64_t v = 0;

	if (!shoal_task_arg(t, i, &d, &n) && n == sizeof v)
		memcpy(&v, d, sizeof v);
	return v;
}

static int ret_int(struct shoal_task *t, int64_t v)
{
	return shoal_task_return(t, 0, &v, sizeof v);
}

/* Raises SIGTERM against its own process: only a handler lets it return. */
static int task_sigterm(struct shoal_task *t, void *user)
{
	(void)user;
	raise(SIGTERM);
	return ret_int(t, 1);
}

/* 1 if signal arg0 is blocked in this process. */
static int task_blocked(struct shoal_task *t, void *user)
{
	sigset_t cur;

	(void)user;
	sigprocmask(SIG_SETMASK, NULL, &cur);
	return ret_int(t, sigismember(&cur, (int)arg_int(t, 0)) == 1);
}

/* 1 if signal arg0 has a handler (or is ignored) in this process. */
static int task_handled(struct shoal_task *t, void *user)
{
	struct sigaction sa;

	(void)user;
	sigaction((int)arg_int(t, 0), NULL, &sa);
	return ret_int(t, sa.sa_handler != SIG_DFL);
}

static int task_pid(struct shoal_task *t, void *user)
{
	(void)user;
	return ret_int(t, getpid());
}

/* The value of environment variable PATH, as this process sees it. */
static int task_path(struct shoal_task *t, void *user)
{
	const char *v = getenv("PATH");

	(void)user;
	return v ? shoal_task_return(t, 0, v, strlen(v))
		 : shoal_task_fail(t, SHOAL_ETASK, "no PATH");
}

/* Pointers into the driver's argv and environment areas, saved before
 * the runtime starts (a program's saved argv[i], optarg, a getenv): a
 * worker inherits them and must still read the same strings. */
static const char *saved_argv0, *saved_path;

static int task_saved(struct shoal_task *t, void *user)
{
	char both[8192];
	int n;

	(void)user;
	n = snprintf(both, sizeof both, "%s|%s", saved_argv0, saved_path);
	return shoal_task_return(t, 0, both, (size_t)n);
}

#define LONG_CLASS "AVeryLongActorClassName"

/* What say(mode) prints. */
enum { SAY_FLUSH, SAY_NOFLUSH, SAY_STDERR, SAY_PARTIAL, SAY_DIE };

static int task_say(struct shoal_task *t, void *user)
{
	(void)user;
	switch (arg_int(t, 0)) {
	case SAY_FLUSH:
		printf("flushed line\n");
		fflush(stdout);
		break;
	case SAY_NOFLUSH:
		printf("unflushed line\n");
		break;
	case SAY_STDERR:
		fprintf(stderr, "a line to stderr\n");
		break;
	case SAY_PARTIAL:
		printf("partial line");
		break;
	case SAY_DIE:
		raise(SIGKILL);
		break;
	}
	return ret_int(t, 0);
}

#define LONG_LINES 100
#define LONG_LEN 3000

/* LONG_LINES lines of LONG_LEN times the letter arg0, through stdio. */
static int task_long(struct shoal_task *t, void *user)
{
	static char line[LONG_LEN + 1];

	(void)user;
	memset(line, (int)arg_int(t, 0), LONG_LEN);
	for (int i = 0; i < LONG_LINES; i++)
		printf("%s\n", line);
	return ret_int(t, 0);
}

/* The number of this process's fds beyond 0, 1, 2 that are pipes or
 * sockets (the relay's and the fork server's must not reach a task). */
static int task_fds(struct shoal_task *t, void *user)
{
	char path[64], target[128];
	int64_t n = 0;

	(void)user;
	for (int fd = 3; fd < 1024; fd++) {
		ssize_t k;

		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		k = readlink(path, target, sizeof target - 1);
		if (k <= 0)
			continue;
		target[k] = '\0';
		n += !strncmp(target, "pipe:", 5) || !strncmp(target, "socket:", 7);
	}
	return ret_int(t, n);
}

static int printer_say(struct shoal_task *t, void *self)
{
	(void)self;
	printf("an actor's line\n");
	return ret_int(t, 0);
}

static struct shoal_registry *registry(void)
{
	struct shoal_registry *reg = NULL;

	if (shoal_registry_open(&reg) ||
	    shoal_register_task(reg, "sigterm", task_sigterm, NULL) ||
	    shoal_register_task(reg, "blocked", task_blocked, NULL) ||
	    shoal_register_task(reg, "handled", task_handled, NULL) ||
	    shoal_register_task(reg, "pid", task_pid, NULL) ||
	    shoal_register_task(reg, "path", task_path, NULL) ||
	    shoal_register_task(reg, "saved", task_saved, NULL) ||
	    shoal_register_task(reg, "say", task_say, NULL) ||
	    shoal_register_task(reg, "long", task_long, NULL) ||
	    shoal_register_task(reg, "fds", task_fds, NULL) ||
	    shoal_register_actor(reg, "Printer", rt_box_init, NULL) ||
	    shoal_register_method(reg, "Printer", "say", printer_say) ||
	    shoal_register_actor(reg, "LoggingActor", rt_box_init, NULL) ||
	    shoal_register_method(reg, "LoggingActor", "get", rt_box_get) ||
	    shoal_register_actor(reg, LONG_CLASS, rt_box_init, NULL) ||
	    shoal_register_method(reg, LONG_CLASS, "get", rt_box_get))
		return NULL;
	return reg;
}

static struct shoal_runtime_options rt_opts(uint32_t workers, const char *name)
{
	struct shoal_runtime_options o;

	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.max_extra_workers = 1;
	o.name = name;
	o.store.capacity = 8u << 20;
	o.store.max_objects = 1024;
	return o;
}

/* Runs fn(arg) in a task and gets its int64 result into *out: 0, or the
 * submit's or the get's error.  No assertions (a driver child uses it). */
static int run_int(struct shoal_runtime *rt, const char *fn, int64_t arg,
		   int64_t *out)
{
	struct shoal_store *s = shoal_runtime_store(rt);
	struct shoal_args a;
	struct shoal_view v;
	shoal_id ref;
	int rc;

	shoal_args_init(&a);
	shoal_args_bytes(&a, &arg, sizeof arg);
	rc = shoal_submit(rt, shoal_function(rt, fn), &a, 1, &ref);
	if (rc)
		return rc;
	rc = shoal_get(s, ref, GET_MS, &v);
	if (!rc) {
		if (v.size == sizeof *out)
			memcpy(out, v.data, sizeof *out);
		shoal_release(s, &v);
	}
	shoal_drop(s, ref);
	return rc;
}

/* Bounded poll: `want` workers run, `died` died, and `dead` is not one
 * of them.  No assertions. */
static bool replaced(struct shoal_runtime *rt, pid_t dead, uint32_t want,
		     uint32_t died)
{
	int64_t end = tu_now_ms() + POLL_MS;

	while (tu_now_ms() < end) {
		struct shoal_runtime_info info;
		int32_t w[MAX_PIDS];
		bool gone = true;

		shoal_runtime_info(rt, &info, w, MAX_PIDS);
		for (uint32_t i = 0; i < info.workers_alive && i < MAX_PIDS; i++)
			gone &= w[i] != dead;
		if (info.workers_died == died && info.workers_alive == want && gone)
			return true;
		sched_yield();
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* Drivers in a child                                                  */

/* Exit codes of a driver child. */
enum {
	D_OK = 0,
	D_START = 10,      /* shoal_runtime_start failed */
	D_TASK = 11,       /* a task that should run failed */
	D_INHERITED = 12,  /* a worker had the driver's handler or mask */
	D_NOT_DIED = 13,   /* the SIGTERM task did not die with its worker */
	D_NO_REPLACE = 14, /* no replacement worker */
	D_SHUTDOWN = 15,   /* shutdown failed */
	D_DRIVER_SIG = 16, /* the driver's own handler ran */
	D_NO_RELAY = 17,   /* no log relay among the fork server's children */
	D_SLOW = 18,       /* shutdown took too long */
	D_REPLACED = 19,   /* a worker died of the relay's death */
	D_RELAY_STAYS = 20, /* a stopped relay outlived the runtime */
};

static const char *d_what(int code)
{
	switch (code) {
	case D_START: return "runtime start failed";
	case D_TASK: return "a task failed";
	case D_INHERITED: return "a worker inherited the driver's handler or mask";
	case D_NOT_DIED: return "the SIGTERM task did not die (the driver's handler ran)";
	case D_NO_REPLACE: return "the dead worker was not replaced";
	case D_SHUTDOWN: return "shutdown failed";
	case D_DRIVER_SIG: return "the driver's handler ran in the driver";
	case D_NO_RELAY: return "no log relay found";
	case D_SLOW: return "shutdown took too long after the relay's death";
	case D_REPLACED: return "a worker died of the relay's death";
	case D_RELAY_STAYS: return "a stopped relay outlived the runtime";
	default: return "?";
	}
}

#define expect_driver(pid)                                                     \
	do {                                                                   \
		int c_ = tu_wait_exit(pid);                                    \
		cr_assert_eq(c_, D_OK, "driver exited %d: %s", c_, d_what(c_)); \
	} while (0)

static volatile sig_atomic_t term_seen;

static void on_term(int sig)
{
	(void)sig;
	term_seen = 1;
}

/* What a driver child checks. */
enum { CHECK_MASK, CHECK_HANDLER, CHECK_SIGTERM };

/* The checks of a driver that set a SIGTERM handler and blocked SIGUSR1
 * before it started the runtime. */
static int signals_check(struct shoal_runtime *rt, int what)
{
	int64_t v = -1;

	if (what != CHECK_SIGTERM) {
		if (run_int(rt, what == CHECK_MASK ? "blocked" : "handled",
			    what == CHECK_MASK ? SIGUSR1 : SIGTERM, &v))
			return D_TASK;
		return v == 0 ? D_OK : D_INHERITED;
	}
	/* Dies by SIGTERM's default action: the task fails, the worker is
	 * replaced. */
	if (run_int(rt, "sigterm", 0, &v) != SHOAL_EWORKERDIED)
		return D_NOT_DIED;
	return replaced(rt, 0, 2, 1) ? D_OK : D_NO_REPLACE;
}

static int driver_signals(int what)
{
	struct shoal_runtime_options o = rt_opts(2, NULL);
	struct sigaction sa = {.sa_handler = on_term};
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	sigset_t usr1;
	int rc;

	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	sigprocmask(SIG_BLOCK, &usr1, NULL);
	if (!reg || shoal_runtime_start(reg, &o, &rt))
		return D_START;
	rc = signals_check(rt, what);
	if (rc)
		return rc;
	if (shoal_runtime_shutdown(rt))
		return D_SHUTDOWN;
	shoal_registry_close(reg);
	return term_seen ? D_DRIVER_SIG : D_OK;
}

/* The driver ignores SIGCHLD (children are reaped by the kernel). */
static int driver_sigchld_ignored(int unused)
{
	struct shoal_runtime_options o = rt_opts(2, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	int64_t pid = 0;

	(void)unused;
	signal(SIGCHLD, SIG_IGN);
	if (!reg || shoal_runtime_start(reg, &o, &rt))
		return D_START;
	if (run_int(rt, "pid", 0, &pid) || pid <= 0)
		return D_TASK;
	kill((pid_t)pid, SIGKILL);
	if (!replaced(rt, (pid_t)pid, 2, 1))
		return D_NO_REPLACE;
	if (run_int(rt, "pid", 0, &pid) || pid <= 0)
		return D_TASK;
	if (shoal_runtime_shutdown(rt))
		return D_SHUTDOWN;
	shoal_registry_close(reg);
	return D_OK;
}

static pid_t spawn_driver(int (*body)(int), int arg)
{
	pid_t pid = tu_fork();

	if (pid == 0)
		_exit(body(arg));
	return pid;
}

/* ------------------------------------------------------------------ */
/* Signals                                                             */

Test(proc_identity, a_worker_starts_with_an_empty_signal_mask)
{
	expect_driver(spawn_driver(driver_signals, CHECK_MASK));
}

Test(proc_identity, a_worker_has_none_of_the_drivers_handlers)
{
	expect_driver(spawn_driver(driver_signals, CHECK_HANDLER));
}

Test(proc_identity, sigterm_kills_a_worker_despite_the_drivers_handler)
{
	expect_driver(spawn_driver(driver_signals, CHECK_SIGTERM));
}

Test(proc_identity, a_driver_that_ignores_sigchld_runs_a_runtime)
{
	expect_driver(spawn_driver(driver_sigchld_ignored, 0));
}

/* ------------------------------------------------------------------ */
/* Names                                                               */

/* /proc/PID/<file> into buf; its length. */
static size_t read_proc(pid_t pid, const char *file, char *buf, size_t cap)
{
	char path[64];
	size_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	n = tu_read_all(fd, buf, cap);
	close(fd);
	return n;
}

/* comm is `comm`, and cmdline exactly `cmd` and its NUL. */
static void expect_names(pid_t pid, const char *comm, const char *cmd)
{
	char buf[4096];
	size_t n = read_proc(pid, "comm", buf, sizeof buf);

	cr_assert(n > 0 && buf[n - 1] == '\n', "comm of %d", (int)pid);
	buf[n - 1] = '\0';
	cr_assert_str_eq(buf, comm, "comm of pid %d", (int)pid);
	n = read_proc(pid, "cmdline", buf, sizeof buf);
	cr_assert_eq(n, strlen(cmd) + 1, "cmdline of %d: %zu bytes, \"%.*s\", want \"%s\"",
		     (int)pid, n, (int)n, buf, cmd);
	cr_assert_str_eq(buf, cmd, "cmdline of pid %d", (int)pid);
}

/* Calls get() on the actor (so that its process runs) and returns its
 * info. */
static struct shoal_actor_info actor_up(struct shoal_runtime *rt,
					struct shoal_actor a)
{
	struct shoal_store *s = shoal_runtime_store(rt);
	struct shoal_actor_info info;
	struct shoal_view v;
	shoal_id ref;

	tu_assert_rc(shoal_actor_call(rt, a, shoal_actor_method(rt, a, "get"),
				      NULL, &ref), 0);
	tu_assert_rc(shoal_get(s, ref, GET_MS, &v), 0);
	shoal_release(s, &v);
	shoal_drop(s, ref);
	tu_assert_rc(shoal_actor_info(rt, a, &info), 0);
	cr_assert_gt(info.pid, 0);
	return info;
}

/* The last string of this process's environment is in pid's
 * /proc/PID/environ too (a title that runs into the environment's room
 * leaves the strings after it in place). */
static void expect_environ_tail(pid_t pid)
{
	static char mine[1 << 16], theirs[1 << 16];
	size_t n = read_proc(getpid(), "environ", mine, sizeof mine);
	size_t k = read_proc(pid, "environ", theirs, sizeof theirs);
	const char *last = mine;

	cr_assert(n > 1 && mine[n - 1] == '\0');
	for (size_t i = 0; i + 1 < n; i++)
		if (mine[i] == '\0')
			last = mine + i + 1;
	cr_assert_geq(k, strlen(last) + 1);
	cr_assert_eq(memcmp(theirs + k - strlen(last) - 1, last, strlen(last) + 1), 0,
		     "/proc/%d/environ lost \"%s\"", (int)pid, last);
}

Test(proc_identity, ps_names_the_fork_server_a_worker_and_an_actor)
{
	const char *name = tu_shm_name(NULL);
	struct shoal_runtime_options o = rt_opts(1, name);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	struct shoal_runtime_info info;
	struct shoal_actor a;
	int32_t w[MAX_PIDS];
	char want[512], comm[16];

	cr_assert_not_null(reg);
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	tu_assert_rc(shoal_runtime_info(rt, &info, w, MAX_PIDS), 0);
	snprintf(want, sizeof want, "shoal fork-server %s", name);
	expect_names(info.fork_server_pid, "shoal-fs", want);
	cr_assert_eq(info.workers_alive, 1);
	snprintf(want, sizeof want, "shoal worker 0 %s", name);
	expect_names(w[0], "shoal worker 0", want);
	expect_environ_tail(w[0]);
	tu_assert_rc(shoal_actor_create(rt, "LoggingActor", NULL, NULL, &a), 0);
	snprintf(comm, sizeof comm, "LoggingActor#%u", a.index);
	snprintf(want, sizeof want, "shoal actor LoggingActor#%u %s", a.index, name);
	expect_names(actor_up(rt, a).pid, comm, want);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
}

/* The title never writes the argv or environment area: a pointer the
 * program kept into either reads the same string in a worker. */
Test(proc_identity, the_title_leaves_the_programs_argv_and_environment_alone)
{
	struct shoal_runtime_options o = rt_opts(1, tu_shm_name("argv"));
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	struct shoal_args args;
	struct shoal_view v;
	char want[8192];
	shoal_id ref;

	cr_assert_not_null(reg);
	saved_argv0 = program_invocation_name; /* argv[0]'s own bytes */
	saved_path = getenv("PATH");
	cr_assert_not_null(saved_path);
	snprintf(want, sizeof want, "%s|%s", saved_argv0, saved_path);
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	shoal_args_init(&args);
	tu_assert_rc(shoal_submit(rt, shoal_function(rt, "saved"), &args, 1, &ref), 0);
	tu_assert_rc(shoal_get(shoal_runtime_store(rt), ref, GET_MS, &v), 0);
	cr_assert_eq(v.size, strlen(want));
	cr_assert_eq(memcmp(v.data, want, v.size), 0, "a worker reads '%.*s', not '%s'",
		     (int)v.size, (const char *)v.data, want);
	shoal_release(shoal_runtime_store(rt), &v);
	shoal_drop(shoal_runtime_store(rt), ref);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
}

/* A private runtime: no name in the titles; a class name too long for
 * comm keeps its "#index"; the environment survives the title. */
Test(proc_identity, ps_names_a_private_runtime_and_the_environment_survives)
{
	struct shoal_runtime_options o = rt_opts(1, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_store *s;
	struct shoal_runtime *rt = NULL;
	struct shoal_runtime_info info;
	struct shoal_actor a;
	struct shoal_args args;
	struct shoal_view v;
	int32_t w[MAX_PIDS];
	char want[512], comm[64], tail[16];
	shoal_id ref;

	cr_assert_not_null(reg);
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	s = shoal_runtime_store(rt);
	tu_assert_rc(shoal_runtime_info(rt, &info, w, MAX_PIDS), 0);
	expect_names(info.fork_server_pid, "shoal-fs", "shoal fork-server");
	expect_names(w[0], "shoal worker 0", "shoal worker 0");
	tu_assert_rc(shoal_actor_create(rt, LONG_CLASS, NULL, NULL, &a), 0);
	snprintf(tail, sizeof tail, "#%u", a.index);
	snprintf(comm, sizeof comm, "%.*s%s", (int)(15 - strlen(tail)), LONG_CLASS, tail);
	snprintf(want, sizeof want, "shoal actor %s#%u", LONG_CLASS, a.index);
	expect_names(actor_up(rt, a).pid, comm, want);
	shoal_args_init(&args);
	tu_assert_rc(shoal_submit(rt, shoal_function(rt, "path"), &args, 1, &ref), 0);
	tu_assert_rc(shoal_get(s, ref, GET_MS, &v), 0);
	cr_assert_not_null(getenv("PATH"));
	cr_assert_eq(v.size, strlen(getenv("PATH")));
	cr_assert_eq(memcmp(v.data, getenv("PATH"), v.size), 0, "PATH changed in a worker");
	shoal_release(s, &v);
	shoal_drop(s, ref);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
}

Test(proc_identity, a_task_finds_no_pipe_or_socket_of_shoal)
{
	struct shoal_runtime_options o = rt_opts(1, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	int64_t n = -1;

	cr_assert_not_null(reg);
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	tu_assert_rc(run_int(rt, "fds", 0, &n), 0);
	cr_assert_eq(n, 0, "a task sees %lld pipes or sockets beyond stdio", (long long)n);
	tu_assert_rc(shoal_runtime_shutdown(rt), 0);
	shoal_registry_close(reg);
}

/* ------------------------------------------------------------------ */
/* Output                                                              */

static int say(struct shoal_runtime *rt, int mode)
{
	int64_t v;

	return run_int(rt, "say", mode, &v);
}

/* Calls method `m` of actor a and waits for its result (no assertions). */
static int call(struct shoal_runtime *rt, struct shoal_actor a, const char *m)
{
	struct shoal_store *s = shoal_runtime_store(rt);
	struct shoal_view v;
	shoal_id ref;
	int rc = shoal_actor_call(rt, a, shoal_actor_method(rt, a, m), NULL, &ref);

	if (rc)
		return rc;
	rc = shoal_get(s, ref, GET_MS, &v);
	if (!rc)
		shoal_release(s, &v);
	shoal_drop(s, ref);
	return rc;
}

/* A worker prints flushed, unflushed, stderr and partial lines, then
 * dies; an actor prints a line.  The driver prints the pids. */
static int driver_output(int flags)
{
	struct shoal_runtime_options o = rt_opts(1, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	struct shoal_actor_info ai;
	struct shoal_actor a;
	int64_t pid = 0;

	o.flags = (uint64_t)flags;
	if (!reg || shoal_runtime_start(reg, &o, &rt))
		return D_START;
	if (run_int(rt, "pid", 0, &pid))
		return D_TASK;
	printf("driver: worker=%lld\n", (long long)pid);
	fflush(stdout);
	if (say(rt, SAY_FLUSH) || say(rt, SAY_NOFLUSH) || say(rt, SAY_STDERR) ||
	    say(rt, SAY_PARTIAL))
		return D_TASK;
	if (say(rt, SAY_DIE) != SHOAL_EWORKERDIED)
		return D_NOT_DIED;
	if (shoal_actor_create(rt, "Printer", NULL, NULL, &a) || call(rt, a, "say") ||
	    shoal_actor_info(rt, a, &ai))
		return D_TASK;
	printf("driver: actor=%d index=%u\n", (int)ai.pid, a.index);
	fflush(stdout);
	if (shoal_runtime_shutdown(rt))
		return D_SHUTDOWN;
	shoal_registry_close(reg);
	return D_OK;
}

/* Two workers print long lines at once. */
static int driver_long(int unused)
{
	struct shoal_runtime_options o = rt_opts(2, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	struct shoal_store *s;
	struct shoal_args args[2];
	shoal_id ref[2];
	int64_t letter[2] = {'A', 'B'};

	(void)unused;
	if (!reg || shoal_runtime_start(reg, &o, &rt))
		return D_START;
	s = shoal_runtime_store(rt);
	for (int i = 0; i < 2; i++) {
		shoal_args_init(&args[i]);
		shoal_args_bytes(&args[i], &letter[i], sizeof letter[i]);
		if (shoal_submit(rt, shoal_function(rt, "long"), &args[i], 1, &ref[i]))
			return D_TASK;
	}
	for (int i = 0; i < 2; i++) {
		struct shoal_view v;

		if (shoal_get(s, ref[i], GET_MS, &v))
			return D_TASK;
		shoal_release(s, &v);
		shoal_drop(s, ref[i]);
	}
	if (shoal_runtime_shutdown(rt))
		return D_SHUTDOWN;
	shoal_registry_close(reg);
	return D_OK;
}

/* The log relay: the fork server's child named shoal-log; 0 if none. */
static pid_t find_relay_once(pid_t fs)
{
	char path[96], buf[32], comm[32];
	pid_t found = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)fs, (int)fs);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (!found && fscanf(f, "%31s", buf) == 1) {
		FILE *c;

		snprintf(path, sizeof path, "/proc/%s/comm", buf);
		c = fopen(path, "r");
		if (c && fgets(comm, sizeof comm, c) && !strcmp(comm, "shoal-log\n"))
			found = atoi(buf);
		if (c)
			fclose(c);
	}
	fclose(f);
	return found;
}

/* The relay names itself right after its fork, while start may already
 * have returned: poll (bounded) until a child of the fork server is
 * named shoal-log. */
static pid_t find_relay(pid_t fs)
{
	int64_t end = tu_now_ms() + POLL_MS;
	pid_t found;

	while (!(found = find_relay_once(fs)) && tu_now_ms() < end)
		usleep(1000);
	return found;
}

/* Bounded poll: pid is gone (or a zombie). */
static bool gone(pid_t pid)
{
	int64_t end = tu_now_ms() + POLL_MS;
	char path[64], buf[512];

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	while (tu_now_ms() < end) {
		FILE *f = fopen(path, "r");
		const char *p;
		bool dead = !f;

		if (f && fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')))
			dead = p[2] == 'Z' || p[2] == 'X';
		if (f)
			fclose(f);
		if (dead)
			return true;
		sched_yield();
	}
	return false;
}

/* The relay is SIGKILLed: a worker that prints loses its lines (EPIPE:
 * children ignore SIGPIPE) and nothing else: its tasks succeed, it is not
 * replaced, and shutdown is prompt. */
static int driver_relay_killed(int unused)
{
	struct shoal_runtime_options o = rt_opts(1, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	struct shoal_runtime_info info;
	pid_t relay;
	int64_t t0;

	(void)unused;
	if (!reg || shoal_runtime_start(reg, &o, &rt))
		return D_START;
	shoal_runtime_info(rt, &info, NULL, 0);
	relay = find_relay(info.fork_server_pid);
	if (!relay)
		return D_NO_RELAY;
	kill(relay, SIGKILL);
	if (!gone(relay))
		return D_NO_RELAY;
	/* the worker's line is lost (EPIPE), the worker and its task are not */
	if (say(rt, SAY_FLUSH) || say(rt, SAY_NOFLUSH) || say(rt, SAY_STDERR))
		return D_TASK;
	shoal_runtime_info(rt, &info, NULL, 0);
	if (info.workers_started != 1 || info.workers_died != 0)
		return D_REPLACED;
	t0 = tu_now_ms();
	if (shoal_runtime_shutdown(rt))
		return D_SHUTDOWN;
	shoal_registry_close(reg);
	return tu_now_ms() - t0 < 3000 ? D_OK : D_SLOW;
}

/* The relay is SIGSTOPped: shutdown still returns, and the relay, woken
 * by the SIGCONT the fork server's death sends it, leaves. */
static int driver_relay_stopped(int unused)
{
	struct shoal_runtime_options o = rt_opts(1, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	struct shoal_runtime_info info;
	pid_t relay;

	(void)unused;
	if (!reg || shoal_runtime_start(reg, &o, &rt))
		return D_START;
	shoal_runtime_info(rt, &info, NULL, 0);
	relay = find_relay(info.fork_server_pid);
	if (!relay)
		return D_NO_RELAY;
	kill(relay, SIGSTOP);
	if (shoal_runtime_shutdown(rt))
		return D_SHUTDOWN;
	shoal_registry_close(reg);
	return gone(relay) ? D_OK : D_RELAY_STAYS;
}

static int memfd(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	return fd;
}

/* The driver's stdout and stderr are out and err (memfds). */
static pid_t spawn_driver_to(int (*body)(int), int arg, int out, int err)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		_exit(body(arg));
	}
	return pid;
}

/* What a memfd holds, NUL-terminated (buf of cap bytes). */
static char *slurp(int fd, char *buf, size_t cap)
{
	ssize_t n = pread(fd, buf, cap - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

#define expect_in(hay, what, ...)                                              \
	do {                                                                   \
		char w_[256];                                                  \
		snprintf(w_, sizeof w_, __VA_ARGS__);                          \
		cr_assert_not_null(strstr(hay, w_), "%s lacks \"%s\":\n%s",    \
				   what, w_, hay);                             \
	} while (0)

Test(proc_identity, output_reaches_the_driver_line_by_line_with_a_prefix)
{
	static char o[1 << 16], e[1 << 16];
	int out = memfd("out"), err = memfd("err");
	const char *p;
	int wpid = 0, apid = 0;
	unsigned idx = 0;

	expect_driver(spawn_driver_to(driver_output, 0, out, err));
	slurp(out, o, sizeof o);
	slurp(err, e, sizeof e);
	p = strstr(o, "driver: worker=");
	cr_assert(p && sscanf(p, "driver: worker=%d", &wpid) == 1, "stdout:\n%s", o);
	p = strstr(o, "driver: actor=");
	cr_assert(p && sscanf(p, "driver: actor=%d index=%u", &apid, &idx) == 2,
		  "stdout:\n%s", o);
	expect_in(o, "stdout", "(pid=%d, worker 0) flushed line\n", wpid);
	expect_in(o, "stdout", "(pid=%d, worker 0) unflushed line\n", wpid);
	/* cut by the worker's death: flushed with a newline */
	expect_in(o, "stdout", "(pid=%d, worker 0) partial line\n", wpid);
	expect_in(e, "stderr", "(pid=%d, worker 0) a line to stderr\n", wpid);
	expect_in(o, "stdout", "(pid=%d, Printer#%u) an actor's line\n", apid, idx);
	cr_assert_null(strstr(e, "flushed line"), "stdout's line in stderr:\n%s", e);
}

Test(proc_identity, no_log_prefix_lets_children_write_directly)
{
	static char o[1 << 16], e[1 << 16];
	int out = memfd("out"), err = memfd("err");

	expect_driver(spawn_driver_to(driver_output, (int)SHOAL_RUNTIME_NO_LOG_PREFIX,
				      out, err));
	slurp(out, o, sizeof o);
	slurp(err, e, sizeof e);
	expect_in(o, "stdout", "\nflushed line\n");
	expect_in(o, "stdout", "\nunflushed line\n");
	expect_in(o, "stdout", "partial line");
	expect_in(o, "stdout", "an actor's line\n");
	expect_in(e, "stderr", "a line to stderr\n");
	cr_assert_null(strstr(o, "(pid="), "a prefix in stdout:\n%s", o);
	cr_assert_null(strstr(e, "(pid="), "a prefix in stderr:\n%s", e);
}

/* A line: "(pid=N, worker K) " and LONG_LEN times one letter; which. */
static char long_line(const char *l, size_t n)
{
	const char *body = memchr(l, ')', n);
	size_t len;

	if (strncmp(l, "(pid=", 5) || !body || body[1] != ' ')
		return 0;
	body += 2;
	len = n - (size_t)(body - l);
	if (len != LONG_LEN || (body[0] != 'A' && body[0] != 'B'))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (body[i] != body[0])
			return 0;
	return body[0];
}

Test(proc_identity, long_lines_of_two_workers_never_mix)
{
	static char o[4 << 20], e[1 << 16];
	int out = memfd("out"), err = memfd("err");
	int count[2] = {0, 0};
	char *l = o, *nl;

	expect_driver(spawn_driver_to(driver_long, 0, out, err));
	slurp(out, o, sizeof o);
	slurp(err, e, sizeof e);
	for (; (nl = strchr(l, '\n')) != NULL; l = nl + 1) {
		char c = long_line(l, (size_t)(nl - l));

		cr_assert(c, "a broken line at byte %td: \"%.80s...\"", l - o, l);
		count[c - 'A']++;
	}
	cr_assert_eq(*l, '\0', "a last line without newline");
	cr_assert_eq(count[0], LONG_LINES);
	cr_assert_eq(count[1], LONG_LINES);
	cr_assert_eq(e[0], '\0', "stderr: %s", e);
}

Test(proc_identity, a_killed_relay_costs_lines_not_a_worker)
{
	static char o[1 << 16], e[1 << 16];
	int out = memfd("out"), err = memfd("err");

	expect_driver(spawn_driver_to(driver_relay_killed, 0, out, err));
	slurp(out, o, sizeof o);
	slurp(err, e, sizeof e);
	/* What the worker wrote after the relay died went nowhere: not
	 * half a line, not a line without its prefix. */
	cr_assert_null(strstr(o, "flushed line"), "stdout:\n%s", o);
	cr_assert_null(strstr(o, "unflushed line"), "stdout:\n%s", o);
}

Test(proc_identity, a_stopped_relay_leaves_with_the_runtime)
{
	int out = memfd("out"), err = memfd("err");

	expect_driver(spawn_driver_to(driver_relay_stopped, 0, out, err));
	close(out);
	close(err);
}

/* A driver child: starts a named runtime, sends the fork server's and
 * the relay's pids down `out`, then waits to be killed. */
static void driver_waits(const char *name, int out)
{
	struct shoal_runtime_options o = rt_opts(1, name);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	struct shoal_runtime_info info;
	pid_t pids[2];

	if (!reg || shoal_runtime_start(reg, &o, &rt))
		_exit(D_START);
	shoal_runtime_info(rt, &info, NULL, 0);
	pids[0] = info.fork_server_pid;
	pids[1] = find_relay(pids[0]);
	if (write(out, pids, sizeof pids) != (ssize_t)sizeof pids)
		_exit(D_TASK);
	for (;;)
		pause();
}

Test(proc_identity, the_relay_goes_with_a_killed_driver)
{
	const char *name = tu_shm_name(NULL);
	pid_t drv, pids[2] = {0, 0};
	char buf[64];
	int p[2];

	tu_pipe(p);
	drv = tu_fork();
	if (drv == 0)
		driver_waits(name, p[1]);
	close(p[1]);
	/* the driver writes once, then waits: a read until its pids are in */
	cr_assert_eq(tu_read_all(p[0], buf, sizeof pids + 1), sizeof pids,
		     "the driver did not start");
	memcpy(pids, buf, sizeof pids);
	cr_assert(pids[0] > 0 && pids[1] > 0, "no relay");
	tu_kill(drv);
	cr_assert(gone(pids[0]), "the fork server outlived the driver");
	cr_assert(gone(pids[1]), "the relay outlived the driver");
	cr_assert_not(tu_shm_exists(name));
}

Test(proc_identity, the_relay_goes_with_a_killed_fork_server)
{
	struct shoal_runtime_options o = rt_opts(1, NULL);
	struct shoal_registry *reg = registry();
	struct shoal_runtime *rt = NULL;
	struct shoal_runtime_info info;
	pid_t relay;

	cr_assert_not_null(reg);
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	tu_assert_rc(shoal_runtime_info(rt, &info, NULL, 0), 0);
	relay = find_relay(info.fork_server_pid);
	cr_assert_gt(relay, 0);
	cr_assert_eq(kill(info.fork_server_pid, SIGKILL), 0);
	cr_assert(gone(relay), "the relay outlived the fork server");
	tu_assert_rc(shoal_runtime_shutdown(rt), SHOAL_EFORKSERVERDIED);
	shoal_registry_close(reg);
}
