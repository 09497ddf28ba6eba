/* SPDX-License-Identifier: MIT */
/*
 * tests/test_runtime_edges.c - the error and edge paths of the runtime's
 * and the actors' public API that the other suites do not walk: bad
 * arguments and options, limits of the registry, attaching to what is not
 * a runtime (or a runtime region another process may have scribbled on),
 * the task API inside a task used wrongly, a handle used after its
 * runtime ended, and requests the fork server refuses.
 *
 * Every refused call is checked for its exact code, for a name from
 * shoal_strerror, and for leaving nothing behind: the store's object
 * count back where it was, the task table still whole, the runtime still
 * serving.  Each test starts its own small runtime (one worker, a private
 * segment unless the test attaches to it; the defaults' test one worker
 * per CPU), or none at all.  No test sleeps: waits are gets of results,
 * bounded by their timeouts.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/un.h>

#include <shoal/shoal.h>

#include "proc_int.h"
#include "queue.h"
#include "internal.h"
#include "rtutil.h"
#include "testutil.h"

TestSuite(runtime_edges, .init = tu_setup, .fini = tu_teardown);

#define MIB (1024u * 1024u)
#define MAX_TASKS 16u

/* ------------------------------------------------------------------ */
/* Task functions and a class                                          */

/* Number of arguments and size of each, as int64s. */
static int task_shape(struct shoal_task *t, void *user)
{
	int64_t out[1 + SHOAL_MAX_ARGS] = {0};
	uint32_t n = shoal_task_num_args(t);
	const void *d;
	size_t len;

	(void)user;
	out[0] = n;
	for (uint32_t i = 0; i < n && i < SHOAL_MAX_ARGS; i++) {
		if (shoal_task_arg(t, i, &d, &len))
			return shoal_task_fail(t, SHOAL_ETASK, "argument %u", i);
		out[1 + i] = (int64_t)len;
	}
	return shoal_task_return(t, 0, out, (1 + n) * sizeof out[0]);
}

/* The task API used wrongly, from inside a task with 3 arguments (2
 * bytes, a handle with no generation, 16 zero bytes) and 4 returns:
 * return 0 is "ok", return 1 the codes below, return 2 is left unset,
 * return 3 is empty. */
enum {
	P_RUNTIME_NULL, P_NARGS_NULL, P_NRETS_NULL, P_ARG_PAST, P_ARG_NODATA,
	P_ARG_NOSIZE, P_ARG_NULLTASK, P_ACTOR_SIZE, P_ACTOR_NOGEN,
	P_ACTOR_NOMAGIC, P_ACTOR_PAST, P_ACTOR_NOOUT, P_RET_PAST, P_RET_NODATA,
	P_RET_NULLTASK, P_BUF_PAST, P_BUF_NOBUF, P_BUF_NULLTASK, P_RET_OK,
	P_RET_AGAIN, P_BUF_AGAIN, P_RET_EMPTY, P_FAIL_NULLTASK, P_NUM
};

static int task_probe(struct shoal_task *t, void *user)
{
	int32_t c[P_NUM];
	struct shoal_actor a;
	const void *d;
	size_t n;
	void *buf;

	(void)user;
	c[P_RUNTIME_NULL] = shoal_task_runtime(NULL) == NULL ? 0 : 1;
	c[P_NARGS_NULL] = (int32_t)shoal_task_num_args(NULL);
	c[P_NRETS_NULL] = (int32_t)shoal_task_num_returns(NULL);
	c[P_ARG_PAST] = shoal_task_arg(t, 3, &d, &n);
	c[P_ARG_NODATA] = shoal_task_arg(t, 0, NULL, &n);
	c[P_ARG_NOSIZE] = shoal_task_arg(t, 0, &d, NULL);
	c[P_ARG_NULLTASK] = shoal_task_arg(NULL, 0, &d, &n);
	c[P_ACTOR_SIZE] = shoal_task_arg_actor(t, 0, &a);
	c[P_ACTOR_NOGEN] = shoal_task_arg_actor(t, 1, &a);
	c[P_ACTOR_NOMAGIC] = shoal_task_arg_actor(t, 2, &a);
	c[P_ACTOR_PAST] = shoal_task_arg_actor(t, 3, &a);
	c[P_ACTOR_NOOUT] = shoal_task_arg_actor(t, 1, NULL);
	c[P_RET_PAST] = shoal_task_return(t, 4, "x", 1);
	c[P_RET_NODATA] = shoal_task_return(t, 0, NULL, 4);
	c[P_RET_NULLTASK] = shoal_task_return(NULL, 0, "x", 1);
	c[P_BUF_PAST] = shoal_task_return_buffer(t, 4, 8, &buf);
	c[P_BUF_NOBUF] = shoal_task_return_buffer(t, 0, 8, NULL);
	c[P_BUF_NULLTASK] = shoal_task_return_buffer(NULL, 0, 8, &buf);
	c[P_RET_OK] = shoal_task_return(t, 0, "ok", 2);
	c[P_RET_AGAIN] = shoal_task_return(t, 0, "no", 2);
	c[P_BUF_AGAIN] = shoal_task_return_buffer(t, 0, 8, &buf);
	c[P_RET_EMPTY] = shoal_task_return(t, 3, NULL, 0);
	c[P_FAIL_NULLTASK] = shoal_task_fail(NULL, SHOAL_ETASK, "x");
	return shoal_task_return(t, 1, c, sizeof c);
}

/* Opens a buffer for return 0, then fails with a positive code and no
 * message, then again with another code: the first failure stands. */
static int task_fail_twice(struct shoal_task *t, void *user)
{
	void *buf;
	int32_t first, second;

	(void)user;
	if (shoal_task_return_buffer(t, 0, 64, &buf))
		return shoal_task_fail(t, SHOAL_ETASK, "no buffer");
	memset(buf, 0x5a, 64);
	first = shoal_task_fail(t, 5, NULL);
	second = shoal_task_fail(t, -EIO, "second %d", 2);
	/* Written before the failure counts: return 1 keeps its value. */
	shoal_task_return(t, 1, &first, sizeof first);
	shoal_task_return(t, 2, &second, sizeof second);
	return first;
}

/* Opens an in-place buffer for each of its returns but the last, as
 * many as a task may have open (the store's fills of one process), then
 * tries the last return both ways, and returns 0 without it.  Buffers 0
 * and 1 get the two refusals' codes, the others their index. */
static int task_many_buffers(struct shoal_task *t, void *user)
{
	uint32_t nret = shoal_task_num_returns(t);
	int64_t *b[SHOAL_MAX_RETURNS];
	void *extra;
	int64_t v = 7;

	(void)user;
	for (uint32_t i = 0; i + 1 < nret; i++) {
		int rc = shoal_task_return_buffer(t, i, sizeof *b[i], (void **)&b[i]);

		if (rc)
			return shoal_task_fail(t, rc, "buffer %u", i);
		*b[i] = i;
	}
	*b[0] = shoal_task_return_buffer(t, nret - 1, sizeof v, &extra);
	*b[1] = shoal_task_return(t, nret - 1, &v, sizeof v);
	return 0;
}

/* Leaves its process with exit status 3 (a task) or 4 (a method). */
static int task_quit(struct shoal_task *t, void *user)
{
	(void)t;
	_exit(user ? 4 : 3);
}

/* A Box keeps the bytes of its first constructor argument. */
struct box {
	size_t n;
	uint8_t b[64];
};

static int box_init(struct shoal_task *ctx, void **self)
{
	struct box *b = calloc(1, sizeof *b);
	const void *d;
	size_t n;

	if (!b)
		return -ENOMEM;
	if (shoal_task_num_args(ctx) > 0 && !shoal_task_arg(ctx, 0, &d, &n)) {
		b->n = n < sizeof b->b ? n : sizeof b->b;
		memcpy(b->b, d, b->n);
	}
	*self = b;
	return 0;
}

static int box_get(struct shoal_task *t, void *self)
{
	struct box *b = self;

	return shoal_task_return(t, 0, b->b, b->n);
}

/* Waits (bounded) until the object its first argument names is sealed;
 * returns the sizes of its other arguments (int64s). */
static int box_wait(struct shoal_task *t, void *self)
{
	int64_t sizes[SHOAL_MAX_ARGS] = {0};
	const void *d;
	size_t n;
	int rc = rt_task_wait_gate(t);

	(void)self;
	if (rc)
		return rc;
	for (uint32_t i = 1; i < shoal_task_num_args(t); i++) {
		shoal_task_arg(t, i, &d, &n);
		sizes[i - 1] = (int64_t)n;
	}
	return shoal_task_return(t, 0, sizes, sizeof sizes);
}

