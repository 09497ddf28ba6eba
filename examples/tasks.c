/* SPDX-License-Identifier: MIT */
/*
 * tasks - remote functions: Ray's @ray.remote functions in C.
 *
 * Concept.  Functions are registered by name before the runtime starts;
 * shoal_submit runs one in a worker process and returns refs (object IDs)
 * at once.  This program shows, each step checked:
 *
 *   1. by-value arguments: add(2, 3) -> 5;
 *   2. a result passed on as a ref: add(<ref of step 1>, 10) -> 15, the
 *      worker reading the first result from the store, zero-copy, after
 *      the runtime waited for it;
 *   3. several returns: divmod(17, 5) -> two refs, 3 and 2;
 *   4. a task that fails: divide(1, 0) calls shoal_task_fail; the get of
 *      its result returns SHOAL_ETASK and shoal_error_message reads the
 *      message the task wrote;
 *   5. the error propagates: add(<ref of step 4>, 1) never runs; its
 *      result holds the same error and message.
 *
 *   Python (Ray)                          C (this file)
 *   @ray.remote def add(a, b)             shoal_register_task(reg, "add", ...)
 *   ray.init(num_cpus=2)                  shoal_runtime_start
 *   ref = add.remote(2, 3)                shoal_args_i64, shoal_submit
 *   add.remote(ref, 10)                   shoal_args_ref, shoal_submit
 *   q, r = divmod.options(num_returns=2)  shoal_submit(..., 2, refs)
 *   ray.get(ref); del ref                 shoal_get_i64 (one call)
 *   def add(a, b) (in the task)           shoal_task_arg_i64, _return_i64
 *   RayTaskError                          SHOAL_ETASK, shoal_error_message
 *   (refs go out of scope)                shoal_drop (after a failed get)
 *
 * Run: build/examples/tasks (no argument).  It prints one line per step
 * and exits 0 if every result was the expected one, 1 otherwise (what
 * was wrong on stderr).  The runtime's segment is private (a memfd, not
 * in /dev/shm), and shutdown stops every process it started, on every
 * path; if this program is killed, the fork server notices and stops
 * them.  `meson test -C build --suite examples tasks` runs it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <shoal/shoal.h>

/* add(a, b) -> a + b.  Either argument may be a ref: the task sees the
 * referenced object's bytes exactly as it sees a by-value argument. */
static int add(struct shoal_task *t, void *user)
{
	int64_t a, b;
	int rc;

	(void)user;
	/* Each fails the task with a message that says which argument is
	 * missing or of another type. */
	if ((rc = shoal_task_expect(t, 2)) || (rc = shoal_task_arg_i64(t, 0, &a)) ||
	    (rc = shoal_task_arg_i64(t, 1, &b)))
		return rc;
	return shoal_task_return_i64(t, 0, a + b);
}

/* divmod(a, b) -> a / b, a % b: two returns, each its own object. */
static int divmod(struct shoal_task *t, void *user)
{
	int64_t a, b;
	int rc;

	(void)user;
	if ((rc = shoal_task_expect(t, 2)) || (rc = shoal_task_arg_i64(t, 0, &a)) ||
	    (rc = shoal_task_arg_i64(t, 1, &b)))
		return rc;
	if (b == 0 || shoal_task_num_returns(t) != 2)
		return shoal_task_fail(t, SHOAL_ETASK, "divmod(%" PRId64 ", %"
				       PRId64 ") needs b != 0 and 2 returns",
				       a, b);
	rc = shoal_task_return_i64(t, 0, a / b);
	return rc ? rc : shoal_task_return_i64(t, 1, a % b);
}

/* divide(a, b) -> a / b, or a failed task with a message for b == 0. */
static int divide(struct shoal_task *t, void *user)
{
	int64_t a, b;
	int rc;

	(void)user;
	if ((rc = shoal_task_expect(t, 2)) || (rc = shoal_task_arg_i64(t, 0, &a)) ||
	    (rc = shoal_task_arg_i64(t, 1, &b)))
		return rc;
	if (b == 0)
		return shoal_task_fail(t, SHOAL_ETASK, "division by zero: %"
				       PRId64 " / 0", a);
	return shoal_task_return_i64(t, 0, a / b);
}

/* Submits fn_name(a, b): a by value, or a_ref as a ref if a is NULL; b
 * by value.  refs[] receives num_returns refs, held by the caller. */
static int submit2(struct shoal_runtime *rt, const char *fn_name,
		   const int64_t *a, shoal_id a_ref, int64_t b,
		   uint32_t num_returns, shoal_id *refs)
{
	struct shoal_args args;
	int fn = shoal_function(rt, fn_name);
	int rc;

	if (fn < 0)
		return fn;
	shoal_args_init(&args);
	rc = a ? shoal_args_i64(&args, *a) : shoal_args_ref(&args, a_ref);
	if (!rc)
		rc = shoal_args_i64(&args, b);
	if (!rc)
		rc = shoal_submit(rt, fn, &args, num_returns, refs);
	return rc;
}

