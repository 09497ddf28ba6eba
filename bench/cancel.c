/* SPDX-License-Identifier: MIT */
/*
 * bench/cancel.c - the cancel family: what a shoal_cancel costs.
 *
 * cancel_pending_ns: a private runtime with one worker, held by a task
 * that waits for an unsealed object (the gate); CANCEL_WINDOW no-op tasks
 * are queued behind it, then cancelled one by one, and only the cancels
 * are timed: each finds its record (a scan of the task table up to its
 * highest record in use: here about CANCEL_WINDOW records, half of them
 * on average before the one it looks for), sets its bit with a CAS and
 * writes its return (SHOAL_ECANCELLED, inline: no block).  Then the gate
 * is sealed and the worker skips the cancelled records before the next
 * round.  submit_ns, the same window's submits timed alike, is the scale
 * to read it against.  One figure per round; the median over ctx->reps
 * rounds (after one untimed warm-up).
 *
 * deadline_late_ms (an extra of the same line): a no-op task queued
 * behind the held worker with deadline_ms DEADLINE_MS, how long after
 * its deadline its get returns SHOAL_EDEADLINE (the fork server's watch
 * fails it: it wakes at the soonest deadline it saw); the median of
 * DEADLINE_ROUNDS.
 *
 * Cleanup: the runtime is private (opts.name = NULL: nothing in
 * /dev/shm), shut down on every path (harness.c).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/shoal.h>

#include "bench.h"
#include "families.h"

#define CANCEL_WINDOW 1000
#define DEADLINE_MS 300 /* past one watch period: the watch has seen it */
#define DEADLINE_ROUNDS 3

static int task_noop(struct shoal_task *t, void *user)
{
	uint64_t v = 0;

	(void)user;
	return shoal_task_return(t, 0, &v, sizeof v);
}

/* Waits for the object named by its argument: holds the worker.  Polled,
 * not a blocking get: a worker blocked in a get makes the pool start an
 * extra worker, which would run the tasks the gate holds back. */
static int task_gate(struct shoal_task *t, void *user)
{
	struct shoal_store *s = shoal_runtime_store(shoal_task_runtime(t));
	struct shoal_view v;
	const void *d;
	size_t n;
	shoal_id gate;
	int rc;

	(void)user;
	if (shoal_task_arg(t, 0, &d, &n) || n != sizeof gate)
		return -EINVAL;
	memcpy(&gate, d, sizeof gate);
	for (int i = 0; shoal_contains(s, gate) != 1 && i < 60000000; i++)
		sched_yield();
	rc = shoal_get(s, gate, 0, &v);
	if (rc == 0)
		shoal_release(s, &v);
	return task_noop(t, NULL);
}

struct cancel_bench {
	struct shoal_runtime *rt;
	struct shoal_store *s;
	int noop, gate;
	shoal_id refs[CANCEL_WINDOW];
};

/* Gets and drops ref (waiting up to 60 s): its task is done. */
static int settle(struct shoal_store *s, shoal_id ref, int want)
{
	struct shoal_view v;
	int rc = shoal_get(s, ref, 60000, &v);

	if (rc == 0)
		shoal_release(s, &v);
	shoal_drop(s, ref);
	return rc == want ? 0 : rc < 0 ? rc : -EPROTO;
}

/* Holds the pool: an unsealed gate object (*gate, sealed by the caller
 * to let the pool go) and the gate task parked on it (*held). */
static int hold_pool(struct cancel_bench *b, shoal_id *gate, shoal_id *held)
{
	struct shoal_args a;
	void *buf;
	int rc;

	*gate = shoal_id_next(b->s);
	rc = shoal_create(b->s, *gate, 8, NULL, 0, 0, &buf);
	shoal_args_init(&a);
	if (rc == 0)
		rc = shoal_args_bytes(&a, gate, sizeof *gate);
	if (rc == 0)
		rc = shoal_submit(b->rt, b->gate, &a, 1, held);
	return rc;
}

/* One round: the pool held, a window queued (submit_s) and cancelled
 * (cancel_s), the pool let go. */
static int cancel_round(struct cancel_bench *b, double *submit_s, double *cancel_s)
{
	shoal_id gate, held;
	double t0;
	int rc = hold_pool(b, &gate, &held);

	if (rc < 0)
		return rc;
	t0 = now_s();
	for (int i = 0; i < CANCEL_WINDOW && rc == 0; i++)
		rc = shoal_submit(b->rt, b->noop, NULL, 1, &b->refs[i]);
	*submit_s = now_s() - t0;
	t0 = now_s();
	for (int i = 0; i < CANCEL_WINDOW && rc == 0; i++)
		rc = shoal_cancel(b->rt, b->refs[i], 0);
	*cancel_s = now_s() - t0;
	shoal_seal(b->s, gate);
	for (int i = 0; i < CANCEL_WINDOW; i++) {
		int r = settle(b->s, b->refs[i], SHOAL_ECANCELLED);

		rc = rc ? rc : r;
	}
	rc = rc ? rc : settle(b->s, held, 0);
	shoal_drop(b->s, gate);
	return rc;
}

