/* SPDX-License-Identifier: MIT */
/*
 * tests/test_example_actor_handles.c - runs the README's main job,
 * examples/actor_handles.c (fork + exec, stdout through a pipe, bounded
 * by a deadline), and checks what it printed against what the tutorial's
 * story promises:
 *
 *  - exit status 0;
 *  - the final logs ("log <index> <message>") hold "On iteration i" for
 *    every experiment and every i exactly once, in order per experiment;
 *  - the driver's polls ("poll <k> t=<ms> total=<n> per-experiment=...")
 *    saw the logs grow: totals and per-experiment counts never shrink, and
 *    at least one poll saw some but not all messages (mid-run);
 *  - the summary line agrees with all of that;
 *  - every process the example listed ("procs ...") is gone once it exited.
 *
 * Synchronisation is the example's own output (a pipe read with poll) and
 * its exit (a pidfd); nothing sleeps.  The example's runtime is private (a
 * memfd), so it has nothing in /dev/shm to leave; its processes die with
 * the test if the test dies (tu_fork's PDEATHSIG kills the driver, whose
 * fork server then kills the rest).
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#ifndef ACTOR_HANDLES
#error "ACTOR_HANDLES must name the actor-handles example (tests/meson.build)"
#endif

TestSuite(example_actor_handles, .init = tu_setup, .fini = tu_teardown);

/* A whole run takes well under a second; this bounds a hang. */
#define RUN_DEADLINE_MS 60000
#define OUT_CAP (1u << 20)
#define MAX_EXP 64
#define MAX_ITER 1000
#define MAX_POLLS 4096
#define MAX_PIDS 80

struct example {
	pid_t pid;
	int out;            /* its stdout (read end) */
	int64_t deadline;
	char *buf;          /* everything read so far, NUL-terminated */
	size_t len;
};

/* Starts the example with args (NULL-terminated). */
static void example_start(struct example *ex, const char *const *args)
{
	char *argv[16];
	int p[2], n = 0;

	argv[n++] = (char *)ACTOR_HANDLES;
	for (; args[n - 1]; n++) {
		cr_assert_lt(n, 15);
		argv[n] = (char *)args[n - 1];
	}
	argv[n] = NULL;
	tu_pipe(p);
	ex->buf = malloc(OUT_CAP);
	cr_assert_not_null(ex->buf);
	ex->buf[0] = '\0';
	ex->len = 0;
	ex->deadline = tu_now_ms() + RUN_DEADLINE_MS;
	ex->pid = tu_fork();
	if (ex->pid == 0) {
		if (dup2(p[1], 1) < 0)
			_exit(TU_EXIT_IO);
		execv(ACTOR_HANDLES, argv);
		_exit(127);
	}
	close(p[1]);
	ex->out = p[0];
}

/* Reads one chunk (waiting up to the run's deadline); false at EOF. */
static bool example_read(struct example *ex)
{
	struct pollfd pf = {.fd = ex->out, .events = POLLIN};
	int64_t left = ex->deadline - tu_now_ms();
	ssize_t r;
	int pr;

	cr_assert_gt(left, 0, "the example ran past %d ms; output so far:\n%s",
		     RUN_DEADLINE_MS, ex->buf);
	pr = poll(&pf, 1, (int)left);
	if (pr < 0 && errno == EINTR)
		return true;
	cr_assert_eq(pr, 1, "the example printed nothing before the deadline; "
		     "output so far:\n%s", ex->buf);
	cr_assert_lt(ex->len, OUT_CAP - 1, "the example printed too much");
	r = read(ex->out, ex->buf + ex->len, OUT_CAP - 1 - ex->len);
	if (r < 0 && errno == EINTR)
		return true;
	cr_assert_geq(r, 0, "read: %s", strerror(errno));
	ex->len += (size_t)r;
	ex->buf[ex->len] = '\0';
	return r > 0;
}

/* Reads until EOF, then reaps the example; its wait status. */
static int example_finish(struct example *ex)
{
	int64_t left;
	int st;

	while (example_read(ex))
		;
	close(ex->out);
	left = ex->deadline - tu_now_ms();
	st = tu_wait_status(ex->pid, left > 0 ? (int)left : 0);
	cr_assert_neq(st, -1, "the example closed stdout but did not exit");
	return st;
}

