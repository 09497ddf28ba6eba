/* SPDX-License-Identifier: MIT */
/*
 * bench/harness.c - shoal-bench's harness: options, timing, statistics,
 * output and main(), which runs every family of the table in
 * bench/families.h, in the table's order (store calls, bandwidth,
 * latency, the machine's wake-up floors, tasks, actors, the timeline's
 * cost, actor creates under a datagram flood, the scaling curves: one
 * file each), under Ray's metric names where Ray has one (the timeline's
 * cost and the curves under names of their own).
 *
 *   - a workload is a function that runs n operations; run_for() calls it
 *     in batches until a repetition's time is up, reading CLOCK_MONOTONIC
 *     once per batch, and yields (operations, seconds);
 *   - measure() runs one untimed warm-up of each workload, then ctx->reps
 *     rounds of one timed repetition of each workload, interleaved, so that
 *     the host's slow drifts (MACHINE.md: the host moves the two vCPUs
 *     around) hit compared workloads alike; a ratio of two medians taken in
 *     one run is what to read, never an absolute figure across runs;
 *   - every metric is the median of its repetitions (at least 5), with min
 *     and max, emitted as one JSON object per line (--json) or as a row of
 *     an aligned table;
 *   - --filter matches metric names, not family names: each family asks
 *     wanted() about each of its metrics before doing that metric's work,
 *     so a family none of whose metrics is wanted does nothing.
 *
 * Every result line names its system (shoal, floor, pipe, unix, zmq,
 * iceoryx, redis: the family's row), whether its name is one of Ray's
 * (ray_perf.py), its placement, the machine (CPU model, CPUs online) and
 * the commit measured; names are unique in a run (metric.variant).
 * Peers (bench/peers/) are families like the others, built when their
 * library is found (meson features); without it, or without its server
 * (bench/run starts iox-roudi and redis-server), a family prints one
 * {"skipped": ...} line and measures nothing.
 *
 * Output.  When stdout's reader goes (shoal-bench | head), the first
 * write that fails (EPIPE: SIGPIPE is ignored, below) marks the output
 * closed; wanted() then refuses every metric, so the running family
 * finishes its cleanup without measuring more, no later family measures
 * anything, and main() ends as a program killed by SIGPIPE would.
 *
 * Processes and cleanup.  Every store here is private (a memfd created by
 * shoal_store_create(NULL, ...)): nothing is ever created in /dev/shm, so
 * nothing can be left there, and the program needs no signal handler and
 * no global state: SIGINT/SIGTERM keep their default action, the memfd goes
 * with the last process.  The multi-process benchmark forks children that
 * attach through the parent's store fd (shoal_store_attach_fd); each child
 * asks for SIGKILL when its parent dies (PR_SET_PDEATHSIG), the parent
 * waits for every child on every path, and kills them (by pid) only on an
 * error path.  SIGPIPE is ignored so that a dead child shows up as EPIPE.
 * The floors family forks one child at a time the same way (it shares an
 * anonymous MAP_SHARED page, no store).  The tasks family starts private
 * runtimes (opts.name = NULL): their fork server and workers are shoal's,
 * and shoal_runtime_shutdown() stops and reaps them on every path, error
 * paths included; so do tasks_in_flight and actors_scaling (a fresh
 * runtime per repetition), and a runtime's fork server ends its
 * processes when this program dies (the bench_run test SIGKILLs it).  The flood family, run as root, makes a second Unix
 * user for its flooder and removes it on every path; a reaper process
 * removes it if this program dies first (tests/lib/other_user.h).
 *
 * Public API only: <shoal/shoal.h>.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <shoal/shoal.h>

#include "bench.h"
#include "bench_version.h"
#include "families.h"

/* ------------------------------------------------------------------ */
/* Harness: time, statistics                                          */

