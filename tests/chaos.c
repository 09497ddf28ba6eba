/* SPDX-License-Identifier: MIT */
/*
 * tests/chaos.c - random SIGKILLs under load: the check that the whole
 * holds together (issue 8, "the proof").  A plain main(): exit 0 when
 * every check held, 1 when one failed, 2 for bad usage.
 *
 *   chaos [--short]          20 s of load and kills (CI; the default)
 *   chaos --long N           until N kills (at least), then the checks
 *   chaos --duration S       S seconds
 *   --kill-all               also kill the fork server and the driver
 *   --kinds K,K,...          kill only these kinds (worker, actor,
 *                            attached, fork_server, driver)
 *   --kill-ms MIN,MAX        a kill every MIN..MAX ms (default 30,150)
 *   --margin MS              a call may overrun its timeout by this much
 *                            (default 1000)
 *   --seed N                 the load's and the killer's randomness
 *   --gdb                    at the first hang, never-resolved result or
 *                            leak, show every process's stacks (gdb)
 *   --keep-going             do not stop at the first hang
 *   -v                       print every kill
 * Known bugs that can hide others; each option steers the load around
 * one (see the report of issue 8 and the functions named):
 *   --cross-deps             allow calls on two actors from two programs
 *                            to take each other's results (dep_for)
 *   --no-result-args         calls take no unsealed results as arguments
 *                            (act_call)
 *   --no-parked              a task's ref argument is sealed before it
 *                            is submitted (sealed_first)
 *   --settle                 before the bytes check, submit until the
 *                            holds on done tasks' arguments are dropped
 *                            (driver_settle)
 *
 * Processes.  This program, started by the user, is the supervisor: it is
 * no part of any runtime, and it outlives everything it starts.  It makes
 * itself the child subreaper, so that every process of the run (the fork
 * server, double-forked away from the driver, and whatever that one
 * leaves) stays its descendant; it shares a board with the others (a
 * memfd, mapped MAP_SHARED; its fd is inherited across exec); and it runs
 * one runtime after another (an epoch each; one only without --kill-all):
 *  - the driver: this binary exec'd in the "driver" role.  It starts a
 *    named runtime (two workers, task functions "make" and "check", an
 *    actor class "Keeper" with a method "mix"), creates two named actors
 *    (k0 restarts without end, k1 not at all: it is created again after
 *    each death), publishes the runtime's pids on the board (what
 *    shoal_runtime_info and shoal_actor_info report) and runs the load;
 *  - two attached programs: this binary exec'd in the "attached" role,
 *    joining by name with shoal_runtime_attach, running the same load;
 *    the supervisor starts each again when it is killed;
 *  - the killer, a thread of the supervisor: at random intervals it
 *    SIGKILLs a random worker, actor or attached program, and with
 *    --kill-all also the fork server or the driver (which ends the epoch).
 *    A pid is killed only through a pidfd opened before its environment
 *    was checked for this epoch's marker (CHAOS_RUN=<run>.<epoch>, set
 *    when the supervisor execs the driver and the attached programs, and
 *    inherited by everything the runtime forks), so a stale pid never
 *    reaches another process.
 *
 * The load, in each of the three programs, one thread: puts of objects
 * that carry a checksum (a header with magic, size, seed, a hash of the
 * body and a hash of the header; the body is the seed's pattern), gets of
 * its own held objects and of objects the other programs put (their IDs
 * and seeds are on the board), views kept pinned for a while and checked
 * again before release, chains of tasks (make(seed) -> check(A's ref, a
 * put object) -> an actor call mix(B's ref)), actor calls with arguments,
 * and drops.  Every result's seed is known in advance, so every value is
 * checked to the byte.
 *
 * Checks (any failure is printed at once, with the program, pid and time):
 *  - every call returns within its timeout + margin (calls without a
 *    timeout: within PROMPT_MS).  The call itself measures it, and the
 *    supervisor watches every call in flight on the board (a watchdog), so
 *    a call that never returns is found as well; so is a program that made
 *    no progress for STALL_MS;
 *  - every object read checks out, every result has the value its
 *    arguments determine; a held object is always there (a get of it
 *    succeeds, its drop succeeds); an error a dead worker or actor left
 *    names SIGKILL, not a crash;
 *  - every result resolves (a value or an error) within RESULT_MS, and
 *    within DEAD_MS after the fork server or the driver was killed;
 *  - after the load, everything dropped and unheld objects evicted, the
 *    store's bytes_used is what it was after start;
 *  - at each epoch's end no process of the epoch and no /dev/shm file of
 *    it is left (the supervisor waits a bounded time, then cleans up and
 *    fails); at the end it has no child left at all.
 * The end: one JSON line on stdout (kills by kind, operations, errors by
 * code, max overrun, bytes_used before and after, failures).
 *
 * Waits.  Every wait here has a deadline: the supervisor's loop turns
 * every 10 ms and each of its waits (a program's start, end, an epoch's
 * cleanup) is bounded (START_MS, END_MS, EPOCH_CLEAN_MS); the run itself
 * ends after its seconds, or its kills, or MAX_RUN_S in any case.  The
 * programs' calls all carry timeouts or are watched (PROMPT_MS,
 * CREATE_MS); a program waiting for the supervisor (request_diag, the
 * driver waiting for the attached programs to end) gives up after a
 * bound.  The supervisor's own lateness is measured (LAG_MS): a call that
 * overran while the machine did not run the supervisor either (the two
 * vCPUs are shared) is counted as excused, not failed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
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

#include <shoal/shoal.h>

#include "plain.h"

extern char **environ;

/* ------------------------------------------------------------------ */
/* Settings                                                            */

#define NUM_WORKERS 2
#define STORE_CAPACITY (48u << 20)
#define MAX_ACTORS 8
#define MAX_OBJ (256u << 10)
#define MAX_HELD 24
#define MAX_PEND 24
#define MAX_PINS 4
#define NKEEPERS 2

#define PROMPT_MS 3000       /* calls with no timeout of their own */
#define CREATE_MS 11000      /* actor create: the fork server's reply
				(runtime/fsactor.c waits 10 s for it) */
#define STALL_MS 20000       /* no successful call for this long */
#define RESULT_MS 30000      /* a result resolves within this */
#define DEAD_MS 10000        /* ... after the fork server or driver died */
#define START_MS 30000       /* runtime start */
#define END_MS 45000         /* a program ends its load within this */
#define EPOCH_CLEAN_MS 15000 /* an epoch's processes and file go */
#define SHORT_SECONDS 20
#define MAX_RUN_S 7200       /* --long gives up after this */
#define DEFAULT_MARGIN_MS 1000
#define LAG_MS 250           /* the supervisor slept 10 ms, woke this late */
#define HANG_EXTRA_MS 5000   /* the watchdog: in flight bound + this */

#define CHAOS_EBADMSG (-EBADMSG) /* a task found a bad argument */

