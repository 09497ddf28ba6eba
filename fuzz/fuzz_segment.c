/* SPDX-License-Identifier: MIT */
/*
 * fuzz/fuzz_segment.c - libFuzzer harness: a process that attaches to a
 * segment someone scribbled on (issue 9), and uses it.
 *
 * The world, built once (LLVMFuzzerInitialize): a private runtime with
 * one worker (two at most), a Box actor and a small store, brought into a
 * busy state: sealed objects of each kind of block (small, large, with
 * meta), objects held twice, pinned, deleted while pinned, evicted,
 * deleted while held, one half-written (unsealed), an error object, a
 * task parked on that unsealed object (a dependency), both workers
 * blocked in a get inside a task, a task left queued behind them, the
 * actor blocked in a call with more calls queued in its lane.  Its
 * segment is then read into a pristine image, and a named copy of it is
 * made in /dev/shm: every process the copy names (this one as the driver,
 * the fork server, the workers, the actor) is alive, so the copy looks
 * like a live runtime, but no process of the world ever maps the copy.
 * Only this harness does: what it finds is deterministic and reproduces
 * from its input alone.
 *
 * Each input: the copy is restored from the pristine image, then patched
 * (the input is a list of patches: a region, an offset in it, and bytes
 * or a word operation, below), then a second handle attaches to it by
 * name (shoal_runtime_attach or shoal_store_attach, the input's first
 * byte says which) and runs a fixed script over every ID of the world and
 * fresh ones: stats, list, contains, get, get_many, wait, error messages,
 * hold, drop, release, put, create, seal, abort, delete, evict, reap, and
 * with a runtime handle submits (a ref argument, by-value ones), lookup,
 * info, actor calls and sends, then detaches.  Any result code is fine;
 * a crash, an ASan or UBSan report, or a hang past libFuzzer's -timeout
 * is a finding.  Waits are polls, or 1 or 5 ms (first byte).
 *
 * Patch format (repeated to the end of the input):
 *   [phase << 7 | region] [op | width << 3] [offset, 3 bytes LE] [payload]
 *   phase   0: before the second handle attaches (what attach checks);
 *           1: once it is attached (another process scribbling while it
 *           runs: what attach checked may change under it)
 *   region  one of FZ_R_* (below) modulo their count: the segment header,
 *           process table, ledgers, directory stripes, probe bytes,
 *           directory, heap metadata, the runtime header, worker slots,
 *           function names, task records, task bits, run queue, classes,
 *           actor slots, lane owner records, lanes, arena, whole segment
 *   op      SET (width bytes follow), ADD (a signed byte), XOR (one bit,
 *           a byte names it), CONST (an index into interesting values:
 *           limits, powers of two, the world's pids and start time), COPY
 *           (the word at another offset of the region, 3 bytes), FILL (a
 *           byte value and a length), ZERO, ONES
 *   word ops write naturally aligned words of 1, 2, 4 or 8 bytes.
 *
 * Waits the library makes by design are kept short: the script stops
 * between steps after FZ_BUDGET_MS, two scribbles that cost a second each
 * by design are put back (fz_unwait), and an input slower than FZ_SLOW_MS
 * is not kept in the corpus.
 *
 * Known classes the library is being hardened against (issue 9) keep the
 * harness from getting anywhere else, so there are temporary masks, off
 * by default, clearly not part of what CI runs: FZ_MASK=ledger,repair,
 * heaplock,geometry puts back the words of those classes after the
 * patches (fz_masks below), FZ_SKIP=region,... drops every patch to the
 * regions named (FZ_R_* names).
 *
 * Processes: the world's runtime dies with this process (its fork server
 * watches the driver: workers and actor go with it); a janitor process,
 * forked first, unlinks the copy's name when this process is gone, however
 * it ended (a crash, libFuzzer's timeout, a kill).  A normal exit shuts
 * the runtime down and unlinks the copy itself (atexit).
 *
 * Built only in a fuzz build (meson -Dfuzz=true with clang: README).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "actlayout.h"
#include "lane.h"
#include "rtlayout.h"
#include "internal.h"

#define FZ_CAP (1u << 20)
#define FZ_BIG 40000u        /* above the heap's small classes: a page run */
#define FZ_NODE 0xf022u      /* forged IDs: not shoal_id_next's format */

enum {
	FZ_R_HDR, FZ_R_PROCS, FZ_R_LEDGERS, FZ_R_STRIPES, FZ_R_PROBE, FZ_R_DIR,
	FZ_R_HEAP, FZ_R_RTHDR, FZ_R_WORKERS, FZ_R_FNAMES, FZ_R_TASKS,
	FZ_R_TASKBITS, FZ_R_QUEUE, FZ_R_CLASSES, FZ_R_ACTORS, FZ_R_LMETA,
	FZ_R_LANES, FZ_R_ARENA, FZ_R_ALL, FZ_NREG
};

static const char *const fz_rname[FZ_NREG] = {
	"hdr", "procs", "ledgers", "stripes", "probe", "dir", "heap", "rthdr",
	"workers", "fnames", "tasks", "taskbits", "queue", "classes", "actors",
	"lmeta", "lanes", "arena", "all",
};

enum { FZ_SET, FZ_ADD, FZ_XOR, FZ_CONST, FZ_COPY, FZ_FILL, FZ_ZERO, FZ_ONES };

/* The world's objects, by role. */
enum {
	FZ_A, FZ_B, FZ_C, FZ_D, FZ_E, FZ_G, FZ_H, FZ_ERR, FZ_TASK, FZ_CALL,
	FZ_DEP, FZ_QUEUED, FZ_BLOCK1, FZ_BLOCK2, FZ_CALLB, FZ_CALLQ1,
	FZ_CALLQ2, FZ_NEVER, FZ_NIDS
};

