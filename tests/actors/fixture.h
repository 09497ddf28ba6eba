/* SPDX-License-Identifier: MIT */
/*
 * tests/actors/fixture.h - the actor suite: actors and actor handles,
 * classes, calls and their order, errors, named actors, handles through
 * tasks and other actors, backpressure, kill, crashes and restarts.  Every
 * test starts a real runtime: the actors are processes of their own, the
 * calls go through lanes in the segment.  Callers are driver threads,
 * tasks in workers, other actors, and attached programs (runtime_peer).  A
 * call is known to run through gate(), which says so with an object and
 * waits for another: no test sleeps in place of an event.
 *
 * One criterion executable (test_actors, meson test "actors") made of this
 * fixture and a file per behaviour:
 *
 *   fixture.c       the TestSuite, the classes and tasks below, the helpers
 *   create.c        names, constructors, the list, the destructor
 *   calls.c         one caller: order, state, errors, arguments, returns
 *   callers.c       many callers at once, each in its order
 *   handles.c       handles through tasks, actors, objects, programs
 *   backpressure.c  a full lane: blocked callers, try-calls
 *   deaths.c        kills, crashes, restarts, retries
 *   slots.c         slots and lanes come back
 *   threads.c       threaded actors, concurrency groups (its own classes)
 *
 * The classes every test's registry has (fixture.c):
 *   Counter(init)  add(x) -> sum, seq(caller, n) -> n (checks each
 *                  caller's order), get() -> {sum, calls, out_of_order},
 *                  fail(x) (SHOAL_ETASK), crash() (SIGKILL), sleep_ms(ms),
 *                  gate(started, open) -> sum, measure(x) -> {size,
 *                  checksum}, triple(x) -> x, 2x, 3x
 *   Relay()        relay(counter, x): calls add(x) on the Counter handed
 *   Broken()       a constructor that always fails; noop()
 *   Diary(path)    add(x); its destructor writes "fini <sum>" to path
 * and the tasks add(int64...), use_actor(actor, x, n) (n calls of add(x),
 * returns the last sum) and seq_caller(actor, caller, n) (n calls of seq,
 * returns how many results were wrong).
 */
#ifndef SHOAL_TESTS_ACTORS_FIXTURE_H
#define SHOAL_TESTS_ACTORS_FIXTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <shoal/shoal.h>

#include "testutil.h"

/* A test's runtime. */
struct fx {
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *s;
};

/* A runtime with options o, the classes and tasks registered. */
struct fx start_opts(struct shoal_runtime_options *o);

/* Small options: `workers` workers, 4096 tasks, a 32 MiB store. */
struct shoal_runtime_options small_opts(uint32_t workers);

/* start_opts(small_opts(workers)). */
struct fx start(uint32_t workers);

/* start_opts with small_opts(1) and the runtime named `name`, for
 * attached programs. */
struct fx start_named(const char *name);

/* Shuts the runtime down (asserted) and closes the registry. */
void stop(struct fx *f);

/* A Counter(init) with options o (NULL: the defaults). */
struct shoal_actor counter(struct fx *f, int64_t init,
			   const struct shoal_actor_options *o);

/* The index of a's method `name` (asserted). */
int method(struct fx *f, struct shoal_actor a, const char *name);

/* Calls name(x) on a; the call's result code, *ref its result. */
int call1(struct fx *f, struct shoal_actor a, const char *name, int64_t x,
	  shoal_id *ref);

/* Gets ref (10 s) as an int64: 0 or the get's error.  Keeps the ref. */
int get_i64(struct fx *f, shoal_id ref, int64_t *out);

/* Calls name(x), gets and drops the result. */
int64_t call_get(struct fx *f, struct shoal_actor a, const char *name,
		 int64_t x);

/* The Counter's get(): sum, calls, out_of_order. */
void stats(struct fx *f, struct shoal_actor a, int64_t out[3]);

/* shoal_actor_info, asserted. */
struct shoal_actor_info info(struct fx *f, struct shoal_actor a);

/* A gate() call known to be running: the actor put `started` and waits
 * for `open` (tu_id(tag, ...): distinct tags for distinct gates). */
struct gate {
	shoal_id started, open, ref;
};

struct gate gate_call(struct fx *f, struct shoal_actor a, uint32_t tag);

/* Lets the gate() call return. */
void gate_open(struct fx *f, const struct gate *g);

/* gate() running, `nq` add(1)s queued behind it; then SIGKILL to the
 * actor's process, and a wait until it is gone.  Returns its pid. */
pid_t crash_busy(struct fx *f, struct shoal_actor a, uint32_t tag,
		 struct gate *g, shoal_id *q, int nq);

/* The calls a seq caller has in flight at most (seq_batch's n). */
#define SEQ_BATCH 32

/* One batch: seq(caller, from + i) for i < n (n <= SEQ_BATCH) on method m
 * of a, then their results; *wrong counts those that differ.  0 or the
 * first call's error. */
int seq_batch(struct shoal_runtime *rt, struct shoal_actor a, int m,
	      int64_t caller, int64_t from, int64_t n, int64_t *wrong);

/* Joins a thread that must end on its own (fails the test on a hang). */
void join(pthread_t t);

/* threads.c: registers its classes and tasks (Pool, meet_from_task). */
void thread_classes(struct shoal_registry *reg);

/* Starts runtime_peer with args; *to writes its stdin, *from reads its
 * stdout (NULL: closed / /dev/null). */
pid_t spawn_runtime_peer(const char *const *args, int *to, int *from);

#endif /* SHOAL_TESTS_ACTORS_FIXTURE_H */
