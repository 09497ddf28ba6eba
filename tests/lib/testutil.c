/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/testutil.c - the helpers of testutil.h: the fixture and the
 * runner's report hooks, segment names, children, handshakes, stores.
 *
 * One process-wide record of the running test (`tu`): the names it made
 * and the children it started, for tu_teardown.  A forked child starts
 * with an empty one (tu_fork), so that it never removes what the test
 * owns.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include "testutil.h"

struct tu_state {
	pid_t owner; /* the test process; 0 outside a test */
	int nnames;
	char names[TU_MAX_NAMES][TU_NAME_LEN];
	int nkids;
	pid_t kids[TU_MAX_KIDS];
};

static struct tu_state tu;

int64_t tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Unlinks every /dev/shm entry "shoal-test-<runner>.<pid>-<test>[-tag]"
 * whose runner is `runner` and, if test != NULL, whose test name is `test`. */
static void tu_sweep(pid_t runner, const char *test)
{
	char prefix[64];
	size_t plen;
	DIR *d = opendir("/dev/shm");
	struct dirent *e;

	if (d == NULL)
		return;
	snprintf(prefix, sizeof(prefix), TU_SHM_PREFIX "%d.", (int)runner);
	plen = strlen(prefix);
	while ((e = readdir(d)) != NULL) {
		const char *rest, *dash;

		if (strncmp(e->d_name, prefix, plen) != 0)
			continue;
		rest = e->d_name + plen;
		dash = strchr(rest, '-');
		if (dash == NULL)
			continue;
		if (test != NULL) {
			size_t tl = strlen(test);

			if (strncmp(dash + 1, test, tl) != 0 ||
			    (dash[1 + tl] != '\0' && dash[1 + tl] != '-'))
				continue;
		}
		unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

/* Runner side (report hooks run in the runner process). */
ReportHook(TEST_CRASH)(struct criterion_test_stats *stats)
{
	tu_sweep(getpid(), stats->test->name);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	tu_sweep(getpid(), NULL);
}

void tu_setup(void)
{
	memset(&tu, 0, sizeof(tu));
	tu.owner = getpid();
	/* A peer that died must not kill the test through a write to its
	 * stdin: the write fails with EPIPE and the test reports it. */
	signal(SIGPIPE, SIG_IGN);
}

void tu_untrack(pid_t pid)
{
	for (int i = 0; i < tu.nkids; i++) {
		if (tu.kids[i] == pid) {
			tu.kids[i] = tu.kids[--tu.nkids];
			return;
		}
	}
}

void tu_teardown(void)
{
	if (tu.owner != getpid())
		_exit(TU_EXIT_ASSERT); /* a child ran an assertion: never here */
	for (int i = 0; i < tu.nkids; i++) {
		kill(tu.kids[i], SIGKILL);
		while (waitpid(tu.kids[i], NULL, 0) < 0 && errno == EINTR)
			;
	}
	tu.nkids = 0;
	for (int i = 0; i < tu.nnames; i++)
		shm_unlink(tu.names[i]);
	tu.nnames = 0;
}

const char *tu_track_name(const char *name)
{
	cr_assert(tu.owner == getpid(), "tu_setup did not run (TestSuite .init)");
	cr_assert_lt(tu.nnames, TU_MAX_NAMES);
	cr_assert_lt(strlen(name), (size_t)TU_NAME_LEN);
	strcpy(tu.names[tu.nnames], name);
	return tu.names[tu.nnames++];
}

void tu_format_name(const char *tag, char *buf, size_t len)
{
	snprintf(buf, len, "/" TU_SHM_PREFIX "%d.%d-%s%s%s", (int)getppid(),
		 (int)getpid(), criterion_current_test->name, tag ? "-" : "",
		 tag ? tag : "");
}

const char *tu_shm_name(const char *tag)
{
	char buf[TU_NAME_LEN];

	tu_format_name(tag, buf, sizeof(buf));
	return tu_track_name(buf);
}

void tu_shm_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
}

bool tu_shm_exists(const char *name)
{
	char path[TU_NAME_LEN + 16];
	struct stat st;

	tu_shm_path(name, path, sizeof(path));
	return stat(path, &st) == 0;
}

void tu_pipe(int p[2])
{
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0, "pipe2: %s", strerror(errno));
}

