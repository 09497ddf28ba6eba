/* SPDX-License-Identifier: MIT */
/*
 * bench/bench.h - the harness that shoal-bench's families share: the run's
 * context, metrics, workloads, measure() and the output, all defined in
 * bench/harness.c, which explains the method.  bench/families.h is the
 * table of the families, one file each.
 */
#ifndef SHOAL_BENCH_H
#define SHOAL_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <shoal/shoal.h>

#define REPS_QUICK 5
#define REPS_FULL 11
#define REP_SECONDS_QUICK 0.1
#define REP_SECONDS_FULL 0.4
#define REPS_SMOKE 3         /* --smoke: does every family still run? */
#define REP_SECONDS_SMOKE 0.01
#define MAX_WORKLOADS 2      /* measured side by side in one measure() */
#define MAX_EXTRA 4          /* extra numeric fields of a metric */

#define MULTI_PROCS 2        /* processes of the multi-client benchmarks */

/* ------------------------------------------------------------------ */
/* Context and results                                                */

/* Where the measured processes ran (the "placement" of a result line). */
enum placement {
	PLACE_AUTO,     /* from metric.pinned: split if pinned, else unpinned */
	PLACE_SPLIT,    /* pinned to two CPUs, 0 and 1 ("cpu0,cpu1") */
	PLACE_ONE_CPU,  /* every process pinned to CPU 0 ("cpu0") */
	PLACE_FREE,     /* not pinned ("unpinned") */
};

/* The output's state, shared by every family of a run: closed once a
 * write to stdout failed (its reader went: EPIPE); from then on wanted()
 * refuses every metric and main() ends the run (harness.c). */
struct bench_out {
	bool closed;
};

struct bench_ctx {
	bool json;
	bool quick;
	const char *filter;  /* substring of metric names to run, NULL: all */
	int reps;            /* timed repetitions per metric (odd; >= 5, but
			      * REPS_SMOKE with --smoke) */
	double rep_seconds;  /* length of one repetition */
	long ncpus;          /* CPUs online */
	bool pin;            /* CPUs 0 and 1 usable: pin the multi-client children */
	struct floors *floors; /* filled by the floors family, read by tasks */
	bool smoke;          /* --smoke: REPS_SMOKE tiny repetitions */
	const char *family;  /* the running family's name */
	const char *system;  /* the running family's system ("shoal", "zmq") */
	const char *commit;  /* --commit, else git describe at build time */
	const char *cpu_model; /* /proc/cpuinfo's model name */
	const char *redis_socket; /* --redis-socket PATH; NULL: no server */
	bool iceoryx;        /* --iceoryx: an iox-roudi runs for this run */
	struct bench_out *out;
};

/* The wake-up floors measured in this run (0: not measured), so that the
 * task metrics can state their ratio to them. */
struct floors {
	double futex_rtt_ns;
	double spin_rtt_ns;
};

enum unit { UNIT_OPS, UNIT_GBPS, UNIT_NS, UNIT_PCT, UNIT_RATIO };

struct stats {
	double median, min, max;
	int n;
};

struct extra {
	const char *key;
	double value;
};

struct metric {
	const char *name;
	enum unit unit;
	struct stats st;
	uint64_t size;          /* object size in bytes; 0: not applicable */
	uint64_t footprint;     /* bytes cycled through; 0: not applicable */
	int procs;              /* processes; 0: not applicable */
	int ncpus;              /* entries of cpus[] */
	int cpus[MULTI_PROCS];  /* CPU each process last ran on */
	int pinned;             /* 1 pinned to CPUs 0 and 1, -1 not; 0: n/a */
	bool runtime;           /* a task metric: the next three apply */
	uint32_t workers;       /* the runtime's worker pool */
	uint64_t capacity;      /* its store's capacity in bytes */
	uint32_t spin_budget;   /* its store's spin budget (pauses) */
	int nextra;
	struct extra extra[MAX_EXTRA];
	const char *note;
	const char *variant;    /* appended to name ("name_variant") so that
				 * two measurements never share a name */
	const char *system;     /* NULL: ctx->system */
	enum placement place;
	const char *curve;      /* a point of this curve (plots), at x */
	double x;
	const char *dist;       /* a quantile of this latency distribution */
	double quantile;
	const char *target;     /* human table only; NULL: none */
	int verdict;            /* 1 target met, 0 missed, -1 unknown */
};

/* A workload runs n operations on its state: 0, or a negative error. */
struct workload {
	int (*batch)(void *state, uint64_t n);
	void *state;
	uint64_t batch_ops;     /* operations between two clock reads */
	uint64_t bytes_per_op;  /* for GB/s */
	enum unit unit;
};

struct timed {
	uint64_t ops;
	double secs;
};

/* Harness (harness.c) */
double now_s(void);
struct stats stats_of(double *v, int n);
int run_for(const struct workload *w, double seconds, struct timed *out);
int measure(const struct bench_ctx *ctx, const struct workload *w, int n,
	    struct stats *st);
bool wanted(const struct bench_ctx *ctx, const char *name);
void add_extra(struct metric *m, const char *key, double value);
void emit(const struct bench_ctx *ctx, const struct metric *m);
int emit_error(const struct bench_ctx *ctx, const char *name, uint64_t size,
	       int rc);
int pin_to_cpu(int cpu);
int samples_per_rep(const struct bench_ctx *ctx);
int measure_dist(const struct bench_ctx *ctx, int (*one)(void *state),
		 void *state, struct stats q[3]);
void emit_dist(const struct bench_ctx *ctx, const struct metric *tmpl,
	       const char *stem, const struct stats q[3]);
int emit_skip(const struct bench_ctx *ctx, const char *family,
	      const char *reason);
int reap_child(pid_t pid, bool block, bool report);

/* Runtime workloads other families reuse (the timeline family): each
 * open starts a private runtime with shoal_runtime_options.flags = flags,
 * fills m's runtime fields and *w with the workload of the metric named
 * (ops = calls or tasks); close shuts that runtime down and frees the
 * state, returning rc, or the shutdown's error if rc is 0. */
int actors_async_open(uint64_t flags, struct workload *w, struct metric *m);
int actors_async_close(struct workload *w, int rc); /* 1_1_actor_calls_async */
int tasks_async_open(uint64_t flags, struct workload *w, struct metric *m);
int tasks_async_close(struct workload *w, int rc); /* single_client_tasks_async */

#endif /* SHOAL_BENCH_H */