static int box_quit(struct shoal_task *t, void *self)
{
	(void)self;
	return task_quit(t, t);
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

struct fx {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
};

static struct shoal_registry *registry(void)
{
	struct shoal_registry *reg = NULL;

	tu_assert_rc(shoal_registry_open(&reg), 0);
	tu_assert_rc(shoal_register_task(reg, "add", rt_task_add, NULL), 0);
	tu_assert_rc(shoal_register_task(reg, "shape", task_shape, NULL), 0);
	tu_assert_rc(shoal_register_task(reg, "probe", task_probe, NULL), 0);
	tu_assert_rc(shoal_register_task(reg, "fail_twice", task_fail_twice, NULL), 0);
	tu_assert_rc(shoal_register_task(reg, "many_buffers", task_many_buffers, NULL), 0);
	tu_assert_rc(shoal_register_actor(reg, "Box", box_init, free), 0);
	tu_assert_rc(shoal_register_method(reg, "Box", "get", box_get), 0);
	tu_assert_rc(shoal_register_method(reg, "Box", "wait", box_wait), 0);
	tu_assert_rc(shoal_register_method(reg, "Box", "quit", box_quit), 0);
	tu_assert_rc(shoal_register_task(reg, "quit", task_quit, NULL), 0);
	return reg;
}

static struct shoal_runtime_options small_opts(const char *name)
{
	struct shoal_runtime_options o;

	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.max_extra_workers = 1;
	o.max_tasks = MAX_TASKS;
	o.max_actors = 2;
	o.max_pending_calls = 4;
	o.store.capacity = 4 * MIB;
	o.store.max_objects = 1024;
	o.name = name;
	return o;
}

static struct fx start_named(const char *name)
{
	struct fx f = {0};
	struct shoal_runtime_options o = small_opts(name);

	f.reg = registry();
	tu_assert_rc(shoal_runtime_start(f.reg, &o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	cr_assert_not_null(f.s);
	return f;
}

static struct fx start(void)
{
	return start_named(NULL);
}

static void stop(struct fx *f)
{
	tu_assert_rc(shoal_runtime_shutdown(f->rt), 0);
	shoal_registry_close(f->reg);
}

static int fn(struct fx *f, const char *name)
{
	int i = shoal_function(f->rt, name);

	cr_assert_geq(i, 0, "no function %s: %d", name, i);
	return i;
}

/* Asserts that code is negative and has a name of its own. */
static void named_error(int code)
{
	const char *s = shoal_strerror(code);

	cr_assert_lt(code, 0);
	cr_assert(s != NULL && s[0] != '\0', "no name for %d", code);
	cr_assert_str_neq(s, "unknown shoal error", "no name for %d", code);
}

static uint64_t live_objects(struct fx *f)
{
	return tu_stats(f->s).objects;
}

/* The runtime still runs tasks: add(a, b) comes back as a + b. */
static void still_adds(struct fx *f, int64_t a, int64_t b)
{
	struct shoal_args args;
	struct shoal_view v;
	int64_t sum;
	shoal_id ref;

	shoal_args_init(&args);
	tu_assert_rc(shoal_args_bytes(&args, &a, sizeof a), 0);
	tu_assert_rc(shoal_args_bytes(&args, &b, sizeof b), 0);
	tu_assert_rc(shoal_submit(f->rt, fn(f, "add"), &args, 1, &ref), 0);
	tu_assert_rc(shoal_get(f->s, ref, 10000, &v), 0);
	cr_assert_eq(v.size, sizeof sum);
	memcpy(&sum, v.data, sizeof sum);
	cr_assert_eq(sum, a + b);
	tu_assert_rc(shoal_release(f->s, &v), 0);
	tu_assert_rc(shoal_drop(f->s, ref), 0);
}

/* The bytes of a result, copied into buf (at most cap); its size. */
static size_t result(struct fx *f, shoal_id ref, void *buf, size_t cap)
{
	struct shoal_view v;
	size_t n;

	tu_assert_rc(shoal_get(f->s, ref, 10000, &v), 0);
	n = v.size;
	cr_assert_leq(n, cap, "result of %zu bytes", n);
	memcpy(buf, v.data, n);
	tu_assert_rc(shoal_release(f->s, &v), 0);
	return n;
}

/* The error a result holds: its code, and its message into msg. */
static int result_error(struct fx *f, shoal_id ref, char *msg, size_t cap)
{
	struct shoal_view v;
	int rc = shoal_get(f->s, ref, 10000, &v);

	cr_assert_neq(rc, -ETIMEDOUT, "the result never came (a promise left unsealed)");
	cr_assert_lt(rc, 0, "a result, not an error");
	msg[0] = '\0';
	cr_assert_geq(shoal_error_message(f->s, ref, msg, cap), 0);
	return rc;
}

/* Live objects of `size` bytes that someone holds. */
static int held_of_size(struct fx *f, uint64_t size)
{
	static struct shoal_object_info infos[1024];
	int n = shoal_list(f->s, infos, 1024), held = 0;

	cr_assert_geq(n, 0);
	cr_assert_leq(n, 1024);
	for (int i = 0; i < n; i++)
		held += infos[i].data_size == size && infos[i].holds > 0;
	return held;
}

/* ------------------------------------------------------------------ */
/* Starting, options, the handle                                       */

Test(runtime_edges, bad_options_start_nothing)
{
	struct shoal_registry *reg = registry();
	struct shoal_runtime_options o;
	struct shoal_runtime *rt = NULL;
	static const struct {
		const char *what;
		uint32_t num_workers, max_tasks, max_actors, max_lanes, pending;
	} bad[] = {
		{"num_workers", 1025, 0, 0, 0, 0},
		{"max_tasks", 1, (1u << 20) + 1, 0, 0, 0},
		{"max_actors", 1, 0, 4097, 0, 0},
		{"max_lanes", 1, 0, 0, 65537, 0},
		{"max_pending_calls", 1, 0, 0, 0, 65537},
	};

	shoal_runtime_options_init(NULL); /* a no-op */
	o = small_opts(NULL);
	tu_assert_rc(shoal_runtime_start(NULL, &o, &rt), -EINVAL);
	tu_assert_rc(shoal_runtime_start(reg, &o, NULL), -EINVAL);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		o = small_opts(NULL);
		o.num_workers = bad[i].num_workers;
		o.max_tasks = bad[i].max_tasks;
		o.max_actors = bad[i].max_actors;
		o.max_lanes = bad[i].max_lanes;
		o.max_pending_calls = bad[i].pending;
		tu_assert_rc(shoal_runtime_start(reg, &o, &rt), -EINVAL, "%s",
			     bad[i].what);
		cr_assert_null(rt, "%s: a handle came back", bad[i].what);
	}
	/* Refused before anything was made: the registry is not frozen. */
	tu_assert_rc(shoal_register_task(reg, "late", rt_task_add, NULL), 0);
	shoal_registry_close(reg);
}

Test(runtime_edges, a_name_in_use_starts_nothing_and_keeps_the_segment)
{
	struct shoal_registry *reg = registry();
	struct shoal_store *other;
	const char *name;
	struct shoal_runtime_options o;
	struct shoal_runtime *rt = NULL;
	struct fx f;
	shoal_id id;

	other = tu_named_store(MIB, &name);
	tu_assert_rc(shoal_put(other, "mine", 4, 0, &id), 0);
	o = small_opts(name);
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), -EEXIST);
	cr_assert_null(rt);
	/* Nothing started: the registry still takes registrations. */
	tu_assert_rc(shoal_register_task(reg, "late", rt_task_add, NULL), 0);
	/* The other program's segment is untouched. */
	cr_assert(tu_shm_exists(name));
	tu_assert_rc(tu_stats(other).objects, 1);
	tu_assert_rc(shoal_contains(other, id), 1);
	shoal_store_close(other);
	tu_assert_rc(shoal_store_unlink(name), 0);
	/* The same registry starts a runtime afterwards. */
	o = small_opts(NULL);
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), 0);
	f = (struct fx){.reg = reg, .rt = rt, .s = shoal_runtime_store(rt)};
	still_adds(&f, 2, 3);
	stop(&f);
}

/* A store larger than /dev/shm has free: the start fails at once with
 * SHOAL_ENOSHM, says in the store options' errbuf how much it asked and
 * how much is free, leaves no segment, and the registry goes on. */
Test(runtime_edges, a_store_larger_than_dev_shm_starts_nothing)
{
	struct shoal_registry *reg = registry();
	struct shoal_runtime_options o = small_opts(tu_shm_name("big"));
	struct shoal_runtime *rt = NULL;
	struct statvfs v;
	char why[256] = "";

	cr_assert_eq(statvfs("/dev/shm", &v), 0);
	o.store.capacity = (uint64_t)v.f_bavail * v.f_frsize + (64u << 20);
	o.store.errbuf = why;
	o.store.errbuf_size = sizeof why;
	tu_assert_rc(shoal_runtime_start(reg, &o, &rt), SHOAL_ENOSHM);
	cr_assert_null(rt);
	cr_assert(strstr(why, "the store needs") && strstr(why, "free"),
		  "errbuf: \"%s\"", why);
	cr_assert_not(tu_shm_exists(o.name), "the failed start left its segment");
	tu_assert_rc(shoal_register_task(reg, "late", rt_task_add, NULL), 0);
	shoal_registry_close(reg);
}