/* ------------------------------------------------------------------ */
/* Small things                                                        */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now_ms(void)
{
	return now_ns() / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static uint32_t rnd_below(uint64_t *s, uint32_t n)
{
	return n ? (uint32_t)(rnd(s) % n) : 0;
}

static int rnd_range(uint64_t *s, int lo, int hi)
{
	return lo + (int)rnd_below(s, (uint32_t)(hi - lo + 1));
}

static uint64_t mix2(uint64_t a, uint64_t b)
{
	return tu_splitmix(a ^ (b * 0x9e3779b97f4a7c15ull));
}

static void id_hex(shoal_id id, char *buf)
{
	shoal_id_format(id, buf);
}

/* ------------------------------------------------------------------ */
/* Checksummed objects                                                 */

#define OBJ_MAGIC 0x534f4843u /* "CHOS" */
#define OBJ_HDR 32u

struct obj_hdr {
	uint32_t magic;
	uint32_t size;      /* the whole object, header included */
	uint64_t seed;      /* the body is tu_fill(seed) */
	uint64_t body_hash;
	uint64_t hdr_hash;  /* of the 24 bytes before it */
};

_Static_assert(sizeof(struct obj_hdr) == OBJ_HDR, "header size");

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void obj_fill(void *buf, uint32_t size, uint64_t seed)
{
	struct obj_hdr h = {.magic = OBJ_MAGIC, .size = size, .seed = seed};
	uint8_t *p = buf;

	tu_fill(p + OBJ_HDR, size - OBJ_HDR, seed);
	h.body_hash = hash_bytes(p + OBJ_HDR, size - OBJ_HDR);
	h.hdr_hash = hash_bytes((const uint8_t *)&h, 24);
	memcpy(p, &h, sizeof h);
}

/* NULL if buf[0..n) is an intact object (its seed in *seed), else why. */
static const char *obj_check(const void *buf, size_t n, uint64_t *seed)
{
	const uint8_t *p = buf;
	struct obj_hdr h;

	if (!buf || n < OBJ_HDR)
		return "shorter than a header";
	memcpy(&h, p, sizeof h);
	if (h.magic != OBJ_MAGIC)
		return "bad magic";
	if (h.hdr_hash != hash_bytes(p, 24))
		return "header hash";
	if (h.size != n)
		return "size differs from its header";
	if (h.body_hash != hash_bytes(p + OBJ_HDR, n - OBJ_HDR))
		return "body hash";
	if (!tu_check(p + OBJ_HDR, n - OBJ_HDR, h.seed))
		return "body is not its seed's pattern";
	*seed = h.seed;
	return NULL;
}

static uint32_t pick_size(uint64_t *r)
{
	uint32_t k = rnd_below(r, 100);

	if (k < 60)
		return (uint32_t)rnd_range(r, OBJ_HDR, 1024);
	if (k < 92)
		return (uint32_t)rnd_range(r, 1025, 16384);
	return (uint32_t)rnd_range(r, 16385, MAX_OBJ);
}

/* ------------------------------------------------------------------ */
/* The board: shared by the supervisor and the programs it starts      */

enum op {
	OP_PUT, OP_GET, OP_GET_SHARED, OP_RELEASE, OP_SUBMIT, OP_CALL,
	OP_RESOLVE, OP_DROP, OP_ACTOR, OP_ATTACH, OP_DETACH, OP_START,
	OP_SHUTDOWN, OP_INFO, OP_STATS, NOPS
};

static const char *const op_names[NOPS] = {
	"put", "get", "get_shared", "release", "submit", "call", "resolve",
	"drop", "actor_create", "attach", "detach", "start", "shutdown",
	"info", "stats",
};

enum phase { PH_START = 0, PH_RUN, PH_STOP, PH_DEAD_FS, PH_DEAD_DRIVER, PH_ABORT };

enum kill_kind { K_WORKER, K_ACTOR, K_ATTACHED, K_FS, K_DRIVER, NKINDS };

static const char *const kind_names[NKINDS] = {
	"worker", "actor", "attached", "fork_server", "driver",
};

#define NPARTS 4      /* 0 driver, 1..2 attached, 3 the driver's publisher */
#define PUBLISHER 3
#define RING 64
#define NCODES 40
#define MAXW 64
#define NFAIL 64
#define FAIL_LEN 1000

/* An object a program put, for the others to get.  Written by that
 * program alone, as a seqlock: seq odd while it writes. */
struct shared_obj {
	_Atomic uint64_t seq;
	_Atomic uint64_t hi, lo, seed, size;
	_Atomic uint64_t epoch;         /* IDs are per segment */
};

/* One program's slot (the driver's publisher thread has its own).  Every
 * field but pid is written by that program (one thread); pid, and the
 * call in flight after a death, by the supervisor. */
struct part {
	_Atomic int32_t pid;
	_Atomic uint32_t lives;
	_Atomic int64_t life_start_ns;  /* supervisor: when it was started */
	_Atomic uint64_t ops[NOPS];     /* calls that returned 0 */
	_Atomic uint64_t calls[NOPS];   /* calls made */
	_Atomic int64_t progress_ns;    /* last call that returned 0 */
	_Atomic uint64_t op_seq;        /* bumped when a call starts */
	_Atomic int32_t op_kind;        /* the call in flight, -1 none */
	_Atomic int64_t op_start_ns;
	_Atomic int32_t op_bound_ms;    /* it must return within this */
	_Atomic int64_t max_overrun_ms; /* over a timeout */
	_Atomic int64_t max_untimed_ms; /* calls with no timeout */
	_Atomic uint64_t excused;       /* overran while the machine stalled */
	struct {
		_Atomic int32_t code;
		_Atomic uint64_t n;
	} errs[NCODES];
	_Atomic uint64_t ring_head;
	struct shared_obj ring[RING];
};

struct board {
	uint64_t magic;
	int64_t t0_ns;                  /* the run's start */
	uint32_t cross_deps;            /* --cross-deps (set before spawns) */
	uint32_t settle;                /* --settle (set before spawns) */
	uint32_t no_result_args;        /* --no-result-args (ditto) */
	uint32_t no_parked;             /* --no-parked (ditto) */
	_Atomic uint32_t epoch;         /* supervisor */
	_Atomic uint32_t phase;         /* supervisor */
	_Atomic uint32_t ready;         /* driver: its runtime is up (epoch) */
	_Atomic uint32_t attached_done; /* supervisor: attached ended (epoch) */
	/* Targets, written by the driver's publisher. */
	_Atomic uint32_t tgt_epoch;
	_Atomic int32_t fs_pid;
	_Atomic uint32_t nworkers;
	_Atomic int32_t workers[MAXW];
	_Atomic uint32_t nactors;
	_Atomic int32_t actors[MAX_ACTORS];
	/* The driver's last check. */
	_Atomic uint32_t bytes_epoch;
	_Atomic uint64_t bytes_before, bytes_after, bytes_settled;
	/* The supervisor's own lateness: its loop wakes every 10 ms; a gap
	 * of LAG_MS or more means the machine did not run us (the vCPUs are
	 * shared).  The last such gap: when it ended, how long it was. */
	_Atomic int64_t lag_end_ns;
	_Atomic int64_t max_lag_ms;
	_Atomic int64_t tick_ns;        /* its last turn */
	/* A program asks the supervisor to show the processes (once). */
	_Atomic uint32_t diag_req, diag_ack;
	/* Failures, from any program. */
	_Atomic uint32_t failures;
	_Atomic uint32_t fail_ready[NFAIL];
	char fails[NFAIL][FAIL_LEN];
	struct part parts[NPARTS];
};

#define BOARD_MAGIC 0x4452414f42534f41ull

static const char *role_name(int index)
{
	return index == 0 ? "driver" : index == PUBLISHER ? "publisher" : "attached";
}

static void failv(struct board *b, const char *who, const char *fmt, va_list ap)
{
	char msg[FAIL_LEN];
	uint32_t k;
	int n;

	n = snprintf(msg, sizeof msg, "%s %d t=%.3fs: ", who, (int)getpid(),
		     (double)(now_ns() - b->t0_ns) / 1e9);
	vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
	k = atomic_fetch_add(&b->failures, 1);
	if (k < NFAIL) {
		memcpy(b->fails[k], msg, sizeof msg);
		atomic_store_explicit(&b->fail_ready[k], 1, memory_order_release);
	}
	fprintf(stderr, "chaos: FAIL %s\n", msg);
}

__attribute__((format(printf, 3, 4)))
static void failf(struct board *b, const char *who, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	failv(b, who, fmt, ap);
	va_end(ap);
}

/* Asks the supervisor to show every process of the epoch while they are
 * in the state that failed, and waits for it (bounded: 120 s). */
static void request_diag(struct board *b)
{
	uint32_t want = atomic_fetch_add(&b->diag_req, 1) + 1;
	int64_t end = now_ms() + 120000;

	while (atomic_load(&b->diag_ack) < want && now_ms() < end)
		sleep_ms(10);
}

static void count_err(struct part *p, int code)
{
	for (int i = 0; i < NCODES; i++) {
		int32_t c = atomic_load_explicit(&p->errs[i].code, memory_order_relaxed);

		if (c == 0) {
			atomic_store_explicit(&p->errs[i].code, code, memory_order_relaxed);
			c = code;
		}
		if (c == code) {
			atomic_fetch_add_explicit(&p->errs[i].n, 1, memory_order_relaxed);
			return;
		}
	}
}

static const struct {
	int code;
	const char *name;
} code_table[] = {
	{-ETIMEDOUT, "ETIMEDOUT"}, {-EAGAIN, "EAGAIN"}, {-ENOSPC, "ENOSPC"},
	{-ENOENT, "ENOENT"}, {-EINVAL, "EINVAL"}, {-EEXIST, "EEXIST"},
	{-EPERM, "EPERM"}, {-EBADMSG, "EBADMSG"}, {-EPROTO, "EPROTO"},
	{-ECHILD, "ECHILD"}, {-EPIPE, "EPIPE"}, {-ECONNREFUSED, "ECONNREFUSED"},
	{-ESRCH, "ESRCH"}, {-EBUSY, "EBUSY"}, {-ENOMEM, "ENOMEM"},
	{-EIO, "EIO"}, {-ENOMSG, "ENOMSG"}, {-ECANCELED, "ECANCELED"},
	{-ENOTCONN, "ENOTCONN"}, {-ECONNRESET, "ECONNRESET"},
	{SHOAL_ESTOREFULL, "SHOAL_ESTOREFULL"},
	{SHOAL_EEVICTED, "SHOAL_EEVICTED"}, {SHOAL_EDELETED, "SHOAL_EDELETED"},
	{SHOAL_ESEALED, "SHOAL_ESEALED"}, {SHOAL_ENOTSEALED, "SHOAL_ENOTSEALED"},
	{SHOAL_EBADSEGMENT, "SHOAL_EBADSEGMENT"}, {SHOAL_EVERSION, "SHOAL_EVERSION"},
	{SHOAL_EOWNERDIED, "SHOAL_EOWNERDIED"},
	{SHOAL_ETOOMANYPROCS, "SHOAL_ETOOMANYPROCS"},
	{SHOAL_ELEDGERFULL, "SHOAL_ELEDGERFULL"}, {SHOAL_ETASK, "SHOAL_ETASK"},
	{SHOAL_EWORKERDIED, "SHOAL_EWORKERDIED"},
	{SHOAL_EACTORDIED, "SHOAL_EACTORDIED"},
	{SHOAL_ECANCELLED, "SHOAL_ECANCELLED"},
	{SHOAL_ELANEFULL, "SHOAL_ELANEFULL"},
};

static const char *code_name(int code, char *buf, size_t cap)
{
	for (size_t i = 0; i < sizeof code_table / sizeof code_table[0]; i++)
		if (code_table[i].code == code)
			return code_table[i].name;
	snprintf(buf, cap, "E%d", code);
	return buf;
}

/* ------------------------------------------------------------------ */
/* Task functions and the actor class (workers' and actors' side)      */

static int arg_u64(const struct shoal_task *t, uint32_t i, uint64_t *out)
{
	const void *d;
	size_t n;

	if (shoal_task_arg(t, i, &d, &n) || n != sizeof *out)
		return -EINVAL;
	memcpy(out, d, sizeof *out);
	return 0;
}

static int arg_u32(const struct shoal_task *t, uint32_t i, uint32_t *out)
{
	const void *d;
	size_t n;

	if (shoal_task_arg(t, i, &d, &n) || n != sizeof *out)
		return -EINVAL;
	memcpy(out, d, sizeof *out);
	return 0;
}

/* Busy for us microseconds, so that kills find tasks running. */
static void busy_us(uint32_t us)
{
	int64_t end = now_ns() + (int64_t)us * 1000;

	while (now_ns() < end)
		;
}

/* Return 0 as an object of size bytes for seed, written in place. */
static int return_obj(struct shoal_task *t, uint32_t size, uint64_t seed)
{
	void *buf;
	int rc;

	if (size < OBJ_HDR || size > MAX_OBJ)
		return shoal_task_fail(t, -EINVAL, "bad size %u", size);
	rc = shoal_task_return_buffer(t, 0, size, &buf);
	if (rc == SHOAL_ESEALED)
		return 0; /* a retry: the earlier attempt sealed it */
	if (rc)
		return shoal_task_fail(t, rc, "return buffer: %s", shoal_strerror(rc));
	obj_fill(buf, size, seed);
	return 0;
}

/* make(seed u64, size u32, busy_us u32): an object for seed. */
static int task_make(struct shoal_task *t, void *user)
{
	uint64_t seed;
	uint32_t size, busy;

	(void)user;
	if (arg_u64(t, 0, &seed) || arg_u32(t, 1, &size) || arg_u32(t, 2, &busy))
		return shoal_task_fail(t, -EINVAL, "make: bad arguments");
	busy_us(busy);
	return return_obj(t, size, seed);
}

/* Arguments 2.. are objects: checks each and folds its seed into *seed. */
static int fold_refs(struct shoal_task *t, uint64_t *seed)
{
	for (uint32_t i = 2; i < shoal_task_num_args(t); i++) {
		const void *d;
		const char *why;
		size_t n;
		uint64_t s = 0;
		int rc = shoal_task_arg(t, i, &d, &n);

		if (rc)
			return shoal_task_fail(t, rc, "argument %u: %s", i,
					       shoal_strerror(rc));
		why = obj_check(d, n, &s);
		if (why)
			return shoal_task_fail(t, CHAOS_EBADMSG,
					       "argument %u (%zu bytes): %s", i, n, why);
		*seed = mix2(*seed, s);
	}
	return 0;
}

/* check(seed u64, size u32, refs...): checks every ref argument and
 * returns an object for seed folded with theirs. */
static int task_check(struct shoal_task *t, void *user)
{
	uint64_t seed;
	uint32_t size;
	int rc;

	(void)user;
	if (arg_u64(t, 0, &seed) || arg_u32(t, 1, &size))
		return shoal_task_fail(t, -EINVAL, "check: bad arguments");
	rc = fold_refs(t, &seed);
	return rc ? rc : return_obj(t, size, seed);
}

static int keeper_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = calloc(1, sizeof(uint64_t));
	return *self ? 0 : -ENOMEM;
}

/* Keeper.mix: check()'s contract, in an actor that counts its calls. */
static int keeper_mix(struct shoal_task *t, void *self)
{
	(*(uint64_t *)self)++;
	return task_check(t, NULL);
}

static int make_registry(struct shoal_registry **reg)
{
	int rc = shoal_registry_open(reg);

	if (!rc)
		rc = shoal_register_task(*reg, "make", task_make, NULL);
	if (!rc)
		rc = shoal_register_task(*reg, "check", task_check, NULL);
	if (!rc)
		rc = shoal_register_actor(*reg, "Keeper", keeper_init, free);
	if (!rc)
		rc = shoal_register_method(*reg, "Keeper", "mix", keeper_mix);
	return rc;
}

/* ------------------------------------------------------------------ */
/* The load (driver and attached programs)                             */

/* What the supervisor tells a program it starts (its command line). */
struct role_args {
	const char *role, *name;
	int board_fd, index, margin;
	uint32_t epoch;
	uint64_t seed;
};

struct held {
	shoal_id id;
	uint64_t seed;
	uint32_t size;
};

enum pend_kind { PK_MAKE, PK_CHECK, PK_CALL };

static const char *const pend_names[] = {"make", "check", "call"};

struct pend {
	shoal_id id;
	uint64_t seed;      /* the value's seed if it is a value */
	int64_t t_ms;       /* submitted */
	int kind;           /* enum pend_kind */
	int keeper;         /* PK_CALL: which keeper, else -1 */
	struct shoal_actor actor;
	int ndeps;          /* its ref arguments, for the report */
	shoal_id deps[2];
};

struct pin {
	struct shoal_view v;
	uint64_t seed;
	uint32_t size;
	int ttl;            /* load steps left before release */
};

struct keeper {
	struct shoal_actor a;
	int mix;            /* method index, < 0: no actor now */
	int64_t retry_ms;   /* do not create again before */
};

struct load {
	struct board *b;
	struct part *p;
	int index;
	const char *who;
	int margin_ms;
	uint32_t epoch;
	bool cross_deps;
	uint64_t rng;
	struct shoal_runtime *rt;
	struct shoal_store *st;
	int fn_make, fn_check;
	struct keeper k[NKEEPERS];
	struct held held[MAX_HELD];
	int nheld;
	struct pend pend[MAX_PEND];
	int npend;
	struct pin pins[MAX_PINS];
	int npins;
	uint8_t *buf;
};

