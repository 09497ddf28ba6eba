/* SPDX-License-Identifier: MIT */
/*
 * tests/test_bench.c - shoal-bench as a program in a pipeline: when the
 * reader of its output goes (shoal-bench | head), it stops measuring and
 * ends as a program killed by SIGPIPE, instead of running every family
 * left with its writes failing (it ignores SIGPIPE, so that a dead child
 * of a family shows up as EPIPE).
 */
#include <criterion/criterion.h>

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

TestSuite(bench, .init = tu_setup, .fini = tu_teardown, .timeout = 120);

/* Reads one line of fd (bounded, like every handshake). */
static void read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;

	for (;;) {
		char c = tu_read_byte(fd, 60000);

		if (c == '\n' || n + 1 == cap)
			break;
		buf[n++] = c;
	}
	buf[n] = '\0';
}

Test(bench, stops_when_its_output_closes)
{
	/* three families: without the fix all three run to the end, their
	 * lines going nowhere, and the program exits 0 */
	const char *args[] = {"--json", "--smoke", "--family",
			      "put_calls,get_calls,floors", NULL};
	char line[4096];
	int from, status;
	pid_t pid = tu_spawn_prog(SHOAL_BENCH, args, NULL, &from);

	read_line(from, line, sizeof line);
	cr_assert(strstr(line, "\"metric\":\"machine\""), "first line: %s", line);
	close(from); /* the reader goes, like head after its lines */
	status = tu_wait_status(pid, 110000);
	cr_assert_neq(status, -1, "shoal-bench still runs with nobody reading");
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE,
		  "shoal-bench ended with status %#x, not by SIGPIPE", status);
}
