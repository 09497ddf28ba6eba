/* SPDX-License-Identifier: MIT */
/*
 * tests/test_ergo.c - less ceremony and the runtime context (issue 13):
 * typed arguments checked on the task's side, one-call typed gets, typed
 * returns, fire-and-forget calls of methods that return a value, error
 * names a Ray user can read, and what a task or a method knows of itself
 * (its ID, worker, caller, actor).  Every test starts a real runtime: the
 * tasks run in worker processes, the actor in its own.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "testutil.h"

TestSuite(ergo, .init = tu_setup, .fini = tu_teardown);

struct fx {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
};

/* ------------------------------------------------------------------ */
/* Tasks                                                               */

/* echo(i64, u64, f64, str) -> the four, typed, in returns 0..3. */
static int task_echo(struct shoal_task *t, void *user)
{
	int64_t i;
	uint64_t u;
	double d;
	const char *str;
	int rc;

	(void)user;
	if ((rc = shoal_task_expect(t, 4)) || (rc = shoal_task_arg_i64(t, 0, &i)) ||
	    (rc = shoal_task_arg_u64(t, 1, &u)) || (rc = shoal_task_arg_f64(t, 2, &d)) ||
	    (rc = shoal_task_arg_str(t, 3, &str)))
		return rc;
	if ((rc = shoal_task_return_i64(t, 0, i)) || (rc = shoal_task_return_u64(t, 1, u)) ||
	    (rc = shoal_task_return_f64(t, 2, d)))
		return rc;
	return shoal_task_return_str(t, 3, str);
}

/* read_i64(x) -> x: only reads argument 0 as an i64. */
static int task_read_i64(struct shoal_task *t, void *user)
{
	int64_t v;
	int rc = shoal_task_arg_i64(t, 0, &v);

	(void)user;
	return rc ? rc : shoal_task_return_i64(t, 0, v);
}

/* read_str(s) -> s. */
static int task_read_str(struct shoal_task *t, void *user)
{
	const char *s;
	int rc = shoal_task_arg_str(t, 0, &s);

	(void)user;
	return rc ? rc : shoal_task_return_str(t, 0, s);
}

/* last_str(...) -> its last argument, read as a string. */
static int task_last_str(struct shoal_task *t, void *user)
{
	uint32_t n = shoal_task_num_args(t);
	const char *s;
	int rc = n ? shoal_task_arg_str(t, n - 1, &s) : SHOAL_EARGCOUNT;

	(void)user;
	return rc ? rc : shoal_task_return_str(t, 0, s);
}

/* probe(...) -> the codes of typed reads used wrongly, int32 each. */
enum { Q_PAST, Q_NULL_OUT, Q_NULL_TASK, Q_STR_AS_I64, Q_I64_AS_F64,
       Q_I64_AS_STR, Q_EXPECT, Q_EXPECT_NULL, Q_ACTOR_OF_I64, Q_NUM };

static int task_probe(struct shoal_task *t, void *user)
{
	int32_t c[Q_NUM];
	int64_t i;
	double d;
	const char *s;
	struct shoal_actor a;

	(void)user;
	/* Arguments: i64 7, str "x". */
	c[Q_PAST] = shoal_task_arg_i64(t, 2, &i);
	c[Q_NULL_OUT] = shoal_task_arg_i64(t, 0, NULL);
	c[Q_NULL_TASK] = shoal_task_arg_i64(NULL, 0, &i);
	c[Q_STR_AS_I64] = shoal_task_arg_i64(t, 1, &i);
	c[Q_I64_AS_F64] = shoal_task_arg_f64(t, 0, &d);
	c[Q_I64_AS_STR] = shoal_task_arg_str(t, 0, &s);
	c[Q_EXPECT] = shoal_task_expect(t, 2);
	c[Q_EXPECT_NULL] = shoal_task_expect(NULL, 2);
	c[Q_ACTOR_OF_I64] = shoal_task_arg_actor(t, 0, &a);
	return shoal_task_return(t, 0, c, sizeof c);
}

/* expect2(a, b) -> 0; fails with the arity's code otherwise. */
static int task_expect2(struct shoal_task *t, void *user)
{
	int rc = shoal_task_expect(t, 2);

	(void)user;
	return rc ? rc : shoal_task_return_i64(t, 0, 0);
}

/* A task's context and its pid (ctx_gate waits for object arg 0 first,
 * so that the test can see it running). */
struct ctx_out {
	struct shoal_task_context c;
	int32_t pid;
	int32_t self_rc;      /* shoal_task_self_actor in a task */
	shoal_id id;          /* shoal_task_id */
};

static int ctx_return(struct shoal_task *t)
{
	struct ctx_out o;
	struct shoal_actor a;
	int rc;

	memset(&o, 0, sizeof o);
	rc = shoal_task_context(t, &o.c);
	if (rc)
		return rc;
	o.pid = getpid();
	o.self_rc = shoal_task_self_actor(t, &a);
	o.id = shoal_task_id(t);
	return shoal_task_return(t, 0, &o, sizeof o);
}