Test(runtime_edges, default_options_and_the_handles_null_cases)
{
	struct shoal_registry *reg = registry();
	struct shoal_runtime_info info;
	struct shoal_task_options to = SHOAL_TASK_OPTIONS_INIT;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int32_t pids[2] = {-1, -1};
	struct fx f = {.reg = reg};
	struct shoal_args a;
	shoal_id ref;
	int64_t shape[1 + SHOAL_MAX_ARGS];

	cr_assert_gt(cpus, 0);
	tu_assert_rc(shoal_runtime_start(reg, NULL, &f.rt), 0); /* defaults */
	f.s = shoal_runtime_store(f.rt);
	tu_assert_rc(shoal_runtime_info(f.rt, &info, pids, 1), 0);
	cr_assert_eq(info.num_workers, (uint32_t)cpus);
	cr_assert_eq(info.workers_alive, (uint32_t)cpus);
	cr_assert_eq(info.max_tasks, 65536);
	cr_assert_gt(info.fork_server_pid, 0);
	cr_assert_gt(pids[0], 0);
	cr_assert_eq(pids[1], -1, "info wrote past its cap");
	tu_assert_rc(shoal_runtime_info(NULL, &info, NULL, 0), -EINVAL);
	tu_assert_rc(shoal_runtime_info(f.rt, NULL, NULL, 0), -EINVAL);
	cr_assert_null(shoal_runtime_store(NULL));
	tu_assert_rc(shoal_runtime_shutdown(NULL), 0);
	tu_assert_rc(shoal_runtime_detach(NULL), 0);
	tu_assert_rc(shoal_runtime_detach(f.rt), -EINVAL); /* the driver's */
	tu_assert_rc(shoal_function(NULL, "add"), -EINVAL);
	tu_assert_rc(shoal_function(f.rt, NULL), -EINVAL);
	tu_assert_rc(shoal_function(f.rt, ""), -EINVAL);
	/* No options: one return; no arguments at all: none. */
	tu_assert_rc(shoal_submit_opts(f.rt, fn(&f, "shape"), NULL, NULL, &ref), 0);
	cr_assert_eq(result(&f, ref, shape, sizeof shape), sizeof(int64_t));
	cr_assert_eq(shape[0], 0);
	tu_assert_rc(shoal_drop(f.s, ref), 0);
	/* A zero-length argument, with and without a pointer. */
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, NULL, 0), 0);
	tu_assert_rc(shoal_args_bytes(&a, "x", 0), 0);
	to.timeout_ms = 0;
	tu_assert_rc(shoal_submit_opts(f.rt, fn(&f, "shape"), &a, &to, &ref), 0);
	cr_assert_eq(result(&f, ref, shape, sizeof shape), 3 * sizeof(int64_t));
	cr_assert_eq(shape[1], 0);
	cr_assert_eq(shape[2], 0);
	cr_assert_eq(shape[0], 2);
	tu_assert_rc(shoal_drop(f.s, ref), 0);
	stop(&f);
}

/* ------------------------------------------------------------------ */
/* The registry                                                        */

Test(runtime_edges, the_registry_fills_up_and_refuses_bad_entries)
{
	struct shoal_registry *reg = NULL;
	struct shoal_runtime_options o = small_opts(NULL);
	char name[SHOAL_FUNCTION_NAME_MAX + 2];
	struct fx f;
	struct shoal_actor a;
	int m;

	tu_assert_rc(shoal_registry_open(NULL), -EINVAL);
	shoal_registry_close(NULL); /* a no-op */
	tu_assert_rc(shoal_registry_open(&reg), 0);
	tu_assert_rc(shoal_register_task(NULL, "f", rt_task_add, NULL), -EINVAL);
	tu_assert_rc(shoal_register_task(reg, NULL, rt_task_add, NULL), -EINVAL);
	for (int i = 0; i < SHOAL_MAX_FUNCTIONS; i++) {
		snprintf(name, sizeof name, "f%d", i);
		tu_assert_rc(shoal_register_task(reg, name, i == 7 ? rt_task_add : task_shape,
						 NULL), 0, "%s", name);
	}
	tu_assert_rc(shoal_register_task(reg, "one_more", rt_task_add, NULL), -ENOSPC);
	tu_assert_rc(shoal_register_task(reg, "f3", rt_task_add, NULL), -EEXIST);

	tu_assert_rc(shoal_register_actor(NULL, "K", box_init, NULL), -EINVAL);
	tu_assert_rc(shoal_register_actor(reg, "K", NULL, NULL), -EINVAL);
	tu_assert_rc(shoal_register_actor(reg, NULL, box_init, NULL), -EINVAL);
	tu_assert_rc(shoal_register_actor(reg, "", box_init, NULL), -EINVAL);
	memset(name, 'k', sizeof name - 1);
	name[sizeof name - 1] = '\0'; /* 64 bytes: one too many */
	tu_assert_rc(shoal_register_actor(reg, name, box_init, NULL), -EINVAL);
	for (int i = 0; i < SHOAL_MAX_CLASSES; i++) {
		snprintf(name, sizeof name, "K%d", i);
		tu_assert_rc(shoal_register_actor(reg, name, box_init, free), 0, "%s",
			     name);
	}
	tu_assert_rc(shoal_register_actor(reg, "K_more", box_init, NULL), -ENOSPC);
	tu_assert_rc(shoal_register_actor(reg, "K5", box_init, NULL), -EEXIST);

	tu_assert_rc(shoal_register_method(NULL, "K0", "m", box_get), -EINVAL);
	tu_assert_rc(shoal_register_method(reg, "K0", "m", NULL), -EINVAL);
	tu_assert_rc(shoal_register_method(reg, "", "m", box_get), -EINVAL);
	tu_assert_rc(shoal_register_method(reg, "K0", "", box_get), -EINVAL);
	tu_assert_rc(shoal_register_method(reg, "Nobody", "m", box_get), SHOAL_ENOCLASS);
	for (int i = 0; i < SHOAL_MAX_METHODS; i++) {
		snprintf(name, sizeof name, "m%d", i);
		tu_assert_rc(shoal_register_method(reg, "K63", name, box_get), 0, "%s",
			     name);
	}
	tu_assert_rc(shoal_register_method(reg, "K63", "m_more", box_get), -ENOSPC);
	tu_assert_rc(shoal_register_method(reg, "K63", "m9", box_get), -EEXIST);

	/* Full tables start, and every name made it into the segment. */
	tu_assert_rc(shoal_runtime_start(reg, &o, &f.rt), 0);
	f.reg = reg;
	f.s = shoal_runtime_store(f.rt);
	tu_assert_rc(shoal_function(f.rt, "f255"), 255);
	tu_assert_rc(shoal_function(f.rt, "f255"), 255); /* from the cache */
	tu_assert_rc(shoal_function(f.rt, "f256"), SHOAL_ENOFUNCTION);
	tu_assert_rc(shoal_actor_create(f.rt, "K63", NULL, NULL, &a), 0);
	tu_assert_rc(shoal_actor_method(f.rt, a, "m63"), 63);
	m = shoal_actor_method(f.rt, a, "m64");
	tu_assert_rc(m, SHOAL_ENOMETHOD);
	/* Frozen from the start on. */
	tu_assert_rc(shoal_register_task(reg, "late", rt_task_add, NULL), -EBUSY);
	tu_assert_rc(shoal_register_actor(reg, "Late", box_init, NULL), -EBUSY);
	tu_assert_rc(shoal_register_method(reg, "K0", "late", box_get), -EBUSY);
	{
		struct shoal_args args;
		struct shoal_view v;
		int64_t x = 20, y = 22, sum;
		shoal_id ref;

		shoal_args_init(&args);
		shoal_args_bytes(&args, &x, sizeof x);
		shoal_args_bytes(&args, &y, sizeof y);
		tu_assert_rc(shoal_submit(f.rt, shoal_function(f.rt, "f7"), &args, 1,
					  &ref), 0);
		tu_assert_rc(shoal_get(f.s, ref, 10000, &v), 0);
		memcpy(&sum, v.data, sizeof sum);
		cr_assert_eq(sum, 42);
		shoal_release(f.s, &v);
		shoal_drop(f.s, ref);
	}
	stop(&f);
}

/* ------------------------------------------------------------------ */
/* Attaching                                                           */

/* A named store whose runtime region is laid out by the driver's own
 * code, with no process behind it: a region to corrupt at will. */
static struct shoal_store *fake_runtime(const char *name,
					struct shoal__rt_hdr **hdr,
					uint64_t *size)
{
	struct shoal_store_options so = tu_opts(MIB);
	struct shoal__rt_plan plan = {.num_workers = 1, .max_workers = 2,
				      .max_tasks = 8, .max_actors = 2,
				      .max_lanes = 4, .lane_capacity = 4};
	struct shoal_registry *reg = registry();
	struct shoal_store *s = NULL;
	void *region;

	tu_assert_rc(shoal__store_create_ext(name, &so, shoal__rt_region_bytes(&plan),
					     &s), 0);
	tu_assert_rc(shoal__store_publish(s, &so), 0); /* named last (name.c) */
	region = shoal__store_ext(s, size);
	cr_assert_not_null(region);
	tu_assert_rc(shoal__rt_region_init(region, &plan, reg), 0);
	shoal_registry_close(reg);
	*hdr = region;
	return s;
}