struct fz_region {
	uint64_t off;
	uint64_t size;
};

static struct {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;    /* the world's driver handle */
	struct shoal_view pinned[2]; /* kept pinned by the world */
	uint8_t *pristine;
	uint64_t size;
	char name[64];               /* the copy, /dev/shm */
	uint8_t *map;                /* the copy, mapped here */
	struct fz_region r[FZ_NREG];
	bool skip[FZ_NREG];
	shoal_id ids[FZ_NIDS];
	struct shoal_actor box;
	uint64_t consts[48];
	uint32_t nconsts;
	int janitor_fd;              /* a pipe's write end: the janitor reads EOF once we are gone */
	pid_t janitor;
} fz;

/* ------------------------------------------------------------------ */
/* The world's task functions and actor.                               */

static int fz_add(struct shoal_task *t, void *user)
{
	int64_t sum = 0, v;
	const void *d;
	size_t n;

	(void)user;
	for (uint32_t i = 0; i < shoal_task_num_args(t); i++) {
		if (shoal_task_arg(t, i, &d, &n))
			return shoal_task_fail(t, SHOAL_ETASK, "argument %u", i);
		v = 0;
		memcpy(&v, d, n < sizeof v ? n : sizeof v);
		sum += v;
	}
	return shoal_task_return(t, 0, &sum, sizeof sum);
}

static int fz_fail(struct shoal_task *t, void *user)
{
	(void)user;
	return shoal_task_fail(t, SHOAL_ETASK, "the world's failed task");
}

/* Gets the object whose ID is argument 0 (bytes), waiting for ever. */
static int fz_block(struct shoal_task *t, void *user)
{
	struct shoal_store *s = shoal_runtime_store(shoal_task_runtime(t));
	struct shoal_view v;
	const void *d;
	size_t n;
	shoal_id id;

	(void)user;
	if (shoal_task_arg(t, 0, &d, &n) || n != sizeof id)
		return shoal_task_fail(t, SHOAL_ETASK, "no ID");
	memcpy(&id, d, sizeof id);
	if (shoal_get(s, id, -1, &v) == 0)
		shoal_release(s, &v);
	return shoal_task_return(t, 0, "x", 1);
}

static int fz_box_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

static int fz_box_get(struct shoal_task *t, void *self)
{
	int64_t v = 7;

	(void)self;
	return shoal_task_return(t, 0, &v, sizeof v);
}

/* ------------------------------------------------------------------ */
/* Building the world.                                                 */

static void fz_die(const char *what, int rc)
{
	fprintf(stderr, "fuzz_segment: %s: %s\n", what, shoal_strerror(rc));
	abort();
}

static void fz_ok(const char *what, int rc)
{
	if (rc < 0)
		fz_die(what, rc);
}

static shoal_id fz_forged(uint64_t k)
{
	return shoal_id_derive(FZ_NODE, 0x5e6, k, 0);
}

static void fz_registry(void)
{
	struct shoal_registry *reg;

	fz_ok("registry", shoal_registry_open(&reg));
	fz_ok("add", shoal_register_task(reg, "add", fz_add, NULL));
	fz_ok("fail", shoal_register_task(reg, "fail", fz_fail, NULL));
	fz_ok("block", shoal_register_task(reg, "block", fz_block, NULL));
	fz_ok("Box", shoal_register_actor(reg, "Box", fz_box_init, NULL));
	fz_ok("Box.get", shoal_register_method(reg, "Box", "get", fz_box_get));
	fz_ok("Box.block", shoal_register_method(reg, "Box", "block", fz_block));
	fz.reg = reg;
}

static void fz_start(void)
{
	struct shoal_runtime_options o;

	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.max_extra_workers = 1;
	o.max_tasks = 16;
	o.max_actors = 2;
	o.max_pending_calls = 4;
	o.max_lanes = 4;
	o.store.capacity = FZ_CAP;
	o.store.max_objects = 32;
	o.store.max_procs = 16;
	o.store.ledger_slots = 16;
	fz_ok("start", shoal_runtime_start(fz.reg, &o, &fz.rt));
}

static shoal_id fz_submit(const char *fn, const struct shoal_args *a)
{
	shoal_id ref;

	fz_ok(fn, shoal_submit(fz.rt, shoal_function(fz.rt, fn), a, 1, &ref));
	return ref;
}

static shoal_id fz_submit_id(const char *fn, shoal_id arg)
{
	struct shoal_args a;

	shoal_args_init(&a);
	shoal_args_bytes(&a, &arg, sizeof arg);
	return fz_submit(fn, &a);
}

static shoal_id fz_call(struct shoal_actor box, const char *m,
			const struct shoal_args *a)
{
	shoal_id ref;

	fz_ok(m, shoal_actor_call(fz.rt, box, shoal_actor_method(fz.rt, box, m), a,
				  &ref));
	return ref;
}

/* Waits up to 10 s for a result (any code), keeping the hold. */
static void fz_settle(shoal_id ref)
{
	struct shoal_store *s = shoal_runtime_store(fz.rt);
	struct shoal_view v;

	if (shoal_get(s, ref, 10000, &v) == 0)
		shoal_release(s, &v);
}

/* Sealed objects: held, held twice, pinned, deleted while pinned,
 * evicted, deleted while held; and one half written. */