static int task_ctx(struct shoal_task *t, void *user)
{
	(void)user;
	return ctx_return(t);
}

/* ctx_gate(gate): its context once the object `gate` exists (arg 0 is
 * its ID, by value, so that the task runs before it exists). */
static int task_ctx_gate(struct shoal_task *t, void *user)
{
	struct shoal_view v;
	const void *d;
	size_t n;
	shoal_id gate;
	int rc = shoal_task_arg(t, 0, &d, &n);

	(void)user;
	if (rc || n != sizeof gate)
		return rc ? rc : -EINVAL;
	memcpy(&gate, d, sizeof gate);
	rc = shoal_get(shoal_runtime_store(shoal_task_runtime(t)), gate, 20000, &v);
	if (rc)
		return rc;
	shoal_release(shoal_runtime_store(shoal_task_runtime(t)), &v);
	return ctx_return(t);
}

/* nest(): submits ctx and returns {its result, its own pid}. */
static int task_nest(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_store *s = shoal_runtime_store(rt);
	struct ctx_out o[2];
	size_t size;
	shoal_id ref;
	int rc = shoal_submit(rt, shoal_function(rt, "ctx"), NULL, 1, &ref);

	(void)user;
	if (rc)
		return rc;
	rc = shoal_get_copy(s, ref, 20000, &o[0], sizeof o[0], &size);
	if (rc)
		return rc;
	memset(&o[1], 0, sizeof o[1]);
	o[1].pid = getpid();
	return shoal_task_return(t, 0, o, sizeof o);
}

/* call_back(actor): calls whoami on the actor it got and returns that
 * call's result (the context the method saw). */
static int task_call_back(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct ctx_out o;
	struct shoal_actor a;
	shoal_id ref;
	size_t size;
	int m, rc = shoal_task_arg_actor(t, 0, &a);

	(void)user;
	if (rc)
		return rc;
	m = shoal_actor_method(rt, a, "whoami");
	if (m < 0)
		return m;
	rc = shoal_actor_call(rt, a, m, NULL, &ref);
	if (!rc)
		rc = shoal_get_copy(shoal_runtime_store(rt), ref, 20000, &o, sizeof o,
				    &size);
	return rc ? rc : shoal_task_return(t, 0, &o, sizeof o);
}

/* ------------------------------------------------------------------ */
/* The Acc actor                                                       */

struct acc {
	int64_t sum;
	struct shoal_actor ctor_self; /* what its constructor saw */
	int32_t ctor_rc;
	int64_t nil_ids;              /* calls whose shoal_task_id was nil */
	shoal_id last_task;           /* the task spawn submitted */
};

static int acc_init(struct shoal_task *ctx, void **self)
{
	struct acc *a = calloc(1, sizeof *a);

	if (!a)
		return -ENOMEM;
	a->ctor_rc = shoal_task_self_actor(ctx, &a->ctor_self);
	*self = a;
	return 0;
}

static void acc_fini(void *self)
{
	free(self);
}

static void acc_note_id(struct acc *a, struct shoal_task *t)
{
	if (shoal_id_is_nil(shoal_task_id(t)))
		a->nil_ids++;
}

/* add(x) -> the sum: a typed argument, a typed return. */
static int acc_add(struct shoal_task *t, void *self)
{
	struct acc *a = self;
	int64_t x;
	int rc = shoal_task_arg_i64(t, 0, &x);

	if (rc)
		return rc;
	acc_note_id(a, t);
	a->sum += x;
	return shoal_task_return_i64(t, 0, a->sum);
}

/* add_buf(x, ...) -> the sum, written in place (a return buffer). */
static int acc_add_buf(struct shoal_task *t, void *self)
{
	struct acc *a = self;
	int64_t x, *out;
	int rc = shoal_task_arg_i64(t, 0, &x);

	if (rc)
		return rc;
	acc_note_id(a, t);
	rc = shoal_task_return_buffer(t, 0, sizeof *out, (void **)&out);
	if (rc)
		return rc;
	a->sum += x;
	*out = a->sum;
	return 0;
}

/* bump(x): adds, returns nothing. */
static int acc_bump(struct shoal_task *t, void *self)
{
	struct acc *a = self;
	int64_t x;
	int rc = shoal_task_arg_i64(t, 0, &x);

	if (!rc)
		a->sum += x;
	return rc;
}

/* boom(): fails. */
static int acc_boom(struct shoal_task *t, void *self)
{
	(void)self;
	return shoal_task_fail(t, SHOAL_ETASK, "boom");
}

/* get() -> {sum, nil_ids}. */
static int acc_get(struct shoal_task *t, void *self)
{
	struct acc *a = self;
	int64_t out[2] = {a->sum, a->nil_ids};

	return shoal_task_return(t, 0, out, sizeof out);
}