pid_t tu_fork(void)
{
	pid_t parent = getpid();
	pid_t pid;

	cr_assert_lt(tu.nkids, TU_MAX_KIDS);
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
		    getppid() != parent)
			_exit(TU_EXIT_ORPHAN);
		tu.nnames = 0;
		tu.nkids = 0;
		return 0;
	}
	tu.kids[tu.nkids++] = pid;
	return pid;
}

int tu_wait_status(pid_t pid, int timeout_ms)
{
	int status = 0;
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	pid_t r;

	if (pfd >= 0) {
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		int64_t deadline = tu_now_ms() + timeout_ms;
		int n;

		do {
			int64_t left = deadline - tu_now_ms();

			n = poll(&p, 1, left > 0 ? (int)left : 0);
		} while (n < 0 && errno == EINTR);
		close(pfd);
		if (n == 0)
			return -1;
		while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
			;
	} else {
		/* No pidfd: a bounded poll for the child's death. */
		int64_t deadline = tu_now_ms() + timeout_ms;
		struct timespec ms = {0, 1000000};

		while ((r = waitpid(pid, &status, WNOHANG)) == 0) {
			if (tu_now_ms() >= deadline)
				return -1;
			nanosleep(&ms, NULL);
		}
	}
	cr_assert_eq(r, pid, "waitpid(%d): %s", (int)pid, strerror(errno));
	tu_untrack(pid);
	return status;
}

