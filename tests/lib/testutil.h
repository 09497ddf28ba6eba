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
 * testutil.c defines the TEST_CRASH and POST_ALL report hooks (testlib
 * is linked whole so that they are in every suite): a suite must not
 * define those two hooks itself.
 *
 * The helpers may assert (criterion allows it in a function a test
 * calls), except those marked "child side" or "no assertions", which a
 * forked child may use.
 */
#ifndef SHOAL_TESTUTIL_H
#define SHOAL_TESTUTIL_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

#include <criterion/criterion.h>

/* Not for the declarations below: the suites have always had these
 * through this header, and use them. */
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

#include <shoal/error.h>
#include <shoal/id.h>
#include <shoal/store.h>

#include "plain.h"

#define TU_MAX_NAMES 16
#define TU_MAX_KIDS 160 /* 100 attached programs at once (runtime_walls) */
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

/* A forked child's check: exit with `code` (never 0) if cond is false. */
#define TU_CHILD_CHECK(cond, code)                                             \
	do {                                                                   \
		if (!(cond))                                                   \
			_exit(code);                                           \
	} while (0)

/* CLOCK_MONOTONIC in ms. */
int64_t tu_now_ms(void);

/* ------------------------------------------------------------------ */
/* The fixture: TestSuite(<suite>, .init = tu_setup, .fini = tu_teardown) */

/* Starts a test: no names, no children yet; SIGPIPE ignored. */
void tu_setup(void);

/* Ends a test: kills and reaps the children still tracked, unlinks the
 * names registered. */
void tu_teardown(void);

/* ------------------------------------------------------------------ */
/* Segment names                                                       */

/* Registers a segment name for removal at teardown.  Returns the stored
 * copy. */
const char *tu_track_name(const char *name);

/* Formats "/shoal-test-<runner>.<pid>-<test>" or ".../<test>-<tag>"
 * (the runner is the test process's parent). */
void tu_format_name(const char *tag, char *buf, size_t len);

/* A segment name for this test (tu_format_name), registered for removal
 * at teardown. */
const char *tu_shm_name(const char *tag);

/* /dev/shm path of a segment name ("/x" or "x"). */
void tu_shm_path(const char *name, char *buf, size_t len);

/* True if the segment name is in /dev/shm. */
bool tu_shm_exists(const char *name);

/* ------------------------------------------------------------------ */
/* Children                                                            */

/* pipe2(O_CLOEXEC), asserted. */
void tu_pipe(int p[2]);

/*
 * fork() for a test: returns 0 in the child, the pid in the test process.
 * The child dies with the test process (PR_SET_PDEATHSIG, re-checked
 * against getppid() to close the race with an early death) and owns no
 * names or children of the test.  The child must leave with _exit().
 */
pid_t tu_fork(void);

/* Stops tracking a child (teardown will not kill it): for a child the
 * test reaped itself. */
void tu_untrack(pid_t pid);

/* Waits up to timeout_ms for the child to end and reaps it; the wait
 * status, or -1 if it is still running at the deadline (it stays tracked,
 * so teardown kills it).  The child's end is observed through a pidfd. */
int tu_wait_status(pid_t pid, int timeout_ms);

/* Waits for a child that must exit on its own within the deadline, and
 * returns its exit code (fails the test on a signal or a hang). */
int tu_wait_exit(pid_t pid);

/* Waits for a child and returns its result as a shoal code (see
 * tu_err_to_exit); exit codes without a mapping come back positive. */
int tu_wait_result(pid_t pid);

/* SIGKILLs a child and reaps it: when this returns the process is dead and
 * gone from the pid table. */
void tu_kill(pid_t pid);

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
bool tu_wait_sleeping(pid_t pid, int timeout_ms);

/* ------------------------------------------------------------------ */
/* Handshakes                                                          */

/* Reads one byte, waiting up to timeout_ms; fails the test on EOF or at
 * the deadline.  This is the handshake: a child writes a byte when it
 * reached a point of its script. */
char tu_read_byte(int fd, int timeout_ms);

/* Writes one byte, asserted. */
void tu_write_byte(int fd, char c);

/* Child side of the handshake: no assertions (_exit(TU_EXIT_IO)). */
void tu_child_write_byte(int fd, char c);

