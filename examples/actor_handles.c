/* SPDX-License-Identifier: MIT */
/*
 * actor-handles - Ray's tutorial "Exercise 8 - Actor Handles", in C.
 *
 * What it shows.  One actor, a LoggingActor, keeps the logs of several
 * experiments: index -> the list of messages received for that index.  The
 * driver creates it and passes its handle (struct shoal_actor: 16 plain
 * bytes, valid in every process of the runtime) to each run_experiment
 * task as an argument, as Ray's run_experiment.remote(i, logging_actor)
 * does.  Each experiment runs in a worker process of its own and, every
 * interval, calls log(index, "On iteration i") on the actor through its
 * copy of the handle.  The actor is a process of its own that runs calls
 * one at a time, so its state needs no lock.  Meanwhile the driver calls
 * get_logs() on the same actor every half interval and prints what it
 * sees: the logs grow while the experiments run.  Several writers and one
 * reader share one actor, each through a copy of its handle.  With
 * --second-wave N, N more experiments start halfway through and log to the
 * same actor (the tutorial's "try running more of the experiment tasks").
 *
 *   Python (the tutorial)                       C (this file)
 *   @ray.remote class LoggingActor              shoal_register_actor/_method
 *   ray.init(num_cpus=4)                        shoal_runtime_start
 *   logging_actor = LoggingActor.remote()       shoal_actor_create
 *   run_experiment.remote(i, logging_actor)     shoal_args_actor, shoal_submit
 *   logging_actor.log.remote(i, msg)            shoal_actor_send
 *   ray.get(logging_actor.get_logs.remote())    shoal_actor_call, shoal_get
 *
 * How an experiment logs.  Iterations 0 .. n-2 use shoal_actor_send (fire
 * and forget), as the tutorial ignores the ObjectRef log.remote() returns:
 * no result object is made, so there is nothing to hold or drop, and a
 * message costs one record in the caller's lane.  The last iteration uses
 * shoal_actor_call and waits for its result (how many messages the actor
 * now holds for this index), which the task returns.  Calls from one
 * process run in the order it made them, so when that result arrives all
 * of this experiment's messages are in the actor.  Without that step, the
 * driver's final get_logs (sent through the driver's own lane, which is
 * not ordered with the workers' lanes) could run before the last few sends.
 *
 * get_logs() returns text: one line per message, "<index> <message>\n",
 * indexes in ascending order, each index's messages in the order the actor
 * received them.  A message is 1..MSG_MAX bytes, no newline or NUL (log()
 * refuses anything else).
 *
 * Output (stdout, one line each):
 *   actor-handles: ...          the story, for humans
 *   procs driver=<pid> fork_server=<pid> actor=<pid> workers=<pid,...>
 *                               the runtime's processes, once the actor runs
 *   poll <k> t=<ms> total=<n> per-experiment=<a,b,...> new=<d>
 *                               one get_logs while experiments run; t from
 *                               the first submit, d = total - previous total
 *   log <index> <message>       the final logs, in get_logs order
 *   summary experiments=<E> iterations=<I> expected=<E*I> received=<n>
 *           polls=<k> mid_run_polls=<m> status=<ok|FAILED>
 *                               mid_run_polls: polls with 0 < total < expected
 * Errors go to stderr.  Exit status 0 only if the run was consistent:
 * every call succeeded, each poll saw each experiment's messages in order
 * (a prefix of "On iteration 0", "On iteration 1", ...) and no fewer than
 * the poll before, every experiment got its full count acknowledged, and
 * the final logs hold each message exactly once, in order.  1 otherwise,
 * 2 for bad usage.
 *
 * Cleanup: the runtime is private (a memfd, nothing in /dev/shm) and is
 * shut down on every path once started.  SIGINT and SIGTERM end the
 * polling early and shut down too.  If the driver dies anyway, the fork
 * server kills every shoal process.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <shoal/shoal.h>

/* An actor serves a bounded number of caller processes (64 lanes per
 * actor in this version): one per experiment's worker plus the driver. */