/* whoami() -> struct ctx_out. */
static int acc_whoami(struct shoal_task *t, void *self)
{
	(void)self;
	return ctx_return(t);
}

/* ctor_self() -> {handle, rc} of its constructor's shoal_task_self_actor. */
static int acc_ctor_self(struct shoal_task *t, void *self)
{
	struct acc *a = self;
	struct {
		struct shoal_actor h;
		int32_t rc;
	} out = {a->ctor_self, a->ctor_rc};

	return shoal_task_return(t, 0, &out, sizeof out);
}

/* spawn(): hands the actor's own handle to a task call_back(self) and
 * returns the task's ref (the actor keeps holding it): the actor does not
 * wait for the task, which calls the actor back. */
static int acc_spawn(struct shoal_task *t, void *self)
{
	struct acc *a = self;
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_actor me;
	struct shoal_args args;
	int rc = shoal_task_self_actor(t, &me);

	if (rc)
		return rc;
	shoal_args_init(&args);
	shoal_args_actor(&args, &me);
	rc = shoal_submit(rt, shoal_function(rt, "call_back"), &args, 1, &a->last_task);
	return rc ? rc : shoal_task_return(t, 0, &a->last_task, sizeof a->last_task);
}

/* ------------------------------------------------------------------ */
/* The fixture                                                         */

static struct fx start(uint32_t workers)
{
	struct shoal_runtime_options o;
	struct fx f = {0};

	shoal_runtime_options_init(&o);
	o.num_workers = workers;
	o.max_tasks = 1024;
	o.store.capacity = 16u << 20;
	o.store.max_objects = 4096;
	tu_assert_rc(shoal_registry_open(&f.reg), 0);
	tu_assert_rc(shoal_register_task(f.reg, "echo", task_echo, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "read_i64", task_read_i64, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "read_str", task_read_str, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "last_str", task_last_str, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "probe", task_probe, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "expect2", task_expect2, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "ctx", task_ctx, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "ctx_gate", task_ctx_gate, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "nest", task_nest, NULL), 0);
	tu_assert_rc(shoal_register_task(f.reg, "call_back", task_call_back, NULL), 0);
	tu_assert_rc(shoal_register_actor(f.reg, "Acc", acc_init, acc_fini), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Acc", "add", acc_add), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Acc", "add_buf", acc_add_buf), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Acc", "bump", acc_bump), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Acc", "boom", acc_boom), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Acc", "get", acc_get), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Acc", "whoami", acc_whoami), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Acc", "ctor_self", acc_ctor_self), 0);
	tu_assert_rc(shoal_register_method(f.reg, "Acc", "spawn", acc_spawn), 0);
	tu_assert_rc(shoal_runtime_start(f.reg, &o, &f.rt), 0);
	f.s = shoal_runtime_store(f.rt);
	return f;
}

static void stop(struct fx *f)
{
	tu_assert_rc(shoal_runtime_shutdown(f->rt), 0);
	shoal_registry_close(f->reg);
}

static int fn(struct fx *f, const char *name)
{
	int i = shoal_function(f->rt, name);

	cr_assert_geq(i, 0, "function %s: %d", name, i);
	return i;
}

static int method(struct fx *f, struct shoal_actor a, const char *name)
{
	int m = shoal_actor_method(f->rt, a, name);

	cr_assert_geq(m, 0, "method %s: %d", name, m);
	return m;
}

static struct shoal_actor acc(struct fx *f)
{
	struct shoal_actor a;

	tu_assert_rc(shoal_actor_create(f->rt, "Acc", NULL, NULL, &a), 0);
	return a;
}

/* Submits fn with args (one return) and gets its i64 (dropping it). */
static int run_i64(struct fx *f, const char *name, const struct shoal_args *a,
		   int64_t *out)
{
	shoal_id ref;

	tu_assert_rc(shoal_submit(f->rt, fn(f, name), a, 1, &ref), 0);
	return shoal_get_i64(f->s, ref, 20000, out);
}