Test(runtime_edges, attach_refuses_what_is_not_a_runtime)
{
	const char *plain_name, *fake_name = tu_shm_name("fake");
	struct shoal_store *plain = tu_named_store(MIB, &plain_name);
	struct shoal_runtime *rt = NULL;
	struct shoal__rt_hdr *h;
	struct shoal__queue *q;
	uint64_t size;
	struct shoal_store *fake = fake_runtime(fake_name, &h, &size);
	char missing[TU_NAME_LEN];
	/* Fields of the header another process could have written, each
	 * changed alone, and what attach says of it. */
	struct {
		const char *what;
		void *field;
		size_t len;
		uint64_t value;
		int want;
	} bad[] = {
		{"magic", &h->magic, 8, 0x1234, SHOAL_EBADSEGMENT},
		{"version", &h->version, 4, SHOAL__RT_VERSION + 1, SHOAL_EVERSION},
		{"max_workers 0", &h->max_workers, 4, 0, SHOAL_EBADSEGMENT},
		{"max_workers", &h->max_workers, 4, SHOAL__RT_MAX_WORKERS + 1,
		 SHOAL_EBADSEGMENT},
		{"num_workers", &h->num_workers, 4, 3, SHOAL_EBADSEGMENT},
		{"max_tasks 0", &h->max_tasks, 4, 0, SHOAL_EBADSEGMENT},
		{"max_tasks", &h->max_tasks, 4, SHOAL__RT_MAX_TASKS + 1,
		 SHOAL_EBADSEGMENT},
		{"nfuncs", &h->nfuncs, 4, SHOAL_MAX_FUNCTIONS + 1, SHOAL_EBADSEGMENT},
		{"max_actors", &h->max_actors, 4, SHOAL__ACT_MAX_ACTORS + 1,
		 SHOAL_EBADSEGMENT},
		{"max_lanes", &h->max_lanes, 4, SHOAL__ACT_MAX_LANES + 1,
		 SHOAL_EBADSEGMENT},
		{"nclasses", &h->nclasses, 4, SHOAL_MAX_CLASSES + 1, SHOAL_EBADSEGMENT},
		{"lane_capacity", &h->lane_capacity, 4, 3, SHOAL_EBADSEGMENT},
		{"region too small", &h->max_tasks, 4, 4096, SHOAL_EBADSEGMENT},
		{"workers_off", &h->workers_off, 8, SHOAL__RT_HDR_SIZE + 64,
		 SHOAL_EBADSEGMENT},
		{"fnames_off", &h->fnames_off, 8, 0, SHOAL_EBADSEGMENT},
		{"tasks_off", &h->tasks_off, 8, 0, SHOAL_EBADSEGMENT},
		{"task_bits_off", &h->task_bits_off, 8, 0, SHOAL_EBADSEGMENT},
		{"queue_off", &h->queue_off, 8, 0, SHOAL_EBADSEGMENT},
		{"queue_bytes", &h->queue_bytes, 8, 0, SHOAL_EBADSEGMENT},
		{"classes_off", &h->classes_off, 8, 0, SHOAL_EBADSEGMENT},
		{"actors_off", &h->actors_off, 8, 0, SHOAL_EBADSEGMENT},
		{"lmeta_off", &h->lmeta_off, 8, 0, SHOAL_EBADSEGMENT},
		{"lanes_off", &h->lanes_off, 8, 0, SHOAL_EBADSEGMENT},
		{"lane_bytes", &h->lane_bytes, 8, 0, SHOAL_EBADSEGMENT},
	};

	tu_format_name("missing", missing, sizeof missing);
	tu_assert_rc(shoal_runtime_attach(fake_name, NULL), -EINVAL);
	tu_assert_rc(shoal_runtime_attach(missing, &rt), -ENOENT);
	tu_assert_rc(shoal_runtime_attach(plain_name, &rt), SHOAL_EBADSEGMENT);
	cr_assert_null(rt);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		uint8_t saved[8];

		memcpy(saved, bad[i].field, bad[i].len);
		memcpy(bad[i].field, &bad[i].value, bad[i].len); /* little-endian */
		tu_assert_rc(shoal_runtime_attach(fake_name, &rt), bad[i].want, "%s",
			     bad[i].what);
		named_error(bad[i].want);
		cr_assert_null(rt, "%s: a handle came back", bad[i].what);
		memcpy(bad[i].field, saved, bad[i].len);
	}
	/* The run queue's own header is checked too. */
	q = (struct shoal__queue *)((uint8_t *)h + h->queue_off);
	q->magic ^= 1;
	tu_assert_rc(shoal_runtime_attach(fake_name, &rt), SHOAL_EBADSEGMENT, "queue");
	q->magic ^= 1;
	/* Whole again: it attaches, and the handle is an attached one. */
	tu_assert_rc(shoal_runtime_attach(fake_name, &rt), 0);
	cr_assert_not_null(rt);
	tu_assert_rc(shoal_runtime_shutdown(rt), -EINVAL);
	tu_assert_rc(shoal_function(rt, "shape"), 1);
	tu_assert_rc(shoal_function(rt, "nope"), SHOAL_ENOFUNCTION);
	/* No fork server ever started there (its pid is 0, its mutex never
	 * taken): requests to it are refused at once, not waited on. */
	{
		struct shoal_actor box = {.index = 0, .generation = 1, .klass = 0,
					  .magic = SHOAL_ACTOR_MAGIC};
		int64_t t0 = tu_now_ms();

		tu_assert_rc(shoal_actor_create(rt, "Box", NULL, NULL, &box), -ESRCH);
		tu_assert_rc(shoal_actor_kill(rt, box, true), -ESRCH);
		cr_assert_lt(tu_now_ms() - t0, 1000);
		tu_assert_rc(shoal_actor_list(rt, NULL, 0), 0);
		tu_assert_rc(shoal_actor_lookup(rt, "box", &box), SHOAL_ENOACTOR);
	}
	tu_assert_rc(shoal_runtime_detach(rt), 0);
	/* Only the attached handle's slot came and went. */
	tu_assert_rc(tu_stats(fake).processes, 1);
	shoal_store_close(fake);
	shoal_store_close(plain);
}

/* A handle attached to a runtime that then shut down: every request is
 * refused with the runtime's end, at once, and the handle still detaches. */
Test(runtime_edges, an_attached_handle_after_shutdown_is_refused_at_once)
{
	const char *name = tu_shm_name(NULL);
	struct fx f = start_named(name);
	struct shoal_actor_options ao = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_runtime *att = NULL;
	struct shoal_actor box, found;
	struct shoal_args a;
	int64_t one = 1;
	int64_t t0;
	shoal_id ref;

	ao.name = "box";
	tu_assert_rc(shoal_actor_create(f.rt, "Box", NULL, &ao, &box), 0);
	tu_assert_rc(shoal_runtime_attach(name, &att), 0);
	tu_assert_rc(shoal_actor_lookup(att, "box", &found), 0);
	cr_assert_eq(found.generation, box.generation);
	tu_assert_rc(shoal_runtime_shutdown(f.rt), 0);
	shoal_registry_close(f.reg);
	cr_assert_not(tu_shm_exists(name), "segment left after shutdown");

	shoal_args_init(&a);
	shoal_args_bytes(&a, &one, sizeof one);
	t0 = tu_now_ms();
	tu_assert_rc(shoal_submit(att, shoal_function(att, "add"), &a, 1, &ref),
		     SHOAL_ESTOPPED);
	tu_assert_rc(shoal_actor_call(att, box, 0, NULL, &ref), SHOAL_ESTOPPED);
	tu_assert_rc(shoal_actor_send(att, box, 0, NULL), SHOAL_ESTOPPED);
	tu_assert_rc(shoal_actor_create(att, "Box", NULL, NULL, &found),
		     SHOAL_ESTOPPED);
	tu_assert_rc(shoal_actor_kill(att, box, true), SHOAL_ESTOPPED);
	cr_assert_lt(tu_now_ms() - t0, 1000, "refusals took %" PRId64 " ms",
		     tu_now_ms() - t0);
	named_error(SHOAL_ESTOPPED);
	/* Lookups read the table: the actor is not live any more. */
	tu_assert_rc(shoal_actor_lookup(att, "box", &found), SHOAL_ENOACTOR);
	tu_assert_rc(shoal_runtime_detach(att), 0);
}

/* ------------------------------------------------------------------ */
/* Submitting                                                          */

/*
 * Sizes a list built by hand can carry past shoal_args_bytes: 16
 * by-value arguments of 2^30 - 1 bytes each summed to 128 bytes in 32
 * bits and "fitted" the record, whose encoding then copied a GiB out of a
 * 16-byte buffer; one of 2^30 or more is refused outright.  And
 * arguments that do not fit the record even once the large ones went
 * through the store (9 refs and a 1000-byte value: -E2BIG) leave nothing
 * in it: the value's object is taken back.
 */
Test(runtime_edges, argument_sizes_are_summed_without_overflow)
{
	struct fx f = start();
	struct shoal_args a;
	shoal_id ref, arg;
	uint64_t base;
	uint8_t small[16] = {0}, big[1000];
	int add = fn(&f, "add");
	int64_t one = 1, shape[2];
	struct shoal_view v;

	shoal_args_init(&a);
	a.n = SHOAL_MAX_ARGS;
	for (uint32_t i = 0; i < a.n; i++)
		a.a[i] = (struct shoal_arg){.kind = SHOAL_ARG_BYTES, .data = small,
					    .size = (1u << 30) - 1};
	tu_assert_rc(shoal_submit(f.rt, add, &a, 1, &ref), SHOAL_ESTOREFULL,
		     "16 arguments of a GiB each, in a store of a few MiB");
	a.n = 1;
	a.a[0].size = (size_t)1 << 30;
	tu_assert_rc(shoal_submit(f.rt, add, &a, 1, &ref), -EINVAL,
		     "an argument of 2^30 bytes");
	a.a[0].size = ((size_t)1 << 32) + 8;
	tu_assert_rc(shoal_submit(f.rt, add, &a, 1, &ref), -EINVAL,
		     "an argument of 4 GiB + 8 bytes");

	tu_assert_rc(shoal_put(f.s, &one, sizeof one, 0, &arg), 0);
	base = live_objects(&f);
	memset(big, 1, sizeof big);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, big, sizeof big), 0);
	for (int i = 0; i < 9; i++)
		tu_assert_rc(shoal_args_ref(&a, arg), 0);
	tu_assert_rc(shoal_submit(f.rt, add, &a, 1, &ref), -E2BIG);
	cr_assert_eq(live_objects(&f), base, "the refused submit left %llu objects",
		     (unsigned long long)(live_objects(&f) - base));
	/* A task that ran: its by-value argument's object goes once the
	 * task is done (let go at the next submit), not left to eviction. */
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, big, sizeof big), 0);
	for (int i = 0; i < 7; i++) /* 8 refs of 24 bytes fit 200 */
		tu_assert_rc(shoal_args_ref(&a, arg), 0);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "shape"), &a, 1, &ref), 0);
	tu_assert_rc(shoal_get(f.s, ref, 10000, &v), 0);
	memcpy(shape, v.data, sizeof shape);
	cr_assert(shape[0] == 8 && shape[1] == (int64_t)sizeof big,
		  "the task saw %lld arguments, the first of %lld bytes",
		  (long long)shape[0], (long long)shape[1]);
	tu_assert_rc(shoal_release(f.s, &v), 0);
	tu_assert_rc(shoal_drop(f.s, ref), 0);
	still_adds(&f, 2, 3);
	cr_assert_eq(live_objects(&f), base, "a done task's argument stayed: "
		     "%llu objects more", (unsigned long long)(live_objects(&f) - base));
	tu_assert_rc(shoal_drop(f.s, arg), 0);
	stop(&f);
}