#define MAX_EXPERIMENTS 56
/* Keeps a full get_logs answer (about 24 bytes a message) far below the
 * store's capacity. */
#define MAX_ITERATIONS 10000
#define MAX_INTERVAL_MS 60000
#define MSG_MAX 200
#define MAX_INDEX 65536
/* How long the driver waits for one get_logs result.  A live actor
 * answers within milliseconds; a dead one fails the call at once. */
#define CALL_TIMEOUT_MS 30000

/* ------------------------------------------------------------------ */
/* Shared helpers                                                      */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int iteration_message(uint32_t i, char *buf, size_t cap)
{
	return snprintf(buf, cap, "On iteration %" PRIu32, i);
}

/* ------------------------------------------------------------------ */
/* The LoggingActor (runs in the actor's process)                      */

struct log_list {
	char **msgs;
	uint32_t n, cap;
};

struct logging_actor {
	struct log_list *lists; /* by index */
	uint32_t nlists;
	size_t text_bytes;      /* the size of get_logs' answer */
};

static int logging_init(struct shoal_task *ctx, void **self)
{
	struct logging_actor *a = calloc(1, sizeof *a);

	(void)ctx;
	if (!a)
		return -ENOMEM;
	*self = a;
	return 0;
}

static void logging_fini(void *self)
{
	struct logging_actor *a = self;

	for (uint32_t i = 0; i < a->nlists; i++) {
		for (uint32_t j = 0; j < a->lists[i].n; j++)
			free(a->lists[i].msgs[j]);
		free(a->lists[i].msgs);
	}
	free(a->lists);
	free(a);
}

/* The list of index, made (empty) if it is new: Python's defaultdict. */
static struct log_list *logging_list(struct logging_actor *a, uint32_t index)
{
	if (index >= a->nlists) {
		uint32_t n = index + 1;
		struct log_list *l = realloc(a->lists, n * sizeof *l);

		if (!l)
			return NULL;
		memset(l + a->nlists, 0, (n - a->nlists) * sizeof *l);
		a->lists = l;
		a->nlists = n;
	}
	return &a->lists[index];
}

static int list_append(struct log_list *l, const char *msg, size_t len)
{
	char *copy;

	if (l->n == l->cap) {
		uint32_t cap = l->cap ? 2 * l->cap : 16;
		char **m = realloc(l->msgs, cap * sizeof *m);

		if (!m)
			return -ENOMEM;
		l->msgs = m;
		l->cap = cap;
	}
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, msg, len);
	copy[len] = '\0';
	l->msgs[l->n++] = copy;
	return 0;
}

static bool message_ok(const char *msg, size_t len)
{
	return len > 0 && len <= MSG_MAX && !memchr(msg, '\n', len) &&
	       !memchr(msg, '\0', len);
}

/* "<index> <message>\n" */
static size_t line_bytes(uint32_t index, size_t len)
{
	return (size_t)snprintf(NULL, 0, "%" PRIu32 " ", index) + len + 1;
}

/* log(index, message) -> the number of messages index holds now (a
 * send drops it). */
static int logging_log(struct shoal_task *t, void *self)
{
	struct logging_actor *a = self;
	struct log_list *l;
	const char *msg;
	uint64_t index;
	size_t len;
	int rc;

	if ((rc = shoal_task_expect(t, 2)) || (rc = shoal_task_arg_u64(t, 0, &index)) ||
	    (rc = shoal_task_arg_str(t, 1, &msg)))
		return rc; /* the message names the argument and its type */
	len = strlen(msg);
	if (index >= MAX_INDEX || !message_ok(msg, len))
		return shoal_task_fail(t, -EINVAL, "log: bad index %" PRIu64
				       " or message (%zu bytes)", index, len);
	l = logging_list(a, index);
	rc = l ? list_append(l, msg, len) : -ENOMEM;
	if (rc)
		return shoal_task_fail(t, rc, "log: out of memory");
	a->text_bytes += line_bytes((uint32_t)index, len);
	return shoal_task_return_u64(t, 0, l->n);
}

