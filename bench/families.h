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
 * The peers (bench/peers/, one file each: what a C programmer would use
 * instead of shoal) come last, so that shoal's families run first; each
 * row's system names what it measures ("floor" for the machine's own
 * floors), and every result line carries it.
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
int family_queue(const struct bench_ctx *ctx);
int family_sockets(const struct bench_ctx *ctx);
int family_pipes(const struct bench_ctx *ctx);
int family_zmq(const struct bench_ctx *ctx);
int family_iceoryx(const struct bench_ctx *ctx);
int family_redis(const struct bench_ctx *ctx);
int family_cancel(const struct bench_ctx *ctx);
int family_threaded(const struct bench_ctx *ctx);
int family_live_objects(const struct bench_ctx *ctx);
int family_tasks_in_flight(const struct bench_ctx *ctx);
int family_actors_scaling(const struct bench_ctx *ctx);

struct family {
	const char *name;
	const char *system;
	int (*run)(const struct bench_ctx *ctx);
	const char *metrics;
};

static const struct family families[] = {
	{"put_calls", "shoal", family_put_calls,
	 "single_client_put_calls multi_client_put_calls"},
	{"get_calls", "shoal", family_get_calls, "single_client_get_calls"},
	{"put_gigabytes", "shoal", family_put_gigabytes,
	 "single_client_put_gigabytes (64 MiB) and _64B .. _256MiB (x4 apart; "
	 "curve put_bandwidth_vs_size), memcpy_gigabytes_64B .. _256MiB "
	 "(system floor, at the same sizes), create_seal_get_gigabytes_1MiB "
	 "create_seal_get_delete_gigabytes_1MiB"},
	{"get_latency", "shoal", family_get_latency,
	 "get_latency_1KiB_ns get_latency_1GiB_ns"},
	{"floors", "floor", family_floors,
	 "futex_rtt_{p50,p99,p999}_ns and futex_rtt_1cpu_* (one CPU), "
	 "spin_rtt_{p50,p99,p999}_ns, shm_first_touch_ns"},
	{"tasks", "shoal", family_tasks,
	 "single_client_tasks_sync (spinning, sleeping) "
	 "single_client_tasks_async multi_client_tasks_async "
	 "single_client_wait_1k_refs first_wave_vs_warm_ratio"},
	{"actors", "shoal", family_actors,
	 "1_1_actor_calls_sync 1_1_actor_calls_async 1_n_actor_calls_async "
	 "n_n_actor_calls_async n_n_actor_calls_with_arg_async "
	 "actor_call_enqueue_rate 1_1_actor_calls_async_{split,1cpu} "
	 "actor_call_rtt_{spin,sleep,sleep_1cpu}_{p50,p99,p999}_ns"},
	{"timeline", "shoal", family_timeline,
	 "timeline_cost_actor_calls_async timeline_cost_tasks_async (in %: "
	 "the median over pairs of fresh runtimes, timeline on and off, of "
	 "rate_off/rate_on - 1; positive: the timeline costs)"},
	{"flood", "shoal", family_flood,
	 "actor_create_p50_ns actor_create_p99_ns actor_create_max_ns, each "
	 "flooded_ (another user's datagrams at the fork server) and busy_ "
	 "(the flooder's CPU alone)"},
	{"pipes", "pipe", family_pipes,
	 "pipe_rtt_{p50,p99,p999}_ns pipe_rtt_1cpu_* pipe_oneway_rate "
	 "pipe_oneway_rate_1cpu"},
	{"sockets", "unix", family_sockets,
	 "unix_rtt_{p50,p99,p999}_ns unix_rtt_1cpu_* unix_oneway_rate "
	 "unix_oneway_rate_1cpu"},
	{"zmq", "zmq", family_zmq,
	 "zmq_req_rep_rtt_{p50,p99,p999}_ns zmq_req_rep_rtt_1cpu_* "
	 "zmq_push_pull_rate zmq_push_pull_rate_1cpu (ipc://; -Dzmq)"},
	{"iceoryx", "iceoryx", family_iceoryx,
	 "iceoryx_rtt_busy_{p50,p99,p999}_ns iceoryx_rtt_waitset_* "
	 "iceoryx_rtt_waitset_1cpu_* iceoryx_loan_gigabytes_1MiB "
	 "(-Diceoryx; needs --iceoryx: a running iox-roudi)"},
	{"redis", "redis", family_redis,
	 "redis_{set,get}_calls redis_{set,get}_pipelined_calls (64 B), "
	 "redis_set_gigabytes_1MiB redis_set_pipelined_gigabytes_1MiB "
	 "redis_get_gigabytes_1MiB (hiredis; -Dredis; needs --redis-socket)"},
	{"queue", "shoal", family_queue,
	 "queue_put_get_rate queue_put_bytes_get_rate (object queues between "
	 "two processes, each beside 1_1_actor_calls_async: vs_lane)"},
	{"cancel", "shoal", family_cancel, "cancel_pending_ns"},
	{"threaded", "shoal", family_threaded,
	 "threaded_actor_io_calls_1_thread threaded_actor_io_calls_2_threads "
	 "threaded_actor_calls_1_thread threaded_actor_calls_2_threads (2 "
	 "callers, one actor of 1 or 2 threads; io: 100 us in each call)"},
	{"live_objects", "shoal", family_live_objects,
	 "live_objects_{get,hold,put}_ns_N and random_line_read_ns_N (floor) "
	 "for N = 1k .. 512k objects held (curve store_cost_vs_live_objects), "
	 "live_objects_get_ratio_512k_to_1k"},
	{"tasks_in_flight", "shoal", family_tasks_in_flight,
	 "tasks_in_flight_{first_wave,warm}_N for waves of N = 1k .. 512k "
	 "no-op tasks, the first on a fresh runtime (curve tasks_vs_in_flight), "
	 "tasks_first_wave_ratio_1k"},
	{"actors_scaling", "shoal", family_actors_scaling,
	 "actors_{create,first_call,kill}_ns_N (per actor) and "
	 "actors_calls_round_robin_ns_N (per call) for N = 8 .. 512 actors "
	 "(curve actors_vs_count)"},
};

#define NFAMILIES (sizeof families / sizeof families[0])

#endif /* SHOAL_BENCH_FAMILIES_H */
