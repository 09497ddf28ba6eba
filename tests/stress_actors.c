/* SPDX-License-Identifier: MIT */
/*
 * tests/stress_actors.c - several threads of one driver call the same
 * actors at once through one runtime handle: the process-local lane cache
 * (liburcu hash table), the lane's lock shared by the threads, calls with
 * results and fire-and-forget calls, refs kept and dropped; meanwhile one
 * thread keeps creating actors, calling them and killing them, so that
 * lanes of dead actors are given back while the other threads call.
 * Every thread checks that its own calls ran in its order (each call
 * returns the actor's count of this thread's calls so far).
 *
 * A plain main(): exit 0 when every check held, 1 otherwise.  It runs in
 * every build and under ThreadSanitizer (.ci/run): the threads of the
 * driver share the lane only under its lock, so every happens-before edge
 * between two of them is in this process, where TSan sees it.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/shoal.h>

#ifndef THREADS
#define THREADS 4
#endif
#ifndef CALLS
#define CALLS 16384 /* a multiple of WINDOW */
#endif
#define WINDOW 32
#define CHURN_ROUNDS 20

struct shared {
	struct shoal_runtime *rt;
	struct shoal_actor counter;
	int m_tick, m_count, m_send;
	_Atomic int failures;
	_Atomic int done;
};

/* State: calls counted per caller thread. */
struct tally {
	int64_t per[THREADS + 1];
};

static int tally_init(struct shoal_task *ctx, void **self)
{
	(void)ctx;
	*self = calloc(1, sizeof(struct tally));
	return *self ? 0 : -ENOMEM;
}

static void tally_fini(void *self)
{
	free(self);
}

static int64_t arg0(struct shoal_task *t)
{
	const void *d;
	size_t n;
	int64_t v = -1;

	if (shoal_task_arg(t, 0, &d, &n) == 0 && n == sizeof v)
		memcpy(&v, d, sizeof v);
	return v;
}

/* tick(who) -> how many ticks `who` made before this one */
static int tally_tick(struct shoal_task *t, void *self)
{
	struct tally *s = self;
	int64_t who = arg0(t), n;

	if (who < 0 || who > THREADS)
		return shoal_task_fail(t, -EINVAL, "who %" PRId64, who);
	n = s->per[who]++;
	return shoal_task_num_returns(t) ? shoal_task_return(t, 0, &n, sizeof n) : 0;
}

/* count(who) -> ticks of `who` so far */
static int tally_count(struct shoal_task *t, void *self)
{
	struct tally *s = self;
	int64_t who = arg0(t);

	if (who < 0 || who > THREADS)
		return shoal_task_fail(t, -EINVAL, "who %" PRId64, who);
	return shoal_task_return(t, 0, &s->per[who], sizeof s->per[who]);
}

static void fail(struct shared *sh, const char *what, int rc)
{
	fprintf(stderr, "stress_actors: %s: %s\n", what, shoal_strerror(rc));
	atomic_fetch_add(&sh->failures, 1);
}

static int call(struct shared *sh, struct shoal_actor a, int m, int64_t who,
		shoal_id *ref)
{
	struct shoal_args args;

	shoal_args_init(&args);
	shoal_args_bytes(&args, &who, sizeof who);
	return ref ? shoal_actor_call(sh->rt, a, m, &args, ref)
		   : shoal_actor_send(sh->rt, a, m, &args);
}

static int64_t fetch(struct shared *sh, shoal_id ref, int *rc)
{
	struct shoal_store *s = shoal_runtime_store(sh->rt);
	struct shoal_view v;
	int64_t x = -1;

	*rc = shoal_get(s, ref, 30000, &v);
	if (*rc == 0) {
		memcpy(&x, v.data, sizeof x);
		shoal_release(s, &v);
	}
	shoal_drop(s, ref);
	return x;
}

/* Windows of calls with results (each must equal its position among this
 * thread's ticks), every fourth call fire-and-forget. */
