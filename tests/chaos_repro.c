/* SPDX-License-Identifier: MIT */
/*
 * tests/chaos_repro.c - the smallest reproductions of what tests/chaos.c
 * found, one scenario each, for whoever fixes them and writes their
 * regression tests.  Not a test itself (no meson test runs it):
 *
 *   chaos_repro lazy-release      no kill: after a task with a ref
 *                                 argument is done and every ref dropped,
 *                                 bytes_used is not back until the next
 *                                 submit (issue 8 point 9)
 *   chaos_repro sealer-killed     the worker that seals a task's result is
 *                                 SIGKILLed (gdb, at shoal__waiters_close)
 *                                 right after the seal: the task parked on
 *                                 that result is never queued
 *   chaos_repro dead-caller-arg   an attached program calls an actor with
 *                                 its own unsealed task result as argument
 *                                 and is SIGKILLed: the actor waits for
 *                                 that argument for ever, and every later
 *                                 call on it, from anyone, never runs
 *   chaos_repro cross-deps        no kill: two programs, two actors, each
 *                                 program's call on one actor takes its
 *                                 own result from the other actor: both
 *                                 actors wait for ever (Ray runs all four)
 *
 * CHAOS_REPRO_NO_KILL=1 in the environment skips the kill (the control:
 * then the scenario behaves).
 *
 * Exit status: 1 when the bug shows (what was seen is printed), 0 when
 * the scenario behaves, 77 when it cannot run here (no gdb), 2 for bad
 * usage or a setup failure.  Every wait is bounded; the runtime is shut
 * down and a named segment unlinked on every path.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shoal/shoal.h>

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ */
/* Tasks and the actor class                                           */

static int ret_u64(struct shoal_task *t, uint64_t v)
{
	return shoal_task_return(t, 0, &v, sizeof v);
}

static uint64_t arg_u64(struct shoal_task *t, uint32_t i)
{
	const void *d;
	size_t n;
	uint64_t v = 0;

	if (shoal_task_arg(t, i, &d, &n) == 0 && n >= sizeof v)
		memcpy(&v, d, sizeof v);
	return v;
}

/* slow(ms): sleeps ms, returns ms. */
static int task_slow(struct shoal_task *t, void *user)
{
	(void)user;
	sleep_ms((int)arg_u64(t, 0));
	return ret_u64(t, arg_u64(t, 0));
}

/* after(x): returns x + 1 (x: a ref or bytes). */
static int task_after(struct shoal_task *t, void *user)
{
	(void)user;
	return ret_u64(t, arg_u64(t, 0) + 1);
}

static int keeper_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = NULL;
	return 0;
}

static int keeper_slow(struct shoal_task *t, void *self)
{
	return task_slow(t, self);
}

static int keeper_plain(struct shoal_task *t, void *self)
{
	(void)self;
	return ret_u64(t, 7);
}

static int keeper_use(struct shoal_task *t, void *self)
{
	return task_after(t, self);
}

static int start(const char *name, struct shoal_runtime **rt)
{
	struct shoal_runtime_options o = SHOAL_RUNTIME_OPTIONS_INIT;
	struct shoal_registry *reg;
	int rc = shoal_registry_open(&reg);

	if (!rc)
		rc = shoal_register_task(reg, "slow", task_slow, NULL);
	if (!rc)
		rc = shoal_register_task(reg, "after", task_after, NULL);
	if (!rc)
		rc = shoal_register_actor(reg, "Keeper", keeper_init, NULL);
	if (!rc)
		rc = shoal_register_method(reg, "Keeper", "slow", keeper_slow);
	if (!rc)
		rc = shoal_register_method(reg, "Keeper", "plain", keeper_plain);
	if (!rc)
		rc = shoal_register_method(reg, "Keeper", "use", keeper_use);
	o.num_workers = 1;
	o.store.capacity = 16u << 20;
	o.name = name;
	if (!rc)
		rc = shoal_runtime_start(reg, &o, rt);
	shoal_registry_close(reg);
	if (rc)
		fprintf(stderr, "chaos_repro: start: %s\n", shoal_strerror(rc));
	return rc;
}

/* Arguments: one u64 and/or one ref, either may be NULL. */
static void args1(struct shoal_args *a, const uint64_t *v, const shoal_id *ref)
{
	shoal_args_init(a);
	if (v)
		shoal_args_bytes(a, v, sizeof *v);
	if (ref)
		shoal_args_ref(a, *ref);
}

/* Submits fn(one u64 or one ref); 0 or the error. */
static int submit1(struct shoal_runtime *rt, const char *fn, const uint64_t *v,
		   const shoal_id *ref, shoal_id *out)
{
	struct shoal_args a;

	args1(&a, v, ref);
	return shoal_submit(rt, shoal_function(rt, fn), &a, 1, out);
}

static int call1(struct shoal_runtime *rt, struct shoal_actor k, const char *m,
		 const uint64_t *v, const shoal_id *ref, shoal_id *out)
{
	struct shoal_args a;

	args1(&a, v, ref);
	return shoal_actor_call(rt, k, shoal_actor_method(rt, k, m), &a, out);
}

