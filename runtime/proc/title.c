/* SPDX-License-Identifier: MIT */
/*
 * runtime/proc/title.c - a process's names, as ps and top show them.
 *
 * Every process of a runtime but the driver names itself right after its
 * fork (child.c, forkserver.c, logrelay.c): its comm (PR_SET_NAME, 15
 * bytes: "shoal-fs", "shoal worker 2", "LoggingActor#3") and the command
 * line /proc/PID/cmdline shows ("shoal worker 2 /name").
 *
 * Nothing is exec'd, so the command line is the driver's argv area, which
 * each process has its own copy of (fork).  Its bounds are fields 48 to 51
 * of /proc/self/stat: arg_start, arg_end, env_start, env_end.  The title
 * is written from arg_start on, over argv and, if it needs more room and
 * the environment's strings follow argv's at once, over the first of
 * them.
 * Before that, program_invocation_name (argv[0]) and, for a title that
 * needs the environment's room, every string of `environ` that lies there
 * are copied to the heap and repointed, so that error messages and getenv
 * keep working; a string already elsewhere (a setenv's, or a copy an
 * earlier title made: a worker inherits the fork server's) is left as it
 * is.  If that copy cannot be made, only argv's part is written.
 *
 * The kernel shows the whole argv area, NULs included, unless its last
 * byte is not NUL: then it shows what is at arg_start up to the first NUL,
 * into the environment's part if need be.  So when the title ends before
 * argv's last byte, that byte gets a mark (a space) and the command line
 * reads exactly the title.  A title longer than the area is truncated.
 * What follows the title is cleared up to argv's end, or, for a title
 * that runs into the environment's part, up to the end of the string it
 * ends in: the environment strings after it stay in place, where
 * /proc/PID/environ shows them (tools find processes by them: chaos.c's
 * epoch marker among them).
 *
 * Invariants: naming never fails a process's start (whatever cannot be
 * read or copied is skipped); no string a live pointer of libc's names
 * is overwritten; this process's own memory only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "proc_int.h"

extern char **environ;

/* The argv and environment bounds of this process (fields 48 to 51 of
 * /proc/self/stat); false if they cannot be read. */
static bool shoal__title_bounds(uintptr_t b[4])
{
	char buf[2048];
	const char *p;
	ssize_t n;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the comm may hold spaces and ')' */
	for (int field = 2; p && field < 48; field++)
		p = strchr(p + 1, ' ');
	for (int i = 0; i < 4; i++) {
		char *end;

		if (!p)
			return false;
		b[i] = (uintptr_t)strtoull(p + 1, &end, 10);
		p = *end == ' ' ? end : NULL;
		if (i == 3)
			break;
	}
	return b[0] && b[1] > b[0];
}

static bool shoal__title_in(const char *s, uintptr_t lo, uintptr_t hi)
{
	return (uintptr_t)s >= lo && (uintptr_t)s < hi;
}

/* Copies the environment strings that lie in [lo, hi) to the heap and
 * points environ at a new array; false (nothing changed) if out of
 * memory. */
static bool shoal__title_move_env(uintptr_t lo, uintptr_t hi)
{
	size_t n = 0, in = 0;
	char **env;

	for (; environ && environ[n]; n++)
		in += shoal__title_in(environ[n], lo, hi);
	if (!in)
		return true;
	env = calloc(n + 1, sizeof *env);
	if (!env)
		return false;
	for (size_t i = 0; i < n; i++) {
		env[i] = shoal__title_in(environ[i], lo, hi) ? strdup(environ[i])
							    : environ[i];
		if (env[i])
			continue;
		for (size_t k = 0; k < i; k++)
			if (env[k] != environ[k])
				free(env[k]);
		free(env);
		return false;
	}
	environ = env; /* the old array is on the stack: not freed */
	return true;
}

/* program_invocation_name points at argv[0]: keep a copy (best effort). */
static void shoal__title_move_progname(uintptr_t lo, uintptr_t hi)
{
	char *copy, *slash;

	if (!shoal__title_in(program_invocation_name, lo, hi))
		return;
	copy = strdup(program_invocation_name);
	if (!copy)
		return;
	slash = strrchr(copy, '/');
	program_invocation_name = copy;
	program_invocation_short_name = slash ? slash + 1 : copy;
}

/* comm: "<prefix><label>" if it fits in 15 bytes, else the label, else
 * the label's end kept (its last '#' or ' ' part) and its head cut. */
void shoal__title_comm(char out[16], const char *prefix, const char *label)
{
	size_t np = strlen(prefix), nl = strlen(label), keep, head;
	const char *tail;

	if (np + nl <= 15) {
		memcpy(out, prefix, np);
		memcpy(out + np, label, nl + 1);
		return;
	}
	if (nl <= 15) {
		memcpy(out, label, nl + 1);
		return;
	}
	tail = strrchr(label, '#');
	if (!tail)
		tail = strrchr(label, ' ');
	keep = tail ? strlen(tail) : 0;
	if (keep > 15)
		keep = 0;
	head = 15 - keep;
	memcpy(out, label, head);
	if (keep)
		memcpy(out + head, tail, keep);
	out[head + keep] = '\0';
}

/* The title's length in the area: argv's if it fits there, else as far
 * into the environment's strings as they can be moved out of the way. */
static size_t shoal__title_room(const uintptr_t b[4], size_t want)
{
	size_t argv_len = b[1] - b[0];

	if (want < argv_len || b[2] != b[1] || b[3] <= b[2] ||
	    !shoal__title_move_env(b[2], b[3]))
		return want < argv_len ? want : argv_len - 1;
	return want < b[3] - b[0] ? want : b[3] - b[0] - 1;
}

void shoal__title_set(const char *comm, const char *title)
{
	uintptr_t b[4];
	size_t n, end, argv_len;
	char *area;

	prctl(PR_SET_NAME, comm, 0, 0, 0);
	if (!shoal__title_bounds(b))
		return;
	n = shoal__title_room(b, strlen(title));
	argv_len = b[1] - b[0];
	area = (char *)b[0];
	shoal__title_move_progname(b[0], b[1]);
	memcpy(area, title, n);
	/* Cleared after the title: the rest of argv, or the rest of the
	 * environment string the title ends in (the strings after it stay
	 * where /proc/PID/environ shows them). */
	end = argv_len;
	if (n >= argv_len)
		for (end = n; end < b[3] - b[0] - 1 && area[end] != '\0'; end++)
			;
	memset(area + n, 0, end - n);
	if (n + 1 < argv_len) /* the mark: show up to the first NUL */
		area[argv_len - 1] = ' ';
}
