/* SPDX-License-Identifier: MIT */
/*
 * shoal - the command-line tool: looks at a named store or runtime
 * without touching it.
 *
 *   shoal [OPTIONS] COMMAND NAME [OPTIONS]
 *
 * It opens NAME through the read-only inspect handles (cli.h): no process
 * slot, no thread, nothing written, so it works when every slot is taken
 * and never changes what it shows (no reaping on the way in, unlike an
 * attach).  Exit status: 0 done; 1 the segment could not be read (no such
 * name, a foreign file, another version: one line on stderr with
 * shoal_strerror's text); 2 a usage error (stderr).  --help and --version
 * print to stdout and exit 0.
 *
 * --watch redraws every SECONDS until SIGINT or SIGTERM (blocked and
 * waited for with sigtimedwait between refreshes: no handler, no global
 * state) or --count refreshes; the handle is opened anew for each one, so
 * a runtime that ends is an error, not a frozen picture.  With --json each
 * refresh is one JSON document on its own line.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* The commands, in --help's order. */
static const struct cli_cmd commands[] = {
	{"status", "store usage and processes; the runtime's pool, tasks, actors",
	 false, cli_status},
	{"objects", "one row per live object", false, cli_objects},
	{"tasks", "one row per task not done: state, what it waits for, times",
	 true, cli_tasks},
	{"actors", "one row per actor: state, restarts, calls, lanes, last death",
	 true, cli_actors},
	{"timeline", "the Chrome trace of what ran (Perfetto, chrome://tracing)",
	 true, cli_timeline},
	{"metrics", "counters and latency histograms, Prometheus text format",
	 true, cli_metrics},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

struct cli_opts {
	bool json;
	bool watch;
	double interval;  /* seconds between refreshes */
	long count;       /* refreshes at most; 0: until a signal */
	const char *output; /* -o FILE */
	const struct cli_cmd *cmd;
	const char *name;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: shoal [OPTIONS] COMMAND NAME [OPTIONS]\n"
		"\n"
		"Shows a shoal store or runtime named NAME (/dev/shm/NAME) without\n"
		"disturbing it: read-only, no process slot taken, nothing written.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-9s %s%s\n", commands[i].name, commands[i].help,
			commands[i].needs_runtime ? " (runtime)" : "");
	fprintf(f,
		"\n"
		"Options:\n"
		"  -j, --json             one JSON document on stdout (one per\n"
		"                         line and refresh with --watch)\n"
		"  -w, --watch[=SECONDS]  redraw every SECONDS (default 1) until\n"
		"                         SIGINT or SIGTERM\n"
		"  -n, --count=N          stop after N refreshes (implies --watch)\n"
		"  -o, --output=FILE      timeline, metrics: write FILE (replaced\n"
		"                         whole, through a rename) instead of stdout\n"
		"  -h, --help             show this help and exit\n"
		"  -V, --version          show the version and exit\n"
		"\n"
		"Exit status: 0 done, 1 NAME could not be read, 2 usage error.\n");
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("shoal: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry 'shoal --help' for more information.\n", stderr);
	return 2;
}

static const struct cli_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* Parses argv into o: 0 to go on, -1 done (help, version), else an exit
 * status (2). */