/* A call begins: the watchdog sees it in flight from here on. */
static int64_t op_begin(struct part *p, int op, int bound_ms)
{
	int64_t t = now_ns();

	atomic_store_explicit(&p->op_start_ns, t, memory_order_relaxed);
	atomic_store_explicit(&p->op_bound_ms, bound_ms, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->op_seq, 1, memory_order_relaxed);
	atomic_store_explicit(&p->op_kind, op, memory_order_release);
	atomic_fetch_add_explicit(&p->calls[op], 1, memory_order_relaxed);
	return t;
}

static void note_max(_Atomic int64_t *m, int64_t v)
{
	int64_t old = atomic_load_explicit(m, memory_order_relaxed);

	while (v > old && !atomic_compare_exchange_weak(m, &old, v))
		;
}

/* A call ended with rc: checks its time, counts it. */
static int op_end_p(struct board *b, struct part *p, const char *who, int margin,
		    int op, int64_t t0, int timeout_ms, int rc)
{
	int64_t t = now_ns(), ms = (t - t0) / 1000000;
	int bound = atomic_load_explicit(&p->op_bound_ms, memory_order_relaxed);
	char cb[16];

	atomic_store_explicit(&p->op_kind, -1, memory_order_release);
	if (ms > bound && (atomic_load(&b->lag_end_ns) >= t0 ||
			   (t - atomic_load(&b->tick_ns)) / 1000000 >= LAG_MS)) {
		/* The supervisor itself was not run for LAG_MS or more while
		 * this call was in flight (or is not running now): the
		 * machine stalled, not shoal. */
		atomic_fetch_add(&p->excused, 1);
		fprintf(stderr, "chaos: note: %s %s took %" PRId64 " ms (bound %d) "
			"while the machine stalled\n", who, op_names[op], ms, bound);
	} else if (timeout_ms >= 0) {
		note_max(&p->max_overrun_ms, ms - timeout_ms);
		if (ms - timeout_ms > margin)
			failf(b, who, "%s with timeout %d ms returned %s after %" PRId64
			      " ms (margin %d ms)", op_names[op], timeout_ms,
			      code_name(rc, cb, sizeof cb), ms, margin);
	} else {
		note_max(&p->max_untimed_ms, ms);
		if (ms > bound)
			failf(b, who, "%s (no timeout) returned %s after %" PRId64
			      " ms (bound %d ms)", op_names[op],
			      code_name(rc, cb, sizeof cb), ms, bound);
	}
	if (rc == 0) {
		atomic_fetch_add_explicit(&p->ops[op], 1, memory_order_relaxed);
		atomic_store_explicit(&p->progress_ns, t, memory_order_relaxed);
	} else if (rc < 0) {
		count_err(p, rc);
	}
	return rc;
}

static int64_t lbegin(struct load *l, int op, int timeout_ms)
{
	return op_begin(l->p, op, timeout_ms >= 0 ? timeout_ms + l->margin_ms
						  : PROMPT_MS);
}

static int lend(struct load *l, int op, int64_t t0, int timeout_ms, int rc)
{
	return op_end_p(l->b, l->p, l->who, l->margin_ms, op, t0, timeout_ms, rc);
}

static uint32_t phase_of(const struct board *b)
{
	return atomic_load_explicit(&b->phase, memory_order_acquire);
}

/* Views and objects ----------------------------------------------- */

static bool view_ok(struct load *l, const struct shoal_view *v, uint64_t seed,
		    uint32_t size, const char *what)
{
	uint64_t got = 0;
	const char *why = obj_check(v->data, v->size, &got);
	char hex[SHOAL_ID_HEX_LEN + 1];

	if (!why && got != seed)
		why = "another object's seed";
	if (!why && size && v->size != size)
		why = "another size";
	if (!why)
		return true;
	id_hex(v->id, hex);
	failf(l->b, l->who, "CORRUPT %s %s: %zu bytes (want %u), seed %016" PRIx64
	      " (want %016" PRIx64 "): %s", what, hex, v->size, size, got, seed, why);
	return false;
}

static void x_release(struct load *l, struct shoal_view *v)
{
	int64_t t0 = lbegin(l, OP_RELEASE, -1);
	int rc = lend(l, OP_RELEASE, t0, -1, shoal_release(l->st, v));

	if (rc)
		failf(l->b, l->who, "release of a pinned view returned %s",
		      shoal_strerror(rc));
}

/* Drops a ref this program holds: must succeed. */
static void x_drop(struct load *l, shoal_id id, const char *what)
{
	char hex[SHOAL_ID_HEX_LEN + 1];
	int64_t t0 = lbegin(l, OP_DROP, -1);
	int rc = lend(l, OP_DROP, t0, -1, shoal_drop(l->st, id));

	if (rc) {
		id_hex(id, hex);
		failf(l->b, l->who, "LOST HOLD: drop of held %s %s returned %s",
		      what, hex, shoal_strerror(rc));
	}
}

static void publish(struct load *l, const struct held *h)
{
	struct part *p = l->p;
	uint64_t k = atomic_fetch_add_explicit(&p->ring_head, 1, memory_order_relaxed);
	struct shared_obj *o = &p->ring[k % RING];
	uint64_t s = atomic_load_explicit(&o->seq, memory_order_relaxed);

	atomic_store_explicit(&o->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&o->hi, h->id.hi, memory_order_relaxed);
	atomic_store_explicit(&o->lo, h->id.lo, memory_order_relaxed);
	atomic_store_explicit(&o->seed, h->seed, memory_order_relaxed);
	atomic_store_explicit(&o->size, h->size, memory_order_relaxed);
	atomic_store_explicit(&o->epoch, l->epoch, memory_order_relaxed);
	atomic_store_explicit(&o->seq, s + 2, memory_order_release);
}