/* Reads until a complete line starting with prefix has arrived. */
static void example_wait_line(struct example *ex, const char *prefix,
			      bool (*match)(const char *line))
{
	size_t scanned = 0;

	for (;;) {
		char *nl;

		while ((nl = memchr(ex->buf + scanned, '\n', ex->len - scanned))) {
			const char *line = ex->buf + scanned;

			scanned = (size_t)(nl - ex->buf) + 1;
			if (!strncmp(line, prefix, strlen(prefix)) &&
			    (!match || match(line)))
				return;
		}
		cr_assert(example_read(ex), "no \"%s\" line before EOF:\n%s",
			  prefix, ex->buf);
	}
}

/* ------------------------------------------------------------------ */
/* What the example printed                                            */

struct summary {
	uint32_t experiments, iterations, polls, mid_run_polls;
	uint64_t expected, received;
	char status[16];
};

struct parsed {
	/* polls */
	uint32_t npolls;
	uint64_t poll_total[MAX_POLLS];
	uint32_t poll_counts[MAX_POLLS][MAX_EXP];
	uint32_t poll_width[MAX_POLLS];
	/* final logs: how often each (experiment, iteration) arrived */
	uint32_t nlogs;
	uint8_t seen[MAX_EXP][MAX_ITER];
	int64_t last_iter[MAX_EXP];
	bool out_of_order;
	bool foreign;          /* a log line that is no expected message */
	/* the rest */
	bool have_summary;
	struct summary sum;
	uint32_t npids;
	pid_t pids[MAX_PIDS];
};

static void parse_poll(struct parsed *p, const char *line)
{
	uint32_t k, n = 0;
	int64_t t;
	uint64_t total;
	int off = 0;
	const char *c;

	cr_assert_eq(sscanf(line, "poll %" SCNu32 " t=%" SCNd64 " total=%" SCNu64
			    " per-experiment=%n", &k, &t, &total, &off), 3,
		     "bad poll line: %s", line);
	cr_assert_gt(off, 0, "bad poll line: %s", line);
	cr_assert_lt(p->npolls, MAX_POLLS);
	cr_assert_eq(k, p->npolls + 1, "polls are numbered 1, 2, ...: %s", line);
	for (c = line + off; n < MAX_EXP; n++) {
		char *end;
		unsigned long v = strtoul(c, &end, 10);

		cr_assert_neq(end, c, "bad per-experiment list: %s", line);
		p->poll_counts[p->npolls][n] = (uint32_t)v;
		c = end;
		if (*c != ',')
			break;
		c++;
	}
	p->poll_width[p->npolls] = n + 1;
	p->poll_total[p->npolls++] = total;
}

static void parse_log(struct parsed *p, const char *line, size_t len)
{
	unsigned idx, it;
	int off = 0;

	p->nlogs++;
	if (sscanf(line, "log %u On iteration %u%n", &idx, &it, &off) != 2 ||
	    (size_t)off != len || idx >= MAX_EXP || it >= MAX_ITER) {
		p->foreign = true;
		return;
	}
	if (p->seen[idx][it] < 255)
		p->seen[idx][it]++;
	if ((int64_t)it <= p->last_iter[idx])
		p->out_of_order = true;
	p->last_iter[idx] = it;
}

static void parse_summary(struct parsed *p, const char *line)
{
	struct summary *s = &p->sum;

	cr_assert_eq(sscanf(line, "summary experiments=%" SCNu32 " iterations=%"
			    SCNu32 " expected=%" SCNu64 " received=%" SCNu64
			    " polls=%" SCNu32 " mid_run_polls=%" SCNu32
			    " status=%15s", &s->experiments, &s->iterations,
			    &s->expected, &s->received, &s->polls,
			    &s->mid_run_polls, s->status), 7,
		     "bad summary line: %s", line);
	p->have_summary = true;
}

static void parse_procs(struct parsed *p, const char *line)
{
	const char *c = line;

	while ((c = strchr(c, '=')) != NULL) {
		char *end;
		long v;

		do {
			v = strtol(c + 1, &end, 10);
			cr_assert_neq(end, c + 1, "bad procs line: %s", line);
			cr_assert_gt(v, 0, "bad pid in: %s", line);
			cr_assert_lt(p->npids, MAX_PIDS);
			p->pids[p->npids++] = (pid_t)v;
			c = end;
		} while (*c == ',');
	}
}

static struct parsed *parse_output(char *out)
{
	struct parsed *p = calloc(1, sizeof *p);
	char *line = out;