/* The error message a failed result holds (the result is kept). */
static int result_error(struct fx *f, shoal_id ref, char *msg, size_t cap)
{
	struct shoal_view v;
	int rc = shoal_get(f->s, ref, 20000, &v);

	if (!rc) {
		shoal_release(f->s, &v);
		return 0;
	}
	shoal_error_message(f->s, ref, msg, cap);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Typed arguments and returns                                         */

Test(ergo, typed_arguments_and_returns_round_trip)
{
	struct fx f = start(2);
	struct shoal_args a;
	shoal_id refs[4];
	int64_t i;
	uint64_t u;
	double d;
	char str[32];

	shoal_args_init(&a);
	tu_assert_rc(shoal_args_i64(&a, -42), 0);
	tu_assert_rc(shoal_args_u64(&a, UINT64_MAX - 1), 0);
	tu_assert_rc(shoal_args_f64(&a, 2.5), 0);
	{
		/* The list holds the numbers: only the string must live
		 * until the submit. */
		char hello[] = "hello";

		tu_assert_rc(shoal_args_str(&a, hello), 0);
		tu_assert_rc(shoal_submit(f.rt, fn(&f, "echo"), &a, 4, refs), 0);
		memset(hello, 'X', sizeof hello - 1);
	}
	tu_assert_rc(shoal_get_i64(f.s, refs[0], 20000, &i), 0);
	tu_assert_rc(shoal_get_u64(f.s, refs[1], 20000, &u), 0);
	tu_assert_rc(shoal_get_f64(f.s, refs[2], 20000, &d), 0);
	tu_assert_rc(shoal_get_str(f.s, refs[3], 20000, str, sizeof str), 0);
	cr_assert_eq(i, -42);
	cr_assert_eq(u, UINT64_MAX - 1);
	cr_assert(d == 2.5, "f64 %f", d);
	cr_assert_str_eq(str, "hello");
	/* Each get dropped the caller's hold: none is left to drop. */
	for (int k = 0; k < 4; k++)
		tu_assert_rc(shoal_drop(f.s, refs[k]), -ENOENT, "ref %d", k);
	stop(&f);
}

Test(ergo, a_wrong_type_or_index_fails_with_a_code_that_says_so)
{
	struct fx f = start(1);
	struct shoal_args a;
	shoal_id ref;
	int32_t c[Q_NUM];
	size_t size;
	char msg[256];

	shoal_args_init(&a);
	shoal_args_i64(&a, 7);
	shoal_args_str(&a, "x");
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "probe"), &a, 1, &ref), 0);
	tu_assert_rc(shoal_get_copy(f.s, ref, 20000, c, sizeof c, &size), 0);
	cr_assert_eq(size, sizeof c);
	tu_assert_rc(c[Q_PAST], SHOAL_EARGCOUNT);
	tu_assert_rc(c[Q_NULL_OUT], -EINVAL);
	tu_assert_rc(c[Q_NULL_TASK], -EINVAL);
	tu_assert_rc(c[Q_STR_AS_I64], SHOAL_EARGTYPE);
	tu_assert_rc(c[Q_I64_AS_F64], SHOAL_EARGTYPE);
	tu_assert_rc(c[Q_I64_AS_STR], SHOAL_EARGTYPE);
	tu_assert_rc(c[Q_EXPECT], 0);
	tu_assert_rc(c[Q_EXPECT_NULL], -EINVAL);
	tu_assert_rc(c[Q_ACTOR_OF_I64], SHOAL_EARGTYPE);

	/* A task that returns the code fails with a message naming the
	 * argument and both types; a get returns the code itself. */
	shoal_args_init(&a);
	shoal_args_f64(&a, 1.0);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "read_i64"), &a, 1, &ref), 0);
	tu_assert_rc(result_error(&f, ref, msg, sizeof msg), SHOAL_EARGTYPE);
	cr_assert(strstr(msg, "argument 0 is f64 (8 bytes), read as i64"), "%s", msg);
	tu_assert_rc(shoal_get_i64(f.s, ref, 0, &(int64_t){0}), SHOAL_EARGTYPE);
	/* A failed read leaves the ref: the message is still there. */
	tu_assert_rc(shoal_error_message(f.s, ref, msg, sizeof msg), (int)strlen(msg));
	tu_assert_rc(shoal_drop(f.s, ref), 0);

	shoal_args_init(&a);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "read_i64"), &a, 1, &ref), 0);
	tu_assert_rc(result_error(&f, ref, msg, sizeof msg), SHOAL_EARGCOUNT);
	cr_assert(strstr(msg, "argument 0 read, 0 given"), "%s", msg);
	shoal_drop(f.s, ref);

	shoal_args_init(&a);
	shoal_args_i64(&a, 1);
	shoal_args_i64(&a, 2);
	shoal_args_i64(&a, 3);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "expect2"), &a, 1, &ref), 0);
	tu_assert_rc(result_error(&f, ref, msg, sizeof msg), SHOAL_EARGCOUNT);
	cr_assert(strstr(msg, "3 arguments given, 2 expected"), "%s", msg);
	shoal_drop(f.s, ref);

	/* Untyped bytes with no NUL at their end are not a string. */
	shoal_args_init(&a);
	shoal_args_bytes(&a, "abc", 3);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "read_str"), &a, 1, &ref), 0);
	tu_assert_rc(result_error(&f, ref, msg, sizeof msg), SHOAL_EARGTYPE);
	shoal_drop(f.s, ref);
	stop(&f);
}

