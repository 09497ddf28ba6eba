/* SPDX-License-Identifier: MIT */
/*
 * tools/cli/store_cmds.c - `shoal status` and `shoal objects`.
 *
 *   status   the store's capacity and usage and its processes (Ray's
 *            `ray status` object-store lines), and, with a runtime, its
 *            pool, task counters, tasks by state and actors by state
 *   objects  one row per live object (Ray's `ray memory`)
 *
 * JSON field names are snake_case and stable: a field is added, never
 * renamed or removed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char *object_state(uint32_t state)
{
	switch (state) {
	case SHOAL_OBJECT_CREATED: return "created";
	case SHOAL_OBJECT_SEALED: return "sealed";
	case SHOAL_OBJECT_DELETING: return "deleting";
	default: return "unknown";
	}
}

static void store_text(const struct shoal_store_stats *s)
{
	printf("capacity      %llu bytes\n", (unsigned long long)s->capacity);
	printf("used          %llu bytes (%.1f%%)\n",
	       (unsigned long long)s->bytes_used,
	       s->capacity ? 100.0 * (double)s->bytes_used / (double)s->capacity : 0);
	printf("reserved      %llu bytes (allocator)\n",
	       (unsigned long long)s->heap_bytes_reserved);
	printf("objects       %llu of %llu\n", (unsigned long long)s->objects,
	       (unsigned long long)s->max_objects);
	printf("evictions     %llu (%llu bytes)\n",
	       (unsigned long long)s->evictions,
	       (unsigned long long)s->evicted_bytes);
	printf("processes     %u of %u, %llu reaped\n", s->processes,
	       s->max_procs, (unsigned long long)s->reaped);
}

static void store_json(struct json *j, const struct shoal_store_stats *s)
{
	json_obj(j, "store");
	json_u64(j, "capacity", s->capacity);
	json_u64(j, "bytes_used", s->bytes_used);
	json_u64(j, "heap_bytes_reserved", s->heap_bytes_reserved);
	json_u64(j, "objects", s->objects);
	json_u64(j, "max_objects", s->max_objects);
	json_u64(j, "evictions", s->evictions);
	json_u64(j, "evicted_bytes", s->evicted_bytes);
	json_u64(j, "processes", s->processes);
	json_u64(j, "max_procs", s->max_procs);
	json_u64(j, "reaped", s->reaped);
	json_end_obj(j);
}

/* Tasks by state (shoal_task_list) and actors by state. */
struct rt_counts {
	int tasks[5];   /* by enum shoal_task_state */
	int actors[5];  /* by enum shoal_actor_state */
	int ntasks, nactors;
};

static int count_runtime(struct shoal_runtime *rt, struct rt_counts *k)
{
	struct shoal_task_info *t;
	struct shoal_actor *a;
	int n = shoal_task_list(rt, NULL, 0), m, cap;

	*k = (struct rt_counts){0};
	if (n < 0)
		return n;
	t = calloc((size_t)n + 1, sizeof *t);
	if (!t)
		return -ENOMEM;
	cap = n + 1;
	n = shoal_task_list(rt, t, (size_t)cap);
	for (int i = 0; i < n && i < cap; i++)
		if (t[i].state < 5) {
			k->tasks[t[i].state]++;
			k->ntasks++;
		}
	free(t);
	m = shoal_actor_list(rt, NULL, 0);
	if (m < 0)
		return m;
	a = calloc((size_t)m + 1, sizeof *a);
	if (!a)
		return -ENOMEM;
	cap = m + 1;
	m = shoal_actor_list(rt, a, (size_t)cap);
	for (int i = 0; i < m && i < cap; i++) {
		struct shoal_actor_info info;

		if (!shoal_actor_info(rt, a[i], &info) && info.state < 5) {
			k->actors[info.state]++;
			k->nactors++;
		}
	}
	free(a);
	return 0;
}

static void runtime_text(const struct shoal_runtime_info *r,
			 const struct rt_counts *k)
{
	printf("fork server   pid %d\n", r->fork_server_pid);
	printf("workers       %u running (pool %u), %llu started, %llu died\n",
	       r->workers_alive, r->num_workers,
	       (unsigned long long)r->workers_started,
	       (unsigned long long)r->workers_died);
	printf("tasks         %llu submitted, %llu done, %llu failed (table %u)\n",
	       (unsigned long long)r->tasks_submitted,
	       (unsigned long long)r->tasks_done,
	       (unsigned long long)r->tasks_failed, r->max_tasks);
	printf("  now         %d building, %d waiting, %d queued, %d running\n",
	       k->tasks[SHOAL_TASK_BUILDING], k->tasks[SHOAL_TASK_WAITING],
	       k->tasks[SHOAL_TASK_QUEUED], k->tasks[SHOAL_TASK_RUNNING]);
	printf("actors        %d: %d alive, %d starting, %d restarting, %d dead\n",
	       k->nactors, k->actors[SHOAL_ACTOR_ALIVE],
	       k->actors[SHOAL_ACTOR_STARTING], k->actors[SHOAL_ACTOR_RESTARTING],
	       k->actors[SHOAL_ACTOR_DEAD]);
}