int tu_wait_exit(pid_t pid)
{
	int st = tu_wait_status(pid, TU_CHILD_DEADLINE_MS);

	cr_assert_neq(st, -1, "child %d still running after %d ms", (int)pid,
		      TU_CHILD_DEADLINE_MS);
	cr_assert(WIFEXITED(st), "child %d did not exit (signal %d)", (int)pid,
		  WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return WEXITSTATUS(st);
}

int tu_wait_result(pid_t pid)
{
	return tu_exit_to_err(tu_wait_exit(pid));
}

void tu_kill(pid_t pid)
{
	int st;

	cr_assert_eq(kill(pid, SIGKILL), 0, "kill(%d): %s", (int)pid,
		     strerror(errno));
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	tu_untrack(pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		  "child %d ended before it was killed (status %#x)", (int)pid,
		  st);
}

char tu_read_byte(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;
	ssize_t n;
	int r;

	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	cr_assert_eq(r, 1, "no handshake byte within %d ms", timeout_ms);
	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	cr_assert_eq(n, 1, "handshake pipe closed (child died?)");
	return c;
}

void tu_write_byte(int fd, char c)
{
	ssize_t n;

	do
		n = write(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	cr_assert_eq(n, 1, "handshake write: %s", strerror(errno));
}

void tu_child_write_byte(int fd, char c)
{
	ssize_t n;

	do
		n = write(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(TU_EXIT_IO);
}

void tu_child_write_time(int fd)
{
	int64_t t = tu_now_ns();

	if (write(fd, &t, sizeof(t)) != (ssize_t)sizeof(t))
		_exit(TU_EXIT_IO);
}

char tu_child_read_byte(int fd)
{
	char c;
	ssize_t n;

	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(TU_EXIT_IO);
	return c;
}

bool tu_wait_sleeping(pid_t pid, int timeout_ms)
{
	int64_t deadline = tu_now_ms() + timeout_ms;
	struct timespec tick = {0, 200000};
	char path[64], buf[512];

	for (;;) {
		bool asleep = false, in_futex = false, syscall_known = true;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		f = fopen(path, "r");
		if (f == NULL)
			return false;
		if (fgets(buf, sizeof(buf), f) != NULL) {
			const char *rp = strrchr(buf, ')');

			if (rp == NULL || rp[1] == '\0' || rp[2] == 'Z' ||
			    rp[2] == 'X') {
				fclose(f);
				return false;
			}
			asleep = rp[2] == 'S';
		}
		fclose(f);

		snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
		f = fopen(path, "r");
		if (f == NULL) {
			syscall_known = false;
		} else {
			long nr = -1;

			if (fscanf(f, "%ld", &nr) == 1) {
				in_futex = nr == SYS_futex;
#ifdef SYS_futex_waitv
				in_futex = in_futex || nr == SYS_futex_waitv;
#endif
#ifdef SYS_futex_wait
				in_futex = in_futex || nr == SYS_futex_wait;
#endif
			} else {
				syscall_known = false; /* "running" */
			}
			fclose(f);
		}
		if (asleep && (in_futex || !syscall_known))
			return true;
		if (tu_now_ms() >= deadline)
			return false;
		nanosleep(&tick, NULL);
	}
}

pid_t tu_spawn_prog(const char *prog, const char *const *args, int *to_peer,
		    int *from_peer)
{
	char *argv[16];
	int in[2], out[2];
	int n = 0;
	pid_t pid;

	argv[n++] = (char *)prog;
	for (; args[n - 1] != NULL; n++) {
		cr_assert_lt(n, 15);
		argv[n] = (char *)args[n - 1];
	}
	argv[n] = NULL;
	tu_pipe(in);
	tu_pipe(out);
	pid = tu_fork();
	if (pid == 0) {
		/* an output nobody reads goes to /dev/null, not to a closed
		 * pipe (the peer's writes would fail) */
		int o = from_peer ? out[1] : open("/dev/null", O_WRONLY);

		if (o < 0 || dup2(in[0], 0) < 0 || dup2(o, 1) < 0)
			_exit(TU_EXIT_IO);
		execv(prog, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (to_peer)
		*to_peer = in[1];
	else
		close(in[1]);
	if (from_peer)
		*from_peer = out[0];
	else
		close(out[0]);
	return pid;
}

int64_t tu_read_time(int fd)
{
	int64_t t;
	char *p = (char *)&t;

	for (size_t i = 0; i < sizeof(t); i++)
		p[i] = tu_read_byte(fd, TU_CHILD_DEADLINE_MS);
	return t;
}

size_t tu_read_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	while (n + 1 < cap) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t r;
		int pr = poll(&p, 1, TU_CHILD_DEADLINE_MS);

		if (pr < 0 && errno == EINTR)
			continue;
		cr_assert_eq(pr, 1, "child output: nothing within %d ms",
			     TU_CHILD_DEADLINE_MS);
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		cr_assert_geq(r, 0, "read: %s", strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return n;
}

int tu_peer_fd(struct shoal_store *s, char *arg, size_t len)
{
	int fd = fcntl(shoal_store_fd(s), F_DUPFD, 3); /* no FD_CLOEXEC */

	cr_assert_geq(fd, 0, "dup: %s", strerror(errno));
	snprintf(arg, len, "fd:%d", fd);
	return fd;
}

struct shoal_store_options tu_opts(uint64_t capacity)
{
	struct shoal_store_options o;

	shoal_store_options_init(&o);
	o.capacity = capacity;
	o.max_objects = 4096;
	o.max_procs = 16;
	o.ledger_slots = 4096;
	return o;
}

struct shoal_store *tu_store(uint64_t capacity)
{
	struct shoal_store_options o = tu_opts(capacity);
	struct shoal_store *s = NULL;
	int r = shoal_store_create(NULL, &o, &s);

	cr_assert_eq(r, 0, "shoal_store_create: %d (%s)", r, shoal_strerror(r));
	cr_assert_not_null(s);
	return s;
}

struct shoal_store *tu_named_store(uint64_t capacity, const char **name)
{
	struct shoal_store_options o = tu_opts(capacity);
	struct shoal_store *s = NULL;
	const char *n = tu_shm_name(NULL);
	int r = shoal_store_create(n, &o, &s);

	cr_assert_eq(r, 0, "shoal_store_create(%s): %d (%s)", n, r,
		     shoal_strerror(r));
	cr_assert_not_null(s);
	*name = n;
	return s;
}

struct shoal_store_stats tu_stats(struct shoal_store *s)
{
	struct shoal_store_stats st;
	int r;

	memset(&st, 0xa5, sizeof(st));
	r = shoal_store_stats(s, &st);
	cr_assert_eq(r, 0, "shoal_store_stats: %d (%s)", r, shoal_strerror(r));
	return st;
}

int tu_put(struct shoal_store *s, shoal_id id, size_t size, uint64_t seed,
	   int timeout_ms)
{
	void *buf = malloc(size ? size : 1);
	int r;

	if (buf == NULL)
		return -ENOMEM;
	tu_fill(buf, size, seed);
	r = shoal_put_with_id(s, id, buf, size, NULL, 0, timeout_ms);
	free(buf);
	return r;
}

int tu_create_sealed(struct shoal_store *s, shoal_id id, size_t size,
		     uint64_t seed, int timeout_ms)
{
	void *data = NULL;
	int r = shoal_create(s, id, size, NULL, 0, timeout_ms, &data);

	if (r != 0)
		return r;
	tu_fill(data, size, seed);
	return shoal_seal(s, id);
}

int tu_get_check(struct shoal_store *s, shoal_id id, size_t size,
		 uint64_t seed, int timeout_ms)
{
	struct shoal_view v;
	int r = shoal_get(s, id, timeout_ms, &v);
	bool ok;

	if (r != 0)
		return r;
	ok = v.size == size && tu_check(v.data, v.size, seed) &&
	     shoal_id_eq(v.id, id);
	r = shoal_release(s, &v);
	if (!ok)
		return TU_EXIT_MISMATCH;
	return r;
}

int tu_get_i64_check(struct shoal_store *s, shoal_id id, int64_t want,
		     int timeout_ms)
{
	struct shoal_view v;
	int64_t got = 0;
	int r = shoal_get(s, id, timeout_ms, &v);
	bool ok;

	if (r != 0)
		return r;
	ok = v.size == sizeof got;
	if (ok)
		memcpy(&got, v.data, sizeof got);
	r = shoal_release(s, &v);
	if (!ok || got != want)
		return TU_EXIT_MISMATCH;
	return r;
}

void tu_ctx(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

int tu_find(const struct shoal_object_info *infos, int n, shoal_id id)
{
	for (int i = 0; i < n; i++)
		if (shoal_id_eq(infos[i].id, id))
			return i;
	return -1;
}

struct shoal_object_info tu_info(struct shoal_store *s, shoal_id id)
{
	static struct shoal_object_info infos[4096];
	int n = shoal_list(s, infos, 4096);
	int i;

	cr_assert_geq(n, 0, "shoal_list: %d (%s)", n, shoal_strerror(n));
	cr_assert_leq(n, 4096);
	i = tu_find(infos, n, id);
	cr_assert_geq(i, 0, "object %016" PRIx64 "%016" PRIx64 " not listed",
		      id.hi, id.lo);
	return infos[i];
}

bool tu_listed(struct shoal_store *s, shoal_id id)
{
	static struct shoal_object_info infos[4096];
	int n = shoal_list(s, infos, 4096);

	cr_assert_geq(n, 0, "shoal_list: %d (%s)", n, shoal_strerror(n));
	cr_assert_leq(n, 4096);
	return tu_find(infos, n, id) >= 0;
}

pid_t tu_orphaning_child(struct shoal_store *s, shoal_id id, int ready_fd)
{
	pid_t pid = tu_fork();

	if (pid == 0) {
		struct shoal_store *c = NULL;
		void *data = NULL;

		TU_CHILD_CHECK(shoal_store_attach_fd(shoal_store_fd(s), &c) == 0, 2);
		TU_CHILD_CHECK(shoal_create(c, id, 100, NULL, 0, 0, &data) == 0, 3);
		TU_CHILD_CHECK(shoal_drop(c, id) == 0, 4);
		tu_child_write_byte(ready_fd, 'k');
		for (;;)
			pause();
	}
	return pid;
}
