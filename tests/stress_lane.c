/* SPDX-License-Identifier: MIT */
/*
 * tests/stress_lane.c - the actor call lane under ThreadSanitizer.
 *
 * One producer thread and one consumer thread on a MAP_SHARED anonymous
 * lane pass N records, each filled with a pattern derived from its number;
 * the consumer checks every byte, the order, and that nothing is missing
 * or repeated.  Both sides sleep when they must (small spin budgets), so
 * the doorbell and space paths run too.  Every wait has a deadline and the
 * whole run a time bound.  Plain main(): criterion aborts under TSan.
 * Exit 0 ok, 1 fail.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "internal.h"
#include "lane.h"

#define N 1000000u
#define CAP 64u
#define RS 128u
#define WAIT_MS 10000

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t word(uint64_t seq, uint32_t i)
{
	return (seq + 1) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)i << 56);
}

static void *producer(void *arg)
{
	const struct shoal__lane_view *l = arg;

	for (uint32_t s = 0; s < N; s++) {
		uint64_t *w;

		/* Vary the spin so that some waits end in the kernel. */
		while ((w = shoal__lane_reserve(l)) == NULL)
			if (shoal__lane_wait_room(l, shoal__deadline_in(WAIT_MS),
						  s % 3 == 0 ? 0 : 64) != 0) {
				fprintf(stderr, "producer: no room at %u\n", s);
				return (void *)1;
			}
		w[0] = s;
		for (uint32_t i = 1; i < RS / 8; i++)
			w[i] = word(s, i);
		shoal__lane_publish(l, NULL);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	const struct shoal__lane_view *l = arg;

	for (uint32_t s = 0; s < N; s++) {
		const uint64_t *w;

		while ((w = shoal__lane_peek(l)) == NULL)
			if (shoal__lane_wait_record(l, shoal__deadline_in(WAIT_MS),
						    s % 5 == 0 ? 0 : 64) != 0) {
				fprintf(stderr, "consumer: nothing at %u\n", s);
				return (void *)1;
			}
		if (w[0] != s) {
			fprintf(stderr, "consumer: record %llu at %u\n",
				(unsigned long long)w[0], s);
			return (void *)1;
		}
		for (uint32_t i = 1; i < RS / 8; i++)
			if (w[i] != word(s, i)) {
				fprintf(stderr, "consumer: record %u word %u\n",
					s, i);
				return (void *)1;
			}
		shoal__lane_consume(l);
	}
	if (shoal__lane_peek(l) != NULL) {
		fprintf(stderr, "consumer: extra record\n");
		return (void *)1;
	}
	return NULL;
}

int main(void)
{
	uint64_t bytes = shoal__lane_bytes(CAP, RS);
	int64_t t0 = now_ns();
	pthread_t pt, ct;
	void *pr = NULL, *cr = NULL;
	struct shoal__lane_view view, *l = &view;
	void *mem;
	bool ok;

	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || shoal__lane_init(mem, CAP, RS) != 0 ||
	    shoal__lane_open(&view, mem, bytes) != 0) {
		fprintf(stderr, "stress_lane: set-up failed: %s\n",
			strerror(errno));
		return 1;
	}
	if (pthread_create(&ct, NULL, consumer, l) != 0 ||
	    pthread_create(&pt, NULL, producer, l) != 0) {
		fprintf(stderr, "stress_lane: pthread_create failed\n");
		return 1;
	}
	pthread_join(pt, &pr);
	pthread_join(ct, &cr);
	ok = pr == NULL && cr == NULL && shoal__lane_len(l) == 0 &&
	     shoal__lane_check(mem, bytes) == 0;
	printf("stress_lane: %u records in %.2f s: %s\n", N,
	       (double)(now_ns() - t0) / 1e9, ok ? "ok" : "FAIL");
	munmap(mem, bytes);
	return ok ? 0 : 1;
}