Test(ergo, untyped_bytes_and_refs_of_the_width_read_as_numbers)
{
	struct fx f = start(1);
	struct shoal_args a;
	int64_t v = 1234567, got = 0, four = 4;
	int32_t small = 5;
	char str[64];
	shoal_id obj, ref;

	/* 8 untyped bytes: what programs written before the tags send. */
	shoal_args_init(&a);
	shoal_args_bytes(&a, &v, sizeof v);
	tu_assert_rc(run_i64(&f, "read_i64", &a, &got), 0);
	cr_assert_eq(got, v);
	/* 4 untyped bytes are not an i64. */
	shoal_args_init(&a);
	shoal_args_bytes(&a, &small, sizeof small);
	tu_assert_rc(run_i64(&f, "read_i64", &a, &got), SHOAL_EARGTYPE);
	/* A ref is bytes: an 8-byte object reads as an i64. */
	tu_assert_rc(shoal_put(f.s, &four, sizeof four, 1000, &obj), 0);
	shoal_args_init(&a);
	shoal_args_ref(&a, obj);
	tu_assert_rc(run_i64(&f, "read_i64", &a, &got), 0);
	cr_assert_eq(got, 4);
	/* ... and an object that ends in a NUL as a string. */
	shoal_drop(f.s, obj);
	tu_assert_rc(shoal_put(f.s, "in the store", 13, 1000, &obj), 0);
	shoal_args_init(&a);
	shoal_args_ref(&a, obj);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "read_str"), &a, 1, &ref), 0);
	tu_assert_rc(shoal_get_str(f.s, ref, 20000, str, sizeof str), 0);
	cr_assert_str_eq(str, "in the store");
	shoal_drop(f.s, obj);
	stop(&f);
}

/* A string too long for the record among many arguments travels as a
 * ref to a copy in the store, and is still a string (its tag kept). */
Test(ergo, a_long_string_through_the_store_keeps_its_type)
{
	struct fx f = start(1);
	struct shoal_args a;
	char big[300], out[300];
	shoal_id ref;

	memset(big, 'q', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	shoal_args_init(&a);
	for (int k = 0; k < 8; k++)
		shoal_args_i64(&a, k);
	tu_assert_rc(shoal_args_str(&a, big), 0);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "last_str"), &a, 1, &ref), 0);
	tu_assert_rc(shoal_get_str(f.s, ref, 20000, out, sizeof out), 0);
	cr_assert_str_eq(out, big);
	stop(&f);
}

Test(ergo, typed_helpers_refuse_bad_lists)
{
	struct shoal_args a;

	tu_assert_rc(shoal_args_i64(NULL, 1), -EINVAL);
	tu_assert_rc(shoal_args_u64(NULL, 1), -EINVAL);
	tu_assert_rc(shoal_args_f64(NULL, 1), -EINVAL);
	shoal_args_init(&a);
	tu_assert_rc(shoal_args_str(&a, NULL), -EINVAL);
	tu_assert_rc(shoal_args_str(NULL, "x"), -EINVAL);
	for (int k = 0; k < SHOAL_MAX_ARGS; k++)
		tu_assert_rc(shoal_args_f64(&a, k), 0);
	tu_assert_rc(shoal_args_i64(&a, 1), -ENOSPC);
	tu_assert_rc(shoal_args_str(&a, "x"), -ENOSPC);
	cr_assert_eq(a.n, SHOAL_MAX_ARGS);
	cr_assert_eq(a.a[3].type, SHOAL_TYPE_F64);
	cr_assert(a.a[3].f64 == 3.0);
	cr_assert_null(a.a[3].data, "a number is held by the list");
}

/* ------------------------------------------------------------------ */
/* One-call gets                                                       */

Test(ergo, typed_gets_check_copy_and_drop)
{
	struct fx f = start(1);
	int64_t v = 99, out = 0;
	int32_t small = 3;
	char buf[8];
	size_t size = 0;
	shoal_id id;

	tu_assert_rc(shoal_put(f.s, &v, sizeof v, 1000, &id), 0);
	tu_assert_rc(shoal_get_i64(f.s, id, 0, &out), 0);
	cr_assert_eq(out, 99);
	tu_assert_rc(shoal_drop(f.s, id), -ENOENT, "the get dropped its hold");

	/* Another size: SHOAL_EOBJTYPE, *out untouched, the hold left. */
	tu_assert_rc(shoal_put(f.s, &small, sizeof small, 1000, &id), 0);
	out = -1;
	tu_assert_rc(shoal_get_i64(f.s, id, 0, &out), SHOAL_EOBJTYPE);
	cr_assert_eq(out, -1);
	tu_assert_rc(shoal_drop(f.s, id), 0);

	/* A buffer too small: -ENOBUFS, the hold kept, the size told. */
	tu_assert_rc(shoal_put(f.s, "a longer string", 16, 1000, &id), 0);
	tu_assert_rc(shoal_get_str(f.s, id, 0, buf, sizeof buf), -ENOBUFS);
	tu_assert_rc(shoal_get_copy(f.s, id, 0, buf, sizeof buf, &size), -ENOBUFS);
	cr_assert_eq(size, 16);
	{
		char big[16];

		tu_assert_rc(shoal_get_str(f.s, id, 0, big, sizeof big), 0);
		cr_assert_str_eq(big, "a longer string");
	}
	tu_assert_rc(shoal_drop(f.s, id), -ENOENT);

	/* No NUL at its end: not a string. */
	tu_assert_rc(shoal_put(f.s, "abcd", 4, 1000, &id), 0);
	tu_assert_rc(shoal_get_str(f.s, id, 0, buf, sizeof buf), SHOAL_EOBJTYPE);

	/* Not there yet: -ETIMEDOUT, and the caller's hold stays. */
	id = shoal_id_next(f.s);
	tu_assert_rc(shoal_get_i64(f.s, id, 10, &out), -ETIMEDOUT);
	tu_assert_rc(shoal_get_i64(f.s, (shoal_id){0, 0}, 0, &out), -EINVAL);
	tu_assert_rc(shoal_get_i64(f.s, id, 0, NULL), -EINVAL);
	tu_assert_rc(shoal_get_str(f.s, id, 0, NULL, 4), -EINVAL);
	tu_assert_rc(shoal_get_copy(NULL, id, 0, buf, 1, NULL), -EINVAL);
	stop(&f);
}