static void *caller(void *arg)
{
	struct shared *sh = ((void **)arg)[0];
	int64_t who = (int64_t)(intptr_t)((void **)arg)[1], expect = 0;
	shoal_id refs[WINDOW];
	int64_t want[WINDOW];

	for (int c = 0; c < CALLS && !atomic_load(&sh->failures); c += WINDOW) {
		int n = 0, rc;

		for (int k = 0; k < WINDOW; k++, expect++) {
			bool send = (c + k) % 4 == 3;

			rc = call(sh, sh->counter, sh->m_tick, who, send ? NULL : &refs[n]);
			if (rc) {
				fail(sh, "call", rc);
				return NULL;
			}
			if (!send)
				want[n++] = expect;
		}
		for (int k = 0; k < n; k++) {
			int64_t got = fetch(sh, refs[k], &rc);

			if (rc || got != want[k]) {
				fprintf(stderr, "stress_actors: thread %" PRId64 " call "
					"%" PRId64 ": got %" PRId64 " (%s)\n", who,
					want[k], got, shoal_strerror(rc));
				atomic_fetch_add(&sh->failures, 1);
			}
		}
	}
	return NULL;
}

/* Creates actors, calls them, kills them, while the callers run. */
static void *churner(void *arg)
{
	struct shared *sh = arg;
	int rc;

	for (int r = 0; r < CHURN_ROUNDS && !atomic_load(&sh->failures); r++) {
		struct shoal_actor a;
		shoal_id ref;

		rc = shoal_actor_create(sh->rt, "Tally", NULL, NULL, &a);
		if (!rc)
			rc = call(sh, a, sh->m_tick, THREADS, &ref);
		if (!rc)
			fetch(sh, ref, &rc);
		if (!rc)
			rc = shoal_actor_kill(sh->rt, a, true);
		if (!rc) {
			rc = call(sh, a, sh->m_tick, THREADS, &ref);
			rc = rc == SHOAL_EACTORDIED ? 0 : rc ? rc : -EPROTO;
		}
		if (rc) {
			fail(sh, "churn", rc);
			return NULL;
		}
	}
	return NULL;
}

static int check_counts(struct shared *sh)
{
	for (int64_t who = 0; who < THREADS; who++) {
		shoal_id ref;
		int rc = call(sh, sh->counter, sh->m_count, who, &ref);
		int64_t n = rc ? -1 : fetch(sh, ref, &rc);

		if (rc || n != CALLS) {
			fprintf(stderr, "stress_actors: thread %" PRId64 " made %d "
				"calls, the actor counted %" PRId64 "\n", who, CALLS, n);
			return 1;
		}
	}
	return 0;
}

static int setup(struct shoal_registry **reg)
{
	int rc = shoal_registry_open(reg);

	if (!rc)
		rc = shoal_register_actor(*reg, "Tally", tally_init, tally_fini);
	if (!rc)
		rc = shoal_register_method(*reg, "Tally", "tick", tally_tick);
	if (!rc)
		rc = shoal_register_method(*reg, "Tally", "count", tally_count);
	return rc;
}

int main(void)
{
	struct shoal_runtime_options o;
	struct shoal_registry *reg = NULL;
	struct shared sh = {0};
	pthread_t th[THREADS + 1];
	void *args[THREADS][2];
	int rc = setup(&reg), bad;

	shoal_runtime_options_init(&o);
	o.num_workers = 1;
	o.max_pending_calls = 64; /* small: the lane fills and drains */
	if (!rc)
		rc = shoal_runtime_start(reg, &o, &sh.rt);
	shoal_registry_close(reg);
	if (rc) {
		fprintf(stderr, "stress_actors: start: %s\n", shoal_strerror(rc));
		return 1;
	}
	rc = shoal_actor_create(sh.rt, "Tally", NULL, NULL, &sh.counter);
	sh.m_tick = shoal_actor_method(sh.rt, sh.counter, "tick");
	sh.m_count = shoal_actor_method(sh.rt, sh.counter, "count");
	if (rc || sh.m_tick < 0 || sh.m_count < 0) {
		fprintf(stderr, "stress_actors: create: %s\n", shoal_strerror(rc));
		shoal_runtime_shutdown(sh.rt);
		return 1;
	}
	for (intptr_t i = 0; i < THREADS; i++) {
		args[i][0] = &sh;
		args[i][1] = (void *)i;
		pthread_create(&th[i], NULL, caller, args[i]);
	}
	pthread_create(&th[THREADS], NULL, churner, &sh);
	for (int i = 0; i <= THREADS; i++)
		pthread_join(th[i], NULL);
	bad = atomic_load(&sh.failures) || check_counts(&sh);
	rc = shoal_runtime_shutdown(sh.rt);
	if (rc)
		fprintf(stderr, "stress_actors: shutdown: %s\n", shoal_strerror(rc));
	if (!bad && !rc)
		printf("stress_actors: %d threads x %d calls in order, %d actors "
		       "created and killed meanwhile\n", THREADS, CALLS, CHURN_ROUNDS);
	return bad || rc ? 1 : 0;
}
