/* SPDX-License-Identifier: MIT */
/*
 * tools/cli/runtime_cmds.c - `shoal tasks` and `shoal actors`.
 *
 *   tasks    one row per task that is not done (Ray's `ray list tasks`):
 *            its first return's ID, function, state, submitter, retries
 *            left, what it waits for or which worker runs it, and how long
 *            it has been pending and running (shoal_task_list)
 *   actors   one row per actor (Ray's `ray list actors`): name, class,
 *            pid, state, restarts, calls run and failed, calls queued per
 *            caller's lane, and why it last died, kept across restarts
 *            (shoal_actor_stat, shoal_actor_lanes)
 *
 * JSON field names are snake_case and stable: a field is added, never
 * renamed or removed.  States are lower-case words.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

void cli_dur(char *buf, size_t cap, uint64_t ns)
{
	if (ns < 1000)
		snprintf(buf, cap, "%lluns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, cap, "%.1fus", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, cap, "%.2fms", (double)ns / 1e6);
	else if (ns < 60000000000ull)
		snprintf(buf, cap, "%.2fs", (double)ns / 1e9);
	else
		snprintf(buf, cap, "%llum%02llus",
			 (unsigned long long)(ns / 60000000000ull),
			 (unsigned long long)(ns / 1000000000ull % 60));
}

const char *cli_task_state(uint32_t state)
{
	switch (state) {
	case SHOAL_TASK_BUILDING: return "building";
	case SHOAL_TASK_WAITING: return "waiting";
	case SHOAL_TASK_QUEUED: return "queued";
	case SHOAL_TASK_RUNNING: return "running";
	default: return "unknown";
	}
}

const char *cli_actor_state(uint32_t state)
{
	switch (state) {
	case SHOAL_ACTOR_STARTING: return "starting";
	case SHOAL_ACTOR_ALIVE: return "alive";
	case SHOAL_ACTOR_RESTARTING: return "restarting";
	case SHOAL_ACTOR_DEAD: return "dead";
	default: return "unknown";
	}
}

/* A name from the segment, for a terminal: control bytes (an escape
 * sequence a neighbour wrote there) become '?'.  Returns dst. */