Test(runtime_edges, bad_arguments_are_refused_and_leave_nothing)
{
	struct fx f = start();
	struct shoal_args a;
	struct shoal_task_options to = SHOAL_TASK_OPTIONS_INIT;
	shoal_id ref, ghost = tu_id(7, 7);
	uint64_t base = live_objects(&f);
	int add = fn(&f, "add");
	int64_t one = 1, t0;
	void *huge;

	shoal_args_init(NULL); /* a no-op */
	tu_assert_rc(shoal_args_bytes(NULL, &one, sizeof one), -EINVAL);
	tu_assert_rc(shoal_args_ref(NULL, ghost), -EINVAL);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, &one, 1u << 30), -EINVAL); /* too big */
	cr_assert_eq(a.n, 0);

	/* Argument lists built by hand, wrongly. */
	shoal_args_init(&a);
	a.n = SHOAL_MAX_ARGS + 1;
	tu_assert_rc(shoal_submit(f.rt, add, &a, 1, &ref), -EINVAL, "count");
	shoal_args_init(&a);
	a.n = 1;
	a.a[0] = (struct shoal_arg){.kind = 3, .data = &one, .size = sizeof one};
	tu_assert_rc(shoal_submit(f.rt, add, &a, 1, &ref), -EINVAL, "kind");
	a.a[0] = (struct shoal_arg){.kind = SHOAL_ARG_BYTES, .data = NULL, .size = 8};
	tu_assert_rc(shoal_submit(f.rt, add, &a, 1, &ref), -EINVAL, "no bytes");

	/* A ref to nothing: refused, more times than the table has records,
	 * so a record kept by a refusal would show as -ENOSPC. */
	for (unsigned i = 0; i < 2 * MAX_TASKS; i++) {
		shoal_args_init(&a);
		tu_assert_rc(shoal_args_bytes(&a, &one, sizeof one), 0);
		tu_assert_rc(shoal_args_ref(&a, ghost), 0);
		tu_assert_rc(shoal_submit(f.rt, add, &a, 4, &ref), -ENOENT, "try %u", i);
	}
	named_error(-ENOENT);
	tu_assert_rc(live_objects(&f), base, "promises left by refused submits");

	/* A by-value argument bigger than the whole store: no wait can make
	 * it fit, so even a submit that may wait for ever fails at once. */
	huge = calloc(1, 5 * MIB);
	cr_assert_not_null(huge);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_bytes(&a, huge, 5 * MIB), 0);
	to.timeout_ms = -1;
	t0 = tu_now_ms();
	tu_assert_rc(shoal_submit_opts(f.rt, add, &a, &to, &ref), SHOAL_ESTOREFULL);
	cr_assert_lt(tu_now_ms() - t0, 2000, "took %" PRId64 " ms", tu_now_ms() - t0);
	free(huge);
	tu_assert_rc(live_objects(&f), base);

	for (int i = 0; i < 2 * (int)MAX_TASKS; i++)
		still_adds(&f, i, 1);
	tu_assert_rc(live_objects(&f), base);
	stop(&f);
}

/* Returns are promised one by one: when the store runs out of objects
 * half-way, the promises made so far are taken back. */
Test(runtime_edges, a_submit_that_runs_out_of_objects_takes_back_its_promises)
{
	struct shoal_runtime_options o = small_opts(NULL);
	struct shoal_call_options co = SHOAL_CALL_OPTIONS_INIT;
	struct fx f = {.reg = registry()};
	shoal_id refs[SHOAL_MAX_RETURNS], fill[64];
	struct shoal_actor box;
	struct shoal_args a;
	int64_t one = 1;
	uint64_t base;
	int nfill = 0, rc = 0;

	o.store.max_objects = 64;
	tu_assert_rc(shoal_runtime_start(f.reg, &o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	tu_assert_rc(shoal_actor_create(f.rt, "Box", NULL, NULL, &box), 0);
	/* Leave room for fewer objects than the submit wants returns. */
	while (nfill < 64 && tu_stats(f.s).objects + 8 < 64 &&
	       (rc = shoal_put(f.s, &one, sizeof one, 0, &fill[nfill])) == 0)
		nfill++;
	tu_assert_rc(rc, 0);
	base = live_objects(&f);
	shoal_args_init(&a);
	shoal_args_bytes(&a, &one, sizeof one);
	rc = shoal_submit(f.rt, fn(&f, "add"), &a, 16, refs);
	tu_assert_rc(rc, -ENOSPC, "max_objects reached");
	tu_assert_rc(live_objects(&f), base, "promises left behind");
	/* The same for a call's results. */
	co.num_returns = 16;
	rc = shoal_actor_call_opts(f.rt, box, 0, NULL, &co, refs);
	tu_assert_rc(rc, -ENOSPC, "max_objects reached by a call");
	tu_assert_rc(live_objects(&f), base, "promises of the call left behind");
	for (int i = 0; i < nfill; i++)
		tu_assert_rc(shoal_drop(f.s, fill[i]), 0);
	still_adds(&f, 40, 2);
	stop(&f);
}

/* ------------------------------------------------------------------ */
/* The task API inside a task                                          */

Test(runtime_edges, the_task_api_refuses_bad_arguments_inside_a_task)
{
	struct fx f = start();
	struct shoal_actor nogen = {.index = 0, .generation = 0, .klass = 0,
				    .magic = SHOAL_ACTOR_MAGIC};
	uint8_t zeros[sizeof nogen] = {0};
	struct shoal_args a;
	shoal_id refs[4];
	int32_t c[P_NUM];
	char buf[8], msg[256];
	uint64_t base = live_objects(&f);

	shoal_args_init(&a);
	shoal_args_bytes(&a, "hi", 2);
	tu_assert_rc(shoal_args_actor(&a, &nogen), 0);
	shoal_args_bytes(&a, zeros, sizeof zeros);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "probe"), &a, 4, refs), 0);
	cr_assert_eq(result(&f, refs[0], buf, sizeof buf), 2);
	cr_assert(!memcmp(buf, "ok", 2), "return 0 was overwritten");
	cr_assert_eq(result(&f, refs[1], c, sizeof c), sizeof c);
	cr_assert_eq(c[P_RUNTIME_NULL], 0);
	cr_assert_eq(c[P_NARGS_NULL], 0);
	cr_assert_eq(c[P_NRETS_NULL], 0);
	tu_assert_rc(c[P_ARG_PAST], SHOAL_EARGCOUNT);
	tu_assert_rc(c[P_ARG_NODATA], -EINVAL);
	tu_assert_rc(c[P_ARG_NOSIZE], -EINVAL);
	tu_assert_rc(c[P_ARG_NULLTASK], -EINVAL);
	tu_assert_rc(c[P_ACTOR_SIZE], SHOAL_EARGTYPE);
	tu_assert_rc(c[P_ACTOR_NOGEN], -EINVAL);
	tu_assert_rc(c[P_ACTOR_NOMAGIC], -EINVAL);
	tu_assert_rc(c[P_ACTOR_PAST], SHOAL_EARGCOUNT);
	tu_assert_rc(c[P_ACTOR_NOOUT], -EINVAL);
	tu_assert_rc(c[P_RET_PAST], -EINVAL);
	tu_assert_rc(c[P_RET_NODATA], -EINVAL);
	tu_assert_rc(c[P_RET_NULLTASK], -EINVAL);
	tu_assert_rc(c[P_BUF_PAST], -EINVAL);
	tu_assert_rc(c[P_BUF_NOBUF], -EINVAL);
	tu_assert_rc(c[P_BUF_NULLTASK], -EINVAL);
	tu_assert_rc(c[P_RET_OK], 0);
	tu_assert_rc(c[P_RET_AGAIN], -EEXIST);
	tu_assert_rc(c[P_BUF_AGAIN], -EEXIST);
	tu_assert_rc(c[P_RET_EMPTY], 0);
	tu_assert_rc(c[P_FAIL_NULLTASK], -EINVAL);
	/* Return 2 was never set: an error that says so. */
	tu_assert_rc(result_error(&f, refs[2], msg, sizeof msg), SHOAL_ETASK);
	cr_assert(strstr(msg, "probe set 3 of 4 return values"), "message: %s", msg);
	cr_assert_eq(result(&f, refs[3], buf, sizeof buf), 0);
	for (int i = 0; i < 4; i++)
		tu_assert_rc(shoal_drop(f.s, refs[i]), 0);
	tu_assert_rc(live_objects(&f), base);
	stop(&f);
}

