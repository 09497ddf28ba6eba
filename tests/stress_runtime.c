/* SPDX-License-Identifier: MIT */
/*
 * tests/stress_runtime.c - several threads of one driver share a runtime
 * handle: they look functions up by name (the liburcu cache), submit tasks
 * whose arguments are other threads' results, get, check and drop them.
 * A plain main(): exit 0 when every result is right, 1 otherwise.  It runs
 * in the normal and AddressSanitizer builds, not under ThreadSanitizer:
 * a task record passes from a submitting thread, through a worker process
 * that runs and frees it, to another thread that reuses it, and TSan
 * cannot see a happens-before edge that goes through another process (it
 * reports that reuse as a race).  The store's and the queue's own stress
 * programs cover their protocols under TSan within one process.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <shoal/shoal.h>

#include "rtutil.h"

#ifndef THREADS
#define THREADS 4
#endif
#ifndef ROUNDS
#define ROUNDS 300
#endif
#define WINDOW 16

struct shared {
	struct shoal_runtime *rt;
	/* Results published for other threads: each slot holds a ref whose
	 * value is 1, or the nil ID.  Release/acquire: the ref's bytes are
	 * in the store, the word only names them. */
	_Atomic uint64_t ones_hi[THREADS];
	_Atomic uint64_t ones_lo[THREADS];
	_Atomic int failures;
};

static int64_t fetch(struct shoal_store *s, shoal_id ref)
{
	struct shoal_view v;
	int64_t x = -1;

	if (shoal_get(s, ref, 30000, &v) == 0) {
		if (v.size == sizeof x)
			memcpy(&x, v.data, sizeof x);
		shoal_release(s, &v);
	}
	return x;
}

static void fail(struct shared *sh, const char *what, long a, long b)
{
	fprintf(stderr, "stress_runtime: %s (%ld, %ld)\n", what, a, b);
	atomic_fetch_add(&sh->failures, 1);
}

/* One round: WINDOW tasks add(i, one of another thread's 1s). */
static void round_of(struct shared *sh, int me, int r)
{
	struct shoal_store *s = shoal_runtime_store(sh->rt);
	int fn = shoal_function(sh->rt, "add");
	int other = (me + 1 + r) % THREADS;
	shoal_id one = {atomic_load_explicit(&sh->ones_hi[other], memory_order_acquire),
			atomic_load_explicit(&sh->ones_lo[other], memory_order_acquire)};
	shoal_id refs[WINDOW];

	for (int i = 0; i < WINDOW; i++) {
		struct shoal_args a;
		int64_t v = i;

		shoal_args_init(&a);
		shoal_args_bytes(&a, &v, sizeof v);
		if (!shoal_id_is_nil(one))
			shoal_args_ref(&a, one);
		if (shoal_submit(sh->rt, fn, &a, 1, &refs[i])) {
			fail(sh, "submit", me, i);
			return;
		}
	}
	for (int i = 0; i < WINDOW; i++) {
		int64_t want = i + (shoal_id_is_nil(one) ? 0 : 1), got = fetch(s, refs[i]);

		if (got != want)
			fail(sh, "wrong sum", (long)got, (long)want);
		shoal_drop(s, refs[i]);
	}
}

struct thread_arg {
	struct shared *sh;
	int me;
};

static void *run(void *p)
{
	struct thread_arg *ta = p;
	struct shared *sh = ta->sh;
	struct shoal_store *s = shoal_runtime_store(sh->rt);
	int64_t one = 1;
	shoal_id mine;

	/* Each thread publishes a held object worth 1 for the others (it
	 * stays held, so it lives as long as the run). */
	if (shoal_put(s, &one, sizeof one, 1000, &mine))
		fail(sh, "put", ta->me, 0);
	atomic_store_explicit(&sh->ones_lo[ta->me], mine.lo, memory_order_release);
	atomic_store_explicit(&sh->ones_hi[ta->me], mine.hi, memory_order_release);
	for (int r = 0; r < ROUNDS && !atomic_load(&sh->failures); r++)
		round_of(sh, ta->me, r);
	return NULL;
}

int main(void)
{
	struct shoal_runtime_options o = SHOAL_RUNTIME_OPTIONS_INIT;
	struct shoal_registry *reg;
	struct shared sh = {0};
	struct thread_arg ta[THREADS];
	pthread_t t[THREADS];

	o.num_workers = 2;
	o.store.capacity = 16u << 20;
	if (shoal_registry_open(&reg) || shoal_register_task(reg, "add", rt_task_add, NULL) ||
	    shoal_runtime_start(reg, &o, &sh.rt)) {
		fprintf(stderr, "stress_runtime: start failed\n");
		return 1;
	}
	for (int i = 0; i < THREADS; i++) {
		ta[i] = (struct thread_arg){&sh, i};
		pthread_create(&t[i], NULL, run, &ta[i]);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	if (shoal_runtime_shutdown(sh.rt))
		fail(&sh, "shutdown", 0, 0);
	shoal_registry_close(reg);
	printf("stress_runtime: %d threads x %d rounds x %d tasks, %d failures\n",
	       THREADS, ROUNDS, WINDOW, atomic_load(&sh.failures));
	return atomic_load(&sh.failures) ? 1 : 0;
}
