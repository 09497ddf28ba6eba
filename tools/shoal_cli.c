/* SPDX-License-Identifier: MIT */
/*
 * shoal - the command-line tool.
 *
 *   shoal status NAME    store capacity and usage, processes (Ray's
 *                        `ray status` object-store lines), and the
 *                        runtime's workers, tasks and actors if it has one
 *   shoal objects NAME   one row per live object (Ray's `ray memory`)
 *
 * It attaches to a named store like any other process (so it also reaps
 * dead processes' slots on the way in) and detaches at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <shoal/shoal.h>

static int status(struct shoal_store *st)
{
	struct shoal_store_stats s;
	int rc = shoal_store_stats(st, &s);

	if (rc)
		return rc;
	printf("capacity      %llu bytes\n", (unsigned long long)s.capacity);
	printf("used          %llu bytes (%.1f%%)\n",
	       (unsigned long long)s.bytes_used,
	       s.capacity ? 100.0 * (double)s.bytes_used / (double)s.capacity : 0);
	printf("reserved      %llu bytes (allocator)\n",
	       (unsigned long long)s.heap_bytes_reserved);
	printf("objects       %llu of %llu\n", (unsigned long long)s.objects,
	       (unsigned long long)s.max_objects);
	printf("evictions     %llu (%llu bytes)\n",
	       (unsigned long long)s.evictions, (unsigned long long)s.evicted_bytes);
	printf("processes     %u of %u (this one included), %llu reaped\n",
	       s.processes, s.max_procs, (unsigned long long)s.reaped);
	return 0;
}

static const char *actor_state(uint32_t state)
{
	switch (state) {
	case SHOAL_ACTOR_STARTING: return "STARTING";
	case SHOAL_ACTOR_ALIVE: return "ALIVE";
	case SHOAL_ACTOR_RESTARTING: return "RESTARTING";
	case SHOAL_ACTOR_DEAD: return "DEAD";
	default: return "?";
	}
}

/* One line per actor (Ray's `ray list actors`). */
static void actors_status(struct shoal_runtime *rt)
{
	struct shoal_actor a[256];
	int n = shoal_actor_list(rt, a, 256);

	if (n <= 0)
		return;
	printf("actors        %d\n", n);
	for (int i = 0; i < n && i < 256; i++) {
		struct shoal_actor_info info;

		if (shoal_actor_info(rt, a[i], &info))
			continue;
		printf("  %-10s %-16s %-20s pid %-7d %llu calls (%llu failed), "
		       "%u restarts%s%s\n",
		       actor_state(info.state), info.klass,
		       info.name[0] ? info.name : "-", info.pid,
		       (unsigned long long)info.calls_run,
		       (unsigned long long)info.calls_failed, info.restarts,
		       info.why[0] ? ": " : "", info.why);
	}
}

/* The runtime's pool, tasks and actors, if the segment has a runtime. */
static void runtime_status(const char *name)
{
	struct shoal_runtime_info info;
	struct shoal_runtime *rt;

	if (shoal_runtime_attach(name, &rt))
		return;
	if (!shoal_runtime_info(rt, &info, NULL, 0)) {
		printf("fork server   pid %d\n", info.fork_server_pid);
		printf("workers       %u running (pool %u), %llu started, %llu died\n",
		       info.workers_alive, info.num_workers,
		       (unsigned long long)info.workers_started,
		       (unsigned long long)info.workers_died);
		printf("tasks         %llu submitted, %llu done, %llu failed, %u queued (table %u)\n",
		       (unsigned long long)info.tasks_submitted,
		       (unsigned long long)info.tasks_done,
		       (unsigned long long)info.tasks_failed, info.tasks_queued,
		       info.max_tasks);
		actors_status(rt);
	}
	shoal_runtime_detach(rt);
}

static const char *state_name(uint32_t state)
{
	switch (state) {
	case SHOAL_OBJECT_CREATED: return "CREATED";
	case SHOAL_OBJECT_SEALED: return "SEALED";
	case SHOAL_OBJECT_DELETING: return "DELETING";
	default: return "?";
	}
}

static int objects(struct shoal_store *st)
{
	int n = shoal_list(st, NULL, 0);
	struct shoal_object_info *info;
	char hex[SHOAL_ID_HEX_LEN + 1];

	if (n < 0)
		return n;
	info = calloc((size_t)n + 1, sizeof *info);
	if (!info)
		return -12;
	n = shoal_list(st, info, (size_t)n);
	printf("%-32s %12s %6s %-8s %5s %5s %8s\n", "ID", "BYTES", "META",
	       "STATE", "PINS", "HOLDS", "CREATOR");
	for (int i = 0; i < n; i++) {
		shoal_id_format(info[i].id, hex);
		printf("%-32s %12llu %6u %-8s %5u %5u %8d\n", hex,
		       (unsigned long long)info[i].data_size, info[i].meta_size,
		       state_name(info[i].state), info[i].pins, info[i].holds,
		       info[i].creator_pid);
	}
	free(info);
	return 0;
}

int main(int argc, char **argv)
{
	struct shoal_store *st;
	int rc;

	if (argc != 3 || (strcmp(argv[1], "status") && strcmp(argv[1], "objects"))) {
		fprintf(stderr, "usage: shoal status|objects NAME\n");
		return 2;
	}
	rc = shoal_store_attach(argv[2], &st);
	if (rc) {
		fprintf(stderr, "shoal: %s: %s\n", argv[2], shoal_strerror(rc));
		return 1;
	}
	rc = strcmp(argv[1], "status") ? objects(st) : status(st);
	shoal_store_close(st);
	if (!rc && !strcmp(argv[1], "status"))
		runtime_status(argv[2]);
	if (rc)
		fprintf(stderr, "shoal: %s\n", shoal_strerror(rc));
	return rc ? 1 : 0;
}