double now_s(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		abort(); /* only EINVAL, for a clock Linux always has */
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct stats stats_of(double *v, int n)
{
	struct stats s;

	qsort(v, (size_t)n, sizeof *v, cmp_double);
	s.n = n;
	s.min = v[0];
	s.max = v[n - 1];
	s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	return s;
}

/* Runs batches of w until `seconds` have passed (at least one batch). */
int run_for(const struct workload *w, double seconds,
	    struct timed *out)
{
	double t0 = now_s(), t;
	uint64_t ops = 0;

	do {
		int rc = w->batch(w->state, w->batch_ops);

		if (rc < 0)
			return rc;
		ops += w->batch_ops;
		t = now_s();
	} while (t - t0 < seconds);
	out->ops = ops;
	out->secs = t - t0;
	return 0;
}

static double value_of(const struct workload *w, const struct timed *t)
{
	switch (w->unit) {
	case UNIT_OPS:
		return (double)t->ops / t->secs;
	case UNIT_GBPS:
		return (double)t->ops * (double)w->bytes_per_op / t->secs / 1e9;
	case UNIT_NS:
		return t->secs * 1e9 / (double)t->ops;
	case UNIT_PCT: /* no workload counts in percent */
	case UNIT_RATIO: /* nor in ratios */
		break;
	}
	return NAN;
}

/* One untimed warm-up of each of the n workloads, then ctx->reps rounds of
 * one timed repetition of each, interleaved.  st[i] gets workload i's. */
int measure(const struct bench_ctx *ctx, const struct workload *w,
		   int n, struct stats *st)
{
	double v[MAX_WORKLOADS][REPS_FULL];
	struct timed t;
	int rc;

	for (int i = 0; i < n; i++) {
		rc = run_for(&w[i], ctx->rep_seconds / 4, &t);
		if (rc < 0)
			return rc;
	}
	for (int r = 0; r < ctx->reps; r++) {
		for (int i = 0; i < n; i++) {
			rc = run_for(&w[i], ctx->rep_seconds, &t);
			if (rc < 0)
				return rc;
			v[i][r] = value_of(&w[i], &t);
		}
	}
	for (int i = 0; i < n; i++)
		st[i] = stats_of(v[i], ctx->reps);
	return 0;
}

/* The filter is one or more substrings separated by commas. */
bool wanted(const struct bench_ctx *ctx, const char *name)
{
	const char *f = ctx->filter;

	if (ctx->out && ctx->out->closed)
		return false;
	if (!f)
		return true;
	for (;;) {
		const char *end = strchr(f, ',');
		size_t len = end ? (size_t)(end - f) : strlen(f);

		for (const char *p = name; len && *p; p++)
			if (!strncmp(p, f, len))
				return true;
		if (!end)
			return false;
		f = end + 1;
	}
}

void add_extra(struct metric *m, const char *key, double value)
{
	if (m->nextra < MAX_EXTRA)
		m->extra[m->nextra++] = (struct extra){key, value};
}

/* ------------------------------------------------------------------ */
/* Output: JSON lines or an aligned table                             */

static const char *unit_name(enum unit u)
{
	return u == UNIT_OPS ? "ops/s" : u == UNIT_GBPS ? "GB/s"
	       : u == UNIT_NS ? "ns" : u == UNIT_RATIO ? "x" : "%";
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_num(double v)
{
	if (isnan(v) || isinf(v))
		printf("null");
	else if (v >= 1e5 || v <= -1e5)
		printf("%.0f", v);
	else
		printf("%.6g", v);
}

static void json_key(const char *key)
{
	putchar(',');
	json_str(key);
	putchar(':');
}

/* Ray's metric names (python/ray/_private/ray_perf.py): a result line
 * under one of them says "ray_name": true. */
static const char *const ray_names[] = {
	"single_client_get_calls", "single_client_put_calls",
	"multi_client_put_calls", "single_client_put_gigabytes",
	"multi_client_put_gigabytes", "single_client_wait_1k_refs",
	"single_client_tasks_sync", "single_client_tasks_async",
	"multi_client_tasks_async", "1_1_actor_calls_sync",
	"1_1_actor_calls_async", "1_1_actor_calls_concurrent",
	"1_n_actor_calls_async", "n_n_actor_calls_async",
	"n_n_actor_calls_with_arg_async",
};

static bool is_ray_name(const char *name)
{
	for (size_t i = 0; i < sizeof ray_names / sizeof ray_names[0]; i++)
		if (!strcmp(name, ray_names[i]))
			return true;
	return false;
}

/* The name a result line carries: m->name, then "_" and m->variant if
 * set, or "_sleeping" for a runtime measured with spin budget 0 whose
 * name does not say so (single_client_tasks_sync runs twice, spinning
 * and sleeping: the spinning one keeps Ray's name). */
static void full_name(const struct metric *m, char *buf, size_t len)
{
	const char *v = m->variant;

	if (!v && m->runtime && m->spin_budget == 0 && !strstr(m->name, "sleep"))
		v = "sleeping";
	snprintf(buf, len, v ? "%s_%s" : "%s", m->name, v);
}

static const char *placement_name(const struct metric *m)
{
	switch (m->place) {
	case PLACE_SPLIT:
		return "cpu0,cpu1";
	case PLACE_ONE_CPU:
		return "cpu0";
	case PLACE_FREE:
		return "unpinned";
	case PLACE_AUTO:
		break;
	}
	return m->pinned > 0 ? "cpu0,cpu1" : "unpinned";
}

static const char *system_of(const struct bench_ctx *ctx,
			     const struct metric *m)
{
	if (m->system)
		return m->system;
	return ctx->system ? ctx->system : "shoal";
}

/* The fields every line carries: the machine and the commit. */
static void json_machine(const struct bench_ctx *ctx)
{
	json_key("cpu_model");
	json_str(ctx->cpu_model ? ctx->cpu_model : "unknown");
	printf(",\"cpus_online\":%ld", ctx->ncpus);
	json_key("commit");
	json_str(ctx->commit ? ctx->commit : "unknown");
}

static void emit_json(const struct bench_ctx *ctx, const struct metric *m)
{
	char name[128];

	full_name(m, name, sizeof name);
	printf("{\"metric\":");
	json_str(name);
	json_key("family");
	json_str(ctx->family ? ctx->family : "");
	json_key("system");
	json_str(system_of(ctx, m));
	printf(",\"ray_name\":%s", is_ray_name(name) ? "true" : "false");
	json_key("value");
	json_num(m->st.median);
	json_key("unit");
	json_str(unit_name(m->unit));
	printf(",\"median_of\":%d", m->st.n);
	json_key("min");
	json_num(m->st.min);
	json_key("max");
	json_num(m->st.max);
	json_key("median");
	json_num(m->st.median);
	printf(",\"reps\":%d", m->st.n);
	if (m->dist) { /* a repetition is a count of round trips */
		printf(",\"rep_samples\":%d", samples_per_rep(ctx));
	} else {
		json_key("rep_seconds");
		json_num(ctx->rep_seconds);
	}
	json_key("placement");
	json_str(placement_name(m));
	json_machine(ctx);
	if (m->curve) {
		json_key("curve");
		json_str(m->curve);
		json_key("x");
		json_num(m->x);
	}
	if (m->dist) {
		json_key("dist");
		json_str(m->dist);
		json_key("quantile");
		json_num(m->quantile);
	}
	if (m->size)
		printf(",\"size\":%" PRIu64, m->size);
	if (m->footprint)
		printf(",\"footprint\":%" PRIu64, m->footprint);
	if (m->procs)
		printf(",\"procs\":%d", m->procs);
	if (m->ncpus) {
		printf(",\"cpus\":[");
		for (int i = 0; i < m->ncpus; i++)
			printf("%s%d", i ? "," : "", m->cpus[i]);
		putchar(']');
	}
	if (m->pinned)
		printf(",\"pinned\":%s", m->pinned > 0 ? "true" : "false");
	if (m->runtime)
		printf(",\"workers\":%" PRIu32 ",\"capacity\":%" PRIu64
		       ",\"spin_budget\":%" PRIu32,
		       m->workers, m->capacity, m->spin_budget);
	for (int i = 0; i < m->nextra; i++) {
		json_key(m->extra[i].key);
		json_num(m->extra[i].value);
	}
	if (m->note) {
		json_key("note");
		json_str(m->note);
	}
	printf("}\n");
}

static void human_num(double v, enum unit u, char *buf, size_t len)
{
	if (u == UNIT_OPS && v >= 1e6)
		snprintf(buf, len, "%.2fM", v / 1e6);
	else if (u == UNIT_OPS && v >= 1e3)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else if (u == UNIT_OPS)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.2f", v);
}

static void human_bytes(uint64_t b, char *buf, size_t len)
{
	if (b >= (1u << 30) && b % (1u << 30) == 0)
		snprintf(buf, len, "%" PRIu64 "GiB", b >> 30);
	else if (b >= (1u << 20) && b % (1u << 20) == 0)
		snprintf(buf, len, "%" PRIu64 "MiB", b >> 20);
	else if (b >= (1u << 10) && b % (1u << 10) == 0)
		snprintf(buf, len, "%" PRIu64 "KiB", b >> 10);
	else
		snprintf(buf, len, "%" PRIu64 "B", b);
}

/* Appends printf output at buf[*at], never past len. */
static void append(char *buf, size_t len, size_t *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*at >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *at, len - *at, fmt, ap);
	va_end(ap);
	if (n > 0)
		*at += (size_t)n;
}

static void human_context(const struct metric *m, char *buf, size_t len)
{
	char b[32];
	size_t at = 0;

	buf[0] = '\0';
	if (m->size) {
		human_bytes(m->size, b, sizeof b);
		append(buf, len, &at, "size=%s ", b);
	}
	if (m->footprint) {
		human_bytes(m->footprint, b, sizeof b);
		append(buf, len, &at, "over=%s ", b);
	}
	if (m->procs)
		append(buf, len, &at, "procs=%d ", m->procs);
	for (int i = 0; i < m->ncpus; i++)
		append(buf, len, &at, "%s%d", i ? "," : "cpus=", m->cpus[i]);
	if (m->ncpus)
		append(buf, len, &at, " ");
	if (m->pinned)
		append(buf, len, &at, "pinned=%s ", m->pinned > 0 ? "yes" : "no");
	if (m->runtime) {
		human_bytes(m->capacity, b, sizeof b);
		append(buf, len, &at, "workers=%" PRIu32 " store=%s spin=%" PRIu32
		       " ", m->workers, b, m->spin_budget);
	}
	for (int i = 0; i < m->nextra; i++)
		append(buf, len, &at, "%s=%.3g ", m->extra[i].key,
		       m->extra[i].value);
}

static void emit_row(const struct metric *m)
{
	static const char *const verdicts[] = {"?", "MISS", "ok"};
	char med[24], lo[24], hi[24], context[160], name[128];

	human_num(m->st.median, m->unit, med, sizeof med);
	human_num(m->st.min, m->unit, lo, sizeof lo);
	human_num(m->st.max, m->unit, hi, sizeof hi);
	human_context(m, context, sizeof context);
	full_name(m, name, sizeof name);
	printf("%-28s %9s %9s %9s  %-5s  %-62s %s %s\n", name, med, lo, hi,
	       unit_name(m->unit), context, m->target ? m->target : "",
	       m->target ? verdicts[m->verdict + 1] : "");
}

/* Flushes stdout; a failed write (EPIPE: the reader went) closes the
 * output for the rest of the run. */
static void flush_out(const struct bench_ctx *ctx)
{
	if ((fflush(stdout) != 0 || ferror(stdout)) && ctx->out)
		ctx->out->closed = true;
}

void emit(const struct bench_ctx *ctx, const struct metric *m)
{
	if (ctx->out && ctx->out->closed)
		return;
	if (ctx->json)
		emit_json(ctx, m);
	else
		emit_row(m);
	flush_out(ctx);
}

/* Says that a family measured nothing, and why (a peer not built in, or
 * its server not running).  Returns 0: a skip is not a failure. */
int emit_skip(const struct bench_ctx *ctx, const char *family,
	      const char *reason)
{
	if (ctx->out && ctx->out->closed)
		return 0;
	fprintf(stderr, "shoal-bench: skipped %s: %s\n", family, reason);
	if (ctx->json) {
		printf("{\"skipped\":");
		json_str(family);
		json_key("family");
		json_str(ctx->family ? ctx->family : family);
		json_key("system");
		json_str(ctx->system ? ctx->system : family);
		json_key("reason");
		json_str(reason);
		json_machine(ctx);
		printf("}\n");
	} else {
		printf("%-28s skipped: %s\n", family, reason);
	}
	flush_out(ctx);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Latency distributions                                              */

/* Round trips timed one by one in each repetition. */
int samples_per_rep(const struct bench_ctx *ctx)
{
	return ctx->smoke ? 100 : ctx->quick ? 1000 : 4000;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* n samples of one(state), sorted into out[]. */
static int dist_rep(int (*one)(void *), void *state, double *lat, int n)
{
	for (int i = 0; i < n; i++) {
		int64_t t0 = mono_ns();
		int rc = one(state);

		if (rc < 0)
			return rc;
		lat[i] = (double)(mono_ns() - t0);
	}
	qsort(lat, (size_t)n, sizeof *lat, cmp_double);
	return 0;
}

/* A warm-up repetition, then ctx->reps repetitions of samples_per_rep()
 * round trips each, one(state) timed alone; q[0..2] get the medians (and
 * min, max) over the repetitions of each one's p50, p99 and p99.9 (with
 * 1000 samples, p99.9 is the second slowest). */
int measure_dist(const struct bench_ctx *ctx, int (*one)(void *state),
		 void *state, struct stats q[3])
{
	static const double qs[3] = {0.5, 0.99, 0.999};
	int n = samples_per_rep(ctx);
	double *lat = malloc((size_t)n * sizeof *lat);
	double v[3][REPS_FULL];
	int rc;

	if (!lat)
		return -ENOMEM;
	rc = dist_rep(one, state, lat, n);
	for (int r = 0; rc == 0 && r < ctx->reps; r++) {
		rc = dist_rep(one, state, lat, n);
		for (int k = 0; rc == 0 && k < 3; k++)
			v[k][r] = lat[(int)(qs[k] * n)];
	}
	free(lat);
	for (int k = 0; rc == 0 && k < 3; k++)
		q[k] = stats_of(v[k], ctx->reps);
	return rc;
}

/* Emits stem_p50_ns, stem_p99_ns and stem_p999_ns: tmpl's fields, the
 * distribution named stem, q[] as measure_dist() filled it. */
void emit_dist(const struct bench_ctx *ctx, const struct metric *tmpl,
	       const char *stem, const struct stats q[3])
{
	static const char *const sfx[3] = {"p50", "p99", "p999"};
	static const double qs[3] = {0.5, 0.99, 0.999};

	for (int k = 0; k < 3; k++) {
		char name[128];
		struct metric m = *tmpl;

		snprintf(name, sizeof name, "%s_%s_ns", stem, sfx[k]);
		m.name = name;
		m.variant = NULL;
		m.unit = UNIT_NS;
		m.st = q[k];
		m.dist = stem;
		m.quantile = qs[k];
		if (k > 0) {
			m.target = NULL;
			m.verdict = -1;
		}
		emit(ctx, &m);
	}
}

/* Reports a failed metric (stderr, and a line with "error" on stdout);
 * returns rc so that callers can `return emit_error(...)`. */
int emit_error(const struct bench_ctx *ctx, const char *name,
		      uint64_t size, int rc)
{
	fprintf(stderr, "shoal-bench: %s: %s\n", name, shoal_strerror(rc));
	if (ctx->out && ctx->out->closed)
		return rc;
	if (ctx->json) {
		printf("{\"metric\":");
		json_str(name);
		json_key("family");
		json_str(ctx->family ? ctx->family : "");
		json_key("system");
		json_str(ctx->system ? ctx->system : "shoal");
		if (size)
			printf(",\"size\":%" PRIu64, size);
		json_key("error");
		json_str(shoal_strerror(rc));
		json_machine(ctx);
		printf("}\n");
	} else {
		printf("%-28s error: %s\n", name, shoal_strerror(rc));
	}
	flush_out(ctx);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Processes: pinning, reaping                                        */

int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof set, &set) < 0 ? -errno : 0;
}

/* Waits for one child (`block`: until it exits).  Returns 1 if it was
 * reaped, 0 if it still runs, -ECHILD if it failed (said on stderr if
 * `report`), or -errno. */
int reap_child(pid_t pid, bool block, bool report)
{
	int status;
	pid_t r;

	do
		r = waitpid(pid, &status, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return r < 0 ? -errno : 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 1;
	if (!report)
		return -ECHILD;
	if (WIFSIGNALED(status))
		fprintf(stderr, "shoal-bench: child %d killed by signal %d\n",
			(int)pid, WTERMSIG(status));
	else
		fprintf(stderr, "shoal-bench: child %d exited with %d\n",
			(int)pid, WEXITSTATUS(status));
	return -ECHILD;
}

/* ------------------------------------------------------------------ */
/* Options, main                                                      */

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"usage: %s [--json] [--quick|--smoke] [--filter S] [--family F]\n"
		"          [--commit C] [--redis-socket PATH] [--iceoryx] [--help]\n"
		"  --json      one JSON object per line on stdout\n"
		"  --quick     %d repetitions of %.1f s (default %d of %.1f s)\n"
		"  --smoke     %d repetitions of %.2f s: checks that everything\n"
		"              runs, measures nothing worth reading\n"
		"  --filter S  only the metrics whose name contains S (or one of\n"
		"              several, S1,S2,...)\n"
		"  --family F  only the families named (F1,F2,...)\n"
		"  --commit C  the commit measured, for the result lines\n"
		"              (default: git describe when built, %s)\n"
		"  --redis-socket PATH  a redis-server's Unix socket: the redis\n"
		"              family runs (bench/run starts one; its keys are\n"
		"              shoal-bench:PID:*, deleted at the end)\n"
		"  --iceoryx   an iox-roudi runs: the iceoryx family runs\n"
		"families (system) and their metrics:\n",
		argv0, REPS_QUICK, REP_SECONDS_QUICK, REPS_FULL,
		REP_SECONDS_FULL, REPS_SMOKE, REP_SECONDS_SMOKE, BENCH_COMMIT);
	for (size_t i = 0; i < NFAMILIES; i++)
		fprintf(f, "  %-14s (%s) %s\n", families[i].name,
			families[i].system, families[i].metrics);
}

/* The value of option `name` at argv[*i] ("--name V" or "--name=V"), or
 * NULL if argv[*i] is not that option. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t len = strlen(name);

	if (strncmp(argv[*i], name, len))
		return NULL;
	if (argv[*i][len] == '=')
		return argv[*i] + len + 1;
	if (argv[*i][len] == '\0' && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

/* 0: run; 1: --help was printed; -1: bad usage (printed). */
static int parse_args(int argc, char **argv, struct bench_ctx *ctx,
		      const char **fams)
{
	const char *v;

	*ctx = (struct bench_ctx){0};
	*fams = NULL;
	ctx->commit = BENCH_COMMIT;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			ctx->json = true;
		} else if (!strcmp(argv[i], "--quick")) {
			ctx->quick = true;
		} else if (!strcmp(argv[i], "--smoke")) {
			ctx->smoke = ctx->quick = true;
		} else if (!strcmp(argv[i], "--iceoryx")) {
			ctx->iceoryx = true;
		} else if ((v = opt_value(argc, argv, &i, "--filter"))) {
			ctx->filter = v;
		} else if ((v = opt_value(argc, argv, &i, "--family"))) {
			*fams = v;
		} else if ((v = opt_value(argc, argv, &i, "--commit"))) {
			ctx->commit = v;
		} else if ((v = opt_value(argc, argv, &i, "--redis-socket"))) {
			ctx->redis_socket = v;
		} else if (!strcmp(argv[i], "--help") ||
			   !strcmp(argv[i], "-h")) {
			usage(stdout, argv[0]);
			return 1;
		} else {
			usage(stderr, argv[0]);
			return -1;
		}
	}
	ctx->reps = ctx->smoke ? REPS_SMOKE : ctx->quick ? REPS_QUICK : REPS_FULL;
	ctx->rep_seconds = ctx->smoke ? REP_SECONDS_SMOKE
			   : ctx->quick ? REP_SECONDS_QUICK : REP_SECONDS_FULL;
	return 0;
}

