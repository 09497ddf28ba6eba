/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/testutil.h - helpers shared by the criterion suites: segment
 * names and child processes that are cleaned up whatever happens to the
 * test, handshakes with children, small stores.  The helpers a process
 * without criterion may use too (the byte pattern, result codes as exit
 * codes) are in plain.h, included here.
 *
 * Criterion forks a process per test and runs two at once, so every named
 * segment is "/shoal-test-<runner pid>.<test pid>-<test name>[-tag]"
 * (tu_shm_name).  The names a test made are unlinked by the suite's .fini
 * (tu_teardown), which criterion runs after a failed assertion as well.
 * If the test process crashes instead (no .fini), the runner process
 * sweeps /dev/shm for its own prefix in a TEST_CRASH report hook and again
 * at POST_ALL (report hooks run in the runner, whose pid is the test
 * process's parent).
 *
 * Children are started with tu_fork() / tu_spawn_peer(): each one sets
 * PR_SET_PDEATHSIG(SIGKILL) (kept across execve) so it dies with the test
 * process even if that one crashes, and the test records its pid so that
 * tu_teardown kills and reaps any child still alive.  A forked child never
 * uses criterion's assertions: it reports through its exit code
 * (TU_CHILD_CHECK) and leaves with _exit().
 *
 * Every suite declares  TestSuite(<suite>, .init = tu_setup,
 * .fini = tu_teardown)  so that the fixture covers each of its tests.
 * This header defines the TEST_CRASH and POST_ALL report hooks: a suite
 * that includes it must not define those two hooks itself.
 */
#ifndef SHOAL_TESTUTIL_H
#define SHOAL_TESTUTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include <shoal/error.h>
#include <shoal/id.h>
#include <shoal/store.h>

#include "plain.h"

#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef STORE_PEER
#error "STORE_PEER must name the store_peer binary (tests/meson.build)"
#endif

#define TU_MAX_NAMES 16
#define TU_MAX_KIDS 16
#define TU_NAME_LEN 256
#define TU_SHM_PREFIX "shoal-test-"
/* How long a test waits for a child that should end on its own.  A child
 * that overruns it is a failure (a hang, a wait never satisfied), not a
 * flake: everything the children do takes milliseconds, or about a second
 * where a test waits for the store's own periodic reaping. */
#define TU_CHILD_DEADLINE_MS 8000
/* How soon a process blocked in a store wait must return after the event
 * that ends its wait (a seal, a drop, a release).  The store's waits
 * re-check on their own every second (SHOAL__WAIT_SLICE_MS, so that they
 * reap dead processes), so a lost wake-up costs up to a second, not the
 * wait's whole timeout: only a bound well under that second tells a real
 * wake-up from the periodic re-check.  A wake-up takes microseconds; the
 * bound leaves room for a loaded machine. */
#define TU_WAKE_LATENCY_MS 500

struct tu_state {
	pid_t owner; /* the test process; 0 outside a test */
	int nnames;
	char names[TU_MAX_NAMES][TU_NAME_LEN];
	int nkids;
	pid_t kids[TU_MAX_KIDS];
};

static struct tu_state tu;

/* A forked child's check: exit with `code` (never 0) if cond is false. */
#define TU_CHILD_CHECK(cond, code)                                             \
	do {                                                                   \
		if (!(cond))                                                   \
			_exit(code);                                           \
	} while (0)

static inline int64_t tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Unlinks every /dev/shm entry "shoal-test-<runner>.<pid>-<test>[-tag]"
 * whose runner is `runner` and, if test != NULL, whose test name is `test`. */
static inline void tu_sweep(pid_t runner, const char *test)
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

static inline void tu_setup(void)
{
	memset(&tu, 0, sizeof(tu));
	tu.owner = getpid();
	/* A peer that died must not kill the test through a write to its
	 * stdin: the write fails with EPIPE and the test reports it. */
	signal(SIGPIPE, SIG_IGN);
}

static inline void tu_untrack(pid_t pid)
{
	for (int i = 0; i < tu.nkids; i++) {
		if (tu.kids[i] == pid) {
			tu.kids[i] = tu.kids[--tu.nkids];
			return;
		}
	}
}

static inline void tu_teardown(void)
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

/* Registers a segment name for removal at teardown.  Returns the stored
 * copy. */
static inline const char *tu_track_name(const char *name)
{
	cr_assert(tu.owner == getpid(), "tu_setup did not run (TestSuite .init)");
	cr_assert_lt(tu.nnames, TU_MAX_NAMES);
	cr_assert_lt(strlen(name), (size_t)TU_NAME_LEN);
	strcpy(tu.names[tu.nnames], name);
	return tu.names[tu.nnames++];
}

/* Formats "/shoal-test-<runner>.<pid>-<test>" or ".../<test>-<tag>"
 * (the runner is the test process's parent, see tu_sweep). */
static inline void tu_format_name(const char *tag, char *buf, size_t len)
{
	snprintf(buf, len, "/" TU_SHM_PREFIX "%d.%d-%s%s%s", (int)getppid(),
		 (int)getpid(), criterion_current_test->name, tag ? "-" : "",
		 tag ? tag : "");
}

/* A segment name for this test (tu_format_name), registered for removal
 * at teardown. */
static inline const char *tu_shm_name(const char *tag)
{
	char buf[TU_NAME_LEN];

	tu_format_name(tag, buf, sizeof(buf));
	return tu_track_name(buf);
}

/* /dev/shm path of a segment name ("/x" or "x"). */
static inline void tu_shm_path(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "/dev/shm/%s", name[0] == '/' ? name + 1 : name);
}