static void runtime_json(struct json *j, const struct shoal_runtime_info *r,
			 const struct rt_counts *k)
{
	json_obj(j, "runtime");
	json_i64(j, "fork_server_pid", r->fork_server_pid);
	json_u64(j, "num_workers", r->num_workers);
	json_u64(j, "workers_alive", r->workers_alive);
	json_u64(j, "workers_started", r->workers_started);
	json_u64(j, "workers_died", r->workers_died);
	json_u64(j, "tasks_submitted", r->tasks_submitted);
	json_u64(j, "tasks_done", r->tasks_done);
	json_u64(j, "tasks_failed", r->tasks_failed);
	json_u64(j, "tasks_queued", r->tasks_queued);
	json_u64(j, "max_tasks", r->max_tasks);
	json_obj(j, "tasks");
	for (uint32_t s = SHOAL_TASK_BUILDING; s <= SHOAL_TASK_RUNNING; s++)
		json_i64(j, cli_task_state(s), k->tasks[s]);
	json_end_obj(j);
	json_obj(j, "actors");
	for (uint32_t s = SHOAL_ACTOR_STARTING; s <= SHOAL_ACTOR_DEAD; s++)
		json_i64(j, cli_actor_state(s), k->actors[s]);
	json_end_obj(j);
	json_end_obj(j);
}

int cli_status(struct cli_ctx *c)
{
	struct shoal_store_stats s;
	struct shoal_runtime_info r = {0};
	struct rt_counts k = {0};
	int rc = shoal_store_stats(c->store, &s);

	if (!rc && c->rt)
		rc = shoal_runtime_info(c->rt, &r, NULL, 0);
	if (!rc && c->rt)
		rc = count_runtime(c->rt, &k);
	if (rc)
		return rc;
	if (!c->json) {
		printf("store         %s\n", c->name);
		store_text(&s);
		if (c->rt)
			runtime_text(&r, &k);
		return 0;
	}
	json_obj(&c->j, NULL);
	json_str(&c->j, "name", c->name);
	store_json(&c->j, &s);
	if (c->rt)
		runtime_json(&c->j, &r, &k);
	else
		json_null(&c->j, "runtime");
	json_end_obj(&c->j);
	json_done(&c->j);
	return 0;
}

static void object_row(struct cli_ctx *c, const struct shoal_object_info *o)
{
	char hex[SHOAL_ID_HEX_LEN + 1];

	shoal_id_format(o->id, hex);
	if (!c->json) {
		printf("%-32s %12llu %6u %-8s %5u %5u %8d\n", hex,
		       (unsigned long long)o->data_size, o->meta_size,
		       object_state(o->state), o->pins, o->holds, o->creator_pid);
		return;
	}
	json_obj(&c->j, NULL);
	json_str(&c->j, "id", hex);
	json_u64(&c->j, "data_size", o->data_size);
	json_u64(&c->j, "meta_size", o->meta_size);
	json_str(&c->j, "state", object_state(o->state));
	json_u64(&c->j, "pins", o->pins);
	json_u64(&c->j, "holds", o->holds);
	json_i64(&c->j, "creator_pid", o->creator_pid);
	json_end_obj(&c->j);
}

int cli_objects(struct cli_ctx *c)
{
	int n = shoal_list(c->store, NULL, 0), cap;
	struct shoal_object_info *info;

	if (n < 0)
		return n;
	if (n > INT32_MAX - 64)
		n = INT32_MAX - 64;
	/* Room for some that appear between the two calls. */
	info = calloc((size_t)n + 64, sizeof *info);
	if (!info)
		return -ENOMEM;
	cap = n + 64;
	n = shoal_list(c->store, info, (size_t)cap);
	if (n > cap)
		n = cap;
	if (c->json) {
		json_obj(&c->j, NULL);
		json_str(&c->j, "name", c->name);
		json_arr(&c->j, "objects");
	} else {
		printf("%-32s %12s %6s %-8s %5s %5s %8s\n", "ID", "BYTES", "META",
		       "STATE", "PINS", "HOLDS", "CREATOR");
	}
	for (int i = 0; i < n; i++)
		object_row(c, &info[i]);
	if (c->json) {
		json_end_arr(&c->j);
		json_end_obj(&c->j);
		json_done(&c->j);
	}
	free(info);
	return 0;
}