/* A random object another program (or this one) put; false if none. */
static bool pick_shared(struct load *l, struct held *out)
{
	struct part *p = &l->b->parts[rnd_below(&l->rng, 3)];
	struct shared_obj *o = &p->ring[rnd_below(&l->rng, RING)];
	uint64_t s1 = atomic_load_explicit(&o->seq, memory_order_acquire), s2, ep;

	if (s1 == 0 || (s1 & 1))
		return false;
	out->id.hi = atomic_load_explicit(&o->hi, memory_order_relaxed);
	out->id.lo = atomic_load_explicit(&o->lo, memory_order_relaxed);
	out->seed = atomic_load_explicit(&o->seed, memory_order_relaxed);
	out->size = (uint32_t)atomic_load_explicit(&o->size, memory_order_relaxed);
	ep = atomic_load_explicit(&o->epoch, memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	s2 = atomic_load_explicit(&o->seq, memory_order_relaxed);
	return s1 == s2 && ep == l->epoch;
}

static void drop_held(struct load *l, int i)
{
	x_drop(l, l->held[i].id, "put object");
	l->held[i] = l->held[--l->nheld];
}

static void act_put(struct load *l)
{
	struct held h = {.seed = rnd(&l->rng), .size = pick_size(&l->rng)};
	int tmo = rnd_range(&l->rng, 0, 1000), rc;
	int64_t t0;

	if (l->nheld == MAX_HELD)
		drop_held(l, (int)rnd_below(&l->rng, MAX_HELD));
	obj_fill(l->buf, h.size, h.seed);
	t0 = lbegin(l, OP_PUT, tmo);
	rc = lend(l, OP_PUT, t0, tmo, shoal_put(l->st, l->buf, h.size, tmo, &h.id));
	if (rc == -EEXIST || rc == -EINVAL || rc == -EPERM)
		failf(l->b, l->who, "put of %u bytes returned %s", h.size,
		      shoal_strerror(rc));
	if (rc)
		return;
	l->held[l->nheld++] = h;
	publish(l, &h);
}

static int x_get(struct load *l, int op, shoal_id id, int tmo, struct shoal_view *v)
{
	int64_t t0 = lbegin(l, op, tmo);

	return lend(l, op, t0, tmo, shoal_get(l->st, id, tmo, v));
}

/* A get of an object this program holds must find it intact. */
static void act_get(struct load *l)
{
	struct held *h;
	struct shoal_view v;
	char hex[SHOAL_ID_HEX_LEN + 1];
	int rc;

	if (!l->nheld)
		return;
	h = &l->held[rnd_below(&l->rng, (uint32_t)l->nheld)];
	rc = x_get(l, OP_GET, h->id, rnd_range(&l->rng, 0, 300), &v);
	if (rc) {
		id_hex(h->id, hex);
		failf(l->b, l->who, "LOST: get of held object %s (%u bytes) returned %s",
		      hex, h->size, shoal_strerror(rc));
		return;
	}
	view_ok(l, &v, h->seed, h->size, "held object");
	x_release(l, &v);
}

/* Another program's object: intact, or gone (evicted), never changed. */
static void act_get_shared(struct load *l)
{
	struct held h;
	struct shoal_view v;

	if (!pick_shared(l, &h))
		return;
	if (x_get(l, OP_GET_SHARED, h.id, rnd_range(&l->rng, 0, 100), &v))
		return;
	view_ok(l, &v, h.seed, h.size, "shared object");
	x_release(l, &v);
}

/* Pins a held object for a while (it may be dropped meanwhile). */
static void act_pin(struct load *l)
{
	struct pin *pn;
	struct held *h;
	int rc;

	if (!l->nheld || l->npins == MAX_PINS)
		return;
	h = &l->held[rnd_below(&l->rng, (uint32_t)l->nheld)];
	pn = &l->pins[l->npins];
	rc = x_get(l, OP_GET, h->id, 100, &pn->v);
	if (rc) {
		failf(l->b, l->who, "LOST: get of a held object to pin returned %s",
		      shoal_strerror(rc));
		return;
	}
	if (!view_ok(l, &pn->v, h->seed, h->size, "object just pinned")) {
		x_release(l, &pn->v);
		return;
	}
	pn->seed = h->seed;
	pn->size = h->size;
	pn->ttl = rnd_range(&l->rng, 5, 200);
	l->npins++;
	if (rnd_below(&l->rng, 2))
		drop_held(l, (int)(h - l->held));
}

static void unpin(struct load *l, int i)
{
	view_ok(l, &l->pins[i].v, l->pins[i].seed, l->pins[i].size,
		"pinned object at release");
	x_release(l, &l->pins[i].v);
	l->pins[i] = l->pins[--l->npins];
}

static void tick_pins(struct load *l)
{
	for (int i = 0; i < l->npins; i++)
		if (--l->pins[i].ttl <= 0)
			unpin(l, i--);
}

/* Results ---------------------------------------------------------- */

static void pend_add(struct load *l, shoal_id id, uint64_t seed, int kind)
{
	l->pend[l->npend++] = (struct pend){id, seed, now_ms(), kind, -1, {0}, 0, {{0, 0}}};
}

static void pend_add_call(struct load *l, shoal_id id, uint64_t seed, int k)
{
	pend_add(l, id, seed, PK_CALL);
	l->pend[l->npend - 1].keeper = k;
	l->pend[l->npend - 1].actor = l->k[k].a;
}

static void pend_dep(struct load *l, shoal_id dep)
{
	struct pend *p = &l->pend[l->npend - 1];

	if (p->ndeps < 2)
		p->deps[p->ndeps++] = dep;
}

/* "<id>: state 1 holds 2 pins 0 creator 123" from a listing. */
static int describe_id(struct load *l, shoal_id id, char *buf, size_t cap)
{
	static struct shoal_object_info infos[1 << 16];
	char hex[SHOAL_ID_HEX_LEN + 1];
	int n = shoal_list(l->st, infos, 1 << 16);

	id_hex(id, hex);
	for (int i = 0; i < n && i < (1 << 16); i++)
		if (shoal_id_eq(infos[i].id, id))
			return snprintf(buf, cap, "%s: state %u size %" PRIu64 " holds %u "
					"pins %u creator %d", hex, infos[i].state,
					infos[i].data_size, infos[i].holds,
					infos[i].pins, (int)infos[i].creator_pid);
	return snprintf(buf, cap, "%s: not listed (contains %d)", hex,
			shoal_contains(l->st, id));
}

/* "call on k1 (slot 3 gen 2, now: state 4 pid 0 restarts 0)" */
static void pend_what(struct load *l, const struct pend *p, char *buf, size_t cap)
{
	struct shoal_actor_info ai;
	int rc;

	int n;

	if (p->kind != PK_CALL)
		n = snprintf(buf, cap, "%s", pend_names[p->kind]);
	else if ((rc = shoal_actor_info(l->rt, p->actor, &ai)) != 0)
		n = snprintf(buf, cap, "call on k%d (slot %u gen %u, now: %s)", p->keeper,
			     p->actor.index, p->actor.generation, shoal_strerror(rc));
	else
		n = snprintf(buf, cap, "call on k%d (slot %u gen %u, now: state %u pid %d "
			     "restarts %u calls %" PRIu64 " why '%s')", p->keeper,
			     p->actor.index, p->actor.generation, ai.state, (int)ai.pid,
			     ai.restarts, ai.calls_run, ai.why);
	for (int i = 0; i < p->ndeps && n > 0 && (size_t)n < cap; i++) {
		n += snprintf(buf + n, cap - (size_t)n, " [arg ");
		n += describe_id(l, p->deps[i], buf + n, cap - (size_t)n);
		n += snprintf(buf + n, cap - (size_t)n, "]");
	}
}

static void pend_remove(struct load *l, int i)
{
	memmove(&l->pend[i], &l->pend[i + 1], (size_t)(l->npend - i - 1) * sizeof *l->pend);
	l->npend--;
}

/* A result that is an error: which errors mean a check failed. */
static void result_error(struct load *l, const struct pend *p, int rc)
{
	char msg[256] = "", hex[SHOAL_ID_HEX_LEN + 1];
	const char *sig;

	shoal_error_message(l->st, p->id, msg, sizeof msg);
	id_hex(p->id, hex);
	if (rc == CHAOS_EBADMSG)
		failf(l->b, l->who, "CORRUPT argument seen by %s %s: %s",
		      pend_names[p->kind], hex, msg);
	else if (rc == SHOAL_EEVICTED || rc == SHOAL_EDELETED || rc == -ENOENT)
		failf(l->b, l->who, "LOST: held result of %s %s: get returned %s (%s)",
		      pend_names[p->kind], hex, shoal_strerror(rc), msg);
	else if ((rc == SHOAL_EWORKERDIED || rc == SHOAL_EACTORDIED) &&
		 (sig = strstr(msg, "(signal ")) && atoi(sig + 8) != SIGKILL)
		failf(l->b, l->who, "CRASH: %s %s failed with %s: %s",
		      pend_names[p->kind], hex, shoal_strerror(rc), msg);
}

/* One try at pend[i]: true when it resolved (and was dropped). */
static bool resolve_one(struct load *l, int i, int64_t deadline_ms)
{
	struct pend *p = &l->pend[i];
	struct shoal_view v;
	int64_t left = deadline_ms - now_ms();
	int tmo = rnd_range(&l->rng, 0, 300), rc;

	if (tmo > left)
		tmo = left > 0 ? (int)left : 0;
	rc = x_get(l, OP_RESOLVE, p->id, tmo, &v);
	if (rc == -ETIMEDOUT && now_ms() < deadline_ms)
		return false;
	if (rc == 0) {
		view_ok(l, &v, p->seed, 0, pend_names[p->kind]);
		x_release(l, &v);
	} else if (rc == -ETIMEDOUT) {
		char what[600], self[120];

		pend_what(l, p, what, sizeof what);
		describe_id(l, p->id, self, sizeof self);
		failf(l->b, l->who, "NEVER RESOLVED: %s, submitted at t=%.3fs: %s",
		      what, (double)(p->t_ms - l->b->t0_ns / 1000000) / 1e3, self);
		request_diag(l->b);
	} else {
		result_error(l, p, rc);
	}
	x_drop(l, p->id, "result");
	pend_remove(l, i);
	return true;
}

static int64_t pend_deadline(struct load *l, const struct pend *p)
{
	(void)l;
	return p->t_ms + RESULT_MS;
}

/* Resolves the oldest result, or tries it and moves it to the back. */
static void act_resolve(struct load *l)
{
	struct pend p;

	if (!l->npend || resolve_one(l, 0, pend_deadline(l, &l->pend[0])))
		return;
	p = l->pend[0];
	pend_remove(l, 0);
	l->pend[l->npend++] = p;
}

/* Tasks and calls -------------------------------------------------- */

static int x_submit(struct load *l, int fn, const struct shoal_args *a,
		    uint32_t retries, shoal_id *ref)
{
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	int64_t t0 = lbegin(l, OP_SUBMIT, -1);
	int rc;

	o.max_retries = retries;
	rc = lend(l, OP_SUBMIT, t0, -1, shoal_submit_opts(l->rt, fn, a, &o, ref));
	if (rc == -EINVAL)
		failf(l->b, l->who, "submit returned -EINVAL");
	return rc;
}

static void args_seed_size(struct shoal_args *a, const uint64_t *seed,
			   const uint32_t *size)
{
	shoal_args_init(a);
	shoal_args_bytes(a, seed, sizeof *seed);
	shoal_args_bytes(a, size, sizeof *size);
}

/* --no-parked: waits until A is sealed (so that check(A) is not parked
 * on it); false if A failed (then A is resolved and dropped here). */
static bool sealed_first(struct load *l, shoal_id ra, uint64_t sa)
{
	int64_t deadline = now_ms() + RESULT_MS;

	pend_add(l, ra, sa, PK_MAKE);
	for (;;) {
		struct shoal_view v;
		int rc = x_get(l, OP_RESOLVE, ra, 300, &v);

		if (rc == 0) {
			x_release(l, &v);
			l->npend--; /* still held: the caller decides */
			return true;
		}
		if (rc != -ETIMEDOUT || now_ms() >= deadline) {
			resolve_one(l, l->npend - 1, now_ms());
			return false;
		}
	}
}

/* make(sA) -> check(sB, A, a held object), A dropped at once or kept. */
static void act_chain(struct load *l)
{
	uint64_t sa = rnd(&l->rng), sb = rnd(&l->rng), want;
	uint32_t za = pick_size(&l->rng), zb = pick_size(&l->rng);
	uint32_t busy = rnd_below(&l->rng, 4) ? 0 : rnd_below(&l->rng, 3000);
	struct shoal_args a;
	shoal_id ra, rb;

	if (l->npend + 2 > MAX_PEND)
		return;
	args_seed_size(&a, &sa, &za);
	shoal_args_bytes(&a, &busy, sizeof busy);
	if (x_submit(l, l->fn_make, &a, rnd_below(&l->rng, 2), &ra))
		return;
	if (l->b->no_parked && !sealed_first(l, ra, sa))
		return;
	args_seed_size(&a, &sb, &zb);
	shoal_args_ref(&a, ra);
	want = mix2(sb, sa);
	if (l->nheld && rnd_below(&l->rng, 2)) {
		struct held *h = &l->held[rnd_below(&l->rng, (uint32_t)l->nheld)];

		shoal_args_ref(&a, h->id);
		want = mix2(want, h->seed);
	}
	if (x_submit(l, l->fn_check, &a, 0, &rb)) {
		pend_add(l, ra, sa, PK_MAKE);
		return;
	}
	if (rnd_below(&l->rng, 2))
		x_drop(l, ra, "make result, passed on"); /* the task keeps it */
	else
		pend_add(l, ra, sa, PK_MAKE);
	pend_add(l, rb, want, PK_CHECK);
	pend_dep(l, ra);
	if (a.n > 3)
		pend_dep(l, a.a[3].ref);
}

/* The named actor k (created if it is not alive). */
static bool keeper(struct load *l, int k)
{
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;
	struct keeper *kp = &l->k[k];
	char name[32];
	int64_t t0;
	int rc;

	if (kp->mix >= 0)
		return true;
	if (now_ms() < kp->retry_ms)
		return false;
	snprintf(name, sizeof name, "chaos-k%d", k);
	o.name = name;
	o.get_if_exists = true;
	o.max_restarts = k == 0 ? 1000000000u : 0;
	o.max_task_retries = k == 0 ? 1 : 0;
	t0 = op_begin(l->p, OP_ACTOR, CREATE_MS);
	rc = lend(l, OP_ACTOR, t0, -1, shoal_actor_create(l->rt, "Keeper", NULL, &o, &kp->a));
	if (!rc)
		kp->mix = shoal_actor_method(l->rt, kp->a, "mix");
	if (rc || kp->mix < 0) {
		kp->mix = -1;
		kp->retry_ms = now_ms() + 100;
		return false;
	}
	return true;
}

/* A pending result to pass to a call on keeper k, or NULL.  An actor
 * that runs a call whose ref argument is not sealed yet waits for it in
 * the actor's process (runtime/exec.c: arg_timeout_ms -1), blocking its
 * other callers: two programs whose calls on two actors take each other's
 * results can wait for each other for ever.  So, unless --cross-deps asks
 * for exactly that, a call takes a task's result (tasks never wait for an
 * actor) or a result of this program's earlier call on the same actor
 * (one lane, run in order). */
static struct pend *dep_for(struct load *l, int k)
{
	struct pend *p = &l->pend[rnd_below(&l->rng, (uint32_t)l->npend)];

	if (p->kind != PK_CALL || l->cross_deps)
		return p;
	return p->keeper == k && !memcmp(&p->actor, &l->k[k].a, sizeof p->actor)
		       ? p : NULL;
}

/* mix(s, size, [a result or a held object]) on a keeper. */
static void act_call(struct load *l)
{
	struct shoal_call_options o = SHOAL_CALL_OPTIONS_INIT;
	int k = (int)rnd_below(&l->rng, NKEEPERS), rc;
	uint64_t s = rnd(&l->rng), want = s;
	uint32_t z = pick_size(&l->rng);
	struct shoal_args a;
	struct pend *p;
	shoal_id ref;
	int64_t t0;

	if (l->npend + 1 > MAX_PEND || !keeper(l, k))
		return;
	args_seed_size(&a, &s, &z);
	if (l->npend && !l->b->no_result_args && rnd_below(&l->rng, 2) &&
	    (p = dep_for(l, k))) {
		shoal_args_ref(&a, p->id);
		want = mix2(want, p->seed);
	} else if (l->nheld && rnd_below(&l->rng, 2)) {
		struct held *h = &l->held[rnd_below(&l->rng, (uint32_t)l->nheld)];

		shoal_args_ref(&a, h->id);
		want = mix2(want, h->seed);
	}
	o.timeout_ms = rnd_range(&l->rng, 0, 500);
	t0 = lbegin(l, OP_CALL, o.timeout_ms);
	rc = lend(l, OP_CALL, t0, o.timeout_ms,
		  shoal_actor_call_opts(l->rt, l->k[k].a, l->k[k].mix, &a, &o, &ref));
	if (rc == SHOAL_EACTORDIED)
		l->k[k].mix = -1; /* dead: create it again */
	if (rc == -EINVAL)
		failf(l->b, l->who, "actor call returned -EINVAL");
	if (!rc) {
		pend_add_call(l, ref, want, k);
		if (a.n > 2)
			pend_dep(l, a.a[2].ref);
	}
}

/* One random step of the load. */
static void load_step(struct load *l)
{
	uint32_t r = rnd_below(&l->rng, 100);

	if (r < 22)
		act_put(l);
	else if (r < 34)
		act_get(l);
	else if (r < 44)
		act_get_shared(l);
	else if (r < 48)
		act_pin(l);
	else if (r < 60)
		act_chain(l);
	else if (r < 74)
		act_call(l);
	else if (r < 82) {
		if (l->nheld)
			drop_held(l, (int)rnd_below(&l->rng, (uint32_t)l->nheld));
	} else
		act_resolve(l);
	if (l->npend >= MAX_PEND - 2)
		act_resolve(l);
	tick_pins(l);
}

/* The phase ended the load: resolve every result (within the phase's
 * bound), release every pin, drop everything held. */
static void load_finish(struct load *l, int64_t deadline_ms)
{
	while (l->npins)
		unpin(l, 0);
	while (l->npend)
		for (int i = 0; i < l->npend; i++)
			if (resolve_one(l, i, deadline_ms))
				i--;
	while (l->nheld)
		drop_held(l, l->nheld - 1);
}

/* After the fork server or the driver died: one more task and one more
 * call, which must fail or resolve like every other. */
static void load_probe(struct load *l)
{
	uint64_t s = rnd(&l->rng);
	uint32_t z = 64, busy = 0;
	struct shoal_args a;
	shoal_id ref;

	args_seed_size(&a, &s, &z);
	shoal_args_bytes(&a, &busy, sizeof busy);
	if (l->npend < MAX_PEND && !x_submit(l, l->fn_make, &a, 0, &ref))
		pend_add(l, ref, s, PK_MAKE);
	if (l->npend < MAX_PEND)
		act_call(l);
}

static int load_init(struct load *l, struct board *b, const struct role_args *ra,
		     struct shoal_runtime *rt)
{
	int index = ra->index, margin = ra->margin;
	uint64_t seed = ra->seed;

	memset(l, 0, sizeof *l);
	l->epoch = ra->epoch;
	l->b = b;
	l->p = &b->parts[index];
	l->index = index;
	l->who = role_name(index);
	l->margin_ms = margin;
	l->cross_deps = b->cross_deps != 0;
	l->rng = tu_splitmix(seed ^ ((uint64_t)getpid() << 20) ^ (uint64_t)now_ns()) | 1;
	l->rt = rt;
	l->st = shoal_runtime_store(rt);
	l->fn_make = shoal_function(rt, "make");
	l->fn_check = shoal_function(rt, "check");
	for (int k = 0; k < NKEEPERS; k++)
		l->k[k].mix = -1;
	l->buf = malloc(MAX_OBJ);
	if (!l->buf || l->fn_make < 0 || l->fn_check < 0) {
		failf(b, l->who, "load setup: functions %d %d", l->fn_make, l->fn_check);
		return -1;
	}
	return 0;
}

/* Runs the load until the phase changes; then finishes it. */
static void load_run(struct load *l)
{
	int64_t start_end = now_ms() + START_MS;
	uint32_t ph;

	/* The supervisor starts the load once the attached programs run
	 * (bounded: it aborts the epoch otherwise). */
	while (phase_of(l->b) == PH_START && now_ms() < start_end)
		sleep_ms(5);
	while ((ph = phase_of(l->b)) == PH_RUN)
		load_step(l);
	if (ph == PH_DEAD_FS || ph == PH_DEAD_DRIVER) {
		load_probe(l);
		load_finish(l, now_ms() + DEAD_MS);
	} else {
		load_finish(l, now_ms() + RESULT_MS);
	}
	free(l->buf);
	l->buf = NULL;
}

/* ------------------------------------------------------------------ */
/* Roles                                                               */

static struct board *board_map(int fd)
{
	void *m = mmap(NULL, sizeof(struct board), PROT_READ | PROT_WRITE,
		       MAP_SHARED, fd, 0);

	return m == MAP_FAILED ? NULL : m;
}

/* The driver's publisher: the runtime's pids, through the API, for the
 * killer.  Its calls are watched like the load's. */
struct publisher {
	struct board *b;
	struct shoal_runtime *rt;
	uint32_t epoch;
	int margin;
	_Atomic bool stop;
};

static void publish_workers(struct publisher *pb)
{
	struct part *p = &pb->b->parts[PUBLISHER];
	struct shoal_runtime_info info;
	int32_t pids[MAXW];
	int64_t t0 = op_begin(p, OP_INFO, PROMPT_MS);
	int rc = shoal_runtime_info(pb->rt, &info, pids, MAXW);

	op_end_p(pb->b, p, "publisher", pb->margin, OP_INFO, t0, -1, rc);
	if (rc)
		return;
	for (uint32_t i = 0; i < info.workers_alive && i < MAXW; i++)
		atomic_store_explicit(&pb->b->workers[i], pids[i], memory_order_relaxed);
	atomic_store_explicit(&pb->b->nworkers,
			      info.workers_alive < MAXW ? info.workers_alive : MAXW,
			      memory_order_release);
	atomic_store_explicit(&pb->b->fs_pid, info.fork_server_pid, memory_order_relaxed);
}

static void publish_actors(struct publisher *pb)
{
	struct part *p = &pb->b->parts[PUBLISHER];
	struct shoal_actor acts[MAX_ACTORS];
	uint32_t n = 0;
	int64_t t0 = op_begin(p, OP_INFO, PROMPT_MS);
	int total = shoal_actor_list(pb->rt, acts, MAX_ACTORS);

	for (int i = 0; i < total && i < MAX_ACTORS; i++) {
		struct shoal_actor_info ai;

		if (shoal_actor_info(pb->rt, acts[i], &ai) == 0 && ai.pid > 0 &&
		    ai.state != SHOAL_ACTOR_DEAD)
			atomic_store_explicit(&pb->b->actors[n++], ai.pid,
					      memory_order_relaxed);
	}
	op_end_p(pb->b, p, "publisher", pb->margin, OP_INFO, t0, -1,
		 total < 0 ? total : 0);
	atomic_store_explicit(&pb->b->nactors, n, memory_order_release);
}

static void *publisher_main(void *arg)
{
	struct publisher *pb = arg;

	while (!atomic_load(&pb->stop)) {
		publish_workers(pb);
		publish_actors(pb);
		atomic_store_explicit(&pb->b->tgt_epoch, pb->epoch, memory_order_release);
		sleep_ms(10);
	}
	atomic_store_explicit(&pb->b->tgt_epoch, 0, memory_order_release);
	return NULL;
}

static int driver_start(struct board *b, const struct role_args *ra,
			struct shoal_runtime **rt)
{
	struct shoal_runtime_options o = SHOAL_RUNTIME_OPTIONS_INIT;
	struct shoal_registry *reg;
	struct part *p = &b->parts[0];
	int64_t t0;
	int rc = make_registry(&reg);

	if (rc) {
		failf(b, "driver", "registry: %s", shoal_strerror(rc));
		return rc;
	}
	o.num_workers = NUM_WORKERS;
	o.max_actors = MAX_ACTORS;
	o.store.capacity = STORE_CAPACITY;
	o.name = ra->name;
	t0 = op_begin(p, OP_START, START_MS);
	rc = shoal_runtime_start(reg, &o, rt);
	op_end_p(b, p, "driver", ra->margin, OP_START, t0, START_MS, rc);
	shoal_registry_close(reg);
	if (rc)
		failf(b, "driver", "runtime start: %s", shoal_strerror(rc));
	return rc;
}

static void list_leftovers(struct shoal_store *st)
{
	struct shoal_object_info infos[16];
	char hex[SHOAL_ID_HEX_LEN + 1];
	int n = shoal_list(st, infos, 16);

	for (int i = 0; i < n && i < 16; i++) {
		id_hex(infos[i].id, hex);
		fprintf(stderr, "chaos: note: left in the store after the load: %s %"
			PRIu64 " bytes, state %u, holds %u, pins %u, creator %d\n",
			hex, infos[i].data_size, infos[i].state, infos[i].holds,
			infos[i].pins, (int)infos[i].creator_pid);
	}
}

static uint64_t bytes_now(struct shoal_store *st)
{
	struct shoal_store_stats s;

	shoal_store_reap(st);
	for (int i = 0; i < 1000 && shoal_evict(st, UINT64_MAX) > 0; i++)
		;
	return shoal_store_stats(st, &s) ? UINT64_MAX : s.bytes_used;
}

/* --settle: the holds a submitter keeps on the arguments of its done
 * tasks go only inside later submits and calls, 8 at a time
 * (runtime/pending.c, issue 8 point 9).  Submits trivial tasks until the
 * bytes are back or 64 rounds passed. */
static uint64_t driver_settle(struct load *l, uint64_t before)
{
	uint64_t bytes = bytes_now(l->st);

	for (int i = 0; i < 64 && bytes != before; i++) {
		uint64_t s = 1;
		uint32_t z = 64, busy = 0;
		struct shoal_args a;
		shoal_id ref;

		args_seed_size(&a, &s, &z);
		shoal_args_bytes(&a, &busy, sizeof busy);
		if (!x_submit(l, l->fn_make, &a, 0, &ref)) {
			pend_add(l, ref, s, PK_MAKE);
			load_finish(l, now_ms() + RESULT_MS);
		}
		bytes = bytes_now(l->st);
	}
	return bytes;
}

/* Everything dropped: after evicting what nobody holds, bytes_used must
 * be back to what it was after start. */
static void driver_check_bytes(struct load *l, uint32_t epoch, uint64_t before,
			       bool settle)
{
	struct board *b = l->b;
	uint64_t after = bytes_now(l->st), settled = after;

	if (after != before)
		list_leftovers(l->st);
	if (after != before && settle)
		settled = driver_settle(l, before);
	atomic_store(&b->bytes_before, before);
	atomic_store(&b->bytes_after, after);
	atomic_store(&b->bytes_settled, settled);
	atomic_store(&b->bytes_epoch, epoch);
	if (settled != before)
		failf(b, "driver", "LEAK: bytes_used %" PRIu64 " after everything was "
		      "dropped, %" PRIu64 " after start%s", settled, before,
		      settle ? " (after --settle)" : "");
}

/* Waits (bounded) until the supervisor says the attached programs ended. */
static void driver_wait_attached(struct board *b, uint32_t epoch)
{
	int64_t end = now_ms() + END_MS + 10000;

	while (atomic_load(&b->attached_done) != epoch && now_ms() < end)
		sleep_ms(10);
	if (atomic_load(&b->attached_done) != epoch)
		failf(b, "driver", "attached programs did not end within %d ms",
		      END_MS + 10000);
}

static int driver_main(const struct role_args *ra)
{
	struct board *b = board_map(ra->board_fd);
	struct publisher pb = {0};
	struct shoal_store_stats s;
	struct shoal_runtime *rt;
	struct load l;
	pthread_t th;
	uint32_t fails0, ph;
	int64_t t0;
	int rc;

	if (!b || b->magic != BOARD_MAGIC)
		return 2;
	fails0 = atomic_load(&b->failures);
	if (driver_start(b, ra, &rt))
		return 1;
	if (shoal_store_stats(shoal_runtime_store(rt), &s))
		s.bytes_used = UINT64_MAX;
	if (load_init(&l, b, ra, rt))
		return 1;
	for (int k = 0; k < NKEEPERS; k++)
		keeper(&l, k);
	pb = (struct publisher){.b = b, .rt = rt, .epoch = ra->epoch, .margin = ra->margin};
	pthread_create(&th, NULL, publisher_main, &pb);
	atomic_store_explicit(&b->ready, ra->epoch, memory_order_release);
	load_run(&l);
	ph = phase_of(b);
	if (ph == PH_STOP) {
		driver_wait_attached(b, ra->epoch);
		driver_check_bytes(&l, ra->epoch, s.bytes_used, b->settle);
	}
	atomic_store(&pb.stop, true);
	pthread_join(th, NULL);
	t0 = op_begin(l.p, OP_SHUTDOWN, PROMPT_MS * 10);
	rc = shoal_runtime_shutdown(rt);
	op_end_p(b, l.p, "driver", ra->margin, OP_SHUTDOWN, t0, PROMPT_MS * 10, rc);
	if (rc && ph == PH_STOP)
		failf(b, "driver", "shutdown returned %s", shoal_strerror(rc));
	return atomic_load(&b->failures) != fails0 ? 1 : 0;
}

static int attached_main(const struct role_args *ra)
{
	struct board *b = board_map(ra->board_fd);
	struct shoal_runtime *rt;
	struct part *p;
	struct load l;
	uint32_t fails0;
	int64_t t0;
	int rc;

	if (!b || b->magic != BOARD_MAGIC || ra->index < 1 || ra->index > 2)
		return 2;
	p = &b->parts[ra->index];
	fails0 = atomic_load(&b->failures);
	t0 = op_begin(p, OP_ATTACH, PROMPT_MS);
	rc = op_end_p(b, p, "attached", ra->margin, OP_ATTACH, t0, -1,
		      shoal_runtime_attach(ra->name, &rt));
	if (rc) {
		if (phase_of(b) == PH_RUN)
			fprintf(stderr, "chaos: note: attach returned %s\n",
				shoal_strerror(rc));
		return 3; /* the supervisor starts it again while the load runs */
	}
	if (load_init(&l, b, ra, rt))
		return 1;
	load_run(&l);
	t0 = op_begin(p, OP_DETACH, PROMPT_MS);
	rc = op_end_p(b, p, "attached", ra->margin, OP_DETACH, t0, -1,
		      shoal_runtime_detach(rt));
	if (rc)
		failf(b, "attached", "detach returned %s", shoal_strerror(rc));
	return atomic_load(&b->failures) != fails0 ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* The supervisor                                                      */

struct kill_rec {
	int64_t t_ms;
	int kind;
	int pid;
};

#define KILL_LOG 64

struct sup {
	struct board *b;
	int board_fd;
	char exe[4096];
	int runid;
	uint64_t seed;
	int margin;
	bool kill_all, gdb, keep_going, verbose, cross_deps, settle, no_result_args;
	bool no_parked;
	int seconds;              /* 0: until kills_target */
	uint64_t kills_target;    /* 0: until seconds */
	int kill_min_ms, kill_max_ms;
	unsigned kinds;           /* mask of enum kill_kind */
	uint32_t epoch;
	char name[64];            /* this epoch's segment */
	char marker[64];          /* CHAOS_RUN=<run>.<epoch> */
	_Atomic int32_t driver_pid;
	_Atomic bool driver_killed;
	_Atomic bool done;
	_Atomic uint64_t kills[NKINDS];
	_Atomic uint64_t kills_total;
	pthread_mutex_t log_lock;
	struct kill_rec log[KILL_LOG];
	uint64_t nlog;
	int64_t run_start_ms;
	int64_t attached_retry_ms[3];
	uint64_t hang_seq[NPARTS];
	bool stall_said[NPARTS];
	bool fatal;               /* a hang: the run stops */
	bool diag_done;
	_Atomic bool gave_up;
	int64_t last_turn_ns;
	uint32_t epochs;
};

static bool mode_over(struct sup *s)
{
	int64_t ran = now_ms() - s->run_start_ms;

	if (!s->kills_target)
		return ran >= (int64_t)s->seconds * 1000;
	if (atomic_load(&s->kills_total) >= s->kills_target)
		return true;
	if (ran < (int64_t)MAX_RUN_S * 1000)
		return false;
	if (!atomic_exchange(&s->gave_up, true)) /* killer and main thread */
		failf(s->b, "supervisor", "%" PRIu64 " kills of %" PRIu64 " after %d s",
		      atomic_load(&s->kills_total), s->kills_target, MAX_RUN_S);
	return true;
}

/* Spawning ----------------------------------------------------------- */

static pid_t spawn_role(struct sup *s, const char *role, int index)
{
	char fd[16], idx[16], ep[16], seed[32], margin[16];
	char *argv[] = {s->exe, "--role", (char *)role, "--board", fd, "--name",
			s->name, "--index", idx, "--epoch", ep, "--seed", seed,
			"--margin", margin, NULL};
	char **envp;
	size_t n = 0;
	pid_t parent = getpid(), pid;

	snprintf(fd, sizeof fd, "%d", s->board_fd);
	snprintf(idx, sizeof idx, "%d", index);
	snprintf(ep, sizeof ep, "%u", s->epoch);
	snprintf(seed, sizeof seed, "%" PRIu64, s->seed + (uint64_t)index);
	snprintf(margin, sizeof margin, "%d", s->margin);
	while (environ[n])
		n++;
	envp = calloc(n + 2, sizeof *envp);
	if (!envp)
		return -1;
	memcpy(envp, environ, n * sizeof *envp);
	envp[n] = s->marker;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		/* Dies with the supervisor (then the driver's fork server
		 * cleans the runtime up). */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
			_exit(TU_EXIT_ORPHAN);
		execve(s->exe, argv, envp);
		_exit(127);
	}
	free(envp);
	return pid;
}

static void spawn_attached(struct sup *s, int i)
{
	struct part *p = &s->b->parts[i];
	pid_t pid;

	atomic_store(&p->op_kind, -1);
	atomic_store(&p->life_start_ns, now_ns());
	atomic_store(&p->progress_ns, now_ns());
	pid = spawn_role(s, "attached", i);
	if (pid < 0) {
		failf(s->b, "supervisor", "fork: %s", strerror(errno));
		return;
	}
	atomic_fetch_add(&p->lives, 1);
	atomic_store(&p->pid, pid);
}

/* Identity and kills ------------------------------------------------- */

/* True if pid's environment holds this epoch's marker. */
static bool has_marker(pid_t pid, const char *marker)
{
	char path[64], env[1 << 15];
	size_t len = strlen(marker);
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, env, sizeof env - 1);
	close(fd);
	if (n <= 0)
		return false;
	env[n] = '\0';
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(env + i) + 1)
		if (!strncmp(env + i, marker, len) && env[i + (ssize_t)len] == '\0')
			return true;
	return false;
}