/* A get with a timeout: the value, or the error (printed as what). */
static int get_u64(struct shoal_runtime *rt, shoal_id id, int ms, const char *what,
		   uint64_t *v)
{
	struct shoal_store *st = shoal_runtime_store(rt);
	struct shoal_view view;
	int rc = shoal_get(st, id, ms, &view);

	if (rc == 0) {
		memcpy(v, view.data, sizeof *v);
		shoal_release(st, &view);
	}
	printf("chaos_repro: get %s (timeout %d ms): %s\n", what, ms,
	       rc ? shoal_strerror(rc) : "a value");
	return rc;
}

static uint64_t bytes_used(struct shoal_store *st)
{
	struct shoal_store_stats s;

	for (int i = 0; i < 100 && shoal_evict(st, UINT64_MAX) > 0; i++)
		;
	return shoal_store_stats(st, &s) ? UINT64_MAX : s.bytes_used;
}

/* ------------------------------------------------------------------ */
/* Scenarios                                                           */

static int lazy_release(void)
{
	struct shoal_runtime *rt;
	struct shoal_store *st;
	char buf[4096] = {1};
	uint64_t v, before, after, later;
	shoal_id obj, r;
	int bug;

	if (start(NULL, &rt))
		return 2;
	st = shoal_runtime_store(rt);
	before = bytes_used(st);
	if (shoal_put(st, buf, sizeof buf, 1000, &obj) || submit1(rt, "after", NULL, &obj, &r))
		return 2;
	get_u64(rt, r, 5000, "after(obj)", &v);
	shoal_drop(st, r);
	shoal_drop(st, obj);
	after = bytes_used(st);
	if (submit1(rt, "after", &v, NULL, &r) == 0) {
		get_u64(rt, r, 5000, "after(1), a later submit", &v);
		shoal_drop(st, r);
	}
	later = bytes_used(st);
	printf("chaos_repro: bytes_used %" PRIu64 " at start, %" PRIu64 " once every "
	       "ref was dropped, %" PRIu64 " after one more submit\n", before, after,
	       later);
	bug = after != before;
	shoal_runtime_shutdown(rt);
	return bug;
}

static int sealer_killed(void)
{
	struct shoal_runtime_info info;
	struct shoal_runtime *rt;
	uint64_t ms = 1500, v;
	int32_t pid;
	shoal_id a, b;
	char cmd[400];
	int rc;

	if (system("command -v gdb >/dev/null 2>&1") != 0) {
		printf("chaos_repro: no gdb here\n");
		return 77;
	}
	if (start(NULL, &rt))
		return 2;
	if (submit1(rt, "slow", &ms, NULL, &a) || submit1(rt, "after", NULL, &a, &b) ||
	    shoal_runtime_info(rt, &info, &pid, 1) || info.workers_alive < 1) {
		shoal_runtime_shutdown(rt);
		return 2;
	}
	/* The worker runs slow(1500): stop it where it closes the result's
	 * waiter stack, just after the seal, and SIGKILL it there. */
	snprintf(cmd, sizeof cmd, "timeout 60 gdb -p %d -batch -nx -q "
		 "-ex 'break shoal__waiters_close' -ex continue -ex bt -ex kill "
		 "2>/dev/null | grep '^#'", (int)pid);
	if (getenv("CHAOS_REPRO_NO_KILL"))
		snprintf(cmd, sizeof cmd, "true");
	printf("chaos_repro: worker %d: gdb stops it in shoal__waiters_close "
	       "after sealing slow()'s result, then kills it\n", (int)pid);
	if (system(cmd) != 0)
		printf("chaos_repro: (gdb returned non-zero)\n");
	get_u64(rt, a, 5000, "slow(1500), the sealed result", &v);
	rc = get_u64(rt, b, 10000, "after(slow's result), parked on it", &v);
	shoal_runtime_shutdown(rt);
	return rc == -ETIMEDOUT;
}

/* The attached program of dead-caller-arg and cross-deps. */
static int child_main(char **argv)
{
	struct shoal_runtime *rt;
	struct shoal_actor k0, k1;
	uint64_t ms = 2000, slow = 500;
	shoal_id r, c, ra;
	char go;

	if (shoal_runtime_attach(argv[2], &rt) || shoal_actor_lookup(rt, "k0", &k0))
		return 3;
	if (!strcmp(argv[1], "child-dead-caller")) {
		/* its own task's result, unsealed, as a call argument */
		if (submit1(rt, "slow", &ms, NULL, &r) || call1(rt, k0, "use", NULL, &r, &c))
			return 4;
	} else {
		if (shoal_actor_lookup(rt, "k1", &k1) || read(0, &go, 1) != 1)
			return 3;
		if (call1(rt, k0, "slow", &slow, NULL, &c) ||
		    call1(rt, k1, "plain", NULL, NULL, &ra) ||
		    call1(rt, k0, "use", NULL, &ra, &c))
			return 4;
	}
	if (write(1, "r", 1) != 1)
		return 5;
	sleep_ms(60000); /* until it is killed, or a minute */
	return 0;
}