	cr_assert_not_null(p);
	for (int i = 0; i < MAX_EXP; i++)
		p->last_iter[i] = -1;
	while (*line) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		cr_assert_not_null(nl, "an unterminated last line: %s", line);
		*nl = '\0';
		if (!strncmp(line, "poll ", 5))
			parse_poll(p, line);
		else if (!strncmp(line, "log ", 4))
			parse_log(p, line, len);
		else if (!strncmp(line, "summary ", 8))
			parse_summary(p, line);
		else if (!strncmp(line, "procs ", 6))
			parse_procs(p, line);
		line = nl + 1;
	}
	return p;
}

/* ------------------------------------------------------------------ */
/* Checks                                                              */

static void check_logs(const struct parsed *p, uint32_t e, uint32_t iters)
{
	cr_assert_not(p->foreign, "a log line that is no \"On iteration i\"");
	cr_assert_not(p->out_of_order, "an experiment's messages are out of order");
	for (uint32_t i = 0; i < MAX_EXP; i++)
		for (uint32_t k = 0; k < MAX_ITER; k++)
			cr_assert_eq(p->seen[i][k], i < e && k < iters ? 1 : 0,
				     "experiment %u, \"On iteration %u\" arrived "
				     "%u times", i, k, p->seen[i][k]);
	cr_assert_eq(p->nlogs, e * iters);
}

static void check_polls(const struct parsed *p, uint32_t e)
{
	uint64_t final = p->nlogs;
	uint32_t mid = 0;

	cr_assert_gt(p->npolls, 0, "the driver never polled");
	for (uint32_t k = 0; k < p->npolls; k++) {
		uint64_t sum = 0;

		cr_assert_eq(p->poll_width[k], e, "poll %u lists %u experiments",
			     k + 1, p->poll_width[k]);
		for (uint32_t i = 0; i < e; i++) {
			sum += p->poll_counts[k][i];
			cr_assert(k == 0 || p->poll_counts[k][i] >= p->poll_counts[k - 1][i],
				  "poll %u: experiment %u shrank", k + 1, i);
		}
		cr_assert_eq(sum, p->poll_total[k], "poll %u: total is not the sum",
			     k + 1);
		cr_assert(k == 0 || p->poll_total[k] >= p->poll_total[k - 1],
			  "poll %u: total shrank", k + 1);
		cr_assert_leq(p->poll_total[k], final);
		if (p->poll_total[k] > 0 && p->poll_total[k] < final)
			mid++;
	}
	cr_assert_gt(mid, 0, "no poll saw the logs mid-run (between 0 and %" PRIu64
		     ")", final);
	cr_assert_eq(p->sum.mid_run_polls, mid);
}

static void check_summary(const struct parsed *p, uint32_t e, uint32_t iters)
{
	cr_assert(p->have_summary, "no summary line");
	cr_assert_eq(p->sum.experiments, e);
	cr_assert_eq(p->sum.iterations, iters);
	cr_assert_eq(p->sum.expected, (uint64_t)e * iters);
	cr_assert_eq(p->sum.received, p->nlogs);
	cr_assert_eq(p->sum.polls, p->npolls);
	cr_assert_str_eq(p->sum.status, "ok");
}

/* Every process of the example's runtime exited: gone, or a zombie that
 * its new parent has not reaped yet (the fork server's parent is init). */
static void check_gone(const struct parsed *p, uint32_t workers)
{
	cr_assert_eq(p->npids, 3 + workers, "procs should list driver, fork "
		     "server, actor and %u workers", workers);
	for (uint32_t i = 0; i < p->npids; i++) {
		char st = tu_proc_state(p->pids[i]);

		cr_assert(st == '?' || st == 'Z' || st == 'X',
			  "process %d of the example is still there (state %c)",
			  (int)p->pids[i], st);
	}
}