/* SIGKILLs pid if it is a process of this epoch; true if it was sent.
 * The pidfd is taken first, so the signal reaches the process whose
 * environment was checked, or none. */
static bool kill_ours(pid_t pid, const char *marker, int *pidfd_out)
{
	int pfd;
	bool ok = false;

	if (pid <= 0 || pid == getpid())
		return false;
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0)
		return false;
	if (has_marker(pid, marker))
		ok = syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0) == 0;
	if (ok && pidfd_out)
		*pidfd_out = pfd;
	else
		close(pfd);
	return ok;
}

static void log_kill(struct sup *s, int kind, pid_t pid)
{
	pthread_mutex_lock(&s->log_lock);
	s->log[s->nlog++ % KILL_LOG] = (struct kill_rec){now_ms() - s->run_start_ms,
							 kind, (int)pid};
	pthread_mutex_unlock(&s->log_lock);
	atomic_fetch_add(&s->kills[kind], 1);
	atomic_fetch_add(&s->kills_total, 1);
	if (s->verbose)
		fprintf(stderr, "chaos: t=%.3fs kill %s %d\n",
			(double)(now_ns() - s->b->t0_ns) / 1e9, kind_names[kind], (int)pid);
}

/* A worker, as shoal_runtime_info listed it (the driver's publisher). */
static pid_t target_worker(struct sup *s, uint64_t r)
{
	uint32_t n = atomic_load_explicit(&s->b->nworkers, memory_order_acquire);

	return n ? atomic_load(&s->b->workers[r % n]) : 0;
}