static int parse(int argc, char **argv, struct cli_opts *o)
{
	static const struct option longs[] = {
		{"json", no_argument, NULL, 'j'},
		{"watch", optional_argument, NULL, 'w'},
		{"count", required_argument, NULL, 'n'},
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	char *end;
	int c;

	*o = (struct cli_opts){.interval = 1.0};
	opterr = 0;
	while ((c = getopt_long(argc, argv, "jw::n:o:hV", longs, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'w':
			o->watch = true;
			if (!optarg)
				break;
			errno = 0;
			o->interval = strtod(optarg, &end);
			if (errno || *end || end == optarg || !isfinite(o->interval) ||
			    o->interval <= 0 || o->interval > 86400)
				return usage_error("--watch: not a number of seconds "
						   "in (0, 86400]: '%s'", optarg);
			break;
		case 'n':
			errno = 0;
			o->count = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || o->count < 1)
				return usage_error("--count: not a positive number: "
						   "'%s'", optarg);
			o->watch = true;
			break;
		case 'o':
			if (!*optarg)
				return usage_error("--output: an empty file name%s", "");
			o->output = optarg;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case 'V':
			printf("shoal %s\n", shoal_version());
			return -1;
		default:
			return usage_error("unknown or incomplete option '%s'",
					   argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("no command given%s", "");
	o->cmd = find_command(argv[optind]);
	if (!o->cmd)
		return usage_error("unknown command '%s'", argv[optind]);
	if (optind + 1 >= argc)
		return usage_error("%s: no NAME given", o->cmd->name);
	if (optind + 2 < argc)
		return usage_error("unexpected argument '%s'", argv[optind + 2]);
	o->name = argv[optind + 1];
	if (o->output && o->cmd->run != cli_timeline && o->cmd->run != cli_metrics)
		return usage_error("--output: only for timeline and metrics, not %s",
				   o->cmd->name);
	return 0;
}

/* Opens the handles the command needs; a one-line message on failure. */
static int open_handles(const struct cli_opts *o, struct cli_ctx *c)
{
	int rc = shoal_runtime_inspect(o->name, &c->rt);

	if (!rc) {
		c->store = shoal_runtime_store(c->rt);
		return 0;
	}
	c->rt = NULL;
	if (rc == SHOAL_EBADSEGMENT) {
		int st = shoal_store_inspect(o->name, &c->store);

		if (!st && !o->cmd->needs_runtime)
			return 0;
		if (!st) {
			shoal_store_close(c->store);
			fprintf(stderr, "shoal: %s: a store without a runtime: %s\n",
				o->name, shoal_strerror(rc));
			return rc;
		}
		rc = st;
	}
	fprintf(stderr, "shoal: %s: %s\n", o->name, shoal_strerror(rc));
	return rc;
}

static int refresh(const struct cli_opts *o, struct cli_ctx *c)
{
	int rc = open_handles(o, c);

	if (rc)
		return 1;
	if (o->watch && !o->json && isatty(STDOUT_FILENO))
		fputs("\033[H\033[2J", stdout);
	rc = o->cmd->run(c);
	fflush(stdout);
	if (c->rt)
		shoal_runtime_detach(c->rt);
	else
		shoal_store_close(c->store);
	if (rc) {
		fprintf(stderr, "shoal: %s: %s: %s\n", o->name, o->cmd->name,
			shoal_strerror(rc));
		return 1;
	}
	return 0;
}

/* Waits one interval: true if SIGINT or SIGTERM came (blocked in
 * `sigs`, so it is taken here, not by a default handler). */
static bool wait_interval(const sigset_t *sigs, double secs)
{
	struct timespec ts = {.tv_sec = (time_t)secs,
			      .tv_nsec = (long)((secs - floor(secs)) * 1e9)};
	int sig;

	do
		sig = sigtimedwait(sigs, NULL, &ts);
	while (sig < 0 && errno == EINTR);
	return sig >= 0;
}

int main(int argc, char **argv)
{
	struct cli_opts o;
	struct cli_ctx c = {0};
	sigset_t sigs;
	int rc = parse(argc, argv, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	c.name = o.name;
	c.json = o.json;
	c.output = o.output;
	json_init(&c.j, stdout);
	if (o.watch) {
		sigemptyset(&sigs);
		sigaddset(&sigs, SIGINT);
		sigaddset(&sigs, SIGTERM);
		sigprocmask(SIG_BLOCK, &sigs, NULL);
	}
	for (long i = 1;; i++) {
		rc = refresh(&o, &c);
		if (rc || !o.watch || (o.count && i >= o.count))
			return rc;
		if (wait_interval(&sigs, o.interval))
			return 0;
	}
}
