/* SPDX-License-Identifier: MIT */
/*
 * queue - Ray's ray.util.queue.Queue in C: a bounded queue of objects
 * between the processes of a runtime, in shared memory.
 *
 * Concept.  shoal_queue_create makes a queue in the runtime's segment; its
 * handle is plain bytes that travel in task arguments (shoal_args_queue).
 * Two producer tasks, each in its own worker process, put 2000 values each
 * (shoal_queue_put_bytes: into the store and the queue in one call), and
 * block when the queue (capacity 64) is full; the driver gets them
 * (shoal_queue_get hands it a hold on each object: it reads, then drops
 * it).  Checked: every value arrives exactly once, each producer's in the
 * order it put them.
 *
 *   Python (Ray)                          C (this file)
 *   q = Queue(maxsize=64)                 shoal_queue_create(rt, "work", 64, &q)
 *   producer.remote(q, i)                 shoal_args_queue, shoal_submit
 *   q.put(x)  (in the task)               shoal_queue_put_bytes(rt, &q, &x, 8, -1)
 *   q.get(timeout=10)                     shoal_queue_get(rt, &q, 10000, &ref)
 *                                         shoal_get, shoal_release, shoal_drop
 *
 * Run: build/examples/queue (no argument).  Prints what it received and
 * the rate, exits 0 if every value came once and in order, 1 otherwise
 * (what was wrong on stderr).  Private segment; every process stopped on
 * every path.  `meson test -C build --suite examples queue` runs it.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <shoal/shoal.h>

#define PRODUCERS 2
#define PER_PRODUCER 2000

/* producer(q, i): puts i * PER_PRODUCER + k for k = 0 .. PER_PRODUCER - 1. */
static int producer(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_queue q;
	const void *d;
	size_t n;
	int64_t i;
	int rc;

	(void)user;
	if (shoal_task_arg_queue(t, 0, &q) || shoal_task_arg(t, 1, &d, &n) ||
	    n != sizeof i)
		return shoal_task_fail(t, SHOAL_ETASK, "producer(queue, int64)");
	memcpy(&i, d, sizeof i);
	for (int64_t k = 0; k < PER_PRODUCER; k++) {
		int64_t v = i * PER_PRODUCER + k;

		rc = shoal_queue_put_bytes(rt, &q, &v, sizeof v, 10000);
		if (rc)
			return shoal_task_fail(t, rc, "put");
	}
	return shoal_task_return(t, 0, &i, sizeof i);
}

/* Gets one value: the object's 8 bytes, then lets go of it. */
static int take(struct shoal_runtime *rt, const struct shoal_queue *q, int64_t *v)
{
	struct shoal_store *s = shoal_runtime_store(rt);
	struct shoal_view view;
	shoal_id ref;
	int rc = shoal_queue_get(rt, q, 10000, &ref);

	if (rc)
		return rc;
	rc = shoal_get(s, ref, 1000, &view);
	if (rc == 0) {
		if (view.size == sizeof *v)
			memcpy(v, view.data, sizeof *v);
		else
			rc = SHOAL_ETASK;
		shoal_release(s, &view);
	}
	shoal_drop(s, ref);
	return rc;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(struct shoal_runtime *rt)
{
	static uint8_t seen[PRODUCERS * PER_PRODUCER];
	int64_t last[PRODUCERS] = {-1, -1};
	struct shoal_queue q;
	shoal_id done[PRODUCERS];
	double t0;
	int rc = shoal_queue_create(rt, "work", 64, &q);

	if (rc)
		return rc;
	for (int64_t i = 0; i < PRODUCERS; i++) {
		struct shoal_args a;

		shoal_args_init(&a);
		shoal_args_queue(&a, &q);
		shoal_args_bytes(&a, &i, sizeof i);
		rc = shoal_submit(rt, shoal_function(rt, "producer"), &a, 1, &done[i]);
		if (rc)
			return rc;
	}
	t0 = now_s();
	for (int n = 0; n < PRODUCERS * PER_PRODUCER; n++) {
		int64_t v = -1;

		rc = take(rt, &q, &v);
		if (rc)
			return rc;
		if (v < 0 || v >= PRODUCERS * PER_PRODUCER || seen[v]++ ||
		    v <= last[v / PER_PRODUCER]) {
			fprintf(stderr, "queue: value %" PRId64 " twice or out of order\n", v);
			return SHOAL_ETASK;
		}
		last[v / PER_PRODUCER] = v;
	}
	printf("queue: %d values from %d producer tasks, each once and in order, "
	       "%.0f values/s\n", PRODUCERS * PER_PRODUCER, PRODUCERS,
	       PRODUCERS * PER_PRODUCER / (now_s() - t0));
	for (int i = 0; i < PRODUCERS; i++)
		shoal_drop(shoal_runtime_store(rt), done[i]);
	return shoal_queue_delete(rt, &q);
}

int main(void)
{
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_runtime_options o;
	int rc;

	if (shoal_registry_open(&reg) ||
	    shoal_register_task(reg, "producer", producer, NULL))
		return 1;
	shoal_runtime_options_init(&o);
	o.num_workers = PRODUCERS;
	rc = shoal_runtime_start(reg, &o, &rt);
	if (rc) {
		fprintf(stderr, "queue: start: %s\n", shoal_strerror(rc));
		return 1;
	}
	rc = run(rt);
	if (rc)
		fprintf(stderr, "queue: %s\n", shoal_strerror(rc));
	shoal_runtime_shutdown(rt);
	shoal_registry_close(reg);
	return rc ? 1 : 0;
}