/* One deadline round: ms from a task's deadline to its SHOAL_EDEADLINE. */
static int deadline_round(struct cancel_bench *b, double *late_ms)
{
	struct shoal_task_options o = SHOAL_TASK_OPTIONS_INIT;
	shoal_id gate, held, r;
	struct shoal_view v;
	double t0;
	int rc = hold_pool(b, &gate, &held);

	if (rc < 0)
		return rc;
	o.deadline_ms = DEADLINE_MS;
	t0 = now_s();
	rc = shoal_submit_opts(b->rt, b->noop, NULL, &o, &r);
	if (rc == 0) {
		int g = shoal_get(b->s, r, 60000, &v);

		*late_ms = (now_s() - t0) * 1e3 - DEADLINE_MS;
		if (g == 0)
			shoal_release(b->s, &v);
		shoal_drop(b->s, r);
		rc = g == SHOAL_EDEADLINE ? 0 : g < 0 ? g : -EPROTO;
	}
	shoal_seal(b->s, gate);
	rc = rc ? rc : settle(b->s, held, 0);
	shoal_drop(b->s, gate);
	return rc;
}

static int cancel_start(struct cancel_bench *b, struct metric *m)
{
	struct shoal_runtime_options o;
	struct shoal_registry *reg;
	int rc = shoal_registry_open(&reg);

	if (rc < 0)
		return rc;
	rc = shoal_register_task(reg, "noop", task_noop, NULL);
	if (rc == 0)
		rc = shoal_register_task(reg, "gate", task_gate, NULL);
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.name = NULL; /* private: nothing in /dev/shm */
	if (rc == 0)
		rc = shoal_runtime_start(reg, &o, &b->rt);
	shoal_registry_close(reg);
	if (rc < 0)
		return rc;
	b->s = shoal_runtime_store(b->rt);
	b->noop = shoal_function(b->rt, "noop");
	b->gate = shoal_function(b->rt, "gate");
	m->runtime = true;
	m->workers = 1;
	m->capacity = o.store.capacity;
	m->spin_budget = o.store.spin_budget;
	return b->noop < 0 ? b->noop : b->gate < 0 ? b->gate : 0;
}

/* One warm-up round, then ctx->reps timed ones: ns per cancel and per
 * submit of each round. */
static int cancel_measure(const struct bench_ctx *ctx, struct cancel_bench *b,
			  struct stats *cancel, struct stats *submit)
{
	double *c = calloc((size_t)ctx->reps, sizeof *c);
	double *s = calloc((size_t)ctx->reps, sizeof *s);
	double sub, can;
	int rc = c && s ? cancel_round(b, &sub, &can) : -ENOMEM;

	for (int r = 0; r < ctx->reps && rc == 0; r++) {
		rc = cancel_round(b, &sub, &can);
		s[r] = sub * 1e9 / CANCEL_WINDOW;
		c[r] = can * 1e9 / CANCEL_WINDOW;
	}
	if (rc == 0) {
		*cancel = stats_of(c, ctx->reps);
		*submit = stats_of(s, ctx->reps);
	}
	free(c);
	free(s);
	return rc;
}

int family_cancel(const struct bench_ctx *ctx)
{
	struct metric m = {
		.name = "cancel_pending_ns", .unit = UNIT_NS, .verdict = -1,
		.note = "shoal_cancel of a task queued behind a held pool of one "
			"worker, 1000 queued (the table's top ~1000): find, CAS, "
			"write ECANCELLED; submit_ns: the same window's submits; "
			"deadline_late_ms: a queued task's SHOAL_EDEADLINE past "
			"its 300 ms deadline",
	};
	struct cancel_bench *b = calloc(1, sizeof *b);
	struct stats submit;
	double late[DEADLINE_ROUNDS];
	int rc;

	if (!wanted(ctx, m.name)) {
		free(b);
		return 0;
	}
	rc = b ? cancel_start(b, &m) : -ENOMEM;
	if (rc == 0)
		rc = cancel_measure(ctx, b, &m.st, &submit);
	for (int i = 0; i < DEADLINE_ROUNDS && rc == 0; i++)
		rc = deadline_round(b, &late[i]);
	if (b && b->rt) {
		int r = shoal_runtime_shutdown(b->rt);

		rc = rc ? rc : r;
	}
	free(b);
	if (rc < 0)
		return emit_error(ctx, m.name, 0, rc);
	add_extra(&m, "submit_ns", submit.median);
	add_extra(&m, "deadline_late_ms", stats_of(late, DEADLINE_ROUNDS).median);
	emit(ctx, &m);
	return 0;
}