/* Starts this binary as the attached program; its stdin and stdout are
 * pipes (to_child, from_child). */
static pid_t spawn_child(const char *role, const char *name, int *to_child,
			 int *from_child)
{
	int in[2], out[2];
	pid_t pid;

	if (pipe(in) || pipe(out))
		return -1;
	pid = fork();
	if (pid == 0) {
		char *argv[] = {"/proc/self/exe", (char *)role, (char *)name, NULL};

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in[0], 0);
		dup2(out[1], 1);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*to_child = in[1];
	*from_child = out[0];
	return pid;
}

static int actors(struct shoal_runtime *rt, struct shoal_actor *k0,
		  struct shoal_actor *k1)
{
	struct shoal_actor_options o = SHOAL_ACTOR_OPTIONS_INIT;

	o.name = "k0";
	if (shoal_actor_create(rt, "Keeper", NULL, &o, k0))
		return -1;
	o.name = "k1";
	return shoal_actor_create(rt, "Keeper", NULL, &o, k1);
}

static int dead_caller_arg(const char *name)
{
	struct shoal_actor_info ai;
	struct shoal_runtime *rt;
	struct shoal_actor k0, k1;
	int to, from, st, rc = 2;
	uint64_t v;
	shoal_id c;
	char ready;
	pid_t pid = -1;

	if (start(name, &rt))
		return 2;
	if (actors(rt, &k0, &k1) ||
	    (pid = spawn_child("child-dead-caller", name, &to, &from)) < 0)
		goto out;
	if (read(from, &ready, 1) != 1) {
		waitpid(pid, &st, 0);
		goto out;
	}
	sleep_ms(300); /* k0 is now waiting for the child's unsealed result */
	printf("chaos_repro: the attached program %d called k0.use(its own "
	       "task's unsealed result); SIGKILL it%s\n", (int)pid,
	       getenv("CHAOS_REPRO_NO_KILL") ? " (not: CHAOS_REPRO_NO_KILL)" : "");
	if (!getenv("CHAOS_REPRO_NO_KILL")) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	if (call1(rt, k0, "plain", NULL, NULL, &c))
		goto out;
	rc = get_u64(rt, c, 8000, "k0.plain() from the driver, after the kill",
		     &v) == -ETIMEDOUT;
	if (shoal_actor_info(rt, k0, &ai) == 0)
		printf("chaos_repro: k0: state %u pid %d calls run %" PRIu64 "\n",
		       ai.state, (int)ai.pid, ai.calls_run);
out:
	if (pid > 0 && getenv("CHAOS_REPRO_NO_KILL")) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	shoal_runtime_shutdown(rt);
	return rc;
}

static int cross_deps(const char *name)
{
	struct shoal_runtime *rt;
	struct shoal_actor k0, k1;
	uint64_t slow = 500, v;
	int to, from, st, rc = 2;
	shoal_id r, rc0, rd;
	char ready;
	pid_t pid = -1;

	if (start(name, &rt))
		return 2;
	if (actors(rt, &k0, &k1) || (pid = spawn_child("child-cross", name, &to, &from)) < 0)
		goto out;
	/* k1 busy with the driver's slow call; then the attached program
	 * makes k0 busy with its own and queues k1.plain -> ra, k0.use(ra). */
	if (call1(rt, k1, "slow", &slow, NULL, &r))
		goto out;
	sleep_ms(100); /* k1 runs it */
	if (write(to, "g", 1) != 1 || read(from, &ready, 1) != 1)
		goto out;
	sleep_ms(100); /* k0 runs the attached program's slow call */
	/* The driver: k0.plain -> rc, k1.use(rc) -> rd.  k0 goes on with the
	 * attached program's lane (use(ra): waits for k1), k1 with the
	 * driver's (use(rc): waits for k0). */
	if (call1(rt, k0, "plain", NULL, NULL, &rc0) || call1(rt, k1, "use", NULL, &rc0, &rd))
		goto out;
	printf("chaos_repro: attached: k0.slow, k1.plain -> ra, k0.use(ra); "
	       "driver: k1.slow, k0.plain -> rc, k1.use(rc)\n");
	rc = get_u64(rt, rd, 8000, "k1.use(rc) from the driver", &v) == -ETIMEDOUT;
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	shoal_runtime_shutdown(rt);
	return rc;
}

int main(int argc, char **argv)
{
	char name[64];

	if (argc == 3 && !strncmp(argv[1], "child-", 6))
		return child_main(argv);
	if (argc != 2) {
		fprintf(stderr, "usage: chaos_repro lazy-release|sealer-killed|"
			"dead-caller-arg|cross-deps\n");
		return 2;
	}
	snprintf(name, sizeof name, "/shoal-chaos-repro-%d", (int)getpid());
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "lazy-release"))
		return lazy_release();
	if (!strcmp(argv[1], "sealer-killed"))
		return sealer_killed();
	if (!strcmp(argv[1], "dead-caller-arg"))
		return dead_caller_arg(name);
	if (!strcmp(argv[1], "cross-deps"))
		return cross_deps(name);
	fprintf(stderr, "chaos_repro: unknown scenario %s\n", argv[1]);
	return 2;
}