static size_t put_line(char *buf, uint32_t index, const char *msg)
{
	char head[16];
	size_t h = (size_t)snprintf(head, sizeof head, "%" PRIu32 " ", index);
	size_t m = strlen(msg);

	memcpy(buf, head, h);
	memcpy(buf + h, msg, m);
	buf[h + m] = '\n';
	return h + m + 1;
}

/* get_logs() -> every message, in the text format of the file header,
 * written in place into the result object (one copy: actor -> store). */
static int logging_get_logs(struct shoal_task *t, void *self)
{
	struct logging_actor *a = self;
	size_t off = 0;
	void *buf;
	int rc;

	if (a->text_bytes == 0)
		return shoal_task_return(t, 0, "", 0);
	rc = shoal_task_return_buffer(t, 0, a->text_bytes, &buf);
	if (rc)
		return shoal_task_fail(t, rc, "get_logs: no buffer: %s",
				       shoal_strerror(rc));
	for (uint32_t i = 0; i < a->nlists; i++)
		for (uint32_t j = 0; j < a->lists[i].n; j++)
			off += put_line((char *)buf + off, i, a->lists[i].msgs[j]);
	return 0;
}

/* ------------------------------------------------------------------ */
/* run_experiment(index, logging_actor, iterations, interval_ms)       */
/* (runs in a worker process)                                          */

static void sleep_until(const struct timespec *t)
{
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) == EINTR)
		;
}

static void add_ms(struct timespec *t, uint32_t ms)
{
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

/* One log(index, "On iteration i") call; the last one waits for its
 * result (see the header), which *count receives: a dead actor fails the
 * get, so it never hangs. */
static int log_iteration(struct shoal_runtime *rt, struct shoal_actor actor,
			 int method, uint64_t index, uint32_t i, bool last,
			 uint64_t *count)
{
	struct shoal_args args;
	char msg[64];
	shoal_id ref;
	int rc;

	iteration_message(i, msg, sizeof msg);
	shoal_args_init(&args);
	shoal_args_u64(&args, index);
	shoal_args_str(&args, msg);
	if (!last)
		return shoal_actor_send(rt, actor, method, &args);
	rc = shoal_actor_call(rt, actor, method, &args, &ref);
	return rc ? rc : shoal_get_u64(shoal_runtime_store(rt), ref, -1, count);
}

static int run_experiment(struct shoal_task *t, void *user)
{
	struct shoal_runtime *rt = shoal_task_runtime(t);
	struct shoal_actor actor;
	uint64_t index, iterations, interval_ms, count = 0;
	struct timespec next;
	int method, rc;

	(void)user;
	if ((rc = shoal_task_expect(t, 4)) || (rc = shoal_task_arg_u64(t, 0, &index)) ||
	    (rc = shoal_task_arg_actor(t, 1, &actor)) ||
	    (rc = shoal_task_arg_u64(t, 2, &iterations)) ||
	    (rc = shoal_task_arg_u64(t, 3, &interval_ms)))
		return rc;
	method = shoal_actor_method(rt, actor, "log");
	if (method < 0)
		return shoal_task_fail(t, method, "the actor has no method log");
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (uint32_t i = 0; i < iterations; i++) {
		add_ms(&next, (uint32_t)interval_ms); /* absolute: no drift */
		sleep_until(&next);
		rc = log_iteration(rt, actor, method, index, i, i + 1 == iterations,
				   &count);
		if (rc)
			return shoal_task_fail(t, rc, "experiment %" PRIu64
					       ", iteration %" PRIu32 ": log: %s",
					       index, i, shoal_strerror(rc));
	}
	return shoal_task_return_u64(t, 0, count);
}

/* ------------------------------------------------------------------ */
/* The driver                                                          */

struct config {
	uint32_t experiments;
	uint32_t iterations;
	uint32_t interval_ms;
	uint32_t second_wave;  /* experiments started halfway through */
	uint32_t poll_ms;      /* 0: interval / 2 */
	const char *timeline;  /* --timeline FILE: the Chrome trace, or NULL */
};

/* What one get_logs answer held. */
struct snapshot {
	uint32_t counts[MAX_EXPERIMENTS];
	uint64_t total;
	bool ok;               /* well-formed, known indexes, in order */
};

struct driver {
	struct config cfg;
	uint32_t total;        /* experiments, both waves */
	struct shoal_registry *reg;
	struct shoal_runtime *rt;
	struct shoal_store *st;
	struct shoal_actor actor;
	int m_get_logs;
	int f_run;
	shoal_id refs[MAX_EXPERIMENTS];
	bool held[MAX_EXPERIMENTS];
	uint32_t submitted;
	int64_t t0;
	struct snapshot last;  /* the previous poll's */
	uint32_t polls, mid_run_polls;
	bool consistent;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "actor-handles: error: %s: %s\n", what, shoal_strerror(rc));
	return rc ? rc : -EINVAL;
}

