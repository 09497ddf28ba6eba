/* SPDX-License-Identifier: MIT */
/*
 * tests/stress_objqueue.c - threads of one driver put into and get from
 * the same object queues (shoal/queue.h) at once, through one runtime
 * handle: the cells' claims, the tail and head hints, the events they
 * sleep on, the process's books of the holds it keeps for its puts (one
 * mutex, trimmed by every put), and the store's holds and drops under
 * them.  Two producer threads put tagged values, two consumer threads get
 * them; a fifth thread keeps creating, filling and deleting a second
 * queue meanwhile.  Every value must arrive exactly once, each
 * producer's in its order, and no hold may be left behind.
 *
 * A plain main(): exit 0 when every check held, 1 otherwise.  It runs in
 * every build and under ThreadSanitizer (.ci/run): every happens-before
 * edge between two of the threads is in this process, where TSan sees
 * it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/shoal.h>

#define PRODUCERS 2
#define CONSUMERS 2
#ifndef ITEMS
#define ITEMS 20000 /* per producer */
#endif
#define CHURN_ROUNDS 200
#define TIMEOUT_MS 20000

struct shared {
	struct shoal_runtime *rt;
	struct shoal_store *s;
	struct shoal_queue q;
	_Atomic uint8_t got[PRODUCERS * ITEMS];
	_Atomic int failures;
	_Atomic int taken;
};

static void fail(struct shared *sh, const char *what, int rc)
{
	fprintf(stderr, "stress_objqueue: %s: %s\n", what, shoal_strerror(rc));
	atomic_fetch_add(&sh->failures, 1);
}

struct producer {
	struct shared *sh;
	int index;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	struct shared *sh = p->sh;

	for (int64_t i = 0; i < ITEMS; i++) {
		int64_t v = p->index * ITEMS + i;
		int rc = shoal_queue_put_bytes(sh->rt, &sh->q, &v, sizeof v, TIMEOUT_MS);

		if (rc) {
			fail(sh, "put", rc);
			break;
		}
	}
	return NULL;
}

/* Gets until every value was taken by someone; checks order per
 * producer (one consumer sees each producer's values rising). */
static void *consume(void *arg)
{
	struct shared *sh = arg;
	int64_t last[PRODUCERS];

	for (int i = 0; i < PRODUCERS; i++)
		last[i] = -1;
	while (atomic_load_explicit(&sh->taken, memory_order_relaxed) <
	       PRODUCERS * ITEMS) {
		struct shoal_view v;
		shoal_id id;
		int64_t x;
		int rc = shoal_queue_get(sh->rt, &sh->q, 50, &id);

		if (rc == -ETIMEDOUT)
			continue;
		if (rc) {
			fail(sh, "get", rc);
			break;
		}
		rc = shoal_get(sh->s, id, 1000, &v);
		if (rc || v.size != sizeof x) {
			fail(sh, "read", rc);
			break;
		}
		memcpy(&x, v.data, sizeof x);
		shoal_release(sh->s, &v);
		shoal_drop(sh->s, id);
		if (x < 0 || x >= PRODUCERS * ITEMS ||
		    atomic_fetch_add(&sh->got[x], 1) != 0 || x <= last[x / ITEMS]) {
			fail(sh, "a value twice, out of range or out of order", 0);
			break;
		}
		last[x / ITEMS] = x;
		atomic_fetch_add_explicit(&sh->taken, 1, memory_order_relaxed);
	}
	return NULL;
}

/* Creates a queue, fills it half, deletes it, again and again. */
static void *churn(void *arg)
{
	struct shared *sh = arg;

	for (int r = 0; r < CHURN_ROUNDS; r++) {
		struct shoal_queue q;
		int64_t v = r;
		int rc = shoal_queue_create(sh->rt, "churn", 8, &q);

		if (rc) {
			fail(sh, "create", rc);
			break;
		}
		for (int i = 0; i < 4 && rc == 0; i++)
			rc = shoal_queue_put_bytes(sh->rt, &q, &v, sizeof v, 0);
		if (rc == 0)
			rc = shoal_queue_delete(sh->rt, &q);
		if (rc) {
			fail(sh, "churn", rc);
			break;
		}
	}
	return NULL;
}

static int run(struct shared *sh)
{
	pthread_t pt[PRODUCERS], ct[CONSUMERS], chn;
	struct producer p[PRODUCERS];

	for (int i = 0; i < CONSUMERS; i++)
		pthread_create(&ct[i], NULL, consume, sh);
	for (int i = 0; i < PRODUCERS; i++) {
		p[i] = (struct producer){sh, i};
		pthread_create(&pt[i], NULL, produce, &p[i]);
	}
	pthread_create(&chn, NULL, churn, sh);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(pt[i], NULL);
	if (atomic_load(&sh->failures))
		atomic_store(&sh->taken, PRODUCERS * ITEMS); /* stop them */
	for (int i = 0; i < CONSUMERS; i++)
		pthread_join(ct[i], NULL);
	pthread_join(chn, NULL);
	for (int i = 0; i < PRODUCERS * ITEMS; i++)
		if (atomic_load(&sh->got[i]) != 1) {
			fprintf(stderr, "stress_objqueue: value %d got %u times\n", i,
				atomic_load(&sh->got[i]));
			return 1;
		}
	return atomic_load(&sh->failures) ? 1 : 0;
}

int main(void)
{
	struct shoal_registry *reg;
	struct shoal_runtime_options o;
	struct shared *sh = calloc(1, sizeof *sh);
	int rc, bad;

	if (!sh || shoal_registry_open(&reg))
		return 1;
	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.store.capacity = 64u << 20;
	o.max_queues = 4;
	o.max_queue_capacity = 64;
	rc = shoal_runtime_start(reg, &o, &sh->rt);
	if (rc) {
		fprintf(stderr, "stress_objqueue: start: %s\n", shoal_strerror(rc));
		return 1;
	}
	sh->s = shoal_runtime_store(sh->rt);
	rc = shoal_queue_create(sh->rt, "main", 64, &sh->q);
	bad = rc ? 1 : run(sh);
	/* Every hold the puts took was let go once its value was got: the
	 * queue is empty, and this process holds nothing more. */
	if (!bad && shoal_queue_size(sh->rt, &sh->q) != 0)
		bad = 1;
	shoal_runtime_shutdown(sh->rt);
	shoal_registry_close(reg);
	free(sh);
	if (!bad)
		printf("stress_objqueue: %d values through one queue, each once\n",
		       PRODUCERS * ITEMS);
	return bad;
}