/* An actor's process, as shoal_actor_list and _info listed it. */
static pid_t target_actor(struct sup *s, uint64_t r)
{
	uint32_t n = atomic_load_explicit(&s->b->nactors, memory_order_acquire);

	return n ? atomic_load(&s->b->actors[r % n]) : 0;
}

/* An attached program (the supervisor started it; it is started again). */
static pid_t target_attached(struct sup *s, uint64_t r)
{
	return atomic_load(&s->b->parts[1 + r % 2].pid);
}

/* The fork server, as shoal_runtime_info named it. */
static pid_t target_fs(struct sup *s, uint64_t r)
{
	(void)r;
	return atomic_load(&s->b->fs_pid);
}

static pid_t target_driver(struct sup *s, uint64_t r)
{
	(void)r;
	return atomic_load(&s->driver_pid);
}

/* Each kind: its share of the kills, and where its pids come from. */
static const struct {
	int weight;
	pid_t (*target)(struct sup *s, uint64_t r);
} kinds[NKINDS] = {
	[K_WORKER] = {42, target_worker},
	[K_ACTOR] = {28, target_actor},
	[K_ATTACHED] = {22, target_attached},
	[K_FS] = {2, target_fs},
	[K_DRIVER] = {2, target_driver},
};

static bool kind_on(struct sup *s, int kind)
{
	return kinds[kind].weight > 0 && (s->kinds & (1u << kind));
}

static pid_t pick_target(struct sup *s, int kind)
{
	uint64_t r = tu_splitmix((uint64_t)now_ns() ^ s->seed);

	return kinds[kind].target ? kinds[kind].target(s, r) : 0;
}

/* A kind by weight among those on; -1 if none is. */
static int pick_kind(struct sup *s, uint64_t *r)
{
	int total = 0, k;

	for (k = 0; k < NKINDS; k++)
		total += kind_on(s, k) ? kinds[k].weight : 0;
	if (!total)
		return -1;
	total = (int)rnd_below(r, (uint32_t)total);
	for (k = 0; k < NKINDS; k++) {
		total -= kind_on(s, k) ? kinds[k].weight : 0;
		if (total < 0)
			break;
	}
	return k;
}

/* Waits (bounded) until the process behind pidfd is gone. */
static bool wait_gone(int pidfd, int ms)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r == 1;
}

static bool targets_live(struct sup *s)
{
	struct board *b = s->b;

	return phase_of(b) == PH_RUN && atomic_load(&b->ready) == s->epoch &&
	       atomic_load(&b->tgt_epoch) == s->epoch && !mode_over(s);
}

/* The fork server or the driver: killed, then (once it is gone) the
 * phase says so, and the epoch ends. */
static void kill_epoch(struct sup *s, int kind, pid_t pid)
{
	int pfd = -1;

	if (kind == K_DRIVER)
		atomic_store(&s->driver_killed, true);
	if (!kill_ours(pid, s->marker, &pfd)) {
		atomic_store(&s->driver_killed, false);
		return;
	}
	log_kill(s, kind, pid);
	if (!wait_gone(pfd, 5000))
		failf(s->b, "supervisor", "%s %d still there 5 s after SIGKILL",
		      kind_names[kind], (int)pid);
	close(pfd);
	atomic_store(&s->b->phase, kind == K_FS ? PH_DEAD_FS : PH_DEAD_DRIVER);
}

/* One kill: a random kind, or the next one on if it has no target now. */
static void kill_one(struct sup *s, uint64_t *r)
{
	int kind = pick_kind(s, r);
	pid_t pid = 0;

	for (int tries = 0; kind >= 0 && tries < NKINDS; tries++) {
		pid = pick_target(s, kind);
		if (pid > 0)
			break;
		do
			kind = (kind + 1) % NKINDS;
		while (!kind_on(s, kind));
	}
	if (pid <= 0)
		return;
	if (kind == K_FS || kind == K_DRIVER)
		kill_epoch(s, kind, pid);
	else if (kill_ours(pid, s->marker, NULL))
		log_kill(s, kind, pid);
}

static void *killer_main(void *arg)
{
	struct sup *s = arg;
	uint64_t r = tu_splitmix(s->seed ^ 0x6b696c6cull) | 1;

	while (!atomic_load(&s->done)) {
		int64_t at = now_ms() + rnd_range(&r, s->kill_min_ms, s->kill_max_ms);

		while (now_ms() < at && !atomic_load(&s->done))
			sleep_ms((int)(at - now_ms() < 50 ? at - now_ms() : 50));
		if (targets_live(s))
			kill_one(s, &r);
	}
	return NULL;
}

/* Diagnostics --------------------------------------------------------- */

static void show_file(const char *what, pid_t pid, const char *file)
{
	char path[96], buf[512];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fprintf(stderr, "chaos:   %s %d %s: %s\n", what, (int)pid, file, buf);
}

static void diag_pid(struct sup *s, const char *what, pid_t pid)
{
	char cmd[160];

	if (pid <= 0)
		return;
	show_file(what, pid, "stat");
	show_file(what, pid, "wchan");
	show_file(what, pid, "syscall");
	if (s->gdb) {
		snprintf(cmd, sizeof cmd, "timeout 30 gdb -p %d -batch -nx -q -ex "
			 "'thread apply all bt' 2>/dev/null | grep '^#' >&2", (int)pid);
		fprintf(stderr, "chaos:   %s %d backtrace:\n", what, (int)pid);
		if (system(cmd) == -1)
			fprintf(stderr, "chaos:   (gdb did not run)\n");
	}
}