/* A forked child (tu_fork) that attaches to s, creates id (100 bytes),
 * never seals it and drops its hold (an orphan: only a scan of the whole
 * directory finds it, store/proc.c step 5), writes 'k' to ready_fd and
 * blocks until killed. */
pid_t tu_orphaning_child(struct shoal_store *s, shoal_id id, int ready_fd);

/* Child side: sends the time (tu_now_ns) at which something happened. */
void tu_child_write_time(int fd);

/* Child side: reads one byte, waiting for ever. */
char tu_child_read_byte(int fd);

/* Reads a time a child sent with tu_child_write_time. */
int64_t tu_read_time(int fd);

/* Reads everything a child writes until EOF into buf (NUL-terminated). */
size_t tu_read_all(int fd, char *buf, size_t cap);

/* ------------------------------------------------------------------ */
/* Programs: store_peer and others (fork + exec)                       */

/*
 * Starts program prog (fork + execv) with argv (argv[0] is set here; the
 * list ends with NULL).  Its stdin and stdout are pipes: *to_peer writes
 * to its stdin, *from_peer reads its stdout (either may be NULL: the end is
 * then closed).  Extra fds the peer needs (a store's fd) must be open
 * without FD_CLOEXEC in the caller.
 */
pid_t tu_spawn_prog(const char *prog, const char *const *args, int *to_peer,
		    int *from_peer);

/* An fd of the store's segment that an exec'd peer inherits, and the
 * "fd:<n>" argument that names it.  Close the fd after the spawn. */
int tu_peer_fd(struct shoal_store *s, char *arg, size_t len);

/* The two that start store_peer are inline, and only where STORE_PEER
 * names its binary: the suites' builds define it (tests/meson.build),
 * testlib's does not. */
#ifdef STORE_PEER

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
#endif /* STORE_PEER */

/* ------------------------------------------------------------------ */
/* Stores and objects                                                  */

/* Options for a small store: capacity in bytes, other sizes small enough
 * that creating a store costs little. */
struct shoal_store_options tu_opts(uint64_t capacity);

/* A private (memfd) store with tu_opts(capacity). */
struct shoal_store *tu_store(uint64_t capacity);

/* A named store with tu_opts(capacity); *name receives its name. */
struct shoal_store *tu_named_store(uint64_t capacity, const char **name);

/* shoal_store_stats, asserted. */
struct shoal_store_stats tu_stats(struct shoal_store *s);

/* Puts `size` bytes of the pattern for `seed` under id (no metadata) and
 * returns the put's result. */
int tu_put(struct shoal_store *s, shoal_id id, size_t size, uint64_t seed,
	   int timeout_ms);

/* create + fill with the pattern + seal, in place: the creator's path. */
int tu_create_sealed(struct shoal_store *s, shoal_id id, size_t size,
		     uint64_t seed, int timeout_ms);

/* Gets id (timeout 0) and checks its bytes against the pattern; 0, the
 * get's error, or TU_EXIT_MISMATCH.  Releases the view.  Usable in
 * children (no assertions). */
int tu_get_check(struct shoal_store *s, shoal_id id, size_t size,
		 uint64_t seed, int timeout_ms);

/* Gets id (waiting up to timeout_ms) and checks that it is the 8 bytes
 * of want; 0, the get's error, or TU_EXIT_MISMATCH.  Releases the view.
 * Usable in children (no assertions). */
int tu_get_i64_check(struct shoal_store *s, shoal_id id, int64_t want,
		     int timeout_ms);

/* Finds id in a shoal_list snapshot; the index or -1. */
int tu_find(const struct shoal_object_info *infos, int n, shoal_id id);

/* The list entry of id (asserts it is listed). */
struct shoal_object_info tu_info(struct shoal_store *s, shoal_id id);

/* True if id is in the list (live: created, sealed or being deleted). */
bool tu_listed(struct shoal_store *s, shoal_id id);

/* ------------------------------------------------------------------ */
/* Assertions (macros: criterion reports the line of the caller)       */

/* printf into buf; a separate function so that an empty format (no
 * context given to tu_assert_rc) draws no format warning. */
void tu_ctx(char *buf, size_t len, const char *fmt, ...);

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

#endif /* SHOAL_TESTUTIL_H */