/* Whether family `name` is in the comma-separated list (NULL: all). */
static bool family_chosen(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *f = list; f; f = strchr(f, ',') ? strchr(f, ',') + 1 : NULL)
		if (!strncmp(f, name, len) && (f[len] == ',' || f[len] == '\0'))
			return true;
	return !list;
}

/* -1 (said on stderr) if the list names a family that does not exist. */
static int check_families(const char *list)
{
	for (const char *f = list; f; f = strchr(f, ',') ? strchr(f, ',') + 1 : NULL) {
		size_t len = strchr(f, ',') ? (size_t)(strchr(f, ',') - f) : strlen(f);
		bool found = false;

		for (size_t i = 0; i < NFAMILIES && !found; i++)
			found = strlen(families[i].name) == len &&
				!strncmp(families[i].name, f, len);
		if (!found) {
			fprintf(stderr, "shoal-bench: no family %.*s\n", (int)len, f);
			return -1;
		}
	}
	return 0;
}

static bool cpus_0_and_1_usable(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof set, &set) < 0)
		return false;
	return CPU_ISSET(0, &set) && CPU_ISSET(1, &set);
}

/* The first "model name" of /proc/cpuinfo into buf ("unknown" if none). */
static void read_cpu_model(char *buf, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(buf, len, "unknown");
	while (f && fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) || !colon)
			continue;
		colon += 1 + (colon[1] == ' ');
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(buf, len, "%s", colon);
		break;
	}
	if (f)
		fclose(f);
}