static void diag_all(struct sup *s)
{
	struct board *b = s->b;
	uint64_t first;

	fprintf(stderr, "chaos: the processes:\n");
	diag_pid(s, "driver", atomic_load(&s->driver_pid));
	for (int i = 1; i < 3; i++)
		diag_pid(s, "attached", atomic_load(&b->parts[i].pid));
	diag_pid(s, "fork_server", atomic_load(&b->fs_pid));
	for (uint32_t i = 0; i < atomic_load(&b->nworkers) && i < MAXW; i++)
		diag_pid(s, "worker", atomic_load(&b->workers[i]));
	for (uint32_t i = 0; i < atomic_load(&b->nactors) && i < MAX_ACTORS; i++)
		diag_pid(s, "actor", atomic_load(&b->actors[i]));
	pthread_mutex_lock(&s->log_lock);
	first = s->nlog > 12 ? s->nlog - 12 : 0;
	fprintf(stderr, "chaos: the last kills (ms from the start):\n");
	for (uint64_t k = first; k < s->nlog; k++) {
		struct kill_rec *kr = &s->log[k % KILL_LOG];

		fprintf(stderr, "chaos:   t=%" PRId64 " %s %d\n", kr->t_ms,
			kind_names[kr->kind], kr->pid);
	}
	pthread_mutex_unlock(&s->log_lock);
	s->last_turn_ns = 0; /* the time spent here is no stall */
}

/* Watchdog ------------------------------------------------------------- */

static pid_t part_pid(struct sup *s, int i)
{
	return i == 0 || i == PUBLISHER ? atomic_load(&s->driver_pid)
					: atomic_load(&s->b->parts[i].pid);
}

static void watch_part(struct sup *s, int i)
{
	struct part *p = &s->b->parts[i];
	int kind = atomic_load_explicit(&p->op_kind, memory_order_acquire);
	uint64_t seq = atomic_load(&p->op_seq);
	int64_t t = now_ns(), age;
	pid_t pid = part_pid(s, i);

	if (pid <= 0)
		return;
	if (kind >= 0 && kind < NOPS && seq != s->hang_seq[i]) {
		age = (t - atomic_load(&p->op_start_ns)) / 1000000;
		if (age > atomic_load(&p->op_bound_ms) + HANG_EXTRA_MS) {
			s->hang_seq[i] = seq;
			failf(s->b, "supervisor", "HANG: %s %d has been in %s for %" PRId64
			      " ms (bound %d ms)", role_name(i), (int)pid, op_names[kind],
			      age, atomic_load(&p->op_bound_ms));
			diag_all(s);
			s->fatal = true;
		}
	}
	if (i == PUBLISHER || phase_of(s->b) != PH_RUN || s->stall_said[i])
		return;
	age = (t - atomic_load(&p->progress_ns)) / 1000000;
	if (age > STALL_MS &&
	    (t - atomic_load(&p->life_start_ns)) / 1000000 > STALL_MS) {
		s->stall_said[i] = true;
		failf(s->b, "supervisor", "STALL: %s %d made no successful call for %"
		      PRId64 " ms", role_name(i), (int)pid, age);
		diag_all(s);
		s->fatal = true;
	}
}

static void watchdog(struct sup *s)
{
	for (int i = 0; i < NPARTS; i++)
		watch_part(s, i);
	if (s->fatal && !s->keep_going && phase_of(s->b) == PH_RUN)
		atomic_store(&s->b->phase, PH_ABORT);
}

/* Children ------------------------------------------------------------- */

static void child_ended(struct sup *s, pid_t pid, int st)
{
	struct board *b = s->b;

	if (pid == atomic_load(&s->driver_pid)) {
		atomic_store(&s->driver_pid, 0);
		atomic_store(&b->parts[0].op_kind, -1);
		atomic_store(&b->parts[PUBLISHER].op_kind, -1);
		if (WIFSIGNALED(st) && (WTERMSIG(st) != SIGKILL ||
					!atomic_load(&s->driver_killed)))
			failf(b, "supervisor", "CRASH: driver %d died of signal %d",
			      (int)pid, WTERMSIG(st));
		if (WIFEXITED(st) && WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 1)
			failf(b, "supervisor", "driver %d exited with %d", (int)pid,
			      WEXITSTATUS(st));
		return;
	}
	for (int i = 1; i < 3; i++) {
		if (pid != atomic_load(&b->parts[i].pid))
			continue;
		atomic_store(&b->parts[i].pid, 0);
		atomic_store(&b->parts[i].op_kind, -1);
		if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL)
			failf(b, "supervisor", "CRASH: attached %d died of signal %d",
			      (int)pid, WTERMSIG(st));
		if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
			s->attached_retry_ms[i] = now_ms() + 100;
		else if (WIFEXITED(st) && WEXITSTATUS(st) > 1)
			failf(b, "supervisor", "attached %d exited with %d", (int)pid,
			      WEXITSTATUS(st));
		return;
	}
	/* A process of the runtime the subreaper inherited: nothing to do. */
}

static void reap(struct sup *s)
{
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		child_ended(s, pid, st);
}

static void respawn_attached(struct sup *s)
{
	for (int i = 1; i < 3; i++)
		if (atomic_load(&s->b->parts[i].pid) == 0 &&
		    now_ms() >= s->attached_retry_ms[i])
			spawn_attached(s, i);
}

static bool attached_alive(struct sup *s)
{
	return atomic_load(&s->b->parts[1].pid) || atomic_load(&s->b->parts[2].pid);
}

/* How late this loop woke (it sleeps 10 ms a turn). */
static void note_lag(struct sup *s)
{
	int64_t t = now_ns(), gap = s->last_turn_ns ? (t - s->last_turn_ns) / 1000000 : 0;

	s->last_turn_ns = t;
	atomic_store(&s->b->tick_ns, t);
	if (gap < LAG_MS)
		return;
	note_max(&s->b->max_lag_ms, gap);
	atomic_store(&s->b->lag_end_ns, t);
	fprintf(stderr, "chaos: note: the supervisor ran %" PRId64 " ms late\n", gap);
}

/* A program asked to see the processes: the first time, show them. */
static void serve_diag(struct sup *s)
{
	uint32_t req = atomic_load(&s->b->diag_req);

	if (req == atomic_load(&s->b->diag_ack))
		return;
	if (!s->diag_done) {
		s->diag_done = true;
		diag_all(s);
	}
	atomic_store(&s->b->diag_ack, req);
}

/* Supervises until cond(s) holds or ms passed; false at the deadline. */
static bool supervise_until(struct sup *s, bool (*cond)(struct sup *), int ms)
{
	int64_t end = now_ms() + ms;

	for (;;) {
		note_lag(s);
		reap(s);
		watchdog(s);
		serve_diag(s);
		if (cond(s))
			return true;
		if (now_ms() >= end)
			return false;
		if (phase_of(s->b) == PH_RUN)
			respawn_attached(s);
		sleep_ms(10);
	}
}

static bool ready_or_gone(struct sup *s)
{
	return atomic_load(&s->b->ready) == s->epoch || !atomic_load(&s->driver_pid);
}

static bool run_over(struct sup *s)
{
	return phase_of(s->b) != PH_RUN || mode_over(s);
}

static void progress_line(struct sup *s)
{
	static int64_t last;
	int64_t t = now_ms();

	if (t - last < 10000)
		return;
	last = t;
	fprintf(stderr, "chaos: t=%" PRId64 "s epoch %u kills %" PRIu64 " failures %u\n",
		(t - s->run_start_ms) / 1000, s->epoch, atomic_load(&s->kills_total),
		atomic_load(&s->b->failures));
}

static bool run_over_or_progress(struct sup *s)
{
	progress_line(s);
	return run_over(s);
}

static bool no_attached(struct sup *s)
{
	return !attached_alive(s);
}

static bool no_driver(struct sup *s)
{
	return !atomic_load(&s->driver_pid);
}

/* The epoch's processes and file ----------------------------------------- */

/* Pids of live processes carrying this epoch's marker (up to cap). */
static int marked_pids(struct sup *s, pid_t *out, int cap)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL && n < cap) {
		pid_t pid = (pid_t)atoi(e->d_name);

		if (pid > 0 && pid != getpid() && has_marker(pid, s->marker))
			out[n++] = pid;
	}
	closedir(d);
	return n;
}

static bool epoch_clean(struct sup *s)
{
	char path[96];
	pid_t pids[1];

	snprintf(path, sizeof path, "/dev/shm%s", s->name);
	return marked_pids(s, pids, 1) == 0 && access(path, F_OK) != 0;
}

/* Everything of the epoch must go by itself within EPOCH_CLEAN_MS; what
 * is left is a failure, killed and removed here. */
static void epoch_cleanup(struct sup *s)
{
	char path[96];
	pid_t pids[64];
	int n;

	if (supervise_until(s, epoch_clean, EPOCH_CLEAN_MS))
		return;
	n = marked_pids(s, pids, 64);
	for (int i = 0; i < n; i++) {
		char what[32];

		snprintf(what, sizeof what, "left-behind");
		diag_pid(s, what, pids[i]);
		failf(s->b, "supervisor", "LEFT BEHIND: process %d of epoch %u is "
		      "still there %d ms after the epoch ended", (int)pids[i],
		      s->epoch, EPOCH_CLEAN_MS);
		kill_ours(pids[i], s->marker, NULL);
	}
	snprintf(path, sizeof path, "/dev/shm%s", s->name);
	if (access(path, F_OK) == 0) {
		failf(s->b, "supervisor", "LEFT BEHIND: %s after the epoch ended", path);
		unlink(path);
	}
	supervise_until(s, epoch_clean, 2000);
}

/* Kills the programs the supervisor started (an aborted epoch). */
static void kill_programs(struct sup *s)
{
	pid_t d = atomic_load(&s->driver_pid);

	atomic_store(&s->driver_killed, true);
	if (d > 0)
		kill(d, SIGKILL); /* our child, not reaped yet */
	for (int i = 1; i < 3; i++) {
		pid_t a = atomic_load(&s->b->parts[i].pid);

		if (a > 0)
			kill(a, SIGKILL);
	}
}

static void epoch_reset(struct sup *s)
{
	struct board *b = s->b;

	s->epoch++;
	s->epochs++;
	snprintf(s->name, sizeof s->name, "/shoal-chaos-%d-%u", s->runid, s->epoch);
	snprintf(s->marker, sizeof s->marker, "CHAOS_RUN=%d.%u", s->runid, s->epoch);
	atomic_store(&b->tgt_epoch, 0);
	atomic_store(&b->nworkers, 0);
	atomic_store(&b->nactors, 0);
	atomic_store(&b->fs_pid, 0);
	atomic_store(&s->driver_killed, false);
	for (int i = 0; i < NPARTS; i++) {
		atomic_store(&b->parts[i].op_kind, -1);
		atomic_store(&b->parts[i].life_start_ns, now_ns());
		atomic_store(&b->parts[i].progress_ns, now_ns());
		s->stall_said[i] = false;
	}
	atomic_store(&b->epoch, s->epoch);
	atomic_store(&b->phase, PH_START);
}

/* The end of an epoch: every program ends its load within its bound. */
static void epoch_end(struct sup *s)
{
	uint32_t ph = phase_of(s->b);

	if (ph == PH_RUN)
		atomic_store(&s->b->phase, ph = PH_STOP);
	if (ph == PH_ABORT)
		kill_programs(s);
	if (!supervise_until(s, no_attached, END_MS + DEAD_MS)) {
		failf(s->b, "supervisor", "HANG: attached programs still running %d ms "
		      "after the load ended", END_MS + DEAD_MS);
		diag_all(s);
		kill_programs(s);
		supervise_until(s, no_attached, 5000);
	}
	atomic_store(&s->b->attached_done, s->epoch);
	if (!supervise_until(s, no_driver, END_MS + 20000)) {
		failf(s->b, "supervisor", "HANG: the driver still running %d ms after "
		      "the attached programs ended", END_MS + 20000);
		diag_all(s);
		kill_programs(s);
		supervise_until(s, no_driver, 5000);
	}
	epoch_cleanup(s);
}

