/* SPDX-License-Identifier: MIT */
/*
 * bench/families.h - the one table of shoal-bench's families: per row the
 * family's name, its run function and the metrics it emits, as --help
 * prints them.  main() (bench/harness.c) runs every row, in the table's
 * order; --filter selects metrics, not rows (wanted(), in each family).
 * To add a family: bench/<name>.c defining family_<name>(), its
 * declaration and its row here, the file in bench/meson.build.
 *
 * A run function runs those of its metrics that wanted() accepts, emits
 * one line per metric (or an error line, emit_error()), and returns 0 or
 * the first negative error; on every path it leaves no process, mapping,
 * store or file behind (harness.c: processes and cleanup).
 *
 * The order is part of the output, and more: floors runs before tasks and
 * actors, which state their ratios to the floors of this same run
 * (ctx->floors, 0 when the floors were filtered out).
 *
 * Included by harness.c, which walks the table, and by each family's file
 * for its own declaration, so that the compiler checks each definition
 * against the declaration the table uses.  libuv's test/benchmark-list.h
 * is the model (one list, one runner), without its macros.
 */
#ifndef SHOAL_BENCH_FAMILIES_H
#define SHOAL_BENCH_FAMILIES_H

#include "bench.h"

int family_put_calls(const struct bench_ctx *ctx);
int family_get_calls(const struct bench_ctx *ctx);
int family_put_gigabytes(const struct bench_ctx *ctx);
int family_get_latency(const struct bench_ctx *ctx);
int family_floors(const struct bench_ctx *ctx);
int family_tasks(const struct bench_ctx *ctx);
int family_actors(const struct bench_ctx *ctx);
int family_timeline(const struct bench_ctx *ctx);
int family_flood(const struct bench_ctx *ctx);
int family_threaded(const struct bench_ctx *ctx);

struct family {
	const char *name;
	int (*run)(const struct bench_ctx *ctx);
	const char *metrics;
};

static const struct family families[] = {
	{"put_calls", family_put_calls,
	 "single_client_put_calls multi_client_put_calls"},
	{"get_calls", family_get_calls, "single_client_get_calls"},
	{"put_gigabytes", family_put_gigabytes,
	 "single_client_put_gigabytes memcpy_gigabytes (1 MiB, 64 MiB)"},
	{"get_latency", family_get_latency,
	 "get_latency_1KiB_ns get_latency_1GiB_ns"},
	{"floors", family_floors, "futex_rtt_ns spin_rtt_ns"},
	{"tasks", family_tasks,
	 "single_client_tasks_sync (spinning, sleeping) "
	 "single_client_tasks_async multi_client_tasks_async "
	 "single_client_wait_1k_refs"},
	{"actors", family_actors,
	 "1_1_actor_calls_sync 1_1_actor_calls_async 1_n_actor_calls_async "
	 "n_n_actor_calls_async n_n_actor_calls_with_arg_async "
	 "actor_call_enqueue_rate actor_call_rtt_p50_ns actor_call_rtt_p99_ns "
	 "(spinning, sleeping)"},
	{"timeline", family_timeline,
	 "timeline_cost_actor_calls_async timeline_cost_tasks_async (in %: "
	 "the median over pairs of fresh runtimes, timeline on and off, of "
	 "rate_off/rate_on - 1; positive: the timeline costs)"},
	{"flood", family_flood,
	 "actor_create_p50_ns actor_create_p99_ns actor_create_max_ns, each "
	 "flooded_ (another user's datagrams at the fork server) and busy_ "
	 "(the flooder's CPU alone)"},
	{"threaded", family_threaded,
	 "threaded_actor_io_calls_1_thread threaded_actor_io_calls_2_threads "
	 "threaded_actor_calls_1_thread threaded_actor_calls_2_threads (2 "
	 "callers, one actor of 1 or 2 threads; io: 100 us in each call)"},
};

#define NFAMILIES (sizeof families / sizeof families[0])

#endif /* SHOAL_BENCH_FAMILIES_H */