static void fz_objects(void)
{
	struct shoal_store *s = shoal_runtime_store(fz.rt);
	static uint8_t big[FZ_BIG];
	uint8_t *buf;

	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 7);
	fz.ids[FZ_A] = fz_forged(1);
	fz_ok("put A", shoal_put_with_id(s, fz.ids[FZ_A], "sealed", 7, NULL, 0, 0));
	fz_ok("hold A", shoal_hold(s, fz.ids[FZ_A]));
	fz.ids[FZ_B] = fz_forged(2);
	fz_ok("put B", shoal_put_with_id(s, fz.ids[FZ_B], big, 3000, "meta", 4, 0));
	fz_ok("pin B", shoal_get(s, fz.ids[FZ_B], 0, &fz.pinned[0]));
	fz_ok("put C", shoal_put(s, big, FZ_BIG, 0, &fz.ids[FZ_C]));
	fz_ok("put D", shoal_put(s, big, 100, 0, &fz.ids[FZ_D]));
	fz_ok("pin D", shoal_get(s, fz.ids[FZ_D], 0, &fz.pinned[1]));
	fz_ok("delete D", shoal_delete(s, fz.ids[FZ_D]));
	fz_ok("put G", shoal_put(s, big, 500, 0, &fz.ids[FZ_G]));
	fz_ok("drop G", shoal_drop(s, fz.ids[FZ_G]));
	fz_ok("evict G", shoal_evict(s, 500));
	fz_ok("put H", shoal_put(s, big, 200, 0, &fz.ids[FZ_H]));
	fz_ok("delete H", shoal_delete(s, fz.ids[FZ_H]));
	fz.ids[FZ_E] = fz_forged(3);
	fz_ok("create E", shoal_create(s, fz.ids[FZ_E], 100, NULL, 0, 0,
				       (void **)&buf));
	memset(buf, 'e', 50);
	fz.ids[FZ_NEVER] = fz_forged(4);
}

/* Tasks: one done, one failed, one parked on E, both workers blocked in
 * a get of an ID nobody creates, and one left queued behind them. */
static void fz_tasks(void)
{
	struct shoal_args a;
	int64_t one = 1, two = 2;

	shoal_args_init(&a);
	shoal_args_bytes(&a, &one, sizeof one);
	shoal_args_bytes(&a, &two, sizeof two);
	fz.ids[FZ_TASK] = fz_submit("add", &a);
	fz_settle(fz.ids[FZ_TASK]);
	shoal_args_init(&a);
	fz.ids[FZ_ERR] = fz_submit("fail", &a);
	fz_settle(fz.ids[FZ_ERR]);
	shoal_args_init(&a);
	shoal_args_ref(&a, fz.ids[FZ_E]);
	fz.ids[FZ_DEP] = fz_submit("add", &a);
	fz.ids[FZ_BLOCK1] = fz_submit_id("block", fz.ids[FZ_NEVER]);
	fz.ids[FZ_BLOCK2] = fz_submit_id("block", fz.ids[FZ_NEVER]);
	shoal_args_init(&a);
	shoal_args_bytes(&a, &two, sizeof two);
	fz.ids[FZ_QUEUED] = fz_submit("add", &a);
}

/* The actor, and a call done: it has attached (its process slot is the
 * next after the first worker's, before the extra worker's: the slots
 * are the same in every run). */
static void fz_actor(void)
{
	struct shoal_actor_options ao = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_args a;

	ao.name = "box";
	fz_ok("actor", shoal_actor_create(fz.rt, "Box", NULL, &ao, &fz.box));
	shoal_args_init(&a);
	fz.ids[FZ_CALL] = fz_call(fz.box, "get", &a);
	fz_settle(fz.ids[FZ_CALL]);
}

/* Then one call blocked, two queued behind it, a send. */
static void fz_actor_busy(void)
{
	struct shoal_actor box = fz.box;
	struct shoal_args a;

	shoal_args_init(&a);
	shoal_args_bytes(&a, &fz.ids[FZ_NEVER], sizeof(shoal_id));
	fz.ids[FZ_CALLB] = fz_call(box, "block", &a);
	shoal_args_init(&a);
	fz.ids[FZ_CALLQ1] = fz_call(box, "get", &a);
	fz.ids[FZ_CALLQ2] = fz_call(box, "get", &a);
	fz_ok("send", shoal_actor_send(fz.rt, box, shoal_actor_method(fz.rt, box, "get"),
				       &a));
}

/* Until both workers run and a task waits in the queue (10 s at most),
 * then a moment for every process of the world to fall asleep. */
static void fz_quiesce(void)
{
	struct timespec ms = {0, 1000000}, rest = {0, 300000000};
	struct shoal_runtime_info info;

	for (int i = 0; i < 10000; i++) {
		if (shoal_runtime_info(fz.rt, &info, NULL, 0) == 0 &&
		    info.workers_alive >= 2 && info.tasks_queued >= 1)
			break;
		nanosleep(&ms, NULL);
	}
	nanosleep(&rest, NULL);
	shoal_runtime_info(fz.rt, &info, NULL, 0);
	fprintf(stderr, "fuzz_segment: world: %u workers, %u queued, %llu done\n",
		info.workers_alive, info.tasks_queued,
		(unsigned long long)info.tasks_done);
}

/* ------------------------------------------------------------------ */
/* The image, its copy, its regions.                                   */

static void fz_snapshot(void)
{
	int fd = shoal_store_fd(shoal_runtime_store(fz.rt));
	struct stat st;

	if (fstat(fd, &st))
		fz_die("fstat", -errno);
	fz.size = (uint64_t)st.st_size;
	fz.pristine = malloc(fz.size);
	if (!fz.pristine || pread(fd, fz.pristine, fz.size, 0) != (ssize_t)fz.size)
		fz_die("snapshot", -EIO);
}

/* FZ_DUMP=path: the pristine image is written there (to craft seeds). */
static void fz_dump(void)
{
	const char *path = getenv("FZ_DUMP");
	FILE *f = path ? fopen(path, "we") : NULL;

	if (f) {
		fwrite(fz.pristine, 1, fz.size, f);
		fclose(f);
	}
}