/* A typed get gives back its pin and one of the caller's holds in one
 * change (getv.c): a second hold stays, and a caller that holds none
 * reads all the same, leaving no pin behind. */
Test(ergo, a_typed_get_drops_one_hold_and_leaves_no_pin)
{
	struct fx f = start(1);
	int64_t v = 7, out = 0;
	struct shoal_object_info info;
	shoal_id id;

	tu_assert_rc(shoal_put(f.s, &v, sizeof v, 1000, &id), 0);
	tu_assert_rc(shoal_hold(f.s, id), 0);
	tu_assert_rc(shoal_get_i64(f.s, id, 0, &out), 0);
	info = tu_info(f.s, id);
	cr_assert(out == 7 && info.holds == 1 && info.pins == 0,
		  "out %lld holds %u pins %u after one get of two holds",
		  (long long)out, info.holds, info.pins);
	tu_assert_rc(shoal_drop(f.s, id), 0);
	out = 0;
	tu_assert_rc(shoal_get_i64(f.s, id, 0, &out), 0, "a get holding none");
	info = tu_info(f.s, id);
	cr_assert(out == 7 && info.holds == 0 && info.pins == 0,
		  "out %lld holds %u pins %u after a get holding none",
		  (long long)out, info.holds, info.pins);
	tu_assert_rc(shoal_drop(f.s, id), -ENOENT);
	stop(&f);
}

/* shoal_release_drop: the view's pin and one hold go together; a caller
 * with no hold is told so and keeps its pin, to release it alone. */
Test(ergo, release_drop_gives_back_the_pin_and_one_hold)
{
	struct fx f = start(1);
	int64_t v = 9;
	struct shoal_object_info info;
	struct shoal_view view;
	shoal_id id;

	tu_assert_rc(shoal_put(f.s, &v, sizeof v, 1000, &id), 0);
	tu_assert_rc(shoal_hold(f.s, id), 0);
	tu_assert_rc(shoal_get(f.s, id, 0, &view), 0);
	tu_assert_rc(shoal_release_drop(f.s, &view), 0);
	cr_assert_null(view.data, "the view was not cleared");
	info = tu_info(f.s, id);
	cr_assert(info.holds == 1 && info.pins == 0, "holds %u pins %u",
		  info.holds, info.pins);
	tu_assert_rc(shoal_release_drop(f.s, &view), -EINVAL, "a cleared view");
	tu_assert_rc(shoal_release_drop(NULL, &view), -EINVAL);
	tu_assert_rc(shoal_drop(f.s, id), 0);

	tu_assert_rc(shoal_get(f.s, id, 0, &view), 0);
	tu_assert_rc(shoal_release_drop(f.s, &view), -ENOENT, "no hold to drop");
	info = tu_info(f.s, id);
	cr_assert(info.holds == 0 && info.pins == 1, "holds %u pins %u after "
		  "a refused release_drop", info.holds, info.pins);
	tu_assert_rc(shoal_release(f.s, &view), 0);
	cr_assert_eq(tu_info(f.s, id).pins, 0);
	stop(&f);
}

/* ------------------------------------------------------------------ */
/* Fire and forget                                                     */