static const char *cli_clean(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	for (; src[i] && i + 1 < cap; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
	dst[i] = '\0';
	return dst;
}

/* ------------------------------------------------------------------ */
/* tasks                                                               */

static void task_text(const struct shoal_task_info *t)
{
	char id[SHOAL_ID_HEX_LEN + 1], wid[SHOAL_ID_HEX_LEN + 1];
	char pend[24], run[24] = "-", what[64] = "-", fn[128];

	shoal_id_format(t->id, id);
	cli_dur(pend, sizeof pend, t->pending_ns);
	if (t->state == SHOAL_TASK_RUNNING) {
		cli_dur(run, sizeof run, t->running_ns);
		if (t->worker >= 0)
			snprintf(what, sizeof what, "worker %d (pid %d)", t->worker,
				 t->worker_pid);
	} else if (t->wait_arg >= 0) {
		shoal_id_format(t->wait_id, wid);
		snprintf(what, sizeof what, "arg %d %s", t->wait_arg, wid);
	}
	printf("%-32s %-20s %-8s %8d %7u %9s %9s  %s\n", id,
	       cli_clean(fn, sizeof fn, t->function), cli_task_state(t->state), t->submitter_pid, t->retries_left, pend,
	       run, what);
}

static void task_json(struct json *j, const struct shoal_task_info *t)
{
	char hex[SHOAL_ID_HEX_LEN + 1];

	json_obj(j, NULL);
	shoal_id_format(t->id, hex);
	json_str(j, "id", hex);
	json_str(j, "function", t->function);
	json_str(j, "state", cli_task_state(t->state));
	json_i64(j, "submitter_pid", t->submitter_pid);
	json_u64(j, "num_returns", t->num_returns);
	json_u64(j, "nargs", t->nargs);
	json_u64(j, "retries_left", t->retries_left);
	if (t->wait_arg >= 0) {
		json_i64(j, "wait_arg", t->wait_arg);
		shoal_id_format(t->wait_id, hex);
		json_str(j, "wait_id", hex);
	} else {
		json_null(j, "wait_arg");
		json_null(j, "wait_id");
	}
	if (t->worker >= 0) {
		json_i64(j, "worker", t->worker);
		json_i64(j, "worker_pid", t->worker_pid);
	} else {
		json_null(j, "worker");
		json_null(j, "worker_pid");
	}
	json_u64(j, "pending_ns", t->pending_ns);
	json_u64(j, "running_ns", t->running_ns);
	json_end_obj(j);
}

int cli_tasks(struct cli_ctx *c)
{
	int n = shoal_task_list(c->rt, NULL, 0), cap;
	struct shoal_task_info *t;

	if (n < 0)
		return n;
	cap = n + 64; /* room for some submitted between the two calls */
	t = calloc((size_t)cap, sizeof *t);
	if (!t)
		return -ENOMEM;
	n = shoal_task_list(c->rt, t, (size_t)cap);
	if (n > cap)
		n = cap;
	if (c->json) {
		json_obj(&c->j, NULL);
		json_str(&c->j, "name", c->name);
		json_arr(&c->j, "tasks");
		for (int i = 0; i < n; i++)
			task_json(&c->j, &t[i]);
		json_end_arr(&c->j);
		json_end_obj(&c->j);
		json_done(&c->j);
	} else {
		printf("%-32s %-20s %-8s %8s %7s %9s %9s  %s\n", "ID", "FUNCTION",
		       "STATE", "SUBMITTR", "RETRIES", "PENDING", "RUNNING",
		       "WAITING ON / WORKER");
		for (int i = 0; i < n; i++)
			task_text(&t[i]);
	}
	free(t);
	return 0;
}

/* ------------------------------------------------------------------ */
/* actors                                                              */

#define CLI_LANES 64 /* lanes per actor at most (shoal/actor.h: callers) */

static void actor_text(const struct shoal_actor_stat *s,
		       const struct shoal_lane_info *l, int nl)
{
	char name[128], klass[128], why[256];

	printf("%-20s %-16s %7d %-10s %8u %9llu %7llu %6llu  %s\n",
	       s->name[0] ? cli_clean(name, sizeof name, s->name) : "-",
	       cli_clean(klass, sizeof klass, s->klass), s->pid,
	       cli_actor_state(s->state), s->restarts,
	       (unsigned long long)s->calls_run,
	       (unsigned long long)s->calls_failed,
	       (unsigned long long)s->calls_queued,
	       s->last_death[0] ? cli_clean(why, sizeof why, s->last_death) : "-");
	for (int i = 0; i < nl && i < CLI_LANES; i++) {
		char running[32] = "";

		if (l[i].running) /* more than 1 on a threaded actor */
			snprintf(running, sizeof running, " (%u running)",
				 l[i].running);
		printf("  lane %-5u caller pid %-7d %u queued%s, %llu run\n",
		       l[i].lane, l[i].caller_pid, l[i].queued, running,
		       (unsigned long long)l[i].calls_run);
	}
}

static void actor_json(struct json *j, struct shoal_actor a,
		       const struct shoal_actor_stat *s,
		       const struct shoal_lane_info *l, int nl)
{
	json_obj(j, NULL);
	json_u64(j, "index", a.index);
	json_u64(j, "generation", a.generation);
	json_str(j, "name", s->name);
	json_str(j, "class", s->klass);
	json_str(j, "state", cli_actor_state(s->state));
	json_i64(j, "pid", s->pid);
	json_u64(j, "restarts", s->restarts);
	json_u64(j, "max_restarts", s->max_restarts);
	json_u64(j, "calls_run", s->calls_run);
	json_u64(j, "calls_failed", s->calls_failed);
	json_u64(j, "calls_queued", s->calls_queued);
	json_str(j, "why", s->why);
	json_str(j, "last_death", s->last_death);
	json_arr(j, "lanes");
	for (int i = 0; i < nl && i < CLI_LANES; i++) {
		json_obj(j, NULL);
		json_u64(j, "lane", l[i].lane);
		json_i64(j, "caller_pid", l[i].caller_pid);
		json_u64(j, "queued", l[i].queued);
		json_bool(j, "running", l[i].running);
		json_u64(j, "calls_run", l[i].calls_run);
		json_end_obj(j);
	}
	json_end_arr(j);
	json_end_obj(j);
}

int cli_actors(struct cli_ctx *c)
{
	int n = shoal_actor_list(c->rt, NULL, 0), cap;
	struct shoal_lane_info lanes[CLI_LANES];
	struct shoal_actor *a;

	if (n < 0)
		return n;
	cap = n + 16;
	a = calloc((size_t)cap, sizeof *a);
	if (!a)
		return -ENOMEM;
	n = shoal_actor_list(c->rt, a, (size_t)cap);
	if (n > cap)
		n = cap;
	if (c->json) {
		json_obj(&c->j, NULL);
		json_str(&c->j, "name", c->name);
		json_arr(&c->j, "actors");
	} else {
		printf("%-20s %-16s %7s %-10s %8s %9s %7s %6s  %s\n", "NAME",
		       "CLASS", "PID", "STATE", "RESTARTS", "CALLS RUN", "FAILED",
		       "QUEUED", "LAST DEATH");
	}
	for (int i = 0; i < n; i++) {
		struct shoal_actor_stat s;
		int nl;

		if (shoal_actor_stat(c->rt, a[i], &s))
			continue; /* its slot was reused meanwhile */
		nl = shoal_actor_lanes(c->rt, a[i], lanes, CLI_LANES);
		if (nl < 0)
			nl = 0;
		if (c->json)
			actor_json(&c->j, a[i], &s, lanes, nl);
		else
			actor_text(&s, lanes, nl);
	}
	if (c->json) {
		json_end_arr(&c->j);
		json_end_obj(&c->j);
		json_done(&c->j);
	}
	free(a);
	return 0;
}