/* The bracketed choice of a sysfs setting line ("a [b] c" -> "b"), or
 * "unknown". */
static void read_sysfs_choice(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	char line[256], *open, *close;

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	if (fgets(line, sizeof line, f) && (open = strchr(line, '[')) &&
	    (close = strchr(open, ']'))) {
		*close = '\0';
		snprintf(buf, len, "%s", open + 1);
	}
	fclose(f);
}

/* The huge= option of the tmpfs mounted on /dev/shm ("never" when it has
 * none: tmpfs's default). */
static void read_dev_shm_huge(char *buf, size_t len)
{
	FILE *f = fopen("/proc/mounts", "r");
	char line[512];

	snprintf(buf, len, "unknown");
	while (f && fgets(line, sizeof line, f)) {
		char dir[64], type[16], *opt;

		/* device, mount point, type, options */
		if (sscanf(line, "%*s %63s %15s", dir, type) != 2 ||
		    strcmp(dir, "/dev/shm") || strcmp(type, "tmpfs"))
			continue;
		opt = strstr(line, "huge=");
		if (!opt) {
			snprintf(buf, len, "never");
			continue; /* the last mount on /dev/shm is the one seen */
		}
		opt += 5;
		opt[strcspn(opt, ", \n")] = '\0';
		snprintf(buf, len, "%s", opt);
	}
	if (f)
		fclose(f);
}