static void inconsistent(struct driver *d, const char *why)
{
	fprintf(stderr, "actor-handles: inconsistent: %s\n", why);
	d->consistent = false;
}

/* Registers the class, its methods and the task, then starts a runtime
 * with a worker per experiment (ray.init(num_cpus=...)). */
static int start_runtime(struct driver *d)
{
	struct shoal_runtime_options o;
	struct shoal_registry *r;
	int rc = shoal_registry_open(&d->reg);

	if (rc)
		return fail("shoal_registry_open", rc);
	r = d->reg;
	if ((rc = shoal_register_actor(r, "LoggingActor", logging_init, logging_fini)) ||
	    (rc = shoal_register_method(r, "LoggingActor", "log", logging_log)) ||
	    (rc = shoal_register_method(r, "LoggingActor", "get_logs", logging_get_logs)) ||
	    (rc = shoal_register_task(r, "run_experiment", run_experiment, NULL)))
		return fail("registering LoggingActor and run_experiment", rc);
	shoal_runtime_options_init(&o);
	o.num_workers = d->total;   /* every experiment runs at once */
	o.max_tasks = 1024;
	o.max_actors = 4;
	o.max_lanes = d->total + 16;
	o.store.capacity = 64u << 20;
	o.store.max_objects = 4096;
	rc = shoal_runtime_start(d->reg, &o, &d->rt);
	if (rc)
		return fail("shoal_runtime_start", rc);
	d->st = shoal_runtime_store(d->rt);
	return 0;
}

static int create_actor(struct driver *d)
{
	int rc = shoal_actor_create(d->rt, "LoggingActor", NULL, NULL, &d->actor);

	if (rc)
		return fail("shoal_actor_create(LoggingActor)", rc);
	d->m_get_logs = shoal_actor_method(d->rt, d->actor, "get_logs");
	if (d->m_get_logs < 0)
		return fail("shoal_actor_method(get_logs)", d->m_get_logs);
	d->f_run = shoal_function(d->rt, "run_experiment");
	if (d->f_run < 0)
		return fail("shoal_function(run_experiment)", d->f_run);
	return 0;
}

/* Who is who: every one of these is a process of its own.  The line is
 * also how a test checks that none is left once the example exited. */
static int print_processes(struct driver *d)
{
	int32_t pids[MAX_EXPERIMENTS];
	struct shoal_runtime_info ri;
	struct shoal_actor_info ai;
	int rc = shoal_runtime_info(d->rt, &ri, pids, MAX_EXPERIMENTS);

	if (rc)
		return fail("shoal_runtime_info", rc);
	rc = shoal_actor_info(d->rt, d->actor, &ai);
	if (rc)
		return fail("shoal_actor_info", rc);
	printf("procs driver=%d fork_server=%" PRId32 " actor=%" PRId32 " workers=",
	       (int)getpid(), ri.fork_server_pid, ai.pid);
	for (uint32_t i = 0; i < ri.workers_alive && i < MAX_EXPERIMENTS; i++)
		printf("%s%" PRId32, i ? "," : "", pids[i]);
	printf("\n");
	return 0;
}

/* run_experiment.remote(index, logging_actor): the handle is an argument
 * like any other. */