/* Runs a full configuration and checks everything. */
static void run_and_check(const char *const *args, uint32_t e, uint32_t iters)
{
	struct example ex;
	struct parsed *p;
	int st;

	example_start(&ex, args);
	st = example_finish(&ex);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the example failed (status %#x); its output:\n%s", st, ex.buf);
	p = parse_output(ex.buf);
	check_logs(p, e, iters);
	check_polls(p, e);
	check_summary(p, e, iters);
	check_gone(p, e);
	free(p);
	free(ex.buf);
}

/* ------------------------------------------------------------------ */

Test(example_actor_handles, three_experiments_log_through_one_handle)
{
	run_and_check((const char *const[]){"--experiments", "3", "--iterations",
					    "10", "--interval-ms", "20", NULL},
		      3, 10);
}

/* The tutorial's story as a trace: python3 (meson needs it) reads it. */
static const char *const timeline_check =
	"import json, sys\n"
	"ev = json.load(open(sys.argv[1]))['traceEvents']\n"
	"e, iters = int(sys.argv[2]), int(sys.argv[3])\n"
	"rows = {x['pid']: x['args']['name'] for x in ev if x['ph'] == 'M'}\n"
	"act = [p for p, n in rows.items() if n.startswith('LoggingActor#')]\n"
	"drv = [p for p, n in rows.items() if n == 'driver']\n"
	"assert len(act) == 1 and len(drv) == 1, rows\n"
	"X = [x for x in ev if x['ph'] == 'X' and x['cat'] != 'submit']\n"
	"runs = [x for x in X if x['name'] == 'run_experiment']\n"
	"logs = [x for x in X if x['name'] == 'LoggingActor.log']\n"
	"polls = [x for x in X if x['name'] == 'LoggingActor.get_logs']\n"
	"assert len(runs) == e and len(logs) == e * iters and polls, (len(runs), len(logs))\n"
	"assert all(rows[x['pid']].startswith('worker ') for x in runs), rows\n"
	"assert all(x['pid'] == act[0] for x in logs + polls)\n"
	"s = {x['id']: x for x in ev if x['ph'] == 's'}\n"
	"f = {x['id']: x for x in ev if x['ph'] == 'f'}\n"
	"def src(sl):\n"
	"    k = [i for i, y in f.items() if y['pid'] == sl['pid'] and y['ts'] == sl['ts']]\n"
	"    assert len(k) == 1, sl\n"
	"    return s[k[0]]\n"
	"for x in runs + polls:\n"
	"    assert src(x)['pid'] == drv[0], x\n"
	"for x in logs:\n"
	"    a = src(x)\n"
	"    assert any(r['pid'] == a['pid'] and r['ts'] <= a['ts'] <= r['ts'] + r['dur']\n"
	"               for r in runs), (a, runs)\n";

Test(example_actor_handles, its_timeline_shows_the_story)
{
	char path[64], arg[2][16];
	struct example ex;
	pid_t py;
	int st, fd;

	snprintf(path, sizeof path, "/tmp/shoal-ah-%d-XXXXXX", (int)getpid());
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	example_start(&ex, (const char *const[]){"--experiments", "3", "--iterations",
						 "4", "--interval-ms", "10",
						 "--timeline", path, NULL});
	st = example_finish(&ex);
	if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
		unlink(path);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the example failed (status %#x); its output:\n%s", st, ex.buf);
	cr_assert(strstr(ex.buf, "timeline written to"), "%s", ex.buf);
	snprintf(arg[0], sizeof arg[0], "3");
	snprintf(arg[1], sizeof arg[1], "4");
	py = tu_fork();
	if (py == 0) {
		execlp("python3", "python3", "-c", timeline_check, path, arg[0], arg[1],
		       (char *)NULL);
		_exit(127);
	}
	st = tu_wait_exit(py);
	unlink(path);
	free(ex.buf);
	cr_assert_eq(st, 0, "the trace does not tell the story");
}

Test(example_actor_handles, a_second_wave_joins_while_the_first_runs)
{
	run_and_check((const char *const[]){"--experiments", "3", "--iterations",
					    "10", "--interval-ms", "20",
					    "--second-wave", "2", NULL},
		      5, 10);
}

static bool some_logged(const char *line)
{
	const char *t = strstr(line, " total=");

	return t && strtoul(t + 7, NULL, 10) > 0;
}

/* Ctrl-C while experiments run: the driver stops polling, shuts the
 * runtime down and fails; nothing of it is left. */
Test(example_actor_handles, an_interrupt_shuts_down_cleanly)
{
	struct example ex;
	struct parsed *p;
	int st;

	example_start(&ex, (const char *const[]){"--iterations", "1000",
						 "--interval-ms", "20", NULL});
	example_wait_line(&ex, "poll ", some_logged);
	cr_assert_eq(kill(ex.pid, SIGINT), 0);
	st = example_finish(&ex);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1,
		  "status %#x after SIGINT; output:\n%s", st, ex.buf);
	p = parse_output(ex.buf);
	cr_assert(p->have_summary, "no summary after SIGINT:\n%s", ex.buf);
	cr_assert_str_eq(p->sum.status, "FAILED");
	check_gone(p, 3);
	free(p);
	free(ex.buf);
}

Test(example_actor_handles, bad_usage_exits_2)
{
	struct example ex;
	int st;

	example_start(&ex, (const char *const[]){"--experiments", "0", NULL});
	st = example_finish(&ex);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %#x", st);
	free(ex.buf);
}