/* Whether shoal's segments can get 2 MiB pages here: named ones live on
 * /dev/shm (its mount's huge= option), private ones are memfds (the
 * kernel's shmem_enabled).  With 4 KiB pages every process pays a fault
 * for each page it first touches (tens of µs on a VM, MACHINE.md). */
static void shm_huge_pages(char *buf, size_t len)
{
	char memfd[32], devshm[32];

	read_sysfs_choice("/sys/kernel/mm/transparent_hugepage/shmem_enabled",
			  memfd, sizeof memfd);
	read_dev_shm_huge(devshm, sizeof devshm);
	snprintf(buf, len, "memfd %s, /dev/shm %s", memfd, devshm);
}

static void print_machine(const struct bench_ctx *ctx)
{
	char note[512], huge[96];

	snprintf(note, sizeof note,
		 "%ld CPUs online; medians of %d repetitions of %.2f s after "
		 "a warm-up; each line says its placement (cpu0,cpu1: pinned "
		 "to CPUs 0 and 1; cpu0: every process on CPU 0; unpinned)%s; "
		 "compare ratios within one run",
		 ctx->ncpus, ctx->reps, ctx->rep_seconds,
		 ctx->pin ? "" : "; CPUs 0 and 1 not both usable: nothing "
				 "pinned");
	shm_huge_pages(huge, sizeof huge);
	if (ctx->json) {
		printf("{\"metric\":\"machine\",\"cpus\":%ld", ctx->ncpus);
		printf(",\"pinned\":%s", ctx->pin ? "[0,1]" : "null");
		json_key("shm_huge_pages");
		json_str(huge);
		json_key("note");
		json_str(note);
		json_machine(ctx);
		printf("}\n");
	} else {
		printf("shoal-bench: %s\n", note);
		printf("machine: %s; commit %s; huge pages for shared memory: "
		       "%s\n", ctx->cpu_model, ctx->commit, huge);
		printf("targets are context only; a GB/s is 1e9 bytes\n\n");
		printf("%-28s %9s %9s %9s  %-5s  %-62s %s\n", "metric",
		       "median", "min", "max", "unit", "context", "target");
	}
	flush_out(ctx);
}