/* One runtime: start, load and kills, end.  False when the run is over. */
static bool run_epoch(struct sup *s)
{
	pid_t d;

	epoch_reset(s);
	d = spawn_role(s, "driver", 0);
	if (d < 0) {
		failf(s->b, "supervisor", "fork: %s", strerror(errno));
		return false;
	}
	atomic_store(&s->driver_pid, d);
	if (!supervise_until(s, ready_or_gone, START_MS + 5000) ||
	    atomic_load(&s->b->ready) != s->epoch) {
		failf(s->b, "supervisor", "the driver of epoch %u did not start",
		      s->epoch);
		atomic_store(&s->b->phase, PH_ABORT);
		epoch_end(s);
		return false;
	}
	for (int i = 1; i < 3; i++)
		spawn_attached(s, i);
	atomic_store(&s->b->phase, PH_RUN);
	supervise_until(s, run_over_or_progress, INT32_MAX);
	epoch_end(s);
	return !s->fatal && !mode_over(s);
}

/* The end: JSON ---------------------------------------------------------- */

static void print_errors(struct board *b)
{
	struct {
		int code;
		uint64_t n;
	} sum[NCODES * NPARTS];
	int nsum = 0;
	char cb[16];

	for (int i = 0; i < NPARTS; i++)
		for (int k = 0; k < NCODES; k++) {
			int code = atomic_load(&b->parts[i].errs[k].code);
			uint64_t n = atomic_load(&b->parts[i].errs[k].n);
			int j = 0;

			if (!code || !n)
				continue;
			while (j < nsum && sum[j].code != code)
				j++;
			if (j == nsum) {
				sum[j].code = code;
				sum[j].n = 0;
				nsum++;
			}
			sum[j].n += n;
		}
	printf("\"errors\":{");
	for (int j = 0; j < nsum; j++)
		printf("%s\"%s\":%" PRIu64, j ? "," : "",
		       code_name(sum[j].code, cb, sizeof cb), sum[j].n);
	printf("}");
}

static void print_json(struct sup *s, double secs)
{
	struct board *b = s->b;
	int64_t over = INT64_MIN, untimed = 0;
	uint64_t excused = 0;

	printf("{\"chaos\":\"%s\",\"mode\":\"%s\",\"kill_all\":%s,\"seed\":%" PRIu64
	       ",\"seconds\":%.1f,\"epochs\":%u,\"kills\":{",
	       atomic_load(&b->failures) ? "FAIL" : "ok",
	       s->kills_target ? "long" : "timed", s->kill_all ? "true" : "false",
	       s->seed, secs, s->epochs);
	for (int k = 0; k < NKINDS; k++)
		printf("\"%s\":%" PRIu64 ",", kind_names[k], atomic_load(&s->kills[k]));
	printf("\"total\":%" PRIu64 "},\"ops\":{", atomic_load(&s->kills_total));
	for (int op = 0; op < NOPS; op++) {
		uint64_t n = 0, c = 0;

		for (int i = 0; i < NPARTS; i++) {
			n += atomic_load(&b->parts[i].ops[op]);
			c += atomic_load(&b->parts[i].calls[op]);
		}
		printf("%s\"%s\":[%" PRIu64 ",%" PRIu64 "]", op ? "," : "",
		       op_names[op], n, c);
	}
	printf("},\"restarts_attached\":%u,",
	       atomic_load(&b->parts[1].lives) + atomic_load(&b->parts[2].lives));
	print_errors(b);
	for (int i = 0; i < NPARTS; i++) {
		if (atomic_load(&b->parts[i].max_overrun_ms) > over)
			over = atomic_load(&b->parts[i].max_overrun_ms);
		if (atomic_load(&b->parts[i].max_untimed_ms) > untimed)
			untimed = atomic_load(&b->parts[i].max_untimed_ms);
	}
	for (int i = 0; i < NPARTS; i++)
		excused += atomic_load(&b->parts[i].excused);
	printf(",\"max_overrun_ms\":%" PRId64 ",\"max_untimed_call_ms\":%" PRId64
	       ",\"excused_overruns\":%" PRIu64 ",\"supervisor_max_lag_ms\":%" PRId64
	       ",\"bytes_used_before\":%" PRIu64 ",\"bytes_used_after\":%" PRIu64
	       ",\"bytes_used_settled\":%" PRIu64
	       ",\"bytes_checked\":%s,\"failures\":%u}\n",
	       over == INT64_MIN ? 0 : over, untimed, excused,
	       atomic_load(&b->max_lag_ms), atomic_load(&b->bytes_before),
	       atomic_load(&b->bytes_after), atomic_load(&b->bytes_settled),
	       atomic_load(&b->bytes_epoch) ? "true" : "false",
	       atomic_load(&b->failures));
	fflush(stdout);
}

static void print_failures(struct board *b)
{
	uint32_t n = atomic_load(&b->failures);

	if (!n)
		return;
	fprintf(stderr, "chaos: %u failure(s); the first ones:\n", n);
	for (uint32_t k = 0; k < n && k < NFAIL; k++)
		if (atomic_load_explicit(&b->fail_ready[k], memory_order_acquire))
			fprintf(stderr, "chaos:   %s\n", b->fails[k]);
}

static bool no_children(struct sup *s)
{
	(void)s;
	return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

/* SIGKILLs every child left (the subreaper's: all of the run's). */
static void kill_children(struct sup *s)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL) {
		char path[300], buf[512], *rp;
		pid_t pid = (pid_t)atoi(e->d_name);
		ssize_t n;
		int fd, ppid = 0;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		rp = strrchr(buf, ')');
		if (!rp || sscanf(rp + 2, "%*c %d", &ppid) != 1 || ppid != getpid())
			continue;
		diag_pid(s, "left-behind", pid);
		kill(pid, SIGKILL); /* our child: its pid is ours until reaped */
	}
	if (d)
		closedir(d);
	supervise_until(s, no_children, 5000);
}

/* No child may be left; nothing of the run in /dev/shm. */
static void final_check(struct sup *s)
{
	char prefix[64];
	struct dirent *e;
	DIR *d;

	if (!supervise_until(s, no_children, EPOCH_CLEAN_MS)) {
		failf(s->b, "supervisor", "LEFT BEHIND: processes of the run are still "
		      "there at the end");
		kill_children(s);
	}
	snprintf(prefix, sizeof prefix, "shoal-chaos-%d-", s->runid);
	d = opendir("/dev/shm");
	while (d && (e = readdir(d)) != NULL) {
		char path[300];

		if (strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(path, sizeof path, "/dev/shm/%s", e->d_name);
		failf(s->b, "supervisor", "LEFT BEHIND: %s at the end", path);
		unlink(path);
	}
	if (d)
		closedir(d);
}

static int board_create(struct sup *s)
{
	int fd = memfd_create("chaos-board", 0); /* inherited by the programs */

	if (fd < 0 || ftruncate(fd, sizeof(struct board)))
		return -1;
	s->board_fd = fd;
	s->b = board_map(fd);
	if (!s->b)
		return -1;
	s->b->magic = BOARD_MAGIC;
	s->b->cross_deps = s->cross_deps;
	s->b->settle = s->settle;
	s->b->no_result_args = s->no_result_args;
	s->b->no_parked = s->no_parked;
	s->b->t0_ns = now_ns();
	for (int i = 0; i < NPARTS; i++)
		atomic_store(&s->b->parts[i].op_kind, -1);
	return 0;
}

static int supervisor_main(struct sup *s)
{
	pthread_t killer;
	ssize_t n;

	n = readlink("/proc/self/exe", s->exe, sizeof s->exe - 1);
	if (n <= 0 || board_create(s)) {
		fprintf(stderr, "chaos: setup failed: %s\n", strerror(errno));
		return 1;
	}
	s->exe[n] = '\0';
	s->runid = (int)getpid();
	s->run_start_ms = now_ms();
	pthread_mutex_init(&s->log_lock, NULL);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	pthread_create(&killer, NULL, killer_main, s);
	while (run_epoch(s))
		;
	atomic_store(&s->done, true);
	pthread_join(killer, NULL);
	final_check(s);
	print_json(s, (double)(now_ms() - s->run_start_ms) / 1000.0);
	print_failures(s->b);
	return atomic_load(&s->b->failures) ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* Arguments                                                           */

static int usage(void)
{
	fprintf(stderr, "usage: chaos [--short | --long KILLS | --duration S] "
		"[--kill-all] [--kinds worker,actor,attached,fork_server,driver]\n"
		"       [--seed N] [--margin MS] [--kill-ms MIN,MAX] "
		"[--gdb] [--keep-going]\n"
		"       [--cross-deps] [--no-result-args] [--no-parked] [--settle] [-v]\n");
	return 2;
}

static int parse_role(int argc, char **argv, struct role_args *ra)
{
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--role"))
			ra->role = v;
		else if (!strcmp(k, "--board"))
			ra->board_fd = atoi(v);
		else if (!strcmp(k, "--name"))
			ra->name = v;
		else if (!strcmp(k, "--index"))
			ra->index = atoi(v);
		else if (!strcmp(k, "--epoch"))
			ra->epoch = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--seed"))
			ra->seed = strtoull(v, NULL, 10);
		else if (!strcmp(k, "--margin"))
			ra->margin = atoi(v);
		else
			return -1;
	}
	return ra->role && ra->name ? 0 : -1;
}

/* An option with a value; -1 if k is none of them or v is bad. */
static int parse_sup_value(struct sup *s, const char *k, const char *v)
{
	if (!strcmp(k, "--long")) {
		s->kills_target = strtoull(v, NULL, 10);
		s->seconds = 0;
	} else if (!strcmp(k, "--duration")) {
		s->seconds = atoi(v);
		s->kills_target = 0;
	} else if (!strcmp(k, "--seed")) {
		s->seed = strtoull(v, NULL, 10);
	} else if (!strcmp(k, "--margin")) {
		s->margin = atoi(v);
	} else if (!strcmp(k, "--kinds")) {
		s->kinds = 0;
		for (int i = 0; i < NKINDS; i++)
			if (strstr(v, kind_names[i]))
				s->kinds |= 1u << i;
		if (!s->kinds)
			return -1;
	} else if (!strcmp(k, "--kill-ms")) {
		if (sscanf(v, "%d,%d", &s->kill_min_ms, &s->kill_max_ms) != 2 ||
		    s->kill_min_ms < 1 || s->kill_max_ms < s->kill_min_ms)
			return -1;
	} else {
		return -1;
	}
	return 0;
}

static int parse_sup(int argc, char **argv, struct sup *s)
{
	s->seconds = SHORT_SECONDS;
	s->margin = DEFAULT_MARGIN_MS;
	s->kill_min_ms = 30;
	s->kill_max_ms = 150;
	s->seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 16;
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(k, "--short"))
			s->seconds = SHORT_SECONDS;
		else if (!strcmp(k, "--kill-all"))
			s->kill_all = true;
		else if (!strcmp(k, "--gdb"))
			s->gdb = true;
		else if (!strcmp(k, "--no-parked"))
			s->no_parked = true;
		else if (!strcmp(k, "--no-result-args"))
			s->no_result_args = true;
		else if (!strcmp(k, "--settle"))
			s->settle = true;
		else if (!strcmp(k, "--cross-deps"))
			s->cross_deps = true;
		else if (!strcmp(k, "--keep-going"))
			s->keep_going = true;
		else if (!strcmp(k, "-v"))
			s->verbose = true;
		else if (!v)
			return -1;
		else if (parse_sup_value(s, k, v))
			return -1;
		else
			i++;
	}
	if (!s->kinds)
		s->kinds = (1u << K_WORKER) | (1u << K_ACTOR) | (1u << K_ATTACHED) |
			   (s->kill_all ? (1u << K_FS) | (1u << K_DRIVER) : 0);
	return s->seconds > 0 || s->kills_target > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	static struct sup s;
	struct role_args ra = {.board_fd = -1, .margin = DEFAULT_MARGIN_MS};

	if (argc > 1 && !strcmp(argv[1], "--role")) {
		if (parse_role(argc, argv, &ra))
			return usage();
		if (!strcmp(ra.role, "driver"))
			return driver_main(&ra);
		if (!strcmp(ra.role, "attached"))
			return attached_main(&ra);
		return usage();
	}
	if (parse_sup(argc, argv, &s))
		return usage();
	return supervisor_main(&s);
}