static int submit_experiment(struct driver *d, uint32_t index)
{
	struct shoal_args args;
	int rc;

	shoal_args_init(&args);
	if ((rc = shoal_args_u64(&args, index)) ||
	    (rc = shoal_args_actor(&args, &d->actor)) ||
	    (rc = shoal_args_u64(&args, d->cfg.iterations)) ||
	    (rc = shoal_args_u64(&args, d->cfg.interval_ms)))
		return fail("building run_experiment's arguments", rc);
	rc = shoal_submit(d->rt, d->f_run, &args, 1, &d->refs[index]);
	if (rc)
		return fail("shoal_submit(run_experiment)", rc);
	d->held[index] = true;
	d->submitted = index + 1;
	return 0;
}

static int submit_wave(struct driver *d, uint32_t n, const char *which)
{
	uint32_t first = d->submitted;

	for (uint32_t i = 0; i < n; i++) {
		int rc = submit_experiment(d, first + i);

		if (rc)
			return rc;
	}
	printf("actor-handles: t=%" PRId64 " submitted %s: run_experiment(i, "
	       "logging_actor) for i = %" PRIu32 "..%" PRIu32 "\n",
	       now_ms() - d->t0, which, first, first + n - 1);
	return 0;
}

/* Parses one "<index> <message>" line into s; false if it is not the
 * next message of a known experiment. */
static bool parse_line(const struct driver *d, const char *line, size_t len,
		       struct snapshot *s)
{
	char want[64], *end;
	unsigned long index = strtoul(line, &end, 10);
	size_t wl;

	if (end == line || *end != ' ' || index >= d->total)
		return false;
	end++;
	wl = (size_t)iteration_message(s->counts[index], want, sizeof want);
	if ((size_t)(line + len - end) != wl || memcmp(end, want, wl) != 0)
		return false;
	s->counts[index]++;
	s->total++;
	return true;
}

