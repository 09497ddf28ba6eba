/* SPDX-License-Identifier: MIT */
/*
 * bench/harness.c - shoal-bench's harness: options, timing, statistics,
 * output and main(), which runs every family of the table in
 * bench/families.h, in the table's order (store calls, bandwidth,
 * latency, the machine's wake-up floors, tasks, actors, the timeline's
 * cost, actor creates under a datagram flood: one file each), all under
 * Ray's metric names (the timeline's cost under names of its own).
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
 * paths included.  The flood family, run as root, makes a second Unix
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
	       : u == UNIT_NS ? "ns" : "%";
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

static void emit_json(const struct metric *m)
{
	printf("{\"metric\":");
	json_str(m->name);
	json_key("value");
	json_num(m->st.median);
	json_key("unit");
	json_str(unit_name(m->unit));
	printf(",\"median_of\":%d", m->st.n);
	json_key("min");
	json_num(m->st.min);
	json_key("max");
	json_num(m->st.max);
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
	char med[24], lo[24], hi[24], context[160];

	human_num(m->st.median, m->unit, med, sizeof med);
	human_num(m->st.min, m->unit, lo, sizeof lo);
	human_num(m->st.max, m->unit, hi, sizeof hi);
	human_context(m, context, sizeof context);
	printf("%-28s %9s %9s %9s  %-5s  %-62s %s %s\n", m->name, med, lo, hi,
	       unit_name(m->unit), context, m->target ? m->target : "",
	       m->target ? verdicts[m->verdict + 1] : "");
}

void emit(const struct bench_ctx *ctx, const struct metric *m)
{
	if (ctx->json)
		emit_json(m);
	else
		emit_row(m);
	fflush(stdout);
}

/* Reports a failed metric (stderr, and a line with "error" on stdout);
 * returns rc so that callers can `return emit_error(...)`. */
int emit_error(const struct bench_ctx *ctx, const char *name,
		      uint64_t size, int rc)
{
	fprintf(stderr, "shoal-bench: %s: %s\n", name, shoal_strerror(rc));
	if (ctx->json) {
		printf("{\"metric\":");
		json_str(name);
		if (size)
			printf(",\"size\":%" PRIu64, size);
		json_key("error");
		json_str(shoal_strerror(rc));
		printf("}\n");
	} else {
		printf("%-28s error: %s\n", name, shoal_strerror(rc));
	}
	fflush(stdout);
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
		"usage: %s [--json] [--quick] [--filter SUBSTRING] [--help]\n"
		"  --json      one JSON object per line on stdout\n"
		"  --quick     %d repetitions of %.1f s (default %d of %.1f s)\n"
		"  --filter S  only the metrics whose name contains S (or one of\n"
		"              several, S1,S2,...)\n"
		"families and their metrics:\n",
		argv0, REPS_QUICK, REP_SECONDS_QUICK, REPS_FULL,
		REP_SECONDS_FULL);
	for (size_t i = 0; i < NFAMILIES; i++)
		fprintf(f, "  %-14s %s\n", families[i].name,
			families[i].metrics);
}

/* 0: run; 1: --help was printed; -1: bad usage (printed). */
static int parse_args(int argc, char **argv, struct bench_ctx *ctx)
{
	*ctx = (struct bench_ctx){0};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			ctx->json = true;
		} else if (!strcmp(argv[i], "--quick")) {
			ctx->quick = true;
		} else if (!strcmp(argv[i], "--filter") && i + 1 < argc) {
			ctx->filter = argv[++i];
		} else if (!strncmp(argv[i], "--filter=", 9)) {
			ctx->filter = argv[i] + 9;
		} else if (!strcmp(argv[i], "--help") ||
			   !strcmp(argv[i], "-h")) {
			usage(stdout, argv[0]);
			return 1;
		} else {
			usage(stderr, argv[0]);
			return -1;
		}
	}
	ctx->reps = ctx->quick ? REPS_QUICK : REPS_FULL;
	ctx->rep_seconds = ctx->quick ? REP_SECONDS_QUICK : REP_SECONDS_FULL;
	return 0;
}

static bool cpus_0_and_1_usable(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof set, &set) < 0)
		return false;
	return CPU_ISSET(0, &set) && CPU_ISSET(1, &set);
}

static void print_machine(const struct bench_ctx *ctx)
{
	char note[512];

	snprintf(note, sizeof note,
		 "%ld CPUs online; medians of %d repetitions of %.1f s after "
		 "a warm-up; multi_client_put_calls, futex_rtt_ns and "
		 "spin_rtt_ns %s; single-client benchmarks and the task "
		 "runtimes' processes are not pinned; compare ratios within "
		 "one run",
		 ctx->ncpus, ctx->reps, ctx->rep_seconds,
		 ctx->pin ? "pin their 2 processes to CPUs 0 and 1 "
			    "(sched_setaffinity)"
			  : "do not pin (CPUs 0 and 1 not both usable)");
	if (ctx->json) {
		printf("{\"metric\":\"machine\",\"cpus\":%ld", ctx->ncpus);
		printf(",\"pinned\":%s", ctx->pin ? "[0,1]" : "null");
		json_key("note");
		json_str(note);
		printf("}\n");
	} else {
		printf("shoal-bench: %s\n", note);
		printf("targets are context only; a GB/s is 1e9 bytes\n\n");
		printf("%-28s %9s %9s %9s  %-5s  %-62s %s\n", "metric",
		       "median", "min", "max", "unit", "context", "target");
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct floors floors = {0, 0};
	struct bench_ctx ctx;
	int failed = 0, rc = parse_args(argc, argv, &ctx);

	if (rc)
		return rc > 0 ? 0 : 2;
	ctx.floors = &floors;
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		fprintf(stderr, "shoal-bench: signal: %s\n",
			shoal_strerror(-errno));
		return 1;
	}
	ctx.ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	ctx.pin = ctx.ncpus >= 2 && cpus_0_and_1_usable();
	print_machine(&ctx);
	for (size_t i = 0; i < NFAMILIES; i++) {
		if (families[i].run(&ctx) < 0)
			failed = 1;
	}
	return failed;
}