Test(runtime_edges, the_first_failure_stands_and_cancels_an_open_buffer)
{
	struct fx f = start();
	shoal_id refs[3];
	int32_t code;
	char msg[256];
	uint64_t base = live_objects(&f);

	tu_assert_rc(shoal_submit(f.rt, fn(&f, "fail_twice"), NULL, 3, refs), 0);
	/* The open buffer was not sealed: an error, with no message (the
	 * failure gave none), and the code a positive one turns into. */
	tu_assert_rc(result_error(&f, refs[0], msg, sizeof msg), SHOAL_ETASK);
	cr_assert_str_eq(msg, "");
	/* Returns set before the task failed keep their values. */
	cr_assert_eq(result(&f, refs[1], &code, sizeof code), sizeof code);
	tu_assert_rc(code, SHOAL_ETASK);
	cr_assert_eq(result(&f, refs[2], &code, sizeof code), sizeof code);
	tu_assert_rc(code, SHOAL_ETASK, "the second failure replaced the first");
	for (int i = 0; i < 3; i++)
		tu_assert_rc(shoal_drop(f.s, refs[i]), 0);
	tu_assert_rc(live_objects(&f), base);
	still_adds(&f, 1, 1);
	stop(&f);
}

/* A return the task could not write (no fill left for it) is an error
 * the caller gets, not a promise left unsealed for ever. */
Test(runtime_edges, a_return_refused_for_lack_of_fills_becomes_an_error)
{
	enum { NRET = 9 }; /* 8 buffers: every fill of the worker's slot */
	struct fx f = start();
	shoal_id refs[NRET];
	int64_t v;
	char msg[256];
	uint64_t base = live_objects(&f);

	tu_assert_rc(shoal_submit(f.rt, fn(&f, "many_buffers"), NULL, NRET, refs), 0);
	cr_assert_eq(result(&f, refs[0], &v, sizeof v), sizeof v);
	tu_assert_rc((int)v, -EBUSY, "a buffer past the open ones");
	cr_assert_eq(result(&f, refs[1], &v, sizeof v), sizeof v);
	tu_assert_rc((int)v, -EBUSY, "a copy while every fill is open");
	for (int i = 2; i < NRET - 1; i++) {
		cr_assert_eq(result(&f, refs[i], &v, sizeof v), sizeof v);
		cr_assert_eq(v, i, "return %d", i);
	}
	tu_assert_rc(result_error(&f, refs[NRET - 1], msg, sizeof msg), SHOAL_ETASK);
	cr_assert(strstr(msg, "many_buffers set 8 of 9 return values"), "message: %s",
		  msg);
	for (int i = 0; i < NRET; i++)
		tu_assert_rc(shoal_drop(f.s, refs[i]), 0);
	tu_assert_rc(live_objects(&f), base);
	still_adds(&f, 4, 5);
	stop(&f);
}

/* ------------------------------------------------------------------ */
/* Actors                                                              */