Test(ergo, a_method_that_returns_a_value_called_fire_and_forget_is_not_a_failure)
{
	struct fx f = start(1);
	struct shoal_actor a = acc(&f);
	struct shoal_actor_info info;
	struct shoal_args args;
	char pad[100];
	int64_t st[2];
	shoal_id ref;
	size_t size;

	memset(pad, 'p', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	shoal_args_init(&args);
	shoal_args_i64(&args, 1);
	/* A value by shoal_task_return, and one in place. */
	for (int k = 0; k < 5; k++)
		tu_assert_rc(shoal_actor_send(f.rt, a, method(&f, a, "add"), &args), 0);
	tu_assert_rc(shoal_actor_send(f.rt, a, method(&f, a, "add_buf"), &args), 0);
	/* With an argument that goes through the store (the call gets a
	 * result of its own to learn when it is done): a method that
	 * returns a value, and one that returns none. */
	for (int k = 0; k < 6; k++)
		shoal_args_str(&args, pad);
	tu_assert_rc(shoal_actor_send(f.rt, a, method(&f, a, "add"), &args), 0);
	tu_assert_rc(shoal_actor_send(f.rt, a, method(&f, a, "bump"), &args), 0);
	/* Calls from one thread run in order: get() runs after them all. */
	tu_assert_rc(shoal_actor_call(f.rt, a, method(&f, a, "get"), NULL, &ref), 0);
	tu_assert_rc(shoal_get_copy(f.s, ref, 20000, st, sizeof st, &size), 0);
	cr_assert_eq(st[0], 8, "sum %" PRId64, st[0]);
	/* Fire and forget: no ID the caller knows (7 calls noted it). */
	cr_assert_eq(st[1], 7, "nil ids %" PRId64, st[1]);
	tu_assert_rc(shoal_actor_info(f.rt, a, &info), 0);
	cr_assert_eq(info.calls_failed, 0, "calls_failed %" PRIu64, info.calls_failed);
	/* A call is counted after its result is sealed: get()'s own count
	 * may lag, the sends' are in. */
	cr_assert_geq(info.calls_run, 8);

	/* A real failure is still counted. */
	tu_assert_rc(shoal_actor_send(f.rt, a, method(&f, a, "boom"), NULL), 0);
	tu_assert_rc(shoal_actor_call(f.rt, a, method(&f, a, "get"), NULL, &ref), 0);
	tu_assert_rc(shoal_get_copy(f.s, ref, 20000, st, sizeof st, &size), 0);
	tu_assert_rc(shoal_actor_info(f.rt, a, &info), 0);
	cr_assert_eq(info.calls_failed, 1, "calls_failed %" PRIu64, info.calls_failed);
	stop(&f);
}

/* ------------------------------------------------------------------ */
/* Names a Ray user can read                                           */

Test(ergo, errors_name_what_is_missing)
{
	static const int codes[] = {SHOAL_ENOACTOR, SHOAL_ENOMETHOD,
				    SHOAL_ENOFUNCTION, SHOAL_ENOCLASS,
				    SHOAL_ELANEFULL, SHOAL_EARGTYPE,
				    SHOAL_EARGCOUNT, SHOAL_EOBJTYPE};
	struct fx f = start(1);
	struct shoal_actor a = acc(&f), none;
	int64_t out;
	shoal_id gate = shoal_id_next(f.s), ref;
	struct shoal_args args;

	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		const char *t = shoal_strerror(codes[i]);

		cr_assert(strcmp(t, "unknown shoal error"), "code %d", codes[i]);
		for (size_t j = 0; j < i; j++)
			cr_assert(strcmp(t, shoal_strerror(codes[j])), "%s", t);
	}
	tu_assert_rc(shoal_actor_lookup(f.rt, "nobody", &none), SHOAL_ENOACTOR);
	cr_assert(strstr(shoal_strerror(SHOAL_ENOACTOR), "no such actor"));
	tu_assert_rc(shoal_actor_method(f.rt, a, "nope"), SHOAL_ENOMETHOD);
	cr_assert(strstr(shoal_strerror(SHOAL_ENOMETHOD), "no such method"));
	tu_assert_rc(shoal_function(f.rt, "nope"), SHOAL_ENOFUNCTION);
	cr_assert(strstr(shoal_strerror(SHOAL_ENOFUNCTION), "no such task function"));
	tu_assert_rc(shoal_actor_create(f.rt, "Nobody", NULL, NULL, &none),
		     SHOAL_ENOCLASS);
	cr_assert(strstr(shoal_strerror(SHOAL_ENOCLASS), "no such actor class"));
	cr_assert(strstr(shoal_strerror(SHOAL_ELANEFULL), "call queue"));
	/* A get that times out on a running task says so. */
	shoal_args_init(&args);
	shoal_args_bytes(&args, &gate, sizeof gate);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "ctx_gate"), &args, 1, &ref), 0);
	tu_assert_rc(shoal_get_i64(f.s, ref, 20, &out), -ETIMEDOUT);
	cr_assert(strstr(shoal_strerror(-ETIMEDOUT), "timed out"));
	cr_assert_null(strstr(shoal_strerror(-ETIMEDOUT), "Connection"));
	tu_assert_rc(shoal_put_with_id(f.s, gate, "", 0, NULL, 0, 1000), 0);
	/* Its hold was kept: the result is still there to read. */
	tu_assert_rc(shoal_get_i64(f.s, ref, 20000, &out), SHOAL_EOBJTYPE);
	stop(&f);
}

/* ------------------------------------------------------------------ */
/* The runtime context                                                 */

/* The task `ref` runs, as shoal_task_list sees it (polled until then). */
static struct shoal_task_info running(struct fx *f, shoal_id ref)
{
	struct shoal_task_info ti[16];
	int64_t t0 = tu_now_ms();