static void fz_copy(void)
{
	int fd;

	snprintf(fz.name, sizeof fz.name, "/shoal-fuzz-seg.%d", (int)getpid());
	shm_unlink(fz.name);
	fd = shm_open(fz.name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)fz.size))
		fz_die("copy", -errno);
	fz.map = mmap(NULL, fz.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (fz.map == MAP_FAILED)
		fz_die("mmap", -errno);
	close(fd);
	memcpy(fz.map, fz.pristine, fz.size);
}

static void fz_region(int r, uint64_t off, uint64_t size)
{
	fz.r[r] = (struct fz_region){.off = off, .size = size};
}

static void fz_regions(void)
{
	const struct shoal__seg_hdr *h = (const void *)fz.pristine;
	uint64_t x = h->ext.off;
	const struct shoal__rt_hdr *rh = (const void *)(fz.pristine + x);

	fz_region(FZ_R_HDR, 0, sizeof *h);
	fz_region(FZ_R_PROCS, h->procs.off, h->procs.size);
	fz_region(FZ_R_LEDGERS, h->ledgers.off, h->ledgers.size);
	fz_region(FZ_R_STRIPES, h->stripes.off, h->stripes.size);
	fz_region(FZ_R_PROBE, h->probe.off, h->probe.size);
	fz_region(FZ_R_DIR, h->dir.off, h->dir.size);
	fz_region(FZ_R_HEAP, h->heap_meta.off, h->heap_meta.size);
	fz_region(FZ_R_RTHDR, x, sizeof *rh);
	fz_region(FZ_R_WORKERS, x + rh->workers_off,
		  rh->max_workers * sizeof(struct shoal__rt_worker));
	fz_region(FZ_R_FNAMES, x + rh->fnames_off, rh->tasks_off - rh->fnames_off);
	fz_region(FZ_R_TASKS, x + rh->tasks_off, rh->task_bits_off - rh->tasks_off);
	fz_region(FZ_R_TASKBITS, x + rh->task_bits_off,
		  rh->queue_off - rh->task_bits_off);
	fz_region(FZ_R_QUEUE, x + rh->queue_off, rh->queue_bytes);
	fz_region(FZ_R_CLASSES, x + rh->classes_off, rh->actors_off - rh->classes_off);
	fz_region(FZ_R_ACTORS, x + rh->actors_off, rh->lmeta_off - rh->actors_off);
	fz_region(FZ_R_LMETA, x + rh->lmeta_off, rh->lanes_off - rh->lmeta_off);
	fz_region(FZ_R_LANES, x + rh->lanes_off, (uint64_t)rh->max_lanes * rh->lane_bytes);
	fz_region(FZ_R_ARENA, h->arena.off, h->arena.size);
	fz_region(FZ_R_ALL, 0, fz.size);
	for (int r = 0; r < FZ_NREG; r++)
		fprintf(stderr, "fuzz_segment: region %-8s at %8llu, %8llu bytes\n",
			fz_rname[r], (unsigned long long)fz.r[r].off,
			(unsigned long long)fz.r[r].size);
	for (uint32_t i = 0; i < h->max_procs; i++) {
		const struct shoal__proc *p = (const void *)(fz.pristine + h->procs.off +
							     (uint64_t)i * h->proc_size);

		if (SHOAL__PROC_PHASE(p->state) != SHOAL__PROC_FREE)
			fprintf(stderr, "fuzz_segment: slot %u: pid %d, role %u\n", i,
				SHOAL__PROC_PID(p->state), p->role);
	}
}

static void fz_const(uint64_t v)
{
	if (fz.nconsts < sizeof fz.consts / sizeof fz.consts[0])
		fz.consts[fz.nconsts++] = v;
}

/* Limits, powers of two, and the world's own numbers (pids, the driver's
 * start time, sizes): what a scribble that means harm would write. */
static void fz_consts(void)
{
	const struct shoal__seg_hdr *h = (const void *)fz.pristine;
	const struct shoal__proc *p = (const void *)(fz.pristine + h->procs.off);
	static const uint64_t fixed[] = {
		0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255,
		256, 4095, 4096, 65535, 65536, 0x7fffffff, 0x80000000, 0xffffffff,
		1ull << 32, INT64_MAX, (uint64_t)INT64_MIN, UINT64_MAX,
		0xfffff, 0xffffff, 1ull << 20, 1ull << 24,
	};

	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		fz_const(fixed[i]);
	fz_const((uint64_t)getpid());
	fz_const(fz.size);
	fz_const(h->capacity);
	for (uint32_t i = 0; i < h->max_procs && i < 6; i++) {
		fz_const((uint64_t)(uint32_t)SHOAL__PROC_PID(p[i].state));
		fz_const(p[i].start_time);
	}
}

/* FZ_SKIP=name,name: patches to those regions are dropped (a mask, like
 * FZ_MASK below, but of whole regions). */
static bool fz_listed(const char *e, const char *name);
static void fz_read_masks(void);

static void fz_skips(void)
{
	const char *e = getenv("FZ_SKIP");

	for (int r = 0; r < FZ_NREG; r++) {
		fz.skip[r] = fz_listed(e, fz_rname[r]);
		if (fz.skip[r])
			fprintf(stderr, "fuzz_segment: FZ_SKIP: no patch to %s\n",
				fz_rname[r]);
	}
	fz_read_masks();
}

/* ------------------------------------------------------------------ */
/* Cleanup: at exit, and by the janitor when we are gone.              */