Test(runtime_edges, actor_requests_with_bad_arguments_are_refused)
{
	struct fx f = start();
	struct shoal_actor_options ao = SHOAL_ACTOR_OPTIONS_INIT;
	struct shoal_actor box, other, list[2], bad;
	struct shoal_actor_info info;
	struct shoal_args a;
	char long_name[SHOAL_ACTOR_NAME_MAX + 2];
	char buf[16];
	shoal_id ref;
	int get;

	memset(long_name, 'n', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = '\0';
	tu_assert_rc(shoal_actor_create(NULL, "Box", NULL, NULL, &box), -EINVAL);
	tu_assert_rc(shoal_actor_create(f.rt, NULL, NULL, NULL, &box), -EINVAL);
	tu_assert_rc(shoal_actor_create(f.rt, "Box", NULL, NULL, NULL), -EINVAL);
	ao.name = "";
	tu_assert_rc(shoal_actor_create(f.rt, "Box", NULL, &ao, &box), -EINVAL);
	ao.name = long_name;
	tu_assert_rc(shoal_actor_create(f.rt, "Box", NULL, &ao, &box), -EINVAL);
	shoal_args_init(&a);
	a.n = SHOAL_MAX_ARGS + 1;
	tu_assert_rc(shoal_actor_create(f.rt, "Box", &a, NULL, &box), -EINVAL);
	/* A constructor argument that is a ref to nothing: the fork server
	 * cannot hold it, and the slot it took is free again. */
	shoal_args_init(&a);
	shoal_args_ref(&a, tu_id(9, 9));
	tu_assert_rc(shoal_actor_create(f.rt, "Box", &a, NULL, &box), -ENOENT);
	tu_assert_rc(shoal_actor_list(f.rt, NULL, 0), 0);

	ao.name = "box";
	shoal_args_init(&a);
	shoal_args_bytes(&a, "first", 5);
	tu_assert_rc(shoal_actor_create(f.rt, "Box", &a, &ao, &box), 0);
	tu_assert_rc(shoal_actor_create(f.rt, "Box", NULL, NULL, &other), 0);
	/* max_actors is 2, and both refusals above left their slot. */
	tu_assert_rc(shoal_actor_list(f.rt, NULL, 0), 2);

	tu_assert_rc(shoal_actor_lookup(NULL, "box", &bad), -EINVAL);
	tu_assert_rc(shoal_actor_lookup(f.rt, NULL, &bad), -EINVAL);
	tu_assert_rc(shoal_actor_lookup(f.rt, "", &bad), -EINVAL);
	tu_assert_rc(shoal_actor_lookup(f.rt, "box", NULL), -EINVAL);
	tu_assert_rc(shoal_actor_lookup(f.rt, "nobody", &bad), SHOAL_ENOACTOR);

	tu_assert_rc(shoal_actor_method(NULL, box, "get"), -EINVAL);
	tu_assert_rc(shoal_actor_method(f.rt, box, NULL), -EINVAL);
	bad = box;
	bad.magic = 0;
	tu_assert_rc(shoal_actor_method(f.rt, bad, "get"), -EINVAL);
	bad = box;
	bad.klass = 1; /* one class registered */
	tu_assert_rc(shoal_actor_method(f.rt, bad, "get"), -EINVAL);
	get = shoal_actor_method(f.rt, box, "get");
	tu_assert_rc(get, 0);

	tu_assert_rc(shoal_actor_info(f.rt, box, NULL), -EINVAL);
	tu_assert_rc(shoal_actor_info(NULL, box, &info), -EINVAL);
	tu_assert_rc(shoal_actor_list(NULL, list, 2), -EINVAL);
	memset(list, 0, sizeof list);
	tu_assert_rc(shoal_actor_list(f.rt, list, 1), 2); /* more than fit */
	cr_assert_eq(list[0].magic, SHOAL_ACTOR_MAGIC);
	cr_assert_eq(list[1].magic, 0, "list wrote past its cap");
	tu_assert_rc(shoal_args_actor(&a, NULL), -EINVAL);

	/* A call with an argument list built wrongly queues nothing. */
	shoal_args_init(&a);
	a.n = 1;
	a.a[0] = (struct shoal_arg){.kind = 9};
	tu_assert_rc(shoal_actor_call(f.rt, box, get, &a, &ref), -EINVAL);
	tu_assert_rc(shoal_actor_send(f.rt, box, get, &a), -EINVAL);
	/* ... and the actor still answers, with what it was made with. */
	tu_assert_rc(shoal_actor_call(f.rt, box, get, NULL, &ref), 0);
	cr_assert_eq(result(&f, ref, buf, sizeof buf), 5);
	cr_assert(!memcmp(buf, "first", 5));
	tu_assert_rc(shoal_drop(f.s, ref), 0);
	info = (struct shoal_actor_info){0};
	tu_assert_rc(shoal_actor_info(f.rt, box, &info), 0);
	cr_assert_str_eq(info.name, "box");
	cr_assert_str_eq(info.klass, "Box");
	stop(&f);
}

/* A handle of the actor a slot held before: every request on it says the
 * actor is dead, while the slot's new actor is untouched. */
Test(runtime_edges, a_stale_handle_is_refused_by_the_fork_server_too)
{
	struct fx f = start();
	struct shoal_actor old, cur, stale;
	struct shoal_actor_info info;
	char buf[16];
	shoal_id ref;
	struct shoal_args a;

	shoal_args_init(&a);
	shoal_args_bytes(&a, "old", 3); /* a constructor argument that is no ref */
	tu_assert_rc(shoal_actor_create(f.rt, "Box", &a, NULL, &old), 0);
	tu_assert_rc(shoal_actor_kill(f.rt, old, true), 0);
	tu_assert_rc(shoal_actor_info(f.rt, old, &info), 0);
	cr_assert_eq(info.state, SHOAL_ACTOR_DEAD);
	cr_assert(strstr(info.why, "killed"), "why: %s", info.why);
	tu_assert_rc(shoal_actor_kill(f.rt, old, true), SHOAL_EACTORDIED);
	/* A handle one generation ahead: well formed, names no actor. */
	stale = old;
	stale.generation += 7;
	tu_assert_rc(shoal_actor_kill(f.rt, stale, false), SHOAL_EACTORDIED);
	tu_assert_rc(shoal_actor_info(f.rt, stale, &info), SHOAL_EACTORDIED);
	named_error(SHOAL_EACTORDIED);
	/* max_actors is 2: fill both slots, the dead one's among them. */
	shoal_args_init(&a);
	shoal_args_bytes(&a, "new", 3);
	tu_assert_rc(shoal_actor_create(f.rt, "Box", &a, NULL, &cur), 0);
	tu_assert_rc(shoal_actor_create(f.rt, "Box", &a, NULL, &stale), 0);
	if (cur.index != old.index)
		cur = stale;
	cr_assert_eq(cur.index, old.index, "the dead actor's slot was not reused");
	cr_assert_neq(cur.generation, old.generation);
	tu_assert_rc(shoal_actor_kill(f.rt, old, true), SHOAL_EACTORDIED);
	tu_assert_rc(shoal_actor_info(f.rt, old, &info), SHOAL_EACTORDIED);
	tu_assert_rc(shoal_actor_call(f.rt, old, 0, NULL, &ref), SHOAL_EACTORDIED);
	tu_assert_rc(shoal_actor_call(f.rt, cur, 0, NULL, &ref), 0);
	cr_assert_eq(result(&f, ref, buf, sizeof buf), 3);
	cr_assert(!memcmp(buf, "new", 3));
	tu_assert_rc(shoal_drop(f.s, ref), 0);
	stop(&f);
}

/* Calls whose arguments cannot be held or stored are refused before
 * anything is queued: the actor runs none of them. */
Test(runtime_edges, calls_refused_for_their_arguments_queue_nothing)
{
	struct fx f = start();
	struct shoal_call_options co = SHOAL_CALL_OPTIONS_INIT;
	struct shoal_actor box;
	struct shoal_actor_info info;
	struct shoal_args a;
	shoal_id ref, refs[2];
	uint64_t base;
	int get;
	void *huge;
	char buf[16];

	shoal_args_init(&a);
	shoal_args_bytes(&a, "kept", 4);
	tu_assert_rc(shoal_actor_create(f.rt, "Box", &a, NULL, &box), 0);
	get = shoal_actor_method(f.rt, box, "get");
	base = live_objects(&f);
	/* A ref to nothing: refused once its lane exists, and again. */
	for (int i = 0; i < 2; i++) {
		shoal_args_init(&a);
		shoal_args_ref(&a, tu_id(3, 3));
		co.num_returns = 2;
		tu_assert_rc(shoal_actor_call_opts(f.rt, box, get, &a, &co, refs), -ENOENT,
			     "try %d", i);
		tu_assert_rc(shoal_actor_send(f.rt, box, get, &a), -ENOENT, "try %d", i);
	}
	/* An argument bigger than the whole store, even with no timeout. */
	huge = calloc(1, 5 * MIB);
	cr_assert_not_null(huge);
	shoal_args_init(&a);
	shoal_args_bytes(&a, huge, 5 * MIB);
	co.num_returns = 1;
	co.timeout_ms = -1;
	tu_assert_rc(shoal_actor_call_opts(f.rt, box, get, &a, &co, &ref),
		     SHOAL_ESTOREFULL);
	free(huge);
	tu_assert_rc(live_objects(&f), base, "promises or arguments left behind");
	/* Nothing ran: the first call the actor sees is this one. */
	tu_assert_rc(shoal_actor_call(f.rt, box, get, NULL, &ref), 0);
	cr_assert_eq(result(&f, ref, buf, sizeof buf), 4);
	tu_assert_rc(shoal_drop(f.s, ref), 0);
	tu_assert_rc(shoal_actor_info(f.rt, box, &info), 0);
	cr_assert_leq(info.calls_run, 1);
	cr_assert_eq(info.calls_failed, 0);
	stop(&f);
}

/* With every lane of the runtime taken, a process's first call into
 * another actor finds none; a lane given back serves it. */
Test(runtime_edges, a_first_call_with_no_lane_left_is_refused)
{
	struct shoal_runtime_options o = small_opts(NULL);
	struct fx f = {.reg = registry()};
	struct shoal_actor a, b;
	shoal_id ref;
	char buf[16];

	o.max_lanes = 1;
	o.max_actors = 65; /* a lane table of this process past its first size */
	tu_assert_rc(shoal_runtime_start(f.reg, &o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	tu_assert_rc(shoal_actor_create(f.rt, "Box", NULL, NULL, &a), 0);
	tu_assert_rc(shoal_actor_create(f.rt, "Box", NULL, NULL, &b), 0);
	tu_assert_rc(shoal_actor_call(f.rt, a, 0, NULL, &ref), 0);
	cr_assert_eq(result(&f, ref, buf, sizeof buf), 0);
	tu_assert_rc(shoal_drop(f.s, ref), 0);
	tu_assert_rc(shoal_actor_call(f.rt, b, 0, NULL, &ref), -ENOSPC);
	tu_assert_rc(shoal_actor_send(f.rt, b, 0, NULL), -ENOSPC);
	named_error(-ENOSPC);
	/* The kill gives this process's lane into a back (lanes_sweep). */
	tu_assert_rc(shoal_actor_kill(f.rt, a, true), 0);
	tu_assert_rc(shoal_actor_call(f.rt, b, 0, NULL, &ref), 0);
	cr_assert_eq(result(&f, ref, buf, sizeof buf), 0);
	tu_assert_rc(shoal_drop(f.s, ref), 0);
	stop(&f);
}

/* A kill fails what is queued behind a running call: calls with results
 * get SHOAL_EACTORDIED, fire-and-forget ones (with and without
 * arguments kept in the store) are only counted, and their holds go. */
Test(runtime_edges, a_kill_fails_queued_sends_and_lets_their_arguments_go)
{
	struct fx f = start();
	struct shoal_actor box;
	struct shoal_actor_info info;
	struct shoal_args a;
	shoal_id gate = shoal_id_next(shoal_runtime_store(f.rt)), running, queued;
	uint8_t big[1024];
	int wait;
	void *data;
	char msg[256];

	tu_assert_rc(shoal_actor_create(f.rt, "Box", NULL, NULL, &box), 0);
	wait = shoal_actor_method(f.rt, box, "wait");
	tu_assert_rc(wait, 1);
	tu_assert_rc(shoal_create(f.s, gate, 1, NULL, 0, 0, &data), 0);
	shoal_args_init(&a);
	shoal_args_bytes(&a, &gate, sizeof gate);
	tu_assert_rc(shoal_actor_call(f.rt, box, wait, &a, &running), 0);
	/* Queued behind it: a send, a send whose argument goes to the store,
	 * and a call. */
	tu_assert_rc(shoal_actor_send(f.rt, box, wait, &a), 0);
	memset(big, 0xab, sizeof big);
	shoal_args_bytes(&a, big, sizeof big);
	tu_assert_rc(shoal_actor_send(f.rt, box, wait, &a), 0);
	tu_assert_rc(shoal_actor_call(f.rt, box, wait, &a, &queued), 0);
	cr_assert_eq(held_of_size(&f, sizeof big), 2, "the two stored arguments");
	tu_assert_rc(shoal_actor_kill(f.rt, box, true), 0);
	tu_assert_rc(result_error(&f, running, msg, sizeof msg), SHOAL_EACTORDIED);
	tu_assert_rc(result_error(&f, queued, msg, sizeof msg), SHOAL_EACTORDIED);
	cr_assert(strstr(msg, "killed"), "message: %s", msg);
	tu_assert_rc(shoal_actor_info(f.rt, box, &info), 0);
	cr_assert_eq(info.state, SHOAL_ACTOR_DEAD);
	tu_assert_rc(shoal_actor_send(f.rt, box, wait, &a), SHOAL_EACTORDIED);
	tu_assert_rc(shoal_drop(f.s, running), 0);
	tu_assert_rc(shoal_drop(f.s, queued), 0);
	tu_assert_rc(shoal_abort(f.s, gate), 0);
	/* The holds on the stored arguments go once their calls are done:
	 * the next submit collects them. */
	still_adds(&f, 1, 2);
	cr_assert_eq(held_of_size(&f, sizeof big), 0, "holds left on arguments");
	stop(&f);
}

/* An argument that is never sealed but taken back (aborted) fails the
 * task and the call that wait for it with the store's code, and a
 * message naming the argument; nothing waits for it. */
Test(runtime_edges, an_aborted_argument_fails_its_task_and_its_call)
{
	struct fx f = start();
	struct shoal_actor box;
	struct shoal_args a;
	shoal_id x = shoal_id_next(f.s), gate = shoal_id_next(f.s), task, call;
	uint64_t base = live_objects(&f);
	void *data;
	char msg[256];
	int wait;

	tu_assert_rc(shoal_actor_create(f.rt, "Box", NULL, NULL, &box), 0);
	wait = shoal_actor_method(f.rt, box, "wait");
	tu_assert_rc(shoal_create(f.s, x, 8, NULL, 0, 0, &data), 0);
	tu_assert_rc(shoal_put_with_id(f.s, gate, "g", 1, NULL, 0, 0), 0);
	shoal_args_init(&a);
	shoal_args_ref(&a, x);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "add"), &a, 1, &task), 0);
	shoal_args_init(&a);
	shoal_args_bytes(&a, &gate, sizeof gate);
	shoal_args_ref(&a, x);
	tu_assert_rc(shoal_actor_call(f.rt, box, wait, &a, &call), 0);
	tu_assert_rc(shoal_abort(f.s, x), 0);
	tu_assert_rc(result_error(&f, task, msg, sizeof msg), SHOAL_EDELETED);
	cr_assert(strstr(msg, "argument 0: "), "message: %s", msg);
	tu_assert_rc(result_error(&f, call, msg, sizeof msg), SHOAL_EDELETED);
	cr_assert(strstr(msg, "argument 1: "), "message: %s", msg);
	tu_assert_rc(shoal_drop(f.s, task), 0);
	tu_assert_rc(shoal_drop(f.s, call), 0);
	tu_assert_rc(shoal_delete(f.s, gate), 0);
	still_adds(&f, 6, 7);
	tu_assert_rc(live_objects(&f), base);
	stop(&f);
}