static int expect_value(struct shoal_store *st, const char *what,
			shoal_id ref, int64_t want)
{
	int64_t got = 0;
	/* Ray's ray.get(ref) then del ref: the hold goes on success. */
	int rc = shoal_get_i64(st, ref, 10000, &got);

	if (rc) {
		fprintf(stderr, "tasks: %s: get: %s\n", what, shoal_strerror(rc));
		return 1;
	}
	printf("tasks: %s = %" PRId64 "\n", what, got);
	if (got != want) {
		fprintf(stderr, "tasks: %s: %" PRId64 ", expected %" PRId64 "\n",
			what, got, want);
		return 1;
	}
	return 0;
}

/* The get of ref must fail with SHOAL_ETASK and the message must name the
 * division by zero. */
static int expect_error(struct shoal_store *st, const char *what, shoal_id ref)
{
	char msg[256];
	int64_t got;
	/* A failed get leaves the ref: its message is still there to read. */
	int rc = shoal_get_i64(st, ref, 10000, &got);
	int len;

	if (rc != SHOAL_ETASK) {
		fprintf(stderr, "tasks: %s: get returned %d (%s), expected "
			"SHOAL_ETASK\n", what, rc, shoal_strerror(rc));
		return 1;
	}
	len = shoal_error_message(st, ref, msg, sizeof msg);
	if (len < 0) {
		fprintf(stderr, "tasks: %s: shoal_error_message: %s\n", what,
			shoal_strerror(len));
		return 1;
	}
	printf("tasks: %s failed: %s: \"%s\"\n", what, shoal_strerror(rc), msg);
	if (!strstr(msg, "division by zero: 1 / 0")) {
		fprintf(stderr, "tasks: %s: unexpected message\n", what);
		return 1;
	}
	return 0;
}

static int run(struct shoal_runtime *rt)
{
	struct shoal_store *st = shoal_runtime_store(rt);
	const int64_t two = 2, seventeen = 17, one = 1;
	shoal_id sum, sum2, qr[2], bad, after_bad;
	int rc, fails = 0;

	/* 1. by value */
	rc = submit2(rt, "add", &two, SHOAL_ID_NIL, 3, 1, &sum);
	if (rc)
		goto submit_failed;
	/* 2. step 1's result as a ref, submitted before it is ready: the
	 * runtime runs add only once `sum` is sealed. */
	rc = submit2(rt, "add", NULL, sum, 10, 1, &sum2);
	if (rc) {
		shoal_drop(st, sum);
		goto submit_failed;
	}
	fails += expect_value(st, "add(2, 3)", sum, 5);
	fails += expect_value(st, "add(add(2, 3), 10)", sum2, 15);

	/* 3. two returns */
	rc = submit2(rt, "divmod", &seventeen, SHOAL_ID_NIL, 5, 2, qr);
	if (rc)
		goto submit_failed;
	fails += expect_value(st, "divmod(17, 5) quotient", qr[0], 3);
	fails += expect_value(st, "divmod(17, 5) remainder", qr[1], 2);

	/* 4. a failing task, and 5. a task that depends on it */
	rc = submit2(rt, "divide", &one, SHOAL_ID_NIL, 0, 1, &bad);
	if (rc)
		goto submit_failed;
	rc = submit2(rt, "add", NULL, bad, 1, 1, &after_bad);
	if (rc) {
		shoal_drop(st, bad);
		goto submit_failed;
	}
	fails += expect_error(st, "divide(1, 0)", bad);
	fails += expect_error(st, "add(divide(1, 0), 1)", after_bad);
	shoal_drop(st, bad);
	shoal_drop(st, after_bad);
	return fails ? 1 : 0;

submit_failed:
	fprintf(stderr, "tasks: submit: %s\n", shoal_strerror(rc));
	return 1;
}

int main(void)
{
	struct shoal_runtime_options opts;
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	int rc;

	rc = shoal_registry_open(&reg);
	if (rc) {
		fprintf(stderr, "tasks: registry: %s\n", shoal_strerror(rc));
		return 1;
	}
	if (shoal_register_task(reg, "add", add, NULL) ||
	    shoal_register_task(reg, "divmod", divmod, NULL) ||
	    shoal_register_task(reg, "divide", divide, NULL)) {
		fprintf(stderr, "tasks: could not register the functions\n");
		shoal_registry_close(reg);
		return 1;
	}
	shoal_runtime_options_init(&opts);
	opts.num_workers = 2;
	opts.store.capacity = 16u << 20;
	rc = shoal_runtime_start(reg, &opts, &rt);
	shoal_registry_close(reg); /* the runtime has its own copy */
	if (rc) {
		fprintf(stderr, "tasks: start: %s\n", shoal_strerror(rc));
		return 1;
	}
	rc = run(rt);
	if (shoal_runtime_shutdown(rt)) {
		fprintf(stderr, "tasks: shutdown failed\n");
		rc = 1;
	}
	printf("tasks: %s\n", rc ? "FAILED" : "ok");
	return rc;
}