static inline bool tu_shm_exists(const char *name)
{
	char path[TU_NAME_LEN + 16];
	struct stat st;

	tu_shm_path(name, path, sizeof(path));
	return stat(path, &st) == 0;
}

static inline void tu_pipe(int p[2])
{
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0, "pipe2: %s", strerror(errno));
}

/*
 * fork() for a test: returns 0 in the child, the pid in the test process.
 * The child dies with the test process (PR_SET_PDEATHSIG, re-checked
 * against getppid() to close the race with an early death) and owns no
 * names or children of the test.  The child must leave with _exit().
 */
static inline pid_t tu_fork(void)
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

/* Waits up to timeout_ms for the child to end and reaps it; the wait
 * status, or -1 if it is still running at the deadline (it stays tracked,
 * so teardown kills it).  The child's end is observed through a pidfd. */
static inline int tu_wait_status(pid_t pid, int timeout_ms)
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

/* Waits for a child that must exit on its own within the deadline, and
 * returns its exit code (fails the test on a signal or a hang). */
static inline int tu_wait_exit(pid_t pid)
{
	int st = tu_wait_status(pid, TU_CHILD_DEADLINE_MS);

	cr_assert_neq(st, -1, "child %d still running after %d ms", (int)pid,
		      TU_CHILD_DEADLINE_MS);
	cr_assert(WIFEXITED(st), "child %d did not exit (signal %d)", (int)pid,
		  WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return WEXITSTATUS(st);
}

/* Waits for a child and returns its result as a shoal code (see
 * tu_err_to_exit); exit codes without a mapping come back positive. */
static inline int tu_wait_result(pid_t pid)
{
	return tu_exit_to_err(tu_wait_exit(pid));
}

/* SIGKILLs a child and reaps it: when this returns the process is dead and
 * gone from the pid table. */
static inline void tu_kill(pid_t pid)
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

/* Reads one byte, waiting up to timeout_ms; fails the test on EOF or at
 * the deadline.  This is the handshake: a child writes a byte when it
 * reached a point of its script. */
static inline char tu_read_byte(int fd, int timeout_ms)
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

static inline void tu_write_byte(int fd, char c)
{
	ssize_t n;

	do
		n = write(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	cr_assert_eq(n, 1, "handshake write: %s", strerror(errno));
}

/* Child side of the handshake: no assertions. */
static inline void tu_child_write_byte(int fd, char c)
{
	ssize_t n;

	do
		n = write(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(TU_EXIT_IO);
}

/* Child side: sends the time (tu_now_ns) at which something happened. */
static inline void tu_child_write_time(int fd)
{
	int64_t t = tu_now_ns();

	if (write(fd, &t, sizeof(t)) != (ssize_t)sizeof(t))
		_exit(TU_EXIT_IO);
}

static inline char tu_child_read_byte(int fd)
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

/*
 * Waits (bounded) until the child is asleep in a futex wait, the way a
 * shoal wait sleeps (DESIGN.md, "Waiting": spin briefly, then sleep on a
 * shared futex).  A handshake byte can only say "about to wait"; this tells
 * the test that the wait has really begun, so that the wake-up it triggers
 * next is a real wake-up and not a first check that already succeeds.  It
 * observes the kernel's view of the child (/proc/<pid>/stat state 'S' and
 * /proc/<pid>/syscall at a futex call); it never stands in for an event.
 * Returns false if the child ended or did not sleep before the deadline.
 */
static inline bool tu_wait_sleeping(pid_t pid, int timeout_ms)
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

/*
 * Starts program prog (fork + execv) with argv (argv[0] is set here; the
 * list ends with NULL).  Its stdin and stdout are pipes: *to_peer writes
 * to its stdin, *from_peer reads its stdout (either may be NULL: the end is
 * then closed).  Extra fds the peer needs (a store's fd) must be open
 * without FD_CLOEXEC in the caller.
 */
static inline pid_t tu_spawn_prog(const char *prog, const char *const *args,
				  int *to_peer, int *from_peer)
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

/* tu_spawn_prog of store_peer. */
static inline pid_t tu_spawn_peer(const char *const *args, int *to_peer,
				  int *from_peer)
{
	return tu_spawn_prog(STORE_PEER, args, to_peer, from_peer);
}

/* An exec'd store_peer running `cmd` on id in the segment `seg`; its
 * result (tu_wait_result). */
static inline int tu_peer_on(const char *cmd, const char *seg, shoal_id id)
{
	char h[SHOAL_ID_HEX_LEN + 1];
	pid_t p;

	shoal_id_format(id, h);
	p = tu_spawn_peer((const char *[]){cmd, seg, h, NULL}, NULL, NULL);
	return tu_wait_result(p);
}

/* Reads a time a child sent with tu_child_write_time. */
static inline int64_t tu_read_time(int fd)
{
	int64_t t;
	char *p = (char *)&t;

	for (size_t i = 0; i < sizeof(t); i++)
		p[i] = tu_read_byte(fd, TU_CHILD_DEADLINE_MS);
	return t;
}

/* Asserts that a wait that ended at `woke` (tu_now_ns, in the waiter)
 * ended within TU_WAKE_LATENCY_MS of `event` (tu_now_ns, taken just
 * before the event). */
#define tu_assert_woken(woke, event, what)                                     \
	do {                                                                   \
		int64_t tu_lat_ = ((woke) - (event)) / 1000000;                \
		cr_assert_lt(tu_lat_, TU_WAKE_LATENCY_MS,                      \
			     "%s returned %" PRId64 " ms after the event "     \
			     "(lost wake-up?)",                                \
			     what, tu_lat_);                                   \
	} while (0)

/* Reads everything a child writes until EOF into buf (NUL-terminated). */
static inline size_t tu_read_all(int fd, char *buf, size_t cap)
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

/* An fd of the store's segment that an exec'd peer inherits, and the
 * "fd:<n>" argument that names it.  Close the fd after the spawn. */
static inline int tu_peer_fd(struct shoal_store *s, char *arg, size_t len)
{
	int fd = fcntl(shoal_store_fd(s), F_DUPFD, 3); /* no FD_CLOEXEC */

	cr_assert_geq(fd, 0, "dup: %s", strerror(errno));
	snprintf(arg, len, "fd:%d", fd);
	return fd;
}

/* Options for a small store: capacity in bytes, other sizes small enough
 * that creating a store costs little. */
static inline struct shoal_store_options tu_opts(uint64_t capacity)
{
	struct shoal_store_options o;

	shoal_store_options_init(&o);
	o.capacity = capacity;
	o.max_objects = 4096;
	o.max_procs = 16;
	o.ledger_slots = 4096;
	return o;
}

/* A private (memfd) store with tu_opts(capacity). */
static inline struct shoal_store *tu_store(uint64_t capacity)
{
	struct shoal_store_options o = tu_opts(capacity);
	struct shoal_store *s = NULL;
	int r = shoal_store_create(NULL, &o, &s);

	cr_assert_eq(r, 0, "shoal_store_create: %d (%s)", r, shoal_strerror(r));
	cr_assert_not_null(s);
	return s;
}

/* A named store with tu_opts(capacity); *name receives its name. */
static inline struct shoal_store *tu_named_store(uint64_t capacity,
						 const char **name)
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

static inline struct shoal_store_stats tu_stats(struct shoal_store *s)
{
	struct shoal_store_stats st;
	int r;

	memset(&st, 0xa5, sizeof(st));
	r = shoal_store_stats(s, &st);
	cr_assert_eq(r, 0, "shoal_store_stats: %d (%s)", r, shoal_strerror(r));
	return st;
}

/* Puts `size` bytes of the pattern for `seed` under id (no metadata) and
 * returns the put's result. */
static inline int tu_put(struct shoal_store *s, shoal_id id, size_t size,
			 uint64_t seed, int timeout_ms)
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

/* create + fill with the pattern + seal, in place: the creator's path. */
static inline int tu_create_sealed(struct shoal_store *s, shoal_id id,
				   size_t size, uint64_t seed, int timeout_ms)
{
	void *data = NULL;
	int r = shoal_create(s, id, size, NULL, 0, timeout_ms, &data);

	if (r != 0)
		return r;
	tu_fill(data, size, seed);
	return shoal_seal(s, id);
}

/* Gets id (timeout 0) and checks its bytes against the pattern; 0, the
 * get's error, or TU_EXIT_MISMATCH.  Releases the view.  Usable in
 * children (no assertions). */
static inline int tu_get_check(struct shoal_store *s, shoal_id id,
			       size_t size, uint64_t seed, int timeout_ms)
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

/* printf into buf; a separate function so that an empty format (no
 * context given to tu_assert_rc) draws no format warning. */
static inline void tu_ctx(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* Asserts that a call returned `want`, naming both codes on failure;
 * optional printf-style context after `want`. */
#define tu_assert_rc(got, want, ...)                                           \
	do {                                                                   \
		int tu_g_ = (got), tu_w_ = (want);                             \
		char tu_c_[160];                                               \
		if (tu_g_ != tu_w_)                                            \
			tu_ctx(tu_c_, sizeof(tu_c_), "" __VA_ARGS__);          \
		cr_assert_eq(tu_g_, tu_w_,                                     \
			     "%s%s%s: got %d (%s), want %d (%s)",              \
			     tu_g_ != tu_w_ ? tu_c_ : "",                      \
			     tu_g_ != tu_w_ && tu_c_[0] ? ": " : "", #got,     \
			     tu_g_, shoal_strerror(tu_g_), tu_w_,              \
			     shoal_strerror(tu_w_));                           \
	} while (0)

/* Finds id in a shoal_list snapshot; the index or -1. */
static inline int tu_find(const struct shoal_object_info *infos, int n,
			  shoal_id id)
{
	for (int i = 0; i < n; i++)
		if (shoal_id_eq(infos[i].id, id))
			return i;
	return -1;
}

/* The list entry of id (asserts it is listed). */
static inline struct shoal_object_info tu_info(struct shoal_store *s,
					       shoal_id id)
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

/* True if id is in the list (live: created, sealed or being deleted). */
static inline bool tu_listed(struct shoal_store *s, shoal_id id)
{
	static struct shoal_object_info infos[4096];
	int n = shoal_list(s, infos, 4096);

	cr_assert_geq(n, 0, "shoal_list: %d (%s)", n, shoal_strerror(n));
	cr_assert_leq(n, 4096);
	return tu_find(infos, n, id) >= 0;
}

#endif /* SHOAL_TESTUTIL_H */
