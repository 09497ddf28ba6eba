/* SPDX-License-Identifier: MIT */
/*
 * stress_timeline - the timeline ring's seqlock (runtime/timeline.c)
 * under real concurrency: one writer records events as fast as it can
 * into a small ring (so that it laps the readers all the time) while two
 * readers copy events and check that every event they accept is whole:
 * each field is a function of the event's number, so a copy mixing two
 * events, or an event taken while it was rewritten, fails.  Readers must
 * also accept some events (the ring is not always torn): the writer goes
 * on past WRITES until each reader has accepted one, up to
 * EXTRA_WRITES more (a reader the scheduler kept off the CPU for the
 * writer's whole run accepted none, a failure that said nothing of the
 * ring).  Its own main,
 * so that it runs under ThreadSanitizer (.ci/run).  Exit 0 ok, 1 fail.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "timeline.h"

#define EVENTS 4u
#define WRITES 4000000u
#define EXTRA_WRITES 400000000u

struct shared {
	struct shoal__tl t;
	struct shoal__tl_event *ev;
	struct shoal__tl_ring *ring;
	_Atomic bool done;
	_Atomic uint64_t seen[2]; /* per reader: events accepted so far */
	uint64_t writes;          /* the writer's, read after its join */
};

struct result {
	uint64_t accepted, bad;
};

static struct shoal__tl_rec rec_of(uint64_t n)
{
	return (struct shoal__tl_rec){
		.kind = SHOAL__TL_CALL, .who = (uint32_t)(n * 7) & 0xffffffu,
		.what = (uint32_t)n, .klass = (uint32_t)(n >> 32) ^ 0x5a5a,
		.from = (uint32_t)(n * 3), .rc = -(int32_t)(n % 4000),
		.t_submit = n * 11, .t_start = n * 13, .t_end = n * 13 + 5,
		.id_hi = n ^ 0xfeedull, .id_lo = ~n,
	};
}

static bool same(const struct shoal__tl_rec *a, const struct shoal__tl_rec *b)
{
	return a->kind == b->kind && a->who == b->who && a->what == b->what &&
	       a->klass == b->klass && a->from == b->from && a->rc == b->rc &&
	       a->t_submit == b->t_submit && a->t_start == b->t_start &&
	       a->t_end == b->t_end && a->id_hi == b->id_hi && a->id_lo == b->id_lo;
}

static void *writer(void *arg)
{
	struct shared *sh = arg;

	uint64_t n = 0;

	for (; n < WRITES || (n < WRITES + EXTRA_WRITES &&
			      (!atomic_load(&sh->seen[0]) || !atomic_load(&sh->seen[1])));
	     n++) {
		struct shoal__tl_rec r = rec_of(n);

		shoal__tl_record(&sh->t, &r);
	}
	sh->writes = n; /* read after the join */
	atomic_store(&sh->done, true);
	return NULL;
}

struct reader_arg {
	struct shared *sh;
	int i;
};

static void *reader(void *arg)
{
	struct shared *sh = ((struct reader_arg *)arg)->sh;
	int me = ((struct reader_arg *)arg)->i;
	struct result *res = calloc(1, sizeof *res);

	if (!res)
		return NULL;
	while (!atomic_load(&sh->done)) {
		uint64_t head = atomic_load_explicit(&sh->ring->head, memory_order_acquire);
		uint64_t n = head > EVENTS ? head - EVENTS : 0;

		for (; n < head; n++) {
			struct shoal__tl_rec got, want = rec_of(n);
			int32_t pid;

			if (!shoal__tl_read(sh->ev, EVENTS - 1, n, &got, &pid))
				continue;
			/* Relaxed: the writer only looks for a first one. */
			if (!res->accepted++)
				atomic_store_explicit(&sh->seen[me], 1,
						      memory_order_relaxed);
			if (!same(&got, &want) || pid != 7)
				res->bad++;
		}
	}
	return res;
}

int main(void)
{
	size_t bytes = sizeof(struct shoal__tl_ring) + EVENTS * sizeof(struct shoal__tl_event);
	struct shared sh = {0};
	pthread_t w, r[2];
	struct result *res[2];
	int fail = 0;

	sh.ring = calloc(1, bytes);
	if (!sh.ring)
		return 1;
	sh.ev = (struct shoal__tl_event *)(sh.ring + 1);
	sh.t = (struct shoal__tl){.ring = sh.ring, .ev = sh.ev, .mask = EVENTS - 1,
				  .pid = 7};
	struct reader_arg ra[2] = {{&sh, 0}, {&sh, 1}};

	for (int i = 0; i < 2; i++)
		pthread_create(&r[i], NULL, reader, &ra[i]);
	pthread_create(&w, NULL, writer, &sh);
	pthread_join(w, NULL);
	for (int i = 0; i < 2; i++) {
		pthread_join(r[i], (void **)&res[i]);
		if (!res[i]) {
			fail = 1;
			continue;
		}
		printf("reader %d: %llu events accepted, %llu torn ones accepted\n", i,
		       (unsigned long long)res[i]->accepted,
		       (unsigned long long)res[i]->bad);
		fail |= res[i]->bad != 0 || res[i]->accepted == 0;
		free(res[i]);
	}
	if (atomic_load(&sh.ring->count[SHOAL__H_CALL_RUN]) != sh.writes) {
		printf("histogram count %llu, want %llu (the writes)\n",
		       (unsigned long long)atomic_load(&sh.ring->count[SHOAL__H_CALL_RUN]),
		       (unsigned long long)sh.writes);
		fail = 1;
	}
	free(sh.ring);
	printf("stress_timeline: %s\n", fail ? "FAIL" : "ok");
	return fail;
}
