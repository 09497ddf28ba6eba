/* SPDX-License-Identifier: MIT */
/*
 * bench/queue.c - the family `queue`: object queues (shoal/queue.h)
 * between two processes, against the actor lane's rate.
 *
 *   queue_put_get_rate        refs one producer (the driver) puts and one
 *                             consumer (a task in the one worker) gets
 *                             and drops, per second: the same 8-byte
 *                             object put again and again, so that only
 *                             the queue is measured (each put holds it,
 *                             each get holds it, the putter lets go of
 *                             its hold once it is got)
 *   queue_put_bytes_get_rate  the same with shoal_queue_put_bytes of an
 *                             8-byte value (a put into the store each)
 *
 * Each is measured interleaved with 1_1_actor_calls_async (actors.c: the
 * lane's rate, one caller, one actor, windows of 1000 calls), and states
 * the ratio of the two medians (extra `vs_lane`).  Ray's Queue, an actor,
 * manages 815 msgs/s (ray#53010).  A batch: a consumer task for n items
 * submitted, n puts, the task's result got.  Private runtimes, shut down
 * on every path.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "families.h"

#define Q_CAPACITY 1024u
#define Q_BATCH 20000u
#define Q_TIMEOUT_MS 60000

struct q_state {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
	struct shoal_queue q;
	int consume;
	bool bytes;
	shoal_id obj;
};

/* consume(q, n): gets n refs and drops each; returns n. */
static int q_consume(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_store *s = shoal_runtime_store(rt);
	struct shoal_queue q;
	const void *d;
	size_t sz;
	uint64_t n;

	(void)user;
	if (shoal_task_arg_queue(t, 0, &q) || shoal_task_arg(t, 1, &d, &sz) ||
	    sz != sizeof n)
		return shoal_task_fail(t, -EINVAL, "consume(q, n)");
	memcpy(&n, d, sizeof n);
	for (uint64_t i = 0; i < n; i++) {
		shoal_id id;
		int rc = shoal_queue_get(rt, &q, Q_TIMEOUT_MS, &id);

		if (rc)
			return shoal_task_fail(t, rc, "get");
		shoal_drop(s, id);
	}
	return shoal_task_return(t, 0, &n, sizeof n);
}

static int q_puts(struct q_state *st, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		int rc = st->bytes
				 ? shoal_queue_put_bytes(st->rt, &st->q, &i, sizeof i,
							 Q_TIMEOUT_MS)
				 : shoal_queue_put(st->rt, &st->q, st->obj, Q_TIMEOUT_MS);

		if (rc)
			return rc;
	}
	return 0;
}

static int q_batch(void *state, uint64_t n)
{
	struct q_state *st = state;
	struct shoal_args a;
	struct shoal_view v;
	shoal_id ref;
	int rc;

	shoal_args_init(&a);
	rc = shoal_args_queue(&a, &st->q);
	if (rc == 0)
		rc = shoal_args_bytes(&a, &n, sizeof n);
	if (rc == 0)
		rc = shoal_submit(st->rt, st->consume, &a, 1, &ref);
	if (rc)
		return rc;
	rc = q_puts(st, n);
	if (rc == 0) {
		rc = shoal_get(st->s, ref, Q_TIMEOUT_MS, &v);
		if (rc == 0)
			shoal_release(st->s, &v);
	}
	shoal_drop(st->s, ref);
	return rc;
}

static int q_start(struct q_state *st, bool bytes, struct metric *m)
{
	struct shoal_runtime_options o;
	uint64_t one = 1;
	int rc = shoal_registry_open(&st->reg);

	if (rc)
		return rc;
	rc = shoal_register_task(st->reg, "consume", q_consume, NULL);
	if (rc)
		return rc;
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.store.capacity = 64u << 20;
	o.max_queues = 1;
	o.max_queue_capacity = Q_CAPACITY;
	rc = shoal_runtime_start(st->reg, &o, &st->rt);
	if (rc)
		return rc;
	st->s = shoal_runtime_store(st->rt);
	st->consume = shoal_function(st->rt, "consume");
	st->bytes = bytes;
	m->runtime = true;
	m->workers = 1;
	m->capacity = o.store.capacity;
	m->procs = 2;
	rc = shoal_queue_create(st->rt, NULL, Q_CAPACITY, &st->q);
	if (rc == 0 && !bytes)
		rc = shoal_put(st->s, &one, sizeof one, 1000, &st->obj);
	return rc;
}

static int q_stop(struct q_state *st, int rc)
{
	int r;

	if (st->rt) {
		if (!shoal_id_is_nil(st->obj))
			shoal_drop(st->s, st->obj);
		r = shoal_runtime_shutdown(st->rt);
		rc = rc ? rc : r;
	}
	if (st->reg)
		shoal_registry_close(st->reg);
	return rc;
}

static int q_metric(const struct bench_ctx *ctx, const char *name, bool bytes,
		    const char *note)
{
	struct metric m = {.name = name, .unit = UNIT_OPS, .target = ">= 1M/s",
			   .note = note};
	struct metric lane = {0};
	struct q_state st = {0};
	struct workload w[2];
	struct stats s[2];
	int rc;

	if (!wanted(ctx, name))
		return 0;
	rc = q_start(&st, bytes, &m);
	w[0] = (struct workload){q_batch, &st, Q_BATCH, 0, UNIT_OPS};
	if (rc == 0)
		rc = actors_async_open(0, &w[1], &lane);
	if (rc == 0) {
		rc = measure(ctx, w, 2, s);
		rc = actors_async_close(&w[1], rc);
	}
	rc = q_stop(&st, rc);
	if (rc < 0)
		return emit_error(ctx, name, 8, rc);
	m.st = s[0];
	m.size = 8;
	add_extra(&m, "lane_calls_per_s", s[1].median);
	add_extra(&m, "vs_lane", s[1].median > 0 ? s[0].median / s[1].median : 0);
	m.verdict = m.st.median >= 1e6;
	emit(ctx, &m);
	return 0;
}

int family_queue(const struct bench_ctx *ctx)
{
	int rc = q_metric(ctx, "queue_put_get_rate", false,
			  "refs from the driver to a task through a queue of "
			  "1024, vs_lane: the ratio to 1_1_actor_calls_async "
			  "measured interleaved");

	if (rc == 0)
		rc = q_metric(ctx, "queue_put_bytes_get_rate", true,
			      "8-byte values put into the store and the queue "
			      "(shoal_queue_put_bytes), got and dropped by a task");
	return rc;
}