/* Parses a get_logs answer; with print, echoes each line as "log ...". */
static void parse_logs(const struct driver *d, const char *text, size_t size,
		       bool print, struct snapshot *s)
{
	const char *p = text, *endp = text + size;

	memset(s, 0, sizeof *s);
	s->ok = true;
	while (p < endp) {
		const char *nl = memchr(p, '\n', (size_t)(endp - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(endp - p);

		if (print)
			printf("log %.*s\n", (int)len, p);
		if (!nl || !parse_line(d, p, len, s))
			s->ok = false;
		p += len + 1;
	}
}

/* ray.get(logging_actor.get_logs.remote()), parsed into s. */
static int get_logs(struct driver *d, bool print, struct snapshot *s)
{
	struct shoal_view v;
	shoal_id ref;
	int rc = shoal_actor_call(d->rt, d->actor, d->m_get_logs, NULL, &ref);

	if (rc)
		return fail("get_logs call", rc);
	rc = shoal_get(d->st, ref, CALL_TIMEOUT_MS, &v);
	if (rc) {
		char msg[256] = "";

		shoal_error_message(d->st, ref, msg, sizeof msg);
		fprintf(stderr, "actor-handles: get_logs result: %s (%s)\n",
			shoal_strerror(rc), msg);
		shoal_drop(d->st, ref);
		return rc;
	}
	parse_logs(d, v.data, v.size, print, s);
	shoal_release(d->st, &v);
	shoal_drop(d->st, ref);
	return 0;
}

/* Checks a poll against the one before: in order, never shrinking. */
static void check_growth(struct driver *d, const struct snapshot *s)
{
	if (!s->ok)
		inconsistent(d, "a poll saw a malformed, unknown or out-of-order message");
	for (uint32_t i = 0; i < d->total; i++) {
		if (s->counts[i] < d->last.counts[i])
			inconsistent(d, "a poll saw fewer messages than the one before");
		if (s->counts[i] > d->cfg.iterations)
			inconsistent(d, "a poll saw more messages than iterations");
	}
}

static void print_poll(const struct driver *d, const struct snapshot *s)
{
	printf("poll %" PRIu32 " t=%" PRId64 " total=%" PRIu64 " per-experiment=",
	       d->polls, now_ms() - d->t0, s->total);
	for (uint32_t i = 0; i < d->total; i++)
		printf("%s%" PRIu32, i ? "," : "", s->counts[i]);
	printf(" new=%" PRIu64 "\n", s->total - d->last.total);
}

/* One poll while the experiments run: what does the actor hold now? */
static int poll_logs(struct driver *d)
{
	uint64_t expected = (uint64_t)d->total * d->cfg.iterations;
	struct snapshot s;
	int rc = get_logs(d, false, &s);

	if (rc)
		return rc;
	d->polls++;
	check_growth(d, &s);
	if (s.total > 0 && s.total < expected)
		d->mid_run_polls++;
	print_poll(d, &s);
	d->last = s;
	return 0;
}

static uint32_t poll_interval(const struct config *c)
{
	if (c->poll_ms)
		return c->poll_ms;
	return c->interval_ms >= 2 ? c->interval_ms / 2 : 1;
}

/* True once every submitted experiment is done (result or error). */
static int all_done(struct driver *d, int64_t until)
{
	uint8_t ready[MAX_EXPERIMENTS];
	int64_t left = until - now_ms();
	int n = shoal_wait(d->st, d->refs, d->submitted, d->submitted,
			   left > 0 ? (int)left : 0, ready);

	if (n < 0)
		return fail("shoal_wait", n);
	return (uint32_t)n == d->submitted;
}

/* Polls every poll interval until every experiment is done; the second
 * wave is submitted halfway through the first.  The wait for the
 * experiments is the clock: it returns early when they are all done. */
static int poll_until_done(struct driver *d)
{
	const struct config *c = &d->cfg;
	int64_t run_ms = (int64_t)c->iterations * c->interval_ms;
	int64_t wave_at = d->t0 + run_ms / 2;
	int64_t deadline = d->t0 + 2 * run_ms + 30000;
	int64_t next_poll = d->t0 + poll_interval(c);
	bool wave_due = c->second_wave > 0;
	int rc;

	for (;;) {
		int64_t until = wave_due && wave_at < next_poll ? wave_at : next_poll;

		rc = all_done(d, until);
		if (rc < 0 || (rc == 1 && !wave_due))
			return rc < 0 ? rc : 0;
		if (rc == 1)
			wave_at = now_ms(); /* nothing left to wait for */
		if (interrupted)
			return fail("interrupted", -EINTR);
		if (now_ms() > deadline)
			return fail("the experiments did not finish in time", -ETIMEDOUT);
		if (wave_due && now_ms() >= wave_at) {
			wave_due = false;
			rc = submit_wave(d, c->second_wave, "a second wave");
			if (rc)
				return rc;
		}
		if (now_ms() >= next_poll) {
			rc = poll_logs(d);
			if (rc)
				return rc;
			next_poll += poll_interval(c);
			if (next_poll < now_ms()) /* a slow poll: do not catch up */
				next_poll = now_ms() + poll_interval(c);
		}
	}
}

/* Each experiment's result: the count the actor acknowledged last. */
static int collect_results(struct driver *d)
{
	bool full = true;

	for (uint32_t i = 0; i < d->submitted; i++) {
		uint64_t count = 0;
		char msg[256] = "";
		/* ray.get and del in one: the ref goes on success. */
		int rc = shoal_get_u64(d->st, d->refs[i], 0, &count);

		if (rc) {
			shoal_error_message(d->st, d->refs[i], msg, sizeof msg);
			fprintf(stderr, "actor-handles: experiment %" PRIu32
				" failed: %s (%s)\n", i, shoal_strerror(rc), msg);
			return rc;
		}
		d->held[i] = false;
		if (count != d->cfg.iterations)
			full = false;
	}
	if (!full)
		inconsistent(d, "an experiment's last log saw a wrong count");
	printf("actor-handles: t=%" PRId64 " all %" PRIu32 " experiments done; "
	       "each one's last log() was acknowledged with %s\n",
	       now_ms() - d->t0, d->submitted,
	       full ? "its full count" : "a WRONG count");
	return 0;
}

/* The final get_logs: printed in full, and it must hold everything. */
static int final_logs(struct driver *d, struct snapshot *s)
{
	struct shoal_actor_info info;
	int rc;

	printf("actor-handles: final get_logs(), one line per message:\n");
	rc = get_logs(d, true, s);
	if (rc)
		return rc;
	check_growth(d, s);
	for (uint32_t i = 0; i < d->total; i++)
		if (s->counts[i] != d->cfg.iterations)
			inconsistent(d, "the final logs miss messages");
	rc = shoal_actor_info(d->rt, d->actor, &info);
	if (rc)
		return fail("shoal_actor_info", rc);
	if (info.calls_failed)
		inconsistent(d, "the actor counted failed calls");
	return 0;
}

static void print_summary(const struct driver *d, const struct snapshot *s,
			  bool ok)
{
	printf("summary experiments=%" PRIu32 " iterations=%" PRIu32
	       " expected=%" PRIu64 " received=%" PRIu64 " polls=%" PRIu32
	       " mid_run_polls=%" PRIu32 " status=%s\n",
	       d->total, d->cfg.iterations, (uint64_t)d->total * d->cfg.iterations,
	       s->total, d->polls, d->mid_run_polls, ok ? "ok" : "FAILED");
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: the poll loop checks */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A closed stdout shows up as a write error (checked at the end),
	 * not as a death that skips the shutdown. */
	signal(SIGPIPE, SIG_IGN);
}

/* Everything after start; the caller shuts the runtime down. */
static int run_story(struct driver *d, struct snapshot *final)
{
	const struct config *c = &d->cfg;
	int rc = create_actor(d);

	if (rc)
		return rc;
	printf("actor-handles: created LoggingActor; %" PRIu32 " workers; "
	       "the driver polls get_logs() every %" PRIu32 " ms\n",
	       d->total, poll_interval(c));
	rc = print_processes(d);
	if (rc)
		return rc;
	d->t0 = now_ms();
	rc = submit_wave(d, c->experiments, "the experiments");
	if (!rc)
		rc = poll_until_done(d);
	if (!rc)
		rc = collect_results(d);
	if (!rc)
		rc = final_logs(d, final);
	return rc;
}

/* Ray's ray.timeline(filename): every task and call of the story as a
 * Chrome trace, before shutdown (the rings live in the segment). */
static int write_timeline(struct driver *d)
{
	struct shoal_runtime_info ri;
	FILE *f;
	int rc;

	/* A worker records a task's slice just after it sealed the result our
	 * get returned: wait (bounded) until the pool counted them all. */
	for (int i = 0; i < 2000; i++) {
		if (shoal_runtime_info(d->rt, &ri, NULL, 0) ||
		    ri.tasks_done + ri.tasks_failed >= ri.tasks_submitted)
			break;
		usleep(1000);
	}
	f = fopen(d->cfg.timeline, "w");
	if (!f) {
		fprintf(stderr, "actor-handles: %s: %s\n", d->cfg.timeline, strerror(errno));
		return -errno;
	}
	rc = shoal_timeline(d->rt, f);
	if (fclose(f) && !rc)
		rc = -errno;
	if (rc)
		fail("shoal_timeline", rc);
	else
		printf("actor-handles: timeline written to %s (open it in "
		       "https://ui.perfetto.dev or chrome://tracing)\n", d->cfg.timeline);
	return rc;
}

static void release_refs(struct driver *d)
{
	for (uint32_t i = 0; i < d->submitted; i++)
		if (d->held[i])
			shoal_drop(d->st, d->refs[i]);
}

static int run(struct driver *d)
{
	struct snapshot final;
	int rc, rs;

	memset(&final, 0, sizeof final);
	d->consistent = true;
	rc = start_runtime(d);
	if (!rc) {
		install_signals();
		rc = run_story(d, &final);
		release_refs(d);
		if (d->cfg.timeline) {
			int rt = write_timeline(d);

			rc = rc ? rc : rt;
		}
	}
	rs = shoal_runtime_shutdown(d->rt); /* NULL: a no-op */
	if (rs)
		fail("shoal_runtime_shutdown", rs);
	shoal_registry_close(d->reg);
	print_summary(d, &final, !rc && !rs && d->consistent);
	if (fflush(stdout) || ferror(stdout))
		rc = rc ? rc : -EIO;
	return rc || rs || !d->consistent;
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: actor-handles [--tutorial] [--experiments N] [--iterations N]\n"
		"                     [--interval-ms N] [--second-wave N] [--poll-ms N]\n"
		"                     [--timeline FILE]\n"
		"  default: 3 experiments x 10 iterations x 100 ms\n"
		"  --tutorial       the tutorial's run: 3 x 60 x 1000 ms (options\n"
		"                   after it override it)\n"
		"  --second-wave N  start N more experiments halfway through\n"
		"  --poll-ms N      how often the driver calls get_logs "
		"(default: interval / 2)\n"
		"  --timeline FILE  write the run's timeline there at the end, as a\n"
		"                   Chrome trace (ui.perfetto.dev, chrome://tracing)\n"
		"  at most %d experiments in all, %d iterations, %d ms\n",
		MAX_EXPERIMENTS, MAX_ITERATIONS, MAX_INTERVAL_MS);
}

static bool parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool parse_option(struct config *c, const char *opt, const char *val)
{
	if (!strcmp(opt, "--experiments"))
		return parse_u32(val, 1, MAX_EXPERIMENTS, &c->experiments);
	if (!strcmp(opt, "--iterations"))
		return parse_u32(val, 1, MAX_ITERATIONS, &c->iterations);
	if (!strcmp(opt, "--interval-ms"))
		return parse_u32(val, 1, MAX_INTERVAL_MS, &c->interval_ms);
	if (!strcmp(opt, "--second-wave"))
		return parse_u32(val, 0, MAX_EXPERIMENTS, &c->second_wave);
	if (!strcmp(opt, "--poll-ms"))
		return parse_u32(val, 1, MAX_INTERVAL_MS, &c->poll_ms);
	if (!strcmp(opt, "--timeline") && val && *val) {
		c->timeline = val;
		return true;
	}
	return false;
}

/* 0, 1 for --help, -1 for bad usage. */
static int parse_args(int argc, char **argv, struct config *c)
{
	*c = (struct config){.experiments = 3, .iterations = 10, .interval_ms = 100};
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
		if (!strcmp(argv[i], "--tutorial")) {
			c->experiments = 3;
			c->iterations = 60;
			c->interval_ms = 1000;
			continue;
		}
		if (i + 1 >= argc || !parse_option(c, argv[i], argv[i + 1])) {
			fprintf(stderr, "actor-handles: bad option %s%s%s\n", argv[i],
				i + 1 < argc ? " " : "", i + 1 < argc ? argv[i + 1] : "");
			return -1;
		}
		i++;
	}
	if (c->experiments + c->second_wave > MAX_EXPERIMENTS) {
		fprintf(stderr, "actor-handles: at most %d experiments in all\n",
			MAX_EXPERIMENTS);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct driver d;
	int rc;

	memset(&d, 0, sizeof d);
	rc = parse_args(argc, argv, &d.cfg);
	if (rc) {
		usage(rc > 0 ? stdout : stderr);
		return rc > 0 ? 0 : 2;
	}
	d.total = d.cfg.experiments + d.cfg.second_wave;
	/* Line-buffered, so that a pipe sees each poll as it happens. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("actor-handles: %" PRIu32 " experiments x %" PRIu32 " iterations x %"
	       PRIu32 " ms", d.cfg.experiments, d.cfg.iterations, d.cfg.interval_ms);
	if (d.cfg.second_wave)
		printf(", then %" PRIu32 " more halfway through", d.cfg.second_wave);
	printf("; each logs to one LoggingActor through its handle\n");
	return run(&d);
}
