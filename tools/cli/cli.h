/* SPDX-License-Identifier: MIT */
/*
 * tools/cli/cli.h - what the shoal command's files share: the context a
 * command runs in and the commands themselves.
 *
 * Every command reads through inspect handles only (shoal_store_inspect,
 * shoal_runtime_inspect): it takes no process slot and writes nothing to
 * the segment, so it works on a store whose slots are all taken and never
 * changes what it shows.  main.c opens the handle for each refresh (a
 * segment that went away is then an error, not a frozen picture) and
 * hands it to the command; the command prints one text report or one
 * JSON document (json.h) to stdout and returns 0 or a negative shoal
 * code, which main.c turns into a one-line message and exit status 1.
 */
#ifndef SHOAL_CLI_H
#define SHOAL_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include <shoal/shoal.h>

#include "json.h"

struct cli_ctx {
	const char *name;          /* the segment's name, as given */
	bool json;                 /* --json */
	struct json j;             /* stdout's writer when json */
	struct shoal_store *store; /* the store's inspect handle */
	struct shoal_runtime *rt;  /* the runtime's, or NULL (a plain store) */
	const char *output;        /* -o FILE (timeline, metrics), or NULL */
};

struct cli_cmd {
	const char *name;
	const char *help;
	bool needs_runtime;        /* refused on a store without a runtime */
	int (*run)(struct cli_ctx *c);
};

/* store_cmds.c */
int cli_status(struct cli_ctx *c);
int cli_objects(struct cli_ctx *c);

/* runtime_cmds.c */
int cli_tasks(struct cli_ctx *c);
int cli_actors(struct cli_ctx *c);

/* intro_cmds.c */
int cli_timeline(struct cli_ctx *c);
int cli_metrics(struct cli_ctx *c);

/* Shared by the commands (runtime_cmds.c). */
/* A duration for people: "850ns", "12.3us", "4.56ms", "7.89s", "3m12s". */
void cli_dur(char *buf, size_t cap, uint64_t ns);
const char *cli_actor_state(uint32_t state);
const char *cli_task_state(uint32_t state);

#endif /* SHOAL_CLI_H */