	while (tu_now_ms() - t0 < 20000) {
		int n = shoal_task_list(f->rt, ti, 16);

		for (int k = 0; k < n && k < 16; k++)
			if (shoal_id_eq(ti[k].id, ref) &&
			    ti[k].state == SHOAL_TASK_RUNNING && ti[k].worker_pid)
				return ti[k];
		sched_yield();
	}
	cr_assert_fail("the task never ran");
	return ti[0];
}

Test(ergo, a_task_knows_its_id_worker_and_caller)
{
	struct fx f = start(2);
	struct shoal_args args;
	struct shoal_task_info ti;
	struct ctx_out o, n[2];
	shoal_id gate = shoal_id_next(f.s), ref;
	size_t size;

	shoal_args_init(&args);
	shoal_args_bytes(&args, &gate, sizeof gate);
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "ctx_gate"), &args, 1, &ref), 0);
	ti = running(&f, ref);
	tu_assert_rc(shoal_put_with_id(f.s, gate, "", 0, NULL, 0, 1000), 0);
	tu_assert_rc(shoal_get_copy(f.s, ref, 20000, &o, sizeof o, &size), 0);
	cr_assert(shoal_id_eq(o.c.id, ref), "its ID is its first return");
	cr_assert(shoal_id_eq(o.id, ref));
	cr_assert_eq(o.c.kind, SHOAL_KIND_TASK);
	cr_assert_eq(o.c.worker, ti.worker, "worker %d, listed %d", o.c.worker,
		     ti.worker);
	cr_assert_eq(o.pid, ti.worker_pid);
	cr_assert_eq(o.c.caller, SHOAL_CALLER_DRIVER);
	cr_assert_eq(o.c.caller_pid, getpid());
	tu_assert_rc(o.self_rc, -EINVAL, "no actor in a task");
	cr_assert_eq(o.c.actor.magic, 0);
	for (int k = 0; k < 4; k++)
		cr_assert_eq(o.c.resv[k], 0);

	/* From a nested task: the caller is that task's process. */
	tu_assert_rc(shoal_submit(f.rt, fn(&f, "nest"), NULL, 1, &ref), 0);
	tu_assert_rc(shoal_get_copy(f.s, ref, 20000, n, sizeof n, &size), 0);
	cr_assert_eq(n[0].c.caller, SHOAL_CALLER_TASK);
	cr_assert_eq(n[0].c.caller_pid, n[1].pid);
	cr_assert_neq(n[0].c.caller_pid, getpid());
	stop(&f);
}

Test(ergo, an_actor_passes_itself_to_a_task_that_calls_it_back)
{
	struct fx f = start(1);
	struct shoal_actor a = acc(&f);
	struct ctx_out o;
	struct {
		struct shoal_actor h;
		int32_t rc;
	} cs;
	shoal_id ref, task;
	size_t size;

	/* A method's own context, called from the driver. */
	tu_assert_rc(shoal_actor_call(f.rt, a, method(&f, a, "whoami"), NULL, &ref), 0);
	tu_assert_rc(shoal_get_copy(f.s, ref, 20000, &o, sizeof o, &size), 0);
	cr_assert(shoal_id_eq(o.c.id, ref));
	cr_assert_eq(o.c.kind, SHOAL_KIND_CALL);
	cr_assert_eq(o.c.worker, -1);
	cr_assert_eq(o.c.caller, SHOAL_CALLER_DRIVER);
	cr_assert_eq(o.c.caller_pid, getpid());
	tu_assert_rc(o.self_rc, 0);
	cr_assert(!memcmp(&o.c.actor, &a, sizeof a), "its own handle");
	/* Its constructor knew it too. */
	tu_assert_rc(shoal_actor_call(f.rt, a, method(&f, a, "ctor_self"), NULL, &ref), 0);
	tu_assert_rc(shoal_get_copy(f.s, ref, 20000, &cs, sizeof cs, &size), 0);
	tu_assert_rc(cs.rc, 0);
	cr_assert(!memcmp(&cs.h, &a, sizeof a));

	/* spawn hands the actor's handle to a task, which calls whoami on
	 * it: the call runs in this actor, made by a task. */
	tu_assert_rc(shoal_actor_call(f.rt, a, method(&f, a, "spawn"), NULL, &ref), 0);
	tu_assert_rc(shoal_get_copy(f.s, ref, 20000, &task, sizeof task, &size), 0);
	tu_assert_rc(shoal_get_copy(f.s, task, 20000, &o, sizeof o, &size), 0);
	cr_assert_eq(size, sizeof o);
	cr_assert_eq(o.c.kind, SHOAL_KIND_CALL);
	cr_assert(!memcmp(&o.c.actor, &a, sizeof a));
	cr_assert_eq(o.c.caller, SHOAL_CALLER_TASK);
	cr_assert_neq(o.c.caller_pid, getpid());
	stop(&f);
}