/* A cap on extra workers beyond what the segment can lay out is cut to
 * the limit, not refused: only num_workers start. */
Test(runtime_edges, an_extra_worker_cap_past_the_limit_is_cut_to_it)
{
	struct shoal_runtime_options o = small_opts(NULL);
	struct fx f = {.reg = registry()};
	struct shoal_runtime_info info;

	o.max_extra_workers = 100000;
	o.store.ledger_slots = 64;
	tu_assert_rc(shoal_runtime_start(f.reg, &o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	tu_assert_rc(shoal_runtime_info(f.rt, &info, NULL, 0), 0);
	cr_assert_eq(info.num_workers, 1);
	cr_assert_eq(info.workers_alive, 1);
	still_adds(&f, 8, 9);
	stop(&f);
}

/* A worker or an actor process that exits on its own (not a signal):
 * its task or call fails, saying how it ended; the worker is replaced,
 * the actor (no restarts) is dead. */
Test(runtime_edges, processes_that_exit_on_their_own_are_told_apart)
{
	struct fx f = start();
	struct shoal_runtime_info info;
	struct shoal_actor_info ai;
	struct shoal_actor box;
	shoal_id ref;
	char msg[256];

	tu_assert_rc(shoal_submit(f.rt, fn(&f, "quit"), NULL, 1, &ref), 0);
	tu_assert_rc(result_error(&f, ref, msg, sizeof msg), SHOAL_EWORKERDIED);
	cr_assert(strstr(msg, "exited with status 3"), "message: %s", msg);
	tu_assert_rc(shoal_drop(f.s, ref), 0);
	still_adds(&f, 10, 11); /* on its replacement */
	tu_assert_rc(shoal_runtime_info(f.rt, &info, NULL, 0), 0);
	cr_assert_eq(info.workers_died, 1);
	cr_assert_eq(info.workers_alive, 1);

	tu_assert_rc(shoal_actor_create(f.rt, "Box", NULL, NULL, &box), 0);
	tu_assert_rc(shoal_actor_call(f.rt, box, shoal_actor_method(f.rt, box, "quit"),
				      NULL, &ref), 0);
	tu_assert_rc(result_error(&f, ref, msg, sizeof msg), SHOAL_EACTORDIED);
	tu_assert_rc(shoal_drop(f.s, ref), 0);
	tu_assert_rc(shoal_actor_info(f.rt, box, &ai), 0);
	cr_assert_eq(ai.state, SHOAL_ACTOR_DEAD);
	cr_assert(strstr(ai.why, "exited with status 4"), "why: %s", ai.why);
	stop(&f);
}

/* The fork server holds an actor's ref constructor arguments (for its
 * restarts) until the actor is dead for good. */
Test(runtime_edges, a_killed_actor_lets_go_of_its_constructor_refs)
{
	struct fx f = start();
	struct shoal_actor box;
	struct shoal_args a;
	shoal_id x;
	char buf[16];

	tu_assert_rc(shoal_put(f.s, "payload", 7, 0, &x), 0);
	cr_assert_eq(tu_info(f.s, x).holds, 1);
	shoal_args_init(&a);
	shoal_args_ref(&a, x);
	tu_assert_rc(shoal_actor_create(f.rt, "Box", &a, NULL, &box), 0);
	cr_assert_eq(tu_info(f.s, x).holds, 2, "the fork server's hold");
	{
		shoal_id ref;

		tu_assert_rc(shoal_actor_call(f.rt, box, 0, NULL, &ref), 0);
		cr_assert_eq(result(&f, ref, buf, sizeof buf), 7);
		cr_assert(!memcmp(buf, "payload", 7));
		tu_assert_rc(shoal_drop(f.s, ref), 0);
	}
	tu_assert_rc(shoal_actor_kill(f.rt, box, true), 0);
	cr_assert_eq(tu_info(f.s, x).holds, 1, "the hold outlived the actor");
	tu_assert_rc(shoal_drop(f.s, x), 0);
	stop(&f);
}

/* ------------------------------------------------------------------ */
/* The fork server's socket against other users (issue 9)              */

/* Binds abstract "shoal-fs.<pid>" (the old, guessable name) for the next
 * n pids; the fds into fds. */
static int squat_next_pids(int *fds, int n)
{
	FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "r");
	int last = 0, k = 0;

	cr_assert_not_null(f);
	cr_assert_eq(fscanf(f, "%d", &last), 1);
	fclose(f);
	for (int i = 1; i <= n; i++) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		int len = snprintf(a.sun_path + 1, sizeof a.sun_path - 1,
				   "shoal-fs.%d", last + i);
		int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		cr_assert_geq(fd, 0);
		if (bind(fd, (struct sockaddr *)&a,
			 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len))) {
			close(fd);
			continue;
		}
		fds[k++] = fd;
	}
	return k;
}

/* Names taken in advance under every pid the fork server may get: the
 * start still works (its name has a random key).  Before, a squatter of
 * "shoal-fs.<pid>" made every start fail with -EADDRINUSE. */
Test(runtime_edges, a_squatted_socket_name_does_not_stop_a_start)
{
	static int fds[300];
	int n = squat_next_pids(fds, 300);
	struct fx f;
	struct shoal_actor box;

	cr_assert_gt(n, 250, "could only take %d names", n);
	f = start();
	tu_assert_rc(shoal_actor_create(f.rt, "Box", NULL, NULL, &box), 0);
	tu_assert_rc(shoal_actor_kill(f.rt, box, true), 0);
	stop(&f);
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

/*
 * A scribbled max_workers in the shared header (issue 9: "a raised
 * max_workers at forkserver.c, the loop that also drives kill_all, which
 * could signal arbitrary pids"): the fork server sized its arrays by the
 * value at its start and kept looping to whatever the header said, past
 * them.  Now every process reads the geometry once, when it binds: with
 * the header raised to the largest value, and a "worker" slot past the
 * real array (in the function-name table that follows it) naming a live
 * process of the test as RUNNING, nobody counts that process as a worker
 * nor signals it, the running worker keeps serving, nothing else starts
 * or dies, a new attach refuses the segment (its layout no longer adds
 * up), and shutdown is clean.
 */
Test(runtime_edges, a_scribbled_max_workers_is_not_followed_by_the_fork_server)
{
	struct fx f = start_named(tu_shm_name("scribbled"));
	struct shoal_runtime_info before, after;
	struct shoal_runtime *att;
	struct shoal__rt_worker *fake;
	int hold[2];
	pid_t bystander;

	tu_pipe(hold);
	bystander = tu_fork();
	if (bystander == 0) {
		char b;

		close(hold[1]);
		while (read(hold[0], &b, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(hold[0]);
	tu_assert_rc(shoal_runtime_info(f.rt, &before, NULL, 0), 0);
	fake = &f.rt->v.workers[f.rt->v.max_workers + 100];
	atomic_store(&fake->start, shoal__proc_start_time(bystander));
	atomic_store(&fake->pid, bystander);
	atomic_store(&fake->state, SHOAL__WK_RUNNING);
	f.rt->v.hdr->max_workers = SHOAL__RT_MAX_WORKERS; /* a stray write */
	/* The fork server's loop turns for certain: it answers a create and
	 * a kill, and reaps the actor (a SIGCHLD), each a turn. */
	{
		struct shoal_actor box;

		int rc;

		/* The new actor process attaches to a scribbled header, which
		 * it refuses (it exits 1): the kill finds it alive or dead. */
		tu_assert_rc(shoal_actor_create(f.rt, "Box", NULL, NULL, &box), 0);
		rc = shoal_actor_kill(f.rt, box, true);
		cr_assert(rc == 0 || rc == SHOAL_EACTORDIED, "kill: %d (%s)", rc,
			  shoal_strerror(rc));
	}
	for (int i = 0; i < 50; i++)
		still_adds(&f, i, 1);
	tu_assert_rc(shoal_runtime_info(f.rt, &after, NULL, 0), 0);
	cr_assert_eq(after.workers_started, before.workers_started,
		     "%llu workers started after the write",
		     (unsigned long long)(after.workers_started - before.workers_started));
	cr_assert_eq(after.workers_died, 0);
	cr_assert_eq(after.workers_alive, before.workers_alive);
	tu_assert_rc(shoal_runtime_attach(tu_shm_name("scribbled"), &att),
		     SHOAL_EBADSEGMENT);
	stop(&f);
	cr_assert_eq(kill(bystander, 0), 0, "the bystander was killed");
	close(hold[1]);
	cr_assert_eq(tu_wait_exit(bystander), 0, "the bystander was signalled");
}