static void fz_janitor(void)
{
	int p[2];
	char c;

	if (pipe(p))
		fz_die("pipe", -errno);
	snprintf(fz.name, sizeof fz.name, "/shoal-fuzz-seg.%d", (int)getpid());
	fz.janitor = fork();
	if (fz.janitor < 0)
		fz_die("fork", -errno);
	if (fz.janitor == 0) {
		close(p[1]);
		setpgid(0, 0); /* a Ctrl-C to our group does not end it first */
		for (;;) { /* EOF once every copy of the write end is gone */
			ssize_t r = read(p[0], &c, 1);

			if (r == 0 || (r < 0 && errno != EINTR))
				break;
		}
		shm_unlink(fz.name);
		_exit(0);
	}
	close(p[0]);
	fz.janitor_fd = p[1];
}

static void fz_exit(void)
{
	struct shoal_store *s = fz.rt ? shoal_runtime_store(fz.rt) : NULL;

	for (int i = 0; s && i < 2; i++)
		if (fz.pinned[i].data)
			shoal_release(s, &fz.pinned[i]);
	shoal_runtime_shutdown(fz.rt);
	shoal_registry_close(fz.reg);
	if (fz.name[0])
		shm_unlink(fz.name);
	if (fz.janitor > 0) {
		close(fz.janitor_fd);
		waitpid(fz.janitor, NULL, 0);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_janitor();
	atexit(fz_exit);
	fz_registry();
	fz_start();
	fz_objects();
	fz_actor();
	fz_tasks();
	fz_actor_busy();
	fz_quiesce();
	fz_snapshot();
	fz_dump();
	fz_copy();
	fz_regions();
	fz_consts();
	fz_skips();
	return 0;
}

/* ------------------------------------------------------------------ */
/* Patches.                                                            */

static uint64_t fz_off24(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16;
}

static uint64_t fz_load(const uint8_t *at, uint32_t w)
{
	uint64_t v = 0;

	memcpy(&v, at, w); /* little endian */
	return v;
}

static void fz_store(uint8_t *at, uint32_t w, uint64_t v)
{
	memcpy(at, &v, w);
}

/* One word operation at `at` (width w); returns the payload bytes used,
 * or 0 if the input ran out. */
static size_t fz_word(uint8_t *base, uint64_t size, uint8_t *at, uint32_t w,
		      unsigned op, const uint8_t *p, size_t n)
{
	uint64_t v = fz_load(at, w);

	switch (op) {
	case FZ_SET:
		if (n < w)
			return 0;
		memcpy(at, p, w);
		return w;
	case FZ_ADD:
		fz_store(at, w, v + (uint64_t)(int64_t)(int8_t)p[0]);
		return 1;
	case FZ_XOR:
		fz_store(at, w, v ^ 1ull << (p[0] % (w * 8)));
		return 1;
	case FZ_CONST:
		fz_store(at, w, fz.consts[p[0] % fz.nconsts]);
		return 1;
	default: /* FZ_COPY */
		if (n < 3)
			return 0;
		memmove(at, base + (fz_off24(p) % (size / w)) * w, w);
		return 3;
	}
}

/* Applies the patch at p if it belongs to `phase` (the region byte's top
 * bit: 0 before the attach, 1 after it); returns the bytes it took, 0 at
 * the end of the input. */
static size_t fz_patch(const uint8_t *p, size_t n, unsigned phase)
{
	const struct fz_region *r;
	bool apply;
	unsigned op;
	uint32_t w;
	uint8_t *base, scratch[8];
	uint64_t off;
	size_t used;

	if (n < 5)
		return 0;
	r = &fz.r[(p[0] & 0x7f) % FZ_NREG];
	apply = (p[0] >> 7) == phase && !fz.skip[(p[0] & 0x7f) % FZ_NREG];
	base = fz.map + r->off;
	op = p[1] & 7;
	w = 1u << ((p[1] >> 3) & 3);
	if (op == FZ_FILL) {
		uint64_t at = fz_off24(p + 2) % r->size;

		if (n < 7)
			return 0;
		if (apply)
			memset(base + at, p[5], p[6] < r->size - at ? p[6] : r->size - at);
		return 7;
	}
	off = (fz_off24(p + 2) % (r->size / w)) * w;
	if (op == FZ_ZERO || op == FZ_ONES) {
		if (apply)
			memset(base + off, op == FZ_ZERO ? 0 : 0xff, w);
		return 5;
	}
	if (n < 6)
		return 0;
	if (apply)
		used = fz_word(base, r->size, base + off, w, op, p + 5, n - 5);
	else
		used = fz_word(scratch, 8, scratch, w, op, p + 5, n - 5);
	return used ? 5 + used : 0;
}

static void fz_unwait(void);
static void fz_apply_masks(unsigned phase);

/* Every patch of the input (after its first byte) of one phase, then the
 * fixes of fz_unwait and the masks. */
static void fz_patches(const uint8_t *in, size_t n, unsigned phase)
{
	size_t pos = 1, used;

	while ((used = fz_patch(in + pos, n - pos, phase)) != 0)
		pos += used;
	fz_unwait();
	fz_apply_masks(phase);
}

/* Puts the pristine bytes back. */
static void fz_restore(uint64_t off, uint64_t len)
{
	memcpy(fz.map + off, fz.pristine + off, len);
}

/* ------------------------------------------------------------------ */
/* Designed waits, kept out.                                           */

/*
 * Two scribbles make an attacher wait a second by design, each covered
 * by its own test (tests/test_store_edges.c): a header whose `ready` is 0
 * (attach waits for its creator) and a directory stripe lock word that
 * names a process slot that is free or alive (a create waits for the
 * holder up to its timeout, at least a second).  Mutations land there
 * often (a stripe word is one of two in this small store, and any small
 * value names a slot), and a run would spend most of its time in those
 * waits; so those exact values are put back after the patches.  A lock
 * word naming a dead slot, or no slot, or a slot being reaped, is kept.
 *
 * The same for a runtime that looks over (the runtime header's ended,
 * sweep or fs_gone words, or its fork server's robust mutex, scribbled):
 * every submit, call and get of the attached handle then sweeps, and a
 * sweep waits up to a second (end.c, SHOAL__SWEEP_WAIT_MS) for the
 * world's workers, actor and fork server, which live on.  FZ_KEEP_ENDED=1
 * keeps those scribbles, to explore the sweep at a second an input.
 */
static bool fz_slot_waits(const uint8_t *img, uint32_t slot)
{
	const struct shoal__seg_hdr *h = (const void *)fz.pristine;
	const struct shoal__proc *p =
		(const void *)(img + h->procs.off + (uint64_t)slot * h->proc_size);
	uint64_t st = p->state, now;
	int pid = SHOAL__PROC_PID(st);

	if (SHOAL__PROC_PHASE(st) == SHOAL__PROC_FREE)
		return true;
	if (SHOAL__PROC_PHASE(st) != SHOAL__PROC_LIVE)
		return false;
	if (pid == getpid())
		return true;
	now = shoal__proc_start_time(pid);
	return now && (!p->start_time || p->start_time == now);
}

static void fz_unend(void)
{
	static int keep = -1;
	uint64_t x = fz.r[FZ_R_RTHDR].off;

	if (keep < 0)
		keep = getenv("FZ_KEEP_ENDED") != NULL;
	if (keep)
		return;
	fz_restore(x + offsetof(struct shoal__rt_hdr, ended), 12); /* + sweep, fs_gone */
	fz_restore(x + offsetof(struct shoal__rt_hdr, fs_alive), sizeof(pthread_mutex_t));
}

static void fz_unwait(void)
{
	const struct shoal__seg_hdr *h = (const void *)fz.pristine;
	const struct fz_region *r = &fz.r[FZ_R_STRIPES];
	struct shoal__seg_hdr *m = (struct shoal__seg_hdr *)fz.map;

	fz_unend();
	if (!atomic_load(&m->ready))
		atomic_store(&m->ready, 1);
	for (uint64_t o = 0; o + 4 <= r->size; o += 4) {
		uint32_t v;

		memcpy(&v, fz.map + r->off + o, 4);
		if (v >= 1 && v <= h->max_procs && fz_slot_waits(fz.map, v - 1))
			fz_restore(r->off + o, 4);
	}
}

/* ------------------------------------------------------------------ */
/* Temporary masks of known classes (FZ_MASK, off by default).         */

/*
 * FZ_MASK=name,name: after the patches, undo the corruptions of a class
 * the library is known not to survive yet (issue 9's open items), so that
 * a run gets past them to the rest.  Each mask restores the pristine
 * bytes of exactly the words of its class.  Off by default: CI runs the
 * harness unmasked, and a masked class is not tested at all.
 */
/* Known (b): a REPAIR bit that no live repairer will clear. */
static void fz_mask_repair(void)
{
	const struct fz_region *r = &fz.r[FZ_R_DIR];

	for (uint64_t o = 0; o + 64 <= r->size; o += 64) {
		_Atomic uint64_t *c = (_Atomic uint64_t *)(fz.map + r->off + o);
		uint64_t was = *(const uint64_t *)(fz.pristine + r->off + o);

		if (!(was & SHOAL__CTL_REPAIR))
			atomic_fetch_and(c, ~SHOAL__CTL_REPAIR);
	}
	fz_restore(offsetof(struct shoal__seg_hdr, repair), 8);
}

/* Known (b): the heap's robust mutex (heap_int.h's struct heap_hdr, its
 * second line) taken by a TID that never unlocks it. */
static void fz_mask_heaplock(void)
{
	fz_restore(fz.r[FZ_R_HEAP].off + 64, sizeof(pthread_mutex_t));
}

/* Known (a): geometry that attach checked, scribbled after it (the
 * second phase only: before the attach, the check is what is tested):
 * the header's sizes and region offsets, the runtime header's, the run
 * queue's and every lane's configuration line, the heap's geometry. */
static void fz_mask_geometry(void)
{
	const struct shoal__rt_hdr *rh = (const void *)(fz.pristine + fz.r[FZ_R_RTHDR].off);
	uint64_t x = fz.r[FZ_R_RTHDR].off;

	fz_restore(0, offsetof(struct shoal__seg_hdr, ready));
	fz_restore(x, offsetof(struct shoal__rt_hdr, fs_pid));
	fz_restore(x + offsetof(struct shoal__rt_hdr, max_tasks),
		   offsetof(struct shoal__rt_hdr, task_hint) -
			   offsetof(struct shoal__rt_hdr, max_tasks));
	fz_restore(x + offsetof(struct shoal__rt_hdr, max_actors),
		   offsetof(struct shoal__rt_hdr, fs_alive) -
			   offsetof(struct shoal__rt_hdr, max_actors));
	fz_restore(fz.r[FZ_R_QUEUE].off, 64);
	for (uint32_t i = 0; i < rh->max_lanes; i++)
		fz_restore(fz.r[FZ_R_LANES].off + (uint64_t)i * rh->lane_bytes, 64);
	fz_restore(fz.r[FZ_R_HEAP].off, 64);
}

/* New: the ledger of a free slot, which the attacher claims and trusts to
 * be empty (a full one of garbage: ledger_remove never finds its end). */
static void fz_mask_ledger(void)
{
	const struct shoal__seg_hdr *h = (const void *)fz.pristine;
	uint64_t per = (uint64_t)shoal__ledger_base(h->ledger_slots) * 8;

	for (uint32_t i = 0; i < h->max_procs; i++) {
		const struct shoal__proc *p = (const void *)(fz.pristine + h->procs.off +
							     (uint64_t)i * h->proc_size);

		if (SHOAL__PROC_PHASE(p->state) == SHOAL__PROC_FREE)
			fz_restore(h->ledgers.off + i * per, per);
	}
}

static const struct {
	const char *name;
	void (*fn)(void);
	bool after_attach_only;
} fz_masks[] = {
	{"ledger", fz_mask_ledger, false},
	{"repair", fz_mask_repair, false},
	{"heaplock", fz_mask_heaplock, false},
	{"geometry", fz_mask_geometry, true},
};

#define FZ_NMASKS (sizeof fz_masks / sizeof fz_masks[0])
static bool fz_masked[FZ_NMASKS];

static void fz_read_masks(void)
{
	const char *e = getenv("FZ_MASK");

	for (size_t i = 0; i < FZ_NMASKS; i++) {
		fz_masked[i] = fz_listed(e, fz_masks[i].name);
		if (fz_masked[i])
			fprintf(stderr, "fuzz_segment: FZ_MASK: %s restored\n",
				fz_masks[i].name);
	}
}

static void fz_apply_masks(unsigned phase)
{
	for (size_t i = 0; i < FZ_NMASKS; i++)
		if (fz_masked[i] && (phase || !fz_masks[i].after_attach_only))
			fz_masks[i].fn();
}

/* Does the comma-separated list e name `name`? */
static bool fz_listed(const char *e, const char *name)
{
	size_t len = strlen(name);

	for (const char *hit = e ? strstr(e, name) : NULL; hit;
	     hit = strstr(hit + 1, name))
		if ((hit == e || hit[-1] == ',') && (hit[len] == 0 || hit[len] == ','))
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* The script a second process runs on the patched segment.            */

/*
 * A scribbled lock word that names a live process (this one: the world's
 * driver) makes each create wait a second before -ETIMEDOUT, as designed
 * (store.h); a script of a dozen creates would then run past libFuzzer's
 * -timeout without anything hanging.  So the script stops between steps
 * once FZ_BUDGET_MS passed: a wait that never ends still trips -timeout,
 * and one that ends as documented does not.
 */
#define FZ_BUDGET_MS 1500

struct fz_run {
	struct shoal_runtime *rt; /* NULL: a store handle only */
	struct shoal_store *s;
	int wait_ms;              /* 0, 1 or 5 */
	struct timespec until;
};

static bool fz_late(const struct fz_run *x)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > x->until.tv_sec ||
	       (now.tv_sec == x->until.tv_sec && now.tv_nsec >= x->until.tv_nsec);
}

static void fz_budget(struct fz_run *x)
{
	clock_gettime(CLOCK_MONOTONIC, &x->until);
	x->until.tv_sec += FZ_BUDGET_MS / 1000;
	x->until.tv_nsec += (FZ_BUDGET_MS % 1000) * 1000000L;
	if (x->until.tv_nsec >= 1000000000L) {
		x->until.tv_sec++;
		x->until.tv_nsec -= 1000000000L;
	}
}

/* A get; the bytes of what it returns are read through (ASan sees a view
 * that points outside the segment). */
static void fz_get(struct fz_run *x, shoal_id id, int timeout)
{
	struct shoal_view v;
	char msg[64];

	if (shoal_get(x->s, id, timeout, &v) == 0) {
		volatile uint8_t sink = 0;

		for (size_t i = 0; i < v.size; i += 512)
			sink ^= ((const uint8_t *)v.data)[i];
		if (v.size)
			sink ^= ((const uint8_t *)v.data)[v.size - 1];
		for (size_t i = 0; i < v.meta_size; i++)
			sink ^= ((const uint8_t *)v.meta)[i];
		(void)sink;
		shoal_release(x->s, &v);
	}
	shoal_error_message(x->s, id, msg, sizeof msg);
}

static void fz_reads(struct fz_run *x)
{
	struct shoal_object_info info[40];
	struct shoal_view views[FZ_NIDS];
	struct shoal_store_stats st;
	uint8_t ready[FZ_NIDS];

	shoal_store_stats(x->s, &st);
	shoal_list(x->s, info, sizeof info / sizeof info[0]);
	for (int i = 0; i < FZ_NIDS && !fz_late(x); i++) {
		shoal_contains(x->s, fz.ids[i]);
		fz_get(x, fz.ids[i], 0);
		if (shoal_hold(x->s, fz.ids[i]) == 0)
			shoal_drop(x->s, fz.ids[i]);
	}
	if (fz_late(x))
		return;
	if (shoal_get_many(x->s, fz.ids, FZ_NIDS, 0, views) >= 0)
		for (int i = 0; i < FZ_NIDS; i++)
			if (views[i].err == 0)
				shoal_release(x->s, &views[i]);
	shoal_wait(x->s, fz.ids, FZ_NIDS, FZ_NIDS, 0, ready);
	fz_get(x, fz.ids[FZ_E], x->wait_ms);
}

static uint8_t fz_big[FZ_BIG];

static void fz_puts(struct fz_run *x)
{
	shoal_id id, own = fz_forged(100);

	if (shoal_put(x->s, fz_big, 300, x->wait_ms, &id) == 0) {
		fz_get(x, id, 0);
		shoal_delete(x->s, id);
		shoal_drop(x->s, id);
	}
	if (fz_late(x))
		return;
	if (shoal_put_with_id(x->s, own, fz_big, FZ_BIG, "m", 1, x->wait_ms) == 0)
		shoal_drop(x->s, own);
	if (fz_late(x))
		return;
	shoal_put_with_id(x->s, fz.ids[FZ_A], fz_big, 8, NULL, 0, 0); /* EEXIST */
}

static void fz_creates(struct fz_run *x)
{
	shoal_id id = shoal_id_next(x->s);
	void *buf;

	if (shoal_create(x->s, id, 64, NULL, 0, x->wait_ms, &buf) == 0) {
		memset(buf, 1, 64);
		shoal_seal(x->s, id);
		shoal_drop(x->s, id);
	}
	if (fz_late(x))
		return;
	id = shoal_id_next(x->s);
	if (shoal_create(x->s, id, 20000, NULL, 0, 0, &buf) == 0)
		shoal_abort(x->s, id);
}

static void fz_changes(struct fz_run *x)
{
	struct shoal_store_stats st;

	shoal_seal(x->s, fz.ids[FZ_E]);  /* another process's: -EPERM */
	shoal_abort(x->s, fz.ids[FZ_E]);
	shoal_delete(x->s, fz.ids[FZ_B]); /* pinned by the world */
	shoal_delete(x->s, fz.ids[FZ_C]);
	shoal_evict(x->s, FZ_CAP);
	shoal_store_reap(x->s);
	shoal_store_stats(x->s, &st);
}

static void fz_submits(struct fz_run *x)
{
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	struct shoal_runtime_info info;
	int32_t pids[4];
	struct shoal_args a;
	int64_t v = 5;
	shoal_id refs[2];
	int fn = shoal_function(x->rt, "add");

	shoal_runtime_info(x->rt, &info, pids, 4);
	shoal_function(x->rt, "no such function");
	shoal_args_init(&a);
	shoal_args_bytes(&a, &v, sizeof v);
	shoal_args_ref(&a, fz.ids[FZ_A]);
	o.timeout_ms = x->wait_ms;
	if (shoal_submit_opts(x->rt, fn, &a, &o, refs) == 0) {
		fz_get(x, refs[0], 0);
		shoal_drop(x->s, refs[0]);
	}
	if (fz_late(x))
		return;
	shoal_args_init(&a);
	shoal_args_ref(&a, fz.ids[FZ_E]);
	o.num_returns = 2;
	if (shoal_submit_opts(x->rt, fn, &a, &o, refs) == 0) {
		shoal_drop(x->s, refs[0]);
		shoal_drop(x->s, refs[1]);
	}
}

static void fz_calls(struct fz_run *x)
{
	struct shoal_call_options o = SHOAL_CALL_OPTIONS_INIT;
	struct shoal_actor list[4], box;
	struct shoal_actor_info info;
	struct shoal_args a;
	int64_t v = 9;
	shoal_id ref;
	int m;

	shoal_actor_list(x->rt, list, 4);
	if (shoal_actor_lookup(x->rt, "box", &box))
		return;
	shoal_actor_info(x->rt, box, &info);
	m = shoal_actor_method(x->rt, box, "get");
	shoal_actor_method(x->rt, box, "no such method");
	shoal_args_init(&a);
	shoal_args_bytes(&a, &v, sizeof v);
	shoal_args_ref(&a, fz.ids[FZ_A]);
	o.timeout_ms = x->wait_ms;
	if (shoal_actor_call_opts(x->rt, box, m, &a, &o, &ref) == 0) {
		fz_get(x, ref, 0);
		shoal_drop(x->s, ref);
	}
	if (fz_late(x))
		return;
	shoal_actor_send(x->rt, box, m, &a);
	o.timeout_ms = 0;
	if (shoal_actor_call_opts(x->rt, box, m + 1, &a, &o, &ref) == 0)
		shoal_drop(x->s, ref);
}

typedef void fz_step(struct fz_run *x);

static void fz_steps(struct fz_run *x, fz_step *const *step, size_t n)
{
	for (size_t i = 0; i < n && !fz_late(x); i++)
		step[i](x);
}

/* flags (the input's first byte): bit 0 a runtime handle, bits 1-2 the
 * waits, bit 3 the writes.  The second phase of patches lands once the
 * handle is attached: a scribble while the process runs. */
static void fz_script(const uint8_t *in, size_t n)
{
	uint8_t flags = in[0];
	static const int waits[4] = {0, 0, 1, 5};
	static fz_step *const writes[] = {fz_puts, fz_creates, fz_changes};
	static fz_step *const runtime[] = {fz_submits, fz_calls};
	struct fz_run x = {.wait_ms = waits[(flags >> 1) & 3]};

	if (flags & 1) {
		if (shoal_runtime_attach(fz.name, &x.rt))
			return;
		x.s = shoal_runtime_store(x.rt);
	} else if (shoal_store_attach(fz.name, &x.s)) {
		return;
	}
	fz_patches(in, n, 1);
	fz_budget(&x);
	fz_reads(&x);
	if (flags & 8)
		fz_steps(&x, writes, sizeof writes / sizeof writes[0]);
	if (x.rt) {
		fz_steps(&x, runtime, sizeof runtime / sizeof runtime[0]);
		shoal_runtime_detach(x.rt);
	} else {
		shoal_store_close(x.s);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n);

/* Inputs slower than this are run but not kept in the corpus (libFuzzer's
 * -1): they wait as designed (a scribbled lock naming a live process, a
 * header that never becomes ready: a second each), and breeding them would
 * spend the run in those waits. */
#define FZ_SLOW_MS 250

static int64_t fz_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	int64_t t0 = fz_ms();

	if (n == 0)
		return 0;
	memcpy(fz.map, fz.pristine, fz.size);
	fz_patches(in, n, 0);
	fz_script(in, n);
	if (fz_ms() - t0 <= FZ_SLOW_MS)
		return 0;
	if (getenv("FZ_SLOW_LOG")) { /* which inputs wait, to see why */
		fprintf(stderr, "fuzz_segment: slow (%lld ms):", (long long)(fz_ms() - t0));
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "%s%02x", i ? "" : " ", in[i]);
		fputc('\n', stderr);
	}
	return -1;
}