int main(int argc, char **argv)
{
	struct floors floors = {0, 0};
	struct bench_out out = {false};
	struct bench_ctx ctx;
	const char *fams;
	char cpu_model[128];
	int failed = 0, rc = parse_args(argc, argv, &ctx, &fams);

	if (rc)
		return rc > 0 ? 0 : 2;
	if (check_families(fams) < 0)
		return 2;
	ctx.floors = &floors;
	ctx.out = &out;
	/* Ignored so that a dead child shows up as EPIPE; a closed stdout
	 * shows up the same way, and ends the run (out.closed). */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		fprintf(stderr, "shoal-bench: signal: %s\n",
			shoal_strerror(-errno));
		return 1;
	}
	ctx.ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	ctx.pin = ctx.ncpus >= 2 && cpus_0_and_1_usable();
	read_cpu_model(cpu_model, sizeof cpu_model);
	ctx.cpu_model = cpu_model;
	print_machine(&ctx);
	for (size_t i = 0; i < NFAMILIES && !out.closed; i++) {
		if (!family_chosen(fams, families[i].name))
			continue;
		ctx.family = families[i].name;
		ctx.system = families[i].system;
		if (families[i].run(&ctx) < 0)
			failed = 1;
	}
	if (out.closed) {
		/* What SIGPIPE would have done at the first failed write,
		 * now that every family has cleaned up. */
		fprintf(stderr, "shoal-bench: stdout closed, stopped\n");
		signal(SIGPIPE, SIG_DFL);
		raise(SIGPIPE);
		return 141;
	}
	return failed;
}
