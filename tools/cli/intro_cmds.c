/* SPDX-License-Identifier: MIT */
/*
 * tools/cli/intro_cmds.c - `shoal timeline` and `shoal metrics`: the
 * runtime's Chrome trace (shoal_timeline) and its Prometheus text
 * (shoal_metrics), read through the inspect handle like every command.
 *
 * With -o FILE the output goes to a temporary file beside FILE, renamed
 * over it once whole, so that a reader (a Prometheus textfile collector,
 * a trace viewer reloading, a --watch loop) never sees half of one.
 * --json: the trace is JSON already (it goes out as it is, or, with -o,
 * a small document naming the file); the metrics become one document,
 * {"metrics": [{"name", "labels": {...}, "value"}...]}, parsed back from
 * the text the library wrote (its own format, so the parser only needs
 * what shoal_metrics emits: a name, optional labels with escaped values,
 * a value).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Writes with fn into c->output through a temporary file and a rename,
 * or to stdout; *bytes receives the size written. */
static int cli_write(struct cli_ctx *c,
		     int (*fn)(struct shoal_runtime *rt, FILE *out), long *bytes)
{
	char tmp[4096];
	FILE *f;
	int rc;

	if (!c->output) {
		rc = fn(c->rt, stdout);
		*bytes = 0;
		return rc;
	}
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%d", c->output, (int)getpid()) >=
	    sizeof tmp)
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	rc = fn(c->rt, f);
	*bytes = ftell(f);
	if (fclose(f) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, c->output))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int cli_timeline(struct cli_ctx *c)
{
	long bytes;
	int rc = cli_write(c, shoal_timeline, &bytes);

	if (rc == -ENODATA)
		fprintf(stderr, "shoal: %s: the runtime records no timeline (it was "
			"started with SHOAL_RUNTIME_NO_TIMELINE)\n", c->name);
	if (rc || !c->output)
		return rc;
	if (c->json) {
		json_obj(&c->j, NULL);
		json_str(&c->j, "output", c->output);
		json_i64(&c->j, "bytes", bytes);
		json_end_obj(&c->j);
		json_done(&c->j);
	} else {
		printf("timeline of %s written to %s (%ld bytes): open it in "
		       "https://ui.perfetto.dev or chrome://tracing\n",
		       c->name, c->output, bytes);
	}
	return 0;
}

/* One label value: from after the opening quote to the closing one, with
 * the text format's escapes undone; *p is left after the quote. */
static void cli_label_value(char **p, char *out, size_t cap)
{
	size_t n = 0;
	char *s = *p;

	for (; *s && *s != '"'; s++) {
		char ch = *s;

		if (ch == '\\' && s[1]) {
			s++;
			ch = *s == 'n' ? '\n' : *s;
		}
		if (n + 1 < cap)
			out[n++] = ch;
	}
	out[n] = '\0';
	*p = *s ? s + 1 : s;
}

/* One sample line: name{k="v",...} value. */
static void cli_metric_line(struct json *j, char *line)
{
	char *brace = strchr(line, '{'), *space = strrchr(line, ' '), *p;
	char key[128], val[256];

	if (!space)
		return;
	*space = '\0';
	json_obj(j, NULL);
	if (brace)
		*brace = '\0';
	json_str(j, "name", line);
	json_obj(j, "labels");
	for (p = brace ? brace + 1 : NULL; p && *p && *p != '}';) {
		char *eq = strchr(p, '=');

		if (!eq || eq[1] != '"')
			break;
		snprintf(key, sizeof key, "%.*s", (int)(eq - p), p);
		p = eq + 2;
		cli_label_value(&p, val, sizeof val);
		json_str(j, key, val);
		if (*p == ',')
			p++;
	}
	json_end_obj(j);
	json_num(j, "value", strtod(space + 1, NULL));
	json_end_obj(j);
}

static int cli_metrics_json(struct cli_ctx *c)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	int rc;

	if (!mem)
		return -ENOMEM;
	rc = shoal_metrics(c->rt, mem);
	if (fclose(mem) && !rc)
		rc = -ENOMEM;
	if (rc) {
		free(text);
		return rc;
	}
	json_obj(&c->j, NULL);
	json_arr(&c->j, "metrics");
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (line[0] != '#')
			cli_metric_line(&c->j, line);
	json_end_arr(&c->j);
	json_end_obj(&c->j);
	json_done(&c->j);
	free(text);
	return 0;
}

int cli_metrics(struct cli_ctx *c)
{
	long bytes;

	if (c->json && !c->output)
		return cli_metrics_json(c);
	return cli_write(c, shoal_metrics, &bytes);
}
